//! The feed rules: the final ranking of items that trust already allowed.
//!
//! Items are walked in order: first those made for this user (this
//! request's, then earlier background ones), then the retrieved ones best
//! first. Each item is
//! 1. left out when it is about a topic the user excluded (an excluded
//!    phrase equals one of its tags, or its words appear in a row in its
//!    title or the first 80 words of its body, plurals folded);
//! 2. left out when its creator already has `max_per_creator` items kept;
//! 3. left out when it is a near-duplicate of an item kept before it
//!    ([`Features::duplicate_score`] at least `near_duplicate_similarity`),
//!    so an edit made for the user replaces its parent.
//!
//! Of what is kept, the feed takes the longest prefix-respecting selection
//! of at most `count` items in which generated items are at most
//! `generated_share_cap` of the items returned (rounded down), except that
//! one item made for the user is always allowed, so a request that asked
//! for an item gets it even in a feed of one. The order stays the walk's.

use std::sync::Arc;

use crate::model::Entry;
use crate::text::{Features, words};

/// The rules' settings (from [`crate::config::FeedConfig`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rules {
    pub generated_share_cap: f64,
    /// 0: no limit.
    pub max_per_creator: usize,
    pub near_duplicate_similarity: f64,
}

/// How many items each rule left out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    pub excluded: usize,
    pub duplicates: usize,
    pub creator_cap: usize,
    pub generated_cap: usize,
}

/// The final feed and what the rules left out.
#[derive(Clone, Debug)]
pub struct Ranked {
    pub entries: Vec<Entry>,
    pub dropped: Dropped,
}

/// How many words of an item's body, after its title, say what it is about.
const LEAD_WORDS: usize = 80;

/// A word with a plural `s` folded, so "elections" matches "election".
fn folded(w: &str) -> &str {
    if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") {
        &w[..w.len() - 1]
    } else {
        w
    }
}

/// Whether an item is about one of the excluded topics (see [`is_about`]).
pub fn is_excluded(entry: &Entry, exclude: &[String]) -> bool {
    is_about(entry, exclude)
}

/// Moves the entries about one of the wanted topics ahead of the rest,
/// keeping the order within each group.
pub fn favour(entries: Vec<Entry>, include: &[String]) -> Vec<Entry> {
    if include.is_empty() {
        return entries;
    }
    let (mut about, rest): (Vec<Entry>, Vec<Entry>) =
        entries.into_iter().partition(|e| is_about(e, include));
    about.extend(rest);
    about
}

/// Whether an item is about one of `topics`: a tag equal to the phrase, or
/// the phrase's words in a row in its title or the lead of its body
/// (plurals folded). The phrase is matched as said, never widened to its
/// category: excluding "chelsea" keeps the other football items.
pub fn is_about(entry: &Entry, topics: &[String]) -> bool {
    if topics.is_empty() {
        return false;
    }
    let fold =
        |ws: Vec<String>| -> Vec<String> { ws.iter().map(|w| folded(w).to_string()).collect() };
    let title = fold(words(&entry.item.title));
    let mut lead = fold(words(&entry.item.body));
    lead.truncate(LEAD_WORDS);
    topics.iter().any(|topic| {
        let topic = topic.trim().to_lowercase();
        let phrase = fold(words(&topic));
        if phrase.is_empty() {
            return false;
        }
        let in_row = |ws: &[String]| ws.windows(phrase.len()).any(|w| w == phrase.as_slice());
        entry.item.tags.iter().any(|t| t.to_lowercase() == topic) || in_row(&title) || in_row(&lead)
    })
}

/// The most generated items a feed of `n` items may hold.
fn generated_allowed(cap: f64, n: usize, made: bool) -> usize {
    let by_share = (cap * n as f64 + 1e-9).floor() as usize;
    if made {
        by_share.max(1).min(n)
    } else {
        by_share.min(n)
    }
}

/// Applies the rules (see the module docs), reading each entry's
/// features from its text.
pub fn rank(
    rules: &Rules,
    made: Vec<Entry>,
    retrieved: Vec<Entry>,
    exclude: &[String],
    count: usize,
) -> Ranked {
    rank_with(rules, made, retrieved, exclude, count, &|e: &Entry| {
        Arc::new(Features::of(&e.item.title, &e.item.body, &e.item.tags))
    })
}

/// Applies the rules with each entry's features from `features` (the
/// feed's cache of them, by content hash).
pub fn rank_with(
    rules: &Rules,
    made: Vec<Entry>,
    retrieved: Vec<Entry>,
    exclude: &[String],
    count: usize,
    features: &dyn Fn(&Entry) -> Arc<Features>,
) -> Ranked {
    let mut dropped = Dropped::default();
    let mut kept: Vec<(Entry, Arc<Features>)> = Vec::new();
    let mut per_creator: std::collections::HashMap<String, usize> = Default::default();
    for entry in made.into_iter().chain(retrieved) {
        if is_excluded(&entry, exclude) {
            dropped.excluded += 1;
            continue;
        }
        let creator_count = per_creator.get(entry.creator()).copied().unwrap_or(0);
        if rules.max_per_creator > 0 && creator_count >= rules.max_per_creator {
            dropped.creator_cap += 1;
            continue;
        }
        let features = features(&entry);
        if kept
            .iter()
            .any(|(_, f)| features.duplicate_score(f) >= rules.near_duplicate_similarity)
        {
            dropped.duplicates += 1;
            continue;
        }
        per_creator.insert(entry.creator().to_string(), creator_count + 1);
        kept.push((entry, features));
    }

    let humans = kept.iter().filter(|(e, _)| !e.is_generated()).count();
    let generated = kept.len() - humans;
    let made_any = kept.iter().any(|(e, _)| e.made_for_you && e.is_generated());
    let mut take = (0, 0);
    for n in (0..=count.min(kept.len())).rev() {
        let g = generated.min(generated_allowed(rules.generated_share_cap, n, made_any));
        if n - g <= humans {
            take = (n - g, g);
            break;
        }
    }
    let (mut h_left, mut g_left) = take;
    let mut entries = Vec::with_capacity(h_left + g_left);
    for (entry, _) in kept {
        let slot = if entry.is_generated() {
            &mut g_left
        } else {
            &mut h_left
        };
        if *slot > 0 {
            *slot -= 1;
            entries.push(entry);
        } else if entry.is_generated() {
            dropped.generated_cap += 1;
        }
    }
    Ranked { entries, dropped }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Allowed, Verified};
    use generec_common::types::{ItemKind, Origin};
    use generec_corpus::model::{Item, ItemId};

    fn entry(id: &str, creator: &str, origin: Origin, title: &str, body: &str) -> Entry {
        Entry {
            item: Item {
                id: ItemId::parse(id).unwrap(),
                kind: ItemKind::Article,
                title: title.into(),
                body: body.into(),
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
            score: 1.0,
            made_for_you: false,
        }
    }

    fn human(id: &str, creator: &str) -> Entry {
        entry(
            id,
            creator,
            Origin::Human,
            &format!("Story {id}"),
            &format!("Body of {id} with words unique to {id} alone here."),
        )
    }

    fn generated(id: &str) -> Entry {
        entry(
            id,
            "generec",
            Origin::AiCreated,
            &format!("Digest {id}"),
            &format!("Generated body {id} says other things about {id}."),
        )
    }

    const RULES: Rules = Rules {
        generated_share_cap: 0.3,
        max_per_creator: 3,
        near_duplicate_similarity: 0.8,
    };

    fn ids(r: &Ranked) -> Vec<&str> {
        r.entries.iter().map(|e| e.item.id.as_str()).collect()
    }

    #[test]
    fn at_most_n_items_per_creator() {
        let retrieved = (0..6).map(|i| human(&format!("a{i}"), "alice")).collect();
        let r = rank(&RULES, vec![], retrieved, &[], 10);
        assert_eq!(ids(&r), vec!["a0", "a1", "a2"]);
        assert_eq!(r.dropped.creator_cap, 3);
        let off = Rules {
            max_per_creator: 0,
            ..RULES
        };
        let retrieved = (0..6).map(|i| human(&format!("a{i}"), "alice")).collect();
        assert_eq!(rank(&off, vec![], retrieved, &[], 10).entries.len(), 6);
    }

    #[test]
    fn generated_items_stay_under_the_share_cap() {
        let mut retrieved = Vec::new();
        for i in 0..7 {
            retrieved.push(human(&format!("h{i}"), &format!("c{i}")));
            retrieved.push(generated(&format!("g{i}")));
        }
        let r = rank(
            &Rules {
                max_per_creator: 0,
                ..RULES
            },
            vec![],
            retrieved,
            &[],
            10,
        );
        let g = r.entries.iter().filter(|e| e.is_generated()).count();
        assert_eq!(r.entries.len(), 10);
        assert_eq!(g, 3);
        assert!(g as f64 <= 0.3 * r.entries.len() as f64);
        // Best first: the first three generated items are the ones kept.
        assert!(ids(&r).contains(&"g0") && ids(&r).contains(&"g2") && !ids(&r).contains(&"g3"));

        // With only generated candidates, nothing is shown.
        let only: Vec<Entry> = (0..3).map(|i| generated(&format!("g{i}"))).collect();
        assert!(rank(&RULES, vec![], only, &[], 10).entries.is_empty());
    }

    #[test]
    fn the_item_made_for_the_request_is_shown_first_even_in_a_feed_of_one() {
        let mut made = generated("made");
        made.made_for_you = true;
        let retrieved: Vec<Entry> = (0..5)
            .map(|i| human(&format!("h{i}"), &format!("c{i}")))
            .collect();
        let r = rank(&RULES, vec![made.clone()], retrieved.clone(), &[], 1);
        assert_eq!(ids(&r), vec!["made"]);
        let r = rank(&RULES, vec![made.clone()], retrieved, &[], 3);
        assert_eq!(ids(&r), vec!["made", "h0", "h1"]);
        // Made items count against the cap like any other generated item.
        let mut second = generated("made2");
        second.made_for_you = true;
        let few: Vec<Entry> = (0..2)
            .map(|i| human(&format!("h{i}"), &format!("c{i}")))
            .collect();
        let r = rank(&RULES, vec![made, second], few, &[], 10);
        assert_eq!(ids(&r), vec!["made", "h0", "h1"]);
        assert_eq!(r.dropped.generated_cap, 1);
    }

    #[test]
    fn near_duplicates_are_left_out_and_an_edit_replaces_its_parent() {
        let parent = entry(
            "p",
            "alice",
            Origin::Human,
            "Shares rise after rate cut",
            "Shares rose sharply on Monday after the bank cut rates. Traders said the move was expected. Oil prices fell.",
        );
        let mut edit = entry(
            "gen-p",
            "generec",
            Origin::AiEdited,
            "Shares rise after rate cut",
            "Shares rose sharply on Monday after the bank cut rates.",
        );
        edit.made_for_you = true;
        let r = rank(&RULES, vec![edit], vec![parent, human("x", "bob")], &[], 10);
        assert_eq!(ids(&r), vec!["gen-p", "x"]);
        assert_eq!(r.dropped.duplicates, 1);
    }

    #[test]
    fn excluded_phrases_match_the_lead_not_the_category() {
        let chelsea = entry(
            "c",
            "a",
            Origin::Human,
            "Derby day in London",
            "Chelsea beat Arsenal 2-0 at Stamford Bridge on Sunday.",
        );
        let liverpool = entry(
            "l",
            "b",
            Origin::Human,
            "Liverpool go top",
            "A late header gave Liverpool a win at Newcastle.",
        );
        let elections = entry(
            "e",
            "d",
            Origin::Human,
            "Count begins",
            "Local elections results.",
        );
        let r = rank(
            &RULES,
            vec![],
            vec![chelsea, liverpool, elections],
            &["chelsea".into(), "local election".into()],
            10,
        );
        assert_eq!(ids(&r), vec!["l"]);
        assert_eq!(r.dropped.excluded, 2);
    }

    #[test]
    fn wanted_topics_come_first_in_their_order() {
        let a = entry("a", "x", Origin::Human, "Budget day", "Tax rises.");
        let b = entry("b", "y", Origin::Human, "Cup final", "A football final.");
        let c = entry(
            "c",
            "z",
            Origin::Human,
            "Transfer news",
            "Football clubs spend.",
        );
        let ids = |v: &[Entry]| {
            v.iter()
                .map(|e| e.item.id.as_str().to_string())
                .collect::<Vec<_>>()
        };
        let out = favour(vec![a.clone(), b.clone(), c.clone()], &["football".into()]);
        assert_eq!(ids(&out), ["b", "c", "a"]);
        assert_eq!(ids(&favour(vec![a, b, c], &[])), ["a", "b", "c"]);
    }

    #[test]
    fn excluded_topics_match_tags_and_title_words() {
        let mut tagged = human("t", "a");
        tagged.item.tags = vec!["Politics".into()];
        let titled = entry("u", "b", Origin::Human, "Politics today", "x y z");
        let phrase = entry("v", "c", Origin::Human, "The Formula One season", "x y z");
        let near = entry("w", "d", Origin::Human, "Political news", "a b c");
        let r = rank(
            &RULES,
            vec![],
            vec![tagged, titled, phrase, near],
            &["politics".into(), "formula one".into()],
            10,
        );
        assert_eq!(ids(&r), vec!["w"]);
        assert_eq!(r.dropped.excluded, 3);
    }

    #[test]
    fn the_count_bounds_the_feed() {
        let retrieved: Vec<Entry> = (0..20)
            .map(|i| human(&format!("h{i}"), &format!("c{i}")))
            .collect();
        assert_eq!(rank(&RULES, vec![], retrieved, &[], 7).entries.len(), 7);
        assert!(rank(&RULES, vec![], vec![], &[], 7).entries.is_empty());
    }
}
