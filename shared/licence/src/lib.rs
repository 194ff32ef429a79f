//! Licences of what generated items are made from.
//!
//! One crate for every part of the platform that reasons about rights, so
//! that they cannot disagree: the trust service's `copyright.source` check,
//! the creators that plan a draft within the allowance, and the corpus that
//! checks a generated item's stated licence.
//!
//! - [`class`]: what a licence id grants ([`Terms`]) and its [`Class`];
//! - [`policy`]: what a bundle allows per class, operator lists and grants;
//! - [`overlap`]: verbatim word runs shared by an output and a source;
//! - [`assess`]: all of it for one output and its sources and parents:
//!   per-source use against the allowance, licence conflicts, and the
//!   licence the item gets.

pub mod class;
pub mod overlap;
pub mod policy;

pub use class::{Class, Refusal, Terms, derivative_refusal};
pub use policy::{Allowance, Grant, Policy, PolicyError, SourceRights, Use};

/// A source passage or item a generated text was made from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Source {
    pub rights: SourceRights,
    pub title: String,
    pub text: String,
}

/// How an output used one source, against its allowance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceUse {
    pub item_id: String,
    pub licence: String,
    pub class: Class,
    pub allowance: Allowance,
    pub copied_words: usize,
    pub longest_run: usize,
    /// Byte ranges of the output copied from this source.
    pub spans: Vec<(usize, usize)>,
    /// The output names the source (title or creator).
    pub attributed: bool,
}

impl SourceUse {
    /// Words copied beyond the allowance (0 when within it).
    pub fn excess_words(&self) -> usize {
        let measured = match self.allowance.use_ {
            Use::Facts => self.longest_run,
            Use::Quote | Use::None => self.copied_words,
        };
        measured.saturating_sub(self.allowance.word_limit())
    }

    /// The allowance asks for attribution, something was copied, and the
    /// source is not named.
    pub fn missing_attribution(&self) -> bool {
        self.allowance.attribution && self.copied_words > 0 && !self.attributed
    }
}

/// Two ingredients whose licences cannot be combined in one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub first: String,
    pub second: String,
    pub why: String,
}

/// Everything the rules say about one generated text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    pub sources: Vec<SourceUse>,
    pub conflicts: Vec<Conflict>,
    /// The licence the item gets: the most restrictive result of what it
    /// copies from its sources and of its parents.
    pub licence: String,
}

/// One ingredient's contribution to the item's licence.
struct Contribution<'a> {
    item_id: &'a str,
    licence: &'a str,
    terms: Terms,
    /// A whole adaptation (a parent), not a quotation.
    adapted: bool,
}

/// Assesses `output` against its sources (what it cites) and its parents
/// (what it adapts: an edit's source items, whose licences it inherits).
pub fn assess(
    policy: &Policy,
    output: &str,
    sources: &[Source],
    parents: &[SourceRights],
) -> Assessment {
    let out_words = overlap::words(output);
    let mut uses = Vec::with_capacity(sources.len());
    let mut contributions: Vec<Contribution<'_>> = Vec::new();
    for s in sources {
        let applied = policy.apply(&s.rights);
        let o = overlap::overlap(&out_words, &overlap::words(&s.text), policy.min_run_words);
        if o.copied_words > 0 {
            contributions.push(Contribution {
                item_id: &s.rights.item_id,
                licence: &s.rights.licence,
                terms: applied.terms,
                adapted: false,
            });
        }
        uses.push(SourceUse {
            item_id: s.rights.item_id.clone(),
            licence: s.rights.licence.clone(),
            class: applied.class,
            allowance: applied.allowance,
            copied_words: o.copied_words,
            longest_run: o.longest_run,
            spans: o.spans,
            attributed: overlap::names_source(&out_words, &s.title, &s.rights.creator),
        });
    }
    for p in parents {
        contributions.push(Contribution {
            item_id: &p.item_id,
            licence: &p.licence,
            terms: policy.apply(p).terms,
            adapted: true,
        });
    }
    let conflicts = conflicts(&contributions);
    let licence = combined_licence(policy, &contributions);
    Assessment {
        sources: uses,
        conflicts,
        licence,
    }
}

/// Licences that cannot meet in one item: a share-alike adaptation must be
/// licensed as a whole under its own licence, which reserved or
/// no-derivatives material does not allow, nor another share-alike
/// licence; and a no-derivatives parent cannot be adapted at all.
fn conflicts(contributions: &[Contribution<'_>]) -> Vec<Conflict> {
    let mut out = Vec::new();
    for (i, a) in contributions.iter().enumerate() {
        if a.adapted && a.terms.no_derivatives {
            out.push(Conflict {
                first: a.item_id.to_string(),
                second: a.item_id.to_string(),
                why: format!(
                    "{} is licensed {}, which forbids adaptations",
                    a.item_id, a.licence
                ),
            });
        }
        for b in &contributions[i + 1..] {
            let (sa, other) = match (a.terms.share_alike, b.terms.share_alike) {
                (true, false) => (a, b),
                (false, true) => (b, a),
                (true, true) => {
                    if class::key(a.licence) != class::key(b.licence) {
                        out.push(Conflict {
                            first: a.item_id.to_string(),
                            second: b.item_id.to_string(),
                            why: format!(
                                "two share-alike licences ({} and {}) each require the whole item under their own terms",
                                a.licence, b.licence
                            ),
                        });
                    }
                    continue;
                }
                (false, false) => continue,
            };
            if other.terms.reserved || other.terms.no_derivatives {
                out.push(Conflict {
                    first: sa.item_id.to_string(),
                    second: other.item_id.to_string(),
                    why: format!(
                        "{} ({}) requires the item under the same licence; {} ({}) cannot be relicensed",
                        sa.item_id, sa.licence, other.item_id, other.licence
                    ),
                });
            }
        }
    }
    out
}

/// The most restrictive result of the contributions.
fn combined_licence(policy: &Policy, contributions: &[Contribution<'_>]) -> String {
    let any = |f: fn(&Terms) -> bool| contributions.iter().any(|c| f(&c.terms));
    if any(|t| t.reserved || t.no_derivatives) {
        return policy.platform_terms.clone();
    }
    let non_commercial = any(|t| t.non_commercial);
    if any(|t| t.share_alike) {
        let sa: Vec<&str> = contributions
            .iter()
            .filter(|c| c.terms.share_alike)
            .map(|c| c.licence)
            .collect();
        let first = class::key(sa[0]);
        if !first.starts_with("CC-") && sa.iter().all(|l| class::key(l) == first) {
            // A copyleft licence that is not Creative Commons (GPL, ODbL):
            // the item takes it as it is.
            return sa[0].trim().to_string();
        }
        return if non_commercial {
            "CC-BY-NC-SA-4.0".into()
        } else {
            "CC-BY-SA-4.0".into()
        };
    }
    if non_commercial {
        return "CC-BY-NC-4.0".into();
    }
    if any(|t| t.attribution) {
        return "CC-BY-4.0".into();
    }
    policy.open_licence.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(id: &str, licence: &str, title: &str, text: &str) -> Source {
        Source {
            rights: SourceRights {
                item_id: id.into(),
                licence: licence.into(),
                creator: "BBC News".into(),
            },
            title: title.into(),
            text: text.into(),
        }
    }

    const ARTICLE: &str = "Shares in London rose sharply on Tuesday after the central bank held interest rates at five percent for the third month running, surprising analysts who had expected a cut before the summer. Banks led the gains while miners fell back as metal prices slipped in Asian trading overnight.";

    #[test]
    fn the_rules_are_read_from_a_whole_bundle() {
        let bundle = r#"
version = "x"
[privacy]
enabled = true
[copyright]
shingle_words = 8
[copyright.licence.allow]
reserved = { use = "quote", max_words = 3, attribution = true }
"#;
        let p = Policy::from_bundle(bundle).unwrap();
        assert_eq!(p.allowance(Class::Reserved).max_words, 3);
        assert_eq!(
            p.allowance(Class::Attribution),
            Policy::default().allowance(Class::Attribution)
        );
        assert_eq!(
            Policy::from_bundle("version = \"x\"").unwrap(),
            Policy::default()
        );
        let bad = Policy::from_bundle("[copyright.licence]\nmin_run_words = 1").unwrap_err();
        assert!(bad.contains("min_run_words"), "{bad}");
        let unknown = Policy::from_bundle("[copyright.licence]\nmax = 1").unwrap_err();
        assert!(unknown.contains("copyright.licence"), "{unknown}");
        assert!(Policy::from_bundle("not toml [").is_err());
    }

    #[test]
    fn a_short_attributed_quotation_from_a_reserved_source_is_allowed() {
        let policy = Policy::default();
        let out = "Markets this week. From \"Shares rise\" (BBC News): shares in London rose sharply on Tuesday after the central bank held interest rates at five percent.";
        let a = assess(
            &policy,
            out,
            &[source(
                "bbc-1",
                "all-rights-reserved",
                "Shares rise",
                ARTICLE,
            )],
            &[],
        );
        let u = &a.sources[0];
        assert_eq!(u.class, Class::Reserved);
        assert!(u.copied_words > 10 && u.copied_words <= 40, "{u:?}");
        assert_eq!(u.excess_words(), 0);
        assert!(!u.missing_attribution());
        assert_eq!(a.licence, policy.platform_terms);
        assert!(a.conflicts.is_empty());
    }

    #[test]
    fn copying_a_reserved_article_exceeds_the_allowance() {
        let policy = Policy::default();
        let a = assess(
            &policy,
            ARTICLE,
            &[source(
                "bbc-1",
                "all-rights-reserved",
                "Shares rise",
                ARTICLE,
            )],
            &[],
        );
        let u = &a.sources[0];
        assert_eq!(u.copied_words, overlap::words(ARTICLE).len());
        assert!(u.excess_words() > 0);
        assert!(u.missing_attribution());
    }

    #[test]
    fn open_sources_may_be_quoted_at_length_and_set_the_licence() {
        let policy = Policy::default();
        let pd = assess(
            &policy,
            ARTICLE,
            &[source("pd-1", "public-domain", "T", ARTICLE)],
            &[],
        );
        assert_eq!(pd.sources[0].excess_words(), 0);
        assert!(!pd.sources[0].missing_attribution());
        assert_eq!(pd.licence, "CC0-1.0");
        let by = assess(
            &policy,
            &format!("From BBC News. {ARTICLE}"),
            &[source("by-1", "CC-BY-4.0", "T", ARTICLE)],
            &[],
        );
        assert_eq!(by.licence, "CC-BY-4.0");
        let sa = assess(
            &policy,
            &format!("From BBC News. {ARTICLE}"),
            &[source("sa-1", "CC-BY-SA-3.0", "T", ARTICLE)],
            &[],
        );
        assert_eq!(sa.licence, "CC-BY-SA-4.0");
    }

    #[test]
    fn facts_without_copying_do_not_restrict_the_licence() {
        let policy = Policy::default();
        let out = "Equity prices climbed after the bank kept borrowing costs unchanged.";
        let a = assess(
            &policy,
            out,
            &[source("bbc-1", "all-rights-reserved", "T", ARTICLE)],
            &[],
        );
        assert_eq!(a.sources[0].copied_words, 0);
        assert_eq!(a.licence, "CC0-1.0");
    }

    #[test]
    fn share_alike_cannot_meet_reserved_or_no_derivatives() {
        let policy = Policy::default();
        let other = "Miners fell back as metal prices slipped in Asian trading overnight while banks led the gains.";
        let out = format!("BBC News reports. {ARTICLE} {other}");
        let a = assess(
            &policy,
            &out,
            &[
                source("sa-1", "CC-BY-SA-4.0", "T", ARTICLE),
                source("nd-1", "CC-BY-ND-4.0", "U", other),
            ],
            &[],
        );
        assert_eq!(a.conflicts.len(), 1, "{:?}", a.conflicts);
        assert_eq!(a.licence, policy.platform_terms);
    }

    #[test]
    fn parents_pass_their_restrictions_on() {
        let policy = Policy::default();
        let nd = SourceRights {
            item_id: "p".into(),
            licence: "CC-BY-ND-4.0".into(),
            creator: String::new(),
        };
        let a = assess(&policy, "A rewrite.", &[], std::slice::from_ref(&nd));
        assert_eq!(a.conflicts.len(), 1);
        let platform = SourceRights {
            licence: policy.platform_terms.clone(),
            ..nd.clone()
        };
        let a = assess(&policy, "A rewrite of a rewrite.", &[], &[platform]);
        assert_eq!(
            a.licence, policy.platform_terms,
            "an edit of an edit keeps its ancestor's terms"
        );
        let sa = SourceRights {
            licence: "CC-BY-SA-4.0".into(),
            ..nd
        };
        assert_eq!(assess(&policy, "x", &[], &[sa]).licence, "CC-BY-SA-4.0");
    }

    #[test]
    fn grants_and_operator_lists_override_the_class() {
        let mut policy = Policy::default();
        policy.grants.push(Grant {
            creator: "BBC News".into(),
            item_prefix: String::new(),
            allowance: Allowance {
                use_: Use::Quote,
                max_words: 200,
                attribution: true,
            },
            counts_as: String::new(),
        });
        policy
            .classes
            .insert(Class::PublicDomain, vec!["LicenseRef-gutenberg".into()]);
        policy.validate().unwrap();
        let a = assess(
            &policy,
            &format!("BBC News: {ARTICLE}"),
            &[source("bbc-1", "all-rights-reserved", "T", ARTICLE)],
            &[],
        );
        assert_eq!(a.sources[0].excess_words(), 0);
        assert_eq!(
            policy.terms("licenseref-gutenberg").class(),
            Class::PublicDomain
        );
        policy.grants[0].creator.clear();
        assert_eq!(policy.validate(), Err(PolicyError::GrantMatchesNothing(0)));
    }
}
