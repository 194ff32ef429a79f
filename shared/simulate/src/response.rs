//! How a simulated user responds to an item, judged by meaning: the
//! cosine between the item's sentence embedding and the embeddings of the
//! topics the user likes or dislikes (so an item written a moment ago is
//! judged like any other), plus how well its tone suits the user.
//!
//! The raw affinity is standardised over random (user, item) pairs, and
//! the probabilities are fitted so that:
//! - a random item is clicked at `base_click` (an assumption the study
//!   reports, not a measured rate);
//! - the ratings users give to the items they read follow the MovieLens
//!   100K rating distribution (ratings there, too, are given to what users
//!   chose to watch). A rating of 0 means the user objects: the item is
//!   about a topic they dislike.

use crate::error::SimError;
use crate::population::{Tone, User};
use crate::rng::Rng;

/// What a user asked for in words during a session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Wish {
    /// Topic indices the user asked for more of.
    pub more: Vec<usize>,
    /// Topic indices the user asked for less of.
    pub less: Vec<usize>,
    /// A tone the user asked for.
    pub tone: Option<Tone>,
    /// A change to one item shown (its index in the feed the user spoke
    /// after): a new telling of it in `tone`, or a shorter one.
    pub change: Option<usize>,
    /// With `change`: the user asked for it shorter.
    pub shorter: bool,
}

impl Wish {
    pub fn is_empty(&self) -> bool {
        self.more.is_empty() && self.less.is_empty() && self.tone.is_none() && self.change.is_none()
    }
}

/// The distribution of explicit ratings 1 to 5 in a real log.
#[derive(Clone, Debug, PartialEq)]
pub struct RatingScale {
    counts: [u64; 5],
}

impl RatingScale {
    /// Reads a MovieLens ratings file: `u.data` (user, item, rating,
    /// timestamp; tab-separated) or the same with a header line (the
    /// `.inter` files of RecBole's copy).
    pub fn parse_movielens(text: &str) -> Result<RatingScale, SimError> {
        let mut counts = [0u64; 5];
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || (n == 0 && line.contains(':')) {
                continue;
            }
            let field = line.split('\t').nth(2).ok_or_else(|| {
                SimError::Data(format!("ratings line {}: fewer than 3 fields", n + 1))
            })?;
            let r: f64 = field.trim().parse().map_err(|_| {
                SimError::Data(format!(
                    "ratings line {}: rating {field:?} is not a number",
                    n + 1
                ))
            })?;
            if !(1.0..=5.0).contains(&r) {
                return Err(SimError::Data(format!(
                    "ratings line {}: rating {r} is outside 1 to 5",
                    n + 1
                )));
            }
            counts[r.round() as usize - 1] += 1;
        }
        if counts.iter().sum::<u64>() == 0 {
            return Err(SimError::Data("the ratings file holds no ratings".into()));
        }
        Ok(RatingScale { counts })
    }

    pub fn from_counts(counts: [u64; 5]) -> Result<RatingScale, SimError> {
        if counts.iter().sum::<u64>() == 0 {
            return Err(SimError::Data("no ratings".into()));
        }
        Ok(RatingScale { counts })
    }

    /// The share of each rating, 1 to 5.
    pub fn shares(&self) -> [f64; 5] {
        let total = self.counts.iter().sum::<u64>() as f64;
        self.counts.map(|c| c as f64 / total)
    }

    pub fn mean(&self) -> f64 {
        let s = self.shares();
        (0..5).map(|i| (i + 1) as f64 * s[i]).sum()
    }

    /// The rating at cumulative share `p` in [0, 1].
    pub fn quantile(&self, p: f64) -> u8 {
        let mut acc = 0.0;
        for (i, s) in self.shares().iter().enumerate() {
            acc += s;
            if p < acc {
                return (i + 1) as u8;
            }
        }
        5
    }
}

/// An item as a user perceives it.
#[derive(Clone, Copy, Debug)]
pub struct ItemView<'a> {
    /// Its sentence embedding (unit length).
    pub vector: &'a [f32],
    /// Its tone, -1 distressing to 1 cheerful.
    pub valence: f32,
}

/// One user's response to one item shown.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Response {
    pub clicked: bool,
    /// Share of the item read or watched (0 when not clicked).
    pub read_ratio: f32,
    pub liked: bool,
    /// 0 to 5, when the user rated it.
    pub rating: Option<u8>,
    /// The standardised affinity the response was drawn from.
    pub affinity: f32,
}

impl Response {
    pub fn completed(&self) -> bool {
        self.clicked && self.read_ratio >= 0.9
    }

    pub fn skipped(&self) -> bool {
        !self.clicked
    }

    /// Whether the item satisfied the user (read at least half).
    pub fn hit(&self) -> bool {
        self.clicked && self.read_ratio >= 0.5
    }
}

/// The fitted constants of the feedback model.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// Mean and standard deviation of raw affinity over random pairs.
    pub mean: f32,
    pub sd: f32,
    /// Click probability: sigmoid(click_bias + CLICK_SLOPE * z).
    pub click_bias: f64,
    /// Sorted standardised affinities of sampled clicks, for the rating
    /// quantiles.
    clicked_z: Vec<f32>,
    /// Cosine at or above which an item is about a topic (the 95th
    /// percentile over random topic-item pairs).
    pub topic_threshold: f32,
    pub scale: RatingScale,
    pub base_click: f64,
}

/// Slope of the click probability in standardised affinity.
const CLICK_SLOPE: f64 = 1.5;
/// Chance a user who read an item rates it.
const RATE_CHANCE: f64 = 0.3;

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
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

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Raw affinity of `user` (with what they asked for this session) for an
/// item: how near it is to the topics they like, weighted, less how near
/// it is to the ones they dislike or asked to see less of, plus its tone's
/// fit.
pub fn affinity(user: &User, wish: Option<&Wish>, topics: &[Vec<f32>], item: ItemView<'_>) -> f32 {
    let top = user
        .likes
        .iter()
        .map(|(_, w)| *w)
        .fold(0.0f32, f32::max)
        .max(1e-6);
    let mut like = user
        .likes
        .iter()
        .map(|(t, w)| cosine(&topics[*t], item.vector) * (0.7 + 0.3 * w / top))
        .fold(f32::MIN, f32::max);
    let mut dislike = user
        .dislikes
        .iter()
        .map(|t| cosine(&topics[*t], item.vector))
        .fold(0.0f32, f32::max);
    let mut tone = user.tone;
    if let Some(w) = wish {
        for t in &w.more {
            like = like.max(cosine(&topics[*t], item.vector));
        }
        for t in &w.less {
            dislike = dislike.max(cosine(&topics[*t], item.vector));
        }
        tone = w.tone.unwrap_or(tone);
    }
    like - 0.6 * dislike + 0.15 * tone.fit(item.valence)
}

impl Calibration {
    /// A model not yet fitted to a population: no clicks sampled, no item
    /// counts as on a topic. [`Calibration::fit`] replaces it.
    pub fn from_scale(scale: RatingScale, base_click: f64) -> Calibration {
        Calibration {
            mean: 0.0,
            sd: 1.0,
            click_bias: 0.0,
            clicked_z: Vec::new(),
            topic_threshold: 1.0,
            scale,
            base_click,
        }
    }

    /// Fits the model's constants on `samples` random (user, item) pairs.
    pub fn fit(
        users: &[User],
        topics: &[Vec<f32>],
        items: &[ItemView<'_>],
        scale: RatingScale,
        base_click: f64,
        samples: usize,
        seed: u64,
    ) -> Result<Calibration, SimError> {
        if users.is_empty() || items.is_empty() || topics.is_empty() {
            return Err(SimError::Data(
                "calibration needs users, items and topics".into(),
            ));
        }
        if !(0.01..=0.99).contains(&base_click) {
            return Err(SimError::Data(format!(
                "base click rate {base_click} is outside 0.01 to 0.99"
            )));
        }
        let mut rng = Rng::derive(seed, &[0xca1]);
        let raw: Vec<f32> = (0..samples.max(100))
            .map(|_| affinity(rng.pick(users), None, topics, *rng.pick(items)))
            .collect();
        let mean = raw.iter().sum::<f32>() / raw.len() as f32;
        let var = raw.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / raw.len() as f32;
        let sd = var.sqrt().max(1e-6);
        let z: Vec<f64> = raw.iter().map(|x| f64::from((x - mean) / sd)).collect();
        // Bisection for the bias that gives the base click rate.
        let (mut lo, mut hi) = (-20.0f64, 20.0f64);
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            let rate = z
                .iter()
                .map(|z| sigmoid(mid + CLICK_SLOPE * z))
                .sum::<f64>()
                / z.len() as f64;
            if rate < base_click {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let click_bias = (lo + hi) / 2.0;
        let mut clicked_z: Vec<f32> = z
            .iter()
            .filter(|z| rng.chance(sigmoid(click_bias + CLICK_SLOPE * **z)))
            .map(|z| *z as f32)
            .collect();
        clicked_z.sort_by(f32::total_cmp);
        let mut cos: Vec<f32> = (0..samples.max(100))
            .map(|_| {
                let t: &Vec<f32> = rng.pick(topics);
                cosine(t, rng.pick(items).vector)
            })
            .collect();
        cos.sort_by(f32::total_cmp);
        let topic_threshold = cos[(cos.len() * 95 / 100).min(cos.len() - 1)];
        Ok(Calibration {
            mean,
            sd,
            click_bias,
            clicked_z,
            topic_threshold,
            scale,
            base_click,
        })
    }

    pub fn standardise(&self, raw: f32) -> f32 {
        (raw - self.mean) / self.sd
    }

    /// Share of sampled clicks with a lower standardised affinity.
    fn clicked_rank(&self, z: f32) -> f64 {
        if self.clicked_z.is_empty() {
            return 0.5;
        }
        self.clicked_z.partition_point(|x| *x < z) as f64 / self.clicked_z.len() as f64
    }

    /// Whether an item is about a topic.
    pub fn about(&self, topic: &[f32], item: &[f32]) -> bool {
        cosine(topic, item) >= self.topic_threshold
    }

    /// Draws `user`'s response to `item`.
    pub fn respond(
        &self,
        user: &User,
        wish: Option<&Wish>,
        topics: &[Vec<f32>],
        item: ItemView<'_>,
        rng: &mut Rng,
    ) -> Response {
        let z = self.standardise(affinity(user, wish, topics, item));
        let clicked = rng.chance(sigmoid(self.click_bias + CLICK_SLOPE * f64::from(z)));
        if !clicked {
            return Response {
                clicked,
                read_ratio: 0.0,
                liked: false,
                rating: None,
                affinity: z,
            };
        }
        let rank = self.clicked_rank(z);
        let read_ratio = (0.15 + 0.85 * rank + 0.12 * rng.normal()).clamp(0.02, 1.0) as f32;
        let liked = rng.chance(0.6 * sigmoid(4.0 * (rank - 0.8)));
        let rating = rng.chance(RATE_CHANCE).then(|| {
            let objects = user
                .dislikes
                .iter()
                .chain(wish.map(|w| w.less.as_slice()).unwrap_or_default())
                .any(|t| self.about(&topics[*t], item.vector));
            if objects {
                0
            } else {
                let r = f64::from(self.scale.quantile(rank)) + user.leniency + 0.5 * rng.normal();
                r.round().clamp(1.0, 5.0) as u8
            }
        });
        Response {
            clicked,
            read_ratio,
            liked,
            rating,
            affinity: z,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::{PopulationOptions, generate};
    use crate::topics::{Topic, TopicKind};

    const ML_100K: [u64; 5] = [6110, 11370, 27145, 34174, 21201];

    /// Random unit vectors in 16 dimensions.
    fn vectors(n: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|_| {
                let v: Vec<f32> = (0..16).map(|_| rng.normal() as f32).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.into_iter().map(|x| x / norm).collect()
            })
            .collect()
    }

    fn world() -> (Vec<User>, Vec<Vec<f32>>, Vec<Vec<f32>>) {
        let topics: Vec<Topic> = (0..30)
            .map(|i| Topic {
                phrase: format!("t{i}"),
                kind: TopicKind::Phrase,
                items: 10,
            })
            .collect();
        let users = generate(&topics, &PopulationOptions::default());
        (users, vectors(30, 1), vectors(400, 2))
    }

    #[test]
    fn movielens_ratings_are_read_and_bad_lines_named() {
        let scale = RatingScale::parse_movielens(
            "user_id:token\titem_id:token\trating:float\n1\t2\t3\t0\n1\t3\t5\t0\n",
        )
        .unwrap();
        assert_eq!(scale.shares(), [0.0, 0.0, 0.5, 0.0, 0.5]);
        assert_eq!(scale.quantile(0.2), 3);
        assert_eq!(scale.quantile(0.99), 5);
        let err = RatingScale::parse_movielens("1\t2\tseven\t0\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(RatingScale::parse_movielens("1\t2\t9\t0\n").is_err());
        assert!(RatingScale::parse_movielens("").is_err());
    }

    #[test]
    fn clicks_and_ratings_on_random_items_match_the_calibration() {
        let (users, topics, items) = world();
        let views: Vec<ItemView<'_>> = items
            .iter()
            .enumerate()
            .map(|(i, v)| ItemView {
                vector: v,
                valence: ((i % 7) as f32 - 3.0) / 3.0,
            })
            .collect();
        let scale = RatingScale::from_counts(ML_100K).unwrap();
        let cal =
            Calibration::fit(&users, &topics, &views, scale.clone(), 0.25, 20_000, 3).unwrap();
        let mut rng = Rng::new(9);
        let (mut clicks, mut n, mut ratings) = (0usize, 0usize, [0usize; 6]);
        for _ in 0..40_000 {
            let user = rng.pick(&users);
            let r = cal.respond(user, None, &topics, *rng.pick(&views), &mut rng);
            n += 1;
            clicks += usize::from(r.clicked);
            if let Some(x) = r.rating {
                ratings[x as usize] += 1;
            }
        }
        let rate = clicks as f64 / n as f64;
        assert!((rate - 0.25).abs() < 0.02, "click rate {rate}");
        let given: usize = ratings[1..].iter().sum();
        let mean = (1..6).map(|i| i as f64 * ratings[i] as f64).sum::<f64>() / given as f64;
        assert!(
            (mean - scale.mean()).abs() < 0.2,
            "mean rating {mean} vs {}",
            scale.mean()
        );
    }

    #[test]
    fn an_item_near_a_liked_topic_does_better_than_one_near_a_disliked_topic() {
        let (users, topics, items) = world();
        let user = users.iter().find(|u| !u.dislikes.is_empty()).unwrap();
        let views: Vec<ItemView<'_>> = items
            .iter()
            .map(|v| ItemView {
                vector: v,
                valence: 0.0,
            })
            .collect();
        let cal = Calibration::fit(
            &users,
            &topics,
            &views,
            RatingScale::from_counts(ML_100K).unwrap(),
            0.25,
            5_000,
            3,
        )
        .unwrap();
        let liked = ItemView {
            vector: &topics[user.likes[0].0],
            valence: 0.0,
        };
        let disliked = ItemView {
            vector: &topics[user.dislikes[0]],
            valence: 0.0,
        };
        let mut rng = Rng::new(4);
        let score = |item, rng: &mut Rng| {
            (0..2000)
                .filter(|_| cal.respond(user, None, &topics, item, rng).hit())
                .count()
        };
        assert!(score(liked, &mut rng) > score(disliked, &mut rng) * 2);
        // Asking for less of the liked topic turns it down.
        let wish = Wish {
            less: vec![user.likes[0].0],
            ..Wish::default()
        };
        let asked = affinity(user, Some(&wish), &topics, liked);
        assert!(asked < affinity(user, None, &topics, liked));
        // A rating of a disliked item is 0.
        let rated: Vec<u8> = (0..3000)
            .filter_map(|_| cal.respond(user, None, &topics, disliked, &mut rng).rating)
            .collect();
        assert!(
            !rated.is_empty() && rated.iter().all(|r| *r == 0),
            "{rated:?}"
        );
    }
}
