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
    // The hand-written dev cases, in the frozen test set's format.
    let dev = crate::testsets::parse_file(
        crate::testsets::Family::Authenticity,
        crate::testsets::DEV_AUTHENTICITY,
        "evalsets/authenticity.tsv",
    )?;
    cases.extend(dev.into_iter().map(|c| EvalCase {
        category: Category::AuthenticityUnsupported,
        content: c.content,
        context: c.context,
        positive: c.positive,
    }));
    cases.extend(checks::copyright::eval_cases(env)?);
    Ok(cases)
}

/// Scores labelled cases with a bundle: one row per category, in name
/// order, and a line for every case it gets wrong.
pub fn evaluate(
    bundle: &Bundle,
    registry: &Registry,
    cases: &[EvalCase],
) -> (Vec<Row>, Vec<String>) {
    let mut rows: BTreeMap<Category, Row> = BTreeMap::new();
    let mut errors = Vec::new();
    for case in cases {
        let outcome = bundle.review(&case.content, &case.context, registry);
        let fired = outcome.findings.iter().any(|f| f.category == case.category);
        let row = rows.entry(case.category).or_insert_with(|| Row {
            category: case.category.as_str().to_string(),
            ..Row::default()
        });
        row.record(case.positive, fired);
        if fired != case.positive {
            errors.push(format!(
                "{} {}: {:?}",
                case.category.as_str(),
                error_kind(case.positive),
                case_text(&case.content, &case.context, 120)
            ));
        }
    }
    (rows.into_values().collect(), errors)
}

/// How a wrongly scored case went: "missed" for a positive, "false alarm"
/// for a negative.
pub(crate) fn error_kind(positive: bool) -> &'static str {
    if positive { "missed" } else { "false alarm" }
}

/// What a wrongly scored case is listed by: its content, or its
/// instruction for a case of the instruction-side rules (no content),
/// clipped to `max` characters.
pub(crate) fn case_text(content: &str, context: &checks::ReviewContext, max: usize) -> String {
    let text = if content.is_empty() {
        &context.instruction
    } else {
        content
    };
    text.chars().take(max).collect()
}

/// The figures of `generec eval policies`: the dev sets per category, the
/// frozen test sets per family, and false alarms on real news.
#[derive(Clone, Debug)]
pub struct PolicyEval {
    pub dev: Vec<Row>,
    /// The dev cases the bundle gets wrong, one line each.
    pub dev_errors: Vec<String>,
    pub test: crate::testsets::Report,
    /// `None` when the BBC articles are not in the data folder.
    pub news: Option<NewsReport>,
    /// The training half of the same articles, when asked for (the half to
    /// tune false alarms on).
    pub news_dev: Option<NewsReport>,
    /// Presidio's recogniser tests for the privacy types generec claims.
    pub external: crate::testsets::Report,
    /// Presidio's low-confidence cases: how many the bundle reports, of
    /// how many.
    pub external_weak: (usize, usize),
}

/// The default bundle over real news articles, each reviewed as a
/// human-made item: none of them should be blocked, few should have any
/// finding at all.
#[derive(Clone, Debug, Default)]
pub struct NewsReport {
    pub articles: usize,
    /// Articles whose verdict is block.
    pub blocked: usize,
    /// Articles with at least one finding that survives the thresholds.
    pub any_finding: usize,
    /// Articles whose only findings are gendered-term labels
    /// (`bias.insensitive` for one word of a female/male pair).
    pub gendered_only: usize,
    /// Articles with a finding per category (an article counts once per
    /// category).
    pub by_category: BTreeMap<String, usize>,
    /// Up to three examples per category: file and evidence.
    pub examples: BTreeMap<String, Vec<String>>,
    /// Which half of the articles was reviewed.
    pub half: NewsHalf,
    /// Every finding other than a gendered-term label: file, category, the
    /// words it fired on and evidence (the list to tune on, for the
    /// training half).
    pub flagged: Vec<String>,
}

/// The halves of the BBC articles (alternate files in name order): the
/// training half teaches the learned safety stage what news looks like and
/// is the one to tune false alarms on; the held-out half is only measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NewsHalf {
    Training,
    #[default]
    HeldOut,
}

impl NewsHalf {
    fn describe(self) -> &'static str {
        match self {
            NewsHalf::Training => "training-half BBC articles, tuned on",
            NewsHalf::HeldOut => "held-out BBC articles",
        }
    }
}

impl NewsReport {
    fn rate(n: usize, of: usize) -> f64 {
        if of == 0 { 0.0 } else { n as f64 / of as f64 }
    }

    /// The report as text.
    pub fn format(&self) -> String {
        let n = self.articles;
        let mut out = format!(
            "False alarms on real news ({n} {}, reviewed as human-made items)\n\n\
             | measure | articles | share |\n|---|---:|---:|\n\
             | blocked | {} | {:.4} |\n\
             | any finding | {} | {:.4} |\n\
             | any finding but gendered-term labels | {} | {:.4} |\n\
             | only gendered-term labels | {} | {:.4} |\n",
            self.half.describe(),
            self.blocked,
            Self::rate(self.blocked, n),
            self.any_finding,
            Self::rate(self.any_finding, n),
            self.any_finding - self.gendered_only,
            Self::rate(self.any_finding - self.gendered_only, n),
            self.gendered_only,
            Self::rate(self.gendered_only, n),
        );
        out.push_str("\n| category | articles | examples |\n|---|---:|---|\n");
        for (c, k) in &self.by_category {
            let ex = self
                .examples
                .get(c)
                .map(|v| v.join("; "))
                .unwrap_or_default();
            out.push_str(&format!("| {c} | {k} | {} |\n", ex.replace('|', "/")));
        }
        out
    }
}

/// Whether a finding is a label on one word of a female/male pair.
fn gendered_label(f: &crate::finding::Finding) -> bool {
    f.category == Category::BiasInsensitive && f.evidence.contains("\" is gendered")
}

/// Reviews every `every`-th article of one half under `dir` (one folder per
/// topic, one text file per article, in name order; the training half
/// trains the learned safety stage's `none` class) with the bundle.
pub fn news_false_alarms(
    bundle: &Bundle,
    registry: &Registry,
    dir: &std::path::Path,
    every: usize,
    half: NewsHalf,
) -> Result<Option<NewsReport>, TrustError> {
    if !dir.is_dir() {
        return Ok(None);
    }
    let io = |e: std::io::Error| TrustError::Internal(format!("{}: {e}", dir.display()));
    let (training, held_out) =
        checks::safety::learned::news_halves(dir).map_err(TrustError::Internal)?;
    let chosen = match half {
        NewsHalf::Training => training,
        NewsHalf::HeldOut => held_out,
    };
    let files: Vec<_> = chosen.into_iter().step_by(every.max(1)).collect();
    let mut report = NewsReport {
        half,
        ..NewsReport::default()
    };
    let context = checks::ReviewContext {
        origin: Some(generec_common::types::Origin::Human),
        ..checks::ReviewContext::default()
    };
    for f in files {
        let bytes = std::fs::read(&f).map_err(io)?;
        let text = String::from_utf8_lossy(&bytes);
        let outcome = bundle.review(&text, &context, registry);
        report.articles += 1;
        if outcome.verdict == crate::finding::Action::Block {
            report.blocked += 1;
        }
        if outcome.findings.is_empty() {
            continue;
        }
        report.any_finding += 1;
        if outcome.findings.iter().all(gendered_label) {
            report.gendered_only += 1;
        }
        let name = f.strip_prefix(dir).unwrap_or(&f).display().to_string();
        for finding in outcome.findings.iter().filter(|f| !gendered_label(f)) {
            let at = finding
                .span
                .and_then(|(a, b)| text.get(a..b))
                .map(|t| {
                    let t: String = t.chars().take(160).collect();
                    format!(" at \"{}\"", t.replace('\n', " "))
                })
                .unwrap_or_default();
            report.flagged.push(format!(
                "{name}: {}{at}: {}",
                finding.category.as_str(),
                finding.evidence
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for finding in &outcome.findings {
            let c = finding.category.as_str().to_string();
            if !seen.insert(c.clone()) {
                continue;
            }
            *report.by_category.entry(c.clone()).or_default() += 1;
            let ex = report.examples.entry(c).or_default();
            if ex.len() < 3 {
                ex.push(format!("{name}: {}", finding.evidence));
            }
        }
    }
    Ok(Some(report))
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
        ) + &format!(
            "\nExternal set: Presidio's recogniser tests (privacy, per generec type; {} of {} low-confidence cases also reported, not scored)\n\n{}",
            self.external_weak.0,
            self.external_weak.1,
            format_table(&self.external.families) + "\n" + &format_table(&self.external.kinds)
        ) + &self
            .news
            .as_ref()
            .map(|n| format!("\n{}", n.format()))
            .unwrap_or_else(|| {
                "\nFalse alarms on real news: skipped (no BBC articles; run scripts/fetch-data)\n"
                    .to_string()
            })
    }
}

/// Runs every labelled set, dev and test, against `bundle` (compiled in
/// `env`), and every `news_every`-th held-out BBC article (0: none); with
/// `news_dev`, the training half of the articles as well.
pub fn run_policy_eval(
    env: &CompileEnv,
    bundle: &Bundle,
    news_every: usize,
    news_dev: bool,
) -> Result<PolicyEval, TrustError> {
    let registry = Registry::temporary()?;
    // The copyright cases are about these claimed works.
    for work in checks::copyright::eval_works(&checks::copyright::Config::default()) {
        registry.register_work(work)?;
    }
    let cases = all_cases(env)?;
    let (dev, dev_errors) = evaluate(bundle, &registry, &cases);
    let test = crate::testsets::evaluate(bundle, &registry, &crate::testsets::cases()?);
    let (external_cases, weak) = crate::testsets::external_cases()?;
    let mut external = crate::testsets::evaluate(bundle, &registry, &external_cases);
    for e in &mut external.errors {
        *e = e.replacen("privacy line", "external presidio-pii.tsv line", 1);
    }
    let weak_found = crate::testsets::evaluate(bundle, &registry, &weak)
        .families
        .first()
        .map_or(0, |r| r.true_positives);
    let news = if news_every == 0 {
        None
    } else {
        news_false_alarms(
            bundle,
            &registry,
            &env.data_dir.join("bbc"),
            news_every,
            NewsHalf::HeldOut,
        )?
    };
    let news_dev = if news_dev {
        news_false_alarms(
            bundle,
            &registry,
            &env.data_dir.join("bbc"),
            1,
            NewsHalf::Training,
        )?
    } else {
        None
    };
    Ok(PolicyEval {
        dev,
        dev_errors,
        test,
        news,
        news_dev,
        external,
        external_weak: (weak_found, weak.len()),
    })
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
