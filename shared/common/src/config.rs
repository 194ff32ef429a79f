//! Typed server settings shared by every service, and loading a TOML file
//! into any configuration type. Parsing takes its input as arguments, so
//! tests never touch the process environment.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// How a gRPC server listens and what it accepts.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Largest request or response message, in bytes.
    pub max_message_bytes: usize,
    /// How long in-flight requests get to finish at shutdown, in milliseconds.
    pub shutdown_grace_ms: u64,
    /// Concurrent requests allowed per connection.
    pub concurrency_per_connection: usize,
    /// Serve on a non-loopback address with access control off. Refused
    /// unless set (`--insecure`).
    pub insecure: bool,
    /// Serve Prometheus metrics over HTTP at `/metrics`.
    pub metrics: bool,
    /// Where `/metrics` listens; unset: on loopback, at the gRPC port plus
    /// 1000 (a free port when the gRPC port is 0). It carries no content,
    /// only counts and timings, but has no access control: keep it on a
    /// network only operators reach.
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            max_message_bytes: 16 * 1024 * 1024,
            shutdown_grace_ms: 5_000,
            concurrency_per_connection: 256,
            insecure: false,
            metrics: true,
            metrics_listen: None,
        }
    }
}

impl ServerConfig {
    /// Where `/metrics` listens, when it is on.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        if !self.metrics {
            return None;
        }
        Some(self.metrics_listen.unwrap_or_else(|| {
            let port = match self.listen.port() {
                0 => 0,
                p => p.saturating_add(1000),
            };
            SocketAddr::from(([127, 0, 0, 1], port))
        }))
    }

    /// The shutdown grace period.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: String, message: String },
}

/// Parses TOML text into a configuration; `origin` names the source in errors.
pub fn parse_toml<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: origin.to_string(),
        message: e.to_string(),
    })
}

/// Reads and parses a TOML configuration file.
pub fn load_toml<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_toml(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_take_defaults() {
        let cfg: ServerConfig = parse_toml("listen = \"127.0.0.1:0\"", "test").unwrap();
        assert_eq!(cfg.listen.port(), 0);
        assert_eq!(
            cfg.max_message_bytes,
            ServerConfig::default().max_message_bytes
        );
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        let err = parse_toml::<ServerConfig>("listne = \"x\"", "cfg.toml").unwrap_err();
        assert!(err.to_string().contains("listne"), "{err}");
        assert!(err.to_string().contains("cfg.toml"), "{err}");
    }
}
