//! Detached containers without a daemon: `devbox run -d` and `start`
//! re-exec devbox as `devbox __monitor ID`, one small process per container
//! (`devbox:[monitor]`). It holds the container's lock (liveness), starts
//! the container as `run` does, writes its output to the log, records the
//! exit and applies the restart policy.
//!
//! The parent waits on a channel for `Started` or the start error, so a
//! detached start fails with the same message and exit code as a
//! foreground one.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use super::attach::AttachServer;
use super::ipc::{Channel, ExecFailure, ToParent};
use super::logs::LogWriter;
use super::state;
use super::{launch, remove, userns, Result, RuntimeError};
use crate::paths::Paths;
use crate::spec::restart;
use crate::store::containers::ContainerDirs;
use crate::store::Store;
use crate::sys;

/// Starts the monitor of container `id` and returns once its command runs
/// (or with the reason it could not start).
pub fn start_detached(paths: &Paths, id: &str) -> Result<()> {
    let (ours, theirs) = sys::ipc::seqpacket_pair()?;
    sys::ipc::set_inheritable(&theirs)?;
    let args: Vec<OsString> = vec![
        "--root".into(),
        paths.root.clone().into(),
        "--runroot".into(),
        paths.run_root.clone().into(),
        "__monitor".into(),
        "--fd".into(),
        theirs.as_raw_fd().to_string().into(),
        id.into(),
    ];
    // The monitor's own complaints (a panic) land next to the container.
    let stderr = fs_err::OpenOptions::new().create(true).append(true).open(
        Store::open(&paths.root)?
            .with_run_root(paths.run_root.clone())
            .container_dirs(id)
            .dir
            .join("monitor.log"),
    )?;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(stderr.into_parts().0)
        .spawn()?;
    drop(theirs);
    let channel = Channel { sock: ours };
    let reply = channel.recv::<ToParent>("monitor");
    match reply {
        Ok(Some((ToParent::Started, _))) => Ok(()),
        Ok(Some((ToParent::Failed { kind, message }, _))) => {
            let _ = child.wait();
            Err(kind.into_error(message))
        }
        other => {
            let status = child.wait().ok();
            Err(RuntimeError::Setup(format!(
                "the container's monitor ended before the container started ({})",
                match (other, status) {
                    (Err(e), _) => e.to_string(),
                    (_, Some(s)) => s.to_string(),
                    _ => "no report".into(),
                }
            )))
        }
    }
}

/// Entry point of `devbox __monitor --fd N ID`.
pub fn main(paths: &Paths, id: &str, fd: i32) -> u8 {
    sys::process::set_name("devbox:[monitor]");
    // Our own session: the terminal closing does not reach us; and not the user's working
    // directory, which we would keep busy (every path we use is absolute).
    let _ = sys::process::setsid();
    let _ = std::env::set_current_dir("/");
    sys::process::close_fds_except(fd);
    let Ok(sock) = sys::ipc::inherited_fd(fd) else {
        return 125;
    };
    let mut report = Some(Channel { sock });
    match run(paths, id, &mut report) {
        Ok(()) => 0,
        Err(e) => {
            if let Some(channel) = report {
                let _ = channel.send(
                    &ToParent::Failed {
                        kind: ExecFailure::of(&e),
                        message: e.to_string(),
                    },
                    &[],
                );
            }
            e.exit_code()
        }
    }
}

fn run(paths: &Paths, id: &str, report: &mut Option<Channel>) -> Result<()> {
    let store = Store::open(&paths.root)?.with_run_root(paths.run_root.clone());
    let (record, mut state) = store.load_container(id)?;
    let dirs = store.container_dirs(id);
    let owner = launch::take_ownership(&record, &dirs)?;
    let image = store.resolve_image(&record.image_id.to_string())?;
    let (mapping, _) = userns::detect_mapping(&paths.host)?;
    let driver = super::rootfs::choose_inherited(&store, &mapping)?;
    let mut log = LogWriter::open(&dirs.log())?;
    let mut attach = AttachServer::bind(&paths.run_root, id).ok();
    // A start by the user begins a new count (Docker).
    state.restart_count = 0;
    let mut delay = Duration::ZERO;
    loop {
        let began = Instant::now();
        let target = launch::Target {
            store: &store,
            mapping: &mapping,
            host: &paths.host,
            image: &image,
            record: &record,
            driver,
            dirs: &dirs,
        };
        let code = match run_once(target) {
            Ok(running) => {
                state.running(running.started.pid.as_raw(), state::now());
                state.ports = running.started.ports.clone();
                state.networks = running.started.networks.clone();
                state.health = record
                    .healthcheck
                    .as_ref()
                    .map(|_| crate::spec::health::Health::starting());
                store.save_state(id, &state)?;
                if let Some(channel) = report.take() {
                    let _ = channel.send(&ToParent::Started, &[]);
                }
                // From here on only the pump loop runs, maybe for days.
                sys::process::trim_memory();
                let mut watch = record.healthcheck.as_ref().map(|config| HealthWatch {
                    probe: super::health::Probe::new(config, paths, id),
                    store: &store,
                    id,
                    state: &mut state,
                });
                running
                    .finish(&mut log, watch.as_mut(), attach.as_mut())?
                    .as_code()
            }
            Err(e) if report.is_some() => {
                state.error = Some(e.to_string());
                state.exited(None, state::now());
                store.save_state(id, &state)?;
                return Err(e);
            }
            Err(e) => {
                // A restart that fails to start ends the policy.
                state.error = Some(e.to_string());
                state.exited(Some(i32::from(e.exit_code())), state::now());
                store.save_state(id, &state)?;
                break;
            }
        };
        state.exited(Some(code), state::now());
        store.save_state(id, &state)?;
        // `update --restart` may have changed the policy meanwhile.
        let policy = store
            .load_container(id)
            .map(|(r, _)| r.restart)
            .unwrap_or(record.restart);
        let stopped = dirs.stop_requested().exists();
        if !policy.should_restart(code, state.restart_count, stopped) {
            break;
        }
        delay = restart::backoff(delay, began.elapsed());
        if !sleep_unless_stopped(delay, &dirs) {
            break;
        }
        state.restart_count += 1;
    }
    if record.spec.auto_remove {
        let path = super::lifecycle::exit_record(paths, id);
        let code = state.exit_code.map(|c| c.to_string()).unwrap_or_default();
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(path, code);
        drop(owner);
        remove::remove_container(&store, &mapping, id, true)?;
    }
    Ok(())
}

/// A started container whose output the monitor still has to pump.
struct Running {
    started: launch::Started,
    sources: Vec<(OwnedFd, Stream)>,
    /// Where attached clients' input goes: the stdin pipe with `-i`, the
    /// terminal with `-t`.
    input: Option<OwnedFd>,
}

impl Running {
    /// Pumps the output to the log (running the healthcheck when due) until
    /// the container ends; returns how it ended.
    fn finish(
        self,
        log: &mut LogWriter,
        watch: Option<&mut HealthWatch>,
        attach: Option<&mut AttachServer>,
    ) -> Result<sys::process::Exit> {
        let mut pump = Pump {
            log,
            watch,
            attach,
            input: self.input.map(std::fs::File::from),
        };
        pump.run(self.sources)?;
        let exit = sys::process::wait_exit(self.started.pid)?;
        drop(self.started);
        Ok(exit)
    }
}

/// Starts the command once with its output going to pipes we read.
fn run_once(target: launch::Target) -> Result<Running> {
    let prepared = launch::prepare(target)?;
    let (out_r, out_w) = sys::ipc::pipe()?;
    let (err_r, err_w) = sys::ipc::pipe()?;
    // With `-i` the container's stdin is a pipe attached clients write to.
    let (in_r, mut input) = if target.record.spec.interactive {
        let (r, w) = sys::ipc::pipe()?;
        (r, Some(w))
    } else {
        (fs_err::File::open("/dev/null")?.into(), None)
    };
    let started = launch::start(prepared, Some([&in_r, &out_w, &err_w]))?;
    drop((out_w, err_w, in_r));
    let mut sources = vec![(out_r, Stream::Stdout), (err_r, Stream::Stderr)];
    if let Some(pty) = started.pty.as_ref().and_then(|p| p.try_clone().ok()) {
        input = pty.try_clone().ok();
        sources.push((pty, Stream::Stdout));
    }
    Ok(Running {
        started,
        sources,
        input,
    })
}

/// The healthcheck of a running container and where its results go.
struct HealthWatch<'a> {
    probe: super::health::Probe<'a>,
    store: &'a Store,
    id: &'a str,
    state: &'a mut state::State,
}

impl HealthWatch<'_> {
    /// Runs the check if it is due and records the result in state.json.
    fn check_if_due(&mut self) -> Result<()> {
        if !self.probe.due_in().is_zero() {
            return Ok(());
        }
        let (result, in_start_period) = self.probe.run();
        let retries = self.probe.config.retries;
        self.state
            .health
            .get_or_insert_with(crate::spec::health::Health::starting)
            .record(result, in_start_period, retries);
        self.store.save_state(self.id, self.state)?;
        Ok(())
    }
}

pub use super::logs::Stream;

/// How long the container may be silent before the monitor trims its memory.
const IDLE_MS: i32 = 10_000;

/// The monitor's loop while the container runs.
struct Pump<'a, 'w> {
    log: &'a mut LogWriter,
    watch: Option<&'a mut HealthWatch<'w>>,
    attach: Option<&'a mut AttachServer>,
    input: Option<std::fs::File>,
}

impl Pump<'_, '_> {
    /// Copies the container's output into the log (and to attached clients)
    /// until every source closes (the container's PID 1 ended, taking its
    /// namespace with it); runs the healthcheck when due; passes clients'
    /// input on.
    fn run(&mut self, mut sources: Vec<(OwnedFd, Stream)>) -> Result<()> {
        use std::os::fd::AsFd;
        let mut buf = [0u8; 8192];
        while !sources.is_empty() {
            let mut fds: Vec<_> = sources.iter().map(|(fd, _)| fd.as_fd()).collect();
            let outputs = fds.len();
            if let Some(attach) = &self.attach {
                fds.push(attach.listener().as_fd());
                fds.extend(attach.clients.iter().map(|c| c.as_fd()));
            }
            let timeout = match &self.watch {
                Some(w) => i32::try_from(w.probe.due_in().as_millis())
                    .map_or(IDLE_MS, |ms| ms.min(IDLE_MS)),
                None => IDLE_MS,
            };
            let ready = sys::ipc::poll_readable(&fds, timeout)?;
            drop(fds);
            if let Some(w) = self.watch.as_deref_mut() {
                w.check_if_due()?;
            }
            if !ready.contains(&true) {
                // Quiet for a while: give back what the last burst touched.
                sys::process::trim_memory();
                continue;
            }
            let mut closed = Vec::new();
            for (i, is_ready) in ready[..outputs].iter().enumerate() {
                if !is_ready {
                    continue;
                }
                let (fd, stream) = &sources[i];
                // EIO from a pty master once the last terminal user is gone.
                match read_fd(fd, &mut buf) {
                    Ok(0) | Err(_) => closed.push(i),
                    Ok(n) => {
                        self.log.write(*stream, &buf[..n])?;
                        if let Some(attach) = self.attach.as_deref_mut() {
                            attach.broadcast(*stream, &buf[..n]);
                        }
                    }
                }
            }
            for i in closed.into_iter().rev() {
                let (_, stream) = sources.remove(i);
                self.log.finish(stream)?;
            }
            self.serve_clients(&ready[outputs..], &mut buf);
        }
        if let Some(attach) = self.attach.as_deref_mut() {
            // The container ended: its clients see the end of the stream.
            attach.clients.clear();
        }
        Ok(())
    }

    /// New clients, and the input of those that sent some.
    fn serve_clients(&mut self, ready: &[bool], buf: &mut [u8]) {
        let Some(attach) = self.attach.as_deref_mut() else {
            return;
        };
        let mut gone = Vec::new();
        for (i, is_ready) in ready.iter().skip(1).enumerate() {
            if !is_ready {
                continue;
            }
            match attach.read_client(i, buf) {
                None => gone.push(i),
                Some(n) => {
                    if let Some(input) = self.input.as_mut() {
                        let _ = std::io::Write::write_all(input, &buf[..n]);
                    }
                }
            }
        }
        for i in gone.into_iter().rev() {
            attach.clients.remove(i);
        }
        if ready.first() == Some(&true) {
            attach.accept();
        }
    }
}

fn read_fd(fd: &OwnedFd, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut file = std::fs::File::from(fd.try_clone()?);
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Sleeps the restart back-off; false if the user stopped the container
/// meanwhile.
fn sleep_unless_stopped(delay: Duration, dirs: &ContainerDirs) -> bool {
    let until = Instant::now() + delay;
    while Instant::now() < until {
        if dirs.stop_requested().exists() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
    }
    !dirs.stop_requested().exists()
}

/// Whether `path`'s owner lock is free within `timeout`.
pub fn wait_released(lock: &Path, timeout: Option<Duration>) -> bool {
    let start = Instant::now();
    loop {
        if !crate::store::lock::Lock::is_held(lock) {
            return true;
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
