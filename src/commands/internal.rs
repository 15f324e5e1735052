//! The hidden roles the binary re-execs itself as.

use crate::cli::internal::InternalCommand;
use crate::runtime::ipc::Channel;
use crate::runtime::{init, userns};
use crate::sys;

pub fn run(role: InternalCommand) -> u8 {
    match role {
        InternalCommand::Init { fd } => init::main(fd),
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
            crate::image::layer::unpack(&tar, &dest, in_user_namespace(), expected.as_ref())
                .map(drop)
                .map_err(|e| e.to_string())
        }),
        InternalCommand::ProbeOverlay { fd, dir } => helper(fd, "devbox:[probe]", || {
            crate::fs::overlay::probe_mount(&dir, in_user_namespace())
        }),
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
