//! The content model: TF-IDF vectors of item text.
//!
//! Text is lower-cased and split on every non-alphanumeric character;
//! English stop words and one-character tokens are dropped. The title is
//! counted twice, then body and tags once each. Term weights are sublinear
//! tf (`1 + ln tf`) times smoothed idf (`ln((1 + n) / (1 + df)) + 1`, `n` =
//! number of items), and every item vector is L2-normalised, so a dot product
//! with another unit vector is a cosine. Vectors are stored sparse twice:
//! by item (for profiles and item-to-item similarity) and by term (postings,
//! for short queries), so nothing is ever dense in the vocabulary × items
//! space.

use std::collections::HashMap;

use super::ItemText;

/// Sparse, L2-normalised TF-IDF vectors of every item, with postings.
#[derive(Clone, Debug, Default)]
pub(crate) struct ContentModel {
    vocab: HashMap<String, u32>,
    idf: Vec<f32>,
    /// CSR by item: `item_terms[item_ptr[i]..item_ptr[i + 1]]`, sorted by term.
    item_ptr: Vec<usize>,
    item_terms: Vec<u32>,
    item_weights: Vec<f32>,
    /// CSR by term: the items containing it, sorted by item.
    post_ptr: Vec<usize>,
    post_items: Vec<u32>,
    post_weights: Vec<f32>,
}

impl ContentModel {
    /// Builds the vectors of `n_items` items; `texts[i]` is item `i`'s text,
    /// and items past the end of `texts` have no text.
    pub(crate) fn build(texts: &[ItemText], n_items: usize) -> Self {
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut df: Vec<u32> = Vec::new();
        // Raw term counts per item, CSR by item.
        let mut item_ptr = Vec::with_capacity(n_items + 1);
        item_ptr.push(0);
        let mut item_terms: Vec<u32> = Vec::new();
        let mut item_counts: Vec<u32> = Vec::new();
        let mut counts: HashMap<u32, u32> = HashMap::new();
        let mut buf = String::new();
        for i in 0..n_items {
            counts.clear();
            if let Some(text) = texts.get(i) {
                let mut add = |token: &str, times: u32| {
                    let id = match vocab.get(token) {
                        Some(&id) => id,
                        None => {
                            let id = df.len() as u32;
                            vocab.insert(token.to_owned(), id);
                            df.push(0);
                            id
                        }
                    };
                    *counts.entry(id).or_insert(0) += times;
                };
                for_each_token(&text.title, &mut buf, |t| add(t, 2));
                for_each_token(&text.body, &mut buf, |t| add(t, 1));
                for tag in &text.tags {
                    for_each_token(tag, &mut buf, |t| add(t, 1));
                }
            }
            let mut terms: Vec<(u32, u32)> = counts.iter().map(|(&t, &c)| (t, c)).collect();
            terms.sort_unstable_by_key(|&(t, _)| t);
            for (t, c) in terms {
                df[t as usize] += 1;
                item_terms.push(t);
                item_counts.push(c);
            }
            item_ptr.push(item_terms.len());
        }

        let n = n_items as f32;
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)
            .collect();
        let mut item_weights: Vec<f32> = item_terms
            .iter()
            .zip(&item_counts)
            .map(|(&t, &c)| (1.0 + (c as f32).ln()) * idf[t as usize])
            .collect();
        for i in 0..n_items {
            let w = &mut item_weights[item_ptr[i]..item_ptr[i + 1]];
            let norm = w.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                w.iter_mut().for_each(|x| *x /= norm);
            }
        }

        // Postings: transpose the item CSR.
        let n_terms = df.len();
        let mut post_ptr = vec![0usize; n_terms + 1];
        for &t in &item_terms {
            post_ptr[t as usize + 1] += 1;
        }
        for t in 0..n_terms {
            post_ptr[t + 1] += post_ptr[t];
        }
        let mut fill = post_ptr.clone();
        let mut post_items = vec![0u32; item_terms.len()];
        let mut post_weights = vec![0f32; item_terms.len()];
        for i in 0..n_items {
            for k in item_ptr[i]..item_ptr[i + 1] {
                let t = item_terms[k] as usize;
                post_items[fill[t]] = i as u32;
                post_weights[fill[t]] = item_weights[k];
                fill[t] += 1;
            }
        }

        ContentModel {
            vocab,
            idf,
            item_ptr,
            item_terms,
            item_weights,
            post_ptr,
            post_items,
            post_weights,
        }
    }

    fn n_items(&self) -> usize {
        self.item_ptr.len().saturating_sub(1)
    }

    fn n_terms(&self) -> usize {
        self.idf.len()
    }

    /// The sparse unit vector of item `i` (terms sorted), empty when it has
    /// no known text or is out of range.
    pub(crate) fn item_vector(&self, i: usize) -> (&[u32], &[f32]) {
        match (self.item_ptr.get(i), self.item_ptr.get(i + 1)) {
            (Some(&a), Some(&b)) => (&self.item_terms[a..b], &self.item_weights[a..b]),
            _ => (&[], &[]),
        }
    }

    /// The unit TF-IDF vector of free text, over the known vocabulary (terms
    /// never seen in any item are ignored). Sorted by term.
    pub(crate) fn vectorize(&self, text: &str) -> Vec<(u32, f32)> {
        let mut counts: HashMap<u32, u32> = HashMap::new();
        let mut buf = String::new();
        for_each_token(text, &mut buf, |t| {
            if let Some(&id) = self.vocab.get(t) {
                *counts.entry(id).or_insert(0) += 1;
            }
        });
        let mut v: Vec<(u32, f32)> = counts
            .into_iter()
            .map(|(t, c)| (t, (1.0 + (c as f32).ln()) * self.idf[t as usize]))
            .collect();
        v.sort_unstable_by_key(|&(t, _)| t);
        normalise(&mut v);
        v
    }

    /// The unit profile `Σ w · v_item` of a signed history (sorted by term);
    /// empty when the history has no text or cancels out.
    pub(crate) fn profile(&self, history: &[(u32, f32)]) -> Vec<(u32, f32)> {
        let mut dense: Vec<f32> = Vec::new();
        let mut touched: Vec<u32> = Vec::new();
        for &(item, w) in history {
            let (terms, weights) = self.item_vector(item as usize);
            if terms.is_empty() {
                continue;
            }
            if dense.is_empty() {
                dense = vec![0.0; self.n_terms()];
            }
            for (&t, &x) in terms.iter().zip(weights) {
                let slot = &mut dense[t as usize];
                if *slot == 0.0 {
                    touched.push(t);
                }
                *slot += w * x;
            }
        }
        touched.sort_unstable();
        touched.dedup();
        let mut v: Vec<(u32, f32)> = touched
            .into_iter()
            .map(|t| (t, dense[t as usize]))
            .filter(|&(_, x)| x != 0.0 && x.is_finite())
            .collect();
        normalise(&mut v);
        v
    }

    /// Dot products of a sparse vector with every item, into `out` (length
    /// at least `n_items`, overwritten). With a unit `query` these are
    /// cosines. Uses the postings when the query touches few of them, else a
    /// dense lookup per item.
    pub(crate) fn dot_all(&self, query: &[(u32, f32)], out: &mut [f32]) {
        out.iter_mut().for_each(|x| *x = 0.0);
        if query.is_empty() {
            return;
        }
        let postings: usize = query
            .iter()
            .map(|&(t, _)| self.post_ptr[t as usize + 1] - self.post_ptr[t as usize])
            .sum();
        if postings <= self.item_terms.len() {
            for &(t, q) in query {
                let (a, b) = (self.post_ptr[t as usize], self.post_ptr[t as usize + 1]);
                for (&i, &x) in self.post_items[a..b].iter().zip(&self.post_weights[a..b]) {
                    if let Some(slot) = out.get_mut(i as usize) {
                        *slot += q * x;
                    }
                }
            }
        } else {
            let mut dense = vec![0.0f32; self.n_terms()];
            for &(t, q) in query {
                dense[t as usize] = q;
            }
            for (i, slot) in out.iter_mut().enumerate().take(self.n_items()) {
                let (terms, weights) = self.item_vector(i);
                *slot = terms
                    .iter()
                    .zip(weights)
                    .map(|(&t, &x)| dense[t as usize] * x)
                    .sum();
            }
        }
    }
}

fn normalise(v: &mut [(u32, f32)]) {
    let norm = v.iter().map(|&(_, x)| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter_mut().for_each(|(_, x)| *x /= norm);
    }
}

/// Calls `f` with every kept token of `text`, lower-cased (`buf` is scratch).
fn for_each_token(text: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    for raw in text.split(|c: char| !c.is_alphanumeric()) {
        if raw.is_empty() {
            continue;
        }
        buf.clear();
        buf.extend(raw.chars().flat_map(char::to_lowercase));
        if buf.chars().nth(1).is_none() || is_stop_word(buf) {
            continue;
        }
        f(buf);
    }
}

/// English stop words (the NLTK list, with contraction fragments, plus a
/// few very common function words).
fn is_stop_word(w: &str) -> bool {
    matches!(
        w,
        "a" | "about"
            | "above"
            | "after"
            | "again"
            | "against"
            | "ain"
            | "all"
            | "also"
            | "am"
            | "an"
            | "and"
            | "any"
            | "are"
            | "aren"
            | "as"
            | "at"
            | "be"
            | "because"
            | "been"
            | "before"
            | "being"
            | "below"
            | "between"
            | "both"
            | "but"
            | "by"
            | "can"
            | "could"
            | "couldn"
            | "did"
            | "didn"
            | "do"
            | "does"
            | "doesn"
            | "doing"
            | "don"
            | "down"
            | "during"
            | "each"
            | "etc"
            | "few"
            | "for"
            | "from"
            | "further"
            | "had"
            | "hadn"
            | "has"
            | "hasn"
            | "have"
            | "haven"
            | "having"
            | "he"
            | "her"
            | "here"
            | "hers"
            | "herself"
            | "him"
            | "himself"
            | "his"
            | "how"
            | "if"
            | "in"
            | "into"
            | "is"
            | "isn"
            | "it"
            | "its"
            | "itself"
            | "just"
            | "ll"
            | "ma"
            | "may"
            | "me"
            | "might"
            | "mightn"
            | "more"
            | "most"
            | "must"
            | "mustn"
            | "my"
            | "myself"
            | "needn"
            | "no"
            | "nor"
            | "not"
            | "now"
            | "of"
            | "off"
            | "on"
            | "once"
            | "only"
            | "or"
            | "other"
            | "our"
            | "ours"
            | "ourselves"
            | "out"
            | "over"
            | "own"
            | "re"
            | "same"
            | "shall"
            | "shan"
            | "she"
            | "should"
            | "shouldn"
            | "so"
            | "some"
            | "such"
            | "than"
            | "that"
            | "the"
            | "their"
            | "theirs"
            | "them"
            | "themselves"
            | "then"
            | "there"
            | "these"
            | "they"
            | "this"
            | "those"
            | "through"
            | "to"
            | "too"
            | "under"
            | "until"
            | "up"
            | "upon"
            | "us"
            | "ve"
            | "very"
            | "was"
            | "wasn"
            | "we"
            | "were"
            | "weren"
            | "what"
            | "when"
            | "where"
            | "which"
            | "while"
            | "who"
            | "whom"
            | "why"
            | "will"
            | "with"
            | "won"
            | "would"
            | "wouldn"
            | "you"
            | "your"
            | "yours"
            | "yourself"
            | "yourselves"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(title: &str, body: &str, tags: &[&str]) -> ItemText {
        ItemText {
            title: title.into(),
            body: body.into(),
            tags: tags.iter().map(|t| (*t).into()).collect(),
        }
    }

    #[test]
    fn tokeniser_lowercases_splits_and_drops_stop_words() {
        let mut buf = String::new();
        let mut seen = Vec::new();
        for_each_token("The Quick-brown FOX's den, a 2nd Übung!", &mut buf, |t| {
            seen.push(t.to_owned())
        });
        assert_eq!(seen, ["quick", "brown", "fox", "den", "2nd", "übung"]);
    }

    #[test]
    fn item_vectors_are_unit_length_and_title_counts_twice() {
        let m = ContentModel::build(&[text("rust", "go", &[]), text("python", "", &["java"])], 3);
        let (terms, w) = m.item_vector(0);
        assert_eq!(terms.len(), 2);
        let norm: f32 = w.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        // Same idf for "rust" and "go" (df = 1 each); title tf = 2.
        let rust = m.vocab["rust"];
        let go = m.vocab["go"];
        let weight = |t: u32| w[terms.iter().position(|&x| x == t).unwrap()];
        assert!((weight(rust) / weight(go) - (1.0 + 2f32.ln())).abs() < 1e-5);
        // Item 2 has no text at all.
        assert!(m.item_vector(2).0.is_empty());
        assert!(m.item_vector(99).0.is_empty());
    }

    #[test]
    fn query_cosines_are_in_unit_interval_and_match_the_right_item() {
        let m = ContentModel::build(
            &[
                text("Stock markets rally", "shares rose on the exchange", &[]),
                text("Football final", "the team won the cup", &["sport"]),
            ],
            2,
        );
        let q = m.vectorize("who won the football cup?");
        let mut out = vec![0.0; 2];
        m.dot_all(&q, &mut out);
        assert!(out[1] > 0.0 && out[1] <= 1.0 + 1e-6);
        assert_eq!(out[0], 0.0);
        // Unknown words only: nothing matches, nothing panics.
        let q = m.vectorize("zzz qqq");
        assert!(q.is_empty());
        m.dot_all(&q, &mut out);
        assert_eq!(out, [0.0, 0.0]);
    }

    #[test]
    fn dense_and_postings_paths_agree() {
        let texts: Vec<ItemText> = (0..20)
            .map(|i| {
                text(
                    &format!("w{} common", i % 5),
                    &format!("x{} y{}", i % 3, i % 7),
                    &[],
                )
            })
            .collect();
        let m = ContentModel::build(&texts, 20);
        let profile = m.profile(&[(0, 1.0), (3, 1.0), (7, -0.5), (11, 2.0)]);
        let mut via_postings = vec![0.0; 20];
        m.dot_all(&profile, &mut via_postings);
        let mut dense = vec![0.0f32; m.n_terms()];
        for &(t, q) in &profile {
            dense[t as usize] = q;
        }
        for (i, &got) in via_postings.iter().enumerate() {
            let (terms, w) = m.item_vector(i);
            let want: f32 = terms
                .iter()
                .zip(w)
                .map(|(&t, &x)| dense[t as usize] * x)
                .sum();
            assert!((got - want).abs() < 1e-5);
        }
    }
}
