//! `generec bench generation`: Interpret latency against a plain tonic
//! unary call in the same run, and Edit and Create latency per back-end
//! over gRPC on the BBC corpus, with the embedded model's tokens/second.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use generec_generation::config::GenerationConfig;
use generec_proto::generation::v1 as pb;
use generec_proto::generation::v1::generation_client::GenerationClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::bench::{Summary, channel, ms, print_comparison, put_direct, start, summarise};

const INSTRUCTIONS: &[&str] = &[
    "less politics, more tech",
    "something calmer today",
    "a digest of this week's markets",
    "summarise this for me in three sentences",
    "no more football, and make it funnier",
    "cut the part about the goal into a clip",
    "Tell me about the ELECTION, nothing about sport",
    "make it shoter",
];

async fn timed<F, Fut>(n: usize, mut call: F) -> Result<Summary>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let wall = Instant::now();
    let mut lat = Vec::with_capacity(n);
    for k in 0..n {
        let t = Instant::now();
        call(k).await?;
        lat.push(t.elapsed());
    }
    Ok(summarise(lat, wall.elapsed()))
}

fn row(name: &str, s: &Summary) {
    println!("| {:<40} | {:>9.1} | {:>9.1} |", name, ms(s.p50), ms(s.p99));
}

/// Runs the benchmark.
pub async fn bench_generation(
    datasets: &Path,
    interprets: usize,
    edits: usize,
    creates: usize,
    embedded_creates: usize,
) -> Result<()> {
    if interprets == 0 {
        bail!("--interprets must be positive");
    }
    let running = start().await?;
    let items = crate::bench::bbc(datasets)?;
    let ids: Vec<String> = items.iter().map(|i| i.id.to_string()).collect();
    {
        let corpus = running.corpus.clone();
        tokio::task::spawn_blocking(move || put_direct(&corpus, items)).await??;
    }
    let cfg = GenerationConfig {
        corpus_url: format!("http://{}", running.addr),
        models_dir: datasets.join("models").display().to_string(),
        ..GenerationConfig::default()
    };
    let models = {
        let c = cfg.clone();
        tokio::task::spawn_blocking(move || c.load_models()).await??
    };
    let lm = models.lm.clone();
    let core = Arc::new(cfg.open_with(models)?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let serving = core.clone();
    tokio::spawn(async move {
        if let Err(e) = generec_generation::grpc::serve(
            serving,
            listener,
            &generec_common::config::ServerConfig::default(),
            &generec_common::auth::AuthConfig::default(),
            std::future::pending(),
        )
        .await
        {
            eprintln!("server stopped: {e}");
        }
    });
    let ch = channel(addr).await?;
    let client = GenerationClient::new(ch.clone());
    let health = HealthClient::new(ch);
    println!(
        "generators: {}; relevance: {}",
        core.generators().join(", "),
        core.relevance()
    );

    // Interpret against a plain unary call, one request at a time.
    let interpret = |k: usize| {
        let mut c = client.clone();
        async move {
            c.interpret(pb::InterpretRequest {
                user_id: "bench".into(),
                instruction: INSTRUCTIONS[k % INSTRUCTIONS.len()].into(),
                context_item_id: "bbc-tech-001".into(),
                ..Default::default()
            })
            .await?;
            Ok(())
        }
    };
    timed(interprets / 4 + 1, interpret).await?;
    let subject = timed(interprets, interpret).await?;
    let unary = |_k: usize| {
        let mut h = health.clone();
        async move {
            h.check(HealthCheckRequest {
                service: String::new(),
            })
            .await?;
            Ok(())
        }
    };
    timed(interprets / 4 + 1, unary).await?;
    let baseline = timed(interprets, unary).await?;
    print_comparison(
        "Interpret",
        &subject,
        "plain tonic unary (health)",
        &baseline,
    );

    println!();
    println!(
        "| {:<40} | {:>9} | {:>9} |",
        "one request at a time", "p50 ms", "p99 ms"
    );
    println!("|{:-<42}|{:->11}|{:->11}|", "", "", "");
    let length = Some(pb::Length {
        unit: pb::LengthUnit::Sentences as i32,
        value: 3,
        relative: 0.0,
    });
    let edit = |k: usize| {
        let mut c = client.clone();
        let id = ids[(k * 37) % ids.len()].clone();
        async move {
            c.edit(pb::EditRequest {
                user_id: "bench".into(),
                item_id: id,
                guidance: Some(pb::Guidance {
                    length,
                    tone: pb::Tone::Calm as i32,
                    ..Default::default()
                }),
                owner_consent: true,
                ..Default::default()
            })
            .await?;
            Ok(())
        }
    };
    if edits > 0 {
        row(
            "Edit (condense + restyle, editor)",
            &timed(edits, edit).await?,
        );
    }
    let topics = [
        "markets",
        "election",
        "films",
        "mobile phones",
        "rugby",
        "music",
        "interest rates",
        "video games",
        "tennis",
        "oil prices",
        "immigration",
        "television",
    ];
    let create = |k: usize, backend: pb::Backend| {
        let mut c = client.clone();
        let topic = topics[k % topics.len()].to_string();
        async move {
            c.create(pb::CreateRequest {
                user_id: "bench".into(),
                guidance: Some(pb::Guidance {
                    fact_query: topic,
                    format: pb::Format::Digest as i32,
                    length,
                    ..Default::default()
                }),
                backend: backend as i32,
                ..Default::default()
            })
            .await?;
            Ok(())
        }
    };
    if creates > 0 {
        // The embedder keeps recent sentence embeddings, so a topic's first
        // request pays for embedding its candidate sentences and a repeat
        // mostly does not: both are reported.
        let s = timed(topics.len(), |k| create(k, pb::Backend::Composer)).await?;
        row("Create (composer), each topic's first", &s);
        let s = timed(creates, |k| create(k, pb::Backend::Composer)).await?;
        row("Create (composer), topics asked before", &s);
    }
    if embedded_creates > 0 && core.generators().iter().any(|g| g.starts_with("embedded")) {
        let s = timed(embedded_creates, |k| create(k, pb::Backend::Embedded)).await?;
        row("Create (embedded SmolLM2, <=100 tokens)", &s);
    }
    if let Some(lm) = lm {
        let report = tokio::task::spawn_blocking(move || -> Result<(f64, f64)> {
            use generec_models::lm::{ChatMessage, GenerateOptions};
            let mut tps = Vec::new();
            let mut prompt_tokens = 0.0;
            for seed in 0..3u64 {
                let out = lm.generate(
                    &[ChatMessage::user(
                        "Write a short news story about the economy.",
                    )],
                    &GenerateOptions {
                        max_tokens: 128,
                        seed,
                        watermark: Some(cfg.embedded.watermark()),
                        ..GenerateOptions::default()
                    },
                )?;
                tps.push(out.tokens_per_second);
                prompt_tokens = out.prompt_tokens as f64;
            }
            tps.sort_by(f64::total_cmp);
            Ok((tps[1], prompt_tokens))
        })
        .await??;
        println!(
            "embedded SmolLM2-135M Q4_1, watermarked sampling: {:.1} tokens/s (median of 3 x 128 tokens, {} prompt tokens; built with target-cpu=native)",
            report.0, report.1
        );
    }
    Ok(())
}
