//! A running household for the approval and consent tests: a broker, the
//! test household's configuration with members whose keys are files in
//! its directory, `larder run`, and a watcher on what goes upstream and
//! on the approval requests; plus the reads those tests share.

use super::*;
use larder::crypto::keys::SigningKey;
use larder::protocol::approval::ApprovalRequest;
use larder::store::IntentState;
use std::path::PathBuf;
use std::time::Duration;

/// Where the test household's intents go.
pub const UPSTREAM: &str = "larder/testhub/upstream/intents";
/// The test household's approval requests (`<this><intent>`).
pub const REQUESTS: &str = "larder/testhub/approvals/";

/// The approval requests `watcher` saw (retained, JSON), in order, without
/// the empty messages that clear them.
pub fn approval_requests(watcher: &Watcher) -> Vec<ApprovalRequest> {
    watcher
        .under(REQUESTS)
        .into_iter()
        .filter(|s| !s.payload.is_empty() && !s.topic.ends_with("/reply"))
        .map(|s| serde_json::from_slice(&s.payload).expect("request json"))
        .collect()
}

/// Waits for the first approval request `watcher` sees and returns it.
pub fn first_request(watcher: &Watcher) -> ApprovalRequest {
    wait_until(Duration::from_secs(20), "an approval request", || {
        !approval_requests(watcher).is_empty()
    });
    approval_requests(watcher).remove(0)
}

/// The washer reports 100 ml of detergent put in, far too little: the
/// daemon asks for more (over the auto-approve limit); returns the
/// request `watcher` sees.
pub fn detergent_request(port: u16, watcher: &Watcher) -> ApprovalRequest {
    mosquitto_pub(port, WASHER, &detergent_added(100.0));
    first_request(watcher)
}

/// A running household.
pub struct Household {
    /// Its broker.
    pub broker: Broker,
    /// Its directory: configuration, state, member keys (`<name>.key`).
    pub dir: ScratchDir,
    /// Its configuration file.
    pub config: PathBuf,
    /// `larder run`.
    pub daemon: DaemonProcess,
    /// Watches [`UPSTREAM`] and the approval requests.
    pub watcher: Watcher,
}

impl Household {
    /// Starts a household (directory `tag`) on the test configuration
    /// whose `members` have keys in the directory (none: the configuration
    /// lists an owner); returns once the daemon is online.
    pub fn start(tag: &str, members: &[&str]) -> Household {
        Household::start_with(tag, members, |config| config, &[])
    }

    /// Like [`Household::start`], with `configure` applied to the
    /// configuration and `env` given to the daemon.
    pub fn start_with(
        tag: &str,
        members: &[&str],
        configure: impl FnOnce(TestConfig) -> TestConfig,
        env: &[(&str, &str)],
    ) -> Household {
        let broker = start_broker();
        let dir = temp_dir(tag);
        let mut config = TestConfig::household();
        for name in members {
            let key = SigningKey::create(&dir.join(&format!("{name}.key"))).expect("key");
            config = config.member(name, &key.public_key());
        }
        let config = configure(config).write(&dir, &broker);
        let watcher = watch(broker.port(), &[UPSTREAM.into(), format!("{REQUESTS}+")]);
        let daemon = start_daemon_env(&config, env);
        wait_for_db(&dir);
        wait_online(broker.port(), "testhub");
        Household {
            broker,
            dir,
            config,
            daemon,
            watcher,
        }
    }

    /// The key file of `member`.
    pub fn key_file(&self, member: &str) -> PathBuf {
        self.dir.join(&format!("{member}.key"))
    }

    /// The signing key of `member`.
    pub fn key(&self, member: &str) -> SigningKey {
        SigningKey::load(&self.key_file(member)).expect("member key")
    }

    /// Runs `larder ARGS…` with the household's configuration: whether it
    /// succeeded, and its standard output and error.
    pub fn larder(&self, args: &[&str]) -> (bool, String) {
        let out = larder(&self.config, args);
        (
            out.status.success(),
            format!("{}{}", text(&out.stdout), text(&out.stderr)),
        )
    }

    /// The state of the intent `id`.
    pub fn state_of(&self, id: &str) -> IntentState {
        open_db(&self.dir)
            .read()
            .intent(id)
            .expect("q")
            .expect("row")
            .state
    }

    /// Waits until the intent `id` is in `state`.
    pub fn wait_state(&self, id: &str, state: IntentState) {
        let db = open_db(&self.dir);
        wait_until(
            Duration::from_secs(20),
            &format!("intent {id} {}", state.as_str()),
            || intent_is(&db, id, state),
        );
    }

    /// Waits until the relay has published everything queued, so a count
    /// of what went upstream is final.
    pub fn drained(&self) {
        let db = open_db(&self.dir);
        wait_until(Duration::from_secs(20), "the outbox drained", || {
            db.read().unsent_outbox().ok() == Some(0)
        });
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Waits for a dead letter whose reason contains `what`.
    pub fn dead_letter_says(&self, what: &str) {
        let db = open_db(&self.dir);
        wait_until(Duration::from_secs(20), what, || {
            db.read()
                .dead_letters(20)
                .unwrap_or_default()
                .iter()
                .any(|d| d.reason.contains(what))
        });
    }

    /// `larder ledger verify` accepts the ledger; returns `larder ledger show`.
    pub fn ledger_verifies(&self) -> String {
        let (ok, text) = self.larder(&["ledger", "verify"]);
        assert!(ok, "ledger verify: {text}");
        let (ok, shown) = self.larder(&["ledger", "show"]);
        assert!(ok, "ledger show: {shown}");
        shown
    }
}
