//! A client for an OpenAI-compatible chat-completions endpoint, for
//! operators who run their own model server (vLLM, llama.cpp's server,
//! Ollama, ...).
//!
//! It speaks HTTP/1.1 over plain TCP (a model server beside the platform;
//! put a TLS-terminating proxy in front of a remote one) and posts
//! `{base_url}/chat/completions` with `model`, `messages`, `max_tokens`,
//! `temperature` and `seed`, and an `Authorization: Bearer` header when a key
//! is configured. The answer's `choices[0].message.content` is the text.
//! Every call has a timeout; a refused connection, a timeout or a non-2xx
//! answer is `Unavailable` with the server's words.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};

/// The largest answer read from the server.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Where the endpoint is and how to call it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiConfig {
    /// e.g. `http://127.0.0.1:8080/v1`; empty: the back-end is off.
    pub base_url: String,
    pub model: String,
    /// The name of an environment variable holding the API key (the key
    /// itself is never in the config file).
    pub api_key_env: String,
    pub timeout_ms: u64,
    pub temperature: f32,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        OpenAiConfig {
            base_url: String::new(),
            model: String::new(),
            api_key_env: "GENEREC_OPENAI_API_KEY".into(),
            timeout_ms: 60_000,
            temperature: 0.7,
        }
    }
}

/// One chat message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// What the endpoint answered.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    pub text: String,
    pub completion_tokens: u64,
    pub seconds: f64,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenAiError {
    #[error("openai endpoint config: {0}")]
    Config(String),
    #[error("openai endpoint {url} unavailable: {reason}")]
    Unavailable { url: String, reason: String },
    #[error("openai endpoint {url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("openai endpoint {url} sent an answer that is not a chat completion: {reason}")]
    BadAnswer { url: String, reason: String },
}

/// A parsed `http://host:port/path` base URL.
#[derive(Clone, Debug)]
pub struct OpenAiClient {
    config: OpenAiConfig,
    authority: String,
    path: String,
    api_key: Option<String>,
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: &'a [Message],
    max_tokens: u32,
    temperature: f32,
    seed: u64,
    stream: bool,
}

#[derive(Deserialize)]
struct ChatResponse {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    completion_tokens: u64,
}

impl OpenAiClient {
    /// Checks the config; `Ok(None)` when the back-end is off.
    pub fn new(config: &OpenAiConfig) -> Result<Option<OpenAiClient>, OpenAiError> {
        if config.base_url.trim().is_empty() {
            return Ok(None);
        }
        let rest = config.base_url.strip_prefix("http://").ok_or_else(|| {
            OpenAiError::Config(format!(
                "base_url {:?} must start with http:// (put a TLS proxy in front of a remote server)",
                config.base_url
            ))
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() || !authority.contains(':') {
            return Err(OpenAiError::Config(format!(
                "base_url {:?} must name host:port",
                config.base_url
            )));
        }
        if config.model.trim().is_empty() {
            return Err(OpenAiError::Config(
                "model must be set with base_url".into(),
            ));
        }
        if config.timeout_ms == 0 {
            return Err(OpenAiError::Config("timeout_ms must be positive".into()));
        }
        let api_key = if config.api_key_env.is_empty() {
            None
        } else {
            std::env::var(&config.api_key_env)
                .ok()
                .filter(|k| !k.is_empty())
        };
        Ok(Some(OpenAiClient {
            config: config.clone(),
            authority: authority.to_string(),
            path: format!("{path}/chat/completions"),
            api_key,
        }))
    }

    /// "openai:<model>".
    pub fn id(&self) -> String {
        format!("openai:{}", self.config.model)
    }

    pub fn model(&self) -> &str {
        &self.config.model
    }

    /// Sends one chat completion request, bounded by the configured timeout
    /// and by `deadline` when given.
    pub async fn complete(
        &self,
        messages: &[Message],
        max_tokens: u32,
        seed: u64,
        deadline: Option<Instant>,
    ) -> Result<Completion, OpenAiError> {
        let mut timeout = Duration::from_millis(self.config.timeout_ms);
        if let Some(d) = deadline {
            timeout = timeout.min(d.saturating_duration_since(Instant::now()));
        }
        let started = Instant::now();
        match tokio::time::timeout(timeout, self.call(messages, max_tokens, seed)).await {
            Ok(result) => result.map(|(text, completion_tokens)| Completion {
                text,
                completion_tokens,
                seconds: started.elapsed().as_secs_f64(),
            }),
            Err(_) => Err(self.unavailable(format!("no answer within {} ms", timeout.as_millis()))),
        }
    }

    fn url(&self) -> String {
        format!("http://{}{}", self.authority, self.path)
    }

    fn unavailable(&self, reason: String) -> OpenAiError {
        OpenAiError::Unavailable {
            url: self.url(),
            reason,
        }
    }

    async fn call(
        &self,
        messages: &[Message],
        max_tokens: u32,
        seed: u64,
    ) -> Result<(String, u64), OpenAiError> {
        let body = serde_json::to_vec(&ChatRequest {
            model: &self.config.model,
            messages,
            max_tokens,
            temperature: self.config.temperature,
            seed,
            stream: false,
        })
        .map_err(|e| OpenAiError::Config(e.to_string()))?;
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|e| self.unavailable(e.to_string()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.unavailable(e.to_string()))?;
        let conn = tokio::spawn(conn);
        let mut request = hyper::Request::post(&self.path)
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::ACCEPT, "application/json");
        if let Some(key) = &self.api_key {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {key}"));
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| OpenAiError::Config(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| self.unavailable(e.to_string()))?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| self.unavailable(format!("reading the answer: {e}")))?
            .to_bytes();
        conn.abort();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            return Err(OpenAiError::Status {
                url: self.url(),
                status: status.as_u16(),
                body: text.chars().take(300).collect(),
            });
        }
        let answer: ChatResponse =
            serde_json::from_slice(&bytes).map_err(|e| OpenAiError::BadAnswer {
                url: self.url(),
                reason: e.to_string(),
            })?;
        let Some(choice) = answer.choices.into_iter().next() else {
            return Err(OpenAiError::BadAnswer {
                url: self.url(),
                reason: "no choices".into(),
            });
        };
        let tokens = answer.usage.map_or(0, |u| u.completion_tokens);
        Ok((choice.message.content, tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> OpenAiConfig {
        OpenAiConfig {
            base_url: url.into(),
            model: "m".into(),
            ..OpenAiConfig::default()
        }
    }

    #[test]
    fn an_empty_url_turns_the_backend_off() {
        assert!(OpenAiClient::new(&config("")).unwrap().is_none());
    }

    #[test]
    fn urls_are_checked() {
        assert!(OpenAiClient::new(&config("https://x:1/v1")).is_err());
        assert!(OpenAiClient::new(&config("http:///v1")).is_err());
        let c = OpenAiClient::new(&config("http://127.0.0.1:8080/v1/"))
            .unwrap()
            .unwrap();
        assert_eq!(c.url(), "http://127.0.0.1:8080/v1/chat/completions");
    }

    #[tokio::test]
    async fn a_refused_connection_is_unavailable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let c = OpenAiClient::new(&config(&format!("http://{addr}/v1")))
            .unwrap()
            .unwrap();
        let err = c.complete(&[], 8, 1, None).await.unwrap_err();
        assert!(matches!(err, OpenAiError::Unavailable { .. }), "{err}");
    }
}
