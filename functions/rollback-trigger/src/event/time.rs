//! Timestamps as alarm payloads write them: RFC 3339 with `Z`, `+00:00` or CloudWatch's
//! `+0000`, and (in AWS's own documentation samples) with stray spaces after the colons.

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

/// Milliseconds since the epoch, or `None` when `text` is not a timestamp.
pub fn parse_millis(text: &str) -> Option<i64> {
    let mut s: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    // `+0000` -> `+00:00`: the offset form RFC 3339 requires.
    let bytes = s.as_bytes();
    if bytes.len() > 5 {
        let tail = &bytes[bytes.len() - 5..];
        if matches!(tail[0], b'+' | b'-') && tail[1..].iter().all(u8::is_ascii_digit) {
            s.insert(s.len() - 2, ':');
        }
    }
    let parsed = DateTime::from_str(&s, Format::DateTimeWithOffset).ok()?;
    millis(&parsed)
}

/// Milliseconds since the epoch of an SDK timestamp.
pub fn millis(t: &DateTime) -> Option<i64> {
    t.to_millis().ok()
}

/// `2026-11-29T12:00:00.000Z` for a log line or a message.
pub fn format_millis(ms: i64) -> String {
    DateTime::from_millis(ms)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_alarm_payloads_use() {
        let want = Some(1_691_152_575_490);
        for text in [
            "2023-08-04T12:36:15.490+0000",
            "2023-08-04T12: 36: 15.490+0000",
            "2023-08-04T12:36:15.490Z",
            "2023-08-04T12:36:15.490+00:00",
            "2023-08-04T14:36:15.490+0200",
        ] {
            assert_eq!(parse_millis(text), want, "{text}");
        }
        assert_eq!(
            parse_millis("2021-11-11T21:29:54Z"),
            Some(1_636_666_194_000)
        );
        for bad in ["", "yesterday", "2023-08-04", "1691152575"] {
            assert_eq!(parse_millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        assert_eq!(format_millis(1_691_152_575_490), "2023-08-04T12:36:15.49Z");
        assert_eq!(
            parse_millis(&format_millis(1_691_152_575_490)),
            Some(1_691_152_575_490)
        );
    }
}
