//! The tree's shape, checked on every `cargo test`: every `use` between the
//! top-level modules of `src/` points down the layer list below (so there is
//! no module cycle), the core crate uses nothing of larder's, and no source
//! file is longer than `MAX_LINES`.
//!
//! A layer may use any layer below it, never one above. To add a module,
//! put it in `LAYERS` where it belongs; `ARCHITECTURE.md` says what each
//! layer owns.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Top-level modules of `larder`, lowest first. Modules on one line are
/// one layer: they may not use each other.
const LAYERS: &[&[&str]] = &[
    &["core"],
    &["text", "clock", "crypto", "telemetry"],
    &["config"],
    &["protocol"],
    &["ledger"],
    &["store"],
    &["homeassistant"],
    &["engine"],
    &["daemon"],
    &["tools"],
    &["commands"],
];

/// No file in `src/` or `crates/` may be longer than this.
const MAX_LINES: usize = 800;

/// One `use` of another top-level module: from `module` (in `file`, at
/// `line`) to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Edge {
    from: String,
    to: String,
    file: String,
    line: usize,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file under `src/` belongs to (`None` for the
/// crate roots `lib.rs` and `main.rs`).
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    match first {
        "lib.rs" | "main.rs" => None,
        name => Some(name.trim_end_matches(".rs").to_owned()),
    }
}

/// Every `crate::<module>` and `larder::<module>` named in `text`, with its
/// line number (comments included: a doc link is a dependency too).
fn named_modules(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for prefix in ["crate::", "larder::"] {
            let mut rest = line;
            while let Some(at) = rest.find(prefix) {
                let before = rest[..at].chars().next_back();
                rest = &rest[at + prefix.len()..];
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push((i + 1, name));
                }
            }
        }
    }
    found
}

/// The dependencies between top-level modules of `src/`.
fn edges() -> Vec<Edge> {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src").to_path_buf();
        let Some(from) = module_of(&relative) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("read source");
        for (line, to) in named_modules(&text) {
            if to != from {
                edges.push(Edge {
                    from: from.clone(),
                    to,
                    file: format!("src/{}", relative.display()),
                    line,
                });
            }
        }
    }
    edges
}

/// The layer index of each module.
fn layer_of() -> BTreeMap<&'static str, usize> {
    LAYERS
        .iter()
        .enumerate()
        .flat_map(|(i, layer)| layer.iter().map(move |m| (*m, i)))
        .collect()
}

/// The edges that do not point down, as readable lines.
fn upward(edges: &[Edge], layers: &BTreeMap<&str, usize>) -> Vec<String> {
    let mut bad = Vec::new();
    for e in edges {
        let (Some(from), Some(to)) = (layers.get(e.from.as_str()), layers.get(e.to.as_str()))
        else {
            continue;
        };
        if to >= from {
            bad.push(format!(
                "{}:{}: `{}` uses `{}`, which is {} it in tests/layout.rs LAYERS",
                e.file,
                e.line,
                e.from,
                e.to,
                if to == from { "beside" } else { "above" }
            ));
        }
    }
    bad
}

/// A cycle among the modules of `edges`, if any, as the list of modules
/// along it (first = last).
fn find_cycle(edges: &[Edge]) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in edges {
        next.entry(&e.from).or_default().push(&e.to);
    }
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut mark: BTreeMap<&str, u8> = BTreeMap::new();
    fn visit<'a>(
        node: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        mark: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        mark.insert(node, 1);
        path.push(node);
        for &to in next.get(node).map_or(&[][..], |v| v.as_slice()) {
            match mark.get(to).copied().unwrap_or(0) {
                1 => {
                    let start = path.iter().position(|n| *n == to).expect("on path");
                    let mut cycle: Vec<String> =
                        path[start..].iter().map(|s| s.to_string()).collect();
                    cycle.push(to.to_string());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(to, next, mark, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        mark.insert(node, 2);
        None
    }
    let nodes: Vec<&str> = next.keys().copied().collect();
    for node in nodes {
        if mark.get(node).copied().unwrap_or(0) == 0 {
            let mut path = Vec::new();
            if let Some(c) = visit(node, &next, &mut mark, &mut path) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn every_top_level_module_is_in_exactly_one_layer() {
    let src = root().join("src");
    let layers = layer_of();
    let listed: usize = LAYERS.iter().map(|l| l.len()).sum();
    assert_eq!(listed, layers.len(), "a module is listed twice in LAYERS");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&src).expect("src") {
        let path = entry.expect("entry").path();
        let relative = path.strip_prefix(&src).expect("under src");
        if let Some(module) = module_of(relative)
            && (path.is_dir() || path.extension().is_some_and(|e| e == "rs"))
            && !layers.contains_key(module.as_str())
        {
            missing.push(module);
        }
    }
    assert!(
        missing.is_empty(),
        "src/ modules not in tests/layout.rs LAYERS: {missing:?}"
    );
}

#[test]
fn dependencies_between_modules_point_down_and_form_no_cycle() {
    let edges = edges();
    assert!(
        edges.iter().any(|e| e.from == "engine" && e.to == "store"),
        "the scan found no engine -> store use: it is not reading the tree"
    );
    let bad = upward(&edges, &layer_of());
    assert!(bad.is_empty(), "uses that point up:\n{}", bad.join("\n"));
    assert_eq!(find_cycle(&edges), None);
}

#[test]
fn the_core_crate_uses_nothing_of_larder() {
    let mut files = Vec::new();
    rust_files(&root().join("crates/larder-core/src"), &mut files);
    assert!(!files.is_empty());
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        assert!(!text.contains("larder::"), "{} uses larder", file.display());
    }
    let manifest = std::fs::read_to_string(root().join("crates/larder-core/Cargo.toml"))
        .expect("core manifest");
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|s| s.split("\n[").next())
        .expect("a [dependencies] table");
    let names: Vec<&str> = deps
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split(['=', ' ']).next())
        .collect();
    assert_eq!(names, ["serde"], "larder-core may depend on serde only");
}

#[test]
fn no_source_file_is_longer_than_the_limit() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    rust_files(&root().join("crates"), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(f).expect("read").lines().count();
            (lines > MAX_LINES).then(|| format!("{}: {lines} lines", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines (split them by concern):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checker_finds_an_upward_use_and_a_cycle() {
    let edge = |from: &str, to: &str| Edge {
        from: from.into(),
        to: to.into(),
        file: format!("src/{from}.rs"),
        line: 1,
    };
    let layers = layer_of();
    let up = [edge("store", "engine")];
    assert_eq!(upward(&up, &layers).len(), 1);
    let cycle = [
        edge("store", "ledger"),
        edge("ledger", "text"),
        edge("text", "store"),
    ];
    assert_eq!(
        find_cycle(&cycle),
        Some(vec![
            "ledger".into(),
            "text".into(),
            "store".into(),
            "ledger".into()
        ])
    );
    assert_eq!(find_cycle(&cycle[..2]), None);
    assert_eq!(
        named_modules("use crate::store::{Store};\n// see larder::engine and notcrate::x"),
        vec![(1, "store".to_owned()), (2, "engine".to_owned())]
    );
}
