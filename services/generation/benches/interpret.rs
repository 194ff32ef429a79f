//! What the instructor costs per request on one core: every instruction of
//! the dev set (`evalsets/dev`) over its candidates, by words alone and with
//! relevance by meaning (MiniLM, when `scripts/fetch-data` installed it:
//! `GENEREC_DATA`, default `.data` at the repository root), and what
//! embedding one instruction costs.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;

use generec_generation::config::MiniLm;
use generec_generation::guidance::InterpretInput;
use generec_generation::instructor::Instructor;
use generec_generation::relevance::Embed;
use generec_generation::testset::{
    DEV_CANDIDATES, DEV_INSTRUCTIONS, parse_candidates, parse_cases,
};
use generec_models::embed::Embedder;
use generec_models::paths::ModelDir;

fn inputs() -> Vec<InterpretInput> {
    let sets = parse_candidates(DEV_CANDIDATES).expect("dev candidates");
    parse_cases(DEV_INSTRUCTIONS, &sets)
        .expect("dev instructions")
        .into_iter()
        .map(|c| InterpretInput {
            user_id: "u".into(),
            instruction: c.say,
            context_item: c.ctx,
            feedback: Vec::new(),
            candidates: sets.get(&c.cands).cloned().unwrap_or_default(),
        })
        .collect()
}

fn data_dir() -> PathBuf {
    std::env::var_os("GENEREC_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.data")))
}

fn bench(c: &mut Criterion) {
    let inputs = inputs();
    let words = Instructor::default();
    let mut g = c.benchmark_group("interpret");
    let mut k = 0usize;
    g.bench_function("words, one dev instruction", |b| {
        b.iter(|| {
            k = (k + 1) % inputs.len();
            black_box(words.interpret(&inputs[k]))
        })
    });
    let Some(path) = ModelDir::new(data_dir().join("models")).minilm() else {
        eprintln!("MiniLM is not installed (scripts/fetch-data): the embedding cases are skipped");
        return;
    };
    // The server's embedder keeps recent sentences; a user's instruction is
    // mostly new, so the instruction is embedded here by an embedder that
    // keeps none (the instructor still caches candidate vectors by id and
    // text, as on a server).
    let embedder = match Embedder::load(&path) {
        Ok(e) => Arc::new(MiniLm(e.with_cache_entries(0))),
        Err(e) => {
            eprintln!("MiniLM did not load ({e}): the embedding cases are skipped");
            return;
        }
    };
    let meaning = Instructor::default().with_embedding(embedder.clone());
    // Warm the candidate vectors once, then measure.
    for input in &inputs {
        meaning.interpret(input);
    }
    let mut k = 0usize;
    g.bench_function("MiniLM, one dev instruction", |b| {
        b.iter(|| {
            k = (k + 1) % inputs.len();
            black_box(meaning.interpret(&inputs[k]))
        })
    });
    g.bench_function("MiniLM, embedding one instruction (uncached)", |b| {
        b.iter(|| black_box(embedder.embed(&["more about electric cars and batteries"])))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
