//! The errors of the corpus service and the status code of each.

use generec_common::{ErrorCode, ServiceError};

/// Why a corpus operation could not run. Outcomes such as "this item was
/// rejected" in a batch are data in the response, not errors.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("invalid {field}: {message}")]
    InvalidArgument { field: String, message: String },
    #[error("{what} not found: {id}")]
    NotFound { what: &'static str, id: String },
    #[error("{0}")]
    ResourceExhausted(String),
    #[error("storage: {0}")]
    Storage(#[from] sled::Error),
    #[error("index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Internal(String),
}

impl CorpusError {
    /// An invalid-argument error naming `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        CorpusError::InvalidArgument {
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// A not-found error for `what` (item, user) with `id`.
    pub fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        CorpusError::NotFound {
            what,
            id: id.into(),
        }
    }
}

impl ServiceError for CorpusError {
    fn code(&self) -> ErrorCode {
        match self {
            CorpusError::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            CorpusError::NotFound { .. } => ErrorCode::NotFound,
            CorpusError::ResourceExhausted(_) => ErrorCode::ResourceExhausted,
            CorpusError::Storage(_)
            | CorpusError::Index(_)
            | CorpusError::Io(_)
            | CorpusError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<CorpusError> for tonic::Status {
    fn from(err: CorpusError) -> Self {
        generec_common::into_status(err)
    }
}
