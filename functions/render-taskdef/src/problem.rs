//! A problem found in the inputs, located by a JSON path, and a list of them.

use std::fmt;

/// One thing wrong, at `path` (`containerDefinitions[1].memory`, `UserParameters.images.api`).
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
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// All the problems found, reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

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
    fn one_problem_is_shown_plainly() {
        let p = Problems(vec![Problem::new("family", "is missing")]);
        assert_eq!(p.to_string(), "family: is missing");
    }

    #[test]
    fn several_problems_are_numbered() {
        let p = Problems(vec![
            Problem::new("a", "x"),
            Problem::new("", "y"),
            Problem::new("b[0]", "z"),
        ]);
        assert_eq!(p.to_string(), "3 problems: (1) a: x; (2) y; (3) b[0]: z");
    }

    #[test]
    fn lists_and_joins() {
        assert_eq!(list(["a", "b"]), "`a`, `b`");
        assert_eq!(list(Vec::<String>::new()), "none");
        assert_eq!(join("", "x"), "x");
        assert_eq!(join("a", "x"), "a.x");
    }
}
