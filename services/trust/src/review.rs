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
    /// Largest source title, in bytes.
    pub const MAX_TITLE_BYTES: usize = 1024;
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
    /// For generated content: the licence it gets from what it copies of
    /// its sources and from its parents (`copyright.licence` rules).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub licence: String,
    /// For generated content: what it was made from, as Certify lists the
    /// ingredients (parents first, then each cited item).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub made_from: Vec<crate::checks::made_from::MadeFrom>,
    /// Every category the bundle acts on, with the highest score any check
    /// gave the content in it before the bundle's thresholds (0 when none
    /// found anything): how close the content came, category by category.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub scores: std::collections::BTreeMap<&'static str, f32>,
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
        let mut outcome = self.decide(content, raw);
        if context.origin.is_some_and(|o| o.is_generated()) {
            let made = crate::checks::made_from::assess(
                &self.licence,
                self.support.as_ref(),
                content,
                context,
            );
            outcome.licence = made.licence;
            outcome.made_from = made.made_from;
        }
        outcome
    }

    /// Applies the bundle's actions to raw findings and combines them.
    pub fn decide(&self, content: &str, raw: Vec<Finding>) -> Outcome {
        let mut scores: std::collections::BTreeMap<&'static str, f32> =
            self.rules.keys().map(|c| (c.as_str(), 0.0)).collect();
        for f in &raw {
            if let Some(s) = scores.get_mut(f.category.as_str()) {
                *s = s.max(f.score);
            }
        }
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
            licence: String::new(),
            made_from: Vec::new(),
            scores,
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
        validate_source_rights(i, s)?;
    }
    if context.parents.len() > limits::MAX_PARENTS {
        return Err(TrustError::invalid(
            "context.parents",
            format!("the limit is {} parents", limits::MAX_PARENTS),
        ));
    }
    Ok(())
}

/// The item id, creator, licence, title and content hash a source passage
/// names.
fn validate_source_rights(i: usize, s: &crate::checks::Source) -> Result<(), TrustError> {
    use generec_provenance::ids;
    for (field, value) in [("item_id", &s.item_id), ("creator_id", &s.creator)] {
        if !value.is_empty() {
            ids::check_id(value)
                .map_err(|e| TrustError::invalid(&format!("context.sources[{i}].{field}"), e))?;
        }
    }
    if !s.licence.is_empty() && !ids::is_licence(&s.licence) {
        return Err(TrustError::invalid(
            &format!("context.sources[{i}].licence"),
            format!(
                "{:?} is not a licence id (at most {} bytes of ASCII letters, digits, '.', '+' and '-')",
                s.licence,
                ids::MAX_LICENCE_BYTES
            ),
        ));
    }
    if s.title.len() > limits::MAX_TITLE_BYTES {
        return Err(TrustError::invalid(
            &format!("context.sources[{i}].title"),
            format!("the limit is {} bytes", limits::MAX_TITLE_BYTES),
        ));
    }
    if !s.content_sha256.is_empty() {
        ids::check_sha256(&s.content_sha256)
            .map_err(|e| TrustError::invalid(&format!("context.sources[{i}].content_sha256"), e))?;
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
        let outcome = self.bundle().review(content, context, &self.registry);
        metrics::counter!("generec_trust_verdicts_total", "verdict" => outcome.verdict.as_str())
            .increment(1);
        for f in &outcome.findings {
            metrics::counter!("generec_trust_findings_total", "policy" => f.policy.as_str(), "category" => f.category.as_str())
                .increment(1);
        }
        Ok(outcome)
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

/// One review request as JSON, for `generec review --jsonl`:
/// `{"content": "...", "context": {"kind": "article", "user_id": "u1",
/// "sources": [{"id": "s1", "text": "..."}], "instruction": "..."}}`.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonRequest {
    pub content: String,
    #[serde(default)]
    pub context: ReviewContext,
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::bundle::ActionRule;
    use crate::checks::{Check, CheckError};

    fn bundle(
        rules: &[(Category, Action, f32)],
        on_error: Action,
        checks: Vec<Box<dyn Check>>,
    ) -> Bundle {
        Bundle {
            version: "test".into(),
            description: String::new(),
            hash: "h".into(),
            on_error,
            rules: rules
                .iter()
                .map(|&(c, action, min_score)| (c, ActionRule { action, min_score }))
                .collect::<HashMap<_, _>>(),
            checks,
            licence: generec_licence::Policy::default(),
            support: None,
        }
    }

    fn finding(category: Category, score: f32, span: Option<(usize, usize)>) -> Finding {
        let f = Finding::new(category, "test.rule", score, "because");
        match span {
            Some((s, e)) => f.at(s, e),
            None => f,
        }
    }

    struct Emits(Vec<Finding>);
    impl Check for Emits {
        fn name(&self) -> &'static str {
            "emits"
        }
        fn check(&self, _input: &Input<'_>, out: &mut Vec<Finding>) -> Result<(), CheckError> {
            out.extend(self.0.iter().cloned());
            Ok(())
        }
    }

    struct Fails;
    impl Check for Fails {
        fn name(&self) -> &'static str {
            "fails"
        }
        fn check(&self, _input: &Input<'_>, out: &mut Vec<Finding>) -> Result<(), CheckError> {
            out.push(finding(Category::PrivacyEmail, 1.0, None));
            Err(CheckError {
                check: "fails",
                message: "broken".into(),
            })
        }
    }

    #[test]
    fn the_strictest_action_wins_whatever_the_order() {
        let actions = [
            Action::Allow,
            Action::AllowWithLabel,
            Action::Redact,
            Action::Review,
            Action::Block,
        ];
        let categories = [
            Category::BiasInsensitive,
            Category::PrivacyEmail,
            Category::PrivacyPhone,
            Category::SafetySelfHarm,
            Category::SafetyHate,
        ];
        // Every pair of actions: the verdict is the larger one.
        for (i, &a) in actions.iter().enumerate() {
            for (j, &b) in actions.iter().enumerate() {
                if i == j {
                    continue;
                }
                let b_rules = [(categories[i], a, 0.5), (categories[j], b, 0.5)];
                let bundle = bundle(&b_rules, Action::Review, vec![]);
                let outcome = bundle.decide(
                    "text",
                    vec![
                        finding(categories[j], 0.9, None),
                        finding(categories[i], 0.9, None),
                    ],
                );
                assert_eq!(outcome.verdict, a.max(b), "{a:?} with {b:?}");
            }
        }
    }

    #[test]
    fn no_findings_allow_and_unlisted_or_weak_findings_are_dropped() {
        let b = bundle(
            &[(Category::PrivacyEmail, Action::Block, 0.7)],
            Action::Review,
            vec![],
        );
        assert_eq!(b.decide("x", vec![]).verdict, Action::Allow);
        let outcome = b.decide(
            "x",
            vec![
                finding(Category::PrivacyEmail, 0.69, None),
                finding(Category::SafetyHate, 1.0, None),
            ],
        );
        assert_eq!(outcome.verdict, Action::Allow);
        assert!(outcome.findings.is_empty());
        assert_eq!(
            b.decide("x", vec![finding(Category::PrivacyEmail, 0.7, None)])
                .verdict,
            Action::Block
        );
    }

    #[test]
    fn a_failing_check_fails_closed_and_never_allows() {
        let registry = Registry::temporary().unwrap();
        for on_error in [Action::Review, Action::Block] {
            let b = bundle(
                &[(Category::PrivacyEmail, Action::Allow, 0.5)],
                on_error,
                vec![Box::new(Fails)],
            );
            let outcome = b.review("anything", &ReviewContext::default(), &registry);
            assert_eq!(outcome.verdict, on_error);
            assert_eq!(
                outcome.findings.len(),
                1,
                "partial findings of a failed check are dropped"
            );
            assert_eq!(outcome.findings[0].category, Category::InternalError);
            assert!(outcome.findings[0].evidence.contains("broken"));
        }
        // A failure next to a stricter finding keeps the stricter verdict.
        let b = bundle(
            &[(Category::SafetyHate, Action::Block, 0.5)],
            Action::Review,
            vec![
                Box::new(Fails),
                Box::new(Emits(vec![finding(Category::SafetyHate, 1.0, None)])),
            ],
        );
        assert_eq!(
            b.review("x", &ReviewContext::default(), &registry).verdict,
            Action::Block
        );
    }

    #[test]
    fn redaction_masks_every_redacted_span_once() {
        let text = "mail a@b.co or call 0123 456 789 today";
        let b = bundle(
            &[
                (Category::PrivacyEmail, Action::Redact, 0.5),
                (Category::PrivacyPhone, Action::Redact, 0.5),
                (Category::BiasInsensitive, Action::AllowWithLabel, 0.5),
            ],
            Action::Review,
            vec![],
        );
        let outcome = b.decide(
            text,
            vec![
                finding(Category::PrivacyEmail, 0.9, Some((5, 11))),
                finding(Category::PrivacyPhone, 0.9, Some((20, 32))),
                finding(Category::PrivacyPhone, 0.9, Some((25, 32))),
                finding(Category::BiasInsensitive, 0.9, Some((0, 4))),
            ],
        );
        assert_eq!(outcome.verdict, Action::Redact);
        assert_eq!(
            outcome.redacted_text.as_deref(),
            Some("mail [email] or call [phone] today")
        );
    }

    #[test]
    fn bundles_without_policies_or_with_unknown_names_are_refused() {
        let env = CompileEnv::default();
        let cases = [
            ("version = \"v\"\n", "no policies"),
            ("version = \"v\"\n[actions]\n", "no policies"),
            (
                "version = \"\"\n[actions]\n\"privacy.email\" = { action = \"redact\" }\n",
                "version",
            ),
            (
                "version = \"v\"\n[actions]\n\"privacy.mail\" = { action = \"redact\" }\n",
                "privacy.mail",
            ),
            (
                "version = \"v\"\n[actions]\n\"privacy.email\" = { action = \"delete\" }\n",
                "delete",
            ),
            (
                "version = \"v\"\n[actions]\n\"privacy.email\" = { action = \"redact\", min_score = 2.0 }\n",
                "min_score",
            ),
            (
                "version = \"v\"\non_error = \"allow\"\n[actions]\n\"privacy.email\" = { action = \"redact\" }\n",
                "on_error",
            ),
            (
                "version = \"v\"\n[actions]\n\"internal.error\" = { action = \"allow\" }\n",
                "internal.error",
            ),
            (
                "version = \"v\"\n[actions]\n\"privacy.email\" = { action = \"redact\" }\n[privacy]\nno_such_setting = 1\n",
                "no_such_setting",
            ),
        ];
        for (text, needle) in cases {
            let err = Bundle::parse(text, "test.toml", &env)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
            assert!(err.contains("test.toml"), "{err}");
        }
    }

    #[test]
    fn a_refused_reload_keeps_the_active_bundle() {
        let env = CompileEnv::default();
        let ok =
            "version = \"one\"\n[actions]\n\"copyright.derivative\" = { action = \"block\" }\n";
        let reviewer = Reviewer::new(
            Bundle::parse(ok, "a", &env).unwrap(),
            Arc::new(Registry::temporary().unwrap()),
            env,
        );
        let hash = reviewer.bundle().hash.clone();
        assert!(reviewer.reload_text("version = \"two\"\n", "b").is_err());
        assert_eq!(reviewer.bundle().version, "one");
        assert_eq!(reviewer.bundle().hash, hash);
        let two = ok.replace("one", "two");
        reviewer.reload_text(&two, "c").unwrap();
        assert_eq!(reviewer.bundle().version, "two");
        assert_ne!(reviewer.bundle().hash, hash);
    }
}
