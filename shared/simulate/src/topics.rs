//! Topics a simulated user can care about, drawn from the corpus itself:
//! named things (runs of capitalised words inside a sentence: "Gordon
//! Brown", "Manchester United"), two-word phrases that recur across items
//! ("interest rates", "mobile phone"), and the items' own tags. A topic
//! must occur in a few items (so the corpus can serve it) and not in too
//! many (so it says something).

use std::collections::{HashMap, HashSet};

/// Where a topic comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TopicKind {
    /// A run of capitalised words inside a sentence.
    Entity,
    /// Two content words that recur together.
    Phrase,
    /// An item tag (the BBC categories, for instance).
    Tag,
}

/// One topic and how many items mention it.
#[derive(Clone, Debug, PartialEq)]
pub struct Topic {
    pub phrase: String,
    pub kind: TopicKind,
    pub items: usize,
}

/// The text of one corpus item, as the extraction reads it.
#[derive(Clone, Copy, Debug)]
pub struct TextItem<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub tags: &'a [String],
}

/// How many topics to keep and how common they may be.
#[derive(Clone, Debug)]
pub struct TopicOptions {
    /// Entities and phrases kept (tags come on top).
    pub max_topics: usize,
    /// Fewest items a topic must occur in.
    pub min_items: usize,
    /// Largest share of items a topic may occur in.
    pub max_share: f64,
    /// Bytes of each body read.
    pub body_bytes: usize,
}

impl Default for TopicOptions {
    fn default() -> Self {
        TopicOptions {
            max_topics: 300,
            min_items: 4,
            max_share: 0.05,
            body_bytes: 1500,
        }
    }
}

static STOPWORDS: &str = include_str!("../data/stopwords.txt");

fn stopwords() -> HashSet<&'static str> {
    STOPWORDS
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(str::split_whitespace)
        .collect()
}

/// The topics of `items`, entities and phrases by how many items hold
/// them (most first, then alphabetically), then every tag.
pub fn extract(items: &[TextItem<'_>], options: &TopicOptions) -> Vec<Topic> {
    let stop = stopwords();
    let mut counts: HashMap<(String, TopicKind), usize> = HashMap::new();
    let mut tags: HashMap<String, usize> = HashMap::new();
    for item in items {
        let mut seen: HashSet<(String, TopicKind)> = HashSet::new();
        let body = prefix(item.body, options.body_bytes);
        for sentence in sentences(item.title).chain(sentences(body)) {
            entities(&sentence, &stop, &mut seen);
            phrases(&sentence, &stop, &mut seen);
        }
        for key in seen {
            *counts.entry(key).or_default() += 1;
        }
        for tag in item.tags.iter().collect::<HashSet<_>>() {
            *tags.entry(tag.to_lowercase()).or_default() += 1;
        }
    }
    let most = ((items.len() as f64) * options.max_share).ceil() as usize;
    let mut found: Vec<Topic> = counts
        .into_iter()
        .filter(|(_, n)| *n >= options.min_items && *n <= most.max(options.min_items))
        .map(|((phrase, kind), items)| Topic {
            phrase,
            kind,
            items,
        })
        .collect();
    found.sort_by(|a, b| b.items.cmp(&a.items).then_with(|| a.phrase.cmp(&b.phrase)));
    drop_contained(&mut found);
    found.truncate(options.max_topics);
    let mut tags: Vec<Topic> = tags
        .into_iter()
        .map(|(phrase, items)| Topic {
            phrase,
            kind: TopicKind::Tag,
            items,
        })
        .collect();
    tags.sort_by(|a, b| a.phrase.cmp(&b.phrase));
    found.extend(tags);
    found
}

fn prefix(text: &str, bytes: usize) -> &str {
    let mut end = text.len().min(bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Clauses as lists of words (letters, digits, inner apostrophes and
/// hyphens), split at punctuation and line breaks, so no name or phrase
/// runs across a comma.
fn sentences(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.split(['.', '!', '?', '\n', ';', ':', '"', ',', '(', ')'])
        .map(|s| {
            s.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
                .map(|w| w.trim_matches(['\'', '-']))
                .map(|w| w.strip_suffix("'s").unwrap_or(w))
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
}

fn capitalised(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(char::is_uppercase) && chars.any(char::is_lowercase)
}

/// Runs of up to three capitalised words, not counting a sentence's first
/// word unless the run goes on past it ("Gordon Brown said" counts "Gordon
/// Brown"; "Shares fell" counts nothing).
fn entities(words: &[&str], stop: &HashSet<&str>, seen: &mut HashSet<(String, TopicKind)>) {
    let mut i = 0;
    while i < words.len() {
        if !capitalised(words[i]) || stop.contains(words[i].to_lowercase().as_str()) {
            i += 1;
            continue;
        }
        let start = i;
        while i < words.len() && capitalised(words[i]) && i - start < 3 {
            i += 1;
        }
        let run = &words[start..i];
        if start == 0 && run.len() == 1 {
            continue;
        }
        let last = run[run.len() - 1].to_lowercase();
        // Contractions ("I'm", "don't") are not names.
        if stop.contains(last.as_str()) || run.iter().any(|w| w.len() < 2 || w.contains('\'')) {
            continue;
        }
        seen.insert((run.join(" "), TopicKind::Entity));
    }
}

/// Pairs of neighbouring lower-case content words.
fn phrases(words: &[&str], stop: &HashSet<&str>, seen: &mut HashSet<(String, TopicKind)>) {
    let content = |w: &&str| {
        w.len() > 2 && w.chars().all(|c| c.is_lowercase() || c == '-') && !stop.contains(*w)
    };
    for pair in words.windows(2) {
        if content(&pair[0]) && content(&pair[1]) {
            seen.insert((format!("{} {}", pair[0], pair[1]), TopicKind::Phrase));
        }
    }
}

/// Drops a topic whose words are inside a more common kept one of the
/// same kind ("Tony" next to "Tony Blair" when as common), keeping the
/// list from naming the same thing twice.
fn drop_contained(topics: &mut Vec<Topic>) {
    let mut kept: Vec<Topic> = Vec::with_capacity(topics.len());
    for t in topics.drain(..) {
        let inside = kept.iter().any(|k| {
            k.kind == t.kind
                && k.items * 10 >= t.items * 8
                && (k.phrase.contains(&t.phrase) || t.phrase.contains(&k.phrase))
        });
        if !inside {
            kept.push(t);
        }
    }
    *topics = kept;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item<'a>(title: &'a str, body: &'a str, tags: &'a [String]) -> TextItem<'a> {
        TextItem { title, body, tags }
    }

    #[test]
    fn named_things_phrases_and_tags_are_found() {
        let tags = vec!["business".to_string()];
        let bodies = [
            "Shares fell on Monday. The chancellor Gordon Brown said interest rates would rise.",
            "Gordon Brown spoke again. Analysts expect interest rates to rise further.",
            "In London, Gordon Brown met bankers to discuss interest rates. I'm sure.",
            "Gordon Brown's plan was published in New York.",
            "Oil prices rose. Nothing else happened today.",
        ];
        let items: Vec<TextItem<'_>> = bodies.iter().map(|b| item("Markets", b, &tags)).collect();
        let options = TopicOptions {
            min_items: 3,
            max_share: 1.0,
            ..TopicOptions::default()
        };
        let topics = extract(&items, &options);
        let names: Vec<(&str, TopicKind)> =
            topics.iter().map(|t| (t.phrase.as_str(), t.kind)).collect();
        assert!(
            names.contains(&("Gordon Brown", TopicKind::Entity)),
            "{names:?}"
        );
        assert!(
            names.contains(&("interest rates", TopicKind::Phrase)),
            "{names:?}"
        );
        assert!(names.contains(&("business", TopicKind::Tag)), "{names:?}");
        // A sentence's first word alone is not a name; function words are
        // not phrases.
        assert!(
            !names.iter().any(|(n, _)| *n == "Shares" || *n == "Oil"),
            "{names:?}"
        );
        assert!(!names.iter().any(|(n, _)| n.contains("the ")), "{names:?}");
    }

    #[test]
    fn topics_in_too_many_or_too_few_items_are_left_out() {
        let tags: Vec<String> = vec![];
        let mut bodies: Vec<String> = (0..40)
            .map(|n| format!("Item {n} is about stock markets and nothing more."))
            .collect();
        bodies.push("Quantum computing arrives.".into());
        let items: Vec<TextItem<'_>> = bodies.iter().map(|b| item("x", b, &tags)).collect();
        let topics = extract(&items, &TopicOptions::default());
        assert!(
            !topics.iter().any(|t| t.phrase == "stock markets"),
            "in every item"
        );
        assert!(
            !topics.iter().any(|t| t.phrase == "quantum computing"),
            "in one item"
        );
    }
}
