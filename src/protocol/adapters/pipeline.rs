//! The per-device pipeline from signals to item observations: the state
//! kept per device, the redelivery window, `apply` over the load-cell and
//! washer state machines, `tick` for time-based transitions, and the
//! observations' identity.

use super::signal::{Reading, Signal};
use crate::config::{Device, PayloadFormat};
use crate::core::ObservationKind;
use crate::core::signals::{
    Derived, SLOT_CYCLE, SLOT_IDOS1, SLOT_IDOS2, ScaleState, WasherOutcome, WasherState,
};
use serde::{Deserialize, Serialize};

/// What larder keeps per adapter device (`device_state`, one row).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceState {
    /// Digests of the payloads taken most recently (topic and bytes; at
    /// most [`RECENT_PAYLOADS`], newest last): a redelivered copy changes
    /// nothing (see [`is_redelivery`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_payloads: Vec<String>,
    /// When the last Home Connect programme finished (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_finished_at: Option<i64>,
    /// Load-cell filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<ScaleState>,
    /// Washer cycle detector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub washer: Option<WasherState>,
}

/// How many recent payload digests a device keeps for redelivery
/// detection. A broker redelivers at most the messages it had in flight to
/// larder unacknowledged (mosquitto's `max_inflight_messages`, default 20;
/// rumqttc's default inflight is 100), so 128 covers a whole window.
pub const RECENT_PAYLOADS: usize = 128;

/// Whether a payload with `digest` is one larder already took. Only a
/// message the broker marks as a copy can be one: a redelivery after a
/// reconnect carries MQTT's DUP flag, and a retained message handed over on
/// (re)subscribe carries the retain flag. Such a copy is a redelivery when
/// its digest is among the device's recent ones. A fresh publication (no
/// flag) is always a new reading, even when its bytes repeat an earlier
/// one: a stable scale reporting the same weight, or a second wash reported
/// with the same flattened Home Connect object.
pub fn is_redelivery(state: &DeviceState, digest: &str, dup: bool, retain: bool) -> bool {
    (dup || retain) && state.recent_payloads.iter().any(|d| d == digest)
}

/// Records `digest` as taken (newest last, at most [`RECENT_PAYLOADS`]).
pub fn remember_payload(state: &mut DeviceState, digest: String) {
    state.recent_payloads.retain(|d| *d != digest);
    if state.recent_payloads.len() >= RECENT_PAYLOADS {
        let excess = state.recent_payloads.len() + 1 - RECENT_PAYLOADS;
        state.recent_payloads.drain(..excess);
    }
    state.recent_payloads.push(digest);
}

/// Hex digest identifying a payload on a topic (for redelivery detection).
pub fn payload_digest(topic: &str, payload: &[u8]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&(topic.len() as u64).to_be_bytes());
    ctx.update(topic.as_bytes());
    ctx.update(payload);
    crate::crypto::keys::to_hex(&ctx.finish().as_ref()[..8])
}

/// What a reading or tick produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applied {
    /// Observations for items, by fixed slot.
    pub derived: Vec<Derived>,
    /// Counters to bump (`scale_lifted`, `washer_cycles_too_short`, …).
    pub counters: Vec<&'static str>,
}

/// Runs a reading taken at `at` through the device's state machines.
pub fn apply(device: &Device, state: &mut DeviceState, reading: &Reading, at: i64) -> Applied {
    let mut out = Applied::default();
    if device.format == PayloadFormat::Homeconnect {
        for signal in &reading.signals {
            match signal {
                Signal::ProgramFinished => {
                    if let Some(washer) = &device.washer {
                        // Two programmes cannot finish closer together than
                        // the shortest one runs: the same event reported
                        // again (a bridge re-sending it) uses no detergent.
                        let repeated = state
                            .last_finished_at
                            .is_some_and(|last| (at - last).abs() < washer.min_run_secs);
                        if repeated {
                            out.counters.push("washer_finished_repeated");
                        } else {
                            state.last_finished_at = Some(at);
                            out.derived.push(Derived {
                                slot: SLOT_CYCLE,
                                kind: ObservationKind::Consumed,
                                amount: washer.dose,
                                at,
                            });
                        }
                    }
                }
                Signal::IdosFillLevelPoor(tank, true) => out.derived.push(Derived {
                    slot: if *tank == 1 { SLOT_IDOS1 } else { SLOT_IDOS2 },
                    kind: ObservationKind::Level,
                    // The engine sets the item's low level (min-level or 0).
                    amount: 0.0,
                    at,
                }),
                _ => {}
            }
        }
        return out;
    }
    if let Some(params) = &device.scale {
        let scale = state.scale.get_or_insert_with(ScaleState::default);
        for signal in &reading.signals {
            if let Signal::Weight(kg) = signal {
                let o = scale.reading(params, *kg, at);
                if o.lifted {
                    out.counters.push("scale_lifted");
                }
                if o.stale {
                    out.counters.push("readings_stale");
                }
                out.derived.extend(o.derived);
            }
        }
    }
    if let Some(params) = &device.washer {
        let power = reading.signals.iter().find_map(|s| match s {
            Signal::Power(w) => Some(*w),
            _ => None,
        });
        let relay = reading.signals.iter().find_map(|s| match s {
            Signal::Relay(on) => Some(*on),
            _ => None,
        });
        if power.is_some() || relay.is_some() {
            let washer = state.washer.get_or_insert_with(WasherState::default);
            let o = washer.reading(params, power, relay, at);
            washer_counters(&o, &mut out);
            out.derived.extend(o.derived);
        }
    }
    out
}

/// Confirms time-based transitions at `now` (a washer whose power stayed
/// low for the stop hold). `None` if nothing could change (no state saved).
pub fn tick(device: &Device, state: &mut DeviceState, now: i64) -> Option<Applied> {
    let params = device.washer.as_ref()?;
    let washer = state.washer.as_mut().filter(|w| w.waiting())?;
    let o = washer.tick(params, now);
    let mut out = Applied::default();
    washer_counters(&o, &mut out);
    out.derived.extend(o.derived);
    Some(out)
}

fn washer_counters(o: &WasherOutcome, out: &mut Applied) {
    if o.too_short {
        out.counters.push("washer_cycles_too_short");
    }
    if o.aborted {
        out.counters.push("washer_cycles_aborted");
    }
    if o.stale {
        out.counters.push("readings_stale");
    }
    if !o.derived.is_empty() {
        out.counters.push("washer_cycles");
    }
}

/// The observation sequence number for an adapter observation (stored
/// with epoch 0): derived from its identity, so a redelivered payload with
/// a device timestamp stores nothing twice.
pub fn derived_seq(slot: &str, kind: ObservationKind, at: i64) -> u64 {
    let kind = match kind {
        ObservationKind::Level => "level",
        ObservationKind::Consumed => "consumed",
        ObservationKind::Added => "added",
        ObservationKind::Removed => "removed",
    };
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{slot}\u{0}{kind}\u{0}{at}").as_bytes(),
    );
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    // Stored as a signed SQLite integer: keep it positive.
    u64::from_be_bytes(first) >> 1
}
