//! The instruction table: instructions as people type them, with the
//! guidance and the decision the [`Instructor`] must give each. The
//! instructions test checks every row; `generec eval generation` scores the
//! instructor on it (trigger and action accuracy).
//!
//! The table is `evalsets/instructions.tsv`, embedded in the library
//! ([`TABLE`]). One row a line, five tab-separated fields:
//!
//! ```text
//! say <TAB> ctx <TAB> fb <TAB> cands <TAB> expect
//! ```
//!
//! - `say`: the instruction, taken as is (it may be empty or blank).
//! - `ctx`: the item the user is looking at; `-` for none.
//! - `fb`: the session's feedback, oldest first, as space-separated kinds
//!   (`skip`, `dislike`, `click`, `like`, `impression`, `complete`,
//!   `share`); `-` (or an empty field) for none.
//! - `cands`: the candidate set retrieval found, one of [`CANDIDATE_SETS`]
//!   (see [`candidates`]).
//! - `expect`: the expectations, below.
//!
//! Lines starting with `#` are comments; blank lines are skipped.
//!
//! # Expectations
//!
//! Expectations are space-separated `key=value` words (`_` stands for a
//! space in a value); a key may appear once.
//!
//! - `act` (retrieve, edit, create) and `trig` (none, explicit_request,
//!   rejection_streak, no_relevant_candidate): required.
//! - `inc`, `exc`: the topic phrases (comma-separated, `-` for empty;
//!   checked always, empty when absent).
//! - `cinc`, `cexc`: the catalogue categories those map to (checked when
//!   given).
//! - `tone`, `fmt`, `imit`: checked always (`-` / absent: none).
//! - `len`: `s3` (3 sentences), `w100` (words), `t120` (seconds), `r0.5`
//!   (relative); checked always (`-` / absent: none).
//! - `rec`: recency in days; checked always (absent: 0).
//! - `target`: the edited item; checked always (`-` / absent: none), in both
//!   the decision and the guidance.
//! - `fq`: words the fact query must contain, comma-separated (`-`: it must
//!   be empty; absent: not checked).
//! - `w`: weights, `topic:weight` comma-separated, of included or excluded
//!   topics.
//! - `expl`: a fragment of the explanation.
//!
//! Every explanation must also be one non-empty line.

use std::collections::HashMap;

use serde::Serialize;

use crate::guidance::{
    Action, Candidate, FeedbackKind, FeedbackSignal, Format, InterpretInput, Interpretation,
    LengthUnit, Tone, Trigger,
};
use crate::instructor::Instructor;

/// The table's text (`evalsets/instructions.tsv`).
pub const TABLE: &str = include_str!("../evalsets/instructions.tsv");

/// The names of the candidate sets a row may use.
pub const CANDIDATE_SETS: [&str; 6] = ["tech", "sport", "mixed", "video", "quantum", "none"];

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRow {
    /// The line of the table the row is on (1-based; 0 for a row made in
    /// code).
    pub line: usize,
    /// What the user said.
    pub say: String,
    /// The item the user is looking at.
    pub ctx: Option<String>,
    /// The feedback, space-separated kinds oldest first (empty: none).
    pub fb: String,
    /// The name of the candidate set (one of [`CANDIDATE_SETS`]).
    pub cands: String,
    /// The expectations (see the module docs).
    pub expect: String,
}

impl TableRow {
    /// Parses one line of the table (not a comment or a blank line), which
    /// is `line` of the file; the error says what is wrong with it.
    pub fn parse(line: usize, text: &str) -> Result<TableRow, String> {
        let fields: Vec<&str> = text.split('\t').collect();
        let [say, ctx, fb, cands, expect] = fields[..] else {
            return Err(format!(
                "expected 5 tab-separated fields (say, ctx, fb, cands, expect), found {}",
                fields.len()
            ));
        };
        let ctx = ctx.trim();
        if ctx.is_empty() {
            return Err("empty ctx: write - for none".to_string());
        }
        let fb = fb.trim();
        let row = TableRow {
            line,
            say: say.to_string(),
            ctx: (ctx != "-").then(|| ctx.to_string()),
            fb: if fb == "-" { "" } else { fb }.to_string(),
            cands: cands.trim().to_string(),
            expect: expect.trim().to_string(),
        };
        row.validate()?;
        Ok(row)
    }

    /// Whether the row's feedback, candidate set and expectations are well
    /// formed; the error says what is not.
    pub fn validate(&self) -> Result<(), String> {
        feedback(&self.fb)?;
        if candidates(&self.cands).is_none() {
            return Err(format!(
                "no candidate set {:?} (one of {})",
                self.cands,
                CANDIDATE_SETS.join(", ")
            ));
        }
        Expect::parse(&self.expect)?;
        Ok(())
    }
}

/// Parses a table in the format of the module docs; a malformed line is an
/// error naming the line.
pub fn parse(text: &str) -> Result<Vec<TableRow>, String> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let row = TableRow::parse(i + 1, line).map_err(|e| format!("line {}: {e}", i + 1))?;
        rows.push(row);
    }
    Ok(rows)
}

/// The rows of the embedded table ([`TABLE`]).
pub fn rows() -> Result<Vec<TableRow>, String> {
    parse(TABLE).map_err(|e| format!("evalsets/instructions.tsv {e}"))
}

/// What the instructor reads for `row`: its instruction and context, its
/// feedback and its candidate set. A feedback kind or a candidate set the
/// table does not know (which [`TableRow::validate`] rejects) is left out.
pub fn input(row: &TableRow) -> InterpretInput {
    InterpretInput {
        user_id: "u1".to_string(),
        instruction: row.say.clone(),
        context_item: row.ctx.clone(),
        feedback: row
            .fb
            .split_whitespace()
            .enumerate()
            .filter_map(|(i, k)| {
                Some(FeedbackSignal {
                    item_id: format!("item-{i}"),
                    kind: feedback_kind(k)?,
                })
            })
            .collect(),
        candidates: candidates(&row.cands).unwrap_or_default(),
    }
}

/// How `got` differs from what `row` expects, one line a difference; empty
/// when it matches. Malformed expectations are one difference.
pub fn check(row: &TableRow, got: &Interpretation) -> Vec<String> {
    match Expect::parse(&row.expect) {
        Ok(exp) => exp.diffs(got),
        Err(e) => vec![format!("bad expectations: {e}")],
    }
}

/// The instructor's score on the table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TableReport {
    /// The rows checked.
    pub rows: usize,
    /// The rows that matched every expectation.
    pub passed: usize,
    /// The rows whose action was the expected one.
    pub action_correct: usize,
    /// The rows whose trigger was the expected one.
    pub trigger_correct: usize,
    /// One entry for each failing row: the row, then one indented line a
    /// difference, then the explanation the instructor gave. A table that
    /// does not parse is one entry and no rows.
    pub failures: Vec<String>,
}

impl TableReport {
    /// The share of rows with the expected trigger (0 for no rows).
    pub fn trigger_accuracy(&self) -> f64 {
        ratio(self.trigger_correct, self.rows)
    }

    /// The share of rows with the expected action (0 for no rows).
    pub fn action_accuracy(&self) -> f64 {
        ratio(self.action_correct, self.rows)
    }
}

fn ratio(n: usize, of: usize) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

/// Checks `instructor` on every row of the embedded table.
pub fn run(instructor: &Instructor) -> TableReport {
    match rows() {
        Ok(rows) => run_rows(instructor, &rows),
        Err(e) => TableReport {
            failures: vec![e],
            ..TableReport::default()
        },
    }
}

/// Checks `instructor` on `rows`.
pub fn run_rows(instructor: &Instructor, rows: &[TableRow]) -> TableReport {
    let mut report = TableReport {
        rows: rows.len(),
        ..TableReport::default()
    };
    for row in rows {
        let got = instructor.interpret(&input(row));
        if let Ok(exp) = Expect::parse(&row.expect) {
            if exp.action == got.decision.action {
                report.action_correct += 1;
            }
            if exp.trigger == got.decision.trigger {
                report.trigger_correct += 1;
            }
        }
        let diffs = check(row, &got);
        if diffs.is_empty() {
            report.passed += 1;
            continue;
        }
        let mut failure = format!(
            "line {}: {:?} (context {:?}, feedback {:?}, candidates {})",
            row.line, row.say, row.ctx, row.fb, row.cands
        );
        for d in &diffs {
            failure.push_str("\n    ");
            failure.push_str(d);
        }
        failure.push_str("\n    explanation: ");
        failure.push_str(&got.decision.explanation);
        report.failures.push(failure);
    }
    report
}

/// The candidate set called `name` (one of [`CANDIDATE_SETS`]), best first.
pub fn candidates(name: &str) -> Option<Vec<Candidate>> {
    let tech12 = candidate(
        "bbc-tech-012",
        "Phone makers race to faster chips",
        &["tech"],
        "Smartphone makers unveiled faster chips and longer battery life at the show.",
        false,
    );
    let tech20 = candidate(
        "bbc-tech-020",
        "AI helps doctors read scans",
        &["tech"],
        "Artificial intelligence software is helping hospitals read scans faster.",
        false,
    );
    let sport1 = candidate(
        "bbc-sport-001",
        "Arsenal snatch late win",
        &["sport"],
        "A late goal from Saka gave Arsenal a 2-1 Premier League football win over Chelsea.",
        false,
    );
    let sport2 = candidate(
        "bbc-sport-002",
        "Murray reaches Wimbledon final",
        &["sport"],
        "Andy Murray beat his rival in straight sets to reach the tennis final.",
        false,
    );
    let sport3 = candidate(
        "bbc-sport-003",
        "England name rugby squad",
        &["sport"],
        "The England rugby coach named his squad for the Six Nations.",
        false,
    );
    let business = candidate(
        "bbc-business-003",
        "Shares rally as markets cheer rate cut",
        &["business"],
        "Stock markets rose after the central bank cut interest rates.",
        false,
    );
    let politics = candidate(
        "bbc-politics-007",
        "Election campaign enters final week",
        &["politics"],
        "Party leaders toured marginal seats as the general election campaign entered its final week.",
        false,
    );
    let ent = candidate(
        "bbc-ent-005",
        "Film festival opens with a comedy",
        &["entertainment"],
        "The festival opened with a comedy starring a celebrated actor.",
        false,
    );
    let video = candidate(
        "vid-match-01",
        "Match highlights: Arsenal v Chelsea",
        &["sport", "football"],
        "Goals and highlights from Arsenal against Chelsea.",
        true,
    );
    let quantum = candidate(
        "bbc-tech-030",
        "Quantum computer passes milestone",
        &["tech"],
        "Researchers say their quantum computing chip solved a problem in minutes.",
        false,
    );
    Some(match name {
        "tech" => vec![tech12, tech20],
        "sport" => vec![sport1, sport2, sport3],
        "mixed" => vec![tech12, business, politics, sport1, ent],
        "video" => vec![video, tech12],
        "quantum" => vec![quantum, sport1],
        "none" => vec![],
        _ => return None,
    })
}

fn candidate(id: &str, title: &str, tags: &[&str], text: &str, timed: bool) -> Candidate {
    Candidate {
        item_id: id.to_string(),
        score: 1.0,
        title: title.to_string(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        text: text.to_string(),
        timed,
    }
}

fn feedback_kind(k: &str) -> Option<FeedbackKind> {
    Some(match k {
        "skip" => FeedbackKind::Skip,
        "dislike" => FeedbackKind::Dislike,
        "click" => FeedbackKind::Click,
        "like" => FeedbackKind::Like,
        "impression" => FeedbackKind::Impression,
        "complete" => FeedbackKind::Complete,
        "share" => FeedbackKind::Share,
        _ => return None,
    })
}

fn feedback(spec: &str) -> Result<Vec<FeedbackKind>, String> {
    spec.split_whitespace()
        .map(|k| feedback_kind(k).ok_or_else(|| format!("no feedback kind {k:?}")))
        .collect()
}

/// A length expectation: none, an absolute target or a relative one.
#[derive(Clone, Copy, Debug, PartialEq)]
enum LenSpec {
    None,
    Absolute(LengthUnit, u32),
    Relative(f32),
}

impl LenSpec {
    fn parse(v: &str) -> Result<LenSpec, String> {
        if v == "-" {
            return Ok(LenSpec::None);
        }
        let bad = || format!("len={v}: want s3, w100, t120 or r0.5");
        let (unit, n) = v.split_at_checked(1).ok_or_else(bad)?;
        let unit = match unit {
            "r" => {
                let r: f32 = n.parse().map_err(|_| bad())?;
                return if r.is_finite() && r > 0.0 {
                    Ok(LenSpec::Relative(r))
                } else {
                    Err(bad())
                };
            }
            "s" => LengthUnit::Sentences,
            "w" => LengthUnit::Words,
            "t" => LengthUnit::Seconds,
            _ => return Err(bad()),
        };
        Ok(LenSpec::Absolute(unit, n.parse().map_err(|_| bad())?))
    }

    fn of(got: &Interpretation) -> LenSpec {
        match &got.guidance.length {
            None => LenSpec::None,
            Some(l) if l.value == 0 => LenSpec::Relative(l.relative),
            Some(l) => LenSpec::Absolute(l.unit, l.value),
        }
    }
}

impl std::fmt::Display for LenSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LenSpec::None => write!(f, "-"),
            LenSpec::Relative(r) => write!(f, "r{r}"),
            LenSpec::Absolute(unit, n) => {
                let u = match unit {
                    LengthUnit::Sentences => "s",
                    LengthUnit::Words => "w",
                    LengthUnit::Seconds => "t",
                };
                write!(f, "{u}{n}")
            }
        }
    }
}

/// A row's expectations, parsed.
#[derive(Clone, Debug)]
struct Expect {
    action: Action,
    trigger: Trigger,
    include: Vec<String>,
    exclude: Vec<String>,
    /// The catalogue categories; `None`: not checked.
    include_categories: Option<Vec<String>>,
    exclude_categories: Option<Vec<String>>,
    tone: Option<Tone>,
    format: Option<Format>,
    imitate: Option<String>,
    length: LenSpec,
    recency: u32,
    target: Option<String>,
    /// `None`: not checked; `Some([])`: must be empty.
    fact_query: Option<Vec<String>>,
    weights: Vec<(String, f32)>,
    explanation: Option<String>,
}

const KEYS: [&str; 15] = [
    "act", "trig", "inc", "exc", "cinc", "cexc", "tone", "fmt", "imit", "len", "rec", "target",
    "fq", "w", "expl",
];

fn spaced(v: &str) -> String {
    v.replace('_', " ")
}

fn set(v: &str) -> Vec<String> {
    let mut out: Vec<String> = if v == "-" || v.is_empty() {
        Vec::new()
    } else {
        v.split(',').map(spaced).collect()
    };
    out.sort();
    out
}

fn opt(v: Option<&str>) -> Option<String> {
    v.filter(|v| *v != "-").map(spaced)
}

impl Expect {
    fn parse(spec: &str) -> Result<Expect, String> {
        let mut exp: HashMap<&str, &str> = HashMap::new();
        for kv in spec.split_whitespace() {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("{kv:?} is not key=value"))?;
            if !KEYS.contains(&k) {
                return Err(format!("unknown key {k:?} (one of {})", KEYS.join(", ")));
            }
            if exp.insert(k, v).is_some() {
                return Err(format!("key {k} twice"));
            }
        }
        let get = |k: &str| exp.get(k).copied();

        let act = get("act").ok_or("act is required")?;
        let action = [Action::Retrieve, Action::Edit, Action::Create]
            .into_iter()
            .find(|a| a.as_str() == act)
            .ok_or_else(|| format!("no action {act:?}"))?;
        let trig = get("trig").ok_or("trig is required")?;
        let trigger = [
            Trigger::None,
            Trigger::ExplicitRequest,
            Trigger::RejectionStreak,
            Trigger::NoRelevantCandidate,
        ]
        .into_iter()
        .find(|t| t.as_str() == trig)
        .ok_or_else(|| format!("no trigger {trig:?}"))?;

        let tone = match opt(get("tone")) {
            None => None,
            Some(t) => Some(Tone::parse(&t).ok_or_else(|| format!("no tone {t:?}"))?),
        };
        let format = match opt(get("fmt")) {
            None => None,
            Some(f) => Some(Format::parse(&f).ok_or_else(|| format!("no format {f:?}"))?),
        };
        let length = LenSpec::parse(get("len").unwrap_or("-"))?;
        let recency = match get("rec") {
            None => 0,
            Some(r) => r
                .parse()
                .map_err(|_| format!("rec={r}: want a number of days"))?,
        };
        let fact_query = get("fq").map(|fq| {
            if fq == "-" {
                Vec::new()
            } else {
                fq.split(',').map(str::to_string).collect()
            }
        });
        let mut weights = Vec::new();
        if let Some(ws) = get("w") {
            for pair in ws.split(',') {
                let (topic, w) = pair
                    .split_once(':')
                    .ok_or_else(|| format!("w: {pair:?} is not topic:weight"))?;
                let w: f32 = w
                    .parse()
                    .map_err(|_| format!("w: {w:?} in {pair:?} is not a weight"))?;
                weights.push((spaced(topic), w));
            }
        }
        Ok(Expect {
            action,
            trigger,
            include: set(get("inc").unwrap_or("-")),
            exclude: set(get("exc").unwrap_or("-")),
            include_categories: get("cinc").map(set),
            exclude_categories: get("cexc").map(set),
            tone,
            format,
            imitate: opt(get("imit")),
            length,
            recency,
            target: opt(get("target")),
            fact_query,
            weights,
            explanation: get("expl").map(spaced),
        })
    }

    fn diffs(&self, got: &Interpretation) -> Vec<String> {
        let g = &got.guidance;
        let d = &got.decision;
        let mut diffs = Vec::new();
        let mut cmp = |what: &str, want: String, have: String| {
            if want != have {
                diffs.push(format!("{what}: want {want}, got {have}"));
            }
        };

        cmp(
            "action",
            self.action.as_str().to_string(),
            d.action.as_str().to_string(),
        );
        cmp(
            "trigger",
            self.trigger.as_str().to_string(),
            d.trigger.as_str().to_string(),
        );

        let mut inc: Vec<String> = g.include.iter().map(|t| t.topic.clone()).collect();
        inc.sort();
        cmp("include", format!("{:?}", self.include), format!("{inc:?}"));
        let mut exc: Vec<String> = g.exclude.iter().map(|t| t.topic.clone()).collect();
        exc.sort();
        cmp("exclude", format!("{:?}", self.exclude), format!("{exc:?}"));
        let sorted = |list: &[crate::guidance::TopicWeight]| {
            let mut v: Vec<String> = list.iter().map(|t| t.topic.clone()).collect();
            v.sort();
            v
        };
        for (what, want, have) in [
            (
                "include categories",
                &self.include_categories,
                &g.include_categories,
            ),
            (
                "exclude categories",
                &self.exclude_categories,
                &g.exclude_categories,
            ),
        ] {
            if let Some(want) = want {
                cmp(what, format!("{want:?}"), format!("{:?}", sorted(have)));
            }
        }

        cmp("tone", format!("{:?}", self.tone), format!("{:?}", g.tone));
        cmp(
            "format",
            format!("{:?}", self.format),
            format!("{:?}", g.format),
        );
        let have = LenSpec::of(got);
        if self.length != have {
            cmp("length", self.length.to_string(), have.to_string());
        }
        cmp(
            "imitate",
            format!("{:?}", self.imitate),
            format!("{:?}", g.imitate),
        );
        cmp(
            "recency",
            self.recency.to_string(),
            g.recency_days.to_string(),
        );
        cmp(
            "decision target",
            format!("{:?}", self.target),
            format!("{:?}", d.target_item),
        );
        cmp(
            "guidance target",
            format!("{:?}", self.target),
            format!("{:?}", g.target_item),
        );

        match &self.fact_query {
            None => {}
            Some(words) if words.is_empty() => {
                cmp("fact query", "\"\"".into(), format!("{:?}", g.fact_query));
            }
            Some(words) => {
                let have: Vec<&str> = g.fact_query.split_whitespace().collect();
                for w in words {
                    if !have.contains(&w.as_str()) {
                        diffs.push(format!(
                            "fact query: want it to contain {w:?}, got {:?}",
                            g.fact_query
                        ));
                    }
                }
            }
        }
        for (topic, want) in &self.weights {
            let have = g
                .include
                .iter()
                .chain(&g.exclude)
                .find(|t| t.topic == *topic)
                .map(|t| t.weight);
            if have.is_none_or(|h| (h - want).abs() > 1e-6) {
                diffs.push(format!("weight of {topic}: want {want}, got {have:?}"));
            }
        }
        if let Some(e) = &self.explanation
            && !d.explanation.contains(e.as_str())
        {
            diffs.push(format!(
                "explanation: want it to contain {e:?}, got {:?}",
                d.explanation
            ));
        }
        // Every explanation is one readable line.
        if d.explanation.trim().is_empty() || d.explanation.contains('\n') {
            diffs.push(format!("explanation is not one line: {:?}", d.explanation));
        }
        diffs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_table_parses() {
        let rows = rows().unwrap();
        assert!(rows.len() >= 70, "{} rows", rows.len());
        assert!(rows.iter().all(|r| r.line > 0));
    }

    #[test]
    fn a_malformed_line_is_an_error_naming_it() {
        let text = "# a comment\n\nhi\t-\t-\tmixed\tact=retrieve trig=none\nhi\t-\tmixed\n";
        let err = parse(text).unwrap_err();
        assert!(err.starts_with("line 4: "), "{err}");
        for bad in [
            "hi\t-\t-\tnowhere\tact=retrieve trig=none",
            "hi\t-\tskip wave\tmixed\tact=retrieve trig=none",
            "hi\t-\t-\tmixed\ttrig=none",
            "hi\t-\t-\tmixed\tact=retrieve trig=none act=edit",
            "hi\t-\t-\tmixed\tact=retrieve trig=none colour=red",
            "hi\t-\t-\tmixed\tact=retrieve trig=none len=x3",
            "hi\t-\t-\tmixed\tact=retrieve trig=none tone=grumpy",
            "hi\t-\t-\tmixed\tact=retrieve trig=none w=tech",
            "hi\t\t-\tmixed\tact=retrieve trig=none",
        ] {
            let err = parse(&format!("# c\n{bad}\n")).unwrap_err();
            assert!(err.starts_with("line 2: "), "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_row_reads_its_fields() {
        let rows = parse("   \tbbc-tech-012\tskip dislike\tvideo\tact=edit trig=none\r\n").unwrap();
        let input = input(&rows[0]);
        assert_eq!(input.instruction, "   ");
        assert_eq!(input.context_item.as_deref(), Some("bbc-tech-012"));
        let kinds: Vec<FeedbackKind> = input.feedback.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [FeedbackKind::Skip, FeedbackKind::Dislike]);
        assert_eq!(input.candidates.len(), 2);
    }

    #[test]
    fn the_report_counts_actions_and_triggers() {
        let rows = parse(
            "\t-\t-\tmixed\tact=retrieve trig=none\n\
             \t-\t-\tmixed\tact=create trig=none\n\
             \t-\t-\tmixed\tact=retrieve trig=none tone=calm\n",
        )
        .unwrap();
        let report = run_rows(&Instructor::default(), &rows);
        assert_eq!(report.rows, 3);
        assert_eq!(report.passed, 1);
        assert_eq!(report.action_correct, 2);
        assert_eq!(report.trigger_correct, 3);
        assert_eq!(report.failures.len(), 2);
        assert!(report.failures[0].starts_with("line 2: "));
        assert!(report.failures[0].contains("action: want create, got retrieve"));
        assert!((report.trigger_accuracy() - 1.0).abs() < 1e-9);
        assert!((report.action_accuracy() - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(TableReport::default().trigger_accuracy(), 0.0);
    }

    #[test]
    fn bad_expectations_are_a_difference_not_a_panic() {
        let row = TableRow {
            line: 0,
            say: String::new(),
            ctx: None,
            fb: String::new(),
            cands: "none".into(),
            expect: "act=retrieve".into(),
        };
        let got = Instructor::default().interpret(&input(&row));
        let diffs = check(&row, &got);
        assert_eq!(diffs.len(), 1);
        assert!(diffs[0].starts_with("bad expectations"), "{diffs:?}");
    }
}
