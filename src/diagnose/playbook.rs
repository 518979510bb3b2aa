//! Runs the playbook checks for a name (or a Challenge): name sanity first, then HTTP-01 or
//! DNS-01 and CAA side by side, many targets at once with a bound on concurrency.

use std::time::Instant;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::checks::caa::{ca_domain_for_server, check_caa};
use crate::checks::dns::Dns;
use crate::checks::dns01::check_dns01_detailed;
use crate::checks::http01::{Http01Options, check_http01};
use crate::checks::name::{Method, check_name};
use crate::checks::{CheckReport, CheckStatus};
use crate::model::{Challenge, Finding, Inventory, Severity};

/// The CAA issuer domain assumed when nothing says which CA is used: Let's Encrypt's.
pub const DEFAULT_CA_DOMAIN: &str = "letsencrypt.org";

/// What to check: a name, how it is validated, and what the CA expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The identifier, `*.` included for wildcards.
    pub name: String,
    /// HTTP-01 or DNS-01.
    #[serde(with = "method_serde")]
    pub method: Method,
    /// The HTTP-01 token, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The key authorization (HTTP-01 body) or TXT value (DNS-01), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The CA's CAA issuer domain.
    pub ca_domain: String,
    /// The ACME account URI, for CAA `accounturi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_uri: Option<String>,
    /// The Challenge this target comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<crate::model::ObjectRef>,
    /// How long the CA keeps a pending authorization under the issuer's profile, when certdx
    /// knows it: a DNS-01 record measured to propagate slower gives `authz-lifetime-short`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authz_lifetime: Option<AuthzLifetime>,
}

/// A pending authorization's lifetime at the target's CA, and whose figure it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthzLifetime {
    /// The lifetime, in seconds.
    pub secs: u64,
    /// Whose figure, in words ("Let's Encrypt's shortlived profile").
    pub source: String,
}

impl Target {
    /// The target a Challenge describes, with the CA and account taken from its issuer when
    /// the inventory has it.
    pub fn from_challenge(ch: &Challenge, inv: &Inventory) -> Target {
        use kube::ResourceExt;
        let r = &ch.spec.issuer_ref;
        let namespace = ch.namespace().unwrap_or_default();
        let issuer = if r.is_cluster() {
            inv.cluster_issuers
                .iter()
                .find(|i| i.name_any() == r.name)
                .map(|i| (i.spec.config.acme.clone(), i.status.clone()))
        } else {
            inv.issuers
                .iter()
                .find(|i| i.name_any() == r.name && i.namespace().as_deref() == Some(&namespace))
                .map(|i| (i.spec.config.acme.clone(), i.status.clone()))
        };
        let acme = issuer.as_ref().and_then(|(a, _)| a.as_ref());
        let server = acme.map(|a| a.server.clone());
        let authz_lifetime = acme
            .and_then(crate::model::profile::known_pending_authz)
            .map(|(lifetime, source)| AuthzLifetime {
                secs: lifetime.as_secs().unsigned_abs(),
                source,
            });
        let account_uri = issuer
            .as_ref()
            .and_then(|(_, s)| s.as_ref())
            .and_then(|s| s.acme.as_ref())
            .and_then(|a| a.uri.clone());
        let name = if ch.spec.wildcard {
            format!("*.{}", ch.spec.dns_name)
        } else {
            ch.spec.dns_name.clone()
        };
        Target {
            name,
            method: if ch.is_dns01() {
                Method::Dns01
            } else {
                Method::Http01
            },
            token: Some(ch.spec.token.clone()).filter(|t| !t.is_empty()),
            key: Some(ch.spec.key.clone()).filter(|k| !k.is_empty()),
            ca_domain: server
                .as_deref()
                .and_then(ca_domain_for_server)
                .unwrap_or(DEFAULT_CA_DOMAIN)
                .to_owned(),
            account_uri,
            challenge: Some(crate::model::ObjectRef::of(
                crate::model::Kind::Challenge,
                ch,
            )),
            authz_lifetime,
        }
    }
}

/// How the playbook reaches the network.
#[derive(Debug, Clone)]
pub struct PlaybookOptions {
    /// HTTP-01 settings (timeouts, ports, loopback).
    pub http: Http01Options,
    /// How many targets are checked at once.
    pub concurrency: usize,
}

impl Default for PlaybookOptions {
    fn default() -> Self {
        PlaybookOptions {
            http: Http01Options::default(),
            concurrency: 32,
        }
    }
}

/// The checks run for one target and everything they found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybookResult {
    /// What was checked.
    pub target: Target,
    /// Each check with its status and duration.
    pub checks: Vec<CheckReport>,
    /// All findings, most severe first.
    pub findings: Vec<Finding>,
    /// How long the whole playbook took for this target, in milliseconds.
    pub duration_ms: u64,
    /// The cluster side (solver objects, controller logs), when the Challenge came from a
    /// live cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<super::cluster::ClusterSide>,
}

impl PlaybookResult {
    /// The worst severity found, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Runs every check that applies to `target`. Name sanity goes first: a name that cannot
/// exist (invalid, NXDOMAIN) makes the other checks pointless, and the addresses it finds are
/// what HTTP-01 probes. The method's check and CAA then run concurrently.
pub async fn run_playbook(dns: &Dns, target: &Target, opts: &PlaybookOptions) -> PlaybookResult {
    let started = Instant::now();
    let bare = target.name.strip_prefix("*.").unwrap_or(&target.name);
    let wildcard = target.name.starts_with("*.");
    let (name_report, addresses) = check_name(dns, &target.name, target.method).await;
    let mut checks = vec![name_report];
    // A name that cannot exist or cannot be resolved makes the other checks report the same
    // failure again in their own words: skip them.
    let hopeless = checks[0].status == CheckStatus::Failed;
    // Without the addresses (the resolver did not answer) HTTP-01 has nothing to probe:
    // saying "no address" would be a verdict nobody gave.
    let unresolved = addresses.is_empty()
        && checks[0]
            .findings
            .iter()
            .any(|f| f.code == crate::model::Code::CheckInconclusive);
    if !hopeless {
        let method_check = async {
            match target.method {
                Method::Http01 if unresolved => Some(CheckReport {
                    name: "http01".to_owned(),
                    target: target.name.clone(),
                    status: CheckStatus::Skipped,
                    duration_ms: 0,
                    findings: Vec::new(),
                }),
                Method::Http01 if !wildcard => Some(
                    check_http01(
                        bare,
                        &addresses,
                        target.token.as_deref(),
                        target.key.as_deref(),
                        dns,
                        &opts.http,
                    )
                    .await,
                ),
                Method::Http01 => None,
                Method::Dns01 => {
                    let (mut report, details) =
                        check_dns01_detailed(dns, bare, target.key.as_deref()).await;
                    let slow = target
                        .authz_lifetime
                        .as_ref()
                        .zip(details.propagation.as_ref());
                    if let Some((lifetime, propagation)) = slow {
                        report
                            .findings
                            .extend(super::readiness::measured_authz_lifetime(
                                &target.name,
                                lifetime,
                                propagation,
                            ));
                    }
                    Some(report)
                }
            }
        };
        let caa = check_caa(
            dns,
            bare,
            wildcard,
            &target.ca_domain,
            target.account_uri.as_deref(),
            Some(target.method),
        );
        let (method_report, caa_report) = futures::join!(method_check, caa);
        checks.extend(method_report);
        checks.push(caa_report);
    } else {
        for name in [
            if target.method == Method::Dns01 {
                "dns01"
            } else {
                "http01"
            },
            "caa",
        ] {
            checks.push(CheckReport {
                name: name.to_owned(),
                target: target.name.clone(),
                status: CheckStatus::Skipped,
                duration_ms: 0,
                findings: Vec::new(),
            });
        }
    }
    let mut findings: Vec<Finding> = checks
        .iter()
        .flat_map(|c| c.findings.iter().cloned())
        .collect();
    for f in &mut findings {
        // A multi-name check's findings each say which name they are about.
        f.target.get_or_insert_with(|| target.name.clone());
        if let Some(ch) = &target.challenge {
            f.subject.get_or_insert_with(|| ch.clone());
        }
    }
    findings.sort_by_key(|f| std::cmp::Reverse((f.severity, super::rank(f.code))));
    PlaybookResult {
        target: target.clone(),
        checks,
        findings,
        duration_ms: started.elapsed().as_millis() as u64,
        cluster: None,
    }
}

/// Runs the playbook for many targets, at most `opts.concurrency` at once, results in input
/// order.
/// The resolver is tested first: one that cannot answer for the root zone would turn every
/// name into "does not exist", so then no check runs and each target says why.
pub async fn run_many(
    dns: &Dns,
    targets: &[Target],
    opts: &PlaybookOptions,
) -> Vec<PlaybookResult> {
    if targets.is_empty() {
        return Vec::new();
    }
    if let Some(f) = crate::checks::resolver::resolver_sanity(dns).await {
        return targets.iter().map(|t| not_checked(t, &f)).collect();
    }
    // One run: the questions targets share (zone cuts, NS sets, CAA above the names) are
    // asked once.
    let dns = &dns.in_run();
    // Unordered: a target waiting on a silent server must not hold back the ones behind it,
    // as an ordered window would. What each server sees is bounded per destination (see
    // `checks::limit`), so this bound is only how many checks are open at once.
    let mut done: Vec<(usize, PlaybookResult)> = futures::stream::iter(targets.iter().enumerate())
        .map(|(i, t)| async move { (i, run_playbook(dns, t, opts).await) })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// [`run_playbook`] after testing the resolver, for a single target.
pub async fn run_playbook_guarded(
    dns: &Dns,
    target: &Target,
    opts: &PlaybookOptions,
) -> PlaybookResult {
    let dns = &dns.in_run();
    match crate::checks::resolver::resolver_sanity(dns).await {
        Some(f) => not_checked(target, &f),
        None => run_playbook(dns, target, opts).await,
    }
}

/// The result for a target no check ran for, because the resolver cannot be trusted.
fn not_checked(target: &Target, why: &Finding) -> PlaybookResult {
    let mut f = why.clone();
    f.target = Some(target.name.clone());
    if let Some(ch) = &target.challenge {
        f.subject = Some(ch.clone());
    }
    PlaybookResult {
        target: target.clone(),
        checks: vec![CheckReport {
            name: "resolver".to_owned(),
            target: target.name.clone(),
            status: CheckStatus::Warning,
            duration_ms: 0,
            findings: vec![f.clone()],
        }],
        findings: vec![f],
        duration_ms: 0,
        cluster: None,
    }
}

/// `Method` as its ACME spelling (`http-01`, `dns-01`) in JSON.
mod method_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::checks::name::Method;

    pub fn serialize<S: Serializer>(m: &Method, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(m.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Method, D::Error> {
        match String::deserialize(d)?.to_ascii_lowercase().as_str() {
            "http-01" => Ok(Method::Http01),
            "dns-01" => Ok(Method::Dns01),
            other => Err(serde::de::Error::custom(format!(
                "unknown method {other:?}"
            ))),
        }
    }
}
