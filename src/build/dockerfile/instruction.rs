//! AST [`Node`]s → typed [`Instruction`]s, with BuildKit's checks: argument
//! counts, known flags per instruction, ONBUILD triggers, heredoc placement,
//! HEALTHCHECK durations.

use std::time::Duration;

use super::error::DockerfileError;
use super::lexer::{self, Heredoc};
use super::parser::{self, Ast, Node};

/// All instruction keywords, upper case.
pub const INSTRUCTIONS: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// The instructions `--change` accepts (Docker's `import`/`commit` set).
pub const CHANGE_INSTRUCTIONS: [&str; 10] = [
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "USER",
    "VOLUME",
    "WORKDIR",
    "STOPSIGNAL",
];

/// One typed Dockerfile instruction. Words are as written: variables are not
/// expanded and quotes are not removed here (see `expand.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    From(From),
    Run(Run),
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    Shell(Vec<String>),
    Copy(Copy),
    Add(Add),
    Workdir(String),
    Env(Vec<KeyValue>),
    Arg(Vec<ArgDecl>),
    Label(Vec<KeyValue>),
    User(String),
    Expose(Vec<String>),
    Volume(Vec<String>),
    StopSignal(String),
    Healthcheck(Healthcheck),
    /// The trigger text, e.g. `RUN make` (heredoc bodies appended).
    Onbuild(String),
    Maintainer(String),
}

/// `FROM [--platform=p] image [AS name]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    pub image: String,
    /// Lower-cased stage name.
    pub stage_name: Option<String>,
    pub platform: Option<String>,
    /// Doc comment: a comment line above starting with the stage name.
    pub comment: String,
}

/// A command in exec form (`["a", "b"]`) or shell form (`a b`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandLine {
    /// Exec form: the words; shell form: one element, the command text.
    pub args: Vec<String>,
    /// Shell form: run through the image's shell.
    pub prepend_shell: bool,
    /// Heredoc bodies attached to the command (not chomped; see `chomp`).
    pub files: Vec<InlineFile>,
}

/// A heredoc attached to RUN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineFile {
    pub name: String,
    pub data: String,
    /// `<<-`: leading tabs are to be stripped.
    pub chomp: bool,
}

/// `RUN [--mount=...]... [--network=...] [--security=...] command`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub command: CommandLine,
    /// Each `--mount` value, in order (not yet parsed).
    pub mounts: Vec<String>,
    pub network: Option<String>,
    pub security: Option<String>,
    /// Names of the flags given (e.g. `mount`), in order of first use.
    pub flags_used: Vec<String>,
}

/// The sources and destination of COPY / ADD.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourcesAndDest {
    pub dest: String,
    pub source_paths: Vec<String>,
    /// Heredoc sources: inline contents (chomped for `<<-`).
    pub source_contents: Vec<SourceContent>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceContent {
    pub path: String,
    pub data: String,
    pub expand: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    pub files: SourcesAndDest,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Add {
    pub files: SourcesAndDest,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub keep_git_dir: bool,
    pub checksum: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// One `ARG name[=default]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub key: String,
    pub default: Option<String>,
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: disable the image's check.
    None,
    Check(HealthConfig),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HealthConfig {
    /// `["CMD", args...]` (exec form) or `["CMD-SHELL", command]`.
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
    pub retries: Option<u32>,
}

/// A typed instruction with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub instruction: Instruction,
    pub start_line: usize,
    pub end_line: usize,
    /// The logical source line.
    pub original: String,
}

/// Converts every node of `ast`, stopping at the first error.
pub fn parse_instructions(ast: &Ast) -> Result<Vec<Step>, DockerfileError> {
    ast.nodes
        .iter()
        .map(|node| {
            Ok(Step {
                instruction: parse_instruction(node)?,
                start_line: node.start_line,
                end_line: node.end_line,
                original: node.original.clone(),
            })
        })
        .collect()
}

/// Parses a Dockerfile into typed steps (parser + instruction stage).
pub fn parse_dockerfile(text: &str) -> Result<Vec<Step>, DockerfileError> {
    parse_instructions(&parser::parse(text)?)
}

/// Parses one instruction given to `import --change` / `commit --change`.
pub fn parse_change(text: &str) -> Result<Instruction, DockerfileError> {
    let ast = parser::parse(text)?;
    let node = &ast.nodes[0];
    let keyword = node.keyword.to_ascii_uppercase();
    if !CHANGE_INSTRUCTIONS.contains(&keyword.as_str()) {
        return Err(DockerfileError::ChangeNotAllowed {
            line: node.start_line,
            instruction: node.keyword.clone(),
        });
    }
    if let Some(extra) = ast.nodes.get(1) {
        return Err(DockerfileError::TooManyArguments {
            line: extra.start_line,
            instruction: "--change".to_string(),
        });
    }
    parse_instruction(node)
}

/// The arguments of a node, with an ONBUILD trigger flattened in.
fn node_args(node: &Node) -> Vec<String> {
    match &node.sub {
        Some(sub) => {
            let mut out = vec![sub.keyword.clone()];
            out.extend(node_args(sub));
            out
        }
        None => node.args.clone(),
    }
}

/// Converts one AST node into a typed instruction.
pub fn parse_instruction(node: &Node) -> Result<Instruction, DockerfileError> {
    let req = Request {
        line: node.start_line,
        args: node_args(node),
        node,
    };
    let keyword = node.keyword.to_ascii_uppercase();
    match keyword.as_str() {
        "ENV" => {
            req.flags(&[])?;
            Ok(Instruction::Env(req.key_values("ENV")?))
        }
        "LABEL" => {
            req.flags(&[])?;
            Ok(Instruction::Label(req.key_values("LABEL")?))
        }
        "MAINTAINER" => {
            let v = req.exactly_one("MAINTAINER")?;
            req.flags(&[])?;
            Ok(Instruction::Maintainer(v))
        }
        "WORKDIR" => {
            let v = req.exactly_one("WORKDIR")?;
            req.flags(&[])?;
            Ok(Instruction::Workdir(v))
        }
        "USER" => {
            let v = req.exactly_one("USER")?;
            req.flags(&[])?;
            Ok(Instruction::User(v))
        }
        "STOPSIGNAL" => {
            let v = req.exactly_one("STOPSIGNAL")?;
            req.flags(&[])?;
            Ok(Instruction::StopSignal(v))
        }
        "ADD" => parse_add(&req),
        "COPY" => parse_copy(&req),
        "FROM" => parse_from(&req),
        "ONBUILD" => parse_onbuild(&req),
        "RUN" => parse_run(&req),
        "CMD" => {
            req.flags(&[])?;
            Ok(Instruction::Cmd(req.command_line()))
        }
        "ENTRYPOINT" => {
            req.flags(&[])?;
            Ok(Instruction::Entrypoint(req.command_line()))
        }
        "SHELL" => {
            req.flags(&[])?;
            if req.args.is_empty() {
                return Err(req.at_least_one("SHELL"));
            }
            if !node.json {
                return Err(DockerfileError::NotJson {
                    line: req.line,
                    instruction: "SHELL".to_string(),
                });
            }
            Ok(Instruction::Shell(req.args.clone()))
        }
        "HEALTHCHECK" => parse_healthcheck(&req),
        "EXPOSE" => {
            if req.args.is_empty() {
                return Err(req.at_least_one("EXPOSE"));
            }
            req.flags(&[])?;
            let mut ports = req.args.clone();
            ports.sort();
            Ok(Instruction::Expose(ports))
        }
        "VOLUME" => {
            if req.args.is_empty() {
                return Err(req.at_least_one("VOLUME"));
            }
            req.flags(&[])?;
            let mut volumes = Vec::new();
            for v in &req.args {
                let v = v.trim();
                if v.is_empty() {
                    return Err(DockerfileError::EmptyVolume { line: req.line });
                }
                volumes.push(v.to_string());
            }
            Ok(Instruction::Volume(volumes))
        }
        "ARG" => parse_arg(&req),
        _ => Err(DockerfileError::UnknownInstruction {
            line: req.line,
            instruction: node.keyword.clone(),
            suggestion: suggest(&keyword, INSTRUCTIONS.iter().copied()),
        }),
    }
}

struct Request<'a> {
    line: usize,
    args: Vec<String>,
    node: &'a Node,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FlagKind {
    Bool,
    String,
    /// May be repeated; every value is kept.
    Strings,
}

/// Parsed flag values: (name, values) in declaration order.
struct Flags {
    values: Vec<(&'static str, Vec<String>)>,
    used: Vec<String>,
}

impl Flags {
    fn string(&self, name: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.last().cloned())
    }

    fn strings(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    fn bool(&self, name: &str) -> bool {
        self.string(name).as_deref() == Some("true")
    }
}

impl Request<'_> {
    /// Checks the node's flags against `known` and returns their values.
    fn flags(&self, known: &[(&'static str, FlagKind)]) -> Result<Flags, DockerfileError> {
        let mut flags = Flags {
            values: known.iter().map(|(n, _)| (*n, Vec::new())).collect(),
            used: Vec::new(),
        };
        for arg in &self.node.flags {
            if arg == "--" {
                break;
            }
            let Some(body) = arg.strip_prefix("--") else {
                return Err(DockerfileError::BadFlagSyntax {
                    line: self.line,
                    arg: arg.clone(),
                });
            };
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let flag_name = format!("--{name}");
            let Some(idx) = known.iter().position(|(n, _)| *n == name) else {
                return Err(DockerfileError::UnknownFlag {
                    line: self.line,
                    flag: flag_name,
                    suggestion: suggest(name, known.iter().map(|(n, _)| *n))
                        .map(|s| format!("--{s}")),
                });
            };
            let kind = known[idx].1;
            let already = flags.used.iter().any(|u| u == name);
            if already && kind != FlagKind::Strings {
                return Err(DockerfileError::DuplicateFlag {
                    line: self.line,
                    flag: flag_name,
                });
            }
            if !already {
                flags.used.push(name.to_string());
            }
            let value = match kind {
                FlagKind::Bool => match value.map(str::to_ascii_lowercase).as_deref() {
                    None | Some("true") => "true".to_string(),
                    Some("false") => "false".to_string(),
                    Some("") => {
                        return Err(DockerfileError::MissingFlagValue {
                            line: self.line,
                            flag: flag_name,
                        })
                    }
                    Some(_) => {
                        return Err(DockerfileError::BadBoolFlag {
                            line: self.line,
                            flag: flag_name,
                            value: value.unwrap_or_default().to_string(),
                        })
                    }
                },
                FlagKind::String | FlagKind::Strings => match value {
                    Some(v) => v.to_string(),
                    None => {
                        return Err(DockerfileError::MissingFlagValue {
                            line: self.line,
                            flag: flag_name,
                        })
                    }
                },
            };
            flags.values[idx].1.push(value);
        }
        Ok(flags)
    }

    fn exactly_one(&self, instruction: &str) -> Result<String, DockerfileError> {
        match self.args.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(DockerfileError::ExactlyOneArgument {
                line: self.line,
                instruction: instruction.to_string(),
            }),
        }
    }

    fn at_least_one(&self, instruction: &str) -> DockerfileError {
        DockerfileError::AtLeastOneArgument {
            line: self.line,
            instruction: instruction.to_string(),
        }
    }

    /// ENV / LABEL triples (key, value, separator) → pairs.
    fn key_values(&self, instruction: &str) -> Result<Vec<KeyValue>, DockerfileError> {
        if self.args.is_empty() {
            return Err(self.at_least_one(instruction));
        }
        key_values_from_nodes(&self.args, instruction, self.line)
    }

    fn command_line(&self) -> CommandLine {
        CommandLine {
            args: self.args.clone(),
            prepend_shell: !self.node.json,
            files: self
                .node
                .heredocs
                .iter()
                .map(|h| InlineFile {
                    name: h.name.clone(),
                    data: h.content.clone(),
                    chomp: h.chomp,
                })
                .collect(),
        }
    }

    fn sources_and_dest(&self, instruction: &str) -> Result<SourcesAndDest, DockerfileError> {
        let Some((dest, sources)) = self.args.split_last() else {
            return Err(DockerfileError::NoDestination {
                line: self.line,
                instruction: instruction.to_string(),
            });
        };
        if matches!(lexer::parse_heredoc(dest), Ok(Some(_))) {
            return Err(DockerfileError::HeredocDestination {
                line: self.line,
                instruction: instruction.to_string(),
            });
        }
        let mut out = SourcesAndDest {
            dest: dest.clone(),
            ..SourcesAndDest::default()
        };
        for src in sources {
            match lexer::parse_heredoc(src) {
                Ok(Some(marker)) => {
                    let content = find_heredoc(&self.node.heredocs, &marker.name)
                        .map(|h| h.content.clone())
                        .unwrap_or_default();
                    let data = if marker.chomp {
                        lexer::chomp_heredoc_content(&content)
                    } else {
                        content
                    };
                    out.source_contents.push(SourceContent {
                        path: marker.name,
                        data,
                        expand: marker.expand,
                    });
                }
                _ => out.source_paths.push(src.clone()),
            }
        }
        Ok(out)
    }
}

/// The last heredoc with that name (later ones win, as with a Go map).
fn find_heredoc<'h>(heredocs: &'h [Heredoc], name: &str) -> Option<&'h Heredoc> {
    heredocs.iter().rev().find(|h| h.name == name)
}

/// (key, value, separator) triples from the parser → key/value pairs.
pub fn key_values_from_nodes(
    args: &[String],
    instruction: &str,
    line: usize,
) -> Result<Vec<KeyValue>, DockerfileError> {
    if args.is_empty() {
        return Err(DockerfileError::AtLeastOneArgument {
            line,
            instruction: instruction.to_string(),
        });
    }
    if !args.len().is_multiple_of(3) {
        return Err(DockerfileError::TooManyArguments {
            line,
            instruction: instruction.to_string(),
        });
    }
    args.chunks(3)
        .map(|t| {
            if t[0].is_empty() {
                return Err(DockerfileError::BlankName {
                    line,
                    instruction: instruction.to_string(),
                });
            }
            Ok(KeyValue {
                key: t[0].clone(),
                value: t[1].clone(),
            })
        })
        .collect()
}

fn parse_add(req: &Request) -> Result<Instruction, DockerfileError> {
    if req.args.len() < 2 {
        return Err(DockerfileError::NoDestination {
            line: req.line,
            instruction: "ADD".to_string(),
        });
    }
    let flags = req.flags(&[
        ("chown", FlagKind::String),
        ("chmod", FlagKind::String),
        ("link", FlagKind::Bool),
        ("keep-git-dir", FlagKind::Bool),
        ("checksum", FlagKind::String),
    ])?;
    Ok(Instruction::Add(Add {
        files: req.sources_and_dest("ADD")?,
        chown: flags.string("chown"),
        chmod: flags.string("chmod"),
        link: flags.bool("link"),
        keep_git_dir: flags.bool("keep-git-dir"),
        checksum: flags.string("checksum"),
    }))
}

fn parse_copy(req: &Request) -> Result<Instruction, DockerfileError> {
    if req.args.len() < 2 {
        return Err(DockerfileError::NoDestination {
            line: req.line,
            instruction: "COPY".to_string(),
        });
    }
    let flags = req.flags(&[
        ("chown", FlagKind::String),
        ("from", FlagKind::String),
        ("chmod", FlagKind::String),
        ("link", FlagKind::Bool),
    ])?;
    Ok(Instruction::Copy(Copy {
        files: req.sources_and_dest("COPY")?,
        from: flags.string("from"),
        chown: flags.string("chown"),
        chmod: flags.string("chmod"),
        link: flags.bool("link"),
    }))
}

fn is_valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn parse_from(req: &Request) -> Result<Instruction, DockerfileError> {
    let stage_name = match req.args.as_slice() {
        [_, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            if !is_valid_stage_name(&lower) {
                return Err(DockerfileError::InvalidStageName {
                    line: req.line,
                    name: name.clone(),
                });
            }
            Some(lower)
        }
        [_] => None,
        _ => return Err(DockerfileError::FromArguments { line: req.line }),
    };
    let flags = req.flags(&[("platform", FlagKind::String)])?;
    let comment = stage_name
        .as_deref()
        .map(|n| doc_comment(&req.node.prev_comment, n))
        .unwrap_or_default();
    Ok(Instruction::From(From {
        image: req.args[0].clone(),
        stage_name,
        platform: flags.string("platform"),
        comment,
    }))
}

/// The comment line starting with `name ` , without that prefix.
fn doc_comment(comments: &[String], name: &str) -> String {
    if name.is_empty() {
        return String::new();
    }
    let prefix = format!("{name} ");
    comments
        .iter()
        .find_map(|c| c.strip_prefix(&prefix))
        .unwrap_or_default()
        .to_string()
}

fn parse_onbuild(req: &Request) -> Result<Instruction, DockerfileError> {
    let Some(first) = req.args.first() else {
        return Err(req.at_least_one("ONBUILD"));
    };
    req.flags(&[])?;
    let trigger = first.trim().to_ascii_uppercase();
    match trigger.as_str() {
        "ONBUILD" => return Err(DockerfileError::OnbuildChain { line: req.line }),
        "MAINTAINER" | "FROM" => {
            return Err(DockerfileError::OnbuildTrigger {
                line: req.line,
                trigger,
            })
        }
        _ => {}
    }
    let original = req.node.original.trim_start();
    let mut expression = match original.get(..7) {
        Some(kw) if kw.eq_ignore_ascii_case("onbuild") => original[7..].trim_start().to_string(),
        _ => original.to_string(),
    };
    for h in &req.node.heredocs {
        expression.push('\n');
        expression.push_str(&h.content);
        expression.push_str(&h.name);
    }
    Ok(Instruction::Onbuild(expression))
}

fn parse_run(req: &Request) -> Result<Instruction, DockerfileError> {
    let flags = req.flags(&[
        ("mount", FlagKind::Strings),
        ("network", FlagKind::String),
        ("security", FlagKind::String),
    ])?;
    Ok(Instruction::Run(Run {
        command: req.command_line(),
        mounts: flags.strings("mount"),
        network: flags.string("network"),
        security: flags.string("security"),
        flags_used: flags.used.clone(),
    }))
}

fn parse_healthcheck(req: &Request) -> Result<Instruction, DockerfileError> {
    let Some(kind) = req.args.first() else {
        return Err(req.at_least_one("HEALTHCHECK"));
    };
    let kind = kind.to_ascii_uppercase();
    let rest = &req.args[1..];
    if kind == "NONE" {
        if !rest.is_empty() {
            return Err(DockerfileError::HealthcheckNoneArguments { line: req.line });
        }
        return Ok(Instruction::Healthcheck(Healthcheck::None));
    }
    let flags = req.flags(&[
        ("interval", FlagKind::String),
        ("timeout", FlagKind::String),
        ("start-period", FlagKind::String),
        ("start-interval", FlagKind::String),
        ("retries", FlagKind::String),
    ])?;
    if kind != "CMD" {
        return Err(DockerfileError::HealthcheckType {
            line: req.line,
            kind,
        });
    }
    if rest.is_empty() {
        return Err(DockerfileError::HealthcheckMissingCommand { line: req.line });
    }
    let mut test = vec![if req.node.json { "CMD" } else { "CMD-SHELL" }.to_string()];
    test.extend(rest.iter().cloned());
    let interval = |name: &str| -> Result<Option<Duration>, DockerfileError> {
        match flags.string(name) {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => parse_interval(&v, name, req.line),
        }
    };
    let retries = match flags.string("retries") {
        None => None,
        Some(v) if v.is_empty() => None,
        Some(v) => Some(
            v.parse::<u32>()
                .map_err(|_| DockerfileError::InvalidRetries {
                    line: req.line,
                    value: v.clone(),
                })?,
        ),
    };
    Ok(Instruction::Healthcheck(Healthcheck::Check(HealthConfig {
        test,
        interval: interval("interval")?,
        timeout: interval("timeout")?,
        start_period: interval("start-period")?,
        start_interval: interval("start-interval")?,
        retries,
    })))
}

/// A HEALTHCHECK duration: 0 is allowed, otherwise at least 1ms.
fn parse_interval(
    value: &str,
    flag: &str,
    line: usize,
) -> Result<Option<Duration>, DockerfileError> {
    let d = parse_go_duration(value).ok_or_else(|| DockerfileError::InvalidDuration {
        line,
        flag: flag.to_string(),
        value: value.to_string(),
    })?;
    if d.is_zero() {
        return Ok(Some(d));
    }
    if d < Duration::from_millis(1) {
        return Err(DockerfileError::DurationTooShort {
            line,
            flag: flag.to_string(),
        });
    }
    Ok(Some(d))
}

/// Go's `time.ParseDuration` for non-negative values: `1h2m3.5s`, `300ms`,
/// `0`. Units: ns, us (µs, μs), ms, s, m, h.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.is_empty() || s.starts_with('-') {
        return None;
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..num_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * nanos_per;
    }
    if total > u64::MAX as f64 {
        return None;
    }
    Some(Duration::from_nanos(total.round() as u64))
}

fn parse_arg(req: &Request) -> Result<Instruction, DockerfileError> {
    if req.args.is_empty() {
        return Err(req.at_least_one("ARG"));
    }
    let mut decls = Vec::new();
    for arg in &req.args {
        let (key, default) = match arg.split_once('=') {
            Some((k, v)) => {
                if k.is_empty() {
                    return Err(DockerfileError::BlankName {
                        line: req.line,
                        instruction: "ARG".to_string(),
                    });
                }
                (k.to_string(), Some(v.to_string()))
            }
            None => (arg.clone(), None),
        };
        let comment = doc_comment(&req.node.prev_comment, &key);
        decls.push(ArgDecl {
            key,
            default,
            comment,
        });
    }
    Ok(Instruction::Arg(decls))
}

/// The closest candidate by edit distance (at most half the length).
fn suggest<'a>(input: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let input = input.to_ascii_lowercase();
    let max = (input.chars().count() / 2).max(1);
    candidates
        .map(|c| (levenshtein(&input, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= max && *d > 0)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(text: &str) -> Result<Instruction, DockerfileError> {
        let ast = parser::parse(text)?;
        parse_instruction(&ast.nodes[0])
    }

    #[test]
    fn from_with_platform_and_stage() {
        let Instruction::From(f) =
            first("FROM --platform=linux/amd64 python:3.12 AS Build").unwrap()
        else {
            panic!("not FROM");
        };
        assert_eq!(f.image, "python:3.12");
        assert_eq!(f.stage_name.as_deref(), Some("build"));
        assert_eq!(f.platform.as_deref(), Some("linux/amd64"));
    }

    #[test]
    fn copy_flags() {
        let Instruction::Copy(c) =
            first("COPY --from=build --chown=1:1 --chmod=755 --link a b /dst/").unwrap()
        else {
            panic!("not COPY");
        };
        assert_eq!(c.files.source_paths, ["a", "b"]);
        assert_eq!(c.files.dest, "/dst/");
        assert_eq!(
            (
                c.from.as_deref(),
                c.chown.as_deref(),
                c.chmod.as_deref(),
                c.link
            ),
            (Some("build"), Some("1:1"), Some("755"), true)
        );
    }

    #[test]
    fn run_keeps_mounts() {
        let Instruction::Run(r) = first(
            "RUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t --network=none make",
        )
        .unwrap() else {
            panic!("not RUN");
        };
        assert_eq!(r.mounts.len(), 2);
        assert_eq!(r.network.as_deref(), Some("none"));
        assert_eq!(r.command.args, ["make"]);
        assert!(r.command.prepend_shell);
    }

    #[test]
    fn errors_name_the_line_and_suggest() {
        let err = parse_dockerfile("FROM a\nRUNN echo\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: unknown instruction: RUNN (did you mean RUN?)"
        );
        let err = first("COPY --form=x a b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: unknown flag: --form (did you mean --from?)"
        );
    }

    #[test]
    fn healthcheck_shell_form() {
        let Instruction::Healthcheck(Healthcheck::Check(h)) =
            first("HEALTHCHECK --interval=30s --retries=3 CMD curl -f x").unwrap()
        else {
            panic!("not HEALTHCHECK");
        };
        assert_eq!(h.test, ["CMD-SHELL", "curl -f x"]);
        assert_eq!(h.interval, Some(Duration::from_secs(30)));
        assert_eq!(h.retries, Some(3));
        assert!(first("HEALTHCHECK --timeout=50ns CMD x").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_go_duration("1h2m3.5s"),
            Some(Duration::from_millis(3_723_500))
        );
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(parse_go_duration("-1s"), None);
    }

    #[test]
    fn change_lines() {
        assert_eq!(
            parse_change(r#"CMD ["sh"]"#).unwrap(),
            Instruction::Cmd(CommandLine {
                args: vec!["sh".to_string()],
                prepend_shell: false,
                files: vec![],
            })
        );
        let err = parse_change("RUN make").unwrap_err();
        assert!(
            err.to_string().contains("allowed: CMD, ENTRYPOINT"),
            "{err}"
        );
    }
}
