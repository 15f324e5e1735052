//! `--change` instructions applied to an image config (import, commit).
//!
//! Docker allows CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME,
//! WORKDIR and STOPSIGNAL here.

use super::oci::RunConfig;

/// Exec form (`["a","b"]`) or shell form (`/bin/sh -c "..."`).
fn command_words(rest: &str) -> Vec<String> {
    let trimmed = rest.trim();
    if trimmed.starts_with('[') {
        if let Ok(words) = serde_json::from_str::<Vec<String>>(trimmed) {
            return words;
        }
    }
    vec!["/bin/sh".into(), "-c".into(), trimmed.into()]
}

/// Splits `K=V K2="v 2"` pairs (quotes removed), or the old `K V` form.
fn pairs(rest: &str) -> Result<Vec<(String, String)>, String> {
    let rest = rest.trim();
    let first = rest.split_whitespace().next().unwrap_or_default();
    if !first.contains('=') {
        let (k, v) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| "expected KEY=VALUE or KEY VALUE".to_string())?;
        return Ok(vec![(k.to_string(), v.trim().to_string())]);
    }
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut word = String::new();
        let mut quote = None;
        while let Some(c) = chars.next() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (Some('"') | None, '\\') => {
                    if let Some(n) = chars.next() {
                        word.push(n);
                    }
                }
                (None, c) if c.is_whitespace() => break,
                (_, c) => word.push(c),
            }
        }
        let (k, v) = word
            .split_once('=')
            .ok_or_else(|| format!("`{word}` is not KEY=VALUE"))?;
        if k.is_empty() {
            return Err("empty name".into());
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// Applies one instruction to `config`.
pub fn apply(config: &mut RunConfig, text: &str) -> Result<(), String> {
    let text = text.trim();
    let (keyword, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    match keyword.to_ascii_uppercase().as_str() {
        "CMD" => config.cmd = Some(command_words(rest)),
        "ENTRYPOINT" => config.entrypoint = Some(command_words(rest)),
        "ENV" => {
            let env = config.env.get_or_insert_with(Vec::new);
            for (k, v) in pairs(rest)? {
                env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k.as_str()));
                env.push(format!("{k}={v}"));
            }
        }
        "LABEL" => {
            let labels = config.labels.get_or_insert_with(Default::default);
            for (k, v) in pairs(rest)? {
                labels.insert(k, v);
            }
        }
        "WORKDIR" => config.working_dir = Some(rest.trim().to_string()),
        "USER" => config.user = Some(rest.trim().to_string()),
        "STOPSIGNAL" => config.stop_signal = Some(rest.trim().to_string()),
        "EXPOSE" => {
            let ports = config.exposed_ports.get_or_insert_with(Default::default);
            for p in rest.split_whitespace() {
                let p = if p.contains('/') { p.to_string() } else { format!("{p}/tcp") };
                ports.insert(p, serde_json::json!({}));
            }
        }
        "VOLUME" => {
            let vols = config.volumes.get_or_insert_with(Default::default);
            let words = match serde_json::from_str::<Vec<String>>(rest.trim()) {
                Ok(w) => w,
                Err(_) => rest.split_whitespace().map(str::to_string).collect(),
            };
            for v in words {
                vols.insert(v, serde_json::json!({}));
            }
        }
        "ONBUILD" => config.on_build.get_or_insert_with(Vec::new).push(rest.trim().to_string()),
        other => {
            return Err(format!(
                "`{other}` cannot be changed; allowed: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL"
            ))
        }
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
        apply(&mut c, "WORKDIR /app").unwrap();
        apply(&mut c, "user app").unwrap();
        apply(&mut c, "EXPOSE 8000 53/udp").unwrap();
        assert_eq!(c.cmd, Some(vec!["echo".into(), "hi".into()]));
        assert_eq!(
            c.entrypoint,
            Some(vec!["/bin/sh".into(), "-c".into(), "/bin/date".into()])
        );
        assert_eq!(c.env, Some(vec!["B=two words".into(), "A=3".into()]));
        assert_eq!(c.working_dir.as_deref(), Some("/app"));
        assert_eq!(c.user.as_deref(), Some("app"));
        assert!(c.exposed_ports.as_ref().unwrap().contains_key("8000/tcp"));
        assert!(apply(&mut c, "RUN echo").is_err());
    }
}
