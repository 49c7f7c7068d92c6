//! What crosses the broker, as bytes: native device events (`events`),
//! foreign device payloads (`adapters`), approval requests and member
//! replies (`approval`), household control messages (`control`), and the
//! hub-signed upstream intent with the shop's acknowledgements (`intent`).
//! Decoders of outside bytes live here and nowhere else; they are pure.

pub mod adapters;
pub mod approval;
pub mod control;
pub mod events;
pub mod intent;
pub mod topics;
