//! The local AWS: moto plus the project's emulator for the APIs moto lacks, in one
//! process on a free loopback port, started and stopped by the tests themselves.

use crate::http;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

/// The workspace root (where `events/`, `tests/` and `.venv` live).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("LOCAL_AWS_PYTHON") {
        return p.into();
    }
    let venv = workspace_root().join(".venv/bin/python3");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

/// One recorded AWS call.
#[derive(Debug, Clone, Deserialize)]
pub struct Call {
    pub seq: u64,
    pub service: String,
    pub operation: String,
    pub start_ms: f64,
    pub end_ms: f64,
    pub status: u16,
    pub fault: Option<String>,
    pub request: Option<Value>,
    /// The account the call acted in (the caller's credentials').
    #[serde(default)]
    pub account: String,
    /// The region the call was signed for (its SigV4 credential scope).
    #[serde(default)]
    pub region: String,
}

/// A fault injected into matching calls.
#[derive(Debug, Clone)]
pub struct Fault {
    pub service: String,
    pub operation: String,
    pub kind: &'static str,
    pub count: i64,
    pub delay_ms: u64,
}

impl Fault {
    fn new(service: &str, operation: &str, kind: &'static str) -> Self {
        Self {
            service: service.to_owned(),
            operation: operation.to_owned(),
            kind,
            count: 1,
            delay_ms: 0,
        }
    }
    /// The service's throttling error (HTTP 400 `ThrottlingException`, S3's 503 `SlowDown`).
    pub fn throttle(service: &str, operation: &str) -> Self {
        Self::new(service, operation, "throttle")
    }
    /// An HTTP 500 internal error.
    pub fn error(service: &str, operation: &str) -> Self {
        Self::new(service, operation, "error")
    }
    /// Access denied, as IAM answers (`AccessDeniedException`, S3's 403 `AccessDenied`).
    pub fn deny(service: &str, operation: &str) -> Self {
        Self::new(service, operation, "deny")
    }
    /// The connection is reset with no response.
    pub fn reset(service: &str, operation: &str) -> Self {
        Self::new(service, operation, "reset")
    }
    /// The call is answered normally after `ms` milliseconds.
    pub fn delay(service: &str, operation: &str, ms: u64) -> Self {
        Self {
            delay_ms: ms,
            ..Self::new(service, operation, "delay")
        }
    }
    /// How many matching calls it hits (-1: all of them).
    pub fn times(mut self, count: i64) -> Self {
        self.count = count;
        self
    }
}

/// What CodePipeline recorded for a job.
#[derive(Debug, Clone, PartialEq)]
pub enum JobReport {
    Success {
        summary: String,
        external_execution_id: Option<String>,
        output_variables: Value,
        continuation_token: Option<String>,
        percent_complete: Option<i64>,
    },
    Failure {
        kind: String,
        message: String,
    },
}

impl JobReport {
    pub fn expect_success(&self) -> (&str, &Value) {
        match self {
            Self::Success {
                summary,
                output_variables,
                continuation_token: None,
                ..
            } => (summary, output_variables),
            other => panic!("expected a final success, got {other:?}"),
        }
    }

    pub fn expect_failure(&self, kind: &str) -> &str {
        match self {
            Self::Failure { kind: k, message } if k == kind => message,
            other => panic!("expected a {kind} failure, got {other:?}"),
        }
    }
}

/// A running local AWS. Dropping it stops the process.
pub struct LocalAws {
    addr: SocketAddr,
    child: Child,
}

impl LocalAws {
    /// Starts the emulator on a free loopback port and waits until it serves.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    pub async fn start_on(port: u16) -> Self {
        let script = workspace_root().join("tests/local-aws/local_aws.py");
        let mut child = Command::new(python())
            .arg(&script)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdin(Stdio::piped()) // closed when we go: the emulator exits on EOF
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "could not start the local AWS ({} {}): {e}. Run scripts/setup first",
                    python().display(),
                    script.display()
                )
            });
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
            .await
            .expect("the local AWS did not start within 60 s")
            .expect("reading the local AWS output")
            .expect(
                "the local AWS exited before it was ready (is moto installed? run scripts/setup)",
            );
        let port: u16 = ready
            .strip_prefix("LOCAL_AWS_READY port=")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the local AWS: {ready}"));
        // Keep draining stdout so the emulator never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
        }
    }

    /// One local AWS for the whole test process, started on first use. Use it for tests
    /// that neither inject faults nor count calls; those start their own.
    pub fn shared() -> &'static LocalAws {
        static SHARED: std::sync::OnceLock<LocalAws> = std::sync::OnceLock::new();
        SHARED.get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime for the shared local AWS");
                rt.block_on(async move {
                    let _ = tx.send(LocalAws::start().await);
                    // Keep the runtime that owns the process alive; the emulator exits
                    // when this test process does (its stdin closes).
                    std::future::pending::<()>().await
                });
            });
            rx.recv().expect("the shared local AWS did not start")
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The emulator's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// SDK configuration pointing at the emulator, with test credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(shared::aws::http_client())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .endpoint_url(self.endpoint())
            .load()
            .await
    }

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let sdk = self.sdk_config().await;
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        )
    }

    /// The environment a function needs to reach the emulator.
    pub fn function_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    pub(crate) async fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (status, bytes) = http::send(
            self.addr,
            method,
            path,
            &[("content-type", "application/json")],
            body,
        )
        .await
        .unwrap_or_else(|e| panic!("local AWS control {method} {path}: {e}"));
        if status == 404 {
            return Value::Null;
        }
        assert!(
            status < 300,
            "local AWS control {method} {path}: HTTP {status}"
        );
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    /// Every AWS call so far, in arrival order.
    pub async fn calls(&self) -> Vec<Call> {
        serde_json::from_value(self.control("GET", "/_local/calls", None).await)
            .expect("call log shape")
    }

    pub async fn reset_calls(&self) {
        self.control("POST", "/_local/calls/reset", Some(json!({})))
            .await;
    }

    pub async fn fault(&self, fault: Fault) {
        let body = json!({
            "service": fault.service, "operation": fault.operation, "kind": fault.kind,
            "count": fault.count, "delay_ms": fault.delay_ms,
        });
        self.control("POST", "/_local/faults", Some(body)).await;
    }

    pub async fn clear_faults(&self) {
        self.control("DELETE", "/_local/faults", None).await;
    }

    /// Adds `ms` of latency to every AWS call (like an in-region round trip).
    pub async fn latency(&self, ms: u64) {
        self.control("POST", "/_local/latency", Some(json!({ "ms": ms })))
            .await;
    }

    /// Holds each of the next `count` calls of `service`/`operation` until all `count` have
    /// arrived, so that concurrent callers read the same state however loaded the machine
    /// is. [`LocalAws::rendezvous_missed`] says whether one waited in vain (10 s).
    pub async fn rendezvous(&self, service: &str, operation: &str, count: usize) {
        let body = json!({"service": service, "operation": operation, "count": count});
        self.control("POST", "/_local/rendezvous", Some(body)).await;
    }

    /// Whether a rendezvous gave up waiting for its callers.
    pub async fn rendezvous_missed(&self) -> bool {
        let met = self.control("GET", "/_local/rendezvous", None).await;
        met.as_array()
            .is_some_and(|r| r.iter().any(|r| r["missed"] == true))
    }

    /// Answers matching calls with `response` instead of moto.
    pub async fn stub(&self, service: &str, operation: &str, matching: Value, response: Value) {
        let body = json!({"service": service, "operation": operation, "match": matching, "response": response});
        self.control("POST", "/_local/stubs", Some(body)).await;
    }

    /// Answers matching calls with an AWS error.
    pub async fn stub_error(
        &self,
        service: &str,
        operation: &str,
        matching: Value,
        error_type: &str,
        message: &str,
    ) {
        let body = json!({"service": service, "operation": operation, "match": matching,
            "error": {"type": error_type, "message": message, "status": 400}});
        self.control("POST", "/_local/stubs", Some(body)).await;
    }

    /// Seeds deployment histories (merged with what is there): ECS service deployments,
    /// CodeDeploy deployment groups, pipeline executions and states, alarm tags. The shape
    /// is in `tests/local-aws/README.md`; the answer is everything seeded so far.
    pub async fn seed_deployments(&self, histories: Value) -> Value {
        self.control("POST", "/_local/deployments", Some(histories))
            .await
    }

    pub async fn set_state(&self, state: Value) {
        self.control("POST", "/_local/state", Some(state)).await;
    }

    /// Stores `bytes` as a blob of ECR repository `repo` in the test account: its digest.
    pub async fn put_ecr_blob(&self, repo: &str, bytes: &[u8]) -> String {
        use base64::Engine;
        let content = base64::engine::general_purpose::STANDARD.encode(bytes);
        let body = json!({"repositoryName": repo, "content_b64": content});
        let out = self.control("POST", "/_local/ecr/blobs", Some(body)).await;
        out["digest"].as_str().expect("a blob digest").to_owned()
    }

    /// Makes Signer's `GetRevocationStatus` answer these profile version ARNs, job ARNs and
    /// certificate hashes as revoked in `account` (added to those revoked already).
    pub async fn revoke_signer_entities(&self, account: &str, revoked: &[&str]) {
        let body = json!({"account": account, "revoked": revoked});
        self.control("POST", "/_local/signer/revocations", Some(body))
            .await;
    }

    /// Clears every account's Signer revocations.
    pub async fn clear_signer_revocations(&self) {
        self.control("DELETE", "/_local/signer/revocations", None)
            .await;
    }

    /// What the job's report was, if one was accepted.
    pub async fn job(&self, job_id: &str) -> Option<JobReport> {
        let entry = self
            .control("GET", &format!("/_local/jobs/{job_id}"), None)
            .await;
        if entry.is_null() {
            return None;
        }
        Some(job_report(&entry["status"], &entry["request"]))
    }

    /// The answer CodeDeploy recorded for a lifecycle hook execution:
    /// `{"status", "reports", "rejected"}`, or `None` when it was never answered.
    pub async fn hook(&self, deployment_id: &str, execution_id: &str) -> Option<Value> {
        let hooks = self.control("GET", "/_local/hooks", None).await;
        hooks
            .get(format!("{deployment_id}/{execution_id}"))
            .cloned()
    }

    /// A raw AWS JSON-protocol call (`target` like `AmazonEC2ContainerServiceV20141113.CreateCluster`).
    pub async fn json_call(&self, target: &str, body: &Value) -> Result<Value, String> {
        self.json_call_in(ACCOUNT, target, body).await
    }

    /// [`LocalAws::json_call`] acting in `account` (moto's `x-moto-account-id`).
    pub async fn json_call_in(
        &self,
        account: &str,
        target: &str,
        body: &Value,
    ) -> Result<Value, String> {
        self.json_call_at(account, REGION, target, body).await
    }

    /// [`LocalAws::json_call`] acting in `account` and `region`.
    pub async fn json_call_at(
        &self,
        account: &str,
        region: &str,
        target: &str,
        body: &Value,
    ) -> Result<Value, String> {
        let service = service_of_target(target);
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"
        );
        let (status, bytes) = http::send(
            self.addr,
            "POST",
            "/",
            &[
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", target),
                ("authorization", &auth),
                ("x-moto-account-id", account),
            ],
            body.to_string().into_bytes(),
        )
        .await
        .map_err(|e| e.to_string())?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status >= 300 {
            return Err(format!("{target}: HTTP {status}: {value}"));
        }
        Ok(value)
    }
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn service_of_target(target: &str) -> &'static str {
    match target.split('.').next().unwrap_or_default() {
        "AmazonEC2ContainerRegistry_V20150921" => "ecr",
        "AmazonEC2ContainerServiceV20141113" => "ecs",
        "CodePipeline_20150709" => "codepipeline",
        "CodeDeploy_20141006" => "codedeploy",
        "TrentService" => "kms",
        _ => "unknown",
    }
}

fn job_report(status: &Value, request: &Value) -> JobReport {
    if status == "Failed" {
        return JobReport::Failure {
            kind: request["failureDetails"]["type"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            message: request["failureDetails"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        };
    }
    let details = &request["executionDetails"];
    JobReport::Success {
        summary: details["summary"].as_str().unwrap_or_default().to_owned(),
        external_execution_id: details["externalExecutionId"].as_str().map(str::to_owned),
        output_variables: request.get("outputVariables").cloned().unwrap_or(json!({})),
        continuation_token: request["continuationToken"].as_str().map(str::to_owned),
        percent_complete: details["percentComplete"].as_i64(),
    }
}

/// The number of sequential round trips among `calls`: the longest chain of calls in
/// which each starts after the previous one ended.
pub fn sequential_round_trips(calls: &[Call]) -> usize {
    let mut sorted: Vec<&Call> = calls.iter().collect();
    sorted.sort_by(|a, b| a.end_ms.total_cmp(&b.end_ms));
    let mut depth: Vec<usize> = Vec::with_capacity(sorted.len());
    for (i, call) in sorted.iter().enumerate() {
        let before = (0..i)
            .filter(|&j| sorted[j].end_ms <= call.start_ms)
            .map(|j| depth[j])
            .max()
            .unwrap_or(0);
        depth.push(before + 1);
    }
    depth.into_iter().max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(start: f64, end: f64) -> Call {
        Call {
            seq: 0,
            service: "s3".into(),
            operation: "GetObject".into(),
            start_ms: start,
            end_ms: end,
            status: 200,
            fault: None,
            request: None,
            account: String::new(),
            region: String::new(),
        }
    }

    #[test]
    fn round_trips_count_chains_not_calls() {
        assert_eq!(sequential_round_trips(&[]), 0);
        // Three concurrent calls, then one after them all.
        let calls = [
            call(0.0, 20.0),
            call(1.0, 21.0),
            call(2.0, 22.0),
            call(23.0, 43.0),
        ];
        assert_eq!(sequential_round_trips(&calls), 2);
        let chain = [call(0.0, 1.0), call(2.0, 3.0), call(4.0, 5.0)];
        assert_eq!(sequential_round_trips(&chain), 3);
    }
}
