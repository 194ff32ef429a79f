//! Criterion benchmarks of the corpus core without gRPC: content hashing,
//! search and recommendation on a synthetic corpus (2,000 articles, 500
//! users with 20 likes each). The gRPC-level figures with in-run baselines
//! come from `generec bench`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use generec_corpus::corpus::RecommendQuery;
use generec_corpus::index::SearchQuery;
use generec_corpus::model::{EventType, FeedbackEvent, Item, ItemId, ItemKind, Origin, UserId};
use generec_corpus::{Corpus, CorpusConfig};

const WORDS: [&str; 24] = [
    "market", "election", "goal", "film", "chip", "phone", "bank", "vote", "match", "album",
    "rates", "growth", "minister", "striker", "actor", "software", "network", "profit", "party",
    "league", "award", "music", "court", "energy",
];

/// A deterministic pseudo-random sequence.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

fn text(rng: &mut Lcg, words: usize) -> String {
    (0..words)
        .map(|_| WORDS[rng.next() % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

fn item(rng: &mut Lcg, i: usize) -> Item {
    Item {
        id: ItemId::parse(&format!("item-{i}")).unwrap(),
        kind: ItemKind::Article,
        title: text(rng, 6),
        body: text(rng, 300),
        segments: vec![],
        tags: vec![WORDS[i % 5].to_string()],
        creator_id: format!("creator-{}", i % 40),
        origin: Origin::Human,
        parent_ids: vec![],
        licence: "CC-BY-4.0".into(),
        created_unix_ms: 1_000 + i as i64,
        content_sha256: String::new(),
        provenance_manifest: vec![],
    }
}

fn benches(c: &mut Criterion) {
    let mut rng = Lcg(7);
    let items: Vec<Item> = (0..2_000).map(|i| item(&mut rng, i)).collect();
    c.bench_function("content_sha256 of a 2 KB article", |b| {
        b.iter(|| black_box(&items[0]).compute_sha256())
    });

    let dir = tempfile::tempdir().unwrap();
    let corpus = Corpus::open(CorpusConfig {
        data_dir: dir.path().to_path_buf(),
        retrain_interval_ms: u64::MAX / 2,
        item_debounce_ms: u64::MAX / 2,
        item_retrain_interval_ms: u64::MAX / 2,
        ..CorpusConfig::default()
    })
    .unwrap();
    for chunk in items.chunks(500) {
        corpus
            .put_items(
                chunk
                    .iter()
                    .map(|i| (i.id.to_string(), Ok(i.clone())))
                    .collect(),
            )
            .unwrap();
    }
    let mut events = Vec::new();
    for u in 0..500 {
        for _ in 0..20 {
            events.push(FeedbackEvent {
                user: UserId::parse(&format!("user-{u}")).unwrap(),
                item: ItemId::parse(&format!("item-{}", (u * 7 + rng.next() % 300) % 2_000))
                    .unwrap(),
                kind: EventType::Like,
                value: 0.0,
                timestamp_unix_ms: 1_000,
            });
        }
    }
    corpus.record_feedback(events).unwrap();
    corpus.train_now().unwrap();

    let query = SearchQuery {
        query: "election minister".into(),
        limit: 10,
        ..SearchQuery::default()
    };
    c.bench_function("search: two terms, top 10", |b| {
        b.iter(|| corpus.search(black_box(&query)).unwrap())
    });
    let mut u = 0;
    c.bench_function("recommend: top 20 over 2,000 items", |b| {
        b.iter(|| {
            u = (u + 1) % 500;
            let q = RecommendQuery {
                user: Some(UserId::parse(&format!("user-{u}")).unwrap()),
                count: 20,
                ..RecommendQuery::default()
            };
            corpus.recommend(black_box(&q)).unwrap()
        })
    });
}

criterion_group! {
    name = core;
    config = Criterion::default().sample_size(30);
    targets = benches
}
criterion_main!(core);
