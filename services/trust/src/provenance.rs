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

use crate::checks::ReviewContext;
use crate::error::{TrustError, internal};
use crate::finding::Action;
use crate::keys::{KeyRing, PublicKey};
use crate::manifest::{self, ActionRecord, Generator, Ingredient, Manifest, ReviewSummary, Status};
use crate::note::{self, Checkpoint};
use crate::query::{Page, Query, QueryIndex};
use crate::review::Outcome;
use crate::tlog::{Log, LogError};
use crate::watermark;
use generec_provenance::entry::Authorship;
use generec_provenance::ids;

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
    /// A generator made (or edited) an item, under this manifest; or a
    /// human uploaded it.
    Authorship(Authorship),
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
    /// The bytes logged: canonical JSON (fields in declaration order). An
    /// entry larger than a log entry may be is refused here, before
    /// anything is signed or appended.
    pub fn to_bytes(&self) -> Result<Vec<u8>, TrustError> {
        let bytes = serde_json::to_vec(self).map_err(|e| TrustError::Internal(e.to_string()))?;
        if bytes.len() > generec_provenance::entry::MAX_ENTRY_BYTES {
            return Err(TrustError::invalid(
                "request",
                format!(
                    "would make a log entry of {} bytes; the limit is {}",
                    bytes.len(),
                    generec_provenance::entry::MAX_ENTRY_BYTES
                ),
            ));
        }
        Ok(bytes)
    }
}

/// Most ingredients (parents) of one certified item.
pub const MAX_INGREDIENTS: usize = 64;
/// Most sources one certified item names.
pub const MAX_SOURCES: usize = 64;
/// Checks a licence id by the rule the corpus applies
/// ([`ids::is_licence`]).
pub fn check_licence(field: &str, licence: &str) -> Result<(), TrustError> {
    if ids::is_licence(licence) {
        Ok(())
    } else {
        Err(TrustError::invalid(
            field,
            format!(
                "must be an SPDX-style licence id of 1 to {} bytes",
                ids::MAX_LICENCE_BYTES
            ),
        ))
    }
}

/// The origin a review context records, as stored with the review.
fn origin_name(origin: Option<generec_common::types::Origin>) -> &'static str {
    origin.map_or("unspecified", generec_common::types::Origin::as_str)
}

/// The key a review is stored under: the content's hard binding and what
/// the review was made for (origin, parents, sources), so a review made in
/// one context never vouches for another.
pub fn review_key(
    content_sha256: &str,
    origin: &str,
    parents: &[String],
    sources: &[String],
) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut parents = parents.to_vec();
    parents.sort();
    parents.dedup();
    let mut sources = sources.to_vec();
    sources.sort();
    sources.dedup();
    let mut h = Sha256::new();
    for part in [origin.to_string(), parents.join("\n"), sources.join("\n")] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    let mut key = content_sha256.as_bytes().to_vec();
    key.push(b'/');
    key.extend_from_slice(&hex::encode(h.finalize()).into_bytes());
    key
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
    /// Who asked for it (a user or a service); logged.
    pub creator: String,
    /// The item's creator id in the corpus; signed.
    pub creator_id: String,
    /// The item's licence; signed.
    pub licence: String,
    /// The ids of the sources its review saw.
    pub source_ids: Vec<String>,
}

impl CertifyRequest {
    /// Checks every field before anything is signed or logged; the error
    /// names the field.
    pub fn validate(&self) -> Result<(), TrustError> {
        let id = |field: &str, v: &str| ids::check_id(v).map_err(|e| TrustError::invalid(field, e));
        id("item_id", &self.item_id)?;
        if self.content.trim().is_empty() {
            return Err(TrustError::invalid("content", "must not be empty"));
        }
        if self.content.len() > crate::review::limits::MAX_CONTENT_BYTES {
            return Err(TrustError::invalid(
                "content",
                format!(
                    "is {} bytes; the limit is {}",
                    self.content.len(),
                    crate::review::limits::MAX_CONTENT_BYTES
                ),
            ));
        }
        if !self.action.is_empty() {
            ids::check_name(&self.action).map_err(|e| TrustError::invalid("action", e))?;
        }
        if self.parents.len() > MAX_INGREDIENTS {
            return Err(TrustError::invalid(
                "parents",
                format!("has {}; the limit is {MAX_INGREDIENTS}", self.parents.len()),
            ));
        }
        for (i, p) in self.parents.iter().enumerate() {
            id(&format!("parents[{i}].item_id"), &p.item_id)?;
            ids::check_sha256(&p.content_sha256)
                .map_err(|e| TrustError::invalid(&format!("parents[{i}].content_sha256"), e))?;
            ids::check_name(&p.relationship)
                .map_err(|e| TrustError::invalid(&format!("parents[{i}].relationship"), e))?;
        }
        if let Some(g) = &self.generator {
            ids::check_label(&g.name).map_err(|e| TrustError::invalid("generator_name", e))?;
            ids::check_label(&g.version)
                .map_err(|e| TrustError::invalid("generator_version", e))?;
        }
        id("creator", &self.creator)?;
        id("creator_id", &self.creator_id)?;
        // Empty takes the licence the review computed.
        if !self.licence.is_empty() {
            check_licence("licence", &self.licence)?;
        }
        if self.source_ids.len() > MAX_SOURCES {
            return Err(TrustError::invalid(
                "source_ids",
                format!("has {}; the limit is {MAX_SOURCES}", self.source_ids.len()),
            ));
        }
        for (i, s) in self.source_ids.iter().enumerate() {
            id(&format!("source_ids[{i}]"), s)?;
        }
        Ok(())
    }
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
    /// The log index of its policy decision.
    log_index: u64,
    /// What the review was made for.
    #[serde(default)]
    made_for: ReviewedFor,
}

/// The context a review was made in, as stored with it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct ReviewedFor {
    origin: String,
    parents: Vec<String>,
    sources: Vec<String>,
    /// SHA-256 of the instruction that produced the content (empty for none).
    instruction_sha256: String,
    /// The licence the review computed from the content's sources and
    /// parents (empty for reviews made before licences were computed).
    #[serde(default)]
    licence: String,
    /// What the review measured the content was made from: the manifest's
    /// ingredients (parents first, then the cited items).
    #[serde(default)]
    ingredients: Vec<Ingredient>,
}

/// The manifest's ingredients: the request's parents with the licence and
/// creator their review was told, then the items the review found the
/// content drew on (`inputTo`, with the spans each supports).
fn ingredients(parents: &[Ingredient], reviewed: &[Ingredient]) -> Vec<Ingredient> {
    let mut out: Vec<Ingredient> = parents
        .iter()
        .map(|p| {
            let seen = reviewed
                .iter()
                .find(|r| r.relationship == manifest::PARENT_OF && r.item_id == p.item_id);
            Ingredient {
                licence: seen.map(|r| r.licence.clone()).unwrap_or_default(),
                creator_id: seen.map(|r| r.creator_id.clone()).unwrap_or_default(),
                ..p.clone()
            }
        })
        .collect();
    out.extend(
        reviewed
            .iter()
            .filter(|r| r.relationship != manifest::PARENT_OF)
            .cloned(),
    );
    out
}

/// The licence Certify signs: the one the review computed from the
/// content's sources and parents. A request may leave it empty or state the
/// same; a different one is refused (it is computed, never chosen).
fn signed_licence(stated: &str, computed: &str) -> Result<String, TrustError> {
    match (stated.trim(), computed.trim()) {
        ("", "") => Err(TrustError::invalid(
            "licence",
            "is empty and the review computed none; review the content as generated first",
        )),
        (s, "") => Ok(s.to_string()),
        ("", c) => Ok(c.to_string()),
        (s, c) if s == c => Ok(c.to_string()),
        (s, c) => Err(TrustError::precondition(
            "licence",
            format!(
                "states {s}, but the review computed {c} from the content's sources and parents"
            ),
        )),
    }
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
            e @ LogError::TooLarge { .. } => TrustError::invalid("request", e.to_string()),
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
        // Checked before the query is logged, so a bad query logs nothing.
        query.validate()?;
        if limit == 0 || limit > crate::query::MAX_PAGE {
            return Err(TrustError::invalid(
                "page_size",
                format!("must be 1 to {}", crate::query::MAX_PAGE),
            ));
        }
        self.append(vec![LogEntry::ComplianceQuery {
            caller: caller.to_string(),
            query: query.clone(),
            page_after: after,
            page_size: limit,
            when_unix_ms: now_unix_ms(),
        }])?;
        self.index.query(&self.log, query, after, limit)
    }

    /// Records a review of `content` made in `context` and logs the
    /// decision. Returns the log index.
    pub fn record_review(
        &self,
        content: &str,
        context: &ReviewContext,
        outcome: &Outcome,
    ) -> Result<u64, TrustError> {
        let hash = manifest::hard_binding(content);
        let mut rule_ids: Vec<String> =
            outcome.findings.iter().map(|f| f.rule_id.clone()).collect();
        rule_ids.sort();
        rule_ids.dedup();
        let entry = LogEntry::PolicyDecision {
            content_sha256: hash.clone(),
            verdict: outcome.verdict,
            rule_ids: rule_ids.clone(),
            bundle_hash: outcome.bundle_hash.clone(),
            user_id: context.user_id.clone(),
            when_unix_ms: now_unix_ms(),
        };
        let log_index = self.append(vec![entry])?[0];
        let parents: Vec<String> = context.parents.iter().map(|p| p.id.clone()).collect();
        let sources: Vec<String> = context.sources.iter().map(|s| s.id.clone()).collect();
        let key = review_key(&hash, origin_name(context.origin), &parents, &sources);
        let stored = StoredReview {
            verdict: outcome.verdict,
            rule_ids,
            bundle_hash: outcome.bundle_hash.clone(),
            bundle_version: outcome.bundle_version.clone(),
            log_index,
            made_for: ReviewedFor {
                origin: origin_name(context.origin).to_string(),
                parents,
                sources,
                instruction_sha256: if context.instruction.is_empty() {
                    String::new()
                } else {
                    use sha2::Digest;
                    hex::encode(sha2::Sha256::digest(context.instruction.as_bytes()))
                },
                licence: outcome.licence.clone(),
                ingredients: outcome
                    .made_from
                    .iter()
                    .map(|m| m.ingredient.clone())
                    .collect(),
            },
        };
        // Not flushed here: a review lost in a crash is only asked again
        // (Certify says it has not been reviewed); its decision is logged.
        self.reviews
            .insert(key, serde_json::to_vec(&stored).map_err(internal)?)?;
        Ok(log_index)
    }

    /// Signs, marks, stores and logs an item that a review made for it
    /// allowed: a review of the same content, for generated content with
    /// the same parents and sources.
    pub fn certify(&self, req: &CertifyRequest) -> Result<Certified, TrustError> {
        req.validate()?;
        let hash = manifest::hard_binding(&req.content);
        let origin = if req.parents.is_empty() {
            generec_common::types::Origin::AiCreated
        } else {
            generec_common::types::Origin::AiEdited
        }
        .as_str();
        let parent_ids: Vec<String> = req.parents.iter().map(|p| p.item_id.clone()).collect();
        let key = review_key(&hash, origin, &parent_ids, &req.source_ids);
        let review: StoredReview = match self.reviews.get(key)? {
            Some(v) => serde_json::from_slice(&v).map_err(internal)?,
            None => {
                return Err(TrustError::precondition(
                    "content",
                    format!(
                        "has not been reviewed as {origin} content with these parents and sources; call Review with that context first"
                    ),
                ));
            }
        };
        if !matches!(review.verdict, Action::Allow | Action::AllowWithLabel) {
            return Err(TrustError::precondition(
                "content",
                format!(
                    "its review's verdict was {}, which does not allow it",
                    review.verdict.as_str()
                ),
            ));
        }
        let licence = signed_licence(&req.licence, &review.made_for.licence)?;
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
            creator_id: req.creator_id.clone(),
            licence,
            actions: vec![ActionRecord {
                action: action.to_string(),
                digital_source_type: source_type.into(),
                when_unix_ms: now,
            }],
            ingredients: ingredients(&req.parents, &review.made_for.ingredients),
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
                log_index: review.log_index,
                rule_ids: review.rule_ids,
            },
            created_unix_ms: now,
            key_id: keys.active_id(),
            signature: String::new(),
        };
        m.sign(keys.active());
        drop(keys);
        let entry = LogEntry::Authorship(Authorship {
            item_id: m.item_id.clone(),
            origin: "generated".into(),
            manifest_id: m.manifest_id.clone(),
            content_sha256: hash,
            creator: req.creator.clone(),
            parents: m.ingredients.clone(),
            key_id: m.key_id.clone(),
            licence: m.licence.clone(),
            review_index: Some(m.review.log_index),
            when_unix_ms: now,
        });
        // Encoded (and so size-checked) before the manifest is stored.
        let bytes = entry.to_bytes()?;
        self.manifests
            .insert(id, serde_json::to_vec(&m).map_err(internal)?)?;
        // The log's flush makes the manifest (written above) durable with
        // the entry; the query index, which finds the entry by manifest
        // id, is rebuilt from the log on open, so it needs no flush.
        let log_index = self.log.append(vec![bytes])?[0];
        self.index.catch_up(&self.log)?;
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
        ids::check_id(item_id).map_err(|e| TrustError::invalid("item_id", e))?;
        ids::check_sha256(content_sha256).map_err(|e| TrustError::invalid("content_sha256", e))?;
        ids::check_id(creator).map_err(|e| TrustError::invalid("creator", e))?;
        let entry = LogEntry::Authorship(Authorship {
            item_id: item_id.to_string(),
            origin: "human".into(),
            manifest_id: String::new(),
            content_sha256: content_sha256.to_ascii_lowercase(),
            creator: creator.to_string(),
            parents: Vec::new(),
            key_id: String::new(),
            licence: String::new(),
            review_index: None,
            when_unix_ms: now_unix_ms(),
        });
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
        if let Some(index) = self.index.authored(manifest_id)? {
            return Ok(Some(index));
        }
        // Stores written before the query index held authorship entries
        // kept them in a tree of their own.
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

    /// The trust root an auditor pins: every public key with its period,
    /// and the checkpoint verifier key of each under this log's origin.
    pub fn trust_root(&self) -> Result<generec_provenance::audit::TrustRoot, TrustError> {
        let keys = self.keys.read().map_err(|_| internal("lock poisoned"))?;
        Ok(generec_provenance::audit::TrustRoot {
            log_keys: Vec::new(),
            signing_keys: keys.public_keys().to_vec(),
        }
        .with_log_keys_for(&self.origin))
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
            licence: "CC-BY-4.0".into(),
            made_from: vec![],
            scores: Default::default(),
        }
    }

    fn request(content: &str) -> CertifyRequest {
        CertifyRequest {
            item_id: "gen-1".into(),
            content: content.into(),
            creator: "feed".into(),
            creator_id: "generec".into(),
            licence: "CC-BY-4.0".into(),
            ..CertifyRequest::default()
        }
    }

    fn generated() -> ReviewContext {
        ReviewContext {
            origin: Some(generec_common::types::Origin::AiCreated),
            user_id: "u".into(),
            ..ReviewContext::default()
        }
    }

    #[test]
    fn certify_refuses_content_whose_last_review_did_not_allow_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path());
        let err = p.certify(&request(TEXT)).unwrap_err().to_string();
        assert!(err.contains("not been reviewed"), "{err}");
        p.record_review(TEXT, &generated(), &outcome(Action::Block))
            .unwrap();
        assert!(
            p.certify(&request(TEXT))
                .unwrap_err()
                .to_string()
                .contains("block")
        );
        p.record_review(TEXT, &generated(), &outcome(Action::AllowWithLabel))
            .unwrap();
        let c = p.certify(&request(TEXT)).unwrap();
        assert_eq!(c.manifest.review.verdict, "allow_with_label");
    }

    #[test]
    fn a_review_in_another_context_does_not_vouch_for_generated_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path());
        // Reviewed as generated: held; reviewed again with no context: allowed.
        p.record_review(TEXT, &generated(), &outcome(Action::Review))
            .unwrap();
        p.record_review(TEXT, &ReviewContext::default(), &outcome(Action::Allow))
            .unwrap();
        let err = p.certify(&request(TEXT)).unwrap_err().to_string();
        assert!(err.contains("review"), "{err}");
        // Other parents or sources than the review saw are another context.
        let allowed = p
            .record_review(TEXT, &generated(), &outcome(Action::Allow))
            .unwrap();
        let mut with_sources = request(TEXT);
        with_sources.source_ids = vec!["bbc-1".into()];
        assert!(p.certify(&with_sources).is_err());
        let c = p.certify(&request(TEXT)).unwrap();
        assert_eq!(c.manifest.review.log_index, allowed);
        let logged: LogEntry =
            serde_json::from_slice(&p.log().entry(c.log_index).unwrap().unwrap()).unwrap();
        assert!(matches!(logged, LogEntry::Authorship(ref a) if a.review_index == Some(allowed)));
    }

    #[test]
    fn the_manifest_lists_the_parents_and_the_sources_the_review_measured() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path());
        let mut ctx = generated();
        ctx.origin = Some(generec_common::types::Origin::AiEdited);
        ctx.parents = vec![crate::checks::Parent {
            id: "p-1".into(),
            licence: "CC-BY-SA-4.0".into(),
            owner_consent: false,
        }];
        ctx.sources = vec![crate::checks::Source {
            id: "bbc-1#0".into(),
            ..Default::default()
        }];
        let mut allowed = outcome(Action::Allow);
        allowed.licence = "CC-BY-SA-4.0".into();
        let reviewed =
            |item: &str, relationship: &str, licence: &str| crate::checks::made_from::MadeFrom {
                ingredient: Ingredient {
                    item_id: item.into(),
                    relationship: relationship.into(),
                    licence: licence.into(),
                    creator_id: "someone".into(),
                    spans: vec![(0, 10)],
                    ..Ingredient::default()
                },
                copied_words: 3,
            };
        allowed.made_from = vec![
            reviewed("p-1", manifest::PARENT_OF, "CC-BY-SA-4.0"),
            reviewed("bbc-1", manifest::INPUT_TO, "all-rights-reserved"),
        ];
        p.record_review(TEXT, &ctx, &allowed).unwrap();
        let mut r = request(TEXT);
        r.licence = String::new();
        r.parents = vec![Ingredient {
            item_id: "p-1".into(),
            content_sha256: "ef".repeat(32),
            relationship: manifest::PARENT_OF.into(),
            ..Ingredient::default()
        }];
        r.source_ids = vec!["bbc-1#0".into()];
        let c = p.certify(&r).unwrap();
        let m = &c.manifest;
        assert_eq!(m.licence, "CC-BY-SA-4.0");
        assert_eq!(m.ingredients.len(), 2, "{:?}", m.ingredients);
        assert_eq!(m.ingredients[0].item_id, "p-1");
        assert_eq!(m.ingredients[0].content_sha256, "ef".repeat(32));
        assert_eq!(m.ingredients[0].licence, "CC-BY-SA-4.0");
        assert_eq!(m.ingredients[0].creator_id, "someone");
        assert_eq!(m.ingredients[1].item_id, "bbc-1");
        assert_eq!(m.ingredients[1].relationship, manifest::INPUT_TO);
        assert_eq!(m.ingredients[1].spans, vec![(0, 10)]);
        let logged: LogEntry =
            serde_json::from_slice(&p.log().entry(c.log_index).unwrap().unwrap()).unwrap();
        assert!(matches!(logged, LogEntry::Authorship(ref a) if a.parents == m.ingredients));
    }

    #[test]
    fn certify_validates_every_field_before_signing_or_logging() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path());
        p.record_review(TEXT, &generated(), &outcome(Action::Allow))
            .unwrap();
        let size = p.log().head().0;
        let parent = |id: &str, hash: &str| Ingredient {
            item_id: id.into(),
            content_sha256: hash.into(),
            relationship: "parentOf".into(),
            ..Ingredient::default()
        };
        type Breaks = Box<dyn Fn(&mut CertifyRequest)>;
        let cases: Vec<(&str, Breaks)> = vec![
            ("item_id", Box::new(|r| r.item_id = "gen\0nul".into())),
            ("item_id", Box::new(|r| r.item_id = "x".repeat(300))),
            (
                "action",
                Box::new(|r| r.action = "c2pa.evil\u{202e}".into()),
            ),
            (
                "parents[0].content_sha256",
                Box::new(move |r| r.parents = vec![parent("bbc-1", "zz")]),
            ),
            (
                "parents",
                Box::new(move |r| {
                    r.parents = (0..250_000)
                        .map(|i| parent(&format!("p{i}"), &"ab".repeat(32)))
                        .collect()
                }),
            ),
            (
                "generator_name",
                Box::new(|r| {
                    r.generator = Some(Generator {
                        name: "g".repeat(1 << 20),
                        version: "1".into(),
                    })
                }),
            ),
            ("creator_id", Box::new(|r| r.creator_id = String::new())),
            ("licence", Box::new(|r| r.licence = "CC BY".into())),
        ];
        for (field, break_it) in cases {
            let mut r = request(TEXT);
            break_it(&mut r);
            let err = p.certify(&r).unwrap_err();
            assert!(
                matches!(err, TrustError::InvalidArgument { .. }),
                "{field}: {err}"
            );
            assert!(err.to_string().contains(field), "{field}: {err}");
        }
        assert_eq!(p.log().head().0, size, "nothing was logged");
    }

    #[test]
    fn a_certified_item_verifies_is_found_by_mark_or_soft_binding_and_is_in_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path());
        p.record_review(TEXT, &generated(), &outcome(Action::Allow))
            .unwrap();
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
            matches!(logged, LogEntry::Authorship(ref a) if a.manifest_id == c.manifest.manifest_id)
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
        p.record_review(TEXT, &generated(), &outcome(Action::Allow))
            .unwrap();
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

    #[test]
    fn the_signed_licence_is_the_computed_one() {
        assert_eq!(signed_licence("", "CC0-1.0").unwrap(), "CC0-1.0");
        assert_eq!(signed_licence("CC0-1.0", "CC0-1.0").unwrap(), "CC0-1.0");
        let err = signed_licence("CC-BY-4.0", "LicenseRef-generec-platform-terms").unwrap_err();
        assert!(err.to_string().contains("licence"), "{err}");
        // Reviews stored before licences were computed keep the stated one.
        assert_eq!(signed_licence("CC-BY-4.0", "").unwrap(), "CC-BY-4.0");
        assert!(signed_licence("", "").is_err());
    }
}
