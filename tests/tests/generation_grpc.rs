//! End-to-end tests of the generation service over real gRPC on the real
//! BBC corpus: Interpret, Edit and Create, the drafts' grounding checked by
//! the trust service's own authenticity check, bad input by field, and a
//! corpus that is down.

use generec_corpus::model::ItemId;
use generec_generation::config::{GenerationConfig, Models};
use generec_proto::generation::v1 as pb;
use generec_tests::{CorpusServer, GenerationServer, load_bbc, test_config};
use tonic::Code;

struct Stack {
    _dir: tempfile::TempDir,
    corpus: CorpusServer,
    generation: GenerationServer,
}

/// The corpus with the BBC articles and a generation service reading it;
/// `None` when the dataset is missing.
async fn stack(models: Models) -> Option<Stack> {
    let dir = tempfile::tempdir().unwrap();
    let corpus = CorpusServer::start(test_config(dir.path())).await;
    if load_bbc(corpus.corpus.clone()).await.is_none() {
        eprintln!("skipped: the BBC corpus is missing (run scripts/fetch-data)");
        return None;
    }
    let config = GenerationConfig {
        corpus_url: format!("http://{}", corpus.addr),
        ..GenerationConfig::default()
    };
    let generation = GenerationServer::start(config, models).await;
    Some(Stack {
        _dir: dir,
        corpus,
        generation,
    })
}

fn topic(t: &str) -> pb::TopicWeight {
    pb::TopicWeight {
        topic: t.into(),
        weight: 1.0,
    }
}

fn sentences(n: u32) -> Option<pb::Length> {
    Some(pb::Length {
        unit: pb::LengthUnit::Sentences as i32,
        value: n,
        relative: 0.0,
    })
}

/// The trust service's authenticity check over a draft: the share of its
/// checkable sentences that a cited source supports.
fn supported_share(d: &pb::Draft) -> f32 {
    use generec_trust::checks::authenticity;
    use generec_trust::checks::{ReviewContext, Source};
    let context = ReviewContext {
        kind: Some(generec_common::types::ItemKind::Article),
        origin: Some(generec_common::types::Origin::AiCreated),
        sources: d
            .sources
            .iter()
            .map(|s| Source {
                id: s.id.clone(),
                text: s.text.clone(),
                ..Source::default()
            })
            .collect(),
        framing: d
            .attributions
            .iter()
            .filter(|a| a.framing)
            .map(|a| (a.start as usize, a.end as usize))
            .collect(),
        ..ReviewContext::default()
    };
    authenticity::supported_share(&d.body, &context, &authenticity::Config::default())
        .unwrap_or(1.0)
}

#[tokio::test]
async fn interpret_turns_an_instruction_into_guidance_and_a_decision() {
    let Some(s) = stack(Models::default()).await else {
        return;
    };
    let mut client = s.generation.client().await;
    let out = client
        .interpret(pb::InterpretRequest {
            user_id: "u1".into(),
            instruction: "Less politics, more tech, and something calmer".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let g = out.guidance.unwrap();
    assert!(g.include.iter().any(|t| t.topic == "tech"), "{g:?}");
    assert!(g.exclude.iter().any(|t| t.topic == "politics"), "{g:?}");
    assert_eq!(g.tone, pb::Tone::Calm as i32);
    let d = out.decision.unwrap();
    assert_eq!(d.action, pb::Action::Create as i32, "no candidates: {d:?}");
    assert!(!d.explanation.is_empty());

    // Three skips in a row make the instructor create.
    let skip = |id: &str| pb::FeedbackSignal {
        item_id: id.into(),
        kind: pb::FeedbackKind::Skip as i32,
    };
    let out = client
        .interpret(pb::InterpretRequest {
            user_id: "u1".into(),
            feedback: vec![skip("a"), skip("b"), skip("c")],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let d = out.decision.unwrap();
    assert_eq!(d.trigger, pb::Trigger::RejectionStreak as i32, "{d:?}");

    // Bad input names its field.
    let err = client
        .interpret(pb::InterpretRequest {
            instruction: "x".repeat(5000),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("instruction"), "{}", err.message());
    let err = client
        .interpret(pb::InterpretRequest {
            feedback: vec![pb::FeedbackSignal {
                item_id: "a".into(),
                kind: 99,
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("feedback.kind"), "{}", err.message());
}

#[tokio::test]
async fn create_composes_a_grounded_digest_from_the_bbc_corpus() {
    let Some(s) = stack(Models::default()).await else {
        return;
    };
    let mut client = s.generation.client().await;
    let draft = client
        .create(pb::CreateRequest {
            user_id: "u1".into(),
            guidance: Some(pb::Guidance {
                include: vec![topic("markets")],
                exclude: vec![topic("football")],
                format: pb::Format::Digest as i32,
                length: sentences(5),
                fact_query: "stock markets shares".into(),
                ..Default::default()
            }),
            instruction: "a digest of this week's markets".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .draft
        .unwrap();
    assert!(draft.item_id.starts_with("gen-"));
    assert_eq!(
        draft.origin,
        generec_proto::common::v1::Origin::AiCreated as i32
    );
    assert_eq!(draft.c2pa_action, "c2pa.created");
    assert!(draft.generator_name.contains("composer"));
    assert!(!draft.generator_version.is_empty());
    let body_sentences = draft
        .attributions
        .iter()
        .filter(|a| !a.framing && !a.source_id.ends_with("#title"))
        .count();
    assert_eq!(body_sentences, 5, "{}", draft.body);
    // The digest opens with a lead of the composer's own, marked as
    // framing, with no source.
    let framing: Vec<_> = draft.attributions.iter().filter(|a| a.framing).collect();
    assert_eq!(framing.len(), 1, "{:?}", draft.attributions);
    assert!(framing[0].source_id.is_empty() && framing[0].start == 0);
    assert!(
        draft.body[..framing[0].end as usize].starts_with("This digest brings together passages")
    );
    // Every other sentence names its source passage, and the passage is in
    // the corpus item it names.
    for a in draft.attributions.iter().filter(|a| !a.framing) {
        assert!(a.supported);
        let passage = draft
            .sources
            .iter()
            .find(|p| p.id == a.source_id)
            .expect("cited passage");
        assert_eq!(&draft.body[a.start as usize..a.end as usize], passage.text);
        let item = s
            .corpus
            .corpus
            .get_item(&ItemId::parse(&passage.item_id).unwrap())
            .expect("source item");
        assert!(
            item.body.contains(&passage.text) || item.title == passage.text,
            "{passage:?}"
        );
    }
    assert!(!draft.body.to_lowercase().contains("football"));
    // The trust service's own check finds every sentence supported.
    assert_eq!(supported_share(&draft), 1.0);
    assert!(
        draft.tags.contains(&"business".to_string()),
        "{:?}",
        draft.tags
    );
    assert_eq!(
        draft.content_sha256,
        generec_generation::draft::content_hash(&draft.title, &draft.body)
    );

    // An unknown back-end is refused by field; one not configured is a
    // failed precondition.
    let err = client
        .create(pb::CreateRequest {
            guidance: Some(pb::Guidance {
                fact_query: "markets".into(),
                ..Default::default()
            }),
            backend: pb::Backend::Openai as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let err = client
        .create(pb::CreateRequest {
            guidance: Some(pb::Guidance {
                fact_query: "markets".into(),
                ..Default::default()
            }),
            max_sources: 1000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("max_sources"));
    let err = client
        .create(pb::CreateRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("guidance"), "{}", err.message());
}

#[tokio::test]
async fn edit_condenses_restyles_and_respects_licences() {
    let Some(s) = stack(Models::default()).await else {
        return;
    };
    let mut client = s.generation.client().await;
    let item = s
        .corpus
        .corpus
        .get_item(&ItemId::parse("bbc-tech-001").unwrap())
        .unwrap();
    // BBC articles are all rights reserved: no edit without the owner's consent.
    let err = client
        .edit(pb::EditRequest {
            user_id: "u1".into(),
            item_id: "bbc-tech-001".into(),
            guidance: Some(pb::Guidance {
                length: sentences(3),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("derivatives"), "{}", err.message());

    let draft = client
        .edit(pb::EditRequest {
            user_id: "u1".into(),
            item_id: "bbc-tech-001".into(),
            guidance: Some(pb::Guidance {
                length: sentences(3),
                tone: pb::Tone::Calm as i32,
                ..Default::default()
            }),
            instruction: "summarise this calmly in three sentences".into(),
            owner_consent: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .draft
        .unwrap();
    assert_eq!(
        draft.origin,
        generec_proto::common::v1::Origin::AiEdited as i32
    );
    assert_eq!(draft.c2pa_action, "c2pa.edited");
    assert_eq!(draft.parents.len(), 1);
    assert_eq!(draft.parents[0].id, "bbc-tech-001");
    assert_eq!(draft.parents[0].content_sha256, item.content_sha256);
    assert!(draft.parents[0].owner_consent);
    assert!(draft.attributions.len() <= 3 && !draft.attributions.is_empty());
    for a in &draft.attributions {
        let text = &draft.body[a.start as usize..a.end as usize];
        assert!(item.body.contains(text), "{text:?} is not in the parent");
    }
    assert!(draft.actions.iter().any(|a| a.starts_with("condense")));
    assert!(draft.actions.iter().any(|a| a.starts_with("restyle")));
    assert_eq!(supported_share(&draft), 1.0);

    // A clip of an article is refused: it has no timed segments.
    let err = client
        .edit(pb::EditRequest {
            item_id: "bbc-tech-001".into(),
            guidance: Some(pb::Guidance {
                format: pb::Format::Clip as i32,
                ..Default::default()
            }),
            owner_consent: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    // Unknown items are NotFound; a missing id names the field.
    let err = client
        .edit(pb::EditRequest {
            item_id: "bbc-tech-999999".into(),
            guidance: Some(pb::Guidance {
                length: sentences(3),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = client.edit(pb::EditRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("item_id"));
}

#[tokio::test]
async fn edit_cuts_a_clip_from_a_video_for_the_user() {
    let Some(s) = stack(Models::default()).await else {
        return;
    };
    use generec_proto::common::v1 as common;
    use generec_proto::corpus::v1 as corpus_pb;
    let seg = |a: f64, b: f64, t: &str| common::Segment {
        start_seconds: a,
        end_seconds: b,
        text: t.into(),
        tags: vec![],
    };
    let video = corpus_pb::Item {
        id: "match-1".into(),
        kind: common::ItemKind::Video as i32,
        title: "Cup final highlights".into(),
        segments: vec![
            seg(0.0, 10.0, "The teams walk out to a packed stadium."),
            seg(10.0, 20.0, "A long spell of midfield passing."),
            seg(
                20.0,
                30.0,
                "The striker races clear and scores the winning goal.",
            ),
            seg(
                30.0,
                40.0,
                "The goal celebrations go on in front of the fans.",
            ),
            seg(40.0, 50.0, "The manager talks about the weather."),
        ],
        creator_id: "club-tv".into(),
        origin: common::Origin::Human as i32,
        licence: "CC-BY-4.0".into(),
        ..Default::default()
    };
    let mut corpus = s.corpus.client().await;
    corpus
        .put_items(corpus_pb::PutItemsRequest { items: vec![video] })
        .await
        .unwrap();
    let mut client = s.generation.client().await;
    let draft = client
        .edit(pb::EditRequest {
            user_id: "u1".into(),
            item_id: "match-1".into(),
            guidance: Some(pb::Guidance {
                include: vec![topic("goal")],
                format: pb::Format::Clip as i32,
                length: Some(pb::Length {
                    unit: pb::LengthUnit::Seconds as i32,
                    value: 20,
                    relative: 0.0,
                }),
                ..Default::default()
            }),
            instruction: "cut the part about the goal into a clip".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .draft
        .unwrap();
    let edl = draft.edl.expect("an edit decision list");
    assert_eq!(edl.source_item_id, "match-1");
    assert_eq!((edl.start_seconds, edl.end_seconds), (20.0, 40.0));
    assert!(!edl.source_sha256.is_empty());
    assert_eq!(draft.c2pa_action, "c2pa.cropped");
    assert!(!edl.window_scores.is_empty());
}

#[tokio::test]
async fn a_corpus_that_is_down_is_unavailable_not_a_crash() {
    let Some(s) = stack(Models::default()).await else {
        return;
    };
    let Stack {
        _dir,
        corpus,
        generation,
    } = s;
    // Dropping the server stops it serving (the corpus itself may still be
    // retraining in the background).
    drop(corpus);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut client = generation.client().await;
    let err = client
        .create(pb::CreateRequest {
            guidance: Some(pb::Guidance {
                fact_query: "markets".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    // Interpret needs no corpus and still answers.
    client
        .interpret(pb::InterpretRequest {
            instruction: "more tech".into(),
            ..Default::default()
        })
        .await
        .unwrap();
}

/// The models of scripts/fetch-data, loaded as the service would.
fn models() -> Option<Models> {
    let dir = generec_tests::dataset("models")?;
    let config = GenerationConfig {
        models_dir: dir.display().to_string(),
        ..GenerationConfig::default()
    };
    Some(config.load_models().expect("load models"))
}

#[tokio::test]
async fn create_with_the_embedded_model_is_watermarked_and_attributed() {
    let Some(models) = models() else {
        eprintln!("skipped: the models are missing (run scripts/fetch-data)");
        return;
    };
    assert!(models.lm.is_some() && models.embedder.is_some());
    let Some(s) = stack(models).await else {
        return;
    };
    let mut client = s.generation.client().await;
    let backends = client
        .get_backends(pb::GetBackendsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        backends
            .generators
            .iter()
            .any(|g| g.starts_with("embedded:SmolLM2")),
        "{backends:?}"
    );
    assert_eq!(backends.relevance, "embedding:all-MiniLM-L6-v2");
    assert!(
        backends.tone_lexicon.starts_with("vader"),
        "{}",
        backends.tone_lexicon
    );

    let guidance = pb::Guidance {
        include: vec![topic("markets")],
        format: pb::Format::Digest as i32,
        length: sentences(4),
        fact_query: "stock markets shares investors".into(),
        ..Default::default()
    };
    let draft = client
        .create(pb::CreateRequest {
            user_id: "u1".into(),
            guidance: Some(guidance.clone()),
            instruction: "a digest of the markets".into(),
            backend: pb::Backend::Embedded as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .draft
        .unwrap();
    assert!(
        draft.generator_name.contains("embedded:SmolLM2"),
        "{}",
        draft.generator_name
    );
    assert!(!draft.body.trim().is_empty());
    assert!(!draft.sources.is_empty());
    // One attribution per sentence, each naming a cited passage or flagged.
    assert!(!draft.attributions.is_empty());
    for a in &draft.attributions {
        assert!(!a.supported || !a.source_id.is_empty());
        if !a.source_id.is_empty() {
            assert!(draft.sources.iter().any(|p| p.id == a.source_id));
        }
    }
    // The sampler's statistical watermark is there, from the words alone.
    assert!(draft.watermark_z > 2.0, "z = {}", draft.watermark_z);

    // The composer with embedding relevance still grounds every sentence.
    let composed = client
        .create(pb::CreateRequest {
            user_id: "u1".into(),
            guidance: Some(guidance),
            backend: pb::Backend::Composer as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .draft
        .unwrap();
    assert_eq!(supported_share(&composed), 1.0);
}

/// A minimal OpenAI-compatible chat-completions server: it answers with
/// the first two facts of the prompt, as a model told to use only the facts
/// might, and records the requests it got. `status` other than 200 makes it
/// answer with that error.
async fn chat_server(
    status: u16,
) -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, length) = loop {
                    let n = sock.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map(|v| v.trim().parse::<usize>().unwrap())
                            .unwrap_or(0);
                        break (i + 4, length);
                    }
                };
                while buf.len() < head_end + length {
                    let n = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                }
                let request: serde_json::Value =
                    serde_json::from_slice(&buf[head_end..head_end + length]).unwrap();
                let user = request["messages"][1]["content"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                let _ = tx.send(request);
                let facts: Vec<&str> = user
                    .lines()
                    .filter_map(|l| l.split_once(". ").filter(|(n, _)| n.parse::<u32>().is_ok()))
                    .map(|(_, f)| f)
                    .take(2)
                    .collect();
                let body = if status == 200 {
                    serde_json::json!({
                        "choices": [{"message": {"role": "assistant", "content": facts.join(" ")}}],
                        "usage": {"completion_tokens": 42}
                    })
                    .to_string()
                } else {
                    "{\"error\":\"overloaded\"}".to_string()
                };
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                sock.write_all(reply.as_bytes()).await.unwrap();
            });
        }
    });
    (addr, rx)
}

async fn openai_stack(
    status: u16,
) -> Option<(
    Stack,
    tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
)> {
    let (chat, requests) = chat_server(status).await;
    let dir = tempfile::tempdir().unwrap();
    let corpus = CorpusServer::start(test_config(dir.path())).await;
    load_bbc(corpus.corpus.clone()).await?;
    let config = GenerationConfig {
        corpus_url: format!("http://{}", corpus.addr),
        openai: generec_generation::openai::OpenAiConfig {
            base_url: format!("http://{chat}/v1"),
            model: "test-model".into(),
            ..Default::default()
        },
        ..GenerationConfig::default()
    };
    let generation = GenerationServer::start(config, Models::default()).await;
    Some((
        Stack {
            _dir: dir,
            corpus,
            generation,
        },
        requests,
    ))
}

#[tokio::test]
async fn create_through_an_openai_compatible_endpoint_is_attributed() {
    let Some((s, mut requests)) = openai_stack(200).await else {
        return;
    };
    let mut client = s.generation.client().await;
    let draft = client
        .create(pb::CreateRequest {
            user_id: "u1".into(),
            guidance: Some(pb::Guidance {
                fact_query: "stock markets shares".into(),
                format: pb::Format::Summary as i32,
                length: sentences(2),
                ..Default::default()
            }),
            backend: pb::Backend::Openai as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .draft
        .unwrap();
    let request = requests.recv().await.unwrap();
    assert_eq!(request["model"], "test-model");
    assert_eq!(request["messages"][0]["role"], "system");
    assert!(draft.generator_name.contains("openai:test-model"));
    assert!(!draft.body.is_empty());
    // The endpoint repeated facts word for word: every sentence is
    // attributed and supported, and the trust check agrees.
    assert!(!draft.attributions.is_empty());
    assert!(
        draft.attributions.iter().all(|a| a.supported),
        "{:?}",
        draft.attributions
    );
    assert_eq!(supported_share(&draft), 1.0);
    assert_eq!(draft.watermark_z, 0.0);
}

#[tokio::test]
async fn an_openai_endpoint_error_is_unavailable() {
    let Some((s, _requests)) = openai_stack(503).await else {
        return;
    };
    let mut client = s.generation.client().await;
    let err = client
        .create(pb::CreateRequest {
            guidance: Some(pb::Guidance {
                fact_query: "markets".into(),
                ..Default::default()
            }),
            backend: pb::Backend::Openai as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.message().contains("503"), "{}", err.message());
}
