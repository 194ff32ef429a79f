//! Calls to another generec service: the deadline each call carries, the
//! bearer token, and what a failed call means to the caller.
//!
//! Every service that calls another (the feed calls all three, generation
//! calls the corpus) builds its requests and reads its failures here, so a
//! remote status means the same thing everywhere: [`RemoteError::kind`] is
//! the one mapping from a remote gRPC code to what the caller should do.

use std::time::{Duration, Instant};

use tonic::metadata::{Ascii, MetadataValue};

/// What a failed remote call means to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteKind {
    /// The remote service has no such thing (`NOT_FOUND`).
    NotFound,
    /// The remote service refused what was sent (`INVALID_ARGUMENT`,
    /// `FAILED_PRECONDITION`, `OUT_OF_RANGE`, `ALREADY_EXISTS`).
    Invalid,
    /// The remote service is busy and said so (`RESOURCE_EXHAUSTED`).
    Busy,
    /// The remote service is down, too slow, broken, or does not let this
    /// caller in: the caller cannot do without it for now.
    Unavailable,
}

/// Why a remote call gave no answer.
#[derive(Debug, Clone)]
pub enum RemoteError {
    /// The deadline passed before an answer came.
    Deadline {
        service: &'static str,
        method: &'static str,
    },
    /// The remote service answered with an error status.
    Status {
        service: &'static str,
        method: &'static str,
        code: tonic::Code,
        message: String,
    },
}

impl RemoteError {
    /// What the failure means to the caller (see [`RemoteKind`]).
    pub fn kind(&self) -> RemoteKind {
        match self {
            RemoteError::Deadline { .. } => RemoteKind::Unavailable,
            RemoteError::Status { code, .. } => match code {
                tonic::Code::NotFound => RemoteKind::NotFound,
                tonic::Code::InvalidArgument
                | tonic::Code::FailedPrecondition
                | tonic::Code::OutOfRange
                | tonic::Code::AlreadyExists => RemoteKind::Invalid,
                tonic::Code::ResourceExhausted => RemoteKind::Busy,
                _ => RemoteKind::Unavailable,
            },
        }
    }

    /// Whether the remote service is down or too slow (rather than refusing
    /// the request).
    pub fn is_unavailable(&self) -> bool {
        self.kind() == RemoteKind::Unavailable
    }

    /// The remote status code; `None` when the deadline passed first.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            RemoteError::Deadline { .. } => None,
            RemoteError::Status { code, .. } => Some(*code),
        }
    }
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteError::Deadline { service, method } => {
                write!(f, "{service} did not answer {method} before the deadline")
            }
            RemoteError::Status {
                service,
                method,
                code,
                message,
            } => write!(f, "{service} {method}: {message} ({code:?})"),
        }
    }
}

impl std::error::Error for RemoteError {}

/// The caller's side of calls to one service: its name in errors and the
/// bearer token it presents.
#[derive(Clone, Debug)]
pub struct Caller {
    service: &'static str,
    authorization: Option<MetadataValue<Ascii>>,
}

impl Caller {
    /// A caller of `service` presenting `token` (none or empty: no token).
    /// A token that cannot be a header is refused.
    pub fn new(service: &'static str, token: Option<&str>) -> Result<Caller, String> {
        let authorization = match token.filter(|t| !t.is_empty()) {
            Some(t) => Some(
                format!("Bearer {t}")
                    .parse::<MetadataValue<Ascii>>()
                    .map_err(|_| format!("the token for {service} is not valid header text"))?,
            ),
            None => None,
        };
        Ok(Caller {
            service,
            authorization,
        })
    }

    /// A request carrying the time left before `deadline` (at least 1 ms)
    /// and the token.
    pub fn request<T>(&self, message: T, deadline: Instant) -> tonic::Request<T> {
        let mut r = tonic::Request::new(message);
        let left = deadline.saturating_duration_since(Instant::now());
        r.set_timeout(left.max(Duration::from_millis(1)));
        if let Some(a) = &self.authorization {
            r.metadata_mut().insert("authorization", a.clone());
        }
        r
    }

    /// Runs `method`'s call, cut off at `deadline`.
    pub async fn call<R>(
        &self,
        method: &'static str,
        deadline: Instant,
        call: impl Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    ) -> Result<R, RemoteError> {
        let deadline_error = RemoteError::Deadline {
            service: self.service,
            method,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(deadline_error);
        }
        match tokio::time::timeout(left, call).await {
            Ok(Ok(r)) => Ok(r.into_inner()),
            Ok(Err(status)) => Err(RemoteError::Status {
                service: self.service,
                method,
                code: status.code(),
                message: status.message().to_string(),
            }),
            Err(_) => Err(deadline_error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: tonic::Code) -> RemoteError {
        RemoteError::Status {
            service: "corpus",
            method: "GetItem",
            code,
            message: "m".into(),
        }
    }

    #[test]
    fn remote_codes_mean_one_thing_each() {
        assert_eq!(status(tonic::Code::NotFound).kind(), RemoteKind::NotFound);
        assert_eq!(
            status(tonic::Code::InvalidArgument).kind(),
            RemoteKind::Invalid
        );
        assert_eq!(
            status(tonic::Code::FailedPrecondition).kind(),
            RemoteKind::Invalid
        );
        assert_eq!(
            status(tonic::Code::ResourceExhausted).kind(),
            RemoteKind::Busy
        );
        for code in [
            tonic::Code::Unavailable,
            tonic::Code::DeadlineExceeded,
            tonic::Code::Unknown,
            tonic::Code::Internal,
            tonic::Code::Unauthenticated,
            tonic::Code::PermissionDenied,
            tonic::Code::Cancelled,
        ] {
            assert!(status(code).is_unavailable(), "{code:?}");
        }
        let late = RemoteError::Deadline {
            service: "trust",
            method: "Review",
        };
        assert!(late.is_unavailable());
        assert_eq!(late.code(), None);
        assert_eq!(
            late.to_string(),
            "trust did not answer Review before the deadline"
        );
        assert_eq!(
            status(tonic::Code::NotFound).to_string(),
            "corpus GetItem: m (NotFound)"
        );
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_refused() {
        assert!(Caller::new("corpus", Some("bad\ntoken")).is_err());
        let caller = Caller::new("corpus", Some("")).unwrap();
        let req = caller.request((), Instant::now() + Duration::from_secs(1));
        assert!(req.metadata().get("authorization").is_none());
        let caller = Caller::new("corpus", Some("t")).unwrap();
        let req = caller.request((), Instant::now());
        assert_eq!(req.metadata().get("authorization").unwrap(), "Bearer t");
        assert!(req.metadata().get("grpc-timeout").is_some());
    }

    #[tokio::test]
    async fn a_call_past_its_deadline_is_cut_off() {
        let caller = Caller::new("trust", None).unwrap();
        let never = std::future::pending::<Result<tonic::Response<()>, tonic::Status>>();
        let err = caller
            .call("Review", Instant::now() + Duration::from_millis(20), never)
            .await
            .unwrap_err();
        assert!(matches!(err, RemoteError::Deadline { .. }));
        let err = caller
            .call("Review", Instant::now(), async {
                Ok::<_, tonic::Status>(tonic::Response::new(()))
            })
            .await
            .unwrap_err();
        assert!(matches!(err, RemoteError::Deadline { .. }));
    }
}
