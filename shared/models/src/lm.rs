//! A small chat language model: SmolLM2-135M-Instruct, 4-bit (Q4_1) GGUF,
//! run with candle's quantised Llama on the CPU.
//!
//! * The byte-level BPE tokenizer is rebuilt from the GGUF metadata
//!   (`tokenizer.ggml.tokens`, `tokenizer.ggml.merges`, control tokens as
//!   special tokens) with the `tokenizers` crate: digits split one by one,
//!   then the GPT-2 byte-level split, no prefix space (SmolLM2's own
//!   `tokenizer.json`).
//! * Prompts use ChatML (`<|im_start|>role\ncontent<|im_end|>\n`, ending in
//!   `<|im_start|>assistant\n`). Special tokens are only ever inserted by
//!   the template: a message that *contains* the text `<|im_end|>` is
//!   tokenised as plain text and cannot break out of its turn.
//! * Sampling is reproducible: the same messages, options and seed give the
//!   same tokens on the same build (a private SplitMix64 generator; no global
//!   randomness). Order of operations on the logits: watermark bias
//!   ([`crate::watermark`]), then temperature (0 means greedy), then top-p.
//! * Generation stops at `<|im_end|>` (also the GGUF's eos), at
//!   `<|endoftext|>` or `<|im_start|>`, or after `max_tokens`.
//!
//! [`LanguageModel`] is `Send + Sync`; the weights and their KV cache sit
//! behind a mutex, so **one generation runs at a time** per model and
//! concurrent callers queue. Tokenising and watermark detection do not take
//! the lock.
//!
//! # Speed
//!
//! On this project's 2-core build machine (AMD EPYC, `target-cpu=native`)
//! a 100-token completion runs at about 35 tokens/s when the machine is
//! otherwise idle. candle's CPU thread pool (one thread per physical core,
//! `CANDLE_NUM_THREADS` / `RAYON_NUM_THREADS` override it) waits for its
//! workers by *spinning*: when other processes compete for the cores,
//! throughput collapses (measured: 2 tokens/s with 2 threads against 25
//! with 1 under a parallel `cargo build`). Set `CANDLE_NUM_THREADS=1` on
//! shared or oversubscribed hosts, and do not run several models' forward
//! passes at once on a small machine.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};
use serde::{Deserialize, Serialize};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, Tokenizer};

use crate::ModelError;
use crate::watermark::{self, Detection, WatermarkConfig};

/// Identifier of the model, for provenance records.
pub const MODEL_ID: &str = "SmolLM2-135M-Instruct-Q4_1";
/// The largest `max_tokens` a single generation may ask for.
pub const MAX_TOKENS_CAP: usize = 512;
/// The system prompt SmolLM2's chat template inserts when the conversation
/// does not start with one.
pub const DEFAULT_SYSTEM_PROMPT: &str =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// Who speaks a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    /// The ChatML role name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}

/// How to sample a completion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GenerateOptions {
    /// Most tokens to generate, `1..=MAX_TOKENS_CAP`.
    pub max_tokens: usize,
    /// Softmax temperature, finite and `>= 0`; 0 is greedy decoding.
    pub temperature: f32,
    /// Nucleus sampling mass, in `(0, 1]`; 1 disables it.
    pub top_p: f32,
    /// Seed of the sampler: same seed, same output.
    pub seed: u64,
    /// Watermark the completion with this key and strength.
    pub watermark: Option<WatermarkConfig>,
}

impl Default for GenerateOptions {
    /// 256 tokens, temperature 0.7, top-p 0.9, seed 0, no watermark.
    fn default() -> Self {
        Self {
            max_tokens: 256,
            temperature: 0.7,
            top_p: 0.9,
            seed: 0,
            watermark: None,
        }
    }
}

impl GenerateOptions {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.max_tokens == 0 || self.max_tokens > MAX_TOKENS_CAP {
            return Err(ModelError::InvalidArgument(format!(
                "max_tokens must be in 1..={MAX_TOKENS_CAP}, got {}",
                self.max_tokens
            )));
        }
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(ModelError::InvalidArgument(format!(
                "temperature must be finite and >= 0, got {}",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(ModelError::InvalidArgument(format!(
                "top_p must be in (0, 1], got {}",
                self.top_p
            )));
        }
        if let Some(wm) = &self.watermark {
            wm.validate()?;
        }
        Ok(())
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn.
    Stop,
    /// `max_tokens` was reached.
    Length,
}

/// A completion and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// The completion, special tokens removed.
    pub text: String,
    /// Tokens in the templated prompt.
    pub prompt_tokens: usize,
    /// Tokens generated (the stop token not counted); `token_ids.len()`.
    pub completion_tokens: usize,
    /// The generated ids, the stop token excluded.
    pub token_ids: Vec<u32>,
    /// Wall time of the whole call: prompt processing and decoding.
    pub seconds: f64,
    /// `completion_tokens / seconds`.
    pub tokens_per_second: f64,
    pub finish_reason: FinishReason,
}

/// The loaded model and its tokenizer. See the module docs.
pub struct LanguageModel {
    weights: Mutex<ModelWeights>,
    tokenizer: Tokenizer,
    device: Device,
    context: usize,
    vocab: usize,
    im_start: u32,
    im_end: u32,
    eos: u32,
    stop: Vec<u32>,
}

impl std::fmt::Debug for LanguageModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LanguageModel")
            .field("id", &MODEL_ID)
            .field("context", &self.context)
            .field("vocab", &self.vocab)
            .finish_non_exhaustive()
    }
}

/// What the tokenizer needs from the GGUF metadata.
struct TokenizerTables {
    tokens: Vec<String>,
    token_types: Vec<i32>,
    merges: Vec<(String, String)>,
    eos: u32,
}

/// GGUF `tokenizer.ggml.token_type` value of control tokens.
const TOKEN_TYPE_CONTROL: i32 = 3;

fn md<'a>(
    ct: &'a gguf_file::Content,
    key: &str,
    path: &Path,
) -> Result<&'a gguf_file::Value, ModelError> {
    ct.metadata
        .get(key)
        .ok_or_else(|| ModelError::invalid_model(path, format!("missing metadata {key}")))
}

fn read_tables(ct: &gguf_file::Content, path: &Path) -> Result<TokenizerTables, ModelError> {
    let bad = |e: candle_core::Error| ModelError::invalid_model(path, e);
    let model = md(ct, "tokenizer.ggml.model", path)?
        .to_string()
        .map_err(bad)?;
    if model != "gpt2" {
        return Err(ModelError::invalid_model(
            path,
            format!("tokenizer model {model:?} is not byte-level BPE (gpt2)"),
        ));
    }
    let tokens = md(ct, "tokenizer.ggml.tokens", path)?
        .to_vec()
        .map_err(bad)?
        .iter()
        .map(|v| v.to_string().cloned())
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let token_types = match ct.metadata.get("tokenizer.ggml.token_type") {
        Some(v) => v
            .to_vec()
            .map_err(bad)?
            .iter()
            .map(|v| v.to_i32())
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?,
        None => Vec::new(),
    };
    let merges = md(ct, "tokenizer.ggml.merges", path)?
        .to_vec()
        .map_err(bad)?
        .iter()
        .map(|v| {
            let m = v.to_string().map_err(bad)?;
            m.split_once(' ')
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .ok_or_else(|| ModelError::invalid_model(path, format!("bad merge {m:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let eos = md(ct, "tokenizer.ggml.eos_token_id", path)?
        .to_u32()
        .map_err(bad)?;
    Ok(TokenizerTables {
        tokens,
        token_types,
        merges,
        eos,
    })
}

/// Builds SmolLM2's byte-level BPE tokenizer from the GGUF tables.
fn build_tokenizer(t: &TokenizerTables, path: &Path) -> Result<Tokenizer, ModelError> {
    let vocab: Vocab = t
        .tokens
        .iter()
        .enumerate()
        .map(|(id, tok)| (tok.clone(), id as u32))
        .collect();
    if vocab.len() != t.tokens.len() {
        return Err(ModelError::invalid_model(
            path,
            "duplicate tokens in the vocabulary",
        ));
    }
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, t.merges.clone())
        .build()
        .map_err(|e| ModelError::invalid_model(path, e))?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
        Digits::new(true).into(),
        ByteLevel::new(false, true, true).into(),
    ])));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    let specials: Vec<AddedToken> = t
        .tokens
        .iter()
        .zip(&t.token_types)
        .filter(|&(_, &ty)| ty == TOKEN_TYPE_CONTROL)
        .map(|(tok, _)| AddedToken::from(tok.clone(), true))
        .collect();
    tokenizer
        .add_special_tokens(specials)
        .map_err(|e| ModelError::invalid_model(path, e))?;
    // The control tokens must keep their GGUF ids.
    for (id, (tok, _)) in (0u32..)
        .zip(t.tokens.iter().zip(&t.token_types))
        .filter(|(_, (_, ty))| **ty == TOKEN_TYPE_CONTROL)
    {
        if tokenizer.token_to_id(tok) != Some(id) {
            return Err(ModelError::invalid_model(
                path,
                format!("control token {tok:?} does not map to id {id}"),
            ));
        }
    }
    // Text is always text: special tokens enter prompts only by id.
    tokenizer.set_encode_special_tokens(true);
    Ok(tokenizer)
}

impl LanguageModel {
    /// Loads the GGUF at `gguf` (see [`crate::ModelDir::smollm2_gguf`]) onto
    /// the CPU. Reads the file; no memory-mapping.
    pub fn load(gguf: &Path) -> Result<LanguageModel, ModelError> {
        let file = File::open(gguf).map_err(|e| ModelError::io(gguf, e))?;
        let mut reader = BufReader::new(file);
        let ct = gguf_file::Content::read(&mut reader)
            .map_err(|e| ModelError::invalid_model(gguf, e))?;
        let tables = read_tables(&ct, gguf)?;
        let tokenizer = build_tokenizer(&tables, gguf)?;
        let id = |tok: &str| {
            tokenizer
                .token_to_id(tok)
                .ok_or_else(|| ModelError::invalid_model(gguf, format!("no {tok} token")))
        };
        let im_start = id("<|im_start|>")?;
        let im_end = id("<|im_end|>")?;
        let endoftext = id("<|endoftext|>")?;
        let context = ct
            .metadata
            .get("llama.context_length")
            .and_then(|v| v.to_u32().ok())
            .map_or(MAX_SEQ_LEN, |c| (c as usize).min(MAX_SEQ_LEN));
        let device = Device::Cpu;
        let weights = ModelWeights::from_gguf(ct, &mut reader, &device)
            .map_err(|e| ModelError::invalid_model(gguf, e))?;
        let mut stop = vec![im_end, tables.eos, endoftext, im_start];
        stop.sort_unstable();
        stop.dedup();
        Ok(LanguageModel {
            weights: Mutex::new(weights),
            tokenizer,
            device,
            context,
            vocab: tables.tokens.len(),
            im_start,
            im_end,
            eos: tables.eos,
            stop,
        })
    }

    /// The model's identifier, "SmolLM2-135M-Instruct-Q4_1".
    pub fn id() -> &'static str {
        MODEL_ID
    }

    /// Context window in tokens (prompt plus completion); SmolLM2 declares
    /// 8192, candle's quantised Llama supports 4096.
    pub fn context_length(&self) -> usize {
        self.context
    }

    /// Vocabulary size (49,152).
    pub fn vocab_size(&self) -> usize {
        self.vocab
    }

    /// The end-of-sequence id from the GGUF (`<|im_end|>` for SmolLM2).
    pub fn eos_token_id(&self) -> u32 {
        self.eos
    }

    /// Tokenises plain text (special-token strings are text, not control
    /// tokens; no BOS is added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        Ok(self
            .tokenizer
            .encode(text, false)
            .map_err(ModelError::tokenizer)?
            .get_ids()
            .to_vec())
    }

    /// Turns ids back into text, dropping special tokens.
    pub fn decode(&self, ids: &[u32]) -> Result<String, ModelError> {
        self.tokenizer
            .decode(ids, true)
            .map_err(ModelError::tokenizer)
    }

    /// The ChatML prompt ids for `messages`, ending with the opening of the
    /// assistant's turn. A conversation that does not start with a system
    /// message gets [`DEFAULT_SYSTEM_PROMPT`], as SmolLM2's template does.
    pub fn prompt_ids(&self, messages: &[ChatMessage]) -> Result<Vec<u32>, ModelError> {
        if messages.is_empty() {
            return Err(ModelError::InvalidArgument("no messages".into()));
        }
        let newline = self.encode("\n")?;
        let mut ids = Vec::new();
        let mut turn = |role: Role, content: &str| -> Result<(), ModelError> {
            ids.push(self.im_start);
            ids.extend(self.encode(&format!("{}\n{content}", role.as_str()))?);
            ids.push(self.im_end);
            ids.extend_from_slice(&newline);
            Ok(())
        };
        if messages[0].role != Role::System {
            turn(Role::System, DEFAULT_SYSTEM_PROMPT)?;
        }
        for m in messages {
            turn(m.role, &m.content)?;
        }
        ids.push(self.im_start);
        ids.extend(self.encode("assistant\n")?);
        Ok(ids)
    }

    /// Generates the assistant's reply to `messages`. Refuses (with
    /// [`ModelError::ContextOverflow`]) a prompt that leaves fewer than
    /// `max_tokens` tokens of the context window. Holds the model's lock for
    /// the whole call.
    pub fn generate(
        &self,
        messages: &[ChatMessage],
        opts: &GenerateOptions,
    ) -> Result<Generation, ModelError> {
        opts.validate()?;
        let start = Instant::now();
        let prompt = self.prompt_ids(messages)?;
        if prompt.len() + opts.max_tokens > self.context {
            return Err(ModelError::ContextOverflow {
                prompt_tokens: prompt.len(),
                max_tokens: opts.max_tokens,
                context: self.context,
            });
        }

        let mut weights = self.weights.lock().unwrap_or_else(PoisonError::into_inner);
        // A previous call may have failed half-way: always start clean.
        weights.clear_kv_cache();
        let result = self.decode_loop(&mut weights, &prompt, opts);
        weights.clear_kv_cache();
        drop(weights);
        let (token_ids, finish_reason) = result?;

        let text = self.decode(&token_ids)?;
        let seconds = start.elapsed().as_secs_f64();
        Ok(Generation {
            text,
            prompt_tokens: prompt.len(),
            completion_tokens: token_ids.len(),
            tokens_per_second: if seconds > 0.0 {
                token_ids.len() as f64 / seconds
            } else {
                0.0
            },
            token_ids,
            seconds,
            finish_reason,
        })
    }

    fn decode_loop(
        &self,
        weights: &mut ModelWeights,
        prompt: &[u32],
        opts: &GenerateOptions,
    ) -> Result<(Vec<u32>, FinishReason), ModelError> {
        let mut rng = SplitMix64::new(opts.seed);
        let mut out = Vec::with_capacity(opts.max_tokens);
        let input = Tensor::new(prompt, &self.device)?.unsqueeze(0)?;
        let mut logits = weights.forward(&input, 0)?;
        let mut prev = prompt.last().copied().unwrap_or(self.im_start);
        loop {
            let mut scores: Vec<f32> = logits.flatten_all()?.to_vec1()?;
            if let Some(wm) = &opts.watermark {
                watermark::bias_logits(&mut scores, prev, wm);
            }
            let next = sample(&scores, opts.temperature, opts.top_p, &mut rng);
            if self.stop.binary_search(&next).is_ok() {
                return Ok((out, FinishReason::Stop));
            }
            out.push(next);
            if out.len() >= opts.max_tokens {
                return Ok((out, FinishReason::Length));
            }
            let input = Tensor::new(&[next], &self.device)?.unsqueeze(0)?;
            logits = weights.forward(&input, prompt.len() + out.len() - 1)?;
            prev = next;
        }
    }

    /// Tokenises `text` and scores it for the watermark of `cfg` (see
    /// [`watermark::detect`]). Text that cannot be tokenised scores nothing.
    pub fn detect_watermark(&self, text: &str, cfg: &WatermarkConfig) -> Detection {
        let ids = self.encode(text).unwrap_or_default();
        watermark::detect(&ids, cfg)
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fully specified generator,
/// so a seed means the same samples on every platform and version.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Picks the next token from `logits`: greedy at temperature 0, otherwise
/// softmax at `temperature` restricted to the top-`top_p` nucleus. NaN
/// logits never win. Ties go to the lowest id.
fn sample(logits: &[f32], temperature: f32, top_p: f32, rng: &mut SplitMix64) -> u32 {
    let mut best = 0usize;
    let mut max = f32::NEG_INFINITY;
    for (i, &l) in logits.iter().enumerate() {
        if l > max {
            max = l;
            best = i;
        }
    }
    if temperature <= 0.0 || !max.is_finite() {
        return best as u32;
    }
    let inv_t = 1.0 / f64::from(temperature);
    let max = f64::from(max);
    let probs: Vec<f64> = logits
        .iter()
        .map(|&l| {
            let l = f64::from(l);
            if l.is_nan() {
                0.0
            } else {
                ((l - max) * inv_t).exp()
            }
        })
        .collect();
    let total: f64 = probs.iter().sum();

    // Candidates: every id when top_p is 1, else the nucleus. To avoid
    // sorting the whole vocabulary, only ids above a probability floor are
    // sorted; the floor is lowered until the ids above it hold at least
    // top_p of the mass, which makes the result exact.
    let candidates: Vec<(usize, f64)> = if top_p >= 1.0 {
        probs.iter().copied().enumerate().collect()
    } else {
        let want = f64::from(top_p) * total;
        let mut floor = 1e-3; // relative to the top probability, which is 1
        let mut pool: Vec<(usize, f64)>;
        loop {
            pool = probs
                .iter()
                .copied()
                .enumerate()
                .filter(|&(_, p)| p >= floor)
                .collect();
            let mass: f64 = pool.iter().map(|&(_, p)| p).sum();
            if mass >= want || floor == 0.0 {
                break;
            }
            floor = if floor < 1e-12 { 0.0 } else { floor * 1e-3 };
        }
        pool.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut mass = 0.0;
        let mut keep = pool.len();
        for (k, &(_, p)) in pool.iter().enumerate() {
            mass += p;
            if mass >= want {
                keep = k + 1;
                break;
            }
        }
        pool.truncate(keep);
        pool
    };
    let kept: f64 = candidates.iter().map(|&(_, p)| p).sum();
    let mut u = rng.next_f64() * kept;
    for &(i, p) in &candidates {
        if u < p {
            return i as u32;
        }
        u -= p;
    }
    // Rounding left u at the very end: take the last candidate with mass.
    candidates
        .iter()
        .rev()
        .find(|&&(_, p)| p > 0.0)
        .map_or(best as u32, |&(i, _)| i as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelDir;
    use std::sync::OnceLock;

    fn model() -> Option<&'static LanguageModel> {
        static MODEL: OnceLock<Option<LanguageModel>> = OnceLock::new();
        MODEL
            .get_or_init(|| {
                let Some(path) = ModelDir::discover().smollm2_gguf() else {
                    eprintln!("note: SmolLM2 GGUF not found (run scripts/fetch-models); skipping");
                    return None;
                };
                let start = Instant::now();
                let m = LanguageModel::load(&path).expect("load SmolLM2");
                eprintln!("loaded {} in {:.2?}", LanguageModel::id(), start.elapsed());
                Some(m)
            })
            .as_ref()
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<LanguageModel>();
    }

    #[test]
    fn options_are_validated() {
        assert!(GenerateOptions::default().validate().is_ok());
        let bad = [
            GenerateOptions {
                max_tokens: 0,
                ..Default::default()
            },
            GenerateOptions {
                max_tokens: MAX_TOKENS_CAP + 1,
                ..Default::default()
            },
            GenerateOptions {
                temperature: -1.0,
                ..Default::default()
            },
            GenerateOptions {
                temperature: f32::NAN,
                ..Default::default()
            },
            GenerateOptions {
                top_p: 0.0,
                ..Default::default()
            },
            GenerateOptions {
                top_p: 1.5,
                ..Default::default()
            },
            GenerateOptions {
                watermark: Some(WatermarkConfig {
                    gamma: 1.0,
                    ..WatermarkConfig::new(1)
                }),
                ..Default::default()
            },
        ];
        for o in bad {
            assert!(
                matches!(o.validate(), Err(ModelError::InvalidArgument(_))),
                "{o:?}"
            );
        }
    }

    #[test]
    fn sampler() {
        let mut rng = SplitMix64::new(1);
        let logits = [0.0, 5.0, 1.0, f32::NAN, 4.9];
        assert_eq!(sample(&logits, 0.0, 1.0, &mut rng), 1);
        // A tiny nucleus keeps only the top token.
        for _ in 0..50 {
            assert_eq!(sample(&logits, 1.0, 0.01, &mut rng), 1);
        }
        // top_p 0.9 keeps ids 1 and 4 (about 0.47 each), never 0, 2 or 3.
        let mut seen = [0usize; 5];
        for _ in 0..2000 {
            seen[sample(&logits, 1.0, 0.9, &mut rng) as usize] += 1;
        }
        assert_eq!((seen[0], seen[2], seen[3]), (0, 0, 0), "{seen:?}");
        assert!(seen[1] > 800 && seen[4] > 800, "{seen:?}");
        // Without top-p everything but NaN can come up.
        let mut seen = [0usize; 5];
        for _ in 0..5000 {
            seen[sample(&[1.0, 1.0, 1.0, f32::NAN, 1.0], 1.0, 1.0, &mut rng) as usize] += 1;
        }
        assert_eq!(seen[3], 0);
        assert!(
            seen.iter().enumerate().all(|(i, &n)| i == 3 || n > 1000),
            "{seen:?}"
        );
        // Degenerate inputs do not panic.
        assert_eq!(sample(&[], 1.0, 0.5, &mut rng), 0);
        assert_eq!(sample(&[f32::NAN; 3], 1.0, 0.5, &mut rng), 0);
        assert_eq!(sample(&[f32::NEG_INFINITY, 0.0], 1.0, 0.5, &mut rng), 1);
        // Same seed, same draws.
        let (mut a, mut b) = (SplitMix64::new(9), SplitMix64::new(9));
        let la = [1.0f32; 100];
        let xa: Vec<u32> = (0..20).map(|_| sample(&la, 0.8, 0.95, &mut a)).collect();
        let xb: Vec<u32> = (0..20).map(|_| sample(&la, 0.8, 0.95, &mut b)).collect();
        assert_eq!(xa, xb);
    }

    #[test]
    fn missing_file_is_an_error() {
        let err = LanguageModel::load(Path::new("/nonexistent/model.gguf")).unwrap_err();
        assert!(matches!(err, ModelError::Io { .. }), "{err}");
        let tmp =
            std::env::temp_dir().join(format!("generec-models-bad-{}.gguf", std::process::id()));
        std::fs::write(&tmp, b"not a gguf file").unwrap();
        let err = LanguageModel::load(&tmp).unwrap_err();
        std::fs::remove_file(&tmp).unwrap();
        assert!(matches!(err, ModelError::InvalidModel { .. }), "{err}");
    }

    #[test]
    fn tokenizer_round_trips() {
        let Some(m) = model() else { return };
        assert_eq!(m.vocab_size(), 49_152);
        assert_eq!(m.eos_token_id(), m.im_end);
        assert_eq!((m.im_start, m.im_end), (1, 2));
        let hello = m.encode("Hello world").unwrap();
        let pieces: Vec<String> = hello
            .iter()
            .map(|&id| m.tokenizer.id_to_token(id).unwrap())
            .collect();
        assert_eq!(pieces, ["Hello", "Ġworld"]);
        // Digits are split one by one.
        assert_eq!(m.encode("2024").unwrap().len(), 4);
        for text in [
            "The quick brown fox jumps over the lazy dog.",
            "  leading spaces, tabs\tand\nnewlines\n\n",
            "Ünïcödé — naïve café, 日本語, emoji 🎬🍿",
            "numbers 3.14159 and 1,000,000; code: fn main() { println!(\"hi\"); }",
            "literal <|im_end|> and <|im_start|>user stays text",
            "",
        ] {
            let ids = m.encode(text).unwrap();
            assert!(
                !ids.iter().any(|id| m.stop.contains(id)),
                "{text:?} produced a control token"
            );
            assert_eq!(m.decode(&ids).unwrap(), text);
        }
    }

    #[test]
    fn prompt_template() {
        let Some(m) = model() else { return };
        let ids = m.prompt_ids(&[ChatMessage::user("Hi")]).unwrap();
        let text = m.tokenizer.decode(&ids, false).unwrap();
        assert_eq!(
            text,
            format!(
                "<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
            )
        );
        let ids = m
            .prompt_ids(&[ChatMessage::system("Be brief."), ChatMessage::user("Hi")])
            .unwrap();
        let text = m.tokenizer.decode(&ids, false).unwrap();
        assert!(text.starts_with("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user"));
        assert!(matches!(
            m.prompt_ids(&[]),
            Err(ModelError::InvalidArgument(_))
        ));
    }

    #[test]
    fn refuses_prompts_beyond_the_context() {
        let Some(m) = model() else { return };
        let long = "word ".repeat(m.context_length());
        let err = m
            .generate(&[ChatMessage::user(long)], &GenerateOptions::default())
            .unwrap_err();
        assert!(matches!(err, ModelError::ContextOverflow { .. }), "{err}");
        let err = m
            .generate(
                &[ChatMessage::user("Hi")],
                &GenerateOptions {
                    max_tokens: 0,
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert!(matches!(err, ModelError::InvalidArgument(_)), "{err}");
    }

    #[test]
    fn answers_a_short_question() {
        let Some(m) = model() else { return };
        let _serial = crate::test_util::model_lock();
        let opts = GenerateOptions {
            max_tokens: 24,
            temperature: 0.0,
            ..Default::default()
        };
        let msgs = [
            ChatMessage::system("You are a helpful assistant."),
            ChatMessage::user("What is the capital of France?"),
        ];
        let g = m.generate(&msgs, &opts).unwrap();
        eprintln!(
            "greedy: {:?} ({} prompt + {} tokens, {:.2} s, {:.1} tokens/s)",
            g.text, g.prompt_tokens, g.completion_tokens, g.seconds, g.tokens_per_second
        );
        assert!(g.completion_tokens > 0 && g.completion_tokens <= 24);
        assert_eq!(g.completion_tokens, g.token_ids.len());
        assert!(
            g.text.chars().filter(|c| c.is_ascii_alphabetic()).count() >= 3,
            "{:?}",
            g.text
        );
        assert!(g.text.contains("Paris"), "{:?}", g.text);
    }

    #[test]
    fn same_seed_same_text() {
        let Some(m) = model() else { return };
        let _serial = crate::test_util::model_lock();
        let msgs = [ChatMessage::user("Give me a one-sentence movie pitch.")];
        let opts = GenerateOptions {
            max_tokens: 32,
            temperature: 0.9,
            top_p: 0.95,
            seed: 7,
            watermark: None,
        };
        let a = m.generate(&msgs, &opts).unwrap();
        let b = m.generate(&msgs, &opts).unwrap();
        assert_eq!(a.token_ids, b.token_ids);
        assert_eq!(a.text, b.text);
        let c = m
            .generate(&msgs, &GenerateOptions { seed: 8, ..opts })
            .unwrap();
        eprintln!("seed 7: {:?}\nseed 8: {:?}", a.text, c.text);
        assert!(!a.text.trim().is_empty());
    }

    #[test]
    fn watermark_is_detectable() {
        let Some(m) = model() else { return };
        let _serial = crate::test_util::model_lock();
        let cfg = WatermarkConfig::new(0x5eed_cafe);
        let msgs = [ChatMessage::user(
            "Write a short story about a lighthouse keeper who finds a message in a bottle.",
        )];
        let base = GenerateOptions {
            max_tokens: 100,
            temperature: 0.9,
            top_p: 1.0,
            seed: 3,
            watermark: None,
        };
        let marked = m
            .generate(
                &msgs,
                &GenerateOptions {
                    watermark: Some(cfg),
                    ..base
                },
            )
            .unwrap();
        let plain = m.generate(&msgs, &base).unwrap();
        let d_ids = watermark::detect(&marked.token_ids, &cfg);
        let d_text = m.detect_watermark(&marked.text, &cfg);
        let d_plain = m.detect_watermark(&plain.text, &cfg);
        let d_wrong_key = m.detect_watermark(&marked.text, &WatermarkConfig::new(1));
        eprintln!(
            "watermarked: {} tokens, {:.1} tokens/s, z(ids) {:.2}, z(text) {:.2}, p {:.2e}\n\
             plain: {} tokens, z {:.2}; wrong key z {:.2}\n{:?}",
            marked.completion_tokens,
            marked.tokens_per_second,
            d_ids.z,
            d_text.z,
            d_text.p_value,
            plain.completion_tokens,
            d_plain.z,
            d_wrong_key.z,
            marked.text
        );
        // Seeds 1-6 gave z 6.2-8.6 watermarked and |z| < 0.7 plain.
        assert!(d_ids.scored >= 50, "{d_ids:?}");
        assert!(d_ids.z > 4.0, "{d_ids:?}");
        assert!(
            d_text.is_watermarked(watermark::DEFAULT_Z_THRESHOLD),
            "{d_text:?}"
        );
        assert!(d_plain.z < 2.0, "{d_plain:?}");
        assert!(d_wrong_key.z < 2.0, "{d_wrong_key:?}");
    }
}
