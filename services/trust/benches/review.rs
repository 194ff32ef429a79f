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
    group.finish();
}

criterion_group! {
    name = review;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(review);
