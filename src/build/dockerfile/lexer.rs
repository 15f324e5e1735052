//! Line-level lexing of a Dockerfile: physical lines, line continuations,
//! comments, parser directives (`# escape=`, `# syntax=`, `# check=`), heredoc
//! markers (`<<EOF`, `<<-EOF`, `<<'EOF'`, `3<<EOF`), and the split of an
//! instruction line into keyword, `--flags` and the rest.
//!
//! The parser (`parser.rs`) drives these pieces; nothing here does I/O.

use super::error::DockerfileError;
use super::expand::{EmptyEnv, ExpandError, Expander};

/// Lines longer than this are rejected, as BuildKit's scanner does.
pub const MAX_LINE_LEN: usize = 65535;

const BOM: char = '\u{feff}';

/// The text split into physical lines, each keeping its line ending (heredoc
/// bodies need it). A final line without a newline is kept.
pub fn physical_lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// Removes trailing `\r` / `\n` characters.
pub fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

/// Whether the line is a comment: `#` after optional leading whitespace.
pub fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Whether a line inside a continuation is blank.
pub fn is_empty_continuation_line(line: &str) -> bool {
    trim_newline(line).trim_start().is_empty()
}

/// Removes a line-continuation escape (the escape character, then optional
/// blanks, at the end of the line, not itself escaped). Returns the remaining
/// text and whether the logical line ends here.
pub fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    if let Some(before) = body.strip_suffix(escape) {
        if before.is_empty() || !before.ends_with(escape) {
            return (before, false);
        }
    }
    (line, true)
}

/// A parser directive found at the top of a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// Lower-case name: `syntax`, `escape` or `check`.
    pub name: String,
    /// The trimmed value.
    pub value: String,
    /// 1-based line.
    pub line: usize,
}

const KNOWN_DIRECTIVES: [&str; 3] = ["syntax", "escape", "check"];

/// Recognises directives line by line until the first line that is not one.
#[derive(Debug, Clone)]
pub struct DirectiveParser {
    comment: &'static str,
    line: usize,
    seen: Vec<String>,
    done: bool,
}

impl Default for DirectiveParser {
    fn default() -> Self {
        DirectiveParser::new("#")
    }
}

impl DirectiveParser {
    /// A parser for directives written after `comment` (`#`, or `//` for
    /// syntax detection).
    pub fn new(comment: &'static str) -> DirectiveParser {
        DirectiveParser {
            comment,
            line: 0,
            seen: Vec::new(),
            done: false,
        }
    }

    /// Feeds the next physical line (without its newline).
    pub fn parse_line(&mut self, line: &str) -> Result<Option<Directive>, DockerfileError> {
        self.line += 1;
        if self.done {
            return Ok(None);
        }
        let Some(rest) = line.strip_prefix(self.comment) else {
            self.done = true;
            return Ok(None);
        };
        let Some((name, value)) = split_directive(rest.trim_start()) else {
            self.done = true;
            return Ok(None);
        };
        let name = name.to_ascii_lowercase();
        if !KNOWN_DIRECTIVES.contains(&name.as_str()) {
            self.done = true;
            return Ok(None);
        }
        if self.seen.contains(&name) {
            return Err(DockerfileError::DuplicateDirective {
                line: self.line,
                name,
            });
        }
        self.seen.push(name.clone());
        Ok(Some(Directive {
            name,
            value: value.to_string(),
            line: self.line,
        }))
    }

    /// All directives at the top of `text`.
    pub fn parse_all(&mut self, text: &str) -> Result<Vec<Directive>, DockerfileError> {
        let mut out = Vec::new();
        for line in physical_lines(text) {
            if self.done {
                break;
            }
            if let Some(d) = self.parse_line(trim_newline(line))? {
                out.push(d);
            }
        }
        Ok(out)
    }
}

/// `name = value`: a name of ASCII letters and digits starting with a letter,
/// then `=`, then a non-empty value (trimmed).
fn split_directive(text: &str) -> Option<(&str, &str)> {
    let name_len = text
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(text.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let (name, rest) = text.split_at(name_len);
    let rest = rest.trim_start().strip_prefix('=')?;
    let value = rest.trim();
    if value.is_empty() || value.contains('\n') {
        return None;
    }
    Some((name, value))
}

/// A directive as found by [`detect_syntax`] / [`parse_directive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundDirective {
    /// The value up to the first space (`dockerfile:1` of `dockerfile:1 // x`).
    pub value: String,
    /// The full value.
    pub cmdline: String,
    /// 1-based line (0 for the JSON form).
    pub line: usize,
}

/// Finds the `syntax` directive, accepting `# syntax=`, `// syntax=` and a
/// JSON object `{"syntax": "..."}`; a leading `#!` line and a BOM are skipped.
pub fn detect_syntax(text: &str) -> Option<FoundDirective> {
    find_directive("syntax", text, true)
}

/// Finds the `# key=value` directive `key` (no `//` or JSON forms).
pub fn parse_directive(key: &str, text: &str) -> Option<FoundDirective> {
    find_directive(key, text, false)
}

fn find_directive(key: &str, text: &str, any_format: bool) -> Option<FoundDirective> {
    let text = text.strip_prefix(BOM).unwrap_or(text);
    let (text, shebang) = match text.split_once('\n') {
        Some((first, rest)) if first.starts_with("#!") => (rest, true),
        None if text.starts_with("#!") => ("", true),
        _ => (text, false),
    };
    let offset = usize::from(shebang);
    let prefixes: &[&'static str] = if any_format { &["#", "//"] } else { &["#"] };
    for prefix in prefixes {
        let mut parser = DirectiveParser::new(prefix);
        parser.line = offset;
        let directives = parser.parse_all(text).unwrap_or_default();
        if let Some(d) = directives.into_iter().find(|d| d.name == key) {
            let value = d.value.split(' ').next().unwrap_or_default().to_string();
            return Some(FoundDirective {
                value,
                cmdline: d.value,
                line: d.line,
            });
        }
    }
    if any_format {
        let obj: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
        if let Some(serde_json::Value::String(v)) = obj.get(key) {
            return Some(FoundDirective {
                value: v.clone(),
                cmdline: v.clone(),
                line: offset,
            });
        }
    }
    None
}

/// A heredoc attached to an instruction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Heredoc {
    /// The terminator word, quotes removed.
    pub name: String,
    /// `N` of `N<<EOF`, 0 when absent.
    pub file_descriptor: u32,
    /// False when any part of the name was quoted: the body is used verbatim.
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from the body (by the instruction
    /// stage; [`Heredoc::content`] is kept as written).
    pub chomp: bool,
    /// The body, each line with its newline, not chomped.
    pub content: String,
}

/// Parses one word as a heredoc marker (`^(\d*)<<(-?)\s*([^<]*)$`).
/// `Ok(None)`: not a heredoc. An error means unbalanced quotes in the name.
pub fn parse_heredoc(word: &str) -> Result<Option<Heredoc>, ExpandError> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let Some(after) = word[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, after) = match after.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, after),
    };
    let rest = after.trim_start();
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let mut lex = Expander::new('\\');
    lex.skip_unset_env = true;
    let words = lex.process_words(rest, &EmptyEnv)?;
    let [name] = words.as_slice() else {
        return Ok(None);
    };
    lex.raw_quotes = true;
    let raw = lex.process_words(rest, &EmptyEnv)?;
    let quotes = |s: &str| s.chars().filter(|c| matches!(c, '\'' | '"')).count();
    let expand = raw.len() == 1 && quotes(name) == quotes(&raw[0]);
    Ok(Some(Heredoc {
        name: name.clone(),
        file_descriptor: word[..digits].parse().unwrap_or(0),
        expand,
        chomp,
        content: String::new(),
    }))
}

/// The heredoc markers in an instruction line, in order (contents empty).
pub fn heredocs_from_line(line: &str) -> Result<Vec<Heredoc>, ExpandError> {
    let mut lex = Expander::new('\\');
    lex.raw_quotes = true;
    lex.raw_escapes = true;
    lex.skip_unset_env = true;
    let words = lex.process_words(line, &EmptyEnv).unwrap_or_default();
    let mut out = Vec::new();
    for word in words {
        if let Some(h) = parse_heredoc(&word)? {
            out.push(h);
        }
    }
    Ok(out)
}

/// Strips leading tabs from every line (the `<<-` form).
pub fn chomp_heredoc_content(content: &str) -> String {
    content
        .split_inclusive('\n')
        .map(|l| l.trim_start_matches('\t'))
        .collect()
}

/// Splits an instruction line into (keyword as written, flags, rest).
pub fn split_command(line: &str) -> (String, Vec<String>, String) {
    let line = line.trim();
    let is_ws = |c: char| matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ');
    match line.find(is_ws) {
        None => (line.to_string(), Vec::new(), String::new()),
        Some(i) => {
            let rest = line[i..].trim_start_matches(is_ws);
            let (args, flags) = extract_builder_flags(rest);
            (line[..i].to_string(), flags, args.trim().to_string())
        }
    }
}

/// Takes leading `--flag[=value]` words off `line`; `--` ends the flags and is
/// dropped. Quotes and backslashes inside flags are processed.
fn extract_builder_flags(line: &str) -> (String, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(char),
    }
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut phase = Phase::Spaces;
    let mut i = 0;
    loop {
        let Some(&(offset, ch)) = chars.get(i) else {
            if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            return (String::new(), words);
        };
        match phase {
            Phase::Spaces => {
                if ch.is_whitespace() {
                    i += 1;
                    continue;
                }
                let next = chars.get(i + 1).map(|&(_, c)| c);
                if ch != '-' || next != Some('-') {
                    return (line[offset..].to_string(), words);
                }
                phase = Phase::Word;
            }
            Phase::Word => {
                if ch.is_whitespace() {
                    phase = Phase::Spaces;
                    if word == "--" {
                        return (line[offset..].to_string(), words);
                    }
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    blank_ok = false;
                    i += 1;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                    i += 1;
                    continue;
                }
                if ch == '\\' {
                    if i + 1 == chars.len() {
                        i += 1;
                        continue;
                    }
                    i += 1;
                    word.push(chars[i].1);
                    i += 1;
                    continue;
                }
                word.push(ch);
                i += 1;
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                    i += 1;
                    continue;
                }
                if ch == '\\' {
                    if i + 1 == chars.len() {
                        phase = Phase::Word;
                        i += 1;
                        continue;
                    }
                    i += 1;
                    word.push(chars[i].1);
                    i += 1;
                    continue;
                }
                word.push(ch);
                i += 1;
            }
        }
    }
}

/// Splits on unquoted whitespace keeping quotes and escapes verbatim
/// (BuildKit's `parseWords`, used for ENV, LABEL and ARG).
pub fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(char),
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut phase = Phase::Spaces;
    let mut i = 0;
    loop {
        let Some(&ch) = chars.get(i) else {
            if phase != Phase::Spaces && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            return words;
        };
        if phase == Phase::Spaces {
            if ch.is_whitespace() {
                i += 1;
                continue;
            }
            phase = Phase::Word;
        }
        match phase {
            Phase::Word => {
                if ch.is_whitespace() {
                    phase = Phase::Spaces;
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                    i += 1;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                } else if ch == escape {
                    if i + 1 == chars.len() {
                        i += 1;
                        continue;
                    }
                    word.push(ch);
                    i += 1;
                }
                word.push(chars[i]);
                i += 1;
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                } else if ch == escape && q != '\'' {
                    if i + 1 == chars.len() {
                        phase = Phase::Word;
                        i += 1;
                        continue;
                    }
                    word.push(ch);
                    i += 1;
                }
                word.push(chars[i]);
                i += 1;
            }
            Phase::Spaces => unreachable!("handled above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation() {
        assert_eq!(trim_continuation("echo \\", '\\'), ("echo ", false));
        assert_eq!(trim_continuation("echo \\  \t", '\\'), ("echo ", false));
        assert_eq!(trim_continuation("\\", '\\'), ("", false));
        assert_eq!(trim_continuation("a\\\\", '\\'), ("a\\\\", true));
        assert_eq!(trim_continuation("a `", '`'), ("a ", false));
    }

    #[test]
    fn flags() {
        let (kw, flags, rest) = split_command("COPY --from=a --chown=\"1 2\" -- src dst");
        assert_eq!(kw, "COPY");
        assert_eq!(flags, ["--from=a", "--chown=1 2"]);
        assert_eq!(rest, "src dst");
    }

    #[test]
    fn heredoc_markers() {
        let h = parse_heredoc("3<<-'EOF'").unwrap().unwrap();
        assert_eq!(
            (h.name.as_str(), h.file_descriptor, h.chomp, h.expand),
            ("EOF", 3, true, false)
        );
        assert!(parse_heredoc("<<EOF sh").unwrap().is_none());
        assert!(parse_heredoc("<<'EOF").is_err());
        let names: Vec<_> = heredocs_from_line("RUN <<A <<-B '<<C'")
            .unwrap()
            .into_iter()
            .map(|h| h.name)
            .collect();
        assert_eq!(names, ["A", "B"]);
    }

    #[test]
    fn directives() {
        let mut p = DirectiveParser::default();
        let all = p.parse_all("# Escape = `\n# syntax=x\nFROM a\n").unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            (all[0].name.as_str(), all[0].value.as_str()),
            ("escape", "`")
        );
        assert_eq!(
            detect_syntax("#!/bin/sh\n# syntax = a // b\n")
                .unwrap()
                .value,
            "a"
        );
    }
}
