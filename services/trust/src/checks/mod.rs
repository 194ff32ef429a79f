//! The checks, one module per policy. Each module has a `Config` (its
//! section of the bundle, with defaults), a compiled check built once per
//! bundle (patterns compiled into one regex set or automaton), and a
//! `check` that appends findings.
//!
//! Checks are pure: they see the content, the request's context and the
//! registry of private attributes and claimed works, and nothing else.

pub mod authenticity;
pub mod bias;
pub mod copyright;
pub mod made_from;
pub mod phrases;
pub mod privacy;
pub mod safety;
pub mod toxicity;

use std::path::PathBuf;

use generec_common::types::{ItemKind, Origin};

use crate::finding::Finding;
use crate::registry::Registry;

/// A parent item of an edit.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Parent {
    pub id: String,
    /// SPDX-style licence id of the parent.
    pub licence: String,
    /// Whether the parent's owner consented to derivatives (overrides an
    /// all-rights-reserved licence, not a no-derivatives one).
    pub owner_consent: bool,
}

/// A source passage a factual item cites.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Source {
    pub id: String,
    pub text: String,
    /// The item the passage is from (empty: `id` up to its '#').
    pub item_id: String,
    /// The item's licence (empty: all rights reserved).
    pub licence: String,
    /// The item's creator.
    pub creator: String,
    /// The item's title.
    pub title: String,
    /// The item's content hash as the corpus records it (hex, or empty).
    pub content_sha256: String,
}

impl Source {
    /// The item the passage is from.
    pub fn item(&self) -> &str {
        if self.item_id.is_empty() {
            self.id.split('#').next().unwrap_or_default()
        } else {
            &self.item_id
        }
    }
}

/// What a review knows besides the content.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewContext {
    pub kind: Option<ItemKind>,
    /// The user the content was made for.
    pub user_id: String,
    pub origin: Option<Origin>,
    pub parents: Vec<Parent>,
    pub sources: Vec<Source>,
    /// The instruction that produced the content.
    pub instruction: String,
    /// Byte ranges of the content the generator marked as its own framing
    /// (see the authenticity check).
    pub framing: Vec<(usize, usize)>,
}

impl ReviewContext {
    /// The context of content created for `user_id` with no parents and no
    /// sources (what Certify looks for when it is given none).
    pub fn created_for(user_id: &str) -> ReviewContext {
        ReviewContext {
            user_id: user_id.to_string(),
            origin: Some(generec_common::types::Origin::AiCreated),
            ..ReviewContext::default()
        }
    }

    /// Whether the content makes factual claims that need sources: articles
    /// (and unknown kinds) that cite at least one source or were generated.
    pub fn is_factual(&self) -> bool {
        matches!(self.kind, None | Some(ItemKind::Article))
    }
}

/// Everything a check sees.
pub struct Input<'a> {
    pub content: &'a str,
    pub context: &'a ReviewContext,
    pub registry: &'a Registry,
}

/// Where a bundle's relative file paths (word lists, classifier weights)
/// are resolved.
#[derive(Clone, Debug, Default)]
pub struct CompileEnv {
    pub data_dir: PathBuf,
}

impl CompileEnv {
    /// Resolves a bundle path: absolute paths as they are, relative ones
    /// against the data folder.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let p = PathBuf::from(path);
        if p.is_absolute() {
            p
        } else {
            self.data_dir.join(p)
        }
    }
}

/// A check failed to run; the review fails closed.
#[derive(Debug, thiserror::Error)]
#[error("{check}: {message}")]
pub struct CheckError {
    pub check: &'static str,
    pub message: String,
}

/// A compiled check.
pub trait Check: Send + Sync {
    /// The policy name, for errors.
    fn name(&self) -> &'static str;
    /// Appends what the check finds in `input`.
    fn check(&self, input: &Input<'_>, out: &mut Vec<Finding>) -> Result<(), CheckError>;
}

/// A labelled example for `generec eval policies`.
#[derive(Clone, Debug)]
pub struct EvalCase {
    /// The category under test.
    pub category: crate::finding::Category,
    pub content: String,
    pub context: ReviewContext,
    /// Whether the category should fire.
    pub positive: bool,
}
