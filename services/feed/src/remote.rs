//! The feed's gRPC clients of the other services: [`crate::api`]'s traits
//! over tonic. Proto conversion lives here and nowhere else in the feed;
//! deadlines, the token and the reading of a failed call come from
//! [`generec_common::remote`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use generec_common::remote::{Caller, RemoteError};
use generec_corpus::grpc::{item_from_proto, item_to_proto};
use generec_corpus::model::Item;
use generec_proto::corpus::v1 as corpus_pb;
use generec_proto::corpus::v1::corpus_service_client::CorpusServiceClient;
use generec_proto::generation::v1 as gen_pb;
use generec_proto::generation::v1::generation_client::GenerationClient;
use generec_proto::trust::v1 as trust_pb;
use generec_proto::trust::v1::trust_service_client::TrustServiceClient;
use generec_provenance::keys::PublicKey;
use tonic::transport::{Channel, Endpoint};

use crate::api::{
    CorpusApi, GenerationApi, Hit, RecommendAsk, Review, Scored, Services, Stored, TrustApi,
};
use crate::config::FeedConfig;
use crate::error::FeedError;
use crate::model::Signal;

/// Largest message the feed accepts from another service.
const MAX_DOWNSTREAM_MESSAGE: usize = 16 * 1024 * 1024;

fn channel(field: &str, url: &str) -> Result<Channel, FeedError> {
    Ok(Endpoint::from_shared(url.to_string())
        .map_err(|e| FeedError::invalid(field, format!("{url:?}: {e}")))?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .connect_lazy())
}

fn caller(service: &'static str, token: Option<&str>) -> Result<Caller, FeedError> {
    Caller::new(service, token).map_err(|e| FeedError::invalid("feed token", e))
}

/// Clients of the three services at the configured addresses; channels
/// connect on first use. `token` is presented as a bearer token.
pub fn connect(config: &FeedConfig, token: Option<&str>) -> Result<Services, FeedError> {
    Ok(Services {
        corpus: Arc::new(RemoteCorpus {
            client: CorpusServiceClient::new(channel("feed.corpus_url", &config.corpus_url)?)
                .max_decoding_message_size(MAX_DOWNSTREAM_MESSAGE)
                .max_encoding_message_size(MAX_DOWNSTREAM_MESSAGE),
            caller: caller("corpus", token)?,
        }),
        trust: Arc::new(RemoteTrust {
            client: TrustServiceClient::new(channel("feed.trust_url", &config.trust_url)?)
                .max_decoding_message_size(MAX_DOWNSTREAM_MESSAGE)
                .max_encoding_message_size(MAX_DOWNSTREAM_MESSAGE),
            caller: caller("trust", token)?,
        }),
        generation: Arc::new(RemoteGeneration {
            client: GenerationClient::new(channel("feed.generation_url", &config.generation_url)?)
                .max_decoding_message_size(MAX_DOWNSTREAM_MESSAGE)
                .max_encoding_message_size(MAX_DOWNSTREAM_MESSAGE),
            caller: caller("generation", token)?,
        }),
    })
}

/// Why the corpus recommended an item, in the feed's words.
fn why_text(reason: i32) -> &'static str {
    match corpus_pb::Reason::try_from(reason) {
        Ok(corpus_pb::Reason::Collaborative) => {
            "recommended: people who liked what you liked liked it"
        }
        Ok(corpus_pb::Reason::Content) => "recommended: it reads like items you liked",
        Ok(corpus_pb::Reason::Popular) => "recommended: popular with everyone",
        Ok(corpus_pb::Reason::Query) => "recommended: it matches what you asked for",
        _ => "recommended",
    }
}

struct RemoteCorpus {
    client: CorpusServiceClient<Channel>,
    caller: Caller,
}

#[async_trait]
impl CorpusApi for RemoteCorpus {
    async fn recommend(&self, ask: RecommendAsk, by: Instant) -> Result<Vec<Scored>, RemoteError> {
        let mut c = self.client.clone();
        let req = self.caller.request(
            corpus_pb::RecommendRequest {
                user_id: ask.user_id,
                count: ask.count.min(u32::MAX as usize) as u32,
                exclude_ids: ask.exclude_ids,
                filters: None,
                text: ask.text,
                with_items: ask.with_items,
            },
            by,
        );
        let resp = self.caller.call("Recommend", by, c.recommend(req)).await?;
        Ok(resp
            .items
            .into_iter()
            .map(|s| Scored {
                item: s.item.and_then(|i| item_from_proto(i).ok()),
                why: why_text(s.reason),
                id: s.id,
                score: s.score,
            })
            .collect())
    }

    async fn search(
        &self,
        query: &str,
        limit: usize,
        by: Instant,
    ) -> Result<Vec<Hit>, RemoteError> {
        let mut c = self.client.clone();
        let req = self.caller.request(
            corpus_pb::SearchRequest {
                query: query.to_string(),
                filters: None,
                limit: limit.min(u32::MAX as usize) as u32,
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

    async fn get_item(&self, id: &str, by: Instant) -> Result<Item, RemoteError> {
        let mut c = self.client.clone();
        let req = self
            .caller
            .request(corpus_pb::GetItemRequest { id: id.to_string() }, by);
        let resp = self.caller.call("GetItem", by, c.get_item(req)).await?;
        let invalid = |message: String| RemoteError::Status {
            service: "corpus",
            method: "GetItem",
            code: tonic::Code::Internal,
            message,
        };
        let item = resp
            .item
            .ok_or_else(|| invalid(format!("no item in the answer for {id}")))?;
        item_from_proto(item).map_err(|e| invalid(format!("item {id} is not valid: {e}")))
    }

    async fn get_items(&self, ids: Vec<String>, by: Instant) -> Result<Vec<Item>, RemoteError> {
        let mut c = self.client.clone();
        let req = self.caller.request(corpus_pb::GetItemsRequest { ids }, by);
        let resp = self.caller.call("GetItems", by, c.get_items(req)).await?;
        Ok(resp
            .items
            .into_iter()
            .filter_map(|i| item_from_proto(i).ok())
            .collect())
    }

    async fn put_item(&self, item: Item, by: Instant) -> Result<Stored, RemoteError> {
        let mut c = self.client.clone();
        let req = self.caller.request(
            corpus_pb::PutItemsRequest {
                items: vec![item_to_proto(item)],
            },
            by,
        );
        let put = self.caller.call("PutItems", by, c.put_items(req)).await?;
        let Some(result) = put.results.into_iter().next() else {
            return Ok(Stored::Rejected(
                "corpus returned no result for the item".into(),
            ));
        };
        Ok(
            if result.status == corpus_pb::PutStatus::Rejected as i32
                || result.status == corpus_pb::PutStatus::Unspecified as i32
            {
                Stored::Rejected(result.error)
            } else {
                Stored::Sealed {
                    content_sha256: result.content_sha256,
                }
            },
        )
    }

    async fn record_feedback(
        &self,
        user_id: &str,
        item_id: &str,
        signal: Signal,
        by: Instant,
    ) -> Result<(), RemoteError> {
        let mut c = self.client.clone();
        let req = self.caller.request(
            corpus_pb::RecordFeedbackRequest {
                events: vec![corpus_pb::FeedbackEvent {
                    user_id: user_id.to_string(),
                    item_id: item_id.to_string(),
                    r#type: signal.corpus_event(),
                    value: 0.0,
                    timestamp_unix_ms: 0,
                }],
            },
            by,
        );
        self.caller
            .call("RecordFeedback", by, c.record_feedback(req))
            .await
            .map(|_| ())
    }
}

struct RemoteTrust {
    client: TrustServiceClient<Channel>,
    caller: Caller,
}

#[async_trait]
impl TrustApi for RemoteTrust {
    async fn bundle_hash(&self, by: Instant) -> Result<String, RemoteError> {
        let mut c = self.client.clone();
        let req = self.caller.request(trust_pb::GetBundleRequest {}, by);
        Ok(self
            .caller
            .call("GetBundle", by, c.get_bundle(req))
            .await?
            .hash)
    }

    async fn public_keys(&self, by: Instant) -> Result<Vec<PublicKey>, RemoteError> {
        let mut c = self.client.clone();
        let req = self.caller.request(trust_pb::GetPublicKeysRequest {}, by);
        let resp = self
            .caller
            .call("GetPublicKeys", by, c.get_public_keys(req))
            .await?;
        Ok(resp
            .keys
            .into_iter()
            .map(|k| PublicKey {
                key_id: k.key_id,
                public_key: k.public_key,
                created_unix_ms: k.created_unix_ms,
                retired_unix_ms: k.retired_unix_ms,
            })
            .collect())
    }

    async fn review(
        &self,
        ask: trust_pb::ReviewRequest,
        by: Instant,
    ) -> Result<Review, RemoteError> {
        let mut c = self.client.clone();
        let req = self.caller.request(ask, by);
        let r = self.caller.call("Review", by, c.review(req)).await?;
        let mut rules: Vec<String> = r.findings.into_iter().map(|f| f.rule_id).collect();
        rules.sort_unstable();
        rules.dedup();
        Ok(Review {
            verdict: trust_pb::Verdict::try_from(r.verdict)
                .unwrap_or(trust_pb::Verdict::Unspecified),
            bundle_hash: r.bundle_hash,
            rules,
            licence: r.licence,
        })
    }

    async fn certify(
        &self,
        ask: trust_pb::CertifyRequest,
        by: Instant,
    ) -> Result<crate::api::Certified, RemoteError> {
        let mut c = self.client.clone();
        let req = self.caller.request(ask, by);
        let r = self.caller.call("Certify", by, c.certify(req)).await?;
        Ok(crate::api::Certified {
            manifest: r.manifest,
            marked_content: r.marked_content,
        })
    }
}

struct RemoteGeneration {
    client: GenerationClient<Channel>,
    caller: Caller,
}

#[async_trait]
impl GenerationApi for RemoteGeneration {
    async fn interpret(
        &self,
        ask: gen_pb::InterpretRequest,
        by: Instant,
    ) -> Result<gen_pb::InterpretResponse, RemoteError> {
        let mut c = self.client.clone();
        let req = self.caller.request(ask, by);
        self.caller.call("Interpret", by, c.interpret(req)).await
    }

    async fn edit(
        &self,
        ask: gen_pb::EditRequest,
        by: Instant,
    ) -> Result<Option<gen_pb::Draft>, RemoteError> {
        let mut c = self.client.clone();
        let req = self.caller.request(ask, by);
        Ok(self.caller.call("Edit", by, c.edit(req)).await?.draft)
    }

    async fn create(
        &self,
        ask: gen_pb::CreateRequest,
        by: Instant,
    ) -> Result<Option<gen_pb::Draft>, RemoteError> {
        let mut c = self.client.clone();
        let req = self.caller.request(ask, by);
        Ok(self.caller.call("Create", by, c.create(req)).await?.draft)
    }
}

/// The corpus item a certified draft becomes: its title, the in-text mark
/// at the start of the body, the feed's creator id, the licence the review
/// computed and the signed manifest. Refused if it is not a valid item.
pub fn item_of_draft(
    draft: &gen_pb::Draft,
    title: &str,
    mark: &str,
    creator_id: &str,
    licence: String,
    manifest: Vec<u8>,
) -> Result<Item, String> {
    item_from_proto(corpus_pb::Item {
        id: draft.item_id.clone(),
        kind: draft.kind,
        title: title.to_string(),
        body: format!("{mark}{}", draft.body),
        segments: vec![],
        tags: draft.tags.clone(),
        creator_id: creator_id.to_string(),
        origin: draft.origin,
        parent_ids: draft.parents.iter().map(|p| p.id.clone()).collect(),
        licence,
        created_unix_ms: 0,
        content_sha256: String::new(),
        provenance_manifest: manifest,
    })
    .map_err(|e| format!("the certified item is not a valid corpus item: {e}"))
}
