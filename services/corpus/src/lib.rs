//! The generec corpus service: every item (human-made and generated), the
//! full-text index over them, the feedback users give, and the ranking
//! models that turn that feedback into recommendations.
//!
//! The core ([`Corpus`]) is synchronous Rust over sled and tantivy; the
//! gRPC skin in [`grpc`] only converts messages and maps errors.

pub mod eval;
pub mod ranking;

pub mod corpus;
pub mod error;
mod exclusion;
pub mod filter;
pub mod index;
pub mod model;
pub mod provenance;
pub mod store;

pub use corpus::{Corpus, CorpusConfig};
pub use error::CorpusError;
pub mod grpc;
pub mod load;
