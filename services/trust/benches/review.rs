//! Review throughput of the whole default bundle on one core, for short
//! (about 200 B) and long (about 20 KB) items, in bytes and items per
//! second. Needs the data `scripts/fetch-data` installs (the toxicity
//! classifier and word lists).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use generec_common::types::{ItemKind, Origin};
use generec_trust::bundle::Bundle;
use generec_trust::checks::{CompileEnv, ReviewContext, Source};
use generec_trust::registry::Registry;

const SHORT: &str = "The council met on Tuesday to discuss the new cycle lanes. Residents can send \
comments to planning@council.example before 3 March; the meeting was calm and constructive.";

fn long_text() -> String {
    let paragraph = "Shares in the chip maker rose 4.2% on Wednesday after it reported record \
quarterly sales of $3.1bn, helped by demand for data-centre processors. Chief executive Lisa Park \
said the company expected growth to continue into next year, although analysts warned that \
supply constraints could limit shipments. The firm also announced a new plant in Arizona, \
which it said would create 1,200 jobs by 2027. ";
    let mut text = String::new();
    while text.len() < 20_000 {
        text.push_str(paragraph);
    }
    text
}

/// The first BBC article (in name order) of at least `min` bytes, cut at
/// the first sentence end after `min` bytes.
fn news_article(env: &CompileEnv, min: usize) -> Option<String> {
    let dir = env.data_dir.join("bbc/business");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).ok()?;
        if text.len() >= min {
            let cut = text[min..].find(". ").map_or(text.len(), |i| min + i + 1);
            return Some(text[..cut].to_string());
        }
    }
    None
}

/// About `min` bytes of advice written to a reader: every sentence passes
/// the learned stage's screen.
fn addressed_text(min: usize) -> String {
    let sentences = [
        "If you are planning a trip this summer, book your train tickets early.",
        "Your best bet is to compare prices on a weekday morning.",
        "You can often save a third by travelling off peak.",
        "Keep your receipts, because you may be able to claim a refund if the train is late.",
    ];
    let mut text = String::new();
    let mut i = 0;
    while text.len() < min {
        text.push_str(sentences[i % sentences.len()]);
        text.push(' ');
        i += 1;
    }
    text
}

fn benches(c: &mut Criterion) {
    let env = CompileEnv {
        data_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.data"),
    };
    let bundle = Bundle::default_bundle(&env).expect("the default bundle needs scripts/fetch-data");
    let registry = Registry::temporary().unwrap();
    registry
        .register_private_attributes(
            "someone-else",
            &[("address".into(), "14 Harbour Street Whitby".into())],
        )
        .unwrap();
    let long = long_text();
    // Each item cites a source of its own size (the item itself), so every
    // authenticity lookup has work to do.
    let context = |source: &str| ReviewContext {
        kind: Some(ItemKind::Article),
        user_id: "reader".into(),
        origin: Some(Origin::AiCreated),
        sources: vec![Source {
            id: "s1".into(),
            text: source.to_string(),
            ..Source::default()
        }],
        instruction: "a short digest of this week's markets".into(),
        ..ReviewContext::default()
    };
    let mut group = c.benchmark_group("review, default bundle, one core");
    for (name, text) in [("short 200 B", SHORT.to_string()), ("long 20 KB", long)] {
        let context = context(&text);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(format!("{name} (bytes)"), |b| {
            b.iter(|| bundle.review(black_box(&text), &context, &registry))
        });
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("{name} (items)"), |b| {
            b.iter(|| bundle.review(black_box(&text), &context, &registry))
        });
    }
    // The same long item citing nothing: the cost of everything but the
    // sentence-by-sentence source comparison.
    let long = long_text();
    let mut no_sources = context("");
    no_sources.sources.clear();
    no_sources.origin = Some(Origin::Human);
    group.throughput(Throughput::Bytes(long.len() as u64));
    group.bench_function("long 20 KB, no sources (bytes)", |b| {
        b.iter(|| bundle.review(black_box(&long), &no_sources, &registry))
    });
    // A real news article of about 2 KB, as a human-made item: the whole
    // default bundle, then without its learned stage (the embedder), and a
    // 2 KB item addressed to a reader ("you"), which the learned stage
    // embeds sentence by sentence.
    if let Some(article) = news_article(&env, 2_000) {
        let human = ReviewContext {
            kind: Some(ItemKind::Article),
            origin: Some(Origin::Human),
            ..ReviewContext::default()
        };
        let lexical = Bundle::parse(
            &generec_trust::bundle::DEFAULT_BUNDLE
                .replace("embedder = \"models/minilm\"", "embedder = \"\""),
            "default bundle without the learned stage",
            &env,
        )
        .unwrap();
        let addressed = addressed_text(2_000);
        for (name, text, bundle) in [
            ("news 2 KB", &article, &bundle),
            ("news 2 KB, no learned stage", &article, &lexical),
            ("addressed 2 KB", &addressed, &bundle),
            ("addressed 2 KB, no learned stage", &addressed, &lexical),
        ] {
            group.throughput(Throughput::Bytes(text.len() as u64));
            group.bench_function(format!("{name} (bytes)"), |b| {
                b.iter(|| bundle.review(black_box(text), &human, &registry))
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = review;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(review);
