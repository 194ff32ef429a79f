//! The privacy policy: personal data and secrets in content, and other
//! users' registered private attributes.
//!
//! # Recognisers
//!
//! Every built-in recogniser is a regular expression that proposes
//! candidates and a validator that accepts or refuses them:
//!
//! | rule id | finds | validated by |
//! |---|---|---|
//! | `privacy.email.address` | e-mail addresses | local part and domain shape, a letter TLD that is not an image suffix (`icon@2x.png`) |
//! | `privacy.phone.international` | `+CC ...` with spaces, dots, dashes, parentheses | 8 to 15 digits (E.164), trailing groups trimmed |
//! | `privacy.phone.us` | `(415) 555-0132`, `415-555-0132`, `1-415-...` | NANP: area and exchange start with 2-9 |
//! | `privacy.phone.uk` | `07700 900123`, `020 7946 0958`, `01632 960123` | 11 digits |
//! | `privacy.phone.fr` | `06 12 34 56 78`, `01.23.45.67.89` | 10 digits, one separator throughout |
//! | `privacy.phone.de` | `030 12345678`, `089/1234567`, `0151 23456789` | 10 to 12 digits |
//! | `privacy.payment_card.luhn` | 13-19 digits with spaces or dashes | Luhn and issuer prefix and length (Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay, Maestro, Mir, Dankort, UATP) |
//! | `privacy.iban.mod97` | IBANs, compact or in groups | the country's length and mod 97 = 1 |
//! | `privacy.national_id.us_ssn` | `123-45-6789`, `123 45 6789` | not area 000, 666, 900-999, group 00, serial 0000; not the advertised 078-05-1120, 219-09-9999 |
//! | `privacy.national_id.us_ssn_plain` | nine digits in a row | as above, and only with a context word ("ssn", "social security") |
//! | `privacy.ip_address.v4` / `.v6` | IPv4 / IPv6 | parsed by `std::net` (octets <= 255, no leading zeros) |
//! | `privacy.secret.aws_access_key`, `.github_token`, `.slack_token`, `.stripe_live_key`, `.stripe_test_key`, `.google_api_key`, `.jwt`, `.private_key` | well-known token shapes | lengths; a JWT's header must decode to JSON with `"alg"` |
//! | `privacy.secret.assignment` | `api_key = ...`, `password: ...`, `token=...` | the value is not a placeholder and has enough entropy |
//! | `privacy.custom.<id>` | the bundle's `[[privacy.patterns]]` | nothing: the operator's regex decides |
//! | `privacy.cross_user.registered_attribute` | another user's registered attribute | the registry's salted fingerprints |
//!
//! Numbers that fail their checksum or range rules are not findings at all.
//! Every candidate must also stand alone: a digit, letter or a dotted
//! continuation right before or after it refuses it, so `1.2.3.4.5`,
//! `x1.2.3.4` and the middle of a longer number are not matched.
//!
//! All patterns are compiled once per bundle into one [`RegexSet`]; a review
//! runs the set once and then only the individual regexes that fired.
//!
//! # Scores
//!
//! Each recogniser has a base score. A context word of the recogniser
//! (a committed list per recogniser: "card", "iban", "call me", "ssn",
//! "ip" ...) within `context_before` bytes before or `context_after` bytes
//! after the match adds `context_boost`; a negative word ("order",
//! "isbn", "version" ...) subtracts `context_penalty`. Findings scoring
//! under `floor` are not reported; the bundle's `min_score` decides the rest.
//! When candidates overlap, the highest score wins (then the longest).
//!
//! # Allow lists and custom patterns
//!
//! `allow` lists exact values that are never findings (compared as
//! written, case-insensitively, and with separators removed, so
//! `+44 20 7946 0000` also allows `+442079460000`); `allow_patterns` are
//! regexes that must match the *whole* value. `disable` switches built-in
//! rules off by rule id. `[[privacy.patterns]]` adds recognisers with an
//! `id`, a privacy `category`, a `regex` (a group named `value`, when
//! present, is the span), a `score` and optional `context` words. A bad
//! regex, an unknown category or rule id refuses the bundle, naming it.
//!
//! # Cross-user leakage
//!
//! When the registry holds attributes, the check slides word windows of
//! 1..=[`MAX_ATTRIBUTE_WORDS`] over the content's words (normalised exactly
//! as [`registry::normalise`] does), fingerprints each window and reports a
//! `privacy.cross_user` finding, score 1.0, when the window was registered
//! by someone other than the requesting user (`context.user_id`). A
//! requesting user's own attributes are fine, also when another user
//! registered the same value. With an empty `user_id` every registered
//! attribute is somebody else's. Cost: one salted SHA-256 per window, so
//! about 8 per content word.

use std::collections::{BTreeMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::Deserialize;

use super::{Check, CheckError, CompileEnv, EvalCase, Input, ReviewContext};
use crate::error::TrustError;
use crate::finding::{Category, Finding, mask};
use crate::registry::{self, MAX_ATTRIBUTE_WORDS};

mod checksums;
use checksums::EthCase;

/// The hand-written dev cases of the recognisers without generated ones.
pub const EVALSET: &str = include_str!("../../evalsets/privacy.tsv");

/// The `[privacy]` section of a bundle.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Values that are never findings (see the module docs).
    pub allow: Vec<String>,
    /// Regexes; a value they match entirely is never a finding.
    pub allow_patterns: Vec<String>,
    /// Extra recognisers.
    pub patterns: Vec<CustomPattern>,
    /// Built-in rule ids to switch off, e.g. `privacy.phone.de`.
    pub disable: Vec<String>,
    /// Added to the score when a context word is near.
    pub context_boost: f32,
    /// Subtracted from the score when a negative word is near.
    pub context_penalty: f32,
    /// How many bytes before a match are searched for context words.
    pub context_before: usize,
    /// How many bytes after a match are searched for context words.
    pub context_after: usize,
    /// Findings scoring under this are not reported.
    pub floor: f32,
    /// Whether to look for other users' registered attributes.
    pub cross_user: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            allow: Vec::new(),
            allow_patterns: Vec::new(),
            patterns: Vec::new(),
            disable: Vec::new(),
            context_boost: 0.25,
            context_penalty: 0.35,
            context_before: 64,
            context_after: 32,
            floor: 0.3,
            cross_user: true,
        }
    }
}

/// An operator's recogniser, `[[privacy.patterns]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPattern {
    /// Names the rule: `privacy.custom.<id>`.
    pub id: String,
    /// A privacy category, e.g. `privacy.national_id`.
    pub category: String,
    /// The pattern; a group named `value`, when present, is the span.
    pub regex: String,
    /// The base score.
    #[serde(default = "default_custom_score")]
    pub score: f32,
    /// Words that raise the score when near.
    #[serde(default)]
    pub context: Vec<String>,
}

fn default_custom_score() -> f32 {
    0.7
}

/// How a candidate is validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Email,
    PhoneIntl,
    PhoneUs,
    PhoneUk,
    PhoneFr,
    PhoneDe,
    Card,
    Iban,
    Ssn,
    SsnPlain,
    Itin,
    Nhs,
    Nino,
    Passport,
    UkDrivingLicence,
    UsDrivingLicence,
    AbaRouting,
    BankAccount,
    SortCode,
    Mac,
    BitcoinBase58,
    BitcoinBech32,
    Ethereum,
    DateOfBirth,
    StreetAddress,
    ProseSecret,
    PersonalUrl,
    Ipv4,
    Ipv6,
    Token { min_len: usize },
    Jwt,
    PrivateKey,
    Assignment,
    Custom,
}

struct Builtin {
    id: &'static str,
    category: Category,
    kind: Kind,
    pattern: &'static str,
    base: f32,
    what: &'static str,
    context: &'static [&'static str],
    negative: &'static [&'static str],
    needs_context: bool,
}

const EMAIL_CTX: &[&str] = &[
    "email", "e-mail", "mail", "contact", "reach", "write to", "address",
];
const PHONE_CTX: &[&str] = &[
    "phone",
    "call",
    "call me",
    "tel",
    "telephone",
    "mobile",
    "cell",
    "ring",
    "text me",
    "whatsapp",
    "fax",
    "contact",
    "reach",
];
const NUMBER_NEG: &[&str] = &[
    "order",
    "invoice",
    "isbn",
    "tracking",
    "serial",
    "sku",
    "ref",
    "reference",
    "ticket",
    "booking",
    "part",
    "item",
    "page",
];
const CARD_CTX: &[&str] = &[
    "card",
    "credit",
    "debit",
    "visa",
    "mastercard",
    "amex",
    "american express",
    "discover",
    "payment",
    "pay",
    "cc",
    "cvv",
    "expiry",
    "expires",
];
const IBAN_CTX: &[&str] = &[
    "iban", "account", "bank", "transfer", "wire", "sepa", "bic", "swift", "pay", "payment",
];
const SSN_CTX: &[&str] = &[
    "ssn",
    "social security",
    "security number",
    "taxpayer",
    "ssa",
    "tax id",
];
const IP_CTX: &[&str] = &[
    "ip",
    "address",
    "server",
    "host",
    "connect",
    "connected",
    "ping",
    "ssh",
    "login",
    "logged in",
    "client",
    "network",
    "router",
    "gateway",
];
const IP_NEG: &[&str] = &[
    "version", "ver", "release", "build", "firmware", "v", "chapter", "section", "figure", "table",
    "step",
];
const ITIN_CTX: &[&str] = &["itin", "taxpayer", "tax id", "irs", "tax identification"];
const NHS_CTX: &[&str] = &[
    "nhs",
    "health service",
    "nhs no",
    "nhs number",
    "chi number",
];
const NINO_CTX: &[&str] = &[
    "national insurance",
    "ni number",
    "ni no",
    "nino",
    "insurance number",
];
const PASSPORT_CTX: &[&str] = &["passport"];
const LICENCE_CTX: &[&str] = &[
    "driving licence",
    "driving license",
    "driver license",
    "driver's license",
    "drivers license",
    "driver licence",
    "licence number",
    "license number",
    "licence no",
    "license no",
    "dl",
];
const ROUTING_CTX: &[&str] = &["routing", "aba", "rtn", "transit number", "routing number"];
const ACCOUNT_CTX: &[&str] = &[
    "account",
    "account number",
    "account no",
    "acct",
    "a/c",
    "checking",
    "savings",
    "sort code",
];
const SORT_CODE_CTX: &[&str] = &["sort code", "sortcode", "sort-code"];
const MAC_CTX: &[&str] = &[
    "mac",
    "mac address",
    "hardware address",
    "physical address",
    "device",
    "wifi",
    "wi-fi",
    "network",
    "bluetooth",
    "ethernet",
    "router",
];
const WALLET_CTX: &[&str] = &[
    "bitcoin", "btc", "wallet", "ethereum", "eth", "crypto", "address", "send", "pay", "tips",
];
const ADDRESS_CTX: &[&str] = &[
    "live at",
    "lives at",
    "living at",
    "my address",
    "our address",
    "home address",
    "address is",
    "address:",
    "address",
    "come round to",
    "come to",
    "moved to",
    "move to",
    "my flat",
    "my house",
    "staying at",
    "send it to",
    "deliver to",
    "post it to",
];
const URL_CTX: &[&str] = &["link", "record", "profile", "my", "account", "portal"];
const SECRET_CTX: &[&str] = &[
    "key",
    "token",
    "secret",
    "password",
    "credential",
    "api",
    "auth",
];

const BUILTINS: &[Builtin] = &[
    Builtin {
        id: "privacy.email.address",
        category: Category::PrivacyEmail,
        kind: Kind::Email,
        pattern: r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}",
        base: 0.8,
        what: "e-mail address",
        context: EMAIL_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.phone.international",
        category: Category::PrivacyPhone,
        kind: Kind::PhoneIntl,
        pattern: r"\+[1-9][0-9]{0,2}(?:[ .\-]?(?:\([0-9]{1,5}\)|[0-9]{1,5})){1,7}",
        base: 0.7,
        what: "international phone number",
        context: PHONE_CTX,
        negative: NUMBER_NEG,
        needs_context: false,
    },
    Builtin {
        id: "privacy.phone.us",
        category: Category::PrivacyPhone,
        kind: Kind::PhoneUs,
        pattern: r"(?:1[ .\-])?(?:\([0-9]{3}\) ?|[0-9]{3}[ .\-])[0-9]{3}[ .\-][0-9]{4}",
        base: 0.6,
        what: "US phone number",
        context: PHONE_CTX,
        negative: NUMBER_NEG,
        needs_context: false,
    },
    Builtin {
        id: "privacy.phone.uk",
        category: Category::PrivacyPhone,
        kind: Kind::PhoneUk,
        pattern: r"0(?:7[0-9]{3} ?[0-9]{6}|20 ?[0-9]{4} ?[0-9]{4}|1[0-9]{3} ?[0-9]{6}|1[0-9]{2} ?[0-9]{3} ?[0-9]{4})",
        base: 0.6,
        what: "UK phone number",
        context: PHONE_CTX,
        negative: NUMBER_NEG,
        needs_context: false,
    },
    Builtin {
        id: "privacy.phone.fr",
        category: Category::PrivacyPhone,
        kind: Kind::PhoneFr,
        pattern: r"0[1-9](?:[ .\-]?[0-9]{2}){4}",
        base: 0.55,
        what: "French phone number",
        context: PHONE_CTX,
        negative: NUMBER_NEG,
        needs_context: false,
    },
    Builtin {
        id: "privacy.phone.de",
        category: Category::PrivacyPhone,
        kind: Kind::PhoneDe,
        pattern: r"0[1-9][0-9]{1,3}[ /\-][0-9]{3,8}(?:[ \-][0-9]{1,5})?",
        base: 0.55,
        what: "German phone number",
        context: PHONE_CTX,
        negative: NUMBER_NEG,
        needs_context: false,
    },
    Builtin {
        id: "privacy.payment_card.luhn",
        category: Category::PrivacyPaymentCard,
        kind: Kind::Card,
        pattern: r"[0-9](?:[ \-]?[0-9]){12,18}",
        base: 0.8,
        what: "payment card number",
        context: CARD_CTX,
        negative: NUMBER_NEG,
        needs_context: false,
    },
    Builtin {
        id: "privacy.iban.mod97",
        category: Category::PrivacyIban,
        kind: Kind::Iban,
        pattern: r"[A-Z]{2}[0-9]{2}(?:[ \-]?[A-Z0-9]){11,30}",
        base: 0.85,
        what: "IBAN",
        context: IBAN_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.national_id.us_ssn",
        category: Category::PrivacyNationalId,
        kind: Kind::Ssn,
        pattern: r"[0-9]{3}[ \-.][0-9]{2}[ \-.][0-9]{4}",
        base: 0.6,
        what: "US social security number",
        context: SSN_CTX,
        negative: NUMBER_NEG,
        needs_context: false,
    },
    Builtin {
        id: "privacy.national_id.us_ssn_plain",
        category: Category::PrivacyNationalId,
        kind: Kind::SsnPlain,
        pattern: r"[0-9]{9}",
        base: 0.4,
        what: "US social security number",
        context: SSN_CTX,
        negative: NUMBER_NEG,
        needs_context: true,
    },
    Builtin {
        id: "privacy.national_id.us_itin",
        category: Category::PrivacyNationalId,
        kind: Kind::Itin,
        pattern: r"9[0-9]{2}[ \-.][0-9]{2}[ \-.][0-9]{4}|9[0-9]{8}",
        base: 0.55,
        what: "US individual taxpayer identification number",
        context: ITIN_CTX,
        negative: NUMBER_NEG,
        needs_context: false,
    },
    Builtin {
        id: "privacy.national_id.uk_nhs",
        category: Category::PrivacyNationalId,
        kind: Kind::Nhs,
        pattern: r"[0-9]{3}[ \-]?[0-9]{3}[ \-]?[0-9]{4}",
        base: 0.45,
        what: "UK NHS number",
        context: NHS_CTX,
        negative: NUMBER_NEG,
        needs_context: false,
    },
    Builtin {
        id: "privacy.national_id.uk_nino",
        category: Category::PrivacyNationalId,
        kind: Kind::Nino,
        pattern: r"(?i:[A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]|[A-Z]{2} [0-9]{6}[A-D])",
        base: 0.6,
        what: "UK National Insurance number",
        context: NINO_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.national_id.passport",
        category: Category::PrivacyNationalId,
        kind: Kind::Passport,
        pattern: r"[A-Z]{0,2}[0-9]{6,9}",
        base: 0.5,
        what: "passport number",
        context: PASSPORT_CTX,
        negative: &[],
        needs_context: true,
    },
    Builtin {
        id: "privacy.national_id.uk_driving_licence",
        category: Category::PrivacyNationalId,
        kind: Kind::UkDrivingLicence,
        pattern: r"(?i:[A-Z][A-Z9]{4}[0-9]{6}[A-Z9]{2}[0-9][A-Z0-9]{2})",
        base: 0.7,
        what: "UK driving licence number",
        context: LICENCE_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.national_id.driving_licence",
        category: Category::PrivacyNationalId,
        kind: Kind::UsDrivingLicence,
        pattern: r"[A-Z]{1,2}[0-9]{4,14}|[0-9]{7,12}",
        base: 0.5,
        what: "driving licence number",
        context: LICENCE_CTX,
        negative: &[],
        needs_context: true,
    },
    Builtin {
        id: "privacy.bank_account.us_routing",
        category: Category::PrivacyBankAccount,
        kind: Kind::AbaRouting,
        pattern: r"[0-9]{9}",
        base: 0.55,
        what: "US bank routing number",
        context: ROUTING_CTX,
        negative: &[],
        needs_context: true,
    },
    Builtin {
        id: "privacy.bank_account.number",
        category: Category::PrivacyBankAccount,
        kind: Kind::BankAccount,
        pattern: r"[0-9](?:[ \-]?[0-9]){5,16}",
        base: 0.45,
        what: "bank account number",
        context: ACCOUNT_CTX,
        negative: NUMBER_NEG,
        needs_context: true,
    },
    Builtin {
        id: "privacy.bank_account.uk_sort_code",
        category: Category::PrivacyBankAccount,
        kind: Kind::SortCode,
        pattern: r"[0-9]{2}[\- ][0-9]{2}[\- ][0-9]{2}",
        base: 0.45,
        what: "UK bank sort code",
        context: SORT_CODE_CTX,
        negative: &[],
        needs_context: true,
    },
    Builtin {
        id: "privacy.mac_address",
        category: Category::PrivacyMacAddress,
        kind: Kind::Mac,
        pattern: r"[0-9A-Fa-f]{2}(?:[:\-][0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}",
        base: 0.65,
        what: "MAC address",
        context: MAC_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.crypto_wallet.bitcoin",
        category: Category::PrivacyCryptoWallet,
        kind: Kind::BitcoinBase58,
        pattern: r"[13][1-9A-HJ-NP-Za-km-z]{25,34}",
        base: 0.85,
        what: "Bitcoin address",
        context: WALLET_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.crypto_wallet.bitcoin_bech32",
        category: Category::PrivacyCryptoWallet,
        kind: Kind::BitcoinBech32,
        pattern: r"(?:bc1|BC1)[02-9ac-hj-np-zAC-HJ-NP-Z]{11,71}",
        base: 0.85,
        what: "Bitcoin address (bech32)",
        context: WALLET_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.crypto_wallet.ethereum",
        category: Category::PrivacyCryptoWallet,
        kind: Kind::Ethereum,
        pattern: r"0x[0-9a-fA-F]{40}",
        base: 0.75,
        what: "Ethereum address",
        context: WALLET_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.date_of_birth",
        category: Category::PrivacyDateOfBirth,
        kind: Kind::DateOfBirth,
        pattern: r"(?i:(?P<key>date of birth|d\.o\.b\.?|dob|born on|born|birthday is|birthday|birth date|birthdate))[:\s,]{1,4}(?:(?i:is|was|on) )?(?P<value>(?i:[0-9]{1,2}[/.\-][0-9]{1,2}[/.\-](?:19|20)?[0-9]{2}|(?:19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}|[0-9]{1,2}(?:st|nd|rd|th)?(?: of)? (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,? (?:19|20)[0-9]{2}|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? [0-9]{1,2}(?:st|nd|rd|th)?,? (?:19|20)[0-9]{2}))",
        base: 0.5,
        what: "date of birth",
        context: &[],
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.street_address.postcode",
        category: Category::PrivacyStreetAddress,
        kind: Kind::StreetAddress,
        pattern: r"[0-9]{1,5}[A-Za-z]?,? (?:[A-Z][A-Za-z'’\-]+ ){1,3}(?:Street|St|Road|Rd|Lane|Ln|Avenue|Ave|Grove|Close|Drive|Dr|Way|Place|Pl|Court|Ct|Crescent|Terrace|Boulevard|Blvd|Gardens|Square|Sq|Mews|Row|Hill|Park|Walk|Parade|Highway|Hwy)\.?(?:,? (?:Apt|Apartment|Flat|Unit|Suite|Ste)\.? ?[0-9A-Za-z]{1,5})?(?:,? [A-Z][A-Za-z'\-]+(?: [A-Z][A-Za-z'\-]+){0,2})?,? (?:[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][ABD-HJLNP-UW-Z]{2}|[A-Z]{2} [0-9]{5}(?:-[0-9]{4})?)",
        base: 0.7,
        what: "street address with a postcode",
        context: ADDRESS_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.street_address.personal",
        category: Category::PrivacyStreetAddress,
        kind: Kind::StreetAddress,
        pattern: r"[0-9]{1,5}[A-Za-z]?,? (?:[A-Z][A-Za-z'’\-]+ ){1,3}(?:Street|St|Road|Rd|Lane|Ln|Avenue|Ave|Grove|Close|Drive|Dr|Way|Place|Pl|Court|Ct|Crescent|Terrace|Boulevard|Blvd|Gardens|Square|Sq|Mews|Row|Hill|Park|Walk|Parade|Highway|Hwy)\.?(?:,? (?:Apt|Apartment|Flat|Unit|Suite|Ste)\.? ?[0-9A-Za-z]{1,5})?",
        base: 0.45,
        what: "street address",
        context: ADDRESS_CTX,
        negative: &[],
        needs_context: true,
    },
    Builtin {
        id: "privacy.secret.in_prose",
        category: Category::PrivacySecret,
        kind: Kind::ProseSecret,
        pattern: r#"(?i:(?P<key>wi-?fi password|password|passcode|passphrase|pin(?: code| number)?))(?i: for (?:[a-z'-]+ ){0,3}?[a-z'-]+)?(?: (?i:is|was)| ?[=:]) ["'“]?(?P<value>[^\s"'”]{4,64})"#,
        base: 0.75,
        what: "password or PIN given in a sentence",
        context: SECRET_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.url.personal",
        category: Category::PrivacyUrl,
        kind: Kind::PersonalUrl,
        pattern: r#"https?://[^\s<>"'()\[\]]+"#,
        base: 0.6,
        what: "URL carrying personal data",
        context: URL_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.ip_address.v4",
        category: Category::PrivacyIpAddress,
        kind: Kind::Ipv4,
        pattern: r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}",
        base: 0.65,
        what: "IPv4 address",
        context: IP_CTX,
        negative: IP_NEG,
        needs_context: false,
    },
    Builtin {
        id: "privacy.ip_address.v6",
        category: Category::PrivacyIpAddress,
        kind: Kind::Ipv6,
        pattern: r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})?",
        base: 0.7,
        what: "IPv6 address",
        context: IP_CTX,
        negative: IP_NEG,
        needs_context: false,
    },
    Builtin {
        id: "privacy.secret.aws_access_key",
        category: Category::PrivacySecret,
        kind: Kind::Token { min_len: 20 },
        pattern: r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[0-9A-Z]{16}",
        base: 0.95,
        what: "AWS access key id",
        context: SECRET_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.secret.github_token",
        category: Category::PrivacySecret,
        kind: Kind::Token { min_len: 40 },
        pattern: r"(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})",
        base: 0.95,
        what: "GitHub token",
        context: SECRET_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.secret.slack_token",
        category: Category::PrivacySecret,
        kind: Kind::Token { min_len: 24 },
        pattern: r"xox[abposr]-[0-9A-Za-z]+(?:-[0-9A-Za-z]+)+",
        base: 0.9,
        what: "Slack token",
        context: SECRET_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.secret.stripe_live_key",
        category: Category::PrivacySecret,
        kind: Kind::Token { min_len: 24 },
        pattern: r"(?:sk|rk)_live_[0-9A-Za-z]{16,247}",
        base: 0.95,
        what: "Stripe live key",
        context: SECRET_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.secret.stripe_test_key",
        category: Category::PrivacySecret,
        kind: Kind::Token { min_len: 24 },
        pattern: r"(?:sk|rk)_test_[0-9A-Za-z]{16,247}",
        base: 0.6,
        what: "Stripe test key",
        context: SECRET_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.secret.google_api_key",
        category: Category::PrivacySecret,
        kind: Kind::Token { min_len: 39 },
        pattern: r"AIza[0-9A-Za-z_\-]{35}",
        base: 0.9,
        what: "Google API key",
        context: SECRET_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.secret.jwt",
        category: Category::PrivacySecret,
        kind: Kind::Jwt,
        pattern: r"eyJ[A-Za-z0-9_\-]+\.eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+",
        base: 0.9,
        what: "JSON web token",
        context: SECRET_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.secret.private_key",
        category: Category::PrivacySecret,
        kind: Kind::PrivateKey,
        pattern: r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        base: 1.0,
        what: "private key",
        context: SECRET_CTX,
        negative: &[],
        needs_context: false,
    },
    Builtin {
        id: "privacy.secret.assignment",
        category: Category::PrivacySecret,
        kind: Kind::Assignment,
        pattern: r#"(?i)(?-u:\b)(?P<key>api[_\-]?key|apikey|api[_\-]?secret|secret[_\-]?key|client[_\-]?secret|secret|access[_\-]?token|auth[_\-]?token|bearer[_\-]?token|token|password|passwd|pwd|private[_\-]?key)(?-u:\b)["']?[ \t]*(?:[:=]|=>)[ \t]*["']?(?P<value>[^\s"'`,;<>]+)"#,
        base: 0.75,
        what: "secret assigned to a key",
        context: SECRET_CTX,
        negative: &[],
        needs_context: false,
    },
];

/// One compiled recogniser.
struct Recogniser {
    rule_id: String,
    category: Category,
    kind: Kind,
    regex: Regex,
    /// Whether the regex has a `value` group.
    value_group: bool,
    base: f32,
    what: String,
    context: Vec<String>,
    negative: Vec<String>,
    needs_context: bool,
}

/// The compiled privacy check.
pub struct Compiled {
    recognisers: Vec<Recogniser>,
    set: RegexSet,
    allow_exact: HashSet<String>,
    allow_lower: HashSet<String>,
    allow_compact: HashSet<String>,
    allow_patterns: Option<RegexSet>,
    context_boost: f32,
    context_penalty: f32,
    context_before: usize,
    context_after: usize,
    floor: f32,
    cross_user: bool,
}

fn build_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(32 << 20)
        .dfa_size_limit(32 << 20)
        .build()
}

/// Letters and digits only, lower case: how allow-list values compare
/// with their separators removed.
fn compact(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

impl Compiled {
    /// Compiles the section once per bundle.
    pub fn compile(config: &Config, _env: &CompileEnv) -> Result<Self, TrustError> {
        for (name, v) in [
            ("context_boost", config.context_boost),
            ("context_penalty", config.context_penalty),
            ("floor", config.floor),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(TrustError::bundle(format!(
                    "{name} must lie in [0, 1], got {v}"
                )));
            }
        }
        for id in &config.disable {
            if !BUILTINS.iter().any(|b| b.id == id) {
                return Err(TrustError::bundle(format!(
                    "disable: unknown rule id {id:?}; known: {}",
                    BUILTINS.iter().map(|b| b.id).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        let lower = |words: &[&str]| words.iter().map(|w| w.to_lowercase()).collect::<Vec<_>>();
        let mut recognisers = Vec::new();
        for b in BUILTINS {
            if config.disable.iter().any(|d| d == b.id) {
                continue;
            }
            let regex = build_regex(b.pattern)
                .map_err(|e| TrustError::Internal(format!("built-in pattern {}: {e}", b.id)))?;
            recognisers.push(Recogniser {
                rule_id: b.id.to_string(),
                category: b.category,
                kind: b.kind,
                value_group: regex.capture_names().any(|n| n == Some("value")),
                regex,
                base: b.base,
                what: b.what.to_string(),
                context: lower(b.context),
                negative: lower(b.negative),
                needs_context: b.needs_context,
            });
        }
        let mut ids = HashSet::new();
        for p in &config.patterns {
            if p.id.is_empty()
                || !p
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(TrustError::bundle(format!(
                    "pattern id {:?} must be letters, digits, _ or -",
                    p.id
                )));
            }
            if !ids.insert(p.id.as_str()) {
                return Err(TrustError::bundle(format!(
                    "pattern {:?} is defined twice",
                    p.id
                )));
            }
            let category = Category::from_name(&p.category)
                .filter(|c| {
                    c.policy() == crate::finding::Policy::Privacy
                        && *c != Category::PrivacyCrossUser
                })
                .ok_or_else(|| {
                    TrustError::bundle(format!(
                        "pattern {:?}: category {:?} is not a privacy category",
                        p.id, p.category
                    ))
                })?;
            if !(0.0..=1.0).contains(&p.score) {
                return Err(TrustError::bundle(format!(
                    "pattern {:?}: score must lie in [0, 1], got {}",
                    p.id, p.score
                )));
            }
            let regex = build_regex(&p.regex).map_err(|e| {
                TrustError::bundle(format!("pattern {:?}: bad regex {:?}: {e}", p.id, p.regex))
            })?;
            let ctx: Vec<&str> = p.context.iter().map(String::as_str).collect();
            recognisers.push(Recogniser {
                rule_id: format!("privacy.custom.{}", p.id),
                category,
                kind: Kind::Custom,
                value_group: regex.capture_names().any(|n| n == Some("value")),
                regex,
                base: p.score,
                what: format!("{} (pattern {})", p.category, p.id),
                context: lower(&ctx),
                negative: Vec::new(),
                needs_context: false,
            });
        }
        let set = RegexSetBuilder::new(recognisers.iter().map(|r| r.regex.as_str()))
            .size_limit(64 << 20)
            .dfa_size_limit(64 << 20)
            .build()
            .map_err(|e| TrustError::Internal(format!("privacy regex set: {e}")))?;
        let mut anchored = Vec::new();
        for (i, p) in config.allow_patterns.iter().enumerate() {
            build_regex(p).map_err(|e| {
                TrustError::bundle(format!("allow_patterns[{i}]: bad regex {p:?}: {e}"))
            })?;
            anchored.push(format!("^(?:{p})$"));
        }
        let allow_patterns = if anchored.is_empty() {
            None
        } else {
            Some(
                RegexSetBuilder::new(&anchored)
                    .size_limit(32 << 20)
                    .build()
                    .map_err(|e| TrustError::bundle(format!("allow_patterns: {e}")))?,
            )
        };
        Ok(Compiled {
            recognisers,
            set,
            allow_exact: config.allow.iter().cloned().collect(),
            allow_lower: config.allow.iter().map(|a| a.to_lowercase()).collect(),
            allow_compact: config
                .allow
                .iter()
                .map(|a| compact(a))
                .filter(|c| !c.is_empty())
                .collect(),
            allow_patterns,
            context_boost: config.context_boost,
            context_penalty: config.context_penalty,
            context_before: config.context_before,
            context_after: config.context_after,
            floor: config.floor,
            cross_user: config.cross_user,
        })
    }

    fn allowed(&self, value: &str) -> bool {
        self.allow_exact.contains(value)
            || (!self.allow_lower.is_empty() && self.allow_lower.contains(&value.to_lowercase()))
            || (!self.allow_compact.is_empty() && self.allow_compact.contains(&compact(value)))
            || self
                .allow_patterns
                .as_ref()
                .is_some_and(|s| s.is_match(value))
    }

    /// The pattern findings, overlaps resolved, before cross-user.
    fn scan(&self, content: &str, out: &mut Vec<Finding>) {
        let mut candidates: Vec<Candidate> = Vec::new();
        for idx in self.set.matches(content).iter() {
            let r = &self.recognisers[idx];
            if r.value_group {
                for caps in r.regex.captures_iter(content) {
                    let (Some(whole), Some(value)) = (caps.get(0), caps.name("value")) else {
                        continue;
                    };
                    let key = caps.name("key").map(|k| k.as_str()).unwrap_or("");
                    self.consider(
                        content,
                        idx,
                        r,
                        whole.start(),
                        value.start(),
                        value.end(),
                        key,
                        &mut candidates,
                    );
                }
            } else {
                for m in r.regex.find_iter(content) {
                    self.consider(
                        content,
                        idx,
                        r,
                        m.start(),
                        m.start(),
                        m.end(),
                        "",
                        &mut candidates,
                    );
                }
            }
        }
        // Highest score first, then longest, then leftmost; keep what does
        // not overlap something kept.
        candidates.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then((b.end - b.start).cmp(&(a.end - a.start)))
                .then(a.start.cmp(&b.start))
        });
        let mut kept: BTreeMap<usize, usize> = BTreeMap::new();
        let mut accepted = Vec::new();
        for c in candidates {
            let overlaps_before = kept
                .range(..c.end)
                .next_back()
                .is_some_and(|(_, &e)| e > c.start);
            if overlaps_before {
                continue;
            }
            kept.insert(c.start, c.end);
            accepted.push(c);
        }
        accepted.sort_by_key(|c| (c.start, c.end));
        for c in accepted {
            let r = &self.recognisers[c.recogniser];
            let value = &content[c.start..c.end];
            let mut evidence = format!("{} {}", c.label.as_deref().unwrap_or(&r.what), mask(value));
            if let Some(w) = &c.context_word {
                evidence.push_str(&format!(", near \"{w}\""));
            }
            if let Some(w) = &c.negative_word {
                evidence.push_str(&format!(", score lowered by \"{w}\""));
            }
            out.push(
                Finding::new(r.category, r.rule_id.clone(), c.score, evidence).at(c.start, c.end),
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn consider(
        &self,
        content: &str,
        idx: usize,
        r: &Recogniser,
        whole_start: usize,
        start: usize,
        end: usize,
        key: &str,
        candidates: &mut Vec<Candidate>,
    ) {
        let Some(hit) = validate(r.kind, content, start, end, key) else {
            return;
        };
        let (s, e) = (hit.start, hit.end);
        if s >= e || !content.is_char_boundary(s) || !content.is_char_boundary(e) {
            return;
        }
        let value = &content[s..e];
        if self.allowed(value) {
            return;
        }
        let ctx_from = whole_start.min(s);
        let before_lo = content.floor_char_boundary(ctx_from.saturating_sub(self.context_before));
        let after_hi = content.ceil_char_boundary((e + self.context_after).min(content.len()));
        let before = content[before_lo..ctx_from].to_lowercase();
        let after = content[e..after_hi].to_lowercase();
        let context_word = find_phrase(&before, &r.context)
            .or_else(|| find_phrase(&after, &r.context))
            .map(str::to_string);
        if r.needs_context && context_word.is_none() {
            return;
        }
        let negative_word = find_phrase(&before, &r.negative)
            .or_else(|| find_phrase(&after, &r.negative))
            .map(str::to_string);
        let mut score = r.base + hit.adjust;
        if context_word.is_some() {
            score += self.context_boost;
        }
        if negative_word.is_some() {
            score -= self.context_penalty;
        }
        let score = score.clamp(0.0, 1.0);
        if score < self.floor {
            return;
        }
        candidates.push(Candidate {
            recogniser: idx,
            start: s,
            end: e,
            score,
            label: hit.label,
            context_word,
            negative_word,
        });
    }

    /// Other users' registered attributes in the content.
    fn cross_user(&self, input: &Input<'_>, out: &mut Vec<Finding>) {
        let registry = input.registry;
        if !self.cross_user || !registry.has_attributes() {
            return;
        }
        let content = input.content;
        let words = words_with_spans(content);
        let me = input.context.user_id.as_str();
        let mut window = String::with_capacity(128);
        for i in 0..words.len() {
            if !registry.may_start(&registry.fingerprint(&words[i].2)) {
                continue;
            }
            window.clear();
            for j in i..(i + MAX_ATTRIBUTE_WORDS).min(words.len()) {
                if j > i {
                    window.push(' ');
                }
                window.push_str(&words[j].2);
                if window.len() < 3 {
                    continue;
                }
                let owners = registry.owners(&registry.fingerprint(&window));
                if owners.is_empty() || owners.iter().any(|o| o.user_id == me) {
                    continue;
                }
                let mut kinds: Vec<&str> = owners.iter().map(|o| o.kind.as_str()).collect();
                kinds.sort_unstable();
                kinds.dedup();
                let (s, e) = (words[i].0, words[j].1);
                out.push(
                    Finding::new(
                        Category::PrivacyCrossUser,
                        "privacy.cross_user.registered_attribute",
                        1.0,
                        format!(
                            "{} registered by another user ({} {}) appears in content made for {}",
                            kinds.join("/"),
                            owners.len(),
                            if owners.len() == 1 { "owner" } else { "owners" },
                            if me.is_empty() {
                                "an unknown user"
                            } else {
                                "this user"
                            },
                        ) + &format!(": {}", mask(&content[s..e])),
                    )
                    .at(s, e),
                );
            }
        }
    }
}

/// A proposed finding before overlaps are resolved.
struct Candidate {
    recogniser: usize,
    start: usize,
    end: usize,
    score: f32,
    label: Option<String>,
    context_word: Option<String>,
    negative_word: Option<String>,
}

impl Check for Compiled {
    fn name(&self) -> &'static str {
        "privacy"
    }

    fn check(&self, input: &Input<'_>, out: &mut Vec<Finding>) -> Result<(), CheckError> {
        self.scan(input.content, out);
        self.cross_user(input, out);
        Ok(())
    }
}

/// The content's words as [`registry::normalise`] splits and lowercases
/// them, with their byte spans.
fn words_with_spans(content: &str) -> Vec<(usize, usize, String)> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in content.char_indices() {
        if c.is_alphanumeric() {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(s) = start.take() {
            words.push((s, i, content[s..i].to_lowercase()));
        }
    }
    if let Some(s) = start {
        words.push((s, content.len(), content[s..].to_lowercase()));
    }
    debug_assert_eq!(
        words
            .iter()
            .map(|w| w.2.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        registry::normalise(content)
    );
    words
}

/// The first phrase found in `hay` (lower case) as whole words; a trailing
/// plural `s` is allowed.
fn find_phrase<'a>(hay: &str, phrases: &'a [String]) -> Option<&'a str> {
    for p in phrases {
        if p.is_empty() {
            continue;
        }
        let mut from = 0;
        while let Some(i) = hay[from..].find(p.as_str()) {
            let s = from + i;
            let e = s + p.len();
            let before_ok = hay[..s]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric());
            let mut rest = hay[e..].chars();
            let after_ok = match rest.next() {
                None => true,
                Some('s') => rest.next().is_none_or(|c| !c.is_alphanumeric()),
                Some(c) => !c.is_alphanumeric(),
            };
            if before_ok && after_ok {
                return Some(p);
            }
            from = e;
        }
    }
    None
}

/// What a validator accepted.
struct Hit {
    start: usize,
    end: usize,
    adjust: f32,
    label: Option<String>,
}

impl Hit {
    fn new(start: usize, end: usize) -> Self {
        Hit {
            start,
            end,
            adjust: 0.0,
            label: None,
        }
    }
}

fn prev_char(text: &str, i: usize) -> Option<char> {
    text[..i].chars().next_back()
}

fn next_char(text: &str, i: usize) -> Option<char> {
    text[i..].chars().next()
}

/// Whether a numeric span stands alone: no letter, digit or `_` touches
/// it, and no `.`, `-`, `/` or `,` joins it to another number.
fn numeric_edges_ok(text: &str, s: usize, e: usize) -> bool {
    let joins = |c: char| matches!(c, '.' | '-' | '/' | ',');
    match prev_char(text, s) {
        Some(c) if c.is_alphanumeric() || c == '_' || c == '+' => return false,
        Some(c)
            if joins(c)
                && prev_char(text, s - c.len_utf8()).is_some_and(|d| d.is_ascii_digit()) =>
        {
            return false;
        }
        _ => {}
    }
    match next_char(text, e) {
        Some(c) if c.is_alphanumeric() || c == '_' => false,
        Some(c) if joins(c) => {
            !next_char(text, e + c.len_utf8()).is_some_and(|d| d.is_ascii_digit())
        }
        _ => true,
    }
}

/// Whether a match is a slice of a longer run of space-separated digit
/// groups (an account number, a tracking code): a group of digits or
/// letters-then-digits sits one space before or after it.
fn inside_digit_run(text: &str, s: usize, e: usize) -> bool {
    // The group before: digits, or four capitals and digits ("ABNA",
    // "NL91") as in an IBAN written in groups.
    let group_before = || {
        let head = &text[..s - 1];
        let start = head
            .rfind(|c: char| !c.is_ascii_alphanumeric())
            .map_or(0, |i| i + 1);
        let g = &head[start..];
        g.len() == 4
            && g.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    let before = prev_char(text, s) == Some(' ')
        && (prev_char(text, s - 1).is_some_and(|c| c.is_ascii_digit()) || group_before());
    let after = next_char(text, e) == Some(' ')
        && next_char(text, e + 1).is_some_and(|c| c.is_ascii_digit());
    before || after
}

/// Whether a token stands alone: no letter, digit, `_` or `-` touches it.
fn token_edges_ok(text: &str, s: usize, e: usize) -> bool {
    let glued = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    !prev_char(text, s).is_some_and(glued) && !next_char(text, e).is_some_and(glued)
}

fn ascii_digits(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// The Luhn checksum.
pub fn luhn_valid(digits: &[u8]) -> bool {
    if digits.len() < 2 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = d as u32;
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The card network whose prefix and length the digits have.
fn card_issuer(d: &[u8]) -> Option<&'static str> {
    let n = d.len();
    let prefix = |k: usize| -> u32 { d.iter().take(k).fold(0, |a, &x| a * 10 + x as u32) };
    let p2 = prefix(2);
    let p3 = prefix(3);
    let p4 = prefix(4);
    let p6 = prefix(6);
    if d[0] == 4 && matches!(n, 13 | 16 | 19) {
        return Some("Visa");
    }
    if n == 16 && ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) {
        return Some("Mastercard");
    }
    if n == 15 && (p2 == 34 || p2 == 37) {
        return Some("American Express");
    }
    if (16..=19).contains(&n)
        && (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622126..=622925).contains(&p6))
    {
        return Some("Discover");
    }
    if (16..=19).contains(&n) && (3528..=3589).contains(&p4) {
        return Some("JCB");
    }
    if (14..=19).contains(&n)
        && ((300..=305).contains(&p3) || p3 == 309 || matches!(p2, 36 | 38 | 39))
    {
        return Some("Diners Club");
    }
    if (16..=19).contains(&n) && p2 == 62 {
        return Some("UnionPay");
    }
    if (16..=19).contains(&n) && (2200..=2204).contains(&p4) {
        return Some("Mir");
    }
    if (13..=19).contains(&n)
        && matches!(
            p4,
            5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761 | 6762 | 6763
        )
    {
        return Some("Maestro");
    }
    if n == 16 && p4 == 5019 {
        return Some("Dankort");
    }
    if n == 15 && d[0] == 1 {
        return Some("UATP");
    }
    None
}

/// IBAN lengths by country (the SWIFT registry).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HN", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
];

fn iban_length(country: &str) -> Option<usize> {
    IBAN_LENGTHS
        .iter()
        .find(|(c, _)| *c == country)
        .map(|&(_, n)| n)
}

/// Whether a compact upper-case IBAN passes mod 97.
pub fn iban_valid(iban: &str) -> bool {
    let b = iban.as_bytes();
    if b.len() < 5
        || !b
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        || iban_length(&iban[..2]) != Some(b.len())
    {
        return false;
    }
    let mut rem: u32 = 0;
    for &c in b[4..].iter().chain(&b[..4]) {
        if c.is_ascii_digit() {
            rem = (rem * 10 + (c - b'0') as u32) % 97;
        } else {
            rem = (rem * 100 + (c - b'A' + 10) as u32) % 97;
        }
    }
    rem == 1
}

fn ssn_valid(area: u32, group: u32, serial: u32) -> bool {
    area != 0
        && area != 666
        && area < 900
        && group != 0
        && serial != 0
        && !matches!((area, group, serial), (78, 5, 1120) | (219, 9, 9999))
}

/// Shannon entropy in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

const PLACEHOLDERS: &[&str] = &[
    "your",
    "example",
    "xxx",
    "***",
    "...",
    "changeme",
    "placeholder",
    "redacted",
    "dummy",
    "sample",
    "secret",
    "password",
    "token",
    "test",
    "null",
    "none",
    "undefined",
    "todo",
    "${",
    "{{",
    "%s",
    "env[",
    "process.env",
    "os.environ",
    "getenv",
];

/// Whether an assigned value looks like a real secret.
fn secret_value_ok(key: &str, value: &str) -> bool {
    let lower = value.to_lowercase();
    if PLACEHOLDERS.iter().any(|p| lower.contains(p)) {
        return false;
    }
    if value
        .chars()
        .all(|c| c == value.chars().next().unwrap_or(' '))
    {
        return false;
    }
    let classes = [
        value.chars().any(|c| c.is_ascii_lowercase()),
        value.chars().any(|c| c.is_ascii_uppercase()),
        value.chars().any(|c| c.is_ascii_digit()),
        value.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|&&b| b)
    .count();
    let password = {
        let k = key.to_ascii_lowercase();
        k.starts_with("pass") || k == "pwd"
    };
    let n = value.chars().count();
    if password {
        n >= 8 && (classes >= 3 || entropy(value) >= 3.0)
    } else {
        n >= 16 && classes >= 2 && entropy(value) >= 3.0
    }
}

fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Cuts trailing separator-delimited groups off `[s, e)` until it holds at
/// most `max` digits; `None` when fewer than `min` remain.
fn trim_digit_groups(text: &str, s: usize, mut e: usize, min: usize, max: usize) -> Option<usize> {
    loop {
        let n = text[s..e].bytes().filter(u8::is_ascii_digit).count();
        if n < min {
            return None;
        }
        if n <= max {
            return Some(e);
        }
        let cut = text[s..e].rfind(|c: char| !c.is_ascii_digit())?;
        e = s + text[s..s + cut]
            .trim_end_matches([' ', '.', '-', '(', ')'])
            .len();
    }
}

/// Separators between digit groups, in order.
/// A count or a sum rather than an id: three or more trailing zeros.
fn round_number(d: &[u8]) -> bool {
    d.iter().rev().take_while(|&&x| x == 0).count() >= 3
}

/// The characters of a value that are neither letters nor digits.
fn punctuation(value: &str) -> Vec<char> {
    value.chars().filter(|c| !c.is_alphanumeric()).collect()
}

fn separators(value: &str) -> Vec<char> {
    let mut seps = Vec::new();
    let mut prev_digit = false;
    for c in value.chars() {
        if c.is_ascii_digit() {
            prev_digit = true;
        } else if prev_digit {
            seps.push(c);
            prev_digit = false;
        }
    }
    seps
}

/// Validates a candidate `[s, e)` of recogniser kind `kind`; `key` is the
/// `key` group of an assignment.
fn validate(kind: Kind, text: &str, s: usize, e: usize, key: &str) -> Option<Hit> {
    let value = &text[s..e];
    match kind {
        Kind::Email => {
            let (local, domain) = value.rsplit_once('@')?;
            if local.is_empty()
                || local.len() > 64
                || local.starts_with('.')
                || local.ends_with('.')
                || local.contains("..")
                || domain.len() > 253
            {
                return None;
            }
            let labels: Vec<&str> = domain.split('.').collect();
            if labels
                .iter()
                .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
            {
                return None;
            }
            let tld = labels.last()?.to_ascii_lowercase();
            if matches!(
                tld.as_str(),
                "png" | "jpg" | "jpeg" | "gif" | "svg" | "webp" | "bmp" | "ico"
            ) {
                return None;
            }
            if next_char(text, e).is_some_and(|c| c.is_alphanumeric() || c == '@') {
                return None;
            }
            Some(Hit::new(s, e))
        }
        Kind::PhoneIntl | Kind::PhoneUs | Kind::PhoneUk | Kind::PhoneFr | Kind::PhoneDe
            if inside_digit_run(text, s, e) =>
        {
            None
        }
        Kind::PhoneIntl => {
            if prev_char(text, s).is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '+') {
                return None;
            }
            let trunk = value.contains("(0)");
            let e = trim_digit_groups(text, s, e, 8, if trunk { 16 } else { 15 })?;
            let v = &text[s..e];
            if v.matches('(').count() != v.matches(')').count() {
                return None;
            }
            match next_char(text, e) {
                Some(c) if c.is_alphanumeric() || c == '_' => return None,
                Some(c @ ('.' | '-' | '/' | ','))
                    if next_char(text, e + c.len_utf8()).is_some_and(|d| d.is_ascii_digit()) =>
                {
                    return None;
                }
                _ => {}
            }
            Some(Hit::new(s, e))
        }
        Kind::PhoneUs => {
            if !numeric_edges_ok(text, s, e) {
                return None;
            }
            let d = ascii_digits(value);
            let d = if d.len() == 11 { &d[1..] } else { &d[..] };
            if d.len() != 10 || d[0] < 2 || d[3] < 2 {
                return None;
            }
            let seps = separators(value.trim_start_matches(['1', ' ', '.', '-']));
            // "(415) 555-0132" has ") " or ")" then one more separator.
            if !value.contains('(') && seps.len() == 2 && seps[0] != seps[1] {
                return None;
            }
            Some(Hit::new(s, e))
        }
        Kind::PhoneUk => (numeric_edges_ok(text, s, e) && ascii_digits(value).len() == 11)
            .then(|| Hit::new(s, e)),
        Kind::PhoneFr => {
            let seps = separators(value);
            let consistent =
                seps.windows(2).all(|w| w[0] == w[1]) && (seps.is_empty() || seps.len() == 4);
            (numeric_edges_ok(text, s, e) && consistent && ascii_digits(value).len() == 10)
                .then(|| Hit::new(s, e))
        }
        Kind::PhoneDe => {
            let n = ascii_digits(value).len();
            (numeric_edges_ok(text, s, e) && (10..=12).contains(&n)).then(|| Hit::new(s, e))
        }
        Kind::Card => {
            if prev_char(text, s).is_some_and(|c| c.is_alphanumeric() || c == '_') {
                return None;
            }
            // Digit groups with their spans; a last group cut off by the
            // regex's length limit is dropped.
            let mut groups: Vec<(usize, usize)> = Vec::new();
            let mut g_start = None;
            for (i, c) in value.char_indices() {
                if c.is_ascii_digit() {
                    g_start.get_or_insert(i);
                } else if let Some(gs) = g_start.take() {
                    groups.push((s + gs, s + i));
                }
            }
            if let Some(gs) = g_start {
                groups.push((s + gs, e));
            }
            if next_char(text, e).is_some_and(|c| c.is_ascii_digit()) {
                groups.pop();
            }
            for i in 0..groups.len() {
                for j in (i..groups.len()).rev() {
                    let (gs, ge) = (groups[i].0, groups[j].1);
                    let d = ascii_digits(&text[gs..ge]);
                    if !(13..=19).contains(&d.len()) || !numeric_edges_ok(text, gs, ge) {
                        continue;
                    }
                    if let Some(issuer) = card_issuer(&d)
                        && luhn_valid(&d)
                    {
                        let mut hit = Hit::new(gs, ge);
                        hit.label = Some(format!("payment card number ({issuer})"));
                        return Some(hit);
                    }
                }
            }
            None
        }
        Kind::Iban => {
            if prev_char(text, s).is_some_and(|c| c.is_alphanumeric() || c == '_') {
                return None;
            }
            let want = iban_length(&value[..2])?;
            let sep = |c: char| c == ' ' || c == '-';
            let mut n = 0;
            let mut cut = None;
            for (i, c) in value.char_indices() {
                if !sep(c) {
                    n += 1;
                    if n == want {
                        cut = Some(i + 1);
                        break;
                    }
                }
            }
            let cut = cut?;
            let end = s + cut;
            // One separator style throughout; after the last group only a
            // space or the end (a dash would continue the number).
            let seps = punctuation(&text[s..end]);
            if seps.windows(2).any(|w| w[0] != w[1])
                || value[cut..].starts_with(|c: char| c != ' ')
                || next_char(text, end).is_some_and(|c| c.is_alphanumeric() || c == '_')
                || (next_char(text, end) == Some('-')
                    && next_char(text, end + 1).is_some_and(|c| c.is_alphanumeric()))
            {
                return None;
            }
            let compact: String = text[s..end].chars().filter(|&c| !sep(c)).collect();
            iban_valid(&compact).then(|| Hit::new(s, end))
        }
        Kind::Ssn | Kind::SsnPlain => {
            if !numeric_edges_ok(text, s, e) {
                return None;
            }
            let seps = separators(value);
            if seps.len() == 2 && seps[0] != seps[1] {
                return None;
            }
            let d = ascii_digits(value);
            let num = |r: std::ops::Range<usize>| d[r].iter().fold(0u32, |a, &x| a * 10 + x as u32);
            (d.len() == 9 && ssn_valid(num(0..3), num(3..5), num(5..9))).then(|| Hit::new(s, e))
        }
        Kind::Ipv4 => {
            if prev_char(text, s).is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                return None;
            }
            if let Some(c) = next_char(text, e)
                && (c.is_alphanumeric()
                    || c == '_'
                    || (c == '.' && next_char(text, e + 1).is_some_and(|d| d.is_alphanumeric())))
            {
                return None;
            }
            let ip: Ipv4Addr = value.parse().ok()?;
            let mut hit = Hit::new(s, e);
            if ip.is_loopback() || ip.is_unspecified() || ip.is_broadcast() {
                hit.adjust = -0.35;
                hit.label = Some("loopback or unspecified IPv4 address".to_string());
            } else if ip.octets().iter().all(|&o| o < 10) {
                // "1.5.2.8": more often a list of small numbers than an
                // address; a context word is needed to pass min_score.
                hit.adjust = -0.2;
            }
            Some(hit)
        }
        Kind::Ipv6 => {
            let mut v = value;
            if v.ends_with(':') && !v.ends_with("::") {
                v = &v[..v.len() - 1];
            }
            let e = s + v.len();
            let glued = |c: char| c.is_alphanumeric() || c == '_' || c == ':' || c == '.';
            if prev_char(text, s).is_some_and(glued)
                || next_char(text, e).is_some_and(|c| c.is_alphanumeric() || c == '_')
                || (next_char(text, e) == Some('.')
                    && next_char(text, e + 1).is_some_and(|c| c.is_ascii_digit()))
            {
                return None;
            }
            // At least two groups, and three or one of 3+ hex digits, so
            // "a::b" and "ab::cd" are not addresses.
            let groups: Vec<&str> = v.split(':').filter(|g| !g.is_empty()).collect();
            if groups.len() < 2 || (groups.len() < 3 && groups.iter().all(|g| g.len() < 3)) {
                return None;
            }
            let ip: Ipv6Addr = v.parse().ok()?;
            let mut hit = Hit::new(s, e);
            if ip.is_loopback() || ip.is_unspecified() {
                hit.adjust = -0.35;
            }
            Some(hit)
        }
        Kind::Token { min_len } => {
            (value.len() >= min_len && token_edges_ok(text, s, e)).then(|| Hit::new(s, e))
        }
        Kind::Jwt => {
            if !token_edges_ok(text, s, e) {
                return None;
            }
            let mut parts = value.split('.');
            let header = base64url_decode(parts.next()?)?;
            let payload = parts.next()?;
            let signature = parts.next()?;
            let header = String::from_utf8(header).ok()?;
            (header.trim_start().starts_with('{')
                && header.contains("\"alg\"")
                && payload.len() >= 8
                && signature.len() >= 8)
                .then(|| Hit::new(s, e))
        }
        Kind::PrivateKey => {
            // Extend to the matching END line when there is one.
            let rest = &text[e..];
            let limit = rest.floor_char_boundary(rest.len().min(16 * 1024));
            let end = rest[..limit]
                .find("-----END ")
                .and_then(|i| {
                    let tail = &rest[i..limit];
                    tail[9..].find("-----").map(|j| e + i + 9 + j + 5)
                })
                .unwrap_or(e);
            Some(Hit::new(s, end))
        }
        Kind::Assignment => {
            let trimmed = value.trim_end_matches(['.', ')', ']', '}', '!', '?', ':']);
            let e = s + trimmed.len();
            secret_value_ok(key, trimmed).then(|| Hit::new(s, e))
        }
        Kind::Itin => {
            if !numeric_edges_ok(text, s, e) {
                return None;
            }
            let seps = separators(value);
            if seps.len() == 2 && seps[0] != seps[1] {
                return None;
            }
            let d = ascii_digits(value);
            let group = d[3] as u32 * 10 + d[4] as u32;
            let issued = matches!(group, 50..=65 | 70..=88 | 90..=92 | 94..=99);
            // Nine digits in a row are an ITIN only with a context word.
            let plain = seps.is_empty();
            if d.len() != 9 || !issued {
                return None;
            }
            let mut hit = Hit::new(s, e);
            if plain {
                hit.adjust = -0.3;
            }
            Some(hit)
        }
        Kind::Nhs => {
            if !numeric_edges_ok(text, s, e) || inside_digit_run(text, s, e) {
                return None;
            }
            let seps = separators(value);
            if !(seps.is_empty() || (seps.len() == 2 && seps[0] == seps[1])) {
                return None;
            }
            let mut hit = Hit::new(s, e);
            // Grouped 3-3-4 with a valid check digit stands alone; ten
            // digits in a row need a context word.
            if !seps.is_empty() {
                hit.adjust = 0.1;
            }
            checksums::nhs_valid(&ascii_digits(value)).then_some(hit)
        }
        Kind::Nino => {
            if !token_edges_ok(text, s, e) {
                return None;
            }
            let spaces = value.matches(' ').count();
            let six = value.len() == 10 && value.as_bytes()[2] == b' ';
            if spaces != 0 && spaces != 4 && !six {
                return None;
            }
            let compact: String = value
                .chars()
                .filter(|&c| c != ' ')
                .map(|c| c.to_ascii_uppercase())
                .collect();
            let mut hit = Hit::new(s, e);
            // Lower case or unusual grouping: less sure without context.
            if value.chars().any(|c| c.is_ascii_lowercase()) || six {
                hit.adjust = -0.1;
            }
            checksums::nino_valid(&compact).then_some(hit)
        }
        Kind::Passport | Kind::UsDrivingLicence => {
            if !token_edges_ok(text, s, e)
                || (kind == Kind::Passport && !numeric_edges_ok(text, s, e))
            {
                return None;
            }
            // A year or a round count is not an id.
            let d = ascii_digits(value);
            (d.iter().any(|&x| x != d[0]) && !round_number(&d)).then(|| Hit::new(s, e))
        }
        Kind::UkDrivingLicence => {
            let upper = value.to_ascii_uppercase();
            // One case throughout.
            let mixed = value.chars().any(|c| c.is_ascii_lowercase())
                && value.chars().any(|c| c.is_ascii_uppercase());
            (token_edges_ok(text, s, e) && !mixed && checksums::uk_driving_licence_valid(&upper))
                .then(|| Hit::new(s, e))
        }
        Kind::AbaRouting => (numeric_edges_ok(text, s, e)
            && checksums::aba_valid(&ascii_digits(value)))
        .then(|| Hit::new(s, e)),
        Kind::BankAccount => {
            if !numeric_edges_ok(text, s, e) || inside_digit_run(text, s, e) {
                return None;
            }
            let seps = separators(value);
            if seps.windows(2).any(|w| w[0] != w[1]) {
                return None;
            }
            let d = ascii_digits(value);
            // A year range, a round sum or one digit repeated is not an
            // account.
            let repeated = d.iter().all(|&x| x == d[0]);
            let years = d.len() == 8
                && seps.len() == 1
                && [&d[..2], &d[4..6]]
                    .iter()
                    .all(|c| matches!(c, [1, 9] | [2, 0]));
            (!repeated && !years && !round_number(&d)).then(|| Hit::new(s, e))
        }
        Kind::SortCode => {
            let seps = separators(value);
            (numeric_edges_ok(text, s, e) && seps.windows(2).all(|w| w[0] == w[1]))
                .then(|| Hit::new(s, e))
        }
        Kind::Mac => {
            let glued = |c: char| c.is_ascii_hexdigit() || c == ':' || c == '-' || c == '_';
            if prev_char(text, s).is_some_and(|c| glued(c) || c.is_alphanumeric())
                || next_char(text, e).is_some_and(|c| glued(c) || c.is_alphanumeric())
            {
                return None;
            }
            let seps = punctuation(value);
            if seps.windows(2).any(|w| w[0] != w[1]) {
                return None;
            }
            let hex: String = value.chars().filter(char::is_ascii_hexdigit).collect();
            if hex.chars().all(|c| c == '0') || hex.eq_ignore_ascii_case("ffffffffffff") {
                return None;
            }
            let mut hit = Hit::new(s, e);
            // Six pairs of plain digits are as often a date-time or a code.
            if !hex.chars().any(|c| c.is_ascii_alphabetic()) {
                hit.adjust = -0.25;
            }
            Some(hit)
        }
        Kind::BitcoinBase58 => (token_edges_ok(text, s, e)
            && checksums::bitcoin_base58_valid(value))
        .then(|| Hit::new(s, e)),
        Kind::BitcoinBech32 => (token_edges_ok(text, s, e)
            && checksums::bitcoin_bech32_valid(value))
        .then(|| Hit::new(s, e)),
        Kind::Ethereum => {
            if !token_edges_ok(text, s, e) {
                return None;
            }
            let mut hit = Hit::new(s, e);
            match checksums::ethereum_address(value) {
                EthCase::Checksummed => {}
                EthCase::Unchecked => {
                    hit.adjust = -0.15;
                    hit.label = Some("Ethereum address (no checksum case)".to_string());
                }
                EthCase::Invalid => return None,
            }
            Some(hit)
        }
        Kind::DateOfBirth => {
            if next_char(text, e).is_some_and(|c| c.is_ascii_alphanumeric()) {
                return None;
            }
            let (year, ..) = checksums::parse_date(value)?;
            let k = key.to_ascii_lowercase();
            let labelled = !k.starts_with("born") && !k.starts_with("birthday");
            // "born on ..." is a person's own date only in the first person
            // ("I was born on", "my son was born on"); news gives public
            // figures' birthdays, which are not findings.
            let lo = text.floor_char_boundary(s.saturating_sub(48));
            let before = text[lo..s].to_lowercase();
            let first_person = ["i was ", "i'm ", "i am ", "my ", "me ", "our "]
                .iter()
                .any(|w| before.contains(w));
            if !labelled && !first_person {
                return None;
            }
            let mut hit = Hit::new(s, e);
            hit.adjust = if labelled { 0.25 } else { 0.2 };
            if year > 2100 {
                return None;
            }
            Some(hit)
        }
        Kind::StreetAddress => {
            if prev_char(text, s).is_some_and(|c| c.is_alphanumeric()) {
                return None;
            }
            let v = value.trim_end_matches(['.', ',']);
            let e = s + v.len();
            if next_char(text, e).is_some_and(|c| c.is_ascii_alphanumeric()) {
                return None;
            }
            Some(Hit::new(s, e))
        }
        Kind::ProseSecret => {
            let v = value.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'']);
            let e = s + v.len();
            let k = key.to_ascii_lowercase();
            let numeric = v.bytes().all(|b| b.is_ascii_digit());
            let ok = if k.starts_with("pin") || (k.starts_with("passcode") && numeric) {
                (4..=8).contains(&v.len()) && numeric && !round_number(&ascii_digits(v))
            } else {
                let lower = v.to_lowercase();
                let classes = [
                    v.chars().any(|c| c.is_ascii_lowercase()),
                    v.chars().any(|c| c.is_ascii_uppercase()),
                    v.chars().any(|c| c.is_ascii_digit()),
                    v.chars().any(|c| !c.is_ascii_alphanumeric()),
                ]
                .iter()
                .filter(|&&b| b)
                .count();
                v.chars().count() >= 6
                    && (classes >= 2 && v.chars().any(|c| !c.is_ascii_lowercase()))
                    && !PLACEHOLDERS.iter().any(|p| lower.contains(p))
            };
            ok.then(|| Hit::new(s, e))
        }
        Kind::PersonalUrl => {
            let v = value.trim_end_matches(['.', ',', ';', ':', '!', '?']);
            let e = s + v.len();
            let why = personal_url(v)?;
            let mut hit = Hit::new(s, e);
            hit.label = Some(format!("URL carrying {why}"));
            Some(hit)
        }
        Kind::Custom => Some(Hit::new(s, e)),
    }
}

/// Query keys that carry personal data in a URL.
const URL_PERSONAL_KEYS: &[&str] = &[
    "name",
    "fullname",
    "full_name",
    "firstname",
    "first_name",
    "lastname",
    "last_name",
    "surname",
    "email",
    "e-mail",
    "mail",
    "phone",
    "tel",
    "mobile",
    "dob",
    "birthdate",
    "date_of_birth",
    "ssn",
    "nhs",
    "address",
    "postcode",
    "zip",
    "patient",
    "patient_id",
    "patientid",
    "userid",
    "user_id",
    "uid",
    "username",
    "account",
    "account_id",
    "password",
    "pwd",
    "passwd",
    "token",
    "access_token",
    "api_key",
    "apikey",
    "session",
    "sessionid",
    "session_id",
    "sid",
];

/// Path segments after which an id names a person's record.
const URL_PERSONAL_PATHS: &[&str] = &[
    "patients",
    "patient",
    "users",
    "user",
    "members",
    "member",
    "customers",
    "customer",
    "accounts",
    "profile",
    "profiles",
];

/// What personal data a URL carries, if any: a personal query key with a
/// value, or a person's record in its path.
fn personal_url(url: &str) -> Option<String> {
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p, Some(q.split('#').next().unwrap_or(q))),
        None => (url.split('#').next().unwrap_or(url), None),
    };
    if let Some(q) = query {
        for pair in q.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = k.to_ascii_lowercase();
            if !v.is_empty() && URL_PERSONAL_KEYS.contains(&k.as_str()) {
                return Some(format!("the query key {k:?}"));
            }
        }
    }
    let segments: Vec<&str> = path.split('/').skip(3).collect();
    for w in segments.windows(2) {
        let seg = w[0].to_ascii_lowercase();
        let next = w[1];
        if URL_PERSONAL_PATHS.contains(&seg.as_str())
            && !next.is_empty()
            && (next.bytes().any(|b| b.is_ascii_digit()) || query.is_some())
        {
            return Some(format!("a record under /{seg}/"));
        }
    }
    None
}

// ---------------------------------------------------------------------
// Evaluation data
// ---------------------------------------------------------------------

/// A small deterministic PRNG (SplitMix64) for generated evaluation data.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub(crate) fn range(&mut self, lo: u64, hi_inclusive: u64) -> u64 {
        lo + self.below(hi_inclusive - lo + 1)
    }

    pub(crate) fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }

    fn chars_from(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| char::from(*self.pick(alphabet))).collect()
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn luhn_complete(prefix_and_body: &str) -> String {
    let d: Vec<u8> = ascii_digits(prefix_and_body);
    for check in 0..10u8 {
        let mut all = d.clone();
        all.push(check);
        if luhn_valid(&all) {
            return format!("{prefix_and_body}{check}");
        }
    }
    unreachable!("one check digit always completes Luhn")
}

fn group_digits(d: &str, sizes: &[usize], sep: &str) -> String {
    let mut out = String::new();
    let mut at = 0;
    for (i, &n) in sizes.iter().enumerate() {
        if at >= d.len() {
            break;
        }
        if i > 0 {
            out.push_str(sep);
        }
        let end = (at + n).min(d.len());
        out.push_str(&d[at..end]);
        at = end;
    }
    if at < d.len() {
        out.push_str(sep);
        out.push_str(&d[at..]);
    }
    out
}

/// Changes one digit (never to the same value).
fn change_one_digit(rng: &mut Rng, s: &str, skip_first: usize) -> String {
    let positions: Vec<usize> = s
        .char_indices()
        .filter(|(_, c)| c.is_ascii_digit())
        .map(|(i, _)| i)
        .skip(skip_first)
        .collect();
    let at = *rng.pick(&positions);
    let old = s.as_bytes()[at] - b'0';
    let new = (old + 1 + rng.below(9) as u8) % 10;
    let mut out = s.to_string();
    out.replace_range(at..at + 1, &char::from(b'0' + new).to_string());
    out
}

fn iban_with_check(country: &str, bban: &str) -> String {
    let probe = format!("{country}00{bban}");
    let mut rem: u32 = 0;
    for &c in probe.as_bytes()[4..].iter().chain(&probe.as_bytes()[..4]) {
        if c.is_ascii_digit() {
            rem = (rem * 10 + (c - b'0') as u32) % 97;
        } else {
            rem = (rem * 100 + (c - b'A' + 10) as u32) % 97;
        }
    }
    format!("{country}{:02}{bban}", 98 - rem)
}

fn group4(s: &str) -> String {
    s.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ")
}

fn b64url(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = ((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32;
        for k in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * k)) & 63) as usize] as char);
        }
    }
    out
}

/// Generated, labelled privacy examples (deterministic): cards, IBANs,
/// phones, SSNs, IP addresses, e-mails and secrets, each in a sentence with
/// or without context words, with near-misses labelled negative.
///
/// Decisions the labels encode: obfuscated e-mails ("name at example dot
/// com") are not findings; a dotted quad after "version" is not an IP
/// address; values that fail a checksum are not findings whatever the
/// context. `privacy.cross_user` needs registered attributes and is not in
/// this set (its unit tests cover it).
pub fn eval_cases(_env: &CompileEnv) -> Result<Vec<EvalCase>, TrustError> {
    let mut rng = Rng(0x0005_EED0_1234_5678);
    let context = ReviewContext {
        user_id: "eval-user".to_string(),
        ..Default::default()
    };
    let mut cases = Vec::new();
    let mut push = |category: Category, content: String, positive: bool| {
        cases.push(EvalCase {
            category,
            content,
            context: context.clone(),
            positive,
        })
    };

    // Payment cards.
    let card_prefixes: &[(&str, usize)] = &[
        ("4", 16),
        ("4", 13),
        ("51", 16),
        ("55", 16),
        ("2221", 16),
        ("34", 15),
        ("37", 15),
        ("6011", 16),
        ("65", 16),
        ("3530", 16),
        ("36", 14),
        ("62", 16),
        ("5019", 16),
        ("1", 15),
    ];
    let card_with = [
        "Please charge my credit card {} for the renewal.",
        "My Visa is {} and it expires next year.",
        "Card number: {}",
        "You can pay with {} on the payment page.",
    ];
    let card_without = [
        "I wrote {} on the form yesterday.",
        "Here it is: {} - thanks.",
        "She read out {} twice.",
    ];
    for i in 0..40 {
        let &(prefix, len) = rng.pick(card_prefixes);
        let body = rng.digits(len - 1 - prefix.len());
        let number = luhn_complete(&format!("{prefix}{body}"));
        let (sizes, sep): (&[usize], &str) = match (len, rng.below(3)) {
            (15, _) => (&[4, 6, 5], " "),
            (_, 0) => (&[4, 4, 4, 4], " "),
            (_, 1) => (&[4, 4, 4, 4], "-"),
            _ => (&[len], ""),
        };
        let shown = group_digits(&number, sizes, sep);
        let template = if i % 2 == 0 {
            *rng.pick(&card_with)
        } else {
            *rng.pick(&card_without)
        };
        push(
            Category::PrivacyPaymentCard,
            template.replace("{}", &shown),
            true,
        );
        let broken = change_one_digit(&mut rng, &shown, 1);
        let template = if i % 2 == 1 {
            *rng.pick(&card_with)
        } else {
            *rng.pick(&card_without)
        };
        push(
            Category::PrivacyPaymentCard,
            template.replace("{}", &broken),
            false,
        );
    }
    for s in [
        "Order 1234 5678 9012 3456 has shipped.",
        "The tracking id is 9400111899223334445566.",
        "ISBN 978-3-16-148410-0 is on the cover.",
        "Call 0800 123 4567 for help.",
        "The population grew to 1,234,567,890 in 2020.",
    ] {
        push(Category::PrivacyPaymentCard, s.to_string(), false);
    }

    // IBANs.
    let iban_shapes: &[(&str, &str)] = &[
        ("DE", "dddddddddddddddddd"),
        ("GB", "LLLLdddddddddddddd"),
        ("FR", "ddddddddddddddddddddddd"),
        ("NL", "LLLLdddddddddd"),
        ("ES", "dddddddddddddddddddd"),
        ("IT", "Ldddddddddddddddddddddd"),
        ("BE", "dddddddddddd"),
        ("CH", "ddddddddddddddddd"),
        ("PL", "dddddddddddddddddddddddd"),
        ("AT", "dddddddddddddddd"),
    ];
    let iban_with = [
        "Please transfer the deposit to IBAN {} by Monday.",
        "My bank account is {}.",
        "Wire it to {} (SEPA).",
    ];
    let iban_without = ["Use {} for the rent.", "It is {}, she said."];
    for i in 0..30 {
        let &(country, shape) = rng.pick(iban_shapes);
        let bban: String = shape
            .chars()
            .map(|c| {
                if c == 'L' {
                    char::from(b'A' + rng.below(26) as u8)
                } else {
                    char::from(b'0' + rng.below(10) as u8)
                }
            })
            .collect();
        let iban = iban_with_check(country, &bban);
        let shown = if i % 2 == 0 {
            group4(&iban)
        } else {
            iban.clone()
        };
        let template = if i % 3 == 0 {
            *rng.pick(&iban_without)
        } else {
            *rng.pick(&iban_with)
        };
        push(Category::PrivacyIban, template.replace("{}", &shown), true);
        let broken = change_one_digit(&mut rng, &shown, 2);
        push(
            Category::PrivacyIban,
            template.replace("{}", &broken),
            false,
        );
        if i % 3 == 0 {
            // One character short.
            let short = &iban[..iban.len() - 1];
            push(Category::PrivacyIban, template.replace("{}", short), false);
        }
    }

    // Phones.
    let phone_with = [
        "Call me on {} after six.",
        "My mobile is {}.",
        "You can reach her by phone at {}.",
        "Tel: {}",
    ];
    let phone_without = [
        "It was {}, I think.",
        "Write down {} somewhere safe.",
        "{} is the one to use.",
    ];
    for i in 0..60 {
        let shown = match i % 12 {
            0 => format!("+44 20 {} {}", rng.digits(4), rng.digits(4)),
            1 => format!("+44 7{} {}", rng.digits(3), rng.digits(6)),
            2 => format!(
                "+1 ({}{}) {}{}-{}",
                rng.range(2, 9),
                rng.digits(2),
                rng.range(2, 9),
                rng.digits(2),
                rng.digits(4)
            ),
            3 => format!(
                "+33 6 {} {} {} {}",
                rng.digits(2),
                rng.digits(2),
                rng.digits(2),
                rng.digits(2)
            ),
            4 => format!("+49 30 {}", rng.digits(8)),
            5 => format!("+91 9{} {}", rng.digits(4), rng.digits(5)),
            6 => format!(
                "({}{}) {}{}-{}",
                rng.range(2, 9),
                rng.digits(2),
                rng.range(2, 9),
                rng.digits(2),
                rng.digits(4)
            ),
            7 => format!(
                "{}{}.{}{}.{}",
                rng.range(2, 9),
                rng.digits(2),
                rng.range(2, 9),
                rng.digits(2),
                rng.digits(4)
            ),
            8 => format!("07{}{} {}", rng.range(1, 9), rng.digits(2), rng.digits(6)),
            9 => format!("020 {} {}", rng.digits(4), rng.digits(4)),
            10 => format!(
                "0{} {} {} {} {}",
                rng.range(1, 7),
                rng.digits(2),
                rng.digits(2),
                rng.digits(2),
                rng.digits(2)
            ),
            _ => format!("0{}{} {}", rng.range(1, 9), rng.digits(2), rng.digits(8)),
        };
        let template = if i % 2 == 0 {
            *rng.pick(&phone_with)
        } else {
            *rng.pick(&phone_without)
        };
        push(Category::PrivacyPhone, template.replace("{}", &shown), true);
    }
    for s in [
        "Order #48392017 was delivered on 2024-01-15.",
        "The meeting is on 15.01.2024 at 10:30.",
        "It costs $1,299.99 or EUR 2.499,00 with tax.",
        "ISBN 978-0-306-40615-7 is the new edition.",
        "See ISBN 0-306-40615-2 for details.",
        "Upgrade to version 1.2.3.4 today.",
        "The final score was 3-1 after extra time.",
        "About 2,500,000 people live there.",
        "Between 1999-2004 sales doubled.",
        "Page 12 of 30, figure 4.5.",
        "Invoice 20240115-0042 is overdue.",
        "The serial is 123-456-789.",
        "Order number 0612345678 is ready.",
        "Ticket 020 1234 5678 is valid for the gallery.",
        "The coordinates are 51.5074, -0.1278.",
        "Flight BA 2490 leaves at 07:45 from gate 12.",
        "Pi is about 3.14159265358979.",
        "Postcode SW1A 1AA is Buckingham Palace.",
        "Temperatures rose 1.5 degrees between 1990 and 2020.",
        "The firm made 12,345 units in Q3 2023.",
        "Reference 123 456 789 was assigned.",
        "He scored 145 runs from 212 balls.",
        "The lottery numbers were 4 8 15 16 23 42.",
        "Part 555-1234 is out of stock.",
        "The year 2023 saw 1234567 visitors.",
        // Slices of longer digit-group runs: IBAN-like strings that fail
        // their checksum, parcel codes.
        "The form showed SK31 1200 0000 1987 4263 7542 1, which is not a valid account.",
        "Parcel 3100 0211 4477 0912 5519 is on its way.",
    ] {
        push(Category::PrivacyPhone, s.to_string(), false);
    }

    // US social security numbers.
    let ssn_with = [
        "My SSN is {}.",
        "Social security number: {}",
        "Her social security number is {} on file.",
    ];
    let ssn_without = [
        "The number {} was on the letter.",
        "He typed {} into the box.",
    ];
    for i in 0..40 {
        let mut area = rng.range(1, 899);
        if area == 666 {
            area = 665;
        }
        let group = rng.range(1, 99);
        let serial = rng.range(1, 9999);
        let sep = if i % 3 == 0 { " " } else { "-" };
        let shown = format!("{area:03}{sep}{group:02}{sep}{serial:04}");
        let template = if i % 2 == 0 {
            *rng.pick(&ssn_with)
        } else {
            *rng.pick(&ssn_without)
        };
        push(
            Category::PrivacyNationalId,
            template.replace("{}", &shown),
            true,
        );
        let (a, g, s) = match i % 5 {
            0 => (0, group, serial),
            1 => (666, group, serial),
            // Area 9xx with a group no ITIN uses: neither an SSN nor an ITIN.
            2 => (rng.range(900, 999), group % 49 + 1, serial),
            3 => (area, 0, serial),
            _ => (area, group, 0),
        };
        let bad = format!("{a:03}-{g:02}-{s:04}");
        let template = *rng.pick(&ssn_with);
        push(
            Category::PrivacyNationalId,
            template.replace("{}", &bad),
            false,
        );
    }
    for i in 0..6 {
        let plain = format!(
            "{:03}{:02}{:04}",
            rng.range(1, 665),
            rng.range(1, 99),
            rng.range(1, 9999)
        );
        if i % 2 == 0 {
            push(
                Category::PrivacyNationalId,
                format!("My SSN is {plain}."),
                true,
            );
        } else {
            push(
                Category::PrivacyNationalId,
                format!("Order {plain} has shipped."),
                false,
            );
        }
    }

    // IP addresses.
    let ip_with = [
        "The server at {} stopped responding.",
        "Her IP address is {}.",
        "Connect via ssh to {} first.",
    ];
    let ip_without = ["Traffic came from {} overnight.", "Block {} please."];
    for i in 0..30 {
        let shown = if i % 3 == 2 {
            let groups: Vec<String> = (0..8)
                .map(|_| format!("{:x}", rng.below(0x10000)))
                .collect();
            if i % 2 == 0 {
                groups.join(":")
            } else {
                format!("2001:db8::{}:{}", groups[0], groups[1])
            }
        } else {
            format!(
                "{}.{}.{}.{}",
                rng.range(11, 223),
                rng.below(256),
                rng.below(256),
                rng.range(1, 254)
            )
        };
        let template = if i % 2 == 0 {
            *rng.pick(&ip_with)
        } else {
            *rng.pick(&ip_without)
        };
        push(
            Category::PrivacyIpAddress,
            template.replace("{}", &shown),
            true,
        );
    }
    for s in [
        "The address 999.1.1.1 is not valid.",
        "Ping 192.168.1.300 and see.",
        "Upgrade to version 2.4.1.0 today.",
        "Release 10.2.0.1 fixes the bug.",
        "Section 1.2.3.4.5 explains it.",
        "Use v1.2.3.4 or later.",
        "The subnet 10.0.0 is incomplete.",
        "The race ended at 12:30:45 sharp.",
        "The MAC is 00:1A:2B:3C:4D:5E.",
        "Call std::net::Ipv4Addr in Rust.",
        "Scores were 1.5.2.8 across rounds.",
        "Figure 3.2.1.4 shows it.",
        "Ratio a::b is unclear.",
        "The time was 10:20:30:40.",
        "He read 256.256.256.256 aloud.",
    ] {
        push(Category::PrivacyIpAddress, s.to_string(), false);
    }

    // E-mails.
    let first = [
        "alice", "bob", "carol", "dmitri", "eve", "farah", "gus", "hana", "ivan", "jo",
    ];
    let last = [
        "smith", "jones", "ng", "okafor", "garcia", "müller", "kim", "rossi",
    ];
    let domains = [
        "example.com",
        "mail.example.org",
        "company.co.uk",
        "uni.edu",
        "firm.io",
        "post.de",
    ];
    let email_with = [
        "Email me at {} tomorrow.",
        "Contact: {}",
        "Write to {} for the form.",
    ];
    let email_without = ["It came from {} last night.", "Ask {} about the plan."];
    for i in 0..30 {
        let l = rng.pick(&last).replace('ü', "u");
        let local = match i % 3 {
            0 => format!("{}.{}", rng.pick(&first), l),
            1 => format!("{}{}", rng.pick(&first), rng.below(100)),
            _ => format!("{}+news", rng.pick(&first)),
        };
        let shown = format!("{local}@{}", rng.pick(&domains));
        let template = if i % 2 == 0 {
            *rng.pick(&email_with)
        } else {
            *rng.pick(&email_without)
        };
        push(Category::PrivacyEmail, template.replace("{}", &shown), true);
    }
    for s in [
        "Write to alice at example dot com.",
        "Follow @alice_smith for updates.",
        "Log in as root@localhost on the box.",
        "Use the icon@2x.png asset.",
        "Send it to bob@server please.",
        "The handle is carol[at]example[dot]com.",
        "Prices @ 5 each.",
        "Email is alice..smith@example.com, oddly.",
        "Meet at 10@office.",
        "The file is at path/to/me@home.",
    ] {
        push(Category::PrivacyEmail, s.to_string(), false);
    }

    // Secrets.
    let jwt_header = b64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    for i in 0..30 {
        let shown = match i % 10 {
            0 => format!("AKIA{}", rng.chars_from(UPPER_DIGITS, 16)),
            1 => format!("ghp_{}", rng.chars_from(ALNUM, 36)),
            2 => format!(
                "xoxb-{}-{}-{}",
                rng.digits(11),
                rng.digits(12),
                rng.chars_from(ALNUM, 24)
            ),
            3 => format!("sk_live_{}", rng.chars_from(ALNUM, 24)),
            4 => format!("AIza{}", rng.chars_from(ALNUM, 35)),
            5 => {
                let payload = b64url(
                    format!(r#"{{"sub":"{}","iat":{}}}"#, rng.digits(8), rng.digits(10)).as_bytes(),
                );
                format!("{jwt_header}.{payload}.{}", rng.chars_from(ALNUM, 43))
            }
            6 => format!(
                "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----",
                rng.chars_from(ALNUM, 64)
            ),
            7 => format!("api_key = \"{}\"", rng.chars_from(b"0123456789abcdef", 32)),
            8 => format!("password: {}#{}!", rng.chars_from(ALNUM, 6), rng.digits(3)),
            _ => format!("TOKEN={}", rng.chars_from(ALNUM, 40)),
        };
        let content = if i % 2 == 0 {
            format!("Here is the config: {shown}")
        } else {
            format!("{shown}\nkeep this safe")
        };
        push(Category::PrivacySecret, content, true);
    }
    for s in [
        "The key AKIA1234 is too short.",
        "Try ghp_abc in the docs.",
        "Use sk_live_ prefixes for live keys.",
        "AIza is how Google keys start.",
        "The header eyJhbGciOi is base64.",
        "-----BEGIN PUBLIC KEY----- is safe to share.",
        "api_key = YOUR_API_KEY_HERE",
        "password: ********",
        "token = abc",
        "password: password",
        "Set api_key=${API_KEY} in the shell.",
        "The password is strong, she said.",
        "secret = os.environ['SECRET']",
        "Pick a token: any will do.",
        "xoxb is the bot prefix.",
    ] {
        push(Category::PrivacySecret, s.to_string(), false);
    }
    cases.extend(super::safety::parse_evalset(
        EVALSET,
        "evalsets/privacy.tsv",
    )?);
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    fn compiled(config: Config) -> Compiled {
        Compiled::compile(&config, &CompileEnv::default()).unwrap()
    }

    fn scan_with(c: &Compiled, text: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        c.scan(text, &mut out);
        out
    }

    fn scan(text: &str) -> Vec<Finding> {
        scan_with(&compiled(Config::default()), text)
    }

    fn of(findings: &[Finding], category: Category) -> Vec<&Finding> {
        findings.iter().filter(|f| f.category == category).collect()
    }

    fn spans(text: &str, category: Category) -> Vec<String> {
        let f = scan(text);
        of(&f, category)
            .iter()
            .map(|f| {
                let (s, e) = f.span.unwrap();
                text[s..e].to_string()
            })
            .collect()
    }

    #[test]
    fn every_builtin_pattern_compiles() {
        let c = compiled(Config::default());
        assert_eq!(c.recognisers.len(), BUILTINS.len());
    }

    #[test]
    fn emails_are_found_and_masked_in_evidence() {
        let text = "Write to alice.smith@example.co.uk today.";
        let f = scan(text);
        let e = of(&f, Category::PrivacyEmail);
        assert_eq!(e.len(), 1);
        let (s, end) = e[0].span.unwrap();
        assert_eq!(&text[s..end], "alice.smith@example.co.uk");
        assert!(!e[0].evidence.contains("alice.smith"), "{}", e[0].evidence);
        assert!(e[0].evidence.contains("a***********************k"));
        assert_eq!(e[0].rule_id, "privacy.email.address");
    }

    #[test]
    fn obfuscated_and_hostless_emails_are_not_findings() {
        for t in [
            "alice at example dot com",
            "root@localhost",
            "icon@2x.png",
            "alice..smith@example.com",
            "@alice_smith",
        ] {
            assert!(spans(t, Category::PrivacyEmail).is_empty(), "{t}");
        }
    }

    #[test]
    fn context_words_raise_the_score() {
        let with = scan("Please email me at bob@example.com");
        let without = scan("It came from bob@example.com");
        assert!(with[0].score > without[0].score, "{with:?} {without:?}");
        assert!(with[0].evidence.contains("near \"email\""));
        let with = scan("My credit card is 4111 1111 1111 1111.");
        let without = scan("I wrote 4111 1111 1111 1111.");
        assert!(with[0].score > without[0].score);
    }

    #[test]
    fn negative_context_words_lower_the_score_below_the_floor() {
        assert_eq!(
            spans("Order number 0612345678 is ready.", Category::PrivacyPhone).len(),
            0
        );
        assert_eq!(
            spans("Call 0612345678 now.", Category::PrivacyPhone),
            ["0612345678"]
        );
    }

    #[test]
    fn luhn_valid_card_is_a_finding_and_one_digit_off_is_not() {
        assert_eq!(
            spans("Card: 4111 1111 1111 1111.", Category::PrivacyPaymentCard),
            ["4111 1111 1111 1111"]
        );
        assert!(spans("Card: 4111 1111 1111 1112.", Category::PrivacyPaymentCard).is_empty());
        assert_eq!(
            spans("amex 3782-822463-10005 ok", Category::PrivacyPaymentCard),
            ["3782-822463-10005"]
        );
        assert_eq!(
            spans("mc 5555555555554444", Category::PrivacyPaymentCard),
            ["5555555555554444"]
        );
    }

    #[test]
    fn luhn_valid_number_without_an_issuer_prefix_is_not_a_card() {
        // 1234 5678 9012 3452 passes Luhn but no network starts with 1.
        assert!(luhn_valid(&ascii_digits("1234567890123452")));
        assert!(spans("1234 5678 9012 3452", Category::PrivacyPaymentCard).is_empty());
    }

    #[test]
    fn card_followed_by_another_number_is_still_found() {
        assert_eq!(
            spans(
                "4111 1111 1111 1111 2024 was the card",
                Category::PrivacyPaymentCard
            ),
            ["4111 1111 1111 1111"]
        );
        // Part of a longer digit run: not a card.
        assert!(spans("41111111111111111111111", Category::PrivacyPaymentCard).is_empty());
    }

    #[test]
    fn iban_mod97_valid_is_a_finding_and_invalid_is_not() {
        assert_eq!(
            spans(
                "IBAN GB82 WEST 1234 5698 7654 32 please",
                Category::PrivacyIban
            ),
            ["GB82 WEST 1234 5698 7654 32"]
        );
        assert_eq!(
            spans("to DE89370400440532013000.", Category::PrivacyIban),
            ["DE89370400440532013000"]
        );
        assert!(spans("IBAN GB82 WEST 1234 5698 7654 33", Category::PrivacyIban).is_empty());
        assert!(spans("IBAN DE89370400440532013001", Category::PrivacyIban).is_empty());
        // Wrong length for the country.
        assert!(spans("IBAN DE8937040044053201300", Category::PrivacyIban).is_empty());
        // Followed by an upper-case word: the country length cuts it.
        assert_eq!(
            spans(
                "DE89 3704 0044 0532 0130 00 AND MORE",
                Category::PrivacyIban
            ),
            ["DE89 3704 0044 0532 0130 00"]
        );
    }

    #[test]
    fn iban_digits_are_not_also_reported_as_a_phone() {
        let f = scan("DE89 3704 0044 0532 0130 00");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].category, Category::PrivacyIban);
    }

    #[test]
    fn ssn_in_valid_ranges_is_a_finding_and_invalid_ranges_are_not() {
        assert_eq!(
            spans("SSN 123-45-6789", Category::PrivacyNationalId),
            ["123-45-6789"]
        );
        assert_eq!(
            spans("id 536 22 1234", Category::PrivacyNationalId),
            ["536 22 1234"]
        );
        for bad in [
            "666-12-3456",
            "000-12-3456",
            "912-12-3456",
            "123-00-4567",
            "123-45-0000",
            "078-05-1120",
        ] {
            assert!(
                spans(&format!("SSN {bad}"), Category::PrivacyNationalId).is_empty(),
                "{bad}"
            );
        }
        assert!(
            spans("SSN 123-45 6789", Category::PrivacyNationalId).is_empty(),
            "mixed separators"
        );
    }

    #[test]
    fn nine_plain_digits_are_an_ssn_only_near_a_context_word() {
        assert_eq!(
            spans("my ssn is 123456789", Category::PrivacyNationalId),
            ["123456789"]
        );
        assert!(spans("order 123456789 shipped", Category::PrivacyNationalId).is_empty());
    }

    #[test]
    fn ip_addresses_parse_and_out_of_range_octets_do_not() {
        assert_eq!(
            spans("from 192.168.10.25 today", Category::PrivacyIpAddress),
            ["192.168.10.25"]
        );
        assert_eq!(
            spans(
                "host 2001:db8:85a3::8a2e:370:7334 is up",
                Category::PrivacyIpAddress
            ),
            ["2001:db8:85a3::8a2e:370:7334"]
        );
        assert_eq!(
            spans("addr fe80::1.", Category::PrivacyIpAddress),
            ["fe80::1"]
        );
        for t in [
            "999.1.1.1",
            "1.2.300.4",
            "1.2.3.4.5",
            "v1.2.3.4",
            "01.02.03.04",
            "12:30:45",
            "00:1A:2B:3C:4D:5E",
            "std::net::Ipv4Addr",
            "version 2.4.1.0",
            "ratio a::b",
        ] {
            assert!(spans(t, Category::PrivacyIpAddress).is_empty(), "{t}");
        }
    }

    #[test]
    fn phones_in_international_and_national_forms_are_found() {
        for (t, want) in [
            ("call +44 20 7946 0958 now", "+44 20 7946 0958"),
            ("ring +1 (415) 555-0132.", "+1 (415) 555-0132"),
            ("tel +49 (0)30 1234 5678", "+49 (0)30 1234 5678"),
            ("tel +33 6 12 34 56 78", "+33 6 12 34 56 78"),
            ("at (415) 555-0132 ok", "(415) 555-0132"),
            ("at 415-555-0132 ok", "415-555-0132"),
            ("on 07700 900123 ok", "07700 900123"),
            ("on 020 7946 0958 ok", "020 7946 0958"),
            ("au 06 12 34 56 78 ok", "06 12 34 56 78"),
            ("unter 030 12345678 ok", "030 12345678"),
            ("unter 089/1234567 ok", "089/1234567"),
        ] {
            assert_eq!(spans(t, Category::PrivacyPhone), [want], "{t}");
        }
    }

    #[test]
    fn dates_prices_isbns_and_versions_are_not_phones() {
        for t in [
            "on 2024-01-15 at 10:30",
            "on 15.01.2024",
            "costs $1,299.99",
            "ISBN 978-3-16-148410-0",
            "ISBN 0-306-40615-2",
            "version 1.2.3.4",
            "the years 1999-2004",
            "about 2,500,000 people",
            "area code 123-456-7890",
        ] {
            assert!(
                spans(t, Category::PrivacyPhone).is_empty(),
                "{t}: {:?}",
                scan(t)
            );
        }
    }

    #[test]
    fn secrets_of_each_shape_are_found() {
        for t in [
            "key AKIAIOSFODNN7EXAMPLE here",
            "ghp_0123456789abcdefghijABCDEFGHIJ012345",
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "AIzaSyA-1234567890abcdefghijklmnopqrstu",
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
            "api_key = \"9f8e7d6c5b4a39281706f5e4d3c2b1a0\"",
            "password: Tr0ub4dor&3x",
        ] {
            let f = scan(t);
            assert_eq!(of(&f, Category::PrivacySecret).len(), 1, "{t}: {f:?}");
        }
    }

    #[test]
    fn private_key_span_covers_the_whole_block() {
        let t = "x -----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY----- y";
        assert_eq!(
            spans(t, Category::PrivacySecret),
            ["-----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY-----"]
        );
    }

    #[test]
    fn secret_lookalikes_and_placeholders_are_not_findings() {
        for t in [
            "AKIA1234 is short",
            "ghp_abc",
            "api_key = YOUR_API_KEY_HERE",
            "password: ********",
            "password: password",
            "token = abc",
            "api_key=${API_KEY}",
            "-----BEGIN PUBLIC KEY-----",
            "eyJhbGciOi.eyJzdWIi.abc",
        ] {
            assert!(spans(t, Category::PrivacySecret).is_empty(), "{t}");
        }
    }

    #[test]
    fn assignment_span_is_the_value_only() {
        let t = "api_key = \"9f8e7d6c5b4a39281706f5e4d3c2b1a0\";";
        assert_eq!(
            spans(t, Category::PrivacySecret),
            ["9f8e7d6c5b4a39281706f5e4d3c2b1a0"]
        );
    }

    #[test]
    fn allow_listed_values_are_not_findings() {
        let c = compiled(Config {
            allow: vec!["press@example.org".into(), "+44 20 7946 0000".into()],
            allow_patterns: vec![r".*@example\.net".into()],
            ..Config::default()
        });
        assert!(scan_with(&c, "mail press@example.org").is_empty());
        assert!(scan_with(&c, "mail PRESS@example.org").is_empty());
        assert!(scan_with(&c, "call +442079460000").is_empty());
        assert!(scan_with(&c, "mail anyone@example.net").is_empty());
        assert_eq!(scan_with(&c, "mail anyone@example.com").len(), 1);
    }

    #[test]
    fn a_bad_regex_is_refused_with_its_name() {
        let err = Compiled::compile(
            &Config {
                patterns: vec![CustomPattern {
                    id: "employee_id".into(),
                    category: "privacy.national_id".into(),
                    regex: "EMP-([0-9]+".into(),
                    score: 0.8,
                    context: vec![],
                }],
                ..Config::default()
            },
            &CompileEnv::default(),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("employee_id"), "{err}");
        let err = Compiled::compile(
            &Config {
                allow_patterns: vec!["[unclosed".into()],
                ..Config::default()
            },
            &CompileEnv::default(),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("allow_patterns[0]"), "{err}");
        assert!(err.to_string().contains("[unclosed"), "{err}");
    }

    #[test]
    fn bad_custom_category_and_unknown_disable_are_refused() {
        let bad = |config: Config| Compiled::compile(&config, &CompileEnv::default()).is_err();
        assert!(bad(Config {
            patterns: vec![CustomPattern {
                id: "x".into(),
                category: "safety.hate".into(),
                regex: "x".into(),
                score: 0.5,
                context: vec![],
            }],
            ..Config::default()
        }));
        assert!(bad(Config {
            disable: vec!["privacy.phone.xx".into()],
            ..Config::default()
        }));
    }

    #[test]
    fn custom_patterns_report_with_their_rule_id_and_value_group() {
        let c = compiled(Config {
            patterns: vec![CustomPattern {
                id: "employee_id".into(),
                category: "privacy.national_id".into(),
                regex: r"EMP-(?P<value>[0-9]{6})".into(),
                score: 0.6,
                context: vec!["staff".into()],
            }],
            ..Config::default()
        });
        let f = scan_with(&c, "staff EMP-123456");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule_id, "privacy.custom.employee_id");
        assert_eq!(f[0].span, Some((10, 16)));
        assert!((f[0].score - 0.85).abs() < 1e-6);
    }

    #[test]
    fn disabled_rules_do_not_fire() {
        let c = compiled(Config {
            disable: vec!["privacy.phone.de".into()],
            ..Config::default()
        });
        assert!(scan_with(&c, "unter 030 12345678 ok").is_empty());
    }

    #[test]
    fn bundle_section_parses_from_toml() {
        let config: Config = toml::from_str(
            r#"
            allow = ["press@example.org"]
            allow_patterns = ['.*@example\.net']
            [[patterns]]
            id = "employee_id"
            category = "privacy.national_id"
            regex = 'EMP-[0-9]{6}'
            score = 0.8
            "#,
        )
        .unwrap();
        assert_eq!(config.patterns[0].id, "employee_id");
        assert!(toml::from_str::<Config>("unknown = 1").is_err());
    }

    #[test]
    fn a_bundle_with_a_bad_privacy_regex_is_refused_naming_the_pattern() {
        let text = r#"
version = "t"
[actions]
"privacy.email" = { action = "redact" }
[privacy]
[[privacy.patterns]]
id = "badge_number"
category = "privacy.national_id"
regex = 'BADGE-(\d+'
"#;
        let err = crate::bundle::Bundle::parse(text, "test bundle", &CompileEnv::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[privacy]") && err.contains("badge_number"),
            "{err}"
        );
    }

    #[test]
    fn a_privacy_bundle_redacts_personal_data_and_blocks_secrets() {
        // The default bundle's privacy actions, without the policies that
        // need data files.
        let text = r#"
version = "privacy-only"
[actions]
"privacy.email" = { action = "redact" }
"privacy.phone" = { action = "redact" }
"privacy.ip_address" = { action = "redact", min_score = 0.6 }
"privacy.secret" = { action = "block" }
"#;
        let bundle = crate::bundle::Bundle::parse(text, "test", &CompileEnv::default()).unwrap();
        let registry = Registry::temporary().unwrap();
        let context = ReviewContext::default();
        let out = bundle.review(
            "Mail alice@example.com or call +44 20 7946 0958.",
            &context,
            &registry,
        );
        assert_eq!(out.verdict, crate::finding::Action::Redact, "{out:?}");
        assert_eq!(
            out.redacted_text.as_deref(),
            Some("Mail [email] or call [phone].")
        );
        let out = bundle.review("key AKIAIOSFODNN7EXAMPLE", &context, &registry);
        assert_eq!(out.verdict, crate::finding::Action::Block);
    }

    fn review(registry: &Registry, user: &str, text: &str) -> Vec<Finding> {
        let c = compiled(Config::default());
        let context = ReviewContext {
            user_id: user.into(),
            ..Default::default()
        };
        let mut out = Vec::new();
        c.check(
            &Input {
                content: text,
                context: &context,
                registry,
            },
            &mut out,
        )
        .unwrap();
        out
    }

    #[test]
    fn another_users_registered_attribute_is_a_cross_user_finding() {
        let r = Registry::temporary().unwrap();
        r.register_private_attributes(
            "bob",
            &[("address".into(), "12 Acacia Avenue, Leeds".into())],
        )
        .unwrap();
        let text = "Alice, your parcel went to 12 acacia  avenue - LEEDS by mistake.";
        let f = review(&r, "alice", text);
        let x = of(&f, Category::PrivacyCrossUser);
        assert_eq!(x.len(), 1, "{f:?}");
        let (s, e) = x[0].span.unwrap();
        assert_eq!(&text[s..e], "12 acacia  avenue - LEEDS");
        assert!(x[0].evidence.contains("address"));
        assert!(!x[0].evidence.contains("acacia"));
        assert_eq!(x[0].rule_id, "privacy.cross_user.registered_attribute");
    }

    #[test]
    fn the_requesting_users_own_attribute_is_not_a_cross_user_finding() {
        let r = Registry::temporary().unwrap();
        r.register_private_attributes(
            "alice",
            &[("address".into(), "12 Acacia Avenue, Leeds".into())],
        )
        .unwrap();
        let f = review(&r, "alice", "Your parcel went to 12 Acacia Avenue, Leeds.");
        assert!(of(&f, Category::PrivacyCrossUser).is_empty(), "{f:?}");
        // Nor when the registry is empty.
        let empty = Registry::temporary().unwrap();
        assert!(review(&empty, "alice", "12 Acacia Avenue, Leeds").is_empty());
    }

    #[test]
    fn cross_user_spans_handle_multibyte_words() {
        let r = Registry::temporary().unwrap();
        r.register_private_attributes("bob", &[("name".into(), "Zoë Łukasiewicz".into())])
            .unwrap();
        let text = "Hé — zoë ŁUKASIEWICZ était là.";
        let f = review(&r, "alice", text);
        let x = of(&f, Category::PrivacyCrossUser);
        assert_eq!(x.len(), 1);
        let (s, e) = x[0].span.unwrap();
        assert_eq!(&text[s..e], "zoë ŁUKASIEWICZ");
    }

    #[test]
    fn findings_come_in_content_order_without_overlaps() {
        let text = "mail a@b.io, call +44 20 7946 0958, card 4111-1111-1111-1111, ip 10.1.2.3";
        let f = scan(text);
        let cats: Vec<Category> = f.iter().map(|f| f.category).collect();
        assert_eq!(
            cats,
            [
                Category::PrivacyEmail,
                Category::PrivacyPhone,
                Category::PrivacyPaymentCard,
                Category::PrivacyIpAddress
            ]
        );
        for w in f.windows(2) {
            assert!(w[0].span.unwrap().1 <= w[1].span.unwrap().0);
        }
    }

    #[test]
    fn eval_cases_are_labelled_as_the_check_decides() {
        let c = compiled(Config::default());
        let cases = eval_cases(&CompileEnv::default()).unwrap();
        assert!(cases.len() >= 300, "{}", cases.len());
        let mut wrong = Vec::new();
        for case in &cases {
            let fired = scan_with(&c, &case.content)
                .iter()
                .any(|f| f.category == case.category && f.score >= min_score(case.category));
            if fired != case.positive {
                wrong.push(format!(
                    "{} {} {:?}",
                    case.category, case.positive, case.content
                ));
            }
        }
        // The eval set is meant to find weaknesses; this bounds them.
        assert!(
            wrong.len() * 20 <= cases.len(),
            "{}:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }

    /// `cargo test -p generec-trust --release privacy_report -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn privacy_report() {
        let c = compiled(Config::default());
        let cases = eval_cases(&CompileEnv::default()).unwrap();
        let mut stats: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
        for case in &cases {
            let fired = scan_with(&c, &case.content)
                .iter()
                .any(|f| f.category == case.category && f.score >= min_score(case.category));
            let s = stats.entry(case.category.as_str()).or_default();
            match (case.positive, fired) {
                (true, true) => s[0] += 1,
                (false, true) => s[1] += 1,
                (true, false) => s[2] += 1,
                (false, false) => s[3] += 1,
            }
            if fired != case.positive {
                println!(
                    "WRONG {} expected {} {:?}",
                    case.category, case.positive, case.content
                );
            }
        }
        for (cat, [tp, fp, fn_, tn]) in &stats {
            println!(
                "{cat}: n={} tp={tp} fp={fp} fn={fn_} tn={tn} precision={:.3} recall={:.3}",
                tp + fp + fn_ + tn,
                *tp as f64 / (tp + fp).max(1) as f64,
                *tp as f64 / (tp + fn_).max(1) as f64
            );
        }
        // Timing: 20 KB of prose with some PII sprinkled in.
        let mut text = String::new();
        let mut i = 0;
        while text.len() < 20 * 1024 {
            let case = &cases[(i * 7) % cases.len()];
            text.push_str("The quarterly report said revenue rose 12.5% to $3,400,000 in 2023, while costs fell. ");
            if i % 5 == 0 {
                text.push_str(&case.content);
                text.push(' ');
            }
            i += 1;
        }
        let registry = Registry::temporary().unwrap();
        let context = ReviewContext::default();
        let input = Input {
            content: &text,
            context: &context,
            registry: &registry,
        };
        let runs = 200;
        let t = std::time::Instant::now();
        let mut n = 0;
        for _ in 0..runs {
            let mut out = Vec::new();
            c.check(&input, &mut out).unwrap();
            n = out.len();
        }
        println!(
            "privacy check, {} bytes, {n} findings: {:?} per run (no attributes)",
            text.len(),
            t.elapsed() / runs
        );
        registry
            .register_private_attributes(
                "bob",
                &[("address".into(), "12 Acacia Avenue Leeds".into())],
            )
            .unwrap();
        let t = std::time::Instant::now();
        for _ in 0..20 {
            let mut out = Vec::new();
            c.check(&input, &mut out).unwrap();
        }
        println!(
            "privacy check with attributes registered: {:?} per run",
            t.elapsed() / 20
        );
        let t = std::time::Instant::now();
        for _ in 0..runs {
            let _ = c.set.matches(&text);
        }
        println!("regex set alone: {:?}", t.elapsed() / runs);
        for r in &c.recognisers {
            let t = std::time::Instant::now();
            let mut k = 0;
            for _ in 0..runs {
                k = r.regex.find_iter(&text).count();
            }
            println!(
                "  {}: {:?} ({k} raw matches)",
                r.rule_id,
                t.elapsed() / runs
            );
        }
    }

    fn min_score(c: Category) -> f32 {
        if c == Category::PrivacyIpAddress {
            0.6
        } else {
            0.5
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics_and_spans_lie_on_char_boundaries(text in "\\PC{0,200}") {
            for f in scan(&text) {
                let (s, e) = f.span.unwrap();
                proptest::prop_assert!(s < e && e <= text.len());
                proptest::prop_assert!(text.is_char_boundary(s) && text.is_char_boundary(e));
            }
        }

        #[test]
        fn pii_shaped_text_never_panics(text in "[0-9a-zA-Z@+()., :/_=\\-éß\n]{0,120}") {
            for f in scan(&text) {
                let (s, e) = f.span.unwrap();
                proptest::prop_assert!(text.is_char_boundary(s) && text.is_char_boundary(e));
            }
        }
    }
}
