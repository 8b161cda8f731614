//! shared::registry against a real distribution registry, with Basic and token auth.

use std::time::Duration;
use tokio::time::Instant;

use shared::Failure;
use shared::registry::{Client, Copied, Credentials, RegistryError, copy_blob, resolve_image};
use testkit::registry::{
    AuthMode, PASSWORD, Proxy, Registry, Throttle, USER, seed_image, seed_index,
};

async fn round_trip(mode: AuthMode) {
    let registry = Registry::start(mode).await;
    let client = registry.client();
    let image = seed_image(&client, "team/web", "v1", &[4096, 100_000], 1, false).await;

    let resolved = client.resolve("team/web", "v1").await.unwrap().unwrap();
    assert_eq!(resolved.digest, image.digest);
    assert_eq!(resolved.media_type, image.media_type);
    let got = client
        .get_manifest("team/web", &image.digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.bytes, image.manifest);
    assert!(client.resolve("team/web", "nope").await.unwrap().is_none());

    // Retag: the same bytes under another tag.
    client.put_manifest("team/web", "prod", &got).await.unwrap();
    let prod = client.resolve("team/web", "prod").await.unwrap().unwrap();
    assert_eq!(prod.digest, image.digest);

    // A mount into another repository of the same registry moves no bytes.
    for blob in &image.blobs {
        assert!(!client.blob_exists("team/web-prod", blob).await.unwrap());
        let copied = copy_blob(
            (&client, "team/web"),
            (&client, "team/web-prod"),
            blob,
            64 << 10,
        )
        .await
        .unwrap();
        assert_eq!(copied, Copied::Mounted);
        assert!(client.blob_exists("team/web-prod", blob).await.unwrap());
    }

    // The convenience resolver, with an image name.
    let name =
        shared::image::ImageName::parse(&format!("{}/team/web:prod", registry.host())).unwrap();
    let r = resolve_image(&name, Some(Credentials::new(USER, PASSWORD)), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.digest, image.digest);
    if let Some(tokens) = &registry.token_server {
        assert!(tokens.issued() > 0, "the registry asked for tokens");
    }
}

#[tokio::test]
async fn basic_auth_resolve_get_put_mount() {
    round_trip(AuthMode::Basic).await;
}

#[tokio::test]
async fn token_auth_resolve_get_put_mount() {
    round_trip(AuthMode::Token).await;
}

#[tokio::test]
async fn streams_blobs_between_registries_in_chunks() {
    let (a, b) = tokio::join!(
        Registry::start(AuthMode::Token),
        Registry::start(AuthMode::Basic)
    );
    let (ca, cb) = (a.client(), b.client());
    let (index, children) = seed_index(&ca, "app", "multi", 3).await;
    for child in &children {
        for blob in &child.blobs {
            let copied = copy_blob((&ca, "app"), (&cb, "mirror/app"), blob, 1000)
                .await
                .unwrap();
            assert!(matches!(copied, Copied::Uploaded(n) if n > 0), "{copied:?}");
        }
        let m = ca
            .get_manifest("app", &child.digest)
            .await
            .unwrap()
            .unwrap();
        cb.put_manifest("mirror/app", &child.digest, &m)
            .await
            .unwrap();
    }
    let m = ca.get_manifest("app", "multi").await.unwrap().unwrap();
    assert_eq!(m.digest, index.digest);
    cb.put_manifest("mirror/app", "multi", &m).await.unwrap();
    let got = cb
        .get_manifest("mirror/app", "multi")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got.digest, got.bytes), (index.digest, index.manifest));
}

#[tokio::test]
async fn wrong_password_is_refused_without_quoting_it() {
    for mode in [AuthMode::Basic, AuthMode::Token] {
        let registry = Registry::start(mode).await;
        let password = "wrong-password-0123456789";
        let client = Client::new(
            &registry.host(),
            Some(Credentials::new(USER, password).from_secret("registry/ci")),
        )
        .unwrap();
        let e = client.resolve("team/web", "v1").await.unwrap_err();
        let text = e.to_string();
        assert_eq!(
            e.failure_type(),
            shared::FailureType::PermissionError,
            "{mode:?}: {text}"
        );
        assert!(
            matches!(e, RegistryError::BadCredentials { .. }),
            "{mode:?}: {text}"
        );
        assert!(
            text.contains(USER) && text.contains("registry/ci"),
            "{text}"
        );
        assert!(!text.contains(password), "{text}");

        let anonymous = Client::new(&registry.host(), None).unwrap();
        let e = anonymous.resolve("team/web", "v1").await.unwrap_err();
        assert!(
            matches!(e, RegistryError::CredentialsRequired { .. }),
            "{mode:?}: {e}"
        );
    }
}

#[tokio::test]
async fn rate_limits_short_are_waited_long_are_reported() {
    let registry = Registry::start(AuthMode::Basic).await;
    let image = seed_image(&registry.client(), "web", "v1", &[10], 4, false).await;
    let proxy = Proxy::start(registry.addr).await;
    let client = Client::new(&proxy.host(), Some(Credentials::new(USER, PASSWORD)))
        .unwrap()
        .with_deadline(Instant::now() + Duration::from_secs(60));

    proxy.throttle(Throttle {
        count: 1,
        headers: vec![("Retry-After".into(), "1".into())],
    });
    let started = Instant::now();
    let r = client.resolve("web", "v1").await.unwrap().unwrap();
    assert_eq!(r.digest, image.digest);
    assert!(started.elapsed() >= Duration::from_millis(900));

    proxy.throttle(Throttle {
        count: 5,
        headers: vec![
            ("RateLimit-Remaining".into(), "0;w=21600".into()),
            ("RateLimit-Reset".into(), "3600".into()),
        ],
    });
    let e = client.resolve("web", "v1").await.unwrap_err();
    assert_eq!(e.failure_type(), shared::FailureType::SystemUnavailable);
    let text = e.to_string();
    assert!(text.contains("resets at") && text.contains("UTC"), "{text}");
}
