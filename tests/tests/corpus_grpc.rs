//! End-to-end tests of the corpus service over real gRPC on 127.0.0.1.

use std::time::Duration;

use generec_common::config::ServerConfig;
use generec_proto::common::v1::{ItemKind, Origin, Segment, TimeRange};
use generec_proto::corpus::v1 as pb;
use generec_proto::corpus::v1::corpus_service_client::CorpusServiceClient;
use generec_tests::{CorpusServer, test_config};
use tonic::Code;
use tonic::transport::Channel;

type Client = CorpusServiceClient<Channel>;

fn article(id: &str, title: &str, body: &str, tags: &[&str]) -> pb::Item {
    pb::Item {
        id: id.into(),
        kind: ItemKind::Article as i32,
        title: title.into(),
        body: body.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        creator_id: "desk".into(),
        origin: Origin::Human as i32,
        licence: "CC-BY-4.0".into(),
        created_unix_ms: 1_700_000_000_000,
        ..Default::default()
    }
}

async fn put(client: &mut Client, items: Vec<pb::Item>) -> Vec<pb::PutItemResult> {
    client
        .put_items(pb::PutItemsRequest { items })
        .await
        .expect("put_items")
        .into_inner()
        .results
}

fn event(user: &str, item: &str, kind: pb::EventType, value: f64) -> pb::FeedbackEvent {
    pb::FeedbackEvent {
        user_id: user.into(),
        item_id: item.into(),
        r#type: kind as i32,
        value,
        timestamp_unix_ms: 0,
    }
}

async fn feedback(
    client: &mut Client,
    events: Vec<pb::FeedbackEvent>,
) -> Result<u64, tonic::Status> {
    client
        .record_feedback(pb::RecordFeedbackRequest { events })
        .await
        .map(|r| r.into_inner().accepted)
}

async fn stats(client: &mut Client) -> pb::StatsResponse {
    client
        .stats(pb::StatsRequest {})
        .await
        .expect("stats")
        .into_inner()
}

/// Waits until the background trainer has swapped in a model trained on
/// every item (`items` of them) and every feedback event stored now.
async fn wait_for_model(client: &mut Client, items: u64) -> pb::StatsResponse {
    for _ in 0..300 {
        let s = stats(client).await;
        if s.model_items == items && s.items == items && s.model_interactions == s.interactions {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the model was not retrained in time");
}

async fn search(
    client: &mut Client,
    query: &str,
    filters: Option<pb::Filters>,
) -> Result<pb::SearchResponse, tonic::Status> {
    client
        .search(pb::SearchRequest {
            query: query.into(),
            filters,
            limit: 10,
            offset: 0,
            with_snippets: true,
        })
        .await
        .map(|r| r.into_inner())
}

fn ids(hits: &[pb::SearchHit]) -> Vec<&str> {
    hits.iter().map(|h| h.id.as_str()).collect()
}

fn assert_status(result: Result<impl std::fmt::Debug, tonic::Status>, code: Code, needle: &str) {
    match result {
        Ok(v) => panic!("expected {code:?} naming {needle:?}, got {v:?}"),
        Err(s) => {
            assert_eq!(s.code(), code, "status {s:?}");
            assert!(
                s.message().contains(needle),
                "{needle:?} not in {:?}",
                s.message()
            );
        }
    }
}

#[tokio::test]
async fn put_is_idempotent_per_id_and_get_returns_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let server = CorpusServer::start(test_config(dir.path())).await;
    let mut c = server.client().await;

    let mut video = article("v1", "Match highlights", "The best moments.", &["Sport"]);
    video.kind = ItemKind::Video as i32;
    video.segments = vec![
        Segment {
            start_seconds: 0.0,
            end_seconds: 12.5,
            text: "kick-off".into(),
            tags: vec!["start".into()],
        },
        Segment {
            start_seconds: 12.5,
            end_seconds: 30.0,
            text: "the goal".into(),
            tags: vec!["goal".into()],
        },
    ];
    video.parent_ids = vec!["a1".into()];
    video.provenance_manifest = vec![1, 2, 3, 255];
    let a1 = article(
        "a1",
        "Rates rise",
        "The central bank raised rates.",
        &["business"],
    );

    let first = put(&mut c, vec![a1.clone(), video.clone()]).await;
    assert!(
        first
            .iter()
            .all(|r| r.status == pb::PutStatus::Created as i32),
        "{first:?}"
    );
    assert_eq!(first[1].content_sha256.len(), 64);

    let again = put(&mut c, vec![a1.clone(), video.clone()]).await;
    assert!(
        again
            .iter()
            .all(|r| r.status == pb::PutStatus::Unchanged as i32),
        "{again:?}"
    );

    let mut edited = a1.clone();
    edited.body.push_str(" Markets fell.");
    let updated = put(&mut c, vec![edited]).await;
    assert_eq!(updated[0].status, pb::PutStatus::Updated as i32);
    assert_ne!(updated[0].content_sha256, first[0].content_sha256);

    let got = c
        .get_item(pb::GetItemRequest { id: "v1".into() })
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    assert_eq!(got.title, video.title);
    assert_eq!(got.segments, video.segments);
    assert_eq!(got.parent_ids, vec!["a1".to_string()]);
    assert_eq!(got.provenance_manifest, vec![1, 2, 3, 255]);
    assert_eq!(got.licence, "CC-BY-4.0");
    assert_eq!(got.origin, Origin::Human as i32);
    assert_eq!(got.content_sha256, first[1].content_sha256);

    // A client may send the hash, but it must be the right one.
    let mut wrong = article("a2", "T", "B", &[]);
    wrong.content_sha256 = "ab".repeat(32);
    let r = put(&mut c, vec![wrong]).await;
    assert_eq!(r[0].status, pb::PutStatus::Rejected as i32);
    assert!(r[0].error.contains("content_sha256"), "{}", r[0].error);
}

#[tokio::test]
async fn a_batch_reports_each_bad_item_by_field_and_writes_only_the_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let server = CorpusServer::start(test_config(dir.path())).await;
    let mut c = server.client().await;

    let good = article("good", "Fine", "Body", &[]);
    let empty_id = article("", "No id", "Body", &[]);
    let mut bad_kind = article("bad-kind", "Kind", "Body", &[]);
    bad_kind.kind = 42;
    let mut no_kind = article("no-kind", "Kind", "Body", &[]);
    no_kind.kind = 0;
    let mut bad_origin = article("bad-origin", "Origin", "Body", &[]);
    bad_origin.origin = 9;
    let huge = article("huge", "Huge", &"x".repeat(1024 * 1024 + 1), &[]);
    let mut bad_licence = article("bad-licence", "Licence", "Body", &[]);
    bad_licence.licence = "CC BY 4.0".into();
    let mut bad_segment = article("bad-seg", "Seg", "Body", &[]);
    bad_segment.kind = ItemKind::Music as i32;
    bad_segment.segments = vec![Segment {
        start_seconds: 5.0,
        end_seconds: 1.0,
        ..Default::default()
    }];
    let duplicate = article("good", "Fine again", "Body", &[]);

    let results = put(
        &mut c,
        vec![
            good,
            empty_id,
            bad_kind,
            no_kind,
            bad_origin,
            huge,
            bad_licence,
            bad_segment,
            duplicate,
        ],
    )
    .await;
    let expect = [
        ("good", None),
        ("", Some("id")),
        ("bad-kind", Some("kind")),
        ("no-kind", Some("kind")),
        ("bad-origin", Some("origin")),
        ("huge", Some("body")),
        ("bad-licence", Some("licence")),
        ("bad-seg", Some("segments[0]")),
        ("good", Some("more than once")),
    ];
    for (result, (id, field)) in results.iter().zip(expect) {
        assert_eq!(result.id, id);
        match field {
            None => assert_eq!(result.status, pb::PutStatus::Created as i32, "{result:?}"),
            Some(field) => {
                assert_eq!(result.status, pb::PutStatus::Rejected as i32, "{result:?}");
                assert!(
                    result.error.contains(field),
                    "{field:?} not in {:?}",
                    result.error
                );
            }
        }
    }
    let s = stats(&mut c).await;
    assert_eq!(s.items, 1);
    for id in ["bad-kind", "huge", "bad-licence"] {
        assert_status(
            c.get_item(pb::GetItemRequest { id: id.into() }).await,
            Code::NotFound,
            id,
        );
    }
    assert_status(
        c.get_item(pb::GetItemRequest { id: "".into() }).await,
        Code::InvalidArgument,
        "id",
    );

    let too_many: Vec<pb::Item> = (0..1001)
        .map(|i| article(&format!("x{i}"), "T", "B", &[]))
        .collect();
    assert_status(
        c.put_items(pb::PutItemsRequest { items: too_many }).await,
        Code::InvalidArgument,
        "items",
    );
}

#[tokio::test]
async fn search_filters_pages_scores_and_highlights() {
    let dir = tempfile::tempdir().unwrap();
    let server = CorpusServer::start(test_config(dir.path())).await;
    let mut c = server.client().await;
    let mut items = Vec::new();
    for i in 0..25 {
        let mut a = article(
            &format!("econ-{i:02}"),
            &format!("Economy report {i}"),
            "Growth slowed as the economy cooled and inflation eased.",
            &["business"],
        );
        a.created_unix_ms = 1_000_000 + i as i64;
        if i % 5 == 0 {
            a.origin = Origin::AiCreated as i32;
            a.licence = "CC-BY-ND-4.0".into();
        }
        items.push(a);
    }
    let mut clip = article(
        "clip",
        "Economy explained",
        "A short video on the economy.",
        &["Explainer"],
    );
    clip.kind = ItemKind::Video as i32;
    items.push(clip);
    items.push(article(
        "sport",
        "Cup final",
        "The home side won the cup.",
        &["sport"],
    ));
    put(&mut c, items).await;

    let all = search(&mut c, "economy", None).await.unwrap();
    assert_eq!(all.total_hits, 26);
    assert_eq!(all.hits.len(), 10);
    assert!(all.hits.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(
        all.hits.iter().all(|h| h.snippet.contains("<b>")),
        "{:?}",
        all.hits[0].snippet
    );

    // Pages are disjoint and together cover every hit.
    let mut seen = std::collections::HashSet::new();
    for offset in [0, 10, 20] {
        let page = c
            .search(pb::SearchRequest {
                query: "economy".into(),
                limit: 10,
                offset,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for h in &page.hits {
            assert!(seen.insert(h.id.clone()), "{} on two pages", h.id);
        }
    }
    assert_eq!(seen.len(), 26);

    let videos = search(
        &mut c,
        "economy",
        Some(pb::Filters {
            kinds: vec![ItemKind::Video as i32],
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    assert_eq!(ids(&videos.hits), vec!["clip"]);
    assert_eq!(videos.hits[0].kind, ItemKind::Video as i32);

    let generated = search(
        &mut c,
        "economy",
        Some(pb::Filters {
            origins: vec![Origin::AiCreated as i32],
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    assert_eq!(generated.total_hits, 5);
    let nd = search(
        &mut c,
        "",
        Some(pb::Filters {
            licences: vec!["CC-BY-ND-4.0".into()],
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    assert_eq!(nd.total_hits, 5);
    let tagged = search(
        &mut c,
        "",
        Some(pb::Filters {
            tags: vec!["explainer".into(), "sport".into()],
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    assert_eq!(tagged.total_hits, 2);
    let window = search(
        &mut c,
        "economy",
        Some(pb::Filters {
            created: Some(TimeRange {
                start_unix_ms: 1_000_003,
                end_unix_ms: 1_000_006,
            }),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    let mut got = ids(&window.hits);
    got.sort();
    assert_eq!(got, vec!["econ-03", "econ-04", "econ-05"]);
    let title_only = search(&mut c, "title:cup", None).await.unwrap();
    assert_eq!(ids(&title_only.hits), vec!["sport"]);
}

#[tokio::test]
async fn bad_search_requests_get_invalid_argument_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let server = CorpusServer::start(test_config(dir.path())).await;
    let mut c = server.client().await;
    put(&mut c, vec![article("a", "T", "B", &[])]).await;
    assert_status(
        search(&mut c, "title:(unclosed", None).await,
        Code::InvalidArgument,
        "query",
    );
    assert_status(
        search(&mut c, "nosuchfield:x", None).await,
        Code::InvalidArgument,
        "query",
    );
    assert_status(
        search(
            &mut c,
            "x",
            Some(pb::Filters {
                created: Some(TimeRange {
                    start_unix_ms: 10,
                    end_unix_ms: 5,
                }),
                ..Default::default()
            }),
        )
        .await,
        Code::InvalidArgument,
        "filters.created",
    );
    assert_status(
        search(
            &mut c,
            "x",
            Some(pb::Filters {
                kinds: vec![77],
                ..Default::default()
            }),
        )
        .await,
        Code::InvalidArgument,
        "filters.kinds",
    );
    assert_status(
        c.search(pb::SearchRequest {
            query: "x".into(),
            limit: 5000,
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        "limit",
    );
    assert_status(
        c.search(pb::SearchRequest {
            query: "x".repeat(5000),
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        "query",
    );
}

#[tokio::test]
async fn takedown_removes_an_item_from_search_and_recommendations_at_once_and_keeps_a_tombstone() {
    let dir = tempfile::tempdir().unwrap();
    let server = CorpusServer::start(test_config(dir.path())).await;
    let mut c = server.client().await;
    put(
        &mut c,
        vec![
            article(
                "keep",
                "Quantum chips",
                "Quantum computing chips.",
                &["tech"],
            ),
            article(
                "drop",
                "Quantum leap",
                "Quantum computing advances.",
                &["tech"],
            ),
        ],
    )
    .await;
    feedback(
        &mut c,
        vec![
            event("u1", "drop", pb::EventType::Like, 0.0),
            event("u2", "drop", pb::EventType::Like, 0.0),
        ],
    )
    .await
    .unwrap();
    wait_for_model(&mut c, 2).await;
    let before = c
        .recommend(pb::RecommendRequest {
            user_id: "u3".into(),
            count: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(before.items.iter().any(|i| i.id == "drop"));

    let deleted = c
        .delete_item(pb::DeleteItemRequest {
            id: "drop".into(),
            reason: "copyright claim".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(deleted.was_live);
    // Immediately, with no retrain in between:
    let hits = search(&mut c, "quantum", None).await.unwrap();
    assert_eq!(ids(&hits.hits), vec!["keep"]);
    let after = c
        .recommend(pb::RecommendRequest {
            user_id: "u3".into(),
            count: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        after.items.iter().all(|i| i.id != "drop"),
        "{:?}",
        after.items
    );
    let similar = c
        .similar_items(pb::SimilarItemsRequest {
            id: "keep".into(),
            count: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(similar.items.iter().all(|i| i.id != "drop"));

    assert_status(
        c.get_item(pb::GetItemRequest { id: "drop".into() }).await,
        Code::NotFound,
        "taken down",
    );
    let again = c
        .delete_item(pb::DeleteItemRequest {
            id: "drop".into(),
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!again.was_live);
    assert_eq!(again.deleted_unix_ms, deleted.deleted_unix_ms);
    let reuse = put(&mut c, vec![article("drop", "Back", "Again", &[])]).await;
    assert_eq!(reuse[0].status, pb::PutStatus::Rejected as i32);
    assert!(reuse[0].error.contains("taken down"));
    assert_status(
        feedback(&mut c, vec![event("u1", "drop", pb::EventType::Click, 0.0)]).await,
        Code::NotFound,
        "events[0].item_id",
    );
    assert_status(
        c.delete_item(pb::DeleteItemRequest {
            id: "never".into(),
            reason: String::new(),
        })
        .await,
        Code::NotFound,
        "never",
    );
    let s = stats(&mut c).await;
    assert_eq!((s.items, s.tombstones), (1, 1));
}

#[tokio::test]
async fn feedback_batches_are_all_or_nothing_and_name_the_bad_event() {
    let dir = tempfile::tempdir().unwrap();
    let server = CorpusServer::start(test_config(dir.path())).await;
    let mut c = server.client().await;
    put(
        &mut c,
        vec![article("a", "A", "a", &[]), article("b", "B", "b", &[])],
    )
    .await;

    let ok = feedback(
        &mut c,
        vec![
            event("u", "a", pb::EventType::Impression, 0.0),
            event("u", "a", pb::EventType::Watch, 0.8),
            event("u", "b", pb::EventType::Rating, 4.5),
            event("v", "b", pb::EventType::Share, 0.0),
        ],
    )
    .await
    .unwrap();
    assert_eq!(ok, 4);
    let cases: Vec<(pb::FeedbackEvent, Code, &str)> = vec![
        (
            event("u", "missing", pb::EventType::Click, 0.0),
            Code::NotFound,
            "events[1].item_id",
        ),
        (
            event("", "a", pb::EventType::Click, 0.0),
            Code::InvalidArgument,
            "events[1].user_id",
        ),
        (
            event("u", "", pb::EventType::Click, 0.0),
            Code::InvalidArgument,
            "events[1].item_id",
        ),
        (
            event("u", "a", pb::EventType::Rating, 9.0),
            Code::InvalidArgument,
            "events[1].value",
        ),
        (
            event("u", "a", pb::EventType::Watch, -0.1),
            Code::InvalidArgument,
            "events[1].value",
        ),
        (
            pb::FeedbackEvent {
                r#type: 99,
                ..event("u", "a", pb::EventType::Click, 0.0)
            },
            Code::InvalidArgument,
            "events[1].type",
        ),
        (
            pb::FeedbackEvent {
                r#type: 0,
                ..event("u", "a", pb::EventType::Click, 0.0)
            },
            Code::InvalidArgument,
            "events[1].type",
        ),
        (
            pb::FeedbackEvent {
                timestamp_unix_ms: -1,
                ..event("u", "a", pb::EventType::Click, 0.0)
            },
            Code::InvalidArgument,
            "events[1].timestamp_unix_ms",
        ),
    ];
    for (bad, code, needle) in cases {
        let result = feedback(&mut c, vec![event("u", "a", pb::EventType::Like, 0.0), bad]).await;
        assert_status(result, code, needle);
    }
    // Nothing of the failed batches was written.
    assert_eq!(stats(&mut c).await.interactions, 4);

    // Client streaming: every message's batch is recorded, one summary at the end.
    let batches = vec![
        pb::RecordFeedbackRequest {
            events: vec![event("w", "a", pb::EventType::Click, 0.0)],
        },
        pb::RecordFeedbackRequest {
            events: vec![
                event("w", "b", pb::EventType::Complete, 0.0),
                event("x", "a", pb::EventType::Skip, 0.0),
            ],
        },
    ];
    let streamed = c
        .stream_feedback(tokio_stream::iter(batches))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(streamed.accepted, 3);
    let s = stats(&mut c).await;
    assert_eq!((s.interactions, s.users), (7, 4));

    let bad_stream = vec![
        pb::RecordFeedbackRequest {
            events: vec![event("w", "a", pb::EventType::Click, 0.0)],
        },
        pb::RecordFeedbackRequest {
            events: vec![event("w", "zzz", pb::EventType::Click, 0.0)],
        },
    ];
    assert_status(
        c.stream_feedback(tokio_stream::iter(bad_stream)).await,
        Code::NotFound,
        "message 1",
    );
}

/// A small catalogue with two tastes: space and cooking.
async fn two_tastes(c: &mut Client) {
    let mut items = Vec::new();
    for i in 0..6 {
        items.push(article(
            &format!("space-{i}"),
            &format!("Rocket launch {i}"),
            "The rocket reached orbit around the planet; astronauts and satellites in space.",
            &["space"],
        ));
        items.push(article(
            &format!("food-{i}"),
            &format!("Pasta recipe {i}"),
            "Cook the pasta, add garlic, tomato sauce and basil; a kitchen classic.",
            &["food"],
        ));
    }
    put(c, items).await;
    let mut events = Vec::new();
    for u in 0..8 {
        let user = format!("space-fan-{u}");
        for i in 0..5 {
            if (i + u) % 6 != 5 {
                events.push(event(
                    &user,
                    &format!("space-{i}"),
                    pb::EventType::Like,
                    0.0,
                ));
            }
        }
        let user = format!("cook-{u}");
        for i in 0..5 {
            if (i + u) % 6 != 5 {
                events.push(event(&user, &format!("food-{i}"), pb::EventType::Like, 0.0));
            }
        }
    }
    // One item everybody clicks: the popular one.
    for u in 0..8 {
        events.push(event(
            &format!("space-fan-{u}"),
            "food-0",
            pb::EventType::Click,
            0.0,
        ));
    }
    feedback(c, events).await.unwrap();
}

#[tokio::test]
async fn recommend_ranks_by_taste_with_reasons_filters_exclusions_and_cold_start() {
    let dir = tempfile::tempdir().unwrap();
    let server = CorpusServer::start(test_config(dir.path())).await;
    let mut c = server.client().await;
    two_tastes(&mut c).await;
    wait_for_model(&mut c, 12).await;

    // A new user who liked two space items gets space items first, collaboratively.
    feedback(
        &mut c,
        vec![
            event("newbie", "space-0", pb::EventType::Like, 0.0),
            event("newbie", "space-1", pb::EventType::Like, 0.0),
        ],
    )
    .await
    .unwrap();
    let rec = c
        .recommend(pb::RecommendRequest {
            user_id: "newbie".into(),
            count: 4,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rec.items.len(), 4);
    assert!(
        rec.items[..3].iter().all(|i| i.id.starts_with("space-")),
        "{:?}",
        rec.items
    );
    assert!(
        rec.items
            .iter()
            .all(|i| i.id != "space-0" && i.id != "space-1"),
        "seen items come back"
    );
    assert!(rec.items.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(
        rec.items
            .iter()
            .any(|i| i.reason == pb::Reason::Collaborative as i32
                || i.reason == pb::Reason::Content as i32)
    );

    // Exclusions and filters.
    let excluded = c
        .recommend(pb::RecommendRequest {
            user_id: "newbie".into(),
            count: 20,
            exclude_ids: vec!["space-2".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(excluded.items.iter().all(|i| i.id != "space-2"));
    let only_food = c
        .recommend(pb::RecommendRequest {
            user_id: "newbie".into(),
            count: 20,
            filters: Some(pb::Filters {
                tags: vec!["food".into()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        !only_food.items.is_empty() && only_food.items.iter().all(|i| i.id.starts_with("food-"))
    );

    // A user with no history gets the popular item first.
    let cold = c
        .recommend(pb::RecommendRequest {
            user_id: "stranger".into(),
            count: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cold.items[0].id, "food-0");
    assert_eq!(cold.items[0].reason, pb::Reason::Popular as i32);

    // Free text blends in.
    let text = c
        .recommend(pb::RecommendRequest {
            user_id: "stranger".into(),
            count: 3,
            text: "rocket orbit astronauts".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(text.items[0].id.starts_with("space-"), "{:?}", text.items);
    assert_eq!(text.items[0].reason, pb::Reason::Query as i32);

    // Bad input.
    assert_status(
        c.recommend(pb::RecommendRequest {
            user_id: "a b".into(),
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        "user_id",
    );
    assert_status(
        c.recommend(pb::RecommendRequest {
            user_id: "u".into(),
            count: 100_000,
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        "count",
    );
    assert_status(
        c.recommend(pb::RecommendRequest {
            user_id: "u".into(),
            exclude_ids: vec!["".into()],
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        "exclude_ids",
    );
}

#[tokio::test]
async fn negative_feedback_counts_against_an_item() {
    let dir = tempfile::tempdir().unwrap();
    let server = CorpusServer::start(test_config(dir.path())).await;
    let mut c = server.client().await;
    two_tastes(&mut c).await;
    // This user likes space but disliked and skipped space-5 and space-4.
    feedback(
        &mut c,
        vec![
            event("picky", "space-0", pb::EventType::Like, 0.0),
            event("picky", "space-1", pb::EventType::Like, 0.0),
            event("picky", "space-5", pb::EventType::Dislike, 0.0),
            event("picky", "space-4", pb::EventType::Rating, 1.0),
        ],
    )
    .await
    .unwrap();
    wait_for_model(&mut c, 12).await;
    let rec = c
        .recommend(pb::RecommendRequest {
            user_id: "picky".into(),
            count: 20,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // Rejected items are not offered again.
    assert!(
        rec.items
            .iter()
            .all(|i| i.id != "space-5" && i.id != "space-4"),
        "{:?}",
        rec.items
    );

    // Popularity: many skips push an item below one with a single like.
    for u in 0..6 {
        feedback(
            &mut c,
            vec![event(
                &format!("skipper-{u}"),
                "food-0",
                pb::EventType::Skip,
                0.0,
            )],
        )
        .await
        .unwrap();
        feedback(
            &mut c,
            vec![event(
                &format!("skipper-{u}"),
                "food-0",
                pb::EventType::Dislike,
                0.0,
            )],
        )
        .await
        .unwrap();
    }
    wait_for_model(&mut c, 12).await;
    let cold = c
        .recommend(pb::RecommendRequest {
            user_id: "stranger".into(),
            count: 12,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(cold.items[0].id, "food-0", "{:?}", cold.items);
}

#[tokio::test]
async fn a_new_item_with_no_interactions_is_ranked_by_its_content_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let server = CorpusServer::start(test_config(dir.path())).await;
    let mut c = server.client().await;
    two_tastes(&mut c).await;
    feedback(
        &mut c,
        vec![
            event("fan", "space-0", pb::EventType::Like, 0.0),
            event("fan", "space-1", pb::EventType::Like, 0.0),
        ],
    )
    .await
    .unwrap();
    wait_for_model(&mut c, 12).await;

    let mut generated = article(
        "gen-1",
        "Astronauts reach orbit",
        "A rocket carried astronauts into orbit; satellites and the planet below.",
        &["space"],
    );
    generated.origin = Origin::AiCreated as i32;
    generated.parent_ids = vec!["space-0".into()];
    put(&mut c, vec![generated]).await;
    wait_for_model(&mut c, 13).await;
    let rec = c
        .recommend(pb::RecommendRequest {
            user_id: "fan".into(),
            count: 13,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let pos = rec
        .items
        .iter()
        .position(|i| i.id == "gen-1")
        .expect("the new item is ranked");
    let first_food = rec
        .items
        .iter()
        .position(|i| i.id.starts_with("food-") && i.id != "food-0")
        .unwrap_or(usize::MAX);
    assert!(
        pos < first_food,
        "new space item at {pos}, first food item at {first_food}: {:?}",
        rec.items
    );
    assert_eq!(rec.items[pos].origin, Origin::AiCreated as i32);
}

#[tokio::test]
async fn similar_items_finds_neighbours_and_refuses_unknown_ids() {
    let dir = tempfile::tempdir().unwrap();
    let server = CorpusServer::start(test_config(dir.path())).await;
    let mut c = server.client().await;
    two_tastes(&mut c).await;
    wait_for_model(&mut c, 12).await;
    let similar = c
        .similar_items(pb::SimilarItemsRequest {
            id: "space-1".into(),
            count: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(similar.items.len(), 3);
    assert!(
        similar
            .items
            .iter()
            .all(|i| i.id.starts_with("space-") && i.id != "space-1"),
        "{:?}",
        similar.items
    );
    assert_status(
        c.similar_items(pb::SimilarItemsRequest {
            id: "nope".into(),
            count: 3,
            ..Default::default()
        })
        .await,
        Code::NotFound,
        "nope",
    );
}

#[tokio::test]
async fn everything_acknowledged_survives_a_restart_and_a_lost_index_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let server = CorpusServer::start(test_config(dir.path())).await;
    let mut c = server.client().await;
    put(
        &mut c,
        vec![
            article("a", "Solar power", "Solar panels on every roof.", &["tech"]),
            article("b", "Wind farms", "Offshore wind.", &["tech"]),
        ],
    )
    .await;
    feedback(
        &mut c,
        vec![
            event("u", "a", pb::EventType::Like, 0.0),
            event("u", "b", pb::EventType::Skip, 0.0),
        ],
    )
    .await
    .unwrap();
    c.delete_item(pb::DeleteItemRequest {
        id: "b".into(),
        reason: "test".into(),
    })
    .await
    .unwrap();
    drop(c);
    server.stop().await;

    let server = CorpusServer::start(test_config(dir.path())).await;
    let mut c = server.client().await;
    let s = stats(&mut c).await;
    assert_eq!(
        (
            s.items,
            s.tombstones,
            s.interactions,
            s.users,
            s.indexed_docs
        ),
        (1, 1, 2, 1, 1)
    );
    assert_eq!(
        ids(&search(&mut c, "solar", None).await.unwrap().hits),
        vec!["a"]
    );
    assert_status(
        c.get_item(pb::GetItemRequest { id: "b".into() }).await,
        Code::NotFound,
        "taken down",
    );
    drop(c);
    server.stop().await;

    // The index is derived data: without it, the change log rebuilds it.
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let server = CorpusServer::start(test_config(dir.path())).await;
    let mut c = server.client().await;
    assert_eq!(
        ids(&search(&mut c, "solar", None).await.unwrap().hits),
        vec!["a"]
    );
    assert!(search(&mut c, "wind", None).await.unwrap().hits.is_empty());
    assert_eq!(stats(&mut c).await.indexed_docs, 1);
}

#[tokio::test]
async fn health_reports_serving_and_oversize_messages_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = tokio::task::spawn_blocking({
        let cfg = test_config(dir.path());
        move || generec_corpus::Corpus::open(cfg)
    })
    .await
    .unwrap()
    .unwrap();
    let server = CorpusServer::serve(
        corpus,
        ServerConfig {
            max_message_bytes: 64 * 1024,
            ..ServerConfig::default()
        },
    )
    .await;
    let channel = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "generec.corpus.v1.CorpusService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let mut c = server.client().await;
    let big = article("big", "Big", &"x".repeat(100 * 1024), &[]);
    let err = c
        .put_items(pb::PutItemsRequest { items: vec![big] })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    assert_eq!(stats(&mut c).await.items, 0);
}

#[tokio::test]
async fn get_items_returns_live_items_in_order_and_names_the_missing() {
    let dir = tempfile::tempdir().unwrap();
    let server = CorpusServer::start(test_config(dir.path())).await;
    let mut c = server.client().await;
    put(
        &mut c,
        vec![
            article("a", "Alpha", "First body.", &["tech"]),
            article("b", "Beta", "Second body.", &["tech"]),
            article("gone", "Gamma", "Third body.", &["tech"]),
        ],
    )
    .await;
    c.delete_item(pb::DeleteItemRequest {
        id: "gone".into(),
        reason: "test".into(),
    })
    .await
    .unwrap();
    let ids = |list: &[&str]| pb::GetItemsRequest {
        ids: list.iter().map(|s| s.to_string()).collect(),
    };
    let r = c
        .get_items(ids(&["b", "nope", "a", "b", "gone"]))
        .await
        .unwrap()
        .into_inner();
    let got: Vec<&str> = r.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(got, ["b", "a"]);
    assert_eq!(r.missing_ids, ["nope", "gone"]);
    // Every field, as GetItem gives it.
    let one = c
        .get_item(pb::GetItemRequest { id: "a".into() })
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    assert_eq!(r.items[1], one);
    assert_eq!(one.content_sha256.len(), 64);
    // None asked, none given.
    let empty = c.get_items(ids(&[])).await.unwrap().into_inner();
    assert!(empty.items.is_empty() && empty.missing_ids.is_empty());
    // Bad ids and too many ids are refused by field.
    assert_status(
        c.get_items(ids(&["a", "bad id"])).await,
        Code::InvalidArgument,
        "ids",
    );
    assert_status(
        c.get_items(ids(&["a", "x\u{200b}y"])).await,
        Code::InvalidArgument,
        "ids",
    );
    // Recommend brings the same records when asked to.
    wait_for_model(&mut c, 2).await;
    let rec = c
        .recommend(pb::RecommendRequest {
            count: 5,
            with_items: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let rec_ids: Vec<&str> = rec.items.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(rec_ids.len(), 2, "{rec_ids:?}");
    for s in &rec.items {
        let item = s.item.as_ref().expect("with_items brings the record");
        assert_eq!(item.id, s.id);
        assert_eq!(item.content_sha256.len(), 64);
    }
    let plain = c
        .recommend(pb::RecommendRequest {
            count: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(plain.items.iter().all(|s| s.item.is_none()));
    let many: Vec<String> = (0..1001).map(|i| format!("i{i}")).collect();
    assert_status(
        c.get_items(pb::GetItemsRequest { ids: many }).await,
        Code::InvalidArgument,
        "ids",
    );
}
