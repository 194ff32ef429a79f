//! Attribution of generated sentences to source passages, for text written
//! by a language model.
//!
//! Each sentence of the output is matched with the passage that shares the
//! most of its content terms. It is *supported* when that passage holds at
//! least `min_overlap` (default 0.5) of the sentence's content terms and
//! every number the sentence states, the same test, in a lighter form, as
//! the trust service's authenticity check, which has the final word. An
//! unsupported sentence is kept and flagged, not dropped: whether it may be
//! shown is the trust service's decision.

use crate::draft::{Attribution, SourcePassage};
use crate::text::{self, sentences};

/// The share of a sentence's content terms a passage must hold.
pub const MIN_OVERLAP: f32 = 0.5;

fn numbers(s: &str) -> Vec<String> {
    text::words(s)
        .into_iter()
        .filter(|w| w.chars().any(|c| c.is_ascii_digit()))
        .map(|w| w.replace(',', ""))
        .collect()
}

/// One attribution per sentence of `body`, in order.
pub fn attribute(body: &str, passages: &[SourcePassage]) -> Vec<Attribution> {
    let passage_terms: Vec<Vec<String>> = passages.iter().map(|p| text::terms(&p.text)).collect();
    let passage_numbers: Vec<Vec<String>> = passages.iter().map(|p| numbers(&p.text)).collect();
    sentences(body)
        .into_iter()
        .map(|s| {
            let mut terms = text::terms(&s.text);
            terms.sort();
            terms.dedup();
            let nums = numbers(&s.text);
            let mut best: Option<(usize, f32)> = None;
            for (i, pt) in passage_terms.iter().enumerate() {
                if terms.is_empty() {
                    break;
                }
                let overlap =
                    terms.iter().filter(|t| pt.contains(t)).count() as f32 / terms.len() as f32;
                if best.is_none_or(|(_, b)| overlap > b) {
                    best = Some((i, overlap));
                }
            }
            match best {
                Some((i, overlap)) if overlap > 0.0 => {
                    let has_numbers = nums.iter().all(|n| passage_numbers[i].contains(n));
                    Attribution {
                        start: s.start,
                        end: s.end,
                        source_id: passages[i].id.clone(),
                        score: overlap,
                        supported: overlap >= MIN_OVERLAP && has_numbers,
                        framing: false,
                    }
                }
                _ => Attribution {
                    start: s.start,
                    end: s.end,
                    source_id: String::new(),
                    score: 0.0,
                    supported: false,
                    framing: false,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passages() -> Vec<SourcePassage> {
        vec![
            SourcePassage {
                id: "a#0".into(),
                item_id: "a".into(),
                text: "The FTSE 100 rose 1.2% to a record high on Monday.".into(),
            },
            SourcePassage {
                id: "b#3".into(),
                item_id: "b".into(),
                text: "Brent crude fell to $80 a barrel.".into(),
            },
        ]
    }

    #[test]
    fn a_paraphrase_with_the_same_facts_is_supported() {
        let a = attribute("On Monday the FTSE 100 rose 1.2% to a record.", &passages());
        assert_eq!(a.len(), 1);
        assert!(a[0].supported);
        assert_eq!(a[0].source_id, "a#0");
    }

    #[test]
    fn a_changed_number_or_an_unrelated_sentence_is_flagged() {
        let a = attribute(
            "Brent crude fell to $70 a barrel. Aliens landed in the garden.",
            &passages(),
        );
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].source_id, "b#3");
        assert!(!a[0].supported, "the number differs");
        assert!(!a[1].supported);
        assert!(a[1].source_id.is_empty());
    }
}
