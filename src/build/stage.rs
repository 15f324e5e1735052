//! The state of one stage while it is built (pure): the image config the
//! instructions change, the ARGs in scope, and Docker's expansion rules
//! (ENV wins over ARG; RUN, CMD and ENTRYPOINT are not expanded by the
//! builder, the shell does it).

use std::collections::BTreeMap;

use super::dockerfile::instruction::{CommandLine, Healthcheck, Instruction, Step};
use super::dockerfile::{ExpandError, Expander};
use super::plan::{self, PlanError};
use crate::image::oci::{Healthcheck as HealthConfig, RunConfig};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    #[error("line {line}: {source}")]
    Expand {
        line: usize,
        #[source]
        source: ExpandError,
    },
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("line {line}: {message}")]
    Invalid { line: usize, message: String },
}

/// A stage's evolving configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct StageState {
    pub config: RunConfig,
    /// ARGs declared in this stage, with their values (unset ones absent).
    pub args: BTreeMap<String, String>,
    /// Names of the ARGs declared in this stage (set or not).
    pub declared: Vec<String>,
    pub escape: char,
    pub author: Option<String>,
}

impl StageState {
    pub fn new(config: RunConfig, escape: char) -> StageState {
        StageState {
            config,
            args: BTreeMap::new(),
            declared: Vec::new(),
            escape,
            author: None,
        }
    }

    fn expander(&self) -> Expander {
        Expander::new(self.escape)
    }

    /// The variables an instruction sees: ARGs, overridden by ENV.
    pub fn expansion_env(&self) -> BTreeMap<String, String> {
        let mut env = self.args.clone();
        for entry in self.config.env.iter().flatten() {
            let (k, v) = entry.split_once('=').unwrap_or((entry, ""));
            env.insert(k.to_string(), v.to_string());
        }
        env
    }

    pub fn expand(&self, word: &str, line: usize) -> Result<String, StageError> {
        self.expander()
            .process_word(word, &self.expansion_env())
            .map_err(|source| StageError::Expand { line, source })
    }

    /// The environment of a RUN: the image ENV, plus the ARGs in scope (not
    /// shadowed by ENV), plus proxy build args.
    pub fn run_env(&self, build_args: &BTreeMap<String, String>) -> Vec<String> {
        let mut env: Vec<String> = self.config.env.clone().unwrap_or_default();
        let has = |env: &[String], k: &str| {
            env.iter()
                .any(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) == k)
        };
        for (k, v) in &self.args {
            if !has(&env, k) {
                env.push(format!("{k}={v}"));
            }
        }
        for (k, v) in build_args {
            if plan::is_proxy_arg(k) && !has(&env, k) {
                env.push(format!("{k}={v}"));
            }
        }
        env
    }

    /// The ARGs that make up a RUN's cache key: declared ones only (proxy
    /// args are left out unless declared, as Docker does).
    pub fn args_for_key(&self) -> Vec<String> {
        self.args.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// The argv of a shell- or exec-form command under this stage's SHELL.
    pub fn command_argv(&self, line: &CommandLine) -> Vec<String> {
        if !line.prepend_shell {
            return line.args.clone();
        }
        let mut argv = self
            .config
            .shell
            .clone()
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
        let mut text = line.args.join(" ");
        // `RUN <<EOF` alone: the heredoc body is the script.
        if let [file] = line.files.as_slice() {
            if text.trim().starts_with("<<") && !text.contains('|') {
                text = if file.chomp {
                    crate::build::dockerfile::lexer::chomp_heredoc_content(&file.data)
                } else {
                    file.data.clone()
                };
            }
        }
        argv.push(text);
        argv
    }

    /// Declares ARGs in this stage.
    pub fn declare_args(
        &mut self,
        step: &Step,
        decls: &[super::dockerfile::instruction::ArgDecl],
        build_args: &BTreeMap<String, String>,
        meta_args: &BTreeMap<String, String>,
    ) -> Result<(), StageError> {
        for decl in decls {
            // An ARG without default inherits the global ARG's value.
            let mut defined = meta_args.clone();
            defined.extend(self.expansion_env());
            if let Some(v) = plan::arg_value(decl, build_args, &defined, step)? {
                self.args.insert(decl.key.clone(), v);
            }
            self.declared.push(decl.key.clone());
        }
        Ok(())
    }

    /// Applies an instruction that only changes the config; returns the
    /// history text (`ENV A=1`), or None if `instruction` is not one.
    pub fn apply_metadata(&mut self, step: &Step) -> Result<Option<String>, StageError> {
        let line = step.start_line;
        let created_by = match &step.instruction {
            Instruction::Env(pairs) => {
                let mut words = Vec::new();
                for kv in pairs {
                    let value = self.expand(&kv.value, line)?;
                    let mut vars = self.config.env.clone().unwrap_or_default();
                    vars.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != kv.key);
                    vars.push(format!("{}={value}", kv.key));
                    self.config.env = Some(vars);
                    words.push(format!("{}={value}", kv.key));
                }
                format!("ENV {}", words.join(" "))
            }
            Instruction::Label(pairs) => {
                let mut words = Vec::new();
                for kv in pairs {
                    let key = self.expand(&kv.key, line)?;
                    let value = self.expand(&kv.value, line)?;
                    words.push(format!("{key}={value}"));
                    self.config
                        .labels
                        .get_or_insert_with(Default::default)
                        .insert(key, value);
                }
                format!("LABEL {}", words.join(" "))
            }
            Instruction::Maintainer(name) => {
                self.author = Some(name.clone());
                format!("MAINTAINER {name}")
            }
            Instruction::User(user) => {
                let user = self.expand(user, line)?;
                self.config.user = Some(user.clone());
                format!("USER {user}")
            }
            Instruction::Expose(ports) => {
                let mut words = Vec::new();
                for p in ports {
                    let p = self.expand(p, line)?;
                    let p = if p.contains('/') {
                        p
                    } else {
                        format!("{p}/tcp")
                    };
                    words.push(p.clone());
                    self.config
                        .exposed_ports
                        .get_or_insert_with(Default::default)
                        .insert(p, serde_json::json!({}));
                }
                format!("EXPOSE map[{}]", words.join(" "))
            }
            Instruction::Volume(paths) => {
                let mut words = Vec::new();
                for v in paths {
                    let v = self.expand(v, line)?;
                    words.push(v.clone());
                    self.config
                        .volumes
                        .get_or_insert_with(Default::default)
                        .insert(v, serde_json::json!({}));
                }
                format!("VOLUME [{}]", words.join(" "))
            }
            Instruction::StopSignal(signal) => {
                let signal = self.expand(signal, line)?;
                self.config.stop_signal = Some(signal.clone());
                format!("STOPSIGNAL {signal}")
            }
            Instruction::Cmd(cmd) => {
                let argv = self.command_argv(cmd);
                self.config.cmd = Some(argv.clone());
                format!("CMD {}", json(&argv))
            }
            Instruction::Entrypoint(ep) => {
                let argv = self.command_argv(ep);
                self.config.entrypoint = Some(argv.clone());
                // Docker: a new ENTRYPOINT resets an inherited CMD.
                self.config.cmd = None;
                format!("ENTRYPOINT {}", json(&argv))
            }
            Instruction::Shell(shell) => {
                self.config.shell = Some(shell.clone());
                format!("SHELL {}", json(shell))
            }
            Instruction::Healthcheck(check) => {
                let health = match check {
                    Healthcheck::None => HealthConfig {
                        test: Some(vec!["NONE".into()]),
                        ..HealthConfig::default()
                    },
                    Healthcheck::Check(h) => {
                        let nanos = |d: Option<std::time::Duration>| {
                            d.map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
                        };
                        HealthConfig {
                            test: Some(h.test.clone()),
                            interval: nanos(h.interval),
                            timeout: nanos(h.timeout),
                            start_period: nanos(h.start_period),
                            start_interval: nanos(h.start_interval),
                            retries: h.retries,
                        }
                    }
                };
                let text = format!(
                    "HEALTHCHECK {}",
                    json(health.test.as_deref().unwrap_or_default())
                );
                self.config.healthcheck = Some(health);
                text
            }
            Instruction::Onbuild(trigger) => {
                self.config
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(trigger.clone());
                format!("ONBUILD {trigger}")
            }
            _ => return Ok(None),
        };
        Ok(Some(created_by))
    }

    /// WORKDIR: an absolute path (relative ones join the current one).
    pub fn workdir(&mut self, dir: &str, line: usize) -> Result<String, StageError> {
        let dir = self.expand(dir, line)?;
        let base = self
            .config
            .working_dir
            .clone()
            .unwrap_or_else(|| "/".into());
        let joined = if dir.starts_with('/') {
            dir
        } else {
            format!("{}/{dir}", base.trim_end_matches('/'))
        };
        let cleaned = super::ignore::clean_path(&joined);
        self.config.working_dir = Some(cleaned.clone());
        Ok(cleaned)
    }

    /// A path in the image: relative ones are under WORKDIR. A trailing
    /// `/` is kept (it means "a directory").
    pub fn image_path(&self, path: &str) -> String {
        let dir = path.ends_with('/') || path.ends_with("/.") || path == ".";
        let joined = if path.starts_with('/') {
            path.to_string()
        } else {
            let base = self
                .config
                .working_dir
                .clone()
                .unwrap_or_else(|| "/".into());
            format!("{}/{path}", base.trim_end_matches('/'))
        };
        let mut cleaned = super::ignore::clean_path(&joined);
        if dir && !cleaned.ends_with('/') {
            cleaned.push('/');
        }
        cleaned
    }
}

/// JSON array text, as Docker writes exec forms in history.
pub fn json(words: &[String]) -> String {
    serde_json::to_string(words).unwrap_or_default()
}

/// Parses ONBUILD triggers of a base image into steps at `line` (the FROM).
pub fn onbuild_steps(triggers: &[String], line: usize) -> Result<Vec<Step>, StageError> {
    let mut out = Vec::new();
    for trigger in triggers {
        let steps =
            super::dockerfile::parse_dockerfile(trigger).map_err(|e| StageError::Invalid {
                line,
                message: format!("invalid ONBUILD trigger `{trigger}` of the base image: {e}"),
            })?;
        out.extend(steps.into_iter().map(|mut s| {
            s.start_line = line;
            s.end_line = line;
            s
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::dockerfile::parse_dockerfile;

    fn apply(state: &mut StageState, text: &str) -> String {
        let step = parse_dockerfile(text).unwrap().remove(0);
        state.apply_metadata(&step).unwrap().unwrap()
    }

    #[test]
    fn env_wins_over_arg_and_expands() {
        let mut s = StageState::new(RunConfig::default(), '\\');
        let step = parse_dockerfile("ARG V=arg").unwrap().remove(0);
        let Instruction::Arg(decls) = &step.instruction else {
            panic!()
        };
        s.declare_args(&step, decls, &BTreeMap::new(), &BTreeMap::new())
            .unwrap();
        assert_eq!(apply(&mut s, "ENV A=$V"), "ENV A=arg");
        apply(&mut s, "ENV V=env");
        assert_eq!(s.expand("${V}-${A}", 1).unwrap(), "env-arg");
        assert_eq!(apply(&mut s, "LABEL x.y=\"$V z\""), "LABEL x.y=env z");
        let env = s.run_env(&[("HTTP_PROXY".to_string(), "p".to_string())].into());
        assert_eq!(env, ["A=arg", "V=env", "HTTP_PROXY=p"]);
    }

    #[test]
    fn global_arg_inherited_by_bare_arg() {
        let mut s = StageState::new(RunConfig::default(), '\\');
        let step = parse_dockerfile("ARG VERSION").unwrap().remove(0);
        let Instruction::Arg(decls) = &step.instruction else {
            panic!()
        };
        let meta = [("VERSION".to_string(), "3".to_string())].into();
        s.declare_args(&step, decls, &BTreeMap::new(), &meta)
            .unwrap();
        assert_eq!(s.args["VERSION"], "3");
    }

    #[test]
    fn commands_and_shell() {
        let mut s = StageState::new(RunConfig::default(), '\\');
        assert_eq!(
            apply(&mut s, "CMD echo $HOME"),
            r#"CMD ["/bin/sh","-c","echo $HOME"]"#
        );
        apply(&mut s, r#"SHELL ["/bin/bash", "-c"]"#);
        apply(&mut s, r#"ENTRYPOINT ["python3"]"#);
        assert_eq!(s.config.cmd, None);
        apply(&mut s, "CMD run");
        assert_eq!(
            s.config.cmd,
            Some(vec!["/bin/bash".into(), "-c".into(), "run".into()])
        );
    }

    #[test]
    fn metadata_instructions() {
        let mut s = StageState::new(RunConfig::default(), '\\');
        apply(&mut s, "EXPOSE 8000 53/udp");
        apply(&mut s, "VOLUME /data");
        apply(&mut s, "STOPSIGNAL SIGINT");
        apply(&mut s, "USER 1000:1000");
        apply(&mut s, "HEALTHCHECK --interval=5s --retries=2 CMD true");
        apply(&mut s, "ONBUILD RUN echo child");
        let c = &s.config;
        assert!(c.exposed_ports.as_ref().unwrap().contains_key("8000/tcp"));
        assert!(c.volumes.as_ref().unwrap().contains_key("/data"));
        assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(c.user.as_deref(), Some("1000:1000"));
        let h = c.healthcheck.as_ref().unwrap();
        assert_eq!((h.interval, h.retries), (Some(5_000_000_000), Some(2)));
        assert_eq!(
            c.on_build.as_deref(),
            Some(&["RUN echo child".to_string()][..])
        );
        let steps = onbuild_steps(c.on_build.as_ref().unwrap(), 7).unwrap();
        assert_eq!(steps[0].start_line, 7);
    }

    #[test]
    fn workdir_and_paths() {
        let mut s = StageState::new(RunConfig::default(), '\\');
        let step = parse_dockerfile("ENV D=app").unwrap().remove(0);
        s.apply_metadata(&step).unwrap();
        assert_eq!(s.workdir("/srv", 1).unwrap(), "/srv");
        assert_eq!(s.workdir("$D", 1).unwrap(), "/srv/app");
        assert_eq!(s.image_path("x.py"), "/srv/app/x.py");
        assert_eq!(s.image_path("."), "/srv/app/");
        assert_eq!(s.image_path("/etc/"), "/etc/");
    }

    #[test]
    fn run_heredoc_is_the_script() {
        let steps = parse_dockerfile("RUN <<EOF\necho a\necho b\nEOF\n").unwrap();
        let Instruction::Run(r) = &steps[0].instruction else {
            panic!()
        };
        let s = StageState::new(RunConfig::default(), '\\');
        assert_eq!(s.command_argv(&r.command)[2], "echo a\necho b\n");
    }
}
