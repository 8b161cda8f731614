//! HTTP probes: one request over HTTP/1.1 or HTTPS with a timeout, through the
//! workspace's client ([`shared::http::client`]: the compiled-in roots plus
//! `AWS_CA_BUNDLE`); the status, a body text or a JSON value, and a latency budget
//! decide. The URL is shown without credentials or query values, everywhere: error
//! texts are built from the error's causes, never from the URL.

use crate::config::ProbeCheck;
use crate::decide::{CheckReading, Reading};
use std::error::Error as _;
use std::time::Duration;
use tokio::time::Instant;

/// The most of a body a probe reads.
const MAX_BODY: usize = 64 * 1024;
const DEFAULT_TIMEOUT_MS: u64 = 2000;

/// What one probe request got.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeOutcome {
    Answered {
        status: u16,
        body: String,
        elapsed_ms: u64,
    },
    TimedOut {
        after_ms: u64,
    },
    Unreachable(String),
}

/// A probe URL the gate can send: `http://` or `https://` with a host. The problem
/// names the URL without its credentials or query values.
pub fn parse_url(url: &str) -> Result<reqwest::Url, String> {
    let shown = redact(url);
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("{shown} is not a valid URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "{shown} is not an http:// or https:// URL; probes speak HTTP (probe the test listener or the task)"
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{shown} has no host"));
    }
    Ok(parsed)
}

/// `http://user:pw@host:8080/health?token=x` -> `http://host:8080/health?token=***`.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let path = match path.split_once('?') {
        Some((p, query)) => {
            let masked: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) => format!("{k}=***"),
                    None => kv.to_owned(),
                })
                .collect();
            format!("{p}?{}", masked.join("&"))
        }
        None => path.to_owned(),
    };
    if scheme.is_empty() {
        format!("{host}{path}")
    } else {
        format!("{scheme}://{host}{path}")
    }
}

/// The check's name: `probe:<path>`, without the query.
pub fn name(probe: &ProbeCheck) -> String {
    let rest = probe
        .url
        .split_once("://")
        .map_or(probe.url.as_str(), |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    let path = path.split('?').next().unwrap_or("/");
    format!("probe:{path}")
}

/// The verdict of one probe.
pub fn judge(probe: &ProbeCheck, outcome: &ProbeOutcome) -> Reading {
    let method = probe.method.as_deref().unwrap_or("GET");
    let path = name(probe)["probe:".len()..].to_owned();
    let want = probe.status.unwrap_or(200);
    match outcome {
        ProbeOutcome::TimedOut { after_ms } => {
            Reading::Fail(format!("{method} {path} timed out after {after_ms} ms"))
        }
        ProbeOutcome::Unreachable(why) => {
            Reading::Fail(format!("{method} {path} unreachable: {why}"))
        }
        ProbeOutcome::Answered {
            status,
            body,
            elapsed_ms,
        } => {
            let seen = format!("{method} {path} {status} in {elapsed_ms} ms");
            if *status != want {
                return Reading::Fail(format!("{seen}, expected {want}"));
            }
            if let Some(text) = &probe.body_contains
                && !body.contains(text.as_str())
            {
                return Reading::Fail(format!("{seen}, body lacks {text:?}"));
            }
            if let Some(pointer) = &probe.json_pointer {
                let found = serde_json::from_str::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| v.pointer(pointer).cloned());
                match (&found, &probe.json_equals) {
                    (None, _) => {
                        return Reading::Fail(format!("{seen}, no JSON value at {pointer}"));
                    }
                    (Some(v), Some(want)) if v != want => {
                        return Reading::Fail(format!("{seen}, {pointer} is {v}, expected {want}"));
                    }
                    _ => {}
                }
            }
            if let Some(budget) = probe.latency_budget
                && *elapsed_ms > budget.0
            {
                return Reading::Fail(format!("{seen}, over the {} ms budget", budget.0));
            }
            Reading::Pass(seen)
        }
    }
}

/// Sends the probe and judges it.
pub async fn check(probe: &ProbeCheck) -> CheckReading {
    let timeout = probe.timeout.map_or(DEFAULT_TIMEOUT_MS, |t| t.0);
    let outcome = send(probe, Duration::from_millis(timeout)).await;
    CheckReading::new(name(probe), judge(probe, &outcome)).dry_run(probe.dry_run)
}

async fn send(probe: &ProbeCheck, timeout: Duration) -> ProbeOutcome {
    let started = Instant::now();
    match tokio::time::timeout(timeout, request(probe)).await {
        Ok(Ok((status, body))) => ProbeOutcome::Answered {
            status,
            body,
            elapsed_ms: started.elapsed().as_millis() as u64,
        },
        Ok(Err(why)) => ProbeOutcome::Unreachable(why),
        Err(_) => ProbeOutcome::TimedOut {
            after_ms: timeout.as_millis() as u64,
        },
    }
}

/// One request; the body is read up to [`MAX_BODY`]. URL credentials become basic auth.
async fn request(probe: &ProbeCheck) -> Result<(u16, String), String> {
    let url = parse_url(&probe.url)?;
    let client = shared::http::probe_client().map_err(|e| e.to_string())?;
    let method = probe.method.as_deref().unwrap_or("GET");
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| format!("`{method}` is not an HTTP method"))?;
    let mut response = client
        .request(method, url)
        .send()
        .await
        .map_err(|e| explain(&e))?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while body.len() < MAX_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return Err(explain(&e)),
        }
    }
    body.truncate(MAX_BODY);
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Why a request failed, from its innermost cause (never the URL): `connection refused`,
/// `TLS: invalid peer certificate: UnknownIssuer (...)`.
fn explain(e: &reqwest::Error) -> String {
    let mut root = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        root = s.to_string();
        source = s.source();
    }
    let root = root
        .split(" (os error")
        .next()
        .unwrap_or_default()
        .to_owned();
    let lower = root.to_lowercase();
    let tls = ["certificate", "tls", "handshake"]
        .iter()
        .any(|w| lower.contains(w));
    if tls && root.contains("UnknownIssuer") {
        format!(
            "TLS: {root} (the server's certificate is not trusted: add its CA to AWS_CA_BUNDLE, or probe over http://)"
        )
    } else if tls && root.contains("NotValidForName") {
        format!("TLS: {root} (the certificate is not for this host name: probe a name it names)")
    } else if tls {
        format!("TLS: {root}")
    } else if e.is_redirect() {
        format!("too many redirects ({root})")
    } else {
        root
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn probe(extra: serde_json::Value) -> ProbeCheck {
        let mut v = json!({"url": "http://user:pw@10.0.0.5:8080/health?token=s3cret"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    fn answered(status: u16, body: &str, ms: u64) -> ProbeOutcome {
        ProbeOutcome::Answered {
            status,
            body: body.into(),
            elapsed_ms: ms,
        }
    }

    #[test]
    fn urls_never_show_credentials_or_query_values() {
        assert_eq!(
            redact("http://user:pw@h:80/a?token=x&b"),
            "http://h:80/a?token=***&b"
        );
        assert_eq!(redact("http://h/a"), "http://h/a");
        assert_eq!(redact("http://h?x=1"), "http://h?x=***");
        assert_eq!(
            redact("https://u:p@h:8443/ready?sig=abc"),
            "https://h:8443/ready?sig=***"
        );
        assert_eq!(name(&probe(json!({}))), "probe:/health");
    }

    #[test]
    fn judged_by_status_body_json_and_latency() {
        let cases = [
            (
                json!({}),
                answered(200, "ok", 35),
                "passed",
                "GET /health 200 in 35 ms",
            ),
            (json!({}), answered(503, "", 5), "failed", "expected 200"),
            (
                json!({"status": 204}),
                answered(204, "", 5),
                "passed",
                "204",
            ),
            (
                json!({"bodyContains": "UP"}),
                answered(200, "DOWN", 5),
                "failed",
                "body lacks \"UP\"",
            ),
            (
                json!({"jsonPointer": "/status", "jsonEquals": "UP"}),
                answered(200, r#"{"status":"UP"}"#, 5),
                "passed",
                "",
            ),
            (
                json!({"jsonPointer": "/status", "jsonEquals": "UP"}),
                answered(200, r#"{"status":"DOWN"}"#, 5),
                "failed",
                "/status is \"DOWN\"",
            ),
            (
                json!({"jsonPointer": "/status"}),
                answered(200, "not json", 5),
                "failed",
                "no JSON value",
            ),
            (
                json!({"latencyBudget": "100ms"}),
                answered(200, "", 150),
                "failed",
                "over the 100 ms budget",
            ),
            (
                json!({}),
                ProbeOutcome::TimedOut { after_ms: 2000 },
                "failed",
                "timed out after 2000 ms",
            ),
            (
                json!({}),
                ProbeOutcome::Unreachable("connection refused".into()),
                "failed",
                "unreachable",
            ),
        ];
        for (extra, outcome, word, text) in cases {
            let r = judge(&probe(extra.clone()), &outcome);
            assert_eq!(r.word(), word, "{extra} {r:?}");
            assert!(r.detail().contains(text), "{r:?}");
            assert!(
                !r.detail().contains("s3cret") && !r.detail().contains("pw"),
                "{r:?}"
            );
        }
    }
}
