//! The instructor's evaluation sets: the frozen test set
//! (`evalsets/test/`) and the dev set tuned on (`evalsets/dev/`), both
//! instructions as new users type them, over invented candidate sets, each
//! with the decision and the open-vocabulary guidance it must get. The test
//! set's README gives the format and the scoring rules; this module reads
//! the files and scores an [`Instructor`] on them.
//!
//! Guidance topics map to the set's polarities: an included topic is
//! `more`; an excluded topic is `less` when its weight is below 1 and
//! `none` otherwise.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::guidance::{Action, Candidate, InterpretInput, Interpretation, Length, LengthUnit};
use crate::instructor::Instructor;

/// The instructions (`evalsets/test/instructions.tsv`).
pub const INSTRUCTIONS: &str = include_str!("../evalsets/test/instructions.tsv");
/// The candidate sets (`evalsets/test/candidates.tsv`).
pub const CANDIDATES: &str = include_str!("../evalsets/test/candidates.tsv");
/// The dev instructions (`evalsets/dev/instructions.tsv`).
pub const DEV_INSTRUCTIONS: &str = include_str!("../evalsets/dev/instructions.tsv");
/// The dev candidate sets (`evalsets/dev/candidates.tsv`).
pub const DEV_CANDIDATES: &str = include_str!("../evalsets/dev/candidates.tsv");

/// Which set to score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Set {
    /// Tuned on; its errors may be read.
    Dev,
    /// Frozen; report its figures only.
    Test,
}

impl Set {
    fn files(self) -> (&'static str, &'static str) {
        match self {
            Set::Dev => (DEV_INSTRUCTIONS, DEV_CANDIDATES),
            Set::Test => (INSTRUCTIONS, CANDIDATES),
        }
    }
}

/// Nouns dropped from a topic phrase before comparing ("climate news" is
/// "climate").
const GENERIC: &[&str] = &[
    "news", "story", "stories", "article", "articles", "stuff", "coverage", "content", "things",
    "piece", "pieces", "updates",
];

/// One case of the set.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// Its line in `instructions.tsv`.
    pub line: usize,
    pub say: String,
    pub ctx: Option<String>,
    pub cands: String,
    /// The expectations, `key=value` words.
    pub expect: BTreeMap<String, String>,
}

const KEYS: &[&str] = &[
    "act", "more", "less", "none", "tone", "fmt", "len", "rec", "target", "imit",
];

/// Reads the candidate sets: set name → candidates.
pub fn parse_candidates(text: &str) -> Result<BTreeMap<String, Vec<Candidate>>, String> {
    let mut sets: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [set, id, tags, title, body] = fields[..] else {
            return Err(format!(
                "candidates.tsv line {}: expected 5 tab-separated fields",
                i + 1
            ));
        };
        let list = sets.entry(set.to_string()).or_default();
        list.push(Candidate {
            item_id: id.to_string(),
            score: 1.0 - list.len() as f32 * 0.05,
            title: title.to_string(),
            tags: tags.split(',').map(|t| t.trim().to_string()).collect(),
            text: body.to_string(),
            timed: false,
        });
    }
    Ok(sets)
}

/// Reads the instructions; a malformed line is an error naming it.
pub fn parse_cases(
    text: &str,
    sets: &BTreeMap<String, Vec<Candidate>>,
) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |what: String| format!("instructions.tsv line {}: {what}", i + 1);
        let fields: Vec<&str> = line.split('\t').collect();
        let [say, ctx, cands, expect] = fields[..] else {
            return Err(at("expected 4 tab-separated fields".into()));
        };
        if !sets.contains_key(cands) {
            return Err(at(format!("no candidate set {cands:?}")));
        }
        let mut map = BTreeMap::new();
        for word in expect.split_whitespace() {
            let Some((k, v)) = word.split_once('=') else {
                return Err(at(format!("expected key=value, got {word:?}")));
            };
            if !KEYS.contains(&k) {
                return Err(at(format!("unknown key {k:?}")));
            }
            map.insert(k.to_string(), v.replace('_', " "));
        }
        if !map.contains_key("act") {
            return Err(at("no act".into()));
        }
        out.push(Case {
            line: i + 1,
            say: say.to_string(),
            ctx: (ctx != "-").then(|| ctx.to_string()),
            cands: cands.to_string(),
            expect: map,
        });
    }
    Ok(out)
}

/// A topic phrase as the set compares it: lower case, apostrophes and a
/// leading article dropped, generic nouns dropped, a plural `s` folded.
pub fn normalise_topic(phrase: &str) -> String {
    let lower = phrase.to_lowercase().replace(['\'', '\u{2019}'], "");
    let mut words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !GENERIC.contains(w))
        .collect();
    if words
        .first()
        .is_some_and(|w| matches!(*w, "the" | "a" | "an"))
    {
        words.remove(0);
    }
    words
        .iter()
        .map(|w| {
            if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") {
                &w[..w.len() - 1]
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn topic_set(list: Option<&String>) -> BTreeSet<String> {
    list.map(|l| {
        l.split(',')
            .map(normalise_topic)
            .filter(|t| !t.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

fn length_code(l: &Length) -> String {
    if l.value == 0 {
        return format!("r{}", l.relative);
    }
    let unit = match l.unit {
        LengthUnit::Sentences => "s",
        LengthUnit::Words => "w",
        LengthUnit::Seconds => "t",
    };
    format!("{unit}{}", l.value)
}

/// What the instructor gave, in the set's terms.
pub fn observed(got: &Interpretation) -> BTreeMap<String, String> {
    let g = &got.guidance;
    let mut m = BTreeMap::new();
    let act = match got.decision.action {
        Action::Retrieve => "retrieve",
        Action::Edit => "edit",
        Action::Create => "create",
    };
    m.insert("act".to_string(), act.to_string());
    let join = |it: Vec<&str>| it.join(",");
    let more: Vec<&str> = g.include.iter().map(|t| t.topic.as_str()).collect();
    let less: Vec<&str> = g
        .exclude
        .iter()
        .filter(|t| t.weight < 1.0)
        .map(|t| t.topic.as_str())
        .collect();
    let none: Vec<&str> = g
        .exclude
        .iter()
        .filter(|t| t.weight >= 1.0)
        .map(|t| t.topic.as_str())
        .collect();
    for (k, v) in [("more", more), ("less", less), ("none", none)] {
        if !v.is_empty() {
            m.insert(k.to_string(), join(v));
        }
    }
    if let Some(t) = g.tone {
        m.insert("tone".into(), t.as_str().into());
    }
    if let Some(f) = g.format {
        m.insert("fmt".into(), f.as_str().into());
    }
    if let Some(l) = &g.length {
        m.insert("len".into(), length_code(l));
    }
    if g.recency_days > 0 {
        m.insert("rec".into(), g.recency_days.to_string());
    }
    if let Some(t) = &g.target_item {
        m.insert("target".into(), t.clone());
    }
    if let Some(t) = &g.imitate {
        m.insert("imit".into(), t.clone());
    }
    m
}

/// How `got` differs from what `case` expects, one line a difference.
pub fn diffs(case: &Case, got: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for key in KEYS {
        let topics = matches!(*key, "more" | "less" | "none");
        let (want, have) = (case.expect.get(*key), got.get(*key));
        let same = if topics {
            topic_set(want) == topic_set(have)
        } else {
            want == have
        };
        if !same {
            out.push(format!(
                "{key}: expected {}, got {}",
                want.map_or("-", String::as_str),
                have.map_or("-", String::as_str)
            ));
        }
    }
    out
}

/// The instructor's figures on the set.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub cases: usize,
    /// Cases with the action and every key right.
    pub fully_right: usize,
    pub action_right: usize,
    /// Cases that exclude or lessen a topic.
    pub with_exclusions: usize,
    /// Of those, the cases where no excluded or lessened phrase is among
    /// the included ones.
    pub exclusions_honoured: usize,
    /// One line per wrong case.
    pub errors: Vec<String>,
}

impl Report {
    pub fn fully_right_share(&self) -> f64 {
        self.fully_right as f64 / self.cases.max(1) as f64
    }

    pub fn exclusions_honoured_share(&self) -> f64 {
        self.exclusions_honoured as f64 / self.with_exclusions.max(1) as f64
    }
}

/// Scores `instructor` on one committed set.
pub fn run(instructor: &Instructor, set: Set) -> Result<Report, String> {
    let (instructions, candidates) = set.files();
    let sets = parse_candidates(candidates)?;
    let cases = parse_cases(instructions, &sets)?;
    let mut report = Report {
        cases: cases.len(),
        ..Report::default()
    };
    for case in &cases {
        let input = InterpretInput {
            user_id: "u1".to_string(),
            instruction: case.say.clone(),
            context_item: case.ctx.clone(),
            feedback: Vec::new(),
            candidates: sets.get(&case.cands).cloned().unwrap_or_default(),
        };
        let got = observed(&instructor.interpret(&input));
        let d = diffs(case, &got);
        if case.expect.get("act") == got.get("act") {
            report.action_right += 1;
        }
        let excluded: BTreeSet<String> = topic_set(case.expect.get("none"))
            .into_iter()
            .chain(topic_set(case.expect.get("less")))
            .collect();
        if !excluded.is_empty() {
            report.with_exclusions += 1;
            let included = topic_set(got.get("more"));
            if excluded.is_disjoint(&included) {
                report.exclusions_honoured += 1;
            }
        }
        if d.is_empty() {
            report.fully_right += 1;
        } else {
            report.errors.push(format!(
                "line {} {:?}: {}",
                case.line,
                case.say,
                d.join("; ")
            ));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_set_parses_and_holds_at_least_300_cases() {
        let sets = parse_candidates(CANDIDATES).unwrap();
        assert!(sets.len() >= 8);
        let cases = parse_cases(INSTRUCTIONS, &sets).unwrap();
        assert!(cases.len() >= 300, "{}", cases.len());
        let ids: BTreeSet<&str> = sets
            .values()
            .flatten()
            .map(|c| c.item_id.as_str())
            .collect();
        for c in &cases {
            for key in ["target", "imit"] {
                if let Some(id) = c.expect.get(key) {
                    assert!(ids.contains(id.as_str()), "line {}: {id}", c.line);
                }
            }
            if let Some(ctx) = &c.ctx {
                assert!(ids.contains(ctx.as_str()), "line {}: {ctx}", c.line);
            }
        }
    }

    #[test]
    fn the_dev_set_parses_and_names_only_its_own_items() {
        let sets = parse_candidates(DEV_CANDIDATES).unwrap();
        let cases = parse_cases(DEV_INSTRUCTIONS, &sets).unwrap();
        assert!(cases.len() >= 80, "{}", cases.len());
        let test_ids: BTreeSet<String> = parse_candidates(CANDIDATES)
            .unwrap()
            .values()
            .flatten()
            .map(|c| c.item_id.clone())
            .collect();
        assert!(
            sets.values()
                .flatten()
                .all(|c| !test_ids.contains(&c.item_id))
        );
        let report = run(&Instructor::default(), Set::Dev).unwrap();
        assert_eq!(report.cases, cases.len());
    }

    #[test]
    fn malformed_lines_are_refused_with_their_number() {
        let sets = parse_candidates(CANDIDATES).unwrap();
        let e = parse_cases("# c\nmore golf\t-\tsport\n", &sets).unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let e = parse_cases("x\t-\tnope\tact=create\n", &sets).unwrap_err();
        assert!(e.contains("nope"), "{e}");
        let e = parse_cases("x\t-\tsport\tact=create colour=red\n", &sets).unwrap_err();
        assert!(e.contains("colour"), "{e}");
        let e = parse_cases("x\t-\tsport\tmore=golf\n", &sets).unwrap_err();
        assert!(e.contains("no act"), "{e}");
    }

    #[test]
    fn topics_compare_without_case_articles_plurals_or_generic_nouns() {
        assert_eq!(normalise_topic("The Oscars"), normalise_topic("oscar"));
        assert_eq!(normalise_topic("climate news"), "climate");
        assert_eq!(
            normalise_topic("women's football"),
            normalise_topic("womens football")
        );
        assert_ne!(normalise_topic("chelsea"), normalise_topic("liverpool"));
    }

    #[test]
    fn a_case_is_right_only_when_every_key_matches() {
        let sets = parse_candidates(CANDIDATES).unwrap();
        let case = &parse_cases(
            "x\t-\tfootball\tmore=football none=chelsea act=retrieve\n",
            &sets,
        )
        .unwrap()[0];
        let mut got = BTreeMap::new();
        got.insert("act".to_string(), "retrieve".to_string());
        got.insert("more".to_string(), "Football".to_string());
        got.insert("none".to_string(), "Chelsea".to_string());
        assert!(diffs(case, &got).is_empty());
        got.insert("tone".to_string(), "calm".to_string());
        assert_eq!(diffs(case, &got).len(), 1);
        got.remove("tone");
        got.remove("none");
        assert!(diffs(case, &got)[0].starts_with("none:"));
    }

    #[test]
    fn the_current_instructor_is_scored_on_the_set() {
        let report = run(&Instructor::default(), Set::Test).unwrap();
        eprintln!(
            "instructor on the frozen test set: {} cases, action right {}, fully right {:.3}, exclusions honoured {:.3} of {}",
            report.cases,
            report.action_right,
            report.fully_right_share(),
            report.exclusions_honoured_share(),
            report.with_exclusions
        );
        assert_eq!(report.cases, report.fully_right + report.errors.len());
        assert!(report.with_exclusions > 50);
        assert!(report.exclusions_honoured <= report.with_exclusions);
        // Floors at the figures recorded in docs/BENCHMARKS.md (words
        // alone), so a change that loses ground fails here. The issue's
        // targets (0.90 fully right, 0.97 exclusions honoured) are not met
        // yet; raise these as the figures rise.
        assert!(
            report.fully_right_share() >= 0.81,
            "fully right {:.3}",
            report.fully_right_share()
        );
        assert!(
            report.exclusions_honoured_share() >= 0.96,
            "exclusions honoured {:.3}",
            report.exclusions_honoured_share()
        );
    }
}
