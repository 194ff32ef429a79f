//! The bias policy (to be filled in).

use serde::Deserialize;

use super::{Check, CheckError, CompileEnv, Input};
use crate::error::TrustError;
use crate::finding::Finding;

/// The `[bias]` section of a bundle.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {}

/// The compiled bias check.
pub struct Compiled {}

impl Compiled {
    /// Compiles the section once per bundle.
    pub fn compile(_config: &Config, _env: &CompileEnv) -> Result<Self, TrustError> {
        Ok(Compiled {})
    }
}

impl Check for Compiled {
    fn name(&self) -> &'static str {
        "bias"
    }

    fn check(&self, _input: &Input<'_>, _out: &mut Vec<Finding>) -> Result<(), CheckError> {
        Ok(())
    }
}
