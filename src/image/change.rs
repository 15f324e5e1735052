//! `--change` instructions applied to an image config (import, commit).
//!
//! Docker allows CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME,
//! WORKDIR and STOPSIGNAL here; the Dockerfile parser enforces that set, and
//! values are expanded with the image's environment as a build would.

use super::oci::RunConfig;
use crate::build::dockerfile::{self, expand, Expander, Instruction};

/// Shell form runs through the image's shell (`/bin/sh -c` by default).
fn command_words(config: &RunConfig, line: dockerfile::instruction::CommandLine) -> Vec<String> {
    if !line.prepend_shell {
        return line.args;
    }
    let mut words = config
        .shell
        .clone()
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
    words.push(line.args.join(" "));
    words
}

/// Applies one instruction to `config`.
pub fn apply(config: &mut RunConfig, text: &str) -> Result<(), String> {
    let instruction = dockerfile::instruction::parse_change(text).map_err(|e| e.to_string())?;
    let env = expand::env_from_list(config.env.clone().unwrap_or_default());
    let expander = Expander::default();
    let expand = |word: &str| expander.process_word(word, &env).map_err(|e| e.to_string());
    match instruction {
        Instruction::Cmd(line) => config.cmd = Some(command_words(config, line)),
        Instruction::Entrypoint(line) => config.entrypoint = Some(command_words(config, line)),
        Instruction::Env(pairs) => {
            let mut vars = config.env.clone().unwrap_or_default();
            for kv in pairs {
                let value = expand(&kv.value)?;
                vars.retain(|e| e.split_once('=').map(|(k, _)| k) != Some(kv.key.as_str()));
                vars.push(format!("{}={value}", kv.key));
            }
            config.env = Some(vars);
        }
        Instruction::Label(pairs) => {
            let labels = config.labels.get_or_insert_with(Default::default);
            for kv in pairs {
                labels.insert(expand(&kv.key)?, expand(&kv.value)?);
            }
        }
        Instruction::Workdir(dir) => config.working_dir = Some(expand(&dir)?),
        Instruction::User(user) => config.user = Some(expand(&user)?),
        Instruction::StopSignal(signal) => config.stop_signal = Some(expand(&signal)?),
        Instruction::Expose(ports) => {
            let exposed = config.exposed_ports.get_or_insert_with(Default::default);
            for p in ports {
                let p = expand(&p)?;
                let p = if p.contains('/') {
                    p
                } else {
                    format!("{p}/tcp")
                };
                exposed.insert(p, serde_json::json!({}));
            }
        }
        Instruction::Volume(paths) => {
            let volumes = config.volumes.get_or_insert_with(Default::default);
            for v in paths {
                volumes.insert(expand(&v)?, serde_json::json!({}));
            }
        }
        Instruction::Onbuild(trigger) => config.on_build.get_or_insert_with(Vec::new).push(trigger),
        other => return Err(format!("{other:?} cannot be used with --change")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_docker_changes() {
        let mut c = RunConfig::default();
        apply(&mut c, r#"CMD ["echo", "hi"]"#).unwrap();
        apply(&mut c, "ENTRYPOINT /bin/date").unwrap();
        apply(&mut c, r#"ENV A=1 B="two words""#).unwrap();
        apply(&mut c, "ENV A 3").unwrap();
        apply(&mut c, "ENV C=${A}x").unwrap();
        apply(&mut c, "WORKDIR /app").unwrap();
        apply(&mut c, "user app").unwrap();
        apply(&mut c, "EXPOSE 8000 53/udp").unwrap();
        assert_eq!(c.cmd, Some(vec!["echo".into(), "hi".into()]));
        assert_eq!(
            c.entrypoint,
            Some(vec!["/bin/sh".into(), "-c".into(), "/bin/date".into()])
        );
        assert_eq!(
            c.env,
            Some(vec!["B=two words".into(), "A=3".into(), "C=3x".into()])
        );
        assert_eq!(c.working_dir.as_deref(), Some("/app"));
        assert_eq!(c.user.as_deref(), Some("app"));
        assert!(c.exposed_ports.as_ref().unwrap().contains_key("8000/tcp"));
        assert!(apply(&mut c, "RUN echo").is_err());
    }
}
