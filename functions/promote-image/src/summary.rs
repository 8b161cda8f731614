//! The execution summary shown in the CodePipeline console (at most 2,048 characters).

use shared::text::truncate;

use crate::referrers::{self, ReferrerStats};
use crate::scan::GateReport;
use crate::tags::TagPlan;
use shared::image::short_digest;

pub use shared::report::MAX_SUMMARY;

/// What a cross-repository promotion copied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyStats {
    pub blobs_checked: usize,
    pub blobs_copied: usize,
    /// Of the blobs copied, those mounted from the source repository (no bytes moved).
    pub blobs_mounted: usize,
    pub bytes_copied: u64,
    /// Child manifests put into the target (for an index).
    pub manifests_put: usize,
}

pub struct Promotion<'a> {
    /// The source as named: `web:sha-1a2b3c`.
    pub source: &'a str,
    pub digest: &'a str,
    /// "Docker v2 manifest", "OCI image index, 2 platforms + 1 attestation".
    pub manifest: &'a str,
    /// The target repository, qualified when it is elsewhere: `222233334444/eu-west-1/web`.
    pub target: &'a str,
    pub tags: &'a [(String, TagPlan)],
    pub gate: Option<&'a GateReport>,
    pub copy: Option<&'a CopyStats>,
    /// The referrers copied with the image, and those already there.
    pub referrers: &'a ReferrerStats,
    /// The signatures that met `verify`'s requirements.
    pub signatures: &'a [shared::verify::Evidence],
}

impl Promotion<'_> {
    /// The job's success: the summary, and the image's digest, pinned URI and the tags it
    /// now has in the target (`tags_now`) as output variables.
    pub fn success(&self, uri: &str, tags_now: &[String]) -> shared::Success {
        shared::Success::new(summary(self))
            .variable("ImageDigest", self.digest)
            .variable("ImageUri", uri)
            .variable("ImageTags", tags_now.join(","))
    }
}

pub fn summary(p: &Promotion<'_>) -> String {
    let head = format!("{} ({}, {})", p.source, short_digest(p.digest), p.manifest);
    let referred = p.referrers.copied.values().sum::<usize>() + p.referrers.legacy.len();
    let mut text = if p.tags.iter().all(|(_, plan)| !plan.writes()) {
        let tags: Vec<String> = p.tags.iter().map(|(t, _)| t.clone()).collect();
        format!(
            "{}{} in {} already on {head}.",
            if referred == 0 { "Nothing to do: " } else { "" },
            tags.join(", "),
            p.target
        )
    } else {
        let tags: Vec<String> = p
            .tags
            .iter()
            .map(|(tag, plan)| match plan {
                TagPlan::Put => format!("{tag} new"),
                TagPlan::Move { from } => format!("{tag} moved from {}", short_digest(from)),
                TagPlan::InPlace => format!("{tag} already in place"),
            })
            .collect();
        format!("Promoted {head} to {}: {}.", p.target, tags.join("; "))
    };
    if let Some(copy) = p.copy {
        text.push_str(&format!(
            " Copied {} of {} blobs ({}{}){}.",
            copy.blobs_copied,
            copy.blobs_checked,
            human_bytes(copy.bytes_copied),
            match copy.blobs_mounted {
                0 => String::new(),
                n => format!(", {n} mounted"),
            },
            match copy.manifests_put {
                0 => String::new(),
                1 => " and 1 child manifest".to_string(),
                n => format!(" and {n} child manifests"),
            }
        ));
    }
    text.push_str(&referrers::summary(p.referrers));
    if !p.signatures.is_empty() {
        let lines: Vec<String> = p.signatures.iter().map(|e| e.text()).collect();
        text.push_str(&format!(" Verified: {}.", lines.join("; ")));
    }
    if let Some(gate) = p.gate {
        text.push(' ');
        text.push_str(&gate.text());
        text.push('.');
    }
    truncate(&text, MAX_SUMMARY)
}

pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::GateLine;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn promotion<'a>(tags: &'a [(String, TagPlan)]) -> Promotion<'a> {
        Promotion {
            source: "web:sha-1a2b3c",
            digest: A,
            manifest: "Docker v2 manifest",
            target: "web",
            tags,
            gate: None,
            copy: None,
            referrers: &NO_REFERRERS,
            signatures: &[],
        }
    }

    static NO_REFERRERS: ReferrerStats = ReferrerStats {
        copied: std::collections::BTreeMap::new(),
        present: 0,
        legacy: Vec::new(),
    };

    #[test]
    fn lists_each_tag_and_what_happened() {
        let tags = vec![
            ("staging".to_string(), TagPlan::Put),
            ("prod".to_string(), TagPlan::Move { from: B.into() }),
            ("v1".to_string(), TagPlan::InPlace),
        ];
        assert_eq!(
            summary(&promotion(&tags)),
            "Promoted web:sha-1a2b3c (sha256:aaaaaaaaaaaa, Docker v2 manifest) to web: staging new; \
             prod moved from sha256:bbbbbbbbbbbb; v1 already in place."
        );
    }

    #[test]
    fn says_nothing_to_do_when_all_in_place() {
        let tags = vec![
            ("staging".to_string(), TagPlan::InPlace),
            ("prod".to_string(), TagPlan::InPlace),
        ];
        assert_eq!(
            summary(&promotion(&tags)),
            "Nothing to do: staging, prod in web already on web:sha-1a2b3c (sha256:aaaaaaaaaaaa, Docker v2 manifest)."
        );
    }

    #[test]
    fn includes_copy_and_gate() {
        let tags = vec![("prod".to_string(), TagPlan::Put)];
        let gate = GateReport {
            lines: vec![GateLine {
                label: "image".into(),
                passed: true,
                detail: "CRITICAL 0/0".into(),
            }],
        };
        let copy = CopyStats {
            blobs_checked: 5,
            blobs_copied: 3,
            blobs_mounted: 0,
            bytes_copied: 3 * 1024 * 1024 + 512 * 1024,
            manifests_put: 2,
        };
        let mut p = promotion(&tags);
        p.gate = Some(&gate);
        p.copy = Some(&copy);
        p.target = "222233334444/eu-west-1/web";
        assert_eq!(
            summary(&p),
            "Promoted web:sha-1a2b3c (sha256:aaaaaaaaaaaa, Docker v2 manifest) to 222233334444/eu-west-1/web: prod new. \
             Copied 3 of 5 blobs (3.5 MiB) and 2 child manifests. Scan gate passed: image: passed (CRITICAL 0/0)."
        );
    }

    #[test]
    fn stays_within_the_console_limit() {
        let tags: Vec<(String, TagPlan)> = (0..200)
            .map(|i| (format!("tag-é-{i:04}"), TagPlan::Put))
            .collect();
        let text = summary(&promotion(&tags));
        assert!(text.ends_with('…'));
        // CodePipeline counts UTF-16 units, not bytes: the `é`s do not cut it shorter.
        assert_eq!(shared::text::len(&text), MAX_SUMMARY);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
