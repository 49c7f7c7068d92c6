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
            larder::crypto::keys::to_hex(&larder::crypto::keys::random_bytes::<4>())
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

/// A mosquitto process the test owns. It can be stopped, killed and
/// started again on the same port with the same persistence directory.
pub struct Broker {
    pub port: u16,
    child: Option<Child>,
    dir: TempDir,
}

/// The default test broker configuration: anonymous, persistent, saving
/// every `autosave` seconds.
pub fn default_broker_conf(port: u16, dir: &Path, autosave: u32) -> String {
    format!(
        "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
         persistence_location {dir}/\nautosave_interval {autosave}\nmax_queued_messages 100000\n\
         log_dest file {dir}/mosquitto.log\nlog_type error\nlog_type warning\nlog_type notice\n",
        dir = dir.display(),
    )
}

impl Broker {
    pub fn start() -> Broker {
        Broker::start_with(|port, dir| default_broker_conf(port, dir, 1))
    }

    /// Starts mosquitto with the configuration `conf(port, dir)` returns
    /// (`dir` is the broker's own directory, for persistence and logs).
    pub fn start_with(mut conf: impl FnMut(u16, &Path) -> String) -> Broker {
        let dir = TempDir::new("broker");
        // mosquitto started as root drops to the `mosquitto` user: it must
        // be able to write its persistence file and log here.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir.path, std::fs::Permissions::from_mode(0o777))
            .expect("chmod broker dir");
        let mut broker = Broker {
            port: 0,
            child: None,
            dir,
        };
        // A free port can be taken by another test between `free_port` and
        // mosquitto's bind: then mosquitto exits, and another port is tried.
        for _ in 0..5 {
            broker.port = free_port();
            std::fs::write(
                broker.dir.join("mosquitto.conf"),
                conf(broker.port, &broker.dir.path),
            )
            .expect("write mosquitto.conf");
            if broker.launch() {
                return broker;
            }
        }
        panic!("mosquitto did not start on five free ports");
    }

    /// The broker's directory (configuration, persistence, log).
    pub fn dir(&self) -> &Path {
        &self.dir.path
    }

    /// Starts the broker process again (same port, same persistence).
    pub fn resume(&mut self) {
        assert!(
            self.launch(),
            "mosquitto exited before listening on {}",
            self.port
        );
    }

    /// Starts mosquitto and waits until it listens (true) or exits (false).
    fn launch(&mut self) -> bool {
        assert!(self.child.is_none(), "broker already running");
        let mut child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto (apt-get install mosquitto)");
        let port = self.port;
        let mut exited = false;
        wait_until(Duration::from_secs(30), "mosquitto to listen", || {
            exited = matches!(child.try_wait(), Ok(Some(_)));
            exited || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        if exited {
            return false;
        }
        self.child = Some(child);
        true
    }

    /// Graceful stop (SIGTERM): mosquitto saves its persistence file.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "TERM");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("mosquitto did not stop on SIGTERM within 10 s");
        }
    }

    /// SIGKILL: whatever was not yet saved is lost.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Graceful restart on the same port and persistence directory.
    pub fn restart(&mut self) {
        self.stop();
        self.resume();
    }

    /// Whether the broker process is running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Sends `SIG<name>` to `pid`.
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status();
}

/// CPU time (user + system) a process has used so far, from /proc.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/<pid>/stat");
    // Fields after the command name (which may contain spaces) in ")".
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 14 (utime) and 15 (stime) of proc(5); `rest` starts at field 3.
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    let per_sec: u64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100);
    Duration::from_millis(ticks * 1000 / per_sec)
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
    pub cancel_window_hours: f64,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            hub: "testhub".into(),
            auto_limit: 8.0,
            approvals_required: 1,
            members: Vec::new(),
            expires_hours: 24.0,
            cancel_window_hours: 2.0,
        }
    }
}

/// Writes a configuration for `broker` into `dir` and returns its path.
pub fn write_config(dir: &TempDir, broker: &Broker, setup: &Setup) -> PathBuf {
    let hub = &setup.hub;
    let mut members = String::new();
    let owner = vec![(
        "owner".to_string(),
        larder::crypto::keys::to_hex(&larder::crypto::keys::SigningKey::generate().public_key()),
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
cancel-window-hours = {cancel}
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
        cancel = setup.cancel_window_hours,
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
        Daemon::start_env(config, &[])
    }

    /// Starts `larder run` with extra environment variables.
    pub fn start_env(config: &Path, env: &[(&str, &str)]) -> Daemon {
        let log = config.with_file_name(format!(
            "larder-{}.log",
            larder::crypto::keys::to_hex(&larder::crypto::keys::random_bytes::<3>())
        ));
        let child = Command::new(LARDER)
            .arg("--config")
            .arg(config)
            .arg("run")
            .env("LARDER_LOG", "debug,rumqttc=warn")
            .envs(env.iter().copied())
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
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

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
    larder::crypto::keys::SigningKey::load(&path)
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
                        larder::crypto::keys::to_hex(&larder::crypto::keys::random_bytes::<4>())
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
    larder::protocol::events::encode_event(
        larder::config::PayloadFormat::Cbor,
        &larder::protocol::events::DeviceEvent {
            device: "washer".into(),
            epoch: 1,
            seq: 1,
            ts: None,
            slot: "detergent".into(),
            kind: larder::protocol::events::EventKind::Added,
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
            larder::crypto::keys::to_hex(&larder::crypto::keys::random_bytes::<4>())
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

/// Credentials for a test client.
pub type Creds = Option<(String, String)>;

fn test_client_options(id: String, port: u16, creds: &Creds) -> MqttOptions {
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_max_packet_size(1 << 20, 1 << 20);
    if let Some((user, pass)) = creds {
        opts.set_credentials(user.clone(), pass.clone());
    }
    opts
}

/// A subscriber that survives broker restarts: persistent session (the
/// broker queues for it while it reconnects) and a fresh subscribe on
/// every CONNACK. Records every message on its filters.
pub struct Recorder {
    pub seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Recorder {
    pub fn start(port: u16, topics: &[String]) -> Recorder {
        Recorder::start_as(port, topics, None)
    }

    /// Like `start`, connecting with `creds`.
    pub fn start_as(port: u16, topics: &[String], creds: Creds) -> Recorder {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let topics = topics.to_vec();
        let (seen2, stop2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("rt");
            rt.block_on(async move {
                let id = match &creds {
                    Some((user, _)) => user.clone(),
                    None => format!(
                        "recorder-{}",
                        larder::crypto::keys::to_hex(&larder::crypto::keys::random_bytes::<4>())
                    ),
                };
                let mut opts = test_client_options(id, port, &creds);
                opts.set_clean_session(false);
                let (client, mut eventloop) = AsyncClient::new(opts, 64);
                let mut ready = Some(ready_tx);
                while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
                    match tokio::time::timeout(Duration::from_millis(100), eventloop.poll()).await {
                        Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                            for t in &topics {
                                let _ = client.try_subscribe(t.clone(), QoS::AtLeastOnce);
                            }
                        }
                        Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => {
                            if let Some(tx) = ready.take() {
                                let _ = tx.send(());
                            }
                        }
                        Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                            seen2.lock().expect("lock").push(Seen {
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
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("recorder subscribed");
        Recorder { seen, stop }
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
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A device that never gives up: publishes `(epoch, seq)` events for seq
/// 1, 2, … at QoS 1 and retries each one (on a fresh connection) until
/// the broker acknowledges it, as firmware with its own outbox would.
/// `acked` lists every seq the broker PUBACKed — the broker then owns it.
pub struct Device {
    pub acked: Arc<Mutex<Vec<u64>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Device {
    /// Starts publishing level events for the fridge's milk slot on
    /// `topic`, one per seq in `seqs`; `level(seq)` gives each reading;
    /// stops at the end of `seqs` or on `stop()`.
    pub fn start(
        port: u16,
        topic: &str,
        epoch: u64,
        seqs: std::ops::RangeInclusive<u64>,
        pace: Duration,
        level: impl Fn(u64) -> f64 + Send + 'static,
    ) -> Device {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (acked2, stop2) = (acked.clone(), stop.clone());
        let topic = topic.to_owned();
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("rt");
            rt.block_on(async move {
                let mut conn: Option<(AsyncClient, rumqttc::EventLoop)> = None;
                for seq in seqs {
                    loop {
                        if stop2.load(std::sync::atomic::Ordering::SeqCst) {
                            return;
                        }
                        let (client, eventloop) = conn.get_or_insert_with(|| {
                            let id = format!(
                                "device-{}",
                                larder::crypto::keys::to_hex(
                                    &larder::crypto::keys::random_bytes::<4>()
                                )
                            );
                            let mut opts = test_client_options(id, port, &None);
                            opts.set_inflight(1);
                            AsyncClient::new(opts, 4)
                        });
                        let payload = level_json("fridge", "milk", epoch, seq, level(seq));
                        if client
                            .try_publish(topic.clone(), QoS::AtLeastOnce, false, payload)
                            .is_err()
                        {
                            conn = None;
                            continue;
                        }
                        let wait = async {
                            let mut sent = None;
                            loop {
                                match eventloop.poll().await {
                                    Ok(Event::Outgoing(rumqttc::Outgoing::Publish(pkid))) => {
                                        sent = sent.or(Some(pkid));
                                    }
                                    Ok(Event::Incoming(Packet::PubAck(ack)))
                                        if sent == Some(ack.pkid) =>
                                    {
                                        return true;
                                    }
                                    Ok(_) => {}
                                    Err(_) => return false,
                                }
                            }
                        };
                        match tokio::time::timeout(Duration::from_secs(3), wait).await {
                            Ok(true) => {
                                acked2.lock().expect("lock").push(seq);
                                break;
                            }
                            _ => {
                                // Start over on a fresh connection: no stale
                                // packet id can be mistaken for this one.
                                conn = None;
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                        }
                    }
                    tokio::time::sleep(pace).await;
                }
                if let Some((client, mut eventloop)) = conn {
                    let _ = client.try_disconnect();
                    let _ =
                        tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await;
                }
            });
        });
        Device {
            acked,
            stop,
            handle: Some(handle),
        }
    }

    /// Seqs acknowledged so far.
    pub fn acked(&self) -> Vec<u64> {
        self.acked.lock().expect("lock").clone()
    }

    /// Whether it has published all its events.
    pub fn finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Waits until it has published everything (or `stop`ped); returns the acked seqs.
    pub fn join(mut self) -> Vec<u64> {
        if let Some(h) = self.handle.take() {
            h.join().expect("device thread");
        }
        self.acked()
    }

    /// Asks it to stop after the event in flight.
    pub fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Jepsen-style accounting for one device stream.
#[derive(Debug)]
pub struct Tally {
    /// Events the broker acknowledged.
    pub acked: usize,
    /// Acknowledged but not in the database.
    pub lost: Vec<u64>,
    /// Observations stored for the stream.
    pub stored: u64,
}

/// Compares what the broker acknowledged with what the database holds.
pub fn tally(db_path: &Path, device: &str, epoch: u64, acked: &[u64]) -> Tally {
    let db = larder::store::Store::open_readonly(db_path).expect("open db");
    let lost = acked
        .iter()
        .copied()
        .filter(|seq| {
            !db.read()
                .has_observation(device, epoch, *seq)
                .unwrap_or(false)
        })
        .collect();
    Tally {
        acked: acked.len(),
        lost,
        stored: db.read().observation_count().expect("count"),
    }
}

/// Waits until every acknowledged seq is stored (or `timeout`); returns the tally.
pub fn settle(db_path: &Path, epoch: u64, acked: &[u64], timeout: Duration) -> Tally {
    let deadline = Instant::now() + timeout;
    loop {
        let t = tally(db_path, "fridge", epoch, acked);
        if t.lost.is_empty() || Instant::now() > deadline {
            return t;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Distinct intent ids seen upstream, per product, verified with the hub key.
pub fn intents_by_product(
    seen: &[Seen],
    hub_key: &[u8; 32],
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut by = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for s in seen {
        let intent =
            larder::protocol::intent::verify_intent(&s.payload, hub_key).expect("intent verifies");
        by.entry(intent.product).or_default().insert(intent.id);
    }
    by
}
