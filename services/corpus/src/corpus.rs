//! The corpus core: one object that owns the store, the text index, the
//! in-memory catalogue and interaction state, and the ranking model, and
//! implements every corpus operation as a plain synchronous method.
//!
//! Invariants:
//! - a write is acknowledged only after it is flushed to sled and committed
//!   to the text index; the index is caught up from the change log on open;
//! - one writer at a time assigns change sequence numbers and queues index
//!   operations, so the index applies changes in log order;
//! - a taken-down item leaves search and recommendations at once (hits and
//!   candidates are checked against the live catalogue), and its tombstone
//!   stays; its id cannot be reused;
//! - the ranking model is trained on a background thread and swapped in
//!   whole; requests read the current snapshot and never wait for training.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::CorpusError;
use crate::filter::{Filterable, Filters};
use crate::index::{Hit, IndexOp, SearchQuery, TextIndex};
use crate::model::{
    EventType, FeedbackEvent, Item, ItemId, ItemKind, MAX_ABS_WEIGHT, Origin, UserId, limits,
    now_unix_ms,
};
use crate::provenance::{self, Rejection, TrustedKeys};
use crate::ranking::{ItemText, Ranker, RankerConfig, Reason, TrainingData};
use crate::store::{Store, Tombstone};
use generec_provenance::manifest::Manifest;

/// Settings of one corpus.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorpusConfig {
    /// Where sled and tantivy keep their files.
    pub data_dir: PathBuf,
    /// Ranking model parameters.
    pub ranker: RankerConfig,
    /// Least time between two retrains caused by new feedback, in ms.
    pub retrain_interval_ms: u64,
    /// Quiet time after an item change before the model is retrained, in ms,
    /// so new items are ranked within about this long.
    pub item_debounce_ms: u64,
    /// Least time between two retrains caused by new items, in ms: under a
    /// steady stream of generated items each retrain (the whole catalogue,
    /// a few hundred ms) would otherwise follow every short lull. New items
    /// are ranked within about `item_debounce_ms` after a quiet spell and
    /// within this long while items keep coming.
    pub item_retrain_interval_ms: u64,
    /// Weight of the request's free text in Recommend.
    pub query_weight: f32,
    /// Ed25519 public keys (64 hex digits each, as the trust service's
    /// `GetPublicKeys` lists them) whose manifests generated items may carry.
    /// List retired keys too, so items signed before a rotation still load.
    pub trusted_keys: Vec<String>,
    /// Refuse AI-edited and AI-created items unless their manifest verifies
    /// against a trusted key and binds their content (see
    /// [`crate::provenance`]). With no trusted keys, every such item is
    /// refused.
    pub require_manifest_for_ai: bool,
    /// The trust service whose public keys the corpus fetches when a
    /// manifest names a key it does not know (after a rotation), at most
    /// once a minute; empty: only `trusted_keys`. `generec serve corpus`
    /// reads it; `generec up` asks its own trust service directly.
    pub trust_url: String,
    /// The store's page cache, in MiB (sled's own default is 1 GiB).
    pub cache_mb: u64,
}

impl Default for CorpusConfig {
    fn default() -> Self {
        CorpusConfig {
            data_dir: PathBuf::from("generec-data/corpus"),
            ranker: RankerConfig::default(),
            retrain_interval_ms: 10_000,
            item_debounce_ms: 500,
            item_retrain_interval_ms: 3_000,
            query_weight: 1.0,
            trusted_keys: Vec::new(),
            require_manifest_for_ai: true,
            trust_url: String::new(),
            cache_mb: 32,
        }
    }
}

impl CorpusConfig {
    /// Checks the settings, naming the first bad one.
    pub fn validate(&self) -> Result<(), CorpusError> {
        if self.cache_mb == 0 || self.cache_mb > 64 * 1024 {
            return Err(CorpusError::invalid(
                "corpus.cache_mb",
                "must be 1 to 65536 (MiB)",
            ));
        }
        let r = &self.ranker;
        let non_negative = [
            ("corpus.ranker.knn_shrinkage", r.knn_shrinkage),
            ("corpus.ranker.weight_collaborative", r.weight_collaborative),
            ("corpus.ranker.weight_content", r.weight_content),
            ("corpus.ranker.weight_popular", r.weight_popular),
            ("corpus.query_weight", self.query_weight),
        ];
        for (field, value) in non_negative {
            if !(value.is_finite() && value >= 0.0) {
                return Err(CorpusError::invalid(
                    field,
                    format!("must be a finite number >= 0, got {value}"),
                ));
            }
        }
        if !(r.ease_lambda.is_finite() && r.ease_lambda > 0.0) {
            return Err(CorpusError::invalid(
                "corpus.ranker.ease_lambda",
                format!("must be > 0, got {}", r.ease_lambda),
            ));
        }
        if !(0.0..=1.0).contains(&r.collaborative_knn_share) {
            return Err(CorpusError::invalid(
                "corpus.ranker.collaborative_knn_share",
                format!("must lie in [0, 1], got {}", r.collaborative_knn_share),
            ));
        }
        if r.knn_neighbours == 0 {
            return Err(CorpusError::invalid(
                "corpus.ranker.knn_neighbours",
                "must be at least 1",
            ));
        }
        if r.weight_collaborative + r.weight_content + r.weight_popular <= 0.0 {
            return Err(CorpusError::invalid(
                "corpus.ranker",
                "at least one blend weight must be positive",
            ));
        }
        TrustedKeys::parse("corpus.trusted_keys", &self.trusted_keys)?;
        Ok(())
    }
}

/// What PutItems did with one item.
#[derive(Clone, Debug, PartialEq)]
pub enum PutOutcome {
    Created,
    Updated,
    Unchanged,
    Rejected(String),
}

/// The outcome of one item of a PutItems batch.
#[derive(Clone, Debug, PartialEq)]
pub struct PutResult {
    pub id: String,
    pub outcome: PutOutcome,
    pub content_sha256: String,
}

/// The outcome of a takedown.
#[derive(Clone, Debug, PartialEq)]
pub struct Deleted {
    pub id: ItemId,
    pub deleted_unix_ms: i64,
    pub was_live: bool,
}

/// What Recommend asks for.
#[derive(Clone, Debug, Default)]
pub struct RecommendQuery {
    pub user: Option<UserId>,
    pub count: usize,
    pub exclude: Vec<ItemId>,
    pub filters: Filters,
    pub text: String,
}

/// Why an item was recommended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    Collaborative,
    Content,
    Popular,
    Query,
}

impl From<Reason> for Why {
    fn from(r: Reason) -> Self {
        match r {
            Reason::Collaborative => Why::Collaborative,
            Reason::Content => Why::Content,
            Reason::Popular => Why::Popular,
        }
    }
}

/// One ranked item with its metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    pub id: ItemId,
    pub score: f32,
    pub why: Why,
    pub title: String,
    pub kind: ItemKind,
    pub origin: Origin,
    pub creator_id: String,
}

/// Counts for the Stats RPC.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub items: u64,
    pub tombstones: u64,
    pub interactions: u64,
    pub users: u64,
    pub indexed_docs: u64,
    pub model_version: u64,
    pub model_trained_unix_ms: i64,
    pub model_users: u64,
    pub model_items: u64,
    pub ease_enabled: bool,
    pub model_interactions: u64,
}

/// What the catalogue keeps of a live item for filtering and display.
#[derive(Clone, Debug)]
struct Meta {
    kind: ItemKind,
    origin: Origin,
    tags: Vec<String>,
    licence: String,
    created_unix_ms: i64,
    title: String,
    creator_id: String,
}

impl Meta {
    fn of(item: &Item) -> Self {
        Meta {
            kind: item.kind,
            origin: item.origin,
            tags: item.tags.iter().map(|t| t.to_lowercase()).collect(),
            licence: item.licence.clone(),
            created_unix_ms: item.created_unix_ms,
            title: item.title.clone(),
            creator_id: item.creator_id.clone(),
        }
    }
}

impl Filterable for Meta {
    fn kind(&self) -> ItemKind {
        self.kind
    }
    fn origin(&self) -> Origin {
        self.origin
    }
    fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
    fn licence(&self) -> &str {
        &self.licence
    }
    fn created_unix_ms(&self) -> i64 {
        self.created_unix_ms
    }
}

#[derive(Default)]
struct Catalogue {
    live: HashMap<ItemId, Meta>,
    tombstones: HashSet<ItemId>,
}

/// One user's summed feedback per item.
#[derive(Default)]
struct History {
    /// Summed event weight per item, clamped to ±MAX_ABS_WEIGHT.
    weights: HashMap<ItemId, f32>,
    /// Items the user did more than see.
    engaged: HashSet<ItemId>,
}

#[derive(Default)]
struct Interactions {
    users: HashMap<UserId, History>,
    events: u64,
}

impl Interactions {
    fn add(&mut self, event: &FeedbackEvent) {
        let history = self.users.entry(event.user.clone()).or_default();
        let w = history.weights.entry(event.item.clone()).or_insert(0.0);
        *w = (*w + event.weight()).clamp(-MAX_ABS_WEIGHT, MAX_ABS_WEIGHT);
        if event.kind != EventType::Impression {
            history.engaged.insert(event.item.clone());
        }
        self.events += 1;
    }
}

/// A trained model and the item order it was trained on.
struct Snapshot {
    version: u64,
    trained_unix_ms: i64,
    ranker: Ranker,
    items: Vec<ItemId>,
    index_of: HashMap<ItemId, u32>,
    users: usize,
    /// Feedback events seen when the model was trained.
    events: u64,
}

impl Snapshot {
    fn empty(cfg: &RankerConfig) -> Self {
        let data = TrainingData {
            n_items: 0,
            rows: Vec::new(),
        };
        Snapshot {
            version: 0,
            trained_unix_ms: 0,
            ranker: Ranker::train(&data, &[], cfg),
            items: Vec::new(),
            index_of: HashMap::new(),
            users: 0,
            events: 0,
        }
    }
}

/// Where the corpus learns of signing keys it was not started with (after
/// a rotation): the trust service's public keys. Called at most once per
/// [`KEY_REFRESH_INTERVAL`], and only when a manifest names an unknown key.
pub type KeySource =
    Arc<dyn Fn() -> Result<Vec<generec_provenance::keys::PublicKey>, String> + Send + Sync>;

/// Least time between two key fetches.
pub const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// The trusted keys, and how to learn new ones.
struct Keys {
    trusted: RwLock<TrustedKeys>,
    source: RwLock<Option<KeySource>>,
    last_fetch: Mutex<Option<Instant>>,
}

/// The corpus: see the module docs.
pub struct Corpus {
    config: CorpusConfig,
    /// Keys whose manifests generated items may carry.
    keys: Keys,
    store: Store,
    index: TextIndex,
    catalogue: RwLock<Catalogue>,
    interactions: RwLock<Interactions>,
    model: RwLock<Arc<Snapshot>>,
    /// Serialises writers: change sequence numbers and index queue order.
    writer: Mutex<()>,
    /// Bumped on every item change and feedback batch, read by the trainer.
    item_generation: AtomicU64,
    event_generation: AtomicU64,
    /// Serialises training runs.
    training: Mutex<()>,
    /// The item and event generations the current model saw, and when it was trained.
    trained_at: Mutex<(u64, u64, Instant)>,
}

fn lock_poisoned() -> CorpusError {
    CorpusError::Internal("a lock was poisoned by a panic".into())
}

impl Corpus {
    /// Opens the corpus in `config.data_dir`, replays the change log into
    /// the index where it lags, loads the catalogue and interactions, trains
    /// the first model and starts the background trainer.
    pub fn open(config: CorpusConfig) -> Result<Arc<Corpus>, CorpusError> {
        config.validate()?;
        let trusted_keys = TrustedKeys::parse("corpus.trusted_keys", &config.trusted_keys)?;
        if config.require_manifest_for_ai && trusted_keys.is_empty() && config.trust_url.is_empty()
        {
            tracing::warn!(
                "corpus.trusted_keys is empty: every AI-edited or AI-created item will be refused"
            );
        }
        std::fs::create_dir_all(&config.data_dir)?;
        let store = Store::open(
            &config.data_dir.join("store"),
            config.cache_mb * 1024 * 1024,
        )?;
        let (index, applied) = TextIndex::open(&config.data_dir.join("index"))?;

        let mut catalogue = Catalogue::default();
        for item in store.items() {
            let item = item?;
            catalogue.live.insert(item.id.clone(), Meta::of(&item));
        }
        for tombstone in store.tombstones() {
            catalogue.tombstones.insert(tombstone?.id);
        }

        // Catch the index up with the store.
        let mut pending: Vec<(u64, ItemId)> = Vec::new();
        for change in store.changes_after(applied) {
            let change = change?;
            pending.push((change.seq, change.id));
        }
        if let Some(&(last, _)) = pending.last() {
            let mut seen = HashSet::new();
            let mut ops = Vec::new();
            for (_, id) in pending.iter().rev() {
                if !seen.insert(id.clone()) {
                    continue;
                }
                match store.item(id)? {
                    Some(item) => ops.push(IndexOp::Upsert(Box::new(item))),
                    None => ops.push(IndexOp::Delete(id.clone())),
                }
            }
            tracing::info!(
                changes = pending.len(),
                from = applied,
                "catching the index up with the store"
            );
            index.apply(ops, last)?;
        }

        let mut interactions = Interactions::default();
        for event in store.events() {
            interactions.add(&event?);
        }

        let empty = Snapshot::empty(&config.ranker);
        let corpus = Arc::new(Corpus {
            store,
            index,
            catalogue: RwLock::new(catalogue),
            interactions: RwLock::new(interactions),
            model: RwLock::new(Arc::new(empty)),
            writer: Mutex::new(()),
            item_generation: AtomicU64::new(0),
            event_generation: AtomicU64::new(0),
            training: Mutex::new(()),
            trained_at: Mutex::new((0, 0, Instant::now())),
            keys: Keys {
                trusted: RwLock::new(trusted_keys),
                source: RwLock::new(None),
                last_fetch: Mutex::new(None),
            },
            config,
        });
        corpus.train_now()?;
        spawn_trainer(Arc::downgrade(&corpus))?;
        Ok(corpus)
    }

    /// Sets where new signing keys are learnt (see [`KeySource`]) and asks
    /// it once now, so the keys' periods are known from the start.
    pub fn set_key_source(&self, source: KeySource) {
        match source() {
            Ok(keys) => {
                if let Ok(mut trusted) = self.keys.trusted.write() {
                    trusted.extend(keys);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not fetch the trust service's signing keys")
            }
        }
        if let Ok(mut s) = self.keys.source.write() {
            *s = Some(source);
        }
    }

    /// Checks a generated item's manifest; on an unknown key, fetches keys
    /// from the key source (at most once per [`KEY_REFRESH_INTERVAL`]) and
    /// checks again.
    fn check_manifest(&self, item: &Item) -> Result<Manifest, Rejection> {
        let first = self
            .keys
            .trusted
            .read()
            .map_err(|_| Rejection::NoTrustedKeys)?
            .check_item(item);
        if !matches!(
            first,
            Err(Rejection::UntrustedKey { .. } | Rejection::NoTrustedKeys)
        ) {
            return first;
        }
        let Some(source) = self.keys.source.read().ok().and_then(|s| s.clone()) else {
            return first;
        };
        {
            let Ok(mut last) = self.keys.last_fetch.lock() else {
                return first;
            };
            if last.is_some_and(|t| t.elapsed() < KEY_REFRESH_INTERVAL) {
                return first;
            }
            *last = Some(Instant::now());
        }
        match source() {
            Ok(fresh) => {
                let mut trusted = self
                    .keys
                    .trusted
                    .write()
                    .map_err(|_| Rejection::NoTrustedKeys)?;
                trusted.extend(fresh);
                tracing::info!(keys = ?trusted.key_ids(), "fetched the trust service's signing keys");
                trusted.check_item(item)
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not fetch the trust service's signing keys");
                first
            }
        }
    }

    /// The configuration the corpus was opened with.
    pub fn config(&self) -> &CorpusConfig {
        &self.config
    }

    /// The text index (for benchmarks that compare against raw tantivy).
    pub fn text_index(&self) -> &TextIndex {
        &self.index
    }

    fn is_live(&self, id: &ItemId) -> bool {
        self.catalogue
            .read()
            .map(|c| c.live.contains_key(id))
            .unwrap_or(false)
    }

    /// Upserts a batch. Each entry is the id as sent and the item, or the
    /// reason it could not be read; each gets its own outcome. Valid items
    /// are written even when others in the batch are rejected.
    pub fn put_items(
        &self,
        entries: Vec<(String, Result<Item, CorpusError>)>,
    ) -> Result<Vec<PutResult>, CorpusError> {
        if entries.len() > limits::MAX_PUT_BATCH {
            return Err(CorpusError::invalid(
                "items",
                format!(
                    "{} items in one request; the limit is {}",
                    entries.len(),
                    limits::MAX_PUT_BATCH
                ),
            ));
        }
        let now = now_unix_ms();
        let _writer = self.writer.lock().map_err(|_| lock_poisoned())?;
        let mut results = Vec::with_capacity(entries.len());
        let mut to_write: Vec<(usize, Item, bool)> = Vec::new();
        let mut batch_ids = HashSet::new();
        for (raw_id, entry) in entries {
            let mut result = PutResult {
                id: raw_id,
                outcome: PutOutcome::Rejected(String::new()),
                content_sha256: String::new(),
            };
            match self.prepare_put(entry, now, &mut batch_ids) {
                Ok((item, existing)) => match existing {
                    Some(old) if old == item => {
                        result.outcome = PutOutcome::Unchanged;
                        result.content_sha256 = item.content_sha256.clone();
                    }
                    existing => {
                        result.content_sha256 = item.content_sha256.clone();
                        to_write.push((results.len(), item, existing.is_none()));
                    }
                },
                Err(e) => result.outcome = PutOutcome::Rejected(e.to_string()),
            }
            results.push(result);
        }
        if to_write.is_empty() {
            return Ok(results);
        }
        let items: Vec<Item> = to_write.iter().map(|(_, item, _)| item.clone()).collect();
        let seqs = self.store.put_items(&items)?;
        {
            let mut catalogue = self.catalogue.write().map_err(|_| lock_poisoned())?;
            for item in &items {
                catalogue.live.insert(item.id.clone(), Meta::of(item));
            }
        }
        for (slot, _, created) in &to_write {
            results[*slot].outcome = if *created {
                PutOutcome::Created
            } else {
                PutOutcome::Updated
            };
        }
        let last_seq = seqs.last().copied().unwrap_or(0);
        let ops = items
            .into_iter()
            .map(|i| IndexOp::Upsert(Box::new(i)))
            .collect();
        self.item_generation.fetch_add(1, Ordering::SeqCst);
        drop(_writer);
        self.index.apply(ops, last_seq)?;
        Ok(results)
    }

    /// Validates one item of a batch and loads what is stored under its id.
    fn prepare_put(
        &self,
        entry: Result<Item, CorpusError>,
        now: i64,
        batch_ids: &mut HashSet<ItemId>,
    ) -> Result<(Item, Option<Item>), CorpusError> {
        let mut item = entry?;
        if !batch_ids.insert(item.id.clone()) {
            return Err(CorpusError::invalid(
                "id",
                format!("{} appears more than once in the batch", item.id),
            ));
        }
        if self.store.tombstone(&item.id)?.is_some() {
            return Err(CorpusError::invalid(
                "id",
                format!("{} was taken down; its id cannot be reused", item.id),
            ));
        }
        let existing = self.store.item(&item.id)?;
        if item.created_unix_ms == 0 {
            item.created_unix_ms = existing.as_ref().map_or(now, |e| e.created_unix_ms);
        }
        item.validate(now)?;
        item.seal()?;
        check_labels(&item, existing.as_ref())?;
        if self.config.require_manifest_for_ai && item.origin.is_generated() {
            self.check_manifest(&item)
                .and_then(|m| provenance::check_ingredients(&m, |id| self.held(id)))
                .map_err(|r| CorpusError::invalid("provenance_manifest", r.to_string()))?;
        }
        Ok((item, existing))
    }

    /// The licence and content hash of the stored item `id`, for checking
    /// a manifest's ingredients.
    fn held(&self, id: &str) -> Option<provenance::Held> {
        let id = ItemId::parse(id).ok()?;
        let item = self.store.item(&id).ok()??;
        Some(provenance::Held {
            licence: item.licence,
            content_sha256: item.content_sha256,
        })
    }

    /// The decoded-item cache's hits, misses and size, as metrics.
    fn export_cache_figures(&self) {
        let stats = self.store.cache_stats();
        metrics::counter!("generec_corpus_item_cache_total", "result" => "hit")
            .absolute(stats.hits);
        metrics::counter!("generec_corpus_item_cache_total", "result" => "miss")
            .absolute(stats.misses);
        metrics::gauge!("generec_corpus_item_cache_bytes").set(stats.bytes as f64);
    }

    /// The live item with this id.
    pub fn get_item(&self, id: &ItemId) -> Result<Item, CorpusError> {
        if let Some(item) = self.store.item(id)? {
            return Ok(item);
        }
        if let Some(t) = self.store.tombstone(id)? {
            return Err(CorpusError::not_found(
                "item",
                format!(
                    "{id} (taken down at {} ms: {})",
                    t.deleted_unix_ms, t.reason
                ),
            ));
        }
        Err(CorpusError::not_found("item", id.to_string()))
    }

    /// The live items with these ids, in the order asked (a repeated id
    /// once), and the ids with no live item.
    pub fn get_items(&self, ids: &[ItemId]) -> Result<(Vec<Item>, Vec<ItemId>), CorpusError> {
        if ids.len() > limits::MAX_GET_BATCH {
            return Err(CorpusError::invalid(
                "ids",
                format!("{} ids; the limit is {}", ids.len(), limits::MAX_GET_BATCH),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let (mut items, mut missing) = (Vec::new(), Vec::new());
        for id in ids {
            if !seen.insert(id) {
                continue;
            }
            match self.store.item(id)? {
                Some(item) => items.push(item),
                None => missing.push(id.clone()),
            }
        }
        Ok((items, missing))
    }

    /// Takes an item down: out of search and recommendations at once, with
    /// a tombstone kept. Taking down a taken-down item reports the first
    /// takedown.
    pub fn delete_item(&self, id: &ItemId, reason: &str) -> Result<Deleted, CorpusError> {
        if reason.len() > limits::MAX_TITLE_BYTES {
            return Err(CorpusError::invalid(
                "reason",
                format!("the limit is {} bytes", limits::MAX_TITLE_BYTES),
            ));
        }
        let writer = self.writer.lock().map_err(|_| lock_poisoned())?;
        if let Some(t) = self.store.tombstone(id)? {
            return Ok(Deleted {
                id: id.clone(),
                deleted_unix_ms: t.deleted_unix_ms,
                was_live: false,
            });
        }
        let Some(item) = self.store.item(id)? else {
            return Err(CorpusError::not_found("item", id.to_string()));
        };
        let tombstone = Tombstone {
            id: id.clone(),
            deleted_unix_ms: now_unix_ms(),
            reason: reason.to_string(),
            content_sha256: item.content_sha256,
        };
        let seq = self.store.take_down(&tombstone)?;
        {
            let mut catalogue = self.catalogue.write().map_err(|_| lock_poisoned())?;
            catalogue.live.remove(id);
            catalogue.tombstones.insert(id.clone());
        }
        self.item_generation.fetch_add(1, Ordering::SeqCst);
        drop(writer);
        self.index.apply(vec![IndexOp::Delete(id.clone())], seq)?;
        Ok(Deleted {
            id: id.clone(),
            deleted_unix_ms: tombstone.deleted_unix_ms,
            was_live: true,
        })
    }

    /// Full-text search with filters and paging.
    pub fn search(&self, query: &SearchQuery) -> Result<(Vec<Hit>, u64), CorpusError> {
        if query.query.len() > limits::MAX_QUERY_BYTES {
            return Err(CorpusError::invalid(
                "query",
                format!(
                    "is {} bytes; the limit is {}",
                    query.query.len(),
                    limits::MAX_QUERY_BYTES
                ),
            ));
        }
        if query.limit > limits::MAX_RESULTS {
            return Err(CorpusError::invalid(
                "limit",
                format!("the limit is {}", limits::MAX_RESULTS),
            ));
        }
        if query.offset > limits::MAX_OFFSET {
            return Err(CorpusError::invalid(
                "offset",
                format!("the limit is {}", limits::MAX_OFFSET),
            ));
        }
        let mut query = query.clone();
        if query.limit == 0 {
            query.limit = 10;
        }
        let (mut hits, total) = self.index.search(&query, |id| self.is_live(id))?;
        let catalogue = self.catalogue.read().map_err(|_| lock_poisoned())?;
        for hit in &mut hits {
            if let Some(meta) = catalogue.live.get(&hit.id) {
                hit.kind = Some(meta.kind);
                hit.origin = Some(meta.origin);
            }
        }
        Ok((hits, total))
    }

    /// Records a batch of feedback, all or nothing: every event is checked
    /// (values, and that its item is live) before any is written.
    pub fn record_feedback(&self, events: Vec<FeedbackEvent>) -> Result<u64, CorpusError> {
        if events.len() > limits::MAX_FEEDBACK_BATCH {
            return Err(CorpusError::invalid(
                "events",
                format!(
                    "{} events in one request; the limit is {}",
                    events.len(),
                    limits::MAX_FEEDBACK_BATCH
                ),
            ));
        }
        let now = now_unix_ms();
        let mut events = events;
        {
            let catalogue = self.catalogue.read().map_err(|_| lock_poisoned())?;
            for (i, event) in events.iter_mut().enumerate() {
                if event.timestamp_unix_ms == 0 {
                    event.timestamp_unix_ms = now;
                }
                event.validate(i, now)?;
                if !catalogue.live.contains_key(&event.item) {
                    let what = if catalogue.tombstones.contains(&event.item) {
                        "taken down"
                    } else {
                        "unknown"
                    };
                    return Err(CorpusError::not_found(
                        "item",
                        format!("{} (events[{i}].item_id is {what})", event.item),
                    ));
                }
            }
        }
        if events.is_empty() {
            return Ok(0);
        }
        self.store.append_events(&events)?;
        let mut interactions = self.interactions.write().map_err(|_| lock_poisoned())?;
        for event in &events {
            interactions.add(event);
        }
        self.event_generation.fetch_add(1, Ordering::SeqCst);
        Ok(events.len() as u64)
    }

    fn snapshot(&self) -> Result<Arc<Snapshot>, CorpusError> {
        Ok(self.model.read().map_err(|_| lock_poisoned())?.clone())
    }

    /// Ranks items for a user: the blend of collaborative, content and
    /// popularity scores from the current model, with the request's free
    /// text blended in. Items the user engaged with, excluded ids, items
    /// taken down and items outside the filters are left out. A user with
    /// no history gets popular items.
    pub fn recommend(&self, query: &RecommendQuery) -> Result<(Vec<Scored>, u64), CorpusError> {
        if query.count > limits::MAX_RESULTS {
            return Err(CorpusError::invalid(
                "count",
                format!("the limit is {}", limits::MAX_RESULTS),
            ));
        }
        if query.exclude.len() > limits::MAX_EXCLUDE {
            return Err(CorpusError::invalid(
                "exclude_ids",
                format!("the limit is {} ids", limits::MAX_EXCLUDE),
            ));
        }
        if query.text.len() > limits::MAX_QUERY_BYTES {
            return Err(CorpusError::invalid(
                "text",
                format!("the limit is {} bytes", limits::MAX_QUERY_BYTES),
            ));
        }
        let count = if query.count == 0 { 10 } else { query.count };
        let snap = self.snapshot()?;
        let mut history = Vec::new();
        // By item index: a flag per item is cheaper to ask than a hash set
        // on this loop over the whole catalogue.
        let mut engaged = vec![false; snap.items.len()];
        if let Some(user) = &query.user {
            let interactions = self.interactions.read().map_err(|_| lock_poisoned())?;
            if let Some(h) = interactions.users.get(user) {
                for (item, &w) in &h.weights {
                    if let Some(&idx) = snap.index_of.get(item)
                        && w != 0.0
                    {
                        history.push((idx, w));
                    }
                }
                history.sort_unstable_by_key(|&(idx, _)| idx);
                for i in h.engaged.iter().filter_map(|i| snap.index_of.get(i)) {
                    if let Some(flag) = engaged.get_mut(*i as usize) {
                        *flag = true;
                    }
                }
            }
        }
        let scores = snap.ranker.score_user(&history);
        let text_scores = if query.text.trim().is_empty() {
            None
        } else {
            Some(snap.ranker.score_text(&query.text))
        };
        let excluded: HashSet<&ItemId> = query.exclude.iter().collect();
        let catalogue = self.catalogue.read().map_err(|_| lock_poisoned())?;
        let mut candidates: Vec<(f32, i64, u32, Why)> = Vec::new();
        for (idx, s) in scores.iter().enumerate() {
            let id = &snap.items[idx];
            let Some(meta) = catalogue.live.get(id) else {
                continue;
            };
            if engaged.get(idx).copied().unwrap_or(false)
                || (!excluded.is_empty() && excluded.contains(id))
                || !query.filters.matches(meta)
            {
                continue;
            }
            let mut total = s.total;
            let mut why = Why::from(s.reason());
            if let Some(text) = &text_scores {
                let t = self.config.query_weight * text.get(idx).copied().unwrap_or(0.0);
                total += t;
                if t > 0.0 && t >= s.total {
                    why = Why::Query;
                }
            }
            if !total.is_finite() {
                continue;
            }
            candidates.push((total, meta.created_unix_ms, idx as u32, why));
        }
        let order = |a: &(f32, i64, u32, Why), b: &(f32, i64, u32, Why)| {
            b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2))
        };
        if candidates.len() > count {
            candidates.select_nth_unstable_by(count, order);
            candidates.truncate(count);
        }
        candidates.sort_unstable_by(order);
        let items = candidates
            .into_iter()
            .filter_map(|(score, _, idx, why)| {
                let id = &snap.items[idx as usize];
                catalogue
                    .live
                    .get(id)
                    .map(|meta| scored(id, meta, score, why))
            })
            .collect();
        Ok((items, snap.version))
    }

    /// Items like `id`: collaborative neighbours blended with content
    /// similarity, filtered like Recommend.
    pub fn similar_items(
        &self,
        id: &ItemId,
        count: usize,
        filters: &Filters,
    ) -> Result<Vec<Scored>, CorpusError> {
        if count > limits::MAX_RESULTS {
            return Err(CorpusError::invalid(
                "count",
                format!("the limit is {}", limits::MAX_RESULTS),
            ));
        }
        let count = if count == 0 { 10 } else { count };
        if !self.is_live(id) {
            return Err(CorpusError::not_found("item", id.to_string()));
        }
        let snap = self.snapshot()?;
        let Some(&idx) = snap.index_of.get(id) else {
            return Ok(Vec::new());
        };
        let catalogue = self.catalogue.read().map_err(|_| lock_poisoned())?;
        let mut out = Vec::with_capacity(count);
        let mut want = count * 2 + 8;
        loop {
            out.clear();
            let neighbours = snap.ranker.similar(idx, want);
            let exhausted = neighbours.len() < want;
            for (j, score, reason) in neighbours {
                let other = &snap.items[j as usize];
                if let Some(meta) = catalogue.live.get(other)
                    && filters.matches(meta)
                {
                    out.push(scored(other, meta, score, reason.into()));
                    if out.len() == count {
                        return Ok(out);
                    }
                }
            }
            if exhausted || want >= snap.items.len() {
                return Ok(out);
            }
            want = (want * 4).min(snap.items.len());
        }
    }

    /// Counts of items, interactions and the model.
    pub fn stats(&self) -> Result<Stats, CorpusError> {
        let snap = self.snapshot()?;
        let (items, tombstones) = {
            let c = self.catalogue.read().map_err(|_| lock_poisoned())?;
            (c.live.len() as u64, c.tombstones.len() as u64)
        };
        let (interactions, users) = {
            let i = self.interactions.read().map_err(|_| lock_poisoned())?;
            (i.events, i.users.len() as u64)
        };
        Ok(Stats {
            items,
            tombstones,
            interactions,
            users,
            indexed_docs: self.index.num_docs(),
            model_version: snap.version,
            model_trained_unix_ms: snap.trained_unix_ms,
            model_users: snap.users as u64,
            model_items: snap.items.len() as u64,
            ease_enabled: snap.ranker.ease_enabled(),
            model_interactions: snap.events,
        })
    }

    /// Trains a model on everything stored now and swaps it in. Returns the
    /// new model version. Requests keep using the old model meanwhile.
    pub fn train_now(&self) -> Result<u64, CorpusError> {
        let _training = self.training.lock().map_err(|_| lock_poisoned())?;
        let started = Instant::now();
        // Read the generations first: changes made during training trigger another run.
        let item_generation = self.item_generation.load(Ordering::SeqCst);
        let event_generation = self.event_generation.load(Ordering::SeqCst);
        let mut items: Vec<ItemId> = {
            let c = self.catalogue.read().map_err(|_| lock_poisoned())?;
            c.live.keys().cloned().collect()
        };
        items.sort();
        let index_of: HashMap<ItemId, u32> = items
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i as u32))
            .collect();
        let mut texts: Vec<ItemText> = Vec::with_capacity(items.len());
        for id in &items {
            let text = match self.store.item(id)? {
                Some(item) => {
                    let mut body = item.body;
                    body.push('\n');
                    body.push_str(
                        &item
                            .segments
                            .iter()
                            .map(|s| s.text.as_str())
                            .collect::<Vec<_>>()
                            .join("\n"),
                    );
                    ItemText {
                        title: item.title,
                        body,
                        tags: item.tags,
                    }
                }
                None => ItemText {
                    title: String::new(),
                    body: String::new(),
                    tags: Vec::new(),
                },
            };
            texts.push(text);
        }
        let (rows, events): (Vec<Vec<(u32, f32)>>, u64) = {
            let interactions = self.interactions.read().map_err(|_| lock_poisoned())?;
            let rows = interactions
                .users
                .values()
                .map(|h| {
                    let mut row: Vec<(u32, f32)> = h
                        .weights
                        .iter()
                        .filter(|(_, w)| **w != 0.0)
                        .filter_map(|(id, &w)| index_of.get(id).map(|&i| (i, w)))
                        .collect();
                    row.sort_unstable_by_key(|&(i, _)| i);
                    row
                })
                .filter(|row| !row.is_empty())
                .collect();
            (rows, interactions.events)
        };
        let users = rows.len();
        let data = TrainingData {
            n_items: items.len(),
            rows,
        };
        let ranker = Ranker::train(&data, &texts, &self.config.ranker);
        let version = self.snapshot()?.version + 1;
        let snapshot = Snapshot {
            version,
            trained_unix_ms: now_unix_ms(),
            ranker,
            items,
            index_of,
            users,
            events,
        };
        tracing::info!(
            version,
            items = snapshot.items.len(),
            users,
            ms = started.elapsed().as_millis() as u64,
            "ranking model trained"
        );
        metrics::histogram!("generec_corpus_retrain_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::gauge!("generec_corpus_model_items").set(snapshot.items.len() as f64);
        *self.model.write().map_err(|_| lock_poisoned())? = Arc::new(snapshot);
        if let Ok(mut at) = self.trained_at.lock() {
            *at = (item_generation, event_generation, Instant::now());
        }
        Ok(version)
    }
}

fn scored(id: &ItemId, meta: &Meta, score: f32, why: Why) -> Scored {
    Scored {
        id: id.clone(),
        score,
        why,
        title: meta.title.clone(),
        kind: meta.kind,
        origin: meta.origin,
        creator_id: meta.creator_id.clone(),
    }
}

/// Starts the background trainer. It holds only a weak reference, so it
/// stops once the corpus is dropped.
fn spawn_trainer(corpus: Weak<Corpus>) -> Result<(), CorpusError> {
    std::thread::Builder::new()
        .name("corpus-trainer".into())
        .spawn(move || {
            let tick = Duration::from_millis(100);
            let mut last_items = (0u64, Instant::now());
            // When this thread last trained: new items wait at least
            // `item_retrain_interval_ms` after it (the first need not).
            let mut last_train: Option<Instant> = None;
            loop {
                std::thread::sleep(tick);
                let Some(corpus) = corpus.upgrade() else {
                    return;
                };
                corpus.export_cache_figures();
                let items_now = corpus.item_generation.load(Ordering::SeqCst);
                if items_now != last_items.0 {
                    last_items = (items_now, Instant::now());
                }
                let (trained_items, trained_events, trained_when) = match corpus.trained_at.lock() {
                    Ok(g) => *g,
                    Err(_) => return,
                };
                let items_due = items_now != trained_items
                    && last_items.1.elapsed()
                        >= Duration::from_millis(corpus.config.item_debounce_ms)
                    && last_train.is_none_or(|at: Instant| {
                        at.elapsed()
                            >= Duration::from_millis(corpus.config.item_retrain_interval_ms)
                    });
                let events_due = corpus.event_generation.load(Ordering::SeqCst) != trained_events
                    && trained_when.elapsed()
                        >= Duration::from_millis(corpus.config.retrain_interval_ms);
                if items_due || events_due {
                    last_train = Some(Instant::now());
                    if let Err(e) = corpus.train_now() {
                        tracing::error!(error = %e, "background training failed");
                    }
                }
            }
        })?;
    Ok(())
}

/// Labels cannot be laundered: a generated item stays generated (its
/// origin cannot become human, its manifest cannot be dropped), and no
/// item's text may carry invisible characters beyond its mark (a hidden
/// payload a reader cannot see).
fn check_labels(item: &Item, existing: Option<&Item>) -> Result<(), CorpusError> {
    if let Some(old) = existing
        && old.origin.is_generated()
    {
        if !item.origin.is_generated() {
            return Err(CorpusError::invalid(
                "origin",
                format!(
                    "{} is a generated item ({}); its origin cannot become {}",
                    item.id,
                    old.origin.as_str(),
                    item.origin.as_str()
                ),
            ));
        }
        if item.provenance_manifest.is_empty() {
            return Err(CorpusError::invalid(
                "provenance_manifest",
                format!(
                    "{} is a generated item; its manifest cannot be dropped",
                    item.id
                ),
            ));
        }
    }
    for (field, text) in [("title", item.title.as_str()), ("body", item.body.as_str())] {
        if let Some(at) = generec_provenance::watermark::smuggled(text) {
            return Err(CorpusError::invalid(
                field,
                format!("carries invisible characters beyond the provenance mark at byte {at}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_refused_by_name() {
        assert!(CorpusConfig::default().validate().is_ok());
        let mut cfg = CorpusConfig::default();
        cfg.ranker.ease_lambda = 0.0;
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("ease_lambda")
        );
        let mut cfg = CorpusConfig::default();
        cfg.ranker.weight_content = f32::NAN;
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("weight_content")
        );
        let mut cfg = CorpusConfig::default();
        cfg.ranker.knn_neighbours = 0;
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("knn_neighbours")
        );
        let cfg = CorpusConfig {
            trusted_keys: vec!["not a key".into()],
            ..CorpusConfig::default()
        };
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("corpus.trusted_keys[0]")
        );
    }

    /// A human item numbered `n`.
    fn numbered_item(n: u32) -> Item {
        crate::store::tests::item(
            &format!("item-{n}"),
            &format!("Body of item {n} about markets and rail fares."),
        )
    }

    /// Waits (up to 20 s) until the background trainer has a model with
    /// `items` items; returns its version.
    fn wait_for_model_items(corpus: &Corpus, items: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let stats = corpus.stats().unwrap();
            if stats.model_items == items {
                return stats.model_version;
            }
            assert!(
                Instant::now() < deadline,
                "the model never reached {items} items"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn items_written_soon_after_a_retrain_wait_for_the_item_retrain_interval() {
        let open = |interval_ms: u64, dir: &std::path::Path| {
            Corpus::open(CorpusConfig {
                data_dir: dir.to_path_buf(),
                item_debounce_ms: 10,
                item_retrain_interval_ms: interval_ms,
                ..CorpusConfig::default()
            })
            .unwrap()
        };
        let put = |corpus: &Corpus, n: u32| {
            corpus
                .put_items(vec![(format!("item-{n}"), Ok(numbered_item(n)))])
                .unwrap();
        };
        // A long interval: the first item is ranked at once, the second
        // waits.
        let dir = tempfile::tempdir().unwrap();
        let corpus = open(60_000, dir.path());
        put(&corpus, 1);
        let version = wait_for_model_items(&corpus, 1);
        put(&corpus, 2);
        std::thread::sleep(Duration::from_millis(600));
        let stats = corpus.stats().unwrap();
        assert_eq!((stats.model_version, stats.model_items), (version, 1));
        // No interval: the second item is ranked after the debounce alone.
        let dir = tempfile::tempdir().unwrap();
        let corpus = open(0, dir.path());
        put(&corpus, 1);
        let version = wait_for_model_items(&corpus, 1);
        put(&corpus, 2);
        assert!(wait_for_model_items(&corpus, 2) > version);
    }

    mod manifests {
        use super::*;
        use ed25519_dalek::SigningKey;
        use generec_provenance::keys::key_id;
        use generec_provenance::manifest::{
            self, ActionRecord, Generator, Ingredient, Manifest, ReviewSummary,
        };
        use generec_provenance::watermark;

        fn item(id: &str, origin: Origin, title: &str, body: &str) -> Item {
            Item {
                id: ItemId::parse(id).unwrap(),
                kind: ItemKind::Article,
                title: title.into(),
                body: body.into(),
                segments: vec![],
                tags: vec!["business".into()],
                creator_id: "generec".into(),
                origin,
                parent_ids: vec![],
                licence: "CC-BY-4.0".into(),
                created_unix_ms: 0,
                content_sha256: String::new(),
                provenance_manifest: vec![],
            }
        }

        /// `id` as the corpus holds it, as an ingredient.
        fn ingredient(corpus: &Corpus, id: &str, relationship: &str) -> Ingredient {
            let held = corpus.get_item(&ItemId::parse(id).unwrap()).unwrap();
            Ingredient {
                item_id: id.into(),
                content_sha256: held.content_sha256,
                relationship: relationship.into(),
                licence: held.licence,
                ..Ingredient::default()
            }
        }

        /// What the trust service's Certify signs for `text`.
        fn certify(
            key: &SigningKey,
            item_id: &str,
            text: &str,
            ingredients: &[Ingredient],
        ) -> Vec<u8> {
            let mut m = Manifest {
                manifest_id: "0102030405060708090a0b0c0d0e0f10".into(),
                item_id: item_id.into(),
                creator_id: "generec".into(),
                licence: "CC-BY-4.0".into(),
                actions: vec![ActionRecord {
                    action: "c2pa.created".into(),
                    digital_source_type: manifest::TRAINED_ALGORITHMIC_MEDIA.into(),
                    when_unix_ms: 1,
                }],
                ingredients: ingredients.to_vec(),
                hard_binding: manifest::hard_binding(text),
                soft_binding: manifest::soft_binding(text),
                generator: Generator {
                    name: "g".into(),
                    version: "1".into(),
                },
                review: ReviewSummary {
                    verdict: "allow".into(),
                    bundle_hash: String::new(),
                    bundle_version: String::new(),
                    log_index: 0,
                    rule_ids: vec![],
                },
                created_unix_ms: 1,
                key_id: key_id(&key.verifying_key()),
                signature: String::new(),
            };
            m.sign(key);
            serde_json::to_vec(&m).unwrap()
        }

        fn open(dir: &std::path::Path, keys: &[&SigningKey], require: bool) -> Arc<Corpus> {
            Corpus::open(CorpusConfig {
                data_dir: dir.to_path_buf(),
                trusted_keys: keys
                    .iter()
                    .map(|k| hex::encode(k.verifying_key().to_bytes()))
                    .collect(),
                require_manifest_for_ai: require,
                ..CorpusConfig::default()
            })
            .unwrap()
        }

        fn put(corpus: &Corpus, item: Item) -> PutOutcome {
            let mut results = corpus
                .put_items(vec![(item.id.to_string(), Ok(item))])
                .unwrap();
            results.remove(0).outcome
        }

        fn rejected(outcome: PutOutcome) -> String {
            match outcome {
                PutOutcome::Rejected(reason) => reason,
                other => panic!("expected a rejection, got {other:?}"),
            }
        }

        #[test]
        fn a_generated_item_with_a_verifying_manifest_is_stored_and_others_are_rejected() {
            let dir = tempfile::tempdir().unwrap();
            let key = SigningKey::from_bytes(&[9; 32]);
            let corpus = open(dir.path(), &[&key], true);

            // Certified text, stored with the mark in the title: accepted.
            let mut good = item("gen-1", Origin::AiCreated, "Markets", "Shares rose today.");
            let text = good.provenance_text();
            good.provenance_manifest = certify(&key, "gen-1", &text, &[]);
            let marked = watermark::embed(&text, &[5; 16]);
            let (title, body) = marked.split_once("\n\n").unwrap();
            good.title = title.into();
            good.body = body.into();
            assert_eq!(put(&corpus, good.clone()), PutOutcome::Created);

            // No manifest.
            let bare = item("gen-2", Origin::AiCreated, "Markets", "Shares rose today.");
            let reason = rejected(put(&corpus, bare));
            assert!(reason.contains("provenance_manifest"), "{reason}");
            assert!(reason.contains("signed manifest"), "{reason}");

            // The body changed after certification.
            let mut changed = good.clone();
            changed.id = ItemId::parse("gen-3").unwrap();
            changed.body = "Shares fell today.".into();
            changed.provenance_manifest = certify(&key, "gen-3", &text, &[]);
            assert!(rejected(put(&corpus, changed)).contains("dataHash.mismatch"));

            // The manifest of another item.
            let mut stolen = good.clone();
            stolen.id = ItemId::parse("gen-4").unwrap();
            assert!(rejected(put(&corpus, stolen)).contains("gen-1"));

            // Signed by a key the corpus does not trust.
            let mut parent = item("bbc-1", Origin::Human, "Rates", "The bank held rates.");
            parent.licence = "all-rights-reserved".into();
            assert_eq!(put(&corpus, parent), PutOutcome::Created);
            let bbc = ingredient(&corpus, "bbc-1", manifest::PARENT_OF);
            let rogue = SigningKey::from_bytes(&[10; 32]);
            let mut forged = item("gen-5", Origin::AiEdited, "Markets", "Shares rose today.");
            forged.parent_ids = vec![ItemId::parse("bbc-1").unwrap()];
            forged.provenance_manifest = certify(
                &rogue,
                "gen-5",
                &forged.provenance_text(),
                std::slice::from_ref(&bbc),
            );
            assert!(rejected(put(&corpus, forged.clone())).contains("not a trusted key"));

            // Parents that the manifest does not list.
            forged.provenance_manifest = certify(&key, "gen-5", &forged.provenance_text(), &[]);
            assert!(rejected(put(&corpus, forged.clone())).contains("parent_ids"));
            // A cited source is not a parent.
            let mut as_source = bbc.clone();
            as_source.relationship = manifest::INPUT_TO.into();
            forged.provenance_manifest =
                certify(&key, "gen-5", &forged.provenance_text(), &[as_source]);
            assert!(rejected(put(&corpus, forged.clone())).contains("parent_ids"));
            forged.provenance_manifest = certify(
                &key,
                "gen-5",
                &forged.provenance_text(),
                std::slice::from_ref(&bbc),
            );
            assert_eq!(put(&corpus, forged), PutOutcome::Created);

            // Human items need no manifest.
            let human = item("h-1", Origin::Human, "Markets", "Shares rose today.");
            assert_eq!(put(&corpus, human), PutOutcome::Created);
            assert!(corpus.get_item(&ItemId::parse("gen-2").unwrap()).is_err());
        }

        #[test]
        fn every_ingredient_must_be_held_with_the_licence_and_content_the_manifest_records() {
            let dir = tempfile::tempdir().unwrap();
            let key = SigningKey::from_bytes(&[9; 32]);
            let corpus = open(dir.path(), &[&key], true);
            let mut source = item("bbc-1", Origin::Human, "Rates", "The bank held rates.");
            source.licence = "all-rights-reserved".into();
            assert_eq!(put(&corpus, source.clone()), PutOutcome::Created);
            let cited = ingredient(&corpus, "bbc-1", manifest::INPUT_TO);
            let made = |id: &str, ingredients: &[Ingredient]| {
                let mut g = item(id, Origin::AiCreated, "Markets", "The bank held rates.");
                g.provenance_manifest = certify(&key, id, &g.provenance_text(), ingredients);
                g
            };
            let broken = |f: fn(&mut Ingredient)| {
                let mut i = cited.clone();
                f(&mut i);
                i
            };
            for (why, ingredient) in [
                (
                    "not in the corpus",
                    broken(|i| i.item_id = "bbc-404".into()),
                ),
                (
                    "all-rights-reserved",
                    broken(|i| i.licence = "CC-BY-4.0".into()),
                ),
                ("all-rights-reserved", broken(|i| i.licence.clear())),
                (
                    "content_sha256",
                    broken(|i| i.content_sha256 = "00".repeat(32)),
                ),
            ] {
                let reason = rejected(put(&corpus, made("gen-x", &[ingredient])));
                assert!(reason.contains(why), "{why}: {reason}");
            }
            assert_eq!(
                put(&corpus, made("gen-1", std::slice::from_ref(&cited))),
                PutOutcome::Created
            );
            // A source edited after the review no longer matches.
            source.body = "The bank cut rates.".into();
            source.content_sha256.clear();
            assert_eq!(put(&corpus, source), PutOutcome::Updated);
            let reason = rejected(put(&corpus, made("gen-2", &[cited])));
            assert!(reason.contains("content_sha256"), "{reason}");
        }

        #[test]
        fn labels_cannot_be_laundered_and_hidden_payloads_are_refused() {
            let dir = tempfile::tempdir().unwrap();
            let key = SigningKey::from_bytes(&[9; 32]);
            let corpus = open(dir.path(), &[&key], true);
            let mut good = item("gen-1", Origin::AiCreated, "Markets", "Shares rose today.");
            good.provenance_manifest = certify(&key, "gen-1", &good.provenance_text(), &[]);
            assert_eq!(put(&corpus, good.clone()), PutOutcome::Created);

            // Relabelled as human, manifest dropped: refused.
            let mut human = good.clone();
            human.origin = Origin::Human;
            human.provenance_manifest = vec![];
            let reason = rejected(put(&corpus, human));
            assert!(reason.contains("origin"), "{reason}");
            // Still generated, manifest dropped: refused.
            let mut bare = good.clone();
            bare.provenance_manifest = vec![];
            assert!(rejected(put(&corpus, bare)).contains("provenance_manifest"));
            // Another creator or licence than the manifest signed: refused.
            let mut relabelled = good.clone();
            relabelled.creator_id = "someone-else".into();
            assert!(rejected(put(&corpus, relabelled)).contains("creator"));
            let mut relicensed = good.clone();
            relicensed.licence = "CC0-1.0".into();
            assert!(rejected(put(&corpus, relicensed)).contains("licence"));
            // 124 variation selectors (an encoded instruction) beside the mark.
            let mut smuggled = good.clone();
            smuggled.id = ItemId::parse("gen-9").unwrap();
            smuggled.body = format!("Shares rose today.{}", "\u{E0150}".repeat(124));
            let reason = rejected(put(&corpus, smuggled));
            assert!(reason.contains("invisible"), "{reason}");
            // Ids with bidi overrides are not ids.
            assert!(ItemId::parse("gen\u{202e}txt").is_err());
            let stored = corpus.get_item(&ItemId::parse("gen-1").unwrap()).unwrap();
            assert_eq!(stored.origin, Origin::AiCreated);
        }

        #[test]
        fn an_unknown_key_is_fetched_from_the_key_source_at_most_once_a_minute() {
            let dir = tempfile::tempdir().unwrap();
            let old = SigningKey::from_bytes(&[9; 32]);
            let rotated = SigningKey::from_bytes(&[11; 32]);
            let corpus = open(dir.path(), &[&old], true);
            let calls = Arc::new(AtomicU64::new(0));
            let rotated_public =
                generec_provenance::keys::PublicKey::new(&rotated.verifying_key(), 0, 0);
            let counter = calls.clone();
            // The rotation happens after the corpus asked at start.
            corpus.set_key_source(Arc::new(move || {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                Ok(if n == 0 {
                    vec![]
                } else {
                    vec![rotated_public.clone()]
                })
            }));
            assert_eq!(calls.load(Ordering::SeqCst), 1, "asked once at start");
            let mut a = item("gen-a", Origin::AiCreated, "Markets", "Shares rose today.");
            a.provenance_manifest = certify(&rotated, "gen-a", &a.provenance_text(), &[]);
            assert_eq!(put(&corpus, a), PutOutcome::Created);
            assert_eq!(calls.load(Ordering::SeqCst), 2, "asked on the unknown key");
            // A key nobody trusts does not make the corpus ask again at once.
            let rogue = SigningKey::from_bytes(&[12; 32]);
            let mut b = item("gen-b", Origin::AiCreated, "Markets", "Shares fell today.");
            b.provenance_manifest = certify(&rogue, "gen-b", &b.provenance_text(), &[]);
            assert!(rejected(put(&corpus, b)).contains("not a trusted key"));
            assert_eq!(calls.load(Ordering::SeqCst), 2);
        }

        #[test]
        fn a_retired_key_vouches_only_for_what_it_signed_while_active() {
            let dir = tempfile::tempdir().unwrap();
            let old = SigningKey::from_bytes(&[9; 32]);
            let corpus = open(dir.path(), &[&old], true);
            // The source says the key signed from 2 to 5 ms; manifests here
            // say they were made at 1 ms, outside that period.
            let retired = generec_provenance::keys::PublicKey::new(&old.verifying_key(), 2, 5);
            corpus.set_key_source(Arc::new(move || Ok(vec![retired.clone()])));
            let mut a = item("gen-a", Origin::AiCreated, "Markets", "Shares rose today.");
            a.provenance_manifest = certify(&old, "gen-a", &a.provenance_text(), &[]);
            assert!(rejected(put(&corpus, a)).contains("signingCredential.expired"));
        }

        #[test]
        fn without_trusted_keys_generated_items_are_rejected_and_the_reason_says_so() {
            let dir = tempfile::tempdir().unwrap();
            let corpus = open(dir.path(), &[], true);
            let reason = rejected(put(&corpus, item("gen-1", Origin::AiCreated, "T", "B")));
            assert!(reason.contains("no trusted manifest keys"), "{reason}");
        }

        #[test]
        fn with_the_requirement_off_generated_items_are_stored_unchecked() {
            let dir = tempfile::tempdir().unwrap();
            let corpus = open(dir.path(), &[], false);
            assert_eq!(
                put(&corpus, item("gen-1", Origin::AiCreated, "T", "B")),
                PutOutcome::Created
            );
        }
    }
}
