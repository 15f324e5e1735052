//! Dockerfile text → [`Ast`]: one [`Node`] per instruction with its keyword,
//! flags, arguments, line range and heredocs. This is BuildKit's parser stage:
//! no variable expansion, no quote removal, no validation of the keyword
//! (see `instruction.rs` for that).

use super::error::DockerfileError;
use super::lexer::{self, DirectiveParser, Heredoc};

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ast {
    /// Top-level instructions in file order.
    pub nodes: Vec<Node>,
    /// The escape character in effect (`\` or `` ` ``).
    pub escape: char,
    /// Parser directives found at the top of the file.
    pub directives: Vec<lexer::Directive>,
    /// Non-fatal findings (empty continuation lines).
    pub warnings: Vec<Warning>,
}

/// A non-fatal parser finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub message: String,
    pub detail: String,
    pub line: usize,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// The keyword as written (`RUN`, `run`, ...).
    pub keyword: String,
    /// `--name=value` words before the arguments, in order.
    pub flags: Vec<String>,
    /// The arguments; their meaning depends on the keyword (see the module
    /// docs of BuildKit's `Node.Dump` format in the conformance README).
    pub args: Vec<String>,
    /// The trigger of an `ONBUILD`.
    pub sub: Option<Box<Node>>,
    /// The arguments were a JSON array (exec form).
    pub json: bool,
    /// The logical line (continuations joined) the node was parsed from.
    pub original: String,
    /// First and last physical line, 1-based, inclusive.
    pub start_line: usize,
    pub end_line: usize,
    /// Heredocs attached to `RUN`, `COPY`, `ADD` (or an `ONBUILD` of those).
    pub heredocs: Vec<Heredoc>,
    /// Comment lines directly above the instruction (for ARG/stage docs).
    pub prev_comment: Vec<String>,
}

impl Ast {
    /// First line of the first instruction.
    pub fn start_line(&self) -> usize {
        self.nodes.first().map_or(0, |n| n.start_line)
    }

    /// Last line of the last instruction.
    pub fn end_line(&self) -> usize {
        self.nodes.last().map_or(0, |n| n.end_line)
    }

    /// BuildKit's `AST.Dump()` format: one `(keyword ["flags"] "args"...)`
    /// line per instruction, no trailing newline.
    pub fn dump(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("({})", n.dump()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Node {
    /// This node in BuildKit's `Node.Dump()` format, without the outer parens.
    pub fn dump(&self) -> String {
        let mut out = self.keyword.to_lowercase();
        if !self.flags.is_empty() {
            let quoted: Vec<String> = self.flags.iter().map(|f| go_quote(f)).collect();
            out.push_str(&format!(" [{}]", quoted.join(" ")));
        }
        if let Some(sub) = &self.sub {
            out.push_str(&format!(" ({})", sub.dump()));
        }
        for arg in &self.args {
            out.push(' ');
            out.push_str(&go_quote(arg));
        }
        out.trim().to_string()
    }

    /// Whether heredoc markers in this instruction are honoured.
    fn can_contain_heredoc(&self) -> bool {
        let node = match &self.sub {
            Some(sub) if self.keyword.eq_ignore_ascii_case("onbuild") => sub,
            _ => self,
        };
        let kw = node.keyword.to_ascii_lowercase();
        matches!(kw.as_str(), "run" | "copy" | "add") && !node.json
    }
}

/// Parses a whole Dockerfile.
pub fn parse(text: &str) -> Result<Ast, DockerfileError> {
    let lines = lexer::physical_lines(text);
    let mut directives = DirectiveParser::default();
    let mut found_directives = Vec::new();
    let mut escape = '\\';
    let mut nodes = Vec::new();
    let mut warnings = Vec::new();
    let mut comments: Vec<String> = Vec::new();
    let mut current = 0usize;
    let mut i = 0usize;

    let check_len = |line: &str, n: usize| {
        if lexer::trim_newline(line).len() > lexer::MAX_LINE_LEN {
            return Err(DockerfileError::LineTooLong {
                line: n,
                max: lexer::MAX_LINE_LEN,
            });
        }
        Ok(())
    };

    while i < lines.len() {
        let mut raw = lines[i];
        i += 1;
        if current == 0 {
            raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
        }
        check_len(raw, current + 1)?;
        if lexer::is_comment(raw) {
            let comment = raw.get(1..).unwrap_or_default().trim();
            if comment.is_empty() {
                comments.clear();
            } else {
                comments.push(comment.to_string());
            }
        }
        let line = lexer::trim_newline(raw).trim_start();
        if let Some(d) = directives.parse_line(line)? {
            comments.pop();
            if d.name == "escape" {
                escape = match d.value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        return Err(DockerfileError::InvalidEscapeToken {
                            line: d.line,
                            value: d.value,
                        })
                    }
                };
            }
            found_directives.push(d);
        }
        let line = if lexer::is_comment(line) { "" } else { line };
        current += 1;
        let start_line = current;

        let (first, mut end) = lexer::trim_continuation(line, escape);
        if end && first.is_empty() {
            continue;
        }
        let mut logical = first.to_string();
        let mut has_empty_continuation = false;
        while !end && i < lines.len() {
            let raw = lines[i];
            i += 1;
            check_len(raw, current + 1)?;
            current += 1;
            if lexer::is_comment(raw) {
                continue;
            }
            if lexer::is_empty_continuation_line(raw) {
                has_empty_continuation = true;
                continue;
            }
            let (part, e) = lexer::trim_continuation(lexer::trim_newline(raw), escape);
            logical.push_str(part);
            end = e;
        }
        if has_empty_continuation {
            warnings.push(Warning {
                message: format!("Empty continuation line found in: {logical}"),
                detail: "Empty continuation lines will become errors in a future release"
                    .to_string(),
                line: current,
            });
        }

        let mut node = node_from_line(&logical, escape, start_line)?;
        node.prev_comment = std::mem::take(&mut comments);

        if node.can_contain_heredoc() && logical.contains("<<") {
            let heredocs = lexer::heredocs_from_line(&logical).map_err(|source| {
                DockerfileError::BadHeredoc {
                    line: start_line,
                    source,
                }
            })?;
            for mut heredoc in heredocs {
                let mut terminated = false;
                while i < lines.len() {
                    let raw = lines[i];
                    i += 1;
                    current += 1;
                    let mut candidate = lexer::trim_newline(raw);
                    if heredoc.chomp {
                        candidate = candidate.trim_start_matches('\t');
                    }
                    if candidate == heredoc.name {
                        terminated = true;
                        break;
                    }
                    heredoc.content.push_str(raw);
                }
                if !terminated {
                    return Err(DockerfileError::UnterminatedHeredoc {
                        line: start_line,
                        name: heredoc.name,
                    });
                }
                node.heredocs.push(heredoc);
            }
        }

        node.start_line = start_line;
        node.end_line = current;
        nodes.push(node);
    }

    if nodes.is_empty() {
        return Err(DockerfileError::NoInstructions { line: current });
    }
    Ok(Ast {
        nodes,
        escape,
        directives: found_directives,
        warnings,
    })
}

/// Parses one logical line (continuations already joined) into a node.
pub fn node_from_line(line: &str, escape: char, line_no: usize) -> Result<Node, DockerfileError> {
    let (keyword, flags, rest) = lexer::split_command(line);
    let mut node = Node {
        keyword,
        flags,
        original: line.to_string(),
        start_line: line_no,
        end_line: line_no,
        ..Node::default()
    };
    let kw = node.keyword.to_ascii_lowercase();
    match kw.as_str() {
        "add" | "copy" | "volume" => {
            (node.args, node.json) = maybe_json_to_list(&rest, line_no)?;
        }
        "cmd" | "entrypoint" | "run" | "shell" => {
            (node.args, node.json) = maybe_json(&rest, line_no)?;
        }
        "arg" => node.args = lexer::parse_words(&rest, escape),
        "env" | "label" => node.args = name_val(&rest, &kw.to_uppercase(), escape, line_no)?,
        "expose" | "from" => node.args = whitespace_delimited(&rest),
        "healthcheck" => (node.args, node.json) = health_config(&rest, line_no)?,
        "maintainer" | "stopsignal" | "user" | "workdir" if !rest.is_empty() => {
            node.args = vec![rest];
        }
        "onbuild" if !rest.is_empty() => {
            node.sub = Some(Box::new(node_from_line(&rest, escape, line_no)?));
        }
        // Unknown keywords are kept (without arguments) and rejected later;
        // the instructions above without arguments get none.
        _ => {}
    }
    Ok(node)
}

/// Why a text is not an exec-form array.
enum JsonError {
    /// Not JSON, or not an array: fall back to shell form.
    NotJson,
    /// A JSON array with a non-string element: a hard error.
    NotStringArray,
}

/// Decodes an exec-form JSON array of strings.
fn parse_json(rest: &str) -> Result<Vec<String>, JsonError> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Err(JsonError::NotJson);
    }
    let values: Vec<serde_json::Value> =
        serde_json::from_str(rest).map_err(|_| JsonError::NotJson)?;
    values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(JsonError::NotStringArray),
        })
        .collect()
}

fn maybe_json(rest: &str, line: usize) -> Result<(Vec<String>, bool), DockerfileError> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    match parse_json(rest) {
        Ok(words) => Ok((words, true)),
        Err(JsonError::NotStringArray) => Err(DockerfileError::NotStringArray { line }),
        Err(JsonError::NotJson) => Ok((vec![rest.to_string()], false)),
    }
}

fn maybe_json_to_list(rest: &str, line: usize) -> Result<(Vec<String>, bool), DockerfileError> {
    match parse_json(rest) {
        Ok(words) => Ok((words, true)),
        Err(JsonError::NotStringArray) => Err(DockerfileError::NotStringArray { line }),
        Err(JsonError::NotJson) => Ok((whitespace_delimited(rest), false)),
    }
}

fn is_go_ws(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

fn whitespace_delimited(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        return Vec::new();
    }
    rest.split(is_go_ws)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// ENV / LABEL: (key, value, separator) triples; `KEY value` is the old form
/// with an empty separator.
fn name_val(
    rest: &str,
    instruction: &str,
    escape: char,
    line: usize,
) -> Result<Vec<String>, DockerfileError> {
    let words = lexer::parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        let Some(i) = rest.find(is_go_ws) else {
            return Err(DockerfileError::MissingValue {
                line,
                instruction: instruction.to_string(),
            });
        };
        let value = rest[i..].trim_start_matches(is_go_ws);
        return Ok(vec![
            rest[..i].to_string(),
            value.to_string(),
            String::new(),
        ]);
    }
    let mut out = Vec::with_capacity(words.len() * 3);
    for word in words {
        let Some((k, v)) = word.split_once('=') else {
            return Err(DockerfileError::MissingEquals { line, word });
        };
        out.extend([k.to_string(), v.to_string(), "=".to_string()]);
    }
    Ok(out)
}

/// HEALTHCHECK: the type word, then the command in exec or shell form.
fn health_config(rest: &str, line: usize) -> Result<(Vec<String>, bool), DockerfileError> {
    let sep = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if sep == 0 {
        return Ok((Vec::new(), false));
    }
    let (kind, cmd) = rest.split_at(sep);
    let (mut args, json) = maybe_json(cmd.trim_start(), line)?;
    args.insert(0, kind.to_string());
    Ok((args, json))
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if go_is_print(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint`: graphic characters and the
/// ASCII space; controls, other spaces, format characters, private use and
/// non-characters are not printable.
fn go_is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    let format_or_private = matches!(u,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f
        | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f | 0xfeff | 0xfff9..=0xfffb
        | 0xe000..=0xf8ff | 0xf0000..=0x10ffff | 0xe0001 | 0xe0020..=0xe007f);
    let noncharacter = (0xfdd0..=0xfdef).contains(&u) || (u & 0xfffe) == 0xfffe;
    !(format_or_private || noncharacter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_matches_buildkit_format() {
        let ast = parse("FROM a AS b\nCOPY --from=b x /y\nCMD [\"sh\", \"-c\"]\nENV k=\"v w\"\nONBUILD RUN echo\n").unwrap();
        assert_eq!(
            ast.dump(),
            "(from \"a\" \"AS\" \"b\")\n(copy [\"--from=b\"] \"x\" \"/y\")\n(cmd \"sh\" \"-c\")\n(env \"k\" \"\\\"v w\\\"\" \"=\")\n(onbuild (run \"echo\"))"
        );
    }

    #[test]
    fn line_ranges_and_continuations() {
        let ast = parse("# c\n\nRUN a \\\n  b\n\nCMD x\n").unwrap();
        assert_eq!(ast.nodes[0].args, ["a   b"]);
        assert_eq!((ast.nodes[0].start_line, ast.nodes[0].end_line), (3, 4));
        assert_eq!((ast.nodes[1].start_line, ast.nodes[1].end_line), (6, 6));
    }

    #[test]
    fn heredocs_are_attached() {
        let ast = parse("RUN <<EOF\necho hi\nEOF\n").unwrap();
        assert_eq!(ast.nodes[0].heredocs[0].content, "echo hi\n");
        assert_eq!(ast.nodes[0].end_line, 3);
        let err = parse("RUN <<EOF\necho\n").unwrap_err();
        assert!(matches!(
            err,
            DockerfileError::UnterminatedHeredoc { line: 1, .. }
        ));
    }

    #[test]
    fn nested_json_is_an_error() {
        let err = parse("FROM a\nCMD [\"a\", [\"b\"]]\n").unwrap_err();
        assert_eq!(err.line(), 2);
        assert!(err.to_string().starts_with("line 2: "));
    }

    #[test]
    fn escape_directive() {
        let ast = parse("# escape=`\nFROM a\nRUN dir C:\\ `\n  /w\n").unwrap();
        assert_eq!(ast.escape, '`');
        assert_eq!(ast.nodes[1].args, ["dir C:\\   /w"]);
    }

    #[test]
    fn quoting() {
        assert_eq!(go_quote("a\tb\u{0}\"♥\u{a0}"), "\"a\\tb\\x00\\\"♥\\u00a0\"");
    }
}
