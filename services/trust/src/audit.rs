//! Offline audit: everything an auditor needs to check one generated item
//! without trusting or reaching the service, in one JSON bundle, and the
//! checks `generec verify` runs on it.
//!
//! The bundle holds the item's content, its manifest, the authorship entry
//! of the transparency log with its index and inclusion proof, a signed
//! checkpoint, the checkpoint's verifier key and the service's public keys.
//! The checks, in order: the checkpoint's signature, the manifest's
//! signature, the content's hash, that the log entry is this manifest's
//! authorship record, and the entry's inclusion under the checkpoint.

use serde::{Deserialize, Serialize};

use crate::keys::PublicKey;
use crate::manifest::{self, Manifest, Status};
use crate::merkle;
use crate::note::{self, Checkpoint};
use crate::provenance::LogEntry;

/// The offline audit bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditBundle {
    pub content: String,
    pub manifest: Manifest,
    pub log_index: u64,
    /// The log entry's bytes (JSON text).
    pub log_entry: String,
    /// Inclusion proof hashes, hex, leaf side first.
    pub inclusion_proof: Vec<String>,
    /// The checkpoint as a signed note.
    pub checkpoint: String,
    pub checkpoint_verifier_key: String,
    pub public_keys: Vec<PublicKey>,
}

/// One check and whether it passed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub check: &'static str,
    pub passed: bool,
    pub detail: String,
}

fn result(check: &'static str, passed: bool, detail: impl Into<String>) -> CheckResult {
    CheckResult {
        check,
        passed,
        detail: detail.into(),
    }
}

/// Runs every check of the bundle; later checks still run when an earlier
/// one fails, so the report is complete.
pub fn verify_bundle(b: &AuditBundle) -> Vec<CheckResult> {
    let mut out = Vec::new();
    let checkpoint = note::parse_verifier_key(&b.checkpoint_verifier_key)
        .map_err(|e| e.to_string())
        .and_then(|v| Checkpoint::verify(&b.checkpoint, &v).map_err(|e| e.to_string()));
    match &checkpoint {
        Ok(cp) => out.push(result(
            "checkpoint.signature",
            true,
            format!("{} at size {}", cp.origin, cp.size),
        )),
        Err(e) => out.push(result("checkpoint.signature", false, e.clone())),
    }
    let statuses = manifest::verify(&b.content, &b.manifest, |id| {
        b.public_keys
            .iter()
            .find(|k| k.key_id == id)
            .and_then(PublicKey::verifying_key)
    });
    let sig = statuses.first().copied().unwrap_or(Status::Malformed);
    out.push(result(
        "manifest.signature",
        sig == Status::SignatureValidated,
        sig.code(),
    ));
    let hash = statuses.get(1).copied().unwrap_or(Status::HashMismatch);
    out.push(result(
        "content.hash",
        hash == Status::HashMatch,
        hash.code(),
    ));
    let entry_ok = match serde_json::from_str::<LogEntry>(&b.log_entry) {
        Ok(LogEntry::Authorship {
            manifest_id,
            content_sha256,
            ..
        }) => {
            let ok =
                manifest_id == b.manifest.manifest_id && content_sha256 == b.manifest.hard_binding;
            result(
                "log.entry",
                ok,
                if ok {
                    "authorship of this manifest and content".into()
                } else {
                    format!("authorship of manifest {manifest_id}, not this one")
                },
            )
        }
        Ok(_) => result("log.entry", false, "the entry is not an authorship record"),
        Err(e) => result("log.entry", false, format!("unreadable entry: {e}")),
    };
    out.push(entry_ok);
    let included = match &checkpoint {
        Ok(cp) => {
            let proof: Result<Vec<merkle::Hash>, String> = b
                .inclusion_proof
                .iter()
                .map(|h| {
                    hex::decode(h)
                        .ok()
                        .and_then(|v| <[u8; 32]>::try_from(v).ok())
                        .ok_or_else(|| format!("bad proof hash {h}"))
                })
                .collect();
            match proof {
                Ok(p) => {
                    let ok = merkle::verify_inclusion(
                        &merkle::leaf_hash(b.log_entry.as_bytes()),
                        b.log_index,
                        cp.size,
                        &p,
                        &cp.root,
                    );
                    result(
                        "log.inclusion",
                        ok,
                        format!("entry {} in a tree of {}", b.log_index, cp.size),
                    )
                }
                Err(e) => result("log.inclusion", false, e),
            }
        }
        Err(_) => result(
            "log.inclusion",
            false,
            "no verified checkpoint to check against",
        ),
    };
    out.push(included);
    out
}
