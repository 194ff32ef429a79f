//! The copyright policy (to be filled in): claimed works as shingle
//! fingerprints, near-duplicate detection, and licences that forbid
//! derivatives.

use serde::{Deserialize, Serialize};

use super::{Check, CheckError, CompileEnv, Input};
use crate::error::TrustError;
use crate::finding::Finding;

/// What a claimant wants done with content that matches their work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimPolicy {
    Block,
    Label,
    Track,
}

/// A claimed work as the registry keeps it: never the text, only its
/// fingerprint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Work {
    pub id: String,
    pub claimant: String,
    pub licence: String,
    pub policy: ClaimPolicy,
    /// Number of distinct shingles in the work.
    pub shingles: u64,
    /// MinHash signature of the work's shingles.
    pub signature: Vec<u64>,
}

/// Fingerprints a claimed work (placeholder until the MinHash fingerprint
/// lands: shingle count only, empty signature).
pub fn work(
    id: &str,
    claimant: &str,
    licence: &str,
    policy: ClaimPolicy,
    text: &str,
    _config: &Config,
) -> Work {
    Work {
        id: id.to_string(),
        claimant: claimant.to_string(),
        licence: licence.to_string(),
        policy,
        shingles: text.split_whitespace().count().saturating_sub(4) as u64,
        signature: Vec::new(),
    }
}

/// The `[copyright]` section of a bundle.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {}

/// The compiled copyright check.
pub struct Compiled {}

impl Compiled {
    /// Compiles the section once per bundle.
    pub fn compile(_config: &Config, _env: &CompileEnv) -> Result<Self, TrustError> {
        Ok(Compiled {})
    }
}

impl Check for Compiled {
    fn name(&self) -> &'static str {
        "copyright"
    }

    fn check(&self, _input: &Input<'_>, _out: &mut Vec<Finding>) -> Result<(), CheckError> {
        Ok(())
    }
}
