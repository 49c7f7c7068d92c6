//! An MQTT subscriber that records every message on its topic filters,
//! with the moment each arrived. It subscribes again on every CONNACK, so
//! it keeps watching across broker restarts; with
//! [`WatchOptions::resume_session`] the broker also keeps its session (and
//! queues for it) while it reconnects.

use super::connection::{self, ConnectionThread};
use super::{HarnessError, client_id};
use rumqttc::{Event, Packet, QoS};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long the first subscription may take.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// A message the watcher received.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Its topic.
    pub topic: String,
    /// Its payload.
    pub payload: Vec<u8>,
    /// Whether the broker delivered it as retained.
    pub retain: bool,
    /// When it arrived here.
    pub at: Instant,
}

/// How the watcher connects.
#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    /// A persistent session (clean session off): the broker queues what
    /// arrives while the watcher reconnects, e.g. across a broker restart.
    pub resume_session: bool,
    /// User name and password; the user name is then also the client id.
    pub credentials: Option<(String, String)>,
}

/// What the connection thread shares with the watcher.
#[derive(Default)]
struct Record {
    seen: Vec<Seen>,
    /// SUBACKs so far (the watcher is ready once every filter has one).
    subacks: usize,
}

/// A running subscriber; disconnects when dropped.
pub struct Watcher {
    record: Arc<(Mutex<Record>, Condvar)>,
    _connection: ConnectionThread,
}

impl Watcher {
    /// Connects to the broker on `port`, subscribes to `topics` (QoS 1)
    /// and returns once the broker has acknowledged every subscription.
    pub fn start(
        port: u16,
        topics: &[String],
        options: &WatchOptions,
    ) -> Result<Watcher, HarnessError> {
        let id = match &options.credentials {
            Some((user, _)) => user.clone(),
            None => client_id("larder-watch"),
        };
        let mut mqtt = connection::options(id, port);
        mqtt.set_clean_session(!options.resume_session);
        if let Some((user, password)) = &options.credentials {
            mqtt.set_credentials(user.clone(), password.clone());
        }
        let record = Arc::new((Mutex::new(Record::default()), Condvar::new()));
        let shared = record.clone();
        let filters = topics.to_vec();
        let (_client, thread) = connection::spawn(mqtt, 64, move |client, event| {
            let (lock, changed) = &*shared;
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    for filter in &filters {
                        let _ = client.try_subscribe(filter.clone(), QoS::AtLeastOnce);
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    lock.lock().expect("watcher lock").subacks += 1;
                    changed.notify_all();
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    lock.lock().expect("watcher lock").seen.push(Seen {
                        topic: p.topic.clone(),
                        payload: p.payload.to_vec(),
                        retain: p.retain,
                        at: Instant::now(),
                    });
                    changed.notify_all();
                }
                _ => {}
            }
        });
        let watcher = Watcher {
            record,
            _connection: thread,
        };
        let wanted = topics.len();
        let (lock, changed) = &*watcher.record;
        let timed_out = changed
            .wait_timeout_while(lock.lock().expect("watcher lock"), SUBSCRIBE_TIMEOUT, |r| {
                r.subacks < wanted
            })
            .expect("watcher lock")
            .1
            .timed_out();
        if timed_out {
            return Err(HarnessError::Timeout {
                what: format!("a SUBACK from mosquitto on port {port}"),
                after: SUBSCRIBE_TIMEOUT,
            });
        }
        Ok(watcher)
    }

    fn record(&self) -> MutexGuard<'_, Record> {
        self.record.0.lock().expect("watcher lock")
    }

    /// Every message so far, in order of arrival.
    pub fn all(&self) -> Vec<Seen> {
        self.record().seen.clone()
    }

    /// How many messages arrived so far (a mark for [`Watcher::wait_for`]).
    pub fn count(&self) -> usize {
        self.record().seen.len()
    }

    /// Messages seen on `topic` (exactly) so far.
    pub fn on(&self, topic: &str) -> Vec<Seen> {
        self.matching(|s| s.topic == topic)
    }

    /// Messages whose topic starts with `prefix`.
    pub fn under(&self, prefix: &str) -> Vec<Seen> {
        self.matching(|s| s.topic.starts_with(prefix))
    }

    fn matching(&self, keep: impl Fn(&Seen) -> bool) -> Vec<Seen> {
        self.record()
            .seen
            .iter()
            .filter(|s| keep(s))
            .cloned()
            .collect()
    }

    /// Waits for the first message after the first `from` ones that
    /// `matches`, and returns it (its `at` says when it arrived).
    pub fn wait_for(
        &self,
        from: usize,
        timeout: Duration,
        what: &str,
        matches: impl Fn(&Seen) -> bool,
    ) -> Result<Seen, HarnessError> {
        let find = |r: &Record| r.seen.iter().skip(from).find(|s| matches(s)).cloned();
        let (lock, changed) = &*self.record;
        let (record, _) = changed
            .wait_timeout_while(lock.lock().expect("watcher lock"), timeout, |r| {
                find(r).is_none()
            })
            .expect("watcher lock");
        find(&record).ok_or_else(|| HarnessError::Timeout {
            what: what.to_owned(),
            after: timeout,
        })
    }
}
