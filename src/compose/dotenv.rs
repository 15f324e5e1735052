//! `.env` / `env_file` parsing with compose-go's dotenv rules (pure).
//!
//! - blank lines and lines starting with `#` are ignored; a UTF-8 BOM is skipped;
//! - `KEY=value`, `KEY: value` (YAML style) and `export KEY=value`; keys are
//!   `[A-Za-z0-9_.\-\[\]]` (letters and digits in any script);
//! - a bare `KEY` line takes its value from the outer environment, or is left out;
//! - unquoted values end at the line end, lose a ` #` comment and trailing spaces,
//!   and are interpolated;
//! - `'single'` quotes are literal; `"double"` quotes may span lines, understand
//!   `\a \b \f \n \r \t \v \\ \" \$` and octal `\0NNN`, and are interpolated;
//! - during interpolation the outer environment wins over earlier lines of the file;
//! - a key starting with a digit (`456=x`) is not a variable name and is dropped, as
//!   compose-go's reader does.

use std::collections::BTreeMap;

use super::interpolate::{substitute, InterpolationError};

/// Why an env file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DotenvError {
    #[error("line {line}: key cannot contain a space")]
    KeyWithSpace { line: usize },
    #[error("line {line}: unexpected character {character:?} in variable name {text:?}")]
    UnexpectedCharacter {
        line: usize,
        character: char,
        text: String,
    },
    #[error("line {line}: unterminated quoted value {text}")]
    UnterminatedQuote { line: usize, text: String },
    #[error("line {line}: {source}")]
    Interpolation {
        line: usize,
        source: InterpolationError,
    },
}

/// Parses `text`; `outer` is the environment used for `${VAR}` and bare `KEY` lines.
/// Variables are returned in file order, a later definition replacing an earlier one.
pub fn parse(
    text: &str,
    outer: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, DotenvError> {
    parse_layered(text, outer, &BTreeMap::new())
}

/// Like [`parse`], with `earlier` (variables of env files read before this one) as the
/// last place `${VAR}` looks: outer environment, then this file, then `earlier`.
pub fn parse_layered(
    text: &str,
    outer: &BTreeMap<String, String>,
    earlier: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, DotenvError> {
    let mut parser = Parser {
        src: text.strip_prefix('\u{feff}').unwrap_or(text),
        pos: 0,
        out: Vec::new(),
        earlier,
    };
    parser.run(outer)?;
    Ok(parser.out)
}

/// Parses several env files in order into one map (later files override earlier ones).
pub fn parse_files<'t>(
    texts: impl IntoIterator<Item = &'t str>,
    outer: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, DotenvError> {
    let mut merged = BTreeMap::new();
    for text in texts {
        let vars = parse_layered(text, outer, &merged)?;
        merged.extend(vars);
    }
    Ok(merged)
}

struct Parser<'s> {
    src: &'s str,
    pos: usize,
    out: Vec<(String, String)>,
    earlier: &'s BTreeMap<String, String>,
}

/// Go's `unicode.IsSpace` minus the newline, as dotenv uses it inside a line.
fn is_inline_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    )
}

impl<'s> Parser<'s> {
    fn line(&self) -> usize {
        1 + self.src[..self.pos].matches('\n').count()
    }

    fn rest(&self) -> &'s str {
        &self.src[self.pos..]
    }

    fn run(&mut self, outer: &BTreeMap<String, String>) -> Result<(), DotenvError> {
        while self.statement_start() {
            let line = self.line();
            let (key, inherited) = self.key()?;
            if key.contains(' ') {
                return Err(DotenvError::KeyWithSpace { line });
            }
            if inherited {
                if let Some(value) = outer.get(&key) {
                    self.set(key, value.clone());
                }
                continue;
            }
            let value = self.value(outer)?;
            self.set(key, value);
        }
        Ok(())
    }

    fn set(&mut self, key: String, value: String) {
        if key.starts_with(|c: char| c.is_ascii_digit()) {
            return;
        }
        self.out.retain(|(k, _)| *k != key);
        self.out.push((key, value));
    }

    /// Skips whitespace and comment lines; false at the end of the input.
    fn statement_start(&mut self) -> bool {
        loop {
            let rest = self.rest();
            let Some(offset) = rest.find(|c: char| !c.is_whitespace()) else {
                self.pos = self.src.len();
                return false;
            };
            self.pos += offset;
            if !self.rest().starts_with('#') {
                return true;
            }
            match self.rest().find('\n') {
                Some(nl) => self.pos += nl,
                None => {
                    self.pos = self.src.len();
                    return false;
                }
            }
        }
    }

    /// Reads the key; `true` when the line is a bare `KEY` (inherited from the environment).
    fn key(&mut self) -> Result<(String, bool), DotenvError> {
        let mut rest = self.rest();
        if let Some(after) = rest.strip_prefix("export") {
            if after.starts_with(is_inline_space) {
                let trimmed = after.trim_start_matches(is_inline_space);
                self.pos += rest.len() - trimmed.len();
                rest = trimmed;
            }
        }
        for (i, c) in rest.char_indices() {
            match c {
                _ if is_inline_space(c) => {}
                '=' | ':' | '\n' => {
                    let key = rest[..i].trim_end().to_string();
                    self.pos += i + 1;
                    let trimmed = self.rest().trim_start_matches(is_inline_space);
                    self.pos = self.src.len() - trimmed.len();
                    return Ok((key, c == '\n'));
                }
                '_' | '.' | '-' | '[' | ']' => {}
                _ if c.is_alphanumeric() => {}
                _ => {
                    return Err(DotenvError::UnexpectedCharacter {
                        line: self.line(),
                        character: c,
                        text: rest.lines().next().unwrap_or("").to_string(),
                    })
                }
            }
        }
        // A bare key on the last line, without a newline.
        self.pos = self.src.len();
        Ok((rest.trim_end().to_string(), true))
    }

    fn value(&mut self, outer: &BTreeMap<String, String>) -> Result<String, DotenvError> {
        let rest = self.rest();
        let line = self.line();
        let quote = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => q,
            _ => {
                let (raw, consumed) = match rest.find('\n') {
                    Some(nl) => (&rest[..nl], nl + 1),
                    None => (rest, rest.len()),
                };
                self.pos += consumed;
                let raw = raw.split_once(" #").map_or(raw, |(v, _)| v).trim_end();
                return self.expand(raw, outer, line);
            }
        };
        let mut chars = String::new();
        let mut escaped = false;
        for (i, c) in rest.char_indices().skip(1) {
            if c != quote {
                if !escaped && c == '\\' {
                    escaped = true;
                    continue;
                }
                if escaped {
                    escaped = false;
                    chars.push('\\');
                }
                chars.push(c);
                continue;
            }
            if escaped {
                escaped = false;
                chars.push(c);
                continue;
            }
            self.pos += i + 1;
            if quote == '"' {
                return self.expand(&expand_escapes(&chars), outer, line);
            }
            return Ok(chars);
        }
        Err(DotenvError::UnterminatedQuote {
            line,
            text: rest.lines().next().unwrap_or("").to_string(),
        })
    }

    fn expand(
        &self,
        raw: &str,
        outer: &BTreeMap<String, String>,
        line: usize,
    ) -> Result<String, DotenvError> {
        let lookup = |k: &str| {
            outer.get(k).map(String::as_str).or_else(|| {
                self.out
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.as_str())
                    .or_else(|| self.earlier.get(k).map(String::as_str))
            })
        };
        substitute(raw, &lookup).map_err(|source| DotenvError::Interpolation { line, source })
    }
}

/// Shell escapes inside double quotes: `\a \b \f \n \r \t \v \\ \"`, octal `\0NNN`, and
/// `\$` (kept as `$$` so interpolation leaves a literal `$`). Others stay as written.
fn expand_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&next) = chars.peek() else {
            out.push('\\');
            break;
        };
        let simple = match next {
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            '\\' => Some('\\'),
            '"' => Some('"'),
            _ => None,
        };
        if let Some(replacement) = simple {
            chars.next();
            out.push(replacement);
        } else if next == '$' {
            chars.next();
            out.push_str("$$");
        } else if next == '0' {
            chars.next();
            let mut digits = String::new();
            while digits.len() < 3 {
                match chars.peek() {
                    Some(&d) if d.is_ascii_digit() => {
                        digits.push(d);
                        chars.next();
                    }
                    _ => break,
                }
            }
            // Go's octal escapes need exactly three octal digits; anything else stays as written.
            match u8::from_str_radix(&digits, 8) {
                Ok(byte) if digits.len() == 3 => out.push(char::from(byte)),
                _ => {
                    out.push_str("\\0");
                    out.push_str(&digits);
                }
            }
        } else {
            out.push('\\');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> (String, String) {
        parse(text, &BTreeMap::new()).unwrap().remove(0)
    }

    #[test]
    fn quoting_and_comments() {
        assert_eq!(one("FOO=bar # c").1, "bar");
        assert_eq!(one("FOO=1#x").1, "1#x");
        assert_eq!(one("FOO='a $B'").1, "a $B");
        assert_eq!(one("FOO=\"a\\tb\\0123\"").1, "a\tbS");
        assert_eq!(one("export  K: v").0, "K");
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse("A=1\n\nB C=2\n", &BTreeMap::new()).unwrap_err();
        assert_eq!(err.to_string(), "line 3: key cannot contain a space");
        assert!(matches!(
            parse("K='x", &BTreeMap::new()),
            Err(DotenvError::UnterminatedQuote { .. })
        ));
    }

    #[test]
    fn outer_environment_wins_in_interpolation() {
        let outer = BTreeMap::from([("A".to_string(), "5".to_string())]);
        let vars = parse("A=1\nB=$A\nC\n", &outer).unwrap();
        assert_eq!(
            vars,
            vec![("A".into(), "1".into()), ("B".into(), "5".into())]
        );
    }
}
