//! Household control messages (pause, resume, guests, cancel, forget):
//! COSE_Sign1 signed by a member's Ed25519 key, like approval replies, so
//! nobody on the LAN can stop or skew the household's orders without a
//! member's key.
//!
//! Replay protection is the engine's: a member's `iat` must be newer than the
//! last control message accepted from that member.

use crate::crypto::keys::SigningKey;
use crate::protocol::approval::{ReplyError, open_member_signed};
use crate::protocol::cbor::{CborFields, cbor_i64, cbor_text};
use crate::protocol::cose::sign1;

#[cfg(test)]
mod tests;

/// Largest control message accepted, in bytes (checked before parsing).
pub const MAX_CONTROL_BYTES: usize = 2048;

/// COSE external AAD prefix binding a control message to one hub.
pub const AAD_PREFIX: &str = "larder-control-v1:";

/// Longest member or hub name accepted in a control message.
const NAME_MAX_BYTES: usize = 128;

/// What a forget erases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForgetScope {
    /// Everything held about one item (by id).
    Item(String),
    /// Everything held about the household.
    Household,
}

/// What a member asks.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlCommand {
    /// The household is away: stop learning and ordering, until `until`
    /// (Unix seconds) or a `Resume`.
    Pause {
        /// Automatic resume time, if any.
        until: Option<i64>,
    },
    /// The household is back.
    Resume,
    /// Guests: expect `factor` times the usual consumption until `until`.
    Guests {
        /// Consumption multiplier (> 1; 1 clears).
        factor: f64,
        /// Unix seconds.
        until: i64,
    },
    /// Cancel an approved intent inside the cancellation window.
    Cancel {
        /// The intent id (32 hex digits).
        intent: String,
    },
    /// Erase what larder holds about an item or the whole household,
    /// irreversibly (executed by the daemon's writer, see `forget`).
    Forget(ForgetScope),
}

/// The signed content of a control message.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlClaims {
    /// Hub id.
    pub hub: String,
    /// Member name (also the COSE `kid`).
    pub member: String,
    /// The command.
    pub command: ControlCommand,
    /// When the member signed, in Unix **milliseconds**; must increase per
    /// member (this is the replay protection, so two commands signed within
    /// the same second still both count).
    pub issued_at: i64,
}

fn aad(hub: &str) -> Vec<u8> {
    format!("{AAD_PREFIX}{hub}").into_bytes()
}

/// Signs a control message as COSE_Sign1 (tagged), kid = member name.
pub fn sign_control(key: &SigningKey, claims: &ControlClaims) -> Vec<u8> {
    use ciborium::Value;
    let mut map = vec![
        (Value::Text("hub".into()), Value::Text(claims.hub.clone())),
        (
            Value::Text("member".into()),
            Value::Text(claims.member.clone()),
        ),
        (
            Value::Text("iat".into()),
            Value::Integer(claims.issued_at.into()),
        ),
    ];
    let (name, extra): (&str, Vec<(Value, Value)>) = match &claims.command {
        ControlCommand::Pause { until } => (
            "pause",
            until
                .map(|u| vec![(Value::Text("until".into()), Value::Integer(u.into()))])
                .unwrap_or_default(),
        ),
        ControlCommand::Forget(ForgetScope::Item(item)) => (
            "forget",
            vec![
                (Value::Text("scope".into()), Value::Text("item".into())),
                (Value::Text("item".into()), Value::Text(item.clone())),
            ],
        ),
        ControlCommand::Forget(ForgetScope::Household) => (
            "forget",
            vec![(Value::Text("scope".into()), Value::Text("household".into()))],
        ),
        ControlCommand::Resume => ("resume", Vec::new()),
        ControlCommand::Guests { factor, until } => (
            "guests",
            vec![
                (Value::Text("factor".into()), Value::Float(*factor)),
                (Value::Text("until".into()), Value::Integer((*until).into())),
            ],
        ),
        ControlCommand::Cancel { intent } => (
            "cancel",
            vec![(Value::Text("intent".into()), Value::Text(intent.clone()))],
        ),
    };
    map.push((Value::Text("command".into()), Value::Text(name.into())));
    map.extend(extra);
    let payload = crate::protocol::cbor::cbor_to_vec(&Value::Map(map));
    sign1(key, claims.member.as_bytes(), payload, &aad(&claims.hub))
}

/// Decodes a control message and verifies it against the member named by
/// its `kid` (`member_key` returns the key and may-approve flag; only
/// members who may approve may control the household's orders).
pub fn open_control(
    bytes: &[u8],
    hub: &str,
    member_key: impl Fn(&str) -> Option<([u8; 32], bool)>,
) -> Result<ControlClaims, ReplyError> {
    let (kid, payload) = open_member_signed(bytes, MAX_CONTROL_BYTES, &aad(hub), member_key)?;
    let claims = decode(&payload).map_err(ReplyError::Malformed)?;
    if claims.member != kid {
        return Err(ReplyError::Malformed(
            "member does not match key id".to_owned(),
        ));
    }
    if claims.hub != hub {
        return Err(ReplyError::Malformed(format!(
            "control message is for hub {:?}, not {hub:?}",
            claims.hub
        )));
    }
    Ok(claims)
}

fn decode(payload: &[u8]) -> Result<ControlClaims, String> {
    let mut fields = CborFields::decode(payload)?;
    let hub = cbor_text("hub", fields.take("hub")?, NAME_MAX_BYTES)?;
    let member = cbor_text("member", fields.take("member")?, NAME_MAX_BYTES)?;
    let issued_at = cbor_i64("iat", fields.take("iat")?)?;
    let name = cbor_text("command", fields.take("command")?, 16)?;
    let command = match name.as_str() {
        "pause" => ControlCommand::Pause {
            until: match fields.take("until") {
                Ok(v) => Some(cbor_i64("until", v)?),
                Err(_) => None,
            },
        },
        "resume" => ControlCommand::Resume,
        "forget" => {
            let scope = cbor_text("scope", fields.take("scope")?, 16)?;
            match scope.as_str() {
                "household" => ControlCommand::Forget(ForgetScope::Household),
                "item" => {
                    let item = cbor_text("item", fields.take("item")?, NAME_MAX_BYTES)?;
                    if item.is_empty() {
                        return Err("item must not be empty".to_owned());
                    }
                    ControlCommand::Forget(ForgetScope::Item(item))
                }
                other => {
                    return Err(format!(
                        "unknown forget scope {:?} (item, household)",
                        crate::protocol::cbor::clip(other)
                    ));
                }
            }
        }
        "guests" => {
            let factor = match fields.take("factor")? {
                ciborium::Value::Float(f) if f.is_finite() && (1.0..=20.0).contains(&f) => f,
                ciborium::Value::Integer(i) => {
                    let i = i64::try_from(i).map_err(|_| "factor out of range".to_owned())?;
                    if (1..=20).contains(&i) {
                        i as f64
                    } else {
                        return Err("factor must be between 1 and 20".to_owned());
                    }
                }
                _ => return Err("factor must be a number between 1 and 20".to_owned()),
            };
            let until = cbor_i64("until", fields.take("until")?)?;
            ControlCommand::Guests { factor, until }
        }
        "cancel" => {
            let intent = cbor_text("intent", fields.take("intent")?, 64)?;
            if intent.len() != 32 || !intent.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err("intent must be 32 hex digits".to_owned());
            }
            ControlCommand::Cancel { intent }
        }
        other => {
            return Err(format!(
                "unknown command {:?}",
                crate::protocol::cbor::clip(other)
            ));
        }
    };
    fields.finish()?;
    Ok(ControlClaims {
        hub,
        member,
        command,
        issued_at,
    })
}
