//! Text features the feed rules and metrics compare items by: lower-cased
//! words (in-text marks removed first), word sets and word trigrams.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

/// Words read from a body for shingles; the rest is ignored (a copy shows
/// in its opening).
const MAX_BODY_WORDS: usize = 400;
/// Bytes of a body read for those words.
const MAX_BODY_BYTES: usize = 4_000;

/// Lower-cased alphanumeric words of `text`, with in-text marks removed.
pub fn words(text: &str) -> Vec<String> {
    generec_provenance::watermark::strip(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Jaccard similarity of two sets; 0 when both are empty.
pub fn jaccard<T: Eq + std::hash::Hash>(a: &HashSet<T>, b: &HashSet<T>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// The share of the smaller set that the other holds; 0 when either is
/// empty. Both are sorted without repeats, so one merge pass counts what
/// they share (the feed compares every pair it keeps, per request).
pub fn containment(a: &[u64], b: &[u64]) -> f64 {
    let smaller = a.len().min(b.len());
    if smaller == 0 {
        return 0.0;
    }
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared as f64 / smaller as f64
}

/// What the feed compares of one item.
#[derive(Clone, Debug, Default)]
pub struct Features {
    /// Title words.
    pub title: HashSet<String>,
    /// Title words and tags: what intra-list diversity compares.
    pub topics: HashSet<String>,
    /// Body word trigrams, hashed; sorted, without repeats.
    pub shingles: Vec<u64>,
}

impl Features {
    /// Reads the features of an item.
    pub fn of(title: &str, body: &str, tags: &[String]) -> Features {
        let title: HashSet<String> = words(title).into_iter().collect();
        let mut topics = title.clone();
        topics.extend(tags.iter().map(|t| t.to_lowercase()));
        let mut end = body.len().min(MAX_BODY_BYTES);
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        let body_words: Vec<String> = words(&body[..end])
            .into_iter()
            .take(MAX_BODY_WORDS)
            .collect();
        let mut shingles: Vec<u64> = body_words
            .windows(3)
            .map(|w| {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                w.hash(&mut h);
                h.finish()
            })
            .collect();
        shingles.sort_unstable();
        shingles.dedup();
        Features {
            title,
            topics,
            shingles,
        }
    }

    /// How near a duplicate of `other` this is: the larger of the title
    /// words' Jaccard similarity and the body trigrams' containment.
    pub fn duplicate_score(&self, other: &Features) -> f64 {
        jaccard(&self.title, &other.title).max(containment(&self.shingles, &other.shingles))
    }
}

/// The features of the items the feed has ranked, by a key the caller
/// derives from everything the features read (the feed: the hash the
/// content was sealed with and the tags, so a changed item is read
/// afresh), the oldest dropped past `capacity`.
pub struct FeatureCache {
    capacity: usize,
    inner: Mutex<Held>,
}

/// The cached features, and their keys oldest first.
type Held = (HashMap<String, Arc<Features>>, VecDeque<String>);

impl FeatureCache {
    pub fn new(capacity: usize) -> FeatureCache {
        FeatureCache {
            capacity,
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// The features under `key`, read by `read` the first time.
    pub fn get(&self, key: &str, read: impl FnOnce() -> Features) -> Arc<Features> {
        if let Some(f) = self.lock().0.get(key) {
            return f.clone();
        }
        let features = Arc::new(read());
        let mut inner = self.lock();
        let (map, order) = &mut *inner;
        if self.capacity > 0 && map.insert(key.to_string(), features.clone()).is_none() {
            order.push_back(key.to_string());
            while order.len() > self.capacity {
                if let Some(old) = order.pop_front() {
                    map.remove(&old);
                }
            }
        }
        features
    }

    /// How many items' features are held.
    pub fn len(&self) -> usize {
        self.lock().0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_ignore_case_punctuation_and_marks() {
        let marked = generec_provenance::watermark::embed("Markets, today!", &[1; 16]);
        assert_eq!(words(&marked), vec!["markets", "today"]);
    }

    #[test]
    fn a_condensed_copy_is_a_near_duplicate_and_another_story_is_not() {
        let long = "Shares rose sharply on Monday after the bank cut rates. Traders said the move was expected. Oil prices fell.";
        let short = "Shares rose sharply on Monday after the bank cut rates.";
        let a = Features::of("Shares rise", long, &[]);
        let b = Features::of("Shares rise after cut", short, &[]);
        assert!(a.duplicate_score(&b) >= 0.99);
        let c = Features::of(
            "Cup final",
            "The home side won the cup final on Saturday.",
            &[],
        );
        assert!(a.duplicate_score(&c) < 0.2);
        assert_eq!(jaccard::<u8>(&HashSet::new(), &HashSet::new()), 0.0);
        assert_eq!(containment(&[], &[1]), 0.0);
    }

    #[test]
    fn containment_counts_what_two_sorted_sets_share() {
        assert_eq!(containment(&[1, 3, 5, 7], &[3, 7]), 1.0);
        assert_eq!(containment(&[1, 2, 3, 4], &[2, 4, 6, 8]), 0.5);
        assert_eq!(containment(&[9], &[1, 2, 3]), 0.0);
        let f = Features::of("t", "a b c a b c a b c d", &[]);
        assert!(
            f.shingles.windows(2).all(|w| w[0] < w[1]),
            "sorted, no repeats"
        );
    }

    #[test]
    fn features_are_read_once_per_key_and_the_oldest_go_first() {
        let cache = FeatureCache::new(2);
        let reads = std::cell::Cell::new(0);
        let read = || {
            reads.set(reads.get() + 1);
            Features::of("Shares rise", "Shares rose on Monday.", &[])
        };
        let a = cache.get("a", read);
        let again = cache.get("a", || unreachable!("cached"));
        assert!(Arc::ptr_eq(&a, &again));
        cache.get("b", read);
        cache.get("c", read);
        assert_eq!(cache.len(), 2);
        cache.get("a", read);
        assert_eq!(reads.get(), 4, "a was dropped first and read again");
        let none = FeatureCache::new(0);
        none.get("a", read);
        assert!(none.is_empty());
    }
}
