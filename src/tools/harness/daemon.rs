//! `larder run` as a child process: started with a configuration and a log
//! file, stopped with SIGTERM (a clean exit) or SIGKILL (a crash), and its
//! footprint read from `/proc` while it runs.

use super::{HarnessError, poll_until, send_signal};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// How long a daemon may take to stop on SIGTERM (it finishes its batch,
/// commits, acks and disconnects).
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(60);

/// The daemon did not stop within a minute of SIGTERM (and was killed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("larder did not stop within {} s of SIGTERM", TERMINATE_TIMEOUT.as_secs())]
pub struct NotStopped;

/// A running `larder run`; killed when dropped.
pub struct DaemonProcess {
    child: Child,
    config: PathBuf,
    log: PathBuf,
}

impl DaemonProcess {
    /// Starts `exe --config CONFIG run` with the extra environment `env`
    /// (e.g. `LARDER_LOG`), its standard error going to the file `log`.
    pub fn spawn(
        exe: &Path,
        config: &Path,
        log: &Path,
        env: &[(&str, &str)],
    ) -> Result<DaemonProcess, HarnessError> {
        let log_file = std::fs::File::create(log)
            .map_err(|e| HarnessError::io(format!("creating {}", log.display()), e))?;
        let child = Command::new(exe)
            .arg("--config")
            .arg(config)
            .arg("run")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| HarnessError::io(format!("starting {} run", exe.display()), e))?;
        Ok(DaemonProcess {
            child,
            config: config.to_owned(),
            log: log.to_owned(),
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL, with no chance to clean up.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for it to exit by itself (e.g. on an abort), and how.
    pub fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait()
    }

    /// SIGTERM, then its exit code once it has stopped (`None` if a signal
    /// ended it). Killed if it has not stopped within a minute.
    pub fn terminate(&mut self) -> Result<Option<i32>, NotStopped> {
        let _ = send_signal(self.child.id(), "TERM");
        let mut code = None;
        let exited = poll_until(TERMINATE_TIMEOUT, Duration::from_millis(10), || match self
            .child
            .try_wait()
        {
            Ok(Some(status)) => {
                code = status.code();
                true
            }
            _ => false,
        });
        if exited {
            Ok(code)
        } else {
            self.kill9();
            Err(NotStopped)
        }
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// "larder failed during PHASE", with its whole log.
    pub fn failure(&self, phase: &str) -> String {
        format!(
            "larder failed during {phase}; its log {}:\n{}",
            self.log.display(),
            self.log()
        )
    }

    /// Peak resident set size in kB (`VmHWM` in `/proc/<pid>/status`).
    pub fn peak_rss_kb(&self) -> Result<u64, HarnessError> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path)
            .map_err(|e| HarnessError::io(format!("reading {path}"), e))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| HarnessError::Failed("no VmHWM in /proc/<pid>/status".into()))
    }

    /// CPU time (user + system) it has used so far, from `/proc/<pid>/stat`.
    pub fn cpu_time(&self) -> Result<Duration, HarnessError> {
        let path = format!("/proc/{}/stat", self.child.id());
        let stat = std::fs::read_to_string(&path)
            .map_err(|e| HarnessError::io(format!("reading {path}"), e))?;
        // The fields after the command name, which may hold spaces, in "()".
        let rest = stat
            .rfind(')')
            .and_then(|at| stat.get(at + 2..))
            .ok_or_else(|| HarnessError::Failed(format!("{path}: unexpected format")))?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // Fields 14 (utime) and 15 (stime) of proc(5); `rest` starts at field 3.
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        let ticks = field(11)
            .zip(field(12))
            .map(|(user, system)| user + system)
            .ok_or_else(|| HarnessError::Failed(format!("{path}: no utime and stime")))?;
        let per_sec: u64 = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100);
        Ok(Duration::from_millis(ticks * 1000 / per_sec))
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}
