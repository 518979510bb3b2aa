//! The certificate's key and CSR (rcgen): ECDSA P-256 unless asked otherwise. The one place
//! certdx makes a certificate key: the batch calls it before finalizing, so the key is on disk
//! before the CA sees the CSR.

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
    /// A key read back from where certdx kept it (a shared state store's copy).
    pub fn from_pem(pem: String) -> PrivateKeyPem {
        PrivateKeyPem(pem)
    }

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

/// A new key of `kind` and a DER CSR for `names` signed with it. The common name is the first
/// name when it fits the 64-byte limit of X.520 (older clients and servers still read it),
/// else empty.
pub fn new_key_and_csr(
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
        let (der, key) = new_key_and_csr(&names, KeyKind::default()).unwrap();
        assert_eq!(der[0], 0x30, "a DER SEQUENCE");
        assert!(key.expose_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
        let parsed = KeyPair::from_pem(key.expose_pem()).unwrap();
        assert!(std::ptr::eq(
            parsed.algorithm(),
            &rcgen::PKCS_ECDSA_P256_SHA256
        ));
        assert_eq!(format!("{key:?}"), "PrivateKeyPem(<redacted>)");
        assert!(new_key_and_csr(&[], KeyKind::EcdsaP384).is_err());
        let (_, p384) = new_key_and_csr(&names, KeyKind::EcdsaP384).unwrap();
        let parsed = KeyPair::from_pem(p384.expose_pem()).unwrap();
        assert!(std::ptr::eq(
            parsed.algorithm(),
            &rcgen::PKCS_ECDSA_P384_SHA384
        ));
    }

    #[test]
    fn the_csr_names_every_name_with_the_key_s_public_half() {
        use x509_parser::certification_request::X509CertificationRequest;
        use x509_parser::extensions::{GeneralName, ParsedExtension};
        use x509_parser::prelude::FromDer;

        let names = vec!["first.test".to_owned(), "*.second.test".to_owned()];
        let (der, key) = new_key_and_csr(&names, KeyKind::EcdsaP256).unwrap();
        let (_, csr) = X509CertificationRequest::from_der(&der).expect("a DER CSR");
        let sans: Vec<String> = csr
            .requested_extensions()
            .into_iter()
            .flatten()
            .filter_map(|ext| match ext {
                ParsedExtension::SubjectAlternativeName(san) => Some(san),
                _ => None,
            })
            .flat_map(|san| san.general_names.iter())
            .filter_map(|name| match name {
                GeneralName::DNSName(n) => Some((*n).to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(sans, names);
        let info = &csr.certification_request_info;
        let cn = info.subject.iter_common_name().next().unwrap();
        assert_eq!(cn.as_str().unwrap(), "first.test");
        let key = KeyPair::from_pem(key.expose_pem()).unwrap();
        assert_eq!(
            &*info.subject_pki.subject_public_key.data,
            key.public_key_raw()
        );

        // A name past X.520's 64 bytes is no common name, but still a SAN.
        let long = format!("{}.test", "a".repeat(70));
        let (der, _) = new_key_and_csr(&[long], KeyKind::EcdsaP256).unwrap();
        let (_, csr) = X509CertificationRequest::from_der(&der).unwrap();
        let subject = &csr.certification_request_info.subject;
        assert_eq!(subject.iter_common_name().count(), 0);
    }
}
