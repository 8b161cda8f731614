//! `revision` in `UserParameters`: the container a CodeDeploy EC2/on-premises revision
//! runs, or the user's own revision template to fill. Checked as a whole: every problem
//! is reported at once, each at its key.

use super::secret::SecretRef;
use crate::config::OrderedMap;
use crate::problem::{Problem, list};
use serde::Deserialize;

/// The hooks a generated revision has, in the order CodeDeploy runs them.
pub const HOOKS: [&str; 4] = [
    "ApplicationStop",
    "BeforeInstall",
    "ApplicationStart",
    "ValidateService",
];

/// CodeDeploy's limit on a hook script's `timeout`, in seconds.
pub const MAX_TIMEOUT: i64 = 3600;

/// `UserParameters.revision`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct RevisionConfig {
    /// Path of the user's own `appspec.yml` in an input artifact; its folder is the
    /// revision, copied with `<IMAGE_URI>` and `<IMAGE_DIGEST>` filled. Example:
    /// `"deploy/appspec.yml"`.
    pub template: Option<String>,
    /// Input artifact holding `template`. Default: the one that has it. Example: `"SourceArtifact"`.
    pub template_artifact: Option<String>,
    /// Docker container name. Default: the name the image is given by (`images` key,
    /// `imagedefinitions.json` name, `imageContainer`). With a template, it only chooses
    /// among several images. Example: `"web"`.
    pub name: Option<String>,
    /// Where CodeDeploy installs the revision's files on the instance. Default
    /// `/opt/<name>`. Example: `"/srv/web"`.
    pub directory: Option<String>,
    /// Published ports. Example: `[{"containerPort": 8080, "hostPort": 80}]`.
    pub ports: Vec<PortMapping>,
    /// Plain environment variables, written to an env file in the revision. Example:
    /// `{"LOG_LEVEL": "info"}`.
    pub environment: OrderedMap<String>,
    /// Environment variables read on the instance at deploy time from Secrets Manager (a
    /// secret ARN) or SSM Parameter Store (a parameter ARN or a name starting with `/`).
    /// Example: `{"DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"}`.
    pub secrets: OrderedMap<String>,
    /// Docker restart policy. Default `unless-stopped`. Example: `"on-failure:5"`.
    pub restart: Option<String>,
    /// Docker log driver. Default: Docker's. Example: `"awslogs"`.
    pub log_driver: Option<String>,
    /// Log driver options. Example: `{"awslogs-group": "/ec2/web"}`.
    pub log_options: OrderedMap<String>,
    /// Further `docker run` arguments, one per element (never split on spaces). Example:
    /// `["--memory", "512m", "--cap-drop=ALL"]`.
    pub docker_args: Vec<String>,
    /// Command and arguments after the image. Example: `["node", "server.js"]`.
    pub command: Option<Vec<String>>,
    /// Registry login for an image outside ECR (ECR uses the instance role). Example:
    /// `{"username": "deploybot", "passwordFrom": "arn:aws:secretsmanager:...:secret:hub-AbCdEf"}`.
    pub login: Option<Login>,
    /// HTTP check that `ValidateService` waits for. Example:
    /// `{"url": "http://127.0.0.1/health", "status": 200, "contains": "ok"}`.
    pub health: Option<Health>,
    /// `timeout` (seconds, at most 3600) and `runas` of each hook. Example:
    /// `{"ValidateService": {"timeout": 600}}`.
    pub hooks: OrderedMap<HookSettings>,
    /// Region of SSM parameters given by name. Default: the region this function runs in.
    /// Example: `"eu-west-1"`.
    pub region: Option<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PortMapping {
    pub container_port: i64,
    /// Default: the container port.
    #[serde(default)]
    pub host_port: Option<i64>,
    /// `tcp` (default) or `udp`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Host address to bind. Example: `"127.0.0.1"`.
    #[serde(default)]
    pub host_ip: Option<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Login {
    pub username: String,
    /// Secrets Manager secret ARN or SSM parameter ARN or name holding the password or token.
    pub password_from: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Health {
    pub url: String,
    /// Expected HTTP status. Default 200.
    #[serde(default)]
    pub status: Option<i64>,
    /// Text the body must contain.
    #[serde(default)]
    pub contains: Option<String>,
    /// Seconds between attempts. Default 5.
    #[serde(default)]
    pub interval: Option<i64>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HookSettings {
    #[serde(default)]
    pub timeout: Option<i64>,
    #[serde(default)]
    pub runas: Option<String>,
}

/// The default timeout of each hook.
pub fn default_timeout(hook: &str) -> i64 {
    match hook {
        "ApplicationStop" => 60,
        "ApplicationStart" => 120,
        _ => 300,
    }
}

const P: &str = "UserParameters.revision";

fn at(key: &str) -> String {
    format!("{P}.{key}")
}

impl RevisionConfig {
    /// Every problem with the settings. In template mode the container keys are refused:
    /// the user's own scripts decide those.
    pub fn check(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.template.is_some() {
            let used: Vec<&str> = [
                ("directory", self.directory.is_some()),
                ("ports", !self.ports.is_empty()),
                ("environment", !self.environment.is_empty()),
                ("secrets", !self.secrets.is_empty()),
                ("restart", self.restart.is_some()),
                ("logDriver", self.log_driver.is_some()),
                ("logOptions", !self.log_options.is_empty()),
                ("dockerArgs", !self.docker_args.is_empty()),
                ("command", self.command.is_some()),
                ("login", self.login.is_some()),
                ("health", self.health.is_some()),
                ("hooks", !self.hooks.is_empty()),
                ("region", self.region.is_some()),
            ]
            .into_iter()
            .filter_map(|(k, used)| used.then_some(k))
            .collect();
            if !used.is_empty() {
                out.push(Problem::new(
                    at("template"),
                    format!(
                        "a revision template brings its own scripts, so {} would be ignored; remove them or remove `template`",
                        list(used)
                    ),
                ));
            }
            if self
                .template
                .as_deref()
                .is_some_and(|t| t.trim().is_empty())
            {
                out.push(Problem::new(
                    at("template"),
                    "is empty; give the path of your appspec.yml",
                ));
            }
            return out;
        }
        if self.template_artifact.is_some() {
            out.push(Problem::new(
                at("templateArtifact"),
                "is only used with `template`; add `template` or remove it",
            ));
        }
        if let Some(name) = &self.name
            && !is_container_name(name)
        {
            out.push(Problem::new(
                at("name"),
                format!("`{name}` is not a valid Docker container name; use letters, digits, `_`, `.` and `-`, starting with a letter or digit, at least 2 characters"),
            ));
        }
        if let Some(dir) = &self.directory
            && !is_install_dir(dir)
        {
            out.push(Problem::new(
                at("directory"),
                format!("`{dir}` is not a usable install directory; give an absolute path below `/` made of letters, digits, `_`, `.`, `-` and `/` (no `..`), such as `/opt/web`"),
            ));
        }
        self.check_ports(&mut out);
        self.check_environment(&mut out);
        if let Some(r) = &self.restart
            && !is_restart_policy(r)
        {
            out.push(Problem::new(
                at("restart"),
                format!("`{r}` is not a Docker restart policy; use `no`, `always`, `unless-stopped`, `on-failure` or `on-failure:<count>`"),
            ));
        }
        if let Some(d) = &self.log_driver
            && (d.is_empty() || !d.chars().all(|c| c.is_ascii_graphic()))
        {
            out.push(Problem::new(
                at("logDriver"),
                "must be a log driver name such as `awslogs`, `json-file` or `journald`",
            ));
        }
        for (k, v) in &self.log_options.0 {
            if k.is_empty() || k.contains('=') || has_control(k) || has_control(v) {
                out.push(Problem::new(
                    at(&format!("logOptions.{k}")),
                    "a log option needs a name without `=` and values without control characters",
                ));
            }
        }
        if !self.log_options.is_empty() && self.log_driver.is_none() {
            out.push(Problem::new(
                at("logOptions"),
                "needs `logDriver`: options belong to a driver; set it (for example `awslogs`)",
            ));
        }
        self.check_args(&mut out);
        if let Some(login) = &self.login {
            let user = &login.username;
            let problem = if user.trim().is_empty() {
                Some("is empty; give the registry user name")
            } else if has_control(user) {
                Some("holds a control character (a line break?); give the registry user name alone")
            } else if user.trim() != user {
                Some("starts or ends with a blank, which `docker login` would drop; remove it")
            } else {
                None
            };
            if let Some(problem) = problem {
                out.push(Problem::new(at("login.username"), problem));
            }
            if let Err(why) = SecretRef::parse(&login.password_from) {
                out.push(Problem::new(at("login.passwordFrom"), why));
            }
        }
        if let Some(h) = &self.health {
            check_health(h, &mut out);
        }
        for (hook, s) in &self.hooks.0 {
            let path = at(&format!("hooks.{hook}"));
            if !HOOKS.contains(&hook.as_str()) {
                out.push(Problem::new(
                    &path,
                    format!(
                        "is not a hook of a generated revision; use one of {}",
                        list(HOOKS)
                    ),
                ));
            }
            if let Some(t) = s.timeout
                && !(1..=MAX_TIMEOUT).contains(&t)
            {
                out.push(Problem::new(
                    format!("{path}.timeout"),
                    format!("is {t} seconds; CodeDeploy allows 1 to {MAX_TIMEOUT} seconds per hook script"),
                ));
            }
            if let Some(u) = &s.runas
                && !is_user_name(u)
            {
                out.push(Problem::new(
                    format!("{path}.runas"),
                    format!("`{u}` is not a Linux user name; use lowercase letters, digits, `_` and `-`, such as `root` or `deploy` (the user needs access to Docker)"),
                ));
            }
        }
        if let Some(r) = &self.region
            && !shared::image::is_region(r)
        {
            out.push(Problem::new(
                at("region"),
                format!("`{r}` is not an AWS region such as `us-east-1`"),
            ));
        }
        out
    }

    fn check_ports(&self, out: &mut Vec<Problem>) {
        let range = |n: i64| (1..=65535).contains(&n);
        for (i, p) in self.ports.iter().enumerate() {
            let path = at(&format!("ports[{i}]"));
            if !range(p.container_port) {
                out.push(Problem::new(
                    format!("{path}.containerPort"),
                    format!(
                        "{} is out of range; use a port from 1 to 65535",
                        p.container_port
                    ),
                ));
            }
            if let Some(h) = p.host_port
                && !range(h)
            {
                out.push(Problem::new(
                    format!("{path}.hostPort"),
                    format!("{h} is out of range; use a port from 1 to 65535"),
                ));
            }
            if let Some(proto) = &p.protocol
                && !matches!(proto.as_str(), "tcp" | "udp" | "sctp")
            {
                out.push(Problem::new(
                    format!("{path}.protocol"),
                    format!("`{proto}` is not a protocol; use `tcp`, `udp` or `sctp`"),
                ));
            }
            if let Some(ip) = &p.host_ip
                && ip.parse::<std::net::IpAddr>().is_err()
            {
                out.push(Problem::new(
                    format!("{path}.hostIp"),
                    format!("`{ip}` is not an IP address such as `127.0.0.1` or `::`"),
                ));
            }
        }
    }

    fn check_environment(&self, out: &mut Vec<Problem>) {
        for (k, v) in &self.environment.0 {
            let path = at(&format!("environment.{k}"));
            if let Err(why) = env_name(k) {
                out.push(Problem::new(&path, why));
            }
            if v.contains(['\n', '\r', '\0']) {
                out.push(Problem::new(
                    &path,
                    "holds a line break, which a Docker env file cannot carry; put the value in a secret or a file",
                ));
            }
        }
        for (k, v) in &self.secrets.0 {
            let path = at(&format!("secrets.{k}"));
            if let Err(why) = env_name(k) {
                out.push(Problem::new(&path, why));
            }
            if self.environment.keys().any(|e| e == k) {
                out.push(Problem::new(
                    &path,
                    "is also in `environment`; keep it in one of them",
                ));
            }
            if let Err(why) = SecretRef::parse(v) {
                out.push(Problem::new(&path, why));
            }
        }
    }

    fn check_args(&self, out: &mut Vec<Problem>) {
        const MANAGED: [&str; 6] = [
            "--name",
            "--detach",
            "-d",
            "--restart",
            "--rm",
            "--env-file",
        ];
        for (i, a) in self.docker_args.iter().enumerate() {
            let flag = a.split('=').next().unwrap_or(a);
            if MANAGED.contains(&flag) {
                out.push(Problem::new(
                    at(&format!("dockerArgs[{i}]")),
                    format!("`{flag}` is set by the revision itself; use `name`, `restart` or `environment` instead"),
                ));
            }
            if a.contains('\0') {
                out.push(Problem::new(
                    at(&format!("dockerArgs[{i}]")),
                    "holds a NUL character",
                ));
            }
        }
        if let Some(cmd) = &self.command {
            if cmd.is_empty() {
                out.push(Problem::new(
                    at("command"),
                    "is an empty array; remove it to run the image's own command",
                ));
            }
            if cmd.iter().any(|a| a.contains('\0')) {
                out.push(Problem::new(at("command"), "holds a NUL character"));
            }
        }
    }

    /// The timeout of a hook, configured or default.
    pub fn timeout(&self, hook: &str) -> i64 {
        self.hook(hook)
            .and_then(|s| s.timeout)
            .unwrap_or_else(|| default_timeout(hook))
    }

    /// The user a hook runs as. Default `root`.
    pub fn runas(&self, hook: &str) -> String {
        self.hook(hook)
            .and_then(|s| s.runas.clone())
            .unwrap_or_else(|| "root".to_owned())
    }

    fn hook(&self, hook: &str) -> Option<&HookSettings> {
        self.hooks.0.iter().find(|(h, _)| h == hook).map(|(_, s)| s)
    }
}

fn check_health(h: &Health, out: &mut Vec<Problem>) {
    let url_ok = (h.url.starts_with("http://") || h.url.starts_with("https://"))
        && h.url.len() > "https://".len()
        && h.url.chars().all(|c| c.is_ascii_graphic());
    if !url_ok {
        out.push(Problem::new(
            at("health.url"),
            format!(
                "`{}` is not an HTTP URL; give one such as `http://127.0.0.1:8080/health`",
                h.url
            ),
        ));
    }
    if let Some(s) = h.status
        && !(100..=599).contains(&s)
    {
        out.push(Problem::new(
            at("health.status"),
            format!("{s} is not an HTTP status; use 100 to 599"),
        ));
    }
    if let Some(i) = h.interval
        && !(1..=300).contains(&i)
    {
        out.push(Problem::new(
            at("health.interval"),
            format!("is {i} seconds; use 1 to 300"),
        ));
    }
    if h.contains
        .as_deref()
        .is_some_and(|c| c.is_empty() || has_control(c))
    {
        out.push(Problem::new(
            at("health.contains"),
            "must be non-empty text on one line; remove it to check the status only",
        ));
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Docker's rule for container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn is_container_name(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() >= 2
        && s.len() <= 255
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn is_install_dir(s: &str) -> bool {
    s.starts_with('/')
        && s.len() > 1
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'))
        && !s.split('/').any(|part| part == ".." || part == ".")
}

fn is_restart_policy(s: &str) -> bool {
    match s.split_once(':') {
        None => matches!(s, "no" | "always" | "unless-stopped" | "on-failure"),
        Some(("on-failure", n)) => n.parse::<u32>().is_ok_and(|n| n > 0),
        Some(_) => false,
    }
}

fn is_user_name(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 32
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
}

/// A name a Docker env file can carry: no `=`, no blanks or control characters, not a
/// comment.
fn env_name(k: &str) -> Result<(), String> {
    if k.is_empty()
        || k.contains('=')
        || k.starts_with('#')
        || k.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        Err(format!(
            "`{k}` is not an environment variable name; use letters, digits and `_` (no `=`, blanks or leading `#`)"
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> RevisionConfig {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    fn problems(json: &str) -> Vec<String> {
        parse(json)
            .check()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_full_configuration_is_accepted() {
        let c = parse(
            r#"{"name": "web", "directory": "/srv/web", "ports": [{"containerPort": 8080, "hostPort": 80, "protocol": "tcp", "hostIp": "127.0.0.1"}],
                "environment": {"LOG_LEVEL": "info", "EMPTY": "", "spring.profile": "a=b c"},
                "secrets": {"DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf", "API_KEY": "/web/api-key"},
                "restart": "on-failure:5", "logDriver": "awslogs", "logOptions": {"awslogs-group": "/ec2/web"},
                "dockerArgs": ["--memory", "512m", "--label=team=web shop"], "command": ["node", "server.js"],
                "login": {"username": "bot", "passwordFrom": "/hub/token"},
                "health": {"url": "http://127.0.0.1/health", "status": 204, "contains": "ok", "interval": 2},
                "hooks": {"ValidateService": {"timeout": 3600, "runas": "deploy"}}, "region": "eu-west-1"}"#,
        );
        assert_eq!(c.check(), vec![]);
        assert_eq!(c.timeout("ValidateService"), 3600);
        assert_eq!(c.timeout("ApplicationStop"), 60);
        assert_eq!(c.runas("ValidateService"), "deploy");
        assert_eq!(c.runas("BeforeInstall"), "root");
    }

    #[test]
    fn bad_values_name_the_key_and_the_fix() {
        let cases = [
            (
                r#"{"name": "web app"}"#,
                "UserParameters.revision.name: `web app` is not a valid Docker container name",
            ),
            (r#"{"name": "-web"}"#, "not a valid Docker container name"),
            (
                r#"{"ports": [{"containerPort": 70000}]}"#,
                "ports[0].containerPort: 70000 is out of range; use a port from 1 to 65535",
            ),
            (
                r#"{"ports": [{"containerPort": 80, "hostPort": 0}]}"#,
                "ports[0].hostPort: 0 is out of range",
            ),
            (
                r#"{"ports": [{"containerPort": 80, "protocol": "http"}]}"#,
                "`http` is not a protocol",
            ),
            (
                r#"{"ports": [{"containerPort": 80, "hostIp": "localhost"}]}"#,
                "is not an IP address",
            ),
            (
                r#"{"hooks": {"ValidateService": {"timeout": 3601}}}"#,
                "hooks.ValidateService.timeout: is 3601 seconds; CodeDeploy allows 1 to 3600 seconds",
            ),
            (
                r#"{"hooks": {"AfterInstall": {}}}"#,
                "hooks.AfterInstall: is not a hook of a generated revision; use one of `ApplicationStop`",
            ),
            (
                r#"{"hooks": {"BeforeInstall": {"runas": "root; rm"}}}"#,
                "is not a Linux user name",
            ),
            (
                r#"{"restart": "sometimes"}"#,
                "`sometimes` is not a Docker restart policy",
            ),
            (
                r#"{"restart": "on-failure:0"}"#,
                "is not a Docker restart policy",
            ),
            (
                r#"{"environment": {"A B": "1"}}"#,
                "`A B` is not an environment variable name",
            ),
            (
                r#"{"environment": {"A": "x\ny"}}"#,
                "environment.A: holds a line break",
            ),
            (
                r#"{"secrets": {"A": "db-password"}}"#,
                "secrets.A: `db-password` is not a Secrets Manager secret ARN",
            ),
            (
                r#"{"environment": {"A": "1"}, "secrets": {"A": "/a"}}"#,
                "secrets.A: is also in `environment`",
            ),
            (
                r#"{"dockerArgs": ["--name=x"]}"#,
                "dockerArgs[0]: `--name` is set by the revision itself",
            ),
            (
                r#"{"logOptions": {"a": "b"}}"#,
                "logOptions: needs `logDriver`",
            ),
            (
                r#"{"health": {"url": "127.0.0.1/health"}}"#,
                "health.url: `127.0.0.1/health` is not an HTTP URL",
            ),
            (
                r#"{"health": {"url": "http://x/", "status": 99}}"#,
                "health.status: 99 is not an HTTP status",
            ),
            (
                r#"{"directory": "/opt/../etc"}"#,
                "directory: `/opt/../etc` is not a usable install directory",
            ),
            (
                r#"{"directory": "opt/web"}"#,
                "is not a usable install directory",
            ),
            (
                r#"{"login": {"username": "", "passwordFrom": "/x"}}"#,
                "login.username: is empty",
            ),
            (
                r#"{"login": {"username": " bot", "passwordFrom": "/x"}}"#,
                "login.username: starts or ends with a blank",
            ),
            (
                r#"{"login": {"username": "bot\n", "passwordFrom": "/x"}}"#,
                "login.username: holds a control character",
            ),
            (r#"{"command": []}"#, "command: is an empty array"),
            (
                r#"{"templateArtifact": "Src"}"#,
                "templateArtifact: is only used with `template`",
            ),
            (
                r#"{"template": "appspec.yml", "name": "web", "ports": [{"containerPort": 1}]}"#,
                "template: a revision template brings its own scripts, so `ports` would be ignored",
            ),
        ];
        for (json, expected) in cases {
            let found = problems(json);
            assert!(
                found.iter().any(|p| p.contains(expected)),
                "{json}: {found:?}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        for json in [
            r#"{"nmae": "web"}"#,
            r#"{"ports": [{"port": 80}]}"#,
            r#"{"hooks": {"ValidateService": {"timout": 5}}}"#,
            r#"{"health": {"path": "/"}}"#,
        ] {
            let e = serde_json::from_str::<RevisionConfig>(json).unwrap_err();
            assert!(e.to_string().contains("unknown field"), "{json}: {e}");
        }
    }

    #[test]
    fn container_names() {
        for (name, ok) in [
            ("web", true),
            ("w", false),
            ("web.1_a-b", true),
            ("_web", false),
            ("web/a", false),
            ("Web2", true),
        ] {
            assert_eq!(is_container_name(name), ok, "{name}");
        }
    }
}
