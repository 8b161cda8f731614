//! Rate limits (`429 Too Many Requests`): wait when the registry says the limit resets
//! soon and the deadline allows it, otherwise give up and say when it resets.
//!
//! Registries say when in `Retry-After` (seconds or an HTTP date) or `RateLimit-Reset`
//! (seconds from now; a value that looks like a Unix time is read as one). Docker Hub
//! also sends `RateLimit-Remaining: 0;w=21600` (a six-hour window) without a reset.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest wait for a limit to reset.
pub const MAX_WAIT: Duration = Duration::from_secs(20);
/// Time kept after a wait for the request itself and what follows it.
pub const MARGIN: Duration = Duration::from_secs(3);
/// The wait when a 429 says nothing about when to come back (once).
pub const UNKNOWN_WAIT: Duration = Duration::from_secs(1);

/// What a 429 response said.
#[derive(Debug, Default, Clone, Copy)]
pub struct LimitHeaders<'a> {
    pub retry_after: Option<&'a str>,
    pub reset: Option<&'a str>,
    pub remaining: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Wait(Duration),
    /// Too far away (or unknown after a wait already): when it resets, when known.
    GiveUp {
        reset_at: Option<SystemTime>,
    },
}

/// When the limit resets, from the headers, as of `now`.
pub fn reset_at(headers: &LimitHeaders<'_>, now: SystemTime) -> Option<SystemTime> {
    let from_retry_after = headers.retry_after.and_then(|v| {
        let v = v.trim();
        match v.parse::<u64>() {
            Ok(secs) => Some(now + Duration::from_secs(secs)),
            Err(_) => httpdate::parse_http_date(v).ok(),
        }
    });
    let from_reset = headers.reset.and_then(|v| {
        // `RateLimit-Reset: 30` or with parameters (`30;w=60`).
        let secs: u64 = v.split(';').next()?.trim().parse().ok()?;
        Some(if secs > 1_000_000_000 {
            UNIX_EPOCH + Duration::from_secs(secs)
        } else {
            now + Duration::from_secs(secs)
        })
    });
    from_retry_after.into_iter().chain(from_reset).max()
}

/// Whether to wait for the limit: only when it resets within [`MAX_WAIT`] and before
/// `time_left` (less [`MARGIN`]). `waited` says whether this request already waited.
pub fn decide(
    headers: &LimitHeaders<'_>,
    now: SystemTime,
    time_left: Duration,
    waited: bool,
) -> Decision {
    let fits = |wait: Duration| wait <= MAX_WAIT && wait + MARGIN <= time_left;
    match reset_at(headers, now) {
        Some(at) => {
            let wait = at.duration_since(now).unwrap_or_default();
            if fits(wait) && !(waited && wait.is_zero()) {
                Decision::Wait(wait.max(Duration::from_millis(100)))
            } else {
                Decision::GiveUp { reset_at: Some(at) }
            }
        }
        None if !waited && fits(UNKNOWN_WAIT) => Decision::Wait(UNKNOWN_WAIT),
        None => Decision::GiveUp { reset_at: None },
    }
}

/// `2026-11-29 21:40:00 UTC`.
pub fn format_time(at: SystemTime) -> String {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => format!("{secs} (Unix time)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_only_when_short_and_before_the_deadline() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let s = Duration::from_secs;
        let h = |retry_after, reset| LimitHeaders {
            retry_after,
            reset,
            remaining: Some("0"),
        };
        // (case, headers, time left, waited already, decision)
        let rows = [
            (
                "short Retry-After",
                h(Some("5"), None),
                s(60),
                false,
                Decision::Wait(s(5)),
            ),
            (
                "short RateLimit-Reset",
                h(None, Some("2;w=60")),
                s(60),
                false,
                Decision::Wait(s(2)),
            ),
            (
                "reset beyond MAX_WAIT",
                h(None, Some("3600")),
                s(600),
                false,
                Decision::GiveUp {
                    reset_at: Some(now + s(3600)),
                },
            ),
            (
                "short, but the deadline is nearer",
                h(Some("10"), None),
                s(12),
                false,
                Decision::GiveUp {
                    reset_at: Some(now + s(10)),
                },
            ),
            (
                "Unix-time reset",
                h(None, Some("1800000004")),
                s(60),
                false,
                Decision::Wait(s(4)),
            ),
            (
                "HTTP date",
                h(Some("Fri, 15 Jan 2027 09:00:00 GMT"), None),
                s(60),
                false,
                Decision::GiveUp {
                    reset_at: Some(
                        httpdate::parse_http_date("Fri, 15 Jan 2027 09:00:00 GMT").unwrap(),
                    ),
                },
            ),
            (
                "nothing said: one short wait",
                h(None, None),
                s(60),
                false,
                Decision::Wait(UNKNOWN_WAIT),
            ),
            (
                "nothing said, twice",
                h(None, None),
                s(60),
                true,
                Decision::GiveUp { reset_at: None },
            ),
        ];
        for (case, headers, left, waited, want) in rows {
            assert_eq!(decide(&headers, now, left, waited), want, "{case}");
        }
    }

    #[test]
    fn formats_in_utc() {
        assert_eq!(
            format_time(UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
            "2027-01-15 08:00:00 UTC"
        );
    }
}
