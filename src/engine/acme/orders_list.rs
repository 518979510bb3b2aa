//! What the CA lets an account see of its own orders: the account object's `orders` URL and
//! the list behind it (RFC 8555 section 7.1.2.1), paged with `Link: <...>;rel="next"`.
//!
//! Why: a run killed after it sent newOrder and before it recorded the answer leaves an order
//! at the CA that the state store never saw. Where the CA publishes the list, the next run
//! finds that order in it and continues it (or deactivates its authorizations) instead of
//! creating a second one.
//!
//! Who has it: Pebble does (its account object carries `orders`, `/list-orderz/<id>`, three
//! orders a page by default, invalid orders left out: `wfe/wfe.go`, `ListOrders`). Boulder, so
//! Let's Encrypt, does not: `docs/acme-divergences.md` says "Boulder does not supply the
//! `orders` field on account objects" (boulder issue 3335); its account object
//! (`core.Registration`) has no such member.
//!
//! How: instant-acme 0.8.5 has no call for either resource, and no raw signed request. Its
//! `Account::order(url)` is a POST-as-GET to any URL; the body then fails to parse as an order,
//! but every exchange passes through certdx's own transport, which keeps the body and the
//! `Link` headers as received ([`super::http::Capture`]). So the response is read from the
//! capture, and instant-acme's parse error is ignored whenever the response was a success.

use reqwest::Url;
use serde::Deserialize;
use tokio::time::Instant;

use super::account::AcmeClient;
use super::error::{AcmeError, Operation, excerpt};
use super::http::{Capture, Exchange};
use super::retry::Retrier;

/// The order URLs the CA listed for the account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrdersListing {
    /// Order URLs, in the CA's order, every one on the directory's origin.
    pub orders: Vec<String>,
    /// Pages read.
    pub pages: usize,
    /// False when the list goes on past the page bound (or named a next page on another
    /// origin): an order missing from `orders` may still exist.
    pub complete: bool,
}

#[derive(Deserialize)]
struct AccountObject {
    orders: Option<String>,
}

#[derive(Deserialize)]
struct OrdersPage {
    #[serde(default)]
    orders: Vec<String>,
}

impl AcmeClient {
    /// The account's `orders` URL (RFC 8555 section 7.1.2.1), read with a POST-as-GET of the
    /// account; `None` when the CA does not publish one (Let's Encrypt) or names one on another
    /// origin than the directory's.
    pub async fn orders_url(&self, deadline: Instant) -> Result<Option<String>, AcmeError> {
        let account_url = self.account_url().to_owned();
        let exchange = self
            .post_as_get(&account_url, Operation::LoadAccount, deadline)
            .await?;
        let account: AccountObject =
            serde_json::from_slice(&exchange.body).map_err(|e| AcmeError::Protocol {
                operation: Operation::LoadAccount,
                url: account_url.clone(),
                detail: format!("not an account object ({e}): {}", excerpt(&exchange.body)),
            })?;
        Ok(account
            .orders
            .and_then(|orders| self.same_origin(&account_url, &orders)))
    }

    /// Reads the orders list at `orders_url`, following `rel="next"` for at most `max_pages`
    /// pages. URLs on another origin than the directory's are left out: the client would sign
    /// requests for them.
    pub async fn list_orders(
        &self,
        orders_url: &str,
        max_pages: usize,
        deadline: Instant,
    ) -> Result<OrdersListing, AcmeError> {
        let mut listing = OrdersListing::default();
        let mut next = Some(orders_url.to_owned());
        while let Some(url) = next.take() {
            if listing.pages >= max_pages {
                return Ok(listing);
            }
            let exchange = self
                .post_as_get(&url, Operation::FetchOrder, deadline)
                .await?;
            listing.pages += 1;
            let page: OrdersPage =
                serde_json::from_slice(&exchange.body).map_err(|e| AcmeError::Protocol {
                    operation: Operation::FetchOrder,
                    url: url.clone(),
                    detail: format!("not an orders list ({e}): {}", excerpt(&exchange.body)),
                })?;
            for order in page.orders {
                if let Some(order) = self.same_origin(&url, &order)
                    && !listing.orders.contains(&order)
                {
                    listing.orders.push(order);
                }
            }
            if let Some(link) = next_link(&exchange.links) {
                match self.same_origin(&url, &link) {
                    // A page pointing at itself would loop until the page bound.
                    Some(link) if link != url => next = Some(link),
                    Some(_) => {}
                    None => return Ok(listing),
                }
            }
        }
        listing.complete = true;
        Ok(listing)
    }

    /// One POST-as-GET to `url` through instant-acme's only call that makes one (see the
    /// module documentation), retried like any read; the successful response as received.
    async fn post_as_get(
        &self,
        url: &str,
        operation: Operation,
        deadline: Instant,
    ) -> Result<Exchange, AcmeError> {
        let account = &self.inner.account;
        let mut retrier = Retrier::new(&self.inner.policy, deadline, operation);
        loop {
            let capture = Capture::default();
            let outcome =
                tokio::time::timeout_at(deadline, capture.scope(account.order(url.to_owned())))
                    .await;
            let last = capture.last();
            let err = match (outcome, last) {
                (Err(_elapsed), _) => {
                    return Err(AcmeError::Deadline {
                        operation,
                        waiting_for: format!("waiting for {url}"),
                        retry_after: None,
                    });
                }
                (Ok(_), Some(x)) if (200..300).contains(&x.status) => return Ok(x),
                (Ok(Err(e)), last) => AcmeError::from_attempt(operation, e, last.as_ref()),
                (Ok(Ok(_)), _) => AcmeError::Protocol {
                    operation,
                    url: url.to_owned(),
                    detail: "no response was recorded".to_owned(),
                },
            };
            retrier.after_failure(err).await?;
        }
    }

    /// `reference` resolved against `base`, when it lands on the directory's scheme, host and
    /// port.
    fn same_origin(&self, base: &str, reference: &str) -> Option<String> {
        let directory = Url::parse(self.directory_url()).ok()?;
        let resolved = Url::parse(base).ok()?.join(reference.trim()).ok()?;
        (resolved.origin() == directory.origin()).then(|| resolved.to_string())
    }
}

/// The target of the first `rel="next"` link among `Link` header values (RFC 8288), as
/// written (relative references are resolved by the caller).
pub(crate) fn next_link(values: &[String]) -> Option<String> {
    values.iter().flat_map(|v| split_links(v)).find_map(|link| {
        let (target, params) = link.trim().strip_prefix('<')?.split_once('>')?;
        let is_next = params.split(';').any(|p| {
            let Some((name, value)) = p.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        is_next.then(|| target.trim().to_owned())
    })
}

/// One header value's links: split at the commas outside `<...>` and quotes.
fn split_links(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut in_target, mut in_quotes, mut start) = (false, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '<' if !in_quotes => in_target = true,
            '>' if !in_quotes => in_target = false,
            '"' if !in_target => in_quotes = !in_quotes,
            ',' if !in_target && !in_quotes => {
                out.push(&value[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn next_link_among_others_and_in_any_form() {
        assert_eq!(
            next_link(&links(&[
                r#"<https://ca.test/dir>;rel="index""#,
                r#"<https://ca.test/list-orderz/1/page/2>;rel="next""#,
            ])),
            Some("https://ca.test/list-orderz/1/page/2".to_owned())
        );
        assert_eq!(
            next_link(&links(&[
                r#"<https://ca.test/a,b>; rel="index", </orders?cursor=2> ; REL=next"#
            ])),
            Some("/orders?cursor=2".to_owned())
        );
        assert_eq!(
            next_link(&links(&[r#"<https://ca.test/p>; rel="prev next""#])),
            Some("https://ca.test/p".to_owned())
        );
        assert_eq!(
            next_link(&links(&[r#"<https://ca.test/dir>;rel="index""#])),
            None
        );
        assert_eq!(next_link(&links(&["garbage", "<unterminated"])), None);
        assert_eq!(next_link(&[]), None);
    }

    #[test]
    fn bodies_parse_with_and_without_the_members() {
        let account: AccountObject =
            serde_json::from_str(r#"{"status":"valid","orders":"https://ca.test/o/1"}"#).unwrap();
        assert_eq!(account.orders.as_deref(), Some("https://ca.test/o/1"));
        // Boulder's account object: no `orders`.
        let account: AccountObject =
            serde_json::from_str(r#"{"key":{},"status":"valid","createdAt":"x"}"#).unwrap();
        assert_eq!(account.orders, None);
        let page: OrdersPage = serde_json::from_str(r#"{"orders":["a","b"]}"#).unwrap();
        assert_eq!(page.orders, ["a", "b"]);
        let page: OrdersPage = serde_json::from_str("{}").unwrap();
        assert!(page.orders.is_empty());
    }
}
