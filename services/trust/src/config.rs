//! Settings of the trust service and opening it from them.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;
use crate::checks::CompileEnv;
use crate::claims::Claims;
use crate::error::TrustError;
use crate::keys::KeyRing;
use crate::provenance::Provenance;
use crate::registry::Registry;
use crate::review::Reviewer;

/// Settings of one trust service.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrustConfig {
    /// Where the registry (sled) keeps its files.
    pub data_dir: PathBuf,
    /// A policy bundle file; the default bundle when unset.
    pub bundle: Option<PathBuf>,
    /// Where bundles' relative data paths (classifier weights, word lists)
    /// resolve: the folder `scripts/fetch-data` fills.
    pub assets_dir: PathBuf,
    /// A file holding the signing key's 32-byte seed (hex); by default a key
    /// is created in `data_dir/keys` on first start, mode 0600.
    pub key_file: Option<PathBuf>,
    /// The transparency log's name: the first line of every checkpoint and
    /// the name its signatures are made under.
    pub log_origin: String,
}

/// An opened trust service: the reviewer and the provenance state.
#[derive(Clone)]
pub struct Trust {
    pub reviewer: Arc<Reviewer>,
    pub provenance: Arc<Provenance>,
    pub claims: Arc<Claims>,
}

impl Default for TrustConfig {
    fn default() -> Self {
        TrustConfig {
            data_dir: PathBuf::from("generec-data/trust"),
            bundle: None,
            assets_dir: PathBuf::from(".data"),
            key_file: None,
            log_origin: "generec.local/trust-log".into(),
        }
    }
}

impl TrustConfig {
    /// Where relative bundle paths resolve.
    pub fn compile_env(&self) -> CompileEnv {
        CompileEnv {
            data_dir: self.assets_dir.clone(),
        }
    }

    /// Loads the configured bundle (or the default one).
    pub fn load_bundle(&self) -> Result<Bundle, TrustError> {
        let env = self.compile_env();
        match &self.bundle {
            Some(path) => Bundle::load(path, &env),
            None => Bundle::default_bundle(&env),
        }
    }

    /// Opens the registry, the keys and the log, and loads the bundle.
    pub fn open(&self) -> Result<Trust, TrustError> {
        if self.log_origin.is_empty()
            || self.log_origin.contains(char::is_whitespace)
            || self.log_origin.contains('+')
        {
            return Err(TrustError::invalid(
                "trust.log_origin",
                "must be non-empty, without spaces or '+'",
            ));
        }
        std::fs::create_dir_all(&self.data_dir)?;
        let registry = Arc::new(Registry::open(&self.data_dir.join("registry"))?);
        let bundle = self.load_bundle()?;
        let keys = KeyRing::open(&self.data_dir.join("keys"), self.key_file.as_deref())
            .map_err(|e| TrustError::invalid("trust.key_file", e.to_string()))?;
        let db = sled::open(self.data_dir.join("provenance"))?;
        let claims = Arc::new(Claims::open(&db)?);
        let provenance = Arc::new(Provenance::open(db, keys, &self.log_origin)?);
        Ok(Trust {
            reviewer: Arc::new(Reviewer::new(bundle, registry, self.compile_env())),
            provenance,
            claims,
        })
    }
}
