//! Access control as `generec up` configures it, over real gRPC: tokens are
//! made on first start (mode 0600), and each role is tried against each
//! method of each service, as the access table (data) says; no token is
//! unauthenticated everywhere. Also: the table lists every method the
//! services have, and a non-loopback address with access control off is
//! refused unless `--insecure`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use generec_common::auth::{Role, access_table};
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;

const DATASETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.data");

struct Up {
    child: Child,
    addrs: BTreeMap<String, String>,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `generec up --no-load` on free ports and reads where each
/// service listens from what it prints.
fn up(data: &Path) -> Up {
    let mut child = Command::new(env!("CARGO_BIN_EXE_generec"))
        .args(["up", "--no-load", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .arg("--datasets")
        .arg(DATASETS)
        .env("RUST_LOG", "warn")
        .env("CANDLE_NUM_THREADS", "1")
        .env_remove("GENEREC_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start generec up");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut addrs = BTreeMap::new();
    for line in lines.by_ref() {
        let line = line.expect("read stdout");
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [name, url, ..] = words.as_slice()
            && let Some(addr) = url.strip_prefix("grpc://")
        {
            addrs.insert(name.to_string(), format!("http://{addr}"));
        }
        if line.starts_with("Ctrl-C") {
            break;
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    assert_eq!(addrs.len(), 4, "generec up printed {addrs:?}");
    Up { child, addrs }
}

fn service_of(full: &str) -> &'static str {
    match full {
        "generec.corpus.v1.CorpusService" => "corpus",
        "generec.trust.v1.TrustService" => "trust",
        "generec.generation.v1.Generation" => "generation",
        "generec.feed.v1.FeedService" => "feed",
        other => panic!("unknown service {other}"),
    }
}

/// One call of `path` with an empty message and `token`; the status code
/// (Ok when it answered, Unknown-ish codes pass through). A call still open
/// after 3 s (a stream) has passed access control.
async fn call(channel: &Channel, path: &str, token: Option<&str>) -> Code {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    if grpc.ready().await.is_err() {
        return Code::Unavailable;
    }
    let mut request = tonic::Request::new(());
    if let Some(t) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    let path = PathAndQuery::try_from(path.to_string()).unwrap();
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    match tokio::time::timeout(Duration::from_secs(3), grpc.unary(request, path, codec)).await {
        Ok(Ok(_)) => Code::Ok,
        Ok(Err(status)) => status.code(),
        Err(_) => Code::DeadlineExceeded,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_gets_exactly_the_methods_the_table_gives_it() {
    if !Path::new(DATASETS).join("bbc").is_dir() {
        eprintln!("skipped: run scripts/fetch-data first");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let platform = up(dir.path());
    let mut tokens = Vec::new();
    for role in [Role::Admin, Role::Internal, Role::Auditor, Role::Compliance] {
        let path = dir.path().join(format!("tokens/{}.token", role.as_str()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        }
        tokens.push((role, std::fs::read_to_string(&path).unwrap()));
    }

    // The table lists every method the services have.
    let set = generec_proto::service_methods();
    let table = access_table();
    for (service, methods) in &set {
        let listed = table
            .get(service)
            .unwrap_or_else(|| panic!("{service} is not in the access table"));
        let listed: Vec<&String> = listed.keys().collect();
        let have: Vec<&String> = methods.iter().collect();
        let mut listed_sorted = listed.clone();
        listed_sorted.sort();
        let mut have_sorted = have.clone();
        have_sorted.sort();
        assert_eq!(listed_sorted, have_sorted, "{service}: table vs proto");
    }

    let mut channels = BTreeMap::new();
    for (name, url) in &platform.addrs {
        let channel = Channel::from_shared(url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        channels.insert(name.clone(), channel);
    }
    let mut checked = 0;
    for (service, methods) in &table {
        let channel = &channels[service_of(service)];
        for (method, allowed) in methods {
            let path = format!("/{service}/{method}");
            assert_eq!(
                call(channel, &path, None).await,
                Code::Unauthenticated,
                "{path} without a token"
            );
            assert_eq!(
                call(channel, &path, Some("not-a-token")).await,
                Code::Unauthenticated,
                "{path} with an unknown token"
            );
            for (role, token) in &tokens {
                let code = call(channel, &path, Some(token)).await;
                let may = *role == Role::Admin || allowed.contains(role);
                if may {
                    assert!(
                        !matches!(code, Code::PermissionDenied | Code::Unauthenticated),
                        "{path} as {}: {code:?}",
                        role.as_str()
                    );
                } else {
                    assert_eq!(code, Code::PermissionDenied, "{path} as {}", role.as_str());
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 4 * 38, "checked {checked} role-method pairs");

    // Health stays open, for load balancers.
    let mut health = tonic_health::pb::health_client::HealthClient::new(channels["trust"].clone());
    assert!(
        health
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .is_ok()
    );
}

#[test]
fn a_public_address_with_access_control_off_is_refused_unless_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_generec"))
        .args(["serve", "corpus", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "error")
        .env_remove("GENEREC_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("--insecure"), "{text}");
}
