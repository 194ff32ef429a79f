//! Client commands against a running corpus service: loading data,
//! searching, recommending and stats.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use generec_common::auth::{AuthedChannel, Role};
use generec_corpus::grpc::item_to_proto;
use generec_proto::corpus::v1 as pb;
use generec_proto::corpus::v1::corpus_service_client::CorpusServiceClient;

/// The address and token flags of every client command.
#[derive(clap::Args)]
pub struct AddrArgs {
    /// The corpus service.
    #[arg(long, env = "GENEREC_CORPUS", default_value = "http://127.0.0.1:50051")]
    pub addr: String,
    #[command(flatten)]
    pub tokens: crate::config::TokenArgs,
}

/// What `generec load` reads.
#[derive(clap::Subcommand)]
pub enum Source {
    /// Items as JSON lines (the stored item shape).
    Jsonl { file: PathBuf },
    /// The BBC News corpus (scripts/fetch-data puts it in .data/bbc).
    Bbc {
        #[arg(default_value = ".data/bbc")]
        dir: PathBuf,
    },
    /// MovieLens 100K: movies as items, ratings as feedback.
    Movielens {
        #[arg(default_value = ".data/ml-100k")]
        dir: PathBuf,
    },
}

/// Flags of `generec load`.
#[derive(clap::Args)]
pub struct LoadArgs {
    #[command(flatten)]
    addr: AddrArgs,
    #[command(subcommand)]
    source: Source,
}

/// Flags of `generec search`.
#[derive(clap::Args)]
pub struct SearchArgs {
    #[command(flatten)]
    addr: AddrArgs,
    /// tantivy query syntax.
    query: String,
    #[arg(long, default_value_t = 10)]
    limit: u32,
    /// Only items with this tag.
    #[arg(long)]
    tag: Vec<String>,
}

/// Flags of `generec recommend`.
#[derive(clap::Args)]
pub struct RecommendArgs {
    #[command(flatten)]
    addr: AddrArgs,
    #[arg(long)]
    user: String,
    #[arg(long, default_value_t = 10)]
    count: u32,
    /// Free text to blend in.
    #[arg(long, default_value = "")]
    text: String,
}

/// A corpus client presenting the internal role's token.
async fn connect(args: &AddrArgs) -> Result<CorpusServiceClient<AuthedChannel>> {
    let addr = &args.addr;
    let channel = tonic::transport::Endpoint::from_shared(addr.clone())
        .with_context(|| format!("--addr {addr:?} is not a URL"))?
        .connect()
        .await
        .with_context(|| {
            format!("cannot reach the corpus service at {addr}; is it running (generec up)?")
        })?;
    let bearer = args.tokens.bearer(Role::Internal)?;
    Ok(CorpusServiceClient::with_interceptor(channel, bearer)
        .max_decoding_message_size(64 * 1024 * 1024))
}

async fn put_all(
    client: &mut CorpusServiceClient<AuthedChannel>,
    items: Vec<generec_corpus::model::Item>,
) -> Result<()> {
    let (mut created, mut updated, mut unchanged, mut rejected) = (0, 0, 0, 0);
    let total = items.len();
    let progress = crate::progress::bar(total as u64, "items");
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let chunk: Vec<pb::Item> = items.by_ref().take(500).map(item_to_proto).collect();
        let sent = chunk.len() as u64;
        let response = client
            .put_items(pb::PutItemsRequest { items: chunk })
            .await?
            .into_inner();
        for r in response.results {
            match pb::PutStatus::try_from(r.status) {
                Ok(pb::PutStatus::Created) => created += 1,
                Ok(pb::PutStatus::Updated) => updated += 1,
                Ok(pb::PutStatus::Unchanged) => unchanged += 1,
                _ => {
                    rejected += 1;
                    progress.suspend(|| eprintln!("rejected {}: {}", r.id, r.error));
                }
            }
        }
        progress.inc(sent);
    }
    progress.finish_and_clear();
    println!(
        "{total} items: {created} created, {updated} updated, {unchanged} unchanged, {rejected} rejected"
    );
    Ok(())
}

/// `generec load`.
pub async fn load(args: LoadArgs) -> Result<()> {
    let mut client = connect(&args.addr).await?;
    match args.source {
        Source::Jsonl { file } => {
            let reader = std::io::BufReader::new(
                std::fs::File::open(&file)
                    .with_context(|| format!("opening {}", file.display()))?,
            );
            put_all(&mut client, generec_corpus::load::read_jsonl(reader)?).await
        }
        Source::Bbc { dir } => put_all(&mut client, generec_corpus::load::read_bbc(&dir)?).await,
        Source::Movielens { dir } => {
            let ml = generec_corpus::load::read_movielens(&dir)?;
            put_all(&mut client, ml.items).await?;
            let mut accepted = 0;
            let progress = crate::progress::bar(ml.events.len() as u64, "ratings");
            let tick = progress.clone();
            let batches: Vec<pb::RecordFeedbackRequest> = ml
                .events
                .chunks(5_000)
                .map(|chunk| pb::RecordFeedbackRequest {
                    events: chunk
                        .iter()
                        .map(|e| pb::FeedbackEvent {
                            user_id: e.user.to_string(),
                            item_id: e.item.to_string(),
                            r#type: pb::EventType::Rating as i32,
                            value: e.value,
                            timestamp_unix_ms: e.timestamp_unix_ms,
                        })
                        .collect(),
                })
                .collect();
            // Each batch counts when the stream takes it from the iterator.
            let stream = tokio_stream::iter(batches.into_iter().inspect(move |b| {
                tick.inc(b.events.len() as u64);
            }));
            let response = client.stream_feedback(stream).await?.into_inner();
            progress.finish_and_clear();
            accepted += response.accepted;
            println!("{accepted} ratings recorded");
            Ok(())
        }
    }
}

/// `generec search`.
pub async fn search(args: SearchArgs) -> Result<()> {
    let mut client = connect(&args.addr).await?;
    let filters = (!args.tag.is_empty()).then(|| pb::Filters {
        tags: args.tag.clone(),
        ..Default::default()
    });
    let response = client
        .search(pb::SearchRequest {
            query: args.query,
            filters,
            limit: args.limit,
            offset: 0,
            with_snippets: true,
        })
        .await?
        .into_inner();
    println!("{} hits", response.total_hits);
    for hit in response.hits {
        println!("{:>7.3}  {:<28} {}", hit.score, hit.id, hit.title);
        if !hit.snippet.is_empty() {
            println!("         {}", hit.snippet.replace('\n', " "));
        }
    }
    Ok(())
}

/// `generec recommend`.
pub async fn recommend(args: RecommendArgs) -> Result<()> {
    if args.user.is_empty() {
        bail!("--user must not be empty");
    }
    let mut client = connect(&args.addr).await?;
    let response = client
        .recommend(pb::RecommendRequest {
            user_id: args.user,
            count: args.count,
            exclude_ids: vec![],
            filters: None,
            text: args.text,
            with_items: false,
        })
        .await?
        .into_inner();
    println!("model version {}", response.model_version);
    for item in response.items {
        let reason = pb::Reason::try_from(item.reason).map_or("?", |r| r.as_str_name());
        println!(
            "{:>7.3}  {:<22} {:<28} {}",
            item.score, reason, item.id, item.title
        );
    }
    Ok(())
}

/// `generec stats`.
pub async fn stats(args: AddrArgs) -> Result<()> {
    let mut client = connect(&args).await?;
    let s = client.stats(pb::StatsRequest {}).await?.into_inner();
    println!("{s:#?}");
    Ok(())
}
