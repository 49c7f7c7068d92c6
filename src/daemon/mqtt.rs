//! MQTT at the edge: connection options from the configuration, the poll
//! loop with capped exponential backoff, and resubscribe-on-every-connect.
//!
//! Architecture invariant: the poll loop only drives the rumqttc event loop
//! and forwards events over channels. It never awaits the client (that can
//! deadlock rumqttc), and holds no business logic.

use super::link::{Client, EventLoop, LinkEvent, Received};
use crate::config;
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS, Transport};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Why connection options could not be built.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    /// The password file could not be read.
    #[error("mqtt.password-file {path}: {source}")]
    PasswordFile {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The CA file could not be read.
    #[error("mqtt.ca-file {path}: {source}")]
    CaFile {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A client certificate or key file could not be read.
    #[error("{key} {path}: {source}")]
    ClientAuth {
        /// The configuration key (`mqtt.client-cert` or `mqtt.client-key`).
        key: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Capped exponential backoff with jitter, for reconnects and retries.
#[derive(Debug, Clone)]
pub struct Backoff {
    attempt: u32,
    base: Duration,
    cap: Duration,
}

impl Backoff {
    /// Backoff starting at `base`, never exceeding `cap`.
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            attempt: 0,
            base,
            cap,
        }
    }

    /// The next delay; `jitter` in [0, 1) picks a point in the upper half of
    /// the window ("equal jitter"), so retries from many hubs spread out
    /// while each still backs off.
    pub fn next_delay(&mut self, jitter: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX));
        let window = exp.min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        let jitter = jitter.clamp(0.0, 1.0);
        window / 2 + window.mul_f64(jitter / 2.0)
    }

    /// Back to the first delay (after a successful connect).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Retries since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

/// A jitter value in [0, 1) from the system RNG.
pub fn random_jitter() -> f64 {
    let bytes = crate::crypto::keys::random_bytes::<4>();
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

/// Installs rustls' ring crypto provider once (rumqttc is built without one).
pub fn install_crypto_provider() {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
}

/// The largest packet larder sends on any connection (MQTT 3.1.1; under
/// MQTT 5 the broker's own limit, if it states one, applies).
pub const MAX_OUTGOING_PACKET_BYTES: usize = 1024 * 1024;

/// MQTT 3.1.1 connection options for one larder connection (the command
/// line's short-lived clients, and the daemon's connections under
/// `mqtt.protocol = "3.1.1"`, see `daemon::link`).
///
/// `client_id` is fixed per role so the broker keeps the session;
/// `persistent` turns clean-session off (ingest); `will` is the last will.
/// Incoming packets are limited to [`super::link::packet_limit`].
pub fn options(
    cfg: &config::Mqtt,
    client_id: &str,
    persistent: bool,
    will: Option<LastWill>,
) -> Result<MqttOptions, MqttError> {
    let mut opts = MqttOptions::new(client_id, broker_host(cfg), cfg.port);
    opts.set_keep_alive(Duration::from_secs(u64::from(cfg.keep_alive_secs)));
    opts.set_clean_session(!persistent);
    opts.set_manual_acks(persistent);
    opts.set_max_packet_size(super::link::packet_limit(cfg), MAX_OUTGOING_PACKET_BYTES);
    if let Some(will) = will {
        opts.set_last_will(will);
    }
    if let Some((user, password)) = credentials(cfg)? {
        opts.set_credentials(user, password);
    }
    if let Some(transport) = tls_transport(cfg)? {
        opts.set_transport(transport);
    }
    Ok(opts)
}

/// The broker host as rumqttc wants it: it joins host and port itself for
/// plain TCP, so a bare IPv6 address needs its brackets there (TLS wants
/// the bare name).
pub(super) fn broker_host(cfg: &config::Mqtt) -> String {
    if cfg.host.contains(':') && !cfg.tls {
        format!("[{}]", cfg.host)
    } else {
        cfg.host.clone()
    }
}

/// The user name and password (the first line of `mqtt.password-file`),
/// if the configuration names a user.
pub(super) fn credentials(cfg: &config::Mqtt) -> Result<Option<(String, String)>, MqttError> {
    let Some(user) = &cfg.username else {
        return Ok(None);
    };
    let password = match &cfg.password_file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|source| MqttError::PasswordFile {
                path: path.clone(),
                source,
            })?
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
        None => String::new(),
    };
    Ok(Some((user.clone(), password)))
}

/// The TLS transport for `mqtts://` (CA file, client certificate), or
/// `None` for plain TCP.
pub(super) fn tls_transport(cfg: &config::Mqtt) -> Result<Option<Transport>, MqttError> {
    if !cfg.tls {
        return Ok(None);
    }
    install_crypto_provider();
    let read = |key: &'static str, path: &std::path::PathBuf| {
        std::fs::read(path).map_err(|source| MqttError::ClientAuth {
            key,
            path: path.clone(),
            source,
        })
    };
    let client_auth = match (&cfg.client_cert, &cfg.client_key) {
        (Some(cert), Some(key)) => Some((
            read("mqtt.client-cert", cert)?,
            read("mqtt.client-key", key)?,
        )),
        // Validation requires both; a half pair is ignored here.
        _ => None,
    };
    Ok(Some(match &cfg.ca_file {
        Some(path) => {
            let ca = std::fs::read(path).map_err(|source| MqttError::CaFile {
                path: path.clone(),
                source,
            })?;
            Transport::tls(ca, client_auth, None)
        }
        // Validation requires mqtt.ca-file with a client certificate.
        None => Transport::tls_with_default_config(),
    }))
}

/// What the poll loop reports.
#[derive(Debug)]
pub enum Polled {
    /// Connected; `session_present` false means the broker forgot us.
    Connected {
        /// Whether the broker resumed our session.
        session_present: bool,
    },
    /// A message arrived (its payload cut when over
    /// `mqtt.max-payload-bytes`, see `link::Received`).
    Message(Received),
    /// One of our publishes went out with this packet id.
    PublishSent(u16),
    /// The broker acknowledged our publish with this packet id.
    PubAck(u16),
    /// The connection dropped.
    Disconnected,
}

/// What to do on every (re)connect.
#[derive(Debug, Clone, Default)]
pub struct OnConnect {
    /// Topics to subscribe at QoS 1.
    pub subscribe: Vec<String>,
    /// A retained message to publish (the `online` status).
    pub announce: Option<(String, Vec<u8>)>,
}

/// Drives a connection's event loop until `shutdown` turns true,
/// forwarding events to `events`. Reconnects with capped exponential
/// backoff and jitter, resubscribes on every connect.
pub async fn poll_loop(
    name: &'static str,
    client: Client,
    mut eventloop: EventLoop,
    on_connect: OnConnect,
    events: mpsc::Sender<Polled>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(60));
    let mut connected = false;
    loop {
        let event = tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => break,
            event = eventloop.poll() => event,
        };
        let polled = match event {
            Ok(LinkEvent::Connected { session_present }) => {
                if backoff.attempts() > 0 {
                    tracing::info!(connection = name, "reconnected to broker");
                } else {
                    tracing::info!(connection = name, "connected to broker");
                }
                backoff.reset();
                connected = true;
                if !session_present && !on_connect.subscribe.is_empty() {
                    tracing::info!(
                        connection = name,
                        "broker has no session for us (first start or broker state lost); subscribing afresh"
                    );
                }
                if !on_connect.subscribe.is_empty() {
                    if let Err(e) = client.try_subscribe(&on_connect.subscribe) {
                        tracing::error!(connection = name, error = %e, "cannot queue subscribe");
                    }
                }
                if let Some((topic, payload)) = &on_connect.announce {
                    if let Err(e) = client.try_publish(topic, true, payload.clone()) {
                        tracing::warn!(connection = name, error = %e, "cannot queue status");
                    }
                }
                Polled::Connected { session_present }
            }
            Ok(LinkEvent::Message(message)) => Polled::Message(message),
            Ok(LinkEvent::PubAck(pkid)) => Polled::PubAck(pkid),
            Ok(LinkEvent::PublishSent(pkid)) => Polled::PublishSent(pkid),
            // Our own clean DISCONNECT went out: the connection is done.
            Ok(LinkEvent::DisconnectSent) => break,
            Ok(LinkEvent::Other) => continue,
            Err(error) => {
                let delay = backoff.next_delay(random_jitter());
                let retry_in_ms = delay.as_millis();
                if connected || backoff.attempts() == 1 {
                    tracing::warn!(connection = name, %error, retry_in_ms, "broker connection lost");
                } else {
                    tracing::debug!(connection = name, %error, retry_in_ms, "still cannot reach broker");
                }
                let was_connected = std::mem::replace(&mut connected, false);
                if was_connected && events.send(Polled::Disconnected).await.is_err() {
                    break;
                }
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => break,
                    () = tokio::time::sleep(delay) => {}
                }
                continue;
            }
        };
        if events.send(polled).await.is_err() {
            break;
        }
    }
}

/// Publishes one message and waits for the broker's PUBACK, driving the
/// event loop itself (for short-lived CLI clients). Fails after `timeout`.
pub async fn publish_once(
    opts: MqttOptions,
    topic: &str,
    payload: Vec<u8>,
    retain: bool,
    timeout: Duration,
) -> Result<(), String> {
    let (client, mut eventloop) = AsyncClient::new(opts, 10);
    let work = async {
        client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .await
            .map_err(|e| e.to_string())?;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => break,
                Ok(_) => {}
                Err(e) => return Err(format!("broker connection failed: {e}")),
            }
        }
        let _ = client.disconnect().await;
        // Let the DISCONNECT go out.
        let _ = tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await;
        Ok(())
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("no acknowledgement from the broker within {timeout:?}"))?
}

/// Fetches the retained message on `topic`, if one arrives within `timeout`.
pub async fn fetch_retained(
    opts: MqttOptions,
    topic: &str,
    timeout: Duration,
) -> Result<Option<Vec<u8>>, String> {
    let (client, mut eventloop) = AsyncClient::new(opts, 10);
    client
        .subscribe(topic, QoS::AtLeastOnce)
        .await
        .map_err(|e| e.to_string())?;
    let work = async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) if p.topic == topic => {
                    return Ok(Some(p.payload.to_vec()));
                }
                Ok(_) => {}
                Err(e) => return Err(format!("broker connection failed: {e}")),
            }
        }
    };
    let found = match tokio::time::timeout(timeout, work).await {
        Ok(result) => result?,
        Err(_) => None,
    };
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await;
    Ok(found.filter(|p| !p.is_empty()))
}

/// Collects the retained messages under `filter` (topic, payload): those
/// the broker sends right after the subscription is acknowledged, until
/// `quiet` passes without another or `timeout` runs out. Empty retained
/// payloads (cleared topics) are left out. The flag is false when the
/// timeout ended the wait while messages were still arriving (the list may
/// be incomplete).
pub async fn collect_retained(
    opts: MqttOptions,
    filter: &str,
    quiet: Duration,
    timeout: Duration,
) -> Result<(Vec<(String, Vec<u8>)>, bool), String> {
    let (client, mut eventloop) = AsyncClient::new(opts, 10);
    client
        .subscribe(filter, QoS::AtLeastOnce)
        .await
        .map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut subscribed = false;
    let mut found = Vec::new();
    let complete = loop {
        let wait = if subscribed {
            quiet.min(deadline.saturating_duration_since(tokio::time::Instant::now()))
        } else {
            deadline.saturating_duration_since(tokio::time::Instant::now())
        };
        match tokio::time::timeout(wait, eventloop.poll()).await {
            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => subscribed = true,
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) if p.retain => {
                if !p.payload.is_empty() {
                    found.push((p.topic.clone(), p.payload.to_vec()));
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(format!("broker connection failed: {e}")),
            Err(_) if subscribed => break wait >= quiet,
            Err(_) => return Err(format!("no answer from the broker within {timeout:?}")),
        }
    };
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await;
    Ok((found, complete))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(60));
        let delays: Vec<u64> = (0..10)
            .map(|_| b.next_delay(0.0).as_millis() as u64)
            .collect();
        assert_eq!(
            delays,
            vec![250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        b.reset();
        assert_eq!(b.next_delay(0.999_999).as_millis(), 499);
    }

    #[test]
    fn backoff_jitter_stays_inside_the_window() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        for _ in 0..100 {
            let d = b.next_delay(random_jitter());
            assert!(d >= Duration::from_millis(500) && d <= Duration::from_secs(60));
        }
    }
}
