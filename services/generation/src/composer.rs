//! The grounded composer: the creator's default back-end. It writes a new
//! item only out of sentences the corpus holds, so every sentence has a
//! source passage behind it.
//!
//! # How a composition is made
//!
//! 1. Every sentence of every source document is a candidate, except those
//!    shorter than `min_words` or longer than `max_words` words, questions,
//!    and sentences that mention an excluded topic.
//! 2. Each candidate gets a relevance score in [0, 1]:
//!    `0.6·sim(sentence, query) + 0.2·sim(sentence, profile) + 0.15·prior(doc) + 0.05·lead`,
//!    where the query is the guidance's fact query (or its topics, or the
//!    instruction), the profile is the best match among the texts the user
//!    liked, `prior` is the document's retrieval score scaled to [0, 1] and
//!    `lead` is 1 for the first three sentences of a document (news puts the
//!    facts first). With a tone asked for, relevance is multiplied by
//!    `0.6 + 0.4·fit(sentence, tone)`.
//! 3. Sentences are picked by maximal marginal relevance (Carbonell and
//!    Goldstein 1998): at each step the candidate maximising
//!    `λ·relevance − (1 − λ)·max sim(candidate, picked)` (λ = 0.7), skipping
//!    near-duplicates (similarity above `max_similarity`), until the length
//!    target is met.
//! 4. Picked sentences are grouped into one section per source document,
//!    in source order within a section; sections are ordered by their best
//!    sentence. A digest or article gets the source's title as the section
//!    heading; a summary has no headings and names each source by its
//!    title on a closing line ("Source: ..."), so the source is named in
//!    the text wherever its licence asks for attribution. The title names
//!    the format and the topics.
//! 5. A digest (or an article from several sources) opens with a lead in
//!    the composer's own words saying what it covers: the topics asked for
//!    that the picked text mentions, and the period. It states no fact and
//!    is marked as framing (trust holds it to the sources' numbers, names
//!    and quotations, not to their words).
//!
//! Quotation allowance: while picking, every sentence is charged the words
//! it copies verbatim from each restricted source, and a source's title
//! (heading or closing line) is charged to that source when its first
//! sentence is picked; a candidate that would take a source past its
//! allowance is skipped.
//!
//! Every sentence of the body is recorded with its byte span, its source
//! passage (`<item id>#<sentence index>`, and `<item id>#title` for
//! headings) and its relevance.

use std::collections::HashMap;

use crate::guidance::{Format, Guidance, LengthUnit};
use crate::relevance::{Scorer, Vector};
use crate::text::{self, sentences, word_count};

/// A document the composer may draw from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceDoc {
    pub item_id: String,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    /// The retrieval score (any positive scale).
    pub score: f32,
    /// The item's licence and creator: how much of it the draft may quote
    /// (`ComposerConfig::licence`).
    pub licence: String,
    pub creator_id: String,
}

/// A passage a composition cites (`<item id>#<sentence index>` or
/// `<item id>#title`): the draft's own source type.
pub type Passage = crate::draft::SourcePassage;

/// One sentence (or heading) of the body and where it comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribution {
    pub start: usize,
    pub end: usize,
    pub source_id: String,
    pub score: f32,
    /// The composer's own framing (a digest's lead): no source behind it,
    /// and no fact of its own.
    pub framing: bool,
}

/// The composer's output.
#[derive(Clone, Debug, PartialEq)]
pub struct Composition {
    pub title: String,
    pub body: String,
    pub attributions: Vec<Attribution>,
    /// Every passage cited, in body order.
    pub sources: Vec<Passage>,
    /// Mean relevance of the picked sentences.
    pub relevance: f32,
    /// Highest similarity between two picked sentences (0 for one).
    pub redundancy: f32,
}

/// Tunables; the defaults are what the service runs.
#[derive(Clone, Debug)]
pub struct ComposerConfig {
    pub lambda: f32,
    pub max_similarity: f32,
    pub min_words: usize,
    pub max_words: usize,
    /// Sentences when no length is asked for, by format.
    pub article_sentences: usize,
    pub digest_sentences: usize,
    pub summary_sentences: usize,
    /// Reading speed for a length in seconds.
    pub words_per_minute: usize,
    /// At most this many sentences, whatever the length asked.
    pub max_sentences: usize,
    /// Candidates scored with the (possibly slow) relevance model; more are
    /// first narrowed by TF-IDF similarity to the query.
    pub max_candidates: usize,
    /// What a draft may quote from each source, by its licence: the same
    /// rules trust's `copyright.source` holds the draft to.
    pub licence: generec_licence::Policy,
}

impl Default for ComposerConfig {
    fn default() -> Self {
        ComposerConfig {
            lambda: 0.7,
            max_similarity: 0.8,
            min_words: 6,
            max_words: 60,
            article_sentences: 8,
            digest_sentences: 6,
            summary_sentences: 3,
            words_per_minute: 200,
            max_sentences: 40,
            max_candidates: 96,
            licence: generec_licence::Policy::default(),
        }
    }
}

/// Why nothing could be composed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ComposeError {
    #[error("no source documents to compose from")]
    NoSources,
    #[error("no usable sentence in the sources (all too short, too long or excluded)")]
    NoSentences,
    #[error("no sentence of the sources fits what their licences allow a draft to quote")]
    NothingWithinAllowance,
}

/// A tone fit in [0, 1] for one sentence.
pub type ToneFit<'a> = &'a (dyn Fn(&str) -> f32 + Sync);

/// What to compose and from what.
pub struct ComposeInput<'a> {
    pub guidance: &'a Guidance,
    pub instruction: &'a str,
    /// Texts of items the user liked (titles and openings).
    pub profile: &'a [String],
    pub docs: &'a [SourceDoc],
    /// How well a sentence fits the tone asked for, when one was.
    pub tone_fit: Option<ToneFit<'a>>,
}

struct Candidate {
    doc: usize,
    index: usize,
    text: String,
    relevance: f32,
}

/// The text the composer matches sentences against.
pub fn query_text(guidance: &Guidance, instruction: &str) -> String {
    if !guidance.fact_query.trim().is_empty() {
        return guidance.fact_query.clone();
    }
    if !guidance.include.is_empty() {
        return guidance
            .include
            .iter()
            .map(|t| t.topic.as_str())
            .collect::<Vec<_>>()
            .join(" ");
    }
    instruction.to_string()
}

/// Whether `text` mentions one of `topics` (stemmed term match).
pub fn mentions_any(text: &str, topics: &[String]) -> bool {
    if topics.is_empty() {
        return false;
    }
    let terms = text::terms(text);
    topics.iter().any(|topic| {
        let topic_terms = text::terms(topic);
        !topic_terms.is_empty() && topic_terms.iter().all(|t| terms.contains(t))
    })
}

/// Composes an item; see the module docs.
pub fn compose(
    input: &ComposeInput<'_>,
    scorer: &Scorer,
    config: &ComposerConfig,
) -> Result<Composition, ComposeError> {
    if input.docs.is_empty() {
        return Err(ComposeError::NoSources);
    }
    let excluded: Vec<String> = input
        .guidance
        .exclude
        .iter()
        .map(|t| t.topic.clone())
        .collect();
    let mut candidates = Vec::new();
    for (d, doc) in input.docs.iter().enumerate() {
        for (i, s) in sentences(&doc.body).into_iter().enumerate() {
            let words = word_count(&s.text);
            if words < config.min_words
                || words > config.max_words
                || s.text.ends_with('?')
                || !balanced_quotes(&s.text)
                || mentions_any(&s.text, &excluded)
                || (i == 0 && s.text == doc.title)
            {
                continue;
            }
            candidates.push(Candidate {
                doc: d,
                index: i,
                text: s.text,
                relevance: 0.0,
            });
        }
    }
    if candidates.is_empty() {
        return Err(ComposeError::NoSentences);
    }

    let query = query_text(input.guidance, input.instruction);
    if candidates.len() > config.max_candidates {
        // Narrow cheaply first: TF-IDF similarity to the query (and the
        // profile), with the documents' leads kept in the running.
        let mut batch: Vec<&str> = vec![query.as_str()];
        batch.extend(input.profile.iter().map(String::as_str));
        batch.extend(candidates.iter().map(|c| c.text.as_str()));
        let lexical = Scorer::lexical().vectors(&batch);
        let (head, rest) = lexical.split_at(1 + input.profile.len());
        let mut scored: Vec<(f32, Candidate)> = candidates
            .into_iter()
            .zip(rest)
            .map(|(c, v)| {
                let s = head.iter().map(|h| v.similarity(h)).fold(0.0f32, f32::max)
                    + if c.index < 3 { 0.1 } else { 0.0 };
                (s, c)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.truncate(config.max_candidates);
        candidates = scored.into_iter().map(|(_, c)| c).collect();
    }

    // One batch: the query, the profile texts, then every candidate.
    let mut batch: Vec<&str> = vec![query.as_str()];
    batch.extend(input.profile.iter().map(String::as_str));
    batch.extend(candidates.iter().map(|c| c.text.as_str()));
    let vectors = scorer.vectors(&batch);
    let Some((query_vec, rest)) = vectors.split_first() else {
        return Err(ComposeError::NoSentences);
    };
    let (profile_vecs, cand_vecs) = rest.split_at(input.profile.len());
    let max_score = input
        .docs
        .iter()
        .map(|d| d.score)
        .fold(0.0f32, f32::max)
        .max(f32::EPSILON);
    let has_query = !query.trim().is_empty();
    for (c, v) in candidates.iter_mut().zip(cand_vecs) {
        let q = if has_query {
            v.similarity(query_vec)
        } else {
            0.0
        };
        let p = profile_vecs
            .iter()
            .map(|pv| v.similarity(pv))
            .fold(0.0f32, f32::max);
        let prior = (input.docs[c.doc].score / max_score).clamp(0.0, 1.0);
        let lead = if c.index < 3 { 1.0 } else { 0.0 };
        let mut rel = 0.6 * q + 0.2 * p + 0.15 * prior + 0.05 * lead;
        if let Some(fit) = input.tone_fit {
            rel *= 0.6 + 0.4 * fit(&c.text).clamp(0.0, 1.0);
        }
        c.relevance = rel;
    }

    let allowance = quote_allowance(input, &candidates, config);
    let mut picked = select_mmr(&candidates, cand_vecs, input.guidance, config, &allowance);
    loop {
        if picked.is_empty() {
            return Err(ComposeError::NothingWithinAllowance);
        }
        let composition = assemble(input, &candidates, cand_vecs, &picked);
        // Sentences were charged one by one; a verbatim run can continue
        // across two of them in the assembled text. Measure the whole draft
        // as trust will, and drop the last sentence that quotes a document
        // it takes too much from.
        let text = format!("{}\n\n{}", composition.title, composition.body);
        let Some(over) = allowance.over(&text) else {
            return Ok(composition);
        };
        let Some(k) = picked
            .iter()
            .rposition(|&c| allowance.sentence[c][over] > 0 || candidates[c].doc == over)
        else {
            return Ok(composition);
        };
        picked.remove(k);
    }
}

/// Whether a sentence's quotation marks pair up. One that opens a quotation
/// another sentence closes is a fragment of it: quoted alone it misquotes,
/// and next to other sentences its marks pair with theirs.
fn balanced_quotes(text: &str) -> bool {
    let straight = text.chars().filter(|&c| c == '"').count();
    let open = text.chars().filter(|&c| c == '\u{201c}').count();
    let close = text.chars().filter(|&c| c == '\u{201d}').count();
    straight % 2 == 0 && open == close
}

/// The sentence or word budget for the guidance.
enum Budget {
    Sentences(usize),
    Words(usize),
}

fn budget(guidance: &Guidance, config: &ComposerConfig) -> Budget {
    let default = match guidance.format {
        Some(Format::Summary) => config.summary_sentences,
        Some(Format::Digest) => config.digest_sentences,
        _ => config.article_sentences,
    };
    match guidance.length {
        Some(l) if l.value > 0 => match l.unit {
            LengthUnit::Sentences => Budget::Sentences(l.value as usize),
            LengthUnit::Words => Budget::Words(l.value as usize),
            LengthUnit::Seconds => {
                Budget::Words((l.value as usize * config.words_per_minute).div_ceil(60))
            }
        },
        Some(l) if l.relative > 0.0 => {
            Budget::Sentences(((default as f32 * l.relative).round() as usize).max(1))
        }
        _ => Budget::Sentences(default),
    }
}

/// What the licence policy lets a draft quote: per source document, the
/// verbatim words allowed, and per candidate sentence (and per document's
/// heading, its title) the words it copies from *each* restricted document
/// (the same sentence, or part of it, may occur in several: near-duplicate
/// articles, shared wire copy), measured as trust's `copyright.source` does.
struct QuoteAllowance {
    limit: Vec<usize>,
    /// `sentence[c][d]`: words candidate `c` copies from document `d`.
    sentence: Vec<Vec<usize>>,
    /// `heading[h][d]`: words document `h`'s heading copies from `d`.
    heading: Vec<Vec<usize>>,
    /// Each restricted document's word runs.
    grams: Vec<Option<generec_licence::overlap::SourceGrams>>,
}

impl QuoteAllowance {
    /// Words picking candidate `c` adds per document (its heading too when
    /// its document has none yet).
    fn cost(&self, c: usize, doc: usize, headed: bool) -> impl Iterator<Item = usize> + '_ {
        let heading = (!headed).then(|| &self.heading[doc]);
        self.sentence[c]
            .iter()
            .enumerate()
            .map(move |(d, w)| w + heading.map_or(0, |h| h[d]))
    }

    /// A document an assembled draft copies more from than it allows.
    fn over(&self, text: &str) -> Option<usize> {
        let words = generec_licence::overlap::words(text);
        self.grams.iter().zip(&self.limit).position(|(g, limit)| {
            g.as_ref()
                .is_some_and(|g| g.overlap(&words).copied_words > *limit)
        })
    }

    fn fits(&self, quoted: &[usize], c: usize, doc: usize, headed: bool) -> bool {
        self.cost(c, doc, headed)
            .zip(quoted.iter().zip(&self.limit))
            .all(|(w, (q, limit))| w == 0 || q.saturating_add(w) <= *limit)
    }
}

fn quote_allowance(
    input: &ComposeInput<'_>,
    candidates: &[Candidate],
    config: &ComposerConfig,
) -> QuoteAllowance {
    use generec_licence::overlap::{SourceGrams, words};
    let min_run = config.licence.min_run_words;
    let limit: Vec<usize> = input
        .docs
        .iter()
        .map(|doc| {
            let rights = generec_licence::SourceRights {
                item_id: doc.item_id.clone(),
                licence: doc.licence.clone(),
                creator: doc.creator_id.clone(),
            };
            config.licence.apply(&rights).allowance.word_limit()
        })
        .collect();
    // Only documents with a finite allowance need measuring.
    let grams: Vec<Option<SourceGrams>> = input
        .docs
        .iter()
        .zip(&limit)
        .map(|(doc, l)| {
            (*l != usize::MAX)
                .then(|| SourceGrams::new(&words(&format!("{}\n{}", doc.title, doc.body)), min_run))
        })
        .collect();
    let charge = |text: &str| -> Vec<usize> {
        let w = words(text);
        grams
            .iter()
            .map(|g| g.as_ref().map_or(0, |g| g.overlap(&w).copied_words))
            .collect()
    };
    let sentence = candidates.iter().map(|c| charge(&c.text)).collect();
    let heading = input
        .docs
        .iter()
        .map(|doc| charge(doc.title.trim()))
        .collect();
    QuoteAllowance {
        limit,
        sentence,
        heading,
        grams,
    }
}

fn select_mmr(
    candidates: &[Candidate],
    vectors: &[Vector],
    guidance: &Guidance,
    config: &ComposerConfig,
    allowance: &QuoteAllowance,
) -> Vec<usize> {
    let budget = budget(guidance, config);
    // Verbatim words taken from each document so far, and whether each
    // document's heading is in the draft yet.
    let mut quoted = vec![0usize; allowance.limit.len()];
    let mut headed = vec![false; allowance.limit.len()];
    let mut picked: Vec<usize> = Vec::new();
    let mut max_sim = vec![0.0f32; candidates.len()];
    let mut used = vec![false; candidates.len()];
    let mut words = 0usize;
    loop {
        let done = match budget {
            Budget::Sentences(n) => picked.len() >= n.min(config.max_sentences),
            Budget::Words(n) => words >= n || picked.len() >= config.max_sentences,
        };
        if done {
            break;
        }
        let mut best: Option<(usize, f32)> = None;
        for (i, c) in candidates.iter().enumerate() {
            if used[i] || max_sim[i] > config.max_similarity {
                continue;
            }
            if !allowance.fits(&quoted, i, c.doc, headed[c.doc]) {
                continue;
            }
            if let Budget::Words(n) = budget {
                // Do not overshoot a word budget by more than half a sentence.
                let w = word_count(&c.text);
                if !picked.is_empty() && words + w > n + w / 2 {
                    continue;
                }
            }
            let mmr = config.lambda * c.relevance - (1.0 - config.lambda) * max_sim[i];
            if best.is_none_or(|(_, b)| mmr > b) {
                best = Some((i, mmr));
            }
        }
        let Some((i, _)) = best else { break };
        used[i] = true;
        picked.push(i);
        let doc = candidates[i].doc;
        for (q, w) in quoted.iter_mut().zip(allowance.cost(i, doc, headed[doc])) {
            *q += w;
        }
        headed[doc] = true;
        words += word_count(&candidates[i].text);
        for (j, v) in vectors.iter().enumerate() {
            if !used[j] {
                max_sim[j] = max_sim[j].max(v.similarity(&vectors[i]));
            }
        }
    }
    picked
}

fn assemble(
    input: &ComposeInput<'_>,
    candidates: &[Candidate],
    vectors: &[Vector],
    picked: &[usize],
) -> Composition {
    // Group by document; order sections by their best sentence.
    let mut by_doc: HashMap<usize, Vec<usize>> = HashMap::new();
    for &i in picked {
        by_doc.entry(candidates[i].doc).or_default().push(i);
    }
    let mut sections: Vec<(usize, Vec<usize>)> = by_doc.into_iter().collect();
    let best = |idx: &[usize]| {
        idx.iter()
            .map(|&i| candidates[i].relevance)
            .fold(0.0f32, f32::max)
    };
    sections.sort_by(|a, b| best(&b.1).total_cmp(&best(&a.1)).then(a.0.cmp(&b.0)));
    for (_, idx) in &mut sections {
        idx.sort_by_key(|&i| candidates[i].index);
    }

    let headed = !matches!(input.guidance.format, Some(Format::Summary));
    let mut body = String::new();
    let mut attributions = Vec::new();
    let mut sources = Vec::new();
    if let Some(lead) = lead(input, candidates, picked, sections.len()) {
        body.push_str(&lead);
        attributions.push(Attribution {
            start: 0,
            end: body.len(),
            source_id: String::new(),
            score: 0.0,
            framing: true,
        });
    }
    let mut push = |body: &mut String, text: &str, id: String, item: &str, score: f32| {
        let start = body.len();
        body.push_str(text);
        attributions.push(Attribution {
            start,
            end: body.len(),
            source_id: id.clone(),
            score,
            framing: false,
        });
        sources.push(Passage {
            id,
            item_id: item.to_string(),
            text: text.to_string(),
        });
    };
    for (d, idx) in &sections {
        let doc = &input.docs[*d];
        if !body.is_empty() {
            body.push_str("\n\n");
        }
        if headed && !doc.title.trim().is_empty() {
            push(
                &mut body,
                doc.title.trim(),
                format!("{}#title", doc.item_id),
                &doc.item_id,
                best(idx),
            );
            body.push_str("\n\n");
        }
        for (k, &i) in idx.iter().enumerate() {
            if k > 0 {
                body.push(' ');
            }
            let c = &candidates[i];
            push(
                &mut body,
                &c.text,
                format!("{}#{}", doc.item_id, c.index),
                &doc.item_id,
                c.relevance,
            );
        }
    }
    // A summary has no headings: it names its sources at the end, by title.
    if !headed {
        for (d, _) in &sections {
            let doc = &input.docs[*d];
            if doc.title.trim().is_empty() {
                continue;
            }
            body.push_str("\n\nSource: ");
            push(
                &mut body,
                doc.title.trim(),
                format!("{}#title", doc.item_id),
                &doc.item_id,
                0.0,
            );
            body.push('.');
        }
    }

    let relevance = if picked.is_empty() {
        0.0
    } else {
        picked.iter().map(|&i| candidates[i].relevance).sum::<f32>() / picked.len() as f32
    };
    let mut redundancy = 0.0f32;
    for (a, &i) in picked.iter().enumerate() {
        for &j in &picked[a + 1..] {
            redundancy = redundancy.max(vectors[i].similarity(&vectors[j]));
        }
    }
    Composition {
        title: title(input),
        body,
        attributions,
        sources,
        relevance,
        redundancy,
    }
}

/// A digest's lead, in the composer's own words: what it covers and how it
/// is laid out. It states no fact: the topics named are those the picked
/// sentences or their sources' titles mention, the period is the one asked
/// for, and there are no numbers. Only digests, and articles made from
/// more than one source, get one.
fn lead(
    input: &ComposeInput<'_>,
    candidates: &[Candidate],
    picked: &[usize],
    sections: usize,
) -> Option<String> {
    let what = match input.guidance.format {
        Some(Format::Digest) if sections > 0 => "This digest brings together passages",
        Some(Format::Article) | None if sections > 1 => "This piece draws on passages",
        _ => return None,
    };
    let covered: Vec<String> = input
        .guidance
        .include
        .iter()
        .map(|t| t.topic.trim().to_string())
        .filter(|t| {
            let one = [t.clone()];
            !t.is_empty()
                && (picked
                    .iter()
                    .any(|&i| mentions_any(&candidates[i].text, &one))
                    || input.docs.iter().any(|d| mentions_any(&d.title, &one)))
        })
        .collect();
    let about = match covered.len() {
        0 => String::new(),
        1 => format!(" on {}", proper_case(&covered[0], input.docs)),
        n => format!(
            " on {} and {}",
            proper_case(&covered[..n - 1].join(", "), input.docs),
            proper_case(&covered[n - 1], input.docs)
        ),
    };
    Some(format!(
        "{what}{about}{}, each under the title of its source.",
        period(input.guidance)
    ))
}

/// " today", " this week" or " this month" for the recency asked for.
fn period(g: &Guidance) -> &'static str {
    match g.recency_days {
        1 => " today",
        2..=7 => " this week",
        8..=31 => " this month",
        _ => "",
    }
}

fn title(input: &ComposeInput<'_>) -> String {
    let g = input.guidance;
    let mut subject = if !g.include.is_empty() {
        g.include
            .iter()
            .map(|t| t.topic.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    } else if !g.fact_query.trim().is_empty() {
        g.fact_query.trim().to_string()
    } else {
        "your feed".to_string()
    };
    subject = proper_case(&subject, input.docs);
    if let Some(first) = subject.get(..1) {
        subject = first.to_uppercase() + &subject[1..];
    }
    let when = period(g);
    match g.format {
        Some(Format::Digest) => format!("{subject}{when}: a digest"),
        Some(Format::Summary) => format!("{subject}{when}: a summary"),
        _ => format!("{subject}{when}"),
    }
}

/// Restores the capitals of the names in a lower-cased subject
/// ("elizabeth bennet darcy" -> "Elizabeth Bennet Darcy"): a word is
/// capitalised when the source bodies write it capitalised, in the middle
/// of a sentence, more often than in lower case.
fn proper_case(subject: &str, docs: &[SourceDoc]) -> String {
    let mut counts: HashMap<String, (usize, usize)> = subject
        .split_whitespace()
        .map(|w| (w.to_lowercase(), (0, 0)))
        .collect();
    for doc in docs {
        let mut sentence_start = true;
        for token in doc.body.split_whitespace() {
            let word = token.trim_matches(|c: char| !c.is_alphanumeric());
            if let Some(n) = counts.get_mut(&word.to_lowercase()) {
                if word.chars().next().is_some_and(char::is_uppercase) {
                    if !sentence_start {
                        n.0 += 1;
                    }
                } else {
                    n.1 += 1;
                }
            }
            sentence_start = token.ends_with(['.', '!', '?', ':', '"']);
        }
    }
    subject
        .split_whitespace()
        .map(|w| match counts.get(&w.to_lowercase()) {
            Some(&(upper, lower)) if upper > lower && w.chars().all(char::is_lowercase) => {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            }
            _ => w.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guidance::{Length, TopicWeight};

    fn docs() -> Vec<SourceDoc> {
        vec![
            SourceDoc {
                item_id: "b1".into(),
                title: "Markets rally on rate hopes".into(),
                body: "Stock markets rallied on Monday as investors bet on lower interest rates. \
                       The FTSE 100 rose 1.2% to close at a record high. \
                       Bank shares led the gains after strong quarterly results. \
                       Analysts said the rally could fade if inflation data disappoints. \
                       The football club also said it would build a new stadium soon."
                    .into(),
                tags: vec!["business".into()],
                score: 2.0,
                licence: "CC-BY-4.0".into(),
                creator_id: "newsdesk".into(),
            },
            SourceDoc {
                item_id: "b2".into(),
                title: "Oil prices slip".into(),
                body: "Oil prices slipped for a third day as supply concerns eased in markets. \
                       Brent crude fell 2% to $80 a barrel in London trading. \
                       Stock markets rallied on Monday as investors bet on lower interest rates."
                    .into(),
                tags: vec!["business".into()],
                score: 1.0,
                licence: "CC-BY-4.0".into(),
                creator_id: "newsdesk".into(),
            },
        ]
    }

    fn guidance(sentences: u32) -> Guidance {
        Guidance {
            include: vec![TopicWeight {
                topic: "markets".into(),
                weight: 1.0,
            }],
            exclude: vec![TopicWeight {
                topic: "football".into(),
                weight: 1.0,
            }],
            length: Some(Length {
                unit: LengthUnit::Sentences,
                value: sentences,
                relative: 0.0,
            }),
            format: Some(Format::Digest),
            fact_query: "stock markets interest rates".into(),
            ..Guidance::default()
        }
    }

    #[test]
    fn every_sentence_is_a_source_sentence_with_its_span() {
        let docs = docs();
        let g = guidance(3);
        let input = ComposeInput {
            guidance: &g,
            instruction: "",
            profile: &[],
            docs: &docs,
            tone_fit: None,
        };
        let c = compose(&input, &Scorer::lexical(), &ComposerConfig::default()).unwrap();
        let body_sentences: Vec<_> = c
            .attributions
            .iter()
            .filter(|a| !a.framing && !a.source_id.ends_with("#title"))
            .collect();
        assert_eq!(body_sentences.len(), 3);
        for a in c.attributions.iter().filter(|a| !a.framing) {
            let text = &c.body[a.start..a.end];
            let passage = c.sources.iter().find(|p| p.id == a.source_id).unwrap();
            assert_eq!(text, passage.text);
            let doc = docs.iter().find(|d| d.item_id == passage.item_id).unwrap();
            assert!(doc.body.contains(text) || doc.title == text);
        }
    }

    #[test]
    fn sentences_that_split_a_quotation_are_not_used() {
        assert!(balanced_quotes("He said \"yes\" twice."));
        assert!(!balanced_quotes(
            "He said: \"You've got to bring back school sport."
        ));
        assert!(!balanced_quotes("\u{201c}It is over, he said."));
        let docs = vec![SourceDoc {
            item_id: "q".into(),
            title: "School sport is back".into(),
            body: "He said: \"You've got to bring back school sport. Schools should play more matches,\" he said. \
                   The minister announced new funding for school sport clubs across the country."
                .into(),
            licence: "CC-BY-4.0".into(),
            ..SourceDoc::default()
        }];
        let g = guidance(3);
        let input = ComposeInput {
            guidance: &g,
            instruction: "",
            profile: &[],
            docs: &docs,
            tone_fit: None,
        };
        let c = compose(&input, &Scorer::lexical(), &ComposerConfig::default()).unwrap();
        assert!(!c.body.contains('"'), "{}", c.body);
        assert!(c.body.contains("The minister announced"));
    }

    #[test]
    fn restricted_sources_give_no_more_than_their_allowance() {
        let mut docs = docs();
        for d in &mut docs {
            d.licence = "all-rights-reserved".into();
        }
        let g = guidance(6);
        let input = ComposeInput {
            guidance: &g,
            instruction: "",
            profile: &[],
            docs: &docs,
            tone_fit: None,
        };
        let config = ComposerConfig::default();
        let c = compose(&input, &Scorer::lexical(), &config).unwrap();
        let policy = &config.licence;
        let sources: Vec<generec_licence::Source> = docs
            .iter()
            .map(|d| generec_licence::Source {
                rights: generec_licence::SourceRights {
                    item_id: d.item_id.clone(),
                    licence: d.licence.clone(),
                    creator: d.creator_id.clone(),
                },
                title: d.title.clone(),
                text: format!("{}\n{}", d.title, d.body),
            })
            .collect();
        let a = generec_licence::assess(policy, &format!("{}\n{}", c.title, c.body), &sources, &[]);
        for u in &a.sources {
            assert!(u.copied_words <= 40, "{u:?}\n{}", c.body);
            assert_eq!(u.excess_words(), 0);
            assert!(!u.missing_attribution(), "{u:?}");
        }
        // The same documents under CC-BY give the full six sentences.
        let open = compose(
            &ComposeInput {
                docs: &super::tests::docs(),
                ..input
            },
            &Scorer::lexical(),
            &config,
        )
        .unwrap();
        assert!(open.body.len() > c.body.len());
        // Nothing fits an allowance of three words.
        let mut tight = ComposerConfig::default();
        tight.licence.allow.insert(
            generec_licence::Class::Reserved,
            generec_licence::Allowance {
                use_: generec_licence::Use::Quote,
                max_words: 3,
                attribution: true,
            },
        );
        assert_eq!(
            compose(&input, &Scorer::lexical(), &tight),
            Err(ComposeError::NothingWithinAllowance)
        );
    }

    #[test]
    fn duplicates_and_excluded_topics_are_left_out() {
        let docs = docs();
        let g = guidance(5);
        let input = ComposeInput {
            guidance: &g,
            instruction: "",
            profile: &[],
            docs: &docs,
            tone_fit: None,
        };
        let c = compose(&input, &Scorer::lexical(), &ComposerConfig::default()).unwrap();
        assert_eq!(c.body.matches("Stock markets rallied on Monday").count(), 1);
        assert!(!c.body.contains("football"));
        assert!(c.redundancy < 0.8);
    }

    #[test]
    fn a_word_budget_is_met_without_large_overshoot() {
        let docs = docs();
        let mut g = guidance(0);
        g.length = Some(Length {
            unit: LengthUnit::Words,
            value: 30,
            relative: 0.0,
        });
        let input = ComposeInput {
            guidance: &g,
            instruction: "",
            profile: &[],
            docs: &docs,
            tone_fit: None,
        };
        let c = compose(&input, &Scorer::lexical(), &ComposerConfig::default()).unwrap();
        let words: usize = c
            .attributions
            .iter()
            .filter(|a| !a.framing && !a.source_id.ends_with("#title"))
            .map(|a| word_count(&c.body[a.start..a.end]))
            .sum();
        assert!((25..=45).contains(&words), "{words} words");
    }

    #[test]
    fn narrowing_keeps_the_sentences_closest_to_the_query() {
        let docs = docs();
        let g = guidance(2);
        let input = ComposeInput {
            guidance: &g,
            instruction: "",
            profile: &[],
            docs: &docs,
            tone_fit: None,
        };
        let config = ComposerConfig {
            max_candidates: 2,
            ..ComposerConfig::default()
        };
        let c = compose(&input, &Scorer::lexical(), &config).unwrap();
        assert!(c.body.contains("Stock markets rallied"), "{}", c.body);
        assert!(!c.body.contains("Brent crude"), "{}", c.body);
    }

    #[test]
    fn no_documents_is_an_error() {
        let g = guidance(3);
        let input = ComposeInput {
            guidance: &g,
            instruction: "",
            profile: &[],
            docs: &[],
            tone_fit: None,
        };
        assert_eq!(
            compose(&input, &Scorer::lexical(), &ComposerConfig::default()),
            Err(ComposeError::NoSources)
        );
    }

    #[test]
    fn the_title_names_format_topic_and_period() {
        let docs = docs();
        let mut g = guidance(2);
        g.recency_days = 7;
        let input = ComposeInput {
            guidance: &g,
            instruction: "",
            profile: &[],
            docs: &docs,
            tone_fit: None,
        };
        let c = compose(&input, &Scorer::lexical(), &ComposerConfig::default()).unwrap();
        assert_eq!(c.title, "Markets this week: a digest");
        // The lead says what the digest covers, in the composer's words,
        // and is marked as framing: no source, no numbers.
        let framing: Vec<_> = c.attributions.iter().filter(|a| a.framing).collect();
        assert_eq!(framing.len(), 1, "{:?}", c.attributions);
        assert_eq!(framing[0].start, 0);
        assert!(framing[0].source_id.is_empty());
        let lead = &c.body[framing[0].start..framing[0].end];
        assert_eq!(
            lead,
            "This digest brings together passages on markets this week, each under the title of its source."
        );
        assert!(c.body[framing[0].end..].starts_with("\n\n"));
        assert!(!c.sources.iter().any(|p| p.text == lead));
        // A summary has no lead.
        g.format = Some(Format::Summary);
        let input = ComposeInput {
            guidance: &g,
            instruction: "",
            profile: &[],
            docs: &docs,
            tone_fit: None,
        };
        let c = compose(&input, &Scorer::lexical(), &ComposerConfig::default()).unwrap();
        assert!(c.attributions.iter().all(|a| !a.framing));
    }

    #[test]
    fn names_in_the_title_keep_the_capitals_the_sources_give_them() {
        let docs = vec![SourceDoc {
            item_id: "pp-1".into(),
            title: "Chapter 1".into(),
            body: "Elizabeth walked to Netherfield. Mr. Darcy looked at Elizabeth Bennet. \
                   The walk was muddy, and Darcy said nothing of the walk."
                .into(),
            ..SourceDoc::default()
        }];
        assert_eq!(
            proper_case("elizabeth bennet darcy walk", &docs),
            "Elizabeth Bennet Darcy walk"
        );
        assert_eq!(proper_case("markets", &docs), "markets");
    }
}
