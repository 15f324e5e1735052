//! Installing seccomp BPF programs (compiled by `spec::seccomp`).

use seccompiler::sock_filter;

use super::{Result, SysError};

/// Installs `program` on this thread. Needs no_new_privs or CAP_SYS_ADMIN
/// in the current user namespace. Programs stack: the kernel runs all of
/// them and keeps the most restrictive answer.
pub fn install(program: &[sock_filter]) -> Result<()> {
    let len = u16::try_from(program.len())
        .map_err(|_| SysError::new("seccomp", "filter too long", nix::Error::E2BIG))?;
    let prog = libc::sock_fprog {
        len,
        // seccompiler's sock_filter is repr(C) with the kernel's layout
        // (u16 code, u8 jt, u8 jf, u32 k), the same as libc's.
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: the kernel copies `len` instructions from `filter`, which
    // points into `program`, alive for the call; it validates the program.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        return Err(SysError::new(
            "seccomp",
            "SECCOMP_SET_MODE_FILTER",
            nix::Error::last(),
        ));
    }
    Ok(())
}

/// The running kernel's (major, minor), for profiles' `minKernel`.
pub fn kernel_version() -> Option<(u32, u32)> {
    let uts = nix::sys::utsname::uname().ok()?;
    let release = uts.release().to_str()?;
    let mut parts = release.split(['.', '-']).map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??))
}
