//! The outbox relay: publishes due outbox rows to the broker one at a time
//! on its own connection and reports each PUBACK to the writer, which
//! marks the row sent (`mark_sent`).

use super::WriterCommand;
use super::link::Client;
use super::mqtt::{self, Backoff, Polled};
use crate::clock::Clock;
use crate::store::Store;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot, watch};

/// How long the relay waits for a PUBACK before it re-sends.
const PUBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Publishes due outbox rows in order, one at a time, and reports each
/// broker PUBACK to the writer. A row without a PUBACK is sent again (same
/// bytes, same intent id) after a pause.
pub(super) async fn relay(
    database: PathBuf,
    client: Client,
    mut events: mpsc::Receiver<Polled>,
    commands: mpsc::Sender<WriterCommand>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let reader = match Store::open_readonly(&database) {
        Ok(reader) => reader,
        Err(e) => {
            tracing::error!(error = %e, "relay cannot open the database; nothing will be published");
            return;
        }
    };
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    loop {
        let due = match reader.read().due_outbox(clock.now(), 32) {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "relay cannot read the outbox");
                Vec::new()
            }
        };
        if due.is_empty() {
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                event = events.recv() => if event.is_none() { return },
            }
            continue;
        }
        let mut failed = false;
        for row in due {
            crate::daemon::failpoints::crash_point("relay_before_publish");
            if client
                .publish(&row.topic, row.retain, row.payload.clone())
                .await
                .is_err()
            {
                failed = true;
                break;
            }
            if !await_puback(&mut events).await {
                tracing::warn!(outbox = row.id, kind = %row.kind, topic = %row.topic, "no PUBACK; will publish again");
                failed = true;
                break;
            }
            crate::daemon::failpoints::crash_point("relay_after_puback_before_mark");
            let (done, wait) = oneshot::channel();
            if commands
                .send(WriterCommand::MarkSent(row.id, done))
                .await
                .is_err()
            {
                return;
            }
            let _ = wait.await;
            backoff.reset();
        }
        if failed {
            let delay = backoff.next_delay(mqtt::random_jitter());
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                () = tokio::time::sleep(delay) => {}
            }
        }
    }
}

/// Waits for the PUBACK of the publish just queued: the packet id is
/// learned from the outgoing event, so a stale PUBACK cannot be mistaken
/// for ours.
async fn await_puback(events: &mut mpsc::Receiver<Polled>) -> bool {
    let mut sent: Option<u16> = None;
    let deadline = tokio::time::sleep(PUBACK_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => return false,
            event = events.recv() => match event {
                None | Some(Polled::Disconnected) => return false,
                Some(Polled::PublishSent(pkid)) => sent = sent.or(Some(pkid)),
                Some(Polled::PubAck(pkid)) if sent == Some(pkid) => return true,
                Some(_) => {}
            },
        }
    }
}
