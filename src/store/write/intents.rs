//! Intents: inserting one (the schema allows one open intent per item),
//! moving it between states, and recording a member's reply (once).

use super::Tx;
use crate::store::rows::{ApprovalRow, INTENT_COLUMNS, IntentRow, IntentState};
use crate::store::{Result, StoreError};
use rusqlite::params;

impl Tx<'_> {
    /// Inserts a new intent. Fails (constraint) if the item already has an
    /// open intent: the schema, not the caller, guarantees one per item.
    pub fn insert_intent(&self, intent: &IntentRow) -> Result<()> {
        let why = serde_json::to_string(&intent.why).map_err(|e| StoreError::Decode {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        self.tx
            .execute(
                &format!(
                    "INSERT INTO intents ({INTENT_COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
                ),
                params![
                    intent.id,
                    intent.item,
                    intent.state.as_str(),
                    intent.product,
                    intent.packages,
                    intent.quantity,
                    intent.unit_price,
                    intent.price_ceiling,
                    intent.currency,
                    intent.deliver_after,
                    intent.deliver_before,
                    intent.nonce,
                    intent.prompt_at,
                    intent.expires_at,
                    intent.approvals_required,
                    why,
                    intent.decided_by,
                    intent.created_at,
                    intent.updated_at
                ],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Moves an intent from `from` to `to`; returns whether exactly this
    /// transition happened (false if the intent was not in `from`).
    pub fn transition_intent(
        &self,
        id: &str,
        from: IntentState,
        to: IntentState,
        decided_by: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let changed = self
            .tx
            .execute(
                "UPDATE intents SET state = ?3, decided_by = COALESCE(?4, decided_by), updated_at = ?5 \
                 WHERE id = ?1 AND state = ?2",
                params![id, from.as_str(), to.as_str(), decided_by, now],
            )
            .map_err(self.err())?;
        Ok(changed == 1)
    }

    /// Records a member's reply; false if that member already replied.
    pub fn record_approval(&self, approval: &ApprovalRow) -> Result<bool> {
        let changed = self
            .tx
            .execute(
                "INSERT INTO approvals (intent_id, member, verdict, digest, envelope, received_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (intent_id, member) DO NOTHING",
                params![
                    approval.intent_id,
                    approval.member,
                    approval.verdict,
                    approval.digest,
                    approval.envelope,
                    approval.received_at
                ],
            )
            .map_err(self.err())?;
        Ok(changed == 1)
    }
}
