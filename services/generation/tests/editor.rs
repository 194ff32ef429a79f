//! The editor on real text (BBC News articles under `.data/bbc`, skipped
//! with a note when absent) and on the labelled clip and thumbnail set
//! (`tests/fixtures/timed_edits.json`).

use std::path::{Path, PathBuf};

use generec_generation::editor::{
    EditError, EditOp, EditOutput, EditedText, Editor, SourceItem, UserProfile, eval_timed,
    licence_allows_derivatives, parse_labelled_timed,
};
use generec_generation::guidance::{Length, LengthUnit, Tone, TopicWeight};
use generec_generation::text::{self, sentences};
use generec_generation::tone::{DEFAULT_LEXICON_PATH, ToneLexicon};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const CATEGORIES: [&str; 5] = ["business", "entertainment", "politics", "sports", "tech"];

/// `.data/bbc/<category>/NNN.txt`: the first line is the title, the rest
/// the body.
fn bbc(category: &str, n: usize) -> Option<SourceItem> {
    let path = root().join(format!(".data/bbc/{category}/{n:03}.txt"));
    let raw = std::fs::read(&path).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (title, body) = text.split_once('\n')?;
    Some(SourceItem {
        id: format!("bbc-{category}-{n:03}"),
        title: title.trim().to_string(),
        body: body.trim().to_string(),
        licence: "CC-BY-4.0".into(),
        ..SourceItem::default()
    })
}

/// Up to `per_category` articles of every category; empty (with a note)
/// when the data set is absent.
fn articles(per_category: usize) -> Vec<SourceItem> {
    let out: Vec<SourceItem> = CATEGORIES
        .iter()
        .flat_map(|c| (1..=per_category).filter_map(move |n| bbc(c, n)))
        .collect();
    if out.is_empty() {
        println!("note: .data/bbc is absent; skipping the BBC article checks");
    }
    out
}

fn lexicons() -> Vec<ToneLexicon> {
    let mut out = vec![ToneLexicon::builtin()];
    match ToneLexicon::load(root().join(DEFAULT_LEXICON_PATH)) {
        Ok(l) => out.push(l),
        Err(e) => println!("note: VADER lexicon not loaded ({e}); builtin only"),
    }
    out
}

fn editor() -> Editor {
    Editor::new(ToneLexicon::builtin())
}

fn text_edit(editor: &Editor, item: &SourceItem, ops: &[EditOp]) -> EditedText {
    match editor.edit(item, ops, &UserProfile::default()) {
        Ok(EditOutput::Text(t)) => t,
        other => panic!("{}: {ops:?} gave {other:?}", item.id),
    }
}

fn sentences_of(n: u32) -> Length {
    Length {
        unit: LengthUnit::Sentences,
        value: n,
        relative: 0.0,
    }
}

fn words(n: u32) -> Length {
    Length {
        unit: LengthUnit::Words,
        value: n,
        relative: 0.0,
    }
}

fn relative(f: f32) -> Length {
    Length {
        unit: LengthUnit::Sentences,
        value: 0,
        relative: f,
    }
}

fn topic(t: &str) -> TopicWeight {
    TopicWeight {
        topic: t.into(),
        weight: 1.0,
    }
}

/// Every output sentence is a source sentence, verbatim, in source order;
/// the spans index both texts; splitting the output gives the kept
/// sentences back; the output is no longer than the source.
fn assert_extractive(item: &SourceItem, out: &EditedText) {
    let source: Vec<_> = sentences(&item.body);
    let mut last_end = 0usize;
    for (n, k) in out.kept.iter().enumerate() {
        assert!(k.source_start >= last_end || n == 0, "{}: order", item.id);
        last_end = k.source_end;
        assert!(
            source
                .iter()
                .any(|s| s.start == k.source_start && s.end == k.source_end),
            "{}: span {}..{} is not a source sentence",
            item.id,
            k.source_start,
            k.source_end
        );
        assert_eq!(
            &item.body[k.source_start..k.source_end],
            &out.body[k.start..k.end]
        );
    }
    let resplit: Vec<String> = sentences(&out.body).into_iter().map(|s| s.text).collect();
    let kept: Vec<&str> = out.kept.iter().map(|k| &out.body[k.start..k.end]).collect();
    assert_eq!(
        resplit, kept,
        "{}: the output re-splits differently",
        item.id
    );
    assert!(out.body.len() <= item.body.len());
}

#[test]
fn condense_to_three_sentences_keeps_three_source_sentences_in_order() {
    let editor = editor();
    let items = articles(20);
    for item in &items {
        let n = sentences(&item.body).len();
        let out = text_edit(&editor, item, &[EditOp::Condense(sentences_of(3))]);
        assert_eq!(out.kept.len(), 3.min(n), "{}", item.id);
        assert_extractive(item, &out);
        assert_eq!(out.actions, vec!["condense"]);
        if n > 3 {
            assert_eq!(out.title, format!("Shorter: {}", item.title));
        }
    }
    if let Some(first) = items.first() {
        let out = text_edit(&editor, first, &[EditOp::Condense(sentences_of(3))]);
        println!("{}\n{}\n", out.title, out.body);
    }
}

#[test]
fn word_and_reading_time_budgets_are_respected() {
    let editor = editor();
    for item in &articles(15) {
        for budget in [40u32, 80, 150] {
            match editor.edit(
                item,
                &[EditOp::Condense(words(budget))],
                &UserProfile::default(),
            ) {
                Ok(EditOutput::Text(out)) => {
                    assert!(
                        text::word_count(&out.body) <= budget as usize,
                        "{}",
                        item.id
                    );
                    assert!(!out.kept.is_empty());
                    assert_extractive(item, &out);
                }
                // Only when every sentence is longer than the budget.
                Err(EditError::Invalid {
                    field: "length", ..
                }) => {
                    assert!(
                        sentences(&item.body)
                            .iter()
                            .all(|s| text::word_count(&s.text) > budget as usize)
                    );
                }
                other => panic!("{other:?}"),
            }
        }
        // 30 seconds of reading at 200 words a minute: 100 words.
        let seconds = Length {
            unit: LengthUnit::Seconds,
            value: 30,
            relative: 0.0,
        };
        if let Ok(EditOutput::Text(out)) =
            editor.edit(item, &[EditOp::Condense(seconds)], &UserProfile::default())
        {
            assert!(text::word_count(&out.body) <= 100, "{}", item.id);
        }
    }
}

#[test]
fn relative_lengths_scale_the_sentence_count() {
    let editor = editor();
    for item in &articles(10) {
        let n = sentences(&item.body).len();
        for f in [0.3f32, 0.5, 1.0, 1.5] {
            let out = text_edit(&editor, item, &[EditOp::Condense(relative(f))]);
            let want = ((f as f64 * n as f64).round() as usize).clamp(1, n);
            assert_eq!(out.kept.len(), want, "{} × {f}", item.id);
            assert_extractive(item, &out);
        }
        let all = text_edit(&editor, item, &[EditOp::Condense(relative(1.5))]);
        assert!(all.body.len() <= item.body.len());
        assert_eq!(all.title, item.title, "nothing dropped, no 'Shorter:'");
    }
}

#[test]
fn extract_keeps_only_matching_sentences_and_their_followers() {
    let editor = editor();
    let mut checked = 0;
    for item in &articles(20) {
        // The first content word of the title, as the topic.
        let Some(word) = text::words(&item.title)
            .into_iter()
            .find(|w| w.chars().count() > 1 && !text::is_stop_word(w))
        else {
            continue;
        };
        let term = text::stem(&word);
        let out = match editor.edit(
            item,
            &[EditOp::Extract(vec![topic(&word)])],
            &UserProfile::default(),
        ) {
            Ok(EditOutput::Text(out)) => out,
            Err(EditError::Invalid {
                field: "topics", ..
            }) => {
                assert!(
                    !sentences(&item.body)
                        .iter()
                        .any(|s| text::terms(&s.text).contains(&term))
                );
                continue;
            }
            other => panic!("{other:?}"),
        };
        assert_extractive(item, &out);
        let matches = |k: &generec_generation::editor::KeptSentence| {
            text::terms(&item.body[k.source_start..k.source_end]).contains(&term)
        };
        for (n, k) in out.kept.iter().enumerate() {
            if matches(k) {
                assert!(k.score > 0.0);
            } else {
                assert!(n > 0 && matches(&out.kept[n - 1]), "{}: {term}", item.id);
                assert_eq!(k.score, 0.0);
            }
        }
        // Every matching sentence is kept.
        let all_matching = sentences(&item.body)
            .iter()
            .filter(|s| text::terms(&s.text).contains(&term))
            .count();
        assert_eq!(out.kept.iter().filter(|k| matches(k)).count(), all_matching);
        assert_eq!(out.actions, vec![format!("extract:{word}")]);
        assert!(out.title.ends_with(&format!(" — on {word}")));
        checked += 1;
    }
    if checked > 0 {
        assert!(checked >= 50, "{checked}");
    }
    if let Some(item) = bbc("sports", 1) {
        let err = editor
            .edit(
                &item,
                &[EditOp::Extract(vec![topic("cryptocurrency")])],
                &UserProfile::default(),
            )
            .unwrap_err();
        assert!(matches!(
            err,
            EditError::Invalid {
                field: "topics",
                ..
            }
        ));
    }
}

fn mean_arousal(lex: &ToneLexicon, texts: &[String]) -> f32 {
    texts.iter().map(|t| lex.score(t).arousal).sum::<f32>() / texts.len().max(1) as f32
}

fn mean_valence(lex: &ToneLexicon, texts: &[String]) -> f32 {
    texts.iter().map(|t| lex.score(t).valence).sum::<f32>() / texts.len().max(1) as f32
}

#[test]
fn restyle_calm_and_upbeat_choose_different_sentences() {
    let items = articles(20);
    for lex in lexicons() {
        let editor = Editor::new(lex.clone());
        let (mut differ, mut calmer, mut brighter, mut total) = (0, 0, 0, 0);
        let (mut source_arousal, mut calm_arousal) = (0.0f32, 0.0f32);
        for item in &items {
            let source: Vec<String> = sentences(&item.body).into_iter().map(|s| s.text).collect();
            if source.len() < 5 {
                continue;
            }
            let calm = text_edit(&editor, item, &[EditOp::Restyle(Tone::Calm)]);
            let upbeat = text_edit(&editor, item, &[EditOp::Restyle(Tone::Upbeat)]);
            assert_extractive(item, &calm);
            assert_extractive(item, &upbeat);
            let want = ((0.6 * source.len() as f32).round() as usize).max(1);
            assert_eq!(calm.kept.len(), want);
            assert_eq!(calm.actions, vec!["restyle:calm"]);
            assert_eq!(calm.title, format!("Shorter: {} (calm edit)", item.title));
            let texts = |o: &EditedText| -> Vec<String> {
                o.kept
                    .iter()
                    .map(|k| o.body[k.start..k.end].to_string())
                    .collect()
            };
            let (c, u) = (texts(&calm), texts(&upbeat));
            total += 1;
            source_arousal += mean_arousal(&lex, &source);
            calm_arousal += mean_arousal(&lex, &c);
            if mean_arousal(&lex, &c) <= mean_arousal(&lex, &source) + 1e-6 {
                calmer += 1;
            }
            if mean_valence(&lex, &u) >= mean_valence(&lex, &source) - 1e-6 {
                brighter += 1;
            }
            if c != u {
                differ += 1;
            }
        }
        println!(
            "{}: of {total} articles, calm and upbeat differ on {differ}, the calm edit is no more aroused on {calmer}, the upbeat edit no less positive on {brighter}; mean arousal {:.4} -> {:.4}",
            lex.source(),
            source_arousal / total.max(1) as f32,
            calm_arousal / total.max(1) as f32
        );
        if total > 0 {
            assert!(differ * 4 >= total * 3, "differ on {differ} of {total}");
            assert!(calmer * 10 >= total * 9, "calmer on {calmer} of {total}");
            assert!(
                brighter * 20 >= total * 19,
                "brighter on {brighter} of {total}"
            );
            assert!(calm_arousal < source_arousal);
        }
    }
    // One article, spelled out, with either lexicon.
    if let Some(item) = bbc("sports", 1) {
        let source: Vec<String> = sentences(&item.body).into_iter().map(|s| s.text).collect();
        for lex in lexicons() {
            let editor = Editor::new(lex.clone());
            let calm = text_edit(&editor, &item, &[EditOp::Restyle(Tone::Calm)]);
            let upbeat = text_edit(&editor, &item, &[EditOp::Restyle(Tone::Upbeat)]);
            assert_ne!(calm.kept, upbeat.kept);
            let c: Vec<String> = calm
                .kept
                .iter()
                .map(|k| calm.body[k.start..k.end].to_string())
                .collect();
            assert!(mean_arousal(&lex, &c) <= mean_arousal(&lex, &source));
        }
    }
}

#[test]
fn ops_compose_in_order() {
    let editor = editor();
    let Some(item) = bbc("sports", 1) else {
        println!("note: .data/bbc is absent; skipping");
        return;
    };
    let ops = [
        EditOp::Extract(vec![topic("Claxton")]),
        EditOp::Condense(sentences_of(3)),
        EditOp::Restyle(Tone::Calm),
    ];
    let out = text_edit(&editor, &item, &ops);
    assert_eq!(
        out.actions,
        vec!["extract:Claxton", "condense", "restyle:calm"]
    );
    assert_eq!(out.kept.len(), 3, "the condense sets the restyle's length");
    assert_eq!(
        out.title,
        format!("Shorter: {} — on Claxton (calm edit)", item.title)
    );
    assert_extractive(&item, &out);
    let extracted = text_edit(&editor, &item, &ops[..1]);
    for k in &out.kept {
        assert!(
            extracted
                .kept
                .iter()
                .any(|e| e.source_start == k.source_start)
        );
    }
    // Condense then restyle apart: the restyle keeps 60% of the three.
    let apart = [
        EditOp::Condense(sentences_of(3)),
        EditOp::Extract(vec![topic("Claxton")]),
        EditOp::Restyle(Tone::Calm),
    ];
    if let Ok(EditOutput::Text(out)) = editor.edit(&item, &apart, &UserProfile::default()) {
        assert!(out.kept.len() <= 2);
    }
}

#[test]
fn licences_that_forbid_derivatives_are_refused() {
    let editor = editor();
    let mut item = bbc("tech", 1).unwrap_or_else(|| SourceItem {
        id: "x".into(),
        title: "A title".into(),
        body: "One sentence here. Another sentence there. A third one.".into(),
        ..SourceItem::default()
    });
    let ops = [EditOp::Condense(sentences_of(2))];
    let profile = UserProfile::default();
    for (licence, consent, allowed) in [
        ("CC-BY-ND-4.0", false, false),
        ("CC-BY-ND-4.0", true, false),
        ("CC BY-NC-ND 3.0", true, false),
        ("cc_by_nd_2.0", false, false),
        ("all-rights-reserved", false, false),
        ("ARR", false, false),
        ("proprietary", false, false),
        ("all-rights-reserved", true, true),
        ("CC-BY-4.0", false, true),
        ("CC-BY-NC-SA-4.0", false, true),
        ("", false, true),
        ("LicenseRef-unknown", false, true),
    ] {
        assert_eq!(
            licence_allows_derivatives(licence, consent).is_ok(),
            allowed,
            "{licence} {consent}"
        );
        item.licence = licence.into();
        item.owner_consent = consent;
        let got = editor.edit(&item, &ops, &profile);
        if allowed {
            assert!(matches!(got, Ok(EditOutput::Text(_))), "{licence}: {got:?}");
        } else {
            assert_eq!(
                got,
                Err(EditError::NoDerivatives {
                    licence: licence.trim().into()
                })
            );
        }
        // Checked before anything else, clips included.
        let clip = editor.edit(&item, &[EditOp::Clip { max_seconds: 10.0 }], &profile);
        if allowed {
            assert_eq!(clip, Err(EditError::NotTimed));
        } else {
            assert!(matches!(clip, Err(EditError::NoDerivatives { .. })));
        }
    }
}

#[test]
fn clip_and_thumbnail_need_segments() {
    let editor = editor();
    let item = bbc("business", 1).unwrap_or_else(|| SourceItem {
        id: "x".into(),
        body: "Only text.".into(),
        ..SourceItem::default()
    });
    for op in [EditOp::Clip { max_seconds: 0.0 }, EditOp::Thumbnail] {
        assert_eq!(
            editor.edit(&item, &[op], &UserProfile::default()),
            Err(EditError::NotTimed)
        );
    }
    assert_eq!(
        editor.edit(
            &SourceItem::default(),
            &[EditOp::Condense(sentences_of(1))],
            &UserProfile::default()
        ),
        Err(EditError::EmptySource)
    );
}

fn fixture() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/timed_edits.json");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn labelled_clips_and_thumbnails_are_all_right() {
    let cases = parse_labelled_timed(&fixture()).unwrap();
    assert!(cases.len() >= 8);
    // The path the eval command reuses.
    assert!(
        root()
            .join(generec_generation::editor::TIMED_FIXTURE_PATH)
            .exists()
    );
    for lex in lexicons() {
        let editor = Editor::new(lex);
        let eval = eval_timed(&editor, &cases);
        println!(
            "timed set ({}): n={} clip accuracy {:.3} ({}/{}), thumbnail accuracy {:.3} ({}/{})",
            editor.lexicon().source(),
            eval.n,
            eval.clip_accuracy,
            eval.clip_correct,
            eval.n,
            eval.thumbnail_accuracy,
            eval.thumbnail_correct,
            eval.n
        );
        for m in &eval.misses {
            println!("  miss: {m}");
        }
        assert_eq!(eval.clip_accuracy, 1.0, "{:?}", eval.misses);
        assert_eq!(eval.thumbnail_accuracy, 1.0, "{:?}", eval.misses);
    }
}

#[test]
fn clip_edl_names_the_source_and_scores_every_window() {
    let cases = parse_labelled_timed(&fixture()).unwrap();
    let editor = editor();
    for case in &cases {
        let Ok(EditOutput::Clip(edl)) = editor.edit(
            &case.item,
            &[EditOp::Clip {
                max_seconds: case.max_seconds,
            }],
            &case.profile,
        ) else {
            panic!("{}", case.name);
        };
        assert_eq!(edl.source_item, case.item.id);
        assert_eq!(edl.source_sha256, case.item.content_sha256);
        assert_eq!(edl.window_scores.len(), case.item.segments.len());
        let max = if case.max_seconds == 0.0 {
            30.0
        } else {
            case.max_seconds
        };
        assert!(edl.end_seconds - edl.start_seconds <= max + 1e-9);
        let first = edl.segment_indices[0];
        assert_eq!(edl.score, edl.window_scores[first]);
        assert!(edl.window_scores.iter().all(|&s| s <= edl.score));
        assert!(
            edl.segment_indices.windows(2).all(|w| w[1] == w[0] + 1),
            "consecutive"
        );
        assert!(!edl.explanation.is_empty());
    }
    // Extract topics before a clip join the profile's.
    let case = &cases[0];
    let mut no_topics = case.profile.clone();
    no_topics.include.clear();
    let with_extract = editor.edit(
        &case.item,
        &[
            EditOp::Extract(case.profile.include.clone()),
            EditOp::Clip {
                max_seconds: case.max_seconds,
            },
        ],
        &no_topics,
    );
    let plain = editor.edit(
        &case.item,
        &[EditOp::Clip {
            max_seconds: case.max_seconds,
        }],
        &case.profile,
    );
    assert_same_cut(&with_extract, &plain);
}

/// The same cut, with scores equal up to float noise (term vectors sum in
/// hash-map order, so the last bits of a cosine vary between runs).
fn assert_same_cut(a: &Result<EditOutput, EditError>, b: &Result<EditOutput, EditError>) {
    let edl = |r: &Result<EditOutput, EditError>| match r {
        Ok(EditOutput::Clip(e)) | Ok(EditOutput::Thumbnail(e)) => e.clone(),
        other => panic!("{other:?}"),
    };
    let (a, b) = (edl(a), edl(b));
    assert_eq!(a.segment_indices, b.segment_indices);
    assert_eq!(
        (a.start_seconds, a.end_seconds),
        (b.start_seconds, b.end_seconds)
    );
    assert!((a.score - b.score).abs() < 1e-5);
    assert_eq!(a.window_scores.len(), b.window_scores.len());
    for (x, y) in a.window_scores.iter().zip(&b.window_scores) {
        assert!((x - y).abs() < 1e-5, "{x} {y}");
    }
}

#[test]
fn an_embedder_is_used_when_it_answers_and_ignored_when_it_does_not() {
    let cases = parse_labelled_timed(&fixture()).unwrap();
    let plain = editor();
    let silent = Editor::new(ToneLexicon::builtin()).with_embedder(|_| None);
    let broken = Editor::new(ToneLexicon::builtin()).with_embedder(|_| Some(vec![vec![1.0]]));
    // A toy embedding: hashed word counts.
    let toy = Editor::new(ToneLexicon::builtin()).with_embedder(|texts| {
        Some(
            texts
                .iter()
                .map(|t| {
                    let mut v = vec![0.0f32; 64];
                    for w in text::terms(t) {
                        let h = w
                            .bytes()
                            .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
                        v[(h % 64) as usize] += 1.0;
                    }
                    v
                })
                .collect(),
        )
    });
    for case in &cases {
        let op = [EditOp::Thumbnail];
        let a = plain.edit(&case.item, &op, &case.profile);
        assert_same_cut(&a, &silent.edit(&case.item, &op, &case.profile));
        assert_same_cut(&a, &broken.edit(&case.item, &op, &case.profile));
        assert!(matches!(
            toy.edit(&case.item, &op, &case.profile),
            Ok(EditOutput::Thumbnail(_))
        ));
    }
    if let Some(item) = bbc("tech", 2) {
        let ops = [EditOp::Condense(sentences_of(3))];
        let p = UserProfile::default();
        let spans = |r: Result<EditOutput, EditError>| match r {
            Ok(EditOutput::Text(t)) => t.kept.iter().map(|k| k.source_start).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            spans(plain.edit(&item, &ops, &p)),
            spans(silent.edit(&item, &ops, &p))
        );
        let Ok(EditOutput::Text(out)) = toy.edit(&item, &ops, &p) else {
            panic!()
        };
        assert_eq!(out.kept.len(), 3);
        assert_extractive(&item, &out);
    }
}
