//! End-to-end tests of the feed over real gRPC on 127.0.0.1, with all four
//! services in this process and the BBC articles loaded: the loop (a
//! retrieved feed; three skips make a created item; "make it shorter" on a
//! CC-BY item makes an edit), the invariant (nothing unchecked reaches a
//! feed, nothing unverified gets into the corpus), deadlines, services
//! going down, Instruct with WatchFeed, and bad input by field.
//!
//! Every response any test gets passes [`assert_checked`]: each item has an
//! allowing verdict, and each generated item a manifest that verifies
//! against the trust service's published keys and binds the item's text.

use std::time::{Duration, Instant};

use generec_corpus::provenance::TrustedKeys;
use generec_proto::common::v1::{ItemKind, Origin};
use generec_proto::corpus::v1 as corpus_pb;
use generec_proto::feed::v1 as pb;
use generec_proto::feed::v1::feed_service_client::FeedServiceClient;
use generec_proto::generation::v1 as gen_pb;
use generec_proto::trust::v1 as trust_pb;
use generec_tests::Stack;
use tonic::Code;
use tonic::transport::Channel;

/// A deadline long enough for a generation to finish inside GetFeed's
/// budget on a slow machine.
const GENEROUS: Duration = Duration::from_secs(60);

async fn stack() -> Option<Stack> {
    stack_with(|c| c).await
}

async fn stack_with(
    tune: impl FnOnce(generec_feed::FeedConfig) -> generec_feed::FeedConfig,
) -> Option<Stack> {
    let s = Stack::start(tune).await;
    if s.is_none() {
        eprintln!("skipped: the BBC corpus is missing (run scripts/fetch-data)");
    }
    s
}

fn get_feed(user: &str, count: u32, instruction: &str, context: &str) -> pb::GetFeedRequest {
    pb::GetFeedRequest {
        user_id: user.into(),
        count,
        instruction: instruction.into(),
        context_item_id: context.into(),
    }
}

async fn feed(
    client: &mut FeedServiceClient<Channel>,
    req: pb::GetFeedRequest,
    timeout: Duration,
) -> Result<pb::GetFeedResponse, tonic::Status> {
    let mut r = tonic::Request::new(req);
    r.set_timeout(timeout);
    client.get_feed(r).await.map(|r| r.into_inner())
}

/// The feed invariant, checked on every response: an allowing verdict on
/// every item, and a verifying manifest that binds the text of every
/// generated one.
fn assert_checked(resp: &pb::GetFeedResponse, trust_keys: &[String]) {
    let keys = TrustedKeys::parse("trust_keys", trust_keys).unwrap();
    for item in &resp.items {
        assert!(
            item.verdict == trust_pb::Verdict::Allow as i32
                || item.verdict == trust_pb::Verdict::AllowWithLabel as i32,
            "{} reached a feed with verdict {}",
            item.item_id,
            item.verdict
        );
        assert_checked_item(item, &keys);
    }
    let m = resp.metrics.as_ref().expect("metrics");
    assert_eq!(
        (m.human_items + m.generated_items) as usize,
        resp.items.len()
    );
}

fn assert_checked_item(item: &pb::FeedItem, keys: &TrustedKeys) {
    if item.origin == Origin::Human as i32 {
        assert_eq!(item.origin_label, pb::OriginLabel::Human as i32);
        assert!(item.manifest_id.is_empty());
        return;
    }
    assert_eq!(item.origin_label, pb::OriginLabel::Generated as i32);
    let text = format!("{}\n\n{}", item.title, item.body);
    let parents: Vec<&str> = item.parent_ids.iter().map(String::as_str).collect();
    let claimed = generec_corpus::provenance::Claimed {
        item_id: &item.item_id,
        text: &text,
        parent_ids: &parents,
        creator_id: &item.creator_id,
        licence: &item.licence,
    };
    let manifest = keys
        .check(&claimed, &item.manifest)
        .unwrap_or_else(|r| panic!("{}: the manifest does not verify: {r}", item.item_id));
    assert_eq!(manifest.manifest_id, item.manifest_id);
    // The in-text mark carries the manifest id.
    let mark = generec_provenance::watermark::extract(&text).expect("an in-text mark");
    assert_eq!(hex_encode(&mark), item.manifest_id);
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn generated(resp: &pb::GetFeedResponse) -> Vec<&pb::FeedItem> {
    resp.items
        .iter()
        .filter(|i| i.origin_label == pb::OriginLabel::Generated as i32)
        .collect()
}

/// Asks for feeds until one holds an item made for the user (a generation
/// may finish after the request that started it).
async fn feed_until_made(
    client: &mut FeedServiceClient<Channel>,
    req: pb::GetFeedRequest,
    keys: &[String],
) -> pb::GetFeedResponse {
    let started = Instant::now();
    let mut first = Some(req.clone());
    loop {
        let r = feed(
            client,
            first
                .take()
                .unwrap_or_else(|| get_feed(&req.user_id, req.count, "", "")),
            GENEROUS,
        )
        .await
        .unwrap();
        assert_checked(&r, keys);
        if r.items.iter().any(|i| i.made_for_you) {
            return r;
        }
        assert!(
            r.generation != pb::GenerationStatus::Failed as i32
                && r.generation != pb::GenerationStatus::Skipped as i32,
            "generation did not make an item: {:?} {}",
            r.generation,
            r.generation_detail
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no item was made: {} {:?}",
            r.generation_detail,
            r.items.iter().map(|i| &i.item_id).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn put(stack: &Stack, items: Vec<corpus_pb::Item>) -> Vec<corpus_pb::PutItemResult> {
    let mut c = stack.corpus.as_ref().unwrap().client().await;
    c.put_items(corpus_pb::PutItemsRequest { items })
        .await
        .unwrap()
        .into_inner()
        .results
}

fn article(id: &str, creator: &str, licence: &str, title: &str, body: &str) -> corpus_pb::Item {
    corpus_pb::Item {
        id: id.into(),
        kind: ItemKind::Article as i32,
        title: title.into(),
        body: body.into(),
        tags: vec!["business".into()],
        creator_id: creator.into(),
        origin: Origin::Human as i32,
        licence: licence.into(),
        ..Default::default()
    }
}

const CC_BY_BODY: &str = "The city council approved a new budget for public libraries on Tuesday. \
The plan adds funding for longer opening hours in every district. \
Council members said the libraries had seen record visitor numbers this year. \
Several new reading rooms will open in the spring. \
The budget also pays for repairs to the central library roof. \
Residents can comment on the plan at meetings next month.";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_loop_retrieves_then_creates_after_three_skips_then_edits_on_request() {
    let Some(s) = stack().await else { return };
    let mut c = s.feed.client().await;

    // A retrieved feed: human items only, each reviewed, at most three per creator.
    let first = feed(&mut c, get_feed("reader", 10, "", ""), GENEROUS)
        .await
        .unwrap();
    assert_checked(&first, &s.trust_keys);
    assert!(!first.items.is_empty(), "{first:?}");
    assert!(!first.degraded, "{:?}", first.degraded_reasons);
    assert_eq!(first.generation, pb::GenerationStatus::None as i32);
    assert!(first.items.iter().all(|i| i.origin == Origin::Human as i32));
    assert!(first.items.iter().all(|i| !i.reason.is_empty()));
    assert!(
        first.items.len() <= 3,
        "bbc-news is one creator: {}",
        first.items.len()
    );
    let m = first.metrics.unwrap();
    assert_eq!(m.generated_items, 0);
    assert!((m.human_exposure_share - 1.0).abs() < 1e-9);

    // Three skips in a row: the next feed holds a created item.
    for (n, item) in first.items.iter().take(3).enumerate() {
        let mut req = tonic::Request::new(pb::SubmitFeedbackRequest {
            user_id: "reader".into(),
            item_id: item.item_id.clone(),
            kind: gen_pb::FeedbackKind::Skip as i32,
        });
        req.set_timeout(GENEROUS);
        let r = c.submit_feedback(req).await.unwrap().into_inner();
        assert_eq!(r.rejection_streak as usize, n + 1);
        assert_eq!(r.session_signals as usize, n + 1);
    }
    let after = feed_until_made(&mut c, get_feed("reader", 10, "", ""), &s.trust_keys).await;
    let made = generated(&after);
    assert_eq!(made.len(), 1, "{:?}", after.items);
    let created = made[0];
    assert!(created.made_for_you);
    assert_eq!(created.origin, Origin::AiCreated as i32);
    assert_eq!(created.trigger, gen_pb::Trigger::RejectionStreak as i32);
    assert_eq!(created.creator_id, "generec");
    // Made from reserved BBC articles: short attributed quotations, so the
    // item's own text is under the platform's terms (computed, signed and
    // stored, never configured).
    let text =
        generec_provenance::watermark::strip(&format!("{}\n\n{}", created.title, created.body));
    let licence = generec_tests::assert_within_bbc_allowance(&text, &created.licence);
    assert_eq!(licence, "LicenseRef-generec-platform-terms", "{text}");
    assert!(!created.manifest_id.is_empty());
    // Each BBC article it quotes is an ingredient of its manifest.
    assert_ingredients(&s, created, "all-rights-reserved", "bbc-news").await;
    assert!(created.reason.contains("skipped"), "{}", created.reason);
    assert_eq!(
        after.items[0].item_id, created.item_id,
        "the made item comes first"
    );
    // The cap on generated items holds (the made item is always allowed).
    assert!(made.len() <= 1.max((0.3 * after.items.len() as f64) as usize));
    // Trust's own Verify agrees, and the corpus holds the same manifest.
    let mut trust = s.trust.as_ref().unwrap().client().await;
    let verified = trust
        .verify(trust_pb::VerifyRequest {
            content: format!("{}\n\n{}", created.title, created.body),
            manifest: created.manifest.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(verified.valid, "{:?}", verified.status_codes);
    let mut corpus = s.corpus.as_ref().unwrap().client().await;
    let stored = corpus
        .get_item(corpus_pb::GetItemRequest {
            id: created.item_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    assert_eq!(stored.provenance_manifest, created.manifest);
    // The streak was used: the next feed makes nothing new.
    let next = feed(&mut c, get_feed("reader", 10, "", ""), GENEROUS)
        .await
        .unwrap();
    assert_checked(&next, &s.trust_keys);
    assert_eq!(
        next.generation,
        pb::GenerationStatus::None as i32,
        "{}",
        next.generation_detail
    );

    // "Make it shorter" on a CC-BY item: an edit, with the parent's licence.
    let results = put(
        &s,
        vec![article(
            "library-budget",
            "city-desk",
            "CC-BY-4.0",
            "Council approves library budget",
            CC_BY_BODY,
        )],
    )
    .await;
    assert_eq!(results[0].status, corpus_pb::PutStatus::Created as i32);
    let edited = feed_until_made(
        &mut c,
        get_feed("reader", 10, "make it shorter", "library-budget"),
        &s.trust_keys,
    )
    .await;
    let made = generated(&edited);
    let edit = made
        .iter()
        .find(|i| i.origin == Origin::AiEdited as i32)
        .unwrap_or_else(|| panic!("no edit: {:?}", edited.items));
    assert_eq!(edit.parent_ids, vec!["library-budget".to_string()]);
    assert_eq!(edit.licence, "CC-BY-4.0");
    let m: generec_provenance::manifest::Manifest = serde_json::from_slice(&edit.manifest).unwrap();
    let parent = &m.ingredients[0];
    assert_eq!(
        (
            parent.item_id.as_str(),
            parent.relationship.as_str(),
            parent.licence.as_str()
        ),
        (
            "library-budget",
            generec_provenance::manifest::PARENT_OF,
            "CC-BY-4.0"
        )
    );
    assert_eq!(parent.creator_id, "city-desk");
    assert_eq!(
        parent.content_sha256,
        held_item(&s, "library-budget").await.content_sha256
    );
    assert_eq!(edit.trigger, gen_pb::Trigger::ExplicitRequest as i32);
    assert!(edit.body.len() < CC_BY_BODY.len(), "{}", edit.body);
    let decision = edited.decision.expect("decision");
    assert_eq!(decision.action, gen_pb::Action::Edit as i32);

    // Fairness over time.
    let stats = c
        .get_feed_stats(pb::GetFeedStatsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(stats.feeds_served >= 4);
    assert!(stats.generated_items_made >= 2);
    assert!(stats.generated_impressions >= 2);
    assert!(stats.generated_exposure_share > 0.0 && stats.generated_exposure_share < 1.0);
    assert!(stats.creators.iter().any(|c| c.creator_id == "generec"));
    assert!(stats.creator_gini >= 0.0 && stats.creator_gini < 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_unchecked_reaches_a_feed_or_the_corpus() {
    let Some(s) = stack().await else { return };

    // A generated item without a manifest, or with a forged one, is
    // rejected by the corpus, item by item.
    let mut bare = article(
        "gen-forged-1",
        "mallory",
        "CC-BY-4.0",
        "Zebra market news",
        "Zebra prices rose.",
    );
    bare.origin = Origin::AiCreated as i32;
    let mut forged = bare.clone();
    forged.id = "gen-forged-2".into();
    let key_id = {
        let keys = TrustedKeys::parse("k", &s.trust_keys).unwrap();
        keys.key_ids()[0].clone()
    };
    let text = format!("{}\n\n{}", forged.title, forged.body);
    forged.provenance_manifest = serde_json::to_vec(&generec_provenance::manifest::Manifest {
        manifest_id: "00".repeat(16),
        item_id: "gen-forged-2".into(),
        creator_id: "mallory".into(),
        licence: "CC-BY-4.0".into(),
        actions: vec![],
        ingredients: vec![],
        hard_binding: generec_provenance::manifest::hard_binding(&text),
        soft_binding: generec_provenance::manifest::soft_binding(&text),
        generator: generec_provenance::manifest::Generator {
            name: "mallory".into(),
            version: "1".into(),
        },
        review: generec_provenance::manifest::ReviewSummary {
            verdict: "allow".into(),
            bundle_hash: String::new(),
            bundle_version: String::new(),
            log_index: 0,
            rule_ids: vec![],
        },
        created_unix_ms: 1,
        key_id,
        signature: "00".repeat(64),
    })
    .unwrap();
    let results = put(&s, vec![bare, forged]).await;
    for r in &results {
        assert_eq!(r.status, corpus_pb::PutStatus::Rejected as i32, "{r:?}");
        assert!(r.error.contains("provenance_manifest"), "{}", r.error);
    }
    assert!(
        results[0].error.contains("manifest"),
        "{}",
        results[0].error
    );
    assert!(
        results[1].error.contains("signature"),
        "{}",
        results[1].error
    );

    // Human items that trust refuses: a payment card number (redacted)
    // and a threat (blocked). The instruction makes them candidates.
    let results = put(
        &s,
        vec![
            article(
                "zebra-card",
                "mallory",
                "CC-BY-4.0",
                "Zebra fund payment update",
                "Send the zebra fund payment with card 4111 1111 1111 1111 before Friday.",
            ),
            article(
                "zebra-threat",
                "mallory2",
                "CC-BY-4.0",
                "Zebra fund warning",
                "I will kill you and your family if the zebra fund is not paid.",
            ),
            article(
                "zebra-fine",
                "ann",
                "CC-BY-4.0",
                "Zebra fund grows",
                "The zebra conservation fund grew this year thanks to new donors.",
            ),
        ],
    )
    .await;
    assert!(
        results
            .iter()
            .all(|r| r.status == corpus_pb::PutStatus::Created as i32)
    );
    let mut c = s.feed.client().await;
    for user in ["zebra-fan", "other-reader"] {
        let r = feed(&mut c, get_feed(user, 20, "zebra fund", ""), GENEROUS)
            .await
            .unwrap();
        assert_checked(&r, &s.trust_keys);
        let ids: Vec<&str> = r.items.iter().map(|i| i.item_id.as_str()).collect();
        assert!(!ids.contains(&"zebra-card"), "{ids:?}");
        assert!(!ids.contains(&"zebra-threat"), "{ids:?}");
        assert!(r.dropped_unchecked >= 2, "{}", r.dropped_unchecked);
        assert!(ids.contains(&"zebra-fine"), "{ids:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tiny_deadline_returns_the_retrieved_part_and_the_item_follows() {
    // Generation gets none of a request's deadline, so "pending" is certain
    // rather than a race (a digest by the composer can take under 50 ms).
    // (1 s rather than less: tests share two cores in CI, and a deadline
    // shorter than a busy scheduler's delay measures the machine.)
    let Some(s) = stack_with(|c| generec_feed::FeedConfig {
        generation_budget_share: 0.0,
        ..c
    })
    .await
    else {
        return;
    };
    let mut c = s.feed.client().await;
    // Warm the verdict cache for this user's candidates, and for the search
    // hits of the instruction (through another user), so the quick feed
    // below answers as soon as its job has started.
    let warm = feed(&mut c, get_feed("hurried", 10, "", ""), GENEROUS)
        .await
        .unwrap();
    assert_checked(&warm, &s.trust_keys);
    assert!(!warm.items.is_empty());
    let other = feed(
        &mut c,
        get_feed("warmer", 10, "write me a digest about stock markets", ""),
        GENEROUS,
    )
    .await
    .unwrap();
    assert_checked(&other, &s.trust_keys);

    let quick = feed(
        &mut c,
        get_feed("hurried", 10, "write me a digest about stock markets", ""),
        Duration::from_millis(1000),
    )
    .await
    .expect("a tiny deadline is not an error");
    assert_checked(&quick, &s.trust_keys);
    assert_eq!(quick.deadline_ms, 1000);
    assert!(!quick.items.is_empty(), "{quick:?}");
    assert!(
        quick.items.iter().all(|i| !i.made_for_you),
        "{:?} {} {:?}",
        quick.generation,
        quick.generation_detail,
        quick
            .items
            .iter()
            .map(|i| (&i.item_id, &i.reason))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        quick.generation,
        pb::GenerationStatus::Pending as i32,
        "{}",
        quick.generation_detail
    );
    assert!(
        quick.generation_detail.contains("pending"),
        "{}",
        quick.generation_detail
    );

    // The generation finishes in the background and comes with a later feed.
    let later = feed_until_made(&mut c, get_feed("hurried", 10, "", ""), &s.trust_keys).await;
    let made = generated(&later);
    assert!(
        made.iter()
            .any(|i| i.made_for_you && i.trigger == gen_pb::Trigger::ExplicitRequest as i32)
    );

    // Even a cold cache under a tiny deadline answers (possibly with fewer items).
    let cold = feed(
        &mut c,
        get_feed("newcomer", 10, "", ""),
        Duration::from_millis(500),
    )
    .await
    .expect("a tiny deadline is not an error");
    assert_checked(&cold, &s.trust_keys);
}

/// The request the demo makes, with the feed's default deadline (no
/// grpc-timeout) and the default bundle: the digest is in this answer or in
/// the next feeds, and never held by trust (its lead is the composer's own
/// framing; its quotations keep within the allowance and name the source).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_digest_asked_for_with_the_default_deadline_reaches_the_feed() {
    let Some(s) = stack().await else {
        return;
    };
    let mut c = s.feed.client().await;
    let first = c
        .get_feed(get_feed(
            "digest-reader",
            10,
            "a digest of this week's markets",
            "",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_checked(&first, &s.trust_keys);
    assert_ne!(
        first.generation,
        pb::GenerationStatus::Failed as i32,
        "{}",
        first.generation_detail
    );
    let made = if first.items.iter().any(|i| i.made_for_you) {
        first
    } else {
        feed_until_made(&mut c, get_feed("digest-reader", 10, "", ""), &s.trust_keys).await
    };
    let digest = made.items.iter().find(|i| i.made_for_you).unwrap();
    assert!(digest.title.contains("digest"), "{}", digest.title);
    assert!(
        digest.body.contains("This digest brings together passages"),
        "{}",
        digest.body
    );
    assert_eq!(digest.licence, "LicenseRef-generec-platform-terms");
}

/// A request whose generation fails after the request stopped waiting is
/// not dropped: the next feed says so, with trust's reason, once. Here the
/// bundle allows three words from a reserved source, so every digest of
/// BBC articles copies too much and trust blocks it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_background_generation_is_told_once() {
    let Some(s) = stack_with(|c| generec_feed::FeedConfig {
        generation_budget_share: 0.05,
        ..c
    })
    .await
    else {
        return;
    };
    let strict = generec_trust::bundle::DEFAULT_BUNDLE.replace(
        "reserved = { use = \"quote\", max_words = 40, attribution = true }",
        "reserved = { use = \"quote\", max_words = 3, attribution = true }",
    );
    assert_ne!(strict, generec_trust::bundle::DEFAULT_BUNDLE);
    let mut trust = s.trust.as_ref().unwrap().client().await;
    trust
        .reload_bundle(trust_pb::ReloadBundleRequest {
            bundle_toml: strict,
        })
        .await
        .unwrap();
    let mut c = s.feed.client().await;
    let quick = feed(
        &mut c,
        get_feed("quoted", 10, "write me a digest about stock markets", ""),
        Duration::from_millis(300),
    )
    .await
    .unwrap();
    // On a fast machine the draft may be reviewed inside the deadline: then
    // this answer says it failed, and no later feed repeats it.
    if quick.generation == pb::GenerationStatus::Failed as i32 {
        assert!(
            quick.generation_detail.contains("copyright.source"),
            "{}",
            quick.generation_detail
        );
    } else {
        assert_eq!(
            quick.generation,
            pb::GenerationStatus::Pending as i32,
            "{}",
            quick.generation_detail
        );
        // Later feeds: one of them says the request failed and why.
        let started = Instant::now();
        let told = loop {
            let r = feed(&mut c, get_feed("quoted", 10, "", ""), GENEROUS)
                .await
                .unwrap();
            assert_checked(&r, &s.trust_keys);
            assert!(
                r.items.iter().all(|i| !i.made_for_you),
                "nothing blocked is shown"
            );
            if r.generation == pb::GenerationStatus::Failed as i32 {
                break r;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "never told: {} {}",
                r.generation,
                r.generation_detail
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(
            told.generation_detail.contains("earlier request")
                && told.generation_detail.contains("copyright.source"),
            "{}",
            told.generation_detail
        );
    }
    // Once: the next feed has nothing to say about it.
    let after = feed(&mut c, get_feed("quoted", 10, "", ""), GENEROUS)
        .await
        .unwrap();
    assert_eq!(
        after.generation,
        pb::GenerationStatus::None as i32,
        "{}",
        after.generation_detail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn services_down_degrade_the_feed_and_never_let_an_unchecked_item_through() {
    let Some(mut s) = stack().await else { return };
    let mut c = s.feed.client().await;
    // A generated item exists in the corpus, and verdicts are cached.
    let made = feed_until_made(
        &mut c,
        get_feed("watcher", 10, "write me a digest about stock markets", ""),
        &s.trust_keys,
    )
    .await;
    let made_id = generated(&made)[0].item_id.clone();
    let warm = feed(&mut c, get_feed("watcher", 10, "", ""), GENEROUS)
        .await
        .unwrap();
    assert_checked(&warm, &s.trust_keys);

    // Generation down: retrieved items, labelled degraded.
    drop(s.generation.take());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = feed(
        &mut c,
        get_feed("watcher", 10, "write me a digest of football", ""),
        GENEROUS,
    )
    .await
    .unwrap();
    assert_checked(&r, &s.trust_keys);
    assert!(r.degraded);
    assert!(
        r.degraded_reasons.iter().any(|d| d.contains("generation")),
        "{:?}",
        r.degraded_reasons
    );
    assert_eq!(r.generation, pb::GenerationStatus::Skipped as i32);
    assert!(!r.items.is_empty());
    assert!(r.items.iter().all(|i| !i.made_for_you));

    // Trust down too: no generated item at all, retrieved items only with a
    // cached allowing verdict. The feed learns it within a refresh of its
    // view of trust (`trust_refresh_ms`); every answer meanwhile is
    // checked all the same.
    drop(s.trust.take());
    let noticed = Instant::now() + Duration::from_secs(10);
    loop {
        let r = feed(&mut c, get_feed("watcher", 10, "", ""), GENEROUS)
            .await
            .unwrap();
        assert_checked(&r, &s.trust_keys);
        if r.degraded_reasons.iter().any(|d| d.contains("trust")) {
            break;
        }
        assert!(Instant::now() < noticed, "trust down was never noticed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for user in ["watcher", "stranger"] {
        let r = feed(&mut c, get_feed(user, 10, "", ""), GENEROUS)
            .await
            .unwrap();
        assert_checked(&r, &s.trust_keys);
        assert!(r.degraded);
        assert!(
            r.degraded_reasons.iter().any(|d| d.contains("trust")),
            "{:?}",
            r.degraded_reasons
        );
        assert!(generated(&r).is_empty(), "{:?}", r.items);
        assert!(r.items.iter().all(|i| i.item_id != made_id));
    }
    // What the watcher saw before (cached verdicts) is still shown.
    let r = feed(&mut c, get_feed("watcher", 10, "", ""), GENEROUS)
        .await
        .unwrap();
    let before: Vec<&str> = warm
        .items
        .iter()
        .filter(|i| i.origin == Origin::Human as i32)
        .map(|i| i.item_id.as_str())
        .collect();
    assert!(
        r.items.iter().any(|i| before.contains(&i.item_id.as_str())),
        "{:?} vs {before:?}",
        r.items
    );
    // An instruction to create makes nothing while trust is down.
    let r = feed(
        &mut c,
        get_feed("watcher", 10, "write me a digest about football", ""),
        GENEROUS,
    )
    .await
    .unwrap();
    assert_checked(&r, &s.trust_keys);
    assert!(generated(&r).is_empty());

    // Corpus down: nothing checked to show.
    let corpus = s.corpus.take().unwrap();
    corpus.stop().await;
    let err = feed(&mut c, get_feed("watcher", 10, "", ""), GENEROUS)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instruct_returns_at_once_and_watch_feed_delivers_the_item() {
    let Some(s) = stack().await else { return };
    let mut c = s.feed.client().await;
    let keys = TrustedKeys::parse("k", &s.trust_keys).unwrap();
    let mut events = c
        .watch_feed(pb::WatchFeedRequest {
            user_id: "asker".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let out = c
        .instruct(pb::InstructRequest {
            user_id: "asker".into(),
            instruction: "write me a digest about stock markets".into(),
            context_item_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let decision = out.decision.expect("decision");
    assert_eq!(decision.action, gen_pb::Action::Create as i32);
    assert!(!out.job_id.is_empty());
    assert!(out.guidance.is_some());

    let event = tokio::time::timeout(Duration::from_secs(120), events.message())
        .await
        .expect("an event in time")
        .unwrap()
        .expect("the stream is open");
    assert_eq!(event.job_id, out.job_id);
    assert_eq!(
        event.kind,
        pb::FeedEventKind::ItemReady as i32,
        "{}",
        event.reason
    );
    let item = event.item.expect("item");
    assert_checked_item(&item, &keys);
    assert!(item.made_for_you);
    assert_eq!(item.trigger, gen_pb::Trigger::ExplicitRequest as i32);

    // It is in the next feed too.
    let r = feed(&mut c, get_feed("asker", 10, "", ""), GENEROUS)
        .await
        .unwrap();
    assert_checked(&r, &s.trust_keys);
    assert!(
        r.items.iter().any(|i| i.item_id == item.item_id),
        "{:?}",
        r.items
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_is_refused_by_field() {
    let Some(s) = stack().await else { return };
    let mut c = s.feed.client().await;
    let cases = [
        (get_feed("", 10, "", ""), "user_id"),
        (get_feed("a b", 10, "", ""), "user_id"),
        (get_feed("u", 0, "", ""), "count"),
        (get_feed("u", 101, "", ""), "count"),
        (get_feed("u", 10, &"x".repeat(5000), ""), "instruction"),
    ];
    for (req, field) in cases {
        let err = feed(&mut c, req, GENEROUS).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
        assert!(err.message().contains(field), "{field}: {}", err.message());
    }
    let err = feed(&mut c, get_feed("u", 10, "", "no-such-item"), GENEROUS)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");

    let err = c
        .instruct(pb::InstructRequest {
            user_id: "u".into(),
            instruction: "  ".into(),
            context_item_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("instruction"), "{}", err.message());

    let err = c
        .submit_feedback(pb::SubmitFeedbackRequest {
            user_id: "u".into(),
            item_id: "bbc-tech-001".into(),
            kind: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("kind"), "{}", err.message());
    let err = c
        .submit_feedback(pb::SubmitFeedbackRequest {
            user_id: "u".into(),
            item_id: "no-such-item".into(),
            kind: gen_pb::FeedbackKind::Like as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");

    let err = c
        .watch_feed(pb::WatchFeedRequest {
            user_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("user_id"), "{}", err.message());
}

/// Rotation works end to end: after RotateKey the corpus and the feed learn
/// the new key from trust, generated items keep flowing, signed by the new
/// key; and a generated item's labels cannot be laundered through PutItems.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_key_rotation_items_keep_flowing_and_labels_cannot_be_laundered() {
    let Some(s) = stack().await else { return };
    let mut trust = s.trust.as_ref().unwrap().client().await;
    let rotated = trust
        .rotate_key(trust_pb::RotateKeyRequest {})
        .await
        .unwrap()
        .into_inner();
    let keys: Vec<String> = trust
        .get_public_keys(trust_pb::GetPublicKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys
        .into_iter()
        .map(|k| k.public_key)
        .collect();
    let mut c = s.feed.client().await;
    let r = feed_until_made(
        &mut c,
        get_feed("rotator", 6, "write me a digest about stock markets", ""),
        &keys,
    )
    .await;
    let made = r.items.iter().find(|i| i.made_for_you).unwrap();
    let m: generec_provenance::manifest::Manifest = serde_json::from_slice(&made.manifest).unwrap();
    assert_eq!(m.key_id, rotated.key_id, "signed by the new key");

    // The stored item, relabelled in every way an attacker might try.
    let mut corpus = s.corpus.as_ref().unwrap().client().await;
    let stored = corpus
        .get_item(corpus_pb::GetItemRequest {
            id: made.item_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    let mut as_human = stored.clone();
    as_human.origin = Origin::Human as i32;
    as_human.provenance_manifest = vec![];
    let mut other_creator = stored.clone();
    other_creator.creator_id = "someone-else".into();
    let mut other_licence = stored.clone();
    other_licence.licence = "CC0-1.0".into();
    let mut smuggled = stored.clone();
    smuggled.body.push_str(&"\u{E0150}".repeat(124));
    smuggled.content_sha256 = String::new();
    let results = put(&s, vec![as_human]).await;
    assert_eq!(
        results[0].status,
        corpus_pb::PutStatus::Rejected as i32,
        "{results:?}"
    );
    assert!(results[0].error.contains("origin"), "{}", results[0].error);
    for (item, word) in [
        (other_creator, "creator"),
        (other_licence, "licence"),
        (smuggled, "invisible"),
    ] {
        let results = put(&s, vec![item]).await;
        assert_eq!(
            results[0].status,
            corpus_pb::PutStatus::Rejected as i32,
            "{results:?}"
        );
        assert!(
            results[0].error.contains(word),
            "{word}: {}",
            results[0].error
        );
    }
    let still = corpus
        .get_item(corpus_pb::GetItemRequest {
            id: made.item_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    assert_eq!(still.origin, stored.origin);
    assert_eq!(still.provenance_manifest, stored.provenance_manifest);
}

/// Six short articles on one subject by one creator under one licence.
fn articles_on(
    prefix: &str,
    creator: &str,
    licence: &str,
    sentences: &[&str],
) -> Vec<corpus_pb::Item> {
    sentences
        .chunks(3)
        .enumerate()
        .map(|(n, chunk)| {
            let mut a = article(
                &format!("{prefix}-{n}"),
                creator,
                licence,
                &format!("{} notes, part {}", prefix.replace('-', " "), n + 1),
                &chunk.join(" "),
            );
            a.tags = vec![prefix.into()];
            a
        })
        .collect()
}

const LIGHTHOUSE: &[&str] = &[
    "Lighthouse keepers on the northern coast trimmed the lamp wicks every evening before sunset.",
    "The keepers recorded the weather in a log book that the harbour board inspected each quarter.",
    "A lighthouse keeper was expected to keep the lens free of salt and soot through the night.",
    "Supply boats brought oil, flour and letters to the lighthouse keepers once a fortnight in calm weather.",
    "In winter storms the lighthouse keepers sometimes waited six weeks for the supply boat.",
    "Many lighthouse keepers kept gardens of cabbages and potatoes behind the lighthouse walls.",
    "The lighthouse keepers sounded the fog bell every thirty seconds when the fog came in.",
    "Children of lighthouse keepers were taught at home by their mothers until a school opened.",
    "The last lighthouse keepers left the northern coast when the lamps were made automatic.",
];

const BEEKEEPING: &[&str] = &[
    "Beekeepers inspect their hives every week in spring to look for signs of swarming.",
    "A healthy beehive in summer can hold fifty thousand worker bees and a single queen.",
    "Beekeepers harvest honey in late summer and leave enough stores for the bees to survive winter.",
    "Varroa mites are the most serious pest that beekeepers face in their hives today.",
    "Beekeepers treat hives against varroa mites in autumn once the honey has been taken off.",
    "Smoke calms the bees because it masks the alarm scent that guard bees release.",
];

/// What the corpus holds of an item.
async fn held_item(stack: &Stack, id: &str) -> corpus_pb::Item {
    let mut corpus = stack.corpus.as_ref().unwrap().client().await;
    corpus
        .get_item(corpus_pb::GetItemRequest { id: id.into() })
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap()
}

/// Checks a created item's manifest lists each of its sources as an
/// `inputTo` ingredient with the licence, creator and content hash the
/// corpus holds, and spans inside the item's text; returns the manifest.
async fn assert_ingredients(
    stack: &Stack,
    item: &pb::FeedItem,
    licence: &str,
    creator: &str,
) -> generec_provenance::manifest::Manifest {
    let m: generec_provenance::manifest::Manifest = serde_json::from_slice(&item.manifest).unwrap();
    assert_eq!(m.licence, item.licence);
    assert!(!m.ingredients.is_empty(), "no ingredients: {m:?}");
    let text = generec_provenance::watermark::strip(&format!("{}\n\n{}", item.title, item.body));
    let mut spans = 0;
    for i in &m.ingredients {
        assert_eq!(
            i.relationship,
            generec_provenance::manifest::INPUT_TO,
            "{i:?}"
        );
        let held = held_item(stack, &i.item_id).await;
        assert_eq!(i.licence, held.licence, "{i:?}");
        assert_eq!(i.licence, licence, "{i:?}");
        assert_eq!(i.creator_id, creator, "{i:?}");
        assert_eq!(i.content_sha256, held.content_sha256, "{i:?}");
        for &(start, end) in &i.spans {
            assert!(start < end && end as usize <= text.len(), "{i:?}");
        }
        spans += i.spans.len();
    }
    assert!(spans > 0, "no ingredient supports any span: {m:?}");
    m
}

/// The licence of a created item follows its sources: public-domain
/// sources may be quoted at length and make a CC0 item; ShareAlike sources
/// make a ShareAlike item. Each source is an ingredient in the manifest,
/// and the corpus refuses the item when its licence, or the licence the
/// catalogue holds for an ingredient, differs from the manifest.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn created_items_take_their_licence_from_their_sources_and_list_them_as_ingredients() {
    let Some(s) = stack().await else { return };
    let mut items = articles_on(
        "lighthouse-keepers",
        "harbour-almanac",
        "public-domain",
        LIGHTHOUSE,
    );
    items.extend(articles_on(
        "beekeeping",
        "bee-wiki",
        "CC-BY-SA-4.0",
        BEEKEEPING,
    ));
    for r in put(&s, items).await {
        assert_eq!(r.status, corpus_pb::PutStatus::Created as i32, "{r:?}");
    }
    let mut c = s.feed.client().await;

    let open = feed_until_made(
        &mut c,
        get_feed(
            "opener",
            10,
            "write me a digest about lighthouse keepers",
            "",
        ),
        &s.trust_keys,
    )
    .await;
    let open = open.items.iter().find(|i| i.made_for_you).unwrap().clone();
    assert_eq!(open.licence, "CC0-1.0", "{}", open.body);
    let m = assert_ingredients(&s, &open, "public-domain", "harbour-almanac").await;
    // Open sources are quoted beyond what a reserved one allows.
    let text = generec_provenance::watermark::strip(&format!("{}\n\n{}", open.title, open.body));
    let mut sources = Vec::new();
    for i in &m.ingredients {
        let held = held_item(&s, &i.item_id).await;
        sources.push(generec_licence::Source {
            rights: generec_licence::SourceRights {
                item_id: held.id,
                licence: held.licence,
                creator: held.creator_id,
            },
            title: held.title,
            text: held.body,
        });
    }
    let policy = generec_licence::Policy::default();
    let a = generec_licence::assess(&policy, &text, &sources, &[]);
    let copied: usize = a.sources.iter().map(|u| u.copied_words).sum();
    assert!(copied > 40, "{copied} words copied: {text}");
    assert_eq!(a.licence, "CC0-1.0");

    let sa = feed_until_made(
        &mut c,
        get_feed("sharer", 10, "write me a digest about beekeeping", ""),
        &s.trust_keys,
    )
    .await;
    let sa = sa.items.iter().find(|i| i.made_for_you).unwrap().clone();
    assert_eq!(sa.licence, "CC-BY-SA-4.0", "{}", sa.body);
    assert_ingredients(&s, &sa, "CC-BY-SA-4.0", "bee-wiki").await;

    // The corpus refuses the item restated under another licence...
    let held = held_item(&s, &open.item_id).await;
    let mut relicensed = held.clone();
    relicensed.licence = "CC-BY-4.0".into();
    let r = put(&s, vec![relicensed]).await;
    assert_eq!(r[0].status, corpus_pb::PutStatus::Rejected as i32, "{r:?}");
    assert!(r[0].error.contains("licence"), "{}", r[0].error);
    // ...and once the catalogue holds an ingredient under another licence
    // than the manifest records.
    let source_id = m.ingredients[0].item_id.clone();
    let mut source = held_item(&s, &source_id).await;
    source.licence = "all-rights-reserved".into();
    source.content_sha256.clear();
    let r = put(&s, vec![source]).await;
    assert_eq!(r[0].status, corpus_pb::PutStatus::Updated as i32, "{r:?}");
    let r = put(&s, vec![held]).await;
    assert_eq!(r[0].status, corpus_pb::PutStatus::Rejected as i32, "{r:?}");
    assert!(
        r[0].error.contains(&source_id) && r[0].error.contains("all-rights-reserved"),
        "{}",
        r[0].error
    );
}

/// A no-derivatives parent is never edited: the request fails with the
/// reason, and no item derived from it reaches a feed or the corpus.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_no_derivatives_parent_is_not_edited() {
    let Some(s) = stack().await else { return };
    let results = put(
        &s,
        vec![article(
            "library-budget-nd",
            "city-desk",
            "CC-BY-ND-4.0",
            "Council approves library budget",
            CC_BY_BODY,
        )],
    )
    .await;
    assert_eq!(results[0].status, corpus_pb::PutStatus::Created as i32);
    let mut c = s.feed.client().await;
    let r = feed(
        &mut c,
        get_feed("editor", 10, "make it shorter", "library-budget-nd"),
        GENEROUS,
    )
    .await
    .unwrap();
    assert_checked(&r, &s.trust_keys);
    assert!(r.items.iter().all(|i| !i.made_for_you), "{:?}", r.items);
    assert_eq!(
        r.generation,
        pb::GenerationStatus::Failed as i32,
        "{}",
        r.generation_detail
    );
    assert!(
        r.generation_detail.contains("CC-BY-ND-4.0") && r.generation_detail.contains("derivatives"),
        "{}",
        r.generation_detail
    );
    let mut corpus = s.corpus.as_ref().unwrap().client().await;
    let found = corpus
        .search(corpus_pb::SearchRequest {
            query: "library budget".into(),
            filters: Some(corpus_pb::Filters {
                origins: vec![Origin::AiEdited as i32],
                ..Default::default()
            }),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(found.hits.is_empty(), "{:?}", found.hits);
}

/// Whether a feed item mentions `word` in its title, tags or the lead of
/// its body.
fn mentions(item: &pb::FeedItem, word: &str) -> bool {
    let lead: String = item.body.chars().take(600).collect();
    let text = format!("{} {} {}", item.title, item.tags.join(" "), lead).to_lowercase();
    text.split(|c: char| !c.is_alphanumeric())
        .any(|w| w == word)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn more_football_nothing_about_chelsea_keeps_football_and_drops_chelsea() {
    let Some(s) = stack().await else { return };
    let clubs = [
        (
            "fb-chelsea-1",
            "Chelsea win at Stamford Bridge",
            "Chelsea beat Fulham 3-1 at Stamford Bridge in the Premier League football match on Saturday.",
        ),
        (
            "fb-chelsea-2",
            "Chelsea manager under pressure",
            "The Chelsea manager faces questions after the football club lost a third game in a row.",
        ),
        (
            "fb-liverpool-1",
            "Liverpool go top of the league",
            "Liverpool went top of the Premier League football table with a late winner at Newcastle.",
        ),
        (
            "fb-everton-1",
            "Everton move into their new stadium",
            "Everton played their first football match at the new stadium on the banks of the Mersey.",
        ),
        (
            "fb-villa-1",
            "Aston Villa reach the cup final",
            "Aston Villa reached the FA Cup final after a football semi-final decided on penalties.",
        ),
    ];
    let items: Vec<corpus_pb::Item> = clubs
        .iter()
        .map(|(id, title, body)| {
            let mut a = article(id, &format!("desk-{id}"), "CC-BY-4.0", title, body);
            a.tags = vec!["football".into()];
            a
        })
        .collect();
    for r in put(&s, items).await {
        assert!(r.error.is_empty(), "{}", r.error);
    }
    let mut c = s.feed.client().await;
    let r = feed(
        &mut c,
        get_feed("fan", 10, "more football, nothing about Chelsea", ""),
        GENEROUS,
    )
    .await
    .unwrap();
    assert_checked(&r, &s.trust_keys);
    let g = r.guidance.clone().expect("guidance");
    let include: Vec<&str> = g.include.iter().map(|t| t.topic.as_str()).collect();
    let exclude: Vec<&str> = g.exclude.iter().map(|t| t.topic.as_str()).collect();
    assert_eq!(include, ["football"]);
    assert_eq!(exclude, ["chelsea"]);
    assert!(!r.items.is_empty());
    let chelsea: Vec<&str> = r
        .items
        .iter()
        .filter(|i| mentions(i, "chelsea"))
        .map(|i| i.item_id.as_str())
        .collect();
    assert!(chelsea.is_empty(), "items about Chelsea: {chelsea:?}");
    let football = r.items.iter().filter(|i| mentions(i, "football")).count();
    assert!(
        football >= 2,
        "{} football items in {:?}",
        football,
        r.items.iter().map(|i| &i.title).collect::<Vec<_>>()
    );
}

/// The value of the first `/metrics` line that starts with `series` (0 when
/// absent).
fn scraped(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_metrics_endpoint_counts_feeds_and_calls_by_status_code() {
    let Some(s) = stack().await else { return };
    let addr = generec_common::metrics::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut c = s.feed.client().await;
    let ok = r#"generec_rpc_requests_total{service="generec.feed.v1.FeedService",method="GetFeed",code="Ok"}"#;
    let bad = r#"generec_rpc_requests_total{service="generec.feed.v1.FeedService",method="GetFeed",code="InvalidArgument"}"#;
    let recommend = r#"generec_rpc_requests_total{service="generec.corpus.v1.CorpusService",method="Recommend",code="Ok"}"#;
    let before = scrape(addr).await;
    for user in ["m-1", "m-2", "m-3"] {
        let r = feed(&mut c, get_feed(user, 10, "", ""), GENEROUS)
            .await
            .unwrap();
        assert_checked(&r, &s.trust_keys);
    }
    let err = feed(&mut c, get_feed("", 10, "", ""), GENEROUS)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let after = scrape(addr).await;
    // Tests in this process share the recorder: counts only grow, by at
    // least what this test did.
    assert!(scraped(&after, ok) >= scraped(&before, ok) + 3.0, "{after}");
    assert!(
        scraped(&after, bad) >= scraped(&before, bad) + 1.0,
        "{after}"
    );
    // Each feed asked the corpus for its candidates.
    assert!(
        scraped(&after, recommend) >= scraped(&before, recommend) + 3.0,
        "{after}"
    );
    let served = r#"generec_feed_feeds_total{state="ok"}"#;
    assert!(
        scraped(&after, served) >= scraped(&before, served) + 3.0,
        "{after}"
    );
    assert!(after.contains("generec_rpc_duration_seconds_bucket{service=\"generec.feed.v1.FeedService\",method=\"GetFeed\""), "{after}");
    assert!(
        after.contains("generec_feed_verdict_cache_total{result=\"hit\"}"),
        "{after}"
    );
    assert!(
        after.contains("generec_trust_verdicts_total{verdict="),
        "{after}"
    );
}
