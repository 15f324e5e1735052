//! `${VAR}` interpolation with compose-go's rules (pure).
//!
//! Grammar (compose-spec "Interpolation"):
//! - `$$` is a literal `$`;
//! - `$NAME` takes the longest `[A-Za-z_][A-Za-z0-9_]*`;
//! - `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:+alt}`, `${NAME+alt}`,
//!   `${NAME:?message}`, `${NAME?message}`; the operator is the one right after the name;
//! - defaults, alternatives and messages may nest `${...}` / `$NAME` and are expanded lazily;
//! - a `$` followed by anything else is kept literally; a `${` that does not form a valid
//!   `${NAME...}` is an error.

use std::fmt;

/// Why a template could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolationError {
    #[error("Invalid template: {template:?}")]
    InvalidTemplate { template: String },
    #[error("required variable {variable} is missing a value{}", message_suffix(.message))]
    MissingRequired { variable: String, message: String },
}

fn message_suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// Expands `template`, looking variables up with `lookup` (`None` = unset).
pub fn substitute<'a, F>(template: &str, lookup: &F) -> Result<String, InterpolationError>
where
    F: Fn(&str) -> Option<&'a str>,
{
    let mut out = String::with_capacity(template.len());
    let bytes = template.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let Some(offset) = template[i..].find('$') else {
            out.push_str(&template[i..]);
            break;
        };
        out.push_str(&template[i..i + offset]);
        i += offset;
        match bytes.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let end = matching_brace(template, i + 2).ok_or_else(|| invalid(template))?;
                out.push_str(&expand_braced(&template[i + 2..end], template, lookup)?);
                i = end + 1;
            }
            Some(&c) if is_name_start(c) => {
                let len = name_len(&template[i + 1..]);
                let name = &template[i + 1..i + 1 + len];
                out.push_str(lookup(name).unwrap_or(""));
                i += 1 + len;
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The operators allowed after the name in `${NAME<op>rest}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    /// `:-` default when unset or empty.
    DefaultIfEmpty,
    /// `-` default when unset.
    DefaultIfUnset,
    /// `:+` alternative when set and non-empty.
    AltIfNonEmpty,
    /// `+` alternative when set.
    AltIfSet,
    /// `:?` error when unset or empty.
    RequiredNonEmpty,
    /// `?` error when unset.
    Required,
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operator::DefaultIfEmpty => ":-",
            Operator::DefaultIfUnset => "-",
            Operator::AltIfNonEmpty => ":+",
            Operator::AltIfSet => "+",
            Operator::RequiredNonEmpty => ":?",
            Operator::Required => "?",
        })
    }
}

fn expand_braced<'a, F>(
    inner: &str,
    template: &str,
    lookup: &F,
) -> Result<String, InterpolationError>
where
    F: Fn(&str) -> Option<&'a str>,
{
    let len = match inner.as_bytes().first() {
        Some(&c) if is_name_start(c) => name_len(inner),
        _ => return Err(invalid(template)),
    };
    let (name, rest) = inner.split_at(len);
    let value = lookup(name);
    if rest.is_empty() {
        return Ok(value.unwrap_or("").to_string());
    }
    let (op, arg) = split_operator(rest).ok_or_else(|| invalid(template))?;
    let set = value.is_some();
    let non_empty = value.is_some_and(|v| !v.is_empty());
    let value = value.unwrap_or("");
    match op {
        Operator::DefaultIfEmpty if !non_empty => substitute(arg, lookup),
        Operator::DefaultIfUnset if !set => substitute(arg, lookup),
        Operator::AltIfNonEmpty if non_empty => substitute(arg, lookup),
        Operator::AltIfSet if set => substitute(arg, lookup),
        Operator::AltIfNonEmpty | Operator::AltIfSet => Ok(String::new()),
        Operator::RequiredNonEmpty if !non_empty => Err(missing(name, arg, lookup)?),
        Operator::Required if !set => Err(missing(name, arg, lookup)?),
        _ => Ok(value.to_string()),
    }
}

fn missing<'a, F>(
    name: &str,
    arg: &str,
    lookup: &F,
) -> Result<InterpolationError, InterpolationError>
where
    F: Fn(&str) -> Option<&'a str>,
{
    Ok(InterpolationError::MissingRequired {
        variable: name.to_string(),
        message: substitute(arg, lookup)?,
    })
}

fn split_operator(rest: &str) -> Option<(Operator, &str)> {
    let ops = [
        (":-", Operator::DefaultIfEmpty),
        (":+", Operator::AltIfNonEmpty),
        (":?", Operator::RequiredNonEmpty),
        ("-", Operator::DefaultIfUnset),
        ("+", Operator::AltIfSet),
        ("?", Operator::Required),
    ];
    ops.iter()
        .find_map(|(text, op)| rest.strip_prefix(text).map(|arg| (*op, arg)))
}

/// Index of the `}` closing the `${` whose content starts at `start`, counting nested braces.
fn matching_brace(s: &str, start: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(start + i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn is_name_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

fn name_len(s: &str) -> usize {
    s.bytes()
        .position(|c| !(c == b'_' || c.is_ascii_alphanumeric()))
        .unwrap_or(s.len())
}

fn invalid(template: &str) -> InterpolationError {
    InterpolationError::InvalidTemplate {
        template: template.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(t: &str) -> Result<String, InterpolationError> {
        let lookup = |k: &str| match k {
            "FOO" => Some("first"),
            "BAR" => Some(""),
            _ => None,
        };
        substitute(t, &lookup)
    }

    #[test]
    fn basic_forms() {
        assert_eq!(sub("$$x $FOO-bar ${FOO}").unwrap(), "$x first-bar first");
        assert_eq!(sub("${BAR:-d} ${BAR-d} ${X:-d}").unwrap(), "d  d");
        assert_eq!(sub("${FOO:+a}|${BAR:+a}|${BAR+a}|${X+a}").unwrap(), "a||a|");
        assert_eq!(sub("${X-{\"j\":1}}").unwrap(), "{\"j\":1}");
        assert_eq!(sub("a $ b $}").unwrap(), "a $ b $}");
    }

    #[test]
    fn errors() {
        assert!(matches!(
            sub("${"),
            Err(InterpolationError::InvalidTemplate { .. })
        ));
        assert!(matches!(
            sub("${foo!}"),
            Err(InterpolationError::InvalidTemplate { .. })
        ));
        assert_eq!(
            sub("${X:?need ${FOO}}").unwrap_err().to_string(),
            "required variable X is missing a value: need first"
        );
        assert_eq!(sub("${BAR?no}").unwrap(), "");
    }

    #[test]
    fn lazy_defaults() {
        assert_eq!(sub("${FOO:-${X:?boom}}").unwrap(), "first");
    }
}
