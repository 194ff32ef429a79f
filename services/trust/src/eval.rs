//! `generec eval policies`: precision and recall per category of the
//! default bundle on labelled sets: generated PII cases with near-misses,
//! toxicity and hazard cases assembled from the word-list packages and
//! written by hand (clean sentences on sensitive topics among them),
//! grounded versus altered sentences for authenticity, bias cases, and
//! near-copies and derivatives of claimed works for copyright. These are
//! the dev sets; the frozen test sets are scored by `testsets`.
//!
//! A case is counted as detected when the review reports a finding of the
//! case's category that survives the bundle's thresholds, so the figures
//! are those of the deployed configuration, not of the raw recognisers.

use std::collections::BTreeMap;

use crate::bundle::Bundle;
use crate::checks::{self, CompileEnv, EvalCase};
use crate::error::TrustError;
use crate::finding::Category;
use crate::registry::Registry;

/// Counts and rates for one category.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub category: String,
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    pub true_negatives: usize,
}

impl Row {
    /// Share of reported cases that were positive.
    pub fn precision(&self) -> f64 {
        let reported = self.true_positives + self.false_positives;
        if reported == 0 {
            1.0
        } else {
            self.true_positives as f64 / reported as f64
        }
    }

    /// Share of positive cases that were reported.
    pub fn recall(&self) -> f64 {
        let positives = self.true_positives + self.false_negatives;
        if positives == 0 {
            1.0
        } else {
            self.true_positives as f64 / positives as f64
        }
    }

    /// Counts one case: whether it should fire and whether it did.
    pub fn record(&mut self, positive: bool, fired: bool) {
        match (positive, fired) {
            (true, true) => self.true_positives += 1,
            (true, false) => self.false_negatives += 1,
            (false, true) => self.false_positives += 1,
            (false, false) => self.true_negatives += 1,
        }
    }

    /// Cases of this category.
    pub fn cases(&self) -> usize {
        self.true_positives + self.false_positives + self.false_negatives + self.true_negatives
    }
}

/// Every labelled case of every policy.
pub fn all_cases(env: &CompileEnv) -> Result<Vec<EvalCase>, TrustError> {
    let mut cases = checks::privacy::eval_cases(env)?;
    cases.extend(checks::safety::eval_cases(env)?);
    cases.extend(checks::bias::eval_cases(env)?);
    cases.extend(checks::authenticity::eval_cases(env)?);
    cases.extend(checks::copyright::eval_cases(env)?);
    Ok(cases)
}

/// Scores labelled cases with a bundle: one row per category, in name order.
pub fn evaluate(bundle: &Bundle, registry: &Registry, cases: &[EvalCase]) -> Vec<Row> {
    let mut rows: BTreeMap<Category, Row> = BTreeMap::new();
    for case in cases {
        let outcome = bundle.review(&case.content, &case.context, registry);
        let fired = outcome.findings.iter().any(|f| f.category == case.category);
        let row = rows.entry(case.category).or_insert_with(|| Row {
            category: case.category.as_str().to_string(),
            ..Row::default()
        });
        row.record(case.positive, fired);
    }
    rows.into_values().collect()
}

/// The figures of `generec eval policies`: the dev sets per category, and
/// the frozen test sets per family.
#[derive(Clone, Debug)]
pub struct PolicyEval {
    pub dev: Vec<Row>,
    pub test: crate::testsets::Report,
}

impl PolicyEval {
    /// The report: dev and test per family side by side, then the dev rows
    /// per category and the test rows per kind.
    pub fn format(&self) -> String {
        use crate::testsets::{by_family, side_by_side};
        format!(
            "Per family (dev: sets tuned on; test: frozen sets in evalsets/test)\n\n{}\nDev sets per category\n\n{}\nTest sets per kind\n\n{}",
            side_by_side(&by_family(&self.dev), &self.test.families),
            format_table(&self.dev),
            format_table(&self.test.kinds)
        )
    }
}

/// Runs every labelled set, dev and test, against the default bundle.
pub fn run_policy_eval(env: &CompileEnv) -> Result<PolicyEval, TrustError> {
    let bundle = Bundle::default_bundle(env)?;
    let registry = Registry::temporary()?;
    // The copyright cases are about these claimed works.
    for work in checks::copyright::eval_works(&checks::copyright::Config::default()) {
        registry.register_work(work)?;
    }
    let cases = all_cases(env)?;
    let dev = evaluate(&bundle, &registry, &cases);
    let test = crate::testsets::evaluate(&bundle, &registry, &crate::testsets::cases()?);
    Ok(PolicyEval { dev, test })
}

/// A markdown table of the rows.
pub fn format_table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| category | cases | positives | precision | recall | TP | FP | FN | TN |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {:.3} | {:.3} | {} | {} | {} | {} |\n",
            r.category,
            r.cases(),
            r.true_positives + r.false_negatives,
            r.precision(),
            r.recall(),
            r.true_positives,
            r.false_positives,
            r.false_negatives,
            r.true_negatives
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_and_recall_count_reported_and_missed_cases() {
        let row = Row {
            category: "x".into(),
            true_positives: 8,
            false_positives: 2,
            false_negatives: 4,
            true_negatives: 6,
        };
        assert!((row.precision() - 0.8).abs() < 1e-9);
        assert!((row.recall() - 8.0 / 12.0).abs() < 1e-9);
        assert_eq!(row.cases(), 20);
        assert_eq!(Row::default().precision(), 1.0);
    }
}
