//! Verbatim overlap between a generated text and a source, in words.
//!
//! Both texts are cut into words (letters and digits, lower case, an
//! apostrophe inside a word kept). An output word is *copied* from a
//! source when it lies inside a run of at least `min_run` consecutive
//! output words that also occur consecutively in the source: shorter common
//! runs ("the prime minister said") are ordinary language. The spans are
//! byte ranges of the output, so a manifest can say which parts of an item
//! a source supports.

use std::collections::HashSet;

/// A word and where it lies in its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// The words of a text, lower case, with their byte spans.
pub fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        let inner_apostrophe = (c == '\'' || c == '\u{2019}')
            && start.is_some()
            && chars.get(k + 1).is_some_and(|(_, n)| n.is_alphanumeric());
        if c.is_alphanumeric() || inner_apostrophe {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            out.push(word(text, s, i));
        }
    }
    if let Some(s) = start {
        out.push(word(text, s, text.len()));
    }
    out
}

fn word(text: &str, start: usize, end: usize) -> Word {
    Word {
        text: text[start..end].to_lowercase().replace('\u{2019}', "'"),
        start,
        end,
    }
}

/// How much of an output a source supplies verbatim.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overlap {
    /// Output words inside a copied run.
    pub copied_words: usize,
    /// The longest copied run, in words.
    pub longest_run: usize,
    /// Byte ranges of the output that are copied runs, in order.
    pub spans: Vec<(usize, usize)>,
}

fn gram_key(words: &[Word]) -> String {
    let mut k = String::new();
    for w in words {
        k.push_str(&w.text);
        k.push(' ');
    }
    k
}

/// A source's word runs of one length, built once and compared with many
/// outputs.
pub struct SourceGrams {
    grams: HashSet<String>,
    n: usize,
}

impl SourceGrams {
    /// The runs of `min_run` words of `source`.
    pub fn new(source: &[Word], min_run: usize) -> SourceGrams {
        let n = min_run.max(1);
        let grams = if source.len() < n {
            HashSet::new()
        } else {
            source.windows(n).map(gram_key).collect()
        };
        SourceGrams { grams, n }
    }

    /// The verbatim overlap of `output` with this source.
    pub fn overlap(&self, output: &[Word]) -> Overlap {
        let n = self.n;
        if output.len() < n || self.grams.is_empty() {
            return Overlap::default();
        }
        let mut covered = vec![false; output.len()];
        for (i, window) in output.windows(n).enumerate() {
            if self.grams.contains(&gram_key(window)) {
                covered[i..i + n].iter_mut().for_each(|c| *c = true);
            }
        }
        let mut result = Overlap::default();
        let mut run_start: Option<usize> = None;
        for i in 0..=covered.len() {
            let on = covered.get(i).copied().unwrap_or(false);
            match (on, run_start) {
                (true, None) => run_start = Some(i),
                (false, Some(s)) => {
                    result.copied_words += i - s;
                    result.longest_run = result.longest_run.max(i - s);
                    result.spans.push((output[s].start, output[i - 1].end));
                    run_start = None;
                }
                _ => {}
            }
        }
        result
    }
}

/// The verbatim overlap of `output` with `source`.
pub fn overlap(output: &[Word], source: &[Word], min_run: usize) -> Overlap {
    SourceGrams::new(source, min_run).overlap(output)
}

/// Whether `text` names a source: its title (every word, in order) or its
/// creator (as whole words).
pub fn names_source(text: &[Word], title: &str, creator: &str) -> bool {
    let contains = |needle: &[Word]| {
        !needle.is_empty()
            && text
                .windows(needle.len())
                .any(|w| w.iter().zip(needle).all(|(a, b)| a.text == b.text))
    };
    contains(&words(title)) || contains(&words(creator))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_inner_apostrophes_and_spans() {
        let w = words("Don't stop—it's 2.5 o’clock!");
        let texts: Vec<&str> = w.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["don't", "stop", "it's", "2", "5", "o'clock"]);
        assert_eq!(&"Don't stop"[w[1].start..w[1].end], "stop");
    }

    #[test]
    fn runs_shorter_than_the_minimum_are_not_copying() {
        let source = words("The prime minister said on Tuesday that rates would rise sharply.");
        let out = words("As the prime minister said, growth slowed.");
        assert_eq!(overlap(&out, &source, 5).copied_words, 0);
        let out = words("Reports say rates would rise sharply next year.");
        assert_eq!(overlap(&out, &source, 5).copied_words, 0);
        let out = words("He said on Tuesday that rates would rise sharply, again.");
        let o = overlap(&out, &source, 5);
        assert_eq!(o.copied_words, 8);
        assert_eq!(o.longest_run, 8);
        assert_eq!(o.spans.len(), 1);
    }

    #[test]
    fn attribution_by_title_or_creator() {
        let text = words("From \"Markets rally\" (BBC News): shares rose.");
        assert!(names_source(&text, "Markets rally", "someone"));
        assert!(names_source(&text, "Other title", "BBC News"));
        assert!(!names_source(&text, "Other title", "Reuters"));
        assert!(!names_source(&text, "", ""));
    }
}
