//! What crosses the broker, as bytes: native device events (`events`),
//! foreign device payloads (`adapters`), approval requests and member
//! replies (`approval`), household control messages (`control`), and the
//! hub-signed upstream intent with the shop's acknowledgements (`intent`).
//! Decoders of outside bytes live here and nowhere else; they are pure.
//!
//! Shared by the signed messages: `cbor` (one CBOR item in and out, a
//! payload map's fields) and `cose` (COSE_Sign1 envelopes). `topics` names
//! the MQTT topics.

pub mod adapters;
pub mod approval;
mod cbor;
pub mod control;
mod cose;
pub mod events;
pub mod intent;
pub mod topics;
