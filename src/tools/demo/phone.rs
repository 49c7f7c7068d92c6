//! alex's phone app: reads larder's approval requests, shows why, and
//! answers each with a reply signed with alex's Ed25519 key (COSE_Sign1).

use super::timeline::line;
use super::world::DemoWorld;
use crate::crypto::keys;
use crate::protocol::approval::{self, ApprovalRequest, ReplyClaims};
use anyhow::Context as _;
use rumqttc::QoS;

impl DemoWorld {
    /// The app reacts to an approval request.
    pub(super) async fn app_receives(&mut self, payload: &[u8], now: i64) -> anyhow::Result<()> {
        let request: ApprovalRequest =
            serde_json::from_slice(payload).context("app: cannot read approval request")?;
        let n = self.number(&request.intent);
        line(
            now,
            "alex's app",
            &format!(
                "asked to approve #{n}: {} × {} up to {:.2} {}",
                request.packages, request.item_name, request.price_ceiling, request.currency
            ),
        );
        if let Some(why) = request.why.first() {
            line(now, "", &format!("  the app shows why: {why} …"));
        }
        let nonce = keys::from_hex(&request.nonce).context("app: bad nonce")?;
        let envelope = approval::sign_reply(
            &self.alex,
            &ReplyClaims {
                hub: request.hub.clone(),
                intent: request.intent.clone(),
                nonce,
                verdict: approval::MemberVerdict::Approve,
                member: "alex".into(),
                issued_at: now,
            },
        );
        line(
            now,
            "alex's app",
            &format!(
                "alex approves #{n} (COSE_Sign1, Ed25519, {} bytes)",
                envelope.len()
            ),
        );
        self.client
            .publish(request.reply_topic, QoS::AtLeastOnce, false, envelope)
            .await?;
        self.published += 1;
        Ok(())
    }
}
