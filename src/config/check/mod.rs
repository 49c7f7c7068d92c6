//! Stage two: turns the raw file into a `Config`, recording every problem
//! under its key path, so that one run reports all of them.
//!
//! This file holds `Check` itself, its entry and exit ([`Check::start`],
//! [`Check::finish`]), the field checks every section uses (required keys,
//! ids, numbers, paths, topics, uniqueness) and [`Check::config`], which
//! checks the sections in order. Each section's checks are in the file of
//! its name; `members` also checks that enough of them may approve.

mod devices;
mod homeassistant;
mod hub;
mod items;
mod members;
mod mqtt;
mod rules;
mod upstream;

use super::error::{is_ident, key_path};
use super::{Config, ConfigError, DEFAULT_RAW_DAYS, Retention, raw};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};

/// Stage two: turns the raw file into a `Config`, recording every problem.
///
/// Each method returns a usable value even when the input is wrong (a
/// placeholder), so checking continues; the result is discarded if any
/// problem was recorded.
pub(super) struct Check {
    problems: Vec<String>,
}

impl Check {
    /// Stage one: parses `text` into the raw structs `T`, each unknown key
    /// becoming a problem named by its key path. TOML syntax and type
    /// errors stop here as [`ConfigError::Parse`].
    pub(super) fn start<T: DeserializeOwned>(
        text: &str,
        path: &Path,
    ) -> Result<(T, Check), ConfigError> {
        let parse_error = |e: toml::de::Error| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        };
        let de = toml::Deserializer::parse(text).map_err(parse_error)?;
        let mut problems = Vec::new();
        let raw: T = serde_ignored::deserialize(de, |key| {
            problems.push(format!("{}: unknown key", key_path(&key)));
        })
        .map_err(parse_error)?;
        Ok((raw, Check { problems }))
    }

    /// `value` if no problem was recorded, else every problem at once as
    /// [`ConfigError::Invalid`] for the file at `path`.
    pub(super) fn finish<T>(self, value: T, path: &Path) -> Result<T, ConfigError> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_owned(),
                problems: self.problems,
            })
        }
    }

    fn problem(&mut self, path: impl Display, message: impl Display) {
        self.problems.push(format!("{path}: {message}"));
    }

    /// A required string; records a problem if missing or blank.
    fn required(&mut self, path: &str, value: Option<String>) -> String {
        match value {
            None => {
                self.problem(path, "required key is missing");
                String::new()
            }
            Some(v) if v.trim().is_empty() => {
                self.problem(path, "must not be empty");
                v
            }
            Some(v) => v,
        }
    }

    /// A required identifier: `[A-Za-z0-9_-]{1,max}`.
    fn ident(&mut self, path: &str, value: Option<String>, max: usize) -> String {
        let v = self.required(path, value);
        if !v.trim().is_empty() && (!is_ident(&v) || v.len() > max) {
            self.problem(
                path,
                format_args!("{v:?} is not a valid id; use 1 to {max} letters, digits, '_' or '-'"),
            );
        }
        v
    }

    /// A finite number within `ok`, or `default` when absent.
    fn number(
        &mut self,
        path: &str,
        value: Option<f64>,
        default: f64,
        ok: impl Fn(f64) -> bool,
        expected: &str,
    ) -> f64 {
        let Some(v) = value else { return default };
        if !v.is_finite() {
            self.problem(path, format_args!("must be a finite number, got {v}"));
        } else if !ok(v) {
            self.problem(path, format_args!("must be {expected}, got {v}"));
        }
        v
    }

    /// An integer within `range`, or `default` when absent.
    fn integer(
        &mut self,
        path: &str,
        value: Option<i64>,
        default: i64,
        range: std::ops::RangeInclusive<i64>,
    ) -> i64 {
        let Some(v) = value else { return default };
        if !range.contains(&v) {
            self.problem(
                path,
                format_args!(
                    "must be between {} and {}, got {v}",
                    range.start(),
                    range.end()
                ),
            );
            return default;
        }
        v
    }

    /// A path resolved against the configuration file's directory.
    fn path(&mut self, path: &str, value: Option<String>, base: &Path) -> Option<PathBuf> {
        let v = value?;
        if v.trim().is_empty() {
            self.problem(path, "must not be empty");
        }
        Some(base.join(v))
    }

    /// A path that must name an existing file.
    fn existing_file(&mut self, path: &str, file: &Path) {
        match std::fs::metadata(file) {
            Ok(m) if m.is_file() => {}
            Ok(_) => self.problem(path, format_args!("{} is not a file", file.display())),
            Err(e) => self.problem(path, format_args!("{}: {e}", file.display())),
        }
    }

    fn topic(&mut self, path: &str, topic: &str) {
        if let Err(message) = check_topic(topic) {
            self.problem(path, message);
        }
    }

    /// Records `path: duplicate ...` for every id seen before.
    fn unique<'a>(&mut self, what: &str, field: &str, ids: impl Iterator<Item = &'a str>) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, id) in ids.enumerate() {
            if id.is_empty() {
                continue;
            }
            if let Some(first) = seen.get(id) {
                self.problem(
                    format_args!("{what}[{i}].{field}"),
                    format_args!("duplicate {field} {id:?} (also {what}[{first}].{field})"),
                );
            } else {
                seen.insert(id, i);
            }
        }
    }
    /// The whole configuration, section by section (later sections are
    /// checked against earlier ones: items against devices, approvers
    /// against items, members and rules).
    pub(super) fn config(&mut self, raw: raw::Config, base: &Path) -> Config {
        let hub = self.hub(raw.hub, base);
        let mqtt = self.mqtt(raw.mqtt, &hub.id, base);
        let upstream = self.upstream(raw.upstream, &hub.id);
        let devices = self.devices(raw.devices, &hub.id, &upstream);
        let currency = self.currency(&raw.rules, !raw.items.is_empty());
        let items = self.items(raw.items, &devices, currency.as_deref());
        let members = self.members(raw.members);
        let (rules, approvals) = self.rules(raw.rules);
        let retention = Retention {
            raw_days: self.integer(
                "retention.raw-days",
                raw.retention.raw_days,
                i64::from(DEFAULT_RAW_DAYS),
                1..=36500,
            ) as u32,
        };
        let homeassistant = self.homeassistant(raw.homeassistant, &members);
        let trusted_ha = homeassistant.enabled && homeassistant.trusted_approvals;
        self.approvers(&items, &members, &rules, trusted_ha);
        Config {
            hub,
            mqtt,
            upstream,
            devices,
            items,
            members,
            rules,
            approvals,
            retention,
            homeassistant,
        }
    }
}

/// The prefix of the topics larder uses for approval prompts and replies.
fn approvals_prefix(hub_id: &str) -> String {
    format!("larder/{hub_id}/approvals")
}

/// Checks a topic larder publishes to or subscribes to exactly.
fn check_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        Err("must not be empty".to_owned())
    } else if topic.contains(['+', '#']) {
        Err(format!(
            "{topic:?} contains an MQTT wildcard ('+' or '#'); give the exact topic"
        ))
    } else if topic.contains('\0') {
        Err("must not contain NUL characters".to_owned())
    } else if topic.len() > 65535 {
        Err("is longer than MQTT's 65535-byte limit".to_owned())
    } else {
        Ok(())
    }
}
