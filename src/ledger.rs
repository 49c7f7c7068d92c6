//! The tamper-evident ledger: an append-only, hash-chained record of every
//! message larder lets out and every approval decision it takes.
//!
//! Each entry is `(seq, at, kind, body, body_sha256, prev_hash, hash)` where
//! `body` is compact JSON and
//!
//! ```text
//! hash = SHA-256(prev_hash ‖ canonical(entry))
//! canonical(entry) = "larder-ledger/1" ‖ seq (u64 BE) ‖ at (i64 BE)
//!                    ‖ len(kind) (u8) ‖ kind ‖ body_sha256
//! ```
//!
//! The chain commits to the body's *digest*, not the body: a future
//! `larder forget` can erase a body (set it NULL) and record a [`Kind::Forget`]
//! entry naming only the erased sequence numbers, and the chain still
//! verifies, while an erased body without such a record is reported as
//! tampering. The first entry's `prev_hash` is 32 zero bytes.
//!
//! Entries are appended by `store::Tx` in the transaction that makes the
//! change they record (outbox rows: `Tx::enqueue`, `Tx::mark_sent`,
//! `Tx::cancel_unsent`; decisions: the engine via `Tx::ledger_append`), so
//! the ledger and the state it describes cannot disagree after a crash.
//! Bodies never carry raw sensor data.

use crate::crypto::keys;
use serde::{Deserialize, Serialize};

/// Domain tag at the start of every canonical encoding (versions the format).
const DOMAIN: &[u8] = b"larder-ledger/1";

/// `prev_hash` of the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// What an entry records. The stored name is [`Kind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A message was queued to leave larder (an outbox row): body [`Outbound`].
    Outbound,
    /// The broker acknowledged a queued message: body [`Published`].
    Published,
    /// A queued message was withdrawn before it left: body [`Withdrawn`].
    Withdrawn,
    /// An approval decision (rule, member, expiry, shop): body [`DecisionEntry`].
    Decision,
    /// Data was forgotten; names only erased entry numbers: body [`Forget`].
    /// Reserved for `larder forget` (not yet implemented).
    Forget,
    /// A member paused, resumed or declared guests: body [`PresenceEntry`].
    Presence,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Outbound,
        Kind::Published,
        Kind::Withdrawn,
        Kind::Decision,
        Kind::Forget,
        Kind::Presence,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Outbound => "outbound",
            Kind::Published => "published",
            Kind::Withdrawn => "withdrawn",
            Kind::Decision => "decision",
            Kind::Forget => "forget",
            Kind::Presence => "presence",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Body of [`Kind::Outbound`]: a message queued for the relay, with its
/// exact payload (what leaves is exactly what is recorded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outbound {
    /// Outbox row id.
    pub outbox: i64,
    /// `approval_request`, `approval_clear` or `intent`.
    pub message: String,
    /// MQTT topic.
    pub topic: String,
    /// Published retained.
    pub retain: bool,
    /// The intent it concerns.
    pub intent: Option<String>,
    /// Not published before (Unix seconds).
    pub not_before: i64,
    /// Payload size in bytes.
    pub payload_bytes: usize,
    /// SHA-256 of the payload, hex.
    pub payload_sha256: String,
    /// The payload, hex.
    pub payload: String,
}

/// Body of [`Kind::Published`]: the broker acknowledged an outbox row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Published {
    /// Outbox row id.
    pub outbox: i64,
    /// `approval_request`, `approval_clear` or `intent`.
    pub message: String,
    /// MQTT topic.
    pub topic: String,
    /// The intent it concerns.
    pub intent: Option<String>,
    /// SHA-256 of the payload that left, hex.
    pub payload_sha256: String,
}

/// Body of [`Kind::Withdrawn`]: an outbox row dropped before it was sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Withdrawn {
    /// Outbox row id.
    pub outbox: i64,
    /// `approval_request`, `approval_clear` or `intent`.
    pub message: String,
    /// The intent it concerned.
    pub intent: Option<String>,
    /// SHA-256 of the payload that never left, hex.
    pub payload_sha256: String,
}

/// The verdict of a [`DecisionEntry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The rules approved it without asking.
    AutoApproved,
    /// The rules held it for the household's approval.
    Asked,
    /// The rules refused it.
    Refused,
    /// A member's signed approval was accepted (may not be the quorum yet).
    MemberApproved,
    /// A member's signed denial was accepted; the intent is denied.
    MemberDenied,
    /// Enough members approved; the intent is approved.
    Approved,
    /// Nobody answered before the request expired.
    Expired,
    /// The shop accepted the order.
    ShopAccepted,
    /// The shop delivered the order.
    ShopDelivered,
    /// The shop rejected the order.
    ShopRejected,
    /// The shop quoted a price within the ceiling for the same product.
    ShopQuoted,
    /// The price guard held it (quote above the ceiling or another product).
    PriceHeld,
    /// A member cancelled it inside the cancellation window.
    MemberCancelled,
}

impl Outcome {
    /// The stored name (as in the JSON body).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::AutoApproved => "auto_approved",
            Outcome::Asked => "asked",
            Outcome::Refused => "refused",
            Outcome::MemberApproved => "member_approved",
            Outcome::MemberDenied => "member_denied",
            Outcome::Approved => "approved",
            Outcome::Expired => "expired",
            Outcome::ShopAccepted => "shop_accepted",
            Outcome::ShopDelivered => "shop_delivered",
            Outcome::ShopRejected => "shop_rejected",
            Outcome::ShopQuoted => "shop_quoted",
            Outcome::PriceHeld => "price_held",
            Outcome::MemberCancelled => "member_cancelled",
        }
    }
}

/// Body of [`Kind::Decision`]: who or what decided about an intent, and why.
/// Carries rule names and their figures (cost, budget), never readings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionEntry {
    /// Intent id.
    pub intent: String,
    /// Item id.
    pub item: String,
    /// What was decided.
    pub verdict: Outcome,
    /// `rule:<name>`, `member:<name>`, `ha:<approver>` (a trusted Home
    /// Assistant press), `members`, `expiry` or `shop`.
    pub by: String,
    /// Whole packages.
    pub packages: u32,
    /// Most the order may cost.
    pub price_ceiling: f64,
    /// ISO 4217 currency.
    pub currency: String,
    /// The rules' reasons (`rule: text`), for rule decisions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// SHA-256 of the member's signed reply (hex), for member decisions;
    /// of every approving reply for [`Outcome::Approved`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replies: Vec<String>,
}

/// Body of [`Kind::Forget`] (reserved for `larder forget`): that a forget
/// happened and which entries' bodies it erased, never what they held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forget {
    /// `item` or `household`; never the item's id.
    pub scope: String,
    /// Sequence numbers of the entries whose bodies were erased.
    pub redacted: Vec<i64>,
}

/// Body of [`Kind::Presence`]: who changed the household's presence, how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresenceEntry {
    /// The member who signed the command, or `schedule` for a timed resume.
    pub by: String,
    /// `pause`, `resume` or `guests`.
    pub command: String,
    /// Pause end or guests' departure (Unix seconds), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    /// Guests' consumption factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<f64>,
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    out
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    keys::to_hex(&sha256(bytes))
}

/// `hash = SHA-256(prev_hash ‖ canonical(entry))`, see the module docs.
pub fn entry_hash(prev_hash: &[u8], seq: i64, at: i64, kind: &str, body_sha256: &[u8]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(prev_hash);
    ctx.update(DOMAIN);
    ctx.update(&(seq as u64).to_be_bytes());
    ctx.update(&at.to_be_bytes());
    // Kind names are short ASCII (at most 255 bytes by construction).
    let kind = &kind.as_bytes()[..kind.len().min(255)];
    ctx.update(&[kind.len() as u8]);
    ctx.update(kind);
    ctx.update(body_sha256);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Why verification stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No entry with this number, though a later one exists (deleted).
    Missing {
        /// The next entry that is stored.
        next: i64,
    },
    /// `prev_hash` is not the hash of the previous entry (reordered,
    /// inserted or an earlier entry rewritten).
    BrokenLink,
    /// The body does not match its digest (edited).
    BodyEdited,
    /// The entry's fields do not match its hash (seq, time, kind or digest edited).
    HashMismatch,
    /// The body was erased but no forget entry accounts for it.
    ErasedWithoutForget,
    /// The kind is not one this larder writes.
    UnknownKind(String),
    /// A forget entry's body is not a valid forget record.
    BadForget(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing { next } => {
                write!(f, "missing (deleted?); the next stored entry is {next}")
            }
            Problem::BrokenLink => write!(
                f,
                "prev_hash does not match the previous entry (entries reordered, inserted or rewritten)"
            ),
            Problem::BodyEdited => write!(f, "body does not match its SHA-256 (edited)"),
            Problem::HashMismatch => write!(
                f,
                "hash does not match the entry (seq, time, kind or body digest edited)"
            ),
            Problem::ErasedWithoutForget => {
                write!(f, "body erased but no forget entry records it")
            }
            Problem::UnknownKind(kind) => write!(f, "unknown kind {kind:?}"),
            Problem::BadForget(why) => write!(f, "forget record is malformed: {why}"),
        }
    }
}

/// The first bad entry found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// Its sequence number.
    pub seq: i64,
    /// What is wrong with it.
    pub problem: Problem,
}

/// A chain that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Number of entries.
    pub entries: u64,
    /// Hash of the last entry (`GENESIS` when empty).
    pub head: [u8; 32],
    /// Entries whose body a recorded forget erased.
    pub redacted: u64,
    /// Whether the optional expected head was found in the chain.
    pub anchor_found: bool,
}

/// Checks entries in stored order, one at a time (memory stays bounded
/// except for the numbers of erased bodies awaiting their forget record).
#[derive(Debug)]
pub struct Verifier {
    expected_seq: i64,
    prev: [u8; 32],
    unaccounted: Vec<i64>,
    redacted: u64,
    anchor: Option<[u8; 32]>,
    anchor_found: bool,
}

impl Verifier {
    /// A verifier; `anchor` is a head recorded earlier that must still be in
    /// the chain (detects a rewritten or truncated tail).
    pub fn new(anchor: Option<[u8; 32]>) -> Verifier {
        Verifier {
            expected_seq: 1,
            prev: GENESIS,
            unaccounted: Vec::new(),
            redacted: 0,
            anchor,
            anchor_found: false,
        }
    }

    /// Checks the next entry.
    pub fn check(&mut self, row: &LedgerRow) -> Result<(), Broken> {
        let bad = |problem| Broken {
            seq: row.seq.min(self.expected_seq),
            problem,
        };
        if row.seq != self.expected_seq {
            return Err(bad(Problem::Missing { next: row.seq }));
        }
        if row.prev_hash != self.prev {
            return Err(bad(Problem::BrokenLink));
        }
        let Some(kind) = Kind::parse(&row.kind) else {
            return Err(bad(Problem::UnknownKind(row.kind.clone())));
        };
        match &row.body {
            Some(body) if sha256(body.as_bytes()) != row.body_sha256.as_slice() => {
                return Err(bad(Problem::BodyEdited));
            }
            Some(_) => {}
            None => self.unaccounted.push(row.seq),
        }
        let hash = entry_hash(&row.prev_hash, row.seq, row.at, &row.kind, &row.body_sha256);
        if hash != row.hash.as_slice() {
            return Err(bad(Problem::HashMismatch));
        }
        if kind == Kind::Forget {
            let Some(body) = &row.body else {
                return Err(bad(Problem::BadForget("its body is erased".into())));
            };
            let forget: Forget =
                serde_json::from_str(body).map_err(|e| bad(Problem::BadForget(e.to_string())))?;
            let before = self.unaccounted.len();
            // A household forget lists every entry: look them up in a set.
            let listed: std::collections::HashSet<i64> = forget.redacted.into_iter().collect();
            self.unaccounted.retain(|s| !listed.contains(s));
            self.redacted += (before - self.unaccounted.len()) as u64;
        }
        if self.anchor == Some(hash) {
            self.anchor_found = true;
        }
        self.prev = hash;
        self.expected_seq += 1;
        Ok(())
    }

    /// Ends verification after the last entry.
    pub fn finish(self) -> Result<Verified, Broken> {
        if let Some(&seq) = self.unaccounted.first() {
            return Err(Broken {
                seq,
                problem: Problem::ErasedWithoutForget,
            });
        }
        Ok(Verified {
            entries: (self.expected_seq - 1) as u64,
            head: self.prev,
            redacted: self.redacted,
            anchor_found: self.anchor_found,
        })
    }
}

/// One ledger entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerRow {
    /// Sequence number, from 1, without gaps.
    pub seq: i64,
    /// When it was appended (Unix seconds).
    pub at: i64,
    /// `Kind` name.
    pub kind: String,
    /// Compact JSON body; `None` once a recorded forget erased it.
    pub body: Option<String>,
    /// SHA-256 of the body bytes.
    pub body_sha256: Vec<u8>,
    /// Hash of the previous entry (zeros for the first).
    pub prev_hash: Vec<u8>,
    /// SHA-256(prev_hash ‖ canonical entry).
    pub hash: Vec<u8>,
}

/// One line for `larder ledger show`: what the entry says, without the payload.
pub fn summary(row: &LedgerRow) -> String {
    let Some(body) = &row.body else {
        return "[body erased by a forget]".into();
    };
    let short = |hex: &str| hex.get(..12).unwrap_or(hex).to_owned();
    let intent = |id: &Option<String>| {
        id.as_deref()
            .map_or(String::new(), |i| format!(" intent {}", short(i)))
    };
    match Kind::parse(&row.kind) {
        Some(Kind::Outbound) => match serde_json::from_str::<Outbound>(body) {
            Ok(b) => format!(
                "{} queued for {}{} ({} bytes, sha256 {}){}",
                b.message,
                b.topic,
                if b.retain { " [retained]" } else { "" },
                b.payload_bytes,
                short(&b.payload_sha256),
                intent(&b.intent)
            ),
            Err(_) => body.clone(),
        },
        Some(Kind::Published) => match serde_json::from_str::<Published>(body) {
            Ok(b) => format!(
                "{} published on {} (sha256 {}){}",
                b.message,
                b.topic,
                short(&b.payload_sha256),
                intent(&b.intent)
            ),
            Err(_) => body.clone(),
        },
        Some(Kind::Withdrawn) => match serde_json::from_str::<Withdrawn>(body) {
            Ok(b) => format!(
                "{} withdrawn before sending (sha256 {}){}",
                b.message,
                short(&b.payload_sha256),
                intent(&b.intent)
            ),
            Err(_) => body.clone(),
        },
        Some(Kind::Decision) => match serde_json::from_str::<DecisionEntry>(body) {
            Ok(b) => format!(
                "{} {} × {} (≤ {:.2} {}) by {}{}",
                b.verdict.as_str(),
                b.packages,
                b.item,
                b.price_ceiling,
                b.currency,
                b.by,
                intent(&Some(b.intent.clone()))
            ),
            Err(_) => body.clone(),
        },
        Some(Kind::Forget) => match serde_json::from_str::<Forget>(body) {
            Ok(b) => format!(
                "forget ({}): {} entries' bodies erased",
                b.scope,
                b.redacted.len()
            ),
            Err(_) => body.clone(),
        },
        Some(Kind::Presence) => match serde_json::from_str::<PresenceEntry>(body) {
            Ok(b) => format!(
                "{} by {}{}{}",
                b.command,
                b.by,
                b.factor.map_or(String::new(), |f| format!(" ×{f}")),
                b.until.map_or(String::new(), |u| format!(" until {u}"))
            ),
            Err(_) => body.clone(),
        },
        None => body.clone(),
    }
}
