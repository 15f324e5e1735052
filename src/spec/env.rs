//! `-e K=V`, `-e K` and `--env-file` syntax, and merging environments.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("invalid environment variable `{0}`: the name is empty")]
    EmptyName(String),
    #[error(
        "{file}:{line}: invalid environment variable `{text}`: names cannot contain whitespace"
    )]
    Whitespace {
        file: String,
        line: usize,
        text: String,
    },
}

/// Parses one `-e` value. `K` alone takes its value from `lookup` and is
/// dropped when unset (Docker's behaviour).
pub fn parse_env(
    item: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<(String, String)>, EnvError> {
    match item.split_once('=') {
        Some(("", _)) => Err(EnvError::EmptyName(item.into())),
        Some((k, v)) => Ok(Some((k.to_string(), v.to_string()))),
        None if item.is_empty() => Err(EnvError::EmptyName(item.into())),
        None => Ok(lookup(item).map(|v| (item.to_string(), v))),
    }
}

/// Parses an `--env-file` (Docker's format: `K=V` lines taken literally,
/// `K` lines from the environment, `#` comments and blank lines ignored).
pub fn parse_env_file(
    file: &str,
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, EnvError> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split('=').next().unwrap_or_default();
        if name.contains(char::is_whitespace) {
            return Err(EnvError::Whitespace {
                file: file.into(),
                line: n + 1,
                text: raw.into(),
            });
        }
        if let Some(pair) = parse_env(line, &lookup)? {
            out.push(pair);
        }
    }
    Ok(out)
}

/// An ordered environment where later settings replace earlier ones in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    pub vars: Vec<(String, String)>,
}

impl Environment {
    pub fn from_list(list: &[String]) -> Environment {
        let mut env = Environment::default();
        for item in list {
            let (k, v) = item.split_once('=').unwrap_or((item, ""));
            env.set(k, v);
        }
        env
    }

    pub fn set(&mut self, key: &str, value: &str) {
        match self.vars.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.vars.push((key.to_string(), value.to_string())),
        }
    }

    pub fn set_default(&mut self, key: &str, value: &str) {
        if self.get(key).is_none() {
            self.vars.push((key.to_string(), value.to_string()));
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn to_list(&self) -> Vec<String> {
        self.vars.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(key: &str) -> Option<String> {
        (key == "FROM_HOST").then(|| "yes".to_string())
    }

    #[test]
    fn parses_dash_e() {
        assert_eq!(
            parse_env("A=1", host).unwrap(),
            Some(("A".into(), "1".into()))
        );
        assert_eq!(
            parse_env("A=", host).unwrap(),
            Some(("A".into(), "".into()))
        );
        assert_eq!(
            parse_env("A=b=c", host).unwrap(),
            Some(("A".into(), "b=c".into()))
        );
        assert_eq!(
            parse_env("FROM_HOST", host).unwrap(),
            Some(("FROM_HOST".into(), "yes".into()))
        );
        assert_eq!(parse_env("UNSET", host).unwrap(), None);
        assert!(parse_env("=x", host).is_err());
    }

    #[test]
    fn parses_env_files() {
        let text = "# comment\n\nA=1\n  B=two words\nFROM_HOST\nQ=\"quoted\"\n";
        let vars = parse_env_file("f", text, host).unwrap();
        assert_eq!(
            vars,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("FROM_HOST".into(), "yes".into()),
                ("Q".into(), "\"quoted\"".into()),
            ]
        );
        let err = parse_env_file("f.env", "BAD NAME=1\n", host).unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.env:1: invalid environment variable `BAD NAME=1`: names cannot contain whitespace"
        );
    }

    #[test]
    fn later_settings_win_in_place() {
        let mut env = Environment::from_list(&["PATH=/bin".into(), "A=1".into()]);
        env.set("A", "2");
        env.set_default("PATH", "/usr/bin");
        env.set_default("HOME", "/root");
        assert_eq!(env.to_list(), vec!["PATH=/bin", "A=2", "HOME=/root"]);
    }
}
