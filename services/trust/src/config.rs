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
    /// Page cache of each of the service's two sled databases (registry,
    /// provenance), in MiB. sled's own default is 1 GiB each, which a busy
    /// service fills.
    pub cache_mb: u64,
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
            cache_mb: 16,
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
        if self.cache_mb == 0 || self.cache_mb > 64 * 1024 {
            return Err(TrustError::invalid(
                "trust.cache_mb",
                "must be 1 to 65536 (MiB)",
            ));
        }
        let cache_bytes = self.cache_mb * 1024 * 1024;
        let registry = Arc::new(Registry::open(
            &self.data_dir.join("registry"),
            cache_bytes,
        )?);
        let bundle = self.load_bundle()?;
        let keys = KeyRing::open(&self.data_dir.join("keys"), self.key_file.as_deref())
            .map_err(|e| TrustError::invalid("trust.key_file", e.to_string()))?;
        let db = sled::Config::new()
            .path(self.data_dir.join("provenance"))
            .cache_capacity(cache_bytes)
            .open()?;
        let claims = Arc::new(Claims::open(&db)?);
        let provenance = Arc::new(Provenance::open(db, keys, &self.log_origin)?);
        Ok(Trust {
            reviewer: Arc::new(Reviewer::new(bundle, registry, self.compile_env())),
            provenance,
            claims,
        })
    }
}
