//! `devbox init` decisions (pure): the questions and what to write where.

use super::render::{Choices, Generated, README_MARKER};

/// What `init` does with one generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Creates the file (or replaces it, with `--force`).
    Write {
        path: &'static str,
        contents: String,
    },
    /// Adds devbox's section at the end of an existing README.
    Append {
        path: &'static str,
        contents: String,
    },
    /// Leaves it alone, with the reason.
    Keep { path: &'static str, reason: String },
}

impl Action {
    pub fn path(&self) -> &'static str {
        match self {
            Action::Write { path, .. }
            | Action::Append { path, .. }
            | Action::Keep { path, .. } => path,
        }
    }
}

/// Files that exist and would be replaced: `init` refuses to touch any of them without
/// `--force`, and writes nothing at all in that case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} already exist{}", .0.join(", "), if .0.len() == 1 { "s" } else { "" })]
pub struct Existing(pub Vec<&'static str>);

/// Decides, for every generated file, what to do given what is on disk (`existing(path)` is
/// the current text of a file, if any). A README is never replaced: the section is appended
/// once.
pub fn plan(
    generated: Vec<Generated>,
    existing: impl Fn(&str) -> Option<String>,
    force: bool,
) -> Result<Vec<Action>, Existing> {
    let mut conflicts = Vec::new();
    let mut actions = Vec::new();
    for file in generated {
        let current = existing(file.path);
        let action = match (file.path, current) {
            (path, None) => Action::Write {
                path,
                contents: file.contents,
            },
            ("README.md", Some(text)) if text.contains(README_MARKER) => Action::Keep {
                path: "README.md",
                reason: "it already has a devbox section".into(),
            },
            ("README.md", Some(text)) => Action::Append {
                path: "README.md",
                contents: if text.ends_with('\n') || text.is_empty() {
                    format!("\n{}", file.contents)
                } else {
                    format!("\n\n{}", file.contents)
                },
            },
            (path, Some(text)) if text == file.contents => Action::Keep {
                path,
                reason: "unchanged".into(),
            },
            (path, Some(_)) if force => Action::Write {
                path,
                contents: file.contents,
            },
            (path, Some(_)) => {
                conflicts.push(path);
                continue;
            }
        };
        actions.push(action);
    }
    if conflicts.is_empty() {
        Ok(actions)
    } else {
        Err(Existing(conflicts))
    }
}

/// Asks the user to confirm or change the choices, `docker init` style: each question shows
/// the default, an empty answer keeps it, an invalid one is asked again (three times, then
/// the default stands). `ask(question)` shows the question and returns the answer line, or
/// `None` at end of input.
pub fn ask(defaults: &Choices, ask: &mut dyn FnMut(&str) -> Option<String>) -> Choices {
    let mut choices = defaults.clone();
    let python = question(ask, "Python version", &defaults.python, |a| {
        let ok = a.split('.').count() == 2 && a.split('.').all(|p| p.parse::<u32>().is_ok());
        ok.then(|| a.to_string())
    });
    if let Some(v) = python {
        choices.python = v;
    }
    if let Some(port) = defaults.port {
        if let Some(p) = question(ask, "Port the app listens on", &port.to_string(), |a| {
            a.parse::<u16>().ok().filter(|p| *p > 0)
        }) {
            choices.port = Some(p);
        }
    }
    // The default command follows a changed port.
    if let (Some(old), Some(new)) = (defaults.port, choices.port) {
        for word in &mut choices.command {
            *word = word.replace(&old.to_string(), &new.to_string());
        }
    }
    let command = shell_words(&choices.command);
    if let Some(c) = question(ask, "Command to run the app", &command, split_words) {
        choices.command = c;
    }
    choices
}

fn question<T>(
    ask: &mut dyn FnMut(&str) -> Option<String>,
    label: &str,
    default: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    for _ in 0..3 {
        let answer = ask(&format!("? {label} [{default}]: "))?;
        let answer = answer.trim();
        if answer.is_empty() {
            return None;
        }
        if let Some(value) = parse(answer) {
            return Some(value);
        }
    }
    None
}

/// A command line as the user would type it (words with spaces quoted).
fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            if w.is_empty() || w.contains([' ', '\'', '"', '\\']) {
                format!("'{}'", w.replace('\'', r"'\''"))
            } else {
                w.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits a typed command line into words: whitespace separates, single and double quotes
/// group. `None` when a quote is left open or the line is empty.
fn split_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return None;
    }
    if in_word {
        words.push(word);
    }
    (!words.is_empty()).then_some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated() -> Vec<Generated> {
        ["Dockerfile", ".dockerignore", "compose.yaml", "README.md"]
            .into_iter()
            .map(|path| Generated {
                path,
                contents: format!("{README_MARKER}\nnew {path}\n"),
            })
            .collect()
    }

    #[test]
    fn fresh_project_gets_every_file() {
        let actions = plan(generated(), |_| None, false).unwrap();
        assert!(actions.iter().all(|a| matches!(a, Action::Write { .. })));
        assert_eq!(actions.len(), 4);
    }

    #[test]
    fn existing_files_are_refused_all_at_once_without_force() {
        let existing =
            |p: &str| (p == "Dockerfile" || p == "compose.yaml").then(|| "old".to_string());
        let err = plan(generated(), existing, false).unwrap_err();
        assert_eq!(err.0, ["Dockerfile", "compose.yaml"]);
        assert_eq!(err.to_string(), "Dockerfile, compose.yaml already exist");
        let actions = plan(generated(), existing, true).unwrap();
        assert!(matches!(
            &actions[0],
            Action::Write {
                path: "Dockerfile",
                ..
            }
        ));
    }

    #[test]
    fn readme_gets_the_section_appended_once() {
        let actions = plan(
            generated(),
            |p| (p == "README.md").then(|| "# App".into()),
            false,
        )
        .unwrap();
        match &actions[3] {
            Action::Append { contents, .. } => assert!(contents.starts_with("\n\n<!-- devbox -->")),
            other => panic!("{other:?}"),
        }
        let actions = plan(
            generated(),
            |p| (p == "README.md").then(|| format!("# App\n{README_MARKER}\n")),
            false,
        )
        .unwrap();
        assert!(matches!(&actions[3], Action::Keep { .. }));
    }

    #[test]
    fn identical_files_are_kept_even_without_force() {
        let actions = plan(
            generated(),
            |p| (p == "Dockerfile").then(|| format!("{README_MARKER}\nnew Dockerfile\n")),
            false,
        )
        .unwrap();
        assert!(matches!(&actions[0], Action::Keep { .. }));
    }

    fn defaults() -> Choices {
        Choices {
            python: "3.12".into(),
            port: Some(8000),
            command: vec!["uvicorn".into(), "main:app".into()],
        }
    }

    fn answers(lines: &[&str]) -> (Choices, Vec<String>) {
        let mut lines = lines.iter();
        let mut asked = Vec::new();
        let choices = ask(&defaults(), &mut |q| {
            asked.push(q.to_string());
            lines.next().map(|l| l.to_string())
        });
        (choices, asked)
    }

    #[test]
    fn empty_answers_keep_the_defaults() {
        let (choices, asked) = answers(&["", "", ""]);
        assert_eq!(choices, defaults());
        assert_eq!(
            asked,
            [
                "? Python version [3.12]: ",
                "? Port the app listens on [8000]: ",
                "? Command to run the app [uvicorn main:app]: "
            ]
        );
    }

    #[test]
    fn answers_change_the_choices_and_bad_ones_are_asked_again() {
        let (choices, asked) = answers(&["3.11", "abc", "9000", "gunicorn -w 2 'main:app'"]);
        assert_eq!(choices.python, "3.11");
        assert_eq!(asked[2], asked[1], "an invalid port is asked again");
        assert_eq!(choices.port, Some(9000));
        assert_eq!(choices.command, ["gunicorn", "-w", "2", "main:app"]);
    }

    #[test]
    fn end_of_input_keeps_the_defaults() {
        let (choices, asked) = answers(&[]);
        assert_eq!(choices, defaults());
        assert_eq!(asked.len(), 3);
    }

    #[test]
    fn words() {
        assert_eq!(split_words("a 'b c' \"d\"").unwrap(), ["a", "b c", "d"]);
        assert_eq!(split_words("'open"), None);
        assert_eq!(split_words("  "), None);
        assert_eq!(shell_words(&["a".into(), "b c".into()]), "a 'b c'");
    }
}
