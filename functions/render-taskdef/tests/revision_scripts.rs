//! The generated revision's scripts: `shellcheck` clean, and run with `sh` in the order
//! CodeDeploy runs them (ApplicationStop of the previous revision, then BeforeInstall,
//! ApplicationStart and ValidateService of the new one) against stand-in `docker`, `aws`,
//! `curl` and `sleep` executables that record their calls and play an instance's state.

use render_taskdef::images::ImageName;
use render_taskdef::revision::RevisionConfig;
use render_taskdef::revision::generate::{self, Deploy};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const ECR: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web";
const SECRET: &str = "s3cr3t-Value-only-on-the-instance";
const STAND_INS: [(&str, &str); 5] = [
    ("docker", include_str!("stand-ins/docker")),
    ("aws", include_str!("stand-ins/aws")),
    ("curl", include_str!("stand-ins/curl")),
    ("sleep", include_str!("stand-ins/sleep")),
    ("date", include_str!("stand-ins/date")),
];

fn digest(n: u8) -> String {
    format!("sha256:{}", format!("{n:02x}").repeat(32))
}

fn image(n: u8) -> String {
    format!("{ECR}@{}", digest(n))
}

fn config(json: &str) -> RevisionConfig {
    let rev: RevisionConfig = serde_json::from_str(json).expect("config");
    assert_eq!(rev.check(), vec![], "{json}");
    rev
}

/// The revision's files for `image`.
fn revision(rev: &RevisionConfig, image: &str) -> Vec<(String, Vec<u8>)> {
    let name = ImageName::parse(image).expect("image");
    let login = generate::login(rev, &name).expect("login");
    let deploy = Deploy {
        name: rev.name.as_deref().unwrap_or("web"),
        image,
        default_region: Some("us-east-1"),
    };
    generate::files(rev, &deploy, &login)
}

/// A scratch instance: the stand-ins on PATH, their state, and revisions unpacked as the
/// CodeDeploy agent unpacks them.
struct Instance {
    root: PathBuf,
    /// What the stand-in `aws` answers for a secret.
    secret: String,
}

impl Instance {
    fn new() -> Self {
        Self::with(&STAND_INS)
    }

    /// An instance with a real Docker engine and `curl`: only `aws` stands in.
    fn on_engine(secret: &str) -> Self {
        let mut i = Self::with(&STAND_INS[1..2]);
        i.secret = secret.to_owned();
        i
    }

    fn with(stand_ins: &[(&str, &str)]) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "revision-scripts-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&root);
        for dir in ["bin", "state", "tmp"] {
            std::fs::create_dir_all(root.join(dir)).expect("mkdir");
        }
        for (name, text) in stand_ins {
            let path = root.join("bin").join(name);
            std::fs::write(&path, text).expect("stand-in");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let i = Self {
            root,
            secret: SECRET.to_owned(),
        };
        i.set("health", "200 ok\n");
        i
    }

    fn state(&self) -> PathBuf {
        self.root.join("state")
    }

    fn set(&self, file: &str, text: &str) {
        std::fs::write(self.state().join(file), text).expect("state");
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.state().join(file)).unwrap_or_default()
    }

    /// Unpacks a revision into its own deployment-archive folder.
    fn unpack(&self, label: &str, files: &[(String, Vec<u8>)]) -> PathBuf {
        let dir = self.root.join(label).join("deployment-archive");
        std::fs::create_dir_all(&dir).expect("mkdir");
        for (path, bytes) in files {
            std::fs::write(dir.join(path), bytes).expect("write");
        }
        dir
    }

    /// Runs one hook's script with `sh`, as the agent does, from another working directory.
    fn hook(&self, archive: &Path, hook: &str) -> Output {
        let script = archive.join(generate::script_name(hook));
        self.set(
            "calls.log",
            &format!("{}--- {hook}\n", self.read("calls.log")),
        );
        Command::new("sh")
            .arg(&script)
            .current_dir("/")
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.root.join("bin").display()),
            )
            .env("STUB_STATE", self.state())
            .env("STUB_SECRET", &self.secret)
            .env("TMPDIR", self.root.join("tmp"))
            .env("LIFECYCLE_EVENT", hook)
            .env("DEPLOYMENT_ID", "d-TEST12345")
            .output()
            .expect("sh")
    }

    /// Runs a deployment's hooks in CodeDeploy's order; stops at the first failure.
    /// `previous` is the last successful revision, whose ApplicationStop runs first.
    fn deploy(&self, previous: Option<&Path>, new: &Path) -> Result<String, (String, String)> {
        let mut log = String::new();
        let mut steps: Vec<(&Path, &str)> = Vec::new();
        if let Some(p) = previous {
            steps.push((p, "ApplicationStop"));
        }
        for hook in ["BeforeInstall", "ApplicationStart", "ValidateService"] {
            steps.push((new, hook));
        }
        for (dir, hook) in steps {
            let out = self.hook(dir, hook);
            log.push_str(&String::from_utf8_lossy(&out.stdout));
            log.push_str(&String::from_utf8_lossy(&out.stderr));
            if !out.status.success() {
                return Err((hook.to_owned(), log));
            }
        }
        Ok(log)
    }

    fn calls(&self) -> String {
        self.read("calls.log")
    }

    /// The calls made during one hook.
    fn calls_in(&self, hook: &str) -> Vec<String> {
        let all = self.calls();
        let Some((_, after)) = all.rsplit_once(&format!("--- {hook}\n")) else {
            return Vec::new();
        };
        after
            .lines()
            .take_while(|l| !l.starts_with("--- "))
            .map(str::to_owned)
            .collect()
    }

    fn container(&self, name: &str) -> Option<(String, String)> {
        let text = std::fs::read_to_string(self.state().join("containers").join(name)).ok()?;
        let mut lines = text.lines();
        Some((lines.next()?.to_owned(), lines.next()?.to_owned()))
    }

    fn images(&self) -> Vec<String> {
        self.read("images").lines().map(str::to_owned).collect()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

const FULL: &str = r#"{"name": "web", "ports": [{"containerPort": 8080, "hostPort": 80}],
    "environment": {"LOG_LEVEL": "info", "GREETING": "it's $(id) `id`"},
    "secrets": {"DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf", "API_KEY": "/web/api-key"},
    "restart": "on-failure:3", "logDriver": "awslogs", "logOptions": {"awslogs-group": "/ec2/web"},
    "dockerArgs": ["--label", "team=web shop", "--memory=512m"], "command": ["node", "server.js", "--name=a b"],
    "health": {"url": "http://127.0.0.1/health", "status": 200, "contains": "ok", "interval": 2},
    "hooks": {"ValidateService": {"timeout": 60}}}"#;

#[test]
fn every_generated_script_is_shellcheck_clean() {
    let configs = [
        "{}",
        FULL,
        r#"{"name": "api", "login": {"username": "bot", "passwordFrom": "arn:aws:ssm:eu-west-1:123456789012:parameter/hub/token"}, "ports": [{"containerPort": 53, "protocol": "udp", "hostIp": "::1"}]}"#,
    ];
    let dir = std::env::temp_dir().join(format!("revision-shellcheck-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (i, json) in configs.iter().enumerate() {
        let rev = config(json);
        let img = if json.contains("login") {
            format!("docker.io/acme/api@{}", digest(1))
        } else {
            image(1)
        };
        for (path, bytes) in revision(&rev, &img) {
            if !path.ends_with(".sh") {
                continue;
            }
            let file = dir.join(format!("{i}-{path}"));
            std::fs::write(&file, &bytes).expect("write");
            let text = String::from_utf8(bytes).expect("utf8");
            assert!(text.starts_with("#!/bin/sh\n"), "{path}");
            assert!(text.contains("\nset -eu\n"), "{path}");
            let out = Command::new("/usr/bin/shellcheck")
                .args(["-s", "sh"])
                .arg(&file)
                .output()
                .expect("shellcheck (Debian's shellcheck package) must be installed");
            assert!(
                out.status.success(),
                "{json}\n{path}:\n{}\n{text}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn first_deployment_logs_in_pulls_and_starts_the_pinned_image() {
    let i = Instance::new();
    let rev = config(FULL);
    let v1 = i.unpack("d-1", &revision(&rev, &image(1)));
    let log = i
        .deploy(None, &v1)
        .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
    assert_eq!(i.container("web"), Some(("running".into(), image(1))));

    let before = i.calls_in("BeforeInstall");
    assert_eq!(
        before,
        [
            format!("docker image inspect {}", image(1)),
            "aws ecr get-login-password --region us-east-1".into(),
            "docker login --username AWS --password-stdin 123456789012.dkr.ecr.us-east-1.amazonaws.com".into(),
            format!("docker pull {}", image(1)),
            "docker logout 123456789012.dkr.ecr.us-east-1.amazonaws.com".into(),
        ]
    );
    assert_eq!(
        i.read("login.stdin"),
        "ecr-login-token\n",
        "the token goes through stdin"
    );

    let run = i
        .calls_in("ApplicationStart")
        .into_iter()
        .find(|c| c.starts_with("docker run"))
        .expect("docker run");
    let archive = v1.display();
    let tmp = i.root.join("tmp");
    let secret_file = run
        .split(' ')
        .find(|w| w.starts_with(&tmp.display().to_string()))
        .expect("the secrets' env file")
        .to_owned();
    assert_eq!(
        run,
        format!(
            "docker run --detach --name web --label com.amazonaws.codedeploy.deployment-id=d-TEST12345 --restart on-failure:3 --publish 80:8080/tcp --env-file {archive}/container.env --log-driver awslogs --log-opt awslogs-group=/ec2/web --label team=web shop --memory=512m --env-file {secret_file} {} node server.js --name=a b",
            image(1)
        )
    );
    // The secrets: read on the instance, into a mode 600 file, removed once Docker has it.
    let env_files = i.read("env-files");
    assert!(
        env_files.contains(&format!(
            "file {archive}/container.env mode 644\nLOG_LEVEL=info\nGREETING=it's $(id) `id`\n"
        )),
        "{env_files}"
    );
    assert!(
        env_files.contains(&format!(
            "file {secret_file} mode 600\nDB_PASSWORD={SECRET}\nAPI_KEY={SECRET}\n"
        )),
        "{env_files}"
    );
    assert!(
        !Path::new(&secret_file).exists(),
        "the secrets' file is removed"
    );
    assert_eq!(
        std::fs::read_dir(&tmp).expect("tmp").count(),
        0,
        "nothing left in TMPDIR"
    );
    assert!(
        i.calls().contains("aws secretsmanager get-secret-value --region us-east-1 --secret-id arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf --query SecretString --output text"),
        "{}",
        i.calls()
    );
    assert!(i.calls().contains("aws ssm get-parameter --region us-east-1 --name /web/api-key --with-decryption --query Parameter.Value --output text"));
    assert!(!i.calls().contains(SECRET), "no secret in any command line");
    assert!(!log.contains(SECRET), "no secret in the output:\n{log}");
    let validate = i.calls_in("ValidateService");
    assert_eq!(
        validate[0],
        "docker container inspect --format {{.State.Status}} web"
    );
    assert!(
        validate[1].starts_with("curl --silent --max-time 5 --output ")
            && validate[1].ends_with(" --write-out %{http_code} http://127.0.0.1/health"),
        "{validate:?}"
    );
    assert_eq!(validate.len(), 2, "{validate:?}");
    assert!(
        log.contains("ValidateService: http://127.0.0.1/health answered 200"),
        "{log}"
    );
}

#[test]
fn no_secret_value_is_ever_in_the_revision() {
    let rev = config(FULL);
    for (path, bytes) in revision(&rev, &image(1)) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(SECRET), "{path}");
        assert!(!text.contains("ecr-login-token"), "{path}");
    }
}

#[test]
fn redeployment_replaces_the_container_and_keeps_the_previous_image() {
    let i = Instance::new();
    let rev = config(r#"{"name": "web", "ports": [{"containerPort": 8080}]}"#);
    let v1 = i.unpack("d-1", &revision(&rev, &image(1)));
    let v2 = i.unpack("d-2", &revision(&rev, &image(2)));
    i.deploy(None, &v1)
        .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
    let log = i
        .deploy(Some(&v1), &v2)
        .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
    assert_eq!(i.container("web"), Some(("running".into(), image(2))));
    assert_eq!(
        i.calls_in("ApplicationStop"),
        [
            "docker container inspect web",
            "docker stop -t 30 web",
            "docker rm --force web",
        ]
    );
    assert_eq!(i.images(), [image(1), image(2)], "the previous image stays");
    assert!(!i.calls().contains("docker rmi"), "{}", i.calls());
    assert!(!i.calls().contains("docker image rm"), "{}", i.calls());
    assert!(
        log.contains("ApplicationStop: container web removed; its image stays on the instance"),
        "{log}"
    );
}

#[test]
fn application_stop_tolerates_a_first_deployment_and_a_container_removed_by_hand() {
    let i = Instance::new();
    let rev = config("{}");
    let v1 = i.unpack("d-1", &revision(&rev, &image(1)));
    let out = i.hook(&v1, "ApplicationStop");
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("no container web on this instance; nothing to stop")
    );
    i.deploy(None, &v1)
        .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
    std::fs::remove_file(i.state().join("containers/web")).expect("removed by hand");
    let v2 = i.unpack("d-2", &revision(&rev, &image(2)));
    i.deploy(Some(&v1), &v2)
        .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
    assert_eq!(i.container("web"), Some(("running".into(), image(2))));
}

#[test]
fn a_failed_pull_fails_before_install_and_leaves_nothing_running() {
    let i = Instance::new();
    let rev = config("{}");
    let v1 = i.unpack("d-1", &revision(&rev, &image(1)));
    i.set("pull.fail", "");
    let (hook, log) = i.deploy(None, &v1).expect_err("the pull fails");
    assert_eq!(hook, "BeforeInstall");
    assert!(
        log.contains("manifest unknown"),
        "Docker's own message is kept: {log}"
    );
    assert!(
        log.trim_end().ends_with(&format!(
            "BeforeInstall: could not pull {}; check that the instance reaches the registry and may read the repository",
            image(1)
        )),
        "{log}"
    );
    assert!(
        i.calls_in("BeforeInstall")
            .iter()
            .any(|c| c.starts_with("docker logout")),
        "logged out after a failure too"
    );
    assert_eq!(i.container("web"), None);
}

#[test]
fn a_failed_health_check_prints_the_last_log_lines_then_the_reason() {
    let i = Instance::new();
    let rev = config(
        r#"{"health": {"url": "http://127.0.0.1:8080/ready", "contains": "ready"}, "hooks": {"ValidateService": {"timeout": 20}}}"#,
    );
    let v1 = i.unpack("d-1", &revision(&rev, &image(1)));
    i.set("health", "000 \n503 starting\n200 not yet\n");
    let (hook, log) = i.deploy(None, &v1).expect_err("the check fails");
    assert_eq!(hook, "ValidateService");
    assert!(
        log.contains("--- last 20 log lines of container web ---\napp log line 1\n"),
        "{log}"
    );
    assert!(log.contains("app log line 25\n---\n"), "{log}");
    assert!(
        log.trim_end().ends_with(
            "ValidateService: http://127.0.0.1:8080/ready did not answer 200 with \"ready\" within 16s (last: status 200)"
        ),
        "{log}"
    );
    assert!(i.calls().contains("docker logs --tail 20 web"));
    // Within the hook's budget: 16 s at 5 s intervals is 4 attempts.
    let probes = i.calls().lines().filter(|l| l.starts_with("curl")).count();
    assert_eq!(probes, 4, "{}", i.calls());
}

/// A health URL that accepts connections and never answers, on a virtual clock (the
/// stand-ins `date`, `sleep` and `curl` move it): for each timeout and interval the
/// script gives its reason inside the hook's budget, so before CodeDeploy stops it.
#[test]
fn a_health_url_that_never_answers_fails_inside_the_hooks_timeout() {
    const START: u64 = 1_000_000;
    for (timeout, interval) in [
        (20, None),
        (20, Some(2)),
        (10, Some(5)),
        (8, Some(1)),
        (5, Some(5)),
        (30, Some(7)),
        (60, Some(10)),
        (120, Some(30)),
        (900, Some(30)),
    ] {
        let i = Instance::new();
        let health = match interval {
            Some(n) => format!(r#"{{"url": "http://127.0.0.1:8080/ready", "interval": {n}}}"#),
            None => r#"{"url": "http://127.0.0.1:8080/ready"}"#.to_owned(),
        };
        let rev = config(&format!(
            r#"{{"health": {health}, "hooks": {{"ValidateService": {{"timeout": {timeout}}}}}}}"#
        ));
        let v1 = i.unpack("d-1", &revision(&rev, &image(1)));
        for hook in ["BeforeInstall", "ApplicationStart"] {
            assert!(i.hook(&v1, hook).status.success(), "{hook}");
        }
        i.set("health", "hang\n");
        i.set("clock", &START.to_string());
        let out = i.hook(&v1, "ValidateService");
        let log = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{timeout}s/{interval:?}: {log}");
        let ran = i.read("clock").trim().parse::<u64>().unwrap() - START;
        let budget = timeout - (timeout / 5).clamp(1, 15);
        assert!(
            ran <= budget,
            "timeout {timeout}s, interval {interval:?}: the script ran {ran}s, its budget is {budget}s\n{log}"
        );
        assert!(log.contains("did not answer 200"), "{log}");
        assert!(
            i.calls_in("ValidateService")
                .iter()
                .any(|c| c.starts_with("curl"))
        );
    }
}

#[test]
fn a_container_that_does_not_run_fails_validation() {
    let i = Instance::new();
    let rev = config(r#"{"hooks": {"ValidateService": {"timeout": 10}}}"#);
    let v1 = i.unpack("d-1", &revision(&rev, &image(1)));
    i.set("run.state", "exited");
    let (hook, log) = i.deploy(None, &v1).expect_err("not running");
    assert_eq!(hook, "ValidateService");
    assert!(log.contains("app log line 25"), "{log}");
    assert!(
        log.trim_end()
            .ends_with("container web is not running (state: exited) after 8s"),
        "{log}"
    );
}

#[test]
fn rollback_to_the_previous_revision_starts_without_a_pull() {
    let i = Instance::new();
    let rev = config(
        r#"{"health": {"url": "http://127.0.0.1/health"}, "hooks": {"ValidateService": {"timeout": 10}}}"#,
    );
    let v1 = i.unpack("d-1", &revision(&rev, &image(1)));
    let v2 = i.unpack("d-2", &revision(&rev, &image(2)));
    i.deploy(None, &v1)
        .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
    // The new revision fails its health check.
    i.set("health", "500 broken\n");
    let (hook, _) = i.deploy(Some(&v1), &v2).expect_err("v2 is unhealthy");
    assert_eq!(hook, "ValidateService");
    assert_eq!(i.container("web").map(|c| c.1), Some(image(2)));
    // CodeDeploy's rollback deploys v1 again; the last successful revision is still v1,
    // whose ApplicationStop removes the failed container by name.
    i.set("health", "200 ok\n");
    i.set("calls.log", "");
    let d3 = i.unpack("d-3", &revision(&rev, &image(1)));
    i.deploy(Some(&v1), &d3)
        .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
    assert_eq!(i.container("web"), Some(("running".into(), image(1))));
    assert_eq!(
        i.calls_in("BeforeInstall"),
        [format!("docker image inspect {}", image(1))],
        "the previous image is still there: no login, no pull"
    );
    assert!(!i.calls().contains("docker pull"), "{}", i.calls());
}

#[test]
fn docker_hub_login_reads_the_password_on_the_instance() {
    let i = Instance::new();
    let rev = config(
        r#"{"login": {"username": "deploybot", "passwordFrom": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hub-AbCdEf"}}"#,
    );
    let hub = format!("docker.io/acme/web@{}", digest(7));
    let files = revision(&rev, &hub);
    for (path, bytes) in &files {
        assert!(!String::from_utf8_lossy(bytes).contains(SECRET), "{path}");
    }
    let v1 = i.unpack("d-1", &files);
    i.deploy(None, &v1)
        .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
    assert_eq!(
        i.calls_in("BeforeInstall")[1..],
        [
            "aws secretsmanager get-secret-value --region eu-west-1 --secret-id arn:aws:secretsmanager:eu-west-1:123456789012:secret:hub-AbCdEf --query SecretString --output text".to_owned(),
            "docker login --username deploybot --password-stdin docker.io".into(),
            format!("docker pull {hub}"),
            "docker logout docker.io".into(),
        ]
    );
    assert_eq!(i.read("login.stdin"), format!("{SECRET}\n"));
    assert!(!i.calls().contains(SECRET));

    // A password that cannot be read fails the hook with what the role needs.
    let i = Instance::new();
    let v1 = i.unpack("d-1", &files);
    i.set("secrets.fail", "");
    let (hook, log) = i.deploy(None, &v1).expect_err("no access");
    assert_eq!(hook, "BeforeInstall");
    assert!(
        log.contains("the instance role needs secretsmanager:GetSecretValue"),
        "{log}"
    );
}

/// The revision on a real Docker engine (Debian's `docker.io`, started by `scripts/setup`
/// loopback-only, every container on the host network) and a real `docker-registry` with
/// htpasswd auth; only `aws` stands in (it answers the registry password). Where no engine
/// runs the test says so loudly, and fails when `REQUIRE_DOCKER` is set (CI sets it).
mod engine {
    use super::*;
    use testkit::registry::{AuthMode, PASSWORD, Registry, USER};

    fn docker(args: &[&str]) -> Output {
        Command::new("docker").args(args).output().expect("docker")
    }

    fn ok(args: &[&str]) -> String {
        let out = docker(args);
        assert!(
            out.status.success(),
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn available() -> bool {
        let up = Command::new("docker")
            .arg("info")
            .output()
            .is_ok_and(|o| o.status.success());
        if !up {
            let message = "NO DOCKER ENGINE: the revision was not run on a real engine (run scripts/setup as root to install and start one)";
            assert!(std::env::var_os("REQUIRE_DOCKER").is_none(), "{message}");
            eprintln!("\n*** {message} ***\n");
        }
        up
    }

    /// Builds a busybox image whose command serves `/ready` on `port` (`status` 200 with
    /// `body`, or 500 through CGI; `exit` makes it exit at start) and pushes it as
    /// `<registry>/web:<tag>`; returns `name@digest`.
    fn image(registry: &str, tag: &str, port: u16, kind: &str) -> String {
        let root = std::env::temp_dir().join(format!("engine-image-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("www/cgi-bin")).unwrap();
        std::fs::copy("/bin/busybox", root.join("bin/busybox"))
            .expect("busybox-static (scripts/setup installs it)");
        for tool in ["sh", "httpd", "env", "cat"] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(tool)).unwrap();
        }
        std::fs::write(root.join("www/ready"), format!("ready {tag}\n")).unwrap();
        let cgi = root.join("www/cgi-bin/ready");
        std::fs::write(
            &cgi,
            "#!/bin/sh\nprintf 'Status: 500 Internal Server Error\\r\\n\\r\\nbroken\\n'\n",
        )
        .unwrap();
        std::fs::set_permissions(&cgi, std::fs::Permissions::from_mode(0o755)).unwrap();
        let cmd = match kind {
            "exit" => r#"CMD ["/bin/sh", "-c", "echo cannot start; exit 3"]"#.to_owned(),
            _ => format!(r#"CMD ["/bin/httpd", "-f", "-p", "127.0.0.1:{port}", "-h", "/www"]"#),
        };
        let name = format!("{registry}/web:{tag}");
        let tar = Command::new("tar")
            .args(["-C", root.to_str().unwrap(), "-c", "."])
            .output()
            .expect("tar");
        let mut import = Command::new("docker")
            .args(["import", "--change", &cmd, "-", &name])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("docker import");
        use std::io::Write;
        import.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
        assert!(import.wait().unwrap().success(), "docker import");
        ok(&["push", &name]);
        let digest = ok(&["inspect", "--format", "{{index .RepoDigests 0}}", &name]);
        // The instance pulls it: nothing of it is on the engine before.
        ok(&["rmi", &name]);
        let _ = std::fs::remove_dir_all(&root);
        digest
    }

    fn running(name: &str) -> Option<(String, String)> {
        let out = docker(&[
            "inspect",
            "--format",
            "{{.State.Status}} {{.Config.Image}}",
            name,
        ]);
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        text.split_once(' ')
            .map(|(s, i)| (s.to_owned(), i.to_owned()))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_revision_runs_on_a_real_engine_and_registry() {
        if !available() {
            return;
        }
        let registry = Registry::start(AuthMode::Basic).await;
        let host = registry.host();
        ok(&["login", "--username", USER, "--password", PASSWORD, &host]);
        let port = 18_000 + (std::process::id() % 1000) as u16;
        let name = format!("engine-web-{}", std::process::id());
        let v1 = image(&host, "v1", port, "ok");
        let v2 = image(&host, "v2", port, "ok");
        let dies = image(&host, "dies", port, "exit");
        let sick = image(&host, "sick", port, "ok");
        ok(&["logout", &host]);
        let config = |path: &str| {
            config(&format!(
                r#"{{"name": "{name}", "login": {{"username": "{USER}", "passwordFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:registry-AbCdEf"}},
                "environment": {{"GREETING": "it's $(id) `id`; *", "QUOTED": "\"a b\" 'c'"}},
                "restart": "on-failure:3", "logDriver": "json-file", "logOptions": {{"max-size": "1m"}}, "dockerArgs": ["--network", "host"],
                "health": {{"url": "http://127.0.0.1:{port}{path}", "contains": "ready", "interval": 1}},
                "hooks": {{"ValidateService": {{"timeout": 10}}, "ApplicationStop": {{"timeout": 4}}}}}}"#
            ))
        };
        let good = config("/ready");
        let i = Instance::on_engine(PASSWORD);
        let r1 = i.unpack("d-1", &revision(&good, &v1));
        let r2 = i.unpack("d-2", &revision(&good, &v2));

        // First deployment: logged in with the secret, pulled by digest, running, healthy.
        i.deploy(None, &r1)
            .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
        assert_eq!(running(&name), Some(("running".into(), v1.clone())));
        let env = ok(&["inspect", "--format", "{{json .Config.Env}}", &name]);
        let env: Vec<String> = serde_json::from_str(&env).unwrap();
        assert!(
            env.contains(&"GREETING=it's $(id) `id`; *".to_owned()),
            "{env:?}"
        );
        assert!(env.contains(&"QUOTED=\"a b\" 'c'".to_owned()), "{env:?}");
        assert_eq!(
            ok(&[
                "inspect",
                "--format",
                "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}} {{index .HostConfig.LogConfig.Config \"max-size\"}}",
                &name
            ]),
            "on-failure:3 1m"
        );
        assert!(
            ok(&["inspect", "--format", "{{json .Config.Labels}}", &name]).contains("d-TEST12345")
        );

        // A new image by digest replaces the container; the same revision again is fine.
        i.deploy(Some(&r1), &r2)
            .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
        assert_eq!(running(&name), Some(("running".into(), v2.clone())));
        i.deploy(Some(&r2), &r2)
            .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
        assert_eq!(running(&name), Some(("running".into(), v2.clone())));

        // A container that exits at start, and a health URL answering 500, fail validation.
        let r3 = i.unpack("d-3", &revision(&good, &dies));
        let (hook, log) = i.deploy(Some(&r2), &r3).expect_err("it exits");
        assert_eq!(hook, "ValidateService", "{log}");
        assert!(
            log.contains("cannot start") && log.contains("is not running"),
            "{log}"
        );
        let r4 = i.unpack("d-4", &revision(&config("/cgi-bin/ready"), &sick));
        let (hook, log) = i.deploy(Some(&r3), &r4).expect_err("500");
        assert_eq!(hook, "ValidateService", "{log}");
        assert!(log.contains("(last: status 500)"), "{log}");

        // Rollback to the first revision: its image is still on the instance, so no pull,
        // even with the registry gone.
        drop(registry);
        i.deploy(Some(&r4), &r1)
            .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
        assert_eq!(running(&name), Some(("running".into(), v1.clone())));

        // A wrong password: the pull is refused and BeforeInstall says so.
        let registry = Registry::start(AuthMode::Basic).await;
        let other = Instance::on_engine("not-the-password");
        let moved = v2.replace(&host, &registry.host());
        let r5 = other.unpack("d-5", &revision(&good, &moved));
        let (hook, log) = other.deploy(Some(&r1), &r5).expect_err("refused");
        assert_eq!(hook, "BeforeInstall", "{log}");
        assert!(
            log.to_ascii_lowercase().contains("unauthorized") || log.contains("login"),
            "{log}"
        );
        let _ = docker(&["rm", "-f", &name]);
    }
}
