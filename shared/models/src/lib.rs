//! In-process models for generec, run on the CPU with candle.
//!
//! * [`embed`]: sentence embeddings with all-MiniLM-L6-v2 (384 dimensions,
//!   mean-pooled, L2-normalised) for search, similarity and deduplication.
//! * [`lm`]: a small chat language model, SmolLM2-135M-Instruct (Q4_1 GGUF),
//!   for drafting and editing item text, with seeded, reproducible sampling
//!   and optional watermarking of what it writes.
//! * [`watermark`]: the green-list watermark of Kirchenbauer et al. (2023),
//!   pure Rust, used by [`lm`] to bias generation and to detect it afterwards.
//! * [`paths`]: where the model files live (`scripts/fetch-models` puts them
//!   there); nothing is downloaded at run time.
//!
//! Every fallible call returns [`ModelError`]; bad input is an error, never a
//! panic.

pub mod embed;
mod error;
pub mod lm;
pub mod paths;
#[cfg(test)]
mod test_util;
pub mod watermark;

pub use embed::Embedder;
pub use error::ModelError;
pub use lm::{ChatMessage, FinishReason, GenerateOptions, Generation, LanguageModel, Role};
pub use paths::ModelDir;
pub use watermark::{Detection, WatermarkConfig};
