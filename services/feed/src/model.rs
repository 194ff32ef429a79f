//! The feed's domain: validated requests, the entries of a feed with the
//! verdict that admitted them, and what a response reports.
//!
//! An [`Entry`] can only hold an [`Allowed`] verdict, and a generated entry
//! only a [`Verified`] manifest, which [`crate::admit`] alone makes: the
//! types carry the feed's invariant.

use generec_common::types::Origin;
use generec_corpus::model::Item;
use generec_proto::generation::v1 as gen_pb;
use generec_proto::trust::v1 as trust_pb;

use crate::error::FeedError;
use crate::metrics::ListMetrics;

/// Request limits.
pub mod limits {
    /// Longest user or item id, in bytes.
    pub const MAX_ID_BYTES: usize = 256;
    /// Most items in one feed.
    pub const MAX_COUNT: u32 = 100;
    /// Longest instruction, in bytes.
    pub const MAX_INSTRUCTION_BYTES: usize = 4096;
}

fn check_id(field: &str, value: &str, required: bool) -> Result<(), FeedError> {
    if value.is_empty() {
        return if required {
            Err(FeedError::invalid(field, "must not be empty"))
        } else {
            Ok(())
        };
    }
    if value.len() > limits::MAX_ID_BYTES {
        return Err(FeedError::invalid(
            field,
            format!(
                "is {} bytes; the limit is {}",
                value.len(),
                limits::MAX_ID_BYTES
            ),
        ));
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(FeedError::invalid(
            field,
            "must not contain whitespace or control characters",
        ));
    }
    Ok(())
}

fn check_instruction(value: &str, required: bool) -> Result<(), FeedError> {
    if required && value.trim().is_empty() {
        return Err(FeedError::invalid("instruction", "must not be empty"));
    }
    if value.len() > limits::MAX_INSTRUCTION_BYTES {
        return Err(FeedError::invalid(
            "instruction",
            format!(
                "is {} bytes; the limit is {}",
                value.len(),
                limits::MAX_INSTRUCTION_BYTES
            ),
        ));
    }
    Ok(())
}

/// A validated GetFeed request.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedRequest {
    pub user_id: String,
    pub count: usize,
    pub instruction: String,
    pub context_item_id: Option<String>,
}

impl FeedRequest {
    /// Validates the fields, naming the first bad one.
    pub fn parse(
        user_id: String,
        count: u32,
        instruction: String,
        context_item_id: String,
    ) -> Result<FeedRequest, FeedError> {
        check_id("user_id", &user_id, true)?;
        if count == 0 || count > limits::MAX_COUNT {
            return Err(FeedError::invalid(
                "count",
                format!("must be between 1 and {}, got {count}", limits::MAX_COUNT),
            ));
        }
        check_instruction(&instruction, false)?;
        check_id("context_item_id", &context_item_id, false)?;
        Ok(FeedRequest {
            user_id,
            count: count as usize,
            instruction,
            context_item_id: (!context_item_id.is_empty()).then_some(context_item_id),
        })
    }
}

/// A validated Instruct request.
#[derive(Clone, Debug, PartialEq)]
pub struct InstructRequest {
    pub user_id: String,
    pub instruction: String,
    pub context_item_id: Option<String>,
}

impl InstructRequest {
    /// Validates the fields, naming the first bad one.
    pub fn parse(
        user_id: String,
        instruction: String,
        context_item_id: String,
    ) -> Result<InstructRequest, FeedError> {
        check_id("user_id", &user_id, true)?;
        check_instruction(&instruction, true)?;
        check_id("context_item_id", &context_item_id, false)?;
        Ok(InstructRequest {
            user_id,
            instruction,
            context_item_id: (!context_item_id.is_empty()).then_some(context_item_id),
        })
    }
}

/// Validates a user id (WatchFeed, SubmitFeedback).
pub fn parse_user(user_id: &str) -> Result<(), FeedError> {
    check_id("user_id", user_id, true)
}

/// Validates an item id.
pub fn parse_item(field: &str, item_id: &str) -> Result<(), FeedError> {
    check_id(field, item_id, true)
}

/// A kind of feedback, as the instructor reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Impression,
    Click,
    Like,
    Complete,
    Share,
    Skip,
    Dislike,
}

impl Signal {
    /// Reads the generation service's enum value.
    pub fn from_proto(value: i32) -> Result<Signal, FeedError> {
        use gen_pb::FeedbackKind as K;
        match K::try_from(value) {
            Ok(K::Impression) => Ok(Signal::Impression),
            Ok(K::Click) => Ok(Signal::Click),
            Ok(K::Like) => Ok(Signal::Like),
            Ok(K::Complete) => Ok(Signal::Complete),
            Ok(K::Share) => Ok(Signal::Share),
            Ok(K::Skip) => Ok(Signal::Skip),
            Ok(K::Dislike) => Ok(Signal::Dislike),
            Ok(K::Unspecified) => Err(FeedError::invalid("kind", "must be set")),
            Err(_) => Err(FeedError::invalid("kind", format!("unknown value {value}"))),
        }
    }

    /// The generation service's enum value.
    pub fn to_proto(self) -> i32 {
        use gen_pb::FeedbackKind as K;
        (match self {
            Signal::Impression => K::Impression,
            Signal::Click => K::Click,
            Signal::Like => K::Like,
            Signal::Complete => K::Complete,
            Signal::Share => K::Share,
            Signal::Skip => K::Skip,
            Signal::Dislike => K::Dislike,
        }) as i32
    }

    /// The corpus event type that records it.
    pub fn corpus_event(self) -> i32 {
        use generec_proto::corpus::v1::EventType as E;
        (match self {
            Signal::Impression => E::Impression,
            Signal::Click => E::Click,
            Signal::Like => E::Like,
            Signal::Complete => E::Complete,
            Signal::Share => E::Share,
            Signal::Skip => E::Skip,
            Signal::Dislike => E::Dislike,
        }) as i32
    }

    /// Skip or dislike.
    pub fn is_rejection(self) -> bool {
        matches!(self, Signal::Skip | Signal::Dislike)
    }

    /// Click, like, complete or share.
    pub fn is_engagement(self) -> bool {
        matches!(
            self,
            Signal::Click | Signal::Like | Signal::Complete | Signal::Share
        )
    }
}

/// A trust verdict that lets an item into a feed. Redact, review and block
/// have no value here: an entry cannot carry them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowed {
    Allow,
    AllowWithLabel,
}

impl Allowed {
    /// The allowing verdict of a trust response, or `None` for any other.
    pub fn from_trust(verdict: i32) -> Option<Allowed> {
        match trust_pb::Verdict::try_from(verdict) {
            Ok(trust_pb::Verdict::Allow) => Some(Allowed::Allow),
            Ok(trust_pb::Verdict::AllowWithLabel) => Some(Allowed::AllowWithLabel),
            _ => None,
        }
    }

    /// The allowing verdict a manifest records (`allow`, `allow_with_label`).
    pub fn from_name(name: &str) -> Option<Allowed> {
        match name {
            "allow" => Some(Allowed::Allow),
            "allow_with_label" => Some(Allowed::AllowWithLabel),
            _ => None,
        }
    }

    /// The trust service's enum value.
    pub fn to_trust(self) -> i32 {
        (match self {
            Allowed::Allow => trust_pb::Verdict::Allow,
            Allowed::AllowWithLabel => trust_pb::Verdict::AllowWithLabel,
        }) as i32
    }
}

/// A manifest that verified against the trust service's published keys
/// and binds the item's text. Only [`crate::admit`] makes one.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    pub(crate) manifest_id: String,
    pub(crate) verdict: Allowed,
}

impl Verified {
    /// The manifest's id.
    pub fn manifest_id(&self) -> &str {
        &self.manifest_id
    }

    /// The review verdict the manifest records (signed).
    pub fn verdict(&self) -> Allowed {
        self.verdict
    }
}

/// One item of a feed, with why it is there.
#[derive(Clone, Debug)]
pub struct Entry {
    /// As the corpus stores it.
    pub item: Item,
    /// The verdict that admitted it.
    pub verdict: Allowed,
    /// Set exactly for generated items.
    pub provenance: Option<Verified>,
    /// Why it was chosen, or why it was made.
    pub reason: String,
    /// What made it (generation's `Trigger`); `TRIGGER_NONE` for retrieved items.
    pub trigger: i32,
    pub score: f32,
    /// Made for this user (this request or a background generation).
    pub made_for_you: bool,
}

impl Entry {
    /// Whether a generator made or changed the item.
    pub fn is_generated(&self) -> bool {
        self.item.origin != Origin::Human
    }

    /// The creator the diversity rule counts.
    pub fn creator(&self) -> &str {
        &self.item.creator_id
    }
}

/// What happened to generation for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenerationStatus {
    /// The instructor decided to retrieve only.
    None,
    /// A generated item is in the response.
    Ready,
    /// Still running; the item comes with a later request.
    Pending,
    /// Ran and produced nothing to show.
    Failed,
    /// Not attempted: a service it needs is down.
    Skipped,
}

/// A feed response.
#[derive(Clone, Debug)]
pub struct FeedPage {
    pub entries: Vec<Entry>,
    /// Why the feed is degraded, one line per cause; empty when it is not.
    pub degraded: Vec<String>,
    pub generation: GenerationStatus,
    pub generation_detail: String,
    pub guidance: Option<gen_pb::Guidance>,
    pub decision: Option<gen_pb::Decision>,
    pub metrics: ListMetrics,
    /// Candidates left out for want of an allowing verdict or a verifying
    /// manifest.
    pub dropped_unchecked: usize,
    pub deadline_ms: u64,
}

/// What Instruct returns.
#[derive(Clone, Debug)]
pub struct Instructed {
    pub guidance: Option<gen_pb::Guidance>,
    pub decision: Option<gen_pb::Decision>,
    /// Set when a background generation started.
    pub job_id: Option<String>,
}

/// The outcome of a background generation, as WatchFeed streams it.
#[derive(Clone, Debug)]
pub struct FeedEvent {
    pub user_id: String,
    pub job_id: String,
    pub outcome: Result<Entry, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_requests_name_their_field() {
        let cases = [
            (
                FeedRequest::parse("".into(), 10, "".into(), "".into()),
                "user_id",
            ),
            (
                FeedRequest::parse("a b".into(), 10, "".into(), "".into()),
                "user_id",
            ),
            (
                FeedRequest::parse("u".into(), 0, "".into(), "".into()),
                "count",
            ),
            (
                FeedRequest::parse("u".into(), 101, "".into(), "".into()),
                "count",
            ),
            (
                FeedRequest::parse("u".into(), 10, "x".repeat(5000), "".into()),
                "instruction",
            ),
            (
                FeedRequest::parse("u".into(), 10, "".into(), "x\ny".into()),
                "context_item_id",
            ),
        ];
        for (result, field) in cases {
            let err = result.unwrap_err().to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
        let ok = FeedRequest::parse("u".into(), 100, "".into(), "".into()).unwrap();
        assert_eq!(ok.count, 100);
        assert_eq!(ok.context_item_id, None);
        let err = InstructRequest::parse("u".into(), " ".into(), "".into()).unwrap_err();
        assert!(err.to_string().contains("instruction"));
    }

    #[test]
    fn only_allow_and_allow_with_label_are_allowed() {
        use trust_pb::Verdict as V;
        assert_eq!(Allowed::from_trust(V::Allow as i32), Some(Allowed::Allow));
        assert_eq!(
            Allowed::from_trust(V::AllowWithLabel as i32),
            Some(Allowed::AllowWithLabel)
        );
        for v in [V::Unspecified, V::Redact, V::Review, V::Block] {
            assert_eq!(Allowed::from_trust(v as i32), None, "{v:?}");
        }
        assert_eq!(Allowed::from_trust(99), None);
        assert_eq!(Allowed::from_name("allow"), Some(Allowed::Allow));
        assert_eq!(Allowed::from_name("redact"), None);
    }

    #[test]
    fn signals_round_trip_and_classify() {
        for s in [
            Signal::Impression,
            Signal::Click,
            Signal::Like,
            Signal::Complete,
            Signal::Share,
            Signal::Skip,
            Signal::Dislike,
        ] {
            assert_eq!(Signal::from_proto(s.to_proto()).unwrap(), s);
            assert!(!(s.is_rejection() && s.is_engagement()));
        }
        assert!(Signal::from_proto(0).is_err());
        assert!(Signal::Skip.is_rejection());
        assert!(!Signal::Impression.is_engagement());
    }
}
