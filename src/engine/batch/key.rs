//! The certificate's key and CSR, made by the batch itself (not by `AcmeOrder::finalize`) so the
//! key can be written to disk *before* the CSR is sent: a run killed after finalize can then
//! still pair the certificate the CA issues with its key.

use std::fmt;

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

use crate::engine::acme::KeyKind;

/// A new private key in PKCS#8 PEM; `Debug` never shows it.
pub(super) struct KeyPem(String);

impl KeyPem {
    /// The PEM text, for the key file only.
    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyPem(<redacted>)")
    }
}

/// A key of `kind` and a DER CSR for `names` signed with it. The first name is the common name
/// when it fits X.520's 64 bytes (older software still reads the CN).
pub(super) fn new_key_and_csr(
    names: &[String],
    kind: KeyKind,
) -> Result<(Vec<u8>, KeyPem), String> {
    let algorithm = match kind {
        KeyKind::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyKind::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
    };
    let key = KeyPair::generate_for(algorithm).map_err(|e| e.to_string())?;
    let mut params = CertificateParams::new(names.to_vec()).map_err(|e| e.to_string())?;
    let mut dn = DistinguishedName::new();
    if let Some(first) = names.first().filter(|n| n.len() <= 64) {
        dn.push(DnType::CommonName, first.as_str());
    }
    params.distinguished_name = dn;
    let csr = params.serialize_request(&key).map_err(|e| e.to_string())?;
    Ok((csr.der().to_vec(), KeyPem(key.serialize_pem())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csr_and_a_key_that_never_prints() {
        let (der, key) = new_key_and_csr(
            &["a.test".to_owned(), "b.test".to_owned()],
            KeyKind::EcdsaP256,
        )
        .unwrap();
        assert_eq!(der[0], 0x30);
        assert!(key.expose().starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(format!("{key:?}"), "KeyPem(<redacted>)");
    }
}
