//! Crash safety of the transparency log in the real binary: reviews (each
//! appends a policy decision) run concurrently while `generec serve trust`
//! is killed with SIGKILL; after a restart every acknowledged decision is in
//! the log and the tree head matches the entries.

mod common;

use std::process::Child;
use std::time::Duration;

use generec_proto::trust::v1 as pb;
use generec_proto::trust::v1::trust_service_client::TrustServiceClient;
use generec_trust::merkle;

fn start(dir: &std::path::Path, bundle: &std::path::Path) -> (Child, String) {
    let mut args: Vec<std::ffi::OsString> =
        ["serve", "trust", "--listen", "127.0.0.1:0", "--data-dir"]
            .iter()
            .map(Into::into)
            .collect();
    args.extend([dir.into(), "--bundle".into(), bundle.into()]);
    common::start("trust", args)
}

/// A bundle that redacts email addresses, written into `dir`.
fn bundle_in(dir: &std::path::Path) -> std::path::PathBuf {
    let bundle = dir.join("bundle.toml");
    std::fs::write(
        &bundle,
        "version = \"crash\"\n[actions]\n\"privacy.email\" = { action = \"redact\" }\n",
    )
    .unwrap();
    bundle
}

/// Kills the server `after` its writers started, and gathers what each
/// writer had acknowledged by then.
async fn kill_and_gather<T>(
    child: &mut Child,
    writers: Vec<tokio::task::JoinHandle<Vec<T>>>,
    after: Duration,
) -> Vec<T> {
    tokio::time::sleep(after).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    acknowledged
}

#[tokio::test]
async fn no_acknowledged_log_entry_is_lost_when_the_process_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = bundle_in(dir.path());
    let (mut child, addr) = start(&dir.path().join("data"), &bundle);
    let client = TrustServiceClient::connect(addr).await.unwrap();

    // 8 writers review distinct texts until the process dies.
    let mut tasks = Vec::new();
    for w in 0..8 {
        let mut c = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..10_000 {
                let content = format!("writer {w} text {i}");
                match c
                    .review(pb::ReviewRequest {
                        content: content.clone(),
                        context: None,
                    })
                    .await
                {
                    Ok(_) => acknowledged.push(content),
                    Err(_) => break,
                }
            }
            acknowledged
        }));
    }
    let acknowledged = kill_and_gather(&mut child, tasks, Duration::from_millis(700)).await;
    assert!(
        acknowledged.len() > 10,
        "too few reviews before the kill: {}",
        acknowledged.len()
    );

    let (mut child, addr) = start(&dir.path().join("data"), &bundle);
    let mut c = TrustServiceClient::connect(addr).await.unwrap();
    let cp = c
        .get_checkpoint(pb::GetCheckpointRequest {})
        .await
        .unwrap()
        .into_inner();
    // Rebuild the tree from the entries and compare heads.
    let mut tree = merkle::MemoryTree::default();
    let mut logged_hashes = std::collections::HashSet::new();
    for index in 0..cp.tree_size {
        let proof = c
            .get_inclusion_proof(pb::GetInclusionProofRequest {
                index,
                tree_size: cp.tree_size,
            })
            .await
            .unwrap()
            .into_inner();
        tree.push(merkle::leaf_hash(&proof.entry));
        let entry: serde_json::Value = serde_json::from_slice(&proof.entry).unwrap();
        if let Some(h) = entry["content_sha256"].as_str() {
            logged_hashes.insert(h.to_string());
        }
    }
    assert_eq!(
        merkle::root(&tree, cp.tree_size).unwrap().to_vec(),
        cp.root_hash,
        "the head does not match the entries"
    );
    for content in &acknowledged {
        assert!(
            logged_hashes.contains(&generec_trust::manifest::hard_binding(content)),
            "acknowledged review of {content:?} is missing from the log"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Certify no longer flushes on its own after the log's grouped flush: the
/// manifest is written before the log entry (and so flushed with it) and
/// the index that finds a manifest's authorship entry is rebuilt from the
/// log. After a SIGKILL, every acknowledged certification is still found
/// by its mark, with the log index Certify returned.
#[tokio::test]
async fn no_acknowledged_certification_is_lost_when_the_process_is_killed() {
    use generec_proto::common::v1::{ItemKind, Origin};
    let dir = tempfile::tempdir().unwrap();
    let bundle = bundle_in(dir.path());
    let (mut child, addr) = start(&dir.path().join("data"), &bundle);
    let client = TrustServiceClient::connect(addr).await.unwrap();

    let mut tasks = Vec::new();
    for w in 0..8 {
        let mut c = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..10_000 {
                let content = format!("Digest {i} of writer {w}: markets were calm today.");
                let review = c
                    .review(pb::ReviewRequest {
                        content: content.clone(),
                        context: Some(pb::ReviewContext {
                            kind: ItemKind::Article as i32,
                            user_id: format!("user-{w}"),
                            origin: Origin::AiCreated as i32,
                            ..Default::default()
                        }),
                    })
                    .await;
                if review.is_err() {
                    break;
                }
                match c
                    .certify(pb::CertifyRequest {
                        item_id: format!("gen-{w}-{i}"),
                        content,
                        creator: format!("user-{w}"),
                        creator_id: "generec".into(),
                        ..Default::default()
                    })
                    .await
                {
                    Ok(r) => acknowledged.push(r.into_inner()),
                    Err(_) => break,
                }
            }
            acknowledged
        }));
    }
    let acknowledged = kill_and_gather(&mut child, tasks, Duration::from_millis(900)).await;
    assert!(
        acknowledged.len() > 5,
        "too few certifications before the kill: {}",
        acknowledged.len()
    );

    let (mut child, addr) = start(&dir.path().join("data"), &bundle);
    let mut c = TrustServiceClient::connect(addr).await.unwrap();
    for cert in &acknowledged {
        let found = c
            .detect_provenance(pb::DetectProvenanceRequest {
                content: cert.marked_content.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(found.found, "certified {} is lost", cert.manifest_id);
        assert_eq!(found.manifest_id, cert.manifest_id);
        assert_eq!(
            found.log_index, cert.log_index,
            "the authorship entry of {} is not found at its index",
            cert.manifest_id
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
