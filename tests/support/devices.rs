//! Test devices: native payloads, mosquitto's own client, the harness's
//! [`Publisher`] (QoS 1, waits for each PUBACK), and a [`RetryingDevice`] thread
//! that publishes a stream and retries each event until the broker takes
//! it.

pub use larder::tools::harness::Publisher;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The test household's fridge topic.
pub const FRIDGE: &str = "larder/testhub/devices/fridge/events";
/// The test household's washer topic.
pub const WASHER: &str = "larder/testhub/devices/washer/events";

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

/// The test household's milk running low (1 l, 0.6 l, 0.3 l, epoch 1):
/// enough for an auto-approved order.
pub fn milk_runs_low(port: u16) {
    for (seq, level) in [(1, 1.0), (2, 0.6), (3, 0.3)] {
        mosquitto_pub(port, FRIDGE, &level_json("fridge", "milk", 1, seq, level));
    }
}

/// Publishes with mosquitto's own client at QoS 1 (payload from stdin);
/// panics with its error output if it fails.
pub fn mosquitto_pub(port: u16, topic: &str, payload: &[u8]) {
    let (ok, stderr) = mosquitto_pub_as(port, None, topic, payload, &[]);
    assert!(ok, "mosquitto_pub failed: {stderr}");
}

/// Publishes once at QoS 1 with mosquitto's client, as `credentials`
/// (user, password; the user is also the client id) and with `extra`
/// arguments (TLS); whether it exited 0, and what it said.
pub fn mosquitto_pub_as(
    port: u16,
    credentials: Option<(&str, &str)>,
    topic: &str,
    payload: &[u8],
    extra: &[&str],
) -> (bool, String) {
    let mut command = Command::new("mosquitto_pub");
    command.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
    command.args(["-q", "1", "-t", topic, "-s"]);
    if let Some((user, password)) = credentials {
        command.args(["-u", user, "-P", password, "-i", user]);
    }
    let mut child = command
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mosquitto_pub (apt-get install mosquitto-clients)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(payload)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A device that never gives up: publishes `(epoch, seq)` level events for
/// the fridge's milk slot at QoS 1 and retries each one (on a fresh
/// connection) until the broker acknowledges it, as firmware with its own
/// outbox would. `acked` lists every seq the broker PUBACKed: the broker
/// owns it from then on.
pub struct RetryingDevice {
    acked: Arc<Mutex<Vec<u64>>>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl RetryingDevice {
    /// Starts publishing on `topic`, one event per seq in `seqs`, `pace`
    /// apart; `level(seq)` gives each reading. Stops at the end of `seqs`
    /// or on [`RetryingDevice::stop`].
    pub fn start(
        port: u16,
        topic: &str,
        epoch: u64,
        seqs: std::ops::RangeInclusive<u64>,
        pace: Duration,
        level: impl Fn(u64) -> f64 + Send + 'static,
    ) -> RetryingDevice {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (acked2, stop2) = (acked.clone(), stop.clone());
        let topic = topic.to_owned();
        let handle = std::thread::spawn(move || {
            let mut connection: Option<Publisher> = None;
            for seq in seqs {
                loop {
                    if stop2.load(Ordering::SeqCst) {
                        return;
                    }
                    let publisher = connection.get_or_insert_with(|| Publisher::connect(port));
                    let payload = level_json("fridge", "milk", epoch, seq, level(seq));
                    if publisher.publish_within(&topic, payload, false, Duration::from_secs(3)) {
                        acked2.lock().expect("lock").push(seq);
                        break;
                    }
                    // Start over on a fresh connection: no late PUBACK can
                    // be mistaken for the next event's.
                    connection = None;
                    std::thread::sleep(Duration::from_millis(50));
                }
                std::thread::sleep(pace);
            }
        });
        RetryingDevice {
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

    /// Waits until it has published everything (or was stopped); returns
    /// the acknowledged seqs.
    pub fn join(mut self) -> Vec<u64> {
        if let Some(h) = self.handle.take() {
            h.join().expect("device thread");
        }
        self.acked()
    }

    /// Asks it to stop after the event in flight.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Drop for RetryingDevice {
    fn drop(&mut self) {
        self.stop();
    }
}
