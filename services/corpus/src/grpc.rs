//! The gRPC skin of the corpus: converts messages to and from the domain
//! types, runs the blocking core on the blocking pool, and maps errors to
//! status codes through [`CorpusError`]'s one conversion.

use std::collections::HashMap;
use std::sync::Arc;

use generec_common::auth::{AccessRules, AuthConfig, AuthPolicy};
use generec_proto::common::v1 as common;
use generec_proto::corpus::v1 as pb;
use pb::corpus_service_server::{CorpusService, CorpusServiceServer};
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use crate::corpus::{Corpus, PutOutcome, RecommendQuery, Scored, Why};
use crate::error::CorpusError;
use crate::filter::Filters;
use crate::index::SearchQuery;
use crate::model::{EventType, FeedbackEvent, Item, ItemId, ItemKind, Origin, Segment, UserId};

/// The tonic service over a shared [`Corpus`].
#[derive(Clone)]
pub struct CorpusGrpc {
    corpus: Arc<Corpus>,
}

impl CorpusGrpc {
    /// Wraps a corpus.
    pub fn new(corpus: Arc<Corpus>) -> Self {
        CorpusGrpc { corpus }
    }

    /// The tonic server for this service, with message size limits.
    pub fn into_server(self, max_message_bytes: usize) -> CorpusServiceServer<CorpusGrpc> {
        CorpusServiceServer::new(self)
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes)
    }

    async fn run<T, F>(&self, f: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&Corpus) -> Result<T, CorpusError> + Send + 'static,
    {
        let corpus = self.corpus.clone();
        generec_common::error::run_blocking(move || f(&corpus)).await
    }
}

fn kind_from(field: &str, value: i32) -> Result<ItemKind, CorpusError> {
    ItemKind::from_proto(value).map_err(|e| CorpusError::invalid(field, e.to_string()))
}

fn kind_to(kind: ItemKind) -> i32 {
    kind.to_proto()
}

fn origin_from(field: &str, value: i32) -> Result<Origin, CorpusError> {
    Origin::from_proto(value).map_err(|e| CorpusError::invalid(field, e.to_string()))
}

fn origin_to(origin: Origin) -> i32 {
    origin.to_proto()
}

fn event_from(field: &str, value: i32) -> Result<EventType, CorpusError> {
    use pb::EventType as E;
    match E::try_from(value) {
        Ok(E::Impression) => Ok(EventType::Impression),
        Ok(E::Click) => Ok(EventType::Click),
        Ok(E::Watch) => Ok(EventType::Watch),
        Ok(E::Complete) => Ok(EventType::Complete),
        Ok(E::Skip) => Ok(EventType::Skip),
        Ok(E::Like) => Ok(EventType::Like),
        Ok(E::Dislike) => Ok(EventType::Dislike),
        Ok(E::Rating) => Ok(EventType::Rating),
        Ok(E::Share) => Ok(EventType::Share),
        Ok(E::Unspecified) => Err(CorpusError::invalid(field, "must be set")),
        Err(_) => Err(CorpusError::invalid(
            field,
            format!("unknown value {value}"),
        )),
    }
}

/// Converts a proto item to the domain item (validation of the content
/// happens in the core).
pub fn item_from_proto(item: pb::Item) -> Result<Item, CorpusError> {
    let id = ItemId::parse(&item.id)?;
    let parent_ids = item
        .parent_ids
        .iter()
        .map(|p| ItemId::parse_field("parent_ids", p))
        .collect::<Result<_, _>>()?;
    Ok(Item {
        id,
        kind: kind_from("kind", item.kind)?,
        title: item.title,
        body: item.body,
        segments: item
            .segments
            .into_iter()
            .map(|s| Segment {
                start_seconds: s.start_seconds,
                end_seconds: s.end_seconds,
                text: s.text,
                tags: s.tags,
            })
            .collect(),
        tags: item.tags,
        creator_id: item.creator_id,
        origin: origin_from("origin", item.origin)?,
        parent_ids,
        licence: item.licence,
        created_unix_ms: item.created_unix_ms,
        content_sha256: item.content_sha256,
        provenance_manifest: item.provenance_manifest,
    })
}

/// Converts a domain item to its proto message.
pub fn item_to_proto(item: Item) -> pb::Item {
    pb::Item {
        id: item.id.as_str().to_string(),
        kind: kind_to(item.kind),
        title: item.title,
        body: item.body,
        segments: item
            .segments
            .into_iter()
            .map(|s| common::Segment {
                start_seconds: s.start_seconds,
                end_seconds: s.end_seconds,
                text: s.text,
                tags: s.tags,
            })
            .collect(),
        tags: item.tags,
        creator_id: item.creator_id,
        origin: origin_to(item.origin),
        parent_ids: item
            .parent_ids
            .iter()
            .map(|p| p.as_str().to_string())
            .collect(),
        licence: item.licence,
        created_unix_ms: item.created_unix_ms,
        content_sha256: item.content_sha256,
        provenance_manifest: item.provenance_manifest,
    }
}

fn filters_from(filters: Option<pb::Filters>) -> Result<Filters, CorpusError> {
    let Some(f) = filters else {
        return Ok(Filters::default());
    };
    let kinds = f
        .kinds
        .iter()
        .map(|&k| kind_from("filters.kinds", k))
        .collect::<Result<_, _>>()?;
    let origins = f
        .origins
        .iter()
        .map(|&o| origin_from("filters.origins", o))
        .collect::<Result<_, _>>()?;
    let (from, until) = match f.created {
        Some(r) => (
            (r.start_unix_ms != 0).then_some(r.start_unix_ms),
            (r.end_unix_ms != 0).then_some(r.end_unix_ms),
        ),
        None => (None, None),
    };
    Filters::new(kinds, origins, f.tags, f.licences, from, until)
}

fn events_from(events: Vec<pb::FeedbackEvent>) -> Result<Vec<FeedbackEvent>, CorpusError> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            Ok(FeedbackEvent {
                user: UserId::parse_field(&format!("events[{i}].user_id"), &e.user_id)?,
                item: ItemId::parse_field(&format!("events[{i}].item_id"), &e.item_id)?,
                kind: event_from(&format!("events[{i}].type"), e.r#type)?,
                value: e.value,
                timestamp_unix_ms: e.timestamp_unix_ms,
            })
        })
        .collect()
}

fn scored_to(s: Scored) -> pb::ScoredItem {
    pb::ScoredItem {
        id: s.id.as_str().to_string(),
        score: s.score,
        reason: match s.why {
            Why::Collaborative => pb::Reason::Collaborative,
            Why::Content => pb::Reason::Content,
            Why::Popular => pb::Reason::Popular,
            Why::Query => pb::Reason::Query,
        } as i32,
        title: s.title,
        kind: kind_to(s.kind),
        origin: origin_to(s.origin),
        creator_id: s.creator_id,
        item: None,
    }
}

fn count_from(field: &str, value: u32) -> Result<usize, CorpusError> {
    usize::try_from(value).map_err(|_| CorpusError::invalid(field, "too large"))
}

#[tonic::async_trait]
impl CorpusService for CorpusGrpc {
    async fn put_items(
        &self,
        request: Request<pb::PutItemsRequest>,
    ) -> Result<Response<pb::PutItemsResponse>, Status> {
        let entries: Vec<(String, Result<Item, CorpusError>)> = request
            .into_inner()
            .items
            .into_iter()
            .map(|item| (item.id.clone(), item_from_proto(item)))
            .collect();
        let results = self.run(move |c| c.put_items(entries)).await?;
        let results = results
            .into_iter()
            .map(|r| {
                let (status, error) = match r.outcome {
                    PutOutcome::Created => (pb::PutStatus::Created, String::new()),
                    PutOutcome::Updated => (pb::PutStatus::Updated, String::new()),
                    PutOutcome::Unchanged => (pb::PutStatus::Unchanged, String::new()),
                    PutOutcome::Rejected(e) => (pb::PutStatus::Rejected, e),
                };
                pb::PutItemResult {
                    id: r.id,
                    status: status as i32,
                    error,
                    content_sha256: r.content_sha256,
                }
            })
            .collect();
        Ok(Response::new(pb::PutItemsResponse { results }))
    }

    async fn get_item(
        &self,
        request: Request<pb::GetItemRequest>,
    ) -> Result<Response<pb::GetItemResponse>, Status> {
        let id = ItemId::parse(&request.into_inner().id)?;
        let item = self.run(move |c| c.get_item(&id)).await?;
        Ok(Response::new(pb::GetItemResponse {
            item: Some(item_to_proto(item)),
        }))
    }

    async fn get_items(
        &self,
        request: Request<pb::GetItemsRequest>,
    ) -> Result<Response<pb::GetItemsResponse>, Status> {
        let ids = request.into_inner().ids;
        // The core checks the count; parsing first is bounded by the
        // message size limit.
        let ids = ids
            .iter()
            .map(|id| ItemId::parse_field("ids", id))
            .collect::<Result<Vec<_>, _>>()?;
        let (items, missing) = self.run(move |c| c.get_items(&ids)).await?;
        Ok(Response::new(pb::GetItemsResponse {
            items: items.into_iter().map(item_to_proto).collect(),
            missing_ids: missing.iter().map(|id| id.as_str().to_string()).collect(),
        }))
    }

    async fn delete_item(
        &self,
        request: Request<pb::DeleteItemRequest>,
    ) -> Result<Response<pb::DeleteItemResponse>, Status> {
        let req = request.into_inner();
        let id = ItemId::parse(&req.id)?;
        let deleted = self.run(move |c| c.delete_item(&id, &req.reason)).await?;
        Ok(Response::new(pb::DeleteItemResponse {
            id: deleted.id.as_str().to_string(),
            deleted_unix_ms: deleted.deleted_unix_ms,
            was_live: deleted.was_live,
        }))
    }

    async fn search(
        &self,
        request: Request<pb::SearchRequest>,
    ) -> Result<Response<pb::SearchResponse>, Status> {
        let req = request.into_inner();
        let query = SearchQuery {
            query: req.query,
            filters: filters_from(req.filters)?,
            limit: count_from("limit", req.limit)?,
            offset: count_from("offset", req.offset)?,
            snippets: req.with_snippets,
        };
        let (hits, total) = if query.is_small() {
            self.corpus.search(&query)?
        } else {
            self.run(move |c| c.search(&query)).await?
        };
        let hits = hits
            .into_iter()
            .map(|h| pb::SearchHit {
                id: h.id.as_str().to_string(),
                score: h.score,
                title: h.title,
                snippet: h.snippet,
                kind: h.kind.map_or(0, kind_to),
                origin: h.origin.map_or(0, origin_to),
            })
            .collect();
        Ok(Response::new(pb::SearchResponse {
            hits,
            total_hits: total,
        }))
    }

    async fn record_feedback(
        &self,
        request: Request<pb::RecordFeedbackRequest>,
    ) -> Result<Response<pb::RecordFeedbackResponse>, Status> {
        let events = events_from(request.into_inner().events)?;
        let accepted = self.run(move |c| c.record_feedback(events)).await?;
        Ok(Response::new(pb::RecordFeedbackResponse { accepted }))
    }

    async fn stream_feedback(
        &self,
        request: Request<Streaming<pb::RecordFeedbackRequest>>,
    ) -> Result<Response<pb::RecordFeedbackResponse>, Status> {
        let mut stream = request.into_inner();
        let mut accepted = 0u64;
        let mut message = 0usize;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            let events = events_from(batch.events).map_err(|e| {
                Status::invalid_argument(format!(
                    "message {message}: {e} ({accepted} events of earlier messages were recorded)"
                ))
            })?;
            accepted += self
                .run(move |c| c.record_feedback(events))
                .await
                .map_err(|s| {
                    Status::new(
                        s.code(),
                        format!(
                            "message {message}: {} ({accepted} events of earlier messages were recorded)",
                            s.message()
                        ),
                    )
                })?;
            message += 1;
        }
        Ok(Response::new(pb::RecordFeedbackResponse { accepted }))
    }

    async fn recommend(
        &self,
        request: Request<pb::RecommendRequest>,
    ) -> Result<Response<pb::RecommendResponse>, Status> {
        let req = request.into_inner();
        let user = if req.user_id.is_empty() {
            None
        } else {
            Some(UserId::parse(&req.user_id)?)
        };
        let exclude = req
            .exclude_ids
            .iter()
            .map(|id| ItemId::parse_field("exclude_ids", id))
            .collect::<Result<_, _>>()?;
        let query = RecommendQuery {
            user,
            count: count_from("count", req.count)?,
            exclude,
            filters: filters_from(req.filters)?,
            text: req.text,
        };
        let with_items = req.with_items;
        let (items, model_version) = self
            .run(move |c| {
                let (scored, version) = c.recommend(&query)?;
                if !with_items {
                    return Ok((scored.into_iter().map(scored_to).collect(), version));
                }
                let ids: Vec<ItemId> = scored.iter().map(|s| s.id.clone()).collect();
                let (found, _) = c.get_items(&ids)?;
                let mut by_id: HashMap<ItemId, Item> =
                    found.into_iter().map(|i| (i.id.clone(), i)).collect();
                // An item taken down since it was scored is left out.
                let items = scored
                    .into_iter()
                    .filter_map(|s| {
                        let item = by_id.remove(&s.id)?;
                        let mut out = scored_to(s);
                        out.item = Some(item_to_proto(item));
                        Some(out)
                    })
                    .collect();
                Ok((items, version))
            })
            .await?;
        Ok(Response::new(pb::RecommendResponse {
            items,
            model_version,
        }))
    }

    async fn similar_items(
        &self,
        request: Request<pb::SimilarItemsRequest>,
    ) -> Result<Response<pb::SimilarItemsResponse>, Status> {
        let req = request.into_inner();
        let id = ItemId::parse(&req.id)?;
        let count = count_from("count", req.count)?;
        let filters = filters_from(req.filters)?;
        let items = self
            .run(move |c| c.similar_items(&id, count, &filters))
            .await?;
        Ok(Response::new(pb::SimilarItemsResponse {
            items: items.into_iter().map(scored_to).collect(),
        }))
    }

    async fn stats(
        &self,
        _request: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsResponse>, Status> {
        let s = self.run(|c| c.stats()).await?;
        Ok(Response::new(pb::StatsResponse {
            items: s.items,
            tombstones: s.tombstones,
            interactions: s.interactions,
            users: s.users,
            indexed_docs: s.indexed_docs,
            model_version: s.model_version,
            model_trained_unix_ms: s.model_trained_unix_ms,
            model_users: s.model_users,
            model_items: s.model_items,
            ease_enabled: s.ease_enabled,
            model_interactions: s.model_interactions,
        }))
    }
}

/// Who may call this service: its rows of the platform's access table
/// (`shared/common/data/access.toml`; admins may call anything).
pub fn access_rules() -> AccessRules {
    AccessRules::from_table("generec.corpus.v1.CorpusService")
}

/// Serves the corpus (with health and reflection) on a bound listener until
/// `shutdown` resolves. This is the one assembly the binary and the
/// end-to-end tests use.
pub async fn serve(
    corpus: Arc<Corpus>,
    listener: tokio::net::TcpListener,
    config: &generec_common::config::ServerConfig,
    auth: &AuthConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), generec_common::server::ServeError> {
    let policy = AuthPolicy::new(auth, access_rules())
        .map_err(|e| generec_common::server::ServeError::Auth(e.to_string()))?;
    let (routes, health) = generec_common::server::base_routes(generec_proto::FILE_DESCRIPTOR_SET)?;
    let routes = routes.add_service(CorpusGrpc::new(corpus).into_server(config.max_message_bytes));
    health
        .set_serving::<CorpusServiceServer<CorpusGrpc>>()
        .await;
    generec_common::server::serve(listener, config, routes, policy, shutdown).await
}
