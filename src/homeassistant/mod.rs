//! Home Assistant MQTT discovery: what larder announces and publishes so it
//! shows up in Home Assistant without any YAML.
//!
//! One device-based discovery document (`<prefix>/device/larder_<hub>/config`,
//! retained) carries every component: per item a level sensor, a days-left
//! sensor and the next planned order; a pending-approvals sensor with the
//! list as attributes; an event entity for order events; and, only with
//! `homeassistant.trusted-approvals`, an approve and a deny button per
//! pending request. Availability is larder's own retained status topic
//! (`larder/<hub>/status`, set by the last will).
//!
//! Everything here is pure (configuration + a [`Snapshot`] + time in,
//! messages out) except [`read_snapshot`], which only reads the store. The
//! network side is `ha_link`. Facts about Home Assistant's schema are from
//! `/work/shared/notes/ecosystem.md` §1 (HA 2026.2.3), and the unit tests
//! check every payload against a port of those rules.

use crate::config::{Config, Item};
use crate::core::DAY;
use crate::core::forecast::{self, ItemState};
use crate::ledger;
use crate::ledger::LedgerRow;
use crate::store::{self, IntentRow, IntentState, Reader};
use crate::text::short;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

/// Most order events a snapshot carries (the newest); the publisher sends
/// those it has not sent yet. A decision pass over a large household asks
/// for hundreds of orders at once, and every one is an event.
pub const MAX_RECENT_EVENTS: usize = 1024;

/// Most ledger entries one snapshot read scans for order events (the
/// newest after the last read; an order event is one entry of several).
pub const MAX_LEDGER_SCAN: u32 = 4096;

/// Most removal stubs kept in the discovery document (and most removed
/// items whose retained state is cleared at once).
pub const MAX_REMOVAL_STUBS: usize = 256;

/// Most components taken from the retained document read back at start
/// (three per item and two per pending request: far above a real
/// household; a forged document cannot make larder work through more).
pub const MAX_READ_BACK_COMPONENTS: usize = 8192;

/// Every `event_type` the order-events entity can carry.
pub const ORDER_EVENT_TYPES: [&str; 11] = [
    "order_requested",
    "order_approved",
    "order_denied",
    "order_refused",
    "order_expired",
    "order_sent",
    "order_cancelled",
    "order_held",
    "order_accepted",
    "order_delivered",
    "order_rejected",
];

/// The payload of a button press (Home Assistant's default `payload_press`).
pub const PRESS_PAYLOAD: &str = "PRESS";

/// Which button was pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Press {
    /// The approve button of a request.
    Approve,
    /// The deny button of a request.
    Deny,
}

impl Press {
    /// The topic segment and component key prefix (`approve`, `deny`).
    pub fn as_str(self) -> &'static str {
        match self {
            Press::Approve => "approve",
            Press::Deny => "deny",
        }
    }
}

/// The topics of the Home Assistant integration, derived from the
/// configuration.
#[derive(Debug, Clone)]
pub struct HaTopics {
    /// The device discovery topic (retained document).
    pub discovery: String,
    /// Home Assistant's birth/will topic (`online`/`offline`).
    pub birth: String,
    /// larder's retained `online`/`offline` status (availability).
    pub availability: String,
    base: String,
}

impl HaTopics {
    /// Topics for a configuration.
    pub fn new(config: &Config) -> HaTopics {
        let hub = &config.hub.id;
        let ha = &config.homeassistant;
        HaTopics {
            discovery: format!("{}/device/{}/config", ha.discovery_prefix, node_id(config)),
            birth: ha.status_topic.clone(),
            availability: format!("larder/{hub}/status"),
            base: format!("larder/{hub}/ha"),
        }
    }

    /// An item's state (retained JSON: level, days left, next order).
    pub fn item_state(&self, item: &str) -> String {
        format!("{}/items/{item}", self.base)
    }

    /// The number of pending approval requests (retained).
    pub fn pending(&self) -> String {
        format!("{}/pending", self.base)
    }

    /// The pending requests as attributes (retained JSON object).
    pub fn pending_attributes(&self) -> String {
        format!("{}/pending/attributes", self.base)
    }

    /// Order events (not retained: Home Assistant's event entity ignores
    /// retained messages).
    pub fn events(&self) -> String {
        format!("{}/events", self.base)
    }

    /// A button's command topic.
    pub fn press(&self, press: Press, intent: &str) -> String {
        format!("{}/{}/{intent}", self.base, press.as_str())
    }

    /// Subscription filters for button presses.
    pub fn press_filters(&self) -> Vec<String> {
        [Press::Approve, Press::Deny]
            .iter()
            .map(|p| format!("{}/{}/+", self.base, p.as_str()))
            .collect()
    }

    /// The button and intent id of a press topic, if `topic` is one.
    pub fn parse_press<'t>(&self, topic: &'t str) -> Option<(Press, &'t str)> {
        let rest = topic.strip_prefix(self.base.as_str())?.strip_prefix('/')?;
        let (kind, intent) = rest.split_once('/')?;
        let press = match kind {
            "approve" => Press::Approve,
            "deny" => Press::Deny,
            _ => return None,
        };
        (!intent.is_empty() && !intent.contains('/')).then_some((press, intent))
    }
}

/// The discovery node id: `larder_<hub>` (`[a-zA-Z0-9_-]`, as the hub id).
pub fn node_id(config: &Config) -> String {
    format!("larder_{}", config.hub.id)
}

/// What Home Assistant is shown, read from larder's state at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// One per configured item, in configuration order.
    pub items: Vec<ItemView>,
    /// Requests waiting for the household (prompted, not expired).
    pub pending: Vec<PendingView>,
    /// The newest order events (at most [`MAX_RECENT_EVENTS`]), oldest first.
    pub events: Vec<OrderEvent>,
}

/// An item as Home Assistant shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemView {
    /// Item id.
    pub id: String,
    /// Forecast level now, in the item's unit (2 decimals).
    pub level: Option<f64>,
    /// Forecast days until it runs out (1 decimal).
    pub days_left: Option<f64>,
    /// The next order: the open intent, or when larder expects to order.
    pub next_order: NextOrder,
}

/// The next order of an item.
#[derive(Debug, Clone, PartialEq)]
pub struct NextOrder {
    /// When: the open intent's prompt or creation time, or the estimated
    /// time the forecast reaches the reorder level (to the minute).
    pub at: Option<i64>,
    /// `planned`, `none`, or the open intent's state (`awaiting_approval`,
    /// `approved`, `sent`, `accepted`).
    pub status: String,
    /// The open intent's id.
    pub intent: Option<String>,
    /// The open intent's packages.
    pub packages: Option<u32>,
}

/// A pending approval request.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingView {
    /// Intent id.
    pub intent: String,
    /// Item id.
    pub item: String,
    /// Item display name.
    pub item_name: String,
    /// Whole packages.
    pub packages: u32,
    /// Quantity in the item's unit.
    pub quantity: f64,
    /// The item's unit.
    pub unit: String,
    /// Most the order may cost.
    pub price_ceiling: f64,
    /// ISO 4217 currency.
    pub currency: String,
    /// When the request expires (Unix seconds).
    pub expires_at: Option<i64>,
    /// Approvals needed.
    pub approvals_required: u32,
    /// Approvals received so far.
    pub approvals: u32,
}

/// An order event, from a ledger entry.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderEvent {
    /// The ledger entry's sequence number (orders events, never repeats).
    pub seq: i64,
    /// One of [`ORDER_EVENT_TYPES`].
    pub event_type: &'static str,
    /// Intent id.
    pub intent: String,
    /// Item id (empty if the intent is no longer known).
    pub item: String,
    /// Whole packages.
    pub packages: u32,
    /// Who or what decided (`rule:…`, `member:…`, `ha:…`, `shop`, …).
    pub by: String,
    /// When (Unix seconds).
    pub at: i64,
}

/// An MQTT message to publish (QoS 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// Retain flag.
    pub retain: bool,
}

// ---------------------------------------------------------------------------
// Reading the snapshot (read-only store access; the only IO in this module).

/// Reads what Home Assistant is shown at `now`, with the order events of
/// ledger entries after `since_seq` (of at most [`MAX_LEDGER_SCAN`], the
/// newest) as its events. Returns it with the newest ledger seq seen.
pub fn read_snapshot(
    config: &Config,
    read: &Reader<'_>,
    now: i64,
    since_seq: i64,
) -> store::Result<(Snapshot, i64)> {
    let mut items = Vec::with_capacity(config.items.len());
    for item in &config.items {
        let state = read.item_state(&item.id)?;
        let open = read.open_intent(&item.id)?;
        items.push(item_view(item, state.as_ref(), open.as_ref(), now));
    }
    let mut pending = Vec::new();
    for row in read.intents_in_state(IntentState::AwaitingApproval)? {
        let approvals = read
            .approvals(&row.id)?
            .iter()
            .filter(|a| a.verdict == "approve")
            .count() as u32;
        if let Some(view) = pending_view(config, &row, approvals, now) {
            pending.push(view);
        }
    }
    let head = read.ledger_head()?.map_or(0, |(seq, _)| seq);
    let mut events = Vec::new();
    if head > since_seq {
        let fetch = (head - since_seq).min(i64::from(MAX_LEDGER_SCAN)) as u32;
        let mut items_of: HashMap<String, (String, u32)> = HashMap::new();
        for row in read.ledger_recent(fetch)? {
            if row.seq <= since_seq {
                continue;
            }
            if let Some(mut event) = order_event(&row) {
                if event.item.is_empty() {
                    // A sent intent: the ledger's publish entry names only the intent.
                    if !items_of.contains_key(&event.intent) {
                        if let Some(intent) = read.intent(&event.intent)? {
                            items_of.insert(event.intent.clone(), (intent.item, intent.packages));
                        }
                    }
                    if let Some((item, packages)) = items_of.get(&event.intent) {
                        event.item = item.clone();
                        event.packages = *packages;
                    }
                }
                events.push(event);
            }
        }
    }
    let snapshot = Snapshot {
        items,
        pending,
        events,
    };
    Ok((snapshot, head.max(since_seq)))
}

// ---------------------------------------------------------------------------
// Pure views.

/// An item's view at `now`: forecast level and days left, and the next
/// order (the open intent, or when the forecast reaches the reorder level).
pub fn item_view(
    item: &Item,
    state: Option<&ItemState>,
    open: Option<&IntentRow>,
    now: i64,
) -> ItemView {
    let forecast = state.map(|s| forecast::forecast(&item.model, s, now));
    let level = forecast.as_ref().and_then(|f| f.level).map(|l| round(l, 2));
    let days_left = forecast
        .as_ref()
        .and_then(|f| f.days_left)
        .filter(|d| d.is_finite())
        .map(|d| round(d.max(0.0), 1));
    let next_order = match open {
        Some(intent) => NextOrder {
            at: Some(intent.prompt_at.unwrap_or(intent.created_at)),
            status: intent.state.as_str().to_owned(),
            intent: Some(intent.id.clone()),
            packages: Some(intent.packages),
        },
        None => {
            let planned = match (state, forecast.as_ref()) {
                (Some(state), Some(fc)) if fc.rate_per_day > 0.0 => fc.level.and_then(|level| {
                    let at = forecast::reorder_level(&item.model, state, level, now)?;
                    let days = ((level - at) / fc.rate_per_day).max(0.0);
                    let secs = (days * DAY as f64).min(3650.0 * DAY as f64);
                    Some((now + secs as i64) / 60 * 60)
                }),
                _ => None,
            };
            NextOrder {
                at: planned,
                status: if planned.is_some() { "planned" } else { "none" }.to_owned(),
                intent: None,
                packages: None,
            }
        }
    };
    ItemView {
        id: item.id.clone(),
        level,
        days_left,
        next_order,
    }
}

/// A request as listed, if it has been prompted and has not expired.
pub fn pending_view(
    config: &Config,
    row: &IntentRow,
    approvals: u32,
    now: i64,
) -> Option<PendingView> {
    if row.state != IntentState::AwaitingApproval
        || row.prompt_at.is_some_and(|at| at > now)
        || row.expires_at.is_some_and(|at| now > at)
    {
        return None;
    }
    let item = config.item(&row.item);
    Some(PendingView {
        intent: row.id.clone(),
        item: row.item.clone(),
        item_name: item.map_or_else(|| row.item.clone(), |i| i.name.clone()),
        packages: row.packages,
        quantity: row.quantity,
        unit: item.map_or_else(String::new, |i| i.unit.clone()),
        price_ceiling: row.price_ceiling,
        currency: row.currency.clone(),
        expires_at: row.expires_at,
        approvals_required: row.approvals_required,
        approvals,
    })
}

/// The order event a ledger entry stands for, if any (decisions and
/// published intents; partial member approvals and quotes are not events).
pub fn order_event(row: &LedgerRow) -> Option<OrderEvent> {
    let body = row.body.as_deref()?;
    match ledger::Kind::parse(&row.kind)? {
        ledger::Kind::Decision => {
            let decision: ledger::Decision = serde_json::from_str(body).ok()?;
            use ledger::Outcome;
            let event_type = match decision.verdict {
                Outcome::Asked => "order_requested",
                Outcome::AutoApproved | Outcome::Approved => "order_approved",
                Outcome::MemberDenied => "order_denied",
                Outcome::Refused => "order_refused",
                Outcome::Expired => "order_expired",
                Outcome::MemberCancelled => "order_cancelled",
                Outcome::PriceHeld => "order_held",
                Outcome::ShopAccepted => "order_accepted",
                Outcome::ShopDelivered => "order_delivered",
                Outcome::ShopRejected => "order_rejected",
                Outcome::MemberApproved | Outcome::ShopQuoted => return None,
            };
            Some(OrderEvent {
                seq: row.seq,
                event_type,
                intent: decision.intent,
                item: decision.item,
                packages: decision.packages,
                by: decision.by,
                at: row.at,
            })
        }
        ledger::Kind::Published => {
            let published: ledger::Published = serde_json::from_str(body).ok()?;
            if published.message != "intent" {
                return None;
            }
            Some(OrderEvent {
                seq: row.seq,
                event_type: "order_sent",
                intent: published.intent?,
                item: String::new(),
                packages: 0,
                by: "larder".into(),
                at: row.at,
            })
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Discovery.

/// The Home Assistant `device_class` and unit for an item's unit, where HA
/// has a device class whose units include it (`sensor/const.py`,
/// `DEVICE_CLASS_UNITS`); otherwise no device class and the unit as
/// configured.
pub fn level_class(unit: &str) -> (Option<&'static str>, String) {
    match unit {
        "kg" | "g" | "mg" | "lb" | "oz" => (Some("weight"), unit.to_owned()),
        "l" | "L" => (Some("volume_storage"), "L".to_owned()),
        "ml" | "mL" => (Some("volume_storage"), "mL".to_owned()),
        other => (None, other.to_owned()),
    }
}

/// A Home Assistant entity id object part: lower case, `[a-z0-9_]`.
fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The component key of one of an item's sensors (`item_<id>_<kind>`).
fn item_key(item: &str, kind: &str) -> String {
    format!("item_{item}_{kind}")
}

/// The item id of an item component key, if `key` is one (an id as
/// configuration allows: `[A-Za-z0-9_-]`, 1 to 64 characters).
fn item_of_key(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("item_")?;
    ["_level", "_days_left", "_next_order"]
        .iter()
        .find_map(|kind| rest.strip_suffix(kind))
        .filter(|id| is_ident(id, 64))
}

/// `[A-Za-z0-9_-]{1,max}`: what larder's ids (and so its keys and topic
/// segments) are made of.
fn is_ident(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `key` with `platform` is a component larder announces (read
/// back from the broker, the document may be anyone's).
fn is_own_component(key: &str, platform: &str) -> bool {
    match platform {
        "sensor" => key == "pending_approvals" || item_of_key(key).is_some(),
        "event" => key == "order_events",
        "button" => key
            .strip_prefix("approve_")
            .or_else(|| key.strip_prefix("deny_"))
            .is_some_and(|intent| is_ident(intent, 128)),
        _ => false,
    }
}

/// Every component larder announces for this configuration and state,
/// keyed by component key (stable; the unique id is `larder_<hub>_<key>`).
pub fn components(config: &Config, snapshot: &Snapshot) -> BTreeMap<String, Value> {
    let topics = HaTopics::new(config);
    let hub = &config.hub.id;
    let node = node_id(config);
    let unique = |key: &str| format!("{node}_{key}");
    let entity =
        |platform: &str, key: &str| format!("{platform}.{}", slug(&format!("{node}_{key}")));
    let mut out = BTreeMap::new();
    for item in &config.items {
        let state = topics.item_state(&item.id);
        let (device_class, unit) = level_class(&item.unit);
        let key = item_key(&item.id, "level");
        let mut level = json!({
            "p": "sensor",
            "name": format!("{} level", item.name),
            "uniq_id": unique(&key),
            "def_ent_id": entity("sensor", &key),
            "stat_t": state,
            "val_tpl": "{{ value_json.level }}",
            "unit_of_meas": unit,
            "stat_cla": "measurement",
            "ic": "mdi:fridge-outline",
        });
        if let Some(class) = device_class {
            level["dev_cla"] = json!(class);
            level.as_object_mut().map(|o| o.remove("ic"));
        }
        out.insert(key, level);
        let key = item_key(&item.id, "days_left");
        out.insert(
            key.clone(),
            json!({
                "p": "sensor",
                "name": format!("{} days left", item.name),
                "uniq_id": unique(&key),
                "def_ent_id": entity("sensor", &key),
                "stat_t": state,
                "val_tpl": "{{ value_json.days_left }}",
                "dev_cla": "duration",
                "unit_of_meas": "d",
                "stat_cla": "measurement",
            }),
        );
        let key = item_key(&item.id, "next_order");
        out.insert(
            key.clone(),
            json!({
                "p": "sensor",
                "name": format!("{} next order", item.name),
                "uniq_id": unique(&key),
                "def_ent_id": entity("sensor", &key),
                "stat_t": state,
                "val_tpl": "{{ value_json.next_order_at }}",
                "dev_cla": "timestamp",
                "json_attr_t": state,
                "json_attr_tpl": "{{ value_json.next_order | tojson }}",
            }),
        );
    }
    out.insert(
        "pending_approvals".into(),
        json!({
            "p": "sensor",
            "name": "Pending approvals",
            "uniq_id": unique("pending_approvals"),
            "def_ent_id": entity("sensor", "pending_approvals"),
            "stat_t": topics.pending(),
            "json_attr_t": topics.pending_attributes(),
            "stat_cla": "measurement",
            "ic": "mdi:cart-arrow-down",
        }),
    );
    out.insert(
        "order_events".into(),
        json!({
            "p": "event",
            "name": "Order events",
            "uniq_id": unique("order_events"),
            "def_ent_id": entity("event", "order_events"),
            "stat_t": topics.events(),
            "evt_typ": ORDER_EVENT_TYPES,
            "ic": "mdi:cart",
        }),
    );
    if config.homeassistant.trusted_approvals {
        for request in &snapshot.pending {
            for press in [Press::Approve, Press::Deny] {
                let key = format!("{}_{}", press.as_str(), request.intent);
                let verb = match press {
                    Press::Approve => "Approve",
                    Press::Deny => "Deny",
                };
                out.insert(
                    key.clone(),
                    json!({
                        "p": "button",
                        "name": format!("{verb} {} × {} ({})", request.packages, request.item_name, short(&request.intent)),
                        "uniq_id": unique(&key),
                        "def_ent_id": entity("button", &key),
                        "cmd_t": topics.press(press, &request.intent),
                        "pl_prs": PRESS_PAYLOAD,
                        "ic": match press { Press::Approve => "mdi:cart-check", Press::Deny => "mdi:cart-remove" },
                    }),
                );
            }
        }
    }
    let _ = hub;
    out
}

/// The device discovery document: `dev`, `o`, shared availability and QoS,
/// the components, and a `{"p": …}` stub for every component in `removed`
/// (key → platform) that is not announced any more.
pub fn discovery_document(
    config: &Config,
    components: &BTreeMap<String, Value>,
    removed: &BTreeMap<String, String>,
) -> Value {
    let mut cmps = Map::new();
    for (key, platform) in removed {
        if !components.contains_key(key) {
            cmps.insert(key.clone(), json!({ "p": platform }));
        }
    }
    for (key, component) in components {
        cmps.insert(key.clone(), component.clone());
    }
    document_with(config, Value::Object(cmps))
}

/// [`discovery_document`] as the JSON bytes published, written straight
/// from the components (no copy of them: for 200 items that copy was the
/// publisher's largest allocation). Same bytes as serialising the document.
pub fn discovery_bytes(
    config: &Config,
    components: &BTreeMap<String, Value>,
    removed: &BTreeMap<String, String>,
) -> Vec<u8> {
    /// The `cmps` object: stubs and components merged in key order, as a
    /// `serde_json::Map` would hold them.
    struct Cmps<'a> {
        components: &'a BTreeMap<String, Value>,
        removed: &'a BTreeMap<String, String>,
    }
    impl serde::Serialize for Cmps<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut entries: Vec<(&str, Option<&Value>, &str)> = self
                .removed
                .iter()
                .filter(|(key, _)| !self.components.contains_key(*key))
                .map(|(key, platform)| (key.as_str(), None, platform.as_str()))
                .chain(
                    self.components
                        .iter()
                        .map(|(k, c)| (k.as_str(), Some(c), "")),
                )
                .collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let mut map = serializer.serialize_map(Some(entries.len()))?;
            for (key, component, platform) in entries {
                match component {
                    Some(component) => map.serialize_entry(key, component)?,
                    None => map.serialize_entry(key, &json!({ "p": platform }))?,
                }
            }
            map.end()
        }
    }
    let placeholder = document_with(config, Value::Null);
    let mut out = Vec::with_capacity(1024 + components.len() * 400);
    let mut ser = serde_json::Serializer::new(&mut out);
    {
        use serde::ser::{SerializeMap, Serializer as _};
        let Value::Object(fields) = &placeholder else {
            unreachable!("the document is an object")
        };
        let result = (|| {
            let mut map = (&mut ser).serialize_map(Some(fields.len()))?;
            for (key, value) in fields {
                if key == "cmps" {
                    map.serialize_entry(
                        key,
                        &Cmps {
                            components,
                            removed,
                        },
                    )?;
                } else {
                    map.serialize_entry(key, value)?;
                }
            }
            map.end()
        })();
        result.expect("serialising to a Vec cannot fail");
    }
    out
}

/// The document around `cmps`.
fn document_with(config: &Config, cmps: Value) -> Value {
    let topics = HaTopics::new(config);
    let version = env!("CARGO_PKG_VERSION");
    json!({
        "dev": {
            "ids": [node_id(config)],
            "name": format!("larder {}", config.hub.id),
            "mf": "larder",
            "mdl": "larder restocking hub",
            "sw": version,
        },
        "o": {
            "name": "larder",
            "sw": version,
        },
        "avty_t": topics.availability,
        "qos": 1,
        "cmps": cmps,
    })
}

/// The discovery messages larder publishes for a configuration in a
/// fresh state (no pending requests): what `larder discovery` prints.
pub fn discovery_messages(config: &Config) -> Vec<Message> {
    if !config.homeassistant.enabled {
        return Vec::new();
    }
    let topics = HaTopics::new(config);
    let document = discovery_document(
        config,
        &components(config, &Snapshot::default()),
        &BTreeMap::new(),
    );
    vec![Message {
        topic: topics.discovery,
        payload: serde_json::to_vec(&document).unwrap_or_default(),
        retain: true,
    }]
}

// ---------------------------------------------------------------------------
// State.

/// Unix seconds as ISO 8601 UTC (what HA's timestamp sensor parses).
fn iso(at: i64) -> Value {
    jiff::Timestamp::from_second(at).map_or(Value::Null, |t| json!(t.to_string()))
}

fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

/// The retained state messages for a snapshot: one JSON document per
/// item, the pending count and the pending list.
pub fn state_messages(config: &Config, snapshot: &Snapshot) -> Vec<Message> {
    let topics = HaTopics::new(config);
    let mut out = Vec::with_capacity(snapshot.items.len() + 2);
    for view in &snapshot.items {
        let next = &view.next_order;
        let mut details = json!({ "status": next.status });
        if let Some(intent) = &next.intent {
            details["intent"] = json!(intent);
        }
        if let Some(packages) = next.packages {
            details["packages"] = json!(packages);
        }
        let payload = json!({
            "level": view.level,
            "days_left": view.days_left,
            "next_order_at": next.at.map_or(Value::Null, iso),
            "next_order": details,
        });
        out.push(Message {
            topic: topics.item_state(&view.id),
            payload: serde_json::to_vec(&payload).unwrap_or_default(),
            retain: true,
        });
    }
    out.push(Message {
        topic: topics.pending(),
        payload: snapshot.pending.len().to_string().into_bytes(),
        retain: true,
    });
    let requests: Vec<Value> = snapshot
        .pending
        .iter()
        .map(|p| {
            json!({
                "intent": p.intent,
                "item": p.item,
                "item_name": p.item_name,
                "packages": p.packages,
                "quantity": p.quantity,
                "unit": p.unit,
                "price_ceiling": p.price_ceiling,
                "currency": p.currency,
                "expires_at": p.expires_at.map_or(Value::Null, iso),
                "approvals": p.approvals,
                "approvals_required": p.approvals_required,
            })
        })
        .collect();
    out.push(Message {
        topic: topics.pending_attributes(),
        payload: serde_json::to_vec(&json!({ "requests": requests })).unwrap_or_default(),
        retain: true,
    });
    out
}

/// An order event as the event entity wants it: JSON with `event_type`,
/// never retained.
pub fn event_message(config: &Config, event: &OrderEvent) -> Message {
    let payload = json!({
        "event_type": event.event_type,
        "intent": event.intent,
        "item": event.item,
        "packages": event.packages,
        "by": event.by,
        "at": iso(event.at),
    });
    Message {
        topic: HaTopics::new(config).events(),
        payload: serde_json::to_vec(&payload).unwrap_or_default(),
        retain: false,
    }
}

// ---------------------------------------------------------------------------
// What to publish when.

/// Why the publisher is asked for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    /// (Re)connected to the broker: everything, discovery first.
    Connected,
    /// Home Assistant announced `online`: everything again, discovery first.
    HomeAssistantOnline,
    /// larder's state changed: what changed.
    Update,
}

/// The publisher's memory: what was announced and published, so it sends
/// discovery only when the components change, state only when it changed,
/// each event once, and removes what is no longer announced.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryPublisher {
    /// Component key → platform, as in the last document sent.
    announced: BTreeMap<String, String>,
    /// Removed components still carried as `{"p": …}` stubs.
    removed: BTreeMap<String, String>,
    last_document: Option<Vec<u8>>,
    /// What the last document was built from, beyond the configuration:
    /// the pending requests' buttons ([`component_inputs`]).
    last_inputs: Option<Vec<String>>,
    last_state: HashMap<String, Vec<u8>>,
    last_event_seq: i64,
}

impl DiscoveryPublisher {
    /// A publisher that knows the document retained at the broker from
    /// before (`previous`, if any): components in it that are not
    /// announced now will be removed, and its stubs are kept.
    pub fn new(previous: Option<&[u8]>) -> DiscoveryPublisher {
        let mut publisher = DiscoveryPublisher::default();
        let Some(document) = previous.and_then(|p| serde_json::from_slice::<Value>(p).ok()) else {
            return publisher;
        };
        let Some(cmps) = document.get("cmps").and_then(Value::as_object) else {
            return publisher;
        };
        let own = cmps.iter().filter_map(|(key, component)| {
            let platform = component.get("p").and_then(Value::as_str)?;
            is_own_component(key, platform).then_some((key, component, platform))
        });
        for (key, component, platform) in own.take(MAX_READ_BACK_COMPONENTS) {
            let stub = component.as_object().is_some_and(|o| o.len() == 1);
            let into = if stub {
                &mut publisher.removed
            } else {
                &mut publisher.announced
            };
            into.insert(key.clone(), platform.to_owned());
        }
        publisher
    }

    /// Components removed and still carried as stubs (key → platform).
    pub fn removed(&self) -> &BTreeMap<String, String> {
        &self.removed
    }

    /// The messages to publish now, in order: discovery (if due), then
    /// state (retained; all of it on `Connected`/`HomeAssistantOnline`,
    /// otherwise what changed), then order events not sent yet.
    pub fn messages(
        &mut self,
        config: &Config,
        snapshot: &Snapshot,
        occasion: Occasion,
    ) -> Vec<Message> {
        let topics = HaTopics::new(config);
        let everything = occasion != Occasion::Update;
        let mut out = Vec::new();
        if !config.homeassistant.enabled {
            // Disabled: remove a document announced earlier, once.
            if !self.announced.is_empty() || !self.removed.is_empty() {
                self.announced.clear();
                self.removed.clear();
                out.push(Message {
                    topic: topics.discovery,
                    payload: Vec::new(),
                    retain: true,
                });
            }
            return out;
        }
        // The document only changes with the requests' buttons: unless
        // they changed (or everything is due), skip building it (for 200
        // items that is 600 components, every second under load).
        let inputs = component_inputs(config, snapshot);
        let unchanged = self.last_document.is_some() && self.last_inputs.as_ref() == Some(&inputs);
        if everything || !unchanged {
            self.announce(config, snapshot, everything, occasion, &mut out);
            // After Home Assistant came online the stubs are dropped: the
            // next update rebuilds once to retain a document without them.
            self.last_inputs = (occasion != Occasion::HomeAssistantOnline).then_some(inputs);
        }
        for message in state_messages(config, snapshot) {
            if everything || self.last_state.get(&message.topic) != Some(&message.payload) {
                self.last_state
                    .insert(message.topic.clone(), message.payload.clone());
                out.push(message);
            }
        }
        for event in &snapshot.events {
            if event.seq > self.last_event_seq {
                self.last_event_seq = event.seq;
                out.push(event_message(config, event));
            }
        }
        out
    }

    /// The discovery document (when it differs from the last one sent, or
    /// `everything`), and the retained state of removed items cleared.
    fn announce(
        &mut self,
        config: &Config,
        snapshot: &Snapshot,
        everything: bool,
        occasion: Occasion,
        out: &mut Vec<Message>,
    ) {
        let topics = HaTopics::new(config);
        let current = components(config, snapshot);
        let mut cleared_items = std::collections::BTreeSet::new();
        for (key, platform) in &self.announced {
            if !current.contains_key(key) {
                self.removed.insert(key.clone(), platform.clone());
                if let Some(item) = item_of_key(key) {
                    if config.item(item).is_none() && cleared_items.len() < MAX_REMOVAL_STUBS {
                        cleared_items.insert(item.to_owned());
                    }
                }
            }
        }
        self.removed.retain(|key, _| !current.contains_key(key));
        if self.removed.len() > MAX_REMOVAL_STUBS {
            let keep = self.removed.split_off(
                &self
                    .removed
                    .keys()
                    .nth(self.removed.len() - MAX_REMOVAL_STUBS)
                    .cloned()
                    .unwrap_or_default(),
            );
            self.removed = keep;
        }
        let document = discovery_bytes(config, &current, &self.removed);
        if everything || self.last_document.as_ref() != Some(&document) {
            out.push(Message {
                topic: topics.discovery.clone(),
                payload: document.clone(),
                retain: true,
            });
            self.last_document = Some(document);
        }
        self.announced = current
            .iter()
            .map(|(key, c)| {
                let platform = c.get("p").and_then(Value::as_str).unwrap_or_default();
                (key.clone(), platform.to_owned())
            })
            .collect();
        if occasion == Occasion::HomeAssistantOnline {
            // Home Assistant is listening now and has seen the stubs above.
            self.removed.clear();
        }
        for item in cleared_items {
            let topic = topics.item_state(&item);
            self.last_state.remove(&topic);
            out.push(Message {
                topic,
                payload: Vec::new(),
                retain: true,
            });
        }
    }
}

/// What [`components`] takes from a snapshot: each pending request's
/// button text and topic inputs, when buttons are announced at all.
fn component_inputs(config: &Config, snapshot: &Snapshot) -> Vec<String> {
    if !config.homeassistant.trusted_approvals {
        return Vec::new();
    }
    snapshot
        .pending
        .iter()
        .map(|r| format!("{} {} {}", r.intent, r.packages, r.item_name))
        .collect()
}

pub mod schema;

#[cfg(test)]
mod tests;
