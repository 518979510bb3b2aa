//! The ACME account: created (with an optional contact and External Account Binding) or
//! restored from stored credentials, and the client every order goes through.

use std::fmt;
use std::sync::Arc;

use instant_acme::{Account, AccountCredentials, ExternalAccountKey, NewAccount};
use tokio::time::Instant;

use super::error::{AcmeError, Operation};
use super::http::AcmeHttp;
use super::retry::{RetryPolicy, retrying};

/// Where the CA is and how to talk to it.
#[derive(Clone, PartialEq, Eq)]
pub struct AcmeConfig {
    /// The directory URL (`https://...`).
    pub directory_url: String,
    /// A PEM root (or bundle) that replaces the platform's trust store: a test CA's (Pebble's
    /// `--ca-cert`).
    pub ca_cert_pem: Option<String>,
    /// Retry and polling bounds.
    pub policy: RetryPolicy,
}

impl AcmeConfig {
    /// A configuration for `directory_url` with the platform's roots and the default policy.
    pub fn new(directory_url: impl Into<String>) -> AcmeConfig {
        AcmeConfig {
            directory_url: directory_url.into(),
            ca_cert_pem: None,
            policy: RetryPolicy::default(),
        }
    }

    /// Trusts only `pem` (one root or a bundle) for the CA's HTTPS.
    pub fn with_ca_cert_pem(mut self, pem: impl Into<String>) -> AcmeConfig {
        self.ca_cert_pem = Some(pem.into());
        self
    }

    /// Replaces the retry and polling bounds.
    pub fn with_policy(mut self, policy: RetryPolicy) -> AcmeConfig {
        self.policy = policy;
        self
    }

    fn http(&self) -> Result<AcmeHttp, AcmeError> {
        AcmeHttp::new(
            &self.directory_url,
            self.ca_cert_pem.as_deref(),
            self.policy.request_timeout,
        )
        .map_err(AcmeError::Config)
    }
}

impl fmt::Debug for AcmeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcmeConfig")
            .field("directory_url", &self.directory_url)
            .field("ca_cert_pem", &self.ca_cert_pem.as_ref().map(|_| "<pem>"))
            .field("policy", &self.policy)
            .finish()
    }
}

/// External Account Binding (RFC 8555 section 7.3.4): the key id and HMAC key a CA such as
/// ZeroSSL or Google hands out. The HMAC key is never shown by `Debug` or in any error.
#[derive(Clone)]
pub struct Eab {
    kid: String,
    hmac_key: Vec<u8>,
}

impl Eab {
    /// Binds to `kid` with `hmac_key`, base64url as CAs print it (padding and the standard
    /// alphabet are accepted too).
    pub fn new(kid: impl Into<String>, hmac_key: &str) -> Result<Eab, AcmeError> {
        let kid = kid.into();
        if kid.trim().is_empty() {
            return Err(AcmeError::Config("the EAB key id is empty".to_owned()));
        }
        let hmac_key = decode_base64(hmac_key).ok_or_else(|| {
            AcmeError::Config(format!(
                "the EAB HMAC key for key id {kid} is not base64url (the key is not shown)"
            ))
        })?;
        if hmac_key.is_empty() {
            return Err(AcmeError::Config(format!(
                "the EAB HMAC key for key id {kid} is empty"
            )));
        }
        Ok(Eab { kid, hmac_key })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

impl fmt::Debug for Eab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Eab")
            .field("kid", &self.kid)
            .field("hmac_key", &"<redacted>")
            .finish()
    }
}

/// What a new account is registered with.
#[derive(Debug, Clone, Default)]
pub struct AccountOptions {
    /// The contact address (sent as `mailto:`), for the CA's expiry and policy mail.
    pub contact_email: Option<String>,
    /// External Account Binding, for CAs that require it.
    pub eab: Option<Eab>,
}

/// An ACME account and the HTTP client it uses: what every order goes through. Cheap to clone;
/// clones share the account.
#[derive(Clone)]
pub struct AcmeClient {
    pub(crate) inner: Arc<ClientInner>,
}

pub(crate) struct ClientInner {
    pub(crate) account: Account,
    pub(crate) policy: RetryPolicy,
    credentials: serde_json::Value,
    directory_url: String,
}

impl AcmeClient {
    /// Registers a new account (agreeing to the CA's terms of service).
    pub async fn create_account(
        config: &AcmeConfig,
        options: &AccountOptions,
        deadline: Instant,
    ) -> Result<AcmeClient, AcmeError> {
        let http = config.http()?;
        let contact = match &options.contact_email {
            Some(email) => vec![mailto(email)?],
            None => Vec::new(),
        };
        let contact_refs: Vec<&str> = contact.iter().map(String::as_str).collect();
        let new_account = NewAccount {
            contact: &contact_refs,
            terms_of_service_agreed: true,
            only_return_existing: false,
        };
        let eab = options
            .eab
            .as_ref()
            .map(|e| ExternalAccountKey::new(e.kid.clone(), &e.hmac_key));
        let done = retrying!(&config.policy, deadline, Operation::NewAccount, {
            Account::builder_with_http(Box::new(http.clone()))
                .create(&new_account, config.directory_url.clone(), eab.as_ref())
                .await
        })?;
        let (account, credentials) = done.value;
        let credentials = serde_json::to_value(&credentials).map_err(|e| AcmeError::Protocol {
            operation: Operation::NewAccount,
            url: config.directory_url.clone(),
            detail: format!("serialising the account credentials: {e}"),
        })?;
        Ok(AcmeClient::assemble(account, credentials, config))
    }

    /// Restores the account of `credentials` (from [`AcmeClient::credentials`]). Fetches the
    /// directory; the account itself is not re-checked until the first order.
    pub async fn from_credentials(
        config: &AcmeConfig,
        credentials: &serde_json::Value,
        deadline: Instant,
    ) -> Result<AcmeClient, AcmeError> {
        let http = config.http()?;
        if let Some(stored) = credentials.get("directory").and_then(|d| d.as_str())
            && stored != config.directory_url
        {
            return Err(AcmeError::Config(format!(
                "the stored account belongs to {stored}, not to {}",
                config.directory_url
            )));
        }
        // Parsed before any request so a broken blob is a configuration error; the serde
        // message is left out because it may quote the blob, and the blob holds the key.
        let parse = || {
            serde_json::from_value::<AccountCredentials>(credentials.clone()).map_err(|_| {
                AcmeError::Config(
                    "the stored account credentials are not instant-acme credentials".to_owned(),
                )
            })
        };
        let _checked = parse()?;
        let done = retrying!(&config.policy, deadline, Operation::LoadAccount, {
            let creds = parse().map_err(|_| instant_acme::Error::Str("credentials"))?;
            Account::builder_with_http(Box::new(http.clone()))
                .from_credentials(creds)
                .await
        })?;
        Ok(AcmeClient::assemble(
            done.value,
            credentials.clone(),
            config,
        ))
    }

    fn assemble(account: Account, credentials: serde_json::Value, config: &AcmeConfig) -> Self {
        AcmeClient {
            inner: Arc::new(ClientInner {
                account,
                policy: config.policy.clone(),
                credentials,
                directory_url: config.directory_url.clone(),
            }),
        }
    }

    /// The account's credentials, to store and pass to [`AcmeClient::from_credentials`] later.
    /// They hold the account's private key: keep them like one (mode 0600, never logged).
    pub fn credentials(&self) -> serde_json::Value {
        self.inner.credentials.clone()
    }

    /// The account URL (the `kid` of every request).
    pub fn account_url(&self) -> &str {
        self.inner.account.id()
    }

    /// The account key's RFC 7638 thumbprint: the part after the dot in key authorizations.
    pub fn key_thumbprint(&self) -> &str {
        self.inner.account.key_thumbprint()
    }

    /// The certificate profiles the CA's directory advertises (`meta.profiles`, name and
    /// description), sorted by name; empty when the CA offers none.
    pub fn profiles(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .inner
            .account
            .profiles()
            .map(|p| (p.name.to_owned(), p.description.to_owned()))
            .collect();
        out.sort();
        out
    }

    /// The directory URL.
    pub fn directory_url(&self) -> &str {
        &self.inner.directory_url
    }

    /// The retry and polling bounds.
    pub fn policy(&self) -> &RetryPolicy {
        &self.inner.policy
    }
}

impl fmt::Debug for AcmeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcmeClient")
            .field("account_url", &self.account_url())
            .field("directory_url", &self.directory_url())
            .finish()
    }
}

/// `mailto:` + a plausible address: one `@`, no spaces or commas (a comma would make two
/// contacts), no scheme already.
fn mailto(email: &str) -> Result<String, AcmeError> {
    let email = email.trim();
    let email = email.strip_prefix("mailto:").unwrap_or(email);
    let plausible = email.matches('@').count() == 1
        && !email.starts_with('@')
        && !email.ends_with('@')
        && !email.contains(|c: char| c.is_whitespace() || c == ',' || c == '<' || c == '>');
    if !plausible {
        return Err(AcmeError::Config(format!(
            "{email:?} is not an email address"
        )));
    }
    Ok(format!("mailto:{email}"))
}

/// Decodes base64url or standard base64, with or without padding.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.trim().trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Six leftover bits cannot come from any byte string.
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_both_alphabets() {
        assert_eq!(decode_base64("aGVsbG8"), Some(b"hello".to_vec()));
        assert_eq!(decode_base64("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(decode_base64("_-8"), Some(vec![0xff, 0xef]));
        assert_eq!(decode_base64("/+8"), Some(vec![0xff, 0xef]));
        assert_eq!(decode_base64("a"), None);
        assert_eq!(decode_base64("a b"), None);
    }

    #[test]
    fn eab_never_shows_its_key() {
        let key = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
        let eab = Eab::new("kid-1", key).unwrap();
        assert_eq!(eab.kid(), "kid-1");
        assert!(!format!("{eab:?}").contains(key));
        let err = Eab::new("kid-1", "not base64!").unwrap_err();
        assert!(!err.to_string().contains("not base64!"));
        assert!(Eab::new(" ", key).is_err());
    }

    #[test]
    fn contact_addresses() {
        assert_eq!(mailto("ops@example.com").unwrap(), "mailto:ops@example.com");
        assert_eq!(
            mailto("mailto:ops@example.com").unwrap(),
            "mailto:ops@example.com"
        );
        assert!(mailto("ops@a.com,evil@b.com").is_err());
        assert!(mailto("nobody").is_err());
    }
}
