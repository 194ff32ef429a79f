//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A model file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A model file was read but is not what was expected (bad JSON, missing
    /// GGUF metadata, inconsistent tokenizer tables, ...).
    #[error("invalid model file {path}: {reason}")]
    InvalidModel { path: PathBuf, reason: String },
    /// The tensor library failed.
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    /// The tokenizer failed to encode or decode.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A caller-supplied argument is out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The prompt plus the requested completion does not fit the model's
    /// context window.
    #[error(
        "prompt of {prompt_tokens} tokens plus max_tokens {max_tokens} exceeds the context window of {context} tokens"
    )]
    ContextOverflow {
        prompt_tokens: usize,
        max_tokens: usize,
        context: usize,
    },
}

impl ModelError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid_model(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        Self::InvalidModel {
            path: path.into(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn tokenizer(err: impl std::fmt::Display) -> Self {
        Self::Tokenizer(err.to_string())
    }
}
