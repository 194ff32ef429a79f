//! Reviewing content: run every check of a bundle, decide each finding's
//! action from the bundle, and combine them into a verdict.
//!
//! Combining rules, each tested below:
//! - the strictest action among the findings wins (allow < allow with label
//!   < redact < review < block); no findings means allow;
//! - findings of categories the bundle does not name, or scoring under the
//!   category's minimum, are dropped;
//! - a check that fails adds an `internal.error` finding with the bundle's
//!   `on_error` action (review or block): a review never allows content a
//!   check could not look at;
//! - when the verdict is redact, the text comes back with every redacted
//!   span replaced by the category's name in brackets.

use std::sync::{Arc, RwLock};

use serde::Serialize;

use crate::bundle::Bundle;
use crate::checks::{CompileEnv, Input, ReviewContext};
use crate::error::TrustError;
use crate::finding::{Action, Category, Field, Finding};
use crate::registry::Registry;

/// Limits on what a review request may carry.
pub mod limits {
    /// Largest content, in bytes.
    pub const MAX_CONTENT_BYTES: usize = 1024 * 1024;
    /// Largest instruction, in bytes.
    pub const MAX_INSTRUCTION_BYTES: usize = 16 * 1024;
    /// Most cited sources.
    pub const MAX_SOURCES: usize = 64;
    /// Largest source passage, in bytes.
    pub const MAX_SOURCE_BYTES: usize = 256 * 1024;
    /// Most parents.
    pub const MAX_PARENTS: usize = 64;
}

/// The result of a review. A blocking verdict is an outcome, not an error.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    pub verdict: Action,
    pub findings: Vec<Finding>,
    /// The content with redacted spans masked, when the verdict is redact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redacted_text: Option<String>,
    pub bundle_hash: String,
    pub bundle_version: String,
}

impl Bundle {
    /// Reviews content against this bundle.
    pub fn review(&self, content: &str, context: &ReviewContext, registry: &Registry) -> Outcome {
        let input = Input {
            content,
            context,
            registry,
        };
        let mut raw = Vec::new();
        for check in &self.checks {
            let mut found = Vec::new();
            match check.check(&input, &mut found) {
                Ok(()) => raw.extend(found),
                Err(e) => {
                    tracing::error!(error = %e, bundle = %self.version, "check failed; failing closed");
                    let mut f = Finding::new(
                        Category::InternalError,
                        format!("internal.{}", check.name()),
                        1.0,
                        e.to_string(),
                    );
                    f.action = self.on_error;
                    raw.push(f);
                }
            }
        }
        self.decide(content, raw)
    }

    /// Applies the bundle's actions to raw findings and combines them.
    pub fn decide(&self, content: &str, raw: Vec<Finding>) -> Outcome {
        let mut findings = Vec::with_capacity(raw.len());
        for mut f in raw {
            if f.category == Category::InternalError {
                f.action = f.action.max(self.on_error);
                findings.push(f);
                continue;
            }
            let Some(rule) = self.rules.get(&f.category) else {
                continue;
            };
            if f.score < rule.min_score {
                continue;
            }
            f.action = rule.action;
            findings.push(f);
        }
        let verdict = findings
            .iter()
            .map(|f| f.action)
            .max()
            .unwrap_or(Action::Allow);
        let redacted_text = (verdict == Action::Redact).then(|| redact(content, &findings));
        Outcome {
            verdict,
            findings,
            redacted_text,
            bundle_hash: self.hash.clone(),
            bundle_version: self.version.clone(),
        }
    }
}

/// Replaces the content spans of redact findings by `[category]`.
fn redact(content: &str, findings: &[Finding]) -> String {
    let mut spans: Vec<(usize, usize, Category)> = findings
        .iter()
        .filter(|f| f.action == Action::Redact && f.field == Field::Content)
        .filter_map(|f| f.span.map(|(s, e)| (s, e, f.category)))
        .filter(|&(s, e, _)| {
            s < e
                && e <= content.len()
                && content.is_char_boundary(s)
                && content.is_char_boundary(e)
        })
        .collect();
    spans.sort_by_key(|&(s, e, _)| (s, std::cmp::Reverse(e)));
    let mut out = String::with_capacity(content.len());
    let mut at = 0;
    for (s, e, category) in spans {
        if e <= at {
            continue;
        }
        let s = s.max(at);
        out.push_str(&content[at..s]);
        let name = category.as_str();
        out.push('[');
        out.push_str(name.split('.').nth(1).unwrap_or(name));
        out.push(']');
        at = e;
    }
    out.push_str(&content[at..]);
    out
}

/// Checks the sizes of a review request.
pub fn validate(content: &str, context: &ReviewContext) -> Result<(), TrustError> {
    if content.len() > limits::MAX_CONTENT_BYTES {
        return Err(TrustError::invalid(
            "content",
            format!(
                "is {} bytes; the limit is {}",
                content.len(),
                limits::MAX_CONTENT_BYTES
            ),
        ));
    }
    if context.instruction.len() > limits::MAX_INSTRUCTION_BYTES {
        return Err(TrustError::invalid(
            "context.instruction",
            format!("the limit is {} bytes", limits::MAX_INSTRUCTION_BYTES),
        ));
    }
    if context.sources.len() > limits::MAX_SOURCES {
        return Err(TrustError::invalid(
            "context.sources",
            format!("the limit is {} sources", limits::MAX_SOURCES),
        ));
    }
    for (i, s) in context.sources.iter().enumerate() {
        if s.text.len() > limits::MAX_SOURCE_BYTES {
            return Err(TrustError::invalid(
                &format!("context.sources[{i}].text"),
                format!("the limit is {} bytes", limits::MAX_SOURCE_BYTES),
            ));
        }
    }
    if context.parents.len() > limits::MAX_PARENTS {
        return Err(TrustError::invalid(
            "context.parents",
            format!("the limit is {} parents", limits::MAX_PARENTS),
        ));
    }
    Ok(())
}

/// The active bundle and the registry: what the service reviews with.
/// Reloading swaps the bundle atomically; a refused bundle leaves the
/// active one in place.
pub struct Reviewer {
    bundle: RwLock<Arc<Bundle>>,
    registry: Arc<Registry>,
    env: CompileEnv,
}

impl Reviewer {
    /// A reviewer with `bundle` active.
    pub fn new(bundle: Bundle, registry: Arc<Registry>, env: CompileEnv) -> Self {
        Reviewer {
            bundle: RwLock::new(Arc::new(bundle)),
            registry,
            env,
        }
    }

    /// The active bundle.
    pub fn bundle(&self) -> Arc<Bundle> {
        match self.bundle.read() {
            Ok(b) => b.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The registry.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Reviews content with the active bundle.
    pub fn review(&self, content: &str, context: &ReviewContext) -> Result<Outcome, TrustError> {
        validate(content, context)?;
        Ok(self.bundle().review(content, context, &self.registry))
    }

    /// Compiles bundle text and makes it active. On error the active bundle
    /// stays.
    pub fn reload_text(&self, text: &str, origin: &str) -> Result<Arc<Bundle>, TrustError> {
        let bundle = Arc::new(Bundle::parse(text, origin, &self.env)?);
        self.swap(bundle.clone());
        Ok(bundle)
    }

    /// Loads a bundle file and makes it active. On error the active bundle
    /// stays.
    pub fn reload_file(&self, path: &std::path::Path) -> Result<Arc<Bundle>, TrustError> {
        let bundle = Arc::new(Bundle::load(path, &self.env)?);
        self.swap(bundle.clone());
        Ok(bundle)
    }

    fn swap(&self, bundle: Arc<Bundle>) {
        tracing::info!(version = %bundle.version, hash = %bundle.hash, "policy bundle active");
        match self.bundle.write() {
            Ok(mut b) => *b = bundle,
            Err(poisoned) => *poisoned.into_inner() = bundle,
        }
    }
}
