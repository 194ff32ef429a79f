//! What generation reads from the corpus, as a trait over domain types,
//! and its gRPC implementation (the only place generation converts corpus
//! messages). Deadlines, the token and the reading of a failed call come
//! from [`generec_common::remote`], as in the feed.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use generec_common::remote::{Caller, RemoteError};
use generec_common::types::{ItemKind, Origin};
use generec_proto::corpus::v1 as corpus_pb;
use generec_proto::corpus::v1::corpus_service_client::CorpusServiceClient;
use tonic::transport::Channel;

use crate::editor::Segment;

/// A corpus item as generation reads it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CorpusItem {
    pub id: String,
    /// `None` when the corpus sent a kind this build does not know.
    pub kind: Option<ItemKind>,
    pub title: String,
    pub body: String,
    pub segments: Vec<Segment>,
    pub tags: Vec<String>,
    pub licence: String,
    pub creator_id: String,
    pub content_sha256: String,
}

/// A search for facts: human-made items of `kinds` matching `query`,
/// created at or after `created_after_unix_ms` when set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FactSearch {
    pub query: String,
    pub kinds: Vec<ItemKind>,
    pub origins: Vec<Origin>,
    pub created_after_unix_ms: Option<i64>,
    pub limit: usize,
}

/// One search hit.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub id: String,
    pub score: f32,
}

/// The corpus, as generation uses it. `by: None` means the caller set no
/// deadline.
#[async_trait]
pub trait CorpusApi: Send + Sync {
    /// One item; a missing one is a `NotFound` error.
    async fn get_item(&self, id: &str, by: Option<Instant>) -> Result<CorpusItem, RemoteError>;
    /// Items matching a search, best first.
    async fn search(&self, ask: FactSearch, by: Option<Instant>) -> Result<Vec<Hit>, RemoteError>;
}

/// The longest a corpus call runs when the caller set no deadline.
const NO_DEADLINE: Duration = Duration::from_secs(60);

fn deadline(by: Option<Instant>) -> Instant {
    by.unwrap_or_else(|| Instant::now() + NO_DEADLINE)
}

/// The corpus over gRPC.
pub struct RemoteCorpus {
    client: CorpusServiceClient<Channel>,
    caller: Caller,
}

impl RemoteCorpus {
    /// A client over `channel` presenting `token` (none or empty: none).
    pub fn new(channel: Channel, token: Option<&str>) -> Result<RemoteCorpus, String> {
        Ok(RemoteCorpus {
            client: CorpusServiceClient::new(channel),
            caller: Caller::new("corpus", token)?,
        })
    }
}

fn item_of(item: corpus_pb::Item) -> CorpusItem {
    CorpusItem {
        kind: ItemKind::from_proto(item.kind).ok(),
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
        id: item.id,
        title: item.title,
        body: item.body,
        tags: item.tags,
        licence: item.licence,
        creator_id: item.creator_id,
        content_sha256: item.content_sha256,
    }
}

#[async_trait]
impl CorpusApi for RemoteCorpus {
    async fn get_item(&self, id: &str, by: Option<Instant>) -> Result<CorpusItem, RemoteError> {
        let by = deadline(by);
        let mut c = self.client.clone();
        let req = self
            .caller
            .request(corpus_pb::GetItemRequest { id: id.to_string() }, by);
        let resp = self.caller.call("GetItem", by, c.get_item(req)).await?;
        resp.item.map(item_of).ok_or_else(|| RemoteError::Status {
            service: "corpus",
            method: "GetItem",
            code: tonic::Code::NotFound,
            message: format!("no item in the answer for {id}"),
        })
    }

    async fn search(&self, ask: FactSearch, by: Option<Instant>) -> Result<Vec<Hit>, RemoteError> {
        let by = deadline(by);
        let mut c = self.client.clone();
        let req = self.caller.request(
            corpus_pb::SearchRequest {
                query: ask.query,
                filters: Some(corpus_pb::Filters {
                    kinds: ask.kinds.into_iter().map(ItemKind::to_proto).collect(),
                    origins: ask.origins.into_iter().map(Origin::to_proto).collect(),
                    tags: vec![],
                    licences: vec![],
                    created: ask.created_after_unix_ms.map(|start| {
                        generec_proto::common::v1::TimeRange {
                            start_unix_ms: start,
                            end_unix_ms: 0,
                        }
                    }),
                }),
                limit: ask.limit.min(u32::MAX as usize) as u32,
                offset: 0,
                with_snippets: false,
            },
            by,
        );
        let resp = self.caller.call("Search", by, c.search(req)).await?;
        Ok(resp
            .hits
            .into_iter()
            .map(|h| Hit {
                id: h.id,
                score: h.score,
            })
            .collect())
    }
}
