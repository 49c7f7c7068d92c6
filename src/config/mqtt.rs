//! `[mqtt]`: the broker connection (URL, client id, credentials, TLS files,
//! limits), and the parsing of its `mqtt(s)://host[:port]` URL.

use std::path::PathBuf;

/// Longest client id every MQTT 3.1.1 broker must accept; longer ids only warn.
pub const MQTT_PORTABLE_CLIENT_ID_LEN: usize = 23;

/// MQTT broker connection settings.
#[derive(Debug, Clone)]
pub struct Mqtt {
    /// Broker host name or address.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Whether to use TLS (`mqtts://`).
    pub tls: bool,
    /// Fixed client id for the persistent session.
    pub client_id: String,
    /// User name, if the broker requires one.
    pub username: Option<String>,
    /// File holding the password (first line).
    pub password_file: Option<PathBuf>,
    /// CA certificate (PEM) to trust for TLS; `None` = system roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for brokers that require one (TLS only;
    /// always together with `client_key`).
    pub client_cert: Option<PathBuf>,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1) of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// Keep-alive in seconds.
    pub keep_alive_secs: u16,
    /// Largest inbound payload accepted before parsing, in bytes.
    pub max_payload_bytes: usize,
    /// The MQTT version larder's connections speak (`mqtt.protocol`).
    pub protocol: Protocol,
}

/// The MQTT version of larder's connections (`mqtt.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// MQTT 5 (`"5"`, the default): larder tells the broker the largest
    /// packet it takes, and the broker drops a bigger message for larder
    /// instead of sending it (`daemon::link`).
    #[default]
    V5,
    /// MQTT 3.1.1 (`"3.1.1"`), for brokers without MQTT 5: a message over
    /// the packet limit drops the connection, and the broker sends it again
    /// on every reconnect.
    V311,
}

impl Protocol {
    /// Every version, in the order the configuration lists them.
    pub const ALL: [Protocol; 2] = [Protocol::V5, Protocol::V311];

    /// The name in the configuration (`"5"`, `"3.1.1"`).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::V5 => "5",
            Protocol::V311 => "3.1.1",
        }
    }

    /// The version named `name`, if any.
    pub fn from_name(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl Mqtt {
    /// `host:port` for opening a socket, with an IPv6 address in brackets
    /// (`[::1]:1883`). `host` itself is stored without brackets, as TLS
    /// server-name checks want it.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Parses `mqtt://host[:port]` or `mqtts://host[:port]` into
/// `(host, port, tls)`; IPv6 hosts are written `[::1]` and returned bare.
pub(super) fn parse_url(url: &str) -> Result<(String, u16, bool), String> {
    let (rest, tls) = if let Some(rest) = url.strip_prefix("mqtts://") {
        (rest, true)
    } else if let Some(rest) = url.strip_prefix("mqtt://") {
        (rest, false)
    } else {
        return Err(format!(
            "{url:?} must start with mqtt:// or mqtts:// (e.g. \"mqtt://127.0.0.1:1883\")"
        ));
    };
    let default_port = if tls { 8883 } else { 1883 };
    // A lone trailing '/' is harmless; anything after it is a path.
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#']) {
        return Err(format!(
            "{url:?} has a path or query; give only mqtt(s)://host[:port]"
        ));
    }
    if authority.contains('@') {
        return Err(format!(
            "{url:?} contains credentials; use mqtt.username and mqtt.password-file"
        ));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return Err(format!("{url:?}: IPv6 address is missing its closing ']'"));
        };
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{url:?}: {addr:?} is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("{url:?}: expected ':port' after the IPv6 address"))?,
            ),
        };
        (addr, port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    let is_name = host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if !host.contains(':') && !is_name {
        return Err(format!(
            "{url:?}: {host:?} is not a host name or IP address"
        ));
    }
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => {
                return Err(format!(
                    "{url:?}: port {p:?} is not a number from 1 to 65535"
                ));
            }
        },
    };
    Ok((host.to_owned(), port, tls))
}
