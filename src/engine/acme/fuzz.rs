//! A narrow entry for the fuzz targets (`tests/benches/fuzz.rs`, `tests/fuzz_smoke.rs`): what
//! the engine does with one response body, without a network in between. Not for other
//! callers: the engine itself reaches the same functions through its client.

use jiff::Timestamp;

use super::error::{AcmeError, AcmeProblem, Operation};
use super::http::{Exchange, parse_retry_after};
use super::order::order_from_body;
use super::types::{AuthzInfo, OrderInfo};

/// What one response was read as, for the targets to look at.
#[derive(Debug, Default)]
pub struct ResponseReading {
    /// The order the body describes, when it is one.
    pub order: Option<OrderInfo>,
    /// The error the engine would raise for the response, in words.
    pub error: Option<String>,
    /// How many findings that error maps to.
    pub findings: usize,
}

/// Reads `body` as the answer to `operation` with HTTP `status` and a `Retry-After` header
/// value, as the engine does: the order it describes, the problem document it carries, the
/// error and findings the engine would report. Also reads it as a stored order and
/// authorization (the state store keeps both as JSON).
#[doc(hidden)]
pub fn read_response(
    operation: u8,
    status: u16,
    retry_after: &str,
    body: &[u8],
) -> ResponseReading {
    const OPERATIONS: [Operation; 10] = [
        Operation::NewAccount,
        Operation::LoadAccount,
        Operation::NewOrder,
        Operation::FetchOrder,
        Operation::FetchAuthorizations,
        Operation::ChallengeReady,
        Operation::DeactivateAuthorization,
        Operation::Finalize,
        Operation::DownloadCertificate,
        Operation::RenewalInfo,
    ];
    let operation = OPERATIONS[usize::from(operation) % OPERATIONS.len()];
    let url = "https://ca.test/acme/order/1";
    let exchange = Exchange {
        url: url.to_owned(),
        status,
        retry_after: parse_retry_after(retry_after, Timestamp::UNIX_EPOCH),
        body: body.to_vec(),
        links: Vec::new(),
    };
    let mut reading = ResponseReading {
        order: order_from_body(url, body, exchange.retry_after),
        ..ResponseReading::default()
    };
    // instant-acme reads an error response as a problem document; anything else it refuses.
    let err = match serde_json::from_slice::<instant_acme::Problem>(body) {
        Ok(problem) if status >= 400 => instant_acme::Error::Api(problem),
        _ => instant_acme::Error::Str("the response is not what was expected"),
    };
    let err = AcmeError::from_attempt(operation, err, Some(&exchange));
    let _ = (err.retry_after(), err.is_rate_limited(), err.is_bad_nonce());
    reading.findings = err.findings().len();
    reading.error = Some(err.to_string());
    if let Ok(problem) = serde_json::from_slice::<AcmeProblem>(body) {
        let _ = (
            problem.to_text(),
            problem.short_kind(),
            problem.is("rateLimited"),
        );
    }
    if let Ok(order) = serde_json::from_slice::<OrderInfo>(body) {
        let _ = (order.status.is_final(), serde_json::to_vec(&order));
    }
    if let Ok(authz) = serde_json::from_slice::<AuthzInfo>(body) {
        let _ = (
            authz.ordered_name(),
            authz.problem().map(AcmeProblem::to_text),
        );
        for c in &authz.challenges {
            let _ = (
                c.http01_path(),
                super::ChallengeInfo::dns01_name(&authz.identifier),
            );
        }
    }
    reading
}
