//! The errors of the feed service and the status code of each.

use generec_common::remote::{RemoteError, RemoteKind};
use generec_common::{ErrorCode, ServiceError};

/// Why a feed request could not be served. A degraded feed (trust or
/// generation down), an item left out by trust, or a generation that
/// failed are outcomes in the response, not errors.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("invalid {field}: {message}")]
    InvalidArgument { field: String, message: String },
    #[error("{what} not found: {id}")]
    NotFound { what: &'static str, id: String },
    /// A limit on concurrent work was reached; retry later.
    #[error("{0}")]
    ResourceExhausted(String),
    /// The feed's configuration does not allow this call (Instruct when
    /// `feed.loop_mode` is `retrieve`).
    #[error("{0}")]
    FailedPrecondition(String),
    /// A service the request cannot do without (the corpus; generation for
    /// Instruct) is down or too slow.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl FeedError {
    /// An invalid-argument error naming `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        FeedError::InvalidArgument {
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// A call to another service that failed, as the feed's error: the one
    /// place a remote status becomes a feed status. `what` and `id` name
    /// the thing asked for (for `NOT_FOUND`), `field` the request field
    /// that carried it (for a refusal).
    pub fn from_remote(err: RemoteError, what: &'static str, id: &str, field: &str) -> Self {
        match err.kind() {
            RemoteKind::NotFound => FeedError::NotFound {
                what,
                id: id.to_string(),
            },
            RemoteKind::Invalid => FeedError::invalid(field, err.to_string()),
            RemoteKind::Busy => FeedError::ResourceExhausted(err.to_string()),
            RemoteKind::Unavailable => FeedError::Unavailable(err.to_string()),
        }
    }
}

impl ServiceError for FeedError {
    fn code(&self) -> ErrorCode {
        match self {
            FeedError::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            FeedError::NotFound { .. } => ErrorCode::NotFound,
            FeedError::ResourceExhausted(_) => ErrorCode::ResourceExhausted,
            FeedError::FailedPrecondition(_) => ErrorCode::FailedPrecondition,
            FeedError::Unavailable(_) => ErrorCode::Unavailable,
            FeedError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<FeedError> for tonic::Status {
    fn from(err: FeedError) -> Self {
        generec_common::into_status(err)
    }
}
