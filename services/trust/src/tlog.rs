//! The transparency log's storage: an append-only RFC 6962 Merkle tree in
//! sled.
//!
//! Contract (tested below):
//! - an index is returned only after the entry, its leaf and every subtree
//!   hash it completes are written in one atomic sled batch and flushed;
//! - appends that arrive while a flush is under way are grouped into the
//!   next batch and flush (group commit);
//! - an entry already in the log (same leaf hash) is not appended again:
//!   its existing index is returned;
//! - when more appends are queued than the log accepts, the caller gets
//!   [`LogError::Overloaded`] at once (push back, never an unbounded wait).
//!
//! Keys: `l/<index>` entry bytes, `d/<leaf hash>` index, `n/<level><index>`
//! perfect-subtree hash, `m/size` the committed size.

use generec_provenance::entry::MAX_ENTRY_BYTES;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::merkle::{self, Hash, Nodes};

/// Most appends that may wait for the committer.
pub const MAX_QUEUED: usize = 4096;

/// Why an append or a read failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("the log is overloaded; retry later")]
    Overloaded,
    #[error("log storage: {0}")]
    Storage(String),
    #[error("{0}")]
    Proof(String),
    #[error("a log entry of {bytes} bytes is larger than the limit of {limit}")]
    TooLarge { bytes: usize, limit: usize },
}

impl From<sled::Error> for LogError {
    fn from(e: sled::Error) -> Self {
        LogError::Storage(e.to_string())
    }
}

struct Job {
    entries: Vec<Vec<u8>>,
    ack: SyncSender<Result<Vec<u64>, LogError>>,
}

/// The committed state other readers see.
#[derive(Clone, Copy, Debug, Default)]
struct Committed {
    size: u64,
    root: Hash,
}

/// The log: see the module docs.
pub struct Log {
    tree: sled::Tree,
    jobs: Option<SyncSender<Job>>,
    committed: Arc<Mutex<Committed>>,
    committer: Option<JoinHandle<()>>,
}

fn node_key(level: u32, index: u64) -> Vec<u8> {
    let mut k = b"n/".to_vec();
    k.push(level as u8);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

fn leaf_key(index: u64) -> Vec<u8> {
    let mut k = b"l/".to_vec();
    k.extend_from_slice(&index.to_be_bytes());
    k
}

fn dedup_key(leaf: &Hash) -> Vec<u8> {
    let mut k = b"d/".to_vec();
    k.extend_from_slice(leaf);
    k
}

struct TreeNodes<'a>(&'a sled::Tree);

impl Nodes for TreeNodes<'_> {
    type Error = LogError;
    fn node(&self, level: u32, index: u64) -> Result<Hash, LogError> {
        let v = self
            .0
            .get(node_key(level, index))?
            .ok_or_else(|| LogError::Storage(format!("missing node {level}/{index}")))?;
        v.as_ref()
            .try_into()
            .map_err(|_| LogError::Storage("corrupt node".into()))
    }
}

impl Log {
    /// Opens the log in a sled tree of `db`, starting its committer.
    pub fn open(db: &sled::Db) -> Result<Log, LogError> {
        let tree = db.open_tree("tlog")?;
        let size = match tree.get("m/size")? {
            Some(v) => u64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| LogError::Storage("corrupt size".into()))?,
            ),
            None => 0,
        };
        // The right edge of the tree: the pending left node of each level.
        let mut frontier: Vec<Option<Hash>> = Vec::new();
        let nodes = TreeNodes(&tree);
        for level in 0..64u32 {
            if size >> level == 0 {
                break;
            }
            frontier.push(if (size >> level) & 1 == 1 {
                Some(nodes.node(level, (size >> level) - 1)?)
            } else {
                None
            });
        }
        let root = merkle::root(&nodes, size)?;
        let committed = Arc::new(Mutex::new(Committed { size, root }));
        let (tx, rx) = mpsc::sync_channel::<Job>(MAX_QUEUED);
        let state = Appender {
            db: db.clone(),
            tree: tree.clone(),
            size,
            frontier,
            committed: committed.clone(),
        };
        let committer = std::thread::Builder::new()
            .name("tlog-committer".into())
            .spawn(move || state.run(rx))
            .map_err(|e| LogError::Storage(e.to_string()))?;
        Ok(Log {
            tree,
            jobs: Some(tx),
            committed,
            committer: Some(committer),
        })
    }

    /// Appends entries; returns each one's index once all are durable.
    /// An entry larger than [`MAX_ENTRY_BYTES`] is refused and nothing of
    /// the batch is appended.
    pub fn append(&self, entries: Vec<Vec<u8>>) -> Result<Vec<u64>, LogError> {
        if let Some(big) = entries.iter().find(|e| e.len() > MAX_ENTRY_BYTES) {
            return Err(LogError::TooLarge {
                bytes: big.len(),
                limit: MAX_ENTRY_BYTES,
            });
        }
        self.send(entries)
    }

    /// Appends with no size check, as a log written before the limit
    /// existed could hold (tests of how such a log is read).
    #[cfg(test)]
    pub(crate) fn append_unchecked(&self, entries: Vec<Vec<u8>>) -> Result<Vec<u64>, LogError> {
        self.send(entries)
    }

    fn send(&self, entries: Vec<Vec<u8>>) -> Result<Vec<u64>, LogError> {
        let started = std::time::Instant::now();
        let (ack, done) = mpsc::sync_channel(1);
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| LogError::Storage("log closed".into()))?;
        match jobs.try_send(Job { entries, ack }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(LogError::Overloaded),
            Err(TrySendError::Disconnected(_)) => {
                return Err(LogError::Storage("log closed".into()));
            }
        }
        let appended = done
            .recv()
            .map_err(|_| LogError::Storage("log committer stopped".into()))?;
        metrics::histogram!("generec_trust_log_append_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::gauge!("generec_trust_log_entries").set(self.head().0 as f64);
        appended
    }

    /// The committed size and tree head.
    pub fn head(&self) -> (u64, Hash) {
        let c = self.committed.lock().map(|c| *c).unwrap_or_default();
        (c.size, c.root)
    }

    /// The entry at `index`.
    pub fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, LogError> {
        Ok(self.tree.get(leaf_key(index))?.map(|v| v.to_vec()))
    }

    /// The index of an entry with these bytes, if logged.
    pub fn find(&self, entry: &[u8]) -> Result<Option<u64>, LogError> {
        Ok(self
            .tree
            .get(dedup_key(&merkle::leaf_hash(entry)))?
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes)))
    }

    fn check_size(&self, size: u64) -> Result<(), LogError> {
        let (committed, _) = self.head();
        if size > committed {
            return Err(LogError::Proof(format!(
                "tree size {size} is larger than the log ({committed})"
            )));
        }
        Ok(())
    }

    /// The tree head of the first `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        self.check_size(size)?;
        merkle::root(&TreeNodes(&self.tree), size)
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        self.check_size(size)?;
        merkle::inclusion_proof(&TreeNodes(&self.tree), index, size)
            .map_err(|e| LogError::Proof(e.to_string()))
    }

    /// The consistency proof between trees of `old` and `new` entries.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, LogError> {
        self.check_size(new)?;
        merkle::consistency_proof(&TreeNodes(&self.tree), old, new)
            .map_err(|e| LogError::Proof(e.to_string()))
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.committer.take() {
            let _ = t.join();
        }
    }
}

/// The committer's state: the only writer of the log.
struct Appender {
    db: sled::Db,
    tree: sled::Tree,
    size: u64,
    frontier: Vec<Option<Hash>>,
    committed: Arc<Mutex<Committed>>,
}

impl Appender {
    fn run(mut self, jobs: Receiver<Job>) {
        while let Ok(first) = jobs.recv() {
            let mut batch = vec![first];
            while let Ok(more) = jobs.try_recv() {
                batch.push(more);
            }
            let (size, frontier) = (self.size, self.frontier.clone());
            match self.commit(&batch) {
                Ok(indices) => {
                    for (job, idx) in batch.into_iter().zip(indices) {
                        let _ = job.ack.send(Ok(idx));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "log append failed");
                    self.size = size;
                    self.frontier = frontier;
                    for job in batch {
                        let _ = job.ack.send(Err(e.clone()));
                    }
                }
            }
        }
    }

    fn commit(&mut self, jobs: &[Job]) -> Result<Vec<Vec<u64>>, LogError> {
        let mut writes = sled::Batch::default();
        let mut fresh: std::collections::HashMap<Hash, u64> = std::collections::HashMap::new();
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            let mut indices = Vec::with_capacity(job.entries.len());
            for entry in &job.entries {
                let leaf = merkle::leaf_hash(entry);
                if let Some(&i) = fresh.get(&leaf) {
                    indices.push(i);
                    continue;
                }
                if let Some(v) = self.tree.get(dedup_key(&leaf))? {
                    indices.push(u64::from_be_bytes(
                        v.as_ref()
                            .try_into()
                            .map_err(|_| LogError::Storage("corrupt index".into()))?,
                    ));
                    continue;
                }
                let index = self.size;
                writes.insert(leaf_key(index), entry.as_slice());
                writes.insert(dedup_key(&leaf), &index.to_be_bytes());
                self.push_leaf(index, leaf, &mut writes);
                self.size += 1;
                fresh.insert(leaf, index);
                indices.push(index);
            }
            out.push(indices);
        }
        writes.insert("m/size", &self.size.to_be_bytes());
        self.tree.apply_batch(writes)?;
        self.db.flush()?;
        let root = merkle::root(&TreeNodes(&self.tree), self.size)?;
        if let Ok(mut c) = self.committed.lock() {
            *c = Committed {
                size: self.size,
                root,
            };
        }
        Ok(out)
    }

    fn push_leaf(&mut self, index: u64, leaf: Hash, writes: &mut sled::Batch) {
        let mut hash = leaf;
        let mut level = 0u32;
        let mut i = index;
        loop {
            writes.insert(node_key(level, i), &hash);
            if self.frontier.len() <= level as usize {
                self.frontier.push(None);
            }
            if i & 1 == 0 {
                self.frontier[level as usize] = Some(hash);
                return;
            }
            let left = self.frontier[level as usize].take().unwrap_or(hash);
            hash = merkle::node_hash(&left, &hash);
            level += 1;
            i >>= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    /// Opens a sled database again once the previous handle's background
    /// thread has let go of its file lock (it may still hold it for a
    /// moment after the drop on a loaded machine).
    fn reopen(path: &std::path::Path) -> sled::Db {
        let mut last = None;
        for _ in 0..50 {
            match sled::open(path) {
                Ok(db) => return db,
                Err(e) => last = Some(e),
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("cannot reopen {}: {last:?}", path.display());
    }

    use super::*;

    #[test]
    fn appended_entries_are_provable_against_the_head_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let head;
        {
            let db = sled::open(dir.path()).unwrap();
            let log = Log::open(&db).unwrap();
            for i in 0..37u32 {
                assert_eq!(
                    log.append(vec![format!("entry {i}").into_bytes()]).unwrap(),
                    vec![i as u64]
                );
            }
            head = log.head();
            assert_eq!(head.0, 37);
            let mut reference = merkle::MemoryTree::default();
            for i in 0..37u32 {
                reference.push(merkle::leaf_hash(format!("entry {i}").as_bytes()));
            }
            assert_eq!(head.1, merkle::root(&reference, 37).unwrap());
        }
        let db = reopen(dir.path());
        let log = Log::open(&db).unwrap();
        assert_eq!(log.head(), head);
        for i in 0..37 {
            let proof = log.inclusion_proof(i, 37).unwrap();
            let leaf = merkle::leaf_hash(&log.entry(i).unwrap().unwrap());
            assert!(merkle::verify_inclusion(&leaf, i, 37, &proof, &head.1));
        }
        // Appending after a reopen continues the same tree.
        log.append(vec![b"after".to_vec()]).unwrap();
        let (size, root) = log.head();
        let proof = log.consistency_proof(37, size).unwrap();
        assert!(merkle::verify_consistency(37, size, &head.1, &root, &proof));
        assert!(log.inclusion_proof(0, size + 1).is_err());
    }

    #[test]
    fn duplicates_get_the_existing_index() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let log = Log::open(&db).unwrap();
        let first = log
            .append(vec![b"a".to_vec(), b"b".to_vec(), b"a".to_vec()])
            .unwrap();
        assert_eq!(first, vec![0, 1, 0]);
        assert_eq!(log.append(vec![b"b".to_vec()]).unwrap(), vec![1]);
        assert_eq!(log.head().0, 2);
        assert_eq!(log.find(b"b").unwrap(), Some(1));
    }

    #[test]
    fn concurrent_appends_all_land_with_distinct_indices() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let log = Arc::new(Log::open(&db).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    (0..50)
                        .map(|i| log.append(vec![format!("{t}-{i}").into_bytes()]).unwrap()[0])
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<u64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        all.sort();
        assert_eq!(all, (0..400).collect::<Vec<_>>());
        let (size, root) = log.head();
        assert_eq!(size, 400);
        assert_eq!(log.root_at(400).unwrap(), root);
    }
}
