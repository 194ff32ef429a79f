//! Fairness metrics: per response (exposure of generated versus human
//! items, how evenly exposure spreads across creators, how diverse the list
//! is) and over time (cumulative exposure by origin and creator).
//!
//! Exposure is position-weighted: the item at rank r (from 1) gets
//! 1 / log2(r + 1), the discount of DCG, so the top of a feed counts most.

use std::collections::HashMap;

use crate::model::Entry;
use crate::text::{Features, jaccard};

/// The exposure of rank `r` (from 1).
pub fn exposure(rank: usize) -> f64 {
    1.0 / ((rank as f64) + 1.0).log2()
}

/// The Gini coefficient of non-negative values: 0 when all are equal,
/// towards 1 when one holds everything; 0 for fewer than two values or a
/// zero total.
pub fn gini(values: &[f64]) -> f64 {
    let n = values.len();
    let total: f64 = values.iter().sum();
    if n < 2 || total <= 0.0 {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    // G = (2 * sum_i i * x_(i)) / (n * sum x) - (n + 1) / n, with i from 1.
    let weighted: f64 = sorted
        .iter()
        .enumerate()
        .map(|(i, x)| (i as f64 + 1.0) * x)
        .sum();
    (2.0 * weighted / (n as f64 * total) - (n as f64 + 1.0) / n as f64).max(0.0)
}

/// The fairness of one response.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ListMetrics {
    pub human_items: usize,
    pub generated_items: usize,
    pub human_exposure_share: f64,
    pub generated_exposure_share: f64,
    pub creator_gini: f64,
    pub intra_list_diversity: f64,
}

impl ListMetrics {
    /// Measures a ranked list, reading each item's topics from its text.
    pub fn of(entries: &[Entry]) -> ListMetrics {
        let features: Vec<Features> = entries
            .iter()
            .map(|e| Features::of(&e.item.title, "", &e.item.tags))
            .collect();
        ListMetrics::of_with(entries, &features.iter().collect::<Vec<_>>())
    }

    /// Measures a ranked list whose items' features are known (`features[i]`
    /// is `entries[i]`'s).
    pub fn of_with(entries: &[Entry], features: &[&Features]) -> ListMetrics {
        let mut m = ListMetrics::default();
        let (mut human, mut generated) = (0.0, 0.0);
        let mut creators: HashMap<&str, f64> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            let x = exposure(i + 1);
            if e.is_generated() {
                m.generated_items += 1;
                generated += x;
            } else {
                m.human_items += 1;
                human += x;
            }
            *creators.entry(e.creator()).or_default() += x;
        }
        let total = human + generated;
        if total > 0.0 {
            m.human_exposure_share = human / total;
            m.generated_exposure_share = generated / total;
        }
        let values: Vec<f64> = creators.into_values().collect();
        m.creator_gini = gini(&values);
        m.intra_list_diversity = intra_list_diversity(features);
        m
    }
}

/// 1 - the mean pairwise Jaccard similarity of the items' title words and
/// tags (`topics`); 0 for fewer than two items.
pub fn intra_list_diversity(features: &[&Features]) -> f64 {
    if features.len() < 2 {
        return 0.0;
    }
    let mut sum = 0.0;
    let mut pairs = 0usize;
    for i in 0..features.len() {
        for j in i + 1..features.len() {
            sum += jaccard(&features[i].topics, &features[j].topics);
            pairs += 1;
        }
    }
    1.0 - sum / pairs as f64
}

/// Most creators tracked over time; past this, new creators are counted
/// under one shared bucket.
pub const MAX_TRACKED_CREATORS: usize = 100_000;
const OTHER_CREATORS: &str = "(other)";

/// One creator's exposure over time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CreatorTotal {
    pub exposure: f64,
    pub impressions: u64,
}

/// Exposure over time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    pub feeds_served: u64,
    pub degraded_feeds: u64,
    pub human_impressions: u64,
    pub generated_impressions: u64,
    pub human_exposure: f64,
    pub generated_exposure: f64,
    pub creators: HashMap<String, CreatorTotal>,
    pub generated_items_made: u64,
    pub generations_failed: u64,
    pub candidates_dropped: u64,
}

impl Totals {
    /// Adds one served feed.
    /// The same figures go to the process's `/metrics` (feeds by state,
    /// items and position-weighted exposure by origin).
    pub fn record_feed(&mut self, entries: &[Entry], degraded: bool, dropped: usize) {
        self.feeds_served += 1;
        if degraded {
            self.degraded_feeds += 1;
        }
        self.candidates_dropped += dropped as u64;
        // (items, exposure) of this feed: human, generated.
        let (mut human, mut generated) = ((0u64, 0.0), (0u64, 0.0));
        for (i, e) in entries.iter().enumerate() {
            let x = exposure(i + 1);
            let side = if e.is_generated() {
                &mut generated
            } else {
                &mut human
            };
            side.0 += 1;
            side.1 += x;
            let key = if self.creators.len() < MAX_TRACKED_CREATORS
                || self.creators.contains_key(e.creator())
            {
                e.creator().to_string()
            } else {
                OTHER_CREATORS.to_string()
            };
            let c = self.creators.entry(key).or_default();
            c.exposure += x;
            c.impressions += 1;
        }
        self.human_impressions += human.0;
        self.human_exposure += human.1;
        self.generated_impressions += generated.0;
        self.generated_exposure += generated.1;
        let state = if degraded { "degraded" } else { "ok" };
        ::metrics::counter!("generec_feed_feeds_total", "state" => state).increment(1);
        for (origin, (items, x)) in [("human", human), ("generated", generated)] {
            ::metrics::counter!("generec_feed_items_total", "origin" => origin).increment(items);
            ::metrics::gauge!("generec_feed_exposure", "origin" => origin).increment(x);
        }
    }

    /// The generated share of all exposure so far.
    pub fn generated_exposure_share(&self) -> f64 {
        let total = self.human_exposure + self.generated_exposure;
        if total > 0.0 {
            self.generated_exposure / total
        } else {
            0.0
        }
    }

    /// The Gini coefficient of exposure across every creator shown so far.
    pub fn creator_gini(&self) -> f64 {
        let values: Vec<f64> = self.creators.values().map(|c| c.exposure).collect();
        gini(&values)
    }

    /// The `n` creators with the most exposure, most first.
    pub fn top_creators(&self, n: usize) -> Vec<(String, CreatorTotal)> {
        let mut all: Vec<(String, CreatorTotal)> = self
            .creators
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all.sort_by(|a, b| b.1.exposure.total_cmp(&a.1.exposure).then(a.0.cmp(&b.0)));
        all.truncate(n);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Allowed, Verified};
    use generec_common::types::{ItemKind, Origin};
    use generec_corpus::model::{Item, ItemId};

    fn entry(id: &str, creator: &str, origin: Origin, title: &str) -> Entry {
        Entry {
            item: Item {
                id: ItemId::parse(id).unwrap(),
                kind: ItemKind::Article,
                title: title.into(),
                body: String::new(),
                segments: vec![],
                tags: vec![],
                creator_id: creator.into(),
                origin,
                parent_ids: vec![],
                licence: "CC-BY-4.0".into(),
                created_unix_ms: 0,
                content_sha256: String::new(),
                provenance_manifest: vec![],
            },
            verdict: Allowed::Allow,
            provenance: (origin != Origin::Human).then(|| Verified {
                manifest_id: "m".into(),
                verdict: Allowed::Allow,
            }),
            reason: String::new(),
            trigger: 0,
            score: 0.0,
            made_for_you: false,
        }
    }

    #[test]
    fn gini_of_known_distributions() {
        assert_eq!(gini(&[]), 0.0);
        assert_eq!(gini(&[5.0]), 0.0);
        assert!(gini(&[1.0, 1.0, 1.0, 1.0]).abs() < 1e-12);
        // One of n holds everything: (n - 1) / n.
        assert!((gini(&[0.0, 0.0, 0.0, 4.0]) - 0.75).abs() < 1e-12);
        // [1, 3]: |1 - 3| * 2 / (2 * 2^2 * 2) = 0.25.
        assert!((gini(&[3.0, 1.0]) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn exposure_is_the_dcg_discount() {
        assert_eq!(exposure(1), 1.0);
        assert!((exposure(3) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn list_metrics_split_exposure_by_origin_and_creator() {
        let list = vec![
            entry("g", "generec", Origin::AiCreated, "Markets digest"),
            entry("a", "alice", Origin::Human, "Cup final"),
            entry("b", "bob", Origin::Human, "Election night"),
        ];
        let m = ListMetrics::of(&list);
        assert_eq!((m.human_items, m.generated_items), (2, 1));
        let total = 1.0 + exposure(2) + exposure(3);
        assert!((m.generated_exposure_share - 1.0 / total).abs() < 1e-12);
        assert!((m.human_exposure_share + m.generated_exposure_share - 1.0).abs() < 1e-12);
        assert!(m.creator_gini > 0.0 && m.creator_gini < 1.0);
        assert_eq!(m.intra_list_diversity, 1.0);
        let same = vec![
            entry("a", "alice", Origin::Human, "Cup final"),
            entry("b", "alice", Origin::Human, "Cup final"),
        ];
        let m = ListMetrics::of(&same);
        assert_eq!(m.intra_list_diversity, 0.0);
        assert_eq!(m.creator_gini, 0.0);
        assert_eq!(ListMetrics::of(&[]), ListMetrics::default());
    }

    #[test]
    fn totals_accumulate_over_feeds() {
        let mut t = Totals::default();
        t.record_feed(&[entry("a", "alice", Origin::Human, "x")], false, 2);
        t.record_feed(
            &[
                entry("g", "generec", Origin::AiCreated, "y"),
                entry("a", "alice", Origin::Human, "x"),
            ],
            true,
            0,
        );
        assert_eq!(t.feeds_served, 2);
        assert_eq!(t.degraded_feeds, 1);
        assert_eq!((t.human_impressions, t.generated_impressions), (2, 1));
        assert_eq!(t.candidates_dropped, 2);
        assert!((t.generated_exposure_share() - 1.0 / (2.0 + exposure(2))).abs() < 1e-12);
        let top = t.top_creators(1);
        assert_eq!(top[0].0, "alice");
        assert_eq!(top[0].1.impressions, 2);
        assert!(t.creator_gini() > 0.0);
    }
}
