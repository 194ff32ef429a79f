//! The in-text mark on arbitrary text: reading never panics, an embedded
//! mark is always found and removed exactly, and the hard binding ignores
//! the mark and nothing else.
#![no_main]

use generec_provenance::{manifest, watermark};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = watermark::extract(text);
    let _ = watermark::smuggled(text);
    let _ = watermark::simhash(text);
    if text.is_empty() {
        return;
    }
    let id: [u8; 16] = std::array::from_fn(|i| data[i % data.len()] ^ i as u8);
    let marked = watermark::embed(text, &id);
    assert_eq!(watermark::extract(&marked), Some(id));
    assert_eq!(watermark::strip_mark(&marked), watermark::strip_mark(text));
    assert_eq!(
        manifest::hard_binding(&marked),
        manifest::hard_binding(text)
    );
});
