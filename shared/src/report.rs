//! The report CodePipeline receives, built from an outcome within CodePipeline's limits.
//! Plain data and functions; [`crate::runner`] sends it.

use crate::action::{Outcome, Success};
use crate::error::FailureType;
use crate::text::escape_control;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

pub const MAX_SUMMARY: usize = 2048;
pub const MAX_MESSAGE: usize = 5000;
pub const MAX_EXTERNAL_ID: usize = 1500;
pub const MAX_CONTINUATION_TOKEN: usize = 2048;
pub const MAX_OUTPUT_VARIABLES_BYTES: usize = 122_880;

/// What is sent to CodePipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    Success {
        summary: String,
        external_execution_id: Option<String>,
        output_variables: Vec<(String, String)>,
    },
    Continue {
        summary: String,
        continuation_token: String,
        percent_complete: Option<i32>,
    },
    Failure {
        kind: FailureType,
        message: String,
    },
}

impl Report {
    pub fn failure(kind: FailureType, message: impl AsRef<str>) -> Self {
        Self::Failure {
            kind,
            message: nonempty(
                truncate(&escape_control(message.as_ref()), MAX_MESSAGE),
                "failed",
            ),
        }
    }

    pub fn success(s: Success) -> Self {
        let (output_variables, dropped) = fit_variables(s.output_variables);
        let mut summary = s.summary;
        if dropped > 0 {
            summary = format!(
                "{summary} ({dropped} output variables left out: over CodePipeline's {MAX_OUTPUT_VARIABLES_BYTES}-byte limit)"
            );
        }
        Self::Success {
            summary: nonempty(truncate(&escape_control(&summary), MAX_SUMMARY), "done"),
            external_execution_id: s
                .external_execution_id
                .map(|id| truncate(&id, MAX_EXTERNAL_ID))
                .filter(|id| !id.is_empty()),
            output_variables,
        }
    }

    /// The report for an action's result, or a failure when its state cannot be carried.
    pub fn from_outcome<S: Serialize>(outcome: Outcome<S>, state_version: u32) -> Self {
        match outcome {
            Outcome::Success(s) => Self::success(s),
            Outcome::Continue {
                state,
                summary,
                percent_complete,
            } => match encode_token(&state, state_version) {
                Ok(token) => Self::Continue {
                    summary: nonempty(
                        truncate(&escape_control(&summary), MAX_SUMMARY),
                        "in progress",
                    ),
                    continuation_token: token,
                    percent_complete: percent_complete.map(|p| i32::from(p.min(100))),
                },
                Err(e) => Self::failure(FailureType::JobFailed, e.to_string()),
            },
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Self::Success { .. } => "Succeeded",
            Self::Continue { .. } => "InProgress",
            Self::Failure { .. } => "Failed",
        }
    }
}

pub use crate::text::truncate;

fn nonempty(s: String, fallback: &str) -> String {
    if s.trim().is_empty() {
        fallback.to_owned()
    } else {
        s
    }
}

/// Keeps variables in order while they fit CodePipeline's budget (keys plus values, in
/// bytes); returns them and how many were left out. Keys get CodePipeline's character set.
pub fn fit_variables(vars: Vec<(String, String)>) -> (Vec<(String, String)>, usize) {
    let mut used = 0;
    let mut kept = Vec::with_capacity(vars.len());
    let mut dropped = 0;
    for (key, value) in vars {
        let key: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '@' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let size = key.len() + value.len();
        let taken = kept.iter().any(|(k, _): &(String, String)| *k == key);
        if key.is_empty() || taken || used + size > MAX_OUTPUT_VARIABLES_BYTES {
            dropped += 1;
            continue;
        }
        used += size;
        kept.push((key, value));
    }
    (kept, dropped)
}

#[derive(Serialize, Deserialize)]
struct Token<S> {
    v: u32,
    s: S,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error(
        "the action's wait state is {len} characters, over CodePipeline's {MAX_CONTINUATION_TOKEN}-character continuation token limit"
    )]
    TooLong { len: usize },
    #[error("could not encode the action's wait state: {0}")]
    Encode(String),
    #[error(
        "the continuation token is from another version of this action ({0}); retry the stage to start the action afresh"
    )]
    Version(String),
    #[error(
        "the continuation token could not be read ({0}); retry the stage to start the action afresh"
    )]
    Decode(String),
}

/// `{"v":<version>,"s":<state>}`, within the token limit.
pub fn encode_token<S: Serialize>(state: &S, version: u32) -> Result<String, TokenError> {
    let token = serde_json::to_string(&Token {
        v: version,
        s: state,
    })
    .map_err(|e| TokenError::Encode(e.to_string()))?;
    let len = token.chars().count();
    if len > MAX_CONTINUATION_TOKEN {
        return Err(TokenError::TooLong { len });
    }
    Ok(token)
}

pub fn decode_token<S: DeserializeOwned>(token: &str, version: u32) -> Result<S, TokenError> {
    #[derive(Deserialize)]
    struct Head {
        v: u32,
    }
    let head: Head = serde_json::from_str(token).map_err(|e| TokenError::Decode(e.to_string()))?;
    if head.v != version {
        return Err(TokenError::Version(format!(
            "version {}, expected {version}",
            head.v
        )));
    }
    serde_json::from_str::<Token<S>>(token)
        .map(|t| t.s)
        .map_err(|e| TokenError::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        let s = "é".repeat(3000);
        let t = truncate(&s, MAX_SUMMARY);
        assert_eq!(t.chars().count(), MAX_SUMMARY);
        assert!(t.ends_with('…'));
        let emoji = "🚀".repeat(10);
        let t = truncate(&emoji, 5);
        assert_eq!(t, "🚀🚀…");
        assert!(t.encode_utf16().count() <= 5);
    }

    #[test]
    fn success_is_within_limits() {
        let r = Report::success(Success {
            summary: "x".repeat(5000),
            external_execution_id: Some("e".repeat(2000)),
            output_variables: vec![],
        });
        let Report::Success {
            summary,
            external_execution_id,
            ..
        } = r
        else {
            panic!()
        };
        assert_eq!(summary.chars().count(), MAX_SUMMARY);
        assert_eq!(
            external_execution_id.unwrap().chars().count(),
            MAX_EXTERNAL_ID
        );
        assert!(
            matches!(Report::success(Success::new("")), Report::Success { summary, .. } if summary == "done")
        );
    }

    #[test]
    fn failure_message_is_cut_to_5000() {
        let Report::Failure { message, .. } =
            Report::failure(FailureType::JobFailed, "m".repeat(9000))
        else {
            panic!()
        };
        assert_eq!(message.chars().count(), MAX_MESSAGE);
    }

    #[test]
    fn variables_fit_the_budget_and_the_drop_is_said() {
        let big = "v".repeat(50_000);
        let vars = vec![
            ("a".to_owned(), big.clone()),
            ("b".to_owned(), big.clone()),
            ("c".to_owned(), big.clone()),
            ("d".to_owned(), "small".to_owned()),
        ];
        let (kept, dropped) = fit_variables(vars.clone());
        assert_eq!(dropped, 1);
        assert_eq!(kept.len(), 3);
        assert!(
            kept.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
                <= MAX_OUTPUT_VARIABLES_BYTES
        );
        let r = Report::success(Success {
            summary: "ok".into(),
            external_execution_id: None,
            output_variables: vars,
        });
        assert!(
            matches!(r, Report::Success { summary, .. } if summary.contains("1 output variables left out"))
        );
    }

    #[test]
    fn variable_keys_get_codepipelines_charset() {
        let (kept, _) = fit_variables(vec![("app.image uri".into(), "x".into())]);
        assert_eq!(kept[0].0, "app_image_uri");
    }

    #[test]
    fn keys_that_clash_once_cleaned_keep_the_first() {
        let (kept, dropped) =
            fit_variables(vec![("a.b".into(), "1".into()), ("a_b".into(), "2".into())]);
        assert_eq!(kept, vec![("a_b".to_owned(), "1".to_owned())]);
        assert_eq!(dropped, 1);
    }

    #[test]
    fn tokens_round_trip_and_check_version() {
        let t = encode_token(&vec![1, 2, 3], 2).unwrap();
        assert_eq!(decode_token::<Vec<i32>>(&t, 2).unwrap(), vec![1, 2, 3]);
        assert!(matches!(
            decode_token::<Vec<i32>>(&t, 3),
            Err(TokenError::Version(_))
        ));
        assert!(matches!(
            decode_token::<Vec<i32>>("garbage", 1),
            Err(TokenError::Decode(_))
        ));
        assert!(matches!(
            encode_token(&"x".repeat(3000), 1),
            Err(TokenError::TooLong { .. })
        ));
    }

    #[test]
    fn continuation_report_carries_state_and_percent() {
        let r = Report::from_outcome(
            Outcome::Continue {
                state: 7u32,
                summary: "waiting".into(),
                percent_complete: Some(150),
            },
            1,
        );
        assert_eq!(
            r,
            Report::Continue {
                summary: "waiting".into(),
                continuation_token: r#"{"v":1,"s":7}"#.into(),
                percent_complete: Some(100)
            }
        );
    }
}
