//! Text primitives the editor and the creator share: sentence splitting with
//! byte spans, word tokens without stop words, and sparse term vectors with
//! cosine similarity (the lexical relevance used when no embedding model is
//! present).

use std::collections::HashMap;

/// A sentence of a text with its byte range in that text.
#[derive(Clone, Debug, PartialEq)]
pub struct Sentence {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// Abbreviations after which a full stop does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "etc", "inc", "ltd", "co", "corp",
    "gen", "gov", "sen", "rep", "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec", "u.s", "u.k", "e.g", "i.e",
];

/// Splits text into sentences at `.`, `!` or `?` followed by white space and
/// an upper-case letter, digit or quote, and at blank lines; keeps
/// abbreviations ("Mr.", "U.S.") and decimals ("3.5") inside a sentence.
/// Sentences are trimmed; empty ones are dropped.
pub fn sentences(text: &str) -> Vec<Sentence> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        let c = bytes[i];
        let boundary = if c == b'\n' && bytes.get(i + 1) == Some(&b'\n') {
            Some(i)
        } else if matches!(c, b'.' | b'!' | b'?') {
            // Swallow closing quotes and brackets after the mark.
            let mut j = i + 1;
            while j < bytes.len() && matches!(bytes[j], b'"' | b'\'' | b')') {
                j += 1;
            }
            let followed_by_space = j < bytes.len() && bytes[j].is_ascii_whitespace();
            let next_starts = {
                let mut k = j;
                while k < bytes.len() && bytes[k].is_ascii_whitespace() {
                    k += 1;
                }
                k >= bytes.len()
                    || bytes[k].is_ascii_uppercase()
                    || bytes[k].is_ascii_digit()
                    || matches!(bytes[k], b'"' | b'\'' | b'(')
                    || bytes[k] >= 0x80
            };
            if (j >= bytes.len() || (followed_by_space && next_starts))
                && !(c == b'.' && ends_with_abbreviation(&text[start..i]))
            {
                Some(j)
            } else {
                None
            }
        } else {
            None
        };
        if let Some(end) = boundary {
            push_sentence(text, start, end, &mut out);
            start = end;
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    push_sentence(text, start, text.len(), &mut out);
    out
}

fn ends_with_abbreviation(before: &str) -> bool {
    let last = before
        .rsplit(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if last.len() == 1 && last.chars().all(|c| c.is_ascii_alphabetic()) {
        return true; // an initial: "J. K. Rowling"
    }
    ABBREVIATIONS.contains(&last.as_str())
}

fn push_sentence(text: &str, start: usize, end: usize, out: &mut Vec<Sentence>) {
    let Some(slice) = text.get(start..end) else {
        return;
    };
    let lead = slice.len() - slice.trim_start().len();
    let trimmed = slice.trim();
    if trimmed.is_empty() {
        return;
    }
    let s = start + lead;
    out.push(Sentence {
        text: trimmed.to_string(),
        start: s,
        end: s + trimmed.len(),
    });
}

/// English stop words left out of term vectors.
const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any",
    "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both",
    "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few",
    "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers",
    "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its",
    "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off",
    "on", "once", "only", "or", "other", "our", "ours", "out", "over", "own", "said", "same",
    "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them",
    "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until",
    "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom",
    "why", "will", "with", "would", "you", "your", "yours", "s", "t", "mr", "mrs", "ms", "one",
    "two", "new", "year", "years", "says", "say", "told", "get", "got", "make", "made", "may",
    "might", "must", "us", "it's", "i'm", "don't",
];

/// Whether `word` (lower case) is a stop word.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

/// Lower-case word tokens (letters, digits, inner apostrophes), in order,
/// stop words included.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || (c == '\'' && !cur.is_empty()) {
            cur.extend(c.to_lowercase());
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur).trim_end_matches('\'').to_string());
        }
    }
    if !cur.is_empty() {
        out.push(cur.trim_end_matches('\'').to_string());
    }
    out
}

/// A light suffix stripper so "markets", "market" and "marketing" meet:
/// drops a plural or verb ending from words of five letters or more.
pub fn stem(word: &str) -> String {
    let w = word;
    if w.len() < 5 || !w.is_ascii() {
        return w.to_string();
    }
    for suffix in [
        "ingly", "edly", "ings", "ing", "ies", "ied", "es", "ed", "ly", "s",
    ] {
        if let Some(base) = w.strip_suffix(suffix)
            && base.len() >= 3
        {
            return match suffix {
                "ies" | "ied" => format!("{base}y"),
                _ => base.to_string(),
            };
        }
    }
    w.to_string()
}

/// Content terms of a text: stemmed words without stop words or one-letter
/// tokens.
pub fn terms(text: &str) -> Vec<String> {
    words(text)
        .into_iter()
        .filter(|w| w.chars().count() > 1 && !is_stop_word(w))
        .map(|w| stem(&w))
        .collect()
}

/// A sparse, L2-normalised term vector.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TermVector {
    weights: HashMap<String, f32>,
}

impl TermVector {
    /// Term frequencies of `text`, weighted by `idf` (1 for unknown terms).
    pub fn new(text: &str, idf: Option<&Idf>) -> TermVector {
        let mut weights: HashMap<String, f32> = HashMap::new();
        for t in terms(text) {
            *weights.entry(t).or_default() += 1.0;
        }
        for (term, w) in weights.iter_mut() {
            let idf = idf.map_or(1.0, |idf| idf.weight(term));
            *w = (1.0 + w.ln()) * idf;
        }
        let norm = weights
            .values()
            .map(|w| f64::from(*w) * f64::from(*w))
            .sum::<f64>()
            .sqrt() as f32;
        if norm > 0.0 {
            for w in weights.values_mut() {
                *w /= norm;
            }
        }
        TermVector { weights }
    }

    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// Cosine similarity in [0, 1].
    pub fn cosine(&self, other: &TermVector) -> f32 {
        let (small, large) = if self.weights.len() <= other.weights.len() {
            (&self.weights, &other.weights)
        } else {
            (&other.weights, &self.weights)
        };
        // Summed in f64 so the hash map's iteration order cannot change the
        // f32 result.
        (small
            .iter()
            .filter_map(|(t, w)| large.get(t).map(|v| f64::from(*w) * f64::from(*v)))
            .sum::<f64>() as f32)
            .clamp(0.0, 1.0)
    }

    /// Adds `other` scaled by `factor` and renormalises (a centroid step).
    pub fn add_scaled(&mut self, other: &TermVector, factor: f32) {
        for (t, w) in &other.weights {
            *self.weights.entry(t.clone()).or_default() += w * factor;
        }
        self.weights.retain(|_, w| *w > 0.0);
        let norm = self
            .weights
            .values()
            .map(|w| f64::from(*w) * f64::from(*w))
            .sum::<f64>()
            .sqrt() as f32;
        if norm > 0.0 {
            for w in self.weights.values_mut() {
                *w /= norm;
            }
        }
    }

    /// Whether the vector holds `term` (already stemmed).
    pub fn contains(&self, term: &str) -> bool {
        self.weights.contains_key(term)
    }
}

/// Inverse document frequencies over a set of documents (sentences or
/// passages): `ln((1 + n) / (1 + df)) + 1`.
#[derive(Clone, Debug, Default)]
pub struct Idf {
    docs: usize,
    df: HashMap<String, usize>,
}

impl Idf {
    pub fn new<'a>(docs: impl IntoIterator<Item = &'a str>) -> Idf {
        let mut idf = Idf::default();
        for doc in docs {
            idf.docs += 1;
            let mut seen: Vec<String> = terms(doc);
            seen.sort();
            seen.dedup();
            for t in seen {
                *idf.df.entry(t).or_default() += 1;
            }
        }
        idf
    }

    pub fn weight(&self, term: &str) -> f32 {
        let df = self.df.get(term).copied().unwrap_or(0);
        ((1.0 + self.docs as f32) / (1.0 + df as f32)).ln() + 1.0
    }
}

/// Number of words in a text.
pub fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_at_marks_and_keep_abbreviations_and_decimals() {
        let text =
            "Mr. Smith paid $3.5m for it. Was it worth it? \"Yes!\" he said.\n\nNew part here";
        let got: Vec<String> = sentences(text).into_iter().map(|s| s.text).collect();
        assert_eq!(
            got,
            vec![
                "Mr. Smith paid $3.5m for it.",
                "Was it worth it?",
                "\"Yes!\" he said.",
                "New part here"
            ]
        );
    }

    #[test]
    fn sentence_spans_index_the_original_text() {
        let text = "  First one.  Second one!  ";
        for s in sentences(text) {
            assert_eq!(&text[s.start..s.end], s.text);
        }
    }

    #[test]
    fn terms_drop_stop_words_and_stem() {
        assert_eq!(
            terms("The markets are rising"),
            vec!["market".to_string(), stem("rising")]
        );
        assert_eq!(stem("companies"), "company");
    }

    #[test]
    fn cosine_is_one_for_same_text_and_zero_for_disjoint() {
        let a = TermVector::new("stock markets fell sharply", None);
        let b = TermVector::new("stock markets fell sharply", None);
        let c = TermVector::new("football match tonight", None);
        assert!((a.cosine(&b) - 1.0).abs() < 1e-5);
        assert_eq!(a.cosine(&c), 0.0);
    }

    #[test]
    fn idf_favours_rare_terms() {
        let idf = Idf::new(["market up", "market down", "goal scored"]);
        assert!(idf.weight("goal") > idf.weight("market"));
    }
}
