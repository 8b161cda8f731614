//! The template's resources that the rehearsal creates for real in the local AWS, as
//! CloudFormation would, so that what refers to them gets their real values: KMS keys
//! (`AWS::KMS::Key`), created with `CreateKey` in the stack's account and region; `Ref`
//! gives the key id, `Fn::GetAtt` its `Arn` and `KeyId`.

use super::template::{Physical, Template};
use crate::local_aws::LocalAws;
use serde_json::{Value, json};

/// KMS's JSON target prefix.
pub const KMS_API: &str = "TrentService";

/// Creates the template's KMS keys, one after the other (a key's properties may name one
/// created before it); a line for each.
pub async fn create(aws: &LocalAws, template: &mut Template) -> Result<Vec<String>, String> {
    let (account, region) = template.place();
    let ids: Vec<String> = template
        .resources("AWS::KMS::Key")
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut done = Vec::new();
    for id in ids {
        let props = template
            .resolve(&template.raw["Resources"][&id]["Properties"])
            .map_err(|e| e.to_string())?;
        let request = create_key_request(&props);
        let answer = aws
            .json_call_at(&account, &region, &format!("{KMS_API}.CreateKey"), &request)
            .await
            .map_err(|e| format!("KMS key {id}: {e}"))?;
        let physical = kms_key(&answer["KeyMetadata"])
            .ok_or_else(|| format!("KMS key {id}: CreateKey answered no key: {answer}"))?;
        let text = |key: &str| request[key].as_str().unwrap_or_default().to_owned();
        done.push(format!(
            "KMS key {id} {} ({}, {})",
            physical.attributes["Arn"],
            text("KeySpec"),
            text("KeyUsage")
        ));
        template.created(&id, physical);
    }
    Ok(done)
}

/// `CreateKey`'s request for an `AWS::KMS::Key`'s resolved properties, with
/// CloudFormation's defaults (a symmetric encryption key).
pub fn create_key_request(props: &Value) -> Value {
    let text = |key: &str, default: &str| props[key].as_str().unwrap_or(default).to_owned();
    let mut request = json!({
        "KeySpec": text("KeySpec", "SYMMETRIC_DEFAULT"),
        "KeyUsage": text("KeyUsage", "ENCRYPT_DECRYPT"),
    });
    if let Some(description) = props["Description"].as_str() {
        request["Description"] = json!(description);
    }
    match &props["KeyPolicy"] {
        Value::Null => {}
        Value::String(policy) => request["Policy"] = json!(policy),
        policy => request["Policy"] = json!(policy.to_string()),
    }
    if props["MultiRegion"] == json!(true) {
        request["MultiRegion"] = json!(true);
    }
    let tags: Vec<Value> = super::world::tags(props)
        .into_iter()
        .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
        .collect();
    if !tags.is_empty() {
        request["Tags"] = json!(tags);
    }
    request
}

/// What an `AWS::KMS::Key` gives, from `CreateKey`'s `KeyMetadata`: `Ref` the key id,
/// `Fn::GetAtt` its `Arn` and `KeyId`.
pub fn kms_key(metadata: &Value) -> Option<Physical> {
    let id = metadata["KeyId"].as_str()?;
    let arn = metadata["Arn"].as_str()?;
    Some(Physical {
        reference: id.to_owned(),
        attributes: [("Arn", arn), ("KeyId", id)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signing_key_is_asked_for_with_its_spec_usage_description_and_policy() {
        let props = json!({
            "Description": "Signs the images",
            "KeySpec": "ECC_NIST_P256",
            "KeyUsage": "SIGN_VERIFY",
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]},
            "Tags": [{"Key": "team", "Value": "web"}],
        });
        let request = create_key_request(&props);
        assert_eq!(request["KeySpec"], "ECC_NIST_P256");
        assert_eq!(request["KeyUsage"], "SIGN_VERIFY");
        assert_eq!(request["Description"], "Signs the images");
        let policy: Value = serde_json::from_str(request["Policy"].as_str().unwrap()).unwrap();
        assert_eq!(policy, props["KeyPolicy"]);
        assert_eq!(
            request["Tags"],
            json!([{"TagKey": "team", "TagValue": "web"}])
        );
        // CloudFormation's defaults: a symmetric encryption key, KMS's default policy.
        let request = create_key_request(&json!({}));
        assert_eq!(
            request,
            json!({"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT"})
        );
    }

    #[test]
    fn a_key_gives_its_id_to_ref_and_its_arn_and_id_to_get_att() {
        let arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let key =
            kms_key(&json!({"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "Arn": arn})).unwrap();
        assert_eq!(key.reference, "1234abcd-12ab-34cd-56ef-1234567890ab");
        assert_eq!(key.attributes["Arn"], arn);
        assert_eq!(key.attributes["KeyId"], key.reference);
        assert!(kms_key(&json!({"KeyId": "x"})).is_none());
    }
}
