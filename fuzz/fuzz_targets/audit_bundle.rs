//! An audit bundle (and the manifest inside it) from arbitrary bytes:
//! parsing never panics, and verification against a pinned key never
//! passes a bundle that key did not sign.
#![no_main]

use ed25519_dalek::SigningKey;
use generec_provenance::audit::{TrustRoot, parse_bundle, verify_bundle};
use generec_provenance::keys::PublicKey;
use generec_provenance::note;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let key = SigningKey::from_bytes(&[7; 32]);
    let root = TrustRoot {
        log_keys: vec![note::verifier_key("generec.fuzz/log", &key.verifying_key())],
        signing_keys: vec![PublicKey::new(&key.verifying_key(), 0, 0)],
    };
    if let Ok(bundle) = parse_bundle(text) {
        let results = verify_bundle(&bundle, &root);
        // Nobody outside this target holds the key, so no input can pass
        // the signature checks.
        let signed = results.iter().any(|r| {
            r.passed && (r.check == "checkpoint.signature" || r.check == "manifest.signature")
        });
        assert!(!signed, "a bundle passed a signature check: {results:?}");
        let _ = serde_json::to_string(&bundle);
    }
    let _ = serde_json::from_str::<generec_provenance::manifest::Manifest>(text)
        .map(|m| m.canonical_bytes());
});
