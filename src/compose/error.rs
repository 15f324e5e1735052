//! Errors and warnings of the compose loader. Every error that comes from a file names the
//! file, the line and the key path: `compose.yaml:7: services.web.ports[0]: invalid port "abc"`.

use std::fmt;

use super::dotenv::DotenvError;
use super::interpolate::InterpolationError;
use super::yaml::YamlError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ComposeError {
    #[error("{file}:{line}: {source}")]
    Yaml {
        file: String,
        line: usize,
        source: YamlError,
    },
    #[error("{file}: empty compose file")]
    Empty { file: String },
    #[error("{file}:{line}: {path}: {problem}")]
    Invalid {
        file: String,
        line: usize,
        /// Dotted key path, `[n]` for list items; empty for the document itself.
        path: String,
        problem: Problem,
    },
    #[error(
        "project name must not be empty: set `name:` in the compose file or pass a project name"
    )]
    NoProjectName,
    #[error("invalid project name {name:?}: it must contain only lowercase letters, digits, dashes and underscores, and start with a letter or digit")]
    InvalidProjectName { name: String },
    #[error("service {service:?} depends on undefined service {dependency:?}")]
    UndefinedDependency { service: String, dependency: String },
    #[error("service {service:?} refers to undefined {kind} {name:?}")]
    UndefinedResource {
        service: String,
        kind: &'static str,
        name: String,
    },
    #[error("service {service:?} has neither an image nor a build context specified")]
    NoImageOrBuild { service: String },
    #[error("service {service} declares mutually exclusive `network_mode` and `networks`")]
    NetworkModeAndNetworks { service: String },
    #[error("dependency cycle detected: {}", .cycle.join(" -> "))]
    DependencyCycle { cycle: Vec<String> },
    #[error("service {service:?}: env file {path} not found")]
    EnvFileMissing { service: String, path: String },
    #[error("{file}:{source}")]
    Dotenv { file: String, source: DotenvError },
}

/// What is wrong with a value in a compose file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("must be a {0}")]
    WrongType(Expected),
    #[error("non-string key {0:?}")]
    NonStringKey(String),
    #[error("missing property {0:?}")]
    Missing(&'static str),
    #[error("invalid {what} {value:?}{}", hint(.reason))]
    InvalidValue {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("conflicting parameters {0:?} and {1:?} specified")]
    Conflict(&'static str, &'static str),
    #[error("unknown top-level key {0:?}: compose files of format v1 (services at the top level) are not supported")]
    V1Format(String),
    #[error("{0}")]
    Interpolation(InterpolationError),
}

fn hint(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}

/// The type a value should have had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Mapping,
    String,
    Sequence,
    StringOrSequence,
    Boolean,
    Integer,
    /// A scalar: boolean, null, number or string.
    Scalar,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Mapping => "mapping",
            Expected::String => "string",
            Expected::Sequence => "list",
            Expected::StringOrSequence => "string or a list",
            Expected::Boolean => "boolean",
            Expected::Integer => "non-negative integer",
            Expected::Scalar => "boolean, null, number or string",
        })
    }
}

/// Something accepted but probably not what the author meant (e.g. an unknown key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub file: String,
    pub line: usize,
    pub path: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.path, self.message
        )
    }
}
