//! Signing keys of the trust service: an Ed25519 key created on first
//! start in the data folder (file mode 0600) or loaded from a configured
//! path, a key id derived from each public key, and rotation that keeps
//! every earlier public key so old signatures stay verifiable.
//!
//! Files: `active.key` (the 32-byte secret seed, hex), `public.json` (every
//! public key with its id and when it was created and retired).

use generec_common::now_unix_ms;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;

/// Why the key ring could not be opened or changed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file {path}: {message}")]
    File { path: String, message: String },
    #[error("randomness: {0}")]
    Random(String),
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> KeyError {
    KeyError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

pub use generec_provenance::keys::{PublicKey, key_id};

/// The active signing key and every public key ever used.
pub struct KeyRing {
    dir: PathBuf,
    active: SigningKey,
    public: Vec<PublicKey>,
}

fn write_private(path: &Path, contents: &str) -> Result<(), KeyError> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp).map_err(|e| file_err(&tmp, e))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| file_err(&tmp, e))?;
    f.sync_all().map_err(|e| file_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| file_err(path, e))
}

fn write_public(path: &Path, keys: &[PublicKey]) -> Result<(), KeyError> {
    let tmp = path.with_extension("tmp");
    let text = serde_json::to_string_pretty(keys).map_err(|e| file_err(path, e))?;
    let mut f = std::fs::File::create(&tmp).map_err(|e| file_err(&tmp, e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| file_err(&tmp, e))?;
    f.sync_all().map_err(|e| file_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| file_err(path, e))
}

fn read_seed(path: &Path) -> Result<SigningKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_err(path, e))?;
    let seed: [u8; 32] = hex::decode(text.trim())
        .map_err(|e| file_err(path, e))?
        .try_into()
        .map_err(|_| file_err(path, "expected a 32-byte hex seed"))?;
    Ok(SigningKey::from_bytes(&seed))
}

fn fresh_key() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

impl KeyRing {
    /// Opens the key ring in `dir`, creating a key on first start. With
    /// `key_file`, the active key is read from there instead (and must exist).
    pub fn open(dir: &Path, key_file: Option<&Path>) -> Result<KeyRing, KeyError> {
        std::fs::create_dir_all(dir).map_err(|e| file_err(dir, e))?;
        let active_path = dir.join("active.key");
        let active = match key_file {
            Some(path) => read_seed(path)?,
            None if active_path.exists() => read_seed(&active_path)?,
            None => {
                let key = fresh_key()?;
                write_private(&active_path, &hex::encode(key.to_bytes()))?;
                key
            }
        };
        let public_path = dir.join("public.json");
        let mut public: Vec<PublicKey> = if public_path.exists() {
            let text =
                std::fs::read_to_string(&public_path).map_err(|e| file_err(&public_path, e))?;
            serde_json::from_str(&text).map_err(|e| file_err(&public_path, e))?
        } else {
            Vec::new()
        };
        let id = key_id(&active.verifying_key());
        if !public.iter().any(|k| k.key_id == id) {
            // A configured key file that is not yet listed: it signs from now.
            let now = now_unix_ms();
            for k in public.iter_mut().filter(|k| k.retired_unix_ms == 0) {
                k.retired_unix_ms = now;
            }
            public.push(PublicKey::new(&active.verifying_key(), now, 0));
            write_public(&public_path, &public)?;
        }
        Ok(KeyRing {
            dir: dir.to_path_buf(),
            active,
            public,
        })
    }

    /// The active signing key.
    pub fn active(&self) -> &SigningKey {
        &self.active
    }

    /// The id of the active key.
    pub fn active_id(&self) -> String {
        key_id(&self.active.verifying_key())
    }

    /// Every public key, oldest first.
    pub fn public_keys(&self) -> &[PublicKey] {
        &self.public
    }

    /// The public key with this id, active or retired, with its period.
    pub fn find(&self, id: &str) -> Option<PublicKey> {
        self.public.iter().find(|k| k.key_id == id).cloned()
    }

    /// Replaces the active key by a new one; the old public key stays.
    /// Returns the new key's id.
    pub fn rotate(&mut self) -> Result<String, KeyError> {
        let key = fresh_key()?;
        let now = now_unix_ms();
        let mut public = self.public.clone();
        for k in public.iter_mut().filter(|k| k.retired_unix_ms == 0) {
            k.retired_unix_ms = now;
        }
        let id = key_id(&key.verifying_key());
        public.push(PublicKey::new(&key.verifying_key(), now, 0));
        // Public keys first: a crash in between leaves the old key active
        // and the new one merely announced.
        write_public(&self.dir.join("public.json"), &public)?;
        write_private(&self.dir.join("active.key"), &hex::encode(key.to_bytes()))?;
        self.public = public;
        self.active = key;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, Verifier};

    use super::*;

    #[test]
    fn a_key_is_created_once_with_mode_0600_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let id = KeyRing::open(dir.path(), None).unwrap().active_id();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("active.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = KeyRing::open(dir.path(), None).unwrap();
        assert_eq!(again.active_id(), id);
        assert_eq!(again.public_keys().len(), 1);
        assert!(id.starts_with("ed25519:") && id.len() == "ed25519:".len() + 16);
    }

    #[test]
    fn rotation_keeps_old_signatures_verifiable() {
        let dir = tempfile::tempdir().unwrap();
        let mut ring = KeyRing::open(dir.path(), None).unwrap();
        let old_id = ring.active_id();
        let sig = ring.active().sign(b"manifest");
        let new_id = ring.rotate().unwrap();
        assert_ne!(old_id, new_id);
        let ring = KeyRing::open(dir.path(), None).unwrap();
        assert_eq!(ring.active_id(), new_id);
        let old = ring.find(&old_id).unwrap().verifying_key().unwrap();
        assert!(old.verify(b"manifest", &sig).is_ok());
        let keys = ring.public_keys();
        assert_eq!(keys.len(), 2);
        assert!(keys[0].retired_unix_ms > 0 && keys[1].retired_unix_ms == 0);
    }

    #[test]
    fn a_configured_key_file_is_used_and_a_bad_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.hex");
        std::fs::write(&path, hex::encode([5u8; 32])).unwrap();
        let ring = KeyRing::open(&dir.path().join("ring"), Some(&path)).unwrap();
        assert_eq!(ring.active().to_bytes(), [5u8; 32]);
        std::fs::write(&path, "zz").unwrap();
        let err = KeyRing::open(&dir.path().join("ring2"), Some(&path))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("k.hex"), "{err}");
    }
}
