//! Logging: `tracing` to stderr, readable by journald. Level from
//! `LARDER_LOG` (e.g. `debug`, `larder=debug,rumqttc=warn`), default `info`.
//! Under systemd (`JOURNAL_STREAM` set) timestamps are left to journald.

use tracing_subscriber::EnvFilter;

/// The default filter for the daemon and tools.
pub const DEFAULT_FILTER: &str = "info,rumqttc=warn,rumqttd=warn";

/// Installs the global subscriber with `default` unless `LARDER_LOG` is set
/// (once; later calls do nothing).
pub fn init(default: &str) {
    let filter = EnvFilter::try_from_env("LARDER_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false);
    let _ = if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().try_init()
    } else {
        builder.try_init()
    };
}
