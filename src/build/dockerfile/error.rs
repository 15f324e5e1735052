//! The one error type of the Dockerfile parser. Every variant names the
//! Dockerfile line (1-based); the caller adds the file name.

use super::expand::ExpandError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerfileError {
    #[error("line {line}: file with no instructions")]
    NoInstructions { line: usize },

    #[error("line {line}: dockerfile line greater than max allowed size of {max}")]
    LineTooLong { line: usize, max: usize },

    #[error("line {line}: invalid escape token `{value}` does not match ` or \\")]
    InvalidEscapeToken { line: usize, value: String },

    #[error("line {line}: only one {name} parser directive can be used")]
    DuplicateDirective { line: usize, name: String },

    #[error("line {line}: unterminated heredoc `{name}`\n\nhint: end the heredoc with a line containing only `{name}`")]
    UnterminatedHeredoc { line: usize, name: String },

    #[error("line {line}: invalid heredoc: {source}")]
    BadHeredoc {
        line: usize,
        #[source]
        source: ExpandError,
    },

    #[error("line {line}: when using JSON array syntax, arrays must be comprised of strings only")]
    NotStringArray { line: usize },

    #[error("line {line}: {instruction} must have two arguments")]
    MissingValue { line: usize, instruction: String },

    #[error(
        "line {line}: syntax error - can't find = in {word:?}. Must be of the form: name=value"
    )]
    MissingEquals { line: usize, word: String },

    #[error("line {line}: unknown instruction: {instruction}{}", suggestion_hint(.suggestion))]
    UnknownInstruction {
        line: usize,
        instruction: String,
        suggestion: Option<String>,
    },

    #[error("line {line}: {instruction} requires exactly one argument")]
    ExactlyOneArgument { line: usize, instruction: String },

    #[error("line {line}: {instruction} requires at least one argument")]
    AtLeastOneArgument { line: usize, instruction: String },

    #[error(
        "line {line}: {instruction} requires at least two arguments, but only one was provided. Destination could not be determined"
    )]
    NoDestination { line: usize, instruction: String },

    #[error("line {line}: {instruction} cannot accept a heredoc as a destination")]
    HeredocDestination { line: usize, instruction: String },

    #[error("line {line}: {instruction} names can not be blank")]
    BlankName { line: usize, instruction: String },

    #[error("line {line}: bad input to {instruction}, too many arguments")]
    TooManyArguments { line: usize, instruction: String },

    #[error("line {line}: unknown flag: {flag}{}", suggestion_hint(.suggestion))]
    UnknownFlag {
        line: usize,
        flag: String,
        suggestion: Option<String>,
    },

    #[error("line {line}: flag should start with -- : {arg}")]
    BadFlagSyntax { line: usize, arg: String },

    #[error("line {line}: duplicate flag specified: {flag}")]
    DuplicateFlag { line: usize, flag: String },

    #[error("line {line}: missing a value on flag: {flag}")]
    MissingFlagValue { line: usize, flag: String },

    #[error("line {line}: expecting boolean value for flag {flag}, not: {value}")]
    BadBoolFlag {
        line: usize,
        flag: String,
        value: String,
    },

    #[error("line {line}: FROM requires either one or three arguments")]
    FromArguments { line: usize },

    #[error("line {line}: invalid name for build stage: {name:?}, name can't start with a number or contain symbols")]
    InvalidStageName { line: usize, name: String },

    #[error("line {line}: chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")]
    OnbuildChain { line: usize },

    #[error("line {line}: {trigger} isn't allowed as an ONBUILD trigger")]
    OnbuildTrigger { line: usize, trigger: String },

    #[error("line {line}: HEALTHCHECK NONE takes no arguments")]
    HealthcheckNoneArguments { line: usize },

    #[error("line {line}: missing command after HEALTHCHECK CMD")]
    HealthcheckMissingCommand { line: usize },

    #[error("line {line}: unknown type {kind:?} in HEALTHCHECK (try CMD)")]
    HealthcheckType { line: usize, kind: String },

    #[error("line {line}: invalid duration {value:?} for --{flag}")]
    InvalidDuration {
        line: usize,
        flag: String,
        value: String,
    },

    #[error("line {line}: interval {flag:?} cannot be less than 1ms")]
    DurationTooShort { line: usize, flag: String },

    #[error("line {line}: invalid --retries value {value:?}: expected a non-negative integer")]
    InvalidRetries { line: usize, value: String },

    #[error("line {line}: {instruction} requires the arguments to be in JSON form\n\nhint: write it as {instruction} [\"executable\", \"arg\"]")]
    NotJson { line: usize, instruction: String },

    #[error("line {line}: VOLUME specified can not be an empty string")]
    EmptyVolume { line: usize },

    #[error(
        "line {line}: {instruction} is not supported in a --change; allowed: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL"
    )]
    ChangeNotAllowed { line: usize, instruction: String },
}

fn suggestion_hint(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean {s}?)"),
        None => String::new(),
    }
}

impl DockerfileError {
    /// The 1-based Dockerfile line the error refers to.
    pub fn line(&self) -> usize {
        use DockerfileError::*;
        match self {
            NoInstructions { line }
            | LineTooLong { line, .. }
            | InvalidEscapeToken { line, .. }
            | DuplicateDirective { line, .. }
            | UnterminatedHeredoc { line, .. }
            | BadHeredoc { line, .. }
            | NotStringArray { line }
            | MissingValue { line, .. }
            | MissingEquals { line, .. }
            | UnknownInstruction { line, .. }
            | ExactlyOneArgument { line, .. }
            | AtLeastOneArgument { line, .. }
            | NoDestination { line, .. }
            | HeredocDestination { line, .. }
            | BlankName { line, .. }
            | TooManyArguments { line, .. }
            | UnknownFlag { line, .. }
            | BadFlagSyntax { line, .. }
            | DuplicateFlag { line, .. }
            | MissingFlagValue { line, .. }
            | BadBoolFlag { line, .. }
            | FromArguments { line }
            | InvalidStageName { line, .. }
            | OnbuildChain { line }
            | OnbuildTrigger { line, .. }
            | HealthcheckNoneArguments { line }
            | HealthcheckMissingCommand { line }
            | HealthcheckType { line, .. }
            | InvalidDuration { line, .. }
            | DurationTooShort { line, .. }
            | InvalidRetries { line, .. }
            | NotJson { line, .. }
            | EmptyVolume { line }
            | ChangeNotAllowed { line, .. } => *line,
        }
    }
}
