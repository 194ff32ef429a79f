//! `generec review` without a server: one JSON result for one content, and
//! one result a line with `--jsonl`.

use std::io::Write;
use std::process::{Command, Stdio};

const BUNDLE: &str = r#"
version = "cli-test-1"
[actions]
"privacy.email" = { action = "redact" }
"copyright.derivative" = { action = "block" }
"#;

fn review(args: &[&str], stdin: &str, dir: &std::path::Path) -> (bool, String, String) {
    let bundle = dir.join("bundle.toml");
    std::fs::write(&bundle, BUNDLE).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_generec"))
        .arg("review")
        .arg("--bundle")
        .arg(&bundle)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn one_content_gives_one_json_result_with_verdict_findings_redaction_and_bundle_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = review(&["-"], "write to kim@example.net today", dir.path());
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "redact");
    assert_eq!(v["bundle_version"], "cli-test-1");
    assert_eq!(v["bundle_hash"].as_str().unwrap().len(), 64);
    assert_eq!(v["findings"][0]["category"], "privacy.email");
    assert_eq!(v["redacted_text"], "write to [email] today");
    // A score for every category the bundle acts on, found or not.
    let scores = v["scores"].as_object().expect("per-category scores");
    assert!(
        scores["privacy.email"].as_f64().unwrap() > 0.5,
        "{scores:?}"
    );
    assert!(scores.len() > 1, "{scores:?}");
    assert!(
        scores
            .iter()
            .filter(|(k, _)| k.as_str() != "privacy.email")
            .all(|(_, s)| s.as_f64() == Some(0.0)),
        "{scores:?}"
    );

    let (ok, out, _) = review(
        &["--parent", "p1:CC-BY-ND-4.0", "-"],
        "a shorter cut",
        dir.path(),
    );
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "block");
}

#[test]
fn jsonl_reads_one_request_a_line_and_names_a_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = "{\"content\": \"clean words\"}\n\n{\"content\": \"mail a@b.example\", \"context\": {\"kind\": \"article\", \"user_id\": \"u\"}}\n";
    let (ok, out, err) = review(&["--jsonl", "-"], input, dir.path());
    assert!(ok, "{err}");
    let verdicts: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["verdict"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(verdicts, vec!["allow", "redact"]);

    let (ok, _, err) = review(
        &["--jsonl", "-"],
        "{\"content\": \"x\"}\n{\"text\": \"y\"}\n",
        dir.path(),
    );
    assert!(!ok);
    assert!(err.contains("line 2"), "{err}");
    let (ok, _, err) = review(&["--kind", "podcast", "-"], "x", dir.path());
    assert!(!ok);
    assert!(err.contains("--kind"), "{err}");
}
