//! Checks of `[[members]]`: distinct names and keys, and whether enough
//! members (and Home Assistant's trusted approver) may approve the orders
//! that can need approval.

use super::Check;
use crate::config::{Item, Member, raw};
use crate::core::rules::{CategoryPolicy, Rules};
use std::collections::HashMap;

impl Check {
    /// `[[members]]`: a plain, unique name and an own Ed25519 key each.
    pub(super) fn members(&mut self, raw: Vec<raw::Member>) -> Vec<Member> {
        let mut out = Vec::with_capacity(raw.len());
        for (i, m) in raw.into_iter().enumerate() {
            let path = format!("members[{i}].public-key");
            let name = self.ident(&format!("members[{i}].name"), m.name, 64);
            let public_key = match m.public_key {
                None => {
                    self.problem(&path, "required key is missing");
                    [0; 32]
                }
                Some(hex) => crate::crypto::keys::parse_public_key(&hex).unwrap_or_else(|e| {
                    self.problem(&path, e);
                    [0; 32]
                }),
            };
            out.push(Member {
                name,
                public_key,
                may_approve: m.may_approve.unwrap_or(true),
            });
        }
        self.unique("members", "name", out.iter().map(|m| m.name.as_str()));
        // One key under two names would let one person count as two approvals.
        let mut seen: HashMap<[u8; 32], usize> = HashMap::new();
        for (i, m) in out.iter().enumerate() {
            if m.public_key == [0; 32] {
                continue;
            }
            if let Some(first) = seen.get(&m.public_key) {
                let message = format!(
                    "members[{i}].public-key: same key as members[{first}]; each member needs their own key"
                );
                self.problems.push(message);
            } else {
                seen.insert(m.public_key, i);
            }
        }
        out
    }

    /// Orders that may be asked need enough members who may approve.
    ///
    /// Only a `deny` category never asks: an `allow` category still asks when
    /// an order exceeds `auto-approve-up-to` (0 by default, i.e. always).
    /// Enough approvers for the items that can need approval: members who
    /// may approve, plus Home Assistant's approver when `trusted_ha`.
    pub(super) fn approvers(
        &mut self,
        items: &[Item],
        members: &[Member],
        rules: &Rules,
        trusted_ha: bool,
    ) {
        let askable: Vec<&str> = items
            .iter()
            .filter(|it| {
                it.order.unwrap_or_else(|| {
                    rules
                        .categories
                        .get(&it.category)
                        .copied()
                        .unwrap_or(rules.default_policy)
                }) != CategoryPolicy::Deny
            })
            .map(|it| it.id.as_str())
            .collect();
        if askable.is_empty() {
            return;
        }
        let approvers = members.iter().filter(|m| m.may_approve).count() + usize::from(trusted_ha);
        if approvers == 0 {
            self.problem(
                "members",
                format_args!(
                    "no member may approve, but orders of {} can need approval; \
                     add a [[members]] entry with may-approve = true \
                     (or [homeassistant] trusted-approvals = true)",
                    askable.join(", ")
                ),
            );
        } else if rules.approvals_required as usize > approvers {
            self.problem(
                "rules.approvals-required",
                format_args!(
                    "{} approvals required but only {approvers} member(s) may approve{}",
                    rules.approvals_required,
                    if trusted_ha {
                        " (counting Home Assistant's trusted approver)"
                    } else {
                        ""
                    }
                ),
            );
        }
    }
}
