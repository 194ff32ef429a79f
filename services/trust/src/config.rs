//! Settings of the trust service and opening it from them.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;
use crate::checks::CompileEnv;
use crate::error::TrustError;
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
}

impl Default for TrustConfig {
    fn default() -> Self {
        TrustConfig {
            data_dir: PathBuf::from("generec-data/trust"),
            bundle: None,
            assets_dir: PathBuf::from(".data"),
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

    /// Opens the registry and loads the bundle.
    pub fn open(&self) -> Result<Arc<Reviewer>, TrustError> {
        std::fs::create_dir_all(&self.data_dir)?;
        let registry = Arc::new(Registry::open(&self.data_dir.join("registry"))?);
        let bundle = self.load_bundle()?;
        Ok(Arc::new(Reviewer::new(
            bundle,
            registry,
            self.compile_env(),
        )))
    }
}
