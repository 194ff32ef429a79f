//! The instruction table (`evalsets/instructions.tsv`, read by
//! [`generec_generation::table`], whose docs explain the expectations):
//! instructions as people type them, with the guidance and the decision each
//! must get. Every row is checked; the failing ones are printed with what
//! differed, then the test fails.

use generec_generation::guidance::{Action, Candidate, InterpretInput, Interpretation, Trigger};
use generec_generation::instructor::{Instructor, InstructorConfig};
use generec_generation::table::{self, CANDIDATE_SETS, TableRow};

fn rows() -> Vec<TableRow> {
    table::rows().unwrap_or_else(|e| panic!("{e}"))
}

/// A row made here, for its input only.
fn row(say: &str, fb: &str, cands: &str) -> TableRow {
    TableRow {
        line: 0,
        say: say.to_string(),
        ctx: None,
        fb: fb.to_string(),
        cands: cands.to_string(),
        expect: String::new(),
    }
}

#[test]
fn the_instruction_table_is_interpreted_as_expected() {
    let report = table::run(&Instructor::new(InstructorConfig::default()));
    assert!(
        report.rows >= 70,
        "the table has {} rows; it needs at least 70 ({:?})",
        report.rows,
        report.failures
    );
    for failure in &report.failures {
        eprintln!("{failure}");
    }
    assert_eq!(
        report.passed,
        report.rows,
        "{} of {} rows differ (listed above)",
        report.rows - report.passed,
        report.rows
    );
    assert_eq!(report.action_correct, report.rows);
    assert_eq!(report.trigger_correct, report.rows);
    assert_eq!(report.trigger_accuracy(), 1.0);
    assert_eq!(report.action_accuracy(), 1.0);
}

#[test]
fn every_row_is_checked_against_its_own_interpretation() {
    let instructor = Instructor::default();
    let rows = rows();
    for r in &rows {
        let got = instructor.interpret(&table::input(r));
        assert_eq!(
            table::check(r, &got),
            Vec::<String>::new(),
            "line {}",
            r.line
        );
    }
    // And a row checked against another row's interpretation differs.
    let a = &rows[2];
    let b = rows
        .iter()
        .find(|b| b.expect != a.expect)
        .expect("two rows");
    let got = instructor.interpret(&table::input(b));
    assert!(!table::check(a, &got).is_empty());
}

#[test]
fn interpretation_is_deterministic_and_json_round_trips() {
    let instructor = Instructor::default();
    for row in &rows() {
        let a = instructor.interpret(&table::input(row));
        let b = instructor.interpret(&table::input(row));
        assert_eq!(a, b, "{:?}", row.say);
        let json = serde_json::to_string(&a).expect("serialise");
        let back: Interpretation = serde_json::from_str(&json).expect("parse");
        assert_eq!(a, back, "{:?}", row.say);
    }
}

#[test]
fn relevance_is_in_unit_range_for_every_row_and_candidate() {
    let instructor = Instructor::default();
    let all: Vec<Candidate> = CANDIDATE_SETS
        .iter()
        .flat_map(|n| table::candidates(n).expect("a candidate set"))
        .collect();
    for row in &rows() {
        let g = instructor.interpret(&table::input(row)).guidance;
        for c in &all {
            let r = instructor.relevance(&g, c);
            assert!(
                (0.0..=1.0).contains(&r),
                "{:?} on {}: {r}",
                row.say,
                c.item_id
            );
        }
    }
}

#[test]
fn a_lower_threshold_lets_weak_matches_serve_and_a_longer_streak_waits() {
    let strict = Instructor::new(InstructorConfig {
        rejection_streak: 5,
        min_relevance: 0.1,
        ..InstructorConfig::default()
    });
    // A sport tag is a weak match for Formula One: enough at 0.1.
    let r = row("show me something about formula one", "", "sport");
    let got = strict.interpret(&table::input(&r));
    assert_eq!(got.decision.action, Action::Retrieve);
    let r = row("", "skip skip skip", "mixed");
    let got = strict.interpret(&table::input(&r));
    assert_eq!(got.decision.action, Action::Retrieve);
    assert_eq!(got.decision.trigger, Trigger::None);
}

#[test]
fn over_long_instructions_are_cut_not_refused() {
    let instructor = Instructor::new(InstructorConfig {
        max_instruction_bytes: 20,
        ..Default::default()
    });
    let long = format!("no more football {}", "é".repeat(5000));
    let got = instructor.interpret(&InterpretInput {
        instruction: long,
        ..Default::default()
    });
    assert_eq!(got.guidance.exclude.len(), 1);
    assert_eq!(got.guidance.exclude[0].topic, "football");
}
