//! The bias policy: insensitive or non-inclusive wording, with a better
//! one, and generalisations about groups of people.
//!
//! **Insensitive wording** (`bias.insensitive`) uses retext-equality's
//! English patterns (fetched by `scripts/fetch-data`, path from the bundle)
//! and generec's own in the same format (`lexicons/equality-extra-en.json`):
//! each term with its suggested alternatives, matched the way retext
//! matches them (whole words, case-insensitive unless the term has capitals,
//! hyphens and apostrophes ignored, `*` for any one word). Findings carry
//! the first alternative as their suggestion (`Finding::suggest`). How sure
//! a finding is comes from the data:
//! - a term with alternatives: 0.8;
//! - a gendered term of a female/male pair with a neutral alternative:
//!   0.6 when it is a compound or a marked form ("chairman", "actress",
//!   "cleaning lady"), 0.3 for everyday words ("mother", "king", "his")
//!   and terms retext only flags "when referring to a person";
//! - a term with no alternative (a style note: "just", "obviously") or one
//!   whose note is about computer jargon ("master", "sane"): 0.3.
//!
//! A few one-word terms have an ordinary sense news uses far more often
//! (`lexicons/equality_senses.toml`): "disabled" and "mental" are reported
//! only as nouns or on their own ("the disabled", "he went mental"), not
//! before a noun ("disabled athletes", "mental strength"); "cripple(d)" and
//! "depressed" only when they describe a person ("a crippled beggar", "she
//! felt depressed"), not "viruses that cripple phones" or "depressed share
//! prices".
//!
//! Inside the quotations of a human-made item (`origin` human) insensitive
//! terms are not reported: they are reported speech. Generated content and
//! content of unknown origin get no such exemption.
//!
//! A capitalised word inside a sentence (a name or title: "Princess
//! Diana") scores 0.3 too. With the default minimum score of 0.5 the 0.3
//! tier is not reported. A
//! pair written out in full ("actors and actresses", "he or she") is
//! accepted unless `binary = false`.
//!
//! **Stereotypes** (`bias.stereotype`) are generalisations over the
//! committed group nouns (`lexicons/groups.txt`: nationalities, religions,
//! genders, ages, professions...), read word by word around each group
//! noun:
//! - "all <group> are/have/can't ..." (0.8), "every <singular> is ..."
//!   (0.75), unless the predicate is procedural ("all women are welcome",
//!   "all students are required to", "have the right to");
//! - a bare plural with "are always/never/naturally/all ..." or "always
//!   <verb>" (0.8), with a trait ("lazy", "bad drivers") (0.85), with
//!   "are so/too/just" (0.6);
//! - "<group> can't/cannot ..." (0.75; not for professions, whose "can't"
//!   is usually a rule);
//! - "typical <group>" (0.65) and idioms ("boys will be boys", "like a
//!   girl") (0.7);
//! - without an adverb, after fillers ("these days", "just"): "<group>
//!   arent cut out for / built for ..." (0.8), "shouldnt be <noun>" (0.7,
//!   not a passive: "shouldnt be forced"), "only care about / come for"
//!   and "come here only to" (0.75), "have no <noun>" unless the noun is a
//!   rule's ("access", "right") (0.7), "are <adjective> because they"
//!   (0.75).
//!
//! Groups are the committed nouns plus a modifier and a plural noun for
//! people ("female drivers", "older workers"), of the modifier's kind. The
//! word lists (idioms, traits, generalising adverbs, neutral predicates,
//! modifiers ...) are data: `lexicons/stereotypes.toml`.
//!
//! A determiner, number or possessive before the group ("the men",
//! "some women", "my dads") makes it specific, not a generalisation.
//!
//! ```toml
//! [bias]
//! equality = "trust/equality-en.json"   # relative to the data folder
//! allow = ["masterpiece", "binge"]      # phrases or retext pattern ids never flagged
//! groups = ["gamers"]                   # more plural group nouns
//! patterns = ["\\bthose people are\\b"] # more stereotype regexes (normalised text)
//! gendered = true                       # flag gendered terms of a pair
//! binary = true                         # accept "he or she"
//! ```

use std::collections::{HashMap, HashSet};

use regex::{Regex, RegexSet};
use serde::Deserialize;

use super::phrases::{Hyphens, Normalized, PhraseSet, PhraseSetBuilder};
use super::{Check, CheckError, CompileEnv, EvalCase, Input};
use crate::error::TrustError;
use crate::finding::{Category, Finding};
use generec_common::types::Origin;

/// generec's own insensitive terms, in retext-equality's format
/// (`lexicons/equality-extra-en.json`): a condition described as suffering
/// or victimhood ("suffers from autism", "epilepsy sufferer") for
/// conditions retext does not list, and "illegal immigrants". Hand-written
/// for generec from the NCDJ disability style guide and AP style; no
/// third-party text.
const EXTRA_EQUALITY: &str = include_str!("../../lexicons/equality-extra-en.json");

fn extra_equality() -> Vec<EqualityPattern> {
    serde_json::from_str(EXTRA_EQUALITY)
        .expect("lexicons/equality-extra-en.json is part of the build and parses")
}

/// The committed hand-written evaluation cases.
pub const EVALSET: &str = include_str!("../../evalsets/bias.tsv");

/// The `[bias]` section of a bundle.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// retext-equality's English patterns as JSON (`scripts/fetch-data`).
    pub equality: String,
    /// Phrases, or retext-equality pattern ids, never flagged.
    pub allow: Vec<String>,
    /// More plural group nouns for the stereotype rules.
    pub groups: Vec<String>,
    /// More stereotype regexes, over the normalised text (lower case,
    /// words separated by one space, punctuation dropped).
    pub patterns: Vec<String>,
    /// Whether gendered terms of a female/male pair are flagged.
    pub gendered: bool,
    /// Whether a pair written out in full ("he or she") is accepted.
    pub binary: bool,
    /// The most findings reported per category.
    pub max_findings: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            equality: "trust/equality-en.json".into(),
            allow: Vec::new(),
            groups: Vec::new(),
            patterns: Vec::new(),
            gendered: true,
            binary: true,
            max_findings: 50,
        }
    }
}

/// A group of people the stereotype rules and the safety policy's hate
/// templates know.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// nationality, religion, gender, profession, ...
    pub kind: String,
    /// Generic plural references ("women", "the french").
    pub plurals: Vec<String>,
    /// Singular nouns ("woman", "frenchman").
    pub singulars: Vec<String>,
}

impl Group {
    /// Whether the group is protected from hate (gender, orientation,
    /// religion, ethnicity, nationality, disability).
    pub fn is_protected(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "gender" | "orientation" | "religion" | "ethnicity" | "nationality" | "disability"
        )
    }

    /// Whether "can't" and bare adverbs about the group usually state a
    /// rule or a fact rather than a stereotype (professions, politics,
    /// class).
    fn is_role(&self) -> bool {
        matches!(self.kind.as_str(), "profession" | "politics" | "class")
    }
}

/// The committed list of group nouns (`lexicons/groups.txt`).
pub const GROUPS: &str = include_str!("../../lexicons/groups.txt");

/// Parses a group list: `kind | plural, plural | singular, singular`.
pub fn parse_groups(text: &str) -> Result<Vec<Group>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('|').map(str::trim).collect();
        if fields.len() != 3 || fields[0].is_empty() || fields[1].is_empty() {
            return Err(format!(
                "group list line {}: expected `kind | plurals | singulars`, got {line:?}",
                i + 1
            ));
        }
        let list = |s: &str| {
            s.split(',')
                .map(|w| w.trim().to_lowercase())
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
        };
        out.push(Group {
            kind: fields[0].to_string(),
            plurals: list(fields[1]),
            singulars: list(fields[2]),
        });
    }
    Ok(out)
}

/// One retext-equality pattern as `scripts/fetch-trust-data` exports it.
#[derive(Clone, Debug, Deserialize)]
struct EqualityPattern {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    inconsiderate: HashMap<String, String>,
    #[serde(default)]
    considerate: Vec<String>,
    #[serde(default)]
    condition: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// One term of a pattern, as matched.
#[derive(Clone, Debug)]
struct Term {
    pattern: u32,
    /// "a" (any), "female" or "male".
    side: String,
    /// The term as retext spells it.
    phrase: String,
    /// Terms with capitals match only as written.
    exact_case: bool,
    /// Terms ending with a full stop need one after the match.
    needs_period: bool,
    /// Words skipped (retext's `*`) before each part after the first, and
    /// after the last.
    gaps: Vec<u8>,
    trailing_gap: u8,
    score: f32,
}

#[derive(Clone, Debug)]
struct Pattern {
    id: String,
    or: bool,
    considerate: Vec<String>,
    note: Option<String>,
}

#[derive(Clone, Copy, Debug)]
enum Payload {
    Part { term: u32, part: u8 },
    Group { group: u32, plural: bool },
    Allow,
    Idiom(u8),
}

/// The word lists of the stereotype rules (`lexicons/stereotypes.toml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lexicon {
    idioms: Vec<(String, f32)>,
    neutral_predicates: std::collections::HashSet<String>,
    #[serde(deserialize_with = "pairs_to_map")]
    generalising: HashMap<String, f32>,
    traits: std::collections::HashSet<String>,
    claim_verbs: std::collections::HashSet<String>,
    specific: std::collections::HashSet<String>,
    permission: std::collections::HashSet<String>,
    unsuited: Vec<String>,
    fillers: Vec<String>,
    only_verbs: std::collections::HashSet<String>,
    have_no_neutral: std::collections::HashSet<String>,
    modifiers: Vec<(String, String)>,
    people_nouns: Vec<String>,
}

/// The generalising predicates that need no adverb, read from `at`,
/// the first word after the group (fillers skipped): "arent cut out
/// for", "shouldnt be <noun>", "only care about", "come here only to",
/// "have no <noun>", "are <adjective> because they". Returns the last
/// word of the match, the score and the rule.
fn unfit_claim<'w>(
    at: usize,
    word_at: &dyn Fn(usize) -> Option<&'w str>,
    phrase_at: &dyn Fn(usize, usize) -> Option<&'w str>,
    passive: &dyn Fn(&str) -> bool,
) -> Option<(usize, f32, &'static str)> {
    let w = word_at(at)?;
    let lex = lex();
    // "arent / are not (just) cut out for".
    let neg = match (w, word_at(at + 1)) {
        ("arent" | "isnt", _) => Some(at + 1),
        ("are" | "is", Some("not")) => Some(at + 2),
        _ => None,
    };
    if let Some(mut k) = neg {
        if matches!(word_at(k), Some("just" | "simply" | "really")) {
            k += 1;
        }
        if let Some(len) = (1..=3)
            .rev()
            .find(|&len| phrase_at(k, len).is_some_and(|p| lex.unsuited.iter().any(|u| u == p)))
        {
            return Some((k + len - 1, 0.8, "unsuited"));
        }
    }
    // "shouldnt be managers" (not "shouldnt be forced to").
    if matches!(w, "shouldnt" | "mustnt") || (w == "should" && word_at(at + 1) == Some("not")) {
        let be = if w == "should" { at + 2 } else { at + 1 };
        if word_at(be) == Some("be")
            && let Some(what) = word_at(be + 1)
            && !passive(what)
            && !lex.neutral_predicates.contains(what)
            && !matches!(what, "able" | "allowed" | "left" | "made")
        {
            return Some((be + 1, 0.7, "should_not_be"));
        }
    }
    // "only care about", "only come for".
    if w == "only" && word_at(at + 1).is_some_and(|v| lex.only_verbs.contains(v)) {
        return Some((at + 1, 0.75, "only"));
    }
    // "come here only/just to".
    if w == "come"
        && word_at(at + 1) == Some("here")
        && matches!(word_at(at + 2), Some("only" | "just"))
    {
        return Some((at + 2, 0.75, "only"));
    }
    // "have no respect" (not "have no access").
    if matches!(w, "have" | "has")
        && word_at(at + 1) == Some("no")
        && let Some(noun) = word_at(at + 2)
        && !lex.have_no_neutral.contains(noun)
    {
        return Some((at + 2, 0.7, "have_no"));
    }
    // "are poor because they".
    if matches!(w, "are" | "is")
        && let Some(adj) = word_at(at + 1)
        && !adj.ends_with("ing")
        && !passive(adj)
        && !lex.neutral_predicates.contains(adj)
        && word_at(at + 2) == Some("because")
        && word_at(at + 3) == Some("they")
    {
        return Some((at + 3, 0.75, "because_they"));
    }
    None
}

/// `[[phrase, score], ...]` as a map.
fn pairs_to_map<'de, D: serde::Deserializer<'de>>(d: D) -> Result<HashMap<String, f32>, D::Error> {
    Ok(Vec::<(String, f32)>::deserialize(d)?.into_iter().collect())
}

/// When a retext-equality word is used in its ordinary sense
/// (`lexicons/equality_senses.toml`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Senses {
    senses: HashMap<String, Sense>,
    function_words: HashSet<String>,
    determiners: HashSet<String>,
    person_nouns: HashSet<String>,
    copulas: HashSet<String>,
}

#[derive(Clone, Copy, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Sense {
    /// Ordinary when it describes the next word.
    BeforeNoun,
    /// Ordinary unless it describes a person.
    Person,
    /// As `Person`, and also flagged after a copula or a verb of feeling.
    PersonOrPredicate,
}

fn senses() -> &'static Senses {
    static SENSES: std::sync::OnceLock<Senses> = std::sync::OnceLock::new();
    SENSES.get_or_init(|| {
        toml::from_str(include_str!("../../lexicons/equality_senses.toml"))
            .expect("lexicons/equality_senses.toml is part of the build and parses")
    })
}

/// Whether the one-word hit at word `i` is used in the ordinary sense its
/// entry in `lexicons/equality_senses.toml` describes.
fn ordinary_sense(n: &Normalized, i: usize) -> bool {
    let senses = senses();
    let Some(&sense) = senses.senses.get(n.norm_text(i, i)) else {
        return false;
    };
    let sentence = n.words[i].sentence;
    let word = |j: usize| {
        n.words
            .get(j)
            .filter(|w| w.sentence == sentence)
            .map(|_| n.norm_text(j, j))
    };
    let next = word(i + 1);
    let prev = i.checked_sub(1).and_then(word);
    let starts_noun = next.is_some_and(|w| {
        w.starts_with(|c: char| c.is_alphabetic()) && !senses.function_words.contains(w)
    });
    match sense {
        Sense::BeforeNoun => starts_noun,
        Sense::Person | Sense::PersonOrPredicate => {
            let of_person = next.is_some_and(|w| senses.person_nouns.contains(w));
            let as_noun = prev.is_some_and(|w| senses.determiners.contains(w)) && !starts_noun;
            let predicate = sense == Sense::PersonOrPredicate
                && prev.is_some_and(|w| senses.copulas.contains(w));
            !(of_person || as_noun || predicate)
        }
    }
}

fn lex() -> &'static Lexicon {
    static LEX: std::sync::OnceLock<Lexicon> = std::sync::OnceLock::new();
    LEX.get_or_init(|| {
        toml::from_str(include_str!("../../lexicons/stereotypes.toml"))
            .expect("lexicons/stereotypes.toml is part of the build and parses")
    })
}

/// The compiled bias check.
pub struct Compiled {
    phrases: PhraseSet<Payload>,
    terms: Vec<Term>,
    patterns: Vec<Pattern>,
    groups: Vec<Group>,
    extra_set: RegexSet,
    extra: Vec<Regex>,
    binary: bool,
    max_findings: usize,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("bias::Compiled")
            .field("phrases", &self.phrases)
            .field("terms", &self.terms.len())
            .field("groups", &self.groups.len())
            .finish()
    }
}

/// Whether a gendered term is a role compound or a marked form
/// ("chairman", "cleaning lady", "actress"), not an everyday word
/// ("mother", "boyfriend", "manhood").
fn marked_gender(term: &str) -> bool {
    const ROOTS: [&str; 10] = [
        "man", "men", "woman", "women", "boy", "boys", "girl", "girls", "lady", "ladies",
    ];
    let words: Vec<&str> = term.split_whitespace().collect();
    if words.len() > 1 {
        return words.last().is_some_and(|w| ROOTS.contains(w));
    }
    let w = term;
    if ROOTS.contains(&w) {
        return false;
    }
    ROOTS
        .iter()
        .any(|r| w.len() > r.len() + 1 && w.ends_with(r))
        || ["ess", "esses", "ette", "ettes", "trix", "ine"]
            .iter()
            .any(|s| w.len() > s.len() + 2 && w.ends_with(s))
}

/// How sure a term's finding is, from retext-equality's own data.
fn term_score(p: &EqualityPattern, phrase: &str) -> f32 {
    let note = p.note.as_deref().unwrap_or("").to_lowercase();
    if p.considerate.is_empty()
        || note.contains("computer")
        || note.contains("programm")
        || note.contains("software")
    {
        return 0.3;
    }
    if p.kind == "or" {
        if p.condition.is_some() || !marked_gender(&phrase.to_lowercase()) {
            return 0.3;
        }
        return 0.6;
    }
    0.8
}

/// Capitalises a suggestion like the word it replaces.
fn match_case(original: &str, suggestion: &str) -> String {
    let upper = original.chars().next().is_some_and(char::is_uppercase);
    let all_upper = original.chars().filter(|c| c.is_alphabetic()).count() > 1
        && original
            .chars()
            .filter(|c| c.is_alphabetic())
            .all(char::is_uppercase);
    if all_upper {
        return suggestion.to_uppercase();
    }
    if upper {
        let mut c = suggestion.chars();
        return match c.next() {
            Some(f) => f.to_uppercase().chain(c).collect(),
            None => String::new(),
        };
    }
    suggestion.to_string()
}

fn list_words(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{} or {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

impl Compiled {
    /// Compiles the section once per bundle: retext-equality's terms, the
    /// group nouns, the idioms and the allowed phrases into one automaton.
    pub fn compile(config: &Config, env: &CompileEnv) -> Result<Self, TrustError> {
        let bad = |m: String| TrustError::bundle(m);
        let path = env.resolve(&config.equality);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(bad(format!(
                    "equality: {} not found; run scripts/fetch-data to fetch retext-equality's terms",
                    path.display()
                )));
            }
            Err(e) => {
                return Err(bad(format!(
                    "equality: cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        let mut data: Vec<EqualityPattern> = serde_json::from_slice(&bytes).map_err(|e| {
            bad(format!(
                "equality: {} is not an exported retext-equality pattern list: {e}",
                path.display()
            ))
        })?;
        data.extend(extra_equality());
        let allowed_ids: Vec<&str> = config.allow.iter().map(String::as_str).collect();
        let mut builder = PhraseSetBuilder::new(Hyphens::Join);
        let mut terms = Vec::new();
        let mut patterns = Vec::new();
        for p in &data {
            if allowed_ids.contains(&p.id.as_str()) || (p.kind == "or" && !config.gendered) {
                continue;
            }
            let pattern = patterns.len() as u32;
            patterns.push(Pattern {
                id: p.id.clone(),
                or: p.kind == "or",
                considerate: p.considerate.clone(),
                note: p.note.clone(),
            });
            let mut phrases: Vec<(&String, &String)> = p.inconsiderate.iter().collect();
            phrases.sort();
            for (phrase, side) in phrases {
                // retext keeps apostrophes in these; without them they
                // would collide with other words ("she'd", "shed").
                if phrase.contains(['\'', '\u{2019}']) {
                    continue;
                }
                // Split at retext's `*` (any one word): each part with the
                // number of words skipped before it.
                let mut parts: Vec<(u8, String)> = Vec::new();
                let mut gap = 0u8;
                let mut current = String::new();
                let mut current_gap = 0u8;
                for w in phrase.split_whitespace() {
                    if w == "*" {
                        if !current.is_empty() {
                            parts.push((current_gap, std::mem::take(&mut current)));
                        }
                        gap += 1;
                        continue;
                    }
                    if current.is_empty() {
                        current_gap = gap;
                        gap = 0;
                    } else {
                        current.push(' ');
                    }
                    current.push_str(w);
                }
                if !current.is_empty() {
                    parts.push((current_gap, current));
                }
                let trailing_gap = gap;
                if parts.is_empty() || parts[0].0 > 0 {
                    continue;
                }
                let before: Vec<u8> = parts.iter().map(|p| p.0).collect();
                let term = terms.len() as u32;
                terms.push(Term {
                    pattern,
                    side: side.clone(),
                    phrase: phrase.clone(),
                    exact_case: *phrase != phrase.to_lowercase(),
                    needs_period: phrase.ends_with('.'),
                    gaps: before,
                    trailing_gap,
                    score: term_score(p, phrase),
                });
                for (k, (_, part)) in parts.iter().enumerate() {
                    builder.add(
                        part,
                        Payload::Part {
                            term,
                            part: k as u8,
                        },
                    );
                }
            }
        }
        let mut groups = parse_groups(GROUPS).map_err(bad)?;
        // "female drivers", "older workers": a modifier and a plural noun
        // for people make a group of the modifier's kind.
        for (modifier, kind) in &lex().modifiers {
            groups.push(Group {
                kind: kind.clone(),
                plurals: lex()
                    .people_nouns
                    .iter()
                    .map(|n| format!("{modifier} {n}"))
                    .collect(),
                singulars: Vec::new(),
            });
        }
        if !config.groups.is_empty() {
            groups.push(Group {
                kind: "bundle".into(),
                plurals: config.groups.iter().map(|g| g.to_lowercase()).collect(),
                singulars: Vec::new(),
            });
        }
        for (g, group) in groups.iter().enumerate() {
            for p in &group.plurals {
                builder.add(
                    p,
                    Payload::Group {
                        group: g as u32,
                        plural: true,
                    },
                );
            }
            for s in &group.singulars {
                builder.add(
                    s,
                    Payload::Group {
                        group: g as u32,
                        plural: false,
                    },
                );
            }
        }
        for (i, (idiom, _)) in lex().idioms.iter().enumerate() {
            builder.add(idiom, Payload::Idiom(i as u8));
        }
        for (i, a) in config.allow.iter().enumerate() {
            if data.iter().any(|p| p.id == *a) {
                continue;
            }
            if !builder.add(a, Payload::Allow) {
                return Err(bad(format!("allow[{i}]: {a:?} has no words")));
            }
        }
        let mut extra = Vec::new();
        for (i, p) in config.patterns.iter().enumerate() {
            extra.push(
                regex::RegexBuilder::new(p)
                    .case_insensitive(true)
                    .size_limit(1 << 22)
                    .build()
                    .map_err(|e| bad(format!("patterns[{i}]: bad regex {p:?}: {e}")))?,
            );
        }
        let extra_set = RegexSet::new(extra.iter().map(Regex::as_str))
            .map_err(|e| bad(format!("patterns: {e}")))?;
        Ok(Compiled {
            phrases: builder.build().map_err(bad)?,
            terms,
            patterns,
            groups,
            extra_set,
            extra,
            binary: config.binary,
            max_findings: config.max_findings,
        })
    }
}

/// A matched retext term.
#[derive(Clone, Copy, Debug)]
struct TermHit {
    term: u32,
    first: usize,
    last: usize,
}

impl Compiled {
    fn insensitive(
        &self,
        content: &str,
        n: &Normalized,
        hits: &[TermHit],
        allows: &[(usize, usize)],
        quoted: &[(usize, usize)],
        out: &mut Vec<Finding>,
    ) {
        let allowed = |first: usize, last: usize| {
            let (s, e) = n.span(first, last);
            allows.iter().any(|&(a, b)| a <= first && last <= b)
                || quoted.iter().any(|&(a, b)| a <= s && e <= b)
        };
        // Keep the longest term at each place.
        let mut hits: Vec<TermHit> = hits
            .iter()
            .copied()
            .filter(|h| !allowed(h.first, h.last))
            .filter(|h| h.first != h.last || !ordinary_sense(n, h.first))
            .collect();
        hits.sort_by_key(|h| (h.first, std::cmp::Reverse(h.last)));
        let mut kept: Vec<TermHit> = Vec::new();
        for h in hits {
            if kept.last().is_some_and(|k| h.first <= k.last) {
                continue;
            }
            kept.push(h);
        }
        // Pairs written out in full ("actors and actresses") are accepted.
        let mut paired = vec![false; kept.len()];
        if self.binary {
            for i in 0..kept.len() {
                for j in i + 1..kept.len() {
                    let (a, b) = (&kept[i], &kept[j]);
                    let (ta, tb) = (&self.terms[a.term as usize], &self.terms[b.term as usize]);
                    if ta.pattern != tb.pattern
                        || ta.side == tb.side
                        || !self.patterns[ta.pattern as usize].or
                    {
                        continue;
                    }
                    if n.words[a.last].sentence != n.words[b.first].sentence {
                        break;
                    }
                    let between = (a.last + 1..b.first).all(|w| {
                        let t = n.norm_text(w, w);
                        t == "and" || t == "or"
                    });
                    if between && b.first - a.last <= 2 {
                        paired[i] = true;
                        paired[j] = true;
                    }
                }
            }
        }
        let mut reported = 0;
        for (h, paired) in kept.iter().zip(paired) {
            if paired || reported >= self.max_findings {
                continue;
            }
            let term = &self.terms[h.term as usize];
            let pattern = &self.patterns[term.pattern as usize];
            let (s, e) = n.span(h.first, h.last);
            // A capitalised word inside a sentence is most likely a name or
            // a title ("Princess Diana", "Iron Maiden").
            let score = if h.first == h.last && n.looks_like_name(content, h.first) {
                term.score.min(0.3)
            } else {
                term.score
            };
            let found = &content[s..e];
            let mut evidence = if pattern.or {
                format!("\"{found}\" is gendered")
            } else {
                format!("\"{found}\" may be insensitive")
            };
            if pattern.considerate.is_empty() {
                evidence.push_str("; consider leaving it out");
            } else {
                evidence.push_str(&format!("; consider {}", list_words(&pattern.considerate)));
            }
            if let Some(note) = &pattern.note {
                evidence.push_str(&format!(" ({note})"));
            }
            evidence.push_str(" [retext-equality]");
            let mut f = Finding::new(
                Category::BiasInsensitive,
                format!("bias.insensitive.{}", pattern.id),
                score,
                evidence,
            )
            .at(s, e);
            if let Some(first) = pattern.considerate.first() {
                f = f.suggest(match_case(found, first));
            }
            out.push(f);
            reported += 1;
        }
    }

    fn stereotypes(
        &self,
        content: &str,
        n: &Normalized,
        groups: &[(u32, bool, usize, usize)],
        idioms: &[(u8, usize, usize)],
        allows: &[(usize, usize)],
        out: &mut Vec<Finding>,
    ) {
        let word = |i: usize| n.norm_text(i, i);
        let same_sentence = |a: usize, b: usize| n.words[a].sentence == n.words[b].sentence;
        let next = |last: usize, k: usize| -> Option<&str> {
            let i = last + k;
            (i < n.words.len() && same_sentence(last, i)).then(|| word(i))
        };
        let prev = |first: usize, k: usize| -> Option<&str> {
            (first >= k && same_sentence(first, first - k)).then(|| word(first - k))
        };
        // Phrase of up to three words starting at `at`.
        let phrase_at = |at: usize, len: usize| -> Option<&str> {
            let end = at + len - 1;
            (end < n.words.len() && same_sentence(at, end)).then(|| n.norm_text(at, end))
        };
        let trait_at = |at: usize| -> Option<usize> {
            (1..=3)
                .rev()
                .find(|&len| phrase_at(at, len).is_some_and(|p| lex().traits.contains(p)))
        };
        let generalising_at = |at: usize| -> Option<(f32, usize)> {
            (1..=3).rev().find_map(|len| {
                let p = phrase_at(at, len)?;
                lex().generalising.get(p).map(|&s| (s, len))
            })
        };
        // "given", "invited", "paid": a passive says what is done to the
        // group, not what it is like (unless the word is a trait).
        let passive = |w: &str| {
            (w.ends_with("ed") || w.ends_with("en"))
                && !lex().traits.contains(w)
                && !lex().generalising.contains_key(w)
        };
        let mut found: Vec<(usize, usize, f32, &'static str, String)> = Vec::new();
        let mut seen_first: Vec<usize> = Vec::new();
        // Keep the longest group phrase at each start ("black women" over
        // "women").
        let mut groups: Vec<(u32, bool, usize, usize)> = groups.to_vec();
        groups.sort_by_key(|g| (g.2, std::cmp::Reverse(g.3)));
        for &(g, plural, first, last) in &groups {
            if seen_first.contains(&first) || allows.iter().any(|&(a, b)| a <= first && last <= b) {
                continue;
            }
            seen_first.push(first);
            let group = &self.groups[g as usize];
            let before = prev(first, 1);
            let after = next(last, 1);
            let Some(after) = after else {
                // "typical <group>" needs nothing after.
                if before == Some("typical") {
                    found.push((first - 1, last, 0.65, "typical", group.kind.clone()));
                }
                continue;
            };
            if before == Some("typical") {
                found.push((first - 1, last, 0.65, "typical", group.kind.clone()));
                continue;
            }
            let quantified = if plural {
                before == Some("all")
            } else {
                before == Some("every")
            };
            if quantified {
                // "all <group> are ..." / "every <group> is ...".
                let verb_ok = if plural {
                    lex().claim_verbs.contains(after)
                } else {
                    matches!(
                        after,
                        "is" | "has"
                            | "wants"
                            | "knows"
                            | "loves"
                            | "hates"
                            | "needs"
                            | "can"
                            | "cant"
                            | "should"
                            | "will"
                    )
                };
                if !verb_ok {
                    continue;
                }
                let pred = next(last, 2);
                // Professions and the like: "all doctors must" is a rule;
                // only a trait or a generalising word is a stereotype.
                if group.is_role()
                    && !(matches!(after, "are" | "is")
                        && (trait_at(last + 2).is_some() || generalising_at(last + 2).is_some()))
                {
                    continue;
                }
                let neutral = match (after, pred) {
                    ("are" | "is", Some(p)) => {
                        (lex().neutral_predicates.contains(p) || passive(p))
                            && !(p == "entitled" && next(last, 3) != Some("to"))
                    }
                    ("have" | "has" | "can" | "should" | "will" | "need", Some(p)) => {
                        matches!(
                            p,
                            "the"
                                | "a"
                                | "to"
                                | "access"
                                | "rights"
                                | "until"
                                | "been"
                                | "received"
                                | "agreed"
                        ) || (matches!(after, "can" | "should" | "will")
                            && lex().permission.contains(p))
                    }
                    ("are" | "is", None) => true,
                    _ => false,
                };
                if neutral {
                    continue;
                }
                let end = pred.map_or(last + 1, |_| last + 2);
                let score = if plural { 0.8 } else { 0.75 };
                found.push((first - 1, end, score, "all_are", group.kind.clone()));
                continue;
            }
            if !plural {
                continue;
            }
            // A bare plural: nothing specific in front.
            if before.is_some_and(|b| {
                lex().specific.contains(b) || b.chars().all(|c| c.is_ascii_digit())
            }) {
                continue;
            }
            let role = group.is_role();
            // Skip fillers between the group and its predicate ("these
            // days", "just"): `at` is the first word of the predicate.
            let mut at = last + 1;
            while let Some(len) = (1..=2).rev().find(|&len| {
                phrase_at(at, len).is_some_and(|p| lex().fillers.iter().any(|f| f == p))
            }) {
                at += len;
            }
            let word_at = |i: usize| next(last, i - last);
            if let Some((end, score, rule)) = unfit_claim(at, &word_at, &phrase_at, &passive) {
                found.push((first, end, score, rule, group.kind.clone()));
                continue;
            }
            if after == "are" {
                if let Some(len) = trait_at(last + 2) {
                    found.push((first, last + 1 + len, 0.85, "trait", group.kind.clone()));
                } else if let Some((score, len)) = generalising_at(last + 2) {
                    if role && score < 0.8 {
                        continue;
                    }
                    // "... are all here" is not "are all the same", and
                    // "are never given" is about how they are treated.
                    let after_adverb = next(last, 2 + len);
                    if next(last, 2) == Some("all")
                        && after_adverb.is_none_or(|w| lex().neutral_predicates.contains(w))
                    {
                        continue;
                    }
                    if after_adverb
                        .is_some_and(|w| passive(w) || lex().neutral_predicates.contains(w))
                    {
                        continue;
                    }
                    found.push((
                        first,
                        last + 1 + len,
                        score,
                        "always_never",
                        group.kind.clone(),
                    ));
                }
            } else if matches!(after, "always" | "never") && !role {
                if next(last, 2).is_some() {
                    found.push((first, last + 2, 0.8, "always_never", group.kind.clone()));
                }
            } else if matches!(after, "cant" | "cannot" | "couldnt") && !role {
                let verb = next(last, 2);
                if verb.is_some_and(|v| !lex().permission.contains(v)) {
                    found.push((first, last + 2, 0.75, "cannot", group.kind.clone()));
                }
            } else if after == "can" && next(last, 2) == Some("not") && !role {
                let verb = next(last, 3);
                if verb.is_some_and(|v| !lex().permission.contains(v)) {
                    found.push((first, last + 3, 0.75, "cannot", group.kind.clone()));
                }
            }
        }
        for &(i, first, last) in idioms {
            if allows.iter().any(|&(a, b)| a <= first && last <= b) {
                continue;
            }
            found.push((
                first,
                last,
                lex().idioms[i as usize].1,
                "idiom",
                "gender".into(),
            ));
        }
        for i in self.extra_set.matches(&n.text).iter() {
            for m in self.extra[i].find_iter(&n.text) {
                if m.start() == m.end() {
                    continue;
                }
                if let (Some(a), Some(b)) =
                    (n.word_containing(m.start()), n.word_containing(m.end() - 1))
                {
                    found.push((a, b, 0.8, "pattern", "bundle".into()));
                }
            }
        }
        found.sort_by_key(|f| (f.0, std::cmp::Reverse(f.1)));
        let mut last_end = None;
        let mut reported = 0;
        for (first, last, score, rule, kind) in found {
            if last_end.is_some_and(|e| first <= e) || reported >= self.max_findings {
                continue;
            }
            last_end = Some(last);
            reported += 1;
            let (s, e) = n.span(first, last);
            out.push(
                Finding::new(
                    Category::BiasStereotype,
                    format!("bias.stereotype.{rule}"),
                    score,
                    format!("\"{}\" generalises about a group ({kind})", &content[s..e]),
                )
                .at(s, e)
                .suggest("describe the people or cite evidence instead of generalising"),
            );
        }
    }
}

impl Check for Compiled {
    fn name(&self) -> &'static str {
        "bias"
    }

    fn check(&self, input: &Input<'_>, out: &mut Vec<Finding>) -> Result<(), CheckError> {
        let content = input.content;
        let n = Normalized::new(content, Hyphens::Join);
        if n.words.is_empty() {
            return Ok(());
        }
        let mut term_hits = Vec::new();
        let mut group_hits = Vec::new();
        let mut idioms = Vec::new();
        let mut allows = Vec::new();
        // (term, part, last word) -> first word of the chain.
        let mut chains: HashMap<(u32, u8, usize), usize> = HashMap::new();
        self.phrases.for_each(&n, |hit| {
            for payload in self.phrases.payloads(hit.phrase) {
                match *payload {
                    Payload::Part { term, part } => {
                        let t = &self.terms[term as usize];
                        let start = if part == 0 {
                            Some(hit.first)
                        } else {
                            let gap = t.gaps[part as usize] as usize;
                            hit.first.checked_sub(gap + 1).and_then(|prev_last| {
                                chains.get(&(term, part - 1, prev_last)).copied()
                            })
                        };
                        let Some(start) = start else { continue };
                        let mut last = hit.last;
                        if part as usize + 1 < t.gaps.len() {
                            chains.insert((term, part, last), start);
                            continue;
                        }
                        last += t.trailing_gap as usize;
                        if last >= n.words.len()
                            || n.words[last].sentence != n.words[start].sentence
                        {
                            continue;
                        }
                        let (s, e) = n.span(start, last);
                        if t.exact_case && t.trailing_gap == 0 && t.gaps.len() == 1 {
                            let original = &content[s..e];
                            let wanted = t.phrase.trim_end_matches('.');
                            if original != wanted {
                                continue;
                            }
                        }
                        if t.needs_period && !content[e..].starts_with('.') {
                            continue;
                        }
                        term_hits.push(TermHit {
                            term,
                            first: start,
                            last,
                        });
                    }
                    Payload::Group { group, plural } => {
                        group_hits.push((group, plural, hit.first, hit.last))
                    }
                    Payload::Idiom(i) => idioms.push((i, hit.first, hit.last)),
                    Payload::Allow => allows.push((hit.first, hit.last)),
                }
            }
        });
        // A human-made item's quotations are reported speech: the words
        // are the speaker's, not the publisher's. Generated content gets no
        // such exemption, so quote marks are no way round the check.
        let quoted = if input.context.origin == Some(Origin::Human) {
            super::authenticity::quotations(content)
        } else {
            Vec::new()
        };
        self.insensitive(content, &n, &term_hits, &allows, &quoted, out);
        self.stereotypes(content, &n, &group_hits, &idioms, &allows, out);
        Ok(())
    }
}

/// The labelled cases of `generec eval policies` for the bias categories:
/// the committed hand-written set (`evalsets/bias.tsv`) and, when the data
/// is there, one positive per retext-equality term that has alternatives
/// (in a neutral carrier sentence).
pub fn eval_cases(env: &CompileEnv) -> Result<Vec<EvalCase>, TrustError> {
    let mut cases = super::safety::parse_evalset(EVALSET, "evalsets/bias.tsv")?;
    let path = env.resolve(&Config::default().equality);
    let bytes = std::fs::read(&path).map_err(|e| {
        TrustError::bundle(format!(
            "equality: cannot read {}: {e}; run scripts/fetch-data",
            path.display()
        ))
    })?;
    let data: Vec<EqualityPattern> = serde_json::from_slice(&bytes)
        .map_err(|e| TrustError::bundle(format!("equality: {}: {e}", path.display())))?;
    for p in &data {
        for phrase in p.inconsiderate.keys() {
            if phrase.contains(['*', '\'', '\u{2019}', '.']) || term_score(p, phrase) < 0.5 {
                continue;
            }
            cases.push(EvalCase {
                category: Category::BiasInsensitive,
                content: format!("The article used the phrase {phrase} in its opening paragraph."),
                context: super::ReviewContext::default(),
                positive: true,
            });
        }
    }
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::ReviewContext;
    use crate::registry::Registry;

    /// A few patterns in the shape `scripts/fetch-trust-data` exports.
    const FAKE_EQUALITY: &str = r#"[
      {"id":"chairman-chairwoman","type":"or","categories":["female","male"],
       "inconsiderate":{"chairwoman":"female","chairman":"male"},"considerate":["chair","chairperson"],
       "condition":null,"note":null,"apostrophe":false},
      {"id":"actor-actress","type":"or","categories":["female","male"],
       "inconsiderate":{"actress":"female","actor":"male"},"considerate":["performer","star"],
       "condition":null,"note":null,"apostrophe":false},
      {"id":"her-him","type":"or","categories":["female","male"],
       "inconsiderate":{"her":"female","his":"male"},"considerate":["their"],
       "condition":"when referring to a person","note":null,"apostrophe":false},
      {"id":"wheelchair-bound","type":"basic","categories":["a"],
       "inconsiderate":{"wheelchair bound":"a","confined to a wheelchair":"a"},"considerate":["uses a wheelchair"],
       "condition":null,"note":null,"apostrophe":false},
      {"id":"lame","type":"basic","categories":["a"],"inconsiderate":{"lame":"a"},
       "considerate":["weak","feeble"],"condition":null,"note":"Source: style guide","apostrophe":false},
      {"id":"just","type":"basic","categories":["a"],"inconsiderate":{"just":"a"},"considerate":[],
       "condition":null,"note":"Not everything is easy.","apostrophe":false},
      {"id":"master","type":"basic","categories":["a"],"inconsiderate":{"master":"a"},"considerate":["primary"],
       "condition":null,"note":"these suggestions are for the computer term","apostrophe":false},
      {"id":"add","type":"basic","categories":["a"],"inconsiderate":{"ADD":"a","a.d.d.":"a"},
       "considerate":["distracted"],"condition":null,"note":null,"apostrophe":false},
      {"id":"father-of-*","type":"basic","categories":["a"],"inconsiderate":{"father of *":"a"},
       "considerate":["founder of"],"condition":null,"note":null,"apostrophe":false},
      {"id":"mrs-","type":"basic","categories":["a"],"inconsiderate":{"mrs.":"a","miss.":"a"},
       "considerate":["ms."],"condition":null,"note":null,"apostrophe":false},
      {"id":"able","type":"basic","categories":["a"],"inconsiderate":{"ablebodied":"a"},
       "considerate":["non-disabled"],"condition":null,"note":null,"apostrophe":false},
      {"id":"invalid","type":"basic","categories":["a"],"inconsiderate":{"disabled":"a"},
       "considerate":["has a disability"],"condition":null,"note":null,"apostrophe":false},
      {"id":"gimp","type":"basic","categories":["a"],
       "inconsiderate":{"cripple":"a","crippled":"a"},"considerate":["person with a limp"],
       "condition":null,"note":null,"apostrophe":false},
      {"id":"depressed","type":"basic","categories":["a"],"inconsiderate":{"depressed":"a"},
       "considerate":["sad"],"condition":null,"note":null,"apostrophe":false}
    ]"#;

    fn fake_env() -> (tempfile::TempDir, CompileEnv) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("trust")).unwrap();
        std::fs::write(dir.path().join("trust/equality-en.json"), FAKE_EQUALITY).unwrap();
        let env = CompileEnv {
            data_dir: dir.path().to_path_buf(),
        };
        (dir, env)
    }

    fn compiled(config: &Config) -> (tempfile::TempDir, Compiled) {
        let (dir, env) = fake_env();
        (dir, Compiled::compile(config, &env).unwrap())
    }

    fn run(c: &Compiled, content: &str) -> Vec<Finding> {
        let registry = Registry::temporary().unwrap();
        let context = ReviewContext::default();
        let input = Input {
            content,
            context: &context,
            registry: &registry,
        };
        let mut out = Vec::new();
        c.check(&input, &mut out).unwrap();
        out
    }

    /// Findings of `category` scoring at least the default minimum.
    fn fired(c: &Compiled, category: Category, content: &str) -> Vec<Finding> {
        run(c, content)
            .into_iter()
            .filter(|f| f.category == category && f.score >= 0.5)
            .collect()
    }

    #[test]
    fn the_committed_group_list_parses_with_every_kind() {
        let groups = parse_groups(GROUPS).unwrap();
        assert!(groups.len() > 100);
        for kind in [
            "gender",
            "religion",
            "nationality",
            "age",
            "profession",
            "ethnicity",
        ] {
            assert!(groups.iter().any(|g| g.kind == kind), "{kind}");
        }
        assert!(
            parse_groups("gender | women")
                .unwrap_err()
                .contains("line 1")
        );
    }

    #[test]
    fn quoted_terms_are_reported_speech_only_in_human_items() {
        let (_d, c) = compiled(&Config::default());
        let text = "The coach said: \"That was a lame performance.\" That's lame.";
        let registry = Registry::temporary().unwrap();
        let found = |origin: Option<Origin>| {
            let context = ReviewContext {
                origin,
                ..ReviewContext::default()
            };
            let input = Input {
                content: text,
                context: &context,
                registry: &registry,
            };
            let mut out = Vec::new();
            c.check(&input, &mut out).unwrap();
            out.into_iter()
                .filter(|f| f.category == Category::BiasInsensitive && f.score >= 0.5)
                .count()
        };
        // The quoted "lame" is the coach's; the second is the publisher's.
        assert_eq!(found(Some(Origin::Human)), 1);
        assert_eq!(found(Some(Origin::AiCreated)), 2);
        assert_eq!(found(None), 2);
    }

    #[test]
    fn insensitive_terms_fire_with_a_suggestion_that_keeps_the_case() {
        let (_d, c) = compiled(&Config::default());
        let text = "Chairman Smith said he was confined to a wheelchair. That's lame.";
        let found = fired(&c, Category::BiasInsensitive, text);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].rule_id, "bias.insensitive.chairman-chairwoman");
        assert_eq!(found[0].suggestion.as_deref(), Some("Chair"));
        assert_eq!(
            &text[found[0].span.unwrap().0..found[0].span.unwrap().1],
            "Chairman"
        );
        assert!(
            found[0].evidence.contains("chair or chairperson"),
            "{}",
            found[0].evidence
        );
        assert_eq!(found[1].suggestion.as_deref(), Some("uses a wheelchair"));
        assert!(found[1].score > found[0].score);
        assert_eq!(found[2].suggestion.as_deref(), Some("weak"));
    }

    #[test]
    fn hyphenated_and_full_stop_spellings_match_like_retext() {
        let (_d, c) = compiled(&Config::default());
        assert_eq!(
            fired(&c, Category::BiasInsensitive, "An able-bodied man.").len(),
            1
        );
        assert_eq!(
            fired(&c, Category::BiasInsensitive, "Mrs. Jones asked.").len(),
            1
        );
        // "miss." needs its full stop: the verb does not fire.
        assert!(fired(&c, Category::BiasInsensitive, "Don't miss the show").is_empty());
    }

    #[test]
    fn terms_with_capitals_match_only_as_written() {
        let (_d, c) = compiled(&Config::default());
        assert_eq!(
            fired(&c, Category::BiasInsensitive, "Kids with ADD need support.").len(),
            1
        );
        assert!(fired(&c, Category::BiasInsensitive, "Add the flour slowly.").is_empty());
    }

    #[test]
    fn a_star_in_a_term_matches_any_one_word() {
        let (_d, c) = compiled(&Config::default());
        let found = fired(
            &c,
            Category::BiasInsensitive,
            "He is the father of modernism.",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].suggestion.as_deref(), Some("founder of"));
        assert!(fired(&c, Category::BiasInsensitive, "He is the father of").is_empty());
    }

    #[test]
    fn pairs_written_out_in_full_are_accepted_unless_binary_is_off() {
        let (_d, c) = compiled(&Config::default());
        assert!(
            fired(
                &c,
                Category::BiasInsensitive,
                "Actors and actresses arrived."
            )
            .is_empty()
        );
        assert_eq!(
            fired(&c, Category::BiasInsensitive, "The actress arrived.").len(),
            1
        );
        let (_d, strict) = compiled(&Config {
            binary: false,
            ..Config::default()
        });
        assert_eq!(
            fired(
                &strict,
                Category::BiasInsensitive,
                "Actress and actor arrived."
            )
            .len(),
            1
        );
    }

    #[test]
    fn everyday_gendered_words_style_notes_and_jargon_score_below_the_default_minimum() {
        let (_d, c) = compiled(&Config::default());
        let text = "The actor just gave his master class.";
        let all: Vec<Finding> = run(&c, text)
            .into_iter()
            .filter(|f| f.category == Category::BiasInsensitive)
            .collect();
        assert_eq!(all.len(), 4, "{all:?}");
        assert!(all.iter().all(|f| f.score < 0.5), "{all:?}");
    }

    #[test]
    fn allow_takes_phrases_and_pattern_ids_and_gendered_can_be_off() {
        let (_d, c) = compiled(&Config {
            allow: vec!["lame".into(), "chairman of the board".into()],
            ..Config::default()
        });
        assert!(fired(&c, Category::BiasInsensitive, "That's lame.").is_empty());
        assert!(
            fired(
                &c,
                Category::BiasInsensitive,
                "The chairman of the board spoke."
            )
            .is_empty()
        );
        assert_eq!(
            fired(&c, Category::BiasInsensitive, "The chairman spoke.").len(),
            1
        );
        let (_d, c) = compiled(&Config {
            gendered: false,
            ..Config::default()
        });
        assert!(fired(&c, Category::BiasInsensitive, "The chairman spoke.").is_empty());
    }

    #[test]
    fn generalisations_about_groups_fire_stereotype() {
        let (_d, c) = compiled(&Config::default());
        for text in [
            "All women are bad at math.",
            "Women can't drive.",
            "Germans are always on time.",
            "Typical millennial.",
            "Lawyers are greedy.",
            "Men never listen.",
            "Every teenager is lazy.",
            "The French are so rude.",
            "Boys will be boys.",
            "Old people can't use technology.",
        ] {
            assert_eq!(fired(&c, Category::BiasStereotype, text).len(), 1, "{text}");
        }
        // Generalisations without an adverb, and modifier groups.
        for (text, rule) in [
            ("Men just aren't cut out for nursing.", "unsuited"),
            ("Mothers shouldn't be managers.", "should_not_be"),
            ("Immigrants only care about benefits.", "only"),
            ("Migrants come here only to claim benefits.", "only"),
            ("Teenagers these days have no manners.", "have_no"),
            (
                "Poor people are poor because they are idle.",
                "because_they",
            ),
            ("Older employees can't learn new skills.", "cannot"),
            ("Female drivers are a menace.", "trait"),
        ] {
            let found = fired(&c, Category::BiasStereotype, text);
            assert_eq!(found.len(), 1, "{text}");
            assert_eq!(
                found[0].rule_id,
                format!("bias.stereotype.{rule}"),
                "{text}"
            );
        }
        let found = fired(
            &c,
            Category::BiasStereotype,
            "Honestly, all women are bad at math.",
        );
        assert_eq!(found[0].rule_id, "bias.stereotype.all_are");
        let (s, e) = found[0].span.unwrap();
        assert_eq!(
            &"Honestly, all women are bad at math."[s..e],
            "all women are bad"
        );
    }

    #[test]
    fn generecs_own_terms_join_retexts() {
        let (_d, c) = compiled(&Config::default());
        for text in [
            "He suffers from epilepsy.",
            "She is a dementia sufferer.",
            "Illegal immigrants were found in the lorry.",
        ] {
            let found = fired(&c, Category::BiasInsensitive, text);
            assert_eq!(found.len(), 1, "{text}");
            assert!(found[0].suggestion.is_some(), "{text}");
        }
        assert!(fired(&c, Category::BiasInsensitive, "He has epilepsy.").is_empty());
    }

    #[test]
    fn words_with_an_ordinary_sense_are_flagged_only_in_the_sense_retext_means() {
        let (_d, c) = compiled(&Config::default());
        for text in [
            "The minister made remarks about the disabled in an interview.",
            "Services for the elderly and the disabled will be cut.",
            "He was a cripple after the war.",
            "A crippled beggar sat by the gate.",
            "She felt depressed for months.",
            "Help for the depressed is scarce.",
        ] {
            let found = fired(&c, Category::BiasInsensitive, text);
            assert_eq!(found.len(), 1, "{text}: {found:?}");
        }
        for text in [
            "A disabled fan was hurt at the ground.",
            "He won disabled player of the year.",
            "The virus can cripple phones within minutes.",
            "The currency crisis crippled the banks.",
            "Weak demand depressed US shares on Wednesday.",
            "The cold snap artificially depressed figures in November.",
        ] {
            let found = fired(&c, Category::BiasInsensitive, text);
            assert!(found.is_empty(), "{text}: {found:?}");
        }
    }

    #[test]
    fn near_misses_and_specific_statements_do_not_fire_stereotype() {
        let (_d, c) = compiled(&Config::default());
        for text in [
            "All participants are welcome.",
            "All tickets are sold.",
            "All women are welcome at the meeting.",
            "All students are required to register.",
            "Women are underrepresented in engineering.",
            "The men can't find their keys.",
            "Some women can't take time off.",
            "A typical day starts at seven.",
            "Students can't park on campus.",
            "All Germans have the right to vote.",
            "Every student is welcome to apply.",
            "Older workers can apply for the grant.",
            "Teenagers have no access to the scheme.",
            "Women are not paid the same as men, the study found.",
            "Fathers should be given longer leave.",
            "Refugees come here to escape war.",
            "Rich people are paying more tax because they earn more.",
        ] {
            assert!(
                fired(&c, Category::BiasStereotype, text).is_empty(),
                "{text}"
            );
        }
    }

    #[test]
    fn bundle_groups_and_patterns_extend_the_stereotype_rules() {
        let (_d, c) = compiled(&Config {
            groups: vec!["cyclists".into()],
            patterns: vec![r"\bthose people are\b".into()],
            ..Config::default()
        });
        assert_eq!(
            fired(&c, Category::BiasStereotype, "Cyclists are always late.").len(),
            1
        );
        let found = fired(&c, Category::BiasStereotype, "Those people are like that.");
        assert_eq!(found[0].rule_id, "bias.stereotype.pattern");
    }

    #[test]
    fn bad_configuration_is_refused_naming_the_problem() {
        let (_d, env) = fake_env();
        let err = Compiled::compile(
            &Config {
                patterns: vec!["(unclosed".into()],
                ..Config::default()
            },
            &env,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("patterns[0]") && err.contains("(unclosed"),
            "{err}"
        );
        let empty = tempfile::tempdir().unwrap();
        let err = Compiled::compile(
            &Config::default(),
            &CompileEnv {
                data_dir: empty.path().to_path_buf(),
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("equality-en.json") && err.contains("scripts/fetch-data"),
            "{err}"
        );
    }

    #[test]
    fn the_evaluation_set_has_enough_cases_per_category() {
        let cases = crate::checks::safety::parse_evalset(EVALSET, "bias.tsv").unwrap();
        for category in [Category::BiasInsensitive, Category::BiasStereotype] {
            for positive in [true, false] {
                let n = cases
                    .iter()
                    .filter(|c| c.category == category && c.positive == positive)
                    .count();
                assert!(n >= 15, "{category} {positive}: {n}");
            }
        }
    }

    #[test]
    fn evaluation_precision_and_recall_meet_their_floors() {
        let Some(env) = crate::checks::safety::tests::real_env() else {
            return;
        };
        let c = Compiled::compile(&crate::checks::safety::tests::bundle_configs().1, &env).unwrap();
        let cases = eval_cases(&env).unwrap();
        for (category, tp, fp, fn_, _tn) in crate::checks::safety::tests::metrics(&cases, &[&c]) {
            let precision = tp as f32 / (tp + fp).max(1) as f32;
            let recall = tp as f32 / (tp + fn_).max(1) as f32;
            assert!(precision >= 0.85, "{category}: precision {precision}");
            assert!(recall >= 0.8, "{category}: recall {recall}");
        }
    }
}
