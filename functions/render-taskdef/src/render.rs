//! The render itself, as plain functions: images and edits applied, checked, pinned.

use crate::config::Config;
use crate::edit::{SetImage, apply_edits, apply_images, placeholders};
use crate::images::{Assignment, EcrRepository, ImageFile, ImageName, ImageRef};
use crate::normalize::same_definition;
use crate::problem::{Problem, Problems, list};
use crate::template::{TaskDef, container_names, containers};
use crate::validate::validate;
use serde_json::Value;

/// The rendered task definition and the images this action set in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub doc: TaskDef,
    pub set: Vec<SetImage>,
}

/// The images to set, in order: the image file's, then `UserParameters.images` (which win).
pub fn assignments(
    cfg: &Config,
    image_file: Option<(&str, &ImageFile)>,
    doc: &TaskDef,
) -> Result<Vec<Assignment>, Vec<Problem>> {
    let mut given: Vec<Result<Assignment, Problem>> = Vec::new();
    match image_file {
        Some((path, ImageFile::Detail(detail))) => given.push(
            detail_target(cfg, doc)
                .map_err(|p| p.with_path(path))
                .and_then(|key| {
                    let image = ImageRef::from_detail(detail);
                    assignment(key, &image.uri, path.to_owned(), Some(&image))
                }),
        ),
        Some((path, ImageFile::Definitions(entries))) => {
            if let Some(c) = &cfg.image_container {
                given.push(Err(Problem::new(
                    "UserParameters.imageContainer",
                    format!("is `{c}`, but the image file {path} is imagedefinitions.json, which names its containers; remove imageContainer"),
                )));
            }
            for (i, d) in entries.iter().enumerate() {
                given.push(assignment(
                    d.name.clone(),
                    &d.uri,
                    format!("{path}[{i}]"),
                    None,
                ));
            }
        }
        None => {
            if let Some(c) = &cfg.image_container {
                given.push(Err(Problem::new(
                    "UserParameters.imageContainer",
                    format!("is `{c}`, but no imageDetail.json was found in the input artifacts"),
                )));
            }
        }
    }
    for (key, uri) in &cfg.images.0 {
        given.push(assignment(
            key.clone(),
            uri,
            format!("UserParameters.images.{key}"),
            None,
        ));
    }
    let (ok, bad): (Vec<_>, Vec<_>) = given.into_iter().partition(Result::is_ok);
    if bad.is_empty() {
        Ok(ok.into_iter().filter_map(Result::ok).collect())
    } else {
        Err(bad.into_iter().filter_map(Result::err).collect())
    }
}

fn assignment(
    key: String,
    uri: &str,
    source: String,
    image: Option<&ImageRef>,
) -> Result<Assignment, Problem> {
    if uri.trim().is_empty() {
        return Err(Problem::new(
            source,
            "is empty (an unresolved pipeline variable?); give an image URI",
        ));
    }
    if let Err(e) = ImageName::parse(uri) {
        return Err(Problem::new(
            source,
            format!(
                "`{uri}` is not an image reference such as `repository:tag` or `registry/repository@sha256:...` ({e})"
            ),
        ));
    }
    let image = image.cloned().unwrap_or_else(|| ImageRef::from_uri(uri));
    Ok(Assignment { key, image, source })
}

/// Where the one image of an `imageDetail.json` goes.
fn detail_target(cfg: &Config, doc: &TaskDef) -> Result<String, Problem> {
    if let Some(c) = &cfg.image_container {
        return Ok(c.clone());
    }
    if placeholders(doc).contains(&"<IMAGE1_NAME>") {
        return Ok("<IMAGE1_NAME>".to_owned());
    }
    match container_names(doc).as_slice() {
        [one] => Ok((*one).to_owned()),
        names => Err(Problem::new(
            "",
            format!(
                "imageDetail.json names no container, and the template has no `<IMAGE1_NAME>` and {} containers ({}); set `imageContainer` in UserParameters",
                names.len(),
                list(names)
            ),
        )),
    }
}

/// Applies images and edits to the template and checks the result. Every problem is
/// returned at once; nothing is written or registered when there is one.
pub fn render(
    mut doc: TaskDef,
    assignments: &[Assignment],
    cfg: &Config,
) -> Result<Rendered, Problems> {
    let mut problems = Vec::new();
    let set = match apply_images(&mut doc, assignments) {
        Ok(set) => set,
        Err(p) => {
            problems.extend(p);
            Vec::new()
        }
    };
    problems.extend(apply_edits(&mut doc, cfg));
    problems.extend(validate(&doc));
    if problems.is_empty() {
        Ok(Rendered { doc, set })
    } else {
        Err(Problems(problems))
    }
}

/// A tag to resolve to its digest in ECR.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DigestQuery {
    pub repository: EcrRepository,
    pub tag: String,
}

/// The ECR lookups that pinning needs: one per repository and tag not already pinned.
pub fn digest_queries<'a>(
    images: impl Iterator<Item = (&'a str, &'a ImageRef)>,
) -> Result<Vec<DigestQuery>, Problems> {
    let mut out: Vec<DigestQuery> = Vec::new();
    let mut problems = Vec::new();
    for (source, image) in images {
        if image.digest.is_some() {
            continue;
        }
        let Ok(name) = ImageName::parse(&image.uri) else {
            continue;
        };
        let Some(repository) = name.ecr() else {
            problems.push(Problem::new(
                source,
                format!(
                    "`{}` is not in a private ECR registry, so pinDigests cannot resolve its tag; give it as `...@sha256:<digest>` or set pinDigests to false",
                    image.uri
                ),
            ));
            continue;
        };
        let query = DigestQuery {
            repository,
            tag: name.tag.unwrap_or_else(|| "latest".to_owned()),
        };
        if !out.contains(&query) {
            out.push(query);
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Problems(problems))
    }
}

/// Rewrites each image this action set to `repository@digest`, keeping the tag for the summary.
pub fn pin(rendered: &mut Rendered, resolved: &[(DigestQuery, String)]) {
    let Some(list) = rendered
        .doc
        .get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for s in &mut rendered.set {
        let Ok(name) = ImageName::parse(&s.image.uri) else {
            continue;
        };
        if name.digest.is_some() {
            continue;
        }
        let digest = s.image.digest.clone().or_else(|| {
            let repository = name.ecr()?;
            let tag = name.tag.clone().unwrap_or_else(|| "latest".to_owned());
            resolved
                .iter()
                .find(|(q, _)| q.repository == repository && q.tag == tag)
                .map(|(_, d)| d.clone())
        });
        let Some(digest) = digest else { continue };
        s.image.uri = name.pinned(&digest);
        s.image.digest = Some(digest);
        if s.image.tag.is_none() {
            s.image.tag = Some(name.tag.clone().unwrap_or_else(|| "latest".to_owned()));
        }
        if let Some(c) = list.get_mut(s.index).and_then(Value::as_object_mut) {
            c.insert("image".to_owned(), Value::String(s.image.uri.clone()));
        }
    }
}

/// `taskdef.json`: pretty JSON, as rendered.
pub fn taskdef_json(doc: &TaskDef) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(doc).unwrap_or_default();
    out.push(b'\n');
    out
}

/// `imagedefinitions.json` for the standard ECS deploy action: every container's image.
pub fn image_definitions(doc: &TaskDef) -> Vec<u8> {
    let entries: Vec<Value> = containers(doc)
        .iter()
        .filter_map(|c| {
            Some(serde_json::json!({
                "name": c.get("name")?.as_str()?,
                "imageUri": c.get("image")?.as_str()?,
            }))
        })
        .collect();
    let mut out = serde_json::to_vec_pretty(&entries).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The family in `web`, `web:42` or `arn:aws:ecs:...:task-definition/web:42`.
pub fn family_of(id: &str) -> &str {
    let tail = id.rsplit_once(":task-definition/").map_or(id, |(_, t)| t);
    tail.split(':').next().unwrap_or(tail)
}

/// True for a bare family (a describe of it returns its latest ACTIVE revision).
pub fn is_bare_family(id: &str) -> bool {
    !id.contains(':') && !id.contains('/')
}

/// The ARN and revision of a described task definition (`{"taskDefinition": {...}}` or bare).
pub fn identity(described: &Value) -> Option<(String, i64)> {
    let td = described.get("taskDefinition").unwrap_or(described);
    Some((
        td.get("taskDefinitionArn")?.as_str()?.to_owned(),
        td.get("revision")?.as_i64()?,
    ))
}

/// The revision to reuse instead of registering: the latest ACTIVE one, when it is the same.
pub fn reusable(rendered: &TaskDef, latest: Option<&Value>) -> Option<(String, i64)> {
    let latest = latest?;
    let td = latest.get("taskDefinition").unwrap_or(latest).as_object()?;
    if td
        .get("status")
        .and_then(Value::as_str)
        .is_some_and(|s| s != "ACTIVE")
    {
        return None;
    }
    // Tags cannot be changed on a registered revision: new tags need a new revision.
    let latest_tags = latest
        .get("tags")
        .filter(|_| latest.get("taskDefinition").is_some());
    (same_definition(rendered, td) && same_tags(rendered.get("tags"), latest_tags))
        .then(|| identity(latest))
        .flatten()
}

/// Tag lists as sets (`[]` and absent are the same).
fn same_tags(a: Option<&Value>, b: Option<&Value>) -> bool {
    let set = |v: Option<&Value>| {
        let mut tags: Vec<(String, String)> = v
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|t| {
                let field = |k: &str| {
                    t.get(k)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                (field("key"), field("value"))
            })
            .collect();
        tags.sort();
        tags
    };
    set(a) == set(b)
}

/// A template of `n` containers (20 environment variables each, image placeholders), its
/// `imagedefinitions.json`, and environment edits for every container: the benchmark's
/// large render, shared with the tests.
#[doc(hidden)]
pub fn large_workload(n: usize) -> (String, Vec<u8>, Config) {
    const ECR: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    let containers: Vec<Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "name": format!("c{i}"),
                "image": format!("<IMAGE{i}_NAME>"),
                "memory": 256, "memoryReservation": 128,
                "portMappings": [{"containerPort": 8000 + i}],
                "environment": (0..20)
                    .map(|j| serde_json::json!({"name": format!("V{j}"), "value": format!("x={j}")}))
                    .collect::<Vec<_>>(),
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/g"}}
            })
        })
        .collect();
    let template =
        serde_json::json!({"family": "big", "containerDefinitions": containers}).to_string();
    let defs: Vec<Value> = (0..n)
        .map(|i| serde_json::json!({"name": format!("c{i}"), "imageUri": format!("{ECR}/r{i}:v{i}")}))
        .collect();
    let env: serde_json::Map<String, Value> = (0..n)
        .map(|i| {
            (
                format!("c{i}"),
                serde_json::json!({"V3": "new", "V5": null, "NEW": "a=b"}),
            )
        })
        .collect();
    let config =
        serde_json::from_value(serde_json::json!({"environment": env})).unwrap_or_default();
    (
        template,
        serde_json::to_vec(&defs).unwrap_or_default(),
        config,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::parse_image_file;
    use crate::images::tests_support::{definitions, detail};
    use crate::template::tests_support::doc;
    use serde_json::json;

    const ECR: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

    fn cfg(json: &str) -> Config {
        serde_json::from_str(json).unwrap()
    }

    fn template() -> TaskDef {
        doc(json!({
            "family": "web",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "256",
            "memory": "512",
            "containerDefinitions": [
                {"name": "app", "image": "<IMAGE1_NAME>", "portMappings": [{"containerPort": 8080, "name": "http", "appProtocol": "http"}]},
                {"name": "envoy", "image": "envoyproxy/envoy:v1.30", "essential": false}
            ],
            "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
            "ephemeralStorage": {"sizeInGiB": 30},
            "enableFaultInjection": true
        }))
    }

    #[test]
    fn image_detail_goes_to_image1_then_user_images_win() {
        let file = parse_image_file(
            "imageDetail.json",
            format!(r#"{{"ImageURI": "{ECR}/web:v2"}}"#).as_bytes(),
        )
        .unwrap();
        let a = assignments(
            &cfg(r#"{"images": {"envoy": "envoyproxy/envoy:v1.31"}}"#),
            Some(("imageDetail.json", &file)),
            &template(),
        )
        .unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(
            (a[0].key.as_str(), a[0].source.as_str()),
            ("<IMAGE1_NAME>", "imageDetail.json")
        );
        assert_eq!(a[1].source, "UserParameters.images.envoy");
        let r = render(template(), &a, &Config::default()).unwrap();
        assert_eq!(containers(&r.doc)[0]["image"], format!("{ECR}/web:v2"));
        assert_eq!(containers(&r.doc)[1]["image"], "envoyproxy/envoy:v1.31");
    }

    #[test]
    fn image_detail_target_rules() {
        let file = detail("web:1");
        let plain = doc(
            json!({"containerDefinitions": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}),
        );
        let e = assignments(
            &Config::default(),
            Some(("BuildArtifact/imageDetail.json", &file)),
            &plain,
        )
        .unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "BuildArtifact/imageDetail.json: imageDetail.json names no container, and the template has no `<IMAGE1_NAME>` and 2 containers (`a`, `b`); set `imageContainer` in UserParameters"
        );
        let a = assignments(
            &cfg(r#"{"imageContainer": "b"}"#),
            Some(("f", &file)),
            &plain,
        )
        .unwrap();
        assert_eq!(a[0].key, "b");
        let single = doc(json!({"containerDefinitions": [{"name": "only", "image": "x"}]}));
        assert_eq!(
            assignments(&Config::default(), Some(("f", &file)), &single).unwrap()[0].key,
            "only"
        );
        let e = assignments(&cfg(r#"{"imageContainer": "b"}"#), None, &plain).unwrap_err();
        assert_eq!(e[0].path, "UserParameters.imageContainer");
        let defs = definitions(&[("a", "x:1")]);
        let e = assignments(
            &cfg(r#"{"imageContainer": "b"}"#),
            Some(("B/imagedefinitions.json", &defs)),
            &plain,
        )
        .unwrap_err();
        assert!(e[0].message.contains("names its containers"), "{e:?}");
    }

    #[test]
    fn bad_uris_are_named_by_source() {
        let file = definitions(&[("app", "a b")]);
        let e = assignments(
            &cfg(r#"{"images": {"envoy": ""}}"#),
            Some(("imagedefinitions.json", &file)),
            &template(),
        )
        .unwrap_err();
        assert_eq!(e[0].path, "imagedefinitions.json[0]");
        assert!(e[0].message.contains("not an image reference"));
        assert_eq!(e[1].path, "UserParameters.images.envoy");
        assert!(e[1].message.contains("unresolved pipeline variable"));
    }

    #[test]
    fn unknown_fields_pass_through_unchanged() {
        let a = assignments(
            &cfg(&format!(r#"{{"images": {{"app": "{ECR}/web:1"}}}}"#)),
            None,
            &template(),
        )
        .unwrap();
        let r = render(
            template(),
            &a,
            &cfg(r#"{"environment": {"app": {"A": "1"}}}"#),
        )
        .unwrap();
        let out: Value = serde_json::from_slice(&taskdef_json(&r.doc)).unwrap();
        assert_eq!(out["enableFaultInjection"], true);
        assert_eq!(out["runtimePlatform"], template()["runtimePlatform"]);
        assert_eq!(out["ephemeralStorage"], json!({"sizeInGiB": 30}));
        assert_eq!(
            out["containerDefinitions"][0]["portMappings"],
            json!([{"containerPort": 8080, "name": "http", "appProtocol": "http"}])
        );
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "family",
                "networkMode",
                "requiresCompatibilities",
                "cpu",
                "memory",
                "containerDefinitions",
                "runtimePlatform",
                "ephemeralStorage",
                "enableFaultInjection"
            ]
        );
    }

    #[test]
    fn all_problems_at_once() {
        let mut t = template();
        t.insert("memory".into(), json!("4096"));
        t.insert("networkMode".into(), json!("bridge"));
        let a = assignments(&cfg(r#"{"images": {"web": "x:1"}}"#), None, &t).unwrap();
        let e = render(t, &a, &cfg(r#"{"environment": {"api": {"A": "1"}}}"#)).unwrap_err();
        let paths: Vec<&str> = e.0.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "UserParameters.images.web",
                "UserParameters.environment.api",
                "networkMode",
                "memory",
                "containerDefinitions[0].image"
            ]
        );
    }

    #[test]
    fn pinning_plan_and_apply() {
        let d = format!("sha256:{}", "c".repeat(64));
        let images = [
            ImageRef::from_uri(&format!("{ECR}/web:v1")),
            ImageRef::from_uri(&format!("{ECR}/web:v1")),
            ImageRef::from_uri(&format!("{ECR}/side")),
            ImageRef::from_uri(&format!("{ECR}/web@{d}")),
        ];
        let q = digest_queries(images.iter().map(|i| ("s", i))).unwrap();
        assert_eq!(
            q.iter()
                .map(|q| (q.repository.name.as_str(), q.tag.as_str()))
                .collect::<Vec<_>>(),
            [("web", "v1"), ("side", "latest")]
        );
        let public = ImageRef::from_uri("public.ecr.aws/nginx/nginx:1");
        let e = digest_queries([("UserParameters.images.envoy", &public)].into_iter()).unwrap_err();
        assert!(
            e.0[0].message.contains("not in a private ECR registry"),
            "{e}"
        );

        let a = assignments(
            &cfg(&format!(r#"{{"images": {{"app": "{ECR}/web:v1"}}}}"#)),
            None,
            &template(),
        )
        .unwrap();
        let mut r = render(template(), &a, &Config::default()).unwrap();
        pin(&mut r, &[(q[0].clone(), d.clone())]);
        assert_eq!(containers(&r.doc)[0]["image"], format!("{ECR}/web@{d}"));
        assert_eq!(r.set[0].image.tag.as_deref(), Some("v1"));
        assert_eq!(r.set[0].image.digest.as_deref(), Some(d.as_str()));
        assert_eq!(
            containers(&r.doc)[1]["image"],
            "envoyproxy/envoy:v1.30",
            "images not set are not pinned"
        );
    }

    /// The dual-stack endpoint is the same private registry: its tags are looked up in
    /// ECR and pinned as written (promote-image accepted it while pinDigests refused it).
    #[test]
    fn dual_stack_ecr_images_are_pinned() {
        let dual = "123456789012.dkr-ecr.eu-west-1.on.aws";
        let d = format!("sha256:{}", "d".repeat(64));
        let image = ImageRef::from_uri(&format!("{dual}/team/web:v2"));
        let q = digest_queries([("UserParameters.images.app", &image)].into_iter()).unwrap();
        assert_eq!(
            q,
            [DigestQuery {
                repository: EcrRepository {
                    account: "123456789012".into(),
                    region: "eu-west-1".into(),
                    name: "team/web".into()
                },
                tag: "v2".into()
            }]
        );
        let a = assignments(
            &cfg(&format!(r#"{{"images": {{"app": "{dual}/team/web:v2"}}}}"#)),
            None,
            &template(),
        )
        .unwrap();
        let mut r = render(template(), &a, &Config::default()).unwrap();
        pin(&mut r, &[(q[0].clone(), d.clone())]);
        assert_eq!(
            containers(&r.doc)[0]["image"],
            format!("{dual}/team/web@{d}")
        );
    }

    #[test]
    fn outputs_and_identities() {
        let defs: Value = serde_json::from_slice(&image_definitions(&template())).unwrap();
        assert_eq!(
            defs,
            json!([{"name": "app", "imageUri": "<IMAGE1_NAME>"}, {"name": "envoy", "imageUri": "envoyproxy/envoy:v1.30"}])
        );
        assert_eq!(family_of("web"), "web");
        assert_eq!(family_of("web:42"), "web");
        assert_eq!(
            family_of("arn:aws:ecs:eu-west-1:123456789012:task-definition/web-x:42"),
            "web-x"
        );
        assert!(is_bare_family("web") && !is_bare_family("web:1"));
        let described = json!({"taskDefinition": {"taskDefinitionArn": "arn:td/web:4", "revision": 4, "status": "ACTIVE", "family": "web"}});
        assert_eq!(identity(&described), Some(("arn:td/web:4".into(), 4)));
        let mut same = template();
        same.insert("taskDefinitionArn".into(), json!("arn:td/web:4"));
        same.insert("revision".into(), json!(4));
        let latest = json!({"taskDefinition": same});
        assert_eq!(
            reusable(&template(), Some(&latest)),
            Some(("arn:td/web:4".into(), 4))
        );
        assert_eq!(reusable(&template(), None), None);
        let mut changed = template();
        changed.insert("memory".into(), json!("1024"));
        assert_eq!(reusable(&changed, Some(&latest)), None);
    }

    #[test]
    fn new_tags_need_a_new_revision() {
        let td = json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "x"}]});
        let latest = json!({"taskDefinition": {
            "family": "web", "revision": 4, "status": "ACTIVE",
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:4",
            "containerDefinitions": [{"name": "app", "image": "x"}]},
            "tags": [{"key": "team", "value": "a"}, {"key": "env", "value": "prod"}]});
        let mut same = doc(td.clone());
        same.insert(
            "tags".into(),
            json!([{"key": "env", "value": "prod"}, {"key": "team", "value": "a"}]),
        );
        assert!(reusable(&same, Some(&latest)).is_some());
        let mut changed = doc(td);
        changed.insert(
            "tags".into(),
            json!([{"key": "team", "value": "b"}, {"key": "env", "value": "prod"}]),
        );
        assert_eq!(reusable(&changed, Some(&latest)), None);
    }

    /// A 100-container task definition with images and edits for every container (its
    /// timing is measured by `examples/render-100.rs` in the benchmark).
    #[test]
    fn hundred_containers_render() {
        let (template, defs, c) = large_workload(100);
        let (doc, _) = crate::template::parse("taskdef.json", template.as_bytes()).unwrap();
        let file = parse_image_file("imagedefinitions.json", &defs).unwrap();
        let a = assignments(&c, Some(("imagedefinitions.json", &file)), &doc).unwrap();
        let r = render(doc, &a, &c).unwrap();
        let out = taskdef_json(&r.doc);
        let defs_out = image_definitions(&r.doc);
        assert!(out.len() > 100_000 && !defs_out.is_empty());
        assert_eq!(r.set.len(), 100);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\"NEW\"") && !text.contains("\"V5\""));
    }
}
