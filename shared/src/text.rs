//! Text shown to people: lengths as CodePipeline counts them, cuts within its limits, and
//! untrusted text (from artifacts or parameters) with its control characters escaped.

use std::borrow::Cow;

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

/// Untrusted text made safe to show in a message, summary or log line: control
/// characters (ESC, NUL, carriage returns, ...), line and paragraph separators, bidi
/// overrides and byte-order marks become visible escapes (`\n`, `\u001b`), so they can
/// neither restyle a terminal nor forge a line. Everything else is kept as it is.
pub fn escape_control(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
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
    fn escapes_control_characters() {
        let cases = [
            ("plain text, ünïcödé, 🚀", "plain text, ünïcödé, 🚀"),
            ("\u{1b}[31mred", "\\u001b[31mred"),
            ("two\nlines\r\n", "two\\nlines\\r\\n"),
            ("tab\there", "tab\\there"),
            ("nul\0", "nul\\u0000"),
            ("del\u{7f}", "del\\u007f"),
            ("c1\u{9b}", "c1\\u009b"),
            ("line\u{2028}sep", "line\\u2028sep"),
            ("bidi\u{202e}txt", "bidi\\u202etxt"),
            ("isolate\u{2066}", "isolate\\u2066"),
            ("\u{feff}bom", "\\ufeffbom"),
        ];
        for (text, want) in cases {
            assert_eq!(escape_control(text), want, "{text:?}");
        }
        assert!(matches!(escape_control("clean"), Cow::Borrowed(_)));
    }
}
