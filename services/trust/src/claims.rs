//! Copyright claims and their lifecycle: registered (active), disputed,
//! resolved (upheld or rejected). Every change is logged. A work may carry
//! several claims; the copyright check applies the most restrictive policy
//! (block > label > track) among its claims that are not rejected, and a
//! work whose claims are all rejected is no longer matched.

use generec_common::now_unix_ms;
use serde::{Deserialize, Serialize};

use crate::checks::copyright::{self, ClaimPolicy, Work};
use crate::error::{TrustError, internal};
use crate::provenance::{LogEntry, Provenance};
use crate::registry::Registry;

/// Where a claim stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    Active,
    Disputed,
    /// Resolved in the claimant's favour: the claim applies.
    Upheld,
    /// Resolved against the claimant: the claim no longer applies.
    Rejected,
}

impl ClaimStatus {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Active => "active",
            ClaimStatus::Disputed => "disputed",
            ClaimStatus::Upheld => "upheld",
            ClaimStatus::Rejected => "rejected",
        }
    }

    fn applies(self) -> bool {
        self != ClaimStatus::Rejected
    }
}

/// A dispute raised against a claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispute {
    pub by: String,
    pub reason: String,
    pub when_unix_ms: i64,
}

/// One claim.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub claim_id: String,
    pub work_id: String,
    pub claimant: String,
    pub licence: String,
    pub policy: ClaimPolicy,
    pub status: ClaimStatus,
    pub disputes: Vec<Dispute>,
    /// The resolution note, once resolved.
    pub resolution: String,
    pub created_unix_ms: i64,
    pub updated_unix_ms: i64,
}

fn strictness(p: ClaimPolicy) -> u8 {
    match p {
        ClaimPolicy::Track => 0,
        ClaimPolicy::Label => 1,
        ClaimPolicy::Block => 2,
    }
}

/// The claims store: see the module docs.
pub struct Claims {
    tree: sled::Tree,
    /// The fingerprint of each work, kept so the effective policy can be
    /// re-applied when claims change.
    fingerprints: sled::Tree,
}

fn check_id(field: &str, v: &str) -> Result<(), TrustError> {
    generec_provenance::ids::check_id(v).map_err(|e| TrustError::invalid(field, e))
}

impl Claims {
    /// Opens the claims store in `db`.
    pub fn open(db: &sled::Db) -> Result<Claims, TrustError> {
        Ok(Claims {
            tree: db.open_tree("claims")?,
            fingerprints: db.open_tree("claim_works")?,
        })
    }

    fn get(&self, claim_id: &str) -> Result<Claim, TrustError> {
        let v = self
            .tree
            .get(claim_id.as_bytes())?
            .ok_or_else(|| TrustError::NotFound {
                what: "claim",
                id: claim_id.to_string(),
            })?;
        serde_json::from_slice(&v).map_err(internal)
    }

    fn put(&self, claim: &Claim) -> Result<(), TrustError> {
        self.tree.insert(
            claim.claim_id.as_bytes(),
            serde_json::to_vec(claim).map_err(internal)?,
        )?;
        Ok(())
    }

    /// Every claim on a work.
    pub fn for_work(&self, work_id: &str) -> Result<Vec<Claim>, TrustError> {
        self.list(&ListFilter {
            work_id: work_id.to_string(),
            ..ListFilter::default()
        })
    }

    /// Re-applies the most restrictive policy of a work's live claims to the
    /// registry (or removes the work when none applies).
    fn apply(&self, registry: &Registry, work_id: &str) -> Result<(), TrustError> {
        let claims = self.for_work(work_id)?;
        let live: Vec<&Claim> = claims.iter().filter(|c| c.status.applies()).collect();
        let Some(strictest) = live.iter().max_by_key(|c| strictness(c.policy)) else {
            registry.remove_work(work_id)?;
            return Ok(());
        };
        let Some(bytes) = self.fingerprints.get(work_id.as_bytes())? else {
            return Err(internal(format!("no fingerprint for work {work_id}")));
        };
        let mut work: Work = serde_json::from_slice(&bytes).map_err(internal)?;
        work.policy = strictest.policy;
        work.claimant = strictest.claimant.clone();
        work.licence = strictest.licence.clone();
        registry.register_work(work)
    }

    /// Registers a claim on a work (fingerprinting `text` when the work is
    /// new to the store) and logs it.
    #[allow(clippy::too_many_arguments)]
    pub fn register(
        &self,
        provenance: &Provenance,
        registry: &Registry,
        claim_id: &str,
        work_id: &str,
        claimant: &str,
        licence: &str,
        policy: ClaimPolicy,
        text: &str,
    ) -> Result<(Claim, u64), TrustError> {
        check_id("claim_id", claim_id)?;
        check_id("work_id", work_id)?;
        check_id("claimant", claimant)?;
        if !licence.is_empty() {
            crate::provenance::check_licence("licence", licence)?;
        }
        if text.len() > crate::review::limits::MAX_CONTENT_BYTES {
            return Err(TrustError::invalid(
                "text",
                format!(
                    "is {} bytes; the limit is {}",
                    text.len(),
                    crate::review::limits::MAX_CONTENT_BYTES
                ),
            ));
        }
        if self.tree.contains_key(claim_id.as_bytes())? {
            return Err(TrustError::invalid(
                "claim_id",
                format!("{claim_id} already exists"),
            ));
        }
        let known = self.fingerprints.contains_key(work_id.as_bytes())?;
        if !known {
            if text.split_whitespace().count() < 5 {
                return Err(TrustError::invalid(
                    "text",
                    "a claimed work needs at least 5 words",
                ));
            }
            let work = copyright::work(
                work_id,
                claimant,
                licence,
                policy,
                text,
                &copyright::Config::default(),
            );
            self.fingerprints.insert(
                work_id.as_bytes(),
                serde_json::to_vec(&work).map_err(internal)?,
            )?;
        }
        let now = now_unix_ms();
        let claim = Claim {
            claim_id: claim_id.to_string(),
            work_id: work_id.to_string(),
            claimant: claimant.to_string(),
            licence: licence.to_string(),
            policy,
            status: ClaimStatus::Active,
            disputes: Vec::new(),
            resolution: String::new(),
            created_unix_ms: now,
            updated_unix_ms: now,
        };
        self.put(&claim)?;
        self.apply(registry, work_id)?;
        let index = provenance.log_claim(&claim, "registered", claimant)?;
        Ok((claim, index))
    }

    /// Marks a claim disputed, with who disputes it and why, and logs it.
    pub fn dispute(
        &self,
        provenance: &Provenance,
        registry: &Registry,
        claim_id: &str,
        by: &str,
        reason: &str,
    ) -> Result<(Claim, u64), TrustError> {
        check_id("disputed_by", by)?;
        if reason.trim().is_empty() || reason.len() > 4096 {
            return Err(TrustError::invalid("reason", "must be 1 to 4096 bytes"));
        }
        let mut claim = self.get(claim_id)?;
        if matches!(claim.status, ClaimStatus::Upheld | ClaimStatus::Rejected) {
            return Err(TrustError::precondition(
                "claim_id",
                format!("{claim_id} is already resolved ({})", claim.status.as_str()),
            ));
        }
        claim.status = ClaimStatus::Disputed;
        claim.updated_unix_ms = now_unix_ms();
        claim.disputes.push(Dispute {
            by: by.to_string(),
            reason: reason.to_string(),
            when_unix_ms: claim.updated_unix_ms,
        });
        self.put(&claim)?;
        self.apply(registry, &claim.work_id)?;
        let index = provenance.log_claim(&claim, "disputed", by)?;
        Ok((claim, index))
    }

    /// Resolves a claim (upheld or rejected) and logs it.
    pub fn resolve(
        &self,
        provenance: &Provenance,
        registry: &Registry,
        claim_id: &str,
        upheld: bool,
        note: &str,
    ) -> Result<(Claim, u64), TrustError> {
        let mut claim = self.get(claim_id)?;
        if matches!(claim.status, ClaimStatus::Upheld | ClaimStatus::Rejected) {
            return Err(TrustError::precondition(
                "claim_id",
                format!("{claim_id} is already resolved ({})", claim.status.as_str()),
            ));
        }
        claim.status = if upheld {
            ClaimStatus::Upheld
        } else {
            ClaimStatus::Rejected
        };
        claim.resolution = note.to_string();
        claim.updated_unix_ms = now_unix_ms();
        self.put(&claim)?;
        self.apply(registry, &claim.work_id)?;
        let index = provenance.log_claim(&claim, claim.status.as_str(), "resolver")?;
        Ok((claim, index))
    }

    /// Claims matching a filter, in claim id order.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<Claim>, TrustError> {
        let mut out = Vec::new();
        for entry in self.tree.iter() {
            let (_, v) = entry?;
            let c: Claim = serde_json::from_slice(&v).map_err(internal)?;
            if (filter.work_id.is_empty() || c.work_id == filter.work_id)
                && (filter.claimant.is_empty() || c.claimant == filter.claimant)
                && filter.status.is_none_or(|s| c.status == s)
            {
                out.push(c);
            }
        }
        Ok(out)
    }
}

/// Which claims to list.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub work_id: String,
    pub claimant: String,
    pub status: Option<ClaimStatus>,
}

impl LogEntry {
    /// The log entry of a claim event.
    pub fn claim(claim: &Claim, event: &str, actor: &str) -> LogEntry {
        LogEntry::CopyrightClaim {
            claim_id: claim.claim_id.clone(),
            work_id: claim.work_id.clone(),
            claimant: claim.claimant.clone(),
            policy: claim.policy.as_str().to_string(),
            status: claim.status.as_str().to_string(),
            event: event.to_string(),
            actor: actor.to_string(),
            when_unix_ms: claim.updated_unix_ms,
        }
    }
}
