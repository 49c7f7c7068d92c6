//! The ingest connection's two hand-offs with the writer: poll events in
//! as writer commands, and the writer's acks (only for committed messages)
//! out to the client through a bounded queue the writer never waits on.

use super::WriterCommand;
use super::link::Client;
use super::mqtt::Polled;
use super::notify;
use rumqttc::QoS;
use tokio::sync::mpsc;

/// Maps ingest poll events to writer commands; tells systemd we are ready
/// on the first connect (database open, broker connected).
pub(super) async fn forward_ingest(
    mut events: mpsc::Receiver<Polled>,
    commands: mpsc::Sender<WriterCommand>,
) {
    let mut ready = false;
    while let Some(event) = events.recv().await {
        let command = match event {
            Polled::Message(publish) => WriterCommand::Message(publish),
            Polled::Connected { .. } => {
                if !ready {
                    ready = true;
                    notify::notify("READY=1");
                }
                continue;
            }
            _ => continue,
        };
        if commands.send(command).await.is_err() {
            break;
        }
    }
}

/// Hands the writer's acks to the ingest client, in commit order.
///
/// The writer never waits on the client itself: the client's request
/// queue only drains while the ingest poller runs, and under a large
/// backlog the poller can be waiting for the writer to take messages
/// (poller → forwarder → writer → client queue → poller). Found by
/// `larder bench` with a 20 000-message backlog, where the daemon stalled.
pub(super) async fn send_acks(client: Client, mut acks: mpsc::Receiver<PendingAck>) {
    while let Some(pending) = acks.recv().await {
        crate::daemon::failpoints::crash_point("ack_handoff_before_client");
        if let Err(e) = client.ack(pending.pkid, pending.qos).await {
            tracing::warn!(error = %e, "cannot queue ack; the broker will redeliver and the duplicate is ignored");
        }
    }
}

/// What acknowledging a committed message needs of it: its packet id and
/// QoS (all `AsyncClient::ack` reads). Queuing the whole message instead
/// kept its payload, and the network read buffer it was cut from, alive
/// until the ack was written: with a 100 000-message backlog the queue
/// held over 10 MB (`docs/performance.md`).
#[derive(Debug, Clone, Copy)]
pub(super) struct PendingAck {
    pub(super) pkid: u16,
    pub(super) qos: QoS,
}

/// Room in the ack queue: one per packet id. The broker cannot have more
/// unacknowledged QoS 1 messages out to one session than there are packet
/// ids, so the queue never fills while the broker follows the protocol
/// (a few bytes a slot, well under 1 MiB). The writer never waits on it (see
/// `send_acks`); were it full, the ack is dropped with a warning and the
/// broker redelivers the message, whose duplicate is counted and acked.
pub(super) const ACK_QUEUE: usize = 1 << 16;
