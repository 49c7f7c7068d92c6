//! `larder forget`: erase an item or the household, irreversibly; directly
//! when larder is not running, otherwise through a signed control message
//! the running larder executes (the database has one writer).

use super::control::send_control;
use super::support::{Signer, runtime};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::protocol::control::{ControlCommand, ForgetScope};
use crate::protocol::topics::Topics;
use crate::store::Store;
use anyhow::{Context as _, bail};
use std::path::Path;
use std::time::Duration;

/// `larder forget`: confirm, then erase directly (larder not running) or
/// have the running larder erase (signed control message).
pub(super) fn run(
    config: &Config,
    scope: ForgetScope,
    yes: bool,
    signer: Option<Signer>,
    wait: Duration,
) -> anyhow::Result<()> {
    use crate::store::{LockError, StateLock};
    let what = match &scope {
        ForgetScope::Item(item) => {
            if config.item(item).is_none() {
                eprintln!(
                    "note: {item:?} is not an item in the configuration; erasing whatever is stored under that id"
                );
            }
            format!("everything larder holds about item {item:?}")
        }
        ForgetScope::Household => "everything larder holds about this household".to_owned(),
    };
    let database = config.hub.database_path();
    if !database.exists() {
        bail!("no database at {}: nothing to forget", database.display());
    }
    if !yes {
        eprint!(
            "This erases {what}, irreversibly (the ledger keeps only that a forget happened).\nType yes to go on: "
        );
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .context("reading the confirmation")?;
        if answer.trim() != "yes" {
            bail!("not confirmed: nothing was erased (pass --yes to skip the question)");
        }
    }
    let state_dir = &config.hub.state_dir;
    match StateLock::acquire(state_dir) {
        Ok(_lock) => {
            let mut store = Store::open(&database)
                .with_context(|| format!("opening {}", database.display()))?;
            let now = SystemClock.now();
            let tx = store.transaction()?;
            let gone =
                crate::engine::forget::apply(&tx, config, &Topics::new(config), &scope, now)?;
            tx.commit()?;
            let bytes = store.scrub()?;
            let wiped = crate::store::wipe_quarantined(&database)?;
            println!(
                "forgot {what}: {} observations, {} daily aggregates, {} intents, {} replies, {} outbox rows, {} dead letters, {} ledger bodies erased{}; ledger entry {} records it; database scrubbed ({bytes} bytes){}",
                gone.observations,
                gone.days,
                gone.intents,
                gone.approvals,
                gone.outbox,
                gone.dead_letters,
                gone.redacted,
                if gone.key { ", item key destroyed" } else { "" },
                gone.ledger_seq,
                if wiped.is_empty() {
                    String::new()
                } else {
                    format!("; quarantined copies wiped: {}", wiped.len())
                },
            );
            Ok(())
        }
        Err(held @ LockError::Held { .. }) => {
            let Some(signer) = signer else {
                return Err(anyhow::Error::new(held)).context(
                    "larder is running: pass a member's --key so it executes the forget (the database has one writer)",
                );
            };
            let before = forget_entries(&database)?;
            runtime()?.block_on(send_control(
                config,
                &signer,
                ControlCommand::Forget(scope.clone()),
            ))?;
            let deadline = std::time::Instant::now() + wait;
            loop {
                let now = forget_entries(&database)?;
                if now.0 > before.0 {
                    println!(
                        "forgot {what}: executed by the running larder, ledger entry {}",
                        now.1
                    );
                    return Ok(());
                }
                if std::time::Instant::now() >= deadline {
                    bail!(
                        "the running larder did not record the forget within {} s: check its log (`journalctl -u larder`) for a refused control message",
                        wait.as_secs()
                    );
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Err(other) => Err(other.into()),
    }
}

/// (number of forget entries, newest forget entry's seq) in the ledger.
fn forget_entries(database: &Path) -> anyhow::Result<(u64, i64)> {
    let store = Store::open_readonly(database)
        .with_context(|| format!("opening {} read-only", database.display()))?;
    let mut count = 0;
    let mut last = 0;
    store.read().each_ledger_entry(|row| {
        if row.kind == crate::ledger::Kind::Forget.as_str() {
            count += 1;
            last = row.seq;
        }
        true
    })?;
    Ok((count, last))
}
