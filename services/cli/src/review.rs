//! `generec review`: the trust service's checks without a server, so an
//! operator can try a bundle before deploying it. Prints one JSON object
//! (verdict, findings, per-category scores, redacted text, bundle hash), or with `--jsonl` reads
//! one JSON request a line and writes one result a line.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use generec_common::types::{ItemKind, Origin};
use generec_trust::TrustConfig;
use generec_trust::checks::{Parent, ReviewContext, Source};
use generec_trust::registry::Registry;
use generec_trust::review::{JsonRequest, Reviewer};

/// Flags of `generec review`.
#[derive(clap::Args)]
pub struct ReviewArgs {
    /// A policy bundle (TOML); the default bundle when absent.
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// Where the bundle's data files resolve (scripts/fetch-data fills it).
    #[arg(long, env = "GENEREC_DATA", default_value = ".data")]
    assets: PathBuf,
    /// Item kind: article, video, music, image or design.
    #[arg(long)]
    kind: Option<String>,
    /// Origin: human, ai_edited or ai_created.
    #[arg(long)]
    origin: Option<String>,
    /// The user the content is for.
    #[arg(long, default_value = "")]
    user: String,
    /// A cited source passage (a text file); repeat for several.
    #[arg(long)]
    source: Vec<PathBuf>,
    /// A parent item as ID:LICENCE, or ID:LICENCE:consent when its owner consented.
    #[arg(long)]
    parent: Vec<String>,
    /// The instruction that produced the content.
    #[arg(long, default_value = "")]
    instruction: String,
    /// Read one JSON request a line ({"content": ..., "context": {...}}) and
    /// write one result a line.
    #[arg(long)]
    jsonl: bool,
    /// The content to review, or - for standard input.
    #[arg(default_value = "-")]
    file: PathBuf,
}

fn parse_json_enum<T: serde::de::DeserializeOwned>(flag: &str, value: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(value.to_string()))
        .with_context(|| format!("--{flag} {value:?} is not a known value"))
}

fn context(args: &ReviewArgs) -> Result<ReviewContext> {
    let kind: Option<ItemKind> = args
        .kind
        .as_deref()
        .map(|k| parse_json_enum("kind", k))
        .transpose()?;
    let origin: Option<Origin> = args
        .origin
        .as_deref()
        .map(|o| parse_json_enum("origin", o))
        .transpose()?;
    let mut sources = Vec::new();
    for path in &args.source {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading source {}", path.display()))?;
        sources.push(Source {
            id: path.display().to_string(),
            text,
            ..Source::default()
        });
    }
    let mut parents = Vec::new();
    for p in &args.parent {
        let parts: Vec<&str> = p.split(':').collect();
        let parent = match parts.as_slice() {
            [id, licence] => Parent {
                id: id.to_string(),
                licence: licence.to_string(),
                owner_consent: false,
            },
            [id, licence, "consent"] => Parent {
                id: id.to_string(),
                licence: licence.to_string(),
                owner_consent: true,
            },
            _ => bail!("--parent {p:?}: expected ID:LICENCE or ID:LICENCE:consent"),
        };
        parents.push(parent);
    }
    Ok(ReviewContext {
        kind,
        user_id: args.user.clone(),
        origin,
        parents,
        sources,
        instruction: args.instruction.clone(),
        framing: vec![],
    })
}

/// `generec review`.
pub fn run(args: ReviewArgs) -> Result<()> {
    let cfg = TrustConfig {
        bundle: args.bundle.clone(),
        assets_dir: args.assets.clone(),
        ..TrustConfig::default()
    };
    let bundle = cfg.load_bundle()?;
    let reviewer = Reviewer::new(
        bundle,
        std::sync::Arc::new(Registry::temporary()?),
        cfg.compile_env(),
    );
    let input: Box<dyn Read> = if args.file.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(&args.file)
                .with_context(|| format!("opening {}", args.file.display()))?,
        )
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.jsonl {
        for (n, line) in std::io::BufReader::new(input).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let request: JsonRequest = serde_json::from_str(&line)
                .with_context(|| format!("line {}: not a review request", n + 1))?;
            let outcome = reviewer
                .review(&request.content, &request.context)
                .with_context(|| format!("line {}", n + 1))?;
            serde_json::to_writer(&mut out, &outcome)?;
            out.write_all(b"\n")?;
        }
    } else {
        let mut content = String::new();
        std::io::BufReader::new(input)
            .read_to_string(&mut content)
            .context("reading the content (UTF-8 text)")?;
        let outcome = reviewer.review(&content, &context(&args)?)?;
        serde_json::to_writer_pretty(&mut out, &outcome)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
