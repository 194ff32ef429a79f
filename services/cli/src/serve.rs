//! `generec up` and `generec serve`: start services in this process.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use generec_corpus::Corpus;
use generec_corpus::corpus::PutOutcome;

use crate::config::{AppConfig, ServeFlags};

/// The services `generec serve` can run.
#[derive(clap::Subcommand)]
pub enum Service {
    /// The corpus service: items, search, feedback, recommendations.
    Corpus(ServeFlags),
    /// The trust service: policy checks on content.
    Trust(ServeFlags),
    /// The generation service: the instructor, the editor and the creator
    /// (reads the corpus named by `[generation] corpus_url`).
    Generation(ServeFlags),
    /// The feed service: joins corpus, generation and trust (at the
    /// addresses of `[feed]`).
    Feed(ServeFlags),
}

/// Flags of `generec up`.
#[derive(clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    flags: ServeFlags,
    /// Where scripts/fetch-data put the datasets.
    #[arg(long, env = "GENEREC_DATA", default_value = ".data")]
    datasets: PathBuf,
    /// Start with whatever the corpus holds; load nothing.
    #[arg(long)]
    no_load: bool,
    /// Where the trust service listens (default: the corpus port + 1).
    #[arg(long)]
    trust_listen: Option<std::net::SocketAddr>,
    /// Where the generation service listens (default: the corpus port + 2).
    #[arg(long)]
    generation_listen: Option<std::net::SocketAddr>,
    /// Where the feed service listens (default: the corpus port + 3).
    #[arg(long)]
    feed_listen: Option<std::net::SocketAddr>,
}

/// Opens the generation core (loading the models that are present) off the
/// async runtime.
async fn open_generation(
    cfg: &generec_generation::config::GenerationConfig,
) -> Result<Arc<generec_generation::service::Generation>> {
    let cfg = cfg.clone();
    let core = tokio::task::spawn_blocking(move || cfg.open())
        .await?
        .context("opening the generation service")?;
    Ok(Arc::new(core))
}

/// `addr` with its port moved by `by` (0 stays 0: any free port).
fn next_port(addr: std::net::SocketAddr, by: u16) -> std::net::SocketAddr {
    let mut a = addr;
    a.set_port(if addr.port() == 0 {
        0
    } else {
        addr.port().saturating_add(by)
    });
    a
}

async fn open_corpus(cfg: &AppConfig) -> Result<Arc<Corpus>> {
    let corpus_cfg = cfg.corpus.clone();
    let dir = corpus_cfg.data_dir.display().to_string();
    tokio::task::spawn_blocking(move || Corpus::open(corpus_cfg))
        .await?
        .with_context(|| format!("opening the corpus in {dir}"))
}

/// Starts `/metrics` where the server configuration says, and says where.
async fn start_metrics(
    server: &generec_common::config::ServerConfig,
) -> Result<Option<std::net::SocketAddr>> {
    let Some(addr) = server.metrics_addr() else {
        return Ok(None);
    };
    let bound = generec_common::metrics::start(addr)
        .await
        .with_context(|| format!("cannot serve /metrics on {addr} (set server.metrics_listen or server.metrics = false)"))?;
    Ok(Some(bound))
}

fn print_metrics(addr: Option<std::net::SocketAddr>) {
    if let Some(a) = addr {
        println!("metrics on http://{a}/metrics");
    }
}

async fn run(
    corpus: Arc<Corpus>,
    cfg: &AppConfig,
    banner: impl FnOnce(std::net::SocketAddr),
) -> Result<()> {
    let listener = generec_common::server::bind(cfg.server.listen).await?;
    let addr = listener.local_addr()?;
    let metrics = start_metrics(&cfg.server).await?;
    // Before the banner: the banner is the last line a supervisor (or a
    // test) waiting for "listening on" needs to read.
    print_metrics(metrics);
    banner(addr);
    generec_corpus::grpc::serve(
        corpus,
        listener,
        &cfg.server,
        &cfg.auth,
        generec_common::server::shutdown_signal(),
    )
    .await?;
    tracing::info!("stopped");
    Ok(())
}

/// `generec serve SERVICE`.
pub async fn serve(service: Service) -> Result<()> {
    match service {
        Service::Corpus(flags) => {
            let cfg = flags.resolve()?;
            if cfg.server.metrics {
                generec_common::metrics::install();
            }
            let corpus = open_corpus(&cfg).await?;
            if !cfg.corpus.trust_url.is_empty() {
                let source = remote_key_source(
                    &cfg.corpus.trust_url,
                    std::env::var("GENEREC_CORPUS_TRUST_TOKEN").ok(),
                )?;
                // The source blocks on a gRPC call: off the async runtime.
                let c = corpus.clone();
                tokio::task::spawn_blocking(move || c.set_key_source(source)).await?;
            }
            run(corpus, &cfg, |addr| {
                println!("corpus listening on {addr}");
                tracing::info!(%addr, "corpus service listening");
            })
            .await
        }
        Service::Trust(flags) => {
            let cfg = flags.resolve()?;
            let trust = cfg.trust.clone();
            let trust = tokio::task::spawn_blocking(move || trust.open())
                .await?
                .context("opening the trust service")?;
            let listener = generec_common::server::bind(cfg.server.listen).await?;
            let addr = listener.local_addr()?;
            let bundle = trust.reviewer.bundle();
            print_metrics(start_metrics(&cfg.server).await?);
            println!("trust listening on {addr}");
            tracing::info!(%addr, version = %bundle.version, hash = %bundle.hash, "trust service listening");
            generec_trust::grpc::serve(
                trust,
                cfg.trust.bundle.clone(),
                listener,
                &cfg.server,
                &cfg.auth,
                generec_common::server::shutdown_signal(),
            )
            .await?;
            Ok(())
        }
        Service::Feed(flags) => {
            let cfg = flags.resolve()?;
            let token = std::env::var(&cfg.feed.token_env)
                .ok()
                .filter(|t| !t.is_empty());
            let feed =
                generec_feed::Feed::new(cfg.feed.clone(), token).context("starting the feed")?;
            let listener = generec_common::server::bind(cfg.server.listen).await?;
            let addr = listener.local_addr()?;
            print_metrics(start_metrics(&cfg.server).await?);
            println!(
                "feed listening on {addr} (corpus {}, trust {}, generation {})",
                cfg.feed.corpus_url, cfg.feed.trust_url, cfg.feed.generation_url
            );
            generec_feed::grpc::serve(
                feed,
                listener,
                &cfg.server,
                &cfg.auth,
                generec_common::server::shutdown_signal(),
            )
            .await?;
            Ok(())
        }
        Service::Generation(flags) => {
            let cfg = flags.resolve()?;
            let core = open_generation(&cfg.generation).await?;
            let listener = generec_common::server::bind(cfg.server.listen).await?;
            let addr = listener.local_addr()?;
            print_metrics(start_metrics(&cfg.server).await?);
            println!(
                "generation listening on {addr} (generators {}; relevance {}; corpus {})",
                core.generators().join(", "),
                core.relevance(),
                cfg.generation.corpus_url
            );
            generec_generation::grpc::serve(
                core,
                listener,
                &cfg.server,
                &cfg.auth,
                generec_common::server::shutdown_signal(),
            )
            .await?;
            Ok(())
        }
    }
}

/// Fetches the trust service's public keys over gRPC for the corpus (see
/// `corpus.trust_url`). It blocks on the call, so it must run off the
/// async runtime: the corpus calls it from its blocking threads.
fn remote_key_source(
    url: &str,
    token: Option<String>,
) -> Result<generec_corpus::corpus::KeySource> {
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_string())
        .with_context(|| format!("corpus.trust_url {url:?} is not a URL"))?;
    let bearer = generec_common::auth::Bearer::new(token.as_deref())?;
    let handle = tokio::runtime::Handle::current();
    Ok(Arc::new(move || {
        let endpoint = endpoint.clone();
        let bearer = bearer.clone();
        handle.block_on(async move {
            use generec_proto::trust::v1 as pb;
            let channel = endpoint
                .connect_timeout(std::time::Duration::from_secs(3))
                .connect()
                .await
                .map_err(|e| e.to_string())?;
            let mut client =
                pb::trust_service_client::TrustServiceClient::with_interceptor(channel, bearer);
            let keys = client
                .get_public_keys(pb::GetPublicKeysRequest {})
                .await
                .map_err(|e| e.message().to_string())?
                .into_inner();
            Ok(crate::audit::keys_from(keys.keys))
        })
    }))
}

/// Loads the openly licensed texts `scripts/fetch-data` leaves (Jane
/// Austen's novels by chapter, public domain) when present; 0 when not.
pub(crate) fn load_open_texts(corpus: &Corpus, jsonl: &Path) -> Result<usize> {
    if !jsonl.is_file() {
        tracing::warn!(path = %jsonl.display(), "no openly licensed texts; run scripts/fetch-data to add them");
        return Ok(0);
    }
    let file = std::fs::File::open(jsonl)?;
    let items = generec_corpus::load::read_jsonl(std::io::BufReader::new(file))?;
    put_all(corpus, &items)
}

/// Loads the BBC articles of `dir` into `corpus` and trains the models.
pub(crate) fn load_bbc(corpus: &Corpus, dir: &Path) -> Result<usize> {
    let items = generec_corpus::load::read_bbc(dir)?;
    let created = put_all(corpus, &items)?;
    corpus.train_now()?;
    Ok(created)
}

/// Stores items in batches; any refused item is an error naming it.
/// Returns how many were created or updated.
fn put_all(corpus: &Corpus, items: &[generec_corpus::model::Item]) -> Result<usize> {
    let mut created = 0;
    for chunk in items.chunks(500) {
        let entries = chunk
            .iter()
            .map(|i| (i.id.to_string(), Ok(i.clone())))
            .collect();
        for result in corpus.put_items(entries)? {
            match result.outcome {
                PutOutcome::Rejected(why) => bail!("item {} rejected: {why}", result.id),
                PutOutcome::Created | PutOutcome::Updated => created += 1,
                PutOutcome::Unchanged => {}
            }
        }
    }
    Ok(created)
}

/// Simulated users for a fresh platform: each likes a few articles of one
/// or two favourite categories and skips one of another, so collaborative
/// ranking has something to learn from. Deterministic.
pub(crate) fn seed_interactions(corpus: &Corpus, users: usize) -> Result<u64> {
    use generec_corpus::model::{EventType, FeedbackEvent, ItemId, UserId};
    let categories = ["business", "entertainment", "politics", "sport", "tech"];
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let now = generec_common::now_unix_ms();
    let mut events = Vec::new();
    for u in 0..users {
        let user = UserId::parse(&format!("sim-{u:03}"))?;
        let favourites = [next(categories.len()), next(categories.len())];
        for k in 0..12 {
            let cat = categories[favourites[k % 2]];
            let id = format!("bbc-{cat}-{:03}", 1 + next(80));
            let Ok(item) = ItemId::parse(&id) else {
                continue;
            };
            if corpus.get_item(&item).is_err() {
                continue;
            }
            let kind = if k % 3 == 0 {
                EventType::Like
            } else {
                EventType::Click
            };
            events.push(FeedbackEvent {
                user: user.clone(),
                item,
                kind,
                value: 0.0,
                timestamp_unix_ms: now - (k as i64) * 60_000,
            });
        }
        let other = categories[(favourites[0] + 2) % categories.len()];
        if let Ok(item) = ItemId::parse(&format!("bbc-{other}-{:03}", 1 + next(80)))
            && corpus.get_item(&item).is_ok()
        {
            events.push(FeedbackEvent {
                user: user.clone(),
                item,
                kind: EventType::Skip,
                value: 0.0,
                timestamp_unix_ms: now,
            });
        }
    }
    let mut n = 0;
    for chunk in events.chunks(500) {
        n += corpus.record_feedback(chunk.to_vec())?;
    }
    corpus.train_now()?;
    Ok(n)
}

/// `generec up`: all four services in this process on the embedded
/// defaults, with the BBC corpus and simulated users on first start.
pub async fn up(args: UpArgs) -> Result<()> {
    let mut cfg = args.flags.resolve()?;
    if cfg.server.metrics {
        // Before the corpus opens, so its first training is counted.
        generec_common::metrics::install();
    }
    // Access control is on by default: one token per role, made on first
    // start, unless the configuration names its own tokens.
    let made_tokens = cfg.auth.tokens.is_empty();
    if made_tokens {
        cfg.auth = crate::tokens::ensure(&cfg.data_root())
            .context("creating the platform's access tokens")?;
    }
    let internal_token =
        crate::tokens::for_role(None, &cfg.data_root(), generec_common::auth::Role::Internal);

    // Trust first: the corpus accepts generated items only with manifests
    // signed by one of its keys.
    let mut trust_cfg = cfg.trust.clone();
    trust_cfg.assets_dir = args.datasets.clone();
    let trust = tokio::task::spawn_blocking(move || trust_cfg.open())
        .await?
        .context("opening the trust service (its data comes from scripts/fetch-data)")?;
    let (keys, _) = trust
        .provenance
        .public_keys()
        .context("reading the trust service's public keys")?;
    for k in keys {
        if !cfg.corpus.trusted_keys.contains(&k.public_key) {
            cfg.corpus.trusted_keys.push(k.public_key);
        }
    }

    let corpus = open_corpus(&cfg).await?;
    // After a rotation the corpus learns the new key from trust itself.
    let provenance = trust.provenance.clone();
    corpus.set_key_source(Arc::new(move || {
        provenance
            .public_keys()
            .map(|(keys, _)| keys)
            .map_err(|e| e.to_string())
    }));
    let stats = corpus.stats()?;
    if stats.items == 0 && !args.no_load {
        let bbc = args.datasets.join("bbc");
        if !bbc.is_dir() {
            bail!(
                "the BBC corpus is not at {}; run scripts/fetch-data first (or pass --datasets DIR, or --no-load)",
                bbc.display()
            );
        }
        let austen = args.datasets.join("austen").join("items.jsonl");
        let c = corpus.clone();
        let started = std::time::Instant::now();
        let (n, events) = tokio::task::spawn_blocking(move || -> Result<(usize, u64)> {
            let mut n = load_bbc(&c, &bbc)?;
            n += load_open_texts(&c, &austen)?;
            let events = seed_interactions(&c, 60)?;
            Ok((n, events))
        })
        .await??;
        tracing::info!(
            items = n,
            events,
            secs = started.elapsed().as_secs_f64(),
            "loaded the BBC corpus (all rights reserved), the openly licensed texts present, and simulated users"
        );
    }
    let stats = corpus.stats()?;

    let corpus_listener = generec_common::server::bind(cfg.server.listen).await?;
    let corpus_addr = corpus_listener.local_addr()?;
    let trust_addr = args
        .trust_listen
        .unwrap_or_else(|| next_port(corpus_addr, 1));
    let trust_listener = generec_common::server::bind(trust_addr).await?;
    let trust_addr = trust_listener.local_addr()?;
    let generation_addr = args
        .generation_listen
        .unwrap_or_else(|| next_port(corpus_addr, 2));
    let generation_listener = generec_common::server::bind(generation_addr).await?;
    let generation_addr = generation_listener.local_addr()?;
    let feed_addr = args
        .feed_listen
        .unwrap_or_else(|| next_port(corpus_addr, 3));
    let feed_listener = generec_common::server::bind(feed_addr).await?;
    let feed_addr = feed_listener.local_addr()?;
    // One process, one recorder: the four services share one endpoint,
    // each call labelled with its service.
    let metrics_addr = start_metrics(&cfg.server).await?;

    let mut generation_cfg = cfg.generation.clone();
    generation_cfg.corpus_url = format!("http://{corpus_addr}");
    if made_tokens {
        generation_cfg.corpus_token = internal_token
            .clone()
            .map(generec_common::auth::BearerToken::new);
    }
    if generation_cfg.models_dir.is_empty() {
        generation_cfg.models_dir = args.datasets.join("models").display().to_string();
    }
    // The creator plans against the licence rules trust holds it to.
    if generation_cfg.licence_bundle.is_empty()
        && let Some(bundle) = &cfg.trust.bundle
    {
        generation_cfg.licence_bundle = bundle.display().to_string();
    }
    let generation = open_generation(&generation_cfg).await?;
    let generators = generation.generators().join(", ");
    let relevance = generation.relevance();
    let mut feed_cfg = cfg.feed.clone();
    feed_cfg.corpus_url = format!("http://{corpus_addr}");
    feed_cfg.trust_url = format!("http://{trust_addr}");
    feed_cfg.generation_url = format!("http://{generation_addr}");
    let feed_token = if made_tokens {
        internal_token.clone()
    } else {
        std::env::var(&feed_cfg.token_env)
            .ok()
            .filter(|t| !t.is_empty())
    };
    let feed = generec_feed::Feed::new(feed_cfg, feed_token).context("starting the feed")?;
    let bundle = trust.reviewer.bundle();

    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let stopped = |tx: &tokio::sync::broadcast::Sender<()>| {
        let mut rx = tx.subscribe();
        async move {
            let _ = rx.recv().await;
        }
    };
    let trust_task = tokio::spawn({
        let server = cfg.server.clone();
        let auth = cfg.auth.clone();
        let bundle_path = cfg.trust.bundle.clone();
        let stop = stopped(&stop_tx);
        async move {
            generec_trust::grpc::serve(trust, bundle_path, trust_listener, &server, &auth, stop)
                .await
        }
    });
    let generation_task = tokio::spawn({
        let server = cfg.server.clone();
        let auth = cfg.auth.clone();
        let stop = stopped(&stop_tx);
        async move {
            generec_generation::grpc::serve(generation, generation_listener, &server, &auth, stop)
                .await
        }
    });
    let feed_task = tokio::spawn({
        let server = cfg.server.clone();
        let auth = cfg.auth.clone();
        let stop = stopped(&stop_tx);
        async move { generec_feed::grpc::serve(feed, feed_listener, &server, &auth, stop).await }
    });
    let corpus_task = tokio::spawn({
        let server = cfg.server.clone();
        let auth = cfg.auth.clone();
        let stop = stopped(&stop_tx);
        async move { generec_corpus::grpc::serve(corpus, corpus_listener, &server, &auth, stop).await }
    });

    let data_dir = cfg.corpus.data_dir.display().to_string();
    let trust_dir = cfg.trust.data_dir.display().to_string();
    let exe = std::env::args().next().unwrap_or_else(|| "generec".into());
    let addr = corpus_addr;
    println!("generec is up.");
    println!(
        "  corpus     grpc://{addr}   ({} items, {} interactions)",
        stats.items, stats.interactions
    );
    println!(
        "  trust      grpc://{trust_addr}   (bundle {} {})",
        bundle.version,
        &bundle.hash[..12]
    );
    println!("  generation grpc://{generation_addr}   ({generators}; relevance {relevance})");
    println!("  feed       grpc://{feed_addr}");
    if let Some(m) = metrics_addr {
        println!("  metrics    http://{m}/metrics   (all four services)");
    }
    println!("  data       {data_dir}, {trust_dir}");
    let root = cfg.data_root();
    if made_tokens {
        println!(
            "  access     on: one token per role in {} (mode 0600); the CLI reads them from there",
            crate::tokens::dir(&root).display()
        );
        println!(
            "             auditors: {}   compliance: {}",
            crate::tokens::path(&root, generec_common::auth::Role::Auditor).display(),
            crate::tokens::path(&root, generec_common::auth::Role::Compliance).display()
        );
    } else {
        println!("  access     on: the tokens of [auth] in the configuration");
    }
    let internal = crate::tokens::path(&root, generec_common::auth::Role::Internal);
    println!();
    println!("Try, from another terminal:");
    println!(
        "  {exe} demo --feed http://{feed_addr} --trust http://{trust_addr} --corpus http://{addr} --data-dir {}",
        root.display()
    );
    println!(
        "  grpcurl -plaintext -H \"authorization: Bearer $(cat {})\" -d '{{\"user_id\":\"alice\",\"count\":5,\"instruction\":\"less politics, more tech\"}}' {feed_addr} generec.feed.v1.FeedService/GetFeed",
        internal.display()
    );
    println!(
        "  {exe} interpret 'a two-minute digest of this week'\"'\"'s markets, nothing about football'"
    );
    let dir_flag = if root == std::path::Path::new("generec-data") {
        String::new()
    } else {
        format!(" --data-dir {}", root.display())
    };
    println!("  {exe} search --addr http://{addr}{dir_flag} 'economy AND growth'");
    println!("  {exe} recommend --addr http://{addr}{dir_flag} --user sim-001");
    println!("  echo 'Call me on 020 7946 0018' | {exe} review -");
    println!(
        "  {exe} audit trust-root --addr http://{trust_addr}{dir_flag} -o trust-root.json   # what auditors pin"
    );
    println!();
    println!("Ctrl-C stops it; the data stays in {data_dir} and {trust_dir}.");

    let servers = async { tokio::join!(trust_task, corpus_task, generation_task, feed_task) };
    tokio::pin!(servers);
    let results = tokio::select! {
        _ = generec_common::server::shutdown_signal() => {
            let _ = stop_tx.send(());
            let (t, c, g, f) = servers.await;
            (t, c, g, f, false)
        }
        (t, c, g, f) = &mut servers => (t, c, g, f, true),
    };
    let (t, c, g, f, unexpected) = results;
    t??;
    c??;
    g??;
    f??;
    if unexpected {
        bail!("the servers stopped unexpectedly");
    }
    tracing::info!("stopped");
    Ok(())
}
