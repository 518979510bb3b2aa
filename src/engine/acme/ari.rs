//! ACME Renewal Information (RFC 9773): the CA's suggested window for renewing a certificate.
//! A CA that has to revoke early (a mis-issuance, a key compromise) moves the window forward,
//! and a client that asks renews in time without anyone reading a mailing list.

use std::time::Duration;

use instant_acme::CertificateIdentifier;
use jiff::Timestamp;
use rustls::pki_types::Der;
use tokio::time::Instant;
use x509_parser::extensions::ParsedExtension;

use super::account::AcmeClient;
use super::error::{AcmeError, Operation};

/// The window a CA suggests for renewing one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalWindow {
    /// Renew no earlier than this.
    pub start: Timestamp,
    /// Renew before this.
    pub end: Timestamp,
    /// The CA's page explaining the window, when it moved it for a reason (an incident).
    pub explanation_url: Option<String>,
    /// When the CA wants to be asked again (its `Retry-After`).
    pub ask_again_in: Duration,
}

impl RenewalWindow {
    /// The instant this certificate renews at: a point inside the window fixed by the
    /// certificate identifier. RFC 9773 asks for a uniformly random point so that a fleet does
    /// not renew at once; deriving it from the identifier spreads certificates the same way and
    /// keeps every run of certdx agreeing on the same point.
    pub fn renew_at(&self, id: &CertificateIdentifier<'_>) -> Timestamp {
        let span = self
            .end
            .as_second()
            .saturating_sub(self.start.as_second())
            .max(0);
        if span == 0 {
            return self.start;
        }
        // FNV-1a: a stable, dependency-free spread; not a security boundary.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in id.serial.bytes().chain(id.authority_key_identifier.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        let offset = i64::try_from(hash % u64::try_from(span).unwrap_or(1)).unwrap_or(0);
        Timestamp::from_second(self.start.as_second() + offset).unwrap_or(self.start)
    }
}

/// The RFC 9773 identifier of the leaf in `pem`: its Authority Key Identifier's keyIdentifier
/// and its serial number (both the DER value bytes, base64url). A certificate without an AKI
/// has no identifier (every public CA sets one).
pub fn certificate_id(pem: &[u8]) -> Result<CertificateIdentifier<'static>, String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem).map_err(|e| e.to_string())?;
    let cert = block.parse_x509().map_err(|e| e.to_string())?;
    let aki = cert
        .extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => aki.key_identifier.as_ref(),
            _ => None,
        })
        .ok_or("the certificate has no Authority Key Identifier")?;
    let id = CertificateIdentifier::new(Der::from(aki.0), Der::from(cert.raw_serial()));
    Ok(id.into_owned())
}

impl AcmeClient {
    /// The CA's suggested renewal window for the certificate `id`; `None` when the CA does not
    /// offer ARI. One request, no retries: a caller falls back to its own window on error.
    pub async fn renewal_window(
        &self,
        id: &CertificateIdentifier<'_>,
        deadline: Instant,
    ) -> Result<Option<RenewalWindow>, AcmeError> {
        let account = &self.inner.account;
        let asked = tokio::time::timeout_at(deadline, account.renewal_info(id)).await;
        let (info, ask_again_in) = match asked {
            Ok(Ok(pair)) => pair,
            Ok(Err(instant_acme::Error::Unsupported(_))) => return Ok(None),
            Ok(Err(e)) => return Err(AcmeError::from_attempt(Operation::RenewalInfo, e, None)),
            Err(_) => {
                return Err(AcmeError::Deadline {
                    operation: Operation::RenewalInfo,
                    waiting_for: "waiting for the renewal information".to_owned(),
                    retry_after: None,
                });
            }
        };
        let at = |seconds: i64| {
            Timestamp::from_second(seconds).map_err(|e| {
                AcmeError::Config(format!("the CA's renewal window is out of range: {e}"))
            })
        };
        let window = &info.suggested_window;
        Ok(Some(RenewalWindow {
            start: at(window.start.unix_timestamp())?,
            end: at(window.end.unix_timestamp())?,
            explanation_url: info.explanation_url,
            ask_again_in,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_renewal_point_is_inside_the_window_and_stable() {
        let window = RenewalWindow {
            start: "2030-01-01T00:00:00Z".parse().unwrap(),
            end: "2030-01-03T00:00:00Z".parse().unwrap(),
            explanation_url: None,
            ask_again_in: Duration::from_secs(3600),
        };
        let a = CertificateIdentifier::new(Der::from(&[1u8, 2, 3][..]), Der::from(&[9u8][..]));
        let b = CertificateIdentifier::new(Der::from(&[1u8, 2, 3][..]), Der::from(&[10u8][..]));
        let (at_a, at_b) = (window.renew_at(&a), window.renew_at(&b));
        for at in [at_a, at_b] {
            assert!(window.start <= at && at < window.end, "{at}");
        }
        assert_eq!(window.renew_at(&a), at_a, "the same point every run");
        assert_ne!(at_a, at_b, "different certificates spread out");
    }

    #[test]
    fn the_identifier_is_the_aki_and_the_serial() {
        // RFC 9773 section 4.1's example: AKI 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:
        // DE:01:C8:D4 and serial 00:87:65:43:21 give "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".
        let id = CertificateIdentifier::new(
            Der::from(
                &[
                    0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B,
                    0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4,
                ][..],
            ),
            Der::from(&[0x00, 0x87, 0x65, 0x43, 0x21][..]),
        );
        assert_eq!(id.to_string(), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
        assert!(certificate_id(b"not a certificate").is_err());
    }
}
