//! Durable storage of items, tombstones, the change log that drives the
//! text index, and feedback events, in sled.
//!
//! Items, tombstones and changes share one tree under key prefixes, so one
//! atomic batch writes an item and its change record together; every write
//! is flushed to disk before it returns, so what a caller was told is
//! written survives a crash.
//!
//! Decoded items are kept in a bounded cache (a feed reads the same few
//! hundred items over and over, and decoding the stored record is most of
//! a read's cost). A write or takedown drops the item from the cache after
//! the batch is applied; a read that raced with a write does not put what
//! it read into the cache (see [`ItemCache`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::CorpusError;
use crate::model::{FeedbackEvent, Item, ItemId};

const ITEM: &[u8] = b"i/";
const TOMBSTONE: &[u8] = b"t/";
const CHANGE: &[u8] = b"c/";

/// What stays of an item after a takedown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tombstone {
    pub id: ItemId,
    pub deleted_unix_ms: i64,
    pub reason: String,
    pub content_sha256: String,
}

/// One entry of the change log: an item was written or taken down.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub seq: u64,
    pub id: ItemId,
}

/// The sled database of one corpus.
pub struct Store {
    db: sled::Db,
    corpus: sled::Tree,
    events: sled::Tree,
    cache: Mutex<ItemCache>,
}

/// Decoded items by id, at most `budget` bytes of text. Every write bumps
/// `generation` (under the lock) before it drops the items it wrote, and a
/// read inserts what it decoded only if no write happened since the read
/// began, so a value read just before a write never outlives it.
struct ItemCache {
    items: HashMap<ItemId, Item>,
    bytes: usize,
    budget: usize,
    generation: u64,
    hits: u64,
    misses: u64,
}

/// The cache's figures, for the platform's metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub items: usize,
    pub bytes: usize,
}

fn item_bytes(item: &Item) -> usize {
    // Text dominates; the fixed parts are estimates of the rest.
    let texts = |v: &[String]| v.iter().map(|t| 24 + t.len()).sum::<usize>();
    256 + item.title.len()
        + item.body.len()
        + texts(&item.tags)
        + item.provenance_manifest.len()
        + item.parent_ids.len() * 64
        + item
            .segments
            .iter()
            .map(|s| 64 + s.text.len() + texts(&s.tags))
            .sum::<usize>()
}

impl ItemCache {
    fn new(budget: usize) -> Self {
        ItemCache {
            items: HashMap::new(),
            bytes: 0,
            budget,
            generation: 0,
            hits: 0,
            misses: 0,
        }
    }

    fn get(&mut self, id: &ItemId) -> Option<Item> {
        let found = self.items.get(id).cloned();
        match found {
            Some(_) => self.hits += 1,
            None => self.misses += 1,
        }
        found
    }

    /// Keeps `item` if no write happened since `generation` was read.
    fn insert(&mut self, generation: u64, item: &Item) {
        let size = item_bytes(item);
        if generation != self.generation || size > self.budget / 8 {
            return;
        }
        if self.bytes + size > self.budget {
            self.shrink();
        }
        self.bytes += size;
        if let Some(old) = self.items.insert(item.id.clone(), item.clone()) {
            self.bytes -= item_bytes(&old);
        }
    }

    /// Drops entries until at most three quarters of the budget is used:
    /// the first ones in the map's order, which follows their hashes
    /// (seeded per process), so an arbitrary set goes, not the least
    /// recently used. Enough for a corpus whose hot items fit the budget.
    fn shrink(&mut self) {
        let target = self.budget / 4 * 3;
        let mut gone = Vec::new();
        let mut bytes = self.bytes;
        for (id, item) in &self.items {
            if bytes <= target {
                break;
            }
            bytes -= item_bytes(item);
            gone.push(id.clone());
        }
        for id in gone {
            self.items.remove(&id);
        }
        self.bytes = bytes;
    }

    fn invalidate<'a>(&mut self, ids: impl IntoIterator<Item = &'a ItemId>) {
        self.generation += 1;
        for id in ids {
            if let Some(old) = self.items.remove(id) {
                self.bytes -= item_bytes(&old);
            }
        }
    }
}

fn key(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + rest.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(rest);
    k
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, CorpusError> {
    serde_json::from_slice(bytes).map_err(|e| CorpusError::Internal(format!("corrupt record: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CorpusError> {
    serde_json::to_vec(value)
        .map_err(|e| CorpusError::Internal(format!("cannot encode record: {e}")))
}

impl Store {
    /// Opens or creates the store in `dir`, with a page cache of at most
    /// `cache_bytes`.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Self, CorpusError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()?;
        let corpus = db.open_tree("corpus")?;
        let events = db.open_tree("events")?;
        // A quarter of the page cache's budget again for decoded items.
        let cache = Mutex::new(ItemCache::new(
            usize::try_from(cache_bytes / 4).unwrap_or(usize::MAX),
        ));
        Ok(Store {
            db,
            corpus,
            events,
            cache,
        })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, ItemCache> {
        // The cache holds no invariant a panic could break halfway that
        // matters beyond a wrong byte count; carry on with it.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The stored item, if it is live.
    pub fn item(&self, id: &ItemId) -> Result<Option<Item>, CorpusError> {
        let generation = {
            let mut cache = self.cache();
            if let Some(item) = cache.get(id) {
                return Ok(Some(item));
            }
            cache.generation
        };
        let item: Option<Item> = self
            .corpus
            .get(key(ITEM, id.as_str().as_bytes()))?
            .map(|v| decode(&v))
            .transpose()?;
        if let Some(item) = &item {
            self.cache().insert(generation, item);
        }
        Ok(item)
    }

    /// Hits and misses of the decoded-item cache, and what it holds.
    pub fn cache_stats(&self) -> CacheStats {
        let cache = self.cache();
        CacheStats {
            hits: cache.hits,
            misses: cache.misses,
            items: cache.items.len(),
            bytes: cache.bytes,
        }
    }

    /// The tombstone of a taken-down item.
    pub fn tombstone(&self, id: &ItemId) -> Result<Option<Tombstone>, CorpusError> {
        self.corpus
            .get(key(TOMBSTONE, id.as_str().as_bytes()))?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Every live item, in id order.
    pub fn items(&self) -> impl Iterator<Item = Result<Item, CorpusError>> + '_ {
        self.corpus
            .scan_prefix(ITEM)
            .map(|r| r.map_err(CorpusError::from).and_then(|(_, v)| decode(&v)))
    }

    /// Every tombstone.
    pub fn tombstones(&self) -> impl Iterator<Item = Result<Tombstone, CorpusError>> + '_ {
        self.corpus
            .scan_prefix(TOMBSTONE)
            .map(|r| r.map_err(CorpusError::from).and_then(|(_, v)| decode(&v)))
    }

    fn next_seq(&self) -> Result<u64, CorpusError> {
        // generate_id is monotonic across restarts; 0 is reserved for "nothing applied".
        Ok(self.db.generate_id()? + 1)
    }

    /// Writes items and their change records in one atomic batch and
    /// flushes it. Returns the sequence number of each change, in order.
    pub fn put_items(&self, items: &[Item]) -> Result<Vec<u64>, CorpusError> {
        let mut batch = sled::Batch::default();
        let mut seqs = Vec::with_capacity(items.len());
        for item in items {
            let seq = self.next_seq()?;
            let id = item.id.as_str().as_bytes();
            batch.insert(key(ITEM, id), encode(item)?);
            batch.insert(key(CHANGE, &seq.to_be_bytes()), id);
            seqs.push(seq);
        }
        let applied = self.corpus.apply_batch(batch);
        self.cache().invalidate(items.iter().map(|i| &i.id));
        applied?;
        self.db.flush()?;
        Ok(seqs)
    }

    /// Replaces a live item by its tombstone, atomically, and flushes.
    /// Returns the change's sequence number.
    pub fn take_down(&self, tombstone: &Tombstone) -> Result<u64, CorpusError> {
        let seq = self.next_seq()?;
        let id = tombstone.id.as_str().as_bytes();
        let mut batch = sled::Batch::default();
        batch.remove(key(ITEM, id));
        batch.insert(key(TOMBSTONE, id), encode(tombstone)?);
        batch.insert(key(CHANGE, &seq.to_be_bytes()), id);
        let applied = self.corpus.apply_batch(batch);
        self.cache().invalidate([&tombstone.id]);
        applied?;
        self.db.flush()?;
        Ok(seq)
    }

    /// The changes after sequence number `after`, oldest first.
    pub fn changes_after(
        &self,
        after: u64,
    ) -> impl Iterator<Item = Result<Change, CorpusError>> + '_ {
        let start = key(CHANGE, &after.saturating_add(1).to_be_bytes());
        let end = key(CHANGE, &u64::MAX.to_be_bytes());
        self.corpus.range(start..=end).map(|r| {
            let (k, v) = r?;
            let seq_bytes: [u8; 8] = k[CHANGE.len()..]
                .try_into()
                .map_err(|_| CorpusError::Internal("corrupt change key".into()))?;
            let id = std::str::from_utf8(&v)
                .map_err(|_| CorpusError::Internal("corrupt change id".into()))?;
            Ok(Change {
                seq: u64::from_be_bytes(seq_bytes),
                id: ItemId::parse(id)?,
            })
        })
    }

    /// Appends feedback events in one batch and flushes.
    pub fn append_events(&self, events: &[FeedbackEvent]) -> Result<(), CorpusError> {
        let mut batch = sled::Batch::default();
        for event in events {
            let seq = self.db.generate_id()?;
            batch.insert(&seq.to_be_bytes(), encode(event)?);
        }
        self.events.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }

    /// Every feedback event, oldest first.
    pub fn events(&self) -> impl Iterator<Item = Result<FeedbackEvent, CorpusError>> + '_ {
        self.events
            .iter()
            .map(|r| r.map_err(CorpusError::from).and_then(|(_, v)| decode(&v)))
    }

    /// How many feedback events are stored.
    pub fn event_count(&self) -> usize {
        self.events.len()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{ItemKind, Origin};

    /// A human item with `body`, for tests here and in the corpus.
    pub(crate) fn item(id: &str, body: &str) -> Item {
        Item {
            id: ItemId::parse(id).unwrap(),
            kind: ItemKind::Article,
            title: format!("title of {id}"),
            body: body.into(),
            segments: vec![],
            tags: vec!["tech".into()],
            creator_id: "someone".into(),
            origin: Origin::Human,
            parent_ids: vec![],
            licence: "CC-BY-4.0".into(),
            created_unix_ms: 0,
            content_sha256: String::new(),
            provenance_manifest: vec![],
        }
    }

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4 * 1024 * 1024).unwrap();
        (dir, store)
    }

    #[test]
    fn a_second_read_comes_from_the_cache_and_a_write_replaces_it() {
        let (_dir, store) = open();
        let a = item("a", "first body");
        store.put_items(std::slice::from_ref(&a)).unwrap();
        let id = a.id.clone();
        assert_eq!(store.item(&id).unwrap(), Some(a.clone()));
        assert_eq!(store.item(&id).unwrap(), Some(a));
        let stats = store.cache_stats();
        assert_eq!((stats.hits, stats.misses, stats.items), (1, 1, 1));

        let changed = item("a", "second body");
        store.put_items(std::slice::from_ref(&changed)).unwrap();
        assert_eq!(store.item(&id).unwrap(), Some(changed.clone()));

        store
            .take_down(&Tombstone {
                id: id.clone(),
                deleted_unix_ms: 1,
                reason: "test".into(),
                content_sha256: String::new(),
            })
            .unwrap();
        assert_eq!(store.item(&id).unwrap(), None);
        assert_eq!(store.cache_stats().items, 0);
    }

    #[test]
    fn a_read_that_began_before_a_write_is_not_cached() {
        let (_dir, store) = open();
        let old = item("a", "old");
        store.put_items(std::slice::from_ref(&old)).unwrap();
        // What a read does, with a write between its start and its insert.
        let generation = store.cache().generation;
        let read = store.corpus.get(key(ITEM, b"a")).unwrap().unwrap();
        let read: Item = decode(&read).unwrap();
        store.put_items(&[item("a", "new")]).unwrap();
        store.cache().insert(generation, &read);
        assert_eq!(store.item(&old.id).unwrap().unwrap().body, "new");
    }

    #[test]
    fn the_cache_stays_within_its_budget() {
        let mut cache = ItemCache::new(64 * 1024);
        let body = "x".repeat(1000);
        for n in 0..500 {
            let it = item(&format!("i{n}"), &body);
            cache.insert(cache.generation, &it);
            assert!(
                cache.bytes <= cache.budget,
                "{} > {}",
                cache.bytes,
                cache.budget
            );
        }
        let counted: usize = cache.items.values().map(item_bytes).sum();
        assert_eq!(counted, cache.bytes);
        assert!(cache.items.len() > 20, "{} items kept", cache.items.len());
        // An item larger than an eighth of the budget is never kept.
        let big = item("big", &"y".repeat(10 * 1024));
        cache.insert(cache.generation, &big);
        assert!(!cache.items.contains_key(&big.id));
    }
}
