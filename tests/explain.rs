//! `certdx explain`: real-world-shaped error texts and the findings they must yield.
//!
//! The texts are shaped after Boulder's sources (`ratelimits/limiter.go`, `ra/ra.go`,
//! `errors/errors.go`, `wfe2/wfe.go`, the VA) and messages quoted in cert-manager's issue
//! tracker; names and tokens are replaced by example values.

use certdx::checks::explain::explain;
use certdx::model::{Code, Evidence, Finding};

/// What a rate-limit text must yield beyond its code.
struct Limit {
    identifier: Option<&'static str>,
    retry_after: Option<&'static str>,
    limit: Option<&'static str>,
}

/// Classifies `text` and checks that the first finding has `code`; returns all findings.
fn expect(text: &str, code: Code) -> Vec<Finding> {
    let findings = explain(text);
    assert!(!findings.is_empty(), "no finding for {text:?}");
    assert_eq!(
        findings[0].code, code,
        "wrong code for {text:?}: {findings:#?}"
    );
    for f in &findings {
        assert!(
            !f.summary.is_empty() && !f.summary.contains('\n'),
            "summary must be one line: {f:#?}"
        );
        assert!(!f.detail.is_empty(), "detail must keep the message: {f:#?}");
        assert!(
            f.evidence.iter().any(|e| matches!(e, Evidence::Text { source, text: t, at: None } if source == "message" && t == text)),
            "evidence must hold the input: {f:#?}"
        );
    }
    findings
}

/// Classifies a rate-limit text and checks its limit, identifier and retry-after exactly.
fn expect_limit(text: &str, code: Code, want: Limit) {
    let findings = expect(text, code);
    let rl = findings[0]
        .rate_limit
        .as_ref()
        .unwrap_or_else(|| panic!("no rate_limit for {text:?}"));
    assert_eq!(
        rl.identifier.as_deref(),
        want.identifier,
        "identifier of {text:?}"
    );
    assert_eq!(
        rl.retry_after.map(|t| t.to_string()).as_deref(),
        want.retry_after,
        "retry_after of {text:?}"
    );
    assert_eq!(rl.limit.as_deref(), want.limit, "limit of {text:?}");
}

fn codes(text: &str) -> Vec<Code> {
    explain(text).into_iter().map(|f| f.code).collect()
}

// --- The five texts the brief requires to pass exactly. ---------------------------------

#[test]
fn required_duplicate_certificate_new_wording() {
    expect_limit(
        "429 urn:ietf:params:acme:error:rateLimited: too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, retry after 2025-12-31 04:04:56 UTC: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-identifiers",
        Code::RatelimitDuplicateCertificate,
        Limit {
            identifier: None,
            retry_after: Some("2025-12-31T04:04:56Z"),
            limit: Some("5 per 168h0m0s"),
        },
    );
}

#[test]
fn required_failed_authorizations_legacy_wording() {
    expect_limit(
        "Failed to create Order: 429 urn:ietf:params:acme:error:rateLimited: Error creating new order :: too many failed authorizations recently: see https://letsencrypt.org/docs/rate-limits/",
        Code::RatelimitFailedAuthorizations,
        Limit {
            identifier: None,
            retry_after: None,
            limit: Some("authorization-failures-per-identifier-per-account"),
        },
    );
}

#[test]
fn required_http01_wrong_status() {
    let f = expect(
        "Waiting for HTTP-01 challenge propagation: wrong status code '404', expected '200'",
        Code::SelfcheckHttp01WrongStatus,
    );
    assert!(f[0].summary.contains("404"), "{}", f[0].summary);
}

#[test]
fn required_dns01_ns_refused() {
    let f = expect(
        "Waiting for DNS-01 challenge propagation: NS ns-0.awsdns-00.com.:53 returned REFUSED for _acme-challenge.example.com.",
        Code::SelfcheckDns01NsError,
    );
    assert!(
        f[0].summary.contains("ns-0.awsdns-00.com") && f[0].summary.contains("REFUSED"),
        "{}",
        f[0].summary
    );
}

#[test]
fn required_acme_dns_servfail_caa() {
    let f = expect(
        "Error accepting authorization: acme: authorization error for example.com: 400 urn:ietf:params:acme:error:dns: DNS problem: SERVFAIL looking up CAA for example.com - the domain's nameservers may be malfunctioning",
        Code::AcmeDns,
    );
    assert_eq!(f.len(), 1);
    assert!(
        f[0].summary.contains("SERVFAIL")
            && f[0].summary.contains("CAA")
            && f[0].summary.contains("example.com")
    );
}

// --- Rate limits: the ratelimits package (2024-). ------------------------------------------

#[test]
fn ratelimits_package_wordings() {
    expect_limit(
        "Failed to create Order: 429 urn:ietf:params:acme:error:rateLimited: too many certificates (5) already issued for this exact set of domains in the last 168h0m0s, retry after 2025-03-26 13:10:39 UTC: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-hostnames",
        Code::RatelimitDuplicateCertificate,
        Limit {
            identifier: None,
            retry_after: Some("2025-03-26T13:10:39Z"),
            limit: Some("5 per 168h0m0s"),
        },
    );
    expect_limit(
        "429 urn:ietf:params:acme:error:rateLimited: too many certificates (50) already issued for \"example.com\" in the last 168h0m0s, retry after 2025-02-03 04:05:06 UTC: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-registered-domain",
        Code::RatelimitCertificatesPerDomain,
        Limit {
            identifier: Some("example.com"),
            retry_after: Some("2025-02-03T04:05:06Z"),
            limit: Some("50 per 168h0m0s"),
        },
    );
    expect_limit(
        "Error accepting authorization: 429 urn:ietf:params:acme:error:rateLimited: too many failed authorizations (5) for \"app.example.com\" in the last 1h0m0s, retry after 2025-06-01 10:11:12 UTC: see https://letsencrypt.org/docs/rate-limits/#authorization-failures-per-identifier-per-account",
        Code::RatelimitFailedAuthorizations,
        Limit {
            identifier: Some("app.example.com"),
            retry_after: Some("2025-06-01T10:11:12Z"),
            limit: Some("5 per 1h0m0s"),
        },
    );
    expect_limit(
        "Failed to create Order: 429 urn:ietf:params:acme:error:rateLimited: too many new orders (300) from this account in the last 3h0m0s, retry after 2025-06-01 10:11:12 UTC: see https://letsencrypt.org/docs/rate-limits/#new-orders-per-account",
        Code::RatelimitNewOrders,
        Limit {
            identifier: None,
            retry_after: Some("2025-06-01T10:11:12Z"),
            limit: Some("300 per 3h0m0s"),
        },
    );
    expect_limit(
        "Failed to register ACME account: 429 urn:ietf:params:acme:error:rateLimited: too many new registrations (10) from this IP address in the last 3h0m0s, retry after 2025-06-01 10:11:12 UTC: see https://letsencrypt.org/docs/rate-limits/#new-registrations-per-ip-address",
        Code::RatelimitNewRegistrations,
        Limit {
            identifier: None,
            retry_after: Some("2025-06-01T10:11:12Z"),
            limit: Some("10 per 3h0m0s"),
        },
    );
    expect_limit(
        "429 urn:ietf:params:acme:error:rateLimited: too many new registrations (500) from this /48 subnet of IPv6 addresses in the last 3h0m0s, retry after 2025-06-01 10:11:12 UTC: see https://letsencrypt.org/docs/rate-limits/#new-registrations-per-ipv6-range",
        Code::RatelimitNewRegistrations,
        Limit {
            identifier: None,
            retry_after: Some("2025-06-01T10:11:12Z"),
            limit: Some("500 per 3h0m0s"),
        },
    );
    // The first release of the package said "block" where it now says "subnet".
    expect_limit(
        "too many new registrations (500) from this /48 block of IPv6 addresses in the last 3h0m0s, retry after 2024-06-01 10:11:12 UTC",
        Code::RatelimitNewRegistrations,
        Limit {
            identifier: None,
            retry_after: Some("2024-06-01T10:11:12Z"),
            limit: Some("500 per 3h0m0s"),
        },
    );
}

#[test]
fn ratelimits_in_other_clients_output() {
    // lego / Traefik.
    expect_limit(
        "acme: error: 429 :: POST :: https://acme-v02.api.letsencrypt.org/acme/new-order :: urn:ietf:params:acme:error:rateLimited :: too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, retry after 2026-02-04 15:12:13 UTC: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-identifiers",
        Code::RatelimitDuplicateCertificate,
        Limit {
            identifier: None,
            retry_after: Some("2026-02-04T15:12:13Z"),
            limit: Some("5 per 168h0m0s"),
        },
    );
    // JSON problem document from acme.sh.
    expect_limit(
        r#"{ "type": "urn:ietf:params:acme:error:rateLimited", "detail": "too many certificates (5) already issued for this exact set of domains in the last 168h0m0s, retry after 2025-03-26 13:10:39 UTC: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-hostnames", "status": 429 }"#,
        Code::RatelimitDuplicateCertificate,
        Limit {
            identifier: None,
            retry_after: Some("2025-03-26T13:10:39Z"),
            limit: Some("5 per 168h0m0s"),
        },
    );
}

// --- Rate limits: the 2022-2024 ra.go wordings with RFC 3339 instants. ------------------

#[test]
fn ra_wordings_with_rfc3339() {
    expect_limit(
        "The certificate request has failed to complete and will be retried: Failed to wait for order resource \"vcs-secret-j8gnj-3121219202\" to become ready: order is in \"errored\" state: Failed to create Order: 429 urn:ietf:params:acme:error:rateLimited: Error creating new order :: too many certificates (5) already issued for this exact set of domains in the last 168 hours: vcs.example.com, retry after 2023-10-12T18:54:27Z: see https://letsencrypt.org/docs/duplicate-certificate-limit/",
        Code::RatelimitDuplicateCertificate,
        Limit {
            identifier: Some("vcs.example.com"),
            retry_after: Some("2023-10-12T18:54:27Z"),
            limit: Some("5 per 168 hours"),
        },
    );
    expect_limit(
        "429 urn:ietf:params:acme:error:rateLimited: Error creating new order :: too many certificates (5) already issued for this exact set of domains in the last 168 hours: example.com,www.example.com, retry after 2022-11-02T09:10:11Z: see https://letsencrypt.org/docs/duplicate-certificate-limit/",
        Code::RatelimitDuplicateCertificate,
        Limit {
            identifier: Some("example.com,www.example.com"),
            retry_after: Some("2022-11-02T09:10:11Z"),
            limit: Some("5 per 168 hours"),
        },
    );
    expect_limit(
        "There were too many requests of a given type :: Error creating new order :: too many certificates already issued for \"example.co.uk\". Retry after 2024-06-17T07:00:00Z: see https://letsencrypt.org/docs/rate-limits/",
        Code::RatelimitCertificatesPerDomain,
        Limit {
            identifier: Some("example.co.uk"),
            retry_after: Some("2024-06-17T07:00:00Z"),
            limit: Some("new-certificates-per-registered-domain"),
        },
    );
    expect_limit(
        "Failed to create Order: 429 urn:ietf:params:acme:error:rateLimited: Error creating new order :: too many certificates already issued for \"example.com\". Retry after 2022-09-26T01:29:08Z: see https://letsencrypt.org/docs/rate-limits/",
        Code::RatelimitCertificatesPerDomain,
        Limit {
            identifier: Some("example.com"),
            retry_after: Some("2022-09-26T01:29:08Z"),
            limit: Some("new-certificates-per-registered-domain"),
        },
    );
    expect_limit(
        "429 urn:ietf:params:acme:error:rateLimited: Error creating new order :: too many certificates already issued for multiple names (\"example.com\" and 2 others). Retry after 2022-09-26T01:29:08Z: see https://letsencrypt.org/docs/rate-limits/",
        Code::RatelimitCertificatesPerDomain,
        Limit {
            identifier: Some("example.com"),
            retry_after: Some("2022-09-26T01:29:08Z"),
            limit: Some("new-certificates-per-registered-domain"),
        },
    );
}

#[test]
fn retry_after_with_fraction_and_offset_is_normalised_to_utc() {
    expect_limit(
        "429 urn:ietf:params:acme:error:rateLimited: too many certificates (50) already issued for \"example.org\" in the last 168h0m0s, retry after 2025-01-02T03:04:05.123456+01:00: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-registered-domain",
        Code::RatelimitCertificatesPerDomain,
        Limit {
            identifier: Some("example.org"),
            retry_after: Some("2025-01-02T02:04:05.123456Z"),
            limit: Some("50 per 168h0m0s"),
        },
    );
    expect_limit(
        "too many failed authorizations (5) for \"x.example.net\" in the last 1h0m0s, retry after 2025-07-08T09:10:11.5Z",
        Code::RatelimitFailedAuthorizations,
        Limit {
            identifier: Some("x.example.net"),
            retry_after: Some("2025-07-08T09:10:11.5Z"),
            limit: Some("5 per 1h0m0s"),
        },
    );
}

// --- Rate limits: the legacy ratelimit package. -----------------------------------------

#[test]
fn legacy_ratelimit_wordings() {
    expect_limit(
        "Error creating new order :: too many certificates already issued for exact set of domains: example.com,www.example.com: see https://letsencrypt.org/docs/rate-limits/",
        Code::RatelimitDuplicateCertificate,
        Limit {
            identifier: Some("example.com,www.example.com"),
            retry_after: None,
            limit: Some("new-certificates-per-exact-set-of-identifiers"),
        },
    );
    expect_limit(
        "Failed to create order: 429 urn:ietf:params:acme:error:rateLimited: Error creating new order :: too many certificates already issued for: example.com: see https://letsencrypt.org/docs/rate-limits/",
        Code::RatelimitCertificatesPerDomain,
        Limit {
            identifier: Some("example.com"),
            retry_after: None,
            limit: Some("new-certificates-per-registered-domain"),
        },
    );
    expect_limit(
        "urn:acme:error:rateLimited :: There were too many requests of a given type :: Error creating new cert :: too many certificates already issued for: example.org",
        Code::RatelimitCertificatesPerDomain,
        Limit {
            identifier: Some("example.org"),
            retry_after: None,
            limit: Some("new-certificates-per-registered-domain"),
        },
    );
    expect_limit(
        "Failed to register ACME account: 429 urn:ietf:params:acme:error:rateLimited: Error creating new account :: too many registrations for this IP: see https://letsencrypt.org/docs/too-many-registrations-for-this-ip/",
        Code::RatelimitNewRegistrations,
        Limit {
            identifier: None,
            retry_after: None,
            limit: Some("too-many-registrations-for-this-ip"),
        },
    );
    expect_limit(
        "Error creating new account :: too many registrations for this IP range",
        Code::RatelimitNewRegistrations,
        Limit {
            identifier: None,
            retry_after: None,
            limit: Some("new-registrations-per-ipv6-range"),
        },
    );
    expect_limit(
        "429 urn:ietf:params:acme:error:rateLimited: Error creating new order :: too many new orders recently: see https://letsencrypt.org/docs/rate-limits/",
        Code::RatelimitNewOrders,
        Limit {
            identifier: None,
            retry_after: None,
            limit: Some("new-orders-per-account"),
        },
    );
    expect_limit(
        "urn:acme:error:rateLimited :: There were too many requests of a given type :: Error creating new authz :: too many currently pending authorizations.",
        Code::RatelimitPendingAuthorizations,
        Limit {
            identifier: None,
            retry_after: None,
            limit: Some("pending-authorizations-per-account"),
        },
    );
    expect_limit(
        "429 urn:ietf:params:acme:error:rateLimited: Error creating new order :: too many currently pending authorizations: 300: see https://letsencrypt.org/docs/rate-limits/",
        Code::RatelimitPendingAuthorizations,
        Limit {
            identifier: None,
            retry_after: None,
            limit: Some("pending-authorizations-per-account"),
        },
    );
    expect_limit(
        "Error accepting authorization: 429 urn:ietf:params:acme:error:rateLimited: too many failed authorizations recently: see https://letsencrypt.org/docs/failed-validation-limit/",
        Code::RatelimitFailedAuthorizations,
        Limit {
            identifier: None,
            retry_after: None,
            limit: Some("failed-validation-limit"),
        },
    );
}

#[test]
fn paused_account() {
    let text = "Failed to create Order: 429 urn:ietf:params:acme:error:rateLimited: Your account is temporarily prevented from requesting certificates for app.example.com, www.example.com and possibly others. Please visit: https://portal.letsencrypt.org/sfe/v1/unpause?jwt=abc.def.ghi";
    expect_limit(
        text,
        Code::RatelimitAccountPaused,
        Limit {
            identifier: Some("app.example.com"),
            retry_after: None,
            limit: Some("consecutive-authorization-failures-per-identifier-per-account"),
        },
    );
    let f = explain(text);
    assert!(f[0].summary.contains("www.example.com"), "{}", f[0].summary);
    assert!(
        f[0].detail
            .contains("https://portal.letsencrypt.org/sfe/v1/unpause?jwt="),
        "{}",
        f[0].detail
    );
    // Some servers send the pause as unauthorized; the wording decides.
    expect(
        "403 urn:ietf:params:acme:error:unauthorized: Your account is temporarily prevented from requesting certificates for mc.example.com and possibly others. Please visit: https://portal.letsencrypt.org/sfe/v1/unpause?jwt=x.y.z",
        Code::RatelimitAccountPaused,
    );
}

#[test]
fn unknown_rate_limits_are_ratelimit_other_with_retry_after() {
    expect_limit(
        "Failed to create Order: 429 urn:ietf:params:acme:error:rateLimited: too many widgets from this account, retry after 2026-01-01 00:00:00 UTC: see https://letsencrypt.org/docs/rate-limits/",
        Code::RatelimitOther,
        Limit {
            identifier: None,
            retry_after: Some("2026-01-01T00:00:00Z"),
            limit: None,
        },
    );
    expect_limit(
        "429 urn:ietf:params:acme:error:rateLimited: Rate limit exceeded for this endpoint",
        Code::RatelimitOther,
        Limit {
            identifier: None,
            retry_after: None,
            limit: None,
        },
    );
}

// --- ACME problem types. -------------------------------------------------------------------

#[test]
fn acme_unauthorized_http01() {
    let f = expect(
        "Error accepting authorization: acme: authorization error for example.com: 403 urn:ietf:params:acme:error:unauthorized: 203.0.113.10: Invalid response from http://example.com/.well-known/acme-challenge/Vk2lKlGZ_3wAUy7w1Y5wHVp5qbi5R0k8uDH2sLN3cY4: 404",
        Code::AcmeUnauthorized,
    );
    assert!(
        f[0].summary.contains("404") && f[0].summary.contains("http://example.com/"),
        "{}",
        f[0].summary
    );
    let f = expect(
        "acme: authorization error for www.example.org: 403 urn:ietf:params:acme:error:unauthorized: Invalid response from https://www.example.org/.well-known/acme-challenge/abc [2001:db8::10]: \"<!DOCTYPE html>\\n<html lang=\\\"en\\\">\\n<head><title>Login</title>\"",
        Code::AcmeUnauthorized,
    );
    assert!(f[0].summary.contains("unexpected body"), "{}", f[0].summary);
    expect(
        "403 urn:ietf:params:acme:error:unauthorized: 198.51.100.4: The key authorization file from the server did not match this challenge. Expected \"abc.def\" (got \"xyz\")",
        Code::AcmeUnauthorized,
    );
}

#[test]
fn acme_unauthorized_dns01() {
    let f = expect(
        "Error accepting authorization: acme: authorization error for example.com: 403 urn:ietf:params:acme:error:unauthorized: No TXT record found at _acme-challenge.example.com",
        Code::Dns01TxtMissing,
    );
    assert!(
        f[0].summary.contains("_acme-challenge.example.com"),
        "{}",
        f[0].summary
    );
    expect(
        "acme: authorization error for *.example.com: 403 urn:ietf:params:acme:error:unauthorized: Incorrect TXT record \"q1w2e3\" found at _acme-challenge.example.com",
        Code::Dns01TxtWrongValue,
    );
}

#[test]
fn acme_dns_problems() {
    let f = expect(
        "Error accepting authorization: acme: authorization error for foo.example.com: 400 urn:ietf:params:acme:error:dns: DNS problem: NXDOMAIN looking up A for foo.example.com - check that a DNS record exists for this domain; DNS problem: NXDOMAIN looking up AAAA for foo.example.com - check that a DNS record exists for this domain",
        Code::AcmeDns,
    );
    assert!(
        f[0].summary.contains("NXDOMAIN") && f[0].summary.contains("foo.example.com"),
        "{}",
        f[0].summary
    );
    expect(
        "acme: authorization error for *.example.com: 400 urn:ietf:params:acme:error:dns: DNS problem: NXDOMAIN looking up TXT for _acme-challenge.example.com - check that a DNS record exists for this domain",
        Code::Dns01TxtMissing,
    );
    expect(
        "400 urn:ietf:params:acme:error:dns: DNS problem: query timed out looking up CAA for example.net",
        Code::AcmeDns,
    );
    expect(
        "400 urn:ietf:params:acme:error:dns: No valid IP addresses found for app.example.com",
        Code::AcmeDns,
    );
    let f = expect(
        "400 urn:ietf:params:acme:error:dns: DNS problem: looking up A for secure.example.com: DNSSEC: DNSKEY Missing: validation failure <secure.example.com. A IN>: no keys have a DS",
        Code::AcmeDns,
    );
    assert!(
        f[0].summary.contains("DNSSEC") && f[0].summary.contains("secure.example.com"),
        "{}",
        f[0].summary
    );
}

#[test]
fn acme_caa() {
    let f = expect(
        "Failed to finalize Order: 403 urn:ietf:params:acme:error:caa: Error finalizing order :: Rechecking CAA for \"example.com\" and 1 more identifiers failed. Refer to sub-problems for more information",
        Code::AcmeCaa,
    );
    assert!(f[0].summary.contains("example.com"), "{}", f[0].summary);
    expect(
        "Error accepting authorization: acme: authorization error for example.com: 403 urn:ietf:params:acme:error:caa: CAA record for example.com prevents issuance",
        Code::AcmeCaa,
    );
}

#[test]
fn acme_connection() {
    let f = expect(
        "Error accepting authorization: acme: authorization error for www.example.com: 400 urn:ietf:params:acme:error:connection: 203.0.113.7: Fetching http://www.example.com/.well-known/acme-challenge/xyz: Timeout during connect (likely firewall problem)",
        Code::AcmeConnection,
    );
    assert!(
        f[0].summary.contains("Timeout during connect") && f[0].summary.contains("203.0.113.7"),
        "{}",
        f[0].summary
    );
    expect(
        "400 urn:ietf:params:acme:error:connection: 198.51.100.2: Fetching http://app.example.com/.well-known/acme-challenge/abc: Connection refused",
        Code::AcmeConnection,
    );
    expect(
        "acme: authorization error for example.org: 400 urn:ietf:params:acme:error:connection: 2001:db8::1: Fetching http://example.org/.well-known/acme-challenge/abc: Error getting validation data",
        Code::AcmeConnection,
    );
    expect(
        "400 urn:ietf:params:acme:error:connection: During secondary validation: 192.0.2.9: Fetching http://example.org/.well-known/acme-challenge/abc: Timeout after connect (your server may be slow or overloaded)",
        Code::AcmeConnection,
    );
    // A Rust client's debug print of the problem (type, then detail as a sibling member).
    expect(
        "LetsEncrypt challenge failed for example.site.com: Some(ServerError { type: Some(\"urn:ietf:params:acme:error:connection\"), title: None, status: Some(400), detail: Some(\"91.98.61.44: Fetching http://example.site.com/.well-known/acme-challenge/S2MRYRq83: Timeout during connect (likely firewall problem)\") })",
        Code::AcmeConnection,
    );
}

#[test]
fn acme_rejected_identifier_with_subproblems() {
    let text = "Failed to create Order: 400 urn:ietf:params:acme:error:rejectedIdentifier: Error creating new order :: Cannot issue for \"a.local\": Domain name does not end with a valid public suffix (TLD) (and 1 more problems. Refer to sub-problems for more information.); subproblems:\n\turn:ietf:params:acme:error:rejectedIdentifier: [dns: a.local] Domain name does not end with a valid public suffix (TLD)\n\turn:ietf:params:acme:error:rejectedIdentifier: [dns: b.internal] Domain name does not end with a valid public suffix (TLD)";
    // Not a public name at all: the name is invalid, whatever type the CA filed it under.
    let f = expect(text, Code::InvalidIdentifier);
    assert_eq!(f.len(), 2, "one finding per identifier: {f:#?}");
    assert!(f[0].summary.contains("a.local"));
    assert!(f[1].summary.contains("b.internal"));
    expect(
        "400 urn:ietf:params:acme:error:rejectedIdentifier: Error creating new order :: Cannot issue for \"example.test\": The ACME server refuses to issue a certificate for this domain name, because it is forbidden by policy",
        Code::AcmeRejectedIdentifier,
    );
}

#[test]
fn compound_problem_yields_each_subproblem() {
    let text = "Failed to finalize Order: 403 urn:ietf:params:acme:error:compound: Error finalizing order :: Rechecking CAA for \"a.example.com\" and 1 more identifiers failed. Refer to sub-problems for more information; subproblems:\n\turn:ietf:params:acme:error:caa: [dns: a.example.com] CAA record for a.example.com prevents issuance\n\turn:ietf:params:acme:error:dns: [dns: b.example.com] DNS problem: SERVFAIL looking up CAA for b.example.com - the domain's nameservers may be malfunctioning";
    assert_eq!(codes(text), vec![Code::AcmeCaa, Code::AcmeDns]);
    // Without subproblems the compound problem itself is all there is.
    expect(
        "acme: authorization error for example.com: 400 urn:ietf:params:acme:error:compound: Error finalizing order :: several problems",
        Code::AcmeOther,
    );
}

#[test]
fn acme_bad_nonce_server_error_and_other() {
    expect(
        "400 urn:ietf:params:acme:error:badNonce: JWS has an invalid anti-replay nonce: \"AAEAAAXYZ\"",
        Code::AcmeBadNonce,
    );
    expect(
        "Failed to finalize Order: 500 urn:ietf:params:acme:error:serverInternal: Error finalizing order :: Unable to meet CA SCT embedding requirements",
        Code::AcmeServerError,
    );
    expect(
        "Failed to create Order: 503 urn:ietf:params:acme:error:rateLimited: Service busy; retry later.",
        Code::AcmeServerError,
    );
    expect(
        "Failed to create Order: 503 : <html><body><h1>503 Service Unavailable</h1></body></html>",
        Code::AcmeServerError,
    );
    let f = expect(
        "Failed to finalize Order: 400 urn:ietf:params:acme:error:badCSR: Error finalizing order :: CSR contains a public key of a known weak type",
        Code::AcmeBadCsr,
    );
    assert!(f[0].summary.contains("weak"), "{}", f[0].summary);
    expect(
        "403 urn:ietf:params:acme:error:userActionRequired: Terms of service have changed",
        Code::AcmeAccount,
    );
    expect(
        "400 urn:ietf:params:acme:error:tls: 192.0.2.1: remote error: tls: handshake failure",
        Code::AcmeConnection,
    );
}

#[test]
fn acme_wordings_without_a_problem_type() {
    expect(
        "acme: authorization error for example.com: Invalid response from http://example.com/.well-known/acme-challenge/abc: 404",
        Code::AcmeUnauthorized,
    );
    expect(
        "DNS problem: NXDOMAIN looking up A for foo.example.com - check that a DNS record exists for this domain",
        Code::AcmeDns,
    );
    expect(
        "CAA record for example.com prevents issuance",
        Code::AcmeCaa,
    );
    expect(
        "Fetching http://example.com/.well-known/acme-challenge/abc: Timeout during connect (likely firewall problem)",
        Code::AcmeConnection,
    );
    expect("Connection refused", Code::AcmeConnection);
    expect("Error getting validation data", Code::AcmeConnection);
    expect(
        "Policy forbids issuing for name",
        Code::AcmeRejectedIdentifier,
    );
    expect("JWS has an invalid anti-replay nonce", Code::AcmeBadNonce);
    expect("Service busy; retry later.", Code::AcmeServerError);
}

#[test]
fn pebble_wordings() {
    // Pebble's VA (`va/va.go`) words its problems differently from Boulder; the e2e tests see it.
    let f = expect(
        "Error accepting authorization: acme: authorization error for web.example.test: 403 urn:ietf:params:acme:error:unauthorized: Non-200 status code from HTTP: http://web.example.test:5002/.well-known/acme-challenge/abc returned 404",
        Code::AcmeUnauthorized,
    );
    assert!(f[0].summary.contains("404"), "{}", f[0].summary);
    let f = expect(
        "403 urn:ietf:params:acme:error:unauthorized: No TXT records found for DNS challenge :\"example.test\"",
        Code::Dns01TxtMissing,
    );
    assert!(
        f[0].summary.contains("_acme-challenge.example.test"),
        "{}",
        f[0].summary
    );
    expect(
        "403 urn:ietf:params:acme:error:unauthorized: Correct value not found for DNS challenge :\"example.test\"",
        Code::Dns01TxtWrongValue,
    );
    let f = expect(
        "400 urn:ietf:params:acme:error:connection: Get \"http://web.example.test:5002/.well-known/acme-challenge/abc\": dial tcp 127.0.0.1:5002: connect: connection refused",
        Code::AcmeConnection,
    );
    assert!(
        f[0].summary.contains("connection refused"),
        "{}",
        f[0].summary
    );
}

// --- cert-manager's self-checks. -------------------------------------------------------------

#[test]
fn http01_self_check() {
    expect(
        "Waiting for http-01 challenge propagation: wrong status code '403', expected '200'",
        Code::SelfcheckHttp01WrongStatus,
    );
    let f = expect(
        r#"E0105 14:20:08.488171       1 sync.go:186] cert-manager/controller/challenges "msg"="propagation check failed" "error"="wrong status code '503', expected '200'" "dnsName"="dp.example.com" "type"="HTTP-01""#,
        Code::SelfcheckHttp01WrongStatus,
    );
    assert!(
        f[0].summary.contains("503") && f[0].summary.contains("dp.example.com"),
        "{}",
        f[0].summary
    );
    let f = expect(
        "Waiting for HTTP-01 challenge propagation: did not get expected response when querying endpoint, expected \"TKspp86xMjQzTvMVXWkezEA2sE2GSWjnld5Lt4X13ro.f4bppCOm-jXasFGMKjpBE5aQlhiQBeTPIs0Lx822xao\" but got: Hello, world!\nVersion: 1... (truncated)",
        Code::SelfcheckHttp01WrongBody,
    );
    assert!(f[0].summary.contains("Hello, world!"), "{}", f[0].summary);
    expect(
        "Waiting for http-01 challenge propagation: did not get expected response when querying endpoint, expected \"abc.def\" but got: ",
        Code::SelfcheckHttp01WrongBody,
    );
    let f = expect(
        "Waiting for HTTP-01 challenge propagation: failed to perform self check GET request 'http://app.example.com/.well-known/acme-challenge/FVNEKXPmq5wrHofbbV8AhOrB': Get \"http://app.example.com/.well-known/acme-challenge/FVNEKXPmq5wrHofbbV8AhOrB\": dial tcp 34.92.154.181:80: connect: connection refused",
        Code::SelfcheckHttp01RequestFailed,
    );
    assert!(
        f[0].summary.contains("connection refused"),
        "{}",
        f[0].summary
    );
    let f = expect(
        "Waiting for HTTP-01 challenge propagation: failed to perform self check GET request 'http://k8s.example.com/.well-known/acme-challenge/hkjOO6LY': Get \"http://k8s.example.com/.well-known/acme-challenge/hkjOO6LY\": dial tcp: lookup k8s.example.com on 172.20.0.10:53: no such host",
        Code::SelfcheckHttp01RequestFailed,
    );
    assert!(
        f[0].summary.contains("does not resolve"),
        "{}",
        f[0].summary
    );
    expect(
        "Waiting for HTTP-01 challenge propagation: failed to perform self check GET request 'http://api.example.top/.well-known/acme-challenge/x': Get \"https://api.example.top/.well-known/acme-challenge/x\": read: connection reset by peer",
        Code::SelfcheckHttp01RequestFailed,
    );
}

#[test]
fn dns01_self_check() {
    expect(
        "Waiting for DNS-01 challenge propagation: NS ns1.example.net.:53 returned SERVFAIL for _acme-challenge.example.com.",
        Code::SelfcheckDns01NsError,
    );
    let f = expect(
        "Waiting for DNS-01 challenge propagation: DNS record for \"example.com\" not yet propagated",
        Code::SelfcheckDns01NotPropagated,
    );
    assert!(f[0].summary.contains("example.com"), "{}", f[0].summary);
    let f = expect(
        "Waiting for DNS-01 challenge propagation: dial udp 10.96.0.10:53: i/o timeout",
        Code::SelfcheckDns01NsError,
    );
    assert!(f[0].summary.contains("10.96.0.10"), "{}", f[0].summary);
    expect(
        "Waiting for DNS-01 challenge propagation: read udp 10.244.1.5:38224->205.251.192.12:53: i/o timeout",
        Code::SelfcheckDns01NsError,
    );
    expect(
        "Waiting for DNS-01 challenge propagation: Could not determine the zone for \"_acme-challenge.example.com.\": Could not find the start of authority",
        Code::SelfcheckDns01ZoneNotFound,
    );
    let f = expect(
        r#"E1003 07:07:01.123197       1 sync.go:208] "propagation check failed" err="Could not determine the zone for \"_acme-challenge.example.com.\": When querying the SOA record for the domain '_acme-challenge.example.com.' using nameservers [10.152.183.10:53], rcode was expected to be 'NOERROR' or 'NXDOMAIN', but got 'SERVFAIL'""#,
        Code::SelfcheckDns01ZoneNotFound,
    );
    assert!(f[0].summary.contains("SERVFAIL"), "{}", f[0].summary);
    expect(
        "could not find the start of authority for _acme-challenge.example.com.: NXDOMAIN",
        Code::SelfcheckDns01ZoneNotFound,
    );
}

// --- Solvers, Issuers, backoff, Orders. --------------------------------------------------------

#[test]
fn solver_present_failures() {
    // A zone lookup that fails while presenting is about the zone, not the provider's credentials.
    expect(
        "Error presenting challenge: When querying the SOA record for the domain '_acme-challenge.go.example.com.' using nameservers [10.8.0.10:53], rcode was expected to be 'NOERROR' or 'NXDOMAIN', but got 'SERVFAIL'",
        Code::SelfcheckDns01ZoneNotFound,
    );
    let f = expect(
        "Error presenting challenge: failed to determine Route 53 hosted zone ID: operation error Route 53: ListHostedZonesByName, https response error StatusCode: 403, RequestID: 7c31c507-4343-4b75-bb99-d60450e3d212, api error SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided.",
        Code::SolverPresentFailed,
    );
    assert!(f[0].summary.contains("Route 53"), "{}", f[0].summary);
    expect(
        "failed to change Route 53 record set: AccessDenied: User: arn:aws:sts::123456789012:assumed-role/cert-manager/1647294759 is not authorized to perform: route53:ChangeResourceRecordSets on resource: arn:aws:route53:::hostedzone/Z0123 because no identity-based policy allows the route53:ChangeResourceRecordSets action",
        Code::SolverPresentFailed,
    );
    let f = expect(
        "Error presenting challenge: Cloudflare API Error for GET \"/zones?name=example.com\"\n Error: 0: Actor 'com.cloudflare.api.token.abc' requires permission 'com.cloudflare.api.account.zone.list' to list zones",
        Code::SolverPresentFailed,
    );
    assert!(f[0].summary.contains("Cloudflare"), "{}", f[0].summary);
    // A timeout to the provider's API is still a present failure, not a DNS self-check.
    expect(
        "Error presenting challenge: while attempting to find Zones for domain _acme-challenge.cloud.example.com. while querying the Cloudflare API for GET \"/zones?name=_acme-challenge.cloud.example.com\": Get \"https://api.cloudflare.com/client/v4/zones?name=_acme-challenge.cloud.example.com\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
        Code::SolverPresentFailed,
    );
    expect(
        "Error presenting challenge: googleapi: Error 403: Forbidden, forbidden",
        Code::SolverPresentFailed,
    );
    expect(
        "Error presenting challenge: rfc2136: failed to insert: DNS update failed: server replied: REFUSED",
        Code::SolverPresentFailed,
    );
    // The rfc2136 solver cannot reach its own server: not a self-check nameserver error.
    expect(
        "Error presenting challenge: dial udp 10.0.0.53:53: connect: connection refused",
        Code::SolverPresentFailed,
    );
    let f = expect(
        "Error presenting challenge: admission webhook \"validate.nginx.ingress.kubernetes.io\" denied the request: nginx.ingress.kubernetes.io/server-snippet annotation cannot be used",
        Code::Http01SolverRejected,
    );
    assert!(f[0].summary.contains("HTTP-01"), "{}", f[0].summary);
}

#[test]
fn solver_no_match() {
    expect(
        "Failed to determine a valid solver configuration for the set of domains on the Order: no configured challenge solvers can be used for this challenge",
        Code::SolverNoMatch,
    );
}

#[test]
fn issuer_not_ready() {
    let f = expect(
        "Failed to verify ACME account: 400 urn:ietf:params:acme:error:malformed: [External Account Binding] The account is not awaiting external account binding",
        Code::AcmeAccount,
    );
    assert!(
        f[0].summary.contains("External Account Binding"),
        "{}",
        f[0].summary
    );
    expect(
        "Failed to register ACME account: 400 urn:ietf:params:acme:error:externalAccountRequired: The request must include a value for the \"externalAccountBinding\" field",
        Code::AcmeAccount,
    );
    let f = expect(
        "Failed to verify ACME account: Get \"https://acme-v02.api.letsencrypt.org/directory\": dial tcp: lookup acme-v02.api.letsencrypt.org on 10.96.0.10:53: read udp 10.244.0.5:45873->10.96.0.10:53: i/o timeout",
        Code::AcmeDirectoryUnreachable,
    );
    assert!(
        f[0].summary.contains("could not be reached"),
        "{}",
        f[0].summary
    );
    expect(
        "Referenced issuer does not have a Ready status condition",
        Code::IssuerNotReady,
    );
    expect(
        "Referenced \"ClusterIssuer\" not found: clusterissuer.cert-manager.io \"letsencrypt-prod\" not found",
        Code::IssuerNotFound,
    );
    expect(
        "Error getting keypair for CA issuer: secrets \"ca-key-pair\" not found",
        Code::SolverCredentialsMissing,
    );
    let f = expect(
        "Failed to verify ACME account: context deadline exceeded",
        Code::IssuerNotReady,
    );
    assert!(f[0].summary.contains("timed out"), "{}", f[0].summary);
    let f = expect("Issuer letsencrypt-staging not ready", Code::IssuerNotReady);
    assert!(
        f[0].summary.contains("letsencrypt-staging"),
        "{}",
        f[0].summary
    );
}

#[test]
fn issuance_backoff() {
    let f = expect(
        "Backing off from issuance due to previously failed issuance(s). Issuance will next be attempted at 2023-03-02 14:56:29.000000712 +0000 UTC m=+10822.311055205",
        Code::IssuanceBackoff,
    );
    let retry = f[0]
        .rate_limit
        .as_ref()
        .and_then(|r| r.retry_after)
        .map(|t| t.to_string());
    assert_eq!(retry.as_deref(), Some("2023-03-02T14:56:29.000000712Z"));
    let f = expect(
        "Backing off from issuance due to previously failed issuance(s). Issuance will be retried after 2024-05-01T12:00:00Z",
        Code::IssuanceBackoff,
    );
    let retry = f[0]
        .rate_limit
        .as_ref()
        .and_then(|r| r.retry_after)
        .map(|t| t.to_string());
    assert_eq!(retry.as_deref(), Some("2024-05-01T12:00:00Z"));
}

#[test]
fn order_invalid_without_reason() {
    expect(
        "Failed to wait for order resource \"web-1-3677445741\" to become ready: order is in \"invalid\" state: ",
        Code::OrderFailedNoReason,
    );
    expect(
        "Failed to wait for order resource \"web-1-3677445741\" to become ready: order is in \"expired\" state: ",
        Code::ExpiredOrder,
    );
}

#[test]
fn cluster_dns_failure_reaching_the_ca_is_not_a_dns01_nameserver_error() {
    let text = "Failed to create Order: Post \"https://acme-v02.api.letsencrypt.org/acme/new-order\": dial tcp: lookup acme-v02.api.letsencrypt.org on 10.96.0.10:53: read udp 10.244.0.5:45873->10.96.0.10:53: i/o timeout";
    assert!(
        !codes(text).contains(&Code::SelfcheckDns01NsError),
        "{:#?}",
        explain(text)
    );
}

// --- What must yield nothing, and must not panic. ---------------------------------------------

#[test]
fn unrelated_text_yields_nothing() {
    for text in [
        "Certificate is up to date and has not expired",
        "Issuing certificate as Secret does not exist",
        "Created Order resource default/web-1-3677445741",
        "The ACME account was registered with the ACME server",
        "Waiting on certificate issuance from order default/web-ssl-dblrj-327645514: \"pending\"",
        "Stored new private key in temporary Secret resource \"web-ssl-8gsqc\"",
        "Challenge scheduled for processing",
        "hello world",
        "The quick brown fox jumps over the lazy dog 429 times",
        "Issuing certificate as Secret was previously issued by Issuer.cert-manager.io/letsencrypt",
        "Certificate request has been approved by cert-manager.io",
    ] {
        assert!(
            explain(text).is_empty(),
            "{text:?} yielded {:#?}",
            explain(text)
        );
    }
}

#[test]
fn empty_garbage_and_huge_inputs_do_not_panic() {
    assert!(explain("").is_empty());
    assert!(explain("   \n\t ").is_empty());
    let _ = explain(
        "\u{0}\u{1}\u{fffd}\u{1F600}🙂 ü ß 中文 \\\\\" urn:ietf:params:acme:error: 429 ::: retry after 9999-99-99 99:99:99 UTC",
    );
    let _ = explain(
        "retry after 2025-13-45T25:61:61Z too many certificates (99999999999999999999) already issued for \"",
    );
    let _ = explain("urn:ietf:params:acme:error:dns:");
    let _ = explain(
        "Backing off from issuance due to previously failed issuance(s). Issuance will next be attempted at",
    );
    let _ = explain(&"é".repeat(600_000));
    let huge = "x".repeat(1 << 20);
    assert!(explain(&huge).is_empty());
    let mut huge_limit = String::from(
        "429 urn:ietf:params:acme:error:rateLimited: too many new orders (300) from this account in the last 3h0m0s, retry after 2025-06-01 10:11:12 UTC ",
    );
    huge_limit.push_str(&"ab ".repeat(400_000));
    let f = explain(&huge_limit);
    assert_eq!(f[0].code, Code::RatelimitNewOrders);
    match &f[0].evidence[0] {
        Evidence::Text { text, .. } => assert!(text.len() < 8 * 1024, "evidence must be cut"),
        other => panic!("unexpected evidence {other:?}"),
    }
}

#[test]
fn findings_are_deduplicated() {
    let text = "acme: authorization error for example.com: 403 urn:ietf:params:acme:error:unauthorized: Invalid response from http://example.com/.well-known/acme-challenge/a: 404; 403 urn:ietf:params:acme:error:unauthorized: Invalid response from http://example.com/.well-known/acme-challenge/a: 404";
    assert_eq!(codes(text), vec![Code::AcmeUnauthorized]);
}

// --- Whole pastes: several messages, wrappers, hostile bytes. ------------------------------

#[test]
fn a_pasted_block_yields_every_message_in_order() {
    let paste = "\u{1b}[1mkubectl describe challenge www-1-2-3\u{1b}[0m\r\n\
Status:\r\n\
  Reason:      Waiting for HTTP-01 challenge propagation: wrong status code '404', expected '200'\r\n\
Events:\r\n\
  Type     Reason  Age   From                     Message\r\n\
  Warning  Failed  2m    cert-manager-challenges  Accepting challenge authorization failed: acme: authorization error for www.example.com: 403 urn:ietf:params:acme:error:unauthorized: 203.0.113.7: Invalid response from http://www.example.com/.well-known/acme-challenge/abc: 404\r\n\
E0105 14:20:08.488171       1 sync.go:186] cert-manager/controller/orders \"msg\"=\"failed\" \"error\"=\"429 urn:ietf:params:acme:error:rateLimited: too many new orders (300) from this account in the last 3h0m0s, retry after 2025-06-01 10:11:12 UTC\"\n\
E0105 14:20:09.488171       1 sync.go:186] cert-manager/controller/orders \"msg\"=\"failed\" \"error\"=\"429 urn:ietf:params:acme:error:rateLimited: too many new orders (300) from this account in the last 3h0m0s, retry after 2025-06-01 10:11:12 UTC\"\n";
    let found = explain(paste);
    let codes: Vec<Code> = found.iter().map(|f| f.code).collect();
    assert_eq!(
        codes,
        vec![
            Code::SelfcheckHttp01WrongStatus,
            Code::AcmeUnauthorized,
            Code::RatelimitNewOrders
        ],
        "{found:#?}"
    );
    assert_eq!(found[1].target.as_deref(), Some("www.example.com"));
    assert!(
        found[2].detail.contains("seen 2 times"),
        "{}",
        found[2].detail
    );
}

#[test]
fn hostile_input_is_bounded_and_never_panics() {
    // Binary noise, lone quotes and brackets, NULs, a very long line, invalid escapes.
    let mut junk = String::new();
    for i in 0..20_000u32 {
        let c = char::from_u32((i * 7919) % 0x2_0000).unwrap_or('?');
        junk.push(c);
        if i % 97 == 0 {
            junk.push_str("\"msg\"=\"\\u12 { [ ( urn:ietf:params:acme:error: \\");
        }
        if i % 1000 == 0 {
            junk.push('\n');
        }
    }
    junk.push_str(&"x".repeat(200_000));
    let _ = explain(&junk);
    // A real message after the junk is still found.
    junk.push_str("\n\nWaiting for DNS-01 challenge propagation: DNS record for \"a.example.com\" not yet propagated\n");
    let found = explain(&junk);
    assert!(
        found
            .iter()
            .any(|f| f.code == Code::SelfcheckDns01NotPropagated
                && f.target.as_deref() == Some("a.example.com")),
        "{found:#?}"
    );
}

#[test]
fn cli_reads_binary_leniently_and_refuses_empty_input() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let run = |input: &[u8]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_certdx"))
            .args(["explain", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("certdx runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write");
        child.wait_with_output().expect("certdx ends")
    };
    let out = run(b"\xff\xfe caf\xe9 too many failed authorizations recently\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("ratelimit-failed-authorizations"));
    let out = run(b" \n\t\r\n");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to explain"));
}

/// Advice never promises a retry-after time the CA did not give, and names it when it did.
#[test]
fn rate_limit_advice_names_the_real_retry_after_or_none() {
    let with = expect(
        "429 urn:ietf:params:acme:error:rateLimited: too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, retry after 2025-12-31 04:04:56 UTC: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-identifiers",
        Code::RatelimitDuplicateCertificate,
    );
    let with = &with[0];
    assert!(
        with.advice.contains("wait until 2025-12-31T04:04:56Z"),
        "{}",
        with.advice
    );
    let without = expect(
        "urn:ietf:params:acme:error:rateLimited: too many certificates already issued for exact set of domains: a.example.com: see https://letsencrypt.org/docs/rate-limits/",
        Code::RatelimitDuplicateCertificate,
    );
    let without = &without[0];
    assert!(
        !without.advice.contains("retry-after time;"),
        "{}",
        without.advice
    );
    assert!(
        without.advice.contains("gave no retry-after time"),
        "{}",
        without.advice
    );
}
