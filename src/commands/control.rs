//! `larder pause|resume|guests|cancel`: signed control messages a member
//! publishes for the running larder (`forget` sends one too).

use super::Reply;
use super::support::{Signer, parse_duration, runtime};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::crypto::keys;
use crate::daemon::mqtt;
use crate::protocol::control::{self, ControlCommand};
use crate::protocol::topics::Topics;
use anyhow::{Context as _, bail};
use std::time::Duration;

/// `larder pause [--for D]`: the household is away (until D from now).
pub(super) fn pause(
    config: &Config,
    duration: Option<&str>,
    signer: &Signer,
) -> anyhow::Result<()> {
    let now = SystemClock.now();
    let until = duration
        .map(parse_duration)
        .transpose()?
        .map(|secs| now + secs);
    runtime()?.block_on(send_control(
        config,
        signer,
        ControlCommand::Pause { until },
    ))
}

/// `larder resume`: the household is back.
pub(super) fn resume(config: &Config, signer: &Signer) -> anyhow::Result<()> {
    runtime()?.block_on(send_control(config, signer, ControlCommand::Resume))
}

/// `larder guests --factor F --for D`: expect F times the usual use for D.
pub(super) fn guests(
    config: &Config,
    factor: f64,
    duration: &str,
    signer: &Signer,
) -> anyhow::Result<()> {
    let until = SystemClock.now() + parse_duration(duration)?;
    runtime()?.block_on(send_control(
        config,
        signer,
        ControlCommand::Guests { factor, until },
    ))
}

/// `larder cancel ID`: cancel an approved intent inside the window.
pub(super) fn cancel(config: &Config, reply: &Reply) -> anyhow::Result<()> {
    let intent = reply.intent.to_ascii_lowercase();
    if intent.len() != 32 || !intent.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "intent id {:?} must be 32 hex digits (as in the approval request or `larder status`)",
            reply.intent
        );
    }
    runtime()?.block_on(send_control(
        config,
        &reply.signer,
        ControlCommand::Cancel { intent },
    ))
}

/// `larder pause|resume|guests`: sign a control message and publish it.
pub(super) async fn send_control(
    config: &Config,
    signer: &Signer,
    command: ControlCommand,
) -> anyhow::Result<()> {
    let (key, member) = signer.load(config)?;
    if let ControlCommand::Guests { factor, .. } = command {
        if !(1.0..=20.0).contains(&factor) {
            bail!("--factor must be between 1 and 20, got {factor}");
        }
    }
    let topics = Topics::new(config);
    let what = format!("{command:?}");
    let envelope = control::sign_control(
        &key,
        &control::ControlClaims {
            hub: config.hub.id.clone(),
            member: member.clone(),
            command: command.clone(),
            issued_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
        },
    );
    let client_id = format!("larder-cli-{}", keys::to_hex(&keys::random_bytes::<6>()));
    let opts = mqtt::options(&config.mqtt, &client_id, false, None)?;
    mqtt::publish_once(
        opts,
        &topics.control,
        envelope,
        false,
        Duration::from_secs(signer.timeout),
    )
    .await
    .map_err(anyhow::Error::msg)
    .with_context(|| format!("publishing on {}", topics.control))?;
    println!("{member}'s signed {what} published on {}", topics.control);
    Ok(())
}
