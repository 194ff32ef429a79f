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
        Audit::Bundle {
            addr,
            output,
            content,
        } => {
            let content = read_input(&content)?;
            let mut c = TrustServiceClient::connect(addr.clone())
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
            let bundle = AuditBundle {
                content,
                manifest: serde_json::from_slice(&found.manifest)
                    .context("the service sent an unreadable manifest")?,
                log_index: found.log_index,
                log_entry: String::from_utf8(proof.entry).context("the log entry is not UTF-8")?,
                inclusion_proof: proof.hashes.iter().map(hex_encode).collect(),
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
            };
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

fn hex_encode(bytes: &Vec<u8>) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `generec verify BUNDLE`: exit status 0 when every check passes.
pub fn verify(path: PathBuf) -> Result<()> {
    let text = read_input(&path)?;
    let bundle: AuditBundle = serde_json::from_str(&text).context("not an audit bundle")?;
    let results = verify_bundle(&bundle);
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
