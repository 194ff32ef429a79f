//! What users and claimants register with the trust service, kept in sled
//! and mirrored in memory for the checks:
//!
//! - private attributes of users (a home address, a phone number, a name),
//!   stored only as salted SHA-256 fingerprints of their normalised text, so
//!   the registry can recognise them in generated content without holding
//!   them;
//! - claimed works, as their shingle fingerprints (see
//!   [`crate::checks::copyright`]).
//!
//! The salt is random per deployment, created on first open.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

use crate::checks::copyright::Work;
use crate::error::{TrustError, internal};

/// A fingerprint of one normalised private attribute.
pub type Fingerprint = [u8; 32];

/// Who registered an attribute, and what kind it is (e.g. `address`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttributeOwner {
    pub user_id: String,
    pub kind: String,
}

/// Longest private attribute, in words, that the registry accepts (the
/// cross-user check looks at word windows up to this length).
pub const MAX_ATTRIBUTE_WORDS: usize = 8;
/// Longest attribute value, in bytes.
pub const MAX_ATTRIBUTE_BYTES: usize = 256;
/// Most attributes in one registration.
pub const MAX_ATTRIBUTES_PER_REQUEST: usize = 32;
/// Most attributes one user may hold.
pub const MAX_ATTRIBUTES_PER_USER: usize = 64;

/// Normalises text for fingerprinting: lower case, letters and digits
/// only, words separated by one space.
pub fn normalise(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The registry: see the module docs.
pub struct Registry {
    attributes_tree: sled::Tree,
    first_words_tree: sled::Tree,
    works_tree: sled::Tree,
    db: sled::Db,
    salt: [u8; 32],
    attributes: RwLock<HashMap<Fingerprint, Vec<AttributeOwner>>>,
    /// Fingerprints of the first word of every attribute, so a scan only
    /// expands word windows that can start one.
    first_words: RwLock<HashSet<Fingerprint>>,
    works: RwLock<Arc<Vec<Work>>>,
}

impl Registry {
    /// Opens or creates the registry in `dir`, with a page cache of at
    /// most `cache_bytes`.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Self, TrustError> {
        Self::from_db(
            sled::Config::new()
                .path(dir)
                .cache_capacity(cache_bytes)
                .open()?,
        )
    }

    /// A registry that lives only as long as this process (for reviews
    /// without a server).
    pub fn temporary() -> Result<Self, TrustError> {
        Self::from_db(sled::Config::new().temporary(true).open()?)
    }

    fn from_db(db: sled::Db) -> Result<Self, TrustError> {
        let meta = db.open_tree("meta")?;
        let salt: [u8; 32] = match meta.get("salt")? {
            Some(v) => v
                .as_ref()
                .try_into()
                .map_err(|_| internal("corrupt salt"))?,
            None => {
                let mut salt = [0u8; 32];
                getrandom::fill(&mut salt).map_err(internal)?;
                meta.insert("salt", &salt)?;
                db.flush()?;
                salt
            }
        };
        let attributes_tree = db.open_tree("attributes")?;
        let works_tree = db.open_tree("works")?;
        let first_words_tree = db.open_tree("first_words")?;
        let mut first_words = HashSet::new();
        for entry in first_words_tree.iter() {
            let (k, _) = entry?;
            first_words.insert(
                <Fingerprint>::try_from(k.as_ref()).map_err(|_| internal("corrupt fingerprint"))?,
            );
        }
        let mut attributes: HashMap<Fingerprint, Vec<AttributeOwner>> = HashMap::new();
        for entry in attributes_tree.iter() {
            let (k, v) = entry?;
            let fp: Fingerprint = k[..32]
                .try_into()
                .map_err(|_| internal("corrupt fingerprint"))?;
            let owner: AttributeOwner = serde_json::from_slice(&v).map_err(internal)?;
            attributes.entry(fp).or_default().push(owner);
        }
        let mut works = Vec::new();
        for entry in works_tree.iter() {
            let (_, v) = entry?;
            works.push(serde_json::from_slice::<Work>(&v).map_err(internal)?);
        }
        Ok(Registry {
            attributes_tree,
            first_words_tree,
            first_words: RwLock::new(first_words),
            works_tree,
            db,
            salt,
            attributes: RwLock::new(attributes),
            works: RwLock::new(Arc::new(works)),
        })
    }

    /// The salted fingerprint of already normalised text.
    pub fn fingerprint(&self, normalised: &str) -> Fingerprint {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(normalised.as_bytes());
        h.finalize().into()
    }

    /// Registers private attributes of a user as (kind, value) pairs.
    /// Returns how many were new. Only fingerprints are stored.
    pub fn register_private_attributes(
        &self,
        user_id: &str,
        attributes: &[(String, String)],
    ) -> Result<usize, TrustError> {
        generec_provenance::ids::check_id(user_id)
            .map_err(|e| TrustError::invalid("user_id", e))?;
        if attributes.len() > MAX_ATTRIBUTES_PER_REQUEST {
            return Err(TrustError::invalid(
                "attributes",
                format!(
                    "has {}; the limit is {MAX_ATTRIBUTES_PER_REQUEST} a request",
                    attributes.len()
                ),
            ));
        }
        let mut prepared = Vec::with_capacity(attributes.len());
        for (i, (kind, value)) in attributes.iter().enumerate() {
            if value.len() > MAX_ATTRIBUTE_BYTES {
                return Err(TrustError::invalid(
                    &format!("attributes[{i}].value"),
                    format!(
                        "is {} bytes; the limit is {MAX_ATTRIBUTE_BYTES}",
                        value.len()
                    ),
                ));
            }
            let norm = normalise(value);
            let words = norm.split(' ').filter(|w| !w.is_empty()).count();
            if words == 0 {
                return Err(TrustError::invalid(
                    &format!("attributes[{i}].value"),
                    "has no letters or digits",
                ));
            }
            if words > MAX_ATTRIBUTE_WORDS || norm.len() < 3 {
                return Err(TrustError::invalid(
                    &format!("attributes[{i}].value"),
                    format!("must be 3 characters to {MAX_ATTRIBUTE_WORDS} words long"),
                ));
            }
            generec_provenance::ids::check_name(kind)
                .map_err(|e| TrustError::invalid(&format!("attributes[{i}].kind"), e))?;
            let first = norm.split(' ').next().unwrap_or_default();
            prepared.push((
                self.fingerprint(first),
                self.fingerprint(&norm),
                AttributeOwner {
                    user_id: user_id.to_string(),
                    kind: kind.clone(),
                },
            ));
        }
        let mut batch = sled::Batch::default();
        let mut first_batch = sled::Batch::default();
        let mut map = self
            .attributes
            .write()
            .map_err(|_| internal("lock poisoned"))?;
        let mut firsts = self
            .first_words
            .write()
            .map_err(|_| internal("lock poisoned"))?;
        let held = map
            .values()
            .flatten()
            .filter(|o| o.user_id == user_id)
            .count();
        let new = prepared
            .iter()
            .filter(|(_, fp, owner)| !map.get(fp).is_some_and(|o| o.contains(owner)))
            .count();
        if held + new > MAX_ATTRIBUTES_PER_USER {
            return Err(TrustError::invalid(
                "attributes",
                format!(
                    "would give user {user_id:?} {} attributes; the limit is {MAX_ATTRIBUTES_PER_USER}",
                    held + new
                ),
            ));
        }
        let mut added = 0;
        for (first, fp, owner) in prepared {
            if firsts.insert(first) {
                first_batch.insert(&first, &[]);
            }
            let owners = map.entry(fp).or_default();
            if owners.contains(&owner) {
                continue;
            }
            let mut key = fp.to_vec();
            key.extend_from_slice(user_id.as_bytes());
            key.push(0);
            key.extend_from_slice(owner.kind.as_bytes());
            batch.insert(key, serde_json::to_vec(&owner).map_err(internal)?);
            owners.push(owner);
            added += 1;
        }
        self.attributes_tree.apply_batch(batch)?;
        self.first_words_tree.apply_batch(first_batch)?;
        self.db.flush()?;
        Ok(added)
    }

    /// Who registered an attribute with this fingerprint.
    pub fn owners(&self, fp: &Fingerprint) -> Vec<AttributeOwner> {
        self.attributes
            .read()
            .map(|m| m.get(fp).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Whether some registered attribute starts with the word whose
    /// fingerprint this is.
    pub fn may_start(&self, first_word: &Fingerprint) -> bool {
        self.first_words
            .read()
            .map(|s| s.contains(first_word))
            .unwrap_or(true)
    }

    /// Whether any attribute is registered.
    pub fn has_attributes(&self) -> bool {
        self.attributes
            .read()
            .map(|m| !m.is_empty())
            .unwrap_or(false)
    }

    /// Registers (or replaces) a claimed work.
    pub fn register_work(&self, work: Work) -> Result<(), TrustError> {
        self.works_tree.insert(
            work.id.as_bytes(),
            serde_json::to_vec(&work).map_err(internal)?,
        )?;
        self.db.flush()?;
        let mut works = self.works.write().map_err(|_| internal("lock poisoned"))?;
        let mut next: Vec<Work> = works.iter().filter(|w| w.id != work.id).cloned().collect();
        next.push(work);
        *works = Arc::new(next);
        Ok(())
    }

    /// Removes a claimed work; returns whether it was there.
    pub fn remove_work(&self, id: &str) -> Result<bool, TrustError> {
        let existed = self.works_tree.remove(id.as_bytes())?.is_some();
        self.db.flush()?;
        let mut works = self.works.write().map_err(|_| internal("lock poisoned"))?;
        *works = Arc::new(works.iter().filter(|w| w.id != id).cloned().collect());
        Ok(existed)
    }

    /// The claimed works now registered.
    pub fn works(&self) -> Arc<Vec<Work>> {
        self.works.read().map(|w| w.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_stored_as_salted_fingerprints_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let fp;
        {
            let r = Registry::open(dir.path(), 8 << 20).unwrap();
            let n = r
                .register_private_attributes(
                    "alice",
                    &[("address".into(), "12 Acacia Avenue, Leeds".into())],
                )
                .unwrap();
            assert_eq!(n, 1);
            fp = r.fingerprint(&normalise("12 acacia   AVENUE leeds"));
            assert_eq!(r.owners(&fp)[0].user_id, "alice");
        }
        // Nothing in the files holds the attribute itself.
        for entry in walk(dir.path()) {
            let bytes = std::fs::read(&entry).unwrap();
            assert!(
                !bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"acacia")),
                "{entry:?}"
            );
        }
        let r = Registry::open(dir.path(), 8 << 20).unwrap();
        assert_eq!(r.owners(&fp).len(), 1);
        let other = Registry::temporary().unwrap();
        assert_ne!(
            other.fingerprint("12 acacia avenue leeds"),
            fp,
            "salts differ per deployment"
        );
    }

    fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p))
            } else {
                out.push(p)
            }
        }
        out
    }

    #[test]
    fn bad_attributes_are_refused_by_field() {
        let r = Registry::temporary().unwrap();
        let err = r
            .register_private_attributes("u", &[("name".into(), "!!".into())])
            .unwrap_err();
        assert!(err.to_string().contains("attributes[0].value"), "{err}");
        let err = r.register_private_attributes("", &[]).unwrap_err();
        assert!(err.to_string().contains("user_id"));
    }
}
