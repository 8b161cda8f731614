//! POSIX `sh` text from values: every value single-quoted, so that nothing a user or an
//! artifact gave is ever read as shell syntax.

/// `value` as one shell word: `'...'`, with each `'` written as `'\''`.
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// `name=<quoted value>`.
pub fn assign(name: &str, value: &str) -> String {
    format!("{name}={}", quote(value))
}

/// A line that appends words to the positional parameters: `set -- "$@" 'a' 'b'`.
pub fn append_words<S: AsRef<str>>(words: &[S]) -> String {
    let mut line = String::from("set -- \"$@\"");
    for w in words {
        line.push(' ');
        line.push_str(&quote(w.as_ref()));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_table() {
        for (value, quoted) in [
            ("web", "'web'"),
            ("", "''"),
            ("a b", "'a b'"),
            ("it's", r"'it'\''s'"),
            ("$(rm -rf /)", "'$(rm -rf /)'"),
            ("`x` \\ \"y\"", "'`x` \\ \"y\"'"),
            ("line\nbreak", "'line\nbreak'"),
        ] {
            assert_eq!(quote(value), quoted, "{value}");
        }
        assert_eq!(
            append_words(&["--publish", "80:8080/tcp"]),
            "set -- \"$@\" '--publish' '80:8080/tcp'"
        );
    }

    #[test]
    fn quoted_values_come_back_unchanged_through_sh() {
        let values = [
            "plain",
            "it's",
            "$HOME `id` $(id) \\n",
            "a\nb",
            "'",
            "''\"",
            "*",
            "-n",
        ];
        let mut script = String::new();
        for v in values {
            script.push_str(&format!("printf '%s\\0' {}\n", quote(v)));
        }
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("sh");
        let got: Vec<&str> = std::str::from_utf8(&out.stdout)
            .expect("utf8")
            .split_terminator('\0')
            .collect();
        assert_eq!(got, values);
    }
}
