//! Policy bundles: a versioned TOML file that says which categories are
//! checked, the action and minimum score for each, and each policy's
//! patterns, lists and thresholds.
//!
//! A bundle is validated and compiled as a whole when it is loaded: no
//! actions at all, an unknown category, a bad regex or a missing data file
//! refuses the bundle with an error that says why, and whoever was using the
//! previous bundle keeps it. Every outcome records the hash (SHA-256 of the
//! file's bytes) and version of the bundle that decided it.
//!
//! ```toml
//! version = "house-rules-7"
//! on_error = "review"          # what a check failure does: review or block
//!
//! [actions]
//! "privacy.email" = { action = "redact", min_score = 0.5 }
//! "safety.hate"   = { action = "block" }
//!
//! [privacy]                    # each policy's own settings, see checks::*
//! allow = ["press@example.org"]
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::checks::{self, Check, CompileEnv};
use crate::error::TrustError;
use crate::finding::{Action, Category, Policy};

/// The bundle that ships with the service.
pub const DEFAULT_BUNDLE: &str = include_str!("../bundles/default.toml");

/// What a category's findings do.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRule {
    pub action: Action,
    /// Findings scoring below this are dropped.
    #[serde(default = "default_min_score")]
    pub min_score: f32,
}

fn default_min_score() -> f32 {
    0.5
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleFile {
    version: String,
    #[serde(default)]
    description: String,
    #[serde(default = "default_on_error")]
    on_error: Action,
    #[serde(default)]
    actions: BTreeMap<String, ActionRule>,
    #[serde(default)]
    privacy: checks::privacy::Config,
    #[serde(default)]
    safety: checks::safety::Config,
    #[serde(default)]
    bias: checks::bias::Config,
    #[serde(default)]
    authenticity: checks::authenticity::Config,
    #[serde(default)]
    copyright: checks::copyright::Config,
}

fn default_on_error() -> Action {
    Action::Review
}

/// A validated, compiled bundle.
pub struct Bundle {
    pub version: String,
    pub description: String,
    /// Hex SHA-256 of the bundle file's bytes.
    pub hash: String,
    /// The verdict's floor when a check fails: review or block.
    pub on_error: Action,
    pub rules: HashMap<Category, ActionRule>,
    pub(crate) checks: Vec<Box<dyn Check>>,
    /// What generated content may take from its sources, and the licence
    /// it gets (`[copyright.licence]`).
    pub licence: generec_licence::Policy,
    /// The `[authenticity]` rules, for the spans each ingredient of
    /// generated content supports.
    pub(crate) support: Option<checks::authenticity::Compiled>,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("version", &self.version)
            .field("hash", &self.hash)
            .field("categories", &self.rules.len())
            .finish()
    }
}

impl Bundle {
    /// Parses, validates and compiles bundle text; `origin` names it in
    /// errors; relative data paths resolve against `env`.
    pub fn parse(text: &str, origin: &str, env: &CompileEnv) -> Result<Bundle, TrustError> {
        let file: BundleFile =
            toml::from_str(text).map_err(|e| TrustError::bundle(format!("{origin}: {e}")))?;
        if file.version.trim().is_empty() {
            return Err(TrustError::bundle(format!(
                "{origin}: version must not be empty"
            )));
        }
        if !matches!(file.on_error, Action::Review | Action::Block) {
            return Err(TrustError::bundle(format!(
                "{origin}: on_error must be review or block (fail closed), not {}",
                file.on_error.as_str()
            )));
        }
        if file.actions.is_empty() {
            return Err(TrustError::bundle(format!(
                "{origin}: the bundle has no policies: [actions] names no category"
            )));
        }
        let mut rules = HashMap::new();
        for (name, rule) in &file.actions {
            let category = Category::from_name(name).ok_or_else(|| {
                TrustError::bundle(format!(
                    "{origin}: unknown category {name:?} in [actions]; known: {}",
                    Category::ALL
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            if category == Category::InternalError {
                return Err(TrustError::bundle(format!(
                    "{origin}: internal.error is set by on_error, not in [actions]"
                )));
            }
            if !(0.0..=1.0).contains(&rule.min_score) {
                return Err(TrustError::bundle(format!(
                    "{origin}: min_score of {name} must lie in [0, 1], got {}",
                    rule.min_score
                )));
            }
            rules.insert(category, *rule);
        }
        let uses = |policy: Policy| rules.keys().any(|c| c.policy() == policy);
        let in_section = |policy: Policy, e: TrustError| match e {
            TrustError::Bundle(m) => {
                TrustError::bundle(format!("{origin}: [{}] {m}", policy.as_str()))
            }
            other => TrustError::bundle(format!("{origin}: [{}] {other}", policy.as_str())),
        };
        let mut compiled: Vec<Box<dyn Check>> = Vec::new();
        if uses(Policy::Privacy) {
            compiled.push(Box::new(
                checks::privacy::Compiled::compile(&file.privacy, env)
                    .map_err(|e| in_section(Policy::Privacy, e))?,
            ));
        }
        if uses(Policy::Safety) {
            compiled.push(Box::new(
                checks::safety::Compiled::compile(&file.safety, env)
                    .map_err(|e| in_section(Policy::Safety, e))?,
            ));
        }
        if uses(Policy::Bias) {
            compiled.push(Box::new(
                checks::bias::Compiled::compile(&file.bias, env)
                    .map_err(|e| in_section(Policy::Bias, e))?,
            ));
        }
        if uses(Policy::Authenticity) {
            compiled.push(Box::new(
                checks::authenticity::Compiled::compile(&file.authenticity, env)
                    .map_err(|e| in_section(Policy::Authenticity, e))?,
            ));
        }
        if uses(Policy::Copyright) {
            compiled.push(Box::new(
                checks::copyright::Compiled::compile(&file.copyright, env)
                    .map_err(|e| in_section(Policy::Copyright, e))?,
            ));
        }
        file.copyright
            .licence
            .validate()
            .map_err(|e| TrustError::bundle(format!("{origin}: copyright.{e}")))?;
        Ok(Bundle {
            version: file.version,
            description: file.description,
            hash: hex::encode(Sha256::digest(text.as_bytes())),
            on_error: file.on_error,
            rules,
            checks: compiled,
            licence: file.copyright.licence,
            support: Some(
                checks::authenticity::Compiled::compile(&file.authenticity, env)
                    .map_err(|e| in_section(Policy::Authenticity, e))?,
            ),
        })
    }

    /// Reads and compiles a bundle file.
    pub fn load(path: &Path, env: &CompileEnv) -> Result<Bundle, TrustError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TrustError::bundle(format!("cannot read {}: {e}", path.display())))?;
        Bundle::parse(&text, &path.display().to_string(), env)
    }

    /// The bundle that ships with the service.
    pub fn default_bundle(env: &CompileEnv) -> Result<Bundle, TrustError> {
        Bundle::parse(DEFAULT_BUNDLE, "default bundle", env)
    }
}
