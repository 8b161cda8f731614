//! The validation of UserParameters, case by case.

use std::collections::BTreeMap;

use super::*;
use crate::date::Date;
use shared::image::{EcrImageRef, Reference};

fn parse(json: &str) -> Result<Route, Problems> {
    let config: Config = serde_json::from_str(json).expect("test JSON parses");
    config.validate()
}

fn problems(json: &str) -> String {
    parse(json).unwrap_err().to_string()
}

/// The JSON paths of the problems found.
fn paths(json: &str) -> Vec<String> {
    parse(json)
        .unwrap_err()
        .into_iter()
        .map(|p| p.path)
        .collect()
}

const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn minimal_tag_source() {
    let s = parse(r#"{"source": {"repository": "web", "tag": "sha-1a2b3c"}, "tags": ["staging"]}"#)
        .unwrap();
    assert_eq!(
        s.source,
        Source::Ecr {
            image: EcrImage::Named(EcrImageRef {
                registry_id: None,
                region: None,
                repository: "web".into(),
                reference: Reference::Tag("sha-1a2b3c".into())
            }),
            role: Role::default(),
            gate: None,
        }
    );
    assert_eq!(s.tags, ["staging"]);
    assert_eq!(s.target, Target::Ecr(EcrTarget::default()));
    assert!(s.allow_moving_tags);
}

#[test]
fn digest_source_with_registry() {
    let s = parse(&format!(
        r#"{{"source": {{"repository": "team/web", "digest": "{D}", "registryId": "111122223333"}}, "tags": ["prod", "v1.4.2", "prod"]}}"#
    ))
    .unwrap();
    let Source::Ecr {
        image: EcrImage::Named(image),
        ..
    } = s.source
    else {
        panic!("image source")
    };
    assert_eq!(image.reference, Reference::Digest(D.into()));
    assert_eq!(image.registry_id.as_deref(), Some("111122223333"));
    assert_eq!(s.tags, ["prod", "v1.4.2"], "duplicates dropped, order kept");
}

#[test]
fn image_uri_source() {
    let s = parse(r#"{"source": {"imageUri": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/web:v1"}, "tags": ["prod"]}"#).unwrap();
    let Source::Ecr {
        image: EcrImage::Named(image),
        ..
    } = s.source
    else {
        panic!("image source")
    };
    assert_eq!(image.region.as_deref(), Some("eu-west-1"));
    let s = parse(r#"{"source": {"imageUri": "nginx:latest"}, "tags": ["prod"]}"#).unwrap();
    let Source::Registry { image, .. } = s.source else {
        panic!("a Docker Hub source")
    };
    assert_eq!(
        (image.host.as_str(), image.repository.as_str()),
        ("registry-1.docker.io", "library/nginx")
    );
    assert!(
        problems(r#"{"source": {"imageUri": "nginx"}, "tags": ["prod"]}"#)
            .contains("names no tag or digest")
    );
}

#[test]
fn registry_sources_and_targets() {
    // (UserParameters, Ok(()) or Err(text in the problems))
    let rows: [(&str, Result<(), &str>); 10] = [
        (
            r#"{"source": {"imageUri": "docker.io/user/app:v1", "credentialsSecret": "hub"}, "tags": ["prod"]}"#,
            Ok(()),
        ),
        (
            r#"{"source": {"registry": "ghcr.io", "repository": "org/app", "tag": "v1"}, "tags": ["prod"],
                "target": {"registry": "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "repository": "app"}}"#,
            Ok(()),
        ),
        (
            r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["v1"],
                "target": {"registry": "docker.io", "repository": "user/web", "credentialsSecret": "hub"}}"#,
            Ok(()),
        ),
        (
            r#"{"source": {"imageUri": "ghcr.io/org/app:v1"}, "tags": ["prod"], "scanGate": {"max": {"HIGH": 0}}}"#,
            Err(
                "UserParameters.scanGate: the scan gate reads ECR's scan results, so it applies to ECR sources only, and the source is in ghcr.io",
            ),
        ),
        (
            r#"{"source": {"repository": "web", "tag": "v1", "credentialsSecret": "hub"}, "tags": ["prod"]}"#,
            Err(
                "UserParameters.source.credentialsSecret: applies to a source in a registry other than ECR",
            ),
        ),
        (
            r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["prod"], "target": {"credentialsSecret": "hub"}}"#,
            Err(
                "UserParameters.target.credentialsSecret: applies to a target in a registry other than ECR",
            ),
        ),
        (
            r#"{"source": {"imageUri": "ghcr.io/org/app:v1"}, "tags": ["prod"], "target": {"roleArn": "arn:aws:iam::222233334444:role/x"}}"#,
            Err("UserParameters.target.roleArn: applies to an ECR target only"),
        ),
        (
            r#"{"source": {"imageUri": "ghcr.io/org/app:v1"}, "tags": ["prod"],
                "target": {"registry": "123456789012.dkr.ecr.eu-west-1.amazonaws.com"}}"#,
            Err("UserParameters.target.repository: is missing"),
        ),
        (
            r#"{"source": {"imageUri": "ghcr.io/org/app:v1"}, "tags": ["prod"], "target": {"registry": "ghcr.io/org"}}"#,
            Err("UserParameters.target.registry: `ghcr.io/org` is not a registry host"),
        ),
        (
            r#"{"source": {"registry": "docker.io", "repository": "app", "tag": "v1", "registryId": "123456789012"}, "tags": ["p"]}"#,
            Err("UserParameters.source.registryId: applies to ECR only"),
        ),
    ];
    for (json, want) in rows {
        match (parse(json), want) {
            (Ok(_), Ok(())) => {}
            (Err(p), Err(text)) => assert!(p.to_string().contains(text), "{json}: {p}"),
            (got, _) => panic!("{json}: {got:?}"),
        }
    }
}

#[test]
fn artifact_source() {
    let s =
        parse(r#"{"source": {"artifact": "BuildOutput", "container": "web"}, "tags": ["prod"]}"#)
            .unwrap();
    assert_eq!(
        s.source,
        Source::Ecr {
            image: EcrImage::Artifact {
                name: "BuildOutput".into(),
                file: None,
                container: Some("web".into())
            },
            role: Role::default(),
            gate: None,
        }
    );
    assert!(
        problems(r#"{"source": {"artifact": "B", "file": "taskdef.json"}, "tags": ["p"]}"#)
            .contains("imageDetail.json or imagedefinitions.json")
    );
    assert!(problems(r#"{"source": {"artifact": "B", "file": "imageDetail.json", "container": "web"}, "tags": ["p"]}"#).contains("UserParameters.source.container: applies"));
}

#[test]
fn source_errors_say_what_to_give() {
    assert!(problems(r#"{"tags": ["prod"]}"#).contains("UserParameters.source: is missing"));
    assert!(
        problems(r#"{"source": {"repository": "web"}, "tags": ["prod"]}"#)
            .contains("source.tag or source.digest is missing")
    );
    assert!(
        problems(r#"{"source": {"tag": "v1"}, "tags": ["prod"]}"#)
            .contains("UserParameters.source.repository: is missing")
    );
    assert!(
        problems(&format!(
            r#"{{"source": {{"repository": "web", "tag": "v1", "digest": "{D}"}}, "tags": ["p"]}}"#
        ))
        .contains("not both")
    );
    assert!(
        problems(
            r#"{"source": {"repository": "web", "tag": "v1", "artifact": "B"}, "tags": ["p"]}"#
        )
        .contains("only one of")
    );
    assert!(
        problems(r#"{"source": {"repository": "Web", "digest": "sha256:xyz"}, "tags": ["p"]}"#)
            .contains("source.digest: `sha256:xyz` is not a digest")
    );
    assert!(
        problems(
            r#"{"source": {"repository": "web", "tag": "v1", "container": "web"}, "tags": ["p"]}"#
        )
        .contains("only with source.artifact")
    );
    assert!(
        problems(
            r#"{"source": {"repository": "web", "tag": "v1", "registryId": "12"}, "tags": ["p"]}"#
        )
        .contains("12-digit")
    );
}

#[test]
fn unresolved_pipeline_variable_is_named() {
    let p =
        problems(r##"{"source": {"repository": "web", "tag": "#{Build.TAG}"}, "tags": ["prod"]}"##);
    assert!(
        p.contains("UserParameters.source.tag: `#{Build.TAG}`") && p.contains("not resolved"),
        "{p}"
    );
    let p = problems(r##"{"source": {"imageUri": "#{Source.ImageURI}"}, "tags": ["prod"]}"##);
    assert!(p.contains("not resolved"), "{p}");
}

#[test]
fn tags_are_required_and_valid() {
    assert!(
        problems(r#"{"source": {"repository": "web", "tag": "v1"}}"#)
            .contains("UserParameters.tags: is missing")
    );
    let p = problems(
        r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["ok", "not ok", ".x"]}"#,
    );
    assert!(p.contains("`not ok`") && p.contains("`.x`"), "{p}");
    assert_eq!(
        paths(r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["ok", "not ok", ".x"]}"#),
        ["UserParameters.tags[1]", "UserParameters.tags[2]"]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let p = problems(
        r#"{"source": {"repository": "web", "tag": "v 1"}, "tags": [], "target": {"region": "mars"}}"#,
    );
    assert!(
        p.starts_with("3 problems: (1) UserParameters.source.tag: "),
        "{p}"
    );
    assert_eq!(
        paths(
            r#"{"source": {"repository": "web", "tag": "v 1"}, "tags": [], "target": {"region": "mars"}}"#
        ),
        [
            "UserParameters.source.tag",
            "UserParameters.tags",
            "UserParameters.target.region"
        ]
    );
}

#[test]
fn target_fields_validated() {
    let s = parse(r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["prod"], "target": {"repository": "web-prod", "registryId": "222233334444", "region": "eu-west-1", "roleArn": "arn:aws:iam::222233334444:role/promote"}, "allowMovingTags": false}"#).unwrap();
    let Target::Ecr(target) = &s.target else {
        panic!("an ECR target")
    };
    assert_eq!(target.repository.as_deref(), Some("web-prod"));
    assert_eq!(
        target.role.arn.as_deref(),
        Some("arn:aws:iam::222233334444:role/promote")
    );
    assert!(!s.allow_moving_tags);
    let p = problems(
        r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["p"], "target": {"repository": "Prod", "registryId": "x", "roleArn": "promote"}}"#,
    );
    assert!(
        p.contains("target.repository")
            && p.contains("target.registryId")
            && p.contains("target.roleArn"),
        "{p}"
    );
}

#[test]
fn unknown_keys_are_rejected() {
    assert!(serde_json::from_str::<Config>(r#"{"tag": "v1"}"#).is_err());
    assert!(serde_json::from_str::<Config>(r#"{"source": {"repo": "web"}}"#).is_err());
    assert!(serde_json::from_str::<Config>(r#"{"scanGate": {"maxCritical": 0}}"#).is_err());
    assert!(serde_json::from_str::<Config>(r#"{"scanGate": {"onNoScan": "ignore"}}"#).is_err());
}

#[test]
fn scan_gate_settings() {
    let s = parse(r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["p"], "scanGate": {"max": {"critical": 0, "HIGH": 3}, "allow": [{"id": "CVE-2024-1234", "until": "2026-12-31"}], "onNoScan": "pass"}}"#).unwrap();
    let Source::Ecr { gate, .. } = s.source else {
        panic!("an ECR source")
    };
    let gate = gate.unwrap();
    assert_eq!(
        gate.max,
        BTreeMap::from([("CRITICAL".to_string(), 0), ("HIGH".to_string(), 3)])
    );
    assert_eq!(
        gate.allow,
        [Allowance {
            id: "CVE-2024-1234".into(),
            until: Date::parse("2026-12-31").unwrap()
        }]
    );
    assert_eq!(gate.unscanned.no_scan, OnUnscanned::Pass);
    assert_eq!(
        gate.unscanned.in_progress,
        OnUnscanned::Fail,
        "fail closed by default"
    );
    assert_eq!(gate.unscanned.expired, OnUnscanned::Fail);
    assert_eq!(gate.unscanned.unsupported, OnUnscanned::Fail);
    assert_eq!(gate.unscanned.failed, OnUnscanned::Fail);
}

#[test]
fn scan_gate_errors() {
    let p = problems(
        r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["p"], "scanGate": {"max": {"SEVERE": 0}, "allow": [{"id": "CVE-1", "until": "next year"}, {"id": " ", "until": "2026-01-01"}]}}"#,
    );
    assert!(
        p.contains("unknown severity `SEVERE`") && p.contains("CRITICAL, HIGH"),
        "{p}"
    );
    assert!(p.contains("`next year` (for `CVE-1`) is not a date"), "{p}");
    assert_eq!(
        paths(
            r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["p"], "scanGate": {"max": {"SEVERE": 0}, "allow": [{"id": "CVE-1", "until": "next year"}, {"id": " ", "until": "2026-01-01"}]}}"#
        ),
        [
            "UserParameters.scanGate.max.SEVERE",
            "UserParameters.scanGate.allow[0].until",
            "UserParameters.scanGate.allow[1].id"
        ]
    );
}

#[test]
fn severities_spelled_twice_are_refused() {
    let p = problems(
        r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["p"], "scanGate": {"max": {"CRITICAL": 0, "critical": 50}}}"#,
    );
    assert!(
        p.contains("UserParameters.scanGate.max.critical: `CRITICAL` and `critical` name the same severity; keep one"),
        "{p}"
    );
    // Exact duplicates never get this far: UserParameters refuses them when it is parsed.
    let e = shared::params::parse_params::<Config>(Some(
        r#"{"scanGate": {"max": {"HIGH": 0, "HIGH": 9}}}"#,
    ))
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("the key `HIGH` twice (at `scanGate.max.HIGH`)"),
        "{e}"
    );
}

#[test]
fn default_config_is_invalid_with_guidance() {
    let p = Config::default().validate().unwrap_err().to_string();
    assert!(
        p.contains("UserParameters.source: is missing") && p.contains(EXAMPLE),
        "{p}"
    );
}

#[test]
fn verify_is_read_with_problems_at_their_paths() {
    let base = r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["prod"], "verify": "#;
    let ok = parse(&format!(
        r#"{base}{{"require": [{{"cosign": {{"keyUri": "s3://trust/cosign.pub"}}}}]}}}}"#
    ))
    .unwrap();
    assert_eq!(ok.verify.map(|r| r.0.len()), Some(1));
    assert!(
        parse(r#"{"source": {"repository": "web", "tag": "v1"}, "tags": ["prod"]}"#)
            .unwrap()
            .verify
            .is_none()
    );
    let bad = paths(&format!(
        r#"{base}{{"require": [{{"cosign": {{}}}}], "extra": 1}}}}"#
    ));
    assert!(
        bad.iter().all(|p| p.starts_with("UserParameters.verify")) && bad.len() >= 2,
        "{bad:?}"
    );
}
