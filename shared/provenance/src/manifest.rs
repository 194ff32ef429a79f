//! Provenance manifests modelled on C2PA content credentials, their
//! canonical byte encoding, Ed25519 signing, and verification that reports
//! C2PA-style status codes rather than a bool.
//!
//! ## Canonical encoding (what the signature covers)
//! The tag `generec.manifest.v3`, then in this order: manifest id, item id,
//! creator id, licence, each action (action, digital source type, time),
//! each ingredient (item id, content SHA-256, relationship, licence,
//! creator id, each span as two big-endian u64 byte offsets), the hard binding (algorithm, hex
//! hash), the soft binding (algorithm, value), the generator (name,
//! version), the review summary (verdict, bundle hash, bundle version, the
//! log index of the review's policy decision, each rule id), the creation
//! time and the key id. Every string is preceded by
//! its byte length as a big-endian u64, every list by its count as a
//! big-endian u64, every time is a big-endian i64 of Unix milliseconds.
//!
//! Every field of the JSON form except `signature` is in the encoding, and
//! a manifest with any other field does not parse, so nothing unsigned can
//! ride along.

use ed25519_dalek::{Signature, Signer, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::keys::PublicKey;
use crate::watermark;

/// IPTC digital source type of media made by a trained model.
pub const TRAINED_ALGORITHMIC_MEDIA: &str =
    "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia";
/// IPTC digital source type of media edited with a trained model.
pub const COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA: &str =
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia";

/// One action in the item's history (`c2pa.created`, `c2pa.edited`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRecord {
    pub action: String,
    pub digital_source_type: String,
    pub when_unix_ms: i64,
}

/// C2PA relationship of the item an edit repurposes.
pub const PARENT_OF: &str = "parentOf";
/// C2PA relationship of a source a creation (or edit) drew on.
pub const INPUT_TO: &str = "inputTo";

/// Something the item was made from: the item an edit repurposes
/// ([`PARENT_OF`]) or a source passage's item it quotes or states facts
/// from ([`INPUT_TO`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ingredient {
    pub item_id: String,
    /// The ingredient item's `content_sha256` as the corpus records it
    /// (empty when the review was not told it).
    pub content_sha256: String,
    /// [`PARENT_OF`] or [`INPUT_TO`].
    pub relationship: String,
    /// The ingredient's licence as the review saw it (empty: none stated).
    #[serde(default)]
    pub licence: String,
    /// The ingredient's creator as the review saw it.
    #[serde(default)]
    pub creator_id: String,
    /// Byte ranges `[start, end)` of the item's text this ingredient
    /// supports: words copied from it and sentences whose facts it holds.
    #[serde(default)]
    pub spans: Vec<(u64, u64)>,
}

/// What made the item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generator {
    pub name: String,
    pub version: String,
}

/// The review that allowed the item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewSummary {
    pub verdict: String,
    pub bundle_hash: String,
    pub bundle_version: String,
    /// The log index of the policy decision this review logged.
    pub log_index: u64,
    pub rule_ids: Vec<String>,
}

/// A signed manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// 16 random bytes, hex; also what the in-text mark carries.
    pub manifest_id: String,
    pub item_id: String,
    /// Who the item is attributed to (the item's `creator_id`).
    pub creator_id: String,
    /// The item's licence, as the corpus stores it.
    pub licence: String,
    pub actions: Vec<ActionRecord>,
    pub ingredients: Vec<Ingredient>,
    /// SHA-256 of the canonical content (marks stripped), hex.
    pub hard_binding: String,
    /// SimHash soft binding, hex.
    pub soft_binding: String,
    pub generator: Generator,
    pub review: ReviewSummary,
    pub created_unix_ms: i64,
    pub key_id: String,
    /// Ed25519 signature over [`Manifest::canonical_bytes`], hex.
    #[serde(default)]
    pub signature: String,
}

fn put(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u64).to_be_bytes());
}

/// Hard-binding algorithm name.
pub const HARD_BINDING_ALG: &str = "sha256";
/// Soft-binding algorithm name.
pub const SOFT_BINDING_ALG: &str = "generec.simhash64.v1";

/// The hard binding of content: SHA-256 of the text with its mark (and
/// nothing else) removed.
pub fn hard_binding(content: &str) -> String {
    hex::encode(Sha256::digest(watermark::strip_mark(content).as_bytes()))
}

/// The soft binding of content, hex.
pub fn soft_binding(content: &str) -> String {
    format!("{:016x}", watermark::simhash(content))
}

impl Manifest {
    /// The bytes the signature covers (see the module docs).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        put(&mut out, "generec.manifest.v3");
        put(&mut out, &self.manifest_id);
        put(&mut out, &self.item_id);
        put(&mut out, &self.creator_id);
        put(&mut out, &self.licence);
        count(&mut out, self.actions.len());
        for a in &self.actions {
            put(&mut out, &a.action);
            put(&mut out, &a.digital_source_type);
            out.extend_from_slice(&a.when_unix_ms.to_be_bytes());
        }
        count(&mut out, self.ingredients.len());
        for i in &self.ingredients {
            put(&mut out, &i.item_id);
            put(&mut out, &i.content_sha256);
            put(&mut out, &i.relationship);
            put(&mut out, &i.licence);
            put(&mut out, &i.creator_id);
            count(&mut out, i.spans.len());
            for (start, end) in &i.spans {
                out.extend_from_slice(&start.to_be_bytes());
                out.extend_from_slice(&end.to_be_bytes());
            }
        }
        put(&mut out, HARD_BINDING_ALG);
        put(&mut out, &self.hard_binding);
        put(&mut out, SOFT_BINDING_ALG);
        put(&mut out, &self.soft_binding);
        put(&mut out, &self.generator.name);
        put(&mut out, &self.generator.version);
        put(&mut out, &self.review.verdict);
        put(&mut out, &self.review.bundle_hash);
        put(&mut out, &self.review.bundle_version);
        out.extend_from_slice(&self.review.log_index.to_be_bytes());
        count(&mut out, self.review.rule_ids.len());
        for r in &self.review.rule_ids {
            put(&mut out, r);
        }
        out.extend_from_slice(&self.created_unix_ms.to_be_bytes());
        put(&mut out, &self.key_id);
        out
    }

    /// Signs the manifest with `key`, whose id must already be in `key_id`.
    pub fn sign(&mut self, key: &SigningKey) {
        self.signature = hex::encode(key.sign(&self.canonical_bytes()).to_bytes());
    }
}

/// A C2PA-style validation status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// `claimSignature.validated`
    SignatureValidated,
    /// `claimSignature.mismatch`
    SignatureMismatch,
    /// `signingCredential.untrusted`: the key id is not one of ours.
    UnknownKey,
    /// `signingCredential.expired`: the key was not active when the
    /// manifest says it was signed.
    KeyNotActive,
    /// `assertion.dataHash.match`
    HashMatch,
    /// `assertion.dataHash.mismatch`
    HashMismatch,
    /// `manifest.malformed`: a field could not be read.
    Malformed,
}

impl Status {
    /// The code as C2PA writes it.
    pub fn code(self) -> &'static str {
        match self {
            Status::SignatureValidated => "claimSignature.validated",
            Status::SignatureMismatch => "claimSignature.mismatch",
            Status::UnknownKey => "signingCredential.untrusted",
            Status::KeyNotActive => "signingCredential.expired",
            Status::HashMatch => "assertion.dataHash.match",
            Status::HashMismatch => "assertion.dataHash.mismatch",
            Status::Malformed => "manifest.malformed",
        }
    }

    /// Whether the code reports a failure.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Status::SignatureMismatch
                | Status::UnknownKey
                | Status::KeyNotActive
                | Status::HashMismatch
                | Status::Malformed
        )
    }
}

/// Checks a manifest against content: the signature with the trusted key
/// its id names (found by `key`), that the key was active at the signing
/// time, and the hard binding. Returns two statuses: the signature's, then
/// the binding's.
pub fn verify(
    content: &str,
    manifest: &Manifest,
    key: impl Fn(&str) -> Option<PublicKey>,
) -> Vec<Status> {
    let mut statuses = Vec::new();
    let trusted = key(&manifest.key_id);
    match trusted
        .as_ref()
        .and_then(|k| k.verifying_key().map(|v| (k, v)))
    {
        None => statuses.push(Status::UnknownKey),
        Some((period, public)) => {
            let sig = hex::decode(&manifest.signature)
                .ok()
                .and_then(|b| Signature::from_slice(&b).ok());
            statuses.push(match sig {
                None => Status::Malformed,
                Some(sig)
                    if public
                        .verify_strict(&manifest.canonical_bytes(), &sig)
                        .is_err() =>
                {
                    Status::SignatureMismatch
                }
                // A genuine signature by a key that was not signing then.
                Some(_) if !period.active_at(manifest.created_unix_ms) => Status::KeyNotActive,
                Some(_) => Status::SignatureValidated,
            });
        }
    }
    statuses.push(if hard_binding(content) == manifest.hard_binding {
        Status::HashMatch
    } else {
        Status::HashMismatch
    });
    statuses
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::key_id;

    fn manifest(key: &SigningKey, content: &str) -> Manifest {
        let mut m = Manifest {
            manifest_id: "00112233445566778899aabbccddeeff".into(),
            item_id: "gen-1".into(),
            creator_id: "generec".into(),
            licence: "CC-BY-4.0".into(),
            actions: vec![ActionRecord {
                action: "c2pa.created".into(),
                digital_source_type: TRAINED_ALGORITHMIC_MEDIA.into(),
                when_unix_ms: 1_700_000_000_000,
            }],
            ingredients: vec![
                Ingredient {
                    item_id: "bbc-1".into(),
                    content_sha256: "ab".repeat(32),
                    relationship: PARENT_OF.into(),
                    ..Ingredient::default()
                },
                Ingredient {
                    item_id: "austen-1".into(),
                    content_sha256: "cd".repeat(32),
                    relationship: INPUT_TO.into(),
                    licence: "public-domain".into(),
                    creator_id: "jane-austen".into(),
                    spans: vec![(0, 12)],
                },
            ],
            hard_binding: hard_binding(content),
            soft_binding: soft_binding(content),
            generator: Generator {
                name: "generec-composer".into(),
                version: "0.1.0".into(),
            },
            review: ReviewSummary {
                verdict: "allow".into(),
                bundle_hash: "cd".repeat(32),
                bundle_version: "generec-default-1".into(),
                log_index: 7,
                rule_ids: vec![],
            },
            created_unix_ms: 1_700_000_000_001,
            key_id: key_id(&key.verifying_key()),
            signature: String::new(),
        };
        m.sign(key);
        m
    }

    #[test]
    fn a_signed_manifest_verifies_and_each_failure_has_its_code() {
        let key = SigningKey::from_bytes(&[4; 32]);
        let public = PublicKey::new(&key.verifying_key(), 0, 0);
        let lookup = |id: &str| (id == public.key_id).then(|| public.clone());
        let content = "A two-minute digest of this week's markets.";
        let m = manifest(&key, content);
        assert_eq!(
            verify(content, &m, lookup),
            vec![Status::SignatureValidated, Status::HashMatch]
        );
        // The in-text mark does not break the hard binding.
        let marked = watermark::embed(content, &[1; 16]);
        assert_eq!(
            verify(&marked, &m, lookup),
            vec![Status::SignatureValidated, Status::HashMatch]
        );

        assert_eq!(
            verify("changed", &m, lookup),
            vec![Status::SignatureValidated, Status::HashMismatch]
        );
        let mut forged = m.clone();
        forged.review.verdict = "block".into();
        assert_eq!(
            verify(content, &forged, lookup)[0],
            Status::SignatureMismatch
        );
        let mut unknown = m.clone();
        unknown.key_id = "ed25519:0000000000000000".into();
        assert_eq!(verify(content, &unknown, lookup)[0], Status::UnknownKey);
        let mut relabelled = m.clone();
        relabelled.creator_id = "someone-else".into();
        assert_eq!(
            verify(content, &relabelled, lookup)[0],
            Status::SignatureMismatch
        );
        let mut relicensed = m.clone();
        relicensed.licence = "CC0-1.0".into();
        assert_eq!(
            verify(content, &relicensed, lookup)[0],
            Status::SignatureMismatch
        );
        // Every part of an ingredient is signed: its relationship, the
        // licence the review saw, and the spans it supports.
        for forge in [
            |i: &mut Ingredient| i.relationship = PARENT_OF.into(),
            |i: &mut Ingredient| i.licence = "CC0-1.0".into(),
            |i: &mut Ingredient| i.creator_id = "me".into(),
            |i: &mut Ingredient| i.spans[0].1 = 13,
            |i: &mut Ingredient| i.spans.clear(),
        ] {
            let mut f = m.clone();
            forge(&mut f.ingredients[1]);
            assert_eq!(verify(content, &f, lookup)[0], Status::SignatureMismatch);
        }
        // A key retired before the signing time does not vouch for it.
        let retired = PublicKey::new(&key.verifying_key(), 0, m.created_unix_ms - 1);
        assert_eq!(
            verify(content, &m, |_| Some(retired.clone()))[0],
            Status::KeyNotActive
        );
        // Selectors beyond the mark are bound: smuggled text breaks the hash.
        let smuggled = format!("{marked}{}", "\u{E0150}".repeat(8));
        assert_eq!(verify(&smuggled, &m, lookup)[1], Status::HashMismatch);
        let mut garbled = m.clone();
        garbled.signature = "zz".into();
        assert_eq!(verify(content, &garbled, lookup)[0], Status::Malformed);
        assert_eq!(Status::HashMismatch.code(), "assertion.dataHash.mismatch");
    }

    #[test]
    fn the_canonical_encoding_separates_fields_unambiguously() {
        let key = SigningKey::from_bytes(&[4; 32]);
        let a = manifest(&key, "x");
        let mut b = a.clone();
        b.item_id = "gen-1b".into();
        b.generator.name = "enerec-composer".into();
        assert_ne!(a.canonical_bytes(), b.canonical_bytes());
        let json = serde_json::to_string(&a).unwrap();
        let back: Manifest = serde_json::from_str(&json).unwrap();
        assert_eq!(back.canonical_bytes(), a.canonical_bytes());
        // A field outside the signed encoding does not parse.
        let extra = json.replacen('{', "{\"note\":\"unsigned\",", 1);
        assert!(serde_json::from_str::<Manifest>(&extra).is_err());
    }
}
