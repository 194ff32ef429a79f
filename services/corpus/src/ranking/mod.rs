//! The ranking core: turns users' signed implicit feedback and item text
//! into per-user item scores.
//!
//! Three components are blended:
//! - **collaborative**: EASE (`ease`) when the catalogue of items with
//!   positive feedback is small enough for a dense item × item model, else
//!   ItemKNN (`knn`), which stays sparse for any catalogue size;
//! - **content**: TF-IDF cosine between the user's signed text profile and
//!   every item (`content`), which is what ranks items nobody has touched
//!   yet;
//! - **popularity**: net positive feedback per item.
//!
//! Each component is normalised per user (divided by its largest positive
//! value over the items the user has not interacted with) and the weighted
//! sum is the total. A [`Ranker`] is trained once from a snapshot of the
//! feedback and is immutable afterwards; serving threads share it.

mod content;
mod ease;
mod knn;

use std::time::Instant;

use content::ContentModel;
use ease::Ease;
use knn::ItemKnn;

/// Signed implicit feedback, dense indices. weight > 0 counts for an item,
/// < 0 against it.
#[derive(Clone, Debug, Default)]
pub struct TrainingData {
    pub n_items: usize,
    /// `rows[user]` = (item index, weight); item indices < `n_items`, at most
    /// one entry per item per row. Entries out of range, with a non-finite
    /// weight, or duplicated are tolerated (ignored or merged), not trusted.
    pub rows: Vec<Vec<(u32, f32)>>,
}

/// Text of an item, for the content model. index = item index.
#[derive(Clone, Debug, Default)]
pub struct ItemText {
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
}

/// Hyper-parameters of the ranker. Missing fields take their defaults.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RankerConfig {
    /// ItemKNN: neighbours kept per item.
    pub knn_neighbours: usize,
    /// ItemKNN: shrinkage added to the cosine denominator.
    pub knn_shrinkage: f32,
    /// EASE: L2 regularisation λ.
    pub ease_lambda: f32,
    /// EASE is only trained when at most this many items have positive
    /// feedback (its model is dense: items² floats); else the collaborative
    /// component is ItemKNN. 0 disables EASE.
    pub ease_max_items: usize,
    /// When EASE is enabled, the share of ItemKNN mixed into the
    /// collaborative component (each normalised first): 0 = EASE only,
    /// 1 = ItemKNN only.
    pub collaborative_knn_share: f32,
    /// Blend weight of the collaborative component.
    pub weight_collaborative: f32,
    /// Blend weight of the content component.
    pub weight_content: f32,
    /// Blend weight of the popularity component.
    pub weight_popular: f32,
}

impl Default for RankerConfig {
    /// The served configuration, chosen on MovieLens-100K by
    /// [`crate::eval::run_validation_tuning`] on a *validation* split (each
    /// user's training interactions split again: last ceil(20%) held out;
    /// the test split was not read), criterion Recall@20 + NDCG@20:
    ///
    /// 1. EASE alone over λ ∈ {50 … 1000}: best λ = 200 (R@20 0.2240,
    ///    NDCG@20 0.1984; λ = 500: 0.2237 / 0.1978).
    /// 2. ItemKNN alone over k ∈ {25, 50, 100, 200, 400} × shrinkage
    ///    ∈ {0, 10, 50}: best k = 400, shrinkage 0 (0.2297 / 0.2124);
    ///    shrinkage only hurt, larger k helped slightly (k = 200: 0.2281 /
    ///    0.2117).
    /// 3. Blend grid with those models, collaborative weight 1: ItemKNN
    ///    share in the collaborative component ∈ {0, .2, .4, .5, .6, .8} ×
    ///    content weight ∈ {0 … 0.6} × popularity weight
    ///    ∈ {.005, .01, .02, .05, .1} (kept > 0: popularity is the whole
    ///    ranking for users without history). Best: share 0.6, content 0.2,
    ///    popularity 0.005 → 0.2444 / 0.2187, vs the best single model
    ///    (ItemKNN k = 400) 0.2297 / 0.2124. So the collaborative component
    ///    is a 40/60 mix of EASE and ItemKNN when EASE is enabled.
    ///
    /// Per-user max normalisation of each component validated better than
    /// rank-based normalisation (linear in rank: 0.2421 / 0.2189 at best;
    /// 1/√rank: 0.2364 / 0.2152).
    ///
    /// Confirmed on the test split (`crate::eval::run_ranking_eval`):
    /// served blend R@20 0.2041, NDCG@20 0.2221 vs the best single models
    /// EASE λ = 500 (R@20 0.1988) and EASE λ = 100 (NDCG@20 0.2123).
    ///
    /// `ease_max_items` = 6000 bounds EASE's dense model to ~144 MB of f32
    /// (~600 MB of f64 transient while inverting, a few seconds on 2
    /// cores); past it the collaborative component is ItemKNN alone.
    /// ItemKNN keeps 400 neighbours × 8 bytes per item (~160 MB at 50k
    /// items).
    fn default() -> Self {
        RankerConfig {
            knn_neighbours: 400,
            knn_shrinkage: 0.0,
            ease_lambda: 200.0,
            ease_max_items: 6000,
            collaborative_knn_share: 0.6,
            weight_collaborative: 1.0,
            weight_content: 0.2,
            weight_popular: 0.005,
        }
    }
}

/// Which component contributed most to an item's score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Collaborative,
    Content,
    Popular,
}

/// One item's score for one user. The component fields are the weighted
/// contributions (normalised component × its blend weight), so for items
/// the user has not rated negatively `total` is their sum.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scores {
    pub collaborative: f32,
    pub content: f32,
    pub popular: f32,
    pub total: f32,
}

impl Scores {
    /// The component that contributed most to `total` (weights applied);
    /// ties go to collaborative, then content.
    pub fn reason(&self) -> Reason {
        let mut best = (Reason::Collaborative, self.collaborative);
        for candidate in [
            (Reason::Content, self.content),
            (Reason::Popular, self.popular),
        ] {
            if candidate.1 > best.1 {
                best = candidate;
            }
        }
        best.0
    }
}

/// A trained ranking model; immutable, `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Ranker {
    cfg: RankerConfig,
    n_items: usize,
    popularity: Vec<f32>,
    knn: ItemKnn,
    ease: Option<Ease>,
    content: ContentModel,
}

impl Ranker {
    /// Trains every component. `texts.len()` may be below `n_items` (the
    /// missing items have no text); extra texts are ignored.
    pub fn train(data: &TrainingData, texts: &[ItemText], cfg: &RankerConfig) -> Ranker {
        let started = Instant::now();
        let n = data.n_items;
        let (content, (pos, knn, ease)) = std::thread::scope(|s| {
            let content = s.spawn(|| ContentModel::build(texts, n));
            let pos = Positives::new(data);
            let knn = ItemKnn::build(&pos, cfg.knn_neighbours, cfg.knn_shrinkage);
            let ease = Ease::build(&pos, cfg.ease_lambda, cfg.ease_max_items);
            let content = content
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            (content, (pos, knn, ease))
        });
        let mut popularity = vec![0f32; n];
        for row in &data.rows {
            for &(i, w) in row {
                if let Some(p) = popularity.get_mut(i as usize)
                    && w.is_finite()
                {
                    *p += w;
                }
            }
        }
        popularity.iter_mut().for_each(|p| *p = p.max(0.0));
        tracing::debug!(
            items = n,
            users = pos.n_users(),
            ease = ease.is_some(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "ranker trained"
        );
        Ranker {
            cfg: cfg.clone(),
            n_items: n,
            popularity,
            knn,
            ease,
            content,
        }
    }

    pub fn n_items(&self) -> usize {
        self.n_items
    }

    /// Whether the collaborative component uses EASE (else ItemKNN).
    pub fn ease_enabled(&self) -> bool {
        self.ease.is_some()
    }

    /// The configuration the model was trained with.
    pub fn config(&self) -> &RankerConfig {
        &self.cfg
    }

    /// Blended scores of every item (len n_items) for a user's signed
    /// history (may be empty => popularity + nothing else).
    ///
    /// Items in the history keep their blended score (the caller excludes
    /// them), except that items with a negative weight are pushed below
    /// every other item.
    pub fn score_user(&self, history: &[(u32, f32)]) -> Vec<Scores> {
        self.score_user_with(history, &self.cfg)
    }

    /// [`Ranker::score_user`] with the blend fields
    /// (`collaborative_knn_share`, `weight_*`) of `blend` instead of the
    /// trained configuration's; the model fields of `blend` are ignored.
    /// Serving always goes through `score_user`; this exists for tuning.
    pub(crate) fn score_user_with(
        &self,
        history: &[(u32, f32)],
        blend: &RankerConfig,
    ) -> Vec<Scores> {
        let n = self.n_items;
        let history: Vec<(u32, f32)> = history
            .iter()
            .copied()
            .filter(|&(i, w)| (i as usize) < n && w.is_finite() && w != 0.0)
            .collect();
        let mut seen = vec![false; n];
        for &(i, _) in &history {
            seen[i as usize] = true;
        }
        let weight = |w: f32| if w.is_finite() { w } else { 0.0 };
        let (wc, wt, wp) = (
            weight(blend.weight_collaborative),
            weight(blend.weight_content),
            weight(blend.weight_popular),
        );

        let mut collaborative = vec![0f32; n];
        if wc != 0.0 && !history.is_empty() {
            let share = if blend.collaborative_knn_share.is_finite() {
                blend.collaborative_knn_share.clamp(0.0, 1.0)
            } else {
                0.0
            };
            match &self.ease {
                Some(ease) if share < 1.0 => {
                    ease.score(&history, &mut collaborative);
                    normalise(&mut collaborative, &seen);
                    if share > 0.0 {
                        let mut knn = vec![0f32; n];
                        self.knn.score(&history, &mut knn);
                        normalise(&mut knn, &seen);
                        for (c, k) in collaborative.iter_mut().zip(&knn) {
                            *c = (1.0 - share) * *c + share * k;
                        }
                    }
                }
                _ => {
                    self.knn.score(&history, &mut collaborative);
                    normalise(&mut collaborative, &seen);
                }
            }
        }

        let mut content = vec![0f32; n];
        if wt != 0.0 && !history.is_empty() {
            let profile = self.content.profile(&history);
            self.content.dot_all(&profile, &mut content);
            normalise(&mut content, &seen);
        }

        let mut popular = if wp != 0.0 {
            self.popularity.clone()
        } else {
            vec![0f32; n]
        };
        normalise(&mut popular, &seen);

        let mut scores: Vec<Scores> = (0..n)
            .map(|i| {
                let (c, t, p) = (wc * collaborative[i], wt * content[i], wp * popular[i]);
                Scores {
                    collaborative: c,
                    content: t,
                    popular: p,
                    total: c + t + p,
                }
            })
            .collect();

        // Negative feedback on an item itself: below everything else.
        if history.iter().any(|&(_, w)| w < 0.0) {
            let floor = scores.iter().map(|s| s.total).fold(0f32, f32::min);
            for &(i, w) in &history {
                if w < 0.0 {
                    scores[i as usize].total = floor - 1.0 - w.abs().min(1.0);
                }
            }
        }
        scores
    }

    /// Content-only scores (len n_items) of every item against a free-text
    /// query, in `[0, 1]` (TF-IDF cosine); all 0 when no query word is known.
    pub fn score_text(&self, text: &str) -> Vec<f32> {
        let query = self.content.vectorize(text);
        let mut out = vec![0f32; self.n_items];
        self.content.dot_all(&query, &mut out);
        out.iter_mut().for_each(|x| *x = x.clamp(0.0, 1.0));
        out
    }

    /// Items most similar to `item`, best first, excluding `item`: its
    /// ItemKNN neighbours (cosine with shrinkage) and its content cosine
    /// neighbours, each normalised by its best value and blended with the
    /// collaborative and content weights. Only items with a positive score
    /// are returned, at most `count`.
    pub fn similar(&self, item: u32, count: usize) -> Vec<(u32, f32, Reason)> {
        let n = self.n_items;
        let i = item as usize;
        if i >= n || count == 0 {
            return Vec::new();
        }
        let mut seen = vec![false; n];
        seen[i] = true;
        let mut wc = self.cfg.weight_collaborative.max(0.0);
        let mut wt = self.cfg.weight_content.max(0.0);
        if !(wc + wt > 0.0 && (wc + wt).is_finite()) {
            (wc, wt) = (1.0, 1.0);
        }

        let mut collaborative = vec![0f32; n];
        let (nb, sims) = self.knn.neighbours(i);
        for (&j, &s) in nb.iter().zip(sims) {
            collaborative[j as usize] = s;
        }
        collaborative[i] = 0.0;
        normalise(&mut collaborative, &seen);

        let mut content = vec![0f32; n];
        let (terms, weights) = self.content.item_vector(i);
        let query: Vec<(u32, f32)> = terms.iter().copied().zip(weights.iter().copied()).collect();
        self.content.dot_all(&query, &mut content);
        content[i] = 0.0;
        normalise(&mut content, &seen);

        let mut out: Vec<(u32, f32, Reason)> = (0..n)
            .filter(|&j| j != i)
            .filter_map(|j| {
                let (c, t) = (wc * collaborative[j], wt * content[j]);
                let total = c + t;
                let reason = if c >= t {
                    Reason::Collaborative
                } else {
                    Reason::Content
                };
                (total > 0.0 && total.is_finite()).then_some((j as u32, total, reason))
            })
            .collect();
        let order = |a: &(u32, f32, Reason), b: &(u32, f32, Reason)| {
            b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
        };
        if out.len() > count {
            out.select_nth_unstable_by(count, order);
            out.truncate(count);
        }
        out.sort_unstable_by(order);
        out
    }
}

/// Divides `v` by its largest positive value over the items not `seen`;
/// when there is none, by its largest absolute value (so an all-negative
/// component keeps its sign); leaves an all-zero component alone.
fn normalise(v: &mut [f32], seen: &[bool]) {
    let max = v
        .iter()
        .zip(seen)
        .filter(|&(x, &s)| !s && x.is_finite())
        .map(|(&x, _)| x)
        .fold(0f32, f32::max);
    let scale = if max > 0.0 {
        max
    } else {
        v.iter()
            .filter(|x| x.is_finite())
            .map(|x| x.abs())
            .fold(0f32, f32::max)
    };
    if scale > 0.0 {
        v.iter_mut()
            .for_each(|x| *x = if x.is_finite() { *x / scale } else { 0.0 });
    }
}

/// Threads for training work: the machine's parallelism, at most 8.
pub(crate) fn worker_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, 8)
}

/// The positive interactions as binary CSR both ways (sorted, deduplicated).
#[derive(Clone, Debug, Default)]
pub(crate) struct Positives {
    n_items: usize,
    user_ptr: Vec<usize>,
    user_items: Vec<u32>,
    item_ptr: Vec<usize>,
    item_users: Vec<u32>,
}

impl Positives {
    pub(crate) fn new(data: &TrainingData) -> Self {
        let n = data.n_items;
        let mut user_ptr = Vec::with_capacity(data.rows.len() + 1);
        user_ptr.push(0);
        let mut user_items: Vec<u32> = Vec::new();
        let mut item_counts = vec![0usize; n + 1];
        for row in &data.rows {
            let start = user_items.len();
            user_items.extend(
                row.iter()
                    .filter(|&&(i, w)| (i as usize) < n && w > 0.0 && w.is_finite())
                    .map(|&(i, _)| i),
            );
            user_items[start..].sort_unstable();
            let mut kept = start;
            for k in start..user_items.len() {
                if k == start || user_items[k] != user_items[kept - 1] {
                    user_items[kept] = user_items[k];
                    kept += 1;
                }
            }
            user_items.truncate(kept);
            for &i in &user_items[start..] {
                item_counts[i as usize + 1] += 1;
            }
            user_ptr.push(user_items.len());
        }
        for i in 0..n {
            item_counts[i + 1] += item_counts[i];
        }
        let item_ptr = item_counts;
        let mut fill = item_ptr.clone();
        let mut item_users = vec![0u32; user_items.len()];
        for u in 0..data.rows.len() {
            for &i in &user_items[user_ptr[u]..user_ptr[u + 1]] {
                item_users[fill[i as usize]] = u as u32;
                fill[i as usize] += 1;
            }
        }
        Positives {
            n_items: n,
            user_ptr,
            user_items,
            item_ptr,
            item_users,
        }
    }

    pub(crate) fn n_items(&self) -> usize {
        self.n_items
    }

    pub(crate) fn n_users(&self) -> usize {
        self.user_ptr.len().saturating_sub(1)
    }

    /// Users with positive feedback on item `i`, ascending.
    pub(crate) fn users_of(&self, i: usize) -> &[u32] {
        match (self.item_ptr.get(i), self.item_ptr.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.item_users[a..b],
            _ => &[],
        }
    }

    /// Items user `u` gave positive feedback, ascending.
    pub(crate) fn items_of(&self, u: usize) -> &[u32] {
        match (self.user_ptr.get(u), self.user_ptr.get(u + 1)) {
            (Some(&a), Some(&b)) => &self.user_items[a..b],
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(title: &str, tags: &[&str]) -> ItemText {
        ItemText {
            title: title.into(),
            body: String::new(),
            tags: tags.iter().map(|t| (*t).into()).collect(),
        }
    }

    /// Two taste clusters: items 0..3 (liked together) and 3..6; item 6 is
    /// brand new (no interactions) and item 7 has neither text nor feedback.
    fn clustered() -> (TrainingData, Vec<ItemText>) {
        let mut rows = Vec::new();
        for u in 0..6u32 {
            rows.push(
                vec![(0, 1.0), (1, 1.0), (2, 1.0)]
                    .into_iter()
                    .filter(|&(i, _)| i != u % 3)
                    .collect(),
            );
            rows.push(
                vec![(3, 1.0), (4, 1.0), (5, 1.0)]
                    .into_iter()
                    .filter(|&(i, _)| i != 3 + u % 3)
                    .collect(),
            );
        }
        let texts = vec![
            text("space opera", &["scifi"]),
            text("robot uprising", &["scifi"]),
            text("alien planet", &["scifi"]),
            text("wedding comedy", &["romance"]),
            text("paris love story", &["romance"]),
            text("summer romance", &["romance"]),
            text("galactic alien space war", &["scifi"]),
        ];
        (TrainingData { n_items: 8, rows }, texts)
    }

    fn configs() -> Vec<RankerConfig> {
        vec![
            RankerConfig::default(),
            RankerConfig {
                ease_max_items: 0,
                ..RankerConfig::default()
            },
            RankerConfig {
                collaborative_knn_share: 0.5,
                weight_content: 0.3,
                ..RankerConfig::default()
            },
        ]
    }

    #[test]
    fn ranker_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Ranker>();
    }

    #[test]
    fn empty_inputs_do_not_panic() {
        for cfg in configs() {
            // No users, no items.
            let r = Ranker::train(&TrainingData::default(), &[], &cfg);
            assert_eq!(r.n_items(), 0);
            assert!(!r.ease_enabled());
            assert!(r.score_user(&[]).is_empty());
            assert!(r.score_user(&[(3, 1.0)]).is_empty());
            assert!(r.score_text("anything").is_empty());
            assert!(r.similar(0, 10).is_empty());

            // Items but no users or feedback; more texts than items.
            let texts = vec![
                text("a title", &[]),
                text("b", &[]),
                text("c", &[]),
                text("extra", &[]),
            ];
            let r = Ranker::train(
                &TrainingData {
                    n_items: 3,
                    rows: vec![],
                },
                &texts,
                &cfg,
            );
            let s = r.score_user(&[]);
            assert_eq!(s.len(), 3);
            assert!(s.iter().all(|s| s.total == 0.0));
            assert_eq!(r.score_text("").len(), 3);
            assert!(r.similar(1, 5).is_empty());

            // Users with empty histories, garbage in the history.
            let r = Ranker::train(
                &TrainingData {
                    n_items: 2,
                    rows: vec![vec![], vec![(0, 1.0), (0, 1.0), (9, 1.0), (1, f32::NAN)]],
                },
                &[],
                &cfg,
            );
            let s = r.score_user(&[(7, 1.0), (0, f32::INFINITY)]);
            assert_eq!(s.len(), 2);
            assert!(s.iter().all(|s| s.total.is_finite()));
            assert!(
                s[0].total > s[1].total,
                "popularity orders an empty history"
            );
            assert_eq!(s[0].reason(), Reason::Popular);
            assert!(r.similar(0, 0).is_empty());
        }
    }

    #[test]
    fn popularity_is_net_positive_feedback_floored_at_zero() {
        let data = TrainingData {
            n_items: 3,
            rows: vec![
                vec![(0, 2.0), (1, -1.0)],
                vec![(0, -1.0), (1, -1.0), (2, 0.5)],
            ],
        };
        let r = Ranker::train(&data, &[], &RankerConfig::default());
        assert_eq!(r.popularity, [1.0, 0.0, 0.5]);
    }

    #[test]
    fn collaborative_scores_follow_the_taste_cluster() {
        let (data, texts) = clustered();
        for cfg in configs() {
            let r = Ranker::train(&data, &texts, &cfg);
            assert_eq!(r.ease_enabled(), cfg.ease_max_items > 0);
            let s = r.score_user(&[(0, 1.0), (1, 1.0)]);
            assert!(s[2].total > s[3].total && s[2].total > s[4].total);
            assert_eq!(s[2].reason(), Reason::Collaborative);
        }
    }

    #[test]
    fn negative_feedback_lowers_similar_items_and_the_item_itself_below_neutral() {
        let (data, texts) = clustered();
        for cfg in configs() {
            let r = Ranker::train(&data, &texts, &cfg);
            let neutral = r.score_user(&[]);
            let s = r.score_user(&[(0, -1.0)]);
            // Items like the disliked one drop below their neutral score and
            // below the equally popular items of the other cluster.
            for similar in [1, 2] {
                assert!(s[similar].total < neutral[similar].total);
                assert!(s[similar].total < s[4].total);
            }
            // The disliked item itself is below everything, including the
            // items nobody has any signal about.
            for other in 1..8 {
                assert!(s[0].total < s[other].total, "item 0 vs {other}");
            }
            assert!(s[0].total < neutral[7].total);

            // A dislike inside a liking history still sinks the item.
            let s = r.score_user(&[(1, 1.0), (0, -1.0)]);
            assert!((2..8).all(|o| s[0].total < s[o].total));
            let mixed = r.score_user(&[(1, 1.0)]);
            assert!(s[2].total < mixed[2].total);
        }
    }

    #[test]
    fn untouched_item_with_matching_text_gets_content_score_and_outranks_unrelated_items() {
        let (data, texts) = clustered();
        let cfg = RankerConfig {
            weight_content: 0.5,
            ..RankerConfig::default()
        };
        let r = Ranker::train(&data, &texts, &cfg);
        let s = r.score_user(&[(0, 1.0), (2, 1.0)]);
        assert!(s[6].content > 0.0, "new item gets a content score");
        assert_eq!(s[6].collaborative, 0.0);
        // Beats the (more popular) items of the other cluster.
        for unrelated in [3, 4, 5] {
            assert!(s[6].total > s[unrelated].total);
        }
        assert_eq!(s[6].reason(), Reason::Content);
        // Also through free text, and as a similar item.
        let t = r.score_text("alien space");
        assert!(t[6] > 0.0 && t[6] <= 1.0);
        assert!(t.iter().all(|&x| (0.0..=1.0).contains(&x)));
        assert_eq!(t[3], 0.0);
        let sim = r.similar(0, 10);
        assert!(
            sim.iter()
                .any(|&(j, _, why)| j == 6 && why == Reason::Content)
        );
    }

    #[test]
    fn similar_items_are_best_first_and_exclude_the_item() {
        let (data, texts) = clustered();
        let r = Ranker::train(&data, &texts, &RankerConfig::default());
        // Only the other romance items share either signal with item 3.
        let sim = r.similar(3, 10);
        assert_eq!(sim.len(), 2);
        assert!(
            sim.iter()
                .all(|&(j, score, _)| (j == 4 || j == 5) && score > 0.0)
        );
        assert!(sim.windows(2).all(|w| w[0].1 >= w[1].1));
        assert_eq!(sim[0].2, Reason::Collaborative);
        // Item 0 has three scifi items alike in text and two in taste;
        // `count` truncates.
        let sim = r.similar(0, 2);
        assert_eq!(sim.len(), 2);
        assert!(sim.iter().all(|&(j, _, _)| j == 1 || j == 2));
        assert!(r.similar(99, 3).is_empty());
    }

    #[test]
    fn reason_is_the_largest_weighted_component() {
        let s = Scores {
            collaborative: 0.2,
            content: 0.3,
            popular: 0.1,
            total: 0.6,
        };
        assert_eq!(s.reason(), Reason::Content);
        assert_eq!(Scores::default().reason(), Reason::Collaborative);
    }

    #[test]
    fn config_deserialises_with_defaults_and_rejects_unknown_fields() {
        let cfg: RankerConfig = serde_json::from_str(r#"{"ease_lambda": 42.0}"#).unwrap();
        assert_eq!(cfg.ease_lambda, 42.0);
        assert_eq!(cfg.knn_neighbours, RankerConfig::default().knn_neighbours);
        assert!(serde_json::from_str::<RankerConfig>(r#"{"nope": 1}"#).is_err());
    }
}
