//! The pipeline's decisions, scenario by scenario: what round 1's facts lead to on either
//! kind of side, how partial writes are reported, and how many calls run at once.

use super::*;
use crate::manifest::tests::{digest, docker_manifest, oci_index};
use crate::tags::Mutability;
use shared::Failure;

/// An ECR client that is never called: the decisions are plain functions.
fn ecr_client() -> aws_sdk_ecr::Client {
    aws_sdk_ecr::Client::from_conf(
        aws_sdk_ecr::Config::builder()
            .behavior_version(aws_sdk_ecr::config::BehaviorVersion::latest())
            .region(aws_sdk_ecr::config::Region::new("us-east-1"))
            .build(),
    )
}

#[test]
fn incomplete_index_names_platform_digest_and_fix() {
    let m = manifest::parse(&oci_index(&[(1, "linux/amd64"), (2, "linux/arm64")]), None).unwrap();
    let e =
        incomplete_index("web:v1".into(), "web".into(), &m, &digest(9), &[digest(2)]).to_string();
    assert!(
        e.contains("web:v1 is an OCI image index")
            && e.contains(&format!("linux/arm64 {}", digest(2))),
        "{e}"
    );
    assert!(!e.contains("linux/amd64") && e.contains("buildx"), "{e}");
}

fn request<'a>(
    reference: &'a Reference,
    tags: &'a [String],
    gate: Option<(&'a GatePolicy, Repo<'a>)>,
) -> Request<'a> {
    Request {
        reference,
        origin: None,
        tags,
        allow_moving_tags: false,
        gate,
        today: Date::today(),
        referrers: &ReferrerPolicy::All,
        verify: None,
    }
}

fn ecr_facts(
    body: String,
    scan: Option<(ScanResult, Option<String>)>,
    current: Vec<Option<&str>>,
) -> Facts {
    Facts {
        manifest: manifest::parse(&body, None).unwrap(),
        image: Image {
            digest: digest(9),
            bytes: body.into(),
            media_type: None,
            registry_id: Some("111122223333".into()),
        },
        scan,
        current: current
            .into_iter()
            .map(|d| {
                d.map(|d| TagTarget {
                    digest: d.to_string(),
                    tags: vec![],
                })
            })
            .collect(),
        info: RepoInfo {
            registry_id: Some("111122223333".into()),
            uri: None,
            mutability: crate::tags::Mutability::Mutable,
        },
    }
}

/// An index whose second child claims to be an attestation but runs on linux/arm64.
fn disguised_index() -> String {
    format!(
        r#"{{"mediaType": "{}", "manifests": [
            {{"digest": "{}", "platform": {{"os": "linux", "architecture": "amd64"}}}},
            {{"digest": "{}", "platform": {{"os": "linux", "architecture": "arm64"}},
              "annotations": {{"vnd.docker.reference.type": "attestation-manifest"}}}},
            {{"digest": "{}", "platform": {{"os": "unknown", "architecture": "unknown"}},
              "annotations": {{"vnd.docker.reference.type": "attestation-manifest"}}}}]}}"#,
        manifest::OCI_INDEX,
        digest(1),
        digest(2),
        digest(3)
    )
}

#[test]
fn decides_from_the_facts() {
    let reference = Reference::Tag("v1".into());
    let client = ecr_client();
    let repo = Repo {
        client: &client,
        registry_id: None,
        name: "web",
    };
    let policy = GatePolicy {
        max: Default::default(),
        allow: vec![],
        unscanned: Default::default(),
    };
    let tags = ["new".to_string(), "same".to_string()];
    let single = crate::manifest::tests::docker_manifest(&[1]);
    let only_attestations = oci_index(&[(3, "attestation")]);
    let nine = digest(9);
    let other = digest(8);
    // (case, facts, gate, outcome: Ok(children scanned, children fetched) or Err(error_type))
    type Row<'a> = (&'a str, Facts, bool, Result<(Vec<String>, bool), &'a str>);
    let rows: Vec<Row> = vec![
        (
            "single image, one tag to put",
            ecr_facts(single.clone(), None, vec![None, Some(&nine)]),
            false,
            Ok((vec![], false)),
        ),
        (
            "the source moved between look-up and scan",
            ecr_facts(
                single.clone(),
                Some((ScanResult::NotFound, Some(other.clone()))),
                vec![None, None],
            ),
            true,
            Err("SourceMoved"),
        ),
        (
            "a tag elsewhere may not move",
            ecr_facts(single, None, vec![Some(&other), None]),
            false,
            Err("TagConflict"),
        ),
        (
            "an index without a gate fetches its children only",
            ecr_facts(disguised_index(), None, vec![None, None]),
            false,
            Ok((vec![], true)),
        ),
        (
            "a runnable child annotated as an attestation is scanned",
            ecr_facts(disguised_index(), None, vec![None, None]),
            true,
            Ok((vec![digest(1), digest(2)], true)),
        ),
        (
            "nothing to write: children are not fetched",
            ecr_facts(disguised_index(), None, vec![Some(&nine), Some(&nine)]),
            true,
            Ok((vec![digest(1), digest(2)], false)),
        ),
        (
            "an index of attestations only cannot pass a gate",
            ecr_facts(only_attestations, None, vec![None, None]),
            true,
            Err("ScanGateNothingToScan"),
        ),
    ];
    for (case, facts, gated, want) in rows {
        let req = request(&reference, &tags, gated.then_some((&policy, repo)));
        let got = decide(&facts, &req, true, "web", "web")
            .map(|plan| {
                (
                    plan.scan_children
                        .iter()
                        .map(|c| c.digest.clone())
                        .collect::<Vec<_>>(),
                    plan.fetch_children,
                )
            })
            .map_err(|e| e.error_type());
        assert_eq!(got, want, "{case}");
    }
}

#[test]
fn a_partial_tag_write_names_what_was_written() {
    let failed = || Err(PromoteError::NoRegion);
    type Row<'a> = (
        Vec<(String, Result<Put, PromoteError>)>,
        Result<Vec<&'a str>, &'a str>,
    );
    let rows: Vec<Row> = vec![
        (
            vec![
                ("a".into(), Ok(Put::Written)),
                ("b".into(), Ok(Put::AlreadyExists)),
            ],
            Ok(vec!["a", "b"]),
        ),
        (
            vec![("a".into(), failed()), ("b".into(), failed())],
            Err("ConfigError"),
        ),
        (
            vec![
                ("a".into(), Ok(Put::Written)),
                ("b".into(), failed()),
                ("c".into(), Ok(Put::Written)),
            ],
            Err("TagsPartlyWritten"),
        ),
    ];
    for (results, want) in rows {
        let got = tag_writes(results);
        match (&got, want) {
            (Ok(written), Ok(tags)) => {
                assert_eq!(
                    written.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
                    tags
                )
            }
            (Err(e), Err(name)) => assert_eq!(e.error_type(), name),
            _ => panic!("{got:?}"),
        }
    }
    let e = tag_writes(vec![
        ("staging".to_string(), Ok(Put::Written)),
        ("prod".to_string(), failed()),
    ])
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("Tags written: staging; not written: prod"),
        "{e}"
    );
}

#[tokio::test]
async fn runs_a_few_at_a_time_in_order() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (now, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let jobs: Vec<_> = (0..20)
        .map(|i| {
            let (now, peak) = (&now, &peak);
            async move {
                let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(running, Ordering::SeqCst);
                tokio::task::yield_now().await;
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                i
            }
        })
        .collect();
    let out = bounded(jobs).await;
    assert_eq!(out, (0..20).collect::<Vec<_>>());
    assert_eq!(peak.load(Ordering::SeqCst), CONCURRENCY);
}

fn registry_facts(current: &[Option<&str>], mutability: Mutability) -> Facts {
    let body = docker_manifest(&[1, 2]);
    Facts {
        manifest: manifest::parse(&body, None).unwrap(),
        image: Image {
            digest: digest(9),
            media_type: Some(shared::registry::DOCKER_MANIFEST.to_string()),
            bytes: body.into(),
            registry_id: None,
        },
        scan: None,
        current: current
            .iter()
            .map(|c| {
                c.map(|d| TagTarget {
                    digest: d.to_string(),
                    tags: vec![],
                })
            })
            .collect(),
        info: RepoInfo {
            registry_id: None,
            uri: None,
            mutability,
        },
    }
}

#[test]
fn decides_tags_and_copies_from_the_facts() {
    let tags = ["staging".to_string(), "prod".to_string()];
    let reference = Reference::Tag("sha-1".into());
    let (nine, other) = (digest(9), digest(8));
    let put = |t: &str| (t.to_string(), TagPlan::Put);
    let in_place = |t: &str| (t.to_string(), TagPlan::InPlace);
    // (case, where the tags point, mutability, moving allowed, same repository,
    //  Ok((plans, copy first)) or Err(error_type))
    type Row<'a> = (
        &'a str,
        Vec<Option<&'a str>>,
        Mutability,
        bool,
        bool,
        Result<(Vec<(String, TagPlan)>, bool), &'a str>,
    );
    let rows: Vec<Row> = vec![
        (
            "retag on the same repository: no copy",
            vec![None, None],
            Mutability::Mutable,
            true,
            true,
            Ok((vec![put("staging"), put("prod")], false)),
        ),
        (
            "into another registry: copy first",
            vec![None, Some(&nine)],
            Mutability::Mutable,
            true,
            false,
            Ok((vec![put("staging"), in_place("prod")], true)),
        ),
        (
            "everything in place: no copy, no writes",
            vec![Some(&nine), Some(&nine)],
            Mutability::Mutable,
            true,
            false,
            Ok((vec![in_place("staging"), in_place("prod")], false)),
        ),
        (
            "a tag elsewhere that may not move",
            vec![Some(&other), None],
            Mutability::Mutable,
            false,
            true,
            Err("TagConflict"),
        ),
        (
            "an immutable ECR target tag elsewhere",
            vec![Some(&other), None],
            Mutability::Immutable,
            true,
            false,
            Err("TagConflict"),
        ),
    ];
    for (case, current, mutability, allow, same, want) in rows {
        let req = Request {
            reference: &reference,
            origin: None,
            tags: &tags,
            allow_moving_tags: allow,
            gate: None,
            today: Date::today(),
            referrers: &ReferrerPolicy::All,
            verify: None,
        };
        let facts = registry_facts(&current, mutability);
        let got = decide(&facts, &req, same, "docker.io/acme/web", "target")
            .map(|p| (p.copies(), p.tags))
            .map(|(copies, tags)| (tags, copies))
            .map_err(|e| shared::Failure::error_type(&e));
        assert_eq!(got, want, "{case}");
    }
}
