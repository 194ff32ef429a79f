//! `generec demo`: a scripted session against a running `generec up`.
//!
//! It walks a newcomer through the loop, printing each step: a retrieved
//! feed for a fresh user; three skips that make the platform create an
//! item; what generated items may take from their sources (the digest's
//! quotations and ingredients, a creation from public-domain novels, and
//! trust blocking a draft that copies a whole article); an instruction
//! that edits a CC-BY article; the trust verdicts and signed manifests of
//! what was made; an auditor's offline check of one item; and a compliance
//! query that finds it in the transparency log.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use generec_common::auth::{AuthedChannel, Role};
use generec_proto::common::v1 as common_pb;
use generec_proto::corpus::v1 as corpus_pb;
use generec_proto::corpus::v1::corpus_service_client::CorpusServiceClient;
use generec_proto::feed::v1 as pb;
use generec_proto::feed::v1::feed_service_client::FeedServiceClient;
use generec_proto::generation::v1 as gen_pb;
use generec_proto::trust::v1 as trust_pb;
use generec_proto::trust::v1::trust_service_client::TrustServiceClient;
use generec_provenance::audit::AuditBundle;
use generec_provenance::manifest::Manifest;
use tonic::transport::{Channel, Endpoint};

/// Flags of `generec demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// The feed service.
    #[arg(long, default_value = "http://127.0.0.1:50054")]
    pub feed: String,
    /// The trust service.
    #[arg(long, default_value = "http://127.0.0.1:50052")]
    pub trust: String,
    /// The corpus service.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub corpus: String,
    #[command(flatten)]
    pub tokens: crate::config::TokenArgs,
}

/// The deadline each GetFeed carries: long enough for a generation to
/// finish inside the feed's budget for it on a slow machine.
const FEED_DEADLINE: Duration = Duration::from_secs(30);
/// How long the demo waits for a background generation.
const GENERATION_WAIT: Duration = Duration::from_secs(120);
/// How long the demo retries a degraded feed.
const DEGRADED_WAIT: Duration = Duration::from_secs(20);
/// Items per feed.
const COUNT: u32 = 6;

/// The instruction that makes a creation from the public-domain novels.
const AUSTEN_REQUEST: &str = "write me a digest about Elizabeth Bennet and Mr Darcy";

const ARTICLE_TITLE: &str = "Riverside science fair draws a record crowd";
const ARTICLE_BODY: &str = "More than four hundred visitors came to the Riverside community science fair on Saturday, the largest turnout in the event's twelve years. Students from six local schools showed their projects in the sports hall of Riverside Secondary School.

The top prize went to a team whose low-cost sensor measures air quality at bus stops. Their readings rose sharply during the morning rush hour and fell again by mid-morning, and the team has offered its data to the town council.

Other popular entries included a study of how well different mulches keep garden soil moist, a solar phone charger built from recycled parts, and a count of the bird species along the river path.

The judges, two engineers from the regional water company and a retired physics teacher, said the projects get better every year. The organisers will publish every student report online next month and hope to add a category for primary schools next year.";

fn heading(n: u32, title: &str) {
    println!();
    println!("== Step {n}. {title}");
}

/// An enum value's name without its prefix, in lower case
/// (`TRIGGER_REJECTION_STREAK` → `rejection_streak`).
fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_lowercase()
}

fn verdict_name(v: i32) -> String {
    trust_pb::Verdict::try_from(v).map_or_else(
        |_| format!("unknown ({v})"),
        |v| short(v.as_str_name(), "VERDICT_"),
    )
}

fn trigger_name(t: i32) -> String {
    gen_pb::Trigger::try_from(t).map_or_else(
        |_| format!("unknown ({t})"),
        |t| short(t.as_str_name(), "TRIGGER_"),
    )
}

fn action_name(a: i32) -> String {
    gen_pb::Action::try_from(a).map_or_else(
        |_| format!("unknown ({a})"),
        |a| short(a.as_str_name(), "ACTION_"),
    )
}

fn status_name(s: i32) -> String {
    pb::GenerationStatus::try_from(s).map_or_else(
        |_| format!("unknown ({s})"),
        |s| short(s.as_str_name(), "GENERATION_STATUS_"),
    )
}

fn origin_name(o: i32) -> String {
    common_pb::Origin::try_from(o).map_or_else(
        |_| format!("unknown ({o})"),
        |o| short(o.as_str_name(), "ORIGIN_"),
    )
}

fn label(item: &pb::FeedItem) -> &'static str {
    if item.origin_label == pb::OriginLabel::Generated as i32 {
        "generated"
    } else {
        "human"
    }
}

/// The first `max` characters of a text, marks stripped, on one line.
fn excerpt(text: &str, max: usize) -> String {
    let plain = generec_provenance::watermark::strip(text);
    let one_line = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let cut: String = one_line.chars().take(max).collect();
    format!("{}...", cut.trim_end())
}

fn words(text: &str) -> usize {
    generec_provenance::watermark::strip(text)
        .split_whitespace()
        .count()
}

/// The text a generated item's manifest binds (its mark included; binding
/// ignores marks).
fn bound_text(item: &pb::FeedItem) -> String {
    format!("{}\n\n{}", item.title, item.body)
}

fn prefix(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

async fn connect(service: &str, url: &str) -> Result<Channel> {
    if !url.contains("://") {
        bail!("--{service} {url:?} is not a URL like http://127.0.0.1:50054");
    }
    Endpoint::from_shared(url.to_string())
        .with_context(|| format!("--{service} {url:?} is not a URL"))?
        .connect_timeout(Duration::from_secs(3))
        .connect()
        .await
        .with_context(|| {
            format!(
                "cannot reach the {service} service at {url}: is the platform up? \
                 Start it with `generec up` (and pass --feed, --trust and --corpus \
                 if it listens elsewhere)"
            )
        })
}

/// The demo's clients and its user.
struct Session {
    feed: FeedServiceClient<AuthedChannel>,
    trust: TrustServiceClient<AuthedChannel>,
    /// Trust in the role that may call Review.
    reviewer: TrustServiceClient<AuthedChannel>,
    corpus: CorpusServiceClient<AuthedChannel>,
    trust_url: String,
    tokens: crate::config::TokenArgs,
    user: String,
    /// The user's background generation events (WatchFeed), when open.
    events: Option<tonic::Streaming<pb::FeedEvent>>,
    /// Items already made for the user and shown.
    shown: Vec<String>,
}

impl Session {
    async fn get_feed(&mut self, instruction: &str, context: &str) -> Result<pb::GetFeedResponse> {
        let mut req = tonic::Request::new(pb::GetFeedRequest {
            user_id: self.user.clone(),
            count: COUNT,
            instruction: instruction.to_string(),
            context_item_id: context.to_string(),
        });
        req.set_timeout(FEED_DEADLINE);
        Ok(self
            .feed
            .get_feed(req)
            .await
            .context("GetFeed failed")?
            .into_inner())
    }

    /// GetFeed, retried while the feed is degraded and no generation was
    /// started (a service is down or still starting), up to a deadline.
    async fn get_feed_patiently(
        &mut self,
        instruction: &str,
        context: &str,
    ) -> Result<pb::GetFeedResponse> {
        let started = Instant::now();
        loop {
            let r = self.get_feed(instruction, context).await?;
            let started_job = r.generation == pb::GenerationStatus::Ready as i32
                || r.generation == pb::GenerationStatus::Pending as i32;
            if !r.degraded || started_job || started.elapsed() >= DEGRADED_WAIT {
                if r.degraded {
                    println!(
                        "  (the feed is still degraded: {}; going on with what it shows)",
                        r.degraded_reasons.join("; ")
                    );
                }
                return Ok(r);
            }
            println!(
                "  (the feed is degraded: {}; retrying in 2 s)",
                r.degraded_reasons.join("; ")
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    /// Asks for a feed that should hold an item made for the user; when the
    /// generation is still running, waits for it on WatchFeed (or by
    /// asking again) and fetches the feed that holds it.
    async fn feed_until_made(
        &mut self,
        instruction: &str,
        context: &str,
    ) -> Result<pb::GetFeedResponse> {
        let first = self.get_feed_patiently(instruction, context).await?;
        print_generation(&first);
        if first.items.iter().any(|i| i.made_for_you) {
            return Ok(first);
        }
        let status = first.generation;
        if status == pb::GenerationStatus::Failed as i32
            || status == pb::GenerationStatus::Skipped as i32
        {
            bail!(
                "the platform made nothing ({}): {}",
                status_name(status),
                first.generation_detail
            );
        }
        if status == pb::GenerationStatus::None as i32 {
            bail!(
                "the instructor decided not to generate: {}",
                first.generation_detail
            );
        }
        let deadline = Instant::now() + GENERATION_WAIT;
        if let Some(events) = self.events.as_mut() {
            println!(
                "  The generation is still running; waiting for it on WatchFeed (up to {} s)...",
                GENERATION_WAIT.as_secs()
            );
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, events.message()).await {
                    Ok(Ok(Some(event))) => {
                        if event.kind == pb::FeedEventKind::Failed as i32 {
                            bail!("the generation produced nothing to show: {}", event.reason);
                        }
                        let id = event.item.as_ref().map_or("?", |i| i.item_id.as_str());
                        // An earlier generation, already shown in a feed.
                        if self.shown.iter().any(|s| s == id) {
                            continue;
                        }
                        println!("  WatchFeed: {} is ready ({})", id, event.job_id);
                    }
                    Ok(Ok(None)) | Ok(Err(_)) => {
                        println!("  (WatchFeed closed; asking for the feed again instead)");
                        self.events = None;
                    }
                    Err(_) => bail!(
                        "no generated item after {} s; see the platform's log",
                        GENERATION_WAIT.as_secs()
                    ),
                }
                break;
            }
        } else {
            println!(
                "  The generation is still running; asking for the feed again every second (up to {} s)...",
                GENERATION_WAIT.as_secs()
            );
        }
        loop {
            let r = self.get_feed("", "").await?;
            if r.items.iter().any(|i| i.made_for_you) {
                println!("  GetFeed again: generation {}", status_name(r.generation));
                return Ok(r);
            }
            if Instant::now() >= deadline {
                bail!(
                    "no generated item after {} s: {}",
                    GENERATION_WAIT.as_secs(),
                    r.generation_detail
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

fn print_generation(r: &pb::GetFeedResponse) {
    if let Some(d) = &r.decision {
        println!(
            "  The instructor decided: {} (trigger {}): {}",
            action_name(d.action),
            trigger_name(d.trigger),
            d.explanation
        );
    }
    let explained = r
        .decision
        .as_ref()
        .is_some_and(|d| d.explanation == r.generation_detail);
    if r.generation_detail.is_empty() || explained {
        println!("  generation: {}", status_name(r.generation));
    } else {
        println!(
            "  generation: {} ({})",
            status_name(r.generation),
            r.generation_detail
        );
    }
}

fn print_items(r: &pb::GetFeedResponse) {
    for (n, item) in r.items.iter().enumerate() {
        println!(
            "  {}. [{}] {}  ({})",
            n + 1,
            label(item),
            excerpt(&item.title, 70),
            item.item_id
        );
        println!(
            "     verdict {}; {}",
            verdict_name(item.verdict),
            item.reason
        );
    }
    if let Some(m) = &r.metrics {
        println!(
            "  {} human, {} generated; generated share of exposure {:.2}; {} candidate(s) left out by trust",
            m.human_items, m.generated_items, m.generated_exposure_share, r.dropped_unchecked
        );
    }
}

fn print_made(item: &pb::FeedItem) {
    println!(
        "  {} item {} ({}, trigger {}, verdict {})",
        origin_name(item.origin),
        item.item_id,
        item.licence,
        trigger_name(item.trigger),
        verdict_name(item.verdict)
    );
    println!("  title: {}", excerpt(&item.title, 100));
    println!("  body:  {}", excerpt(&item.body, 300));
    println!("  why:   {}", item.reason);
}

fn made(r: &pb::GetFeedResponse) -> Option<pb::FeedItem> {
    r.items.iter().find(|i| i.made_for_you).cloned()
}

/// Runs the demo.
pub async fn run(args: DemoArgs) -> Result<()> {
    let feed = connect("feed", &args.feed).await?;
    let trust = connect("trust", &args.trust).await?;
    let corpus = connect("corpus", &args.corpus).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let user = format!("demo-{now}");
    let mut s = Session {
        // Each service is called in the role that may: the feed and the
        // corpus as an internal service, trust as a compliance officer
        // (who also reads what auditors read).
        feed: FeedServiceClient::with_interceptor(feed, args.tokens.bearer(Role::Internal)?),
        trust: TrustServiceClient::with_interceptor(
            trust.clone(),
            args.tokens.bearer(Role::Compliance)?,
        ),
        reviewer: TrustServiceClient::with_interceptor(trust, args.tokens.bearer(Role::Internal)?),
        corpus: CorpusServiceClient::with_interceptor(corpus, args.tokens.bearer(Role::Internal)?),
        trust_url: args.trust.clone(),
        tokens: args.tokens.clone(),
        user: user.clone(),
        events: None,
        shown: Vec::new(),
    };
    println!(
        "generec demo: feed {}, trust {}, corpus {}",
        args.feed, args.trust, args.corpus
    );
    println!("A new user, {user}, with no history.");
    // Background generations report here as they finish.
    s.events = match s
        .feed
        .watch_feed(pb::WatchFeedRequest {
            user_id: user.clone(),
        })
        .await
    {
        Ok(r) => Some(r.into_inner()),
        Err(e) => {
            println!(
                "(WatchFeed is not available: {}; the demo will poll instead)",
                e.message()
            );
            None
        }
    };

    // a. A retrieved feed.
    heading(1, "A retrieved feed");
    println!(
        "  GetFeed(count {COUNT}) with no instruction: the feed retrieves candidates from the corpus,"
    );
    println!("  has trust review each one, and ranks what trust allowed (at most 3 per creator).");
    let first = s.get_feed_patiently("", "").await?;
    print_generation(&first);
    print_items(&first);
    if first.items.len() < 3 {
        bail!(
            "the first feed has {} item(s); the demo needs 3 to skip (is the BBC corpus loaded?)",
            first.items.len()
        );
    }

    // b. A streak of skips.
    heading(2, "Three skips in a row make the platform create");
    for item in first.items.iter().take(3) {
        let r = s
            .feed
            .submit_feedback(pb::SubmitFeedbackRequest {
                user_id: user.clone(),
                item_id: item.item_id.clone(),
                kind: gen_pb::FeedbackKind::Skip as i32,
            })
            .await
            .context("SubmitFeedback failed")?
            .into_inner();
        println!(
            "  SubmitFeedback skip {}: rejection streak {}",
            item.item_id, r.rejection_streak
        );
    }
    println!("  GetFeed again, still with no instruction:");
    let after = s.feed_until_made("", "").await?;
    let created = made(&after).context("no created item in the feed")?;
    s.shown.push(created.item_id.clone());
    print_made(&created);
    println!("  The feed now:");
    print_items(&after);

    // c. Licences.
    heading(3, "What a generated item may take from its sources");
    println!(
        "  The BBC articles are all rights reserved: a digest may quote each one briefly, with"
    );
    println!("  its title, and its own text is then under the platform's terms. The licence is");
    println!(
        "  computed by trust from the sources, and each source is an ingredient in the manifest:"
    );
    print_ingredients(&created)?;
    println!("  GetFeed with instruction \"{AUSTEN_REQUEST}\": Jane Austen's novels are");
    println!("  public domain, so a creation from them may quote at length and is itself CC0:");
    match s.feed_until_made(AUSTEN_REQUEST, "").await {
        Ok(r) => {
            let open = made(&r).context("no created item in the feed")?;
            s.shown.push(open.item_id.clone());
            print_made(&open);
            print_ingredients(&open)?;
        }
        Err(e) => println!(
            "  (nothing made: {e}; `scripts/fetch-data` installs the Austen texts that `generec up` loads)"
        ),
    }
    block_a_copy(&mut s, &first.items[0].item_id).await?;

    // d. An instruction that edits.
    heading(4, "An instruction that edits");
    println!("  The BBC articles are all-rights-reserved, which forbids derivatives, so first a");
    println!("  human article under CC-BY-4.0 goes into the corpus (PutItems):");
    let article_id = format!("science-fair-{now}");
    let put = s
        .corpus
        .put_items(corpus_pb::PutItemsRequest {
            items: vec![corpus_pb::Item {
                id: article_id.clone(),
                kind: common_pb::ItemKind::Article as i32,
                title: ARTICLE_TITLE.into(),
                body: ARTICLE_BODY.into(),
                tags: vec!["tech".into(), "science".into()],
                creator_id: "riverside-gazette".into(),
                origin: common_pb::Origin::Human as i32,
                licence: "CC-BY-4.0".into(),
                ..Default::default()
            }],
        })
        .await
        .context("PutItems failed")?
        .into_inner();
    let result = put.results.first().context("PutItems returned no result")?;
    if result.status == corpus_pb::PutStatus::Rejected as i32 {
        bail!("the corpus refused the article: {}", result.error);
    }
    println!(
        "  {} \"{ARTICLE_TITLE}\" by riverside-gazette: {} ({} words)",
        article_id,
        short(
            corpus_pb::PutStatus::try_from(result.status).map_or("?", |s| s.as_str_name()),
            "PUT_STATUS_"
        ),
        words(ARTICLE_BODY)
    );
    println!(
        "  GetFeed with instruction \"make it shorter\" while looking at it (context_item_id):"
    );
    let edited_feed = s.feed_until_made("make it shorter", &article_id).await?;
    let edited = made(&edited_feed).context("no edited item in the feed")?;
    print_made(&edited);
    println!(
        "  parent: {}; {} words -> {} words",
        edited.parent_ids.join(", "),
        words(ARTICLE_BODY),
        words(&edited.body)
    );

    // e. Verdicts and manifests.
    heading(5, "Trust verdicts and signed manifests");
    println!(
        "  Nothing generated reaches a feed without an allowing verdict and a manifest signed"
    );
    println!("  by trust; the in-text mark (invisible characters) carries the manifest id.");
    for item in [&created, &edited] {
        describe_manifest(&mut s, item).await?;
    }

    // f. An offline audit.
    heading(6, "An auditor checks the created item offline");
    println!("  The auditor has only the text. `generec audit bundle` finds its manifest by the");
    println!(
        "  mark and gathers the log entry, an inclusion proof, a signed checkpoint and the keys:"
    );
    let bundle = crate::audit::fetch_bundle(
        &s.trust_url,
        s.tokens.bearer(Role::Auditor)?,
        bound_text(&created),
    )
    .await?;
    let json = serde_json::to_string_pretty(&bundle)?;
    let path = std::env::temp_dir().join(format!("{user}-audit.json"));
    let written = std::fs::write(&path, &json).is_ok();
    println!(
        "  bundle: {} bytes of JSON; log entry #{}, {} proof hashes, {} public key{}{}",
        json.len(),
        bundle.log_index,
        bundle.inclusion_proof.len(),
        bundle.public_keys.len(),
        if bundle.public_keys.len() == 1 {
            ""
        } else {
            "s"
        },
        if written {
            format!("; saved as {}", path.display())
        } else {
            String::new()
        }
    );
    println!("  The auditor pinned the platform's keys once (`generec audit trust-root`);");
    println!("  `generec verify --trust-root` checks the bundle against them, with no server:");
    let root =
        crate::audit::fetch_trust_root(&s.trust_url, s.tokens.bearer(Role::Auditor)?).await?;
    let root_path = std::env::temp_dir().join(format!("{user}-trust-root.json"));
    let root_written = std::fs::write(&root_path, serde_json::to_string_pretty(&root)?).is_ok();
    let offline: AuditBundle = serde_json::from_str(&json).context("re-reading the bundle")?;
    crate::audit::check_bundle(&offline, &root)?;
    println!("  The same bundle with one word added to the content:");
    let mut tampered = offline.clone();
    tampered.content = tampered.content.replacen(' ', " not ", 1);
    match crate::audit::check_bundle(&tampered, &root) {
        Ok(()) => bail!("a tampered bundle passed verification"),
        Err(e) => println!("  -> {e}"),
    }

    // g. A compliance query.
    heading(7, "A compliance query finds it in the transparency log");
    query(&mut s.trust, "item_id", &created.item_id).await?;
    query(&mut s.trust, "user_id", &user).await?;
    println!("  (each query is itself logged, as a compliance_query entry)");

    println!();
    println!("Done. Try: generec audit query --item {}", created.item_id);
    if written && root_written {
        println!(
            "     generec verify --trust-root {} {}",
            root_path.display(),
            path.display()
        );
    }
    Ok(())
}

/// Prints a generated item's verdict and a summary of its manifest, and
/// where trust logged its authorship (found by its mark).
async fn describe_manifest(s: &mut Session, item: &pb::FeedItem) -> Result<()> {
    println!("  {} ({})", item.item_id, origin_name(item.origin));
    let m: Manifest = serde_json::from_slice(&item.manifest)
        .with_context(|| format!("the manifest of {} is not readable", item.item_id))?;
    let rules = if m.review.rule_ids.is_empty() {
        "0 findings".to_string()
    } else {
        format!(
            "findings under {} rule(s): {}",
            m.review.rule_ids.len(),
            m.review.rule_ids.join(", ")
        )
    };
    println!(
        "    verdict {} ({rules}; bundle {} {})",
        verdict_name(item.verdict),
        m.review.bundle_version,
        prefix(&m.review.bundle_hash)
    );
    let actions: Vec<String> = m
        .actions
        .iter()
        .map(|a| {
            let source = a.digital_source_type.rsplit('/').next().unwrap_or_default();
            format!("{} ({source})", a.action)
        })
        .collect();
    println!(
        "    manifest {}: {}; generator {} {}",
        m.manifest_id,
        actions.join(", "),
        m.generator.name,
        m.generator.version
    );
    for i in &m.ingredients {
        println!(
            "    ingredient: {} ({}, {}, sha256 {}...)",
            i.item_id,
            i.relationship,
            i.licence,
            prefix(&i.content_sha256)
        );
    }
    println!(
        "    binds sha256 {}... of title and body; signed by key {}",
        prefix(&m.hard_binding),
        m.key_id
    );
    let found = s
        .trust
        .detect_provenance(trust_pb::DetectProvenanceRequest {
            content: bound_text(item),
        })
        .await
        .context("DetectProvenance failed")?
        .into_inner();
    if found.found {
        println!(
            "    found by {} -> authorship entry #{} in the log; {}",
            found.method,
            found.log_index,
            found.status_codes.join(", ")
        );
    } else {
        println!("    (trust did not find its manifest by mark or soft binding)");
    }
    Ok(())
}

/// Prints what a generated item's manifest says it was made from: each
/// ingredient's relationship, licence and creator, and the parts of the
/// item it supports.
fn print_ingredients(item: &pb::FeedItem) -> Result<()> {
    let m: Manifest = serde_json::from_slice(&item.manifest)
        .with_context(|| format!("the manifest of {} is not readable", item.item_id))?;
    let text = generec_provenance::watermark::strip(&bound_text(item));
    println!(
        "  {}: licence {} (computed from {} ingredient(s))",
        item.item_id,
        m.licence,
        m.ingredients.len()
    );
    for i in &m.ingredients {
        let parts: Vec<String> = i
            .spans
            .iter()
            .take(2)
            .filter_map(|&(s, e)| text.get(s as usize..e as usize))
            .map(|t| format!("\"{}\"", excerpt(t, 60)))
            .collect();
        println!(
            "    {} {} ({} by {}): supports {} part(s){}{}",
            i.relationship,
            i.item_id,
            i.licence,
            i.creator_id,
            i.spans.len(),
            if parts.is_empty() { "" } else { ", e.g. " },
            parts.join(", ")
        );
    }
    Ok(())
}

/// Asks trust to review, as a generated item, the whole text of a BBC
/// article that cites the article itself: far beyond the short quotation
/// the bundle allows from a reserved source, so trust blocks it.
async fn block_a_copy(s: &mut Session, article_id: &str) -> Result<()> {
    let item = s
        .corpus
        .get_item(corpus_pb::GetItemRequest {
            id: article_id.to_string(),
        })
        .await
        .context("GetItem failed")?
        .into_inner()
        .item
        .context("GetItem returned no item")?;
    println!(
        "  A draft built deliberately to copy all of {} ({} words, {}) is reviewed as generated:",
        item.id,
        words(&item.body),
        item.licence
    );
    let review = s
        .reviewer
        .review(trust_pb::ReviewRequest {
            content: format!("{}\n\n{}", item.title, item.body),
            context: Some(trust_pb::ReviewContext {
                kind: common_pb::ItemKind::Article as i32,
                user_id: s.user.clone(),
                origin: common_pb::Origin::AiCreated as i32,
                sources: vec![trust_pb::SourcePassage {
                    id: format!("{}#body", item.id),
                    text: item.body.clone(),
                    item_id: item.id.clone(),
                    licence: item.licence.clone(),
                    creator_id: item.creator_id.clone(),
                    title: item.title.clone(),
                    content_sha256: item.content_sha256.clone(),
                }],
                ..Default::default()
            }),
        })
        .await
        .context("Review failed")?
        .into_inner();
    println!("  -> verdict {}", verdict_name(review.verdict));
    for f in review
        .findings
        .iter()
        .filter(|f| f.rule_id.starts_with("copyright"))
    {
        println!("     {}: {}", f.rule_id, f.evidence);
    }
    if review.verdict == trust_pb::Verdict::Allow as i32 {
        bail!("trust allowed a draft that copies a whole reserved article");
    }
    Ok(())
}

/// One compliance query (QueryLog) by `field`, printing each entry's type.
async fn query(
    trust: &mut TrustServiceClient<AuthedChannel>,
    field: &str,
    value: &str,
) -> Result<()> {
    let mut req = trust_pb::QueryLogRequest {
        page_size: 100,
        ..Default::default()
    };
    match field {
        "item_id" => req.item_id = value.to_string(),
        _ => req.user_id = value.to_string(),
    }
    let page = trust
        .query_log(req)
        .await
        .context("QueryLog failed (with access control on, it needs a compliance token)")?
        .into_inner();
    println!(
        "  QueryLog {field} = {value}: {} entr{}",
        page.records.len(),
        if page.records.len() == 1 { "y" } else { "ies" }
    );
    for r in &page.records {
        let entry: serde_json::Value = serde_json::from_str(&r.entry).unwrap_or_default();
        let s = |k: &str| {
            entry
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let detail = match s("type").as_str() {
            "authorship" => format!(
                "{} item {} by {}, manifest {}",
                s("origin"),
                s("item_id"),
                s("creator"),
                s("manifest_id")
            ),
            "policy_decision" => format!(
                "verdict {} on content sha256 {}...",
                s("verdict"),
                prefix(&s("content_sha256"))
            ),
            _ => String::new(),
        };
        println!("    #{} {}: {}", r.index, s("type"), detail);
    }
    if !page.next_page_token.is_empty() {
        println!("    (more on the next page)");
    }
    Ok(())
}
