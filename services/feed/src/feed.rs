//! The feed loop: retrieve, decide, generate, check, certify, store, rank.
//!
//! # One GetFeed
//! 1. In parallel: candidates from the corpus (`Recommend` with the
//!    instruction as free text and the items' records, `Search` when there
//!    is an instruction, the context item); trust's active policy bundle
//!    and published keys, from a view refreshed in the background (a
//!    failed refresh drops it, which is how the feed learns trust is down).
//! 2. Every candidate is admitted or not ([`crate::admit`]): a cached or
//!    fresh trust verdict that allows it, and for a generated item a
//!    manifest that verifies. These reviews run while generation's
//!    instructor `Interpret`s the instruction, the session's feedback and
//!    the candidates.
//! 3. On an edit or a creation, a generation job starts (see below). The
//!    request waits for it until `generation_budget_share` of its deadline
//!    has passed; then it answers with the retrieved part ("generation
//!    pending") and the job's item waits in the session for the next
//!    GetFeed (and goes out on WatchFeed).
//! 4. The feed rules ([`crate::rules`]) rank what was admitted.
//!
//! # A generation job
//! generation `Edit` or `Create` → trust `Review` of the draft's text
//! (title, blank line, body; with kind, origin, parents, sources,
//! instruction and user) → only on allow or allow with label: trust
//! `Certify` of the same text → the manifest is checked against trust's
//! published keys → corpus `PutItems` (the corpus checks it again) → an
//! entry labelled generated. The in-text mark is moved to the start of the
//! body so it does not split the title's first word in the index; the bound
//! text is unchanged because binding ignores marks. A job runs under its own
//! deadline (`background_timeout_ms`), so it can finish after the request
//! that started it.
//!
//! # Deadlines and failures
//! Every downstream call carries the time left before its deadline
//! (`grpc-timeout`) and is cut off there. The request stops waiting a
//! margin before its deadline (a fifth of it, 10 to 150 ms), which is left
//! for ranking and the response. Failures fail closed:
//! - corpus down: `Unavailable` (there is nothing checked to show);
//! - trust down: no generated item (none can be reviewed, certified or
//!   verified) and retrieved items only with a fresh cached allowing
//!   verdict; the feed says it is degraded;
//! - generation down: retrieved items only, degraded;
//! - a candidate whose review does not come back in time is left out.
//!
//! The other services are reached through [`crate::api`]'s traits
//! (`Feed::new` over gRPC, `Feed::with_services` over anything else).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use generec_common::remote::{RemoteError, RemoteKind};
use generec_common::types::Origin;
use generec_corpus::model::Item;
use generec_corpus::provenance::{Rejection, TrustedKeys, provenance_text};
use generec_proto::generation::v1 as gen_pb;
use generec_proto::trust::v1 as trust_pb;
use tokio::sync::{Semaphore, broadcast, oneshot};
use tokio::task::JoinSet;

use crate::admit::{self, KeyCache, VerdictCache, verify_generated};
use crate::api::{RecommendAsk, Services, Stored};
use crate::config::{FeedConfig, LoopMode};
use crate::error::FeedError;
use crate::metrics::{ListMetrics, Totals};
use crate::model::{
    Allowed, Entry, FeedEvent, FeedPage, FeedRequest, GenerationStatus, InstructRequest,
    Instructed, Signal, Verified,
};
use crate::rules::{self, Rules};
use crate::session::Sessions;
use crate::text::{FeatureCache, Features};

/// Most text of a candidate the instructor reads.
const CANDIDATE_TEXT_BYTES: usize = 2_000;
/// Least time between two forced refreshes of trust's keys.
const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// Items whose text features the feed keeps (each some kilobytes: the
/// title words and up to 400 body trigrams).
const FEATURE_CACHE_ENTRIES: usize = 2_048;
/// Most words of an instruction sent to corpus Search.
const MAX_QUERY_WORDS: usize = 32;

/// A retrieved candidate.
#[derive(Clone, Debug)]
struct Candidate {
    item: Item,
    score: f32,
    why: &'static str,
}

/// What admitting one candidate found.
enum Admission {
    In(Box<Entry>),
    /// Trust's verdict does not allow it, or its manifest does not verify.
    Out,
    /// Trust could not be asked and no fresh verdict was cached.
    Unchecked(String),
}

/// What the feed knows of trust for one request: the active policy
/// bundle's hash and the published keys.
#[derive(Clone, Debug)]
struct TrustView {
    bundle: String,
    keys: Arc<TrustedKeys>,
}

/// What a generation job makes.
#[derive(Clone, Debug)]
enum JobAction {
    Edit { target: String },
    Create,
}

#[derive(Clone, Debug)]
struct JobSpec {
    user_id: String,
    action: JobAction,
    guidance: gen_pb::Guidance,
    instruction: String,
    trigger: i32,
    explanation: String,
    liked: Vec<String>,
}

type JobResult = Result<Entry, String>;

/// A retrieved id, its score and why, before its record is read.
type Pick = (String, f32, &'static str);

/// The feed service's core: see the module docs.
pub struct Feed {
    config: FeedConfig,
    rules: Rules,
    services: Services,
    verdicts: VerdictCache,
    /// The feed rules' text features of ranked items.
    features: FeatureCache,
    keys: KeyCache,
    /// The last view of trust and when it was taken (see
    /// `FeedConfig::trust_refresh_ms`).
    view: std::sync::Mutex<Option<(TrustView, Instant)>>,
    /// Whether the background refresh of `view` runs.
    refreshing: std::sync::atomic::AtomicBool,
    sessions: Sessions,
    totals: std::sync::Mutex<Totals>,
    jobs: Arc<Semaphore>,
    job_seq: AtomicU64,
}

fn verdict_name(v: trust_pb::Verdict) -> &'static str {
    match v {
        trust_pb::Verdict::Allow => "allow",
        trust_pb::Verdict::AllowWithLabel => "allow_with_label",
        trust_pb::Verdict::Redact => "redact",
        trust_pb::Verdict::Review => "review",
        trust_pb::Verdict::Block => "block",
        _ => "unspecified",
    }
}

/// The words of an instruction as a plain corpus query (no query syntax).
fn search_query(instruction: &str) -> String {
    instruction
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1)
        .take(MAX_QUERY_WORDS)
        .collect::<Vec<_>>()
        .join(" ")
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The instructor's answer to a feed with nothing to interpret.
pub(crate) fn as_usual() -> gen_pb::InterpretResponse {
    gen_pb::InterpretResponse {
        guidance: Some(gen_pb::Guidance::default()),
        decision: Some(gen_pb::Decision {
            action: gen_pb::Action::Retrieve as i32,
            target_item: String::new(),
            trigger: gen_pb::Trigger::None as i32,
            explanation: "No instruction and no rejection streak, so the feed is ranked as usual."
                .into(),
        }),
    }
}

fn is_empty_guidance(g: &gen_pb::Guidance) -> bool {
    g.include.is_empty() && g.fact_query.trim().is_empty()
}

impl Feed {
    /// Builds the core over gRPC clients of the other services; channels
    /// connect on first use. `token` is presented as a bearer token to them.
    pub fn new(config: FeedConfig, token: Option<String>) -> Result<Arc<Feed>, FeedError> {
        config.validate()?;
        let services = crate::remote::connect(&config, token.as_deref())?;
        Feed::with_services(config, services)
    }

    /// Builds the core over any implementation of the other services
    /// (in-memory ones in tests).
    pub fn with_services(config: FeedConfig, services: Services) -> Result<Arc<Feed>, FeedError> {
        config.validate()?;
        Ok(Arc::new(Feed {
            rules: Rules {
                generated_share_cap: config.generated_share_cap,
                max_per_creator: config.max_per_creator,
                near_duplicate_similarity: config.near_duplicate_similarity,
            },
            verdicts: VerdictCache::new(
                Duration::from_millis(config.verdict_ttl_ms),
                config.verdict_cache_entries,
            ),
            features: FeatureCache::new(FEATURE_CACHE_ENTRIES),
            keys: KeyCache::new(Duration::from_millis(config.keys_ttl_ms)),
            view: std::sync::Mutex::new(None),
            refreshing: std::sync::atomic::AtomicBool::new(false),
            sessions: Sessions::new(config.max_sessions),
            totals: std::sync::Mutex::new(Totals::default()),
            jobs: Arc::new(Semaphore::new(config.max_jobs)),
            job_seq: AtomicU64::new(1),
            services,
            config,
        }))
    }

    /// The configuration.
    pub fn config(&self) -> &FeedConfig {
        &self.config
    }

    /// Exposure and counts over time.
    pub fn totals(&self) -> Totals {
        self.totals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn with_totals(&self, f: impl FnOnce(&mut Totals)) {
        f(&mut self
            .totals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// The deadline of a request that asked for `timeout` (none: the default).
    fn deadline(&self, timeout: Option<Duration>) -> (Instant, Duration) {
        let total = timeout
            .unwrap_or_else(|| self.config.default_deadline())
            .min(self.config.max_deadline());
        (Instant::now() + total, total)
    }

    // -----------------------------------------------------------------
    // Trust's keys and admission
    // -----------------------------------------------------------------

    /// Fetches trust's published keys, bypassing the cache.
    async fn fetch_keys(&self, by: Instant) -> Result<TrustedKeys, String> {
        let published = self
            .services
            .trust
            .public_keys(by)
            .await
            .map_err(|e| e.to_string())?;
        // With the period each key signed in, so a retired key vouches only
        // for what it signed while active.
        let mut keys = TrustedKeys::default();
        keys.extend(published);
        if keys.is_empty() {
            return Err("trust published no public keys".into());
        }
        self.keys.set(keys.clone());
        Ok(keys)
    }

    /// Trust's published keys: cached for `keys_ttl_ms`, else fetched. A
    /// failed fetch is an error even when stale keys are cached.
    async fn trust_keys(&self, by: Instant) -> Result<TrustedKeys, String> {
        match self.keys.fresh() {
            Some(keys) => Ok(keys),
            None => self.fetch_keys(by).await,
        }
    }

    /// Asks trust for its active policy bundle (which is also how the feed
    /// learns that trust is up) and its published keys (cached).
    async fn fetch_view(&self, by: Instant) -> Result<TrustView, String> {
        let (bundle, keys) = tokio::join!(self.services.trust.bundle_hash(by), self.trust_keys(by));
        let bundle = bundle.map_err(|e| e.to_string())?;
        Ok(TrustView {
            bundle,
            keys: Arc::new(keys?),
        })
    }

    fn set_view(&self, view: Option<TrustView>) {
        *self
            .view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = view.map(|v| (v, Instant::now()));
    }

    /// Trust's view for one request: the background refresh's while it is
    /// recent, else asked now (and the refresh started).
    async fn trust_view(self: &Arc<Self>, by: Instant) -> Result<TrustView, String> {
        self.start_refresh();
        let interval = Duration::from_millis(self.config.trust_refresh_ms);
        let cached = self
            .view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .filter(|(_, at)| at.elapsed() < interval * 3)
            .map(|(v, _)| v.clone());
        if let Some(view) = cached {
            return Ok(view);
        }
        let fetched = self.fetch_view(by).await;
        self.set_view(fetched.as_ref().ok().cloned());
        fetched
    }

    /// Starts the background refresh of trust's view once; it stops when
    /// the feed is dropped.
    fn start_refresh(self: &Arc<Self>) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(self);
        let interval = Duration::from_millis(self.config.trust_refresh_ms);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(feed) = weak.upgrade() else { return };
                let view = feed
                    .fetch_view(Instant::now() + interval.max(Duration::from_millis(500)))
                    .await;
                if let Err(reason) = &view {
                    tracing::debug!(%reason, "trust view refresh failed");
                }
                feed.set_view(view.ok());
            }
        });
    }

    /// Verifies a generated item; a manifest signed by a key not yet cached
    /// refreshes the keys once (a rotation).
    async fn verify(
        &self,
        keys: &TrustedKeys,
        item: &Item,
        by: Instant,
    ) -> Result<Verified, Rejection> {
        match verify_generated(keys, item) {
            Err(Rejection::UntrustedKey { key_id })
                if self
                    .keys
                    .age()
                    .is_none_or(|age| age >= KEY_REFRESH_INTERVAL) =>
            {
                match self.fetch_keys(by).await {
                    Ok(fresh) => verify_generated(&fresh, item),
                    Err(_) => Err(Rejection::UntrustedKey { key_id }),
                }
            }
            other => other,
        }
    }

    /// A human candidate whose verdict under the active bundle is cached:
    /// in or out at once, with no task. `Err` gives the candidate back when
    /// it needs [`Feed::admit`].
    fn admit_from_cache(
        &self,
        candidate: Candidate,
        trust: &TrustView,
    ) -> Result<Admission, Box<Candidate>> {
        if candidate.item.origin.is_generated() {
            return Err(Box::new(candidate));
        }
        let Some(verdict) = self
            .verdicts
            .get(&admit::review_key(&candidate.item), Some(&trust.bundle))
        else {
            return Err(Box::new(candidate));
        };
        ::metrics::counter!("generec_feed_verdict_cache_total", "result" => "hit").increment(1);
        Ok(match verdict {
            None => Admission::Out,
            Some(verdict) => Admission::In(Box::new(Entry {
                item: candidate.item,
                verdict,
                provenance: None,
                reason: candidate.why.to_string(),
                trigger: gen_pb::Trigger::None as i32,
                score: candidate.score,
                made_for_you: false,
            })),
        })
    }

    /// Admits a retrieved candidate (see [`crate::admit`]). `trust` is
    /// `None` when trust cannot be asked.
    async fn admit(
        self: Arc<Self>,
        candidate: Candidate,
        trust: Option<TrustView>,
        by: Instant,
    ) -> Admission {
        let item = candidate.item;
        let generated = item.origin.is_generated();
        let key = admit::review_key(&item);
        let Some(trust) = trust else {
            if generated {
                return Admission::Unchecked(
                    "no generated item is shown while trust is down".into(),
                );
            }
            return match self.verdicts.get(&key, None) {
                Some(Some(verdict)) => Admission::In(Box::new(Entry {
                    item,
                    verdict,
                    provenance: None,
                    reason: format!("{} (cached verdict; trust unavailable)", candidate.why),
                    trigger: gen_pb::Trigger::None as i32,
                    score: candidate.score,
                    made_for_you: false,
                })),
                Some(None) => Admission::Out,
                None => Admission::Unchecked("trust unavailable and no cached verdict".into()),
            };
        };
        let provenance = if generated {
            match self.verify(&trust.keys, &item, by).await {
                Ok(v) => Some(v),
                Err(rejection) => {
                    tracing::warn!(item = %item.id, %rejection, "a retrieved generated item's manifest does not verify");
                    return Admission::Out;
                }
            }
        } else {
            None
        };
        let cached = self.verdicts.get(&key, Some(&trust.bundle));
        ::metrics::counter!("generec_feed_verdict_cache_total", "result" => if cached.is_some() { "hit" } else { "miss" })
            .increment(1);
        let verdict = match cached {
            Some(v) => v,
            None => {
                let context = trust_pb::ReviewContext {
                    kind: item.kind.to_proto(),
                    user_id: String::new(),
                    origin: if generated {
                        0
                    } else {
                        Origin::Human.to_proto()
                    },
                    parents: vec![],
                    sources: vec![],
                    instruction: String::new(),
                    framing: vec![],
                };
                let ask = trust_pb::ReviewRequest {
                    content: item.provenance_text(),
                    context: Some(context),
                };
                match self.services.trust.review(ask, by).await {
                    Ok(r) => {
                        let v = Allowed::from_trust(r.verdict as i32);
                        if v.is_none() {
                            tracing::info!(item = %item.id, verdict = r.verdict.as_str_name(), "trust did not allow a retrieved item");
                        }
                        self.verdicts.put(key, v, &r.bundle_hash);
                        v
                    }
                    Err(e) if e.is_unavailable() => {
                        return Admission::Unchecked(e.to_string());
                    }
                    Err(e) => {
                        tracing::warn!(item = %item.id, error = %e, "a retrieved item could not be reviewed");
                        None
                    }
                }
            }
        };
        let Some(verdict) = verdict else {
            return Admission::Out;
        };
        let reason = if generated {
            format!("{} (generated; manifest verified)", candidate.why)
        } else {
            candidate.why.to_string()
        };
        Admission::In(Box::new(Entry {
            item,
            verdict,
            provenance,
            reason,
            trigger: gen_pb::Trigger::None as i32,
            score: candidate.score,
            made_for_you: false,
        }))
    }

    // -----------------------------------------------------------------
    // Retrieval
    // -----------------------------------------------------------------

    /// Candidates for a user, best first, and the context item.
    async fn retrieve(
        &self,
        user_id: &str,
        count: usize,
        instruction: &str,
        context_item_id: Option<&str>,
        by: Instant,
    ) -> Result<(Vec<Candidate>, Option<Item>), FeedError> {
        let pool = (count * self.config.candidates_per_item)
            .clamp(count, self.config.max_candidates.max(count));
        let corpus = &self.services.corpus;
        let ask = RecommendAsk {
            user_id: user_id.to_string(),
            count: pool,
            exclude_ids: context_item_id.map(str::to_string).into_iter().collect(),
            text: instruction.to_string(),
            with_items: true,
        };
        let recommend = corpus.recommend(ask.clone(), by);
        let query = search_query(instruction);
        let search = async {
            if query.is_empty() {
                None
            } else {
                Some(corpus.search(&query, (pool / 2).max(5), by).await)
            }
        };
        let context = async {
            match context_item_id {
                Some(id) => Some(corpus.get_item(id, by).await),
                None => None,
            }
        };
        let (recommended, searched, context) = tokio::join!(recommend, search, context);
        let mut recommended =
            recommended.map_err(|e| FeedError::from_remote(e, "user", user_id, "user_id"))?;
        // Generated items count against the generated share cap, and all of
        // them against one creator: a pool they crowd leaves too few human
        // items to fill the feed. Ask once more, for the widest pool.
        let widest = self.config.max_candidates.max(count);
        if pool < widest && recommended.len() >= pool && human_items(&recommended) < count {
            recommended = corpus
                .recommend(
                    RecommendAsk {
                        count: widest,
                        ..ask
                    },
                    by,
                )
                .await
                .map_err(|e| FeedError::from_remote(e, "user", user_id, "user_id"))?;
            ::metrics::counter!("generec_feed_widened_pools_total").increment(1);
        }
        let context = match context {
            None => None,
            Some(Ok(item)) => Some(item),
            Some(Err(e)) if e.kind() == RemoteKind::NotFound => {
                return Err(FeedError::NotFound {
                    what: "context item",
                    id: context_item_id.unwrap_or_default().to_string(),
                });
            }
            Some(Err(e)) => {
                return Err(FeedError::Unavailable(e.to_string()));
            }
        };
        let searched = match searched {
            Some(Ok(hits)) => hits,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "search for the instruction failed; recommendations only");
                Vec::new()
            }
            None => Vec::new(),
        };
        let (ids, mut by_id) = merge_candidates(
            recommended,
            searched,
            context_item_id,
            self.config.max_candidates.max(count),
        );

        // One call for the items Recommend did not bring.
        let missing: Vec<String> = ids
            .iter()
            .filter(|(id, _, _)| !by_id.contains_key(id))
            .map(|(id, _, _)| id.clone())
            .collect();
        if !missing.is_empty() {
            let fetched = corpus
                .get_items(missing, by)
                .await
                .map_err(|e| FeedError::Unavailable(e.to_string()))?;
            by_id.extend(fetched.into_iter().map(|i| (i.id.as_str().to_string(), i)));
        }
        let candidates = ids
            .into_iter()
            .filter_map(|(id, score, why)| {
                by_id.remove(&id).map(|item| Candidate { item, score, why })
            })
            .collect();
        Ok((candidates, context))
    }

    // -----------------------------------------------------------------
    // The instructor
    // -----------------------------------------------------------------

    /// Whether the instructor could only say "ranked as usual": no
    /// instruction, no item in view and no rejection streak (the one
    /// session signal that makes it act unasked). The round trip is then
    /// skipped.
    fn nothing_to_interpret(&self, req: &FeedRequest) -> bool {
        if self.config.loop_mode == LoopMode::Retrieve {
            return true;
        }
        req.instruction.trim().is_empty()
            && req
                .context_item_id
                .as_deref()
                .is_none_or(|c| c.trim().is_empty())
            && self.sessions.with(&req.user_id, |s| s.rejection_streak()) == 0
    }

    async fn interpret(
        &self,
        user_id: &str,
        instruction: &str,
        context_item_id: Option<&str>,
        candidates: &[Candidate],
        by: Instant,
    ) -> Result<gen_pb::InterpretResponse, RemoteError> {
        let feedback = self.sessions.with(user_id, |s| s.signals());
        let feedback = feedback
            .into_iter()
            .map(|(item_id, signal)| gen_pb::FeedbackSignal {
                item_id,
                kind: signal.to_proto(),
            })
            .collect();
        let candidates = candidates
            .iter()
            .take(256)
            .map(|c| gen_pb::Candidate {
                item_id: c.item.id.to_string(),
                score: c.score,
                title: generec_provenance::watermark::strip(&c.item.title),
                tags: c.item.tags.clone(),
                text: truncate(
                    &generec_provenance::watermark::strip(&c.item.body),
                    CANDIDATE_TEXT_BYTES,
                )
                .to_string(),
                timed: c.item.kind.is_timed(),
            })
            .collect();
        let ask = gen_pb::InterpretRequest {
            user_id: user_id.to_string(),
            instruction: instruction.to_string(),
            context_item_id: context_item_id.unwrap_or_default().to_string(),
            feedback,
            candidates,
        };
        self.services.generation.interpret(ask, by).await
    }

    /// The job an interpretation asks for, if any. A creation with nothing
    /// to create about (a rejection streak, no instruction) is steered to
    /// the most common topic among the candidates that the rejected items
    /// did not have.
    fn job_spec(
        &self,
        user_id: &str,
        instruction: &str,
        interpretation: &gen_pb::InterpretResponse,
        candidates: &[Candidate],
    ) -> Option<JobSpec> {
        let decision = interpretation.decision.clone()?;
        let mut guidance = interpretation.guidance.clone().unwrap_or_default();
        let action = match gen_pb::Action::try_from(decision.action) {
            Ok(gen_pb::Action::Edit) if self.config.loop_mode != LoopMode::Retrieve => {
                JobAction::Edit {
                    target: if decision.target_item.is_empty() {
                        guidance.target_item.clone()
                    } else {
                        decision.target_item.clone()
                    },
                }
            }
            Ok(gen_pb::Action::Create) if self.config.loop_mode == LoopMode::Full => {
                JobAction::Create
            }
            _ => return None,
        };
        let (liked, rejected_tags) = self.sessions.with(user_id, |s| {
            let mut tags: Vec<String> = Vec::new();
            for id in s.rejected() {
                if let Some(t) = s.shown_tags(&id) {
                    tags.extend(t.iter().map(|t| t.to_lowercase()));
                }
            }
            (s.liked(), tags)
        });
        let mut explanation = decision.explanation.clone();
        if matches!(action, JobAction::Create)
            && is_empty_guidance(&guidance)
            && instruction.trim().is_empty()
            && liked.is_empty()
        {
            let mut counts: std::collections::HashMap<String, usize> = Default::default();
            for c in candidates {
                for t in &c.item.tags {
                    *counts.entry(t.to_lowercase()).or_default() += 1;
                }
            }
            let mut topics: Vec<(String, usize)> = counts.into_iter().collect();
            topics.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let fresh = topics
                .iter()
                .find(|(t, _)| !rejected_tags.contains(t))
                .or(topics.first());
            if let Some((topic, _)) = fresh {
                guidance.include = vec![gen_pb::TopicWeight {
                    topic: topic.clone(),
                    weight: 1.0,
                }];
                guidance.fact_query = topic.clone();
                explanation.push_str(&format!(
                    " The feed chose the topic \"{topic}\", which the skipped items did not have."
                ));
            }
        }
        Some(JobSpec {
            user_id: user_id.to_string(),
            action,
            guidance,
            instruction: instruction.to_string(),
            trigger: decision.trigger,
            explanation,
            liked,
        })
    }

    // -----------------------------------------------------------------
    // Generation jobs
    // -----------------------------------------------------------------

    /// Starts a job if the user's and the global limits allow; returns its
    /// id and a receiver of its result.
    fn start_job(
        self: &Arc<Self>,
        spec: JobSpec,
    ) -> Result<(String, oneshot::Receiver<JobResult>), String> {
        let permit = self.jobs.clone().try_acquire_owned().map_err(|_| {
            "the feed is running as many generations as it may; try again".to_string()
        })?;
        if !self
            .sessions
            .start_job(&spec.user_id, self.config.max_jobs_per_user)
        {
            return Err(format!(
                "a generation for user {} is still running",
                spec.user_id
            ));
        }
        let job_id = format!("job-{}", self.job_seq.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        let feed = self.clone();
        let id = job_id.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let user_id = spec.user_id.clone();
            let outcome = feed.run_job(&spec).await;
            match &outcome {
                Ok(entry) => {
                    tracing::info!(job = %id, user = %user_id, item = %entry.item.id, "generated item ready");
                    feed.with_totals(|t| t.generated_items_made += 1);
                }
                Err(reason) => {
                    tracing::info!(job = %id, user = %user_id, %reason, "generation produced nothing to show");
                    feed.with_totals(|t| t.generations_failed += 1);
                }
            }
            // Hand the result to the waiting request; if it stopped waiting,
            // queue the item for the user's next feed.
            let queue = tx.send(outcome.clone()).is_err();
            feed.sessions.finish_job(
                FeedEvent {
                    user_id,
                    job_id: id,
                    outcome,
                },
                queue,
            );
        });
        Ok((job_id, rx))
    }

    /// Edit or create → review → certify → verify → store.
    async fn run_job(&self, spec: &JobSpec) -> JobResult {
        let deadline = Instant::now() + Duration::from_millis(self.config.background_timeout_ms);
        let generation = &self.services.generation;
        let draft = match &spec.action {
            JobAction::Edit { target } => {
                let ask = gen_pb::EditRequest {
                    user_id: spec.user_id.clone(),
                    item_id: target.clone(),
                    guidance: Some(spec.guidance.clone()),
                    instruction: spec.instruction.clone(),
                    liked_item_ids: spec.liked.clone(),
                    owner_consent: false,
                };
                generation.edit(ask, deadline).await
            }
            JobAction::Create => {
                let ask = gen_pb::CreateRequest {
                    user_id: spec.user_id.clone(),
                    guidance: Some(spec.guidance.clone()),
                    instruction: spec.instruction.clone(),
                    backend: 0,
                    liked_item_ids: spec.liked.clone(),
                    max_sources: 0,
                };
                generation.create(ask, deadline).await
            }
        }
        .map_err(|e| e.to_string())?;
        let draft = draft.ok_or("generation returned no draft")?;
        let title = draft.title.split_whitespace().collect::<Vec<_>>().join(" ");
        if title.is_empty() || draft.body.trim().is_empty() {
            return Err("the draft has no title or no body".into());
        }
        let text = provenance_text(&title, &draft.body, []);

        // Review: what is certified is exactly what was reviewed.
        let trust = &self.services.trust;
        let context = trust_pb::ReviewContext {
            kind: draft.kind,
            user_id: spec.user_id.clone(),
            origin: draft.origin,
            parents: draft
                .parents
                .iter()
                .map(|p| trust_pb::ParentItem {
                    id: p.id.clone(),
                    licence: p.licence.clone(),
                    owner_consent: p.owner_consent,
                })
                .collect(),
            sources: self.review_sources(&draft, deadline).await,
            instruction: spec.instruction.clone(),
            framing: framing_ranges(&text, &draft),
        };
        let source_ids: Vec<String> = context.sources.iter().map(|s| s.id.clone()).collect();
        let ask = trust_pb::ReviewRequest {
            content: text.clone(),
            context: Some(context),
        };
        let review = trust
            .review(ask, deadline)
            .await
            .map_err(|e| e.to_string())?;
        let Some(verdict) = Allowed::from_trust(review.verdict as i32) else {
            tracing::debug!(item = %draft.item_id, draft = %text, rules = ?review.rules, "trust held a draft");
            return Err(format!(
                "trust's verdict on the draft was {} ({}); it is not shown",
                verdict_name(review.verdict),
                review.rules.join(", ")
            ));
        };

        // Certify the reviewed text, with the creator and the licence the
        // corpus will store (both are signed). The licence is the one the
        // review computed from what the draft takes of its sources and
        // parents, never a configured one.
        let licence = review.licence.clone();
        let ask = trust_pb::CertifyRequest {
            item_id: draft.item_id.clone(),
            content: text.clone(),
            action: draft.c2pa_action.clone(),
            parents: draft
                .parents
                .iter()
                .map(|p| trust_pb::Ingredient {
                    item_id: p.id.clone(),
                    content_sha256: p.content_sha256.clone(),
                })
                .collect(),
            generator_name: draft.generator_name.clone(),
            generator_version: draft.generator_version.clone(),
            creator: spec.user_id.clone(),
            licence: licence.clone(),
            source_ids,
            creator_id: self.config.creator_id.clone(),
        };
        let certified = trust
            .certify(ask, deadline)
            .await
            .map_err(|e| e.to_string())?;

        let mut item = crate::remote::item_of_draft(
            &draft,
            &title,
            &admit::mark_of(&certified.marked_content),
            &self.config.creator_id,
            licence,
            certified.manifest,
        )?;

        // The manifest must verify against trust's published keys.
        let keys = self.trust_keys(deadline).await?;
        let verified = self
            .verify(&keys, &item, deadline)
            .await
            .map_err(|r| format!("the certified manifest does not verify: {r}"))?;

        // Store it; the corpus checks the manifest again.
        let stored = self
            .services
            .corpus
            .put_item(item.clone(), deadline)
            .await
            .map_err(|e| e.to_string())?;
        match stored {
            Stored::Sealed { content_sha256 } => item.content_sha256 = content_sha256,
            Stored::Rejected(why) => return Err(format!("corpus rejected the item: {why}")),
        }
        Ok(Entry {
            item,
            verdict,
            provenance: Some(verified),
            reason: spec.explanation.clone(),
            trigger: spec.trigger,
            score: 0.0,
            made_for_you: true,
        })
    }

    /// The passages a draft's review checks it against: the draft's cited
    /// sources, each with its item's licence, creator and title as the
    /// corpus records them (what `copyright.source` holds the draft to),
    /// and, for an edit, each parent's title (an edit keeps its parent's
    /// title, which its body's sources do not hold).
    async fn review_sources(
        &self,
        draft: &gen_pb::Draft,
        deadline: Instant,
    ) -> Vec<trust_pb::SourcePassage> {
        let mut items: Vec<String> = Vec::new();
        for id in draft
            .sources
            .iter()
            .map(|s| &s.item_id)
            .chain(draft.parents.iter().map(|p| &p.id))
        {
            if !id.is_empty() && !items.contains(id) {
                items.push(id.clone());
            }
        }
        // One call for all of them; a failed call leaves the rights empty,
        // and trust then holds the draft to the strictest reading.
        let rights: std::collections::HashMap<String, Item> = if items.is_empty() {
            Default::default()
        } else {
            match self.services.corpus.get_items(items, deadline).await {
                Ok(found) => found
                    .into_iter()
                    .map(|i| (i.id.as_str().to_string(), i))
                    .collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "the rights of a draft's sources could not be read");
                    Default::default()
                }
            }
        };
        let passage = |id: String, item_id: &str, text: String| {
            let item = rights.get(item_id);
            trust_pb::SourcePassage {
                id,
                text,
                item_id: item_id.to_string(),
                licence: item.map(|i| i.licence.clone()).unwrap_or_default(),
                creator_id: item.map(|i| i.creator_id.clone()).unwrap_or_default(),
                title: item
                    .map(|i| generec_provenance::watermark::strip(&i.title))
                    .unwrap_or_default(),
                content_sha256: item.map(|i| i.content_sha256.clone()).unwrap_or_default(),
            }
        };
        let mut sources: Vec<trust_pb::SourcePassage> = draft
            .sources
            .iter()
            .map(|s| passage(s.id.clone(), &s.item_id, s.text.clone()))
            .collect();
        for parent in &draft.parents {
            if let Some(p) = rights.get(&parent.id) {
                let title = generec_provenance::watermark::strip(&p.title);
                sources.push(passage(format!("{}#title", parent.id), &parent.id, title));
            }
        }
        sources
    }

    // -----------------------------------------------------------------
    // The RPCs
    // -----------------------------------------------------------------

    /// A feed for a user (see the module docs). `timeout` is the caller's
    /// deadline, if it sent one.
    pub async fn get_feed(
        self: &Arc<Self>,
        req: FeedRequest,
        timeout: Option<Duration>,
    ) -> Result<FeedPage, FeedError> {
        let started = Instant::now();
        let (deadline, total) = self.deadline(timeout);
        let margin = (total / 5).clamp(Duration::from_millis(10), Duration::from_millis(150));
        let respond_by = deadline.checked_sub(margin).unwrap_or(started).max(started);
        let generation_by =
            (started + total.mul_f64(self.config.generation_budget_share)).min(respond_by);
        let mut degraded: Vec<String> = Vec::new();

        // 1. Candidates, and whether trust is up.
        let (retrieved, trust) = tokio::join!(
            self.retrieve(
                &req.user_id,
                req.count,
                &req.instruction,
                req.context_item_id.as_deref(),
                respond_by,
            ),
            self.trust_view(respond_by)
        );
        let (candidates, _context) = retrieved?;
        let trust = match trust {
            Ok(t) => Some(t),
            Err(reason) => {
                degraded.push(format!("trust unavailable: {reason}"));
                None
            }
        };
        let trust_up = trust.is_some();

        // 2. Admission runs while the instructor reads the request; a
        // human item with a cached verdict is settled at once.
        // With nothing to interpret the candidates are only admitted, so
        // they move into their entries instead of being copied.
        let quiet = self.nothing_to_interpret(&req);
        let kept: Vec<Candidate> = if quiet {
            Vec::new()
        } else {
            candidates.clone()
        };
        let mut admitted: Vec<Option<Entry>> = vec![None; candidates.len()];
        let mut dropped = 0usize;
        let mut admissions = JoinSet::new();
        for (slot, c) in candidates.into_iter().enumerate() {
            let c = match trust.as_ref() {
                Some(t) => match self.admit_from_cache(c, t) {
                    Ok(Admission::In(entry)) => {
                        admitted[slot] = Some(*entry);
                        continue;
                    }
                    Ok(_) => {
                        dropped += 1;
                        continue;
                    }
                    Err(c) => *c,
                },
                None => c,
            };
            let (feed, trust) = (self.clone(), trust.clone());
            admissions.spawn(async move { (slot, feed.admit(c, trust, respond_by).await) });
        }
        let candidates = kept;
        let interpretation = if quiet {
            Ok(as_usual())
        } else {
            self.interpret(
                &req.user_id,
                &req.instruction,
                req.context_item_id.as_deref(),
                &candidates,
                respond_by,
            )
            .await
        };

        // 3. Decide and maybe start generating.
        let mut status = GenerationStatus::None;
        let mut detail: String;
        let mut waiting: Option<oneshot::Receiver<JobResult>> = None;
        let (guidance, decision) = match interpretation {
            Ok(out) => {
                let guidance = out.guidance.clone();
                let decision = out.decision.clone();
                if let Some(g) = &guidance {
                    let include: Vec<String> = g.include.iter().map(|t| t.topic.clone()).collect();
                    let exclude: Vec<String> = g.exclude.iter().map(|t| t.topic.clone()).collect();
                    self.sessions
                        .with(&req.user_id, |s| s.update_topics(&include, &exclude));
                }
                detail = decision
                    .as_ref()
                    .map(|d| d.explanation.clone())
                    .unwrap_or_default();
                if let Some(spec) = self.job_spec(&req.user_id, &req.instruction, &out, &candidates)
                {
                    if !trust_up {
                        status = GenerationStatus::Skipped;
                        detail =
                            "trust unavailable: generated items need its review and certification"
                                .into();
                    } else {
                        let streak = spec.trigger == gen_pb::Trigger::RejectionStreak as i32;
                        match self.start_job(spec) {
                            Ok((_, rx)) => {
                                if streak {
                                    self.sessions.with(&req.user_id, |s| s.consume_streak());
                                }
                                waiting = Some(rx);
                            }
                            Err(reason) => {
                                status = GenerationStatus::Pending;
                                detail = reason;
                            }
                        }
                    }
                }
                (guidance, decision)
            }
            Err(e) => {
                let reason = format!("generation unavailable: {}", e);
                degraded.push(reason.clone());
                status = GenerationStatus::Skipped;
                detail = reason;
                (None, None)
            }
        };

        // 4. Collect admissions until the response is due.
        let mut unchecked_reason: Option<String> = None;
        let mut late = 0usize;
        loop {
            let left = respond_by.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, admissions.join_next()).await {
                Ok(Some(Ok((slot, admission)))) => match admission {
                    Admission::In(entry) => admitted[slot] = Some(*entry),
                    Admission::Out => dropped += 1,
                    Admission::Unchecked(reason) => {
                        dropped += 1;
                        unchecked_reason.get_or_insert(reason);
                    }
                },
                Ok(Some(Err(_))) => dropped += 1,
                Ok(None) => break,
                Err(_) => {
                    late = admissions.len();
                    admissions.abort_all();
                    dropped += late;
                    break;
                }
            }
        }
        if let Some(reason) = unchecked_reason
            && !degraded.iter().any(|d| d.starts_with("trust unavailable"))
        {
            degraded.push(format!(
                "trust unavailable or too slow, items left out: {reason}"
            ));
        }
        if late > 0 {
            degraded.push(format!(
                "deadline: {late} candidates were not checked in time and are left out"
            ));
        }

        // 5. The generation, within its budget.
        let mut made: Vec<Entry> = Vec::new();
        if let Some(mut rx) = waiting {
            let left = generation_by.saturating_duration_since(Instant::now());
            let result = match tokio::time::timeout(left, &mut rx).await {
                Ok(Ok(result)) => Some(result),
                Ok(Err(_)) => Some(Err("the generation stopped unexpectedly".to_string())),
                Err(_) => {
                    // Stop waiting; a result sent meanwhile is still here.
                    rx.close();
                    rx.try_recv().ok()
                }
            };
            match result {
                Some(Ok(entry)) => {
                    status = GenerationStatus::Ready;
                    made.push(entry);
                }
                Some(Err(reason)) => {
                    status = GenerationStatus::Failed;
                    detail = reason;
                }
                None => {
                    status = GenerationStatus::Pending;
                    detail = "generation pending: the item will be in your next feed".into();
                }
            }
        }
        let ready = self.sessions.with(&req.user_id, |s| s.take_ready());
        let failed = self.sessions.with(&req.user_id, |s| s.take_failed());
        if !failed.is_empty() {
            let told = format!("an earlier request could not be met: {}", failed.join("; "));
            if status == GenerationStatus::None {
                status = GenerationStatus::Failed;
                detail = told;
            } else {
                detail = format!("{detail} ({told})");
            }
        }
        if trust_up {
            if !ready.is_empty() && made.is_empty() {
                if status != GenerationStatus::Pending {
                    status = GenerationStatus::Ready;
                }
                if detail.is_empty() {
                    detail = "items made in the background are ready".into();
                }
            }
            made.extend(ready);
        } else if !ready.is_empty() {
            // Not while trust is down: they wait for a feed that can show them.
            self.sessions.with(&req.user_id, |s| s.return_ready(ready));
        }

        // 6. Rank.
        let exclude = self.sessions.with(&req.user_id, |s| s.excluded());
        let include: Vec<String> = guidance
            .as_ref()
            .map(|g| g.include.iter().map(|t| t.topic.clone()).collect())
            .unwrap_or_default();
        let retrieved = rules::favour(admitted.into_iter().flatten().collect(), &include);
        // By content hash and tags: the hash does not cover the tags, which
        // the features' topics hold.
        let features = |e: &Entry| {
            let key = format!(
                "{}\u{1f}{}",
                admit::review_key(&e.item),
                e.item.tags.join("\u{1f}")
            );
            self.features.get(&key, || {
                Features::of(&e.item.title, &e.item.body, &e.item.tags)
            })
        };
        let ranked = rules::rank_with(&self.rules, made, retrieved, &exclude, req.count, &features);
        let entries = ranked.entries;
        let shown: Vec<Arc<Features>> = entries.iter().map(features).collect();
        let metrics =
            ListMetrics::of_with(&entries, &shown.iter().map(Arc::as_ref).collect::<Vec<_>>());
        self.sessions.with(&req.user_id, |s| {
            s.remember_shown(&entries, self.config.shown_memory)
        });
        self.with_totals(|t| t.record_feed(&entries, !degraded.is_empty(), dropped));
        ::metrics::histogram!("generec_feed_serve_seconds").record(started.elapsed().as_secs_f64());
        Ok(FeedPage {
            entries,
            degraded,
            generation: status,
            generation_detail: detail,
            guidance,
            decision,
            metrics,
            dropped_unchecked: dropped,
            deadline_ms: total.as_millis() as u64,
        })
    }

    /// Interprets an instruction and starts its generation in the
    /// background; returns at once.
    pub async fn instruct(
        self: &Arc<Self>,
        req: InstructRequest,
        timeout: Option<Duration>,
    ) -> Result<Instructed, FeedError> {
        if self.config.loop_mode == LoopMode::Retrieve {
            return Err(FeedError::FailedPrecondition(
                "this feed serves retrieval only (feed.loop_mode = \"retrieve\"): there is no instructor to instruct; send the words as GetFeed's instruction".into(),
            ));
        }
        let (deadline, _) = self.deadline(timeout);
        let (candidates, _context) = self
            .retrieve(
                &req.user_id,
                10,
                &req.instruction,
                req.context_item_id.as_deref(),
                deadline,
            )
            .await?;
        let out = self
            .interpret(
                &req.user_id,
                &req.instruction,
                req.context_item_id.as_deref(),
                &candidates,
                deadline,
            )
            .await
            .map_err(|e| FeedError::Unavailable(e.to_string()))?;
        if let Some(g) = &out.guidance {
            let include: Vec<String> = g.include.iter().map(|t| t.topic.clone()).collect();
            let exclude: Vec<String> = g.exclude.iter().map(|t| t.topic.clone()).collect();
            self.sessions
                .with(&req.user_id, |s| s.update_topics(&include, &exclude));
        }
        let job_id = match self.job_spec(&req.user_id, &req.instruction, &out, &candidates) {
            Some(spec) => {
                let (id, rx) = self.start_job(spec).map_err(FeedError::ResourceExhausted)?;
                // Nobody waits: the item goes to the session and to watchers.
                drop(rx);
                Some(id)
            }
            None => None,
        };
        Ok(Instructed {
            guidance: out.guidance,
            decision: out.decision,
            job_id,
        })
    }

    /// Records feedback in the corpus and the session. Returns the
    /// session's rejection streak and how many signals it holds.
    pub async fn submit_feedback(
        &self,
        user_id: &str,
        item_id: &str,
        signal: Signal,
        timeout: Option<Duration>,
    ) -> Result<(u32, usize), FeedError> {
        let (deadline, _) = self.deadline(timeout);
        self.services
            .corpus
            .record_feedback(user_id, item_id, signal, deadline)
            .await
            .map_err(|e| FeedError::from_remote(e, "item", item_id, "item_id"))?;
        let keep = self.config.session_signals;
        Ok(self.sessions.with(user_id, |s| {
            s.record(item_id, signal, keep);
            (s.rejection_streak(), s.signal_count())
        }))
    }

    /// A receiver of the user's background generation events.
    pub fn watch(&self, user_id: &str) -> broadcast::Receiver<FeedEvent> {
        self.sessions.with(user_id, |s| s.subscribe())
    }
}

/// Recommended items whose records say a human made them.
fn human_items(recommended: &[crate::api::Scored]) -> usize {
    recommended
        .iter()
        .filter(|s| s.item.as_ref().is_some_and(|i| i.origin == Origin::Human))
        .count()
}

/// Recommendations and search hits taking turns, so both reach the pool,
/// without repeats or the context item, at most `max` of them; and the
/// records the recommendations brought, by id.
fn merge_candidates(
    recommended: Vec<crate::api::Scored>,
    searched: Vec<crate::api::Hit>,
    context_item_id: Option<&str>,
    max: usize,
) -> (Vec<Pick>, std::collections::HashMap<String, Item>) {
    let mut by_id: std::collections::HashMap<String, Item> = std::collections::HashMap::new();
    let recommended: Vec<Pick> = recommended
        .into_iter()
        .map(|s| {
            if let Some(item) = s.item {
                by_id.insert(s.id.clone(), item);
            }
            (s.id, s.score, s.why)
        })
        .collect();
    let searched = searched
        .into_iter()
        .filter(|h| Some(h.id.as_str()) != context_item_id)
        .map(|h| (h.id, h.score, "found: it matches what you asked for"));
    let mut ids: Vec<Pick> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let (mut r, mut f) = (recommended.into_iter(), searched);
    loop {
        let (a, b) = (r.next(), f.next());
        if a.is_none() && b.is_none() {
            break;
        }
        for c in [a, b].into_iter().flatten() {
            if seen.insert(c.0.clone()) {
                ids.push(c);
            }
        }
    }
    ids.truncate(max);
    (ids, by_id)
}

/// The draft's framing as byte ranges of the reviewed text (title, blank
/// line, body): its title, which says what the item is in the generator's
/// words, and the body's sentences the generator marked as framing.
fn framing_ranges(text: &str, draft: &gen_pb::Draft) -> Vec<trust_pb::ByteRange> {
    let Some(offset) = text
        .ends_with(&draft.body)
        .then(|| text.len() - draft.body.len())
    else {
        return Vec::new();
    };
    let title = text[..offset].trim_end();
    std::iter::once((0, title.len()))
        .chain(
            draft
                .attributions
                .iter()
                .filter(|a| a.framing && a.start <= a.end && a.end as usize <= draft.body.len())
                .map(|a| (offset + a.start as usize, offset + a.end as usize)),
        )
        .map(|(start, end)| trust_pb::ByteRange {
            start: start as u32,
            end: end as u32,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_become_plain_queries() {
        assert_eq!(search_query("make it shorter!"), "make it shorter");
        assert_eq!(search_query("title:x AND \"y\" (z)"), "title AND");
        assert_eq!(search_query("a b c"), "");
        assert_eq!(
            search_query(&"word ".repeat(100)).split(' ').count(),
            MAX_QUERY_WORDS
        );
    }

    #[test]
    fn truncation_keeps_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }

    fn down_feed() -> Arc<Feed> {
        let config = FeedConfig {
            corpus_url: "http://127.0.0.1:1".into(),
            trust_url: "http://127.0.0.1:1".into(),
            generation_url: "http://127.0.0.1:1".into(),
            ..FeedConfig::default()
        };
        Feed::new(config, None).unwrap()
    }

    fn candidate(id: &str, tag: &str) -> Candidate {
        use generec_corpus::model::ItemId;
        Candidate {
            item: Item {
                id: ItemId::parse(id).unwrap(),
                kind: generec_common::types::ItemKind::Article,
                title: format!("Title {id}"),
                body: "Body.".into(),
                segments: vec![],
                tags: vec![tag.into()],
                creator_id: "c".into(),
                origin: Origin::Human,
                parent_ids: vec![],
                licence: "CC-BY-4.0".into(),
                created_unix_ms: 0,
                content_sha256: String::new(),
                provenance_manifest: vec![],
            },
            score: 1.0,
            why: "recommended",
        }
    }

    #[tokio::test]
    async fn a_streak_with_nothing_asked_creates_about_a_topic_the_skipped_items_lacked() {
        let feed = down_feed();
        let shown: Vec<Candidate> = vec![
            candidate("s1", "sport"),
            candidate("s2", "sport"),
            candidate("s3", "politics"),
        ];
        feed.sessions.with("u", |s| {
            let entries: Vec<Entry> = shown
                .iter()
                .map(|c| Entry {
                    item: c.item.clone(),
                    verdict: Allowed::Allow,
                    provenance: None,
                    reason: String::new(),
                    trigger: 0,
                    score: 0.0,
                    made_for_you: false,
                })
                .collect();
            s.remember_shown(&entries, 64);
            for c in &shown {
                s.record(c.item.id.as_str(), Signal::Skip, 256);
            }
        });
        let candidates = vec![
            candidate("a", "sport"),
            candidate("b", "sport"),
            candidate("c", "tech"),
            candidate("d", "politics"),
        ];
        let out = gen_pb::InterpretResponse {
            guidance: Some(gen_pb::Guidance::default()),
            decision: Some(gen_pb::Decision {
                action: gen_pb::Action::Create as i32,
                target_item: String::new(),
                trigger: gen_pb::Trigger::RejectionStreak as i32,
                explanation: "You skipped the last 3 items.".into(),
            }),
        };
        let spec = feed.job_spec("u", "", &out, &candidates).unwrap();
        assert!(matches!(spec.action, JobAction::Create));
        assert_eq!(spec.guidance.include[0].topic, "tech");
        assert_eq!(spec.guidance.fact_query, "tech");
        assert!(spec.explanation.contains("tech"), "{}", spec.explanation);
        assert_eq!(spec.trigger, gen_pb::Trigger::RejectionStreak as i32);

        // Retrieval only: no job.
        let retrieve = gen_pb::InterpretResponse {
            guidance: None,
            decision: Some(gen_pb::Decision {
                action: gen_pb::Action::Retrieve as i32,
                ..Default::default()
            }),
        };
        assert!(feed.job_spec("u", "", &retrieve, &candidates).is_none());
    }

    #[tokio::test]
    async fn a_request_to_a_down_corpus_is_unavailable_not_an_unchecked_feed() {
        let feed = down_feed();
        let req = FeedRequest::parse("u".into(), 5, String::new(), String::new()).unwrap();
        let err = feed
            .get_feed(req, Some(Duration::from_millis(500)))
            .await
            .unwrap_err();
        assert!(matches!(err, FeedError::Unavailable(_)), "{err}");
        let err = feed
            .submit_feedback("u", "i", Signal::Skip, Some(Duration::from_millis(200)))
            .await
            .unwrap_err();
        assert!(matches!(err, FeedError::Unavailable(_)), "{err}");
        // Nothing was recorded in the session either.
        assert_eq!(feed.sessions.with("u", |s| s.signal_count()), 0);
    }

    // -----------------------------------------------------------------
    // The loop's steps over in-memory services (see crate::fakes)
    // -----------------------------------------------------------------

    use crate::api::{Hit, Scored};
    use crate::fakes::{self, Fakes};
    use std::sync::atomic::Ordering::Relaxed;

    fn catalogue() -> Vec<Item> {
        vec![
            fakes::article("a1", "c1", "tech", "Chips got faster this year."),
            fakes::article("a2", "c2", "tech", "A forbidden text nobody may see."),
            fakes::article("a3", "c3", "sport", "The match ended in a draw."),
            fakes::article("a4", "c4", "science", "A comet passed the earth."),
            fakes::article("a5", "c5", "tech", "Phones got cheaper."),
        ]
    }

    fn faked(fakes: &Fakes) -> Arc<Feed> {
        let config = FeedConfig {
            trust_refresh_ms: 20,
            ..FeedConfig::default()
        };
        Feed::with_services(config, fakes.services()).unwrap()
    }

    fn ask(user: &str, count: u32, instruction: &str) -> FeedRequest {
        FeedRequest::parse(user.into(), count, instruction.into(), String::new()).unwrap()
    }

    fn ids(page: &FeedPage) -> Vec<&str> {
        page.entries.iter().map(|e| e.item.id.as_str()).collect()
    }

    const LONG: Option<Duration> = Some(Duration::from_secs(5));

    /// A feed that waits for its generation, asked for a digest of tech.
    async fn asked_for_a_digest(fakes: &Fakes) -> FeedPage {
        asked_for_a_digest_in(fakes, LoopMode::Full).await
    }

    async fn asked_for_a_digest_in(fakes: &Fakes, loop_mode: LoopMode) -> FeedPage {
        let feed = Feed::with_services(
            FeedConfig {
                generation_budget_share: 0.9,
                loop_mode,
                ..FeedConfig::default()
            },
            fakes.services(),
        )
        .unwrap();
        feed.get_feed(ask("u", 5, "a digest of tech"), LONG)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_pool_crowded_by_generated_items_is_widened_to_fill_the_feed_with_human_ones() {
        // Recommend ranks ten generated items (all by one creator) above
        // three human articles: the first pool (2 x 3 candidates) holds no
        // human item, and the generated share cap and the creator cap would
        // leave the feed empty.
        let mut items: Vec<Item> = (0..10)
            .map(|n| {
                let mut g =
                    fakes::article(&format!("g{n}"), "generec", "tech", &format!("Digest {n}."));
                g.origin = Origin::AiCreated;
                g
            })
            .collect();
        items.extend(catalogue().into_iter().take(3));
        let fakes = Fakes::new(items);
        let feed = faked(&fakes);
        let page = feed.get_feed(ask("u", 2, ""), LONG).await.unwrap();
        assert_eq!(page.entries.len(), 2, "{:?}", ids(&page));
        assert!(page.entries.iter().all(|e| !e.is_generated()));
        // A pool with enough human items is not widened: one Recommend.
        let fakes = Fakes::new(catalogue());
        let feed = faked(&fakes);
        let before = fakes.corpus.calls.load(Relaxed);
        let page = feed.get_feed(ask("u", 2, ""), LONG).await.unwrap();
        assert_eq!(page.entries.len(), 2);
        let recommend_calls = fakes.corpus.calls.load(Relaxed) - before;
        assert_eq!(recommend_calls, 1, "one corpus call when the pool suffices");
    }

    #[tokio::test]
    async fn retrieve_mode_asks_no_instructor_generates_nothing_and_refuses_instruct() {
        let fakes = Fakes::new(catalogue());
        let page = asked_for_a_digest_in(&fakes, LoopMode::Retrieve).await;
        assert_eq!(page.generation, GenerationStatus::None);
        assert!(page.entries.iter().all(|e| !e.made_for_you));
        assert!(!page.entries.is_empty());
        assert_eq!(fakes.generation.interprets.load(Relaxed), 0);
        assert_eq!(fakes.trust.certified.load(Relaxed), 0);
        let feed = Feed::with_services(
            FeedConfig {
                loop_mode: LoopMode::Retrieve,
                ..FeedConfig::default()
            },
            fakes.services(),
        )
        .unwrap();
        let err = feed
            .instruct(
                InstructRequest {
                    user_id: "u".into(),
                    instruction: "a digest of tech".into(),
                    context_item_id: None,
                },
                LONG,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, FeedError::FailedPrecondition(_)), "{err}");
        assert!(err.to_string().contains("loop_mode"), "{err}");
    }

    #[tokio::test]
    async fn edit_mode_reads_the_instruction_but_creates_nothing() {
        let fakes = Fakes::new(catalogue());
        let page = asked_for_a_digest_in(&fakes, LoopMode::Edit).await;
        assert_eq!(fakes.generation.interprets.load(Relaxed), 1);
        assert_eq!(
            page.generation,
            GenerationStatus::None,
            "{}",
            page.generation_detail
        );
        assert!(page.entries.iter().all(|e| !e.made_for_you));
        assert_eq!(fakes.trust.certified.load(Relaxed), 0);
        assert!(fakes.corpus.stored.lock().unwrap().is_empty());
    }

    #[test]
    fn recommendations_and_hits_take_turns_without_repeats_or_the_context_item() {
        let scored = |id: &str, with: bool| Scored {
            id: id.into(),
            score: 1.0,
            why: "recommended",
            item: with.then(|| fakes::article(id, "c", "t", "b")),
        };
        let hit = |id: &str| Hit {
            id: id.into(),
            score: 2.0,
        };
        let (picks, by_id) = merge_candidates(
            vec![scored("r1", true), scored("r2", false), scored("s1", true)],
            vec![hit("s1"), hit("ctx"), hit("s2"), hit("s3")],
            Some("ctx"),
            4,
        );
        let order: Vec<&str> = picks.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(order, ["r1", "s1", "r2", "s2"]);
        assert_eq!(picks[1].2, "found: it matches what you asked for");
        assert!(by_id.contains_key("r1") && by_id.contains_key("s1"));
        assert!(!by_id.contains_key("r2"), "r2 came without its record");
    }

    #[tokio::test]
    async fn a_retrieve_only_feed_shows_only_what_trust_allows_and_asks_no_instructor() {
        let fakes = Fakes::new(catalogue());
        let feed = faked(&fakes);
        let page = feed.get_feed(ask("u", 5, ""), LONG).await.unwrap();
        assert_eq!(ids(&page), ["a1", "a3", "a4", "a5"], "a2 is blocked");
        assert!(page.degraded.is_empty(), "{:?}", page.degraded);
        assert_eq!(page.dropped_unchecked, 1);
        assert_eq!(page.generation, GenerationStatus::None);
        assert_eq!(fakes.generation.interprets.load(Relaxed), 0);
        assert_eq!(fakes.trust.reviews.load(Relaxed), 5);
        // Verdicts are cached under the bundle: no second review, and the
        // blocked item stays out.
        let again = feed.get_feed(ask("u", 5, ""), LONG).await.unwrap();
        assert_eq!(ids(&again), ids(&page));
        assert_eq!(fakes.trust.reviews.load(Relaxed), 5);
        // Items whose records Recommend brought need no further read.
        assert_eq!(
            fakes.corpus.calls.load(Relaxed),
            2,
            "one Recommend per feed"
        );
    }

    #[tokio::test]
    async fn with_trust_down_only_items_with_a_cached_allowing_verdict_are_shown() {
        let fakes = Fakes::new(catalogue());
        let feed = faked(&fakes);
        // Nothing cached yet: trust down means nothing checked to show.
        fakes.trust.down.store(true, Relaxed);
        let page = feed.get_feed(ask("u", 5, ""), LONG).await.unwrap();
        assert!(page.entries.is_empty());
        assert!(
            page.degraded
                .iter()
                .any(|d| d.contains("trust unavailable")),
            "{:?}",
            page.degraded
        );
        // Verdicts for the first three items are cached while trust is up.
        fakes.trust.down.store(false, Relaxed);
        tokio::time::sleep(Duration::from_millis(80)).await;
        feed.get_feed(ask("u", 3, ""), LONG).await.unwrap();
        // A sixth item arrives; trust goes down again.
        fakes
            .corpus
            .items
            .lock()
            .unwrap()
            .insert(0, fakes::article("a6", "c6", "tech", "New and unreviewed."));
        fakes.trust.down.store(true, Relaxed);
        tokio::time::sleep(Duration::from_millis(80)).await;
        let page = feed.get_feed(ask("u", 10, ""), LONG).await.unwrap();
        assert!(!page.degraded.is_empty());
        let shown = ids(&page);
        assert!(!shown.contains(&"a6"), "never reviewed: {shown:?}");
        assert!(!shown.contains(&"a2"), "blocked when it was reviewed");
        assert!(shown.contains(&"a1"), "{shown:?}");
        assert!(
            page.entries
                .iter()
                .all(|e| e.reason.contains("cached verdict"))
        );
    }

    #[tokio::test]
    async fn with_generation_down_the_retrieved_items_are_served_degraded() {
        let fakes = Fakes::new(catalogue());
        let feed = faked(&fakes);
        fakes.generation.down.store(true, Relaxed);
        let page = feed
            .get_feed(ask("u", 5, "more about tech"), LONG)
            .await
            .unwrap();
        assert_eq!(page.generation, GenerationStatus::Skipped);
        assert!(
            page.degraded
                .iter()
                .any(|d| d.starts_with("generation unavailable")),
            "{:?}",
            page.degraded
        );
        assert!(ids(&page).contains(&"a1"));
        assert!(!ids(&page).contains(&"a2"));
    }

    #[tokio::test]
    async fn with_the_corpus_down_the_feed_is_unavailable_and_feedback_is_not_recorded() {
        let fakes = Fakes::new(catalogue());
        let feed = faked(&fakes);
        fakes.corpus.down.store(true, Relaxed);
        let err = feed.get_feed(ask("u", 5, ""), LONG).await.unwrap_err();
        assert!(matches!(err, FeedError::Unavailable(_)), "{err}");
        let err = feed
            .submit_feedback("u", "a1", Signal::Like, LONG)
            .await
            .unwrap_err();
        assert!(matches!(err, FeedError::Unavailable(_)), "{err}");
        assert_eq!(feed.sessions.with("u", |s| s.signal_count()), 0);
        // Up again: an unknown item is NotFound (the corpus's word), a
        // known one is recorded in both places.
        fakes.corpus.down.store(false, Relaxed);
        let err = feed
            .submit_feedback("u", "nope", Signal::Like, LONG)
            .await
            .unwrap_err();
        assert!(matches!(err, FeedError::NotFound { .. }), "{err}");
        feed.submit_feedback("u", "a1", Signal::Like, LONG)
            .await
            .unwrap();
        assert_eq!(fakes.corpus.feedback.lock().unwrap().len(), 1);
        assert_eq!(feed.sessions.with("u", |s| s.signal_count()), 1);
    }

    #[tokio::test]
    async fn a_created_item_is_reviewed_certified_verified_stored_and_shown_first() {
        let fakes = Fakes::new(catalogue());
        fakes
            .generation
            .will_create("Tech this week", "Chips got faster and phones cheaper.");
        let page = asked_for_a_digest(&fakes).await;
        assert_eq!(
            page.generation,
            GenerationStatus::Ready,
            "{}",
            page.generation_detail
        );
        let made: Vec<&Entry> = page.entries.iter().filter(|e| e.made_for_you).collect();
        assert_eq!(made.len(), 1);
        assert_eq!(made[0].item.id.as_str(), "gen-1");
        assert!(made[0].provenance.is_some(), "its manifest was verified");
        assert_eq!(made[0].item.creator_id, "generec");
        assert_eq!(fakes.trust.certified.load(Relaxed), 1);
        let stored = fakes.corpus.stored.lock().unwrap().clone();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].content_sha256, made[0].item.content_sha256);
        assert!(
            generec_provenance::watermark::extract(&stored[0].body).is_some(),
            "the stored body carries the mark"
        );
    }

    #[tokio::test]
    async fn a_draft_trust_does_not_allow_is_neither_certified_nor_stored() {
        let fakes = Fakes::new(catalogue());
        fakes
            .generation
            .will_create("Tech this week", "A forbidden digest.");
        let page = asked_for_a_digest(&fakes).await;
        assert_eq!(page.generation, GenerationStatus::Failed);
        assert!(
            page.generation_detail.contains("block"),
            "{}",
            page.generation_detail
        );
        assert!(page.generation_detail.contains("safety.fake"));
        assert!(page.entries.iter().all(|e| !e.made_for_you));
        assert_eq!(fakes.trust.certified.load(Relaxed), 0);
        assert!(fakes.corpus.stored.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn with_trust_down_no_generation_starts() {
        let fakes = Fakes::new(catalogue());
        fakes.generation.will_create("Tech", "Chips.");
        let feed = faked(&fakes);
        fakes.trust.down.store(true, Relaxed);
        let page = feed
            .get_feed(ask("u", 5, "a digest of tech"), LONG)
            .await
            .unwrap();
        assert_eq!(page.generation, GenerationStatus::Skipped);
        assert!(fakes.corpus.stored.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_retrieved_generated_item_is_shown_only_with_a_manifest_that_verifies() {
        let body = "Made by a model.";
        let mut good = fakes::article("g-good", "generec", "tech", body);
        good.origin = Origin::AiCreated;
        let text = good.provenance_text();
        let trusted = ed25519_dalek::SigningKey::from_bytes(&[11; 32]);
        let m = fakes::FakeTrust::sign(
            &trusted,
            "g-good",
            &text,
            "generec",
            "CC-BY-4.0",
            &[],
            [1; 16],
        );
        good.provenance_manifest = serde_json::to_vec(&m).unwrap();
        let mut keys = TrustedKeys::default();
        keys.extend([generec_provenance::keys::PublicKey::new(
            &trusted.verifying_key(),
            0,
            0,
        )]);
        verify_generated(&keys, &good).expect("the good item verifies");
        // Same text, signed by a key trust never published.
        let mut forged = good.clone();
        forged.id = generec_corpus::model::ItemId::parse("g-forged").unwrap();
        let stranger = ed25519_dalek::SigningKey::from_bytes(&[12; 32]);
        let m = fakes::FakeTrust::sign(
            &stranger,
            "g-forged",
            &forged.provenance_text(),
            "generec",
            "CC-BY-4.0",
            &[],
            [2; 16],
        );
        forged.provenance_manifest = serde_json::to_vec(&m).unwrap();
        // Signed by trust, then its body changed.
        let mut altered = good.clone();
        altered.id = generec_corpus::model::ItemId::parse("g-altered").unwrap();
        let m = fakes::FakeTrust::sign(
            &trusted,
            "g-altered",
            &altered.provenance_text(),
            "generec",
            "CC-BY-4.0",
            &[],
            [3; 16],
        );
        altered.provenance_manifest = serde_json::to_vec(&m).unwrap();
        altered.body = "Made by a model, then changed.".into();
        // Beside three human items (generated ones are capped at a share).
        let mut items = vec![forged, altered, good];
        items.extend(
            catalogue()
                .into_iter()
                .filter(|i| i.id.as_str() != "a2")
                .take(3),
        );
        let fakes = Fakes::new(items);
        let feed = faked(&fakes);
        let page = feed.get_feed(ask("u", 5, ""), LONG).await.unwrap();
        assert_eq!(ids(&page), ["g-good", "a1", "a3", "a4"]);
        assert!(page.entries[0].provenance.is_some());
        assert_eq!(page.dropped_unchecked, 2);
    }
}
