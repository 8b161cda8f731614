//! Calendar dates (UTC) for allow-list expiry: `YYYY-MM-DD` only, on the `time` crate.

use std::fmt;

use time::format_description::well_known::Iso8601;

/// A calendar date. Ordering is chronological.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(time::Date);

impl Date {
    /// Builds a date, rejecting impossible ones (2026-02-30).
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        let month = time::Month::try_from(month).ok()?;
        time::Date::from_calendar_date(year, month, day)
            .ok()
            .map(Date)
    }

    /// Parses `YYYY-MM-DD`, exactly: ISO 8601's other date forms (`20260101`,
    /// `2026-W01-1`, `+002026-01-01`) are refused.
    pub fn parse(text: &str) -> Option<Date> {
        let shape = text.len() == 10
            && text.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                _ => b.is_ascii_digit(),
            });
        if !shape {
            return None;
        }
        time::Date::parse(text, &Iso8601::DATE).ok().map(Date)
    }

    /// Today's date in UTC.
    pub fn today() -> Date {
        Date(time::OffsetDateTime::now_utc().date())
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}",
            d.year(),
            u8::from(d.month()),
            d.day()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_dates() {
        for text in ["2026-12-31", "2024-02-29", "2000-02-29", "0001-01-01"] {
            assert_eq!(
                Date::parse(text).map(|d| d.to_string()).as_deref(),
                Some(text)
            );
        }
        assert_eq!(Date::parse("2026-12-31"), Date::new(2026, 12, 31));
    }

    #[test]
    fn rejects_malformed_or_impossible_dates() {
        for bad in [
            "2026-1-01",
            "2026/01/01",
            "2026-13-01",
            "2026-02-29",
            "1900-02-29",
            "",
            "2026-01-0x",
            "+026-01-01",
            "-026-01-01",
            "2026-00-10",
            "2026-04-31",
            "2026-01-01T",
            " 2026-01-01",
            "20260101",
            "2026-W01-1",
            "2026-001",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
        assert_eq!(Date::new(2026, 2, 30), None);
        assert_eq!(Date::new(2026, 13, 1), None);
    }

    #[test]
    fn today_is_a_plausible_date() {
        let today = Date::today();
        assert!(today > Date::parse("2024-01-01").unwrap());
        assert_eq!(Date::parse(&today.to_string()), Some(today));
    }

    #[test]
    fn orders_chronologically() {
        let a = Date::parse("2026-01-31");
        let b = Date::parse("2026-02-01");
        assert!(a < b);
        assert!(Date::parse("2025-12-31") < a);
    }
}
