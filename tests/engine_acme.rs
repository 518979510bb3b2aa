//! The engine's ACME client and HTTP-01 solver against a real Pebble 2.4.0 (and the fault
//! proxy for what Pebble cannot do). Every wait is bounded by a deadline.

#[path = "common/acme_finalize.rs"]
mod acme_finalize;
#[path = "common/pebble_lab.rs"]
mod pebble_lab;

use std::sync::Arc;
use std::time::Duration;

use acme_finalize::{Finalize, IssuedCertificate};
use certdx::engine::acme::{
    AccountOptions, AcmeClient, AcmeConfig, AcmeError, AcmeOrder, AuthzStatus, ChallengeKind, Eab,
    KeyKind, OrderStatus,
};
use certdx::engine::solver::http01::{Http01Limits, Http01Solver, Http01Tokens};
use certdx::model::Code;
use pebble_lab::{EAB_HMAC_KEY, EAB_KID, Endpoint, Fault, FaultProxy, PebbleLab, PebbleOptions};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio::time::Instant;

fn deadline(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

fn config(lab: &PebbleLab, directory_url: String) -> AcmeConfig {
    AcmeConfig::new(directory_url).with_ca_cert_pem(lab.root_pem())
}

async fn account(config: &AcmeConfig) -> AcmeClient {
    let options = AccountOptions {
        contact_email: Some("ops@certdx.example".into()),
        eab: None,
    };
    AcmeClient::create_account(config, &options, deadline(30))
        .await
        .expect("account created")
}

async fn solver(lab: &PebbleLab) -> Http01Solver {
    Http01Solver::bind(lab.http01_addr(), Http01Limits::default())
        .await
        .expect("solver bound on the lab's HTTP-01 port")
}

/// Answers every authorization of `order` over HTTP-01 through `tokens`, waits until each is
/// valid and withdraws its token.
async fn validate_all(order: &mut AcmeOrder, tokens: &Http01Tokens) {
    let authorizations = order
        .authorizations(deadline(30))
        .await
        .expect("authorizations");
    for authz in &authorizations {
        assert_eq!(authz.status, AuthzStatus::Pending, "{authz:?}");
        let challenge = authz
            .challenge(&ChallengeKind::Http01)
            .expect("Pebble offers http-01");
        assert!(
            challenge
                .key_authorization
                .ends_with(&format!(".{}", order.client().key_thumbprint())),
            "key authorization is token.thumbprint"
        );
        tokens.add(challenge.token.clone(), challenge.key_authorization.clone());
        order
            .set_challenge_ready(&challenge.url, deadline(30))
            .await
            .expect("challenge ready");
    }
    for authz in &authorizations {
        let done = order
            .poll_authorization(&authz.url, deadline(30))
            .await
            .expect("authorization validated");
        assert_eq!(done.status, AuthzStatus::Valid);
        let token = &authz.challenge(&ChallengeKind::Http01).unwrap().token;
        assert!(tokens.remove(token));
    }
}

/// Orders `names`, validates them over HTTP-01 and downloads the certificate.
async fn issue(client: &AcmeClient, tokens: &Http01Tokens, names: &[&str]) -> IssuedCertificate {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut order = client
        .new_order(&names, deadline(30))
        .await
        .expect("order created");
    assert_eq!(order.info().status, OrderStatus::Pending);
    let mut listed = order.info().identifiers.clone();
    listed.sort();
    let mut asked = names.clone();
    asked.sort();
    assert_eq!(listed, asked);
    validate_all(&mut order, tokens).await;
    let ready = order.poll_ready(deadline(30)).await.expect("order ready");
    assert_eq!(ready.status, OrderStatus::Ready);
    order
        .finalize_and_download(KeyKind::EcdsaP256, deadline(60))
        .await
        .expect("certificate issued")
}

/// The chain verifies for every name against Pebble's issuing root, and the key is the leaf's.
fn verify_certificate(issued: &IssuedCertificate, issuer_root_pem: &str, names: &[&str]) {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(issued.chain_pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("the chain is PEM");
    assert!(chain.len() >= 2, "leaf and intermediate: {}", chain.len());
    let root = CertificateDer::from_pem_slice(issuer_root_pem.as_bytes()).expect("root PEM");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root).expect("root added");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .expect("verifier");
    for name in names {
        let server_name = ServerName::try_from(name.to_string()).expect("server name");
        rustls::client::danger::ServerCertVerifier::verify_server_cert(
            verifier.as_ref(),
            &chain[0],
            &chain[1..],
            &server_name,
            &[],
            UnixTime::now(),
        )
        .unwrap_or_else(|e| panic!("the chain does not verify for {name}: {e}"));
    }
    let pem = issued.key.expose_pem();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).expect("key PEM");
    let signing = rustls::crypto::ring::sign::any_supported_type(&key).expect("a usable key");
    rustls::sign::CertifiedKey::new(chain, signing)
        .keys_match()
        .expect("the key belongs to the leaf");
    assert!(
        !format!("{issued:?}").contains("PRIVATE KEY"),
        "Debug never shows the key"
    );
}

#[tokio::test]
async fn account_is_created_then_reused_from_stored_credentials() {
    let lab = PebbleLab::start().await;
    let config = config(&lab, lab.directory_url());
    let created = account(&config).await;
    let credentials = created.credentials();
    assert_eq!(credentials["id"], created.account_url());
    assert_eq!(credentials["directory"], lab.directory_url());
    assert!(!format!("{created:?}").contains(credentials["key_pkcs8"].as_str().unwrap()));

    // What the store would keep: the JSON as text, read back later.
    let stored = serde_json::to_string(&credentials).unwrap();
    let restored = AcmeClient::from_credentials(
        &config,
        &serde_json::from_str(&stored).unwrap(),
        deadline(30),
    )
    .await
    .expect("account restored");
    assert_eq!(restored.account_url(), created.account_url());
    assert_eq!(restored.key_thumbprint(), created.key_thumbprint());
    // The restored account is the same account on the server: it can order.
    let order = restored
        .new_order(&["reuse.certdx.example".to_owned()], deadline(30))
        .await
        .expect("order through the restored account");
    assert_eq!(order.info().status, OrderStatus::Pending);

    // Credentials of another CA are refused before any request.
    let other = AcmeConfig::new("https://127.0.0.1:1/dir").with_ca_cert_pem(lab.root_pem());
    let err = AcmeClient::from_credentials(&other, &credentials, deadline(5))
        .await
        .unwrap_err();
    assert!(matches!(err, AcmeError::Config(_)), "{err}");
    assert_eq!(err.code(), Code::IssuerNotReady);
    // Garbage credentials are a configuration error that does not quote them.
    let mut broken = credentials.clone();
    broken["key_pkcs8"] = "c2VjcmV0LWtleS1tYXRlcmlhbA!!".into();
    let err = AcmeClient::from_credentials(&config, &broken, deadline(5))
        .await
        .unwrap_err();
    assert!(matches!(err, AcmeError::Config(_)), "{err}");
    assert!(!err.to_string().contains("c2VjcmV0"));
}

#[tokio::test]
async fn one_name_is_issued_end_to_end_over_http01() {
    let lab = PebbleLab::start().await;
    let solver = solver(&lab).await;
    let client = account(&config(&lab, lab.directory_url())).await;
    let name = "www.one.certdx.example";
    let issued = issue(&client, &solver.tokens(), &[name]).await;
    assert_eq!(issued.order.status, OrderStatus::Valid);
    assert!(issued.order.certificate.is_some());
    verify_certificate(&issued, &lab.issuer_root_pem().await, &[name]);
    assert!(
        solver.tokens().served() >= 1,
        "Pebble fetched the key authorization from the solver"
    );
    assert!(solver.tokens().is_empty());
    solver.shutdown().await;
}

#[tokio::test]
async fn half_the_nonces_rejected_still_issues_a_three_name_certificate() {
    let lab = PebbleLab::start_with(PebbleOptions {
        nonce_reject_percent: 50,
        ..PebbleOptions::default()
    })
    .await;
    let proxy = FaultProxy::start(&lab).await;
    let solver = solver(&lab).await;
    let client = account(&config(&lab, proxy.directory_url())).await;
    let names = [
        "a.nonce.certdx.example",
        "b.nonce.certdx.example",
        "c.nonce.certdx.example",
    ];
    let issued = issue(&client, &solver.tokens(), &names).await;
    verify_certificate(&issued, &lab.issuer_root_pem().await, &names);
    let rejected = proxy
        .log()
        .iter()
        .filter(|l| l.method == "POST" && l.status == 400)
        .count();
    assert!(
        rejected >= 3,
        "Pebble rejected nonces along the way (badNonce answers seen: {rejected})"
    );
}

#[tokio::test]
async fn a_rate_limited_new_order_returns_the_retry_after_instant_and_finding() {
    let lab = PebbleLab::start().await;
    let proxy = FaultProxy::start(&lab).await;
    let client = account(&config(&lab, proxy.directory_url())).await;
    let detail = "Error creating new order :: too many new orders (300) from this account in the \
                  last 3h0m0s, retry after 2031-01-01 00:00:00 UTC: see \
                  https://letsencrypt.org/docs/rate-limits/#new-orders-per-account";
    proxy.inject(
        Endpoint::NewOrder,
        Fault::RateLimited {
            retry_after: "Wed, 01 Jan 2031 00:00:00 GMT".into(),
            detail: detail.into(),
        },
        1,
    );
    let started = Instant::now();
    let err = client
        .new_order(&["limited.certdx.example".to_owned()], deadline(30))
        .await
        .err()
        .expect("rate limited");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a long Retry-After is returned, not slept through"
    );
    assert!(err.is_rate_limited(), "{err}");
    assert_eq!(err.status(), Some(429));
    let at: jiff::Timestamp = "2031-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(err.retry_after(), Some(at), "the header's instant is kept");
    let finding = err.finding();
    assert_eq!(finding.code, Code::RatelimitNewOrders, "{finding:?}");
    assert_eq!(finding.rate_limit.and_then(|r| r.retry_after), Some(at));
    let new_orders = proxy
        .log()
        .iter()
        .filter(|l| l.endpoint == Endpoint::NewOrder)
        .count();
    assert_eq!(new_orders, 1, "not retried into the limit");

    // A rateLimited problem whose text names no limit still carries the header's instant.
    proxy.inject(
        Endpoint::NewOrder,
        Fault::RateLimited {
            retry_after: "3600".into(),
            detail: "Slow down".into(),
        },
        1,
    );
    let err = client
        .new_order(&["limited.certdx.example".to_owned()], deadline(30))
        .await
        .err()
        .expect("rate limited");
    let finding = err.finding();
    assert_eq!(finding.code, Code::RatelimitOther);
    let in_an_hour = finding.rate_limit.and_then(|r| r.retry_after).unwrap();
    let ahead = in_an_hour.duration_since(jiff::Timestamp::now());
    assert!(
        ahead > jiff::SignedDuration::from_secs(3590)
            && ahead <= jiff::SignedDuration::from_secs(3600),
        "{ahead:?}"
    );
    // Once the limit lifts the same client orders normally.
    client
        .new_order(&["limited.certdx.example".to_owned()], deadline(30))
        .await
        .expect("order after the limit");
}

#[tokio::test]
async fn unavailable_with_retry_after_is_retried_after_the_given_time() {
    let lab = PebbleLab::start().await;
    let proxy = FaultProxy::start(&lab).await;
    let client = account(&config(&lab, proxy.directory_url())).await;
    proxy.inject(
        Endpoint::NewOrder,
        Fault::Unavailable {
            retry_after: Some("1".into()),
            problem: true,
        },
        1,
    );
    proxy.inject(
        Endpoint::Nonce,
        Fault::Unavailable {
            retry_after: Some("1".into()),
            problem: false,
        },
        1,
    );
    let order = client
        .new_order(&["busy.certdx.example".to_owned()], deadline(30))
        .await
        .expect("the order succeeds after the 503s");
    assert_eq!(order.info().status, OrderStatus::Pending);

    let log = proxy.log();
    for endpoint in [Endpoint::Nonce, Endpoint::NewOrder] {
        let requests: Vec<_> = log.iter().filter(|l| l.endpoint == endpoint).collect();
        let refused = requests
            .iter()
            .position(|l| l.injected)
            .unwrap_or_else(|| panic!("{endpoint:?} got its 503"));
        let next = requests
            .get(refused + 1)
            .unwrap_or_else(|| panic!("{endpoint:?} was retried"));
        let gap = next.at.duration_since(requests[refused].answered);
        assert!(
            gap >= Duration::from_millis(950),
            "{endpoint:?} retried after {gap:?}, before Retry-After: 1"
        );
        assert!(gap < Duration::from_secs(5), "{endpoint:?}: {gap:?}");
    }

    // A Retry-After past the caller's deadline is given back at once, with its instant.
    proxy.inject(
        Endpoint::NewOrder,
        Fault::Unavailable {
            retry_after: Some("30".into()),
            problem: true,
        },
        1,
    );
    let started = Instant::now();
    let err = client
        .new_order(&["busy.certdx.example".to_owned()], deadline(5))
        .await
        .err()
        .expect("503 beyond the deadline");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(err.status(), Some(503));
    assert!(err.retry_after().is_some());
    assert_eq!(err.code(), Code::AcmeServerError);
}

#[tokio::test]
async fn an_order_held_in_processing_is_polled_with_retry_after_until_valid() {
    let lab = PebbleLab::start().await;
    let proxy = FaultProxy::start(&lab).await;
    let solver = solver(&lab).await;
    let client = account(&config(&lab, proxy.directory_url())).await;
    proxy.hold_processing(3, 1);
    let name = "slow.certdx.example";
    let issued = issue(&client, &solver.tokens(), &[name]).await;
    verify_certificate(&issued, &lab.issuer_root_pem().await, &[name]);

    let log = proxy.log();
    let held: Vec<_> = log.iter().filter(|l| l.held).collect();
    assert_eq!(held.len(), 3, "three answers said processing");
    // After each held answer the next order poll waited for its Retry-After.
    for h in &held {
        let next = log
            .iter()
            .find(|l| l.endpoint == Endpoint::Order && l.at > h.answered)
            .expect("polled again");
        let gap = next.at.duration_since(h.answered);
        assert!(
            gap >= Duration::from_millis(950),
            "polled {gap:?} after Retry-After: 1"
        );
    }
    // Pebble finalizes asynchronously itself: its answer to finalize says "processing".
    let finalized = log
        .iter()
        .find(|l| l.endpoint == Endpoint::Finalize)
        .expect("finalized through the proxy");
    assert_eq!(finalized.order_status.as_deref(), Some("processing"));
    let downloads = log
        .iter()
        .filter(|l| l.endpoint == Endpoint::Certificate)
        .count();
    assert_eq!(downloads, 1);

    // Held longer than the caller waits: a deadline error carrying the server's next instant.
    proxy.hold_processing(100, 30);
    let mut order = client
        .new_order(&["slower.certdx.example".to_owned()], deadline(30))
        .await
        .unwrap();
    validate_all(&mut order, &solver.tokens()).await;
    order.poll_ready(deadline(30)).await.unwrap();
    order
        .finalize(KeyKind::EcdsaP256, deadline(30))
        .await
        .unwrap();
    let started = Instant::now();
    // Pebble may still answer "processing" itself before the proxy holds it; either way the
    // wait is bounded by the 3 s deadline.
    let err = order
        .poll_certificate(Instant::now() + Duration::from_secs(3))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, AcmeError::Deadline { .. }), "{err}");
    assert!(err.retry_after().is_some(), "{err}");
    assert_eq!(err.code(), Code::AcmeServerError);
}

#[tokio::test]
async fn deactivating_an_authorization_and_pebbles_deactivated_order_status() {
    let lab = PebbleLab::start().await;
    let proxy = FaultProxy::start(&lab).await;
    let client = account(&config(&lab, proxy.directory_url())).await;
    let names = vec![
        "one.deactivate.certdx.example".to_owned(),
        "two.deactivate.certdx.example".to_owned(),
    ];
    let mut order = client.new_order(&names, deadline(30)).await.unwrap();
    let authorizations = order.authorizations(deadline(30)).await.unwrap();
    assert_eq!(authorizations.len(), 2);

    let first = order
        .deactivate_authorization(&authorizations[0].url, deadline(30))
        .await
        .expect("deactivated");
    assert_eq!(first.status, AuthzStatus::Deactivated);

    let info = order
        .refresh(deadline(30))
        .await
        .expect("the order still reads");
    assert_eq!(info.status, OrderStatus::Deactivated);
    assert!(
        proxy
            .log()
            .iter()
            .any(|l| l.order_status.as_deref() == Some("deactivated")),
        "Pebble itself reported the order as deactivated"
    );
    let err = order.poll_ready(deadline(30)).await.unwrap_err();
    assert!(
        matches!(
            &err,
            AcmeError::OrderFailed {
                status: OrderStatus::Deactivated,
                ..
            }
        ),
        "{err}"
    );

    // Resuming the order from its URL (what a restarted engine does) works too.
    let mut resumed = client.order(order.url(), deadline(30)).await.unwrap();
    assert_eq!(resumed.info().status, OrderStatus::Deactivated);
    let mut identifiers = resumed.info().identifiers.clone();
    identifiers.sort();
    assert_eq!(
        identifiers, names,
        "read from the raw order despite its status"
    );
    // The other, still pending authorization is deactivated through the resumed order, and
    // deactivating the first again is a no-op that reports its state.
    let second = resumed
        .deactivate_authorization(&authorizations[1].url, deadline(30))
        .await
        .unwrap();
    assert_eq!(second.status, AuthzStatus::Deactivated);
    let again = resumed
        .deactivate_authorization(&authorizations[0].url, deadline(30))
        .await
        .unwrap();
    assert_eq!(again.status, AuthzStatus::Deactivated);
    // A URL that is not part of the order is refused without a request to it.
    let err = resumed
        .deactivate_authorization("https://127.0.0.1:1/authZ/nope", deadline(5))
        .await
        .unwrap_err();
    assert!(matches!(err, AcmeError::Config(_)), "{err}");
}

#[tokio::test]
async fn failed_validations_map_to_finding_codes() {
    let lab = PebbleLab::start().await;
    let solver = solver(&lab).await;
    let client = account(&config(&lab, lab.directory_url())).await;

    // Pebble 2.4.0 never uses the "dns" problem type: a name it cannot resolve for HTTP-01 is
    // a connection problem ("could not resolve URL") and a failed TXT lookup is unauthorized,
    // where Boulder says "dns" for both. certdx's classifier goes by the type the CA sent.
    lab.set_servfail("servfail.certdx.example").await;
    // A loopback address where nothing listens on the HTTP-01 port: connection refused.
    lab.add_a("refused.certdx.example", &["127.0.0.2"]).await;
    // DNS-01 whose TXT lookup fails.
    lab.set_servfail("_acme-challenge.dnsfail.certdx.example")
        .await;
    let cases = [
        (
            "servfail.certdx.example",
            ChallengeKind::Http01,
            Code::AcmeConnection,
        ),
        (
            "refused.certdx.example",
            ChallengeKind::Http01,
            Code::AcmeConnection,
        ),
        (
            "wrong.certdx.example",
            ChallengeKind::Http01,
            Code::AcmeUnauthorized,
        ),
        (
            "dnsfail.certdx.example",
            ChallengeKind::Dns01,
            Code::AcmeUnauthorized,
        ),
        (
            "notxt.certdx.example",
            ChallengeKind::Dns01,
            // Pebble: "No TXT records found for DNS challenge": the record is missing.
            Code::Dns01TxtMissing,
        ),
    ];
    for (name, kind, code) in cases {
        let mut order = client
            .new_order(&[name.to_owned()], deadline(30))
            .await
            .unwrap();
        let authz = order.authorizations(deadline(30)).await.unwrap().remove(0);
        let challenge = authz.challenge(&kind).unwrap().clone();
        if kind == ChallengeKind::Dns01 {
            assert!(
                challenge
                    .dns_txt_value
                    .as_ref()
                    .is_some_and(|v| v.len() == 43)
            );
        }
        // For HTTP-01, the wrong body: not this challenge's key authorization.
        solver
            .tokens()
            .add(challenge.token.clone(), "not-the-key-authorization");
        order
            .set_challenge_ready(&challenge.url, deadline(30))
            .await
            .unwrap();
        let err = order
            .poll_authorization(&authz.url, deadline(60))
            .await
            .unwrap_err();
        let AcmeError::AuthorizationFailed {
            status, problem, ..
        } = &err
        else {
            panic!("{name}: {err}");
        };
        assert_eq!(*status, AuthzStatus::Invalid, "{name}");
        assert!(problem.is_some(), "{name}: the challenge's error is kept");
        assert_eq!(err.code(), code, "{name}: {err}\n{:?}", err.finding());
        let err = order.poll_ready(deadline(30)).await.unwrap_err();
        assert!(
            matches!(
                &err,
                AcmeError::OrderFailed {
                    status: OrderStatus::Invalid,
                    ..
                }
            ),
            "{name}: {err}"
        );
        solver.tokens().remove(&challenge.token);
    }
}

#[tokio::test]
async fn external_account_binding_is_required_and_never_shown() {
    let lab = PebbleLab::start_with(PebbleOptions {
        eab: true,
        ..PebbleOptions::default()
    })
    .await;
    let config = config(&lab, lab.directory_url());
    let with = AccountOptions {
        contact_email: None,
        eab: Some(Eab::new(EAB_KID, EAB_HMAC_KEY).unwrap()),
    };
    let client = AcmeClient::create_account(&config, &with, deadline(30))
        .await
        .expect("account with EAB");
    assert!(client.account_url().starts_with("https://127.0.0.1:"));

    let without = AcmeClient::create_account(&config, &AccountOptions::default(), deadline(30))
        .await
        .unwrap_err();
    assert_eq!(without.code(), Code::AcmeAccount, "{without}");

    let wrong_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let wrong = AccountOptions {
        contact_email: None,
        eab: Some(Eab::new(EAB_KID, wrong_key).unwrap()),
    };
    let err = AcmeClient::create_account(&config, &wrong, deadline(30))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AcmeAccount, "{err}");
    for text in [
        err.to_string(),
        format!("{err:?}"),
        format!("{wrong:?}"),
        format!("{with:?}"),
        serde_json::to_string(&err.findings()).unwrap(),
    ] {
        assert!(
            !text.contains(wrong_key) && !text.contains(EAB_HMAC_KEY),
            "{text}"
        );
    }
}

#[tokio::test]
async fn every_wait_ends_at_the_deadline() {
    let lab = PebbleLab::start().await;
    let client = account(&config(&lab, lab.directory_url())).await;
    let mut order = client
        .new_order(&["unanswered.certdx.example".to_owned()], deadline(30))
        .await
        .unwrap();
    let authz = order.authorizations(deadline(30)).await.unwrap().remove(0);
    // Never answered: pending forever, so only the deadline ends the poll.
    let started = Instant::now();
    let err = order
        .poll_authorization(&authz.url, Instant::now() + Duration::from_millis(1500))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, AcmeError::Deadline { .. }), "{err}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    // Finalizing a pending order is refused, not attempted.
    let err = order
        .finalize(KeyKind::EcdsaP256, deadline(10))
        .await
        .unwrap_err();
    assert!(matches!(err, AcmeError::Protocol { .. }), "{err}");
    // The authorization is not left pending and unknown.
    let done = order
        .deactivate_authorization(&authz.url, deadline(10))
        .await
        .unwrap();
    assert_eq!(done.status, AuthzStatus::Deactivated);

    // A CA that does not answer at all: the deadline, not a hang.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}/dir", silent.local_addr().unwrap());
    let started = Instant::now();
    let err = AcmeClient::create_account(
        &AcmeConfig::new(url).with_ca_cert_pem(lab.root_pem()),
        &AccountOptions::default(),
        Instant::now() + Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(matches!(err, AcmeError::Deadline { .. }), "{err}");
    assert_eq!(err.code(), Code::AcmeServerError);
    drop(silent);
}
