//! `larder demo`: the main job on a machine with no broker installed.

use crate::support::LARDER;
use std::process::Command;

fn demo(days: &str, seed: &str) -> String {
    demo_with(&["--days", days, "--seed", seed])
}

fn demo_with(args: &[&str]) -> String {
    let out = Command::new(LARDER)
        .arg("demo")
        .args(args)
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

/// The number just before `label` in `text` (`… 19 cycles detected …`).
fn number_before(text: &str, label: &str) -> u64 {
    text.split(label)
        .next()
        .and_then(|s| s.trim_end().rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number before {label:?} in:\n{text}"))
}

#[test]
fn with_real_devices_cycles_come_from_plug_power_and_levels_from_the_scale() {
    let out = demo_with(&["--days", "30", "--seed", "1", "--devices", "real"]);
    let summary = out.split("\nsummary\n").nth(1).expect("summary");
    // Every wash the household ran was found in the plug's power, through
    // mid-cycle pauses, and consumed the configured dose.
    let plug = summary
        .lines()
        .find(|l| l.contains("washer plug (zigbee2mqtt)"))
        .unwrap_or_else(|| panic!("no plug line in {summary}"));
    let washes = number_before(plug, " washes run");
    let cycles = number_before(plug, " cycles detected");
    assert!(washes >= 8, "{plug}");
    assert_eq!(cycles, washes, "{plug}");
    assert!(
        plug.contains(&format!("({} ml detergent)", cycles * 75)),
        "{plug}"
    );
    assert!(plug.contains("0 too short, 0 aborted"), "{plug}");
    let finished = out
        .lines()
        .filter(|l| {
            l.contains("washer plug") && l.contains("cycle finished") && l.contains("(75 ml used)")
        })
        .count() as u64;
    assert_eq!(finished, cycles, "one timeline line per cycle");
    // The scale's weights became milk levels and restocks; readings taken
    // while the holder was lifted were ignored, each of them.
    let scale = summary
        .lines()
        .find(|l| l.contains("fridge scale (tasmota HX711)"))
        .unwrap_or_else(|| panic!("no scale line in {summary}"));
    assert!(
        number_before(scale, " weight readings") >= 30 * 24,
        "{scale}"
    );
    assert!(number_before(scale, " milk levels") >= 20, "{scale}");
    assert!(number_before(scale, " restocks detected") >= 3, "{scale}");
    assert_eq!(
        number_before(scale, " ignored as lifted"),
        number_before(scale, " with the holder lifted"),
        "{scale}"
    );
    assert!(out.contains("fridge scale  weight jump at"), "{out}");
    // Milk is ordered from what the scale says, and nothing was refused.
    let milk = summary
        .lines()
        .find(|l| l.trim_start().starts_with("milk "))
        .expect("milk line");
    assert!(number_before(milk, "   hours out of stock") >= 1, "{milk}");
    assert!(summary.contains("dead letters: 0"), "{summary}");
    assert!(out.contains("closed: delivered"), "{out}");
    // The same seed tells the same story with real devices too: a shorter
    // run of it is the first part of this one, line for line.
    let again = demo_with(&["--days", "8", "--seed", "1", "--devices", "real"]);
    let story = |s: &str| -> Vec<String> {
        timeline(s)
            .into_iter()
            .take_while(|l| *l != "summary")
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (long, short) = (story(&out), story(&again));
    assert!(short.len() > 100, "{again}");
    if let Some(at) = short.iter().zip(&long).position(|(a, b)| a != b) {
        panic!(
            "same seed, different story from line {at}:\n{}\n--- versus\n{}",
            short[at], long[at]
        );
    }
}
