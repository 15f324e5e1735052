//! The hidden roles the binary re-execs itself as.

use crate::cli::internal::InternalCommand;
use crate::runtime::ipc::Channel;
use crate::runtime::{init, monitor, rootfs, userns};
use crate::sys;

pub fn run(role: InternalCommand, global: &crate::cli::GlobalArgs) -> u8 {
    match role {
        InternalCommand::Init { fd } => init::main(fd),
        InternalCommand::Monitor { fd, id } => {
            let ctx = crate::context::Context::new(global);
            monitor::main(&ctx.paths, &id, fd)
        }
        InternalCommand::Unpack {
            fd,
            tar,
            dest,
            diff_id,
        } => helper(fd, "devbox:[unpack]", || {
            let expected = diff_id
                .map(|d| d.parse::<crate::image::Digest>())
                .transpose()
                .map_err(|e| e.to_string())?;
            let owners = owners_mappable();
            crate::image::layer::unpack(&tar, &dest, in_user_namespace(), owners, expected.as_ref())
                .map(drop)
                .map_err(|e| e.to_string())
        }),
        InternalCommand::PortProxy => crate::net::portproxy::serve_role(),
        InternalCommand::NetworkHolder { fd, .. } => network_holder(fd),
        InternalCommand::Pack {
            fd,
            upper,
            out,
            stubs,
        } => helper(fd, "devbox:[pack]", || {
            crate::build::layer_write::pack_role(&upper, &out, &stubs, in_user_namespace())
        }),
        InternalCommand::ProbeOverlay { fd, dir } => helper(fd, "devbox:[probe]", || {
            crate::fs::overlay::probe_mount(&dir, in_user_namespace())
        }),
        InternalCommand::FuseOverlay {
            fuse_fd,
            userns_pid,
            upper,
            work,
            userxattr,
            lowers,
        } => {
            let args = rootfs::ServerArgs {
                fuse_fd,
                userns_pid,
                upper,
                work,
                userxattr,
                lowers,
            };
            match rootfs::server_main(args) {
                Ok(()) => 0,
                Err(message) => {
                    // The parent reads stderr when readiness never comes.
                    use std::io::Write;
                    let _ = writeln!(std::io::stderr(), "{message}");
                    1
                }
            }
        }
        InternalCommand::ShiftLayer {
            fd,
            uid,
            gid,
            source,
            staging,
            target,
        } => helper(fd, "devbox:[shift]", || {
            crate::fs::shift::copy_swapped(&source, &staging, uid, gid)
                .map_err(|e| e.to_string())?;
            // Moving a directory needs write access to it, which only its owner in here has.
            match std::fs::rename(&staging, &target) {
                // Another start published it first.
                Err(_) if target.is_dir() => Ok(()),
                other => other.map_err(|e| format!("cannot publish {}: {e}", target.display())),
            }
        }),
        InternalCommand::Unshare { fd } => unshare(fd),
        InternalCommand::Rmtree { fd, paths } => helper(fd, "devbox:[rmtree]", || {
            for path in &paths {
                std::fs::remove_dir_all(path)
                    .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
            }
            Ok(())
        }),
    }
}

/// Whether this helper runs in a user namespace of its own (rootless), where
/// overlay metadata must live in `user.overlay.*` xattrs; the initial
/// namespace's uid_map is the identity over all ids.
fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| m.split_whitespace().take(3).collect::<Vec<_>>() != ["0", "0", "4294967295"])
        .unwrap_or(true)
}

/// False when this user namespace maps a single id (the fallback without a subuid range):
/// then files keep the unpacking user as owner instead of failing on the first foreign owner,
/// as Podman's `ignore_chown_errors` does. The run warns about the fallback.
fn owners_mappable() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| {
            m.lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok())
                .sum::<u64>()
                > 1
        })
        .unwrap_or(true)
}

/// The `__network-holder` role: its configuration and upstream DNS socket come over the
/// channel; it reports readiness there and lives on (detached) while containers use it.
fn network_holder(fd: i32) -> u8 {
    // Long-lived: nothing inherited from whoever started it may stay open.
    sys::process::close_fds_except(fd);
    let Ok(sock) = sys::ipc::inherited_fd(fd) else {
        return 125;
    };
    let channel = Channel { sock };
    let Ok(Some((config, mut fds))) = channel.recv::<crate::net::holder::HolderConfig>("parent")
    else {
        return 125;
    };
    crate::net::holder::serve(config, fds.pop(), |ready| match ready {
        Ok(()) => {
            let _ = channel.send(&crate::runtime::ipc::ToParent::Started, &[]);
        }
        Err(message) => userns::report_failure(&channel, message),
    })
}

/// `devbox unshare`'s child: execs the command the parent sends, or reports why it cannot.
fn unshare(fd: i32) -> u8 {
    use crate::runtime::ipc::{ExecFailure, ToParent};
    use std::os::unix::process::CommandExt;
    let Ok(sock) = sys::ipc::inherited_fd(fd) else {
        return 125;
    };
    let channel = Channel { sock };
    let command = match channel.recv::<Vec<std::ffi::OsString>>("parent") {
        Ok(Some((command, _))) if !command.is_empty() => command,
        _ => return 125,
    };
    // The channel closes at the exec: the parent then waits for the command's exit.
    if sys::ipc::set_cloexec(std::os::fd::AsRawFd::as_raw_fd(&channel.sock)).is_err() {
        return 125;
    }
    let name = command[0].to_string_lossy().into_owned();
    // Looked up here as a shell would: execvp reports EACCES when some PATH entry is closed
    // to us, for a command that is simply not there.
    let program = if name.contains('/') {
        Some(std::path::PathBuf::from(&command[0]))
    } else {
        crate::runtime::idmap::find_in_path(&name, std::env::var_os("PATH").as_deref())
    };
    let (kind, code, reason) = match program {
        None => (ExecFailure::NotFound, 127, "not found in PATH".to_string()),
        Some(program) => {
            let error = std::process::Command::new(program)
                .arg0(&command[0])
                .args(&command[1..])
                .exec();
            match error.kind() {
                std::io::ErrorKind::NotFound => (ExecFailure::NotFound, 127, error.to_string()),
                _ => (ExecFailure::NotExecutable, 126, error.to_string()),
            }
        }
    };
    let message = format!("cannot run `{name}`: {reason}");
    let _ = channel.send(&ToParent::Failed { kind, message }, &[]);
    code
}

fn helper(fd: i32, name: &str, work: impl FnOnce() -> Result<(), String>) -> u8 {
    sys::process::set_name(name);
    let Ok(sock) = sys::ipc::inherited_fd(fd) else {
        return 125;
    };
    let channel = Channel { sock };
    match work() {
        Ok(()) => 0,
        Err(message) => {
            userns::report_failure(&channel, message);
            1
        }
    }
}
