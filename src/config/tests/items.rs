//! `[[items]]`: currencies, declared usage, the item's own order policy, and
//! stock levels.

use super::{MINIMAL, check, ok};
use crate::core::rules::CategoryPolicy;

#[test]
fn currencies_must_be_iso_codes_and_agree() {
    check(
        &MINIMAL.replace(r#"currency = "EUR""#, r#"currency = "euro""#),
        &["rules.currency: \"euro\" is not an ISO 4217 code"],
    );
    check(
        &MINIMAL.replace(r#"slot = "milk""#, "slot = \"milk\"\ncurrency = \"USD\""),
        &["items[0].currency: \"USD\" differs from rules.currency \"EUR\""],
    );
    check(
        &MINIMAL.replace(r#"slot = "milk""#, "slot = \"milk\"\ncurrency = \"eu\""),
        &["items[0].currency: \"eu\" is not an ISO 4217 code"],
    );
}

#[test]
fn declared_usage_is_converted_to_units_per_day() {
    for (amount, per, per_day) in [(3.0, "day", 3.0), (7.0, "week", 1.0), (15.0, "month", 0.5)] {
        let c = ok(&MINIMAL.replace(
            r#"slot = "milk""#,
            &format!("slot = \"milk\"\ndeclared-usage = {{ amount = {amount}, per = \"{per}\" }}"),
        ));
        assert_eq!(c.items[0].model.declared_per_day, Some(per_day), "{per}");
    }
}

#[test]
fn an_items_own_order_policy_overrides_its_category() {
    let text = MINIMAL.replace(
        "category = \"dairy\"\n",
        "category = \"dairy\"\norder = \"never\"\n",
    );
    let c = ok(&format!("{text}[rules.categories]\ndairy = \"auto\"\n"));
    assert_eq!(c.policy_for("dairy"), CategoryPolicy::Allow);
    assert_eq!(c.items[0].order, Some(CategoryPolicy::Deny));
    assert_eq!(c.policy_for_item(&c.items[0]), CategoryPolicy::Deny);
    check(
        &MINIMAL.replace(
            "category = \"dairy\"\n",
            "category = \"dairy\"\norder = \"sometimes\"\n",
        ),
        &["items[0].order: unknown policy \"sometimes\""],
    );
}

#[test]
fn min_and_desired_levels_are_checked() {
    let with = |extra: &str| {
        MINIMAL.replace(
            "category = \"dairy\"\n",
            &format!("category = \"dairy\"\n{extra}"),
        )
    };
    let c = ok(&with("min-level = 1.5\ndesired-level = 4\n"));
    assert_eq!(c.items[0].min_level, Some(1.5));
    assert_eq!(c.items[0].desired_level, Some(4.0));
    check(
        &with("min-level = 3\ndesired-level = 2\n"),
        &["items[0].desired-level: 2 is below min-level 3"],
    );
    check(&with("min-level = -1\n"), &["items[0].min-level"]);
}
