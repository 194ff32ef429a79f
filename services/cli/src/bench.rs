//! `generec bench`: benchmarks that print ratios against a baseline
//! measured in the same run, on the same machine.
//!
//! - `search`: the Search RPC over loopback against a raw in-process
//!   tantivy search of the same index with the same queries;
//! - `recommend`: the Recommend RPC at a fixed concurrency against a plain
//!   tonic unary call (the gRPC health check) at the same concurrency;
//! - `ingest`: PutItems items/s and RecordFeedback events/s over loopback.
//!
//! Each starts its own corpus in a temporary folder and serves it on
//! 127.0.0.1:0, so it never touches a running platform.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use generec_common::config::ServerConfig;
use generec_corpus::corpus::PutOutcome;
use generec_corpus::grpc::item_to_proto;
use generec_corpus::{Corpus, CorpusConfig};
use generec_proto::corpus::v1 as pb;
use generec_proto::corpus::v1::corpus_service_client::CorpusServiceClient;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::QueryParser;
use tantivy::schema::Value;
use tantivy::{ReloadPolicy, TantivyDocument};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// What to benchmark.
#[derive(clap::Subcommand)]
pub enum Bench {
    /// Search over gRPC against raw tantivy on the BBC corpus.
    Search {
        #[arg(long, env = "GENEREC_DATA", default_value = ".data")]
        datasets: PathBuf,
        /// Timed queries per side (after a warm-up of the same size).
        #[arg(long, default_value_t = 2000)]
        queries: usize,
    },
    /// Recommend on MovieLens 100K against a plain tonic unary call.
    Recommend {
        #[arg(long, env = "GENEREC_DATA", default_value = ".data")]
        datasets: PathBuf,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Timed requests per side.
        #[arg(long, default_value_t = 20000)]
        requests: usize,
    },
    /// Item and feedback ingest rates over gRPC.
    Ingest {
        #[arg(long, env = "GENEREC_DATA", default_value = ".data")]
        datasets: PathBuf,
    },
    /// Transparency log: durable appends/s at 1, 8 and 64 writers, and proof
    /// times once the log holds --entries entries.
    Log {
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        /// Seconds per append-rate measurement.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Interpret against a plain tonic unary call, and Edit and Create
    /// latency per back-end, on the BBC corpus.
    Generation {
        #[arg(long, env = "GENEREC_DATA", default_value = ".data")]
        datasets: PathBuf,
        #[arg(long, default_value_t = 2000)]
        interprets: usize,
        #[arg(long, default_value_t = 200)]
        edits: usize,
        #[arg(long, default_value_t = 100)]
        creates: usize,
        /// Creates with the embedded model (slow on a CPU).
        #[arg(long, default_value_t = 5)]
        embedded_creates: usize,
    },
    /// Steady mixed traffic (GetFeed, SubmitFeedback, Review, QueryLog and
    /// an occasional create) at a fixed rate, printing resident memory
    /// every 30 s and its growth after warm-up.
    Soak {
        #[arg(long, env = "GENEREC_DATA", default_value = ".data")]
        datasets: PathBuf,
        /// How long to drive traffic.
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        /// Requests per second.
        #[arg(long, default_value_t = 50)]
        rate: u32,
        /// Growth is measured from this point on.
        #[arg(long, default_value_t = 2.0)]
        warmup_minutes: f64,
        /// Seconds between two GetFeeds that create an item (0: none).
        #[arg(long, default_value_t = 10)]
        create_every: u64,
        /// Write jemalloc heap profiles into this folder at the end of the
        /// warm-up and at the end (compare them with `jeprof --base`). Needs
        /// a build with `--features heap-profile` and
        /// `_RJEM_MALLOC_CONF=prof:true` in the environment.
        #[arg(long)]
        heap_profile: Option<PathBuf>,
    },
    /// GetFeed on the retrieve-only path at fixed concurrencies against the
    /// Recommend RPC on the same data and a plain tonic unary call, then at
    /// a fixed rate (open loop), and the generate path's latency per
    /// back-end.
    Feed {
        #[arg(long, env = "GENEREC_DATA", default_value = ".data")]
        datasets: PathBuf,
        /// Requests in flight, one measurement each.
        #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
        concurrency: Vec<usize>,
        /// Timed requests per measurement.
        #[arg(long, default_value_t = 2000)]
        requests: usize,
        /// Open loop: GetFeeds sent per second, whatever the answers.
        #[arg(long, default_value_t = 500)]
        rate: u32,
        /// Open loop: how long to send, in seconds (0 skips it).
        #[arg(long, default_value_t = 60.0)]
        seconds: f64,
        /// Skip the generate path.
        #[arg(long)]
        retrieve_only: bool,
    },
    /// Certify and Verify per second against raw ed25519-dalek sign and verify.
    Provenance {
        #[arg(long, default_value_t = 2000)]
        items: usize,
    },
}

/// Latency summary of one side of a comparison.
pub(crate) struct Summary {
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) per_second: f64,
}

pub(crate) fn summarise(mut latencies: Vec<Duration>, wall: Duration) -> Summary {
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(i).copied().unwrap_or_default()
    };
    Summary {
        p50: at(0.50),
        p99: at(0.99),
        per_second: latencies.len() as f64 / wall.as_secs_f64().max(1e-9),
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn print_comparison(
    what: &str,
    subject: &Summary,
    baseline_name: &str,
    baseline: &Summary,
) {
    println!(
        "| {:<32} | {:>9} | {:>9} | {:>10} |",
        "", "p50 ms", "p99 ms", "per second"
    );
    println!("|{:-<34}|{:->11}|{:->11}|{:->12}|", "", "", "", "");
    for (name, s) in [(what, subject), (baseline_name, baseline)] {
        println!(
            "| {:<32} | {:>9.3} | {:>9.3} | {:>10.0} |",
            name,
            ms(s.p50),
            ms(s.p99),
            s.per_second
        );
    }
    println!(
        "ratio {what} / {baseline_name}: p50 {:.2}x, p99 {:.2}x, throughput {:.4}x",
        ms(subject.p50) / ms(baseline.p50).max(1e-9),
        ms(subject.p99) / ms(baseline.p99).max(1e-9),
        subject.per_second / baseline.per_second.max(1e-9)
    );
}

pub(crate) struct Running {
    pub(crate) corpus: Arc<Corpus>,
    pub(crate) addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

pub(crate) async fn start() -> Result<Running> {
    let dir = tempfile::tempdir()?;
    let cfg = CorpusConfig {
        data_dir: dir.path().join("corpus"),
        // Keep the model still while timing.
        retrain_interval_ms: u64::MAX / 2,
        item_debounce_ms: u64::MAX / 2,
        item_retrain_interval_ms: u64::MAX / 2,
        ..CorpusConfig::default()
    };
    let corpus = tokio::task::spawn_blocking(move || Corpus::open(cfg)).await??;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let serving = corpus.clone();
    tokio::spawn(async move {
        let server = ServerConfig::default();
        if let Err(e) = generec_corpus::grpc::serve(
            serving,
            listener,
            &server,
            &generec_common::auth::AuthConfig::default(),
            std::future::pending(),
        )
        .await
        {
            eprintln!("server stopped: {e}");
        }
    });
    Ok(Running {
        corpus,
        addr,
        _dir: dir,
    })
}

pub(crate) async fn channel(addr: std::net::SocketAddr) -> Result<Channel> {
    Ok(Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?)
}

pub(crate) fn put_direct(corpus: &Corpus, items: Vec<generec_corpus::model::Item>) -> Result<()> {
    for chunk in items.chunks(500) {
        let entries = chunk
            .iter()
            .map(|i| (i.id.to_string(), Ok(i.clone())))
            .collect();
        for r in corpus.put_items(entries)? {
            if let PutOutcome::Rejected(why) = r.outcome {
                bail!("item {} rejected: {why}", r.id);
            }
        }
    }
    Ok(())
}

/// Two-word queries drawn from BBC titles, deterministic.
fn queries_from(items: &[generec_corpus::model::Item], n: usize) -> Vec<String> {
    let words: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            i.title
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.len() > 3)
                .map(|w| w.to_lowercase())
                .collect::<Vec<_>>()
        })
        .filter(|w| w.len() >= 2)
        .collect();
    (0..n)
        .map(|k| {
            let w = &words[(k * 7919) % words.len()];
            format!("{} {}", w[k % w.len()], w[(k + 1) % w.len()])
        })
        .collect()
}

pub(crate) fn bbc(datasets: &Path) -> Result<Vec<generec_corpus::model::Item>> {
    let dir = datasets.join("bbc");
    generec_corpus::load::read_bbc(&dir).with_context(|| {
        format!(
            "reading the BBC corpus in {}; run scripts/fetch-data",
            dir.display()
        )
    })
}

async fn bench_search(datasets: &Path, n: usize) -> Result<()> {
    let items = bbc(datasets)?;
    let queries = queries_from(&items, n);
    let running = start().await?;
    let c = running.corpus.clone();
    tokio::task::spawn_blocking(move || put_direct(&c, items)).await??;

    // Raw tantivy: same index, same queries, same page size, same stored fields read.
    let index = running.corpus.text_index().index().clone();
    let fields = running.corpus.text_index().fields();
    let raw_queries = queries.clone();
    let (raw, raw_counted) = tokio::task::spawn_blocking(move || -> Result<(Summary, Summary)> {
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let mut parser =
            QueryParser::for_index(&index, vec![fields.title, fields.body, fields.segments]);
        parser.set_field_boost(fields.title, 2.0);
        // `counted`: also count every match, as the Search RPC does for
        // total_hits (a count visits every match; top 10 alone can skip).
        let run_one = |q: &str, counted: bool| -> Result<usize> {
            let searcher = reader.searcher();
            let query = parser.parse_query(q)?;
            let top_docs = TopDocs::with_limit(10).order_by_score();
            let top = if counted {
                searcher.search(&query, &(top_docs, Count))?.0
            } else {
                searcher.search(&query, &top_docs)?
            };
            let mut n = 0;
            for (_, addr) in top {
                let doc: TantivyDocument = searcher.doc(addr)?;
                n += doc
                    .get_first(fields.title)
                    .and_then(|v| v.as_str())
                    .map_or(0, str::len);
            }
            Ok(n)
        };
        let time = |counted: bool| -> Result<Summary> {
            for q in &raw_queries {
                run_one(q, counted)?;
            }
            let mut lat = Vec::with_capacity(raw_queries.len());
            let wall = Instant::now();
            for q in &raw_queries {
                let t = Instant::now();
                std::hint::black_box(run_one(q, counted)?);
                lat.push(t.elapsed());
            }
            Ok(summarise(lat, wall.elapsed()))
        };
        Ok((time(false)?, time(true)?))
    })
    .await??;

    // The corpus core's search in-process: the RPC's work without gRPC.
    let core_queries = queries.clone();
    let c = running.corpus.clone();
    let core = tokio::task::spawn_blocking(move || -> Result<Summary> {
        let query = |q: &str| generec_corpus::index::SearchQuery {
            query: q.to_string(),
            filters: Default::default(),
            limit: 10,
            offset: 0,
            snippets: false,
        };
        for q in &core_queries {
            c.search(&query(q))?;
        }
        let mut lat = Vec::with_capacity(core_queries.len());
        let wall = Instant::now();
        for q in &core_queries {
            let t = Instant::now();
            std::hint::black_box(c.search(&query(q))?);
            lat.push(t.elapsed());
        }
        Ok(summarise(lat, wall.elapsed()))
    })
    .await??;

    let mut client = CorpusServiceClient::new(channel(running.addr).await?);
    let request = |q: &str| pb::SearchRequest {
        query: q.to_string(),
        filters: None,
        limit: 10,
        offset: 0,
        with_snippets: false,
    };
    for q in &queries {
        client.search(request(q)).await?;
    }
    let mut lat = Vec::with_capacity(queries.len());
    let wall = Instant::now();
    for q in &queries {
        let t = Instant::now();
        client.search(request(q)).await?;
        lat.push(t.elapsed());
    }
    let rpc = summarise(lat, wall.elapsed());
    let mut health = HealthClient::new(channel(running.addr).await?);
    let mut lat = Vec::with_capacity(queries.len());
    let wall = Instant::now();
    for _ in &queries {
        let t = Instant::now();
        health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await?;
        lat.push(t.elapsed());
    }
    let unary = summarise(lat, wall.elapsed());
    println!(
        "Search, {} two-word queries from BBC titles, top 10, one at a time",
        queries.len()
    );
    print_comparison(
        "Search RPC over loopback",
        &rpc,
        "raw tantivy in-process",
        &raw,
    );
    println!(
        "where the time goes, p50: raw tantivy top 10 {:.3} ms; with a count of every match (as total_hits needs) {:.3} ms; the corpus core's search in-process (parse, count, liveness, catalogue) {:.3} ms; the RPC {:.3} ms (so gRPC, the blocking-pool hop and protobuf add {:.3} ms over the core)",
        ms(raw.p50),
        ms(raw_counted.p50),
        ms(core.p50),
        ms(rpc.p50),
        ms(rpc.p50) - ms(core.p50)
    );
    println!(
        "plain tonic unary (health), one at a time: p50 {:.3} ms, p99 {:.3} ms; raw tantivy + that: p50 {:.3} ms",
        ms(unary.p50),
        ms(unary.p99),
        ms(raw.p50) + ms(unary.p50)
    );
    Ok(())
}

pub(crate) async fn closed_loop<F, Fut>(
    concurrency: usize,
    requests: usize,
    call: F,
) -> Result<Summary>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let wall = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let call = call.clone();
        let share = requests / concurrency + usize::from(worker < requests % concurrency);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(share);
            for k in 0..share {
                let t = Instant::now();
                call(worker * 1_000_003 + k).await?;
                lat.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut all = Vec::with_capacity(requests);
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(summarise(all, wall.elapsed()))
}

/// What an open-loop run measured: latencies from each request's
/// scheduled send time (so time spent queued behind slow requests counts),
/// and the requests that failed.
pub(crate) struct OpenLoop {
    pub(crate) latencies: Vec<Duration>,
    pub(crate) errors: usize,
    pub(crate) first_error: Option<String>,
    pub(crate) wall: Duration,
}

/// Sends `rate` requests per second for `seconds`, each at its scheduled
/// time whether or not earlier ones have answered.
pub(crate) async fn open_loop<F, Fut>(rate: u32, seconds: f64, call: F) -> Result<OpenLoop>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let total = (f64::from(rate) * seconds).round() as usize;
    let period = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..total {
        let scheduled = start + period.mul_f64(k as f64);
        tokio::time::sleep_until(scheduled).await;
        let call = call.clone();
        tasks.spawn(async move {
            let outcome = call(k).await;
            (scheduled.elapsed(), outcome.err().map(|e| format!("{e:#}")))
        });
    }
    let mut out = OpenLoop {
        latencies: Vec::with_capacity(total),
        errors: 0,
        first_error: None,
        wall: Duration::ZERO,
    };
    while let Some(joined) = tasks.join_next().await {
        let (latency, error) = joined?;
        out.latencies.push(latency);
        if let Some(e) = error {
            out.errors += 1;
            out.first_error.get_or_insert(e);
        }
    }
    out.wall = start.elapsed();
    Ok(out)
}

async fn bench_recommend(datasets: &Path, concurrency: usize, requests: usize) -> Result<()> {
    if concurrency == 0 || requests == 0 {
        bail!("--concurrency and --requests must be positive");
    }
    let dir = datasets.join("ml-100k");
    let ml = generec_corpus::load::read_movielens(&dir).with_context(|| {
        format!(
            "reading MovieLens in {}; run scripts/fetch-data",
            dir.display()
        )
    })?;
    let users: Vec<String> = {
        let mut u: Vec<String> = ml.events.iter().map(|e| e.user.to_string()).collect();
        u.sort();
        u.dedup();
        u
    };
    let running = start().await?;
    let c = running.corpus.clone();
    tokio::task::spawn_blocking(move || -> Result<()> {
        put_direct(&c, ml.items)?;
        for chunk in ml.events.chunks(10_000) {
            c.record_feedback(chunk.to_vec())?;
        }
        c.train_now()?;
        Ok(())
    })
    .await??;
    let stats = running.corpus.stats()?;
    let ch = channel(running.addr).await?;

    let health = HealthClient::new(ch.clone());
    let warm = requests / 4;
    let call_health = move |_k: usize| {
        let mut h = health.clone();
        async move {
            h.check(HealthCheckRequest {
                service: String::new(),
            })
            .await?;
            Ok(())
        }
    };
    closed_loop(concurrency, warm, call_health.clone()).await?;
    let baseline = closed_loop(concurrency, requests, call_health).await?;

    let client = CorpusServiceClient::new(ch);
    let users = Arc::new(users);
    let call_rec = move |k: usize| {
        let mut c = client.clone();
        let users = users.clone();
        async move {
            c.recommend(pb::RecommendRequest {
                user_id: users[k % users.len()].clone(),
                count: 20,
                ..Default::default()
            })
            .await?;
            Ok(())
        }
    };
    closed_loop(concurrency, warm, call_rec.clone()).await?;
    let rec = closed_loop(concurrency, requests, call_rec).await?;
    println!(
        "Recommend, top 20 for MovieLens users ({} items, {} users, EASE {}), {} requests, {} in flight",
        stats.model_items,
        stats.model_users,
        if stats.ease_enabled { "on" } else { "off" },
        requests,
        concurrency
    );
    print_comparison(
        "Recommend RPC",
        &rec,
        "plain tonic unary (health)",
        &baseline,
    );
    Ok(())
}

async fn bench_ingest(datasets: &Path) -> Result<()> {
    let items = bbc(datasets)?;
    let dir = datasets.join("ml-100k");
    let ml = generec_corpus::load::read_movielens(&dir).with_context(|| {
        format!(
            "reading MovieLens in {}; run scripts/fetch-data",
            dir.display()
        )
    })?;
    let running = start().await?;
    let mut client = CorpusServiceClient::new(channel(running.addr).await?);
    println!(
        "| {:<44} | {:>10} | {:>12} |",
        "ingest over loopback", "count", "per second"
    );
    println!("|{:-<46}|{:->12}|{:->14}|", "", "", "");
    for batch in [1usize, 100] {
        let sample: Vec<_> = items
            .iter()
            .take(if batch == 1 { 300 } else { items.len() })
            .collect();
        let t = Instant::now();
        for chunk in sample.chunks(batch) {
            let request = pb::PutItemsRequest {
                items: chunk
                    .iter()
                    .map(|i| {
                        let mut p = item_to_proto((*i).clone());
                        p.id = format!("{}-b{batch}", p.id);
                        p
                    })
                    .collect(),
            };
            client.put_items(request).await?;
        }
        let rate = sample.len() as f64 / t.elapsed().as_secs_f64();
        println!(
            "| {:<44} | {:>10} | {:>12.0} |",
            format!("PutItems, BBC articles, {batch} per request"),
            sample.len(),
            rate
        );
    }
    for chunk in ml.items.chunks(500) {
        client
            .put_items(pb::PutItemsRequest {
                items: chunk.iter().cloned().map(item_to_proto).collect(),
            })
            .await?;
    }
    for batch in [100usize, 1000] {
        let sample = &ml.events[..if batch == 100 {
            20_000
        } else {
            ml.events.len()
        }];
        let t = Instant::now();
        for chunk in sample.chunks(batch) {
            let events = chunk
                .iter()
                .map(|e| pb::FeedbackEvent {
                    user_id: e.user.to_string(),
                    item_id: e.item.to_string(),
                    r#type: pb::EventType::Rating as i32,
                    value: e.value,
                    timestamp_unix_ms: e.timestamp_unix_ms,
                })
                .collect();
            client
                .record_feedback(pb::RecordFeedbackRequest { events })
                .await?;
        }
        let rate = sample.len() as f64 / t.elapsed().as_secs_f64();
        println!(
            "| {:<44} | {:>10} | {:>12.0} |",
            format!("RecordFeedback, ratings, {batch} per request"),
            sample.len(),
            rate
        );
    }
    println!(
        "Every acknowledged request was flushed to disk (sled) and committed (tantivy) first."
    );
    Ok(())
}

/// Runs a benchmark.
pub async fn run(what: Bench) -> Result<()> {
    match what {
        Bench::Search { datasets, queries } => bench_search(&datasets, queries).await,
        Bench::Recommend {
            datasets,
            concurrency,
            requests,
        } => bench_recommend(&datasets, concurrency, requests).await,
        Bench::Ingest { datasets } => bench_ingest(&datasets).await,
        Bench::Feed {
            datasets,
            concurrency,
            requests,
            rate,
            seconds,
            retrieve_only,
        } => {
            let plan = crate::bench_feed::Plan {
                concurrency,
                requests,
                rate,
                seconds,
                generate: !retrieve_only,
            };
            crate::bench_feed::bench_feed(&datasets, plan).await
        }
        Bench::Soak {
            datasets,
            minutes,
            rate,
            warmup_minutes,
            create_every,
            heap_profile,
        } => {
            let plan = crate::bench_soak::Plan {
                minutes,
                rate,
                warmup_minutes,
                create_every,
                heap_profile,
            };
            crate::bench_soak::soak(&datasets, plan).await
        }
        Bench::Generation {
            datasets,
            interprets,
            edits,
            creates,
            embedded_creates,
        } => {
            crate::bench_generation::bench_generation(
                &datasets,
                interprets,
                edits,
                creates,
                embedded_creates,
            )
            .await
        }
        Bench::Log { entries, seconds } => {
            tokio::task::spawn_blocking(move || crate::bench_trust::bench_log(entries, seconds))
                .await?
        }
        Bench::Provenance { items } => {
            tokio::task::spawn_blocking(move || crate::bench_trust::bench_provenance(items)).await?
        }
    }
}
