use super::*;
use crate::registry::OCI_MANIFEST;

const SUBJECT: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn referrer(artifact_type: Option<&str>, config_type: &str) -> Vec<u8> {
    let mut m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": config_type, "digest": SUBJECT, "size": 2},
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": SUBJECT, "size": 10},
        "annotations": {"org.opencontainers.image.created": "2026-12-01T00:00:00Z"},
    });
    if let Some(t) = artifact_type {
        m["artifactType"] = t.into();
    }
    serde_json::to_vec(&m).unwrap()
}

#[test]
fn classifies_by_artifact_type_else_config_media_type() {
    let bundle = "application/vnd.dev.sigstore.bundle.v0.3+json";
    let empty = "application/vnd.oci.empty.v1+json";
    assert_eq!(
        classify(&referrer(Some(bundle), empty)).as_deref(),
        Some(bundle)
    );
    let spdx = "application/spdx+json";
    assert_eq!(classify(&referrer(None, spdx)).as_deref(), Some(spdx));
    assert_eq!(classify(&referrer(Some(""), spdx)).as_deref(), Some(spdx));
    assert_eq!(classify(b"not json"), None);
}

#[test]
fn describes_a_referrer_as_an_index_lists_it() {
    let bytes = referrer(
        Some("application/example"),
        "application/vnd.oci.empty.v1+json",
    );
    let d = describe("sha256:ab", OCI_MANIFEST, &bytes);
    assert_eq!(d.size, bytes.len() as u64);
    assert_eq!(d.artifact_type.as_deref(), Some("application/example"));
    assert_eq!(d.annotations.len(), 1);
    assert_eq!(subject_of(&bytes).as_deref(), Some(SUBJECT));
    assert_eq!(subject_of(br#"{"layers": []}"#), None);
}

#[test]
fn tag_schema_and_legacy_tags() {
    let hex = "1".repeat(64);
    assert_eq!(tag_schema_tag(SUBJECT), Some(format!("sha256-{hex}")));
    assert_eq!(tag_schema_tag("latest"), None);
    assert_eq!(tag_schema_tag("sha256:xyz"), None);
    assert_eq!(
        legacy_tags(SUBJECT),
        [
            format!("sha256-{hex}.sig"),
            format!("sha256-{hex}.att"),
            format!("sha256-{hex}.sbom")
        ]
    );
}

#[test]
fn an_index_is_read_merged_without_duplicates_and_written() {
    let d = describe("sha256:aa", OCI_MANIFEST, &referrer(None, "application/x"));
    let bytes = index_bytes(std::slice::from_ref(&d));
    let entries = parse_index(OCI_INDEX, &bytes).unwrap();
    assert_eq!(entries, std::slice::from_ref(&d));
    assert_eq!(merge(&entries, &d), None, "listed already");
    let other = Descriptor {
        digest: "sha256:bb".into(),
        ..d.clone()
    };
    assert_eq!(merge(&entries, &other).unwrap(), [d, other]);
    assert_eq!(parse_index(OCI_INDEX, &index_bytes(&[])).unwrap(), []);
}

#[test]
fn anything_but_an_oci_index_is_refused() {
    let image = referrer(None, "application/x");
    assert_eq!(
        parse_index(OCI_MANIFEST, &image),
        Err(NotAnIndex::MediaType(OCI_MANIFEST.into()))
    );
    let docker_list = br#"{"mediaType": "application/vnd.docker.distribution.manifest.list.v2+json", "manifests": []}"#;
    assert!(matches!(
        parse_index(OCI_INDEX, docker_list),
        Err(NotAnIndex::MediaType(_))
    ));
    assert!(matches!(
        parse_index(OCI_INDEX, b"{\"layers\": []}"),
        Err(NotAnIndex::Shape(_))
    ));
}

#[test]
fn a_listing_beyond_the_bound_is_an_error_that_says_how_many() {
    assert!(bounded(SUBJECT, MAX_REFERRERS, "r").is_ok());
    let e = bounded(SUBJECT, 10_000, "127.0.0.1:5000/web").unwrap_err();
    assert!(e.to_string().contains("lists 10000 referrers"), "{e}");
    assert_eq!(
        crate::Failure::failure_type(&e),
        crate::FailureType::JobFailed
    );
    assert_eq!(e.kind(), crate::error_type::REFERRERS_TOO_MANY);
}
