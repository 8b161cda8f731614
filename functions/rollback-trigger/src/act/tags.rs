//! The alarm's tags, when the event does not carry them: CloudWatch `ListTagsForResource`.

use shared::error::{AwsError, aws_error};
use std::collections::BTreeMap;

pub async fn alarm_tags(
    client: &aws_sdk_cloudwatch::Client,
    alarm_arn: &str,
) -> Result<BTreeMap<String, String>, AwsError> {
    let out = client
        .list_tags_for_resource()
        .resource_arn(alarm_arn)
        .send()
        .await
        .map_err(|e| aws_error("cloudwatch:ListTagsForResource", e))?;
    Ok(out
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect())
}
