//! Docker word expansion: the rules of BuildKit's `shell.Lex` (`ProcessWord` /
//! `ProcessWords`).
//!
//! Quotes are removed (unless [`Expander::raw_quotes`]), the escape character
//! escapes the next character, and `$VAR` / `${VAR...}` are replaced from an
//! [`Env`]. Supported forms: `${VAR}`, `${VAR:-x}`, `${VAR-x}`, `${VAR:+x}`,
//! `${VAR+x}`, `${VAR?msg}`, `${VAR:?msg}`, `${VAR#pat}`, `${VAR##pat}`,
//! `${VAR%pat}`, `${VAR%%pat}`, `${VAR/pat/repl}` and `${VAR//pat/repl}`.
//! Positional (`$1`) and special (`$@`, `$#`, ...) parameters expand to nothing.
//!
//! Pure: text and an environment in, text out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher;

/// Variables available to an expansion.
pub trait Env {
    /// The value of `name`, or `None` when it is not defined (an empty value
    /// counts as defined).
    fn lookup(&self, name: &str) -> Option<&str>;
}

impl<S: BuildHasher> Env for HashMap<String, String, S> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl Env for BTreeMap<String, String> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

/// An environment with no variables.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyEnv;

impl Env for EmptyEnv {
    fn lookup(&self, _name: &str) -> Option<&str> {
        None
    }
}

/// Builds an environment from `NAME=value` entries (a bare `NAME` means an
/// empty value); a later entry for the same name wins, as in Docker.
pub fn env_from_list<I, S>(entries: I) -> BTreeMap<String, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut env = BTreeMap::new();
    for entry in entries {
        let entry = entry.as_ref();
        match entry.split_once('=') {
            Some((k, v)) => env.insert(k.to_string(), v.to_string()),
            None => env.insert(entry.to_string(), String::new()),
        };
    }
    env
}

/// Why an expansion failed. Displayed as `failed to process "<input>": <kind>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to process {input:?}: {kind}")]
pub struct ExpandError {
    /// The word that was being expanded.
    pub input: String,
    pub kind: ExpandErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandErrorKind {
    #[error("unexpected end of statement while looking for matching single-quote")]
    UnterminatedSingleQuote,
    #[error("unexpected end of statement while looking for matching double-quote")]
    UnterminatedDoubleQuote,
    #[error("unexpected end of statement while looking for matching {0}")]
    UnexpectedEnd(char),
    #[error("syntax error: missing '}}'")]
    MissingBrace,
    #[error("syntax error: missing '/' in ${{}}")]
    MissingSlash,
    #[error("syntax error: bad substitution")]
    BadSubstitution,
    #[error("unsupported modifier ({0}) in substitution")]
    UnsupportedModifier(String),
    /// `${VAR?msg}` / `${VAR:?msg}` with the variable unset (or empty).
    #[error("{name}: {message}")]
    Required { name: String, message: String },
    #[error("invalid pattern ({pattern}) in substitution: {reason}")]
    InvalidPattern { pattern: String, reason: String },
}

/// The full result of one expansion.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expansion {
    /// The single expanded word (`ProcessWord`).
    pub result: String,
    /// The expansion split into fields on unquoted whitespace (`ProcessWords`).
    pub words: Vec<String>,
    /// Referenced variables that are defined (possibly empty).
    pub matched: BTreeSet<String>,
    /// Referenced variables that are not defined.
    pub unmatched: BTreeSet<String>,
}

/// A configured word expander (BuildKit's `shell.Lex`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expander {
    /// The escape character: `\` by default, `` ` `` with `# escape=``.
    pub escape: char,
    /// Keep quote characters in the output.
    pub raw_quotes: bool,
    /// Keep escape characters in the output.
    pub raw_escapes: bool,
    /// Treat quotes as ordinary characters (used for heredoc bodies).
    pub skip_process_quotes: bool,
    /// Leave references to undefined variables as written.
    pub skip_unset_env: bool,
}

impl Default for Expander {
    fn default() -> Self {
        Expander::new('\\')
    }
}

impl Expander {
    pub fn new(escape: char) -> Expander {
        Expander {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_process_quotes: false,
            skip_unset_env: false,
        }
    }

    /// Expands `word` into a single string (no field splitting).
    pub fn process_word(&self, word: &str, env: &dyn Env) -> Result<String, ExpandError> {
        self.process(word, env).map(|e| e.result)
    }

    /// Expands `word` and splits the result into fields on unquoted whitespace.
    pub fn process_words(&self, word: &str, env: &dyn Env) -> Result<Vec<String>, ExpandError> {
        self.process(word, env).map(|e| e.words)
    }

    /// Expands `word`, returning the word, the fields and the variables used.
    pub fn process(&self, word: &str, env: &dyn Env) -> Result<Expansion, ExpandError> {
        let mut state = State {
            opts: self,
            env,
            chars: word.chars().collect(),
            pos: 0,
            raw_escapes: self.raw_escapes,
            matched: BTreeSet::new(),
            unmatched: BTreeSet::new(),
        };
        let raw = self.raw_escapes;
        match state.process_stop_on(None, raw) {
            Ok((result, words)) => Ok(Expansion {
                result,
                words,
                matched: state.matched,
                unmatched: state.unmatched,
            }),
            Err(kind) => Err(ExpandError {
                input: word.to_string(),
                kind,
            }),
        }
    }
}

/// Field splitting as the expansion goes (BuildKit's `wordsStruct`).
#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        for ch in s.chars() {
            self.add_char(ch);
        }
    }

    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(self.word);
        }
        self.words
    }
}

struct State<'a> {
    opts: &'a Expander,
    env: &'a dyn Env,
    chars: Vec<char>,
    pos: usize,
    raw_escapes: bool,
    matched: BTreeSet<String>,
    unmatched: BTreeSet<String>,
}

type Step<T> = Result<T, ExpandErrorKind>;

impl State<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let ch = self.peek();
        if ch.is_some() {
            self.pos += 1;
        }
        ch
    }

    fn get_env(&mut self, name: &str) -> Option<String> {
        match self.env.lookup(name) {
            Some(v) => {
                self.matched.insert(name.to_string());
                Some(v.to_string())
            }
            None => {
                self.unmatched.insert(name.to_string());
                None
            }
        }
    }

    /// Processes until `stop` (consumed) or the end of input.
    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Step<(String, Vec<String>)> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let out = self.process_stop_on_inner(stop);
        self.raw_escapes = saved;
        out
    }

    fn process_stop_on_inner(&mut self, stop: Option<char>) -> Step<(String, Vec<String>)> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.next();
                return Ok((result, words.finish()));
            }
            let special = match ch {
                '$' => Some(self.process_dollar()?),
                '\'' if !self.opts.skip_process_quotes => Some(self.process_single_quote()?),
                '"' if !self.opts.skip_process_quotes => Some(self.process_double_quote()?),
                '<' => Some(self.process_possible_heredoc()),
                _ => None,
            };
            if let Some(tmp) = special {
                result.push_str(&tmp);
                if ch == '$' {
                    words.add_string(&tmp);
                } else {
                    words.add_raw_string(&tmp);
                }
                continue;
            }
            self.next();
            if ch == self.opts.escape {
                if self.raw_escapes {
                    words.add_raw_char(ch);
                    result.push(ch);
                }
                match self.next() {
                    None => break,
                    Some(escaped) => {
                        words.add_raw_char(escaped);
                        result.push(escaped);
                    }
                }
            } else {
                words.add_char(ch);
                result.push(ch);
            }
        }
        match stop {
            Some(c) => Err(ExpandErrorKind::UnexpectedEnd(c)),
            None => Ok((result, words.finish())),
        }
    }

    /// `<<` (or `<<-`) followed by blanks stays glued to the next word, so
    /// that `RUN <<  EOF` still names a heredoc.
    fn process_possible_heredoc(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".to_string();
        }
        self.next();
        let mut out = "<<".to_string();
        if self.peek() == Some('-') {
            out.push('-');
            self.next();
        }
        while let Some(c @ (' ' | '\t')) = self.peek() {
            out.push(c);
            self.next();
        }
        out
    }

    fn process_single_quote(&mut self) -> Step<String> {
        let mut result = String::new();
        let open = self.next();
        if self.opts.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.next() {
                None => return Err(ExpandErrorKind::UnterminatedSingleQuote),
                Some('\'') => {
                    if self.opts.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> Step<String> {
        let mut result = String::new();
        let open = self.next();
        if self.opts.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.peek() {
                None => return Err(ExpandErrorKind::UnterminatedDoubleQuote),
                Some('"') => {
                    self.next();
                    if self.opts.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let value = self.process_dollar()?;
                    result.push_str(&value);
                }
                Some(_) => {
                    let mut ch = self.next().unwrap_or_default();
                    if ch == self.opts.escape {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            // An escape at the very end is dropped.
                            None => continue,
                            Some(c) if c == '"' || c == '$' || c == self.opts.escape => {
                                ch = c;
                                self.next();
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn process_dollar(&mut self) -> Step<String> {
        self.next(); // '$'
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.opts.skip_unset_env => format!("${name}"),
                None => String::new(),
            });
        }
        self.next(); // '{'
        match self.peek() {
            None => return Err(ExpandErrorKind::MissingBrace),
            Some('{' | '}' | ':') => return Err(ExpandErrorKind::BadSubstitution),
            Some(_) => {}
        }
        let name = self.process_name();
        let first = self.next();
        let mut modifier: String = first.into_iter().collect();
        match first {
            Some('}') => Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.opts.skip_unset_env => format!("${{{name}}}"),
                None => String::new(),
            }),
            Some(':') => {
                let op = self.next();
                modifier.extend(op);
                match op {
                    // `${VAR:#x}` / `${VAR:%x}` are not shell syntax.
                    Some('#' | '%') | None => {
                        if op.is_none() {
                            return Err(ExpandErrorKind::MissingBrace);
                        }
                        Err(ExpandErrorKind::UnsupportedModifier(modifier))
                    }
                    Some(op) => self.process_modifier(&name, op, &modifier, true),
                }
            }
            Some(op @ ('+' | '-' | '?' | '#' | '%')) => {
                self.process_modifier(&name, op, &modifier, false)
            }
            Some('/') => self.process_replace(&name),
            _ => Err(ExpandErrorKind::UnsupportedModifier(modifier)),
        }
    }

    fn process_modifier(
        &mut self,
        name: &str,
        op: char,
        modifier: &str,
        null_is_unset: bool,
    ) -> Step<String> {
        let raw = op == '#' || op == '%';
        let (mut word, _) = self.process_stop_on(Some('}'), raw).map_err(|e| {
            if self.peek().is_none() {
                ExpandErrorKind::MissingBrace
            } else {
                e
            }
        })?;
        let value = self.get_env(name);
        if self.opts.skip_unset_env && value.is_none() {
            return Ok(format!("${{{name}{modifier}{word}}}"));
        }
        let unset = value.is_none() || (null_is_unset && value.as_deref() == Some(""));
        match op {
            '-' => Ok(if unset {
                word
            } else {
                value.unwrap_or_default()
            }),
            '+' => Ok(if unset { String::new() } else { word }),
            '?' => {
                if value.is_none() || unset {
                    let message = if !word.is_empty() {
                        word
                    } else if value.is_none() {
                        "is not allowed to be unset".to_string()
                    } else {
                        "is not allowed to be empty".to_string()
                    };
                    return Err(ExpandErrorKind::Required {
                        name: name.to_string(),
                        message,
                    });
                }
                Ok(value.unwrap_or_default())
            }
            '#' | '%' => {
                let greedy = word.starts_with(op);
                if greedy {
                    word.remove(0);
                }
                let value = value.unwrap_or_default();
                let pattern = ShellPattern::compile(&word)?;
                Ok(if op == '#' {
                    pattern.trim_prefix(&value, greedy)
                } else {
                    pattern.trim_suffix(&value, greedy)
                })
            }
            _ => Err(ExpandErrorKind::UnsupportedModifier(modifier.to_string())),
        }
    }

    fn process_replace(&mut self, name: &str) -> Step<String> {
        let all = self.peek() == Some('/');
        if all {
            self.next();
        }
        let (pattern, _) = self.process_stop_on(Some('/'), true).map_err(|e| {
            if self.peek().is_none() {
                ExpandErrorKind::MissingSlash
            } else {
                e
            }
        })?;
        let (replacement, _) = self.process_stop_on(Some('}'), true).map_err(|e| {
            if self.peek().is_none() {
                ExpandErrorKind::MissingBrace
            } else {
                e
            }
        })?;
        let value = self.get_env(name);
        let Some(value) = value else {
            if self.opts.skip_unset_env {
                return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
            }
            return Ok(String::new());
        };
        let compiled = ShellPattern::compile(&pattern)?;
        Ok(compiled.replace(&value, &replacement, all))
    }

    /// A name: alphanumerics and `_`, all digits (positional), or one special
    /// parameter character.
    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_numeric() {
                while let Some(d) = self.peek().filter(|c| c.is_numeric()) {
                    name.push(d);
                    self.next();
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return ch.to_string();
            }
            if !ch.is_alphanumeric() && ch != '_' {
                break;
            }
            name.push(ch);
            self.next();
        }
        name
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatternToken {
    Star,
    Any,
    Lit(char),
}

/// A shell pattern as used by `${VAR#pat}` and `${VAR/pat/repl}`: `*`, `?`,
/// and `\` escaping `*`, `?`, `\` (`\}` and `\/` are the plain characters).
struct ShellPattern {
    tokens: Vec<PatternToken>,
}

impl ShellPattern {
    fn compile(pattern: &str) -> Step<ShellPattern> {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => tokens.push(PatternToken::Star),
                '?' => tokens.push(PatternToken::Any),
                '\\' => match chars.peek().copied() {
                    Some('}' | '/') => {}
                    Some(e @ ('*' | '?' | '\\')) => {
                        chars.next();
                        tokens.push(PatternToken::Lit(e));
                    }
                    other => {
                        return Err(ExpandErrorKind::InvalidPattern {
                            pattern: pattern.to_string(),
                            reason: match other {
                                Some(e) => format!("invalid escape '\\{e}'"),
                                None => "trailing escape".to_string(),
                            },
                        })
                    }
                },
                c => tokens.push(PatternToken::Lit(c)),
            }
        }
        Ok(ShellPattern { tokens })
    }

    fn matches(&self, text: &[char]) -> bool {
        glob_match(&self.tokens, text)
    }

    fn trim_prefix(&self, value: &str, greedy: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let n = chars.len();
        let mut lens: Box<dyn Iterator<Item = usize>> = if greedy {
            Box::new((0..=n).rev())
        } else {
            Box::new(0..=n)
        };
        match lens.find(|&len| self.matches(&chars[..len])) {
            Some(len) => chars[len..].iter().collect(),
            None => value.to_string(),
        }
    }

    fn trim_suffix(&self, value: &str, greedy: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let n = chars.len();
        let mut starts: Box<dyn Iterator<Item = usize>> = if greedy {
            Box::new(0..=n)
        } else {
            Box::new((0..=n).rev())
        };
        match starts.find(|&start| self.matches(&chars[start..])) {
            Some(start) => chars[..start].iter().collect(),
            None => value.to_string(),
        }
    }

    /// The leftmost match starting at or after `from`, longest at that start.
    fn find(&self, chars: &[char], from: usize) -> Option<(usize, usize)> {
        (from..=chars.len()).find_map(|start| {
            (start..=chars.len())
                .rev()
                .find(|&end| self.matches(&chars[start..end]))
                .map(|end| (start, end))
        })
    }

    fn replace(&self, value: &str, replacement: &str, all: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let mut out = String::new();
        let mut pos = 0;
        let mut last_match_end: Option<usize> = None;
        while pos <= chars.len() {
            let Some((start, end)) = self.find(&chars, pos) else {
                break;
            };
            // An empty match right after the previous match is skipped.
            if start == end && last_match_end == Some(start) {
                if start < chars.len() {
                    out.push(chars[start]);
                }
                pos = start + 1;
                continue;
            }
            out.extend(&chars[pos..start]);
            out.push_str(replacement);
            last_match_end = Some(end);
            if end == start {
                if end < chars.len() {
                    out.push(chars[end]);
                }
                pos = end + 1;
            } else {
                pos = end;
            }
            if !all {
                break;
            }
        }
        if pos < chars.len() {
            out.extend(&chars[pos..]);
        }
        out
    }
}

/// Whole-text match of `*` / `?` / literal tokens.
fn glob_match(tokens: &[PatternToken], text: &[char]) -> bool {
    let (mut t, mut s) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while s < text.len() {
        match tokens.get(t) {
            Some(PatternToken::Star) => {
                backtrack = Some((t, s));
                t += 1;
                continue;
            }
            Some(PatternToken::Any) => {
                t += 1;
                s += 1;
                continue;
            }
            Some(PatternToken::Lit(c)) if *c == text[s] => {
                t += 1;
                s += 1;
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((bt, bs)) => {
                t = bt + 1;
                s = bs + 1;
                backtrack = Some((bt, bs + 1));
            }
            None => return false,
        }
    }
    tokens[t..].iter().all(|tok| *tok == PatternToken::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> BTreeMap<String, String> {
        env_from_list(["PWD=/home", "EMPTY=", "FOO=xxyy"])
    }

    fn word(input: &str) -> Result<String, ExpandError> {
        Expander::default().process_word(input, &env())
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(word("he'll'o").unwrap(), "hello");
        assert_eq!(word(r#""abc\tdef""#).unwrap(), r"abc\tdef");
        assert_eq!(word(r"he\$PWD").unwrap(), "he$PWD");
        assert!(word("'open").is_err());
    }

    #[test]
    fn defaults_and_alternatives() {
        assert_eq!(word("${NOPE:-a}${EMPTY:-b}${EMPTY-c}").unwrap(), "ab");
        assert_eq!(word("${PWD:+set}${EMPTY:+x}${EMPTY+y}").unwrap(), "sety");
        let err = word("${NOPE:?must be set}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to process \"${NOPE:?must be set}\": NOPE: must be set"
        );
    }

    #[test]
    fn pattern_operators() {
        assert_eq!(word("${FOO#*x}").unwrap(), "xyy");
        assert_eq!(word("${FOO##*x}").unwrap(), "yy");
        assert_eq!(word("${FOO%y*}").unwrap(), "xxy");
        assert_eq!(word("${FOO%%y*}").unwrap(), "xx");
        assert_eq!(word("${FOO/x/a}").unwrap(), "axyy");
        assert_eq!(word("${FOO//x/a}").unwrap(), "aayy");
    }

    #[test]
    fn words_split_on_unquoted_whitespace() {
        let env = env_from_list(["SP=a  b"]);
        let ex = Expander::default();
        assert_eq!(
            ex.process_words("x${SP}y \"$SP\"", &env).unwrap(),
            ["xa", "by", "a  b"]
        );
    }

    #[test]
    fn tracks_matched_and_unmatched() {
        let e = Expander::default()
            .process("$PWD ${NOPE:-x} $EMPTY", &env())
            .unwrap();
        assert_eq!(e.matched.into_iter().collect::<Vec<_>>(), ["EMPTY", "PWD"]);
        assert_eq!(e.unmatched.into_iter().collect::<Vec<_>>(), ["NOPE"]);
    }

    #[test]
    fn backtick_escape() {
        let ex = Expander::new('`');
        assert_eq!(
            ex.process_word(r"C:\dir`$x", &EmptyEnv).unwrap(),
            r"C:\dir$x"
        );
    }
}
