//! Server assembly: every generec gRPC server is built here, so they all
//! serve gRPC health and reflection, disable Nagle on accepted sockets,
//! limit concurrency per connection, count every call for `/metrics`
//! ([`crate::metrics`]), check every call's bearer token and role
//! ([`crate::auth`]) and shut down gracefully.
//!
//! Message size limits are set on each generated service by its crate
//! (`max_decoding_message_size`), from [`ServerConfig::max_message_bytes`].
//!
//! The listener is bound by the caller first, so tests can bind port 0 and
//! read the port back before serving.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::server::HealthReporter;

use crate::auth::{AuthLayer, AuthPolicy};
use crate::config::ServerConfig;

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("reflection service: {0}")]
    Reflection(String),
    #[error("auth: {0}")]
    Auth(String),
    #[error(
        "refusing to serve on {0} with access control off: configure [auth] tokens (generec up makes them), listen on a loopback address, or pass --insecure"
    )]
    Insecure(SocketAddr),
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Binds the configured address.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// The routes every server starts from: gRPC health and reflection (v1 and
/// v1alpha) for the given descriptor set. The caller adds its own services
/// with `Routes::add_service` and marks them serving on the reporter.
pub fn base_routes(descriptor_set: &[u8]) -> Result<(Routes, HealthReporter), ServeError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(descriptor_set)
        .build_v1()
        .map_err(|e| ServeError::Reflection(e.to_string()))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(descriptor_set)
        .build_v1alpha()
        .map_err(|e| ServeError::Reflection(e.to_string()))?;
    let routes = Routes::new(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    Ok((routes, health))
}

/// Refuses a non-loopback address with access control off unless the
/// configuration says `insecure`; warns whenever access control is off.
pub fn check_exposure(
    addr: Option<SocketAddr>,
    auth: &AuthPolicy,
    config: &ServerConfig,
) -> Result<(), ServeError> {
    if auth.enabled() {
        return Ok(());
    }
    match addr {
        Some(a) if !a.ip().is_loopback() && !config.insecure => Err(ServeError::Insecure(a)),
        Some(a) if !a.ip().is_loopback() => {
            tracing::warn!(addr = %a, "--insecure: serving on a non-loopback address with access control OFF; anyone who can reach it can call every method");
            Ok(())
        }
        _ => {
            tracing::warn!("no auth tokens configured: access control is off (loopback only)");
            Ok(())
        }
    }
}

/// Serves `routes` on an already bound listener until `shutdown` resolves,
/// then stops accepting and waits up to the configured grace period for
/// in-flight requests.
pub async fn serve(
    listener: TcpListener,
    config: &ServerConfig,
    routes: Routes,
    auth: AuthPolicy,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    check_exposure(listener.local_addr().ok(), &auth, config)?;
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let grace = config.shutdown_grace();
    let server = tonic::transport::Server::builder()
        .concurrency_limit_per_connection(config.concurrency_per_connection)
        .layer(crate::metrics::RpcMetricsLayer)
        .layer(AuthLayer::new(auth))
        .add_routes(routes.prepare())
        .serve_with_incoming_shutdown(incoming, async move {
            shutdown.await;
            let _ = stop_tx.send(());
        });
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result.map_err(ServeError::from),
        _ = stop_rx => {}
    }
    match tokio::time::timeout(grace, server).await {
        Ok(result) => result.map_err(ServeError::from),
        Err(_) => {
            tracing::warn!(
                grace_ms = grace.as_millis() as u64,
                "shutdown grace period over; dropping open connections"
            );
            Ok(())
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown requested");
}

#[cfg(test)]
mod exposure_tests {
    use super::*;
    use crate::auth::{AccessRules, AuthConfig, Role, TokenConfig, token_hash};

    #[test]
    fn open_access_is_refused_off_loopback_unless_insecure() {
        let open = AuthPolicy::new(&AuthConfig::default(), AccessRules::new()).unwrap();
        let closed = AuthPolicy::new(
            &AuthConfig {
                tokens: vec![TokenConfig {
                    name: "ops".into(),
                    role: Role::Admin,
                    sha256: token_hash("t"),
                }],
            },
            AccessRules::new(),
        )
        .unwrap();
        let public: SocketAddr = "0.0.0.0:50051".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:50051".parse().unwrap();
        let mut cfg = ServerConfig::default();
        assert!(matches!(
            check_exposure(Some(public), &open, &cfg),
            Err(ServeError::Insecure(_))
        ));
        assert!(check_exposure(Some(local), &open, &cfg).is_ok());
        assert!(check_exposure(Some(public), &closed, &cfg).is_ok());
        cfg.insecure = true;
        assert!(check_exposure(Some(public), &open, &cfg).is_ok());
    }
}
