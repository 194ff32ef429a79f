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

impl AppConfig {
    /// The folder above the services' data folders, where `generec up`
    /// keeps its tokens.
    pub fn data_root(&self) -> PathBuf {
        self.trust
            .data_dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }
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
    /// Allow serving on a non-loopback address with access control off
    /// (refused otherwise).
    #[arg(long)]
    pub insecure: bool,
}

/// How a client command finds its bearer token.
#[derive(clap::Args, Clone, Debug)]
pub struct TokenArgs {
    /// A bearer token; by default the token of the role the command needs,
    /// read from DATA_DIR/tokens/<role>.token (written by `generec up`).
    #[arg(long, env = "GENEREC_TOKEN")]
    pub token: Option<String>,
    /// The platform's data folder, where `generec up` keeps its tokens.
    #[arg(
        long = "data-dir",
        env = "GENEREC_DATA_DIR",
        default_value = "generec-data"
    )]
    pub data_dir: PathBuf,
}

impl TokenArgs {
    /// The token to present for a call that needs `role`.
    pub fn token(&self, role: generec_common::auth::Role) -> Option<String> {
        crate::tokens::for_role(self.token.as_deref(), &self.data_dir, role)
    }

    /// An interceptor presenting that token.
    pub fn bearer(&self, role: generec_common::auth::Role) -> Result<generec_common::auth::Bearer> {
        Ok(generec_common::auth::Bearer::new(
            self.token(role).as_deref(),
        )?)
    }
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
        if self.insecure {
            cfg.server.insecure = true;
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
