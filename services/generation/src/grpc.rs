//! The gRPC skin of the generation service: converts `generec.generation.v1`
//! messages to the core's types and back, and reads the caller's deadline
//! (`grpc-timeout`) so it propagates to the corpus and the model back-ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use generec_common::auth::{AccessRules, AuthConfig, AuthPolicy};
use generec_proto::generation::v1 as pb;
use generec_proto::generation::v1::generation_server::{
    Generation as GenerationApi, GenerationServer,
};
use tonic::{Request, Response, Status};

use crate::draft::Draft;
use crate::error::GenerationError;
use crate::guidance::{
    Action, Candidate, Decision, FeedbackKind, FeedbackSignal, Format, Guidance, InterpretInput,
    Length, LengthUnit, Tone, TopicWeight, Trigger,
};
use crate::service::{Backend, CreateArgs, EditArgs, Generation};

/// The gRPC service over a [`Generation`] core.
#[derive(Clone)]
pub struct GenerationGrpc {
    core: Arc<Generation>,
}

impl GenerationGrpc {
    pub fn new(core: Arc<Generation>) -> Self {
        GenerationGrpc { core }
    }

    pub fn into_server(self, max_message_bytes: usize) -> GenerationServer<GenerationGrpc> {
        GenerationServer::new(self)
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes)
    }
}

/// The caller's deadline from the `grpc-timeout` header (`<digits><unit>`,
/// units H M S m u n), if any.
pub fn deadline<T>(req: &Request<T>) -> Option<Instant> {
    let v = req.metadata().get("grpc-timeout")?.to_str().ok()?;
    if v.len() < 2 || v.len() > 9 {
        return None;
    }
    let (digits, unit) = v.split_at(v.len() - 1);
    let n: u64 = digits.parse().ok()?;
    let d = match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    };
    Instant::now().checked_add(d)
}

fn tone_from(v: i32) -> Result<Option<Tone>, GenerationError> {
    Ok(match pb::Tone::try_from(v) {
        Ok(pb::Tone::Unspecified) => None,
        Ok(pb::Tone::Neutral) => Some(Tone::Neutral),
        Ok(pb::Tone::Calm) => Some(Tone::Calm),
        Ok(pb::Tone::Upbeat) => Some(Tone::Upbeat),
        Ok(pb::Tone::Serious) => Some(Tone::Serious),
        Ok(pb::Tone::Formal) => Some(Tone::Formal),
        Ok(pb::Tone::Casual) => Some(Tone::Casual),
        Ok(pb::Tone::Playful) => Some(Tone::Playful),
        Err(_) => {
            return Err(GenerationError::invalid(
                "guidance.tone",
                format!("unknown value {v}"),
            ));
        }
    })
}

fn tone_to(t: Option<Tone>) -> i32 {
    (match t {
        None => pb::Tone::Unspecified,
        Some(Tone::Neutral) => pb::Tone::Neutral,
        Some(Tone::Calm) => pb::Tone::Calm,
        Some(Tone::Upbeat) => pb::Tone::Upbeat,
        Some(Tone::Serious) => pb::Tone::Serious,
        Some(Tone::Formal) => pb::Tone::Formal,
        Some(Tone::Casual) => pb::Tone::Casual,
        Some(Tone::Playful) => pb::Tone::Playful,
    }) as i32
}

fn format_from(v: i32) -> Result<Option<Format>, GenerationError> {
    Ok(match pb::Format::try_from(v) {
        Ok(pb::Format::Unspecified) => None,
        Ok(pb::Format::Article) => Some(Format::Article),
        Ok(pb::Format::Digest) => Some(Format::Digest),
        Ok(pb::Format::Summary) => Some(Format::Summary),
        Ok(pb::Format::Clip) => Some(Format::Clip),
        Ok(pb::Format::Thumbnail) => Some(Format::Thumbnail),
        Err(_) => {
            return Err(GenerationError::invalid(
                "guidance.format",
                format!("unknown value {v}"),
            ));
        }
    })
}

fn format_to(f: Option<Format>) -> i32 {
    (match f {
        None => pb::Format::Unspecified,
        Some(Format::Article) => pb::Format::Article,
        Some(Format::Digest) => pb::Format::Digest,
        Some(Format::Summary) => pb::Format::Summary,
        Some(Format::Clip) => pb::Format::Clip,
        Some(Format::Thumbnail) => pb::Format::Thumbnail,
    }) as i32
}

fn length_from(l: Option<pb::Length>) -> Result<Option<Length>, GenerationError> {
    let Some(l) = l else { return Ok(None) };
    let unit = match pb::LengthUnit::try_from(l.unit) {
        Ok(pb::LengthUnit::Sentences) => LengthUnit::Sentences,
        Ok(pb::LengthUnit::Words) => LengthUnit::Words,
        Ok(pb::LengthUnit::Seconds) => LengthUnit::Seconds,
        Ok(pb::LengthUnit::Unspecified) if l.value == 0 => LengthUnit::Sentences,
        _ => {
            return Err(GenerationError::invalid(
                "guidance.length.unit",
                "must be sentences, words or seconds",
            ));
        }
    };
    let positive = l.relative.is_finite() && l.relative > 0.0;
    if l.value == 0 && !positive {
        return Err(GenerationError::invalid(
            "guidance.length",
            "set value (with a unit) or a positive relative factor",
        ));
    }
    Ok(Some(Length {
        unit,
        value: l.value,
        relative: l.relative,
    }))
}

fn length_to(l: Option<Length>) -> Option<pb::Length> {
    l.map(|l| pb::Length {
        unit: (match l.unit {
            LengthUnit::Sentences => pb::LengthUnit::Sentences,
            LengthUnit::Words => pb::LengthUnit::Words,
            LengthUnit::Seconds => pb::LengthUnit::Seconds,
        }) as i32,
        value: l.value,
        relative: l.relative,
    })
}

fn topics_from(t: Vec<pb::TopicWeight>) -> Vec<TopicWeight> {
    t.into_iter()
        .map(|t| TopicWeight {
            topic: t.topic,
            weight: t.weight,
        })
        .collect()
}

fn topics_to(t: Vec<TopicWeight>) -> Vec<pb::TopicWeight> {
    t.into_iter()
        .map(|t| pb::TopicWeight {
            topic: t.topic,
            weight: t.weight,
        })
        .collect()
}

fn non_empty(s: String) -> Option<String> {
    if s.is_empty() { None } else { Some(s) }
}

/// Converts proto guidance (absent: empty guidance).
pub fn guidance_from(g: Option<pb::Guidance>) -> Result<Guidance, GenerationError> {
    let Some(g) = g else {
        return Ok(Guidance::default());
    };
    Ok(Guidance {
        include: topics_from(g.include),
        exclude: topics_from(g.exclude),
        include_categories: topics_from(g.include_categories),
        exclude_categories: topics_from(g.exclude_categories),
        tone: tone_from(g.tone)?,
        length: length_from(g.length)?,
        format: format_from(g.format)?,
        target_item: non_empty(g.target_item),
        fact_query: g.fact_query,
        imitate: non_empty(g.imitate),
        recency_days: g.recency_days,
    })
}

pub fn guidance_to(g: Guidance) -> pb::Guidance {
    pb::Guidance {
        include: topics_to(g.include),
        exclude: topics_to(g.exclude),
        include_categories: topics_to(g.include_categories),
        exclude_categories: topics_to(g.exclude_categories),
        tone: tone_to(g.tone),
        length: length_to(g.length),
        format: format_to(g.format),
        target_item: g.target_item.unwrap_or_default(),
        fact_query: g.fact_query,
        imitate: g.imitate.unwrap_or_default(),
        recency_days: g.recency_days,
    }
}

pub fn decision_to(d: Decision) -> pb::Decision {
    pb::Decision {
        action: (match d.action {
            Action::Retrieve => pb::Action::Retrieve,
            Action::Edit => pb::Action::Edit,
            Action::Create => pb::Action::Create,
        }) as i32,
        target_item: d.target_item.unwrap_or_default(),
        trigger: (match d.trigger {
            Trigger::None => pb::Trigger::None,
            Trigger::ExplicitRequest => pb::Trigger::ExplicitRequest,
            Trigger::RejectionStreak => pb::Trigger::RejectionStreak,
            Trigger::NoRelevantCandidate => pb::Trigger::NoRelevantCandidate,
        }) as i32,
        explanation: d.explanation,
    }
}

fn feedback_from(f: pb::FeedbackSignal) -> Result<FeedbackSignal, GenerationError> {
    let kind = match pb::FeedbackKind::try_from(f.kind) {
        Ok(pb::FeedbackKind::Impression) => FeedbackKind::Impression,
        Ok(pb::FeedbackKind::Click) => FeedbackKind::Click,
        Ok(pb::FeedbackKind::Like) => FeedbackKind::Like,
        Ok(pb::FeedbackKind::Complete) => FeedbackKind::Complete,
        Ok(pb::FeedbackKind::Share) => FeedbackKind::Share,
        Ok(pb::FeedbackKind::Skip) => FeedbackKind::Skip,
        Ok(pb::FeedbackKind::Dislike) => FeedbackKind::Dislike,
        _ => {
            return Err(GenerationError::invalid(
                "feedback.kind",
                format!("must be set to a known kind, got {}", f.kind),
            ));
        }
    };
    Ok(FeedbackSignal {
        item_id: f.item_id,
        kind,
    })
}

/// Converts an interpret request.
pub fn interpret_input_from(r: pb::InterpretRequest) -> Result<InterpretInput, GenerationError> {
    Ok(InterpretInput {
        user_id: r.user_id,
        instruction: r.instruction,
        context_item: non_empty(r.context_item_id),
        feedback: r
            .feedback
            .into_iter()
            .map(feedback_from)
            .collect::<Result<_, _>>()?,
        candidates: r
            .candidates
            .into_iter()
            .map(|c| Candidate {
                item_id: c.item_id,
                score: c.score,
                title: c.title,
                tags: c.tags,
                text: c.text,
                timed: c.timed,
            })
            .collect(),
    })
}

fn backend_from(v: i32) -> Result<Option<Backend>, GenerationError> {
    match pb::Backend::try_from(v) {
        Ok(pb::Backend::Unspecified) => Ok(None),
        Ok(pb::Backend::Composer) => Ok(Some(Backend::Composer)),
        Ok(pb::Backend::Embedded) => Ok(Some(Backend::Embedded)),
        Ok(pb::Backend::Openai) => Ok(Some(Backend::Openai)),
        Err(_) => Err(GenerationError::invalid(
            "backend",
            format!("unknown value {v}"),
        )),
    }
}

fn backend_to(b: Backend) -> i32 {
    (match b {
        Backend::Composer => pb::Backend::Composer,
        Backend::Embedded => pb::Backend::Embedded,
        Backend::Openai => pb::Backend::Openai,
    }) as i32
}

/// Converts a draft to its message.
pub fn draft_to(d: Draft) -> pb::Draft {
    pb::Draft {
        item_id: d.item_id,
        kind: d.kind.to_proto(),
        title: d.title,
        body: d.body,
        origin: d.origin.to_proto(),
        parents: d
            .parents
            .into_iter()
            .map(|p| pb::Parent {
                id: p.id,
                licence: p.licence,
                content_sha256: p.content_sha256,
                owner_consent: p.owner_consent,
            })
            .collect(),
        sources: d
            .sources
            .into_iter()
            .map(|s| pb::SourcePassage {
                id: s.id,
                item_id: s.item_id,
                text: s.text,
            })
            .collect(),
        attributions: d
            .attributions
            .into_iter()
            .map(|a| pb::Attribution {
                start: a.start as u32,
                end: a.end as u32,
                source_id: a.source_id,
                score: a.score,
                supported: a.supported,
                framing: a.framing,
            })
            .collect(),
        c2pa_action: d.c2pa_action,
        actions: d.actions,
        generator_name: d.generator_name,
        generator_version: d.generator_version,
        user_id: d.user_id,
        instruction: d.instruction,
        tags: d.tags,
        edl: d.edl.map(|e| pb::EditDecisionList {
            source_item_id: e.source_item,
            source_sha256: e.source_sha256,
            start_seconds: e.start_seconds,
            end_seconds: e.end_seconds,
            segment_indices: e.segment_indices.into_iter().map(|i| i as u32).collect(),
            score: e.score,
            window_scores: e.window_scores,
            explanation: e.explanation,
        }),
        content_sha256: d.content_sha256,
        supported_share: d.supported_share,
        watermark_z: d.watermark_z,
    }
}

#[tonic::async_trait]
impl GenerationApi for GenerationGrpc {
    async fn interpret(
        &self,
        request: Request<pb::InterpretRequest>,
    ) -> Result<Response<pb::InterpretResponse>, Status> {
        let input = interpret_input_from(request.into_inner())?;
        let core = self.core.clone();
        // The instructor embeds the instruction: CPU work, kept off the
        // runtime's worker threads.
        let out = generec_common::error::run_blocking(move || core.interpret(&input)).await?;
        Ok(Response::new(pb::InterpretResponse {
            guidance: Some(guidance_to(out.guidance)),
            decision: Some(decision_to(out.decision)),
        }))
    }

    async fn edit(
        &self,
        request: Request<pb::EditRequest>,
    ) -> Result<Response<pb::EditResponse>, Status> {
        let deadline = deadline(&request);
        let started = Instant::now();
        let r = request.into_inner();
        let args = EditArgs {
            user_id: r.user_id,
            item_id: r.item_id,
            guidance: guidance_from(r.guidance)?,
            instruction: r.instruction,
            liked_item_ids: r.liked_item_ids,
            owner_consent: r.owner_consent,
        };
        let draft = self.core.edit(args, deadline).await?;
        Ok(Response::new(pb::EditResponse {
            draft: Some(draft_to(draft)),
            millis: started.elapsed().as_secs_f64() * 1e3,
        }))
    }

    async fn create(
        &self,
        request: Request<pb::CreateRequest>,
    ) -> Result<Response<pb::CreateResponse>, Status> {
        let deadline = deadline(&request);
        let started = Instant::now();
        let r = request.into_inner();
        let args = CreateArgs {
            user_id: r.user_id,
            guidance: guidance_from(r.guidance)?,
            instruction: r.instruction,
            backend: backend_from(r.backend)?,
            liked_item_ids: r.liked_item_ids,
            max_sources: r.max_sources as usize,
        };
        let draft = self.core.create(args, deadline).await?;
        Ok(Response::new(pb::CreateResponse {
            draft: Some(draft_to(draft)),
            millis: started.elapsed().as_secs_f64() * 1e3,
        }))
    }

    async fn get_backends(
        &self,
        _request: Request<pb::GetBackendsRequest>,
    ) -> Result<Response<pb::BackendsResponse>, Status> {
        Ok(Response::new(pb::BackendsResponse {
            generators: self.core.generators(),
            relevance: self.core.relevance(),
            tone_lexicon: self.core.tone_lexicon(),
            default_backend: backend_to(self.core.default_backend()),
        }))
    }
}

/// Who may call this service: its rows of the platform's access table
/// (`shared/common/data/access.toml`; admins may call anything).
pub fn access_rules() -> AccessRules {
    AccessRules::from_table("generec.generation.v1.Generation")
}

/// Serves generation (with health and reflection) on a bound listener until
/// `shutdown` resolves.
pub async fn serve(
    core: Arc<Generation>,
    listener: tokio::net::TcpListener,
    config: &generec_common::config::ServerConfig,
    auth: &AuthConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), generec_common::server::ServeError> {
    let policy = AuthPolicy::new(auth, access_rules())
        .map_err(|e| generec_common::server::ServeError::Auth(e.to_string()))?;
    let (routes, health) = generec_common::server::base_routes(generec_proto::FILE_DESCRIPTOR_SET)?;
    let routes =
        routes.add_service(GenerationGrpc::new(core).into_server(config.max_message_bytes));
    health
        .set_serving::<GenerationServer<GenerationGrpc>>()
        .await;
    generec_common::server::serve(listener, config, routes, policy, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_headers_parse() {
        let mut r = Request::new(());
        r.metadata_mut()
            .insert("grpc-timeout", "250m".parse().unwrap());
        let d = deadline(&r).unwrap();
        let left = d.saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_millis(250) && left > Duration::from_millis(100));
        r.metadata_mut()
            .insert("grpc-timeout", "x".parse().unwrap());
        assert!(deadline(&r).is_none());
    }

    #[test]
    fn a_length_without_unit_or_factor_is_refused() {
        let err = length_from(Some(pb::Length {
            unit: 0,
            value: 0,
            relative: 0.0,
        }))
        .unwrap_err();
        assert!(err.to_string().contains("guidance.length"));
    }
}
