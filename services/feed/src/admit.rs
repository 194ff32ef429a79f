//! What may enter a feed: verdicts of retrieved items (cached by content
//! hash), the trust service's published keys (cached), and the check of a
//! generated item's manifest, which the corpus runs too
//! ([`generec_corpus::provenance`]) so both apply one rule.
//!
//! # Retrieved items
//! Every retrieved item is reviewed by trust as *shared* content: with no
//! user id (so any user's registered private attributes count as another
//! user's) and, for a generated item, with no origin asserted, because its
//! authenticity was reviewed against its sources before it was certified
//! and its manifest carries that signed verdict. A generated item also
//! needs a manifest that verifies against trust's published keys, binds
//! its text and records an allowing verdict.
//!
//! Verdicts are cached by the item's canonical content hash, with the hash
//! of the policy bundle that decided, for `verdict_ttl_ms`. The feed keeps
//! a view of trust's active bundle, refreshed in the background every
//! `trust_refresh_ms` (which is also how it learns that trust is up; a
//! failed refresh drops the view), and only verdicts of that bundle count,
//! so a bundle reload re-reviews every item within a refresh or three. When trust cannot be asked, a fresh cached
//! allowing verdict still admits a human item; generated items are not
//! shown at all.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use generec_corpus::model::Item;
use generec_corpus::provenance::{Rejection, TrustedKeys};

use crate::model::{Allowed, Verified};

/// The cache key of an item's shared review: its canonical content hash
/// and whether it is generated (reviewed without an origin). The hash is
/// the one the corpus sealed the item with (it refuses a write whose hash
/// differs from the content), so a cache hit costs no hashing; an item
/// without a well-formed hash is hashed here.
pub fn review_key(item: &Item) -> String {
    let flavour = if item.origin.is_generated() { "g" } else { "h" };
    let sealed = &item.content_sha256;
    if sealed.len() == 64 && sealed.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!("{}:{flavour}", sealed.to_ascii_lowercase())
    } else {
        format!("{}:{flavour}", item.compute_sha256())
    }
}

/// Verdicts of shared reviews by [`review_key`]: `Some(allowed)` or `None`
/// for a verdict that does not allow, each with the hash of the policy
/// bundle that decided it.
#[derive(Debug)]
pub struct VerdictCache {
    ttl: Duration,
    max: usize,
    inner: Mutex<Entries>,
}

type Entries = (
    HashMap<String, (Option<Allowed>, String, Instant)>,
    VecDeque<String>,
);

impl VerdictCache {
    pub fn new(ttl: Duration, max: usize) -> VerdictCache {
        VerdictCache {
            ttl,
            max: max.max(1),
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// The fresh verdict for `key`. With `bundle`, only a verdict of that
    /// policy bundle counts (a reload makes earlier verdicts stale); without
    /// (trust cannot be asked), the last one does.
    pub fn get(&self, key: &str, bundle: Option<&str>) -> Option<Option<Allowed>> {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner
            .0
            .get(key)
            .filter(|(_, b, at)| at.elapsed() < self.ttl && bundle.is_none_or(|want| want == b))
            .map(|(v, _, _)| *v)
    }

    /// Stores a verdict of `bundle`, dropping the oldest entries past the bound.
    pub fn put(&self, key: String, verdict: Option<Allowed>, bundle: &str) {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (map, order) = &mut *inner;
        if map
            .insert(key.clone(), (verdict, bundle.to_string(), Instant::now()))
            .is_none()
        {
            order.push_back(key);
        }
        while map.len() > self.max {
            match order.pop_front() {
                Some(old) => {
                    map.remove(&old);
                }
                None => break,
            }
        }
    }

    /// How many verdicts are cached.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
            .len()
    }

    /// Whether none is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Trust's published keys, with when they were fetched.
#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    inner: Mutex<Option<(TrustedKeys, Instant)>>,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> KeyCache {
        KeyCache {
            ttl,
            inner: Mutex::new(None),
        }
    }

    /// The keys, when fetched less than the TTL ago.
    pub fn fresh(&self) -> Option<TrustedKeys> {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner
            .as_ref()
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(k, _)| k.clone())
    }

    /// How long ago the keys were fetched.
    pub fn age(&self) -> Option<Duration> {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.as_ref().map(|(_, at)| at.elapsed())
    }

    /// Replaces the keys.
    pub fn set(&self, keys: TrustedKeys) {
        *self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((keys, Instant::now()));
    }
}

/// Checks a generated item's manifest against trust's published keys
/// (the corpus's rule; see [`generec_corpus::provenance`]).
pub fn verify_generated(keys: &TrustedKeys, item: &Item) -> Result<Verified, Rejection> {
    let m = keys.check_item(item)?;
    let verdict = Allowed::from_name(&m.review.verdict).ok_or(Rejection::NotAllowed {
        verdict: m.review.verdict.clone(),
    })?;
    Ok(Verified {
        manifest_id: m.manifest_id,
        verdict,
    })
}

/// Whether a character belongs to an in-text mark (a Unicode variation
/// selector; see docs/PROVENANCE.md).
pub fn is_mark(c: char) -> bool {
    matches!(c as u32, 0xFE00..=0xFE0F | 0xE0100..=0xE01EF)
}

/// The in-text mark of a marked text, as one run of selectors.
pub fn mark_of(marked: &str) -> String {
    marked.chars().filter(|&c| is_mark(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_verdicts_expire_follow_the_bundle_and_are_bounded() {
        let cache = VerdictCache::new(Duration::from_secs(60), 2);
        cache.put("a".into(), Some(Allowed::Allow), "b1");
        cache.put("b".into(), None, "b1");
        assert_eq!(cache.get("a", Some("b1")), Some(Some(Allowed::Allow)));
        assert_eq!(cache.get("b", Some("b1")), Some(None));
        assert_eq!(cache.get("c", Some("b1")), None);
        // Another bundle decides afresh; with trust down the last verdict counts.
        assert_eq!(cache.get("a", Some("b2")), None);
        assert_eq!(cache.get("a", None), Some(Some(Allowed::Allow)));
        cache.put("c".into(), Some(Allowed::AllowWithLabel), "b1");
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("a", None), None, "the oldest entry went first");

        let stale = VerdictCache::new(Duration::ZERO, 10);
        stale.put("a".into(), Some(Allowed::Allow), "b1");
        assert_eq!(stale.get("a", None), None);
        assert!(!stale.is_empty());
    }

    #[test]
    fn keys_are_fresh_until_their_ttl() {
        let cache = KeyCache::new(Duration::from_secs(60));
        assert!(cache.fresh().is_none());
        assert!(cache.age().is_none());
        cache.set(TrustedKeys::default());
        assert!(cache.fresh().is_some());
        let stale = KeyCache::new(Duration::ZERO);
        stale.set(TrustedKeys::default());
        assert!(stale.fresh().is_none());
    }

    #[test]
    fn the_mark_is_lifted_out_of_a_marked_text() {
        let marked = generec_provenance::watermark::embed("Title\n\nBody", &[7; 16]);
        let mark = mark_of(&marked);
        assert_eq!(mark.chars().count(), 20);
        let moved = format!("Title\n\n{mark}Body");
        assert_eq!(
            generec_provenance::watermark::extract(&moved),
            Some([7; 16]),
            "the moved mark still carries the manifest id"
        );
        assert_eq!(
            generec_provenance::watermark::strip(&moved),
            "Title\n\nBody"
        );
    }
}
