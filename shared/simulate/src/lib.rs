//! Simulated users for evaluating the feed.
//!
//! Published simulators (RecSim NG, KuaiSim, Agent4Rec) assume a fixed
//! catalogue. These users judge items by meaning (the sentence embeddings
//! of the item and of the topics they care about), so they can respond to
//! an item generated a moment ago as to any other. The crate is pure: the
//! caller supplies the corpus texts, the embeddings and each item's tone,
//! and drives the sessions (through the real services, in `generec`).
//!
//! - [`topics`]: open-vocabulary topics drawn from the corpus.
//! - [`population`]: a seeded population with tastes, tone, patience and
//!   a tendency to speak.
//! - [`response`]: the feedback model and its calibration (MovieLens 100K
//!   ratings; a stated base click rate).
//! - [`session`]: misses, speaking up, leaving.
//! - [`speak`]: wishes in varied, imperfect words.

pub mod error;
pub mod population;
pub mod response;
pub mod rng;
pub mod session;
pub mod speak;
pub mod topics;

pub use error::SimError;
