//! Sentence embeddings with all-MiniLM-L6-v2 (sentence-transformers), run
//! with candle's `BertModel` on the CPU.
//!
//! Texts are lower-cased and WordPiece-tokenised by the model's own
//! `tokenizer.json`, truncated to [`MAX_TOKENS`] tokens, encoded in batches
//! of [`BATCH_SIZE`], mean-pooled over the real (unpadded) tokens and
//! L2-normalised, so the dot product of two embeddings is their cosine
//! similarity. This is what sentence-transformers computes for this model
//! (up to float rounding), so vectors are comparable with published ones.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::ModelError;

/// Texts longer than this many tokens (special tokens included) are cut.
pub const MAX_TOKENS: usize = 256;
/// Texts encoded per forward pass.
pub const BATCH_SIZE: usize = 32;
/// Identifier of the model, for provenance records.
pub const MODEL_ID: &str = "all-MiniLM-L6-v2";
/// Embeddings kept for texts seen recently (about 1.5 KB of vector each, so
/// about 25 MB at most, plus the texts).
pub const CACHE_ENTRIES: usize = 16_384;
/// Texts longer than this (in bytes) are embedded every time, never kept:
/// the cache's memory stays bounded whatever callers send.
pub const CACHE_MAX_TEXT: usize = 2_048;

/// Embeddings of texts seen recently. Two generations, each of at most
/// half the capacity: a lookup looks in both and moves a hit from the old
/// generation to the current one; when the current one is full it becomes
/// the old one and the old one is dropped. So a text used again within the
/// last `capacity / 2` insertions is always kept, and at most `capacity`
/// entries are held.
#[derive(Default)]
struct Recent {
    current: HashMap<String, Vec<f32>>,
    old: HashMap<String, Vec<f32>>,
}

impl Recent {
    fn get(&mut self, text: &str, capacity: usize) -> Option<Vec<f32>> {
        if let Some(v) = self.current.get(text) {
            return Some(v.clone());
        }
        let (key, v) = self.old.remove_entry(text)?;
        self.insert(key, v.clone(), capacity);
        Some(v)
    }

    fn insert(&mut self, text: String, v: Vec<f32>, capacity: usize) {
        if self.current.len() >= capacity / 2 {
            self.old = std::mem::take(&mut self.current);
        }
        self.current.insert(text, v);
    }

    fn len(&self) -> usize {
        self.current.len() + self.old.len()
    }
}

/// A loaded sentence embedder. Cheap to share: it is `Send + Sync` and
/// `embed` takes `&self` (calls may run concurrently).
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    dimension: usize,
    device: Device,
    recent: Mutex<Recent>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("id", &MODEL_ID)
            .field("dimension", &self.dimension)
            .finish_non_exhaustive()
    }
}

impl Embedder {
    /// Loads `model.safetensors`, `config.json` and `tokenizer.json` from
    /// `dir` (see [`crate::ModelDir::minilm`]). The weights are read into
    /// memory (about 90 MB) rather than memory-mapped.
    pub fn load(dir: &Path) -> Result<Embedder, ModelError> {
        let config_path = dir.join("config.json");
        let config_text =
            std::fs::read_to_string(&config_path).map_err(|e| ModelError::io(&config_path, e))?;
        let config: Config = serde_json::from_str(&config_text)
            .map_err(|e| ModelError::invalid_model(&config_path, e))?;

        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| ModelError::invalid_model(&tokenizer_path, e))?;
        // The shipped tokenizer pads every text to 128; pad per batch instead
        // and truncate at MAX_TOKENS.
        let max_tokens = MAX_TOKENS.min(config.max_position_embeddings);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|e| ModelError::invalid_model(&tokenizer_path, e))?;
        let pad_id = u32::try_from(config.pad_token_id)
            .map_err(|e| ModelError::invalid_model(&config_path, e))?;
        let pad_token = tokenizer
            .id_to_token(pad_id)
            .unwrap_or_else(|| "[PAD]".to_string());
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id,
            pad_token,
            ..PaddingParams::default()
        }));

        let weights_path = dir.join("model.safetensors");
        let weights = std::fs::read(&weights_path).map_err(|e| ModelError::io(&weights_path, e))?;
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| ModelError::invalid_model(&weights_path, e))?;
        let model = BertModel::load(vb, &config)
            .map_err(|e| ModelError::invalid_model(&weights_path, e))?;
        Ok(Embedder {
            model,
            tokenizer,
            dimension: config.hidden_size,
            device,
            recent: Mutex::default(),
            capacity: CACHE_ENTRIES,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    /// The same embedder keeping at most `entries` recent embeddings (0
    /// keeps none).
    pub fn with_cache_entries(mut self, entries: usize) -> Embedder {
        self.capacity = entries;
        self
    }

    /// Texts answered from the cache and texts embedded, since loading.
    pub fn cache_counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Embeddings held in the cache now.
    pub fn cached(&self) -> usize {
        self.recent().len()
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        // The cache holds only finished vectors: a panic elsewhere while
        // it was locked cannot leave it half-written.
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The model's identifier, "all-MiniLM-L6-v2".
    pub fn id() -> &'static str {
        MODEL_ID
    }

    /// Length of every embedding (384).
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// Embeds each text: mean-pooled over its tokens, L2-normalised, one
    /// vector of [`Embedder::dimension`] floats per text, in order. An
    /// empty slice gives an empty result; an empty text gets the embedding of
    /// the bare `[CLS] [SEP]`.
    ///
    /// Texts are batched by length (longest first, as sentence-transformers
    /// does) so that short texts are not padded to a long neighbour's size.
    /// Texts embedded recently (up to [`CACHE_ENTRIES`], each at most
    /// [`CACHE_MAX_TEXT`] bytes) are answered from memory, and a text that
    /// occurs twice in one call is embedded once.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        let mut out = vec![Vec::new(); texts.len()];
        let mut todo: Vec<usize> = Vec::new();
        let mut first: HashMap<&str, usize> = HashMap::new();
        let mut again: Vec<(usize, usize)> = Vec::new();
        {
            let mut recent = self.recent();
            for (i, text) in texts.iter().enumerate() {
                let cacheable = self.capacity > 0 && text.len() <= CACHE_MAX_TEXT;
                if let Some(v) = cacheable.then(|| recent.get(text, self.capacity)).flatten() {
                    out[i] = v;
                } else if let Some(&j) = first.get(text) {
                    again.push((i, j));
                } else {
                    first.insert(text, i);
                    todo.push(i);
                }
            }
        }
        self.hits
            .fetch_add((texts.len() - todo.len()) as u64, Ordering::Relaxed);
        self.misses.fetch_add(todo.len() as u64, Ordering::Relaxed);
        let batch: Vec<&str> = todo.iter().map(|&i| texts[i]).collect();
        let vectors = self.embed_fresh(&batch)?;
        let mut recent = self.recent();
        for (&i, v) in todo.iter().zip(vectors) {
            if self.capacity > 0 && texts[i].len() <= CACHE_MAX_TEXT {
                recent.insert(texts[i].to_owned(), v.clone(), self.capacity);
            }
            out[i] = v;
        }
        drop(recent);
        for (i, j) in again {
            out[i] = out[j].clone();
        }
        Ok(out)
    }

    /// Embeds every text with the model, batched by length, without the
    /// cache.
    fn embed_fresh(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(texts[i].len()));
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH_SIZE) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            for (&i, v) in chunk.iter().zip(self.embed_batch(&batch)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Embeds one text (see [`Embedder::embed`]).
    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>, ModelError> {
        self.embed(&[text])?
            .pop()
            .ok_or_else(|| ModelError::InvalidArgument("no embedding produced".into()))
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        let inputs: Vec<String> = texts.iter().map(|t| (*t).to_owned()).collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(ModelError::tokenizer)?;
        let n = encodings.len();
        let len = encodings.iter().map(|e| e.len()).max().unwrap_or(0);
        if n == 0 || len == 0 {
            return Ok(vec![vec![0.0; self.dimension]; n]);
        }
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &encodings {
            if e.len() != len {
                return Err(ModelError::Tokenizer(format!(
                    "batch padding failed: {} tokens, expected {len}",
                    e.len()
                )));
            }
            ids.extend_from_slice(e.get_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
        let type_ids = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?; // (n, len, dim)

        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (n, len, 1)
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?; // (n, dim)
        let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?; // (n, 1)
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?;
        let normalised = mean.broadcast_div(&norm)?;
        Ok(normalised.to_vec2::<f32>()?)
    }
}

/// Cosine similarity of two vectors (0 when either is zero or the lengths
/// differ). For [`Embedder`] outputs this is just the dot product.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelDir;
    use std::sync::OnceLock;

    fn embedder() -> Option<&'static Embedder> {
        static EMBEDDER: OnceLock<Option<Embedder>> = OnceLock::new();
        EMBEDDER
            .get_or_init(|| {
                let Some(dir) = ModelDir::discover().minilm() else {
                    eprintln!(
                        "note: all-MiniLM-L6-v2 not found (run scripts/fetch-models); skipping"
                    );
                    return None;
                };
                let start = std::time::Instant::now();
                let e = Embedder::load(&dir).expect("load MiniLM");
                eprintln!("loaded {} in {:.2?}", Embedder::id(), start.elapsed());
                Some(e)
            })
            .as_ref()
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Embedder>();
    }

    #[test]
    fn cosine_helper() {
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 1.0]), 0.0);
        assert!((cosine(&[1.0, 1.0], &[2.0, 2.0]) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[1.0], &[1.0, 2.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn missing_folder_is_an_error() {
        let err = Embedder::load(Path::new("/nonexistent/minilm")).unwrap_err();
        assert!(matches!(err, ModelError::Io { .. }), "{err}");
    }

    #[test]
    fn reference_similarity() {
        let Some(e) = embedder() else { return };
        let _serial = crate::test_util::model_lock();
        let texts = [
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The new movie is awesome.",
            "A cheetah is running behind its prey.",
        ];
        let start = std::time::Instant::now();
        let v = e.embed(&texts).unwrap();
        eprintln!("embedded {} texts in {:.2?}", texts.len(), start.elapsed());
        assert_eq!(v.len(), 4);
        for x in &v {
            assert_eq!(x.len(), 384);
            let norm: f32 = x.iter().map(|a| a * a).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
        }
        let close = cosine(&v[0], &v[1]);
        eprintln!("cosine(food, bread) = {close:.4}");
        assert!((close - 0.755).abs() < 0.02, "cosine {close}");
        for (i, j) in [(0, 2), (0, 3), (1, 2), (2, 3)] {
            let c = cosine(&v[i], &v[j]);
            eprintln!("cosine({i}, {j}) = {c:.4}");
            assert!(c < close - 0.3, "unrelated pair ({i},{j}) scored {c}");
        }
    }

    #[test]
    fn batching_padding_and_truncation_do_not_change_results() {
        let Some(e) = embedder() else { return };
        let _serial = crate::test_util::model_lock();
        let alone = e
            .embed_fresh(&["A man is eating food."])
            .map(|mut v| v.remove(0))
            .unwrap();
        // Texts of mixed lengths over more than one batch, out of length order.
        let mut texts = vec!["filler", "A man is eating food.", ""];
        texts.extend(std::iter::repeat_n("more filler text", BATCH_SIZE));
        texts.push("A man is eating a piece of bread.");
        let all = e.embed_fresh(&texts).unwrap();
        assert_eq!(all.len(), texts.len());
        assert!(
            all.iter()
                .all(|v| v.len() == 384 && v.iter().all(|x| x.is_finite()))
        );
        assert!(
            cosine(&alone, &all[1]) > 0.9999,
            "batching changed the result"
        );
        assert!(cosine(&all[3], &all[texts.len() - 2]) > 0.9999);
        let bread = e
            .embed_fresh(&["A man is eating a piece of bread."])
            .map(|mut v| v.remove(0))
            .unwrap();
        assert!(
            cosine(&bread, &all[texts.len() - 1]) > 0.9999,
            "order was not restored"
        );
        // Long texts are cut at MAX_TOKENS: what follows does not matter.
        let long = "word ".repeat(400);
        let longer = format!("{long} and then something else entirely");
        let v = e.embed_fresh(&[long.as_str(), longer.as_str()]).unwrap();
        assert!(cosine(&v[0], &v[1]) > 0.9999);
        assert!(e.embed(&[]).unwrap().is_empty());
    }

    #[test]
    fn cached_embeddings_equal_fresh_ones_and_the_cache_stays_bounded() {
        let Some(e) = embedder() else { return };
        let _serial = crate::test_util::model_lock();
        let fresh = e.embed(&["A cheetah is running behind its prey."]).unwrap();
        let (hits, misses) = e.cache_counts();
        let again = e
            .embed(&[
                "A cheetah is running behind its prey.",
                "An unseen sentence about rain.",
                "An unseen sentence about rain.",
            ])
            .unwrap();
        let (hits2, misses2) = e.cache_counts();
        assert_eq!(again[0], fresh[0], "a hit returns the stored vector");
        assert_eq!(again[1], again[2]);
        // The repeated text is embedded once; the first comes from memory.
        assert_eq!((hits2 - hits, misses2 - misses), (2, 1));
        // A long text is never kept.
        let long = "rain ".repeat(CACHE_MAX_TEXT);
        let before = e.cached();
        e.embed(&[long.as_str()]).unwrap();
        assert_eq!(e.cached(), before);
    }

    #[test]
    fn the_recent_set_holds_at_most_its_capacity_and_keeps_what_is_reused() {
        let mut r = Recent::default();
        for i in 0..100 {
            r.insert(format!("t{i}"), vec![i as f32], 10);
            // t0 is read after every insertion, so it is never dropped.
            assert!(r.get("t0", 10).is_some(), "lost t0 after {i}");
            assert!(r.len() <= 10, "{} entries", r.len());
        }
        assert!(r.get("t50", 10).is_none());
        assert_eq!(r.get("t99", 10), Some(vec![99.0]));
    }
}
