//! End-to-end tests of the trust service's policy checks over real gRPC on
//! 127.0.0.1.

use generec_proto::common::v1::{ItemKind, Origin};
use generec_proto::trust::v1 as pb;
use generec_tests::{TrustServer, trust_config};
use tonic::Code;

const PRIVACY_ONLY: &str = r#"
version = "privacy-only-1"
[actions]
"privacy.email" = { action = "redact" }
"privacy.cross_user" = { action = "block" }
"#;

fn request(content: &str) -> pb::ReviewRequest {
    pb::ReviewRequest {
        content: content.into(),
        context: Some(pb::ReviewContext {
            kind: ItemKind::Article as i32,
            user_id: "alice".into(),
            origin: Origin::AiCreated as i32,
            ..Default::default()
        }),
    }
}

fn bundle_file(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("bundle.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn review_returns_verdict_findings_redaction_and_bundle_hash() {
    let dir = tempfile::tempdir().unwrap();
    let path = bundle_file(dir.path(), PRIVACY_ONLY);
    let server = TrustServer::start(trust_config(&dir.path().join("trust"), Some(path))).await;
    let mut c = server.client().await;
    let r = c
        .review(request("Write to bob.smith@example.com for tickets."))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.verdict, pb::Verdict::Redact as i32);
    assert_eq!(r.bundle_version, "privacy-only-1");
    assert_eq!(r.bundle_hash.len(), 64);
    let f = &r.findings[0];
    assert_eq!(f.category, "privacy.email");
    assert_eq!(f.policy, "privacy");
    assert_eq!(
        &"Write to bob.smith@example.com for tickets."[f.span_start as usize..f.span_end as usize],
        "bob.smith@example.com"
    );
    assert!(
        !f.evidence.contains("bob.smith@example.com"),
        "evidence must be masked: {}",
        f.evidence
    );
    assert!(
        !r.redacted_text.contains("bob.smith"),
        "{}",
        r.redacted_text
    );
    assert!(
        r.redacted_text.starts_with("Write to ["),
        "{}",
        r.redacted_text
    );

    let clean = c
        .review(request("The match ended two all."))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(clean.verdict, pb::Verdict::Allow as i32);
    assert!(clean.findings.is_empty());
}

#[tokio::test]
async fn a_reloaded_bundle_changes_the_verdict_without_a_restart_and_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = bundle_file(dir.path(), PRIVACY_ONLY);
    let server =
        TrustServer::start(trust_config(&dir.path().join("trust"), Some(path.clone()))).await;
    let mut c = server.client().await;
    let text = "Mail me at jo@example.org";
    let before = c.review(request(text)).await.unwrap().into_inner();
    assert_eq!(before.verdict, pb::Verdict::Redact as i32);

    let stricter = PRIVACY_ONLY
        .replace("privacy-only-1", "privacy-only-2")
        .replace(
            r#""privacy.email" = { action = "redact" }"#,
            r#""privacy.email" = { action = "block" }"#,
        );
    let info = c
        .reload_bundle(pb::ReloadBundleRequest {
            bundle_toml: stricter,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.version, "privacy-only-2");
    let after = c.review(request(text)).await.unwrap().into_inner();
    assert_eq!(after.verdict, pb::Verdict::Block as i32);
    assert_ne!(after.bundle_hash, before.bundle_hash);

    // Refused bundles leave the active one in place.
    for (bad, needle) in [
        ("version = \"x\"\n[actions]\n", "no policies"),
        (
            "version = \"x\"\n[actions]\n\"privacy.emial\" = { action = \"block\" }\n",
            "privacy.emial",
        ),
        (
            "version = \"x\"\n[actions]\n\"privacy.email\" = { action = \"redact\" }\n[privacy]\nallow_patterns = [\"(unclosed\"]\n",
            "(unclosed",
        ),
        (
            "version = \"x\"\non_error = \"allow\"\n[actions]\n\"privacy.email\" = { action = \"redact\" }\n",
            "on_error",
        ),
        ("not toml at all [", "bundle"),
    ] {
        let err = c
            .reload_bundle(pb::ReloadBundleRequest {
                bundle_toml: bad.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
        assert!(
            err.message().contains(needle),
            "{needle:?} not in {:?}",
            err.message()
        );
    }
    let active = c
        .get_bundle(pb::GetBundleRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(active.version, "privacy-only-2");

    // An empty reload rereads the configured file.
    let reread = c
        .reload_bundle(pb::ReloadBundleRequest {
            bundle_toml: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reread.version, "privacy-only-1");
}

#[tokio::test]
async fn content_for_one_user_with_another_users_private_attribute_is_blocked() {
    let dir = tempfile::tempdir().unwrap();
    let path = bundle_file(dir.path(), PRIVACY_ONLY);
    let server = TrustServer::start(trust_config(&dir.path().join("trust"), Some(path))).await;
    let mut c = server.client().await;
    let registered = c
        .register_private_attributes(pb::RegisterPrivateAttributesRequest {
            user_id: "bob".into(),
            attributes: vec![pb::PrivateAttribute {
                kind: "address".into(),
                value: "27 Larch Crescent, Hexham".into(),
            }],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(registered.registered, 1);
    let leak = c
        .review(request(
            "Your neighbour at 27 larch crescent hexham loved it.",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(leak.verdict, pb::Verdict::Block as i32, "{leak:?}");
    assert!(
        leak.findings
            .iter()
            .any(|f| f.category == "privacy.cross_user")
    );
    assert!(
        !leak
            .findings
            .iter()
            .any(|f| f.evidence.to_lowercase().contains("larch")),
        "{leak:?}"
    );

    // Bob's own address in content made for Bob is not a leak.
    let mut own = request("Deliveries go to 27 Larch Crescent, Hexham.");
    own.context.as_mut().unwrap().user_id = "bob".into();
    let own = c.review(own).await.unwrap().into_inner();
    assert!(
        own.findings
            .iter()
            .all(|f| f.category != "privacy.cross_user"),
        "{own:?}"
    );

    let err = c
        .register_private_attributes(pb::RegisterPrivateAttributesRequest {
            user_id: String::new(),
            attributes: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("user_id"));
}

#[tokio::test]
async fn bad_review_requests_get_invalid_argument_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = bundle_file(dir.path(), PRIVACY_ONLY);
    let server = TrustServer::start(trust_config(&dir.path().join("trust"), Some(path))).await;
    let mut c = server.client().await;
    let mut bad_kind = request("x");
    bad_kind.context.as_mut().unwrap().kind = 99;
    let err = c.review(bad_kind).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("context.kind"), "{}", err.message());
    let err = c
        .review(request(&"x".repeat(1024 * 1024 + 1)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("content"), "{}", err.message());
    for framing in [
        vec![pb::ByteRange { start: 5, end: 2 }],
        vec![pb::ByteRange { start: 0, end: 1 }; 65],
    ] {
        let mut bad = request("x");
        bad.context.as_mut().unwrap().framing = framing;
        let err = c.review(bad).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(
            err.message().contains("context.framing"),
            "{}",
            err.message()
        );
    }
    // Ranges past the end of the content mark nothing and are no error.
    let mut beyond = request("x");
    beyond.context.as_mut().unwrap().framing = vec![pb::ByteRange {
        start: 0,
        end: u32::MAX,
    }];
    c.review(beyond).await.unwrap();
    let err = c
        .register_work(pb::RegisterWorkRequest {
            work_id: "w".into(),
            claimant: "c".into(),
            licence: "all-rights-reserved".into(),
            policy: 0,
            text: "one two three four five six".into(),
        })
        .await
        .unwrap_err();
    assert!(err.message().contains("policy"), "{}", err.message());
}

#[tokio::test]
async fn the_review_stream_answers_every_request_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = bundle_file(dir.path(), PRIVACY_ONLY);
    let server = TrustServer::start(trust_config(&dir.path().join("trust"), Some(path))).await;
    let mut c = server.client().await;
    let requests = vec![
        request("clean text"),
        request("mail a@example.com now"),
        request("also clean"),
    ];
    let mut stream = c
        .review_stream(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let mut verdicts = Vec::new();
    while let Some(r) = stream.message().await.unwrap() {
        verdicts.push(r.verdict);
    }
    assert_eq!(
        verdicts,
        vec![
            pb::Verdict::Allow as i32,
            pb::Verdict::Redact as i32,
            pb::Verdict::Allow as i32
        ]
    );
}

#[tokio::test]
async fn a_near_copy_of_a_claimed_work_is_blocked_and_derivatives_of_nd_parents_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = bundle_file(
        dir.path(),
        "version = \"copyright-1\"\n[actions]\n\"copyright.near_duplicate\" = { action = \"block\" }\n\"copyright.derivative\" = { action = \"block\" }\n",
    );
    let server = TrustServer::start(trust_config(&dir.path().join("trust"), Some(path))).await;
    let mut c = server.client().await;
    let work = "It is a truth universally acknowledged, that a single man in possession of a good fortune, \
must be in want of a wife. However little known the feelings or views of such a man may be on his first \
entering a neighbourhood, this truth is so well fixed in the minds of the surrounding families, that he is \
considered the rightful property of some one or other of their daughters.";
    let registered = c
        .register_work(pb::RegisterWorkRequest {
            work_id: "pride-and-prejudice-ch1".into(),
            claimant: "estate".into(),
            licence: "all-rights-reserved".into(),
            policy: pb::ClaimPolicy::Block as i32,
            text: work.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(registered.shingles > 10);
    let copy = c
        .review(request(&work.replace("universally", "widely")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(copy.verdict, pb::Verdict::Block as i32, "{copy:?}");
    assert!(
        copy.findings
            .iter()
            .any(|f| f.category == "copyright.near_duplicate"
                && f.evidence.contains("pride-and-prejudice-ch1"))
    );
    let unrelated = c
        .review(request(
            "The league table changed again after a rainy weekend of football.",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        unrelated.verdict,
        pb::Verdict::Allow as i32,
        "{unrelated:?}"
    );

    let mut edit = request("A shorter version of the story.");
    edit.context.as_mut().unwrap().parents = vec![pb::ParentItem {
        id: "p1".into(),
        licence: "CC-BY-ND-4.0".into(),
        owner_consent: false,
    }];
    let edit = c.review(edit).await.unwrap().into_inner();
    assert_eq!(edit.verdict, pb::Verdict::Block as i32);
    assert!(
        edit.findings
            .iter()
            .any(|f| f.category == "copyright.derivative")
    );
}

#[tokio::test]
async fn the_default_bundle_loads_and_reviews() {
    let dir = tempfile::tempdir().unwrap();
    let server = TrustServer::start(trust_config(&dir.path().join("trust"), None)).await;
    let mut c = server.client().await;
    let info = c
        .get_bundle(pb::GetBundleRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.version, "generec-default-1");
    assert!(info.categories.len() >= 20);
    let r = c
        .review(request(
            "Call 020 7946 0018 or email help@example.com about the card 4111 1111 1111 1111.",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.bundle_hash, server.trust.reviewer.bundle().hash);
    assert!(
        r.findings
            .iter()
            .any(|f| f.category == "privacy.payment_card"),
        "{r:?}"
    );
}

#[tokio::test]
async fn certified_items_verify_are_detected_and_are_provable_in_the_log() {
    use generec_trust::{merkle, note};
    let dir = tempfile::tempdir().unwrap();
    let path = bundle_file(dir.path(), PRIVACY_ONLY);
    let server = TrustServer::start(trust_config(&dir.path().join("trust"), Some(path))).await;
    let mut c = server.client().await;
    let text =
        "A calm digest: markets rose on Friday as inflation eased and the central bank held rates.";

    // Not reviewed yet: refused.
    let certify = |content: &str| pb::CertifyRequest {
        item_id: "gen-digest-1".into(),
        content: content.into(),
        creator: "feed".into(),
        creator_id: "generec".into(),
        // The licence the review computed.
        licence: String::new(),
        generator_name: "generec-composer".into(),
        generator_version: "0.1.0".into(),
        ..Default::default()
    };
    let err = c.certify(certify(text)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("not been reviewed"),
        "{}",
        err.message()
    );
    // Reviewed and redacted: still refused.
    let redacted = "Contact ann@example.com for the digest.";
    assert_eq!(
        c.review(request(redacted))
            .await
            .unwrap()
            .into_inner()
            .verdict,
        pb::Verdict::Redact as i32
    );
    assert!(
        c.certify(certify(redacted))
            .await
            .unwrap_err()
            .message()
            .contains("redact")
    );

    // Reviewed and allowed: certified.
    assert_eq!(
        c.review(request(text)).await.unwrap().into_inner().verdict,
        pb::Verdict::Allow as i32
    );
    let cert = c.certify(certify(text)).await.unwrap().into_inner();
    assert_ne!(cert.marked_content, text);
    let verified = c
        .verify(pb::VerifyRequest {
            content: cert.marked_content.clone(),
            manifest: cert.manifest.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(verified.valid);
    assert_eq!(
        verified.status_codes,
        vec!["claimSignature.validated", "assertion.dataHash.match"]
    );
    let tampered = c
        .verify(pb::VerifyRequest {
            content: cert.marked_content.replace("rose", "fell"),
            manifest: cert.manifest.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!tampered.valid);
    assert!(
        tampered
            .status_codes
            .contains(&"assertion.dataHash.mismatch".to_string())
    );

    // Detection by mark, and by soft binding once the mark is stripped and the text edited.
    let by_mark = c
        .detect_provenance(pb::DetectProvenanceRequest {
            content: cert.marked_content.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            by_mark.found,
            by_mark.method.as_str(),
            by_mark.manifest_id.as_str()
        ),
        (true, "watermark", cert.manifest_id.as_str())
    );
    let copied =
        generec_trust::watermark::strip(&cert.marked_content).replace("Friday", "Thursday");
    let by_soft = c
        .detect_provenance(pb::DetectProvenanceRequest { content: copied })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (by_soft.found, by_soft.method.as_str()),
        (true, "soft_binding")
    );
    assert_eq!(by_soft.manifest_id, cert.manifest_id);

    // An auditor checks the checkpoint signature and the authorship entry's inclusion.
    let keys = c
        .get_public_keys(pb::GetPublicKeysRequest {})
        .await
        .unwrap()
        .into_inner();
    let cp = c
        .get_checkpoint(pb::GetCheckpointRequest {})
        .await
        .unwrap()
        .into_inner();
    let verifier = note::parse_verifier_key(&keys.checkpoint_verifier_key).unwrap();
    let checkpoint = note::Checkpoint::verify(&cp.signed_note, &verifier).unwrap();
    assert_eq!(checkpoint.size, cp.tree_size);
    let proof = c
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            index: cert.log_index,
            tree_size: cp.tree_size,
        })
        .await
        .unwrap()
        .into_inner();
    let hashes: Vec<merkle::Hash> = proof
        .hashes
        .iter()
        .map(|h| h.as_slice().try_into().unwrap())
        .collect();
    assert!(merkle::verify_inclusion(
        &merkle::leaf_hash(&proof.entry),
        cert.log_index,
        cp.tree_size,
        &hashes,
        &checkpoint.root
    ));
    let entry: serde_json::Value = serde_json::from_slice(&proof.entry).unwrap();
    assert_eq!(entry["type"], "authorship");
    assert_eq!(entry["manifest_id"], cert.manifest_id.as_str());
    assert!(!String::from_utf8_lossy(&proof.entry).contains("ann@example.com"));

    // Human uploads are logged as authorship too, without a manifest.
    let upload = c
        .record_upload(pb::RecordUploadRequest {
            item_id: "bbc-tech-001".into(),
            content_sha256: "ab".repeat(32),
            creator: "bbc-news".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let human = c
        .query_log(pb::QueryLogRequest {
            item_id: "bbc-tech-001".into(),
            page_size: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(human.records.len(), 1);
    assert_eq!(human.records[0].index, upload.log_index);
    let entry: serde_json::Value = serde_json::from_str(&human.records[0].entry).unwrap();
    assert_eq!(
        (entry["type"].as_str(), entry["origin"].as_str()),
        (Some("authorship"), Some("human"))
    );
    let err = c
        .record_upload(pb::RecordUploadRequest {
            item_id: "x".into(),
            content_sha256: "nothex".into(),
            creator: "c".into(),
        })
        .await
        .unwrap_err();
    assert!(err.message().contains("content_sha256"));

    // Consistency between an earlier and the latest checkpoint.
    let consistency = c
        .get_consistency_proof(pb::GetConsistencyProofRequest {
            old_size: 2,
            new_size: cp.tree_size,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(consistency.new_size, cp.tree_size);
    let err = c
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            index: 10_000,
            tree_size: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("index"));
}

#[tokio::test]
async fn every_call_needs_a_token_whose_role_may_make_it() {
    use generec_common::auth::{AuthConfig, Role, TokenConfig, token_hash};
    let dir = tempfile::tempdir().unwrap();
    let path = bundle_file(dir.path(), PRIVACY_ONLY);
    let auth = AuthConfig {
        tokens: vec![
            TokenConfig {
                name: "feed".into(),
                role: Role::Internal,
                sha256: token_hash("internal-secret"),
            },
            TokenConfig {
                name: "auditor".into(),
                role: Role::Auditor,
                sha256: token_hash("auditor-secret"),
            },
            TokenConfig {
                name: "ops".into(),
                role: Role::Admin,
                sha256: token_hash("admin-secret"),
            },
        ],
    };
    let server =
        TrustServer::start_with_auth(trust_config(&dir.path().join("trust"), Some(path)), auth)
            .await;
    let mut c = server.client().await;
    let with = |token: &str, mut req: tonic::Request<pb::ReviewRequest>| {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        req
    };
    // No token, a wrong token.
    let err = c.review(request("x")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = c
        .review(with("guess", tonic::Request::new(request("x"))))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    // Internal reviews; an auditor may not.
    assert!(
        c.review(with("internal-secret", tonic::Request::new(request("x"))))
            .await
            .is_ok()
    );
    let err = c
        .review(with("auditor-secret", tonic::Request::new(request("x"))))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // The auditor reads checkpoints; only an admin reloads bundles.
    let mut cp = tonic::Request::new(pb::GetCheckpointRequest {});
    cp.metadata_mut()
        .insert("authorization", "Bearer auditor-secret".parse().unwrap());
    assert!(c.get_checkpoint(cp).await.is_ok());
    for (token, code) in [
        ("internal-secret", Some(Code::PermissionDenied)),
        ("admin-secret", None),
    ] {
        let mut reload = tonic::Request::new(pb::ReloadBundleRequest {
            bundle_toml: PRIVACY_ONLY.into(),
        });
        reload
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        match (c.reload_bundle(reload).await, code) {
            (Ok(_), None) => {}
            (Err(e), Some(code)) => assert_eq!(e.code(), code),
            (r, _) => panic!("{token}: unexpected {r:?}"),
        }
    }
    // Health stays open for probes.
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    assert!(
        health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new()
            })
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn compliance_queries_find_decisions_by_user_verdict_and_rule_and_are_themselves_logged() {
    let dir = tempfile::tempdir().unwrap();
    let path = bundle_file(dir.path(), PRIVACY_ONLY);
    let server = TrustServer::start(trust_config(&dir.path().join("trust"), Some(path))).await;
    let mut c = server.client().await;
    for (user, text) in [
        ("alice", "mail me at al@example.com"),
        ("bob", "clean words"),
        ("alice", "clean too"),
        ("bob", "b@example.org is mine"),
    ] {
        let mut r = request(text);
        r.context.as_mut().unwrap().user_id = user.into();
        c.review(r).await.unwrap();
    }
    let query = |f: &dyn Fn(&mut pb::QueryLogRequest)| {
        let mut q = pb::QueryLogRequest {
            page_size: 10,
            ..Default::default()
        };
        f(&mut q);
        q
    };
    let redacted = c
        .query_log(query(&|q| q.verdict = "redact".into()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(redacted.records.len(), 2);
    let alice = c
        .query_log(query(&|q| {
            q.user_id = "alice".into();
            q.rule_id = "privacy.email.address".into();
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(alice.records.len(), 1, "{alice:?}");
    let entry: serde_json::Value = serde_json::from_str(&alice.records[0].entry).unwrap();
    assert_eq!(entry["type"], "policy_decision");
    assert!(
        !alice.records[0].entry.contains("al@example.com"),
        "no raw personal data in the log"
    );

    // Paging.
    let first = c
        .query_log(query(&|q| {
            q.entry_type = "policy_decision".into();
            q.page_size = 3;
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.records.len(), 3);
    let rest = c
        .query_log(query(&|q| {
            q.entry_type = "policy_decision".into();
            q.page_token = first.next_page_token.clone();
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.records.len(), 1);
    assert!(rest.next_page_token.is_empty());

    // Every query so far was logged.
    let logged = c
        .query_log(query(&|q| q.entry_type = "compliance_query".into()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(logged.records.len(), 5);
    let err = c
        .query_log(query(&|q| q.page_token = "zz".into()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("page_token"));
}

#[tokio::test]
async fn claims_are_disputed_and_resolved_with_the_most_restrictive_live_policy_applied_and_every_step_logged()
 {
    let dir = tempfile::tempdir().unwrap();
    let path = bundle_file(
        dir.path(),
        "version = \"claims-1\"\n[actions]\n\"copyright.near_duplicate\" = { action = \"block\" }\n",
    );
    let server = TrustServer::start(trust_config(&dir.path().join("trust"), Some(path))).await;
    let mut c = server.client().await;
    let work = "The lighthouse keeper climbed the spiral stairs each evening to light the great lamp, \
watching the grey sea roll towards the rocks while the gulls circled and cried above the harbour wall.";
    let copy = work.replace("grey", "dark");
    let register = |id: &str, claimant: &str, policy: pb::ClaimPolicy| pb::RegisterClaimRequest {
        claim_id: id.into(),
        work_id: "lighthouse".into(),
        claimant: claimant.into(),
        licence: "all-rights-reserved".into(),
        policy: policy as i32,
        text: work.into(),
    };
    // A tracking claim only: the copy is reported below the bundle's threshold, so allowed.
    c.register_claim(register("c-track", "archive", pb::ClaimPolicy::Track))
        .await
        .unwrap();
    assert_eq!(
        c.review(request(&copy)).await.unwrap().into_inner().verdict,
        pb::Verdict::Allow as i32
    );
    // A second, blocking claim on the same work: the most restrictive wins.
    let blocking = c
        .register_claim(register("c-block", "publisher", pb::ClaimPolicy::Block))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(blocking.claim.unwrap().status, "active");
    assert_eq!(
        c.review(request(&copy)).await.unwrap().into_inner().verdict,
        pb::Verdict::Block as i32
    );
    // Disputed claims still apply; a rejected one no longer does.
    let disputed = c
        .dispute_claim(pb::DisputeClaimRequest {
            claim_id: "c-block".into(),
            disputed_by: "author".into(),
            reason: "I own the rights".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .claim
        .unwrap();
    assert_eq!(
        (disputed.status.as_str(), disputed.disputes.len()),
        ("disputed", 1)
    );
    assert_eq!(
        c.review(request(&copy)).await.unwrap().into_inner().verdict,
        pb::Verdict::Block as i32
    );
    c.resolve_claim(pb::ResolveClaimRequest {
        claim_id: "c-block".into(),
        upheld: false,
        note: "licence shown".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        c.review(request(&copy)).await.unwrap().into_inner().verdict,
        pb::Verdict::Allow as i32
    );
    let err = c
        .dispute_claim(pb::DisputeClaimRequest {
            claim_id: "c-block".into(),
            disputed_by: "x".into(),
            reason: "again".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        c.resolve_claim(pb::ResolveClaimRequest {
            claim_id: "nope".into(),
            upheld: true,
            note: String::new()
        })
        .await
        .unwrap_err()
        .code(),
        Code::NotFound
    );

    let listed = c
        .list_claims(pb::ListClaimsRequest {
            work_id: "lighthouse".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.claims.len(), 2);
    let rejected = c
        .list_claims(pb::ListClaimsRequest {
            status: "rejected".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rejected.claims[0].claim_id, "c-block");
    // Each step is in the log, and compliance can find it by claimant.
    let logged = c
        .query_log(pb::QueryLogRequest {
            entry_type: "copyright_claim".into(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let events: Vec<String> = logged
        .records
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.entry).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        events,
        vec!["registered", "registered", "disputed", "rejected"]
    );
    let by_claimant = c
        .query_log(pb::QueryLogRequest {
            claimant: "publisher".into(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_claimant.records.len(), 3);
}

#[tokio::test]
async fn after_a_key_rotation_old_manifests_verify_and_new_checkpoints_use_the_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = bundle_file(dir.path(), PRIVACY_ONLY);
    let server = TrustServer::start(trust_config(&dir.path().join("trust"), Some(path))).await;
    let mut c = server.client().await;
    let text = "Three short paragraphs on the week in science, calm and factual.";
    c.review(request(text)).await.unwrap();
    let cert = c
        .certify(pb::CertifyRequest {
            item_id: "g".into(),
            content: text.into(),
            creator: "feed".into(),
            creator_id: "generec".into(),
            // The licence the review computed.
            licence: String::new(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let before = c
        .get_public_keys(pb::GetPublicKeysRequest {})
        .await
        .unwrap()
        .into_inner();
    let rotated = c
        .rotate_key(pb::RotateKeyRequest {})
        .await
        .unwrap()
        .into_inner();
    let after = c
        .get_public_keys(pb::GetPublicKeysRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.keys.len(), before.keys.len() + 1);
    assert_eq!(after.keys.last().unwrap().key_id, rotated.key_id);
    assert!(after.keys[0].retired_unix_ms > 0);
    let verified = c
        .verify(pb::VerifyRequest {
            content: cert.marked_content.clone(),
            manifest: cert.manifest.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(verified.valid, "{verified:?}");
    // New checkpoints verify with the new key, not the old one.
    let cp = c
        .get_checkpoint(pb::GetCheckpointRequest {})
        .await
        .unwrap()
        .into_inner();
    let new_key =
        generec_trust::note::parse_verifier_key(&rotated.checkpoint_verifier_key).unwrap();
    let old_key = generec_trust::note::parse_verifier_key(&before.checkpoint_verifier_key).unwrap();
    assert!(generec_trust::note::Checkpoint::verify(&cp.signed_note, &new_key).is_ok());
    assert!(generec_trust::note::Checkpoint::verify(&cp.signed_note, &old_key).is_err());
    let rotations = c
        .query_log(pb::QueryLogRequest {
            entry_type: "key_rotation".into(),
            page_size: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        rotations.records.len(),
        2,
        "the first key and the rotation are announced"
    );
}

/// Nothing unbounded enters the log: every writing RPC refuses oversized or
/// malformed fields with InvalidArgument naming the field, before anything
/// is signed or logged, and the log stays queryable.
#[tokio::test]
async fn oversized_and_malformed_writes_are_refused_before_anything_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let path = bundle_file(dir.path(), PRIVACY_ONLY);
    let server = TrustServer::start(trust_config(&dir.path().join("trust"), Some(path))).await;
    let mut c = server.client().await;
    let text = "A calm digest of the week: markets steady, rates held, shares slightly up.";
    c.review(request(text)).await.unwrap();
    let size = |c: &TrustServer| c.trust.provenance.log().head().0;
    let before = size(&server);
    let certify = |f: &dyn Fn(&mut pb::CertifyRequest)| {
        let mut r = pb::CertifyRequest {
            item_id: "gen-caps".into(),
            content: text.into(),
            creator: "feed".into(),
            creator_id: "generec".into(),
            // The licence the review computed.
            licence: String::new(),
            ..Default::default()
        };
        f(&mut r);
        r
    };
    let parent = |i: usize| pb::Ingredient {
        item_id: format!("bbc-{i}"),
        content_sha256: "ab".repeat(32),
    };
    let cases: Vec<(&str, pb::CertifyRequest)> = vec![
        (
            "parents",
            certify(&|r| r.parents = (0..100_000).map(parent).collect()),
        ),
        ("item_id", certify(&|r| r.item_id = "gen\0nul".into())),
        ("item_id", certify(&|r| r.item_id = "x".repeat(1 << 20))),
        (
            "action",
            certify(&|r| r.action = "c2pa.evil\u{202e}".into()),
        ),
        (
            "parents[0].content_sha256",
            certify(&|r| {
                r.parents = vec![pb::Ingredient {
                    item_id: "bbc-1".into(),
                    content_sha256: "zz".into(),
                }]
            }),
        ),
        (
            "generator_name",
            certify(&|r| {
                r.generator_name = "g".repeat(1 << 20);
                r.generator_version = "1".into();
            }),
        ),
        ("licence", certify(&|r| r.licence = "CC BY\u{202e}".into())),
    ];
    for (field, req) in cases {
        let err = c.certify(req).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
        assert!(err.message().contains(field), "{field}: {}", err.message());
    }
    let err = c
        .record_upload(pb::RecordUploadRequest {
            item_id: "up-1".into(),
            content_sha256: "zz".into(),
            creator: "someone".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("content_sha256"),
        "{}",
        err.message()
    );
    let err = c
        .register_private_attributes(pb::RegisterPrivateAttributesRequest {
            user_id: "alice".into(),
            attributes: (0..100_000)
                .map(|i| pb::PrivateAttribute {
                    kind: "name".into(),
                    value: format!("person number {i}"),
                })
                .collect(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("attributes"), "{}", err.message());
    assert_eq!(size(&server), before, "nothing was logged");

    // A 1 MB field in a compliance query is refused, and not logged.
    let err = c
        .query_log(pb::QueryLogRequest {
            item_id: "x".repeat(1 << 20),
            page_size: 10,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("item_id"), "{}", err.message());
    assert_eq!(size(&server), before);
    // The log still answers every query, at any page size.
    for page_size in [1, 1000] {
        let page = c
            .query_log(pb::QueryLogRequest {
                entry_type: "policy_decision".into(),
                page_size,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!page.records.is_empty());
    }
}

/// Certify signs what was reviewed: a review made in another context (no
/// origin) does not vouch for generated content, and the manifest records
/// the review it used.
#[tokio::test]
async fn certify_needs_an_allowing_review_made_for_generated_content() {
    let dir = tempfile::tempdir().unwrap();
    let server = TrustServer::start(trust_config(&dir.path().join("trust"), None)).await;
    let mut c = server.client().await;
    // Factual text with no sources: held when reviewed as generated,
    // allowed when reviewed with no context.
    let text = "The central bank raised interest rates by half a point on Tuesday, the largest rise in twenty years, and said inflation would peak at eleven percent this autumn.";
    let generated = c.review(request(text)).await.unwrap().into_inner();
    assert_ne!(
        generated.verdict,
        pb::Verdict::Allow as i32,
        "{generated:?}"
    );
    let plain = c
        .review(pb::ReviewRequest {
            content: text.into(),
            context: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(plain.verdict, pb::Verdict::Allow as i32, "{plain:?}");
    let err = c
        .certify(pb::CertifyRequest {
            item_id: "gen-laundered".into(),
            content: text.into(),
            creator: "feed".into(),
            creator_id: "generec".into(),
            licence: "CC-BY-4.0".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    // The review made for generated content held it; the later allow,
    // made with no context, does not count.
    assert!(
        err.message().contains("verdict was review"),
        "{}",
        err.message()
    );

    // Allowed as generated: the manifest names that review's log entry.
    // (A short video's description: not held for unsupported facts.)
    let calm = "A calm note: three short paragraphs on gardening in autumn, with tips on mulch.";
    let mut video = request(calm);
    if let Some(ctx) = video.context.as_mut() {
        ctx.kind = ItemKind::Video as i32;
    }
    let allowed = c.review(video).await.unwrap().into_inner();
    assert_eq!(allowed.verdict, pb::Verdict::Allow as i32, "{allowed:?}");
    let reviewed_at = server.trust.provenance.log().head().0 - 1;
    // Made from nothing, it is CC0; a licence chosen by the caller instead
    // of the computed one is refused, naming the field.
    assert_eq!(allowed.licence, "CC0-1.0");
    let certify = |licence: &str| pb::CertifyRequest {
        item_id: "gen-ok".into(),
        content: calm.into(),
        creator: "feed".into(),
        creator_id: "generec".into(),
        licence: licence.into(),
        ..Default::default()
    };
    let err = c.certify(certify("CC-BY-NC-4.0")).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().starts_with("licence:"), "{}", err.message());
    let cert = c.certify(certify("")).await.unwrap().into_inner();
    let m: generec_provenance::manifest::Manifest = serde_json::from_slice(&cert.manifest).unwrap();
    assert_eq!(m.review.log_index, reviewed_at);
    assert_eq!(
        (m.creator_id.as_str(), m.licence.as_str()),
        ("generec", "CC0-1.0")
    );
}
