//! Unit tests of the engine's pure parts: money rounding, the price guard,
//! and the reply topics it routes by.

use super::decide::round_cents;
use super::shop_acks::{Breach, price_guard};
use crate::protocol::intent;
use crate::protocol::topics::Topics;
use crate::store::{IntentRow, IntentState};

#[test]
fn money_ceilings_round_up_to_cents() {
    assert_eq!(round_cents(2.42), 2.42);
    assert_eq!(round_cents(2.421), 2.43);
    assert_eq!(round_cents(0.0), 0.0);
}

#[test]
fn the_price_guard_checks_every_part_the_shop_states() {
    let row = IntentRow {
        id: "i".into(),
        item: "milk".into(),
        state: IntentState::Sent,
        product: "sku-milk".into(),
        packages: 2,
        quantity: 2.0,
        unit_price: 1.0,
        price_ceiling: 2.2,
        currency: "EUR".into(),
        deliver_after: 0,
        deliver_before: 0,
        nonce: None,
        prompt_at: None,
        expires_at: None,
        approvals_required: 0,
        why: Vec::new(),
        decided_by: None,
        created_at: 0,
        updated_at: 0,
    };
    let quote = |total: Option<f64>, currency: Option<&str>, product: Option<&str>| intent::Quote {
        total,
        currency: currency.map(str::to_owned),
        product: product.map(str::to_owned),
    };
    assert_eq!(price_guard(&row, &quote(None, None, None)), None);
    assert_eq!(
        price_guard(&row, &quote(Some(2.2), Some("EUR"), Some("sku-milk"))),
        None
    );
    assert_eq!(
        price_guard(&row, &quote(Some(2.2), Some("eur"), None)),
        None
    );
    assert_eq!(
        price_guard(&row, &quote(Some(2.201), None, None)),
        Some(Breach::Price),
        "not even a tenth of a cent above the signed ceiling"
    );
    assert_eq!(
        price_guard(&row, &quote(Some(1.0), Some("USD"), None)),
        Some(Breach::Currency)
    );
    assert_eq!(
        price_guard(&row, &quote(Some(1.0), None, Some("sku-oat"))),
        Some(Breach::Product)
    );
    let text = Breach::Price.describe(&row, &quote(Some(3.1), None, None));
    assert_eq!(
        text,
        "the shop quoted 3.10 EUR for 2 × sku-milk, above the 2.20 EUR ceiling"
    );
}

#[test]
fn reply_topics_name_exactly_one_intent() {
    let topics = Topics {
        status: String::new(),
        control: String::new(),
        approvals_prefix: "larder/home/approvals/".into(),
        replies_filter: String::new(),
        upstream: String::new(),
        upstream_acks: String::new(),
    };
    assert_eq!(
        topics.reply_intent("larder/home/approvals/abc/reply"),
        Some("abc")
    );
    assert_eq!(topics.reply_intent("larder/home/approvals//reply"), None);
    assert_eq!(topics.reply_intent("larder/home/approvals/a/b/reply"), None);
    assert_eq!(topics.reply_intent("larder/home/approvals/abc"), None);
    assert_eq!(
        topics.reply_intent("larder/other/approvals/abc/reply"),
        None
    );
}
