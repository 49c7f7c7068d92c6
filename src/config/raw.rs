//! Stage one: the file as written. Every field is optional so that missing
//! keys become named problems in stage two instead of stopping the parse;
//! enumerations are strings for the same reason. Unknown keys are not
//! refused here but collected by `serde_ignored`, so all of them are named.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub(super) struct Config {
    pub hub: Hub,
    pub mqtt: Mqtt,
    pub upstream: Upstream,
    pub devices: Vec<Device>,
    pub items: Vec<Item>,
    pub members: Vec<Member>,
    pub rules: Rules,
    pub retention: Retention,
    pub homeassistant: HomeAssistant,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub(super) struct HomeAssistant {
    pub enabled: Option<bool>,
    pub discovery_prefix: Option<String>,
    pub status_topic: Option<String>,
    pub trusted_approvals: Option<bool>,
    pub approver: Option<String>,
    pub birth_delay_max_ms: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub(super) struct Retention {
    pub raw_days: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub(super) struct Hub {
    pub id: Option<String>,
    pub state_dir: Option<String>,
    pub key_file: Option<String>,
    pub timezone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub(super) struct Mqtt {
    pub url: Option<String>,
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub password_file: Option<String>,
    pub ca_file: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    pub keep_alive_secs: Option<i64>,
    pub max_payload_bytes: Option<i64>,
    pub protocol: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub(super) struct Upstream {
    pub topic: Option<String>,
    pub ack_topic: Option<String>,
    pub price_tolerance_percent: Option<f64>,
    pub top_up_days: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub(super) struct Device {
    pub id: Option<String>,
    pub topic: Option<String>,
    pub format: Option<String>,
    pub scale: Option<Scale>,
    pub washer: Option<Washer>,
    pub field: Option<String>,
    pub unit: Option<String>,
    pub factor: Option<f64>,
    pub channel: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub(super) struct Scale {
    pub tare_kg: Option<f64>,
    pub calibration: Option<f64>,
    pub offset_kg: Option<f64>,
    pub units_per_kg: Option<f64>,
    pub deadband_kg: Option<f64>,
    pub median_of: Option<i64>,
    pub restock_kg: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub(super) struct Washer {
    pub dose: Option<f64>,
    pub start_watts: Option<f64>,
    pub stop_watts: Option<f64>,
    pub start_secs: Option<i64>,
    pub stop_secs: Option<i64>,
    pub min_run_secs: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub(super) struct Item {
    pub id: Option<String>,
    pub name: Option<String>,
    pub unit: Option<String>,
    pub package_size: Option<f64>,
    pub product: Option<String>,
    pub price: Option<f64>,
    pub currency: Option<String>,
    pub category: Option<String>,
    pub order: Option<String>,
    pub vendor: Option<String>,
    pub min_level: Option<f64>,
    pub desired_level: Option<f64>,
    pub device: Option<String>,
    pub slot: Option<String>,
    pub measure: Option<String>,
    pub lead_time_days: Option<f64>,
    pub review_days: Option<f64>,
    pub shelf_life_days: Option<f64>,
    pub service_level: Option<f64>,
    pub declared_usage: Option<Usage>,
    pub noise: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub(super) struct Usage {
    pub amount: Option<f64>,
    pub per: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub(super) struct Member {
    pub name: Option<String>,
    pub public_key: Option<String>,
    pub may_approve: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub(super) struct Rules {
    pub currency: Option<String>,
    pub auto_approve_up_to: Option<f64>,
    pub monthly_budget: Option<f64>,
    pub approvals_required: Option<i64>,
    pub approval_expires_after_hours: Option<f64>,
    pub cancel_window_hours: Option<f64>,
    pub quiet_hours: Option<Window>,
    pub max_orders_per_item: Option<Cap>,
    pub default_category: Option<String>,
    pub categories: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub(super) struct Window {
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub(super) struct Cap {
    pub count: Option<i64>,
    pub days: Option<i64>,
}
