//! Per-user session state, kept in memory by one feed process: the recent
//! feedback signals the instructor sees, the rejection streak, the topics
//! the user excluded, generated items waiting for the next feed, background
//! generations running, and the channel WatchFeed listens on.
//!
//! A streak that started a generation is *consumed*: the instructor sees
//! only signals after it, so three skips make one new item, not one per
//! request. Sessions are bounded; the least recently used one without
//! running generations or watchers is dropped first.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use tokio::sync::broadcast;

use crate::model::{Entry, FeedEvent, Signal};

/// Events buffered per watcher before it lags.
const EVENT_BUFFER: usize = 64;
/// Most excluded topics kept.
const MAX_EXCLUDED: usize = 64;
/// Most generated items waiting for the next feed.
const MAX_READY: usize = 16;
/// Most liked items remembered (the creator reads at most 64).
const MAX_LIKED: usize = 64;
/// Most failed background generations waiting to be told to the user.
const MAX_FAILED: usize = 4;

/// An item shown, and its tags (boxed: no spare capacity).
type Shown = (Box<str>, Box<[Box<str>]>);

/// One user's session.
#[derive(Debug)]
pub struct Session {
    signals: VecDeque<(u64, String, Signal)>,
    next_seq: u64,
    /// Signals up to this sequence number started a generation already.
    consumed: u64,
    exclude: BTreeSet<String>,
    liked: VecDeque<String>,
    /// Items shown, with their tags, newest last.
    shown: VecDeque<Shown>,
    ready: VecDeque<Entry>,
    /// Why background generations failed, oldest first, until a feed
    /// tells the user.
    failed: VecDeque<String>,
    jobs: usize,
    events: broadcast::Sender<FeedEvent>,
    last_used: Instant,
}

impl Session {
    fn new() -> Session {
        Session {
            signals: VecDeque::new(),
            next_seq: 1,
            consumed: 0,
            exclude: BTreeSet::new(),
            liked: VecDeque::new(),
            shown: VecDeque::new(),
            ready: VecDeque::new(),
            failed: VecDeque::new(),
            jobs: 0,
            events: broadcast::channel(EVENT_BUFFER).0,
            last_used: Instant::now(),
        }
    }

    /// Records a feedback signal, keeping the newest `keep`.
    pub fn record(&mut self, item_id: &str, signal: Signal, keep: usize) {
        self.signals
            .push_back((self.next_seq, item_id.to_string(), signal));
        self.next_seq += 1;
        while self.signals.len() > keep {
            self.signals.pop_front();
        }
        if signal.is_engagement() {
            self.liked.retain(|id| id != item_id);
            self.liked.push_back(item_id.to_string());
            while self.liked.len() > MAX_LIKED {
                self.liked.pop_front();
            }
        }
    }

    /// The signals the instructor sees: those after the last consumed
    /// streak, oldest first.
    pub fn signals(&self) -> Vec<(String, Signal)> {
        self.signals
            .iter()
            .filter(|(seq, _, _)| *seq > self.consumed)
            .map(|(_, id, s)| (id.clone(), *s))
            .collect()
    }

    /// Rejections since the last engagement (impressions neither count nor
    /// break it), among the signals the instructor sees.
    pub fn rejection_streak(&self) -> u32 {
        let mut n = 0;
        for (seq, _, s) in self.signals.iter().rev() {
            if *seq <= self.consumed || s.is_engagement() {
                break;
            }
            if s.is_rejection() {
                n += 1;
            }
        }
        n
    }

    /// Marks every signal so far as used by a generation.
    pub fn consume_streak(&mut self) {
        self.consumed = self.next_seq - 1;
    }

    /// How many signals the session holds.
    pub fn signal_count(&self) -> usize {
        self.signals.len()
    }

    /// Items the user engaged with, newest last.
    pub fn liked(&self) -> Vec<String> {
        self.liked.iter().cloned().collect()
    }

    /// Items the user rejected among those the instructor sees.
    pub fn rejected(&self) -> Vec<String> {
        self.signals
            .iter()
            .filter(|(seq, _, s)| *seq > self.consumed && s.is_rejection())
            .map(|(_, id, _)| id.clone())
            .collect()
    }

    /// Applies the topics of an interpreted instruction: excluded ones are
    /// remembered, included ones are no longer excluded.
    pub fn update_topics(&mut self, include: &[String], exclude: &[String]) {
        for t in include {
            self.exclude.remove(&t.to_lowercase());
        }
        for t in exclude {
            if self.exclude.len() < MAX_EXCLUDED {
                self.exclude.insert(t.to_lowercase());
            }
        }
    }

    /// The topics the user excluded.
    pub fn excluded(&self) -> Vec<String> {
        self.exclude.iter().cloned().collect()
    }

    /// Remembers the tags of items shown, so a streak's topics are known;
    /// keeps the newest `keep`.
    pub fn remember_shown(&mut self, entries: &[Entry], keep: usize) {
        for e in entries {
            let tags: Box<[Box<str>]> = e.item.tags.iter().map(|t| t.as_str().into()).collect();
            self.shown.push_back((e.item.id.as_str().into(), tags));
        }
        while self.shown.len() > keep {
            self.shown.pop_front();
        }
    }

    /// The tags of a shown item, if remembered.
    pub fn shown_tags(&self, item_id: &str) -> Option<&[Box<str>]> {
        self.shown
            .iter()
            .rev()
            .find(|(id, _)| &**id == item_id)
            .map(|(_, tags)| &**tags)
    }

    /// Queues a generated item for the next feed.
    pub fn push_ready(&mut self, entry: Entry) {
        self.ready.push_back(entry);
        while self.ready.len() > MAX_READY {
            self.ready.pop_front();
        }
    }

    /// Takes the queued generated items.
    pub fn take_ready(&mut self) -> Vec<Entry> {
        self.ready.drain(..).collect()
    }

    /// Puts items back at the front of the queue (not shown after all).
    pub fn return_ready(&mut self, entries: Vec<Entry>) {
        for e in entries.into_iter().rev() {
            self.ready.push_front(e);
        }
        while self.ready.len() > MAX_READY {
            self.ready.pop_back();
        }
    }

    /// Remembers why a background generation failed, for the next feed.
    pub fn push_failed(&mut self, reason: &str) {
        self.failed.push_back(reason.to_string());
        while self.failed.len() > MAX_FAILED {
            self.failed.pop_front();
        }
    }

    /// Takes the failures not told yet (each is told once).
    pub fn take_failed(&mut self) -> Vec<String> {
        self.failed.drain(..).collect()
    }

    /// Background generations running for this user.
    pub fn jobs(&self) -> usize {
        self.jobs
    }

    /// A receiver of this user's events.
    pub fn subscribe(&self) -> broadcast::Receiver<FeedEvent> {
        self.events.subscribe()
    }

    fn busy(&self) -> bool {
        self.jobs > 0 || self.events.receiver_count() > 0
    }
}

/// Every session, bounded.
#[derive(Debug)]
pub struct Sessions {
    max: usize,
    map: std::sync::Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// At most `max` sessions (at least 1).
    pub fn new(max: usize) -> Sessions {
        Sessions {
            max: max.max(1),
            map: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Runs `f` on the user's session, creating it when needed.
    pub fn with<T>(&self, user: &str, f: impl FnOnce(&mut Session) -> T) -> T {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !map.contains_key(user) && map.len() >= self.max {
            let idle = map
                .iter()
                .filter(|(_, s)| !s.busy())
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone());
            if let Some(k) = idle {
                map.remove(&k);
            }
        }
        let session = map.entry(user.to_string()).or_insert_with(Session::new);
        session.last_used = Instant::now();
        f(session)
    }

    /// Counts a background generation for the user if fewer than `limit`
    /// are running; returns whether it was counted.
    pub fn start_job(&self, user: &str, limit: usize) -> bool {
        self.with(user, |s| {
            if s.jobs >= limit {
                false
            } else {
                s.jobs += 1;
                true
            }
        })
    }

    /// Ends a background generation and tells the user's watchers. When
    /// `queue` is set (no request was waiting for it) its item waits for
    /// the next feed, or, when it failed, the reason does: a request is
    /// never dropped without a word.
    pub fn finish_job(&self, event: FeedEvent, queue: bool) {
        self.with(&event.user_id.clone(), |s| {
            s.jobs = s.jobs.saturating_sub(1);
            if queue {
                match &event.outcome {
                    Ok(entry) => s.push_ready(entry.clone()),
                    Err(reason) => s.push_failed(reason),
                }
            }
            // No watcher is not an error: the item waits for the next feed.
            let _ = s.events.send(event);
        });
    }

    /// How many sessions are held.
    pub fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streak_counts_rejections_since_the_last_engagement_and_is_consumed_once() {
        let sessions = Sessions::new(10);
        sessions.with("u", |s| {
            s.record("a", Signal::Skip, 256);
            s.record("b", Signal::Like, 256);
            s.record("c", Signal::Skip, 256);
            s.record("d", Signal::Impression, 256);
            s.record("e", Signal::Dislike, 256);
            s.record("f", Signal::Skip, 256);
            assert_eq!(s.rejection_streak(), 3);
            assert_eq!(s.rejected(), vec!["a", "c", "e", "f"]);
            assert_eq!(s.liked(), vec!["b"]);
            s.consume_streak();
            assert_eq!(s.rejection_streak(), 0);
            assert!(s.signals().is_empty());
            s.record("g", Signal::Skip, 256);
            assert_eq!(s.rejection_streak(), 1);
            assert_eq!(s.signals(), vec![("g".to_string(), Signal::Skip)]);
        });
    }

    #[test]
    fn a_failure_no_request_waited_for_is_kept_until_told_once() {
        let sessions = Sessions::new(10);
        assert!(sessions.start_job("u", 2));
        let failed = |job: &str| FeedEvent {
            user_id: "u".into(),
            job_id: job.into(),
            outcome: Err(format!("{job}: trust's verdict on the draft was block")),
        };
        // A request was waiting: it told the user itself.
        sessions.finish_job(failed("job-1"), false);
        assert!(sessions.with("u", |s| s.take_failed()).is_empty());
        // Nobody was waiting: kept for the next feed, told once.
        for i in 0..6 {
            sessions.finish_job(failed(&format!("job-{i}")), true);
        }
        let told = sessions.with("u", |s| s.take_failed());
        assert_eq!(told.len(), MAX_FAILED, "bounded");
        assert!(
            told[0].starts_with("job-2"),
            "the newest are kept: {told:?}"
        );
        assert!(sessions.with("u", |s| s.take_failed()).is_empty());
    }

    #[test]
    fn signals_are_bounded() {
        let sessions = Sessions::new(10);
        sessions.with("u", |s| {
            for i in 0..10 {
                s.record(&format!("i{i}"), Signal::Skip, 4);
            }
            assert_eq!(s.signal_count(), 4);
            assert_eq!(s.signals()[0].0, "i6");
        });
    }

    #[test]
    fn excluded_topics_follow_the_latest_instruction() {
        let sessions = Sessions::new(10);
        sessions.with("u", |s| {
            s.update_topics(&[], &["Politics".into(), "sport".into()]);
            assert_eq!(s.excluded(), vec!["politics", "sport"]);
            s.update_topics(&["sport".into()], &[]);
            assert_eq!(s.excluded(), vec!["politics"]);
        });
    }

    #[test]
    fn idle_sessions_are_dropped_first_and_busy_ones_kept() {
        let sessions = Sessions::new(2);
        assert!(sessions.start_job("busy", 1));
        assert!(!sessions.start_job("busy", 1));
        sessions.with("idle", |_| ());
        sessions.with("new", |_| ());
        assert_eq!(sessions.len(), 2);
        assert!(sessions.with("busy", |s| s.jobs()) == 1);
        assert!(!sessions.is_empty());
    }
}
