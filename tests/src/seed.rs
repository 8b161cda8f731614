//! Seeds the local AWS with what the sample events in `events/` refer to:
//! - every folder `events/artifacts/<key>.zip/` is zipped and stored as
//!   `s3://pipeline-artifacts/<key>.zip`;
//! - every `events/seed/*.json` is applied: `{"calls": [{"target", "body"}]}` (raw AWS JSON
//!   calls), `"ecr": [{"repository", "mutability"?, "images": [{"tag", "manifest"?,
//!   "mediaType"?}]}]`, and `"ecs": {"clusters": [..], "taskDefinitions": [..],
//!   "services": [{"cluster", "serviceName", "taskDefinition", ..}]}`, and `"stubs":
//!   [{"service", "operation", "match", "response"}]` (answers the local AWS gives instead
//!   of moto, e.g. ECR scan findings), and `"deployments"` (deployment histories for the
//!   emulator's `/_local/deployments`: ECS service deployments, CodeDeploy groups, pipeline
//!   executions and states, alarm tags), and `"state"` (the emulator's `/_local/state`:
//!   alarms and the scripted deployment health the health gate reads).

use crate::job::{BUCKET, ensure_bucket};
use crate::local_aws::LocalAws;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const ECR: &str = "AmazonEC2ContainerRegistry_V20150921";
const ECS: &str = "AmazonEC2ContainerServiceV20141113";

/// Seeds everything under `events_dir`; returns a line per thing seeded.
pub async fn seed(aws: &LocalAws, events_dir: &Path) -> Result<Vec<String>, String> {
    seed_matching(aws, events_dir, None).await
}

/// Seeds only what one function's samples use: `events/artifacts/<function>/` and
/// `events/seed/<function>.json`.
pub async fn seed_only(
    aws: &LocalAws,
    events_dir: &Path,
    function: &str,
) -> Result<Vec<String>, String> {
    seed_matching(aws, events_dir, Some(function)).await
}

async fn seed_matching(
    aws: &LocalAws,
    events_dir: &Path,
    only: Option<&str>,
) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    let artifacts = events_dir.join("artifacts");
    let scope = only.map_or_else(|| artifacts.clone(), |f| artifacts.join(f));
    if scope.is_dir() {
        let s3 = aws.s3().await;
        ensure_bucket(&s3, BUCKET).await;
        for dir in zip_dirs(&scope) {
            let key = relative(&artifacts, &dir);
            let files = files_under(&dir);
            let named: Vec<(String, Vec<u8>)> = files
                .iter()
                .map(|f| {
                    let bytes = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
                    Ok((relative(&dir, f), bytes))
                })
                .collect::<Result<_, String>>()?;
            let refs: Vec<(&str, &[u8])> = named
                .iter()
                .map(|(p, b)| (p.as_str(), b.as_slice()))
                .collect();
            let zip = shared::artifacts::build_zip(&refs).map_err(|e| e.to_string())?;
            s3.put_object()
                .bucket(BUCKET)
                .key(&key)
                .body(zip.into())
                .send()
                .await
                .map_err(|e| format!("upload {key}: {e:?}"))?;
            done.push(format!("s3://{BUCKET}/{key}"));
        }
    }
    let mut seeds: Vec<PathBuf> = std::fs::read_dir(events_dir.join("seed"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    seeds.sort();
    for path in seeds {
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let spec: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for (target, body) in calls_of(&spec) {
            aws.json_call(&target, &body)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        for stub in spec["stubs"].as_array().into_iter().flatten() {
            aws.stub(
                stub["service"].as_str().unwrap_or_default(),
                stub["operation"].as_str().unwrap_or_default(),
                stub.get("match").cloned().unwrap_or(json!({})),
                stub["response"].clone(),
            )
            .await;
        }
        if let Some(histories) = spec.get("deployments") {
            aws.seed_deployments(histories.clone()).await;
        }
        if let Some(state) = spec.get("state") {
            aws.set_state(state.clone()).await;
        }
        done.push(format!(
            "seed {}",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
    }
    Ok(done)
}

/// The raw AWS calls a seed file stands for, in order.
pub fn calls_of(spec: &Value) -> Vec<(String, Value)> {
    let mut calls = Vec::new();
    for repo in spec["ecr"].as_array().into_iter().flatten() {
        let name = repo["repository"].as_str().unwrap_or_default();
        calls.push((
            format!("{ECR}.CreateRepository"),
            json!({"repositoryName": name,
                   "imageTagMutability": repo.get("mutability").cloned().unwrap_or(json!("MUTABLE"))}),
        ));
        for image in repo["images"].as_array().into_iter().flatten() {
            let tag = image["tag"].as_str().unwrap_or("latest");
            let (manifest, media_type) = match (&image["manifest"], &image["mediaType"]) {
                (Value::String(m), t) => (m.clone(), t.as_str().unwrap_or(DOCKER_V2).to_owned()),
                (Value::Object(_), t) => (
                    image["manifest"].to_string(),
                    t.as_str().unwrap_or(DOCKER_V2).to_owned(),
                ),
                _ => (
                    sample_manifest(&format!("{name}:{tag}")),
                    DOCKER_V2.to_owned(),
                ),
            };
            calls.push((
                format!("{ECR}.PutImage"),
                json!({"repositoryName": name, "imageTag": tag, "imageManifest": manifest,
                       "imageManifestMediaType": media_type}),
            ));
        }
    }
    let ecs = &spec["ecs"];
    for cluster in ecs["clusters"].as_array().into_iter().flatten() {
        calls.push((
            format!("{ECS}.CreateCluster"),
            json!({"clusterName": cluster}),
        ));
    }
    for td in ecs["taskDefinitions"].as_array().into_iter().flatten() {
        calls.push((format!("{ECS}.RegisterTaskDefinition"), td.clone()));
    }
    for service in ecs["services"].as_array().into_iter().flatten() {
        let mut body = service.clone();
        if body.get("desiredCount").is_none() {
            body["desiredCount"] = json!(1);
        }
        calls.push((format!("{ECS}.CreateService"), body));
    }
    for call in spec["calls"].as_array().into_iter().flatten() {
        if let Some(target) = call["target"].as_str() {
            calls.push((target.to_owned(), call["body"].clone()));
        }
    }
    calls
}

/// The workspace's `events/` folder: the sample events for `cargo lambda invoke`.
pub fn events_dir() -> PathBuf {
    crate::workspace_root().join("events")
}

/// The JSON file at `path`; a missing or malformed one panics naming it.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The sample event `events/<name>.json` (`render-taskdef-service`, ...).
pub fn sample(name: &str) -> Value {
    read_json(&events_dir().join(format!("{name}.json")))
}

/// The sample events of `function`: `events/<function>.json` and `events/<function>-*.json`,
/// sorted by name.
pub fn sample_events(events_dir: &Path, function: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(events_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name == format!("{function}.json")
                || (name.starts_with(&format!("{function}-")) && name.ends_with(".json"))
        })
        .collect();
    found.sort();
    found
}

pub const DOCKER_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A Docker v2 image manifest with made-up blob digests derived from `seed`.
pub fn sample_manifest(seed: &str) -> String {
    json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_V2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": 1470, "digest": fake_digest(&format!("{seed}/config"))},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 3_370_706, "digest": fake_digest(&format!("{seed}/layer0"))}],
    })
    .to_string()
}

/// A well-formed `sha256:` digest derived from `seed` (not a real hash of anything).
pub fn fake_digest(seed: &str) -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hex = String::with_capacity(71);
    hex.push_str("sha256:");
    for i in 0..4u8 {
        let mut h = DefaultHasher::new();
        (seed, i).hash(&mut h);
        hex.push_str(&format!("{:016x}", h.finish()));
    }
    hex
}

fn zip_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.extension().is_some_and(|e| e == "zip") {
                    out.push(path);
                } else {
                    stack.push(path);
                }
            }
        }
    }
    out.sort();
    out
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn relative(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
