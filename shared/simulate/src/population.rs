//! A seeded population of users: what each cares about (topics drawn from
//! the corpus, more often the ones the corpus holds more of), what each
//! would rather not see, the tone each prefers, how many misses each
//! bears before speaking up or leaving, how readily each says what they
//! want in words, how carefully each types, and how generous each is with
//! ratings.

use crate::rng::Rng;
use crate::topics::Topic;

/// The tone a user prefers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tone {
    /// Would rather not read distressing news.
    Calm,
    /// No preference.
    Any,
    /// Likes good news.
    Upbeat,
}

impl Tone {
    pub fn as_str(self) -> &'static str {
        match self {
            Tone::Calm => "calm",
            Tone::Any => "any",
            Tone::Upbeat => "upbeat",
        }
    }

    /// How well an item of `valence` (-1 distressing .. 1 cheerful) suits
    /// this tone, in [-1, 1].
    pub fn fit(self, valence: f32) -> f32 {
        match self {
            Tone::Calm => -(-valence).max(0.0),
            Tone::Any => 0.0,
            Tone::Upbeat => valence,
        }
    }
}

/// One simulated user.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: String,
    /// Indices into the topic list, with weights summing to 1.
    pub likes: Vec<(usize, f32)>,
    /// Topics the user would rather not see.
    pub dislikes: Vec<usize>,
    pub tone: Tone,
    /// Misses in a row the user bears before speaking up or leaving.
    pub patience: u32,
    /// Chance the user says what they want in words when patience runs out
    /// (instead of leaving).
    pub speaks: f64,
    /// Chance each word the user types has a typo.
    pub typo_rate: f64,
    /// Added to every rating the user gives, before rounding.
    pub leniency: f64,
}

/// The shape of a population.
#[derive(Clone, Debug)]
pub struct PopulationOptions {
    pub users: usize,
    pub seed: u64,
    /// Most topics one user likes.
    pub max_likes: usize,
    /// Chance a user has a topic they dislike.
    pub dislike_chance: f64,
}

impl Default for PopulationOptions {
    fn default() -> Self {
        PopulationOptions {
            users: 500,
            seed: 1,
            max_likes: 3,
            dislike_chance: 0.5,
        }
    }
}

/// Draws the population. Topics are drawn with probability proportional
/// to the square root of how many items hold them, so common topics have
/// more fans without the rare ones having none. Empty when there are no
/// topics.
pub fn generate(topics: &[Topic], options: &PopulationOptions) -> Vec<User> {
    if topics.is_empty() {
        return Vec::new();
    }
    let weights: Vec<f64> = topics.iter().map(|t| (t.items as f64).sqrt()).collect();
    (0..options.users)
        .map(|n| user(n, topics.len(), &weights, options))
        .collect()
}

fn user(n: usize, topics: usize, weights: &[f64], options: &PopulationOptions) -> User {
    let mut rng = Rng::derive(options.seed, &[0x5eed, n as u64]);
    let wanted = 1 + rng.below(options.max_likes.max(1));
    let mut likes: Vec<(usize, f32)> = Vec::new();
    let mut left = weights.to_vec();
    while likes.len() < wanted.min(topics) {
        let t = rng.weighted(&left);
        left[t] = 0.0;
        // Exponential draws, normalised below: a flat Dirichlet.
        likes.push((t, -(rng.unit().max(1e-9)).ln() as f32));
    }
    let total: f32 = likes.iter().map(|(_, w)| w).sum();
    for (_, w) in &mut likes {
        *w /= total;
    }
    let mut dislikes = Vec::new();
    if rng.chance(options.dislike_chance) && left.iter().any(|w| *w > 0.0) {
        dislikes.push(rng.weighted(&left));
    }
    let tone = match rng.below(10) {
        0..=2 => Tone::Calm,
        3..=7 => Tone::Any,
        _ => Tone::Upbeat,
    };
    // A third of users hardly ever speak; the rest anywhere in between.
    let speaks = if rng.chance(1.0 / 3.0) {
        0.05
    } else {
        rng.uniform(0.3, 0.95)
    };
    User {
        id: format!("sim-{n:04}"),
        likes,
        dislikes,
        tone,
        patience: 2 + rng.below(5) as u32,
        speaks,
        typo_rate: if rng.chance(0.5) {
            0.0
        } else {
            rng.uniform(0.01, 0.08)
        },
        leniency: 0.4 * rng.normal(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topics::TopicKind;

    fn topics(n: usize) -> Vec<Topic> {
        (0..n)
            .map(|i| Topic {
                phrase: format!("topic {i}"),
                kind: TopicKind::Phrase,
                items: 1 + i * i,
            })
            .collect()
    }

    #[test]
    fn a_seed_gives_one_population_and_another_seed_another() {
        let t = topics(50);
        let a = generate(&t, &PopulationOptions::default());
        let b = generate(&t, &PopulationOptions::default());
        assert_eq!(a, b);
        assert_eq!(a.len(), 500);
        let c = generate(
            &t,
            &PopulationOptions {
                seed: 2,
                ..PopulationOptions::default()
            },
        );
        assert_ne!(a, c);
    }

    #[test]
    fn users_are_well_formed_and_varied() {
        let t = topics(50);
        let users = generate(&t, &PopulationOptions::default());
        for u in &users {
            assert!(!u.likes.is_empty() && u.likes.len() <= 3);
            let total: f32 = u.likes.iter().map(|(_, w)| w).sum();
            assert!((total - 1.0).abs() < 1e-4);
            assert!(
                u.dislikes
                    .iter()
                    .all(|d| !u.likes.iter().any(|(l, _)| l == d))
            );
            assert!((2..=6).contains(&u.patience));
        }
        let tones: std::collections::HashSet<Tone> = users.iter().map(|u| u.tone).collect();
        assert_eq!(tones.len(), 3);
        // Common topics have more fans than rare ones.
        let fans = |i: usize| {
            users
                .iter()
                .filter(|u| u.likes.iter().any(|(t, _)| *t == i))
                .count()
        };
        assert!(fans(49) > fans(1), "{} vs {}", fans(49), fans(1));
        assert!(generate(&[], &PopulationOptions::default()).is_empty());
    }
}
