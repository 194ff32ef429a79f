//! `generec eval generation`: measures what the generation service makes,
//! on the BBC corpus, with the services running in this process.
//!
//! For each instruction of a fixed set, the instructor reads it and the
//! creator makes an item with each active back-end. Measured:
//! - **relevance**: cosine between the instruction and the output (MiniLM
//!   embeddings when present, TF-IDF otherwise), beside a lexical baseline:
//!   the top search hit for the same words, cut to the same number of
//!   sentences (its lead);
//! - **length conformance**: the share of outputs whose sentence count is
//!   the one asked for (or, for word and time targets, within 25% of the
//!   words);
//! - **supported share**: the share of checkable sentences the trust
//!   service's authenticity check finds supported by a cited source;
//! - **redundancy**: the highest similarity between two sentences of an
//!   output, averaged;
//! - **copying**: the words each draft copies verbatim from a restricted
//!   source, and the share within every source's allowance (default
//!   licence rules, against every BBC article);
//! - **review**: the share of drafts that trust's default bundle, run in
//!   this process with the context the feed gives it (sources with their
//!   licences, framing marks), allows, and the rules that held the others;
//! - **trigger and action accuracy** of the instructor on its table;
//! - **clip and thumbnail choice** against the labelled timed items;
//! - **watermark**: the detection rate on text the embedded model wrote
//!   with the watermark on, and the false-positive rate on human text (BBC
//!   articles), at z > 4.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use generec_corpus::{Corpus, CorpusConfig};
use generec_generation::config::GenerationConfig;
use generec_generation::draft::Draft;
use generec_generation::guidance::{Format, InterpretInput, LengthUnit};
use generec_generation::instructor::Instructor;
use generec_generation::relevance::Scorer;
use generec_generation::service::{Backend, CreateArgs};
use generec_generation::text;
use generec_trust::finding::Action;

/// Flags of `generec eval generation`.
#[derive(clap::Args)]
pub struct GenerationEvalArgs {
    /// Where scripts/fetch-data put the datasets and models.
    #[arg(long, env = "GENEREC_DATA", default_value = ".data")]
    pub data: PathBuf,
    /// How many of the instructions the embedded model also writes for (it
    /// is slow on a CPU); 0 skips it.
    #[arg(long, default_value_t = 6)]
    pub embedded_cases: usize,
    /// Watermarked generations for the detection rate.
    #[arg(long, default_value_t = 20)]
    pub watermark_samples: usize,
    /// BBC articles for the false-positive rate.
    #[arg(long, default_value_t = 500)]
    pub human_samples: usize,
    /// A file of instructions (one a line, `#` comments) to run instead of
    /// the fixed set, e.g. `services/cli/data/generation_dev_instructions.txt`
    /// for tuning; the fixed set is the one figures are reported on.
    #[arg(long)]
    pub instructions: Option<PathBuf>,
    /// The labelled timed items for clips and thumbnails.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../generation/tests/fixtures/timed_edits.json"))]
    pub timed_labels: PathBuf,
    /// Score only the instructor on its dev and frozen test sets (no corpus,
    /// no model; takes a second).
    #[arg(long)]
    pub instructor_only: bool,
    /// With the instructor's figures, list the dev cases it gets wrong
    /// (tuning reads these, never the test set's misses).
    #[arg(long)]
    pub dev_errors: bool,
    /// With the instructor's figures, the dev set at several
    /// `min_similarity` thresholds (the value is chosen on dev).
    #[arg(long)]
    pub similarity_sweep: bool,
}

/// The embedding model in `data`, without the language model (`None` when
/// MiniLM is not installed).
fn load_embedder(
    data: &std::path::Path,
) -> Result<Option<Arc<dyn generec_generation::relevance::Embed>>> {
    let cfg = GenerationConfig {
        models_dir: data.join("models").display().to_string(),
        embedded: generec_generation::config::EmbeddedConfig {
            enabled: false,
            ..Default::default()
        },
        ..GenerationConfig::default()
    };
    Ok(cfg.load_models()?.embedder)
}

/// Prints the instructor's figures on its dev and frozen test sets: by
/// words alone, and with relevance by meaning when `embedder` is given.
pub fn print_instructor_sets(
    embedder: Option<Arc<dyn generec_generation::relevance::Embed>>,
    dev_errors: bool,
    sweep: bool,
) -> Result<()> {
    use generec_generation::instructor::InstructorConfig;
    use generec_generation::testset::{self, Set};
    let mut runs: Vec<(String, Instructor)> = vec![("words".into(), Instructor::default())];
    if let Some(e) = &embedder {
        let t = InstructorConfig::default().min_similarity;
        runs.push((
            format!("{} >= {t}", e.id()),
            Instructor::default().with_embedding(e.clone()),
        ));
    }
    println!(
        "\n## Instructor, dev and frozen test sets (evalsets/dev, evalsets/test)\n\n| set | relevance | cases | action right | fully right | exclusions honoured |\n|---|---|---|---|---|---|"
    );
    let mut dev_listed = false;
    for (how, instructor) in runs.iter().rev() {
        for set in [Set::Dev, Set::Test] {
            let r = testset::run(instructor, set).map_err(anyhow::Error::msg)?;
            println!(
                "| {} | {how} | {} | {:.3} | {:.3} | {:.3} ({} cases) |",
                if set == Set::Dev { "dev" } else { "test" },
                r.cases,
                r.action_right as f64 / r.cases.max(1) as f64,
                r.fully_right_share(),
                r.exclusions_honoured_share(),
                r.with_exclusions
            );
            if dev_errors && set == Set::Dev && !dev_listed {
                dev_listed = true;
                for e in &r.errors {
                    println!("  dev {e}");
                }
            }
        }
    }
    if let (true, Some(e)) = (sweep, &embedder) {
        println!("\n| min_similarity | dev action right | dev fully right |\n|---|---|---|");
        for t in [0.3f32, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7] {
            let i = Instructor::new(InstructorConfig {
                min_similarity: t,
                ..InstructorConfig::default()
            })
            .with_embedding(e.clone());
            let r = testset::run(&i, Set::Dev).map_err(anyhow::Error::msg)?;
            println!(
                "| {t} | {:.3} | {:.3} |",
                r.action_right as f64 / r.cases.max(1) as f64,
                r.fully_right_share()
            );
        }
    }
    Ok(())
}

/// The fixed instruction set: what people ask of a news feed.
pub const INSTRUCTIONS: &[&str] = &[
    "a digest of this week's markets",
    "summarise the latest on the general election in five sentences",
    "something upbeat about films, in four sentences",
    "tech news please, no more politics",
    "three sentences on rugby",
    "what's happening with mobile phones",
    "a two-minute digest of music news",
    "oil prices and the economy",
    "tell me about interest rates in three sentences",
    "tennis news, nothing about football",
    "a calm summary of the budget",
    "broadband and internet news in 100 words",
    "the latest on video games",
    "a digest of box office news",
    "news about the European Union",
    "airline news in four sentences",
];

#[derive(Default)]
struct Tally {
    n: usize,
    relevance: f64,
    baseline: f64,
    length_ok: usize,
    supported: f64,
    supported_n: usize,
    redundancy: f64,
    millis: Vec<f64>,
    watermark_z: Vec<f64>,
    /// Per draft: the most words it copies verbatim from one restricted
    /// (reserved or no-derivatives) source.
    copied_restricted: Vec<f64>,
    /// Drafts within every source's allowance.
    within_allowance: usize,
    /// Drafts trust's default bundle allows (with or without a label).
    passed_review: usize,
    /// The rules of the findings that held the other drafts.
    held_by: std::collections::BTreeMap<String, usize>,
    /// The instructions whose drafts were held, with the rules.
    held: Vec<String>,
}

impl Tally {
    fn mean(sum: f64, n: usize) -> f64 {
        if n == 0 { f64::NAN } else { sum / n as f64 }
    }
}

fn body_sentences(d: &Draft) -> Vec<String> {
    d.attributions
        .iter()
        .filter(|a| !a.framing && !a.source_id.ends_with("#title"))
        .filter_map(|a| d.body.get(a.start..a.end).map(str::to_string))
        .collect()
}

fn length_ok(d: &Draft, g: &generec_generation::guidance::Guidance, sentences: usize) -> bool {
    let words = text::word_count(&body_sentences(d).join(" "));
    match g.length {
        Some(l) if l.value > 0 => match l.unit {
            LengthUnit::Sentences => sentences == l.value as usize,
            LengthUnit::Words => {
                (words as f64 - f64::from(l.value)).abs() <= 0.25 * f64::from(l.value)
            }
            LengthUnit::Seconds => {
                let target = f64::from(l.value) * 200.0 / 60.0;
                (words as f64 - target).abs() <= 0.25 * target
            }
        },
        _ => {
            let default = match g.format {
                Some(Format::Summary) => 3,
                Some(Format::Digest) => 6,
                _ => 8,
            };
            sentences == default
        }
    }
}

fn supported_share(d: &Draft) -> Option<f32> {
    use generec_trust::checks::{ReviewContext, Source, authenticity};
    let context = ReviewContext {
        kind: Some(d.kind),
        origin: Some(d.origin),
        sources: d
            .sources
            .iter()
            .map(|s| Source {
                id: s.id.clone(),
                text: s.text.clone(),
                item_id: s.item_id.clone(),
                ..Source::default()
            })
            .collect(),
        // The lead is the composer's own framing, as the feed marks it.
        framing: d.framing_ranges(0).collect(),
        ..ReviewContext::default()
    };
    authenticity::supported_share(&d.body, &context, &authenticity::Config::default())
}

/// Reviews a draft as the feed does: title and body, the cited passages
/// with their items' licences, creators and titles, the framing marks.
/// Returns the reviewed text with the outcome.
fn review(
    reviewer: &generec_trust::review::Reviewer,
    corpus: &Corpus,
    d: &Draft,
) -> Result<(String, generec_trust::review::Outcome)> {
    use generec_trust::checks::{ReviewContext, Source};
    let content = format!("{}\n\n{}", d.title, d.body);
    let offset = content.len() - d.body.len();
    let mut sources = Vec::with_capacity(d.sources.len());
    for s in &d.sources {
        let id = generec_corpus::model::ItemId::parse(&s.item_id)?;
        let item = corpus.get_item(&id)?;
        sources.push(Source {
            id: s.id.clone(),
            text: s.text.clone(),
            item_id: s.item_id.clone(),
            licence: item.licence.clone(),
            creator: item.creator_id.clone(),
            title: item.title.clone(),
            content_sha256: item.content_sha256.clone(),
        });
    }
    let context = ReviewContext {
        kind: Some(d.kind),
        user_id: d.user_id.clone(),
        origin: Some(d.origin),
        sources,
        instruction: d.instruction.clone(),
        // As the feed marks it: the title, and the body's framing.
        framing: std::iter::once((0, d.title.len()))
            .chain(d.framing_ranges(offset))
            .collect(),
        ..ReviewContext::default()
    };
    let outcome = reviewer.review(&content, &context)?;
    Ok((content, outcome))
}

/// What a draft copies from the corpus, under the default licence rules.
struct Copying {
    max_restricted: usize,
    within: bool,
}

fn copying(
    policy: &generec_licence::Policy,
    sources: &[generec_licence::Source],
    d: &Draft,
) -> Copying {
    let text = format!("{}\n\n{}", d.title, d.body);
    let a = generec_licence::assess(policy, &text, sources, &[]);
    let restricted = |c: generec_licence::Class| {
        matches!(
            c,
            generec_licence::Class::Reserved | generec_licence::Class::NoDerivatives
        )
    };
    Copying {
        max_restricted: a
            .sources
            .iter()
            .filter(|u| restricted(u.class))
            .map(|u| u.copied_words)
            .max()
            .unwrap_or(0),
        within: a.sources.iter().all(|u| u.excess_words() == 0),
    }
}

fn max_pairwise(scorer: &Scorer, sentences: &[String]) -> f64 {
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let v = scorer.vectors(&refs);
    let mut m = 0.0f32;
    for i in 0..v.len() {
        for j in i + 1..v.len() {
            m = m.max(v[i].similarity(&v[j]));
        }
    }
    f64::from(m)
}

fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Runs the evaluation and prints the tables.
pub async fn run(args: GenerationEvalArgs) -> Result<()> {
    if args.instructor_only {
        return print_instructor_sets(
            load_embedder(&args.data)?,
            args.dev_errors,
            args.similarity_sweep,
        );
    }
    let started = Instant::now();
    let bbc = args.data.join("bbc");
    if !bbc.is_dir() {
        bail!(
            "the BBC corpus is not at {}; run scripts/fetch-data",
            bbc.display()
        );
    }
    let dir = tempfile::tempdir()?;
    let corpus_cfg = CorpusConfig {
        data_dir: dir.path().join("corpus"),
        ..CorpusConfig::default()
    };
    let corpus = tokio::task::spawn_blocking(move || Corpus::open(corpus_cfg)).await??;
    {
        let c = corpus.clone();
        let bbc = bbc.clone();
        tokio::task::spawn_blocking(move || crate::serve::load_bbc(&c, &bbc)).await??;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let corpus_addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = corpus.clone();
    let server = tokio::spawn(async move {
        generec_corpus::grpc::serve(
            serving,
            listener,
            &generec_common::config::ServerConfig::default(),
            &generec_common::auth::AuthConfig::default(),
            async {
                let _ = stop_rx.await;
            },
        )
        .await
    });

    let gen_cfg = GenerationConfig {
        corpus_url: format!("http://{corpus_addr}"),
        models_dir: args.data.join("models").display().to_string(),
        ..GenerationConfig::default()
    };
    let models = {
        let c = gen_cfg.clone();
        tokio::task::spawn_blocking(move || c.load_models()).await??
    };
    // The model already loaded serves the instructor's figures too.
    let instructor_embedder = models.embedder.clone();
    let measure = match &models.embedder {
        Some(e) => Scorer::with_embedding(e.clone()),
        None => Scorer::lexical(),
    };
    let lm = models.lm.clone();
    // The same creator with no quotation limit on any source: what the
    // allowance costs in relevance.
    let unlimited_bundle = dir.path().join("unlimited.toml");
    std::fs::write(
        &unlimited_bundle,
        "[copyright.licence.allow]\n\
         no_derivatives = { use = \"quote\", max_words = 0, attribution = true }\n\
         reserved = { use = \"quote\", max_words = 0, attribution = true }\n",
    )?;
    let unlimited = GenerationConfig {
        licence_bundle: unlimited_bundle.display().to_string(),
        ..gen_cfg.clone()
    }
    .open_with(models.clone())?;
    let core = Arc::new(gen_cfg.open_with(models)?);
    let mut relevance_unlimited = 0.0f64;
    let instructor = Instructor::default();

    // Every BBC article, as the licence rules see it: what a draft copies
    // is measured against all of them, not only those it cites.
    let bbc_sources: Vec<generec_licence::Source> = generec_corpus::load::read_bbc(&bbc)?
        .into_iter()
        .map(|i| i.licence_source())
        .collect();
    let licence_policy = generec_licence::Policy::default();
    let reviewer = {
        let cfg = generec_trust::config::TrustConfig {
            assets_dir: args.data.clone(),
            ..generec_trust::config::TrustConfig::default()
        };
        let bundle = cfg.load_bundle()?;
        let registry = Arc::new(generec_trust::registry::Registry::temporary()?);
        let env = cfg.compile_env();
        tokio::task::spawn_blocking(move || {
            generec_trust::review::Reviewer::new(bundle, registry, env)
        })
        .await?
    };
    let mut backends = vec![Backend::Composer];
    if lm.is_some() && args.embedded_cases > 0 {
        backends.push(Backend::Embedded);
    }
    let mut tallies: Vec<(Backend, Tally)> =
        backends.iter().map(|b| (*b, Tally::default())).collect();
    let instructions: Vec<String> = match &args.instructions {
        None => INSTRUCTIONS.iter().map(|s| s.to_string()).collect(),
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect(),
    };
    for (i, instruction) in instructions.iter().enumerate() {
        let interp = instructor.interpret(&InterpretInput {
            instruction: instruction.to_string(),
            ..InterpretInput::default()
        });
        let g = interp.guidance;
        for (backend, tally) in tallies.iter_mut() {
            if *backend == Backend::Embedded && i >= args.embedded_cases {
                continue;
            }
            let t0 = Instant::now();
            let draft = core
                .create(
                    CreateArgs {
                        user_id: "eval".into(),
                        guidance: g.clone(),
                        instruction: instruction.to_string(),
                        backend: Some(*backend),
                        ..CreateArgs::default()
                    },
                    None,
                )
                .await
                .with_context(|| {
                    format!("creating for {instruction:?} with {}", backend.as_str())
                })?;
            tally.millis.push(t0.elapsed().as_secs_f64() * 1e3);
            let sentences = if *backend == Backend::Composer {
                body_sentences(&draft)
            } else {
                text::sentences(&draft.body)
                    .into_iter()
                    .map(|s| s.text)
                    .collect()
            };
            // The baseline: the top search hit's lead, as long as the output.
            let words: Vec<String> = text::words(instruction)
                .into_iter()
                .filter(|w| !text::is_stop_word(w) && w.chars().all(char::is_alphanumeric))
                .collect();
            let (hits, _) = corpus.search(&generec_corpus::index::SearchQuery {
                query: words.join(" "),
                filters: Default::default(),
                limit: 1,
                offset: 0,
                snippets: false,
            })?;
            let lead = match hits.first() {
                Some(h) => {
                    let item = corpus.get_item(&h.id)?;
                    text::sentences(&item.body)
                        .into_iter()
                        .take(sentences.len().max(1))
                        .map(|s| s.text)
                        .collect::<Vec<_>>()
                        .join(" ")
                }
                None => String::new(),
            };
            let out = sentences.join(" ");
            let v = measure.vectors(&[instruction, &out, &lead]);
            tally.relevance += f64::from(v[0].similarity(&v[1]));
            tally.baseline += f64::from(v[0].similarity(&v[2]));
            if *backend == Backend::Composer {
                let free = unlimited
                    .create(
                        CreateArgs {
                            user_id: "eval".into(),
                            guidance: g.clone(),
                            instruction: instruction.to_string(),
                            backend: Some(Backend::Composer),
                            ..CreateArgs::default()
                        },
                        None,
                    )
                    .await?;
                let free_out = body_sentences(&free).join(" ");
                let v = measure.vectors(&[instruction, &free_out]);
                relevance_unlimited += f64::from(v[0].similarity(&v[1]));
            }
            if length_ok(&draft, &g, sentences.len()) {
                tally.length_ok += 1;
            }
            if let Some(s) = supported_share(&draft) {
                tally.supported += f64::from(s);
                tally.supported_n += 1;
            }
            tally.redundancy += max_pairwise(&measure, &sentences);
            let copied = copying(&licence_policy, &bbc_sources, &draft);
            tally.copied_restricted.push(copied.max_restricted as f64);
            if copied.within {
                tally.within_allowance += 1;
            }
            let (reviewed, outcome) = review(&reviewer, &corpus, &draft)?;
            let shown = |a: Action| matches!(a, Action::Allow | Action::AllowWithLabel);
            if shown(outcome.verdict) {
                tally.passed_review += 1;
            } else {
                let mut rules: Vec<&str> = outcome
                    .findings
                    .iter()
                    .filter(|f| !shown(f.action))
                    .map(|f| f.rule_id.as_str())
                    .collect();
                rules.sort_unstable();
                rules.dedup();
                let why = outcome
                    .findings
                    .iter()
                    .find(|f| !shown(f.action) && f.span.is_some())
                    .map(|f| {
                        let (s, e) = f.span.unwrap_or_default();
                        format!(
                            " ({:?}: {})",
                            reviewed.get(s..e).unwrap_or_default(),
                            f.evidence
                        )
                    })
                    .unwrap_or_default();
                tally
                    .held
                    .push(format!("{instruction:?}: {}{why}", rules.join(", ")));
                for r in rules {
                    *tally.held_by.entry(r.to_string()).or_default() += 1;
                }
            }
            if *backend == Backend::Embedded {
                tally.watermark_z.push(draft.watermark_z);
            }
            tally.n += 1;
        }
    }

    println!(
        "## Generation quality ({} instructions, BBC corpus)\n",
        instructions.len()
    );
    println!("relevance measured with {}\n", measure.describe());
    println!(
        "| back-end | n | relevance | baseline (top hit lead) | length conformance | supported share | redundancy | latency p50 ms | p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (backend, t) in &tallies {
        println!(
            "| {} | {} | {:.3} | {:.3} | {:.2} | {:.2} | {:.3} | {:.0} | {:.0} |",
            backend.as_str(),
            t.n,
            Tally::mean(t.relevance, t.n),
            Tally::mean(t.baseline, t.n),
            Tally::mean(t.length_ok as f64, t.n),
            Tally::mean(t.supported, t.supported_n),
            Tally::mean(t.redundancy, t.n),
            percentile(&t.millis, 0.5),
            percentile(&t.millis, 0.99),
        );
    }

    if let Some((_, t)) = tallies.iter().find(|(b, _)| *b == Backend::Composer) {
        let with = Tally::mean(t.relevance, t.n);
        let without = Tally::mean(relevance_unlimited, t.n);
        println!(
            "\ncomposer relevance within the quotation allowance {with:.3}; with no limit on any source {without:.3} (the allowance costs {:.3})",
            without - with
        );
    }
    println!(
        "\n| back-end | words copied from one restricted source: max | mean of per-draft max | drafts within the allowance | drafts that pass review |"
    );
    println!("|---|---|---|---|---|");
    for (backend, t) in &tallies {
        let max = t.copied_restricted.iter().copied().fold(0.0f64, f64::max);
        let mean = Tally::mean(t.copied_restricted.iter().sum(), t.copied_restricted.len());
        println!(
            "| {} | {:.0} | {:.1} | {}/{} | {}/{} |",
            backend.as_str(),
            max,
            mean,
            t.within_allowance,
            t.n,
            t.passed_review,
            t.n
        );
    }
    for (backend, t) in &tallies {
        for (rule, n) in &t.held_by {
            println!("{}: {n} held by {rule}", backend.as_str());
        }
        for h in &t.held {
            println!("  {} held: {h}", backend.as_str());
        }
    }

    for (backend, t) in &tallies {
        if !t.watermark_z.is_empty() {
            println!(
                "{}: median watermark z of the drafts {:.2} (z > 4 in {} of {})",
                backend.as_str(),
                percentile(&t.watermark_z, 0.5),
                t.watermark_z.iter().filter(|z| **z > 4.0).count(),
                t.watermark_z.len()
            );
        }
    }

    let table = generec_generation::table::run(&instructor);
    println!(
        "\n## Instructor\n\n| rows | trigger accuracy | action accuracy | rows fully right |\n|---|---|---|---|\n| {} | {:.3} | {:.3} | {:.3} |",
        table.rows,
        table.trigger_accuracy(),
        table.action_accuracy(),
        table.passed as f64 / table.rows.max(1) as f64
    );
    for f in &table.failures {
        println!("  {f}");
    }
    print_instructor_sets(instructor_embedder, args.dev_errors, false)?;

    let labels = std::fs::read_to_string(&args.timed_labels)
        .with_context(|| format!("reading {}", args.timed_labels.display()))?;
    let cases = generec_generation::editor::parse_labelled_timed(&labels)?;
    let editor =
        generec_generation::editor::Editor::new(generec_generation::tone::ToneLexicon::builtin());
    let timed = generec_generation::editor::eval_timed(&editor, &cases);
    println!(
        "\n## Clips and thumbnails\n\n| labelled items | clip accuracy | thumbnail accuracy |\n|---|---|---|\n| {} | {:.3} | {:.3} |",
        timed.n, timed.clip_accuracy, timed.thumbnail_accuracy
    );
    for m in &timed.misses {
        println!("  miss: {m}");
    }

    if let Some(lm) = lm {
        let cfg = gen_cfg.embedded.watermark();
        let samples = args.watermark_samples;
        let human = args.human_samples;
        let bbc_dir = bbc.clone();
        let report = tokio::task::spawn_blocking(move || -> Result<String> {
            use generec_models::lm::{ChatMessage, GenerateOptions};
            let topics = [
                "the economy", "a football match", "a new film", "an election", "a new phone",
                "the weather", "a music festival", "oil prices", "a tennis final", "a video game",
            ];
            let mut detected = 0;
            let mut zs = Vec::new();
            let mut tps = Vec::new();
            for k in 0..samples {
                let messages = [
                    ChatMessage::system("You are a news writer."),
                    ChatMessage::user(format!("Write a short news story about {}.", topics[k % topics.len()])),
                ];
                let out = lm.generate(
                    &messages,
                    &GenerateOptions {
                        max_tokens: 150,
                        temperature: 0.8,
                        top_p: 0.95,
                        seed: k as u64 + 1,
                        watermark: Some(cfg),
                    },
                )?;
                tps.push(out.tokens_per_second);
                // Detection reads the words alone: re-tokenise the text.
                let d = lm.detect_watermark(&out.text, &cfg);
                zs.push(d.z);
                if d.is_watermarked(generec_models::watermark::DEFAULT_Z_THRESHOLD) {
                    detected += 1;
                }
            }
            let items = generec_corpus::load::read_bbc(&bbc_dir)?;
            let mut false_pos = 0;
            let mut n_human = 0;
            let mut human_z = Vec::new();
            for item in items.iter().take(human) {
                // About as long as a generation: the first 600 characters.
                let text: String = item.body.chars().take(600).collect();
                let d = lm.detect_watermark(&text, &cfg);
                human_z.push(d.z);
                n_human += 1;
                if d.is_watermarked(generec_models::watermark::DEFAULT_Z_THRESHOLD) {
                    false_pos += 1;
                }
            }
            Ok(format!(
                "\n## Statistical watermark (gamma {}, delta {}, z > 4)\n\n| text | n | flagged | rate | median z |\n|---|---|---|---|---|\n| embedded model, watermarked, 150 tokens | {} | {} | {:.3} | {:.2} |\n| BBC articles (human), first 600 chars | {} | {} | {:.4} | {:.2} |\n\nembedded model: {:.1} tokens/s (median)",
                cfg.gamma,
                cfg.delta,
                samples,
                detected,
                detected as f64 / samples.max(1) as f64,
                percentile(&zs, 0.5),
                n_human,
                false_pos,
                false_pos as f64 / n_human.max(1) as f64,
                percentile(&human_z, 0.5),
                percentile(&tps, 0.5),
            ))
        })
        .await??;
        println!("{report}");
    } else {
        println!("\n(the embedded model is not present: no watermark rates)");
    }

    let _ = stop_tx.send(());
    let _ = server.await;
    eprintln!("evaluated in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
