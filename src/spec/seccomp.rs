//! Seccomp profiles in Docker's JSON format (`--security-opt seccomp=FILE`),
//! Docker's default profile, and their compilation to BPF (pure).
//!
//! A profile is resolved for this machine first (architecture, the
//! container's capabilities, the kernel), then compiled with `seccompiler`
//! into one or more classic BPF programs that `sys::seccomp` installs.
//! seccompiler gives one filter a single "match" action, while a Docker
//! profile mixes actions (`clone3` fails with ENOSYS, the rest with EPERM);
//! so there is one program that allows every listed call and returns the
//! default action for the rest, plus one program per other action that
//! returns it for its own rules and allows the rest. The kernel runs every
//! program and keeps the most restrictive answer (seccomp(2)), which is
//! exactly the action of the matching rule.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use serde::Deserialize;

use super::security::CapSet;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("not a seccomp profile: {0}")]
    Json(String),
    #[error("unknown seccomp action `{0}`")]
    UnknownAction(String),
    #[error("seccomp action `{0}` is not supported by devbox")]
    UnsupportedAction(String),
    #[error("unknown seccomp comparison `{0}`")]
    UnknownOp(String),
    #[error("syscall argument index {0} out of range (0 to 5)")]
    BadIndex(u32),
    #[error("a syscall rule has no `names`")]
    NoNames,
    #[error("cannot compile the seccomp filter: {0}")]
    Compile(String),
    #[error("seccomp filters are not supported on {0}")]
    Arch(String),
}

/// Docker's profile document (the fields devbox reads; others are ignored,
/// as Docker ignores unknown ones).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: String,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub syscalls: Vec<SyscallRule>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    #[serde(default)]
    pub names: Vec<String>,
    /// The old single-name form.
    #[serde(default)]
    pub name: Option<String>,
    pub action: String,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<Arg>>,
    #[serde(default)]
    pub includes: Option<Filter>,
    #[serde(default)]
    pub excludes: Option<Filter>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

/// `includes`/`excludes`: Go architecture names, capability names, kernel.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default)]
    pub arches: Option<Vec<String>>,
    #[serde(default)]
    pub caps: Option<Vec<String>>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// What a matching rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Allow,
    Log,
    Trace(u32),
    Errno(u32),
    Trap,
    KillThread,
    KillProcess,
}

const EPERM: u32 = 1;

fn action(name: &str, errno: Option<u32>) -> Result<Action, ProfileError> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_ERRNO" => Action::Errno(errno.unwrap_or(EPERM)),
        "SCMP_ACT_TRACE" => Action::Trace(errno.unwrap_or(EPERM)),
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_NOTIFY" => return Err(ProfileError::UnsupportedAction(name.into())),
        other => return Err(ProfileError::UnknownAction(other.into())),
    })
}

impl From<Action> for SeccompAction {
    fn from(a: Action) -> SeccompAction {
        match a {
            Action::Allow => SeccompAction::Allow,
            Action::Log => SeccompAction::Log,
            Action::Trace(n) => SeccompAction::Trace(n),
            Action::Errno(n) => SeccompAction::Errno(n),
            Action::Trap => SeccompAction::Trap,
            Action::KillThread => SeccompAction::KillThread,
            Action::KillProcess => SeccompAction::KillProcess,
        }
    }
}

/// One comparison on a syscall argument (libseccomp's semantics: 64-bit;
/// `MASKED_EQ` is `arg & value == value_two`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Condition {
    pub index: u8,
    pub op: Op,
    pub value: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq(u64),
}

/// A rule after resolution: for this syscall number, when all conditions
/// hold (none: always), do `action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub syscall: i64,
    pub action: Action,
    pub conditions: Vec<Condition>,
}

/// The profile for this machine and container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub default: Action,
    pub rules: Vec<Resolved>,
}

/// What resolution needs to know about the machine and the container.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Go's name of this architecture (`amd64`, `arm64`).
    pub arch: &'a str,
    /// The container's capability (bounding) set.
    pub caps: CapSet,
    /// The running kernel (major, minor), when known.
    pub kernel: Option<(u32, u32)>,
}

impl Target<'_> {
    /// Go's name of the architecture devbox was built for.
    pub fn native_arch() -> &'static str {
        match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        }
    }
}

pub fn parse(json: &str) -> Result<Profile, ProfileError> {
    let profile: Profile =
        serde_json::from_str(json).map_err(|e| ProfileError::Json(e.to_string()))?;
    // Check what can be checked before the container starts.
    action(&profile.default_action, profile.default_errno_ret)?;
    for rule in &profile.syscalls {
        action(&rule.action, rule.errno_ret)?;
        if rule.names.is_empty() && rule.name.is_none() {
            return Err(ProfileError::NoNames);
        }
        for arg in rule.args.iter().flatten() {
            condition(arg)?;
        }
    }
    Ok(profile)
}

fn condition(arg: &Arg) -> Result<Condition, ProfileError> {
    let op = match arg.op.as_str() {
        "SCMP_CMP_NE" => Op::Ne,
        "SCMP_CMP_LT" => Op::Lt,
        "SCMP_CMP_LE" => Op::Le,
        "SCMP_CMP_EQ" => Op::Eq,
        "SCMP_CMP_GE" => Op::Ge,
        "SCMP_CMP_GT" => Op::Gt,
        "SCMP_CMP_MASKED_EQ" => Op::MaskedEq(arg.value),
        other => return Err(ProfileError::UnknownOp(other.into())),
    };
    let index = u8::try_from(arg.index)
        .ok()
        .filter(|i| *i <= 5)
        .ok_or(ProfileError::BadIndex(arg.index))?;
    let value = match op {
        Op::MaskedEq(_) => arg.value_two,
        _ => arg.value,
    };
    Ok(Condition { index, op, value })
}

fn kernel_at_least(min: &str, kernel: Option<(u32, u32)>) -> bool {
    let Some(kernel) = kernel else { return true };
    let mut parts = min.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let wanted = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    kernel >= wanted
}

/// Docker's rule selection (moby `setupSeccomp`): a rule applies when this
/// architecture and all its `includes.caps` are there and the kernel is
/// recent enough, and none of its `excludes` hold. Names this architecture
/// does not have are skipped (libseccomp's behaviour).
pub fn resolve(profile: &Profile, target: Target<'_>) -> Result<Plan, ProfileError> {
    let default = action(&profile.default_action, profile.default_errno_ret)?;
    let has_cap = |c: &String| target.caps.contains(c);
    let mut rules = Vec::new();
    for rule in &profile.syscalls {
        if let Some(inc) = &rule.includes {
            if inc
                .arches
                .as_ref()
                .is_some_and(|a| !a.iter().any(|a| a == target.arch))
                || inc.caps.as_ref().is_some_and(|c| !c.iter().all(has_cap))
                || inc
                    .min_kernel
                    .as_deref()
                    .is_some_and(|k| !kernel_at_least(k, target.kernel))
            {
                continue;
            }
        }
        if let Some(exc) = &rule.excludes {
            if exc
                .arches
                .as_ref()
                .is_some_and(|a| a.iter().any(|a| a == target.arch))
                || exc.caps.as_ref().is_some_and(|c| c.iter().any(has_cap))
                || exc
                    .min_kernel
                    .as_deref()
                    .is_some_and(|k| kernel_at_least(k, target.kernel))
            {
                continue;
            }
        }
        let act = action(&rule.action, rule.errno_ret)?;
        let conditions = rule
            .args
            .iter()
            .flatten()
            .map(condition)
            .collect::<Result<Vec<_>, _>>()?;
        // runc: conditions on distinct arguments must all hold; several on the
        // same argument are alternatives (one rule each).
        let mut seen = [0u8; 6];
        for c in &conditions {
            seen[c.index as usize] += 1;
        }
        let groups: Vec<Vec<Condition>> = if seen.iter().any(|n| *n > 1) {
            conditions.iter().map(|c| vec![*c]).collect()
        } else {
            vec![conditions]
        };
        for name in rule.names.iter().chain(&rule.name) {
            let Some(nr) = syscall_number(name) else {
                continue;
            };
            for conditions in &groups {
                rules.push(Resolved {
                    syscall: nr,
                    action: act,
                    conditions: conditions.clone(),
                });
            }
        }
    }
    Ok(Plan { default, rules })
}

/// The number of a syscall on this architecture, if it has one.
pub fn syscall_number(name: &str) -> Option<i64> {
    name.parse::<syscalls::Sysno>()
        .ok()
        .map(|s| i64::from(s.id()))
}

/// Compiles a plan into the programs to install, in order.
pub fn compile(plan: &Plan) -> Result<Vec<BpfProgram>, ProfileError> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| ProfileError::Arch(std::env::consts::ARCH.into()))?;
    let err = |e: seccompiler::BackendError| ProfileError::Compile(e.to_string());
    let mut programs = Vec::new();
    let mut add = |rules: Vec<&Resolved>, mismatch: Action, matched: Action| {
        let mut map: BTreeMap<i64, Option<Vec<SeccompRule>>> = BTreeMap::new();
        for rule in rules {
            let entry = map.entry(rule.syscall).or_insert_with(|| Some(Vec::new()));
            if rule.conditions.is_empty() {
                // Unconditional: matches whatever else is listed.
                *entry = None;
                continue;
            }
            if let Some(list) = entry {
                let conditions = rule
                    .conditions
                    .iter()
                    .map(|c| {
                        let op = match c.op {
                            Op::Ne => SeccompCmpOp::Ne,
                            Op::Lt => SeccompCmpOp::Lt,
                            Op::Le => SeccompCmpOp::Le,
                            Op::Eq => SeccompCmpOp::Eq,
                            Op::Ge => SeccompCmpOp::Ge,
                            Op::Gt => SeccompCmpOp::Gt,
                            Op::MaskedEq(mask) => SeccompCmpOp::MaskedEq(mask),
                        };
                        SeccompCondition::new(c.index, SeccompCmpArgLen::Qword, op, c.value)
                            .map_err(err)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                list.push(SeccompRule::new(conditions).map_err(err)?);
            }
        }
        let map = map
            .into_iter()
            .map(|(nr, rules)| (nr, rules.unwrap_or_default()))
            .collect();
        let filter = SeccompFilter::new(map, mismatch.into(), matched.into(), arch).map_err(err)?;
        let program: BpfProgram = filter
            .try_into()
            .map_err(|e: seccompiler::BackendError| err(e))?;
        programs.push(program);
        Ok::<(), ProfileError>(())
    };
    if plan.default != Action::Allow {
        add(plan.rules.iter().collect(), plan.default, Action::Allow)?;
    }
    let mut others: Vec<Action> = plan
        .rules
        .iter()
        .map(|r| r.action)
        .filter(|a| *a != Action::Allow)
        .collect();
    others.sort();
    others.dedup();
    for act in others {
        let rules = plan.rules.iter().filter(|r| r.action == act).collect();
        add(rules, Action::Allow, act)?;
    }
    Ok(programs)
}

/// Docker's default profile (moby `profiles/seccomp`, rewritten as data):
/// a list of allowed calls; the rest fail with EPERM. Among those denied:
/// keyctl, add_key, request_key, kexec_load, bpf, perf_event_open,
/// mount/unshare/setns/clone of new namespaces (unless CAP_SYS_ADMIN),
/// init_module, reboot, swapon, acct, userfaultfd, open_by_handle_at.
pub fn default_profile() -> Profile {
    let rule = |names: &[&str], action: &str| SyscallRule {
        names: names.iter().map(|n| n.to_string()).collect(),
        action: action.into(),
        ..Default::default()
    };
    let when_cap = |names: &[&str], cap: &str| SyscallRule {
        includes: Some(Filter {
            caps: Some(vec![cap.into()]),
            ..Default::default()
        }),
        ..rule(names, "SCMP_ACT_ALLOW")
    };
    let on_arches = |names: &[&str], arches: &[&str]| SyscallRule {
        includes: Some(Filter {
            arches: Some(arches.iter().map(|a| a.to_string()).collect()),
            ..Default::default()
        }),
        ..rule(names, "SCMP_ACT_ALLOW")
    };
    let with_arg = |name: &str, op: &str, value: u64| SyscallRule {
        args: Some(vec![Arg {
            index: 0,
            value,
            value_two: 0,
            op: op.into(),
        }]),
        ..rule(&[name], "SCMP_ACT_ALLOW")
    };
    let without_sys_admin = Some(Filter {
        caps: Some(vec!["CAP_SYS_ADMIN".into()]),
        ..Default::default()
    });
    let mut syscalls = vec![rule(DEFAULT_ALLOWED, "SCMP_ACT_ALLOW")];
    // AF_VSOCK sockets reach the host.
    syscalls.push(with_arg("socket", "SCMP_CMP_NE", 40));
    // personality: only the harmless personas (Linux, its 32-bit variant,
    // UNAME26 forms) and the query.
    for persona in [0, 8, 0x20000, 0x20008, 0xffff_ffff] {
        syscalls.push(with_arg("personality", "SCMP_CMP_EQ", persona));
    }
    syscalls.push(on_arches(&["arch_prctl"], &["amd64", "x32"]));
    syscalls.push(on_arches(&["modify_ldt"], &["amd64", "x32", "x86"]));
    syscalls.push(on_arches(
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ],
        &["arm", "arm64"],
    ));
    syscalls.push(on_arches(&["riscv_flush_icache"], &["riscv64"]));
    syscalls.push(when_cap(&["open_by_handle_at"], "CAP_DAC_READ_SEARCH"));
    syscalls.push(when_cap(
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
        "CAP_SYS_ADMIN",
    ));
    // Without CAP_SYS_ADMIN: clone without any CLONE_NEW* flag (mask
    // 0x7E020000), and clone3 says ENOSYS so libcs fall back to clone.
    syscalls.push(SyscallRule {
        excludes: without_sys_admin.clone(),
        ..with_arg("clone", "SCMP_CMP_MASKED_EQ", 0x7E02_0000)
    });
    syscalls.push(SyscallRule {
        errno_ret: Some(38),
        excludes: without_sys_admin,
        ..rule(&["clone3"], "SCMP_ACT_ERRNO")
    });
    syscalls.push(when_cap(&["reboot"], "CAP_SYS_BOOT"));
    syscalls.push(when_cap(&["chroot"], "CAP_SYS_CHROOT"));
    syscalls.push(when_cap(
        &["delete_module", "init_module", "finit_module"],
        "CAP_SYS_MODULE",
    ));
    syscalls.push(when_cap(&["acct"], "CAP_SYS_PACCT"));
    syscalls.push(when_cap(
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
        "CAP_SYS_PTRACE",
    ));
    syscalls.push(when_cap(&["iopl", "ioperm"], "CAP_SYS_RAWIO"));
    syscalls.push(when_cap(
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
        "CAP_SYS_TIME",
    ));
    syscalls.push(when_cap(&["vhangup"], "CAP_SYS_TTY_CONFIG"));
    syscalls.push(when_cap(
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
        "CAP_SYS_NICE",
    ));
    syscalls.push(when_cap(&["syslog"], "CAP_SYSLOG"));
    syscalls.push(when_cap(&["bpf"], "CAP_BPF"));
    syscalls.push(when_cap(&["perf_event_open"], "CAP_PERFMON"));
    Profile {
        default_action: "SCMP_ACT_ERRNO".into(),
        default_errno_ret: Some(EPERM),
        syscalls,
    }
}

/// Calls Docker's default profile allows unconditionally (since kernel 4.8
/// that includes ptrace and process_vm_*: the kernel confines them to the
/// container's own processes).
const DEFAULT_ALLOWED: &[&str] = &[
    // Files and directories.
    "access",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "close",
    "close_range",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futimesat",
    "getcwd",
    "getdents",
    "getdents64",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "name_to_handle_at",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "pread64",
    "preadv",
    "preadv2",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "rmdir",
    "sendfile",
    "sendfile64",
    "setxattr",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "tee",
    "truncate",
    "truncate64",
    "umask",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vmsplice",
    "write",
    "writev",
    // Asynchronous I/O and polling.
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "io_setup",
    "io_submit",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ioctl",
    "poll",
    "ppoll",
    "ppoll_time64",
    "pselect6",
    "pselect6_time64",
    "select",
    "_newselect",
    "signalfd",
    "signalfd4",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    // Memory.
    "brk",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mremap",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "remap_file_pages",
    // Processes, threads, signals.
    "capget",
    "capset",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "fork",
    "futex",
    "futex_time64",
    "futex_waitv",
    "get_robust_list",
    "get_thread_area",
    "getcpu",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "getrusage",
    "getsid",
    "gettid",
    "getuid",
    "getuid32",
    "ioprio_get",
    "ioprio_set",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "prctl",
    "prlimit64",
    "process_mrelease",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "restart_syscall",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "set_robust_list",
    "set_thread_area",
    "set_tid_address",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "setsid",
    "setuid",
    "setuid32",
    "sigaltstack",
    "sigprocmask",
    "sigreturn",
    "tgkill",
    "tkill",
    "ugetrlimit",
    "vfork",
    "wait4",
    "waitid",
    "waitpid",
    // Time.
    "adjtimex",
    "alarm",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "gettimeofday",
    "nanosleep",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "times",
    // Sockets and IPC.
    "accept",
    "accept4",
    "bind",
    "connect",
    "getpeername",
    "getsockname",
    "getsockopt",
    "ipc",
    "listen",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "pipe",
    "pipe2",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setsockopt",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "socketcall",
    "socketpair",
    // System information.
    "sysinfo",
    "uname",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::security::capabilities;

    fn target(caps: CapSet) -> Target<'static> {
        Target {
            arch: "amd64",
            caps,
            kernel: Some((6, 1)),
        }
    }

    fn nr(name: &str) -> i64 {
        syscall_number(name).unwrap()
    }

    fn rules_for(plan: &Plan, name: &str) -> Vec<Resolved> {
        plan.rules
            .iter()
            .filter(|r| r.syscall == nr(name))
            .cloned()
            .collect()
    }

    #[test]
    fn default_profile_denies_the_dangerous_calls() {
        let caps = capabilities(&[], &[], false).unwrap();
        let plan = resolve(&default_profile(), target(caps)).unwrap();
        assert_eq!(plan.default, Action::Errno(1));
        for denied in [
            "keyctl",
            "add_key",
            "request_key",
            "kexec_load",
            "bpf",
            "perf_event_open",
            "unshare",
            "mount",
            "setns",
            "init_module",
            "userfaultfd",
        ] {
            assert!(rules_for(&plan, denied).is_empty(), "{denied} is allowed");
        }
        assert_eq!(rules_for(&plan, "read")[0].action, Action::Allow);
        // clone only without namespace flags; clone3 says ENOSYS.
        let clone = rules_for(&plan, "clone");
        assert_eq!(clone.len(), 1);
        assert_eq!(clone[0].conditions[0].op, Op::MaskedEq(0x7E02_0000));
        assert_eq!(rules_for(&plan, "clone3")[0].action, Action::Errno(38));
        assert_eq!(rules_for(&plan, "personality").len(), 5);
        assert_eq!(rules_for(&plan, "arch_prctl").len(), 1);
    }

    #[test]
    fn cap_sys_admin_opens_mount_and_unshare() {
        let caps = capabilities(&["SYS_ADMIN".into()], &[], false).unwrap();
        let plan = resolve(&default_profile(), target(caps)).unwrap();
        assert_eq!(rules_for(&plan, "unshare")[0].action, Action::Allow);
        assert!(rules_for(&plan, "mount")[0].conditions.is_empty());
        // The conditional clone rule is excluded, the open one stays.
        assert!(rules_for(&plan, "clone")
            .iter()
            .all(|r| r.conditions.is_empty()));
        assert!(rules_for(&plan, "clone3")
            .iter()
            .all(|r| r.action == Action::Allow));
    }

    #[test]
    fn docker_json_parses_with_args_includes_and_errno() {
        let json = r#"{
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"name": "chmod", "action": "SCMP_ACT_KILL"},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                          {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
                {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 1, "value": 255, "valueTwo": 4, "op": "SCMP_CMP_MASKED_EQ"},
                          {"index": 0, "value": 3, "op": "SCMP_CMP_GT"}]},
                {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO",
                 "includes": {"arches": ["arm64"]}},
                {"names": ["no_such_call"], "action": "SCMP_ACT_ERRNO"}
            ]
        }"#;
        let profile = parse(json).unwrap();
        let plan = resolve(&profile, target(CapSet(0))).unwrap();
        assert_eq!(plan.default, Action::Allow);
        assert_eq!(rules_for(&plan, "mkdirat")[0].action, Action::Errno(13));
        assert_eq!(rules_for(&plan, "chmod")[0].action, Action::KillThread);
        // Same index twice: alternatives (two rules).
        assert_eq!(rules_for(&plan, "personality").len(), 2);
        // Different indexes: one rule, both must hold.
        let ioctl = rules_for(&plan, "ioctl");
        assert_eq!(ioctl.len(), 1);
        assert_eq!(
            ioctl[0].conditions[0],
            Condition {
                index: 1,
                op: Op::MaskedEq(255),
                value: 4
            }
        );
        assert!(rules_for(&plan, "ptrace").is_empty());
        assert_eq!(plan.rules.len(), 6);
        assert!(compile(&plan).unwrap().len() == 3);
    }

    #[test]
    fn bad_profiles_are_refused_with_the_reason() {
        assert!(matches!(parse("{"), Err(ProfileError::Json(_))));
        assert!(matches!(
            parse(r#"{"defaultAction": "SCMP_ACT_MAYBE"}"#),
            Err(ProfileError::UnknownAction(_))
        ));
        assert!(matches!(
            parse(
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}"#
            ),
            Err(ProfileError::UnsupportedAction(_))
        ));
        assert!(matches!(
            parse(
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "value": 0, "op": "SCMP_CMP_EQ"}]}]}"#
            ),
            Err(ProfileError::BadIndex(7))
        ));
        assert!(matches!(
            parse(
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_ALMOST"}]}]}"#
            ),
            Err(ProfileError::UnknownOp(_))
        ));
    }

    #[test]
    fn default_profile_compiles_to_small_programs() {
        let caps = capabilities(&[], &[], false).unwrap();
        let plan = resolve(&default_profile(), target(caps)).unwrap();
        let programs = compile(&plan).unwrap();
        // Allow-list with EPERM default, then clone3's ENOSYS.
        assert_eq!(programs.len(), 2);
        // The kernel's limit is 4096 instructions per program.
        assert!(
            programs.iter().all(|p| p.len() < 4096),
            "{:?}",
            programs.iter().map(Vec::len).collect::<Vec<_>>()
        );
    }

    #[test]
    fn min_kernel_is_compared_as_numbers() {
        assert!(kernel_at_least("4.8", Some((6, 1))));
        assert!(kernel_at_least("4.8", Some((4, 10))));
        assert!(!kernel_at_least("5.10", Some((5, 4))));
        assert!(kernel_at_least("5.10", None));
    }
}
