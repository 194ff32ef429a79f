//! The errors of the generation service and the status code of each.

use generec_common::remote::{RemoteError, RemoteKind};
use generec_common::{ErrorCode, ServiceError};

use crate::composer::ComposeError;
use crate::editor::EditError;

/// Why a generation request could not be served. A draft that is weak
/// (unsupported sentences, a low relevance) is data in the response, not an
/// error: the trust service decides what happens to it.
#[derive(Debug, thiserror::Error)]
pub enum GenerationError {
    #[error("invalid {field}: {message}")]
    InvalidArgument { field: String, message: String },
    #[error("{what} not found: {id}")]
    NotFound { what: &'static str, id: String },
    /// The request is valid but the state refuses it: a licence forbids
    /// derivatives, or a back-end is not configured.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A dependency (the corpus, a model server) is down or too slow.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl GenerationError {
    /// An invalid-argument error naming `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        GenerationError::InvalidArgument {
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// A corpus call that failed, as generation's error: the one place a
    /// remote status becomes a generation status (the reading of the
    /// remote code is [`RemoteError::kind`], shared with the feed). `what`
    /// and `id` name the thing asked for, `field` the request field that
    /// carried it.
    pub fn from_remote(err: RemoteError, what: &'static str, id: &str, field: &str) -> Self {
        match err.kind() {
            RemoteKind::NotFound => GenerationError::NotFound {
                what,
                id: id.to_string(),
            },
            RemoteKind::Invalid => GenerationError::invalid(field, err.to_string()),
            RemoteKind::Busy | RemoteKind::Unavailable => {
                GenerationError::Unavailable(err.to_string())
            }
        }
    }
}

impl ServiceError for GenerationError {
    fn code(&self) -> ErrorCode {
        match self {
            GenerationError::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            GenerationError::NotFound { .. } => ErrorCode::NotFound,
            GenerationError::FailedPrecondition(_) => ErrorCode::FailedPrecondition,
            GenerationError::Unavailable(_) => ErrorCode::Unavailable,
            GenerationError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<GenerationError> for tonic::Status {
    fn from(err: GenerationError) -> Self {
        generec_common::into_status(err)
    }
}

impl From<EditError> for GenerationError {
    fn from(err: EditError) -> Self {
        match err {
            EditError::NoDerivatives { .. } => GenerationError::FailedPrecondition(err.to_string()),
            EditError::NotTimed => GenerationError::FailedPrecondition(err.to_string()),
            EditError::EmptySource => GenerationError::FailedPrecondition(err.to_string()),
            EditError::Invalid { field, reason } => GenerationError::invalid(field, reason),
        }
    }
}

impl From<ComposeError> for GenerationError {
    fn from(err: ComposeError) -> Self {
        GenerationError::FailedPrecondition(format!("cannot compose: {err}"))
    }
}
