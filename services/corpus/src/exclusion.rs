//! Excluded clauses (`-word`, `-"a phrase"`, `-0-0`) run behind a wrapper
//! that only ever seeks forward.
//!
//! tantivy 0.27's exclusion probes the excluded scorer with
//! `seek_danger(target)` even when that scorer is already past `target` (for
//! instance a phrase with no match in a segment, which starts terminated).
//! Its phrase scorer asserts `target >= doc()` there, so an excluded phrase
//! that matches nothing panics any build with debug assertions (upstream
//! issue quickwit-oss/tantivy#2811; the answer is right in release builds).
//! The wrapper answers `seek_danger` from the plain `DocSet` contract (seek
//! only when behind, compare), which gives the same answer without the
//! backwards probe, so a query behaves the same in every build.

use tantivy::query::{
    BooleanQuery, BoostQuery, EnableScoring, Explanation, Occur, Query, QueryParser,
    QueryParserError, Scorer, Weight,
};
use tantivy::query_grammar::UserInputAst;
use tantivy::{DocId, DocSet, Score, SegmentReader};

/// Builds a parsed query, wrapping every excluded sub-query (at any depth)
/// so that it is only ever sought forward. Parts that hold no exclusion are
/// built by the parser unchanged.
pub fn build(parser: &QueryParser, ast: UserInputAst) -> Result<Box<dyn Query>, QueryParserError> {
    match ast {
        UserInputAst::Clause(clauses) if clauses.iter().any(excluding) => {
            let mut built: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(clauses.len());
            for (occur, sub) in clauses {
                let query = build(parser, sub)?;
                built.push(match occur {
                    Some(Occur::MustNot) => (Occur::MustNot, Box::new(ForwardOnly(query))),
                    Some(Occur::Must) => (Occur::Must, query),
                    // The parser's default (disjunction) for a bare clause.
                    Some(Occur::Should) | None => (Occur::Should, query),
                });
            }
            Ok(Box::new(BooleanQuery::new(built)))
        }
        UserInputAst::Boost(inner, boost) if excludes(&inner) => Ok(Box::new(BoostQuery::new(
            build(parser, *inner)?,
            boost.into_inner() as Score,
        ))),
        other => parser.build_query_from_user_input_ast(other),
    }
}

/// Whether any clause of the query, at any depth, is an exclusion.
pub fn excludes(ast: &UserInputAst) -> bool {
    match ast {
        UserInputAst::Clause(clauses) => clauses.iter().any(excluding),
        UserInputAst::Boost(inner, _) => excludes(inner),
        UserInputAst::Leaf(_) => false,
    }
}

/// Whether a clause is an exclusion or holds one at any depth.
fn excluding((occur, sub): &(Option<Occur>, UserInputAst)) -> bool {
    *occur == Some(Occur::MustNot) || excludes(sub)
}

/// A query whose scorers answer `seek_danger` by seeking forward only.
#[derive(Debug)]
struct ForwardOnly(Box<dyn Query>);

impl Clone for ForwardOnly {
    fn clone(&self) -> Self {
        Self(self.0.box_clone())
    }
}

impl Query for ForwardOnly {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(ForwardOnlyWeight(self.0.weight(enable_scoring)?)))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a tantivy::Term, bool)) {
        self.0.query_terms(visitor);
    }
}

struct ForwardOnlyWeight(Box<dyn Weight>);

impl Weight for ForwardOnlyWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(ForwardOnlyScorer(self.0.scorer(reader, boost)?)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.0.explain(reader, doc)
    }
}

struct ForwardOnlyScorer(Box<dyn Scorer>);

impl DocSet for ForwardOnlyScorer {
    fn advance(&mut self) -> DocId {
        self.0.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.0.doc() >= target {
            return self.0.doc();
        }
        self.0.seek(target)
    }

    fn doc(&self) -> DocId {
        self.0.doc()
    }

    fn size_hint(&self) -> u32 {
        self.0.size_hint()
    }

    fn cost(&self) -> u64 {
        self.0.cost()
    }
}

impl Scorer for ForwardOnlyScorer {
    fn score(&mut self) -> Score {
        self.0.score()
    }
}
