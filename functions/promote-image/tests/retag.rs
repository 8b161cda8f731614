//! Same-repository promotion against the local AWS with the real binary: each media
//! type, idempotent re-runs, the moving-tag rule, immutable repositories, and indexes.

mod common;

use common::*;
use serde_json::json;

/// The `seq`s of an index's read and of its children's check (the one `BatchGetImage`
/// asking for more than one image).
fn index_reads(run: &Run) -> (u64, u64) {
    let reads = run.ops("BatchGetImage");
    let ids = |c: &testkit::Call| {
        c.request
            .as_ref()
            .and_then(|r| r["imageIds"].as_array().map(Vec::len))
            .unwrap_or_default()
    };
    let read = reads.iter().filter(|c| ids(c) == 1).map(|c| c.seq).min();
    let children = reads.iter().filter(|c| ids(c) > 1).map(|c| c.seq).min();
    (
        read.expect("the list read"),
        children.expect("the children checked"),
    )
}

fn layers(name: &str, n: usize) -> Vec<(String, u64)> {
    (0..n)
        .map(|i| (d(&format!("{name}/layer{i}")), 1000 + i as u64))
        .collect()
}

#[test]
fn docker_v2_new_tags_are_put_after_the_look_ups_and_a_rerun_only_looks() {
    let (env, _serial) = env();
    RT.block_on(async {
        create_repo(&env.ecr, "rt-docker", false).await;
        let manifest = docker_manifest("rt-docker", &layers("rt-docker", 2));
        let digest = d("rt-docker/image");
        push(&env.ecr, "rt-docker", &manifest, DOCKER_MANIFEST, &digest, Some("sha-1a2b3c")).await;
        let params = json!({"source": {"repository": "rt-docker", "tag": "sha-1a2b3c"}, "tags": ["staging", "qa"]});

        let run = run_job(env, &params, None).await;
        let (summary, vars) = run.success();
        assert!(summary.contains("Promoted rt-docker:sha-1a2b3c") && summary.contains("staging new; qa new"), "{summary}");
        assert!(summary.contains("Docker v2 manifest"), "{summary}");
        assert_eq!(vars["ImageDigest"], digest.as_str());
        assert_eq!(vars["ImageUri"], format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/rt-docker@{digest}").as_str());
        assert_eq!(vars["ImageTags"], "staging,qa,sha-1a2b3c");
        // The manifest, where each tag points and the repository's rule; then the puts.
        assert_eq!(
            run.operations(),
            [
                "ecr:BatchGetImage",
                "ecr:DescribeImages",
                "ecr:DescribeImages",
                "ecr:DescribeRepositories",
                "ecr:PutImage",
                "ecr:PutImage"
            ]
        );
        run.assert_after("BatchGetImage", "PutImage");
        run.assert_after("DescribeImages", "PutImage");
        let puts = run.ops("PutImage");
        assert_eq!(puts.len(), 2);
        for put in puts {
            let request = put.request.as_ref().expect("PutImage request");
            assert_eq!(request["imageManifest"], manifest.as_str(), "manifest bytes unchanged");
            assert_eq!(request["imageManifestMediaType"], DOCKER_MANIFEST);
            assert_eq!(request["imageDigest"], digest.as_str());
        }
        let get = &run.ops("BatchGetImage")[0];
        let accepted = get.request.as_ref().map(|r| r["acceptedMediaTypes"].clone()).unwrap_or_default();
        for media_type in [DOCKER_MANIFEST, OCI_MANIFEST, DOCKER_LIST, OCI_INDEX] {
            assert!(accepted.as_array().is_some_and(|a| a.contains(&json!(media_type))), "{accepted}");
        }
        assert!(run.calls.iter().all(|c| !c.operation.contains("Layer")), "no layer traffic in one repository");
        assert!(run.calls.iter().all(|c| c.operation != "ListImages"), "never lists the repository");
        assert_eq!(digest_of(&env.ecr, "rt-docker", "qa").await.as_deref(), Some(digest.as_str()));

        let again = run_job(env, &params, None).await;
        let (summary, vars) = again.success();
        assert!(summary.starts_with("Nothing to do: staging, qa in rt-docker already on"), "{summary}");
        assert_eq!(vars["ImageDigest"], digest.as_str());
        assert_eq!(again.operations(), LOOK_UPS_OF_TWO_TAGS);
        assert!(again.writes().is_empty());
    });
}

#[test]
fn oci_manifest_keeps_its_media_type() {
    let (env, _serial) = env();
    RT.block_on(async {
        create_repo(&env.ecr, "rt-oci", false).await;
        let manifest = oci_manifest("rt-oci", &layers("rt-oci", 1));
        let digest = d("rt-oci/image");
        push(
            &env.ecr,
            "rt-oci",
            &manifest,
            OCI_MANIFEST,
            &digest,
            Some("build-7"),
        )
        .await;
        let run = run_job(
            env,
            &json!({"source": {"repository": "rt-oci", "digest": digest}, "tags": ["prod"]}),
            None,
        )
        .await;
        let (summary, _) = run.success();
        assert!(
            summary.contains("OCI manifest") && summary.contains("rt-oci@sha256:"),
            "{summary}"
        );
        let put = run.ops("PutImage")[0].request.clone().unwrap_or_default();
        assert_eq!(put["imageManifestMediaType"], OCI_MANIFEST);
        assert_eq!(put["imageManifest"], manifest.as_str());
        assert_eq!(
            digest_of(&env.ecr, "rt-oci", "prod").await.as_deref(),
            Some(digest.as_str())
        );
    });
}

#[test]
fn docker_manifest_list_is_promoted_as_one_unit() {
    let (env, _serial) = env();
    RT.block_on(async {
        create_repo(&env.ecr, "rt-list", false).await;
        let amd = (
            d("rt-list/amd64"),
            docker_manifest("rt-list-amd64", &layers("rt-list-amd64", 1)),
        );
        let arm = (
            d("rt-list/arm64"),
            docker_manifest("rt-list-arm64", &layers("rt-list-arm64", 1)),
        );
        push(&env.ecr, "rt-list", &amd.1, DOCKER_MANIFEST, &amd.0, None).await;
        push(&env.ecr, "rt-list", &arm.1, DOCKER_MANIFEST, &arm.0, None).await;
        let list = index(
            DOCKER_LIST,
            DOCKER_MANIFEST,
            &[
                (amd.0.clone(), "linux/amd64"),
                (arm.0.clone(), "linux/arm64"),
            ],
        );
        let digest = d("rt-list/list");
        push(&env.ecr, "rt-list", &list, DOCKER_LIST, &digest, Some("v2")).await;

        let run = run_job(
            env,
            &json!({"source": {"repository": "rt-list", "tag": "v2"}, "tags": ["prod"]}),
            None,
        )
        .await;
        let (summary, vars) = run.success();
        assert!(
            summary.contains("Docker manifest list, 2 platforms"),
            "{summary}"
        );
        assert_eq!(vars["ImageDigest"], digest.as_str());
        let puts = run.ops("PutImage");
        assert_eq!(
            puts.len(),
            1,
            "only the list is tagged; children stay as they are"
        );
        let put = puts[0].request.clone().unwrap_or_default();
        assert_eq!(put["imageManifestMediaType"], DOCKER_LIST);
        assert_eq!(put["imageManifest"], list.as_str());
        assert_eq!(
            run.operations(),
            [
                "ecr:BatchGetImage",
                "ecr:BatchGetImage",
                "ecr:DescribeImages",
                "ecr:DescribeRepositories",
                "ecr:PutImage"
            ],
            "look-ups, children check, write"
        );
        let (read, children) = index_reads(&run);
        assert!(
            read < children,
            "the children are checked once the list is read: {:#?}",
            run.calls
        );
        assert!(
            run.seqs("PutImage").iter().all(|&put| children < put),
            "written once the children are there: {:#?}",
            run.calls
        );
        assert_eq!(
            digest_of(&env.ecr, "rt-list", "prod").await.as_deref(),
            Some(digest.as_str())
        );
    });
}

#[test]
fn oci_index_with_attestation_checks_children_then_retags() {
    let (env, _serial) = env();
    RT.block_on(async {
        create_repo(&env.ecr, "rt-index", false).await;
        let amd = (d("rt-index/amd64"), oci_manifest("rt-index-amd64", &layers("rt-index-amd64", 2)));
        let att = (d("rt-index/att"), attestation_manifest("rt-index"));
        push(&env.ecr, "rt-index", &amd.1, OCI_MANIFEST, &amd.0, None).await;
        push(&env.ecr, "rt-index", &att.1, OCI_MANIFEST, &att.0, None).await;
        let idx = index(OCI_INDEX, OCI_MANIFEST, &[(amd.0.clone(), "linux/amd64"), (att.0.clone(), "attestation")]);
        let digest = d("rt-index/index");
        push(&env.ecr, "rt-index", &idx, OCI_INDEX, &digest, Some("sha-9f8e7d")).await;

        let run = run_job(env, &json!({"source": {"repository": "rt-index", "tag": "sha-9f8e7d"}, "tags": ["staging"]}), None).await;
        let (summary, _) = run.success();
        assert!(summary.contains("OCI image index, 1 platform + 1 attestation"), "{summary}");
        let children_check = run
            .ops("BatchGetImage")
            .into_iter()
            .filter_map(|c| c.request.as_ref())
            .find(|r| r["imageIds"].as_array().is_some_and(|ids| ids.len() == 2))
            .cloned()
            .expect("one BatchGetImage for both children");
        assert!(children_check.to_string().contains(&att.0), "attestations are checked too");
        assert_eq!(run.ops("PutImage")[0].request.as_ref().map(|r| r["imageManifestMediaType"].clone()), Some(json!(OCI_INDEX)));
        assert_eq!(digest_of(&env.ecr, "rt-index", "staging").await.as_deref(), Some(digest.as_str()));

        let again = run_job(env, &json!({"source": {"repository": "rt-index", "tag": "sha-9f8e7d"}, "tags": ["staging"]}), None).await;
        assert!(again.success().0.starts_with("Nothing to do"));
        assert_eq!(
            again.operations(),
            ["ecr:BatchGetImage", "ecr:DescribeImages", "ecr:DescribeRepositories"],
            "nothing to write: no children check either"
        );
        assert!(again.writes().is_empty());
    });
}

#[test]
fn index_with_a_missing_child_fails_and_writes_nothing() {
    let (env, _serial) = env();
    RT.block_on(async {
        create_repo(&env.ecr, "rt-broken", false).await;
        let amd = (
            d("rt-broken/amd64"),
            oci_manifest("rt-broken-amd64", &layers("rt-broken-amd64", 1)),
        );
        push(&env.ecr, "rt-broken", &amd.1, OCI_MANIFEST, &amd.0, None).await;
        let gone = d("rt-broken/arm64-expired");
        let idx = index(
            OCI_INDEX,
            OCI_MANIFEST,
            &[
                (amd.0.clone(), "linux/amd64"),
                (gone.clone(), "linux/arm64"),
            ],
        );
        push(
            &env.ecr,
            "rt-broken",
            &idx,
            OCI_INDEX,
            &d("rt-broken/index"),
            Some("v3"),
        )
        .await;

        let run = run_job(
            env,
            &json!({"source": {"repository": "rt-broken", "tag": "v3"}, "tags": ["prod"]}),
            None,
        )
        .await;
        let message = run.failure("JobFailed");
        assert!(
            message.contains(&format!("linux/arm64 {gone}")),
            "{message}"
        );
        assert!(
            message.contains("child manifests are missing") && message.contains("lifecycle policy"),
            "{message}"
        );
        assert!(!message.contains("linux/amd64"), "{message}");
        assert!(run.ops("PutImage").is_empty());
        assert_eq!(digest_of(&env.ecr, "rt-broken", "prod").await, None);
    });
}

#[test]
fn mutable_tag_moves_and_the_summary_says_from_where() {
    let (env, _serial) = env();
    RT.block_on(async {
        create_repo(&env.ecr, "rt-move", false).await;
        let old = d("rt-move/old");
        let new = d("rt-move/new");
        push(&env.ecr, "rt-move", &docker_manifest("rt-move-old", &layers("rt-move-old", 1)), DOCKER_MANIFEST, &old, Some("staging")).await;
        push(&env.ecr, "rt-move", &docker_manifest("rt-move-new", &layers("rt-move-new", 1)), DOCKER_MANIFEST, &new, Some("sha-new")).await;

        let forbid = json!({"source": {"repository": "rt-move", "tag": "sha-new"}, "tags": ["staging"], "allowMovingTags": false});
        let run = run_job(env, &forbid, None).await;
        let message = run.failure("ConfigurationError");
        assert!(message.contains("tag `staging` in repository rt-move points at") && message.contains("allowMovingTags is false"), "{message}");
        assert!(message.contains(&old[..19]) && message.contains(&new[..19]), "{message}");
        assert!(run.ops("PutImage").is_empty());

        let allow = json!({"source": {"repository": "rt-move", "tag": "sha-new"}, "tags": ["staging"]});
        let run = run_job(env, &allow, None).await;
        let (summary, _) = run.success();
        assert!(summary.contains(&format!("staging moved from {}", &old[..19])), "{summary}");
        assert_eq!(digest_of(&env.ecr, "rt-move", "staging").await.as_deref(), Some(new.as_str()));
        assert_eq!(run.operations(), ["ecr:BatchGetImage", "ecr:DescribeImages", "ecr:DescribeRepositories", "ecr:PutImage"]);
        run.assert_after("BatchGetImage", "PutImage");
        run.assert_after("DescribeImages", "PutImage");
    });
}

#[test]
fn immutable_repository_rerun_is_idempotent_and_refuses_moving() {
    let (env, _serial) = env();
    RT.block_on(async {
        create_repo(&env.ecr, "rt-immutable", true).await;
        let first = d("rt-immutable/1");
        let second = d("rt-immutable/2");
        push(
            &env.ecr,
            "rt-immutable",
            &docker_manifest("rt-imm-1", &layers("rt-imm-1", 1)),
            DOCKER_MANIFEST,
            &first,
            Some("sha-1"),
        )
        .await;
        push(
            &env.ecr,
            "rt-immutable",
            &docker_manifest("rt-imm-2", &layers("rt-imm-2", 1)),
            DOCKER_MANIFEST,
            &second,
            Some("sha-2"),
        )
        .await;
        let params =
            json!({"source": {"repository": "rt-immutable", "tag": "sha-1"}, "tags": ["v1.4.2"]});

        assert!(
            run_job(env, &params, None)
                .await
                .success()
                .0
                .contains("v1.4.2 new")
        );
        let again = run_job(env, &params, None).await;
        assert!(
            again.success().0.starts_with("Nothing to do"),
            "re-run on IMMUTABLE is a success"
        );
        assert!(
            again.ops("PutImage").is_empty(),
            "no PutImage, so no ImageTagAlreadyExistsException"
        );

        let other =
            json!({"source": {"repository": "rt-immutable", "tag": "sha-2"}, "tags": ["v1.4.2"]});
        let run = run_job(env, &other, None).await;
        let message = run.failure("ConfigurationError");
        assert!(
            message.contains("tag `v1.4.2` in repository rt-immutable already points at"),
            "{message}"
        );
        assert!(
            message.contains("immutable (IMMUTABLE)") && message.contains(&second[..19]),
            "{message}"
        );
        assert_eq!(
            digest_of(&env.ecr, "rt-immutable", "v1.4.2")
                .await
                .as_deref(),
            Some(first.as_str())
        );
    });
}

#[test]
fn put_refused_by_a_concurrent_writer_is_rechecked() {
    let (env, _serial) = env();
    RT.block_on(async {
        create_repo(&env.ecr, "rt-race", false).await;
        let digest = d("rt-race/image");
        push(
            &env.ecr,
            "rt-race",
            &docker_manifest("rt-race", &layers("rt-race", 1)),
            DOCKER_MANIFEST,
            &digest,
            Some("build"),
        )
        .await;
        // Another writer wins the race and ECR refuses our PutImage; the tag is then checked.
        env.aws
            .stub_error(
                "ecr",
                "PutImage",
                json!({"repositoryName": "rt-race"}),
                "ImageAlreadyExistsException",
                "Image with digest already exists",
            )
            .await;
        let run = run_job(
            env,
            &json!({"source": {"repository": "rt-race", "tag": "build"}, "tags": ["prod"]}),
            None,
        )
        .await;
        let message = run.failure("RevisionOutOfSync");
        assert!(
            message
                .contains("tag `prod` in repository rt-race changed while it was being promoted"),
            "{message}"
        );
        assert_eq!(
            run.ops("DescribeImages").len(),
            2,
            "looked up once, re-checked once after the refusal"
        );
    });
}

/// Creates `name` with a `*_WITH_EXCLUSION` tag mutability and wildcard `filters`.
async fn create_repo_excluding(env: &Env, name: &str, mode: &str, filters: &[&str]) {
    use aws_sdk_ecr::types::{
        ImageTagMutability, ImageTagMutabilityExclusionFilter,
        ImageTagMutabilityExclusionFilterType,
    };
    let mut call = env
        .ecr
        .create_repository()
        .repository_name(name)
        .image_tag_mutability(ImageTagMutability::from(mode));
    for f in filters {
        call = call.image_tag_mutability_exclusion_filters(
            ImageTagMutabilityExclusionFilter::builder()
                .filter_type(ImageTagMutabilityExclusionFilterType::Wildcard)
                .filter(*f)
                .build()
                .expect("filter"),
        );
    }
    call.send()
        .await
        .unwrap_or_else(|e| panic!("create repository {name}: {e:?}"));
}

#[test]
fn exclusion_filters_decide_which_tags_move_and_a_refusal_names_the_filter_before_any_write() {
    let (env, _serial) = env();
    RT.block_on(async {
        // (mode, filters, tag, moves?)
        let cases = [
            ("IMMUTABLE_WITH_EXCLUSION", &["latest", "*-rc"][..], "latest", true),
            ("IMMUTABLE_WITH_EXCLUSION", &["latest", "*-rc"][..], "2.0-rc", true),
            ("IMMUTABLE_WITH_EXCLUSION", &["latest", "*-rc"][..], "v1.4.2", false),
            ("IMMUTABLE_WITH_EXCLUSION", &["latest", "*-rc"][..], "latest-1", false),
            ("MUTABLE_WITH_EXCLUSION", &["release-*"][..], "main", true),
            ("MUTABLE_WITH_EXCLUSION", &["release-*"][..], "release-7", false),
        ];
        for (i, (mode, filters, tag, moves)) in cases.into_iter().enumerate() {
            let repo = format!("rt-excl-{i}");
            create_repo_excluding(env, &repo, mode, filters).await;
            let (first, second) = (d(&format!("{repo}/1")), d(&format!("{repo}/2")));
            for (digest, build) in [(&first, "sha-1"), (&second, "sha-2")] {
                let seed = format!("{repo}-{build}");
                push(
                    &env.ecr,
                    &repo,
                    &docker_manifest(&seed, &layers(&seed, 1)),
                    DOCKER_MANIFEST,
                    digest,
                    Some(build),
                )
                .await;
            }
            let promote = |build: &str| {
                json!({"source": {"repository": repo, "tag": build}, "tags": [tag], "allowMovingTags": true})
            };
            run_job(env, &promote("sha-1"), None).await.success();
            let run = run_job(env, &promote("sha-2"), None).await;
            let now = digest_of(&env.ecr, &repo, tag).await;
            if moves {
                let (summary, _) = run.success();
                assert!(summary.contains("moved"), "case {i}: {summary}");
                assert_eq!(now.as_deref(), Some(second.as_str()), "case {i}");
            } else {
                let message = run.failure("ConfigurationError");
                let named = format!("{mode} [{}]", filters.join(", "));
                assert!(
                    message.contains(&format!("tag `{tag}`")) && message.contains(&named),
                    "case {i}: {message}"
                );
                assert!(run.ops("PutImage").is_empty(), "case {i}: refused before any write");
                assert_eq!(now.as_deref(), Some(first.as_str()), "case {i}");
            }
        }
    });
}
