//! What confines a container, as plain values (pure): Docker's default
//! capability set and the `--cap-add`/`--cap-drop`/`--privileged` rules,
//! `--security-opt`, and the resource limits asked for. The seccomp profile
//! format is in `spec::seccomp`; applying all this is `runtime::confine`.

use serde::{Deserialize, Serialize};

/// Every capability the kernel knows, by number (`capability.h`).
pub const CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Docker's default set (moby `caps.DefaultCapabilities`).
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// A set of capabilities as the kernel's bit mask (bit N = capability N).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CapSet(pub u64);

impl CapSet {
    pub fn all() -> CapSet {
        CapSet((1u64 << CAPABILITIES.len()) - 1)
    }

    pub fn contains(self, name: &str) -> bool {
        number(name).is_some_and(|n| self.0 & (1 << n) != 0)
    }

    /// The names, in the kernel's order.
    pub fn names(self) -> Vec<&'static str> {
        CAPABILITIES
            .iter()
            .enumerate()
            .filter(|(n, _)| self.0 & (1 << n) != 0)
            .map(|(_, name)| *name)
            .collect()
    }

    fn of(names: &[&str]) -> CapSet {
        CapSet(
            names
                .iter()
                .filter_map(|n| number(n))
                .fold(0, |m, n| m | (1 << n)),
        )
    }
}

/// The number of a capability named with or without `CAP_`, any case.
pub fn number(name: &str) -> Option<usize> {
    let name = canonical(name);
    CAPABILITIES.iter().position(|c| *c == name)
}

/// `net_raw` → `CAP_NET_RAW`; `all` → `ALL`.
fn canonical(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    if upper == "ALL" || upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityError {
    #[error("unknown capability `{0}`")]
    UnknownCapability(String),
    #[error("invalid --security-opt `{0}`: {1}")]
    BadOption(String, &'static str),
    #[error("cannot read seccomp profile {file}: {error}")]
    ReadProfile { file: String, error: String },
    #[error("invalid seccomp profile {file}: {error}")]
    BadProfile {
        file: String,
        error: super::seccomp::ProfileError,
    },
    #[error("invalid {flag} `{value}`: {reason}")]
    BadLimit {
        flag: &'static str,
        value: String,
        reason: &'static str,
    },
}

/// The confinement flags of `run` (and `create`), as given.
#[derive(Debug, Clone, Default)]
pub struct Flags<'a> {
    pub cap_add: &'a [String],
    pub cap_drop: &'a [String],
    pub privileged: bool,
    pub security_opt: &'a [String],
    pub pids_limit: Option<i64>,
    pub memory: Option<&'a str>,
    pub cpus: Option<f64>,
}

/// Checks the flags and turns them into the container's `Security`, reading
/// seccomp profiles through `read`. Also returns the options accepted but
/// ignored (for a warning).
pub fn from_flags(
    flags: &Flags<'_>,
    read: impl Fn(&str) -> Result<String, String>,
) -> Result<(Security, Vec<String>), SecurityError> {
    let mut security = Security {
        cap_add: flags.cap_add.to_vec(),
        cap_drop: flags.cap_drop.to_vec(),
        privileged: flags.privileged,
        security_opt: flags.security_opt.to_vec(),
        ..Default::default()
    };
    security.capability_set()?;
    let mut ignored = Vec::new();
    for opt in flags.security_opt {
        match parse_security_opt(opt)? {
            SecurityOpt::NoNewPrivileges(on) => security.no_new_privileges = on,
            SecurityOpt::SeccompUnconfined => security.seccomp = Seccomp::Unconfined,
            SecurityOpt::SeccompFile(file) => {
                let json = read(&file).map_err(|error| SecurityError::ReadProfile {
                    file: file.clone(),
                    error,
                })?;
                super::seccomp::parse(&json).map_err(|error| SecurityError::BadProfile {
                    file: file.clone(),
                    error,
                })?;
                security.seccomp = Seccomp::Profile { file, json };
            }
            SecurityOpt::SystemPathsUnconfined => security.system_paths_unconfined = true,
            SecurityOpt::Ignored(opt) => ignored.push(opt),
        }
    }
    security.limits.pids = flags.pids_limit;
    if let Some(memory) = flags.memory {
        let bytes = super::mount::parse_size(memory).ok_or(SecurityError::BadLimit {
            flag: "--memory",
            value: memory.into(),
            reason: "expected a size such as 512m or 1g",
        })?;
        // Docker's minimum.
        if bytes < 6 << 20 {
            return Err(SecurityError::BadLimit {
                flag: "--memory",
                value: memory.into(),
                reason: "the minimum is 6m",
            });
        }
        security.limits.memory = Some(bytes);
    }
    if let Some(cpus) = flags.cpus {
        if !(cpus > 0.0 && cpus.is_finite()) {
            return Err(SecurityError::BadLimit {
                flag: "--cpus",
                value: cpus.to_string(),
                reason: "expected a positive number",
            });
        }
        security.limits.nano_cpus = Some((cpus * 1e9).round() as u64);
    }
    Ok((security, ignored))
}

/// The capability sets of the container's process, as Docker sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessCaps {
    pub bounding: CapSet,
    pub effective: CapSet,
    pub permitted: CapSet,
    /// Docker leaves the inheritable and ambient sets empty (CVE-2022-24769).
    pub inheritable: CapSet,
}

/// Docker's `TweakCapabilities`: `--privileged` is everything; `--cap-add ALL`
/// is everything but the drops; `--cap-drop ALL` is only the adds; else the
/// defaults less the drops plus the adds. Unknown names are errors.
pub fn capabilities(
    cap_add: &[String],
    cap_drop: &[String],
    privileged: bool,
) -> Result<CapSet, SecurityError> {
    for name in cap_add.iter().chain(cap_drop) {
        if canonical(name) != "ALL" && number(name).is_none() {
            return Err(SecurityError::UnknownCapability(name.clone()));
        }
    }
    if privileged {
        return Ok(CapSet::all());
    }
    let add: Vec<String> = cap_add.iter().map(|c| canonical(c)).collect();
    let drop: Vec<String> = cap_drop.iter().map(|c| canonical(c)).collect();
    let has = |list: &[String], name: &str| list.iter().any(|c| c == name);
    let refs = |list: &[String]| CapSet::of(&list.iter().map(String::as_str).collect::<Vec<_>>());
    let set = if has(&add, "ALL") {
        CapSet(CapSet::all().0 & !refs(&drop).0)
    } else if has(&drop, "ALL") {
        refs(&add)
    } else {
        CapSet((CapSet::of(&DEFAULT_CAPABILITIES).0 & !refs(&drop).0) | refs(&add).0)
    };
    Ok(set)
}

/// How the sets are split for a user (moby `oci.SetCapabilities`): root gets
/// the list as bounding, effective and permitted; any other uid only the
/// bounding set, as execve(2) would leave it.
pub fn process_caps(set: CapSet, uid: u32) -> ProcessCaps {
    let own = if uid == 0 { set } else { CapSet(0) };
    ProcessCaps {
        bounding: set,
        effective: own,
        permitted: own,
        inheritable: CapSet(0),
    }
}

/// `--security-opt seccomp=...`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seccomp {
    /// Docker's default profile (`spec::seccomp::default_profile`).
    #[default]
    Default,
    Unconfined,
    /// A profile in Docker's JSON format; its text, read at create time
    /// (Docker keeps the text too), and the file it came from.
    Profile {
        file: String,
        json: String,
    },
}

/// One `--security-opt` value, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityOpt {
    NoNewPrivileges(bool),
    SeccompUnconfined,
    SeccompFile(String),
    /// `systempaths=unconfined`: no masked or read-only paths (Docker's, for
    /// nested containers).
    SystemPathsUnconfined,
    /// `label=...`, `apparmor=...`, `systempaths=unconfined` etc.: SELinux and
    /// AppArmor are the host's business, which a rootless tool cannot change.
    Ignored(String),
}

/// Docker's forms: `no-new-privileges`, `no-new-privileges=true|false`
/// (also with `:`), `seccomp=unconfined|FILE`, `label=...`, `apparmor=...`.
pub fn parse_security_opt(text: &str) -> Result<SecurityOpt, SecurityError> {
    let (key, value) = match text.split_once(['=', ':']) {
        Some((k, v)) => (k, Some(v)),
        None => (text, None),
    };
    match (key, value) {
        ("no-new-privileges", None) => Ok(SecurityOpt::NoNewPrivileges(true)),
        ("no-new-privileges", Some(v)) => match v {
            "true" | "1" => Ok(SecurityOpt::NoNewPrivileges(true)),
            "false" | "0" => Ok(SecurityOpt::NoNewPrivileges(false)),
            _ => Err(SecurityError::BadOption(
                text.into(),
                "expected true or false",
            )),
        },
        ("seccomp", Some("unconfined")) => Ok(SecurityOpt::SeccompUnconfined),
        ("seccomp", Some(file)) if !file.is_empty() => Ok(SecurityOpt::SeccompFile(file.into())),
        ("seccomp", _) => Err(SecurityError::BadOption(
            text.into(),
            "expected seccomp=unconfined or seccomp=PROFILE.json",
        )),
        ("systempaths", Some("unconfined")) => Ok(SecurityOpt::SystemPathsUnconfined),
        ("systempaths", _) => Err(SecurityError::BadOption(
            text.into(),
            "expected systempaths=unconfined",
        )),
        ("label" | "apparmor" | "mask" | "unmask" | "proc-opts", Some(_)) => {
            Ok(SecurityOpt::Ignored(text.into()))
        }
        _ => Err(SecurityError::BadOption(text.into(), "unknown option")),
    }
}

/// Everything about confinement a container was created with; stored in
/// its record (the defaults are Docker's).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Security {
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub no_new_privileges: bool,
    pub seccomp: Seccomp,
    /// `--security-opt systempaths=unconfined`.
    pub system_paths_unconfined: bool,
    /// The `--security-opt` values as given, for `inspect`.
    pub security_opt: Vec<String>,
    pub limits: Limits,
}

/// `--pids-limit`, `--memory`, `--cpus` (Docker's units: bytes, nano-CPUs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    pub pids: Option<i64>,
    pub memory: Option<u64>,
    pub nano_cpus: Option<u64>,
}

impl Limits {
    pub fn any(&self) -> bool {
        self.pids.is_some_and(|p| p > 0) || self.memory.is_some() || self.nano_cpus.is_some()
    }
}

impl Security {
    /// The capability set the process may have (bounding set).
    pub fn capability_set(&self) -> Result<CapSet, SecurityError> {
        capabilities(&self.cap_add, &self.cap_drop, self.privileged)
    }

    /// Masked and read-only paths apply unless `--privileged` or
    /// `systempaths=unconfined` (Docker lifts them then).
    pub fn masks_paths(&self) -> bool {
        !self.privileged && !self.system_paths_unconfined
    }

    /// The seccomp choice in force: `--privileged` is unconfined (Docker's rule).
    pub fn seccomp_in_force(&self) -> &Seccomp {
        if self.privileged {
            &Seccomp::Unconfined
        } else {
            &self.seccomp
        }
    }
}

/// Paths Docker hides: files get /dev/null bound over them, directories an
/// empty read-only tmpfs (moby `oci.DefaultSpec` MaskedPaths).
pub const MASKED_PATHS: [&str; 10] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

/// Docker's newer masks, kept apart so the list above reads as Docker's.
pub const MASKED_PATHS_EXTRA: [&str; 1] = ["/sys/devices/virtual/powercap"];

/// Paths Docker makes read-only (ReadonlyPaths).
pub const READONLY_PATHS: [&str; 6] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
    "/proc/sys/fs/binfmt_misc",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_set_is_dockers_fourteen() {
        let set = capabilities(&[], &[], false).unwrap();
        assert_eq!(set.names().len(), 14);
        // The kernel's CapBnd of Docker's default container.
        assert_eq!(set.0, 0x00000000a80425fb);
        assert!(!set.contains("SYS_ADMIN"));
        assert!(set.contains("net_raw"));
    }

    #[test]
    fn add_drop_and_all_follow_docker() {
        let set = capabilities(&v(&["sys_admin"]), &v(&["CAP_NET_RAW", "chown"]), false).unwrap();
        assert!(set.contains("CAP_SYS_ADMIN"));
        assert!(!set.contains("NET_RAW") && !set.contains("CHOWN"));
        assert_eq!(set.names().len(), 13);
        let only = capabilities(&v(&["NET_BIND_SERVICE"]), &v(&["ALL"]), false).unwrap();
        assert_eq!(only.names(), vec!["CAP_NET_BIND_SERVICE"]);
        let all_but = capabilities(&v(&["all"]), &v(&["SYS_ADMIN"]), false).unwrap();
        assert_eq!(all_but.0, CapSet::all().0 & !(1 << 21));
        assert_eq!(capabilities(&[], &[], true).unwrap(), CapSet::all());
        assert_eq!(CapSet::all().0, 0x000001ffffffffff);
        assert_eq!(
            capabilities(&v(&["NET_FOO"]), &[], false),
            Err(SecurityError::UnknownCapability("NET_FOO".into()))
        );
    }

    #[test]
    fn non_root_users_get_only_the_bounding_set() {
        let set = capabilities(&[], &[], false).unwrap();
        let root = process_caps(set, 0);
        assert_eq!((root.effective, root.permitted), (set, set));
        let user = process_caps(set, 1000);
        assert_eq!(user.bounding, set);
        assert_eq!(user.effective, CapSet(0));
        assert_eq!(user.permitted, CapSet(0));
        assert_eq!(user.inheritable, CapSet(0));
    }

    #[test]
    fn security_opt_forms() {
        use SecurityOpt::*;
        assert_eq!(
            parse_security_opt("no-new-privileges"),
            Ok(NoNewPrivileges(true))
        );
        assert_eq!(
            parse_security_opt("no-new-privileges:false"),
            Ok(NoNewPrivileges(false))
        );
        assert_eq!(
            parse_security_opt("seccomp=unconfined"),
            Ok(SeccompUnconfined)
        );
        assert_eq!(
            parse_security_opt("seccomp=/p.json"),
            Ok(SeccompFile("/p.json".into()))
        );
        assert!(matches!(
            parse_security_opt("label=disable"),
            Ok(Ignored(_))
        ));
        assert!(parse_security_opt("seccomp").is_err());
        assert!(parse_security_opt("no-new-privileges=maybe").is_err());
        assert!(parse_security_opt("bogus=1").is_err());
    }

    #[test]
    fn flags_become_the_containers_security() {
        let opts = v(&["no-new-privileges", "seccomp=/p.json", "label=disable"]);
        let add = v(&["NET_ADMIN"]);
        let flags = Flags {
            cap_add: &add,
            security_opt: &opts,
            memory: Some("512m"),
            cpus: Some(1.5),
            pids_limit: Some(100),
            ..Default::default()
        };
        let read = |f: &str| {
            assert_eq!(f, "/p.json");
            Ok(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#.to_string())
        };
        let (sec, ignored) = from_flags(&flags, read).unwrap();
        assert!(sec.no_new_privileges);
        assert!(matches!(sec.seccomp, Seccomp::Profile { ref file, .. } if file == "/p.json"));
        assert_eq!(ignored, v(&["label=disable"]));
        assert_eq!(sec.limits.memory, Some(512 << 20));
        assert_eq!(sec.limits.nano_cpus, Some(1_500_000_000));
        assert_eq!(sec.limits.pids, Some(100));
        assert_eq!(sec.cap_add, add);

        let bad = v(&["seccomp=/bad.json"]);
        let flags = Flags {
            security_opt: &bad,
            ..Default::default()
        };
        let err = from_flags(&flags, |_| Ok("{\"defaultAction\": 3}".into())).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("invalid seccomp profile /bad.json: "));
        let err = from_flags(&flags, |_| Err("no such file".into())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read seccomp profile /bad.json: no such file"
        );
        let flags = Flags {
            memory: Some("1k"),
            ..Default::default()
        };
        assert!(from_flags(&flags, |_| unreachable!()).is_err());
    }

    #[test]
    fn privileged_lifts_masks_and_seccomp() {
        let sec = Security {
            privileged: true,
            seccomp: Seccomp::Default,
            ..Default::default()
        };
        assert!(!sec.masks_paths());
        assert_eq!(sec.seccomp_in_force(), &Seccomp::Unconfined);
        assert!(Security::default().masks_paths());
        let opts = v(&["systempaths=unconfined"]);
        let flags = Flags {
            security_opt: &opts,
            ..Default::default()
        };
        let (sec, _) = from_flags(&flags, |_| unreachable!()).unwrap();
        assert!(!sec.masks_paths());
        assert_eq!(sec.seccomp_in_force(), &Seccomp::Default);
        assert!(parse_security_opt("systempaths=confined").is_err());
    }
}
