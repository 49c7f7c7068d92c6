//! One broker connection of the daemon, in the MQTT version the
//! configuration names (`mqtt.protocol`), behind one small interface:
//! [`connect`] gives a [`Client`] (publish, subscribe, ack, disconnect)
//! and an [`EventLoop`] that `mqtt::poll_loop` drives.
//!
//! **Why MQTT 5 (the default): no message can stop ingestion.** rumqttc
//! checks an incoming packet's length from its fixed header before reading
//! it (`mqttbytes::check`, the same in its v4 and v5 codecs) and fails the
//! whole connection with `PayloadSizeLimitExceeded` when it is over the
//! client's limit; it cannot skip one message. Under MQTT 3.1.1 the broker
//! does not know that limit, so it sends the unacknowledged QoS 1 message
//! again on every reconnect, forever (mosquitto has no size limit of its
//! own unless `message_size_limit` is set). MQTT 5 lets the client state
//! the largest packet it takes (Maximum Packet Size in CONNECT; rumqttc's
//! `v5::MqttOptions::set_max_packet_size` sends it and uses it as its own
//! limit), and the broker must then drop a bigger message for that client
//! and go on as if it had been delivered (MQTT 5 §3.1.2.11.4; mosquitto
//! 2.x removes it from the session and logs "Dropping too large outgoing
//! PUBLISH for <client id>"). So:
//! - up to [`packet_limit`] (4 × `mqtt.max-payload-bytes`, at least
//!   1 MiB), a message reaches larder; one over `mqtt.max-payload-bytes`
//!   keeps only its first bytes here ([`Received`]), and the engine refuses
//!   it: counted (`refused_oversize`), dead-lettered with its size, and
//!   acknowledged after the commit like every other message;
//! - above that the broker never sends it to larder: the connection stays
//!   up and the broker's log names it; larder cannot count it.
//!
//! Under `mqtt.protocol = "3.1.1"` the same limit applies, but a bigger
//! message drops the connection in a loop as described above.
//!
//! The ingest subscriptions ask for retained messages only when the
//! subscription is new (MQTT 5 Retain Handling 1): the persistent session
//! keeps the subscription, so a retained message is not delivered again
//! on every reconnect.

use super::mqtt::{self, MqttError};
use crate::config::{self, MqttProtocol};
use bytes::Bytes;
use rumqttc::v5;
use rumqttc::v5::mqttbytes::QoS as QoS5;
use rumqttc::v5::mqttbytes::v5::{Filter, RetainForwardRule};
use rumqttc::{Outgoing, QoS};
use std::time::Duration;

/// How much of a message over `mqtt.max-payload-bytes` is kept for its
/// dead letter (the rest is let go as soon as it is read): as much as a
/// dead letter keeps of any payload.
pub const OVERSIZE_KEPT_BYTES: usize = crate::store::DEAD_LETTER_KEEP_BYTES;

/// The smallest limit on incoming packets (see [`packet_limit`]).
const MIN_PACKET_LIMIT: usize = 1024 * 1024;

/// The largest packet a larder connection takes from the broker:
/// 4 × `mqtt.max-payload-bytes`, at least 1 MiB. Messages up to it reach
/// larder and are refused, counted and dead-lettered when over
/// `mqtt.max-payload-bytes`; bigger ones the broker drops for larder
/// (MQTT 5), naming them in its own log.
///
/// It is what bounds memory: rumqttc reads a packet whole before larder
/// sees it, and holds at most ten at a time (`readb` reads up to ten
/// packets, and `poll` hands those out before it reads again), so at most
/// about 10 × this is in flight, and the read buffer keeps the size of the
/// largest packet so far. Measured (debug build, stock mosquitto): 20
/// messages of 1 MB at once raised the peak by 7–9 MB and left the resident
/// size 0.5 MB higher; with a 4 MiB floor, 20 of 4 MB raised the peak by
/// 27 MB and left it 8 MB higher. A household that wants bigger junk
/// counted raises `mqtt.max-payload-bytes` (up to 1 MiB: a 4 MiB limit).
pub fn packet_limit(cfg: &config::Mqtt) -> usize {
    cfg.max_payload_bytes
        .saturating_mul(4)
        .max(MIN_PACKET_LIMIT)
}

/// Publishes in flight on a connection that does not need another number
/// (rumqttc's default for MQTT 3.1.1).
pub const DEFAULT_INFLIGHT: u16 = 100;

/// What kind of connection to open.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    /// The client id (fixed per role, so the broker keeps the session).
    pub client_id: String,
    /// Persistent session and manual acks (the ingest connection).
    pub persistent: bool,
    /// The last will: a retained QoS 1 message (topic, payload).
    pub will: Option<(String, Vec<u8>)>,
    /// Most of our publishes in flight at once. rumqttc's MQTT 5 client
    /// keeps a slot per possible packet id unless told (65 536 slots of
    /// about 200 bytes, 13 MB a connection); [`DEFAULT_INFLIGHT`] is its
    /// MQTT 3.1.1 client's default.
    pub inflight: u16,
    /// Room in the client's request queue.
    pub capacity: usize,
}

/// A message from the broker, as the daemon hands it on.
#[derive(Debug, Clone)]
pub struct Received {
    /// Topic.
    pub topic: String,
    /// The payload; only its first [`OVERSIZE_KEPT_BYTES`] when it was
    /// larger than `mqtt.max-payload-bytes` (see `size`).
    pub payload: Bytes,
    /// The payload's size as received.
    pub size: usize,
    /// Packet id (for the ack).
    pub pkid: u16,
    /// QoS it was delivered at.
    pub qos: QoS,
    /// The retain flag.
    pub retain: bool,
    /// MQTT's DUP flag (sent again after a reconnect).
    pub dup: bool,
}

impl Received {
    /// A message, its payload cut to [`OVERSIZE_KEPT_BYTES`] (copied, so
    /// the buffer it was read into can go) when over `max_payload`.
    fn new(
        topic: String,
        payload: Bytes,
        max_payload: usize,
        pkid: u16,
        qos: QoS,
        retain: bool,
        dup: bool,
    ) -> Received {
        let size = payload.len();
        let payload = if size > max_payload {
            Bytes::copy_from_slice(&payload[..OVERSIZE_KEPT_BYTES.min(size)])
        } else {
            payload
        };
        Received {
            topic,
            payload,
            size,
            pkid,
            qos,
            retain,
            dup,
        }
    }
}

/// The client side of a connection: what the daemon asks of it.
#[derive(Clone)]
pub enum Client {
    /// MQTT 5.
    V5(v5::AsyncClient),
    /// MQTT 3.1.1.
    V311(rumqttc::AsyncClient),
}

/// The client's request queue is closed or full (rumqttc's words; the
/// request it hands back is let go at once).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ClientError(String);

impl From<v5::ClientError> for ClientError {
    fn from(e: v5::ClientError) -> ClientError {
        ClientError(e.to_string())
    }
}

impl From<rumqttc::ClientError> for ClientError {
    fn from(e: rumqttc::ClientError) -> ClientError {
        ClientError(e.to_string())
    }
}

impl Client {
    /// Queues a QoS 1 publish, waiting for room in the queue.
    pub async fn publish(
        &self,
        topic: &str,
        retain: bool,
        payload: Vec<u8>,
    ) -> Result<(), ClientError> {
        match self {
            Client::V5(c) => c.publish(topic, QoS5::AtLeastOnce, retain, payload).await?,
            Client::V311(c) => c.publish(topic, QoS::AtLeastOnce, retain, payload).await?,
        }
        Ok(())
    }

    /// Queues a QoS 1 publish if there is room (never waits: the poll loop
    /// uses it).
    pub fn try_publish(
        &self,
        topic: &str,
        retain: bool,
        payload: Vec<u8>,
    ) -> Result<(), ClientError> {
        match self {
            Client::V5(c) => c.try_publish(topic, QoS5::AtLeastOnce, retain, payload)?,
            Client::V311(c) => c.try_publish(topic, QoS::AtLeastOnce, retain, payload)?,
        }
        Ok(())
    }

    /// Queues one QoS 1 subscription to `filters` if there is room; under
    /// MQTT 5, retained messages come only with a new subscription.
    pub fn try_subscribe(&self, filters: &[String]) -> Result<(), ClientError> {
        match self {
            Client::V5(c) => c.try_subscribe_many(filters.iter().map(|f| {
                let mut filter = Filter::new(f.clone(), QoS5::AtLeastOnce);
                filter.retain_forward_rule = RetainForwardRule::OnNewSubscribe;
                filter
            }))?,
            Client::V311(c) => c.try_subscribe_many(
                filters
                    .iter()
                    .map(|f| rumqttc::SubscribeFilter::new(f.clone(), QoS::AtLeastOnce)),
            )?,
        }
        Ok(())
    }

    /// Queues the acknowledgement of the message with packet id `pkid`
    /// delivered at `qos` (nothing for QoS 0).
    pub async fn ack(&self, pkid: u16, qos: QoS) -> Result<(), ClientError> {
        match self {
            Client::V5(c) => {
                let mut publish = v5::mqttbytes::v5::Publish::new("", qos5(qos), Vec::new(), None);
                publish.pkid = pkid;
                c.ack(&publish).await?;
            }
            Client::V311(c) => {
                let mut publish = rumqttc::Publish::new("", qos, Vec::new());
                publish.pkid = pkid;
                c.ack(&publish).await?;
            }
        }
        Ok(())
    }

    /// Queues a clean DISCONNECT.
    pub async fn disconnect(&self) -> Result<(), ClientError> {
        match self {
            Client::V5(c) => c.disconnect().await?,
            Client::V311(c) => c.disconnect().await?,
        }
        Ok(())
    }
}

fn qos5(qos: QoS) -> QoS5 {
    match qos {
        QoS::AtMostOnce => QoS5::AtMostOnce,
        QoS::AtLeastOnce => QoS5::AtLeastOnce,
        QoS::ExactlyOnce => QoS5::ExactlyOnce,
    }
}

fn qos311(qos: QoS5) -> QoS {
    match qos {
        QoS5::AtMostOnce => QoS::AtMostOnce,
        QoS5::AtLeastOnce => QoS::AtLeastOnce,
        QoS5::ExactlyOnce => QoS::ExactlyOnce,
    }
}

/// The network side of a connection, driven by `mqtt::poll_loop`.
pub struct EventLoop {
    inner: Inner,
    /// `mqtt.max-payload-bytes`: bigger payloads are cut (see [`Received`]).
    max_payload: usize,
}

enum Inner {
    V5(Box<v5::EventLoop>),
    V311(Box<rumqttc::EventLoop>),
}

/// What one poll of the connection gave.
#[derive(Debug)]
pub enum LinkEvent {
    /// Connected; `session_present` false means the broker has no session.
    Connected {
        /// Whether the broker resumed our session.
        session_present: bool,
    },
    /// A message arrived.
    Message(Received),
    /// The broker acknowledged our publish with this packet id.
    PubAck(u16),
    /// One of our publishes went out with this packet id.
    PublishSent(u16),
    /// Our own clean DISCONNECT went out.
    DisconnectSent,
    /// Anything else (pings, subscription acks).
    Other,
}

/// The connection failed (it is retried by polling again).
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// From the MQTT 5 event loop.
    #[error("{0}")]
    V5(#[from] v5::ConnectionError),
    /// From the MQTT 3.1.1 event loop.
    #[error("{0}")]
    V311(#[from] rumqttc::ConnectionError),
}

impl EventLoop {
    /// The next event; connects (again) first when not connected.
    pub async fn poll(&mut self) -> Result<LinkEvent, ConnectionError> {
        let max_payload = self.max_payload;
        Ok(match &mut self.inner {
            Inner::V5(eventloop) => {
                use v5::mqttbytes::v5::Packet;
                match eventloop.poll().await? {
                    v5::Event::Incoming(Packet::ConnAck(ack)) => LinkEvent::Connected {
                        session_present: ack.session_present,
                    },
                    v5::Event::Incoming(Packet::Publish(p)) => LinkEvent::Message(Received::new(
                        String::from_utf8_lossy(&p.topic).into_owned(),
                        p.payload,
                        max_payload,
                        p.pkid,
                        qos311(p.qos),
                        p.retain,
                        p.dup,
                    )),
                    v5::Event::Incoming(Packet::PubAck(ack)) => LinkEvent::PubAck(ack.pkid),
                    v5::Event::Outgoing(Outgoing::Publish(pkid)) => LinkEvent::PublishSent(pkid),
                    v5::Event::Outgoing(Outgoing::Disconnect) => LinkEvent::DisconnectSent,
                    _ => LinkEvent::Other,
                }
            }
            Inner::V311(eventloop) => {
                use rumqttc::{Event, Packet};
                match eventloop.poll().await? {
                    Event::Incoming(Packet::ConnAck(ack)) => LinkEvent::Connected {
                        session_present: ack.session_present,
                    },
                    Event::Incoming(Packet::Publish(p)) => LinkEvent::Message(Received::new(
                        p.topic,
                        p.payload,
                        max_payload,
                        p.pkid,
                        p.qos,
                        p.retain,
                        p.dup,
                    )),
                    Event::Incoming(Packet::PubAck(ack)) => LinkEvent::PubAck(ack.pkid),
                    Event::Outgoing(Outgoing::Publish(pkid)) => LinkEvent::PublishSent(pkid),
                    Event::Outgoing(Outgoing::Disconnect) => LinkEvent::DisconnectSent,
                    _ => LinkEvent::Other,
                }
            }
        })
    }
}

/// Opens (lazily: on the first poll) a connection of the kind `link`
/// describes, in the configured MQTT version.
pub fn connect(cfg: &config::Mqtt, link: &LinkOptions) -> Result<(Client, EventLoop), MqttError> {
    let max_payload = cfg.max_payload_bytes;
    match cfg.protocol {
        MqttProtocol::V5 => {
            let opts = options_v5(cfg, link)?;
            let (client, eventloop) = v5::AsyncClient::new(opts, link.capacity);
            Ok((
                Client::V5(client),
                EventLoop {
                    inner: Inner::V5(Box::new(eventloop)),
                    max_payload,
                },
            ))
        }
        MqttProtocol::V311 => {
            let will = link.will.as_ref().map(|(topic, payload)| {
                rumqttc::LastWill::new(topic, payload.clone(), QoS::AtLeastOnce, true)
            });
            let mut opts = mqtt::options(cfg, &link.client_id, link.persistent, will)?;
            opts.set_inflight(link.inflight);
            let (client, eventloop) = rumqttc::AsyncClient::new(opts, link.capacity);
            Ok((
                Client::V311(client),
                EventLoop {
                    inner: Inner::V311(Box::new(eventloop)),
                    max_payload,
                },
            ))
        }
    }
}

/// MQTT 5 options: those of `mqtt::options`, plus the Maximum Packet Size
/// the broker must respect and, for a persistent session, a session that
/// never expires (MQTT 5 ends a session at disconnect unless told
/// otherwise; 3.1.1's persistent sessions do not expire either).
fn options_v5(cfg: &config::Mqtt, link: &LinkOptions) -> Result<v5::MqttOptions, MqttError> {
    let mut opts = v5::MqttOptions::new(&link.client_id, mqtt::broker_host(cfg), cfg.port);
    opts.set_keep_alive(Duration::from_secs(u64::from(cfg.keep_alive_secs)));
    opts.set_clean_start(!link.persistent);
    opts.set_manual_acks(link.persistent);
    if link.persistent {
        opts.set_session_expiry_interval(Some(u32::MAX));
    }
    opts.set_max_packet_size(Some(u32::try_from(packet_limit(cfg)).unwrap_or(u32::MAX)));
    opts.set_outgoing_inflight_upper_limit(link.inflight);
    if let Some((topic, payload)) = &link.will {
        opts.set_last_will(v5::mqttbytes::v5::LastWill::new(
            topic,
            payload.clone(),
            QoS5::AtLeastOnce,
            true,
            None,
        ));
    }
    if let Some((user, password)) = mqtt::credentials(cfg)? {
        opts.set_credentials(user, password);
    }
    if let Some(transport) = mqtt::tls_transport(cfg)? {
        opts.set_transport(transport);
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_over_the_limit_keeps_only_its_first_bytes_and_its_size() {
        let big = Bytes::from(vec![7u8; 300_000]);
        let r = Received::new("t".into(), big, 65536, 3, QoS::AtLeastOnce, true, false);
        assert_eq!(r.size, 300_000);
        assert_eq!(r.payload.len(), OVERSIZE_KEPT_BYTES);
        assert_eq!((r.pkid, r.retain, r.dup), (3, true, false));
        let small = Bytes::from_static(b"{}");
        let r = Received::new("t".into(), small, 65536, 4, QoS::AtMostOnce, false, true);
        assert_eq!((r.size, &r.payload[..]), (2, &b"{}"[..]));
        let short = Bytes::from(vec![1u8; 10]);
        let r = Received::new("t".into(), short, 5, 5, QoS::AtLeastOnce, false, false);
        assert_eq!((r.size, r.payload.len()), (10, 10));
    }

    #[test]
    fn the_packet_limit_is_four_times_the_payload_limit_and_at_least_1_mib() {
        let mut cfg = crate::config::Config::parse(
            include_str!("../../tests/fixtures/minimal.toml"),
            std::path::Path::new("/etc/larder/larder.toml"),
        )
        .expect("config")
        .mqtt;
        assert_eq!(packet_limit(&cfg), 1024 * 1024);
        cfg.max_payload_bytes = 1_048_576;
        assert_eq!(packet_limit(&cfg), 4 * 1_048_576);
        assert_eq!(cfg.protocol, MqttProtocol::V5);
    }
}
