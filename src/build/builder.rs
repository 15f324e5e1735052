//! `devbox build`: runs a plan stage by stage. RUN steps run through the
//! runtime adapter ([`super::executor`]), layers and images go through the
//! store adapter ([`super::commit`]), every layer step consults the cache.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::cache::{self, Entry};
use super::commit;
use super::copy::{self, CopyRequest};
use super::dockerfile::instruction::{Instruction, Step};
use super::dockerfile::{parse, parse_instructions};
use super::executor::{RunStep, Runtime, MOUNT_STUBS};
use super::files::{ContextError, ContextFiles, Files, LayerFiles};
use super::layer_write::LayerWriter;
use super::plan::{self, Base, Plan, PlanOptions, Source};
use super::secrets::{BuildInputs, SecretSource};
use super::stage::{self, StageState};
use crate::image::oci::{self, Descriptor, History, ImageConfig, RootFs};
use crate::image::{Digest, Reference};
use crate::runtime::RuntimeError;
use crate::spec::container::Network;
use crate::spec::mount::BindMount;
use crate::store::StoreError;
use crate::ui::diagnostics::Hint;

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub tags: Vec<Reference>,
    pub target: Option<String>,
    pub build_args: BTreeMap<String, String>,
    pub no_cache: bool,
    pub network: Network,
    pub labels: BTreeMap<String, String>,
    /// `--pull`, `--secret`, `--ssh`.
    pub inputs: BuildInputs,
}

/// How a build reports progress (the command prints; the builder never
/// does).
pub trait Reporter {
    /// A step starts: `stage` is (n, m) in a multi-stage build.
    fn step(&self, stage: Option<(usize, usize)>, n: usize, total: usize, text: &str);
    /// The step's result came from the cache.
    fn cached(&self);
    /// The step ran.
    fn done(&self, elapsed: Duration);
    fn warn(&self, message: &str);
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot read the Dockerfile {path}: {source}")]
    Dockerfile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A step failed; `message` starts with `line N:`.
    #[error("{file}: {message}")]
    Step {
        file: String,
        message: String,
        hint: Option<String>,
    },
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Hint for BuildError {
    fn hint(&self) -> Option<String> {
        match self {
            BuildError::Step { hint, .. } => hint.clone(),
            BuildError::Runtime(e) => e.hint(),
            BuildError::Store(e) => e.hint(),
            _ => None,
        }
    }
}

/// The built image.
#[derive(Debug, Clone)]
pub struct Built {
    pub id: Digest,
    pub manifest: Digest,
}

/// A finished stage: its image config and layers, and its cache key.
#[derive(Debug, Clone)]
struct StageResult {
    config: ImageConfig,
    layers: Vec<Descriptor>,
    key: Digest,
}

/// A stage being built.
struct Current {
    state: StageState,
    diff_ids: Vec<Digest>,
    layers: Vec<Descriptor>,
    history: Vec<History>,
    key: Digest,
    created: Option<String>,
}

struct Builder<'a> {
    runtime: &'a Runtime<'a>,
    request: &'a BuildRequest,
    reporter: &'a dyn Reporter,
    plan: Plan,
    context: ContextFiles,
    file: String,
    results: Vec<Option<StageResult>>,
}

/// Builds the image and tags it.
pub fn build(
    runtime: &Runtime,
    request: &BuildRequest,
    reporter: &dyn Reporter,
) -> Result<Built, BuildError> {
    let file = request
        .dockerfile
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Dockerfile".into());
    let text =
        std::fs::read_to_string(&request.dockerfile).map_err(|source| BuildError::Dockerfile {
            path: request.dockerfile.clone(),
            source,
        })?;
    let step_err = |message: String| BuildError::Step {
        file: file.clone(),
        message,
        hint: None,
    };
    let ast = parse(&text).map_err(|e| step_err(e.to_string()))?;
    let steps = parse_instructions(&ast).map_err(|e| step_err(e.to_string()))?;
    let options = PlanOptions {
        build_args: request.build_args.clone(),
        target: request.target.clone(),
    };
    let plan = plan::plan(&steps, ast.escape, &options).map_err(|e| step_err(e.to_string()))?;
    if !plan.unused_args.is_empty() {
        reporter.warn(&format!(
            "one or more build-args [{}] were not consumed",
            plan.unused_args.join(" ")
        ));
    }
    let context = ContextFiles::open(&request.context, &request.dockerfile)?;
    let escape = ast.escape;
    let mut builder = Builder {
        runtime,
        request,
        reporter,
        results: vec![None; plan.stages.len()],
        plan,
        context,
        file,
    };
    let order = builder.plan.order.clone();
    for (pos, index) in order.iter().enumerate() {
        let stage_label = (order.len() > 1).then_some((pos + 1, order.len()));
        let result = builder.run_stage(*index, stage_label, escape)?;
        builder.results[*index] = Some(result);
    }
    let target = *order.last().expect("a plan has a target");
    let mut result = builder.results[target]
        .take()
        .expect("the target stage was built");
    if !request.labels.is_empty() {
        let labels = result
            .config
            .config
            .labels
            .get_or_insert_with(Default::default);
        labels.extend(request.labels.clone());
    }
    let store = runtime.store;
    let (id, manifest) = commit::write_image(store, &result.config, &result.layers)?;
    commit::tag(store, &request.tags, &manifest)?;
    Ok(Built { id, manifest })
}

/// A RUN step's secret files: a scratch directory, removed when the step is done.
struct SecretFiles<'a> {
    runtime: &'a Runtime<'a>,
    dir: Option<PathBuf>,
}

impl Drop for SecretFiles<'_> {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            self.runtime.remove_tree(dir);
        }
    }
}

/// Where `RUN --mount=type=ssh` puts the agent's socket by default (BuildKit's).
fn ssh_target(n: usize) -> String {
    format!("/run/buildkit/ssh_agent.{n}")
}

/// Writes a secret for one step, readable by its owner only unless `mode` says more.
fn write_private(path: &std::path::Path, value: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(value)?;
    file.set_permissions(std::fs::Permissions::from_mode(mode & 0o777))
}

/// A parsed `RUN --mount` value.
fn mount_options(text: &str) -> BTreeMap<String, String> {
    text.split(',')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().to_string()),
            None => (kv.trim().to_ascii_lowercase(), "true".into()),
        })
        .collect()
}

impl Builder<'_> {
    fn err(&self, line: usize, message: impl Into<String>) -> BuildError {
        BuildError::Step {
            file: self.file.clone(),
            message: format!("line {line}: {}", message.into()),
            hint: None,
        }
    }

    fn err_hint(&self, line: usize, message: impl Into<String>, hint: &str) -> BuildError {
        BuildError::Step {
            file: self.file.clone(),
            message: format!("line {line}: {}", message.into()),
            hint: Some(hint.into()),
        }
    }

    fn store(&self) -> &crate::store::Store {
        self.runtime.store
    }

    fn layer_view(&self, diff_ids: &[Digest]) -> LayerFiles {
        LayerFiles {
            layers: diff_ids
                .iter()
                .map(|d| commit::layer_diff(self.store(), d))
                .collect(),
        }
    }

    /// An image a step names (`what` is `FROM ` or `--from=`): from the store, pulled
    /// from its registry first when missing or with `--pull` (as `docker build`).
    fn image(
        &self,
        name: &str,
        line: usize,
        what: &str,
    ) -> Result<crate::store::images::Image, BuildError> {
        let found = commit::base_image(self.store(), name);
        let missing = matches!(found, Err(StoreError::NoSuchImage(_)));
        if !(missing || self.request.inputs.pull) {
            return found.map_err(|e| self.err(line, format!("{what}{name}: {e}")));
        }
        let Some(puller) = self.runtime.puller else {
            return found.map_err(|e| match e {
                StoreError::NoSuchImage(_) => self.err_hint(
                    line,
                    format!("{what}{name}: no such image in the local store"),
                    "import, load or pull the image first (`devbox images` lists what is there)",
                ),
                other => self.err(line, format!("{what}{name}: {other}")),
            });
        };
        puller.pull(name).map_err(|e| {
            self.err_hint(
                line,
                format!("{what}{name}: cannot pull the image: {e}"),
                "check the name and the registry (`devbox pull` it to see more), or load the image into the store",
            )
        })?;
        commit::base_image(self.store(), name)
            .map_err(|e| self.err(line, format!("{what}{name}: {e}")))
    }

    /// The files of `COPY --from` / `--mount from=`.
    fn source_view(&self, index: usize, from: &str, line: usize) -> Result<LayerFiles, BuildError> {
        match plan::resolve_source(&self.plan.stages, index, from) {
            Source::Stage(i) => {
                let result = self.results[i]
                    .as_ref()
                    .ok_or_else(|| self.err(line, format!("stage `{from}` was not built")))?;
                Ok(self.layer_view(&result.config.rootfs.diff_ids))
            }
            Source::Image(name) => {
                let image = self.image(&name, line, "--from=")?;
                Ok(self.layer_view(&image.config.rootfs.diff_ids))
            }
        }
    }

    fn run_stage(
        &mut self,
        index: usize,
        stage_label: Option<(usize, usize)>,
        escape: char,
    ) -> Result<StageResult, BuildError> {
        let stage = self.plan.stages[index].clone();
        let from_line = stage.from.start_line;
        let genesis = Digest::of(b"devbox-build-v1");
        let (base, key) = match &stage.base {
            Base::Scratch => (
                StageResult {
                    config: ImageConfig {
                        architecture: oci::host_architecture().into(),
                        os: "linux".into(),
                        rootfs: RootFs {
                            kind: "layers".into(),
                            diff_ids: Vec::new(),
                        },
                        ..ImageConfig::default()
                    },
                    layers: Vec::new(),
                    key: genesis.clone(),
                },
                cache::next_key(&genesis, "FROM scratch"),
            ),
            Base::Stage(i) => {
                let r = self.results[*i]
                    .clone()
                    .ok_or_else(|| self.err(from_line, "the base stage was not built"))?;
                let key = r.key.clone();
                (r, key)
            }
            Base::Image(name) => {
                let image = self.image(name, from_line, "FROM ")?;
                let key = cache::next_key(&genesis, &format!("FROM {}", image.id));
                (
                    StageResult {
                        config: image.config,
                        layers: image.manifest.layers,
                        key: image.id,
                    },
                    key,
                )
            }
        };
        let mut state = StageState::new(base.config.config.clone(), escape);
        state.author = base.config.author.clone();
        let triggers = state.config.on_build.take().unwrap_or_default();
        let mut steps = stage::onbuild_steps(&triggers, from_line)
            .map_err(|e| self.err(from_line, e.to_string()))?;
        steps.extend(stage.steps.iter().cloned());
        let mut current = Current {
            state,
            diff_ids: base.config.rootfs.diff_ids.clone(),
            layers: base.layers.clone(),
            history: base.config.history.clone(),
            key,
            created: base.config.created.clone(),
        };
        let total = steps.len() + 1;
        self.reporter
            .step(stage_label, 1, total, stage.from.original.trim());
        for (n, step) in steps.iter().enumerate() {
            self.reporter
                .step(stage_label, n + 2, total, step.original.trim());
            let started = Instant::now();
            let cached = self.run_step(index, step, &mut current)?;
            if cached {
                self.reporter.cached();
            } else {
                self.reporter.done(started.elapsed());
            }
        }
        let config = ImageConfig {
            created: current.created.clone(),
            author: current.state.author.clone(),
            architecture: oci::host_architecture().into(),
            os: "linux".into(),
            config: current.state.config.clone(),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: current.diff_ids.clone(),
            },
            history: current.history.clone(),
        };
        Ok(StageResult {
            config,
            layers: current.layers,
            key: current.key,
        })
    }

    /// Runs one step; returns whether it came from the cache.
    fn run_step(&self, index: usize, step: &Step, cur: &mut Current) -> Result<bool, BuildError> {
        let line = step.start_line;
        let expand_err = |e: super::stage::StageError| self.err(line, e.to_string());
        match &step.instruction {
            Instruction::Arg(decls) => {
                cur.state
                    .declare_args(step, decls, &self.request.build_args, &self.plan.meta_args)
                    .map_err(expand_err)?;
                // Only the names: a value reaches the cache through the steps that
                // use it (RUN's environment, expanded words), as in Docker, so a
                // new value does not invalidate a COPY that ignores it.
                let names: Vec<&str> = decls.iter().map(|d| d.key.as_str()).collect();
                cur.key = cache::next_key(&cur.key, &format!("ARG {}", names.join(" ")));
                Ok(false)
            }
            Instruction::Workdir(dir) => self.workdir_instruction(step, dir, cur),
            Instruction::Run(run) => self.run_instruction(index, step, run, cur),
            Instruction::Copy(c) => self.copy_instruction(
                index,
                step,
                cur,
                CopyArgs {
                    keyword: "COPY",
                    files: &c.files,
                    from: c.from.as_deref(),
                    chown: c.chown.as_deref(),
                    chmod: c.chmod.as_deref(),
                },
            ),
            Instruction::Add(a) => self.copy_instruction(
                index,
                step,
                cur,
                CopyArgs {
                    keyword: "ADD",
                    files: &a.files,
                    from: None,
                    chown: a.chown.as_deref(),
                    chmod: a.chmod.as_deref(),
                },
            ),
            Instruction::From(_) => Err(self.err(line, "unexpected FROM inside a stage")),
            _ => {
                let created_by = cur
                    .state
                    .apply_metadata(step)
                    .map_err(expand_err)?
                    .ok_or_else(|| self.err(line, "unsupported instruction"))?;
                self.empty_step(cur, created_by);
                Ok(false)
            }
        }
    }

    /// A step that only changes the config: an `empty_layer` history entry.
    fn empty_step(&self, cur: &mut Current, created_by: String) {
        cur.key = cache::next_key(&cur.key, &created_by);
        cur.history.push(History {
            created: cur.created.clone(),
            created_by: Some(created_by),
            comment: Some("devbox build".into()),
            empty_layer: true,
        });
    }

    /// Records a layer step's outcome (from the cache or fresh).
    fn add_layer(&self, cur: &mut Current, entry: &Entry, created_by: String) {
        cur.created = Some(entry.created.clone());
        let empty = entry.layer.is_none();
        if let Some((blob, diff_id)) = &entry.layer {
            cur.layers.push(blob.clone());
            cur.diff_ids.push(diff_id.clone());
        }
        cur.history.push(History {
            created: Some(entry.created.clone()),
            created_by: Some(created_by),
            comment: Some("devbox build".into()),
            empty_layer: empty,
        });
    }

    fn cached(&self, key: &Digest) -> Option<Entry> {
        if self.request.no_cache {
            return None;
        }
        cache::lookup(self.store(), key)
    }

    fn run_instruction(
        &self,
        index: usize,
        step: &Step,
        run: &super::dockerfile::instruction::Run,
        cur: &mut Current,
    ) -> Result<bool, BuildError> {
        let line = step.start_line;
        let argv = cur.state.command_argv(&run.command);
        if argv.is_empty() {
            return Err(self.err(line, "RUN has no command"));
        }
        let network = match run.network.as_deref() {
            None | Some("default") => self.request.network,
            Some("none") => Network::None,
            Some("host") => Network::Host,
            Some(other) => {
                return Err(self.err(
                    line,
                    format!("RUN --network={other}: expected default, none or host"),
                ))
            }
        };
        let mut binds = Vec::new();
        let mut env = cur.state.run_env(&self.request.build_args);
        // Secrets and agent sockets: bound for this step only, never part of a layer.
        let mut host_inputs = SecretFiles {
            runtime: self.runtime,
            dir: None,
        };
        let (input_binds, input_env) =
            self.host_input_mounts(line, &run.mounts, &mut host_inputs)?;
        binds.extend(input_binds);
        env.extend(input_env);
        // `sharing=locked` cache mounts: one RUN at a time uses the directory.
        let mut _locks = Vec::new();
        for mount in &run.mounts {
            if matches!(
                mount_options(mount).get("type").map(String::as_str),
                Some("secret" | "ssh")
            ) {
                continue;
            }
            let bind = self.mount(index, line, mount)?;
            let opts = mount_options(mount);
            if opts.get("type").map(String::as_str) == Some("cache")
                && opts.get("sharing").map(String::as_str) == Some("locked")
            {
                let lock = PathBuf::from(format!("{}.lock", bind.source.display()));
                _locks.push(crate::store::lock::Lock::exclusive(&lock)?);
            }
            binds.push(bind);
        }
        let created_by = format!("RUN {}", argv.join(" "));
        let key_text = format!(
            "RUN {}\nargs: {}\nmounts: {}\nnetwork: {:?}",
            stage::json(&argv),
            cur.state.args_for_key().join(" "),
            run.mounts.join(" "),
            run.network
        );
        let key = cache::next_key(&cur.key, &key_text);
        cur.key = key.clone();
        if let Some(entry) = self.cached(&key) {
            self.add_layer(cur, &entry, created_by);
            return Ok(true);
        }
        if cur.diff_ids.is_empty() {
            return Err(self.err(
                line,
                "RUN needs a base image with a shell (this stage is FROM scratch with no files)",
            ));
        }
        let run_step = RunStep {
            layers: cur.diff_ids.clone(),
            argv: argv.clone(),
            env,
            workdir: cur
                .state
                .config
                .working_dir
                .clone()
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".into()),
            user: cur.state.config.user.clone(),
            network,
            binds: binds.clone(),
        };
        let finished = self.runtime.run(&run_step);
        drop(host_inputs);
        let finished = finished.map_err(|e| match e {
            e @ RuntimeError::Exec { .. } => self.err(
                line,
                format!(
                    "RUN {}: {e} (exit code {})",
                    stage::json(&argv),
                    e.exit_code()
                ),
            ),
            other => BuildError::Runtime(other),
        })?;
        if finished.exit_code != 0 {
            self.runtime.discard(&finished.container_id);
            return Err(self.err(
                line,
                format!(
                    "RUN {}: process did not complete successfully: exit code: {}",
                    stage::json(&argv),
                    finished.exit_code
                ),
            ));
        }
        let mut stubs: Vec<String> = MOUNT_STUBS.iter().map(|s| s.to_string()).collect();
        stubs.extend(binds.iter().map(|b| b.target.trim_matches('/').to_string()));
        let scratch = commit::scratch_dir(self.store())?;
        let outcome = (|| -> Result<Option<(Descriptor, Digest)>, BuildError> {
            let blob = self.runtime.pack(&finished.upper, &scratch, &stubs)?;
            if blob.entries == 0 {
                return Ok(None);
            }
            let descriptor = commit::publish_blob(self.store(), &blob)?;
            commit::publish_dir(self.store(), self.runtime, &finished.upper, &blob.diff_id)?;
            Ok(Some((descriptor, blob.diff_id)))
        })();
        self.runtime.discard(&finished.container_id);
        self.runtime.remove_tree(&scratch);
        self.remember(&key, outcome?, cur, created_by)
    }

    /// Records a step that ran in the cache and adds its layer.
    fn remember(
        &self,
        key: &Digest,
        layer: Option<(Descriptor, Digest)>,
        cur: &mut Current,
        created_by: String,
    ) -> Result<bool, BuildError> {
        let entry = Entry {
            layer,
            created: crate::runtime::state::now(),
        };
        cache::record(self.store(), key, &entry)?;
        self.add_layer(cur, &entry, created_by);
        Ok(false)
    }

    /// `RUN --mount=type=secret` and `type=ssh` as bind mounts of a file written for the
    /// step (mode 0400 unless `mode=`, owned by root inside) or of the agent's socket,
    /// with `SSH_AUTH_SOCK` for the step. A missing one is an error with `required`, else
    /// nothing is mounted (BuildKit's).
    fn host_input_mounts(
        &self,
        line: usize,
        mounts: &[String],
        files: &mut SecretFiles,
    ) -> Result<(Vec<BindMount>, Vec<String>), BuildError> {
        let (mut binds, mut env) = (Vec::new(), Vec::new());
        let bind = |source: PathBuf, target: String| BindMount {
            source,
            target,
            readonly: true,
            propagation: Default::default(),
        };
        for text in mounts {
            let opts = mount_options(text);
            let required = opts.get("required").is_some_and(|v| v == "true");
            let target = opts
                .get("target")
                .or_else(|| opts.get("dst"))
                .or_else(|| opts.get("destination"));
            match opts.get("type").map(String::as_str) {
                Some("secret") => {
                    let id = opts
                        .get("id")
                        .cloned()
                        .or_else(|| target.and_then(|t| t.rsplit('/').next().map(str::to_string)))
                        .ok_or_else(|| {
                            self.err(
                                line,
                                format!("--mount={text}: an id or a target is required"),
                            )
                        })?;
                    if opts.get("uid").is_some_and(|v| v != "0")
                        || opts.get("gid").is_some_and(|v| v != "0")
                    {
                        return Err(self.err(
                            line,
                            format!("--mount={text}: uid and gid other than 0 are not supported (the secret belongs to root; use mode=0444 to let other users read it)"),
                        ));
                    }
                    let mode = match opts.get("mode") {
                        Some(m) => u32::from_str_radix(m, 8).map_err(|_| {
                            self.err(line, format!("--mount={text}: invalid mode `{m}`"))
                        })?,
                        None => 0o400,
                    };
                    let value = match self.request.inputs.secrets.get(&id) {
                        Some(SecretSource::File(path)) => {
                            Some(std::fs::read(path).map_err(|e| {
                                self.err(
                                    line,
                                    format!("secret `{id}`: cannot read {}: {e}", path.display()),
                                )
                            })?)
                        }
                        Some(SecretSource::Env(var)) => {
                            std::env::var_os(var).map(std::os::unix::ffi::OsStringExt::into_vec)
                        }
                        None => None,
                    };
                    let Some(value) = value else {
                        if required {
                            return Err(self.err_hint(
                                line,
                                format!("secret `{id}` is required but was not given"),
                                &format!("pass it with `--secret id={id},src=FILE` (or env=VAR)"),
                            ));
                        }
                        continue;
                    };
                    let dir = match &files.dir {
                        Some(dir) => dir.clone(),
                        None => files.dir.insert(commit::scratch_dir(self.store())?).clone(),
                    };
                    let file = dir.join(format!("secret-{}", binds.len()));
                    write_private(&file, &value, mode)?;
                    let target = target
                        .cloned()
                        .unwrap_or_else(|| format!("/run/secrets/{id}"));
                    binds.push(bind(file, target));
                }
                Some("ssh") => {
                    let id = opts.get("id").map_or("default", String::as_str);
                    let Some(socket) = self.request.inputs.ssh.get(id) else {
                        if required {
                            return Err(self.err_hint(
                                line,
                                format!("ssh agent `{id}` is required but was not given"),
                                &format!("pass it with `--ssh {id}` (uses $SSH_AUTH_SOCK) or `--ssh {id}=SOCKET`"),
                            ));
                        }
                        continue;
                    };
                    let target = target.cloned().unwrap_or_else(|| ssh_target(binds.len()));
                    env.push(format!("SSH_AUTH_SOCK={target}"));
                    binds.push(bind(socket.clone(), target));
                }
                _ => {}
            }
        }
        Ok((binds, env))
    }

    /// A `RUN --mount=...` as a bind mount.
    fn mount(&self, index: usize, line: usize, text: &str) -> Result<BindMount, BuildError> {
        let opts = mount_options(text);
        let kind = opts.get("type").map(String::as_str).unwrap_or("bind");
        let target = opts
            .get("target")
            .or_else(|| opts.get("dst"))
            .or_else(|| opts.get("destination"))
            .cloned()
            .ok_or_else(|| self.err(line, format!("--mount={text}: a target is required")))?;
        let target = if target.starts_with('/') {
            target
        } else {
            format!("/{target}")
        };
        match kind {
            "cache" => {
                let id = opts.get("id").cloned().unwrap_or_else(|| target.clone());
                let source = commit::cache_mount_dir(self.store(), &id)?;
                Ok(BindMount {
                    source,
                    target,
                    readonly: false,
                    propagation: Default::default(),
                })
            }
            "bind" => {
                let rel = super::ignore::clean_path(
                    opts.get("source")
                        .or_else(|| opts.get("src"))
                        .map(String::as_str)
                        .unwrap_or(".")
                        .trim_start_matches('/'),
                );
                let source = match opts.get("from") {
                    Some(from) => {
                        let view = self.source_view(index, from, line)?;
                        let rel = if rel == "." { String::new() } else { rel };
                        view.stat(&rel).map(|(p, _)| p).ok_or_else(|| {
                            self.err(line, format!("--mount={text}: {rel} not found in {from}"))
                        })?
                    }
                    None if rel == "." => self.request.context.clone(),
                    None if rel.starts_with("..") => {
                        return Err(self.err(
                            line,
                            format!("--mount={text}: the source leaves the build context"),
                        ))
                    }
                    None => self.request.context.join(&rel),
                };
                let readonly = !matches!(
                    opts.get("rw")
                        .or_else(|| opts.get("readwrite"))
                        .map(String::as_str),
                    Some("true")
                );
                Ok(BindMount {
                    source,
                    target,
                    readonly,
                    propagation: Default::default(),
                })
            }
            "tmpfs" => Ok(BindMount {
                source: commit::scratch_dir(self.store())?,
                target,
                readonly: false,
                propagation: Default::default(),
            }),
            other => Err(self.err(
                line,
                format!("--mount=type={other} is not supported (cache, bind and tmpfs are)"),
            )),
        }
    }

    fn copy_instruction(
        &self,
        index: usize,
        step: &Step,
        cur: &mut Current,
        args: CopyArgs,
    ) -> Result<bool, BuildError> {
        let line = step.start_line;
        let expand = |w: &str| {
            cur.state
                .expand(w, line)
                .map_err(|e| self.err(line, e.to_string()))
        };
        let all_sources = args
            .files
            .source_paths
            .iter()
            .map(|s| expand(s))
            .collect::<Result<Vec<_>, _>>()?;
        let is_url = |s: &String| s.starts_with("http://") || s.starts_with("https://");
        let (urls, sources): (Vec<String>, Vec<String>) = all_sources
            .into_iter()
            .partition(|s| args.keyword == "ADD" && is_url(s));
        let scratch = commit::scratch_dir(self.store())?;
        let mut fetched = Vec::new();
        for url in &urls {
            match download(url, &scratch) {
                Ok(file) => fetched.push(file),
                Err(e) => {
                    self.runtime.remove_tree(&scratch);
                    return Err(self.err(line, format!("ADD {url}: {e}")));
                }
            }
        }
        let mut inline = Vec::new();
        for content in &args.files.source_contents {
            let data = if content.expand {
                expand(&content.data)?
            } else {
                content.data.clone()
            };
            inline.push((content.path.clone(), data));
        }
        let dest = cur.state.image_path(&expand(&args.files.dest)?);
        let view_here = self.layer_view(&cur.diff_ids);
        // Follow symlinks in the destination (`/bin/` in a merged-/usr image).
        let dest = {
            let resolved = super::files::resolve_links(&view_here, &dest);
            if dest.ends_with('/') {
                format!("/{resolved}/")
            } else {
                format!("/{resolved}")
            }
        };
        let from = args.from.map(expand).transpose()?;
        let owner = match args.chown {
            None => (0, 0),
            Some(chown) => self.owner(&expand(chown)?, &view_here, line)?,
        };
        let chmod = match args.chmod {
            None => None,
            Some(m) => Some(copy::parse_chmod(m).ok_or_else(|| {
                self.err(
                    line,
                    format!("invalid --chmod={m}: expected an octal mode such as 755"),
                )
            })?),
        };
        let from_view;
        let source_files: &dyn Files = match &from {
            Some(f) => {
                from_view = self.source_view(index, f, line)?;
                &from_view
            }
            None => &self.context,
        };
        let dest_rel = dest.trim_matches('/').to_string();
        let dest_is_dir = view_here.stat(&dest_rel).is_some_and(|(_, m)| m.is_dir());
        let request = CopyRequest {
            instruction: args.keyword,
            files: source_files,
            sources: sources.clone(),
            inline,
            fetched,
            dest: dest.clone(),
            dest_is_dir,
            chmod,
            extract_archives: args.keyword == "ADD",
        };
        let listed = copy::items(&request).and_then(|items| {
            let digest = copy::content_digest(&items)?;
            Ok((items, digest))
        });
        let (items, digest) = match listed {
            Ok(found) => found,
            Err(e) => {
                self.runtime.remove_tree(&scratch);
                return Err(self.err(line, e.to_string()));
            }
        };
        let created_by = format!(
            "{} {} {dest}",
            args.keyword,
            urls.iter()
                .chain(&sources)
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        );
        let key_text = format!(
            "{} from={from:?} chown={owner:?} chmod={chmod:?} dest={dest} content={digest}",
            args.keyword
        );
        let key = cache::next_key(&cur.key, &key_text);
        cur.key = key.clone();
        if let Some(entry) = self.cached(&key) {
            self.runtime.remove_tree(&scratch);
            self.add_layer(cur, &entry, created_by);
            return Ok(true);
        }
        let written = FileLayer {
            items: &items,
            owner,
            view: &view_here,
            dest_rel: &dest_rel,
            scratch: &scratch,
            line,
        };
        let outcome = self.write_file_layer(&written);
        self.runtime.remove_tree(&scratch);
        self.remember(&key, Some(outcome?), cur, created_by)
    }

    /// Writes COPY-style items as a layer tar, stores the blob and unpacks it.
    fn write_file_layer(&self, layer: &FileLayer) -> Result<(Descriptor, Digest), BuildError> {
        let line = layer.line;
        let mut writer = LayerWriter::create(&layer.scratch.join("layer.tar.gz"))?;
        let parent = |rel: &str| -> tar::Header {
            use std::os::unix::fs::MetadataExt;
            match layer.view.stat(rel) {
                Some((_, m)) if m.is_dir() => {
                    let ids = self.runtime.inside_ids(m.uid(), m.gid());
                    copy::dir_header(m.mode() & 0o7777, ids, m.mtime())
                }
                _ if rel == layer.dest_rel => copy::dir_header(0o755, layer.owner, 0),
                _ => copy::dir_header(0o755, (0, 0), 0),
            }
        };
        copy::write_layer(&mut writer, layer.items, layer.owner, &parent)
            .map_err(|e| self.err(line, e.to_string()))?;
        let blob = writer.finish()?;
        let descriptor = commit::publish_blob(self.store(), &blob)?;
        commit::publish_unpacked(self.store(), self.runtime, &blob.digest, &blob.diff_id)
            .map_err(|e| self.err(line, format!("cannot unpack the layer: {e}")))?;
        Ok((descriptor, blob.diff_id))
    }

    /// WORKDIR creates a missing directory (owned by USER, as BuildKit does),
    /// as a small layer.
    fn workdir_instruction(
        &self,
        step: &Step,
        dir: &str,
        cur: &mut Current,
    ) -> Result<bool, BuildError> {
        let line = step.start_line;
        let path = cur
            .state
            .workdir(dir, line)
            .map_err(|e| self.err(line, e.to_string()))?;
        let view = self.layer_view(&cur.diff_ids);
        let rel = super::files::resolve_links(&view, &path);
        let exists = rel.is_empty() || view.stat(&rel).is_some_and(|(_, m)| m.is_dir());
        let created_by = format!("WORKDIR {path}");
        if exists || cur.diff_ids.is_empty() {
            self.empty_step(cur, created_by);
            return Ok(false);
        }
        let owner = match cur.state.config.user.as_deref().filter(|u| !u.is_empty()) {
            Some(user) => self.owner(user, &view, line).unwrap_or((0, 0)),
            None => (0, 0),
        };
        let key = cache::next_key(&cur.key, &format!("{created_by} owner={owner:?}"));
        cur.key = key.clone();
        if let Some(entry) = self.cached(&key) {
            self.add_layer(cur, &entry, created_by);
            return Ok(true);
        }
        let items = [copy::Item {
            target: rel.clone(),
            source: copy::ItemSource::Dir,
            mode: 0o755,
            mtime: 0,
        }];
        let scratch = commit::scratch_dir(self.store())?;
        let outcome = self.write_file_layer(&FileLayer {
            items: &items,
            owner,
            view: &view,
            dest_rel: &rel,
            scratch: &scratch,
            line,
        });
        self.runtime.remove_tree(&scratch);
        self.remember(&key, Some(outcome?), cur, created_by)
    }

    /// `--chown=user[:group]`, names looked up in the image's passwd/group.
    fn owner(&self, chown: &str, view: &LayerFiles, line: usize) -> Result<(u32, u32), BuildError> {
        let spec = crate::spec::user::UserSpec::parse(chown)
            .map_err(|e| self.err(line, format!("--chown: {e}")))?;
        let read = |rel: &str| {
            view.stat(rel)
                .and_then(|(p, _)| std::fs::read_to_string(p).ok())
                .unwrap_or_default()
        };
        let user = crate::spec::user::resolve(&spec, &read("etc/passwd"), &read("etc/group"))
            .map_err(|e| self.err(line, format!("--chown={chown}: {e}")))?;
        Ok((user.uid, user.gid))
    }
}

/// ADD of a URL: the file is saved in `dir` under the URL's last path
/// segment (Docker's name rule).
fn download(url: &str, dir: &std::path::Path) -> Result<(String, PathBuf), String> {
    let name = url_file_name(url);
    let response = ureq::get(url).call().map_err(|e| e.to_string())?;
    let fetched = dir.join(format!("fetched-{}", name.replace('/', "_")));
    let mut file = std::fs::File::create(&fetched).map_err(|e| e.to_string())?;
    std::io::copy(&mut response.into_body().into_reader(), &mut file)
        .map_err(|e| format!("download failed: {e}"))?;
    Ok((name, fetched))
}

/// The file name of a downloaded URL: its last path segment, else `download`.
fn url_file_name(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or(url);
    let path = without_query
        .split_once("://")
        .map_or(without_query, |(_, rest)| rest);
    match path.split_once('/') {
        Some((_, p)) => p.rsplit('/').next().filter(|n| !n.is_empty()),
        None => None,
    }
    .unwrap_or("download")
    .to_string()
}

/// A layer of files written by the builder itself (COPY, ADD, WORKDIR).
struct FileLayer<'a> {
    items: &'a [copy::Item],
    owner: (u32, u32),
    /// The stage's files so far (parent directories keep their metadata).
    view: &'a LayerFiles,
    dest_rel: &'a str,
    scratch: &'a std::path::Path,
    line: usize,
}

/// The parts of COPY and ADD the copy step needs.
struct CopyArgs<'a> {
    keyword: &'static str,
    files: &'a super::dockerfile::instruction::SourcesAndDest,
    from: Option<&'a str>,
    chown: Option<&'a str>,
    chmod: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_flags() {
        let m = mount_options("type=cache,target=/root/.cache/pip,id=pip,sharing=locked");
        assert_eq!(m["type"], "cache");
        assert_eq!(m["target"], "/root/.cache/pip");
        assert_eq!(m["id"], "pip");
        assert_eq!(mount_options("type=bind,rw")["rw"], "true");
    }

    #[test]
    fn download_names() {
        assert_eq!(
            url_file_name("https://example.com/a/b/file.tar.gz?x=1"),
            "file.tar.gz"
        );
        assert_eq!(url_file_name("http://127.0.0.1:8000"), "download");
        assert_eq!(url_file_name("http://host/dir/"), "download");
    }
}
