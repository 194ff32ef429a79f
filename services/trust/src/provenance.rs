//! Provenance: what ties reviews, manifests, marks and the transparency log
//! together.
//!
//! - every review is recorded by the hard binding of its content, and a
//!   policy-decision entry (content hash, verdict, rule ids, bundle hash; no
//!   raw content or personal data) is appended to the log;
//! - [`Provenance::certify`] refuses content whose last review did not
//!   allow it; otherwise it signs a manifest, embeds the mark, stores the
//!   manifest, and logs an authorship entry, returning the log index;
//! - [`Provenance::detect`] finds the manifest of a text from its mark, or
//!   from the nearest soft binding when the mark was stripped or the text
//!   lightly edited;
//! - checkpoints of the log are signed notes by the active key.

use generec_common::now_unix_ms;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::error::{TrustError, internal};
use crate::finding::Action;
use crate::keys::{KeyRing, PublicKey};
use crate::manifest::{self, ActionRecord, Generator, Ingredient, Manifest, ReviewSummary, Status};
use crate::note::{self, Checkpoint};
use crate::query::{Page, Query, QueryIndex};
use crate::review::Outcome;
use crate::tlog::{Log, LogError};
use crate::watermark;

/// Largest Hamming distance at which a soft binding still names a manifest.
pub const SOFT_MATCH_BITS: u32 = 12;

/// One entry of the transparency log, as JSON bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LogEntry {
    /// A review decided content with this hash.
    PolicyDecision {
        content_sha256: String,
        verdict: Action,
        rule_ids: Vec<String>,
        bundle_hash: String,
        user_id: String,
        when_unix_ms: i64,
    },
    /// A generator made (or edited) an item, under this manifest.
    Authorship {
        item_id: String,
        /// `human` for an upload, `generated` for a certified item.
        #[serde(default)]
        origin: String,
        /// Empty for a human upload (it has no manifest).
        manifest_id: String,
        content_sha256: String,
        creator: String,
        parents: Vec<Ingredient>,
        key_id: String,
        when_unix_ms: i64,
    },
    /// A copyright claim was registered, disputed or resolved.
    CopyrightClaim {
        claim_id: String,
        work_id: String,
        claimant: String,
        policy: String,
        status: String,
        /// registered, disputed, upheld or rejected.
        event: String,
        actor: String,
        when_unix_ms: i64,
    },
    /// A compliance query was run: who asked and for what.
    ComplianceQuery {
        caller: String,
        query: crate::query::Query,
        /// The page asked for: the token it continued from (none for the
        /// first page) and its size. Two pages of one query are two entries.
        #[serde(default)]
        page_after: Option<u64>,
        #[serde(default)]
        page_size: usize,
        when_unix_ms: i64,
    },
    /// The signing key changed; the new key's id and public key.
    KeyRotation {
        key_id: String,
        public_key: String,
        previous_key_id: String,
        when_unix_ms: i64,
    },
}

impl LogEntry {
    /// The bytes logged: canonical JSON (fields in declaration order).
    pub fn to_bytes(&self) -> Result<Vec<u8>, TrustError> {
        serde_json::to_vec(self).map_err(|e| TrustError::Internal(e.to_string()))
    }
}

/// What to certify.
#[derive(Clone, Debug, Default)]
pub struct CertifyRequest {
    pub item_id: String,
    pub content: String,
    /// `c2pa.created`, `c2pa.edited`, `c2pa.cropped`, ...
    pub action: String,
    pub parents: Vec<Ingredient>,
    pub generator: Option<Generator>,
    /// Who asked for it (a user or a service).
    pub creator: String,
}

/// A certified item.
#[derive(Clone, Debug)]
pub struct Certified {
    pub manifest: Manifest,
    /// The content with the mark embedded.
    pub content: String,
    pub log_index: u64,
}

/// Where a manifest was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detection {
    Watermark,
    SoftBinding { distance: u32 },
}

/// The stored review of some content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct StoredReview {
    verdict: Action,
    rule_ids: Vec<String>,
    bundle_hash: String,
    bundle_version: String,
}

/// See the module docs.
pub struct Provenance {
    db: sled::Db,
    reviews: sled::Tree,
    manifests: sled::Tree,
    keys: RwLock<KeyRing>,
    log: Log,
    index: QueryIndex,
    origin: String,
}

impl From<LogError> for TrustError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::Overloaded => {
                TrustError::Overloaded("the transparency log is overloaded; retry later".into())
            }
            LogError::Proof(m) => TrustError::invalid("tree_size", m),
            LogError::Storage(m) => TrustError::Internal(m),
        }
    }
}

impl Provenance {
    /// Opens provenance state in `db`, with `keys` and the log `origin`
    /// (the first line of every checkpoint).
    pub fn open(db: sled::Db, keys: KeyRing, origin: &str) -> Result<Provenance, TrustError> {
        let reviews = db.open_tree("reviews")?;
        let manifests = db.open_tree("manifests")?;
        let log = Log::open(&db)?;
        let index = QueryIndex::open(&db, &log)?;
        let p = Provenance {
            db,
            reviews,
            manifests,
            keys: RwLock::new(keys),
            log,
            index,
            origin: origin.to_string(),
        };
        // Announce the active key in the log once.
        let (id, public, previous) = {
            let k = p.keys.read().map_err(|_| internal("lock poisoned"))?;
            let all = k.public_keys();
            let previous = all
                .len()
                .checked_sub(2)
                .map(|i| all[i].key_id.clone())
                .unwrap_or_default();
            let active = all.last().cloned().ok_or_else(|| internal("no key"))?;
            (active.key_id, active.public_key, previous)
        };
        if p.db.open_tree("announced")?.get(&id)?.is_none() {
            p.append(vec![LogEntry::KeyRotation {
                key_id: id.clone(),
                public_key: public,
                previous_key_id: previous,
                when_unix_ms: now_unix_ms(),
            }])?;
            p.db.open_tree("announced")?.insert(&id, &[])?;
            p.db.flush()?;
        }
        Ok(p)
    }

    /// The log.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Appends entries and brings the query index up to date.
    fn append(&self, entries: Vec<LogEntry>) -> Result<Vec<u64>, TrustError> {
        let bytes = entries
            .iter()
            .map(LogEntry::to_bytes)
            .collect::<Result<Vec<_>, _>>()?;
        let indices = self.log.append(bytes)?;
        self.index.catch_up(&self.log)?;
        Ok(indices)
    }

    /// Logs a claim event. Returns the log index.
    pub fn log_claim(
        &self,
        claim: &crate::claims::Claim,
        event: &str,
        actor: &str,
    ) -> Result<u64, TrustError> {
        Ok(self.append(vec![LogEntry::claim(claim, event, actor)])?[0])
    }

    /// Runs a compliance query and logs that `caller` ran it (before answering).
    pub fn query(
        &self,
        caller: &str,
        query: &Query,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page, TrustError> {
        self.append(vec![LogEntry::ComplianceQuery {
            caller: caller.to_string(),
            query: query.clone(),
            page_after: after,
            page_size: limit,
            when_unix_ms: now_unix_ms(),
        }])?;
        self.index.query(&self.log, query, after, limit)
    }

    /// Records a review of `content` and logs the decision. Returns the log index.
    pub fn record_review(
        &self,
        content: &str,
        user_id: &str,
        outcome: &Outcome,
    ) -> Result<u64, TrustError> {
        let hash = manifest::hard_binding(content);
        let mut rule_ids: Vec<String> =
            outcome.findings.iter().map(|f| f.rule_id.clone()).collect();
        rule_ids.sort();
        rule_ids.dedup();
        let stored = StoredReview {
            verdict: outcome.verdict,
            rule_ids: rule_ids.clone(),
            bundle_hash: outcome.bundle_hash.clone(),
            bundle_version: outcome.bundle_version.clone(),
        };
        self.reviews.insert(
            hash.as_bytes(),
            serde_json::to_vec(&stored).map_err(internal)?,
        )?;
        let entry = LogEntry::PolicyDecision {
            content_sha256: hash,
            verdict: outcome.verdict,
            rule_ids,
            bundle_hash: outcome.bundle_hash.clone(),
            user_id: user_id.to_string(),
            when_unix_ms: now_unix_ms(),
        };
        // The log append flushes the database, the review record with it.
        Ok(self.append(vec![entry])?[0])
    }

    /// Signs, marks, stores and logs an item whose last review allowed it.
    pub fn certify(&self, req: &CertifyRequest) -> Result<Certified, TrustError> {
        if req.item_id.is_empty() || req.item_id.len() > 256 {
            return Err(TrustError::invalid("item_id", "must be 1 to 256 bytes"));
        }
        if req.content.is_empty() {
            return Err(TrustError::invalid("content", "must not be empty"));
        }
        let hash = manifest::hard_binding(&req.content);
        let review: StoredReview = match self.reviews.get(hash.as_bytes())? {
            Some(v) => serde_json::from_slice(&v).map_err(internal)?,
            None => {
                return Err(TrustError::precondition(
                    "content",
                    "has not been reviewed; call Review first",
                ));
            }
        };
        if !matches!(review.verdict, Action::Allow | Action::AllowWithLabel) {
            return Err(TrustError::precondition(
                "content",
                format!(
                    "its last review's verdict was {}, which does not allow it",
                    review.verdict.as_str()
                ),
            ));
        }
        let action = if req.action.is_empty() {
            if req.parents.is_empty() {
                "c2pa.created"
            } else {
                "c2pa.edited"
            }
        } else {
            req.action.as_str()
        };
        let source_type = if req.parents.is_empty() {
            manifest::TRAINED_ALGORITHMIC_MEDIA
        } else {
            manifest::COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
        };
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(internal)?;
        let now = now_unix_ms();
        let keys = self.keys.read().map_err(|_| internal("lock poisoned"))?;
        let mut m = Manifest {
            manifest_id: hex::encode(id),
            item_id: req.item_id.clone(),
            actions: vec![ActionRecord {
                action: action.to_string(),
                digital_source_type: source_type.into(),
                when_unix_ms: now,
            }],
            ingredients: req.parents.clone(),
            hard_binding: hash.clone(),
            soft_binding: manifest::soft_binding(&req.content),
            generator: req.generator.clone().unwrap_or(Generator {
                name: "generec".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            }),
            review: ReviewSummary {
                verdict: review.verdict.as_str().into(),
                bundle_hash: review.bundle_hash,
                bundle_version: review.bundle_version,
                rule_ids: review.rule_ids,
            },
            created_unix_ms: now,
            key_id: keys.active_id(),
            signature: String::new(),
        };
        m.sign(keys.active());
        drop(keys);
        self.manifests
            .insert(id, serde_json::to_vec(&m).map_err(internal)?)?;
        let entry = LogEntry::Authorship {
            item_id: m.item_id.clone(),
            origin: "generated".into(),
            manifest_id: m.manifest_id.clone(),
            content_sha256: hash,
            creator: req.creator.clone(),
            parents: m.ingredients.clone(),
            key_id: m.key_id.clone(),
            when_unix_ms: now,
        };
        let log_index = self.append(vec![entry])?[0];
        self.db
            .open_tree("authorship")?
            .insert(id, &log_index.to_be_bytes())?;
        self.db.flush()?;
        Ok(Certified {
            content: watermark::embed(&req.content, &id),
            manifest: m,
            log_index,
        })
    }

    /// Logs the authorship of a human upload: who uploaded which content
    /// (by hash). Returns the log index.
    pub fn record_upload(
        &self,
        item_id: &str,
        content_sha256: &str,
        creator: &str,
    ) -> Result<u64, TrustError> {
        if item_id.is_empty() || item_id.len() > 256 {
            return Err(TrustError::invalid("item_id", "must be 1 to 256 bytes"));
        }
        if content_sha256.len() != 64 || !content_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TrustError::invalid(
                "content_sha256",
                "must be 64 hex digits",
            ));
        }
        if creator.is_empty() || creator.len() > 256 {
            return Err(TrustError::invalid("creator", "must be 1 to 256 bytes"));
        }
        let entry = LogEntry::Authorship {
            item_id: item_id.to_string(),
            origin: "human".into(),
            manifest_id: String::new(),
            content_sha256: content_sha256.to_ascii_lowercase(),
            creator: creator.to_string(),
            parents: Vec::new(),
            key_id: String::new(),
            when_unix_ms: now_unix_ms(),
        };
        Ok(self.append(vec![entry])?[0])
    }

    /// The stored manifest with this id.
    pub fn manifest(&self, manifest_id: &str) -> Result<Option<Manifest>, TrustError> {
        let Ok(id) = hex::decode(manifest_id) else {
            return Err(TrustError::invalid("manifest_id", "must be 32 hex digits"));
        };
        self.manifests
            .get(id)?
            .map(|v| serde_json::from_slice(&v).map_err(internal))
            .transpose()
    }

    /// The log index of a manifest's authorship entry.
    pub fn authorship_index(&self, manifest_id: &str) -> Result<Option<u64>, TrustError> {
        let Ok(id) = hex::decode(manifest_id) else {
            return Err(TrustError::invalid("manifest_id", "must be 32 hex digits"));
        };
        Ok(self
            .db
            .open_tree("authorship")?
            .get(id)?
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes)))
    }

    /// Finds the manifest of a text: by its mark, else by the nearest soft binding.
    pub fn detect(&self, content: &str) -> Result<Option<(Manifest, Detection)>, TrustError> {
        if let Some(id) = watermark::extract(content)
            && let Some(m) = self.manifest(&hex::encode(id))?
        {
            return Ok(Some((m, Detection::Watermark)));
        }
        let target = watermark::simhash(content);
        let mut best: Option<(Manifest, u32)> = None;
        for entry in self.manifests.iter() {
            let (_, v) = entry?;
            let m: Manifest = serde_json::from_slice(&v).map_err(internal)?;
            let Ok(soft) = u64::from_str_radix(&m.soft_binding, 16) else {
                continue;
            };
            let d = watermark::distance(target, soft);
            if d <= SOFT_MATCH_BITS && best.as_ref().is_none_or(|(_, b)| d < *b) {
                best = Some((m, d));
            }
        }
        Ok(best.map(|(m, distance)| (m, Detection::SoftBinding { distance })))
    }

    /// Verifies content against a manifest with the service's keys.
    pub fn verify(&self, content: &str, m: &Manifest) -> Result<Vec<Status>, TrustError> {
        let keys = self.keys.read().map_err(|_| internal("lock poisoned"))?;
        Ok(manifest::verify(content, m, |id| keys.find(id)))
    }

    /// Every public key, and the active key's signed-note verifier key.
    pub fn public_keys(&self) -> Result<(Vec<PublicKey>, String), TrustError> {
        let keys = self.keys.read().map_err(|_| internal("lock poisoned"))?;
        Ok((
            keys.public_keys().to_vec(),
            note::verifier_key(&self.origin, &keys.active().verifying_key()),
        ))
    }

    /// A checkpoint of the log now, as a signed note.
    pub fn checkpoint(&self) -> Result<(Checkpoint, String), TrustError> {
        let (size, root) = self.log.head();
        let cp = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
        };
        let keys = self.keys.read().map_err(|_| internal("lock poisoned"))?;
        let signed = cp.sign(&self.origin, keys.active()).map_err(internal)?;
        Ok((cp, signed))
    }

    /// Rotates the signing key and announces the new one in the log.
    pub fn rotate_key(&self) -> Result<String, TrustError> {
        let mut keys = self.keys.write().map_err(|_| internal("lock poisoned"))?;
        let previous = keys.active_id();
        let id = keys.rotate().map_err(internal)?;
        let public = hex::encode(keys.active().verifying_key().to_bytes());
        drop(keys);
        self.append(vec![LogEntry::KeyRotation {
            key_id: id.clone(),
            public_key: public,
            previous_key_id: previous,
            when_unix_ms: now_unix_ms(),
        }])?;
        self.db.open_tree("announced")?.insert(&id, &[])?;
        self.db.flush()?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle;

    const TEXT: &str = "Shares rose on Friday after the central bank held interest rates, and analysts expect a calmer week for markets ahead.";

    fn open(dir: &std::path::Path) -> Provenance {
        let db = sled::open(dir.join("db")).unwrap();
        let keys = KeyRing::open(&dir.join("keys"), None).unwrap();
        Provenance::open(db, keys, "generec.test/log").unwrap()
    }

    fn outcome(verdict: Action) -> Outcome {
        Outcome {
            verdict,
            findings: vec![],
            redacted_text: None,
            bundle_hash: "ab".repeat(32),
            bundle_version: "v1".into(),
        }
    }

    fn request(content: &str) -> CertifyRequest {
        CertifyRequest {
            item_id: "gen-1".into(),
            content: content.into(),
            creator: "feed".into(),
            ..CertifyRequest::default()
        }
    }

    #[test]
    fn certify_refuses_content_whose_last_review_did_not_allow_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path());
        let err = p.certify(&request(TEXT)).unwrap_err().to_string();
        assert!(err.contains("not been reviewed"), "{err}");
        p.record_review(TEXT, "u", &outcome(Action::Block)).unwrap();
        assert!(
            p.certify(&request(TEXT))
                .unwrap_err()
                .to_string()
                .contains("block")
        );
        p.record_review(TEXT, "u", &outcome(Action::AllowWithLabel))
            .unwrap();
        assert!(p.certify(&request(TEXT)).is_ok());
    }

    #[test]
    fn a_certified_item_verifies_is_found_by_mark_or_soft_binding_and_is_in_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path());
        p.record_review(TEXT, "u", &outcome(Action::Allow)).unwrap();
        let c = p.certify(&request(TEXT)).unwrap();
        assert_eq!(
            p.verify(&c.content, &c.manifest).unwrap(),
            vec![Status::SignatureValidated, Status::HashMatch]
        );
        assert_eq!(c.manifest.actions[0].action, "c2pa.created");

        let (found, how) = p.detect(&c.content).unwrap().unwrap();
        assert_eq!(
            (found.manifest_id.as_str(), how),
            (c.manifest.manifest_id.as_str(), Detection::Watermark)
        );
        let stripped_and_edited = watermark::strip(&c.content).replace("Friday", "Thursday");
        let (found, how) = p.detect(&stripped_and_edited).unwrap().unwrap();
        assert_eq!(found.manifest_id, c.manifest.manifest_id);
        assert!(matches!(how, Detection::SoftBinding { .. }));
        assert!(
            p.detect("An unrelated text about football and the weather this weekend.")
                .unwrap()
                .is_none()
        );

        // The authorship entry is provable against a signed checkpoint.
        let (cp, signed) = p.checkpoint().unwrap();
        let (_, vkey) = p.public_keys().unwrap();
        let verifier = note::parse_verifier_key(&vkey).unwrap();
        assert_eq!(Checkpoint::verify(&signed, &verifier).unwrap(), cp);
        let entry = p.log().entry(c.log_index).unwrap().unwrap();
        let logged: LogEntry = serde_json::from_slice(&entry).unwrap();
        assert!(
            matches!(logged, LogEntry::Authorship { ref manifest_id, .. } if *manifest_id == c.manifest.manifest_id)
        );
        let proof = p.log().inclusion_proof(c.log_index, cp.size).unwrap();
        assert!(merkle::verify_inclusion(
            &merkle::leaf_hash(&entry),
            c.log_index,
            cp.size,
            &proof,
            &cp.root
        ));
    }

    #[test]
    fn after_a_key_rotation_old_manifests_still_verify_and_the_rotation_is_logged() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path());
        p.record_review(TEXT, "u", &outcome(Action::Allow)).unwrap();
        let c = p.certify(&request(TEXT)).unwrap();
        let (size_before, _) = p.log().head();
        let new_id = p.rotate_key().unwrap();
        assert_ne!(new_id, c.manifest.key_id);
        assert_eq!(
            p.verify(&c.content, &c.manifest).unwrap()[0],
            Status::SignatureValidated
        );
        let (size, _) = p.log().head();
        assert_eq!(size, size_before + 1);
        let last: LogEntry =
            serde_json::from_slice(&p.log().entry(size - 1).unwrap().unwrap()).unwrap();
        assert!(matches!(last, LogEntry::KeyRotation { ref key_id, .. } if *key_id == new_id));
        // Reopening announces nothing new.
        drop(p);
        let p = open(dir.path());
        assert_eq!(p.log().head().0, size);
    }
}
