//! The configuration file of a generec process: server settings and one
//! section per service. Flags override the file; the file overrides the
//! embedded defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use generec_common::auth::AuthConfig;
use generec_common::config::{ServerConfig, load_toml};
use generec_corpus::CorpusConfig;
use generec_generation::config::GenerationConfig;
use generec_trust::TrustConfig;
use serde::Deserialize;

/// Everything a generec process can be configured with.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    pub server: ServerConfig,
    pub corpus: CorpusConfig,
    pub trust: TrustConfig,
    pub generation: GenerationConfig,
    pub feed: generec_feed::FeedConfig,
    /// Bearer tokens and roles; none means access control is off.
    pub auth: AuthConfig,
}

/// Flags shared by the commands that start services.
#[derive(clap::Args, Clone, Debug)]
pub struct ServeFlags {
    /// A TOML configuration file (see deploy/generec.toml).
    #[arg(long, env = "GENEREC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (overrides the file).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Folder for the services' data: the corpus in DIR/corpus, the trust
    /// registry in DIR/trust (overrides the file).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// A trust policy bundle (TOML); the default bundle when unset.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
}

impl ServeFlags {
    /// The file's configuration with the flags applied.
    pub fn resolve(&self) -> Result<AppConfig> {
        let mut cfg: AppConfig = match &self.config {
            Some(path) => load(path)?,
            None => AppConfig::default(),
        };
        if let Some(listen) = self.listen {
            cfg.server.listen = listen;
        }
        if let Some(dir) = &self.data_dir {
            cfg.corpus.data_dir = dir.join("corpus");
            cfg.trust.data_dir = dir.join("trust");
        }
        if let Some(bundle) = &self.bundle {
            cfg.trust.bundle = Some(bundle.clone());
        }
        Ok(cfg)
    }
}

fn load(path: &Path) -> Result<AppConfig> {
    load_toml(path).with_context(|| format!("loading {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_deploy_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/generec.toml");
        let cfg = load(&path).unwrap();
        assert_eq!(cfg.server.listen.port(), 50051);
        // The file documents the defaults.
        assert_eq!(
            cfg.generation,
            generec_generation::config::GenerationConfig::default()
        );
        assert_eq!(cfg.feed, generec_feed::FeedConfig::default());
    }
}
