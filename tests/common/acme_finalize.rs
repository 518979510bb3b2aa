//! Finalization the way a test drives it: a key and CSR made in one step with the order, and
//! the chain downloaded with them. The library keeps only the parts `certdx issue` calls
//! (`new_key_and_csr`, `finalize_csr`, `poll_certificate`), since the batch writes the key to
//! disk between making it and sending the CSR.

use certdx::engine::acme::{
    AcmeError, AcmeOrder, AuthzInfo, KeyKind, OrderInfo, PrivateKeyPem, new_key_and_csr,
};
use tokio::time::Instant;

/// A certificate issued through [`Finalize::finalize_and_download`].
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    /// The chain in PEM, leaf first.
    pub chain_pem: String,
    /// The certificate's private key.
    pub key: PrivateKeyPem,
    /// The order as it ended.
    pub order: OrderInfo,
}

/// Finalization in one call, for tests.
#[allow(async_fn_in_trait)]
pub trait Finalize {
    /// Finalizes with a new key of `kind` and a CSR for the order's identifiers; returns the
    /// key. The order is usually `processing` afterwards.
    async fn finalize(
        &mut self,
        kind: KeyKind,
        deadline: Instant,
    ) -> Result<PrivateKeyPem, AcmeError>;

    /// Finalizes with a new key of `kind`, waits for issuance and downloads the chain.
    async fn finalize_and_download(
        &mut self,
        kind: KeyKind,
        deadline: Instant,
    ) -> Result<IssuedCertificate, AcmeError>;
}

impl Finalize for AcmeOrder {
    async fn finalize(
        &mut self,
        kind: KeyKind,
        deadline: Instant,
    ) -> Result<PrivateKeyPem, AcmeError> {
        let names = if self.info().identifiers.is_empty() {
            self.authorizations(deadline)
                .await?
                .iter()
                .map(AuthzInfo::ordered_name)
                .collect()
        } else {
            self.info().identifiers.clone()
        };
        let (csr, key) = new_key_and_csr(&names, kind)?;
        self.finalize_csr(&csr, deadline).await?;
        Ok(key)
    }

    async fn finalize_and_download(
        &mut self,
        kind: KeyKind,
        deadline: Instant,
    ) -> Result<IssuedCertificate, AcmeError> {
        let key = self.finalize(kind, deadline).await?;
        let chain_pem = self.poll_certificate(deadline).await?;
        Ok(IssuedCertificate {
            chain_pem,
            key,
            order: self.info().clone(),
        })
    }
}
