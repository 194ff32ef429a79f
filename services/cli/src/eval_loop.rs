//! `generec eval loop`: does generating beat retrieving, for whom, and at
//! what risk? The simulated population (`generec simulate`) is served by
//! three platforms started in this process on spare ports, one per arm:
//! retrieval only (`feed.loop_mode = "retrieve"`), retrieval with the
//! instructor and the editor (`"edit"`), and the full loop with the
//! creator (`"full"`). Every user gets one session per seed through the
//! real gRPC feed: GetFeed, the user's responses sent back as feedback,
//! and, when the user runs out of patience and speaks, their words as the
//! next GetFeed's instruction. Figures are computed per seed and reported
//! as the mean with a 95% confidence interval over the seeds (Student's t).
//!
//! Seeds share their arm's platform (users of each seed have their own
//! ids), so what a seed generated is in the corpus for the next seed of
//! that arm; arms share nothing.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use generec_feed::config::LoopMode;
use generec_proto::feed::v1 as pb;
use generec_proto::feed::v1::feed_service_client::FeedServiceClient;
use generec_proto::generation::v1::FeedbackKind;
use generec_proto::trust::v1::Verdict;
use generec_simulate::response::{Response, Wish, cosine};
use generec_simulate::rng::Rng;
use generec_simulate::session::{Next, Session};
use generec_simulate::speak::Phrasings;
use tokio::task::JoinSet;
use tonic::transport::Channel;

use crate::bench_feed::{Platform, PlatformOptions};
use crate::simulate::{World, WorldArgs, build_world, item_text};

#[derive(clap::Args)]
pub struct LoopArgs {
    #[command(flatten)]
    world: WorldArgs,
    /// Users per seed.
    #[arg(long, default_value_t = 500)]
    users: usize,
    /// Seeds (populations); the confidence intervals are over these.
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// Most feeds in one session.
    #[arg(long, default_value_t = 8)]
    feeds: u32,
    /// Items per feed.
    #[arg(long, default_value_t = 5)]
    count: u32,
    /// Sessions served at once. The platform's generation runs beside
    /// them; on 2 cores 4 keeps both busy (2 left a quarter of the CPU
    /// idle between sessions).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Also write the report (markdown) to this file, e.g. docs/EVALUATION.md.
    #[arg(long)]
    report: Option<std::path::PathBuf>,
    /// Also draw PNG charts into this folder (satisfaction and topic
    /// entropy over the session, exposure by creator), linked from the
    /// report. Needs the DejaVu Sans font (Debian's fonts-dejavu-core).
    #[arg(long)]
    plots: Option<std::path::PathBuf>,
    /// A small study for CI: 24 users, 3 seeds, 6 feeds, 150 calibration
    /// items, 120 topics; fails unless its invariants hold.
    #[arg(long)]
    quick: bool,
}

/// Each item's embedding and tone, by item id, shared by every session.
type Perceived = Arc<Mutex<HashMap<String, (Vec<f32>, f32)>>>;

fn locked<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| anyhow::anyhow!("a session panicked holding shared state"))
}

/// The three arms, in the order they are reported.
const ARMS: [LoopMode; 3] = [LoopMode::Retrieve, LoopMode::Edit, LoopMode::Full];

/// What one seed of one arm measured.
#[derive(Clone, Debug, Default)]
struct Figures {
    users: usize,
    feeds: usize,
    impressions: usize,
    clicks: usize,
    completions: usize,
    likes: usize,
    ratings: Vec<u8>,
    /// Users who asked for topics or a tone, and those a later feed
    /// served so.
    speakers: usize,
    met: usize,
    /// Users who asked for an item in view to be changed, and those whose
    /// change came (a generated item made from it, in their tone or
    /// shorter) in a later feed.
    changers: usize,
    changes_met: usize,
    feeds_until_met: Vec<u32>,
    left: usize,
    generated_impressions: usize,
    generated_items: HashSet<String>,
    /// Generated items shown without an allowing verdict or a verifying
    /// manifest: the invariant; must stay 0.
    violations: Vec<String>,
    /// Each distinct generated item shown, as the feed sent it.
    generated_shown: HashMap<String, pb::FeedItem>,
    /// Per generated item shown: the share of its sentences (title aside)
    /// that its manifest's ingredients support (half their bytes or more).
    supported: Vec<f64>,
    /// Per generated item shown: words copied verbatim (runs of the
    /// bundle's `min_run_words`) from ingredients whose licence reserves
    /// rights or forbids derivatives.
    copied_restricted: Vec<f64>,
    /// Per generated item shown: the most words copied from any one such
    /// ingredient (what the bundle's allowance, 40 by default, limits).
    copied_restricted_one: Vec<f64>,
    /// Drafts trust reviewed for this seed's users (its policy decisions),
    /// those allowed, and those with a finding of each family.
    drafts: usize,
    drafts_allowed: usize,
    draft_findings: HashMap<String, usize>,
    /// Cosine between an item shown after the user spoke and the topic
    /// they asked for.
    relevance: Vec<f32>,
    /// 1 - mean pairwise cosine of a feed's items.
    diversity: Vec<f32>,
    /// Entropy (bits) of the nearest topics of what each user saw.
    entropy: Vec<f64>,
    exposure_by_creator: HashMap<String, u64>,
    latency_ms: Vec<f64>,
    latency_generated_ms: Vec<f64>,
    /// By feed number within the session: the sum and count of explicit
    /// ratings given to that feed's items.
    rating_by_feed: Vec<(f64, u32)>,
    /// By feed number: each user's topic entropy (bits) of everything
    /// they had seen up to and including that feed, summed, and the count.
    entropy_by_feed: Vec<(f64, u32)>,
    wall_s: f64,
    cpu_s: f64,
    /// The generation service's calls while the arm ran.
    generation: crate::eval_cost::CallTotals,
}

/// What every report says about its own limits.
const CAVEATS: &[&str] = &[
    "The users are simulated: they judge items by the cosine between MiniLM embeddings of the item and of topics drawn from the corpus; a random item is clicked at the stated base rate by construction, and ratings of what users read follow the MovieLens 100K distribution by construction. Differences between arms are the platform's; the levels are the simulator's.",
    "Seeds share their arm's platform (each seed's users have their own ids): items generated for one seed stay in the corpus for the next seed of that arm.",
    "Every BBC article has the creator `bbc-news`, so the exposure Gini across creators is 0 unless generated items (creator `generec`) are shown; it measures human against generated exposure here, not fairness across human creators.",
    "The arms run one after another in one process and share the trust service's safety classifier with its cache of recent sentence embeddings, so the arm that runs first (retrieve) pays for embedding what the later ones find cached; the cost rows hold for this order.",
    "The creator here is the extractive composer: every body sentence but its own framing lines is quoted from a source, so the supported-sentence share measures how much framing it adds, not how faithful free writing is (a language-model back-end would be measured the same way).",
    "Every BBC article is all rights reserved, which forbids derivatives: the editor refuses to change one (FailedPrecondition, naming the licence), so a change asked of a BBC article cannot be met here, and the edit arm measures the instructor steering retrieval more than the editor. The simulated users still ask (the rows on change requests) so that a corpus with open licences is measured the same way.",
    "With few seeds (the quick mode runs 3) the intervals are wide: a difference that is not shown as higher or lower may still exist.",
];

/// Rows where one direction is better for users or creators: true when
/// higher is better. Rows not listed (volumes, costs of the arm's own
/// work) are reported without a judgement.
const BETTER_WHEN_HIGHER: &[(&str, bool)] = &[
    ("mean explicit rating (0-5)", true),
    ("completion rate (per item shown)", true),
    ("skip rate (per item shown)", false),
    ("like rate (per item shown)", true),
    ("share of those requests met", true),
    ("share of change requests met", true),
    ("feeds until such a request was met", false),
    ("users who left", false),
    ("relevance to the request (cosine)", true),
    ("intra-list diversity", true),
    ("topic entropy per user (bits)", true),
    ("exposure Gini across creators", false),
    ("human share of exposure", true),
    ("items per feed (the feed is asked for --count)", true),
    ("GetFeed p50 ms", false),
    ("GetFeed p95 ms", false),
    ("process CPU s per session", false),
];

/// Mean and 95% confidence half-width over seeds.
struct Estimate {
    mean: f64,
    half: f64,
}

/// Student's t at 97.5% for `df` degrees of freedom.
fn t975(df: usize) -> f64 {
    const T: [f64; 10] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    ];
    match df {
        0 => f64::NAN,
        1..=10 => T[df - 1],
        11..=20 => 2.09,
        21..=30 => 2.045,
        _ => 1.96,
    }
}

fn estimate(values: &[f64]) -> Estimate {
    let values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let n = values.len();
    if n == 0 {
        return Estimate {
            mean: f64::NAN,
            half: f64::NAN,
        };
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return Estimate {
            mean,
            half: f64::NAN,
        };
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Estimate {
        mean,
        half: t975(n - 1) * (var / n as f64).sqrt(),
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

fn mean<T: Copy + Into<f64>>(v: &[T]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().map(|x| (*x).into()).sum::<f64>() / v.len() as f64
    }
}

fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[((s.len() - 1) as f64 * p).round() as usize]
}

/// The rows of the report: a name and how to read it from one seed.
type Row = (&'static str, fn(&Figures) -> f64);

const USER_ROWS: &[Row] = &[
    ("mean explicit rating (0-5)", |f| mean(&f.ratings)),
    ("completion rate (per item shown)", |f| {
        ratio(f.completions, f.impressions)
    }),
    ("skip rate (per item shown)", |f| {
        ratio(f.impressions - f.clicks, f.impressions)
    }),
    ("like rate (per item shown)", |f| {
        ratio(f.likes, f.impressions)
    }),
    ("users who asked for topics or a tone", |f| {
        ratio(f.speakers, f.users)
    }),
    ("share of those requests met", |f| ratio(f.met, f.speakers)),
    ("feeds until such a request was met", |f| {
        mean(&f.feeds_until_met)
    }),
    ("users who asked to change an item", |f| {
        ratio(f.changers, f.users)
    }),
    ("share of change requests met", |f| {
        ratio(f.changes_met, f.changers)
    }),
    ("users who left", |f| ratio(f.left, f.users)),
];

const ITEM_ROWS: &[Row] = &[
    ("items per feed (the feed is asked for --count)", |f| {
        ratio(f.impressions, f.feeds)
    }),
    ("relevance to the request (cosine)", |f| mean(&f.relevance)),
    ("generated share of items shown", |f| {
        ratio(f.generated_impressions, f.impressions)
    }),
    ("distinct generated items shown", |f| {
        f.generated_items.len() as f64
    }),
    ("generated shown without a verifying manifest", |f| {
        f.violations.len() as f64
    }),
    ("supported-sentence share (generated shown)", |f| {
        mean(&f.supported)
    }),
    ("words copied from restricted sources, per item", |f| {
        mean(&f.copied_restricted)
    }),
    ("  of which most from one source", |f| {
        mean(&f.copied_restricted_one)
    }),
    ("drafts reviewed by trust", |f| f.drafts as f64),
    ("drafts allowed and certified (share)", |f| {
        ratio(f.drafts_allowed, f.drafts)
    }),
    ("drafts with a privacy finding (share)", |f| {
        family(f, "privacy")
    }),
    ("drafts with a safety finding (share)", |f| {
        family(f, "safety")
    }),
    ("drafts with a bias finding (share)", |f| family(f, "bias")),
    ("drafts with an authenticity finding (share)", |f| {
        family(f, "authenticity")
    }),
    ("drafts with a copyright finding (share)", |f| {
        family(f, "copyright")
    }),
];

/// Share of the seed's drafts with a finding of `family`.
fn family(f: &Figures, family: &str) -> f64 {
    ratio(f.draft_findings.get(family).copied().unwrap_or(0), f.drafts)
}

const RISK_ROWS: &[Row] = &[
    ("intra-list diversity", |f| mean(&f.diversity)),
    ("topic entropy per user (bits)", |f| mean(&f.entropy)),
    ("exposure Gini across creators", |f| {
        let counts: Vec<f64> = f.exposure_by_creator.values().map(|c| *c as f64).collect();
        generec_feed::metrics::gini(&counts)
    }),
    ("human share of exposure", |f| {
        ratio(f.impressions - f.generated_impressions, f.impressions)
    }),
];

const COST_ROWS: &[Row] = &[
    ("GetFeed p50 ms", |f| percentile(&f.latency_ms, 0.5)),
    ("GetFeed p95 ms", |f| percentile(&f.latency_ms, 0.95)),
    ("GetFeed p50 ms, with a generated item", |f| {
        percentile(&f.latency_generated_ms, 0.5)
    }),
    ("Create ms per call (mean)", |f| {
        f.generation.mean_ms("Create")
    }),
    ("Create calls per session", |f| {
        f.generation.calls("Create") / f.users.max(1) as f64
    }),
    ("Edit ms per call (mean)", |f| f.generation.mean_ms("Edit")),
    ("Edit calls per session", |f| {
        f.generation.calls("Edit") / f.users.max(1) as f64
    }),
    ("Interpret ms per call (mean)", |f| {
        f.generation.mean_ms("Interpret")
    }),
    ("process CPU s per session", |f| {
        f.cpu_s / f.users.max(1) as f64
    }),
    ("wall s per seed", |f| f.wall_s),
];

pub async fn run(mut args: LoopArgs) -> Result<()> {
    if args.quick {
        args.users = 24;
        args.seeds = 3;
        args.feeds = 6;
        args.world.items = 150;
        args.world.topics = 120;
    }
    if args.seeds < 2 {
        bail!("--seeds must be at least 2: the confidence intervals come from the seeds");
    }
    if args.users == 0 || args.feeds == 0 || args.count == 0 || args.concurrency == 0 {
        bail!("--users, --feeds, --count and --concurrency must be at least 1");
    }
    let started = Instant::now();
    // The world (one core: topics and embeddings) is built while the
    // platforms start, which is mostly other work (loading and training).
    let world_args = args.world.clone();
    let world_built = tokio::task::spawn_blocking(move || {
        let world = build_world(&world_args, 1, 1);
        (world, started.elapsed().as_secs_f64())
    });
    // Record the services' call timings (the cost rows read them).
    generec_common::metrics::install();
    let mut platforms = Vec::new();
    for mode in ARMS {
        let platform = Platform::start_with(
            &args.world.datasets,
            PlatformOptions {
                loop_mode: mode,
                embedded_feed: false,
            },
        )
        .await
        .with_context(|| format!("starting the {} arm", mode.as_str()))?;
        platforms.push(platform);
    }
    eprintln!("platforms up ({:.0} s)", started.elapsed().as_secs_f64());
    let (world, world_s) = world_built.await?;
    let mut world = world?;
    eprintln!(
        "world: {} topics, {} calibration items (built in the first {world_s:.0} s)",
        world.topics.len(),
        world.items.len(),
    );
    let perceived: Perceived = Arc::default();
    let mut results: Vec<Vec<Figures>> = vec![Vec::new(); ARMS.len()];
    let progress = crate::progress::bar((args.users * ARMS.len()) as u64 * args.seeds, "sessions");
    for seed in 1..=args.seeds {
        world.populate(args.users, seed, args.world.base_click)?;
        let shared = Arc::new(world);
        for (arm, platform) in platforms.iter().enumerate() {
            progress.set_message(format!("seed {seed}, {}", ARMS[arm].as_str()));
            let figures =
                serve_arm(&shared, platform, &args, seed, perceived.clone(), &progress).await?;
            progress.suspend(|| {
                eprintln!(
                    "seed {seed}, {}: {} feeds, {} items shown, {} generated, {:.0} s",
                    ARMS[arm].as_str(),
                    figures.feeds,
                    figures.impressions,
                    figures.generated_impressions,
                    figures.wall_s
                )
            });
            results[arm].push(figures);
        }
        world =
            Arc::try_unwrap(shared).map_err(|_| anyhow::anyhow!("a session outlived its seed"))?;
    }
    progress.finish_and_clear();
    let charts = match &args.plots {
        Some(dir) => draw(&results, dir, args.report.as_deref())?,
        None => Vec::new(),
    };
    let text = report(&results, &args, &world, &charts);
    print!("{text}");
    if let Some(path) = &args.report {
        std::fs::write(path, &text).with_context(|| format!("--report {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    let violations: Vec<&String> = results
        .iter()
        .flatten()
        .flat_map(|f| &f.violations)
        .collect();
    eprintln!("study finished in {:.0} s", started.elapsed().as_secs_f64());
    if !violations.is_empty() {
        bail!(
            "{} generated items were shown without an allowing verdict and a verifying manifest: {:?}",
            violations.len(),
            violations
        );
    }
    Ok(())
}

/// CPU seconds this process has used (user + system), from /proc.
fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the command name, which is in parentheses.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return f64::NAN;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // utime and stime are fields 14 and 15 (11 and 12 after the name and
    // state); Linux reports them in 1/100 s.
    (ticks(11) + ticks(12)) / 100.0
}

async fn serve_arm(
    world: &Arc<World>,
    platform: &Platform,
    args: &LoopArgs,
    seed: u64,
    perceived: Perceived,
    progress: &indicatif::ProgressBar,
) -> Result<Figures> {
    let channel = Channel::from_shared(format!("http://{}", platform.feed))?
        .connect()
        .await?;
    let keys = Arc::new(generec_corpus::provenance::TrustedKeys::parse(
        "trust keys",
        &platform.trusted_keys,
    )?);
    let figures = Arc::new(Mutex::new(Figures::default()));
    let phrasings = Arc::new(Phrasings::builtin());
    let started = Instant::now();
    let since_unix_ms = crate::eval_items::now_unix_ms();
    let cpu = process_cpu_seconds();
    let calls = crate::eval_cost::CallTotals::now();
    let mut tasks = JoinSet::new();
    for n in 0..world.users.len() {
        if tasks.len() >= args.concurrency
            && let Some(done) = tasks.join_next().await
        {
            done??;
            progress.inc(1);
        }
        let job = SessionJob {
            world: world.clone(),
            user: n,
            seed,
            feeds: args.feeds,
            count: args.count,
            client: FeedServiceClient::new(channel.clone()),
            keys: keys.clone(),
            perceived: perceived.clone(),
            phrasings: phrasings.clone(),
            figures: figures.clone(),
        };
        tasks.spawn(job.run());
    }
    while let Some(done) = tasks.join_next().await {
        done??;
        progress.inc(1);
    }
    let mut f = std::mem::take(&mut *locked(&figures)?);
    f.wall_s = started.elapsed().as_secs_f64();
    f.cpu_s = process_cpu_seconds() - cpu;
    f.generation = crate::eval_cost::CallTotals::now().since(&calls);
    let side =
        crate::eval_items::measure(&f.generated_shown, platform, seed, since_unix_ms).await?;
    f.supported = side.supported;
    f.copied_restricted = side.copied_restricted;
    f.copied_restricted_one = side.copied_restricted_one;
    f.drafts = side.drafts;
    f.drafts_allowed = side.drafts_allowed;
    f.draft_findings = side.findings;
    Ok(f)
}

struct SessionJob {
    world: Arc<World>,
    user: usize,
    seed: u64,
    feeds: u32,
    count: u32,
    client: FeedServiceClient<Channel>,
    keys: Arc<generec_corpus::provenance::TrustedKeys>,
    perceived: Perceived,
    phrasings: Arc<Phrasings>,
    figures: Arc<Mutex<Figures>>,
}

/// What one session measured, added to the seed's figures at its end.
#[derive(Default)]
struct Measured {
    f: Figures,
    seen_topics: HashMap<usize, u32>,
}

impl SessionJob {
    async fn run(mut self) -> Result<()> {
        let world = self.world.clone();
        let user = &world.users[self.user];
        let user_id = format!("s{}-{}", self.seed, user.id);
        let mut rng = Rng::derive(self.seed, &[0x10_0b, self.user as u64]);
        let mut session = Session::default();
        let mut wish: Option<Wish> = None;
        let mut instruction = String::new();
        // The item a change was asked of: sent once as the context, then
        // looked for among later feeds' generated items' parents.
        let mut context = String::new();
        let mut target: Option<ChangeTarget> = None;
        let mut m = Measured::default();
        m.f.users = 1;
        for feed_no in 0..self.feeds as usize {
            let asked = std::mem::take(&mut instruction);
            let mut req = tonic::Request::new(pb::GetFeedRequest {
                user_id: user_id.clone(),
                count: self.count,
                instruction: asked.clone(),
                context_item_id: std::mem::take(&mut context),
            });
            req.set_timeout(Duration::from_secs(20));
            let sent = Instant::now();
            let page = self
                .client
                .get_feed(req)
                .await
                .with_context(|| format!("GetFeed for {user_id} ({asked:?})"))?
                .into_inner();
            let ms = sent.elapsed().as_secs_f64() * 1000.0;
            m.f.latency_ms.push(ms);
            if page.items.iter().any(|i| i.made_for_you) {
                m.f.latency_generated_ms.push(ms);
            }
            m.f.feeds += 1;
            self.check_invariant(&page.items, &mut m.f);
            let views = self.perceive(&page.items).await?;
            let mut seen = Vec::new();
            for (item, (vector, valence)) in page.items.iter().zip(&views) {
                let view = generec_simulate::response::ItemView {
                    vector,
                    valence: *valence,
                };
                let r = world.calibration.respond(
                    user,
                    wish.as_ref(),
                    &world.topic_vectors,
                    view,
                    &mut rng,
                );
                self.feedback(&user_id, &item.item_id, &r).await?;
                self.tally(item, vector, &r, wish.as_ref(), &mut m);
                if let Some(rating) = r.rating {
                    add_at(&mut m.f.rating_by_feed, feed_no, f64::from(rating));
                }
                seen.push(world.seen(user, r, vector, *valence));
            }
            let vectors: Vec<&Vec<f32>> = views.iter().map(|(v, _)| v).collect();
            if vectors.len() >= 2 {
                let mut sum = 0.0;
                let mut pairs = 0;
                for i in 0..vectors.len() {
                    for j in i + 1..vectors.len() {
                        sum += cosine(vectors[i], vectors[j]);
                        pairs += 1;
                    }
                }
                m.f.diversity.push(1.0 - sum / pairs as f32);
            }
            if let Some(h) = entropy(&m.seen_topics) {
                add_at(&mut m.f.entropy_by_feed, feed_no, h);
            }
            let met = wish.as_ref().is_some_and(|w| match &target {
                Some(t) => t.met(w, &page.items, &views),
                None => self.met(w, &views),
            });
            match session.after_feed(user, &seen, met, &mut rng) {
                Next::More => {}
                Next::Speak(w) => {
                    instruction = self.phrasings.say(user, &w, &world.topics, &mut rng);
                    if let Some(item) = w.change.and_then(|i| page.items.get(i)) {
                        context = item.item_id.clone();
                        target = Some(ChangeTarget {
                            item_id: item.item_id.clone(),
                            words: item.body.split_whitespace().count(),
                        });
                    }
                    wish = Some(w);
                }
                Next::Leave => break,
            }
        }
        // Wishes about topics and tone, and changes to an item, are
        // counted apart: they are met in different ways.
        let met = session.feeds_until_met.is_some();
        if session.wish.as_ref().is_some_and(|w| w.change.is_some()) {
            m.f.changers = 1;
            m.f.changes_met = usize::from(met);
        } else if session.wish.is_some() {
            m.f.speakers = 1;
            m.f.met = usize::from(met);
            m.f.feeds_until_met.extend(session.feeds_until_met);
        }
        m.f.left = usize::from(session.left);
        m.f.entropy.extend(entropy(&m.seen_topics));
        let mut all = locked(&self.figures)?;
        merge(&mut all, m.f);
        Ok(())
    }

    /// Every generated item shown must have an allowing verdict and a
    /// manifest that verifies against trust's keys and binds its text.
    fn check_invariant(&self, items: &[pb::FeedItem], f: &mut Figures) {
        for item in items {
            if item.origin_label != pb::OriginLabel::Generated as i32 {
                continue;
            }
            let allowed = item.verdict == Verdict::Allow as i32
                || item.verdict == Verdict::AllowWithLabel as i32;
            let text = generec_corpus::provenance::provenance_text(
                &item.title,
                &item.body,
                std::iter::empty(),
            );
            let parents: Vec<&str> = item.parent_ids.iter().map(String::as_str).collect();
            let claimed = generec_corpus::provenance::Claimed {
                item_id: &item.item_id,
                text: &text,
                parent_ids: &parents,
                creator_id: &item.creator_id,
                licence: &item.licence,
            };
            match (allowed, self.keys.check(&claimed, &item.manifest)) {
                (true, Ok(_)) => {}
                (false, _) => f
                    .violations
                    .push(format!("{}: verdict {}", item.item_id, item.verdict)),
                (true, Err(e)) => f.violations.push(format!("{}: {e}", item.item_id)),
            }
        }
    }

    /// Each item's embedding and tone, read once per item id.
    async fn perceive(&self, items: &[pb::FeedItem]) -> Result<Vec<(Vec<f32>, f32)>> {
        let missing: Vec<(String, String)> = {
            let known = locked(&self.perceived)?;
            items
                .iter()
                .filter(|i| !known.contains_key(&i.item_id))
                .map(|i| (i.item_id.clone(), item_text(&i.title, &i.body)))
                .collect()
        };
        if !missing.is_empty() {
            let senses = self.world.senses.clone();
            let texts: Vec<String> = missing.iter().map(|(_, t)| t.clone()).collect();
            let read = tokio::task::spawn_blocking(move || senses.perceive(&texts)).await??;
            let mut known = locked(&self.perceived)?;
            for ((id, _), p) in missing.into_iter().zip(read) {
                known.insert(id, p);
            }
        }
        let known = locked(&self.perceived)?;
        items
            .iter()
            .map(|i| {
                known
                    .get(&i.item_id)
                    .cloned()
                    .with_context(|| format!("no embedding for {}", i.item_id))
            })
            .collect()
    }

    async fn feedback(&mut self, user_id: &str, item_id: &str, r: &Response) -> Result<()> {
        let mut kinds = vec![if r.clicked {
            FeedbackKind::Click
        } else {
            FeedbackKind::Skip
        }];
        if r.completed() {
            kinds.push(FeedbackKind::Complete);
        }
        if r.liked {
            kinds.push(FeedbackKind::Like);
        }
        if r.rating == Some(0) {
            kinds.push(FeedbackKind::Dislike);
        }
        // The kinds are independent events: sent at once, as a client
        // with several signals for one item would.
        let mut calls = JoinSet::new();
        for kind in kinds {
            let mut client = self.client.clone();
            // As long as GetFeed's: under the full arm's load a write can
            // wait behind generation for more than the feed's default 2 s.
            let mut req = tonic::Request::new(pb::SubmitFeedbackRequest {
                user_id: user_id.to_string(),
                item_id: item_id.to_string(),
                kind: kind as i32,
            });
            req.set_timeout(Duration::from_secs(20));
            calls.spawn(async move { client.submit_feedback(req).await });
        }
        while let Some(done) = calls.join_next().await {
            done?.with_context(|| format!("SubmitFeedback for {user_id}"))?;
        }
        Ok(())
    }

    fn tally(
        &self,
        item: &pb::FeedItem,
        vector: &[f32],
        r: &Response,
        wish: Option<&Wish>,
        m: &mut Measured,
    ) {
        let f = &mut m.f;
        f.impressions += 1;
        f.clicks += usize::from(r.clicked);
        f.completions += usize::from(r.completed());
        f.likes += usize::from(r.liked);
        f.ratings.extend(r.rating);
        if item.origin_label == pb::OriginLabel::Generated as i32 {
            f.generated_impressions += 1;
            f.generated_items.insert(item.item_id.clone());
            f.generated_shown
                .entry(item.item_id.clone())
                .or_insert_with(|| item.clone());
        }
        *f.exposure_by_creator
            .entry(item.creator_id.clone())
            .or_default() += 1;
        let topics = &self.world.topic_vectors;
        if let Some(w) = wish
            && !w.more.is_empty()
        {
            let best = w
                .more
                .iter()
                .map(|t| cosine(&topics[*t], vector))
                .fold(f32::MIN, f32::max);
            f.relevance.push(best);
        }
        // One cosine per topic, not two per comparison.
        let nearest = topics
            .iter()
            .map(|t| cosine(t, vector))
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((t, _)) = nearest {
            *m.seen_topics.entry(t).or_default() += 1;
        }
    }

    /// A wish is met by a feed that holds an item on a topic asked for,
    /// nothing on a topic asked against, and (for a tone) a fitting mean
    /// tone.
    fn met(&self, wish: &Wish, views: &[(Vec<f32>, f32)]) -> bool {
        let cal = &self.world.calibration;
        let topics = &self.world.topic_vectors;
        let more = wish.more.is_empty()
            || views
                .iter()
                .any(|(v, _)| wish.more.iter().any(|t| cal.about(&topics[*t], v)));
        let less = !views
            .iter()
            .any(|(v, _)| wish.less.iter().any(|t| cal.about(&topics[*t], v)));
        let tone = match wish.tone {
            None | Some(generec_simulate::population::Tone::Any) => true,
            Some(t) => {
                let mean = views.iter().map(|(_, x)| *x).sum::<f32>() / views.len().max(1) as f32;
                t.fit(mean) >= -0.05
            }
        };
        !views.is_empty() && more && less && tone
    }
}

/// The item a user asked to have changed.
struct ChangeTarget {
    item_id: String,
    words: usize,
}

impl ChangeTarget {
    /// A change is met by a generated item made from the target (one of
    /// its parents), in the tone asked for, or shorter when that was asked.
    fn met(&self, wish: &Wish, items: &[pb::FeedItem], views: &[(Vec<f32>, f32)]) -> bool {
        items.iter().zip(views).any(|(item, (_, valence))| {
            item.origin_label == pb::OriginLabel::Generated as i32
                && item.parent_ids.contains(&self.item_id)
                && match wish.tone {
                    Some(t) => t.fit(*valence) >= -0.05,
                    None => !wish.shorter || item.body.split_whitespace().count() < self.words,
                }
        })
    }
}

/// Entropy (bits) of a count per topic; None when nothing was counted.
fn entropy(counts: &HashMap<usize, u32>) -> Option<f64> {
    let total: u32 = counts.values().sum();
    (total > 0).then(|| {
        counts
            .values()
            .map(|c| {
                let p = f64::from(*c) / f64::from(total);
                -p * p.log2()
            })
            .sum()
    })
}

/// Adds `x` to the running sum and count at position `k`.
fn add_at(v: &mut Vec<(f64, u32)>, k: usize, x: f64) {
    if v.len() <= k {
        v.resize(k + 1, (0.0, 0));
    }
    v[k].0 += x;
    v[k].1 += 1;
}

/// Element-wise sum of two by-feed series.
fn add_series(all: &mut Vec<(f64, u32)>, f: &[(f64, u32)]) {
    for (k, (sum, n)) in f.iter().enumerate() {
        if all.len() <= k {
            all.resize(k + 1, (0.0, 0));
        }
        all[k].0 += sum;
        all[k].1 += n;
    }
}

fn merge(all: &mut Figures, f: Figures) {
    all.users += f.users;
    all.feeds += f.feeds;
    all.impressions += f.impressions;
    all.clicks += f.clicks;
    all.completions += f.completions;
    all.likes += f.likes;
    all.ratings.extend(f.ratings);
    all.speakers += f.speakers;
    all.met += f.met;
    all.changers += f.changers;
    all.changes_met += f.changes_met;
    all.feeds_until_met.extend(f.feeds_until_met);
    all.left += f.left;
    all.generated_impressions += f.generated_impressions;
    all.generated_items.extend(f.generated_items);
    all.violations.extend(f.violations);
    all.generated_shown.extend(f.generated_shown);
    all.relevance.extend(f.relevance);
    all.diversity.extend(f.diversity);
    all.entropy.extend(f.entropy);
    for (c, n) in f.exposure_by_creator {
        *all.exposure_by_creator.entry(c).or_default() += n;
    }
    all.latency_ms.extend(f.latency_ms);
    all.latency_generated_ms.extend(f.latency_generated_ms);
    add_series(&mut all.rating_by_feed, &f.rating_by_feed);
    add_series(&mut all.entropy_by_feed, &f.entropy_by_feed);
}

/// A by-feed series pooled over seeds, as (feed number, mean) points.
fn pooled(seeds: &[Figures], read: fn(&Figures) -> &Vec<(f64, u32)>) -> Vec<(f64, f64)> {
    let mut all = Vec::new();
    for f in seeds {
        add_series(&mut all, read(f));
    }
    all.iter()
        .enumerate()
        .filter(|(_, (_, n))| *n > 0)
        .map(|(k, (sum, n))| ((k + 1) as f64, sum / f64::from(*n)))
        .collect()
}

/// Writes the charts into `dir` and returns each one's title and the link
/// to it from the report (relative to the report's folder when the charts
/// are inside it).
fn draw(
    results: &[Vec<Figures>],
    dir: &std::path::Path,
    report: Option<&std::path::Path>,
) -> Result<Vec<(String, String)>> {
    use crate::plots::{Series, lines, stacked_shares};
    std::fs::create_dir_all(dir).with_context(|| format!("--plots {}", dir.display()))?;
    let mut written = Vec::new();
    let by_feed = |read: fn(&Figures) -> &Vec<(f64, u32)>| -> Vec<Series> {
        ARMS.iter()
            .zip(results)
            .map(|(arm, seeds)| Series {
                name: arm.as_str().to_string(),
                points: pooled(seeds, read),
            })
            .collect()
    };
    let title = "Satisfaction over the session: mean explicit rating by feed".to_string();
    let path = dir.join("loop-satisfaction.png");
    lines(
        &path,
        &title,
        "feed number within the session",
        "mean rating (0-5) of the items rated",
        &by_feed(|f| &f.rating_by_feed),
    )?;
    written.push((title, path));
    let title = "Homogenisation: topic entropy of what each user has seen".to_string();
    let path = dir.join("loop-entropy.png");
    lines(
        &path,
        &title,
        "feed number within the session",
        "topic entropy so far (bits)",
        &by_feed(|f| &f.entropy_by_feed),
    )?;
    written.push((title, path));
    let mut exposure: Vec<HashMap<String, u64>> = Vec::new();
    let mut totals: HashMap<String, u64> = HashMap::new();
    for seeds in results {
        let mut arm: HashMap<String, u64> = HashMap::new();
        for f in seeds {
            for (creator, n) in &f.exposure_by_creator {
                *arm.entry(creator.clone()).or_default() += n;
                *totals.entry(creator.clone()).or_default() += n;
            }
        }
        exposure.push(arm);
    }
    let mut creators: Vec<(String, u64)> = totals.into_iter().collect();
    creators.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut parts: Vec<String> = creators.iter().take(5).map(|(c, _)| c.clone()).collect();
    if creators.len() > 5 {
        parts.push("other creators".into());
    }
    let shares: Vec<Vec<f64>> = exposure
        .iter()
        .map(|arm| {
            let total = arm.values().sum::<u64>().max(1) as f64;
            let mut row: Vec<f64> = parts
                .iter()
                .take(5)
                .map(|c| arm.get(c).copied().unwrap_or(0) as f64 / total)
                .collect();
            if creators.len() > 5 {
                row.push(1.0 - row.iter().sum::<f64>());
            }
            row
        })
        .collect();
    let title = "Exposure by creator, per arm".to_string();
    let path = dir.join("loop-exposure.png");
    let groups: Vec<String> = ARMS.iter().map(|a| a.as_str().to_string()).collect();
    stacked_shares(
        &path,
        &title,
        "share of items shown",
        &groups,
        &parts,
        &shares,
    )?;
    written.push((title, path));
    let base = report.and_then(std::path::Path::parent);
    Ok(written
        .into_iter()
        .map(|(title, path)| {
            let link = base
                .and_then(|b| path.strip_prefix(b).ok())
                .unwrap_or(&path)
                .display()
                .to_string();
            (title, link)
        })
        .collect())
}

fn cell(e: &Estimate) -> String {
    if e.mean.is_nan() {
        "n/a".into()
    } else if e.half.is_nan() {
        format!("{:.3}", e.mean)
    } else {
        format!("{:.3} ± {:.3}", e.mean, e.half)
    }
}

/// Whether two estimates' intervals are apart.
fn apart(a: &Estimate, b: &Estimate) -> bool {
    a.mean.is_finite()
        && b.mean.is_finite()
        && a.half.is_finite()
        && b.half.is_finite()
        && (a.mean - b.mean).abs() > a.half + b.half
}

/// The report: one table per side, then, for each figure, whether the
/// full loop and retrieval alone differ beyond their intervals.
fn report(
    results: &[Vec<Figures>],
    args: &LoopArgs,
    world: &World,
    charts: &[(String, String)],
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let command: Vec<String> = std::env::args().skip(1).collect();
    let _ = writeln!(out, "# Evaluation: does generating beat retrieving?\n");
    let _ = writeln!(
        out,
        "Written by `generec {}` from its own output; arms: `retrieve` (retrieval only), `edit` (the instructor and the editor), `full` (also the creator).\n",
        command.join(" ")
    );
    let _ = writeln!(
        out,
        "Loop study: {} users x {} seeds per arm, up to {} feeds of {} per session; {} topics; base click rate {:.2} (assumed); ratings calibrated to MovieLens 100K.",
        args.users,
        args.seeds,
        args.feeds,
        args.count,
        world.topics.len(),
        args.world.base_click
    );
    let _ = writeln!(
        out,
        "Each cell: mean over seeds ± 95% confidence half-width (Student's t, n = seeds)."
    );
    let mut contrasts = Vec::new();
    let (mut helps, mut hurts, mut unclear) = (Vec::new(), Vec::new(), Vec::new());
    for (title, rows) in [
        ("User side", USER_ROWS),
        ("Item side", ITEM_ROWS),
        ("Risk", RISK_ROWS),
        ("Cost", COST_ROWS),
    ] {
        let _ = writeln!(out, "\n### {title}\n");
        let header: Vec<String> = ARMS.iter().map(|a| format!("{:>20}", a.as_str())).collect();
        let _ = writeln!(out, "| {:<44} |{} |", "", header.join(" |"));
        let _ = writeln!(
            out,
            "|{}|{}",
            "-".repeat(46),
            "----------------------|".repeat(ARMS.len())
        );
        for (name, read) in rows {
            let estimates: Vec<Estimate> = results
                .iter()
                .map(|seeds| estimate(&seeds.iter().map(read).collect::<Vec<_>>()))
                .collect();
            let cells: Vec<String> = estimates
                .iter()
                .map(|e| format!("{:>20}", cell(e)))
                .collect();
            let _ = writeln!(out, "| {name:<44} |{} |", cells.join(" |"));
            if let (Some(first), Some(last)) = (estimates.first(), estimates.last()) {
                let verdict = if !(first.mean.is_finite() && last.mean.is_finite()) {
                    "no comparison (a side has no value)"
                } else if apart(first, last) {
                    if last.mean > first.mean {
                        "higher than retrieval only"
                    } else {
                        "lower than retrieval only"
                    }
                } else {
                    "not distinguishable from retrieval only (the intervals overlap)"
                };
                if first.mean.is_finite() && last.mean.is_finite() {
                    contrasts.push(format!(
                        "- {name}: full loop {verdict}: {} against {}",
                        cell(last),
                        cell(first)
                    ));
                }
                if let Some((_, higher)) = BETTER_WHEN_HIGHER.iter().find(|(n, _)| n == name) {
                    let judged = if !apart(first, last) {
                        &mut unclear
                    } else if (last.mean > first.mean) == *higher {
                        &mut helps
                    } else {
                        &mut hurts
                    };
                    judged.push(format!("{name} ({} against {})", cell(last), cell(first)));
                }
            }
        }
    }
    let _ = writeln!(out, "\n### Full loop against retrieval only\n");
    for c in contrasts {
        let _ = writeln!(out, "{c}");
    }
    let _ = writeln!(
        out,
        "\n### Where generating helps, hurts, or cannot be told apart\n"
    );
    let _ = writeln!(
        out,
        "Judged only where the 95% intervals of the full loop and of retrieval alone do not overlap."
    );
    for (label, list) in [
        ("Helps", &helps),
        ("Hurts", &hurts),
        ("No difference this run can show", &unclear),
    ] {
        let text = if list.is_empty() {
            "nothing".to_string()
        } else {
            list.join("; ")
        };
        let _ = writeln!(out, "\n- **{label}**: {text}.");
    }
    if !charts.is_empty() {
        let _ = writeln!(out, "\n### Charts\n");
        for (title, link) in charts {
            let _ = writeln!(out, "![{title}]({link})\n");
        }
    }
    let _ = writeln!(out, "\n### How to read this\n");
    for line in CAVEATS {
        let _ = writeln!(out, "- {line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use generec_simulate::population::Tone;

    #[test]
    fn a_change_is_met_only_by_a_generated_item_made_from_the_target_as_asked() {
        let target = ChangeTarget {
            item_id: "bbc-1".into(),
            words: 5,
        };
        let item = |origin: pb::OriginLabel, parent: &str, body: &str| pb::FeedItem {
            origin_label: origin as i32,
            parent_ids: vec![parent.into()],
            body: body.into(),
            ..pb::FeedItem::default()
        };
        let view = |valence: f32| (vec![0.0f32; 4], valence);
        let shorter = Wish {
            change: Some(0),
            shorter: true,
            ..Wish::default()
        };
        let generated = pb::OriginLabel::Generated;
        let short = item(generated, "bbc-1", "three words here");
        assert!(target.met(&shorter, std::slice::from_ref(&short), &[view(0.0)]));
        // As long as the original, made from another item, or human.
        let long = item(generated, "bbc-1", "one two three four five six");
        assert!(!target.met(&shorter, &[long], &[view(0.0)]));
        let other = item(generated, "bbc-2", "three words here");
        assert!(!target.met(&shorter, &[other], &[view(0.0)]));
        let human = item(pb::OriginLabel::Human, "bbc-1", "three words here");
        assert!(!target.met(&shorter, &[human], &[view(0.0)]));
        // A calmer telling must not be distressing.
        let calmer = Wish {
            change: Some(0),
            tone: Some(Tone::Calm),
            ..Wish::default()
        };
        assert!(target.met(&calmer, std::slice::from_ref(&short), &[view(0.2)]));
        assert!(!target.met(&calmer, &[short], &[view(-0.5)]));
    }

    #[test]
    fn intervals_come_from_the_spread_of_the_seeds() {
        let e = estimate(&[1.0, 2.0, 3.0]);
        assert!((e.mean - 2.0).abs() < 1e-12);
        // sd 1, n 3: 4.303 / sqrt(3).
        assert!((e.half - 4.303 / 3f64.sqrt()).abs() < 1e-9, "{}", e.half);
        assert!(estimate(&[5.0]).half.is_nan());
        assert!(estimate(&[]).mean.is_nan());
        assert!((t975(4) - 2.776).abs() < 1e-9);
    }

    #[test]
    fn percentiles_and_ratios_handle_empty_input() {
        assert!(percentile(&[], 0.5).is_nan());
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 0.5), 2.0);
        assert!(ratio(1, 0).is_nan());
        assert!(process_cpu_seconds() >= 0.0);
    }
}
