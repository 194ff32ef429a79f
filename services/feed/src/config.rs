//! The `[feed]` configuration: where the other services are, the deadlines
//! a feed request runs under, and the feed rules.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::FeedError;

/// How much of the second loop a feed runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoopMode {
    /// Retrieval only: no instructor and no generation; an instruction
    /// only steers the corpus's search and recommendations.
    Retrieve,
    /// The instructor, and edits of existing items; nothing new is created.
    Edit,
    /// The instructor, edits and new items.
    #[default]
    Full,
}

impl LoopMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LoopMode::Retrieve => "retrieve",
            LoopMode::Edit => "edit",
            LoopMode::Full => "full",
        }
    }
}

/// Settings of the feed service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedConfig {
    /// How much of the second loop runs (`retrieve`, `edit`, `full`); the
    /// evaluation compares them on one population.
    pub loop_mode: LoopMode,
    /// The corpus service (`http://host:port`).
    pub corpus_url: String,
    /// The trust service.
    pub trust_url: String,
    /// The generation service.
    pub generation_url: String,
    /// Environment variable holding the bearer token the feed presents to
    /// the other services (read by the binary, not by this crate).
    pub token_env: String,
    /// The deadline of a GetFeed without `grpc-timeout`, in milliseconds.
    pub default_deadline_ms: u64,
    /// The longest deadline a request may ask for, in milliseconds.
    pub max_deadline_ms: u64,
    /// The share of a GetFeed's deadline that generation may take before
    /// the feed answers with the retrieved part ("generation pending").
    pub generation_budget_share: f64,
    /// How long a generation may run in the background, in milliseconds
    /// (its downstream calls carry what is left of this).
    pub background_timeout_ms: u64,
    /// The largest share of a feed's items that may be generated; the item
    /// made for the request itself is always allowed.
    pub generated_share_cap: f64,
    /// The most items of one creator in one feed; 0 for no limit.
    pub max_per_creator: usize,
    /// Items at least this similar (title word Jaccard, or containment of
    /// body word trigrams) to one ranked above are near-duplicates and left
    /// out. In (0, 1].
    pub near_duplicate_similarity: f64,
    /// Candidates retrieved per requested item (before checks and rules).
    pub candidates_per_item: usize,
    /// The most candidates retrieved for one feed.
    pub max_candidates: usize,
    /// How long an allowing or refusing verdict of a retrieved item is
    /// reused (by content hash), in milliseconds.
    pub verdict_ttl_ms: u64,
    /// The most verdicts cached.
    pub verdict_cache_entries: usize,
    /// How long trust's public keys are cached, in milliseconds (an unknown
    /// key id refreshes them sooner).
    pub keys_ttl_ms: u64,
    /// How often trust's active policy bundle (and whether trust is up) is
    /// refreshed in the background, in milliseconds. A feed uses the last
    /// view while it is younger than three intervals; a failed refresh
    /// drops it, so the next feed asks trust itself and reports it down.
    pub trust_refresh_ms: u64,
    /// Feedback signals kept per session (the instructor sees them).
    pub session_signals: usize,
    /// Sessions kept in memory; the least recently used is dropped.
    pub max_sessions: usize,
    /// Items shown to a user whose tags the session keeps (to tell what a
    /// streak of skips was about), newest first.
    pub shown_memory: usize,
    /// Background generations one user may have running.
    pub max_jobs_per_user: usize,
    /// Background generations running at once, for every user.
    pub max_jobs: usize,
    /// The creator id generated items are stored under.
    pub creator_id: String,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            loop_mode: LoopMode::Full,
            corpus_url: "http://127.0.0.1:50051".into(),
            trust_url: "http://127.0.0.1:50052".into(),
            generation_url: "http://127.0.0.1:50053".into(),
            token_env: "GENEREC_FEED_TOKEN".into(),
            default_deadline_ms: 2_000,
            max_deadline_ms: 60_000,
            generation_budget_share: 0.6,
            background_timeout_ms: 30_000,
            generated_share_cap: 0.3,
            max_per_creator: 3,
            near_duplicate_similarity: 0.8,
            candidates_per_item: 3,
            max_candidates: 60,
            verdict_ttl_ms: 10 * 60 * 1000,
            verdict_cache_entries: 50_000,
            keys_ttl_ms: 60_000,
            trust_refresh_ms: 100,
            session_signals: 256,
            max_sessions: 100_000,
            shown_memory: 64,
            max_jobs_per_user: 2,
            max_jobs: 8,
            creator_id: "generec".into(),
        }
    }
}

impl FeedConfig {
    /// Checks the settings, naming the first bad one.
    pub fn validate(&self) -> Result<(), FeedError> {
        for (field, url) in [
            ("feed.corpus_url", &self.corpus_url),
            ("feed.trust_url", &self.trust_url),
            ("feed.generation_url", &self.generation_url),
        ] {
            if tonic::transport::Endpoint::from_shared(url.clone()).is_err() {
                return Err(FeedError::invalid(field, format!("{url:?} is not a URL")));
            }
        }
        if self.default_deadline_ms == 0 || self.default_deadline_ms > self.max_deadline_ms {
            return Err(FeedError::invalid(
                "feed.default_deadline_ms",
                "must be between 1 and feed.max_deadline_ms",
            ));
        }
        let shares = [
            ("feed.generation_budget_share", self.generation_budget_share),
            ("feed.generated_share_cap", self.generated_share_cap),
        ];
        for (field, v) in shares {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(FeedError::invalid(
                    field,
                    format!("must lie in [0, 1], got {v}"),
                ));
            }
        }
        let s = self.near_duplicate_similarity;
        if !(s.is_finite() && s > 0.0 && s <= 1.0) {
            return Err(FeedError::invalid(
                "feed.near_duplicate_similarity",
                format!("must lie in (0, 1], got {s}"),
            ));
        }
        let positive = [
            (
                "feed.background_timeout_ms",
                self.background_timeout_ms as usize,
            ),
            ("feed.candidates_per_item", self.candidates_per_item),
            ("feed.max_candidates", self.max_candidates),
            ("feed.verdict_cache_entries", self.verdict_cache_entries),
            ("feed.trust_refresh_ms", self.trust_refresh_ms as usize),
            ("feed.session_signals", self.session_signals),
            ("feed.max_sessions", self.max_sessions),
            ("feed.shown_memory", self.shown_memory),
            ("feed.max_jobs_per_user", self.max_jobs_per_user),
            ("feed.max_jobs", self.max_jobs),
        ];
        for (field, v) in positive {
            if v == 0 {
                return Err(FeedError::invalid(field, "must be at least 1"));
            }
        }
        if self.max_candidates > 1000 {
            return Err(FeedError::invalid(
                "feed.max_candidates",
                "must be at most 1000",
            ));
        }
        if self.session_signals > 256 {
            return Err(FeedError::invalid(
                "feed.session_signals",
                "must be at most 256 (what the instructor accepts)",
            ));
        }
        if self.creator_id.is_empty() || self.creator_id.contains(char::is_whitespace) {
            return Err(FeedError::invalid(
                "feed.creator_id",
                "must be non-empty, without whitespace",
            ));
        }
        Ok(())
    }

    /// The default deadline.
    pub fn default_deadline(&self) -> Duration {
        Duration::from_millis(self.default_deadline_ms)
    }

    /// The longest deadline.
    pub fn max_deadline(&self) -> Duration {
        Duration::from_millis(self.max_deadline_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_unknown_fields_are_refused() {
        FeedConfig::default().validate().unwrap();
        let cfg: FeedConfig = toml::from_str("generated_share_cap = 0.5").unwrap();
        assert_eq!(cfg.generated_share_cap, 0.5);
        assert_eq!(cfg.max_per_creator, 3);
        let err = toml::from_str::<FeedConfig>("generated_share = 0.5").unwrap_err();
        assert!(err.to_string().contains("generated_share"), "{err}");
    }

    #[test]
    fn bad_settings_are_refused_by_name() {
        let cases: Vec<(FeedConfig, &str)> = vec![
            (
                FeedConfig {
                    generation_budget_share: 1.5,
                    ..FeedConfig::default()
                },
                "generation_budget_share",
            ),
            (
                FeedConfig {
                    generated_share_cap: f64::NAN,
                    ..FeedConfig::default()
                },
                "generated_share_cap",
            ),
            (
                FeedConfig {
                    near_duplicate_similarity: 0.0,
                    ..FeedConfig::default()
                },
                "near_duplicate_similarity",
            ),
            (
                FeedConfig {
                    default_deadline_ms: 0,
                    ..FeedConfig::default()
                },
                "default_deadline_ms",
            ),
            (
                FeedConfig {
                    corpus_url: "not a url".into(),
                    ..FeedConfig::default()
                },
                "corpus_url",
            ),
            (
                FeedConfig {
                    shown_memory: 0,
                    ..FeedConfig::default()
                },
                "shown_memory",
            ),
            (
                FeedConfig {
                    max_jobs: 0,
                    ..FeedConfig::default()
                },
                "max_jobs",
            ),
        ];
        for (cfg, field) in cases {
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
    }
}
