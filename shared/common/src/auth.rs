//! Access control for every RPC of every service, in one tower layer.
//!
//! Callers present a bearer token (`authorization: Bearer <token>`). The
//! configuration holds only SHA-256 hashes of tokens, each with a role; a
//! presented token is hashed and compared with every configured hash in
//! constant time. Each service declares which roles may call which of its
//! methods ([`AccessRules`]); `admin` may call anything, and gRPC health and
//! reflection are open. No token or an unknown one gets `UNAUTHENTICATED`;
//! a known token whose role may not call the method gets
//! `PERMISSION_DENIED`. With no tokens configured, access control is off
//! (for a platform on localhost) and the server says so at start.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Who a caller is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Other generec services and the feed's callers.
    Internal,
    /// Reads proofs, checkpoints and keys.
    Auditor,
    /// Queries the content logs.
    Compliance,
    /// Everything.
    Admin,
}

impl Role {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Internal => "internal",
            Role::Auditor => "auditor",
            Role::Compliance => "compliance",
            Role::Admin => "admin",
        }
    }
}

/// One configured token.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// A name for logs (never the token).
    pub name: String,
    pub role: Role,
    /// Hex SHA-256 of the token.
    pub sha256: String,
}

/// The `[auth]` section.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub tokens: Vec<TokenConfig>,
}

/// Which roles may call which methods of one service.
#[derive(Clone, Debug, Default)]
pub struct AccessRules {
    /// Full method path (`/generec.trust.v1.TrustService/Review`) to roles.
    methods: HashMap<String, Vec<Role>>,
    /// Roles for methods of a listed service that are not listed.
    service_default: HashMap<String, Vec<Role>>,
}

impl AccessRules {
    /// Empty rules: only admin may call anything.
    pub fn new() -> Self {
        AccessRules::default()
    }

    /// Lets `roles` call `method` of `service` (`generec.trust.v1.TrustService`).
    pub fn allow(mut self, service: &str, method: &str, roles: &[Role]) -> Self {
        self.methods
            .insert(format!("/{service}/{method}"), roles.to_vec());
        self
    }

    /// Lets `roles` call every method of `service` not listed with `allow`.
    pub fn allow_service(mut self, service: &str, roles: &[Role]) -> Self {
        self.service_default
            .insert(service.to_string(), roles.to_vec());
        self
    }

    /// The rules of `service` from the platform's access table
    /// (`shared/common/data/access.toml`, embedded): the methods listed
    /// there and the roles that may call each. A method not in the table
    /// is admin-only.
    pub fn from_table(service: &str) -> AccessRules {
        let mut rules = AccessRules::new();
        if let Some(methods) = access_table().get(service) {
            for (method, roles) in methods {
                rules = rules.allow(service, method, roles);
            }
        }
        rules
    }

    /// Adds every rule of `other`.
    pub fn merge(mut self, other: AccessRules) -> Self {
        self.methods.extend(other.methods);
        self.service_default.extend(other.service_default);
        self
    }

    fn allows(&self, path: &str, role: Role) -> bool {
        if role == Role::Admin {
            return true;
        }
        if let Some(roles) = self.methods.get(path) {
            return roles.contains(&role);
        }
        let service = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        self.service_default
            .get(service)
            .is_some_and(|roles| roles.contains(&role))
    }
}

/// The access table's text (see [`access_table`]).
pub const ACCESS_TABLE: &str = include_str!("../data/access.toml");

/// The platform's access table: service, then method, then the roles
/// (besides admin) that may call it.
pub fn access_table()
-> std::collections::BTreeMap<String, std::collections::BTreeMap<String, Vec<Role>>> {
    // The table is embedded and checked by a test; a broken table would
    // leave every method admin-only, which fails closed.
    toml::from_str(ACCESS_TABLE).unwrap_or_default()
}

/// Who made a call, put in the request's extensions by the layer when
/// access control is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's configured name.
    pub name: String,
    pub role: Role,
}

/// Why a token configuration was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid auth.tokens[{index}]: {message}")]
pub struct AuthConfigError {
    pub index: usize,
    pub message: String,
}

/// The checks the layer runs.
#[derive(Clone, Debug)]
pub struct AuthPolicy {
    tokens: Vec<([u8; 32], Role, String)>,
    rules: AccessRules,
}

/// A bearer token held in memory: its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> BearerToken {
        BearerToken(token.into())
    }

    /// The token itself, to put in a request.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// The client side: puts `authorization: Bearer <token>` on every request
/// of a tonic client (`XClient::with_interceptor(channel, bearer)`); with
/// no token it adds nothing.
#[derive(Clone, Debug, Default)]
pub struct Bearer(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl Bearer {
    /// An interceptor presenting `token`, or nothing for `None`.
    pub fn new(token: Option<&str>) -> Result<Bearer, BadToken> {
        match token.filter(|t| !t.is_empty()) {
            None => Ok(Bearer(None)),
            Some(t) => format!("Bearer {t}")
                .parse()
                .map(|v| Bearer(Some(v)))
                .map_err(|_| BadToken),
        }
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            request.metadata_mut().insert("authorization", v.clone());
        }
        Ok(request)
    }
}

/// A token that cannot be sent in a header.
#[derive(Debug, thiserror::Error)]
#[error("the bearer token is not valid header text")]
pub struct BadToken;

/// A channel whose requests carry a [`Bearer`] token.
pub type AuthedChannel =
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>;

/// Hashes a token as the configuration stores it.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

impl AuthPolicy {
    /// Builds the policy, checking every configured hash.
    pub fn new(config: &AuthConfig, rules: AccessRules) -> Result<AuthPolicy, AuthConfigError> {
        let mut tokens = Vec::new();
        for (index, t) in config.tokens.iter().enumerate() {
            let hash: [u8; 32] = hex::decode(&t.sha256)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| AuthConfigError {
                    index,
                    message: "sha256 must be 64 hex digits".into(),
                })?;
            tokens.push((hash, t.role, t.name.clone()));
        }
        Ok(AuthPolicy { tokens, rules })
    }

    /// Whether access control is on.
    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// Decides one call; returns the caller when a token was checked.
    pub fn check(
        &self,
        path: &str,
        authorization: Option<&str>,
    ) -> Result<Option<Caller>, tonic::Status> {
        if !self.enabled()
            || path.starts_with("/grpc.health.")
            || path.starts_with("/grpc.reflection.")
        {
            return Ok(None);
        }
        let Some(token) = authorization.and_then(|h| h.strip_prefix("Bearer ")) else {
            return Err(tonic::Status::unauthenticated(
                "missing bearer token (authorization: Bearer <token>)",
            ));
        };
        let presented: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        // Compare with every configured hash, so timing does not tell which matched.
        let mut found = None;
        for (hash, r, name) in &self.tokens {
            if constant_time_eq(hash, &presented) {
                found = Some((*r, name));
            }
        }
        let Some((role, name)) = found else {
            return Err(tonic::Status::unauthenticated("unknown bearer token"));
        };
        if self.rules.allows(path, role) {
            Ok(Some(Caller {
                name: name.clone(),
                role,
            }))
        } else {
            Err(tonic::Status::permission_denied(format!(
                "role {} may not call {path}",
                role.as_str()
            )))
        }
    }
}

/// The tower layer that applies an [`AuthPolicy`] to every request.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    policy: Arc<AuthPolicy>,
}

impl AuthLayer {
    /// A layer for this policy.
    pub fn new(policy: AuthPolicy) -> Self {
        AuthLayer {
            policy: Arc::new(policy),
        }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Auth<S>;
    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The service the layer wraps around the routes.
#[derive(Clone, Debug)]
pub struct Auth<S> {
    inner: S,
    policy: Arc<AuthPolicy>,
}

impl<S, B> tower::Service<http::Request<B>> for Auth<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let authorization = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        match self.policy.check(req.uri().path(), authorization) {
            Ok(caller) => {
                if let Some(caller) = caller {
                    req.extensions_mut().insert(caller);
                }
                Box::pin(self.inner.call(req))
            }
            Err(status) => Box::pin(async move { Ok(status.into_http()) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> AuthPolicy {
        let config = AuthConfig {
            tokens: vec![
                TokenConfig {
                    name: "audit".into(),
                    role: Role::Auditor,
                    sha256: token_hash("a-token"),
                },
                TokenConfig {
                    name: "feed".into(),
                    role: Role::Internal,
                    sha256: token_hash("i-token"),
                },
                TokenConfig {
                    name: "ops".into(),
                    role: Role::Admin,
                    sha256: token_hash("root"),
                },
            ],
        };
        let rules = AccessRules::new()
            .allow_service("x.v1.Svc", &[Role::Internal])
            .allow(
                "x.v1.Svc",
                "GetCheckpoint",
                &[Role::Internal, Role::Auditor],
            );
        AuthPolicy::new(&config, rules).unwrap()
    }

    #[test]
    fn roles_get_exactly_their_methods() {
        let p = policy();
        assert!(p.check("/x.v1.Svc/Review", Some("Bearer i-token")).is_ok());
        assert!(
            p.check("/x.v1.Svc/GetCheckpoint", Some("Bearer a-token"))
                .is_ok()
        );
        let denied = p
            .check("/x.v1.Svc/Review", Some("Bearer a-token"))
            .unwrap_err();
        assert_eq!(denied.code(), tonic::Code::PermissionDenied);
        assert!(denied.message().contains("auditor"));
        assert!(p.check("/x.v1.Svc/Anything", Some("Bearer root")).is_ok());
        assert!(p.check("/other.Svc/Call", Some("Bearer i-token")).is_err());
    }

    #[test]
    fn missing_or_unknown_tokens_are_unauthenticated_and_health_is_open() {
        let p = policy();
        assert_eq!(
            p.check("/x.v1.Svc/Review", None).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            p.check("/x.v1.Svc/Review", Some("Bearer nope"))
                .unwrap_err()
                .code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            p.check("/x.v1.Svc/Review", Some("Basic i-token"))
                .unwrap_err()
                .code(),
            tonic::Code::Unauthenticated
        );
        assert!(p.check("/grpc.health.v1.Health/Check", None).is_ok());
    }

    #[test]
    fn the_access_table_parses_and_never_lists_admin() {
        let table: std::collections::BTreeMap<
            String,
            std::collections::BTreeMap<String, Vec<Role>>,
        > = toml::from_str(ACCESS_TABLE).unwrap();
        assert_eq!(table.len(), 4);
        for methods in table.values() {
            for roles in methods.values() {
                assert!(!roles.contains(&Role::Admin));
            }
        }
        let trust = AccessRules::from_table("generec.trust.v1.TrustService");
        assert!(trust.allows("/generec.trust.v1.TrustService/QueryLog", Role::Compliance));
        assert!(!trust.allows("/generec.trust.v1.TrustService/QueryLog", Role::Internal));
        assert!(!trust.allows("/generec.trust.v1.TrustService/RotateKey", Role::Internal));
        assert!(trust.allows("/generec.trust.v1.TrustService/RotateKey", Role::Admin));
        assert!(!trust.allows(
            "/generec.trust.v1.TrustService/NotInTheTable",
            Role::Internal
        ));
    }

    #[test]
    fn no_tokens_means_access_control_is_off_and_bad_hashes_are_refused() {
        let open = AuthPolicy::new(&AuthConfig::default(), AccessRules::new()).unwrap();
        assert!(!open.enabled());
        assert!(open.check("/x.v1.Svc/Review", None).is_ok());
        let bad = AuthConfig {
            tokens: vec![TokenConfig {
                name: "x".into(),
                role: Role::Admin,
                sha256: "abc".into(),
            }],
        };
        assert!(
            AuthPolicy::new(&bad, AccessRules::new())
                .unwrap_err()
                .to_string()
                .contains("tokens[0]")
        );
    }
}
