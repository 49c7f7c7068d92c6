//! `[rules]`: quiet hours, category policies, and enough approvers for the
//! orders that can be asked.

use super::{KEY_B, MINIMAL, check, ok};
use crate::core::rules::{CategoryPolicy, QuietHours};

#[test]
fn quiet_hours_must_be_hh_mm() {
    for bad in ["7:00", "24:00", "22:60", "2200", "22:00:00", "ten"] {
        let text = format!("{MINIMAL}quiet-hours = {{ start = {bad:?}, end = \"07:00\" }}\n");
        check(
            &text,
            &[&format!("rules.quiet-hours.start: {bad:?} is not a time")],
        );
    }
    check(
        &format!("{MINIMAL}quiet-hours = {{ start = \"07:00\" }}\n"),
        &["rules.quiet-hours.end: required key is missing"],
    );
    check(
        &format!("{MINIMAL}quiet-hours = {{ start = \"07:00\", end = \"07:00\" }}\n"),
        &["rules.quiet-hours: start and end are equal"],
    );
    let c = ok(&format!(
        "{MINIMAL}quiet-hours = {{ start = \"00:00\", end = \"23:59\" }}\n"
    ));
    assert_eq!(
        c.rules.quiet_hours,
        Some(QuietHours {
            start_minute: 0,
            end_minute: 1439
        })
    );
}

#[test]
fn categories_policies_are_checked() {
    check(
        &format!("{MINIMAL}[rules.categories]\ndairy = \"yes\"\n"),
        &["rules.categories.dairy: unknown policy \"yes\""],
    );
    let c = ok(&format!(
        "{MINIMAL}default-category = \"allow\"\n[rules.categories]\ndairy = \"deny\"\n"
    ));
    assert_eq!(c.rules.default_policy, CategoryPolicy::Allow);
    assert_eq!(c.policy_for("dairy"), CategoryPolicy::Deny);
}

#[test]
fn asked_orders_need_enough_approvers() {
    check(
        &format!("{MINIMAL}approvals-required = 2\n"),
        &["rules.approvals-required: 2 approvals required but only 1 member(s) may approve"],
    );
    check(
        &MINIMAL.replace("[rules]", "may-approve = false\n[rules]"),
        &["members: no member may approve, but orders of milk can need approval"],
    );
    // An allow-listed category still asks above auto-approve-up-to.
    check(
        &format!("{MINIMAL}auto-approve-up-to = 5\n[rules.categories]\ndairy = \"allow\"\n")
            .replace("[rules]", "may-approve = false\n[rules]"),
        &["members: no member may approve"],
    );
    // Nothing can be asked when every category is denied.
    ok(
        &format!("{MINIMAL}approvals-required = 3\ndefault-category = \"deny\"\n")
            .replace("[rules]", "may-approve = false\n[rules]"),
    );
    let two = MINIMAL.to_owned()
        + &format!(
            "approvals-required = 2\n[[members]]\nname = \"piotr\"\npublic-key = \"{KEY_B}\"\n"
        );
    assert_eq!(ok(&two).rules.approvals_required, 2);
    // Home Assistant's trusted approver counts as one.
    let trusted = "\n[homeassistant]\ntrusted-approvals = true\n";
    ok(&format!("{MINIMAL}approvals-required = 2\n{trusted}"));
    ok(&(MINIMAL.replace("[rules]", "may-approve = false\n[rules]") + trusted));
    check(
        &format!("{MINIMAL}approvals-required = 3\n{trusted}"),
        &[
            "rules.approvals-required: 3 approvals required but only 2 member(s) may approve (counting Home Assistant's trusted approver)",
        ],
    );
    check(
        &format!("{MINIMAL}approvals-required = 0\n"),
        &["rules.approvals-required: must be between 1"],
    );
}
