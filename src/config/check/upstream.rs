//! Checks of `[upstream]`: exact topics outside larder's approval topics,
//! the price tolerance and top-up horizon.

use super::{Check, approvals_prefix};
use crate::config::{Upstream, raw};

impl Check {
    /// `[upstream]`; topics default to `larder/<hub id>/upstream/...`.
    pub(super) fn upstream(&mut self, raw: raw::Upstream, hub_id: &str) -> Upstream {
        let topic = raw
            .topic
            .unwrap_or_else(|| format!("larder/{hub_id}/upstream/intents"));
        let ack_topic = raw
            .ack_topic
            .unwrap_or_else(|| format!("larder/{hub_id}/upstream/acks"));
        let approvals = approvals_prefix(hub_id);
        for (path, t) in [
            ("upstream.topic", &topic),
            ("upstream.ack-topic", &ack_topic),
        ] {
            self.topic(path, t);
            if t.starts_with(&approvals) {
                self.problem(
                    path,
                    format_args!("{t:?} is inside larder's approval topics ({approvals}/...)"),
                );
            }
        }
        if topic == ack_topic {
            self.problem(
                "upstream.ack-topic",
                "must differ from upstream.topic (larder would read its own intents as acks)",
            );
        }
        let percent = self.number(
            "upstream.price-tolerance-percent",
            raw.price_tolerance_percent,
            10.0,
            |v| (0.0..=100.0).contains(&v),
            "between 0 and 100",
        );
        let top_up_days = self.number(
            "upstream.top-up-days",
            raw.top_up_days,
            2.0,
            |v| (0.0..=30.0).contains(&v),
            "between 0 and 30",
        );
        Upstream {
            topic,
            ack_topic,
            price_tolerance: percent / 100.0,
            top_up_days,
        }
    }
}
