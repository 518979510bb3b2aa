//! Readiness: what the 2025-2028 changes of public CAs will break, found before it fails.
//!
//! Four findings, for every Certificate whatever its state (the README's code catalogue,
//! "Readiness"):
//! `profile-limit`, `backoff-exceeds-lifetime`, `client-auth-usage`, `authz-lifetime-short`.
//! They are never a root cause (`root_cause::pick_root_cause` leaves them out) and never
//! change a Certificate's state: a Certificate that fails today fails for another reason.
//!
//! What a profile allows comes from the CA's directory when live checks fetched it, else
//! from the table of known public CAs (`model::profile`), and every finding says which.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;

use crate::model::profile::{
    AdvertisedProfiles, KnownCa, ProfileLimits, day_start, lets_encrypt_lifetimes,
    lets_encrypt_limits, parse_go_duration,
};
use crate::model::state::{challenge_is_final, human_duration};
use crate::model::{AcmeIssuer, Certificate, Challenge, Code, Evidence, Finding, Kind, ObjectRef};

pub use crate::model::profile::Directories;

/// cert-manager's failed-issuance backoff: the delay after the first failure, doubling up to
/// the maximum (`--certificate-request-minimum-backoff-duration` and `-maximum-`, 1 h and
/// 32 h by default, pkg/controller/certificates/trigger).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub initial: SignedDuration,
    /// The longest delay.
    pub max: SignedDuration,
    /// Where the values come from, for the evidence.
    pub source: String,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: SignedDuration::from_hours(1),
            max: SignedDuration::from_hours(32),
            source: "cert-manager's defaults (1h doubling to 32h)".to_owned(),
        }
    }
}

impl Backoff {
    /// The backoff the controller's `--certificate-request-minimum-backoff-duration` and
    /// `--certificate-request-maximum-backoff-duration` set (cert-manager 1.20+), the default
    /// for the one not given; `None` when neither is.
    pub fn from_flags(args: &[String]) -> Option<Backoff> {
        use crate::source::cluster::health::flag;
        let min = flag(args, "certificate-request-minimum-backoff-duration");
        let max = flag(args, "certificate-request-maximum-backoff-duration");
        if min.is_none() && max.is_none() {
            return None;
        }
        let default = Backoff::default();
        let parse = |v: &Option<String>, d: SignedDuration| {
            v.as_deref().and_then(parse_go_duration).unwrap_or(d)
        };
        let initial = parse(&min, default.initial);
        let max_delay = parse(&max, default.max).max(initial);
        let shown = |name: &str, v: &Option<String>| {
            v.as_ref()
                .map(|v| format!("--certificate-request-{name}-backoff-duration={v}"))
        };
        let flags: Vec<String> = [shown("minimum", &min), shown("maximum", &max)]
            .into_iter()
            .flatten()
            .collect();
        Some(Backoff {
            initial,
            max: max_delay,
            source: format!("the controller's flags ({})", flags.join(" ")),
        })
    }

    /// The instants after the first failure at which cert-manager tries again, up to `within`.
    fn attempts_within(&self, within: SignedDuration) -> Vec<SignedDuration> {
        let mut at = SignedDuration::ZERO;
        let mut delay = self.initial;
        let mut out = vec![at];
        while out.len() < 64 {
            at += delay;
            if at >= within {
                break;
            }
            out.push(at);
            delay = (delay * 2).min(self.max);
        }
        out
    }

    /// How long a run of failures takes to reach the longest delay and wait it out once: a
    /// renewal window shorter than this leaves only a few tries before expiry.
    pub fn ramp(&self) -> SignedDuration {
        let mut total = SignedDuration::ZERO;
        let mut delay = self.initial;
        for _ in 0..64 {
            total += delay;
            if delay >= self.max {
                break;
            }
            delay = (delay * 2).min(self.max);
        }
        total
    }
}

/// What the readiness checks know about the Certificate's issuer.
pub struct IssuerFacts<'a> {
    /// The issuer as `Issuer ns/name` or `ClusterIssuer name`.
    pub label: &'a str,
    /// The issuer object, for the findings' subject.
    pub object: ObjectRef,
    /// Its ACME settings.
    pub acme: &'a AcmeIssuer,
}

/// The profile in force for an issuer, and where its limits come from.
struct Profile {
    /// The profile's name, when known (the Issuer's, or the CA's known default).
    name: Option<String>,
    /// Its limits, when known.
    limits: Option<ProfileLimits>,
    /// The CA, when it is one certdx knows.
    ca: Option<KnownCa>,
    /// One sentence: where the facts come from.
    source: String,
}

/// The readiness findings of one Certificate.
pub fn readiness(
    cert: &Certificate,
    issuer: Option<IssuerFacts<'_>>,
    challenges: &[&Challenge],
    directories: &Directories,
    backoff: &Backoff,
    now: Timestamp,
) -> Vec<Finding> {
    let Some(issuer) = issuer else {
        return Vec::new();
    };
    let subject = ObjectRef::of(Kind::Certificate, cert);
    let mut out = Vec::new();
    let profile = profile_of(issuer.acme, directories.get(&issuer.acme.server), &mut out);
    let evidence = Evidence::Fact {
        subject: format!("{} profile", issuer.label),
        detail: profile.source.clone(),
    };
    for f in &mut out {
        // The change is on the issuer: one finding per issuer however many use it.
        f.subject = Some(issuer.object.clone());
        f.summary = f.summary.replacen("The issuer", issuer.label, 1);
        f.evidence.push(Evidence::Fact {
            subject: issuer.label.to_owned(),
            detail: format!("used by {subject}"),
        });
    }
    out.extend(profile_limits(cert, &profile));
    out.extend(backoff_window(cert, &profile, backoff, now));
    out.extend(client_auth(cert, &profile, now));
    out.extend(authz_lifetime(cert, &profile, challenges, now));
    for f in &mut out {
        if f.subject.is_none() {
            f.subject = Some(subject.clone());
        }
        if !f.evidence.contains(&evidence) {
            f.evidence.push(evidence.clone());
        }
    }
    out
}

/// Works out the profile an issuer gets; adds a `profile-limit` finding to `out` when the CA
/// does not offer the profile asked for.
fn profile_of(
    acme: &AcmeIssuer,
    fetched: Option<&Result<AdvertisedProfiles, String>>,
    out: &mut Vec<Finding>,
) -> Profile {
    let ca = KnownCa::of_server(&acme.server);
    let asked = acme.profile.clone().filter(|p| !p.is_empty());
    let name = asked
        .clone()
        .or_else(|| ca.and_then(KnownCa::default_profile).map(str::to_owned));
    let table = |n: &str| match ca {
        Some(KnownCa::LetsEncrypt) => lets_encrypt_limits(n),
        _ => None,
    };
    match fetched {
        Some(Ok(dir)) => {
            let source = format!("fetched from {} (meta.profiles: {})", dir.url, dir.names());
            if let Some(p) = &asked
                && !dir.offers(p)
            {
                let why = if dir.profiles.is_empty() {
                    "the CA advertises no profiles (cert-manager: `does not support profiles`)"
                        .to_owned()
                } else {
                    format!("it offers {}", dir.names())
                };
                out.push(
                    Finding::new(
                        Code::ProfileLimit,
                        format!("The issuer asks for profile {p:?}, which {} does not offer: {why}", acme.server),
                    )
                    .with_detail("cert-manager fails every order with `acme: certificate authority does not advertise a profile with name ...`"),
                );
            }
            Profile {
                limits: name.as_deref().and_then(table),
                name,
                ca,
                source,
            }
        }
        other => {
            let why = match other {
                Some(Err(e)) => format!("the directory could not be fetched ({e}); "),
                _ => String::new(),
            };
            let source = match ca {
                Some(c @ KnownCa::LetsEncrypt) => {
                    if let Some(p) = &asked
                        && table(p).is_none()
                    {
                        out.push(Finding::new(
                            Code::ProfileLimit,
                            format!("The issuer asks for profile {p:?}, which {} does not offer (classic, tlsserver, shortlived as of 2026; tlsclient ended 2026-07-08)", c.name()),
                        ).with_detail("cert-manager fails every order with `acme: certificate authority does not advertise a profile with name ...`; Boulder answers `profile name \"...\" not recognized`"));
                    }
                    format!(
                        "{why}known profile of {} as of 2026, not fetched: {}",
                        c.name(),
                        name.as_deref().unwrap_or("the default")
                    )
                }
                Some(c) => format!(
                    "{why}{} is a known public CA; its profiles are not in certdx's table, not fetched",
                    c.name()
                ),
                None => format!("{why}an ACME CA certdx has no table for, not fetched"),
            };
            Profile {
                limits: name.as_deref().and_then(table),
                name,
                ca,
                source,
            }
        }
    }
}

/// The identifiers cert-manager puts in the order: the Common Name (when not also a DNS
/// name), the DNS names and the IP addresses.
fn identifiers(cert: &Certificate) -> Vec<String> {
    let spec = &cert.spec;
    let mut ids: Vec<String> = Vec::new();
    for n in spec
        .common_name
        .iter()
        .chain(&spec.dns_names)
        .chain(&spec.ip_addresses)
    {
        if !ids.contains(n) {
            ids.push(n.clone());
        }
    }
    ids
}

fn profile_limits(cert: &Certificate, profile: &Profile) -> Vec<Finding> {
    let (Some(limits), Some(ca)) = (&profile.limits, profile.ca) else {
        return Vec::new();
    };
    let subject = ObjectRef::of(Kind::Certificate, cert);
    let spec = &cert.spec;
    let p = &limits.name;
    let mut out = Vec::new();
    let ids = identifiers(cert);
    if ids.len() > limits.max_identifiers {
        out.push(
            Finding::new(
                Code::ProfileLimit,
                format!(
                    "{subject} asks for {} names; {}'s {p} profile takes at most {} per order: every order fails (Boulder: \"Order cannot contain more than {} identifiers\"), in effect now",
                    ids.len(),
                    ca.name(),
                    limits.max_identifiers,
                    limits.max_identifiers
                ),
            )
            .with_detail("split the Certificate into Certificates of at most 25 names each"),
        );
    }
    if !spec.ip_addresses.is_empty() && !limits.ip_addresses {
        let since = lets_encrypt_limits("shortlived")
            .and_then(|l| l.since)
            .map(|d| format!(" (generally available since {d})"))
            .unwrap_or_default();
        out.push(
            Finding::new(
                Code::ProfileLimit,
                format!(
                    "{subject} asks for IP address{} {}; {}'s {p} profile issues none: every order fails, in effect now. Only shortlived allows them{since}",
                    if spec.ip_addresses.len() == 1 { "" } else { "es" },
                    spec.ip_addresses.join(", "),
                    ca.name(),
                ),
            )
            .with_target(spec.ip_addresses[0].clone())
            .with_detail("Boulder answers `Default profile does not permit IP address identifiers. See available profiles at https://letsencrypt.org/docs/profiles/.`"),
        );
    }
    if let Some(cn) = spec.common_name.as_deref().filter(|_| !limits.common_name) {
        let ip = cn.parse::<std::net::IpAddr>().is_ok();
        // An IP address in the CN makes the CA refuse the CSR; a DNS name is dropped from
        // the subject: the certificate issues without it (uacme#96, LE community 239012).
        let (what, sev) = if ip {
            (
                "the CA refuses a CSR with an IP address in the Common Name",
                crate::model::Severity::Error,
            )
        } else {
            (
                "the certificate issues without it: a client that reads the Common Name finds none",
                crate::model::Severity::Warning,
            )
        };
        out.push(
            Finding::new(
                Code::ProfileLimit,
                format!(
                    "{subject} sets commonName {cn}; {}'s {p} profile has no Common Name: {what}, in effect now",
                    ca.name()
                ),
            )
            .with_severity(sev)
            .with_target(cn.to_owned())
            .with_detail("remove spec.commonName (the name stays in spec.dnsNames)"),
        );
    }
    out
}

/// How long before expiry cert-manager renews a certificate of `lifetime`
/// (pkg/util/pki/renewaltime.go: renewBefore when shorter than the lifetime, else
/// renewBeforePercentage in (0,100), else a third).
fn renew_before(cert: &Certificate, lifetime: SignedDuration) -> (SignedDuration, String) {
    let spec = &cert.spec;
    if let Some(rb) = spec.renew_before.as_deref().and_then(parse_go_duration)
        && rb > SignedDuration::ZERO
        && rb < lifetime
    {
        return (rb, format!("spec.renewBefore {}", human_duration(rb)));
    }
    if let Some(pct) = spec
        .renew_before_percentage
        .filter(|p| (1..100).contains(p))
    {
        let rb = SignedDuration::from_secs(lifetime.as_secs() * i64::from(pct) / 100);
        return (rb, format!("spec.renewBeforePercentage {pct}%"));
    }
    (
        lifetime / 3,
        "a third of the lifetime (the default)".to_owned(),
    )
}

fn backoff_window(
    cert: &Certificate,
    profile: &Profile,
    backoff: &Backoff,
    now: Timestamp,
) -> Vec<Finding> {
    let subject = ObjectRef::of(Kind::Certificate, cert);
    // The lifetimes to judge: the one the certificate has, then the ones its CA announced.
    let mut lifetimes: Vec<(SignedDuration, Option<Date>, String)> = Vec::new();
    let status = cert.status.as_ref();
    if let Some((nb, na)) = status.and_then(|s| s.not_before.zip(s.not_after)) {
        lifetimes.push((
            na.duration_since(nb),
            None,
            "the current certificate's lifetime".to_owned(),
        ));
    }
    if let (Some(KnownCa::LetsEncrypt), Some(name)) = (profile.ca, profile.name.as_deref()) {
        let table = lets_encrypt_lifetimes(name);
        let started = |d: Option<Date>| d.is_none_or(|d| day_start(d) <= now);
        let current = table.iter().rev().find(|l| started(l.from));
        let future = table.iter().filter(|l| !started(l.from));
        for l in current.into_iter().chain(future) {
            if lifetimes.iter().any(|(x, _, _)| *x == l.lifetime) {
                continue;
            }
            let since = l.from.map(|d| format!(" from {d}")).unwrap_or_default();
            lifetimes.push((
                l.lifetime,
                l.from.filter(|d| !started(Some(*d))),
                format!("Let's Encrypt's {name} profile{since}, known as of 2026"),
            ));
        }
    }
    if lifetimes.is_empty()
        && let Some(d) = cert.spec.duration.as_deref().and_then(parse_go_duration)
    {
        lifetimes.push((d, None, "spec.duration".to_owned()));
    }
    let ramp = backoff.ramp();
    for (lifetime, from, what) in lifetimes {
        if lifetime <= SignedDuration::ZERO {
            continue;
        }
        let (window, how) = renew_before(cert, lifetime);
        if window >= ramp {
            continue;
        }
        let tries = backoff.attempts_within(window).len();
        let when = match from {
            Some(d) => format!("from {d}"),
            None => "in effect now".to_owned(),
        };
        return vec![
            Finding::new(
                Code::BackoffExceedsLifetime,
                format!(
                    "{subject} renews {} before expiry of a {} certificate; after a failure cert-manager waits {} doubling to {}: only {tries} tries fit before it expires, {when}",
                    human_duration(window),
                    human_duration(lifetime),
                    human_duration(backoff.initial),
                    human_duration(backoff.max),
                ),
            )
            .with_detail(format!(
                "lifetime: {what}; renewal window: {how}; backoff: {}; a run of failures takes {} to reach the longest delay and wait it once",
                backoff.source,
                human_duration(ramp)
            )),
        ];
    }
    Vec::new()
}

fn client_auth(cert: &Certificate, profile: &Profile, now: Timestamp) -> Vec<Finding> {
    let asks = cert
        .spec
        .usages
        .iter()
        .any(|u| u.trim().eq_ignore_ascii_case("client auth"));
    if !asks {
        return Vec::new();
    }
    let subject = ObjectRef::of(Kind::Certificate, cert);
    let f = match profile.ca {
        Some(ca) => {
            let end = ca.client_auth_end(profile.name.as_deref());
            let p = profile.name.as_deref().unwrap_or("default");
            let when = match end.from {
                Some(d) if day_start(d) > now => format!("from {d}"),
                Some(d) => format!("since {d}"),
                None if end.refused => "now".to_owned(),
                None => "never issued under this profile".to_owned(),
            };
            let what = if end.refused {
                format!("{} refuses the request (badCSR)", ca.name())
            } else {
                format!(
                    "{}'s {p} profile issues it without client authentication ({when})",
                    ca.name()
                )
            };
            Finding::new(
                Code::ClientAuthUsage,
                format!("{subject} asks for client auth usage: {what}; mTLS clients fail with \"certificate specifies an incompatible key usage\""),
            )
            .with_severity(if end.refused {
                crate::model::Severity::Error
            } else {
                crate::model::Severity::Warning
            })
        }
        None => Finding::new(
            Code::ClientAuthUsage,
            format!("{subject} asks for client auth usage: if its ACME CA is publicly trusted, it no longer issues client authentication (public CAs stopped in 2026; the date for this CA is not known to certdx)"),
        )
        .with_severity(crate::model::Severity::Info),
    };
    vec![f]
}

fn authz_lifetime(
    cert: &Certificate,
    profile: &Profile,
    challenges: &[&Challenge],
    now: Timestamp,
) -> Vec<Finding> {
    let Some(limits) = profile
        .limits
        .as_ref()
        .filter(|l| l.pending_authz <= SignedDuration::from_hours(1))
    else {
        return Vec::new();
    };
    let subject = ObjectRef::of(Kind::Certificate, cert);
    // cert-manager's DNS-01 self-check measured it: presented, still not valid, for longer
    // than the CA keeps a pending authorization.
    let slow = challenges.iter().filter(|c| c.is_dns01()).find_map(|c| {
        let st = c.status.as_ref()?;
        let age = now.duration_since(c.creation_timestamp()?.0);
        (st.presented && !challenge_is_final(c) && age > limits.pending_authz).then_some((c, age))
    });
    let Some((ch, age)) = slow else {
        return Vec::new();
    };
    let chref = ObjectRef::of(Kind::Challenge, *ch);
    vec![
        Finding::new(
            Code::AuthzLifetimeShort,
            format!(
                "{chref}'s DNS-01 record has not propagated after {}; under the {} profile a pending authorization lives {}: it expires before the CA can validate, in effect now",
                human_duration(age),
                limits.name,
                human_duration(limits.pending_authz)
            ),
        )
        .with_subject(chref)
        .with_target(ch.spec.dns_name.clone())
        .with_detail(format!(
            "measured by cert-manager's self-check: the Challenge was created {} ago, presented and not yet valid (for {subject})",
            human_duration(age)
        )),
    ]
}

/// `authz-lifetime-short` from certdx's own DNS-01 check: the record was seen on its way (on
/// some nameservers and not others, or not yet at the resolver), and what it may still take,
/// from the zone's own figures (SOA refresh, cached TTL), outlasts a pending authorization.
pub fn measured_authz_lifetime(
    name: &str,
    lifetime: &crate::diagnose::playbook::AuthzLifetime,
    propagation: &crate::checks::dns01::Propagation,
) -> Option<Finding> {
    let bound = u64::from(propagation.bound_secs);
    if bound <= lifetime.secs {
        return None;
    }
    let secs = |s: u64| {
        human_duration(SignedDuration::from_secs(
            i64::try_from(s).unwrap_or(i64::MAX),
        ))
    };
    Some(
        Finding::new(
            Code::AuthzLifetimeShort,
            format!(
                "{name}'s DNS-01 record may take up to {} more to propagate; under {} a pending authorization lives {}: it can expire before the CA sees the record, in effect now",
                secs(bound),
                lifetime.source,
                secs(lifetime.secs)
            ),
        )
        .with_target(name.to_owned())
        .with_detail(format!(
            "measured by certdx's DNS-01 check: {}. Make the zone's secondaries take NOTIFY (or lower its SOA refresh) and keep the challenge TTL short, or issue under a profile whose pending authorizations live longer",
            propagation.why
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_controllers_flags_set_the_backoff() {
        let args: Vec<String> = ["--v=2", "--certificate-request-maximum-backoff-duration=4h"]
            .map(str::to_owned)
            .to_vec();
        let b = Backoff::from_flags(&args).unwrap();
        assert_eq!(b.initial, SignedDuration::from_hours(1));
        assert_eq!(b.max, SignedDuration::from_hours(4));
        // 1 + 2 + 4: a 6-day certificate renewed at a third of its life is then fine.
        assert_eq!(b.ramp(), SignedDuration::from_hours(7));
        assert!(b.source.contains("maximum-backoff-duration=4h"));
        assert!(Backoff::from_flags(&["--v=2".to_owned()]).is_none());
    }

    #[test]
    fn the_default_backoff_ramps_in_63_hours_and_fits_six_tries_in_a_six_day_window() {
        let b = Backoff::default();
        assert_eq!(b.ramp(), SignedDuration::from_hours(63));
        // 160 h / 3 = 53h20m: tries at 0, 1, 3, 7, 15, 31 h.
        assert_eq!(
            b.attempts_within(SignedDuration::from_hours(160) / 3).len(),
            6
        );
    }
}
