//! The gRPC skin of the trust service: converts messages to and from the
//! domain types, runs reviews on the blocking pool, and maps errors to
//! status codes through [`TrustError`]'s one conversion.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use generec_common::auth::{AccessRules, AuthConfig, AuthPolicy};
use generec_common::types::{ItemKind, Origin};
use generec_proto::trust::v1 as pb;
use pb::trust_service_server::{TrustService, TrustServiceServer};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::checks::copyright::ClaimPolicy;
use crate::checks::{Parent, ReviewContext, Source};
use crate::claims::{Claim, ClaimStatus, Claims, ListFilter};
use crate::config::Trust;
use crate::error::TrustError;
use crate::finding::{Action, Field, Finding};
use crate::manifest::Manifest;
use crate::provenance::{CertifyRequest, Detection, Provenance};
use crate::review::{Outcome, Reviewer};

/// The tonic service over a shared [`Reviewer`].
#[derive(Clone)]
pub struct TrustGrpc {
    reviewer: Arc<Reviewer>,
    provenance: Arc<Provenance>,
    claims: Arc<Claims>,
    /// The bundle file a reload without text rereads.
    bundle_path: Option<PathBuf>,
}

impl TrustGrpc {
    /// Wraps an opened trust service; `bundle_path` is the file an empty
    /// reload rereads.
    pub fn new(trust: Trust, bundle_path: Option<PathBuf>) -> Self {
        TrustGrpc {
            reviewer: trust.reviewer,
            provenance: trust.provenance,
            claims: trust.claims,
            bundle_path,
        }
    }

    async fn with_provenance<T, F>(&self, f: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&Provenance) -> Result<T, TrustError> + Send + 'static,
    {
        let provenance = self.provenance.clone();
        generec_common::error::run_blocking(move || f(&provenance)).await
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
        generec_common::error::run_blocking(move || f(&reviewer)).await
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
    if !ctx.user_id.is_empty() {
        generec_provenance::ids::check_id(&ctx.user_id)
            .map_err(|e| TrustError::invalid("context.user_id", e))?;
    }
    if ctx.framing.len() > MAX_FRAMING_RANGES {
        return Err(TrustError::invalid(
            "context.framing",
            format!("at most {MAX_FRAMING_RANGES} ranges"),
        ));
    }
    if let Some(r) = ctx.framing.iter().find(|r| r.start > r.end) {
        return Err(TrustError::invalid(
            "context.framing",
            format!("range {}..{} ends before it starts", r.start, r.end),
        ));
    }
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
                item_id: s.item_id,
                licence: s.licence,
                creator: s.creator_id,
                title: s.title,
                content_sha256: s.content_sha256,
            })
            .collect(),
        instruction: ctx.instruction,
        framing: ctx
            .framing
            .iter()
            .map(|r| (r.start as usize, r.end as usize))
            .collect(),
    })
}

/// Most framing ranges a review context may mark.
const MAX_FRAMING_RANGES: usize = 64;

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
        licence: o.licence,
        made_from: o.made_from.into_iter().map(made_from_to).collect(),
        scores: o
            .scores
            .into_iter()
            .map(|(c, s)| (c.to_string(), s))
            .collect(),
    }
}

fn made_from_to(m: crate::checks::made_from::MadeFrom) -> pb::MadeFrom {
    let i = m.ingredient;
    pb::MadeFrom {
        item_id: i.item_id,
        content_sha256: i.content_sha256,
        relationship: i.relationship,
        licence: i.licence,
        creator_id: i.creator_id,
        spans: i
            .spans
            .into_iter()
            .map(|(start, end)| pb::Span { start, end })
            .collect(),
        copied_words: u32::try_from(m.copied_words).unwrap_or(u32::MAX),
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

fn claim_policy_from(value: i32) -> Result<ClaimPolicy, TrustError> {
    match pb::ClaimPolicy::try_from(value) {
        Ok(pb::ClaimPolicy::Block) => Ok(ClaimPolicy::Block),
        Ok(pb::ClaimPolicy::Label) => Ok(ClaimPolicy::Label),
        Ok(pb::ClaimPolicy::Track) => Ok(ClaimPolicy::Track),
        Ok(pb::ClaimPolicy::Unspecified) => Err(TrustError::invalid("policy", "must be set")),
        Err(_) => Err(TrustError::invalid(
            "policy",
            format!("unknown value {value}"),
        )),
    }
}

fn claim_to(c: Claim) -> pb::Claim {
    pb::Claim {
        claim_id: c.claim_id,
        work_id: c.work_id,
        claimant: c.claimant,
        licence: c.licence,
        policy: (match c.policy {
            ClaimPolicy::Block => pb::ClaimPolicy::Block,
            ClaimPolicy::Label => pb::ClaimPolicy::Label,
            ClaimPolicy::Track => pb::ClaimPolicy::Track,
        }) as i32,
        status: c.status.as_str().to_string(),
        disputes: c
            .disputes
            .into_iter()
            .map(|d| pb::ClaimDispute {
                disputed_by: d.by,
                reason: d.reason,
                when_unix_ms: d.when_unix_ms,
            })
            .collect(),
        resolution: c.resolution,
        created_unix_ms: c.created_unix_ms,
        updated_unix_ms: c.updated_unix_ms,
    }
}

fn manifest_bytes(m: &Manifest) -> Result<Vec<u8>, Status> {
    serde_json::to_vec(m).map_err(|e| Status::from(TrustError::Internal(e.to_string())))
}

fn manifest_from(bytes: &[u8]) -> Result<Manifest, TrustError> {
    if bytes.len() > 256 * 1024 {
        return Err(TrustError::invalid("manifest", "is larger than 256 KiB"));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| TrustError::invalid("manifest", format!("is not a manifest: {e}")))
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
        let provenance = self.provenance.clone();
        let outcome = self
            .run(move |r| {
                let outcome = r.review(&req.content, &context)?;
                provenance.record_review(&req.content, &context, &outcome)?;
                Ok(outcome)
            })
            .await?;
        Ok(Response::new(outcome_to(outcome)))
    }

    type ReviewStreamStream = ReviewStream;

    async fn review_stream(
        &self,
        request: Request<Streaming<pb::ReviewRequest>>,
    ) -> Result<Response<Self::ReviewStreamStream>, Status> {
        let mut input = request.into_inner();
        let reviewer = self.reviewer.clone();
        let provenance = self.provenance.clone();
        let output = async_stream(move |tx| async move {
            let mut n = 0usize;
            while let Some(req) = input.next().await {
                let result = match req {
                    Ok(req) => {
                        let reviewer = reviewer.clone();
                        let provenance = provenance.clone();
                        let reviewed = tokio::task::spawn_blocking(move || {
                            let context = context_from(req.context)?;
                            let outcome = reviewer.review(&req.content, &context)?;
                            provenance.record_review(&req.content, &context, &outcome)?;
                            Ok::<_, TrustError>(outcome)
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
        generec_provenance::ids::check_id(&req.work_id)
            .map_err(|e| TrustError::invalid("work_id", e))?;
        generec_provenance::ids::check_id(&req.claimant)
            .map_err(|e| TrustError::invalid("claimant", e))?;
        if req.text.split_whitespace().count() < 5 {
            return Err(
                TrustError::invalid("text", "a claimed work needs at least 5 words").into(),
            );
        }
        let policy = claim_policy_from(req.policy)?;
        let claims = self.claims.clone();
        let provenance = self.provenance.clone();
        let work = self
            .run(move |r| {
                let claim_id = format!("{}/{}", req.work_id, req.claimant);
                claims.register(
                    &provenance,
                    r.registry(),
                    &claim_id,
                    &req.work_id,
                    &req.claimant,
                    &req.licence,
                    policy,
                    &req.text,
                )?;
                r.registry()
                    .works()
                    .iter()
                    .find(|w| w.id == req.work_id)
                    .cloned()
                    .ok_or_else(|| {
                        TrustError::Internal("the claimed work was not registered".into())
                    })
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

    async fn certify(
        &self,
        request: Request<pb::CertifyRequest>,
    ) -> Result<Response<pb::CertifyResponse>, Status> {
        let req = request.into_inner();
        let generator = (!req.generator_name.is_empty()).then(|| crate::manifest::Generator {
            name: req.generator_name.clone(),
            version: req.generator_version.clone(),
        });
        let certify = CertifyRequest {
            item_id: req.item_id,
            content: req.content,
            action: req.action,
            parents: req
                .parents
                .into_iter()
                .map(|p| crate::manifest::Ingredient {
                    item_id: p.item_id,
                    content_sha256: p.content_sha256,
                    relationship: crate::manifest::PARENT_OF.into(),
                    ..crate::manifest::Ingredient::default()
                })
                .collect(),
            generator,
            creator: req.creator,
            creator_id: req.creator_id,
            licence: req.licence,
            source_ids: req.source_ids,
        };
        let certified = self.with_provenance(move |p| p.certify(&certify)).await?;
        Ok(Response::new(pb::CertifyResponse {
            manifest_id: certified.manifest.manifest_id.clone(),
            manifest: manifest_bytes(&certified.manifest)?,
            marked_content: certified.content,
            log_index: certified.log_index,
        }))
    }

    async fn record_upload(
        &self,
        request: Request<pb::RecordUploadRequest>,
    ) -> Result<Response<pb::RecordUploadResponse>, Status> {
        let req = request.into_inner();
        let log_index = self
            .with_provenance(move |p| {
                p.record_upload(&req.item_id, &req.content_sha256, &req.creator)
            })
            .await?;
        Ok(Response::new(pb::RecordUploadResponse { log_index }))
    }

    async fn verify(
        &self,
        request: Request<pb::VerifyRequest>,
    ) -> Result<Response<pb::VerifyResponse>, Status> {
        let req = request.into_inner();
        let manifest = manifest_from(&req.manifest)?;
        let statuses = self
            .with_provenance(move |p| p.verify(&req.content, &manifest))
            .await?;
        Ok(Response::new(pb::VerifyResponse {
            valid: statuses.iter().all(|s| !s.is_failure()),
            status_codes: statuses.iter().map(|s| s.code().to_string()).collect(),
        }))
    }

    async fn detect_provenance(
        &self,
        request: Request<pb::DetectProvenanceRequest>,
    ) -> Result<Response<pb::DetectProvenanceResponse>, Status> {
        let content = request.into_inner().content;
        if content.len() > crate::review::limits::MAX_CONTENT_BYTES {
            return Err(TrustError::invalid("content", "is larger than a review accepts").into());
        }
        let found = self
            .with_provenance(move |p| {
                Ok(match p.detect(&content)? {
                    Some((m, how)) => {
                        let statuses = p.verify(&content, &m)?;
                        let index = p.authorship_index(&m.manifest_id)?.unwrap_or_default();
                        Some((m, how, statuses, index))
                    }
                    None => None,
                })
            })
            .await?;
        let Some((m, how, statuses, log_index)) = found else {
            return Ok(Response::new(pb::DetectProvenanceResponse::default()));
        };
        let (method, distance) = match how {
            Detection::Watermark => ("watermark", 0),
            Detection::SoftBinding { distance } => ("soft_binding", distance),
        };
        Ok(Response::new(pb::DetectProvenanceResponse {
            found: true,
            manifest_id: m.manifest_id.clone(),
            manifest: manifest_bytes(&m)?,
            method: method.into(),
            distance,
            status_codes: statuses.iter().map(|s| s.code().to_string()).collect(),
            log_index,
        }))
    }

    async fn get_checkpoint(
        &self,
        _request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::CheckpointResponse>, Status> {
        let (cp, signed) = self.with_provenance(|p| p.checkpoint()).await?;
        Ok(Response::new(pb::CheckpointResponse {
            signed_note: signed,
            tree_size: cp.size,
            root_hash: cp.root.to_vec(),
        }))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::InclusionProofResponse>, Status> {
        let req = request.into_inner();
        let (index, hashes, size, entry) = self
            .with_provenance(move |p| {
                let size = if req.tree_size == 0 {
                    p.log().head().0
                } else {
                    req.tree_size
                };
                if req.index >= size {
                    return Err(TrustError::invalid(
                        "index",
                        format!("{} is not in a tree of size {size}", req.index),
                    ));
                }
                let hashes = p.log().inclusion_proof(req.index, size)?;
                // An entry over the size limit (from a log written before it
                // existed) comes as its summary, whose leaf hash the proof
                // is checked with; the reply always fits.
                let entry = p.log().entry(req.index)?.unwrap_or_default();
                let entry = if entry.len() > generec_provenance::entry::MAX_ENTRY_BYTES {
                    crate::query::shown_entry(&entry).into_bytes()
                } else {
                    entry
                };
                Ok((req.index, hashes, size, entry))
            })
            .await?;
        Ok(Response::new(pb::InclusionProofResponse {
            index,
            tree_size: size,
            hashes: hashes.iter().map(|h| h.to_vec()).collect(),
            entry,
        }))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::ConsistencyProofResponse>, Status> {
        let req = request.into_inner();
        let (old, new, hashes) = self
            .with_provenance(move |p| {
                let new = if req.new_size == 0 {
                    p.log().head().0
                } else {
                    req.new_size
                };
                if req.old_size > new {
                    return Err(TrustError::invalid(
                        "old_size",
                        format!("{} is larger than new_size {new}", req.old_size),
                    ));
                }
                Ok((
                    req.old_size,
                    new,
                    p.log().consistency_proof(req.old_size, new)?,
                ))
            })
            .await?;
        Ok(Response::new(pb::ConsistencyProofResponse {
            old_size: old,
            new_size: new,
            hashes: hashes.iter().map(|h| h.to_vec()).collect(),
        }))
    }

    async fn query_log(
        &self,
        request: Request<pb::QueryLogRequest>,
    ) -> Result<Response<pb::QueryLogResponse>, Status> {
        let caller = request
            .extensions()
            .get::<generec_common::auth::Caller>()
            .map_or_else(
                || "anonymous (access control off)".to_string(),
                |c| format!("{} ({})", c.name, c.role.as_str()),
            );
        let req = request.into_inner();
        let after = if req.page_token.is_empty() {
            None
        } else {
            Some(req.page_token.parse::<u64>().map_err(|_| {
                TrustError::invalid("page_token", "is not a token this service gave")
            })?)
        };
        let limit = if req.page_size == 0 {
            100
        } else {
            req.page_size as usize
        };
        let query = crate::query::Query {
            item_id: req.item_id,
            creator: req.creator,
            user_id: req.user_id,
            claimant: req.claimant,
            verdict: req.verdict,
            rule_id: req.rule_id,
            entry_type: req.entry_type,
            from_unix_ms: req.from_unix_ms,
            until_unix_ms: req.until_unix_ms,
        };
        let page = self
            .with_provenance(move |p| p.query(&caller, &query, after, limit))
            .await?;
        Ok(Response::new(pb::QueryLogResponse {
            records: page
                .entries
                .into_iter()
                .map(|(index, entry)| pb::LogRecord { index, entry })
                .collect(),
            next_page_token: page.next.map(|n| n.to_string()).unwrap_or_default(),
        }))
    }

    async fn register_claim(
        &self,
        request: Request<pb::RegisterClaimRequest>,
    ) -> Result<Response<pb::ClaimResponse>, Status> {
        let req = request.into_inner();
        let policy = claim_policy_from(req.policy)?;
        let (claims, provenance) = (self.claims.clone(), self.provenance.clone());
        let (claim, index) = self
            .run(move |r| {
                claims.register(
                    &provenance,
                    r.registry(),
                    &req.claim_id,
                    &req.work_id,
                    &req.claimant,
                    &req.licence,
                    policy,
                    &req.text,
                )
            })
            .await?;
        Ok(Response::new(pb::ClaimResponse {
            claim: Some(claim_to(claim)),
            log_index: index,
        }))
    }

    async fn list_claims(
        &self,
        request: Request<pb::ListClaimsRequest>,
    ) -> Result<Response<pb::ListClaimsResponse>, Status> {
        let req = request.into_inner();
        let status = match req.status.as_str() {
            "" => None,
            "active" => Some(ClaimStatus::Active),
            "disputed" => Some(ClaimStatus::Disputed),
            "upheld" => Some(ClaimStatus::Upheld),
            "rejected" => Some(ClaimStatus::Rejected),
            other => {
                return Err(
                    TrustError::invalid("status", format!("unknown status {other:?}")).into(),
                );
            }
        };
        let filter = ListFilter {
            work_id: req.work_id,
            claimant: req.claimant,
            status,
        };
        let claims = self.claims.clone();
        let list = self.run(move |_| claims.list(&filter)).await?;
        Ok(Response::new(pb::ListClaimsResponse {
            claims: list.into_iter().map(claim_to).collect(),
        }))
    }

    async fn dispute_claim(
        &self,
        request: Request<pb::DisputeClaimRequest>,
    ) -> Result<Response<pb::ClaimResponse>, Status> {
        let req = request.into_inner();
        let (claims, provenance) = (self.claims.clone(), self.provenance.clone());
        let (claim, index) = self
            .run(move |r| {
                claims.dispute(
                    &provenance,
                    r.registry(),
                    &req.claim_id,
                    &req.disputed_by,
                    &req.reason,
                )
            })
            .await?;
        Ok(Response::new(pb::ClaimResponse {
            claim: Some(claim_to(claim)),
            log_index: index,
        }))
    }

    async fn resolve_claim(
        &self,
        request: Request<pb::ResolveClaimRequest>,
    ) -> Result<Response<pb::ClaimResponse>, Status> {
        let req = request.into_inner();
        let (claims, provenance) = (self.claims.clone(), self.provenance.clone());
        let (claim, index) = self
            .run(move |r| {
                claims.resolve(
                    &provenance,
                    r.registry(),
                    &req.claim_id,
                    req.upheld,
                    &req.note,
                )
            })
            .await?;
        Ok(Response::new(pb::ClaimResponse {
            claim: Some(claim_to(claim)),
            log_index: index,
        }))
    }

    async fn rotate_key(
        &self,
        _request: Request<pb::RotateKeyRequest>,
    ) -> Result<Response<pb::RotateKeyResponse>, Status> {
        let (key_id, verifier) = self
            .with_provenance(|p| {
                let id = p.rotate_key()?;
                Ok((id, p.public_keys()?.1))
            })
            .await?;
        Ok(Response::new(pb::RotateKeyResponse {
            key_id,
            checkpoint_verifier_key: verifier,
        }))
    }

    async fn get_public_keys(
        &self,
        _request: Request<pb::GetPublicKeysRequest>,
    ) -> Result<Response<pb::PublicKeysResponse>, Status> {
        let (keys, verifier) = self.with_provenance(|p| p.public_keys()).await?;
        Ok(Response::new(pb::PublicKeysResponse {
            keys: keys
                .into_iter()
                .map(|k| pb::PublicKey {
                    key_id: k.key_id,
                    public_key: k.public_key,
                    created_unix_ms: k.created_unix_ms,
                    retired_unix_ms: k.retired_unix_ms,
                })
                .collect(),
            checkpoint_verifier_key: verifier,
        }))
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

/// Who may call this service: its rows of the platform's access table
/// (`shared/common/data/access.toml`; admins may call anything).
pub fn access_rules() -> AccessRules {
    AccessRules::from_table("generec.trust.v1.TrustService")
}

/// Serves the trust service (with health and reflection) on a bound
/// listener until `shutdown` resolves.
pub async fn serve(
    trust: Trust,
    bundle_path: Option<PathBuf>,
    listener: tokio::net::TcpListener,
    config: &generec_common::config::ServerConfig,
    auth: &AuthConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), generec_common::server::ServeError> {
    let policy = AuthPolicy::new(auth, access_rules())
        .map_err(|e| generec_common::server::ServeError::Auth(e.to_string()))?;
    let (routes, health) = generec_common::server::base_routes(generec_proto::FILE_DESCRIPTOR_SET)?;
    let routes = routes
        .add_service(TrustGrpc::new(trust, bundle_path).into_server(config.max_message_bytes));
    health.set_serving::<TrustServiceServer<TrustGrpc>>().await;
    generec_common::server::serve(listener, config, routes, policy, shutdown).await
}
