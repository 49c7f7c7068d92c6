//! `larder demo`: the main job on a machine with no broker installed.

use crate::support::LARDER;
use std::process::Command;

fn demo(days: &str, seed: &str) -> String {
    let out = Command::new(LARDER)
        .args(["demo", "--days", days, "--seed", seed])
        .output()
        .expect("run larder demo");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "demo failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The timeline without the header (which names a random port and keys).
fn timeline(stdout: &str) -> Vec<&str> {
    stdout.lines().skip_while(|l| !l.is_empty()).collect()
}

#[test]
fn sixty_days_show_auto_approved_and_member_approved_intents_delivered() {
    let out = demo("60", "1");
    assert!(
        out.contains("auto-approved (rule:auto-approve-up-to)"),
        "{out}"
    );
    assert!(out.contains("approved by alex's signed reply"), "{out}");
    assert!(out.contains("hub signature verified"), "{out}");
    assert!(out.contains("closed: delivered"), "{out}");
    let summary = out.split("\nsummary\n").nth(1).expect("summary");
    let auto: u32 = summary
        .split(" auto-approved")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("auto count");
    assert!(auto >= 1, "{summary}");
    assert!(summary.contains("dead letters: 0"), "{summary}");
}

#[test]
fn the_same_seed_tells_the_same_story() {
    let a = demo("14", "7");
    let b = demo("14", "7");
    let (ta, tb) = (timeline(&a), timeline(&b));
    if ta != tb {
        let first = ta
            .iter()
            .zip(&tb)
            .position(|(x, y)| x != y)
            .unwrap_or(ta.len().min(tb.len()));
        panic!(
            "same seed, different story from line {first}:\n--- first run\n{}\n--- second run\n{}",
            ta[first..]
                .iter()
                .take(12)
                .copied()
                .collect::<Vec<_>>()
                .join("\n"),
            tb[first..]
                .iter()
                .take(12)
                .copied()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let c = demo("14", "8");
    assert_ne!(timeline(&a), timeline(&c));
}
