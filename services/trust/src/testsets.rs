//! The frozen test sets (`evalsets/test/`, see its README): labelled cases
//! written before the work they measure, scored per family of checks so
//! that `generec eval policies` can print them beside the dev figures.
//!
//! A family is a set of categories. A positive case is found when the
//! review reports any finding of its family; a negative is a false alarm
//! when it reports any.

use std::collections::BTreeMap;

use crate::bundle::Bundle;
use crate::checks::{ReviewContext, Source};
use crate::error::TrustError;
use crate::eval::Row;
use crate::finding::{Category, Policy};
use crate::registry::Registry;
use generec_common::types::Origin;

/// The families the test sets cover, in report order.
pub const FAMILIES: &[Family] = &[
    Family::Privacy,
    Family::Safety,
    Family::Bias,
    Family::Injection,
    Family::Disinformation,
    Family::Authenticity,
    Family::Copyright,
];

/// A group of categories scored together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Privacy,
    /// Harmful content: every safety category but the instruction-side ones.
    Safety,
    Bias,
    /// Prompt injection and requests for other people's data.
    Injection,
    /// Requests to fabricate news or health misinformation.
    Disinformation,
    Authenticity,
    Copyright,
}

impl Family {
    /// The lower-case name, which is also the test file's stem.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Privacy => "privacy",
            Family::Safety => "safety",
            Family::Bias => "bias",
            Family::Injection => "injection",
            Family::Disinformation => "disinformation",
            Family::Authenticity => "authenticity",
            Family::Copyright => "copyright",
        }
    }

    /// Whether a category belongs to the family.
    pub fn contains(self, c: Category) -> bool {
        let instruction_side = matches!(
            c,
            Category::SafetyPromptInjection
                | Category::SafetyDataExfiltration
                | Category::SafetyInjectedInstructions
        );
        let disinformation = c.as_str().starts_with("safety.disinformation");
        match self {
            Family::Privacy => c.policy() == Policy::Privacy,
            Family::Safety => c.policy() == Policy::Safety && !instruction_side && !disinformation,
            Family::Bias => c.policy() == Policy::Bias,
            Family::Injection => instruction_side,
            Family::Disinformation => disinformation,
            Family::Authenticity => c.policy() == Policy::Authenticity,
            Family::Copyright => c.policy() == Policy::Copyright,
        }
    }

    /// The committed test file.
    fn text(self) -> &'static str {
        match self {
            Family::Privacy => include_str!("../evalsets/test/privacy.tsv"),
            Family::Safety => include_str!("../evalsets/test/safety.tsv"),
            Family::Bias => include_str!("../evalsets/test/bias.tsv"),
            Family::Injection => include_str!("../evalsets/test/injection.tsv"),
            Family::Disinformation => include_str!("../evalsets/test/disinformation.tsv"),
            Family::Authenticity => include_str!("../evalsets/test/authenticity.tsv"),
            Family::Copyright => include_str!("../evalsets/test/copyright.tsv"),
        }
    }

    /// The family a dev case's category is counted in.
    pub fn of(c: Category) -> Option<Family> {
        FAMILIES.iter().copied().find(|f| f.contains(c))
    }
}

/// One case of a test set.
#[derive(Clone, Debug)]
pub struct TestCase {
    pub family: Family,
    /// What the case is about (`hard_negative`, `iban`, `threat` ...).
    pub kind: String,
    pub positive: bool,
    pub content: String,
    pub context: ReviewContext,
    /// The file line, for reports.
    pub line: usize,
}

/// Separates the cited passages of an authenticity case.
const SOURCE_SEPARATOR: &str = " ||| ";

/// Reads every test file.
pub fn cases() -> Result<Vec<TestCase>, TrustError> {
    let mut out = Vec::new();
    for &family in FAMILIES {
        out.extend(parse(family, family.text())?);
    }
    Ok(out)
}

/// Reads one test file (formats in `evalsets/test/README.md`).
pub fn parse(family: Family, text: &str) -> Result<Vec<TestCase>, TrustError> {
    parse_file(
        family,
        text,
        &format!("evalsets/test/{}.tsv", family.as_str()),
    )
}

/// The hand-written authenticity dev set, in the test set's format.
pub const DEV_AUTHENTICITY: &str = include_str!("../evalsets/authenticity.tsv");

/// Reads a file in a test set's format; `file` names it in errors.
pub fn parse_file(family: Family, text: &str, file: &str) -> Result<Vec<TestCase>, TrustError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |what: &str| TrustError::Internal(format!("{file} line {}: {what}", i + 1));
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != 4 {
            return Err(at("expected four tab-separated fields"));
        }
        let positive = match fields[0] {
            "+" => true,
            "-" => false,
            other => return Err(at(&format!("label must be + or -, got {other:?}"))),
        };
        let (kind, content, context) = match family {
            Family::Authenticity => (
                fields[1].to_string(),
                fields[3].to_string(),
                generated_from(
                    fields[2]
                        .split(SOURCE_SEPARATOR)
                        .enumerate()
                        .map(|(n, text)| source(&format!("source-{}", n + 1), "", text))
                        .collect(),
                ),
            ),
            Family::Copyright => (
                fields[1].to_string(),
                fields[3].to_string(),
                generated_from(vec![source("source-1", fields[1], fields[2])]),
            ),
            _ => {
                let text = fields[3].to_string();
                match fields[1] {
                    "content" => (fields[2].to_string(), text, ReviewContext::default()),
                    "instruction" => (
                        fields[2].to_string(),
                        String::new(),
                        ReviewContext {
                            instruction: text,
                            ..ReviewContext::default()
                        },
                    ),
                    other => {
                        return Err(at(&format!(
                            "field must be content or instruction, got {other:?}"
                        )));
                    }
                }
            }
        };
        out.push(TestCase {
            family,
            kind,
            positive,
            content,
            context,
            line: i + 1,
        });
    }
    Ok(out)
}

/// The external PII cases (`evalsets/external/presidio-pii.tsv`: the
/// recogniser tests of Microsoft Presidio, MIT licence).
pub const EXTERNAL_PII: &str = include_str!("../evalsets/external/presidio-pii.tsv");

/// The external privacy cases, scored like the privacy test set, and the
/// weak ones (Presidio expects only a low-confidence match), which are not.
pub fn external_cases() -> Result<(Vec<TestCase>, Vec<TestCase>), TrustError> {
    let mut scored = Vec::new();
    let mut weak = Vec::new();
    for (i, line) in EXTERNAL_PII.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [label, kind, _file, text] = fields[..] else {
            return Err(TrustError::Internal(format!(
                "evalsets/external/presidio-pii.tsv line {}: expected four tab-separated fields",
                i + 1
            )));
        };
        let case = |positive| TestCase {
            family: Family::Privacy,
            kind: kind.to_string(),
            positive,
            content: text.to_string(),
            context: ReviewContext::default(),
            line: i + 1,
        };
        match label {
            "+" => scored.push(case(true)),
            "-" => scored.push(case(false)),
            "weak" => weak.push(case(true)),
            other => {
                return Err(TrustError::Internal(format!(
                    "evalsets/external/presidio-pii.tsv line {}: label must be +, - or weak, got {other:?}",
                    i + 1
                )));
            }
        }
    }
    Ok((scored, weak))
}

fn source(item_id: &str, licence: &str, text: &str) -> Source {
    Source {
        id: format!("{item_id}#0"),
        text: text.to_string(),
        item_id: item_id.to_string(),
        licence: licence.to_string(),
        creator: "news-desk".into(),
        title: "The source".into(),
        content_sha256: String::new(),
    }
}

fn generated_from(sources: Vec<Source>) -> ReviewContext {
    ReviewContext {
        origin: Some(Origin::AiCreated),
        user_id: "test-user".into(),
        sources,
        ..ReviewContext::default()
    }
}

/// The figures of one run over the test sets.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// One row per family, in `FAMILIES` order.
    pub families: Vec<Row>,
    /// One row per family and kind (`family/kind`).
    pub kinds: Vec<Row>,
    /// The cases the default bundle got wrong: family, line, label, text.
    pub errors: Vec<String>,
}

/// Scores the test cases with a bundle.
pub fn evaluate(bundle: &Bundle, registry: &Registry, cases: &[TestCase]) -> Report {
    let mut families: BTreeMap<Family, Row> = BTreeMap::new();
    let mut kinds: BTreeMap<(Family, String), Row> = BTreeMap::new();
    let mut errors = Vec::new();
    for case in cases {
        let outcome = bundle.review(&case.content, &case.context, registry);
        let fired: Vec<&str> = outcome
            .findings
            .iter()
            .filter(|f| case.family.contains(f.category))
            .map(|f| f.category.as_str())
            .collect();
        let found = !fired.is_empty();
        for row in [
            families.entry(case.family).or_insert_with(|| Row {
                category: case.family.as_str().to_string(),
                ..Row::default()
            }),
            kinds
                .entry((case.family, case.kind.clone()))
                .or_insert_with(|| Row {
                    category: format!("{}/{}", case.family.as_str(), case.kind),
                    ..Row::default()
                }),
        ] {
            row.record(case.positive, found);
        }
        if case.positive != found {
            errors.push(format!(
                "{} line {} ({}): {} {:?}{}",
                case.family.as_str(),
                case.line,
                case.kind,
                crate::eval::error_kind(case.positive),
                crate::eval::case_text(&case.content, &case.context, 100),
                if found {
                    format!(" [{}]", fired.join(", "))
                } else {
                    String::new()
                }
            ));
        }
    }
    Report {
        families: families.into_values().collect(),
        kinds: kinds.into_values().collect(),
        errors,
    }
}

/// Sums category rows into one row per family (for the dev figures).
pub fn by_family(rows: &[Row]) -> Vec<Row> {
    let mut out: BTreeMap<Family, Row> = BTreeMap::new();
    for r in rows {
        let Some(family) = Category::from_name(&r.category).and_then(Family::of) else {
            continue;
        };
        let row = out.entry(family).or_insert_with(|| Row {
            category: family.as_str().to_string(),
            ..Row::default()
        });
        row.true_positives += r.true_positives;
        row.false_positives += r.false_positives;
        row.false_negatives += r.false_negatives;
        row.true_negatives += r.true_negatives;
    }
    out.into_values().collect()
}

/// A markdown table of dev and test figures per family, side by side.
pub fn side_by_side(dev: &[Row], test: &[Row]) -> String {
    let mut out = String::from(
        "| family | dev cases | dev precision | dev recall | test cases | test precision | test recall |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for &family in FAMILIES {
        let find = |rows: &[Row]| rows.iter().find(|r| r.category == family.as_str()).cloned();
        let cell = |r: Option<Row>| match r {
            Some(r) => format!("{} | {:.3} | {:.3}", r.cases(), r.precision(), r.recall()),
            None => "0 | - | -".to_string(),
        };
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            family.as_str(),
            cell(find(dev)),
            cell(find(test))
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_test_file_parses_and_the_sets_keep_their_size_and_share_of_hard_negatives() {
        let all = cases().unwrap();
        assert!(all.len() >= 400, "{} cases", all.len());
        let hard = all.iter().filter(|c| c.kind == "hard_negative").count();
        assert!(
            hard * 100 >= all.len() * 40,
            "{hard} hard negatives of {}",
            all.len()
        );
        for &f in FAMILIES {
            let of = all.iter().filter(|c| c.family == f);
            assert!(of.clone().any(|c| c.positive), "{f:?}");
            assert!(of.clone().any(|c| !c.positive), "{f:?}");
        }
        let instruction = all
            .iter()
            .find(|c| c.family == Family::Disinformation)
            .unwrap();
        assert!(instruction.content.is_empty() && !instruction.context.instruction.is_empty());
        let copyright = all.iter().find(|c| c.family == Family::Copyright).unwrap();
        assert_eq!(copyright.context.origin, Some(Origin::AiCreated));
        assert_eq!(copyright.context.sources.len(), 1);
    }

    #[test]
    fn a_malformed_line_is_refused_with_its_number() {
        let e = parse(Family::Bias, "# c\n+\tcontent\tx\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = parse(Family::Bias, "?\tcontent\tx\ttext\n").unwrap_err();
        assert!(e.to_string().contains("label"), "{e}");
        let e = parse(Family::Bias, "+\tbody\tx\ttext\n").unwrap_err();
        assert!(e.to_string().contains("field"), "{e}");
    }

    /// The figures the default bundle reached on the frozen sets when they
    /// were committed (precision, recall per family): a change that falls
    /// below them fails the build. Raise them as the checks improve; the
    /// issue's targets are 0.95 precision and 0.90 recall.
    const FLOORS: &[(Family, f64, f64)] = &[
        (Family::Privacy, 1.0, 0.99),
        (Family::Safety, 0.94, 0.73),
        (Family::Bias, 0.99, 0.96),
        (Family::Injection, 1.0, 0.99),
        (Family::Disinformation, 1.0, 0.89),
        (Family::Authenticity, 0.91, 0.73),
        (Family::Copyright, 1.0, 1.0),
    ];

    #[test]
    fn the_default_bundle_holds_its_figures_on_the_frozen_test_sets() {
        let Some(env) = crate::checks::safety::tests::real_env() else {
            return;
        };
        // Every fifth held-out BBC article: at most 1% blocked (and, below, at
        // most 5% with a finding other than a gendered-term label).
        let bundle = crate::bundle::Bundle::default_bundle(&env).unwrap();
        let figures = crate::eval::run_policy_eval(&env, &bundle, 5, false).unwrap();
        let news = figures
            .news
            .as_ref()
            .expect("scripts/fetch-data puts the BBC articles in .data");
        assert!(news.articles >= 200, "{} articles", news.articles);
        assert!(
            news.blocked as f64 <= 0.01 * news.articles as f64,
            "{} of {} news articles blocked",
            news.blocked,
            news.articles
        );
        // And no more than 5% have a finding other than a gendered-term label.
        let flagged = news.any_finding - news.gendered_only;
        assert!(
            flagged as f64 <= 0.05 * news.articles as f64,
            "{flagged} of {} news articles have a finding other than a gendered-term label",
            news.articles
        );
        eprintln!("{}", figures.format());
        for e in &figures.test.errors {
            eprintln!("- {e}");
        }
        // Presidio's recogniser tests, as recorded in docs/BENCHMARKS.md.
        let external = &figures.external.families[0];
        assert!(
            external.precision() >= 0.99 && external.recall() >= 0.93,
            "external privacy: precision {:.3}, recall {:.3}",
            external.precision(),
            external.recall()
        );
        for &(family, precision, recall) in FLOORS {
            let row = figures
                .test
                .families
                .iter()
                .find(|r| r.category == family.as_str())
                .unwrap();
            assert!(
                row.precision() >= precision && row.recall() >= recall,
                "{}: precision {:.3} (floor {precision}), recall {:.3} (floor {recall})",
                family.as_str(),
                row.precision(),
                row.recall()
            );
        }
    }

    #[test]
    fn families_split_the_safety_categories_by_side() {
        assert!(Family::Injection.contains(Category::SafetyPromptInjection));
        assert!(!Family::Safety.contains(Category::SafetyPromptInjection));
        assert!(Family::Safety.contains(Category::SafetyViolence));
        assert_eq!(Family::of(Category::PrivacyIban), Some(Family::Privacy));
    }
}
