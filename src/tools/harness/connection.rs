//! One MQTT connection driven on a thread of its own, with rumqttc's
//! synchronous `Client` and `Connection`, so the harness's clients need no
//! async runtime from their caller. The thread hands every event to a
//! handler; after a connection error it waits 100 ms and reconnects. It
//! ends on a DISCONNECT the client sent, or when its owner is dropped.

use rumqttc::{Client, ConnectionError, Event, MqttOptions, Outgoing, RecvTimeoutError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the thread looks at its stop flag while nothing happens.
const POLL: Duration = Duration::from_millis(100);
/// The pause after a connection error before the next attempt.
const RETRY: Duration = Duration::from_millis(100);

/// The options every harness client starts from: loopback `port`, and
/// packets up to 1 MiB both ways (Home Assistant documents are large).
pub(crate) fn options(id: String, port: u16) -> MqttOptions {
    let mut options = MqttOptions::new(id, "127.0.0.1", port);
    options.set_max_packet_size(1 << 20, 1 << 20);
    options
}

/// The running connection thread; asks it to stop when dropped.
pub(crate) struct ConnectionThread {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<()>,
}

impl ConnectionThread {
    /// Waits up to `within` for the thread to end by itself (after the
    /// client sent DISCONNECT): true if it did.
    pub(crate) fn finished_within(&self, within: Duration) -> bool {
        super::poll_until(within, Duration::from_millis(5), || {
            self.handle.is_finished()
        })
    }
}

impl Drop for ConnectionThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Connects with `options` (a request channel of `capacity`) and drives
/// the connection on a new thread, calling `on_event` with the client and
/// each event or error.
pub(crate) fn spawn(
    options: MqttOptions,
    capacity: usize,
    mut on_event: impl FnMut(&Client, Result<&Event, &ConnectionError>) + Send + 'static,
) -> (Client, ConnectionThread) {
    let (client, mut connection) = Client::new(options, capacity);
    let stop = Arc::new(AtomicBool::new(false));
    let (own_client, flag) = (client.clone(), stop.clone());
    let handle = std::thread::spawn(move || {
        while !flag.load(Ordering::SeqCst) {
            match connection.recv_timeout(POLL) {
                Ok(Ok(event)) => {
                    on_event(&own_client, Ok(&event));
                    if matches!(event, Event::Outgoing(Outgoing::Disconnect)) {
                        break;
                    }
                }
                Ok(Err(error)) => {
                    on_event(&own_client, Err(&error));
                    std::thread::sleep(RETRY);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
    });
    (client, ConnectionThread { stop, handle })
}
