//! Orders: create or resume, read authorizations and challenges, answer, poll, deactivate,
//! finalize (asynchronously, as RFC 8555 allows) and download the chain.

use std::time::Duration;

use instant_acme::{CertificateIdentifier, Identifier, NewOrder, Order, OrderState};
use jiff::Timestamp;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;
use tokio::time::Instant;

use super::account::AcmeClient;
use super::error::{AcmeError, AcmeProblem, Operation, excerpt};
use super::http::Exchange;
use super::retry::{RetryPolicy, next_poll, retrying};
mod authz;

use super::types::{OrderInfo, OrderStatus};

/// An order in progress. Not shared between tasks: one task drives one order (a clone of the
/// [`AcmeClient`] can start or resume others).
pub struct AcmeOrder {
    client: AcmeClient,
    inner: Order,
    info: OrderInfo,
}

/// What a newOrder asks for beyond its names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderOptions {
    /// The CA's certificate profile (draft-ietf-acme-profiles), e.g. `tlsserver`.
    pub profile: Option<String>,
    /// The certificate this order replaces (RFC 9773 `replaces`: its ARI identifier).
    pub replaces: Option<CertificateIdentifier<'static>>,
}

impl AcmeClient {
    /// Creates an order for `names` (DNS names, `*.` wildcards, or IP addresses).
    pub async fn new_order(
        &self,
        names: &[String],
        deadline: Instant,
    ) -> Result<AcmeOrder, AcmeError> {
        self.new_order_with(names, &OrderOptions::default(), deadline)
            .await
    }

    /// [`AcmeClient::new_order`] with a profile and the certificate it replaces.
    pub async fn new_order_with(
        &self,
        names: &[String],
        options: &OrderOptions,
        deadline: Instant,
    ) -> Result<AcmeOrder, AcmeError> {
        if names.is_empty() {
            return Err(AcmeError::Config(
                "an order needs at least one name".to_owned(),
            ));
        }
        let identifiers: Vec<Identifier> = names.iter().map(|n| identifier(n)).collect();
        let account = &self.inner.account;
        let mut replaces = options.replaces.clone();
        loop {
            let mut new_order = NewOrder::new(&identifiers);
            if let Some(profile) = &options.profile {
                new_order = new_order.profile(profile);
            }
            if let Some(replaces) = &replaces {
                new_order = new_order.replaces(replaces.clone());
            }
            let done = retrying!(&self.inner.policy, deadline, Operation::NewOrder, {
                account.new_order(&new_order).await
            });
            match done {
                Ok(done) => return Ok(AcmeOrder::assemble(self.clone(), done.value, done.last)),
                // A CA without renewal information has no use for `replaces` (and instant-acme
                // refuses it before sending anything): the same order without it.
                Err(AcmeError::Unsupported { .. }) if replaces.is_some() => replaces = None,
                Err(e) => return Err(e),
            }
        }
    }

    /// Resumes the order at `url` (created earlier by this account).
    pub async fn order(&self, url: &str, deadline: Instant) -> Result<AcmeOrder, AcmeError> {
        let account = &self.inner.account;
        let done = retrying!(&self.inner.policy, deadline, Operation::FetchOrder, {
            account.order(url.to_owned()).await
        })?;
        Ok(AcmeOrder::assemble(self.clone(), done.value, done.last))
    }
}

impl AcmeOrder {
    fn assemble(client: AcmeClient, mut inner: Order, last: Option<Exchange>) -> AcmeOrder {
        let info = describe_order(&mut inner, last.as_ref(), None);
        AcmeOrder {
            client,
            inner,
            info,
        }
    }

    /// The order URL.
    pub fn url(&self) -> &str {
        &self.info.url
    }

    /// The order as the server last described it.
    pub fn info(&self) -> &OrderInfo {
        &self.info
    }

    /// The client (account) the order belongs to.
    pub fn client(&self) -> &AcmeClient {
        &self.client
    }

    /// Fetches the order again.
    pub async fn refresh(&mut self, deadline: Instant) -> Result<&OrderInfo, AcmeError> {
        let inner = &mut self.inner;
        let done = retrying!(
            &self.client.inner.policy,
            deadline,
            Operation::FetchOrder,
            { inner.refresh().await.map(|_| ()) }
        )?;
        self.info = describe_order(&mut self.inner, done.last.as_ref(), Some(&self.info));
        Ok(&self.info)
    }

    /// Polls the order until it leaves `pending`: ready (or already further) is `Ok`, invalid
    /// or deactivated is [`AcmeError::OrderFailed`].
    pub async fn poll_ready(&mut self, deadline: Instant) -> Result<&OrderInfo, AcmeError> {
        let policy = self.client.inner.policy.clone();
        let mut backoff = policy.poll_initial;
        loop {
            self.refresh(deadline).await?;
            match &self.info.status {
                OrderStatus::Pending => {}
                OrderStatus::Ready | OrderStatus::Processing | OrderStatus::Valid => {
                    return Ok(&self.info);
                }
                _ => return Err(self.failed()),
            }
            let retry_after = self.info.retry_after;
            wait_for_next_poll(
                retry_after,
                &mut backoff,
                &policy,
                deadline,
                Operation::FetchOrder,
                format!("waiting for order {} to become ready", self.info.url),
            )
            .await?;
        }
    }

    /// Finalizes with a DER CSR the caller made.
    pub async fn finalize_csr(
        &mut self,
        csr_der: &[u8],
        deadline: Instant,
    ) -> Result<(), AcmeError> {
        if self.info.status != OrderStatus::Ready {
            self.refresh(deadline).await?;
        }
        match &self.info.status {
            OrderStatus::Ready => {}
            OrderStatus::Pending => {
                return Err(AcmeError::Protocol {
                    operation: Operation::Finalize,
                    url: self.info.url.clone(),
                    detail: "the order is still pending: validate its authorizations first"
                        .to_owned(),
                });
            }
            // Already finalized (a retry after a lost response, or a resumed run).
            OrderStatus::Processing | OrderStatus::Valid => return Ok(()),
            _ => return Err(self.failed()),
        }
        let inner = &mut self.inner;
        let done = retrying!(&self.client.inner.policy, deadline, Operation::Finalize, {
            inner.finalize_csr(csr_der).await
        })?;
        self.info = describe_order(&mut self.inner, done.last.as_ref(), Some(&self.info));
        if matches!(
            self.info.status,
            OrderStatus::Processing | OrderStatus::Valid
        ) {
            Ok(())
        } else {
            Err(self.failed())
        }
    }

    /// Waits (honouring `Retry-After`, else backing off; never a fixed short timeout) while the
    /// order is `processing`, then downloads the chain (PEM, leaf first). Gives up at the
    /// deadline with [`AcmeError::Deadline`] carrying the server's next instant.
    pub async fn poll_certificate(&mut self, deadline: Instant) -> Result<String, AcmeError> {
        let policy = self.client.inner.policy.clone();
        let mut backoff = policy.poll_initial;
        loop {
            match &self.info.status {
                OrderStatus::Valid => break,
                OrderStatus::Processing => {}
                OrderStatus::Pending | OrderStatus::Ready => {
                    return Err(AcmeError::Protocol {
                        operation: Operation::DownloadCertificate,
                        url: self.info.url.clone(),
                        detail: format!("the order is {}: finalize it first", self.info.status),
                    });
                }
                _ => return Err(self.failed()),
            }
            let retry_after = self.info.retry_after;
            wait_for_next_poll(
                retry_after,
                &mut backoff,
                &policy,
                deadline,
                Operation::FetchOrder,
                format!("waiting for order {} to leave processing", self.info.url),
            )
            .await?;
            self.refresh(deadline).await?;
        }
        let inner = &mut self.inner;
        let done = retrying!(&policy, deadline, Operation::DownloadCertificate, {
            inner.certificate().await
        })?;
        let url = self.info.certificate.clone().unwrap_or_default();
        let chain = done.value.ok_or_else(|| AcmeError::Protocol {
            operation: Operation::DownloadCertificate,
            url: url.clone(),
            detail: "the order is valid but no certificate came".to_owned(),
        })?;
        let certificates = CertificateDer::pem_slice_iter(chain.as_bytes())
            .take_while(Result::is_ok)
            .count();
        if certificates == 0 {
            return Err(AcmeError::Protocol {
                operation: Operation::DownloadCertificate,
                url,
                detail: format!("not a PEM certificate chain: {}", excerpt(chain.as_bytes())),
            });
        }
        Ok(chain)
    }

    async fn ensure_authorizations(&mut self, deadline: Instant) -> Result<(), AcmeError> {
        // Fetches only the authorizations not fetched yet.
        self.authorizations(deadline).await.map(|_| ())
    }

    fn failed(&self) -> AcmeError {
        AcmeError::OrderFailed {
            url: self.info.url.clone(),
            status: self.info.status.clone(),
            problem: self.info.error.clone().map(Box::new),
        }
    }

    /// instant-acme's "not in this order" becomes a configuration error naming the URL.
    fn not_in_order(&self, err: AcmeError, url: &str) -> AcmeError {
        match err {
            AcmeError::Protocol { detail, .. } if detail.contains("not in this order") => {
                AcmeError::Config(format!("{url} is not part of order {}", self.info.url))
            }
            other => other,
        }
    }
}

/// Sleeps until the next poll (the server's Retry-After, else `backoff`, which grows), or
/// returns the deadline error when that would end after `deadline`.
async fn wait_for_next_poll(
    retry_after: Option<Timestamp>,
    backoff: &mut Duration,
    policy: &RetryPolicy,
    deadline: Instant,
    operation: Operation,
    waiting_for: String,
) -> Result<(), AcmeError> {
    let wait = next_poll(retry_after, backoff, policy);
    if Instant::now() + wait > deadline {
        return Err(AcmeError::Deadline {
            operation,
            waiting_for,
            retry_after,
        });
    }
    tokio::time::sleep(wait).await;
    Ok(())
}

/// The ACME identifier for a name: an IP address, or a DNS name (lowercase, no root dot).
fn identifier(name: &str) -> Identifier {
    let name = name.trim().trim_end_matches('.');
    match name
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    {
        Ok(ip) => Identifier::Ip(ip),
        Err(_) => Identifier::Dns(name.to_ascii_lowercase()),
    }
}

/// The order members certdx reads from the body as the server sent it (instant-acme parses
/// fewer, and not a status it does not know).
#[derive(Deserialize)]
struct RawOrder {
    status: String,
    #[serde(default)]
    identifiers: Vec<RawIdentifier>,
    #[serde(default)]
    authorizations: Vec<String>,
    #[serde(default)]
    finalize: String,
    certificate: Option<String>,
    expires: Option<String>,
    error: Option<instant_acme::Problem>,
}

#[derive(Deserialize)]
struct RawIdentifier {
    value: String,
}

/// The order as described by the response that carried it (`last`), else by instant-acme's
/// parsed state; identifiers missing from both are kept from `previous`.
fn describe_order(
    order: &mut Order,
    last: Option<&Exchange>,
    previous: Option<&OrderInfo>,
) -> OrderInfo {
    let url = order.url().to_owned();
    let retry_after = last.and_then(|x| x.retry_after);
    let raw = last
        .filter(|x| (200..300).contains(&x.status))
        .and_then(|x| order_from_body(&url, &x.body, retry_after));
    let mut info = match raw {
        Some(info) => info,
        None => from_state(url, order.state(), retry_after),
    };
    if info.identifiers.is_empty()
        && let Some(previous) = previous
    {
        info.identifiers = previous.identifiers.clone();
    }
    info
}

/// The order a response body describes, read as certdx reads it (every status kept), or
/// `None` when the body is not an order object.
pub(crate) fn order_from_body(
    url: &str,
    body: &[u8],
    retry_after: Option<Timestamp>,
) -> Option<OrderInfo> {
    let raw = serde_json::from_slice::<RawOrder>(body).ok()?;
    Some(OrderInfo {
        url: url.to_owned(),
        status: OrderStatus::from(raw.status),
        identifiers: raw.identifiers.into_iter().map(|i| i.value).collect(),
        authorizations: raw.authorizations,
        finalize: raw.finalize,
        certificate: raw.certificate,
        expires: raw.expires.and_then(|e| e.parse().ok()),
        error: raw.error.map(|p| AcmeProblem::from_instant(&p, None)),
        retry_after,
    })
}

fn from_state(url: String, state: &OrderState, retry_after: Option<Timestamp>) -> OrderInfo {
    let status = match state.status {
        instant_acme::OrderStatus::Pending => OrderStatus::Pending,
        instant_acme::OrderStatus::Ready => OrderStatus::Ready,
        instant_acme::OrderStatus::Processing => OrderStatus::Processing,
        instant_acme::OrderStatus::Valid => OrderStatus::Valid,
        instant_acme::OrderStatus::Invalid => OrderStatus::Invalid,
    };
    OrderInfo {
        url,
        status,
        identifiers: Vec::new(),
        authorizations: state.authorizations.iter().map(|a| a.url.clone()).collect(),
        finalize: state.finalize.clone(),
        certificate: state.certificate.clone(),
        expires: None,
        error: state
            .error
            .as_ref()
            .map(|p| AcmeProblem::from_instant(p, None)),
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine drives orders from spawned tasks: every operation's future must be Send.
    #[allow(dead_code, clippy::let_underscore_future)]
    fn operations_are_send(client: AcmeClient, mut order: AcmeOrder, d: Instant) {
        fn send<T: Send>(_: T) {}
        send(client.new_order(&[], d));
        send(client.order("", d));
        send(order.refresh(d));
        send(order.authorizations(d));
        send(order.refresh_authorization("", d));
        send(order.set_challenge_ready("", d));
        send(order.poll_authorization("", d));
        send(order.deactivate_authorization("", d));
        send(order.poll_ready(d));
        send(order.finalize_csr(&[], d));
        send(order.poll_certificate(d));
        let config = super::super::account::AcmeConfig::new("");
        send(AcmeClient::create_account(&config, &Default::default(), d));
        send(AcmeClient::from_credentials(
            &config,
            &serde_json::Value::Null,
            d,
        ));
    }

    #[test]
    fn identifiers_for_names_and_addresses() {
        assert_eq!(
            identifier("WWW.Example.COM."),
            Identifier::Dns("www.example.com".into())
        );
        assert_eq!(
            identifier("*.example.com"),
            Identifier::Dns("*.example.com".into())
        );
        assert_eq!(
            identifier("192.0.2.1"),
            Identifier::Ip("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            identifier("[2001:db8::1]"),
            Identifier::Ip("2001:db8::1".parse().unwrap())
        );
    }
}
