//! The generec feed service: the loop that joins the others.
//!
//! A feed request retrieves candidates from the corpus, asks generation's
//! instructor whether to edit or create, and on an edit or creation has
//! trust review and certify the draft before it is stored in the corpus;
//! every retrieved item is reviewed too. The feed rules then rank what
//! trust allowed: a cap on the share of generated items, creator diversity,
//! no near-duplicates, and the user's excluded topics.
//!
//! Invariant: no item reaches a feed without a trust verdict that allows
//! it, and no generated item without a manifest that verifies against the
//! trust service's published key. The types say so: an [`model::Entry`]
//! holds only an [`model::Allowed`] verdict, and a generated entry a
//! [`model::Verified`] manifest that only [`admit`] makes.
//!
//! - [`model`]: validated requests, entries, pages, events;
//! - [`admit`]: verdict and key caches, manifest checks;
//! - [`rules`]: the final ranking (pure);
//! - [`metrics`]: fairness per response and over time (pure);
//! - [`session`]: per-user state (signals, streaks, exclusions, waiting
//!   items, watchers);
//! - [`api`]: what the feed needs of the other services, as traits;
//! - [`remote`]: those traits over gRPC (the only proto conversion);
//! - [`feed`]: the loop over the other services, with deadlines;
//! - [`grpc`]: the thin gRPC skin and `serve`.

pub mod admit;
pub mod api;
pub mod config;
pub mod error;
#[cfg(test)]
mod fakes;
pub mod feed;
pub mod grpc;
pub mod metrics;
pub mod model;
pub mod remote;
pub mod rules;
pub mod session;
pub mod text;

pub use config::FeedConfig;
pub use error::FeedError;
pub use feed::Feed;
