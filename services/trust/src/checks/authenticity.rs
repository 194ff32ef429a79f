//! The authenticity policy: factual sentences that no cited source
//! supports.
//!
//! # What is checked
//!
//! Only factual content ([`ReviewContext::is_factual`]: articles and
//! unknown kinds), and then:
//! - content that cites sources: every *checkable* sentence is compared
//!   with the sources;
//! - generated content (`origin` is AI-created or AI-edited) that cites no
//!   source at all: every checkable sentence that states a number, a name or
//!   a quotation is unsupported (`authenticity.unsupported.no_sources`,
//!   score 1.0); sentences without such concrete claims are not reported.
//!   `check_unsourced_generated = false` turns this off;
//! - anything else (a human article, or unknown origin, without sources) is
//!   not checked.
//!
//! A sentence is checkable when it has at least `min_content_words`
//! content words and is not a question.
//!
//! # Supported
//!
//! Content and sources are split into sentences ([`sentences`]: handles
//! abbreviations such as "Mr." and "U.S.", initials, decimals, and does not
//! split inside quotations). A source *passage* is a window of
//! `passage_sentences` consecutive sentences of one source. A sentence is
//! supported when one passage holds
//! - all its numbers ("3,000" = "3000", "3.50" = "3.5"; the words two to
//!   ninety count as their digits, "one" does not),
//! - all its names (capitalised words not at the start of the sentence or
//!   of a quotation),
//! - all its quotations (word for word, case and punctuation ignored),
//! - a negation ("not", "never", "n't" ...) when the sentence has one, in a
//!   source sentence that on its own holds `min_overlap` of its content
//!   words (and at least two),
//!
//! and at least `min_overlap` of its content words (stop words removed,
//! light stemming). An unsupported sentence is a finding with its span,
//! score 1.0 when a number, name, quotation or negation is missing
//! (`authenticity.unsupported.missing_claim`) or else 1 - the best overlap
//! (`authenticity.unsupported.low_overlap`), and evidence saying what is
//! missing ("the number 4.2% appears in no source").
//!
//! # Framing
//!
//! A generator may mark byte ranges of its content as its own framing
//! ([`ReviewContext::framing`]: a lead saying what a digest covers). A
//! sentence inside a framing range is not held to the sources' words: when
//! its only failing is low overlap it is left out of the assessment. It is
//! still held to their numbers, names, quotations and negations, and only
//! `framing_max_words` content words in all are let off this way (a caller
//! that marks everything as framing gains a few sentences, no more).
//!
//! Words of one sense class (`lexicons/authenticity_senses.txt`: "rose",
//! "climbed", "jumped" ...) count as the same content word, and a sentence
//! *contradicts* its passage when it uses a class ("fell") where the
//! passage's related sentences (each holding the required share of its
//! content words) use only the opposite class ("rose"):
//! `authenticity.unsupported.contradiction`, score 1.0.
//!
//! Three more tests, each score 1.0: a capitalised content word that
//! opens the sentence and that no source holds in any case is a name the
//! sources lack (`authenticity.unsupported.opening_name`: "Everton came
//! from behind ..."); more than `max_unmatched_run` content words in a row
//! that the passage lacks are an invented clause
//! (`authenticity.unsupported.invented_words`: "... after its chief
//! executive resigned"); and a sentence that merges two sources is
//! supported by the union of its best passage and the best passage of
//! another source when that union passes every test (within one source
//! the passage stays a window).
//!
//! Known limits: a sentence that drops a source's negation ("profits did
//! not rise" → "profits rose"), or swaps a word for an opposite the senses
//! file does not list, keeps its overlap and is not caught.
//!
//! # The share supported
//!
//! [`assess`] returns every checkable sentence's result and
//! [`Assessment::share`] the share supported; [`supported_share`] is the
//! shortcut the gRPC layer can call with the bundle's or the default
//! config. When at least one sentence is unsupported the check also adds a
//! summary finding (`authenticity.unsupported.share`, no span) whose
//! evidence states the share, scored like its worst sentence (so it shows
//! exactly when a sentence finding does); `summary = false` turns it off.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use generec_common::types::{ItemKind, Origin};
use serde::Deserialize;

use super::{Check, CheckError, CompileEnv, EvalCase, Input, ReviewContext, Source};
use crate::error::TrustError;
use crate::finding::{Category, Finding};
use crate::registry::normalise;

/// The `[authenticity]` section of a bundle.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Share of a sentence's content words one passage must hold.
    pub min_overlap: f32,
    /// Sentences per source passage.
    pub passage_sentences: usize,
    /// Sentences with fewer content words are not checked.
    pub min_content_words: usize,
    /// Whether generated factual content without sources is checked.
    pub check_unsourced_generated: bool,
    /// Whether to add the summary finding with the share supported.
    pub summary: bool,
    /// More stop words.
    pub stop_words: Vec<String>,
    /// More abbreviations that do not end a sentence (without the dot).
    pub abbreviations: Vec<String>,
    /// Content words of framing sentences (see the module docs) that may
    /// go unchecked for overlap, in all; framing beyond it is checked.
    pub framing_max_words: usize,
    /// A sentence with more content words in a row that its passage lacks
    /// is unsupported (an invented clause); 0 switches the test off.
    pub max_unmatched_run: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            min_overlap: 0.5,
            passage_sentences: 3,
            min_content_words: 3,
            check_unsourced_generated: true,
            summary: true,
            stop_words: Vec::new(),
            abbreviations: Vec::new(),
            framing_max_words: 40,
            max_unmatched_run: 2,
        }
    }
}

/// The committed word senses (`lexicons/authenticity_senses.txt`).
pub const SENSES: &str = include_str!("../../lexicons/authenticity_senses.txt");

/// Word classes whose words match each other, and pairs of opposite
/// classes (see `lexicons/authenticity_senses.txt`).
#[derive(Clone, Debug, Default)]
pub struct Senses {
    /// Class names, by class number.
    names: Vec<String>,
    /// Per class: its opposite class.
    opposite: Vec<Option<usize>>,
    /// Word → class.
    class_of: HashMap<String, usize>,
}

impl Senses {
    /// Parses the senses file; a malformed line is refused with its number.
    pub fn parse(text: &str) -> Result<Senses, String> {
        let mut senses = Senses::default();
        let mut opposites: Vec<(usize, String, usize)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let at =
                |what: &str| format!("lexicons/authenticity_senses.txt line {}: {what}", i + 1);
            let fields: Vec<&str> = line.split('\t').collect();
            let [name, opposite, words] = fields.as_slice() else {
                return Err(at("expected class, opposite class and words"));
            };
            if senses.names.iter().any(|n| n == name) {
                return Err(at(&format!("class {name:?} is defined twice")));
            }
            let class = senses.names.len();
            senses.names.push(name.to_string());
            senses.opposite.push(None);
            if *opposite != "-" {
                opposites.push((class, opposite.to_string(), i + 1));
            }
            for w in words.split_whitespace() {
                if senses.class_of.insert(w.to_string(), class).is_some() {
                    return Err(at(&format!("{w:?} is in two classes")));
                }
            }
        }
        for (class, opposite, line) in opposites {
            let o = senses.names.iter().position(|n| *n == opposite).ok_or_else(|| {
                format!("lexicons/authenticity_senses.txt line {line}: unknown opposite class {opposite:?}")
            })?;
            senses.opposite[class] = Some(o);
        }
        Ok(senses)
    }

    fn class(&self, lower: &str) -> Option<usize> {
        self.class_of.get(lower).copied()
    }

    /// The content-word key of a class: matches every word of the class.
    fn key(&self, class: usize) -> String {
        format!("~{}", self.names[class])
    }
}

/// The compiled authenticity check.
pub struct Compiled {
    config: Config,
    stop: HashSet<String>,
    abbreviations: HashSet<String>,
    senses: Senses,
}

impl Compiled {
    /// Compiles the section once per bundle.
    pub fn compile(config: &Config, _env: &CompileEnv) -> Result<Self, TrustError> {
        if !(0.0..=1.0).contains(&config.min_overlap) {
            return Err(TrustError::bundle(format!(
                "min_overlap must lie in [0, 1], got {}",
                config.min_overlap
            )));
        }
        if !(1..=20).contains(&config.passage_sentences) {
            return Err(TrustError::bundle(format!(
                "passage_sentences must lie in 1..=20, got {}",
                config.passage_sentences
            )));
        }
        let mut stop: HashSet<String> = STOP_WORDS.iter().map(|s| s.to_string()).collect();
        stop.extend(config.stop_words.iter().map(|s| s.to_lowercase()));
        let mut abbreviations: HashSet<String> =
            ABBREVIATIONS.iter().map(|s| s.to_string()).collect();
        abbreviations.extend(
            config
                .abbreviations
                .iter()
                .map(|s| s.trim_end_matches('.').to_lowercase()),
        );
        Ok(Compiled {
            config: config.clone(),
            stop,
            abbreviations,
            senses: Senses::parse(SENSES).map_err(TrustError::bundle)?,
        })
    }
}

impl Check for Compiled {
    fn name(&self) -> &'static str {
        "authenticity"
    }

    fn check(&self, input: &Input<'_>, out: &mut Vec<Finding>) -> Result<(), CheckError> {
        let Some(assessment) = self.assess(input.content, input.context) else {
            return Ok(());
        };
        let mut worst: f32 = 0.0;
        for s in assessment.sentences.iter().filter(|s| !s.supported) {
            worst = worst.max(s.score);
            out.push(
                Finding::new(
                    Category::AuthenticityUnsupported,
                    s.rule_id,
                    s.score,
                    s.evidence.clone(),
                )
                .at(s.span.0, s.span.1),
            );
        }
        if self.config.summary && assessment.supported() < assessment.checked() {
            out.push(Finding::new(
                Category::AuthenticityUnsupported,
                "authenticity.unsupported.share",
                worst,
                if assessment.sourced {
                    format!(
                        "{} of {} factual sentences are supported by the cited sources ({:.0}%)",
                        assessment.supported(),
                        assessment.checked(),
                        assessment.share().unwrap_or(0.0) * 100.0
                    )
                } else {
                    format!(
                        "{} of {} sentences state facts and none is supported: no source is cited",
                        assessment.checked() - assessment.supported(),
                        assessment.checked(),
                    )
                },
            ));
        }
        Ok(())
    }
}

/// One checkable sentence's result.
#[derive(Clone, Debug, PartialEq)]
pub struct SentenceCheck {
    /// Byte range in the content.
    pub span: (usize, usize),
    pub supported: bool,
    /// 1.0 when a claim is missing, else 1 - best overlap; 0 when supported.
    pub score: f32,
    /// The best passage's share of the sentence's content words.
    pub best_overlap: f32,
    /// The source of the best passage.
    pub source_id: Option<String>,
    pub rule_id: &'static str,
    /// What is missing, in words; empty when supported.
    pub evidence: String,
}

/// The result of checking one piece of content.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    /// Whether the content cites sources (else it is generated and cites
    /// none).
    pub sourced: bool,
    /// Every checkable sentence, in order.
    pub sentences: Vec<SentenceCheck>,
}

impl Assessment {
    /// How many sentences were checked.
    pub fn checked(&self) -> usize {
        self.sentences.len()
    }

    /// How many are supported.
    pub fn supported(&self) -> usize {
        self.sentences.iter().filter(|s| s.supported).count()
    }

    /// The share of checked sentences that are supported; `None` when no
    /// sentence was checkable.
    pub fn share(&self) -> Option<f32> {
        (self.checked() > 0).then(|| self.supported() as f32 / self.checked() as f32)
    }
}

/// Checks content against its sources: `None` when the content is not
/// checked at all (see the module docs).
pub fn assess(content: &str, context: &ReviewContext, config: &Config) -> Option<Assessment> {
    Compiled::compile(config, &CompileEnv::default())
        .ok()?
        .assess(content, context)
}

/// The share of the content's factual sentences that its sources support;
/// `None` when the content is not checked or has no checkable sentence.
pub fn supported_share(content: &str, context: &ReviewContext, config: &Config) -> Option<f32> {
    assess(content, context, config)?.share()
}

// ---------------------------------------------------------------------
// Word lists
// ---------------------------------------------------------------------

const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "aren't",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "let",
    "may",
    "me",
    "might",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "nor",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "per",
    "same",
    "say",
    "said",
    "says",
    "saying",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "would",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "one",
    "ones",
    "cent",
    "mr",
    "mrs",
    "ms",
    "dr",
    "s",
    "t",
    "d",
    "ll",
    "re",
    "ve",
    "m",
    "it's",
    "that's",
    "there's",
    "he's",
    "she's",
    "according",
    "however",
    "told",
    "added",
    "still",
    "even",
    "well",
    "way",
    "being",
    "within",
    "without",
    "across",
    "around",
    "among",
    "since",
    "though",
    "although",
    "whether",
    "yes",
    "not",
    "no",
    "never",
    "cannot",
    "isn't",
    "wasn't",
    "weren't",
    "don't",
    "doesn't",
    "didn't",
    "won't",
    "wouldn't",
    "can't",
    "couldn't",
    "shouldn't",
    "hasn't",
    "haven't",
    "hadn't",
];

const NEGATIONS: &[&str] = &[
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "cannot", "without",
];

const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "inc", "ltd", "co",
    "corp", "plc", "llc", "no", "nos", "gen", "gov", "sen", "rep", "col", "lt", "sgt", "capt",
    "cmdr", "adm", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "fig", "figs", "vol", "approx", "est", "dept", "univ", "ave", "rd", "blvd", "hon",
    "rev", "fr", "messrs", "al", "cf", "op", "ft", "pp", "ed", "eds", "govt", "pres", "supt",
];

const NUMBER_WORDS: &[(&str, &str)] = &[
    ("two", "2"),
    ("three", "3"),
    ("four", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("nine", "9"),
    ("ten", "10"),
    ("eleven", "11"),
    ("twelve", "12"),
    ("thirteen", "13"),
    ("fourteen", "14"),
    ("fifteen", "15"),
    ("sixteen", "16"),
    ("seventeen", "17"),
    ("eighteen", "18"),
    ("nineteen", "19"),
    ("twenty", "20"),
    ("thirty", "30"),
    ("forty", "40"),
    ("fifty", "50"),
    ("sixty", "60"),
    ("seventy", "70"),
    ("eighty", "80"),
    ("ninety", "90"),
];

fn number_word(lower: &str) -> Option<&'static str> {
    NUMBER_WORDS
        .iter()
        .find(|(w, _)| *w == lower)
        .map(|&(_, d)| d)
}

fn is_negation(lower: &str) -> bool {
    NEGATIONS.contains(&lower) || lower.ends_with("n't") || lower.ends_with("n’t")
}

// ---------------------------------------------------------------------
// Sentences, quotations and tokens
// ---------------------------------------------------------------------

/// Byte ranges of the quotation pairs in `text`, opening and closing mark
/// included: straight `"` pair up within a line, curly `“ ”` nest once.
/// An unpaired mark is ignored.
pub fn quotations(text: &str) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    let mut straight: Option<usize> = None;
    let mut curly: Option<usize> = None;
    for (i, c) in text.char_indices() {
        match c {
            '\n' => {
                straight = None;
                curly = None;
            }
            '"' => match straight.take() {
                Some(o) => pairs.push((o, i + 1)),
                None => straight = Some(i),
            },
            '“' => curly = Some(i),
            '”' => {
                if let Some(o) = curly.take() {
                    pairs.push((o, i + c.len_utf8()));
                }
            }
            _ => {}
        }
    }
    pairs.sort_unstable();
    pairs
}

fn is_abbreviation(text: &str, dot: usize, abbreviations: &HashSet<String>) -> bool {
    let before = &text[..dot];
    let word_start = before
        .char_indices()
        .rev()
        .find(|&(_, c)| c.is_whitespace() || matches!(c, '(' | '"' | '“' | '\'' | '‘' | '['))
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    let word = &before[word_start..];
    if word.is_empty() {
        return false;
    }
    if word.contains('.') && word.chars().any(char::is_alphabetic) {
        return true; // U.S., e.g., i.e.
    }
    let mut chars = word.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && c.is_uppercase()
    {
        return true; // an initial: J. K. Rowling
    }
    abbreviations.contains(&word.to_lowercase())
}

/// Splits text into sentences, as trimmed byte ranges (see the module
/// docs).
pub fn sentences(text: &str) -> Vec<(usize, usize)> {
    let abbreviations: HashSet<String> = ABBREVIATIONS.iter().map(|s| s.to_string()).collect();
    split_sentences(text, &abbreviations)
}

fn split_sentences(text: &str, abbreviations: &HashSet<String>) -> Vec<(usize, usize)> {
    let quotes = quotations(text);
    // Inside a quotation: after its opening mark, before its closing one.
    let strictly_inside_quote = |i: usize| {
        let k = quotes.partition_point(|&(o, _)| o < i);
        quotes[..k].iter().rev().take(4).any(|&(o, c)| {
            let close = text[..c].char_indices().next_back().map_or(c, |(x, _)| x);
            o < i && i < close
        })
    };
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let n = chars.len();
    let byte_at = |k: usize| chars.get(k).map(|&(i, _)| i).unwrap_or(text.len());
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let push = |out: &mut Vec<(usize, usize)>, s: usize, e: usize| {
        let e = s + text[s..e].trim_end().len();
        if e > s {
            out.push((s, e));
        }
    };
    let mut k = 0;
    while k < n {
        let (i, c) = chars[k];
        if start.is_none() {
            if c.is_whitespace() {
                k += 1;
                continue;
            }
            start = Some(i);
        }
        if c == '\n' {
            let prev = text[..i].trim_end().chars().next_back();
            let mut m = k + 1;
            let mut blank = false;
            while m < n && chars[m].1.is_whitespace() {
                if chars[m].1 == '\n' {
                    blank = true;
                }
                m += 1;
            }
            let next = chars.get(m).map(|&(_, c)| c);
            let continues = !blank
                && prev.is_some_and(|p| p.is_lowercase() || p == ',')
                && next.is_some_and(char::is_lowercase);
            if !continues && let Some(s) = start.take() {
                push(&mut out, s, i);
            }
            k += 1;
            continue;
        }
        if matches!(c, '.' | '!' | '?' | '…') {
            let mut j = k + 1;
            while j < n && matches!(chars[j].1, '.' | '!' | '?' | '…') {
                j += 1;
            }
            while j < n && matches!(chars[j].1, '"' | '\'' | '”' | '’' | ')' | ']') {
                j += 1;
            }
            if j < n && !chars[j].1.is_whitespace() {
                k = j;
                continue;
            }
            let mut m = j;
            while m < n && chars[m].1.is_whitespace() && chars[m].1 != '\n' {
                m += 1;
            }
            let next = chars.get(m).map(|&(_, c)| c);
            let next_ok = next.is_none_or(|ch| {
                ch.is_uppercase()
                    || ch.is_ascii_digit()
                    || ch == '\n'
                    || matches!(
                        ch,
                        '"' | '“' | '\'' | '‘' | '(' | '[' | '-' | '•' | '*' | '–'
                    )
            });
            let abbreviation = c == '.' && j == k + 1 && is_abbreviation(text, i, abbreviations);
            let last = byte_at(j - 1);
            if next_ok
                && !abbreviation
                && !strictly_inside_quote(last)
                && let Some(s) = start.take()
            {
                push(&mut out, s, byte_at(j));
            }
            k = j;
            continue;
        }
        k += 1;
    }
    if let Some(s) = start {
        push(&mut out, s, text.len());
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokKind {
    Word,
    Number,
}

#[derive(Clone, Debug)]
struct Token {
    start: usize,
    end: usize,
    kind: TokKind,
}

/// Words (letters and digits, with inner apostrophes) and numbers (digits
/// with inner `.` or `,` followed by digits), as byte ranges of `text`.
fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let n = chars.len();
    let byte_at = |k: usize| chars.get(k).map(|&(i, _)| i).unwrap_or(text.len());
    let mut out = Vec::new();
    let mut k = 0;
    while k < n {
        let c = chars[k].1;
        if c.is_ascii_digit() {
            let s = k;
            k += 1;
            loop {
                while k < n && chars[k].1.is_ascii_digit() {
                    k += 1;
                }
                if k + 1 < n && matches!(chars[k].1, '.' | ',') && chars[k + 1].1.is_ascii_digit() {
                    k += 1;
                } else {
                    break;
                }
            }
            out.push(Token {
                start: byte_at(s),
                end: byte_at(k),
                kind: TokKind::Number,
            });
        } else if c.is_alphanumeric() {
            let s = k;
            k += 1;
            while k < n {
                let c = chars[k].1;
                if c.is_alphanumeric() {
                    k += 1;
                } else if matches!(c, '\'' | '’') && k + 1 < n && chars[k + 1].1.is_alphabetic() {
                    k += 2;
                } else {
                    break;
                }
            }
            out.push(Token {
                start: byte_at(s),
                end: byte_at(k),
                kind: TokKind::Word,
            });
        } else {
            k += 1;
        }
    }
    out
}

/// "3,000" → "3000", "3.50" → "3.5", "007" → "7".
fn canonical_number(raw: &str) -> String {
    let s: String = raw.chars().filter(|&c| c != ',').collect();
    if s.matches('.').count() > 1 {
        return s;
    }
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

/// Lower case, without a possessive `'s`.
fn word_key(raw: &str) -> String {
    let lower = raw.to_lowercase();
    lower
        .strip_suffix("'s")
        .or_else(|| lower.strip_suffix("’s"))
        .map(str::to_string)
        .unwrap_or(lower)
}

/// Light stemming: plural, -ing, -ed, -ly and a final e.
fn stem(word: &str) -> String {
    let mut w = word.to_string();
    let len = w.chars().count();
    if len > 4 && w.ends_with("ies") {
        w.truncate(w.len() - 3);
        w.push('y');
    } else if w.ends_with("sses") {
        w.truncate(w.len() - 2);
    } else if len > 3
        && w.ends_with('s')
        && !w.ends_with("ss")
        && !w.ends_with("us")
        && !w.ends_with("is")
    {
        w.truncate(w.len() - 1);
    }
    let len = w.chars().count();
    if len > 5 && w.ends_with("ing") {
        w.truncate(w.len() - 3);
    } else if len > 4 && (w.ends_with("ed") || w.ends_with("ly")) {
        w.truncate(w.len() - 2);
    }
    if w.chars().count() > 3 && w.ends_with('e') {
        w.truncate(w.len() - 1);
    }
    w
}

// ---------------------------------------------------------------------
// Claims and the source index
// ---------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClaimKind {
    Number,
    Name,
    Quote,
    Negation,
}

#[derive(Clone, Debug)]
struct Claim {
    kind: ClaimKind,
    /// The index key (`n:` number, `t:` word) or normalised quotation.
    key: String,
    /// As written, for evidence.
    display: String,
}

impl Claim {
    fn describe(&self) -> String {
        match self.kind {
            ClaimKind::Number => format!("the number {}", self.display),
            ClaimKind::Name => format!("the name {}", self.display),
            ClaimKind::Quote => format!("the quotation \"{}\"", self.display),
            ClaimKind::Negation => format!("the negation \"{}\"", self.display),
        }
    }
}

/// A content sentence's claims and content words.
struct Features {
    span: (usize, usize),
    claims: Vec<Claim>,
    stems: Vec<String>,
    /// Per stem, the word as first written.
    words: Vec<String>,
    /// A capitalised content word that opens the sentence: a name when no
    /// source holds the word at all ("Everton came from behind ...").
    opening: Option<Claim>,
    /// The sense classes of its words, each with the word as written.
    senses: Vec<(usize, String)>,
    question: bool,
}

impl Compiled {
    fn features(&self, text: &str, span: (usize, usize), quotes: &[(usize, usize)]) -> Features {
        let (s, e) = span;
        let sentence = &text[s..e];
        let tokens = tokenize(sentence);
        let in_sentence: Vec<(usize, usize)> = quotes
            .iter()
            .filter(|&&(o, c)| o >= s && c <= e)
            .map(|&(o, c)| (o - s, c - s))
            .collect();
        let mut claims: Vec<Claim> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut stems: Vec<String> = Vec::new();
        let mut stem_seen: HashSet<String> = HashSet::new();
        let mut senses: Vec<(usize, String)> = Vec::new();
        let mut words: Vec<String> = Vec::new();
        let mut opening = None;
        for (ti, t) in tokens.iter().enumerate() {
            let raw = &sentence[t.start..t.end];
            match t.kind {
                TokKind::Number => {
                    let key = format!("n:{}", canonical_number(raw));
                    if seen.insert(key.clone()) {
                        claims.push(Claim {
                            kind: ClaimKind::Number,
                            key,
                            display: number_display(sentence, t.start, t.end),
                        });
                    }
                }
                TokKind::Word => {
                    let lower = word_key(raw);
                    if let Some(d) = number_word(&lower) {
                        let key = format!("n:{d}");
                        if seen.insert(key.clone()) {
                            claims.push(Claim {
                                kind: ClaimKind::Number,
                                key,
                                display: raw.to_string(),
                            });
                        }
                        continue;
                    }
                    if is_negation(&lower) {
                        if seen.insert("negation".into()) {
                            claims.push(Claim {
                                kind: ClaimKind::Negation,
                                key: String::new(),
                                display: raw.to_string(),
                            });
                        }
                        continue;
                    }
                    if let Some(class) = self.senses.class(&lower) {
                        if !senses.iter().any(|(c, _)| *c == class) {
                            senses.push((class, raw.to_string()));
                        }
                        let key = self.senses.key(class);
                        if stem_seen.insert(key.clone()) {
                            stems.push(key);
                            words.push(raw.to_string());
                        }
                        continue;
                    }
                    if self.stop.contains(&lower) {
                        continue;
                    }
                    let capitalised = raw.chars().next().is_some_and(char::is_uppercase);
                    let after_opening = sentence[..t.start]
                        .trim_end()
                        .chars()
                        .next_back()
                        .is_some_and(|c| {
                            matches!(
                                c,
                                '"' | '“' | '\'' | '‘' | ':' | '(' | '[' | '-' | '–' | '•' | '*'
                            )
                        });
                    if capitalised && ti == 0 {
                        opening = Some(Claim {
                            kind: ClaimKind::Name,
                            key: format!("t:{lower}"),
                            display: raw.to_string(),
                        });
                    }
                    if capitalised && ti > 0 && !after_opening && raw != "I" {
                        let key = format!("t:{lower}");
                        if seen.insert(key.clone()) {
                            claims.push(Claim {
                                kind: ClaimKind::Name,
                                key,
                                display: raw
                                    .trim_end_matches("'s")
                                    .trim_end_matches("’s")
                                    .to_string(),
                            });
                        }
                    }
                    let st = stem(&lower);
                    if stem_seen.insert(st.clone()) {
                        stems.push(st);
                        words.push(raw.to_string());
                    }
                }
            }
        }
        for &(o, c) in &in_sentence {
            let inner = &sentence[o..c];
            let inner = inner
                .trim_start_matches(['"', '“'])
                .trim_end_matches(['"', '”']);
            let norm = normalise(inner);
            if !norm.is_empty() {
                claims.push(Claim {
                    kind: ClaimKind::Quote,
                    key: norm,
                    display: inner.trim().to_string(),
                });
            }
        }
        let question = sentence
            .trim_end_matches(['"', '\'', '”', '’', ')', ']'])
            .ends_with('?');
        Features {
            span,
            claims,
            stems,
            words,
            opening,
            senses,
            question,
        }
    }
}

fn number_display(sentence: &str, s: usize, e: usize) -> String {
    let mut out = String::new();
    if let Some(c) = sentence[..s].chars().next_back()
        && matches!(c, '$' | '£' | '€' | '¥')
    {
        out.push(c);
    }
    out.push_str(&sentence[s..e]);
    let rest = &sentence[e..];
    if rest.starts_with('%') {
        out.push('%');
    } else if let Some(unit) = ["bn", "m", "k", "tn"].iter().find(|u| {
        rest.starts_with(*u) && !rest[u.len()..].starts_with(|c: char| c.is_alphanumeric())
    }) {
        out.push_str(unit);
    }
    out
}

/// The sources, split into sentences and indexed.
struct SourceIndex<'a> {
    sources: &'a [Source],
    /// Per global sentence: its source.
    source_of: Vec<u32>,
    /// Per source: its first global sentence; one more entry at the end.
    first: Vec<u32>,
    /// Per global sentence: whether it has a negation.
    negated: Vec<bool>,
    /// Per global sentence: the sense classes of its words, with the word.
    senses: Vec<Vec<(usize, String)>>,
    /// Term → sentences holding it (sorted, unique).
    postings: HashMap<String, Vec<u32>>,
    /// Per source: normalised text and the start of each sentence in it.
    normalised: Vec<(String, Vec<usize>)>,
}

impl<'a> SourceIndex<'a> {
    fn build(sources: &'a [Source], c: &Compiled) -> Self {
        let mut idx = SourceIndex {
            sources,
            source_of: Vec::new(),
            first: Vec::new(),
            negated: Vec::new(),
            senses: Vec::new(),
            postings: HashMap::new(),
            normalised: Vec::new(),
        };
        for (si, source) in sources.iter().enumerate() {
            idx.first.push(idx.source_of.len() as u32);
            let text = source.text.as_str();
            let mut norm_text = String::new();
            let mut starts = Vec::new();
            for (s, e) in split_sentences(text, &c.abbreviations) {
                let g = idx.source_of.len() as u32;
                idx.source_of.push(si as u32);
                let sentence = &text[s..e];
                let mut negated = false;
                let mut senses: Vec<(usize, String)> = Vec::new();
                for t in tokenize(sentence) {
                    let raw = &sentence[t.start..t.end];
                    let mut add = |key: String| {
                        let list = idx.postings.entry(key).or_default();
                        if list.last() != Some(&g) {
                            list.push(g);
                        }
                    };
                    match t.kind {
                        TokKind::Number => add(format!("n:{}", canonical_number(raw))),
                        TokKind::Word => {
                            let lower = word_key(raw);
                            if let Some(d) = number_word(&lower) {
                                add(format!("n:{d}"));
                            }
                            if is_negation(&lower) {
                                negated = true;
                            }
                            if let Some(class) = c.senses.class(&lower) {
                                if !senses.iter().any(|(k, _)| *k == class) {
                                    senses.push((class, raw.to_string()));
                                }
                                add(format!("w:{}", c.senses.key(class)));
                            } else if !c.stop.contains(&lower) {
                                add(format!("w:{}", stem(&lower)));
                            }
                            add(format!("t:{lower}"));
                        }
                    }
                }
                idx.negated.push(negated);
                idx.senses.push(senses);
                starts.push(norm_text.len() + 1);
                norm_text.push(' ');
                norm_text.push_str(&normalise(sentence));
            }
            norm_text.push(' ');
            idx.normalised.push((norm_text, starts));
        }
        idx.first.push(idx.source_of.len() as u32);
        idx
    }

    fn sentences_with(&self, key: &str) -> &[u32] {
        self.postings.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// (first sentence, last sentence) of each occurrence of a normalised
    /// quotation, as global sentence numbers.
    fn quote_occurrences(&self, quote: &str) -> Vec<(u32, u32)> {
        let needle = format!(" {quote} ");
        let mut out = Vec::new();
        for (si, (text, starts)) in self.normalised.iter().enumerate() {
            let mut from = 0;
            while let Some(p) = text[from..].find(&needle) {
                let at = from + p + 1;
                let end = at + quote.len();
                let s0 = starts.partition_point(|&x| x <= at).saturating_sub(1);
                let s1 = starts.partition_point(|&x| x < end).saturating_sub(1);
                let base = self.first[si];
                out.push((base + s0 as u32, base + s1 as u32));
                from = at;
            }
        }
        out
    }
}

impl Compiled {
    /// Checks content against its sources; `None` when it is not checked.
    pub fn assess(&self, content: &str, context: &ReviewContext) -> Option<Assessment> {
        if !context.is_factual() {
            return None;
        }
        let sourced = !context.sources.is_empty();
        let generated = context.origin.is_some_and(Origin::is_generated);
        let checked = sourced || (generated && self.config.check_unsourced_generated);
        if !checked {
            return None;
        }
        let quotes = quotations(content);
        let features: Vec<Features> = split_sentences(content, &self.abbreviations)
            .into_iter()
            .map(|span| self.features(content, span, &quotes))
            .filter(|f| !f.question && f.stems.len() >= self.config.min_content_words.max(1))
            .collect();
        let mut sentences = Vec::with_capacity(features.len());
        if !sourced {
            for f in features {
                let claims: Vec<String> = f
                    .claims
                    .iter()
                    .filter(|c| c.kind != ClaimKind::Negation)
                    .map(Claim::describe)
                    .collect();
                let supported = claims.is_empty();
                sentences.push(SentenceCheck {
                    span: f.span,
                    supported,
                    score: if supported { 0.0 } else { 1.0 },
                    best_overlap: 0.0,
                    source_id: None,
                    rule_id: "authenticity.unsupported.no_sources",
                    evidence: if supported {
                        String::new()
                    } else {
                        format!(
                            "generated factual sentence cites no source; it states {}",
                            join_list(&claims)
                        )
                    },
                });
            }
            return Some(Assessment { sourced, sentences });
        }
        let index = SourceIndex::build(&context.sources, self);
        let mut framing_left = self.config.framing_max_words;
        for f in &features {
            let judged = self.judge(f, &index);
            // A framing sentence is held to the sources' claims, not to
            // their words, within the budget.
            let framing = context
                .framing
                .iter()
                .any(|&(s, e)| s <= f.span.0 && f.span.1 <= e);
            if framing
                && !judged.supported
                && matches!(
                    judged.rule_id,
                    "authenticity.unsupported.low_overlap"
                        | "authenticity.unsupported.invented_words"
                        | "authenticity.unsupported.opening_name"
                )
                && f.stems.len() <= framing_left
            {
                framing_left -= f.stems.len();
                continue;
            }
            sentences.push(judged);
        }
        Some(Assessment { sourced, sentences })
    }

    fn judge(&self, f: &Features, index: &SourceIndex<'_>) -> SentenceCheck {
        let claims: Vec<&Claim> = f.claims.iter().take(63).collect();
        // An opening word that no source holds, in any case, is a name.
        let opening = f
            .opening
            .as_ref()
            .filter(|o| index.sentences_with(&o.key).is_empty());
        let stems: Vec<&String> = f.stems.iter().take(64).collect();
        // Per touched source sentence: claims found, content words found.
        let mut touched: HashMap<u32, (u64, u64)> = HashMap::new();
        let mut anywhere: u64 = 0;
        let mut negation_bit = None;
        for (b, claim) in claims.iter().enumerate() {
            let bit = 1u64 << b;
            match claim.kind {
                ClaimKind::Number | ClaimKind::Name => {
                    for &s in index.sentences_with(&claim.key) {
                        touched.entry(s).or_default().0 |= bit;
                        anywhere |= bit;
                    }
                }
                ClaimKind::Quote => {
                    for (s0, s1) in index.quote_occurrences(&claim.key) {
                        anywhere |= bit;
                        if ((s1 - s0) as usize) < self.config.passage_sentences {
                            touched.entry(s0).or_default().0 |= bit;
                        }
                    }
                }
                ClaimKind::Negation => negation_bit = Some(bit),
            }
        }
        for (b, st) in stems.iter().enumerate() {
            for &s in index.sentences_with(&format!("w:{st}")) {
                touched.entry(s).or_default().1 |= 1u64 << b;
            }
        }
        if let Some(bit) = negation_bit {
            // The negation must sit in a source sentence that on its own
            // holds the required share of the content words (at least 2).
            let need = ((stems.len() as f32 * self.config.min_overlap).ceil() as u32).max(2);
            for (&s, masks) in touched.iter_mut() {
                if index.negated[s as usize] && masks.1.count_ones() >= need {
                    masks.0 |= bit;
                    anywhere |= bit;
                }
            }
        }
        let all_claims: u64 = if claims.is_empty() {
            0
        } else {
            u64::MAX >> (64 - claims.len())
        };
        let w = self.config.passage_sentences as u32;
        let mut starts: Vec<u32> = Vec::new();
        for &s in touched.keys() {
            let src = index.source_of[s as usize] as usize;
            let (lo, hi) = (index.first[src], index.first[src + 1]);
            let first_start = s.saturating_sub(w - 1).max(lo);
            let last_start = s.min(hi.saturating_sub(w).max(lo));
            for st in first_start..=last_start {
                starts.push(st);
            }
        }
        starts.sort_unstable();
        starts.dedup();
        // Best window: most claims, then most content words.
        let mut best: Option<(u32, u32, u32)> = None; // (claims found, words found, start)
        let mut best_masks = (0u64, 0u64);
        let mut windows: Vec<(u32, (u64, u64))> = Vec::with_capacity(starts.len());
        for st in starts {
            let src = index.source_of[st as usize] as usize;
            let hi = index.first[src + 1].min(st + w);
            let mut m = (0u64, 0u64);
            for s in st..hi {
                if let Some(&(a, b)) = touched.get(&s) {
                    m.0 |= a;
                    m.1 |= b;
                }
            }
            let key = ((m.0 & all_claims).count_ones(), m.1.count_ones(), st);
            if best.is_none_or(|b| (key.0, key.1) > (b.0, b.1)) {
                best = Some(key);
                best_masks = m;
            }
            windows.push((st, m));
        }
        let n_stems = stems.len().max(1) as f32;
        let holds = |m: (u64, u64)| {
            m.0 & all_claims == all_claims
                && m.1.count_ones() as f32 / n_stems >= self.config.min_overlap
                && self.unmatched_run(f, m.1).is_none()
        };
        // A sentence may merge two sources ("the mayor announced ..., which
        // is expected to cost £4m"): when no passage of one source holds
        // it, the best passage of another source may add what it lacks.
        // Within one source the passage stays a window, so a number from
        // elsewhere in the same source does not count.
        if let Some(b) = best
            && !holds(best_masks)
        {
            let first_source = index.source_of[b.2 as usize];
            let merged = windows
                .iter()
                .filter(|(st, _)| index.source_of[*st as usize] != first_source)
                .map(|(_, m)| (best_masks.0 | m.0, best_masks.1 | m.1))
                .max_by_key(|u| ((u.0 & all_claims).count_ones(), u.1.count_ones()));
            if let Some(u) = merged
                && holds(u)
            {
                best_masks = u;
            }
        }
        let overlap = best_masks.1.count_ones() as f32 / n_stems;
        let source_id = best.map(|b| {
            index.sources[index.source_of[b.2 as usize] as usize]
                .id
                .clone()
        });
        let missing: Vec<&Claim> = claims
            .iter()
            .enumerate()
            .filter(|&(b, _)| best_masks.0 & (1u64 << b) == 0)
            .map(|(_, c)| *c)
            .collect();
        let contradiction = best.and_then(|b| self.contradiction(f, index, &touched, b.2));
        let invented = self.unmatched_run(f, best_masks.1);
        let supported = missing.is_empty()
            && opening.is_none()
            && overlap >= self.config.min_overlap
            && contradiction.is_none()
            && invented.is_none();
        let passage = match &source_id {
            Some(id) if !id.is_empty() => format!("the best-matching passage (source {id})"),
            Some(_) => "the best-matching passage".to_string(),
            None => "any source".to_string(),
        };
        let mut why: Vec<String> = Vec::new();
        for (b, c) in claims.iter().enumerate() {
            if best_masks.0 & (1u64 << b) != 0 {
                continue;
            }
            if anywhere & (1u64 << b) == 0 {
                why.push(format!("{} appears in no source", c.describe()));
            } else {
                why.push(format!("{} is not in {passage}", c.describe()));
            }
        }
        if let Some(o) = opening {
            why.push(format!("{} appears in no source", o.describe()));
        }
        if let Some(c) = &contradiction {
            why.push(format!("{c} in {passage}"));
        }
        if let Some(run) = &invented {
            why.push(format!(
                "the words \"{run}\" in a row appear in no passage it matches"
            ));
        }
        if overlap < self.config.min_overlap {
            why.push(format!(
                "only {:.0}% of its content words appear in {passage}; {:.0}% needed",
                overlap * 100.0,
                self.config.min_overlap * 100.0
            ));
        }
        SentenceCheck {
            span: f.span,
            supported,
            score: if supported {
                0.0
            } else if !missing.is_empty()
                || opening.is_some()
                || contradiction.is_some()
                || invented.is_some()
            {
                1.0
            } else {
                (1.0 - overlap).clamp(0.0, 1.0)
            },
            best_overlap: overlap,
            source_id,
            rule_id: if !missing.is_empty() {
                "authenticity.unsupported.missing_claim"
            } else if opening.is_some() {
                "authenticity.unsupported.opening_name"
            } else if contradiction.is_some() {
                "authenticity.unsupported.contradiction"
            } else if invented.is_some() {
                "authenticity.unsupported.invented_words"
            } else {
                "authenticity.unsupported.low_overlap"
            },
            evidence: why.join("; "),
        }
    }
}

impl Compiled {
    /// The longest run of content words in a row (in the sentence's order)
    /// that the matched passage lacks, when it is longer than
    /// `max_unmatched_run`: an invented clause ("... after its chief
    /// executive resigned") in a sentence whose other words match.
    fn unmatched_run(&self, f: &Features, matched: u64) -> Option<String> {
        let limit = self.config.max_unmatched_run;
        if limit == 0 {
            return None;
        }
        let mut best: &[String] = &[];
        let mut start = 0;
        let n = f.stems.len().min(64);
        for i in 0..=n {
            let hit = i == n || matched & (1u64 << i) != 0;
            if hit {
                if i - start > best.len() {
                    best = &f.words[start..i];
                }
                start = i + 1;
            }
        }
        (best.len() > limit).then(|| best.join(" "))
    }

    /// Whether a sentence says the opposite of the passage it matches: it
    /// uses a sense class ("fell") where the passage's related sentences
    /// (those holding the required share of its content words, at least
    /// two) use only the opposite class ("rose"). Evidence when it does.
    fn contradiction(
        &self,
        f: &Features,
        index: &SourceIndex<'_>,
        touched: &HashMap<u32, (u64, u64)>,
        start: u32,
    ) -> Option<String> {
        let src = index.source_of[start as usize] as usize;
        let end = index.first[src + 1].min(start + self.config.passage_sentences as u32);
        let n = f.stems.len().min(64) as f32;
        let need = ((n * self.config.min_overlap).ceil() as u32).max(2);
        let related: Vec<usize> = (start..end)
            .filter(|s| touched.get(s).is_some_and(|m| m.1.count_ones() >= need))
            .map(|s| s as usize)
            .collect();
        let word_of = |class: usize| {
            related.iter().find_map(|&s| {
                index.senses[s]
                    .iter()
                    .find(|(k, _)| *k == class)
                    .map(|(_, w)| w.clone())
            })
        };
        for (class, word) in &f.senses {
            let Some(opposite) = self.senses.opposite[*class] else {
                continue;
            };
            // "Sales rose while profits fell" names both directions.
            if f.senses.iter().any(|(c, _)| *c == opposite) {
                continue;
            }
            if word_of(*class).is_none()
                && let Some(theirs) = word_of(opposite)
            {
                return Some(format!(
                    "it says \"{word}\" where the source says \"{theirs}\""
                ));
            }
        }
        None
    }
}

fn join_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

// ---------------------------------------------------------------------
// Evaluation data
// ---------------------------------------------------------------------

fn eval_context(source_id: &str, text: &str) -> ReviewContext {
    ReviewContext {
        kind: Some(ItemKind::Article),
        user_id: "eval-user".to_string(),
        origin: Some(Origin::AiCreated),
        sources: vec![Source {
            id: source_id.to_string(),
            text: text.to_string(),
            ..Source::default()
        }],
        ..Default::default()
    }
}

const SWAP_NAMES: &[&str] = &[
    "Nakamura", "Oslo", "Vodafone", "Brazil", "Ferguson", "Nokia", "Madrid", "Petrov", "Heineken",
    "Kenya", "Adeyemi", "Toyota", "Lisbon", "Okonkwo", "Siemens", "Chile",
];

const AUXILIARIES: &[&str] = &[
    "is", "was", "are", "were", "will", "has", "have", "had", "can", "could", "would", "should",
];

/// One altered copy of `sentence` that `article` does not support, and
/// what was altered; `None` when no alteration applies.
fn alter(
    rng: &mut super::privacy::Rng,
    sentence: &str,
    article: &str,
    how: usize,
) -> Option<(String, &'static str)> {
    let tokens = tokenize(sentence);
    let article_numbers: HashSet<String> = tokenize(article)
        .iter()
        .filter(|t| t.kind == TokKind::Number)
        .map(|t| canonical_number(&article[t.start..t.end]))
        .collect();
    let article_words: HashSet<String> = tokenize(article)
        .iter()
        .map(|t| word_key(&article[t.start..t.end]))
        .collect();
    for attempt in 0..3 {
        match (how + attempt) % 3 {
            0 => {
                let nums: Vec<&Token> = tokens
                    .iter()
                    .filter(|t| t.kind == TokKind::Number)
                    .collect();
                if nums.is_empty() {
                    continue;
                }
                let t = nums[rng.below(nums.len() as u64) as usize];
                let raw = &sentence[t.start..t.end];
                for _ in 0..20 {
                    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
                    let Ok(v) = digits.parse::<u64>() else { break };
                    let nv = v + 1 + rng.below(9);
                    let mut new_digits = nv.to_string();
                    // Keep the shape: put the decimal point back.
                    if let Some(p) = raw.find('.') {
                        let frac_len = raw.len() - p - 1;
                        while new_digits.len() <= frac_len {
                            new_digits.insert(0, '0');
                        }
                        new_digits.insert(new_digits.len() - frac_len, '.');
                    }
                    if !article_numbers.contains(&canonical_number(&new_digits)) {
                        let mut out = sentence.to_string();
                        out.replace_range(t.start..t.end, &new_digits);
                        return Some((out, "number changed"));
                    }
                }
            }
            1 => {
                let names: Vec<&Token> = tokens
                    .iter()
                    .enumerate()
                    .filter(|&(i, t)| {
                        let raw = &sentence[t.start..t.end];
                        i > 0
                            && t.kind == TokKind::Word
                            && raw.chars().next().is_some_and(char::is_uppercase)
                            && raw.chars().count() > 2
                            && !STOP_WORDS.contains(&raw.to_lowercase().as_str())
                    })
                    .map(|(_, t)| t)
                    .collect();
                if names.is_empty() {
                    continue;
                }
                let t = names[rng.below(names.len() as u64) as usize];
                let candidates: Vec<&&str> = SWAP_NAMES
                    .iter()
                    .filter(|n| !article_words.contains(&n.to_lowercase()))
                    .collect();
                if candidates.is_empty() {
                    continue;
                }
                let new = candidates[rng.below(candidates.len() as u64) as usize];
                let mut out = sentence.to_string();
                let raw = &sentence[t.start..t.end];
                let replacement = if raw.ends_with("'s") || raw.ends_with("’s") {
                    format!("{new}'s")
                } else {
                    new.to_string()
                };
                out.replace_range(t.start..t.end, &replacement);
                return Some((out, "name swapped"));
            }
            _ => {
                if tokens
                    .iter()
                    .any(|t| is_negation(&word_key(&sentence[t.start..t.end])))
                {
                    continue;
                }
                let Some(aux) = tokens.iter().find(|t| {
                    t.kind == TokKind::Word && AUXILIARIES.contains(&&sentence[t.start..t.end])
                }) else {
                    continue;
                };
                let mut out = sentence.to_string();
                out.insert_str(aux.end, " not");
                return Some((out, "negated"));
            }
        }
    }
    None
}

/// Labelled authenticity examples: for BBC articles under
/// `<data_dir>/bbc/<category>/NNN.txt` (line 1 the title, then a blank
/// line, then the body), a sentence copied from the body with the body as
/// its source (supported: `positive = false`) and the same sentence with a
/// number changed, a name swapped or a fact negated (`positive = true`),
/// about 200 cases; plus generated content without sources. Without the
/// folder, a small hand-written set.
pub fn eval_cases(env: &CompileEnv) -> Result<Vec<EvalCase>, TrustError> {
    let bbc = env.data_dir.join("bbc");
    let mut cases = if bbc.is_dir() {
        bbc_cases(&bbc)?
    } else {
        hand_written_cases()
    };
    cases.extend(unsourced_cases());
    Ok(cases)
}

fn bbc_cases(dir: &Path) -> Result<Vec<EvalCase>, TrustError> {
    let mut categories: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.path())
        .collect();
    categories.sort();
    let mut rng = super::privacy::Rng(0xA17E_4711_0000_0001);
    let compiled = Compiled::compile(&Config::default(), &CompileEnv::default())?;
    let per_category = 200 / categories.len().max(1);
    let mut cases = Vec::new();
    let mut how = 0;
    for cat in &categories {
        let mut files: Vec<_> = std::fs::read_dir(cat)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        let mut taken = 0;
        for (fi, path) in files.iter().enumerate() {
            if taken >= per_category || cases.len() >= 200 {
                break;
            }
            if fi % 7 != 3 {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            let body = text.split_once("\n\n").map(|(_, b)| b).unwrap_or(&text);
            let spans = split_sentences(body, &compiled.abbreviations);
            // A sentence of 12 to 40 words with a number or a name.
            let pick = spans.iter().copied().enumerate().find(|&(i, (s, e))| {
                let sentence = &body[s..e];
                let words = sentence.split_whitespace().count();
                i > 0
                    && (12..=40).contains(&words)
                    && !sentence.contains('"')
                    && tokenize(sentence).iter().any(|t| t.kind == TokKind::Number)
                    && (i + fi) % 2 == 0
            });
            let pick = pick.or_else(|| {
                spans.iter().copied().enumerate().find(|&(i, (s, e))| {
                    let words = body[s..e].split_whitespace().count();
                    i > 0 && (12..=40).contains(&words) && !body[s..e].contains('"')
                })
            });
            let Some((_, (s, e))) = pick else { continue };
            let sentence = &body[s..e];
            let id = format!(
                "bbc/{}/{}",
                cat.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
                path.file_name().and_then(|n| n.to_str()).unwrap_or("?")
            );
            let Some((altered, _)) = alter(&mut rng, sentence, body, how) else {
                continue;
            };
            how += 1;
            let context = eval_context(&id, body);
            cases.push(EvalCase {
                category: Category::AuthenticityUnsupported,
                content: sentence.to_string(),
                context: context.clone(),
                positive: false,
            });
            cases.push(EvalCase {
                category: Category::AuthenticityUnsupported,
                content: altered,
                context,
                positive: true,
            });
            taken += 2;
        }
    }
    Ok(cases)
}

const HAND_SOURCE: &str = "Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn \
for the three months to December, from $639m a year earlier. The firm, which is now one of the \
biggest investors in Google, benefited from sales of high-speed internet connections. Chief \
executive Richard Parsons said: \"We are pleased with the results.\" The company did not give a \
forecast for 2005.";

fn hand_written_cases() -> Vec<EvalCase> {
    let context = eval_context("hand/1", HAND_SOURCE);
    [
        ("Quarterly profits at TimeWarner jumped 76% to $1.13bn in the three months to December.", false),
        ("Quarterly profits at TimeWarner jumped 67% to $1.13bn in the three months to December.", true),
        ("TimeWarner is now one of the biggest investors in Google.", false),
        ("TimeWarner is now one of the biggest investors in Yahoo.", true),
        ("Richard Parsons said: \"We are pleased with the results.\"", false),
        ("Richard Parsons said: \"We are thrilled with the record results.\"", true),
        ("The firm benefited from sales of high-speed internet connections.", false),
        ("The firm did not benefit from sales of high-speed internet connections.", true),
        ("The company gave no forecast for 2005.", false),
        ("The company gave no forecast for 2006.", true),
    ]
    .into_iter()
    .map(|(content, positive)| EvalCase {
        category: Category::AuthenticityUnsupported,
        content: content.to_string(),
        context: context.clone(),
        positive,
    })
    .collect()
}

fn unsourced_cases() -> Vec<EvalCase> {
    let generated = ReviewContext {
        kind: Some(ItemKind::Article),
        user_id: "eval-user".to_string(),
        origin: Some(Origin::AiCreated),
        ..Default::default()
    };
    let human = ReviewContext {
        origin: Some(Origin::Human),
        ..generated.clone()
    };
    let video = ReviewContext {
        kind: Some(ItemKind::Video),
        ..generated.clone()
    };
    [
        (
            "Shares in Vodafone rose 12% on Tuesday after the merger.",
            &generated,
            true,
        ),
        (
            "The Bank of England raised rates to 4.5% last week.",
            &generated,
            true,
        ),
        (
            "Many people enjoy walking in the countryside at weekends.",
            &generated,
            false,
        ),
        (
            "Shares in Vodafone rose 12% on Tuesday after the merger.",
            &human,
            false,
        ),
        (
            "Shares in Vodafone rose 12% on Tuesday after the merger.",
            &video,
            false,
        ),
    ]
    .into_iter()
    .map(|(content, context, positive)| EvalCase {
        category: Category::AuthenticityUnsupported,
        content: content.to_string(),
        context: context.clone(),
        positive,
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled() -> Compiled {
        Compiled::compile(&Config::default(), &CompileEnv::default()).unwrap()
    }

    fn split(text: &str) -> Vec<&str> {
        sentences(text)
            .into_iter()
            .map(|(s, e)| &text[s..e])
            .collect()
    }

    const SOURCE: &str = "Time Warner said on Friday that it now owns 8% of search-engine Google. \
But its own internet business, AOL, had mixed fortunes. It lost 464,000 subscribers in the fourth \
quarter. Chief executive Richard Parsons said: \"We had a strong year and the outlook is good.\" \
Film division profits slumped 27% to $284m.\n\nThe company will not pay a special dividend this year.";

    fn sourced() -> ReviewContext {
        ReviewContext {
            kind: Some(ItemKind::Article),
            origin: Some(Origin::AiCreated),
            sources: vec![Source {
                id: "s1".into(),
                text: SOURCE.into(),
                ..Source::default()
            }],
            ..Default::default()
        }
    }

    fn run(content: &str, context: &ReviewContext) -> Vec<Finding> {
        let c = compiled();
        let registry = crate::registry::Registry::temporary().unwrap();
        let mut out = Vec::new();
        c.check(
            &Input {
                content,
                context,
                registry: &registry,
            },
            &mut out,
        )
        .unwrap();
        out
    }

    #[test]
    fn framing_is_held_to_claims_not_words_and_only_within_its_budget() {
        let lead = "This digest brings together recent reports about media companies.";
        let fact = "Time Warner said it now owns 8% of Google.";
        let content = format!("{lead} {fact}");
        let lead_range = (0, lead.len());
        assert_eq!(
            sentence_findings(&content).len(),
            1,
            "unmarked, the lead is unsupported"
        );
        let mut marked = sourced();
        marked.framing = vec![lead_range];
        assert!(
            run(&content, &marked).is_empty(),
            "{:?}",
            run(&content, &marked)
        );
        // A framing range covering a sentence with a claim no source makes
        // still fails.
        let claim = "This digest brings together eleven recent reports about media companies.";
        let content = format!("{claim} {fact}");
        let mut marked = sourced();
        marked.framing = vec![(0, content.len())];
        let found = run(&content, &marked);
        assert!(
            found
                .iter()
                .any(|f| f.rule_id == "authenticity.unsupported.missing_claim"),
            "{found:?}"
        );
        // Marking everything as framing lets off framing_max_words, no more.
        let padding = "Readers will find many thoughtful pieces gathered here for a quiet weekend afternoon. "
            .repeat(6);
        let content = format!("{padding}{fact}");
        let mut marked = sourced();
        marked.framing = vec![(0, content.len())];
        let unsupported = run(&content, &marked)
            .into_iter()
            .filter(|f| f.span.is_some())
            .count();
        assert!((1..6).contains(&unsupported), "{unsupported}");
    }

    fn sentence_findings(content: &str) -> Vec<Finding> {
        run(content, &sourced())
            .into_iter()
            .filter(|f| f.span.is_some())
            .collect()
    }

    #[test]
    fn sentences_split_at_ends_but_not_at_abbreviations_decimals_or_inside_quotes() {
        assert_eq!(
            split("Mr. Smith paid $3.5m to the U.S. Treasury. It was late! Was it? Yes."),
            [
                "Mr. Smith paid $3.5m to the U.S. Treasury.",
                "It was late!",
                "Was it?",
                "Yes."
            ]
        );
        assert_eq!(
            split("He said: \"It is over. We lost.\" Then he left."),
            ["He said: \"It is over. We lost.\"", "Then he left."]
        );
        assert_eq!(
            split("J. K. Rowling wrote it, e.g. in cafés. Fine."),
            ["J. K. Rowling wrote it, e.g. in cafés.", "Fine."]
        );
        assert_eq!(
            split("A title without a stop\n\nThe body starts here.\nA new line"),
            [
                "A title without a stop",
                "The body starts here.",
                "A new line"
            ]
        );
        assert_eq!(
            split("a line that wraps\nand continues."),
            ["a line that wraps\nand continues."]
        );
    }

    #[test]
    fn numbers_are_normalised() {
        assert_eq!(canonical_number("3,000"), "3000");
        assert_eq!(canonical_number("3.50"), "3.5");
        assert_eq!(canonical_number("007"), "7");
        assert_eq!(canonical_number("2.0"), "2");
        assert_eq!(stem("subscribers"), stem("subscriber"));
        assert_eq!(stem("rising"), stem("rise"));
    }

    #[test]
    fn a_sentence_copied_or_paraphrased_from_the_source_is_supported() {
        assert!(
            sentence_findings("Time Warner now owns 8% of Google, it said on Friday.").is_empty()
        );
        assert!(
            sentence_findings("AOL lost 464,000 subscribers in the fourth quarter.").is_empty()
        );
        assert!(
            sentence_findings(
                "Richard Parsons said: \"We had a strong year and the outlook is good.\""
            )
            .is_empty()
        );
        assert!(
            sentence_findings("The company will not pay a special dividend this year.").is_empty()
        );
    }

    #[test]
    fn a_changed_number_is_unsupported_and_named_in_the_evidence() {
        let f = sentence_findings("AOL lost 4.2% of its subscribers in the fourth quarter.");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].score, 1.0);
        assert_eq!(f[0].rule_id, "authenticity.unsupported.missing_claim");
        assert!(
            f[0].evidence
                .contains("the number 4.2% appears in no source"),
            "{}",
            f[0].evidence
        );
        let f = sentence_findings("AOL lost 465,000 subscribers in the fourth quarter.");
        assert_eq!(f.len(), 1, "{f:?}");
    }

    #[test]
    fn a_number_from_elsewhere_in_the_source_is_not_in_the_passage() {
        let context = ReviewContext {
            sources: vec![Source {
                id: "long".into(),
                text: format!(
                    "{SOURCE} {}",
                    "Unrelated sentences follow here about weather and sport today. ".repeat(5)
                ),
                ..Source::default()
            }],
            ..sourced()
        };
        let c = compiled();
        let a = c
            .assess("Film division profits slumped 27% to $284m.", &context)
            .unwrap();
        assert!(a.sentences[0].supported, "{a:?}");
        // 8% is in the source, four sentences away.
        let a = c
            .assess("Film division profits slumped 8% to $284m.", &context)
            .unwrap();
        assert!(!a.sentences[0].supported, "{a:?}");
        assert!(
            a.sentences[0]
                .evidence
                .contains("is not in the best-matching passage (source long)"),
            "{a:?}"
        );
    }

    #[test]
    fn a_swapped_name_is_unsupported() {
        let f = sentence_findings(
            "Time Warner said on Friday that it now owns 8% of search-engine Yahoo.",
        );
        assert_eq!(f.len(), 1);
        assert!(
            f[0].evidence
                .contains("the name Yahoo appears in no source"),
            "{}",
            f[0].evidence
        );
    }

    #[test]
    fn an_altered_quotation_is_unsupported() {
        let f = sentence_findings(
            "Richard Parsons said: \"We had a record year and the outlook is good.\"",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].evidence.contains("the quotation"), "{}", f[0].evidence);
    }

    #[test]
    fn a_negated_fact_is_unsupported() {
        let f = sentence_findings("AOL did not lose 464,000 subscribers in the fourth quarter.");
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].evidence.contains("negation"), "{}", f[0].evidence);
    }

    #[test]
    fn a_reversed_direction_contradicts_the_source_and_a_synonym_does_not() {
        let f = sentence_findings("Film division profits rose 27% to $284m.");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule_id, "authenticity.unsupported.contradiction");
        assert!(f[0].evidence.contains("\"rose\""), "{}", f[0].evidence);
        assert!(f[0].evidence.contains("\"slumped\""), "{}", f[0].evidence);
        assert!(sentence_findings("Film division profits dropped 27% to $284m.").is_empty());
    }

    #[test]
    fn the_senses_file_parses_and_a_bad_line_is_refused_with_its_number() {
        let senses = Senses::parse(SENSES).unwrap();
        let up = senses.class("rose").unwrap();
        let down = senses.class("fell").unwrap();
        assert_eq!(senses.opposite[up], Some(down));
        assert_eq!(senses.opposite[down], Some(up));
        let e = Senses::parse("# c\nup\tdown\trose\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("down"), "{e}");
        let e = Senses::parse("up\t-\trose\ndown\t-\trose fell\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("two classes"), "{e}");
        assert!(Senses::parse("just one field\n").is_err());
    }

    #[test]
    fn an_unrelated_sentence_has_low_overlap() {
        let f = sentence_findings("The weather in Scotland stayed cold and wet all week.");
        assert_eq!(f.len(), 1);
        assert!(f[0].evidence.contains("Scotland") || f[0].evidence.contains("content words"));
    }

    #[test]
    fn the_summary_reports_the_share_and_supported_share_agrees() {
        let content = "Time Warner now owns 8% of Google, it said on Friday. AOL lost 9,000 subscribers in the fourth quarter.";
        let all = run(content, &sourced());
        let summary: Vec<_> = all.iter().filter(|f| f.span.is_none()).collect();
        assert_eq!(summary.len(), 1);
        assert_eq!(summary[0].rule_id, "authenticity.unsupported.share");
        assert!(
            summary[0].evidence.starts_with("1 of 2 factual sentences"),
            "{}",
            summary[0].evidence
        );
        assert_eq!(
            supported_share(content, &sourced(), &Config::default()),
            Some(0.5)
        );
    }

    #[test]
    fn generated_articles_without_sources_have_every_concrete_claim_unsupported() {
        let context = ReviewContext {
            kind: Some(ItemKind::Article),
            origin: Some(Origin::AiCreated),
            ..Default::default()
        };
        let f = run(
            "Shares in Vodafone rose 12% on Tuesday. People often enjoy long walks in the hills.",
            &context,
        );
        let sentences: Vec<_> = f.iter().filter(|f| f.span.is_some()).collect();
        assert_eq!(sentences.len(), 1);
        assert_eq!(sentences[0].rule_id, "authenticity.unsupported.no_sources");
        assert!(sentences[0].evidence.contains("the number 12%"));
    }

    #[test]
    fn human_articles_without_sources_and_non_articles_are_not_checked() {
        let human = ReviewContext {
            kind: Some(ItemKind::Article),
            origin: Some(Origin::Human),
            ..Default::default()
        };
        assert!(run("Shares in Vodafone rose 12% on Tuesday.", &human).is_empty());
        let video = ReviewContext {
            kind: Some(ItemKind::Video),
            ..sourced()
        };
        assert!(run("Shares in Vodafone rose 12% on Tuesday.", &video).is_empty());
    }

    #[test]
    fn spans_point_at_the_unsupported_sentence() {
        let content =
            "Time Warner now owns 8% of Google. AOL lost 9,000 subscribers in the fourth quarter.";
        let f = sentence_findings(content);
        assert_eq!(f.len(), 1);
        let (s, e) = f[0].span.unwrap();
        assert_eq!(
            &content[s..e],
            "AOL lost 9,000 subscribers in the fourth quarter."
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        let bad = |config: Config| Compiled::compile(&config, &CompileEnv::default()).is_err();
        assert!(bad(Config {
            min_overlap: 1.5,
            ..Config::default()
        }));
        assert!(bad(Config {
            passage_sentences: 0,
            ..Config::default()
        }));
        assert!(toml::from_str::<Config>("min_overlap = 0.6\npassage_sentences = 2").is_ok());
        assert!(toml::from_str::<Config>("min_overlp = 0.6").is_err());
    }

    #[test]
    fn hand_written_eval_cases_are_labelled_as_the_check_decides() {
        let c = compiled();
        for case in hand_written_cases().into_iter().chain(unsourced_cases()) {
            let fired = c
                .assess(&case.content, &case.context)
                .is_some_and(|a| a.sentences.iter().any(|s| !s.supported && s.score >= 0.5));
            assert_eq!(fired, case.positive, "{:?}", case.content);
        }
    }

    /// `cargo test -p generec-trust --release authenticity_report -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn authenticity_report() {
        let env = CompileEnv {
            data_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.data"),
        };
        let cases = eval_cases(&env).unwrap();
        let c = compiled();
        let (mut tp, mut fp, mut fn_, mut tn) = (0, 0, 0, 0);
        let t = std::time::Instant::now();
        for case in &cases {
            let a = c.assess(&case.content, &case.context);
            let fired = a
                .as_ref()
                .is_some_and(|a| a.sentences.iter().any(|s| !s.supported && s.score >= 0.5));
            match (case.positive, fired) {
                (true, true) => tp += 1,
                (false, true) => fp += 1,
                (true, false) => fn_ += 1,
                (false, false) => tn += 1,
            }
            if fired != case.positive {
                println!(
                    "WRONG expected {} {:?} {:?}",
                    case.positive,
                    case.content,
                    a.map(|a| a.sentences)
                );
            }
        }
        println!(
            "authenticity.unsupported: n={} tp={tp} fp={fp} fn={fn_} tn={tn} precision={:.3} recall={:.3} ({:?} per case)",
            cases.len(),
            tp as f64 / (tp + fp).max(1) as f64,
            tp as f64 / (tp + fn_).max(1) as f64,
            t.elapsed() / cases.len() as u32
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics_and_spans_lie_on_char_boundaries(
            text in "\\PC{0,160}",
            source in "\\PC{0,160}",
        ) {
            let context = ReviewContext {
                sources: vec![Source {
                    id: "p".into(),
                    text: source,
                    ..Source::default()
                }],
                ..sourced()
            };
            for f in run(&text, &context) {
                if let Some((s, e)) = f.span {
                    proptest::prop_assert!(s < e && e <= text.len());
                    proptest::prop_assert!(text.is_char_boundary(s) && text.is_char_boundary(e));
                }
            }
        }

        #[test]
        fn sentence_like_text_never_panics(text in "[A-Za-z0-9 .,!?\"“”'’:\n]{0,200}") {
            for (s, e) in sentences(&text) {
                proptest::prop_assert!(s < e && text.is_char_boundary(s) && text.is_char_boundary(e));
            }
            let _ = run(&text, &sourced());
        }
    }
}
