//! `generec verify` on real audit bundles: a genuine one passes, and each
//! kind of tampering fails with a non-zero exit naming the failed check.

use std::process::Command;

use generec_trust::audit::AuditBundle;
use generec_trust::finding::Action;
use generec_trust::keys::KeyRing;
use generec_trust::provenance::{CertifyRequest, Provenance};
use generec_trust::review::Outcome;

fn genuine_bundle(dir: &std::path::Path) -> AuditBundle {
    let db = sled::open(dir.join("db")).unwrap();
    let keys = KeyRing::open(&dir.join("keys"), None).unwrap();
    let p = Provenance::open(db, keys, "generec.test/log").unwrap();
    let text = "A short, calm summary of this week's science news, grounded in three articles.";
    let allow = Outcome {
        verdict: Action::Allow,
        findings: vec![],
        redacted_text: None,
        bundle_hash: "00".repeat(32),
        bundle_version: "v".into(),
    };
    p.record_review(text, "u1", &allow).unwrap();
    let c = p
        .certify(&CertifyRequest {
            item_id: "gen-9".into(),
            content: text.into(),
            creator: "feed".into(),
            ..Default::default()
        })
        .unwrap();
    p.record_review("something else", "u2", &allow).unwrap();
    let (cp, signed) = p.checkpoint().unwrap();
    let (keys, vkey) = p.public_keys().unwrap();
    AuditBundle {
        content: c.content,
        manifest: c.manifest,
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

fn run_verify(dir: &std::path::Path, bundle: &AuditBundle) -> (bool, String) {
    let path = dir.join("bundle.json");
    std::fs::write(&path, serde_json::to_string(bundle).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_generec"))
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_genuine_bundle_passes_and_each_tampering_fails_naming_its_check() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = genuine_bundle(dir.path());
    let (ok, text) = run_verify(dir.path(), &bundle);
    assert!(ok, "{text}");
    assert!(text.contains("all 5 checks passed"), "{text}");

    let mut content = bundle.clone();
    content.content = content.content.replace("calm", "alarming");
    let mut manifest = bundle.clone();
    manifest.manifest.generator.name = "someone-else".into();
    let mut checkpoint = bundle.clone();
    checkpoint.checkpoint = checkpoint.checkpoint.replacen('\n', "x\n", 1);
    let mut proof = bundle.clone();
    proof.inclusion_proof[0] = "00".repeat(32);
    let mut entry = bundle.clone();
    entry.log_index += 1;
    let mut key = bundle.clone();
    key.public_keys[0].key_id = "ed25519:ffffffffffffffff".into();
    for (tampered, check) in [
        (content, "content.hash"),
        (manifest, "manifest.signature"),
        (checkpoint, "checkpoint.signature"),
        (proof, "log.inclusion"),
        (entry, "log.inclusion"),
        (key, "manifest.signature"),
    ] {
        let (ok, text) = run_verify(dir.path(), &tampered);
        assert!(!ok, "tampering with {check} passed: {text}");
        assert!(
            text.contains(&format!("verification failed: {check}")),
            "{check} not named: {text}"
        );
    }
}
