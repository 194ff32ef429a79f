//! Test harness for end-to-end tests: starts real generec services over
//! gRPC on 127.0.0.1:0 with their data in a temporary folder, and stops
//! them again (gracefully, so a restart can reopen the same folder).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use generec_common::auth::AuthConfig;
use generec_common::config::ServerConfig;
use generec_corpus::{Corpus, CorpusConfig};
use generec_proto::corpus::v1::corpus_service_client::CorpusServiceClient;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// A corpus service running in this process.
pub struct CorpusServer {
    pub addr: SocketAddr,
    pub corpus: Arc<Corpus>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Corpus settings for tests: data in `dir`, quick retraining.
pub fn test_config(dir: &Path) -> CorpusConfig {
    CorpusConfig {
        data_dir: dir.to_path_buf(),
        retrain_interval_ms: 100,
        item_debounce_ms: 50,
        item_retrain_interval_ms: 50,
        // Most tests store items directly; the feed's stack turns the
        // manifest check back on with trust's keys.
        require_manifest_for_ai: false,
        ..CorpusConfig::default()
    }
}

impl CorpusServer {
    /// Opens a corpus with `config` and serves it on a free loopback port.
    pub async fn start(config: CorpusConfig) -> CorpusServer {
        let corpus = tokio::task::spawn_blocking(move || Corpus::open(config))
            .await
            .expect("open task")
            .expect("open corpus");
        Self::serve(corpus, ServerConfig::default()).await
    }

    /// Serves an open corpus with the given server settings (the listen
    /// address is replaced by 127.0.0.1:0).
    pub async fn serve(corpus: Arc<Corpus>, server: ServerConfig) -> CorpusServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = corpus.clone();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            generec_corpus::grpc::serve(
                serving,
                listener,
                &server,
                &AuthConfig::default(),
                shutdown,
            )
            .await
            .expect("serve");
        });
        CorpusServer {
            addr,
            corpus,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A client connected to this server.
    pub async fn client(&self) -> CorpusServiceClient<Channel> {
        self.client_with_limit(64 * 1024 * 1024).await
    }

    /// A client whose own message limits are `bytes`, to test server limits.
    pub async fn client_with_limit(&self, bytes: usize) -> CorpusServiceClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .expect("connect");
        CorpusServiceClient::new(channel)
            .max_decoding_message_size(bytes)
            .max_encoding_message_size(bytes)
    }

    /// Stops the server and waits until the corpus is closed, so its folder
    /// can be opened again.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let mut corpus = self.corpus.clone();
        drop(self);
        // The background trainer holds only short-lived references.
        for _ in 0..200 {
            match Arc::try_unwrap(corpus) {
                Ok(inner) => {
                    drop(inner);
                    return;
                }
                Err(shared) => {
                    corpus = shared;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        panic!("the corpus is still referenced after the server stopped");
    }
}

impl Drop for CorpusServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Where scripts/fetch-data puts datasets in this checkout, if present.
pub fn dataset(name: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.data")
        .join(name);
    dir.is_dir().then_some(dir)
}

/// A trust service running in this process.
pub struct TrustServer {
    pub addr: SocketAddr,
    pub trust: generec_trust::Trust,
    stop: Option<oneshot::Sender<()>>,
}

/// Trust settings for tests: registry in `dir`, bundle data from the
/// checkout's `.data`, and an optional bundle file.
pub fn trust_config(dir: &Path, bundle: Option<PathBuf>) -> generec_trust::TrustConfig {
    generec_trust::TrustConfig {
        data_dir: dir.to_path_buf(),
        bundle,
        assets_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../.data"),
        ..generec_trust::TrustConfig::default()
    }
}

impl TrustServer {
    /// Opens the trust service with `config` and serves it on a free
    /// loopback port, with access control off.
    pub async fn start(config: generec_trust::TrustConfig) -> TrustServer {
        Self::start_with_auth(config, AuthConfig::default()).await
    }

    /// Like [`TrustServer::start`], with bearer tokens and roles.
    pub async fn start_with_auth(
        config: generec_trust::TrustConfig,
        auth: AuthConfig,
    ) -> TrustServer {
        let bundle_path = config.bundle.clone();
        let trust = tokio::task::spawn_blocking(move || config.open())
            .await
            .expect("open task")
            .expect("open trust");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = trust.clone();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            generec_trust::grpc::serve(
                serving,
                bundle_path,
                listener,
                &ServerConfig::default(),
                &auth,
                shutdown,
            )
            .await
            .expect("serve");
        });
        TrustServer {
            addr,
            trust,
            stop: Some(stop),
        }
    }

    /// A client connected to this server.
    pub async fn client(
        &self,
    ) -> generec_proto::trust::v1::trust_service_client::TrustServiceClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        generec_proto::trust::v1::trust_service_client::TrustServiceClient::new(channel)
    }
}

impl Drop for TrustServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Loads every BBC article of `.data/bbc` into `corpus` and trains the
/// ranking models; returns how many were stored. `None` when the dataset is
/// missing (run scripts/fetch-data).
pub async fn load_bbc(corpus: Arc<Corpus>) -> Option<usize> {
    let dir = dataset("bbc")?;
    tokio::task::spawn_blocking(move || {
        let items = generec_corpus::load::read_bbc(&dir).expect("read bbc");
        let n = items.len();
        for chunk in items.chunks(500) {
            let entries = chunk
                .iter()
                .map(|i| (i.id.to_string(), Ok(i.clone())))
                .collect();
            corpus.put_items(entries).expect("put bbc");
        }
        corpus.train_now().expect("train");
        Some(n)
    })
    .await
    .expect("load task")
}

/// The BBC articles as the licence rules see them (each with its licence
/// and creator as the loader records them), to measure what generated
/// text copies from any of them.
pub fn bbc_sources() -> Option<Vec<generec_licence::Source>> {
    let dir = dataset("bbc")?;
    let items = generec_corpus::load::read_bbc(&dir).expect("read bbc");
    Some(items.into_iter().map(|i| i.licence_source()).collect())
}

/// Asserts that generated `text` copies no more from any BBC article than
/// the default licence rules allow, names every source it quotes, and
/// carries the licence those rules compute; returns that licence.
pub fn assert_within_bbc_allowance(text: &str, licence: &str) -> String {
    let Some(sources) = bbc_sources() else {
        return licence.to_string();
    };
    let policy = generec_licence::Policy::default();
    let assessment = generec_licence::assess(&policy, text, &sources, &[]);
    for u in assessment.sources.iter().filter(|u| u.copied_words > 0) {
        assert_eq!(
            u.excess_words(),
            0,
            "copies {} words from {} ({}): {text}",
            u.copied_words,
            u.item_id,
            u.licence
        );
        // A source is quoted when a real passage of it is copied; a run of
        // a few words another article shares ("the chancellor of the
        // exchequer said") counts against the allowance but asks for no
        // attribution here.
        if u.copied_words >= 12 {
            assert!(
                !u.missing_attribution(),
                "{} is not named: {text}",
                u.item_id
            );
        }
    }
    assert_eq!(licence, assessment.licence, "{text}");
    assessment.licence
}

/// A generation service running in this process.
pub struct GenerationServer {
    pub addr: SocketAddr,
    pub core: Arc<generec_generation::service::Generation>,
    stop: Option<oneshot::Sender<()>>,
}

impl GenerationServer {
    /// Serves a generation core built from `config` (whose `corpus_url`
    /// names the corpus to read) on a free loopback port, with models
    /// already loaded in `models`.
    pub async fn start(
        config: generec_generation::config::GenerationConfig,
        models: generec_generation::config::Models,
    ) -> GenerationServer {
        let core = Arc::new(config.open_with(models).expect("open generation"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = core.clone();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            generec_generation::grpc::serve(
                serving,
                listener,
                &ServerConfig::default(),
                &AuthConfig::default(),
                shutdown,
            )
            .await
            .expect("serve");
        });
        GenerationServer {
            addr,
            core,
            stop: Some(stop),
        }
    }

    /// A client connected to this server.
    pub async fn client(
        &self,
    ) -> generec_proto::generation::v1::generation_client::GenerationClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        generec_proto::generation::v1::generation_client::GenerationClient::new(channel)
    }
}

impl Drop for GenerationServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A feed service running in this process.
pub struct FeedServer {
    pub addr: SocketAddr,
    pub feed: Arc<generec_feed::Feed>,
    stop: Option<oneshot::Sender<()>>,
}

impl FeedServer {
    /// Serves a feed built from `config` (whose URLs name the corpus, trust
    /// and generation services) on a free loopback port.
    pub async fn start(config: generec_feed::FeedConfig) -> FeedServer {
        let feed = generec_feed::Feed::new(config, None).expect("open feed");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = feed.clone();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            generec_feed::grpc::serve(
                serving,
                listener,
                &ServerConfig::default(),
                &AuthConfig::default(),
                shutdown,
            )
            .await
            .expect("serve");
        });
        FeedServer {
            addr,
            feed,
            stop: Some(stop),
        }
    }

    /// A client connected to this server.
    pub async fn client(
        &self,
    ) -> generec_proto::feed::v1::feed_service_client::FeedServiceClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        generec_proto::feed::v1::feed_service_client::FeedServiceClient::new(channel)
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// All four services in this process: trust first, its public keys trusted
/// by the corpus (which requires manifests on generated items), the BBC
/// articles loaded, generation reading the corpus, and the feed joining
/// them. Take `trust` or `generation` out and drop it to stop that service.
pub struct Stack {
    pub dir: tempfile::TempDir,
    pub trust: Option<TrustServer>,
    pub corpus: Option<CorpusServer>,
    pub generation: Option<GenerationServer>,
    pub feed: FeedServer,
    /// Trust's public keys (hex) at start, as the corpus trusts them.
    pub trust_keys: Vec<String>,
}

impl Stack {
    /// Starts the stack with the feed settings `tune` makes from the
    /// defaults (URLs are filled in). `None` when the BBC dataset is
    /// missing (run scripts/fetch-data).
    pub async fn start(
        tune: impl FnOnce(generec_feed::FeedConfig) -> generec_feed::FeedConfig,
    ) -> Option<Stack> {
        dataset("bbc")?;
        let dir = tempfile::tempdir().expect("tempdir");
        let trust = TrustServer::start(trust_config(&dir.path().join("trust"), None)).await;
        let (keys, _) = trust.trust.provenance.public_keys().expect("trust keys");
        let trust_keys: Vec<String> = keys.into_iter().map(|k| k.public_key).collect();
        let corpus = CorpusServer::start(CorpusConfig {
            trusted_keys: trust_keys.clone(),
            require_manifest_for_ai: true,
            ..test_config(&dir.path().join("corpus"))
        })
        .await;
        // After a rotation the corpus learns the new key from trust.
        let provenance = trust.trust.provenance.clone();
        corpus.corpus.set_key_source(Arc::new(move || {
            provenance
                .public_keys()
                .map(|(keys, _)| keys)
                .map_err(|e| e.to_string())
        }));
        load_bbc(corpus.corpus.clone()).await?;
        let generation = GenerationServer::start(
            generec_generation::config::GenerationConfig {
                corpus_url: format!("http://{}", corpus.addr),
                ..generec_generation::config::GenerationConfig::default()
            },
            generec_generation::config::Models::default(),
        )
        .await;
        let feed = FeedServer::start(tune(generec_feed::FeedConfig {
            corpus_url: format!("http://{}", corpus.addr),
            trust_url: format!("http://{}", trust.addr),
            generation_url: format!("http://{}", generation.addr),
            ..generec_feed::FeedConfig::default()
        }))
        .await;
        Some(Stack {
            dir,
            trust: Some(trust),
            corpus: Some(corpus),
            generation: Some(generation),
            feed,
            trust_keys,
        })
    }
}
