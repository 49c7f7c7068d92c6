//! `larder approve|deny|pending`: the household's side of approvals, over
//! the broker. A reply is signed with a member's key against the nonce of
//! the retained request; `pending` lists the retained requests.

use super::Reply;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::crypto::keys;
use crate::daemon::mqtt;
use crate::protocol::approval::{self, ApprovalRequest, ReplyClaims};
use crate::protocol::topics::Topics;
use crate::text::format_time;
use anyhow::{Context as _, bail};
use std::time::Duration;

/// `larder approve|deny`: fetch the retained request (for its nonce), sign
/// the reply with the member's key, publish it and wait for the PUBACK.
pub(super) async fn send_reply(
    config: &Config,
    reply: &Reply,
    verdict: approval::MemberVerdict,
) -> anyhow::Result<()> {
    let (key, member) = reply.signer.load(config)?;
    let topics = Topics::new(config);
    let timeout = Duration::from_secs(reply.signer.timeout);
    let client_id = format!("larder-cli-{}", keys::to_hex(&keys::random_bytes::<6>()));
    let opts = mqtt::options(&config.mqtt, &client_id, false, None)?;
    let request_topic = topics.approval_request(&reply.intent);
    let bytes = mqtt::fetch_retained(opts.clone(), &request_topic, timeout)
        .await
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("reading the approval request on {request_topic}"))?
        .with_context(|| {
            format!(
                "no pending approval request for intent {} (on {request_topic}); it may be decided, expired or not yet published",
                reply.intent
            )
        })?;
    let request: ApprovalRequest = serde_json::from_slice(&bytes)
        .with_context(|| format!("decoding the approval request on {request_topic}"))?;
    if request.intent != reply.intent || request.hub != config.hub.id {
        bail!(
            "the request on {request_topic} is for hub {:?} intent {:?}, not ours",
            request.hub,
            request.intent
        );
    }
    let nonce = keys::from_hex(&request.nonce).context("the request's nonce is not hex")?;
    let now = SystemClock.now();
    if now > request.expires_at {
        bail!(
            "the request for intent {} expired at {}",
            request.intent,
            format_time(request.expires_at)
        );
    }
    println!(
        "{} {} × {} ({}), up to {:.2} {}",
        match verdict {
            approval::MemberVerdict::Approve => "approving",
            approval::MemberVerdict::Deny => "denying",
        },
        request.packages,
        request.item_name,
        request.product,
        request.price_ceiling,
        request.currency
    );
    for why in &request.why {
        println!("  because: {why}");
    }
    let envelope = approval::sign_reply(
        &key,
        &ReplyClaims {
            hub: config.hub.id.clone(),
            intent: request.intent.clone(),
            nonce,
            verdict,
            member: member.clone(),
            issued_at: now,
        },
    );
    mqtt::publish_once(opts, &request.reply_topic, envelope, false, timeout)
        .await
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("publishing the reply on {}", request.reply_topic))?;
    println!(
        "signed reply from {member} published on {}",
        request.reply_topic
    );
    Ok(())
}

/// Text from the broker made safe for a terminal: control characters
/// (escape sequences included) become `?`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// `larder pending`: the approval requests retained on the broker, as text.
pub(super) async fn pending(config: &Config, timeout: Duration) -> anyhow::Result<String> {
    use std::fmt::Write;
    let topics = Topics::new(config);
    let filter = topics.approval_request("+");
    let client_id = format!("larder-cli-{}", keys::to_hex(&keys::random_bytes::<6>()));
    let opts = mqtt::options(&config.mqtt, &client_id, false, None)?;
    let (found, complete) =
        mqtt::collect_retained(opts, &filter, Duration::from_millis(500), timeout)
            .await
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("reading the approval requests on {filter}"))?;
    let mut requests: Vec<ApprovalRequest> = Vec::new();
    let mut out = String::new();
    for (topic, payload) in found {
        match serde_json::from_slice::<ApprovalRequest>(&payload) {
            Ok(request) if request.hub == config.hub.id => requests.push(request),
            Ok(request) => writeln!(
                out,
                "skipping {}: for hub {:?}",
                printable(&topic),
                request.hub
            )?,
            Err(e) => writeln!(
                out,
                "skipping {}: not an approval request ({e})",
                printable(&topic)
            )?,
        }
    }
    requests.sort_by_key(|r| r.expires_at);
    if !complete {
        writeln!(
            out,
            "the broker was still sending when --timeout ran out: the list may be incomplete"
        )?;
    }
    if requests.is_empty() {
        writeln!(out, "no approval requests are waiting")?;
        return Ok(out);
    }
    for r in &requests {
        writeln!(
            out,
            "{}  {} × {} ({} {}) up to {:.2} {}; needs {} approval(s); expires {}",
            printable(&r.intent),
            r.packages,
            printable(&r.item_name),
            r.quantity,
            printable(&r.unit),
            r.price_ceiling,
            printable(&r.currency),
            r.approvals_required,
            format_time(r.expires_at)
        )?;
        for why in &r.why {
            writeln!(out, "    {}", printable(why))?;
        }
    }
    writeln!(
        out,
        "answer with `larder approve ID --key FILE` or `larder deny ID --key FILE`"
    )?;
    Ok(out)
}
