//! A generated revision: `appspec.yml` for `os: linux`, its four hook scripts (POSIX `sh`,
//! `set -eu`, made from the templates in `scripts/` with every value shell-quoted), and the
//! plain environment file. No secret value is ever written: the scripts read secrets and
//! registry passwords on the instance at deploy time.

use super::Files;
use super::config::{HOOKS, RevisionConfig};
use super::secret::SecretRef;
use super::shell::{self, quote};
use crate::images::ImageName;
use shared::image::Registry;

const PRELUDE: &str = include_str!("scripts/prelude.sh");
const STOP: &str = include_str!("scripts/application-stop.sh");
const BEFORE_INSTALL: &str = include_str!("scripts/before-install.sh");
const START: &str = include_str!("scripts/application-start.sh");
const SECRETS: &str = include_str!("scripts/secrets.sh");
const VALIDATE: &str = include_str!("scripts/validate-service.sh");
const HEALTH: &str = include_str!("scripts/health.sh");

/// The plain environment file, beside the scripts.
pub const ENV_FILE: &str = "container.env";
/// How many of the container's last log lines `ValidateService` prints on failure.
pub const LOG_LINES: u32 = 20;

/// The line before a command that holds a configured value with `$` or a backquote. Such
/// a value is single-quoted, so it stays literal, which is what is meant; shellcheck's
/// note SC2016 (that it does not expand) is silenced for that command alone.
fn literal_note<S: AsRef<str>>(values: &[S]) -> &'static str {
    if values.iter().any(|v| v.as_ref().contains(['$', '`'])) {
        "# shellcheck disable=SC2016 # a configured value: its $ and backquotes are literal\n"
    } else {
        ""
    }
}

/// `name=<quoted value>`, after [`literal_note`] when the value needs it.
fn assign(name: &str, value: &str) -> String {
    format!("{}{}", literal_note(&[value]), shell::assign(name, value))
}

/// `set -- "$@" <quoted words>`, after [`literal_note`] when a word needs it.
fn append_words<S: AsRef<str>>(words: &[S]) -> String {
    format!("{}{}", literal_note(words), shell::append_words(words))
}

/// What the revision deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deploy<'a> {
    /// The Docker container name.
    pub name: &'a str,
    /// The image, pinned: `registry/repository@sha256:...`.
    pub image: &'a str,
    /// Region for SSM parameters given by name, when the settings name none.
    pub default_region: Option<&'a str>,
}

/// How the instance logs in to the image's registry before pulling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// Private ECR, with the instance role.
    Ecr { registry: String, region: String },
    /// Any other registry, with a password read from Secrets Manager or SSM.
    Password {
        registry: String,
        username: String,
        from: SecretRef,
    },
    /// A public image: no login.
    Anonymous,
}

/// The login the image's registry needs, or why the settings do not fit it.
pub fn login(rev: &RevisionConfig, image: &ImageName) -> Result<Login, String> {
    match (image.registry_kind(), &rev.login) {
        (Registry::Ecr(host), None) => Ok(Login::Ecr {
            registry: image.registry.clone().unwrap_or_default(),
            region: host.region,
        }),
        (Registry::Ecr(_), Some(_)) => Err(
            "the image is in private ECR, which the instance logs in to with its instance role; remove `login`"
                .to_owned(),
        ),
        (kind, Some(l)) => Ok(Login::Password {
            registry: match kind {
                Registry::DockerHub => "docker.io".to_owned(),
                _ => image.registry.clone().unwrap_or_default(),
            },
            username: l.username.clone(),
            from: SecretRef::parse(&l.password_from)?,
        }),
        (_, None) => Ok(Login::Anonymous),
    }
}

/// The revision's files, in the order they are written: `appspec.yml`, the scripts, and
/// `container.env` when there is plain environment.
pub fn files(rev: &RevisionConfig, deploy: &Deploy, login: &Login) -> Files {
    let mut out = vec![("appspec.yml".to_owned(), appspec(rev, deploy).into_bytes())];
    for hook in HOOKS {
        out.push((
            script_name(hook),
            script(hook, rev, deploy, login).into_bytes(),
        ));
    }
    if !rev.environment.is_empty() {
        out.push((ENV_FILE.to_owned(), env_file(rev).into_bytes()));
    }
    out
}

/// `ApplicationStop` -> `application-stop.sh`.
pub fn script_name(hook: &str) -> String {
    let mut out = String::new();
    for (i, c) in hook.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out.push_str(".sh");
    out
}

/// The install directory: `directory`, else `/opt/<name>`.
pub fn directory(rev: &RevisionConfig, name: &str) -> String {
    rev.directory
        .clone()
        .unwrap_or_else(|| format!("/opt/{name}"))
}

/// `appspec.yml`. Every value in it was checked to need no YAML quoting.
pub fn appspec(rev: &RevisionConfig, deploy: &Deploy) -> String {
    let mut out = format!(
        "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: {}\nhooks:\n",
        directory(rev, deploy.name)
    );
    for hook in HOOKS {
        out.push_str(&format!(
            "  {hook}:\n    - location: {}\n      timeout: {}\n      runas: {}\n",
            script_name(hook),
            rev.timeout(hook),
            rev.runas(hook)
        ));
    }
    out
}

/// `KEY=value` lines, as Docker's `--env-file` reads them (values taken literally).
pub fn env_file(rev: &RevisionConfig) -> String {
    rev.environment
        .0
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect()
}

/// One hook's script: the header, its settings (quoted), the shared functions, its body.
pub fn script(hook: &str, rev: &RevisionConfig, deploy: &Deploy, login: &Login) -> String {
    let mut settings = vec![assign("hook", hook)];
    if hook != "BeforeInstall" {
        settings.push(assign("name", deploy.name));
    }
    let body = match hook {
        "ApplicationStop" => {
            let grace = (rev.timeout(hook) / 2).clamp(1, 30);
            settings.push(format!("stop_grace={grace}"));
            STOP.to_owned()
        }
        "BeforeInstall" => {
            settings.push(assign("image", deploy.image));
            BEFORE_INSTALL.replace("#@LOGIN@\n", &login_block(login, rev, deploy))
        }
        "ApplicationStart" => {
            settings.push(assign("image", deploy.image));
            start_body(rev, deploy)
        }
        _ => {
            let timeout = rev.timeout(hook);
            // Time kept to print the logs and the reason before CodeDeploy stops the script.
            let margin = (timeout / 5).clamp(1, 15);
            let health = rev.health.as_ref();
            let interval = health.and_then(|h| h.interval).unwrap_or(5).min(timeout);
            settings.push(format!("budget={}", (timeout - margin).max(1)));
            settings.push(format!("interval={}", interval.max(1)));
            settings.push(format!("log_lines={LOG_LINES}"));
            let health_block = match health {
                Some(h) => {
                    // One try's `curl --max-time`: 5 s, within the budget.
                    let budget = (timeout - margin).max(1);
                    settings.push(format!("probe_timeout={}", budget.min(5)));
                    settings.push(assign("url", &h.url));
                    settings.push(format!("expect_status={}", h.status.unwrap_or(200)));
                    settings.push(assign("expect_text", h.contains.as_deref().unwrap_or("")));
                    HEALTH.to_owned()
                }
                None => String::new(),
            };
            VALIDATE.replace("#@HEALTH@\n", &health_block)
        }
    };
    format!(
        "#!/bin/sh\n# {hook} of container {name}, generated by render-taskdef: change the action's settings, not this file.\nset -eu\n{}\n{PRELUDE}{body}",
        settings.join("\n") + "\n",
        name = deploy.name.replace('\n', " ")
    )
}

fn start_body(rev: &RevisionConfig, deploy: &Deploy) -> String {
    let mut args: Vec<String> = vec![append_words(&[
        "--restart",
        rev.restart.as_deref().unwrap_or("unless-stopped"),
    ])];
    for p in &rev.ports {
        let host = p.host_port.unwrap_or(p.container_port);
        let ip = match p.host_ip.as_deref() {
            Some(ip) if ip.contains(':') => format!("[{ip}]:"),
            Some(ip) => format!("{ip}:"),
            None => String::new(),
        };
        let proto = p.protocol.as_deref().unwrap_or("tcp");
        args.push(append_words(&[
            "--publish".to_owned(),
            format!("{ip}{host}:{}/{proto}", p.container_port),
        ]));
    }
    if !rev.environment.is_empty() {
        args.push(format!(
            "here=$(CDPATH='' cd -- \"$(dirname -- \"$0\")\" && pwd)\nset -- \"$@\" --env-file \"$here/{ENV_FILE}\""
        ));
    }
    if let Some(driver) = &rev.log_driver {
        args.push(append_words(&["--log-driver", driver]));
        for (k, v) in &rev.log_options.0 {
            args.push(append_words(&["--log-opt".to_owned(), format!("{k}={v}")]));
        }
    }
    if !rev.docker_args.is_empty() {
        args.push(append_words(&rev.docker_args));
    }
    let (secrets, cleanup) = if rev.secrets.is_empty() {
        (String::new(), String::new())
    } else {
        let mut block = SECRETS.to_owned();
        for (var, source) in &rev.secrets.0 {
            // Checked before: every source parses.
            if let Ok(from) = SecretRef::parse(source) {
                block.push_str(&format!(
                    "{}secret {} {} {}\n",
                    literal_note(&[var, source]),
                    quote(var),
                    quote(source),
                    read_command(&from, rev.region.as_deref().or(deploy.default_region))
                ));
            }
        }
        block.push_str("set -- \"$@\" --env-file \"$secret_file\"\n");
        (block, "rm -f \"$secret_file\"\n".to_owned())
    };
    let command = rev
        .command
        .as_ref()
        .map(|c| append_words(c) + "\n")
        .unwrap_or_default();
    START
        .replace("#@ARGS@\n", &(args.join("\n") + "\n"))
        .replace("#@SECRETS@\n", &secrets)
        .replace("#@COMMAND@\n", &command)
        .replace("#@CLEANUP@\n", &cleanup)
}

/// The AWS CLI call that prints a secret's value.
fn read_command(from: &SecretRef, default_region: Option<&str>) -> String {
    let region = |r: Option<&str>| {
        r.map(|r| format!(" --region {}", quote(r)))
            .unwrap_or_default()
    };
    match from {
        SecretRef::SecretsManager { arn, region: r } => format!(
            "aws secretsmanager get-secret-value{} --secret-id {} --query SecretString --output text",
            region(Some(r)),
            quote(arn)
        ),
        SecretRef::Ssm { name, region: r } => format!(
            "aws ssm get-parameter{} --name {} --with-decryption --query Parameter.Value --output text",
            region(r.as_deref().or(default_region)),
            quote(name)
        ),
    }
}

fn login_block(login: &Login, rev: &RevisionConfig, deploy: &Deploy) -> String {
    match login {
        Login::Anonymous => "logout() { :; }\n".to_owned(),
        Login::Ecr { registry, region } => format!(
            "{}\nlogout() {{ docker logout \"$registry\" >/dev/null 2>&1 || true; }}\nlog \"logging in to $registry with the instance role\"\npassword=$(aws ecr get-login-password --region {}) || fail \"could not get an ECR login token; the instance role needs ecr:GetAuthorizationToken, and ecr:BatchGetImage and ecr:GetDownloadUrlForLayer on the repository\"\nprintf '%s\\n' \"$password\" | docker login --username AWS --password-stdin \"$registry\" >/dev/null || fail \"docker login to $registry failed\"\npassword=''\n",
            assign("registry", registry),
            quote(region)
        ),
        Login::Password {
            registry,
            username,
            from,
        } => format!(
            "{}\n{}\n{}\nlogout() {{ docker logout \"$registry\" >/dev/null 2>&1 || true; }}\nlog \"logging in to $registry as $username with the password from $password_from\"\n{}password=$({}) || fail \"could not read the registry password from $password_from; the instance role needs secretsmanager:GetSecretValue or ssm:GetParameter (and kms:Decrypt) on it\"\nprintf '%s\\n' \"$password\" | docker login --username \"$username\" --password-stdin \"$registry\" >/dev/null || fail \"docker login to $registry as $username failed; check the user name and the password in $password_from\"\npassword=''\n",
            assign("registry", registry),
            assign("username", username),
            assign(
                "password_from",
                rev.login.as_ref().map_or("", |l| l.password_from.as_str())
            ),
            literal_note(&[password_source(from)]),
            read_command(from, rev.region.as_deref().or(deploy.default_region))
        ),
    }
}

/// The secret's ARN or parameter name, as the AWS CLI call quotes it.
fn password_source(from: &SecretRef) -> &str {
    match from {
        SecretRef::SecretsManager { arn, .. } => arn,
        SecretRef::Ssm { name, .. } => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(json: &str) -> RevisionConfig {
        serde_json::from_str(json).expect("config")
    }

    const IMAGE: &str = "docker.io/acme/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn deploy() -> Deploy<'static> {
        Deploy {
            name: "web",
            image: IMAGE,
            default_region: Some("us-east-1"),
        }
    }

    #[test]
    fn appspec_lists_the_four_hooks_in_order() {
        let r = rev(r#"{"hooks": {"ValidateService": {"timeout": 900, "runas": "deploy"}}}"#);
        assert_eq!(
            appspec(&r, &deploy()),
            "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /opt/web\nhooks:\n  ApplicationStop:\n    - location: application-stop.sh\n      timeout: 60\n      runas: root\n  BeforeInstall:\n    - location: before-install.sh\n      timeout: 300\n      runas: root\n  ApplicationStart:\n    - location: application-start.sh\n      timeout: 120\n      runas: root\n  ValidateService:\n    - location: validate-service.sh\n      timeout: 900\n      runas: deploy\n"
        );
    }

    #[test]
    fn logins_by_registry() {
        let ecr =
            ImageName::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:ab").unwrap();
        assert_eq!(
            login(&rev("{}"), &ecr),
            Ok(Login::Ecr {
                registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com".into(),
                region: "eu-west-1".into()
            })
        );
        let with = rev(r#"{"login": {"username": "bot", "passwordFrom": "/hub"}}"#);
        assert!(login(&with, &ecr).unwrap_err().contains("remove `login`"));
        let hub = ImageName::parse("acme/web@sha256:ab").unwrap();
        assert!(
            matches!(login(&with, &hub), Ok(Login::Password { registry, .. }) if registry == "docker.io")
        );
        assert_eq!(login(&rev("{}"), &hub), Ok(Login::Anonymous));
        let ghcr = ImageName::parse("ghcr.io/acme/web@sha256:ab").unwrap();
        assert!(
            matches!(login(&with, &ghcr), Ok(Login::Password { registry, .. }) if registry == "ghcr.io")
        );
    }

    #[test]
    fn values_are_quoted_and_args_are_never_split() {
        let r = rev(
            r#"{"environment": {"GREETING": "it's $(id)"}, "dockerArgs": ["--label", "team=web shop"],
                "command": ["sh", "-c", "echo 'a b'; $HOME"], "logDriver": "awslogs", "logOptions": {"awslogs-group": "/ec2/web"},
                "ports": [{"containerPort": 8080, "hostPort": 80, "hostIp": "::1"}]}"#,
        );
        let s = script("ApplicationStart", &r, &deploy(), &Login::Anonymous);
        assert!(
            s.contains("set -- \"$@\" '--label' 'team=web shop'\n"),
            "{s}"
        );
        assert!(
            s.contains("set -- \"$@\" 'sh' '-c' 'echo '\\''a b'\\''; $HOME'\n"),
            "{s}"
        );
        assert!(s.contains("'--publish' '[::1]:80:8080/tcp'"), "{s}");
        assert!(s.contains("'--log-opt' 'awslogs-group=/ec2/web'"), "{s}");
        assert!(
            !s.contains("$(id)"),
            "plain values stay in the env file: {s}"
        );
        assert_eq!(env_file(&r), "GREETING=it's $(id)\n");
    }

    #[test]
    fn literal_dollars_and_backquotes_are_marked_for_shellcheck_only_where_they_are() {
        let r = rev(
            r#"{"dockerArgs": ["--label", "price=$5"], "logDriver": "json-file", "logOptions": {"tag": "`x`", "max-size": "1m"},
                "health": {"url": "http://127.0.0.1/health?a=1&b=2", "contains": "$ok"}}"#,
        );
        let note =
            "# shellcheck disable=SC2016 # a configured value: its $ and backquotes are literal\n";
        let start = script("ApplicationStart", &r, &deploy(), &Login::Anonymous);
        assert!(
            start.contains(&format!("{note}set -- \"$@\" '--label' 'price=$5'\n")),
            "{start}"
        );
        assert!(start.contains(&format!("{note}set -- \"$@\" '--log-opt' 'tag=`x`'\n")));
        assert!(start.contains("\nset -- \"$@\" '--log-opt' 'max-size=1m'\n"));
        assert!(!start.contains(&format!("{note}set -- \"$@\" '--log-opt' 'max-size")));
        let validate = script("ValidateService", &r, &deploy(), &Login::Anonymous);
        assert!(validate.contains("\nurl='http://127.0.0.1/health?a=1&b=2'\n"));
        assert!(!validate.contains(&format!("{note}url=")));
        assert!(validate.contains(&format!("{note}expect_text='$ok'\n")));
    }

    #[test]
    fn names_of_scripts() {
        assert_eq!(script_name("ValidateService"), "validate-service.sh");
        assert_eq!(script_name("BeforeInstall"), "before-install.sh");
    }
}
