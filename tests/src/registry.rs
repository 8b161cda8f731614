//! A real OCI registry for the tests: the CNCF distribution registry (Debian's
//! `docker-registry`), started on a free loopback port with a generated configuration and
//! filesystem storage in a temporary directory, behind htpasswd Basic auth or token auth
//! (with this kit's token server). A recording proxy can stand in front of it to count
//! sequential round trips and to answer `429`.

pub mod bench;
mod image;
mod proxy;
mod token;

pub use image::{
    EMPTY_JSON, EMPTY_MEDIA_TYPE, SeededImage, SeededReferrer, push_blob, push_legacy_signature,
    push_referrer, referrer_manifest, seed_image, seed_index,
};
pub use proxy::{Proxy, Throttle};
pub use token::TokenServer;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// The registry binary; `DOCKER_REGISTRY` overrides it.
pub fn registry_binary() -> PathBuf {
    std::env::var_os("DOCKER_REGISTRY")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/docker-registry".into())
}

/// A user the registry (or its token server) accepts.
pub const USER: &str = "ci-bot";
pub const PASSWORD: &str = "correct-horse-battery-staple";

/// How the registry authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// htpasswd, Basic auth.
    Basic,
    /// Bearer tokens from [`TokenServer`].
    Token,
}

/// A running registry; stopped when dropped.
pub struct Registry {
    pub addr: SocketAddr,
    pub mode: AuthMode,
    pub token_server: Option<TokenServer>,
    child: Child,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry with `mode` auth and the one user [`USER`]/[`PASSWORD`].
    pub async fn start(mode: AuthMode) -> Registry {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let (auth, token_server) = match mode {
            AuthMode::Basic => {
                let path = dir.path().join("htpasswd");
                let hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt");
                std::fs::write(&path, format!("{USER}:{hash}\n")).unwrap();
                (
                    format!(
                        "  htpasswd:\n    realm: test-registry\n    path: {}\n",
                        path.display()
                    ),
                    None,
                )
            }
            AuthMode::Token => {
                let server = TokenServer::start(&[(USER, PASSWORD)]).await;
                let bundle = dir.path().join("token-ca.pem");
                std::fs::write(&bundle, server.certificate_pem()).unwrap();
                (
                    format!(
                        "  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                        server.realm(),
                        token::SERVICE,
                        token::ISSUER,
                        bundle.display()
                    ),
                    Some(server),
                )
            }
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {addr}\n  secret: testkit-upload-secret\nauth:\n{auth}",
            dir.path().join("storage").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(registry_binary())
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}); run scripts/setup to install docker-registry",
                    registry_binary().display()
                )
            });
        let registry = Registry {
            addr,
            mode,
            token_server,
            child,
            dir,
        };
        registry.wait_ready().await;
        registry
    }

    async fn wait_ready(&self) {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "the registry did not listen on {} within 5 s; its log:\n{}",
            self.addr,
            std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
        );
    }

    /// `127.0.0.1:<port>`: the host part of its image references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Its storage directory.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The registry's process id (for measuring).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// A client with the registry's user.
    pub fn client(&self) -> shared::registry::Client {
        shared::registry::Client::new(
            &self.host(),
            Some(shared::registry::Credentials::new(USER, PASSWORD)),
        )
        .expect("a registry client")
    }
}

/// Stores `{"username", "password"}` as the Secrets Manager secret `name`, as a function
/// reads registry credentials: created, or its value replaced.
pub async fn put_secret(sdk: &aws_config::SdkConfig, name: &str, username: &str, password: &str) {
    let sm = aws_sdk_secretsmanager::Client::new(sdk);
    let value = serde_json::json!({"username": username, "password": password}).to_string();
    let created = sm
        .create_secret()
        .name(name)
        .secret_string(&value)
        .send()
        .await;
    if created.is_err() {
        sm.put_secret_value()
            .secret_id(name)
            .secret_string(&value)
            .send()
            .await
            .expect("secret stored");
    }
}

/// The registry's user ([`USER`], [`PASSWORD`]) as the secret `name`.
pub async fn put_user_secret(sdk: &aws_config::SdkConfig, name: &str) {
    put_secret(sdk, name, USER, PASSWORD).await;
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
