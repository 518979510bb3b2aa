//! Ingress annotations that keep the CA from reaching the solver on
//! `http://NAME/.well-known/acme-challenge/TOKEN`: forced HTTPS redirects, authentication,
//! source allow-lists, and Traefik routers that do not listen on plain HTTP.
//!
//! cert-manager's own solver Ingress carries none of these; they arrive through the issuer's
//! `ingressTemplate`, through an Ingress edited in place (`http01.ingress.name`), or from a
//! policy engine that mutates every Ingress. Severity follows what the controller does with
//! the challenge path: ingress-nginx exempts locations under `/.well-known/acme-challenge`
//! from TLS redirects and authentication by default (ConfigMap `no-tls-redirect-locations`
//! and `no-auth-locations`), so there they only become a problem if those keys were changed;
//! a redirect to `https` on 443 is followed by the CA but then depends on the HTTPS side
//! routing the path too. Its source allow-list applies regardless.

use std::collections::BTreeMap;

use crate::model::Severity;

/// What an annotation does to the challenge request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Effect {
    /// Redirects plain HTTP to HTTPS.
    HttpsRedirect,
    /// Demands authentication (basic auth, external auth, OAuth2 proxy).
    Authentication,
    /// Admits only some client addresses.
    SourceAllowList,
    /// The route is not served on plain HTTP at all.
    NotOnHttp,
}

impl Effect {
    /// A few words for summaries.
    pub fn words(self) -> &'static str {
        match self {
            Effect::HttpsRedirect => "force an HTTPS redirect",
            Effect::Authentication => "require authentication",
            Effect::SourceAllowList => "restrict client addresses",
            Effect::NotOnHttp => "keep the route off plain HTTP",
        }
    }
}

/// One annotation that gets in the challenge's way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// What it does.
    pub effect: Effect,
    /// The annotation key.
    pub key: String,
    /// Its value.
    pub value: String,
    /// How bad, given the controller's usual handling of the challenge path.
    pub severity: Severity,
    /// Why, in a sentence.
    pub why: String,
}

const NGINX: &str = "nginx.ingress.kubernetes.io/";
const TRAEFIK: &str = "traefik.ingress.kubernetes.io/";

const NGINX_EXEMPT_REDIRECT: &str = "ingress-nginx exempts /.well-known/acme-challenge from TLS redirects by default (ConfigMap no-tls-redirect-locations); if that key was changed the CA gets a redirect to https and depends on the HTTPS side routing the path to the solver";
const NGINX_EXEMPT_AUTH: &str = "ingress-nginx skips authentication under /.well-known/acme-challenge by default (ConfigMap no-auth-locations); if that key was changed the CA gets 401 or a login redirect";

fn is_true(v: &str) -> bool {
    v.trim().eq_ignore_ascii_case("true")
}

/// The annotations in `annotations` that block or endanger the challenge request.
pub fn blockers(annotations: &BTreeMap<String, String>) -> Vec<Blocker> {
    let mut out = Vec::new();
    for (key, value) in annotations {
        let found = nginx(key, value)
            .or_else(|| traefik(key, value))
            .or_else(|| haproxy(key, value));
        if let Some((effect, severity, why)) = found {
            out.push(Blocker {
                effect,
                key: key.clone(),
                value: value.clone(),
                severity,
                why,
            });
        }
    }
    out
}

type Verdict = Option<(Effect, Severity, String)>;

fn nginx(key: &str, value: &str) -> Verdict {
    let name = key.strip_prefix(NGINX)?;
    match name {
        "ssl-redirect" | "force-ssl-redirect" if is_true(value) => Some((
            Effect::HttpsRedirect,
            Severity::Warning,
            NGINX_EXEMPT_REDIRECT.to_owned(),
        )),
        "auth-url" | "auth-signin" | "auth-type" if !value.trim().is_empty() => {
            let oauth = if value.contains("oauth2") {
                " (an oauth2-proxy)"
            } else {
                ""
            };
            Some((
                Effect::Authentication,
                Severity::Warning,
                format!("{NGINX_EXEMPT_AUTH}{oauth}"),
            ))
        }
        "whitelist-source-range" | "allowlist-source-range" => allow_list(value),
        _ => None,
    }
}

/// cert-manager sets `0.0.0.0/0,::/0` on its own solver Ingress for this reason: the CA
/// validates from many unpublished addresses, over IPv6 when the name has an AAAA record.
fn allow_list(value: &str) -> Verdict {
    let ranges: Vec<&str> = value.split(',').map(str::trim).collect();
    let v4_all = ranges.contains(&"0.0.0.0/0");
    let v6_all = ranges.contains(&"::/0");
    match (v4_all, v6_all) {
        (true, true) => None,
        (true, false) => Some((
            Effect::SourceAllowList,
            Severity::Warning,
            "IPv4 clients are all admitted but IPv6 ones are refused with 403: the CA validates over IPv6 when the name has an AAAA record".to_owned(),
        )),
        _ => Some((
            Effect::SourceAllowList,
            Severity::Error,
            "the CA's validation servers, whose addresses are not published, are refused with 403".to_owned(),
        )),
    }
}

/// Entry point names that are HTTPS by convention (`websecure` is Traefik's default name).
fn looks_secure(entrypoint: &str) -> bool {
    let e = entrypoint.trim().to_ascii_lowercase();
    e.contains("secure") || e.contains("https") || e.contains("tls") || e.contains("443")
}

fn traefik(key: &str, value: &str) -> Verdict {
    if let Some(name) = key.strip_prefix(TRAEFIK) {
        return match name {
            "router.entrypoints" => {
                let eps: Vec<&str> = value.split(',').filter(|e| !e.trim().is_empty()).collect();
                (!eps.is_empty() && eps.iter().all(|e| looks_secure(e))).then(|| {
                    (
                        Effect::NotOnHttp,
                        Severity::Error,
                        format!("the router listens only on {value}, so the CA's request on port 80 matches no route (404)"),
                    )
                })
            }
            "router.tls" if is_true(value) => Some((
                Effect::NotOnHttp,
                Severity::Error,
                "a TLS router serves HTTPS requests only, so the CA's plain-HTTP request matches no route (404)".to_owned(),
            )),
            "router.middlewares" => middlewares(value),
            "redirect-entry-point" | "redirect-regex" if !value.trim().is_empty() => Some((
                Effect::HttpsRedirect,
                Severity::Warning,
                "Traefik 1 redirects the challenge request; the CA follows a redirect to https on 443 only if the HTTPS side routes the path to the solver".to_owned(),
            )),
            "auth-type" if !value.trim().is_empty() => Some((
                Effect::Authentication,
                Severity::Error,
                "Traefik 1 demands credentials the CA does not have (401)".to_owned(),
            )),
            _ => None,
        };
    }
    // The unprefixed keys Traefik 1 and early haproxy-ingress read.
    match key {
        "ingress.kubernetes.io/ssl-redirect" if is_true(value) => Some((
            Effect::HttpsRedirect,
            Severity::Warning,
            "the challenge request is redirected to https; the CA follows it on 443 only if the HTTPS side routes the path to the solver".to_owned(),
        )),
        "ingress.kubernetes.io/auth-type" | "ingress.kubernetes.io/auth-url"
            if !value.trim().is_empty() =>
        {
            Some((
                Effect::Authentication,
                Severity::Error,
                "the controller demands credentials the CA does not have (401)".to_owned(),
            ))
        }
        _ => None,
    }
}

/// Traefik middlewares are referenced by name (`<namespace>-<name>@kubernetescrd`); their kind
/// is not visible from the Ingress, so the names decide, as an engineer reading them would.
fn middlewares(value: &str) -> Verdict {
    let names: Vec<String> = value
        .split(',')
        .map(|m| {
            m.split('@')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|m| !m.is_empty())
        .collect();
    let auth = ["auth", "oauth", "sso", "authelia", "authentik", "login"];
    if let Some(m) = names.iter().find(|m| auth.iter().any(|a| m.contains(a))) {
        return Some((
            Effect::Authentication,
            Severity::Error,
            format!(
                "middleware {m} looks like an authentication middleware (basicAuth / forwardAuth): the CA has no credentials"
            ),
        ));
    }
    names
        .iter()
        .find(|m| m.contains("redirect") || m.contains("https"))
        .map(|m| {
            (
                Effect::HttpsRedirect,
                Severity::Warning,
                format!("middleware {m} looks like a redirectScheme to https; the CA follows it on 443 only if the HTTPS router also routes the path to the solver"),
            )
        })
}

fn haproxy(key: &str, value: &str) -> Verdict {
    let (controller, name) = if let Some(n) = key.strip_prefix("haproxy.org/") {
        ("HAProxy Kubernetes Ingress", n)
    } else if let Some(n) = key.strip_prefix("haproxy-ingress.github.io/") {
        ("haproxy-ingress", n)
    } else {
        return None;
    };
    match name {
        "ssl-redirect" if is_true(value) => {
            let exempt = if controller == "haproxy-ingress" {
                " (haproxy-ingress exempts /.well-known/acme-challenge by default, ConfigMap no-tls-redirect-locations)"
            } else {
                ""
            };
            Some((
                Effect::HttpsRedirect,
                Severity::Warning,
                format!(
                    "{controller} redirects the challenge request to https{exempt}; the CA follows it on 443 only if the HTTPS side routes the path to the solver"
                ),
            ))
        }
        "auth-type" | "auth-url" | "auth-realm" if !value.trim().is_empty() => Some((
            Effect::Authentication,
            Severity::Error,
            format!("{controller} demands credentials the CA does not have (401)"),
        )),
        "allowlist-source-range" | "whitelist-source-range" | "allow-list" | "whitelist" => {
            allow_list(value)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(key: &str, value: &str) -> Vec<Blocker> {
        blockers(&BTreeMap::from([(key.to_owned(), value.to_owned())]))
    }

    #[test]
    fn cert_manager_defaults_block_nothing() {
        assert!(
            one(
                "nginx.ingress.kubernetes.io/whitelist-source-range",
                "0.0.0.0/0,::/0"
            )
            .is_empty()
        );
        assert!(one("kubernetes.io/ingress.class", "nginx").is_empty());
        assert!(one("nginx.ingress.kubernetes.io/ssl-redirect", "false").is_empty());
        assert!(
            one(
                "traefik.ingress.kubernetes.io/router.entrypoints",
                "web,websecure"
            )
            .is_empty()
        );
    }

    #[test]
    fn nginx_redirects_and_auth_are_warnings_because_of_the_default_exemptions() {
        let b = one("nginx.ingress.kubernetes.io/force-ssl-redirect", "true");
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].effect, Effect::HttpsRedirect);
        assert_eq!(b[0].severity, Severity::Warning);
        assert!(b[0].why.contains("no-tls-redirect-locations"));
        let b = one(
            "nginx.ingress.kubernetes.io/auth-url",
            "https://auth.example.com/oauth2/auth",
        );
        assert_eq!(b[0].effect, Effect::Authentication);
        assert!(b[0].why.contains("oauth2-proxy"));
    }

    #[test]
    fn allow_lists_without_everyone_are_errors() {
        let b = one(
            "nginx.ingress.kubernetes.io/whitelist-source-range",
            "10.0.0.0/8",
        );
        assert_eq!(b[0].effect, Effect::SourceAllowList);
        assert_eq!(b[0].severity, Severity::Error);
        let b = one(
            "nginx.ingress.kubernetes.io/allowlist-source-range",
            "0.0.0.0/0",
        );
        assert_eq!(b[0].severity, Severity::Warning, "IPv6 refused");
    }

    #[test]
    fn traefik_routers_off_plain_http_are_errors() {
        let b = one(
            "traefik.ingress.kubernetes.io/router.entrypoints",
            "websecure",
        );
        assert_eq!(b[0].effect, Effect::NotOnHttp);
        assert_eq!(b[0].severity, Severity::Error);
        let b = one("traefik.ingress.kubernetes.io/router.tls", "true");
        assert_eq!(b[0].effect, Effect::NotOnHttp);
        let b = one(
            "traefik.ingress.kubernetes.io/router.middlewares",
            "default-redirect-https@kubernetescrd",
        );
        assert_eq!(b[0].effect, Effect::HttpsRedirect);
        let b = one(
            "traefik.ingress.kubernetes.io/router.middlewares",
            "default-compress@kubernetescrd, kube-system-basic-auth@kubernetescrd",
        );
        assert_eq!(b[0].effect, Effect::Authentication);
        assert!(b[0].why.contains("kube-system-basic-auth"));
        assert!(
            one(
                "traefik.ingress.kubernetes.io/router.middlewares",
                "default-compress@kubernetescrd"
            )
            .is_empty()
        );
    }

    #[test]
    fn haproxy_annotations() {
        let b = one("haproxy.org/ssl-redirect", "true");
        assert_eq!(b[0].effect, Effect::HttpsRedirect);
        let b = one("haproxy-ingress.github.io/ssl-redirect", "true");
        assert!(b[0].why.contains("no-tls-redirect-locations"));
        let b = one("haproxy.org/auth-type", "basic-auth");
        assert_eq!(b[0].effect, Effect::Authentication);
        assert_eq!(b[0].severity, Severity::Error);
        let b = one("ingress.kubernetes.io/ssl-redirect", "true");
        assert_eq!(b[0].effect, Effect::HttpsRedirect);
    }
}
