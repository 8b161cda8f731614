//! The EC2 pipeline on the local Docker engine: the image built from busybox and pushed
//! to a local registry (Basic auth, loopback only), and the CodeDeploy agent played on
//! local instances, each a directory under a temporary directory, that share the one
//! engine. The agent unpacks the revision bundle the pipeline produced and runs the
//! appspec's hooks with `sh`, each bounded by its `timeout`, in CodeDeploy's order; it
//! reports every instance to the local CodeDeploy, which succeeds, fails and rolls back
//! the deployment as CodeDeploy does. The load balancer's health checks are played too:
//! each instance's page is requested and the target group's health set from the answers.
//!
//! The instances share one engine and the host's loopback, so each instance's `docker`
//! (a small wrapper on its `PATH`) names the containers it runs `<prefix>-<instance>-<name>`,
//! runs them on the host network (the engine has no bridge) and has them listen on the
//! instance's own loopback address, which the instance's `curl` reaches for `127.0.0.1`.
//! Every container and image made here carries the rehearsal's prefix (the registry's
//! host for images) and is removed at the end.

use super::execution::Location;
use super::template::to_json;
use super::world::{CODEDEPLOY_API, World};
use super::{control, get_zip};
use crate::local_aws::LocalAws;
use crate::registry::{AuthMode, PASSWORD, Registry, USER, free_port, registry_binary};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::process::Command;

/// The label on every container the rehearsal runs (its value: the prefix).
pub const LABEL: &str = "ecs-pipeline-actions.rehearsal";
const INSTANCE_LABEL: &str = "ecs-pipeline-actions.instance";
/// The application's health page in the rehearsal's image (a CGI script of busybox
/// `httpd`: 200 for a good release, 500 for a bad one).
pub const HEALTH_PATH: &str = "/cgi-bin/health";
/// The revision's waits, shortened as the gate's are: `ValidateService`'s timeout and
/// the interval between its health probes.
pub const VALIDATE_TIMEOUT: u64 = 8;
pub const HEALTH_INTERVAL: u64 = 1;
const POLL: Duration = Duration::from_millis(150);

/// What the EC2 pipeline's world needs to deploy on the engine.
#[derive(Debug, Clone)]
pub struct Real {
    /// The local registry (`127.0.0.1:<port>`).
    pub host: String,
    /// Names of containers start with it; it is also the containers' label value.
    pub prefix: String,
    /// Instances and image builds live here.
    pub root: PathBuf,
    /// The build's Docker client configuration (its registry login).
    pub docker_config: PathBuf,
    /// The port the application listens on, on each instance's address.
    pub port: u16,
    /// The engine's `docker` and the host's `curl`.
    pub docker: PathBuf,
    pub curl: PathBuf,
    /// The local AWS, for the instances' `aws`.
    pub endpoint: String,
    pub python: PathBuf,
}

/// The engine in use: the registry, the temporary directory; removes what the rehearsal
/// made when dropped.
pub struct Engine {
    pub real: Real,
    pub version: String,
    _registry: Registry,
    _dir: tempfile::TempDir,
}

async fn output(program: &Path, args: &[&str]) -> Result<String, String> {
    let run = Command::new(program).args(args).kill_on_drop(true).output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .map_err(|_| {
            format!(
                "{} {} did not end in 60s",
                program.display(),
                args.join(" ")
            )
        })?
        .map_err(|e| format!("{}: {e}", program.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {}: {}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The prefix of this process's containers' names (and their label's value).
pub fn prefix() -> String {
    format!("rehearsal-{}", std::process::id())
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

impl Engine {
    /// The engine, or why there is none to use (no `docker`, the daemon unreachable, no
    /// busybox or registry to build and serve the image from).
    pub async fn start(aws: &LocalAws) -> Result<Engine, String> {
        let docker = which("docker").ok_or("no docker binary on PATH")?;
        let version = output(&docker, &["info", "--format", "{{.ServerVersion}}"])
            .await
            .map_err(|e| format!("the Docker daemon is not reachable ({e})"))?;
        let curl = which("curl").ok_or("no curl for the revision's health check")?;
        if !Path::new("/bin/busybox").is_file() {
            return Err("no /bin/busybox to build the image from (busybox-static)".into());
        }
        if !registry_binary().is_file() {
            return Err(format!(
                "no registry binary {} (docker-registry)",
                registry_binary().display()
            ));
        }
        let registry = Registry::start(AuthMode::Basic).await;
        let host = registry.host();
        let dir = tempfile::Builder::new()
            .prefix("rehearsal-instances-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let docker_config = dir.path().join("build-docker");
        std::fs::create_dir_all(&docker_config).map_err(|e| e.to_string())?;
        let python = crate::local_aws::workspace_root().join(".venv/bin/python3");
        let real = Real {
            host: host.clone(),
            prefix: prefix(),
            root: dir.path().to_owned(),
            docker_config,
            port: free_port(),
            docker,
            curl,
            endpoint: aws.endpoint(),
            python: if python.is_file() {
                python
            } else {
                "python3".into()
            },
        };
        let engine = Engine {
            real,
            version,
            _registry: registry,
            _dir: dir,
        };
        engine.login().await?;
        Ok(engine)
    }

    async fn login(&self) -> Result<(), String> {
        let mut child = Command::new(&self.real.docker)
            .arg("--config")
            .arg(&self.real.docker_config)
            .args([
                "login",
                "--username",
                USER,
                "--password-stdin",
                &self.real.host,
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| e.to_string())?;
        if let Some(mut stdin) = child.stdin.take() {
            use tokio::io::AsyncWriteExt;
            stdin
                .write_all(PASSWORD.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
        }
        let out = child.wait_with_output().await.map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "docker login {}: {}",
                self.real.host,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(())
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let docker = |args: &[&str]| {
            std::process::Command::new(&self.real.docker)
                .args(args)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        let filter = format!("label={LABEL}={}", self.real.prefix);
        let containers = docker(&["ps", "--all", "--quiet", "--filter", &filter]);
        let ids: Vec<&str> = containers.split_whitespace().collect();
        if !ids.is_empty() {
            docker(&[&["rm", "--force"], ids.as_slice()].concat());
        }
        // Images: every one of the rehearsal's registry (its host names them).
        let listed = docker(&["images", "--format", "{{.Repository}} {{.ID}}"]);
        let ours: BTreeSet<&str> = listed
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(repo, _)| repo.starts_with(&format!("{}/", self.real.host)))
            .map(|(_, id)| id)
            .collect();
        if !ours.is_empty() {
            let ids: Vec<&str> = ours.into_iter().collect();
            docker(&[&["rmi", "--force"], ids.as_slice()].concat());
        }
    }
}

/// Builds release `version`'s image from busybox (`docker import`): busybox `httpd` on
/// the instance's address and the application's port, its health page answering 200
/// (`good`) or 500; pushes it to the local registry and removes it from the engine (the
/// instances pull it). Returns the pushed `host/repository:tag` and its digest.
pub async fn build_image(
    real: &Real,
    repository: &str,
    tag: &str,
    version: &str,
    good: bool,
) -> Result<(String, String), String> {
    let io = |e: std::io::Error| e.to_string();
    let root = real.root.join("images").join(tag);
    let _ = std::fs::remove_dir_all(&root);
    for dir in ["bin", "www/cgi-bin"] {
        std::fs::create_dir_all(root.join(dir)).map_err(io)?;
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).map_err(io)?;
    for tool in ["sh", "httpd", "cat", "env", "sleep"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(tool)).map_err(io)?;
    }
    std::fs::write(
        root.join("www/index.html"),
        format!("<h1>{repository} {version}</h1>\n"),
    )
    .map_err(io)?;
    let page = if good {
        format!("printf 'Content-Type: text/plain\\r\\n\\r\\nok {repository} {version}\\n'\n")
    } else {
        format!(
            "printf 'Status: 500 Internal Server Error\\r\\nContent-Type: text/plain\\r\\n\\r\\nbroken: {repository} {version}\\n'\n"
        )
    };
    let cgi = root.join("www/cgi-bin/health");
    std::fs::write(&cgi, format!("#!/bin/sh\n{page}")).map_err(io)?;
    std::fs::set_permissions(&cgi, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
    // PID 1 is a shell that ends on TERM, so `docker stop` does not wait out its grace.
    let serve = format!(
        "trap 'exit 0' TERM; /bin/httpd -f -p \"${{LISTEN:-127.0.0.1}}:{}\" -h /www & wait",
        real.port
    );
    let cmd = format!(
        "CMD {}",
        serde_json::to_string(&["/bin/sh", "-c", &serve]).unwrap_or_default()
    );
    let tar = real.root.join("images").join(format!("{tag}.tar"));
    output(
        Path::new("tar"),
        &[
            "-C",
            &root.display().to_string(),
            "-c",
            "-f",
            &tar.display().to_string(),
            ".",
        ],
    )
    .await?;
    let name = format!("{}/{repository}:{tag}", real.host);
    output(
        &real.docker,
        &[
            "import",
            "--change",
            &cmd,
            "--change",
            &format!("ENV RELEASE={version}"),
            &tar.display().to_string(),
            &name,
        ],
    )
    .await?;
    let config = real.docker_config.display().to_string();
    output(&real.docker, &["--config", &config, "push", &name]).await?;
    let pinned = output(
        &real.docker,
        &["inspect", "--format", "{{index .RepoDigests 0}}", &name],
    )
    .await?;
    let digest = pinned
        .rsplit_once('@')
        .map(|(_, d)| d.to_owned())
        .ok_or_else(|| format!("no digest for {name}: {pinned}"))?;
    output(&real.docker, &["rmi", &name]).await?;
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_file(&tar);
    Ok((name, digest))
}

/// A container of the rehearsal as `docker inspect` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub instance: String,
    pub name: String,
    /// The image as the revision named it (`host/repository@sha256:...`).
    pub image: String,
    /// The digest the container runs (from the image's `RepoDigests`), and the image id.
    pub digest: String,
    pub image_id: String,
    pub status: String,
    /// The deployment that started it.
    pub deployment: String,
}

impl Container {
    pub fn line(&self) -> String {
        format!(
            "{}: container {} {} {} (digest {}, image {}), started by {}",
            self.instance,
            self.name,
            self.status,
            self.image.split('@').next().unwrap_or_default(),
            short(&self.digest),
            short(&self.image_id),
            self.deployment
        )
    }
}

fn short(digest: &str) -> String {
    digest.chars().take(19).collect()
}

/// The rehearsal's containers now, by instance.
pub async fn containers(real: &Real) -> Vec<Container> {
    let filter = format!("label={LABEL}={}", real.prefix);
    let Ok(ids) = output(
        &real.docker,
        &["ps", "--all", "--quiet", "--filter", &filter],
    )
    .await
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for id in ids.split_whitespace() {
        let format = format!(
            "{{{{index .Config.Labels \"{INSTANCE_LABEL}\"}}}}|{{{{.Name}}}}|{{{{.Config.Image}}}}|{{{{.Image}}}}|{{{{.State.Status}}}}|{{{{index .Config.Labels \"com.amazonaws.codedeploy.deployment-id\"}}}}"
        );
        let Ok(text) = output(&real.docker, &["inspect", "--format", &format, id]).await else {
            continue;
        };
        let parts: Vec<&str> = text.split('|').collect();
        if parts.len() < 6 {
            continue;
        }
        let image_id = parts[3].to_owned();
        let digests = output(
            &real.docker,
            &[
                "image",
                "inspect",
                "--format",
                "{{json .RepoDigests}}",
                &image_id,
            ],
        )
        .await
        .ok()
        .and_then(|t| serde_json::from_str::<Vec<String>>(&t).ok())
        .unwrap_or_default();
        let named = parts[2].split_once('@').map(|(_, d)| d.to_owned());
        let digest = digests
            .iter()
            .filter_map(|d| d.split_once('@').map(|(_, d)| d.to_owned()))
            .find(|d| Some(d) == named.as_ref())
            .or_else(|| {
                digests
                    .first()
                    .and_then(|d| d.split_once('@').map(|(_, d)| d.to_owned()))
            })
            .unwrap_or_default();
        out.push(Container {
            instance: parts[0].to_owned(),
            name: parts[1].trim_start_matches('/').to_owned(),
            image: parts[2].to_owned(),
            digest,
            image_id,
            status: parts[4].to_owned(),
            deployment: parts[5].to_owned(),
        });
    }
    out.sort_by(|a, b| a.instance.cmp(&b.instance));
    out
}

/// One appspec hook entry.
#[derive(Debug, Clone)]
struct Hook {
    location: String,
    timeout: u64,
    runas: String,
}

/// An appspec: its hooks by event, and its files' (source, destination).
struct AppSpec {
    hooks: BTreeMap<String, Vec<Hook>>,
    files: Vec<(String, String)>,
}

fn appspec(files: &[(String, Vec<u8>)]) -> Result<AppSpec, String> {
    let text = files
        .iter()
        .find(|(p, _)| p == "appspec.yml" || p == "appspec.yaml")
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .ok_or("The AppSpec file cannot be found")?;
    let spec = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text)
        .map(to_json)
        .map_err(|e| format!("appspec.yml: {e}"))?;
    let mut hooks = BTreeMap::new();
    for (event, list) in spec["hooks"].as_object().into_iter().flatten() {
        let entries = list
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| Hook {
                location: h["location"].as_str().unwrap_or_default().to_owned(),
                timeout: h["timeout"]
                    .as_u64()
                    .or_else(|| h["timeout"].as_str().and_then(|t| t.parse().ok()))
                    .unwrap_or(3600),
                runas: h["runas"].as_str().unwrap_or("root").to_owned(),
            })
            .collect();
        hooks.insert(event.clone(), entries);
    }
    let files = spec["files"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["source"].as_str().unwrap_or("/").to_owned(),
                f["destination"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    Ok(AppSpec { hooks, files })
}

/// The in-place lifecycle events of an instance, in order; the agent runs the hooks of
/// those the appspec may hook (`DownloadBundle` and `Install` are its own).
const EVENTS: [&str; 7] = [
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
];

/// A local instance: its directory, its loopback address, its tools.
struct Instance {
    id: String,
    dir: PathBuf,
    address: String,
}

impl Instance {
    fn last_successful(&self) -> Option<PathBuf> {
        std::fs::read_to_string(self.dir.join("last-successful"))
            .ok()
            .map(|p| PathBuf::from(p.trim()))
            .filter(|p| p.is_dir())
    }
}

/// The CodeDeploy agent on every instance of the world's group, and the load balancer's
/// health checks of them.
pub struct Agent<'a> {
    aws: &'a LocalAws,
    world: &'a World,
    real: &'a Real,
    printer: super::report::Printer,
    instances: Vec<Instance>,
    /// Deployments looked at already.
    seen: Mutex<BTreeSet<String>>,
    /// The instance whose container is being replaced (deregistered meanwhile).
    deploying: Mutex<Option<String>>,
    /// The containers started during this release.
    pub ran: Mutex<Vec<Container>>,
    /// Lines for the release's record: each instance's deployment, as it ended.
    pub log: Mutex<Vec<String>>,
}

impl<'a> Agent<'a> {
    /// The agent for `world`'s instances (set up the first time).
    pub fn new(
        aws: &'a LocalAws,
        world: &'a World,
        real: &'a Real,
        printer: super::report::Printer,
    ) -> Result<Self, String> {
        let mut instances = Vec::new();
        for (i, id) in world.instances.iter().enumerate() {
            let dir = real.root.join("instances").join(id);
            let instance = Instance {
                id: id.clone(),
                address: format!("127.0.1.{}", i + 1),
                dir,
            };
            if !instance.dir.join("bin").is_dir() {
                set_up(real, &instance).map_err(|e| format!("instance {id}: {e}"))?;
            }
            instances.push(instance);
        }
        Ok(Self {
            aws,
            world,
            real,
            printer,
            instances,
            seen: Mutex::new(BTreeSet::new()),
            deploying: Mutex::new(None),
            ran: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
        })
    }

    /// Works every deployment of the group that is under way, and plays the load
    /// balancer, until `stop` is set.
    pub async fn serve(&self, stop: &AtomicBool) {
        loop {
            self.balance().await;
            if let Some(id) = self.next_deployment().await {
                self.deploy(&id).await;
                continue;
            }
            if stop.load(Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn view(&self, id: &str) -> Value {
        control(self.aws, "GET", &format!("codedeploy/{id}"), json!({}))
            .await
            .unwrap_or_default()
    }

    async fn next_deployment(&self) -> Option<String> {
        let listed = self
            .aws
            .json_call(
                &format!("{CODEDEPLOY_API}.ListDeployments"),
                &json!({"applicationName": self.world.application,
                        "deploymentGroupName": self.world.group}),
            )
            .await
            .unwrap_or_default();
        let mut ids: Vec<String> = listed["deployments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        ids.reverse(); // oldest first
        for id in ids {
            if self
                .seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&id)
            {
                continue;
            }
            let status = self.view(&id).await["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if active(&status) {
                self.seen
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id.clone());
                return Some(id);
            }
            if !status.is_empty() {
                self.seen
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id);
            }
        }
        None
    }

    /// One deployment, instance after instance (one at a time), as the agent on each
    /// runs it.
    async fn deploy(&self, id: &str) {
        let got = self
            .aws
            .json_call(
                &format!("{CODEDEPLOY_API}.GetDeployment"),
                &json!({"deploymentId": id}),
            )
            .await
            .unwrap_or_default();
        let s3 = &got["deploymentInfo"]["revision"]["s3Location"];
        let location = Location {
            bucket: s3["bucket"].as_str().unwrap_or_default().to_owned(),
            key: s3["key"].as_str().unwrap_or_default().to_owned(),
        };
        let bundle = get_zip(self.aws, &location).await;
        let rollback = got["deploymentInfo"]["rollbackInfo"]["rollbackTriggeringDeploymentId"]
            .as_str()
            .map(|t| format!(" (rollback of {t})"))
            .unwrap_or_default();
        self.printer.progress(&format!(
            "CodeDeploy agent: deployment {id}{rollback} of s3://{}/{} to {} local instances",
            location.bucket,
            location.key,
            self.instances.len()
        ));
        for instance in &self.instances {
            if !active(self.view(id).await["status"].as_str().unwrap_or_default()) {
                return;
            }
            let ended = self.deploy_instance(id, instance, &bundle).await;
            *self.deploying.lock().unwrap_or_else(|e| e.into_inner()) = None;
            let line = match &ended {
                Ok(done) => format!("{} {id}: {done}", instance.id),
                Err(why) => format!("{} {id}: FAILED {why}", instance.id),
            };
            self.printer.progress(&line);
            self.log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(line);
            if ended.is_err() {
                return;
            }
        }
    }

    async fn report(&self, id: &str, instance: &Instance, status: &str, events: &[Value]) {
        let mut shown: Vec<Value> = events.to_vec();
        for name in EVENTS.iter().skip(events.len()) {
            shown.push(json!({"lifecycleEventName": name, "status": "Pending"}));
        }
        let _ = control(
            self.aws,
            "POST",
            &format!("codedeploy/{id}/instance"),
            json!({"instance": instance.id, "status": status, "lifecycleEvents": shown}),
        )
        .await;
    }

    /// The lifecycle events on one instance; what it did, or why it failed.
    async fn deploy_instance(
        &self,
        id: &str,
        instance: &Instance,
        bundle: &Result<Vec<(String, Vec<u8>)>, String>,
    ) -> Result<String, String> {
        let mut events: Vec<Value> = Vec::new();
        self.report(id, instance, "InProgress", &events).await;
        let archive = instance
            .dir
            .join("deployment-root")
            .join(id)
            .join("deployment-archive");
        let previous = instance.last_successful();
        let mut ran: Vec<&str> = Vec::new();
        for event in EVENTS {
            let started = Instant::now();
            let result: Result<Option<String>, (String, String)> = match event {
                "ApplicationStop" => match &previous {
                    // The last successful revision's ApplicationStop (none before the first).
                    Some(dir) => {
                        *self.deploying.lock().unwrap_or_else(|e| e.into_inner()) =
                            Some(instance.id.clone());
                        self.hooks(id, instance, dir, event).await
                    }
                    None => Ok(None),
                },
                "DownloadBundle" => match bundle {
                    Ok(files) => unpack(&archive, files)
                        .map(|()| Some(format!("{} files", files.len())))
                        .map_err(|e| ("BundleError".into(), e)),
                    Err(e) => Err(("BundleError".into(), e.clone())),
                },
                "Install" => install(instance, &archive)
                    .map(|()| None)
                    .map_err(|e| ("UnknownError".into(), e)),
                _ => {
                    if event == "BeforeInstall" {
                        *self.deploying.lock().unwrap_or_else(|e| e.into_inner()) =
                            Some(instance.id.clone());
                    }
                    if event == "ValidateService" {
                        // Registered again: the load balancer checks the new container.
                        *self.deploying.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    }
                    self.hooks(id, instance, &archive, event).await
                }
            };
            let took = started.elapsed().as_millis() as u64;
            match result {
                Ok(log) => {
                    if log.is_some() {
                        ran.push(event);
                    }
                    events.push(json!({"lifecycleEventName": event, "status": "Succeeded",
                                       "durationMs": took}));
                    self.report(id, instance, "InProgress", &events).await;
                    if event == "ApplicationStart" {
                        for c in containers(self.real).await {
                            if c.instance == instance.id && c.deployment == id {
                                self.ran.lock().unwrap_or_else(|e| e.into_inner()).push(c);
                            }
                        }
                    }
                }
                Err((code, message)) => {
                    let tail: Vec<&str> = message.lines().rev().take(8).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    // CodeDeploy's diagnostics: the script, and its last line as the message.
                    let script = message
                        .split("specified location: ")
                        .nth(1)
                        .and_then(|rest| rest.split_whitespace().next())
                        .unwrap_or_default();
                    events.push(json!({"lifecycleEventName": event, "status": "Failed",
                        "durationMs": took,
                        "diagnostics": {"errorCode": code, "scriptName": script,
                            "message": tail.last().copied().unwrap_or_default(),
                            "logTail": tail.join("\n")}}));
                    self.report(id, instance, "Failed", &events).await;
                    return Err(format!("{event} {code}: {}", tail.last().unwrap_or(&"")));
                }
            }
        }
        std::fs::write(
            instance.dir.join("last-successful"),
            archive.display().to_string(),
        )
        .map_err(|e| e.to_string())?;
        self.report(id, instance, "Succeeded", &events).await;
        Ok(format!("{} succeeded", ran.join(", ")))
    }

    /// Runs the hooks of `event` from `archive`'s appspec; their output, `None` when it
    /// has none; (error code, log) on failure.
    async fn hooks(
        &self,
        id: &str,
        instance: &Instance,
        archive: &Path,
        event: &str,
    ) -> Result<Option<String>, (String, String)> {
        let files: Vec<(String, Vec<u8>)> = std::fs::read(archive.join("appspec.yml"))
            .map(|b| vec![("appspec.yml".to_owned(), b)])
            .unwrap_or_default();
        let hooks = appspec(&files)
            .map_err(|e| ("AppSpecError".into(), e))?
            .hooks;
        let Some(list) = hooks.get(event).filter(|l| !l.is_empty()) else {
            return Ok(None);
        };
        let mut log = String::new();
        for hook in list {
            let script = archive.join(&hook.location);
            if !script.is_file() {
                return Err((
                    "ScriptMissing".into(),
                    format!(
                        "Script does not exist at specified location: {}",
                        hook.location
                    ),
                ));
            }
            let mut command = Command::new("sh");
            command
                .arg(&script)
                .current_dir(archive)
                .env_clear()
                .env(
                    "PATH",
                    format!(
                        "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        instance.dir.join("bin").display()
                    ),
                )
                .env("HOME", instance.dir.join("home"))
                .env("TMPDIR", instance.dir.join("tmp"))
                .env("DOCKER_CONFIG", instance.dir.join("docker"))
                .env("LIFECYCLE_EVENT", event)
                .env("DEPLOYMENT_ID", id)
                .env("APPLICATION_NAME", &self.world.application)
                .env("DEPLOYMENT_GROUP_NAME", &self.world.group)
                .kill_on_drop(true);
            let run = command.output();
            let out = match tokio::time::timeout(Duration::from_secs(hook.timeout), run).await {
                Err(_) => {
                    return Err((
                        "ScriptTimedOut".into(),
                        format!(
                            "{log}Script at specified location: {} failed to complete in {} seconds",
                            hook.location, hook.timeout
                        ),
                    ));
                }
                Ok(Err(e)) => return Err(("ScriptFailed".into(), format!("sh: {e}"))),
                Ok(Ok(out)) => out,
            };
            log.push_str(&String::from_utf8_lossy(&out.stdout));
            log.push_str(&String::from_utf8_lossy(&out.stderr));
            if !out.status.success() {
                return Err((
                    "ScriptFailed".into(),
                    format!(
                        "{log}Script at specified location: {} run as user {} failed with exit code {}",
                        hook.location,
                        hook.runas,
                        out.status.code().unwrap_or(-1)
                    ),
                ));
            }
        }
        Ok(Some(log))
    }

    /// The load balancer's health checks: the instances that run a container are the
    /// target group's targets, healthy when their page answers 200; the instance whose
    /// container is being replaced is draining.
    async fn balance(&self) {
        let running = containers(self.real).await;
        let deploying = self
            .deploying
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut targets = Vec::new();
        for instance in &self.instances {
            if deploying.as_deref() == Some(instance.id.as_str()) {
                targets.push(
                    json!({"id": instance.id, "port": self.real.port, "state": "draining",
                    "reason": "Target.DeregistrationInProgress",
                    "description": "Target deregistration is in progress"}),
                );
                continue;
            }
            if !running.iter().any(|c| c.instance == instance.id) {
                continue; // not registered: it never ran the application
            }
            let (state, reason, description) = probe(&instance.address, self.real.port).await;
            let mut t = json!({"id": instance.id, "port": self.real.port, "state": state});
            if let Some(r) = reason {
                t["reason"] = json!(r);
                t["description"] = json!(description);
            }
            targets.push(t);
        }
        let health: serde_json::Map<String, Value> = self
            .world
            .target_groups
            .iter()
            .map(|tg| (tg.clone(), Value::Array(targets.clone())))
            .collect();
        let _ = control(self.aws, "POST", "world", json!({"targetHealth": health})).await;
    }
}

fn active(status: &str) -> bool {
    matches!(
        status,
        "Created" | "Queued" | "InProgress" | "Baking" | "Ready"
    )
}

/// One health check of an instance's page: (state, reason, description).
async fn probe(address: &str, port: u16) -> (&'static str, Option<&'static str>, String) {
    let Ok(ip) = address.parse::<std::net::Ipv4Addr>() else {
        return (
            "unhealthy",
            Some("Target.FailedHealthChecks"),
            "bad address".into(),
        );
    };
    let addr = std::net::SocketAddr::from((ip, port));
    let sent = crate::http::send(addr, "GET", HEALTH_PATH, &[], Vec::new());
    match tokio::time::timeout(Duration::from_secs(2), sent).await {
        Ok(Ok((200, _))) => ("healthy", None, String::new()),
        Ok(Ok((status, _))) => (
            "unhealthy",
            Some("Target.ResponseCodeMismatch"),
            format!("Health checks failed with these codes: [{status}]"),
        ),
        Ok(Err(_)) | Err(_) => (
            "unhealthy",
            Some("Target.FailedHealthChecks"),
            "Health checks failed".into(),
        ),
    }
}

fn unpack(archive: &Path, files: &[(String, Vec<u8>)]) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(archive);
    for (path, bytes) in files {
        let relative = Path::new(path);
        if relative.is_absolute()
            || relative
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(format!("the bundle's file {path} is outside the archive"));
        }
        let target = archive.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&target, bytes).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `files:`: each source copied to its destination, under the instance's own root.
fn install(instance: &Instance, archive: &Path) -> Result<(), String> {
    let files: Vec<(String, Vec<u8>)> = std::fs::read(archive.join("appspec.yml"))
        .map(|b| vec![("appspec.yml".to_owned(), b)])
        .unwrap_or_default();
    let copies = appspec(&files)?.files;
    for (source, destination) in copies {
        let from = archive.join(source.trim_start_matches('/'));
        let to = instance
            .dir
            .join("fs")
            .join(destination.trim_start_matches('/'));
        copy_tree(&from, &to).map_err(|e| format!("{source} -> {destination}: {e}"))?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(from, to).map(|_| ())
    }
}

/// An instance's directory: its `docker`, `curl` and `aws`.
fn set_up(real: &Real, instance: &Instance) -> std::io::Result<()> {
    for dir in ["bin", "home", "tmp", "docker", "fs", "deployment-root"] {
        std::fs::create_dir_all(instance.dir.join(dir))?;
    }
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let docker = format!(
        r#"#!/bin/sh
# Instance {id}'s docker: the local engine, which the instances share. The containers it
# runs are named {prefix}-{id}-<name>, run on the host network (the engine has no
# bridge) and listen on the instance's own loopback address.
set -eu
engine={engine}
prefix={name_prefix}
case "${{1:-}}" in
  run)
    shift
    n=$#
    set -- "$@" run --network host --label {label} --label {instance_label} --env LISTEN={address}
    while [ "$n" -gt 0 ]; do
      a=$1
      shift
      n=$((n - 1))
      case $a in
        --name) set -- "$@" --name "$prefix$1"; shift; n=$((n - 1)) ;;
        --publish) shift; n=$((n - 1)) ;;
        *) set -- "$@" "$a" ;;
      esac
    done
    exec "$engine" "$@" ;;
  container|stop|rm|logs)
    if [ "$1" = container ] && [ "${{2:-}}" != inspect ]; then exec "$engine" "$@"; fi
    n=$#
    i=0
    for a in "$@"; do
      i=$((i + 1))
      if [ "$i" -lt "$n" ]; then set -- "$@" "$a"; else set -- "$@" "$prefix$a"; fi
    done
    shift "$n"
    exec "$engine" "$@" ;;
  *) exec "$engine" "$@" ;;
esac
"#,
        id = instance.id,
        prefix = real.prefix,
        engine = quote(&real.docker.display().to_string()),
        name_prefix = quote(&format!("{}-{}-", real.prefix, instance.id)),
        label = quote(&format!("{LABEL}={}", real.prefix)),
        instance_label = quote(&format!("{INSTANCE_LABEL}={}", instance.id)),
        address = instance.address,
    );
    let curl = format!(
        r#"#!/bin/sh
# Instance {id}'s curl: 127.0.0.1 is the instance's own loopback address, {address}.
n=$#
for a in "$@"; do
  case $a in
    http://127.0.0.1:*|http://127.0.0.1/*) a="http://{address}${{a#http://127.0.0.1}}" ;;
  esac
  set -- "$@" "$a"
done
shift "$n"
exec {curl} "$@"
"#,
        id = instance.id,
        address = instance.address,
        curl = quote(&real.curl.display().to_string()),
    );
    let aws = format!(
        r#"#!/bin/sh
# Instance {id}'s aws: the calls the revision's scripts make, on the local AWS.
exec {python} - "$@" <<'PY'
import base64, sys
import boto3
args = sys.argv[1:]
def opt(name):
    return args[args.index(name) + 1] if name in args else None
def client(service):
    return boto3.client(service, region_name=opt("--region") or "us-east-1", endpoint_url={endpoint},
                        aws_access_key_id="testing", aws_secret_access_key="testing")
try:
    if args[:2] == ["secretsmanager", "get-secret-value"]:
        print(client("secretsmanager").get_secret_value(SecretId=opt("--secret-id"))["SecretString"])
    elif args[:2] == ["ssm", "get-parameter"]:
        print(client("ssm").get_parameter(Name=opt("--name"), WithDecryption=True)["Parameter"]["Value"])
    elif args[:2] == ["ecr", "get-login-password"]:
        token = client("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
        print(base64.b64decode(token).decode().split(":", 1)[1])
    else:
        sys.exit("aws: not a call the revision makes: " + " ".join(args))
except Exception as e:
    sys.exit(f"aws: {{e}}")
PY
"#,
        id = instance.id,
        python = quote(&real.python.display().to_string()),
        endpoint = serde_json::to_string(&real.endpoint).unwrap_or_default(),
    );
    for (name, text) in [("docker", docker), ("curl", curl), ("aws", aws)] {
        let path = instance.dir.join("bin").join(name);
        std::fs::write(&path, text)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_appspec_gives_each_events_hooks_and_the_files() {
        let text = "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /opt/app\nhooks:\n  ApplicationStop:\n    - location: application-stop.sh\n      timeout: 60\n      runas: root\n  ValidateService:\n    - location: validate-service.sh\n      timeout: 8\n";
        let AppSpec { hooks, files } = appspec(&[("appspec.yml".into(), text.into())]).unwrap();
        assert_eq!(hooks["ValidateService"][0].timeout, 8);
        assert_eq!(hooks["ValidateService"][0].runas, "root");
        assert_eq!(hooks["ApplicationStop"][0].location, "application-stop.sh");
        assert_eq!(files, [("/".to_owned(), "/opt/app".to_owned())]);
        assert!(appspec(&[]).is_err());
    }

    #[test]
    fn a_bundle_file_outside_the_archive_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("a");
        assert!(unpack(&archive, &[("../x".into(), b"x".to_vec())]).is_err());
        assert!(unpack(&archive, &[("s/x.sh".into(), b"x".to_vec())]).is_ok());
        assert!(archive.join("s/x.sh").is_file());
    }
}
