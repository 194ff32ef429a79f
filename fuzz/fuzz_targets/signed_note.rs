//! Signed notes, checkpoints and verifier keys from arbitrary text: no
//! panic, and no note verifies under a key that did not sign it.
#![no_main]

use ed25519_dalek::SigningKey;
use generec_provenance::note::{self, Checkpoint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = note::parse_verifier_key(text);
    let _ = Checkpoint::parse(text);
    let key = SigningKey::from_bytes(&[9; 32]);
    let verifier = note::parse_verifier_key(&note::verifier_key(
        "generec.fuzz/log",
        &key.verifying_key(),
    ))
    .expect("own key parses");
    assert!(
        note::verify(text, &verifier).is_err(),
        "an unsigned note verified"
    );
    assert!(Checkpoint::verify(text, &verifier).is_err());
    // What we sign verifies, whatever the body.
    if let Ok(signed) = note::sign(text, "generec.fuzz/log", &key) {
        assert!(note::verify(&signed, &verifier).is_ok());
    }
});
