//! ACME certificate profiles (draft-ietf-acme-profiles): what a CA's profile will issue.
//!
//! Two sources: what a CA's directory advertises in `meta.profiles` (fetched when live checks
//! run, `checks::directory`), and a table of what is known of the big public CAs, for
//! `--offline` and for the limits a directory does not state. The table is Let's Encrypt's
//! as of 2026 (its profiles page and its 2025-2026 announcements; the README's section on the
//! 2025-2028 CA changes sums them up); every finding that uses it says so.

use jiff::civil::{Date, date};
use jiff::{SignedDuration, Timestamp};

/// A public CA certdx knows by its directory URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnownCa {
    /// Let's Encrypt, production or staging (same profiles, same dates).
    LetsEncrypt,
    /// Google Trust Services.
    GoogleTrust,
}

impl KnownCa {
    /// The CA behind an ACME directory URL, when it is one certdx knows.
    pub fn of_server(server: &str) -> Option<KnownCa> {
        let host = server
            .split("://")
            .nth(1)
            .unwrap_or(server)
            .split(['/', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if host.ends_with("api.letsencrypt.org") {
            Some(KnownCa::LetsEncrypt)
        } else if host.ends_with("pki.goog") {
            Some(KnownCa::GoogleTrust)
        } else {
            None
        }
    }

    /// The CA's name as people say it.
    pub fn name(self) -> &'static str {
        match self {
            KnownCa::LetsEncrypt => "Let's Encrypt",
            KnownCa::GoogleTrust => "Google Trust Services",
        }
    }

    /// The profile used when the Issuer names none.
    pub fn default_profile(self) -> Option<&'static str> {
        match self {
            KnownCa::LetsEncrypt => Some("classic"),
            KnownCa::GoogleTrust => None,
        }
    }

    /// When the CA stopped issuing client authentication under `profile` (`None`: the CA's
    /// default profile).
    pub fn client_auth_end(self, profile: Option<&str>) -> ClientAuthEnd {
        match (self, profile.or(self.default_profile())) {
            // The default profile dropped it on 2026-02-11; tlsclient, the profile kept for
            // the transition, ended 2026-07-08; tlsserver and shortlived never had it.
            (KnownCa::LetsEncrypt, Some("classic")) => ClientAuthEnd {
                from: Some(date(2026, 2, 11)),
                refused: false,
            },
            (KnownCa::LetsEncrypt, Some("tlsclient")) => ClientAuthEnd {
                from: Some(date(2026, 7, 8)),
                refused: false,
            },
            (KnownCa::LetsEncrypt, _) => ClientAuthEnd {
                from: None,
                refused: false,
            },
            // Google answers such a CSR with badCSR; the date it began is not in certdx's
            // notes, so none is claimed.
            (KnownCa::GoogleTrust, _) => ClientAuthEnd {
                from: None,
                refused: true,
            },
        }
    }
}

/// The end of client authentication at a CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAuthEnd {
    /// The date it ended; `None` when the profile never had it, or the date is not known.
    pub from: Option<Date>,
    /// Whether the CA refuses the request (`badCSR`) rather than issuing without it.
    pub refused: bool,
}

/// What a profile allows, as far as a diagnosis needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileLimits {
    /// The profile's name.
    pub name: String,
    /// Most identifiers per order.
    pub max_identifiers: usize,
    /// Whether IP address identifiers are allowed.
    pub ip_addresses: bool,
    /// Whether the certificate carries a Common Name.
    pub common_name: bool,
    /// How long a pending authorization lives.
    pub pending_authz: SignedDuration,
    /// The date the profile became generally available, when it is recent enough to matter.
    pub since: Option<Date>,
}

/// A profile's certificate lifetime and the date it took (or takes) effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    /// The lifetime.
    pub lifetime: SignedDuration,
    /// From when; `None` for the profile's first lifetime.
    pub from: Option<Date>,
}

const DAY: i64 = 24;

/// The known limits of a Let's Encrypt profile, `None` for a name it does not offer.
pub fn lets_encrypt_limits(profile: &str) -> Option<ProfileLimits> {
    let (max, ip, cn, authz, since) = match profile {
        "classic" => (100, false, true, 7 * DAY, None),
        "tlsserver" => (25, false, false, 1, None),
        "shortlived" => (25, true, false, 1, Some(date(2026, 1, 15))),
        _ => return None,
    };
    Some(ProfileLimits {
        name: profile.to_owned(),
        max_identifiers: max,
        ip_addresses: ip,
        common_name: cn,
        pending_authz: SignedDuration::from_hours(authz),
        since,
    })
}

/// How long the issuer's CA keeps a pending authorization under the issuer's profile, when
/// certdx knows it (Let's Encrypt's profiles: 1 hour under `tlsserver` and `shortlived`, 7 days
/// under `classic`), with whose figure it is in words; `None` for any other CA.
pub fn known_pending_authz(acme: &crate::model::AcmeIssuer) -> Option<(SignedDuration, String)> {
    let ca = KnownCa::of_server(&acme.server)?;
    let profile = acme.profile.as_deref().or(ca.default_profile())?;
    let limits = lets_encrypt_limits(profile).filter(|_| ca == KnownCa::LetsEncrypt)?;
    Some((
        limits.pending_authz,
        format!("{}'s {profile} profile", ca.name()),
    ))
}

/// Every lifetime a Let's Encrypt profile has had or is announced to have, oldest first.
pub fn lets_encrypt_lifetimes(profile: &str) -> &'static [Lifetime] {
    const fn days(d: i64, from: Option<Date>) -> Lifetime {
        Lifetime {
            lifetime: SignedDuration::from_hours(d * DAY),
            from,
        }
    }
    const CLASSIC: &[Lifetime] = &[
        days(90, None),
        days(64, Some(date(2027, 2, 10))),
        days(45, Some(date(2028, 2, 16))),
    ];
    const TLSSERVER: &[Lifetime] = &[days(90, None), days(45, Some(date(2026, 5, 13)))];
    const SHORTLIVED: &[Lifetime] = &[Lifetime {
        lifetime: SignedDuration::from_hours(160),
        from: Some(date(2026, 1, 15)),
    }];
    match profile {
        "classic" => CLASSIC,
        "tlsserver" => TLSSERVER,
        "shortlived" => SHORTLIVED,
        _ => &[],
    }
}

/// The UTC midnight starting `d`.
pub fn day_start(d: Date) -> Timestamp {
    d.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The directories fetched in this run, by ACME server URL: what each advertises, or why it
/// could not be read. A server absent from the map was not fetched (offline).
pub type Directories = std::collections::HashMap<String, Result<AdvertisedProfiles, String>>;

/// The CA directory's `meta.profiles`, as fetched: profile names with their descriptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdvertisedProfiles {
    /// The directory URL fetched.
    pub url: String,
    /// `(name, description)` in the directory's order; empty when it advertises none.
    pub profiles: Vec<(String, String)>,
}

impl AdvertisedProfiles {
    /// Whether the directory offers `name`.
    pub fn offers(&self, name: &str) -> bool {
        self.profiles.iter().any(|(n, _)| n == name)
    }

    /// The names, comma separated, or `none`.
    pub fn names(&self) -> String {
        if self.profiles.is_empty() {
            return "none".to_owned();
        }
        self.profiles
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Parses a Go duration as cert-manager writes them (`2160h`, `1h30m`, `160h0m0s`, `90m`,
/// `1.5h`); `None` for anything else.
pub fn parse_go_duration(text: &str) -> Option<SignedDuration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += value * secs;
    }
    SignedDuration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_as_cert_manager_writes_them() {
        let h = SignedDuration::from_hours;
        assert_eq!(parse_go_duration("2160h"), Some(h(2160)));
        assert_eq!(parse_go_duration("160h0m0s"), Some(h(160)));
        assert_eq!(
            parse_go_duration("1h30m"),
            Some(SignedDuration::from_mins(90))
        );
        assert_eq!(
            parse_go_duration("1.5h"),
            Some(SignedDuration::from_mins(90))
        );
        assert_eq!(parse_go_duration("10d"), None);
        assert_eq!(parse_go_duration(""), None);
    }

    #[test]
    fn servers_are_known_by_host() {
        assert_eq!(
            KnownCa::of_server("https://acme-staging-v02.api.letsencrypt.org/directory"),
            Some(KnownCa::LetsEncrypt)
        );
        assert_eq!(
            KnownCa::of_server("https://dv.acme-v02.api.pki.goog/directory"),
            Some(KnownCa::GoogleTrust)
        );
        assert_eq!(KnownCa::of_server("https://127.0.0.1:14000/dir"), None);
    }
}
