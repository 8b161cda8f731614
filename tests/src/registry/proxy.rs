//! A recording proxy in front of a registry: forwards every request unchanged (its `Host`
//! too, so the registry's upload locations point back at the proxy), records each call's
//! start, end and status for [`crate::sequential_round_trips`], and can answer the next
//! requests with `429` and chosen headers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use crate::Call;

/// `429` answers to give before forwarding again.
#[derive(Debug, Clone, Default)]
pub struct Throttle {
    pub count: usize,
    pub headers: Vec<(String, String)>,
}

struct State {
    upstream: SocketAddr,
    started: Instant,
    calls: Mutex<Vec<Call>>,
    throttle: Mutex<Throttle>,
    latency: Mutex<std::time::Duration>,
}

/// A running proxy; it stops with the test's runtime.
pub struct Proxy {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            upstream,
            started: Instant::now(),
            calls: Mutex::new(Vec::new()),
            throttle: Mutex::new(Throttle::default()),
            latency: Mutex::new(std::time::Duration::ZERO),
        });
        let served = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&served);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, hyper::Error>(forward(&state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Proxy { addr, state }
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Answers the next `throttle.count` requests with `429` and its headers.
    pub fn throttle(&self, throttle: Throttle) {
        *self.state.throttle.lock().unwrap() = throttle;
    }

    /// Adds `latency` to every request (a network round trip), so that calls that could
    /// overlap but do not show up as sequential.
    pub fn latency(&self, latency: std::time::Duration) {
        *self.state.latency.lock().unwrap() = latency;
    }

    /// The calls so far (`service` is `registry`, `operation` is `METHOD /v2/...`).
    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    /// The calls so far, leaving out authentication challenges (`401`).
    pub fn calls_after_auth(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.status != 401)
            .collect()
    }

    pub fn clear(&self) {
        self.state.calls.lock().unwrap().clear();
    }
}

async fn forward(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let start = state.started.elapsed().as_secs_f64() * 1000.0;
    let latency = *state.latency.lock().unwrap();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let operation = format!("{} {}", req.method(), req.uri().path());
    let throttled = {
        let mut t = state.throttle.lock().unwrap();
        if t.count > 0 {
            t.count -= 1;
            Some(t.headers.clone())
        } else {
            None
        }
    };
    let response = match throttled {
        Some(headers) => {
            let mut b = Response::builder().status(StatusCode::TOO_MANY_REQUESTS);
            for (k, v) in headers {
                b = b.header(k, v);
            }
            b.body(Full::new(Bytes::from_static(
                br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limit"}]}"#,
            )))
            .unwrap()
        }
        None => pass(state.upstream, req).await.unwrap_or_else(|e| {
            Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Full::new(Bytes::from(e.to_string())))
                .unwrap()
        }),
    };
    let end = state.started.elapsed().as_secs_f64() * 1000.0;
    let mut calls = state.calls.lock().unwrap();
    let seq = calls.len() as u64;
    calls.push(Call {
        seq,
        service: "registry".into(),
        operation,
        start_ms: start,
        end_ms: end,
        status: response.status().as_u16(),
        fault: None,
        request: None,
        account: String::new(),
        region: String::new(),
    });
    response
}

async fn pass(
    upstream: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut out = Request::from_parts(parts, Full::new(body));
    let path = out
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    *out.uri_mut() = path.parse()?;
    let response = sender.send_request(out).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}
