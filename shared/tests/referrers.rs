//! shared::referrers against the real parts: a distribution registry without the referrers
//! API (the tag schema, learned once per client, behind a recording proxy) and the local
//! ECR's ListImageReferrers, GetDownloadUrlForLayer and BatchGetImage.

use serde_json::json;
use shared::Failure;
use shared::referrers::{self, ReferrerError, Via, describe};
use shared::registry::{Manifest, OCI_MANIFEST, sha256_digest};
use testkit::LocalAws;
use testkit::registry::{AuthMode, Proxy, Registry, push_referrer, referrer_manifest, seed_image};

const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

fn requests(proxy: &Proxy, prefix: &str) -> usize {
    proxy
        .calls_after_auth()
        .iter()
        .filter(|c| c.operation.starts_with(prefix))
        .count()
}

#[tokio::test]
async fn a_registry_without_the_referrers_api_keeps_them_in_the_tag_schema() {
    let registry = Registry::start(AuthMode::Basic).await;
    let proxy = Proxy::start(registry.addr).await;
    let client = shared::registry::Client::new(
        &proxy.host(),
        Some(shared::registry::Credentials::new(
            testkit::registry::USER,
            testkit::registry::PASSWORD,
        )),
    )
    .unwrap();
    let image = seed_image(&client, "team/web", "v1", &[1000], 3, true).await;
    let subject = (
        image.digest.as_str(),
        image.media_type.as_str(),
        image.manifest.len() as u64,
    );
    let payload = b"a sigstore bundle".to_vec();
    let referrer = push_referrer(&client, "team/web", subject, BUNDLE, &payload).await;
    assert_eq!(client.serves_referrers_api(), Some(false));

    proxy.clear();
    let listing = client
        .list_referrers("team/web", &image.digest)
        .await
        .unwrap();
    assert_eq!(listing.via, Via::TagSchema);
    assert_eq!(listing.referrers.len(), 1);
    assert_eq!(listing.referrers[0].digest, referrer.digest);
    assert_eq!(listing.referrers[0].artifact_type.as_deref(), Some(BUNDLE));
    assert_eq!(
        requests(&proxy, "GET /v2/team/web/referrers/"),
        0,
        "the missing API is remembered"
    );

    // Adding it again writes nothing.
    let listed = describe(&referrer.digest, OCI_MANIFEST, &referrer.manifest);
    proxy.clear();
    let added = client
        .add_to_referrers_index("team/web", &image.digest, &[listed])
        .await
        .unwrap();
    assert_eq!(added, 0);
    assert_eq!(requests(&proxy, "PUT "), 0);

    // A small blob, read whole; one larger than its bound, refused.
    let layer = &referrer.blobs[1];
    let bytes = client
        .read_small_blob("team/web", layer, 1 << 20)
        .await
        .unwrap();
    assert_eq!(&bytes[..], &payload[..]);
    let e = client
        .read_small_blob("team/web", layer, 4)
        .await
        .unwrap_err();
    assert!(matches!(e, ReferrerError::BlobTooLarge { .. }), "{e}");
    assert_eq!(e.error_type(), shared::error_type::REFERRER_BLOB_TOO_LARGE);

    // A tag-schema tag holding the image itself is no index: read or merged, refused.
    let other = seed_image(&client, "team/odd", "v1", &[10], 4, true).await;
    let same = Manifest {
        digest: other.digest.clone(),
        media_type: other.media_type.clone(),
        bytes: other.manifest.clone(),
    };
    let tag = referrers::tag_schema_tag(&other.digest).unwrap();
    client.put_manifest("team/odd", &tag, &same).await.unwrap();
    let e = client
        .list_referrers("team/odd", &other.digest)
        .await
        .unwrap_err();
    assert!(matches!(e, ReferrerError::NotAnIndex { .. }), "{e}");
    assert!(e.to_string().contains(&tag), "{e}");
    assert_eq!(e.failure_type(), shared::FailureType::JobFailed);
    let listed = describe(&referrer.digest, OCI_MANIFEST, &referrer.manifest);
    let e = client
        .add_to_referrers_index("team/odd", &other.digest, &[listed])
        .await
        .unwrap_err();
    assert!(matches!(e, ReferrerError::NotAnIndex { .. }), "{e}");
}

/// Stores `bytes` as a blob of `repo` in the local ECR; returns its digest.
async fn ecr_blob(aws: &LocalAws, repo: &str, bytes: &[u8]) -> String {
    let body =
        json!({"repositoryName": repo, "content_b64": aws_smithy_types::base64::encode(bytes)});
    let answer = shared::http::client()
        .unwrap()
        .post(format!("{}/_local/ecr/blobs", aws.endpoint()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("the local AWS answers")
        .bytes()
        .await
        .expect("a body");
    let out: serde_json::Value = serde_json::from_slice(&answer).expect("JSON");
    out["digest"].as_str().expect("a digest").to_owned()
}

#[tokio::test]
async fn ecr_lists_reads_and_serves_small_blobs_of_referrers() {
    let aws = LocalAws::shared();
    let ecr = aws_sdk_ecr::Client::new(&aws.sdk_config().await);
    let repo = "shared-referrers";
    ecr.create_repository()
        .repository_name(repo)
        .send()
        .await
        .unwrap();
    let config = ecr_blob(aws, repo, br#"{"os":"linux"}"#).await;
    let image = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 14},
        "layers": []})
    .to_string();
    let digest = sha256_digest(image.as_bytes());
    let put = |manifest: String, digest: String, tag: Option<&str>| {
        ecr.put_image()
            .repository_name(repo)
            .image_manifest(manifest)
            .image_manifest_media_type(OCI_MANIFEST)
            .image_digest(digest)
            .set_image_tag(tag.map(str::to_owned))
            .send()
    };
    put(image.clone(), digest.clone(), Some("v1"))
        .await
        .unwrap();
    ecr_blob(aws, repo, b"{}").await;
    let payload = b"an sbom".to_vec();
    let layer = ecr_blob(aws, repo, &payload).await;
    let mut referrers_pushed = Vec::new();
    for kind in [BUNDLE, "application/spdx+json"] {
        let bytes = referrer_manifest(
            (&digest, OCI_MANIFEST, image.len() as u64),
            kind,
            (&layer, payload.len() as u64),
        );
        let referrer = sha256_digest(&bytes);
        put(
            String::from_utf8(bytes.to_vec()).unwrap(),
            referrer.clone(),
            None,
        )
        .await
        .unwrap();
        referrers_pushed.push((referrer, bytes));
    }
    let at = referrers::ecr::Repository {
        client: &ecr,
        registry_id: None,
        name: repo,
    };
    let mut listed = referrers::ecr::list(at, &digest, &[]).await.unwrap();
    listed.sort_by(|a, b| a.digest.cmp(&b.digest));
    let mut expected: Vec<String> = referrers_pushed.iter().map(|(d, _)| d.clone()).collect();
    expected.sort();
    assert_eq!(
        listed.iter().map(|d| d.digest.clone()).collect::<Vec<_>>(),
        expected
    );
    let only = referrers::ecr::list(at, &digest, &[BUNDLE.to_string()])
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].artifact_type.as_deref(), Some(BUNDLE));
    assert!(
        referrers::ecr::list(at, &sha256_digest(b"no such image"), &[])
            .await
            .unwrap()
            .is_empty()
    );

    // More than a page (ECR's pages hold at most 50): every page is read.
    let busy = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 14},
        "layers": [], "annotations": {"busy": "yes"}})
    .to_string();
    let busy_digest = sha256_digest(busy.as_bytes());
    put(busy.clone(), busy_digest.clone(), Some("busy"))
        .await
        .unwrap();
    for i in 0..60 {
        let bytes = referrer_manifest(
            (&busy_digest, OCI_MANIFEST, busy.len() as u64),
            &format!("application/vnd.example.{i}+json"),
            (&layer, payload.len() as u64),
        );
        let referrer = sha256_digest(&bytes);
        put(String::from_utf8(bytes.to_vec()).unwrap(), referrer, None)
            .await
            .unwrap();
    }
    assert_eq!(
        referrers::ecr::list(at, &busy_digest, &[])
            .await
            .unwrap()
            .len(),
        60
    );

    let (first, bytes) = &referrers_pushed[0];
    let got = referrers::ecr::get_manifest(at, first)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(got.bytes, *bytes, "byte for byte");
    assert_eq!(
        referrers::subject_of(&got.bytes).as_deref(),
        Some(digest.as_str())
    );

    let blob = referrers::ecr::read_small_blob(at, &layer, 1 << 20)
        .await
        .unwrap();
    assert_eq!(&blob[..], &payload[..]);
    let e = referrers::ecr::read_small_blob(at, &layer, 3)
        .await
        .unwrap_err();
    assert!(matches!(e, ReferrerError::BlobTooLarge { .. }), "{e}");
}

/// A registry that serves the referrers API, reduced to what these calls ask: two pages of
/// referrers (linked by `Link`), and manifest puts answered with `OCI-Subject`. Records the
/// request lines.
async fn referrers_api_registry(
    subject: String,
    pages: [Vec<referrers::Descriptor>; 2],
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (subject, pages, log) = (subject.clone(), pages.clone(), log.clone());
            tokio::spawn(async move {
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n");
                    if let Some(end) = head_end {
                        let head = String::from_utf8_lossy(&raw[..end]).to_string();
                        let length: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if raw.len() >= end + 4 + length {
                            let body = raw[end + 4..end + 4 + length].to_vec();
                            raw.drain(..end + 4 + length);
                            let line = head.lines().next().unwrap_or_default().to_string();
                            log.lock().unwrap().push(line.clone());
                            let path = line
                                .split_whitespace()
                                .nth(1)
                                .unwrap_or_default()
                                .to_string();
                            let (status, headers, out) =
                                if line.starts_with("GET /v2/team/web/referrers/") {
                                    let second = path.ends_with("?last=1");
                                    let page = &pages[usize::from(second)];
                                    let mut headers = vec![(
                                        "content-type".to_string(),
                                        shared::registry::OCI_INDEX.to_string(),
                                    )];
                                    if !second {
                                        headers.push((
                                            "link".into(),
                                            format!("<{}?last=1>; rel=\"next\"", path),
                                        ));
                                    }
                                    ("200 OK", headers, referrers::index_bytes(page).to_vec())
                                } else if line.starts_with("PUT /v2/team/web/manifests/") {
                                    let digest = sha256_digest(&body);
                                    (
                                        "201 Created",
                                        vec![
                                            ("docker-content-digest".into(), digest),
                                            ("oci-subject".into(), subject.clone()),
                                        ],
                                        Vec::new(),
                                    )
                                } else if path == "/v2/" {
                                    ("200 OK", Vec::new(), Vec::new())
                                } else {
                                    ("404 Not Found", Vec::new(), Vec::new())
                                };
                            let mut response =
                                format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", out.len());
                            for (k, v) in headers {
                                response.push_str(&format!("{k}: {v}\r\n"));
                            }
                            response.push_str("\r\n");
                            let mut bytes = response.into_bytes();
                            bytes.extend(out);
                            if stream.write_all(&bytes).await.is_err() {
                                return;
                            }
                            continue;
                        }
                    }
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => raw.extend_from_slice(&buf[..n]),
                    }
                }
            });
        }
    });
    (host, seen)
}

#[tokio::test]
async fn a_registry_with_the_referrers_api_is_asked_every_page_and_indexes_pushes_itself() {
    let subject = sha256_digest(b"the subject");
    let entry = |n: u8| referrers::Descriptor {
        media_type: OCI_MANIFEST.into(),
        digest: sha256_digest(&[n]),
        size: 10,
        artifact_type: Some(BUNDLE.into()),
        annotations: Default::default(),
    };
    let (host, seen) =
        referrers_api_registry(subject.clone(), [vec![entry(1)], vec![entry(2)]]).await;
    let client = shared::registry::Client::new(&host, None).unwrap();
    let listing = client.list_referrers("team/web", &subject).await.unwrap();
    assert_eq!(listing.via, Via::Api);
    assert_eq!(listing.referrers, [entry(1), entry(2)], "both pages");
    assert_eq!(client.serves_referrers_api(), Some(true));

    let bytes = referrer_manifest(
        (&subject, OCI_MANIFEST, 10),
        BUNDLE,
        (&sha256_digest(b"x"), 1),
    );
    let manifest = Manifest {
        digest: sha256_digest(&bytes),
        media_type: OCI_MANIFEST.into(),
        bytes,
    };
    assert!(
        client.put_referrer("team/web", &manifest).await.unwrap(),
        "OCI-Subject came back"
    );
    let lines = seen.lock().unwrap().clone();
    assert!(
        lines.iter().all(|l| !l.contains("/manifests/sha256-")),
        "the tag schema is never read: {lines:#?}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains("/referrers/")).count(),
        2,
        "{lines:#?}"
    );
}
