//! Crash safety of the real binary: writes acknowledged over gRPC survive a
//! SIGKILL of `generec serve corpus`, and the restarted service finds them
//! in the store and in the index.

mod common;

use std::process::Child;

use generec_proto::common::v1::{ItemKind, Origin};
use generec_proto::corpus::v1 as pb;
use generec_proto::corpus::v1::corpus_service_client::CorpusServiceClient;

/// Starts the binary on a free port and returns it with its address.
fn start(data_dir: &std::path::Path) -> (Child, String) {
    let mut args: Vec<std::ffi::OsString> =
        ["serve", "corpus", "--listen", "127.0.0.1:0", "--data-dir"]
            .iter()
            .map(Into::into)
            .collect();
    args.push(data_dir.into());
    common::start("corpus", args)
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = start(dir.path());
    let mut client = CorpusServiceClient::connect(addr).await.unwrap();
    let items: Vec<pb::Item> = (0..50)
        .map(|i| pb::Item {
            id: format!("item-{i}"),
            kind: ItemKind::Article as i32,
            title: format!("Durable article {i}"),
            body: format!("Persistence matters, number {i}."),
            origin: Origin::Human as i32,
            licence: "CC-BY-4.0".into(),
            ..Default::default()
        })
        .collect();
    let put = client
        .put_items(pb::PutItemsRequest { items })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(put.results.len(), 50);
    let events = (0..50)
        .map(|i| pb::FeedbackEvent {
            user_id: format!("user-{}", i % 5),
            item_id: format!("item-{i}"),
            r#type: pb::EventType::Like as i32,
            ..Default::default()
        })
        .collect();
    let accepted = client
        .record_feedback(pb::RecordFeedbackRequest { events })
        .await
        .unwrap()
        .into_inner()
        .accepted;
    assert_eq!(accepted, 50);
    client
        .delete_item(pb::DeleteItemRequest {
            id: "item-7".into(),
            reason: "test".into(),
        })
        .await
        .unwrap();

    // No graceful shutdown: SIGKILL right after the acknowledgements.
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, addr) = start(dir.path());
    let mut client = CorpusServiceClient::connect(addr).await.unwrap();
    let stats = client
        .stats(pb::StatsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            stats.items,
            stats.tombstones,
            stats.interactions,
            stats.users
        ),
        (49, 1, 50, 5)
    );
    assert_eq!(stats.indexed_docs, 49);
    let hits = client
        .search(pb::SearchRequest {
            query: "durable".into(),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hits.total_hits, 49);
    assert!(hits.hits.iter().all(|h| h.id != "item-7"));
    child.kill().unwrap();
    child.wait().unwrap();
}
