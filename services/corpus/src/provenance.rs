//! Which provenance manifests the corpus accepts for generated items, and
//! what text a manifest binds.
//!
//! # The bound text
//! A manifest's hard binding (see `generec_provenance::manifest`) is the
//! SHA-256 of a *text* with its in-text mark (and nothing else) removed, so
//! the mark does not change it and every other character is bound. The corpus stores items, not texts; the text of an
//! item is [`provenance_text`]: the title, a blank line (`"\n\n"`) and the
//! body, then for each timed segment a blank line and the segment's text.
//! Whoever certifies an item (the feed) certifies exactly this text and
//! stores the marked text back into title and body, so the mark (anywhere
//! in title or body) leaves the binding intact. Segment times, tags and
//! other metadata are not bound.
//!
//! # The rule
//! An item whose origin is AI-edited or AI-created is accepted only when
//! its manifest
//! 1. parses (JSON, as `Certify` returns it),
//! 2. names this item's id,
//! 3. is signed by one of the configured trusted keys (matched by key id),
//! 4. binds this item's [`provenance_text`] (hard binding),
//! 5. lists exactly the item's parents as `parentOf` ingredients,
//! 6. states the item's `creator_id` and licence, and
//! 7. records an allowing review (`allow` or `allow_with_label`);
//!
//! and then ([`check_ingredients`]) every ingredient, parent or cited
//! source (`inputTo`), is an item the corpus holds, with the licence and
//! `content_sha256` the manifest records for it.
//!
//! Each failure is a [`Rejection`] with a reason: data, not an error, so a
//! PutItems batch reports it per item.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use generec_provenance::keys::PublicKey;
use generec_provenance::manifest::{self, Manifest, Status};

use crate::error::CorpusError;

/// The text a generated item's manifest binds (see the module docs).
pub fn provenance_text<'a>(
    title: &str,
    body: &str,
    segment_texts: impl IntoIterator<Item = &'a str>,
) -> String {
    let mut text = String::with_capacity(title.len() + body.len() + 2);
    text.push_str(title);
    text.push_str("\n\n");
    text.push_str(body);
    for segment in segment_texts {
        text.push_str("\n\n");
        text.push_str(segment);
    }
    text
}

/// What a generated item states about itself, checked against its manifest.
#[derive(Clone, Copy, Debug)]
pub struct Claimed<'a> {
    pub item_id: &'a str,
    /// The item's [`provenance_text`].
    pub text: &'a str,
    pub parent_ids: &'a [&'a str],
    pub creator_id: &'a str,
    pub licence: &'a str,
}

/// Why a generated item's manifest was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// No trusted key is configured, so no manifest can verify.
    NoTrustedKeys,
    /// The item carries no manifest.
    Missing,
    /// The manifest is not a manifest.
    Malformed(String),
    /// The manifest was made for another item.
    OtherItem { manifest_item: String },
    /// The signing key is not trusted.
    UntrustedKey { key_id: String },
    /// The signature does not match the manifest.
    BadSignature,
    /// The signing key was not active when the manifest says it was made.
    KeyNotActive { key_id: String },
    /// The manifest binds other content.
    ContentMismatch,
    /// The manifest's ingredients are not the item's parents.
    ParentsMismatch {
        manifest: Vec<String>,
        item: Vec<String>,
    },
    /// The signed review did not allow the content.
    NotAllowed { verdict: String },
    /// The item names another creator than the manifest signed.
    CreatorMismatch { manifest: String, item: String },
    /// The item states another licence than the manifest signed.
    LicenceMismatch { manifest: String, item: String },
    /// An ingredient is not an item of the corpus.
    UnknownIngredient { item_id: String },
    /// The manifest records another licence for an ingredient than the
    /// corpus holds.
    IngredientLicence {
        item_id: String,
        manifest: String,
        catalogue: String,
    },
    /// An ingredient's content has changed since the manifest was made.
    IngredientContent { item_id: String },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NoTrustedKeys => f.write_str(
                "no trusted manifest keys are configured (corpus.trusted_keys), so generated items cannot be verified",
            ),
            Rejection::Missing => {
                f.write_str("a generated item needs a signed manifest from the trust service")
            }
            Rejection::Malformed(e) => write!(f, "is not a manifest: {e}"),
            Rejection::OtherItem { manifest_item } => {
                write!(f, "was made for item {manifest_item:?}, not this one")
            }
            Rejection::UntrustedKey { key_id } => {
                write!(f, "is signed by {key_id:?}, which is not a trusted key")
            }
            Rejection::BadSignature => f.write_str("signature does not verify (claimSignature.mismatch)"),
            Rejection::KeyNotActive { key_id } => write!(
                f,
                "is signed by {key_id:?} outside the period that key was active (signingCredential.expired)"
            ),
            Rejection::ContentMismatch => f.write_str(
                "does not bind this content: the hard binding differs from SHA-256 of title, blank line, body (assertion.dataHash.mismatch)",
            ),
            Rejection::ParentsMismatch { manifest, item } => write!(
                f,
                "ingredients {manifest:?} are not the item's parent_ids {item:?}"
            ),
            Rejection::NotAllowed { verdict } => {
                write!(f, "records a review verdict of {verdict:?}, which does not allow the content")
            }
            Rejection::CreatorMismatch { manifest, item } => write!(
                f,
                "was signed for creator {manifest:?}, not the item's creator_id {item:?}"
            ),
            Rejection::LicenceMismatch { manifest, item } => write!(
                f,
                "was signed with licence {manifest:?}, not the item's licence {item:?}"
            ),
            Rejection::UnknownIngredient { item_id } => {
                write!(f, "lists ingredient {item_id:?}, which is not in the corpus")
            }
            Rejection::IngredientLicence {
                item_id,
                manifest,
                catalogue,
            } => write!(
                f,
                "records licence {manifest:?} for ingredient {item_id:?}, which the corpus holds under {catalogue:?}"
            ),
            Rejection::IngredientContent { item_id } => write!(
                f,
                "records another content_sha256 for ingredient {item_id:?} than the corpus holds"
            ),
        }
    }
}

/// The Ed25519 keys whose manifests are accepted, by key id.
#[derive(Clone, Debug, Default)]
pub struct TrustedKeys {
    by_id: HashMap<String, PublicKey>,
}

impl TrustedKeys {
    /// Reads hex Ed25519 public keys (64 hex digits each, as trust's
    /// `GetPublicKeys` lists them); `field` names the setting in errors.
    pub fn parse(field: &str, keys: &[String]) -> Result<TrustedKeys, CorpusError> {
        let mut by_id = HashMap::new();
        for (i, hex_key) in keys.iter().enumerate() {
            let verifying = hex::decode(hex_key.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok());
            let Some(verifying) = verifying else {
                return Err(CorpusError::invalid(
                    &format!("{field}[{i}]"),
                    "must be an Ed25519 public key as 64 hex digits",
                ));
            };
            let key = PublicKey::new(&verifying, 0, 0);
            by_id.insert(key.key_id.clone(), key);
        }
        Ok(TrustedKeys { by_id })
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The trusted key ids, sorted.
    pub fn key_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.by_id.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Adds keys with their periods (as trust's `GetPublicKeys` lists
    /// them); a key already trusted takes the period given here, so a
    /// retired key vouches only for what it signed while active. Keys whose
    /// id does not match their bytes are ignored.
    pub fn extend(&mut self, keys: impl IntoIterator<Item = PublicKey>) {
        for k in keys {
            if k.verifying_key().is_some() {
                self.by_id.insert(k.key_id.clone(), k);
            }
        }
    }

    /// Whether a key with this id is trusted.
    pub fn contains(&self, key_id: &str) -> bool {
        self.by_id.contains_key(key_id)
    }

    /// Checks a generated item's manifest (its `provenance_manifest`)
    /// against what the item states: see [`TrustedKeys::check`].
    pub fn check_item(&self, item: &crate::model::Item) -> Result<Manifest, Rejection> {
        let parents: Vec<&str> = item.parent_ids.iter().map(|p| p.as_str()).collect();
        let text = item.provenance_text();
        let claimed = Claimed {
            item_id: item.id.as_str(),
            text: &text,
            parent_ids: &parents,
            creator_id: &item.creator_id,
            licence: &item.licence,
        };
        self.check(&claimed, &item.provenance_manifest)
    }

    /// Checks a generated item's manifest against the rule in the module
    /// docs. `text` is the item's [`provenance_text`].
    pub fn check(&self, item: &Claimed<'_>, manifest_bytes: &[u8]) -> Result<Manifest, Rejection> {
        let Claimed {
            item_id,
            text,
            parent_ids,
            creator_id,
            licence,
        } = *item;
        if self.is_empty() {
            return Err(Rejection::NoTrustedKeys);
        }
        if manifest_bytes.is_empty() {
            return Err(Rejection::Missing);
        }
        let m: Manifest = serde_json::from_slice(manifest_bytes)
            .map_err(|e| Rejection::Malformed(e.to_string()))?;
        if m.item_id != item_id {
            return Err(Rejection::OtherItem {
                manifest_item: m.item_id,
            });
        }
        let statuses = manifest::verify(text, &m, |id| self.by_id.get(id).cloned());
        for status in statuses {
            match status {
                Status::SignatureValidated | Status::HashMatch => {}
                Status::UnknownKey => {
                    return Err(Rejection::UntrustedKey {
                        key_id: m.key_id.clone(),
                    });
                }
                Status::SignatureMismatch => return Err(Rejection::BadSignature),
                Status::KeyNotActive => {
                    return Err(Rejection::KeyNotActive {
                        key_id: m.key_id.clone(),
                    });
                }
                Status::HashMismatch => return Err(Rejection::ContentMismatch),
                Status::Malformed => {
                    return Err(Rejection::Malformed(
                        "the signature is not hex Ed25519".into(),
                    ));
                }
            }
        }
        let ingredients: BTreeSet<&str> = m
            .ingredients
            .iter()
            .filter(|i| i.relationship == manifest::PARENT_OF)
            .map(|i| i.item_id.as_str())
            .collect();
        let parents: BTreeSet<&str> = parent_ids.iter().copied().collect();
        if ingredients != parents {
            return Err(Rejection::ParentsMismatch {
                manifest: ingredients.into_iter().map(str::to_string).collect(),
                item: parents.into_iter().map(str::to_string).collect(),
            });
        }
        if m.creator_id != creator_id {
            return Err(Rejection::CreatorMismatch {
                manifest: m.creator_id,
                item: creator_id.to_string(),
            });
        }
        if m.licence != licence {
            return Err(Rejection::LicenceMismatch {
                manifest: m.licence,
                item: licence.to_string(),
            });
        }
        if !matches!(m.review.verdict.as_str(), "allow" | "allow_with_label") {
            return Err(Rejection::NotAllowed {
                verdict: m.review.verdict.clone(),
            });
        }
        Ok(m)
    }
}

/// What the corpus holds of an ingredient: its licence and content hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub licence: String,
    pub content_sha256: String,
}

/// Checks every ingredient of a verified manifest against the catalogue
/// (`held` looks an item up): it exists, and its licence and content hash
/// are the ones the manifest records (an ingredient the review was not told
/// the licence or hash of is refused, not assumed).
pub fn check_ingredients(
    m: &Manifest,
    held: impl Fn(&str) -> Option<Held>,
) -> Result<(), Rejection> {
    for i in &m.ingredients {
        let Some(h) = held(&i.item_id) else {
            return Err(Rejection::UnknownIngredient {
                item_id: i.item_id.clone(),
            });
        };
        if i.licence != h.licence {
            return Err(Rejection::IngredientLicence {
                item_id: i.item_id.clone(),
                manifest: i.licence.clone(),
                catalogue: h.licence,
            });
        }
        if !i.content_sha256.eq_ignore_ascii_case(&h.content_sha256) {
            return Err(Rejection::IngredientContent {
                item_id: i.item_id.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use generec_provenance::keys;
    use generec_provenance::manifest::{ActionRecord, Generator, Ingredient, ReviewSummary};
    use generec_provenance::watermark;

    fn signed(key: &SigningKey, item_id: &str, text: &str, parents: &[&str]) -> Manifest {
        let mut m = Manifest {
            manifest_id: "00112233445566778899aabbccddeeff".into(),
            item_id: item_id.into(),
            creator_id: "generec".into(),
            licence: "CC-BY-4.0".into(),
            actions: vec![ActionRecord {
                action: "c2pa.created".into(),
                digital_source_type: manifest::TRAINED_ALGORITHMIC_MEDIA.into(),
                when_unix_ms: 1_700_000_000_000,
            }],
            ingredients: parents
                .iter()
                .map(|p| Ingredient {
                    item_id: p.to_string(),
                    content_sha256: "ab".repeat(32),
                    relationship: "parentOf".into(),
                    ..Ingredient::default()
                })
                .collect(),
            hard_binding: manifest::hard_binding(text),
            soft_binding: manifest::soft_binding(text),
            generator: Generator {
                name: "generec-generation/composer".into(),
                version: "0.1.0".into(),
            },
            review: ReviewSummary {
                verdict: "allow".into(),
                bundle_hash: "cd".repeat(32),
                bundle_version: "generec-default-1".into(),
                log_index: 3,
                rule_ids: vec![],
            },
            created_unix_ms: 1_700_000_000_001,
            key_id: keys::key_id(&key.verifying_key()),
            signature: String::new(),
        };
        m.sign(key);
        m
    }

    fn trusted(key: &SigningKey) -> TrustedKeys {
        TrustedKeys::parse(
            "trusted_keys",
            &[hex::encode(key.verifying_key().to_bytes())],
        )
        .unwrap()
    }

    fn claimed<'a>(item_id: &'a str, text: &'a str, parent_ids: &'a [&'a str]) -> Claimed<'a> {
        Claimed {
            item_id,
            text,
            parent_ids,
            creator_id: "generec",
            licence: "CC-BY-4.0",
        }
    }

    fn bytes(m: &Manifest) -> Vec<u8> {
        serde_json::to_vec(m).unwrap()
    }

    #[test]
    fn the_bound_text_is_title_blank_line_body_then_segments() {
        assert_eq!(provenance_text("T", "B", []), "T\n\nB");
        assert_eq!(
            provenance_text("T", "B", ["s1", "s2"]),
            "T\n\nB\n\ns1\n\ns2"
        );
    }

    #[test]
    fn a_signed_manifest_of_the_same_text_is_accepted_with_or_without_the_mark() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let keys = trusted(&key);
        let text = provenance_text("Markets today", "Shares rose.", []);
        let m = signed(&key, "gen-1", &text, &[]);
        assert!(
            keys.check(&claimed("gen-1", &text, &[]), &bytes(&m))
                .is_ok()
        );
        let marked = watermark::embed(&text, &[3; 16]);
        assert!(
            keys.check(&claimed("gen-1", &marked, &[]), &bytes(&m))
                .is_ok()
        );
    }

    #[test]
    fn every_failure_is_a_rejection_with_its_reason() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let keys = trusted(&key);
        let text = provenance_text("T", "Body.", []);
        let m = signed(&key, "gen-1", &text, &["p1"]);
        let ok = bytes(&m);

        assert_eq!(
            TrustedKeys::default().check(&claimed("gen-1", &text, &["p1"]), &ok),
            Err(Rejection::NoTrustedKeys)
        );
        assert_eq!(
            keys.check(&claimed("gen-1", &text, &["p1"]), &[]),
            Err(Rejection::Missing)
        );
        assert!(matches!(
            keys.check(&claimed("gen-1", &text, &["p1"]), b"{not json"),
            Err(Rejection::Malformed(_))
        ));
        assert!(matches!(
            keys.check(&claimed("gen-2", &text, &["p1"]), &ok),
            Err(Rejection::OtherItem { .. })
        ));
        assert_eq!(
            keys.check(&claimed("gen-1", "T\n\nChanged.", &["p1"]), &ok),
            Err(Rejection::ContentMismatch)
        );
        assert!(matches!(
            keys.check(&claimed("gen-1", &text, &[]), &ok),
            Err(Rejection::ParentsMismatch { .. })
        ));

        // A forged verdict breaks the signature.
        let mut forged = m.clone();
        forged.review.verdict = "block".into();
        assert_eq!(
            keys.check(&claimed("gen-1", &text, &["p1"]), &bytes(&forged)),
            Err(Rejection::BadSignature)
        );
        // Another key, even with a valid signature of its own, is not trusted.
        let other = SigningKey::from_bytes(&[8; 32]);
        let foreign = signed(&other, "gen-1", &text, &["p1"]);
        assert!(matches!(
            keys.check(&claimed("gen-1", &text, &["p1"]), &bytes(&foreign)),
            Err(Rejection::UntrustedKey { .. })
        ));
        // A properly signed manifest of a blocked review is still refused.
        let mut blocked = m.clone();
        blocked.review.verdict = "block".into();
        blocked.sign(&key);
        assert_eq!(
            keys.check(&claimed("gen-1", &text, &["p1"]), &bytes(&blocked)),
            Err(Rejection::NotAllowed {
                verdict: "block".into()
            })
        );
        // Creator and licence are signed: relabelling either is refused.
        let relabelled = Claimed {
            creator_id: "someone-else",
            ..claimed("gen-1", &text, &["p1"])
        };
        assert!(matches!(
            keys.check(&relabelled, &ok),
            Err(Rejection::CreatorMismatch { .. })
        ));
        let relicensed = Claimed {
            licence: "CC0-1.0",
            ..claimed("gen-1", &text, &["p1"])
        };
        assert!(matches!(
            keys.check(&relicensed, &ok),
            Err(Rejection::LicenceMismatch { .. })
        ));
        // A field outside the signed encoding makes it no manifest.
        let extra = String::from_utf8(ok.clone())
            .unwrap()
            .replacen('{', "{\"unsigned\":true,", 1);
        assert!(matches!(
            keys.check(&claimed("gen-1", &text, &["p1"]), extra.as_bytes()),
            Err(Rejection::Malformed(_))
        ));
        for r in [
            Rejection::NoTrustedKeys,
            Rejection::Missing,
            Rejection::ContentMismatch,
        ] {
            assert!(!r.to_string().is_empty());
        }
        assert!(
            Rejection::NoTrustedKeys
                .to_string()
                .contains("trusted_keys")
        );
    }

    #[test]
    fn keys_that_are_not_ed25519_hex_are_refused_by_index() {
        let err = TrustedKeys::parse("corpus.trusted_keys", &["zz".into()]).unwrap_err();
        assert!(err.to_string().contains("corpus.trusted_keys[0]"), "{err}");
        let key = SigningKey::from_bytes(&[7; 32]);
        let keys = trusted(&key);
        assert_eq!(keys.key_ids(), vec![keys::key_id(&key.verifying_key())]);
    }
}
