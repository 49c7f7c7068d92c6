//! The one configuration builder: a whole configuration from
//! `tests/fixtures/<name>.toml`, with its `{hub}`, `{state}` and `{url}`
//! filled in, keys set, items dropped or added, and members appended
//! (an `owner` with a fresh key if the test names none).

use super::{Broker, ScratchDir};
use std::fmt::Display;
use std::path::{Path, PathBuf};

/// A configuration being put together for a test.
#[derive(Clone, Debug)]
pub struct TestConfig {
    text: String,
    hub: String,
    /// `(name, public key in hex)`; empty means the default owner.
    members: Vec<(String, String)>,
    /// The key of the owner listed when no member is named, fixed when the
    /// builder is made so the same configuration is written each time.
    owner_key: String,
}

impl TestConfig {
    /// The integration tests' household (`household.toml`, hub `testhub`).
    pub fn household() -> TestConfig {
        TestConfig::fixture("household")
    }

    /// `tests/fixtures/<name>.toml`.
    pub fn fixture(name: &str) -> TestConfig {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
        TestConfig {
            text,
            hub: "testhub".into(),
            members: Vec::new(),
            owner_key: larder::crypto::keys::to_hex(
                &larder::crypto::keys::SigningKey::generate().public_key(),
            ),
        }
    }

    /// The hub id, where the fixture says `{hub}`.
    pub fn hub(mut self, id: &str) -> TestConfig {
        self.hub = id.to_owned();
        self
    }

    /// Lists a member with `public_key`.
    pub fn member(mut self, name: &str, public_key: &[u8; 32]) -> TestConfig {
        self.members
            .push((name.to_owned(), larder::crypto::keys::to_hex(public_key)));
        self
    }

    /// Sets `key = value` (`value` as TOML) in the table `[table]`, which
    /// is added if the fixture has none.
    pub fn set(mut self, table: &str, key: &str, value: impl Display) -> TestConfig {
        let header = format!("[{table}]");
        match self.block(|lines, at| lines[at] == header) {
            Some((start, end)) => self.set_in(start, end, key, &value.to_string()),
            None => {
                self.text
                    .push_str(&format!("\n{header}\n{key} = {value}\n"));
            }
        }
        self
    }

    /// Sets `key = value` (`value` as TOML) on the item `item`.
    pub fn set_on_item(mut self, item: &str, key: &str, value: impl Display) -> TestConfig {
        let (start, end) = self.item_block(item);
        self.set_in(start, end, key, &value.to_string());
        self
    }

    /// Drops the item `item` (the household stops stocking it).
    pub fn without_item(mut self, item: &str) -> TestConfig {
        let (start, end) = self.item_block(item);
        let mut lines: Vec<&str> = self.text.lines().collect();
        lines.drain(start..end);
        self.text = lines.join("\n") + "\n";
        self
    }

    /// Appends TOML (more items, say) at the end.
    pub fn append(mut self, toml: &str) -> TestConfig {
        self.text.push('\n');
        self.text.push_str(toml);
        self
    }

    /// The configuration text with the state directory in `dir` and the
    /// broker at `url`.
    pub fn render(&self, dir: &ScratchDir, url: &str) -> String {
        let mut text = self
            .text
            .replace("{hub}", &self.hub)
            .replace("{state}", &dir.join("state").display().to_string())
            .replace("{url}", url);
        let owner = [("owner".to_owned(), self.owner_key.clone())];
        let members = if self.members.is_empty() {
            &owner[..]
        } else {
            &self.members
        };
        for (name, key) in members {
            text.push_str(&format!(
                "\n[[members]]\nname = \"{name}\"\npublic-key = \"{key}\"\n"
            ));
        }
        text
    }

    /// Writes `dir/larder.toml` for `broker` and returns its path.
    pub fn write(&self, dir: &ScratchDir, broker: &Broker) -> PathBuf {
        let path = dir.join("larder.toml");
        std::fs::write(&path, self.render(dir, &broker.url())).expect("write config");
        path
    }

    /// Writes `dir/larder.toml` for `broker` and loads it.
    pub fn load(&self, dir: &ScratchDir, broker: &Broker) -> larder::config::Config {
        larder::config::Config::load(&self.write(dir, broker)).expect("config")
    }

    /// The lines `start..end` of the first table whose header line
    /// `is_header(lines, index)` accepts (up to the next header).
    fn block(&self, is_header: impl Fn(&[&str], usize) -> bool) -> Option<(usize, usize)> {
        let lines: Vec<&str> = self.text.lines().collect();
        let start = (0..lines.len()).find(|&at| is_header(&lines, at))?;
        let end = (start + 1..lines.len())
            .find(|&at| lines[at].starts_with('['))
            .unwrap_or(lines.len());
        Some((start, end))
    }

    fn item_block(&self, item: &str) -> (usize, usize) {
        let id = format!("id = \"{item}\"");
        self.block(|lines, at| lines[at] == "[[items]]" && lines.get(at + 1) == Some(&id.as_str()))
            .unwrap_or_else(|| panic!("no item {item:?} in the fixture"))
    }

    /// Replaces `key = …` in the table on the lines `start..end`, or adds
    /// it as the table's last key.
    fn set_in(&mut self, start: usize, end: usize, key: &str, value: &str) {
        let mut lines: Vec<String> = self.text.lines().map(str::to_owned).collect();
        let line = format!("{key} = {value}");
        let prefix = format!("{key} =");
        match (start + 1..end).find(|&at| lines[at].starts_with(&prefix)) {
            Some(at) => lines[at] = line,
            None => {
                let last = (start..end)
                    .rev()
                    .find(|&at| !lines[at].trim().is_empty())
                    .unwrap_or(start);
                lines.insert(last + 1, line);
            }
        }
        self.text = lines.join("\n") + "\n";
    }
}
