//! The vocabulary the instructor, the editor and the creator share: what a
//! user asked for ([`Guidance`]), what the platform will do about it
//! ([`Decision`]), and the inputs the instructor reads ([`InterpretInput`]).
//!
//! These are plain data with a stable JSON form (snake_case names), printed
//! by `generec interpret` and mapped one to one onto `generec.generation.v1`.

use serde::{Deserialize, Serialize};

/// A topic the user wants more or less of. `weight` is in (0, 1]: 1 for a
/// plain request ("more tech"), lower for a hedged one ("a bit of sport").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicWeight {
    pub topic: String,
    pub weight: f32,
}

/// The register a user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Neutral,
    Calm,
    Upbeat,
    Serious,
    Formal,
    Casual,
    Playful,
}

impl Tone {
    pub const ALL: [Tone; 7] = [
        Tone::Neutral,
        Tone::Calm,
        Tone::Upbeat,
        Tone::Serious,
        Tone::Formal,
        Tone::Casual,
        Tone::Playful,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Tone::Neutral => "neutral",
            Tone::Calm => "calm",
            Tone::Upbeat => "upbeat",
            Tone::Serious => "serious",
            Tone::Formal => "formal",
            Tone::Casual => "casual",
            Tone::Playful => "playful",
        }
    }

    pub fn parse(s: &str) -> Option<Tone> {
        Tone::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// The shape of the output the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Article,
    Digest,
    Summary,
    Clip,
    Thumbnail,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Article,
        Format::Digest,
        Format::Summary,
        Format::Clip,
        Format::Thumbnail,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Article => "article",
            Format::Digest => "digest",
            Format::Summary => "summary",
            Format::Clip => "clip",
            Format::Thumbnail => "thumbnail",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// The unit of a length target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LengthUnit {
    Sentences,
    Words,
    /// Reading or playing time.
    Seconds,
}

impl LengthUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            LengthUnit::Sentences => "sentences",
            LengthUnit::Words => "words",
            LengthUnit::Seconds => "seconds",
        }
    }

    pub fn parse(s: &str) -> Option<LengthUnit> {
        [
            LengthUnit::Sentences,
            LengthUnit::Words,
            LengthUnit::Seconds,
        ]
        .into_iter()
        .find(|u| u.as_str() == s)
    }
}

/// How long the output should be: an absolute target ("three sentences",
/// "two minutes") or, with `relative`, a factor of the source's length
/// ("shorter" is 0.5, "much shorter" 0.3, "longer" 1.5).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Length {
    pub unit: LengthUnit,
    /// The target in `unit`; 0 when only `relative` is set.
    pub value: u32,
    /// A factor of the source's length; 0 when `value` is set.
    pub relative: f32,
}

/// What the user asked for, in a form the editor and the creator act on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Guidance {
    /// Topics to favour, strongest first: phrases and names as the user
    /// said them ("electric cars", "chelsea").
    pub include: Vec<TopicWeight>,
    /// Topics to avoid, strongest first; a weight below 1 turns the topic
    /// down ("fewer"), 1 removes it ("nothing about").
    pub exclude: Vec<TopicWeight>,
    /// The catalogue categories the wanted topics map to, where the topic
    /// words are known ones ("films" is `entertainment`); secondary to
    /// `include`.
    #[serde(default)]
    pub include_categories: Vec<TopicWeight>,
    /// The catalogue categories the refused topics map to.
    #[serde(default)]
    pub exclude_categories: Vec<TopicWeight>,
    pub tone: Option<Tone>,
    pub length: Option<Length>,
    pub format: Option<Format>,
    /// The item an edit applies to.
    pub target_item: Option<String>,
    /// Free text to search the corpus with for facts (empty: none).
    pub fact_query: String,
    /// A style or person the user asked to imitate ("like a pirate").
    pub imitate: Option<String>,
    /// Only facts from the last this-many days ("this week's" is 7); 0: any.
    pub recency_days: u32,
}

/// What the platform does about a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Rank what exists; generate nothing.
    Retrieve,
    /// Repurpose `Decision::target_item`.
    Edit,
    /// Compose a new item from facts in the corpus.
    Create,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Retrieve => "retrieve",
            Action::Edit => "edit",
            Action::Create => "create",
        }
    }
}

/// Why the instructor chose to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Nothing fired: retrieval serves the request.
    None,
    /// The user asked for an edit or a new item in so many words.
    ExplicitRequest,
    /// The user rejected (skipped, disliked) the last N items in a row.
    RejectionStreak,
    /// The user asked for something and no candidate is relevant enough.
    NoRelevantCandidate,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::None => "none",
            Trigger::ExplicitRequest => "explicit_request",
            Trigger::RejectionStreak => "rejection_streak",
            Trigger::NoRelevantCandidate => "no_relevant_candidate",
        }
    }
}

/// The instructor's decision, with a one-line explanation a person can read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub action: Action,
    /// The item to edit when `action` is `Edit`.
    pub target_item: Option<String>,
    pub trigger: Trigger,
    pub explanation: String,
}

/// One reaction of the user in this session, oldest first in a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeedbackSignal {
    pub item_id: String,
    pub kind: FeedbackKind,
}

/// The reactions the instructor distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    Impression,
    Click,
    Like,
    Complete,
    Share,
    /// Scrolled past without engaging: counts toward a rejection streak.
    Skip,
    /// Counts toward a rejection streak.
    Dislike,
}

impl FeedbackKind {
    /// Whether this reaction rejects the item.
    pub fn is_rejection(self) -> bool {
        matches!(self, FeedbackKind::Skip | FeedbackKind::Dislike)
    }

    /// Whether this reaction engages with the item (ends a streak).
    pub fn is_engagement(self) -> bool {
        matches!(
            self,
            FeedbackKind::Click | FeedbackKind::Like | FeedbackKind::Complete | FeedbackKind::Share
        )
    }
}

/// An item retrieval found for the request, with its score.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub item_id: String,
    /// The retrieval score (higher is better; scale depends on the source).
    pub score: f32,
    pub title: String,
    pub tags: Vec<String>,
    /// A short text of the item (a snippet or the first sentences).
    pub text: String,
    /// Whether the item has timed segments (video, music).
    pub timed: bool,
}

/// Everything the instructor reads for one request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InterpretInput {
    pub user_id: String,
    /// What the user said; may be empty.
    pub instruction: String,
    /// The item the user is looking at, which "this" and "it" refer to.
    pub context_item: Option<String>,
    /// The session's recent feedback, oldest first.
    pub feedback: Vec<FeedbackSignal>,
    /// What retrieval found, best first.
    pub candidates: Vec<Candidate>,
}

/// The instructor's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interpretation {
    pub guidance: Guidance,
    pub decision: Decision,
}
