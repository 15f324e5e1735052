//! The container's first process (`devbox __init`), running as root of the
//! new user namespace and PID 1 of the new PID namespace: it builds the
//! filesystem view from the plan, pivots into it, sets hostname, terminal
//! and user, and execs the command, which stays PID 1.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::ipc::{Channel, ExecFailure, ToInit, ToParent};
use super::plan::{InitSpec, MountOp};
use super::rootfs;
use crate::fs::confine::resolve_in_root;
use crate::spec::env::Environment;
use crate::spec::mount::Propagation;
use crate::spec::user;
use crate::sys::{self, mount::Flags};

/// A failure before exec: what kind (for the exit code) and why.
pub type Failure = (ExecFailure, String);

fn setup(msg: impl std::fmt::Display) -> Failure {
    (ExecFailure::Setup, msg.to_string())
}

/// Entry point of `devbox __init --fd N`. Returns only on failure, with the
/// exit code to use.
pub fn main(fd: i32) -> u8 {
    sys::process::set_name("devbox:[init]");
    let channel = match sys::ipc::inherited_fd(fd) {
        Ok(sock) => Channel { sock },
        Err(_) => return 125,
    };
    let (kind, message) = match run(&channel) {
        Ok((child, signals)) => {
            // `--init`: the command runs as our child; we stay PID 1.
            drop(channel);
            return reap(child, signals);
        }
        Err(failure) => failure,
    };
    let code = match kind {
        ExecFailure::NotFound => 127,
        ExecFailure::NotExecutable => 126,
        ExecFailure::Setup => 125,
    };
    let _ = channel.send(&ToParent::Failed { kind, message }, &[]);
    code
}

/// Builds the container and execs the command; returns only with `--init`,
/// with the command started as our child and the signals to forward.
fn run(channel: &Channel) -> Result<(sys::Pid, signal_hook::iterator::Signals), Failure> {
    let spec = match channel.recv::<ToInit>("parent").map_err(setup)? {
        Some((ToInit::Spec(spec), _)) => *spec,
        _ => return Err(setup("the parent sent no container spec")),
    };
    sys::process::setsid().map_err(setup)?;
    sys::process::umask(0o022);
    // Docker's: the tree is cut from the host's, unless a bind asks to follow it.
    if spec.run.binds.iter().any(|b| b.propagation.follows_host()) {
        sys::mount::make_rslave().map_err(setup)?;
    } else {
        sys::mount::make_rprivate().map_err(setup)?;
    }
    let mut inbox = Inbox::new(channel);
    // The mounts after the root's are made from inside it, by paths relative to it: each
    // target is checked component by component (`target`), and from the root's long
    // store path every one of those checks walked it again.
    let mut inside = false;
    for op in &spec.mounts {
        match op {
            MountOp::Root(root) => rootfs::mount(root, &spec.rootfs, |fuse| {
                channel
                    .send(&ToParent::RootfsMounted, &[&fuse])
                    .map_err(|e| e.to_string())?;
                drop(fuse);
                inbox.wait(Wanted::Rootfs)
            })
            .and_then(|()| fill_volumes(&spec.mounts, &spec.rootfs))
            .map_err(setup)?,
            _ => {
                if !inside {
                    std::env::set_current_dir(&spec.rootfs).map_err(|e| {
                        setup(format!("cannot enter {}: {e}", spec.rootfs.display()))
                    })?;
                    inside = true;
                }
                apply(op, Path::new(".")).map_err(setup)?
            }
        }
    }
    if let Some(me) = &spec.run.keep_id {
        add_keep_id_user(&spec.rootfs, me).map_err(setup)?;
    }
    if spec.run.read_only {
        sys::mount::remount_readonly(&spec.rootfs).map_err(setup)?;
    }
    sys::ns::sethostname(&spec.run.hostname).map_err(setup)?;
    if spec.run.network != crate::spec::container::Network::Host {
        sys::net::bring_up_loopback().map_err(setup)?;
    }
    sys::mount::pivot_root(&spec.rootfs).map_err(setup)?;
    // Names and homes come from the image's own passwd and group files.
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let user =
        user::resolve(&spec.run.user, &read("/etc/passwd"), &read("/etc/group")).map_err(setup)?;
    let confinement = super::confine::prepare(&spec.run.security, user.uid).map_err(setup)?;
    super::confine::mask_paths(&spec.run.security).map_err(setup)?;
    let mut env = Environment::from_list(&spec.run.env);
    env.set_default("HOME", &user.home);
    std::fs::create_dir_all(&spec.run.workdir).map_err(|e| {
        setup(format!(
            "cannot create working directory {}: {e}",
            spec.run.workdir
        ))
    })?;
    stdio(&spec, channel)?;
    if spec.wait_network {
        inbox.wait(Wanted::Network).map_err(setup)?;
    }
    let mut groups = vec![user.gid];
    groups.extend(&user.additional_gids);
    if spec.run.init {
        return spawn_under_reaper(&spec, &env, &user, groups, &confinement);
    }
    confinement.before_user_switch().map_err(setup)?;
    sys::ids::switch_user(user.uid, user.gid, &groups, spec.can_setgroups).map_err(setup)?;
    confinement.after_user_switch().map_err(setup)?;
    // The command dies with its owner (the monitor, or `devbox run`): a
    // container nobody watches would hold its state hostage. Set after the
    // user switch, which clears it.
    sys::process::set_parent_death_signal(sys::process::SIGKILL).map_err(setup)?;
    std::env::set_current_dir(&spec.run.workdir).map_err(|e| {
        setup(format!(
            "cannot enter working directory {}: {e}",
            spec.run.workdir
        ))
    })?;
    match exec(&spec.run.argv, &env)? {}
}

/// `--init`: starts the command as a child that switches to the user and
/// execs, while this process stays PID 1 to reap zombies and pass signals on.
fn spawn_under_reaper(
    spec: &InitSpec,
    env: &Environment,
    user: &user::ResolvedUser,
    groups: Vec<u32>,
    confinement: &super::confine::Confinement,
) -> Result<(sys::Pid, signal_hook::iterator::Signals), Failure> {
    use signal_hook::consts::*;
    let program = find_program(&spec.run.argv[0], env)?;
    let cstring = |s: &[u8]| CString::new(s).map_err(|_| setup("argument contains a NUL byte"));
    let command = sys::process::CommandSpec {
        path: cstring(program.as_os_str().as_bytes())?,
        argv: spec
            .run
            .argv
            .iter()
            .map(|a| cstring(a.as_bytes()))
            .collect::<Result<_, _>>()?,
        envp: env
            .to_list()
            .iter()
            .map(|a| cstring(a.as_bytes()))
            .collect::<Result<_, _>>()?,
        cwd: cstring(spec.run.workdir.as_bytes())?,
        uid: user.uid,
        gid: user.gid,
        groups,
        set_groups: spec.can_setgroups,
        terminal: None,
        stdin: None,
        orphan: false,
        caps: Some(confinement.sets),
    };
    sys::process::set_parent_death_signal(sys::process::SIGKILL).map_err(setup)?;
    // Registered before the child exists, so no signal is lost.
    let signals = signal_hook::iterator::Signals::new([
        SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
    ])
    .map_err(setup)?;
    sys::process::set_cloexec_from(3);
    sys::process::set_name("devbox:[reaper]");
    // The reaper takes the bounding set and the filter, so its child inherits them.
    confinement.before_user_switch().map_err(setup)?;
    confinement.no_new_privs_and_late_seccomp().map_err(setup)?;
    let child = sys::process::spawn_command(&command).map_err(setup)?;
    Ok((child, signals))
}

/// PID 1 with `--init`: forwards signals to the command, reaps every
/// orphan, and ends with the command's exit code.
fn reap(child: sys::Pid, mut signals: signal_hook::iterator::Signals) -> u8 {
    loop {
        for signal in signals.wait() {
            if signal != signal_hook::consts::SIGCHLD {
                let _ = sys::process::kill(child, signal);
                continue;
            }
            while let Some((pid, exit)) = sys::process::reap_any() {
                if pid == child {
                    return u8::try_from(exit.as_code().clamp(0, 255)).unwrap_or(255);
                }
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Network,
    Rootfs,
}

/// The parent's go-aheads, which may arrive in any order (the network is
/// often ready before the FUSE root is served).
struct Inbox<'a> {
    channel: &'a Channel,
    network_ready: bool,
    rootfs_ready: bool,
}

impl<'a> Inbox<'a> {
    fn new(channel: &'a Channel) -> Inbox<'a> {
        Inbox {
            channel,
            network_ready: false,
            rootfs_ready: false,
        }
    }

    fn wait(&mut self, wanted: Wanted) -> Result<(), String> {
        loop {
            let done = match wanted {
                Wanted::Network => self.network_ready,
                Wanted::Rootfs => self.rootfs_ready,
            };
            if done {
                return Ok(());
            }
            match self
                .channel
                .recv::<ToInit>("parent")
                .map_err(|e| e.to_string())?
            {
                Some((ToInit::NetworkReady, _)) => self.network_ready = true,
                Some((ToInit::RootfsReady, _)) => self.rootfs_ready = true,
                _ => {
                    return Err(match wanted {
                        Wanted::Network => "the network was not set up".into(),
                        Wanted::Rootfs => "the root filesystem was not served".into(),
                    })
                }
            }
        }
    }
}

/// Sets up the container's stdin/stdout/stderr: a pty from the container's
/// own devpts (its master goes to the parent), or the inherited pipes with
/// stdin closed unless `-i`.
fn stdio(spec: &InitSpec, channel: &Channel) -> Result<(), Failure> {
    if spec.run.tty {
        let (master, slave) = sys::tty::open_pty().map_err(setup)?;
        // Sized before the command runs: its first look at the terminal must be right.
        if let Some(size) = spec.window_size {
            let _ = sys::tty::set_window_size(slave.as_fd(), size);
        }
        channel.send(&ToParent::Pty, &[&master]).map_err(setup)?;
        drop(master);
        sys::tty::set_controlling_tty(slave.as_fd()).map_err(setup)?;
        for target in 0..3 {
            sys::process::dup_onto(&slave, target).map_err(setup)?;
        }
    } else if !spec.run.interactive {
        let null: OwnedFd = std::fs::File::open("/dev/null").map_err(setup)?.into();
        sys::process::dup_onto(&null, 0).map_err(setup)?;
    }
    Ok(())
}

fn exec(argv: &[String], env: &Environment) -> Result<Infallible, Failure> {
    let program = &argv[0];
    let path = find_program(program, env)?;
    let cstring = |s: &[u8]| CString::new(s).map_err(|_| setup("argument contains a NUL byte"));
    let path_c = cstring(path.as_os_str().as_bytes())?;
    let argv_c = argv
        .iter()
        .map(|a| cstring(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let env_c = env
        .to_list()
        .iter()
        .map(|a| cstring(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    sys::process::set_cloexec_from(3);
    sys::process::reset_signal_dispositions();
    let err = sys::process::execve(&path_c, &argv_c, &env_c);
    let kind = match err.errno() {
        sys::Errno::ENOENT => ExecFailure::NotFound,
        _ => ExecFailure::NotExecutable,
    };
    let reason = match err.errno() {
        sys::Errno::ENOENT => "no such file or directory".to_string(),
        sys::Errno::EACCES => "permission denied".to_string(),
        sys::Errno::ENOEXEC => "exec format error".to_string(),
        other => other.desc().to_lowercase(),
    };
    Err((kind, format!("exec: \"{program}\": {reason}")))
}

/// Where the command is: a path as given, else the first match in the
/// environment's PATH (inside the container's root).
pub fn find_program(program: &str, env: &Environment) -> Result<PathBuf, Failure> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let search = env
        .get("PATH")
        .unwrap_or(crate::spec::container::DEFAULT_PATH);
    search
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            (
                ExecFailure::NotFound,
                format!("exec: \"{program}\": executable file not found in $PATH"),
            )
        })
}

#[derive(Clone, Copy)]
enum Kind {
    File,
    Dir,
}

/// Resolves a container path under the new root and makes sure something of
/// the right kind is there to mount on.
fn target(root: &Path, inside: &str, kind: Kind) -> Result<PathBuf, String> {
    let path = resolve_in_root(root, inside).map_err(|e| e.to_string())?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let exists = path.symlink_metadata().is_ok();
    if !exists {
        let made = match kind {
            Kind::Dir => std::fs::create_dir(&path),
            Kind::File => std::fs::File::create(&path).map(drop),
        };
        made.map_err(|e| format!("cannot create mount point {inside}: {e}"))?;
    }
    Ok(path)
}

/// The mount(2) flags of `bind-propagation=`.
fn propagation_flags(propagation: Propagation) -> Flags {
    let kind = match propagation {
        Propagation::Private | Propagation::Rprivate => Flags::MS_PRIVATE,
        Propagation::Shared | Propagation::Rshared => Flags::MS_SHARED,
        Propagation::Slave | Propagation::Rslave => Flags::MS_SLAVE,
    };
    if propagation.recursive() {
        kind | Flags::MS_REC
    } else {
        kind
    }
}

/// `--userns=keep-id` (Podman's): when the image's passwd and group files lack the user,
/// they get an entry, and a new passwd entry's home directory is made, the user's.
fn add_keep_id_user(root: &Path, me: &user::KeepIdUser) -> Result<(), String> {
    let mut added_passwd = false;
    for (file, is_passwd) in [("/etc/passwd", true), ("/etc/group", false)] {
        let path = resolve_in_root(root, file).map_err(|e| e.to_string())?;
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let line = if is_passwd {
            me.passwd_line(&text)
        } else {
            me.group_line(&text)
        };
        let Some(line) = line else { continue };
        added_passwd |= is_passwd;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, user::append_line(&text, &line))
            .map_err(|e| format!("cannot add {} to {file}: {e}", me.name))?;
    }
    if added_passwd {
        let home = resolve_in_root(root, &me.home).map_err(|e| e.to_string())?;
        if !home.exists() {
            std::fs::create_dir_all(&home)
                .and_then(|()| std::os::unix::fs::chown(&home, Some(me.uid), Some(me.gid)))
                .map_err(|e| format!("cannot create the home directory {}: {e}", me.home))?;
        }
    }
    Ok(())
}

/// Docker's volume initialisation: an empty volume mounted where the image has a directory
/// with content gets a copy of that content first (with owners, modes and times), as root
/// of the user namespace so subordinate owners are kept.
fn fill_volume(root: &Path, inside: &str, volume: &Path) -> Result<(), String> {
    let Ok(image_dir) = resolve_in_root(root, inside) else {
        return Ok(());
    };
    if !image_dir.is_dir() || image_dir.symlink_metadata().is_ok_and(|m| m.is_symlink()) {
        return Ok(());
    }
    let empty = std::fs::read_dir(volume)
        .map(|mut entries| entries.next().is_none())
        .unwrap_or(false);
    if !empty {
        return Ok(());
    }
    crate::fs::copy::copy_dir_contents(&image_dir, volume)
        .map_err(|e| format!("cannot fill the volume at {inside} from the image: {e}"))?;
    // The volume's root takes the image directory's owner and mode.
    if let Ok(meta) = image_dir.symlink_metadata() {
        let _ = crate::fs::copy::copy_metadata(&image_dir, volume, &meta);
    }
    Ok(())
}

/// Fills every empty volume from the image, before any other mount is made: a volume under
/// a bind mount (the environment at /app/.venv under the source at /app) gets what the image
/// has there, not what the bind shows.
fn fill_volumes(mounts: &[MountOp], root: &Path) -> Result<(), String> {
    for op in mounts {
        if let MountOp::Bind {
            source,
            target,
            fill: true,
            ..
        } = op
        {
            fill_volume(root, target, source)?;
        }
    }
    Ok(())
}

fn apply(op: &MountOp, root: &Path) -> Result<(), String> {
    let nosuid_nodev_noexec = Flags::MS_NOSUID | Flags::MS_NODEV | Flags::MS_NOEXEC;
    match op {
        MountOp::Root(_) => return Err("the root is mounted by the storage driver".into()),
        MountOp::Proc { target: t } => {
            let t = target(root, t, Kind::Dir)?;
            sys::mount::mount("proc", &t, "proc", nosuid_nodev_noexec, None)
                .map_err(|e| e.to_string())?;
        }
        MountOp::Tmpfs {
            target: t,
            options,
            noexec,
        } => {
            let t = target(root, t, Kind::Dir)?;
            let mut flags = Flags::MS_NOSUID | Flags::MS_STRICTATIME;
            if *noexec {
                flags |= Flags::MS_NODEV | Flags::MS_NOEXEC;
            }
            sys::mount::mount("tmpfs", &t, "tmpfs", flags, Some(options))
                .map_err(|e| e.to_string())?;
        }
        MountOp::Devpts { target: t, options } => {
            let t = target(root, t, Kind::Dir)?;
            sys::mount::mount(
                "devpts",
                &t,
                "devpts",
                Flags::MS_NOSUID | Flags::MS_NOEXEC,
                Some(options),
            )
            .map_err(|e| e.to_string())?;
        }
        MountOp::Mqueue { target: t } => {
            let t = target(root, t, Kind::Dir)?;
            sys::mount::mount("mqueue", &t, "mqueue", nosuid_nodev_noexec, None)
                .map_err(|e| e.to_string())?;
        }
        MountOp::Sysfs {
            target: t,
            own_netns,
        } => {
            let t = target(root, t, Kind::Dir)?;
            let flags = nosuid_nodev_noexec | Flags::MS_RDONLY;
            let mounted =
                *own_netns && sys::mount::mount("sysfs", &t, "sysfs", flags, None).is_ok();
            if !mounted {
                // sysfs can only be mounted by the owner of the network
                // namespace; share the host's, read-only.
                sys::mount::bind(Path::new("/sys"), &t, true, true).map_err(|e| e.to_string())?;
            }
        }
        MountOp::Device { source, target: t } => {
            let t = target(root, t, Kind::File)?;
            sys::mount::bind(Path::new(source), &t, false, false).map_err(|e| e.to_string())?;
        }
        MountOp::Bind {
            source,
            target: t,
            readonly,
            fill: _,
            propagation,
        } => {
            let kind = if source.is_dir() {
                Kind::Dir
            } else {
                Kind::File
            };
            let t = target(root, t, kind)?;
            sys::mount::bind(source, &t, true, *readonly).map_err(|e| e.to_string())?;
            sys::mount::set_propagation(&t, propagation_flags(*propagation))
                .map_err(|e| e.to_string())?;
        }
        MountOp::Symlink { target: t, link_to } => {
            let path = resolve_in_root(root, t).map_err(|e| e.to_string())?;
            if path.symlink_metadata().is_err() {
                std::os::unix::fs::symlink(link_to, &path)
                    .map_err(|e| format!("cannot create symlink {t}: {e}"))?;
            }
        }
    }
    Ok(())
}
