//! The toxicity classifier: alt-profanity-check's TF-IDF vectoriser and
//! sigmoid-calibrated linear SVM, exported to plain JSON by
//! `scripts/export-toxicity.py` (run by `scripts/fetch-data`) and scored
//! here the way scikit-learn scores it.
//!
//! Featurisation follows `TfidfVectorizer.transform`: lower-case the text,
//! take the tokens of `(?u)\b\w\w+\b` (maximal runs of at least two word
//! characters: letters, digits and `_`), drop stop words, form the n-grams,
//! count the ones in the vocabulary, optionally take `1 + ln(tf)`, multiply
//! by idf and normalise. The probability of "toxic" is the mean over the
//! calibration folds of `1 / (1 + exp(a * (w·x + b0) + b))`
//! (`CalibratedClassifierCV` with `_SigmoidCalibration`). Vectors are sparse:
//! a sentence costs one hash lookup per token and one multiply-add per
//! distinct known token and fold.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use serde::Deserialize;

/// The token pattern the scorer implements.
pub const TOKEN_PATTERN: &str = r"(?u)\b\w\w+\b";

/// A small, fast hasher for short vocabulary keys (FxHash's mixing step).
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, b: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[derive(Deserialize)]
struct VectorizerFile {
    lowercase: bool,
    token_pattern: String,
    ngram_range: (usize, usize),
    binary: bool,
    sublinear_tf: bool,
    use_idf: bool,
    norm: Option<String>,
    #[serde(default)]
    stop_words: Vec<String>,
}

#[derive(Deserialize)]
struct FoldFile {
    w: Vec<f64>,
    b0: f64,
    a: f64,
    b: f64,
}

#[derive(Deserialize)]
struct CheckPair {
    text: String,
    prob: f64,
}

#[derive(Deserialize)]
struct ModelFile {
    #[serde(default)]
    source: String,
    vectorizer: VectorizerFile,
    terms: Vec<String>,
    idf: Vec<f64>,
    folds: Vec<FoldFile>,
    #[serde(default)]
    check: Vec<CheckPair>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Norm {
    L1,
    L2,
    None,
}

#[derive(Clone, Copy, Debug)]
struct Fold {
    b0: f64,
    a: f64,
    b: f64,
}

/// A loaded toxicity classifier.
pub struct ToxicityModel {
    /// Where the weights came from, for evidence.
    pub source: String,
    vocab: FxMap<String, u32>,
    idf: Vec<f64>,
    /// Weights by feature, then fold: `weights[feature * folds + fold]`.
    weights: Vec<f64>,
    folds: Vec<Fold>,
    lowercase: bool,
    ngram: (usize, usize),
    binary: bool,
    sublinear_tf: bool,
    norm: Norm,
    stop_words: HashSet<String>,
    /// Whether a stop word is in the vocabulary.
    stop_in_vocab: bool,
    /// (sentence, probability) pairs the exporter recorded with the Python
    /// package.
    pub check: Vec<(String, f64)>,
}

impl std::fmt::Debug for ToxicityModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToxicityModel")
            .field("source", &self.source)
            .field("terms", &self.idf.len())
            .field("folds", &self.folds.len())
            .finish()
    }
}

/// Reusable buffers for scoring.
#[derive(Default)]
pub struct Scratch {
    token: String,
    tokens: Vec<String>,
    features: Vec<u32>,
    x: Vec<(u32, f64)>,
}

impl ToxicityModel {
    /// Loads an exported classifier, checking that its settings are ones
    /// this scorer implements.
    pub fn load(path: &Path) -> Result<ToxicityModel, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: ModelFile = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not an exported classifier: {e}", path.display()))?;
        Self::from_file(file).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn from_file(file: ModelFile) -> Result<ToxicityModel, String> {
        let v = &file.vectorizer;
        if v.token_pattern != TOKEN_PATTERN {
            return Err(format!(
                "token pattern {:?} is not supported (only {TOKEN_PATTERN:?})",
                v.token_pattern
            ));
        }
        let (lo, hi) = v.ngram_range;
        if lo == 0 || lo > hi || hi > 3 {
            return Err(format!("ngram range ({lo}, {hi}) is not supported"));
        }
        let norm = match v.norm.as_deref() {
            Some("l2") => Norm::L2,
            Some("l1") => Norm::L1,
            None => Norm::None,
            Some(other) => return Err(format!("norm {other:?} is not supported")),
        };
        let n = file.terms.len();
        if n == 0 || file.idf.len() != n {
            return Err(format!("{} terms but {} idf values", n, file.idf.len()));
        }
        if file.folds.is_empty() {
            return Err("no calibration folds".into());
        }
        let mut vocab = FxMap::default();
        vocab.reserve(n);
        for (i, t) in file.terms.iter().enumerate() {
            if vocab.insert(t.clone(), i as u32).is_some() {
                return Err(format!("term {t:?} appears twice"));
            }
        }
        let k = file.folds.len();
        let mut weights = vec![0.0; n * k];
        let mut folds = Vec::with_capacity(k);
        for (f, fold) in file.folds.iter().enumerate() {
            if fold.w.len() != n {
                return Err(format!(
                    "fold {f} has {} weights for {n} terms",
                    fold.w.len()
                ));
            }
            for (i, &w) in fold.w.iter().enumerate() {
                weights[i * k + f] = w;
            }
            folds.push(Fold {
                b0: fold.b0,
                a: fold.a,
                b: fold.b,
            });
        }
        let idf = if v.use_idf { file.idf } else { vec![1.0; n] };
        let stop_in_vocab = v.stop_words.iter().any(|w| vocab.contains_key(w));
        Ok(ToxicityModel {
            source: file.source,
            vocab,
            idf,
            weights,
            folds,
            lowercase: v.lowercase,
            ngram: (lo, hi),
            binary: v.binary,
            sublinear_tf: v.sublinear_tf,
            norm,
            stop_in_vocab,
            stop_words: v.stop_words.iter().cloned().collect(),
            check: file.check.into_iter().map(|c| (c.text, c.prob)).collect(),
        })
    }

    /// Whether `word` (lower case) is in the vocabulary: the classifier
    /// has seen it and weighs it in context.
    pub fn knows(&self, word: &str) -> bool {
        self.vocab.contains_key(word)
    }

    /// The probability that `text` is toxic.
    pub fn probability(&self, text: &str) -> f64 {
        self.probability_with(text, &mut Scratch::default())
    }

    /// The probability that `text` is toxic, reusing `scratch`.
    pub fn probability_with(&self, text: &str, scratch: &mut Scratch) -> f64 {
        self.collect_features(text, scratch);
        let features = &mut scratch.features;
        features.sort_unstable();
        // Run-length: (feature, tf-idf value).
        let x = &mut scratch.x;
        x.clear();
        let mut i = 0;
        while i < features.len() {
            let f = features[i];
            let mut j = i;
            while j < features.len() && features[j] == f {
                j += 1;
            }
            let count = (j - i) as f64;
            let tf = if self.binary {
                1.0
            } else if self.sublinear_tf {
                1.0 + count.ln()
            } else {
                count
            };
            x.push((f, tf * self.idf[f as usize]));
            i = j;
        }
        let norm = match self.norm {
            Norm::L2 => x.iter().map(|&(_, v)| v * v).sum::<f64>().sqrt(),
            Norm::L1 => x.iter().map(|&(_, v)| v.abs()).sum::<f64>(),
            Norm::None => 1.0,
        };
        let k = self.folds.len();
        let mut dots = [0.0f64; 16];
        let mut dots_vec;
        let dots: &mut [f64] = if k <= dots.len() {
            &mut dots[..k]
        } else {
            dots_vec = vec![0.0; k];
            &mut dots_vec
        };
        if norm > 0.0 {
            for &(f, v) in x.iter() {
                let v = v / norm;
                let w = &self.weights[f as usize * k..f as usize * k + k];
                for (d, &wf) in dots.iter_mut().zip(w) {
                    *d += v * wf;
                }
            }
        }
        let mut p = 0.0;
        for (fold, &d) in self.folds.iter().zip(dots.iter()) {
            let t = d + fold.b0;
            p += 1.0 / (1.0 + (fold.a * t + fold.b).exp());
        }
        p / k as f64
    }

    /// Appends the feature index of every n-gram of `text` in the
    /// vocabulary.
    fn collect_features(&self, text: &str, s: &mut Scratch) {
        s.features.clear();
        s.tokens.clear();
        let simple = self.ngram == (1, 1);
        // Stop words are dropped before counting; with unigrams that only
        // matters for one that is in the vocabulary (none, as exported).
        let check_stop = !simple || self.stop_in_vocab;
        let emit = |tok: &str, s_tokens: &mut Vec<String>, features: &mut Vec<u32>| {
            if tok.chars().nth(1).is_none() || (check_stop && self.stop_words.contains(tok)) {
                return;
            }
            if simple {
                if let Some(&f) = self.vocab.get(tok) {
                    features.push(f);
                }
            } else {
                s_tokens.push(tok.to_string());
            }
        };
        s.token.clear();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii() {
                i += 1;
                if b.is_ascii_alphanumeric() || b == b'_' {
                    s.token.push(if self.lowercase {
                        b.to_ascii_lowercase() as char
                    } else {
                        b as char
                    });
                } else if !s.token.is_empty() {
                    emit(&s.token, &mut s.tokens, &mut s.features);
                    s.token.clear();
                }
                continue;
            }
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            i += c.len_utf8();
            if c.is_alphanumeric() {
                if self.lowercase {
                    if c.is_ascii() {
                        s.token.push(c.to_ascii_lowercase());
                    } else {
                        s.token.extend(c.to_lowercase());
                    }
                } else {
                    s.token.push(c);
                }
            } else if !s.token.is_empty() {
                emit(&s.token, &mut s.tokens, &mut s.features);
                s.token.clear();
            }
        }
        if !s.token.is_empty() {
            emit(&s.token, &mut s.tokens, &mut s.features);
            s.token.clear();
        }
        if !simple {
            let (lo, hi) = self.ngram;
            let mut gram = String::new();
            for n in lo..=hi {
                for window in s.tokens.windows(n) {
                    gram.clear();
                    for (i, t) in window.iter().enumerate() {
                        if i > 0 {
                            gram.push(' ');
                        }
                        gram.push_str(t);
                    }
                    if let Some(&f) = self.vocab.get(gram.as_str()) {
                        s.features.push(f);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exported model, when `scripts/fetch-data` has run.
    pub(crate) fn exported() -> Option<ToxicityModel> {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../.data/trust/toxicity.json");
        if !path.exists() {
            eprintln!(
                "skipped: {} is absent; run scripts/fetch-data",
                path.display()
            );
            return None;
        }
        Some(ToxicityModel::load(&path).expect("the exported model loads"))
    }

    /// Probabilities computed with the Python package
    /// (`profanity_check.predict_prob`, alt-profanity-check 1.9.1,
    /// scikit-learn 1.9.1).
    const PYTHON: &[(&str, f64)] = &[
        ("Have a lovely day, everyone!", 0.045_069),
        (
            "The film about the war won an award at the festival.",
            0.016_770,
        ),
        (
            "You are a complete idiot and everybody hates you.",
            0.999_493,
        ),
        ("damn, that was a close game", 0.589_547),
        ("Kill yourself, nobody wants you here.", 0.754_150),
        ("Don't be such a crybaby about it.", 0.799_436),
        ("Ça va très bien, merci beaucoup!", 0.592_354),
        ("", 0.036_376),
    ];

    #[test]
    fn scorer_reproduces_the_python_package_probabilities() {
        let Some(model) = exported() else { return };
        for &(text, expected) in PYTHON {
            let got = model.probability(text);
            assert!(
                (got - expected).abs() < 1e-4,
                "{text:?}: rust {got}, python {expected}"
            );
        }
    }

    #[test]
    fn scorer_reproduces_every_pair_the_exporter_recorded() {
        let Some(model) = exported() else { return };
        assert!(model.check.len() >= 20);
        for (text, expected) in &model.check {
            let got = model.probability(text);
            assert!(
                (got - expected).abs() < 1e-9,
                "{text:?}: rust {got}, python {expected}"
            );
        }
    }

    fn tiny(ngram: (usize, usize), sublinear: bool) -> ToxicityModel {
        let file = ModelFile {
            source: "test".into(),
            vectorizer: VectorizerFile {
                lowercase: true,
                token_pattern: TOKEN_PATTERN.into(),
                ngram_range: ngram,
                binary: false,
                sublinear_tf: sublinear,
                use_idf: true,
                norm: Some("l2".into()),
                stop_words: vec!["the".into()],
            },
            terms: vec!["bad".into(), "word".into(), "bad word".into()],
            idf: vec![2.0, 1.0, 3.0],
            folds: vec![FoldFile {
                w: vec![1.0, 0.5, 2.0],
                b0: -1.0,
                a: -2.0,
                b: 0.5,
            }],
            check: vec![],
        };
        ToxicityModel::from_file(file).unwrap()
    }

    #[test]
    fn tf_idf_follows_sklearn_tokens_counts_and_l2_norm() {
        let m = tiny((1, 1), false);
        // "BAD bad word the x": tokens bad, bad, word (the is a stop word,
        // x is one character). tf-idf (4, 1) / sqrt(17).
        let n = 17f64.sqrt();
        let t = (4.0 * 1.0 + 1.0 * 0.5) / n - 1.0;
        let want = 1.0 / (1.0 + (-2.0 * t + 0.5f64).exp());
        assert!((m.probability("BAD bad, word the x") - want).abs() < 1e-12);
        // No known token: the decision is the intercept.
        let want = 1.0 / (1.0 + (-2.0 * -1.0 + 0.5f64).exp());
        assert!((m.probability("nothing here") - want).abs() < 1e-12);
    }

    #[test]
    fn bigrams_and_sublinear_tf_are_supported() {
        let m = tiny((1, 2), true);
        // bad x2 -> 1 + ln 2, word 1, "bad word" 1, "word bad" unknown.
        let v = [(1.0 + 2f64.ln()) * 2.0, 1.0, 3.0];
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let t = (v[0] * 1.0 + v[1] * 0.5 + v[2] * 2.0) / n - 1.0;
        let want = 1.0 / (1.0 + (-2.0 * t + 0.5f64).exp());
        assert!((m.probability("bad word bad") - want).abs() < 1e-12);
    }

    #[test]
    fn unsupported_settings_are_refused() {
        let mut file: ModelFile = serde_json::from_str(
            r#"{"vectorizer":{"lowercase":true,"token_pattern":"\\w+","ngram_range":[1,1],
            "binary":false,"sublinear_tf":false,"use_idf":true,"norm":"l2"},
            "terms":["a"],"idf":[1.0],"folds":[{"w":[1.0],"b0":0,"a":1,"b":0}]}"#,
        )
        .unwrap();
        let err = ToxicityModel::from_file(file).unwrap_err();
        assert!(err.contains("token pattern"), "{err}");
        file = serde_json::from_str(
            r#"{"vectorizer":{"lowercase":true,"token_pattern":"(?u)\\b\\w\\w+\\b","ngram_range":[1,1],
            "binary":false,"sublinear_tf":false,"use_idf":true,"norm":"l2"},
            "terms":["a"],"idf":[1.0, 2.0],"folds":[{"w":[1.0],"b0":0,"a":1,"b":0}]}"#,
        )
        .unwrap();
        let err = ToxicityModel::from_file(file).unwrap_err();
        assert!(err.contains("idf"), "{err}");
    }
}
