//! `generec`: runs the platform's services and carries the tools around
//! them: data loading, a small client, ranking evaluation and benchmarks.

mod audit;
mod bench;
mod bench_feed;
mod bench_generation;
mod bench_soak;
mod bench_trust;
mod client;
mod config;
mod demo;
mod eval_cost;
mod eval_generation;
mod eval_items;
mod eval_loop;
mod interpret;
mod plots;
mod progress;
mod review;
mod serve;
mod simulate;
mod tokens;

use std::path::PathBuf;

/// jemalloc hands freed memory back to the system steadily; under glibc's
/// allocator the resident memory of a long-running platform kept growing
/// with steady traffic (`generec bench soak`, docs/BENCHMARKS.md).
#[cfg(all(unix, not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

/// The generec command line.
#[derive(Parser)]
#[command(name = "generec", version, about = "A generative recommender platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the platform on its embedded defaults, load the BBC corpus if the
    /// corpus is empty, and print how to call it.
    Up(serve::UpArgs),
    /// Run one service.
    Serve {
        #[command(subcommand)]
        service: serve::Service,
    },
    /// Load items or interactions into a running corpus service.
    Load(client::LoadArgs),
    /// Full-text search against a running corpus service.
    Search(client::SearchArgs),
    /// Recommendations for a user from a running corpus service.
    Recommend(client::RecommendArgs),
    /// Counts from a running corpus service.
    Stats(client::AddrArgs),
    /// Run the trust checks on content without a server and print the
    /// verdict, findings, per-category scores, redacted text and bundle hash as JSON.
    Review(review::ReviewArgs),
    /// Runs the instructor on an instruction (no server needed) and prints
    /// the guidance and the decision as JSON.
    Interpret(interpret::InterpretArgs),
    /// Runs a scripted session against `generec up` and prints each step:
    /// feeds, generation triggers, verdicts, manifests, an offline audit
    /// and a compliance query.
    Demo(demo::DemoArgs),
    /// Auditor tools against a running trust service.
    Audit {
        #[command(subcommand)]
        what: audit::Audit,
    },
    /// Check an offline audit bundle (from `generec audit bundle`) with no
    /// server, against keys the auditor pinned (never the bundle's own):
    /// checkpoint signature, manifest signature and signing key, content
    /// hash, invisible characters, log entry and inclusion. Exit status: 0
    /// every check passed; 1 no trusted keys or an unreadable file; 2 the
    /// bundle or manifest is malformed; 3 a log check failed; 4 the
    /// manifest's signature or key; 5 the content.
    Verify(audit::VerifyArgs),
    /// Builds the simulated user population from the corpus and shows its
    /// topics, tastes, calibration, responses and words (no server needed).
    Simulate(simulate::SimulateArgs),
    /// Offline evaluations.
    Eval {
        #[command(subcommand)]
        what: Eval,
    },
    /// Benchmarks that print ratios against a baseline measured in the same run.
    Bench {
        #[command(subcommand)]
        what: bench::Bench,
    },
}

#[derive(Subcommand)]
enum Eval {
    /// Popularity, ItemKNN, EASE, content and the served blend on MovieLens
    /// 100K under the fixed protocol (last 20% of each user's ratings held out).
    Ranking {
        /// Folder with ml-100k.inter and ml-100k.item.
        #[arg(long, env = "GENEREC_MOVIELENS", default_value = ".data/ml-100k")]
        data: PathBuf,
    },
    /// Precision and recall per category of the default policy bundle on
    /// labelled sets (generated PII, toxicity, hazards, bias, grounded and
    /// altered sentences, claimed works).
    Policies {
        /// Where scripts/fetch-data put the classifier, lists and BBC articles.
        #[arg(long, env = "GENEREC_DATA", default_value = ".data")]
        data: PathBuf,
        /// Also list every frozen test case the default bundle gets wrong.
        #[arg(long)]
        verbose: bool,
        /// Also list every dev case the default bundle gets wrong (the
        /// sets to tune on; the frozen test cases stay out of sight), and
        /// review the training half of the BBC articles, listing each
        /// finding other than a gendered-term label.
        #[arg(long)]
        dev_errors: bool,
        /// Evaluate this policy bundle (TOML) instead of the default one.
        #[arg(long)]
        bundle: Option<PathBuf>,
    },
    /// Quality of what the generation service makes, on the BBC corpus:
    /// relevance against a search baseline, length, grounding, redundancy,
    /// the instructor's triggers, clips and thumbnails, and the watermark.
    Generation(eval_generation::GenerationEvalArgs),
    /// Does generating beat retrieving, for whom, and at what risk? The
    /// simulated population served by three platforms (retrieval only;
    /// with the instructor and editor; the full loop), per seed, with 95%
    /// confidence intervals over the seeds.
    Loop(eval_loop::LoopArgs),
}

#[tokio::main]
async fn main() -> Result<()> {
    generec_common::telemetry::init_tracing("info");
    let cli = Cli::parse();
    match cli.command {
        Command::Up(args) => serve::up(args).await,
        Command::Serve { service } => serve::serve(service).await,
        Command::Load(args) => client::load(args).await,
        Command::Search(args) => client::search(args).await,
        Command::Recommend(args) => client::recommend(args).await,
        Command::Stats(args) => client::stats(args).await,
        Command::Audit { what } => audit::run(what).await,
        Command::Verify(args) => {
            let code = tokio::task::spawn_blocking(move || audit::verify(args)).await??;
            if code != 0 {
                std::process::exit(i32::from(code));
            }
            Ok(())
        }
        Command::Interpret(args) => interpret::run(args),
        Command::Simulate(args) => tokio::task::spawn_blocking(move || simulate::run(args)).await?,
        Command::Demo(args) => demo::run(args).await,
        Command::Review(args) => tokio::task::spawn_blocking(move || review::run(args)).await?,
        Command::Eval { what } => match what {
            Eval::Ranking { data } => {
                let started = std::time::Instant::now();
                let rows = tokio::task::spawn_blocking(move || {
                    generec_corpus::eval::run_ranking_eval(&data)
                })
                .await??;
                println!("{}", generec_corpus::eval::format_table(&rows));
                eprintln!("evaluated in {:.1} s", started.elapsed().as_secs_f64());
                Ok(())
            }
            Eval::Generation(args) => eval_generation::run(args).await,
            Eval::Loop(args) => eval_loop::run(args).await,
            Eval::Policies {
                data,
                verbose,
                dev_errors,
                bundle,
            } => {
                let started = std::time::Instant::now();
                let env = generec_trust::checks::CompileEnv { data_dir: data };
                let toml = match &bundle {
                    Some(path) => Some((
                        std::fs::read_to_string(path)
                            .with_context(|| format!("--bundle {}", path.display()))?,
                        path.display().to_string(),
                    )),
                    None => None,
                };
                let figures = tokio::task::spawn_blocking(move || {
                    let bundle = match &toml {
                        Some((text, name)) => {
                            generec_trust::bundle::Bundle::parse(text, name, &env)?
                        }
                        None => generec_trust::bundle::Bundle::default_bundle(&env)?,
                    };
                    generec_trust::eval::run_policy_eval(&env, &bundle, 1, dev_errors)
                })
                .await??;
                println!("{}", figures.format());
                if dev_errors {
                    println!("Dev cases the default bundle gets wrong\n");
                    for e in &figures.dev_errors {
                        println!("- {e}");
                    }
                    if let Some(news) = &figures.news_dev {
                        println!("\n{}", news.format());
                        println!("Findings other than gendered-term labels on those articles\n");
                        for f in &news.flagged {
                            println!("- {f}");
                        }
                    }
                }
                if verbose {
                    println!("Test cases the default bundle gets wrong\n");
                    for e in &figures.test.errors {
                        println!("- {e}");
                    }
                    println!("\nExternal cases the default bundle gets wrong\n");
                    for e in &figures.external.errors {
                        println!("- {e}");
                    }
                }
                eprintln!("evaluated in {:.1} s", started.elapsed().as_secs_f64());
                Ok(())
            }
        },
        Command::Bench { what } => bench::run(what).await,
    }
}
