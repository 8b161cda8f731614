//! A token server for the registry's `auth: token` mode: checks Basic credentials and
//! issues ES256 JWTs, signed by a key whose self-signed certificate is the registry's
//! `rootcertbundle` and travels in the token's `x5c` header (distribution 2.8 verifies
//! the chain against the bundle, then the signature with the leaf's key).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;
use tokio::net::TcpListener;

/// The registry's `service` (the token's audience).
pub const SERVICE: &str = "testkit-registry";
/// The token's issuer.
pub const ISSUER: &str = "testkit-token-server";
/// Token lifetime.
const LIFETIME: u64 = 300;

struct State {
    users: HashMap<String, String>,
    key: EcdsaKeyPair,
    certificate_der: Vec<u8>,
    issued: AtomicU64,
    refused: AtomicU64,
    tokens: std::sync::Mutex<Vec<String>>,
}

/// A running token server; it stops with the test's runtime.
pub struct TokenServer {
    pub addr: SocketAddr,
    certificate_pem: String,
    state: Arc<State>,
}

impl TokenServer {
    /// Starts one accepting `users` (name, password).
    pub async fn start(users: &[(&str, &str)]) -> TokenServer {
        let key_pair =
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("a P-256 key");
        let mut params =
            rcgen::CertificateParams::new(vec![ISSUER.to_string()]).expect("certificate params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let certificate = params.self_signed(&key_pair).expect("a certificate");
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key_pair.serialize_der(),
            &SystemRandom::new(),
        )
        .expect("the key in PKCS#8");
        let state = Arc::new(State {
            users: users
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect(),
            key,
            certificate_der: certificate.der().to_vec(),
            issued: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            tokens: std::sync::Mutex::new(Vec::new()),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr = listener.local_addr().unwrap();
        let served = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&served);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, hyper::Error>(answer(&state, &req)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TokenServer {
            addr,
            certificate_pem: certificate.pem(),
            state,
        }
    }

    /// The realm URL the registry names in its challenge.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// Tokens issued so far.
    pub fn issued(&self) -> u64 {
        self.state.issued.load(Ordering::Relaxed)
    }

    /// Every token issued, to check that none reaches a log.
    pub fn tokens(&self) -> Vec<String> {
        self.state.tokens.lock().unwrap().clone()
    }

    /// Token requests refused (bad credentials).
    pub fn refused(&self) -> u64 {
        self.state.refused.load(Ordering::Relaxed)
    }
}

fn answer(state: &State, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: String| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default()
    };
    if req.uri().path() != "/token" {
        return reply(StatusCode::NOT_FOUND, "{}".into());
    }
    let user = match basic_user(req) {
        Some((user, password)) if state.users.get(&user) == Some(&password) => Some(user),
        Some(_) => {
            state.refused.fetch_add(1, Ordering::Relaxed);
            return reply(
                StatusCode::UNAUTHORIZED,
                r#"{"details": "incorrect username or password"}"#.into(),
            );
        }
        None => None,
    };
    let query = req.uri().query().unwrap_or("");
    let mut access = Vec::new();
    for (key, value) in form_pairs(query) {
        if key != "scope" {
            continue;
        }
        // repository:<name>:<actions>; anonymous users get nothing.
        let mut parts = value.splitn(3, ':');
        let (Some(kind), Some(name), Some(actions)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if user.is_some() {
            let actions: Vec<&str> = actions.split(',').collect();
            access.push(json!({"type": kind, "name": name, "actions": actions}));
        }
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let n = state.issued.fetch_add(1, Ordering::Relaxed);
    let claims = json!({
        "iss": ISSUER,
        "sub": user.clone().unwrap_or_default(),
        "aud": SERVICE,
        "exp": now + LIFETIME,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("token-{n}-{now}"),
        "access": access,
    });
    let header = json!({
        "typ": "JWT",
        "alg": "ES256",
        "x5c": [STANDARD.encode(&state.certificate_der)],
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = state
        .key
        .sign(&SystemRandom::new(), input.as_bytes())
        .expect("signing");
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()));
    state.tokens.lock().unwrap().push(token.clone());
    reply(
        StatusCode::OK,
        json!({"token": token, "access_token": token, "expires_in": LIFETIME}).to_string(),
    )
}

fn basic_user(req: &Request<Incoming>) -> Option<(String, String)> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// `a=b&c=d`, percent-decoded.
fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((decode(k), decode(v)))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
