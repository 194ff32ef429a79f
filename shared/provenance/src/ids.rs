//! What an id, a name and a hash may look like wherever one is signed,
//! logged or stored: the corpus validates item ids with these rules, and
//! the trust service validates every id, action name and hash it signs or
//! logs with the same ones, so a value one part accepts the other accepts.
//!
//! An id is 1 to [`MAX_ID_BYTES`] bytes with no whitespace, no control
//! character and no invisible character (format characters such as the
//! bidirectional overrides U+202A..U+202E and U+2066..U+2069, zero-width
//! characters, the byte-order mark, Unicode tag characters, variation
//! selectors). A name (an action such as `c2pa.created`, a relationship
//! such as `parentOf`) is printable ASCII from a small alphabet. A hash is
//! exactly 64 hex digits.

/// Longest id, in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Longest action or relationship name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// Longest free-text label (a generator's name or version), in bytes.
pub const MAX_LABEL_BYTES: usize = 128;

/// Whether `c` renders as nothing or reorders text: format characters
/// (Unicode category Cf), variation selectors, the combining grapheme
/// joiner, Hangul fillers and the Mongolian free variation selectors.
pub fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD
        | 0x034F
        | 0x0600..=0x0605
        | 0x061C
        | 0x06DD
        | 0x070F
        | 0x08E2
        | 0x115F..=0x1160
        | 0x17B4..=0x17B5
        | 0x180B..=0x180F
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x2064
        | 0x2066..=0x206F
        | 0x3164
        | 0xFE00..=0xFE0F
        | 0xFEFF
        | 0xFFA0
        | 0xFFF9..=0xFFFB
        | 0x110BD
        | 0x110CD
        | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A
        | 0xE0000..=0xE007F
        | 0xE0100..=0xE01EF)
}

/// Checks an id; the error says what is wrong, without the field's name.
pub fn check_id(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > MAX_ID_BYTES {
        return Err(format!(
            "is {} bytes; the limit is {MAX_ID_BYTES}",
            value.len()
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|&c| c.is_control() || c.is_whitespace() || is_invisible(c))
    {
        return Err(format!(
            "must not contain whitespace, control or invisible characters (found U+{:04X})",
            c as u32
        ));
    }
    Ok(())
}

/// Checks a name such as `c2pa.created` or `parentOf`: 1 to
/// [`MAX_NAME_BYTES`] bytes of ASCII letters, digits, `.`, `_` and `-`,
/// starting with a letter.
pub fn check_name(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > MAX_NAME_BYTES {
        return Err(format!(
            "is {} bytes; the limit is {MAX_NAME_BYTES}",
            value.len()
        ));
    }
    let first_ok = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic());
    let all_ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !first_ok || !all_ok {
        return Err(format!(
            "{:?} is not a name: ASCII letters, digits, '.', '_' and '-', starting with a letter",
            value.escape_default().to_string()
        ));
    }
    Ok(())
}

/// Checks a free-text label (a generator's name or version): 1 to
/// [`MAX_LABEL_BYTES`] bytes, spaces allowed, no control or invisible
/// characters.
pub fn check_label(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > MAX_LABEL_BYTES {
        return Err(format!(
            "is {} bytes; the limit is {MAX_LABEL_BYTES}",
            value.len()
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|&c| c.is_control() || is_invisible(c) || (c.is_whitespace() && c != ' '))
    {
        return Err(format!(
            "must not contain control, invisible or non-space whitespace characters (found U+{:04X})",
            c as u32
        ));
    }
    Ok(())
}

/// Longest licence id, in bytes.
pub const MAX_LICENCE_BYTES: usize = 64;

/// Whether `value` is an SPDX-style licence id: 1 to [`MAX_LICENCE_BYTES`]
/// bytes of ASCII letters, digits, `.`, `+` and `-`, starting with a letter
/// or digit (`CC-BY-4.0`, `all-rights-reserved`, `LicenseRef-house-style`).
/// The corpus and the trust service apply this one rule.
pub fn is_licence(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_LICENCE_BYTES
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
}

/// Checks a SHA-256 in hex: exactly 64 hex digits.
pub fn check_sha256(value: &str) -> Result<(), String> {
    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("must be a SHA-256 as 64 hex digits".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_refuse_what_a_reader_cannot_see() {
        assert!(check_id("bbc-tech-001").is_ok());
        assert!(check_id("ünïcode-id").is_ok());
        for bad in [
            "",
            "a b",
            "nul\0",
            "rlo\u{202E}gpj.exe",
            "zero\u{200B}width",
            "bom\u{FEFF}",
            "tag\u{E0041}",
            "vs\u{FE0F}",
            "vs\u{E0100}",
        ] {
            assert!(check_id(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(
            check_id(&"a".repeat(257))
                .unwrap_err()
                .contains("257 bytes")
        );
    }

    #[test]
    fn names_labels_and_hashes() {
        assert!(check_name("c2pa.created").is_ok());
        assert!(check_name("parentOf").is_ok());
        assert!(check_name("c2pa.evil\u{202e}").is_err());
        assert!(check_name("9start").is_err());
        assert!(check_name(&format!("c2pa.{}", "x".repeat(64))).is_err());
        assert!(check_label("generec-generation/composer").is_ok());
        assert!(check_label("Composer 0.1 beta").is_ok());
        assert!(check_label(&"g".repeat(1 << 20)).is_err());
        assert!(check_label("tab\there").is_err());
        assert!(check_sha256(&"ab".repeat(32)).is_ok());
        assert!(check_sha256("zz").is_err());
        assert!(check_sha256(&"zz".repeat(32)).is_err());
    }
}
