//! The editor: repurposes an existing item. Pure (no I/O) and total: any
//! input gives an output or an [`EditError`], never a panic.
//!
//! Text edits are extractive: every sentence of the output is a sentence of
//! the source body, verbatim, in source order, so the trust service's
//! authenticity check can find each one in the parent. Timed edits (clip,
//! thumbnail) return an [`EditDecisionList`] over the item's segments.
//!
//! # Licence
//!
//! Every edit first calls [`licence_allows_derivatives`] with the item's
//! licence and [`SourceItem::owner_consent`], the same rule as the trust
//! service's `copyright.derivative` check: a Creative Commons licence with
//! an `ND` element (`CC-BY-ND-4.0`, `CC BY-NC-ND 3.0` ...) forbids
//! derivatives whatever the owner says; `all-rights-reserved` (also `ARR`,
//! `proprietary`, `copyright`) forbids them unless the owner consented; an
//! empty or unknown licence allows them. Licences are compared upper-cased
//! with spaces and underscores read as `-`.
//!
//! # Text operations
//!
//! The body is cut into sentences ([`crate::text::sentences`]); the edit
//! works on the list of source sentences still kept, applying the
//! operations in order.
//!
//! - **Centrality** (used by condense and restyle): each kept sentence's
//!   TF-IDF vector (IDF over the body's sentences) is compared with the
//!   centroid of the kept sentences and with the title:
//!   `0.7·cos(centroid) + 0.3·cos(title)` (without a title, the centroid
//!   alone); with an embedder (see [`Editor::with_embedder`]) that value is
//!   averaged with the cosine of the sentence's embedding to the mean
//!   embedding. A lead bias `0.05·(1 − position/count)` is added.
//! - **Condense(length)**: keeps the most central sentences in source order.
//!   How many: `Sentences` ⇒ `value`; `Words` ⇒ sentences are taken, best
//!   first, while they fit the word budget (one that does not fit is
//!   skipped; an error when none fits); `Seconds` ⇒ a word budget at
//!   [`READING_WORDS_PER_MINUTE`]; `relative` (when > 0, it wins over
//!   `value`) ⇒ `round(relative × sentences)`, at least 1. Never more than
//!   the sentences there are, so the output is never longer than the
//!   source.
//! - **Restyle(tone)**: scores each sentence `0.75·fit + 0.25·c`
//!   ([`TONE_WEIGHT`]), where `fit` is [`ToneLexicon::fit`] of the
//!   sentence's [`ToneLexicon::score`] and `c` the centrality divided by the
//!   largest centrality (so the output stays on topic), and keeps the best [`RESTYLE_KEEP`] share (rounded,
//!   at least 1) in source order. A restyle next to a condense (either
//!   order) is one selection: the condense's length decides how many, the
//!   restyle's blended score which.
//! - **Extract(topics)**: a topic matches a sentence when all its content
//!   terms (stemmed, stop words dropped: [`crate::text::terms`]) occur in
//!   it. Keeps the matching sentences and, for context, the sentence after
//!   each one when it is in the same paragraph; in order. Nothing matching
//!   is `Invalid { field: "topics" }`. The score of a kept sentence is the
//!   sum of the weights of the topics it matches (0 for a context sentence);
//!   a weight that is not in (0, 1] counts as 1.
//!
//! Sentences are joined with a space, or with a blank line where the
//! source had a paragraph break (two or more newlines) between them, so
//! splitting the output again gives back exactly the kept sentences.
//!
//! **Title**: `[Shorter: ]<source title>[ — on <topics>][ (<tone> edit)]`:
//! "Shorter: " when a condense or restyle dropped sentences, the topics of
//! the extracts, the tone of the last restyle. An empty source title reads
//! "Untitled".
//!
//! **Actions**: one per operation, in order: `extract:<topic>,<topic>`,
//! `condense`, `restyle:<tone>`.
//!
//! The [`UserProfile`] is read by the timed operations only.
//!
//! # Timed operations
//!
//! A clip or thumbnail must be the last operation; only extracts may come
//! before it, and their topics join the profile's include topics. Segments
//! must have finite times, `0 ≤ start ≤ end`, and be sorted by start.
//!
//! Each segment (its text and tags) gets a score:
//! `like + inc − exc`, where `like` is the cosine of the segment's TF-IDF
//! vector (IDF over the segments and the liked texts) with the centroid of
//! the profile's liked texts (averaged with the embedding cosine when an
//! embedder is present), and `inc` / `exc` are the weighted mean, over the
//! include / exclude topics, of the share of the topic's terms found in the
//! segment's text or tags. With no liked texts and no topics, the score is
//! the segment's centrality among the item's segments.
//!
//! - **Clip { max_seconds }** (0 means [`DEFAULT_CLIP_SECONDS`]): from each
//!   start segment, the window takes the following segments while the span
//!   from its start to the last one's end stays within `max_seconds` (a
//!   single segment longer than that is cut to `max_seconds`). The window's
//!   score is its mean score per second over `max_seconds`:
//!   `Σ score·duration / max_seconds`, so time a window cannot fill (at the
//!   end of the item) counts as 0 and a short tail window does not win by
//!   holding a single good segment (when every segment lasts zero seconds,
//!   the plain mean of the window's segments). The best window wins, ties
//!   going to the earlier. `window_scores` holds the score of every start.
//! - **Thumbnail**: the best single segment (ties: the earlier);
//!   `window_scores` holds every segment's score.
//!
//! Similarity scores are rounded (1e-5 for sentences, 1e-6 for segments)
//! before they are ranked: [`TermVector::cosine`] sums in hash-map order,
//! so its last bits vary between runs, and rounding turns such near-equal
//! scores into ties broken by position.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::guidance::{Length, LengthUnit, Tone, TopicWeight};
use crate::text::{self, Idf, Sentence, TermVector};
use crate::tone::{ToneLexicon, ToneScores};

/// Reading speed for a `Seconds` length of text.
pub const READING_WORDS_PER_MINUTE: f64 = 200.0;

/// Clip length when `max_seconds` is 0.
pub const DEFAULT_CLIP_SECONDS: f64 = 30.0;

/// Weight of the tone fit in a restyle's score; the rest is centrality.
pub const TONE_WEIGHT: f32 = 0.75;

/// Share of sentences a restyle keeps when no condense sets the length.
pub const RESTYLE_KEEP: f32 = 0.6;

/// The labelled clip and thumbnail set, relative to the repository root.
pub const TIMED_FIXTURE_PATH: &str = "services/generation/tests/fixtures/timed_edits.json";

/// How far (seconds) a clip's ends may be from the labelled ones and count
/// as correct in [`eval_timed`].
pub const CLIP_TOLERANCE_SECONDS: f64 = 0.5;

/// The item to repurpose.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceItem {
    pub id: String,
    pub title: String,
    pub body: String,
    /// Timed parts of a video or music item, sorted by start.
    pub segments: Vec<Segment>,
    pub tags: Vec<String>,
    /// SPDX-style licence id; empty when unknown.
    pub licence: String,
    pub content_sha256: String,
    /// The item's owner consented to derivatives (lifts
    /// `all-rights-reserved`, not `ND`).
    pub owner_consent: bool,
}

/// A timed part of a video or music item.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start_seconds: f64,
    pub end_seconds: f64,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// One step of an edit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EditOp {
    Condense(Length),
    Restyle(Tone),
    Extract(Vec<TopicWeight>),
    Clip { max_seconds: f64 },
    Thumbnail,
}

impl EditOp {
    pub fn name(&self) -> &'static str {
        match self {
            EditOp::Condense(_) => "condense",
            EditOp::Restyle(_) => "restyle",
            EditOp::Extract(_) => "extract",
            EditOp::Clip { .. } => "clip",
            EditOp::Thumbnail => "thumbnail",
        }
    }

    fn is_timed(&self) -> bool {
        matches!(self, EditOp::Clip { .. } | EditOp::Thumbnail)
    }
}

/// What the editor knows about the user it edits for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserProfile {
    /// Titles or text of items the user liked.
    pub liked_texts: Vec<String>,
    pub include: Vec<TopicWeight>,
    pub exclude: Vec<TopicWeight>,
}

/// A sentence of the output and where it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeptSentence {
    /// Byte range of the sentence in the source body.
    pub source_start: usize,
    pub source_end: usize,
    /// Byte range of the sentence in the output body.
    pub start: usize,
    pub end: usize,
    /// The score of the last operation that selected it.
    pub score: f32,
}

/// The result of a text edit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EditedText {
    pub title: String,
    pub body: String,
    /// One per output sentence, in output order.
    pub kept: Vec<KeptSentence>,
    /// What was done, in order: "extract:tech", "condense", "restyle:calm".
    pub actions: Vec<String>,
}

/// A cut of timed media.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EditDecisionList {
    pub source_item: String,
    pub source_sha256: String,
    pub start_seconds: f64,
    pub end_seconds: f64,
    pub segment_indices: Vec<usize>,
    pub score: f64,
    /// One per candidate window start (per segment for a thumbnail).
    pub window_scores: Vec<f64>,
    pub explanation: String,
}

/// What an edit produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EditOutput {
    Text(EditedText),
    Clip(EditDecisionList),
    Thumbnail(EditDecisionList),
}

/// Why an edit was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EditError {
    #[error("the source item has no text to edit")]
    EmptySource,
    #[error("clips and thumbnails need timed segments and the item has none")]
    NotTimed,
    #[error("the item's licence {licence:?} does not allow derivatives")]
    NoDerivatives { licence: String },
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

fn invalid(field: &'static str, reason: impl Into<String>) -> EditError {
    EditError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// Whether a licence allows derivatives; see the module docs.
pub fn licence_allows_derivatives(licence: &str, owner_consent: bool) -> Result<(), EditError> {
    match generec_licence::derivative_refusal(licence, owner_consent, &[], &[]) {
        Some(_) => Err(EditError::NoDerivatives {
            licence: licence.trim().to_string(),
        }),
        None => Ok(()),
    }
}

/// Embeds texts, one vector per text, or `None` when no model is available.
pub type EmbedFn = dyn Fn(&[&str]) -> Option<Vec<Vec<f32>>> + Send + Sync;

/// Repurposes items; see the module docs.
pub struct Editor {
    lexicon: ToneLexicon,
    embedder: Option<Box<EmbedFn>>,
}

impl std::fmt::Debug for Editor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Editor")
            .field("lexicon", &self.lexicon.source().to_string())
            .field("embedder", &self.embedder.is_some())
            .finish()
    }
}

/// How many sentences a selection keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    Count(usize),
    Words(usize),
}

/// The state of a text edit: the kept source sentences and their scores.
struct TextWork<'a> {
    item: &'a SourceItem,
    sents: Vec<Sentence>,
    vecs: Vec<TermVector>,
    title: TermVector,
    tones: Vec<Option<ToneScores>>,
    embeddings: Option<Option<Vec<Vec<f32>>>>,
    kept: Vec<usize>,
    scores: Vec<f32>,
}

impl Editor {
    pub fn new(lexicon: ToneLexicon) -> Editor {
        Editor {
            lexicon,
            embedder: None,
        }
    }

    /// Uses `embed` for semantic similarity next to the lexical one. It may
    /// return `None` (no model) or vectors of the wrong shape, and the
    /// editor then uses the lexical similarity alone.
    pub fn with_embedder(
        mut self,
        embed: impl Fn(&[&str]) -> Option<Vec<Vec<f32>>> + Send + Sync + 'static,
    ) -> Editor {
        self.embedder = Some(Box::new(embed));
        self
    }

    pub fn lexicon(&self) -> &ToneLexicon {
        &self.lexicon
    }

    /// Applies `ops` in order to `item`; see the module docs.
    pub fn edit(
        &self,
        item: &SourceItem,
        ops: &[EditOp],
        profile: &UserProfile,
    ) -> Result<EditOutput, EditError> {
        licence_allows_derivatives(&item.licence, item.owner_consent)?;
        if ops.is_empty() {
            return Err(invalid("ops", "no edit operation"));
        }
        if let Some(pos) = ops.iter().position(EditOp::is_timed) {
            if pos + 1 != ops.len() {
                return Err(invalid(
                    "ops",
                    format!("{} must be the last operation", ops[pos].name()),
                ));
            }
            let mut topics = Vec::new();
            for op in &ops[..pos] {
                match op {
                    EditOp::Extract(t) => topics.extend(t.iter().cloned()),
                    other => {
                        return Err(invalid(
                            "ops",
                            format!(
                                "only extract may come before {}, not {}",
                                ops[pos].name(),
                                other.name()
                            ),
                        ));
                    }
                }
            }
            return self.timed(item, &ops[pos], profile, &topics);
        }
        self.text(item, ops).map(EditOutput::Text)
    }

    fn embed(&self, texts: &[&str]) -> Option<Vec<Vec<f32>>> {
        let embed = self.embedder.as_ref()?;
        if texts.is_empty() {
            return None;
        }
        let out = embed(texts)?;
        let dim = out.first()?.len();
        let ok = out.len() == texts.len()
            && dim > 0
            && out
                .iter()
                .all(|v| v.len() == dim && v.iter().all(|x| x.is_finite()));
        ok.then_some(out)
    }

    // ---- text ----------------------------------------------------------

    fn text(&self, item: &SourceItem, ops: &[EditOp]) -> Result<EditedText, EditError> {
        let sents = text::sentences(&item.body);
        if sents.is_empty() {
            return Err(EditError::EmptySource);
        }
        let idf = Idf::new(sents.iter().map(|s| s.text.as_str()));
        let vecs = sents
            .iter()
            .map(|s| TermVector::new(&s.text, Some(&idf)))
            .collect();
        let n = sents.len();
        let mut work = TextWork {
            item,
            title: TermVector::new(&item.title, Some(&idf)),
            vecs,
            tones: vec![None; n],
            embeddings: None,
            kept: (0..n).collect(),
            scores: vec![1.0; n],
            sents,
        };
        let mut actions = Vec::new();
        let mut shorter = false;
        let mut topics_title: Vec<String> = Vec::new();
        let mut tone_title: Option<Tone> = None;
        let mut i = 0;
        while i < ops.len() {
            let before = work.kept.len();
            match (&ops[i], ops.get(i + 1)) {
                (EditOp::Extract(topics), _) => {
                    self.extract(&mut work, topics)?;
                    let names: Vec<String> = topics
                        .iter()
                        .map(|t| t.topic.trim().to_string())
                        .filter(|t| !t.is_empty())
                        .collect();
                    actions.push(format!("extract:{}", names.join(",")));
                    for name in names {
                        if !topics_title.contains(&name) {
                            topics_title.push(name);
                        }
                    }
                }
                (EditOp::Condense(length), Some(EditOp::Restyle(tone)))
                | (EditOp::Restyle(tone), Some(EditOp::Condense(length))) => {
                    let target = target(length, &work)?;
                    self.select(&mut work, Some(*tone), target)?;
                    for op in &ops[i..i + 2] {
                        actions.push(action(op));
                    }
                    tone_title = Some(*tone);
                    shorter |= work.kept.len() < before;
                    i += 1;
                }
                (EditOp::Condense(length), _) => {
                    let target = target(length, &work)?;
                    self.select(&mut work, None, target)?;
                    actions.push(action(&ops[i]));
                    shorter |= work.kept.len() < before;
                }
                (EditOp::Restyle(tone), _) => {
                    let k = ((RESTYLE_KEEP * before as f32).round() as usize).max(1);
                    self.select(&mut work, Some(*tone), Target::Count(k))?;
                    actions.push(action(&ops[i]));
                    tone_title = Some(*tone);
                    shorter |= work.kept.len() < before;
                }
                (op, _) => {
                    return Err(invalid(
                        "ops",
                        format!("{} cannot be mixed with text edits", op.name()),
                    ));
                }
            }
            i += 1;
        }
        let mut title = String::new();
        if shorter {
            title.push_str("Shorter: ");
        }
        let source_title = item.title.trim();
        title.push_str(if source_title.is_empty() {
            "Untitled"
        } else {
            source_title
        });
        if !topics_title.is_empty() {
            title.push_str(" — on ");
            title.push_str(&topics_title.join(", "));
        }
        if let Some(tone) = tone_title {
            title.push_str(&format!(" ({} edit)", tone.as_str()));
        }
        let (body, kept) = assemble(&work);
        Ok(EditedText {
            title,
            body,
            kept,
            actions,
        })
    }

    /// Centrality of each kept sentence, in `work.kept` order.
    fn centrality(&self, work: &mut TextWork<'_>) -> Vec<f32> {
        let count = work.kept.len();
        let mut centroid = TermVector::default();
        for &i in &work.kept {
            centroid.add_scaled(&work.vecs[i], 1.0);
        }
        let has_title = !work.title.is_empty();
        if work.embeddings.is_none() {
            let texts: Vec<&str> = work.sents.iter().map(|s| s.text.as_str()).collect();
            work.embeddings = Some(self.embed(&texts));
        }
        let semantic = work.embeddings.as_ref().and_then(|e| e.as_ref()).map(|e| {
            let rows: Vec<&[f32]> = work.kept.iter().map(|&i| e[i].as_slice()).collect();
            let mean = mean_vector(&rows);
            rows.iter()
                .map(|r| cosine(r, &mean).max(0.0))
                .collect::<Vec<f32>>()
        });
        work.kept
            .iter()
            .enumerate()
            .map(|(pos, &i)| {
                let v = &work.vecs[i];
                let mut c = if has_title {
                    0.7 * v.cosine(&centroid) + 0.3 * v.cosine(&work.title)
                } else {
                    v.cosine(&centroid)
                };
                if let Some(sem) = &semantic {
                    c = 0.5 * c + 0.5 * sem[pos];
                }
                quantise32(c + 0.05 * (1.0 - pos as f32 / count as f32))
            })
            .collect()
    }

    fn tone_of(&self, work: &mut TextWork<'_>, i: usize) -> ToneScores {
        if let Some(t) = work.tones[i] {
            return t;
        }
        let t = self.lexicon.score(&work.sents[i].text);
        work.tones[i] = Some(t);
        t
    }

    /// Keeps the best sentences by centrality (blended with the fit to
    /// `tone` when given), in source order.
    fn select(
        &self,
        work: &mut TextWork<'_>,
        tone: Option<Tone>,
        target: Target,
    ) -> Result<(), EditError> {
        let central = self.centrality(work);
        let scores: Vec<f32> = match tone {
            None => central,
            Some(tone) => {
                let max = central.iter().copied().fold(0.0f32, f32::max);
                let kept = work.kept.clone();
                kept.iter()
                    .zip(&central)
                    .map(|(&i, &c)| {
                        let fit = self.lexicon.fit(self.tone_of(work, i), tone);
                        let c = if max > 0.0 { c / max } else { 0.0 };
                        quantise32(TONE_WEIGHT * fit + (1.0 - TONE_WEIGHT) * c)
                    })
                    .collect()
            }
        };
        let mut order: Vec<usize> = (0..work.kept.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        let mut chosen: Vec<usize> = match target {
            Target::Count(k) => order.into_iter().take(k.max(1)).collect(),
            Target::Words(budget) => {
                let mut used = 0usize;
                let mut out = Vec::new();
                for pos in order {
                    let w = text::word_count(&work.sents[work.kept[pos]].text);
                    if used + w <= budget {
                        used += w;
                        out.push(pos);
                    }
                }
                if out.is_empty() {
                    return Err(invalid(
                        "length",
                        format!("no sentence fits in {budget} words"),
                    ));
                }
                out
            }
        };
        chosen.sort_unstable();
        for &pos in &chosen {
            work.scores[work.kept[pos]] = scores[pos];
        }
        work.kept = chosen.into_iter().map(|pos| work.kept[pos]).collect();
        Ok(())
    }

    fn extract(&self, work: &mut TextWork<'_>, topics: &[TopicWeight]) -> Result<(), EditError> {
        let topics = topic_terms(topics);
        if topics.is_empty() {
            return Err(invalid("topics", "no topic with a content word"));
        }
        let mut matched = vec![0.0f32; work.kept.len()];
        for (pos, &i) in work.kept.iter().enumerate() {
            let terms: HashSet<String> = text::terms(&work.sents[i].text).into_iter().collect();
            for (t, w) in &topics {
                if t.iter().all(|term| terms.contains(term)) {
                    matched[pos] += w;
                }
            }
        }
        if matched.iter().all(|&m| m == 0.0) {
            let names: Vec<&str> = topics.iter().map(|(t, _)| t[0].as_str()).collect();
            return Err(invalid(
                "topics",
                format!("no sentence mentions {}", names.join(", ")),
            ));
        }
        let mut keep = Vec::new();
        for pos in 0..work.kept.len() {
            let i = work.kept[pos];
            if matched[pos] > 0.0 {
                work.scores[i] = matched[pos];
                keep.push(i);
            } else if pos > 0
                && matched[pos - 1] > 0.0
                && !paragraph_break(
                    &work.item.body,
                    &work.sents[work.kept[pos - 1]],
                    &work.sents[i],
                )
            {
                work.scores[i] = 0.0;
                keep.push(i);
            }
        }
        work.kept = keep;
        Ok(())
    }

    // ---- timed ---------------------------------------------------------

    fn timed(
        &self,
        item: &SourceItem,
        op: &EditOp,
        profile: &UserProfile,
        extra_topics: &[TopicWeight],
    ) -> Result<EditOutput, EditError> {
        let segs = &item.segments;
        if segs.is_empty() {
            return Err(EditError::NotTimed);
        }
        for (i, s) in segs.iter().enumerate() {
            if !s.start_seconds.is_finite() || !s.end_seconds.is_finite() {
                return Err(invalid(
                    "segments",
                    format!("segment {i} has a non-finite time"),
                ));
            }
            if s.start_seconds < 0.0 || s.end_seconds < s.start_seconds {
                return Err(invalid(
                    "segments",
                    format!(
                        "segment {i} runs from {} to {} seconds",
                        s.start_seconds, s.end_seconds
                    ),
                ));
            }
            if i > 0 && s.start_seconds < segs[i - 1].start_seconds {
                return Err(invalid("segments", "segments are not sorted by start"));
            }
        }
        let mut include = profile.include.clone();
        include.extend(extra_topics.iter().cloned());
        let (scores, basis) =
            self.segment_scores(segs, &profile.liked_texts, &include, &profile.exclude);
        match op {
            EditOp::Clip { max_seconds } => {
                let max = *max_seconds;
                if !max.is_finite() || max < 0.0 {
                    return Err(invalid("max_seconds", format!("{max} is not a duration")));
                }
                let max = if max == 0.0 {
                    DEFAULT_CLIP_SECONDS
                } else {
                    max
                };
                let timed_total: f64 = segs.iter().map(|s| s.end_seconds - s.start_seconds).sum();
                let mut windows = Vec::with_capacity(segs.len());
                for i in 0..segs.len() {
                    let start = segs[i].start_seconds;
                    let mut j = i;
                    while j + 1 < segs.len() && segs[j + 1].end_seconds - start <= max + 1e-9 {
                        j += 1;
                    }
                    let end = segs[j].end_seconds.min(start + max);
                    let score = if timed_total > 0.0 {
                        let mut weighted = 0.0;
                        for (k, s) in segs.iter().enumerate().take(j + 1).skip(i) {
                            let d = (s.end_seconds.min(end) - s.start_seconds).max(0.0);
                            weighted += scores[k] * d;
                        }
                        weighted / max
                    } else {
                        scores[i..=j].iter().sum::<f64>() / (j - i + 1) as f64
                    };
                    windows.push((i, j, end, score));
                }
                let mut best = 0;
                for (w, window) in windows.iter().enumerate() {
                    if window.3 > windows[best].3 {
                        best = w;
                    }
                }
                let (i, j, end, score) = windows[best];
                let start = segs[i].start_seconds;
                Ok(EditOutput::Clip(EditDecisionList {
                    source_item: item.id.clone(),
                    source_sha256: item.content_sha256.clone(),
                    start_seconds: start,
                    end_seconds: end,
                    segment_indices: (i..=j).collect(),
                    score,
                    window_scores: windows.iter().map(|w| w.3).collect(),
                    explanation: format!(
                        "clip {start:.1}–{end:.1} s (segments {i}–{j}) of {}: the best of {} windows of at most {max:.1} s, score {score:.3} a second by {basis}",
                        item.id,
                        windows.len()
                    ),
                }))
            }
            _ => {
                let mut best = 0;
                for (i, &s) in scores.iter().enumerate() {
                    if s > scores[best] {
                        best = i;
                    }
                }
                let seg = &segs[best];
                Ok(EditOutput::Thumbnail(EditDecisionList {
                    source_item: item.id.clone(),
                    source_sha256: item.content_sha256.clone(),
                    start_seconds: seg.start_seconds,
                    end_seconds: seg.end_seconds,
                    segment_indices: vec![best],
                    score: scores[best],
                    window_scores: scores.clone(),
                    explanation: format!(
                        "thumbnail from segment {best} ({:.1}–{:.1} s) of {}: the best of {} segments, score {:.3} by {basis}",
                        seg.start_seconds,
                        seg.end_seconds,
                        item.id,
                        segs.len(),
                        scores[best]
                    ),
                }))
            }
        }
    }

    /// Each segment's score and a phrase naming what it was scored by.
    fn segment_scores(
        &self,
        segs: &[Segment],
        liked: &[String],
        include: &[TopicWeight],
        exclude: &[TopicWeight],
    ) -> (Vec<f64>, String) {
        let seg_texts: Vec<String> = segs
            .iter()
            .map(|s| format!("{} {}", s.text, s.tags.join(" ")))
            .collect();
        let liked: Vec<&str> = liked
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .collect();
        let idf = Idf::new(
            seg_texts
                .iter()
                .map(String::as_str)
                .chain(liked.iter().copied()),
        );
        let vecs: Vec<TermVector> = seg_texts
            .iter()
            .map(|t| TermVector::new(t, Some(&idf)))
            .collect();
        let include = topic_terms(include);
        let exclude = topic_terms(exclude);
        let mut basis = Vec::new();
        let mut scores = vec![0.0f64; segs.len()];
        if !liked.is_empty() {
            let mut centroid = TermVector::default();
            for l in &liked {
                centroid.add_scaled(&TermVector::new(l, Some(&idf)), 1.0);
            }
            let mut like: Vec<f64> = vecs.iter().map(|v| v.cosine(&centroid) as f64).collect();
            let texts: Vec<&str> = seg_texts
                .iter()
                .map(String::as_str)
                .chain(liked.iter().copied())
                .collect();
            if let Some(e) = self.embed(&texts) {
                let rows: Vec<&[f32]> = e[segs.len()..].iter().map(Vec::as_slice).collect();
                let mean = mean_vector(&rows);
                for (k, l) in like.iter_mut().enumerate() {
                    *l = 0.5 * *l + 0.5 * cosine(&e[k], &mean).max(0.0) as f64;
                }
                basis.push("liked items (lexical and semantic)");
            } else {
                basis.push("liked items");
            }
            for (s, l) in scores.iter_mut().zip(like) {
                *s += l;
            }
        }
        if !include.is_empty() || !exclude.is_empty() {
            let term_sets: Vec<HashSet<String>> = seg_texts
                .iter()
                .map(|t| text::terms(t).into_iter().collect())
                .collect();
            for (k, s) in scores.iter_mut().enumerate() {
                *s += topic_share(&term_sets[k], &include) - topic_share(&term_sets[k], &exclude);
            }
            basis.push("topics");
        }
        if basis.is_empty() {
            let mut centroid = TermVector::default();
            for v in &vecs {
                centroid.add_scaled(v, 1.0);
            }
            for (s, v) in scores.iter_mut().zip(&vecs) {
                *s = v.cosine(&centroid) as f64;
            }
            basis.push("centrality (no profile or topics)");
        }
        for s in scores.iter_mut() {
            *s = quantise64(*s);
        }
        (scores, basis.join(" and "))
    }
}

fn action(op: &EditOp) -> String {
    match op {
        EditOp::Restyle(tone) => format!("restyle:{}", tone.as_str()),
        other => other.name().to_string(),
    }
}

/// The number of sentences (or words) a length asks for.
fn target(length: &Length, work: &TextWork<'_>) -> Result<Target, EditError> {
    let n = work.kept.len();
    let rel = length.relative;
    if !rel.is_finite() || rel < 0.0 {
        return Err(invalid(
            "length",
            format!("relative length {rel} is not a factor"),
        ));
    }
    if rel > 0.0 {
        let k = (rel as f64 * n as f64).round() as usize;
        return Ok(Target::Count(k.clamp(1, n.max(1))));
    }
    if length.value == 0 {
        return Err(invalid("length", "neither a value nor a relative length"));
    }
    Ok(match length.unit {
        LengthUnit::Sentences => Target::Count((length.value as usize).min(n)),
        LengthUnit::Words => Target::Words(length.value as usize),
        LengthUnit::Seconds => {
            Target::Words((length.value as f64 * READING_WORDS_PER_MINUTE / 60.0) as usize)
        }
    })
}

/// Topics as their content terms and weights; topics without a content
/// word are dropped, weights outside (0, 1] count as 1.
fn topic_terms(topics: &[TopicWeight]) -> Vec<(Vec<String>, f32)> {
    topics
        .iter()
        .filter_map(|t| {
            let mut terms = text::terms(&t.topic);
            terms.dedup();
            let w = if t.weight.is_finite() && t.weight > 0.0 && t.weight <= 1.0 {
                t.weight
            } else {
                1.0
            };
            (!terms.is_empty()).then_some((terms, w))
        })
        .collect()
}

/// Weighted mean over `topics` of the share of each topic's terms in
/// `terms`; 0 without topics.
fn topic_share(terms: &HashSet<String>, topics: &[(Vec<String>, f32)]) -> f64 {
    let total: f64 = topics.iter().map(|(_, w)| *w as f64).sum();
    if total <= 0.0 {
        return 0.0;
    }
    topics
        .iter()
        .map(|(t, w)| {
            let found = t.iter().filter(|term| terms.contains(*term)).count();
            *w as f64 * found as f64 / t.len() as f64
        })
        .sum::<f64>()
        / total
}

fn paragraph_break(body: &str, a: &Sentence, b: &Sentence) -> bool {
    body.get(a.end..b.start)
        .is_some_and(|gap| gap.matches('\n').count() >= 2)
}

fn assemble(work: &TextWork<'_>) -> (String, Vec<KeptSentence>) {
    let mut body = String::new();
    let mut kept = Vec::with_capacity(work.kept.len());
    let mut prev: Option<&Sentence> = None;
    for &i in &work.kept {
        let s = &work.sents[i];
        if let Some(p) = prev {
            body.push_str(if paragraph_break(&work.item.body, p, s) {
                "\n\n"
            } else {
                " "
            });
        }
        let start = body.len();
        body.push_str(&s.text);
        kept.push(KeptSentence {
            source_start: s.start,
            source_end: s.end,
            start,
            end: body.len(),
            score: work.scores[i],
        });
        prev = Some(s);
    }
    (body, kept)
}

/// Rounds a score to 1e-5: [`TermVector`] sums its products in hash-map
/// order, so the same cosine can differ in the last bits from one run to
/// the next; rounding makes near-equal scores real ties (broken by source
/// order), so selections almost never depend on that noise.
fn quantise32(x: f32) -> f32 {
    if x.is_finite() {
        (x * 1e5).round() / 1e5
    } else {
        0.0
    }
}

/// [`quantise32`] for segment scores (1e-6).
fn quantise64(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e6).round() / 1e6
    } else {
        0.0
    }
}

fn mean_vector(rows: &[&[f32]]) -> Vec<f32> {
    let dim = rows.first().map_or(0, |r| r.len());
    let mut mean = vec![0.0f32; dim];
    for r in rows {
        let norm = r.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (m, x) in mean.iter_mut().zip(r.iter()) {
                *m += x / norm;
            }
        }
    }
    mean
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na > 0.0 && nb > 0.0 {
        (dot / (na * nb)).clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

// ---- labelled timed set ----------------------------------------------------

/// The labelled clip window of a [`LabelledTimed`] case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClipLabel {
    pub start_seconds: f64,
    pub end_seconds: f64,
}

/// A timed item with a profile, topics, and the clip and thumbnail a person
/// would choose (the fixture at [`TIMED_FIXTURE_PATH`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelledTimed {
    pub name: String,
    /// Why the labels are what they are.
    #[serde(default)]
    pub note: String,
    pub item: SourceItem,
    #[serde(default)]
    pub profile: UserProfile,
    /// 0: [`DEFAULT_CLIP_SECONDS`].
    #[serde(default)]
    pub max_seconds: f64,
    pub clip: ClipLabel,
    /// Index of the thumbnail segment.
    pub thumbnail_segment: usize,
}

/// Parses the labelled set (a JSON array of [`LabelledTimed`]).
pub fn parse_labelled_timed(json: &str) -> Result<Vec<LabelledTimed>, serde_json::Error> {
    serde_json::from_str(json)
}

/// Accuracy of the editor's clips and thumbnails on a labelled set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimedEval {
    pub n: usize,
    pub clip_correct: usize,
    pub thumbnail_correct: usize,
    /// In [0, 1]; 0 for an empty set.
    pub clip_accuracy: f64,
    pub thumbnail_accuracy: f64,
    /// One line per wrong answer.
    pub misses: Vec<String>,
}

/// Runs every case's clip and thumbnail; a clip is correct when both ends
/// lie within [`CLIP_TOLERANCE_SECONDS`] of the label.
pub fn eval_timed(editor: &Editor, cases: &[LabelledTimed]) -> TimedEval {
    let mut eval = TimedEval {
        n: cases.len(),
        ..TimedEval::default()
    };
    for case in cases {
        let clip = editor.edit(
            &case.item,
            &[EditOp::Clip {
                max_seconds: case.max_seconds,
            }],
            &case.profile,
        );
        match clip {
            Ok(EditOutput::Clip(edl))
                if (edl.start_seconds - case.clip.start_seconds).abs()
                    <= CLIP_TOLERANCE_SECONDS
                    && (edl.end_seconds - case.clip.end_seconds).abs()
                        <= CLIP_TOLERANCE_SECONDS =>
            {
                eval.clip_correct += 1;
            }
            Ok(EditOutput::Clip(edl)) => eval.misses.push(format!(
                "{}: clip {:.1}–{:.1} s, labelled {:.1}–{:.1} s",
                case.name,
                edl.start_seconds,
                edl.end_seconds,
                case.clip.start_seconds,
                case.clip.end_seconds
            )),
            other => eval
                .misses
                .push(format!("{}: clip gave {other:?}", case.name)),
        }
        match editor.edit(&case.item, &[EditOp::Thumbnail], &case.profile) {
            Ok(EditOutput::Thumbnail(edl)) if edl.segment_indices == [case.thumbnail_segment] => {
                eval.thumbnail_correct += 1;
            }
            Ok(EditOutput::Thumbnail(edl)) => eval.misses.push(format!(
                "{}: thumbnail segment {:?}, labelled {}",
                case.name, edl.segment_indices, case.thumbnail_segment
            )),
            other => eval
                .misses
                .push(format!("{}: thumbnail gave {other:?}", case.name)),
        }
    }
    if eval.n > 0 {
        eval.clip_accuracy = eval.clip_correct as f64 / eval.n as f64;
        eval.thumbnail_accuracy = eval.thumbnail_correct as f64 / eval.n as f64;
    }
    eval
}

#[cfg(test)]
mod tests {
    use super::*;

    fn editor() -> Editor {
        Editor::new(ToneLexicon::builtin())
    }

    fn item(body: &str) -> SourceItem {
        SourceItem {
            id: "t".into(),
            title: "Title".into(),
            body: body.into(),
            ..SourceItem::default()
        }
    }

    fn seg(a: f64, b: f64, text: &str) -> Segment {
        Segment {
            start_seconds: a,
            end_seconds: b,
            text: text.into(),
            tags: vec![],
        }
    }

    fn timed(segments: Vec<Segment>) -> SourceItem {
        SourceItem {
            id: "v".into(),
            segments,
            ..SourceItem::default()
        }
    }

    fn topics(names: &[&str]) -> Vec<TopicWeight> {
        names
            .iter()
            .map(|t| TopicWeight {
                topic: t.to_string(),
                weight: 1.0,
            })
            .collect()
    }

    fn len(unit: LengthUnit, value: u32, relative: f32) -> Length {
        Length {
            unit,
            value,
            relative,
        }
    }

    fn text_of(out: Result<EditOutput, EditError>) -> EditedText {
        match out {
            Ok(EditOutput::Text(t)) => t,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn licence_rule_matches_the_trust_check() {
        for (licence, consent, ok) in [
            ("CC-BY-ND-4.0", false, false),
            ("CC-BY-ND-4.0", true, false),
            ("CC-BY-NC-ND-4.0", false, false),
            ("CC BY-NC-ND 3.0", true, false),
            (" cc by-nd 3.0 ", false, false),
            ("all-rights-reserved", false, false),
            ("All Rights Reserved", false, false),
            ("ARR", false, false),
            ("proprietary", false, false),
            ("copyright", false, false),
            ("all-rights-reserved", true, true),
            ("arr", true, true),
            ("CC-BY-4.0", false, true),
            ("CC0-1.0", false, true),
            ("MIT", false, true),
            ("", false, true),
            ("   ", false, true),
            ("BY-ND", false, true),
        ] {
            assert_eq!(
                licence_allows_derivatives(licence, consent).is_ok(),
                ok,
                "{licence:?} consent={consent}"
            );
        }
        assert_eq!(
            licence_allows_derivatives(" CC-BY-ND-4.0 ", false),
            Err(EditError::NoDerivatives {
                licence: "CC-BY-ND-4.0".into()
            })
        );
    }

    #[test]
    fn ops_are_validated() {
        let e = editor();
        let p = UserProfile::default();
        let it = item("One. Two. Three.");
        assert!(matches!(
            e.edit(&it, &[], &p),
            Err(EditError::Invalid { field: "ops", .. })
        ));
        let clip = EditOp::Clip { max_seconds: 10.0 };
        assert!(matches!(
            e.edit(&it, &[clip.clone(), EditOp::Restyle(Tone::Calm)], &p),
            Err(EditError::Invalid { field: "ops", .. })
        ));
        assert!(matches!(
            e.edit(
                &it,
                &[EditOp::Condense(len(LengthUnit::Sentences, 1, 0.0)), clip],
                &p
            ),
            Err(EditError::Invalid { field: "ops", .. })
        ));
        for bad in [
            len(LengthUnit::Sentences, 0, 0.0),
            len(LengthUnit::Sentences, 1, f32::NAN),
            len(LengthUnit::Sentences, 1, -0.5),
            len(LengthUnit::Words, 0, f32::INFINITY),
        ] {
            assert!(
                matches!(
                    e.edit(&it, &[EditOp::Condense(bad)], &p),
                    Err(EditError::Invalid {
                        field: "length",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            e.edit(&it, &[EditOp::Extract(vec![])], &p),
            Err(EditError::Invalid {
                field: "topics",
                ..
            })
        ));
        assert!(matches!(
            e.edit(&it, &[EditOp::Extract(topics(&["the", "  "]))], &p),
            Err(EditError::Invalid {
                field: "topics",
                ..
            })
        ));
        assert_eq!(
            e.edit(&item("  \n\n "), &[EditOp::Restyle(Tone::Calm)], &p),
            Err(EditError::EmptySource)
        );
    }

    #[test]
    fn condense_and_paragraphs() {
        let body = "Markets rose sharply today. Investors cheered the news.\n\nThe bank held rates. Markets expect a cut.\n\nWeather was fine.";
        let e = editor();
        let p = UserProfile::default();
        let out = text_of(e.edit(
            &item(body),
            &[EditOp::Condense(len(LengthUnit::Sentences, 10, 0.0))],
            &p,
        ));
        assert_eq!(out.body, body, "keeping everything reproduces the body");
        assert_eq!(out.title, "Title", "nothing dropped");
        let out = text_of(e.edit(&item(body), &[EditOp::Extract(topics(&["markets"]))], &p));
        // Matches, the follower in the same paragraph, and no follower across
        // a paragraph break.
        assert_eq!(
            out.body,
            "Markets rose sharply today. Investors cheered the news.\n\nMarkets expect a cut."
        );
        assert_eq!(out.kept.len(), 3);
        assert_eq!(out.kept[1].score, 0.0);
        assert_eq!(out.title, "Title — on markets");
        // A word budget smaller than every sentence.
        assert!(matches!(
            e.edit(
                &item(body),
                &[EditOp::Condense(len(LengthUnit::Words, 1, 0.0))],
                &p
            ),
            Err(EditError::Invalid {
                field: "length",
                ..
            })
        ));
        let one = text_of(e.edit(&item("Just one."), &[EditOp::Restyle(Tone::Upbeat)], &p));
        assert_eq!(one.body, "Just one.");
        assert_eq!(one.title, "Title (upbeat edit)");
        let mut untitled = item("Alpha here. Beta there.");
        untitled.title = " ".into();
        let out = text_of(e.edit(
            &untitled,
            &[EditOp::Condense(len(LengthUnit::Sentences, 1, 0.0))],
            &p,
        ));
        assert_eq!(out.title, "Shorter: Untitled");
    }

    #[test]
    fn segments_are_validated() {
        let e = editor();
        let p = UserProfile::default();
        for segs in [
            vec![seg(f64::NAN, 1.0, "a")],
            vec![seg(0.0, f64::INFINITY, "a")],
            vec![seg(-1.0, 1.0, "a")],
            vec![seg(2.0, 1.0, "a")],
            vec![seg(5.0, 6.0, "a"), seg(1.0, 2.0, "b")],
        ] {
            assert!(matches!(
                e.edit(&timed(segs), &[EditOp::Thumbnail], &p),
                Err(EditError::Invalid {
                    field: "segments",
                    ..
                })
            ));
        }
        let ok = timed(vec![seg(0.0, 5.0, "a")]);
        for max in [f64::NAN, -1.0, f64::INFINITY] {
            assert!(matches!(
                e.edit(&ok, &[EditOp::Clip { max_seconds: max }], &p),
                Err(EditError::Invalid {
                    field: "max_seconds",
                    ..
                })
            ));
        }
    }

    #[test]
    fn clip_windows_slide_and_trim() {
        let e = editor();
        let profile = UserProfile {
            include: topics(&["goal"]),
            ..UserProfile::default()
        };
        let item = timed(vec![
            seg(0.0, 10.0, "kick off"),
            seg(10.0, 20.0, "a goal is scored"),
            seg(20.0, 30.0, "another goal"),
            seg(30.0, 40.0, "half time"),
        ]);
        let Ok(EditOutput::Clip(edl)) =
            e.edit(&item, &[EditOp::Clip { max_seconds: 20.0 }], &profile)
        else {
            panic!()
        };
        assert_eq!(edl.segment_indices, vec![1, 2]);
        assert_eq!((edl.start_seconds, edl.end_seconds), (10.0, 30.0));
        assert_eq!(edl.window_scores, vec![0.5, 1.0, 0.5, 0.0]);
        // 0 means 30 seconds.
        let Ok(EditOutput::Clip(edl)) =
            e.edit(&item, &[EditOp::Clip { max_seconds: 0.0 }], &profile)
        else {
            panic!()
        };
        assert_eq!((edl.start_seconds, edl.end_seconds), (0.0, 30.0));
        // A segment longer than the clip is cut.
        let Ok(EditOutput::Clip(edl)) =
            e.edit(&item, &[EditOp::Clip { max_seconds: 4.0 }], &profile)
        else {
            panic!()
        };
        assert_eq!((edl.start_seconds, edl.end_seconds), (10.0, 14.0));
        assert_eq!(edl.segment_indices, vec![1]);
        // No profile, no topics: the most central segment; all zero
        // durations: plain means.
        let flat = timed(vec![
            seg(1.0, 1.0, "cats"),
            seg(1.0, 1.0, "dogs and cats"),
            seg(1.0, 1.0, "dogs"),
        ]);
        let out = e.edit(&flat, &[EditOp::Thumbnail], &UserProfile::default());
        assert!(matches!(out, Ok(EditOutput::Thumbnail(ref d)) if d.segment_indices == [1]));
        assert!(matches!(
            e.edit(
                &flat,
                &[EditOp::Clip { max_seconds: 1.0 }],
                &UserProfile::default()
            ),
            Ok(EditOutput::Clip(_))
        ));
    }

    /// A small deterministic generator for the no-panic check.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
        fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
            &xs[self.below(xs.len())]
        }
        fn text(&mut self, max: usize) -> String {
            const PIECES: &[&str] = &[
                "The ", "market ", "Goal", "! ", ". ", "? ", "\n\n", "\n", "Mr. ", "3.5 ", "\"",
                "'", "é", "日本 ", "GREAT ", "not ", "won't ", "funny ", "war ", "  ", "(", ")",
                "A", "z", "\u{200b}", "—", "🙂", "\r\n", "e.g. ", "U.S. ",
            ];
            (0..self.below(max)).map(|_| *self.pick(PIECES)).collect()
        }
        fn float(&mut self) -> f64 {
            *self.pick(&[
                0.0,
                1.0,
                2.5,
                10.0,
                30.0,
                -1.0,
                f64::NAN,
                f64::INFINITY,
                1e300,
                f64::MIN_POSITIVE,
            ])
        }
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let plain = editor();
        let embedded = Editor::new(ToneLexicon::builtin())
            .with_embedder(|texts| Some(texts.iter().map(|t| vec![t.len() as f32, 1.0]).collect()));
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..3000 {
            let topic = |rng: &mut Rng| TopicWeight {
                topic: rng.text(4),
                weight: *rng.pick(&[1.0, 0.5, 0.0, -1.0, f32::NAN]),
            };
            let mut ops = Vec::new();
            for _ in 0..rng.below(4) {
                ops.push(match rng.below(6) {
                    0 => EditOp::Condense(Length {
                        unit: *rng.pick(&[
                            LengthUnit::Sentences,
                            LengthUnit::Words,
                            LengthUnit::Seconds,
                        ]),
                        value: *rng.pick(&[0, 1, 3, 50, u32::MAX]),
                        relative: *rng.pick(&[0.0, 0.5, 2.0, -1.0, f32::NAN, f32::INFINITY]),
                    }),
                    1 => EditOp::Restyle(*rng.pick(&Tone::ALL)),
                    2 => EditOp::Extract((0..rng.below(3)).map(|_| topic(&mut rng)).collect()),
                    3 => EditOp::Clip {
                        max_seconds: rng.float(),
                    },
                    4 => EditOp::Thumbnail,
                    _ => EditOp::Extract(vec![TopicWeight {
                        topic: "market".into(),
                        weight: 1.0,
                    }]),
                });
            }
            let segments = (0..rng.below(5))
                .map(|_| Segment {
                    start_seconds: rng.float(),
                    end_seconds: rng.float(),
                    text: rng.text(6),
                    tags: vec![rng.text(2)],
                })
                .collect();
            let it = SourceItem {
                id: rng.text(2),
                title: rng.text(5),
                body: rng.text(40),
                segments,
                licence: rng
                    .pick(&["", "CC-BY-4.0", "CC-BY-ND-4.0", "ARR", "é"])
                    .to_string(),
                owner_consent: rng.below(2) == 0,
                ..SourceItem::default()
            };
            let profile = UserProfile {
                liked_texts: (0..rng.below(3)).map(|_| rng.text(6)).collect(),
                include: (0..rng.below(2)).map(|_| topic(&mut rng)).collect(),
                exclude: (0..rng.below(2)).map(|_| topic(&mut rng)).collect(),
            };
            let e = if round % 2 == 0 { &plain } else { &embedded };
            if let Ok(EditOutput::Text(out)) = e.edit(&it, &ops, &profile) {
                assert!(out.body.len() <= it.body.len());
                assert!(!out.kept.is_empty());
                for k in &out.kept {
                    assert_eq!(
                        &it.body[k.source_start..k.source_end],
                        &out.body[k.start..k.end]
                    );
                }
            }
        }
    }
}
