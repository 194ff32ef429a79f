//! Signed checkpoints in the C2SP formats: a `tlog-checkpoint` body (origin
//! line, tree size, base64 root hash) signed as a `signed-note` with
//! Ed25519.
//!
//! A note's signature line is `— <key name> <base64(key id || signature)>`,
//! where the key id is the first four bytes of SHA-256(key name || 0x0A ||
//! 0x01 || public key) and the signature covers the note text up to and
//! including its final newline. A verifier key is written
//! `<name>+<hex key id>+<base64(0x01 || public key)>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// The signature type byte of Ed25519 in signed notes.
const ED25519: u8 = 0x01;

/// Why a note or key could not be read or verified.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed note: {0}")]
    Malformed(String),
    #[error("malformed verifier key: {0}")]
    BadKey(String),
    #[error("no signature by key {0}")]
    NotSigned(String),
    #[error("the signature by key {0} does not verify")]
    BadSignature(String),
}

/// The 4-byte id of an Ed25519 key under `name`.
pub fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ED25519]);
    h.update(public.to_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The verifier key string of `public` under `name`.
pub fn verifier_key(name: &str, public: &VerifyingKey) -> String {
    let mut bytes = vec![ED25519];
    bytes.extend_from_slice(&public.to_bytes());
    format!(
        "{name}+{}+{}",
        hex::encode(key_id(name, public)),
        B64.encode(bytes)
    )
}

/// A parsed verifier key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    pub name: String,
    pub id: [u8; 4],
    pub key: VerifyingKey,
}

/// Parses a verifier key string and checks that its id matches its key.
pub fn parse_verifier_key(text: &str) -> Result<Verifier, NoteError> {
    // The name holds no '+', the id is hex; the base64 key may hold '+'.
    let mut parts = text.trim().splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::BadKey(
            "expected <name>+<hex id>+<base64 key>".into(),
        ));
    };
    if name.is_empty() || name.contains(char::is_whitespace) || name.contains('+') {
        return Err(NoteError::BadKey(format!("bad key name {name:?}")));
    }
    let bytes = B64
        .decode(key)
        .map_err(|e| NoteError::BadKey(e.to_string()))?;
    if bytes.len() != 33 || bytes[0] != ED25519 {
        return Err(NoteError::BadKey("not an Ed25519 key".into()));
    }
    let raw: [u8; 32] = bytes[1..]
        .try_into()
        .map_err(|_| NoteError::BadKey("bad length".into()))?;
    let key = VerifyingKey::from_bytes(&raw).map_err(|e| NoteError::BadKey(e.to_string()))?;
    let expected = key_id(name, &key);
    if hex::encode(expected) != id.to_ascii_lowercase() {
        return Err(NoteError::BadKey(format!(
            "key id {id} does not match the key"
        )));
    }
    Ok(Verifier {
        name: name.to_string(),
        id: expected,
        key,
    })
}

/// Signs note `text` (which must end with a newline) and returns the whole
/// signed note.
pub fn sign(text: &str, name: &str, key: &SigningKey) -> Result<String, NoteError> {
    if !text.ends_with('\n') || text.contains("\n\n") {
        return Err(NoteError::Malformed(
            "the text must end with one newline and hold no blank line".into(),
        ));
    }
    let signature = key.sign(text.as_bytes());
    let mut blob = key_id(name, &key.verifying_key()).to_vec();
    blob.extend_from_slice(&signature.to_bytes());
    Ok(format!("{text}\n\u{2014} {name} {}\n", B64.encode(blob)))
}

/// Splits a signed note into its text and signature lines.
fn split(note: &str) -> Result<(&str, Vec<&str>), NoteError> {
    let at = note
        .rfind("\n\n")
        .ok_or_else(|| NoteError::Malformed("no blank line before the signatures".into()))?;
    let (text, sigs) = (&note[..at + 1], &note[at + 2..]);
    if !sigs.ends_with('\n') {
        return Err(NoteError::Malformed(
            "the signatures must end with a newline".into(),
        ));
    }
    let lines: Vec<&str> = sigs.lines().collect();
    if lines.is_empty() {
        return Err(NoteError::Malformed("no signature lines".into()));
    }
    Ok((text, lines))
}

/// Verifies a signed note against a verifier key and returns its text.
pub fn verify<'a>(note: &'a str, verifier: &Verifier) -> Result<&'a str, NoteError> {
    let (text, lines) = split(note)?;
    for line in lines {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return Err(NoteError::Malformed(format!("bad signature line {line:?}")));
        };
        let Some((name, sig)) = rest.rsplit_once(' ') else {
            return Err(NoteError::Malformed(format!("bad signature line {line:?}")));
        };
        if name != verifier.name {
            continue;
        }
        let blob = B64
            .decode(sig)
            .map_err(|e| NoteError::Malformed(e.to_string()))?;
        if blob.len() != 68 || blob[..4] != verifier.id {
            continue;
        }
        let signature =
            Signature::from_slice(&blob[4..]).map_err(|e| NoteError::Malformed(e.to_string()))?;
        return verifier
            .key
            .verify_strict(text.as_bytes(), &signature)
            .map(|()| text)
            .map_err(|_| NoteError::BadSignature(verifier.name.clone()));
    }
    Err(NoteError::NotSigned(verifier.name.clone()))
}

/// A tlog checkpoint: which log, how many entries, and the tree head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The checkpoint body as note text.
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses a checkpoint body (extension lines after the third are kept
    /// out of the result).
    pub fn parse(text: &str) -> Result<Checkpoint, NoteError> {
        let mut lines = text.lines();
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| NoteError::Malformed("no origin line".into()))?;
        let size = lines
            .next()
            .and_then(|l| {
                if l.len() > 1 && l.starts_with('0') {
                    None
                } else {
                    l.parse::<u64>().ok()
                }
            })
            .ok_or_else(|| NoteError::Malformed("bad tree size line".into()))?;
        let root = lines
            .next()
            .and_then(|l| B64.decode(l).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| NoteError::Malformed("bad root hash line".into()))?;
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
        })
    }

    /// Signs the checkpoint as a note.
    pub fn sign(&self, name: &str, key: &SigningKey) -> Result<String, NoteError> {
        sign(&self.to_text(), name, key)
    }

    /// Verifies a signed checkpoint note and parses it.
    pub fn verify(note: &str, verifier: &Verifier) -> Result<Checkpoint, NoteError> {
        Checkpoint::parse(verify(note, verifier)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn a_signed_checkpoint_round_trips_and_verifies() {
        let k = key(7);
        let cp = Checkpoint {
            origin: "generec.example/log".into(),
            size: 42,
            root: [9; 32],
        };
        let note = cp.sign("generec.example/log", &k).unwrap();
        assert!(note.starts_with("generec.example/log\n42\n"));
        assert!(note.contains("\n\n\u{2014} generec.example/log "));
        let v =
            parse_verifier_key(&verifier_key("generec.example/log", &k.verifying_key())).unwrap();
        assert_eq!(Checkpoint::verify(&note, &v).unwrap(), cp);
    }

    #[test]
    fn tampered_notes_and_other_keys_are_refused() {
        let k = key(7);
        let cp = Checkpoint {
            origin: "o".into(),
            size: 3,
            root: [1; 32],
        };
        let note = cp.sign("o", &k).unwrap();
        let v = parse_verifier_key(&verifier_key("o", &k.verifying_key())).unwrap();
        let forged = note.replacen("\n3\n", "\n4\n", 1);
        assert_eq!(
            Checkpoint::verify(&forged, &v),
            Err(NoteError::BadSignature("o".into()))
        );
        let other = parse_verifier_key(&verifier_key("o", &key(8).verifying_key())).unwrap();
        assert_eq!(
            Checkpoint::verify(&note, &other),
            Err(NoteError::NotSigned("o".into()))
        );
        assert!(matches!(
            Checkpoint::verify("no blank line", &v),
            Err(NoteError::Malformed(_))
        ));
    }

    #[test]
    fn verifier_keys_with_a_wrong_id_are_refused() {
        let k = key(1);
        let good = verifier_key("name", &k.verifying_key());
        assert!(parse_verifier_key(&good).is_ok());
        let parts: Vec<&str> = good.split('+').collect();
        let bad = format!("{}+00000000+{}", parts[0], parts[2]);
        assert!(matches!(
            parse_verifier_key(&bad),
            Err(NoteError::BadKey(_))
        ));
        assert!(parse_verifier_key("garbage").is_err());
    }

    #[test]
    fn key_ids_follow_the_signed_note_definition() {
        // key id = SHA-256(name || "\n" || 0x01 || public key)[..4]
        let k = key(3);
        let mut h = Sha256::new();
        h.update(b"PeterNeumann\n\x01");
        h.update(k.verifying_key().to_bytes());
        assert_eq!(
            key_id("PeterNeumann", &k.verifying_key()),
            h.finalize()[..4]
        );
    }

    // Known answers from golang.org/x/mod/sumdb/note and the C2SP
    // signed-note specification: a note signed by another implementation
    // verifies here, and the same key signs the same bytes here.
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const GO_SIG: &str = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";
    const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    #[test]
    fn notes_signed_by_other_implementations_verify_and_ours_match_them_byte_for_byte() {
        let go_note = format!("{GO_TEXT}\n\u{2014} PeterNeumann {GO_SIG}\n");
        let v = parse_verifier_key(GO_VKEY).unwrap();
        assert_eq!(hex::encode(v.id), "c74f20a3");
        assert_eq!(verify(&go_note, &v).unwrap(), GO_TEXT);
        let seed = B64.decode(GO_SKEY.splitn(5, '+').nth(4).unwrap()).unwrap();
        assert_eq!(seed[0], ED25519);
        let key = SigningKey::from_bytes(&seed[1..].try_into().unwrap());
        assert_eq!(verifier_key("PeterNeumann", &key.verifying_key()), GO_VKEY);
        assert_eq!(sign(GO_TEXT, "PeterNeumann", &key).unwrap(), go_note);

        let spec = parse_verifier_key(SPEC_VKEY).unwrap();
        assert_eq!(
            verify(SPEC_NOTE, &spec).unwrap(),
            "This is an example message.\n"
        );
        let tampered = SPEC_NOTE.replace("example message", "exemplary message");
        assert_eq!(
            verify(&tampered, &spec),
            Err(NoteError::BadSignature("example.com/foo".into()))
        );
    }
}
