//! Public signing keys: the key id every manifest and log entry names, and
//! a public key with the period in which it signed.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The id of a public key: `ed25519:` and the first 8 bytes of its SHA-256, hex.
pub fn key_id(key: &VerifyingKey) -> String {
    format!(
        "ed25519:{}",
        hex::encode(&Sha256::digest(key.to_bytes())[..8])
    )
}

/// A public key the trust service has signed with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKey {
    pub key_id: String,
    /// The 32-byte Ed25519 public key, hex.
    pub public_key: String,
    pub created_unix_ms: i64,
    /// When it stopped signing; 0 for the active key.
    #[serde(default)]
    pub retired_unix_ms: i64,
}

impl PublicKey {
    /// A key from its verifying key and when it was active.
    pub fn new(key: &VerifyingKey, created_unix_ms: i64, retired_unix_ms: i64) -> PublicKey {
        PublicKey {
            key_id: key_id(key),
            public_key: hex::encode(key.to_bytes()),
            created_unix_ms,
            retired_unix_ms,
        }
    }

    /// The verifying key, when `public_key` is one and `key_id` is its id.
    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        let bytes: [u8; 32] = hex::decode(&self.public_key).ok()?.try_into().ok()?;
        let key = VerifyingKey::from_bytes(&bytes).ok()?;
        (key_id(&key) == self.key_id).then_some(key)
    }

    /// Whether the key was signing at `when_unix_ms`: created at or before
    /// it, and retired (if at all) at or after it. Both ends are inclusive:
    /// a manifest signed in the millisecond of a rotation, before the
    /// rotation took over, is the old key's.
    pub fn active_at(&self, when_unix_ms: i64) -> bool {
        self.created_unix_ms <= when_unix_ms
            && (self.retired_unix_ms == 0 || when_unix_ms <= self.retired_unix_ms)
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;

    #[test]
    fn a_key_whose_id_does_not_match_is_no_key() {
        let key = SigningKey::from_bytes(&[3; 32]).verifying_key();
        let mut pk = PublicKey::new(&key, 10, 20);
        assert_eq!(pk.verifying_key(), Some(key));
        assert!(pk.key_id.starts_with("ed25519:") && pk.key_id.len() == 24);
        assert!(!pk.active_at(9) && pk.active_at(10) && pk.active_at(20) && !pk.active_at(21));
        pk.retired_unix_ms = 0;
        assert!(pk.active_at(i64::MAX));
        pk.key_id = "ed25519:0000000000000000".into();
        assert_eq!(pk.verifying_key(), None);
    }
}
