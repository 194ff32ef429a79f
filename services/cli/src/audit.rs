//! Auditor tools: `generec audit trust-root` fetches, once, the keys an
//! auditor pins; `generec audit bundle` gathers, from a running trust
//! service, everything needed to check one item offline; `generec verify`
//! checks such a bundle with no server against the pinned keys and exits
//! with the class of the first check that failed.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use generec_common::auth::{AuthedChannel, Bearer, Role};
use generec_proto::trust::v1 as pb;
use generec_proto::trust::v1::trust_service_client::TrustServiceClient;
use generec_provenance::audit::{AuditBundle, CheckResult, TrustRoot, parse_bundle, verify_bundle};
use generec_provenance::keys::PublicKey;

/// What `generec audit` does.
#[derive(clap::Subcommand)]
pub enum Audit {
    /// Compliance query over the transparency log; prints one JSON entry a
    /// line (JSONL), every page. The query itself is logged.
    Query {
        /// The trust service.
        #[arg(long, env = "GENEREC_TRUST", default_value = "http://127.0.0.1:50052")]
        addr: String,
        #[command(flatten)]
        tokens: crate::config::TokenArgs,
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
    /// Fetch the keys an auditor pins (every signing key with its period,
    /// and the checkpoint key of each) from a trust service reached over a
    /// channel you trust, and write them as a trust-root file for
    /// `generec verify --trust-root`.
    TrustRoot {
        /// The trust service.
        #[arg(long, env = "GENEREC_TRUST", default_value = "http://127.0.0.1:50052")]
        addr: String,
        #[command(flatten)]
        tokens: crate::config::TokenArgs,
        /// Where to write the trust root (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Fetch an offline audit bundle for a piece of content (found by its
    /// mark or soft binding) from a trust service.
    Bundle {
        /// The trust service.
        #[arg(long, env = "GENEREC_TRUST", default_value = "http://127.0.0.1:50052")]
        addr: String,
        #[command(flatten)]
        tokens: crate::config::TokenArgs,
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

/// A trust client presenting `bearer`.
pub(crate) async fn connect_trust(
    addr: &str,
    bearer: Bearer,
) -> Result<TrustServiceClient<AuthedChannel>> {
    let channel = tonic::transport::Endpoint::from_shared(addr.to_string())
        .with_context(|| format!("{addr:?} is not a URL"))?
        .connect()
        .await
        .with_context(|| format!("cannot reach the trust service at {addr}"))?;
    Ok(TrustServiceClient::with_interceptor(channel, bearer))
}

/// `generec audit ...`.
pub async fn run(what: Audit) -> Result<()> {
    match what {
        Audit::Query {
            addr,
            tokens,
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
            let mut c = connect_trust(&addr, tokens.bearer(Role::Compliance)?).await?;
            let mut page_token = String::new();
            loop {
                let request = tonic::Request::new(pb::QueryLogRequest {
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
        Audit::TrustRoot {
            addr,
            tokens,
            output,
        } => {
            let root = fetch_trust_root(&addr, tokens.bearer(Role::Auditor)?).await?;
            let json = serde_json::to_string_pretty(&root)?;
            match output {
                Some(path) => std::fs::write(&path, json)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => println!("{json}"),
            }
            Ok(())
        }
        Audit::Bundle {
            addr,
            tokens,
            output,
            content,
        } => {
            let content = read_input(&content)?;
            let bundle = fetch_bundle(&addr, tokens.bearer(Role::Auditor)?, content).await?;
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
pub(crate) async fn fetch_bundle(
    addr: &str,
    bearer: Bearer,
    content: String,
) -> Result<AuditBundle> {
    let mut c = connect_trust(addr, bearer).await?;
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
        public_keys: keys_from(keys.keys),
    })
}

/// Public keys as `GetPublicKeys` lists them, with their periods.
pub(crate) fn keys_from(keys: Vec<pb::PublicKey>) -> Vec<PublicKey> {
    keys.into_iter()
        .map(|k| PublicKey {
            key_id: k.key_id,
            public_key: k.public_key,
            created_unix_ms: k.created_unix_ms,
            retired_unix_ms: k.retired_unix_ms,
        })
        .collect()
}

/// The trust root of the service at `addr`: every signing key it lists,
/// with the checkpoint key of each under the log's origin.
pub(crate) async fn fetch_trust_root(addr: &str, bearer: Bearer) -> Result<TrustRoot> {
    let mut c = connect_trust(addr, bearer).await?;
    let keys = c
        .get_public_keys(pb::GetPublicKeysRequest {})
        .await?
        .into_inner();
    let origin = keys
        .checkpoint_verifier_key
        .split('+')
        .next()
        .unwrap_or_default()
        .to_string();
    Ok(TrustRoot {
        log_keys: vec![keys.checkpoint_verifier_key],
        signing_keys: keys_from(keys.keys),
    }
    .with_log_keys_for(&origin))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What `generec verify` takes.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The bundle (JSON), or - for standard input.
    pub bundle: PathBuf,
    /// A trust-root file (from `generec audit trust-root`): the checkpoint
    /// keys and signing keys to trust.
    #[arg(long, env = "GENEREC_TRUST_ROOT")]
    pub trust_root: Option<PathBuf>,
    /// A checkpoint verifier key to trust, in the C2SP form
    /// `<origin>+<hex id>+<base64 key>`; may be repeated.
    #[arg(long = "log-key")]
    pub log_keys: Vec<String>,
    /// A JSON list of signing keys to trust, as `GetPublicKeys` or the trust
    /// service's `keys/public.json` lists them (key_id, public_key,
    /// created_unix_ms, retired_unix_ms).
    #[arg(long)]
    pub trusted_keys: Option<PathBuf>,
    /// Trust the keys the bundle carries. This proves the bundle is
    /// consistent, not that the platform you think signed it did; a warning
    /// is printed.
    #[arg(long)]
    pub trust_bundle_keys: bool,
    /// Print the report as JSON instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// Builds what the auditor trusts from the flags.
fn trust_root(args: &VerifyArgs, bundle: &AuditBundle) -> Result<TrustRoot> {
    let mut root = match &args.trust_root {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str::<TrustRoot>(&text)
                .with_context(|| format!("{} is not a trust-root file", path.display()))?
        }
        None => TrustRoot::default(),
    };
    root.log_keys.extend(args.log_keys.iter().cloned());
    if let Some(path) = &args.trusted_keys {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let keys: Vec<PublicKey> = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a list of public keys", path.display()))?;
        root.signing_keys.extend(keys);
    }
    if args.trust_bundle_keys {
        eprintln!(
            "warning: --trust-bundle-keys: checking the bundle against the keys it carries proves it is consistent, not who made it; pin the platform's keys with --trust-root"
        );
        let own = TrustRoot::from_bundle(bundle);
        root.log_keys.extend(own.log_keys);
        root.signing_keys.extend(own.signing_keys);
    }
    if root.log_keys.is_empty() || root.signing_keys.is_empty() {
        bail!(
            "no trusted keys: give --trust-root FILE (from `generec audit trust-root`), or --log-key and --trusted-keys; --trust-bundle-keys trusts the bundle's own keys"
        );
    }
    Ok(root)
}

/// `generec verify`: the exit status (0 when every check passes, else the
/// class of the first failure).
pub fn verify(args: VerifyArgs) -> Result<u8> {
    let text = read_input(&args.bundle)?;
    let bundle = match parse_bundle(&text) {
        Ok(b) => b,
        Err(failed) => return Ok(report(&[failed], args.json)),
    };
    let root = trust_root(&args, &bundle)?;
    Ok(report(&verify_bundle(&bundle, &root), args.json))
}

/// Prints one line per check (or JSON) and returns the exit status.
fn report(results: &[CheckResult], json: bool) -> u8 {
    let failed = results.iter().find(|r| !r.passed);
    if json {
        println!(
            "{}",
            serde_json::json!({ "passed": failed.is_none(), "checks": results })
        );
    } else {
        for r in results {
            println!(
                "{} {:<22} {:<30} {}",
                if r.passed { "ok  " } else { "FAIL" },
                r.check,
                r.status,
                r.detail
            );
        }
    }
    match failed {
        Some(f) => {
            eprintln!("verification failed: {} ({})", f.check, f.status);
            f.class.exit_code()
        }
        None => {
            if !json {
                println!("all {} checks passed", results.len());
            }
            0
        }
    }
}

/// Runs every offline check on `bundle` against `root`, printing one line
/// per check; an error names the first that failed.
pub(crate) fn check_bundle(bundle: &AuditBundle, root: &TrustRoot) -> Result<()> {
    let results = verify_bundle(bundle, root);
    match report(&results, false) {
        0 => Ok(()),
        _ => {
            let f = results.iter().find(|r| !r.passed).map_or("", |r| r.check);
            bail!("verification failed: {f}")
        }
    }
}
