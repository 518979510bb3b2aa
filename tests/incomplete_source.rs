//! Diagnoses never claim more than the source proves: an issuer missing from a dump is "not in
//! this source", only a full listing proves it does not exist, and absence never outranks a
//! cause found further down the chain.

use std::path::Path;

use certdx::diagnose::{DiagnoseOptions, Diagnosis, diagnose_estate};
use certdx::model::{ChainIndex, Code, Coverage, Inventory, Listing, Severity};
use certdx::source::snapshot;

fn load(name: &str) -> Inventory {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    snapshot::load(&path).expect("fixture loads").inventory
}

fn diagnose(inv: &Inventory) -> Vec<Diagnosis> {
    let opts = DiagnoseOptions {
        now: "2026-01-15T12:00:00Z".parse().unwrap(),
        ..Default::default()
    };
    diagnose_estate(inv, &ChainIndex::build(inv), &opts)
}

fn without_issuers(mut inv: Inventory) -> Inventory {
    inv.issuers.clear();
    inv.cluster_issuers.clear();
    inv
}

fn root(d: &Diagnosis) -> Option<Code> {
    d.root_cause.as_ref().map(|r| r.code)
}

/// Every fixture, dumped without its issuers, keeps the root cause it has with them: what the
/// chain itself says about a failure does not depend on the issuer being in the dump.
#[test]
fn a_dump_without_issuers_names_the_same_root_cause() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let full = load(&name);
        if full.issuers.is_empty() && full.cluster_issuers.is_empty() {
            continue;
        }
        let with = diagnose(&full);
        let without = diagnose(&without_issuers(full));
        for (a, b) in with.iter().zip(&without) {
            assert_eq!(a.subject, b.subject);
            assert_eq!(
                root(a),
                root(b),
                "{name}: {} with and without issuers",
                a.subject
            );
            for f in &b.findings {
                assert_ne!(
                    f.code,
                    Code::IssuerNotFound,
                    "{name}: absence in a dump proves nothing"
                );
            }
            if a.acme_server.is_some() {
                // The dump had its issuer and has it no longer: the diagnosis says so.
                assert!(
                    b.findings.iter().any(|f| f.code == Code::IssuerNotInSource),
                    "{name}: {} does not say its issuer is not in the source",
                    a.subject
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} diagnoses compared");
}

/// The old rule: a dump holding some ClusterIssuers but not the one referenced called it
/// "does not exist", fatal, and made it the root cause over a rate limit on the Order.
#[test]
fn an_issuer_missing_from_a_dump_with_other_issuers_is_information() {
    let mut inv = load("rate-limited.yaml");
    let mut other = inv.cluster_issuers[0].clone();
    other.metadata.name = Some("letsencrypt-staging".into());
    inv.cluster_issuers = vec![other];
    let with_limit: Vec<_> = diagnose(&inv)
        .into_iter()
        .filter(|d| root(d).is_some_and(|c| c.as_str().starts_with("ratelimit-")))
        .collect();
    assert!(
        !with_limit.is_empty(),
        "the rate limit stays the root cause"
    );
    for d in &with_limit {
        let f = d
            .findings
            .iter()
            .find(|f| f.code == Code::IssuerNotInSource)
            .expect("says the issuer is not in the source");
        assert_eq!(f.severity, Severity::Info);
        assert!(
            f.summary.contains("ClusterIssuer letsencrypt-prod"),
            "{}",
            f.summary
        );
        let detail = &f.detail;
        assert!(
            detail.contains("Order ") && detail.contains("existed then"),
            "{detail}"
        );
        assert!(detail.contains("kubectl get clusterissuers"), "{detail}");
    }
}

/// A source that listed every ClusterIssuer proves absence: fatal and the root cause when
/// nothing further down explains the failure.
#[test]
fn a_full_listing_proves_the_issuer_does_not_exist() {
    let mut inv = without_issuers(load("issuer-not-ready.yaml"));
    inv.listed = Listing {
        issuers: Coverage::All,
        cluster_issuers: Coverage::All,
        chain: Coverage::All,
    };
    let ds = diagnose(&inv);
    let d = ds.iter().find(|d| d.subject.name == "billing").unwrap();
    assert_eq!(root(d), Some(Code::IssuerNotFound), "{:#?}", d.findings);
    let rc = d.root_cause.as_ref().unwrap();
    assert_eq!(rc.severity, Severity::Fatal);
    assert!(
        rc.summary.contains("Issuer billing/acme-staging"),
        "{}",
        rc.summary
    );

    // Listing only another namespace proves nothing about this one.
    inv.listed.issuers = Coverage::Namespace("elsewhere".into());
    let ds = diagnose(&inv);
    let d = ds.iter().find(|d| d.subject.name == "billing").unwrap();
    assert!(d.findings.iter().all(|f| f.code != Code::IssuerNotFound));
    assert!(d.findings.iter().any(|f| f.code == Code::IssuerNotInSource));
}

/// A listed-and-missing issuer under a rate-limited Order: the rate limit stopped this
/// attempt, so it stays the root cause; the missing issuer is a warning about the next one.
#[test]
fn proven_absence_does_not_outrank_a_cause_further_down() {
    let mut inv = without_issuers(load("rate-limited.yaml"));
    inv.listed.cluster_issuers = Coverage::All;
    let ds = diagnose(&inv);
    let mut seen = 0;
    for d in ds.iter().filter(|d| d.root_cause.is_some()) {
        let Some(f) = d.findings.iter().find(|f| f.code == Code::IssuerNotFound) else {
            continue;
        };
        seen += 1;
        assert_ne!(root(d), Some(Code::IssuerNotFound), "{}", d.subject);
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.detail.contains("deleted since"), "{}", f.detail);
    }
    assert!(seen > 0, "no certificate said its issuer is gone");
}

fn strip(mut inv: Inventory, requests: bool, orders: bool, challenges: bool) -> Inventory {
    if requests {
        inv.requests.clear();
    }
    if orders {
        inv.orders.clear();
    }
    if challenges {
        inv.challenges.clear();
    }
    inv
}

/// A dump with only Certificates: every Certificate that is not Ready still gets a root
/// cause: the one its own conditions prove, or what the dump lacks with the command that
/// adds it. Never "in progress" without a word.
#[test]
fn a_dump_of_certificates_alone_says_what_is_missing_and_how_to_add_it() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut incomplete = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let inv = strip(load(&name), true, true, true);
        for d in diagnose(&inv) {
            if d.subject.kind != certdx::model::Kind::Certificate
                || d.status.state == certdx::model::State::Ready
            {
                continue;
            }
            let rc = d
                .root_cause
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: {} has no root cause", d.subject));
            if rc.code == Code::SourceIncomplete {
                incomplete += 1;
                let ns = &d.subject.namespace;
                assert!(
                    rc.advice
                        .contains("kubectl get certificaterequests.cert-manager.io,")
                        && rc.advice.contains(&format!("-n {ns} -o yaml")),
                    "{name}: {}",
                    rc.advice
                );
                assert!(rc.summary.contains("CertificateRequests"), "{}", rc.summary);
            }
        }
    }
    assert!(
        incomplete >= 3,
        "only {incomplete} certificates said what is missing"
    );
}

/// An Order without its Challenges in the dump names exactly the Challenges; a source that
/// listed the chain (a live cluster) says nothing of the kind.
#[test]
fn a_missing_link_is_named_precisely_and_only_where_absence_is_possible() {
    let inv = strip(load("challenge-stuck.yaml"), false, false, true);
    let ds = diagnose(&inv);
    let f = ds
        .iter()
        .flat_map(|d| &d.findings)
        .find(|f| f.code == Code::SourceIncomplete)
        .expect("the missing Challenges are named");
    assert!(
        f.summary.contains("no Challenges at all") && f.summary.contains("Order legacy/"),
        "{}",
        f.summary
    );
    assert!(!f.summary.contains("CertificateRequests"), "{}", f.summary);
    assert!(
        f.advice.contains("challenges.acme.cert-manager.io"),
        "{}",
        f.advice
    );
    assert!(!f.advice.contains("orders.acme"), "{}", f.advice);

    let mut listed = inv.clone();
    listed.listed.chain = Coverage::All;
    assert!(
        diagnose(&listed)
            .iter()
            .flat_map(|d| &d.findings)
            .all(|f| f.code != Code::SourceIncomplete),
        "a full listing proves the Challenges are not there"
    );
}
