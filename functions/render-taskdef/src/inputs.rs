//! Finding the template, the image file and the appspec template among the input artifacts.

use crate::config::Config;
use crate::error::Error;
use crate::images::{ImageFile, image_files, parse_image_file};
use crate::problem::{Problem, list};
use crate::revision::{Files, RevisionConfig};
use crate::template::{self, TaskDef};
use shared::artifacts::{ArtifactError, ArtifactZip};

fn by_name<'a>(inputs: &'a [ArtifactZip], name: &str) -> Result<&'a ArtifactZip, Error> {
    inputs.iter().find(|z| z.name() == name).ok_or_else(|| {
        ArtifactError::NoSuchInput {
            name: name.to_owned(),
            available: list(inputs.iter().map(ArtifactZip::name)),
        }
        .into()
    })
}

/// The template file: in `templateArtifact`, else in the first input artifact that has it.
/// Returns the document, the artifact it came from, and the describe-only fields stripped.
pub fn template_file<'a>(
    cfg: &Config,
    inputs: &'a [ArtifactZip],
    path: &str,
) -> Result<(TaskDef, &'a str, Vec<String>), Error> {
    let zip = match &cfg.template_artifact {
        Some(name) => by_name(inputs, name)?,
        None => inputs.iter().find(|z| z.find(path).is_some()).ok_or_else(|| {
            let seen: Vec<String> = inputs
                .iter()
                .map(|z| format!("{} ({})", z.name(), list(z.paths().take(10))))
                .collect();
            Error::from(vec![Problem::new(
                "",
                format!(
                    "no input artifact has the template `{path}`; input artifacts: {}. Set templatePath (and templateArtifact), or use taskDefinition or service as the template",
                    if seen.is_empty() { "none".to_owned() } else { seen.join(", ") }
                ),
            )])
        })?,
    };
    let label = format!("{}/{}", zip.name(), zip.find(path).unwrap_or(path));
    let value = zip.json(path).map_err(|e| match e {
        ArtifactError::Json { source, .. } if source.is_syntax() => {
            Error::from(vec![template::not_json(&label, &source)])
        }
        other => other.into(),
    })?;
    let (doc, stripped) = template::from_value(&label, value).map_err(|p| Error::from(vec![p]))?;
    Ok((doc, zip.name(), stripped))
}

/// The image file, if any: `imageArtifact`/`imageFile` when given, else the one
/// `imageDetail.json` or `imagedefinitions.json` among the inputs. Returns its label
/// (`artifact/path`) and content.
pub fn image_file(
    cfg: &Config,
    inputs: &[ArtifactZip],
) -> Result<Option<(String, ImageFile)>, Error> {
    let candidates: Vec<(&ArtifactZip, String)> = match (&cfg.image_artifact, &cfg.image_file) {
        (Some(name), Some(file)) => {
            let zip = by_name(inputs, name)?;
            zip.file(file)?;
            vec![(zip, zip.find(file).unwrap_or(file).to_owned())]
        }
        (Some(name), None) => {
            let zip = by_name(inputs, name)?;
            let found = image_files(zip.paths());
            if found.is_empty() {
                return Err(Error::from(vec![Problem::new(
                    "UserParameters.imageArtifact",
                    format!(
                        "artifact `{name}` has no imageDetail.json or imagedefinitions.json; it contains: {}. Set imageFile to the file that holds the image",
                        list(zip.paths().take(20))
                    ),
                )]));
            }
            found.into_iter().map(|p| (zip, p.to_owned())).collect()
        }
        (None, Some(file)) => {
            let found: Vec<_> = inputs
                .iter()
                .filter_map(|z| Some((z, z.find(file)?.to_owned())))
                .collect();
            if found.is_empty() {
                return Err(Error::from(vec![Problem::new(
                    "UserParameters.imageFile",
                    format!(
                        "no input artifact has `{file}`; input artifacts: {}",
                        list(inputs.iter().map(ArtifactZip::name))
                    ),
                )]));
            }
            found
        }
        (None, None) => inputs
            .iter()
            .flat_map(|z| {
                image_files(z.paths())
                    .into_iter()
                    .map(move |p| (z, p.to_owned()))
            })
            .collect(),
    };
    let (zip, path) = match candidates.as_slice() {
        [] => return Ok(None),
        [one] => one,
        many => {
            return Err(Error::from(vec![Problem::new(
                "",
                format!(
                    "found several image files: {}; set imageArtifact and imageFile to the one to use",
                    list(many.iter().map(|(z, p)| format!("{}/{p}", z.name())))
                ),
            )]));
        }
    };
    let bytes = bounded_json(zip, path)?;
    let label = format!("{}/{path}", zip.name());
    let parsed = parse_image_file(&label, &bytes).map_err(Error::from)?;
    Ok(Some((label, parsed)))
}

/// A JSON file's bytes once it has passed the artifact's JSON limits and duplicate-key check
/// (compacted); text that is not JSON at all is passed on as it is, for the image file's
/// parser to explain.
fn bounded_json(zip: &ArtifactZip, path: &str) -> Result<Vec<u8>, Error> {
    match zip.json(path) {
        Ok(value) => Ok(serde_json::to_vec(&value).unwrap_or_default()),
        Err(ArtifactError::Json { source, .. }) if source.is_syntax() => Ok(zip.file(path)?),
        Err(e) => Err(e.into()),
    }
}

/// The appspec template: `appspec.template` (required to exist when given), else
/// `appspec.yaml` if an input has one; the template's own artifact is searched first.
pub fn appspec_template(
    cfg: &Config,
    inputs: &[ArtifactZip],
    template_artifact: Option<&str>,
) -> Result<Option<(String, String)>, Error> {
    let wanted = cfg.appspec.template.as_deref().unwrap_or("appspec.yaml");
    let mut ordered: Vec<&ArtifactZip> = inputs
        .iter()
        .filter(|z| Some(z.name()) == template_artifact)
        .collect();
    ordered.extend(
        inputs
            .iter()
            .filter(|z| Some(z.name()) != template_artifact),
    );
    let Some(zip) = ordered.into_iter().find(|z| z.find(wanted).is_some()) else {
        if cfg.appspec.template.is_some() {
            return Err(Error::from(vec![Problem::new(
                "UserParameters.appspec.template",
                format!(
                    "no input artifact has `{wanted}`; input artifacts: {}",
                    list(inputs.iter().map(ArtifactZip::name))
                ),
            )]));
        }
        return Ok(None);
    };
    let bytes = zip.file(wanted)?;
    let label = format!("{}/{}", zip.name(), zip.find(wanted).unwrap_or(wanted));
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::from(vec![Problem::new(&label, "is not UTF-8 text")]))?;
    Ok(Some((label, text)))
}

/// A revision template: the folder of the user's `appspec.yml` (`revision.template`) in
/// `revision.templateArtifact`, else in the one input artifact that has it. Returns its
/// label (`artifact/folder`) and its files relative to that folder, the appspec as
/// `appspec.yml`.
pub fn revision_template(
    rev: &RevisionConfig,
    inputs: &[ArtifactZip],
    wanted: &str,
) -> Result<(String, Files), Error> {
    let zip = match &rev.template_artifact {
        Some(name) => by_name(inputs, name)?,
        None => {
            let found: Vec<&ArtifactZip> =
                inputs.iter().filter(|z| z.find(wanted).is_some()).collect();
            match found.as_slice() {
                [one] => *one,
                [] => {
                    return Err(Error::from(vec![Problem::new(
                        "UserParameters.revision.template",
                        format!(
                            "no input artifact has `{wanted}`; input artifacts: {}",
                            list(inputs.iter().map(ArtifactZip::name))
                        ),
                    )]));
                }
                many => {
                    return Err(Error::from(vec![Problem::new(
                        "UserParameters.revision.templateArtifact",
                        format!(
                            "several input artifacts have `{wanted}`: {}; set templateArtifact to the one to use",
                            list(many.iter().map(|z| z.name()))
                        ),
                    )]));
                }
            }
        }
    };
    zip.file(wanted)?;
    let appspec = zip.find(wanted).unwrap_or(wanted).to_owned();
    let folder = appspec.rsplit_once('/').map_or("", |(dir, _)| dir);
    let prefix = if folder.is_empty() {
        String::new()
    } else {
        format!("{folder}/")
    };
    let mut files = Vec::new();
    for path in zip.paths() {
        let Some(relative) = path.strip_prefix(prefix.as_str()) else {
            continue;
        };
        if relative.is_empty() || relative.ends_with('/') {
            continue;
        }
        let name = if path == appspec {
            "appspec.yml"
        } else {
            relative
        };
        files.push((name.to_owned(), zip.file(path)?));
    }
    let label = if folder.is_empty() {
        zip.name().to_owned()
    } else {
        format!("{}/{folder}", zip.name())
    };
    Ok((label, files))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::artifacts::{ZipLimits, build_zip};

    fn zip(name: &str, files: &[(&str, &str)]) -> ArtifactZip {
        let files: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (*p, c.as_bytes())).collect();
        let bytes = build_zip(&files).expect("zip");
        ArtifactZip::parse(name, bytes, ZipLimits::default()).expect("parse")
    }

    fn cfg(json: &str) -> Config {
        serde_json::from_str(json).expect("config")
    }

    const TD: &str = r#"{"family": "web", "containerDefinitions": []}"#;
    const DETAIL: &str = r#"{"ImageURI": "web:1"}"#;
    const DEFS: &str = r#"[{"name": "app", "imageUri": "web:1"}]"#;

    #[test]
    fn template_from_the_first_artifact_that_has_it() {
        let inputs = [
            zip("Build", &[("out.txt", "")]),
            zip("Src", &[("deploy/taskdef.json", TD)]),
        ];
        let (doc, artifact, _) =
            template_file(&Config::default(), &inputs, "taskdef.json").expect("found");
        assert_eq!((doc["family"].as_str(), artifact), (Some("web"), "Src"));
        let e = template_file(
            &cfg(r#"{"templateArtifact": "Build"}"#),
            &inputs,
            "taskdef.json",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains(
                "input artifact `Build` has no file `taskdef.json`; it contains: out.txt"
            ),
            "{e}"
        );
        let e = template_file(
            &cfg(r#"{"templateArtifact": "Nope"}"#),
            &inputs,
            "taskdef.json",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("no input artifact named `Nope`; it has: `Build`, `Src`"),
            "{e}"
        );
        let e = template_file(&Config::default(), &inputs, "td.json").unwrap_err();
        assert!(
            e.to_string()
                .contains("Build (`out.txt`), Src (`deploy/taskdef.json`)"),
            "{e}"
        );
        let bad = [zip("Src", &[("taskdef.json", "{")])];
        let e = template_file(&Config::default(), &bad, "taskdef.json").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Src/taskdef.json: is not valid JSON"),
            "{e}"
        );
    }

    #[test]
    fn json_inputs_are_bounded_and_refuse_duplicate_keys() {
        let twice = r#"{"family": "web", "containerDefinitions": [{"name": "app", "image": "a:1", "image": "a:2"}]}"#;
        let e = template_file(
            &Config::default(),
            &[zip("Src", &[("taskdef.json", twice)])],
            "taskdef.json",
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with(
                "`taskdef.json` in input artifact `Src` has the key `image` twice in `containerDefinitions[0]`"
            ),
            "{e}"
        );
        let numbers = format!("[{}1]", "1,".repeat(200_000));
        for files in [
            [
                ("taskdef.json", TD),
                ("imagedefinitions.json", numbers.as_str()),
            ],
            [
                ("taskdef.json", numbers.as_str()),
                ("imageDetail.json", DETAIL),
            ],
        ] {
            let inputs = [zip("Src", &files)];
            let e = template_file(&Config::default(), &inputs, "taskdef.json")
                .and_then(|_| image_file(&Config::default(), &inputs))
                .unwrap_err();
            assert!(
                e.to_string()
                    .contains("holds more than 100000 JSON values and keys"),
                "{e}"
            );
            assert_eq!(
                shared::Failure::failure_type(&e),
                shared::FailureType::ConfigurationError
            );
        }
        let twice = r#"[{"name": "app", "imageUri": "web:1", "name": "envoy"}]"#;
        let inputs = [zip("Src", &[("imagedefinitions.json", twice)])];
        let e = image_file(&Config::default(), &inputs).unwrap_err();
        assert!(
            e.to_string().contains("has the key `name` twice in `[0]`"),
            "{e}"
        );
    }

    #[test]
    fn image_file_detected_once() {
        let inputs = [
            zip("Src", &[("taskdef.json", TD)]),
            zip("Build", &[("imageDetail.json", DETAIL)]),
        ];
        let (label, file) = image_file(&Config::default(), &inputs)
            .expect("ok")
            .expect("found");
        assert_eq!(label, "Build/imageDetail.json");
        assert!(matches!(file, ImageFile::Detail(_)));
        assert!(
            image_file(&Config::default(), &inputs[..1])
                .expect("ok")
                .is_none()
        );
    }

    #[test]
    fn several_image_files_need_a_choice() {
        let inputs = [
            zip("A", &[("imageDetail.json", DETAIL)]),
            zip("B", &[("imagedefinitions.json", DEFS)]),
        ];
        let e = image_file(&Config::default(), &inputs).unwrap_err();
        assert!(e.to_string().contains("several image files: `A/imageDetail.json`, `B/imagedefinitions.json`; set imageArtifact"), "{e}");
        let (label, file) = image_file(&cfg(r#"{"imageArtifact": "B"}"#), &inputs)
            .expect("ok")
            .expect("found");
        assert_eq!(label, "B/imagedefinitions.json");
        assert!(matches!(file, ImageFile::Definitions(_)));
    }

    #[test]
    fn image_file_by_name_in_any_artifact_or_a_named_one() {
        let inputs = [
            zip("Src", &[("taskdef.json", TD)]),
            zip("Build", &[("out/images.json", DEFS)]),
        ];
        let (label, _) = image_file(&cfg(r#"{"imageFile": "images.json"}"#), &inputs)
            .expect("ok")
            .expect("found");
        assert_eq!(label, "Build/out/images.json");
        let (label, _) = image_file(
            &cfg(r#"{"imageArtifact": "Build", "imageFile": "out/images.json"}"#),
            &inputs,
        )
        .expect("ok")
        .expect("found");
        assert_eq!(label, "Build/out/images.json");
        let e = image_file(&cfg(r#"{"imageFile": "x.json"}"#), &inputs).unwrap_err();
        assert!(
            e.to_string().contains("no input artifact has `x.json`"),
            "{e}"
        );
        let e = image_file(&cfg(r#"{"imageArtifact": "Src"}"#), &inputs).unwrap_err();
        assert!(e.to_string().contains("artifact `Src` has no imageDetail.json or imagedefinitions.json; it contains: `taskdef.json`"), "{e}");
        let e = image_file(
            &cfg(r#"{"imageArtifact": "Build", "imageFile": "nope.json"}"#),
            &inputs,
        )
        .unwrap_err();
        assert!(e.to_string().contains("has no file `nope.json`"), "{e}");
    }

    #[test]
    fn appspec_template_lookup() {
        let inputs = [
            zip("Other", &[("appspec.yaml", "other")]),
            zip(
                "Src",
                &[("appspec.yaml", "mine"), ("x/custom.yaml", "custom")],
            ),
        ];
        let (label, text) = appspec_template(&Config::default(), &inputs, Some("Src"))
            .expect("ok")
            .expect("found");
        assert_eq!(
            (label.as_str(), text.as_str()),
            ("Src/appspec.yaml", "mine")
        );
        let (label, _) = appspec_template(&Config::default(), &inputs, None)
            .expect("ok")
            .expect("found");
        assert_eq!(label, "Other/appspec.yaml");
        let (_, text) = appspec_template(
            &cfg(r#"{"appspec": {"template": "custom.yaml"}}"#),
            &inputs,
            None,
        )
        .expect("ok")
        .expect("found");
        assert_eq!(text, "custom");
        assert!(
            appspec_template(&Config::default(), &inputs[..0], None)
                .expect("ok")
                .is_none()
        );
        let e = appspec_template(
            &cfg(r#"{"appspec": {"template": "a.yaml"}}"#),
            &inputs,
            None,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("UserParameters.appspec.template: no input artifact has `a.yaml`"),
            "{e}"
        );
    }
}
