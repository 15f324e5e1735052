//! Running a process as the test user with a clean environment, a timeout, and an
//! [`Output`] whose assertions print everything on failure.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::user::{TestUser, CLEAN_PATH};

/// How long any single command may take before the harness kills its process group.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// A process to start as the test user: program, arguments, extra env, stdin bytes.
#[derive(Debug)]
pub struct UserCommand {
    program: PathBuf,
    args: Vec<OsString>,
    /// The clean base environment (HOME, USER, PATH, XDG_*), overridable with `env`.
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    cwd: Option<PathBuf>,
    timeout: Duration,
    uid_gid: Option<(u32, u32)>,
}

impl UserCommand {
    /// `program` as `user`, with HOME/USER/LOGNAME/PATH/XDG_RUNTIME_DIR set and nothing else.
    pub fn new(user: &TestUser, program: impl AsRef<Path>) -> Self {
        let mut env: Vec<(OsString, OsString)> = vec![
            ("HOME".into(), user.home.clone().into()),
            ("USER".into(), user.name.clone().into()),
            ("LOGNAME".into(), user.name.clone().into()),
            ("PATH".into(), CLEAN_PATH.into()),
        ];
        if let Some(dir) = &user.runtime_dir {
            env.push(("XDG_RUNTIME_DIR".into(), dir.clone().into()));
        }
        Self {
            program: program.as_ref().to_path_buf(),
            args: Vec::new(),
            env,
            stdin: None,
            cwd: None,
            timeout: DEFAULT_TIMEOUT,
            uid_gid: user.dropped.then_some((user.uid, user.gid)),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets (or replaces) one environment variable of the child.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        let key = key.as_ref().to_owned();
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.as_ref().to_owned()));
        self
    }

    /// Pipes these bytes to the child's stdin (default: /dev/null).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn cmdline(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            let a = a.to_string_lossy();
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
                s.push_str(&format!(" '{}'", a.replace('\'', r"'\''")));
            } else {
                s.push(' ');
                s.push_str(&a);
            }
        }
        s
    }

    /// Runs to completion (or the timeout, then kills the process group and panics).
    pub fn run(self) -> Output {
        let cmdline = self.cmdline();
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a timeout kills helpers (slirp4netns) too.
            .process_group(0);
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        if let Some((uid, gid)) = self.uid_gid {
            // As root, std also calls setgroups(0) before dropping, so no extra groups remain.
            cmd.uid(uid).gid(gid);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{cmdline}`: {e}"));

        let stdin_thread = match (child.stdin.take(), self.stdin) {
            (Some(mut pipe), Some(bytes)) => Some(thread::spawn(move || {
                // The child may exit without reading (that is what some tests check).
                let _ = pipe.write_all(&bytes);
            })),
            _ => None,
        };
        let stdout = reader(child.stdout.take());
        let stderr = reader(child.stderr.take());

        let deadline = Instant::now() + self.timeout;
        let (status, timed_out) = loop {
            match child.try_wait() {
                Ok(Some(status)) => break (status, false),
                Ok(None) if Instant::now() >= deadline => {
                    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
                    break (child.wait().expect("wait after kill"), true);
                }
                Ok(None) => thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("waiting for `{cmdline}`: {e}"),
            }
        };
        if let Some(t) = stdin_thread {
            let _ = t.join();
        }
        let code = status
            .code()
            .or_else(|| status.signal().map(|s| 128 + s))
            .unwrap_or(-1);
        let output = Output {
            cmdline,
            code,
            stdout: String::from_utf8_lossy(&join(stdout)).into_owned(),
            stderr: String::from_utf8_lossy(&join(stderr)).into_owned(),
        };
        if timed_out {
            panic!("timed out after {:?}, killed\n{output}", self.timeout);
        }
        output
    }
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

fn join(t: thread::JoinHandle<Vec<u8>>) -> Vec<u8> {
    t.join().unwrap_or_default()
}

/// What a finished command did. Assertions panic with the whole output attached.
#[derive(Debug, Clone)]
pub struct Output {
    pub cmdline: String,
    /// The exit code, or 128+signal if it was killed.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "--- command: {}", self.cmdline)?;
        writeln!(f, "--- exit code: {}", self.code)?;
        writeln!(f, "--- stdout:\n{}", self.stdout)?;
        write!(f, "--- stderr:\n{}", self.stderr)
    }
}

impl Output {
    /// Panics with `msg` and the full output.
    #[track_caller]
    pub fn fail(&self, msg: &str) -> ! {
        panic!("{msg}\n{self}")
    }

    /// Asserts exit code 0.
    #[track_caller]
    pub fn success(&self) -> &Self {
        self.code_is(0)
    }

    /// Asserts the exit code.
    #[track_caller]
    pub fn code_is(&self, code: i32) -> &Self {
        if self.code != code {
            self.fail(&format!("expected exit code {code}, got {}", self.code));
        }
        self
    }

    /// Asserts a non-zero exit code.
    #[track_caller]
    pub fn failure(&self) -> &Self {
        if self.code == 0 {
            self.fail("expected a non-zero exit code");
        }
        self
    }

    /// Asserts stdout, with trailing whitespace of both sides ignored.
    #[track_caller]
    pub fn stdout_is(&self, expected: &str) -> &Self {
        if self.stdout.trim_end() != expected.trim_end() {
            self.fail(&format!("expected stdout {expected:?}"));
        }
        self
    }

    /// Asserts stdout byte for byte.
    #[track_caller]
    pub fn stdout_exactly(&self, expected: &str) -> &Self {
        if self.stdout != expected {
            self.fail(&format!("expected stdout exactly {expected:?}"));
        }
        self
    }

    #[track_caller]
    pub fn stdout_contains(&self, needle: &str) -> &Self {
        if !self.stdout.contains(needle) {
            self.fail(&format!("expected stdout to contain {needle:?}"));
        }
        self
    }

    #[track_caller]
    pub fn stderr_contains(&self, needle: &str) -> &Self {
        if !self.stderr.contains(needle) {
            self.fail(&format!("expected stderr to contain {needle:?}"));
        }
        self
    }

    /// stdout without trailing whitespace.
    pub fn out(&self) -> &str {
        self.stdout.trim_end()
    }

    /// Asserts devbox's error format: exit code `code`, and the first stderr line (after any
    /// `warning:` lines) starts with `Error: `; returns that line.
    #[track_caller]
    pub fn devbox_error(&self, code: i32) -> &str {
        self.code_is(code);
        match self.stderr.lines().find(|l| !l.starts_with("warning:")) {
            Some(line) if line.starts_with("Error: ") => line,
            _ => self.fail("expected the first line of stderr to start with `Error: `"),
        }
    }
}
