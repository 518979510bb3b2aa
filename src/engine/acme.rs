//! The engine's ACME client: a thin, typed layer over instant-acme 0.8.5 (RFC 8555).
//!
//! What it adds to instant-acme, and why:
//!
//! - **Retry-After is kept.** instant-acme turns an error response into its problem document
//!   and drops the headers; every request here goes through certdx's own `HttpClient`, which
//!   records each exchange (status, `Retry-After`, body) for the operation that made it, so an
//!   [`AcmeError`] carries the instant the CA named and polls follow the CA's pace.
//! - **Bounded retries.** badNonce is retried at once; 429 and 503 (the CA did not act on the
//!   request) wait for `Retry-After` when it is short enough, and give the error back with the
//!   instant when it is not; other 5xx and transport failures are retried only for requests that
//!   are safe to repeat. Every wait ends at the caller's deadline ([`RetryPolicy`]).
//! - **Orders in a status RFC 8555 does not have** (Pebble 2.4.0's "deactivated") are read as
//!   what they are ([`OrderStatus::Deactivated`]) instead of failing to parse.
//! - **Typed results** ([`OrderInfo`], [`AuthzInfo`], [`ChallengeInfo`]) that the state store can
//!   persist, and errors that map to certdx's finding codes ([`AcmeError::finding`]).
//!
//! Secrets: the account key lives in [`AcmeClient::credentials`], the EAB HMAC key in [`Eab`]
//! and certificate keys in [`PrivateKeyPem`]; none of them has a `Debug` or `Display` that
//! shows the secret, and no error message quotes one.

mod account;
mod ari;
mod csr;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod http;
mod order;
mod orders_list;
mod retry;
mod types;

pub use account::{AccountOptions, AcmeClient, AcmeConfig, Eab};
pub use ari::{RenewalWindow, certificate_id};
pub use csr::{KeyKind, PrivateKeyPem, new_key_and_csr};
pub use error::{AcmeError, AcmeProblem, AcmeSubproblem, Operation};
pub use order::{AcmeOrder, OrderOptions};
pub use orders_list::OrdersListing;
pub use retry::RetryPolicy;
pub use types::{
    AuthzInfo, AuthzStatus, ChallengeInfo, ChallengeKind, ChallengeStatus, OrderInfo, OrderStatus,
};
