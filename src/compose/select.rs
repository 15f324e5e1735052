//! Which services a command acts on: the active profiles, the services named on the command
//! line, and what those depend on (pure).

use std::collections::BTreeSet;

use super::model::Project;

/// The profile that enables every service (`--profile '*'`).
const ALL_PROFILES: &str = "*";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("no such service: `{0}`")]
    NoSuchService(String),
}

/// `--profile` flags plus `COMPOSE_PROFILES` (comma-separated), as compose merges them.
pub fn active_profiles(flags: &[String], env: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = flags.to_vec();
    out.extend(
        env.unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string),
    );
    out
}

/// Is `service` enabled by the profiles (a service without profiles always is)?
pub fn enabled(project: &Project, service: &str, profiles: &[String]) -> bool {
    project.services.get(service).is_some_and(|s| {
        s.profiles.is_empty()
            || profiles
                .iter()
                .any(|p| p == ALL_PROFILES || s.profiles.contains(p))
    })
}

/// The services to act on: the ones `requested` (whatever their profiles: naming a service
/// enables it), or with none requested every service the profiles enable; plus, when
/// `with_dependencies`, everything those depend on.
pub fn select(
    project: &Project,
    profiles: &[String],
    requested: &[String],
    with_dependencies: bool,
) -> Result<BTreeSet<String>, SelectError> {
    let mut todo: Vec<String> = if requested.is_empty() {
        project
            .services
            .keys()
            .filter(|s| enabled(project, s, profiles))
            .cloned()
            .collect()
    } else {
        for name in requested {
            if !project.services.contains_key(name) {
                return Err(SelectError::NoSuchService(name.clone()));
            }
        }
        requested.to_vec()
    };
    let mut out = BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !out.insert(name.clone()) || !with_dependencies {
            continue;
        }
        if let Some(service) = project.services.get(&name) {
            todo.extend(
                service
                    .depends_on
                    .keys()
                    .filter(|d| project.services.contains_key(*d))
                    .cloned(),
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::{Dependency, Service};

    fn project() -> Project {
        let mut p = Project::default();
        let service = |profiles: &[&str], deps: &[&str]| {
            let mut s = Service {
                profiles: profiles.iter().map(|p| p.to_string()).collect(),
                ..Default::default()
            };
            for d in deps {
                s.depends_on.insert(d.to_string(), Dependency::default());
            }
            s
        };
        p.services.insert("web".into(), service(&[], &["db"]));
        p.services.insert("db".into(), service(&[], &[]));
        p.services
            .insert("debug".into(), service(&["debug"], &["web"]));
        p.services
            .insert("mail".into(), service(&["test", "ops"], &[]));
        p
    }

    fn names(set: BTreeSet<String>) -> Vec<String> {
        set.into_iter().collect()
    }

    #[test]
    fn profiles_enable_services() {
        let p = project();
        assert_eq!(names(select(&p, &[], &[], true).unwrap()), ["db", "web"]);
        let debug = active_profiles(&[], Some("debug, ops"));
        assert_eq!(debug, ["debug", "ops"]);
        assert_eq!(
            names(select(&p, &debug, &[], true).unwrap()),
            ["db", "debug", "mail", "web"]
        );
        assert_eq!(
            select(&p, &["*".into()], &[], true).unwrap().len(),
            4,
            "`*` enables every profile"
        );
    }

    #[test]
    fn naming_a_service_enables_it_and_its_dependencies() {
        let p = project();
        assert_eq!(
            names(select(&p, &[], &["debug".into()], true).unwrap()),
            ["db", "debug", "web"]
        );
        assert_eq!(
            names(select(&p, &[], &["debug".into()], false).unwrap()),
            ["debug"]
        );
        assert_eq!(
            select(&p, &[], &["nope".into()], true)
                .unwrap_err()
                .to_string(),
            "no such service: `nope`"
        );
    }
}
