//! Test helpers: a real mosquitto on a free port, temp dirs, configs, the
//! real `larder` binary, and an MQTT watcher that records what it sees.

#![allow(dead_code)]

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The larder binary under test.
pub const LARDER: &str = env!("CARGO_BIN_EXE_larder");

/// A temporary directory removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "larder-it-{tag}-{}-{}",
            std::process::id(),
            larder::keys::to_hex(&larder::keys::random_bytes::<4>())
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("LARDER_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A free loopback TCP port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn mosquitto_binary() -> String {
    for candidate in ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"] {
        if Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    "mosquitto".into()
}

/// A mosquitto process the test owns.
pub struct Broker {
    pub port: u16,
    child: Option<Child>,
    dir: TempDir,
}

impl Broker {
    pub fn start() -> Broker {
        let dir = TempDir::new("broker");
        let port = free_port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
                 persistence_location {}/\nautosave_interval 1\nmax_queued_messages 100000\n\
                 log_dest file {}/mosquitto.log\nlog_type error\nlog_type warning\n",
                dir.path.display(),
                dir.path.display()
            ),
        )
        .expect("write mosquitto.conf");
        let mut broker = Broker {
            port,
            child: None,
            dir,
        };
        broker.spawn();
        broker
    }

    fn spawn(&mut self) {
        let child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto (apt-get install mosquitto)");
        self.child = Some(child);
        wait_until(Duration::from_secs(10), "mosquitto to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        });
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `check` until it holds, or panics naming `what`.
pub fn wait_until(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// Async version of `wait_until`.
pub async fn wait_for(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// Settings for a test configuration.
pub struct Setup {
    pub hub: String,
    pub auto_limit: f64,
    pub approvals_required: u32,
    pub members: Vec<(String, String)>,
    pub expires_hours: f64,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            hub: "testhub".into(),
            auto_limit: 8.0,
            approvals_required: 1,
            members: Vec::new(),
            expires_hours: 24.0,
        }
    }
}

/// Writes a configuration for `broker` into `dir` and returns its path.
pub fn write_config(dir: &TempDir, broker: &Broker, setup: &Setup) -> PathBuf {
    let hub = &setup.hub;
    let mut members = String::new();
    let owner = vec![(
        "owner".to_string(),
        larder::keys::to_hex(&larder::keys::SigningKey::generate().public_key()),
    )];
    let listed = if setup.members.is_empty() {
        &owner
    } else {
        &setup.members
    };
    for (name, key) in listed {
        members.push_str(&format!(
            "[[members]]\nname = \"{name}\"\npublic-key = \"{key}\"\n\n"
        ));
    }
    let text = format!(
        r#"
[hub]
id = "{hub}"
state-dir = "{state}"
timezone = "UTC"

[mqtt]
url = "{url}"
client-id = "larder-{hub}"
max-payload-bytes = 4096

[[devices]]
id = "fridge"
topic = "larder/{hub}/devices/fridge/events"
format = "json"

[[devices]]
id = "washer"
topic = "larder/{hub}/devices/washer/events"
format = "cbor"

[[items]]
id = "milk"
name = "Milk 1 L"
unit = "l"
package-size = 1.0
product = "sku-milk"
price = 1.00
currency = "EUR"
category = "dairy"
device = "fridge"
slot = "milk"
lead-time-days = 1
review-days = 3
shelf-life-days = 10
declared-usage = {{ amount = 2.1, per = "week" }}

[[items]]
id = "detergent"
name = "Detergent 1.5 L"
unit = "ml"
package-size = 1500
product = "sku-detergent"
price = 20.00
currency = "EUR"
category = "household"
device = "washer"
slot = "detergent"
measure = "consumption"
lead-time-days = 2
review-days = 7
declared-usage = {{ amount = 300, per = "week" }}

{members}
[rules]
currency = "EUR"
auto-approve-up-to = {auto}
approvals-required = {approvals}
approval-expires-after-hours = {expires}
default-category = "ask"

[rules.categories]
dairy = "allow"
household = "ask"
"#,
        state = dir.join("state").display(),
        url = broker.url(),
        auto = setup.auto_limit,
        approvals = setup.approvals_required,
        expires = setup.expires_hours,
    );
    let path = dir.join("larder.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// The real `larder run` as a child process.
pub struct Daemon {
    pub child: Child,
    config: PathBuf,
    log: PathBuf,
}

impl Daemon {
    pub fn start(config: &Path) -> Daemon {
        let log = config.with_file_name(format!(
            "larder-{}.log",
            larder::keys::to_hex(&larder::keys::random_bytes::<3>())
        ));
        let child = Command::new(LARDER)
            .arg("--config")
            .arg(config)
            .arg("run")
            .env("LARDER_LOG", "debug,rumqttc=warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start larder");
        Daemon {
            child,
            config: config.to_owned(),
            log,
        }
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit; returns the exit status code.
    pub fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill9();
        None
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn config(&self) -> &Path {
        &self.config
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Opens the daemon's database read-only.
pub fn open_db(dir: &TempDir) -> larder::store::Store {
    larder::store::Store::open_readonly(&dir.join("state").join("larder.db")).expect("open db")
}

/// Waits until the database exists and answers.
pub fn wait_for_db(dir: &TempDir) {
    let path = dir.join("state").join("larder.db");
    wait_until(Duration::from_secs(20), "the database to exist", || {
        path.exists() && larder::store::Store::open_readonly(&path).is_ok()
    });
}

/// The hub's public key, once the daemon has created it.
pub fn hub_public_key(dir: &TempDir) -> [u8; 32] {
    let path = dir.join("state").join("hub.key");
    wait_until(Duration::from_secs(20), "the hub key", || path.exists());
    larder::keys::SigningKey::load(&path)
        .expect("hub key")
        .public_key()
}

/// A received message.
#[derive(Clone, Debug)]
pub struct Seen {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

/// An MQTT client that records every message on its subscriptions, driven
/// on its own thread and runtime so sync tests can use it.
pub struct Watcher {
    pub seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Watcher {
    pub fn start(port: u16, topics: &[String]) -> Watcher {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let topics = topics.to_vec();
        {
            let seen = seen.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("rt");
                rt.block_on(async move {
                    let id = format!(
                        "watcher-{}",
                        larder::keys::to_hex(&larder::keys::random_bytes::<4>())
                    );
                    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
                    opts.set_max_packet_size(1 << 20, 1 << 20);
                    let (client, mut eventloop) = AsyncClient::new(opts, 64);
                    for t in &topics {
                        client
                            .subscribe(t.clone(), QoS::AtLeastOnce)
                            .await
                            .expect("sub");
                    }
                    let mut pending_subacks = topics.len();
                    let mut ready = Some(ready_tx);
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                        match tokio::time::timeout(Duration::from_millis(100), eventloop.poll())
                            .await
                        {
                            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => {
                                pending_subacks = pending_subacks.saturating_sub(1);
                                if pending_subacks == 0 {
                                    if let Some(tx) = ready.take() {
                                        let _ = tx.send(());
                                    }
                                }
                            }
                            Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                                seen.lock().expect("lock").push(Seen {
                                    topic: p.topic.clone(),
                                    payload: p.payload.to_vec(),
                                    retain: p.retain,
                                });
                            }
                            Ok(Ok(_)) | Err(_) => {}
                            Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
                        }
                    }
                });
            });
        }
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("watcher subscribed");
        Watcher { seen, stop }
    }

    /// Messages seen on `topic` (exact) so far.
    pub fn on(&self, topic: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|s| s.topic == topic)
            .cloned()
            .collect()
    }

    /// Messages whose topic starts with `prefix`.
    pub fn under(&self, prefix: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|s| s.topic.starts_with(prefix))
            .cloned()
            .collect()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Publishes with mosquitto's own client at QoS 1 (payload from stdin).
pub fn mosquitto_pub(port: u16, topic: &str, payload: &[u8]) {
    use std::io::Write;
    let mut child = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-q",
            "1",
            "-t",
            topic,
            "-s",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("mosquitto_pub (apt-get install mosquitto-clients)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(payload)
        .expect("write");
    assert!(
        child.wait().expect("wait").success(),
        "mosquitto_pub failed"
    );
}

/// A native JSON level event.
pub fn level_json(device: &str, slot: &str, epoch: u64, seq: u64, amount: f64) -> Vec<u8> {
    format!(
        r#"{{"v":1,"device":"{device}","epoch":{epoch},"seq":{seq},"kind":"level","slot":"{slot}","amount":{amount}}}"#
    )
    .into_bytes()
}

/// A native CBOR washer event: `amount` ml of detergent put in (seq 1).
pub fn detergent_added(amount: f64) -> Vec<u8> {
    larder::wire::encode_event(
        larder::config::PayloadFormat::Cbor,
        &larder::wire::DeviceEvent {
            device: "washer".into(),
            epoch: 1,
            seq: 1,
            ts: None,
            slot: "detergent".into(),
            kind: larder::wire::EventKind::Added,
            amount,
        },
    )
}

/// A synchronous publisher (QoS 1) that records which messages the broker
/// acknowledged, in order.
pub struct Publisher {
    rt: tokio::runtime::Runtime,
    client: AsyncClient,
    eventloop: rumqttc::EventLoop,
}

impl Publisher {
    pub fn connect(port: u16) -> Publisher {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        let id = format!(
            "pub-{}",
            larder::keys::to_hex(&larder::keys::random_bytes::<4>())
        );
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_max_packet_size(1 << 20, 1 << 20);
        opts.set_inflight(1);
        let (client, eventloop) = AsyncClient::new(opts, 16);
        Publisher {
            rt,
            client,
            eventloop,
        }
    }

    /// Publishes and waits for the broker's PUBACK; true if acknowledged.
    pub fn publish(&mut self, topic: &str, payload: Vec<u8>, retain: bool) -> bool {
        let client = self.client.clone();
        let eventloop = &mut self.eventloop;
        self.rt.block_on(async move {
            if client
                .publish(topic, QoS::AtLeastOnce, retain, payload)
                .await
                .is_err()
            {
                return false;
            }
            let wait = async {
                loop {
                    match eventloop.poll().await {
                        Ok(Event::Incoming(Packet::PubAck(_))) => return true,
                        Ok(_) => {}
                        Err(_) => return false,
                    }
                }
            };
            tokio::time::timeout(Duration::from_secs(10), wait)
                .await
                .unwrap_or(false)
        })
    }
}

/// Waits until the daemon for `hub` has announced itself `online` (it
/// subscribes before it announces, so events published after this are
/// delivered to it).
pub fn wait_online(port: u16, hub: &str) {
    let topic = format!("larder/{hub}/status");
    let watcher = Watcher::start(port, std::slice::from_ref(&topic));
    wait_until(Duration::from_secs(20), "the daemon to be online", || {
        watcher
            .on(&topic)
            .last()
            .is_some_and(|s| s.payload == b"online")
    });
}
