//! One registry host: its API base, the credentials, the authentication state, and the
//! request loop every call goes through (authentication, rate limits, retries).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};

use super::auth::{Challenge, Credentials, Scope, TokenAnswer, TokenCache, parse_challenge};
use super::error::RegistryError;
use super::limit::{self, Decision, LimitHeaders};

/// Attempts of a request that failed with a 5xx or a broken connection.
const ATTEMPTS: u32 = 3;
/// A request's timeout when no deadline was given.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// A client for one registry host. Cheap to share by reference; requests to it may run
/// concurrently. Tokens are kept per scope for the client's life.
pub struct Client {
    http: reqwest::Client,
    host: String,
    base: String,
    credentials: Option<Credentials>,
    auth: Mutex<AuthState>,
    deadline: Option<Instant>,
    requests: AtomicU64,
    /// Whether the registry serves the referrers API: [`REFERRERS_UNKNOWN`] until asked.
    referrers_api: AtomicU8,
}

const REFERRERS_UNKNOWN: u8 = 0;
const REFERRERS_SERVED: u8 = 1;
const REFERRERS_ABSENT: u8 = 2;

#[derive(Default)]
struct AuthState {
    challenge: Option<Challenge>,
    tokens: TokenCache,
}

/// One request, re-sendable: the body is bytes already in memory.
pub(crate) struct Call {
    pub method: Method,
    pub url: String,
    pub scope: Scope,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Bytes>,
    /// For messages: `GET manifest web:v1`.
    pub what: String,
}

/// The scheme for a host: plain HTTP for a loopback registry only (as Docker allows
/// for `localhost`), HTTPS for every other.
pub fn api_base(host: &str) -> String {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let loopback = name == "localhost"
        || name == "[::1]"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        format!("http://{host}")
    } else {
        format!("https://{host}")
    }
}

impl Client {
    /// A client for `host` (the API host, with its port: see
    /// [`crate::image::ImageName::api_host`]), anonymous when `credentials` is `None`.
    pub fn new(host: &str, credentials: Option<Credentials>) -> Result<Self, RegistryError> {
        let http = crate::http::client().map_err(|e| RegistryError::Tls(e.to_string()))?;
        Ok(Self::with_http(http, host, credentials))
    }

    /// As [`Client::new`], with a given HTTP client.
    pub fn with_http(http: reqwest::Client, host: &str, credentials: Option<Credentials>) -> Self {
        Client {
            http,
            host: host.to_owned(),
            base: api_base(host),
            credentials,
            auth: Mutex::new(AuthState::default()),
            deadline: None,
            requests: AtomicU64::new(0),
            referrers_api: AtomicU8::new(REFERRERS_UNKNOWN),
        }
    }

    /// Requests (and waits for rate limits) end by `deadline`.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The host, as given.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Requests sent to the registry so far (token requests and `401`s left out).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Whether the registry serves the referrers API, once a request has told.
    pub fn serves_referrers_api(&self) -> Option<bool> {
        match self.referrers_api.load(Ordering::Relaxed) {
            REFERRERS_SERVED => Some(true),
            REFERRERS_ABSENT => Some(false),
            _ => None,
        }
    }

    pub(crate) fn remember_referrers_api(&self, served: bool) {
        let value = if served {
            REFERRERS_SERVED
        } else {
            REFERRERS_ABSENT
        };
        self.referrers_api.store(value, Ordering::Relaxed);
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn time_left(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AuthState> {
        self.auth.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `call`, authenticating on `401`, waiting out short rate limits and retrying
    /// 5xx answers. Any other status is the caller's to read.
    pub(crate) async fn send(&self, call: &Call) -> Result<Response, RegistryError> {
        let mut reauthenticated = false;
        let mut waited = false;
        let mut attempt = 0;
        loop {
            let authorization = self.authorization(&call.scope).await?;
            let timeout = self.time_left().unwrap_or(DEFAULT_TIMEOUT);
            if timeout.is_zero() {
                return Err(self.deadline_error(&call.what));
            }
            let mut request = self
                .http
                .request(call.method.clone(), &call.url)
                .timeout(timeout);
            for (name, value) in &call.headers {
                request = request.header(*name, value);
            }
            if let Some(value) = &authorization {
                request = request.header(AUTHORIZATION, value);
            }
            if let Some(body) = &call.body {
                request = request.body(body.clone());
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) if e.is_timeout() => return Err(self.deadline_error(&call.what)),
                Err(e) if attempt + 1 < ATTEMPTS => {
                    tracing::debug!(registry = %self.host, what = %call.what, error = %e, "retrying");
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                Err(e) => {
                    return Err(RegistryError::Unreachable {
                        registry: self.host.clone(),
                        detail: transport_detail(&e),
                    });
                }
            };
            let status = response.status();
            tracing::debug!(registry = %self.host, what = %call.what, status = status.as_u16(), "registry answered");
            match status {
                StatusCode::UNAUTHORIZED => {
                    let challenge = response
                        .headers()
                        .get(WWW_AUTHENTICATE)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_challenge);
                    if reauthenticated || challenge.is_none() {
                        return Err(self.refused(&call.scope, authorization.is_some(), challenge));
                    }
                    let mut state = self.lock();
                    state.tokens.forget(&call.scope);
                    state.challenge = challenge;
                    drop(state);
                    reauthenticated = true;
                }
                StatusCode::FORBIDDEN => return Err(self.denied(&call.scope)),
                StatusCode::TOO_MANY_REQUESTS => {
                    let decision = limit_decision(response.headers(), self.time_left(), waited);
                    match decision {
                        Decision::Wait(wait) => {
                            tracing::info!(registry = %self.host, wait_ms = wait.as_millis() as u64, "rate-limited; waiting");
                            tokio::time::sleep(wait).await;
                            waited = true;
                        }
                        Decision::GiveUp { reset_at } => {
                            return Err(RegistryError::RateLimited {
                                registry: self.host.clone(),
                                reset: reset_at.map(limit::format_time),
                            });
                        }
                    }
                }
                s if s.is_server_error() => {
                    if attempt + 1 < ATTEMPTS {
                        attempt += 1;
                        tokio::time::sleep(backoff(attempt)).await;
                        continue;
                    }
                    return Err(RegistryError::Unavailable {
                        registry: self.host.clone(),
                        status: s.as_u16(),
                        what: call.what.clone(),
                    });
                }
                _ => {
                    self.requests.fetch_add(1, Ordering::Relaxed);
                    return Ok(response);
                }
            }
        }
    }

    /// Learns how the registry authenticates (`GET /v2/`, once) and obtains what `scope`
    /// needs (a token, for Bearer), so that the requests that follow carry it from the
    /// first. Optional: every request also authenticates when it meets a `401`.
    pub async fn authenticate(&self, scope: &Scope) -> Result<(), RegistryError> {
        if self.lock().challenge.is_none() {
            let response = self
                .http
                .get(self.url("/v2/"))
                .timeout(self.time_left().unwrap_or(DEFAULT_TIMEOUT))
                .send()
                .await
                .map_err(|e| RegistryError::Unreachable {
                    registry: self.host.clone(),
                    detail: transport_detail(&e),
                })?;
            if response.status() != StatusCode::UNAUTHORIZED {
                return Ok(());
            }
            let challenge = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_challenge);
            let mut state = self.lock();
            if state.challenge.is_none() {
                state.challenge = challenge;
            }
        }
        self.authorization(scope).await.map(|_| ())
    }

    /// The `Authorization` value for `scope`, as the last challenge asked: none before
    /// any challenge, Basic credentials, or a Bearer token (cached, or asked for now).
    async fn authorization(&self, scope: &Scope) -> Result<Option<String>, RegistryError> {
        let (realm, service) = {
            let state = self.lock();
            match &state.challenge {
                None => return Ok(None),
                Some(Challenge::Basic) => {
                    return match &self.credentials {
                        Some(c) => Ok(Some(c.basic_header())),
                        None => Err(self.credentials_required(scope)),
                    };
                }
                Some(Challenge::Bearer { realm, service, .. }) => {
                    if let Some(token) = state.tokens.get(scope, Instant::now()) {
                        return Ok(Some(format!("Bearer {token}")));
                    }
                    (realm.clone(), service.clone())
                }
            }
        };
        let token = self.fetch_token(&realm, service.as_deref(), scope).await?;
        let header = format!("Bearer {}", token.value);
        self.lock().tokens.put(scope.clone(), token);
        Ok(Some(header))
    }

    /// Asks the realm for a token for `scope`, with the credentials when there are any.
    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &Scope,
    ) -> Result<super::auth::Token, RegistryError> {
        let mut url = reqwest::Url::parse(realm).map_err(|e| {
            self.protocol(
                "a token challenge",
                format!("its realm `{realm}` is not a URL: {e}"),
            )
        })?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = service {
                query.append_pair("service", service);
            }
            for entry in scope.entries() {
                query.append_pair("scope", entry);
            }
            if let Some(c) = &self.credentials {
                query.append_pair("account", &c.username);
            }
        }
        let mut request = self
            .http
            .get(url)
            .timeout(self.time_left().unwrap_or(DEFAULT_TIMEOUT));
        if let Some(c) = &self.credentials {
            request = request.header(AUTHORIZATION, c.basic_header());
        }
        let response = request
            .send()
            .await
            .map_err(|e| RegistryError::Unreachable {
                registry: format!("{} (its token service)", self.host),
                detail: transport_detail(&e),
            })?;
        match response.status() {
            s if s.is_success() => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(match &self.credentials {
                    Some(c) => self.bad_credentials(c),
                    None => self.credentials_required(scope),
                });
            }
            StatusCode::TOO_MANY_REQUESTS => {
                let reset = limit::reset_at(&limit_headers(response.headers()), SystemTime::now());
                return Err(RegistryError::RateLimited {
                    registry: self.host.clone(),
                    reset: reset.map(limit::format_time),
                });
            }
            s => {
                return Err(RegistryError::Unavailable {
                    registry: format!("{} (its token service)", self.host),
                    status: s.as_u16(),
                    what: "a token".to_string(),
                });
            }
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| RegistryError::Unreachable {
                registry: format!("{} (its token service)", self.host),
                detail: transport_detail(&e),
            })?;
        serde_json::from_slice::<TokenAnswer>(&body)
            .ok()
            .and_then(|a| a.into_token(Instant::now()))
            .ok_or_else(|| RegistryError::Protocol {
                registry: format!("{} (its token service)", self.host),
                what: "a token request".to_string(),
                detail: "the answer holds no `token` or `access_token`".to_string(),
            })
    }

    /// A second `401`: the credentials are wrong (Basic), or they (or anonymity) do not
    /// grant the scope (Bearer).
    fn refused(
        &self,
        scope: &Scope,
        sent_authorization: bool,
        challenge: Option<Challenge>,
    ) -> RegistryError {
        match (&self.credentials, challenge) {
            (None, _) => self.credentials_required(scope),
            (Some(c), Some(Challenge::Basic)) if sent_authorization => self.bad_credentials(c),
            (Some(_), _) => self.denied(scope),
        }
    }

    fn bad_credentials(&self, c: &Credentials) -> RegistryError {
        RegistryError::BadCredentials {
            registry: self.host.clone(),
            user: c.username.clone(),
            secret: c.secret.clone(),
        }
    }

    fn credentials_required(&self, scope: &Scope) -> RegistryError {
        RegistryError::CredentialsRequired {
            registry: self.host.clone(),
            repository: scope.repository().to_string(),
            action: scope.action(),
            hint: "or check that the repository exists".to_string(),
        }
    }

    fn denied(&self, scope: &Scope) -> RegistryError {
        RegistryError::Denied {
            registry: self.host.clone(),
            repository: scope.repository().to_string(),
            action: scope.action(),
            user: self.credentials.as_ref().map(|c| c.username.clone()),
        }
    }

    pub(crate) fn deadline_error(&self, what: &str) -> RegistryError {
        RegistryError::Deadline {
            registry: self.host.clone(),
            what: what.to_string(),
        }
    }

    pub(crate) fn protocol(&self, what: &str, detail: impl Into<String>) -> RegistryError {
        RegistryError::Protocol {
            registry: self.host.clone(),
            what: what.to_string(),
            detail: detail.into(),
        }
    }

    /// An answer the caller did not expect: the registry's own error codes, when it gave
    /// them (`NAME_UNKNOWN` becomes [`RegistryError::RepositoryMissing`]).
    pub(crate) async fn unexpected(
        &self,
        response: Response,
        what: &str,
        repository: &str,
    ) -> RegistryError {
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap_or_default();
        let codes = error_codes(&body);
        if codes.iter().any(|(code, _)| code == "NAME_UNKNOWN") {
            return RegistryError::RepositoryMissing {
                registry: self.host.clone(),
                repository: repository.to_string(),
            };
        }
        let detail = if codes.is_empty() {
            format!("HTTP {status}")
        } else {
            let listed: Vec<String> = codes
                .into_iter()
                .map(|(code, message)| format!("{code}: {message}"))
                .collect();
            format!("HTTP {status}, {}", listed.join("; "))
        };
        self.protocol(what, detail)
    }
}

/// `{"errors": [{"code", "message"}]}`, the distribution API's error body.
pub(crate) fn error_codes(body: &[u8]) -> Vec<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    serde_json::from_slice::<Body>(body)
        .map(|b| {
            b.errors
                .into_iter()
                .map(|e| {
                    let message: String = e.message.chars().take(200).collect();
                    (e.code, message)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn limit_headers(headers: &HeaderMap) -> LimitHeaders<'_> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    LimitHeaders {
        retry_after: get("retry-after"),
        reset: get("ratelimit-reset").or_else(|| get("x-ratelimit-reset")),
        remaining: get("ratelimit-remaining"),
    }
}

fn limit_decision(headers: &HeaderMap, time_left: Option<Duration>, waited: bool) -> Decision {
    limit::decide(
        &limit_headers(headers),
        SystemTime::now(),
        time_left.unwrap_or(limit::MAX_WAIT + limit::MARGIN),
        waited,
    )
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200 << attempt.min(4))
}

/// A transport error without its URL (a URL may carry an upload's state, never a secret,
/// but it is noise in a console message).
fn transport_detail(e: &reqwest::Error) -> String {
    let mut detail = e.to_string();
    if let Some(url) = e.url() {
        detail = detail.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_for_loopback_only() {
        let rows = [
            ("localhost:5000", "http://localhost:5000"),
            ("127.0.0.1:41234", "http://127.0.0.1:41234"),
            ("[::1]:5000", "http://[::1]:5000"),
            ("registry-1.docker.io", "https://registry-1.docker.io"),
            ("ghcr.io", "https://ghcr.io"),
            ("10.0.0.5:5000", "https://10.0.0.5:5000"),
        ];
        for (host, base) in rows {
            assert_eq!(api_base(host), base, "{host}");
        }
    }

    #[test]
    fn reads_registry_error_codes() {
        let body = br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{}}]}"#;
        assert_eq!(
            error_codes(body),
            vec![(
                "NAME_UNKNOWN".to_string(),
                "repository name not known to registry".to_string()
            )]
        );
        assert!(error_codes(b"<html>").is_empty());
    }
}
