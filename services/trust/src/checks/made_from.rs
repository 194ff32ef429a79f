//! What generated content was made from: the licence it gets and the
//! ingredients its manifest lists.
//!
//! One assessment under the bundle's `[copyright.licence]` rules
//! ([`generec_licence::assess`]) gives both:
//! - each parent (the item an edit repurposes) is a `parentOf` ingredient
//!   with the licence the review was told;
//! - each cited item (the review's source passages, grouped by item) that
//!   is not a parent is an `inputTo` ingredient with its licence and
//!   creator, and the spans of the content it supports: the words copied
//!   from it (runs of `min_run_words` or more) and the sentences the
//!   authenticity rules find supported by one of its passages;
//! - the licence is the most restrictive result of what the content copies
//!   and of its parents.
//!
//! A passage's `content_sha256` (the corpus's hash of the item) goes into
//! the item's ingredient, so the corpus can check that the ingredient is
//! the item it holds.

use generec_provenance::manifest::{INPUT_TO, Ingredient, PARENT_OF};

use super::ReviewContext;
use super::authenticity;

/// One ingredient as the review measured it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MadeFrom {
    pub ingredient: Ingredient,
    /// Words copied verbatim from it.
    pub copied_words: usize,
}

/// The licence and ingredients of generated `content`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    pub licence: String,
    pub made_from: Vec<MadeFrom>,
}

/// Assesses generated `content` in `ctx` (see the module docs). `support`
/// finds the sentences each source supports; `None` leaves only the copied
/// spans.
pub fn assess(
    policy: &generec_licence::Policy,
    support: Option<&authenticity::Compiled>,
    content: &str,
    ctx: &ReviewContext,
) -> Provenance {
    let (sources, parents) = super::copyright::licence_inputs(ctx);
    let assessment = generec_licence::assess(policy, content, &sources, &parents);
    let supported = support
        .and_then(|a| a.assess(content, ctx))
        .map(|a| a.sentences)
        .unwrap_or_default();
    let first_stated = |item: &str, field: fn(&super::Source) -> &str| {
        ctx.sources
            .iter()
            .filter(|s| s.item() == item)
            .map(field)
            .find(|v| !v.is_empty())
            .unwrap_or_default()
            .to_string()
    };
    let mut made_from = Vec::with_capacity(ctx.parents.len() + assessment.sources.len());
    for p in &ctx.parents {
        made_from.push(MadeFrom {
            ingredient: Ingredient {
                item_id: p.id.clone(),
                content_sha256: first_stated(&p.id, |s| &s.content_sha256),
                relationship: PARENT_OF.into(),
                licence: p.licence.clone(),
                creator_id: first_stated(&p.id, |s| &s.creator),
                spans: Vec::new(),
            },
            copied_words: 0,
        });
    }
    for u in &assessment.sources {
        if ctx.parents.iter().any(|p| p.id == u.item_id) {
            continue;
        }
        let mut spans: Vec<(usize, usize)> = u.spans.clone();
        spans.extend(
            supported
                .iter()
                .filter(|s| {
                    s.supported
                        && s.source_id.as_deref().is_some_and(|id| {
                            ctx.sources
                                .iter()
                                .any(|p| p.id == id && p.item() == u.item_id)
                        })
                })
                .map(|s| s.span),
        );
        made_from.push(MadeFrom {
            ingredient: Ingredient {
                item_id: u.item_id.clone(),
                content_sha256: first_stated(&u.item_id, |s| &s.content_sha256),
                relationship: INPUT_TO.into(),
                licence: u.licence.clone(),
                creator_id: first_stated(&u.item_id, |s| &s.creator),
                spans: merged(spans),
            },
            copied_words: u.copied_words,
        });
    }
    Provenance {
        licence: assessment.licence,
        made_from,
    }
}

/// Sorted byte ranges with overlapping and touching ones joined.
fn merged(mut spans: Vec<(usize, usize)>) -> Vec<(u64, u64)> {
    spans.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        let (s, e) = (s as u64, e as u64);
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{CompileEnv, Parent, Source};
    use generec_common::types::Origin;

    const ARTICLE: &str = "Shares in London rose sharply on Tuesday after the central bank held interest rates at five percent. Miners fell back as metal prices slipped in Asian trading overnight.";
    const NOVEL: &str = "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.";

    fn context() -> ReviewContext {
        ReviewContext {
            origin: Some(Origin::AiCreated),
            sources: vec![
                Source {
                    id: "bbc-1#0".into(),
                    text: ARTICLE.into(),
                    licence: "all-rights-reserved".into(),
                    creator: "bbc-news".into(),
                    title: "Shares rise".into(),
                    content_sha256: "ab".repeat(32),
                    ..Source::default()
                },
                Source {
                    id: "austen-1#0".into(),
                    text: NOVEL.into(),
                    licence: "public-domain".into(),
                    creator: "jane-austen".into(),
                    title: "Pride and Prejudice".into(),
                    ..Source::default()
                },
            ],
            ..ReviewContext::default()
        }
    }

    #[test]
    fn each_cited_item_is_an_input_with_the_spans_it_supports() {
        let support = authenticity::Compiled::compile(
            &authenticity::Config::default(),
            &CompileEnv::default(),
        )
        .unwrap();
        let content = format!(
            "From Shares rise (bbc-news): shares in London rose sharply on Tuesday. {NOVEL}"
        );
        let p = assess(
            &generec_licence::Policy::default(),
            Some(&support),
            &content,
            &context(),
        );
        assert_eq!(p.made_from.len(), 2, "{p:?}");
        let bbc = &p.made_from[0];
        assert_eq!(bbc.ingredient.item_id, "bbc-1");
        assert_eq!(bbc.ingredient.relationship, INPUT_TO);
        assert_eq!(bbc.ingredient.licence, "all-rights-reserved");
        assert_eq!(bbc.ingredient.creator_id, "bbc-news");
        assert_eq!(bbc.ingredient.content_sha256, "ab".repeat(32));
        let first_sentence = content.find(" It is").unwrap() as u64;
        assert!(
            bbc.ingredient
                .spans
                .iter()
                .all(|&(_, e)| e <= first_sentence),
            "{bbc:?}"
        );
        assert!(bbc.copied_words >= 5);
        let novel = &p.made_from[1];
        assert_eq!(novel.ingredient.licence, "public-domain");
        assert!(novel.copied_words >= 20);
        assert_eq!(
            novel.ingredient.spans.last().map(|s| s.1),
            Some(content.len() as u64)
        );
        assert_eq!(p.licence, "LicenseRef-generec-platform-terms");
    }

    #[test]
    fn parents_come_first_and_are_not_listed_twice() {
        let mut ctx = context();
        ctx.origin = Some(Origin::AiEdited);
        ctx.parents = vec![Parent {
            id: "austen-1".into(),
            licence: "public-domain".into(),
            owner_consent: false,
        }];
        let p = assess(&generec_licence::Policy::default(), None, NOVEL, &ctx);
        let ids: Vec<(&str, &str)> = p
            .made_from
            .iter()
            .map(|m| {
                (
                    m.ingredient.item_id.as_str(),
                    m.ingredient.relationship.as_str(),
                )
            })
            .collect();
        assert_eq!(ids, [("austen-1", PARENT_OF), ("bbc-1", INPUT_TO)]);
        assert_eq!(p.made_from[0].ingredient.creator_id, "jane-austen");
        assert_eq!(p.licence, "CC0-1.0");
    }

    #[test]
    fn spans_are_merged() {
        assert_eq!(
            merged(vec![(10, 20), (0, 5), (5, 8), (15, 30), (40, 41)]),
            vec![(0, 8), (10, 30), (40, 41)]
        );
    }
}
