//! The container's root filesystem, per storage driver (DESIGN.md):
//! choosing the driver once per store, the root mount step init runs, and
//! the FUSE server that runs beside a container on the `fuse-overlayfs`
//! driver.
//!
//! FUSE: init (root of the container's user namespace, in its mount
//! namespace) opens /dev/fuse and mounts it on the rootfs dir, then hands
//! the connection's fd to the parent and waits. The parent starts
//! `devbox __fuse-overlay`, which joins the container's user namespace (so
//! the ids in requests are the container's, and it may chown to them) and
//! serves the connection; once its handshake is done init goes on. The mount
//! exists only in the container's private mount namespace: when the
//! container ends the mount goes with it and the server sees the connection
//! close, so no mount can be left behind on the host.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::idmap::IdMapping;
use super::{userns, Result, RuntimeError};
use crate::fs::driver::Driver;
use crate::store::containers::ContainerDirs;
use crate::store::images::Image;
use crate::store::Store;
use crate::sys::{self, mount::Flags};

/// How init makes the container's root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RootMount {
    /// The kernel overlay. Lower dirs are relative to `layers_dir` (mount
    /// options must fit in a page).
    Overlay {
        layers_dir: PathBuf,
        lowers: Vec<String>,
        upper: PathBuf,
        work: PathBuf,
        /// Overlay metadata in `user.overlay.*` xattrs (inside a user
        /// namespace).
        userxattr: bool,
        /// Mount with `volatile`: the kernel skips syncing the upper
        /// filesystem (the whole host filesystem) at unmount. Only for
        /// containers whose upper dir never outlives one run (`--rm`,
        /// build steps): after a host crash a volatile upper may be
        /// inconsistent, and such a container is gone by then anyway.
        #[serde(default)]
        volatile: bool,
    },
    /// devbox's FUSE overlay, served by `devbox __fuse-overlay`.
    Fuse {
        /// Top first.
        lowers: Vec<PathBuf>,
        upper: PathBuf,
        work: PathBuf,
        userxattr: bool,
    },
    /// A copy of the layers in `upper`, made on first start.
    Copy {
        lowers: Vec<PathBuf>,
        upper: PathBuf,
        /// Exists once the copy is complete.
        done: PathBuf,
        userxattr: bool,
    },
}

/// The root mount of a container on `driver`; `layer` names the tree of each layer
/// directory to use (`diff`, or its keep-id copy: `userns::layers_for`).
pub fn plan(
    driver: Driver,
    store: &Store,
    image: &Image,
    dirs: &ContainerDirs,
    layer: &str,
    userxattr: bool,
    transient: bool,
) -> RootMount {
    let diff_ids = image.config.rootfs.diff_ids.iter().rev();
    let tree = |d: &crate::image::Digest| store.layer_dir(d).join(layer);
    match driver {
        Driver::Overlay => RootMount::Overlay {
            layers_dir: store.layers_dir(),
            lowers: diff_ids.map(|d| format!("{}/{layer}", d.hex())).collect(),
            upper: dirs.upper(),
            work: dirs.work(),
            userxattr,
            volatile: transient,
        },
        Driver::FuseOverlayfs => RootMount::Fuse {
            lowers: diff_ids.map(tree).collect(),
            upper: dirs.upper(),
            work: dirs.work(),
            userxattr,
        },
        Driver::Vfs => RootMount::Copy {
            lowers: diff_ids.map(tree).collect(),
            upper: dirs.upper(),
            done: dirs.dir.join("vfs-populated"),
            userxattr,
        },
    }
}

/// In init: mounts the root on `dest`. For FUSE, `hand_off` gets the
/// connection's fd and returns once the server is serving it.
pub fn mount(
    root: &RootMount,
    dest: &Path,
    hand_off: impl FnOnce(OwnedFd) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    match root {
        RootMount::Overlay {
            layers_dir,
            lowers,
            upper,
            work,
            userxattr,
            volatile,
        } => {
            // Relative lower dirs keep the options within one page.
            std::env::set_current_dir(layers_dir)
                .map_err(|e| format!("cannot enter {}: {e}", layers_dir.display()))?;
            let mut data = format!(
                "lowerdir={},upperdir={},workdir={}",
                lowers.join(":"),
                upper.display(),
                work.display()
            );
            if *userxattr {
                data.push_str(",userxattr");
            }
            if *volatile {
                data.push_str(",volatile");
            }
            sys::mount::mount("overlay", dest, "overlay", Flags::empty(), Some(&data))
                .map_err(|e| e.to_string())?;
            std::env::set_current_dir("/").map_err(|e| e.to_string())
        }
        RootMount::Fuse { .. } => {
            let fuse: OwnedFd = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/fuse")
                .map_err(|e| format!("cannot open /dev/fuse: {e} (`devbox doctor` checks it)"))?
                .into();
            let data = format!(
                "fd={},rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions",
                fuse.as_raw_fd()
            );
            sys::mount::mount(
                "devbox-overlay",
                dest,
                "fuse.devbox-overlay",
                Flags::empty(),
                Some(&data),
            )
            .map_err(|e| e.to_string())?;
            hand_off(fuse)
        }
        RootMount::Copy {
            lowers,
            upper,
            done,
            userxattr,
        } => {
            if !done.exists() {
                let opaque = crate::fs::whiteout::opaque_xattr(*userxattr);
                crate::fs::vfs::populate(lowers, upper, opaque)
                    .map_err(|e| format!("cannot copy the image layers: {e}"))?;
                std::fs::write(done, b"")
                    .map_err(|e| format!("cannot write {}: {e}", done.display()))?;
            }
            sys::mount::bind(upper, dest, true, false).map_err(|e| e.to_string())
        }
    }
}

/// A running `devbox __fuse-overlay`; it is stopped when dropped (after the
/// container ended, the mount is gone and it exits on its own).
pub struct FuseServer {
    child: std::process::Child,
}

impl Drop for FuseServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// In the parent: starts the server for `root` on the FUSE connection init
/// handed over, in the user namespace of the container whose init has host
/// pid `init_pid` (none when devbox runs as real root). Returns once it
/// serves.
pub fn start_server(root: &RootMount, fuse: OwnedFd, init_pid: Option<i32>) -> Result<FuseServer> {
    let RootMount::Fuse {
        lowers,
        upper,
        work,
        userxattr,
    } = root
    else {
        return Err(RuntimeError::Setup("no FUSE root to serve".into()));
    };
    sys::ipc::set_inheritable(&fuse)?;
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg0("devbox")
        .arg("__fuse-overlay")
        .arg("--fuse-fd")
        .arg(fuse.as_raw_fd().to_string())
        .arg("--upper")
        .arg(upper)
        .arg("--work")
        .arg(work);
    if let Some(pid) = init_pid {
        cmd.arg("--userns-pid").arg(pid.to_string());
    }
    if *userxattr {
        cmd.arg("--userxattr");
    }
    cmd.args(lowers)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn()?;
    drop(fuse);
    let mut stdout = child.stdout.take();
    let mut byte = [0u8; 1];
    let ready = stdout
        .as_mut()
        .map(|s| s.read(&mut byte).unwrap_or(0) == 1)
        .unwrap_or(false);
    if !ready {
        let mut message = String::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = err.read_to_string(&mut message);
        }
        let _ = child.kill();
        let _ = child.wait();
        return Err(RuntimeError::Setup(format!(
            "the FUSE overlay did not start: {}",
            message.trim()
        )));
    }
    Ok(FuseServer { child })
}

/// Arguments of `devbox __fuse-overlay`.
pub struct ServerArgs {
    pub fuse_fd: i32,
    pub userns_pid: Option<i32>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub userxattr: bool,
    pub lowers: Vec<PathBuf>,
}

/// `devbox __fuse-overlay`: joins the container's user namespace and serves
/// the overlay until the container's mount goes away. Readiness is one byte
/// on stdout; failures go to stderr.
pub fn server_main(args: ServerArgs) -> std::result::Result<(), String> {
    sys::process::set_name("devbox:[fuse]");
    // Before any thread exists: setns(CLONE_NEWUSER) needs a single thread.
    if let Some(pid) = args.userns_pid {
        sys::ns::join_user_namespace(pid).map_err(|e| e.to_string())?;
    }
    let fuse = sys::ipc::inherited_fd(args.fuse_fd).map_err(|e| e.to_string())?;
    let config = crate::fs::fuse::OverlayConfig {
        lowers: args.lowers,
        upper: args.upper,
        work: args.work,
        userxattr: args.userxattr,
    };
    crate::fs::fuse::serve(config, fuse, || {
        use std::io::Write;
        let mut out = std::io::stdout();
        let _ = out.write_all(b"r");
        let _ = out.flush();
    })
    .map_err(|e| format!("FUSE overlay: {e}"))
}

/// Tries a kernel overlay mount in fresh user and mount namespaces (for
/// driver detection and `doctor`).
pub fn probe_kernel_overlay(
    mapping: &IdMapping,
    scratch: &Path,
) -> std::result::Result<(), String> {
    let dir = scratch.join(format!(
        "overlay-probe-{}",
        crate::store::atomic::unique_suffix()
    ));
    let prepare = || -> std::io::Result<()> {
        for sub in ["lower", "upper", "work", "merged"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        std::fs::write(dir.join("lower/probe"), b"x")
    };
    let result = prepare().map_err(|e| e.to_string()).and_then(|()| {
        let namespaces = sys::ns::Namespaces {
            user: !matches!(mapping, IdMapping::Root),
            mount: true,
            ..Default::default()
        };
        let role = [
            OsString::from("__probe-overlay"),
            dir.as_os_str().to_os_string(),
        ];
        userns::run_role(mapping, namespaces, &role).map_err(|e| e.to_string())
    });
    let _ = super::remove::remove_tree(mapping, &dir);
    result
}

/// Whether /dev/fuse can be opened for reading and writing.
pub fn fuse_usable() -> std::result::Result<(), String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map(drop)
        .map_err(|e| format!("/dev/fuse: {e}"))
}

/// The storage driver to use, and a one-line note when the store's driver
/// was just chosen as a fallback. `requested` (flag or environment)
/// overrides the record for this command; the first driver used is
/// recorded.
pub fn choose(
    store: &Store,
    requested: Option<Driver>,
    mapping: &IdMapping,
) -> Result<(Driver, Option<String>)> {
    if let Some(driver) = requested {
        if store.storage_driver()?.is_none() {
            store.record_storage_driver(driver)?;
        }
        return Ok((driver, None));
    }
    if let Some(driver) = store.storage_driver()? {
        return Ok((driver, None));
    }
    let (driver, why) = detect(mapping, &store.tmp_dir());
    let recorded = store.record_storage_driver(driver)?;
    let note = (recorded == driver && driver != Driver::Overlay).then(|| {
        format!("storage driver `{driver}` chosen for this store ({why}); `devbox doctor` explains")
    });
    Ok((recorded, note))
}

/// The driver for a process that has no command line of its own to ask (the monitor, a
/// build step): `DEVBOX_STORAGE_DRIVER` if set, else the store's record.
pub fn choose_inherited(store: &Store, mapping: &IdMapping) -> Result<Driver> {
    let requested = std::env::var(crate::env_vars::DEVBOX_STORAGE_DRIVER)
        .ok()
        .and_then(|name| Driver::parse(&name));
    Ok(choose(store, requested, mapping)?.0)
}

/// Kernel overlay in a user namespace, else FUSE, else copies.
pub fn detect(mapping: &IdMapping, scratch: &Path) -> (Driver, String) {
    let overlay = match probe_kernel_overlay(mapping, scratch) {
        Ok(()) => return (Driver::Overlay, "the kernel overlay works".into()),
        Err(e) => e,
    };
    match fuse_usable() {
        Ok(()) => (
            Driver::FuseOverlayfs,
            format!("the kernel overlay cannot be mounted here: {overlay}"),
        ),
        Err(fuse) => (
            Driver::Vfs,
            format!("no kernel overlay ({overlay}) and no FUSE ({fuse})"),
        ),
    }
}
