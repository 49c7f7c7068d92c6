//! Broker authentication, TLS and the shipped ACL, against real mosquitto:
//! - larder authenticates with a password and, with the shipped
//!   `config/mosquitto/{larder.conf,acl}`, an appliance cannot publish an
//!   approval reply (or another device's events) that larder sees;
//! - larder connects over TLS with a client certificate to a broker that
//!   requires one (certificates made with `openssl` in the test).

use crate::support::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Publishes once at QoS 1 with mosquitto's client; true if it exited 0.
fn pub_as(
    port: u16,
    creds: Option<(&str, &str)>,
    topic: &str,
    payload: &[u8],
    tls: &[&str],
) -> bool {
    mosquitto_pub_as(port, creds, topic, payload, tls).0
}

fn passwd(file: &Path, user: &str, pass: &str) {
    let mut cmd = Command::new("mosquitto_passwd");
    if !file.exists() {
        cmd.arg("-c");
    }
    let ok = cmd
        .args(["-b"])
        .arg(file)
        .args([user, pass])
        .status()
        .expect("mosquitto_passwd")
        .success();
    assert!(ok, "mosquitto_passwd {user}");
}

/// The shipped mosquitto configuration and ACL, with test ports and paths:
/// larder authenticates with its password; an appliance may publish its own
/// events, but neither another device's events nor an approval reply reach
/// larder; an approver app's reply does (positive control).
#[test]
fn with_the_shipped_acl_an_appliance_cannot_forge_what_larder_reads() {
    let shipped = std::fs::read_to_string(Path::new(REPO).join("config/mosquitto/larder.conf"))
        .expect("config/mosquitto/larder.conf");
    let acl = std::fs::read_to_string(Path::new(REPO).join("config/mosquitto/acl"))
        .expect("config/mosquitto/acl");
    let clients_port = free_port().expect("a free port");
    let broker = start_broker_with(|larder_port, dir| {
        std::fs::write(dir.join("larder.acl"), &acl).expect("acl");
        passwd(&dir.join("hub.passwd"), "larder", "larder-pw");
        for (user, pass) in [
            ("fridge", "fridge-pw"),
            ("app-alex", "alex-pw"),
            ("shop", "shop-pw"),
        ] {
            passwd(&dir.join("clients.passwd"), user, pass);
        }
        for f in ["hub.passwd", "clients.passwd", "larder.acl"] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(0o644))
                .expect("chmod");
        }
        // Same file, with this test's ports, paths and log.
        let mut listeners = 0;
        shipped
            .lines()
            .map(|line| {
                let key = line.split_whitespace().next().unwrap_or("");
                match key {
                    "listener" => {
                        listeners += 1;
                        let port = if listeners == 1 {
                            clients_port
                        } else {
                            larder_port
                        };
                        format!("listener {port} 127.0.0.1")
                    }
                    "persistence_location" => format!("persistence_location {}/", dir.display()),
                    "log_dest" => format!("log_dest file {}/mosquitto.log", dir.display()),
                    "password_file" if listeners == 1 => {
                        format!("password_file {}/clients.passwd", dir.display())
                    }
                    "password_file" => format!("password_file {}/hub.passwd", dir.display()),
                    "acl_file" => format!("acl_file {}/larder.acl", dir.display()),
                    _ => line.to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    });
    let dir = temp_dir("acl");
    let pw = dir.join("mqtt.password");
    std::fs::write(&pw, "larder-pw\n").expect("password file");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let config = TestConfig::household()
        .hub("home")
        .set("mqtt", "password-file", format!("\"{}\"", pw.display()))
        .set("mqtt", "username", "\"larder\"")
        .write(&dir, &broker);

    // The broker really checks passwords: a wrong one is refused.
    assert!(!pub_as(
        broker.port(),
        Some(("larder", "wrong")),
        "larder/home/status",
        b"x",
        &[]
    ));
    let status = watch_with(
        clients_port,
        &["larder/home/status".to_string()],
        &WatchOptions {
            resume_session: true,
            credentials: Some(("app-alex".into(), "alex-pw".into())),
        },
    );
    let mut daemon = start_daemon(&config);
    wait_until(
        Duration::from_secs(20),
        "larder online (password accepted)",
        || {
            status
                .on("larder/home/status")
                .last()
                .is_some_and(|s| s.payload == b"online")
        },
    );
    let fridge = Some(("fridge", "fridge-pw"));
    let fridge_topic = "larder/home/devices/fridge/events";

    // Its own topic: stored.
    assert!(pub_as(
        clients_port,
        fridge,
        fridge_topic,
        &level_json("fridge", "milk", 1, 1, 2.0),
        &[]
    ));
    wait_until(Duration::from_secs(20), "the fridge's own event", || {
        stored(&dir, "fridge", 1, 1)
    });

    // Another device's topic and an approval reply: the broker drops them
    // (MQTT 3.1.1 has no refusal code; mosquitto acks and discards).
    let intent = "0123456789abcdef0123456789abcdef";
    let reply_topic = format!("larder/home/approvals/{intent}/reply");
    pub_as(
        clients_port,
        fridge,
        "larder/home/devices/washer/events",
        b"{\"v\":1}",
        &[],
    );
    pub_as(clients_port, fridge, &reply_topic, b"forged approval", &[]);
    pub_as(
        clients_port,
        fridge,
        "larder/home/control",
        b"forged pause",
        &[],
    );
    pub_as(
        clients_port,
        fridge,
        "larder/home/upstream/acks",
        b"{\"intent\":\"x\",\"status\":\"delivered\"}",
        &[],
    );
    // A later event from the same client is a barrier: when it is stored,
    // anything published before it was either delivered or dropped.
    assert!(pub_as(
        clients_port,
        fridge,
        fridge_topic,
        &level_json("fridge", "milk", 1, 2, 1.9),
        &[]
    ));
    wait_until(Duration::from_secs(20), "the barrier event", || {
        stored(&dir, "fridge", 1, 2)
    });
    assert_eq!(
        counter(&dir, "messages"),
        2,
        "only the fridge's own events reached larder"
    );
    assert_eq!(counter(&dir, "dead_letters"), 0);

    // Positive control: the approver app's reply does reach larder (and,
    // being junk, is refused and dead-lettered there).
    assert!(pub_as(
        clients_port,
        Some(("app-alex", "alex-pw")),
        &reply_topic,
        b"junk reply",
        &[]
    ));
    wait_until(Duration::from_secs(20), "the app's reply at larder", || {
        counter(&dir, "dead_letters") == 1
    });
    assert_eq!(counter(&dir, "messages"), 3);
    // And a member's control message (pause, cancel, forget…) reaches it
    // too: without the ACL's control lines, `larder pause` would print
    // "published" while mosquitto dropped it.
    assert!(pub_as(
        clients_port,
        Some(("app-alex", "alex-pw")),
        "larder/home/control",
        b"junk control",
        &[]
    ));
    wait_until(
        Duration::from_secs(20),
        "the app's control message at larder",
        || counter(&dir, "dead_letters") == 2,
    );
    assert_eq!(counter(&dir, "messages"), 4);
    assert!(daemon.alive());
    assert_eq!(daemon.terminate(), Ok(Some(0)));
}

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throwaway CA, a server certificate for 127.0.0.1 and a client
/// certificate, all EC P-256, in `dir`.
fn make_certificates(dir: &Path) {
    let ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
    for name in ["ca", "server", "client"] {
        let mut args = vec!["genpkey"];
        args.extend(ec);
        let out = format!("{name}.key");
        args.extend(["-out", &out]);
        openssl(&args, dir);
    }
    openssl(
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-subj",
            "/CN=larder test CA",
            "-days",
            "2",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "ca.pem",
        ],
        dir,
    );
    for (name, cn, ext) in [
        (
            "server",
            "localhost",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
        ),
        (
            "client",
            "larder",
            "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n",
        ),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), ext).expect("ext");
        let subj = format!("/CN={cn}");
        openssl(
            &[
                "req",
                "-new",
                "-key",
                &format!("{name}.key"),
                "-subj",
                &subj,
                "-out",
                &format!("{name}.csr"),
            ],
            dir,
        );
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.pem"),
            ],
            dir,
        );
    }
    use std::os::unix::fs::PermissionsExt;
    for f in ["ca.pem", "server.pem", "server.key"] {
        // The broker runs as the mosquitto user.
        std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
    }
}

/// larder over TLS with a client certificate (`mqtt.client-cert`,
/// `mqtt.client-key`) to a broker that requires one. The test tools use a
/// second, plain listener on the same broker.
#[test]
fn larder_connects_over_tls_with_a_client_certificate() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("SKIPPED: openssl is not installed; the TLS test needs it to make certificates");
        return;
    }
    let tls_port = free_port().expect("a free port");
    let broker = start_broker_with(|port, dir| {
        make_certificates(dir);
        format!(
            "{}listener {tls_port} 127.0.0.1\ncafile {d}/ca.pem\ncertfile {d}/server.pem\n\
             keyfile {d}/server.key\nrequire_certificate true\n",
            default_broker_conf(port, dir, 1),
            d = dir.display()
        )
    });
    let certs = broker.dir();
    // The broker really requires a client certificate…
    let ca = format!("{}/ca.pem", certs.display());
    assert!(
        !pub_as(
            tls_port,
            None,
            "larder/testhub/status",
            b"x",
            &["--cafile", &ca]
        ),
        "a client without a certificate must be refused"
    );
    // …and accepts ours.
    let (cert, key) = (
        format!("{}/client.pem", certs.display()),
        format!("{}/client.key", certs.display()),
    );
    assert!(pub_as(
        tls_port,
        None,
        "test/tls",
        b"x",
        &["--cafile", &ca, "--cert", &cert, "--key", &key]
    ));

    let dir = temp_dir("tls");
    let without_certificate = TestConfig::household()
        .set("mqtt", "url", format!("\"mqtts://127.0.0.1:{tls_port}\""))
        .set("mqtt", "ca-file", format!("\"{ca}\""));
    let config = without_certificate
        .clone()
        .set("mqtt", "client-key", format!("\"{key}\""))
        .set("mqtt", "client-cert", format!("\"{cert}\""))
        .write(&dir, &broker);
    let mut daemon = start_daemon(&config);
    wait_for_db(&dir);
    wait_online(broker.port(), "testhub");
    mosquitto_pub(
        broker.port(),
        "larder/testhub/devices/fridge/events",
        &level_json("fridge", "milk", 1, 1, 2.0),
    );
    wait_until(
        Duration::from_secs(20),
        "an event received over TLS",
        || stored(&dir, "fridge", 1, 1),
    );
    assert!(daemon.alive());
    assert_eq!(daemon.terminate(), Ok(Some(0)));

    // Without the client certificate larder cannot get in (and says why).
    without_certificate.write(&dir, &broker);
    let mut daemon = start_daemon(&config);
    wait_until(
        Duration::from_secs(20),
        "the refused TLS connection in the log",
        || daemon.log().contains("broker connection lost"),
    );
    assert!(
        !daemon.log().contains("connected to broker"),
        "{}",
        daemon.log()
    );
    assert!(daemon.alive());
}
