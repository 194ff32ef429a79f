//! `generec verify` on real audit bundles, against keys the auditor pinned:
//! a genuine bundle passes; every tampering and every forgery, including
//! one made end to end with a foreign key, fails with the check named, its
//! status code, and the exit status of its class.

use std::path::{Path, PathBuf};
use std::process::Command;

use ed25519_dalek::SigningKey;
use generec_provenance::audit::{AuditBundle, TrustRoot};
use generec_provenance::keys::key_id;
use generec_trust::checks::ReviewContext;
use generec_trust::finding::Action;
use generec_trust::keys::KeyRing;
use generec_trust::provenance::{Certified, CertifyRequest, Provenance};
use generec_trust::review::Outcome;

const ORIGIN: &str = "generec.test/log";
const TEXT: &str = "A short, calm summary of this week's science news, grounded in three articles.";

fn open(dir: &Path) -> Provenance {
    let db = sled::open(dir.join("db")).unwrap();
    let keys = KeyRing::open(&dir.join("keys"), None).unwrap();
    Provenance::open(db, keys, ORIGIN).unwrap()
}

fn certify(p: &Provenance, text: &str) -> Certified {
    let allow = Outcome {
        verdict: Action::Allow,
        findings: vec![],
        redacted_text: None,
        bundle_hash: "00".repeat(32),
        bundle_version: "v".into(),
        licence: "CC-BY-4.0".into(),
        made_from: vec![],
        scores: Default::default(),
    };
    p.record_review(text, &ReviewContext::created_for("u1"), &allow)
        .unwrap();
    let c = p
        .certify(&CertifyRequest {
            item_id: "gen-9".into(),
            content: text.into(),
            creator: "feed".into(),
            creator_id: "generec".into(),
            licence: "CC-BY-4.0".into(),
            ..Default::default()
        })
        .unwrap();
    p.record_review("something else", &ReviewContext::created_for("u2"), &allow)
        .unwrap();
    c
}

fn bundle(p: &Provenance, c: &Certified) -> AuditBundle {
    let (cp, signed) = p.checkpoint().unwrap();
    let (keys, vkey) = p.public_keys().unwrap();
    AuditBundle {
        content: c.content.clone(),
        manifest: c.manifest.clone(),
        log_index: c.log_index,
        log_entry: String::from_utf8(p.log().entry(c.log_index).unwrap().unwrap()).unwrap(),
        inclusion_proof: p
            .log()
            .inclusion_proof(c.log_index, cp.size)
            .unwrap()
            .iter()
            .map(hex::encode)
            .collect(),
        checkpoint: signed,
        checkpoint_verifier_key: vkey,
        public_keys: keys,
    }
}

fn active_seed(dir: &Path) -> SigningKey {
    let text = std::fs::read_to_string(dir.join("keys/active.key")).unwrap();
    let seed: [u8; 32] = hex::decode(text.trim()).unwrap().try_into().unwrap();
    SigningKey::from_bytes(&seed)
}

struct Run {
    code: i32,
    text: String,
}

fn write(dir: &Path, name: &str, json: String) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, json).unwrap();
    path
}

fn run_verify(dir: &Path, bundle: &str, args: &[&str]) -> Run {
    let path = write(dir, "bundle.json", bundle.to_string());
    let out = Command::new(env!("CARGO_BIN_EXE_generec"))
        .arg("verify")
        .args(args)
        .arg(&path)
        .env_remove("GENEREC_TRUST_ROOT")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn pinned(dir: &Path, p: &Provenance) -> String {
    let root = p.trust_root().unwrap();
    write(dir, "root.json", serde_json::to_string(&root).unwrap())
        .display()
        .to_string()
}

fn expect_failure(dir: &Path, root: &str, b: &AuditBundle, check: &str, status: &str, code: i32) {
    let run = run_verify(
        dir,
        &serde_json::to_string(b).unwrap(),
        &["--trust-root", root],
    );
    assert_eq!(run.code, code, "{check}: {}", run.text);
    assert!(
        run.text
            .contains(&format!("verification failed: {check} ({status})")),
        "{check} ({status}) not named: {}",
        run.text
    );
}

#[test]
fn a_genuine_bundle_passes_only_against_pinned_keys() {
    let dir = tempfile::tempdir().unwrap();
    let p = open(dir.path());
    let b = serde_json::to_string(&bundle(&p, &certify(&p, TEXT))).unwrap();
    let root = pinned(dir.path(), &p);

    let run = run_verify(dir.path(), &b, &["--trust-root", &root]);
    assert_eq!(run.code, 0, "{}", run.text);
    assert!(run.text.contains("all 6 checks passed"), "{}", run.text);

    // No keys from the auditor: refused, not trusted from the bundle.
    let run = run_verify(dir.path(), &b, &[]);
    assert_eq!(run.code, 1, "{}", run.text);
    assert!(run.text.contains("no trusted keys"), "{}", run.text);

    // Trusting the bundle's own keys works only when asked, with a warning.
    let run = run_verify(dir.path(), &b, &["--trust-bundle-keys"]);
    assert_eq!(run.code, 0, "{}", run.text);
    assert!(
        run.text.contains("warning: --trust-bundle-keys"),
        "{}",
        run.text
    );

    // The same keys given one by one.
    let keys = write(
        dir.path(),
        "keys.json",
        serde_json::to_string(&p.public_keys().unwrap().0).unwrap(),
    );
    let log_key = p.public_keys().unwrap().1;
    let run = run_verify(
        dir.path(),
        &b,
        &[
            "--log-key",
            &log_key,
            "--trusted-keys",
            keys.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.text);

    let run = run_verify(dir.path(), &b, &["--trust-root", &root, "--json"]);
    let report: serde_json::Value = serde_json::from_str(run.text.trim()).unwrap();
    assert_eq!(report["passed"], true);
    assert_eq!(report["checks"].as_array().unwrap().len(), 6);
}

#[test]
fn a_bundle_forged_end_to_end_with_a_foreign_key_fails() {
    let dir = tempfile::tempdir().unwrap();
    let genuine = open(&dir.path().join("platform"));
    certify(&genuine, "Something the platform really made and logged.");
    let root = pinned(dir.path(), &genuine);
    // The attacker runs their own log with the real origin and their own key.
    let attacker = open(&dir.path().join("attacker"));
    let forged = bundle(&attacker, &certify(&attacker, TEXT));
    // Every check passes against the attacker's own keys...
    let run = run_verify(
        dir.path(),
        &serde_json::to_string(&forged).unwrap(),
        &["--trust-bundle-keys"],
    );
    assert_eq!(run.code, 0, "{}", run.text);
    // ...and the bundle fails against the platform's pinned keys.
    expect_failure(
        dir.path(),
        &root,
        &forged,
        "checkpoint.signature",
        "checkpoint.untrusted",
        3,
    );
    let run = run_verify(
        dir.path(),
        &serde_json::to_string(&forged).unwrap(),
        &["--trust-root", &root],
    );
    assert!(
        run.text.contains("signingCredential.untrusted"),
        "{}",
        run.text
    );
}

#[test]
fn each_tampering_fails_naming_its_check_status_and_class() {
    let dir = tempfile::tempdir().unwrap();
    let p = open(dir.path());
    let c = certify(&p, TEXT);
    let genuine = bundle(&p, &c);
    let root = pinned(dir.path(), &p);
    let old_key = active_seed(dir.path());

    let mut content = genuine.clone();
    content.content = content.content.replace("calm", "alarming");
    expect_failure(
        dir.path(),
        &root,
        &content,
        "content.hash",
        "assertion.dataHash.mismatch",
        5,
    );

    // 124 extra variation selectors (a hidden payload) beside the mark.
    let mut smuggled = genuine.clone();
    smuggled.content.push_str(&"\u{E0150}".repeat(124));
    expect_failure(
        dir.path(),
        &root,
        &smuggled,
        "content.hash",
        "assertion.dataHash.mismatch",
        5,
    );
    let run = run_verify(
        dir.path(),
        &serde_json::to_string(&smuggled).unwrap(),
        &["--trust-root", &root],
    );
    assert!(
        run.text.contains("content.invisibleCharacters"),
        "{}",
        run.text
    );

    let mut field = genuine.clone();
    field.manifest.generator.name = "someone-else".into();
    expect_failure(
        dir.path(),
        &root,
        &field,
        "manifest.signature",
        "claimSignature.mismatch",
        4,
    );

    let mut checkpoint = genuine.clone();
    checkpoint.checkpoint = checkpoint.checkpoint.replacen('\n', "x\n", 1);
    expect_failure(
        dir.path(),
        &root,
        &checkpoint,
        "checkpoint.signature",
        "checkpoint.untrusted",
        3,
    );

    let mut proof = genuine.clone();
    proof.inclusion_proof[0] = "00".repeat(32);
    expect_failure(
        dir.path(),
        &root,
        &proof,
        "log.inclusion",
        "log.inclusion.mismatch",
        3,
    );

    let mut index = genuine.clone();
    index.log_index += 1;
    expect_failure(
        dir.path(),
        &root,
        &index,
        "log.inclusion",
        "log.inclusion.mismatch",
        3,
    );

    // Re-signed with another key that the bundle lists: the bundle's keys
    // are not trusted.
    let other = SigningKey::from_bytes(&[9; 32]);
    let mut resigned = genuine.clone();
    resigned.manifest.key_id = key_id(&other.verifying_key());
    resigned.manifest.sign(&other);
    resigned
        .public_keys
        .push(generec_provenance::keys::PublicKey::new(
            &other.verifying_key(),
            0,
            0,
        ));
    expect_failure(
        dir.path(),
        &root,
        &resigned,
        "manifest.signature",
        "signingCredential.untrusted",
        4,
    );

    // A field outside the signed encoding: the manifest does not parse.
    let mut json: serde_json::Value = serde_json::to_value(&genuine).unwrap();
    json["manifest"]["note"] = "unsigned".into();
    let run = run_verify(dir.path(), &json.to_string(), &["--trust-root", &root]);
    assert_eq!(run.code, 2, "{}", run.text);
    assert!(
        run.text
            .contains("verification failed: bundle.format (manifest.malformed)"),
        "{}",
        run.text
    );

    // After a rotation: the old key, retired, cannot sign new manifests...
    p.rotate_key().unwrap();
    let root = pinned(dir.path(), &p);
    let mut late = genuine.clone();
    late.manifest.created_unix_ms = generec_common::now_unix_ms() + 1;
    late.manifest.sign(&old_key);
    expect_failure(
        dir.path(),
        &root,
        &late,
        "manifest.signature",
        "signingCredential.expired",
        4,
    );
    // ...and a manifest re-signed by the new (pinned, active) key does not
    // match the log entry, which names the key that really signed.
    let new_key = active_seed(dir.path());
    let mut swapped = genuine.clone();
    swapped.manifest.key_id = key_id(&new_key.verifying_key());
    swapped.manifest.created_unix_ms = generec_common::now_unix_ms() + 1;
    swapped.manifest.sign(&new_key);
    expect_failure(
        dir.path(),
        &root,
        &swapped,
        "log.entry",
        "log.entry.mismatch",
        3,
    );
    // The genuine bundle still verifies after the rotation.
    let run = run_verify(
        dir.path(),
        &serde_json::to_string(&genuine).unwrap(),
        &["--trust-root", &root],
    );
    assert_eq!(run.code, 0, "{}", run.text);
    let root: TrustRoot =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("root.json")).unwrap())
            .unwrap();
    assert_eq!(root.signing_keys.len(), 2);
}
