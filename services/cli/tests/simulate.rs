//! `generec simulate` on the real data (BBC articles, MiniLM, VADER,
//! MovieLens 100K; scripts/test fetches them): the population is built,
//! the same seed prints the same report, and the feedback model tells
//! items near a user's favourite topic from random ones.

use std::process::Command;

fn simulate(seed: &str) -> String {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.data");
    let out = Command::new(env!("CARGO_BIN_EXE_generec"))
        .args([
            "simulate", "--users", "60", "--items", "80", "--topics", "60", "--seed", seed,
        ])
        .args(["--datasets", data])
        .env("RUST_LOG", "warn")
        .env("CANDLE_NUM_THREADS", "1")
        .output()
        .expect("run generec simulate");
    assert!(
        out.status.success(),
        "generec simulate failed (run scripts/fetch-data): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The clicks column of a row of the responses table.
fn clicks(report: &str, row: &str) -> f64 {
    let line = report
        .lines()
        .find(|l| l.starts_with(&format!("| {row}")))
        .unwrap_or_else(|| panic!("no row {row:?} in\n{report}"));
    line.split('|').nth(2).unwrap().trim().parse().unwrap()
}

#[test]
fn the_population_is_reproducible_and_tells_good_items_from_random_ones() {
    let report = simulate("7");
    assert!(report.contains("population: 60 users"), "{report}");
    assert!(
        report.contains("MovieLens 100K ratings 1-5: 0.061 0.114 0.271 0.342 0.212"),
        "{report}"
    );
    let (random, near) = (
        clicks(&report, "random items"),
        clicks(&report, "near the favourite"),
    );
    assert!(
        (random - 0.25).abs() < 0.08,
        "random items clicked at {random}"
    );
    assert!(near > random + 0.2, "near {near} vs random {random}");
    assert_eq!(simulate("7"), report, "same seed, same report");
    assert_ne!(simulate("8"), report, "another seed, another population");
}
