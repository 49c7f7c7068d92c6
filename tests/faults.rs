//! Fault injection against real processes: mosquitto restarted, killed and
//! stopped under load; the daemon killed at random points; the disk full;
//! a corrupt database at boot; upstream unreachable.
//!
//! Every scenario keeps Jepsen-style books: a `RetryingDevice` records each event
//! the broker PUBACKed (from then on the broker owns it), a `Watcher` on a
//! persistent session records every intent that went upstream. At the end, lost = acked but
//! not in the database; duplicated = distinct intent ids per product > 1
//! (observations cannot be duplicated: `UNIQUE (device, epoch, seq)`).
//! Figures are printed (`--nocapture`) for docs/reliability.md.
//!
//! `LARDER_SOAK=1` turns the daemon kill loop into 200 kills and 20
//! broker restarts.

use crate::support::*;
use std::time::{Duration, Instant};

/// A small random number below `n` (test scheduling only).
fn random_below(n: u64) -> u64 {
    u64::from(u32::from_le_bytes(larder::crypto::keys::random_bytes::<4>())) % n.max(1)
}

/// Starts a broker (autosave every `autosave` s), a configured daemon and
/// an upstream recorder that survives broker restarts; returns once the
/// daemon is online.
fn setup(
    tag: &str,
    autosave: u32,
) -> (
    Broker,
    ScratchDir,
    std::path::PathBuf,
    DaemonProcess,
    Watcher,
) {
    let broker = start_broker_autosave(autosave);
    let dir = temp_dir(tag);
    let config = TestConfig::household().write(&dir, &broker);
    let recorder = watch_across_restarts(broker.port(), &[UPSTREAM.to_string()]);
    let daemon = start_daemon(&config);
    wait_for_db(&dir);
    wait_online(broker.port(), "testhub");
    (broker, dir, config, daemon, recorder)
}

/// Publishes one more event after the stream and waits until it is
/// stored: everything the broker still had for the daemon was delivered
/// before it (one session, in order).
pub(crate) fn flush_with_sentinel(port: u16, dir: &ScratchDir, epoch: u64, seq: u64) {
    let mut p = Publisher::connect(port);
    assert!(p.publish(FRIDGE, level_json("fridge", "milk", epoch, seq, 2.0), false));
    wait_until(Duration::from_secs(60), "the sentinel event stored", || {
        stored(dir, "fridge", epoch, seq)
    });
}

/// (a) Graceful broker restarts under load: nothing lost, the persistent
/// session carries the queue across; then a broker that lost its state
/// (persistence file deleted) gets a fresh subscription from the daemon.
#[test]
fn graceful_broker_restarts_under_load_lose_nothing_and_the_daemon_resubscribes() {
    let (mut broker, dir, _config, mut daemon, _recorder) = setup("brestart", 1);
    let started = Instant::now();
    let device = RetryingDevice::start(
        broker.port(),
        FRIDGE,
        1,
        1..=400,
        Duration::from_millis(3),
        |_| 2.5,
    );
    let mut restarts = 0;
    while !device.finished() && restarts < 4 {
        std::thread::sleep(Duration::from_millis(200 + random_below(200)));
        broker.restart().expect("broker restart");
        restarts += 1;
    }
    let acked = device.join();
    assert_eq!(acked.len(), 400, "the device retries until acked");
    let t = settle(&db_path(&dir), 1, &acked, Duration::from_secs(60));
    eprintln!(
        "faults(a): {restarts} graceful broker restarts, acked {}, lost {}, stored {}, gaps {}, {:?}",
        t.acked,
        t.lost.len(),
        t.stored,
        counter(&dir, "sequence_gaps"),
        started.elapsed()
    );
    assert!(restarts >= 3, "restarted only {restarts} times");
    assert!(t.lost.is_empty(), "lost {:?}", t.lost);
    assert_eq!(t.stored, 400);
    assert!(daemon.alive());

    // Broker state wiped: no session for larder, so only a fresh subscribe
    // (made on every CONNACK) lets the next event in.
    broker.stop().expect("broker stop");
    std::fs::remove_file(broker.dir().join("mosquitto.db")).expect("broker persistence file");
    broker.resume().expect("broker resume");
    wait_online(broker.port(), "testhub");
    flush_with_sentinel(broker.port(), &dir, 1, 401);
    assert!(
        daemon.log().contains("broker has no session for us"),
        "the lost session is logged"
    );
    assert!(daemon.alive());
}

/// (b1) Broker kill -9 under load: mosquitto may lose what it acknowledged
/// since its last autosave (here 1 s). Whatever is lost must be detected:
/// every lost event is counted in `sequence_missing`.
#[test]
fn broker_kill9_under_load_loses_only_what_the_gap_counter_reports() {
    let (mut broker, dir, _config, mut daemon, _recorder) = setup("bkill", 1);
    let device = RetryingDevice::start(
        broker.port(),
        FRIDGE,
        2,
        1..=400,
        Duration::from_millis(3),
        |_| 2.5,
    );
    let mut kills = 0;
    while !device.finished() && kills < 3 {
        std::thread::sleep(Duration::from_millis(150 + random_below(300)));
        broker.kill9();
        broker.resume().expect("broker resume");
        kills += 1;
    }
    let acked = device.join();
    flush_with_sentinel(broker.port(), &dir, 2, 401);
    let t = tally(&db_path(&dir), "fridge", 2, &acked);
    let missing = counter(&dir, "sequence_missing");
    eprintln!(
        "faults(b1): {kills} broker kill -9, acked {}, lost {}, stored {}, gaps {}, missing {missing}",
        t.acked,
        t.lost.len(),
        t.stored,
        counter(&dir, "sequence_gaps")
    );
    assert!(kills >= 2);
    assert!(
        missing >= t.lost.len() as u64,
        "{} lost but only {missing} reported missing: {:?}",
        t.lost.len(),
        t.lost
    );
    assert!(daemon.alive(), "the daemon survives broker crashes");
}

/// The daemon has seen seq 1; while it is offline `queued` more events
/// are acknowledged by the broker and queued for its session; after `wait`
/// the broker is killed -9 and started again. Returns (lost, sequence_gaps,
/// sequence_missing) once the next event has been stored.
fn persistence_window(tag: &str, autosave: u32, wait: Duration, queued: u64) -> (usize, u64, u64) {
    let (mut broker, dir, config, mut daemon, _recorder) = setup(tag, autosave);
    flush_with_sentinel(broker.port(), &dir, 3, 1);
    assert_eq!(daemon.terminate(), Ok(Some(0)));
    let device = RetryingDevice::start(
        broker.port(),
        FRIDGE,
        3,
        2..=queued + 1,
        Duration::ZERO,
        |_| 2.5,
    );
    let acked = device.join();
    assert_eq!(acked.len() as u64, queued);
    std::thread::sleep(wait);
    broker.kill9();
    broker.resume().expect("broker resume");
    let mut daemon = start_daemon(&config);
    wait_online(broker.port(), "testhub");
    // The device carries on after the crash; the next event reveals the hole.
    flush_with_sentinel(broker.port(), &dir, 3, queued + 2);
    let t = tally(&db_path(&dir), "fridge", 3, &acked);
    assert!(daemon.alive());
    (
        t.lost.len(),
        counter(&dir, "sequence_gaps"),
        counter(&dir, "sequence_missing"),
    )
}

/// (b2) Outside the persistence window nothing is lost: the queue was
/// saved (autosave 1 s, killed 2.5 s later) and survives kill -9.
#[test]
fn broker_kill9_after_an_autosave_loses_nothing() {
    let (lost, gaps, missing) =
        persistence_window("bwin-saved", 1, Duration::from_millis(2500), 30);
    eprintln!(
        "faults(b2): autosave 1 s, kill -9 after 2.5 s: lost {lost}, gaps {gaps}, missing {missing}"
    );
    assert_eq!((lost, gaps, missing), (0, 0, 0));
}

/// (b3) Inside the window (autosave 1 h, killed at once) the broker loses
/// the acknowledged queue — and larder reports exactly that many missing.
#[test]
fn broker_kill9_inside_the_autosave_window_loses_events_and_larder_counts_them() {
    let (lost, gaps, missing) = persistence_window("bwin-lost", 3600, Duration::ZERO, 30);
    eprintln!(
        "faults(b3): autosave 3600 s, kill -9 at once: lost {lost}, gaps {gaps}, missing {missing}"
    );
    assert_eq!(lost, 30, "mosquitto lost its unsaved queue");
    assert_eq!((gaps, missing), (1, 30), "one gap of 30 events detected");
}

/// (c) Broker down for 6 s: the daemon backs off instead of spinning
/// (CPU time while down stays small) and recovers on its own.
#[test]
fn broker_down_for_a_while_the_daemon_backs_off_and_recovers() {
    let (mut broker, dir, _config, mut daemon, _recorder) = setup("bdown", 1);
    let before = daemon.cpu_time().expect("cpu time");
    broker.stop().expect("broker stop");
    std::thread::sleep(Duration::from_secs(6));
    let used = daemon.cpu_time().expect("cpu time") - before;
    broker.resume().expect("broker resume");
    let back = Instant::now();
    let mut p = Publisher::connect(broker.port());
    assert!(p.publish(FRIDGE, level_json("fridge", "milk", 4, 1, 2.0), false));
    wait_until(
        Duration::from_secs(90),
        "an event stored after the outage",
        || stored(&dir, "fridge", 4, 1),
    );
    let recovered = back.elapsed();
    eprintln!(
        "faults(c): broker down 6 s: daemon CPU {used:?} while down, stored again {recovered:?} after the broker returned"
    );
    assert!(
        used < Duration::from_millis(500),
        "daemon used {used:?} CPU in 6 s with no broker"
    );
    assert!(daemon.alive());
    assert!(daemon.log().contains("reconnected to broker"));
}

/// (d) The daemon killed -9 at random points while events stream in and
/// an intent is decided and sent: nothing acknowledged is lost, no item
/// gets two intents. `LARDER_SOAK=1`: 200 kills and 20 broker restarts.
#[test]
fn daemon_kill9_at_random_points_loses_nothing_and_doubles_no_intent() {
    let soak = std::env::var_os("LARDER_SOAK").is_some_and(|v| v == "1");
    let (kills, broker_restarts) = if soak { (200u64, 20u64) } else { (10, 0) };
    let (mut broker, dir, config, mut daemon, recorder) = setup("dkill", 1);
    let started = Instant::now();
    // Milk falls to nearly empty about 40 % into the run, so the intent is
    // decided and sent while the kills go on.
    let low_at = 40 * kills;
    let device = RetryingDevice::start(
        broker.port(),
        FRIDGE,
        5,
        1..=u64::MAX,
        Duration::from_millis(3),
        move |seq| (3.0 - 2.7 * seq as f64 / low_at as f64).max(0.3),
    );
    let restart_every = kills.checked_div(broker_restarts).unwrap_or(0);
    let mut broker_restarted = 0;
    for kill in 1..=kills {
        std::thread::sleep(Duration::from_millis(random_below(400)));
        daemon.kill9();
        if restart_every > 0 && kill % restart_every == 0 {
            broker.restart().expect("broker restart");
            broker_restarted += 1;
        }
        daemon = start_daemon(&config);
    }
    // Past the low point with some margin, so the intent had its chance.
    wait_until(Duration::from_secs(120), "the stream past low milk", || {
        device.acked().len() as u64 > low_at + 100
    });
    device.stop();
    let acked = device.join();
    let last = acked.last().copied().unwrap_or(0);
    flush_with_sentinel(broker.port(), &dir, 5, last + 1);
    let t = tally(&db_path(&dir), "fridge", 5, &acked);
    wait_until(Duration::from_secs(30), "an intent upstream", || {
        !recorder.on(UPSTREAM).is_empty()
    });
    let hub = hub_public_key(&dir);
    // Let any re-send after the last restart arrive before counting.
    std::thread::sleep(Duration::from_secs(1));
    let sent = recorder.on(UPSTREAM);
    let by_product = intents_by_product(&sent, &hub);
    let dup: usize = by_product
        .values()
        .map(|ids| ids.len().saturating_sub(1))
        .sum();
    eprintln!(
        "faults(d): {kills} daemon kill -9, {broker_restarted} broker restarts, acked {}, lost {}, stored {}, intents upstream {} (messages {}), duplicated {dup}, {:?}",
        t.acked,
        t.lost.len(),
        t.stored,
        by_product.values().map(|ids| ids.len()).sum::<usize>(),
        sent.len(),
        started.elapsed()
    );
    assert!(t.acked as u64 > low_at, "the stream reached low milk");
    assert!(t.lost.is_empty(), "lost {:?}", t.lost);
    assert_eq!(
        t.stored,
        t.acked as u64 + 1,
        "each event stored once (+ sentinel)"
    );
    assert_eq!(dup, 0, "duplicate intents: {by_product:?}");
    assert_eq!(by_product.get("sku-milk").map(|ids| ids.len()), Some(1));
    let db = open_db(&dir);
    let milk = db
        .read()
        .intents(100)
        .expect("intents")
        .into_iter()
        .filter(|i| i.item == "milk")
        .count();
    assert_eq!(milk, 1, "one milk intent in the database");
    assert!(daemon.alive());
}

/// (e) Disk full (database capped with `LARDER_MAX_DB_PAGES`): the daemon
/// stops acknowledging, so the broker keeps the events; it says why; it
/// still stops cleanly on SIGTERM; restarted with room, it stores all.
#[test]
fn disk_full_stops_acks_keeps_events_at_the_broker_and_recovers_without_loss() {
    let (broker, dir, config, mut daemon, _recorder) = setup("diskfull", 1);
    assert_eq!(daemon.terminate(), Ok(Some(0)));
    let pages: i64 = rusqlite::Connection::open(db_path(&dir))
        .expect("open")
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .expect("page_count");
    let cap = (pages + 2).to_string();
    let mut daemon = start_daemon_env(&config, &[("LARDER_MAX_DB_PAGES", &cap)]);
    wait_online(broker.port(), "testhub");
    let device = RetryingDevice::start(broker.port(), FRIDGE, 6, 1..=600, Duration::ZERO, |_| 2.5);
    let acked = device.join();
    assert_eq!(acked.len(), 600, "the broker accepts while larder is full");
    wait_until(
        Duration::from_secs(30),
        "the disk-full error in the log",
        || daemon.log().contains("cannot commit; not acknowledging"),
    );
    let log = daemon.log();
    assert!(
        log.contains("database or disk is full"),
        "the cause is named"
    );
    assert!(log.contains("larder.db"), "the file is named");
    let stored_while_full = tally(&db_path(&dir), "fridge", 6, &acked).stored;
    assert!(
        stored_while_full < 600,
        "the cap bit ({stored_while_full} stored)"
    );
    assert!(daemon.alive(), "a full disk is not a crash");
    let stop = Instant::now();
    assert_eq!(
        daemon.terminate(),
        Ok(Some(0)),
        "SIGTERM while the disk is full"
    );
    let stop_took = stop.elapsed();

    // Space is back: every event the broker kept arrives.
    let daemon = start_daemon(&config);
    let t = settle(&db_path(&dir), 6, &acked, Duration::from_secs(60));
    eprintln!(
        "faults(e): db capped at {cap} pages: {stored_while_full} of 600 stored while full, SIGTERM took {stop_took:?}; after restart lost {}, stored {}",
        t.lost.len(),
        t.stored
    );
    assert!(t.lost.is_empty(), "lost {:?}", t.lost);
    assert_eq!(t.stored, 600);
    drop(daemon);
}

/// (f) A corrupt database at boot is moved aside (kept for forensics),
/// the daemon starts on a fresh one, says so loudly, and keeps working.
/// Two corruptions: garbage where the header should be, and a valid
/// header with damaged pages.
#[test]
fn a_corrupt_database_at_boot_is_quarantined_and_the_daemon_keeps_running() {
    for damage in ["garbage-file", "damaged-pages"] {
        let broker = start_broker();
        let dir = temp_dir("corrupt");
        let config = TestConfig::household().write(&dir, &broker);
        let path = db_path(&dir);
        let garbage: Vec<u8> = (0..1024 * 1024u32).map(|i| (i * 7 + 13) as u8).collect();
        if damage == "garbage-file" {
            std::fs::create_dir_all(path.parent().expect("dir")).expect("state dir");
            std::fs::write(&path, &garbage).expect("write garbage");
        } else {
            let mut daemon = start_daemon(&config);
            wait_online(broker.port(), "testhub");
            assert_eq!(daemon.terminate(), Ok(Some(0)));
            // Everything into the main file, then damage all but page 1.
            rusqlite::Connection::open(&path)
                .expect("open")
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .expect("checkpoint");
            let mut bytes = std::fs::read(&path).expect("db");
            let page = 4096;
            assert!(bytes.len() > 2 * page);
            let end = bytes.len();
            bytes[page..end].copy_from_slice(&garbage[..end - page]);
            std::fs::write(&path, &bytes).expect("damage");
        }
        let damaged = std::fs::read(&path).expect("read");
        let mut daemon = start_daemon(&config);
        wait_online(broker.port(), "testhub");
        let mut p = Publisher::connect(broker.port());
        assert!(p.publish(FRIDGE, level_json("fridge", "milk", 7, 1, 2.0), false));
        wait_until(
            Duration::from_secs(20),
            "an event in the fresh database",
            || stored(&dir, "fridge", 7, 1),
        );
        let quarantined: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("state dir")
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.to_string_lossy().contains(".db.corrupt-")
                    && !p.to_string_lossy().ends_with("-wal")
                    && !p.to_string_lossy().ends_with("-shm")
            })
            .collect();
        assert_eq!(quarantined.len(), 1, "{damage}: {quarantined:?}");
        assert_eq!(
            std::fs::read(&quarantined[0]).expect("quarantined"),
            damaged,
            "{damage}: the bad file is kept byte for byte"
        );
        assert!(
            daemon.log().contains("DATABASE IS CORRUPT"),
            "{damage}: {}",
            daemon.log()
        );
        assert!(daemon.alive(), "{damage}");
        eprintln!(
            "faults(f): {damage}: quarantined as {}",
            quarantined[0].display()
        );
    }
}

/// (g) Upstream unreachable: an intent decided while the broker is down
/// waits in the outbox, and goes out once, with its id, when it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intent_decided_while_the_broker_is_down_waits_in_the_outbox_and_goes_out_once() {
    let broker = start_broker();
    let dir = temp_dir("outbox");
    let config = TestConfig::household().load(&dir, &broker);
    let port = broker.port();
    let recorder =
        tokio::task::spawn_blocking(move || watch_across_restarts(port, &[UPSTREAM.to_string()]))
            .await
            .expect("recorder");
    let start = 1_800_000_000;
    let InProcessDaemon { running, clock } = daemon::start(config, start).await;
    // Plenty of milk today.
    let mut broker = tokio::task::spawn_blocking(move || {
        let mut p = Publisher::connect(port);
        assert!(p.publish(FRIDGE, level_json("fridge", "milk", 8, 1, 3.0), false));
        broker
    })
    .await
    .expect("publish");
    wait_for(Duration::from_secs(20), "the reading stored", || {
        running.processed() >= 1
    })
    .await;
    running.tick().await.expect("tick");
    let db = larder::store::Store::open_readonly(running.database()).expect("db");
    assert!(
        db.read().intents(10).expect("intents").is_empty(),
        "no order yet"
    );

    // The broker goes away; a week later the milk is nearly gone.
    broker = tokio::task::spawn_blocking(move || {
        broker.stop().expect("broker stop");
        broker
    })
    .await
    .expect("stop");
    clock.set(start + 8 * 86_400);
    running.tick().await.expect("tick");
    let intents = db.read().intents(10).expect("intents");
    assert_eq!(intents.len(), 1, "an intent decided offline: {intents:?}");
    let id = intents[0].id.clone();
    // It stays queued while the broker is down.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(db.read().unsent_outbox().expect("unsent") >= 1);
    assert_eq!(
        db.read().intent(&id).expect("intent").expect("row").state,
        larder::store::IntentState::Approved
    );

    let back = Instant::now();
    let broker = tokio::task::spawn_blocking(move || {
        broker.resume().expect("broker resume");
        broker
    })
    .await
    .expect("resume");
    wait_for(Duration::from_secs(60), "the intent upstream", || {
        !recorder.on(UPSTREAM).is_empty()
    })
    .await;
    let delivered_after = back.elapsed();
    wait_for(Duration::from_secs(20), "the intent marked sent", || {
        intent_is(&db, &id, larder::store::IntentState::Sent)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let hub = hub_public_key(&dir);
    let seen = recorder.on(UPSTREAM);
    let ids = intents_by_product(&seen, &hub);
    eprintln!(
        "faults(g): intent {id} queued offline; upstream {delivered_after:?} after the broker returned; messages {}, distinct ids {:?}",
        seen.len(),
        ids
    );
    assert_eq!(ids.len(), 1);
    assert_eq!(
        ids["sku-milk"].iter().collect::<Vec<_>>(),
        vec![&id],
        "the same id"
    );
    assert_eq!(seen.len(), 1, "sent once");
    assert_eq!(db.read().unsent_outbox().expect("unsent"), 0);
    running.stop().await.expect("stop");
    drop(broker);
}
