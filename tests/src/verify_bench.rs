//! The benchmark's signature section: what `verify` adds to promote-image on the same
//! image (a copy into a fresh ECR repository and a retag in place; no verify, a cosign key,
//! Notation by a test AWS Signer chain with revocation), in AWS calls and sequential round
//! trips; and the time of `shared::verify::check_at` itself over generated vectors (no
//! I/O: pure CPU on one thread), the median of N runs.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::registry::sha256_digest;
use shared::verify::{Found, Policy, Revocation, Trust, check_at};

use crate::signing::{
    Chain, Key, candidate, cosign_key_policy, cosign_manifest, cosign_payload, legacy_candidate,
    notation_manifest, notation_payload, signer_header, test_image,
};
use crate::{Function, JobBuilder, LocalAws, sequential_round_trips};

/// The most sequential round trips a signature on the source may add.
pub const ROUND_TRIP_TARGET: u64 = 2;
/// The most time the check itself may take, in milliseconds.
pub const CPU_TARGET_MS: f64 = 20.0;

const ECR: &str = "AmazonEC2ContainerRegistry_V20150921";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const PROFILE: &str = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/bench";
const VERSION: &str = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/bench/v1";
const JOB: &str = "arn:aws:signer:us-east-1:123456789012:/signing-jobs/bench";
const SIGNED_AT: &str = "2026-01-02T03:04:05Z";
const BUCKET: &str = "bench-verify";
const SOURCE: &str = "bench-verify";

async fn call(aws: &LocalAws, target: &str, body: Value) -> Value {
    aws.json_call(&format!("{ECR}.{target}"), &body)
        .await
        .unwrap_or_else(|e| panic!("{target}: {e}"))
}

async fn put_image(aws: &LocalAws, repo: &str, manifest: &[u8], tag: Option<&str>) -> String {
    let digest = sha256_digest(manifest);
    let mut body = json!({"repositoryName": repo, "imageManifest": String::from_utf8_lossy(manifest),
                          "imageManifestMediaType": OCI_MANIFEST, "imageDigest": digest});
    if let Some(tag) = tag {
        body["imageTag"] = json!(tag);
    }
    call(aws, "PutImage", body).await;
    digest
}

/// The signed image: one config and one layer, cosign's legacy signature and a Notation
/// referrer. Returns the trust material's policies (cosign key, Notation) and its digest.
async fn seed(aws: &LocalAws) -> (Value, Value, String) {
    let _ = call(aws, "CreateRepository", json!({"repositoryName": SOURCE})).await;
    let config = br#"{"architecture":"amd64","os":"linux","bench":"verify"}"#;
    let layer: Vec<u8> = (0..65_536u32).map(|i| (i % 251) as u8).collect();
    let (c, l) = (
        aws.put_ecr_blob(SOURCE, config).await,
        aws.put_ecr_blob(SOURCE, &layer).await,
    );
    let manifest = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": l, "size": layer.len()}],
    })
    .to_string()
    .into_bytes();
    let digest = put_image(aws, SOURCE, &manifest, Some("v1")).await;

    let key = Key::p256();
    let payload = cosign_payload(&digest);
    let empty = aws.put_ecr_blob(SOURCE, b"{}").await;
    let p = aws.put_ecr_blob(SOURCE, &payload).await;
    let signature = cosign_manifest(
        &empty,
        (&p, payload.len() as u64),
        &key.cosign_signature(&payload),
    );
    let tag = format!("{}.sig", digest.replace(':', "-"));
    put_image(aws, SOURCE, &signature, Some(&tag)).await;

    let chain = Chain::new();
    let subject = (digest.as_str(), OCI_MANIFEST, manifest.len() as u64);
    let jws = chain.jws(
        &signer_header(VERSION, JOB, SIGNED_AT),
        &notation_payload(subject),
    );
    let j = aws.put_ecr_blob(SOURCE, &jws).await;
    put_image(
        aws,
        SOURCE,
        &notation_manifest(subject, (&j, jws.len() as u64)),
        None,
    )
    .await;

    let s3 = aws.s3().await;
    let _ = s3.create_bucket().bucket(BUCKET).send().await;
    s3.put_object()
        .bucket(BUCKET)
        .key("root.pem")
        .body(chain.root_pem.into_bytes().into())
        .send()
        .await
        .expect("root stored");
    (
        json!({"require": [{"cosign": {"key": key.pem()}}]}),
        json!({"require": [{"notation": {"signingProfiles": [PROFILE], "rootCertificates": format!("s3://{BUCKET}/root.pem")}}]}),
        digest,
    )
}

/// One run of `exe` in a new process: the report's status and the AWS calls it made.
async fn run(aws: &LocalAws, exe: &Path, params: &Value) -> (String, Vec<crate::Call>) {
    let job = JobBuilder::new()
        .user_parameters(params.to_string())
        .stage(aws)
        .await;
    aws.reset_calls().await;
    let mut f = Function::spawn(exe, &aws.function_env()).await;
    let result = f.invoke(&job.event, Duration::from_secs(60)).await;
    let calls: Vec<crate::Call> = aws
        .calls()
        .await
        .into_iter()
        .filter(|c| c.service != "codepipeline")
        .collect();
    let status = match aws.job(&job.id).await {
        Some(crate::JobReport::Failure { kind, message }) => format!("Failed ({kind}): {message}"),
        Some(crate::JobReport::Success { summary, .. }) => summary,
        None => format!("no report ({result:?})"),
    };
    (status, calls)
}

/// The round-trip rows: each promotion without verify, then with each policy; the source
/// named by tag, then pinned by digest (as an `imageDetail.json` names it).
pub async fn rows(aws: &LocalAws, bin_dir: &Path) -> Vec<Value> {
    let exe = bin_dir.join("promote-image");
    let (cosign, notation, digest) = seed(aws).await;
    let mut rows = Vec::new();
    let mut n = 0;
    for (named, source) in [
        ("by tag", json!({"repository": SOURCE, "tag": "v1"})),
        ("by digest", json!({"repository": SOURCE, "digest": digest})),
    ] {
        for (case, same) in [("copy ECR -> ECR", false), ("retag in place", true)] {
            let mut baseline = 0;
            for (i, (name, verify)) in [
                ("no verify", Value::Null),
                ("cosign key", cosign.clone()),
                ("Notation (AWS Signer, revocation)", notation.clone()),
            ]
            .into_iter()
            .enumerate()
            {
                n += 1;
                let mut params = json!({"source": source, "tags": [format!("bench-{n}")]});
                if !same {
                    let target = format!("{SOURCE}-to-{n}");
                    let _ = aws
                        .json_call(
                            &format!("{ECR}.CreateRepository"),
                            &json!({"repositoryName": target}),
                        )
                        .await;
                    params["target"] = json!({"repository": target});
                }
                if !verify.is_null() {
                    params["verify"] = verify;
                }
                let (status, calls) = run(aws, &exe, &params).await;
                let trips = sequential_round_trips(&calls) as u64;
                if i == 0 {
                    baseline = trips;
                }
                let added = trips.saturating_sub(baseline);
                rows.push(json!({
                    "scenario": format!("{case} {named}, {name}"),
                    "status": status,
                    "aws_calls": calls.len(),
                    "round_trips": trips,
                    "added_round_trips": added,
                    "verify_calls": calls.iter().filter(|c| matches!(c.operation.as_str(),
                        "GetDownloadUrlForLayer" | "GetObject" | "GetPublicKey" | "GetRevocationStatus")).count(),
                }));
            }
        }
    }
    rows
}

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The check's time over generated vectors: a cosign key signature and a Notation one.
pub fn cpu_rows(runs: usize) -> Vec<Value> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let subject = test_image();
    let now = 1_767_323_045 + 3600;
    let key = Key::p256();
    let payload = cosign_payload(&subject.digest);
    let cosign = (
        cosign_key_policy(&key),
        vec![legacy_candidate(&payload, &key.cosign_signature(&payload))],
    );
    let chain = Chain::new();
    let s = (subject.digest.as_str(), OCI_MANIFEST, subject.size);
    let jws = chain.jws(
        &signer_header(VERSION, JOB, SIGNED_AT),
        &notation_payload(s),
    );
    let manifest = notation_manifest(s, (&sha256_digest(&jws), jws.len() as u64));
    let notation = (
        Policy {
            require: vec![
                Trust::notation(vec![PROFILE.into()], &chain.root_pem, Revocation::Required)
                    .expect("a root"),
            ],
        },
        vec![candidate(manifest, Found::Referrer, jws)],
    );
    [("cosign key", cosign), ("Notation (AWS Signer)", notation)]
        .into_iter()
        .map(|(name, (policy, candidates))| {
            let check = || {
                rt.block_on(check_at(&policy, &subject, &candidates, now, |_| async {
                    Ok(Vec::new())
                }))
            };
            let verdict = match check() {
                Ok(e) => e.iter().map(|e| e.text()).collect::<Vec<_>>().join("; "),
                Err(e) => format!("refused: {e}"),
            };
            let ms = median_ms(runs, || {
                let _ = check();
            });
            json!({"scenario": format!("check, {name}"), "median_ms": (ms * 1000.0).round() / 1000.0,
                   "runs": runs, "verdict": verdict})
        })
        .collect()
}

/// Prints the section with its targets.
pub fn print(rows: &[Value], cpu: &[Value]) {
    println!(
        "Signature section (promote-image with verify; targets: <= {ROUND_TRIP_TARGET} sequential \
         round trips added for a signature on the source, < {CPU_TARGET_MS} ms for the check):"
    );
    for r in rows {
        let added = r["added_round_trips"].as_u64().unwrap_or(0);
        println!(
            "  {:<64} {:>3} calls, {:>2} sequential round trips (+{added} {}), {} blob, trust or revocation reads  {}",
            r["scenario"].as_str().unwrap_or_default(),
            r["aws_calls"],
            r["round_trips"],
            if added <= ROUND_TRIP_TARGET {
                "ok"
            } else {
                "MISSED"
            },
            r["verify_calls"],
            r["status"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(80)
                .collect::<String>(),
        );
    }
    for c in cpu {
        let ms = c["median_ms"].as_f64().unwrap_or(0.0);
        println!(
            "  {:<64} {ms:>8.3} ms median of {} runs ({})",
            c["scenario"].as_str().unwrap_or_default(),
            c["runs"],
            if ms < CPU_TARGET_MS { "ok" } else { "MISSED" },
        );
    }
}
