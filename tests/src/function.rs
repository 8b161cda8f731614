//! Runs a compiled function binary the way Lambda does: a Runtime API server on loopback,
//! the Lambda environment, `/next`, `/response`, `/error`, and the deadline header.

use crate::local_aws::LocalAws;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

/// How an invocation ended, as Lambda would see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// The function posted a response.
    Response(Value),
    /// The function posted an error (`/error`).
    Error(Value),
    /// No answer before the deadline; the process is stopped, as Lambda stops the sandbox.
    TimedOut,
    /// The process exited during the invocation, with this status.
    Crashed(String),
}

impl Invocation {
    pub fn is_response(&self) -> bool {
        matches!(self, Self::Response(_))
    }
}

struct Pending {
    request_id: String,
    deadline_ms: u64,
    body: Vec<u8>,
}

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Invocation>>>>;

struct Shared {
    next: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    /// When the runtime first asked for an invocation: the end of its init phase.
    ready: Arc<std::sync::OnceLock<Instant>>,
    waiters: Waiters,
    function_arn: String,
}

/// A function binary running under the Runtime API harness.
pub struct Function {
    name: String,
    queue: mpsc::UnboundedSender<Pending>,
    waiters: Waiters,
    child: Child,
    logs: Arc<Mutex<String>>,
    started: Instant,
    ready: Arc<std::sync::OnceLock<Instant>>,
    counter: u64,
}

/// The binary `name` from the workspace's target directory (next to the running test).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(name)
}

impl Function {
    /// Starts `binary` against the local AWS.
    pub async fn start(binary: impl AsRef<Path>, aws: &LocalAws) -> Self {
        Self::start_with_env(binary, aws, &[]).await
    }

    /// Starts `binary` with extra environment variables (e.g. `RUST_LOG`).
    pub async fn start_with_env(
        binary: impl AsRef<Path>,
        aws: &LocalAws,
        extra: &[(&str, &str)],
    ) -> Self {
        let mut env = aws.function_env();
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Self::spawn(binary.as_ref(), &env).await
    }

    pub async fn spawn(binary: &Path, env: &[(String, String)]) -> Self {
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind runtime API");
        let addr = listener.local_addr().expect("runtime API address");
        let (queue, rx) = mpsc::unbounded_channel();
        let waiters: Waiters = Arc::default();
        let ready: Arc<std::sync::OnceLock<Instant>> = Arc::default();
        let shared = Arc::new(Shared {
            next: tokio::sync::Mutex::new(rx),
            ready: Arc::clone(&ready),
            waiters: Arc::clone(&waiters),
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
        });
        tokio::spawn(serve(listener, shared));

        let started = Instant::now();
        let mut child = Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/22/[$LATEST]local")
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
            .env("LAMBDA_TASK_ROOT", "/var/task")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", binary.display()));
        let logs = Arc::new(Mutex::new(String::new()));
        let echo = std::env::var_os("TESTKIT_ECHO_LOGS").is_some();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let logs = Arc::clone(&logs);
            let name = name.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if echo {
                        eprintln!("[{name}] {line}");
                    }
                    let mut logs = logs.lock().unwrap_or_else(|e| e.into_inner());
                    logs.push_str(&line);
                    logs.push('\n');
                }
            });
        }
        Self {
            name,
            queue,
            waiters,
            child,
            logs,
            started,
            ready,
            counter: 0,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// When the process was spawned (for cold start measurements).
    pub fn started(&self) -> Instant {
        self.started
    }

    /// How long the process took to ask for its first invocation (Lambda's init duration).
    pub fn init_duration(&self) -> Option<std::time::Duration> {
        self.ready.get().map(|t| t.duration_since(self.started))
    }

    /// Everything the function wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Invokes the function once with `timeout` as its Lambda timeout.
    pub async fn invoke(&mut self, event: &Value, timeout: Duration) -> Invocation {
        self.counter += 1;
        let request_id = format!("00000000-0000-4000-8000-{:012}", self.counter);
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(request_id.clone(), tx);
        let pending = Pending {
            request_id,
            deadline_ms: now_ms + timeout.as_millis() as u64,
            body: event.to_string().into_bytes(),
        };
        if self.queue.send(pending).is_err() {
            return Invocation::TimedOut;
        }
        // Lambda stops waiting at the deadline (a little grace covers process scheduling)
        // and then ends the sandbox; a process that exits ends the invocation at once.
        let answer = tokio::select! {
            answer = tokio::time::timeout(timeout + Duration::from_millis(500), rx) => answer,
            status = self.child.wait() => {
                return Invocation::Crashed(status.map_or_else(|e| e.to_string(), |s| s.to_string()));
            }
        };
        match answer {
            Ok(Ok(result)) => result,
            _ => {
                let _ = self.child.start_kill();
                Invocation::TimedOut
            }
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The process's peak resident set size in KiB (Linux), while it runs.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((stream, _)) = listener.accept().await {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| route(req, Arc::clone(&shared)));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn route(
    req: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let body = req.into_body().collect().await?.to_bytes();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let reply = |status: StatusCode, body: &str| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap_or_default()
    };
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["2018-06-01", "runtime", "invocation", "next"]) => {
            let _ = shared.ready.set(Instant::now());
            let next = shared.next.lock().await.recv().await;
            let Some(p) = next else {
                return Ok(reply(StatusCode::GONE, "{}"));
            };
            Ok(Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .header("lambda-runtime-aws-request-id", &p.request_id)
                .header("lambda-runtime-deadline-ms", p.deadline_ms.to_string())
                .header("lambda-runtime-invoked-function-arn", &shared.function_arn)
                .header(
                    "lambda-runtime-trace-id",
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
                )
                .body(Full::new(Bytes::from(p.body)))
                .unwrap_or_default())
        }
        (
            "POST",
            [
                "2018-06-01",
                "runtime",
                "invocation",
                id,
                outcome @ ("response" | "error"),
            ],
        ) => {
            let value: Value = serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
            let result = if *outcome == "response" {
                Invocation::Response(value)
            } else {
                Invocation::Error(value)
            };
            let waiter = shared
                .waiters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(*id);
            if let Some(tx) = waiter {
                let _ = tx.send(result);
            }
            Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#))
        }
        ("POST", ["2018-06-01", "runtime", "init", "error"]) => {
            let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let waiters: Vec<_> = shared
                .waiters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain()
                .collect();
            for (_, tx) in waiters {
                let _ = tx.send(Invocation::Error(value.clone()));
            }
            Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#))
        }
        _ => Ok(reply(
            StatusCode::NOT_FOUND,
            r#"{"errorMessage":"not found"}"#,
        )),
    }
}
