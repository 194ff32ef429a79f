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

async fn run(
    corpus: Arc<Corpus>,
    cfg: &AppConfig,
    banner: impl FnOnce(std::net::SocketAddr),
) -> Result<()> {
    let listener = generec_common::server::bind(cfg.server.listen).await?;
    let addr = listener.local_addr()?;
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
            let corpus = open_corpus(&cfg).await?;
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
        Service::Generation(flags) => {
            let cfg = flags.resolve()?;
            let core = open_generation(&cfg.generation).await?;
            let listener = generec_common::server::bind(cfg.server.listen).await?;
            let addr = listener.local_addr()?;
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

/// Loads the BBC articles of `dir` into `corpus` and trains the models.
pub(crate) fn load_bbc(corpus: &Corpus, dir: &Path) -> Result<usize> {
    let items = generec_corpus::load::read_bbc(dir)?;
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
    corpus.train_now()?;
    Ok(created)
}

/// `generec up`: the corpus on the embedded defaults with the BBC corpus.
pub async fn up(args: UpArgs) -> Result<()> {
    let cfg = args.flags.resolve()?;
    let corpus = open_corpus(&cfg).await?;
    let stats = corpus.stats()?;
    if stats.items == 0 && !args.no_load {
        let bbc = args.datasets.join("bbc");
        if !bbc.is_dir() {
            bail!(
                "the BBC corpus is not at {}; run scripts/fetch-data first (or pass --datasets DIR, or --no-load)",
                bbc.display()
            );
        }
        let c = corpus.clone();
        let started = std::time::Instant::now();
        let n = tokio::task::spawn_blocking(move || load_bbc(&c, &bbc)).await??;
        tracing::info!(
            items = n,
            secs = started.elapsed().as_secs_f64(),
            "loaded the BBC corpus"
        );
    }
    let stats = corpus.stats()?;

    // The trust service beside it, with the same datasets folder for its
    // classifier and word lists.
    let mut trust_cfg = cfg.trust.clone();
    trust_cfg.assets_dir = args.datasets.clone();
    let trust = tokio::task::spawn_blocking(move || trust_cfg.open())
        .await?
        .context("opening the trust service (its data comes from scripts/fetch-data)")?;
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
    let mut generation_cfg = cfg.generation.clone();
    generation_cfg.corpus_url = format!("http://{corpus_addr}");
    if generation_cfg.models_dir.is_empty() {
        generation_cfg.models_dir = args.datasets.join("models").display().to_string();
    }
    let generation = open_generation(&generation_cfg).await?;
    let generators = generation.generators().join(", ");
    let relevance = generation.relevance();
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
        "  corpus   grpc://{addr}   ({} items, {} interactions)",
        stats.items, stats.interactions
    );
    println!(
        "  trust    grpc://{trust_addr}   (bundle {} {})",
        bundle.version,
        &bundle.hash[..12]
    );
    println!("  generation grpc://{generation_addr}   ({generators}; relevance {relevance})");
    println!("  data     {data_dir}, {trust_dir}");
    println!();
    println!("Try, from another terminal:");
    println!("  {exe} search --addr http://{addr} 'economy AND growth'");
    println!("  {exe} recommend --addr http://{addr} --user alice --text 'football'");
    println!("  {exe} load --addr http://{addr} movielens .data/ml-100k");
    println!("  {exe} stats --addr http://{addr}");
    println!("  echo 'Call me on 020 7946 0018' | {exe} review -");
    println!(
        "  grpcurl -plaintext -d '{{\"query\":\"election\",\"limit\":3}}' {addr} generec.corpus.v1.CorpusService/Search"
    );
    println!("  grpcurl -plaintext {trust_addr} generec.trust.v1.TrustService/GetCheckpoint");
    println!("  {exe} interpret 'a two-minute digest of this week's markets, nothing about football'");
    println!(
        "  grpcurl -plaintext -d '{{\"guidance\":{{\"fact_query\":\"stock markets\",\"format\":\"FORMAT_DIGEST\"}}}}' {generation_addr} generec.generation.v1.Generation/Create"
    );
    println!();
    println!("Ctrl-C stops it; the data stays in {data_dir} and {trust_dir}.");

    let servers = async { tokio::join!(trust_task, corpus_task, generation_task) };
    tokio::pin!(servers);
    tokio::select! {
        _ = generec_common::server::shutdown_signal() => {
            let _ = stop_tx.send(());
            let (t, c, g) = servers.await;
            t??;
            c??;
            g??;
        }
        (t, c, g) = &mut servers => {
            t??;
            c??;
            g??;
            bail!("the servers stopped unexpectedly");
        }
    }
    tracing::info!("stopped");
    Ok(())
}
