//! mosquitto for the tests: the harness's [`Broker`] in a scratch
//! directory, with the test configuration (anonymous, persistent, saving
//! every `autosave` seconds) or one of the test's own.

pub use larder::tools::harness::Broker;
pub use larder::tools::harness::broker::free_port;
use std::path::Path;

/// The test broker configuration: anonymous, persistent, saving every
/// `autosave` seconds, logging to its directory.
pub fn default_broker_conf(port: u16, dir: &Path, autosave: u32) -> String {
    format!(
        "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
         persistence_location {dir}/\nautosave_interval {autosave}\nmax_queued_messages 100000\n\
         log_dest file {dir}/mosquitto.log\nlog_type error\nlog_type warning\nlog_type notice\n",
        dir = dir.display(),
    )
}

/// A test broker saving its persistence every second.
pub fn start_broker() -> Broker {
    start_broker_autosave(1)
}

/// A test broker saving its persistence every `autosave` seconds.
pub fn start_broker_autosave(autosave: u32) -> Broker {
    start_broker_with(|port, dir| default_broker_conf(port, dir, autosave))
}

/// A broker with the configuration `conf(port, dir)` returns (`dir` is the
/// broker's own directory, for persistence, logs and certificates).
pub fn start_broker_with(conf: impl FnMut(u16, &Path) -> String) -> Broker {
    Broker::start(super::temp_dir("broker"), conf).expect("start mosquitto")
}
