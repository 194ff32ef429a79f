//! Auditor tools: `generec audit bundle` gathers, from a running trust
//! service, everything needed to check one item offline; `generec verify`
//! checks such a bundle with no server and exits non-zero naming the check
//! that failed.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use generec_proto::trust::v1 as pb;
use generec_proto::trust::v1::trust_service_client::TrustServiceClient;
use generec_trust::audit::{AuditBundle, verify_bundle};
use generec_trust::keys::PublicKey;

/// What `generec audit` does.
#[derive(clap::Subcommand)]
pub enum Audit {
    /// Compliance query over the transparency log; prints one JSON entry a
    /// line (JSONL), every page. The query itself is logged.
    Query {
        /// The trust service.
        #[arg(long, env = "GENEREC_TRUST", default_value = "http://127.0.0.1:50052")]
        addr: String,
        /// A bearer token with the compliance role, when access control is on.
        #[arg(long, env = "GENEREC_TOKEN")]
        token: Option<String>,
        #[arg(long, default_value = "")]
        item: String,
        #[arg(long, default_value = "")]
        creator: String,
        #[arg(long, default_value = "")]
        user: String,
        #[arg(long, default_value = "")]
        claimant: String,
        /// allow, allow_with_label, redact, review or block.
        #[arg(long, default_value = "")]
        verdict: String,
        #[arg(long, default_value = "")]
        rule: String,
        /// policy_decision, authorship, key_rotation or compliance_query.
        #[arg(long = "type", default_value = "")]
        entry_type: String,
        /// Inclusive lower bound, Unix ms.
        #[arg(long, default_value_t = 0)]
        from: i64,
        /// Exclusive upper bound, Unix ms.
        #[arg(long, default_value_t = 0)]
        until: i64,
    },
    /// Fetch an offline audit bundle for a piece of content (found by its
    /// mark or soft binding) from a trust service.
    Bundle {
        /// The trust service.
        #[arg(long, env = "GENEREC_TRUST", default_value = "http://127.0.0.1:50052")]
        addr: String,
        /// Where to write the bundle (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// The content, or - for standard input.
        #[arg(default_value = "-")]
        content: PathBuf,
    },
}

fn read_input(path: &PathBuf) -> Result<String> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    }
    Ok(text)
}

/// `generec audit ...`.
pub async fn run(what: Audit) -> Result<()> {
    match what {
        Audit::Query {
            addr,
            token,
            item,
            creator,
            user,
            claimant,
            verdict,
            rule,
            entry_type,
            from,
            until,
        } => {
            let mut c = TrustServiceClient::connect(addr.clone())
                .await
                .with_context(|| format!("cannot reach the trust service at {addr}"))?;
            let mut page_token = String::new();
            loop {
                let mut request = tonic::Request::new(pb::QueryLogRequest {
                    item_id: item.clone(),
                    creator: creator.clone(),
                    user_id: user.clone(),
                    claimant: claimant.clone(),
                    verdict: verdict.clone(),
                    rule_id: rule.clone(),
                    entry_type: entry_type.clone(),
                    from_unix_ms: from,
                    until_unix_ms: until,
                    page_size: 1000,
                    page_token: page_token.clone(),
                });
                if let Some(token) = &token {
                    request
                        .metadata_mut()
                        .insert("authorization", format!("Bearer {token}").parse()?);
                }
                let page = c.query_log(request).await?.into_inner();
                for r in page.records {
                    println!("{{\"index\":{},\"entry\":{}}}", r.index, r.entry);
                }
                if page.next_page_token.is_empty() {
                    return Ok(());
                }
                page_token = page.next_page_token;
            }
        }
        Audit::Bundle {
            addr,
            output,
            content,
        } => {
            let content = read_input(&content)?;
            let bundle = fetch_bundle(&addr, content).await?;
            let json = serde_json::to_string_pretty(&bundle)?;
            match output {
                Some(path) => std::fs::write(&path, json)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => println!("{json}"),
            }
            Ok(())
        }
    }
}

/// Gathers everything an auditor needs to check `content` offline from the
/// trust service at `addr`: its manifest (found by the mark or the soft
/// binding), the log entry with an inclusion proof, a signed checkpoint and
/// the public keys.
pub(crate) async fn fetch_bundle(addr: &str, content: String) -> Result<AuditBundle> {
    let mut c = TrustServiceClient::connect(addr.to_string())
        .await
        .with_context(|| format!("cannot reach the trust service at {addr}"))?;
    let found = c
        .detect_provenance(pb::DetectProvenanceRequest {
            content: content.clone(),
        })
        .await?
        .into_inner();
    if !found.found {
        bail!("no manifest found for this content (no mark, no close soft binding)");
    }
    let cp = c
        .get_checkpoint(pb::GetCheckpointRequest {})
        .await?
        .into_inner();
    let proof = c
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            index: found.log_index,
            tree_size: cp.tree_size,
        })
        .await?
        .into_inner();
    let keys = c
        .get_public_keys(pb::GetPublicKeysRequest {})
        .await?
        .into_inner();
    Ok(AuditBundle {
        content,
        manifest: serde_json::from_slice(&found.manifest)
            .context("the service sent an unreadable manifest")?,
        log_index: found.log_index,
        log_entry: String::from_utf8(proof.entry).context("the log entry is not UTF-8")?,
        inclusion_proof: proof.hashes.iter().map(|h| hex_encode(h)).collect(),
        checkpoint: cp.signed_note,
        checkpoint_verifier_key: keys.checkpoint_verifier_key,
        public_keys: keys
            .keys
            .into_iter()
            .map(|k| PublicKey {
                key_id: k.key_id,
                public_key: k.public_key,
                created_unix_ms: k.created_unix_ms,
                retired_unix_ms: k.retired_unix_ms,
            })
            .collect(),
    })
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `generec verify BUNDLE`: exit status 0 when every check passes.
pub fn verify(path: PathBuf) -> Result<()> {
    let text = read_input(&path)?;
    let bundle: AuditBundle = serde_json::from_str(&text).context("not an audit bundle")?;
    check_bundle(&bundle)
}

/// Runs every offline check on `bundle`, printing one line per check; an
/// error names the first that failed.
pub(crate) fn check_bundle(bundle: &AuditBundle) -> Result<()> {
    let results = verify_bundle(bundle);
    for r in &results {
        println!(
            "{} {:<22} {}",
            if r.passed { "ok  " } else { "FAIL" },
            r.check,
            r.detail
        );
    }
    match results.iter().find(|r| !r.passed) {
        Some(failed) => bail!("verification failed: {} ({})", failed.check, failed.detail),
        None => {
            println!("all {} checks passed", results.len());
            Ok(())
        }
    }
}
