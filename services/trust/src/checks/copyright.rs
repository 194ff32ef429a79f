//! The copyright policy: claimed works as shingle fingerprints,
//! near-duplicate detection, and licences that forbid derivatives.
//!
//! # Fingerprints
//!
//! [`fingerprint`] normalises text ([`crate::registry::normalise`]), cuts
//! it into shingles of `shingle_words` consecutive words (a text shorter
//! than that is one shingle), hashes each shingle with a fixed 64-bit hash
//! (FNV-1a then a SplitMix64 finaliser: stable across builds and Rust
//! versions, since signatures are stored) and keeps the MinHash signature:
//! for each of `hashes` deterministic seeds, the least mixed hash. Seed `i`
//! does not depend on the signature length, so a shorter signature is a
//! prefix of a longer one. [`work`] builds the registry's [`Work`] from
//! the text and also keeps a 1-in-`sample_every` sample of the shingle
//! hashes (those divisible by `sample_every`), which is what lets a short
//! excerpt of a long work be recognised. Neither holds the text.
//!
//! # Near duplicates (`copyright.near_duplicate`)
//!
//! The content is fingerprinted the same way and compared with every
//! registered work (a linear scan):
//! - the estimated Jaccard similarity is the share of equal signature
//!   positions;
//! - the estimated containment of the content in the work, |C∩W|/|C|,
//!   comes from the work's sample when the content has at least
//!   `min_sampled` sampled shingles (the share of those found in the
//!   sample), else from the Jaccard estimate and the two set sizes,
//!   |C∩W| = J(|C|+|W|)/(1+J), counted only when at least three signature
//!   positions agree (one chance agreement against a long work would
//!   otherwise read as a high containment).
//!
//! A finding is made when the Jaccard estimate reaches `min_jaccard` or the
//! containment reaches `min_containment`; its score is the larger estimate,
//! capped at `track_score` for `track` claims (below the default
//! `min_score`, so a tracked match is recorded only where the bundle lowers
//! `min_score`). The rule id names the claim policy:
//! `copyright.near_duplicate.block`, `.label` or `.track`; the evidence
//! names the work id, claimant, claim policy and licence. Content with
//! fewer than `min_content_shingles` distinct shingles is not compared.
//!
//! # Derivatives (`copyright.derivative`)
//!
//! An edit (the context has parents) of a parent whose licence forbids
//! derivatives is one finding per parent, score 1.0:
//! - `copyright.derivative.no_derivatives`: any Creative Commons licence
//!   with an `ND` element (`CC-BY-ND-4.0`, `CC BY-NC-ND 3.0` ...), and the
//!   bundle's `no_derivative_licences`; the owner's consent does not lift
//!   it (the licence is what others were granted);
//! - `copyright.derivative.all_rights_reserved`: `all-rights-reserved`
//!   (also `ARR`, `proprietary`, and the bundle's `consent_licences`)
//!   unless the parent's owner consented.
//!
//! An empty or unknown licence is not a finding.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Check, CheckError, CompileEnv, EvalCase, Input, Parent, ReviewContext};
use crate::error::TrustError;
use crate::finding::{Category, Finding};
use crate::registry::normalise;

/// What a claimant wants done with content that matches their work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimPolicy {
    Block,
    Label,
    Track,
}

impl ClaimPolicy {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimPolicy::Block => "block",
            ClaimPolicy::Label => "label",
            ClaimPolicy::Track => "track",
        }
    }
}

/// A claimed work as the registry keeps it: never the text, only its
/// fingerprint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Work {
    pub id: String,
    pub claimant: String,
    pub licence: String,
    pub policy: ClaimPolicy,
    /// Number of distinct shingles in the work.
    pub shingles: u64,
    /// MinHash signature of the work's shingles.
    pub signature: Vec<u64>,
    /// Words per shingle the fingerprint was made with (0: unknown; the
    /// check's setting is assumed).
    #[serde(default)]
    pub shingle_words: usize,
    /// The shingle hashes divisible by `sample_every`, sorted.
    #[serde(default)]
    pub sample: Vec<u64>,
    /// The sampling rate of `sample` (0: no sample).
    #[serde(default)]
    pub sample_every: u64,
}

/// The `[copyright]` section of a bundle.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Words per shingle.
    pub shingle_words: usize,
    /// MinHash signature length.
    pub hashes: usize,
    /// Works keep the shingle hashes divisible by this (1 keeps them all).
    pub sample_every: u64,
    /// A finding when the estimated Jaccard similarity reaches this.
    pub min_jaccard: f32,
    /// A finding when the estimated containment of the content in a work
    /// reaches this.
    pub min_containment: f32,
    /// Fewest sampled content shingles for the sample-based containment.
    pub min_sampled: usize,
    /// Content with fewer distinct shingles is not compared.
    pub min_content_shingles: u64,
    /// The highest score a `track` claim's match gets.
    pub track_score: f32,
    /// More licence ids (case-insensitive) that forbid derivatives.
    pub no_derivative_licences: Vec<String>,
    /// More licence ids that allow derivatives only with the owner's
    /// consent.
    pub consent_licences: Vec<String>,
    /// What generated content may take from its sources, per licence class
    /// (`copyright.source`).
    pub licence: generec_licence::Policy,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            shingle_words: 5,
            hashes: 128,
            sample_every: 8,
            min_jaccard: 0.5,
            min_containment: 0.6,
            min_sampled: 4,
            min_content_shingles: 8,
            track_score: 0.3,
            no_derivative_licences: Vec::new(),
            consent_licences: Vec::new(),
            licence: generec_licence::Policy::default(),
        }
    }
}

/// The compiled copyright check.
pub struct Compiled {
    config: Config,
}

impl Compiled {
    /// Compiles the section once per bundle.
    pub fn compile(config: &Config, _env: &CompileEnv) -> Result<Self, TrustError> {
        if !(1..=32).contains(&config.shingle_words) {
            return Err(TrustError::bundle(format!(
                "shingle_words must lie in 1..=32, got {}",
                config.shingle_words
            )));
        }
        if !(16..=1024).contains(&config.hashes) {
            return Err(TrustError::bundle(format!(
                "hashes must lie in 16..=1024, got {}",
                config.hashes
            )));
        }
        if config.sample_every == 0 {
            return Err(TrustError::bundle("sample_every must be at least 1"));
        }
        for (name, v) in [
            ("min_jaccard", config.min_jaccard),
            ("min_containment", config.min_containment),
            ("track_score", config.track_score),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(TrustError::bundle(format!(
                    "{name} must lie in [0, 1], got {v}"
                )));
            }
        }
        config
            .licence
            .validate()
            .map_err(|e| TrustError::bundle(format!("copyright.{e}")))?;
        Ok(Compiled {
            config: config.clone(),
        })
    }

    /// The derivative rule a parent breaks, with its evidence.
    fn derivative(&self, parent: &Parent) -> Option<(&'static str, String)> {
        let refusal = generec_licence::derivative_refusal(
            &parent.licence,
            parent.owner_consent,
            &self.config.no_derivative_licences,
            &self.config.consent_licences,
        )?;
        Some(match refusal {
            generec_licence::Refusal::NoDerivatives => (
                "copyright.derivative.no_derivatives",
                format!(
                    "parent {} is licensed {}, which forbids derivatives{}",
                    parent.id,
                    parent.licence.trim(),
                    if parent.owner_consent {
                        " (the owner's consent does not change the licence)"
                    } else {
                        ""
                    }
                ),
            ),
            generec_licence::Refusal::NoConsent => (
                "copyright.derivative.all_rights_reserved",
                format!(
                    "parent {} is {} and its owner has not consented to derivatives",
                    parent.id,
                    parent.licence.trim()
                ),
            ),
        })
    }
}

impl Compiled {
    /// `copyright.source`: generated content against the licences of what
    /// it was made from (see the module docs).
    fn source_use(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        let ctx = input.context;
        if !ctx.origin.is_some_and(|o| o.is_generated()) {
            return;
        }
        let (sources, parents) = licence_inputs(ctx);
        if sources.is_empty() && parents.is_empty() {
            return;
        }
        let assessment =
            generec_licence::assess(&self.config.licence, input.content, &sources, &parents);
        for u in &assessment.sources {
            let excess = u.excess_words();
            if excess > 0
                && let (Some(first), Some(last)) = (u.spans.first(), u.spans.last())
            {
                let measured = match u.allowance.use_ {
                    generec_licence::Use::Facts => {
                        format!("a verbatim run of {} words", u.longest_run)
                    }
                    _ => format!("{} words verbatim", u.copied_words),
                };
                let limit = match u.allowance.word_limit() {
                    0 => "no use at all".to_string(),
                    n => format!("at most {n}"),
                };
                out.push(
                    Finding::new(
                        Category::CopyrightSource,
                        "copyright.source.over_allowance",
                        1.0,
                        format!(
                            "copies {measured} from {} (licence {}, class {}); the bundle allows {limit}",
                            u.item_id,
                            display_licence(&u.licence),
                            u.class.as_str()
                        ),
                    )
                    .at(first.0, last.1),
                );
            }
            if u.missing_attribution() {
                out.push(Finding::new(
                    Category::CopyrightSource,
                    "copyright.source.attribution",
                    1.0,
                    format!(
                        "copies {} words from {} (licence {}) without naming its title or creator",
                        u.copied_words,
                        u.item_id,
                        display_licence(&u.licence)
                    ),
                ));
            }
        }
        for c in &assessment.conflicts {
            out.push(Finding::new(
                Category::CopyrightSource,
                "copyright.source.incompatible",
                1.0,
                c.why.clone(),
            ));
        }
    }
}

/// What the licence rules see of a review's context: the cited passages
/// grouped by item, and the parents.
pub(crate) fn licence_inputs(
    ctx: &ReviewContext,
) -> (
    Vec<generec_licence::Source>,
    Vec<generec_licence::SourceRights>,
) {
    let parents = ctx
        .parents
        .iter()
        .map(|p| generec_licence::SourceRights {
            item_id: p.id.clone(),
            licence: p.licence.clone(),
            creator: String::new(),
        })
        .collect();
    (licence_sources(&ctx.sources), parents)
}

fn display_licence(licence: &str) -> &str {
    if licence.trim().is_empty() {
        "none stated"
    } else {
        licence.trim()
    }
}

/// The cited passages grouped by the item they come from, in first-cited
/// order, with the item's rights as the first passage that states them.
fn licence_sources(passages: &[super::Source]) -> Vec<generec_licence::Source> {
    let mut out: Vec<generec_licence::Source> = Vec::new();
    for p in passages {
        let item = p.item();
        match out.iter_mut().find(|s| s.rights.item_id == item) {
            Some(s) => {
                s.text.push('\n');
                s.text.push_str(&p.text);
                if s.rights.licence.is_empty() {
                    s.rights.licence = p.licence.clone();
                }
                if s.rights.creator.is_empty() {
                    s.rights.creator = p.creator.clone();
                }
                if s.title.is_empty() {
                    s.title = p.title.clone();
                }
            }
            None => out.push(generec_licence::Source {
                rights: generec_licence::SourceRights {
                    item_id: item.to_string(),
                    licence: p.licence.clone(),
                    creator: p.creator.clone(),
                },
                title: p.title.clone(),
                text: p.text.clone(),
            }),
        }
    }
    out
}

/// A content's shingles, for comparing with works.
struct Shingled {
    /// Sorted, distinct shingle hashes.
    hashes: Vec<u64>,
    signature: Vec<u64>,
}

impl Check for Compiled {
    fn name(&self) -> &'static str {
        "copyright"
    }

    fn check(&self, input: &Input<'_>, out: &mut Vec<Finding>) -> Result<(), CheckError> {
        self.source_use(input, out);
        for parent in &input.context.parents {
            if let Some((rule, evidence)) = self.derivative(parent) {
                out.push(Finding::new(
                    Category::CopyrightDerivative,
                    rule,
                    1.0,
                    evidence,
                ));
            }
        }
        let works = input.registry.works();
        if works.is_empty() {
            return Ok(());
        }
        let words = words(input.content);
        let mut by_k: HashMap<usize, Shingled> = HashMap::new();
        for w in works.iter() {
            let k = if w.shingle_words == 0 {
                self.config.shingle_words
            } else {
                w.shingle_words
            };
            let content = by_k.entry(k).or_insert_with(|| {
                let hashes = shingle_hashes(&words, k);
                let signature = minhash(&hashes, self.config.hashes);
                Shingled { hashes, signature }
            });
            let c_size = content.hashes.len() as u64;
            if c_size < self.config.min_content_shingles || w.shingles == 0 {
                continue;
            }
            let n = content.signature.len().min(w.signature.len());
            if n == 0 {
                continue;
            }
            let agree = content.signature[..n]
                .iter()
                .zip(&w.signature[..n])
                .filter(|(a, b)| a == b && **a != u64::MAX)
                .count();
            let jaccard = agree as f32 / n as f32;
            let sampled: Vec<u64> = if w.sample_every > 0 {
                content
                    .hashes
                    .iter()
                    .copied()
                    .filter(|h| h.is_multiple_of(w.sample_every))
                    .collect()
            } else {
                Vec::new()
            };
            let (containment, how) = if sampled.len() >= self.config.min_sampled.max(1) {
                let found = sampled
                    .iter()
                    .filter(|h| w.sample.binary_search(h).is_ok())
                    .count();
                (found as f32 / sampled.len() as f32, "sampled shingles")
            } else if agree >= 3 {
                let j = jaccard as f64;
                let inter = j * (c_size + w.shingles) as f64 / (1.0 + j);
                ((inter / c_size as f64).min(1.0) as f32, "MinHash")
            } else {
                (0.0, "MinHash")
            };
            if jaccard < self.config.min_jaccard && containment < self.config.min_containment {
                continue;
            }
            let mut score = jaccard.max(containment);
            if w.policy == ClaimPolicy::Track {
                score = score.min(self.config.track_score);
            }
            out.push(Finding::new(
                Category::CopyrightNearDuplicate,
                format!("copyright.near_duplicate.{}", w.policy.as_str()),
                score,
                format!(
                    "content nearly duplicates claimed work {:?} (claimant {:?}, claim policy {}, licence {}): \
                     estimated Jaccard similarity {:.2}, estimated share of the content found in the work {:.2} ({how})",
                    w.id,
                    w.claimant,
                    w.policy.as_str(),
                    if w.licence.is_empty() { "unknown" } else { w.licence.as_str() },
                    jaccard,
                    containment
                ),
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------
// Fingerprints
// ---------------------------------------------------------------------

fn words(text: &str) -> Vec<String> {
    normalise(text)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The SplitMix64 finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable 64-bit hash of a shingle: FNV-1a over the words separated by
/// one space, then mixed.
fn shingle_hash(words: &[String]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            h ^= b' ' as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
        for &b in w.as_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
    mix(h)
}

/// Sorted, distinct hashes of the `k`-word shingles.
fn shingle_hashes(words: &[String], k: usize) -> Vec<u64> {
    let k = k.max(1);
    let mut hashes: Vec<u64> = if words.is_empty() {
        Vec::new()
    } else if words.len() <= k {
        vec![shingle_hash(words)]
    } else {
        words.windows(k).map(shingle_hash).collect()
    };
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

/// Seed `i` of the MinHash family.
fn seed(i: usize) -> u64 {
    mix(0x6A09_E667_F3BC_C908 ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn minhash(hashes: &[u64], n: usize) -> Vec<u64> {
    let seeds: Vec<u64> = (0..n).map(seed).collect();
    let mut sig = vec![u64::MAX; n];
    for &h in hashes {
        for (slot, &s) in sig.iter_mut().zip(&seeds) {
            let v = mix(h ^ s);
            if v < *slot {
                *slot = v;
            }
        }
    }
    sig
}

/// The number of distinct `shingle_words`-word shingles of the normalised
/// text and their MinHash signature of `hashes` values (all `u64::MAX`
/// for text without words).
pub fn fingerprint(text: &str, shingle_words: usize, hashes: usize) -> (u64, Vec<u64>) {
    let set = shingle_hashes(&words(text), shingle_words);
    (set.len() as u64, minhash(&set, hashes))
}

/// The registry's record of a claimed work: its fingerprint with the
/// config's settings, and the sample of its shingle hashes.
pub fn work(
    id: &str,
    claimant: &str,
    licence: &str,
    policy: ClaimPolicy,
    text: &str,
    config: &Config,
) -> Work {
    let k = config.shingle_words.max(1);
    let every = config.sample_every.max(1);
    let set = shingle_hashes(&words(text), k);
    Work {
        id: id.to_string(),
        claimant: claimant.to_string(),
        licence: licence.to_string(),
        policy,
        shingles: set.len() as u64,
        signature: minhash(&set, config.hashes),
        shingle_words: k,
        sample: set
            .iter()
            .copied()
            .filter(|h| h.is_multiple_of(every))
            .collect(),
        sample_every: every,
    }
}

// ---------------------------------------------------------------------
// Evaluation data
// ---------------------------------------------------------------------

const HARBOUR: &str = "The old harbour wakes before the town does. At five the first trawlers \
nose past the breakwater, gulls wheeling over their wakes, and the ice plant starts its low \
complaining hum. By six the fish market is a hall of wet concrete and shouted prices, where \
buyers in white coats pinch the gills of cod and argue over boxes of langoustines. Nobody \
hurries, yet everything is gone by eight, loaded into vans that climb the hill road towards the \
motorway and the restaurants of three cities. Then the harbour empties again, the tide turns, \
and the men who went out in the dark sit in the café by the slipway, mending nets and saying \
very little about the sea.";

const ORCHARD: &str = "My grandmother kept an orchard of forty apple trees on the slope behind \
her house, and every October the whole family was summoned to pick. The children climbed, the \
adults held the ladders and the baskets, and my grandmother walked between the rows naming each \
variety as if introducing old friends: Bramley, Egremont Russet, Cox, a nameless green apple \
that tasted faintly of pear. The windfalls went to the cider press in the barn, a machine older \
than anyone there, which groaned and dripped and filled the yard with a sweet rotten smell that \
clung to our clothes for days.";

const LIGHTHOUSE_WORDS: &[&str] = &[
    "keeper", "lamp", "storm", "rock", "tower", "night", "ship", "wind", "light", "stairs",
    "glass", "oil", "wave", "shore", "bell", "fog", "winter", "letter", "supply", "boat",
    "silence", "signal", "harbour", "island", "lens", "clock", "gale", "watch", "salt", "spray",
    "the", "a", "and", "of", "in", "on", "under", "over", "with", "without", "slowly", "again",
    "climbed", "trimmed", "watched", "wrote", "waited", "turned", "heard", "counted",
];

/// A long work (about 5,000 words) for the excerpt cases, generated
/// deterministically from a small vocabulary.
fn long_work() -> String {
    let mut rng = super::privacy::Rng(0xC0FF_EE00_5EED_0003);
    let mut out = String::new();
    for i in 0..5000 {
        if i > 0 {
            out.push(if i % 13 == 0 { '.' } else { ' ' });
            if i % 13 == 0 {
                out.push(' ');
            }
        }
        let word: &&str = rng.pick(LIGHTHOUSE_WORDS);
        out.push_str(word);
    }
    out.push('.');
    out
}

/// The works [`eval_cases`] refers to: register them in the registry the
/// evaluation reviews with before running the copyright cases.
pub fn eval_works(config: &Config) -> Vec<Work> {
    vec![
        work(
            "eval-harbour",
            "Harbour Press",
            "all-rights-reserved",
            ClaimPolicy::Block,
            HARBOUR,
            config,
        ),
        work(
            "eval-lighthouse",
            "Lighthouse Estate",
            "CC-BY-ND-4.0",
            ClaimPolicy::Label,
            &long_work(),
            config,
        ),
        work(
            "eval-orchard",
            "Orchard Memoirs Ltd",
            "all-rights-reserved",
            ClaimPolicy::Track,
            ORCHARD,
            config,
        ),
    ]
}

/// Labelled copyright examples. The near-duplicate cases need the works of
/// [`eval_works`] registered in the registry the evaluation uses (eval
/// cases cannot register them themselves); without them every
/// near-duplicate case reads as a miss. The derivative cases need nothing.
/// A copy of a `track` work is labelled negative: with the default bundle
/// its score (capped at `track_score`) stays under `min_score`.
pub fn eval_cases(_env: &CompileEnv) -> Result<Vec<EvalCase>, TrustError> {
    let plain = ReviewContext {
        user_id: "eval-user".to_string(),
        ..Default::default()
    };
    let long = long_work();
    let long_words: Vec<&str> = long.split_whitespace().collect();
    let excerpt = |from: usize, n: usize| long_words[from..from + n].join(" ");
    let light_edit = HARBOUR
        .replace("trawlers", "fishing boats")
        .replace("langoustines", "prawns")
        .replace("three cities", "two cities");
    let heavy_edit = HARBOUR
        .split(". ")
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, s)| s)
        .collect::<Vec<_>>()
        .join(". ");
    let near = Category::CopyrightNearDuplicate;
    let mut cases: Vec<EvalCase> = [
        (HARBOUR.to_string(), true),
        (light_edit, true),
        (format!("Our story begins here. {HARBOUR} And that is how it ends."), true),
        (heavy_edit, true),
        (excerpt(1000, 80), true),
        (excerpt(3000, 150), true),
        (format!("Intro words for the piece. {} More of our own words follow here.", excerpt(4200, 60)), true),
        (ORCHARD.to_string(), false),
        (
            "The harbour in our town is busy in the morning: boats come in early, the fish market \
             fills with buyers, and by lunchtime everything has been sold and driven away to restaurants."
                .to_string(),
            false,
        ),
        (
            "The league table changed again after a rainy weekend of football, with three teams \
             now level on points and the title race wide open going into the final month."
                .to_string(),
            false,
        ),
        (
            "A keeper climbed the tower in the storm and trimmed the lamp while the ship waited \
             under the rock and the wind turned slowly again over the island."
                .to_string(),
            false,
        ),
    ]
    .into_iter()
    .map(|(content, positive)| EvalCase {
        category: near,
        content,
        context: plain.clone(),
        positive,
    })
    .collect();
    let edit = |licence: &str, consent: bool| ReviewContext {
        parents: vec![Parent {
            id: "parent-1".to_string(),
            licence: licence.to_string(),
            owner_consent: consent,
        }],
        ..plain.clone()
    };
    for (licence, consent, positive) in [
        ("CC-BY-ND-4.0", false, true),
        ("CC-BY-NC-ND-4.0", false, true),
        ("CC BY-ND 3.0", true, true),
        ("all-rights-reserved", false, true),
        ("all-rights-reserved", true, false),
        ("CC-BY-4.0", false, false),
        ("CC-BY-SA-4.0", false, false),
        ("CC0-1.0", false, false),
        ("MIT", false, false),
    ] {
        cases.push(EvalCase {
            category: Category::CopyrightDerivative,
            content: "A remix of the parent with a new ending.".to_string(),
            context: edit(licence, consent),
            positive,
        });
    }
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_creators_built_in_licence_rules_are_the_default_bundles() {
        assert_eq!(
            generec_licence::Policy::from_bundle(crate::bundle::DEFAULT_BUNDLE).unwrap(),
            generec_licence::Policy::default()
        );
    }
    use crate::registry::Registry;

    fn compiled() -> Compiled {
        Compiled::compile(&Config::default(), &CompileEnv::default()).unwrap()
    }

    fn check_with(registry: &Registry, content: &str, context: &ReviewContext) -> Vec<Finding> {
        let mut out = Vec::new();
        compiled()
            .check(
                &Input {
                    content,
                    context,
                    registry,
                },
                &mut out,
            )
            .unwrap();
        out
    }

    fn registry_with(works: Vec<Work>) -> Registry {
        let r = Registry::temporary().unwrap();
        for w in works {
            r.register_work(w).unwrap();
        }
        r
    }

    fn near(registry: &Registry, content: &str) -> Vec<Finding> {
        check_with(registry, content, &ReviewContext::default())
            .into_iter()
            .filter(|f| f.category == Category::CopyrightNearDuplicate)
            .collect()
    }

    fn harbour(policy: ClaimPolicy) -> Registry {
        registry_with(vec![work(
            "harbour",
            "Harbour Press",
            "all-rights-reserved",
            policy,
            HARBOUR,
            &Config::default(),
        )])
    }

    #[test]
    fn fingerprints_are_deterministic_and_normalised() {
        let (n, sig) = fingerprint("The Old harbour, wakes before the town does.", 5, 128);
        assert_eq!(n, 4);
        assert_eq!(sig.len(), 128);
        assert_eq!(
            fingerprint("the old HARBOUR wakes before  the town does", 5, 128),
            (n, sig.clone())
        );
        // A shorter signature is a prefix of a longer one.
        assert_eq!(
            fingerprint("the old harbour wakes before the town does", 5, 64).1,
            sig[..64]
        );
        // Pinned values: stored signatures must stay comparable across builds.
        assert_eq!(shingle_hash(&["a".to_string()]), mix(0xAF63_DC4C_8601_EC8C));
        assert_eq!(
            fingerprint("the old harbour wakes before the town does", 5, 3).1,
            [
                5384613841198827224,
                6606515056616464974,
                1082169070136530546
            ]
        );
        let (n, sig) = fingerprint("", 5, 16);
        assert_eq!(n, 0);
        assert!(sig.iter().all(|&v| v == u64::MAX));
    }

    #[test]
    fn an_exact_copy_is_a_near_duplicate_naming_the_work_claimant_and_policy() {
        let r = harbour(ClaimPolicy::Block);
        let f = near(&r, HARBOUR);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule_id, "copyright.near_duplicate.block");
        assert!((f[0].score - 1.0).abs() < 1e-6);
        for word in ["\"harbour\"", "Harbour Press", "claim policy block"] {
            assert!(f[0].evidence.contains(word), "{}", f[0].evidence);
        }
    }

    #[test]
    fn a_light_edit_is_a_near_duplicate() {
        let r = harbour(ClaimPolicy::Block);
        let edited = HARBOUR
            .replace("trawlers", "fishing boats")
            .replace("langoustines", "prawns")
            .replace("three cities", "two cities");
        let f = near(&r, &edited);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].score >= 0.6, "{}", f[0].evidence);
    }

    #[test]
    fn a_short_excerpt_of_a_long_work_is_caught_by_containment() {
        let long = long_work();
        let r = registry_with(vec![work(
            "lighthouse",
            "Estate",
            "",
            ClaimPolicy::Label,
            &long,
            &Config::default(),
        )]);
        let words: Vec<&str> = long.split_whitespace().collect();
        let excerpt = words[2000..2080].join(" ");
        let f = near(&r, &excerpt);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule_id, "copyright.near_duplicate.label");
        assert!(
            f[0].evidence.contains("sampled shingles"),
            "{}",
            f[0].evidence
        );
        // The Jaccard estimate alone would miss it: 76 of 5,000 shingles.
        let (n, sig) = fingerprint(&excerpt, 5, 128);
        let w = r.works();
        let agree = sig
            .iter()
            .zip(&w[0].signature)
            .filter(|(a, b)| a == b)
            .count();
        assert!(agree < 64, "{agree} of 128, {n} shingles");
    }

    #[test]
    fn unrelated_text_is_not_a_near_duplicate() {
        let r = registry_with(vec![
            work(
                "harbour",
                "Harbour Press",
                "",
                ClaimPolicy::Block,
                HARBOUR,
                &Config::default(),
            ),
            work(
                "lighthouse",
                "Estate",
                "",
                ClaimPolicy::Block,
                &long_work(),
                &Config::default(),
            ),
        ]);
        assert!(near(&r, ORCHARD).is_empty());
        assert!(near(&r, "The harbour in our town is busy in the morning: boats come in early, the fish market fills with buyers.").is_empty());
        // Same vocabulary as the long work, different order.
        assert!(
            near(&r, "A keeper climbed the tower in the storm and trimmed the lamp while the ship waited under the rock and the wind turned slowly again.")
                .is_empty()
        );
    }

    #[test]
    fn a_track_claim_reports_with_a_low_score() {
        let r = harbour(ClaimPolicy::Track);
        let f = near(&r, HARBOUR);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule_id, "copyright.near_duplicate.track");
        assert!(f[0].score <= 0.3);
    }

    #[test]
    fn too_short_content_is_not_compared() {
        let r = harbour(ClaimPolicy::Block);
        assert!(near(&r, "The old harbour wakes before the town does.").is_empty());
    }

    #[test]
    fn works_stored_before_samples_existed_still_match_by_minhash() {
        let mut w = work(
            "harbour",
            "Harbour Press",
            "",
            ClaimPolicy::Block,
            HARBOUR,
            &Config::default(),
        );
        w.sample.clear();
        w.sample_every = 0;
        w.shingle_words = 0;
        let json = serde_json::to_string(&w).unwrap();
        let old: Work = serde_json::from_str(
            &json
                .replace(",\"shingle_words\":0", "")
                .replace(",\"sample\":[]", "")
                .replace(",\"sample_every\":0", ""),
        )
        .unwrap();
        assert_eq!(old, w);
        let r = registry_with(vec![old]);
        assert_eq!(near(&r, HARBOUR).len(), 1);
    }

    fn derivative(licence: &str, consent: bool) -> Vec<Finding> {
        let r = Registry::temporary().unwrap();
        let context = ReviewContext {
            parents: vec![Parent {
                id: "p1".into(),
                licence: licence.into(),
                owner_consent: consent,
            }],
            ..Default::default()
        };
        check_with(&r, "an edit", &context)
    }

    #[test]
    fn an_edit_of_a_cc_by_nd_parent_is_a_derivative_finding() {
        for licence in ["CC-BY-ND-4.0", "CC-BY-NC-ND-4.0", "cc by-nd 3.0"] {
            let f = derivative(licence, false);
            assert_eq!(f.len(), 1, "{licence}");
            assert_eq!(f[0].rule_id, "copyright.derivative.no_derivatives");
            assert_eq!(f[0].score, 1.0);
            assert!(f[0].evidence.contains("p1"));
        }
        // Consent does not lift a no-derivatives licence.
        assert_eq!(derivative("CC-BY-ND-4.0", true).len(), 1);
    }

    #[test]
    fn all_rights_reserved_is_a_derivative_finding_unless_the_owner_consented() {
        let f = derivative("all-rights-reserved", false);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule_id, "copyright.derivative.all_rights_reserved");
        assert!(derivative("All Rights Reserved", true).is_empty());
    }

    #[test]
    fn a_cc_by_parent_is_fine() {
        for licence in ["CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "MIT", ""] {
            assert!(derivative(licence, false).is_empty(), "{licence}");
        }
    }

    #[test]
    fn one_finding_per_offending_parent() {
        let r = Registry::temporary().unwrap();
        let context = ReviewContext {
            parents: vec![
                Parent {
                    id: "a".into(),
                    licence: "CC-BY-ND-4.0".into(),
                    owner_consent: false,
                },
                Parent {
                    id: "b".into(),
                    licence: "CC-BY-4.0".into(),
                    owner_consent: false,
                },
                Parent {
                    id: "c".into(),
                    licence: "all-rights-reserved".into(),
                    owner_consent: false,
                },
            ],
            ..Default::default()
        };
        let f = check_with(&r, "x", &context);
        assert_eq!(f.len(), 2);
    }

    #[test]
    fn bundle_licence_lists_and_bad_settings() {
        let c = Compiled::compile(
            &Config {
                no_derivative_licences: vec!["LicenseRef-NoRemix".into()],
                ..Config::default()
            },
            &CompileEnv::default(),
        )
        .unwrap();
        let p = Parent {
            id: "p".into(),
            licence: "licenseref-noremix".into(),
            owner_consent: true,
        };
        assert!(c.derivative(&p).is_some());
        let bad = |config: Config| Compiled::compile(&config, &CompileEnv::default()).is_err();
        assert!(bad(Config {
            shingle_words: 0,
            ..Config::default()
        }));
        assert!(bad(Config {
            hashes: 4,
            ..Config::default()
        }));
        assert!(bad(Config {
            min_jaccard: 2.0,
            ..Config::default()
        }));
        assert!(toml::from_str::<Config>("shingle_words = 4\nmin_jaccard = 0.4").is_ok());
        assert!(toml::from_str::<Config>("shingles = 4").is_err());
    }

    #[test]
    fn eval_cases_are_labelled_as_the_check_decides_with_the_eval_works() {
        let config = Config::default();
        let r = registry_with(eval_works(&config));
        for case in eval_cases(&CompileEnv::default()).unwrap() {
            let fired = check_with(&r, &case.content, &case.context)
                .iter()
                .any(|f| f.category == case.category && f.score >= 0.5);
            assert_eq!(
                fired,
                case.positive,
                "{} {:?}",
                case.category,
                &case.content[..case.content.len().min(80)]
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
            let r = harbour(ClaimPolicy::Block);
            let _ = near(&r, &text);
            let (n, sig) = fingerprint(&text, 5, 32);
            proptest::prop_assert_eq!(sig.len(), 32);
            proptest::prop_assert!(n as usize <= text.len());
        }
    }

    const ARTICLE: &str = "Shares in London rose sharply on Tuesday after the central bank held interest rates at five percent for the third month running. Banks led the gains while miners fell back as metal prices slipped in Asian trading overnight. Analysts had expected a cut before the summer, and the pound rose against the dollar and the euro in late trading.";

    fn generated_from(passages: Vec<crate::checks::Source>) -> ReviewContext {
        ReviewContext {
            origin: Some(generec_common::types::Origin::AiCreated),
            sources: passages,
            ..ReviewContext::default()
        }
    }

    fn passage(item: &str, licence: &str, text: &str) -> crate::checks::Source {
        crate::checks::Source {
            id: format!("{item}#0"),
            text: text.into(),
            licence: licence.into(),
            creator: "newsdesk".into(),
            title: "Shares rise".into(),
            ..crate::checks::Source::default()
        }
    }

    fn source_rules(content: &str, context: &ReviewContext) -> Vec<String> {
        let registry = Registry::temporary().unwrap();
        check_with(&registry, content, context)
            .into_iter()
            .filter(|f| f.category == Category::CopyrightSource)
            .map(|f| f.rule_id)
            .collect()
    }

    #[test]
    fn a_copied_reserved_article_is_over_the_allowance_and_unattributed() {
        let ctx = generated_from(vec![passage("bbc-1", "all-rights-reserved", ARTICLE)]);
        let rules = source_rules(ARTICLE, &ctx);
        assert_eq!(
            rules,
            [
                "copyright.source.over_allowance",
                "copyright.source.attribution"
            ]
        );
        // A passage that states no licence counts as reserved.
        let ctx = generated_from(vec![passage("bbc-1", "", ARTICLE)]);
        assert!(
            source_rules(ARTICLE, &ctx).contains(&"copyright.source.over_allowance".to_string())
        );
    }

    #[test]
    fn a_short_attributed_quotation_passes_and_human_content_is_not_held_to_it() {
        let ctx = generated_from(vec![passage("bbc-1", "all-rights-reserved", ARTICLE)]);
        let quote = "From Shares rise (newsdesk): \"Shares in London rose sharply on Tuesday after the central bank held interest rates.\"";
        assert!(source_rules(quote, &ctx).is_empty());
        let human = ReviewContext {
            origin: Some(generec_common::types::Origin::Human),
            ..ctx
        };
        assert!(source_rules(ARTICLE, &human).is_empty());
    }

    #[test]
    fn open_sources_may_be_copied_and_share_alike_cannot_meet_no_derivatives() {
        let ctx = generated_from(vec![passage("pd-1", "public-domain", ARTICLE)]);
        assert!(source_rules(ARTICLE, &ctx).is_empty());
        let second = "Miners fell back as metal prices slipped in Asian trading overnight while the pound held steady.";
        let ctx = generated_from(vec![
            passage("sa-1", "CC-BY-SA-4.0", ARTICLE),
            passage("nd-1", "CC-BY-ND-4.0", second),
        ]);
        let content = format!("Shares rise, newsdesk. {ARTICLE} {second}");
        let rules = source_rules(&content, &ctx);
        assert!(
            rules.contains(&"copyright.source.incompatible".to_string()),
            "{rules:?}"
        );
    }
}
