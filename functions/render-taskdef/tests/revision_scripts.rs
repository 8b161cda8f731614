//! The generated revision's scripts: `shellcheck` clean at every severity, and run with `sh`
//! in the order CodeDeploy runs them (ApplicationStop of the previous revision, then
//! BeforeInstall, ApplicationStart and ValidateService of the new one). Most tests run them
//! against stand-in `docker`, `aws`, `curl`, `sleep` and `date` executables that record their
//! calls and play an instance's state, for what the real parts cannot be made to do on
//! demand (a pull that fails, a health URL that never answers, on a virtual clock). Module
//! `engine` runs them with nothing standing in: a real Docker engine and registry, the real
//! AWS CLI and the local AWS.

use render_taskdef::images::ImageName;
use render_taskdef::revision::RevisionConfig;
use render_taskdef::revision::generate::{self, Deploy};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use testkit::LocalAws;

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
    /// Further environment of every hook (the real AWS CLI's endpoint and credentials).
    env: Vec<(String, String)>,
}

impl Instance {
    fn new() -> Self {
        Self::with(&STAND_INS)
    }

    /// An instance with a real Docker engine, `curl` and AWS CLI (`awscli` in the project's
    /// `.venv`), the CLI pointed at `aws` with test credentials. Nothing stands in.
    fn on_engine(aws: &LocalAws) -> Self {
        let mut i = Self::with(&[]);
        let cli = testkit::workspace_root().join(".venv/bin/aws");
        assert!(
            cli.exists(),
            "no AWS CLI at {} (scripts/setup installs awscli into .venv)",
            cli.display()
        );
        std::os::unix::fs::symlink(&cli, i.root.join("bin/aws")).expect("aws on PATH");
        let root = i.root.display().to_string();
        i.env = [
            ("AWS_ENDPOINT_URL", aws.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            // No profile of the machine's, and no instance metadata to ask.
            ("AWS_CONFIG_FILE", format!("{root}/aws-config")),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                format!("{root}/aws-credentials"),
            ),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            // The instance's own Docker client configuration (its registry logins).
            ("DOCKER_CONFIG", format!("{root}/docker")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
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
            env: Vec::new(),
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
        for (path, bytes) in files {
            let file = dir.join(path);
            std::fs::create_dir_all(file.parent().expect("a folder")).expect("mkdir");
            std::fs::write(file, bytes).expect("write");
        }
        dir
    }

    /// Runs one hook's script with `sh`, as the agent does, from another working directory:
    /// the script the revision's `appspec.yml` names for the hook.
    fn hook(&self, archive: &Path, hook: &str) -> Output {
        self.hook_command(archive, hook).output().expect("sh")
    }

    /// The command that runs one hook's script as the agent would.
    fn hook_command(&self, archive: &Path, hook: &str) -> Command {
        let appspec = std::fs::read_to_string(archive.join("appspec.yml")).expect("appspec.yml");
        let script = archive.join(location(&appspec, hook).expect("the hook's script"));
        self.set(
            "calls.log",
            &format!("{}--- {hook}\n", self.read("calls.log")),
        );
        let mut command = Command::new("sh");
        command
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
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Runs one hook as the CodeDeploy agent does: stopped when its appspec `timeout` has
    /// passed. Whether it ended by itself, and its output.
    fn hook_as_agent(&self, archive: &Path, hook: &str) -> (bool, String) {
        let appspec = std::fs::read_to_string(archive.join("appspec.yml")).expect("appspec.yml");
        let timeout = hook_timeout(&appspec, hook).expect("the hook's timeout");
        let mut child = self
            .hook_command(archive, hook)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("sh");
        let stop = std::time::Instant::now() + std::time::Duration::from_secs(timeout);
        let ended = loop {
            if child.try_wait().expect("wait").is_some() {
                break true;
            }
            if std::time::Instant::now() >= stop {
                let _ = child.kill();
                break false;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let out = child.wait_with_output().expect("output");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (ended, text)
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
            let appspec = std::fs::read_to_string(dir.join("appspec.yml")).expect("appspec.yml");
            if location(&appspec, hook).is_none() {
                continue;
            }
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

/// The script an `appspec.yml` runs for `hook`: the `location` of its first entry.
fn location(appspec: &str, hook: &str) -> Option<String> {
    let mut lines = appspec
        .lines()
        .skip_while(|l| l.trim_end() != format!("  {hook}:"));
    lines.next()?;
    let entry = lines.next()?.trim_start().strip_prefix("- location:")?;
    Some(entry.trim().to_owned())
}

/// A hook's `timeout` in an appspec written as the generator writes it.
fn hook_timeout(appspec: &str, hook: &str) -> Option<u64> {
    appspec
        .lines()
        .skip_while(|l| l.trim_end() != format!("  {hook}:"))
        .nth(2)?
        .trim()
        .strip_prefix("timeout:")?
        .trim()
        .parse()
        .ok()
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

/// A value with every character that shell syntax could read as something else, blanks
/// at both ends and two together, for every place a value goes.
const TRICKY: &str = r#" it's "quoted" $HOME ${PATH:-x} $1 $$ $(id) `id`; a && b || c | d > e < f * ? [a-z] ~ \ \n & # two  spaces "#;

/// A registry user name with the same characters, except the blanks at its ends (see
/// the README: `docker login` trims those).
const LOGIN_USER: &str = r#"it's "quoted" $HOME `id`; a && b | c * ? [a-z] ~ \ & # two  spaces"#;

/// The plain environment of [`hostile`], one variable per kind of character.
const HOSTILE_ENV: [(&str, &str); 14] = [
    ("SINGLE", "it's 'single'"),
    ("DOUBLE", "say \"hi\""),
    ("DOLLAR", "$HOME ${PATH} $1 $$ $"),
    ("BACKTICK", "`id` $(id)"),
    ("SEMICOLON", "a; b && c || d | e"),
    ("GLOB", "* ? [a-z] ~"),
    ("SPACES", "  two  spaces  "),
    ("BACKSLASH", "a\\nb \\ c\\"),
    ("EMPTY", ""),
    ("EQUALS", "a=b=c"),
    ("HASH", "#not a comment"),
    ("UTF8", "grüße, ✓"),
    ("TRICKY", TRICKY),
    ("lower.dotted-name", "x"),
];

/// A revision with tricky values everywhere they can go: environment, secrets, login,
/// log options, docker arguments (a line break too: an argument may hold one), command,
/// health URL (`[]` and `{}`, which curl would read as a glob, `..` that it would squash)
/// and text. The container runs busybox `httpd` on `port` on the host network.
fn hostile(
    name: &str,
    port: u16,
    url: &str,
    password_from: &str,
    secrets: &[(&str, &str)],
) -> RevisionConfig {
    let environment: serde_json::Map<String, serde_json::Value> = HOSTILE_ENV
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let secrets: serde_json::Map<String, serde_json::Value> = secrets
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let rev: RevisionConfig = serde_json::from_value(json!({
        "name": name,
        "login": {"username": LOGIN_USER, "passwordFrom": password_from},
        "environment": environment,
        "secrets": secrets,
        "restart": "no",
        "logDriver": "json-file",
        "logOptions": {"max-size": "1m", "labels": TRICKY, "env": "SINGLE,DOUBLE"},
        "dockerArgs": hostile_args(),
        "command": hostile_command(port),
        "health": {"url": url, "contains": LOGIN_USER, "interval": 1},
        "hooks": {"ValidateService": {"timeout": 10}, "ApplicationStop": {"timeout": 4}},
    }))
    .expect("config");
    assert_eq!(rev.check(), vec![]);
    rev
}

fn hostile_args() -> Vec<String> {
    vec![
        "--network".into(),
        "host".into(),
        "--label".into(),
        format!("tricky={TRICKY}"),
        "--label=multi=line one\nline two".into(),
        "--env".into(),
        format!("ARG_ENV={TRICKY}"),
        "--env=ARG_MULTI=first\nsecond\n".into(),
    ]
}

/// busybox `httpd` as the container's first process (no shell before it, which would drop
/// variables whose names are not shell names), its realm (`-r`) a tricky value.
fn hostile_command(port: u16) -> Vec<String> {
    vec![
        "/bin/httpd".into(),
        "-f".into(),
        "-p".into(),
        format!("127.0.0.1:{port}"),
        "-h".into(),
        "/www".into(),
        "-r".into(),
        format!("first\nsecond{TRICKY}"),
    ]
}

/// The health URL of [`hostile`], on `host`: a query with `&`, `$`, quotes and brackets.
fn hostile_path() -> &'static str {
    "/a/../ready?a=1&b=$x&c=`id`&d='q'&e=\"q\"&f[]={g,h}&i=%41;j|k\\l~*"
}

/// What the configuration refuses because no Docker env file or `docker login` could
/// carry it, each with the reason.
#[test]
fn values_that_cannot_arrive_whole_are_refused() {
    for (json, why) in [
        (
            json!({"environment": {"A": "line one\nline two"}}),
            "environment.A: holds a line break, which a Docker env file cannot carry",
        ),
        (
            json!({"environment": {"A": "carriage\rreturn"}}),
            "environment.A: holds a line break",
        ),
        (
            json!({"login": {"username": "bot\nx", "passwordFrom": "/hub"}}),
            "login.username",
        ),
        (
            json!({"logDriver": "json-file", "logOptions": {"labels": "a\nb"}}),
            "logOptions.labels",
        ),
        (
            json!({"health": {"url": "http://127.0.0.1/ready", "contains": "a\nb"}}),
            "health.contains",
        ),
        (
            json!({"health": {"url": "http://127.0.0.1/a b"}}),
            "health.url",
        ),
        // A key of a JSON secret: the instance has no JSON tool to take it out; the
        // whole secret arrives instead (see the engine tests).
        (
            json!({"secrets": {"DB": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:password::"}}),
            "selects a JSON key",
        ),
        (
            json!({"login": {"username": "bot", "passwordFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:hub-AbCdEf:token::"}}),
            "selects a JSON key",
        ),
    ] {
        let rev: RevisionConfig = serde_json::from_value(json.clone()).expect("config");
        let problems: Vec<String> = rev.check().iter().map(ToString::to_string).collect();
        assert!(
            problems.iter().any(|p| p.contains(why)),
            "{json}: {problems:?}"
        );
    }
}

/// `shellcheck` at every severity (`style` and up) with its optional checks, as POSIX `sh`.
/// Of the optional checks only `require-variable-braces` (SC2250) is left out: it asks for
/// `${name}` in place of `$name` everywhere, a matter of taste that changes nothing in how
/// a script runs. The rest (masked return codes, `set -e` suppressed in a function, unquoted
/// variables, a `case` without a default, ...) are findings worth fixing in a hook script.
const SHELLCHECK: [&str; 8] = [
    "--shell=sh",
    "--severity=style",
    "--enable=all",
    "--exclude=SC2250",
    "--format=gcc",
    "--norc",
    "--color=never",
    "--external-sources",
];

/// Every problem `shellcheck` finds in `files`' scripts, written under `dir` as `<label>-<path>`.
fn shellcheck(dir: &Path, label: &str, files: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, bytes) in files {
        if !path.ends_with(".sh") {
            continue;
        }
        let file = dir.join(format!("{label}-{path}"));
        std::fs::write(&file, bytes).expect("write");
        let text = String::from_utf8_lossy(bytes);
        assert!(text.starts_with("#!/bin/sh\n"), "{path}");
        assert!(text.contains("\nset -eu\n"), "{path}");
        let out = Command::new("/usr/bin/shellcheck")
            .args(SHELLCHECK)
            .arg(&file)
            .output()
            .expect("shellcheck (Debian's shellcheck package) must be installed");
        if !out.status.success() {
            found.push(format!("{}\n{text}", String::from_utf8_lossy(&out.stdout)));
        }
    }
    found
}

#[test]
fn every_generated_script_is_shellcheck_clean() {
    let configs = [
        "{}",
        FULL,
        r#"{"name": "api", "login": {"username": "bot", "passwordFrom": "arn:aws:ssm:eu-west-1:123456789012:parameter/hub/token"}, "ports": [{"containerPort": 53, "protocol": "udp", "hostIp": "::1"}]}"#,
    ];
    let dir = std::env::temp_dir().join(format!("revision-shellcheck-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut found = Vec::new();
    for (i, json) in configs.iter().enumerate() {
        let rev = config(json);
        let img = if json.contains("login") {
            format!("docker.io/acme/api@{}", digest(1))
        } else {
            image(1)
        };
        found.extend(shellcheck(&dir, &i.to_string(), &revision(&rev, &img)));
    }
    // Every value that shell syntax could misread, in every place a value goes.
    for (password_from, secrets) in [
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:$(id)-AbCdEf",
            [
                (
                    "PLAIN",
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:`id`-AbCdEf",
                ),
                ("PARAMETER", "/web/$HOME/it's"),
            ],
        ),
        (
            "/registry/$password",
            [
                (
                    "$DOLLAR",
                    "arn:aws:ssm:us-east-1:123456789012:parameter/web/$x",
                ),
                ("it's", "/web/`id`"),
            ],
        ),
    ] {
        let url = format!("http://127.0.0.1:8080{}", hostile_path());
        let rev = hostile("web", 8080, &url, password_from, &secrets);
        let files = revision(&rev, &format!("docker.io/acme/api@{}", digest(1)));
        found.extend(shellcheck(
            &dir,
            password_from.replace('/', "_").as_str(),
            &files,
        ));
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
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
    let inspect = "docker container inspect --format {{.State.Status}} {{.RestartCount}} web";
    assert_eq!(validate[0], inspect);
    assert_eq!(validate[2], inspect, "still running, not restarted");
    assert!(
        validate[1].starts_with("curl --silent --globoff --path-as-is --max-time 5 --output ")
            && validate[1].ends_with(" --write-out %{http_code} http://127.0.0.1/health"),
        "{validate:?}"
    );
    assert_eq!(validate.len(), 3, "{validate:?}");
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
fn a_container_its_restart_policy_starts_again_fails_validation() {
    let i = Instance::new();
    let rev = config(r#"{"hooks": {"ValidateService": {"timeout": 10}}}"#);
    let v1 = i.unpack("d-1", &revision(&rev, &image(1)));
    // Running at this moment, but it exited twice already.
    i.set("restarts", "2");
    let (hook, log) = i.deploy(None, &v1).expect_err("crashing");
    assert_eq!(hook, "ValidateService");
    assert!(log.contains("app log line 25"), "{log}");
    assert!(
        log.trim_end().ends_with(
            "container web exited and its restart policy started it again 2 time(s) (state: running): it is crashing"
        ),
        "{log}"
    );
}

#[test]
fn without_a_health_check_the_container_must_still_run_one_interval_later() {
    let i = Instance::new();
    let rev = config(r#"{"hooks": {"ValidateService": {"timeout": 30}}}"#);
    let v1 = i.unpack("d-1", &revision(&rev, &image(1)));
    let log = i
        .deploy(None, &v1)
        .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
    assert!(
        log.contains("container web still runs and was not restarted"),
        "{log}"
    );
    let validate = i.calls_in("ValidateService");
    let inspect = "docker container inspect --format {{.State.Status}} {{.RestartCount}} web";
    assert_eq!(validate, [inspect, "sleep 5", inspect], "{validate:?}");
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

    // A password that cannot be read fails the hook with what the role needs. The stand-in
    // `aws` plays the refusal here, without an engine or a local AWS: moto does not enforce
    // IAM, so no real role can lack the permission. The engine tests have the real CLI get
    // IAM's AccessDeniedException, injected by the local AWS.
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
/// loopback-only, every container on the host network), a real `docker-registry` with
/// htpasswd auth, the real AWS CLI and the local AWS (moto: Secrets Manager and SSM Parameter
/// Store) holding the registry password and the container's secrets. Nothing stands in.
/// Where no engine runs the tests say so loudly, and fail when `REQUIRE_DOCKER` is set (CI
/// sets it).
mod engine {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    use testkit::registry::{AuthMode, PASSWORD, Registry, USER, free_port};

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

    /// `docker inspect --format '{{json <field>}}'`, read back.
    fn inspect<T: serde::de::DeserializeOwned>(name: &str, field: &str) -> T {
        let text = ok(&[
            "inspect",
            "--format",
            &format!("{{{{json {field}}}}}"),
            name,
        ]);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{field}: {e}: {text}"))
    }

    /// The environment of the container's first process, as the kernel holds it
    /// (`/proc/1/environ`: NUL-separated, so a line break in a value is seen as it is).
    fn environ(name: &str) -> Vec<String> {
        proc_file(name, "environ")
    }

    /// `/proc/1/<file>` in the container, split at its NULs.
    fn proc_file(name: &str, file: &str) -> Vec<String> {
        let out = docker(&["exec", name, "cat", &format!("/proc/1/{file}")]);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout)
            .expect("utf8")
            .split_terminator('\0')
            .map(str::to_owned)
            .collect()
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

    /// Runs the real AWS CLI against `aws` (test credentials) with `input` as its
    /// `--cli-input-json`, so that values go to the service exactly, and reads its answer.
    fn aws_cli(aws: &LocalAws, command: &[&str], input: &serde_json::Value) -> serde_json::Value {
        let out = Command::new(testkit::workspace_root().join(".venv/bin/aws"))
            .args(command)
            .args(["--region", testkit::local_aws::REGION, "--output", "json"])
            .arg("--cli-input-json")
            .arg(input.to_string())
            .env("AWS_ENDPOINT_URL", aws.endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .expect("the AWS CLI (scripts/setup installs awscli into .venv)");
        assert!(
            out.status.success(),
            "aws {}: {}",
            command.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the CLI's JSON answer")
    }

    /// A Secrets Manager secret holding `value`; its ARN (moto adds the random suffix).
    fn create_secret(aws: &LocalAws, name: &str, value: &str) -> String {
        let out = aws_cli(
            aws,
            &["secretsmanager", "create-secret"],
            &json!({"Name": name, "SecretString": value}),
        );
        out["ARN"].as_str().expect("ARN").to_owned()
    }

    /// An SSM SecureString parameter holding `value` (encrypted with the account's
    /// default key; the scripts read it `--with-decryption`).
    fn put_parameter(aws: &LocalAws, name: &str, value: &str) {
        aws_cli(
            aws,
            &["ssm", "put-parameter"],
            &json!({"Name": name, "Value": value, "Type": "SecureString"}),
        );
    }

    /// Adds `user`, with the registry's one password, to its htpasswd file; the registry
    /// reads the file again when it changes.
    fn add_user(registry: &Registry, user: &str) {
        let path = registry.dir().join("htpasswd");
        let text = std::fs::read_to_string(&path).expect("htpasswd");
        let hash = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{USER}:")))
            .expect("the registry's user")
            .to_owned();
        std::fs::write(&path, format!("{text}{user}:{hash}\n")).expect("htpasswd");
    }

    /// Builds a busybox image whose command serves `/ready` on `port` (`status` 200 with
    /// `body`, or 500 through CGI; `exit` makes it exit at start) and pushes it as
    /// `<registry>/web:<tag>`; returns `name@digest`.
    /// Runs `push` logged in to `host` as the test user. The engine's client keeps every
    /// login in one file, rewritten whole by each login and logout: tests pushing at the
    /// same time take turns, or one's logout can drop the other's login.
    fn logged_in<T>(host: &str, push: impl FnOnce() -> T) -> T {
        static LOGINS: Mutex<()> = Mutex::new(());
        let _turn = LOGINS.lock().unwrap_or_else(|e| e.into_inner());
        ok(&["login", "--username", USER, "--password", PASSWORD, host]);
        let pushed = push();
        ok(&["logout", host]);
        pushed
    }

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
        import.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
        assert!(import.wait().unwrap().success(), "docker import");
        ok(&["push", &name]);
        let digest = ok(&["inspect", "--format", "{{index .RepoDigests 0}}", &name]);
        // The instance pulls it: nothing of it is on the engine before.
        ok(&["rmi", &name]);
        let _ = std::fs::remove_dir_all(&root);
        digest
    }

    /// Removes the test's container and images when the test ends, passed or failed.
    struct Cleanup {
        container: String,
        images: Vec<String>,
    }

    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = docker(&["rm", "--force", &self.container]);
            for image in &self.images {
                let _ = docker(&["rmi", image]);
            }
        }
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

    /// A loopback HTTP server that answers every request `200` with `body` and keeps each
    /// request's head (request line and headers) as it arrived.
    struct Recorder {
        addr: std::net::SocketAddr,
        heads: Arc<Mutex<Vec<Vec<u8>>>>,
    }

    impl Recorder {
        fn start(body: &str) -> Self {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
            let addr = listener.local_addr().expect("its address");
            let heads = Arc::new(Mutex::new(Vec::new()));
            let kept = Arc::clone(&heads);
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            // Serves until the test process ends.
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { continue };
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n")
                        && stream.read(&mut byte).is_ok_and(|n| n == 1)
                    {
                        head.push(byte[0]);
                    }
                    kept.lock().expect("heads").push(head);
                    let _ = stream.write_all(answer.as_bytes());
                }
            });
            Self { addr, heads }
        }

        /// The request lines received so far, byte for byte.
        fn request_lines(&self) -> Vec<Vec<u8>> {
            self.heads
                .lock()
                .expect("heads")
                .iter()
                .map(|h| {
                    let end = h.windows(2).position(|w| w == b"\r\n").unwrap_or(h.len());
                    h[..end].to_vec()
                })
                .collect()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_revision_runs_on_a_real_engine_and_registry() {
        if !available() {
            return;
        }
        let aws = LocalAws::start().await;
        let registry = Registry::start(AuthMode::Basic).await;
        let host = registry.host();
        let password = create_secret(&aws, "registry-password", PASSWORD);
        let wrong = create_secret(&aws, "registry-password-old", "not-the-password");
        let port = free_port();
        let name = format!("engine-web-{}", std::process::id());
        let (v1, v2, dies, sick) = logged_in(&host, || {
            (
                image(&host, "v1", port, "ok"),
                image(&host, "v2", port, "ok"),
                image(&host, "dies", port, "exit"),
                image(&host, "sick", port, "ok"),
            )
        });
        let _cleanup = Cleanup {
            container: name.clone(),
            images: vec![v1.clone(), v2.clone(), dies.clone(), sick.clone()],
        };
        let config = |path: &str, password_from: &str, restart: &str| {
            config(&format!(
                r#"{{"name": "{name}", "login": {{"username": "{USER}", "passwordFrom": "{password_from}"}},
                "environment": {{"GREETING": "it's $(id) `id`; *", "QUOTED": "\"a b\" 'c'"}},
                "restart": "{restart}", "logDriver": "json-file", "logOptions": {{"max-size": "1m"}}, "dockerArgs": ["--network", "host"],
                "health": {{"url": "http://127.0.0.1:{port}{path}", "contains": "ready", "interval": 1}},
                "hooks": {{"ValidateService": {{"timeout": 10}}, "ApplicationStop": {{"timeout": 4}}}}}}"#
            ))
        };
        let good = config("/ready", &password, "on-failure:3");
        let i = Instance::on_engine(&aws);
        let r1 = i.unpack("d-1", &revision(&good, &v1));
        let r2 = i.unpack("d-2", &revision(&good, &v2));

        // First deployment: logged in with the password the real AWS CLI read from Secrets
        // Manager, pulled by digest, running, healthy.
        let log = i
            .deploy(None, &r1)
            .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
        assert!(!log.contains(PASSWORD), "{log}");
        assert_eq!(running(&name), Some(("running".into(), v1.clone())));
        let env = environ(&name);
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
        let reads: Vec<_> = aws
            .calls()
            .await
            .into_iter()
            .filter(|c| c.operation == "GetSecretValue")
            .collect();
        assert_eq!(reads.len(), 1, "{reads:?}");
        assert_eq!(
            reads[0].request.as_ref().unwrap()["SecretId"],
            password.as_str()
        );

        // A health URL that accepts connections and never answers: for each timeout and
        // interval, ValidateService gives its reason before the agent would stop it.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let silent_port = silent.local_addr().expect("its address").port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in silent.incoming().flatten() {
                held.push(stream); // read nothing, answer nothing, never close
            }
        });
        for (n, (timeout, interval)) in [(10, 1), (12, 3)].into_iter().enumerate() {
            let hangs = super::config(&format!(
                r#"{{"name": "{name}", "login": {{"username": "{USER}", "passwordFrom": "{password}"}},
                "restart": "no", "dockerArgs": ["--network", "host"],
                "health": {{"url": "http://127.0.0.1:{silent_port}/ready", "interval": {interval}}},
                "hooks": {{"ValidateService": {{"timeout": {timeout}}}, "ApplicationStop": {{"timeout": 4}}}}}}"#
            ));
            let r = i.unpack(&format!("d-silent-{n}"), &revision(&hangs, &v1));
            for hook in ["ApplicationStop", "BeforeInstall", "ApplicationStart"] {
                let dir = if hook == "ApplicationStop" { &r1 } else { &r };
                assert!(i.hook(dir, hook).status.success(), "{hook}");
            }
            let (ended, log) = i.hook_as_agent(&r, "ValidateService");
            assert!(
                ended,
                "timeout {timeout}s, interval {interval}s: stopped at the timeout before giving a reason"
            );
            assert!(log.contains("did not answer 200"), "{log}");
        }

        // A new image by digest replaces the container; the same revision again is fine.
        i.deploy(Some(&r1), &r2)
            .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
        assert_eq!(running(&name), Some(("running".into(), v2.clone())));
        i.deploy(Some(&r2), &r2)
            .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
        assert_eq!(running(&name), Some(("running".into(), v2.clone())));

        // A container that exits at start, and a health URL answering 500, fail validation.
        // (Without a restart policy: one that restarts it is seen running between tries.)
        let r3 = i.unpack("d-3", &revision(&config("/ready", &password, "no"), &dies));
        let (hook, log) = i.deploy(Some(&r2), &r3).expect_err("it exits");
        assert_eq!(hook, "ValidateService", "{log}");
        assert!(
            log.contains("cannot start") && log.contains("is not running"),
            "{log}"
        );
        let r4 = i.unpack(
            "d-4",
            &revision(&config("/cgi-bin/ready", &password, "no"), &sick),
        );
        let (hook, log) = i.deploy(Some(&r3), &r4).expect_err("500");
        assert_eq!(hook, "ValidateService", "{log}");
        assert!(log.contains("(last: status 500)"), "{log}");

        // With no health check and its restart policy starting it again, a container that
        // exits at start is found crashing, not running.
        let crashing = super::config(&format!(
            r#"{{"name": "{name}", "login": {{"username": "{USER}", "passwordFrom": "{password}"}},
            "restart": "unless-stopped", "dockerArgs": ["--network", "host"],
            "hooks": {{"ValidateService": {{"timeout": 10}}, "ApplicationStop": {{"timeout": 4}}}}}}"#
        ));
        let r6 = i.unpack("d-6", &revision(&crashing, &dies));
        let (hook, log) = i.deploy(Some(&r4), &r6).expect_err("crash loop");
        assert_eq!(hook, "ValidateService", "{log}");
        assert!(
            log.contains("it is crashing") || log.contains("is not running"),
            "{log}"
        );

        // A wrong password in the secret: the registry refuses the login, BeforeInstall
        // says so and the container that ran stays.
        let r5 = i.unpack("d-5", &revision(&config("/ready", &wrong, "no"), &v1));
        let _ = docker(&["rmi", &v1]);
        let (hook, log) = i.deploy(None, &r5).expect_err("refused");
        assert_eq!(hook, "BeforeInstall", "{log}");
        assert!(
            log.contains(&format!("docker login to {host} as {USER} failed; check the user name and the password in {wrong}")),
            "{log}"
        );
        assert!(log.to_ascii_lowercase().contains("unauthorized"), "{log}");

        // The instance role may not read the secret: the local AWS answers the CLI with
        // IAM's AccessDeniedException (moto does not enforce IAM, so the local AWS plays
        // the refusal), and BeforeInstall names the permission.
        aws.fault(testkit::Fault::deny("secretsmanager", "GetSecretValue"))
            .await;
        let (hook, log) = i.deploy(None, &r1).expect_err("denied");
        assert_eq!(hook, "BeforeInstall", "{log}");
        assert!(
            log.contains("AccessDeniedException"),
            "the CLI's own message: {log}"
        );
        assert!(
            log.contains(&format!("could not read the registry password from {password}; the instance role needs secretsmanager:GetSecretValue")),
            "{log}"
        );

        // Rollback to the first revision with the pull it needs now, then with its image
        // on the instance: no pull, even with the registry gone.
        i.deploy(Some(&r4), &r1)
            .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
        drop(registry);
        i.deploy(Some(&r1), &r1)
            .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
        assert_eq!(running(&name), Some(("running".into(), v1.clone())));
    }

    /// Every value of [`hostile`] as the running container and the health server got it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_value_arrives_byte_for_byte() {
        if !available() {
            return;
        }
        let aws = LocalAws::start().await;
        let registry = Registry::start(AuthMode::Basic).await;
        let host = registry.host();
        add_user(&registry, LOGIN_USER);
        let port = free_port();
        let img = logged_in(&host, || image(&host, "tricky", port, "ok"));
        let name = format!("engine-tricky-{}", std::process::id());
        let _cleanup = Cleanup {
            container: name.clone(),
            images: vec![img.clone()],
        };

        // The registry password in an SSM SecureString parameter; the container's secrets
        // in Secrets Manager (a plain one and a JSON one, which arrives whole) and in SSM
        // (by name and by ARN).
        let json_value = r#"{"username": "it's", "password": "p$w `x` \"q\" \\ ;*"}"#;
        put_parameter(&aws, "/registry/password", PASSWORD);
        let plain = create_secret(&aws, "web/plain", TRICKY);
        let json_secret = create_secret(&aws, "web/json", json_value);
        put_parameter(&aws, "/web/tricky", TRICKY);
        put_parameter(&aws, "/web/utf8", "grüße, ✓ $x");
        let by_arn = "arn:aws:ssm:us-east-1:123456789012:parameter/web/utf8";
        let secrets = [
            ("PLAIN_SECRET", plain.as_str()),
            ("JSON_SECRET", json_secret.as_str()),
            ("PARAMETER", "/web/tricky"),
            ("PARAMETER_BY_ARN", by_arn),
        ];
        let health = Recorder::start(&format!("ready: {LOGIN_USER}\n"));
        let url = format!("http://{}{}", health.addr, hostile_path());
        let rev = hostile(&name, port, &url, "/registry/password", &secrets);
        let i = Instance::on_engine(&aws);
        let r1 = i.unpack("d-1", &revision(&rev, &img));
        let log = i
            .deploy(None, &r1)
            .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
        assert_eq!(running(&name), Some(("running".into(), img.clone())));

        // The login: the registry accepted the user name only as written.
        assert!(
            log.contains(&format!(
                "BeforeInstall: logging in to {host} as {LOGIN_USER} with the password from /registry/password\n"
            )),
            "{log}"
        );
        // The environment: the plain file, the docker arguments and the secrets.
        let env = environ(&name);
        let mut expected: Vec<(&str, &str)> = HOSTILE_ENV.to_vec();
        expected.extend([
            ("ARG_ENV", TRICKY),
            ("ARG_MULTI", "first\nsecond\n"),
            ("PLAIN_SECRET", TRICKY),
            ("JSON_SECRET", json_value),
            ("PARAMETER", TRICKY),
            ("PARAMETER_BY_ARN", "grüße, ✓ $x"),
        ]);
        for (k, v) in expected {
            let found: Vec<&String> = env
                .iter()
                .filter(|e| e.split('=').next() == Some(k))
                .collect();
            assert_eq!(found, [&format!("{k}={v}")], "{k}: {env:?}");
        }
        // Docker arguments, log options and the command, as the engine holds them.
        let labels: std::collections::BTreeMap<String, String> = inspect(&name, ".Config.Labels");
        assert_eq!(labels["tricky"], TRICKY);
        assert_eq!(labels["multi"], "line one\nline two");
        let log_config: serde_json::Value = inspect(&name, ".HostConfig.LogConfig");
        assert_eq!(
            log_config,
            json!({"Type": "json-file", "Config": {"max-size": "1m", "labels": TRICKY, "env": "SINGLE,DOUBLE"}})
        );
        let cmd: Vec<String> = inspect(&name, ".Config.Cmd");
        assert_eq!(cmd, hostile_command(port));
        assert_eq!(proc_file(&name, "cmdline"), hostile_command(port));
        let network: String = inspect(&name, ".HostConfig.NetworkMode");
        assert_eq!(network, "host");
        // The health URL: the request line curl sent, byte for byte, and the text found.
        let lines = health.request_lines();
        assert!(!lines.is_empty(), "no request reached the health server");
        for line in &lines {
            assert_eq!(
                String::from_utf8_lossy(line),
                format!("GET {} HTTP/1.1", hostile_path())
            );
        }
        assert!(
            log.contains(&format!("ValidateService: {url} answered 200\n")),
            "{log}"
        );

        // A secret with a line break, which a Docker env file cannot carry: ApplicationStart
        // refuses it and starts nothing; the previous container is gone (ApplicationStop).
        let multi = create_secret(&aws, "web/multi-line", "line one\nline two");
        let rev2 = hostile(
            &name,
            port,
            &url,
            "/registry/password",
            &[("MULTI", multi.as_str())],
        );
        let r2 = i.unpack("d-2", &revision(&rev2, &img));
        let (hook, log) = i.deploy(Some(&r1), &r2).expect_err("a line break");
        assert_eq!(hook, "ApplicationStart", "{log}");
        assert!(
            log.contains(&format!(
                "MULTI from {multi} holds a line break, which a Docker env file cannot carry"
            )),
            "{log}"
        );
        assert!(!log.contains("line two"), "the value is not shown: {log}");
        assert_eq!(running(&name), None);
    }

    /// A user's own template revision: their appspec.yml and scripts, with the pinned image
    /// filled in, run in CodeDeploy's order on the real engine. Their scripts log in with
    /// the real AWS CLI reading the registry password from Secrets Manager.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_users_template_revision_runs_on_a_real_engine() {
        if !available() {
            return;
        }
        let aws = LocalAws::start().await;
        let registry = Registry::start(AuthMode::Basic).await;
        let host = registry.host();
        let password = create_secret(&aws, "registry/token", PASSWORD);
        let port = free_port();
        let (v1, v2) = logged_in(&host, || {
            (
                image(&host, "tpl1", port, "ok"),
                image(&host, "tpl2", port, "ok"),
            )
        });
        let name = format!("engine-template-{}", std::process::id());
        let _cleanup = Cleanup {
            container: name.clone(),
            images: vec![v1.clone(), v2.clone()],
        };
        let appspec = "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /opt/web\nhooks:\n  ApplicationStop:\n    - location: scripts/stop.sh\n      timeout: 30\n  BeforeInstall:\n    - location: scripts/pull.sh\n      timeout: 120\n  ApplicationStart:\n    - location: scripts/start.sh\n      timeout: 60\n  ValidateService:\n    - location: scripts/check.sh\n      timeout: 60\n";
        let files: Vec<(String, Vec<u8>)> = [
            ("appspec.yml", appspec.to_owned()),
            (
                "scripts/stop.sh",
                format!("#!/bin/sh\n# The user's own: stop whatever runs.\ndocker rm --force {name} >/dev/null 2>&1 || true\n"),
            ),
            (
                "scripts/pull.sh",
                format!(
                    "#!/bin/sh\nset -eu\naws secretsmanager get-secret-value --region us-east-1 --secret-id '{password}' --query SecretString --output text \\\n  | docker login --username '{USER}' --password-stdin '{host}'\ndocker pull '<IMAGE_URI>'\ndocker logout '{host}'\n"
                ),
            ),
            (
                "scripts/start.sh",
                format!(
                    "#!/bin/sh\nset -eu\ndocker run --detach --name {name} --network host --label 'digest=<IMAGE_DIGEST>' '<IMAGE_URI>'\n"
                ),
            ),
            (
                "scripts/check.sh",
                format!(
                    "#!/bin/sh\nfor _ in 1 2 3 4 5 6 7 8 9 10; do\n  curl --silent --fail http://127.0.0.1:{port}/ready && exit 0\n  sleep 1\ndone\nexit 1\n"
                ),
            ),
        ]
        .into_iter()
        .map(|(p, t)| (p.to_owned(), t.into_bytes()))
        .collect();
        let i = Instance::on_engine(&aws);
        let fill = |uri: &str| {
            let digest = uri.split_once('@').expect("pinned").1;
            render_taskdef::revision::template::fill(
                "SourceArtifact/deploy",
                files.clone(),
                uri,
                digest,
            )
            .expect("filled")
        };
        let r1 = i.unpack("d-1", &fill(&v1));
        let r2 = i.unpack("d-2", &fill(&v2));
        let log = i
            .deploy(None, &r1)
            .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
        assert!(log.contains("ready tpl1"), "{log}");
        assert_eq!(running(&name), Some(("running".into(), v1.clone())));
        let labels: std::collections::BTreeMap<String, String> = inspect(&name, ".Config.Labels");
        assert_eq!(
            Some(labels["digest"].as_str()),
            v1.split_once('@').map(|d| d.1)
        );
        let log = i
            .deploy(Some(&r1), &r2)
            .unwrap_or_else(|(h, l)| panic!("{h}:\n{l}"));
        assert!(log.contains("ready tpl2"), "{log}");
        assert_eq!(running(&name), Some(("running".into(), v2.clone())));
    }
}
