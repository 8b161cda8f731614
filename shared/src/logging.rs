//! Logs through `tracing`: JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`, level from
//! `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default INFO). Every line passes through a
//! scrubber that removes registered secrets and any `secretAccessKey`/`sessionToken`
//! value, so artifact credentials never reach a log, whatever a library logs at TRACE.

use std::io::{self, Write};
use std::sync::RwLock;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

const MASK: &str = "***";

/// Installs the global subscriber. Safe to call more than once.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(Scrubbed)
        .with_ansi(false)
        .with_target(true);
    let registry = tracing_subscriber::registry().with(filter(&level));
    let _ = if json {
        let layer = fmt
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true);
        registry.with(layer).try_init()
    } else {
        registry.with(fmt.without_time()).try_init()
    };
}

/// The level filter of `AWS_LAMBDA_LOG_LEVEL` / `RUST_LOG`: a level (`debug`), or
/// `target=level` directives separated by commas (`info,aws_smithy_runtime=trace`).
/// Lambda's `FATAL` is ERROR; what cannot be read is INFO.
pub fn filter(text: &str) -> Targets {
    let level = |l: &str| match l.trim() {
        "fatal" => Some(LevelFilter::ERROR),
        l => l.parse::<LevelFilter>().ok(),
    };
    let text = text.to_lowercase();
    let mut targets = Targets::new().with_default(LevelFilter::INFO);
    for directive in text.split(',').filter(|d| !d.trim().is_empty()) {
        let parsed = match directive.split_once('=') {
            None => level(directive).map(|l| targets.clone().with_default(l)),
            Some((target, l)) if !target.trim().is_empty() => {
                level(l).map(|l| targets.clone().with_target(target.trim(), l))
            }
            Some(_) => None,
        };
        match parsed {
            Some(t) => targets = t,
            None => return Targets::new().with_default(LevelFilter::INFO),
        }
    }
    targets
}

/// Registers values that must never be written to a log.
pub fn register_secrets<'a>(values: impl IntoIterator<Item = &'a str>) {
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for v in values {
        // Very short values would mask ordinary text; real credentials are long.
        if v.len() >= 8 && !secrets.iter().any(|s| s == v) {
            secrets.push(v.to_owned());
        }
    }
}

/// Registers the secrets an event carries, before it is parsed: a CodePipeline job's
/// artifact credentials, and in any trigger's event the string values of keys that name a
/// secret (`password`, `token`, `secret`, `apiKey`, `authorization`). They replace the
/// previous invocation's: a Lambda sandbox runs one invocation at a time.
pub fn register_event_secrets(payload: &serde_json::Value) {
    let mut found = Vec::new();
    let creds = &payload["CodePipeline.job"]["data"]["artifactCredentials"];
    found.extend(
        ["secretAccessKey", "sessionToken", "accessKeyId"]
            .iter()
            .filter_map(|k| creds.get(*k).and_then(|v| v.as_str())),
    );
    secret_values(payload, 0, &mut found);
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    secrets.clear();
    drop(secrets);
    register_secrets(found);
}

/// The string values under keys that name a secret, to a bounded depth.
fn secret_values<'a>(value: &'a serde_json::Value, depth: usize, out: &mut Vec<&'a str>) {
    const MAX_DEPTH: usize = 16;
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match v.as_str() {
                    Some(s) if names_a_secret(key) => out.push(s),
                    _ => secret_values(v, depth + 1, out),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                secret_values(v, depth + 1, out);
            }
        }
        _ => {}
    }
}

fn names_a_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    !matches!(key.as_str(), "continuationtoken" | "nexttoken")
        && [
            "password",
            "passwd",
            "secret",
            "token",
            "apikey",
            "api_key",
            "authorization",
        ]
        .iter()
        .any(|k| key.contains(k))
}

/// Keys whose value is masked wherever they appear, in any case: credentials, signed URL
/// query parameters, bearer and basic authorization, passwords and OAuth tokens.
const SECRET_KEYS: &[&str] = &[
    "secretaccesskey",
    "sessiontoken",
    "access_key_id",
    "x-amz-security-token",
    "x-amz-signature",
    "x-amz-credential",
    "signature",
    "authorization",
    "password",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
];

/// Removes secrets from one formatted log line, and escapes its control characters (but
/// for the line's own final newline) so that no value can forge another line.
pub fn scrub(line: &str) -> String {
    let mut out = line.to_owned();
    {
        let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
    }
    for key in SECRET_KEYS {
        out = mask_values_after(&out, key);
    }
    out = mask_url_userinfo(&out);
    match out.strip_suffix('\n') {
        Some(body) => format!("{}\n", crate::text::escape_line(body)),
        None => crate::text::escape_line(&out),
    }
}

/// Masks the value that follows `key` (matched in any case) in `key": "value"`,
/// `key=value` or `key: value` forms; `Bearer`/`Basic` schemes are kept, their credentials
/// masked. A key not followed by `:` or `=` is ordinary text and left alone.
fn mask_values_after(line: &str, key: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let mut out = String::with_capacity(line.len());
    let mut at = 0;
    while let Some(found) = lower[at..].find(key) {
        let after_key = at + found + key.len();
        out.push_str(&line[at..after_key]);
        at = after_key;
        let rest = &line[at..];
        let sep_len = rest
            .char_indices()
            .find(|(_, c)| !matches!(c, '"' | '\\' | ':' | '=' | ' ' | '\''))
            .map_or(rest.len(), |(i, _)| i);
        let separator = &rest[..sep_len];
        if !separator.contains([':', '=']) {
            continue;
        }
        out.push_str(separator);
        at += sep_len;
        let lower_rest = &lower[at..];
        for scheme in ["bearer ", "basic ", "aws4-hmac-sha256 "] {
            if lower_rest.starts_with(scheme) {
                out.push_str(&line[at..at + scheme.len()]);
                at += scheme.len();
                break;
            }
        }
        // A debug-formatted option: `Some("value")`, escaped in JSON lines.
        for wrapper in ["Some(\\\"", "Some(\""] {
            if line[at..].starts_with(wrapper) {
                out.push_str(wrapper);
                at += wrapper.len();
                break;
            }
        }
        let rest = &line[at..];
        let value_len = rest
            .char_indices()
            .find(|(_, c)| {
                matches!(
                    c,
                    '"' | '\\' | ',' | '}' | ']' | ')' | ' ' | '\'' | '\n' | ';' | '&' | '<' | '>'
                )
            })
            .map_or(rest.len(), |(i, _)| i);
        if value_len > 0 {
            out.push_str(MASK);
        }
        at += value_len;
    }
    out.push_str(&line[at..]);
    out
}

/// Masks the user information of URLs: `https://user:pass@host` becomes `https://***@host`.
fn mask_url_userinfo(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(pos) = rest.find("://") {
        let start = pos + 3;
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let authority_end = rest
            .find(['/', '?', '#', '"', ' ', '\\', '\n', '\''])
            .unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            out.push_str(MASK);
            rest = &rest[at..];
        }
    }
    out.push_str(rest);
    out
}

/// Standard output, scrubbed. The fmt layer writes each event with one `write_all`.
struct Scrubbed;

impl<'a> MakeWriter<'a> for Scrubbed {
    type Writer = ScrubbedWriter;
    fn make_writer(&'a self) -> Self::Writer {
        ScrubbedWriter
    }
}

struct ScrubbedWriter;

impl Write for ScrubbedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let line = String::from_utf8_lossy(buf);
        io::stdout().lock().write_all(scrub(&line).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_is_a_level_or_target_directives() {
        use tracing::Level;
        let cases = [
            ("INFO", "x", Level::INFO, true),
            ("INFO", "x", Level::DEBUG, false),
            ("TRACE", "aws_smithy_runtime", Level::TRACE, true),
            ("FATAL", "x", Level::ERROR, true),
            ("FATAL", "x", Level::WARN, false),
            (
                "info,aws_smithy_runtime=trace",
                "aws_smithy_runtime::client",
                Level::TRACE,
                true,
            ),
            (
                "info,aws_smithy_runtime=trace",
                "shared",
                Level::TRACE,
                false,
            ),
            ("not a level!", "x", Level::INFO, true),
            ("not a level!", "x", Level::DEBUG, false),
        ];
        for (text, target, level, on) in cases {
            assert_eq!(
                filter(text).would_enable(target, &level),
                on,
                "{text} {target} {level}"
            );
        }
    }

    #[test]
    fn assumed_role_access_key_ids_are_masked() {
        let line = r#"aws_config::sts::assume_role: obtained assumed credentials access_key_id=Some("ASIAEXAMPLE123") expiry=1"#;
        let out = scrub(line);
        assert!(
            !out.contains("ASIAEXAMPLE123") && out.contains("expiry=1"),
            "{out}"
        );
        let json = r#"{"access_key_id":"Some(\"ASIAEXAMPLE123\")","level":"DEBUG"}"#;
        let out = scrub(json);
        assert!(
            !out.contains("ASIAEXAMPLE123") && out.contains("DEBUG"),
            "{out}"
        );
    }

    #[test]
    fn registered_secrets_are_masked() {
        register_secrets(["s3cr3t-value-123"]);
        assert_eq!(scrub("token=s3cr3t-value-123 ok"), "token=*** ok");
    }

    #[test]
    fn credential_fields_are_masked_in_any_form() {
        let line =
            r#"{"secretAccessKey":"abc/def+ghi","sessionToken": "tok==", "accessKeyId":"AK"}"#;
        let s = scrub(line);
        assert!(!s.contains("abc/def+ghi") && !s.contains("tok=="), "{s}");
        assert!(s.contains(r#""accessKeyId":"AK""#));
        let escaped = r#"body: {\"secretAccessKey\":\"zzz\"}"#;
        assert!(!scrub(escaped).contains("zzz"));
        let header = "x-amz-security-token:FQoGZXIvYXdz\nhost:s3";
        assert!(!scrub(header).contains("FQoGZXIvYXdz"));
    }

    #[test]
    fn signed_urls_and_bearer_tokens_are_masked_in_any_case() {
        let url = "GET https://bucket.s3.amazonaws.com/blob?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261129%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261129T000000Z&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEBc&X-Amz-Signature=9f8e7d6c5b4a";
        let lower = url.to_ascii_lowercase();
        for line in [url, lower.as_str()] {
            let s = scrub(line);
            for secret in ["akiaexample", "iqojb3jpz2lux2vjebc", "9f8e7d6c5b4a"] {
                assert!(!s.to_ascii_lowercase().contains(secret), "{s}");
            }
            assert!(
                s.to_ascii_lowercase()
                    .contains("x-amz-date=20261129t000000z"),
                "{s}"
            );
        }
        let cases = [
            (
                "authorization: Bearer eyJhbGciOi.abc.def",
                "authorization: Bearer ***",
            ),
            (
                "{\"Authorization\":\"Basic dXNlcjpwYXNz\"}",
                "{\"Authorization\":\"Basic ***\"}",
            ),
            (
                "token url https://u:p4ss@registry.example.com/v2/",
                "token url https://***@registry.example.com/v2/",
            ),
            ("access_token=abc123&x=1", "access_token=***&x=1"),
            (
                "the request signature we calculated",
                "the request signature we calculated",
            ),
            ("password is required", "password is required"),
        ];
        for (line, want) in cases {
            assert_eq!(scrub(line), want);
        }
    }

    #[test]
    fn control_characters_cannot_forge_a_line() {
        assert_eq!(
            scrub("value=a\nINFO forged\u{1b}[2J\n"),
            "value=a\\nINFO forged\\u{1b}[2J\n"
        );
    }

    #[test]
    fn secrets_come_from_any_trigger() {
        register_event_secrets(&serde_json::json!({
            "lifecycleStage": "POST_SCALE_UP",
            "hookDetails": {"probe": {"headers": {"X-Api-Token": "tok-0123456789"}}}
        }));
        assert_eq!(scrub("sent tok-0123456789"), "sent ***");
        register_event_secrets(&serde_json::json!({"continuationToken": "state-0123456789"}));
        assert_eq!(scrub("state-0123456789"), "state-0123456789");
    }

    #[test]
    fn short_values_are_not_registered() {
        register_secrets(["abc"]);
        assert_eq!(scrub("abc"), "abc");
    }
}
