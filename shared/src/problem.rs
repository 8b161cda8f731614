//! Problems found in an action's inputs, each located by a JSON path, reported together so
//! that one run names everything to fix.

use std::fmt;

use crate::text::escape_line;

/// One thing wrong, at `path` (`containerDefinitions[1].memory`, `UserParameters.images.api`).
/// Both are shown on one line with control characters escaped: they quote the user's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }

    pub fn with_path(mut self, path: &str) -> Self {
        self.path = path.to_owned();
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = escape_line(&self.message);
        if self.path.is_empty() {
            f.write_str(&message)
        } else {
            write!(f, "{}: {message}", escape_line(&self.path))
        }
    }
}

/// All the problems found, reported together: one plainly, several numbered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem::new(path, message));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Problem> {
        self.0.iter()
    }

    /// `Ok(value)` when nothing was found, else every problem.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl From<Vec<Problem>> for Problems {
    fn from(problems: Vec<Problem>) -> Self {
        Self(problems)
    }
}

impl From<Problem> for Problems {
    fn from(problem: Problem) -> Self {
        Self(vec![problem])
    }
}

impl Extend<Problem> for Problems {
    fn extend<I: IntoIterator<Item = Problem>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl IntoIterator for Problems {
    type Item = Problem;
    type IntoIter = std::vec::IntoIter<Problem>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems:", many.len())?;
                for (i, p) in many.iter().enumerate() {
                    write!(f, " ({}) {p}", i + 1)?;
                    if i + 1 < many.len() {
                        f.write_str(";")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// `a.b`, or `a` alone when the parent path is empty.
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// A human list: `a`, `b` and `c`, each in backticks; `none` when empty.
pub fn list<I, S>(items: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let items: Vec<String> = items
        .into_iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect();
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_one_plainly_and_several_numbered() {
        let cases: [(Vec<Problem>, &str); 3] = [
            (
                vec![Problem::new("family", "is missing")],
                "family: is missing",
            ),
            (vec![Problem::new("", "no path")], "no path"),
            (
                vec![
                    Problem::new("a", "x"),
                    Problem::new("", "y"),
                    Problem::new("b[0]", "z"),
                ],
                "3 problems: (1) a: x; (2) y; (3) b[0]: z",
            ),
        ];
        for (problems, want) in cases {
            assert_eq!(Problems(problems).to_string(), want);
        }
    }

    #[test]
    fn quoted_input_is_escaped() {
        let p = Problem::new("images.\u{1b}[2J", "`web\nFAKE: ok` is not a tag");
        assert_eq!(
            p.to_string(),
            "images.\\u{1b}[2J: `web\\nFAKE: ok` is not a tag"
        );
    }

    #[test]
    fn collects_and_converts() {
        let mut p = Problems::new();
        assert_eq!(p.clone().into_result(1), Ok(1));
        p.push("a", "x");
        p.extend([Problem::new("b", "y")]);
        assert_eq!(p.len(), 2);
        assert_eq!(
            p.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(p.clone().into_result(1).is_err());
        assert_eq!(Problems::from(Problem::new("c", "z")).len(), 1);
    }

    #[test]
    fn lists_and_joins() {
        assert_eq!(list(["a", "b"]), "`a`, `b`");
        assert_eq!(list(Vec::<String>::new()), "none");
        assert_eq!(join("", "x"), "x");
        assert_eq!(join("a", "x"), "a.x");
    }
}
