//! The full-text index of the corpus, in tantivy.
//!
//! One writer thread owns the `IndexWriter`. Writers send batches of
//! operations in change-log order; the thread drains everything queued,
//! applies it, commits once (group commit) with the highest applied change
//! sequence number as the commit payload, reloads the reader and then
//! acknowledges every batch it took. On start the payload tells the corpus
//! from where to replay the change log, so the index catches up with the
//! store after a crash.

use std::ops::Bound;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, Occur, Query, QueryParser, QueryParserError, RangeQuery, TermQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TEXT, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::error::CorpusError;
use crate::filter::Filters;
use crate::model::{Item, ItemId};

/// The fields of the index.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    pub id: Field,
    pub kind: Field,
    pub origin: Field,
    pub tags: Field,
    pub licence: Field,
    pub created: Field,
    pub title: Field,
    pub body: Field,
    pub segments: Field,
}

/// The index schema, also used by benchmarks for a raw tantivy baseline.
pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        kind: b.add_text_field("kind", STRING),
        origin: b.add_text_field("origin", STRING),
        tags: b.add_text_field("tags", STRING),
        licence: b.add_text_field("licence", STRING),
        created: b.add_i64_field("created", INDEXED | FAST),
        title: b.add_text_field("title", TEXT | STORED),
        body: b.add_text_field("body", TEXT | STORED),
        segments: b.add_text_field("segments", TEXT),
    };
    (b.build(), fields)
}

/// The tantivy document of an item.
pub fn document(fields: &Fields, item: &Item) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_text(fields.id, item.id.as_str());
    doc.add_text(fields.kind, item.kind.as_str());
    doc.add_text(fields.origin, item.origin.as_str());
    for tag in &item.tags {
        doc.add_text(fields.tags, tag.to_lowercase());
    }
    doc.add_text(fields.licence, &item.licence);
    doc.add_i64(fields.created, item.created_unix_ms);
    doc.add_text(fields.title, &item.title);
    doc.add_text(fields.body, &item.body);
    let segments = item.segment_text();
    if !segments.is_empty() {
        doc.add_text(fields.segments, segments);
    }
    doc
}

/// A change to apply to the index.
pub enum IndexOp {
    Upsert(Box<Item>),
    Delete(ItemId),
}

struct Job {
    ops: Vec<IndexOp>,
    seq: u64,
    ack: mpsc::SyncSender<Result<(), String>>,
}

/// What a search asks for.
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    /// tantivy query syntax; empty matches every item.
    pub query: String,
    pub filters: Filters,
    pub limit: usize,
    pub offset: usize,
    pub snippets: bool,
}

/// Most results (offset plus limit) of a search cheap enough to run on
/// the calling task (see [`SearchQuery::is_small`]).
pub const SMALL_SEARCH_RESULTS: usize = 100;
/// Longest query of a small search, in bytes.
pub const SMALL_SEARCH_QUERY_BYTES: usize = 128;

impl SearchQuery {
    /// Whether the search is small: a short query with no phrase, at most
    /// [`SMALL_SEARCH_RESULTS`] results and no snippets. A small search
    /// over the index takes microseconds (`generec bench search`), less
    /// than the hand-off to a blocking thread would, so the gRPC skin runs
    /// it where the request arrived; any other goes to the blocking pool.
    pub fn is_small(&self) -> bool {
        !self.snippets
            && self.offset.saturating_add(self.limit) <= SMALL_SEARCH_RESULTS
            && self.query.len() <= SMALL_SEARCH_QUERY_BYTES
            && !self.query.contains('"')
    }
}

/// One search result.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub id: ItemId,
    pub score: f32,
    pub title: String,
    pub snippet: String,
    /// Filled in from the catalogue by the corpus.
    pub kind: Option<crate::model::ItemKind>,
    pub origin: Option<crate::model::Origin>,
}

/// The text index and its writer thread.
pub struct TextIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    parser: QueryParser,
    jobs: Option<mpsc::Sender<Job>>,
    writer_thread: Option<JoinHandle<()>>,
}

impl TextIndex {
    /// Opens or creates the index in `dir`. Returns it with the change
    /// sequence number its last commit applied (0 for a new index).
    pub fn open(dir: &Path) -> Result<(Self, u64), CorpusError> {
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| CorpusError::Internal(format!("cannot open index directory: {e}")))?;
        let index = Index::open_or_create(directory, schema)?;
        let applied = index
            .load_metas()?
            .payload
            .and_then(|p| p.parse::<u64>().ok())
            .unwrap_or(0);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let writer = open_writer(&index)?;
        let mut parser =
            QueryParser::for_index(&index, vec![fields.title, fields.body, fields.segments]);
        parser.set_field_boost(fields.title, 2.0);
        let (tx, rx) = mpsc::channel::<Job>();
        let thread_reader = reader.clone();
        let writer_thread = std::thread::Builder::new()
            .name("corpus-indexer".into())
            .spawn({
                let index = index.clone();
                move || run_writer(&index, writer, fields, thread_reader, rx)
            })?;
        Ok((
            TextIndex {
                index,
                reader,
                fields,
                parser,
                jobs: Some(tx),
                writer_thread: Some(writer_thread),
            },
            applied,
        ))
    }

    /// The fields of the index.
    pub fn fields(&self) -> Fields {
        self.fields
    }

    /// The underlying tantivy index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Queues operations tagged with the change sequence number `seq`
    /// (sequence numbers must arrive in increasing order) and waits until
    /// they are committed and searchable.
    pub fn apply(&self, ops: Vec<IndexOp>, seq: u64) -> Result<(), CorpusError> {
        let (ack, done) = mpsc::sync_channel(1);
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| CorpusError::Internal("index writer stopped".into()))?;
        jobs.send(Job { ops, seq, ack })
            .map_err(|_| CorpusError::Internal("index writer stopped".into()))?;
        match done.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(CorpusError::Internal(format!("index commit failed: {e}"))),
            Err(_) => Err(CorpusError::Internal("index writer stopped".into())),
        }
    }

    /// How many documents are searchable.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Parses a query in tantivy syntax, naming the field on error.
    pub fn parse(&self, query: &str) -> Result<Box<dyn Query>, CorpusError> {
        if query.trim().is_empty() {
            return Ok(Box::new(AllQuery));
        }
        let refuse = |e: &dyn std::fmt::Display| {
            CorpusError::invalid("query", format!("cannot parse {query:?}: {e}"))
        };
        let ast = tantivy::query_grammar::parse_query(query)
            .map_err(|_| refuse(&QueryParserError::SyntaxError(query.to_string())))?;
        if crate::exclusion::excludes(&ast) {
            crate::exclusion::build(&self.parser, ast).map_err(|e| refuse(&e))
        } else {
            self.parser.parse_query(query).map_err(|e| refuse(&e))
        }
    }

    fn filter_clauses(&self, filters: &Filters) -> Vec<(Occur, Box<dyn Query>)> {
        fn any_of(field: Field, values: impl Iterator<Item = String>) -> Box<dyn Query> {
            let terms: Vec<(Occur, Box<dyn Query>)> = values
                .map(|v| {
                    let q: Box<dyn Query> = Box::new(TermQuery::new(
                        Term::from_field_text(field, &v),
                        IndexRecordOption::Basic,
                    ));
                    (Occur::Should, q)
                })
                .collect();
            Box::new(BooleanQuery::new(terms))
        }
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if !filters.kinds.is_empty() {
            let values = filters.kinds.iter().map(|k| k.as_str().to_string());
            clauses.push((Occur::Must, any_of(f.kind, values)));
        }
        if !filters.origins.is_empty() {
            let values = filters.origins.iter().map(|o| o.as_str().to_string());
            clauses.push((Occur::Must, any_of(f.origin, values)));
        }
        if !filters.tags.is_empty() {
            clauses.push((Occur::Must, any_of(f.tags, filters.tags.iter().cloned())));
        }
        if !filters.licences.is_empty() {
            clauses.push((
                Occur::Must,
                any_of(f.licence, filters.licences.iter().cloned()),
            ));
        }
        if filters.created_from.is_some() || filters.created_until.is_some() {
            let lower = filters.created_from.map_or(Bound::Unbounded, |t| {
                Bound::Included(Term::from_field_i64(f.created, t))
            });
            let upper = filters.created_until.map_or(Bound::Unbounded, |t| {
                Bound::Excluded(Term::from_field_i64(f.created, t))
            });
            clauses.push((Occur::Must, Box::new(RangeQuery::new(lower, upper))));
        }
        clauses
    }

    /// Runs a search. `is_live` drops hits whose item was taken down after
    /// the last commit. Returns the page of hits and the total match count.
    pub fn search(
        &self,
        request: &SearchQuery,
        is_live: impl Fn(&ItemId) -> bool,
    ) -> Result<(Vec<Hit>, u64), CorpusError> {
        let text_query = self.parse(&request.query)?;
        let filters = self.filter_clauses(&request.filters);
        let query: Box<dyn Query> = if filters.is_empty() {
            text_query.box_clone()
        } else {
            let mut clauses = vec![(Occur::Must, text_query.box_clone())];
            clauses.extend(filters);
            Box::new(BooleanQuery::new(clauses))
        };
        let searcher = self.reader.searcher();
        let top = TopDocs::with_limit(request.limit.max(1))
            .and_offset(request.offset)
            .order_by_score();
        let (docs, total) = searcher
            .search(&query, &(top, Count))
            .map_err(|e| query_error(&request.query, e))?;
        let snippets = if request.snippets {
            let mut generator = SnippetGenerator::create(&searcher, &*text_query, self.fields.body)
                .map_err(|e| query_error(&request.query, e))?;
            generator.set_max_num_chars(200);
            Some(generator)
        } else {
            None
        };
        let mut hits = Vec::with_capacity(docs.len());
        for (score, address) in docs.into_iter().take(request.limit) {
            let doc: TantivyDocument = searcher.doc(address)?;
            let Some(id) = doc.get_first(self.fields.id).and_then(|v| v.as_str()) else {
                continue;
            };
            let id = ItemId::parse(id)?;
            if !is_live(&id) {
                continue;
            }
            let title = doc
                .get_first(self.fields.title)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let snippet = snippets
                .as_ref()
                .map(|g| g.snippet_from_doc(&doc).to_html())
                .unwrap_or_default();
            hits.push(Hit {
                id,
                score,
                title,
                snippet,
                kind: None,
                origin: None,
            });
        }
        Ok((hits, total as u64))
    }
}

impl Drop for TextIndex {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.writer_thread.take() {
            let _ = thread.join();
        }
    }
}

/// A query the parser accepted can still ask for what the schema cannot do
/// (a field that does not exist, `title:*` on a field that is not fast):
/// that is the caller's error, not ours.
fn query_error(query: &str, e: tantivy::TantivyError) -> CorpusError {
    match e {
        tantivy::TantivyError::FieldNotFound(field) => CorpusError::invalid(
            "query",
            format!("{query:?} names a field that does not exist: {field}"),
        ),
        tantivy::TantivyError::SchemaError(m) | tantivy::TantivyError::InvalidArgument(m) => {
            CorpusError::invalid("query", format!("{query:?} cannot run on this index: {m}"))
        }
        other => CorpusError::Index(other),
    }
}

/// The writer the indexer thread owns: one indexing thread, 64 MiB.
fn open_writer(index: &Index) -> tantivy::Result<IndexWriter> {
    index.writer_with_num_threads(1, 64 * 1024 * 1024)
}

fn run_writer(
    index: &Index,
    writer: IndexWriter,
    fields: Fields,
    reader: IndexReader,
    jobs: mpsc::Receiver<Job>,
) {
    let mut writer = Some(writer);
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while let Ok(more) = jobs.try_recv() {
            batch.push(more);
        }
        if writer.is_none() {
            writer = reopen(index);
        }
        let result = match writer.as_mut() {
            Some(w) => apply_batch(w, &fields, &reader, &mut batch),
            None => Err("the index writer could not be reopened; the store holds the items and the index catches up from the change log on restart".into()),
        };
        if let Err(e) = &result {
            tracing::error!(error = %e, "index commit failed; rolling back");
            writer = writer.and_then(|w| recover(index, w));
        }
        for job in batch {
            let _ = job.ack.send(result.clone());
        }
    }
}

/// After a failed commit: roll back to the last commit. A rollback that
/// fails has already given up tantivy's directory lock (a second rollback
/// of the same writer would panic), so that writer is dropped and a new
/// one opened from the index; `None` when that fails too, and the next
/// batch tries again.
fn recover(index: &Index, mut writer: IndexWriter) -> Option<IndexWriter> {
    match writer.rollback() {
        Ok(_) => Some(writer),
        Err(e) => {
            tracing::error!(error = %e, "index rollback failed; reopening the writer");
            drop(writer);
            reopen(index)
        }
    }
}

fn reopen(index: &Index) -> Option<IndexWriter> {
    open_writer(index)
        .map_err(|e| tracing::error!(error = %e, "cannot reopen the index writer"))
        .ok()
}

fn apply_batch(
    writer: &mut IndexWriter,
    fields: &Fields,
    reader: &IndexReader,
    batch: &mut [Job],
) -> Result<(), String> {
    let mut max_seq = 0;
    for job in batch.iter_mut() {
        max_seq = max_seq.max(job.seq);
        for op in job.ops.drain(..) {
            match op {
                IndexOp::Upsert(item) => {
                    writer.delete_term(Term::from_field_text(fields.id, item.id.as_str()));
                    writer
                        .add_document(document(fields, &item))
                        .map_err(|e| e.to_string())?;
                }
                IndexOp::Delete(id) => {
                    writer.delete_term(Term::from_field_text(fields.id, id.as_str()));
                }
            }
        }
    }
    let mut commit = writer.prepare_commit().map_err(|e| e.to_string())?;
    commit.set_payload(&max_seq.to_string());
    commit.commit().map_err(|e| e.to_string())?;
    reader.reload().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str) -> Item {
        Item {
            id: ItemId::parse(id).unwrap(),
            kind: crate::model::ItemKind::Article,
            title: format!("title {id}"),
            body: "body".into(),
            segments: vec![],
            tags: vec![],
            creator_id: "c".into(),
            origin: crate::model::Origin::Human,
            parent_ids: vec![],
            licence: "CC-BY-4.0".into(),
            created_unix_ms: 0,
            content_sha256: String::new(),
            provenance_manifest: vec![],
        }
    }

    #[test]
    fn failed_commits_and_rollbacks_are_errors_never_a_dead_indexer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let (index, _) = TextIndex::open(&path).unwrap();
        index
            .apply(vec![IndexOp::Upsert(Box::new(item("a")))], 1)
            .unwrap();
        // The folder vanishes under the writer: commits fail, and so does
        // the rollback (it reads the index's metadata). Each write is an
        // error, never a dead indexer.
        std::fs::remove_dir_all(&path).unwrap();
        for seq in 2..5 {
            let err = index
                .apply(vec![IndexOp::Upsert(Box::new(item("b")))], seq)
                .unwrap_err();
            assert!(err.to_string().contains("index"), "{err}");
            assert!(
                !err.to_string().contains("stopped"),
                "the indexer died: {err}"
            );
        }
    }

    #[test]
    fn only_short_plain_searches_for_few_results_are_small() {
        let q = |query: &str, limit: usize, offset: usize, snippets: bool| SearchQuery {
            query: query.into(),
            filters: Filters::default(),
            limit,
            offset,
            snippets,
        };
        assert!(q("calm markets", 10, 0, false).is_small());
        assert!(q("", 100, 0, false).is_small());
        assert!(!q("calm markets", 10, 0, true).is_small(), "snippets");
        assert!(!q("calm markets", 10, 91, false).is_small(), "deep page");
        assert!(!q("calm", usize::MAX, 1, false).is_small(), "no overflow");
        assert!(!q("\"calm markets\"", 10, 0, false).is_small(), "a phrase");
        assert!(!q(&"word ".repeat(30), 10, 0, false).is_small(), "long");
    }
}
