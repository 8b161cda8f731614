//! Text shown to people: control characters escaped.

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
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
