//! A PostgreSQL connection URL that never shows its password: `--state postgres://...` and
//! `CERTDX_STATE` carry credentials, and every message that names the store goes through
//! [`PgUrl`]'s `Display`, which masks them.

use std::fmt;
use std::str::FromStr;

use super::super::error::{StoreError, error_chain};

/// What replaces a password wherever the URL is shown.
const MASK: &str = "***";

/// A validated `postgres://` / `postgresql://` URL. `Display` and `Debug` show it with the
/// password masked; only the connection itself sees the original.
#[derive(Clone, PartialEq, Eq)]
pub struct PgUrl {
    full: String,
    shown: String,
    password: Option<String>,
}

impl PgUrl {
    /// True when `text` names a PostgreSQL server rather than an SQLite file.
    pub fn is_postgres_url(text: &str) -> bool {
        let lower = text.trim_start().to_ascii_lowercase();
        lower.starts_with("postgres://") || lower.starts_with("postgresql://")
    }

    /// Parses and validates `text`. The error never contains the password.
    pub fn parse(text: &str) -> Result<PgUrl, StoreError> {
        let shown = mask_url(text);
        if !PgUrl::is_postgres_url(text) {
            return Err(StoreError::BadUrl {
                url: shown,
                reason: "expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE".to_string(),
            });
        }
        let (driver_url, _) = super::tls::split(text).map_err(|reason| StoreError::BadUrl {
            url: shown.clone(),
            reason,
        })?;
        let config = postgres::Config::from_str(&driver_url).map_err(|e| StoreError::BadUrl {
            url: shown.clone(),
            reason: error_chain(&e),
        })?;
        let password = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .filter(|p| !p.is_empty());
        Ok(PgUrl {
            full: text.to_string(),
            shown,
            password,
        })
    }

    /// The URL with the password masked, for messages.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The URL as given, password included: only for the driver.
    pub(crate) fn secret(&self) -> &str {
        &self.full
    }

    /// `text` with every occurrence of the password masked (driver messages may echo parts of
    /// the connection string).
    pub(crate) fn scrub(&self, text: &str) -> String {
        match &self.password {
            Some(p) => text.replace(p.as_str(), MASK),
            None => text.to_string(),
        }
    }
}

impl fmt::Display for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PgUrl").field(&self.shown).finish()
    }
}

/// Masks the password of a URL's userinfo (`user:PASSWORD@`) and of a `password=` query
/// parameter, without needing the URL to be valid.
fn mask_url(text: &str) -> String {
    let (scheme, rest) = match text.find("://") {
        Some(i) => text.split_at(i + 3),
        None => ("", text),
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.find(':') {
                Some(colon) => format!("{}:{MASK}{host}", &userinfo[..colon]),
                None => authority.to_string(),
            }
        }
        None => authority.to_string(),
    };
    let tail = match tail.find('?') {
        Some(q) => {
            let (path, query) = tail.split_at(q + 1);
            let masked: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}={MASK}"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}{}", masked.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_masked_in_every_rendering() {
        let url = PgUrl::parse("postgres://certdx:s3cr%3At@db.example:5433/state").unwrap();
        for shown in [url.to_string(), format!("{url:?}"), url.shown().to_string()] {
            assert!(!shown.contains("s3cr"), "{shown}");
            assert!(
                shown.contains("certdx:***@db.example:5433/state"),
                "{shown}"
            );
        }
        let q = PgUrl::parse("postgresql://certdx@127.0.0.1/db?password=hunter2&sslmode=disable")
            .unwrap();
        assert!(!q.to_string().contains("hunter2"), "{q}");
        assert!(q.to_string().contains("sslmode=disable"));
        assert_eq!(q.scrub("auth failed for hunter2"), "auth failed for ***");
    }

    #[test]
    fn a_bad_url_is_refused_without_its_password() {
        for bad in [
            "postgres://u:topsecret@host:notaport/db",
            "mysql://u:topsecret@host/db",
        ] {
            let err = PgUrl::parse(bad).unwrap_err().to_string();
            assert!(!err.contains("topsecret"), "{err}");
            assert!(err.contains("u:***@host"), "{err}");
        }
        assert!(PgUrl::is_postgres_url("POSTGRESQL://x/y"));
        assert!(!PgUrl::is_postgres_url("state.sqlite"));
    }
}
