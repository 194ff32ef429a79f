//! In-memory stand-ins for the corpus, trust and generation, for the feed
//! core's unit tests. They keep the rules the feed relies on: trust signs
//! real Ed25519 manifests over the text it is given, the corpus seals what
//! it stores with a content hash, and any of them can be taken down.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use ed25519_dalek::SigningKey;
use generec_common::remote::RemoteError;
use generec_common::types::{ItemKind, Origin};
use generec_corpus::model::{Item, ItemId};
use generec_proto::generation::v1 as gen_pb;
use generec_proto::trust::v1 as trust_pb;
use generec_provenance::keys::PublicKey;
use generec_provenance::manifest::{
    self, ActionRecord, Generator, Ingredient, Manifest, ReviewSummary,
};
use sha2::Digest;

use crate::api::{
    Certified, CorpusApi, GenerationApi, Hit, RecommendAsk, Review, Scored, Services, Stored,
    TrustApi,
};
use crate::model::Signal;

/// A word in a text that makes the fake trust block it.
pub const BLOCKED_WORD: &str = "forbidden";

fn failure(service: &'static str, method: &'static str, code: tonic::Code) -> RemoteError {
    RemoteError::Status {
        service,
        method,
        code,
        message: format!("{service} is a fake that was told to fail"),
    }
}

/// A human article by `creator` tagged `tag`.
pub fn article(id: &str, creator: &str, tag: &str, body: &str) -> Item {
    Item {
        id: ItemId::parse(id).unwrap(),
        kind: ItemKind::Article,
        title: format!("About {tag}: {id}"),
        body: body.to_string(),
        segments: vec![],
        tags: vec![tag.to_string()],
        creator_id: creator.to_string(),
        origin: Origin::Human,
        parent_ids: vec![],
        licence: "CC-BY-4.0".into(),
        created_unix_ms: 0,
        content_sha256: hex::encode(sha2::Sha256::digest(body.as_bytes())),
        provenance_manifest: vec![],
    }
}

/// The corpus: its items in recommendation order.
#[derive(Default)]
pub struct FakeCorpus {
    pub items: Mutex<Vec<Item>>,
    pub down: AtomicBool,
    pub stored: Mutex<Vec<Item>>,
    pub feedback: Mutex<Vec<(String, String)>>,
    pub calls: AtomicUsize,
}

impl FakeCorpus {
    pub fn with(items: Vec<Item>) -> FakeCorpus {
        FakeCorpus {
            items: Mutex::new(items),
            ..Default::default()
        }
    }

    fn up(&self, method: &'static str) -> Result<(), RemoteError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if self.down.load(Ordering::Relaxed) {
            return Err(failure("corpus", method, tonic::Code::Unavailable));
        }
        Ok(())
    }

    fn find(&self, id: &str) -> Option<Item> {
        self.items
            .lock()
            .unwrap()
            .iter()
            .find(|i| i.id.as_str() == id)
            .cloned()
    }
}

#[async_trait]
impl CorpusApi for FakeCorpus {
    async fn recommend(&self, ask: RecommendAsk, _by: Instant) -> Result<Vec<Scored>, RemoteError> {
        self.up("Recommend")?;
        let items = self.items.lock().unwrap();
        Ok(items
            .iter()
            .filter(|i| !ask.exclude_ids.iter().any(|x| x == i.id.as_str()))
            .take(ask.count)
            .enumerate()
            .map(|(n, i)| Scored {
                id: i.id.as_str().to_string(),
                score: 1.0 / (n + 1) as f32,
                why: "recommended",
                item: ask.with_items.then(|| i.clone()),
            })
            .collect())
    }

    async fn search(
        &self,
        query: &str,
        limit: usize,
        _by: Instant,
    ) -> Result<Vec<Hit>, RemoteError> {
        self.up("Search")?;
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        let items = self.items.lock().unwrap();
        Ok(items
            .iter()
            .filter(|i| {
                let text = format!("{} {}", i.title, i.body).to_lowercase();
                words.iter().any(|w| text.contains(w.as_str()))
            })
            .take(limit)
            .map(|i| Hit {
                id: i.id.as_str().to_string(),
                score: 1.0,
            })
            .collect())
    }

    async fn get_item(&self, id: &str, _by: Instant) -> Result<Item, RemoteError> {
        self.up("GetItem")?;
        self.find(id)
            .ok_or_else(|| failure("corpus", "GetItem", tonic::Code::NotFound))
    }

    async fn get_items(&self, ids: Vec<String>, _by: Instant) -> Result<Vec<Item>, RemoteError> {
        self.up("GetItems")?;
        Ok(ids.iter().filter_map(|id| self.find(id)).collect())
    }

    async fn put_item(&self, mut item: Item, _by: Instant) -> Result<Stored, RemoteError> {
        self.up("PutItems")?;
        let content_sha256 = manifest::hard_binding(&item.provenance_text());
        item.content_sha256 = content_sha256.clone();
        self.stored.lock().unwrap().push(item.clone());
        self.items.lock().unwrap().push(item);
        Ok(Stored::Sealed { content_sha256 })
    }

    async fn record_feedback(
        &self,
        user_id: &str,
        item_id: &str,
        _signal: Signal,
        _by: Instant,
    ) -> Result<(), RemoteError> {
        self.up("RecordFeedback")?;
        if self.find(item_id).is_none() {
            return Err(failure("corpus", "RecordFeedback", tonic::Code::NotFound));
        }
        self.feedback
            .lock()
            .unwrap()
            .push((user_id.to_string(), item_id.to_string()));
        Ok(())
    }
}

/// Trust: blocks any text with [`BLOCKED_WORD`], allows the rest, and
/// signs real manifests with its own key.
pub struct FakeTrust {
    key: SigningKey,
    pub down: AtomicBool,
    pub reviews: AtomicUsize,
    pub certified: AtomicUsize,
}

impl Default for FakeTrust {
    fn default() -> Self {
        FakeTrust {
            key: SigningKey::from_bytes(&[11; 32]),
            down: AtomicBool::new(false),
            reviews: AtomicUsize::new(0),
            certified: AtomicUsize::new(0),
        }
    }
}

impl FakeTrust {
    fn up(&self, method: &'static str) -> Result<(), RemoteError> {
        if self.down.load(Ordering::Relaxed) {
            return Err(failure("trust", method, tonic::Code::Unavailable));
        }
        Ok(())
    }

    /// A manifest for `item_id` over `content`, signed by `key`.
    pub fn sign(
        key: &SigningKey,
        item_id: &str,
        content: &str,
        creator_id: &str,
        licence: &str,
        parents: &[String],
        manifest_id: [u8; 16],
    ) -> Manifest {
        let mut m = Manifest {
            manifest_id: hex::encode(manifest_id),
            item_id: item_id.to_string(),
            creator_id: creator_id.to_string(),
            licence: licence.to_string(),
            actions: vec![ActionRecord {
                action: "c2pa.created".into(),
                digital_source_type: manifest::TRAINED_ALGORITHMIC_MEDIA.into(),
                when_unix_ms: 1,
            }],
            ingredients: parents
                .iter()
                .map(|p| Ingredient {
                    item_id: p.clone(),
                    relationship: manifest::PARENT_OF.into(),
                    ..Default::default()
                })
                .collect(),
            hard_binding: manifest::hard_binding(content),
            soft_binding: manifest::soft_binding(content),
            generator: Generator {
                name: "fake".into(),
                version: "1".into(),
            },
            review: ReviewSummary {
                verdict: "allow".into(),
                bundle_hash: "bundle-1".into(),
                bundle_version: "1".into(),
                log_index: 0,
                rule_ids: vec![],
            },
            created_unix_ms: 1,
            key_id: generec_provenance::keys::key_id(&key.verifying_key()),
            signature: String::new(),
        };
        m.sign(key);
        m
    }
}

#[async_trait]
impl TrustApi for FakeTrust {
    async fn bundle_hash(&self, _by: Instant) -> Result<String, RemoteError> {
        self.up("GetBundle")?;
        Ok("bundle-1".into())
    }

    async fn public_keys(&self, _by: Instant) -> Result<Vec<PublicKey>, RemoteError> {
        self.up("GetPublicKeys")?;
        Ok(vec![PublicKey::new(&self.key.verifying_key(), 0, 0)])
    }

    async fn review(
        &self,
        ask: trust_pb::ReviewRequest,
        _by: Instant,
    ) -> Result<Review, RemoteError> {
        self.up("Review")?;
        self.reviews.fetch_add(1, Ordering::Relaxed);
        let blocked = ask.content.to_lowercase().contains(BLOCKED_WORD);
        Ok(Review {
            verdict: if blocked {
                trust_pb::Verdict::Block
            } else {
                trust_pb::Verdict::Allow
            },
            bundle_hash: "bundle-1".into(),
            rules: if blocked {
                vec!["safety.fake".into()]
            } else {
                vec![]
            },
            licence: "CC-BY-4.0".into(),
        })
    }

    async fn certify(
        &self,
        ask: trust_pb::CertifyRequest,
        _by: Instant,
    ) -> Result<Certified, RemoteError> {
        self.up("Certify")?;
        let n = self.certified.fetch_add(1, Ordering::Relaxed) as u8;
        let id = [n.wrapping_add(1); 16];
        let parents: Vec<String> = ask.parents.iter().map(|p| p.item_id.clone()).collect();
        let m = FakeTrust::sign(
            &self.key,
            &ask.item_id,
            &ask.content,
            &ask.creator_id,
            &ask.licence,
            &parents,
            id,
        );
        Ok(Certified {
            manifest: serde_json::to_vec(&m).unwrap(),
            marked_content: generec_provenance::watermark::embed(&ask.content, &id),
        })
    }
}

/// Generation: answers Interpret with `interpretation` and Edit or Create
/// with `draft`.
#[derive(Default)]
pub struct FakeGeneration {
    pub down: AtomicBool,
    pub interpretation: Mutex<Option<gen_pb::InterpretResponse>>,
    pub draft: Mutex<Option<gen_pb::Draft>>,
    pub interprets: AtomicUsize,
}

impl FakeGeneration {
    fn up(&self, method: &'static str) -> Result<(), RemoteError> {
        if self.down.load(Ordering::Relaxed) {
            return Err(failure("generation", method, tonic::Code::Unavailable));
        }
        Ok(())
    }

    /// Makes the instructor decide to create, and the creator write `body`.
    pub fn will_create(&self, title: &str, body: &str) {
        *self.interpretation.lock().unwrap() = Some(gen_pb::InterpretResponse {
            guidance: Some(gen_pb::Guidance {
                include: vec![gen_pb::TopicWeight {
                    topic: "tech".into(),
                    weight: 1.0,
                }],
                ..Default::default()
            }),
            decision: Some(gen_pb::Decision {
                action: gen_pb::Action::Create as i32,
                target_item: String::new(),
                trigger: gen_pb::Trigger::ExplicitRequest as i32,
                explanation: "You asked for it.".into(),
            }),
        });
        *self.draft.lock().unwrap() = Some(gen_pb::Draft {
            item_id: "gen-1".into(),
            kind: ItemKind::Article.to_proto(),
            title: title.into(),
            body: body.into(),
            origin: Origin::AiCreated.to_proto(),
            c2pa_action: "c2pa.created".into(),
            generator_name: "fake".into(),
            generator_version: "1".into(),
            tags: vec!["tech".into()],
            ..Default::default()
        });
    }
}

#[async_trait]
impl GenerationApi for FakeGeneration {
    async fn interpret(
        &self,
        _ask: gen_pb::InterpretRequest,
        _by: Instant,
    ) -> Result<gen_pb::InterpretResponse, RemoteError> {
        self.up("Interpret")?;
        self.interprets.fetch_add(1, Ordering::Relaxed);
        Ok(self
            .interpretation
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(crate::feed::as_usual))
    }

    async fn edit(
        &self,
        _ask: gen_pb::EditRequest,
        _by: Instant,
    ) -> Result<Option<gen_pb::Draft>, RemoteError> {
        self.up("Edit")?;
        Ok(self.draft.lock().unwrap().clone())
    }

    async fn create(
        &self,
        _ask: gen_pb::CreateRequest,
        _by: Instant,
    ) -> Result<Option<gen_pb::Draft>, RemoteError> {
        self.up("Create")?;
        Ok(self.draft.lock().unwrap().clone())
    }
}

/// The three fakes, and the [`Services`] a feed is built over.
pub struct Fakes {
    pub corpus: std::sync::Arc<FakeCorpus>,
    pub trust: std::sync::Arc<FakeTrust>,
    pub generation: std::sync::Arc<FakeGeneration>,
}

impl Fakes {
    pub fn new(items: Vec<Item>) -> Fakes {
        Fakes {
            corpus: std::sync::Arc::new(FakeCorpus::with(items)),
            trust: std::sync::Arc::new(FakeTrust::default()),
            generation: std::sync::Arc::new(FakeGeneration::default()),
        }
    }

    pub fn services(&self) -> Services {
        Services {
            corpus: self.corpus.clone(),
            trust: self.trust.clone(),
            generation: self.generation.clone(),
        }
    }
}
