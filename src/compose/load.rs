//! Compose files → [`Project`] (pure: file texts, an environment and a working directory in).
//!
//! Steps: parse each file into a spanned tree ([`super::yaml`]), interpolate every scalar
//! value, convert to typed values (short syntaxes expanded, relative paths made absolute),
//! merge the files in order, then check cross references and the dependency order.
//!
//! Merging `-f a -f b` (later files override), per service:
//! - single values (`image`, `user`, `restart`, ...) and `command`/`entrypoint`: replaced;
//! - `build` and `healthcheck`: field by field; `build.args` by key;
//! - `environment`, `labels`, `depends_on`, `networks`: by key;
//! - `ports`: appended, exact duplicates dropped;
//! - `volumes`: by container path (`target`), new targets appended;
//! - `expose`, `profiles`, `cap_add`, `cap_drop`, `extra_hosts`, `env_file`,
//!   `develop.watch`: appended, duplicates dropped;
//! - top-level `networks`/`volumes` entries and `x-*` keys: replaced by key.
//!
//! `env_file` contents are merged into `environment` by [`Loaded::resolve_env_files`], given the
//! file texts the caller read (see [`Loaded::env_file_paths`]).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::dotenv;
use super::error::{ComposeError, Expected, Problem, Warning};
use super::interpolate::substitute;
use super::model::*;
use super::order;
use super::yaml::{self, Node, ScalarKind, Value};

/// One compose file: its display name (used in errors) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

/// Everything the loader needs; the caller does the reading.
#[derive(Debug, Clone, Default)]
pub struct LoadInput {
    /// Compose files in `-f` order.
    pub files: Vec<SourceFile>,
    /// The process environment.
    pub env: BTreeMap<String, String>,
    /// The project's `.env` file, if there is one; the process environment wins over it.
    pub dotenv: Option<SourceFile>,
    /// Relative paths in the files resolve against this directory.
    pub working_dir: PathBuf,
    /// Used when no file has `name:` (e.g. the directory name, or `-p`); normalised.
    pub default_project_name: Option<String>,
    /// `-p`: wins over `name:` in the files; normalised like the default.
    pub project_name_override: Option<String>,
    /// Skip the cross-reference checks (undefined services, networks, volumes; image or
    /// build present; `network_mode` with `networks`), like compose-go's
    /// `SkipConsistencyCheck`. Dependency cycles are always an error.
    pub skip_consistency_checks: bool,
}

/// A loaded project, its warnings, and the environment used for interpolation.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub project: Project,
    pub warnings: Vec<Warning>,
    /// Process environment over `.env`, plus `COMPOSE_PROJECT_NAME`.
    pub env: BTreeMap<String, String>,
}

/// Loads and merges `input.files`.
pub fn load(input: &LoadInput) -> Result<Loaded, ComposeError> {
    let mut env = BTreeMap::new();
    if let Some(dotenv) = &input.dotenv {
        let vars =
            dotenv::parse(&dotenv.text, &input.env).map_err(|source| ComposeError::Dotenv {
                file: dotenv.name.clone(),
                source,
            })?;
        env.extend(vars);
    }
    env.extend(input.env.iter().map(|(k, v)| (k.clone(), v.clone())));

    let mut trees = Vec::new();
    for file in &input.files {
        let tree = yaml::parse(&file.text)
            .map_err(|source| ComposeError::Yaml {
                file: file.name.clone(),
                line: source.line(),
                source,
            })?
            .ok_or_else(|| ComposeError::Empty {
                file: file.name.clone(),
            })?;
        trees.push((file, tree));
    }

    let name = project_name(input, &trees, &env)?;
    env.insert("COMPOSE_PROJECT_NAME".to_string(), name.clone());

    let mut warnings = Vec::new();
    let mut project = Project {
        name,
        ..Project::default()
    };
    for (file, mut tree) in trees {
        let mut cx = Cx {
            file: &file.name,
            warnings: &mut warnings,
            env: &env,
            working_dir: &input.working_dir,
        };
        cx.interpolate(&mut tree, "")?;
        let part = cx.project(&tree)?;
        merge_project(&mut project, part);
    }
    implicit_dependencies(&mut project);
    if !input.skip_consistency_checks {
        validate(&project)?;
    }
    order::start_order(&project)?;
    Ok(Loaded {
        project,
        warnings,
        env,
    })
}

/// `-p` > `name:` (last file wins) > the default; the file's name must already be valid.
fn project_name(
    input: &LoadInput,
    trees: &[(&SourceFile, Node)],
    env: &BTreeMap<String, String>,
) -> Result<String, ComposeError> {
    if let Some(name) = &input.project_name_override {
        return normalized_name(name);
    }
    let mut from_file = None;
    for (file, tree) in trees {
        if let Some(node) = tree.get("name") {
            let invalid = |problem| ComposeError::Invalid {
                file: file.name.clone(),
                line: node.line,
                path: "name".to_string(),
                problem,
            };
            if node.scalar_kind() != ScalarKind::String {
                return Err(invalid(Problem::WrongType(Expected::String)));
            }
            let text = node.as_text().unwrap_or_default();
            let lookup = |k: &str| env.get(k).map(String::as_str);
            let name = substitute(text, &lookup).map_err(|e| invalid(Problem::Interpolation(e)))?;
            from_file = Some(name);
        }
    }
    match from_file {
        Some(name) if !name.is_empty() => {
            if normalize_project_name(&name) != name {
                return Err(ComposeError::InvalidProjectName { name });
            }
            Ok(name)
        }
        _ => match &input.default_project_name {
            Some(name) => normalized_name(name),
            None => Err(ComposeError::NoProjectName),
        },
    }
}

fn normalized_name(name: &str) -> Result<String, ComposeError> {
    let normalized = normalize_project_name(name);
    if normalized.is_empty() {
        return Err(ComposeError::NoProjectName);
    }
    Ok(normalized)
}

/// Lowercase, keep `[a-z0-9_-]`, and drop leading `_`/`-` (compose's rule for project names).
pub fn normalize_project_name(name: &str) -> String {
    let kept: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    kept.trim_start_matches(['_', '-']).to_string()
}

impl Loaded {
    /// The env files services name, absolute, in order, with whether each is required.
    pub fn env_file_paths(&self) -> Vec<(PathBuf, bool)> {
        let mut paths: Vec<(PathBuf, bool)> = Vec::new();
        for service in self.project.services.values() {
            for f in &service.env_file {
                if !paths.iter().any(|(p, _)| p == Path::new(&f.path)) {
                    paths.push((PathBuf::from(&f.path), f.required));
                }
            }
        }
        paths
    }

    /// Merges env files into each service's `environment` and resolves bare keys.
    ///
    /// Precedence: `environment:` entries > env files (later file wins). A bare `KEY` takes
    /// the interpolation environment's value, else the env files', else stays unset.
    /// `texts` holds the files that exist; a missing required one is an error.
    pub fn resolve_env_files(
        &mut self,
        texts: &BTreeMap<PathBuf, String>,
    ) -> Result<(), ComposeError> {
        for (name, service) in &mut self.project.services {
            let mut file_texts = Vec::new();
            for f in &service.env_file {
                match texts.get(Path::new(&f.path)) {
                    Some(text) => file_texts.push((f.path.as_str(), text.as_str())),
                    None if f.required => {
                        return Err(ComposeError::EnvFileMissing {
                            service: name.clone(),
                            path: f.path.clone(),
                        })
                    }
                    None => {}
                }
            }
            let mut from_files = BTreeMap::new();
            for (path, text) in file_texts {
                let vars =
                    dotenv::parse_layered(text, &self.env, &from_files).map_err(|source| {
                        ComposeError::Dotenv {
                            file: path.to_string(),
                            source,
                        }
                    })?;
                from_files.extend(vars);
            }
            let mut environment: BTreeMap<String, Option<String>> = from_files
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect();
            for (key, value) in &service.environment {
                let resolved = match value {
                    Some(v) => Some(v.clone()),
                    None => self.env.get(key).or_else(|| from_files.get(key)).cloned(),
                };
                environment.insert(key.clone(), resolved);
            }
            service.environment = environment;
            // A bare build arg takes the environment's value too, else stays unset.
            if let Some(build) = &mut service.build {
                for (key, value) in &mut build.args {
                    if value.is_none() {
                        *value = self.env.get(key).cloned();
                    }
                }
            }
        }
        Ok(())
    }
}

/// Conversion context for one file.
struct Cx<'a> {
    file: &'a str,
    warnings: &'a mut Vec<Warning>,
    env: &'a BTreeMap<String, String>,
    working_dir: &'a Path,
}

type R<T> = Result<T, ComposeError>;

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn item(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

impl Cx<'_> {
    fn err(&self, node: &Node, path: &str, problem: Problem) -> ComposeError {
        ComposeError::Invalid {
            file: self.file.to_string(),
            line: node.line,
            path: path.to_string(),
            problem,
        }
    }

    fn invalid(&self, node: &Node, path: &str, what: &'static str, value: &str) -> ComposeError {
        self.invalid_because(node, path, what, value, "")
    }

    fn invalid_because(
        &self,
        node: &Node,
        path: &str,
        what: &'static str,
        value: &str,
        reason: &'static str,
    ) -> ComposeError {
        self.err(
            node,
            path,
            Problem::InvalidValue {
                what,
                value: value.to_string(),
                reason,
            },
        )
    }

    fn warn_unknown(&mut self, node: &Node, path: &str) {
        self.warnings.push(Warning {
            file: self.file.to_string(),
            line: node.line,
            path: path.to_string(),
            message: "unknown or unsupported key, ignored".to_string(),
        });
    }

    /// Interpolates every scalar value (not keys). Results are strings.
    fn interpolate(&self, node: &mut Node, path: &str) -> R<()> {
        let line = node.line;
        match &mut node.value {
            Value::Scalar { text, plain } => {
                if text.contains('$') {
                    let lookup = |k: &str| self.env.get(k).map(String::as_str);
                    *text = substitute(text, &lookup).map_err(|e| ComposeError::Invalid {
                        file: self.file.to_string(),
                        line,
                        path: path.to_string(),
                        problem: Problem::Interpolation(e),
                    })?;
                    *plain = false;
                }
            }
            Value::Seq(items) => {
                for (i, it) in items.iter_mut().enumerate() {
                    self.interpolate(it, &item(path, i))?;
                }
            }
            Value::Map(entries) => {
                for (k, v) in entries.iter_mut() {
                    let key = k.as_text().unwrap_or_default().to_string();
                    self.interpolate(v, &child(path, &key))?;
                }
            }
            Value::Null => {}
        }
        Ok(())
    }

    // ---- generic shapes -------------------------------------------------------------

    /// Entries of a mapping with string keys; `null` counts as empty when `null_ok`.
    fn entries<'n>(
        &self,
        node: &'n Node,
        path: &str,
        null_ok: bool,
    ) -> R<Vec<(&'n str, &'n Node)>> {
        match &node.value {
            Value::Null if null_ok => Ok(Vec::new()),
            Value::Map(entries) => entries
                .iter()
                .map(|(k, v)| match (&k.value, k.scalar_kind()) {
                    (Value::Scalar { text, .. }, ScalarKind::String) => Ok((text.as_str(), v)),
                    _ => {
                        let shown = k.as_text().unwrap_or("null").to_string();
                        Err(self.err(k, path, Problem::NonStringKey(shown)))
                    }
                })
                .collect(),
            _ => Err(self.err(node, path, Problem::WrongType(Expected::Mapping))),
        }
    }

    fn items<'n>(&self, node: &'n Node, path: &str) -> R<&'n [Node]> {
        match &node.value {
            Value::Seq(items) => Ok(items),
            Value::Null => Ok(&[]),
            _ => Err(self.err(node, path, Problem::WrongType(Expected::Sequence))),
        }
    }

    fn string(&self, node: &Node, path: &str) -> R<String> {
        match &node.value {
            Value::Scalar { text, .. } => Ok(text.clone()),
            _ => Err(self.err(node, path, Problem::WrongType(Expected::String))),
        }
    }

    fn opt_string(&self, node: &Node, path: &str) -> R<Option<String>> {
        if node.is_null() {
            return Ok(None);
        }
        self.string(node, path).map(Some)
    }

    fn bool(&self, node: &Node, path: &str) -> R<bool> {
        match node.as_text().map(str::to_ascii_lowercase).as_deref() {
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            _ => Err(self.err(node, path, Problem::WrongType(Expected::Boolean))),
        }
    }

    fn uint<T: std::str::FromStr>(&self, node: &Node, path: &str) -> R<T> {
        node.as_text()
            .and_then(|t| t.trim().parse::<T>().ok())
            .ok_or_else(|| self.err(node, path, Problem::WrongType(Expected::Integer)))
    }

    fn duration(&self, node: &Node, path: &str) -> R<Duration> {
        let text = self.string(node, path)?;
        text.parse()
            .map_err(|_| self.invalid(node, path, "duration", &text))
    }

    /// A list of strings, or (when `single_ok`) one string.
    fn strings(&self, node: &Node, path: &str, single_ok: bool) -> R<Vec<String>> {
        match &node.value {
            Value::Scalar { text, .. } if single_ok => Ok(vec![text.clone()]),
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, it)| match &it.value {
                    Value::Scalar { text, .. } => Ok(text.clone()),
                    _ => Err(self.err(it, &item(path, i), Problem::WrongType(Expected::String))),
                })
                .collect(),
            Value::Null => Ok(Vec::new()),
            _ if single_ok => {
                Err(self.err(node, path, Problem::WrongType(Expected::StringOrSequence)))
            }
            _ => Err(self.err(node, path, Problem::WrongType(Expected::Sequence))),
        }
    }

    /// `{K: V}` or `["K=V", "K"]`; a bare key or null value is `None`.
    fn key_values(&self, node: &Node, path: &str) -> R<BTreeMap<String, Option<String>>> {
        let mut out = BTreeMap::new();
        match &node.value {
            Value::Seq(items) => {
                for (i, it) in items.iter().enumerate() {
                    let text = self.string(it, &item(path, i))?;
                    match text.split_once('=') {
                        Some((k, v)) => out.insert(k.to_string(), Some(v.to_string())),
                        None => out.insert(text, None),
                    };
                }
            }
            _ => {
                for (k, v) in self.entries(node, path, true)? {
                    let value = match &v.value {
                        Value::Null => None,
                        Value::Scalar { text, .. } => Some(text.clone()),
                        _ => {
                            return Err(self.err(
                                v,
                                &child(path, k),
                                Problem::WrongType(Expected::Scalar),
                            ))
                        }
                    };
                    out.insert(k.to_string(), value);
                }
            }
        }
        Ok(out)
    }

    /// Like [`Self::key_values`], with bare keys as empty strings (labels, driver options).
    fn string_map(&self, node: &Node, path: &str) -> R<BTreeMap<String, String>> {
        Ok(self
            .key_values(node, path)?
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect())
    }

    fn extension(&self, node: &Node) -> serde_json::Value {
        to_json(node)
    }

    /// A path relative to the working directory, made absolute (`~` = `$HOME`).
    fn resolve_path(&self, p: &str) -> String {
        let expanded = match (p.strip_prefix('~'), self.env.get("HOME")) {
            (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
                format!("{home}{rest}")
            }
            _ => p.to_string(),
        };
        clean(&self.working_dir.join(expanded))
    }

    // ---- the document ---------------------------------------------------------------

    fn project(&mut self, root: &Node) -> R<Project> {
        if !matches!(root.value, Value::Map(_)) {
            return Err(self.err(root, "", Problem::WrongType(Expected::Mapping)));
        }
        let mut project = Project::default();
        for (key, node) in self.entries(root, "", false)? {
            match key {
                "name" | "version" => {}
                "services" => {
                    for (name, svc) in self.entries(node, key, true)? {
                        let path = child(key, name);
                        let service = self.service(svc, &path)?;
                        project.services.insert(name.to_string(), service);
                    }
                }
                "networks" => {
                    for (name, net) in self.entries(node, key, true)? {
                        let network = self.network(net, &child(key, name))?;
                        project.networks.insert(name.to_string(), network);
                    }
                }
                "volumes" => {
                    for (name, vol) in self.entries(node, key, true)? {
                        let volume = self.volume(vol, &child(key, name))?;
                        project.volumes.insert(name.to_string(), volume);
                    }
                }
                k if k.starts_with("x-") => {
                    project
                        .extensions
                        .insert(k.to_string(), self.extension(node));
                }
                k if node.get("image").is_some() || node.get("build").is_some() => {
                    return Err(self.err(node, k, Problem::V1Format(k.to_string())));
                }
                k => self.warn_unknown(node, k),
            }
        }
        Ok(project)
    }

    fn service(&mut self, node: &Node, path: &str) -> R<Service> {
        if !matches!(node.value, Value::Map(_) | Value::Null) {
            return Err(self.err(node, path, Problem::WrongType(Expected::Mapping)));
        }
        let mut s = Service::default();
        for (key, v) in self.entries(node, path, true)? {
            let p = child(path, key);
            let p = p.as_str();
            match key {
                "image" => s.image = Some(self.string(v, p)?),
                "build" => s.build = Some(self.build(v, p)?),
                "command" => s.command = self.command(v, p)?,
                "entrypoint" => s.entrypoint = self.command(v, p)?,
                "environment" => {
                    if !matches!(v.value, Value::Map(_) | Value::Seq(_) | Value::Null) {
                        return Err(self.err(v, p, Problem::WrongType(Expected::Mapping)));
                    }
                    s.environment = self.key_values(v, p)?;
                }
                "env_file" => s.env_file = self.env_files(v, p)?,
                "ports" => {
                    for (i, it) in self.items(v, p)?.iter().enumerate() {
                        s.ports.extend(self.port(it, &item(p, i))?);
                    }
                }
                "volumes" => {
                    for (i, it) in self.items(v, p)?.iter().enumerate() {
                        s.volumes.push(self.service_volume(it, &item(p, i))?);
                    }
                }
                "networks" => s.networks = self.service_networks(v, p)?,
                "network_mode" => s.network_mode = Some(self.string(v, p)?),
                "depends_on" => s.depends_on = self.depends_on(v, p)?,
                "healthcheck" => s.healthcheck = Some(self.healthcheck(v, p)?),
                "restart" => s.restart = Some(self.restart(v, p)?),
                "working_dir" => s.working_dir = self.opt_string(v, p)?,
                "user" => s.user = self.opt_string(v, p)?,
                "init" => s.init = Some(self.bool(v, p)?),
                "stop_signal" => s.stop_signal = self.opt_string(v, p)?,
                "stop_grace_period" => s.stop_grace_period = Some(self.duration(v, p)?),
                "profiles" => s.profiles = self.strings(v, p, false)?,
                "deploy" => s.deploy = Some(self.deploy(v, p)?),
                "labels" => s.labels = self.string_map(v, p)?,
                "container_name" => s.container_name = self.opt_string(v, p)?,
                "hostname" => s.hostname = self.opt_string(v, p)?,
                "userns_mode" => s.userns_mode = self.opt_string(v, p)?,
                "extra_hosts" => s.extra_hosts = self.extra_hosts(v, p)?,
                "develop" => s.develop = Some(self.develop(v, p)?),
                "expose" => s.expose = self.strings(v, p, false)?,
                "tty" => s.tty = Some(self.bool(v, p)?),
                "stdin_open" => s.stdin_open = Some(self.bool(v, p)?),
                "privileged" => s.privileged = Some(self.bool(v, p)?),
                "cap_add" => s.cap_add = self.strings(v, p, false)?,
                "cap_drop" => s.cap_drop = self.strings(v, p, false)?,
                "security_opt" => s.security_opt = self.strings(v, p, false)?,
                "read_only" => s.read_only = Some(self.bool(v, p)?),
                "tmpfs" => s.tmpfs = self.strings(v, p, true)?,
                "pids_limit" => s.pids_limit = Some(self.uint(v, p)?),
                "mem_limit" => s.mem_limit = self.opt_string(v, p)?,
                "cpus" => s.cpus = Some(self.uint(v, p)?),
                k if k.starts_with("x-") => {
                    s.extensions.insert(k.to_string(), self.extension(v));
                }
                _ => self.warn_unknown(v, p),
            }
        }
        Ok(s)
    }

    fn build(&mut self, node: &Node, path: &str) -> R<Build> {
        let mut build = Build::default();
        if let Value::Scalar { text, .. } = &node.value {
            build.context = self.build_context(text);
            return Ok(build);
        }
        let mut context = None;
        for (key, v) in self.entries(node, path, false)? {
            let p = child(path, key);
            match key {
                "context" => context = Some(self.string(v, &p)?),
                "dockerfile" => build.dockerfile = self.opt_string(v, &p)?,
                "dockerfile_inline" => build.dockerfile_inline = self.opt_string(v, &p)?,
                "args" => build.args = self.key_values(v, &p)?,
                "target" => build.target = self.opt_string(v, &p)?,
                k if k.starts_with("x-") => {}
                _ => self.warn_unknown(v, &p),
            }
        }
        build.context = self.build_context(context.as_deref().unwrap_or("."));
        Ok(build)
    }

    fn build_context(&self, context: &str) -> String {
        let is_url = context.contains("://") || context.starts_with("git@");
        if is_url {
            context.to_string()
        } else {
            self.resolve_path(context)
        }
    }

    fn command(&self, node: &Node, path: &str) -> R<Option<Vec<String>>> {
        match &node.value {
            Value::Null => Ok(None),
            Value::Scalar { text, .. } => split_shell_words(text).map(Some).ok_or_else(|| {
                self.invalid_because(node, path, "command", text, "unterminated quote")
            }),
            _ => self.strings(node, path, true).map(Some),
        }
    }

    fn env_files(&self, node: &Node, path: &str) -> R<Vec<EnvFile>> {
        let list: Vec<&Node> = match &node.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        let mut out = Vec::new();
        for (i, it) in list.into_iter().enumerate() {
            let p = if matches!(node.value, Value::Seq(_)) {
                item(path, i)
            } else {
                path.to_string()
            };
            let (file, required) = match &it.value {
                Value::Scalar { text, .. } => (text.clone(), true),
                Value::Map(_) => {
                    let file = it
                        .get("path")
                        .ok_or_else(|| self.err(it, &p, Problem::Missing("path")))?;
                    let required = match it.get("required") {
                        Some(r) => self.bool(r, &child(&p, "required"))?,
                        None => true,
                    };
                    (self.string(file, &child(&p, "path"))?, required)
                }
                _ => return Err(self.err(it, &p, Problem::WrongType(Expected::StringOrSequence))),
            };
            out.push(EnvFile {
                path: self.resolve_path(&file),
                required,
            });
        }
        Ok(out)
    }

    fn port(&mut self, node: &Node, path: &str) -> R<Vec<Port>> {
        match &node.value {
            Value::Scalar { text, .. } => parse_port(text)
                .map_err(|reason| self.invalid_because(node, path, "port", text, reason)),
            Value::Map(_) => {
                let mut port = Port {
                    mode: "ingress".to_string(),
                    host_ip: None,
                    target: 0,
                    published: None,
                    protocol: Protocol::Tcp,
                };
                let mut target = None;
                for (key, v) in self.entries(node, path, false)? {
                    let p = child(path, key);
                    match key {
                        "target" => target = Some(self.uint::<u16>(v, &p)?),
                        "published" => port.published = self.opt_string(v, &p)?,
                        "host_ip" => port.host_ip = self.opt_string(v, &p)?,
                        "protocol" => {
                            let text = self.string(v, &p)?;
                            port.protocol = parse_protocol(&text)
                                .ok_or_else(|| self.invalid(v, &p, "protocol", &text))?;
                        }
                        "mode" => port.mode = self.string(v, &p)?,
                        "name" | "app_protocol" => {}
                        k if k.starts_with("x-") => {}
                        _ => self.warn_unknown(v, &p),
                    }
                }
                port.target =
                    target.ok_or_else(|| self.err(node, path, Problem::Missing("target")))?;
                Ok(vec![port])
            }
            _ => Err(self.err(node, path, Problem::WrongType(Expected::StringOrSequence))),
        }
    }

    fn service_volume(&mut self, node: &Node, path: &str) -> R<ServiceVolume> {
        if let Value::Scalar { text, .. } = &node.value {
            let mut volume = parse_volume_short(text)
                .map_err(|reason| self.invalid_because(node, path, "volume", text, reason))?;
            if volume.kind == MountType::Bind {
                volume.source = volume.source.map(|s| self.resolve_path(&s));
            }
            return Ok(volume);
        }
        let mut kind = None;
        let mut volume = ServiceVolume {
            kind: MountType::Volume,
            source: None,
            target: String::new(),
            read_only: false,
            consistency: None,
            tmpfs: None,
        };
        let mut target = None;
        for (key, v) in self.entries(node, path, false)? {
            let p = child(path, key);
            match key {
                "type" => {
                    let text = self.string(v, &p)?;
                    kind = Some(match text.as_str() {
                        "volume" => MountType::Volume,
                        "bind" => MountType::Bind,
                        "tmpfs" => MountType::Tmpfs,
                        _ => {
                            return Err(self.invalid_because(
                                v,
                                &p,
                                "volume type",
                                &text,
                                "expected volume, bind or tmpfs",
                            ))
                        }
                    });
                }
                "source" => volume.source = self.opt_string(v, &p)?,
                "target" => target = Some(self.string(v, &p)?),
                "read_only" => volume.read_only = self.bool(v, &p)?,
                "consistency" => volume.consistency = self.opt_string(v, &p)?,
                "tmpfs" => {
                    let mut opts = TmpfsOptions::default();
                    for (k, sv) in self.entries(v, &p, true)? {
                        let sp = child(&p, k);
                        match k {
                            "size" => {
                                let text = self.string(sv, &sp)?;
                                opts.size = Some(parse_size(&text).ok_or_else(|| {
                                    self.invalid_because(sv, &sp, "size", &text, "expected a non-negative integer number of bytes (or with a unit: 64m)")
                                })?);
                            }
                            _ => self.warn_unknown(sv, &sp),
                        }
                    }
                    volume.tmpfs = Some(opts);
                }
                "bind" | "volume" => {
                    // Options (create_host_path, nocopy, propagation, ...) are accepted and not modelled.
                    self.entries(v, &p, true)?;
                }
                k if k.starts_with("x-") => {}
                _ => self.warn_unknown(v, &p),
            }
        }
        volume.kind = kind.ok_or_else(|| self.err(node, path, Problem::Missing("type")))?;
        volume.target = target.ok_or_else(|| self.err(node, path, Problem::Missing("target")))?;
        if volume.kind == MountType::Bind {
            match &volume.source {
                Some(s) if !s.is_empty() => volume.source = Some(self.resolve_path(s)),
                _ => {
                    return Err(self.err(node, path, Problem::Missing("source")));
                }
            }
        }
        Ok(volume)
    }

    fn service_networks(
        &mut self,
        node: &Node,
        path: &str,
    ) -> R<BTreeMap<String, Option<ServiceNetwork>>> {
        let mut out = BTreeMap::new();
        if let Value::Seq(_) = node.value {
            for name in self.strings(node, path, false)? {
                out.insert(name, None);
            }
            return Ok(out);
        }
        for (name, v) in self.entries(node, path, true)? {
            let p = child(path, name);
            if v.is_null() {
                out.insert(name.to_string(), None);
                continue;
            }
            let mut net = ServiceNetwork::default();
            for (key, sv) in self.entries(v, &p, false)? {
                let sp = child(&p, key);
                match key {
                    "aliases" => net.aliases = self.strings(sv, &sp, false)?,
                    "ipv4_address" => net.ipv4_address = self.opt_string(sv, &sp)?,
                    "ipv6_address" => net.ipv6_address = self.opt_string(sv, &sp)?,
                    k if k.starts_with("x-") => {}
                    _ => self.warn_unknown(sv, &sp),
                }
            }
            out.insert(name.to_string(), Some(net));
        }
        Ok(out)
    }

    fn depends_on(&mut self, node: &Node, path: &str) -> R<BTreeMap<String, Dependency>> {
        let mut out = BTreeMap::new();
        if let Value::Seq(_) = node.value {
            for name in self.strings(node, path, false)? {
                out.insert(name, Dependency::default());
            }
            return Ok(out);
        }
        for (name, v) in self.entries(node, path, true)? {
            let p = child(path, name);
            let mut dep = Dependency::default();
            for (key, sv) in self.entries(v, &p, true)? {
                let sp = child(&p, key);
                match key {
                    "condition" => {
                        let text = self.string(sv, &sp)?;
                        dep.condition = match text.as_str() {
                            "service_started" => Condition::ServiceStarted,
                            "service_healthy" => Condition::ServiceHealthy,
                            "service_completed_successfully" => Condition::ServiceCompletedSuccessfully,
                            _ => return Err(self.invalid_because(sv, &sp, "condition", &text, "expected service_started, service_healthy or service_completed_successfully")),
                        };
                    }
                    "restart" => dep.restart = self.bool(sv, &sp)?,
                    "required" => dep.required = self.bool(sv, &sp)?,
                    _ => self.warn_unknown(sv, &sp),
                }
            }
            out.insert(name.to_string(), dep);
        }
        Ok(out)
    }

    fn healthcheck(&mut self, node: &Node, path: &str) -> R<Healthcheck> {
        let mut h = Healthcheck::default();
        for (key, v) in self.entries(node, path, true)? {
            let p = child(path, key);
            let p = p.as_str();
            match key {
                "test" => {
                    h.test = match &v.value {
                        Value::Scalar { text, .. } => vec!["CMD-SHELL".to_string(), text.clone()],
                        _ => self.strings(v, p, false)?,
                    };
                    if let Some(first) = h.test.first() {
                        if !matches!(first.as_str(), "CMD" | "CMD-SHELL" | "NONE") {
                            return Err(self.invalid_because(
                                v,
                                p,
                                "healthcheck test",
                                first,
                                "a list must start with CMD, CMD-SHELL or NONE",
                            ));
                        }
                    }
                }
                "interval" => h.interval = Some(self.duration(v, p)?),
                "timeout" => h.timeout = Some(self.duration(v, p)?),
                "start_period" => h.start_period = Some(self.duration(v, p)?),
                "start_interval" => h.start_interval = Some(self.duration(v, p)?),
                "retries" => h.retries = Some(self.uint(v, p)?),
                "disable" => h.disable = self.bool(v, p)?,
                _ => self.warn_unknown(v, p),
            }
        }
        if h.test.first().map(String::as_str) == Some("NONE") {
            h.disable = true;
        }
        Ok(h)
    }

    fn restart(&self, node: &Node, path: &str) -> R<Restart> {
        let text = self.string(node, path)?;
        let bad = || {
            self.invalid_because(
                node,
                path,
                "restart policy",
                &text,
                "expected no, always, on-failure[:N] or unless-stopped",
            )
        };
        Ok(match text.as_str() {
            "no" | "false" => Restart::No,
            "always" => Restart::Always,
            "unless-stopped" => Restart::UnlessStopped,
            "on-failure" => Restart::OnFailure(None),
            other => match other.strip_prefix("on-failure:") {
                Some(n) => Restart::OnFailure(Some(n.parse().map_err(|_| bad())?)),
                None => return Err(bad()),
            },
        })
    }

    fn deploy(&mut self, node: &Node, path: &str) -> R<Deploy> {
        let mut d = Deploy::default();
        for (key, v) in self.entries(node, path, true)? {
            let p = child(path, key);
            match key {
                "replicas" => d.replicas = Some(self.uint(v, &p)?),
                k if k.starts_with("x-") => {}
                _ => self.warn_unknown(v, &p),
            }
        }
        Ok(d)
    }

    fn extra_hosts(&self, node: &Node, path: &str) -> R<Vec<ExtraHost>> {
        let mut out = Vec::new();
        if let Value::Seq(items) = &node.value {
            for (i, it) in items.iter().enumerate() {
                let p = item(path, i);
                let text = self.string(it, &p)?;
                let (host, ip) = text
                    .split_once('=')
                    .or_else(|| text.split_once(':'))
                    .ok_or_else(|| {
                        self.invalid_because(
                            it,
                            &p,
                            "extra host",
                            &text,
                            "expected host=ip or host:ip",
                        )
                    })?;
                out.push(ExtraHost {
                    host: host.to_string(),
                    ip: ip.to_string(),
                });
            }
            return Ok(out);
        }
        for (host, v) in self.entries(node, path, true)? {
            for ip in self.strings(v, &child(path, host), true)? {
                out.push(ExtraHost {
                    host: host.to_string(),
                    ip,
                });
            }
        }
        Ok(out)
    }

    fn develop(&mut self, node: &Node, path: &str) -> R<Develop> {
        let mut d = Develop::default();
        for (key, v) in self.entries(node, path, true)? {
            let p = child(path, key);
            if key != "watch" {
                self.warn_unknown(v, &p);
                continue;
            }
            for (i, it) in self.items(v, &p)?.iter().enumerate() {
                let ip = item(&p, i);
                let mut path_value = None;
                let mut action = None;
                let mut target = None;
                let mut ignore = Vec::new();
                for (k, sv) in self.entries(it, &ip, false)? {
                    let sp = child(&ip, k);
                    match k {
                        "path" => path_value = Some(self.string(sv, &sp)?),
                        "action" => {
                            let text = self.string(sv, &sp)?;
                            action = Some(match text.as_str() {
                                "sync" => WatchAction::Sync,
                                "rebuild" => WatchAction::Rebuild,
                                "sync+restart" => WatchAction::SyncRestart,
                                _ => {
                                    return Err(self.invalid_because(
                                        sv,
                                        &sp,
                                        "watch action",
                                        &text,
                                        "expected sync, rebuild or sync+restart",
                                    ))
                                }
                            });
                        }
                        "target" => target = self.opt_string(sv, &sp)?,
                        "ignore" => ignore = self.strings(sv, &sp, false)?,
                        _ => self.warn_unknown(sv, &sp),
                    }
                }
                d.watch.push(Watch {
                    path: self.resolve_path(
                        &path_value.ok_or_else(|| self.err(it, &ip, Problem::Missing("path")))?,
                    ),
                    action: action.ok_or_else(|| self.err(it, &ip, Problem::Missing("action")))?,
                    target,
                    ignore,
                });
            }
        }
        Ok(d)
    }

    /// `external:` as a boolean, or the legacy `{name: ...}` form (returns that name).
    fn external(&self, node: &Node, path: &str) -> R<(bool, Option<String>)> {
        match &node.value {
            Value::Map(_) => {
                let name = match node.get("name") {
                    Some(n) => Some(self.string(n, &child(path, "name"))?),
                    None => None,
                };
                Ok((true, name))
            }
            _ => Ok((self.bool(node, path)?, None)),
        }
    }

    fn network(&mut self, node: &Node, path: &str) -> R<Network> {
        if !matches!(node.value, Value::Map(_) | Value::Null) {
            return Err(self.err(node, path, Problem::WrongType(Expected::Mapping)));
        }
        let mut n = Network::default();
        let mut external_name = None;
        for (key, v) in self.entries(node, path, true)? {
            let p = child(path, key);
            match key {
                "name" => n.name = self.opt_string(v, &p)?,
                "driver" => n.driver = self.opt_string(v, &p)?,
                "driver_opts" => n.driver_opts = self.string_map(v, &p)?,
                "internal" => n.internal = self.bool(v, &p)?,
                "external" => (n.external, external_name) = self.external(v, &p)?,
                "labels" => n.labels = self.string_map(v, &p)?,
                "ipam" => n.ipam = Some(self.ipam(v, &p)?),
                k if k.starts_with("x-") => {
                    n.extensions.insert(k.to_string(), self.extension(v));
                }
                _ => self.warn_unknown(v, &p),
            }
        }
        if n.external {
            for (set, what) in [
                (n.driver.is_some(), "driver"),
                (!n.driver_opts.is_empty(), "driver_opts"),
                (!n.labels.is_empty(), "labels"),
                (n.ipam.is_some(), "ipam"),
            ] {
                if set {
                    return Err(self.err(node, path, Problem::Conflict("external", what)));
                }
            }
        }
        n.name = self.merge_external_name(node, path, n.name, external_name)?;
        Ok(n)
    }

    fn merge_external_name(
        &self,
        node: &Node,
        path: &str,
        name: Option<String>,
        external_name: Option<String>,
    ) -> R<Option<String>> {
        match (name, external_name) {
            (Some(a), Some(b)) if a != b => {
                Err(self.err(node, path, Problem::Conflict("name", "external.name")))
            }
            (a, b) => Ok(a.or(b)),
        }
    }

    fn ipam(&mut self, node: &Node, path: &str) -> R<Ipam> {
        let mut ipam = Ipam::default();
        for (key, v) in self.entries(node, path, true)? {
            let p = child(path, key);
            match key {
                "driver" => ipam.driver = self.opt_string(v, &p)?,
                "config" => {
                    for (i, it) in self.items(v, &p)?.iter().enumerate() {
                        let ip = item(&p, i);
                        let mut c = IpamConfig::default();
                        for (k, sv) in self.entries(it, &ip, false)? {
                            let sp = child(&ip, k);
                            match k {
                                "subnet" => c.subnet = self.opt_string(sv, &sp)?,
                                "gateway" => c.gateway = self.opt_string(sv, &sp)?,
                                "ip_range" => c.ip_range = self.opt_string(sv, &sp)?,
                                "aux_addresses" => c.aux_addresses = self.string_map(sv, &sp)?,
                                _ => self.warn_unknown(sv, &sp),
                            }
                        }
                        ipam.config.push(c);
                    }
                }
                _ => self.warn_unknown(v, &p),
            }
        }
        Ok(ipam)
    }

    fn volume(&mut self, node: &Node, path: &str) -> R<Volume> {
        if !matches!(node.value, Value::Map(_) | Value::Null) {
            return Err(self.err(node, path, Problem::WrongType(Expected::Mapping)));
        }
        let mut vol = Volume::default();
        let mut external_name = None;
        for (key, v) in self.entries(node, path, true)? {
            let p = child(path, key);
            match key {
                "name" => vol.name = self.opt_string(v, &p)?,
                "driver" => vol.driver = self.opt_string(v, &p)?,
                "driver_opts" => vol.driver_opts = self.string_map(v, &p)?,
                "external" => (vol.external, external_name) = self.external(v, &p)?,
                "labels" => vol.labels = self.string_map(v, &p)?,
                k if k.starts_with("x-") => {
                    vol.extensions.insert(k.to_string(), self.extension(v));
                }
                _ => self.warn_unknown(v, &p),
            }
        }
        if vol.external {
            for (set, what) in [
                (vol.driver.is_some(), "driver"),
                (!vol.driver_opts.is_empty(), "driver_opts"),
                (!vol.labels.is_empty(), "labels"),
            ] {
                if set {
                    return Err(self.err(node, path, Problem::Conflict("external", what)));
                }
            }
        }
        vol.name = self.merge_external_name(node, path, vol.name, external_name)?;
        Ok(vol)
    }
}

/// A generic value for `x-*` extensions (YAML core schema types).
pub(crate) fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &node.value {
        Value::Null => J::Null,
        Value::Scalar { text, .. } => match node.scalar_kind() {
            ScalarKind::Bool(b) => J::Bool(b),
            ScalarKind::Int(i) => J::from(i),
            ScalarKind::Float(f) => {
                serde_json::Number::from_f64(f).map_or(J::String(text.clone()), J::Number)
            }
            ScalarKind::Null => J::Null,
            ScalarKind::String => J::String(text.clone()),
        },
        Value::Seq(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| (k.as_text().unwrap_or("null").to_string(), to_json(v)))
                .collect(),
        ),
    }
}

/// Lexically cleans a path (drops `.`, folds `..`), without touching the filesystem.
fn clean(path: &Path) -> String {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out.to_string_lossy().into_owned()
}

/// Splits a command string into words like a POSIX shell (quotes and backslashes; no
/// expansion). `None` on an unterminated quote.
pub fn split_shell_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\' | '$' | '`') => word.push(c),
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

fn parse_protocol(s: &str) -> Option<Protocol> {
    match s {
        "tcp" => Some(Protocol::Tcp),
        "udp" => Some(Protocol::Udp),
        "sctp" => Some(Protocol::Sctp),
        _ => None,
    }
}

/// `N` or `N-M` → inclusive range.
fn port_range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
    (a <= b).then_some((a, b))
}

/// Short port syntax: `[[HOST_IP:]PUBLISHED:]TARGET[/PROTOCOL]`, where PUBLISHED and TARGET may
/// be ranges (`9090-9091:8080-8081`) and an IPv6 HOST_IP is bracketed (`[::1]:80:80`).
pub fn parse_port(spec: &str) -> Result<Vec<Port>, &'static str> {
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((rest, proto)) => (rest, parse_protocol(proto).ok_or("unknown protocol")?),
        None => (spec, Protocol::Tcp),
    };
    let (host, target) = match rest.rsplit_once(':') {
        Some((host, target)) => (Some(host), target),
        None => (None, rest),
    };
    let (host_ip, published) = match host {
        None => (None, None),
        Some(h) => {
            if let Some(bracketed) = h.strip_prefix('[') {
                let (ip, published) = bracketed.split_once("]:").ok_or("bad IPv6 host address")?;
                (Some(ip.to_string()), Some(published))
            } else {
                match h.rsplit_once(':') {
                    Some((ip, published)) => (Some(ip.to_string()), Some(published)),
                    None => (None, Some(h)),
                }
            }
        }
    };
    let published = published.filter(|p| !p.is_empty());
    let (t0, t1) = port_range(target)
        .ok_or("expected [[ip:]published:]target[/protocol] with numeric ports")?;
    let p_range = match published {
        Some(p) => Some(port_range(p).ok_or("published port must be a number or a range")?),
        None => None,
    };
    let make = |target: u16, published: Option<String>| Port {
        mode: "ingress".to_string(),
        host_ip: host_ip.clone(),
        target,
        published,
        protocol,
    };
    if t0 == t1 {
        let published = p_range.map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        });
        return Ok(vec![make(t0, published)]);
    }
    match p_range {
        None => Ok((t0..=t1).map(|t| make(t, None)).collect()),
        Some((p0, p1)) if p1 - p0 == t1 - t0 => Ok((t0..=t1)
            .zip(p0..=p1)
            .map(|(t, p)| make(t, Some(p.to_string())))
            .collect()),
        Some(_) => Err("published and target port ranges differ in size"),
    }
}

/// Short volume syntax: `TARGET` (anonymous), `SOURCE:TARGET[:MODE]`; a SOURCE starting
/// with `/`, `.` or `~` is a bind mount, anything else a named volume.
pub fn parse_volume_short(spec: &str) -> Result<ServiceVolume, &'static str> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [target] => (None, *target, None),
        [source, target] => (Some(*source), *target, None),
        [source, target, mode] => (Some(*source), *target, Some(*mode)),
        _ => return Err("expected [SOURCE:]TARGET[:MODE]"),
    };
    if target.is_empty() || source.is_some_and(str::is_empty) {
        return Err("empty source or target");
    }
    let mut read_only = false;
    if let Some(mode) = mode {
        for option in mode.split(',') {
            match option {
                "ro" => read_only = true,
                "rw" | "z" | "Z" | "cached" | "delegated" | "consistent" | "nocopy" | "shared"
                | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {}
                _ => return Err("unknown mode, expected ro, rw, z or Z"),
            }
        }
    }
    let kind = match source {
        Some(s) if s.starts_with(['/', '.', '~']) => MountType::Bind,
        _ => MountType::Volume,
    };
    Ok(ServiceVolume {
        kind,
        source: source.map(str::to_string),
        target: target.to_string(),
        read_only,
        consistency: None,
        tmpfs: None,
    })
}

/// Bytes: `1024`, or with a unit `b k kb m mb g gb` (powers of 1024).
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let number: u64 = s[..digits].parse().ok()?;
    let scale: u64 = match &s[digits..] {
        "" | "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(scale)
}

// ---- merging ------------------------------------------------------------------------------

fn merge_project(base: &mut Project, over: Project) {
    for (name, service) in over.services {
        match base.services.get_mut(&name) {
            Some(existing) => merge_service(existing, service),
            None => {
                base.services.insert(name, service);
            }
        }
    }
    base.networks.extend(over.networks);
    base.volumes.extend(over.volumes);
    base.extensions.extend(over.extensions);
}

fn replace<T>(base: &mut Option<T>, over: Option<T>) {
    if over.is_some() {
        *base = over;
    }
}

fn append_unique<T: PartialEq>(base: &mut Vec<T>, over: Vec<T>) {
    for x in over {
        if !base.contains(&x) {
            base.push(x);
        }
    }
}

fn merge_service(b: &mut Service, o: Service) {
    replace(&mut b.image, o.image);
    match (&mut b.build, o.build) {
        (Some(bb), Some(ob)) => {
            bb.context = ob.context;
            replace(&mut bb.dockerfile, ob.dockerfile);
            replace(&mut bb.dockerfile_inline, ob.dockerfile_inline);
            replace(&mut bb.target, ob.target);
            bb.args.extend(ob.args);
        }
        (slot, over) => replace(slot, over),
    }
    replace(&mut b.command, o.command);
    replace(&mut b.entrypoint, o.entrypoint);
    b.environment.extend(o.environment);
    append_unique(&mut b.env_file, o.env_file);
    append_unique(&mut b.ports, o.ports);
    for v in o.volumes {
        match b.volumes.iter_mut().find(|x| x.target == v.target) {
            Some(existing) => *existing = v,
            None => b.volumes.push(v),
        }
    }
    b.networks.extend(o.networks);
    replace(&mut b.network_mode, o.network_mode);
    b.depends_on.extend(o.depends_on);
    match (&mut b.healthcheck, o.healthcheck) {
        (Some(bh), Some(oh)) => {
            if !oh.test.is_empty() {
                bh.test = oh.test;
            }
            replace(&mut bh.interval, oh.interval);
            replace(&mut bh.timeout, oh.timeout);
            replace(&mut bh.start_period, oh.start_period);
            replace(&mut bh.start_interval, oh.start_interval);
            replace(&mut bh.retries, oh.retries);
            bh.disable |= oh.disable;
        }
        (slot, over) => replace(slot, over),
    }
    replace(&mut b.restart, o.restart);
    replace(&mut b.working_dir, o.working_dir);
    replace(&mut b.user, o.user);
    replace(&mut b.init, o.init);
    replace(&mut b.stop_signal, o.stop_signal);
    replace(&mut b.stop_grace_period, o.stop_grace_period);
    append_unique(&mut b.profiles, o.profiles);
    replace(&mut b.deploy, o.deploy);
    b.labels.extend(o.labels);
    replace(&mut b.container_name, o.container_name);
    replace(&mut b.hostname, o.hostname);
    replace(&mut b.userns_mode, o.userns_mode);
    append_unique(&mut b.extra_hosts, o.extra_hosts);
    match (&mut b.develop, o.develop) {
        (Some(bd), Some(od)) => append_unique(&mut bd.watch, od.watch),
        (slot, over) => replace(slot, over),
    }
    append_unique(&mut b.expose, o.expose);
    replace(&mut b.tty, o.tty);
    replace(&mut b.stdin_open, o.stdin_open);
    replace(&mut b.privileged, o.privileged);
    append_unique(&mut b.cap_add, o.cap_add);
    append_unique(&mut b.cap_drop, o.cap_drop);
    append_unique(&mut b.security_opt, o.security_opt);
    replace(&mut b.read_only, o.read_only);
    append_unique(&mut b.tmpfs, o.tmpfs);
    replace(&mut b.pids_limit, o.pids_limit);
    replace(&mut b.mem_limit, o.mem_limit);
    replace(&mut b.cpus, o.cpus);
    b.extensions.extend(o.extensions);
}

// ---- cross references -----------------------------------------------------------------------

/// `network_mode: service:NAME` depends on NAME (started), as compose-go's normalisation
/// adds: the namespace to join must exist first.
fn implicit_dependencies(project: &mut Project) {
    for service in project.services.values_mut() {
        let target = service
            .network_mode
            .as_deref()
            .and_then(|m| m.strip_prefix("service:"))
            .map(str::to_string);
        if let Some(target) = target {
            service.depends_on.entry(target).or_insert(Dependency {
                restart: true,
                ..Dependency::default()
            });
        }
    }
}

fn validate(project: &Project) -> R<()> {
    for (name, s) in &project.services {
        if s.image.is_none() && s.build.is_none() {
            return Err(ComposeError::NoImageOrBuild {
                service: name.clone(),
            });
        }
        if s.network_mode.is_some() && !s.networks.is_empty() {
            return Err(ComposeError::NetworkModeAndNetworks {
                service: name.clone(),
            });
        }
        for (dep, d) in &s.depends_on {
            if d.required && !project.services.contains_key(dep) {
                return Err(ComposeError::UndefinedDependency {
                    service: name.clone(),
                    dependency: dep.clone(),
                });
            }
        }
        for net in s.networks.keys() {
            if net != "default" && !project.networks.contains_key(net) {
                return Err(ComposeError::UndefinedResource {
                    service: name.clone(),
                    kind: "network",
                    name: net.clone(),
                });
            }
        }
        for v in &s.volumes {
            if let (MountType::Volume, Some(source)) = (v.kind, &v.source) {
                if !project.volumes.contains_key(source) {
                    return Err(ComposeError::UndefinedResource {
                        service: name.clone(),
                        kind: "volume",
                        name: source.clone(),
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(text: &str) -> LoadInput {
        LoadInput {
            files: vec![SourceFile {
                name: "compose.yaml".into(),
                text: text.into(),
            }],
            env: BTreeMap::from([("TAG".into(), "3.12".into())]),
            working_dir: PathBuf::from("/src/app"),
            default_project_name: Some("My App".into()),
            ..LoadInput::default()
        }
    }

    #[test]
    fn loads_a_small_project() {
        let loaded = load(&input(
            "services:\n  web:\n    build: .\n    image: python:${TAG}\n    ports: ['8000:80']\n    volumes: ['.:/code', 'data:/data:ro']\n    depends_on: [db]\n    bogus: 1\n  db:\n    image: redis\nvolumes:\n  data:\n",
        ))
        .unwrap();
        let p = &loaded.project;
        assert_eq!(p.name, "myapp");
        let web = &p.services["web"];
        assert_eq!(web.image.as_deref(), Some("python:3.12"));
        assert_eq!(web.build.as_ref().unwrap().context, "/src/app");
        assert_eq!(web.ports[0].published.as_deref(), Some("8000"));
        assert_eq!(web.volumes[0].source.as_deref(), Some("/src/app"));
        assert!(web.volumes[1].read_only);
        assert_eq!(loaded.warnings.len(), 1);
        assert_eq!(
            loaded.warnings[0].to_string(),
            "compose.yaml:8: services.web.bogus: unknown or unsupported key, ignored"
        );
    }

    #[test]
    fn a_bare_build_arg_takes_the_environment_value_or_stays_unset() {
        let mut loaded = load(&input(
            "services:\n  web:\n    build:\n      context: .\n      args: [TAG, MISSING, SET=1]\n",
        ))
        .unwrap();
        loaded.resolve_env_files(&BTreeMap::new()).unwrap();
        let args = &loaded.project.services["web"].build.as_ref().unwrap().args;
        assert_eq!(args["TAG"].as_deref(), Some("3.12"));
        assert_eq!(args["MISSING"], None);
        assert_eq!(args["SET"].as_deref(), Some("1"));
    }

    #[test]
    fn errors_name_file_line_and_path() {
        let err = load(&input(
            "services:\n  web:\n    image: x\n    ports:\n      - abc\n",
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "compose.yaml:5: services.web.ports[0]: invalid port \"abc\": expected [[ip:]published:]target[/protocol] with numeric ports"
        );
    }

    #[test]
    fn later_files_override() {
        let mut inp = input(
            "services:\n  web:\n    image: a\n    environment: [A=1, B=2]\n    ports: ['80:80']\n",
        );
        inp.files.push(SourceFile {
            name: "override.yaml".into(),
            text:
                "services:\n  web:\n    image: b\n    environment: {B: 3}\n    ports: ['81:81']\n"
                    .into(),
        });
        let p = load(&inp).unwrap().project;
        let web = &p.services["web"];
        assert_eq!(web.image.as_deref(), Some("b"));
        assert_eq!(web.environment["A"].as_deref(), Some("1"));
        assert_eq!(web.environment["B"].as_deref(), Some("3"));
        assert_eq!(web.ports.len(), 2);
    }

    #[test]
    fn port_short_syntax() {
        let ports = parse_port("127.0.0.1:5000-5001:6000-6001/udp").unwrap();
        assert_eq!(ports.len(), 2);
        assert_eq!(ports[1].target, 6001);
        assert_eq!(ports[1].published.as_deref(), Some("5001"));
        assert_eq!(ports[1].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(ports[1].protocol, Protocol::Udp);
        let v6 = parse_port("[::1]:80:8080").unwrap();
        assert_eq!(v6[0].host_ip.as_deref(), Some("::1"));
        assert!(parse_port("abc").is_err());
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            split_shell_words(r#"sh -c "echo \"hi\" 'x'" a\ b"#).unwrap(),
            vec!["sh", "-c", "echo \"hi\" 'x'", "a b"]
        );
        assert_eq!(split_shell_words("'open"), None);
    }

    #[test]
    fn project_name_rules() {
        assert_eq!(normalize_project_name("_My.App-1"), "myapp-1");
        let mut inp = input("name: Bad Name\nservices: {}\n");
        assert!(matches!(
            load(&inp),
            Err(ComposeError::InvalidProjectName { .. })
        ));
        inp.files[0].text = "services: {}\n".into();
        inp.default_project_name = None;
        assert_eq!(load(&inp), Err(ComposeError::NoProjectName));
    }
}
