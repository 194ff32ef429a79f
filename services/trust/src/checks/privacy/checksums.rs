//! The checksums and format rules the privacy recognisers validate with:
//! pure functions over the matched text, each tested alone.

use sha2::{Digest, Sha256};
use sha3::Keccak256;

const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Decodes base58 (the Bitcoin alphabet); `None` on a character outside it.
fn base58_decode(s: &str) -> Option<Vec<u8>> {
    let mut bytes: Vec<u8> = Vec::with_capacity(s.len());
    for c in s.bytes() {
        let mut carry = BASE58.iter().position(|&a| a == c)? as u32;
        for b in bytes.iter_mut().rev() {
            carry += (*b as u32) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = s.bytes().take_while(|&c| c == b'1').count();
    let mut out = vec![0u8; zeros];
    out.extend(bytes);
    Some(out)
}

/// A legacy Bitcoin address (P2PKH `1...` or P2SH `3...`): base58check of
/// a version byte (0x00 or 0x05) and a 20-byte hash, whose last four bytes
/// are the first four of the double SHA-256 of the rest.
pub fn bitcoin_base58_valid(s: &str) -> bool {
    let Some(raw) = base58_decode(s) else {
        return false;
    };
    if raw.len() != 25 || !matches!(raw[0], 0x00 | 0x05) {
        return false;
    }
    let digest = Sha256::digest(Sha256::digest(&raw[..21]));
    digest[..4] == raw[21..]
}

const BECH32: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn bech32_polymod(values: &[u8]) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk: u32 = 1;
    for &v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ v as u32;
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// A native SegWit Bitcoin address (`bc1...`): BIP 173 bech32 for witness
/// version 0, BIP 350 bech32m for later versions; one case throughout.
pub fn bitcoin_bech32_valid(s: &str) -> bool {
    if s.chars().any(|c| c.is_ascii_uppercase()) && s.chars().any(|c| c.is_ascii_lowercase()) {
        return false;
    }
    let s = s.to_ascii_lowercase();
    let Some((hrp, data)) = s.rsplit_once('1') else {
        return false;
    };
    if hrp != "bc" || data.len() < 7 {
        return false;
    }
    let Some(values) = data
        .bytes()
        .map(|c| BECH32.iter().position(|&a| a == c).map(|p| p as u8))
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let mut expanded: Vec<u8> = hrp.bytes().map(|b| b >> 5).collect();
    expanded.push(0);
    expanded.extend(hrp.bytes().map(|b| b & 31));
    expanded.extend(&values);
    let constant = match values[0] {
        0 => 1,
        1..=16 => 0x2bc8_30a3,
        _ => return false,
    };
    bech32_polymod(&expanded) == constant
}

/// How far an Ethereum address can be trusted: EIP-55 mixed case must
/// match its Keccak-256 checksum; one case throughout carries none.
#[derive(Debug, PartialEq, Eq)]
pub enum EthCase {
    Checksummed,
    Unchecked,
    Invalid,
}

/// Checks `0x` followed by 40 hex digits against EIP-55.
pub fn ethereum_address(s: &str) -> EthCase {
    let Some(hex) = s.strip_prefix("0x") else {
        return EthCase::Invalid;
    };
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return EthCase::Invalid;
    }
    let upper = hex.bytes().any(|b| b.is_ascii_uppercase());
    let lower = hex.bytes().any(|b| b.is_ascii_lowercase());
    if !(upper && lower) {
        return EthCase::Unchecked;
    }
    let hash = Keccak256::digest(hex.to_ascii_lowercase().as_bytes());
    for (i, b) in hex.bytes().enumerate() {
        if !b.is_ascii_alphabetic() {
            continue;
        }
        let nibble = (hash[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) & 0x0f;
        if (nibble >= 8) != b.is_ascii_uppercase() {
            return EthCase::Invalid;
        }
    }
    EthCase::Checksummed
}

/// A UK NHS number: ten digits whose modulus 11 check digit is the last
/// (weights 10 down to 2; a check of 10 is never issued).
pub fn nhs_valid(digits: &[u8]) -> bool {
    if digits.len() != 10 || digits.iter().all(|&d| d == digits[0]) {
        return false;
    }
    let sum: u32 = digits[..9]
        .iter()
        .enumerate()
        .map(|(i, &d)| d as u32 * (10 - i as u32))
        .sum();
    let check = 11 - sum % 11;
    let check = if check == 11 { 0 } else { check };
    check != 10 && check == digits[9] as u32
}

/// A US bank routing (ABA) number: nine digits with weights 3, 7, 1
/// summing to a multiple of 10, and a Federal Reserve prefix (00-12,
/// 21-32, 61-72, 80).
pub fn aba_valid(digits: &[u8]) -> bool {
    if digits.len() != 9 || digits.iter().all(|&d| d == 0) {
        return false;
    }
    let prefix = digits[0] * 10 + digits[1];
    if !matches!(prefix, 0..=12 | 21..=32 | 61..=72 | 80) {
        return false;
    }
    let w = [3u32, 7, 1];
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, &d)| d as u32 * w[i % 3])
        .sum();
    sum.is_multiple_of(10)
}

/// A UK National Insurance number (compact, upper case): two prefix
/// letters (not D, F, I, Q, U or V; the second not O; not the prefixes
/// never issued), six digits, a suffix A-D.
pub fn nino_valid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 9 {
        return false;
    }
    let bad = |c: u8| matches!(c, b'D' | b'F' | b'I' | b'Q' | b'U' | b'V');
    if !b[0].is_ascii_uppercase() || !b[1].is_ascii_uppercase() || bad(b[0]) || bad(b[1]) {
        return false;
    }
    if b[1] == b'O' || matches!(&s[..2], "BG" | "GB" | "KN" | "NK" | "NT" | "TN" | "ZZ") {
        return false;
    }
    b[2..8].iter().all(u8::is_ascii_digit) && matches!(b[8], b'A'..=b'D')
}

/// A GB driving licence number (16 characters): five letters of the
/// surname padded with 9, six digits encoding the date of birth (decade,
/// month plus 50 for women, day, year), two initials or 9s, a digit and
/// two check letters.
pub fn uk_driving_licence_valid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 16 {
        return false;
    }
    let surname_ok = b[..5].iter().all(|&c| c.is_ascii_uppercase() || c == b'9')
        && b[0].is_ascii_uppercase()
        // Padding only at the end of the surname.
        && !b[..5].windows(2).any(|w| w[0] == b'9' && w[1] != b'9');
    if !surname_ok || !b[5..11].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let d = |i: usize| (b[i] - b'0') as u32;
    let month = d(6) * 10 + d(7);
    let month = if month > 50 { month - 50 } else { month };
    let day = d(8) * 10 + d(9);
    (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && b[11..13]
            .iter()
            .all(|&c| c.is_ascii_uppercase() || c == b'9')
        && b[13].is_ascii_digit()
        && b[14..16].iter().all(u8::is_ascii_alphanumeric)
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Reads a calendar date written as `14 March 1987`, `March 14, 1987`,
/// `03/11/1972` (either order), `1987-03-14`: `(year, month, day)` when
/// it exists (either day-month order is accepted for numeric forms).
pub fn parse_date(s: &str) -> Option<(u32, u32, u32)> {
    let lower = s.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split([' ', ',', '/', '-', '.'])
        .filter(|w| !w.is_empty() && *w != "of")
        .collect();
    if words.len() != 3 {
        return None;
    }
    let num = |w: &str| -> Option<u32> {
        w.trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .parse()
            .ok()
    };
    let month_of = |w: &str| {
        MONTHS
            .iter()
            .position(|m| w.starts_with(m))
            .map(|i| i as u32 + 1)
    };
    let (y, m, d) = if let Some(m) = month_of(words[1]) {
        (num(words[2])?, m, num(words[0])?)
    } else if let Some(m) = month_of(words[0]) {
        (num(words[2])?, m, num(words[1])?)
    } else if words[0].len() == 4 {
        (num(words[0])?, num(words[1])?, num(words[2])?)
    } else {
        let (a, b, y) = (num(words[0])?, num(words[1])?, num(words[2])?);
        let y = if words[2].len() == 2 { 1900 + y } else { y };
        // 03/11/1972: day-month or month-day; either must be a date.
        if (1..=12).contains(&b) && (1..=31).contains(&a) {
            (y, b, a)
        } else {
            (y, a, b)
        }
    };
    ((1900..=2100).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d))
        .then_some((y, m, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(s: &str) -> Vec<u8> {
        s.bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect()
    }

    #[test]
    fn bitcoin_addresses_validate_their_checksums() {
        // The genesis block's address and a P2SH address from BIP 13's era.
        assert!(bitcoin_base58_valid("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"));
        assert!(bitcoin_base58_valid("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"));
        assert!(!bitcoin_base58_valid("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"));
        assert!(!bitcoin_base58_valid("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNV0"));
        // BIP 173 and BIP 350 test vectors.
        assert!(bitcoin_bech32_valid(
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
        ));
        assert!(bitcoin_bech32_valid(
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"
        ));
        assert!(bitcoin_bech32_valid(
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
        ));
        assert!(!bitcoin_bech32_valid(
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"
        ));
        assert!(!bitcoin_bech32_valid(
            "bc1qw508d6qejxtdg4y5r3zarvarY0c5xw7kv8f3t4"
        ));
    }

    #[test]
    fn ethereum_addresses_follow_eip55() {
        // EIP-55's own examples.
        for a in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        ] {
            assert_eq!(ethereum_address(a), EthCase::Checksummed, "{a}");
        }
        assert_eq!(
            ethereum_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"),
            EthCase::Invalid
        );
        assert_eq!(
            ethereum_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
            EthCase::Unchecked
        );
    }

    #[test]
    fn national_numbers_validate() {
        // NHS Digital's published example.
        assert!(nhs_valid(&digits("943 476 5919")));
        assert!(!nhs_valid(&digits("943 476 5918")));
        assert!(!nhs_valid(&digits("0000000000")));
        // The Federal Reserve's own routing number and a one-digit change.
        assert!(aba_valid(&digits("011000015")));
        assert!(!aba_valid(&digits("011000016")));
        assert!(!aba_valid(&digits("500000005")));
        assert!(nino_valid("AB123456C"));
        assert!(!nino_valid("QQ123456C"));
        assert!(!nino_valid("GB123456A"));
        assert!(!nino_valid("AB123456E"));
        assert!(uk_driving_licence_valid("MORGA753116SM9IJ"));
        assert!(uk_driving_licence_valid("JONES861220J99AB"));
        assert!(!uk_driving_licence_valid("MORGA753916SM9IJ"));
        assert!(!uk_driving_licence_valid("MO9GA753116SM9IJ"));
    }

    #[test]
    fn dates_are_read_in_the_common_orders() {
        assert_eq!(parse_date("14 March 1987"), Some((1987, 3, 14)));
        assert_eq!(parse_date("March 14th, 1987"), Some((1987, 3, 14)));
        assert_eq!(parse_date("1987-03-14"), Some((1987, 3, 14)));
        assert_eq!(parse_date("03/11/1972"), Some((1972, 11, 3)));
        assert_eq!(parse_date("12/31/1990"), Some((1990, 12, 31)));
        assert_eq!(parse_date("31/31/1990"), None);
        assert_eq!(parse_date("14 Smarch 1987"), None);
    }
}
