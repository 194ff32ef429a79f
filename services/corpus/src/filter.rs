//! Filters on item metadata, shared by Search (as index clauses) and
//! Recommend (checked against the in-memory catalogue).

use crate::error::CorpusError;
use crate::model::{ItemKind, Origin, check_licence, limits};

/// Which items a request wants. Empty lists match everything; several
/// values in one list match any of them; the lists combine with AND.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filters {
    pub kinds: Vec<ItemKind>,
    pub origins: Vec<Origin>,
    /// Lower-cased tags.
    pub tags: Vec<String>,
    pub licences: Vec<String>,
    /// Half-open `[start, end)` range of creation times in Unix ms.
    pub created_from: Option<i64>,
    pub created_until: Option<i64>,
}

/// The metadata a filter looks at.
pub trait Filterable {
    fn kind(&self) -> ItemKind;
    fn origin(&self) -> Origin;
    fn has_tag(&self, lower_case_tag: &str) -> bool;
    fn licence(&self) -> &str;
    fn created_unix_ms(&self) -> i64;
}

impl Filters {
    /// Builds filters, checking the time range and value sizes.
    pub fn new(
        kinds: Vec<ItemKind>,
        origins: Vec<Origin>,
        tags: Vec<String>,
        licences: Vec<String>,
        created_from: Option<i64>,
        created_until: Option<i64>,
    ) -> Result<Self, CorpusError> {
        if let (Some(from), Some(until)) = (created_from, created_until)
            && from >= until
        {
            return Err(CorpusError::invalid(
                "filters.created",
                format!("start {from} must lie before end {until}"),
            ));
        }
        if created_from.is_some_and(|t| t < 0) || created_until.is_some_and(|t| t < 0) {
            return Err(CorpusError::invalid(
                "filters.created",
                "times must not be negative",
            ));
        }
        for tag in &tags {
            if tag.is_empty() || tag.len() > limits::MAX_TAG_BYTES {
                return Err(CorpusError::invalid(
                    "filters.tags",
                    "a tag is empty or too long",
                ));
            }
        }
        for licence in &licences {
            check_licence("filters.licences", licence)?;
        }
        Ok(Filters {
            kinds,
            origins,
            tags: tags.into_iter().map(|t| t.to_lowercase()).collect(),
            licences,
            created_from,
            created_until,
        })
    }

    /// Whether nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self == &Filters::default()
    }

    /// Whether an item passes every filter.
    pub fn matches(&self, item: &impl Filterable) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&item.kind()))
            && (self.origins.is_empty() || self.origins.contains(&item.origin()))
            && (self.tags.is_empty() || self.tags.iter().any(|t| item.has_tag(t)))
            && (self.licences.is_empty() || self.licences.iter().any(|l| l == item.licence()))
            && self
                .created_from
                .is_none_or(|from| item.created_unix_ms() >= from)
            && self
                .created_until
                .is_none_or(|until| item.created_unix_ms() < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Meta;
    impl Filterable for Meta {
        fn kind(&self) -> ItemKind {
            ItemKind::Video
        }
        fn origin(&self) -> Origin {
            Origin::AiCreated
        }
        fn has_tag(&self, t: &str) -> bool {
            t == "sport"
        }
        fn licence(&self) -> &str {
            "CC-BY-4.0"
        }
        fn created_unix_ms(&self) -> i64 {
            100
        }
    }

    #[test]
    fn lists_match_any_value_and_combine_with_and() {
        let f = Filters::new(
            vec![ItemKind::Article, ItemKind::Video],
            vec![],
            vec!["Sport".into()],
            vec![],
            Some(100),
            Some(101),
        )
        .unwrap();
        assert!(f.matches(&Meta));
        let f = Filters::new(
            vec![ItemKind::Video],
            vec![Origin::Human],
            vec![],
            vec![],
            None,
            None,
        )
        .unwrap();
        assert!(!f.matches(&Meta));
        let f = Filters::new(vec![], vec![], vec![], vec![], Some(101), None).unwrap();
        assert!(!f.matches(&Meta));
        assert!(Filters::default().matches(&Meta));
    }

    #[test]
    fn an_inverted_time_range_is_refused() {
        let err = Filters::new(vec![], vec![], vec![], vec![], Some(5), Some(5)).unwrap_err();
        assert!(err.to_string().contains("filters.created"), "{err}");
    }
}
