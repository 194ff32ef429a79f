//! The errors of the trust service and the status code of each.

use generec_common::{ErrorCode, ServiceError};

/// Why a trust operation could not run. A blocking verdict is not an
/// error: it is the outcome of a review.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("invalid {field}: {message}")]
    InvalidArgument { field: String, message: String },
    #[error("{what} not found: {id}")]
    NotFound { what: &'static str, id: String },
    /// The state does not allow the operation (e.g. certifying unreviewed content).
    #[error("{field}: {message}")]
    FailedPrecondition { field: String, message: String },
    /// Too much work queued; retry later.
    #[error("{0}")]
    Overloaded(String),
    /// A bundle was refused; the active one stays.
    #[error("bundle refused: {0}")]
    Bundle(String),
    #[error("storage: {0}")]
    Storage(#[from] sled::Error),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Internal(String),
}

impl TrustError {
    /// An invalid-argument error naming `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        TrustError::InvalidArgument {
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// A failed-precondition error naming `field`.
    pub fn precondition(field: &str, message: impl Into<String>) -> Self {
        TrustError::FailedPrecondition {
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// A refused bundle.
    pub fn bundle(message: impl Into<String>) -> Self {
        TrustError::Bundle(message.into())
    }
}

/// An internal error from anything displayable (storage, encoding, locks).
pub(crate) fn internal(e: impl std::fmt::Display) -> TrustError {
    TrustError::Internal(e.to_string())
}

impl ServiceError for TrustError {
    fn code(&self) -> ErrorCode {
        match self {
            TrustError::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            TrustError::NotFound { .. } => ErrorCode::NotFound,
            TrustError::Bundle(_) | TrustError::FailedPrecondition { .. } => {
                ErrorCode::FailedPrecondition
            }
            TrustError::Overloaded(_) => ErrorCode::ResourceExhausted,
            TrustError::Storage(_) | TrustError::Io(_) | TrustError::Internal(_) => {
                ErrorCode::Internal
            }
        }
    }
}

impl From<TrustError> for tonic::Status {
    fn from(err: TrustError) -> Self {
        generec_common::into_status(err)
    }
}
