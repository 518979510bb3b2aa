//! The demo lab's address plan and the values it takes from the demo estate.
//!
//! Every lab uses the same addresses (each on its own free port, see `ports`), so the evidence
//! a user sees is the same from run to run: DNS on 127.0.53.0/24, web servers on
//! 127.0.80.0/24. The TXT value and the account thumbprint come from the estate's Challenges
//! rather than being copied here, so the lab always presents what the Challenges expect.

use std::net::Ipv4Addr;

use super::lab::DemoLabError;

/// The recursive resolver certdx is pointed at.
pub const RESOLVER: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 1);

/// ns1/ns2.example.com: shop, promo, landing, portal.
pub const NS_COM: [Ipv4Addr; 2] = [Ipv4Addr::new(127, 0, 53, 11), Ipv4Addr::new(127, 0, 53, 12)];
/// ns1/ns2.example.org: blog and www.
pub const NS_ORG: [Ipv4Addr; 2] = [Ipv4Addr::new(127, 0, 53, 21), Ipv4Addr::new(127, 0, 53, 22)];
/// ns1/ns2.example.net: api (ns2 is the secondary that lags).
pub const NS_NET: [Ipv4Addr; 2] = [Ipv4Addr::new(127, 0, 53, 31), Ipv4Addr::new(127, 0, 53, 32)];

/// The shop's nginx ingress: the apex is served, www's solver route is missing (404).
pub const SHOP_INGRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 80, 10);
/// The blog's nginx ingress: blog.example.org forces HTTPS on :8443, www.example.org is fine.
pub const BLOG_INGRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 80, 20);
/// Marketing's ingress: promo is served (CAA is its problem), landing's solver is gone (503).
pub const MARKETING_INGRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 80, 30);
/// The API gateway (validated by DNS-01, so nothing answers challenges here).
pub const API_GATEWAY: Ipv4Addr = Ipv4Addr::new(127, 0, 80, 40);
/// The internal ingress behind portal.example.com (its problem is a rate limit, not HTTP).
pub const INTERNAL_INGRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 80, 50);

/// The port blog.example.org's forced-HTTPS redirect names: one the CA will not follow.
pub const BLOG_REDIRECT_PORT: u16 = 8443;

/// The name whose DNS-01 Challenge the lab half-publishes.
pub const DNS01_NAME: &str = "api.example.net";

/// What the lab takes from the estate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// The ACME account key thumbprint: an HTTP-01 key authorization is `TOKEN.THUMBPRINT`.
    pub thumbprint: String,
    /// The TXT value the DNS-01 Challenge for [`DNS01_NAME`] expects.
    pub dns01_txt: String,
}

impl Scenario {
    /// Reads the values from the embedded estate.
    pub fn from_estate() -> Result<Scenario, DemoLabError> {
        let challenges = super::load().inventory.challenges;
        let thumbprint = challenges
            .iter()
            .filter(|c| c.is_http01())
            .find_map(|c| {
                c.spec
                    .key
                    .strip_prefix(c.spec.token.as_str())?
                    .strip_prefix('.')
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                DemoLabError::Scenario(
                    "no HTTP-01 Challenge with a TOKEN.THUMBPRINT key in the demo estate".into(),
                )
            })?
            .to_owned();
        let dns01_txt = challenges
            .iter()
            .find(|c| c.is_dns01() && c.spec.dns_name == DNS01_NAME && !c.spec.key.is_empty())
            .map(|c| c.spec.key.clone())
            .ok_or_else(|| {
                DemoLabError::Scenario(format!(
                    "no DNS-01 Challenge with a key for {DNS01_NAME} in the demo estate"
                ))
            })?;
        Ok(Scenario {
            thumbprint,
            dns01_txt,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estate_provides_the_values() {
        let s = Scenario::from_estate().unwrap();
        assert_eq!(s.thumbprint, "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI");
        assert_eq!(s.dns01_txt.len(), 43, "a base64url SHA-256 digest");
    }

    #[test]
    fn every_http01_key_uses_the_same_account() {
        // The lab's solvers answer TOKEN.THUMBPRINT: that is only right if the estate's
        // Challenges all belong to one account, as they do on a real cluster with one Issuer.
        let s = Scenario::from_estate().unwrap();
        for c in super::super::load().inventory.challenges {
            if c.is_http01() {
                assert_eq!(c.spec.key, format!("{}.{}", c.spec.token, s.thumbprint));
            }
        }
    }
}
