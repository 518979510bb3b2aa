//! Which redirects a CA follows, Boulder's rules (`va/http.go`, `extractRequestTarget`).
//!
//! Only http and https, only to a host name (never an IP literal), and only to the two ports
//! the CA validates on; an explicit port must be one of them, a missing one follows the scheme.

use reqwest::Url;

/// Status codes the CA's Go HTTP client follows; any other 3xx is a final answer.
pub fn is_followed_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Where a redirect goes once it passed the CA's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL to request next, with the port the CA will connect to made explicit when it
    /// is not the scheme's default (so the request really goes there).
    pub url: Url,
    /// The host name, lowercase, without a trailing dot.
    pub host: String,
}

/// Resolves `location` against `current` and applies the CA's rules; the error says which
/// rule broke, in words fit for a finding.
pub fn follow(
    current: &Url,
    location: &str,
    http_port: u16,
    https_port: u16,
) -> Result<Target, String> {
    let mut url = current
        .join(location.trim())
        .map_err(|e| format!("malformed Location {location:?}: {e}"))?;
    let scheme = url.scheme().to_owned();
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "Location {location:?} uses the {scheme:?} scheme; the CA only follows http and https"
        ));
    }
    let Some(raw_host) = url.host_str() else {
        return Err(format!("malformed Location {location:?}: no host"));
    };
    // url normalises every IP spelling (`0x7f.1`, `[::1]`) to a canonical literal.
    if let Ok(ip) = raw_host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    {
        return Err(format!(
            "Location {location:?} points at the IP address {ip}; the CA only follows redirects to host names"
        ));
    }
    let host = normalise_host(raw_host);
    if host.is_empty() {
        return Err(format!("malformed Location {location:?}: empty host"));
    }
    // `Url::port` is `None` when the port equals the scheme's default (url drops `:80` on
    // http), which is the port the CA then uses for that scheme. With non-standard test
    // ports this maps an explicit `https://h:443` to `https_port`; with 80/443 it is exact.
    let port = match url.port() {
        Some(p) if p == http_port || p == https_port => p,
        Some(p) => {
            return Err(format!(
                "Location {location:?} uses port {p}; the CA only follows redirects to ports {http_port} and {https_port}"
            ));
        }
        None if scheme == "https" => https_port,
        None => http_port,
    };
    // Cannot fail: the URL has a host and an http(s) scheme.
    let _ = url.set_port(Some(port));
    url.set_fragment(None);
    Ok(Target { url, host })
}

/// Host names compare case-insensitively and with or without the root dot.
pub fn normalise_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://www.example.com/.well-known/acme-challenge/abc").unwrap()
    }

    fn ok(loc: &str) -> Target {
        follow(&base(), loc, 80, 443).unwrap_or_else(|e| panic!("{loc}: {e}"))
    }

    fn err(loc: &str) -> String {
        follow(&base(), loc, 80, 443).expect_err(loc)
    }

    #[test]
    fn https_upgrade_keeps_host_and_uses_443() {
        let t = ok("https://www.example.com/.well-known/acme-challenge/abc");
        assert_eq!(t.host, "www.example.com");
        assert_eq!(t.url.port_or_known_default(), Some(443));
        assert_eq!(t.url.scheme(), "https");
    }

    #[test]
    fn relative_locations_resolve_against_the_current_url() {
        assert_eq!(
            ok("/elsewhere").url.as_str(),
            "http://www.example.com/elsewhere"
        );
        assert_eq!(
            ok("other").url.as_str(),
            "http://www.example.com/.well-known/acme-challenge/other"
        );
        assert_eq!(ok("//cdn.example.net/x").host, "cdn.example.net");
    }

    #[test]
    fn explicit_80_and_443_are_fine_on_either_scheme() {
        assert_eq!(
            ok("http://Www.Example.COM.:443/x")
                .url
                .port_or_known_default(),
            Some(443)
        );
        assert_eq!(
            ok("https://a.example:80/x").url.port_or_known_default(),
            Some(80)
        );
        assert_eq!(ok("https://a.example:443/x").host, "a.example");
    }

    #[test]
    fn other_ports_schemes_and_ip_literals_are_refused() {
        assert!(err("http://www.example.com:8080/x").contains("port 8080"));
        assert!(err("ftp://www.example.com/x").contains("\"ftp\""));
        assert!(err("javascript:alert(1)").contains("\"javascript\""));
        assert!(err("http://192.0.2.1/x").contains("IP address"));
        assert!(err("https://[2001:db8::1]/x").contains("IP address"));
    }

    #[test]
    fn malformed_locations_are_refused() {
        assert!(err("http://exa mple.com/").contains("malformed"));
        assert!(err("http://[::1/").contains("malformed"));
        assert!(err("http://:80/").contains("malformed"));
    }

    #[test]
    fn test_ports_follow_the_options() {
        let t = follow(&base(), "http://a.example/x", 8081, 8443).unwrap();
        assert_eq!(t.url.port_or_known_default(), Some(8081));
        let t = follow(&base(), "https://a.example/x", 8081, 8443).unwrap();
        assert_eq!(t.url.port_or_known_default(), Some(8443));
        assert!(follow(&base(), "https://a.example:9443/x", 8081, 8443).is_err());
        // url forgets an explicit default port, so `:443` on https means "the https port".
        let t = follow(&base(), "https://a.example:443/x", 8081, 8443).unwrap();
        assert_eq!(t.url.port_or_known_default(), Some(8443));
    }
}
