//! `generec bench feed`: GetFeed against a plain tonic unary call.
//!
//! Starts the four services in this process the way `generec up` does
//! (trust first, its public keys trusted by the corpus, the BBC articles
//! and the simulated users loaded, generation with the models it finds, the
//! feed joining them), on 127.0.0.1:0 with data in a temporary folder, so
//! it never touches a running platform. Then:
//!
//! - the retrieve-only path: GetFeed for the simulated users (no
//!   instruction, no streak), after a warm-up that fills the verdict cache,
//!   at each concurrency, beside the gRPC health check on the feed's own
//!   server at the same concurrency in the same run;
//! - the generate path: a GetFeed whose instruction makes the instructor
//!   create, for fresh users, per back-end (the composer; the embedded
//!   model when it is loaded, through a second generation service whose
//!   default back-end is the embedded one and a second feed over it).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use generec_common::auth::AuthConfig;
use generec_common::config::ServerConfig;
use generec_corpus::{Corpus, CorpusConfig};
use generec_generation::config::GenerationConfig;
use generec_generation::service::Backend;
use generec_proto::feed::v1 as pb;
use generec_proto::feed::v1::feed_service_client::FeedServiceClient;
use generec_proto::generation::v1 as gen_pb;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::bench::{channel, closed_loop, ms, open_loop, print_comparison, summarise};
use generec_proto::corpus::v1 as corpus_pb;
use generec_proto::corpus::v1::corpus_service_client::CorpusServiceClient;

/// Items per feed.
const COUNT: u32 = 10;
/// The simulated users `seed_interactions` makes (as `generec up` does).
const USERS: usize = 60;
/// Fresh users per back-end on the generate path.
const GENERATE_USERS: usize = 5;
/// The deadline of a GetFeed on the generate path (the feed lets
/// generation take 60% of it).
const GENERATE_DEADLINE: Duration = Duration::from_secs(60);
/// How long to wait for an item that was still pending.
const PENDING_WAIT: Duration = Duration::from_secs(180);
/// Instructions that make the instructor create a digest.
const DIGESTS: &[&str] = &[
    "a digest of the markets",
    "a digest of the stock markets",
    "a digest of the oil markets",
    "a digest of the currency markets",
    "a digest of the housing market",
    "a digest of the bond markets",
];

/// The four services, serving until the process ends.
pub(crate) struct Platform {
    _dir: tempfile::TempDir,
    pub(crate) corpus: Arc<Corpus>,
    pub(crate) corpus_addr: SocketAddr,
    pub(crate) feed: SocketAddr,
    pub(crate) trust: SocketAddr,
    /// Trust's public keys (hex), which the corpus trusts.
    pub(crate) trusted_keys: Vec<String>,
    /// A second feed over a generation service whose default back-end is
    /// the embedded model, when the model is loaded.
    embedded_feed: Option<SocketAddr>,
    generators: Vec<String>,
    relevance: String,
}

async fn listener() -> Result<(tokio::net::TcpListener, SocketAddr)> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = l.local_addr()?;
    Ok((l, addr))
}

fn report(service: &'static str, r: Result<(), impl std::fmt::Display>) {
    if let Err(e) = r {
        eprintln!("{service} server stopped: {e}");
    }
}

async fn serve_generation(
    cfg: &GenerationConfig,
    models: generec_generation::config::Models,
) -> Result<(SocketAddr, Arc<generec_generation::service::Generation>)> {
    let core = Arc::new(
        cfg.open_with(models)
            .context("opening the generation service")?,
    );
    let (l, addr) = listener().await?;
    let serving = core.clone();
    tokio::spawn(async move {
        report(
            "generation",
            generec_generation::grpc::serve(
                serving,
                l,
                &ServerConfig::default(),
                &AuthConfig::default(),
                std::future::pending(),
            )
            .await,
        );
    });
    Ok((addr, core))
}

async fn serve_feed(cfg: generec_feed::FeedConfig) -> Result<SocketAddr> {
    let feed = generec_feed::Feed::new(cfg, None).context("starting the feed")?;
    let (l, addr) = listener().await?;
    tokio::spawn(async move {
        report(
            "feed",
            generec_feed::grpc::serve(
                feed,
                l,
                &ServerConfig::default(),
                &AuthConfig::default(),
                std::future::pending(),
            )
            .await,
        );
    });
    Ok(addr)
}

/// What a started platform runs.
pub(crate) struct PlatformOptions {
    /// How much of the second loop the feed runs.
    pub(crate) loop_mode: generec_feed::config::LoopMode,
    /// Also start a second generation service on the embedded model and a
    /// feed over it (when the model is there).
    pub(crate) embedded_feed: bool,
}

impl Platform {
    pub(crate) async fn start(datasets: &Path) -> Result<Platform> {
        Platform::start_with(
            datasets,
            PlatformOptions {
                loop_mode: generec_feed::config::LoopMode::Full,
                embedded_feed: true,
            },
        )
        .await
    }

    pub(crate) async fn start_with(datasets: &Path, options: PlatformOptions) -> Result<Platform> {
        let bbc = datasets.join("bbc");
        if !bbc.is_dir() {
            bail!(
                "the BBC corpus is not at {}; run scripts/fetch-data first (or pass --datasets DIR)",
                bbc.display()
            );
        }
        let dir = tempfile::tempdir()?;

        // Trust first: the corpus accepts generated items only with
        // manifests signed by one of its keys.
        let trust_cfg = generec_trust::TrustConfig {
            data_dir: dir.path().join("trust"),
            assets_dir: datasets.to_path_buf(),
            ..generec_trust::TrustConfig::default()
        };
        let trust = tokio::task::spawn_blocking(move || trust_cfg.open())
            .await?
            .context("opening the trust service (its data comes from scripts/fetch-data)")?;
        let (keys, _) = trust.provenance.public_keys()?;
        let (l, trust_addr) = listener().await?;
        tokio::spawn(async move {
            report(
                "trust",
                generec_trust::grpc::serve(
                    trust,
                    None,
                    l,
                    &ServerConfig::default(),
                    &AuthConfig::default(),
                    std::future::pending(),
                )
                .await,
            );
        });

        let trusted_keys: Vec<String> = keys.into_iter().map(|k| k.public_key).collect();
        let corpus_cfg = CorpusConfig {
            data_dir: dir.path().join("corpus"),
            trusted_keys: trusted_keys.clone(),
            require_manifest_for_ai: true,
            ..CorpusConfig::default()
        };
        let corpus = tokio::task::spawn_blocking(move || -> Result<Arc<Corpus>> {
            let corpus = Corpus::open(corpus_cfg)?;
            crate::serve::load_bbc(&corpus, &bbc)?;
            crate::serve::seed_interactions(&corpus, USERS)?;
            Ok(corpus)
        })
        .await??;
        let (l, corpus_addr) = listener().await?;
        let serving = corpus.clone();
        tokio::spawn(async move {
            report(
                "corpus",
                generec_corpus::grpc::serve(
                    serving,
                    l,
                    &ServerConfig::default(),
                    &AuthConfig::default(),
                    std::future::pending(),
                )
                .await,
            );
        });

        let gen_cfg = GenerationConfig {
            corpus_url: format!("http://{corpus_addr}"),
            models_dir: datasets.join("models").display().to_string(),
            ..GenerationConfig::default()
        };
        let models = {
            let c = gen_cfg.clone();
            tokio::task::spawn_blocking(move || c.load_models())
                .await?
                .context("loading the models")?
        };
        let has_lm = models.lm.is_some();
        let (gen_addr, core) = serve_generation(&gen_cfg, models.clone()).await?;
        let feed_cfg = generec_feed::FeedConfig {
            corpus_url: format!("http://{corpus_addr}"),
            trust_url: format!("http://{trust_addr}"),
            generation_url: format!("http://{gen_addr}"),
            loop_mode: options.loop_mode,
            ..generec_feed::FeedConfig::default()
        };
        let feed = serve_feed(feed_cfg.clone()).await?;
        let embedded_feed = if has_lm && options.embedded_feed {
            let cfg = GenerationConfig {
                default_backend: Backend::Embedded,
                ..gen_cfg.clone()
            };
            let (addr, _) = serve_generation(&cfg, models).await?;
            Some(
                serve_feed(generec_feed::FeedConfig {
                    generation_url: format!("http://{addr}"),
                    // The model writes on the CPU: give a job time to finish.
                    background_timeout_ms: PENDING_WAIT.as_millis() as u64,
                    ..feed_cfg
                })
                .await?,
            )
        } else {
            None
        };
        Ok(Platform {
            _dir: dir,
            corpus,
            corpus_addr,
            feed,
            trust: trust_addr,
            trusted_keys,
            embedded_feed,
            generators: core.generators(),
            relevance: core.relevance().to_string(),
        })
    }
}

fn get_feed(
    user: String,
    instruction: &str,
    timeout: Option<Duration>,
) -> tonic::Request<pb::GetFeedRequest> {
    let mut r = tonic::Request::new(pb::GetFeedRequest {
        user_id: user,
        count: COUNT,
        instruction: instruction.to_string(),
        context_item_id: String::new(),
    });
    if let Some(t) = timeout {
        r.set_timeout(t);
    }
    r
}

/// Counts of what the retrieve-only responses said.
#[derive(Default)]
struct Tally {
    degraded: AtomicU64,
    generated: AtomicU64,
    items: AtomicU64,
}

impl Tally {
    fn add(&self, r: &pb::GetFeedResponse) {
        if r.degraded {
            self.degraded.fetch_add(1, Ordering::Relaxed);
        }
        if r.generation != pb::GenerationStatus::None as i32 {
            self.generated.fetch_add(1, Ordering::Relaxed);
        }
        self.items
            .fetch_add(r.items.len() as u64, Ordering::Relaxed);
    }

    fn take(&self) -> (u64, u64, u64) {
        (
            self.degraded.swap(0, Ordering::Relaxed),
            self.generated.swap(0, Ordering::Relaxed),
            self.items.swap(0, Ordering::Relaxed),
        )
    }
}

/// What `generec bench feed` measures.
pub struct Plan {
    /// Requests in flight, one closed-loop measurement each.
    pub concurrency: Vec<usize>,
    /// Timed requests per closed-loop measurement.
    pub requests: usize,
    /// Open loop: requests per second.
    pub rate: u32,
    /// Open loop: seconds (0 skips it).
    pub seconds: f64,
    /// Whether to time the generate path.
    pub generate: bool,
}

async fn retrieve_path(p: &Platform, plan: &Plan) -> Result<()> {
    let ch = channel(p.feed).await?;
    let client = FeedServiceClient::new(ch.clone());
    let health = HealthClient::new(ch);
    let corpus = CorpusServiceClient::new(channel(p.corpus_addr).await?);
    let users: Arc<Vec<String>> = Arc::new((0..USERS).map(|u| format!("sim-{u:03}")).collect());
    let tally = Arc::new(Tally::default());

    // Warm-up: every user once, so every candidate's verdict is cached.
    let started = Instant::now();
    for u in users.iter() {
        let r = client
            .clone()
            .get_feed(get_feed(u.clone(), "", Some(Duration::from_secs(30))))
            .await?
            .into_inner();
        tally.add(&r);
    }
    let (degraded, generated, items) = tally.take();
    println!(
        "warm-up: {USERS} feeds in {:.1} s ({:.1} items each; {degraded} degraded, {generated} with a generation)",
        started.elapsed().as_secs_f64(),
        items as f64 / USERS as f64
    );

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
    let call_recommend = {
        let users = users.clone();
        move |k: usize| {
            let mut c = corpus.clone();
            let user = users[k % users.len()].clone();
            async move {
                c.recommend(corpus_pb::RecommendRequest {
                    user_id: user,
                    count: COUNT,
                    ..Default::default()
                })
                .await?;
                Ok(())
            }
        }
    };
    let call_feed = {
        let tally = tally.clone();
        let users = users.clone();
        move |k: usize| {
            let mut c = client.clone();
            let user = users[k % users.len()].clone();
            let tally = tally.clone();
            async move {
                let r = c.get_feed(get_feed(user, "", None)).await?.into_inner();
                tally.add(&r);
                Ok(())
            }
        }
    };
    let requests = plan.requests;
    for &c in &plan.concurrency {
        let warm = (requests / 4).max(c);
        closed_loop(c, warm, call_health.clone()).await?;
        let health = closed_loop(c, requests, call_health.clone()).await?;
        closed_loop(c, warm, call_recommend.clone()).await?;
        let recommend = closed_loop(c, requests, call_recommend.clone()).await?;
        closed_loop(c, warm, call_feed.clone()).await?;
        tally.take();
        let subject = closed_loop(c, requests, call_feed.clone()).await?;
        let (degraded, generated, items) = tally.take();
        println!();
        println!(
            "GetFeed, retrieve only ({USERS} simulated users, count {COUNT}, verdicts cached, default 2 s deadline), {requests} requests, {c} in flight"
        );
        print_comparison(
            "GetFeed RPC (retrieve only)",
            &subject,
            "Recommend RPC (count 10)",
            &recommend,
        );
        print_comparison(
            "GetFeed RPC (retrieve only)",
            &subject,
            "plain tonic unary (health)",
            &health,
        );
        println!(
            "{:.1} items per feed; {degraded} degraded responses; {generated} with a generation",
            items as f64 / requests as f64
        );
    }

    if plan.seconds > 0.0 {
        tally.take();
        let run = open_loop(plan.rate, plan.seconds, call_feed.clone()).await?;
        let (degraded, generated, items) = tally.take();
        let sent = run.latencies.len();
        let errors = run.errors;
        let first_error = run.first_error.clone().unwrap_or_default();
        let wall = run.wall;
        let mut sorted = run.latencies.clone();
        sorted.sort_unstable();
        let max = sorted.last().copied().unwrap_or_default();
        let p999 = sorted
            .get(((sorted.len() as f64 - 1.0) * 0.999).round() as usize)
            .copied()
            .unwrap_or_default();
        let s = summarise(run.latencies, wall);
        println!();
        println!(
            "GetFeed open loop: {} requests/s for {} s ({sent} sent), latency from each request's scheduled send time",
            plan.rate, plan.seconds
        );
        println!(
            "p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms; {:.0} answered per second; {errors} errors{}; {degraded} degraded; {generated} with a generation; {:.1} items per feed",
            ms(s.p50),
            ms(s.p99),
            ms(p999),
            ms(max),
            s.per_second,
            if errors > 0 {
                format!(" (first: {first_error})")
            } else {
                String::new()
            },
            items as f64 / sent.max(1) as f64
        );
    }
    Ok(())
}

/// What one generate-path request gave.
struct Made {
    latency: Duration,
    inline: bool,
    ok: bool,
    detail: String,
}

/// One GetFeed whose instruction makes the instructor create, for a fresh
/// user; the time until the item is in the user's hands (in the response,
/// or on WatchFeed when the response said pending).
async fn generate_once(
    client: &FeedServiceClient<Channel>,
    user: String,
    instruction: &str,
) -> Result<Made> {
    let mut c = client.clone();
    let mut events = c
        .watch_feed(pb::WatchFeedRequest {
            user_id: user.clone(),
        })
        .await?
        .into_inner();
    let t = Instant::now();
    let r = c
        .get_feed(get_feed(user, instruction, Some(GENERATE_DEADLINE)))
        .await?
        .into_inner();
    let created = r.decision.as_ref().map(|d| d.action) == Some(gen_pb::Action::Create as i32);
    if let Some(item) = r.items.iter().find(|i| i.made_for_you) {
        return Ok(Made {
            latency: t.elapsed(),
            inline: true,
            ok: created,
            detail: item.item_id.clone(),
        });
    }
    if r.generation != pb::GenerationStatus::Pending as i32 {
        return Ok(Made {
            latency: t.elapsed(),
            inline: true,
            ok: false,
            detail: format!(
                "{}: {}",
                pb::GenerationStatus::try_from(r.generation).map_or("unknown", |g| g.as_str_name()),
                r.generation_detail
            ),
        });
    }
    let event = tokio::time::timeout(PENDING_WAIT, events.message())
        .await
        .context("a pending generation did not finish in time")??
        .context("WatchFeed closed")?;
    let ok = event.kind == pb::FeedEventKind::ItemReady as i32;
    Ok(Made {
        latency: t.elapsed(),
        inline: false,
        ok,
        detail: if ok {
            event.item.map(|i| i.item_id).unwrap_or_default()
        } else {
            event.reason
        },
    })
}

async fn generate_path(name: &str, feed: SocketAddr) -> Result<()> {
    let client = FeedServiceClient::new(channel(feed).await?);
    // One warm-up generation, not counted.
    let warm = generate_once(&client, format!("bench-{name}-warm"), DIGESTS[0]).await?;
    if !warm.ok {
        println!("  ({name} warm-up made nothing: {})", warm.detail);
    }
    let mut runs = Vec::new();
    for k in 0..GENERATE_USERS {
        let user = format!("bench-{name}-{k}");
        runs.push(generate_once(&client, user, DIGESTS[k % DIGESTS.len()]).await?);
    }
    // Every attempt counts: a draft trust refused still went through the
    // back-end, the review and the response.
    let mut lat: Vec<Duration> = runs.iter().map(|r| r.latency).collect();
    lat.sort_unstable();
    let p50 = lat[(lat.len() - 1) / 2];
    let max = lat[lat.len() - 1];
    let made = runs.iter().filter(|r| r.ok).count();
    let inline = runs.iter().filter(|r| r.inline).count();
    println!(
        "| {:<34} | {:>4} of {:<2} | {:>9.0} | {:>9.0} | {:>6} |",
        format!("GetFeed + create ({name})"),
        made,
        runs.len(),
        ms(p50),
        ms(max),
        inline
    );
    for r in runs.iter().filter(|r| !r.ok) {
        println!("  nothing made: {}", r.detail);
    }
    Ok(())
}

/// Runs the benchmark.
pub async fn bench_feed(datasets: &Path, plan: Plan) -> Result<()> {
    if plan.requests == 0 || plan.concurrency.is_empty() || plan.concurrency.contains(&0) {
        bail!("--concurrency needs positive values and --requests must be positive");
    }
    if plan.seconds > 0.0 && (plan.rate == 0 || !plan.seconds.is_finite()) {
        bail!(
            "--rate must be positive and --seconds finite for the open loop (--seconds 0 skips it)"
        );
    }
    let started = Instant::now();
    let p = Platform::start(datasets).await?;
    let stats = p.corpus.stats()?;
    println!(
        "platform up in {:.1} s: {} items, {} interactions; generators {}; relevance {}",
        started.elapsed().as_secs_f64(),
        stats.items,
        stats.interactions,
        p.generators.join(", "),
        p.relevance
    );
    retrieve_path(&p, &plan).await?;
    if !plan.generate {
        return Ok(());
    }

    println!();
    println!(
        "Generate path: GetFeed with \"a digest of the ... markets\" for {GENERATE_USERS} fresh users per back-end, one at a time"
    );
    println!(
        "(time until the created item is in hand, or until the feed says why not: in the response, or on WatchFeed when it said pending; one warm-up first)"
    );
    println!(
        "| {:<34} | {:>10} | {:>9} | {:>9} | {:>6} |",
        "", "made", "p50 ms", "max ms", "inline"
    );
    println!(
        "|{:-<36}|{:->12}|{:->11}|{:->11}|{:->8}|",
        "", "", "", "", ""
    );
    generate_path("composer", p.feed).await?;
    match p.embedded_feed {
        Some(addr) => generate_path("embedded", addr).await?,
        None => {
            println!("(the embedded model is not loaded: run scripts/fetch-models for its row)")
        }
    }
    Ok(())
}
