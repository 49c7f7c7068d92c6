//! Checks of `[mqtt]`: the broker URL, client id, credentials and TLS
//! files (which must exist and fit together), keep-alive, payload limits
//! and the MQTT version.

use super::Check;
use crate::config::error::is_ident;
use crate::config::mqtt::{Protocol, parse_url};
use crate::config::{Mqtt, raw};
use std::path::Path;

impl Check {
    /// `[mqtt]`; the client id defaults to `larder-<hub id>`.
    pub(super) fn mqtt(&mut self, raw: raw::Mqtt, hub_id: &str, base: &Path) -> Mqtt {
        let url = self.required("mqtt.url", raw.url);
        let (host, port, tls) = if url.trim().is_empty() {
            (String::new(), 1883, false)
        } else {
            parse_url(&url).unwrap_or_else(|message| {
                self.problem("mqtt.url", message);
                (String::new(), 1883, false)
            })
        };
        let client_id = match raw.client_id {
            None => format!("larder-{hub_id}"),
            Some(id) => {
                if id.is_empty() || !is_ident(&id) {
                    self.problem(
                        "mqtt.client-id",
                        format_args!("{id:?} is not valid; use letters, digits, '_' or '-'"),
                    );
                }
                id
            }
        };
        if raw.username.as_deref().is_some_and(str::is_empty) {
            self.problem(
                "mqtt.username",
                "must not be empty; leave it out to connect anonymously",
            );
        }
        let password_file = self.path("mqtt.password-file", raw.password_file, base);
        if let Some(file) = &password_file {
            if raw.username.is_none() {
                self.problem("mqtt.password-file", "requires mqtt.username");
            }
            self.existing_file("mqtt.password-file", file);
        }
        let ca_file = self.path("mqtt.ca-file", raw.ca_file, base);
        if let Some(file) = &ca_file {
            if !tls && !host.is_empty() {
                self.problem(
                    "mqtt.ca-file",
                    "only used with TLS; set mqtt.url to mqtts://... or remove it",
                );
            }
            self.existing_file("mqtt.ca-file", file);
        }
        let client_cert = self.path("mqtt.client-cert", raw.client_cert, base);
        let client_key = self.path("mqtt.client-key", raw.client_key, base);
        for (key, file, other, other_key) in [
            (
                "mqtt.client-cert",
                &client_cert,
                &client_key,
                "mqtt.client-key",
            ),
            (
                "mqtt.client-key",
                &client_key,
                &client_cert,
                "mqtt.client-cert",
            ),
        ] {
            if let Some(file) = file {
                if other.is_none() {
                    self.problem(key, format_args!("requires {other_key} as well"));
                }
                if ca_file.is_none() {
                    self.problem(
                        key,
                        "requires mqtt.ca-file (the CA that signed the broker's certificate)",
                    );
                }
                if !tls && !host.is_empty() {
                    self.problem(
                        key,
                        "only used with TLS; set mqtt.url to mqtts://... or remove it",
                    );
                }
                self.existing_file(key, file);
            }
        }
        let keep_alive_secs =
            self.integer("mqtt.keep-alive-secs", raw.keep_alive_secs, 30, 5..=600);
        let max_payload_bytes = self.integer(
            "mqtt.max-payload-bytes",
            raw.max_payload_bytes,
            65536,
            1024..=1_048_576,
        );
        let protocol = match raw.protocol.as_deref() {
            None => Protocol::default(),
            Some(name) => Protocol::from_name(name).unwrap_or_else(|| {
                self.problem(
                    "mqtt.protocol",
                    format_args!("unknown MQTT version \"{name}\"; expected \"5\" or \"3.1.1\""),
                );
                Protocol::default()
            }),
        };
        Mqtt {
            host,
            port,
            tls,
            client_id,
            username: raw.username,
            password_file,
            ca_file,
            client_cert,
            client_key,
            keep_alive_secs: u16::try_from(keep_alive_secs).unwrap_or(30),
            max_payload_bytes: usize::try_from(max_payload_bytes).unwrap_or(65536),
            protocol,
        }
    }
}
