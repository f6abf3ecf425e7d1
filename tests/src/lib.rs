//! End-to-end test harness: runs the real `hubgate` binary as a child process.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use hubgate_tests::Gateway;
//! let dir = tempfile::tempdir()?;
//! let mut gw = Gateway::start(&["serve", "--data-dir", dir.path().to_str().unwrap()])?;
//! gw.wait_ready(std::time::Duration::from_secs(20))?;
//! gw.terminate()?;
//! # Ok(()) }
//! ```

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The line `hubgate serve` logs once it accepts work.
pub const READY_LINE: &str = "hubgate ready";

/// Path of the `hubgate` binary: `$HUBGATE_BIN`, else the one beside the test executable in
/// the target directory (built with `cargo build -p hubgate` on first use if missing).
pub fn hubgate_bin() -> Result<PathBuf> {
    static BIN: OnceLock<Mutex<Option<PathBuf>>> = OnceLock::new();
    let cell = BIN.get_or_init(|| Mutex::new(None));
    let mut guard = cell.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = guard.as_ref() {
        return Ok(path.clone());
    }
    let path = match std::env::var_os("HUBGATE_BIN") {
        Some(path) => PathBuf::from(path),
        None => {
            // target/<profile>/deps/<test> → target/<profile>/hubgate
            let exe = std::env::current_exe()?;
            let profile_dir = exe
                .parent()
                .and_then(|deps| deps.parent())
                .context("test executable has no target directory")?;
            let path = profile_dir.join("hubgate");
            if !path.exists() {
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                let mut build = Command::new(cargo);
                build.args(["build", "-p", "hubgate", "--bin", "hubgate"]);
                if profile_dir.file_name().is_some_and(|n| n == "release") {
                    build.arg("--release");
                }
                let status = build.status().context("running cargo build -p hubgate")?;
                if !status.success() {
                    bail!("cargo build -p hubgate failed");
                }
            }
            path
        }
    };
    *guard = Some(path.clone());
    Ok(path)
}

/// A running `hubgate` process. Its stderr (the log) is collected line by line; dropping the
/// handle kills the process.
#[derive(Debug)]
pub struct Gateway {
    child: Child,
    lines: Receiver<String>,
    log: Vec<String>,
}

impl Gateway {
    /// Starts `hubgate` with `args`.
    pub fn start(args: &[&str]) -> Result<Self> {
        Self::start_with_env(args, &[])
    }

    /// Starts `hubgate` with `args` and extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<Self> {
        let mut command = Command::new(hubgate_bin()?);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().context("spawning hubgate")?;
        let stderr = child.stderr.take().context("no stderr pipe")?;
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            child,
            lines,
            log: Vec::new(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a log line containing `needle`; fails on timeout or if the process exits.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return Ok(line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    bail!(
                        "no `{needle}` within {timeout:?}; log so far:\n{}",
                        self.log.join("\n")
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    bail!(
                        "hubgate exited before `{needle}`; log:\n{}",
                        self.log.join("\n")
                    )
                }
            }
        }
    }

    /// Waits for the `listening` line of `protocol` and returns the bound address (call before
    /// [`Gateway::wait_ready`]: listeners are bound before the gateway says it is ready).
    pub fn listen_addr(&mut self, protocol: &str, timeout: Duration) -> Result<SocketAddr> {
        let needle = format!("protocol={protocol}");
        loop {
            let line = self.wait_for_line(&needle, timeout)?;
            if !line.contains("listening") {
                continue;
            }
            let addr = line
                .split_whitespace()
                .find_map(|field| field.strip_prefix("addr="))
                .context("listening line without addr=")?;
            return addr
                .parse()
                .with_context(|| format!("bad address in `{line}`"));
        }
    }

    /// Waits until the gateway logs that it is ready.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        self.wait_for_line(READY_LINE, timeout).map(|_| ())
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: Signal) -> Result<()> {
        kill(Pid::from_raw(self.child.id() as i32), signal).context("sending signal")
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                // Collect the rest of the log.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.log.push(line);
                }
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!("hubgate still running after {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> Result<ExitStatus> {
        self.signal(Signal::SIGTERM)?;
        self.wait_exit(Duration::from_secs(10))
    }

    /// Every log line read so far.
    pub fn log(&self) -> &[String] {
        &self.log
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of record `record` of batch `seq` written by `task` in crash-test run `run`.
pub fn crash_value(run: u64, task: u32, seq: u64, record: i64) -> String {
    format!("run{run}-task{task}-batch{seq}-record{record}")
}
