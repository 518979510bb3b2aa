//! What `certdx check` takes: whatever an engineer pastes. A domain name; a URL (the host, and
//! the token when it is a challenge URL); a Challenge or Certificate as NS/NAME or KIND/NAME;
//! a bare object name, looked up in every namespace of the source.

use kube::ResourceExt;

use crate::model::{ChainIndex, Inventory};

/// One command-line target, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// A DNS name to check with the command line's method, token and key.
    Domain(String),
    /// A URL's host, and the token when the path is `/.well-known/acme-challenge/TOKEN`.
    Url {
        /// The host.
        host: String,
        /// The challenge token in the path.
        token: Option<String>,
    },
    /// A cert-manager object.
    Object {
        /// `Some("Challenge")` or `Some("Certificate")` when the kind was named.
        kind: Option<&'static str>,
        /// The namespace, when named (NS/NAME); else `-n`, else any.
        namespace: Option<String>,
        /// The object's name.
        name: String,
    },
}

/// Reads one argument; `namespace` is `-n`'s value.
pub fn read(arg: &str, namespace: Option<&str>) -> Wanted {
    let arg = arg.trim();
    if (arg.starts_with("http://") || arg.starts_with("https://"))
        && let Ok(url) = reqwest::Url::parse(arg)
        && let Some(host) = url.host_str()
    {
        let token = url
            .path()
            .strip_prefix("/.well-known/acme-challenge/")
            .filter(|t| !t.is_empty() && !t.contains('/'))
            .map(str::to_owned);
        return Wanted::Url {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            token,
        };
    }
    if let Some((left, right)) = arg.split_once('/') {
        let kind = match left.to_ascii_lowercase().as_str() {
            "challenge" | "challenges" | "challenges.acme.cert-manager.io" | "ch" => {
                Some("Challenge")
            }
            "certificate" | "certificates" | "certificates.cert-manager.io" | "cert" | "certs" => {
                Some("Certificate")
            }
            _ => None,
        };
        return match kind {
            Some(kind) => Wanted::Object {
                kind: Some(kind),
                namespace: namespace.map(str::to_owned),
                name: right.to_owned(),
            },
            None => Wanted::Object {
                kind: None,
                namespace: Some(left.to_owned()),
                name: right.to_owned(),
            },
        };
    }
    // A DNS name has a dot; a Kubernetes name pasted from `kubectl get` usually has none.
    if arg.contains('.') {
        Wanted::Domain(arg.trim_end_matches('.').to_ascii_lowercase())
    } else {
        Wanted::Object {
            kind: None,
            namespace: namespace.map(str::to_owned),
            name: arg.to_owned(),
        }
    }
}

/// What an object argument resolves to in a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// These Challenges (indices into the inventory): the one named, or a Certificate's
    /// unfinished ones.
    Challenges(Vec<usize>),
    /// A Certificate with no unfinished Challenge: its names, checked with the command line's
    /// method.
    Names(Vec<String>),
}

/// Finds the object `w` names in `inv`; an error names what was asked and what exists.
pub fn resolve(
    inv: &Inventory,
    kind: Option<&str>,
    namespace: Option<&str>,
    name: &str,
) -> Result<Found, String> {
    let in_ns = |ns: Option<String>| namespace.is_none_or(|want| ns.as_deref() == Some(want));
    let challenges: Vec<usize> = if kind == Some("Certificate") {
        Vec::new()
    } else {
        inv.challenges
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name_any() == name && in_ns(c.namespace()))
            .map(|(i, _)| i)
            .collect()
    };
    let certificates: Vec<usize> = if kind == Some("Challenge") {
        Vec::new()
    } else {
        inv.certificates
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name_any() == name && in_ns(c.namespace()))
            .map(|(i, _)| i)
            .collect()
    };
    let what = kind.unwrap_or("Challenge or Certificate");
    let place = namespace
        .map(|ns| format!(" in namespace {ns}"))
        .unwrap_or_default();
    match (challenges.as_slice(), certificates.as_slice()) {
        ([one], []) => Ok(Found::Challenges(vec![*one])),
        ([], [one]) => Ok(certificate_targets(inv, *one)),
        ([], []) => {
            let names = inv
                .challenges
                .iter()
                .map(|c| c.name_any())
                .chain(inv.certificates.iter().map(|c| c.name_any()))
                .collect::<Vec<_>>();
            let hint = super::source::closest(name, names.iter().map(String::as_str))
                .map(|c| format!(" (did you mean {c:?}?)"))
                .unwrap_or_default();
            Err(format!("no {what} named {name:?}{place}{hint}"))
        }
        _ => {
            let mut candidates: Vec<String> = challenges
                .iter()
                .map(|&i| {
                    let c = &inv.challenges[i];
                    format!(
                        "challenge {}/{}",
                        c.namespace().unwrap_or_default(),
                        c.name_any()
                    )
                })
                .chain(certificates.iter().map(|&i| {
                    let c = &inv.certificates[i];
                    format!(
                        "certificate {}/{}",
                        c.namespace().unwrap_or_default(),
                        c.name_any()
                    )
                }))
                .collect();
            candidates.sort();
            Err(format!(
                "{name:?} names several objects{place}: {}; give NS/NAME or KIND/NAME with -n",
                candidates.join(", ")
            ))
        }
    }
}

/// A Certificate's unfinished Challenges of its current attempt, or its names when it has none.
fn certificate_targets(inv: &Inventory, cert: usize) -> Found {
    let index = ChainIndex::build(inv);
    let chain = index.certificates.iter().find(|c| c.certificate == cert);
    let open: Vec<usize> = chain
        .and_then(|c| c.current())
        .map(|r| {
            r.orders
                .iter()
                .flat_map(|o| o.challenges.iter().copied())
                .filter(|&i| !crate::model::state::challenge_is_final(&inv.challenges[i]))
                .collect()
        })
        .unwrap_or_default();
    if !open.is_empty() {
        return Found::Challenges(open);
    }
    let c = &inv.certificates[cert];
    let mut names = c.spec.dns_names.clone();
    if let Some(cn) = &c.spec.common_name
        && !names.contains(cn)
    {
        names.insert(0, cn.clone());
    }
    Found::Names(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_forms_are_read() {
        assert_eq!(
            read(
                "https://www.example.com/.well-known/acme-challenge/abc",
                None
            ),
            Wanted::Url {
                host: "www.example.com".into(),
                token: Some("abc".into())
            }
        );
        assert_eq!(
            read("http://www.example.com:8080/", None),
            Wanted::Url {
                host: "www.example.com".into(),
                token: None
            }
        );
        assert_eq!(
            read("challenge/www-1-2-3", Some("shop")),
            Wanted::Object {
                kind: Some("Challenge"),
                namespace: Some("shop".into()),
                name: "www-1-2-3".into()
            }
        );
        assert_eq!(
            read("shop/www-shop", None),
            Wanted::Object {
                kind: None,
                namespace: Some("shop".into()),
                name: "www-shop".into()
            }
        );
        assert_eq!(
            read("www-shop-1-2-3", None),
            Wanted::Object {
                kind: None,
                namespace: None,
                name: "www-shop-1-2-3".into()
            }
        );
        assert_eq!(
            read("WWW.Example.com.", None),
            Wanted::Domain("www.example.com".into())
        );
    }
}
