//! `generec bench soak`: steady mixed traffic at a fixed rate against the
//! four services in this process (started as `generec bench feed` starts
//! them), printing the process's resident memory over time, so a leak or an
//! unbounded cache shows as growth after warm-up.
//!
//! Each second, `rate` requests are sent on a fixed schedule (open loop):
//! per ten requests, six retrieve-only GetFeeds and one SubmitFeedback for
//! a fixed population of users, two Reviews of varying text (each logged),
//! and one QueryLog; every `create_every` seconds one GetFeed whose
//! instruction makes the platform create an item for a fresh user.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use generec_proto::feed::v1 as pb;
use generec_proto::feed::v1::feed_service_client::FeedServiceClient;
use generec_proto::trust::v1 as trust_pb;
use generec_proto::trust::v1::trust_service_client::TrustServiceClient;

use crate::bench::channel;
use crate::bench_feed::Platform;

/// Users in the steady population.
const POPULATION: u64 = 2_000;

/// A field of /proc/self/status in MiB (0 where there is none).
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resident memory of this process, in MiB.
pub fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
}

impl Counts {
    fn record<T>(&self, r: &Result<T, tonic::Status>) {
        match r {
            Ok(_) => self.ok.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// What a soak run does.
pub struct Plan {
    /// How long to drive traffic.
    pub minutes: f64,
    /// Requests per second.
    pub rate: u32,
    /// Growth is measured from this point on.
    pub warmup_minutes: f64,
    /// Seconds between two creating GetFeeds (0: none).
    pub create_every: u64,
    /// Where to write heap profiles (a `heap-profile` build only).
    pub heap_profile: Option<PathBuf>,
}

/// jemalloc's own figures: bytes the program holds (`stats.allocated`) and
/// sampled heap profiles, in builds with the `heap-profile` feature.
#[cfg(all(feature = "heap-profile", unix, not(target_env = "musl")))]
mod heap {
    use std::path::Path;

    /// Bytes allocated and not freed, in MiB.
    pub fn allocated_mib() -> Option<f64> {
        tikv_jemalloc_ctl::epoch::advance().ok()?;
        let bytes = tikv_jemalloc_ctl::stats::allocated::read().ok()?;
        Some(bytes as f64 / (1024.0 * 1024.0))
    }

    /// Writes a heap profile to `path`.
    pub fn dump(path: &Path) -> anyhow::Result<()> {
        let mut name = path.to_string_lossy().into_owned().into_bytes();
        if name.contains(&0) {
            anyhow::bail!("the heap profile path {} holds a NUL byte", path.display());
        }
        name.push(0);
        // jemalloc's safe string setter wants a 'static name; a soak dumps
        // three profiles, so the few bytes are leaked on purpose.
        let name: &'static [u8] = Box::leak(name.into_boxed_slice());
        tikv_jemalloc_ctl::raw::write_str(b"prof.dump\0", name).map_err(|e| {
            anyhow::anyhow!(
                "cannot write a heap profile to {} ({e}); is _RJEM_MALLOC_CONF=prof:true set?",
                path.display()
            )
        })
    }
}

#[cfg(not(all(feature = "heap-profile", unix, not(target_env = "musl"))))]
mod heap {
    use std::path::Path;

    pub fn allocated_mib() -> Option<f64> {
        None
    }

    pub fn dump(_: &Path) -> anyhow::Result<()> {
        anyhow::bail!("--heap-profile needs a build with `--features heap-profile`")
    }
}

/// Writes the heap profile named `name` when the run asked for profiles.
fn dump_profile(dir: Option<&Path>, name: &str) -> Result<()> {
    let Some(dir) = dir else {
        return Ok(());
    };
    let path = dir.join(name);
    heap::dump(&path)?;
    println!("heap profile written to {}", path.display());
    Ok(())
}

/// `generec bench soak`.
pub async fn soak(datasets: &Path, plan: Plan) -> Result<()> {
    let Plan {
        minutes,
        rate,
        warmup_minutes,
        create_every,
        heap_profile,
    } = plan;
    if let Some(dir) = &heap_profile {
        std::fs::create_dir_all(dir)?;
        // Fail before the run, not after ten minutes of it.
        dump_profile(Some(dir), "start.heap")?;
    }
    if minutes.is_nan()
        || minutes <= 0.0
        || rate == 0
        || warmup_minutes < 0.0
        || warmup_minutes >= minutes
    {
        bail!("--minutes must be positive, --rate positive, and --warmup-minutes below --minutes");
    }
    let p = Platform::start(datasets).await?;
    let feed = FeedServiceClient::new(channel(p.feed).await?);
    let trust = TrustServiceClient::new(channel(p.trust).await?);
    let counts = Arc::new(Counts::default());
    let total = Duration::from_secs_f64(minutes * 60.0);
    let warmup = Duration::from_secs_f64(warmup_minutes * 60.0);
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    println!(
        "soak: {rate} requests/s for {minutes} min (warm-up {warmup_minutes} min), {POPULATION} users; one create every {create_every} s"
    );
    println!(
        "{:>7}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}  {:>7}",
        "min", "RSS MiB", "anon MiB", "file MiB", "heap MiB", "requests", "failed"
    );
    let started = Instant::now();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut report = tokio::time::interval(Duration::from_secs(30));
    let mut n: u64 = 0;
    let mut last_create = Instant::now();
    let mut at_warmup: Option<f64> = None;
    let mut samples: Vec<(f64, f64)> = Vec::new();
    while started.elapsed() < total {
        tokio::select! {
            _ = ticker.tick() => {
                n += 1;
                spawn_request(n, &feed, &trust, &counts);
                if create_every > 0 && last_create.elapsed() >= Duration::from_secs(create_every) {
                    last_create = Instant::now();
                    let mut f = feed.clone();
                    let c = counts.clone();
                    tokio::spawn(async move {
                        let mut r = tonic::Request::new(pb::GetFeedRequest {
                            user_id: format!("soak-new-{n}"),
                            count: 10,
                            instruction: "a digest of the markets".into(),
                            context_item_id: String::new(),
                        });
                        r.set_timeout(Duration::from_secs(60));
                        c.record(&f.get_feed(r).await);
                    });
                }
            }
            _ = report.tick() => {
                let rss = rss_mib();
                let mins = started.elapsed().as_secs_f64() / 60.0;
                samples.push((mins, rss));
                if at_warmup.is_none() && started.elapsed() >= warmup {
                    at_warmup = Some(rss);
                    dump_profile(heap_profile.as_deref(), "warm.heap")?;
                }
                let heap = heap::allocated_mib().map_or("-".to_string(), |m| format!("{m:.1}"));
                println!(
                    "{mins:>7.1}  {rss:>9.1}  {:>9.1}  {:>9.1}  {heap:>9}  {:>9}  {:>7}",
                    status_mib("RssAnon:"),
                    status_mib("RssFile:"),
                    counts.ok.load(Ordering::Relaxed) + counts.failed.load(Ordering::Relaxed),
                    counts.failed.load(Ordering::Relaxed)
                );
            }
        }
    }
    let end = rss_mib();
    dump_profile(heap_profile.as_deref(), "end.heap")?;
    let base = at_warmup.unwrap_or(end);
    let peak = samples.iter().map(|s| s.1).fold(end, f64::max);
    println!(
        "resident memory after warm-up {base:.1} MiB, at the end {end:.1} MiB ({:+.1}%), peak {peak:.1} MiB; {} requests, {} failed",
        (end - base) / base * 100.0,
        counts.ok.load(Ordering::Relaxed) + counts.failed.load(Ordering::Relaxed),
        counts.failed.load(Ordering::Relaxed)
    );
    Ok(())
}

/// The `n`th request of the steady mix.
fn spawn_request(
    n: u64,
    feed: &FeedServiceClient<tonic::transport::Channel>,
    trust: &TrustServiceClient<tonic::transport::Channel>,
    counts: &Arc<Counts>,
) {
    let user = format!("soak-{}", n.wrapping_mul(2_654_435_761) % POPULATION);
    let counts = counts.clone();
    let mut feed = feed.clone();
    let mut trust = trust.clone();
    tokio::spawn(async move {
        match n % 10 {
            0..=5 => {
                let r = feed
                    .get_feed(pb::GetFeedRequest {
                        user_id: user,
                        count: 10,
                        instruction: String::new(),
                        context_item_id: String::new(),
                    })
                    .await;
                counts.record(&r);
            }
            6 => {
                let r = feed
                    .submit_feedback(pb::SubmitFeedbackRequest {
                        user_id: user,
                        item_id: format!("bbc-business-{:03}", 1 + n % 100),
                        kind: generec_proto::generation::v1::FeedbackKind::Click as i32,
                    })
                    .await;
                counts.record(&r);
            }
            7 | 8 => {
                let r = trust
                    .review(trust_pb::ReviewRequest {
                        content: format!(
                            "Soak note {n}: markets were calm today and shares rose slightly after the bank held rates."
                        ),
                        context: None,
                    })
                    .await;
                counts.record(&r);
            }
            _ => {
                let r = trust
                    .query_log(trust_pb::QueryLogRequest {
                        entry_type: "authorship".into(),
                        page_size: 20,
                        ..Default::default()
                    })
                    .await;
                counts.record(&r);
            }
        }
    });
}
