//! mosquitto on a free loopback port, in a directory of its own (its
//! configuration, persistence file and log). It can be stopped gracefully,
//! killed with SIGKILL and started again on the same port with the same
//! persistence, as the fault tests need; `larder bench` starts one and
//! drops it.

use super::{HarnessError, ScratchDir, poll_until, send_signal};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long mosquitto may take to listen (long: under qemu and a loaded
/// CI machine it has taken many seconds).
const LISTEN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a graceful stop (SIGTERM) may take.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Free ports tried before giving up (another process can take a free
/// port between our probe and mosquitto's bind).
const PORT_ATTEMPTS: usize = 5;

/// A mosquitto process this process owns; killed when dropped.
pub struct Broker {
    port: u16,
    child: Option<Child>,
    dir: ScratchDir,
}

/// A free loopback TCP port (free when probed).
pub fn free_port() -> Result<u16, HarnessError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| HarnessError::io("finding a free port", e))
}

/// The mosquitto binary: the Debian and the /usr/local locations, else
/// whatever `PATH` finds.
fn mosquitto_binary() -> &'static str {
    ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("mosquitto")
}

impl Broker {
    /// Starts mosquitto in `dir` with the configuration `conf(port, dir)`
    /// returns, written to `dir/mosquitto.conf`, and waits until it
    /// listens. A port taken before mosquitto bound it makes mosquitto
    /// exit: then another free port is tried (and `conf` called again).
    pub fn start(
        dir: ScratchDir,
        mut conf: impl FnMut(u16, &Path) -> String,
    ) -> Result<Broker, HarnessError> {
        // mosquitto started as root drops to the `mosquitto` user: it must
        // be able to write its persistence file and log here.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .map_err(|e| HarnessError::io(format!("chmod {}", dir.path().display()), e))?;
        let mut broker = Broker {
            port: 0,
            child: None,
            dir,
        };
        for _ in 0..PORT_ATTEMPTS {
            broker.port = free_port()?;
            let path = broker.dir.join("mosquitto.conf");
            std::fs::write(&path, conf(broker.port, broker.dir.path()))
                .map_err(|e| HarnessError::io(format!("writing {}", path.display()), e))?;
            if broker.launch()? {
                return Ok(broker);
            }
        }
        Err(HarnessError::Failed(format!(
            "mosquitto did not start on {PORT_ATTEMPTS} free ports"
        )))
    }

    /// mosquitto's version (`2.0.11`), from the first line of `mosquitto -h`.
    pub fn version() -> String {
        Command::new(mosquitto_binary())
            .arg("-h")
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .and_then(|l| {
                        l.split_whitespace()
                            .find(|w| w.starts_with(char::is_numeric))
                    })
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "(unknown version)".into())
    }

    /// The port it listens on (the first listener of its configuration).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// The broker's directory (configuration, persistence, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts the stopped or killed broker again: same port, same
    /// configuration and persistence.
    pub fn resume(&mut self) -> Result<(), HarnessError> {
        if self.launch()? {
            Ok(())
        } else {
            Err(HarnessError::Failed(format!(
                "mosquitto exited before listening on {}",
                self.port
            )))
        }
    }

    /// Starts mosquitto and waits until it listens (true) or exits (false).
    fn launch(&mut self) -> Result<bool, HarnessError> {
        if self.child.is_some() {
            return Err(HarnessError::Failed("the broker is already running".into()));
        }
        let binary = mosquitto_binary();
        let mut child = Command::new(binary)
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                HarnessError::io(format!("starting {binary} (apt-get install mosquitto)"), e)
            })?;
        let port = self.port;
        let mut exited = false;
        let settled = poll_until(LISTEN_TIMEOUT, Duration::from_millis(20), || {
            exited = matches!(child.try_wait(), Ok(Some(_)));
            exited || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        if !settled {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HarnessError::Timeout {
                what: format!("mosquitto to listen on port {port}"),
                after: LISTEN_TIMEOUT,
            });
        }
        if exited {
            return Ok(false);
        }
        self.child = Some(child);
        Ok(true)
    }

    /// Graceful stop (SIGTERM): mosquitto saves its persistence file.
    pub fn stop(&mut self) -> Result<(), HarnessError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = send_signal(child.id(), "TERM");
        if poll_until(STOP_TIMEOUT, Duration::from_millis(10), || {
            matches!(child.try_wait(), Ok(Some(_)))
        }) {
            return Ok(());
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(HarnessError::Failed(format!(
            "mosquitto did not stop on SIGTERM within {} s",
            STOP_TIMEOUT.as_secs()
        )))
    }

    /// SIGKILL: whatever mosquitto had not saved yet is lost.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Graceful restart on the same port and persistence.
    pub fn restart(&mut self) -> Result<(), HarnessError> {
        self.stop()?;
        self.resume()
    }

    /// Whether the broker process is running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill9();
    }
}
