//! Word-level phrase matching shared by the safety and bias checks.
//!
//! Text is normalised once ([`Normalized`]): words are runs of letters and
//! digits, lower-cased, with inner apostrophes dropped (`don't` → `dont`);
//! inner hyphens either split words (`self-harm` → `self harm`) or join
//! them (`able-bodied` → `ablebodied`, as retext-equality spells its
//! terms). Words of one sentence are joined by one space, sentences by a
//! newline, so a phrase never spans two sentences. Phrases go through the
//! same normalisation, and all of a check's phrases are compiled into one
//! Aho-Corasick automaton ([`PhraseSet`]) that reports whole-word matches
//! with their byte spans in the original text.
//!
//! Phrase templates expand alternatives: `{i will|ill} kill you` is two
//! phrases, `[really ]bad` is `bad` and `really bad`, `{@groups}` is every
//! entry of a named list, and a trailing `*` matches any ending of the last
//! word (`behead*`).

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// How inner hyphens are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hyphens {
    /// `self-harm` is two words.
    Split,
    /// `able-bodied` is one word, `ablebodied`.
    Join,
}

/// One word of a normalised text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Word {
    /// Byte range in the normalised text.
    pub norm: (usize, usize),
    /// Byte range in the original text.
    pub span: (usize, usize),
    /// Index of the sentence the word belongs to.
    pub sentence: usize,
}

/// A text normalised for phrase matching.
#[derive(Clone, Debug, Default)]
pub struct Normalized {
    /// Lower-case words, one space between words of a sentence, a newline
    /// between sentences.
    pub text: String,
    pub words: Vec<Word>,
    /// Per sentence, the range of its words in `words`.
    pub sentences: Vec<(usize, usize)>,
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{02bc}')
}

fn is_hyphen(c: char) -> bool {
    matches!(c, '-' | '\u{2010}' | '\u{2011}')
}

fn ends_sentence(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '\u{2026}' | ';' | '\n')
}

impl Normalized {
    /// Normalises `text`.
    pub fn new(text: &str, hyphens: Hyphens) -> Normalized {
        let mut n = Normalized {
            text: String::with_capacity(text.len()),
            words: Vec::with_capacity(text.len() / 5),
            sentences: Vec::new(),
        };
        let bytes = text.as_bytes();
        let mut sentence = 0usize;
        let mut sentence_start = 0usize;
        // Whether a sentence break was seen since the last word.
        let mut broke = false;
        let mut iter = text.char_indices().peekable();
        while let Some((i, c)) = iter.next() {
            if !c.is_alphanumeric() {
                if ends_sentence(c) {
                    // `3.5`, `a.d.d` and `e.g.x` do not end a sentence.
                    let next = iter.peek().map(|&(_, d)| d);
                    if c != '.' || next.is_none_or(|d| !d.is_alphanumeric()) {
                        broke = true;
                    }
                }
                continue;
            }
            // A word starts at i.
            if !n.words.is_empty() {
                if broke {
                    n.sentences.push((sentence_start, n.words.len()));
                    sentence_start = n.words.len();
                    sentence += 1;
                    n.text.push('\n');
                } else {
                    n.text.push(' ');
                }
            }
            broke = false;
            let norm_start = n.text.len();
            let mut end = i;
            push_lower(&mut n.text, c);
            end += c.len_utf8();
            while let Some(&(j, d)) = iter.peek() {
                if d.is_alphanumeric() {
                    push_lower(&mut n.text, d);
                    end = j + d.len_utf8();
                    iter.next();
                    continue;
                }
                let joins = is_apostrophe(d) || (hyphens == Hyphens::Join && is_hyphen(d));
                if joins {
                    // Only inside a word: the next character must be a letter.
                    let after = j + d.len_utf8();
                    let next_alnum = text[after..]
                        .chars()
                        .next()
                        .is_some_and(|e| e.is_alphanumeric());
                    if next_alnum {
                        iter.next();
                        continue;
                    }
                }
                break;
            }
            debug_assert!(end <= bytes.len());
            n.words.push(Word {
                norm: (norm_start, n.text.len()),
                span: (i, end),
                sentence,
            });
        }
        if !n.words.is_empty() {
            n.sentences.push((sentence_start, n.words.len()));
        }
        n
    }

    /// The original byte span of sentence `s`, from its first word to its
    /// last.
    pub fn sentence_span(&self, s: usize) -> (usize, usize) {
        let (a, b) = self.sentences[s];
        (self.words[a].span.0, self.words[b - 1].span.1)
    }

    /// The word whose normalised text starts at byte `at`.
    fn word_starting_at(&self, at: usize) -> Option<usize> {
        self.words.binary_search_by_key(&at, |w| w.norm.0).ok()
    }

    /// The word whose normalised text contains byte `at`.
    pub fn word_containing(&self, at: usize) -> Option<usize> {
        let i = self.words.partition_point(|w| w.norm.1 <= at);
        (i < self.words.len() && self.words[i].norm.0 <= at).then_some(i)
    }

    /// The original span from word `a` to word `b` (inclusive).
    pub fn span(&self, a: usize, b: usize) -> (usize, usize) {
        (self.words[a].span.0, self.words[b].span.1)
    }

    /// Whether word `i` looks like a name: capitalised, not all capitals,
    /// and not the first word of its sentence.
    pub fn looks_like_name(&self, original: &str, i: usize) -> bool {
        let w = self.words[i];
        let (first_of_sentence, _) = self.sentences[w.sentence];
        if first_of_sentence == i {
            return false;
        }
        let text = &original[w.span.0..w.span.1];
        let mut letters = text.chars().filter(|c| c.is_alphabetic());
        let Some(first) = letters.next() else {
            return false;
        };
        first.is_uppercase() && letters.any(char::is_lowercase)
    }

    /// The normalised text of words `a..=b`.
    pub fn norm_text(&self, a: usize, b: usize) -> &str {
        &self.text[self.words[a].norm.0..self.words[b].norm.1]
    }
}

fn push_lower(out: &mut String, c: char) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
    } else {
        out.extend(c.to_lowercase());
    }
}

/// Normalises a phrase: the words of `phrase`, lower-cased, joined by one
/// space (sentence punctuation inside a phrase is ignored).
pub fn normalize_phrase(phrase: &str, hyphens: Hyphens) -> String {
    let n = Normalized::new(phrase, hyphens);
    let mut out = String::with_capacity(n.text.len());
    for (i, w) in n.words.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&n.text[w.norm.0..w.norm.1]);
    }
    out
}

/// The most phrases one template may expand to.
const MAX_EXPANSION: usize = 20_000;

/// Expands a phrase template: `{a|b}` alternatives, `[x]` optional parts,
/// `{@name}` every entry of `lists[name]`. Nesting is not supported.
pub fn expand(template: &str, lists: &HashMap<String, Vec<String>>) -> Result<Vec<String>, String> {
    let mut out = vec![String::new()];
    let mut rest = template;
    while !rest.is_empty() {
        let open = rest.find(['{', '[']);
        let Some(open) = open else {
            for o in &mut out {
                o.push_str(rest);
            }
            break;
        };
        for o in &mut out {
            o.push_str(&rest[..open]);
        }
        let (close_char, optional) = if rest.as_bytes()[open] == b'{' {
            ('}', false)
        } else {
            (']', true)
        };
        let body_start = open + 1;
        let close = rest[body_start..]
            .find(close_char)
            .map(|c| c + body_start)
            .ok_or_else(|| format!("unclosed {:?} in {template:?}", &rest[open..=open]))?;
        let body = &rest[body_start..close];
        if body.contains(['{', '[', '}', ']']) {
            return Err(format!("nested alternatives in {template:?}"));
        }
        let mut alternatives: Vec<String> = if let Some(name) = body.strip_prefix('@') {
            lists
                .get(name)
                .ok_or_else(|| format!("unknown list {{@{name}}} in {template:?}"))?
                .clone()
        } else {
            body.split('|').map(str::to_string).collect()
        };
        if optional {
            alternatives.push(String::new());
        }
        if out.len() * alternatives.len() > MAX_EXPANSION {
            return Err(format!(
                "{template:?} expands to more than {MAX_EXPANSION} phrases"
            ));
        }
        out = out
            .iter()
            .flat_map(|o| alternatives.iter().map(move |a| format!("{o}{a}")))
            .collect();
        rest = &rest[close + 1..];
    }
    Ok(out)
}

/// A whole-word match of a phrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Index of the phrase in the set.
    pub phrase: usize,
    /// First and last word (inclusive) in the normalised text.
    pub first: usize,
    pub last: usize,
}

/// Phrases compiled into one automaton, each with a payload.
pub struct PhraseSet<T> {
    ac: Option<AhoCorasick>,
    /// Per distinct phrase: whether it matches any ending of its last word,
    /// and its payloads.
    entries: Vec<(bool, Vec<T>)>,
    hyphens: Hyphens,
}

impl<T> std::fmt::Debug for PhraseSet<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhraseSet")
            .field("phrases", &self.entries.len())
            .finish()
    }
}

/// Collects phrases for a [`PhraseSet`].
pub struct PhraseSetBuilder<T> {
    index: HashMap<(String, bool), usize>,
    patterns: Vec<String>,
    entries: Vec<(bool, Vec<T>)>,
    hyphens: Hyphens,
}

impl<T> PhraseSetBuilder<T> {
    pub fn new(hyphens: Hyphens) -> Self {
        PhraseSetBuilder {
            index: HashMap::new(),
            patterns: Vec::new(),
            entries: Vec::new(),
            hyphens,
        }
    }

    /// Adds one phrase (not a template); a trailing `*` matches any ending
    /// of the last word. Returns false when the phrase has no words.
    pub fn add(&mut self, phrase: &str, payload: T) -> bool {
        let (phrase, prefix) = match phrase.trim_end().strip_suffix('*') {
            Some(p) => (p, true),
            None => (phrase, false),
        };
        let norm = normalize_phrase(phrase, self.hyphens);
        if norm.is_empty() {
            return false;
        }
        let key = (norm, prefix);
        let slot = match self.index.get(&key) {
            Some(&slot) => slot,
            None => {
                let slot = self.entries.len();
                self.patterns.push(key.0.clone());
                self.entries.push((prefix, Vec::new()));
                self.index.insert(key, slot);
                slot
            }
        };
        self.entries[slot].1.push(payload);
        true
    }

    /// Number of distinct phrases so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no phrase was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Compiles the automaton.
    pub fn build(self) -> Result<PhraseSet<T>, String> {
        let ac = if self.patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::Standard)
                    .build(&self.patterns)
                    .map_err(|e| format!("cannot compile the phrase automaton: {e}"))?,
            )
        };
        Ok(PhraseSet {
            ac,
            entries: self.entries,
            hyphens: self.hyphens,
        })
    }
}

impl<T> PhraseSet<T> {
    /// Heap memory of the automaton, in bytes.
    pub fn memory_usage(&self) -> usize {
        self.ac.as_ref().map_or(0, AhoCorasick::memory_usage)
    }

    /// How the set normalises text.
    pub fn hyphens(&self) -> Hyphens {
        self.hyphens
    }

    /// The payloads of phrase `i`.
    pub fn payloads(&self, i: usize) -> &[T] {
        &self.entries[i].1
    }

    /// Calls `f` for every whole-word match in `text` (normalised with this
    /// set's hyphen rule), overlapping ones included, in order of their end.
    pub fn for_each(&self, text: &Normalized, mut f: impl FnMut(Hit)) {
        let Some(ac) = &self.ac else { return };
        let bytes = text.text.as_bytes();
        for m in ac.find_overlapping_iter(&text.text) {
            let (s, e) = (m.start(), m.end());
            // Words are separated by one space or newline: whole-word
            // checks are byte tests, before any search.
            if s > 0 && !matches!(bytes[s - 1], b' ' | b'\n') {
                continue;
            }
            let prefix = self.entries[m.pattern().as_usize()].0;
            let at_word_end = e == bytes.len() || matches!(bytes[e], b' ' | b'\n');
            if !at_word_end && !prefix {
                continue;
            }
            let Some(first) = text.word_starting_at(s) else {
                continue;
            };
            let Some(last) = text.word_containing(e - 1) else {
                continue;
            };
            f(Hit {
                phrase: m.pattern().as_usize(),
                first,
                last,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_apostrophes_and_hyphens() {
        let n = Normalized::new("I'll  NOT self-harm, ok?", Hyphens::Split);
        assert_eq!(n.text, "ill not self harm ok");
        let n = Normalized::new("an Able-bodied man's job", Hyphens::Join);
        assert_eq!(n.text, "an ablebodied mans job");
        assert_eq!(n.words[1].span, (3, 14));
    }

    #[test]
    fn sentences_are_separated_by_newlines_but_decimals_and_initialisms_are_not() {
        let n = Normalized::new(
            "It costs 3.5 euros. A.D.D. is real! Next line\nhere",
            Hyphens::Split,
        );
        assert_eq!(
            n.text,
            "it costs 3 5 euros\na d d\nis real\nnext line\nhere"
        );
        assert_eq!(n.sentences.len(), 5);
        assert_eq!(n.sentence_span(0), (0, 18));
    }

    #[test]
    fn templates_expand_alternatives_options_and_lists() {
        let mut lists = HashMap::new();
        lists.insert(
            "who".to_string(),
            vec!["you".to_string(), "them".to_string()],
        );
        let got = expand("{i will|ill} [really ]hurt {@who}", &lists).unwrap();
        assert_eq!(got.len(), 8);
        assert!(got.contains(&"ill really hurt them".to_string()));
        assert!(got.contains(&"i will hurt you".to_string()));
        assert!(expand("{a|b", &lists).unwrap_err().contains("unclosed"));
        assert!(
            expand("{@nope}", &lists)
                .unwrap_err()
                .contains("unknown list")
        );
    }

    #[test]
    fn matches_whole_words_only_unless_the_phrase_ends_with_a_star() {
        let mut b = PhraseSetBuilder::new(Hyphens::Split);
        b.add("gun", 1);
        b.add("behead*", 2);
        b.add("self harm", 3);
        let set = b.build().unwrap();
        let n = Normalized::new(
            "Begun: the beheading; guns? no. Self-harm talk. gun",
            Hyphens::Split,
        );
        let mut found = Vec::new();
        set.for_each(&n, |h| {
            found.push((set.payloads(h.phrase)[0], n.span(h.first, h.last)))
        });
        assert_eq!(found, vec![(2, (11, 20)), (3, (32, 41)), (1, (48, 51))]);
    }

    #[test]
    fn phrases_do_not_cross_sentences() {
        let mut b = PhraseSetBuilder::new(Hyphens::Split);
        b.add("kill you", ());
        let set = b.build().unwrap();
        let n = Normalized::new("They kill. You know it.", Hyphens::Split);
        let mut count = 0;
        set.for_each(&n, |_| count += 1);
        assert_eq!(count, 0);
    }
}
