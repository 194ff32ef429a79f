//! Search queries from arbitrary text against a real index: a query is
//! answered or refused as InvalidArgument, never a panic or an internal
//! error.
#![no_main]

use std::sync::{Arc, OnceLock};

use generec_common::types::{ItemKind, Origin};
use generec_corpus::index::SearchQuery;
use generec_corpus::model::{Item, ItemId};
use generec_corpus::{Corpus, CorpusConfig, CorpusError};
use libfuzzer_sys::fuzz_target;

fn corpus() -> &'static Arc<Corpus> {
    static CORPUS: OnceLock<(tempfile::TempDir, Arc<Corpus>)> = OnceLock::new();
    &CORPUS
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let corpus = Corpus::open(CorpusConfig {
                data_dir: dir.path().to_path_buf(),
                ..CorpusConfig::default()
            })
            .expect("open corpus");
            let items: Vec<_> = (0..20)
                .map(|i| {
                    let item = Item {
                        id: ItemId::parse(&format!("fuzz-{i}")).expect("id"),
                        kind: ItemKind::Article,
                        title: format!("Markets and football number {i}"),
                        body:
                            "Shares rose as the central bank held rates; the home side won the cup."
                                .into(),
                        segments: vec![],
                        tags: vec!["business".into()],
                        creator_id: "fuzz".into(),
                        origin: Origin::Human,
                        parent_ids: vec![],
                        licence: "CC-BY-4.0".into(),
                        created_unix_ms: 0,
                        content_sha256: String::new(),
                        provenance_manifest: vec![],
                    };
                    (item.id.to_string(), Ok(item))
                })
                .collect();
            corpus.put_items(items).expect("put");
            (dir, corpus)
        })
        .1
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let query = SearchQuery {
        query: text.to_string(),
        limit: 10,
        snippets: true,
        ..SearchQuery::default()
    };
    match corpus().search(&query) {
        Ok(_) | Err(CorpusError::InvalidArgument { .. }) => {}
        Err(e) => panic!("query {text:?} failed with {e}"),
    }
});
