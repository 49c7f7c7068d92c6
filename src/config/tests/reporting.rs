//! How problems are reported: unknown keys and semantic problems together,
//! each named by its key path, all at once; parse errors naming the line;
//! the field checks every section shares (required, ids, duplicates,
//! numbers); and the rendering of `ConfigError::Invalid`.

use super::{INVALID, MINIMAL, check, parse_message, path, problems};
use crate::config::Config;

#[test]
fn unknown_keys_are_all_named_by_path() {
    let text = format!(
        "colour = 1\n{}",
        MINIMAL.replace("[mqtt]", "[mqtt]\nport = 1883").replace(
            r#"slot = "milk""#,
            r#"slot = "milk"
declared-usage = { amount = 1, per = "day", every = 2 }"#
        ) + r#"
[[items]]
id = "eggs"
name = "Eggs"
unit = "pcs"
package-size = 10
product = "sku-2"
price = 3
category = "dairy"
device = "fridge"
slot = "eggs"
colour = "brown"

[bogus]
x = 1
"#
    );
    let got = problems(&text);
    for want in [
        "colour: unknown key",
        "mqtt.port: unknown key",
        "items[0].declared-usage.every: unknown key",
        "items[1].colour: unknown key",
        "bogus: unknown key",
    ] {
        assert!(
            got.iter().any(|p| p == want),
            "missing {want:?} in {got:#?}"
        );
    }
    assert_eq!(got.len(), 5, "{got:#?}");
}

#[test]
fn unknown_keys_and_semantic_problems_are_reported_together() {
    check(
        &MINIMAL
            .replace("[hub]", "[hub]\nname = \"x\"")
            .replace(r#"device = "fridge""#, r#"device = "freezer""#),
        &[
            "hub.name: unknown key",
            "items[0].device: unknown device \"freezer\"",
        ],
    );
}

#[test]
fn quoted_unknown_keys_are_written_as_toml_would() {
    check(
        &MINIMAL.replace("[hub]", "[hub]\n\"a.b\" = 1"),
        &["hub.\"a.b\": unknown key"],
    );
}

#[test]
fn type_errors_are_parse_errors_naming_the_line() {
    let message = parse_message(&MINIMAL.replace("[mqtt]", "[mqtt]\nkeep-alive-secs = \"30\""));
    assert!(message.contains("keep-alive-secs"), "{message}");
    assert!(message.contains("line"), "{message}");
    let message = parse_message(&MINIMAL.replace("price = 1.10", "price = \"cheap\""));
    assert!(message.contains("price"), "{message}");
}

#[test]
fn syntax_errors_are_parse_errors() {
    let message = parse_message("[hub\nid = 1");
    assert!(message.contains("line 1"), "{message}");
}

#[test]
fn missing_required_keys_are_named() {
    check(
        "",
        &[
            "hub.id: required key is missing",
            "mqtt.url: required key is missing",
            "items: at least one [[items]] entry is required",
        ],
    );
    check(
        "[hub]\nid = \"h\"\n[mqtt]\nurl = \"mqtt://x\"\n[[items]]\n",
        &[
            "items[0].id: required key is missing",
            "items[0].name: required key is missing",
            "items[0].package-size: required key is missing",
            "items[0].price: required key is missing",
            "items[0].device: required key is missing",
            "rules.currency: required key is missing",
        ],
    );
}

#[test]
fn duplicates_are_named_with_both_indices() {
    let text = MINIMAL.to_owned()
        + r#"
[[devices]]
id = "fridge"
topic = "larder/home/devices/fridge/events"
format = "cbor"

[[items]]
id = "milk"
name = "Milk again"
unit = "l"
package-size = 1.0
product = "sku-1"
price = 1.10
category = "dairy"
device = "fridge"
slot = "milk"

[[members]]
name = "anna"
public-key = "3517338e374dbf7c24667cb632b465d0b22fe3dfc6eeb9d7d3726a9e9d1dd3c6"
"#;
    check(
        &text,
        &[
            "devices[1].id: duplicate id \"fridge\" (also devices[0].id)",
            "devices[1].topic: duplicate topic",
            "items[1].id: duplicate id \"milk\" (also items[0].id)",
            "items[1].slot: slot \"milk\" of device \"fridge\" is already measured by items[0]",
            "members[1].name: duplicate name \"anna\" (also members[0].name)",
            "members[1].public-key: same key as members[0]",
        ],
    );
}

#[test]
fn ids_must_be_plain() {
    check(
        &MINIMAL.replace(r#"id = "home""#, r#"id = "my home""#),
        &["hub.id: \"my home\" is not a valid id"],
    );
    check(
        &MINIMAL.replace(r#"id = "milk""#, r#"id = "milk/1""#),
        &["items[0].id: \"milk/1\" is not a valid id"],
    );
    check(
        &MINIMAL.replace(r#"id = "home""#, &format!("id = {:?}", "h".repeat(65))),
        &["hub.id:"],
    );
}

#[test]
fn numbers_must_be_finite_and_in_range() {
    let cases = [
        (
            "price = 1.10",
            "price = nan",
            "items[0].price: must be a finite number",
        ),
        (
            "price = 1.10",
            "price = 1.10\nnoise = 1.0",
            "items[0].noise: 1 must be smaller than package-size",
        ),
        (
            "price = 1.10",
            "price = 1.10\nservice-level = 1.0",
            "items[0].service-level: must be between 0.5 and 0.999",
        ),
        (
            "price = 1.10",
            "price = 1.10\nreview-days = 0",
            "items[0].review-days: must be greater than 0",
        ),
        (
            "price = 1.10",
            "price = 1.10\nlead-time-days = -1",
            "items[0].lead-time-days: must be 0 or more",
        ),
        (
            "price = 1.10",
            "price = 1.10\nshelf-life-days = inf",
            "items[0].shelf-life-days: must be a finite number",
        ),
        (
            "price = 1.10",
            "price = 1.10\nmeasure = \"weight\"",
            "items[0].measure: unknown measure \"weight\"",
        ),
        (
            "price = 1.10",
            "price = 1.10\ndeclared-usage = { amount = 1, per = \"year\" }",
            "items[0].declared-usage.per: unknown period \"year\"",
        ),
        (
            "[mqtt]",
            "[mqtt]\nkeep-alive-secs = 4",
            "mqtt.keep-alive-secs: must be between 5 and 600, got 4",
        ),
        (
            "[mqtt]",
            "[mqtt]\nmax-payload-bytes = 2000000",
            "mqtt.max-payload-bytes: must be between 1024 and 1048576",
        ),
        (
            "[rules]",
            "[upstream]\nprice-tolerance-percent = 101\n[rules]",
            "upstream.price-tolerance-percent: must be between 0 and 100",
        ),
        (
            "[rules]",
            "[rules]\nmonthly-budget = -inf",
            "rules.monthly-budget: must be a finite number",
        ),
        (
            "[rules]",
            "[rules]\napproval-expires-after-hours = 0",
            "rules.approval-expires-after-hours: must be greater than 0",
        ),
        (
            "[rules]",
            "[rules]\nmax-orders-per-item = { count = 0, days = 7 }",
            "rules.max-orders-per-item.count: must be between 1",
        ),
    ];
    for (from, to, want) in cases {
        check(&MINIMAL.replace(from, to), &[want]);
    }
}

#[test]
fn many_problems_are_reported_at_once() {
    let text = MINIMAL
        .replace(r#"url = "mqtt://127.0.0.1""#, r#"url = "http://127.0.0.1""#)
        .replace(r#"format = "json""#, r#"format = "xml""#)
        .replace("package-size = 1.0", "package-size = 0")
        .replace("price = 1.10", "price = -1")
        .replace(
            "3517338e374dbf7c24667cb632b465d0b22fe3dfc6eeb9d7d3726a9e9d1dd3c6",
            "abc",
        )
        + "default-category = \"maybe\"\n";
    let got = problems(&text);
    let expected = [
        "mqtt.url: \"http://127.0.0.1\" must start with mqtt:// or mqtts://",
        "devices[0].format: unknown format \"xml\"",
        "items[0].package-size: must be greater than 0, got 0",
        "items[0].price: must be 0 or more, got -1",
        "members[0].public-key: public key must be 64 hex digits",
        "rules.default-category: unknown policy \"maybe\"",
    ];
    for want in expected {
        assert!(
            got.iter().any(|p| p.starts_with(want)),
            "missing {want:?} in {got:#?}"
        );
    }
    assert_eq!(got.len(), expected.len(), "{got:#?}");
}

#[test]
fn invalid_error_display_lists_every_problem_on_its_own_line() {
    let e = Config::parse(INVALID, path()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("invalid config /etc/larder/larder.toml:\n  "),
        "{text}"
    );
    assert!(text.contains("\n  items[0].colour: unknown key"), "{text}");
}
