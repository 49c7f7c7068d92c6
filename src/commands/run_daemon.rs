//! `larder run`: the daemon as the systemd service starts it, on a
//! current-thread runtime with the SIGTERM/SIGINT handlers installed first.

use super::support::load_config;
use crate::clock::SystemClock;
use anyhow::Context as _;
use std::path::Path;
use std::sync::Arc;

/// `larder run`: runs the daemon until SIGTERM or SIGINT.
pub(super) fn run(config_path: &Path) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    // One thread for the network tasks (the writer has its own):
    // every extra worker costs the hub a malloc arena (~1.4 MB
    // resident, docs/performance.md) and buys nothing at hub rates.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // Handlers are installed before anything else happens: a SIGTERM
    // that arrives while larder is still connecting stops it
    // gracefully instead of killing it.
    let shutdown = {
        let _context = runtime.enter();
        shutdown_signal().context("installing the SIGTERM/SIGINT handlers")?
    };
    runtime.block_on(crate::daemon::run(config, Arc::new(SystemClock), shutdown))
}

/// Installs the SIGTERM and SIGINT handlers now (inside a runtime
/// context) and returns a future that completes on either.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}
