//! Whether a certificate an earlier run issued is kept or issued again: kept while it is
//! readable, parses, and has more than the renewal window left; issued again when its file is
//! gone or broken, when it expires within the window, when the run is forced, or when the CA's
//! renewal information (ARI, RFC 9773) says its time has come.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;

use futures::StreamExt;
use instant_acme::CertificateIdentifier;
use tokio::time::Instant;

use super::config::DEFAULT_RENEW_BEFORE;
use super::copies;
use super::input::CertRequest;
use super::{SharedStore, lock_store};
use crate::engine::acme::{AcmeClient, certificate_id};
use crate::engine::store::StoreError;

/// Renewal-information questions in flight at once (plain GETs, no nonce, no account).
const ARI_CONCURRENCY: usize = 16;

/// What to do with a certificate an earlier run issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Renewal {
    /// Still good: not ordered again.
    Keep {
        /// The certificate file.
        cert: PathBuf,
        /// When it expires.
        not_after: Timestamp,
        /// From when a run orders it again: the renewal window's start, or the CA's ARI point
        /// when that is sooner.
        renew_from: Timestamp,
        /// Installed here by this run from another worker's copy in the shared store.
        copied: bool,
    },
    /// Ordered again, for this reason (shown in the report).
    Renew {
        /// Why, in words.
        why: String,
    },
}

/// Certificates living less than this are short-lived: they renew at half their lifetime.
pub(super) const SHORT_LIVED: Duration = Duration::from_secs(10 * 86_400);

/// Decides about the certificate at `path` at `now`: renewed when less than `window` is left
/// (`None`: a third of its lifetime, at most [`DEFAULT_RENEW_BEFORE`]; a short-lived one, under
/// [`SHORT_LIVED`], always at half its lifetime), or when `force`. The CA's renewal information
/// (ARI), when it points sooner, is applied by [`earlier_runs`].
pub(super) fn decide(
    path: &Path,
    now: Timestamp,
    window: Option<Duration>,
    force: bool,
) -> Renewal {
    let (not_before, not_after) = match std::fs::read(path) {
        Ok(pem) => match validity(&pem) {
            Ok(t) => t,
            Err(why) => {
                return Renewal::Renew {
                    why: format!("{} cannot be read as a certificate ({why})", path.display()),
                };
            }
        },
        Err(e) => {
            return Renewal::Renew {
                why: format!("{} is gone ({e})", path.display()),
            };
        }
    };
    if force {
        return Renewal::Renew {
            why: format!("--force (the certificate was valid until {not_after})"),
        };
    }
    let lifetime = not_after
        .as_second()
        .saturating_sub(not_before.as_second())
        .max(0);
    let lifetime_secs = u64::try_from(lifetime).unwrap_or(0);
    // A short-lived certificate (under 10 days, e.g. Let's Encrypt's 6-day `shortlived`)
    // renews at half its life whatever `--renew-before-days` says: a window sized for 90-day
    // certificates would renew it at every run, or let it expire between two.
    let window = if lifetime_secs < SHORT_LIVED.as_secs() {
        Duration::from_secs(lifetime_secs / 2)
    } else {
        window.unwrap_or_else(|| Duration::from_secs(lifetime_secs / 3).min(DEFAULT_RENEW_BEFORE))
    };
    let window_secs = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
    let left = not_after.as_second().saturating_sub(now.as_second());
    if left <= window_secs {
        return Renewal::Renew {
            why: if left <= 0 {
                format!("it expired at {not_after}")
            } else {
                format!(
                    "it expires at {not_after}, within the {} renewal window",
                    span(window)
                )
            },
        };
    }
    Renewal::Keep {
        cert: path.to_owned(),
        not_after,
        renew_from: Timestamp::from_second(not_after.as_second() - window_secs)
            .unwrap_or(not_after),
        copied: false,
    }
}

/// The ARI identifier of the certificate an earlier run issued for `request`'s names, for a
/// renewal's `replaces`; `None` when there is none or its file cannot be read.
pub(super) fn replaced_id(
    store: &SharedStore,
    directory: &str,
    request: &CertRequest,
) -> Option<CertificateIdentifier<'static>> {
    let (_, path) = lock_store(store)
        .issued_for(directory, &request.key())
        .ok()
        .flatten()?;
    certificate_id(&std::fs::read(path).ok()?).ok()
}

/// What the CA's renewal information says about one kept certificate.
enum CaVerdict {
    /// Nothing (no ARI, or the question failed): the local window decides.
    Unknown,
    /// Renew now, for this reason.
    RenewNow(String),
    /// Renew from this instant on.
    From(Timestamp),
}

/// How a run treats what earlier runs issued.
#[derive(Debug, Clone, Copy)]
pub(super) struct Policy {
    /// The renewal window (`None`: a third of the lifetime, at most 30 days).
    pub window: Option<Duration>,
    /// Renew everything.
    pub force: bool,
}

/// For each request, what an earlier run issued for exactly its names and what to do with it
/// (`None`: nothing was issued), judged from the copy in `out_dir` on a shared store: the
/// local decision first, then the CA's renewal information
/// for what the local decision keeps (the CA knows of incidents nobody else does).
pub(super) async fn earlier_runs(
    store: &SharedStore,
    client: &AcmeClient,
    directory: &str,
    out_dir: &Path,
    requests: &[CertRequest],
    policy: Policy,
    deadline: Instant,
) -> Result<Vec<Option<Renewal>>, StoreError> {
    let now = Timestamp::now();
    let mut verdicts = Vec::with_capacity(requests.len());
    for request in requests {
        let issued = match lock_store(store).issued_for(directory, &request.key()) {
            Ok(issued) => issued,
            // Not a name the store can hold, so never issued: the preflight says what is wrong.
            Err(StoreError::InvalidIdentifier(_)) => None,
            Err(e) => return Err(e),
        };
        // On a shared store the file may be another worker's: judged from this worker's own
        // copy, installed from the database's when it lacks it.
        let local = issued.map(|(order, cert)| {
            copies::local_copy(&**lock_store(store), out_dir, request, order, cert)
        });
        verdicts.push(local.map(|copy| {
            let mut verdict = decide(&copy.cert, now, policy.window, policy.force);
            if let Renewal::Keep { copied, .. } = &mut verdict {
                *copied = copy.installed;
            }
            verdict
        }));
    }
    let kept: Vec<&Path> = verdicts
        .iter()
        .filter_map(|v| match v {
            Some(Renewal::Keep { cert, .. }) => Some(cert.as_path()),
            _ => None,
        })
        .collect();
    let mut from_ca = ask_ca(client, &kept, now, deadline).await.into_iter();
    for verdict in verdicts.iter_mut() {
        let Some(Renewal::Keep { renew_from, .. }) = verdict else {
            continue;
        };
        match from_ca.next() {
            Some(CaVerdict::RenewNow(why)) => *verdict = Some(Renewal::Renew { why }),
            Some(CaVerdict::From(at)) => *renew_from = (*renew_from).min(at),
            Some(CaVerdict::Unknown) | None => {}
        }
    }
    Ok(verdicts)
}

/// For each certificate in `kept` (still good by the local window), what the CA's renewal
/// information says: renew now (its ARI window's point for this certificate has passed), or
/// from when. A CA without ARI, or a failed question, changes nothing (the local window stays
/// the rule).
async fn ask_ca(
    client: &AcmeClient,
    kept: &[&Path],
    now: Timestamp,
    deadline: Instant,
) -> Vec<CaVerdict> {
    futures::stream::iter(kept)
        .map(|path| async move {
            let Some(id) = std::fs::read(path)
                .ok()
                .and_then(|pem| certificate_id(&pem).ok())
            else {
                return CaVerdict::Unknown;
            };
            let window = match client.renewal_window(&id, deadline).await {
                Ok(Some(window)) => window,
                Ok(None) => return CaVerdict::Unknown,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "ACME renewal information");
                    return CaVerdict::Unknown;
                }
            };
            let at = window.renew_at(&id);
            if at > now {
                return CaVerdict::From(at);
            }
            let why = window
                .explanation_url
                .as_deref()
                .map(|url| format!("; the CA explains: {url}"))
                .unwrap_or_default();
            CaVerdict::RenewNow(format!(
                "the CA's renewal information (ARI) suggests renewing between {} and {}{why}",
                window.start, window.end
            ))
        })
        .buffered(ARI_CONCURRENCY)
        .collect()
        .await
}

/// A window in words: whole days when it is at least one, else hours.
fn span(window: Duration) -> String {
    let secs = window.as_secs();
    if secs >= 86_400 {
        format!("{}-day", secs / 86_400)
    } else {
        format!("{}-hour", secs / 3600)
    }
}

/// The leaf's notAfter: the first certificate of a PEM chain.
pub(super) fn not_after(pem: &[u8]) -> Result<Timestamp, String> {
    validity(pem).map(|(_, end)| end)
}

/// The leaf's notBefore and notAfter.
fn validity(pem: &[u8]) -> Result<(Timestamp, Timestamp), String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem).map_err(|e| e.to_string())?;
    let cert = block.parse_x509().map_err(|e| e.to_string())?;
    let at = |t: &x509_parser::time::ASN1Time| {
        Timestamp::from_second(t.timestamp()).map_err(|e| e.to_string())
    };
    Ok((
        at(&cert.validity().not_before)?,
        at(&cert.validity().not_after)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    /// A self-signed PEM certificate valid until midnight UTC of 2030-06-01, and that instant.
    fn cert() -> (String, Timestamp) {
        let mut params = rcgen::CertificateParams::new(vec!["a.test".to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2030, 6, 1);
        let key = rcgen::KeyPair::generate().unwrap();
        let end: Timestamp = "2030-06-01T00:00:00Z".parse().unwrap();
        (params.self_signed(&key).unwrap().pem(), end)
    }

    /// A self-signed PEM certificate valid for `days` from 2030-06-01, and its end.
    fn short_lived(days: u8) -> (String, Timestamp) {
        let mut params = rcgen::CertificateParams::new(vec!["a.test".to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2030, 6, 1);
        params.not_after = rcgen::date_time_ymd(2030, 6, 1 + days);
        let key = rcgen::KeyPair::generate().unwrap();
        let start: Timestamp = "2030-06-01T00:00:00Z".parse().unwrap();
        let end = Timestamp::from_second(start.as_second() + i64::from(days) * DAY).unwrap();
        (params.self_signed(&key).unwrap().pem(), end)
    }

    #[test]
    fn a_short_lived_certificate_renews_at_half_its_life_whatever_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.test.crt");
        // A 6-day certificate: kept with 3.1 days left, renewed with 2.9 (half is 3 days),
        // also when --renew-before-days 30 would renew it at every run.
        let (pem, end) = short_lived(6);
        std::fs::write(&path, pem).unwrap();
        let at =
            |hours_left: i64| Timestamp::from_second(end.as_second() - hours_left * 3600).unwrap();
        for flag in [None, Some(Duration::from_secs(30 * 86_400))] {
            assert!(matches!(
                decide(&path, at(75), flag, false),
                Renewal::Keep { .. }
            ));
            let Renewal::Renew { why } = decide(&path, at(70), flag, false) else {
                panic!("70 hours left of 6 days is inside the 3-day window");
            };
            assert!(why.contains("3-day renewal window"), "{why}");
        }
    }

    #[test]
    fn by_default_a_third_of_the_lifetime_is_left_at_renewal_at_most_thirty_days() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.test.crt");
        // A 15-day certificate: kept with 5.1 days left, renewed with 4.9 (a third is 5 days).
        let (pem, end) = short_lived(15);
        std::fs::write(&path, pem).unwrap();
        let at =
            |hours_left: i64| Timestamp::from_second(end.as_second() - hours_left * 3600).unwrap();
        assert!(matches!(
            decide(&path, at(123), None, false),
            Renewal::Keep { .. }
        ));
        let Renewal::Renew { why } = decide(&path, at(117), None, false) else {
            panic!("117 hours left of 15 days is inside the 5-day window");
        };
        assert!(why.contains("5-day renewal window"), "{why}");
        // A 10-year certificate: the window stays 30 days.
        let (pem, end) = cert();
        std::fs::write(&path, pem).unwrap();
        assert!(matches!(
            decide(&path, days_before(end, 31), None, false),
            Renewal::Keep { .. }
        ));
        assert!(matches!(
            decide(&path, days_before(end, 29), None, false),
            Renewal::Renew { why } if why.contains("30-day")
        ));
    }

    fn days_before(t: Timestamp, days: i64) -> Timestamp {
        Timestamp::from_second(t.as_second() - days * DAY).unwrap()
    }

    #[test]
    fn a_certificate_is_kept_until_the_window_then_renewed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.test.crt");
        let (pem, end) = cert();
        std::fs::write(&path, pem).unwrap();
        let window = Some(Duration::from_secs(30 * 86_400));
        assert_eq!(
            decide(&path, days_before(end, 60), window, false),
            Renewal::Keep {
                cert: path.clone(),
                not_after: end,
                renew_from: days_before(end, 30),
                copied: false,
            }
        );
        let Renewal::Renew { why } = decide(&path, days_before(end, 60), window, true) else {
            panic!("--force renews");
        };
        assert!(why.contains("--force"), "{why}");
        let Renewal::Renew { why } = decide(&path, days_before(end, 29), window, false) else {
            panic!("29 days left is inside a 30-day window");
        };
        assert!(why.contains("30-day renewal window"), "{why}");
        assert!(matches!(
            decide(&path, days_before(end, -1), window, false),
            Renewal::Renew { why } if why.contains("expired")
        ));
    }

    #[test]
    fn a_missing_or_broken_file_is_issued_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone.crt");
        let now = Timestamp::from_second(1_900_000_000).unwrap();
        let window = None;
        assert!(matches!(
            decide(&path, now, window, false),
            Renewal::Renew { why } if why.contains("is gone")
        ));
        std::fs::write(&path, "not a certificate").unwrap();
        assert!(matches!(
            decide(&path, now, window, false),
            Renewal::Renew { why } if why.contains("cannot be read")
        ));
    }
}
