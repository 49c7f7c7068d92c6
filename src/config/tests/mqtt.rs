//! `[mqtt]`: broker URLs, credential and TLS files.

use super::{ConfigTestDir, MINIMAL, check, ok};
use crate::config::Config;
use crate::config::mqtt::{Protocol, parse_url};

#[test]
fn broker_urls() {
    let good = [
        ("mqtt://127.0.0.1", ("127.0.0.1", 1883, false)),
        (
            "mqtts://broker.example.net",
            ("broker.example.net", 8883, true),
        ),
        ("mqtt://localhost:1884/", ("localhost", 1884, false)),
        ("mqtts://[::1]:8884", ("::1", 8884, true)),
        ("mqtt://[fe80::1]", ("fe80::1", 1883, false)),
    ];
    for (url, (host, port, tls)) in good {
        assert_eq!(parse_url(url), Ok((host.to_owned(), port, tls)), "{url}");
    }
    let bad = [
        "tcp://host",
        "mqtt://",
        "mqtt://host:0",
        "mqtt://host:99999",
        "mqtt://host:x",
        "mqtt://host/path",
        "mqtt://user:pw@host",
        "mqtt://[::1",
        "mqtt://[zz]:1883",
        "mqtt://bad host",
    ];
    for url in bad {
        assert!(parse_url(url).is_err(), "{url} should be refused");
    }
    let c = ok(&MINIMAL.replace("mqtt://127.0.0.1", "mqtts://[::1]"));
    assert_eq!(c.mqtt.authority(), "[::1]:8883");
    check(
        &MINIMAL.replace("mqtt://127.0.0.1", "mqtt://host/x"),
        &["mqtt.url: \"mqtt://host/x\" has a path"],
    );
}

#[test]
fn broker_credential_files_must_exist_and_fit() {
    check(
        &MINIMAL.replace(
            "[[devices]]",
            "password-file = \"/nonexistent/larder/pw\"\n[[devices]]",
        ),
        &[
            "mqtt.password-file: requires mqtt.username",
            "mqtt.password-file: /nonexistent/larder/pw:",
        ],
    );
    check(
        &MINIMAL.replace(
            "[[devices]]",
            "ca-file = \"/nonexistent/larder/ca.pem\"\n[[devices]]",
        ),
        &[
            "mqtt.ca-file: only used with TLS",
            "mqtt.ca-file: /nonexistent/larder/ca.pem:",
        ],
    );
    check(
        &MINIMAL.replace("[[devices]]", "client-id = \"larder home\"\n[[devices]]"),
        &["mqtt.client-id: \"larder home\" is not valid"],
    );
}

#[test]
fn a_client_certificate_needs_its_key_a_ca_and_tls() {
    check(
        &MINIMAL.replace(
            "[[devices]]",
            "client-cert = \"/nonexistent/larder/client.pem\"\n[[devices]]",
        ),
        &[
            "mqtt.client-cert: requires mqtt.client-key as well",
            "mqtt.client-cert: requires mqtt.ca-file",
            "mqtt.client-cert: only used with TLS",
            "mqtt.client-cert: /nonexistent/larder/client.pem:",
        ],
    );
    check(
        &MINIMAL
            .replace("mqtt://127.0.0.1", "mqtts://127.0.0.1")
            .replace(
                "[[devices]]",
                "client-key = \"/nonexistent/larder/client.key\"\n[[devices]]",
            ),
        &[
            "mqtt.client-key: requires mqtt.client-cert as well",
            "mqtt.client-key: /nonexistent/larder/client.key:",
        ],
    );
    let dir = ConfigTestDir::new("client-cert");
    for name in ["ca.pem", "client.pem", "client.key"] {
        std::fs::write(dir.0.join(name), "-----BEGIN X-----\n").unwrap();
    }
    let text = MINIMAL
        .replace("mqtt://127.0.0.1", "mqtts://127.0.0.1")
        .replace(
            "[[devices]]",
            "ca-file = \"ca.pem\"\nclient-cert = \"client.pem\"\nclient-key = \"client.key\"\n[[devices]]",
        );
    let c = match Config::parse(&text, &dir.0.join("larder.toml")) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(c.mqtt.client_cert, Some(dir.0.join("client.pem")));
    assert_eq!(c.mqtt.client_key, Some(dir.0.join("client.key")));
}

#[test]
fn the_mqtt_version_is_5_unless_set_to_3_1_1() {
    assert_eq!(ok(MINIMAL).mqtt.protocol, Protocol::V5);
    let with = |version: &str| {
        MINIMAL.replace(
            "[[devices]]",
            &format!("protocol = \"{version}\"\n[[devices]]"),
        )
    };
    assert_eq!(ok(&with("3.1.1")).mqtt.protocol, Protocol::V311);
    assert_eq!(ok(&with("5")).mqtt.protocol, Protocol::V5);
    check(
        &with("4"),
        &["mqtt.protocol: unknown MQTT version \"4\"; expected \"5\" or \"3.1.1\""],
    );
}
