//! The AWS client every function builds through `shared::aws`: ECS's refusals and its
//! throttling in disguise, and the TLS roots (compiled in; the system's store only on
//! request). The real binary under the Lambda Runtime API, against the local AWS.

use serde_json::json;
use std::time::Duration;
use testkit::{Function, JobBuilder, JobReport, LocalAws, StagedJob};

fn aws() -> &'static LocalAws {
    LocalAws::shared()
}

/// A minimal Fargate template.
fn template(family: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "family": family,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{"name": "app", "image": "<IMAGE1_NAME>", "essential": true}]
    }))
    .expect("json")
}

async fn job(family: &str, register: bool) -> StagedJob {
    JobBuilder::new()
        .input("SourceArtifact", &[("taskdef.json", &template(family))])
        .output("Rendered")
        .user_parameters(json!({"images": {"app": "web:9"}, "register": register}).to_string())
        .stage(aws())
        .await
}

async fn run_with(job: &StagedJob, env: &[(&str, &str)]) -> (JobReport, Function) {
    let mut f = Function::start_with_env(env!("CARGO_BIN_EXE_render-taskdef"), aws(), env).await;
    let r = f.invoke(&job.event, Duration::from_secs(30)).await;
    assert!(r.is_response(), "{r:?}\n{}", f.logs());
    let report = aws().job(&job.id).await;
    (
        report.unwrap_or_else(|| panic!("no report\n{}", f.logs())),
        f,
    )
}

async fn registrations(family: &str) -> usize {
    aws()
        .calls()
        .await
        .iter()
        .filter(|c| c.operation == "RegisterTaskDefinition")
        .filter(|c| c.request.as_ref().and_then(|r| r.get("family")) == Some(&json!(family)))
        .count()
}

#[tokio::test]
async fn ecs_refusing_the_task_definition_is_a_configuration_error_with_its_message() {
    for (family, code) in [
        ("refused-client", "ClientException"),
        ("refused-param", "InvalidParameterException"),
    ] {
        let message = "Invalid 'memory' setting for container 'app'";
        aws()
            .stub_error(
                "ecs",
                "RegisterTaskDefinition",
                json!({"family": family}),
                code,
                message,
            )
            .await;
        let (report, _) = run_with(&job(family, true).await, &[]).await;
        let text = report.expect_failure("ConfigurationError");
        assert!(text.contains(message) && text.contains(code), "{text}");
        assert!(text.contains(&format!("`{family}`")), "{text}");
        assert_eq!(registrations(family).await, 1, "a refusal is not retried");
    }
}

#[tokio::test]
async fn ecs_throttling_answered_as_a_client_exception_is_retried() {
    let family = "throttled-client";
    aws()
        .stub_error(
            "ecs",
            "RegisterTaskDefinition",
            json!({"family": family}),
            "ClientException",
            "Rate exceeded",
        )
        .await;
    let (report, _) = run_with(&job(family, true).await, &[]).await;
    let text = report.expect_failure("SystemUnavailable");
    assert!(
        text.contains("Rate exceeded") && text.contains("retry the stage"),
        "{text}"
    );
    assert_eq!(registrations(family).await, 3, "every attempt was made");
}

/// The system's store is never read unless asked for: with `SSL_CERT_FILE` and
/// `SSL_CERT_DIR` naming nothing, the function starts and works.
#[tokio::test]
async fn the_function_starts_without_any_certificate_store() {
    let env = [
        ("SSL_CERT_FILE", "/nonexistent/ca-certificates.crt"),
        ("SSL_CERT_DIR", "/nonexistent/certs"),
    ];
    let (report, f) = run_with(&job("tls-none", false).await, &env).await;
    report.expect_success();
    assert!(!f.logs().contains("certificate"), "{}", f.logs());
}

/// Runs the binary until it exits at start, and returns its output.
async fn refused_at_start(env: &[(&str, &str)]) -> String {
    let mut f = Function::start_with_env(env!("CARGO_BIN_EXE_render-taskdef"), aws(), env).await;
    for _ in 0..100 {
        if !f.is_running() {
            // Let the log readers drain the pipes.
            tokio::time::sleep(Duration::from_millis(100)).await;
            return f.logs();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the function kept running\n{}", f.logs());
}

/// The opt-ins read their files at start and refuse to start when they cannot.
#[tokio::test]
async fn the_opt_in_stores_are_read_at_start() {
    let logs = refused_at_start(&[
        ("AWS_TLS_ROOTS", "system"),
        ("SSL_CERT_FILE", "/nonexistent/ca-certificates.crt"),
        ("SSL_CERT_DIR", "/nonexistent/certs"),
    ])
    .await;
    assert!(
        logs.contains("AWS_TLS_ROOTS=system") && logs.contains("SSL_CERT_FILE"),
        "{logs}"
    );

    let logs = refused_at_start(&[("AWS_CA_BUNDLE", "/nonexistent/private-ca.pem")]).await;
    assert!(logs.contains("/nonexistent/private-ca.pem"), "{logs}");

    let logs = refused_at_start(&[("AWS_TLS_ROOTS", "native")]).await;
    assert!(logs.contains("`native`"), "{logs}");

    // A readable bundle: the function starts and works.
    let dir = std::env::temp_dir().join(format!("private-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bundle = dir.join("ca.pem");
    std::fs::write(&bundle, PRIVATE_CA).expect("bundle");
    let path = bundle.to_string_lossy().into_owned();
    let (report, _) = run_with(&job("tls-bundle", false).await, &[("AWS_CA_BUNDLE", &path)]).await;
    report.expect_success();
    let _ = std::fs::remove_dir_all(dir);
}

/// A CA certificate in PEM (ISRG Root X1), standing in for a private CA.
const PRIVATE_CA: &str = "\
-----BEGIN CERTIFICATE-----
MIIFazCCA1OgAwIBAgIRAIIQz7DSQONZRGPgu2OCiwAwDQYJKoZIhvcNAQELBQAw
TzELMAkGA1UEBhMCVVMxKTAnBgNVBAoTIEludGVybmV0IFNlY3VyaXR5IFJlc2Vh
cmNoIEdyb3VwMRUwEwYDVQQDEwxJU1JHIFJvb3QgWDEwHhcNMTUwNjA0MTEwNDM4
WhcNMzUwNjA0MTEwNDM4WjBPMQswCQYDVQQGEwJVUzEpMCcGA1UEChMgSW50ZXJu
ZXQgU2VjdXJpdHkgUmVzZWFyY2ggR3JvdXAxFTATBgNVBAMTDElTUkcgUm9vdCBY
MTCCAiIwDQYJKoZIhvcNAQEBBQADggIPADCCAgoCggIBAK3oJHP0FDfzm54rVygc
h77ct984kIxuPOZXoHj3dcKi/vVqbvYATyjb3miGbESTtrFj/RQSa78f0uoxmyF+
0TM8ukj13Xnfs7j/EvEhmkvBioZxaUpmZmyPfjxwv60pIgbz5MDmgK7iS4+3mX6U
A5/TR5d8mUgjU+g4rk8Kb4Mu0UlXjIB0ttov0DiNewNwIRt18jA8+o+u3dpjq+sW
T8KOEUt+zwvo/7V3LvSye0rgTBIlDHCNAymg4VMk7BPZ7hm/ELNKjD+Jo2FR3qyH
B5T0Y3HsLuJvW5iB4YlcNHlsdu87kGJ55tukmi8mxdAQ4Q7e2RCOFvu396j3x+UC
B5iPNgiV5+I3lg02dZ77DnKxHZu8A/lJBdiB3QW0KtZB6awBdpUKD9jf1b0SHzUv
KBds0pjBqAlkd25HN7rOrFleaJ1/ctaJxQZBKT5ZPt0m9STJEadao0xAH0ahmbWn
OlFuhjuefXKnEgV4We0+UXgVCwOPjdAvBbI+e0ocS3MFEvzG6uBQE3xDk3SzynTn
jh8BCNAw1FtxNrQHusEwMFxIt4I7mKZ9YIqioymCzLq9gwQbooMDQaHWBfEbwrbw
qHyGO0aoSCqI3Haadr8faqU9GY/rOPNk3sgrDQoo//fb4hVC1CLQJ13hef4Y53CI
rU7m2Ys6xt0nUW7/vGT1M0NPAgMBAAGjQjBAMA4GA1UdDwEB/wQEAwIBBjAPBgNV
HRMBAf8EBTADAQH/MB0GA1UdDgQWBBR5tFnme7bl5AFzgAiIyBpY9umbbjANBgkq
hkiG9w0BAQsFAAOCAgEAVR9YqbyyqFDQDLHYGmkgJykIrGF1XIpu+ILlaS/V9lZL
ubhzEFnTIZd+50xx+7LSYK05qAvqFyFWhfFQDlnrzuBZ6brJFe+GnY+EgPbk6ZGQ
3BebYhtF8GaV0nxvwuo77x/Py9auJ/GpsMiu/X1+mvoiBOv/2X/qkSsisRcOj/KK
NFtY2PwByVS5uCbMiogziUwthDyC3+6WVwW6LLv3xLfHTjuCvjHIInNzktHCgKQ5
ORAzI4JMPJ+GslWYHb4phowim57iaztXOoJwTdwJx4nLCgdNbOhdjsnvzqvHu7Ur
TkXWStAmzOVyyghqpZXjFaH3pO3JLF+l+/+sKAIuvtd7u+Nxe5AW0wdeRlN8NwdC
jNPElpzVmbUq4JUagEiuTDkHzsxHpFKVK7q4+63SM1N95R1NbdWhscdCb+ZAJzVc
oyi3B43njTOQ5yOf+1CceWxG1bQVs5ZufpsMljq4Ui0/1lvh+wjChP4kqKOJ2qxq
4RgqsahDYVvTH9w7jXbyLeiNdd8XM2w9U/t7y0Ff/9yi0GE44Za4rF2LN9d11TPA
mRGunUHBcnWEvgJBQl9nJEiU0Zsnvgc/ubhPgXRR4Xq37Z0j4r7g1SgEEzwxA57d
emyPxgcYxn/eR44/KJ4EBs+lVDR3veyJm+kXQ99b21/+jh5Xos1AnX5iItreGCc=
-----END CERTIFICATE-----
";
