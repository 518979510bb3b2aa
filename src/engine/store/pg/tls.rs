//! TLS to PostgreSQL, with libpq's `sslmode` and `sslrootcert` meanings, so a `--state` URL
//! that works with `psql` works with certdx. The driver knows only `disable`, `prefer` and
//! `require`, and never verifies anything itself: certdx reads both parameters out of the
//! URL ([`split`]) and hands the driver a rustls connector that verifies as libpq would
//! ([`connector`]):
//!
//! - `disable`: no TLS;
//! - `allow`, `prefer` (the default) and `require` without `sslrootcert`: TLS without checking
//!   the server's certificate (`prefer` and `allow` fall back to plain text when the server
//!   offers no TLS; `require` fails instead). This protects against eavesdropping only;
//! - `verify-ca`, and `require` with `sslrootcert`: the certificate must chain to the root;
//! - `verify-full`: the chain and the host name (or IP address) of the URL.
//!
//! `sslrootcert=PATH` is a PEM file of roots; without it (or with `sslrootcert=system`) the
//! verifying modes use the system's roots through the platform verifier, where libpq would read
//! `~/.postgresql/root.crt`.

use std::fmt;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain text only.
    Disable,
    /// Plain text, TLS if the server insists (treated as `prefer`).
    Allow,
    /// TLS if the server offers it, unverified; else plain text. libpq's default.
    Prefer,
    /// TLS or nothing; verified like `verify-ca` when a root is given.
    Require,
    /// TLS with the certificate chained to a trusted root.
    VerifyCa,
    /// TLS with the chain and the host name checked.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<SslMode, String> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, \
                     verify-full"
                ));
            }
        })
    }

    /// The nearest value the driver knows: it only decides whether TLS is tried or required.
    fn for_driver(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow | SslMode::Prefer => "prefer",
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => "require",
        }
    }
}

/// How certdx talks TLS to the database, from the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The `sslmode` asked for (libpq's default, `prefer`, when none is).
    pub mode: SslMode,
    /// `sslrootcert`: a PEM file of roots, or `system`.
    pub root: Option<String>,
}

/// Splits `url` into the URL the driver parses (`sslrootcert` taken out, `sslmode` mapped to
/// the driver's three values) and certdx's TLS settings.
pub fn split(url: &str) -> Result<(String, TlsSettings), String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut settings = TlsSettings {
        mode: SslMode::Prefer,
        root: None,
    };
    let mut kept = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*key {
            "sslmode" => settings.mode = SslMode::parse(&value)?,
            "sslrootcert" if value.is_empty() => {}
            "sslrootcert" => settings.root = Some(value.into_owned()),
            _ => {
                kept.append_pair(&key, &value);
            }
        }
    }
    kept.append_pair("sslmode", settings.mode.for_driver());
    Ok((format!("{base}?{}", kept.finish()), settings))
}

/// The driver's TLS connector for `settings` (see the module documentation for what each mode
/// verifies). Errors name what could not be read, never a secret.
pub fn connector(settings: &TlsSettings) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifying = matches!(settings.mode, SslMode::VerifyCa | SslMode::VerifyFull)
        || (settings.mode == SslMode::Require && settings.root.is_some());
    let verifier: Arc<dyn ServerCertVerifier> = if !verifying {
        Arc::new(Unverified(provider.clone()))
    } else {
        let chain: Arc<dyn ServerCertVerifier> = match settings.root.as_deref() {
            None | Some("system") => Arc::new(
                rustls_platform_verifier::Verifier::new(provider.clone())
                    .map_err(|e| format!("the system's roots: {e}"))?,
            ),
            Some(path) => WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots(path)?),
                provider.clone(),
            )
            .build()
            .map_err(|e| format!("sslrootcert {path}: {e}"))?,
        };
        if settings.mode == SslMode::VerifyFull {
            chain
        } else {
            Arc::new(AnyName(chain))
        }
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// The roots in the PEM file at `path`.
fn roots(path: &str) -> Result<RootCertStore, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read sslrootcert {path}: {e}"))?;
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("sslrootcert {path} is not PEM: {e}"))?;
        store
            .add(cert)
            .map_err(|e| format!("sslrootcert {path}: a certificate is not usable: {e}"))?;
    }
    if store.is_empty() {
        return Err(format!("sslrootcert {path} holds no certificate"));
    }
    Ok(store)
}

/// `prefer` and `require` without a root: libpq encrypts without checking who answers. The
/// handshake's own signatures are still checked, so the session is bound to the certificate
/// the server presented.
struct Unverified(Arc<CryptoProvider>);

impl fmt::Debug for Unverified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Unverified")
    }
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain as the wrapped verifier checks it, whatever name the certificate is
/// for (the name is checked after the chain, so a name error means the chain was good).
#[derive(Debug)]
struct AnyName(Arc<dyn ServerCertVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_parameters_are_read_and_the_driver_gets_its_own() {
        let (url, s) = split(
            "postgres://u:p@db.example:5433/certdx?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=w1",
        )
        .unwrap();
        assert_eq!(
            url,
            "postgres://u:p@db.example:5433/certdx?application_name=w1&sslmode=require"
        );
        assert_eq!(s.mode, SslMode::VerifyFull);
        assert_eq!(s.root.as_deref(), Some("/etc/ca.pem"));
        let (url, s) = split("postgres://u@h/db").unwrap();
        assert_eq!(url, "postgres://u@h/db?sslmode=prefer");
        assert_eq!(s.mode, SslMode::Prefer);
        assert!(split("postgres://u@h/db?sslmode=verify").is_err());
    }

    #[test]
    fn a_root_file_that_is_missing_or_not_pem_is_named() {
        let settings = |root: &str| TlsSettings {
            mode: SslMode::VerifyFull,
            root: Some(root.to_owned()),
        };
        let missing = connector(&settings("/nonexistent/ca.pem")).err().unwrap();
        assert!(missing.contains("/nonexistent/ca.pem"), "{missing}");
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let junk = junk.display().to_string();
        let err = connector(&settings(&junk)).err().unwrap();
        assert!(err.contains("holds no certificate"), "{err}");
        // Modes that verify nothing need no root.
        assert!(
            connector(&TlsSettings {
                mode: SslMode::Require,
                root: None
            })
            .is_ok()
        );
    }
}
