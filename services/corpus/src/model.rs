//! The corpus domain: items, their validation and canonical content hash,
//! feedback events and what each kind of event says about an item.
//!
//! Everything here is plain data, independent of gRPC and storage.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::CorpusError;

/// Size limits on what a request may carry.
pub mod limits {
    /// Longest id (item, user, creator), in bytes.
    pub const MAX_ID_BYTES: usize = 256;
    /// Longest title, in bytes.
    pub const MAX_TITLE_BYTES: usize = 1_024;
    /// Longest body, in bytes.
    pub const MAX_BODY_BYTES: usize = 1024 * 1024;
    /// Most timed segments on one item.
    pub const MAX_SEGMENTS: usize = 10_000;
    /// Longest segment text, in bytes.
    pub const MAX_SEGMENT_TEXT_BYTES: usize = 16 * 1024;
    /// Most tags on an item or a segment.
    pub const MAX_TAGS: usize = 64;
    /// Longest tag, in bytes.
    pub const MAX_TAG_BYTES: usize = 128;
    /// Most parent ids on an item.
    pub const MAX_PARENTS: usize = 64;
    /// Longest licence id, in bytes.
    pub const MAX_LICENCE_BYTES: usize = generec_provenance::ids::MAX_LICENCE_BYTES;
    /// Largest provenance manifest, in bytes.
    pub const MAX_MANIFEST_BYTES: usize = 256 * 1024;
    /// Most items in one PutItems request.
    pub const MAX_PUT_BATCH: usize = 1_000;
    /// Most ids in one GetItems request.
    pub const MAX_GET_BATCH: usize = 1_000;
    /// Most events in one RecordFeedback request.
    pub const MAX_FEEDBACK_BATCH: usize = 10_000;
    /// Longest search query, in bytes.
    pub const MAX_QUERY_BYTES: usize = 4 * 1024;
    /// Most results in one Search, Recommend or SimilarItems response.
    pub const MAX_RESULTS: usize = 1_000;
    /// Deepest result offset Search pages to.
    pub const MAX_OFFSET: usize = 10_000;
    /// Most ids in a Recommend exclusion list.
    pub const MAX_EXCLUDE: usize = 10_000;
    /// How far in the future a timestamp may lie, in milliseconds (clock skew).
    pub const MAX_FUTURE_SKEW_MS: i64 = 24 * 3600 * 1000;
}

fn check_id(field: &str, value: &str) -> Result<(), CorpusError> {
    if value.is_empty() {
        return Err(CorpusError::invalid(field, "must not be empty"));
    }
    if value.len() > limits::MAX_ID_BYTES {
        return Err(CorpusError::invalid(
            field,
            format!(
                "is {} bytes; the limit is {}",
                value.len(),
                limits::MAX_ID_BYTES
            ),
        ));
    }
    // The same rule as every id the trust service signs or logs.
    generec_provenance::ids::check_id(value).map_err(|e| CorpusError::invalid(field, e))
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates an id: 1 to 256 bytes, no whitespace or control characters.
            pub fn parse(value: &str) -> Result<Self, CorpusError> {
                Self::parse_field($field, value)
            }

            /// Like [`Self::parse`], naming `field` in the error.
            pub fn parse_field(field: &str, value: &str) -> Result<Self, CorpusError> {
                check_id(field, value)?;
                Ok($name(value.to_string()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

typed_id!(
    /// The id of an item, unique in the corpus.
    ItemId,
    "id"
);
typed_id!(
    /// The id of a user who gives feedback and gets recommendations.
    UserId,
    "user_id"
);

pub use generec_common::types::{ItemKind, Origin};

/// A timed part of a video or music item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start_seconds: f64,
    pub end_seconds: f64,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// An item of the corpus, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    pub kind: ItemKind,
    pub title: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub segments: Vec<Segment>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub creator_id: String,
    pub origin: Origin,
    #[serde(default)]
    pub parent_ids: Vec<ItemId>,
    pub licence: String,
    #[serde(default)]
    pub created_unix_ms: i64,
    /// Hex SHA-256 of [`Item::canonical_content`]; set by [`Item::seal`].
    #[serde(default)]
    pub content_sha256: String,
    /// Opaque provenance manifest, hex in JSON.
    #[serde(default, with = "hex_bytes")]
    pub provenance_manifest: Vec<u8>,
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

fn check_text(field: &str, value: &str, max: usize) -> Result<(), CorpusError> {
    if value.len() > max {
        return Err(CorpusError::invalid(
            field,
            format!("is {} bytes; the limit is {max}", value.len()),
        ));
    }
    Ok(())
}

fn check_tags(field: &str, tags: &[String]) -> Result<(), CorpusError> {
    if tags.len() > limits::MAX_TAGS {
        return Err(CorpusError::invalid(
            field,
            format!("has {} tags; the limit is {}", tags.len(), limits::MAX_TAGS),
        ));
    }
    for tag in tags {
        if tag.trim().is_empty() {
            return Err(CorpusError::invalid(field, "a tag is empty"));
        }
        check_text(field, tag, limits::MAX_TAG_BYTES)?;
    }
    Ok(())
}

/// Checks an SPDX-style licence id ([`generec_provenance::ids::is_licence`],
/// the rule the trust service signs by), naming the field in the error.
pub fn check_licence(field: &str, licence: &str) -> Result<(), CorpusError> {
    if licence.is_empty() {
        return Err(CorpusError::invalid(
            field,
            "must not be empty (use an SPDX id such as CC-BY-4.0, or all-rights-reserved)",
        ));
    }
    check_text(field, licence, limits::MAX_LICENCE_BYTES)?;
    if !generec_provenance::ids::is_licence(licence) {
        return Err(CorpusError::invalid(
            field,
            format!("{licence:?} is not an SPDX-style licence id"),
        ));
    }
    Ok(())
}

impl Item {
    /// The item as the licence rules see it: its rights, title, and text
    /// (title, then body).
    pub fn licence_source(&self) -> generec_licence::Source {
        generec_licence::Source {
            rights: generec_licence::SourceRights {
                item_id: self.id.to_string(),
                licence: self.licence.clone(),
                creator: self.creator_id.clone(),
            },
            title: self.title.clone(),
            text: format!("{}\n{}", self.title, self.body),
        }
    }

    /// Checks every field against the limits and rules of the corpus.
    /// `now_ms` bounds timestamps in the future.
    pub fn validate(&self, now_ms: i64) -> Result<(), CorpusError> {
        if self.title.trim().is_empty() {
            return Err(CorpusError::invalid("title", "must not be empty"));
        }
        check_text("title", &self.title, limits::MAX_TITLE_BYTES)?;
        check_text("body", &self.body, limits::MAX_BODY_BYTES)?;
        if !self.segments.is_empty() && !self.kind.is_timed() {
            return Err(CorpusError::invalid(
                "segments",
                format!(
                    "only video and music items have timed segments, not {}",
                    self.kind.as_str()
                ),
            ));
        }
        if self.segments.len() > limits::MAX_SEGMENTS {
            return Err(CorpusError::invalid(
                "segments",
                format!(
                    "has {}; the limit is {}",
                    self.segments.len(),
                    limits::MAX_SEGMENTS
                ),
            ));
        }
        for (i, seg) in self.segments.iter().enumerate() {
            let ok = seg.start_seconds.is_finite()
                && seg.end_seconds.is_finite()
                && seg.start_seconds >= 0.0
                && seg.end_seconds > seg.start_seconds;
            if !ok {
                return Err(CorpusError::invalid(
                    &format!("segments[{i}]"),
                    format!(
                        "needs 0 <= start < end, got start {} end {}",
                        seg.start_seconds, seg.end_seconds
                    ),
                ));
            }
            check_text(
                &format!("segments[{i}].text"),
                &seg.text,
                limits::MAX_SEGMENT_TEXT_BYTES,
            )?;
            check_tags(&format!("segments[{i}].tags"), &seg.tags)?;
        }
        check_tags("tags", &self.tags)?;
        if !self.creator_id.is_empty() {
            check_id("creator_id", &self.creator_id)?;
        }
        if self.parent_ids.len() > limits::MAX_PARENTS {
            return Err(CorpusError::invalid(
                "parent_ids",
                format!(
                    "has {}; the limit is {}",
                    self.parent_ids.len(),
                    limits::MAX_PARENTS
                ),
            ));
        }
        if self.parent_ids.contains(&self.id) {
            return Err(CorpusError::invalid(
                "parent_ids",
                "an item cannot be its own parent",
            ));
        }
        check_licence("licence", &self.licence)?;
        if self.created_unix_ms < 0 {
            return Err(CorpusError::invalid(
                "created_unix_ms",
                "must not be negative",
            ));
        }
        if self.created_unix_ms > now_ms + limits::MAX_FUTURE_SKEW_MS {
            return Err(CorpusError::invalid(
                "created_unix_ms",
                "lies more than a day in the future",
            ));
        }
        if self.provenance_manifest.len() > limits::MAX_MANIFEST_BYTES {
            return Err(CorpusError::invalid(
                "provenance_manifest",
                format!(
                    "is {} bytes; the limit is {}",
                    self.provenance_manifest.len(),
                    limits::MAX_MANIFEST_BYTES
                ),
            ));
        }
        Ok(())
    }

    /// The canonical byte encoding of an item's content, which its
    /// `content_sha256` hashes: the tag `generec.item.content.v1`, then the
    /// kind, title and body, then each segment's start and end (IEEE-754
    /// big-endian bits), text and tags; every string is preceded by its
    /// length as a big-endian u64, every list by its count. Metadata (id,
    /// tags, creator, origin, licence, times) is not content.
    pub fn canonical_content(&self) -> Vec<u8> {
        fn put(out: &mut Vec<u8>, bytes: &[u8]) {
            out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            out.extend_from_slice(bytes);
        }
        let mut out = Vec::with_capacity(64 + self.title.len() + self.body.len());
        put(&mut out, b"generec.item.content.v1");
        put(&mut out, self.kind.as_str().as_bytes());
        put(&mut out, self.title.as_bytes());
        put(&mut out, self.body.as_bytes());
        out.extend_from_slice(&(self.segments.len() as u64).to_be_bytes());
        for seg in &self.segments {
            out.extend_from_slice(&seg.start_seconds.to_bits().to_be_bytes());
            out.extend_from_slice(&seg.end_seconds.to_bits().to_be_bytes());
            put(&mut out, seg.text.as_bytes());
            out.extend_from_slice(&(seg.tags.len() as u64).to_be_bytes());
            for tag in &seg.tags {
                put(&mut out, tag.as_bytes());
            }
        }
        out
    }

    /// The hex SHA-256 of the canonical content.
    pub fn compute_sha256(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_content()))
    }

    /// Sets the content hash, refusing a client-supplied hash that differs.
    pub fn seal(&mut self) -> Result<(), CorpusError> {
        let computed = self.compute_sha256();
        if !self.content_sha256.is_empty() && !self.content_sha256.eq_ignore_ascii_case(&computed) {
            return Err(CorpusError::invalid(
                "content_sha256",
                format!(
                    "does not match the content (sent {}, computed {computed})",
                    self.content_sha256
                ),
            ));
        }
        self.content_sha256 = computed;
        Ok(())
    }

    /// The text a generated item's manifest binds: title, a blank line,
    /// body, then a blank line and the text of each segment (see
    /// [`crate::provenance`]).
    pub fn provenance_text(&self) -> String {
        crate::provenance::provenance_text(
            &self.title,
            &self.body,
            self.segments.iter().map(|s| s.text.as_str()),
        )
    }

    /// All the searchable text of the timed segments, one line each.
    pub fn segment_text(&self) -> String {
        let mut text = String::new();
        for seg in &self.segments {
            if !seg.text.is_empty() {
                text.push_str(&seg.text);
                text.push('\n');
            }
        }
        text
    }
}

/// A kind of feedback event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    Impression,
    Click,
    /// `value` is the watched ratio in [0, 1].
    Watch,
    Complete,
    Skip,
    Like,
    Dislike,
    /// `value` is the rating in [0, 5].
    Rating,
    Share,
}

/// One piece of feedback from a user on an item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeedbackEvent {
    pub user: UserId,
    pub item: ItemId,
    pub kind: EventType,
    #[serde(default)]
    pub value: f64,
    pub timestamp_unix_ms: i64,
}

impl FeedbackEvent {
    /// Checks the value and timestamp; `index` names the event in errors.
    pub fn validate(&self, index: usize, now_ms: i64) -> Result<(), CorpusError> {
        let field = |name: &str| format!("events[{index}].{name}");
        if !self.value.is_finite() {
            return Err(CorpusError::invalid(
                &field("value"),
                "must be a finite number",
            ));
        }
        match self.kind {
            EventType::Watch if !(0.0..=1.0).contains(&self.value) => {
                return Err(CorpusError::invalid(
                    &field("value"),
                    format!("a watch ratio must lie in [0, 1], got {}", self.value),
                ));
            }
            EventType::Rating if !(0.0..=5.0).contains(&self.value) => {
                return Err(CorpusError::invalid(
                    &field("value"),
                    format!("a rating must lie in [0, 5], got {}", self.value),
                ));
            }
            _ => {}
        }
        if self.timestamp_unix_ms < 0 {
            return Err(CorpusError::invalid(
                &field("timestamp_unix_ms"),
                "must not be negative",
            ));
        }
        if self.timestamp_unix_ms > now_ms + limits::MAX_FUTURE_SKEW_MS {
            return Err(CorpusError::invalid(
                &field("timestamp_unix_ms"),
                "lies more than a day in the future",
            ));
        }
        Ok(())
    }

    /// What the event says about the item for this user: positive counts
    /// for it, negative against it, zero says nothing (an impression).
    pub fn weight(&self) -> f32 {
        let v = self.value as f32;
        match self.kind {
            EventType::Impression => 0.0,
            EventType::Click => 0.5,
            EventType::Watch if v >= 0.5 => v,
            EventType::Watch if v < 0.1 => -0.5,
            EventType::Watch => 0.0,
            EventType::Complete => 1.0,
            EventType::Skip => -1.0,
            EventType::Like => 1.5,
            EventType::Dislike => -2.0,
            EventType::Rating if v >= 3.0 => v / 5.0,
            EventType::Rating => -(3.0 - v) / 2.0,
            EventType::Share => 1.0,
        }
    }
}

/// The limit on a user's summed weight for one item, either way.
pub const MAX_ABS_WEIGHT: f32 = 3.0;

pub use generec_common::now_unix_ms;

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn article(id: &str) -> Item {
        Item {
            id: ItemId::parse(id).unwrap(),
            kind: ItemKind::Article,
            title: "A title".into(),
            body: "Some body text.".into(),
            segments: vec![],
            tags: vec!["news".into()],
            creator_id: "bbc".into(),
            origin: Origin::Human,
            parent_ids: vec![],
            licence: "CC-BY-4.0".into(),
            created_unix_ms: 1,
            content_sha256: String::new(),
            provenance_manifest: vec![],
        }
    }

    #[test]
    fn ids_reject_empty_whitespace_and_oversize_values_by_field() {
        assert!(ItemId::parse("a-1").is_ok());
        let err = ItemId::parse("").unwrap_err().to_string();
        assert!(err.contains("id") && err.contains("empty"), "{err}");
        assert!(ItemId::parse("a b").is_err());
        assert!(
            UserId::parse(&"x".repeat(257))
                .unwrap_err()
                .to_string()
                .contains("user_id")
        );
    }

    #[test]
    fn content_hash_covers_content_not_metadata() {
        let a = article("a");
        let mut b = a.clone();
        b.tags.push("other".into());
        b.licence = "CC0-1.0".into();
        assert_eq!(a.compute_sha256(), b.compute_sha256());
        b.body.push('!');
        assert_ne!(a.compute_sha256(), b.compute_sha256());
        // Field boundaries are unambiguous: moving text between title and body changes the hash.
        let mut c = a.clone();
        c.title = "A titleS".into();
        c.body = "ome body text.".into();
        assert_ne!(a.compute_sha256(), c.compute_sha256());
    }

    #[test]
    fn seal_refuses_a_client_hash_that_does_not_match() {
        let mut item = article("a");
        item.content_sha256 = "00".repeat(32);
        let err = item.seal().unwrap_err().to_string();
        assert!(err.contains("content_sha256"), "{err}");
        let mut ok = article("a");
        ok.content_sha256 = ok.compute_sha256().to_uppercase();
        assert!(ok.seal().is_ok());
    }

    #[test]
    fn validation_names_the_bad_field() {
        let now = now_unix_ms();
        type Mutation = Box<dyn Fn(&mut Item)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|i| i.title = " ".into()), "title"),
            (
                Box::new(|i| i.body = "x".repeat(limits::MAX_BODY_BYTES + 1)),
                "body",
            ),
            (Box::new(|i| i.licence = "CC BY".into()), "licence"),
            (Box::new(|i| i.licence = String::new()), "licence"),
            (Box::new(|i| i.created_unix_ms = -5), "created_unix_ms"),
            (Box::new(|i| i.tags = vec![String::new()]), "tags"),
            (
                Box::new(|i| {
                    i.segments = vec![Segment {
                        start_seconds: 0.0,
                        end_seconds: 1.0,
                        text: String::new(),
                        tags: vec![],
                    }]
                }),
                "segments",
            ),
            (
                Box::new(|i| i.parent_ids = vec![i.id.clone()]),
                "parent_ids",
            ),
        ];
        for (mutate, field) in cases {
            let mut item = article("a");
            mutate(&mut item);
            let err = item.validate(now).unwrap_err().to_string();
            assert!(err.contains(field), "expected {field} in {err}");
        }
        let mut video = article("v");
        video.kind = ItemKind::Video;
        video.segments = vec![Segment {
            start_seconds: 5.0,
            end_seconds: 2.0,
            text: String::new(),
            tags: vec![],
        }];
        assert!(
            video
                .validate(now)
                .unwrap_err()
                .to_string()
                .contains("segments[0]")
        );
    }

    #[test]
    fn negative_kinds_of_feedback_count_against_an_item() {
        let event = |kind, value| FeedbackEvent {
            user: UserId::parse("u").unwrap(),
            item: ItemId::parse("i").unwrap(),
            kind,
            value,
            timestamp_unix_ms: 0,
        };
        assert!(event(EventType::Skip, 0.0).weight() < 0.0);
        assert!(event(EventType::Dislike, 0.0).weight() < 0.0);
        assert!(event(EventType::Rating, 1.0).weight() < 0.0);
        assert!(event(EventType::Rating, 2.0).weight() < 0.0);
        assert!(event(EventType::Rating, 4.0).weight() > 0.0);
        assert!(event(EventType::Like, 0.0).weight() > 0.0);
        assert!(event(EventType::Watch, 0.9).weight() > 0.0);
        assert!(event(EventType::Watch, 0.05).weight() < 0.0);
        assert_eq!(event(EventType::Impression, 0.0).weight(), 0.0);
    }

    #[test]
    fn feedback_values_outside_their_range_are_refused() {
        let now = now_unix_ms();
        let mut e = FeedbackEvent {
            user: UserId::parse("u").unwrap(),
            item: ItemId::parse("i").unwrap(),
            kind: EventType::Rating,
            value: 7.0,
            timestamp_unix_ms: now,
        };
        assert!(
            e.validate(3, now)
                .unwrap_err()
                .to_string()
                .contains("events[3].value")
        );
        e.value = f64::NAN;
        assert!(e.validate(0, now).is_err());
        e.value = 4.0;
        e.timestamp_unix_ms = now + 2 * limits::MAX_FUTURE_SKEW_MS;
        assert!(
            e.validate(0, now)
                .unwrap_err()
                .to_string()
                .contains("timestamp_unix_ms")
        );
    }
}
