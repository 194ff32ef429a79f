//! The invisible in-text mark that carries a manifest id, and the soft
//! binding that finds a manifest when the mark is gone.
//!
//! The mark follows the approach of C2PA's proposal for plain text: bytes
//! encoded as Unicode variation selectors (U+FE00..U+FE0F for 0..15,
//! U+E0100..U+E01EF for 16..255), which render as nothing. `embed` puts the
//! magic `GRW1` and the 16-byte manifest id after the first character;
//! `extract` finds it; `strip_mark` removes that mark and nothing else (the
//! hard binding hashes what is left, so every other character is bound);
//! `strip` removes every variation selector, for display and the soft
//! binding; `smuggled` finds invisible characters outside the mark that
//! could carry a hidden payload.
//!
//! The soft binding is a 64-bit SimHash over the words of the
//! normalised text: light edits change few bits, so the nearest stored
//! fingerprint within a Hamming radius names the manifest of an edited or
//! stripped copy.

use sha2::{Digest, Sha256};

const MAGIC: &[u8; 4] = b"GRW1";

fn selector(byte: u8) -> char {
    let code = if byte < 16 {
        0xFE00 + byte as u32
    } else {
        0xE0100 + (byte as u32 - 16)
    };
    char::from_u32(code).unwrap_or('\u{FE00}')
}

fn selector_value(c: char) -> Option<u8> {
    let code = c as u32;
    match code {
        0xFE00..=0xFE0F => Some((code - 0xFE00) as u8),
        0xE0100..=0xE01EF => Some((code - 0xE0100 + 16) as u8),
        _ => None,
    }
}

/// Removes every variation selector (and so any mark).
pub fn strip(text: &str) -> String {
    text.chars()
        .filter(|&c| selector_value(c).is_none())
        .collect()
}

/// Embeds a mark carrying `manifest_id` after the first character of the
/// text (replacing an earlier mark; every other character is kept).
pub fn embed(text: &str, manifest_id: &[u8; 16]) -> String {
    let clean = strip_mark(text);
    let mut out = String::with_capacity(clean.len() + 4 * 20);
    let mut chars = clean.chars();
    if let Some(first) = chars.next() {
        out.push(first);
    }
    for &b in MAGIC.iter().chain(manifest_id.iter()) {
        out.push(selector(b));
    }
    out.extend(chars);
    out
}

/// The byte range of the first mark in the text: 20 consecutive variation
/// selectors that decode to `GRW1` and a manifest id.
pub fn mark_span(text: &str) -> Option<std::ops::Range<usize>> {
    let selectors: Vec<(usize, u8, usize)> = text
        .char_indices()
        .filter_map(|(i, c)| selector_value(c).map(|v| (i, v, c.len_utf8())))
        .collect();
    for w in selectors.windows(20) {
        let contiguous = w.windows(2).all(|p| p[0].0 + p[0].2 == p[1].0);
        if contiguous && w[..4].iter().map(|s| s.1).eq(MAGIC.iter().copied()) {
            let last = w[19];
            return Some(w[0].0..last.0 + last.2);
        }
    }
    None
}

/// Removes the first mark and nothing else: what the hard binding hashes.
pub fn strip_mark(text: &str) -> String {
    match mark_span(text) {
        Some(span) => {
            let mut out = String::with_capacity(text.len() - span.len());
            out.push_str(&text[..span.start]);
            out.push_str(&text[span.end..]);
            out
        }
        None => text.to_string(),
    }
}

/// The byte offset of the first invisible character outside the mark that
/// could smuggle a payload: two or more invisible characters in a row (see
/// [`crate::ids::is_invisible`]), a Unicode tag character, or a text that
/// starts with one. A single variation selector or joiner after a visible
/// character (emoji presentation, ZWJ sequences) is ordinary text.
pub fn smuggled(text: &str) -> Option<usize> {
    let mark = mark_span(text).unwrap_or(0..0);
    let mut previous_invisible = true; // the start of the text counts as invisible
    for (i, c) in text.char_indices() {
        if mark.contains(&i) {
            continue;
        }
        let invisible = crate::ids::is_invisible(c);
        if invisible && (previous_invisible || (0xE0000..=0xE007F).contains(&(c as u32))) {
            return Some(i);
        }
        previous_invisible = invisible;
    }
    None
}

/// The manifest id carried by a mark in the text, if any.
pub fn extract(text: &str) -> Option<[u8; 16]> {
    let span = mark_span(text)?;
    let bytes: Vec<u8> = text[span].chars().filter_map(selector_value).collect();
    bytes.get(4..20)?.try_into().ok()
}

/// The 64-bit SimHash soft binding of a text (marks ignored).
pub fn simhash(text: &str) -> u64 {
    let words: Vec<String> = strip(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut weights = [0i64; 64];
    // One feature per word: a changed word moves one feature of many.
    for s in &words {
        let d = Sha256::digest(s.as_bytes());
        let h = u64::from_be_bytes(d[..8].try_into().unwrap_or([0; 8]));
        for (bit, w) in weights.iter_mut().enumerate() {
            *w += if h >> bit & 1 == 1 { 1 } else { -1 };
        }
    }
    weights.iter().enumerate().fold(
        0u64,
        |acc, (bit, &w)| if w > 0 { acc | 1 << bit } else { acc },
    )
}

/// Bits that differ between two soft bindings.
pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Markets rallied on Friday as investors welcomed signs that inflation is cooling, \
with technology shares leading the gains and bond yields falling for a third day in a row.";

    #[test]
    fn a_mark_is_invisible_survives_the_round_trip_and_is_stripped_cleanly() {
        let id = [7u8; 16];
        let marked = embed(TEXT, &id);
        assert_ne!(marked, TEXT);
        assert_eq!(strip(&marked), TEXT);
        assert_eq!(extract(&marked), Some(id));
        assert_eq!(extract(TEXT), None);
        // Every byte value encodes and decodes.
        let all: [u8; 16] = core::array::from_fn(|i| (i * 17) as u8);
        assert_eq!(extract(&embed("x", &all)), Some(all));
        assert_eq!(extract(&embed("", &all)), Some(all));
        // Re-marking replaces the old mark.
        assert_eq!(extract(&embed(&marked, &[1; 16])), Some([1; 16]));
    }

    #[test]
    fn a_mark_survives_edits_elsewhere_in_the_text() {
        let marked = embed(TEXT, &[3; 16]);
        let edited = marked.replace("Friday", "Thursday") + " More to follow.";
        assert_eq!(extract(&edited), Some([3; 16]));
    }

    #[test]
    fn the_soft_binding_is_close_for_light_edits_and_far_for_other_text() {
        let a = simhash(TEXT);
        let light = simhash(&TEXT.replace("Friday", "Thursday"));
        let other = simhash(
            "The home side won the cup final after extra time, with a late goal from the captain sealing it.",
        );
        assert!(
            distance(a, light) <= 12,
            "light edit moved {} bits",
            distance(a, light)
        );
        assert!(
            distance(a, other) >= 16,
            "other text only {} bits away",
            distance(a, other)
        );
        assert_eq!(
            simhash(&embed(TEXT, &[9; 16])),
            a,
            "the mark does not change the binding"
        );
    }

    #[test]
    fn strip_mark_removes_the_mark_and_nothing_else() {
        let marked = embed(TEXT, &[5; 16]);
        assert_eq!(strip_mark(&marked), TEXT);
        // Selectors beside the mark stay, so the binding sees them.
        let extra: String = std::iter::repeat_n('\u{E0150}', 124).collect();
        let smuggling = format!("{marked}{extra}");
        assert_eq!(strip_mark(&smuggling), format!("{TEXT}{extra}"));
        assert_eq!(extract(&smuggling), Some([5; 16]));
        // Emoji presentation selectors are text, kept and bound.
        let emoji = "Sunny \u{2600}\u{FE0F} today";
        assert_eq!(strip_mark(&embed(emoji, &[1; 16])), emoji);
    }

    #[test]
    fn smuggled_finds_hidden_runs_outside_the_mark() {
        let marked = embed(TEXT, &[5; 16]);
        assert_eq!(smuggled(&marked), None);
        assert_eq!(
            smuggled("Sunny \u{2600}\u{FE0F} today, \u{1F468}\u{200D}\u{1F469}"),
            None
        );
        let extra: String = std::iter::repeat_n('\u{E0150}', 124).collect();
        assert!(smuggled(&format!("{marked}{extra}")).is_some());
        assert!(smuggled("ab\u{200B}\u{200C}\u{200B}cd").is_some());
        assert!(smuggled("flag\u{E0067}").is_some());
        assert!(smuggled("\u{FE0F}starts hidden").is_some());
    }
}
