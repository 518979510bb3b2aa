//! The certificate's key and CSR (rcgen): ECDSA P-256 unless asked otherwise.

use std::fmt;

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use serde::{Deserialize, Serialize};

use super::error::AcmeError;

/// The certificate key's algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyKind {
    /// ECDSA on P-256 with SHA-256: small, fast, accepted by every public CA.
    #[default]
    EcdsaP256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384,
}

/// A private key in PKCS#8 PEM. Its `Debug` never shows the key; write it with mode 0600.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKeyPem(String);

impl PrivateKeyPem {
    /// The PEM text, for writing to the key file.
    pub fn expose_pem(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PrivateKeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyPem(<redacted>)")
    }
}

/// A new key and a DER CSR for `names` signed with it. The common name is the first name when
/// it fits the 64-byte limit of X.520 (older clients and servers still read it), else empty.
pub(crate) fn generate(
    names: &[String],
    kind: KeyKind,
) -> Result<(Vec<u8>, PrivateKeyPem), AcmeError> {
    if names.is_empty() {
        return Err(AcmeError::Csr("a CSR needs at least one name".to_owned()));
    }
    let algorithm = match kind {
        KeyKind::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyKind::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
    };
    let key = KeyPair::generate_for(algorithm).map_err(|e| AcmeError::Csr(e.to_string()))?;
    let mut params =
        CertificateParams::new(names.to_vec()).map_err(|e| AcmeError::Csr(e.to_string()))?;
    let mut dn = DistinguishedName::new();
    if let Some(first) = names.first().filter(|n| n.len() <= 64) {
        dn.push(DnType::CommonName, first.as_str());
    }
    params.distinguished_name = dn;
    let csr = params
        .serialize_request(&key)
        .map_err(|e| AcmeError::Csr(e.to_string()))?;
    Ok((csr.der().to_vec(), PrivateKeyPem(key.serialize_pem())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p256_by_default_and_key_never_in_debug() {
        let names = vec!["a.test".to_owned(), "*.b.test".to_owned()];
        let (der, key) = generate(&names, KeyKind::default()).unwrap();
        assert_eq!(der[0], 0x30, "a DER SEQUENCE");
        assert!(key.expose_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
        let parsed = KeyPair::from_pem(key.expose_pem()).unwrap();
        assert!(std::ptr::eq(
            parsed.algorithm(),
            &rcgen::PKCS_ECDSA_P256_SHA256
        ));
        assert_eq!(format!("{key:?}"), "PrivateKeyPem(<redacted>)");
        assert!(generate(&[], KeyKind::EcdsaP384).is_err());
        let (_, p384) = generate(&names, KeyKind::EcdsaP384).unwrap();
        let parsed = KeyPair::from_pem(p384.expose_pem()).unwrap();
        assert!(std::ptr::eq(
            parsed.algorithm(),
            &rcgen::PKCS_ECDSA_P384_SHA384
        ));
    }
}
