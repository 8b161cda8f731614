//! cosign in the build and in the promotions. A buildspec's
//! `cosign sign --key awskms:///<key> <image>` is played as cosign plays it against the
//! local AWS: the simple-signing payload of the pushed digest signed with KMS `Sign`
//! (`ECDSA_SHA_256` over the raw payload, in the build's account), the payload and an
//! empty config pushed as blobs, and the signature manifest put under cosign's
//! `sha256-<hex>.sig` tag, where promote-image's `verify` and its referrer copy read it.
//! After the release, each promotion that requires a signature must name the build's
//! (by the key's id, as the verifier names keys) and have copied its tag.

use super::accounts::role_account;
use super::execution::Execution;
use super::pipeline::Action;
use super::report::Step;
use super::resources::KMS_API;
use super::world::{ECR_API, function_binary};
use crate::local_aws::{ACCOUNT, LocalAws};
use crate::registry::EMPTY_JSON;
use crate::signing::{B64, OCI_MANIFEST, cosign_manifest, cosign_payload};
use base64::Engine;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A buildspec's `cosign sign`: the `--key` it names, as written (`None`: keyless).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignCommand {
    pub key: Option<String>,
}

/// What the build signed: the key (its ARN, and its id as the verifier names it, the
/// `sha256:` digest of its public key), and the signature manifest and tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub key_arn: String,
    pub key_id: String,
    pub manifest: String,
    pub tag: String,
}

/// A promotion that requires a signature (`verify`), and where it copies the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPromotion {
    pub action: String,
    pub account: String,
    pub region: String,
    pub repository: String,
}

/// The first `cosign sign` among the buildspec's phase commands.
pub fn sign_command(spec: &Value) -> Option<SignCommand> {
    spec["phases"]
        .as_object()
        .into_iter()
        .flat_map(|phases| phases.values())
        .flat_map(|phase| phase["commands"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .find_map(|command| parse_sign(&words(command)))
}

/// `cosign sign [flags] <image>` with its `--key` (`--key X` or `--key=X`).
fn parse_sign(words: &[String]) -> Option<SignCommand> {
    let at = words
        .windows(2)
        .position(|w| w[0] == "cosign" && w[1] == "sign")?;
    let mut key = None;
    let mut rest = words[at + 2..].iter();
    while let Some(word) = rest.next() {
        if word == "--key" {
            key = rest.next().cloned();
        } else if let Some(value) = word.strip_prefix("--key=") {
            key = Some(value.to_owned());
        }
    }
    Some(SignCommand { key })
}

/// A shell command's words, quotes removed, nothing expanded.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => out.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(word);
    out
}

/// The KMS key a `cosign sign` signs with: its `--key awskms://[endpoint]/<key>` with
/// `$VAR` and `${VAR}` taken from the build's `environment`.
pub fn kms_key(
    command: &SignCommand,
    environment: &BTreeMap<String, String>,
) -> Result<String, String> {
    let only = "the rehearsal plays `cosign sign --key awskms:///<key ARN>` only";
    let Some(key) = &command.key else {
        return Err(format!("cosign sign without --key (keyless): {only}"));
    };
    let expanded = expand(key, environment)
        .map_err(|name| format!("cosign sign --key {key}: the build has no variable {name}"))?;
    let reference = expanded
        .strip_prefix("awskms://")
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, key)| key)
        .filter(|key| !key.is_empty())
        .ok_or_else(|| format!("cosign sign --key {key}: {only}"))?;
    Ok(reference.to_owned())
}

/// `text` with `$NAME` and `${NAME}` replaced from `vars`; the first name missing.
fn expand(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, next) = match after.strip_prefix('{') {
            Some(braced) => match braced.split_once('}') {
                Some((name, next)) => (name, next),
                None => return Err(after.to_owned()),
            },
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        out.push_str(vars.get(name).ok_or_else(|| name.to_owned())?);
        rest = next;
    }
    out.push_str(rest);
    Ok(out)
}

/// Signs the pushed `digest` with KMS key `key`, as `cosign sign` does; returns what it
/// stored.
pub async fn sign(ex: &Execution<'_>, digest: &str, key: &str) -> Result<Signature, String> {
    let payload = cosign_payload(digest);
    let signed = kms(
        ex.aws,
        "Sign",
        json!({"KeyId": key, "Message": B64.encode(&payload), "MessageType": "RAW",
               "SigningAlgorithm": "ECDSA_SHA_256"}),
    )
    .await?;
    let signature = signed["Signature"]
        .as_str()
        .ok_or("kms:Sign answered no signature")?;
    let public = kms(ex.aws, "GetPublicKey", json!({"KeyId": key})).await?;
    let spki = public["PublicKey"]
        .as_str()
        .and_then(|k| B64.decode(k).ok())
        .ok_or("kms:GetPublicKey answered no public key")?;
    let config = super::build::push_blob(ex, EMPTY_JSON).await?;
    let layer = super::build::push_blob(ex, &payload).await?;
    let manifest = cosign_manifest(&config, (&layer, payload.len() as u64), signature);
    let tag = signature_tag(digest).ok_or_else(|| format!("{digest} is not a digest"))?;
    let put = ex
        .aws
        .json_call(
            &format!("{ECR_API}.PutImage"),
            &json!({"repositoryName": ex.world.repository, "imageTag": tag,
                    "imageManifest": String::from_utf8_lossy(&manifest),
                    "imageManifestMediaType": OCI_MANIFEST}),
        )
        .await
        .map_err(|e| format!("the signature {tag}: {e}"))?;
    Ok(Signature {
        key_arn: signed["KeyId"].as_str().unwrap_or(key).to_owned(),
        key_id: shared::registry::sha256_digest(&spki),
        manifest: put["image"]["imageId"]["imageDigest"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        tag,
    })
}

/// cosign's signature tag of `digest`: `sha256-<hex>.sig`.
pub fn signature_tag(digest: &str) -> Option<String> {
    shared::referrers::legacy_tags(digest)
        .into_iter()
        .find(|t| t.ends_with(".sig"))
}

async fn kms(aws: &LocalAws, operation: &str, body: Value) -> Result<Value, String> {
    aws.json_call(&format!("{KMS_API}.{operation}"), &body)
        .await
        .map_err(|e| format!("kms:{operation}: {e}"))
}

/// The promote-image actions of `actions` whose `UserParameters` require a signature.
pub fn verified_promotions<'a>(
    actions: impl IntoIterator<Item = &'a Action>,
) -> Vec<VerifiedPromotion> {
    actions
        .into_iter()
        .filter(|a| a.config("FunctionName").and_then(function_binary) == Some("promote-image"))
        .filter_map(|a| {
            let params: Value = serde_json::from_str(a.config("UserParameters")?).ok()?;
            params.get("verify")?;
            let target = &params["target"];
            let text = |key: &str| target[key].as_str().map(str::to_owned);
            Some(VerifiedPromotion {
                action: a.name.clone(),
                account: text("registryId")
                    .or_else(|| text("roleArn").and_then(|r| role_account(&r).map(str::to_owned)))
                    .unwrap_or_else(|| ACCOUNT.to_owned()),
                region: text("region").unwrap_or_else(|| crate::local_aws::REGION.to_owned()),
                repository: text("repository").unwrap_or_default(),
            })
        })
        .collect()
}

/// What the release's verified promotions came to: each named the build's signature in
/// its summary, copied its tag, and read the key where it is. `calls`: the release's.
pub async fn judge(
    aws: &LocalAws,
    promotions: &[VerifiedPromotion],
    steps: &[Step],
    signature: Option<&Signature>,
    calls: &[crate::local_aws::Call],
) -> (Vec<String>, Vec<String>) {
    let (mut shown, mut problems) = judge_summaries(promotions, steps, signature);
    if let Some(sig) = signature.filter(|_| !promotions.is_empty()) {
        let (copied, missing) = judge_copies(aws, promotions, steps, sig).await;
        shown.extend(copied);
        problems.extend(missing);
        let (line, stray) = key_reads(calls, sig);
        shown.push(line);
        problems.extend(stray);
    }
    (shown, problems)
}

/// Whether each promotion of `promotions` that succeeded named the build's `signature` (or,
/// when the build signed nothing, any) in its summary: the lines shown and the problems.
pub fn judge_summaries(
    promotions: &[VerifiedPromotion],
    steps: &[Step],
    signature: Option<&Signature>,
) -> (Vec<String>, Vec<String>) {
    let mut shown = Vec::new();
    let mut problems = Vec::new();
    let verified = steps
        .iter()
        .filter(|s| s.result == "Succeeded" && promotions.iter().any(|p| p.action == s.action));
    for step in verified {
        let named = verified_part(&step.summary);
        match (signature, named) {
            (Some(sig), Some(named)) if named.contains(&format!("cosign key {}", sig.key_id)) => {
                shown.push(format!(
                    "{} verified the build's signature ({}, KMS key {}): {named}",
                    step.action, sig.tag, sig.key_arn
                ))
            }
            (Some(sig), _) => problems.push(format!(
                "{} promoted without naming the build's signature (cosign key {}, KMS key {}): {}",
                step.action, sig.key_id, sig.key_arn, step.summary
            )),
            (None, Some(named)) => shown.push(format!("{} verified: {named}", step.action)),
            (None, None) => problems.push(format!(
                "{} requires a signature but its summary names none: {}",
                step.action, step.summary
            )),
        }
    }
    (shown, problems)
}

/// promote-image's `Verified: <signature>; <signature>.` sentence, without its words.
fn verified_part(summary: &str) -> Option<&str> {
    let (_, rest) = summary.split_once("Verified: ")?;
    Some(
        rest.split(". ")
            .next()
            .unwrap_or(rest)
            .trim_end_matches('.'),
    )
}

/// The build's signature tag in the repository each verified promotion copied to.
pub async fn judge_copies(
    aws: &LocalAws,
    promotions: &[VerifiedPromotion],
    steps: &[Step],
    sig: &Signature,
) -> (Vec<String>, Vec<String>) {
    let mut shown = Vec::new();
    let mut problems = Vec::new();
    for p in promotions {
        if !steps.iter().any(|s| s.action == p.action && !s.failed()) {
            continue;
        }
        let described = aws
            .json_call_at(
                &p.account,
                &p.region,
                &format!("{ECR_API}.DescribeImages"),
                &json!({"repositoryName": p.repository, "imageIds": [{"imageTag": sig.tag}]}),
            )
            .await;
        let found = described
            .as_ref()
            .ok()
            .and_then(|d| d["imageDetails"][0]["imageDigest"].as_str());
        let place = format!("{} in account {} ({})", p.repository, p.account, p.region);
        match found {
            Some(d) if d == sig.manifest => {
                shown.push(format!("{}: {} is in {place}", p.action, sig.tag))
            }
            Some(d) => problems.push(format!(
                "{}: {} in {place} is {d}, not the build's signature {}",
                p.action, sig.tag, sig.manifest
            )),
            None => problems.push(format!(
                "{}: the build's signature {} was not copied to {place}",
                p.action, sig.tag
            )),
        }
    }
    (shown, problems)
}

/// Where the release's `kms:GetPublicKey` calls were made, as `account xN`: the key's
/// public key must have been read in the key's account.
pub fn key_reads(calls: &[crate::local_aws::Call], sig: &Signature) -> (String, Option<String>) {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for c in calls
        .iter()
        .filter(|c| c.service == "kms" && c.operation == "GetPublicKey")
    {
        let account = if c.account.is_empty() {
            ACCOUNT
        } else {
            &c.account
        };
        *by.entry(account.to_owned()).or_default() += 1;
    }
    let key_account = sig.key_arn.split(':').nth(4).unwrap_or(ACCOUNT);
    let shown: Vec<String> = by.iter().map(|(a, n)| format!("{a} x{n}")).collect();
    let line = format!(
        "kms:GetPublicKey of the signing key by account: {}",
        shown.join(", ")
    );
    let stray = by.keys().find(|a| *a != key_account);
    (
        line,
        stray.map(|a| {
            format!(
                "kms:GetPublicKey was called in account {a}, not in the key's account {key_account}"
            )
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Value {
        super::super::template::to_json(serde_yaml_ng::from_str(yaml).unwrap())
    }

    #[test]
    fn the_buildspecs_cosign_step_and_its_kms_key_are_found() {
        let buildspec = spec(
            r#"
version: 0.2
phases:
  install:
    commands: [curl -sSfL -o /usr/local/bin/cosign "https://example/cosign"]
  build:
    commands:
      - docker push "$IMAGE_URI"
      - cosign sign --yes --tlog-upload=false --key "awskms:///$SIGNING_KEY_ARN" "$IMAGE_REF"
"#,
        );
        let command = sign_command(&buildspec).unwrap();
        assert_eq!(command.key.as_deref(), Some("awskms:///$SIGNING_KEY_ARN"));
        let arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd";
        let env = BTreeMap::from([("SIGNING_KEY_ARN".to_owned(), arn.to_owned())]);
        assert_eq!(kms_key(&command, &env).unwrap(), arn);
        // `--key=`, braces, an endpoint, a literal key.
        for (command, want) in [
            ("cosign sign --key=awskms:///${SIGNING_KEY_ARN} x", arn),
            (
                "cosign sign --key awskms://kms.local/$SIGNING_KEY_ARN x",
                arn,
            ),
            (
                "cosign sign --key 'awskms:///alias/release' x",
                "alias/release",
            ),
        ] {
            let parsed = parse_sign(&words(command)).unwrap();
            assert_eq!(kms_key(&parsed, &env).unwrap(), want, "{command}");
        }
        // No cosign step: nothing to sign.
        assert_eq!(
            sign_command(&spec("phases: {build: {commands: [make]}}")),
            None
        );
    }

    #[test]
    fn a_cosign_step_the_rehearsal_cannot_play_is_named() {
        let env = BTreeMap::new();
        let keyless = parse_sign(&words("cosign sign --yes $IMAGE")).unwrap();
        assert!(kms_key(&keyless, &env).unwrap_err().contains("keyless"));
        let file = parse_sign(&words("cosign sign --key cosign.key $IMAGE")).unwrap();
        assert!(kms_key(&file, &env).unwrap_err().contains("awskms:///"));
        let missing = parse_sign(&words("cosign sign --key awskms:///$NOPE x")).unwrap();
        assert!(
            kms_key(&missing, &env)
                .unwrap_err()
                .contains("no variable NOPE")
        );
    }

    fn action(name: &str, function: &str, params: Value) -> Action {
        Action {
            name: name.into(),
            category: "Invoke".into(),
            provider: "Lambda".into(),
            configuration: json!({"FunctionName": function, "UserParameters": params.to_string()})
                .as_object()
                .cloned()
                .unwrap(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            namespace: None,
            run_order: 1,
            role_arn: None,
            region: None,
        }
    }

    fn signature() -> Signature {
        Signature {
            key_arn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd".into(),
            key_id: format!("sha256:{}", "cd".repeat(32)),
            manifest: format!("sha256:{}", "ef".repeat(32)),
            tag: format!("sha256-{}.sig", "ab".repeat(32)),
        }
    }

    #[test]
    fn the_promotions_that_verify_are_found_with_their_targets() {
        let verify = json!({"require": [{"cosign": {"kmsKey": "arn:aws:kms:us-east-1:123456789012:key/1"}}]});
        let actions = [
            action(
                "CopyToProd",
                "ecs-pipeline-actions-PromoteImage",
                json!({"target": {"repository": "web", "region": "eu-west-1",
                                  "roleArn": "arn:aws:iam::333333333333:role/p-promote-image"},
                       "verify": verify}),
            ),
            action(
                "CopyToStaging",
                "ecs-pipeline-actions-PromoteImage",
                json!({"target": {"repository": "web"}}),
            ),
            action("Render", "render-taskdef", json!({"verify": verify})),
        ];
        assert_eq!(
            verified_promotions(&actions),
            [VerifiedPromotion {
                action: "CopyToProd".into(),
                account: "333333333333".into(),
                region: "eu-west-1".into(),
                repository: "web".into(),
            }]
        );
    }

    #[test]
    fn a_verified_promotion_must_name_the_builds_key() {
        let promotions = [VerifiedPromotion {
            action: "CopyToProd".into(),
            account: "333333333333".into(),
            region: "us-east-1".into(),
            repository: "web".into(),
        }];
        let sig = signature();
        let step = |summary: String| {
            let mut s = Step::new("Promote", "CopyToProd", "Lambda promote-image");
            s.summary = summary;
            s
        };
        let named = step(format!(
            "Promoted web:sha-1 to web: prod new. Copied cosign tag sha256-abab….sig. Verified: signed by cosign key {}.",
            sig.key_id
        ));
        let (shown, problems) =
            judge_summaries(&promotions, std::slice::from_ref(&named), Some(&sig));
        assert!(problems.is_empty(), "{problems:?}");
        assert!(
            shown[0].contains("CopyToProd verified the build's signature"),
            "{shown:?}"
        );
        assert!(shown[0].contains(&sig.key_id), "{shown:?}");
        let other = step(
            "Promoted web:sha-1 to web: prod new. Verified: signed by cosign key sha256:00.".into(),
        );
        let unsigned = step("Promoted web:sha-1 to web: prod new.".into());
        for wrong in [&other, &unsigned] {
            let (_, problems) =
                judge_summaries(&promotions, std::slice::from_ref(wrong), Some(&sig));
            assert!(
                problems[0].contains("without naming the build's signature"),
                "{problems:?}"
            );
        }
        let (_, problems) = judge_summaries(&promotions, &[unsigned], None);
        assert!(problems[0].contains("names none"), "{problems:?}");
        // A failed promotion is judged elsewhere.
        let mut failed = step("JobFailed: no signature".into());
        failed.result = "Failed".into();
        assert_eq!(
            judge_summaries(&promotions, &[failed], Some(&sig)),
            (vec![], vec![])
        );
    }

    #[test]
    fn the_key_is_read_in_its_own_account() {
        let call = |account: &str| crate::local_aws::Call {
            seq: 1,
            service: "kms".into(),
            operation: "GetPublicKey".into(),
            start_ms: 0.0,
            end_ms: 1.0,
            status: 200,
            fault: None,
            request: None,
            account: account.into(),
            region: String::new(),
        };
        let sig = signature();
        let (line, stray) = key_reads(&[call("123456789012"), call("")], &sig);
        assert_eq!(
            line,
            "kms:GetPublicKey of the signing key by account: 123456789012 x2"
        );
        assert_eq!(stray, None);
        let (_, stray) = key_reads(&[call("333333333333")], &sig);
        assert!(stray.unwrap().contains("333333333333"));
    }

    #[test]
    fn the_signature_tag_is_the_one_the_verifier_reads() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(
            signature_tag(&digest).unwrap(),
            format!("sha256-{}.sig", "ab".repeat(32))
        );
        assert_eq!(signature_tag("latest"), None);
    }
}
