//! Confinement of the container's process, applied by the init process
//! (and by `exec` for the processes it starts), in runc's order:
//!
//! 1. masked and read-only paths, after pivot_root (Docker's lists);
//! 2. without no_new_privs, the seccomp filter while we still have
//!    CAP_SYS_ADMIN in the user namespace (the filter then must allow the
//!    steps below, as Docker's does);
//! 3. the bounding set, while CAP_SETPCAP is still there;
//! 4. the user switch (the sets of a non-root user empty themselves);
//! 5. effective, permitted and inheritable sets, ambient cleared;
//! 6. no_new_privs, and then the filter, as late as possible before exec.

use seccompiler::BpfProgram;

use crate::spec::seccomp::{self, Target};
use crate::spec::security::{self, Seccomp, Security};
use crate::sys;

/// Everything decided before the first irreversible step.
pub struct Confinement {
    pub bounding: u64,
    pub sets: sys::caps::Sets,
    pub no_new_privs: bool,
    pub seccomp: Vec<BpfProgram>,
}

/// Works out the capability sets for `uid` and compiles the seccomp filter.
pub fn prepare(security: &Security, uid: u32) -> Result<Confinement, String> {
    let set = security.capability_set().map_err(|e| e.to_string())?;
    let caps = security::process_caps(set, uid);
    let profile = match security.seccomp_in_force() {
        Seccomp::Unconfined => None,
        Seccomp::Default => Some(seccomp::default_profile()),
        Seccomp::Profile { file, json } => {
            Some(seccomp::parse(json).map_err(|e| format!("seccomp profile {file}: {e}"))?)
        }
    };
    let programs = match profile {
        None => Vec::new(),
        Some(profile) => {
            let target = Target {
                arch: Target::native_arch(),
                caps: set,
                kernel: sys::seccomp::kernel_version(),
            };
            let plan = seccomp::resolve(&profile, target).map_err(|e| e.to_string())?;
            seccomp::compile(&plan).map_err(|e| e.to_string())?
        }
    };
    Ok(Confinement {
        bounding: caps.bounding.0,
        sets: sys::caps::Sets {
            effective: caps.effective.0,
            permitted: caps.permitted.0,
            inheritable: caps.inheritable.0,
        },
        no_new_privs: security.no_new_privileges,
        seccomp: programs,
    })
}

impl Confinement {
    /// Steps 2 and 3, in the process that will switch user (or start the
    /// process that will).
    pub fn before_user_switch(&self) -> Result<(), String> {
        if !self.no_new_privs {
            self.install_seccomp()?;
        }
        sys::caps::limit_bounding_set(self.bounding).map_err(|e| e.to_string())
    }

    /// Steps 5 and 6, after the user switch.
    pub fn after_user_switch(&self) -> Result<(), String> {
        sys::caps::set(self.sets).map_err(|e| e.to_string())?;
        self.no_new_privs_and_late_seccomp()
    }

    /// Step 6 alone: `exec` and `--init` run it in the parent, whose child
    /// only switches user and sets the capability sets.
    pub fn no_new_privs_and_late_seccomp(&self) -> Result<(), String> {
        if self.no_new_privs {
            sys::process::set_no_new_privs().map_err(|e| e.to_string())?;
            self.install_seccomp()?;
        }
        Ok(())
    }

    fn install_seccomp(&self) -> Result<(), String> {
        for program in &self.seccomp {
            sys::seccomp::install(program).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Step 1: Docker's masked and read-only paths, unless `--privileged`.
/// Run after pivot_root; paths the kernel does not have are skipped.
pub fn mask_paths(security: &Security) -> Result<(), String> {
    use std::path::Path;
    if !security.masks_paths() {
        return Ok(());
    }
    for path in security::MASKED_PATHS
        .iter()
        .chain(&security::MASKED_PATHS_EXTRA)
        .map(Path::new)
    {
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        let masked = if meta.is_dir() {
            sys::mount::mount(
                "tmpfs",
                path,
                "tmpfs",
                sys::mount::Flags::MS_RDONLY,
                Some("size=0"),
            )
        } else {
            sys::mount::bind(Path::new("/dev/null"), path, false, false)
        };
        masked.map_err(|e| format!("cannot mask {}: {e}", path.display()))?;
    }
    for path in security::READONLY_PATHS.iter().map(Path::new) {
        if path.symlink_metadata().is_err() {
            continue;
        }
        sys::mount::bind(path, path, true, true)
            .map_err(|e| format!("cannot make {} read-only: {e}", path.display()))?;
    }
    Ok(())
}
