//! The finding codes: certdx's public contract (see the README's catalogue).
//!
//! A code is never renamed or reused. Each carries its default severity, a one-line meaning
//! and the advice certdx gives, so the README catalogue, the reports and the TUI all say the
//! same thing.

use serde::{Deserialize, Serialize};

use super::Severity;

macro_rules! codes {
    ($( $variant:ident = $id:literal, $sev:ident, $meaning:literal, $advice:literal; )*) => {
        /// A stable finding id, serialised as its kebab-case string.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Code {
            $( #[doc = $meaning] $variant, )*
        }

        impl Code {
            /// Every code, in catalogue order.
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The stable kebab-case id.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $id, )* }
            }

            /// The severity a finding with this code has unless a check knows better.
            pub fn default_severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$sev, )* }
            }

            /// One sentence: when this code is reported.
            pub fn meaning(self) -> &'static str {
                match self { $( Code::$variant => $meaning, )* }
            }

            /// What the engineer should do about it.
            pub fn advice(self) -> &'static str {
                match self { $( Code::$variant => $advice, )* }
            }

            /// Looks a code up by its kebab-case id.
            pub fn from_id(id: &str) -> Option<Code> {
                match id { $( $id => Some(Code::$variant), )* _ => None }
            }
        }
    };
}

codes! {
    // Name and address.
    DnsNxdomain = "dns-nxdomain", Fatal,
        "The domain (or its registered parent) does not exist in DNS.",
        "Create the DNS records for the name (or fix a typo in the Certificate's dnsNames); a CA cannot validate a name that does not resolve.";
    DnsLookupFailed = "dns-lookup-failed", Error,
        "Resolving the domain failed with SERVFAIL, REFUSED or a timeout (DNSSEC bogus included).",
        "Fix the domain's authoritative nameservers or DNSSEC chain (check with `dig +trace` and a DNSSEC analyser); CAs treat failed lookups as fatal.";
    InvalidIdentifier = "invalid-identifier", Fatal,
        "The name is not a valid DNS identifier for ACME (bad label, IP where a name is required, no dot, ...).",
        "Correct the name in the Certificate's dnsNames/commonName: only fully qualified names with valid labels can be issued.";
    WildcardNeedsDns01 = "wildcard-needs-dns01", Fatal,
        "A wildcard name is being validated with a method other than DNS-01.",
        "Configure a DNS-01 solver for the wildcard name (ACME only allows DNS-01 for wildcards).";
    LocalResolverUnreliable = "local-resolver-unreliable", Warning,
        "The resolver certdx asked from this machine does not answer for the root zone (it filters, is offline, or answers NXDOMAIN for everything): no check from here can be trusted, so none was run.",
        "Run certdx where cert-manager runs (a pod in the cluster, a host on its network), or give a working resolver with --resolver; the cluster's own evidence stands.";
    LocalViewDiffers = "local-view-differs", Warning,
        "This machine sees a name differently from the cluster: here it does not resolve, while cert-manager's self-check reached it (split DNS, a VPN, a filtering resolver).",
        "Trust the cluster's evidence; to check what the CA sees, run certdx where cert-manager runs or with --resolver set to a public resolver.";
    CheckInconclusive = "check-inconclusive", Warning,
        "A check could not finish: a server certdx asked did not answer within the time budget, even after retries (another address, TCP after UDP), so nothing is concluded from it about the name.",
        "Run the check again, with a larger --timeout or a lower --concurrency if certdx's own resolver is the one named; a server that never answers is worth looking at on its own.";

    // HTTP-01.
    Http01NoAddress = "http01-no-address", Fatal,
        "The name has no A and no AAAA record, so HTTP-01 has nowhere to connect.",
        "Point the name's A/AAAA records at the ingress that serves the solver, or use DNS-01.";
    Http01ReservedAddress = "http01-reserved-address", Error,
        "An address of the name is private, loopback, link-local, CGNAT, documentation or ULA space the CA cannot reach.",
        "Publish public addresses for the name (split-horizon DNS must give the CA the public view), or use DNS-01.";
    Http01Unreachable = "http01-unreachable", Error,
        "Connecting to or reading from one of the name's addresses on port 80 failed or timed out.",
        "Open port 80 from the internet to the ingress (firewall, security group, load balancer listener) on every address of the name.";
    Http01WrongStatus = "http01-wrong-status", Error,
        "The challenge URL's final response is not 200.",
        "Make the challenge path reach cert-manager's solver: 404 means the solver route is missing, 401/403 an auth wall, 502/503 the solver pod is down.";
    Http01WrongBody = "http01-wrong-body", Error,
        "The challenge URL answers 200 but the body is not the expected key authorization.",
        "Another backend answers for the challenge path (catch-all route, CDN cache, another ingress): route /.well-known/acme-challenge/ to the solver.";
    Http01BadRedirect = "http01-bad-redirect", Error,
        "A redirect the CA will not follow: a port other than 80/443, a scheme other than http/https, more than 10 hops, a loop or a malformed Location.",
        "Redirect only to http/https on ports 80/443, at most 10 hops, or exempt /.well-known/acme-challenge/ from the redirect.";
    Http01Redirect = "http01-redirect", Info,
        "The challenge URL redirects in a way the CA follows; the hops are listed.",
        "Nothing to do unless a later hop fails; exempting the challenge path from redirects makes validation less fragile.";
    Http01AddressMismatch = "http01-address-mismatch", Error,
        "The name's IPv4 and IPv6 addresses answer the challenge differently.",
        "Fix the IPv6 (or IPv4) path so both serve the solver, or remove the stale AAAA/A record: CAs prefer IPv6 when it exists.";
    Http01NotPointingToIngress = "http01-not-pointing-to-ingress", Error,
        "The name's A/AAAA records are not the addresses of the Ingress/Gateway/Service that serves the solver.",
        "Update the DNS records to the ingress's load-balancer addresses, or solve through the ingress the name actually points at.";
    Http01SolverBlocked = "http01-solver-blocked", Error,
        "The HTTP-01 solver cannot serve: pod missing or not ready, no endpoints, ingress class mismatch, forced HTTPS or auth on the challenge path, or a NetworkPolicy denies it.",
        "Fix the solver's pod/Service/Ingress named in the evidence (ingress class, annotations, NetworkPolicy) so the challenge path reaches it.";

    Http01SolverRejected = "http01-solver-rejected", Error,
        "The API server refused the HTTP-01 solver's Ingress, HTTPRoute or Pod (an admission webhook such as ingress-nginx's, a policy engine, Pod Security).",
        "Allow the solver's objects: exempt the challenge path from the ingress controller's validation (ingress-nginx: strict-validate-path-type), add a policy exception for cert-manager's solver, or set podTemplate fields Pod Security requires.";
    // DNS-01.
    Dns01ZoneNotFound = "dns01-zone-not-found", Fatal,
        "No SOA was found walking up from the challenge name.",
        "Check the zone exists and is delegated; the DNS-01 solver must manage the zone that contains _acme-challenge.<name> (or its CNAME target).";
    Dns01TxtMissing = "dns01-txt-missing", Error,
        "An authoritative server answers without the expected TXT value (NXDOMAIN or no TXT).",
        "Check the DNS provider credentials and zone of the solver; if only some servers lack it, wait for or fix zone transfer to them.";
    Dns01TxtWrongValue = "dns01-txt-wrong-value", Error,
        "TXT records exist on a server but none equals the expected value.",
        "Remove stale _acme-challenge TXT records left by earlier attempts or another tool; the solver must publish the current key.";
    Dns01NsError = "dns01-ns-error", Error,
        "An authoritative server answers REFUSED or SERVFAIL, or does not answer.",
        "Fix or remove the broken nameserver from the zone's NS set: CAs may ask any of them.";
    Dns01NsInconsistent = "dns01-ns-inconsistent", Warning,
        "The authoritative servers disagree (different answers or SOA serials).",
        "Wait for zone transfers to finish, or fix the secondary that lags (compare SOA serials in the evidence).";
    Dns01Cname = "dns01-cname", Info,
        "The challenge name is delegated by CNAME (acme-dns style); the target is what was checked.",
        "Make sure the solver writes to the CNAME target's zone.";
    Dns01RecursiveStale = "dns01-recursive-stale", Warning,
        "Every authoritative server has the value but the recursive resolver still answers without it.",
        "Wait for the negative-cache TTL (SOA minimum) to expire, or point cert-manager's --dns01-recursive-nameservers at the authoritative servers.";

    // CAA.
    CaaForbidsIssuance = "caa-forbids-issuance", Fatal,
        "The relevant CAA record set does not authorise the CA's issuer domain (issuewild for wildcards).",
        "Add a CAA record authorising the CA (e.g. `0 issue \"letsencrypt.org\"`) at the name or the parent that carries the CAA set.";
    CaaAccounturiMismatch = "caa-accounturi-mismatch", Fatal,
        "A CAA accounturi parameter names another ACME account.",
        "Put the Issuer's account URI in the CAA record's accounturi parameter, or issue with the account it names.";
    CaaValidationmethodsExcludes = "caa-validationmethods-excludes", Fatal,
        "A CAA validationmethods parameter excludes the validation method in use.",
        "Add the method (http-01 or dns-01) to the CAA record's validationmethods, or switch the solver to an allowed method.";
    CaaCriticalUnknown = "caa-critical-unknown", Fatal,
        "A CAA record has the critical flag and a tag the CA does not know.",
        "Remove the critical flag (128) from the unknown CAA record, or remove the record.";
    CaaLookupFailed = "caa-lookup-failed", Fatal,
        "A CAA query failed (SERVFAIL, timeout): CAs refuse to issue when CAA cannot be checked.",
        "Fix the nameservers that fail CAA queries (some old servers mishandle type 257).";
    CaaMalformed = "caa-malformed", Error,
        "A CAA record does not parse.",
        "Rewrite the CAA record in the RFC 8659 form `flags tag \"value\"`.";

    // ACME errors and rate limits.
    RatelimitDuplicateCertificate = "ratelimit-duplicate-certificate", Fatal,
        "Let's Encrypt's limit on certificates for the exact same set of identifiers was hit.",
        "Stop re-issuing (look for a loop deleting the Secret or Certificate); wait until the retry-after time, or change the set of names.";
    RatelimitCertificatesPerDomain = "ratelimit-certificates-per-domain", Fatal,
        "The limit on new certificates per registered domain was hit.",
        "Wait until the retry-after time; combine names into fewer certificates, or request a limit adjustment from the CA.";
    RatelimitFailedAuthorizations = "ratelimit-failed-authorizations", Fatal,
        "Too many failed validations for this identifier and account.",
        "Fix the validation problem first (use `certdx check`), then wait until the retry-after time; test against the staging CA.";
    RatelimitNewOrders = "ratelimit-new-orders", Fatal,
        "The limit on new orders per account was hit.",
        "Find what creates orders in a loop (flapping Certificates, many failing ones) and wait until the retry-after time.";
    RatelimitPendingAuthorizations = "ratelimit-pending-authorizations", Fatal,
        "The retired limit on pending authorizations per account was hit (older servers).",
        "Let pending authorizations finish or expire; deactivate abandoned ones.";
    RatelimitNewRegistrations = "ratelimit-new-registrations", Fatal,
        "Too many new ACME accounts from this IP address or IPv6 range.",
        "Reuse one account per Issuer (keep the account key Secret) instead of registering new ones; wait until the retry-after time.";
    RatelimitAccountPaused = "ratelimit-account-paused", Fatal,
        "The ACME account is paused for this identifier after many consecutive failed validations.",
        "Fix the validation problem, then unpause the account at the URL in the error (the finding's paused.unpause_url) before retrying: retrying into a pause only adds failed validations, and waiting does not lift it.";
    RatelimitOther = "ratelimit-other", Fatal,
        "The CA returned another rateLimited problem.",
        "Wait until the retry-after time (if given) and reduce the request rate.";
    AcmeUnauthorized = "acme-unauthorized", Error,
        "The CA's own validation failed (unauthorized, \"Invalid response from ...\").",
        "Run the playbook checks for the challenge; the CA saw what the evidence shows, from the internet.";
    AcmeDns = "acme-dns", Error,
        "The CA hit a DNS problem resolving the name, its TXT or its CAA.",
        "Fix the DNS problem the CA names (NXDOMAIN, SERVFAIL, timeout) on the domain's authoritative nameservers.";
    AcmeCaa = "acme-caa", Fatal,
        "The CA refused to issue because of CAA.",
        "Add a CAA record authorising the CA, or remove the restrictive one.";
    AcmeConnection = "acme-connection", Error,
        "The CA could not connect to the name's server.",
        "Open port 80 (and 443 if redirected) to the internet on every address of the name.";
    AcmeRejectedIdentifier = "acme-rejected-identifier", Fatal,
        "The CA will not issue for this name (policy, blocklist, unsupported identifier).",
        "Remove the name from the Certificate or use a CA that accepts it.";
    AcmeBadNonce = "acme-bad-nonce", Info,
        "The CA rejected a nonce (badNonce): a transient, retried error.",
        "Nothing to do unless it repeats; cert-manager retries automatically.";
    AcmeServerError = "acme-server-error", Warning,
        "The CA had an internal error, a 5xx, or is busy.",
        "Wait and retry; check the CA's status page.";
    AcmeAccount = "acme-account", Fatal,
        "The CA rejects the ACME account: no account for this key, account deactivated, External Account Binding required or rejected, an invalid or unsupported contact.",
        "Fix the Issuer's account: a valid email (no example.com, no forbidden domain), the EAB key ID and HMAC Secret the CA gave you, or a new account key Secret if the CA no longer knows the old one.";
    AcmeDirectoryUnreachable = "acme-directory-unreachable", Fatal,
        "The ACME server (its directory) could not be fetched: DNS, TLS verification (an intercepting proxy's certificate), a wrong URL (404, an HTML page), a timeout.",
        "Check the Issuer's server URL (it must end in /directory), and that cert-manager's pod can reach it: egress firewall, proxy settings, a TLS-intercepting proxy's CA.";
    AcmeBadCsr = "acme-bad-csr", Fatal,
        "The CA refused the certificate request (badCSR / badPublicKey): a blocked or weak key, or an extension it no longer issues (OCSP must-staple, client authentication).",
        "Remove what the CA refuses from the Certificate (must-staple, client auth usage) or generate a new private key (rotationPolicy: Always).";
    AcmeOrderNotReady = "acme-order-not-ready", Error,
        "The order was finalized before it was ready, or after it became invalid or was already finalized (orderNotReady).",
        "Retry the issuance (`certdx renew`): cert-manager makes a new Order; if it repeats, look at the Order's authorizations.";
    AcmeSecondaryValidation = "acme-secondary-validation", Error,
        "The CA's remote vantage points (multi-perspective validation) failed while its primary passed.",
        "The CA saw something from other regions that a check from one place, cert-manager's or certdx's, cannot see: look for geo-blocking, GeoDNS answering differently per region, per-region firewalls or CDN rules, and allow the challenge path from everywhere.";
    AcmeProfile = "acme-profile", Fatal,
        "The requested certificate profile is not advertised or not recognised, or the order breaks its limits (more than 25 names, IP addresses where the profile forbids them).",
        "Set the Issuer's spec.acme.profile to one the CA advertises (its directory's meta.profiles), or split the Certificate to fit the profile.";
    AcmeAlreadyReplaced = "acme-already-replaced", Error,
        "ARI: the order's `replaces` names a certificate that already has a replacement order, or one this account did not issue.",
        "Nothing to fix if the client retries without `replaces`; otherwise stop the duplicate renewal (two clients renewing one certificate).";
    AcmeOther = "acme-other", Error,
        "Another ACME problem document.",
        "Read the problem's detail in the evidence; the ACME error type names the cause.";

    // cert-manager's own state.
    SelfcheckHttp01WrongStatus = "selfcheck-http01-wrong-status", Error,
        "cert-manager's HTTP-01 self-check got a status other than 200.",
        "Route /.well-known/acme-challenge/ to the solver (404), remove auth (401/403) or fix the solver pod (502/503); `certdx check` shows each hop.";
    SelfcheckHttp01WrongBody = "selfcheck-http01-wrong-body", Error,
        "cert-manager's HTTP-01 self-check got a body other than the key authorization.",
        "Another backend answers the challenge path; route it to the solver.";
    SelfcheckHttp01RequestFailed = "selfcheck-http01-request-failed", Error,
        "cert-manager's HTTP-01 self-check could not perform the GET request.",
        "Check the name resolves inside the cluster to a reachable address (hairpin NAT, split DNS, egress firewall).";
    SelfcheckDns01NotPropagated = "selfcheck-dns01-not-propagated", Warning,
        "cert-manager's DNS-01 self-check has not yet seen the TXT record on the authoritative servers.",
        "Check every authoritative server for the TXT (`certdx check --method dns-01`); if one lags, fix its zone transfer.";
    SelfcheckDns01NsError = "selfcheck-dns01-ns-error", Error,
        "cert-manager's DNS-01 self-check got REFUSED/SERVFAIL from, or could not reach, a nameserver.",
        "Fix the nameserver named in the message, or set --dns01-recursive-nameservers-only if the cluster cannot reach it.";
    SelfcheckDns01ZoneNotFound = "selfcheck-dns01-zone-not-found", Error,
        "cert-manager could not determine the zone for the challenge name.",
        "Make the zone's SOA resolvable from the cluster; check --dns01-recursive-nameservers.";
    SolverPresentFailed = "solver-present-failed", Error,
        "The DNS provider or solver failed to present the challenge.",
        "Check the solver's credentials Secret, permissions on the zone and the provider's error in the message.";
    SolverNoMatch = "solver-no-match", Fatal,
        "No configured solver can be used for this challenge.",
        "Add a solver (or fix its selector: dnsNames, dnsZones, matchLabels) in the Issuer that covers this name.";
    IssuerNotReady = "issuer-not-ready", Fatal,
        "The Issuer or ClusterIssuer is not Ready (account registration failed, EAB, bad server URL).",
        "Fix the Issuer named in the evidence: its ACME server URL, email, EAB credentials or account key Secret.";
    IssuerNotFound = "issuer-not-found", Fatal,
        "The referenced Issuer or ClusterIssuer does not exist, as cert-manager or a source that could list it says.",
        "Create the issuer, or correct issuerRef (name, kind Issuer vs ClusterIssuer, namespace).";
    IssuerNotInSource = "issuer-not-in-source", Info,
        "The referenced issuer is not in what certdx read (a dump without it, or a kind the user may not list): nothing is known about it.",
        "Include it to have it checked: `kubectl get issuers,clusterissuers -A -o yaml` into the dump, or the certdx-reader ClusterRole for list access.";
    RenewalOverdue = "renewal-overdue", Warning,
        "The Certificate is Ready, but its renewal time has passed and no issuance started: cert-manager is not renewing it.",
        "Check that cert-manager runs and watches this namespace (its controller Pod, leader election, logs); `certdx renew` starts the renewal by hand.";
    CertificateExpiring = "certificate-expiring", Warning,
        "The certificate in use is far into its lifetime: past its renewal point (warning), in its last tenth (error), or expired (fatal).",
        "Renew it now (`certdx renew`), and find out why cert-manager did not: a renewal that never started, or one that keeps failing.";
    NotReconciled = "not-reconciled", Warning,
        "cert-manager has not acted on the object: no status at all, or a status for an older generation of its spec, for longer than a reconcile takes.",
        "Check that cert-manager runs, watches this namespace and is not crash-looping; its controller logs name the object if it fails on it.";
    SourceIncomplete = "source-incomplete", Warning,
        "The source lacks the objects further down this chain (a dump without CertificateRequests, Orders or Challenges): certdx cannot see why the Certificate is not Ready.",
        "Add them to the dump with the `kubectl get ... -o yaml` command in the finding, and give certdx the directory holding both files.";
    SolverCredentialsMissing = "solver-credentials-missing", Fatal,
        "A Secret the issuer or its solver needs (account key, DNS provider credentials, EAB key) does not exist or lacks the referenced key.",
        "Create the Secret named in the evidence in the namespace cert-manager reads it from (the Issuer's namespace; the cluster resource namespace, cert-manager by default, for a ClusterIssuer), with the key the issuer references.";
    SelfcheckFailed = "selfcheck-failed", Error,
        "cert-manager's self-check failed without saying why (older cert-manager).",
        "Run `certdx check` on the Challenge to see what the self-check fails on.";
    CertManagerUnhealthy = "cert-manager-unhealthy", Fatal,
        "cert-manager itself is down or stuck: its controller, webhook or cainjector is not ready, the controller's leader Lease is not renewed, or the webhook's CA bundle is missing or wrong, or its Service has no endpoints (live clusters).",
        "Fix cert-manager first (`kubectl -n cert-manager get deploy,pods`, `kubectl -n cert-manager logs deploy/cert-manager`, `kubectl -n kube-system get lease cert-manager-controller`): the Certificates it blocks recover by themselves once it runs.";
    CertManagerWebhookUnavailable = "cert-manager-webhook-unavailable", Fatal,
        "The API server cannot reach cert-manager's webhook (\"failed calling webhook webhook.cert-manager.io\"): connection refused, timeout, or a certificate it does not trust.",
        "Check the cert-manager-webhook Pod and Service, its CA bundle (cainjector), and that the API server can reach the webhook's port (private clusters need a firewall rule).";
    IssuanceBackoff = "issuance-backoff", Warning,
        "cert-manager is backing off after failed issuance (1h, doubling up to 32h).",
        "Fix the cause, then `certdx renew` (or `cmctl renew`) to retry now instead of waiting for the backoff.";
    OrderFailedNoReason = "order-failed-no-reason", Error,
        "The Order is invalid with an empty reason: the cause is on its Challenges.",
        "Look at the Order's failed Challenge (or its authorization URL) for the actual error.";
    ChallengeNotScheduled = "challenge-not-scheduled", Warning,
        "The Challenge waits for cert-manager's scheduler: the maximum number of Challenges (60 by default) are already processing.",
        "Clear stuck Challenges elsewhere in the cluster (they hold scheduler slots) or raise --max-concurrent-challenges.";
    ChallengeBlockedDuplicate = "challenge-blocked-duplicate", Warning,
        "The Challenge waits because another Challenge for the same DNS name and type is processing.",
        "Let the other Challenge finish, or delete its stale Order if it is stuck.";
    ChallengeStuck = "challenge-stuck", Error,
        "The Challenge has been presented and self-checking for far longer than propagation should take.",
        "The self-check retries every 10 s forever: run `certdx check` on it to see what the self-check keeps failing on.";
    // Readiness: what the 2025-2028 changes of public CAs will break, before it fails.
    ProfileLimit = "profile-limit", Error,
        "The Certificate asks for what its issuer's ACME profile will not issue: more than 25 names, IP addresses outside a profile that allows them, a Common Name where the profile has none, or a profile the CA does not offer.",
        "Fit the Certificate to the profile (split it into Certificates of at most 25 names, move IP addresses to an Issuer with the `shortlived` profile, drop spec.commonName), or set the Issuer's spec.acme.profile to one that allows it.";
    BackoffExceedsLifetime = "backoff-exceeds-lifetime", Warning,
        "cert-manager's failed-issuance backoff (1 h doubling to 32 h by default) can outlast the renewal window of a short-lived certificate: a few failed renewals and it expires.",
        "Renew earlier (a larger spec.renewBefore or renewBeforePercentage), shorten the controller's --certificate-request-maximum-backoff-duration, and alert on failed renewals of these Certificates; watch `certdx report --readiness`.";
    ClientAuthUsage = "client-auth-usage", Warning,
        "The Certificate asks for client authentication usage, which public CAs stopped issuing in 2026 (Let's Encrypt's default profile since 2026-02-11): issuance fails or the certificate lacks it, and mTLS clients break.",
        "Remove `client auth` from spec.usages for a server certificate; for mTLS client identities use a private CA (cert-manager's CA or Vault issuer, or a private ACME server).";
    AuthzLifetimeShort = "authz-lifetime-short", Warning,
        "DNS-01 under a profile whose pending authorizations live 1 hour, with a solver or zone whose propagation was measured slower than that.",
        "Make the TXT record propagate faster (a lower TTL on the zone's negative answers, faster zone transfers), or use the `classic` profile (7-day authorizations) for these names.";
    // Snapshot / chain state (certdx's own).
    CertificateNotReady = "certificate-not-ready", Error,
        "The Certificate is not Ready and no more specific cause was found in its chain.",
        "Read the conditions and events in the evidence; `certdx check` the names if a Challenge exists.";
    RequestFailed = "request-failed", Error,
        "The CertificateRequest failed or was denied.",
        "Read the CertificateRequest's Ready/Denied condition; a denied request needs an approver (approver-policy) to allow it.";
    ExpiredOrder = "order-expired", Error,
        "The Order expired before it was completed.",
        "Retry the Order (`certdx retry`); its authorizations timed out, usually because validation never completed.";
}

impl Code {
    /// Whether the code is a readiness finding: a warning about a CA change, never the cause
    /// of a failure that is happening now.
    pub fn is_readiness(self) -> bool {
        matches!(
            self,
            Code::ProfileLimit
                | Code::BackoffExceedsLifetime
                | Code::ClientAuthUsage
                | Code::AuthzLifetimeShort
        )
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        Code::from_id(&id)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown finding code {id:?}")))
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate id {code}");
            assert_eq!(Code::from_id(code.as_str()), Some(*code));
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(serde_json::from_str::<Code>(&json).unwrap(), *code);
        }
    }
}
