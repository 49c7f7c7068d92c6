//! `larder discovery`: every Home Assistant discovery message larder would
//! publish for the configuration, as text or as JSON lines; needs no broker.

use crate::config::Config;

/// `larder discovery [--jsonl]`: prints the messages.
pub(super) fn run(config: &Config, jsonl: bool) -> anyhow::Result<()> {
    if jsonl {
        print!("{}", discovery_jsonl(config));
    } else {
        print!("{}", discovery(config));
    }
    Ok(())
}

/// `larder discovery`: each discovery message as `topic (retained)` then
/// its payload as indented JSON, separated by blank lines.
fn discovery(config: &Config) -> String {
    let messages = crate::homeassistant::discovery_messages(config);
    if messages.is_empty() {
        return "# Home Assistant discovery is off ([homeassistant] enabled = false): nothing is published\n".into();
    }
    let mut out = String::new();
    for message in messages {
        let pretty = serde_json::from_slice::<serde_json::Value>(&message.payload)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(&message.payload).into_owned());
        let retained = if message.retain { " (retained)" } else { "" };
        out.push_str(&format!("{}{retained}\n{pretty}\n\n", message.topic));
    }
    if config.homeassistant.trusted_approvals {
        out.push_str("# trusted-approvals: an approve and a deny button are added per pending request while it is pending\n");
    }
    out
}

/// `larder discovery --jsonl`: one `{"topic", "retain", "payload"}` object
/// per line (the payload as JSON, or as text when it is not JSON).
fn discovery_jsonl(config: &Config) -> String {
    crate::homeassistant::discovery_messages(config)
        .into_iter()
        .map(|message| {
            let payload = serde_json::from_slice::<serde_json::Value>(&message.payload)
                .unwrap_or_else(|_| {
                    serde_json::Value::String(String::from_utf8_lossy(&message.payload).into())
                });
            let line = serde_json::json!({
                "topic": message.topic,
                "retain": message.retain,
                "payload": payload,
            });
            format!("{line}\n")
        })
        .collect()
}
