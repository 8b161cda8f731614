//! The roots every HTTPS connection trusts (the SDK's, [`super::connector`], and the
//! registries' and probes', [`crate::http`]): the Mozilla roots compiled into the binary,
//! so that no certificate file is read at start.
//!
//! The SDK's default client loads the system's store (`/etc/ssl/certs`, a few hundred
//! files) while each client is built, which made a function's init several times a
//! hello-world's. Here the roots become a trust store only when the first request needs
//! a connection.
//!
//! A private CA is an opt-in, read once at start:
//! - `AWS_CA_BUNDLE=/path/ca.pem` adds the PEM certificates of that file (the setting the
//!   AWS CLI and the other SDKs read);
//! - `AWS_TLS_ROOTS=system` adds the system's store (`SSL_CERT_FILE`, `SSL_CERT_DIR`, else
//!   the distribution's paths). `AWS_TLS_ROOTS=mozilla` (the default) adds nothing.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::path::{Path, PathBuf};

/// Which roots the client trusts besides the compiled-in Mozilla roots.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RootsSetting {
    /// `AWS_CA_BUNDLE`: a PEM file of extra roots.
    pub bundle: Option<PathBuf>,
    /// `AWS_TLS_ROOTS=system`: the system's store too.
    pub system: bool,
}

/// A TLS setting that cannot be honoured; the function refuses to start.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TlsError {
    #[error(
        "AWS_TLS_ROOTS is `{0}`; use `mozilla` (the compiled-in roots, the default) or `system` (also trust the system's certificate store)"
    )]
    UnknownRoots(String),
    #[error(
        "AWS_CA_BUNDLE names `{path}`, which cannot be read ({detail}); point it at a PEM file of CA certificates or unset it"
    )]
    BundleUnreadable { path: String, detail: String },
    #[error(
        "AWS_CA_BUNDLE names `{path}`, which holds no PEM certificate (`-----BEGIN CERTIFICATE-----`); point it at a PEM file of CA certificates or unset it"
    )]
    BundleEmpty { path: String },
    #[error(
        "AWS_CA_BUNDLE names `{path}`, whose certificate number {index} is not a usable CA certificate ({detail}); fix or remove it"
    )]
    BundleInvalid {
        path: String,
        index: usize,
        detail: String,
    },
    #[error(
        "AWS_TLS_ROOTS=system, but the system's certificate store gave no certificate ({detail}); check SSL_CERT_FILE / SSL_CERT_DIR, or unset AWS_TLS_ROOTS to use the compiled-in roots"
    )]
    SystemStoreEmpty { detail: String },
}

impl RootsSetting {
    /// Reads `AWS_CA_BUNDLE` and `AWS_TLS_ROOTS` (empty counts as unset).
    pub fn from_env() -> Result<Self, TlsError> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self::parse(
            var("AWS_CA_BUNDLE").as_deref(),
            var("AWS_TLS_ROOTS").as_deref(),
        )
    }

    /// | `AWS_CA_BUNDLE` | `AWS_TLS_ROOTS` | trusted besides the Mozilla roots |
    /// |---|---|---|
    /// | unset | unset, `mozilla` | nothing |
    /// | unset | `system` (any case) | the system's store |
    /// | a path | unset, `mozilla` | the file's certificates |
    /// | a path | `system` | both |
    /// | any | other | refused |
    pub fn parse(bundle: Option<&str>, roots: Option<&str>) -> Result<Self, TlsError> {
        let system = match roots.map(str::trim) {
            None => false,
            Some(r) if r.eq_ignore_ascii_case("mozilla") => false,
            Some(r) if r.eq_ignore_ascii_case("system") => true,
            Some(other) => return Err(TlsError::UnknownRoots(other.to_owned())),
        };
        Ok(Self {
            bundle: bundle.map(|b| PathBuf::from(b.trim())),
            system,
        })
    }
}

/// The CA certificates of a PEM file, each checked as rustls will use it.
fn read_bundle(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| TlsError::BundleUnreadable {
        path: shown.clone(),
        detail: e.to_string(),
    })?;
    let mut ders = Vec::new();
    for (i, item) in CertificateDer::pem_slice_iter(&bytes).enumerate() {
        let invalid = |detail: String| TlsError::BundleInvalid {
            path: shown.clone(),
            index: i + 1,
            detail,
        };
        let der = item.map_err(|e| invalid(e.to_string()))?;
        let mut probe = rustls::RootCertStore::empty();
        probe.add(der.clone()).map_err(|e| invalid(e.to_string()))?;
        ders.push(der);
    }
    if ders.is_empty() {
        return Err(TlsError::BundleEmpty { path: shown });
    }
    Ok(ders)
}

fn system_certs() -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        let detail = match found.errors.first() {
            Some(e) => e.to_string(),
            None => "no certificate files found".to_owned(),
        };
        return Err(TlsError::SystemStoreEmpty { detail });
    }
    Ok(found.certs)
}

/// The certificates the opt-ins add, read and checked at start so that a bad setting
/// stops the function then, not at its first request.
#[derive(Debug, Clone, Default)]
pub struct Roots {
    extra: Vec<CertificateDer<'static>>,
}

/// Reads the files `setting` names; nothing for the default.
pub fn roots(setting: &RootsSetting) -> Result<Roots, TlsError> {
    let mut extra = Vec::new();
    if let Some(path) = &setting.bundle {
        extra.extend(read_bundle(path)?);
    }
    if setting.system {
        extra.extend(system_certs()?);
    }
    Ok(Roots { extra })
}

/// The compiled-in roots and the opt-ins' certificates as a rustls store.
pub fn root_store(roots: &Roots) -> rustls::RootCertStore {
    let mut store = rustls::RootCertStore::empty();
    store.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    store.add_parsable_certificates(roots.extra.iter().cloned());
    store
}

/// A connector's count of trusted roots, for tests: the compiled-in ones.
pub fn compiled_in_roots() -> usize {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_table() {
        let ok = |b, r| RootsSetting::parse(b, r).unwrap();
        assert_eq!(ok(None, None), RootsSetting::default());
        assert_eq!(ok(None, Some("mozilla")), RootsSetting::default());
        assert!(ok(None, Some("SYSTEM")).system);
        let both = ok(Some("/etc/ca.pem"), Some("system"));
        assert_eq!(both.bundle.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert!(both.system);
        let e = RootsSetting::parse(None, Some("native")).unwrap_err();
        assert!(e.to_string().contains("`native`"), "{e}");
        assert!(e.to_string().contains("`system`"), "{e}");
    }

    #[test]
    fn the_store_holds_every_compiled_in_root() {
        assert!(compiled_in_roots() > 100);
        assert_eq!(root_store(&Roots::default()).len(), compiled_in_roots());
    }

    #[test]
    fn a_missing_or_empty_bundle_is_refused_with_its_path() {
        let missing = RootsSetting {
            bundle: Some("/nonexistent/ca.pem".into()),
            system: false,
        };
        let e = roots(&missing).unwrap_err().to_string();
        assert!(
            e.contains("/nonexistent/ca.pem") && e.contains("AWS_CA_BUNDLE"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("tls-empty-{}.pem", std::process::id()));
        std::fs::write(&dir, "not a certificate").unwrap();
        let empty = RootsSetting {
            bundle: Some(dir.clone()),
            system: false,
        };
        let e = roots(&empty).unwrap_err().to_string();
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let _ = std::fs::remove_file(dir);
    }
}
