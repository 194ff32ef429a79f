//! The learned part of the safety check: a multinomial logistic regression
//! over all-MiniLM-L6-v2 sentence embeddings, trained when a bundle that
//! names the embedder loads, on the committed exemplars
//! (`lexicons/safety_exemplars.tsv`: labelled harmful sentences per hazard
//! category and sentences that must not fire).
//!
//! It generalises past the word lists: a threat with no threat word ("I
//! know which bus your daughter takes") lies near the threat exemplars in
//! embedding space. It is a cascade stage: the content's sentences are
//! screened by cheap cues first ([`Screen`], `lexicons/safety_screen.txt`)
//! and at most `learned_max_sentences` of them are embedded, because one
//! sentence costs about as much as the whole lexical check of an article.
//!
//! Training is deterministic (full-batch gradient descent from zero, class
//! weights balancing the exemplar counts, L2 penalty) and cached per model
//! folder for the life of the process, so recompiling a bundle is cheap.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use generec_models::Embedder;

use crate::finding::Category;

/// The committed exemplars.
pub const EXEMPLARS: &str = include_str!("../../../lexicons/safety_exemplars.tsv");

/// The categories the classifier can report, in the order of its outputs
/// after the `none` class.
pub const LEARNED: [Category; 8] = [
    Category::SafetyViolence,
    Category::SafetySelfHarm,
    Category::SafetyHate,
    Category::SafetyHarassment,
    Category::SafetySexual,
    Category::SafetyWeapons,
    Category::SafetyIllegal,
    Category::SafetyChildSafety,
];

const EPOCHS: usize = 800;
const LEARNING_RATE: f32 = 2.0;
const L2: f32 = 1e-3;

/// A trained classifier and the embedder it reads.
pub struct Learned {
    embedder: Embedder,
    /// Per class (`none` first, then [`LEARNED`]): weights then bias.
    weights: Vec<Vec<f32>>,
    /// How many exemplars it was trained on.
    pub exemplars: usize,
    /// Which sentences are worth embedding.
    pub screen: Screen,
}

impl std::fmt::Debug for Learned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Learned")
            .field("exemplars", &self.exemplars)
            .finish_non_exhaustive()
    }
}

/// Parses the exemplars: (class index, sentence); class 0 is `none`.
pub fn parse_exemplars(text: &str) -> Result<Vec<(usize, String)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((label, sentence)) = line.split_once('\t') else {
            return Err(format!(
                "lexicons/safety_exemplars.tsv line {}: expected label and sentence",
                i + 1
            ));
        };
        let class = if label == "none" {
            0
        } else {
            let c = Category::from_name(label)
                .and_then(|c| LEARNED.iter().position(|&l| l == c))
                .ok_or_else(|| {
                    format!(
                        "lexicons/safety_exemplars.tsv line {}: unknown label {label:?}",
                        i + 1
                    )
                })?;
            c + 1
        };
        out.push((class, sentence.trim().to_string()));
    }
    Ok(out)
}

fn cache() -> &'static Mutex<HashMap<PathBuf, Arc<Learned>>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<Learned>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

impl Learned {
    /// Loads the embedder from `dir` and trains on the exemplars, or
    /// returns the classifier this process already trained from `dir`.
    pub fn load(dir: &Path) -> Result<Arc<Learned>, String> {
        if let Some(l) = cache().lock().map_err(|e| e.to_string())?.get(dir) {
            return Ok(l.clone());
        }
        let screen = Screen::parse(SCREEN)?;
        let embedder = Embedder::load(dir).map_err(|e| e.to_string())?;
        let exemplars = parse_exemplars(EXEMPLARS)?;
        let texts: Vec<&str> = exemplars.iter().map(|(_, s)| s.as_str()).collect();
        let x = embedder.embed(&texts).map_err(|e| e.to_string())?;
        let y: Vec<usize> = exemplars.iter().map(|(c, _)| *c).collect();
        let weights = train(&x, &y, LEARNED.len() + 1);
        let learned = Arc::new(Learned {
            embedder,
            weights,
            exemplars: exemplars.len(),
            screen,
        });
        cache()
            .lock()
            .map_err(|e| e.to_string())?
            .insert(dir.to_path_buf(), learned.clone());
        Ok(learned)
    }

    /// Per sentence, the probability of each category of [`LEARNED`].
    pub fn score(&self, sentences: &[&str]) -> Result<Vec<[f32; LEARNED.len()]>, String> {
        let x = self.embedder.embed(sentences).map_err(|e| e.to_string())?;
        Ok(x.iter()
            .map(|v| {
                let p = softmax(&logits(&self.weights, v));
                let mut out = [0.0; LEARNED.len()];
                out.copy_from_slice(&p[1..]);
                out
            })
            .collect())
    }
}

fn logits(weights: &[Vec<f32>], x: &[f32]) -> Vec<f32> {
    weights
        .iter()
        .map(|w| {
            let d = x.len();
            w[..d].iter().zip(x).map(|(a, b)| a * b).sum::<f32>() + w[d]
        })
        .collect()
}

fn softmax(z: &[f32]) -> Vec<f32> {
    let m = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// Multinomial logistic regression by full-batch gradient descent, each
/// class weighted by the inverse of its exemplar count.
fn train(x: &[Vec<f32>], y: &[usize], classes: usize) -> Vec<Vec<f32>> {
    let d = x.first().map_or(0, Vec::len);
    let mut w = vec![vec![0.0f32; d + 1]; classes];
    let mut counts = vec![0usize; classes];
    for &c in y {
        counts[c] += 1;
    }
    let n = y.len() as f32;
    let class_weight: Vec<f32> = counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                n / (classes as f32 * c as f32)
            }
        })
        .collect();
    for _ in 0..EPOCHS {
        let mut grad = vec![vec![0.0f32; d + 1]; classes];
        for (xi, &yi) in x.iter().zip(y) {
            let p = softmax(&logits(&w, xi));
            let cw = class_weight[yi];
            for (k, g) in grad.iter_mut().enumerate() {
                let err = cw * (p[k] - if k == yi { 1.0 } else { 0.0 });
                for (gj, xj) in g[..d].iter_mut().zip(xi) {
                    *gj += err * xj;
                }
                g[d] += err;
            }
        }
        for (wk, gk) in w.iter_mut().zip(&grad) {
            for j in 0..=d {
                let reg = if j < d { L2 * wk[j] } else { 0.0 };
                wk[j] -= LEARNING_RATE * (gk[j] / n + reg);
            }
        }
    }
    w
}

/// The committed screen: the cues that send a sentence to the embedder.
pub const SCREEN: &str = include_str!("../../../lexicons/safety_screen.txt");

/// Cheap cues that a sentence might be harmful, so that it is worth
/// embedding (`lexicons/safety_screen.txt`): words, and pairs of words
/// that must follow each other. A sentence with none of them is not
/// embedded.
#[derive(Clone, Debug, Default)]
pub struct Screen {
    words: std::collections::HashSet<String>,
    /// Two-word cues: the words that may follow each first word.
    pairs: HashMap<String, Vec<String>>,
}

impl Screen {
    /// Parses the screen's lines: one cue of one or two words per line.
    pub fn parse(text: &str) -> Result<Screen, String> {
        let mut screen = Screen::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [w] => {
                    screen.words.insert(w.to_string());
                }
                [a, b] => {
                    screen
                        .pairs
                        .entry(a.to_string())
                        .or_default()
                        .push(b.to_string());
                }
                _ => {
                    return Err(format!(
                        "lexicons/safety_screen.txt line {}: a cue is one or two words, got {line:?}",
                        i + 1
                    ));
                }
            }
        }
        Ok(screen)
    }

    /// Whether a sentence (its normalised words) carries a cue.
    pub fn passes(&self, lower_words: &[&str]) -> bool {
        lower_words.iter().any(|w| self.words.contains(*w))
            || lower_words.windows(2).any(|p| {
                self.pairs
                    .get(p[0])
                    .is_some_and(|next| next.iter().any(|b| b == p[1]))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exemplars_parse_and_cover_every_category() {
        let ex = parse_exemplars(EXEMPLARS).unwrap();
        for class in 0..=LEARNED.len() {
            let n = ex.iter().filter(|(c, _)| *c == class).count();
            assert!(n >= 10, "class {class}: {n} exemplars");
        }
        assert!(parse_exemplars("nonsense\tx").is_err());
        assert!(parse_exemplars("no tab").is_err());
    }

    #[test]
    fn training_separates_a_toy_problem() {
        let x = vec![
            vec![1.0, 0.0],
            vec![0.9, 0.1],
            vec![0.0, 1.0],
            vec![0.1, 0.9],
        ];
        let y = vec![0, 0, 1, 1];
        let w = train(&x, &y, 2);
        let p = softmax(&logits(&w, &[0.95, 0.05]));
        assert!(p[0] > 0.8, "{p:?}");
        let p = softmax(&logits(&w, &[0.05, 0.95]));
        assert!(p[1] > 0.8, "{p:?}");
    }

    #[test]
    fn a_screen_line_of_three_words_is_refused_with_its_line() {
        let err = Screen::parse("# cues\nyou\ni know\none two three\n").unwrap_err();
        assert!(err.contains("line 4"), "{err}");
    }

    #[test]
    fn the_screen_passes_address_and_harm_and_skips_plain_news() {
        let screen = Screen::parse(SCREEN).unwrap();
        assert!(screen.passes(&["i", "know", "where", "he", "lives"]));
        assert!(screen.passes(&["take", "the", "pills"]));
        assert!(!screen.passes(&[
            "the", "bank", "raised", "interest", "rates", "on", "tuesday"
        ]));
    }
}
