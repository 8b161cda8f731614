//! One local AWS per test binary, the real function binary per test, and helpers to
//! push real-shaped manifests and real blobs into the emulator's ECR.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::MutexGuard;
use std::time::Duration;

use aws_sdk_ecr::types::{ImageIdentifier, ImageTagMutability};
use base64::Engine;
use serde_json::{Value, json};
use shared::referrers::tag_schema_tag;
use shared::registry::sha256_digest;
use testkit::per_binary::PerBinary;
use testkit::registry::EMPTY_JSON;
use testkit::signing::{B64, cosign_manifest};
use testkit::{Call, Function, JobBuilder, JobReport, LocalAws};

pub use testkit::per_binary::RT;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The calls of a promotion to two tags with nothing to write: the source manifest, where
/// each tag points and the target's tag rule, all at once.
pub const LOOK_UPS_OF_TWO_TAGS: [&str; 4] = [
    "ecr:BatchGetImage",
    "ecr:DescribeImages",
    "ecr:DescribeImages",
    "ecr:DescribeRepositories",
];

/// The calls by which a promotion into another ECR repository finds the image's referrers:
/// `ListImageReferrers` on each side, and cosign's three tags read on each side at once.
pub const REFERRER_LOOK_UPS: [&str; 4] = [
    "ecr:BatchGetImage",
    "ecr:BatchGetImage",
    "ecr:ListImageReferrers",
    "ecr:ListImageReferrers",
];

pub struct Env {
    pub aws: LocalAws,
    pub ecr: aws_sdk_ecr::Client,
    pub s3: aws_sdk_s3::Client,
    pub sdk: aws_config::SdkConfig,
}

impl AsRef<LocalAws> for Env {
    fn as_ref(&self) -> &LocalAws {
        &self.aws
    }
}

static ENV: PerBinary<Env> = PerBinary::new();

/// The shared local AWS, and a guard that keeps tests from interleaving their calls
/// (the call log, faults and stubs are global).
pub fn env() -> (&'static Env, MutexGuard<'static, ()>) {
    ENV.get(|aws, sdk| async move {
        let ecr = aws_sdk_ecr::Client::new(&sdk);
        let s3 = aws.s3().await;
        Env { aws, ecr, s3, sdk }
    })
}

/// A stable, well-formed digest for `seed`.
pub fn d(seed: &str) -> String {
    testkit::seed::fake_digest(seed)
}

pub fn descriptor(media_type: &str, digest: &str, size: u64) -> Value {
    json!({"mediaType": media_type, "digest": digest, "size": size})
}

/// A Docker v2 image manifest with one config and the given layers.
pub fn docker_manifest(name: &str, layers: &[(String, u64)]) -> String {
    json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": descriptor("application/vnd.docker.container.image.v1+json", &d(&format!("{name}/config")), 1470),
        "layers": layers.iter().map(|(dg, size)| descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", dg, *size)).collect::<Vec<_>>(),
    })
    .to_string()
}

/// An OCI image manifest (no `mediaType` field, as some builders write it).
pub fn oci_manifest(name: &str, layers: &[(String, u64)]) -> String {
    json!({
        "schemaVersion": 2,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &d(&format!("{name}/config")), 800),
        "layers": layers.iter().map(|(dg, size)| descriptor("application/vnd.oci.image.layer.v1.tar+gzip", dg, *size)).collect::<Vec<_>>(),
        "annotations": {"org.opencontainers.image.created": "2026-11-22T10:00:00Z"},
    })
    .to_string()
}

/// An in-toto attestation manifest as buildx writes it.
pub fn attestation_manifest(name: &str) -> String {
    json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &d(&format!("{name}/att-config")), 167),
        "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": d(&format!("{name}/att")), "size": 1450,
                    "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}],
    })
    .to_string()
}

/// An index (`media_type` OCI_INDEX or DOCKER_LIST) over (digest, platform) children;
/// platform `attestation` makes a buildx attestation entry for the first child.
pub fn index(media_type: &str, child_type: &str, children: &[(String, &str)]) -> String {
    let first = children
        .first()
        .map(|(dg, _)| dg.clone())
        .unwrap_or_default();
    let manifests: Vec<Value> = children
        .iter()
        .map(|(digest, platform)| {
            if *platform == "attestation" {
                json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": 840,
                       "annotations": {"vnd.docker.reference.digest": first, "vnd.docker.reference.type": "attestation-manifest"},
                       "platform": {"architecture": "unknown", "os": "unknown"}})
            } else {
                let (os, arch) = platform.split_once('/').unwrap_or(("linux", platform));
                json!({"mediaType": child_type, "digest": digest, "size": 1100, "platform": {"architecture": arch, "os": os}})
            }
        })
        .collect();
    json!({"schemaVersion": 2, "mediaType": media_type, "manifests": manifests}).to_string()
}

pub async fn create_repo(ecr: &aws_sdk_ecr::Client, name: &str, immutable: bool) {
    let mutability = if immutable {
        ImageTagMutability::Immutable
    } else {
        ImageTagMutability::Mutable
    };
    ecr.create_repository()
        .repository_name(name)
        .image_tag_mutability(mutability)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create repository {name}: {e:?}"));
}

/// PutImage with an explicit digest (the emulator does not hash manifests).
pub async fn push(
    ecr: &aws_sdk_ecr::Client,
    repo: &str,
    manifest: &str,
    media_type: &str,
    digest: &str,
    tag: Option<&str>,
) {
    ecr.put_image()
        .repository_name(repo)
        .image_manifest(manifest)
        .image_manifest_media_type(media_type)
        .image_digest(digest)
        .set_image_tag(tag.map(str::to_owned))
        .send()
        .await
        .unwrap_or_else(|e| panic!("push {repo}:{tag:?}: {e:?}"));
}

/// The digest a tag points at, if any.
pub async fn digest_of(ecr: &aws_sdk_ecr::Client, repo: &str, tag: &str) -> Option<String> {
    let out = ecr
        .batch_get_image()
        .repository_name(repo)
        .image_ids(ImageIdentifier::builder().image_tag(tag).build())
        .send()
        .await
        .ok()?;
    out.images()
        .first()
        .and_then(|i| i.image_id())
        .and_then(|i| i.image_digest())
        .map(str::to_owned)
}

/// A plain HTTP/1.1 request to the emulator, outside the AWS SDKs: its control API
/// (`/_local/...`) or the path and query of a layer download URL. Returns the status
/// and the body (the emulator sends a Content-Length on these).
pub fn http(env: &Env, method: &str, path: &str, body: Option<&Value>) -> (u16, Vec<u8>) {
    let body = body.map(Value::to_string).unwrap_or_default();
    let port = env.aws.port();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the local AWS");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send to the local AWS");
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .expect("read from the local AWS");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let status = String::from_utf8_lossy(&raw[..split])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("an HTTP status");
    (status, raw[split + 4..].to_vec())
}

pub fn control_json(env: &Env, method: &str, path: &str, body: &Value) -> Value {
    let (status, bytes) = http(env, method, path, Some(body));
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert_eq!(status, 200, "{method} {path}: {value}");
    value
}

/// Stores `bytes` as a blob of repository `repo` of the test account (the emulator's
/// `POST /_local/ecr/blobs`); returns its digest, the sha256 the emulator computed.
pub fn put_blob(env: &Env, repo: &str, bytes: &[u8]) -> String {
    put_blob_in(env, None, repo, bytes)
}

/// [`put_blob`] into the registry (account) `registry`; `None`: the test account.
pub fn put_blob_in(env: &Env, registry: Option<&str>, repo: &str, bytes: &[u8]) -> String {
    let mut body =
        json!({"repositoryName": repo, "content_b64": aws_smithy_types::base64::encode(bytes)});
    if let Some(registry) = registry {
        body["registryId"] = registry.into();
    }
    let out = control_json(env, "POST", "/_local/ecr/blobs", &body);
    assert_eq!(out["size"].as_u64(), Some(bytes.len() as u64));
    out["digest"].as_str().expect("digest").to_owned()
}

/// An image in the local ECR with real blobs (a config and a layer, both made from
/// `salt`), tagged `tag`: its digest and manifest.
pub async fn ecr_image(env: &Env, repo: &str, tag: &str, salt: &str) -> (String, String) {
    let config_bytes = format!(r#"{{"architecture":"amd64","os":"linux","salt":"{salt}"}}"#);
    let config = put_blob(env, repo, config_bytes.as_bytes());
    let layer_bytes: Vec<u8> = salt.bytes().cycle().take(20_000).collect();
    let layer = put_blob(env, repo, &layer_bytes);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &config, config_bytes.len() as u64),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", &layer, layer_bytes.len() as u64)],
    })
    .to_string();
    let digest = sha256_digest(manifest.as_bytes());
    push(&env.ecr, repo, &manifest, OCI_MANIFEST, &digest, Some(tag)).await;
    (digest, manifest)
}

/// An OCI index in the local ECR over `children` new images (untagged, real blobs),
/// tagged `tag`: its digest and manifest, and the children's digests.
pub async fn ecr_index(
    env: &Env,
    repo: &str,
    tag: &str,
    children: usize,
) -> (String, String, Vec<String>) {
    let mut entries = Vec::with_capacity(children);
    let mut digests = Vec::with_capacity(children);
    for i in 0..children {
        let (digest, manifest) =
            ecr_image(env, repo, &format!("{tag}-{i}"), &format!("{repo}-{i}")).await;
        entries.push(
            json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": manifest.len(),
                            "platform": {"os": "linux", "architecture": format!("arch{i}")}}),
        );
        digests.push(digest);
    }
    let manifest =
        json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).to_string();
    let digest = sha256_digest(manifest.as_bytes());
    push(&env.ecr, repo, &manifest, OCI_INDEX, &digest, Some(tag)).await;
    (digest, manifest, digests)
}

/// cosign's legacy signature of `subject` in the local ECR: `payload` (the subject's, or
/// anything) with `signature` over it, tagged `sha256-<hex>.sig`. Returns its digest.
pub async fn ecr_cosign(
    env: &Env,
    repo: &str,
    subject: &str,
    payload: &[u8],
    signature: &[u8],
) -> String {
    let config = put_blob(env, repo, EMPTY_JSON);
    let layer = put_blob(env, repo, payload);
    let manifest = cosign_manifest(
        &config,
        (&layer, payload.len() as u64),
        &B64.encode(signature),
    );
    let digest = sha256_digest(&manifest);
    let tag = format!("{}.sig", tag_schema_tag(subject).unwrap());
    let text = String::from_utf8(manifest).unwrap();
    push(&env.ecr, repo, &text, OCI_MANIFEST, &digest, Some(&tag)).await;
    digest
}

/// The blobs the emulator holds for `repo` in `registry`: digest -> size.
pub fn stored_blobs(env: &Env, registry: &str, repo: &str) -> BTreeMap<String, u64> {
    let (status, bytes) = http(
        env,
        "GET",
        &format!("/_local/ecr/blobs?registryId={registry}&repositoryName={repo}"),
        None,
    );
    assert_eq!(status, 200);
    let list: Vec<Value> = serde_json::from_slice(&bytes).expect("blob list");
    list.iter()
        .map(|b| {
            (
                b["digest"].as_str().unwrap_or_default().to_owned(),
                b["size"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// The part size the emulated InitiateLayerUpload suggests, and the least size
/// CompleteLayerUpload accepts for the parts before the last (ECR: 10 MiB and 5 MiB).
pub fn layer_part_size(env: &Env, size: usize) {
    control_json(
        env,
        "POST",
        "/_local/ecr/settings",
        &json!({"partSize": size, "minPartSize": size}),
    );
}

/// A blob as a registry client pulls it: GetDownloadUrlForLayer, then a GET of the URL.
pub async fn download_blob(
    env: &Env,
    ecr: &aws_sdk_ecr::Client,
    repo: &str,
    digest: &str,
) -> Vec<u8> {
    let out = ecr
        .get_download_url_for_layer()
        .repository_name(repo)
        .layer_digest(digest)
        .send()
        .await
        .unwrap_or_else(|e| panic!("download URL for {digest} in {repo}: {e:?}"));
    let url = out.download_url().expect("a download URL");
    let path = url
        .strip_prefix(&env.aws.endpoint())
        .unwrap_or_else(|| panic!("{url} does not point at the emulator"));
    let (status, body) = http(env, "GET", path, None);
    assert_eq!(status, 200, "GET {url}");
    body
}

/// What one run of the function did.
pub struct Run {
    pub report: JobReport,
    /// The AWS calls of the run, the job report excluded.
    pub calls: Vec<Call>,
    pub logs: String,
}

impl Run {
    pub fn ops(&self, operation: &str) -> Vec<&Call> {
        self.calls
            .iter()
            .filter(|c| c.operation == operation)
            .collect()
    }

    /// The calls made, as `service:Operation`, sorted (concurrent calls end in any order).
    pub fn operations(&self) -> Vec<String> {
        operations(&self.calls)
    }

    /// The calls that change ECR: manifests put, layers uploaded, images deleted.
    pub fn writes(&self) -> Vec<String> {
        self.operations()
            .into_iter()
            .filter(|op| is_write(op))
            .collect()
    }

    /// Where each call of `operation` came, by arrival (`seq`).
    pub fn seqs(&self, operation: &str) -> Vec<u64> {
        self.ops(operation).iter().map(|c| c.seq).collect()
    }

    /// Every call of `then` came after every call of `first`: it needs their answers.
    pub fn assert_after(&self, first: &str, then: &str) {
        assert_after(
            &self.seqs(first),
            &self.seqs(then),
            first,
            then,
            &self.calls,
        );
    }

    pub fn success(&self) -> (&str, &Value) {
        self.report.expect_success()
    }

    /// The summary of a successful run, which must contain `part`.
    pub fn summary_with(&self, part: &str) -> &str {
        let (summary, _) = self.success();
        assert!(summary.contains(part), "{part} in {summary}");
        summary
    }

    pub fn failure(&self, kind: &str) -> &str {
        self.report.expect_failure(kind)
    }
}

/// `service:Operation` of each call, sorted.
pub fn operations(calls: &[Call]) -> Vec<String> {
    let mut ops: Vec<String> = calls
        .iter()
        .map(|c| format!("{}:{}", c.service, c.operation))
        .collect();
    ops.sort();
    ops
}

/// Whether `operation` (`service:Operation`) changes ECR.
pub fn is_write(operation: &str) -> bool {
    let op = operation.rsplit(':').next().unwrap_or(operation);
    matches!(
        op,
        "PutImage"
            | "InitiateLayerUpload"
            | "UploadLayerPart"
            | "CompleteLayerUpload"
            | "BatchDeleteImage"
    )
}

/// Every `then` call arrived after every `first` call (`seq`s), and both happened.
pub fn assert_after(first: &[u64], then: &[u64], a: &str, b: &str, calls: &[Call]) {
    assert!(
        !first.is_empty() && !then.is_empty(),
        "{a} and {b} both called: {calls:#?}"
    );
    let last = first.iter().max().copied().unwrap_or_default();
    let earliest = then.iter().min().copied().unwrap_or_default();
    assert!(last < earliest, "{b} after {a}: {calls:#?}");
}

/// Stages a job with `params` (and optional input artifact files), runs the real binary
/// on it, and returns the report and the calls it made.
/// An input artifact: its name and its files.
pub type Input<'a> = (&'a str, &'a [(&'a str, &'a [u8])]);

pub async fn run_job(env: &Env, params: &Value, input: Option<Input<'_>>) -> Run {
    let mut builder = JobBuilder::new().user_parameters(params.to_string());
    if let Some((name, files)) = input {
        builder = builder.input(name, files);
    }
    let job = builder.stage(&env.aws).await;
    run_event(env, &job.id, &job.event).await
}

pub async fn run_event(env: &Env, job_id: &str, event: &Value) -> Run {
    env.aws.reset_calls().await;
    let mut function = Function::start(env!("CARGO_BIN_EXE_promote-image"), &env.aws).await;
    let invocation = function.invoke(event, Duration::from_secs(60)).await;
    assert!(
        invocation.is_response(),
        "invocation: {invocation:?}\n{}",
        function.logs()
    );
    let report = env
        .aws
        .job(job_id)
        .await
        .unwrap_or_else(|| panic!("no job report\n{}", function.logs()));
    let calls = env
        .aws
        .calls()
        .await
        .into_iter()
        .filter(|c| c.service != "codepipeline")
        .collect();
    Run {
        report,
        calls,
        logs: function.logs(),
    }
}
