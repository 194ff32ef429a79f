//! What the feed needs of the other services, as traits over domain types.
//!
//! The feed's core ([`crate::feed`]) calls only these; [`crate::remote`]
//! implements them over gRPC (proto conversion, deadlines, the token), and
//! tests implement them in memory. Every call takes the instant it must
//! answer by; a failure is a [`RemoteError`], whose
//! [`kind`](RemoteError::kind) is the one reading of a remote status the
//! platform has.
//!
//! Requests to trust and generation are their proto messages: they are
//! plain data, and the feed fills them field by field. What the feed reads
//! back is a domain type.

use std::time::Instant;

use async_trait::async_trait;
use generec_common::remote::RemoteError;
use generec_corpus::model::Item;
use generec_proto::generation::v1 as gen_pb;
use generec_proto::trust::v1 as trust_pb;
use generec_provenance::keys::PublicKey;

use crate::model::Signal;

/// A recommendation to make: `count` items for a user, with `text` as a
/// free-text hint, leaving out `exclude_ids`.
#[derive(Clone, Debug, Default)]
pub struct RecommendAsk {
    pub user_id: String,
    pub count: usize,
    pub exclude_ids: Vec<String>,
    pub text: String,
    /// Whether each recommendation brings its item's record.
    pub with_items: bool,
}

/// One recommended item.
#[derive(Clone, Debug)]
pub struct Scored {
    pub id: String,
    pub score: f32,
    /// Why, in the feed's words.
    pub why: &'static str,
    /// The item's record, when asked for and valid.
    pub item: Option<Item>,
}

/// One search hit.
#[derive(Clone, Debug)]
pub struct Hit {
    pub id: String,
    pub score: f32,
}

/// What the corpus said of an item the feed asked it to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Stored (or already there), sealed with this content hash.
    Sealed { content_sha256: String },
    /// Refused, and why.
    Rejected(String),
}

/// The corpus, as the feed uses it.
#[async_trait]
pub trait CorpusApi: Send + Sync {
    /// Recommendations for a user, best first.
    async fn recommend(&self, ask: RecommendAsk, by: Instant) -> Result<Vec<Scored>, RemoteError>;
    /// Items matching a plain query, best first.
    async fn search(&self, query: &str, limit: usize, by: Instant)
    -> Result<Vec<Hit>, RemoteError>;
    /// One item; a missing one is a `NotFound` error.
    async fn get_item(&self, id: &str, by: Instant) -> Result<Item, RemoteError>;
    /// The live items among `ids`, in their order; missing ones are left out.
    async fn get_items(&self, ids: Vec<String>, by: Instant) -> Result<Vec<Item>, RemoteError>;
    /// Stores a certified item.
    async fn put_item(&self, item: Item, by: Instant) -> Result<Stored, RemoteError>;
    /// Records a user's signal on an item.
    async fn record_feedback(
        &self,
        user_id: &str,
        item_id: &str,
        signal: Signal,
        by: Instant,
    ) -> Result<(), RemoteError>;
}

/// Trust's verdict on a text.
#[derive(Clone, Debug)]
pub struct Review {
    pub verdict: trust_pb::Verdict,
    /// The policy bundle the verdict was reached under.
    pub bundle_hash: String,
    /// The rules that found something.
    pub rules: Vec<String>,
    /// The licence the review computed for a draft from what it takes of
    /// its sources and parents.
    pub licence: String,
}

/// What trust's certification returned.
#[derive(Clone, Debug)]
pub struct Certified {
    /// The signed manifest.
    pub manifest: Vec<u8>,
    /// The content with the in-text mark.
    pub marked_content: String,
}

/// The trust service, as the feed uses it.
#[async_trait]
pub trait TrustApi: Send + Sync {
    /// The active policy bundle's hash (also how the feed learns trust is up).
    async fn bundle_hash(&self, by: Instant) -> Result<String, RemoteError>;
    /// The published keys, each with the period it signed in.
    async fn public_keys(&self, by: Instant) -> Result<Vec<PublicKey>, RemoteError>;
    async fn review(
        &self,
        ask: trust_pb::ReviewRequest,
        by: Instant,
    ) -> Result<Review, RemoteError>;
    async fn certify(
        &self,
        ask: trust_pb::CertifyRequest,
        by: Instant,
    ) -> Result<Certified, RemoteError>;
}

/// The generation service, as the feed uses it.
#[async_trait]
pub trait GenerationApi: Send + Sync {
    /// Guidance and a decision (retrieve, edit or create).
    async fn interpret(
        &self,
        ask: gen_pb::InterpretRequest,
        by: Instant,
    ) -> Result<gen_pb::InterpretResponse, RemoteError>;
    /// A draft editing an item; `None` if generation returned none.
    async fn edit(
        &self,
        ask: gen_pb::EditRequest,
        by: Instant,
    ) -> Result<Option<gen_pb::Draft>, RemoteError>;
    /// A new draft; `None` if generation returned none.
    async fn create(
        &self,
        ask: gen_pb::CreateRequest,
        by: Instant,
    ) -> Result<Option<gen_pb::Draft>, RemoteError>;
}

/// The three services the feed joins.
#[derive(Clone)]
pub struct Services {
    pub corpus: std::sync::Arc<dyn CorpusApi>,
    pub trust: std::sync::Arc<dyn TrustApi>,
    pub generation: std::sync::Arc<dyn GenerationApi>,
}
