//! Whether each target tag is already in place, needs putting, or needs moving, and
//! the repository's tag-mutability rules.

use std::fmt;

use shared::image::short_digest;

/// A repository's tag mutability, with its exclusion filters (wildcards, `*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mutability {
    Mutable,
    Immutable,
    /// Mutable, except tags matching a filter.
    MutableWithExclusion(Vec<String>),
    /// Immutable, except tags matching a filter.
    ImmutableWithExclusion(Vec<String>),
}

impl Mutability {
    /// From DescribeRepositories' `imageTagMutability`; an unknown mode is treated as
    /// immutable, so tags are never moved on a rule this code does not understand.
    pub fn from_api(mode: &str, filters: Vec<String>) -> Mutability {
        match mode {
            "MUTABLE" => Mutability::Mutable,
            "MUTABLE_WITH_EXCLUSION" => Mutability::MutableWithExclusion(filters),
            "IMMUTABLE_WITH_EXCLUSION" => Mutability::ImmutableWithExclusion(filters),
            _ => Mutability::Immutable,
        }
    }

    pub fn is_immutable(&self, tag: &str) -> bool {
        let matches = |filters: &[String]| filters.iter().any(|f| wildcard_match(f, tag));
        match self {
            Mutability::Mutable => false,
            Mutability::Immutable => true,
            Mutability::MutableWithExclusion(filters) => matches(filters),
            Mutability::ImmutableWithExclusion(filters) => !matches(filters),
        }
    }
}

impl fmt::Display for Mutability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mutability::Mutable => f.write_str("MUTABLE"),
            Mutability::Immutable => f.write_str("IMMUTABLE"),
            Mutability::MutableWithExclusion(x) => {
                write!(f, "MUTABLE_WITH_EXCLUSION [{}]", x.join(", "))
            }
            Mutability::ImmutableWithExclusion(x) => {
                write!(f, "IMMUTABLE_WITH_EXCLUSION [{}]", x.join(", "))
            }
        }
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == text; // split always yields at least one part
    };
    if parts.len() == 1 {
        return pattern == text;
    }
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Where a target tag points before the promotion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Current {
    Absent,
    On(String),
}

/// What to do with one tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TagPlan {
    InPlace,
    Put,
    Move { from: String },
}

impl TagPlan {
    pub fn writes(&self) -> bool {
        !matches!(self, TagPlan::InPlace)
    }
}

/// Why a tag cannot be pointed at the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conflict {
    Immutable { tag: String, current: String },
    MovingForbidden { tag: String, current: String },
}

/// The decision for one tag.
pub fn decide(
    tag: &str,
    current: &Current,
    digest: &str,
    immutable: bool,
    allow_moving: bool,
) -> Result<TagPlan, Conflict> {
    match current {
        Current::Absent => Ok(TagPlan::Put),
        Current::On(on) if on == digest => Ok(TagPlan::InPlace),
        Current::On(on) if immutable => Err(Conflict::Immutable {
            tag: tag.to_string(),
            current: on.clone(),
        }),
        Current::On(on) if !allow_moving => Err(Conflict::MovingForbidden {
            tag: tag.to_string(),
            current: on.clone(),
        }),
        Current::On(on) => Ok(TagPlan::Move { from: on.clone() }),
    }
}

/// Decisions for every tag, or every conflict (so one run reports them all).
pub fn decide_all<'a>(
    tags: impl IntoIterator<Item = (&'a str, &'a Current)>,
    digest: &str,
    mutability: &Mutability,
    allow_moving: bool,
) -> Result<Vec<(String, TagPlan)>, Vec<Conflict>> {
    let mut plans = Vec::new();
    let mut conflicts = Vec::new();
    for (tag, current) in tags {
        match decide(
            tag,
            current,
            digest,
            mutability.is_immutable(tag),
            allow_moving,
        ) {
            Ok(plan) => plans.push((tag.to_string(), plan)),
            Err(conflict) => conflicts.push(conflict),
        }
    }
    if conflicts.is_empty() {
        Ok(plans)
    } else {
        Err(conflicts)
    }
}

/// A plain explanation of the conflicts, with the fix.
pub fn explain(
    conflicts: &[Conflict],
    repository: &str,
    mutability: &Mutability,
    digest: &str,
) -> String {
    let image = short_digest(digest);
    let mut lines = Vec::new();
    for conflict in conflicts {
        lines.push(match conflict {
            Conflict::Immutable { tag, current } => format!(
                "tag `{tag}` in repository {repository} already points at {} and the repository's tags are immutable \
                 ({mutability}), so it cannot move to {image}. Promote under a new tag, or delete the old image's tag \
                 first if replacing it is intended",
                short_digest(current)
            ),
            Conflict::MovingForbidden { tag, current } => format!(
                "tag `{tag}` in repository {repository} points at {}, not {image}, and allowMovingTags is false. \
                 Set \"allowMovingTags\": true to move it, or promote under a new tag",
                short_digest(current)
            ),
        });
    }
    lines.join(". ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn absent_tag_is_put_on_any_repository() {
        for (immutable, allow) in [(false, false), (false, true), (true, false), (true, true)] {
            assert_eq!(
                decide("prod", &Current::Absent, A, immutable, allow),
                Ok(TagPlan::Put)
            );
        }
    }

    #[test]
    fn tag_already_in_place_writes_nothing_even_when_immutable() {
        for (immutable, allow) in [(false, false), (false, true), (true, false), (true, true)] {
            let plan = decide("prod", &Current::On(A.into()), A, immutable, allow).unwrap();
            assert_eq!(plan, TagPlan::InPlace);
            assert!(!plan.writes());
        }
    }

    #[test]
    fn mutable_tag_elsewhere_moves_when_allowed() {
        assert_eq!(
            decide("staging", &Current::On(B.into()), A, false, true),
            Ok(TagPlan::Move { from: B.into() })
        );
    }

    #[test]
    fn mutable_tag_elsewhere_is_refused_when_moving_forbidden() {
        assert_eq!(
            decide("staging", &Current::On(B.into()), A, false, false),
            Err(Conflict::MovingForbidden {
                tag: "staging".into(),
                current: B.into()
            })
        );
    }

    #[test]
    fn immutable_tag_elsewhere_is_refused_even_when_moving_allowed() {
        for allow in [true, false] {
            assert_eq!(
                decide("v1.4.2", &Current::On(B.into()), A, true, allow),
                Err(Conflict::Immutable {
                    tag: "v1.4.2".into(),
                    current: B.into()
                })
            );
        }
    }

    #[test]
    fn mutability_modes_and_exclusions() {
        assert!(!Mutability::Mutable.is_immutable("latest"));
        assert!(Mutability::Immutable.is_immutable("latest"));
        let m = Mutability::MutableWithExclusion(vec!["v*".into()]);
        assert!(m.is_immutable("v1.4.2") && !m.is_immutable("staging"));
        let i = Mutability::ImmutableWithExclusion(vec!["latest".into(), "*-rc*".into()]);
        assert!(
            !i.is_immutable("latest") && !i.is_immutable("1.0-rc2") && i.is_immutable("v1.4.2")
        );
        assert_eq!(Mutability::from_api("MUTABLE", vec![]), Mutability::Mutable);
        assert_eq!(
            Mutability::from_api("IMMUTABLE", vec![]),
            Mutability::Immutable
        );
        assert_eq!(
            Mutability::from_api("MUTABLE_WITH_EXCLUSION", vec!["x".into()]),
            Mutability::MutableWithExclusion(vec!["x".into()])
        );
        assert_eq!(
            Mutability::from_api("IMMUTABLE_WITH_EXCLUSION", vec![]),
            Mutability::ImmutableWithExclusion(vec![])
        );
        assert_eq!(
            Mutability::from_api("SOMETHING_NEW", vec![]),
            Mutability::Immutable,
            "unknown mode fails safe"
        );
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", "") && wildcard_match("*", "anything"));
        assert!(wildcard_match("v*", "v1") && !wildcard_match("v*", "x1"));
        assert!(wildcard_match("*-rc", "1.0-rc") && !wildcard_match("*-rc", "1.0-rc1"));
        assert!(wildcard_match("a*b*c", "aXXbYYc") && wildcard_match("a*b*c", "abc"));
        assert!(!wildcard_match("a*b*c", "acb"));
        assert!(
            !wildcard_match("ab*ba", "aba"),
            "prefix and suffix may not overlap"
        );
        assert!(wildcard_match("prod", "prod") && !wildcard_match("prod", "prod2"));
    }

    #[test]
    fn decide_all_reports_every_conflict() {
        let absent = Current::Absent;
        let here = Current::On(A.into());
        let there = Current::On(B.into());
        let tags = [
            ("new", &absent),
            ("same", &here),
            ("v1", &there),
            ("v2", &there),
        ];
        let conflicts = decide_all(tags, A, &Mutability::Immutable, true).unwrap_err();
        assert_eq!(conflicts.len(), 2);
        let text = explain(&conflicts, "web", &Mutability::Immutable, A);
        assert!(
            text.contains("tag `v1` in repository web already points at sha256:bbbbbbbbbbbb"),
            "{text}"
        );
        assert!(
            text.contains("immutable (IMMUTABLE)")
                && text.contains("cannot move to sha256:aaaaaaaaaaaa"),
            "{text}"
        );
        assert!(text.contains("`v2`") && text.contains("new tag"), "{text}");

        let plans = decide_all(tags, A, &Mutability::Mutable, true).unwrap();
        assert_eq!(
            plans,
            [
                ("new".to_string(), TagPlan::Put),
                ("same".to_string(), TagPlan::InPlace),
                ("v1".to_string(), TagPlan::Move { from: B.into() }),
                ("v2".to_string(), TagPlan::Move { from: B.into() }),
            ]
        );
        let text = explain(
            &decide_all(tags, A, &Mutability::Mutable, false).unwrap_err(),
            "web",
            &Mutability::Mutable,
            A,
        );
        assert!(
            text.contains("allowMovingTags is false") && text.contains("\"allowMovingTags\": true"),
            "{text}"
        );
    }
}
