//! Reads an ACME directory's `meta.profiles` (draft-ietf-acme-profiles section 3): which
//! certificate profiles the CA offers. Fetched once per server per run, bounded in time and
//! size; a failure is a sentence, and the diagnosis falls back to what certdx knows.

use std::collections::HashMap;
use std::time::Duration;

use std::net::{IpAddr, SocketAddr};

use futures::StreamExt;
use hickory_proto::rr::Name;

use crate::checks::dns::Dns;

use crate::model::profile::{AdvertisedProfiles, Directories};

/// The most a directory body may be: Let's Encrypt's is under 1 KiB.
pub const MAX_DIRECTORY_BYTES: usize = 64 * 1024;

/// How many directories are fetched at once.
const CONCURRENCY: usize = 8;

/// Fetches the directory of every distinct server in `servers`, each at most once, each
/// request (connect, headers and body) within `timeout`. Names are resolved by `dns`, the
/// resolver every other check uses, so a lab resolver keeps the fetch in the lab.
pub async fn fetch_all(
    servers: impl IntoIterator<Item = String>,
    dns: &Dns,
    timeout: Duration,
) -> Directories {
    let mut distinct: Vec<String> = servers.into_iter().filter(|s| !s.is_empty()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    futures::stream::iter(distinct)
        .map(|url| async move {
            let got = tokio::time::timeout(timeout * 2, fetch_one(&url, dns, timeout))
                .await
                .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")));
            (url, got)
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<HashMap<_, _>>()
        .await
}

async fn fetch_one(url: &str, dns: &Dns, timeout: Duration) -> Result<AdvertisedProfiles, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url} is not a URL: {e}"))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| format!("{url} names no host"))?
        .to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            let name = Name::from_ascii(&host).map_err(|e| format!("{host}: {e}"))?;
            let found = dns.resolve_addresses(&name).await.addresses();
            if found.is_empty() {
                return Err(format!("{host} has no address (A/AAAA) at the resolver"));
            }
            found
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect()
        }
    };
    // reqwest is built without a default crypto provider; installing ring twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        // A directory is never a redirect; following one could read some other page.
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(format!("certdx/{}", env!("CARGO_PKG_VERSION")))
        .resolve_to_addrs(&host, &addrs)
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))?;
    fetch(&client, url).await
}

/// One directory, its body cut at [`MAX_DIRECTORY_BYTES`].
pub async fn fetch(client: &reqwest::Client, url: &str) -> Result<AdvertisedProfiles, String> {
    let mut response = client.get(url).send().await.map_err(|e| {
        format!(
            "GET {url}: {}",
            crate::checks::text::go_error_gist(&e.to_string())
        )
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {}", status.as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading {url}: {e}"))?
    {
        if body.len() + chunk.len() > MAX_DIRECTORY_BYTES {
            return Err(format!(
                "{url} answered more than {MAX_DIRECTORY_BYTES} bytes: not an ACME directory"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    parse(url, &body)
}

/// The profiles of a directory document.
pub fn parse(url: &str, body: &[u8]) -> Result<AdvertisedProfiles, String> {
    let doc: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| format!("{url} is not a JSON ACME directory: {e}"))?;
    if doc.get("newOrder").is_none() {
        return Err(format!(
            "{url} is JSON but not an ACME directory (no newOrder)"
        ));
    }
    let profiles = doc
        .pointer("/meta/profiles")
        .and_then(|p| p.as_object())
        .map(|m| {
            m.iter()
                .map(|(name, d)| (name.clone(), d.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    Ok(AdvertisedProfiles {
        url: url.to_owned(),
        profiles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_read_from_meta_and_a_directory_without_them_offers_none() {
        // The shape of Let's Encrypt's directory (acme-v02.api.letsencrypt.org, 2026).
        let le = br#"{"newOrder":"https://x/acme/new-order","meta":{"profiles":{"classic":"https://letsencrypt.org/docs/profiles#classic","shortlived":"https://letsencrypt.org/docs/profiles#shortlived","tlsserver":"https://letsencrypt.org/docs/profiles#tlsserver"}}}"#;
        let p = parse("https://x/dir", le).unwrap();
        assert!(p.offers("shortlived") && p.offers("classic") && !p.offers("tlsclient"));
        let pebble =
            br#"{"newOrder":"https://x/order-plz","meta":{"externalAccountRequired":false}}"#;
        assert!(parse("https://x/dir", pebble).unwrap().profiles.is_empty());
        assert!(parse("https://x/dir", b"<html>").is_err());
        assert!(parse("https://x/dir", b"{}").is_err());
    }
}
