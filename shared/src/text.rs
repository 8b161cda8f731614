//! Text shown to people: lengths as CodePipeline counts them, cuts within its limits, and
//! untrusted text (from artifacts or parameters) with its control characters escaped.

use std::fmt::Write;

/// Escapes control characters (and the bidirectional overrides that reorder what a reader
/// sees) so that text from artifacts or parameters cannot forge log lines, move the cursor
/// or hide itself: `\u{1b}` becomes `\u{1b}` as text. Newlines and tabs are kept.
pub fn escape_control(s: &str) -> String {
    escape(s, |c| matches!(c, '\n' | '\t'))
}

/// As [`escape_control`], but newlines, carriage returns and tabs are escaped too (`\n`),
/// for one log line.
pub fn escape_line(s: &str) -> String {
    escape(s, |_| false)
}

fn escape(s: &str, keep: impl Fn(char) -> bool) -> String {
    if !s.chars().any(|c| needs_escape(c) && !keep(c)) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !needs_escape(c) || keep(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            _ => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// The length CodePipeline checks its limits against: its service counts characters as
/// Java does, in UTF-16 units, so an emoji counts as two.
pub fn len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Cuts `s` to at most `max` units (see [`len`]) on a character boundary, marking the cut
/// with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    if len(s) <= max {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut used = 0;
    for c in s.chars() {
        if used + c.len_utf16() > max.saturating_sub(1) {
            break;
        }
        used += c.len_utf16();
        out.push(c);
    }
    out.push('…');
    out
}

/// Joins `parts` with `sep` within `max` units, dropping whole parts from the end and
/// saying so with `more(n)` (for example `; and 3 more`). A first part too long on its own
/// is cut with [`truncate`].
pub fn join_within(
    parts: &[String],
    sep: &str,
    max: usize,
    more: impl Fn(usize) -> String,
) -> String {
    let mut out = String::new();
    let mut used = 0;
    for (i, part) in parts.iter().enumerate() {
        let sep = if i == 0 { "" } else { sep };
        let rest = if i + 1 == parts.len() {
            0
        } else {
            len(&more(parts.len() - i - 1))
        };
        let needed = len(sep) + len(part);
        if used + needed + rest > max {
            if out.is_empty() {
                return truncate(part, max);
            }
            let tail = more(parts.len() - i);
            if used + len(&tail) <= max {
                out.push_str(&tail);
            }
            return out;
        }
        out.push_str(sep);
        out.push_str(part);
        used += needed;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_utf16_units() {
        let cases = [("", 0), ("abc", 3), ("é", 1), ("🚀", 2), ("a🚀b", 4)];
        for (text, units) in cases {
            assert_eq!(len(text), units, "{text}");
        }
    }

    #[test]
    fn truncates_on_char_boundaries() {
        let cases: [(&str, usize, &str); 7] = [
            ("abc", 3, "abc"),
            ("abcd", 3, "ab…"),
            ("🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀", 5, "🚀🚀…"),
            ("ééééé", 4, "ééé…"),
            ("abc", 0, "…"),
            ("abc", 1, "…"),
            ("", 0, ""),
        ];
        for (text, max, want) in cases {
            assert_eq!(truncate(text, max), want, "{text} {max}");
        }
        let long = "é".repeat(3000);
        let cut = truncate(&long, 2048);
        assert_eq!(len(&cut), 2048);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn joins_whole_parts_within_the_limit() {
        let parts: Vec<String> = ["aaaa", "bbbb", "cccc", "dddd"].map(String::from).to_vec();
        let more = |n: usize| format!("; +{n}");
        let cases: [(usize, &str); 7] = [
            (100, "aaaa; bbbb; cccc; dddd"),
            (22, "aaaa; bbbb; cccc; dddd"),
            (21, "aaaa; bbbb; cccc; +1"),
            (20, "aaaa; bbbb; cccc; +1"),
            (14, "aaaa; bbbb; +2"),
            (13, "aaaa; +3"),
            (3, "aa…"),
        ];
        for (max, want) in cases {
            let got = join_within(&parts, "; ", max, more);
            assert_eq!(got, want, "{max}");
            assert!(len(&got) <= max);
        }
        // Units, not bytes: four two-byte characters fit a limit of four.
        let wide = vec!["éééé".to_owned()];
        assert_eq!(join_within(&wide, "; ", 4, more), "éééé");
    }

    #[test]
    fn control_characters_are_escaped() {
        let cases = [
            ("plain text é ✓", "plain text é ✓", "plain text é ✓"),
            ("a\nb\tc", "a\nb\tc", "a\\nb\\tc"),
            ("\u{1b}[31mred", "\\u{1b}[31mred", "\\u{1b}[31mred"),
            (
                "x\r\nINFO forged",
                "x\\r\nINFO forged",
                "x\\r\\nINFO forged",
            ),
            (
                "\u{7f}\u{85}\u{0}",
                "\\u{7f}\\u{85}\\u{0}",
                "\\u{7f}\\u{85}\\u{0}",
            ),
            ("abc\u{202e}fed", "abc\\u{202e}fed", "abc\\u{202e}fed"),
        ];
        for (input, message, line) in cases {
            assert_eq!(escape_control(input), message, "{input:?}");
            assert_eq!(escape_line(input), line, "{input:?}");
        }
        assert_eq!(escape_line("a\u{2028}b\u{feff}"), "a\\u{2028}b\\u{feff}");
    }
}
