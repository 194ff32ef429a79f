//! The instructor: reads what a user said and how they reacted in this
//! session, and returns [`Guidance`] (what they asked for) plus a
//! [`Decision`] (retrieve only, edit an item, or create one).
//!
//! It is pure rule-based Rust: no I/O, no model, and no panics on any input.
//! An instruction longer than [`InstructorConfig::max_instruction_bytes`] is
//! cut at a character boundary (refusing it is the caller's job).
//!
//! # Reading an instruction
//!
//! The instruction is split into lower-case tokens (hyphens split words,
//! "tl;dr" is one token, a possessive "'s" is dropped and remembered).
//! `, : ( ) "` and spaced dashes end a *segment*; `. ! ? ;` and new lines end
//! a *sentence*. A token of five letters or more that is not a known word is
//! corrected to a keyword at Damerau-Levenshtein distance 1 ("politcs",
//! "footbal", "shoter", "sumarise", "calmr", "technolgy"); capitalised words
//! inside a sentence (names) and plain inflections ("officials") are not.
//! Then the longest known phrase at each position wins, so "no more" is a
//! negation and not "more", "a bit shorter" a length and not a hedge, and
//! "less than 50 words" a length and not a negation.
//!
//! ## Topics
//!
//! Topics are phrases as the user said them: topic words and content words
//! said next to each other form one phrase ("electric cars", "interest
//! rates", "women's football", "bank of england" across of/de, "e-scooters"
//! across a hyphen); fillers, markers and "and"/"or" end a phrase. A wanted
//! phrase counts when it has a known topic word or was said as a request (in
//! a clause with a marker, a format, a verb, a length or a date, or as a bare
//! noun phrase); a refused one always counts. [`Guidance::include`] and
//! [`Guidance::exclude`] hold the phrases; the catalogue categories their
//! known words map to go to [`Guidance::include_categories`] and
//! [`Guidance::exclude_categories`], a secondary field:
//!
//! | category | said as |
//! |---|---|
//! | `tech` | tech, technology, gadgets, computers, software, internet, AI, smartphones, apps, gaming, robots, ... |
//! | `business` | business, markets, stocks, shares, economy, finance, money, trade, banks, inflation, interest rates, investing, companies, crypto, ... |
//! | `entertainment` | entertainment, films, movies, cinema, music, celebrity, celebs, showbiz, TV, Hollywood, the Oscars, theatre, the arts, gossip, ... |
//! | `politics` | politics, political, politicians, elections, government, parliament, Westminster, prime minister, MPs, voting, Congress, ... |
//! | `sport` | sport, sports, sporting, athletes |
//!
//! and the sports (`football`, `rugby`, `tennis`, `cricket`, `golf`,
//! `formula one`, ...), `brexit`, `science`, `health`, `climate`,
//! `weather`, `travel`, `food`, `crime`, `royals`, `education`, `world` and
//! `fashion`. A topic word that no candidate holds is corrected to the one
//! candidate word one edit away ("vacines" when an item says "vaccines").
//! The fact query is the wanted phrases in order, then their categories
//! ("a digest of this week's markets" gives "markets business").
//!
//! Text-speak is expanded first (`lexicons/text_speak.tsv`: "moar", "pls",
//! "gimme"). The phrase tables are data files: `lexicons/instructor.tsv`
//! (topic words and their categories, tones, markers, lengths, formats,
//! references, recency) and `lexicons/phrases.tsv` (more of the same),
//! with `lexicons/fillers.txt` and `lexicons/protected.txt`.
//!
//! ## Wanting and refusing
//!
//! Markers set the polarity of what follows them, until the next marker, a
//! "but", or the end of the sentence; a comma keeps it ("no sport, politics
//! or celebrity stuff" refuses all three):
//!
//! - refuse, weight 1: no, not, none, nothing (about), never, without, no
//!   more, no longer, stop (showing me), don't show/want/like, can't stand,
//!   hate, skip, avoid, hide, mute, except, anything but, instead of, rather
//!   than, enough (of), sick/tired/fed up of, not interested in, not in the
//!   mood for, ...
//! - turn down, weight 0.9: much/a lot/way/far less, way/far/much fewer.
//! - turn down, weight 0.5: less, fewer, too much, not so much, a bit less.
//! - want, weight 1: more, much/a lot/way more, lots/loads/plenty of, I want,
//!   give me, show me, only, just, mostly, I like/love, I'd like, prefer,
//!   interested in, in the mood for, how about, ...
//! - want, weight 0.5 (hedges): a bit of, a little (more), some, a touch of,
//!   a few, slightly more, occasionally, maybe some, don't mind.
//! - after the fact: "X please", "X instead", "X is fine" turn an X that
//!   inherited a refusal across a comma into a want; "X? no thanks" refuses X.
//!
//! With no marker a topic is wanted ("tech news"). A refusal marker right
//! before a tone or length word negates that word instead ("less stressful",
//! "not so serious", "nothing depressing", "not too long").
//!
//! ## Tone
//!
//! - calm: calm(er), relaxing, chill(ed), soothing, gentle(r), peaceful,
//!   quiet(er), mellow, light(er), low key, tone (it) down; and a refused or
//!   "too" stressful / intense / scary / alarming / dramatic / heavy.
//! - upbeat: upbeat, happy/happier, cheerful, positive, good news, uplifting,
//!   optimistic, hopeful, feel-good, heartwarming, wholesome; and a refused
//!   or "too" depressing / gloomy / negative / dark / grim / sad / bleak /
//!   bad news.
//! - serious: serious, sober, hard news, no jokes; and a refused funny/silly.
//! - formal: formal, professional, businesslike; and a refused casual.
//! - casual: casual, informal, conversational, chatty, laid-back, plain
//!   English, simple(r), simplify, friendly, explain like I'm five, no jargon;
//!   and a refused serious/formal/technical/stuffy ("not so serious").
//! - playful: playful, funny, funnier, humorous, witty, light-hearted, make
//!   me laugh, tongue in cheek, silly, cheeky, fun, amusing, entertaining.
//! - neutral: neutral, balanced, unbiased, impartial, objective, both sides,
//!   just the facts, no spin; and a refused biased/partisan/one-sided.
//!
//! The first tone named wins.
//!
//! ## Length
//!
//! - absolute: a count and a unit. Counts are digits, number words (one to
//!   twenty, the tens, hundred, thousand, combined: "twenty five", "two
//!   hundred"), "a couple of" (2), "a few" (3), "a dozen" (12), "a"/"an"/
//!   "single" (1, only for sentences, lines, paragraphs and bullet points),
//!   "half a/an" (minutes, hours). Units: sentence(s), line(s), bullet
//!   point(s), point(s) (sentences), paragraph(s) (4 sentences each),
//!   word(s), and minute(s)/min, second(s)/sec, hour(s) (all [`LengthUnit::Seconds`]).
//!   "under/less than/no more than/at most/about/in" before and "or less",
//!   "long", "max" after are read with it; "a one-liner" is 1 sentence and
//!   "a tweet" 50 words.
//! - relative (unit [`LengthUnit::Words`], value 0): shorter, short, shorten,
//!   condense, trim, too long, concise: 0.5; a bit/slightly shorter: 0.75;
//!   much/a lot/way shorter: 0.3; tl;dr, brief(ly), quick, in short, in a
//!   nutshell: 0.3 (a factor, also when a new item is made: the creator
//!   applies it to its default length); longer, more detail, in depth,
//!   expand, elaborate, too short: 1.5; a bit longer: 1.25; much longer,
//!   twice as long: 2.
//! - an absolute length wins over a relative one; otherwise the first wins.
//!
//! ## Format
//!
//! digest (digest, roundup, round-up, briefing, catch me up, what did I
//! miss, rundown, wrap-up, newsletter, bulletin, brief me; "recap" unless it
//! is "recap this"), summary (summary, summarise/summarize, sum up, tl;dr,
//! gist, in a nutshell, synopsis, overview, key points, "recap this"), clip
//! (clip, highlight(s), the part/bit about, the part/bit where, excerpt,
//! snippet, best bits), thumbnail (thumbnail, cover image/picture/photo/art,
//! preview image, still image, key frame, pick an image/frame), article
//! (article, explainer, essay, blog post; story/piece/post/report after a
//! creation verb; "explain"). When several are named: clip, thumbnail,
//! digest, article (as a noun), summary, explain.
//!
//! ## Recency
//!
//! today's / tonight's / this morning / last night / breaking: 1 day;
//! yesterday: 2; this weekend: 3; this week('s) / past or last week /
//! weekly: 7; this month / monthly: 30; this year: 365; "the last N
//! days/weeks/months/hours". A plain "today" or "tonight" counts only when it qualifies
//! news: with a news word (news, headlines, stories, happened, updates,
//! results), a digest or summary, or a topic or content word ("what's
//! happening in parliament today"); "something calmer today" is a mood, not
//! a date. A recency inside a refusal ("not in the mood for politics
//! today") is ignored. The shortest recency named wins.
//!
//! ## Imitation
//!
//! "in the style of X", "in the voice/manner/spirit of X", "as if written by
//! X", "as if X wrote it", "as told by X", "pretend you're X", "imitate X",
//! "in X's style", "like a/an/the X" and "write/talk/sound like X" set
//! [`Guidance::imitate`] to X as written (case kept: "Shakespeare", "a
//! pirate"). "like this/that/it" is a reference to the current item, never
//! an imitation ("like this but funnier" is a playful edit), and so are
//! "stuff like football" (a topic) and "something like a digest".
//!
//! # Deciding
//!
//! In this order:
//!
//! 1. **Explicit request** (trigger [`Trigger::ExplicitRequest`]).
//!    - An *edit*: the instruction refers to the current item ("this", "it",
//!      "that" after a verb, "this article", "the part about", "like this")
//!      and asks for a change (a tone, length, format or imitation, and no
//!      "something"/"stuff"/"articles" that would make it a request for other
//!      items) or uses an edit verb (rewrite, rephrase, make it, turn this
//!      into, cut, condense, shorten, expand, simplify, ...); or, without a
//!      reference, it uses an edit verb, asks for a summary, a clip, a
//!      thumbnail or an imitation, or asks for a comparative length with no
//!      "something/articles" ("shorter please"). The target is the context
//!      item when the instruction refers to it or names no topic (else the
//!      top candidate; for a clip the first timed candidate); when it names
//!      topics without a reference, the most relevant candidate if its
//!      relevance reaches `min_relevance`. A summary with a recency and no
//!      reference ("summarise this week's markets") spans several items and
//!      is a creation, and so is one of news, stories or headlines
//!      ("summarise the top stories"). With no target a summary, digest, article or restyle
//!      becomes [`Action::Create`]; a clip or thumbnail becomes
//!      [`Action::Retrieve`] with an explanation, still with this trigger.
//!    - A *creation*: a creation verb (write, compose, draft, create,
//!      generate, make me, make a, put together, whip up, ...), a digest, or
//!      "explain" without a reference ⇒ [`Action::Create`]; but a clip or a
//!      thumbnail is always an edit ("make a highlight reel of the match").
//! 2. **Rejection streak** (trigger [`Trigger::RejectionStreak`]): counting
//!    back from the newest feedback, at least `rejection_streak` rejections
//!    (skip, dislike) before any engagement (click, like, complete, share);
//!    impressions neither count nor break the streak. ⇒ [`Action::Create`].
//!    The rejected items' topics are not known from their ids, so the
//!    guidance is not changed.
//! 3. **No relevant candidate** (trigger [`Trigger::NoRelevantCandidate`]):
//!    the instruction wants topics or content (a non-empty include list or
//!    fact query) and no candidate reaches `min_relevance` by words nor
//!    `min_similarity` by meaning (or there are no candidates) ⇒
//!    [`Action::Create`].
//!
//! An edit needs an item in view: without a context item a change of tone
//! or length is a preference for the feed (retrieve) and a summary, digest
//! or imitation a creation; a clip or thumbnail still picks a timed
//! candidate. With an item in view an absolute length or a summary alone
//! ("three bullet points please") edits it. "Something like this about X"
//! creates in the style of the item in view ([`Guidance::imitate`] is its
//! id).
//! 4. Otherwise [`Action::Retrieve`] with [`Trigger::None`]; an empty
//!    instruction with no streak is always this.
//!
//! [`Guidance::target_item`] is set only for an edit. The explanation is one
//! line ("You asked for a shorter version of item bbc-tech-012, so it will be
//! condensed to about 3 sentences.").
//!
//! # Relevance
//!
//! Lexical, in [0, 1]: each wanted phrase (by its weight) and each fact
//! query term not already covered scores 1 when found in the candidate: a
//! tag equal to it, or all its stemmed terms among those of the title, tags
//! and text (for a category named as such, "tech", any of its synonyms); a
//! share of its terms found scores half that share; a specific sport scores
//! 0.15 for a `sport` tag, below the default `min_relevance`. The score is
//! the weighted share found (1 when nothing is wanted); each refused phrase
//! found then multiplies it by `1 - 0.5 * weight`.
//!
//! By meaning, with an embedding model ([`Instructor::with_embedding`]):
//! when no candidate reaches `min_relevance` by words, the wanted phrases
//! are embedded and compared with each candidate's title and text; a cosine
//! of at least `min_similarity` serves the request by retrieval. Candidate
//! vectors are cached by id and a hash of their text, so a request embeds its own words and
//! the candidates it has not met.
//!
//! # Knowingly not handled
//!
//! Sarcasm, questions about the platform, conditionals ("if there is no
//! football, then tennis"), a contrast after a comma without a marker ("not
//! politics, tech" refuses both; "not politics, tech please" does not),
//! decimal counts ("1.5 minutes"), relative dates other than those above,
//! and pronouns that refer to topics ("more of that" is not a topic).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use crate::guidance::{
    Action, Candidate, Decision, FeedbackKind, FeedbackSignal, Format, Guidance, InterpretInput,
    Interpretation, Length, LengthUnit, Tone, TopicWeight, Trigger,
};
use crate::relevance::Embed;
use crate::text;

/// Settings of the instructor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstructorConfig {
    /// How many rejections in a row (with no engagement since) make a new
    /// item. 0 turns the rule off.
    pub rejection_streak: u32,
    /// The relevance in [0, 1] the best candidate must reach for retrieval
    /// to serve a request for topics or content.
    pub min_relevance: f32,
    /// The longest instruction read, in bytes; the rest is ignored.
    pub max_instruction_bytes: usize,
    /// With sentence embeddings: the cosine between what was asked and a
    /// candidate's title and text at which the candidate serves the request
    /// though their words differ ("fishing" and "fishermen"). Chosen on the
    /// dev set (see docs/BENCHMARKS.md).
    pub min_similarity: f32,
}

impl Default for InstructorConfig {
    fn default() -> Self {
        InstructorConfig {
            rejection_streak: 3,
            min_relevance: 0.2,
            max_instruction_bytes: 4096,
            min_similarity: 0.5,
        }
    }
}

impl InstructorConfig {
    /// Checks the settings: a streak of 1 to 1000, a finite relevance in
    /// [0, 1], and an instruction limit of 1 byte to 1 MiB.
    pub fn validate(&self) -> Result<(), String> {
        if self.rejection_streak == 0 || self.rejection_streak > 1000 {
            return Err(format!(
                "rejection_streak must be between 1 and 1000, not {}",
                self.rejection_streak
            ));
        }
        if !self.min_relevance.is_finite() || !(0.0..=1.0).contains(&self.min_relevance) {
            return Err(format!(
                "min_relevance must be a number in [0, 1], not {}",
                self.min_relevance
            ));
        }
        if !self.min_similarity.is_finite() || !(0.0..=1.0).contains(&self.min_similarity) {
            return Err(format!(
                "min_similarity must be a number in [0, 1], not {}",
                self.min_similarity
            ));
        }
        if self.max_instruction_bytes == 0 || self.max_instruction_bytes > 1 << 20 {
            return Err(format!(
                "max_instruction_bytes must be between 1 and {}, not {}",
                1 << 20,
                self.max_instruction_bytes
            ));
        }
        Ok(())
    }
}

/// Reads instructions and feedback into guidance and a decision.
#[derive(Clone)]
pub struct Instructor {
    config: InstructorConfig,
    lex: &'static Lexicon,
    meaning: Option<Meaning>,
}

/// Most candidate vectors kept between requests.
const MAX_CACHED_VECTORS: usize = 4096;

/// Candidate vectors by item id and a hash of the text embedded.
type VectorCache = Arc<Mutex<HashMap<(String, u64), Arc<Vec<f32>>>>>;

/// Relevance by meaning: an embedding model and the vectors of candidates
/// seen before (by id and a hash of their text), so a request embeds what was asked and
/// only the candidates it has not met.
#[derive(Clone)]
struct Meaning {
    embed: Arc<dyn Embed>,
    cache: VectorCache,
}

impl Meaning {
    /// The best cosine between `asked` and the candidates; `None` when the
    /// model fails (relevance then stays lexical).
    fn best(&self, asked: &str, cands: &[Candidate]) -> Option<(usize, f32)> {
        use std::hash::{Hash, Hasher};
        let texts_of: Vec<String> = cands
            .iter()
            .map(|c| format!("{}. {}", c.title, c.text))
            .collect();
        let keys: Vec<(String, u64)> = cands
            .iter()
            .zip(&texts_of)
            .map(|(c, t)| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                t.hash(&mut h);
                (c.item_id.clone(), h.finish())
            })
            .collect();
        let mut vectors: Vec<Option<Arc<Vec<f32>>>> = {
            let cache = self.cache.lock().ok()?;
            keys.iter().map(|k| cache.get(k).cloned()).collect()
        };
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| vectors[i].is_none()).collect();
        let mut texts: Vec<&str> = vec![asked];
        texts.extend(missing.iter().map(|&i| texts_of[i].as_str()));
        let mut out = self.embed.embed(&texts).ok()?.into_iter();
        let query = out.next()?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() + missing.len() > MAX_CACHED_VECTORS {
                cache.clear();
            }
            for (&i, v) in missing.iter().zip(out) {
                let v = Arc::new(v);
                cache.insert(keys[i].clone(), v.clone());
                vectors[i] = Some(v);
            }
        }
        vectors
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let v = v.as_ref()?;
                Some((
                    i,
                    query.iter().zip(v.iter()).map(|(a, b)| a * b).sum::<f32>(),
                ))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

impl std::fmt::Debug for Instructor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instructor")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for Instructor {
    fn default() -> Self {
        Instructor::new(InstructorConfig::default())
    }
}

impl Instructor {
    /// An instructor with these settings (not validated here: see
    /// [`InstructorConfig::validate`]; odd values never panic).
    pub fn new(config: InstructorConfig) -> Self {
        static LEX: OnceLock<Lexicon> = OnceLock::new();
        Instructor {
            config,
            lex: LEX.get_or_init(Lexicon::build),
            meaning: None,
        }
    }

    /// The same instructor, judging relevance by meaning with `embed` where
    /// words alone find no candidate (see [`InstructorConfig::min_similarity`]).
    pub fn with_embedding(mut self, embed: Arc<dyn Embed>) -> Self {
        self.meaning = Some(Meaning {
            embed,
            cache: Arc::default(),
        });
        self
    }

    /// The embedding model's name, when relevance is judged by meaning.
    pub fn embedding(&self) -> Option<&str> {
        self.meaning.as_ref().map(|m| m.embed.id())
    }

    pub fn config(&self) -> &InstructorConfig {
        &self.config
    }

    /// Reads one request: guidance from the instruction, and a decision from
    /// the guidance, the feedback and the candidates (see the module docs
    /// for the rules).
    pub fn interpret(&self, input: &InterpretInput) -> Interpretation {
        let instruction = truncate(&input.instruction, self.config.max_instruction_bytes);
        let parsed = self.parse(instruction);
        let mut guidance = parsed.guidance.clone();
        self.correct_by_candidates(&mut guidance, &input.candidates);
        let decision = self.decide(&parsed, &mut guidance, input);
        Interpretation { guidance, decision }
    }

    /// Corrects a topic word that no candidate has to the candidate word one
    /// edit away ("vacines" is "vaccines" when an item says "vaccines"): a
    /// typo of something the shelf holds. Words of under five letters,
    /// known words and inflections ("vaccine" for "vaccines") are kept.
    fn correct_by_candidates(&self, g: &mut Guidance, cands: &[Candidate]) {
        let may_be_typo = |w: &str| {
            w.chars().count() >= 5
                && w.chars().all(|c| c.is_ascii_alphabetic())
                && !self.lex.known.contains(w)
        };
        // Most requests have no word to check: then the candidates' words
        // are not read at all.
        let any = g
            .include
            .iter()
            .chain(&g.exclude)
            .map(|t| t.topic.as_str())
            .chain([g.fact_query.as_str()])
            .any(|p| p.split(' ').any(may_be_typo));
        if !any {
            return;
        }
        let mut vocab: HashSet<String> = HashSet::new();
        for c in cands {
            for t in [&c.title, &c.text].into_iter().chain(&c.tags) {
                vocab.extend(text::words(t).into_iter().map(|w| w.to_lowercase()));
            }
        }
        if vocab.is_empty() {
            return;
        }
        let fix = |w: &str| -> Option<String> {
            if !may_be_typo(w) || vocab.contains(w) {
                return None;
            }
            let n = w.chars().count();
            let mut found: Option<&String> = None;
            for v in &vocab {
                let inflection = v.strip_suffix('s') == Some(w) || w.strip_suffix('s') == Some(v);
                if v.chars().count().abs_diff(n) <= 1 && !inflection && edit_distance(w, v) <= 1 {
                    if found.is_some() {
                        return None;
                    }
                    found = Some(v);
                }
            }
            found.cloned()
        };
        let fix_phrase = |p: &str| -> String {
            p.split(' ')
                .map(|w| fix(w).unwrap_or_else(|| w.to_string()))
                .collect::<Vec<_>>()
                .join(" ")
        };
        for tw in g.include.iter_mut().chain(g.exclude.iter_mut()) {
            tw.topic = fix_phrase(&tw.topic);
        }
        g.fact_query = fix_phrase(&g.fact_query);
    }

    /// How well `candidate` matches what `guidance` asks for, in [0, 1]
    /// (see the module docs).
    pub fn relevance(&self, guidance: &Guidance, candidate: &Candidate) -> f32 {
        let cand = CandTerms::new(candidate);
        let mut num = 0.0f32;
        let mut den = 0.0f32;
        let mut covered: HashSet<String> = HashSet::new();
        for tw in &guidance.include {
            let w = clean_weight(tw.weight);
            den += w;
            num += w * self.topic_match(&tw.topic, &cand);
            for phrase in self.topic_phrases(&tw.topic) {
                covered.extend(phrase);
            }
        }
        let mut seen = HashSet::new();
        for t in text::terms(&guidance.fact_query) {
            if covered.contains(&t) || !seen.insert(t.clone()) {
                continue;
            }
            den += 1.0;
            if cand.terms.contains(&t) {
                num += 1.0;
            }
        }
        let mut r = if den > 0.0 { num / den } else { 1.0 };
        for tw in &guidance.exclude {
            let m = self.topic_match(&tw.topic, &cand);
            r *= 1.0 - 0.5 * clean_weight(tw.weight) * m;
        }
        if r.is_finite() {
            r.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    fn topic_phrases(&self, topic: &str) -> Vec<Vec<String>> {
        let key = topic.trim().to_lowercase();
        let mut out = self
            .lex
            .synonyms
            .get(key.as_str())
            .cloned()
            .unwrap_or_default();
        let own = text::terms(&key);
        if !own.is_empty() {
            out.push(own);
        }
        out
    }

    /// How much of a topic phrase a candidate is about, in [0, 1]: 1 for a
    /// tag equal to it, or all of its terms (or, for a catalogue category
    /// named as such, all of one of its synonyms) among the candidate's
    /// terms; otherwise the share of its terms found, halved; a sport's
    /// `sport` tag gives [`PARENT_CREDIT`].
    fn topic_match(&self, topic: &str, cand: &CandTerms) -> f32 {
        let key = topic.trim().to_lowercase();
        if key.is_empty() {
            return 0.0;
        }
        if cand.tags.contains(&key) {
            return 1.0;
        }
        let phrases = self.topic_phrases(&key);
        if phrases
            .iter()
            .any(|p| !p.is_empty() && p.iter().all(|t| cand.terms.contains(t)))
        {
            return 1.0;
        }
        let own = text::terms(&key);
        let partial = if own.len() > 1 {
            let found = own.iter().filter(|t| cand.terms.contains(*t)).count();
            0.5 * found as f32 / own.len() as f32
        } else {
            0.0
        };
        let parent = match parent_topic(&key) {
            Some(parent) if cand.tags.contains(parent) => PARENT_CREDIT,
            _ => 0.0,
        };
        partial.max(parent)
    }

    // ---------------------------------------------------------------
    // Deciding
    // ---------------------------------------------------------------

    fn decide(&self, p: &Parsed, g: &mut Guidance, input: &InterpretInput) -> Decision {
        let topical = !g.include.is_empty() || !g.fact_query.is_empty();
        let transform =
            g.tone.is_some() || g.length.is_some() || g.format.is_some() || g.imitate.is_some();
        let strong_edit = p.edit_verb
            || g.imitate.is_some()
            || matches!(
                g.format,
                Some(Format::Summary | Format::Clip | Format::Thumbnail)
            )
            || (p.comparative && !p.collection);
        // A clip or a thumbnail is cut from an item, never made from facts.
        let cut = matches!(g.format, Some(Format::Clip | Format::Thumbnail));
        let create =
            !cut && (p.create_verb || g.format == Some(Format::Digest) || (p.explain && !p.refers));

        let in_view = input
            .context_item
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty());
        // "three bullet points please" with an item in view: an absolute
        // length or a summary and nothing else changes that item.
        let shapes_view = in_view
            && !topical
            && !p.collection
            && !p.news
            && (g.length.is_some_and(|l| l.value > 0)
                || g.format == Some(Format::Summary)
                || (p.tone_change && g.tone.is_some()));

        // "like this but about tennis": a new item modelled on the one in
        // view.
        let like_new = p.like_ref && in_view && topical && !p.edit_verb;

        // 1. Explicit request.
        let request = if like_new {
            Some(Action::Create)
        } else if (p.refers || shapes_view) && (p.edit_verb || (transform && !p.collection)) {
            Some(Action::Edit)
        } else if create {
            Some(Action::Create)
        } else if strong_edit {
            if g.format == Some(Format::Summary) && (g.recency_days > 0 || p.news) {
                Some(Action::Create)
            } else {
                Some(Action::Edit)
            }
        } else {
            None
        };
        // With no item in view there is nothing to edit: a change of tone or
        // length is a preference for what the feed shows; a summary of a
        // topic is a new item.
        let request = match request {
            Some(Action::Edit) if !in_view && !cut => {
                if g.format.is_some() || g.imitate.is_some() {
                    Some(Action::Create)
                } else {
                    let explanation = format!(
                        "No item is in view to change, so existing items are shown ({}).",
                        describe(g)
                    );
                    return decision(Action::Retrieve, None, Trigger::None, explanation);
                }
            }
            other => other,
        };
        // "something like this about cycling": a new item in the style of
        // the one in view.
        if request == Some(Action::Create) && p.like_ref && in_view && g.imitate.is_none() {
            g.imitate = input.context_item.clone();
        }
        match request {
            Some(Action::Edit) if !transform && !topical => {
                // "rewrite this" says what to change but not how: the editor
                // would have nothing to do.
                let explanation = "You asked for the item to be changed but not how (a tone, a length, a summary or topics to keep), so existing items are shown.".to_string();
                return decision(
                    Action::Retrieve,
                    None,
                    Trigger::ExplicitRequest,
                    explanation,
                );
            }
            Some(Action::Edit) => {
                if let Some(target) = self.pick_target(p, g, input, topical) {
                    g.target_item = Some(target.clone());
                    let explanation = edit_explanation(g, &target);
                    return decision(
                        Action::Edit,
                        Some(target),
                        Trigger::ExplicitRequest,
                        explanation,
                    );
                }
                let what = request_noun(g, true);
                if matches!(g.format, Some(Format::Clip | Format::Thumbnail)) {
                    let how = if g.format == Some(Format::Clip) {
                        "to cut it from"
                    } else {
                        "to pick it from"
                    };
                    let explanation = format!(
                        "You asked for {what} but there is no item {how}, so existing items are shown instead."
                    );
                    return decision(
                        Action::Retrieve,
                        None,
                        Trigger::ExplicitRequest,
                        explanation,
                    );
                }
                let explanation = format!(
                    "You asked for {what} but there is no item to edit, so a new item will be made{}.",
                    about(g)
                );
                return decision(Action::Create, None, Trigger::ExplicitRequest, explanation);
            }
            Some(_) => {
                let what = request_noun(g, false);
                let explanation = format!(
                    "You asked for {what}{}{}, so a new item will be made{}.",
                    about(g),
                    recency_phrase(g.recency_days),
                    length_note(g)
                );
                return decision(Action::Create, None, Trigger::ExplicitRequest, explanation);
            }
            None => {}
        }

        // 2. Rejection streak.
        if let Some((count, verb)) = self.streak(&input.feedback) {
            let explanation = format!(
                "You {verb} the last {count} items, so a new item will be made{}{}.",
                about(g),
                g.tone
                    .map(|t| format!(" in a {} tone", t.as_str()))
                    .unwrap_or_default()
            );
            return decision(Action::Create, None, Trigger::RejectionStreak, explanation);
        }

        // 3. No relevant candidate.
        let best = self.best_candidate(g, &input.candidates);
        if topical {
            let asked = if g.fact_query.is_empty() {
                topic_list(&g.include)
            } else {
                g.fact_query.clone()
            };
            match best {
                None => {
                    let explanation = format!(
                        "Nothing was retrieved for \"{asked}\", so a new item will be made."
                    );
                    return decision(
                        Action::Create,
                        None,
                        Trigger::NoRelevantCandidate,
                        explanation,
                    );
                }
                Some((_, r))
                    if r < self.config.min_relevance
                        && !self.relevant_by_meaning(g, &input.candidates) =>
                {
                    let explanation = format!(
                        "Nothing retrieved matches \"{asked}\" (best relevance {r:.2} < {:.2}), so a new item will be made.",
                        self.config.min_relevance
                    );
                    return decision(
                        Action::Create,
                        None,
                        Trigger::NoRelevantCandidate,
                        explanation,
                    );
                }
                _ => {}
            }
        }

        // 4. Retrieve.
        let explanation = if input.instruction.trim().is_empty() {
            "No instruction and no rejection streak, so the feed is ranked as usual.".to_string()
        } else if *g == Guidance::default() {
            "Nothing in the instruction changes the ranking, so the feed is ranked as usual."
                .to_string()
        } else {
            let mut s = format!("Existing items serve this request ({})", describe(g));
            if let (true, Some((c, r))) = (topical, best) {
                s.push_str(&format!(
                    "; the best match is {} (relevance {r:.2})",
                    clean_id(&c.item_id)
                ));
            }
            s.push('.');
            s
        };
        decision(Action::Retrieve, None, Trigger::None, explanation)
    }

    /// Whether a candidate means what was asked, by sentence embeddings
    /// (false without a model).
    fn relevant_by_meaning(&self, g: &Guidance, cands: &[Candidate]) -> bool {
        let Some(meaning) = &self.meaning else {
            return false;
        };
        let asked = if g.include.is_empty() {
            g.fact_query.clone()
        } else {
            topic_list(&g.include)
        };
        if asked.trim().is_empty() || cands.is_empty() {
            return false;
        }
        meaning
            .best(&asked, cands)
            .is_some_and(|(_, sim)| sim >= self.config.min_similarity)
    }

    fn best_candidate<'a>(
        &self,
        g: &Guidance,
        cands: &'a [Candidate],
    ) -> Option<(&'a Candidate, f32)> {
        let mut best: Option<(&Candidate, f32)> = None;
        for c in cands {
            let r = self.relevance(g, c);
            if best.is_none_or(|(_, b)| r > b) {
                best = Some((c, r));
            }
        }
        best
    }

    fn pick_target(
        &self,
        p: &Parsed,
        g: &Guidance,
        input: &InterpretInput,
        topical: bool,
    ) -> Option<String> {
        let valid = |id: &String| !id.trim().is_empty();
        let context = input.context_item.clone().filter(valid);
        let usable: Vec<&Candidate> = input
            .candidates
            .iter()
            .filter(|c| valid(&c.item_id))
            .collect();
        if p.refers || !topical {
            let top = if g.format == Some(Format::Clip) {
                usable.iter().find(|c| c.timed).or(usable.first())
            } else {
                usable.first()
            };
            return context.or_else(|| top.map(|c| c.item_id.clone()));
        }
        // Topics named without a reference: the most relevant candidate
        // (timed ones first for a clip), if relevant enough.
        let pool: Vec<&Candidate> =
            if g.format == Some(Format::Clip) && usable.iter().any(|c| c.timed) {
                usable.iter().copied().filter(|c| c.timed).collect()
            } else {
                usable
            };
        let mut best: Option<(&Candidate, f32)> = None;
        for c in pool {
            let r = self.relevance(g, c);
            if best.is_none_or(|(_, b)| r > b) {
                best = Some((c, r));
            }
        }
        best.filter(|(_, r)| *r >= self.config.min_relevance)
            .map(|(c, _)| c.item_id.clone())
    }

    /// The rejection streak: its length and how to say it, if it fires.
    fn streak(&self, feedback: &[FeedbackSignal]) -> Option<(usize, &'static str)> {
        let need = self.config.rejection_streak as usize;
        if need == 0 {
            return None;
        }
        let mut count = 0usize;
        let (mut skips, mut dislikes) = (false, false);
        for s in feedback.iter().rev() {
            if s.kind.is_engagement() {
                break;
            }
            if s.kind.is_rejection() {
                count += 1;
                if s.kind == FeedbackKind::Skip {
                    skips = true;
                } else {
                    dislikes = true;
                }
            }
        }
        if count < need {
            return None;
        }
        let verb = match (skips, dislikes) {
            (true, true) => "skipped or disliked",
            (false, true) => "disliked",
            _ => "skipped",
        };
        Some((count, verb))
    }

    // ---------------------------------------------------------------
    // Reading the instruction
    // ---------------------------------------------------------------

    fn parse(&self, instruction: &str) -> Parsed {
        let mut toks = self.lex.expand(tokenize(instruction));
        for (i, t) in toks.iter_mut().enumerate() {
            let sentence_start = i == 0 || t.brk == Break::Stop;
            if let Some(c) = self.lex.correct(t, sentence_start) {
                t.w = c.to_string();
            }
        }
        let mut units = self.lex.lex(&toks);
        let imitate = find_imitation(&mut units);
        read_units(&units, imitate)
    }
}

fn decision(
    action: Action,
    target_item: Option<String>,
    trigger: Trigger,
    explanation: String,
) -> Decision {
    Decision {
        action,
        target_item,
        trigger,
        explanation,
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char
/// boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn clean_weight(w: f32) -> f32 {
    if w.is_finite() {
        w.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// An item id fit for a one-line explanation.
fn clean_id(id: &str) -> String {
    id.chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// What a `sport` tag is worth to a request for a specific sport: enough to
/// rank sport above the rest, too little to count as relevant by default.
const PARENT_CREDIT: f32 = 0.15;

fn parent_topic(topic: &str) -> Option<&'static str> {
    match topic {
        "football" | "rugby" | "tennis" | "cricket" | "golf" | "boxing" | "athletics"
        | "cycling" | "formula one" | "basketball" | "baseball" | "hockey" | "olympics"
        | "horse racing" | "snooker" | "darts" => Some("sport"),
        "brexit" => Some("politics"),
        _ => None,
    }
}

/// The stemmed terms and lower-case tags of a candidate.
struct CandTerms {
    terms: HashSet<String>,
    tags: HashSet<String>,
}

impl CandTerms {
    fn new(c: &Candidate) -> CandTerms {
        let mut terms: HashSet<String> = text::terms(&c.title).into_iter().collect();
        terms.extend(text::terms(&c.text));
        let mut tags = HashSet::new();
        for t in &c.tags {
            terms.extend(text::terms(t));
            tags.insert(t.trim().to_lowercase());
        }
        CandTerms { terms, tags }
    }
}

// -------------------------------------------------------------------
// Explanations
// -------------------------------------------------------------------

fn topic_list(list: &[TopicWeight]) -> String {
    let names: Vec<&str> = list.iter().map(|t| t.topic.as_str()).collect();
    join_and(&names)
}

fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn about(g: &Guidance) -> String {
    if !g.include.is_empty() {
        format!(" about {}", topic_list(&g.include))
    } else if !g.fact_query.is_empty() {
        format!(" about \"{}\"", g.fact_query)
    } else {
        String::new()
    }
}

fn recency_phrase(days: u32) -> String {
    match days {
        0 => String::new(),
        1 => " from today".to_string(),
        d => format!(" from the last {d} days"),
    }
}

fn length_target(l: &Length) -> String {
    if l.value > 0 {
        format!("about {} {}", l.value, l.unit.as_str())
    } else {
        format!("about {:.0}% of its length", l.relative * 100.0)
    }
}

fn length_note(g: &Guidance) -> String {
    match &g.length {
        Some(l) if l.value > 0 => format!(" (about {} {})", l.value, l.unit.as_str()),
        Some(l) if l.relative < 1.0 => " (short)".to_string(),
        Some(_) => " (in depth)".to_string(),
        None => String::new(),
    }
}

fn tone_comparative(t: Tone) -> &'static str {
    match t {
        Tone::Calm => "calmer",
        Tone::Upbeat => "more upbeat",
        Tone::Serious => "more serious",
        Tone::Formal => "more formal",
        Tone::Casual => "more casual",
        Tone::Playful => "funnier",
        Tone::Neutral => "more neutral",
    }
}

/// "a digest", "a summary", ... for what the user asked.
fn request_noun(g: &Guidance, edit: bool) -> String {
    match g.format {
        Some(Format::Digest) => "a digest".into(),
        Some(Format::Summary) => "a summary".into(),
        Some(Format::Clip) => "a clip".into(),
        Some(Format::Thumbnail) => "a thumbnail".into(),
        Some(Format::Article) => "an article".into(),
        None => {
            if let Some(t) = g.tone {
                return if edit {
                    format!("a {} version", tone_comparative(t))
                } else {
                    format!("something {}", tone_comparative(t))
                };
            }
            if let Some(who) = &g.imitate {
                return if edit {
                    format!("a version in the style of {who}")
                } else {
                    format!("something in the style of {who}")
                };
            }
            if let Some(l) = &g.length {
                let shorter = l.value > 0 || l.relative < 1.0;
                return match (edit, shorter) {
                    (true, true) => "a shorter version".into(),
                    (true, false) => "a longer version".into(),
                    (false, true) => "something short".into(),
                    (false, false) => "something in depth".into(),
                };
            }
            if edit {
                "an edit".into()
            } else {
                "a new item".into()
            }
        }
    }
}

fn edit_explanation(g: &Guidance, target: &str) -> String {
    let id = clean_id(target);
    let len = g.length.as_ref().map(length_target);
    let mut tone_said = false;
    let mut imitate_said = false;
    let mut len_said = false;
    let (what, how) = match g.format {
        Some(Format::Summary) => {
            len_said = true;
            (
                format!("a summary of item {id}"),
                format!(
                    "it will be condensed to {}",
                    len.clone().unwrap_or_else(|| "its key points".into())
                ),
            )
        }
        Some(Format::Digest) => (
            format!("item {id} as a digest"),
            "it will be condensed into a digest".to_string(),
        ),
        Some(Format::Clip) => (
            format!("a clip from item {id}"),
            if g.fact_query.is_empty() {
                "its highlights will be cut into a clip".to_string()
            } else {
                format!(
                    "the part about \"{}\" will be cut into a clip",
                    g.fact_query
                )
            },
        ),
        Some(Format::Thumbnail) => (
            format!("a thumbnail for item {id}"),
            "a frame will be picked as its thumbnail".to_string(),
        ),
        Some(Format::Article) => (
            format!("item {id} as an article"),
            "it will be rewritten as an article".to_string(),
        ),
        None => match (&g.length, g.tone, &g.imitate) {
            (Some(l), _, _) => {
                len_said = true;
                if l.value > 0 {
                    (
                        format!("a version of item {id} of {}", length_target(l)),
                        format!("it will be fitted to {}", length_target(l)),
                    )
                } else if l.relative < 1.0 {
                    (
                        format!("a shorter version of item {id}"),
                        format!("it will be condensed to {}", length_target(l)),
                    )
                } else {
                    (
                        format!("a longer version of item {id}"),
                        format!("it will be expanded to {}", length_target(l)),
                    )
                }
            }
            (None, Some(t), _) => {
                tone_said = true;
                (
                    format!("a {} version of item {id}", tone_comparative(t)),
                    format!("it will be rewritten in a {} tone", t.as_str()),
                )
            }
            (None, None, Some(who)) => {
                imitate_said = true;
                (
                    format!("item {id} in the style of {who}"),
                    "it will be rewritten in that style".to_string(),
                )
            }
            _ => (
                format!("an edit of item {id}"),
                "it will be rewritten".to_string(),
            ),
        },
    };
    let mut extras = Vec::new();
    if let (Some(l), false) = (&len, len_said) {
        extras.push(format!("at {l}"));
    }
    if let (Some(t), false) = (g.tone, tone_said) {
        extras.push(format!("in a {} tone", t.as_str()));
    }
    if let (Some(who), false) = (&g.imitate, imitate_said) {
        extras.push(format!("in the style of {who}"));
    }
    if !g.include.is_empty() && g.format != Some(Format::Clip) {
        extras.push(format!("focusing on {}", topic_list(&g.include)));
    }
    if !g.exclude.is_empty() {
        extras.push(format!("leaving out {}", topic_list(&g.exclude)));
    }
    let extras = if extras.is_empty() {
        String::new()
    } else {
        format!(", {}", extras.join(", "))
    };
    format!("You asked for {what}, so {how}{extras}.")
}

/// A short description of guidance for a retrieval explanation.
fn describe(g: &Guidance) -> String {
    let mut parts = Vec::new();
    if !g.include.is_empty() {
        parts.push(format!("favouring {}", topic_list(&g.include)));
    }
    if !g.exclude.is_empty() {
        parts.push(format!("avoiding {}", topic_list(&g.exclude)));
    }
    if !g.fact_query.is_empty() && g.include.is_empty() {
        parts.push(format!("about \"{}\"", g.fact_query));
    }
    if let Some(t) = g.tone {
        parts.push(format!("{} tone", t.as_str()));
    }
    if let Some(l) = &g.length {
        parts.push(format!("length {}", length_target(l)));
    }
    if let Some(f) = g.format {
        parts.push(format!("as a {}", f.as_str()));
    }
    if g.recency_days > 0 {
        parts.push(recency_phrase(g.recency_days).trim().to_string());
    }
    if let Some(who) = &g.imitate {
        parts.push(format!("in the style of {who}"));
    }
    if parts.is_empty() {
        parts.push("no preferences".to_string());
    }
    parts.join(", ")
}

// -------------------------------------------------------------------
// Tokens
// -------------------------------------------------------------------

/// What separates a token from the one before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Break {
    None,
    /// `, : ( ) "` or a spaced dash: a new segment.
    Comma,
    /// `. ! ? ;` or a new line: a new sentence.
    Stop,
}

#[derive(Clone, Debug)]
struct Tok {
    /// Lower case, corrected.
    w: String,
    /// As written.
    orig: String,
    brk: Break,
    /// Had a possessive "'s".
    poss: bool,
    /// Joined to the token before by a hyphen ("e-scooters").
    hyph: bool,
}

fn tokenize(s: &str) -> Vec<Tok> {
    let chars: Vec<char> = s.chars().collect();
    let mut out: Vec<Tok> = Vec::new();
    let mut cur = String::new();
    let mut pending = Break::None;
    // Indexes of the tokens that follow an unspaced hyphen.
    let mut joined: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = match chars[i] {
            '\u{2019}' | '\u{2018}' | '`' => '\'',
            c => c,
        };
        if c.is_alphanumeric() {
            if c.is_alphabetic() && !cur.is_empty() && cur.chars().all(|d| d.is_ascii_digit()) {
                push_token(&mut out, &mut cur, &mut pending);
            }
            cur.push(c);
        } else if c == '\''
            && !cur.is_empty()
            && chars.get(i + 1).is_some_and(|n| n.is_alphabetic())
        {
            cur.push('\'');
        } else {
            push_token(&mut out, &mut cur, &mut pending);
            match c {
                '.' | '!' | '?' | ';' | '\n' | '\r' => pending = Break::Stop,
                ',' | ':' | '(' | ')' | '[' | ']' | '"' | '\u{201c}' | '\u{201d}' | '\u{2013}'
                | '\u{2014}' => pending = pending.max(Break::Comma),
                '-' => {
                    let spaced = i == 0
                        || chars[i - 1].is_whitespace()
                        || chars.get(i + 1).is_none_or(|n| n.is_whitespace());
                    if spaced {
                        pending = pending.max(Break::Comma);
                    } else {
                        joined.push(out.len());
                    }
                }
                // "musicals > films": the sign reads as "over".
                '>' => {
                    cur.push_str("over");
                    push_token(&mut out, &mut cur, &mut pending);
                }
                _ => {}
            }
        }
        i += 1;
    }
    push_token(&mut out, &mut cur, &mut pending);
    for k in joined {
        if let Some(t) = out.get_mut(k) {
            t.hyph = true;
        }
    }
    // "tl;dr" and "tl dr" are one token; a word said again at once ("golf
    // golf golf") is said once; "cycling-free" reads "no cycling".
    let mut merged: Vec<Tok> = Vec::with_capacity(out.len());
    // "-free" refuses only when it ends its clause or describes the feed
    // ("a cycling-free feed"), not a topic ("gluten-free diets").
    let free_at: Vec<bool> = (0..out.len())
        .map(|k| {
            out[k].w == "free"
                && out[k].hyph
                && out
                    .get(k + 1)
                    .is_none_or(|n| n.brk != Break::None || FREE_OF.contains(&n.w.as_str()))
        })
        .collect();
    for (k, t) in out.into_iter().enumerate() {
        if free_at[k]
            && let Some(prev) = merged.pop()
        {
            merged.push(Tok {
                w: "no".into(),
                orig: "no".into(),
                brk: prev.brk,
                poss: false,
                hyph: false,
            });
            merged.push(Tok {
                brk: Break::None,
                ..prev
            });
            continue;
        }
        if t.brk == Break::None
            && t.w.chars().all(char::is_alphabetic)
            && merged.last().is_some_and(|prev| prev.w == t.w)
        {
            continue;
        }
        if t.w == "dr"
            && let Some(prev) = merged.last_mut()
            && prev.w == "tl"
        {
            prev.w = "tldr".into();
            prev.orig.push_str(";dr");
            continue;
        }
        merged.push(t);
    }
    merged
}

fn push_token(out: &mut Vec<Tok>, cur: &mut String, pending: &mut Break) {
    if cur.is_empty() {
        return;
    }
    let mut orig = std::mem::take(cur);
    let mut w = orig.to_lowercase();
    let mut poss = false;
    if w.chars().count() > 2 && w.ends_with("'s") && orig.len() >= 2 {
        w.truncate(w.len() - 2);
        orig.truncate(orig.len() - 2);
        poss = true;
    }
    let w = match w.as_str() {
        "dont" => "don't".to_string(),
        "cant" => "can't".to_string(),
        "im" => "i'm".to_string(),
        "ive" => "i've".to_string(),
        "doesnt" => "doesn't".to_string(),
        "didnt" => "didn't".to_string(),
        "isnt" => "isn't".to_string(),
        "id" if orig == "id" => "i'd".to_string(),
        _ => w,
    };
    out.push(Tok {
        w,
        orig,
        brk: *pending,
        poss,
        hyph: false,
    });
    *pending = Break::None;
}

#[allow(clippy::needless_range_loop)]
/// Optimal string alignment distance (Damerau-Levenshtein with adjacent
/// transpositions) between two words, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for j in 0..=m {
        d[0][j] = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

// -------------------------------------------------------------------
// The lexicon
// -------------------------------------------------------------------

/// What a phrase means.
#[derive(Clone, Copy, Debug, PartialEq)]
enum E {
    /// A canonical topic.
    Top(&'static str),
    /// A tone; `true` for a comparative ("calmer") that, said with an item
    /// in view, asks to change that item.
    Tn(Tone, bool),
    /// A word whose refusal ("less stressful") or excess ("too stressful")
    /// asks for this tone.
    Anti(Tone),
    Too,
    /// A relative length; `true` for a comparative that asks to edit the
    /// current item ("shorter").
    Rel(f32, bool),
    Abs(LengthUnit, u32),
    Fmt(Format, u8),
    Rec(u32),
    Today,
    Inc(f32),
    Exc(f32),
    /// "please", "instead": what inherited a refusal is wanted.
    Post,
    /// "no thanks": what came just before is refused.
    PostExc,
    /// "is ok", "is fine": what came just before is only tolerated (wanted
    /// at half weight, dropped if a "but" follows).
    PostMind,
    /// "but": wanting again.
    Reset,
    /// "don't mind": wanted at half weight, unless a "but" follows.
    Mind,
    /// "anything on": wanting, unless this clause already refused.
    Ask,
    EditV,
    CreateV,
    Explain,
    Ref,
    /// "that": a reference only after a verb.
    RefThat,
    Like,
    Imit,
    AsIf,
    /// Something other than the current item ("something", "articles").
    Coll,
    News,
    Recap,
    ArtNoun,
    /// "rather than", "instead of" opening a clause: the refusal ends at
    /// its comma ("rather than X, Y" wants Y).
    Contra,
    Fill,
}

use E::*;

/// What an "X-free" request may describe and still refuse X ("a
/// politics-free feed", "a football-free weekend").
static FREE_OF: &[&str] = &[
    "feed", "timeline", "home", "homepage", "page", "day", "week", "weekend", "morning", "evening",
    "zone", "please", "thanks",
];

/// Pronouns that, after a refusal, point back at what was said before
/// ("it" and "that" are references in the table; these are chatter there).
static PRONOUNS: &[&str] = &["them", "those", "these"];

/// Keywords of five letters that typos are corrected to (the rest need six).
static FIVE_LETTER_TARGETS: &[&str] = &["sport", "rugby", "recap", "movie", "drama"];

/// Keywords never used as correction targets (too close to common words).
static RISKY_TARGETS: &[&str] = &[
    "formal",
    "policy",
    "stocks",
    "shares",
    "movies",
    "lively",
    "gentle",
    "gentler",
    "lighter",
    "deeper",
    "simple",
    "amusing",
    "market",
    "markets",
    "banking",
    "cooking",
    "fashion",
    "health",
    "emissions",
    "police",
    "courts",
    "mellow",
    "cheery",
    "labour",
    "senate",
    "tories",
    "fuller",
    "thorough",
    "humour",
    "humor",
    "posts",
    "reads",
    "feeds",
    "shorts",
    "softer",
    "dryer",
    "angry",
    "stress",
    "things",
    "stuff",
    "ones",
    "liked",
    "likes",
    "started",
    "makes",
    "taking",
    "making",
    "talking",
    "saying",
    "writes",
    "wrote",
    "narrate",
    "living",
    "feather",
    "leather",
    "sorter",
    "matter",
    "matters",
    "seconds",
    "second",
    "minutes",
    "minute",
    "sentence",
    "sentences",
    "written",
    "writing",
    "reader",
    "viewer",
    "mission",
    "missions",
    "passion",
    "fellow",
    "yellow",
    "sample",
    "sunny",
    "honey",
    "cherry",
    "booking",
    "marked",
    "marker",
    "based",
    "shooter",
    "shooters",
    "shooting",
    "worlds",
    "shocks",
    "shapes",
    "latter",
    "letter",
    "fighter",
    "tighter",
    "keeper",
    "series",
    "counts",
    "smoothing",
    "selection",
    "looking",
    "actual",
    "amazing",
    "normal",
    "format",
    "watched",
    "viewed",
    "clicked",
    "skipped",
    "scroll",
    "scrolling",
    "lengthy",
    "whilst",
    "usually",
    "always",
];

static NUMBER_WORDS: &[(&str, u32)] = &[
    ("zero", 0),
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
    ("thirteen", 13),
    ("fourteen", 14),
    ("fifteen", 15),
    ("sixteen", 16),
    ("seventeen", 17),
    ("eighteen", 18),
    ("nineteen", 19),
    ("twenty", 20),
    ("thirty", 30),
    ("forty", 40),
    ("fifty", 50),
    ("sixty", 60),
    ("seventy", 70),
    ("eighty", 80),
    ("ninety", 90),
];

/// Length units: words, unit, factor, whether "a"/"an" may count as one.
static UNITS: &[(&str, LengthUnit, u32, bool)] = &[
    ("sentence", LengthUnit::Sentences, 1, true),
    ("sentences", LengthUnit::Sentences, 1, false),
    ("line", LengthUnit::Sentences, 1, true),
    ("lines", LengthUnit::Sentences, 1, false),
    ("bullet point", LengthUnit::Sentences, 1, true),
    ("bullet points", LengthUnit::Sentences, 1, false),
    ("bullets", LengthUnit::Sentences, 1, false),
    ("points", LengthUnit::Sentences, 1, false),
    ("paragraph", LengthUnit::Sentences, 4, true),
    ("paragraphs", LengthUnit::Sentences, 4, false),
    ("word", LengthUnit::Words, 1, false),
    ("words", LengthUnit::Words, 1, false),
    ("minute", LengthUnit::Seconds, 60, false),
    ("minutes", LengthUnit::Seconds, 60, false),
    ("min", LengthUnit::Seconds, 60, false),
    ("mins", LengthUnit::Seconds, 60, false),
    ("second", LengthUnit::Seconds, 1, false),
    ("seconds", LengthUnit::Seconds, 1, false),
    ("sec", LengthUnit::Seconds, 1, false),
    ("secs", LengthUnit::Seconds, 1, false),
    ("hour", LengthUnit::Seconds, 3600, false),
    ("hours", LengthUnit::Seconds, 3600, false),
];

/// Words before a count that belong to the length ("under 100 words").
static QUALIFIERS: &[&str] = &[
    "no more than",
    "not more than",
    "no longer than",
    "not longer than",
    "in less than",
    "in under",
    "in about",
    "in around",
    "less than",
    "fewer than",
    "at most",
    "up to",
    "at least",
    "in",
    "under",
    "within",
    "about",
    "around",
    "roughly",
    "approximately",
    "approx",
    "max",
    "maximum",
    "exactly",
    "just",
    "only",
];

/// Adjectives allowed between a count and its unit.
static COUNT_ADJECTIVES: &[&str] = &[
    "short", "quick", "simple", "brief", "concise", "little", "single", "plain", "key", "main",
];

/// Filler words a bare noun phrase may hold ("the Mars landing").
static BARE_OK: &[&str] = &[
    "a", "an", "the", "of", "on", "in", "about", "for", "and", "or", "with", "from", "to", "at",
    "new", "latest", "recent", "please",
];

/// Words after "this" that make it a date.
static TIME_WORDS: &[&str] = &[
    "week",
    "weekend",
    "month",
    "year",
    "morning",
    "afternoon",
    "evening",
    "time",
    "season",
];

/// Words that end an imitated name.
static IMITATE_STOPS: &[&str] = &[
    "and", "but", "or", "please", "would", "could", "does", "did", "wrote", "writes", "with",
    "about", "for", "to", "that", "who", "so", "because", "on", "in", "if", "when", "while",
    "instead", "this", "it", "then", "is", "was", "were", "are", "me", "my",
];

/// Words after which "like X" imitates X.
static SAY_VERBS: &[&str] = &[
    "write",
    "written",
    "writes",
    "talk",
    "talks",
    "talking",
    "speak",
    "speaks",
    "speaking",
    "sound",
    "sounds",
    "read",
    "reads",
    "narrate",
    "narrated",
    "tell",
    "told",
    "say",
    "said",
    "explain",
    "explained",
    "rewrite",
    "rewritten",
    "redo",
    "put",
    "it",
    "this",
    "that",
    "text",
];

struct Entry {
    words: Vec<String>,
    effs: Vec<E>,
}

/// The phrase tables, indexed for longest-match lookup, plus what typo
/// correction and relevance need.
struct Lexicon {
    entries: Vec<Entry>,
    /// First word → entries, longest first.
    index: HashMap<String, Vec<usize>>,
    /// Stem of a single-word topic phrase → canonical topic.
    topic_stems: HashMap<String, &'static str>,
    /// Canonical topic → stemmed terms of each of its phrases.
    synonyms: HashMap<&'static str, Vec<Vec<String>>>,
    known: HashSet<String>,
    fillers: HashSet<&'static str>,
    targets: Vec<String>,
    /// Text-speak token → the words it stands for (`lexicons/text_speak.tsv`).
    speak: HashMap<String, Vec<String>>,
}

/// The phrase table (`lexicons/instructor.tsv`): topic words, tones,
/// markers, lengths, formats, references, recency.
const CORE_PHRASES: &str = include_str!("../lexicons/instructor.tsv");
/// More phrases (`lexicons/phrases.tsv`), read after the table.
const PHRASES: &str = include_str!("../lexicons/phrases.tsv");
/// Words that carry no content (`lexicons/fillers.txt`).
const FILLER_WORDS: &str = include_str!("../lexicons/fillers.txt");
/// Real words never corrected as typos (`lexicons/protected.txt`).
const PROTECTED_WORDS: &str = include_str!("../lexicons/protected.txt");

/// A name that lives as long as the lexicon (built once per process).
fn intern(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// The words of a one-word-a-line list, `#` comments skipped.
fn word_list(text: &str) -> Vec<&'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(intern)
        .collect()
}
/// Text-speak (`lexicons/text_speak.tsv`).
const TEXT_SPEAK: &str = include_str!("../lexicons/text_speak.tsv");

/// The data lines of a table file: `#` comments and blank lines skipped,
/// each line split at its tab.
fn table_lines(text: &str) -> impl Iterator<Item = (usize, &str, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| {
            let (a, b) = l.split_once('\t').unwrap_or((l, ""));
            (i + 1, a.trim(), b.trim())
        })
}

/// One effect of a phrase table (see the header of `lexicons/phrases.tsv`
/// and `lexicons/instructor.tsv`).
fn parse_effect(s: &str) -> Result<E, String> {
    let weight = |w: &str| -> Result<f32, String> {
        match w.parse::<f32>() {
            Ok(v) if v > 0.0 && v <= 1.0 => Ok(v),
            _ => Err(format!("weight {w:?} is not in (0, 1]")),
        }
    };
    let number = |v: &str| -> Result<u32, String> {
        v.parse::<u32>()
            .map_err(|_| format!("{v:?} is not a whole number"))
    };
    let format_of = |f: &str| Format::parse(f).ok_or_else(|| format!("unknown format {f:?}"));
    let tone_of = |t: &str| Tone::parse(t).ok_or_else(|| format!("unknown tone {t:?}"));
    let mut parts = s.split(':');
    let head = parts.next().unwrap_or_default();
    let args: Vec<&str> = parts.collect();
    Ok(match (head, args.as_slice()) {
        ("top", [c]) if !c.is_empty() => Top(intern(c)),
        ("inc", [w]) => Inc(weight(w)?),
        ("exc", [w]) => Exc(weight(w)?),
        ("tone", [t]) | ("tone", [t, "cmp"]) => Tn(tone_of(t)?, args.len() == 2),
        ("anti", [t]) => Anti(tone_of(t)?),
        ("rel", [f]) | ("rel", [f, "cmp"]) => {
            let r: f32 = f
                .parse()
                .ok()
                .filter(|r: &f32| r.is_finite() && *r > 0.0)
                .ok_or_else(|| format!("{f:?} is not a length factor"))?;
            Rel(r, args.len() == 2)
        }
        ("abs", [u, n]) => {
            let unit = LengthUnit::parse(u).ok_or_else(|| format!("unknown unit {u:?}"))?;
            Abs(unit, number(n)?)
        }
        ("fmt", [f]) => Fmt(format_of(f)?, 1),
        ("fmt", [f, prio]) => {
            let prio = prio
                .parse::<u8>()
                .map_err(|_| format!("{prio:?} is not a priority"))?;
            Fmt(format_of(f)?, prio)
        }
        ("rec", [d]) => Rec(number(d)?),
        ("too", []) => Too,
        ("today", []) => Today,
        ("inc" | "exc", _) => return Err(format!("weight in {s:?} is not in (0, 1]")),
        ("post", []) => Post,
        ("postexc", []) => PostExc,
        ("postmind", []) => PostMind,
        ("reset", []) => Reset,
        ("mind", []) => Mind,
        ("ask", []) => Ask,
        ("edit", []) => EditV,
        ("create", []) => CreateV,
        ("explain", []) => Explain,
        ("ref", []) => Ref,
        ("refthat", []) => RefThat,
        ("like", []) => Like,
        ("imit", []) => Imit,
        ("asif", []) => AsIf,
        ("coll", []) => Coll,
        ("news", []) => News,
        ("recap", []) => Recap,
        ("artnoun", []) => ArtNoun,
        ("contra", []) => Contra,
        ("fill", []) => Fill,
        _ => return Err(format!("unknown effect {s:?}")),
    })
}

/// Reads a phrase table (`lexicons/instructor.tsv`, `lexicons/phrases.tsv`):
/// phrase → effects; a bad line is an error naming the file and the line.
fn parse_phrases(file: &str, text: &str) -> Result<Vec<(String, Vec<E>)>, String> {
    let mut out = Vec::new();
    for (line, phrase, effects) in table_lines(text) {
        let at = |what: String| format!("lexicons/{file} line {line}: {what}");
        let effs = effects
            .split(',')
            .map(|e| parse_effect(e.trim()))
            .collect::<Result<Vec<E>, String>>()
            .map_err(at)?;
        if phrase.is_empty() || effs.is_empty() {
            return Err(at("expected phrase<TAB>effects".into()));
        }
        out.push((phrase.to_lowercase(), effs));
    }
    Ok(out)
}

/// Reads `lexicons/text_speak.tsv`: token → words.
fn parse_text_speak(text: &str) -> Result<HashMap<String, Vec<String>>, String> {
    let mut out = HashMap::new();
    for (line, token, words) in table_lines(text) {
        let words: Vec<String> = words.split_whitespace().map(str::to_lowercase).collect();
        if token.is_empty() || words.is_empty() {
            return Err(format!(
                "lexicons/text_speak.tsv line {line}: expected token<TAB>words"
            ));
        }
        out.insert(token.to_lowercase(), words);
    }
    Ok(out)
}

impl Lexicon {
    fn build() -> Lexicon {
        let mut entries: Vec<Entry> = Vec::new();
        let mut by_phrase: HashMap<String, usize> = HashMap::new();
        let mut add = |phrase: &str, effs: &[E]| {
            let words: Vec<String> = phrase.split_whitespace().map(str::to_string).collect();
            if words.is_empty() {
                return;
            }
            let key = words.join(" ");
            if let Some(&i) = by_phrase.get(&key) {
                let entry: &mut Entry = &mut entries[i];
                for e in effs {
                    if !entry.effs.contains(e) {
                        entry.effs.push(*e);
                    }
                }
            } else {
                by_phrase.insert(key, entries.len());
                entries.push(Entry {
                    words,
                    effs: effs.to_vec(),
                });
            }
        };
        // The committed files are checked by a unit test; a bad line here
        // can only come from an edit that test refuses.
        let core = parse_phrases("instructor.tsv", CORE_PHRASES).unwrap_or_default();
        let topics: Vec<(String, &'static str)> = core
            .iter()
            .flat_map(|(p, effs)| {
                effs.iter().filter_map(move |e| match e {
                    Top(c) => Some((p.clone(), *c)),
                    _ => None,
                })
            })
            .collect();
        for (p, effs) in core
            .iter()
            .chain(&parse_phrases("phrases.tsv", PHRASES).unwrap_or_default())
        {
            add(p, effs);
        }
        let fillers_list = word_list(FILLER_WORDS);
        let protected = word_list(PROTECTED_WORDS);
        let mut index: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            index.entry(e.words[0].clone()).or_default().push(i);
        }
        for list in index.values_mut() {
            list.sort_by_key(|&i| std::cmp::Reverse(entries[i].words.len()));
        }
        let mut topic_stems = HashMap::new();
        let mut synonyms: HashMap<&'static str, Vec<Vec<String>>> = HashMap::new();
        for (p, c) in &topics {
            let c = *c;
            if !p.contains(' ') {
                topic_stems.entry(text::stem(p)).or_insert(c);
            }
            let terms = text::terms(p);
            if !terms.is_empty() {
                synonyms.entry(c).or_default().push(terms);
            }
        }
        let fillers: HashSet<&'static str> = fillers_list.iter().copied().collect();
        let mut known: HashSet<String> = HashSet::new();
        for e in &entries {
            known.extend(e.words.iter().cloned());
        }
        known.extend(fillers_list.iter().map(|s| s.to_string()));
        known.extend(protected.iter().map(|s| s.to_string()));
        known.extend(NUMBER_WORDS.iter().map(|(s, _)| s.to_string()));
        for (p, ..) in UNITS {
            known.extend(p.split_whitespace().map(str::to_string));
        }
        for q in QUALIFIERS.iter().chain(COUNT_ADJECTIVES) {
            known.extend(q.split_whitespace().map(str::to_string));
        }
        let mut targets: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        let candidates = entries
            .iter()
            .flat_map(|e| e.words.iter().map(String::as_str))
            .chain(fillers_list.iter().copied())
            .chain(NUMBER_WORDS.iter().map(|(s, _)| *s))
            .chain(["sentences", "paragraph", "paragraphs", "minutes", "seconds"]);
        let keywords: HashSet<&str> = entries
            .iter()
            .flat_map(|e| e.words.iter().map(String::as_str))
            .collect();
        for w in candidates {
            let n = w.chars().count();
            // "cheerfully" beside "cheerful": a typo of one is corrected to
            // the plain word, which means the same here.
            let derived_adverb = w
                .strip_suffix("ly")
                .is_some_and(|stem| keywords.contains(stem));
            let eligible = w.chars().all(|c| c.is_ascii_alphabetic())
                && (n >= 6 || FIVE_LETTER_TARGETS.contains(&w))
                && !RISKY_TARGETS.contains(&w)
                && !derived_adverb
                && !protected.contains(&w);
            if eligible && seen.insert(w) {
                targets.push(w.to_string());
            }
        }
        Lexicon {
            entries,
            index,
            topic_stems,
            synonyms,
            known,
            fillers,
            targets,
            speak: parse_text_speak(TEXT_SPEAK).unwrap_or_default(),
        }
    }

    /// Replaces text-speak tokens by the words they stand for.
    fn expand(&self, toks: Vec<Tok>) -> Vec<Tok> {
        let mut out = Vec::with_capacity(toks.len());
        for t in toks {
            match self.speak.get(&t.w) {
                Some(words) => {
                    for (k, w) in words.iter().enumerate() {
                        out.push(Tok {
                            w: w.clone(),
                            orig: w.clone(),
                            brk: if k == 0 { t.brk } else { Break::None },
                            poss: false,
                            hyph: false,
                        });
                    }
                }
                None => out.push(t),
            }
        }
        out
    }

    /// The keyword a mistyped token stands for, if any.
    fn correct(&self, tok: &Tok, sentence_start: bool) -> Option<&str> {
        let w = tok.w.as_str();
        let n = w.chars().count();
        if n < 5 || !w.chars().all(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        if self.known.contains(w) || text::is_stop_word(w) || self.known.contains(&text::stem(w)) {
            return None;
        }
        // A capitalised word inside a sentence is a name.
        let mut chars = tok.orig.chars();
        let first_upper = chars.next().is_some_and(char::is_uppercase);
        let rest_lower = chars.any(char::is_lowercase);
        if first_upper && rest_lower && !sentence_start {
            return None;
        }
        // Among keywords one edit away, a dropped letter is the likeliest
        // typo, then a swapped or wrong one, then an extra one.
        let mut best: Option<(usize, &str)> = None;
        for t in &self.targets {
            let tn = t.chars().count();
            if tn.abs_diff(n) > 1 {
                continue;
            }
            // An inflection of a keyword is not a typo of it.
            if w.strip_suffix(['s', 'd']) == Some(t.as_str()) || t.strip_suffix('s') == Some(w) {
                continue;
            }
            let rank = match tn.cmp(&n) {
                std::cmp::Ordering::Greater => 0,
                std::cmp::Ordering::Equal => 1,
                std::cmp::Ordering::Less => 2,
            };
            if best.is_none_or(|(r, _)| rank < r) && edit_distance(w, t) <= 1 {
                best = Some((rank, t.as_str()));
            }
        }
        best.map(|(_, t)| t)
    }

    fn lex(&self, toks: &[Tok]) -> Vec<Unit> {
        let mut units = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let start = i;
            let mk = |kind: Kind, effs: Vec<E>, end: usize| Unit {
                kind,
                effs,
                brk: toks[start].brk,
                poss: toks[end - 1].poss,
                hyph: toks[start].hyph,
                used: false,
                w: toks[start..end]
                    .iter()
                    .map(|t| t.w.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                orig: toks[start..end]
                    .iter()
                    .map(|t| t.orig.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            if let Some((days, end)) = parse_recency_count(toks, i) {
                units.push(mk(Kind::Rec(days), Vec::new(), end));
                i = end;
                continue;
            }
            if let Some((len, extra, end)) = parse_length(toks, i) {
                units.push(mk(Kind::Len(len), extra, end));
                i = end;
                continue;
            }
            if let Some((effs, end)) = self.match_phrase(toks, i) {
                units.push(mk(Kind::Lex, effs, end));
                i = end;
                continue;
            }
            let w = toks[i].w.as_str();
            let kind = if self.fillers.contains(w)
                || text::is_stop_word(w)
                || number_word(w).is_some()
                || w.chars().all(|c| c.is_ascii_digit())
                || (w.chars().count() < 2 && !toks.get(i + 1).is_some_and(|t| t.hyph))
            {
                Kind::Fill
            } else {
                Kind::Word
            };
            units.push(mk(kind, Vec::new(), i + 1));
            i += 1;
        }
        units
    }

    fn match_phrase(&self, toks: &[Tok], i: usize) -> Option<(Vec<E>, usize)> {
        if let Some(list) = self.index.get(&toks[i].w) {
            for &ei in list {
                let e = &self.entries[ei];
                let n = e.words.len();
                if i + n > toks.len() {
                    continue;
                }
                let ok = e.words.iter().enumerate().all(|(k, w)| {
                    let t = &toks[i + k];
                    t.w == *w && (k == 0 || t.brk == Break::None)
                });
                // "like this weekend" is a date, not a reference.
                let dated = matches!(e.words.last().map(String::as_str), Some("this" | "that"))
                    && toks.get(i + n).is_some_and(|t| {
                        t.brk == Break::None && TIME_WORDS.contains(&t.w.as_str())
                    });
                if ok && !dated {
                    return Some((e.effs.clone(), i + n));
                }
            }
        }
        let w = &toks[i].w;
        if w.chars().count() >= 4
            && !self.fillers.contains(w.as_str())
            && let Some(c) = self.topic_stems.get(&text::stem(w))
        {
            return Some((vec![Top(c)], i + 1));
        }
        None
    }
}

// -------------------------------------------------------------------
// Counts, lengths and recencies
// -------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Count {
    /// A number said as such.
    Number(f32),
    /// "a"/"an": one, for some units.
    Article,
    /// "half a"/"half an".
    Half,
}

fn word_at(toks: &[Tok], j: usize) -> Option<&str> {
    toks.get(j).map(|t| t.w.as_str())
}

/// Whether the words of `phrase` are at `j` with no break inside; returns
/// the position after them.
fn phrase_at(toks: &[Tok], j: usize, phrase: &str) -> Option<usize> {
    let mut k = j;
    for (n, w) in phrase.split_whitespace().enumerate() {
        let t = toks.get(k)?;
        if t.w != w || (n > 0 && t.brk != Break::None) {
            return None;
        }
        k += 1;
    }
    Some(k)
}

fn joined(toks: &[Tok], j: usize) -> bool {
    toks.get(j).is_some_and(|t| t.brk == Break::None)
}

fn number_word(w: &str) -> Option<u32> {
    NUMBER_WORDS.iter().find(|(s, _)| *s == w).map(|(_, v)| *v)
}

/// A count at `j`: digits, number words, "a couple of", "a few", "a dozen",
/// "a"/"an", "half a".
fn parse_count(toks: &[Tok], j: usize) -> Option<(Count, usize)> {
    let w = word_at(toks, j)?;
    if !w.is_empty() && w.chars().all(|c| c.is_ascii_digit()) {
        let v: u64 = w.parse().unwrap_or(u64::MAX);
        return Some((Count::Number(v.min(1_000_000) as f32), j + 1));
    }
    for (phrase, v) in [
        ("a couple of", 2.0),
        ("couple of", 2.0),
        ("a couple", 2.0),
        ("a few", 3.0),
        ("few", 3.0),
        ("a dozen", 12.0),
        ("dozen", 12.0),
        ("a single", 1.0),
        ("single", 1.0),
    ] {
        if let Some(k) = phrase_at(toks, j, phrase) {
            return Some((Count::Number(v), k));
        }
    }
    if let Some(k) = phrase_at(toks, j, "half a").or_else(|| phrase_at(toks, j, "half an")) {
        return Some((Count::Half, k));
    }
    // Number words: "twenty five", "two hundred and fifty", "a hundred".
    let mut k = j;
    let mut total: u32 = 0;
    let mut current: u32 = 0;
    let mut any = false;
    if matches!(w, "a" | "an")
        && joined(toks, j + 1)
        && matches!(word_at(toks, j + 1), Some("hundred" | "thousand"))
    {
        current = 1;
        k = j + 1;
        any = true;
    }
    while let Some(t) = toks.get(k) {
        if k > j && t.brk != Break::None {
            break;
        }
        if let Some(v) = number_word(&t.w) {
            current = current.saturating_add(v);
            any = true;
        } else if t.w == "hundred" && any {
            current = current.max(1).saturating_mul(100);
        } else if t.w == "thousand" && any {
            total = total.saturating_add(current.max(1).saturating_mul(1000));
            current = 0;
        } else if t.w == "and"
            && any
            && joined(toks, k + 1)
            && word_at(toks, k + 1).is_some_and(|n| number_word(n).is_some())
        {
            // "two hundred and fifty"
        } else {
            break;
        }
        k += 1;
    }
    if any {
        return Some((Count::Number(total.saturating_add(current) as f32), k));
    }
    if matches!(w, "a" | "an") {
        return Some((Count::Article, j + 1));
    }
    None
}

/// An absolute length at `i`: "(in|under|...) COUNT (adjective) UNIT (or
/// less|long|max)". Returns extra effects ("3 key points" is a summary).
fn parse_length(toks: &[Tok], i: usize) -> Option<(Length, Vec<E>, usize)> {
    let mut starts = vec![i];
    for q in QUALIFIERS {
        if let Some(k) = phrase_at(toks, i, q)
            && joined(toks, k)
        {
            starts.push(k);
        }
    }
    for &j in starts.iter().rev() {
        if let Some(found) = parse_length_from(toks, j) {
            return Some(found);
        }
    }
    None
}

fn parse_length_from(toks: &[Tok], j: usize) -> Option<(Length, Vec<E>, usize)> {
    let (count, mut k) = parse_count(toks, j)?;
    let mut extra = Vec::new();
    if joined(toks, k)
        && let Some(adj) = word_at(toks, k).filter(|w| COUNT_ADJECTIVES.contains(w))
    {
        if matches!(adj, "key" | "main")
            && joined(toks, k + 1)
            && word_at(toks, k + 1) == Some("points")
        {
            extra.push(Fmt(Format::Summary, 1));
        }
        k += 1;
    }
    if !joined(toks, k) {
        return None;
    }
    let mut best: Option<(LengthUnit, u32, bool, usize)> = None;
    for (phrase, unit, factor, article_ok) in UNITS {
        if let Some(end) = phrase_at(toks, k, phrase)
            && best.is_none_or(|b| end > b.3)
        {
            best = Some((*unit, *factor, *article_ok, end));
        }
    }
    let (unit, factor, article_ok, mut end) = best?;
    let value = match count {
        Count::Number(v) => v * factor as f32,
        Count::Article if article_ok => factor as f32,
        Count::Half if factor >= 60 => 0.5 * factor as f32,
        _ => return None,
    };
    let value = value.round().clamp(0.0, 1_000_000.0) as u32;
    if value == 0 {
        return None;
    }
    for tail in [
        "or less", "or fewer", "or so", "long", "max", "maximum", "tops",
    ] {
        if joined(toks, end)
            && let Some(e) = phrase_at(toks, end, tail)
        {
            end = e;
            break;
        }
    }
    Some((
        Length {
            unit,
            value,
            relative: 0.0,
        },
        extra,
        end,
    ))
}

/// "(over|in|from|within) (the) last|past|previous COUNT days|weeks|...".
fn parse_recency_count(toks: &[Tok], i: usize) -> Option<(u32, usize)> {
    // Every word after the first must follow without a break.
    let at = |j: usize| -> Option<&str> {
        let t = toks.get(j)?;
        (j == i || t.brk == Break::None).then_some(t.w.as_str())
    };
    let mut j = i;
    if matches!(
        at(j),
        Some("over" | "in" | "from" | "within" | "during" | "for")
    ) {
        j += 1;
    }
    if at(j) == Some("the") {
        j += 1;
    }
    if !matches!(at(j), Some("last" | "past" | "previous")) {
        return None;
    }
    j += 1;
    at(j)?;
    let (Count::Number(n), k) = parse_count(toks, j)? else {
        return None;
    };
    let per_unit = match at(k)? {
        "day" | "days" => 1.0,
        "week" | "weeks" => 7.0,
        "month" | "months" => 30.0,
        "year" | "years" => 365.0,
        "hour" | "hours" => 1.0 / 24.0,
        _ => return None,
    };
    let days = (n * per_unit).ceil().clamp(1.0, 36_500.0) as u32;
    Some((days, k + 1))
}

// -------------------------------------------------------------------
// Units and their reading
// -------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Lex,
    Word,
    Fill,
    Len(Length),
    Rec(u32),
}

#[derive(Clone, Debug)]
struct Unit {
    kind: Kind,
    effs: Vec<E>,
    brk: Break,
    poss: bool,
    /// Joined to the unit before by a hyphen.
    hyph: bool,
    used: bool,
    w: String,
    orig: String,
}

impl Unit {
    fn has(&self, f: impl Fn(&E) -> bool) -> bool {
        self.effs.iter().any(f)
    }

    fn is_topic_only(&self) -> bool {
        self.kind == Kind::Lex
            && !self.effs.is_empty()
            && self.effs.iter().all(|e| matches!(e, Top(_)))
    }

    /// Neither a content word nor anything that means something.
    fn is_filler(&self) -> bool {
        match self.kind {
            Kind::Fill => true,
            Kind::Lex => self.effs.iter().all(|e| matches!(e, Fill)),
            _ => false,
        }
    }
}

/// Finds an imitated style or person, marks its units used, and returns it.
#[allow(clippy::needless_range_loop)]
fn find_imitation(units: &mut [Unit]) -> Option<String> {
    let n = units.len();
    for i in 0..n {
        if units[i].used {
            continue;
        }
        let u = &units[i];
        let found = if u.has(|e| matches!(e, Imit)) {
            gather_imitated(units, i + 1, false).map(|(s, end)| (s, i, end))
        } else if u.has(|e| matches!(e, AsIf)) {
            // "as if a pirate wrote it"
            gather_imitated(units, i + 1, false).and_then(|(s, end)| {
                let next = units.get(end + 1)?;
                let ends = matches!(
                    next.w.as_str(),
                    "wrote" | "writes" | "had" | "was" | "were" | "would" | "is"
                );
                (ends && next.brk == Break::None).then_some((s, i, end + 1))
            })
        } else if u.has(|e| matches!(e, Like)) {
            let article_next = units.get(i + 1).is_some_and(|v| {
                matches!(v.w.as_str(), "a" | "an" | "the") && v.brk == Break::None
            });
            let verb_before = i > 0
                && u.brk == Break::None
                && (SAY_VERBS.contains(&units[i - 1].w.as_str())
                    || units[i - 1].has(|e| matches!(e, Ref | EditV | CreateV)));
            if article_next || verb_before {
                gather_imitated(units, i + 1, true).map(|(s, end)| (s, i, end))
            } else {
                None
            }
        } else if u.w == "style" || u.w == "voice" {
            // "in Hemingway's style", "in a pirate voice"
            let mut k = i;
            let mut found = None;
            while k > 0 && i - k < 5 {
                if units[k].brk != Break::None {
                    break;
                }
                k -= 1;
                if units[k].w == "in" {
                    found = Some(k);
                    break;
                }
            }
            found.and_then(|k| {
                let between = &units[k + 1..i];
                let ok = !between.is_empty()
                    && between.iter().all(|v| {
                        !v.used
                            && (v.kind == Kind::Word
                                || v.is_topic_only()
                                || matches!(v.w.as_str(), "a" | "an" | "the"))
                    })
                    && between.iter().any(|v| v.kind == Kind::Word);
                if !ok {
                    return None;
                }
                let words: Vec<&str> = between
                    .iter()
                    .filter(|v| !matches!(v.w.as_str(), "a" | "an" | "the"))
                    .map(|v| v.orig.as_str())
                    .collect();
                Some((words.join(" "), k, i))
            })
        } else {
            None
        };
        if let Some((s, from, to)) = found {
            for v in &mut units[from..=to.min(n - 1)] {
                v.used = true;
            }
            return Some(s);
        }
    }
    None
}

/// The name after an imitation marker: up to six words, ending on a content
/// word. Returns it and the index of its last unit.
fn gather_imitated(units: &[Unit], from: usize, after_like: bool) -> Option<(String, usize)> {
    let mut last_word: Option<usize> = None;
    let mut j = from;
    while j < units.len() && j < from + 6 {
        let v = &units[j];
        if v.brk != Break::None || v.used {
            break;
        }
        let article = matches!(v.w.as_str(), "a" | "an" | "the");
        let ok = match v.kind {
            Kind::Word => true,
            Kind::Fill => !IMITATE_STOPS.contains(&v.w.as_str()),
            Kind::Lex => v
                .effs
                .iter()
                .all(|e| matches!(e, Top(_) | News | Coll | ArtNoun)),
            _ => false,
        };
        if !ok {
            break;
        }
        // After "like", the first word must be an article or a content word
        // ("like a pirate", "like Yoda"), not "something".
        if after_like && j == from && !article && v.kind != Kind::Word {
            return None;
        }
        if v.kind == Kind::Word {
            last_word = Some(j);
        }
        j += 1;
    }
    let end = last_word?;
    let s = units[from..=end]
        .iter()
        .map(|v| v.orig.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    Some((s, end))
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Pol {
    Include,
    Exclude,
}

#[derive(Clone, Copy, Debug)]
struct Scope {
    pol: Pol,
    weight: f32,
    explicit: bool,
    /// A contrastive refusal ("rather than X, Y"): it ends at the clause's
    /// comma, and what follows is wanted.
    to_comma: bool,
}

impl Scope {
    const DEFAULT: Scope = Scope {
        pol: Pol::Include,
        weight: 1.0,
        explicit: false,
        to_comma: false,
    };
}

/// A wanted or refused phrase (topic words and content words said next to
/// each other), in order of mention.
#[derive(Clone, Debug)]
struct Mention {
    /// The phrase as said (lower case, typos corrected).
    text: String,
    /// Whether a word of it is a known topic.
    topic: bool,
    /// The catalogue categories its topic words map to.
    categories: Vec<&'static str>,
    pol: Pol,
    weight: f32,
    /// The segment it was said in.
    seg: usize,
    /// Only tolerated, then contrasted with what the user wants.
    dropped: bool,
}

impl Mention {
    /// Adds a word said right after the phrase ("electric" + "cars").
    fn extend(&mut self, word: &str, bridge: Option<&str>, hyphen: bool) {
        if let Some(b) = bridge {
            self.text.push(' ');
            self.text.push_str(b);
        }
        self.text.push(if hyphen { '-' } else { ' ' });
        self.text.push_str(word);
    }
}

/// A unit's words as a phrase part: a possessive keeps its "'s" ("women's
/// football").
fn phrase_word(u: &Unit) -> String {
    if u.poss {
        format!("{}'s", u.w)
    } else {
        u.w.clone()
    }
}

/// What the instructor read from an instruction.
#[derive(Clone, Debug, Default)]
struct Parsed {
    guidance: Guidance,
    refers: bool,
    edit_verb: bool,
    create_verb: bool,
    explain: bool,
    collection: bool,
    /// News words ("stories", "headlines"): several items.
    news: bool,
    /// "like this": the item in view as a model.
    like_ref: bool,
    comparative: bool,
    /// A change of tone said as a comparison ("calmer", "less bleak",
    /// "more gently"): with an item in view it asks to change that item.
    tone_change: bool,
}

/// The previous unit that means something, in the same segment.
fn prev_significant(units: &[Unit], idx: usize) -> Option<&Unit> {
    let mut k = idx;
    while k > 0 {
        if units[k].brk != Break::None {
            return None;
        }
        k -= 1;
        let u = &units[k];
        if u.used {
            return None;
        }
        if !u.is_filler() {
            return Some(u);
        }
    }
    None
}

/// The next unit that means something, in the same segment.
fn next_significant(units: &[Unit], idx: usize) -> Option<&Unit> {
    let mut k = idx + 1;
    while k < units.len() {
        let u = &units[k];
        if u.brk != Break::None || u.used {
            return None;
        }
        if !u.is_filler() {
            return Some(u);
        }
        k += 1;
    }
    None
}

/// Whether what follows the refusal at `idx` to the end of its clause is
/// only a pronoun ("skip it", "stop that", "drop them"), chatter around
/// it allowed: the refusal then points back at what was said before.
fn refusal_points_back(units: &[Unit], idx: usize) -> bool {
    let mut pronoun = false;
    for u in &units[idx + 1..] {
        // A unit's break comes before it.
        if u.brk != Break::None {
            break;
        }
        if u.used {
            return false;
        }
        let chatter = u.is_filler()
            || (u.kind == Kind::Lex && u.effs.iter().all(|e| matches!(e, Fill | Post)));
        if u.has(|e| matches!(e, Ref | RefThat)) || PRONOUNS.contains(&u.w.as_str()) {
            pronoun = true;
        } else if !chatter {
            return false;
        }
    }
    pronoun
}

/// Whether only chatter follows the unit at `idx` to the end of its
/// sentence (a full stop or the end of the text, not a comma).
fn ends_sentence(units: &[Unit], idx: usize) -> bool {
    for u in &units[idx + 1..] {
        match u.brk {
            Break::Stop => return true,
            Break::Comma => return false,
            Break::None => {}
        }
        if !u.is_filler() {
            return false;
        }
    }
    true
}

fn is_negator(u: &Unit) -> bool {
    u.has(|e| matches!(e, Exc(_) | Too))
}

/// "more" before a word: a comparison ("more gently").
fn is_more(u: &Unit) -> bool {
    u.w == "more"
}

/// "less" or "too" before a word: a comparison ("less bleak", "too grim"),
/// not a refusal of all of it ("nothing upsetting").
fn is_less(u: &Unit) -> bool {
    matches!(u.w.as_str(), "less" | "not so" | "not as") || u.has(|e| matches!(e, Too))
}

fn negated_tone(t: Tone) -> Option<Tone> {
    match t {
        Tone::Serious | Tone::Formal => Some(Tone::Casual),
        Tone::Casual => Some(Tone::Formal),
        Tone::Playful => Some(Tone::Serious),
        Tone::Calm | Tone::Upbeat | Tone::Neutral => None,
    }
}

/// Whether a refusal marker at `idx` negates the tone or length after it
/// rather than starting a refusal.
fn marker_negates_next(units: &[Unit], idx: usize) -> bool {
    next_significant(units, idx).is_some_and(|n| {
        matches!(n.kind, Kind::Len(_))
            || n.has(|e| matches!(e, Tn(..) | Anti(_) | Rel(..) | Too | Abs(..)))
    })
}

fn set_format(f: Format, prio: u8, format: &mut Option<(u8, Format)>) {
    if format.is_none_or(|(p, _)| prio > p) {
        *format = Some((prio, f));
    }
}

/// The mentions a marker said after them speaks of: its own segment's, or
/// the segment before when its own named nothing ("X? no thanks").
fn just_before<'a>(segment: &'a [usize], last_segment: &'a [usize]) -> &'a [usize] {
    if segment.is_empty() {
        last_segment
    } else {
        segment
    }
}

/// Gives the mentions at `which` a polarity and a weight.
fn relabel(mentions: &mut [Mention], which: &[usize], pol: Pol, weight: f32) {
    for &i in which {
        if let Some(m) = mentions.get_mut(i) {
            m.pol = pol;
            m.weight = weight;
        }
    }
}

fn record(m: Mention, mentions: &mut Vec<Mention>, at: (&mut Vec<usize>, &mut Vec<usize>, bool)) {
    let (segment, pending, inherited) = at;
    mentions.push(m);
    let i = mentions.len() - 1;
    segment.push(i);
    if inherited {
        pending.push(i);
    }
}

/// Whether the article noun at `idx` is asked for as one new thing: "a/an"
/// before it in its clause, at most two words back ("a short article on
/// X"), and no "is there"/"any"/"the" that asks for an existing one.
fn asks_for_one(units: &[Unit], idx: usize) -> bool {
    let start = idx.saturating_sub(3);
    let mut indefinite = false;
    for k in (start..idx).rev() {
        let u = &units[k];
        if matches!(u.w.as_str(), "a" | "an") {
            indefinite = true;
        }
        if units[k + 1].brk != Break::None {
            break;
        }
    }
    let asks_existing = units[..idx]
        .iter()
        .rev()
        .take_while(|u| u.brk == Break::None)
        .any(|u| matches!(u.w.as_str(), "there" | "any" | "is there" | "the"));
    indefinite && !asks_existing
}

/// Most topics kept per polarity.
const MAX_TOPICS: usize = 32;
/// The longest topic phrase kept, in bytes (cut at a character boundary).
const MAX_TOPIC_BYTES: usize = 128;

/// Words that join two parts of one phrase ("Bank of England").
const LINK_WORDS: &[&str] = &["of", "de", "du", "la", "le", "van", "von", "del"];

/// Whether a unit can be part of a topic phrase: a content word or a topic
/// word and nothing else.
fn is_phrase_part(u: &Unit) -> bool {
    !u.used && (u.kind == Kind::Word || u.is_topic_only())
}

/// Whether the word at `idx` contrasts the phrase before it with the one
/// after, and the weight the second is refused with: "over" after a bare
/// phrase and "to" after "prefer" refuse it (1); "than" after "more" turns
/// it down (0.5).
fn contrast_weight(units: &[Unit], idx: usize) -> Option<f32> {
    let said_before = |word: &str| {
        units[..idx]
            .iter()
            .rev()
            .take_while(|u| u.brk == Break::None)
            .chain(units[..idx].iter().rev().find(|u| u.brk != Break::None))
            .any(|u| u.w.split(' ').any(|w| w.starts_with(word)))
    };
    let between_topics = prev_significant(units, idx)
        .is_some_and(|p| is_phrase_part(p) || p.has(|e| matches!(e, News)))
        && next_significant(units, idx).is_some_and(is_phrase_part);
    match units[idx].w.as_str() {
        "over" if prefers_over(units, idx) => Some(1.0),
        "to" if between_topics && said_before("prefer") => Some(1.0),
        "than" if between_topics && said_before("more") => Some(0.5),
        _ => None,
    }
}

/// Whether "over" at `idx` states a preference: a bare phrase opens its
/// segment before it ("theatre over television") and a phrase follows it,
/// unlike "news on the row over pay".
fn prefers_over(units: &[Unit], idx: usize) -> bool {
    let next_is_phrase = next_significant(units, idx).is_some_and(is_phrase_part);
    if !next_is_phrase || units[idx].brk != Break::None {
        return false;
    }
    let mut k = idx;
    let mut seen_phrase = false;
    while k > 0 {
        let u = &units[k - 1];
        if is_phrase_part(u) {
            seen_phrase = true;
        } else if !u.is_filler() {
            return false;
        }
        if u.brk != Break::None {
            break;
        }
        k -= 1;
    }
    seen_phrase
}

/// Records `key` with a polarity: a later mention decides the polarity; the
/// same polarity keeps the larger weight.
fn merge_polarity<K: PartialEq>(list: &mut Vec<(K, Pol, f32)>, key: K, pol: Pol, w: f32) {
    if let Some(t) = list.iter_mut().find(|t| t.0 == key) {
        if t.1 == pol {
            t.2 = t.2.max(w);
        } else {
            t.1 = pol;
            t.2 = w;
        }
    } else {
        list.push((key, pol, w));
    }
}

/// Wanted and refused lists, strongest first.
fn split_polarity(list: Vec<(String, Pol, f32)>) -> (Vec<TopicWeight>, Vec<TopicWeight>) {
    let mut include: Vec<TopicWeight> = Vec::new();
    let mut exclude: Vec<TopicWeight> = Vec::new();
    for (topic, pol, weight) in list {
        let tw = TopicWeight { topic, weight };
        match pol {
            Pol::Include => include.push(tw),
            Pol::Exclude => exclude.push(tw),
        }
    }
    include.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    exclude.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    (include, exclude)
}

fn read_units(units: &[Unit], imitate: Option<String>) -> Parsed {
    let mut p = Parsed::default();
    let mut tone: Option<Tone> = None;
    let mut abs_len: Option<Length> = None;
    let mut rel_len: Option<f32> = None;
    let mut format: Option<(u8, Format)> = None;
    let mut recency: Vec<u32> = Vec::new();
    let mut today_plain = false;
    let mut news = false;
    let mut recap = false;
    let mut article_noun = false;

    let mut scope = Scope::DEFAULT;
    let mut inherited = false;
    let mut pending: Vec<usize> = Vec::new();
    let mut segment: Vec<usize> = Vec::new();
    let mut last_segment: Vec<usize> = Vec::new();
    let mut mentions: Vec<Mention> = Vec::new();
    let mut phrase_open = false;
    // A linking word ("of", "de") waiting for the next phrase word.
    let mut bridge: Option<String> = None;
    // Under "don't mind": the mentions said so far in this sentence.
    let mut tolerant = false;
    let mut tolerated: Vec<usize> = Vec::new();
    // Per segment: whether something in it asks for content (a marker, a
    // topic, a format, a verb), and whether it is a bare noun phrase
    // ("quantum knitting"). Content words elsewhere ("i've had a rough day")
    // are chatter, not a fact query.
    let mut seg = 0usize;
    let mut licensed: Vec<bool> = vec![false];
    let mut bare: Vec<bool> = vec![true];

    for (idx, u) in units.iter().enumerate() {
        if u.brk != Break::None && idx > 0 {
            seg += 1;
            licensed.push(false);
            bare.push(true);
        }
        match u.kind {
            Kind::Len(_) | Kind::Rec(_) => licensed[seg] = true,
            Kind::Fill => {
                if !BARE_OK.contains(&u.w.as_str()) {
                    bare[seg] = false;
                }
            }
            Kind::Word => {}
            Kind::Lex => {
                if u.has(|e| {
                    matches!(
                        e,
                        Inc(_)
                            | Exc(_)
                            | Mind
                            | PostMind
                            | Ask
                            | Reset
                            | Post
                            | Top(_)
                            | Fmt(..)
                            | CreateV
                            | EditV
                            | Explain
                            | News
                            | Coll
                            | Rec(_)
                            | Today
                            | Recap
                            | ArtNoun
                            | Imit
                    )
                }) {
                    licensed[seg] = true;
                } else if !u.effs.iter().all(|e| matches!(e, Fill)) {
                    // Chatter phrases ("sounds good", "in my area") leave
                    // a bare segment bare.
                    bare[seg] = false;
                }
            }
        }
        match u.brk {
            Break::Stop => {
                tolerant = false;
                tolerated.clear();
                scope = Scope::DEFAULT;
                inherited = false;
                pending.clear();
                if !segment.is_empty() {
                    last_segment = std::mem::take(&mut segment);
                }
                phrase_open = false;
            }
            Break::Comma => {
                if scope.to_comma {
                    scope = Scope::DEFAULT;
                    inherited = false;
                } else if scope.explicit {
                    inherited = true;
                }
                pending.clear();
                if !segment.is_empty() {
                    last_segment = std::mem::take(&mut segment);
                }
                phrase_open = false;
            }
            Break::None => {}
        }
        if u.used {
            phrase_open = false;
            continue;
        }
        match u.kind {
            Kind::Len(l) => {
                if abs_len.is_none() {
                    abs_len = Some(l);
                }
                for e in &u.effs {
                    if let Fmt(f, prio) = e {
                        set_format(*f, *prio, &mut format);
                    }
                }
                phrase_open = false;
            }
            Kind::Rec(d) => {
                if scope.pol == Pol::Include {
                    recency.push(d);
                }
                phrase_open = false;
            }
            Kind::Fill => {
                // "Bank of England", "Tour de France": a linking word keeps
                // the phrase open when a content word follows it.
                let links = phrase_open
                    && bridge.is_none()
                    && LINK_WORDS.contains(&u.w.as_str())
                    && units
                        .get(idx + 1)
                        .is_some_and(|n| n.brk == Break::None && is_phrase_part(n));
                if links {
                    bridge = Some(u.w.clone());
                } else if let Some(weight) = (phrase_open || u.w == "to")
                    .then(|| contrast_weight(units, idx))
                    .flatten()
                {
                    // "theatre over television", "prefer budget news to
                    // Senate news": the second is refused; "more tennis
                    // than football": turned down.
                    scope = Scope {
                        pol: Pol::Exclude,
                        weight,
                        explicit: true,
                        to_comma: false,
                    };
                    inherited = false;
                    phrase_open = false;
                    bridge = None;
                } else {
                    phrase_open = false;
                    bridge = None;
                }
            }
            Kind::Word | Kind::Lex if is_phrase_part(u) => {
                // A content word or a topic word: it starts a phrase or
                // extends the open one.
                let topic = u.kind == Kind::Lex;
                let categories: Vec<&'static str> = u
                    .effs
                    .iter()
                    .filter_map(|e| match e {
                        Top(c) => Some(*c),
                        _ => None,
                    })
                    .collect();
                let word = phrase_word(u);
                if phrase_open && let Some(m) = mentions.last_mut() {
                    m.extend(&word, bridge.take().as_deref(), u.hyph);
                    m.topic |= topic;
                    m.categories.extend(categories);
                } else {
                    record(
                        Mention {
                            text: word,
                            topic,
                            categories,
                            pol: scope.pol,
                            weight: scope.weight,
                            seg,
                            dropped: false,
                        },
                        &mut mentions,
                        (&mut segment, &mut pending, inherited),
                    );
                    if tolerant {
                        tolerated.push(mentions.len() - 1);
                    }
                }
                phrase_open = true;
                bridge = None;
            }
            Kind::Word => {
                // Only a used word gets here, and used units were skipped.
                phrase_open = false;
                bridge = None;
            }
            Kind::Lex => {
                phrase_open = false;
                bridge = None;
                for e in &u.effs {
                    match *e {
                        Top(_) => {}
                        Tn(t, cmp) => {
                            let prev = prev_significant(units, idx);
                            let t = if prev.is_some_and(is_negator) {
                                negated_tone(t)
                            } else {
                                Some(t)
                            };
                            if tone.is_none() {
                                tone = t;
                                p.tone_change |= t.is_some() && (cmp || prev.is_some_and(is_more));
                            }
                        }
                        Anti(t) => {
                            let prev = prev_significant(units, idx);
                            if tone.is_none() && prev.is_some_and(is_negator) {
                                tone = Some(t);
                                p.tone_change |= prev.is_some_and(is_less);
                            }
                        }
                        Too => {
                            if !marker_negates_next(units, idx) {
                                scope = Scope {
                                    pol: Pol::Exclude,
                                    weight: 0.5,
                                    explicit: true,
                                    to_comma: false,
                                };
                                inherited = false;
                            }
                        }
                        Rel(r, cmp) => {
                            if rel_len.is_none() {
                                rel_len = Some(r);
                            }
                            p.comparative |= cmp;
                        }
                        Abs(unit, value) => {
                            if abs_len.is_none() {
                                abs_len = Some(Length {
                                    unit,
                                    value,
                                    relative: 0.0,
                                });
                            }
                        }
                        Fmt(f, prio) => {
                            set_format(f, prio, &mut format);
                            if f == Format::Article && asks_for_one(units, idx) {
                                p.create_verb = true;
                            }
                        }
                        Rec(d) => {
                            if scope.pol == Pol::Include {
                                recency.push(d);
                            }
                        }
                        Today => {
                            if scope.pol == Pol::Include {
                                if u.poss {
                                    recency.push(1);
                                } else {
                                    today_plain = true;
                                }
                            }
                        }
                        Inc(w) => {
                            scope = Scope {
                                pol: Pol::Include,
                                weight: w,
                                explicit: true,
                                to_comma: false,
                            };
                            inherited = false;
                            tolerant = false;
                        }
                        Exc(w) => {
                            let bare_no = matches!(u.w.as_str(), "no" | "nope" | "nah");
                            // Any refusal that ends its sentence may refuse
                            // what its segment said ("the EU talks not so
                            // much"; "less, um, celebrity" goes on); only a
                            // bare "no" also ends a segment at a comma
                            // ("pensions no, more jobs") or reaches back over
                            // a break ("Senate - no").
                            let before = if bare_no {
                                just_before(&segment, &last_segment)
                            } else {
                                &segment
                            };
                            if next_significant(units, idx).is_none()
                                && !before.is_empty()
                                && (bare_no || ends_sentence(units, idx))
                            {
                                // "pensions no": a refusal that ends its
                                // segment refuses what came before it.
                                relabel(&mut mentions, before, Pol::Exclude, w);
                            } else if segment.is_empty()
                                && !last_segment.is_empty()
                                && refusal_points_back(units, idx)
                            {
                                // "plastic pollution makes me sad, skip it":
                                // a refusal of "it" or "that" alone in its
                                // segment refuses what the one before said.
                                relabel(&mut mentions, &last_segment, Pol::Exclude, w);
                            } else if !marker_negates_next(units, idx) {
                                scope = Scope {
                                    pol: Pol::Exclude,
                                    weight: w,
                                    explicit: true,
                                    to_comma: u.has(|e| matches!(e, Contra)),
                                };
                                inherited = false;
                            }
                            tolerant = false;
                        }
                        Ask => {
                            let refused_here =
                                scope.pol == Pol::Exclude && scope.explicit && !inherited;
                            if !refused_here {
                                scope = Scope {
                                    pol: Pol::Include,
                                    weight: 1.0,
                                    explicit: true,
                                    to_comma: false,
                                };
                                inherited = false;
                                tolerant = false;
                            }
                        }
                        Mind => {
                            scope = Scope {
                                pol: Pol::Include,
                                weight: 0.5,
                                explicit: true,
                                to_comma: false,
                            };
                            inherited = false;
                            tolerant = true;
                        }
                        Post => {
                            for &i in &pending {
                                if let Some(m) = mentions.get_mut(i) {
                                    m.pol = Pol::Include;
                                    m.weight = 1.0;
                                }
                            }
                            pending.clear();
                            if inherited {
                                scope = Scope {
                                    pol: Pol::Include,
                                    weight: 1.0,
                                    explicit: true,
                                    to_comma: false,
                                };
                                inherited = false;
                            }
                        }
                        PostExc => {
                            let target = just_before(&segment, &last_segment);
                            relabel(&mut mentions, target, Pol::Exclude, 1.0);
                        }
                        PostMind => {
                            let target = just_before(&segment, &last_segment);
                            relabel(&mut mentions, target, Pol::Include, 0.5);
                            tolerated.extend_from_slice(target);
                        }
                        Reset => {
                            // "I don't mind X but I love Y": X was only
                            // tolerated.
                            for &i in &tolerated {
                                if let Some(m) = mentions.get_mut(i) {
                                    m.dropped = true;
                                }
                            }
                            tolerated.clear();
                            tolerant = false;
                            scope = Scope {
                                pol: Pol::Include,
                                weight: 1.0,
                                explicit: true,
                                to_comma: false,
                            };
                            inherited = false;
                        }
                        EditV => p.edit_verb = true,
                        CreateV => p.create_verb = true,
                        Explain => p.explain = true,
                        Ref => {
                            p.refers = true;
                            p.like_ref |= u.w.starts_with("like ") || u.w == "same again";
                        }
                        RefThat => {
                            let after_verb = prev_significant(units, idx).is_some_and(|v| {
                                v.has(|e| {
                                    matches!(
                                        e,
                                        EditV
                                            | CreateV
                                            | Explain
                                            | Fmt(..)
                                            | Recap
                                            | Like
                                            | Rel(..)
                                    )
                                })
                            }) || idx
                                .checked_sub(1)
                                .and_then(|k| units.get(k))
                                .is_some_and(|v| matches!(v.w.as_str(), "of" | "about" | "with"));
                            if after_verb {
                                p.refers = true;
                            }
                        }
                        Coll => p.collection = true,
                        News => news = true,
                        Recap => recap = true,
                        ArtNoun => article_noun = true,
                        Like | Imit | AsIf | Contra | Fill => {}
                    }
                }
            }
        }
    }

    if recap {
        if p.refers {
            set_format(Format::Summary, 1, &mut format);
        } else {
            set_format(Format::Digest, 3, &mut format);
        }
    }
    if article_noun && p.create_verb {
        set_format(Format::Article, 2, &mut format);
    }
    // "explain this simply": an edit of the item in view, not an article.
    if p.explain && p.refers && format == Some((0, Format::Article)) {
        format = None;
    }

    // Phrases: a later mention decides the polarity; the same polarity keeps
    // the larger weight. A wanted phrase counts when it has a topic word or
    // was said as a request; a refused one always counts.
    let mut topics: Vec<(String, Pol, f32)> = Vec::new();
    let mut categories: Vec<(&'static str, Pol, f32)> = Vec::new();
    let mut fact_words: Vec<String> = Vec::new();
    for m in &mentions {
        let said_as_request = m.topic || licensed[m.seg] || bare[m.seg];
        if m.dropped || (m.pol == Pol::Include && !said_as_request) {
            continue;
        }
        let w = clean_weight(m.weight).max(0.1);
        merge_polarity(&mut topics, m.text.clone(), m.pol, w);
        for &c in &m.categories {
            merge_polarity(&mut categories, c, m.pol, w);
        }
        if m.pol == Pol::Include {
            fact_words.push(m.text.clone());
        }
    }
    let (mut include, mut exclude) = split_polarity(topics);
    // What the service accepts back: at most 64 topics of 1 to 128 bytes.
    include.truncate(MAX_TOPICS);
    exclude.truncate(MAX_TOPICS);
    for tw in include.iter_mut().chain(exclude.iter_mut()) {
        tw.topic = truncate(&tw.topic, MAX_TOPIC_BYTES).trim_end().to_string();
    }
    let (include_categories, exclude_categories) = split_polarity(
        categories
            .into_iter()
            .map(|(c, p, w)| (c.to_string(), p, w))
            .collect(),
    );
    for tw in &include_categories {
        fact_words.push(tw.topic.clone());
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut fact: Vec<String> = Vec::new();
    for w in fact_words {
        let key = text::words(&w)
            .iter()
            .map(|x| text::stem(x))
            .collect::<Vec<_>>()
            .join(" ");
        if !key.is_empty() && seen.insert(key) {
            fact.push(w);
        }
    }
    let fact_query = fact.join(" ");

    p.news = news;
    let format = format.map(|(_, f)| f);
    // "today" alone asks for recency with news words or a recap ("today's
    // headlines", "a summary of today"); after a plain preference ("just
    // golf today", "no politics today") it says how long the wish lasts.
    if today_plain && (news || matches!(format, Some(Format::Digest | Format::Summary))) {
        recency.push(1);
    }
    let length = abs_len.or_else(|| {
        rel_len.map(|r| Length {
            unit: LengthUnit::Words,
            value: 0,
            relative: r,
        })
    });
    p.guidance = Guidance {
        include,
        exclude,
        include_categories,
        exclude_categories,
        tone,
        length,
        format,
        target_item: None,
        fact_query,
        imitate,
        recency_days: recency.into_iter().min().unwrap_or(0),
    };
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guidance(s: &str) -> Guidance {
        Instructor::default().parse(s).guidance
    }

    /// The wanted and refused phrases of an instruction.
    fn wanted_and_refused(say: &str) -> (Vec<String>, Vec<String>) {
        let g = guidance(say);
        let names = |t: &[TopicWeight]| t.iter().map(|t| t.topic.clone()).collect();
        (names(&g.include), names(&g.exclude))
    }

    fn topics(list: &[TopicWeight]) -> Vec<&str> {
        let mut v: Vec<&str> = list.iter().map(|t| t.topic.as_str()).collect();
        v.sort();
        v
    }

    #[test]
    fn edit_distance_counts_transpositions_as_one() {
        assert_eq!(edit_distance("politcs", "politics"), 1);
        assert_eq!(edit_distance("buisness", "business"), 1);
        assert_eq!(edit_distance("footbal", "football"), 1);
        assert_eq!(edit_distance("calmr", "calmer"), 1);
        assert_eq!(edit_distance("sport", "short"), 1);
        assert_eq!(edit_distance("tech", "tech"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn typos_in_keywords_are_corrected_and_real_words_are_not() {
        let lex = Lexicon::build();
        let tok = |w: &str| Tok {
            w: w.to_string(),
            orig: w.to_string(),
            brk: Break::None,
            poss: false,
            hyph: false,
        };
        for (typo, want) in [
            ("politcs", "politics"),
            ("footbal", "football"),
            ("shoter", "shorter"),
            ("sumarise", "summarise"),
            ("summarize", "summarize"),
            ("calmr", "calmer"),
            ("technolgy", "technology"),
            ("cheerfull", "cheerful"),
            ("somthing", "something"),
        ] {
            let got = lex.correct(&tok(typo), true);
            let got = got.unwrap_or(typo);
            assert_eq!(got, want, "{typo}");
        }
        for word in [
            "normal",
            "format",
            "officials",
            "based",
            "looking",
            "sorts",
            "amazing",
            "shooter",
            "quantum",
            "knitting",
            "selection",
            "stock",
        ] {
            assert_eq!(lex.correct(&tok(word), true), None, "{word}");
        }
        // A capitalised word inside a sentence is a name.
        let name = Tok {
            w: "tenis".into(),
            orig: "Tenis".into(),
            brk: Break::None,
            poss: false,
            hyph: false,
        };
        assert_eq!(lex.correct(&name, false), None);
        assert_eq!(lex.correct(&name, true), Some("tennis"));
    }

    #[test]
    fn negation_scope_runs_to_the_next_marker_or_sentence() {
        let g = guidance("no more football, rugby or cricket. tennis");
        assert_eq!(topics(&g.exclude), ["cricket", "football", "rugby"]);
        assert_eq!(topics(&g.include), ["tennis"]);

        let g = guidance("less politics, more tech and something upbeat");
        assert_eq!(topics(&g.exclude), ["politics"]);
        assert_eq!(topics(&g.include), ["tech"]);
        assert_eq!(g.tone, Some(Tone::Upbeat));

        let g = guidance("I like sport but not football");
        assert_eq!(topics(&g.include), ["sport"]);
        assert_eq!(topics(&g.exclude), ["football"]);

        // "please" after an inherited refusal wants.
        let g = guidance("no politics, tech please");
        assert_eq!(topics(&g.exclude), ["politics"]);
        assert_eq!(topics(&g.include), ["tech"]);

        // A refusal that negates a tone does not refuse what follows.
        let g = guidance("less serious stuff about films");
        assert_eq!(g.tone, Some(Tone::Casual));
        assert_eq!(topics(&g.include), ["films"]);
        assert_eq!(topics(&g.include_categories), ["entertainment"]);

        // "no more" is one marker.
        let g = guidance("no more football");
        assert!(g.include.is_empty());
        assert_eq!(topics(&g.exclude), ["football"]);

        let g = guidance("football? no thanks");
        assert_eq!(topics(&g.exclude), ["football"]);
        assert!(g.include.is_empty());

        let g = guidance("nothing about the Mars landing");
        assert_eq!(topics(&g.exclude), ["mars landing"]);
        assert_eq!(g.fact_query, "");
    }

    #[test]
    fn chatter_is_not_a_fact_query() {
        assert_eq!(
            guidance("something funny please, i've had a rough day").fact_query,
            ""
        );
        assert_eq!(guidance("quantum knitting").fact_query, "quantum knitting");
        assert_eq!(
            guidance("tell me about quantum knitting").fact_query,
            "quantum knitting"
        );
        assert_eq!(
            guidance("a digest of this week's markets").fact_query,
            "markets business"
        );
        assert_eq!(
            guidance("cut the part about the goal into a clip").fact_query,
            "goal"
        );
    }

    #[test]
    fn hedges_weigh_half() {
        let g = guidance("a bit of sport and lots of tennis");
        let w = |t: &str| g.include.iter().find(|x| x.topic == t).map(|x| x.weight);
        assert_eq!(w("sport"), Some(0.5));
        assert_eq!(w("tennis"), Some(1.0));
        assert_eq!(g.include[0].topic, "tennis", "strongest first");
    }

    #[test]
    fn number_words_combine() {
        let toks = tokenize("twenty five");
        assert_eq!(parse_count(&toks, 0), Some((Count::Number(25.0), 2)));
        let toks = tokenize("two hundred and fifty words");
        assert_eq!(parse_count(&toks, 0), Some((Count::Number(250.0), 4)));
        let toks = tokenize("a hundred");
        assert_eq!(parse_count(&toks, 0), Some((Count::Number(100.0), 2)));
        let toks = tokenize("a couple of");
        assert_eq!(parse_count(&toks, 0), Some((Count::Number(2.0), 3)));
        let toks = tokenize("twelve");
        assert_eq!(parse_count(&toks, 0), Some((Count::Number(12.0), 1)));
        let toks = tokenize("banana");
        assert_eq!(parse_count(&toks, 0), None);
    }

    #[test]
    fn lengths_are_parsed() {
        let len = |s: &str| guidance(s).length;
        let abs = |unit, value| {
            Some(Length {
                unit,
                value,
                relative: 0.0,
            })
        };
        let rel = |r| {
            Some(Length {
                unit: LengthUnit::Words,
                value: 0,
                relative: r,
            })
        };
        assert_eq!(len("in three sentences"), abs(LengthUnit::Sentences, 3));
        assert_eq!(len("3 sentences"), abs(LengthUnit::Sentences, 3));
        assert_eq!(len("in 100 words"), abs(LengthUnit::Words, 100));
        assert_eq!(len("under 50 words please"), abs(LengthUnit::Words, 50));
        assert_eq!(len("a two-minute digest"), abs(LengthUnit::Seconds, 120));
        assert_eq!(len("2 minute read"), abs(LengthUnit::Seconds, 120));
        assert_eq!(len("a 5min read"), abs(LengthUnit::Seconds, 300));
        assert_eq!(len("30 seconds"), abs(LengthUnit::Seconds, 30));
        assert_eq!(len("half a minute"), abs(LengthUnit::Seconds, 30));
        assert_eq!(len("in a sentence"), abs(LengthUnit::Sentences, 1));
        assert_eq!(len("a paragraph"), abs(LengthUnit::Sentences, 4));
        assert_eq!(len("twenty five words"), abs(LengthUnit::Words, 25));
        assert_eq!(len("shorter"), rel(0.5));
        assert_eq!(len("much shorter"), rel(0.3));
        assert_eq!(len("a lot shorter"), rel(0.3));
        assert_eq!(len("a bit shorter"), rel(0.75));
        assert_eq!(len("longer, with more detail"), rel(1.5));
        // "tl;dr" asks for a summary, not a length.
        assert_eq!(len("tl;dr"), None);
        assert_eq!(len("something brief"), rel(0.3));
        assert_eq!(
            len("shorter, like three sentences"),
            abs(LengthUnit::Sentences, 3)
        );
        assert_eq!(len("a minute ago"), None);
        assert_eq!(len("the second half"), None);
        // "less than" belongs to the length, not a refusal.
        let g = guidance("less than 50 words about tech");
        assert_eq!(g.length, abs(LengthUnit::Words, 50));
        assert_eq!(topics(&g.include), ["tech"]);
        assert!(g.exclude.is_empty());
    }

    #[test]
    fn recency_reads_dates_that_qualify_news() {
        assert_eq!(guidance("this week's markets").recency_days, 7);
        assert_eq!(guidance("today's headlines").recency_days, 1);
        assert_eq!(guidance("something calmer today").recency_days, 0);
        assert_eq!(guidance("what happened in politics today").recency_days, 1);
        assert_eq!(guidance("tech from the last 3 days").recency_days, 3);
        assert_eq!(guidance("this month").recency_days, 30);
        assert_eq!(
            guidance("not in the mood for politics today").recency_days,
            0
        );
    }

    #[test]
    fn imitation_keeps_the_name_as_written() {
        assert_eq!(
            guidance("in the style of Shakespeare").imitate.as_deref(),
            Some("Shakespeare")
        );
        assert_eq!(
            guidance("rewrite this like a pirate").imitate.as_deref(),
            Some("a pirate")
        );
        assert_eq!(
            guidance("as if a toddler wrote it").imitate.as_deref(),
            Some("a toddler")
        );
        assert_eq!(
            guidance("in Hemingway's style").imitate.as_deref(),
            Some("Hemingway")
        );
        assert_eq!(guidance("like this but funnier").imitate, None);
        assert_eq!(guidance("stuff like football").imitate, None);
        assert_eq!(guidance("I'd like a digest").imitate, None);
        assert_eq!(guidance("something like a digest").imitate, None);
    }

    #[test]
    fn a_refusal_of_it_alone_refuses_what_the_segment_before_said() {
        for say in [
            "plastic pollution makes me sad, skip it",
            "plastic pollution, stop that",
            "plastic pollution, drop them please",
        ] {
            assert_eq!(
                wanted_and_refused(say),
                (vec![], vec!["plastic pollution".to_string()]),
                "{say}"
            );
        }
        // A refusal with a topic of its own refuses only that topic.
        assert_eq!(
            wanted_and_refused("plastic pollution, skip the heatwave"),
            (
                vec!["plastic pollution".to_string()],
                vec!["heatwave".to_string()]
            )
        );
    }

    #[test]
    fn signs_repeats_and_late_refusals_read_as_words() {
        let g = guidance("musicals > films");
        assert_eq!(topics(&g.include), vec!["musicals"]);
        assert_eq!(topics(&g.exclude), vec!["films"]);
        assert_eq!(topics(&guidance("golf golf golf").include), vec!["golf"]);
        for say in [
            "pensions aren't for me",
            "cycling is something I don't want to see",
        ] {
            let g = guidance(say);
            assert!(g.include.is_empty(), "{say}: {:?}", g.include);
            assert_eq!(g.exclude.len(), 1, "{say}");
        }
        // "-free" refuses when it describes the feed, not a topic.
        let g = guidance("a cycling-free feed please");
        assert!(g.include.is_empty(), "{:?}", g.include);
        assert_eq!(topics(&g.exclude), vec!["cycling"]);
        let g = guidance("a gluten-free diet story");
        assert!(g.exclude.is_empty(), "{:?}", g.exclude);
        assert_eq!(topics(&g.include), vec!["gluten-free diet"]);
        // Tolerance said after the topic, dropped by a "but".
        let g = guidance("boxing is ok but I really love tennis");
        assert_eq!(topics(&g.include), vec!["tennis"]);
        let g = guidance("boxing is ok");
        assert_eq!(topics(&g.include), vec!["boxing"]);
        assert_eq!(g.include[0].weight, 0.5);
        // A refusal ending the segment that named its topic.
        let g = guidance("the budget, the EU talks not so much");
        assert_eq!(topics(&g.include), vec!["budget"]);
        assert_eq!(topics(&g.exclude), vec!["eu talks"]);
        let g = guidance("EU stuff - yes. Senate - no.");
        assert_eq!(topics(&g.include), vec!["eu"]);
        assert_eq!(topics(&g.exclude), vec!["senate"]);
    }

    #[test]
    fn a_contrastive_refusal_ends_at_its_comma_and_a_plain_one_runs_on() {
        for say in ["rather than heatwaves, Mars", "instead of heatwaves, Mars"] {
            assert_eq!(
                wanted_and_refused(say),
                (vec!["mars".to_string()], vec!["heatwaves".to_string()]),
                "{say}"
            );
        }
        // A plain refusal still runs over a list across commas.
        let (include, exclude) = wanted_and_refused("no heatwaves, Mars");
        assert!(include.is_empty(), "{include:?}");
        assert_eq!(exclude, vec!["heatwaves".to_string(), "mars".to_string()]);
    }

    #[test]
    fn a_change_of_mood_asked_with_an_item_in_view_edits_it_and_a_change_without_a_how_does_not() {
        let ins = Instructor::default();
        let read = |say: &str, view: Option<&str>| {
            ins.interpret(&InterpretInput {
                instruction: say.to_string(),
                context_item: view.map(str::to_string),
                ..Default::default()
            })
        };
        for (say, tone) in [
            ("less scary please", Tone::Calm),
            ("soften this one a little", Tone::Calm),
            ("say this more soothingly", Tone::Calm),
            ("same article, less bleak", Tone::Upbeat),
        ] {
            let r = read(say, Some("x-1"));
            assert_eq!(r.decision.action, Action::Edit, "{say}");
            assert_eq!(r.guidance.tone, Some(tone), "{say}");
            assert_eq!(r.guidance.target_item.as_deref(), Some("x-1"), "{say}");
            assert!(
                r.guidance.include.is_empty(),
                "{say}: {:?}",
                r.guidance.include
            );
            // With nothing in view the same words ask the feed for the tone.
            let r = read(say, None);
            assert_eq!(r.decision.action, Action::Retrieve, "{say}");
            assert_eq!(r.guidance.tone, Some(tone), "{say}");
        }
        // Comparatives are marked in the table, not guessed from spelling:
        // "calmer" asks to change the item, "sober" (a tone, not a
        // comparison) asks the feed for it.
        assert_eq!(
            read("calmer please", Some("x-1")).decision.action,
            Action::Edit
        );
        let r = read("sober please", Some("x-1"));
        assert_eq!(r.decision.action, Action::Retrieve);
        assert_eq!(r.guidance.tone, Some(Tone::Serious));
        // A refusal of a mood is a preference, not a change of the item.
        let r = read("nothing upsetting today", Some("x-1"));
        assert_eq!(r.decision.action, Action::Retrieve);
        assert_eq!(r.guidance.tone, Some(Tone::Calm));
        assert!(r.guidance.exclude.is_empty());
        // "rewrite this" names no change: the editor would have nothing to
        // do, so nothing is edited and the explanation says what to add.
        let r = read("rewrite this", Some("x-1"));
        assert_eq!(r.decision.action, Action::Retrieve);
        assert!(
            r.decision.explanation.contains("not how"),
            "{}",
            r.decision.explanation
        );
    }

    #[test]
    fn truncation_keeps_char_boundaries() {
        let s = "é".repeat(10);
        assert_eq!(truncate(&s, 5), "éé");
        assert_eq!(truncate(&s, 0), "");
        assert_eq!(truncate("abc", 10), "abc");
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let ins = Instructor::new(InstructorConfig {
            rejection_streak: 0,
            min_relevance: f32::NAN,
            max_instruction_bytes: 7,
            min_similarity: f32::NAN,
        });
        for s in [
            "",
            " ",
            "'",
            "''s",
            "-",
            "tl;",
            ";dr",
            "a",
            "half",
            "last",
            "the last",
            "in",
            "less than",
            "99999999999999999999 words",
            "🙂🙂🙂",
            "Ünïcödé ÄÖÜ straße",
            "like",
            "as if",
            "in the style of",
            "style",
            "in style",
            "tl;dr tl;dr",
            "a a a a a a",
            "\u{0}\u{1}",
            "...,,,;;;",
            "no no no no",
        ] {
            let input = InterpretInput {
                instruction: s.to_string(),
                ..Default::default()
            };
            let _ = ins.interpret(&input);
            let _ = Instructor::default().interpret(&input);
        }
    }

    #[test]
    fn relevance_prefers_tagged_topics_and_penalises_refused_ones() {
        let ins = Instructor::default();
        let tech = Candidate {
            item_id: "t".into(),
            title: "New phones".into(),
            tags: vec!["tech".into()],
            text: "Smartphone makers showed faster chips.".into(),
            ..Default::default()
        };
        let sport = Candidate {
            item_id: "s".into(),
            title: "Late winner".into(),
            tags: vec!["sport".into()],
            text: "A football match decided by a late goal.".into(),
            ..Default::default()
        };
        let g = guidance("more tech");
        assert_eq!(ins.relevance(&g, &tech), 1.0);
        assert_eq!(ins.relevance(&g, &sport), 0.0);
        let g = guidance("football");
        assert_eq!(ins.relevance(&g, &sport), 1.0);
        let g = guidance("no football");
        assert!(ins.relevance(&g, &sport) < 1.0);
        assert_eq!(ins.relevance(&g, &tech), 1.0);
        let g = guidance("golf");
        assert_eq!(
            ins.relevance(&g, &sport),
            PARENT_CREDIT,
            "a sport tag is a weak match"
        );
    }

    #[test]
    fn the_phrase_and_text_speak_files_parse_and_bad_lines_are_named() {
        assert!(parse_phrases("phrases.tsv", PHRASES).unwrap().len() > 20);
        let core = parse_phrases("instructor.tsv", CORE_PHRASES).unwrap();
        assert!(core.len() > 900, "{}", core.len());
        assert!(word_list(FILLER_WORDS).len() > 400);
        assert!(word_list(PROTECTED_WORDS).contains(&"record"));
        assert!(parse_text_speak(TEXT_SPEAK).unwrap().contains_key("pls"));
        let e = parse_phrases("phrases.tsv", "# c\nsome phrase\tinc:2\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("weight"), "{e}");
        let e = parse_phrases("instructor.tsv", "x\tabs:furlongs:3\n").unwrap_err();
        assert!(
            e.contains("instructor.tsv") && e.contains("furlongs"),
            "{e}"
        );
        let e = parse_phrases("phrases.tsv", "x\tshout\n").unwrap_err();
        assert!(e.contains("shout"), "{e}");
        assert!(parse_text_speak("pls\n").unwrap_err().contains("line 1"));
    }

    #[test]
    fn topics_are_phrases_as_said_with_their_categories_beside() {
        let g = guidance("more about electric cars and the Bank of England, fewer e-scooters");
        assert_eq!(topics(&g.include), ["bank of england", "electric cars"]);
        assert_eq!(topics(&g.exclude), ["e-scooters"]);
        assert_eq!(g.exclude[0].weight, 0.5);
        // However long the instruction, the guidance stays within what the
        // service accepts back (32 topics a side, 128 bytes a topic).
        let many: String = (0..100).map(|i| format!("no topic{i}, ")).collect();
        let g = guidance(&many);
        assert_eq!(g.exclude.len(), 32);
        let g = guidance(&format!("more {}", "zorblax ".repeat(100)));
        assert!(g.include.iter().all(|t| t.topic.len() <= 128));
        let g = guidance("theatre over television");
        assert_eq!(topics(&g.include), ["theatre"]);
        assert_eq!(topics(&g.exclude), ["television"]);
        let g = guidance("news on the row over pay");
        assert!(g.exclude.is_empty(), "{:?}", g.exclude);
        let g = guidance("I don't mind politics but I love science");
        assert_eq!(topics(&g.include), ["science"]);
        let g = guidance("moar tenis pls");
        assert_eq!(topics(&g.include), ["tennis"]);
    }

    #[test]
    fn a_topic_typo_is_corrected_only_to_a_word_the_candidates_hold() {
        let cand = Candidate {
            item_id: "v".into(),
            title: "Malaria vaccines work".into(),
            text: "Two vaccines cut cases.".into(),
            ..Candidate::default()
        };
        let run = |say: &str| {
            Instructor::default()
                .interpret(&InterpretInput {
                    instruction: say.into(),
                    candidates: vec![cand.clone()],
                    ..InterpretInput::default()
                })
                .guidance
        };
        assert_eq!(topics(&run("more vacines").include), ["vaccines"]);
        // An inflection or a word the candidates lack is left as said.
        assert_eq!(topics(&run("more vaccine").include), ["vaccine"]);
        assert_eq!(topics(&run("more knitting").include), ["knitting"]);
    }

    /// Vectors by a keyword: texts that mention fish point one way, the
    /// rest another; counts the texts it embeds.
    struct FishVectors(std::sync::atomic::AtomicUsize);

    impl Embed for FishVectors {
        fn id(&self) -> &str {
            "fish-vectors"
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
            self.0
                .fetch_add(texts.len(), std::sync::atomic::Ordering::Relaxed);
            Ok(texts
                .iter()
                .map(|t| {
                    if t.to_lowercase().contains("fish") {
                        vec![1.0, 0.0]
                    } else {
                        vec![0.0, 1.0]
                    }
                })
                .collect())
        }
    }

    #[test]
    fn relevance_by_meaning_serves_what_words_miss_and_caches_candidates() {
        let counter = Arc::new(FishVectors(Default::default()));
        let ins = Instructor::default().with_embedding(counter.clone());
        let input = |say: &str| InterpretInput {
            instruction: say.into(),
            candidates: vec![Candidate {
                item_id: "n".into(),
                title: "Debut novel wins prize".into(),
                text: "A novel about a family of fishermen won.".into(),
                ..Candidate::default()
            }],
            ..InterpretInput::default()
        };
        let words = Instructor::default().interpret(&input("more angling, fish stories"));
        assert_eq!(words.decision.action, Action::Create);
        let meant = ins.interpret(&input("more angling, fish stories"));
        assert_eq!(meant.decision.action, Action::Retrieve);
        let other = ins.interpret(&input("more snooker"));
        assert_eq!(other.decision.action, Action::Create);
        // Two requests embedded the candidate once: 2 instructions + 1 item.
        assert_eq!(counter.0.load(std::sync::atomic::Ordering::Relaxed), 3);
        assert_eq!(ins.embedding(), Some("fish-vectors"));
    }

    #[test]
    fn config_validation() {
        assert!(InstructorConfig::default().validate().is_ok());
        let bad = InstructorConfig {
            min_relevance: 1.5,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = InstructorConfig {
            rejection_streak: 0,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = InstructorConfig {
            max_instruction_bytes: 0,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
