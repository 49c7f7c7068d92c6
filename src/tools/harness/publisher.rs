//! A QoS 1 publisher that counts the broker's PUBACKs. `larder bench`
//! queues a backlog with many messages in flight and waits until all are
//! acknowledged; the tests publish one message at a time and wait for its
//! PUBACK (from then on the broker owns it).

use super::connection::{self, ConnectionThread};
use super::{HarnessError, client_id};
use rumqttc::{Client, Event, Packet, QoS};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long [`Publisher::publish`] waits for the PUBACK.
const PUBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// What the connection thread counts.
#[derive(Default, Clone, Copy)]
struct Counts {
    /// PUBACKs received.
    acked: u64,
    /// Connection errors (each one drops what was in flight).
    errors: u64,
}

/// A connected publisher; disconnects cleanly when dropped.
pub struct Publisher {
    client: Client,
    counts: Arc<(Mutex<Counts>, Condvar)>,
    connection: ConnectionThread,
}

impl Publisher {
    /// A publisher with one message in flight at a time.
    pub fn connect(port: u16) -> Publisher {
        Publisher::connect_pipelined(port, 1)
    }

    /// A publisher with up to `inflight` unacknowledged messages (and ten
    /// times as many queued before [`Publisher::send`] blocks).
    pub fn connect_pipelined(port: u16, inflight: u16) -> Publisher {
        let mut options = connection::options(client_id("larder-pub"), port);
        options.set_inflight(inflight.max(1));
        let counts = Arc::new((Mutex::new(Counts::default()), Condvar::new()));
        let shared = counts.clone();
        let capacity = usize::from(inflight.max(1)) * 10;
        let (client, thread) = connection::spawn(options, capacity.max(16), move |_, event| {
            let (lock, changed) = &*shared;
            match event {
                Ok(Event::Incoming(Packet::PubAck(_))) => {
                    lock.lock().expect("publisher lock").acked += 1;
                    changed.notify_all();
                }
                Err(_) => {
                    lock.lock().expect("publisher lock").errors += 1;
                    changed.notify_all();
                }
                Ok(_) => {}
            }
        });
        Publisher {
            client,
            counts,
            connection: thread,
        }
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.0.lock().expect("publisher lock")
    }

    /// Queues `payload` on `topic` at QoS 1 (blocks while the queue is
    /// full); the PUBACK is counted when it comes.
    pub fn send(&self, topic: &str, payload: Vec<u8>, retain: bool) -> Result<(), HarnessError> {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .map_err(|e| HarnessError::Failed(format!("publishing on {topic}: {e}")))
    }

    /// PUBACKs received so far.
    pub fn acked(&self) -> u64 {
        self.counts().acked
    }

    /// Waits until the broker has acknowledged `n` messages in all.
    pub fn wait_acked(&self, n: u64, timeout: Duration) -> Result<(), HarnessError> {
        let (lock, changed) = &*self.counts;
        let (counts, _) = changed
            .wait_timeout_while(lock.lock().expect("publisher lock"), timeout, |c| {
                c.acked < n
            })
            .expect("publisher lock");
        if counts.acked < n {
            return Err(HarnessError::Failed(format!(
                "mosquitto acknowledged only {} of {n}",
                counts.acked
            )));
        }
        Ok(())
    }

    /// Publishes and waits (10 s) for the broker's PUBACK; true if it came.
    /// False after a connection error: what was in flight is lost.
    pub fn publish(&mut self, topic: &str, payload: Vec<u8>, retain: bool) -> bool {
        self.publish_within(topic, payload, retain, PUBACK_TIMEOUT)
    }

    /// [`Publisher::publish`], waiting `timeout` for the PUBACK.
    pub fn publish_within(
        &mut self,
        topic: &str,
        payload: Vec<u8>,
        retain: bool,
        timeout: Duration,
    ) -> bool {
        let before = *self.counts();
        if self.send(topic, payload, retain).is_err() {
            return false;
        }
        let (lock, changed) = &*self.counts;
        let (counts, _) = changed
            .wait_timeout_while(lock.lock().expect("publisher lock"), timeout, |c| {
                c.acked == before.acked && c.errors == before.errors
            })
            .expect("publisher lock");
        counts.acked > before.acked
    }
}

impl Drop for Publisher {
    /// Sends DISCONNECT and gives it 200 ms to go out.
    fn drop(&mut self) {
        if self.client.try_disconnect().is_ok() {
            self.connection.finished_within(Duration::from_millis(200));
        }
    }
}
