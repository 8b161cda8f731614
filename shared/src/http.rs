//! Plain HTTP(S) outside the SDK: HTTP probes and container registries.
//!
//! One client per process, built on first use: rustls with ring, trusting the same roots
//! as the SDK's client (the same stack, [`crate::aws::connector`]) (the compiled-in Mozilla roots plus `AWS_CA_BUNDLE` or
//! `AWS_TLS_ROOTS=system`, see [`crate::aws::tls`]). HTTP/1.1 only, no proxy lookup, at
//! most five redirects (none for health probes, [`probe_client`]); a redirect to another host drops the `Authorization` header (a
//! registry's blob redirect to object storage must not carry the registry's token).

use crate::aws::tls::{self, TlsError};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How long opening a connection may take; a request's own timeout is the caller's.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("ecs-pipeline-actions/", env!("CARGO_PKG_VERSION"));

/// Whether a client follows redirects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirects {
    /// Up to five, as registries need (blobs redirect to object storage).
    Follow,
    /// None: a health probe judges the answer it gets, as a load balancer's health check
    /// does, so that a redirect to a login page that answers 200 never passes for healthy.
    Never,
}

/// The process's client; a TLS setting that cannot be honoured is an error naming it.
pub fn client() -> Result<reqwest::Client, TlsError> {
    static CLIENT: OnceLock<Result<reqwest::Client, TlsError>> = OnceLock::new();
    CLIENT.get_or_init(|| from_env(Redirects::Follow)).clone()
}

/// The process's client for health probes: it never follows a redirect.
pub fn probe_client() -> Result<reqwest::Client, TlsError> {
    static CLIENT: OnceLock<Result<reqwest::Client, TlsError>> = OnceLock::new();
    CLIENT.get_or_init(|| from_env(Redirects::Never)).clone()
}

fn from_env(redirects: Redirects) -> Result<reqwest::Client, TlsError> {
    let roots = tls::roots(&tls::RootsSetting::from_env()?)?;
    Ok(build(&roots, redirects))
}

/// A client trusting the compiled-in roots and `roots`.
pub fn build(roots: &tls::Roots, redirects: Redirects) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(roots))
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(match redirects {
            Redirects::Follow => reqwest::redirect::Policy::limited(5),
            Redirects::Never => reqwest::redirect::Policy::none(),
        })
        .no_proxy()
        .user_agent(USER_AGENT)
        .build()
        .expect("a client with a preconfigured rustls configuration always builds")
}

/// The TLS of every HTTPS connection, the SDK's included: rustls with ring, the
/// compiled-in roots and `roots`, HTTP/1.1.
pub fn tls_config(roots: &tls::Roots) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(tls::root_store(roots))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_with_the_compiled_in_roots() {
        let _ = build(&tls::Roots::default(), Redirects::Follow);
        let _ = build(&tls::Roots::default(), Redirects::Never);
    }
}
