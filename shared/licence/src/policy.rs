//! What a generated item may do with a source, per licence class: the
//! `[licence]` section of a trust bundle.
//!
//! The defaults follow the quotation exception news aggregators rely on:
//! a source that grants nothing (all rights reserved, or a licence nobody
//! listed) and a no-derivatives source each give at most a short attributed
//! quotation (`max_words` = 40 verbatim words, the source named in the
//! text); openly licensed sources may be quoted at any length, with
//! attribution where the licence asks for it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::class::{self, Class, Terms};

/// How a source may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Use {
    /// Quoted verbatim, up to `max_words` words.
    Quote,
    /// Cited as a source of facts: no verbatim run beyond `max_words`.
    Facts,
    /// Not used at all.
    None,
}

/// What one class of source allows a generated item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowance {
    #[serde(rename = "use")]
    pub use_: Use,
    /// Most words copied verbatim from one source (0: no limit for
    /// `quote`; for `facts` the longest verbatim run allowed).
    pub max_words: usize,
    /// The text must name the source (its title or its creator).
    pub attribution: bool,
}

impl Allowance {
    /// The word limit as a number (`usize::MAX` for none).
    pub fn word_limit(&self) -> usize {
        match (self.use_, self.max_words) {
            (Use::None, _) => 0,
            (Use::Quote, 0) => usize::MAX,
            (_, n) => n,
        }
    }
}

/// A grant an operator holds for particular sources, beyond their licence
/// (a syndication agreement, say): matched on the source's creator or an
/// item-id prefix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Sources by this creator.
    #[serde(default)]
    pub creator: String,
    /// Sources whose item id starts with this.
    #[serde(default)]
    pub item_prefix: String,
    pub allowance: Allowance,
    /// The licence the granted material counts as when licences combine
    /// (empty: the source's own).
    #[serde(default)]
    pub counts_as: String,
}

/// The `[licence]` section of a bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Rules per class (every class has one; a bundle may override some).
    pub allow: BTreeMap<Class, Allowance>,
    /// More licence ids per class, beyond those known by name.
    pub classes: BTreeMap<Class, Vec<String>>,
    /// Per-source grants.
    pub grants: Vec<Grant>,
    /// A verbatim run shorter than this many words is ordinary language,
    /// not copying.
    pub min_run_words: usize,
    /// The licence id of text available only under the platform's terms.
    pub platform_terms: String,
    /// The licence of a generated item made only from public-domain
    /// material (or from nothing).
    pub open_licence: String,
}

impl Default for Policy {
    fn default() -> Self {
        let quote = |max_words, attribution| Allowance {
            use_: Use::Quote,
            max_words,
            attribution,
        };
        let allow = BTreeMap::from([
            (Class::PublicDomain, quote(0, false)),
            (Class::Attribution, quote(0, true)),
            (Class::ShareAlike, quote(0, true)),
            (Class::NonCommercial, quote(0, true)),
            (Class::NoDerivatives, quote(40, true)),
            (Class::Reserved, quote(40, true)),
        ]);
        Policy {
            allow,
            classes: BTreeMap::new(),
            grants: Vec::new(),
            min_run_words: 5,
            platform_terms: "LicenseRef-generec-platform-terms".into(),
            open_licence: "CC0-1.0".into(),
        }
    }
}

/// A policy that cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("licence.min_run_words must lie in 2..=50, got {0}")]
    MinRun(usize),
    #[error("licence.grants[{0}] names neither a creator nor an item_prefix")]
    GrantMatchesNothing(usize),
    #[error("licence.{0} must not be empty")]
    Empty(&'static str),
}

/// A source as the policy sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceRights {
    pub item_id: String,
    pub licence: String,
    pub creator: String,
}

/// What applies to one source: its terms, its class and its allowance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub terms: Terms,
    pub class: Class,
    pub allowance: Allowance,
    /// The grant that applied, by index, if any.
    pub grant: Option<usize>,
}

impl Policy {
    /// The `[copyright.licence]` section of a whole trust bundle (TOML),
    /// validated; the defaults when the bundle has none. For services that
    /// plan against the rules trust will hold them to without reading the
    /// rest of the bundle.
    pub fn from_bundle(bundle_toml: &str) -> Result<Policy, String> {
        let doc: toml::Table =
            toml::from_str(bundle_toml).map_err(|e| format!("the bundle is not TOML: {e}"))?;
        let section = doc.get("copyright").and_then(|c| c.get("licence")).cloned();
        let policy = match section {
            None => Policy::default(),
            Some(v) => v
                .try_into::<Policy>()
                .map_err(|e| format!("copyright.licence: {e}"))?,
        };
        policy.validate().map_err(|e| format!("copyright.{e}"))?;
        Ok(policy)
    }

    /// Checks the section once, when a bundle is loaded.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if !(2..=50).contains(&self.min_run_words) {
            return Err(PolicyError::MinRun(self.min_run_words));
        }
        for (i, g) in self.grants.iter().enumerate() {
            if g.creator.trim().is_empty() && g.item_prefix.trim().is_empty() {
                return Err(PolicyError::GrantMatchesNothing(i));
            }
        }
        if self.platform_terms.trim().is_empty() {
            return Err(PolicyError::Empty("platform_terms"));
        }
        if self.open_licence.trim().is_empty() {
            return Err(PolicyError::Empty("open_licence"));
        }
        Ok(())
    }

    /// The terms of a licence id, the operator's lists first.
    pub fn terms(&self, licence: &str) -> Terms {
        let k = class::key(licence);
        for (class, ids) in &self.classes {
            if ids.iter().any(|id| class::key(id) == k) {
                return Terms::of_class(*class);
            }
        }
        class::terms(licence)
    }

    /// The allowance of a class (the default's when the bundle has none).
    pub fn allowance(&self, class: Class) -> Allowance {
        self.allow
            .get(&class)
            .copied()
            .unwrap_or_else(|| Policy::default().allow[&class])
    }

    /// What applies to a source: a grant that matches it, else its class.
    pub fn apply(&self, source: &SourceRights) -> Applied {
        let grant = self.grants.iter().position(|g| {
            (!g.creator.trim().is_empty() && g.creator.trim() == source.creator.trim())
                || (!g.item_prefix.trim().is_empty()
                    && source.item_id.starts_with(g.item_prefix.trim()))
        });
        if let Some(i) = grant {
            let g = &self.grants[i];
            let licence = if g.counts_as.trim().is_empty() {
                source.licence.as_str()
            } else {
                g.counts_as.as_str()
            };
            let terms = self.terms(licence);
            return Applied {
                terms,
                class: terms.class(),
                allowance: g.allowance,
                grant: Some(i),
            };
        }
        let terms = self.terms(&source.licence);
        let class = terms.class();
        Applied {
            terms,
            class,
            allowance: self.allowance(class),
            grant: None,
        }
    }
}
