//! The scan gate's decisions against the local AWS; scan results come from stubs.

mod common;

use common::*;
use serde_json::{Value, json};

/// A repository with one Docker v2 image tagged `build`; returns its digest.
async fn image(env: &Env, repo: &str) -> String {
    create_repo(&env.ecr, repo, false).await;
    let digest = d(&format!("{repo}/image"));
    let manifest = docker_manifest(repo, &[(d(&format!("{repo}/layer")), 2000)]);
    push(
        &env.ecr,
        repo,
        &manifest,
        DOCKER_MANIFEST,
        &digest,
        Some("build"),
    )
    .await;
    digest
}

fn findings(status: &str, digest: &str, findings: Value) -> Value {
    json!({
        "registryId": "123456789012",
        "imageId": {"imageDigest": digest},
        "imageScanStatus": {"status": status, "description": "stubbed"},
        "imageScanFindings": findings,
    })
}

async fn stub_scan(env: &Env, repo: &str, response: Value) {
    env.aws
        .stub(
            "ecr",
            "DescribeImageScanFindings",
            json!({"repositoryName": repo}),
            response,
        )
        .await;
}

fn params(repo: &str, gate: Value) -> Value {
    json!({"source": {"repository": repo, "tag": "build"}, "tags": ["prod"], "scanGate": gate})
}

#[test]
fn basic_counts_within_thresholds_pass_and_over_fail() {
    let (env, _serial) = env();
    RT.block_on(async {
        let gate = json!({"max": {"CRITICAL": 0, "HIGH": 3}});
        let digest = image(env, "sg-basic-ok").await;
        stub_scan(
            env,
            "sg-basic-ok",
            findings(
                "COMPLETE",
                &digest,
                json!({"findingSeverityCounts": {"HIGH": 3, "MEDIUM": 5}}),
            ),
        )
        .await;
        let run = run_job(env, &params("sg-basic-ok", gate.clone()), None).await;
        let (summary, _) = run.success();
        assert!(
            summary.contains("Scan gate passed: image: passed (CRITICAL 0/0, HIGH 3/3, MEDIUM 5)"),
            "{summary}"
        );
        assert_eq!(
            run.operations(),
            [
                "ecr:BatchGetImage",
                "ecr:DescribeImageScanFindings",
                "ecr:DescribeImages",
                "ecr:DescribeRepositories",
                "ecr:PutImage"
            ],
            "the scan is read with the other look-ups"
        );
        run.assert_after("DescribeImageScanFindings", "PutImage");

        let digest = image(env, "sg-basic-bad").await;
        stub_scan(
            env,
            "sg-basic-bad",
            findings(
                "COMPLETE",
                &digest,
                json!({"findingSeverityCounts": {"CRITICAL": 1, "HIGH": 4}}),
            ),
        )
        .await;
        let run = run_job(env, &params("sg-basic-bad", gate), None).await;
        let message = run.failure("JobFailed");
        assert!(
            message.contains("was not promoted")
                && message.contains("CRITICAL 1/0, HIGH 4/3; over the limit: CRITICAL, HIGH"),
            "{message}"
        );
        assert!(message.contains("scanGate.allow"), "{message}");
        assert!(run.ops("PutImage").is_empty());
    });
}

#[test]
fn allow_list_entries_apply_until_they_expire() {
    let (env, _serial) = env();
    RT.block_on(async {
        let digest = image(env, "sg-allow").await;
        let scan = json!({"findingSeverityCounts": {"CRITICAL": 1, "LOW": 2},
                          "findings": [{"name": "CVE-2026-0001", "severity": "CRITICAL"}, {"name": "CVE-2026-0002", "severity": "LOW"}]});
        stub_scan(env, "sg-allow", findings("COMPLETE", &digest, scan)).await;

        let expired = json!({"max": {"CRITICAL": 0}, "allow": [{"id": "CVE-2026-0001", "until": "2020-01-31"}]});
        let message = run_job(env, &params("sg-allow", expired), None).await.failure("JobFailed").to_owned();
        assert!(message.contains("CRITICAL 1/0") && message.contains("CVE-2026-0001 (expired 2020-01-31)"), "{message}");

        let current = json!({"max": {"CRITICAL": 0}, "allow": [{"id": "CVE-2026-0001", "until": "2099-12-31"}]});
        let run = run_job(env, &params("sg-allow", current), None).await;
        let (summary, _) = run.success();
        assert!(summary.contains("CRITICAL 0/0, LOW 2; allowed: CVE-2026-0001 (CRITICAL, until 2099-12-31)"), "{summary}");
    });
}

#[test]
fn enhanced_findings_count_active_ones_only() {
    let (env, _serial) = env();
    RT.block_on(async {
        let digest = image(env, "sg-enhanced").await;
        let finding = |id: &str, severity: &str, status: &str| {
            json!({"awsAccountId": "123456789012", "findingArn": format!("arn:aws:inspector2:us-east-1:123456789012:finding/{id}"),
                   "packageVulnerabilityDetails": {"vulnerabilityId": id, "source": "NVD"},
                   "severity": severity, "status": status, "title": format!("{id} - openssl"), "type": "PACKAGE_VULNERABILITY"})
        };
        let scan = json!({
            "findingSeverityCounts": {"CRITICAL": 1, "HIGH": 2},
            "enhancedFindings": [finding("CVE-2026-1111", "CRITICAL", "SUPPRESSED"), finding("CVE-2026-2222", "HIGH", "ACTIVE"),
                                 finding("CVE-2026-3333", "HIGH", "CLOSED")],
        });
        stub_scan(env, "sg-enhanced", findings("ACTIVE", &digest, scan)).await;
        let run = run_job(env, &params("sg-enhanced", json!({"max": {"CRITICAL": 0, "HIGH": 1}})), None).await;
        let (summary, _) = run.success();
        assert!(summary.contains("image: passed (CRITICAL 0/0, HIGH 1/1)"), "{summary}");
        let run = run_job(env, &params("sg-enhanced", json!({"max": {"HIGH": 0}})), None).await;
        assert!(run.failure("JobFailed").contains("HIGH 1/0"));
    });
}

#[test]
fn missing_or_unfinished_scans_fail_closed_unless_configured() {
    let (env, _serial) = env();
    RT.block_on(async {
        // No stub: the emulator answers ScanNotFoundException.
        image(env, "sg-none").await;
        let run = run_job(
            env,
            &params("sg-none", json!({"max": {"CRITICAL": 0}})),
            None,
        )
        .await;
        let message = run.failure("JobFailed");
        assert!(
            message.contains("no scan result")
                && message.contains("failing closed")
                && message.contains("onNoScan"),
            "{message}"
        );
        let run = run_job(
            env,
            &params(
                "sg-none",
                json!({"max": {"CRITICAL": 0}, "onNoScan": "pass"}),
            ),
            None,
        )
        .await;
        assert!(
            run.success()
                .0
                .contains("passed because scanGate.onNoScan is \"pass\"")
        );

        let digest = image(env, "sg-pending").await;
        stub_scan(
            env,
            "sg-pending",
            findings("IN_PROGRESS", &digest, json!({})),
        )
        .await;
        let message = run_job(env, &params("sg-pending", json!({})), None)
            .await
            .failure("JobFailed")
            .to_owned();
        assert!(
            message.contains("still in progress") && message.contains("onInProgress"),
            "{message}"
        );

        let digest = image(env, "sg-expired").await;
        stub_scan(
            env,
            "sg-expired",
            findings("SCAN_ELIGIBILITY_EXPIRED", &digest, json!({})),
        )
        .await;
        let message = run_job(env, &params("sg-expired", json!({})), None)
            .await
            .failure("JobFailed")
            .to_owned();
        assert!(
            message.contains("scan eligibility expired") && message.contains("onExpired"),
            "{message}"
        );
        let run = run_job(
            env,
            &params("sg-expired", json!({"onExpired": "pass"})),
            None,
        )
        .await;
        run.success();

        let digest = image(env, "sg-unsupported").await;
        stub_scan(
            env,
            "sg-unsupported",
            findings("UNSUPPORTED_IMAGE", &digest, json!({})),
        )
        .await;
        let message = run_job(env, &params("sg-unsupported", json!({})), None)
            .await
            .failure("JobFailed")
            .to_owned();
        assert!(
            message.contains("does not support") && message.contains("onUnsupported"),
            "{message}"
        );
    });
}

#[test]
fn index_is_gated_per_platform_and_attestations_are_skipped() {
    let (env, _serial) = env();
    RT.block_on(async {
        let repo = "sg-index";
        create_repo(&env.ecr, repo, false).await;
        let amd = d("sg-index/amd64");
        let arm = d("sg-index/arm64");
        let att = d("sg-index/att");
        push(
            &env.ecr,
            repo,
            &oci_manifest("sg-amd", &[(d("sg-amd/l"), 10)]),
            OCI_MANIFEST,
            &amd,
            None,
        )
        .await;
        push(
            &env.ecr,
            repo,
            &oci_manifest("sg-arm", &[(d("sg-arm/l"), 10)]),
            OCI_MANIFEST,
            &arm,
            None,
        )
        .await;
        push(
            &env.ecr,
            repo,
            &attestation_manifest("sg-index"),
            OCI_MANIFEST,
            &att,
            None,
        )
        .await;
        let idx = index(
            OCI_INDEX,
            OCI_MANIFEST,
            &[
                (amd.clone(), "linux/amd64"),
                (arm.clone(), "linux/arm64"),
                (att.clone(), "attestation"),
            ],
        );
        push(
            &env.ecr,
            repo,
            &idx,
            OCI_INDEX,
            &d("sg-index/index"),
            Some("build"),
        )
        .await;
        for (digest, counts) in [(&amd, json!({"HIGH": 1})), (&arm, json!({"CRITICAL": 1}))] {
            env.aws
                .stub(
                    "ecr",
                    "DescribeImageScanFindings",
                    json!({"repositoryName": repo, "imageId": {"imageDigest": digest}}),
                    findings("COMPLETE", digest, json!({"findingSeverityCounts": counts})),
                )
                .await;
        }

        let run = run_job(env, &params(repo, json!({"max": {"CRITICAL": 0}})), None).await;
        let message = run.failure("JobFailed");
        assert!(
            message.contains("linux/amd64: passed (CRITICAL 0/0, HIGH 1)"),
            "{message}"
        );
        assert!(
            message.contains("linux/arm64: FAILED (CRITICAL 1/0; over the limit: CRITICAL)"),
            "{message}"
        );
        let scanned: Vec<String> = run
            .ops("DescribeImageScanFindings")
            .iter()
            .map(|c| format!("{:?}", c.request))
            .collect();
        assert!(
            scanned.iter().all(|r| !r.contains(&att)),
            "attestation not scanned: {scanned:?}"
        );
        assert!(run.ops("PutImage").is_empty());

        let run = run_job(env, &params(repo, json!({"max": {"CRITICAL": 1}})), None).await;
        let (summary, _) = run.success();
        assert!(
            summary.contains("Scan gate passed: linux/amd64: passed")
                && summary.contains("linux/arm64: passed (CRITICAL 1/1)"),
            "{summary}"
        );
    });
}
