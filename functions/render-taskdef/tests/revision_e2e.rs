//! End to end for the revision output: the real binary under the Lambda Runtime API,
//! against the local AWS (and a stand-in registry on a loopback port for an image outside
//! ECR).

mod common;

use common::*;
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use testkit::{JobBuilder, StagedJob};
/// The value of the registry password's secret: it must never reach the artifact or a log.
const SECRET: &str = "Reg1stry-Passw0rd-never-in-the-artifact";

fn text(files: &[(String, Vec<u8>)], name: &str) -> String {
    let (_, bytes) = files.iter().find(|(n, _)| n == name).unwrap_or_else(|| {
        panic!(
            "no {name} in {:?}",
            files.iter().map(|f| &f.0).collect::<Vec<_>>()
        )
    });
    String::from_utf8(bytes.clone()).expect("text")
}

/// A revision job: `uri` in BuildArtifact's `imageDetail.json`, `params` as UserParameters.
async fn with_image_detail(uri: &str, params: &serde_json::Value) -> StagedJob {
    JobBuilder::new()
        .input(
            "BuildArtifact",
            &[(
                "imageDetail.json",
                json!({"ImageURI": uri}).to_string().as_bytes(),
            )],
        )
        .user_parameters(params.to_string())
        .output("Revision")
        .stage(aws())
        .await
}

async fn seed_ecr(repository: &str, tag: &str) -> String {
    for (target, body) in testkit::seed::calls_of(
        &json!({"ecr": [{"repository": repository, "images": [{"tag": tag}]}]}),
    ) {
        aws()
            .json_call(&target, &body)
            .await
            .unwrap_or_else(|e| panic!("{target}: {e}"));
    }
    let out = aws()
        .json_call(
            "AmazonEC2ContainerRegistry_V20150921.DescribeImages",
            &json!({"repositoryName": repository, "imageIds": [{"imageTag": tag}]}),
        )
        .await
        .expect("describe");
    out["imageDetails"][0]["imageDigest"]
        .as_str()
        .expect("digest")
        .to_owned()
}

#[tokio::test]
async fn a_generated_revision_pins_an_ecr_tag_and_holds_appspec_scripts_and_env() {
    let digest = seed_ecr("e2e-rev-web", "v1.4.2").await;
    let params = json!({"revision": {
        "name": "web", "ports": [{"containerPort": 8080, "hostPort": 80}],
        "environment": {"LOG_LEVEL": "info"},
        "secrets": {"DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"},
        "health": {"url": "http://127.0.0.1/health"},
        "hooks": {"ValidateService": {"timeout": 600}}
    }});
    let job = with_image_detail(&format!("{ECR_HOST}/e2e-rev-web:v1.4.2"), &params).await;
    let report = run(&job).await;
    let (summary, vars) = report.expect_success();
    let short = &digest["sha256:".len().."sha256:".len() + 12];
    assert_eq!(
        summary,
        format!(
            "CodeDeploy revision for container web generated (installs to /opt/web); web -> 123456789012.dkr.ecr.../e2e-rev-web@sha256:{short}.. (from :v1.4.2)"
        )
    );
    let pinned = format!("{ECR_HOST}/e2e-rev-web@{digest}");
    assert_eq!(vars["ImageUri_web"], pinned.as_str());
    assert_eq!(vars["ImageDigest_web"], digest.as_str());

    let files = job.read_output(aws(), "Revision").await;
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "appspec.yml",
            "application-stop.sh",
            "before-install.sh",
            "application-start.sh",
            "validate-service.sh",
            "container.env"
        ]
    );
    let appspec = text(&files, "appspec.yml");
    assert!(
        appspec.starts_with(
            "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /opt/web\n"
        ),
        "{appspec}"
    );
    assert!(appspec.contains("  ValidateService:\n    - location: validate-service.sh\n      timeout: 600\n      runas: root\n"), "{appspec}");
    assert!(text(&files, "before-install.sh").contains(&format!("image='{pinned}'\n")));
    assert_eq!(text(&files, "container.env"), "LOG_LEVEL=info\n");
}

#[tokio::test]
async fn a_template_revision_gets_the_pinned_image_and_stays_byte_for_byte() {
    let digest = format!("sha256:{}", "cd".repeat(32));
    let start = b"#!/bin/bash\r\ndocker run -d --name web <IMAGE_URI>\r\n# digest <IMAGE_DIGEST>; keep <b>this</b>\n".to_vec();
    let appspec =
        b"version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n"
            .to_vec();
    let job = JobBuilder::new()
        .input(
            "SourceArtifact",
            &[
                ("deploy/appspec.yml", &appspec),
                ("deploy/scripts/start.sh", &start),
                ("README.md", b"not part of it"),
            ],
        )
        .input(
            "BuildArtifact",
            &[(
                "imagedefinitions.json",
                json!([{"name": "web", "imageUri": format!("docker.io/acme/web:v2@{digest}")}])
                    .to_string()
                    .as_bytes(),
            )],
        )
        .user_parameters(json!({"revision": {"template": "deploy/appspec.yml"}}).to_string())
        .output("Revision")
        .stage(aws())
        .await;
    let report = run(&job).await;
    let (summary, _) = report.expect_success();
    assert_eq!(
        summary,
        "CodeDeploy revision from template SourceArtifact/deploy filled; web -> docker.io/acme/web@sha256:cdcdcdcdcdcd.. (from :v2)"
    );
    let files = job.read_output(aws(), "Revision").await;
    assert_eq!(
        files.len(),
        2,
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert_eq!(text(&files, "appspec.yml").as_bytes(), appspec.as_slice());
    assert_eq!(
        text(&files, "scripts/start.sh"),
        format!(
            "#!/bin/bash\r\ndocker run -d --name web docker.io/acme/web@{digest}\r\n# digest {digest}; keep <b>this</b>\n"
        )
    );

    // A leftover placeholder is refused with its file and line.
    let job = JobBuilder::new()
        .input("SourceArtifact", &[("appspec.yml", &appspec), ("scripts/start.sh", b"docker pull <IMAGE_URI>\ndocker tag <IMAGE_TAG> web\n")])
        .user_parameters(json!({"images": {"web": format!("docker.io/acme/web@{digest}")}, "revision": {"template": "appspec.yml"}}).to_string())
        .output("Revision")
        .stage(aws())
        .await;
    let report = run(&job).await;
    let message = report.expect_failure("ConfigurationError");
    assert!(
        message.starts_with("SourceArtifact/scripts/start.sh:2: `<IMAGE_TAG>` is not a placeholder this action fills; use <IMAGE_URI> or <IMAGE_DIGEST>"),
        "{message}"
    );
}

#[tokio::test]
async fn bad_revision_settings_are_configuration_errors_that_name_the_fix() {
    for (params, expected) in [
        (
            json!({"revision": {"name": "web app"}}),
            "UserParameters.revision.name: `web app` is not a valid Docker container name",
        ),
        (
            json!({"revision": {"ports": [{"containerPort": 80, "hostPort": 99999}]}}),
            "ports[0].hostPort: 99999 is out of range; use a port from 1 to 65535",
        ),
        (
            json!({"revision": {"hooks": {"ValidateService": {"timeout": 7200}}}}),
            "hooks.ValidateService.timeout: is 7200 seconds; CodeDeploy allows 1 to 3600 seconds per hook script",
        ),
        (json!({"revision": {"nmae": "web"}}), "unknown key `nmae`"),
        (
            json!({"register": true, "revision": {}}),
            "`register` belong to the ECS task definition",
        ),
        (
            json!({"images": {"web": "docker.io/acme/web:v1;reboot"}, "revision": {"name": "web"}}),
            "only letters, digits and `._-:/@` may appear",
        ),
    ] {
        let job = with_image_detail(&format!("{ECR_HOST}/web:v1"), &params).await;
        let report = run(&job).await;
        let message = report.expect_failure("ConfigurationError");
        assert!(message.contains(expected), "{params}: {message}");
    }
}

/// A registry on a loopback port that answers every manifest request with `digest`, after
/// a Basic challenge; it records the `Authorization` headers it saw.
fn stand_in_registry(digest: &str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (digest, record) = (digest.to_owned(), seen.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut auth = None;
            let mut length = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                let l = line.trim_end().to_owned();
                line.clear();
                if l.is_empty() {
                    break;
                }
                if let Some((k, v)) = l.split_once(':') {
                    match k.to_ascii_lowercase().as_str() {
                        "authorization" => auth = Some(v.trim().to_owned()),
                        "content-length" => length = v.trim().parse().unwrap_or(0),
                        _ => {}
                    }
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let mut stream = stream;
            let answer = match &auth {
                None => "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
                Some(a) => {
                    record.lock().expect("lock").push(a.clone());
                    format!("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.distribution.manifest.v2+json\r\nDocker-Content-Digest: {digest}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                }
            };
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (port, seen)
}

#[tokio::test]
async fn a_tag_outside_ecr_is_pinned_through_the_registry_with_the_login_secret() {
    let digest = format!("sha256:{}", "ef".repeat(32));
    let (port, seen) = stand_in_registry(&digest);
    let sm = aws_sdk_secretsmanager::Client::new(&aws().sdk_config().await);
    let arn = sm
        .create_secret()
        .name(format!("e2e-registry-{port}"))
        .secret_string(SECRET)
        .send()
        .await
        .expect("secret")
        .arn()
        .expect("arn")
        .to_owned();
    let image = format!("127.0.0.1:{port}/acme/web:v3");
    let params = json!({"images": {"web": image}, "revision": {"login": {"username": "deploybot", "passwordFrom": arn}}});
    let job = JobBuilder::new()
        .user_parameters(params.to_string())
        .output("Revision")
        .stage(aws())
        .await;
    let (report, logs) = run_logged(&job).await;
    let (summary, vars) = report.expect_success();
    let pinned = format!("127.0.0.1:{port}/acme/web@{digest}");
    assert_eq!(vars["ImageUri_web"], pinned.as_str());
    assert!(summary.contains("(from :v3)"), "{summary}");
    assert!(
        !seen.lock().expect("lock").is_empty(),
        "the registry was asked with credentials"
    );

    let files = job.read_output(aws(), "Revision").await;
    for (name, bytes) in &files {
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "{name} holds the secret"
        );
    }
    assert!(text(&files, "before-install.sh").contains(&format!("password_from='{arn}'")));
    assert!(!logs.contains(SECRET), "{logs}");
}
