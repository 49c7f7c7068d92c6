//! The `larder` binary under test: `larder run` as a child process (the
//! harness's [`DaemonProcess`], logging at debug next to its configuration),
//! one-shot commands, and the real daemon in this process on a manual
//! clock, for tests that need simulated time.

use larder::clock::ManualClock;
use larder::config::Config;
pub use larder::tools::harness::DaemonProcess;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

/// The larder binary under test.
pub const LARDER: &str = env!("CARGO_BIN_EXE_larder");

/// Starts `larder run` with `config`.
pub fn start_daemon(config: &Path) -> DaemonProcess {
    start_daemon_env(config, &[])
}

/// Starts `larder run` with `config` and extra environment variables; its
/// log (`larder-<random>.log`, at debug) is beside the configuration.
pub fn start_daemon_env(config: &Path, env: &[(&str, &str)]) -> DaemonProcess {
    let log = config.with_file_name(format!(
        "larder-{}.log",
        larder::crypto::keys::to_hex(&larder::crypto::keys::random_bytes::<3>())
    ));
    let mut vars = vec![("LARDER_LOG", "debug,rumqttc=warn")];
    vars.extend_from_slice(env);
    DaemonProcess::spawn(Path::new(LARDER), config, &log, &vars).expect("start larder")
}

/// Runs `larder --config CONFIG ARGS…` to its end (warnings only in its log).
pub fn larder(config: &Path, args: &[&str]) -> Output {
    Command::new(LARDER)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("LARDER_LOG", "warn")
        .output()
        .expect("run larder")
}

/// Command output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The real daemon (`larder::daemon::start`, what `larder run` calls) in
/// this process, on a clock that moves only when the test sets it.
pub struct InProcessDaemon {
    /// The daemon: `tick()` runs a decision pass, `stop()` ends it.
    pub running: larder::daemon::Running,
    /// Its clock.
    pub clock: Arc<ManualClock>,
}

/// Starts `config`'s daemon in process on a manual clock at `t0`, deciding
/// only on `running.tick()`, and waits until it is online.
pub async fn start(config: Config, t0: i64) -> InProcessDaemon {
    let (port, hub) = (config.mqtt.port, config.hub.id.clone());
    let clock = Arc::new(ManualClock::new(t0));
    let running = larder::daemon::start(
        config,
        clock.clone(),
        larder::daemon::Options {
            tick_every: None,
            ..Default::default()
        },
    )
    .await
    .expect("daemon");
    tokio::task::spawn_blocking(move || super::wait_online(port, &hub))
        .await
        .expect("online");
    InProcessDaemon { running, clock }
}
