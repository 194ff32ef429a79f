//! Offline audit: everything an auditor needs to check one generated item
//! without trusting or reaching the service, in one JSON bundle, and the one
//! function that checks it.
//!
//! The bundle holds the item's content, its manifest, the authorship entry
//! of the transparency log with its index and inclusion proof, a signed
//! checkpoint, and (for information only) the keys the service listed.
//! What the checks trust comes from the auditor, never from the bundle: a
//! [`TrustRoot`] of pinned checkpoint verifier keys and signing keys with
//! the periods they were active.
//!
//! The checks, in order, each with a C2PA-style status code:
//! 1. `checkpoint.signature`: the checkpoint is signed by a pinned log key;
//! 2. `manifest.signature`: the manifest is signed by a pinned signing key
//!    that was active at its signing time;
//! 3. `content.hash`: the manifest's hard binding is the content's;
//! 4. `content.invisible`: the content carries no invisible characters
//!    beyond the mark (no hidden payload the reader cannot see);
//! 5. `log.entry`: the entry is the authorship record of this manifest:
//!    same manifest id, item id, content hash, licence, review and key id,
//!    logged while that key was active;
//! 6. `log.inclusion`: the entry's leaf is included under the checkpoint.
//!
//! A manifest with a field outside its signed encoding does not parse
//! ([`parse_bundle`] reports `manifest.malformed`).

use serde::{Deserialize, Serialize};

use crate::entry;
use crate::keys::PublicKey;
use crate::manifest::{self, Manifest, Status};
use crate::merkle;
use crate::note::{self, Checkpoint, Verifier};
use crate::watermark;

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
    /// What the service said its checkpoint key is. Informational: only
    /// used when the auditor explicitly trusts the bundle's keys.
    pub checkpoint_verifier_key: String,
    /// What the service said its signing keys are. Informational, as above.
    pub public_keys: Vec<PublicKey>,
}

/// What an auditor trusts: checkpoint verifier keys (C2SP form,
/// `<origin>+<hex id>+<base64 key>`) and signing keys with their periods.
/// `generec audit trust-root` writes one from a trust service the auditor
/// reached once over a channel they trust.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustRoot {
    pub log_keys: Vec<String>,
    pub signing_keys: Vec<PublicKey>,
}

impl TrustRoot {
    /// The trust root a bundle claims for itself. Only for an auditor who
    /// says so (`--trust-bundle-keys`): it proves integrity, not origin.
    pub fn from_bundle(b: &AuditBundle) -> TrustRoot {
        TrustRoot {
            log_keys: vec![b.checkpoint_verifier_key.clone()],
            signing_keys: b.public_keys.clone(),
        }
    }

    /// Whether nothing is trusted.
    pub fn is_empty(&self) -> bool {
        self.log_keys.is_empty() && self.signing_keys.is_empty()
    }

    /// The checkpoint verifier keys of every signing key under `origin`
    /// (a rotation changes the checkpoint key too).
    pub fn with_log_keys_for(mut self, origin: &str) -> TrustRoot {
        for k in &self.signing_keys {
            if let Some(v) = k.verifying_key() {
                let key = note::verifier_key(origin, &v);
                if !self.log_keys.contains(&key) {
                    self.log_keys.push(key);
                }
            }
        }
        self
    }

    fn signing_key(&self, id: &str) -> Option<PublicKey> {
        self.signing_keys.iter().find(|k| k.key_id == id).cloned()
    }
}

/// Which kind of check failed; `generec verify` exits with its code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// The bundle or its manifest could not be read (exit 2).
    Format,
    /// The checkpoint, log entry or inclusion proof (exit 3).
    Log,
    /// The manifest's signature or signing key (exit 4).
    Signature,
    /// The content against its binding (exit 5).
    Content,
}

impl FailureClass {
    /// The exit status `generec verify` uses for this class.
    pub fn exit_code(self) -> u8 {
        match self {
            FailureClass::Format => 2,
            FailureClass::Log => 3,
            FailureClass::Signature => 4,
            FailureClass::Content => 5,
        }
    }
}

/// One check and its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub check: &'static str,
    pub passed: bool,
    /// C2PA-style status code, e.g. `claimSignature.validated`.
    pub status: &'static str,
    pub detail: String,
    pub class: FailureClass,
}

fn result(
    check: &'static str,
    class: FailureClass,
    outcome: Result<(&'static str, String), (&'static str, String)>,
) -> CheckResult {
    let (passed, (status, detail)) = match outcome {
        Ok(v) => (true, v),
        Err(v) => (false, v),
    };
    CheckResult {
        check,
        passed,
        status,
        detail,
        class,
    }
}

/// Parses a bundle; a manifest with a field outside its signed encoding,
/// or any unreadable part, is a failed `bundle.format` check.
pub fn parse_bundle(text: &str) -> Result<AuditBundle, CheckResult> {
    serde_json::from_str(text).map_err(|e| {
        let status = if e.to_string().contains("unknown field") {
            "manifest.malformed"
        } else {
            "bundle.malformed"
        };
        result(
            "bundle.format",
            FailureClass::Format,
            Err((status, format!("not an audit bundle: {e}"))),
        )
    })
}

/// Runs every check of the bundle against what the auditor trusts; later
/// checks still run when an earlier one fails, so the report is complete.
pub fn verify_bundle(b: &AuditBundle, root: &TrustRoot) -> Vec<CheckResult> {
    let checkpoint = check_checkpoint(b, root);
    let mut out = vec![match &checkpoint {
        Ok(cp) => result(
            "checkpoint.signature",
            FailureClass::Log,
            Ok((
                "checkpoint.validated",
                format!("{} at size {}", cp.origin, cp.size),
            )),
        ),
        Err((status, detail)) => result(
            "checkpoint.signature",
            FailureClass::Log,
            Err((status, detail.clone())),
        ),
    }];
    let statuses = manifest::verify(&b.content, &b.manifest, |id| root.signing_key(id));
    let sig = statuses.first().copied().unwrap_or(Status::Malformed);
    let sig_detail = match sig {
        Status::SignatureValidated => format!("signed by pinned key {}", b.manifest.key_id),
        Status::UnknownKey => format!("key {} is not a pinned signing key", b.manifest.key_id),
        Status::KeyNotActive => format!(
            "key {} was not active at {}",
            b.manifest.key_id, b.manifest.created_unix_ms
        ),
        _ => "the signature does not verify".into(),
    };
    out.push(result(
        "manifest.signature",
        FailureClass::Signature,
        if sig == Status::SignatureValidated {
            Ok((sig.code(), sig_detail))
        } else {
            Err((sig.code(), sig_detail))
        },
    ));
    let hash = statuses.get(1).copied().unwrap_or(Status::HashMismatch);
    out.push(result(
        "content.hash",
        FailureClass::Content,
        if hash == Status::HashMatch {
            Ok((hash.code(), "the hard binding is the content's".into()))
        } else {
            Err((hash.code(), "the content is not what was signed".into()))
        },
    ));
    out.push(result(
        "content.invisible",
        FailureClass::Content,
        match watermark::smuggled(&b.content) {
            None => Ok((
                "content.visible",
                "no invisible characters beyond the mark".into(),
            )),
            Some(at) => Err((
                "content.invisibleCharacters",
                format!("invisible characters beyond the mark at byte {at}"),
            )),
        },
    ));
    out.push(result("log.entry", FailureClass::Log, check_entry(b, root)));
    out.push(result(
        "log.inclusion",
        FailureClass::Log,
        match &checkpoint {
            Ok(cp) => check_inclusion(b, cp),
            Err(_) => Err((
                "log.inclusion.unverified",
                "no trusted checkpoint to check against".into(),
            )),
        },
    ));
    out
}

fn check_checkpoint(
    b: &AuditBundle,
    root: &TrustRoot,
) -> Result<Checkpoint, (&'static str, String)> {
    let verifiers: Vec<Verifier> = root
        .log_keys
        .iter()
        .filter_map(|k| note::parse_verifier_key(k).ok())
        .collect();
    if verifiers.is_empty() {
        return Err((
            "checkpoint.untrusted",
            "no pinned log key to check the checkpoint with".into(),
        ));
    }
    let mut last = String::new();
    for v in &verifiers {
        match Checkpoint::verify(&b.checkpoint, v) {
            Ok(cp) => return Ok(cp),
            Err(e) => last = e.to_string(),
        }
    }
    Err((
        "checkpoint.untrusted",
        format!("not signed by a pinned log key ({last})"),
    ))
}

fn check_entry(
    b: &AuditBundle,
    root: &TrustRoot,
) -> Result<(&'static str, String), (&'static str, String)> {
    let e =
        entry::parse_authorship(b.log_entry.as_bytes()).map_err(|e| ("log.entry.malformed", e))?;
    let m = &b.manifest;
    let mut differ = Vec::new();
    for (field, logged, signed) in [
        ("manifest_id", &e.manifest_id, &m.manifest_id),
        ("item_id", &e.item_id, &m.item_id),
        ("content_sha256", &e.content_sha256, &m.hard_binding),
        ("licence", &e.licence, &m.licence),
        ("key_id", &e.key_id, &m.key_id),
    ] {
        if logged != signed {
            differ.push(format!(
                "{field} {logged:?} in the log, {signed:?} in the manifest"
            ));
        }
    }
    if e.origin != "generated" {
        differ.push(format!("origin {:?} in the log", e.origin));
    }
    if e.parents != m.ingredients {
        differ.push("the ingredients differ".into());
    }
    if e.review_index != Some(m.review.log_index) {
        differ.push(format!(
            "review index {:?} in the log, {} in the manifest",
            e.review_index, m.review.log_index
        ));
    }
    if let Some(k) = root.signing_key(&e.key_id)
        && !k.active_at(e.when_unix_ms)
    {
        differ.push(format!(
            "logged at {} when key {} was not active",
            e.when_unix_ms, e.key_id
        ));
    }
    if differ.is_empty() {
        Ok((
            "log.entry.match",
            "the authorship record of this manifest and content".into(),
        ))
    } else {
        Err(("log.entry.mismatch", differ.join("; ")))
    }
}

fn check_inclusion(
    b: &AuditBundle,
    cp: &Checkpoint,
) -> Result<(&'static str, String), (&'static str, String)> {
    let proof: Vec<merkle::Hash> = b
        .inclusion_proof
        .iter()
        .map(|h| {
            hex::decode(h)
                .ok()
                .and_then(|v| <[u8; 32]>::try_from(v).ok())
                .ok_or_else(|| ("log.inclusion.malformed", format!("bad proof hash {h:?}")))
        })
        .collect::<Result<_, _>>()?;
    let ok = merkle::verify_inclusion(
        &merkle::leaf_hash(b.log_entry.as_bytes()),
        b.log_index,
        cp.size,
        &proof,
        &cp.root,
    );
    let detail = format!("entry {} in a tree of {}", b.log_index, cp.size);
    if ok {
        Ok(("log.inclusion.validated", detail))
    } else {
        Err(("log.inclusion.mismatch", detail))
    }
}
