//! The referrer decisions and the summary, from discovery results alone.

use super::*;
use crate::manifest::tests::digest;

fn image(n: u8, bytes: &str) -> Image {
    Image {
        digest: digest(n),
        media_type: Some(shared::registry::OCI_MANIFEST.to_string()),
        bytes: bytes::Bytes::from(bytes.to_string()),
        registry_id: None,
    }
}

fn referrer(n: u8, artifact_type: &str) -> Referrer {
    Referrer {
        subject: digest(1),
        descriptor: Descriptor {
            media_type: shared::registry::OCI_MANIFEST.into(),
            digest: digest(n),
            size: 10,
            artifact_type: Some(artifact_type.into()),
            annotations: Default::default(),
        },
        manifest: image(n, "{}"),
        blobs: Vec::new(),
    }
}

const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const SPDX: &str = "application/spdx+json";

fn found() -> Referrers {
    Referrers {
        found: vec![
            referrer(10, BUNDLE),
            referrer(11, SPDX),
            referrer(12, BUNDLE),
        ],
        in_target: [digest(12)].into_iter().collect(),
        legacy: vec![LegacyTag {
            subject: digest(1),
            tag: "sha256-0101.sig".into(),
            manifest: image(20, "{}"),
            blobs: Vec::new(),
            in_target: Some(digest(21)),
        }],
    }
}

fn digests(list: &[&Referrer]) -> Vec<String> {
    list.iter().map(|r| r.descriptor.digest.clone()).collect()
}

#[test]
fn copies_what_the_target_lacks_of_the_types_selected() {
    let found = found();
    let plan = decide(&found, &ReferrerPolicy::All, &Mutability::Mutable, "web").unwrap();
    assert_eq!(digests(&plan.copy), [digest(10), digest(11)]);
    assert_eq!(digests(&plan.present), [digest(12)]);
    assert_eq!(
        plan.legacy.len(),
        1,
        "a moved signature tag is copied again"
    );

    let only = ReferrerPolicy::Only(vec![SPDX.into()]);
    let plan = decide(&found, &only, &Mutability::Mutable, "web").unwrap();
    assert_eq!(digests(&plan.copy), [digest(11)]);
    assert!(plan.present.is_empty());

    let plan = decide(&found, &ReferrerPolicy::Off, &Mutability::Mutable, "web").unwrap();
    assert!(!plan.writes() && plan.present.is_empty());
}

#[test]
fn a_signature_tag_that_cannot_move_is_refused_before_any_write() {
    let found = found();
    let e = decide(
        &found,
        &ReferrerPolicy::All,
        &Mutability::Immutable,
        "web-prod",
    )
    .unwrap_err();
    assert_eq!(
        shared::Failure::error_type(&e),
        shared::error_type::REFERRER_TAG_IMMUTABLE
    );
    let text = e.to_string();
    assert!(
        text.contains("sha256-0101.sig") && text.contains("immutable"),
        "{text}"
    );

    let mut in_place = found.clone();
    in_place.legacy[0].in_target = Some(digest(20));
    let plan = decide(
        &in_place,
        &ReferrerPolicy::All,
        &Mutability::Immutable,
        "web",
    )
    .unwrap();
    assert!(plan.legacy.is_empty(), "in place: nothing to write");
}

#[test]
fn skips_the_subjects_themselves_and_repeats() {
    let subjects = [digest(1), digest(2)];
    let d = |n: u8| Descriptor {
        media_type: String::new(),
        digest: digest(n),
        size: 0,
        artifact_type: None,
        annotations: Default::default(),
    };
    let listed = vec![vec![d(1), d(10), d(2)], vec![d(10), d(11)]];
    let got: Vec<(String, String)> = candidates(&subjects, listed)
        .into_iter()
        .map(|(s, d)| (s, d.digest))
        .collect();
    assert_eq!(
        got,
        [(digest(1), digest(10)), (digest(2), digest(11))],
        "a subject is never its own referrer, and a referrer is read once"
    );
}

#[test]
fn a_referrer_must_name_the_subject_it_was_listed_for() {
    let manifest = |subject: &str| {
        image(
            30,
            &serde_json::json!({
                "schemaVersion": 2,
                "mediaType": shared::registry::OCI_MANIFEST,
                "artifactType": BUNDLE,
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest(31), "size": 2},
                "layers": [{"mediaType": BUNDLE, "digest": digest(32), "size": 100}],
                "subject": {"mediaType": shared::registry::OCI_MANIFEST, "digest": subject, "size": 9},
            })
            .to_string(),
        )
    };
    let r = referrer_of(digest(1), &manifest(&digest(1))).expect("names its subject");
    assert_eq!(r.descriptor.artifact_type.as_deref(), Some(BUNDLE));
    assert_eq!(r.blobs.len(), 2);
    assert!(
        referrer_of(digest(1), &manifest(&digest(5))).is_none(),
        "another image's"
    );
}

#[test]
fn the_summary_counts_each_type_and_what_was_there() {
    let stats = ReferrerStats {
        copied: [(BUNDLE.to_string(), 2), (SPDX.to_string(), 1)].into(),
        present: 1,
        legacy: vec![format!("sha256-{}.sig", "ab".repeat(32))],
    };
    assert_eq!(
        summary(&stats),
        format!(
            " Referrers: 3 copied (1 {SPDX}, 2 {BUNDLE}); 1 already there. Copied cosign tag \
             sha256-abababababab….sig."
        )
    );
    assert_eq!(summary(&ReferrerStats::default()), "");
    let present = ReferrerStats {
        present: 2,
        ..ReferrerStats::default()
    };
    assert_eq!(summary(&present), " Referrers: 0 copied; 2 already there.");
}

#[test]
fn the_summary_names_three_cosign_tags_and_counts_the_rest() {
    let tags = |n: usize| ReferrerStats {
        legacy: (0..n)
            .map(|i| format!("sha256-{i:02}{}.sig", "0".repeat(62)))
            .collect(),
        ..ReferrerStats::default()
    };
    let label = |i: usize| format!("sha256-{i:02}{}….sig", "0".repeat(10));
    assert_eq!(
        summary(&tags(2)),
        format!(" Copied cosign tags {}, {}.", label(0), label(1))
    );
    assert_eq!(
        summary(&tags(3)),
        format!(
            " Copied cosign tags {}, {}, {}.",
            label(0),
            label(1),
            label(2)
        )
    );
    assert_eq!(
        summary(&tags(41)),
        format!(
            " Copied 41 cosign tags ({}, {}, {} and 38 more).",
            label(0),
            label(1),
            label(2)
        )
    );
}
