//! The gRPC skin of the feed service: validates requests into the core's
//! types, reads the caller's deadline (`grpc-timeout`), converts results to
//! `generec.feed.v1` messages, and maps errors through [`FeedError`](crate::FeedError)'s one
//! conversion.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use generec_common::auth::{AccessRules, AuthConfig, AuthPolicy};
use generec_proto::feed::v1 as pb;
use pb::feed_service_server::{FeedService, FeedServiceServer};
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::feed::Feed;
use crate::metrics::ListMetrics;
use crate::model::{
    self, Entry, FeedEvent, FeedPage, FeedRequest, GenerationStatus, InstructRequest, Signal,
};

/// The tonic service over a shared [`Feed`].
#[derive(Clone)]
pub struct FeedGrpc {
    feed: Arc<Feed>,
}

impl FeedGrpc {
    pub fn new(feed: Arc<Feed>) -> Self {
        FeedGrpc { feed }
    }

    /// The tonic server for this service, with message size limits.
    pub fn into_server(self, max_message_bytes: usize) -> FeedServiceServer<FeedGrpc> {
        FeedServiceServer::new(self)
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes)
    }
}

/// The caller's timeout from the `grpc-timeout` header (`<digits><unit>`,
/// units H M S m u n), if any.
pub fn timeout_of<T>(req: &Request<T>) -> Option<Duration> {
    let v = req.metadata().get("grpc-timeout")?.to_str().ok()?;
    if v.len() < 2 || v.len() > 9 {
        return None;
    }
    let (digits, unit) = v.split_at(v.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Converts a feed entry to its message.
pub fn entry_to(e: Entry) -> pb::FeedItem {
    let generated = e.is_generated();
    let (manifest_id, manifest) = match &e.provenance {
        Some(v) => (
            v.manifest_id().to_string(),
            e.item.provenance_manifest.clone(),
        ),
        None => (String::new(), Vec::new()),
    };
    pb::FeedItem {
        item_id: e.item.id.to_string(),
        kind: e.item.kind.to_proto(),
        title: e.item.title,
        body: e.item.body,
        tags: e.item.tags,
        creator_id: e.item.creator_id,
        origin: e.item.origin.to_proto(),
        origin_label: if generated {
            pb::OriginLabel::Generated
        } else {
            pb::OriginLabel::Human
        } as i32,
        parent_ids: e.item.parent_ids.iter().map(|p| p.to_string()).collect(),
        licence: e.item.licence,
        manifest_id,
        manifest,
        reason: e.reason,
        trigger: e.trigger,
        verdict: e.verdict.to_trust(),
        score: e.score,
        made_for_you: e.made_for_you,
    }
}

fn status_to(s: GenerationStatus) -> i32 {
    (match s {
        GenerationStatus::None => pb::GenerationStatus::None,
        GenerationStatus::Ready => pb::GenerationStatus::Ready,
        GenerationStatus::Pending => pb::GenerationStatus::Pending,
        GenerationStatus::Failed => pb::GenerationStatus::Failed,
        GenerationStatus::Skipped => pb::GenerationStatus::Skipped,
    }) as i32
}

fn metrics_to(m: ListMetrics) -> pb::FeedMetrics {
    pb::FeedMetrics {
        human_items: m.human_items as u32,
        generated_items: m.generated_items as u32,
        human_exposure_share: m.human_exposure_share,
        generated_exposure_share: m.generated_exposure_share,
        creator_gini: m.creator_gini,
        intra_list_diversity: m.intra_list_diversity,
    }
}

/// Converts a feed page to its message.
pub fn page_to(p: FeedPage) -> pb::GetFeedResponse {
    pb::GetFeedResponse {
        items: p.entries.into_iter().map(entry_to).collect(),
        degraded: !p.degraded.is_empty(),
        degraded_reasons: p.degraded,
        generation: status_to(p.generation),
        generation_detail: p.generation_detail,
        guidance: p.guidance,
        decision: p.decision,
        metrics: Some(metrics_to(p.metrics)),
        dropped_unchecked: u32::try_from(p.dropped_unchecked).unwrap_or(u32::MAX),
        deadline_ms: u32::try_from(p.deadline_ms).unwrap_or(u32::MAX),
    }
}

/// Converts a generation event to its message.
pub fn event_to(e: FeedEvent) -> pb::FeedEvent {
    match e.outcome {
        Ok(entry) => pb::FeedEvent {
            user_id: e.user_id,
            job_id: e.job_id,
            kind: pb::FeedEventKind::ItemReady as i32,
            reason: entry.reason.clone(),
            item: Some(entry_to(entry)),
        },
        Err(reason) => pb::FeedEvent {
            user_id: e.user_id,
            job_id: e.job_id,
            kind: pb::FeedEventKind::Failed as i32,
            item: None,
            reason,
        },
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::FeedEvent, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl FeedService for FeedGrpc {
    async fn get_feed(
        &self,
        request: Request<pb::GetFeedRequest>,
    ) -> Result<Response<pb::GetFeedResponse>, Status> {
        let timeout = timeout_of(&request);
        let r = request.into_inner();
        let req = FeedRequest::parse(r.user_id, r.count, r.instruction, r.context_item_id)?;
        let page = self.feed.get_feed(req, timeout).await?;
        Ok(Response::new(page_to(page)))
    }

    async fn instruct(
        &self,
        request: Request<pb::InstructRequest>,
    ) -> Result<Response<pb::InstructResponse>, Status> {
        let timeout = timeout_of(&request);
        let r = request.into_inner();
        let req = InstructRequest::parse(r.user_id, r.instruction, r.context_item_id)?;
        let out = self.feed.instruct(req, timeout).await?;
        Ok(Response::new(pb::InstructResponse {
            guidance: out.guidance,
            decision: out.decision,
            job_id: out.job_id.unwrap_or_default(),
        }))
    }

    type WatchFeedStream = EventStream;

    async fn watch_feed(
        &self,
        request: Request<pb::WatchFeedRequest>,
    ) -> Result<Response<Self::WatchFeedStream>, Status> {
        let user = request.into_inner().user_id;
        model::parse_user(&user)?;
        let mut events = self.feed.watch(&user);
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tx.closed() => return,
                    event = events.recv() => match event {
                        Ok(e) => {
                            if tx.send(Ok(event_to(e))).await.is_err() {
                                return;
                            }
                        }
                        Err(RecvError::Lagged(n)) => {
                            tracing::warn!(user = %user, missed = n, "a feed watcher fell behind");
                        }
                        Err(RecvError::Closed) => return,
                    },
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn submit_feedback(
        &self,
        request: Request<pb::SubmitFeedbackRequest>,
    ) -> Result<Response<pb::SubmitFeedbackResponse>, Status> {
        let timeout = timeout_of(&request);
        let r = request.into_inner();
        model::parse_user(&r.user_id)?;
        model::parse_item("item_id", &r.item_id)?;
        let signal = Signal::from_proto(r.kind)?;
        let (streak, signals) = self
            .feed
            .submit_feedback(&r.user_id, &r.item_id, signal, timeout)
            .await?;
        Ok(Response::new(pb::SubmitFeedbackResponse {
            rejection_streak: streak,
            session_signals: u32::try_from(signals).unwrap_or(u32::MAX),
        }))
    }

    async fn get_feed_stats(
        &self,
        _request: Request<pb::GetFeedStatsRequest>,
    ) -> Result<Response<pb::FeedStatsResponse>, Status> {
        let t = self.feed.totals();
        Ok(Response::new(pb::FeedStatsResponse {
            feeds_served: t.feeds_served,
            degraded_feeds: t.degraded_feeds,
            human_impressions: t.human_impressions,
            generated_impressions: t.generated_impressions,
            human_exposure: t.human_exposure,
            generated_exposure: t.generated_exposure,
            generated_exposure_share: t.generated_exposure_share(),
            creator_gini: t.creator_gini(),
            creators: t
                .top_creators(100)
                .into_iter()
                .map(|(creator_id, c)| pb::CreatorExposure {
                    creator_id,
                    exposure: c.exposure,
                    impressions: c.impressions,
                })
                .collect(),
            generated_items_made: t.generated_items_made,
            generations_failed: t.generations_failed,
            candidates_dropped: t.candidates_dropped,
        }))
    }
}

/// Who may call this service: its rows of the platform's access table
/// (`shared/common/data/access.toml`; admins may call anything).
pub fn access_rules() -> AccessRules {
    AccessRules::from_table("generec.feed.v1.FeedService")
}

/// Serves the feed (with health and reflection) on a bound listener until
/// `shutdown` resolves.
pub async fn serve(
    feed: Arc<Feed>,
    listener: tokio::net::TcpListener,
    config: &generec_common::config::ServerConfig,
    auth: &AuthConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), generec_common::server::ServeError> {
    let policy = AuthPolicy::new(auth, access_rules())
        .map_err(|e| generec_common::server::ServeError::Auth(e.to_string()))?;
    let (routes, health) = generec_common::server::base_routes(generec_proto::FILE_DESCRIPTOR_SET)?;
    let routes = routes.add_service(FeedGrpc::new(feed).into_server(config.max_message_bytes));
    health.set_serving::<FeedServiceServer<FeedGrpc>>().await;
    generec_common::server::serve(listener, config, routes, policy, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_headers_parse() {
        let mut r = Request::new(());
        assert_eq!(timeout_of(&r), None);
        r.metadata_mut()
            .insert("grpc-timeout", "250m".parse().unwrap());
        assert_eq!(timeout_of(&r), Some(Duration::from_millis(250)));
        r.metadata_mut()
            .insert("grpc-timeout", "2S".parse().unwrap());
        assert_eq!(timeout_of(&r), Some(Duration::from_secs(2)));
        r.metadata_mut()
            .insert("grpc-timeout", "x".parse().unwrap());
        assert_eq!(timeout_of(&r), None);
    }
}
