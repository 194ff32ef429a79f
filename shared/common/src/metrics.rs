//! Prometheus metrics: one recorder per process, a tower layer that counts
//! every gRPC call, and a small HTTP endpoint that serves `/metrics`.
//!
//! Every server built by [`crate::server::serve`] records, per method:
//!
//! - `generec_rpc_requests_total{service, method, code}`: calls answered,
//!   by gRPC status code (read from the response headers, where tonic puts
//!   an error's status; a status sent only in the trailers of a stream
//!   counts as `Ok`);
//! - `generec_rpc_duration_seconds{service, method}`: time to the response
//!   headers, a histogram;
//! - `generec_rpc_in_flight{service, method}`: calls being handled.
//!
//! The services add their own figures with the `metrics` macros; they are
//! no-ops until [`install`] has run, so libraries and tests that never
//! install a recorder pay almost nothing.
//!
//! Method labels come from request paths, which callers choose: at most
//! [`MAX_METHODS`] distinct (service, method) pairs are kept, later ones
//! count as `service="other", method="other"`, and only paths of the form
//! `/package.Service/Method` with plain characters are used at all.

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The most distinct (service, method) label pairs recorded.
pub const MAX_METHODS: usize = 256;
/// The largest scrape request read, in bytes.
const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// How long a scrape connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Latency buckets, in seconds (50 µs to 30 s).
const BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once; later calls return the same
/// handle) and starts its upkeep. Needs a Tokio runtime.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .expect("the bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!(
                    "another metrics recorder is installed; /metrics shows none of its figures"
                );
            }
            let upkeep = handle.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    upkeep.run_upkeep();
                }
            });
            describe();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        "generec_rpc_requests_total",
        "gRPC calls answered, by status code"
    );
    metrics::describe_histogram!(
        "generec_rpc_duration_seconds",
        metrics::Unit::Seconds,
        "time from a gRPC call's arrival to its response headers"
    );
    metrics::describe_gauge!("generec_rpc_in_flight", "gRPC calls being handled");
}

/// Serves `/metrics` on a bound listener until the process ends: the text
/// exposition format, one response per connection.
pub async fn serve(listener: TcpListener) {
    let handle = install();
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            continue;
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let response = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut socket)).await {
                Ok(Some(head)) => respond(&head, &handle),
                Ok(None) => http_response("400 Bad Request", "text/plain", "bad request\n"),
                Err(_) => return,
            };
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

/// Binds `addr` and serves `/metrics` there in the background; returns the
/// bound address (port 0 picks a free one).
pub async fn start(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    install();
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(serve(listener));
    Ok(bound)
}

/// Reads a request head (up to the blank line), or `None` when it is too
/// long or the peer closes first.
async fn read_head(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() + n > MAX_REQUEST_BYTES {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(buf).ok()
}

fn respond(head: &str, handle: &PrometheusHandle) -> String {
    let mut parts = head.lines().next().unwrap_or_default().split(' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let path = target.split('?').next().unwrap_or_default();
    match (method, path) {
        ("GET", "/metrics") => http_response(
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            &handle.render(),
        ),
        ("GET", _) => http_response("404 Not Found", "text/plain", "try /metrics\n"),
        _ => http_response("405 Method Not Allowed", "text/plain", "GET only\n"),
    }
}

fn http_response(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The (service, method) labels of a request path, bounded (see the
/// module docs).
fn labels(path: &str) -> (String, String) {
    static SEEN: OnceLock<Mutex<HashSet<(String, String)>>> = OnceLock::new();
    let other = || ("other".to_string(), "other".to_string());
    let Some((service, method)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
        return other();
    };
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
    };
    if !plain(service) || !plain(method) {
        return other();
    }
    let key = (service.to_string(), method.to_string());
    let mut seen = SEEN
        .get_or_init(|| Mutex::new(HashSet::new()))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.contains(&key) || seen.len() < MAX_METHODS {
        seen.insert(key.clone());
        key
    } else {
        other()
    }
}

/// The name of a gRPC status code, as the label `code`.
fn code_name(headers: &http::HeaderMap) -> &'static str {
    let code = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(0);
    match tonic::Code::from_i32(code) {
        tonic::Code::Ok => "Ok",
        tonic::Code::Cancelled => "Cancelled",
        tonic::Code::Unknown => "Unknown",
        tonic::Code::InvalidArgument => "InvalidArgument",
        tonic::Code::DeadlineExceeded => "DeadlineExceeded",
        tonic::Code::NotFound => "NotFound",
        tonic::Code::AlreadyExists => "AlreadyExists",
        tonic::Code::PermissionDenied => "PermissionDenied",
        tonic::Code::ResourceExhausted => "ResourceExhausted",
        tonic::Code::FailedPrecondition => "FailedPrecondition",
        tonic::Code::Aborted => "Aborted",
        tonic::Code::OutOfRange => "OutOfRange",
        tonic::Code::Unimplemented => "Unimplemented",
        tonic::Code::Internal => "Internal",
        tonic::Code::Unavailable => "Unavailable",
        tonic::Code::DataLoss => "DataLoss",
        tonic::Code::Unauthenticated => "Unauthenticated",
    }
}

/// The tower layer that records every call (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct RpcMetricsLayer;

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;
    fn layer(&self, inner: S) -> RpcMetrics<S> {
        RpcMetrics { inner }
    }
}

/// The service the layer wraps around the routes.
#[derive(Clone, Debug)]
pub struct RpcMetrics<S> {
    inner: S,
}

/// Lowers the in-flight gauge when a call ends, however it ends.
struct InFlight(metrics::Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

impl<S, B, R> tower::Service<http::Request<B>> for RpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let (service, method) = labels(req.uri().path());
        let started = Instant::now();
        let gauge = metrics::gauge!("generec_rpc_in_flight", "service" => service.clone(), "method" => method.clone());
        gauge.increment(1.0);
        let in_flight = InFlight(gauge);
        let call = self.inner.call(req);
        Box::pin(async move {
            let result = call.await;
            drop(in_flight);
            let code = match &result {
                Ok(response) => code_name(response.headers()),
                Err(_) => "Unknown",
            };
            metrics::histogram!("generec_rpc_duration_seconds", "service" => service.clone(), "method" => method.clone())
                .record(started.elapsed().as_secs_f64());
            metrics::counter!("generec_rpc_requests_total", "service" => service, "method" => method, "code" => code)
                .increment(1);
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_plain_paths_only() {
        assert_eq!(
            labels("/generec.feed.v1.FeedService/GetFeed"),
            ("generec.feed.v1.FeedService".into(), "GetFeed".into())
        );
        for odd in ["", "/", "/x", "/a b/c", "/svc/m\u{200b}", "/svc/m/extra"] {
            assert_eq!(labels(odd).0, "other", "{odd:?}");
        }
    }

    #[test]
    fn status_codes_are_read_from_headers_and_default_to_ok() {
        let mut h = http::HeaderMap::new();
        assert_eq!(code_name(&h), "Ok");
        h.insert("grpc-status", "3".parse().unwrap());
        assert_eq!(code_name(&h), "InvalidArgument");
        h.insert("grpc-status", "junk".parse().unwrap());
        assert_eq!(code_name(&h), "Ok");
    }

    #[test]
    fn the_endpoint_answers_metrics_and_nothing_else() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let addr = start("127.0.0.1:0".parse().unwrap()).await.unwrap();
            metrics::counter!("generec_test_total").increment(3);
            let get = |req: &'static str| async move {
                let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                s.write_all(req.as_bytes()).await.unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).await.unwrap();
                out
            };
            let ok = get("GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n").await;
            assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
            assert!(ok.contains("generec_test_total 3"), "{ok}");
            assert!(
                get("GET / HTTP/1.1\r\n\r\n")
                    .await
                    .starts_with("HTTP/1.1 404")
            );
            assert!(
                get("POST /metrics HTTP/1.1\r\n\r\n")
                    .await
                    .starts_with("HTTP/1.1 405")
            );
            // An endless head is cut off, not buffered.
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let long = vec![b'a'; MAX_REQUEST_BYTES + 10];
            let _ = s.write_all(&long).await;
            let mut out = String::new();
            let _ = s.read_to_string(&mut out).await;
            assert!(out.is_empty() || out.starts_with("HTTP/1.1 400"), "{out}");
        });
    }
}
