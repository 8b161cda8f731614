//! One retry and timeout policy for every AWS call, and the retry of ECS's throttling that
//! ECS answers as a client error.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use std::time::Duration;

/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: u32 = 3;

/// Standard retry (exponential backoff with jitter, a retry quota), a few attempts: a
/// Lambda invocation has minutes at most, and a failure reported early beats one reported
/// at the deadline.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(5))
}

/// Connect within 3.1 s (as the SDK); an attempt may take 30 s (an ECR layer part of
/// 10 MiB on a slow link), the whole call with its retries 60 s. A hung connection costs
/// one attempt, not the invocation.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(3100))
        .operation_attempt_timeout(Duration::from_secs(30))
        .operation_timeout(Duration::from_secs(60))
        .build()
}

/// ECS answers some throttling as `ClientException` ("Rate exceeded", "Too many
/// concurrent attempts to create a new revision of the specified family"), which the SDK
/// does not retry. This classifier retries those as throttling.
#[derive(Debug, Default, Clone, Copy)]
pub struct EcsThrottlingClassifier;

impl ClassifyRetry for EcsThrottlingClassifier {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        if !matches!(ctx.output_or_error(), Some(Err(_))) {
            return RetryAction::NoActionIndicated;
        }
        let Some(response) = ctx.response() else {
            return RetryAction::NoActionIndicated;
        };
        let body = response.body().bytes().unwrap_or_default();
        let header = response.headers().get("x-amzn-ErrorType");
        match error_of(header, body) {
            Some((code, message)) if throttling_like(&code, &message) => {
                RetryAction::throttling_error()
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "EcsThrottlingClassifier"
    }
}

/// The error code (namespace and `:` suffix stripped) and message of an awsJson error.
fn error_of(header: Option<&str>, body: &[u8]) -> Option<(String, String)> {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let code = header
        .or_else(|| json.get("__type").and_then(|v| v.as_str()))
        .or_else(|| json.get("code").and_then(|v| v.as_str()))?;
    let code = code.split(':').next().unwrap_or(code);
    let code = code.rsplit('#').next().unwrap_or(code);
    let message = ["message", "Message"]
        .iter()
        .find_map(|k| json.get(k).and_then(|v| v.as_str()))
        .unwrap_or_default();
    Some((code.to_owned(), message.to_owned()))
}

/// Whether an ECS client error is throttling in disguise.
///
/// | code | message | retried |
/// |---|---|---|
/// | `ClientException` | `Rate exceeded` | yes |
/// | `ClientException` | `Too many concurrent attempts to create a new revision ...` | yes |
/// | `ClientException` | `... is being throttled ...` | yes |
/// | `ClientException` | `Unable to describe task definition.` | no |
/// | `InvalidParameterException` | `Rate exceeded` | no |
pub fn throttling_like(code: &str, message: &str) -> bool {
    const PHRASES: &[&str] = &["rate exceeded", "too many concurrent attempts", "throttl"];
    let message = message.to_ascii_lowercase();
    code == "ClientException" && PHRASES.iter().any(|p| message.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_like_table() {
        let cases = [
            ("ClientException", "Rate exceeded", true),
            (
                "ClientException",
                "Too many concurrent attempts to create a new revision of the specified family.",
                true,
            ),
            ("ClientException", "The request is being throttled", true),
            (
                "ClientException",
                "Unable to describe task definition.",
                false,
            ),
            ("InvalidParameterException", "Rate exceeded", false),
            ("ServerException", "Rate exceeded", false),
        ];
        for (code, message, want) in cases {
            assert_eq!(throttling_like(code, message), want, "{code}: {message}");
        }
    }

    #[test]
    fn error_codes_are_read_from_the_header_or_the_body() {
        let body =
            br#"{"__type": "com.amazonaws.ecs#ClientException", "message": "Rate exceeded"}"#;
        assert_eq!(
            error_of(None, body),
            Some(("ClientException".into(), "Rate exceeded".into()))
        );
        assert_eq!(
            error_of(
                Some("ClientException:http://internal"),
                b"{\"Message\": \"m\"}"
            ),
            Some(("ClientException".into(), "m".into()))
        );
        assert_eq!(error_of(None, b"<html>"), None);
    }

    #[test]
    fn the_policy_is_bounded() {
        let r = retry_config();
        assert_eq!(r.max_attempts(), MAX_ATTEMPTS);
        let t = timeout_config();
        assert!(t.operation_timeout() > t.operation_attempt_timeout());
    }
}
