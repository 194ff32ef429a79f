//! `generec interpret`: runs the instructor on an instruction, with no
//! server, and prints the guidance and the decision as JSON.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use generec_generation::guidance::{Candidate, FeedbackSignal, InterpretInput};
use generec_generation::instructor::{Instructor, InstructorConfig};

/// Flags of `generec interpret`.
#[derive(clap::Args)]
pub struct InterpretArgs {
    /// The instruction ("less politics, more tech"); with --jsonl, read
    /// requests from standard input instead.
    pub instruction: Option<String>,
    /// A JSON file with the session's feedback, oldest first:
    /// `[{"item_id": "a", "kind": "skip"}, ...]` (kinds: impression, click,
    /// like, complete, share, skip, dislike).
    #[arg(long)]
    pub feedback: Option<PathBuf>,
    /// A JSON file with what retrieval found, best first:
    /// `[{"item_id": "a", "score": 1.0, "title": "...", "tags": [], "text": "...", "timed": false}]`.
    #[arg(long)]
    pub candidates: Option<PathBuf>,
    /// The item the user is looking at ("this", "it").
    #[arg(long)]
    pub context_item: Option<String>,
    /// Skips or dislikes in a row that make the instructor create.
    #[arg(long, default_value_t = InstructorConfig::default().rejection_streak)]
    pub rejection_streak: u32,
    /// Read one request a line from standard input (a JSON object with the
    /// fields of the flags: instruction, feedback, candidates,
    /// context_item, user_id) and print one answer a line.
    #[arg(long)]
    pub jsonl: bool,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &PathBuf) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    instruction: String,
    #[serde(default)]
    context_item: Option<String>,
    #[serde(default)]
    feedback: Vec<FeedbackSignal>,
    #[serde(default)]
    candidates: Vec<Candidate>,
}

/// Runs the command.
pub fn run(args: InterpretArgs) -> Result<()> {
    let config = InstructorConfig {
        rejection_streak: args.rejection_streak,
        ..InstructorConfig::default()
    };
    config.validate().map_err(anyhow::Error::msg)?;
    let instructor = Instructor::new(config);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.jsonl {
        if args.instruction.is_some() {
            bail!("--jsonl reads requests from standard input; give no instruction argument");
        }
        for (n, line) in std::io::stdin().lock().lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let req: Line = serde_json::from_str(&line)
                .with_context(|| format!("line {}: not a request object", n + 1))?;
            let input = InterpretInput {
                user_id: req.user_id,
                instruction: req.instruction,
                context_item: req.context_item,
                feedback: req.feedback,
                candidates: req.candidates,
            };
            check(&input)?;
            serde_json::to_writer(&mut out, &instructor.interpret(&input))?;
            writeln!(out)?;
        }
        return Ok(());
    }
    let input = InterpretInput {
        user_id: String::new(),
        instruction: args.instruction.unwrap_or_default(),
        context_item: args.context_item,
        feedback: match &args.feedback {
            Some(p) => read_json(p)?,
            None => vec![],
        },
        candidates: match &args.candidates {
            Some(p) => read_json(p)?,
            None => vec![],
        },
    };
    check(&input)?;
    serde_json::to_writer_pretty(&mut out, &instructor.interpret(&input))?;
    writeln!(out)?;
    Ok(())
}

fn check(input: &InterpretInput) -> Result<()> {
    use generec_generation::service::MAX_INSTRUCTION_BYTES;
    if input.instruction.len() > MAX_INSTRUCTION_BYTES {
        bail!(
            "the instruction is {} bytes, more than the limit of {MAX_INSTRUCTION_BYTES}",
            input.instruction.len()
        );
    }
    Ok(())
}
