//! `develop.watch` (pure): what a changed host path means for the services watching it.
//!
//! A rule watches `path` (absolute after loading) and everything under it, less its `ignore`
//! patterns (`.dockerignore` syntax, relative to `path`) and what compose always ignores:
//! `.git` and editors' temporary files.

use std::path::Path;

use super::model::{Watch, WatchAction};
use crate::build::ignore::PatternMatcher;

/// One thing to do for a changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchStep {
    /// Copy the host file (or directory) `source` to `target` in the service's containers;
    /// then restart them when `restart`.
    Sync {
        service: String,
        source: std::path::PathBuf,
        target: String,
        restart: bool,
    },
    /// Rebuild the service's image and recreate its containers.
    Rebuild { service: String },
}

/// Names editors write next to the files they save, and version-control directories.
fn always_ignored(relative: &Path) -> bool {
    relative.components().any(|c| {
        let name = c.as_os_str().to_string_lossy();
        name == ".git"
            || name == "4913"
            || name.ends_with('~')
            || name.ends_with(".swp")
            || name.ends_with(".swx")
    })
}

/// The steps for `changed` under the rules of every service (`(service, rule)` pairs), in
/// rule order. A rule without `target` syncs nothing (compose requires one for sync).
pub fn route<'a>(
    rules: impl IntoIterator<Item = (&'a str, &'a Watch)>,
    changed: &Path,
) -> Vec<WatchStep> {
    let mut steps = Vec::new();
    for (service, rule) in rules {
        let Ok(relative) = changed.strip_prefix(&rule.path) else {
            continue;
        };
        if always_ignored(relative) {
            continue;
        }
        let text = relative.to_string_lossy();
        let ignored = PatternMatcher::new(&rule.ignore)
            .and_then(|m| m.matches(if text.is_empty() { "." } else { &text }))
            .unwrap_or(false);
        if ignored {
            continue;
        }
        let step = match (rule.action, &rule.target) {
            (WatchAction::Rebuild, _) => WatchStep::Rebuild {
                service: service.to_string(),
            },
            (WatchAction::Sync | WatchAction::SyncRestart, Some(target)) => WatchStep::Sync {
                service: service.to_string(),
                source: changed.to_path_buf(),
                target: if text.is_empty() {
                    target.clone()
                } else {
                    format!("{}/{text}", target.trim_end_matches('/'))
                },
                restart: rule.action == WatchAction::SyncRestart,
            },
            (_, None) => continue,
        };
        if !steps.contains(&step) {
            steps.push(step);
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: &str, action: WatchAction, target: Option<&str>, ignore: &[&str]) -> Watch {
        Watch {
            path: path.into(),
            action,
            target: target.map(str::to_string),
            ignore: ignore.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn syncs_rebuilds_and_ignores() {
        let sync = rule(
            "/src/app",
            WatchAction::Sync,
            Some("/code/"),
            &["node_modules/", "*.pyc"],
        );
        let rebuild = rule("/src/app/requirements.txt", WatchAction::Rebuild, None, &[]);
        let rules = [("web", &sync), ("web", &rebuild)];
        let steps = |p: &str| route(rules, Path::new(p));
        assert_eq!(
            steps("/src/app/pkg/views.py"),
            [WatchStep::Sync {
                service: "web".into(),
                source: "/src/app/pkg/views.py".into(),
                target: "/code/pkg/views.py".into(),
                restart: false
            }]
        );
        assert_eq!(
            steps("/src/app/requirements.txt")[1],
            WatchStep::Rebuild {
                service: "web".into()
            }
        );
        for ignored in [
            "/src/app/node_modules/x/index.js",
            "/src/app/a.pyc",
            "/src/app/.git/HEAD",
            "/src/app/views.py~",
            "/src/app/.views.py.swp",
            "/elsewhere/views.py",
        ] {
            assert_eq!(steps(ignored), [], "{ignored}");
        }
    }
}
