//! Compliance queries over the transparency log: an index beside the log
//! (not part of what the log proves) by item, creator, user, claimant,
//! verdict, rule, entry type and time, kept up to date after every append
//! and rebuilt from the log when lost or behind.
//!
//! Keys of the `query_index` tree: `<field>\0<value>\0<index BE>` for each
//! field an entry has, `time\0<ms BE><index BE>`, and `m/indexed` the number
//! of log entries indexed.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{TrustError, internal};
use crate::tlog::Log;

/// What a compliance query asks for. Empty fields match everything.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Query {
    pub item_id: String,
    pub creator: String,
    pub user_id: String,
    pub claimant: String,
    pub verdict: String,
    pub rule_id: String,
    /// Entry type: policy_decision, authorship, key_rotation, copyright_claim, compliance_query.
    pub entry_type: String,
    /// Inclusive lower bound, Unix ms; 0 for none.
    pub from_unix_ms: i64,
    /// Exclusive upper bound, Unix ms; 0 for none.
    pub until_unix_ms: i64,
}

/// One page of results.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// (log index, entry JSON), oldest first.
    pub entries: Vec<(u64, String)>,
    /// Pass as `after` to get the next page; `None` when done.
    pub next: Option<u64>,
}

/// The index; see the module docs.
pub struct QueryIndex {
    tree: sled::Tree,
    lock: Mutex<()>,
}

/// Most entries in one page.
pub const MAX_PAGE: usize = 1000;
/// Most bytes of entries in one page: a page always fits in a reply.
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;
/// Longest value of a query field, in bytes.
pub const MAX_FIELD_BYTES: usize = generec_provenance::ids::MAX_ID_BYTES;

impl Query {
    /// Checks every field: ids as the corpus checks them, at most
    /// [`MAX_FIELD_BYTES`] bytes each, and a sane time range; the error
    /// names the field.
    pub fn validate(&self) -> Result<(), TrustError> {
        for (field, value) in [
            ("item_id", &self.item_id),
            ("creator", &self.creator),
            ("user_id", &self.user_id),
            ("claimant", &self.claimant),
            ("verdict", &self.verdict),
            ("rule_id", &self.rule_id),
            ("entry_type", &self.entry_type),
        ] {
            if !value.is_empty() {
                generec_provenance::ids::check_id(value)
                    .map_err(|e| TrustError::invalid(field, e))?;
            }
        }
        if self.from_unix_ms < 0
            || self.until_unix_ms < 0
            || (self.until_unix_ms != 0 && self.from_unix_ms >= self.until_unix_ms)
        {
            return Err(TrustError::invalid("time range", "needs 0 <= from < until"));
        }
        Ok(())
    }
}

/// What a page shows of an entry: its text, or for an entry larger than a
/// log entry may be (written before the limit existed) a summary with its
/// size and leaf hash, so the query still answers and the entry stays
/// provable.
pub fn shown_entry(bytes: &[u8]) -> String {
    if bytes.len() <= generec_provenance::entry::MAX_ENTRY_BYTES {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let kind = serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_default();
    serde_json::json!({
        "type": "oversized",
        "entry_type": kind,
        "bytes": bytes.len(),
        "leaf_hash": hex::encode(generec_provenance::merkle::leaf_hash(bytes)),
    })
    .to_string()
}

fn key(field: &str, value: &str, index: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(field.len() + value.len() + 10);
    k.extend_from_slice(field.as_bytes());
    k.push(0);
    k.extend_from_slice(value.as_bytes());
    k.push(0);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

fn prefix(field: &str, value: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(field.len() + value.len() + 2);
    k.extend_from_slice(field.as_bytes());
    k.push(0);
    k.extend_from_slice(value.as_bytes());
    k.push(0);
    k
}

/// The (field, value) pairs an entry is indexed under.
fn terms(entry: &serde_json::Value) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let s = |name: &str| entry.get(name).and_then(|v| v.as_str()).map(str::to_string);
    if let Some(t) = s("type") {
        out.push(("type", t));
    }
    for (field, name) in [
        ("item", "item_id"),
        ("creator", "creator"),
        ("user", "user_id"),
        ("claimant", "claimant"),
        ("verdict", "verdict"),
    ] {
        if let Some(v) = s(name).filter(|v| !v.is_empty()) {
            out.push((field, v));
        }
    }
    if let Some(rules) = entry.get("rule_ids").and_then(|v| v.as_array()) {
        for r in rules.iter().filter_map(|r| r.as_str()) {
            out.push(("rule", r.to_string()));
        }
    }
    // The authorship entry of a manifest: what Provenance::authorship_index
    // finds, so certification needs no index of its own (and no flush).
    if s("type").as_deref() == Some("authorship")
        && let Some(m) = s("manifest_id").filter(|m| !m.is_empty())
    {
        out.push((AUTHORED, m));
    }
    out
}

/// The index field of a manifest's authorship entry.
const AUTHORED: &str = "authored";

fn matches(q: &Query, entry: &serde_json::Value) -> bool {
    let s = |name: &str| entry.get(name).and_then(|v| v.as_str()).unwrap_or_default();
    let eq = |want: &str, name: &str| want.is_empty() || s(name) == want;
    let when = entry
        .get("when_unix_ms")
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    eq(&q.item_id, "item_id")
        && eq(&q.creator, "creator")
        && eq(&q.user_id, "user_id")
        && eq(&q.claimant, "claimant")
        && eq(&q.verdict, "verdict")
        && eq(&q.entry_type, "type")
        && (q.rule_id.is_empty()
            || entry
                .get("rule_ids")
                .and_then(|v| v.as_array())
                .is_some_and(|rs| rs.iter().any(|r| r.as_str() == Some(q.rule_id.as_str()))))
        && (q.from_unix_ms == 0 || when >= q.from_unix_ms)
        && (q.until_unix_ms == 0 || when < q.until_unix_ms)
}

impl QueryIndex {
    /// Opens the index in `db` and catches it up with `log`.
    pub fn open(db: &sled::Db, log: &Log) -> Result<QueryIndex, TrustError> {
        let index = QueryIndex {
            tree: db.open_tree("query_index")?,
            lock: Mutex::new(()),
        };
        index.catch_up(log)?;
        Ok(index)
    }

    fn indexed(&self) -> Result<u64, TrustError> {
        Ok(match self.tree.get("m/indexed")? {
            Some(v) => u64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| internal("corrupt index watermark"))?,
            ),
            None => 0,
        })
    }

    /// The log index of a manifest's authorship entry, once indexed.
    pub fn authored(&self, manifest_id: &str) -> Result<Option<u64>, TrustError> {
        let start = prefix(AUTHORED, manifest_id);
        match self.tree.scan_prefix(&start).keys().next() {
            Some(k) => {
                let k = k?;
                let index = k[start.len()..]
                    .try_into()
                    .map(u64::from_be_bytes)
                    .map_err(|_| internal("a malformed authorship key in the query index"))?;
                Ok(Some(index))
            }
            None => Ok(None),
        }
    }

    /// Indexes every log entry not indexed yet.
    pub fn catch_up(&self, log: &Log) -> Result<u64, TrustError> {
        let _guard = self.lock.lock().map_err(|_| internal("lock poisoned"))?;
        let (size, _) = log.head();
        let mut next = self.indexed()?;
        while next < size {
            let mut batch = sled::Batch::default();
            let end = (next + 10_000).min(size);
            for i in next..end {
                let Some(bytes) = log.entry(i)? else { continue };
                let Ok(entry) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
                    continue;
                };
                for (field, value) in terms(&entry) {
                    batch.insert(key(field, &value, i), &[]);
                }
                let when = entry
                    .get("when_unix_ms")
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0)
                    .max(0) as u64;
                let mut tk = b"time\0".to_vec();
                tk.extend_from_slice(&when.to_be_bytes());
                tk.extend_from_slice(&i.to_be_bytes());
                batch.insert(tk, &[]);
            }
            batch.insert("m/indexed", &end.to_be_bytes());
            self.tree.apply_batch(batch)?;
            next = end;
        }
        Ok(next)
    }

    /// Runs a query: entries after log index `after` (exclusive; `None` from
    /// the start), at most `limit`, oldest first.
    pub fn query(
        &self,
        log: &Log,
        q: &Query,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page, TrustError> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(TrustError::invalid(
                "page_size",
                format!("must be 1 to {MAX_PAGE}"),
            ));
        }
        q.validate()?;
        self.catch_up(log)?;
        // The most selective single field gives the candidate indices.
        let fields = [
            ("item", &q.item_id),
            ("claimant", &q.claimant),
            ("creator", &q.creator),
            ("user", &q.user_id),
            ("rule", &q.rule_id),
            ("verdict", &q.verdict),
            ("type", &q.entry_type),
        ];
        let start = after.map_or(0, |a| a + 1);
        let candidates: Box<dyn Iterator<Item = Result<u64, TrustError>>> =
            match fields.iter().find(|(_, v)| !v.is_empty()) {
                Some((field, value)) => {
                    let p = prefix(field, value);
                    let from = key(field, value, start);
                    let iter = self
                        .tree
                        .range(from..)
                        .take_while(move |r| r.as_ref().map_or(true, |(k, _)| k.starts_with(&p)));
                    Box::new(iter.map(|r| {
                        let (k, _) = r?;
                        let tail: [u8; 8] = k[k.len() - 8..]
                            .try_into()
                            .map_err(|_| internal("corrupt index key"))?;
                        Ok(u64::from_be_bytes(tail))
                    }))
                }
                None => Box::new((start..log.head().0).map(Ok)),
            };
        let mut entries = Vec::new();
        let mut bytes_in_page = 0usize;
        let mut last = None;
        for candidate in candidates {
            let i = candidate?;
            let Some(bytes) = log.entry(i)? else { continue };
            let entry: serde_json::Value = serde_json::from_slice(&bytes).map_err(internal)?;
            if matches(q, &entry) {
                let shown = shown_entry(&bytes);
                if entries.len() == limit
                    || (!entries.is_empty() && bytes_in_page + shown.len() > MAX_PAGE_BYTES)
                {
                    return Ok(Page {
                        entries,
                        next: last,
                    });
                }
                bytes_in_page += shown.len();
                entries.push((i, shown));
                last = Some(i);
            }
        }
        Ok(Page {
            entries,
            next: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, user: &str, verdict: &str, rules: &[&str], when: i64) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "type": kind, "user_id": user, "verdict": verdict, "rule_ids": rules,
            "content_sha256": format!("{user}{when}"), "when_unix_ms": when
        }))
        .unwrap()
    }

    #[test]
    fn queries_filter_page_and_survive_a_lost_index() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let log = Log::open(&db).unwrap();
        let mut entries = Vec::new();
        for i in 0..30i64 {
            let verdict = if i % 3 == 0 { "block" } else { "allow" };
            let rules: &[&str] = if i % 3 == 0 {
                &["safety.hate.lexicon"]
            } else {
                &[]
            };
            entries.push(entry(
                "policy_decision",
                &format!("u{}", i % 2),
                verdict,
                rules,
                1000 + i,
            ));
        }
        log.append(entries).unwrap();
        let index = QueryIndex::open(&db, &log).unwrap();
        let q = Query {
            verdict: "block".into(),
            ..Query::default()
        };
        let page = index.query(&log, &q, None, 4).unwrap();
        assert_eq!(
            page.entries.iter().map(|e| e.0).collect::<Vec<_>>(),
            vec![0, 3, 6, 9]
        );
        let page2 = index.query(&log, &q, page.next, 100).unwrap();
        assert_eq!(page2.entries.len(), 6);
        assert_eq!(page2.next, None);
        let both = Query {
            user_id: "u1".into(),
            rule_id: "safety.hate.lexicon".into(),
            ..Query::default()
        };
        assert_eq!(
            index
                .query(&log, &both, None, 100)
                .unwrap()
                .entries
                .iter()
                .map(|e| e.0)
                .collect::<Vec<_>>(),
            vec![3, 9, 15, 21, 27]
        );
        let window = Query {
            from_unix_ms: 1010,
            until_unix_ms: 1013,
            ..Query::default()
        };
        assert_eq!(
            index.query(&log, &window, None, 100).unwrap().entries.len(),
            3
        );
        assert!(
            index
                .query(
                    &log,
                    &Query {
                        from_unix_ms: 5,
                        until_unix_ms: 5,
                        ..Query::default()
                    },
                    None,
                    10
                )
                .is_err()
        );
        assert!(index.query(&log, &q, None, 0).is_err());

        // Lose the index: it is rebuilt from the log.
        drop(index);
        db.drop_tree("query_index").unwrap();
        let index = QueryIndex::open(&db, &log).unwrap();
        assert_eq!(index.query(&log, &q, None, 100).unwrap().entries.len(), 10);
    }

    #[test]
    fn an_oversized_entry_from_an_older_log_is_summarised_and_pages_stay_bounded() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let log = Log::open(&db).unwrap();
        let index = QueryIndex::open(&db, &log).unwrap();
        let big = serde_json::to_vec(&serde_json::json!({
            "type": "authorship", "item_id": "gen-big", "creator": "c",
            "parents": vec!["p"; 2_000_000], "when_unix_ms": 1
        }))
        .unwrap();
        assert!(big.len() > 4 * 1024 * 1024);
        assert!(log.append(vec![big.clone()]).is_err(), "refused at append");
        log.append_unchecked(vec![big.clone()]).unwrap();
        // Large entries (about 50 KB each, under the limit): a page of 1000
        // of them would be 50 MB, so pages are cut by bytes.
        let pad = "u".repeat(25_000);
        for i in 0..100 {
            log.append(vec![entry(
                "authorship",
                &format!("{i}{pad}"),
                "allow",
                &[],
                i,
            )])
            .unwrap();
        }
        let q = Query {
            entry_type: "authorship".into(),
            ..Query::default()
        };
        let mut after = None;
        let mut seen = 0;
        let mut pages = 0;
        loop {
            let page = index.query(&log, &q, after, MAX_PAGE).unwrap();
            pages += 1;
            let bytes: usize = page.entries.iter().map(|(_, e)| e.len()).sum();
            assert!(bytes <= MAX_PAGE_BYTES, "a page of {bytes} bytes");
            if seen == 0 {
                let first: serde_json::Value = serde_json::from_str(&page.entries[0].1).unwrap();
                assert_eq!(first["type"], "oversized");
                assert_eq!(first["entry_type"], "authorship");
                assert_eq!(first["bytes"], big.len());
            }
            seen += page.entries.len();
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, 101, "every entry is answered, none dropped");
        assert!(pages > 2, "{pages} pages");
    }
}
