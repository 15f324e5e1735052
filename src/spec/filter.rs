//! `ps --filter KEY=VALUE` (pure): values of one key are alternatives,
//! different keys must all match (Docker's rule).

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("invalid filter `{0}`: expected KEY=VALUE")]
    Syntax(String),
    #[error(
        "invalid filter `{0}`: devbox filters on status, name, id, label, exited and ancestor"
    )]
    UnknownKey(String),
    #[error("invalid filter `exited={0}`: not a number")]
    BadExitCode(String),
}

const KEYS: &[&str] = &[
    "status", "name", "id", "label", "exited", "ancestor", "health",
];

/// What a filter looks at in one container.
pub struct FilterFacts<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub status: &'a str,
    pub exit_code: Option<i32>,
    pub labels: &'a BTreeMap<String, String>,
    /// The image as the user named it, and its id.
    pub image: &'a str,
    pub image_id: &'a str,
    /// `starting`, `healthy`, `unhealthy`, or `none` without a healthcheck.
    pub health: &'a str,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerFilter {
    by_key: BTreeMap<String, Vec<String>>,
}

impl ContainerFilter {
    pub fn parse(items: &[String]) -> Result<ContainerFilter, FilterError> {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for item in items {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| FilterError::Syntax(item.clone()))?;
            if !KEYS.contains(&key) {
                return Err(FilterError::UnknownKey(item.clone()));
            }
            if key == "exited" && value.parse::<i32>().is_err() {
                return Err(FilterError::BadExitCode(value.into()));
            }
            by_key.entry(key.into()).or_default().push(value.into());
        }
        Ok(ContainerFilter { by_key })
    }

    /// Filters on status or exit code look at stopped containers too.
    pub fn names_status(&self) -> bool {
        self.by_key.contains_key("status") || self.by_key.contains_key("exited")
    }

    pub fn matches(&self, c: &FilterFacts) -> bool {
        self.by_key.iter().all(|(key, values)| {
            values.iter().any(|v| match key.as_str() {
                "status" => c.status == v,
                "name" => c.name.contains(v.trim_start_matches('/')),
                "id" => c.id.starts_with(v.as_str()),
                "label" => match v.split_once('=') {
                    Some((k, want)) => c.labels.get(k).is_some_and(|have| have == want),
                    None => c.labels.contains_key(v),
                },
                "exited" => c.status == "exited" && c.exit_code == v.parse().ok(),
                "ancestor" => {
                    c.image == v
                        || c.image.strip_suffix(":latest") == Some(v.as_str())
                        || c.image_id
                            .trim_start_matches("sha256:")
                            .starts_with(v.trim_start_matches("sha256:"))
                }
                "health" => c.health == v,
                _ => false,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(labels: &'a BTreeMap<String, String>) -> FilterFacts<'a> {
        FilterFacts {
            id: "abcdef0123",
            name: "web_1",
            status: "exited",
            exit_code: Some(3),
            labels,
            image: "busybox:latest",
            image_id: "sha256:ffee",
            health: "none",
        }
    }

    fn f(items: &[&str]) -> ContainerFilter {
        ContainerFilter::parse(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn keys_and_alternatives() {
        let labels = BTreeMap::from([("tier".to_string(), "web".to_string())]);
        let c = facts(&labels);
        assert!(f(&[]).matches(&c));
        assert!(f(&["status=exited"]).matches(&c));
        assert!(f(&["status=running", "status=exited"]).matches(&c));
        assert!(!f(&["status=exited", "name=db"]).matches(&c));
        assert!(f(&["name=web", "id=abc"]).matches(&c));
        assert!(f(&["label=tier", "label=tier=web"]).matches(&c));
        assert!(!f(&["label=tier=db"]).matches(&c));
        assert!(f(&["exited=3"]).matches(&c));
        assert!(!f(&["exited=0"]).matches(&c));
        assert!(f(&["ancestor=busybox"]).matches(&c));
        assert!(f(&["ancestor=ffee"]).matches(&c));
        assert!(f(&["status=exited"]).names_status());
        assert!(f(&["health=none"]).matches(&c));
        assert!(!f(&["health=healthy"]).matches(&c));
    }

    #[test]
    fn bad_filters_are_errors() {
        let p = |s: &str| ContainerFilter::parse(&[s.to_string()]);
        assert!(matches!(p("status"), Err(FilterError::Syntax(_))));
        assert!(matches!(p("color=red"), Err(FilterError::UnknownKey(_))));
        assert!(matches!(p("exited=x"), Err(FilterError::BadExitCode(_))));
    }
}
