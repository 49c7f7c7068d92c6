//! The demo's private surroundings: a temporary state directory and
//! the embedded broker (rumqttd) on a free loopback port.

use crate::crypto::keys;
use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A private temporary directory, removed on drop.
pub(super) struct DemoDir {
    pub(super) path: PathBuf,
}

impl DemoDir {
    pub(super) fn new() -> anyhow::Result<DemoDir> {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let path = base.join(format!(
            "larder-demo-{}-{}",
            std::process::id(),
            keys::to_hex(&keys::random_bytes::<4>())
        ));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("creating demo directory {}", path.display()))?;
        Ok(DemoDir { path })
    }
}

impl Drop for DemoDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Starts rumqttd on `port` in a background thread (it lives until exit).
pub(super) fn start_broker(port: u16) -> anyhow::Result<()> {
    let config: rumqttd::Config = toml::from_str(&format!(
        r#"
id = 0
[router]
id = 0
max_connections = 64
max_outgoing_packet_count = 200
max_segment_size = 10485760
max_segment_count = 10

[v4.1]
name = "demo"
listen = "127.0.0.1:{port}"
next_connection_delay_ms = 1
[v4.1.connections]
connection_timeout_ms = 60000
max_payload_size = 1048576
max_inflight_count = 100
dynamic_filters = true
"#
    ))
    .context("embedded broker configuration")?;
    std::thread::Builder::new()
        .name("demo-broker".into())
        .spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            if let Err(e) = broker.start() {
                eprintln!("larder demo: embedded broker stopped: {e}");
            }
        })
        .context("starting the embedded broker")?;
    Ok(())
}

pub(super) async fn wait_for_port(port: u16) -> anyhow::Result<()> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bail!("the embedded broker did not start on port {port}")
}
