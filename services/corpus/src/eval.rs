//! Offline evaluation of the rankers on MovieLens-100K (RecBole atomic
//! files), with one fixed protocol so numbers compare across
//! implementations:
//!
//! - every rating is one implicit interaction of weight 1 (a repeated
//!   (user, item) pair keeps its earliest occurrence);
//! - each user's interactions are sorted by (timestamp, item id), ids
//!   compared numerically when both parse as integers, else as strings;
//! - the last `ceil(20%)` of each user's interactions are held out as test,
//!   the rest is training;
//! - every item not in the user's training set is ranked;
//! - Recall@20 = hits in the top 20 / held-out items, NDCG@20 with binary
//!   relevance and the ideal DCG over `min(20, |test|)` items, both averaged
//!   over the users with held-out items; catalogue coverage = distinct items
//!   in any top 20 / items; Gini index of the items' top-20 appearance
//!   counts (0 = equal exposure).
//!
//! Hyper-parameters are tuned on a validation split carved from the
//! training part the same way ([`Split::validation`],
//! [`run_validation_tuning`]); the test split only confirms.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::ranking::{ItemText, Ranker, RankerConfig, TrainingData, worker_threads};

/// Rank cut-off of every metric.
pub const K: usize = 20;

/// One rating: an implicit interaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rating {
    pub user: String,
    pub item: String,
    pub timestamp: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Reads `ml-100k.inter` and `ml-100k.item` from `dir`. Item text: the
/// movie title as title, the genres (`class`) as tags.
pub fn load_movielens(dir: &Path) -> Result<(Vec<Rating>, HashMap<String, ItemText>), EvalError> {
    let inter_path = dir.join("ml-100k.inter");
    let inter = read(&inter_path)?;
    let mut lines = inter.lines().enumerate();
    let head = header(&inter_path, lines.next())?;
    let col = |name: &str| column(&inter_path, &head, name);
    let (c_user, c_item, c_time) = (col("user_id")?, col("item_id")?, col("timestamp")?);
    let mut ratings = Vec::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let field = |c: usize| {
            fields
                .get(c)
                .map(|s| s.trim())
                .ok_or_else(|| EvalError::Parse {
                    path: inter_path.clone(),
                    line: n + 1,
                    message: format!("expected at least {} fields", c + 1),
                })
        };
        let time = field(c_time)?;
        let timestamp = time
            .parse::<i64>()
            .ok()
            .or_else(|| {
                time.parse::<f64>()
                    .ok()
                    .filter(|t| t.is_finite())
                    .map(|t| t as i64)
            })
            .ok_or_else(|| EvalError::Parse {
                path: inter_path.clone(),
                line: n + 1,
                message: format!("bad timestamp {time:?}"),
            })?;
        ratings.push(Rating {
            user: field(c_user)?.to_owned(),
            item: field(c_item)?.to_owned(),
            timestamp,
        });
    }

    let item_path = dir.join("ml-100k.item");
    let items = read(&item_path)?;
    let mut lines = items.lines().enumerate();
    let head = header(&item_path, lines.next())?;
    let col = |name: &str| column(&item_path, &head, name);
    let (c_item, c_title, c_class) = (col("item_id")?, col("movie_title")?, col("class")?);
    let mut texts = HashMap::new();
    for (_, line) in lines {
        let fields: Vec<&str> = line.split('\t').collect();
        let Some(id) = fields
            .get(c_item)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        let get = |c: usize| fields.get(c).map_or("", |s| s.trim());
        texts.insert(
            id.to_owned(),
            ItemText {
                title: get(c_title).to_owned(),
                body: String::new(),
                tags: get(c_class).split_whitespace().map(str::to_owned).collect(),
            },
        );
    }
    Ok((ratings, texts))
}

fn read(path: &Path) -> Result<String, EvalError> {
    std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: path.to_owned(),
        source,
    })
}

fn header(path: &Path, first: Option<(usize, &str)>) -> Result<Vec<String>, EvalError> {
    match first {
        Some((_, line)) => Ok(line
            .split('\t')
            .map(|f| f.split(':').next().unwrap_or("").trim().to_owned())
            .collect()),
        None => Err(EvalError::Parse {
            path: path.to_owned(),
            line: 1,
            message: "empty file, expected a header".into(),
        }),
    }
}

fn column(path: &Path, header: &[String], name: &str) -> Result<usize, EvalError> {
    header
        .iter()
        .position(|h| h == name)
        .ok_or_else(|| EvalError::Parse {
            path: path.to_owned(),
            line: 1,
            message: format!("no {name} column in the header"),
        })
}

/// The order of user and item ids: numeric when both parse as integers,
/// else as strings. (To stay a total order, integer ids sort before
/// non-integer ones; ids that are equal as numbers fall back to strings.)
pub fn compare_ids(a: &str, b: &str) -> Ordering {
    match (a.parse::<i128>(), b.parse::<i128>()) {
        (Ok(x), Ok(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// How many of `n` chronologically sorted interactions are held out:
/// `ceil(20% · n)`.
pub fn holdout_len(n: usize) -> usize {
    n.div_ceil(5)
}

/// A train/test split with dense indices.
#[derive(Clone, Debug, Default)]
pub struct Split {
    /// User index → id, in id order.
    pub users: Vec<String>,
    /// Item index → id, in id order (every item with a rating).
    pub items: Vec<String>,
    /// Per user: training items, chronological.
    pub train: Vec<Vec<u32>>,
    /// Per user: held-out items, chronological.
    pub test: Vec<Vec<u32>>,
}

impl Split {
    pub fn n_items(&self) -> usize {
        self.items.len()
    }

    /// The training part as ranker input (weight 1 each).
    pub fn training_data(&self) -> TrainingData {
        TrainingData {
            n_items: self.items.len(),
            rows: self
                .train
                .iter()
                .map(|row| row.iter().map(|&i| (i, 1.0)).collect())
                .collect(),
        }
    }

    /// Item texts in item-index order (missing ones empty).
    pub fn texts(&self, texts: &HashMap<String, ItemText>) -> Vec<ItemText> {
        self.items
            .iter()
            .map(|id| texts.get(id).cloned().unwrap_or_default())
            .collect()
    }

    /// The validation split: each user's training interactions split again
    /// by the same rule (last `ceil(20%)` held out). Same indices.
    pub fn validation(&self) -> Split {
        let (train, test) = self
            .train
            .iter()
            .map(|row| {
                let cut = row.len() - holdout_len(row.len());
                (row[..cut].to_vec(), row[cut..].to_vec())
            })
            .unzip();
        Split {
            users: self.users.clone(),
            items: self.items.clone(),
            train,
            test,
        }
    }
}

/// Splits ratings by the protocol (see the module doc).
pub fn split(ratings: &[Rating]) -> Split {
    let mut items: Vec<&str> = ratings.iter().map(|r| r.item.as_str()).collect();
    items.sort_unstable_by(|a, b| compare_ids(a, b));
    items.dedup();
    let item_index: HashMap<&str, u32> = items
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, i as u32))
        .collect();

    let mut by_user: HashMap<&str, Vec<&Rating>> = HashMap::new();
    for r in ratings {
        by_user.entry(r.user.as_str()).or_default().push(r);
    }
    let mut users: Vec<&str> = by_user.keys().copied().collect();
    users.sort_unstable_by(|a, b| compare_ids(a, b));

    let mut out = Split {
        users: users.iter().map(|&u| u.to_owned()).collect(),
        items: items.iter().map(|&i| i.to_owned()).collect(),
        train: Vec::with_capacity(users.len()),
        test: Vec::with_capacity(users.len()),
    };
    for u in &users {
        let mut rs = by_user.remove(u).unwrap_or_default();
        rs.sort_by(|a, b| {
            a.timestamp
                .cmp(&b.timestamp)
                .then_with(|| compare_ids(&a.item, &b.item))
        });
        let mut seen = HashSet::new();
        let seq: Vec<u32> = rs
            .iter()
            .filter_map(|r| item_index.get(r.item.as_str()).copied())
            .filter(|&i| seen.insert(i))
            .collect();
        let cut = seq.len() - holdout_len(seq.len());
        out.train.push(seq[..cut].to_vec());
        out.test.push(seq[cut..].to_vec());
    }
    out
}

/// Quality and exposure of the top-20 lists of a model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    pub recall_at_20: f64,
    pub ndcg_at_20: f64,
    pub coverage: f64,
    pub gini: f64,
    /// Users evaluated (those with held-out items).
    pub users: usize,
}

/// One line of the results table.
#[derive(Clone, Debug)]
pub struct Row {
    pub model: String,
    pub params: String,
    pub metrics: Metrics,
}

/// Hits in the first `k` of `ranked` / number of relevant items (0 when
/// there are none).
pub fn recall_at_k(ranked: &[u32], relevant: &[u32], k: usize) -> f64 {
    if relevant.is_empty() {
        return 0.0;
    }
    let hits = ranked
        .iter()
        .take(k)
        .filter(|i| relevant.contains(i))
        .count();
    hits as f64 / relevant.len() as f64
}

/// NDCG@k with binary relevance; the ideal DCG puts `min(k, |relevant|)`
/// hits first.
pub fn ndcg_at_k(ranked: &[u32], relevant: &[u32], k: usize) -> f64 {
    let discount = |rank: usize| 1.0 / ((rank + 2) as f64).log2();
    let ideal: f64 = (0..k.min(relevant.len())).map(discount).sum();
    if ideal == 0.0 {
        return 0.0;
    }
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, i)| relevant.contains(i))
        .map(|(r, _)| discount(r))
        .sum();
    dcg / ideal
}

/// Gini index of exposure counts (one per item, zeros included):
/// `Σ (2i − n − 1) x_(i) / (n Σ x)` over ascending `x`. 0 when every item
/// is shown equally often (or nothing is shown); `(n − 1)/n` when one item
/// takes every slot.
pub fn gini(counts: &[u64]) -> f64 {
    let n = counts.len();
    let total: f64 = counts.iter().map(|&c| c as f64).sum();
    if n == 0 || total == 0.0 {
        return 0.0;
    }
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    let weighted: f64 = sorted
        .iter()
        .enumerate()
        .map(|(i, &x)| (2.0 * (i + 1) as f64 - n as f64 - 1.0) * x as f64)
        .sum();
    weighted / (n as f64 * total)
}

/// The `k` best items by score, excluding `exclude` (sorted), best first,
/// ties broken by the lower item index.
pub fn top_k(totals: &[f32], exclude: &[u32], k: usize) -> Vec<u32> {
    let mut cands: Vec<(u32, f32)> = totals
        .iter()
        .enumerate()
        .filter(|&(i, s)| s.is_finite() && exclude.binary_search(&(i as u32)).is_err())
        .map(|(i, &s)| (i as u32, s))
        .collect();
    let order = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if cands.len() > k {
        cands.select_nth_unstable_by(k, order);
        cands.truncate(k);
    }
    cands.sort_unstable_by(order);
    cands.into_iter().map(|(i, _)| i).collect()
}

/// Evaluates a trained ranker on `split` through [`Ranker::score_user`],
/// exactly as serving calls it.
pub fn evaluate(ranker: &Ranker, split: &Split) -> Metrics {
    evaluate_with(ranker, split, None)
}

/// `blend`: score with these blend fields instead of the trained ones
/// (tuning only).
fn evaluate_with(ranker: &Ranker, split: &Split, blend: Option<&RankerConfig>) -> Metrics {
    let users: Vec<usize> = (0..split.test.len())
        .filter(|&u| !split.test[u].is_empty())
        .collect();
    let threads = worker_threads().min(users.len()).max(1);
    let per_user: Vec<Vec<(f64, f64, Vec<u32>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let users = &users;
                s.spawn(move || {
                    users
                        .iter()
                        .skip(t)
                        .step_by(threads)
                        .map(|&u| {
                            let history: Vec<(u32, f32)> =
                                split.train[u].iter().map(|&i| (i, 1.0)).collect();
                            let scores = match blend {
                                None => ranker.score_user(&history),
                                Some(b) => ranker.score_user_with(&history, b),
                            };
                            let totals: Vec<f32> = scores.iter().map(|s| s.total).collect();
                            let mut exclude = split.train[u].clone();
                            exclude.sort_unstable();
                            let top = top_k(&totals, &exclude, K);
                            let test = &split.test[u];
                            (recall_at_k(&top, test, K), ndcg_at_k(&top, test, K), top)
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut counts = vec![0u64; split.n_items()];
    let (mut recall, mut ndcg, mut evaluated) = (0.0, 0.0, 0usize);
    for (r, n, top) in per_user.iter().flatten() {
        recall += r;
        ndcg += n;
        evaluated += 1;
        for &i in top {
            if let Some(c) = counts.get_mut(i as usize) {
                *c += 1;
            }
        }
    }
    let denom = evaluated.max(1) as f64;
    Metrics {
        recall_at_20: recall / denom,
        ndcg_at_20: ndcg / denom,
        coverage: counts.iter().filter(|&&c| c > 0).count() as f64 / split.n_items().max(1) as f64,
        gini: gini(&counts),
        users: evaluated,
    }
}

/// ItemKNN neighbourhood sizes and EASE λs reported (and tuned over).
const KNN_NEIGHBOURS: [usize; 5] = [25, 50, 100, 200, 400];
const KNN_SHRINKAGES: [f32; 3] = [0.0, 10.0, 50.0];
const EASE_LAMBDAS: [f32; 9] = [
    50.0, 100.0, 200.0, 250.0, 300.0, 400.0, 500.0, 750.0, 1000.0,
];
/// The blend grid searched on the validation split.
const KNN_SHARES: [f32; 6] = [0.0, 0.2, 0.4, 0.5, 0.6, 0.8];
const CONTENT_WEIGHTS: [f32; 8] = [0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6];
/// Popularity must keep a positive weight: it is the whole ranking for
/// users without history (and the tie-break for items without signal).
const POPULAR_WEIGHTS: [f32; 5] = [0.005, 0.01, 0.02, 0.05, 0.1];

fn only(collaborative: f32, content: f32, popular: f32, base: RankerConfig) -> RankerConfig {
    RankerConfig {
        weight_collaborative: collaborative,
        weight_content: content,
        weight_popular: popular,
        collaborative_knn_share: 0.0,
        ..base
    }
}

fn popularity_config() -> RankerConfig {
    only(0.0, 0.0, 1.0, RankerConfig::default())
}

fn content_config() -> RankerConfig {
    only(0.0, 1.0, 0.0, RankerConfig::default())
}

fn knn_config(k: usize, shrinkage: f32) -> RankerConfig {
    only(
        1.0,
        0.0,
        0.0,
        RankerConfig {
            knn_neighbours: k,
            knn_shrinkage: shrinkage,
            ease_max_items: 0,
            ..RankerConfig::default()
        },
    )
}

fn ease_config(lambda: f32) -> RankerConfig {
    only(
        1.0,
        0.0,
        0.0,
        RankerConfig {
            ease_lambda: lambda,
            ..RankerConfig::default()
        },
    )
}

fn blend_params(c: &RankerConfig) -> String {
    format!(
        "λ={} k={} shrink={} knn_share={} wc={} wt={} wp={}",
        c.ease_lambda,
        c.knn_neighbours,
        c.knn_shrinkage,
        c.collaborative_knn_share,
        c.weight_collaborative,
        c.weight_content,
        c.weight_popular
    )
}

fn row(model: &str, params: String, metrics: Metrics) -> Row {
    Row {
        model: model.to_owned(),
        params,
        metrics,
    }
}

fn train_and_evaluate(split: &Split, texts: &[ItemText], cfg: &RankerConfig) -> Metrics {
    let ranker = Ranker::train(&split.training_data(), texts, cfg);
    evaluate(&ranker, split)
}

/// The test-split table: popularity, ItemKNN (default shrinkage) at several
/// neighbourhoods, EASE at several λ, content only, and the served blend
/// (`RankerConfig::default()`, through `Ranker::score_user`).
pub fn run_ranking_eval(dir: &Path) -> Result<Vec<Row>, EvalError> {
    let (ratings, texts) = load_movielens(dir)?;
    let split = split(&ratings);
    let texts = split.texts(&texts);
    let mut rows = vec![row(
        "popularity",
        String::new(),
        train_and_evaluate(&split, &texts, &popularity_config()),
    )];
    let shrinkage = RankerConfig::default().knn_shrinkage;
    for k in [50, 100, 200, 400] {
        rows.push(row(
            "ItemKNN",
            format!("k={k} shrink={shrinkage}"),
            train_and_evaluate(&split, &texts, &knn_config(k, shrinkage)),
        ));
    }
    for lambda in [100.0, 250.0, 500.0, 1000.0] {
        rows.push(row(
            "EASE",
            format!("λ={lambda}"),
            train_and_evaluate(&split, &texts, &ease_config(lambda)),
        ));
    }
    rows.push(row(
        "content (TF-IDF)",
        "title×2 + genres".into(),
        train_and_evaluate(&split, &texts, &content_config()),
    ));
    let served = RankerConfig::default();
    rows.push(row(
        "served blend",
        blend_params(&served),
        train_and_evaluate(&split, &texts, &served),
    ));
    Ok(rows)
}

/// Tunes the defaults on the validation split (carved from the training
/// part; the test part is never read). Coordinate search:
/// 1. EASE λ alone, 2. ItemKNN neighbourhood × shrinkage alone, 3. with the
///    best of each, the blend grid (ItemKNN share in the collaborative
///    component × content weight × popularity weight; collaborative weight
///    1). Selection criterion: Recall@20 + NDCG@20.
///
/// Returns every row tried (single models first, then the blend grid,
/// best first) and the selected configuration.
pub fn run_validation_tuning(dir: &Path) -> Result<(Vec<Row>, RankerConfig), EvalError> {
    let (ratings, texts) = load_movielens(dir)?;
    let split = split(&ratings).validation();
    let texts = split.texts(&texts);
    let score = |m: &Metrics| m.recall_at_20 + m.ndcg_at_20;
    let mut rows = Vec::new();

    rows.push(row(
        "popularity",
        String::new(),
        train_and_evaluate(&split, &texts, &popularity_config()),
    ));
    rows.push(row(
        "content (TF-IDF)",
        String::new(),
        train_and_evaluate(&split, &texts, &content_config()),
    ));

    let mut best_lambda = (f64::MIN, EASE_LAMBDAS[0]);
    for lambda in EASE_LAMBDAS {
        let m = train_and_evaluate(&split, &texts, &ease_config(lambda));
        if score(&m) > best_lambda.0 {
            best_lambda = (score(&m), lambda);
        }
        rows.push(row("EASE", format!("λ={lambda}"), m));
    }
    let mut best_knn = (f64::MIN, KNN_NEIGHBOURS[0], KNN_SHRINKAGES[0]);
    for k in KNN_NEIGHBOURS {
        for shrinkage in KNN_SHRINKAGES {
            let m = train_and_evaluate(&split, &texts, &knn_config(k, shrinkage));
            if score(&m) > best_knn.0 {
                best_knn = (score(&m), k, shrinkage);
            }
            rows.push(row("ItemKNN", format!("k={k} shrink={shrinkage}"), m));
        }
    }

    let base = RankerConfig {
        ease_lambda: best_lambda.1,
        knn_neighbours: best_knn.1,
        knn_shrinkage: best_knn.2,
        ..RankerConfig::default()
    };
    let ranker = Ranker::train(&split.training_data(), &texts, &base);
    let mut grid = Vec::new();
    for share in KNN_SHARES {
        for wt in CONTENT_WEIGHTS {
            for wp in POPULAR_WEIGHTS {
                let cfg = RankerConfig {
                    collaborative_knn_share: share,
                    weight_collaborative: 1.0,
                    weight_content: wt,
                    weight_popular: wp,
                    ..base.clone()
                };
                let m = evaluate_with(&ranker, &split, Some(&cfg));
                grid.push((cfg, m));
            }
        }
    }
    // Best first; ties keep the simpler (earlier) configuration.
    grid.sort_by(|a, b| score(&b.1).total_cmp(&score(&a.1)));
    let chosen = grid.first().map_or(base, |(c, _)| c.clone());
    rows.extend(
        grid.into_iter()
            .map(|(c, m)| row("blend", blend_params(&c), m)),
    );
    Ok((rows, chosen))
}

/// A markdown table of the rows.
pub fn format_table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| model | params | Recall@20 | NDCG@20 | coverage | Gini | users |\n\
         |---|---|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let m = &r.metrics;
        let _ = writeln!(
            out,
            "| {} | {} | {:.4} | {:.4} | {:.3} | {:.3} | {} |",
            r.model, r.params, m.recall_at_20, m.ndcg_at_20, m.coverage, m.gini, m.users
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rating(user: &str, item: &str, timestamp: i64) -> Rating {
        Rating {
            user: user.into(),
            item: item.into(),
            timestamp,
        }
    }

    #[test]
    fn split_holds_out_the_last_ceil_20_percent_with_item_id_tie_break() {
        let ratings = vec![
            // User "2": 6 ratings → ceil(1.2) = 2 held out. Items "10" and
            // "9" share the last timestamp: numeric order puts 9 first.
            rating("2", "10", 50),
            rating("2", "9", 50),
            rating("2", "1", 10),
            rating("2", "3", 20),
            rating("2", "2", 20),
            rating("2", "4", 30),
            // User "10": 5 ratings → ceil(1.0) = 1 held out; a repeat keeps
            // its first occurrence.
            rating("10", "1", 1),
            rating("10", "2", 2),
            rating("10", "3", 3),
            rating("10", "2", 4),
            rating("10", "4", 5),
            rating("10", "9", 6),
            // User "1": one rating → it is held out, nothing to train on.
            rating("1", "4", 7),
        ];
        let s = split(&ratings);
        assert_eq!(s.users, ["1", "2", "10"]);
        assert_eq!(s.items, ["1", "2", "3", "4", "9", "10"]);
        let ids = |row: &Vec<u32>| {
            row.iter()
                .map(|&i| s.items[i as usize].as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&s.train[1]), ["1", "2", "3", "4"]);
        assert_eq!(ids(&s.test[1]), ["9", "10"]);
        assert_eq!(ids(&s.train[2]), ["1", "2", "3", "4"]);
        assert_eq!(ids(&s.test[2]), ["9"]);
        assert!(s.train[0].is_empty());
        assert_eq!(ids(&s.test[0]), ["4"]);

        // Validation: the same rule on the training part (4 → 1 held out).
        let v = s.validation();
        assert_eq!(ids(&v.train[1]), ["1", "2", "3"]);
        assert_eq!(ids(&v.test[1]), ["4"]);
        assert!(v.train[0].is_empty() && v.test[0].is_empty());

        assert_eq!(
            [1, 2, 3, 4, 5, 10, 11].map(holdout_len),
            [1, 1, 1, 1, 1, 2, 3]
        );
        assert_eq!(holdout_len(0), 0);
        assert!(split(&[]).users.is_empty());
    }

    #[test]
    fn ids_compare_numerically_when_both_are_integers() {
        assert_eq!(compare_ids("9", "10"), Ordering::Less);
        assert_eq!(compare_ids("b", "a"), Ordering::Greater);
        assert_eq!(compare_ids("a10", "a9"), Ordering::Less);
        assert_eq!(compare_ids("007", "7"), Ordering::Less);
    }

    #[test]
    fn recall_and_ndcg_match_hand_computed_values() {
        // Hits at ranks 1 and 3 of 3 relevant items.
        let ranked = [5, 1, 7, 2];
        let relevant = [7, 5, 9];
        assert!((recall_at_k(&ranked, &relevant, 20) - 2.0 / 3.0).abs() < 1e-12);
        let dcg = 1.0 + 1.0 / 4f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2() + 1.0 / 4f64.log2();
        assert!((ndcg_at_k(&ranked, &relevant, 20) - dcg / idcg).abs() < 1e-12);
        // Cut-off: only the first 2 count; ideal over min(2, 3) = 2 items.
        assert!((recall_at_k(&ranked, &relevant, 2) - 1.0 / 3.0).abs() < 1e-12);
        assert!((ndcg_at_k(&ranked, &relevant, 2) - 1.0 / (1.0 + 1.0 / 3f64.log2())).abs() < 1e-12);
        // Perfect ranking.
        assert!((ndcg_at_k(&[7, 5, 9], &relevant, 20) - 1.0).abs() < 1e-12);
        // Nothing relevant / nothing ranked.
        assert_eq!(recall_at_k(&ranked, &[], 20), 0.0);
        assert_eq!(ndcg_at_k(&ranked, &[], 20), 0.0);
        assert_eq!(ndcg_at_k(&[], &relevant, 20), 0.0);
    }

    #[test]
    fn gini_matches_hand_computed_values() {
        assert_eq!(gini(&[3, 3, 3, 3]), 0.0);
        assert_eq!(gini(&[]), 0.0);
        assert_eq!(gini(&[0, 0]), 0.0);
        // All exposure on one of 4 items: (n − 1)/n.
        assert!((gini(&[0, 0, 8, 0]) - 0.75).abs() < 1e-12);
        // [1, 2, 3, 4]: Σ (2i − 5) x_i = −3 − 2 + 3 + 12 = 10; / (4 · 10).
        assert!((gini(&[4, 1, 3, 2]) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn top_k_excludes_and_breaks_ties_by_index() {
        let totals = [0.5, 0.9, 0.5, f32::NAN, 0.7, 0.5];
        assert_eq!(top_k(&totals, &[4], 3), [1, 0, 2]);
        assert_eq!(top_k(&totals, &[], 10), [1, 4, 0, 2, 5]);
        assert!(top_k(&[], &[], 20).is_empty());
    }

    #[test]
    fn evaluation_of_a_toy_split_is_consistent() {
        let mut ratings = Vec::new();
        for u in 0..10 {
            for (t, i) in [0, 1, 2, 3, 4].iter().enumerate() {
                ratings.push(rating(&u.to_string(), &((i + u) % 7).to_string(), t as i64));
            }
        }
        let s = split(&ratings);
        let ranker = Ranker::train(&s.training_data(), &[], &RankerConfig::default());
        let m = evaluate(&ranker, &s);
        assert_eq!(m.users, 10);
        assert!((0.0..=1.0).contains(&m.recall_at_20) && (0.0..=1.0).contains(&m.ndcg_at_20));
        // 7 items, each user ranks the 3 it has not trained on: all shown.
        assert_eq!(m.coverage, 1.0);
        let table = format_table(&[row("x", String::new(), m)]);
        assert!(table.starts_with("| model |") && table.lines().count() == 3);
        // Empty split.
        let m = evaluate(&ranker, &Split::default());
        assert_eq!(m.users, 0);
    }

    fn data_dir() -> Option<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.data/ml-100k");
        if dir.join("ml-100k.inter").is_file() && dir.join("ml-100k.item").is_file() {
            Some(dir)
        } else {
            eprintln!("skipping: no MovieLens data at {}", dir.display());
            None
        }
    }

    #[test]
    #[cfg_attr(debug_assertions, ignore = "slow in debug; run with --release")]
    fn movielens_served_blend_at_least_matches_every_single_model() {
        let Some(dir) = data_dir() else {
            return;
        };
        let started = std::time::Instant::now();
        let rows = run_ranking_eval(&dir).unwrap();
        eprintln!("{}", format_table(&rows));
        eprintln!("evaluated in {:.1} s", started.elapsed().as_secs_f64());
        let served = rows.iter().find(|r| r.model == "served blend").unwrap();
        assert_eq!(served.metrics.users, 943);
        for single in rows.iter().filter(|r| r.model != "served blend") {
            assert!(
                served.metrics.recall_at_20 >= single.metrics.recall_at_20
                    && served.metrics.ndcg_at_20 >= single.metrics.ndcg_at_20,
                "served blend {:?} loses to {} {}: {:?}",
                served.metrics,
                single.model,
                single.params,
                single.metrics
            );
        }
        for ease in rows.iter().filter(|r| r.model == "EASE") {
            assert!(
                (0.1..0.6).contains(&ease.metrics.recall_at_20),
                "implausible EASE recall {:?}",
                ease.metrics
            );
        }
    }

    #[test]
    #[cfg_attr(debug_assertions, ignore = "slow in debug; run with --release")]
    fn defaults_are_the_configuration_chosen_on_the_validation_split() {
        let Some(dir) = data_dir() else {
            return;
        };
        let (rows, chosen) = run_validation_tuning(&dir).unwrap();
        let singles = rows.iter().filter(|r| r.model != "blend");
        let blends = rows.iter().filter(|r| r.model == "blend").take(10);
        let shown: Vec<Row> = singles.chain(blends).cloned().collect();
        eprintln!("{}", format_table(&shown));
        let d = RankerConfig::default();
        assert_eq!(
            blend_params(&chosen),
            blend_params(&d),
            "RankerConfig::default() is not what validation tuning selects"
        );
    }
}
