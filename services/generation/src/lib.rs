//! The generec generation service: what makes the platform generative.
//!
//! - [`instructor`] reads what a user said and how they reacted, and returns
//!   [`guidance`] plus a decision: retrieve only, edit an item, or create one.
//! - [`editor`] repurposes an existing item: condense, restyle, extract the
//!   sections about some topics, cut a clip or pick a thumbnail from timed
//!   media.
//! - the creator composes a new item grounded in passages from the corpus,
//!   and records the source behind every sentence.
//!
//! The parts are pure (no I/O); [`service`] joins them with the corpus
//! (through the [`corpus`] trait, over gRPC in the service) and the model
//! back-ends, and [`grpc`] is the thin gRPC skin over it.

pub mod attribute;
pub mod composer;
pub mod config;
pub mod corpus;
pub mod draft;
pub mod editor;
pub mod error;
pub mod grpc;
pub mod guidance;
pub mod instructor;
pub mod openai;
pub mod relevance;
pub mod service;
pub mod table;
pub mod testset;
pub mod text;
pub mod tone;
