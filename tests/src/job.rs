//! Builds CodePipeline job events and stages their input artifacts in the local AWS.

use crate::local_aws::{ACCOUNT, LocalAws};
use serde_json::{Value, json};
use std::io::{Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};

/// The artifact bucket of every staged job.
pub const BUCKET: &str = "pipeline-artifacts";
/// Artifact credentials in staged events; tests assert they never reach a log.
pub const ACCESS_KEY_ID: &str = "ASIAARTIFACTSONLY0001";
pub const SECRET_ACCESS_KEY: &str = "aRtIfAcT/SeCrEt+KeY/ShouldNeverBeLogged0123";
pub const SESSION_TOKEN: &str =
    "IQoJb3JpZ2luX2VjEArtifactSessionTokenShouldNeverBeLogged//////wEaCXVzLWVhc3QtMSJHMEUCIQ";

/// A new random job id (a UUID, as CodePipeline requires).
pub fn job_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ (u64::from(std::process::id()) << 32)
        ^ COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let a = splitmix(seed);
    let b = splitmix(a);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[derive(Default)]
pub struct JobBuilder {
    id: Option<String>,
    inputs: Vec<(String, Vec<u8>)>,
    outputs: Vec<String>,
    user_parameters: Option<String>,
    encryption_key: Option<String>,
    continuation_token: Option<String>,
}

impl JobBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_owned());
        self
    }

    /// An input artifact holding `files` (path, contents), zipped.
    pub fn input(self, name: &str, files: &[(&str, &[u8])]) -> Self {
        let zip = shared::artifacts::build_zip(files).expect("zip input artifact");
        self.input_zip(name, zip)
    }

    /// An input artifact with these exact object bytes (a hostile or broken zip, say).
    pub fn input_zip(mut self, name: &str, bytes: Vec<u8>) -> Self {
        self.inputs.push((name.to_owned(), bytes));
        self
    }

    pub fn output(mut self, name: &str) -> Self {
        self.outputs.push(name.to_owned());
        self
    }

    pub fn user_parameters(mut self, params: impl Into<String>) -> Self {
        self.user_parameters = Some(params.into());
        self
    }

    pub fn encryption_key(mut self, key_id: &str) -> Self {
        self.encryption_key = Some(key_id.to_owned());
        self
    }

    pub fn continuation_token(mut self, token: &str) -> Self {
        self.continuation_token = Some(token.to_owned());
        self
    }

    /// Uploads the inputs and returns the event CodePipeline would send.
    pub async fn stage(self, aws: &LocalAws) -> StagedJob {
        let id = self.id.unwrap_or_else(job_id);
        let s3 = aws.s3().await;
        ensure_bucket(&s3, BUCKET).await;
        let mut inputs = Vec::new();
        for (name, bytes) in self.inputs {
            let key = format!("jobs/{id}/in/{name}.zip");
            s3.put_object()
                .bucket(BUCKET)
                .key(&key)
                .body(bytes.into())
                .send()
                .await
                .expect("upload input artifact");
            inputs.push(artifact(&name, &key));
        }
        let outputs: Vec<(String, String)> = self
            .outputs
            .iter()
            .map(|name| (name.clone(), format!("jobs/{id}/out/{name}.zip")))
            .collect();
        let mut data = json!({
            "actionConfiguration": {"configuration": {"FunctionName": "under-test"}},
            "inputArtifacts": inputs,
            "outputArtifacts": outputs.iter().map(|(n, k)| artifact(n, k)).collect::<Vec<_>>(),
            "artifactCredentials": {
                "accessKeyId": ACCESS_KEY_ID,
                "secretAccessKey": SECRET_ACCESS_KEY,
                "sessionToken": SESSION_TOKEN,
            },
        });
        if let Some(p) = self.user_parameters {
            data["actionConfiguration"]["configuration"]["UserParameters"] = Value::String(p);
        }
        if let Some(k) = self.encryption_key {
            data["encryptionKey"] = json!({"id": k, "type": "KMS"});
        }
        if let Some(t) = self.continuation_token {
            data["continuationToken"] = Value::String(t);
        }
        let event = json!({"CodePipeline.job": {"id": id, "accountId": ACCOUNT, "data": data}});
        StagedJob { id, event, outputs }
    }
}

fn artifact(name: &str, key: &str) -> Value {
    json!({
        "name": name,
        "revision": null,
        "location": {"type": "S3", "s3Location": {"bucketName": BUCKET, "objectKey": key}},
    })
}

pub async fn ensure_bucket(s3: &aws_sdk_s3::Client, bucket: &str) {
    if s3.head_bucket().bucket(bucket).send().await.is_err() {
        s3.create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("create artifact bucket");
    }
}

/// A job whose inputs are in the local AWS.
#[derive(Debug, Clone)]
pub struct StagedJob {
    pub id: String,
    pub event: Value,
    outputs: Vec<(String, String)>,
}

impl StagedJob {
    fn output_key(&self, name: &str) -> &str {
        self.outputs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, k)| k.as_str())
            .unwrap_or_else(|| panic!("the job has no output artifact {name}"))
    }

    /// The files of an output artifact, as (path, contents).
    pub async fn read_output(&self, aws: &LocalAws, name: &str) -> Vec<(String, Vec<u8>)> {
        let object = aws
            .s3()
            .await
            .get_object()
            .bucket(BUCKET)
            .key(self.output_key(name))
            .send()
            .await
            .unwrap_or_else(|e| panic!("output artifact {name} was not written: {e:?}"));
        let bytes = object
            .body
            .collect()
            .await
            .expect("read output")
            .into_bytes();
        unzip(&bytes)
    }

    /// The output artifact's S3 object metadata (encryption, ...).
    pub async fn output_head(
        &self,
        aws: &LocalAws,
        name: &str,
    ) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
        aws.s3()
            .await
            .head_object()
            .bucket(BUCKET)
            .key(self.output_key(name))
            .send()
            .await
            .unwrap_or_else(|e| panic!("output artifact {name} was not written: {e:?}"))
    }
}

/// The files of a zip, as (path, contents).
pub fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip");
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).expect("zip entry");
            let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
            let mut out = Vec::new();
            entry.read_to_end(&mut out).expect("zip entry contents");
            (name, out)
        })
        .collect()
}
