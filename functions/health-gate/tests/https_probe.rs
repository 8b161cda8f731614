//! HTTPS probes end to end: the real binary probes a TLS server that the test starts with
//! a certificate of its own CA (made with the openssl CLI). Trusted through
//! `AWS_CA_BUNDLE`, the probe passes; without it, the probe fails saying the certificate
//! is not trusted. Neither the URL's credentials nor its query values reach the answer or
//! the logs.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use testkit::{Function, JobBuilder, JobReport, LocalAws};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_health-gate");
const TIMEOUT: Duration = Duration::from_secs(30);

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`ca.pem`) and a server certificate for 127.0.0.1 signed by it
/// (`server.pem`, `server.key`), in a fresh directory.
fn make_pki() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "health-gate-pki-{}-{}",
        std::process::id(),
        testkit::job::job_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &dir,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "1",
                "-subj",
                "/CN=health-gate test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        ]
        .concat(),
    );
    openssl(
        &dir,
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
        ],
    );
    dir
}

/// A TLS server answering every request with `body`; returns its `https://` base URL.
async fn tls_server(pki: &Path, body: &'static str) -> String {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(pki.join("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(pki.join("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that does not trust the certificate ends the handshake.
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    format!("https://probe:secret@{addr}/ready?token=s3cret")
}

async fn run(aws: &LocalAws, params: &Value, env: &[(&str, &str)]) -> (JobReport, String) {
    let staged = JobBuilder::new()
        .user_parameters(params.to_string())
        .stage(aws)
        .await;
    let mut f = Function::start_with_env(BIN, aws, env).await;
    f.invoke(&staged.event, TIMEOUT).await;
    let report = aws
        .job(&staged.id)
        .await
        .unwrap_or_else(|| panic!("no report\n{}", f.logs()));
    (report, f.logs())
}

#[tokio::test]
async fn an_https_probe_passes_against_a_server_trusted_through_aws_ca_bundle() {
    let aws = LocalAws::shared();
    let pki = make_pki();
    let url = tls_server(&pki, r#"{"status":"UP"}"#).await;
    let params = json!({"probes": [{"url": url, "jsonPointer": "/status", "jsonEquals": "UP", "latencyBudget": "1s"}]});
    let ca = pki.join("ca.pem");
    let (report, logs) = run(aws, &params, &[("AWS_CA_BUNDLE", ca.to_str().unwrap())]).await;
    let (summary, vars) = report.expect_success();
    assert!(
        summary.starts_with("passed after 1 pass") && summary.contains("GET /ready 200 in"),
        "{summary}\n{logs}"
    );
    assert_eq!(vars["Checks"], "probe:/ready=passed", "{vars}");
    for secret in ["s3cret", "secret@", "probe:secret"] {
        assert!(
            !summary.contains(secret) && !logs.contains(secret),
            "{secret} shown:\n{summary}\n{logs}"
        );
    }
}

#[tokio::test]
async fn an_https_probe_of_an_untrusted_certificate_fails_saying_so() {
    let aws = LocalAws::shared();
    let pki = make_pki();
    let url = tls_server(&pki, "{}").await;
    let params = json!({"probes": [{"url": url}]});
    // Only the compiled-in roots: the test CA is unknown.
    let (report, logs) = run(aws, &params, &[]).await;
    let message = report.expect_failure("JobFailed");
    assert!(
        message.contains("GET /ready unreachable: TLS: invalid peer certificate")
            && message.contains("UnknownIssuer")
            && message.contains("AWS_CA_BUNDLE"),
        "{message}\n{logs}"
    );
    assert!(
        !message.contains("s3cret") && !logs.contains("s3cret") && !logs.contains("secret@"),
        "{message}\n{logs}"
    );
}

/// A plain HTTP server that redirects `/ready` to `/login`, which answers 200.
async fn redirecting_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let reply = if buf[..n].starts_with(b"GET /ready") {
                    "HTTP/1.1 302 Found\r\nlocation: /login\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                } else {
                    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                };
                let _ = socket.write_all(reply.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{addr}/ready")
}

#[tokio::test]
async fn a_probe_judges_a_redirect_as_the_answer_and_never_follows_it() {
    let aws = LocalAws::shared();
    let url = redirecting_server().await;
    let params = json!({"probes": [{"url": url}]});
    let (report, logs) = run(aws, &params, &[]).await;
    let message = report.expect_failure("JobFailed");
    assert!(message.contains("302"), "{message}\n{logs}");
}
