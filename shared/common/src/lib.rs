//! Plumbing every generec service shares, so each service crate holds only
//! its own domain logic and a thin gRPC skin:
//!
//! - [`error`]: the one place where a service error becomes a gRPC status;
//! - [`auth`]: bearer tokens and roles, checked on every RPC by one layer;
//! - [`config`]: typed server settings and TOML loading;
//! - [`telemetry`]: tracing set-up with `RUST_LOG` filtering;
//! - [`metrics`]: Prometheus figures, per-RPC and the services' own, on
//!   an HTTP `/metrics` endpoint;
//! - [`remote`]: calls to another service: deadline, token, and what a
//!   failed call means;
//! - [`types`]: domain types several services share (item kind, origin);
//! - [`server`]: server assembly with health, reflection, message size
//!   limits, `TCP_NODELAY` and graceful shutdown.

pub mod auth;
pub mod config;
pub mod error;
pub mod metrics;
pub mod remote;
pub mod server;
pub mod telemetry;
pub mod types;

pub use error::{ErrorCode, ServiceError, into_status};

/// Milliseconds since the Unix epoch, now (0 if the clock is before 1970).
pub fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
