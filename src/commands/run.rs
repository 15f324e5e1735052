//! `devbox run`.

use anyhow::Context as _;

use crate::cli::container::RunArgs;
use crate::context::Context;
use crate::runtime::idmap::UsernsMode;
use crate::runtime::{create, launch, monitor, remove, rootfs, userns, RuntimeError};
use crate::spec::container::{parse_entrypoint, Network, NetworkAttachment, NetworkOptions};
use crate::spec::{env, mount, user::UserSpec};
use crate::ui::diagnostics::{ExitStatus, UserError};

/// Turns the flags into a parsed request (errors here are usage errors).
fn request(args: &RunArgs) -> anyhow::Result<create::Request> {
    let lookup = |k: &str| std::env::var(k).ok();
    let mut vars = Vec::new();
    for file in &args.env_file {
        let text = fs_err::read_to_string(file)?;
        vars.extend(env::parse_env_file(
            &file.display().to_string(),
            &text,
            lookup,
        )?);
    }
    for item in &args.env {
        vars.extend(env::parse_env(item, lookup)?);
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let mut mounts = Vec::new();
    for spec in &args.volumes {
        mounts.push(mount::parse_volume(spec, &cwd)?);
    }
    for spec in &args.mounts {
        let request = mount::parse_mount(spec)?;
        if let mount::MountRequest::Bind(bind) = &request {
            if !bind.source.exists() {
                return Err(UserError::new(format!(
                    "invalid --mount `{spec}`: bind source path does not exist: {}",
                    bind.source.display()
                ))
                .with_hint("create it first, or use `-v`, which creates a missing directory")
                .into());
            }
        }
        mounts.push(request);
    }
    for spec in &args.tmpfs {
        mounts.push(mount::MountRequest::Tmpfs(mount::parse_tmpfs(spec)?));
    }
    let mut targets = std::collections::BTreeSet::new();
    for m in &mounts {
        if !targets.insert(m.target().trim_end_matches('/').to_string()) {
            return Err(UserError::new(format!("duplicate mount point: {}", m.target())).into());
        }
    }
    let (mut binds, mut volumes, mut tmpfs) = (Vec::new(), Vec::new(), Vec::new());
    for m in mounts {
        match m {
            mount::MountRequest::Bind(b) => binds.push(b),
            mount::MountRequest::Volume(v) => volumes.push(v),
            mount::MountRequest::Tmpfs(t) => tmpfs.push(t),
        }
    }
    let (network, net) = network_request(args)?;
    if network == Network::Container && (args.publish_all || !args.publish.is_empty()) {
        return Err(UserError::new(
            "conflicting options: port publishing and the container network mode",
        )
        .with_hint("publish the ports on the container whose network is shared")
        .into());
    }
    let mut ports = Vec::new();
    for spec in &args.publish {
        ports.extend(crate::spec::port::parse(spec)?);
    }
    let keep_id =
        match UsernsMode::parse(args.userns.as_deref().unwrap_or("")).map_err(UserError::new)? {
            UsernsMode::KeepId => Some(userns::keep_id_user()?),
            UsernsMode::Host if crate::sys::ids::current_euid() != 0 => {
                return Err(UserError::new(
                    "--userns=host needs root: a rootless container always has a user namespace",
                )
                .with_hint("`--userns=keep-id` keeps your uid and gid inside")
                .into())
            }
            UsernsMode::Host | UsernsMode::Default => None,
        };
    Ok(create::Request {
        keep_id,
        image_name: args.image.clone(),
        name: args.name.clone(),
        hostname: args.hostname.clone(),
        env: vars,
        workdir: args.workdir.clone(),
        user: args.user.as_deref().map(UserSpec::parse).transpose()?,
        binds,
        volumes,
        tmpfs,
        ports,
        publish_all: args.publish_all,
        read_only: args.read_only,
        extra_hosts: args
            .add_host
            .iter()
            .map(|h| parse_add_host(h))
            .collect::<anyhow::Result<_>>()?,
        network,
        net,
        entrypoint: args
            .entrypoint
            .as_deref()
            .map(parse_entrypoint)
            .transpose()?,
        args: args.command.clone(),
        tty: args.tty,
        interactive: args.interactive,
        auto_remove: args.rm,
        restart: args.restart,
        init: args.init,
        stop_signal: args.stop_signal.clone(),
        stop_timeout: args.stop_timeout,
        health: crate::spec::health::HealthOverrides {
            cmd: args.health_cmd.clone(),
            interval: args.health_interval,
            timeout: args.health_timeout,
            start_period: args.health_start_period,
            retries: args.health_retries,
            disabled: args.no_healthcheck,
        },
        labels: args
            .label
            .iter()
            .map(|l| match l.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (l.clone(), String::new()),
            })
            .collect(),
        security: Default::default(),
    })
}

/// `--cap-add`, `--cap-drop`, `--privileged`, `--security-opt` and the limits, checked
/// before anything is created (a bad seccomp profile is a usage error, exit 125).
fn security(args: &RunArgs, ctx: &Context) -> anyhow::Result<crate::spec::security::Security> {
    let flags = crate::spec::security::Flags {
        cap_add: &args.cap_add,
        cap_drop: &args.cap_drop,
        privileged: args.privileged,
        security_opt: &args.security_opt,
        pids_limit: args.pids_limit,
        memory: args.memory.as_deref(),
        cpus: args.cpus,
    };
    checked_security(&flags, ctx)
}

/// [`security`] from flags however given (`run`'s, a compose service's keys).
pub(crate) fn checked_security(
    flags: &crate::spec::security::Flags<'_>,
    ctx: &Context,
) -> anyhow::Result<crate::spec::security::Security> {
    use crate::spec::security::{self, SecurityError};
    let read = |file: &str| fs_err::read_to_string(file).map_err(|e| e.to_string());
    let (security, ignored) = security::from_flags(flags, read).map_err(|e| {
        let hint = match &e {
            SecurityError::UnknownCapability(_) => {
                "capabilities are named as in capabilities(7), with or without `CAP_` (`NET_ADMIN`), or `ALL`"
            }
            SecurityError::BadOption(..) => {
                "devbox knows `no-new-privileges[=true|false]`, `seccomp=unconfined`, `seccomp=PROFILE.json` and `systempaths=unconfined`"
            }
            SecurityError::ReadProfile { .. } | SecurityError::BadProfile { .. } => {
                "the profile is Docker's JSON format: defaultAction, syscalls[names, action, args]"
            }
            SecurityError::BadLimit { .. } => "see `devbox run --help`",
        };
        UserError::new(e.to_string()).with_hint(hint)
    })?;
    for opt in ignored {
        ctx.printer.warn(format!(
            "--security-opt {opt} ignored: SELinux and AppArmor labels are the host's, a rootless container cannot change them"
        ));
    }
    if security.limits.any() {
        if let Err(reason) = crate::runtime::cgroup::find(
            &ctx.paths.host.sys_fs_cgroup,
            &fs_err::read_to_string(ctx.paths.host.proc.join("self/cgroup")).unwrap_or_default(),
            &security.limits,
        ) {
            return Err(UserError::new(format!(
                "cannot apply --pids-limit, --memory or --cpus: {reason}"
            ))
            .with_hint(
                "resource limits need cgroup v2 with the pids, memory and cpu controllers delegated to your user (systemd: `systemd-run --user --scope -p Delegate=yes devbox run ...`); or leave the flags out",
            )
            .into());
        }
    }
    Ok(security)
}

/// `--network` (repeatable), `--network-alias`, `--ip` and the DNS flags.
fn network_request(args: &RunArgs) -> anyhow::Result<(Network, NetworkOptions)> {
    let mut net = NetworkOptions {
        dns: args.dns.iter().map(|ip| ip.to_string()).collect(),
        dns_search: args.dns_search.clone(),
        dns_options: args.dns_option.clone(),
        ..NetworkOptions::default()
    };
    let mut mode = None;
    for value in &args.network {
        let this = match value.as_str() {
            "bridge" | "slirp4netns" | "default" => Network::Slirp4netns,
            "none" => Network::None,
            "host" => Network::Host,
            "pasta" => Network::Pasta,
            other => match other.strip_prefix("container:") {
                Some(name) => {
                    net.container = Some(name.to_string());
                    Network::Container
                }
                None => {
                    net.networks.push(NetworkAttachment {
                        name: other.to_string(),
                        aliases: Vec::new(),
                        ip: None,
                    });
                    Network::User
                }
            },
        };
        match mode {
            Some(m) if m != this || this != Network::User => {
                return Err(UserError::new(format!(
                    "conflicting options: `--network {value}` with another network mode"
                ))
                .with_hint("only user-defined networks can be combined")
                .into())
            }
            _ => mode = Some(this),
        }
    }
    let mode = mode.unwrap_or(Network::Slirp4netns);
    if let Some(first) = net.networks.first_mut() {
        first.aliases = args.network_alias.clone();
        first.ip = args.ip;
    } else if !args.network_alias.is_empty() || args.ip.is_some() || args.mac_address.is_some() {
        return Err(UserError::new(
            "`--network-alias`, `--ip` and `--mac-address` need a user-defined network (`--network NAME`)",
        )
        .into());
    }
    net.mac_address = args.mac_address.as_deref().map(parse_mac).transpose()?;
    Ok((mode, net))
}

/// `--mac-address`: six hex octets, not a multicast address (the kernel refuses those for an
/// interface); lowercase.
fn parse_mac(text: &str) -> anyhow::Result<String> {
    let octets: Vec<Option<u8>> = text
        .split(':')
        .map(|o| {
            (o.len() == 2)
                .then(|| u8::from_str_radix(o, 16).ok())
                .flatten()
        })
        .collect();
    match octets.as_slice() {
        [Some(first), rest @ ..] if rest.len() == 5 && rest.iter().all(Option::is_some) => {
            if first & 1 == 1 {
                return Err(UserError::new(format!(
                    "invalid --mac-address `{text}`: a multicast address"
                ))
                .with_hint("the first octet must be even, e.g. 02:42:ac:11:00:02")
                .into());
            }
            Ok(text.to_ascii_lowercase())
        }
        _ => Err(UserError::new(format!("invalid --mac-address `{text}`"))
            .with_hint("expected six hex octets, e.g. 02:42:ac:11:00:02")
            .into()),
    }
}

/// `--add-host NAME:IP` (or `NAME=IP`; an IPv6 address keeps its colons).
fn parse_add_host(text: &str) -> anyhow::Result<(String, String)> {
    let (name, ip) = text
        .split_once('=')
        .or_else(|| text.split_once(':'))
        .filter(|(n, ip)| !n.is_empty() && ip.parse::<std::net::IpAddr>().is_ok())
        .ok_or_else(|| {
            UserError::new(format!("invalid --add-host `{text}`"))
                .with_hint("expected NAME:IP, e.g. --add-host db:10.0.2.2")
        })?;
    Ok((name.to_string(), ip.to_string()))
}

pub fn run(args: RunArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let mut request = request(&args)?;
    request.security = security(&args, ctx)?;
    if args.rm && args.restart != crate::spec::restart::RestartPolicy::No {
        return Err(UserError::new("conflicting options: --restart and --rm").into());
    }
    if let Some(signal) = &request.stop_signal {
        if crate::sys::process::signal_number(signal).is_none() {
            return Err(UserError::new(format!("invalid --stop-signal `{signal}`")).into());
        }
    }
    let store = ctx.store()?;
    for network in &request.net.networks {
        store.network(&network.name)?;
    }
    let image = store
        .resolve_image(&args.image)
        .with_context(|| format!("cannot run `{}`", args.image))?;
    for from in &args.volumes_from {
        let (name, mode) = match from.rsplit_once(':') {
            Some((name, mode @ ("ro" | "rw"))) => (name, Some(mode == "ro")),
            _ => (from.as_str(), None),
        };
        let id = store
            .resolve_container(name)
            .with_context(|| format!("--volumes-from {from}"))?;
        let (other, _) = store.load_container(&id)?;
        for mut bind in other.spec.binds {
            if request.binds.iter().any(|b| b.target == bind.target) {
                continue;
            }
            if let Some(readonly) = mode {
                bind.readonly = readonly;
            }
            request.binds.push(bind);
        }
    }
    if request.binds.iter().any(|b| b.source.is_file()) {
        ctx.printer.warn(
            "a single file is bind-mounted: editors that save by writing a new file and renaming it over the old one are not seen inside; mount its folder instead",
        );
    }
    let (mapping, warning) = userns::detect_mapping(&ctx.paths.host)?;
    if let Some(warning) = warning {
        ctx.printer.warn(warning);
    }
    // Docker creates a missing host directory for `-v` (`--mount` sources were checked to
    // exist), once the rest of the request is known to be good.
    for bind in &request.binds {
        if !bind.source.exists() {
            fs_err::create_dir_all(&bind.source)?;
        }
    }
    let (driver, note) = rootfs::choose(&store, ctx.requested_driver(), &mapping)?;
    if let Some(note) = note {
        ctx.printer.warn(note);
    }
    let (record, dirs) = create::create(&store, &image, &request)?;
    let result = if args.detach {
        monitor::start_detached(&ctx.paths, &record.id).map(|()| 0)
    } else {
        launch::run_foreground(launch::Target {
            store: &store,
            mapping: &mapping,
            host: &ctx.paths.host,
            image: &image,
            record: &record,
            dirs: &dirs,
            driver,
        })
    };
    if args.detach && result.is_ok() {
        ctx.printer.data(&record.id);
        return Ok(ExitStatus::Success);
    }
    let cleanup = args
        .rm
        .then(|| remove::remove_container_detached(&store, &mapping, &record.id, true));
    foreground_outcome(result, cleanup)
}

/// The exit status of a foreground container: its code, or the start's error (exec
/// failures keep Docker's 126/127), with a failed `--rm` cleanup reported after the
/// original error (STYLE rule 7).
pub(super) fn foreground_outcome(
    result: Result<i32, RuntimeError>,
    cleanup: Option<Result<(), RuntimeError>>,
) -> anyhow::Result<ExitStatus> {
    if let Some(Err(cleanup)) = cleanup {
        return match result {
            Err(e) => Err(anyhow::Error::new(e)
                .context(format!("also failed to remove the container: {cleanup}"))),
            Ok(_) => Err(cleanup.into()),
        };
    }
    match result {
        Ok(code) => Ok(ExitStatus::Container(code)),
        Err(e @ RuntimeError::Exec { .. }) => {
            let code = e.exit_code();
            Err(UserError::new(e.to_string()).with_code(code).into())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_addresses_are_six_unicast_octets() {
        assert_eq!(parse_mac("02:42:AC:11:00:02").unwrap(), "02:42:ac:11:00:02");
        for bad in [
            "01:00:5e:00:00:01",
            "02:42:ac:11:00",
            "02:42:ac:11:00:2",
            "zz:42:ac:11:00:02",
        ] {
            assert!(parse_mac(bad).is_err(), "{bad}");
        }
    }
}
