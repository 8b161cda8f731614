//! Logs through `tracing`: JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`, level from
//! `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default INFO). Every line passes through a
//! scrubber that removes registered secrets and any `secretAccessKey`/`sessionToken`
//! value, so artifact credentials never reach a log, whatever a library logs at TRACE.

use std::io::{self, Write};
use std::sync::RwLock;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

const MASK: &str = "***";

/// Installs the global subscriber. Safe to call more than once.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let filter =
        EnvFilter::try_new(level.to_lowercase()).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Scrubbed)
        .with_ansi(false)
        .with_target(true);
    let result = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .try_init()
    } else {
        builder.without_time().try_init()
    };
    let _ = result;
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

/// Registers the artifact credentials found in a raw job payload, before it is parsed.
/// They replace the previous job's: a Lambda sandbox runs one invocation at a time.
pub fn register_job_secrets(payload: &serde_json::Value) {
    let creds = &payload["CodePipeline.job"]["data"]["artifactCredentials"];
    let values = ["secretAccessKey", "sessionToken", "accessKeyId"]
        .iter()
        .filter_map(|k| creds.get(*k).and_then(|v| v.as_str()));
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    secrets.clear();
    drop(secrets);
    register_secrets(values);
}

/// Removes secrets from one formatted log line.
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
    for key in [
        "secretAccessKey",
        "sessionToken",
        "SecretAccessKey",
        "SessionToken",
        "x-amz-security-token",
    ] {
        out = mask_values_after(&out, key);
    }
    out
}

/// Masks the value that follows `key` in `key": "value"`, `key=value` or `key:value` forms.
fn mask_values_after(line: &str, key: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(pos) = rest.find(key) {
        let after_key = pos + key.len();
        out.push_str(&rest[..after_key]);
        rest = &rest[after_key..];
        // Skip quotes, escapes, separators and spaces up to the value.
        let sep_len = rest
            .char_indices()
            .find(|(_, c)| !matches!(c, '"' | '\\' | ':' | '=' | ' ' | '\''))
            .map_or(rest.len(), |(i, _)| i);
        out.push_str(&rest[..sep_len]);
        rest = &rest[sep_len..];
        let value_len = rest
            .char_indices()
            .find(|(_, c)| matches!(c, '"' | '\\' | ',' | '}' | ' ' | '\'' | '\n' | ';' | '&'))
            .map_or(rest.len(), |(i, _)| i);
        if value_len > 0 {
            out.push_str(MASK);
        }
        rest = &rest[value_len..];
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
    fn short_values_are_not_registered() {
        register_secrets(["abc"]);
        assert_eq!(scrub("abc"), "abc");
    }
}
