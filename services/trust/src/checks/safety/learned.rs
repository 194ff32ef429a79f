//! The learned part of the safety check: a multinomial logistic regression
//! over all-MiniLM-L6-v2 sentence embeddings, trained when a bundle that
//! names the embedder loads, on the committed exemplars
//! (`lexicons/safety_exemplars.tsv`: labelled harmful sentences per hazard
//! category and sentences that must not fire) and, for the `none` class,
//! the screened sentences of half the articles of a real news folder
//! (`learned_negatives`; [`news_halves`] keeps the other half out for the
//! false-alarm figure). A sentence is harmful when the probability of all
//! hazards together reaches the bundle's threshold.
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

use crate::checks::phrases::{Hyphens, Normalized};
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
/// Heavy-ball momentum: plain gradient descent leaves the `none` class
/// underfit within the epochs a bundle load can afford.
const MOMENTUM: f32 = 0.9;
const L2: f32 = 1e-4;

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

/// Trained classifiers of this process, by embedder folder and training
/// data digest.
type Cache = Mutex<HashMap<(PathBuf, String), Arc<Learned>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The digest that names a trained classifier: the exemplars, the news
/// negatives, the training settings and the model file's size.
fn digest(exemplars: &[(usize, String)], negatives: &[String], model_bytes: u64) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (c, s) in exemplars {
        h.update(format!("{c}\t{s}\n"));
    }
    h.update(b"\0negatives\n");
    for s in negatives {
        h.update(s.as_bytes());
        h.update(b"\n");
    }
    h.update(format!(
        "\0{EPOCHS} {LEARNING_RATE} {MOMENTUM} {L2} {model_bytes}"
    ));
    hex::encode(&h.finalize()[..12])
}

impl Learned {
    /// Loads the embedder from `dir` and trains on the exemplars plus
    /// `negatives` (sentences of the `none` class from real news), or
    /// returns the classifier this process already trained on them.
    /// Trained weights are kept beside the model
    /// (`safety-classifier-<digest>.bin`), so a later process loads them
    /// instead of embedding the training sentences again.
    pub fn load(dir: &Path, negatives: &[String]) -> Result<Arc<Learned>, String> {
        let mut exemplars = parse_exemplars(EXEMPLARS)?;
        let model_bytes = std::fs::metadata(dir.join("model.safetensors"))
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .len();
        let key = digest(&exemplars, negatives, model_bytes);
        // Held while training, so that threads of one process train once.
        let mut cached = cache().lock().map_err(|e| e.to_string())?;
        if let Some(l) = cached.get(&(dir.to_path_buf(), key.clone())) {
            return Ok(l.clone());
        }
        let screen = Screen::parse(SCREEN)?;
        let embedder = Embedder::load(dir).map_err(|e| e.to_string())?;
        let file = dir.join(format!("safety-classifier-{key}.bin"));
        let classes = LEARNED.len() + 1;
        let d = embedder.dimension();
        let weights = match read_weights(&file, classes, d + 1) {
            Some(w) => w,
            None => {
                exemplars.extend(negatives.iter().map(|s| (0, s.clone())));
                let texts: Vec<&str> = exemplars.iter().map(|(_, s)| s.as_str()).collect();
                let mut x = Vec::with_capacity(texts.len());
                for chunk in texts.chunks(64) {
                    x.extend(embedder.embed(chunk).map_err(|e| e.to_string())?);
                }
                let y: Vec<usize> = exemplars.iter().map(|(c, _)| *c).collect();
                let w = train(&x, &y, classes);
                // A cache: failing to write it costs time, not correctness.
                let _ = write_weights(&file, &w);
                w
            }
        };
        let learned = Arc::new(Learned {
            embedder,
            weights,
            exemplars: parse_exemplars(EXEMPLARS)?.len() + negatives.len(),
            screen,
        });
        cached.insert((dir.to_path_buf(), key), learned.clone());
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

/// Reads trained weights written by [`write_weights`]; `None` when the
/// file is missing or not of the expected shape.
fn read_weights(file: &Path, classes: usize, width: usize) -> Option<Vec<Vec<f32>>> {
    let bytes = std::fs::read(file).ok()?;
    if bytes.len() != classes * width * 4 {
        return None;
    }
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    Some(values.chunks(width).map(<[f32]>::to_vec).collect())
}

/// Writes weights as little-endian f32, through a temporary file renamed
/// into place so that a reader never sees half a file.
fn write_weights(file: &Path, weights: &[Vec<f32>]) -> std::io::Result<()> {
    let bytes: Vec<u8> = weights
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, file)
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
    let mut velocity = vec![vec![0.0f32; d + 1]; classes];
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
        for ((wk, gk), vk) in w.iter_mut().zip(&grad).zip(velocity.iter_mut()) {
            for j in 0..=d {
                let reg = if j < d { L2 * wk[j] } else { 0.0 };
                vk[j] = MOMENTUM * vk[j] - LEARNING_RATE * (gk[j] / n + reg);
                wk[j] += vk[j];
            }
        }
    }
    w
}

/// The committed screen: the cues that send a sentence to the embedder.
pub const SCREEN: &str = include_str!("../../../lexicons/safety_screen.txt");

/// Cheap cues that a sentence might be harmful, so that it is worth
/// embedding (`lexicons/safety_screen.txt`): words, pairs of words that
/// must follow each other, and words that count only as a sentence's first
/// word (`^mix`: an instruction). A sentence with none of them is not
/// embedded.
#[derive(Clone, Debug, Default)]
pub struct Screen {
    words: std::collections::HashSet<String>,
    /// Words that are cues only at the start of a sentence.
    openers: std::collections::HashSet<String>,
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
                [w] if w.len() > 1 && w.starts_with('^') => {
                    screen.openers.insert(w[1..].to_string());
                }
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
        lower_words
            .first()
            .is_some_and(|w| self.openers.contains(*w))
            || lower_words.iter().any(|w| self.words.contains(*w))
            || lower_words.windows(2).any(|p| {
                self.pairs
                    .get(p[0])
                    .is_some_and(|next| next.iter().any(|b| b == p[1]))
            })
    }
}

/// The spans (in the original text) of the sentences of `n` that carry a
/// screen cue and are at least four words long, at most `max` of them.
pub fn screened(n: &Normalized, screen: &Screen, max: usize) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    for &(a, b) in &n.sentences {
        if spans.len() >= max {
            break;
        }
        if b < a + 4 {
            continue;
        }
        let words: Vec<&str> = (a..b)
            .map(|i| &n.text[n.words[i].norm.0..n.words[i].norm.1])
            .collect();
        if screen.passes(&words) {
            spans.push(n.span(a, b - 1));
        }
    }
    spans
}

/// The articles of a news folder (one folder per topic, one `.txt` file
/// per article), in path order, split in two halves: even positions
/// train the classifier's `none` class, odd positions are held out for
/// the false-alarm figure of `generec eval policies`.
pub fn news_halves(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), String> {
    let io = |e: std::io::Error| format!("{}: {e}", dir.display());
    let mut files = Vec::new();
    for topic in std::fs::read_dir(dir).map_err(io)? {
        let topic = topic.map_err(io)?.path();
        if !topic.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&topic).map_err(io)? {
            let f = f.map_err(io)?.path();
            if f.extension().is_some_and(|x| x == "txt") {
                files.push(f);
            }
        }
    }
    files.sort();
    let (train, held_out): (Vec<_>, Vec<_>) =
        files.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
    Ok((
        train.into_iter().map(|(_, f)| f).collect(),
        held_out.into_iter().map(|(_, f)| f).collect(),
    ))
}

/// Hard negatives for the `none` class: the screened sentences of the
/// training half of a news folder, at most `max_per_article` each (the
/// sentences the stage would embed when it reviews such an article).
pub fn news_negatives(dir: &Path, max_per_article: usize) -> Result<Vec<String>, String> {
    let screen = Screen::parse(SCREEN)?;
    let (train, _) = news_halves(dir)?;
    if train.is_empty() {
        return Err(format!("{} holds no articles", dir.display()));
    }
    let mut out = Vec::new();
    for f in train {
        let bytes = std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        let text = String::from_utf8_lossy(&bytes);
        let n = Normalized::new(&text, Hyphens::Split);
        for (a, b) in screened(&n, &screen, max_per_article) {
            out.push(text[a..b].split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    Ok(out)
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
    fn trained_weights_round_trip_and_a_wrong_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("w.bin");
        let w = vec![vec![0.5, -1.25, 3.0], vec![0.0, 2.0, -0.75]];
        write_weights(&file, &w).unwrap();
        assert_eq!(read_weights(&file, 2, 3), Some(w));
        // Another shape, or a truncated or non-finite file, is retrained.
        assert_eq!(read_weights(&file, 3, 3), None);
        std::fs::write(&file, [0u8; 5]).unwrap();
        assert_eq!(read_weights(&file, 2, 3), None);
        std::fs::write(&file, f32::NAN.to_le_bytes().repeat(6)).unwrap();
        assert_eq!(read_weights(&file, 2, 3), None);
        assert_eq!(read_weights(&dir.path().join("missing"), 2, 3), None);
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
        // An instruction verb counts at the start of a sentence only.
        let screen = Screen::parse("^mix\n").unwrap();
        assert!(screen.passes(&["mix", "the", "two", "cleaners"]));
        assert!(!screen.passes(&["a", "mix", "of", "old", "and", "new"]));
    }
}
