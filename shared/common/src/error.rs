//! Mapping service errors to gRPC status codes, in one place.
//!
//! Each service has its own `thiserror` enum and implements [`ServiceError`]
//! to say which [`ErrorCode`] each variant is; [`into_status`] turns it into
//! a `tonic::Status` and logs the internal ones (their details stay in the
//! log, the caller sees a generic message).

use std::fmt::Display;

use tonic::{Code, Status};

/// The kinds of failure a service reports, one per gRPC status code used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request itself is wrong; the message names the field.
    InvalidArgument,
    /// A named thing does not exist.
    NotFound,
    /// The caller may not do this.
    PermissionDenied,
    /// The caller has no valid credentials.
    Unauthenticated,
    /// A size or rate limit was reached; retry later or send less.
    ResourceExhausted,
    /// The state does not allow this operation now.
    FailedPrecondition,
    /// A dependency or the service is down; retry.
    Unavailable,
    /// A bug or an I/O failure inside the service.
    Internal,
}

impl ErrorCode {
    /// The gRPC status code for this kind.
    pub fn grpc_code(self) -> Code {
        match self {
            ErrorCode::InvalidArgument => Code::InvalidArgument,
            ErrorCode::NotFound => Code::NotFound,
            ErrorCode::PermissionDenied => Code::PermissionDenied,
            ErrorCode::Unauthenticated => Code::Unauthenticated,
            ErrorCode::ResourceExhausted => Code::ResourceExhausted,
            ErrorCode::FailedPrecondition => Code::FailedPrecondition,
            ErrorCode::Unavailable => Code::Unavailable,
            ErrorCode::Internal => Code::Internal,
        }
    }
}

/// A service error that knows its status code.
pub trait ServiceError: Display {
    /// Which status the error maps to.
    fn code(&self) -> ErrorCode;
}

/// Converts a service error into a gRPC status. Internal errors are logged
/// with their details and reported to the caller without them.
pub fn into_status<E: ServiceError>(err: E) -> Status {
    let code = err.code();
    if code == ErrorCode::Internal {
        tracing::error!(error = %err, "internal error");
        Status::new(code.grpc_code(), "internal error; see the server log")
    } else {
        Status::new(code.grpc_code(), err.to_string())
    }
}

/// Runs blocking service work on tokio's blocking pool and converts its
/// error (or a panic in the task) into a status, so handlers keep the
/// runtime free and map errors in one place.
pub async fn run_blocking<T, E, F>(f: F) -> Result<T, Status>
where
    T: Send + 'static,
    E: ServiceError + Send + 'static,
    F: FnOnce() -> Result<T, E> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(into_status),
        Err(e) => {
            tracing::error!(error = %e, "blocking task failed");
            Err(Status::internal("internal error; see the server log"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Boom(ErrorCode);
    impl Display for Boom {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("secret detail")
        }
    }
    impl ServiceError for Boom {
        fn code(&self) -> ErrorCode {
            self.0
        }
    }

    #[test]
    fn client_errors_keep_their_message() {
        let status = into_status(Boom(ErrorCode::InvalidArgument));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "secret detail");
    }

    #[test]
    fn internal_errors_hide_their_details() {
        let status = into_status(Boom(ErrorCode::Internal));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
    }
}
