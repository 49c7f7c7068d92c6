//! What the log says about refused messages: the first refusal of each
//! kind (counter) on a topic in full, then at most one line per topic per
//! minute with how many more there were. A burst of 5 000 junk messages is
//! a few lines, not 5 000; every refusal is still counted and dead-lettered
//! by the engine.
//!
//! Pure: the writer gives it the time from the daemon's clock and logs the
//! lines it returns ([`log`]); nothing here sleeps or reads a clock.

use crate::engine::Refused;
use std::collections::BTreeMap;

/// Seconds between two lines about one topic.
pub const LINE_EVERY_SECS: i64 = 60;

/// Most topics followed at once; refusals on further topics are summed up
/// under [`OTHER_TOPICS`] (a hostile client can make up topics under a
/// wildcard subscription).
pub const MAX_TOPICS: usize = 64;

/// The topic named in lines about topics beyond [`MAX_TOPICS`].
pub const OTHER_TOPICS: &str = "(other topics)";

/// A line to log, at WARN.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// The first refusal of its kind on its topic, in full.
    First {
        /// Topic.
        topic: String,
        /// Size of the message in bytes.
        bytes: usize,
        /// Counter the refusal went under (`refused_events`, …).
        counter: &'static str,
        /// Why.
        reason: String,
    },
    /// Refusals on a topic since its last line.
    More {
        /// Topic (or [`OTHER_TOPICS`]).
        topic: String,
        /// How many, in all.
        count: u64,
        /// How many under each counter, e.g. `refused_events 4998`.
        by_counter: Vec<(&'static str, u64)>,
        /// Seconds since the topic's last line.
        over_secs: i64,
        /// The latest reason among them.
        latest: String,
    },
}

/// One topic's refusals since its last line.
#[derive(Debug, Default)]
struct Topic {
    /// When its last line was logged.
    line_at: i64,
    /// Counters whose first refusal was logged in full.
    seen: Vec<&'static str>,
    /// Refusals not logged yet, per counter.
    held: BTreeMap<&'static str, u64>,
    /// The latest held reason.
    latest: String,
}

/// The refusals seen recently, per topic (at most [`MAX_TOPICS`] + 1).
#[derive(Debug, Default)]
pub struct RefusalLog {
    topics: BTreeMap<String, Topic>,
}

impl RefusalLog {
    /// Takes note of a refusal at `now` (Unix seconds); returns the line to
    /// log now, if any.
    pub fn note(&mut self, refused: &Refused, now: i64) -> Option<Line> {
        let counter = refused.refusal.counter;
        let key = if self.topics.contains_key(&refused.topic) || self.topics.len() < MAX_TOPICS {
            refused.topic.as_str()
        } else {
            OTHER_TOPICS
        };
        let topic = match self.topics.get_mut(key) {
            Some(topic) => topic,
            None => self.topics.entry(key.to_owned()).or_insert(Topic {
                line_at: now,
                ..Topic::default()
            }),
        };
        if !topic.seen.contains(&counter) {
            topic.seen.push(counter);
            return Some(Line::First {
                topic: refused.topic.clone(),
                bytes: refused.size,
                counter,
                reason: refused.refusal.reason.clone(),
            });
        }
        *topic.held.entry(counter).or_default() += 1;
        topic.latest.clone_from(&refused.refusal.reason);
        if now - topic.line_at >= LINE_EVERY_SECS {
            return more(key, topic, now);
        }
        None
    }

    /// The lines due at `now`: for each topic with refusals held whose last
    /// line is a minute old. A topic quiet for a minute is forgotten (its
    /// next refusal is logged in full again).
    pub fn due(&mut self, now: i64) -> Vec<Line> {
        let mut lines = Vec::new();
        self.topics.retain(|key, topic| {
            if now - topic.line_at < LINE_EVERY_SECS {
                return true;
            }
            match more(key, topic, now) {
                Some(line) => {
                    lines.push(line);
                    true
                }
                None => false,
            }
        });
        lines
    }

    /// Every line held, whatever its time (at shutdown).
    pub fn drain(&mut self, now: i64) -> Vec<Line> {
        std::mem::take(&mut self.topics)
            .iter_mut()
            .filter_map(|(key, topic)| more(key, topic, now))
            .collect()
    }
}

/// The line for `topic`'s held refusals (none if it holds none), after
/// which it holds none.
fn more(key: &str, topic: &mut Topic, now: i64) -> Option<Line> {
    if topic.held.is_empty() {
        return None;
    }
    let by_counter: Vec<(&'static str, u64)> =
        std::mem::take(&mut topic.held).into_iter().collect();
    let line = Line::More {
        topic: key.to_owned(),
        count: by_counter.iter().map(|(_, n)| n).sum(),
        by_counter,
        over_secs: now - topic.line_at,
        latest: std::mem::take(&mut topic.latest),
    };
    topic.line_at = now;
    Some(line)
}

/// Logs `line` at WARN.
pub fn log(line: &Line) {
    match line {
        Line::First {
            topic,
            bytes,
            counter,
            reason,
        } => {
            tracing::warn!(
                topic = %topic,
                bytes,
                counter = %counter,
                %reason,
                "refused inbound message (more like it on this topic are summed up, one line a minute)"
            );
        }
        Line::More {
            topic,
            count,
            by_counter,
            over_secs,
            latest,
        } => {
            let counters = by_counter
                .iter()
                .map(|(counter, n)| format!("{counter} {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            tracing::warn!(
                topic = %topic,
                refused = count,
                counters = %counters,
                seconds = over_secs,
                latest = %latest,
                "more inbound messages refused on this topic"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Refusal;

    fn refused(topic: &str, counter: &'static str, reason: &str) -> Refused {
        Refused {
            topic: topic.to_owned(),
            size: 7,
            refusal: Refusal {
                counter,
                reason: reason.to_owned(),
            },
        }
    }

    #[test]
    fn a_burst_is_one_line_then_one_a_minute_with_the_count() {
        let mut log = RefusalLog::default();
        let t0 = 1_000;
        let mut lines = Vec::new();
        for i in 0..5_000 {
            let r = refused("dev/fridge", "refused_events", &format!("bad {i}"));
            lines.extend(log.note(&r, t0 + i / 100));
            lines.extend(log.due(t0 + i / 100));
        }
        // 5 000 refusals over 50 s: the first in full, nothing else yet.
        assert_eq!(
            lines,
            [Line::First {
                topic: "dev/fridge".into(),
                bytes: 7,
                counter: "refused_events",
                reason: "bad 0".into(),
            }]
        );
        assert_eq!(log.due(t0 + 59), []);
        assert_eq!(
            log.due(t0 + 60),
            [Line::More {
                topic: "dev/fridge".into(),
                count: 4_999,
                by_counter: vec![("refused_events", 4_999)],
                over_secs: 60,
                latest: "bad 4999".into(),
            }]
        );
        // Quiet for a minute: forgotten, so the next one is in full again.
        assert_eq!(log.due(t0 + 120), []);
        let again = log.note(&refused("dev/fridge", "refused_events", "late"), t0 + 121);
        assert!(matches!(again, Some(Line::First { .. })));
    }

    #[test]
    fn each_kind_of_refusal_is_logged_in_full_once_and_a_steady_stream_once_a_minute() {
        let mut log = RefusalLog::default();
        let t0 = 0;
        assert!(log.note(&refused("t", "refused_events", "a"), t0).is_some());
        assert!(
            log.note(&refused("t", "refused_oversize", "b"), t0)
                .is_some()
        );
        assert!(log.note(&refused("u", "refused_events", "c"), t0).is_some());
        assert_eq!(log.note(&refused("t", "refused_events", "d"), t0 + 1), None);
        assert_eq!(
            log.note(&refused("t", "refused_oversize", "e"), t0 + 2),
            None
        );
        // A refusal a minute after the topic's last line brings the line.
        let line = log.note(&refused("t", "refused_events", "f"), t0 + 60);
        assert_eq!(
            line,
            Some(Line::More {
                topic: "t".into(),
                count: 3,
                by_counter: vec![("refused_events", 2), ("refused_oversize", 1)],
                over_secs: 60,
                latest: "f".into(),
            })
        );
        // One every 10 s for 10 minutes: ten lines, one a minute.
        let mut lines = 0;
        for i in 1..=60 {
            let now = t0 + 60 + i * 10;
            lines += usize::from(
                log.note(&refused("t", "refused_events", "g"), now)
                    .is_some(),
            );
            lines += log.due(now).len();
        }
        assert_eq!(lines, 10);
    }

    #[test]
    fn made_up_topics_are_summed_up_beyond_a_bound_and_drained_at_shutdown() {
        let mut log = RefusalLog::default();
        let mut first = 0;
        for i in 0..1_000 {
            let r = refused(
                &format!("larder/h/approvals/{i}/reply"),
                "refused_replies",
                "x",
            );
            first += usize::from(log.note(&r, 5).is_some());
        }
        assert_eq!(
            first,
            MAX_TOPICS + 1,
            "one per topic followed, one for the rest"
        );
        assert_eq!(log.topics.len(), MAX_TOPICS + 1);
        let drained = log.drain(6);
        assert_eq!(
            drained,
            [Line::More {
                topic: OTHER_TOPICS.into(),
                count: 1_000 - MAX_TOPICS as u64 - 1,
                by_counter: vec![("refused_replies", 1_000 - MAX_TOPICS as u64 - 1)],
                over_secs: 1,
                latest: "x".into(),
            }]
        );
        assert!(log.topics.is_empty());
    }
}
