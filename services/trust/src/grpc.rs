//! The gRPC skin of the trust service: converts messages to and from the
//! domain types, runs reviews on the blocking pool, and maps errors to
//! status codes through [`TrustError`]'s one conversion.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use generec_common::types::{ItemKind, Origin};
use generec_proto::trust::v1 as pb;
use pb::trust_service_server::{TrustService, TrustServiceServer};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::checks::copyright::{self, ClaimPolicy};
use crate::checks::{Parent, ReviewContext, Source};
use crate::error::TrustError;
use crate::finding::{Action, Field, Finding};
use crate::review::{Outcome, Reviewer};

/// The tonic service over a shared [`Reviewer`].
#[derive(Clone)]
pub struct TrustGrpc {
    reviewer: Arc<Reviewer>,
    /// The bundle file a reload without text rereads.
    bundle_path: Option<PathBuf>,
}

impl TrustGrpc {
    /// Wraps a reviewer; `bundle_path` is the file an empty reload rereads.
    pub fn new(reviewer: Arc<Reviewer>, bundle_path: Option<PathBuf>) -> Self {
        TrustGrpc {
            reviewer,
            bundle_path,
        }
    }

    /// The tonic server for this service, with message size limits.
    pub fn into_server(self, max_message_bytes: usize) -> TrustServiceServer<TrustGrpc> {
        TrustServiceServer::new(self)
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes)
    }

    async fn run<T, F>(&self, f: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&Reviewer) -> Result<T, TrustError> + Send + 'static,
    {
        let reviewer = self.reviewer.clone();
        tokio::task::spawn_blocking(move || f(&reviewer))
            .await
            .map_err(|e| Status::from(TrustError::Internal(format!("task failed: {e}"))))?
            .map_err(Status::from)
    }
}

fn verdict_to(action: Action) -> i32 {
    (match action {
        Action::Allow => pb::Verdict::Allow,
        Action::AllowWithLabel => pb::Verdict::AllowWithLabel,
        Action::Redact => pb::Verdict::Redact,
        Action::Review => pb::Verdict::Review,
        Action::Block => pb::Verdict::Block,
    }) as i32
}

/// Converts a proto review context into the domain one.
pub fn context_from(ctx: Option<pb::ReviewContext>) -> Result<ReviewContext, TrustError> {
    let Some(ctx) = ctx else {
        return Ok(ReviewContext::default());
    };
    let kind = match ctx.kind {
        0 => None,
        k => Some(
            ItemKind::from_proto(k)
                .map_err(|e| TrustError::invalid("context.kind", e.to_string()))?,
        ),
    };
    let origin = match ctx.origin {
        0 => None,
        o => Some(
            Origin::from_proto(o)
                .map_err(|e| TrustError::invalid("context.origin", e.to_string()))?,
        ),
    };
    Ok(ReviewContext {
        kind,
        user_id: ctx.user_id,
        origin,
        parents: ctx
            .parents
            .into_iter()
            .map(|p| Parent {
                id: p.id,
                licence: p.licence,
                owner_consent: p.owner_consent,
            })
            .collect(),
        sources: ctx
            .sources
            .into_iter()
            .map(|s| Source {
                id: s.id,
                text: s.text,
            })
            .collect(),
        instruction: ctx.instruction,
    })
}

fn finding_to(f: Finding) -> pb::Finding {
    let (start, end) = f.span.unwrap_or((0, 0));
    pb::Finding {
        policy: f.policy.as_str().to_string(),
        category: f.category.as_str().to_string(),
        rule_id: f.rule_id,
        field: (match f.field {
            Field::Content => pb::Field::Content,
            Field::Instruction => pb::Field::Instruction,
        }) as i32,
        span_start: u32::try_from(start).unwrap_or(u32::MAX),
        span_end: u32::try_from(end).unwrap_or(u32::MAX),
        score: f.score,
        evidence: f.evidence,
        suggestion: f.suggestion.unwrap_or_default(),
        action: verdict_to(f.action),
    }
}

/// Converts an outcome into its proto message.
pub fn outcome_to(o: Outcome) -> pb::ReviewResponse {
    pb::ReviewResponse {
        verdict: verdict_to(o.verdict),
        findings: o.findings.into_iter().map(finding_to).collect(),
        redacted_text: o.redacted_text.unwrap_or_default(),
        bundle_hash: o.bundle_hash,
        bundle_version: o.bundle_version,
    }
}

fn bundle_info(b: &crate::bundle::Bundle) -> pb::BundleInfo {
    let mut categories: Vec<String> = b.rules.keys().map(|c| c.as_str().to_string()).collect();
    categories.sort();
    pb::BundleInfo {
        version: b.version.clone(),
        hash: b.hash.clone(),
        categories,
    }
}

type ReviewStream =
    Pin<Box<dyn Stream<Item = Result<pb::ReviewResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl TrustService for TrustGrpc {
    async fn review(
        &self,
        request: Request<pb::ReviewRequest>,
    ) -> Result<Response<pb::ReviewResponse>, Status> {
        let req = request.into_inner();
        let context = context_from(req.context)?;
        let outcome = self.run(move |r| r.review(&req.content, &context)).await?;
        Ok(Response::new(outcome_to(outcome)))
    }

    type ReviewStreamStream = ReviewStream;

    async fn review_stream(
        &self,
        request: Request<Streaming<pb::ReviewRequest>>,
    ) -> Result<Response<Self::ReviewStreamStream>, Status> {
        let mut input = request.into_inner();
        let reviewer = self.reviewer.clone();
        let output = async_stream(move |tx| async move {
            let mut n = 0usize;
            while let Some(req) = input.next().await {
                let result = match req {
                    Ok(req) => {
                        let reviewer = reviewer.clone();
                        let reviewed = tokio::task::spawn_blocking(move || {
                            let context = context_from(req.context)?;
                            reviewer.review(&req.content, &context)
                        })
                        .await;
                        match reviewed {
                            Ok(Ok(outcome)) => Ok(outcome_to(outcome)),
                            Ok(Err(e)) => {
                                let status = Status::from(e);
                                Err(Status::new(
                                    status.code(),
                                    format!("request {n}: {}", status.message()),
                                ))
                            }
                            Err(e) => Err(Status::internal(format!("request {n}: {e}"))),
                        }
                    }
                    Err(status) => Err(status),
                };
                let stop = result.is_err();
                if tx.send(result).await.is_err() || stop {
                    return;
                }
                n += 1;
            }
        });
        Ok(Response::new(Box::pin(output)))
    }

    async fn register_private_attributes(
        &self,
        request: Request<pb::RegisterPrivateAttributesRequest>,
    ) -> Result<Response<pb::RegisterPrivateAttributesResponse>, Status> {
        let req = request.into_inner();
        let attributes: Vec<(String, String)> = req
            .attributes
            .into_iter()
            .map(|a| (a.kind, a.value))
            .collect();
        let added = self
            .run(move |r| {
                r.registry()
                    .register_private_attributes(&req.user_id, &attributes)
            })
            .await?;
        Ok(Response::new(pb::RegisterPrivateAttributesResponse {
            registered: u32::try_from(added).unwrap_or(u32::MAX),
        }))
    }

    async fn register_work(
        &self,
        request: Request<pb::RegisterWorkRequest>,
    ) -> Result<Response<pb::RegisterWorkResponse>, Status> {
        let req = request.into_inner();
        if req.work_id.is_empty() || req.work_id.len() > 256 {
            return Err(TrustError::invalid("work_id", "must be 1 to 256 bytes").into());
        }
        if req.claimant.is_empty() {
            return Err(TrustError::invalid("claimant", "must not be empty").into());
        }
        if req.text.split_whitespace().count() < 5 {
            return Err(
                TrustError::invalid("text", "a claimed work needs at least 5 words").into(),
            );
        }
        let policy = match pb::ClaimPolicy::try_from(req.policy) {
            Ok(pb::ClaimPolicy::Block) => ClaimPolicy::Block,
            Ok(pb::ClaimPolicy::Label) => ClaimPolicy::Label,
            Ok(pb::ClaimPolicy::Track) => ClaimPolicy::Track,
            Ok(pb::ClaimPolicy::Unspecified) => {
                return Err(TrustError::invalid("policy", "must be set").into());
            }
            Err(_) => {
                return Err(
                    TrustError::invalid("policy", format!("unknown value {}", req.policy)).into(),
                );
            }
        };
        let work = self
            .run(move |r| {
                let work = copyright::work(
                    &req.work_id,
                    &req.claimant,
                    &req.licence,
                    policy,
                    &req.text,
                    &copyright::Config::default(),
                );
                r.registry().register_work(work.clone())?;
                Ok(work)
            })
            .await?;
        Ok(Response::new(pb::RegisterWorkResponse {
            work_id: work.id,
            shingles: work.shingles,
        }))
    }

    async fn reload_bundle(
        &self,
        request: Request<pb::ReloadBundleRequest>,
    ) -> Result<Response<pb::BundleInfo>, Status> {
        let text = request.into_inner().bundle_toml;
        let path = self.bundle_path.clone();
        let bundle = self
            .run(move |r| {
                if !text.is_empty() {
                    r.reload_text(&text, "reloaded bundle")
                } else if let Some(path) = path {
                    r.reload_file(&path)
                } else {
                    Err(TrustError::invalid(
                        "bundle_toml",
                        "is empty and the server has no bundle file to reread",
                    ))
                }
            })
            .await?;
        Ok(Response::new(bundle_info(&bundle)))
    }

    async fn get_bundle(
        &self,
        _request: Request<pb::GetBundleRequest>,
    ) -> Result<Response<pb::BundleInfo>, Status> {
        Ok(Response::new(bundle_info(&self.reviewer.bundle())))
    }
}

/// A stream fed by a task through a bounded channel.
fn async_stream<T, F, Fut>(f: F) -> impl Stream<Item = T> + Send + 'static
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// Serves the trust service (with health and reflection) on a bound
/// listener until `shutdown` resolves.
pub async fn serve(
    reviewer: Arc<Reviewer>,
    bundle_path: Option<PathBuf>,
    listener: tokio::net::TcpListener,
    config: &generec_common::config::ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), generec_common::server::ServeError> {
    let (routes, health) = generec_common::server::base_routes(generec_proto::FILE_DESCRIPTOR_SET)?;
    let routes = routes
        .add_service(TrustGrpc::new(reviewer, bundle_path).into_server(config.max_message_bytes));
    health.set_serving::<TrustServiceServer<TrustGrpc>>().await;
    generec_common::server::serve(listener, config, routes, shutdown).await
}
