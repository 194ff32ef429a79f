//! Durable storage of items, tombstones, the change log that drives the
//! text index, and feedback events, in sled.
//!
//! Items, tombstones and changes share one tree under key prefixes, so one
//! atomic batch writes an item and its change record together; every write
//! is flushed to disk before it returns, so what a caller was told is
//! written survives a crash.

use std::path::Path;

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
        Ok(Store { db, corpus, events })
    }

    /// The stored item, if it is live.
    pub fn item(&self, id: &ItemId) -> Result<Option<Item>, CorpusError> {
        self.corpus
            .get(key(ITEM, id.as_str().as_bytes()))?
            .map(|v| decode(&v))
            .transpose()
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
        self.corpus.apply_batch(batch)?;
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
        self.corpus.apply_batch(batch)?;
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
