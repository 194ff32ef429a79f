//! The generec trust service, part 1: policy checks that decide what may
//! reach a feed.
//!
//! A [`bundle::Bundle`] (a versioned TOML file) says which categories are
//! checked, with which patterns, lists and thresholds, and what action each
//! category's findings take. [`review::Reviewer`] runs every check of the
//! active bundle over a piece of content and its context and combines the
//! findings into a verdict: the strictest action wins, and a check that
//! fails makes the verdict fail closed. Verdicts and findings are data; an
//! `Err` means the review itself could not run.
//!
//! The checks live in [`checks`], one module per policy; [`registry`] keeps
//! what users and claimants registered (salted fingerprints of private
//! attributes, claimed works); [`grpc`] is the thin gRPC skin.

pub mod bundle;
pub mod checks;
pub mod claims;
pub mod config;
pub mod error;
pub mod eval;
pub mod finding;
pub mod grpc;
pub mod keys;
pub mod provenance;
pub mod query;
pub mod registry;
pub mod review;
pub mod testsets;
pub mod tlog;

pub use config::{Trust, TrustConfig};
pub use error::TrustError;
/// The provenance formats, from the shared crate every service and
/// auditor uses.
pub use generec_provenance::{audit, entry, ids, manifest, merkle, note, watermark};
