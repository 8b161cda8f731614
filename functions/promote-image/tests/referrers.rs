//! An image's referrers (signatures, SBOMs, attestations) go with it into another
//! repository, against the real parts: Debian's distribution registry (no referrers API:
//! the `sha256-<hex>` tag schema on both sides) behind a recording proxy, and the local
//! ECR with its ListImageReferrers. Registry <-> registry, registry <-> ECR, ECR -> ECR
//! across accounts; the artifact type filter, cosign's legacy `.sig` tag, `referrers:
//! false`; ECR refusing a referrer; and hostile listings (10,000 entries, a referrer of
//! another image, a tag-schema tag that is not an index).

mod common;

use bytes::Bytes;
use common::*;
use serde_json::{Value, json};
use shared::referrers::{Descriptor, describe, tag_schema_tag};
use shared::registry::{Client, Manifest, sha256_digest};
use testkit::accounts::STAGING;
use testkit::local_aws::ACCOUNT;
use testkit::registry::{
    AuthMode, EMPTY_JSON, Proxy, Registry, SeededImage, push_legacy_signature, push_referrer,
    put_user_secret, referrer_manifest, seed_image, seed_index,
};

const SECRET: &str = "registry/referrers";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const SPDX: &str = "application/spdx+json";

/// `(digest, media type, size)` of an image, as a referrer's `subject` names it.
fn subject(image: &SeededImage) -> (&str, &str, u64) {
    (
        &image.digest,
        &image.media_type,
        image.manifest.len() as u64,
    )
}

/// The requests that change the registry (`PUT`, `POST`, `PATCH`), in the order they ended.
fn registry_writes(proxy: &Proxy) -> Vec<String> {
    proxy
        .calls_after_auth()
        .into_iter()
        .filter(|c| {
            ["PUT ", "POST ", "PATCH "]
                .iter()
                .any(|m| c.operation.starts_with(m))
        })
        .map(|c| c.operation)
        .collect()
}

/// Where among `writes` the manifest `reference` (a digest or tag) was put.
fn position(writes: &[String], reference: &str) -> usize {
    let path_end = format!("/manifests/{reference}");
    writes
        .iter()
        .position(|w| w.starts_with("PUT ") && w.ends_with(&path_end))
        .unwrap_or_else(|| panic!("no PUT of {path_end}: {writes:#?}"))
}

fn assert_no_registry_writes(proxy: &Proxy, why: &str) {
    assert_eq!(registry_writes(proxy), Vec::<String>::new(), "{why}");
}

/// The manifest `reference` (a digest or tag) of `repository`, if there is one.
async fn manifest_at(client: &Client, repository: &str, reference: &str) -> Option<Manifest> {
    client
        .get_manifest(repository, reference)
        .await
        .expect("manifest read")
}

/// A seeded image as the manifest a client puts.
fn as_manifest(image: &SeededImage) -> Manifest {
    Manifest {
        digest: image.digest.clone(),
        media_type: image.media_type.clone(),
        bytes: image.manifest.clone(),
    }
}

async fn referrer_digests(client: &Client, repository: &str, subject: &str) -> Vec<String> {
    let mut digests: Vec<String> = client
        .list_referrers(repository, subject)
        .await
        .expect("referrers listed")
        .referrers
        .into_iter()
        .map(|d| d.digest)
        .collect();
    digests.sort();
    digests
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Two registries with Basic auth, a source and a target, and the secret of their user.
async fn registries(env: &Env) -> (Registry, Registry) {
    put_user_secret(&env.sdk, SECRET).await;
    let source = Registry::start(AuthMode::Basic).await;
    let target = Registry::start(AuthMode::Basic).await;
    (source, target)
}

/// Parameters that promote `image` (`name:tag`) of the registry `source` to `prod` in
/// `repository` of the registry at `target` (a host).
fn registry_params(source: &Registry, image: &str, target: &str, repository: &str) -> Value {
    json!({
        "source": {"imageUri": format!("{}/{image}", source.host()), "credentialsSecret": SECRET},
        "tags": ["prod"],
        "target": {"registry": target, "repository": repository, "credentialsSecret": SECRET},
    })
}

/// Parameters that promote `source:v1` to `prod` in `target`, both in the local ECR.
fn ecr_params(source: &str, target: &str) -> Value {
    json!({"source": {"repository": source, "tag": "v1"}, "tags": ["prod"],
           "target": {"repository": target}})
}

#[test]
fn registry_to_registry_carries_the_referrers_of_an_index_and_its_children_and_a_rerun_writes_nothing()
 {
    let (env, _serial) = env();
    RT.block_on(async {
        let (source, target) = registries(env).await;
        let proxy = Proxy::start(target.addr).await;
        let from = source.client();
        let (index, children) = seed_index(&from, "team/web", "v1", 31).await;
        let signature = push_referrer(
            &from,
            "team/web",
            subject(&index),
            BUNDLE,
            b"bundle of the index",
        )
        .await;
        let sbom = push_referrer(
            &from,
            "team/web",
            subject(&children[0]),
            SPDX,
            b"sbom of amd64",
        )
        .await;

        let params = registry_params(&source, "team/web:v1", &proxy.host(), "prod/web");
        let run = run_job(env, &params, None).await;
        run.summary_with(&format!("Referrers: 2 copied (1 {SPDX}, 1 {BUNDLE})."));

        let to = target.client();
        for referrer in [&signature, &sbom] {
            let got = manifest_at(&to, "prod/web", &referrer.digest)
                .await
                .expect("copied");
            assert_eq!(got.bytes, referrer.manifest, "byte for byte");
            for blob in &referrer.blobs {
                assert!(to.blob_exists("prod/web", blob).await.unwrap(), "{blob}");
            }
        }
        assert_eq!(
            referrer_digests(&to, "prod/web", &index.digest).await,
            std::slice::from_ref(&signature.digest)
        );
        assert_eq!(
            referrer_digests(&to, "prod/web", &children[0].digest).await,
            std::slice::from_ref(&sbom.digest)
        );
        assert_eq!(
            to.serves_referrers_api(),
            Some(false),
            "the registry has no referrers API"
        );
        assert_eq!(
            to.resolve("prod/web", "prod")
                .await
                .unwrap()
                .unwrap()
                .digest,
            index.digest
        );

        // The order of the writes: the image by digest, then each referrer and its index,
        // the release tag last.
        let writes = registry_writes(&proxy);
        let image = position(&writes, &index.digest);
        let put_signature = position(&writes, &signature.digest);
        let signature_index = position(&writes, &tag_schema_tag(&index.digest).unwrap());
        let sbom_index = position(&writes, &tag_schema_tag(&children[0].digest).unwrap());
        let release = position(&writes, "prod");
        assert!(
            image < put_signature && put_signature < signature_index,
            "{writes:#?}"
        );
        assert!(
            signature_index < release && sbom_index < release,
            "{writes:#?}"
        );
        assert_eq!(
            release,
            writes.len() - 1,
            "the release tag is the last write: {writes:#?}"
        );

        // Every trigger delivers more than once: the second run finds them there.
        proxy.clear();
        let again = run_job(env, &params, None).await;
        let summary = again.summary_with("Referrers: 0 copied; 2 already there.");
        assert!(summary.starts_with("Nothing to do"), "{summary}");
        assert_no_registry_writes(&proxy, "a re-run writes nothing");
    });
}

#[test]
fn the_artifact_type_filter_cosigns_legacy_tag_and_referrers_false() {
    let (env, _serial) = env();
    RT.block_on(async {
        let (source, target) = registries(env).await;
        let from = source.client();
        let image = seed_image(&from, "team/api", "v2", &[3000], 41, true).await;
        let bundle = push_referrer(&from, "team/api", subject(&image), BUNDLE, b"a bundle").await;
        let sbom = push_referrer(&from, "team/api", subject(&image), SPDX, b"an sbom").await;
        let legacy = push_legacy_signature(
            &from,
            "team/api",
            &image.digest,
            b"a simple signing payload",
        )
        .await;
        let sig_tag = format!("{}.sig", tag_schema_tag(&image.digest).unwrap());
        let to = target.client();

        let mut filtered = registry_params(&source, "team/api:v2", &target.host(), "only/api");
        filtered["referrers"] = json!({"artifactTypes": [BUNDLE]});
        let run = run_job(env, &filtered, None).await;
        let summary = run.summary_with(&format!("Referrers: 1 copied (1 {BUNDLE})."));
        assert!(summary.contains("Copied cosign tag sha256-"), "{summary}");
        assert_eq!(
            referrer_digests(&to, "only/api", &image.digest).await,
            std::slice::from_ref(&bundle.digest)
        );
        assert!(
            manifest_at(&to, "only/api", &sbom.digest).await.is_none(),
            "filtered out"
        );
        let copied = manifest_at(&to, "only/api", &sig_tag)
            .await
            .expect("the .sig tag");
        assert_eq!(
            copied.bytes, legacy.manifest,
            "the source's current signature tag, byte for byte"
        );
        for blob in &legacy.blobs {
            assert!(to.blob_exists("only/api", blob).await.unwrap());
        }

        // cosign appends to `.sig`: a moved tag in the source is copied again.
        let moved =
            push_legacy_signature(&from, "team/api", &image.digest, b"a second signature").await;
        let run = run_job(env, &filtered, None).await;
        run.summary_with("Copied cosign tag");
        let copied = manifest_at(&to, "only/api", &sig_tag).await.unwrap();
        assert_eq!(copied.digest, moved.digest);

        let mut off = registry_params(&source, "team/api:v2", &target.host(), "off/api");
        off["referrers"] = json!(false);
        let run = run_job(env, &off, None).await;
        let (summary, _) = run.success();
        assert!(
            !summary.contains("Referrers") && !summary.contains("cosign"),
            "{summary}"
        );
        assert!(
            referrer_digests(&to, "off/api", &image.digest)
                .await
                .is_empty()
        );
        assert!(manifest_at(&to, "off/api", &sig_tag).await.is_none());
        assert!(manifest_at(&to, "off/api", &bundle.digest).await.is_none());
    });
}

/// A referrer of `subject` pushed into the local ECR by digest, untagged.
async fn ecr_referrer(
    env: &Env,
    ecr: &aws_sdk_ecr::Client,
    repo: &str,
    registry: Option<&str>,
    subject: (&str, u64),
    artifact_type: &str,
    payload: &[u8],
) -> (String, Bytes) {
    put_blob_in(env, registry, repo, EMPTY_JSON);
    let layer = put_blob_in(env, registry, repo, payload);
    let bytes = referrer_manifest(
        (subject.0, OCI_MANIFEST, subject.1),
        artifact_type,
        (&layer, payload.len() as u64),
    );
    let digest = sha256_digest(&bytes);
    push(
        ecr,
        repo,
        std::str::from_utf8(&bytes).unwrap(),
        OCI_MANIFEST,
        &digest,
        None,
    )
    .await;
    (digest, bytes)
}

async fn ecr_referrers(ecr: &aws_sdk_ecr::Client, repo: &str, subject: &str) -> Vec<String> {
    let out = ecr
        .list_image_referrers()
        .repository_name(repo)
        .subject_id(
            aws_sdk_ecr::types::SubjectIdentifier::builder()
                .image_digest(subject)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("ListImageReferrers");
    sorted(
        out.referrers()
            .iter()
            .map(|r| r.digest().to_owned())
            .collect(),
    )
}

async fn ecr_manifest(ecr: &aws_sdk_ecr::Client, repo: &str, digest: &str) -> Option<String> {
    let out = ecr
        .batch_get_image()
        .repository_name(repo)
        .image_ids(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_digest(digest)
                .build(),
        )
        .accepted_media_types(OCI_MANIFEST)
        .send()
        .await
        .ok()?;
    out.images()
        .first()
        .and_then(|i| i.image_manifest())
        .map(str::to_owned)
}

/// The `imageTag` of each PutImage, in the order they arrived (`None`: by digest).
fn put_tags(run: &Run) -> Vec<Option<String>> {
    let mut puts = run.ops("PutImage");
    puts.sort_by_key(|c| c.seq);
    puts.iter()
        .map(|c| {
            c.request
                .as_ref()
                .and_then(|r| r["imageTag"].as_str())
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn registry_to_ecr_and_back_carry_the_referrers() {
    let (env, _serial) = env();
    RT.block_on(async {
        put_user_secret(&env.sdk, SECRET).await;
        let registry = Registry::start(AuthMode::Basic).await;
        let from = registry.client();
        let image = seed_image(&from, "hub/app", "v3", &[20_000], 51, true).await;
        let signature = push_referrer(&from, "hub/app", subject(&image), BUNDLE, b"a bundle for ecr").await;

        // Registry -> ECR.
        create_repo(&env.ecr, "ref-from-hub", false).await;
        let params = json!({
            "source": {"imageUri": format!("{}/hub/app:v3", registry.host()), "credentialsSecret": SECRET},
            "tags": ["prod"],
            "target": {"registry": "123456789012.dkr.ecr.us-east-1.amazonaws.com", "repository": "ref-from-hub"},
        });
        let run = run_job(env, &params, None).await;
        run.summary_with(&format!("Referrers: 1 copied (1 {BUNDLE})."));
        assert_eq!(
            ecr_manifest(&env.ecr, "ref-from-hub", &signature.digest).await.as_deref().map(str::as_bytes),
            Some(&signature.manifest[..]),
            "byte for byte"
        );
        assert_eq!(ecr_referrers(&env.ecr, "ref-from-hub", &image.digest).await, std::slice::from_ref(&signature.digest));
        assert_eq!(
            put_tags(&run),
            [None, None, Some("prod".to_string())],
            "the image by digest, its referrer, then the release tag"
        );
        let stored = stored_blobs(env, ACCOUNT, "ref-from-hub");
        for blob in &signature.blobs {
            assert!(stored.contains_key(blob), "{blob}: {stored:?}");
        }
        let again = run_job(env, &params, None).await;
        again.summary_with("1 already there");
        assert_eq!(again.writes(), Vec::<String>::new(), "a re-run writes nothing");

        // ECR -> registry: an image and its SBOM pushed to ECR.
        create_repo(&env.ecr, "ref-to-hub", false).await;
        let (digest, manifest) = ecr_image(env, "ref-to-hub", "v1", "to-hub").await;
        let (sbom, sbom_bytes) = ecr_referrer(env, &env.ecr, "ref-to-hub", None, (&digest, manifest.len() as u64), SPDX, b"an sbom in ecr").await;
        let params = json!({
            "source": {"repository": "ref-to-hub", "tag": "v1"},
            "tags": ["v1"],
            "target": {"registry": registry.host(), "repository": "mirror/app", "credentialsSecret": SECRET},
        });
        let run = run_job(env, &params, None).await;
        run.summary_with(&format!("Referrers: 1 copied (1 {SPDX})."));
        assert_eq!(run.ops("ListImageReferrers").len(), 1, "the source's referrers listed once");
        let got = manifest_at(&from, "mirror/app", &sbom).await.expect("copied");
        assert_eq!(got.bytes, sbom_bytes);
        assert_eq!(referrer_digests(&from, "mirror/app", &digest).await, std::slice::from_ref(&sbom));
        run_job(env, &params, None).await.summary_with("1 already there");
    });
}

#[test]
fn ecr_to_ecr_across_accounts_carries_the_referrers() {
    let (env, _serial) = env();
    RT.block_on(async {
        let (role, staging) = env.aws.workload(STAGING, "promote-image-referrers", None).await;
        let staging_ecr = aws_sdk_ecr::Client::new(&staging);
        create_repo(&staging_ecr, "ref-cross", false).await;
        let config = put_blob_in(env, Some(STAGING), "ref-cross", br#"{"architecture":"arm64","os":"linux"}"#);
        let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", &config, 37), "layers": []})
        .to_string();
        let digest = sha256_digest(manifest.as_bytes());
        push(&staging_ecr, "ref-cross", &manifest, OCI_MANIFEST, &digest, Some("rc")).await;
        let (signature, bytes) = ecr_referrer(env, &staging_ecr, "ref-cross", Some(STAGING), (&digest, manifest.len() as u64), BUNDLE, b"bundle in staging").await;
        create_repo(&env.ecr, "ref-cross", false).await;

        let params = json!({"source": {"repository": "ref-cross", "tag": "rc", "registryId": STAGING, "roleArn": role},
                            "tags": ["prod"], "target": {"registryId": ACCOUNT}});
        let run = run_job(env, &params, None).await;
        run.summary_with(&format!("Referrers: 1 copied (1 {BUNDLE})."));
        let listings: Vec<&str> = run.ops("ListImageReferrers").iter().map(|c| c.account.as_str()).collect();
        assert_eq!(sorted(listings.iter().map(|s| s.to_string()).collect()), sorted(vec![ACCOUNT.into(), STAGING.into()]), "each side listed in its account");
        assert!(run.ops("PutImage").iter().all(|c| c.account == ACCOUNT));
        assert_eq!(ecr_manifest(&env.ecr, "ref-cross", &signature).await.as_deref().map(str::as_bytes), Some(&bytes[..]));
        assert_eq!(ecr_referrers(&env.ecr, "ref-cross", &digest).await, [signature]);
        assert_eq!(put_tags(&run).last(), Some(&Some("prod".to_string())));
        let again = run_job(env, &params, None).await;
        assert_eq!(again.writes(), Vec::<String>::new());
    });
}

#[test]
fn ecr_refusing_a_referrer_fails_naming_it_and_writes_no_release_tag() {
    let (env, _serial) = env();
    RT.block_on(async {
        create_repo(&env.ecr, "ref-refuse-src", false).await;
        create_repo(&env.ecr, "ref-refuse-dst", false).await;
        let (digest, manifest) = ecr_image(env, "ref-refuse-src", "v1", "refuse").await;
        let quirky = "application/vnd.dev.sigstore.bundle+json;version=0.2";
        let (referrer, _) = ecr_referrer(env, &env.ecr, "ref-refuse-src", None, (&digest, manifest.len() as u64), quirky, b"an old bundle").await;
        env.aws
            .stub_error("ecr", "PutImage", json!({"imageDigest": referrer, "repositoryName": "ref-refuse-dst"}),
                        "InvalidParameterException", "Invalid parameter at 'imageManifest' failed to satisfy constraint: 'Invalid JSON syntax'")
            .await;
        let params = ecr_params("ref-refuse-src", "ref-refuse-dst");
        let run = run_job(env, &params, None).await;
        http(env, "DELETE", "/_local/stubs", None);
        let message = run.failure("JobFailed");
        for part in [referrer.as_str(), quirky, digest.as_str(), "Invalid JSON syntax", "containers-roadmap#2783", "referrers.artifactTypes"] {
            assert!(message.contains(part), "{part} in {message}");
        }
        assert_eq!(digest_of(&env.ecr, "ref-refuse-dst", "prod").await, None, "no release tag");
        assert_eq!(put_tags(&run), [None, None], "the image by digest, the refused referrer; no tag");

        // Leaving that type out, the promotion goes through.
        let mut filtered = params;
        filtered["referrers"] = json!({"artifactTypes": [BUNDLE]});
        run_job(env, &filtered, None).await.summary_with("prod new");
    });
}

/// Puts `entries` as the tag schema's index of `subject`, whatever they say.
async fn put_index(client: &Client, repository: &str, subject: &str, entries: &[Descriptor]) {
    let bytes = shared::referrers::index_bytes(entries);
    let index = Manifest {
        digest: sha256_digest(&bytes),
        media_type: OCI_INDEX.to_string(),
        bytes,
    };
    client
        .put_manifest(repository, &tag_schema_tag(subject).unwrap(), &index)
        .await
        .expect("index put");
}

#[test]
fn hostile_listings_are_bounded_skipped_or_refused() {
    let (env, _serial) = env();
    RT.block_on(async {
        let (source, target) = registries(env).await;
        let proxy = Proxy::start(target.addr).await;
        let from = source.client();
        let to = target.client();

        // 10,000 entries (one real referrer listed again and again, as the registry checks
        // that each exists): a clear failure before anything is written.
        let flood = seed_image(&from, "h/flood", "v1", &[100], 61, true).await;
        let one = push_referrer(&from, "h/flood", subject(&flood), BUNDLE, b"one bundle").await;
        let entries: Vec<Descriptor> =
            vec![describe(&one.digest, OCI_MANIFEST, &one.manifest); 10_000];
        put_index(&from, "h/flood", &flood.digest, &entries).await;
        let params = registry_params(&source, "h/flood:v1", &proxy.host(), "h/flood");
        let run = run_job(env, &params, None).await;
        let message = run.failure("JobFailed");
        assert!(
            message.contains("lists 10000 referrers")
                && message.contains("referrers.artifactTypes"),
            "{message}"
        );
        assert_no_registry_writes(&proxy, "nothing written");

        // A listed referrer of another image is not copied; the image is.
        let image = seed_image(&from, "h/other", "v1", &[100], 62, true).await;
        let other = seed_image(&from, "h/other", "v0", &[100], 63, true).await;
        let foreign = push_referrer(
            &from,
            "h/other",
            subject(&other),
            BUNDLE,
            b"of the other image",
        )
        .await;
        let listed = describe(&foreign.digest, OCI_MANIFEST, &foreign.manifest);
        from.add_to_referrers_index("h/other", &image.digest, &[listed])
            .await
            .unwrap();
        let params = registry_params(&source, "h/other:v1", &proxy.host(), "h/other");
        let run = run_job(env, &params, None).await;
        let summary = run.summary_with("prod new");
        assert!(!summary.contains("Referrers"), "{summary}");
        assert!(manifest_at(&to, "h/other", &foreign.digest).await.is_none());

        // The source's `sha256-<hex>` tag holding the image itself: no referrers read.
        let odd = seed_image(&from, "h/odd", "v1", &[100], 64, true).await;
        let same = as_manifest(&odd);
        from.put_manifest("h/odd", &tag_schema_tag(&odd.digest).unwrap(), &same)
            .await
            .unwrap();
        let params = registry_params(&source, "h/odd:v1", &proxy.host(), "h/odd");
        run_job(env, &params, None).await.summary_with("prod new");

        // The target's tag holding something else: refused before any write.
        let signed = seed_image(&from, "h/signed", "v1", &[100], 65, true).await;
        push_referrer(&from, "h/signed", subject(&signed), BUNDLE, b"a bundle").await;
        let squatter = seed_image(&to, "h/signed", "squat", &[10], 66, true).await;
        let squat = as_manifest(&squatter);
        to.put_manifest("h/signed", &tag_schema_tag(&signed.digest).unwrap(), &squat)
            .await
            .unwrap();
        proxy.clear();
        let params = registry_params(&source, "h/signed:v1", &proxy.host(), "h/signed");
        let run = run_job(env, &params, None).await;
        let message = run.failure("JobFailed");
        assert!(
            message.contains(&tag_schema_tag(&signed.digest).unwrap())
                && message.contains("not an OCI image index"),
            "{message}"
        );
        assert_no_registry_writes(&proxy, "nothing written");
        assert!(to.resolve("h/signed", "prod").await.unwrap().is_none());
    });
}

#[test]
fn a_cosign_tag_moves_in_ecr_unless_its_tags_are_immutable() {
    let (env, _serial) = env();
    RT.block_on(async {
        create_repo(&env.ecr, "ref-sig-src", false).await;
        create_repo(&env.ecr, "ref-sig-dst", false).await;
        create_repo(&env.ecr, "ref-sig-imm", true).await;
        let (digest, _) = ecr_image(env, "ref-sig-src", "v1", "sig").await;
        let tag = format!("{}.sig", tag_schema_tag(&digest).unwrap());
        let first = ecr_cosign(
            env,
            "ref-sig-src",
            &digest,
            b"first payload",
            b"first signature",
        )
        .await;
        let params = |repo: &str, release: &str| {
            let mut params = ecr_params("ref-sig-src", repo);
            params["tags"] = json!([release]);
            params
        };

        let run = run_job(env, &params("ref-sig-dst", "prod"), None).await;
        run.summary_with("Copied cosign tag sha256-");
        assert_eq!(
            digest_of(&env.ecr, "ref-sig-dst", &tag).await.as_deref(),
            Some(first.as_str())
        );
        assert_eq!(
            put_tags(&run),
            [None, Some(tag.clone()), Some("prod".to_string())],
            "the image by digest, the signature tag, the release tag last"
        );

        // Into an immutable repository: written while absent; once the source's tag has
        // moved, refused before anything is written.
        let run = run_job(env, &params("ref-sig-imm", "prod"), None).await;
        run.summary_with("Copied cosign tag");
        let second = ecr_cosign(
            env,
            "ref-sig-src",
            &digest,
            b"second payload",
            b"second signature",
        )
        .await;
        let run = run_job(env, &params("ref-sig-imm", "v2"), None).await;
        let message = run.failure("ConfigurationError");
        assert!(
            message.contains(&tag) && message.contains("immutable"),
            "{message}"
        );
        assert_eq!(run.writes(), Vec::<String>::new(), "nothing written");
        assert_eq!(digest_of(&env.ecr, "ref-sig-imm", "v2").await, None);

        // A mutable target takes the moved tag.
        let run = run_job(env, &params("ref-sig-dst", "prod"), None).await;
        run.summary_with("Copied cosign tag");
        assert_eq!(
            digest_of(&env.ecr, "ref-sig-dst", &tag).await.as_deref(),
            Some(second.as_str())
        );
    });
}

#[test]
fn a_denied_referrer_listing_names_the_iam_action_that_authorizes_it() {
    let (env, _serial) = env();
    RT.block_on(async {
        create_repo(&env.ecr, "ref-deny-src", false).await;
        create_repo(&env.ecr, "ref-deny-dst", false).await;
        ecr_image(env, "ref-deny-src", "v1", "deny").await;
        env.aws
            .fault(testkit::Fault::deny("ecr", "ListImageReferrers").times(-1))
            .await;
        let run = run_job(env, &ecr_params("ref-deny-src", "ref-deny-dst"), None).await;
        env.aws.clear_faults().await;
        let message = run.failure("PermissionError");
        assert!(
            message.contains("ListImageReferrers is authorized by ecr:BatchGetImage"),
            "{message}"
        );
        assert_eq!(run.writes(), Vec::<String>::new(), "nothing written");
    });
}

#[test]
fn the_cosign_tags_of_an_index_and_its_children_move_with_it_in_ecr() {
    let (env, _serial) = env();
    RT.block_on(async {
        create_repo(&env.ecr, "ref-idx-src", false).await;
        create_repo(&env.ecr, "ref-idx-dst", false).await;
        // 40 children: 123 legacy tags to look up, more than one BatchGetImage takes.
        let (index, _, children) = ecr_index(env, "ref-idx-src", "v1", 40).await;
        let signed = [&index, &children[0], &children[37]];
        let mut signatures = Vec::new();
        for subject in signed {
            // Each signature is over its own subject's payload, so each manifest differs.
            let payload = format!("a payload naming {subject}");
            let digest = ecr_cosign(
                env,
                "ref-idx-src",
                subject,
                payload.as_bytes(),
                b"signature",
            )
            .await;
            signatures.push((format!("{}.sig", tag_schema_tag(subject).unwrap()), digest));
        }

        let params = ecr_params("ref-idx-src", "ref-idx-dst");
        let run = run_job(env, &params, None).await;
        let summary = run.summary_with("Copied cosign tags sha256-");
        for (tag, digest) in &signatures {
            assert_eq!(
                digest_of(&env.ecr, "ref-idx-dst", tag).await.as_deref(),
                Some(digest.as_str()),
                "{tag}: {summary}"
            );
        }
        let tags = put_tags(&run);
        assert_eq!(tags.last(), Some(&Some("prod".to_string())), "{tags:?}");

        let again = run_job(env, &params, None).await;
        again.success();
        assert_eq!(
            again.writes(),
            Vec::<String>::new(),
            "a re-run writes nothing"
        );
    });
}
