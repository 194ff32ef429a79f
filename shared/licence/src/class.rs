//! What a licence id grants, read from the id.
//!
//! Creative Commons ids (`CC-BY-4.0`, `CC BY-NC-SA 3.0`, `cc-by-nd`) are
//! read element by element; public-domain dedications (`CC0-1.0`, `PDDL`,
//! `public-domain`, `Unlicense`) and the common permissive software
//! licences are known by name; anything else (`all-rights-reserved`, an
//! empty id, an id nobody listed) is reserved. An operator may name more
//! ids per class in the bundle ([`crate::Policy::classes`]).

use serde::{Deserialize, Serialize};

/// The licence classes a bundle sets rules for, from most to least
/// permissive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Public domain and CC0: no conditions.
    PublicDomain,
    /// CC-BY and permissive licences: attribution.
    Attribution,
    /// CC-BY-SA: attribution, and adaptations under the same licence.
    ShareAlike,
    /// Any NC variant: attribution, no commercial use.
    NonCommercial,
    /// Any ND variant: attribution, no adaptations.
    NoDerivatives,
    /// All rights reserved, or a licence nobody listed.
    Reserved,
}

impl Class {
    /// Every class, most permissive first.
    pub const ALL: [Class; 6] = [
        Class::PublicDomain,
        Class::Attribution,
        Class::ShareAlike,
        Class::NonCommercial,
        Class::NoDerivatives,
        Class::Reserved,
    ];

    /// The snake-case name used in bundles and findings.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::PublicDomain => "public_domain",
            Class::Attribution => "attribution",
            Class::ShareAlike => "share_alike",
            Class::NonCommercial => "non_commercial",
            Class::NoDerivatives => "no_derivatives",
            Class::Reserved => "reserved",
        }
    }
}

/// The conditions a licence puts on reuse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Terms {
    /// The source must be named.
    pub attribution: bool,
    /// Adaptations carry the same licence.
    pub share_alike: bool,
    /// No commercial use.
    pub non_commercial: bool,
    /// No adaptations.
    pub no_derivatives: bool,
    /// Nothing granted beyond what the law allows anyway (quotation).
    pub reserved: bool,
}

impl Terms {
    /// The class whose rules apply: the most restrictive condition wins.
    pub fn class(self) -> Class {
        if self.reserved {
            Class::Reserved
        } else if self.no_derivatives {
            Class::NoDerivatives
        } else if self.non_commercial {
            Class::NonCommercial
        } else if self.share_alike {
            Class::ShareAlike
        } else if self.attribution {
            Class::Attribution
        } else {
            Class::PublicDomain
        }
    }

    /// The terms of a class, for an id an operator listed under it.
    pub fn of_class(class: Class) -> Terms {
        let attributed = Terms {
            attribution: true,
            ..Terms::default()
        };
        match class {
            Class::PublicDomain => Terms::default(),
            Class::Attribution => attributed,
            Class::ShareAlike => Terms {
                share_alike: true,
                ..attributed
            },
            Class::NonCommercial => Terms {
                non_commercial: true,
                ..attributed
            },
            Class::NoDerivatives => Terms {
                no_derivatives: true,
                ..attributed
            },
            Class::Reserved => Terms {
                reserved: true,
                ..Terms::default()
            },
        }
    }
}

/// A licence id as a comparable key: upper case, `_` and spaces as `-`.
pub fn key(licence: &str) -> String {
    licence.trim().to_ascii_uppercase().replace(['_', ' '], "-")
}

/// The ids known by name (`data/licences.toml`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Known {
    public_domain: Vec<String>,
    attribution: Vec<String>,
    share_alike: Vec<String>,
}

fn known() -> &'static Known {
    static KNOWN: std::sync::OnceLock<Known> = std::sync::OnceLock::new();
    KNOWN.get_or_init(|| {
        toml::from_str(include_str!("../data/licences.toml"))
            .expect("data/licences.toml is part of the build and parses")
    })
}

/// The terms of a licence id, before the operator's own lists.
pub fn terms(licence: &str) -> Terms {
    let k = key(licence);
    let known = known();
    for (ids, class) in [
        (&known.public_domain, Class::PublicDomain),
        (&known.attribution, Class::Attribution),
        (&known.share_alike, Class::ShareAlike),
    ] {
        if ids.iter().any(|id| key(id) == k) {
            return Terms::of_class(class);
        }
    }
    if let Some(rest) = k.strip_prefix("CC-") {
        let elements: Vec<&str> = rest.split('-').collect();
        if elements.first() == Some(&"BY") {
            let has = |e: &str| elements.contains(&e);
            return Terms {
                attribution: true,
                share_alike: has("SA"),
                non_commercial: has("NC"),
                no_derivatives: has("ND"),
                reserved: false,
            };
        }
    }
    Terms::of_class(Class::Reserved)
}

/// Why a licence refuses derivatives (an edit of the item).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A Creative Commons `ND` element, or an id listed as such: no
    /// derivatives whatever the owner says.
    NoDerivatives,
    /// All rights reserved (or an id listed as needing consent), and the
    /// owner has not consented.
    NoConsent,
}

/// The derivative rule, shared by the editor (which refuses) and trust's
/// `copyright.derivative` check (which reports): a Creative Commons id with
/// an `ND` element, or one of `more_no_derivatives`, forbids derivatives;
/// `all-rights-reserved` (also `ARR`, `proprietary`, `copyright`) or one
/// of `more_needing_consent` forbids them unless the owner consented; an
/// empty or other id allows them. Ids compare as [`key`]s.
pub fn derivative_refusal(
    licence: &str,
    owner_consent: bool,
    more_no_derivatives: &[String],
    more_needing_consent: &[String],
) -> Option<Refusal> {
    let k = key(licence);
    if k.is_empty() {
        return None;
    }
    let listed = |ids: &[String]| ids.iter().any(|id| key(id) == k);
    if (k.starts_with("CC") && k.split('-').any(|t| t == "ND")) || listed(more_no_derivatives) {
        return Some(Refusal::NoDerivatives);
    }
    let reserved = matches!(
        k.as_str(),
        "ALL-RIGHTS-RESERVED" | "ARR" | "PROPRIETARY" | "COPYRIGHT"
    ) || listed(more_needing_consent);
    (reserved && !owner_consent).then_some(Refusal::NoConsent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creative_commons_ids_are_read_element_by_element() {
        assert_eq!(terms("CC-BY-4.0").class(), Class::Attribution);
        assert_eq!(terms("cc by-sa 3.0").class(), Class::ShareAlike);
        assert_eq!(terms("CC-BY-NC-SA-4.0").class(), Class::NonCommercial);
        assert!(terms("CC-BY-NC-SA-4.0").share_alike);
        assert_eq!(terms("CC-BY-NC-ND-4.0").class(), Class::NoDerivatives);
        assert_eq!(terms("CC_BY_ND_2.0").class(), Class::NoDerivatives);
    }

    #[test]
    fn dedications_permissive_and_unknown() {
        assert_eq!(terms("CC0-1.0").class(), Class::PublicDomain);
        assert_eq!(terms("public-domain").class(), Class::PublicDomain);
        assert_eq!(terms("MIT").class(), Class::Attribution);
        assert_eq!(terms("all-rights-reserved").class(), Class::Reserved);
        assert_eq!(terms("").class(), Class::Reserved);
        assert_eq!(terms("CC-NOTBY-4.0").class(), Class::Reserved);
        assert_eq!(terms("GPL-3.0-only").class(), Class::ShareAlike);
    }
}
