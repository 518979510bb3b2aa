//! [`Dns01Handle`]: the TXT records being served and the zone serial, shared by the engine
//! (which sets and removes values) and the server (which reads them on every question).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::rr::{Name, RecordType};

use super::answer::{Answer, answer};
use super::delegation::{Delegation, delegated_name};
use super::error::Dns01Error;
use super::zone::Dns01Zone;

/// The longest value one TXT character-string holds.
const MAX_TXT_LEN: usize = 255;

/// The mutable part of the zone.
#[derive(Debug, Clone)]
pub(super) struct Records {
    /// Owner (lower case) -> values, in the order they were set. Several values per name: a
    /// wildcard and its base name validate at the same `_acme-challenge` name.
    pub(super) txt: BTreeMap<Name, Vec<String>>,
    /// The SOA serial, bumped on every change.
    pub(super) serial: u32,
}

struct Shared {
    zone: Dns01Zone,
    records: RwLock<Records>,
    elsewhere: OnceLock<TxtElsewhere>,
}

/// Where the TXT values of a name this server holds none for are looked up: other workers'
/// values in the shared store. A blocking call, run on tokio's blocking pool; `Err` is the
/// reason it could not be asked.
pub type TxtElsewhere = Arc<dyn Fn(&str) -> Result<Vec<String>, String> + Send + Sync>;

/// A cheap, cloneable handle on the zone's TXT records. Changes are visible to the next
/// question the server answers.
#[derive(Clone)]
pub struct Dns01Handle {
    inner: Arc<Shared>,
}

impl Dns01Handle {
    /// A handle on an empty zone. The serial starts at the current Unix time, so a restarted
    /// server never goes back to a serial a resolver or a secondary has already seen.
    pub fn new(zone: Dns01Zone) -> Dns01Handle {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1);
        // Serial arithmetic is modulo 2^32 (RFC 1982), so truncating is what wraps.
        let serial = (now as u32).max(1);
        Dns01Handle {
            inner: Arc::new(Shared {
                zone,
                records: RwLock::new(Records {
                    txt: BTreeMap::new(),
                    serial,
                }),
                elsewhere: OnceLock::new(),
            }),
        }
    }

    /// The zone's fixed parts.
    pub fn zone(&self) -> &Dns01Zone {
        &self.inner.zone
    }

    /// The zone apex.
    pub fn origin(&self) -> &Name {
        self.inner.zone.origin()
    }

    /// Where the TXT for `identifier` goes in this zone, and the CNAME the user must create
    /// (see [`delegated_name`]).
    pub fn delegation(&self, identifier: &str) -> Result<Delegation, Dns01Error> {
        delegated_name(identifier, self.origin())
    }

    /// Adds `value` to the TXT set at `fqdn` (inside the zone). Returns whether it was new;
    /// the serial increases only when something changed.
    pub fn set_txt(&self, fqdn: &str, value: &str) -> Result<bool, Dns01Error> {
        let name = self.inner.zone.name_inside(fqdn)?;
        if value.len() > MAX_TXT_LEN {
            return Err(Dns01Error::ValueTooLong { len: value.len() });
        }
        let mut records = self.write();
        let values = records.txt.entry(name).or_default();
        if values.iter().any(|v| v == value) {
            return Ok(false);
        }
        values.push(value.to_owned());
        records.serial = records.serial.wrapping_add(1).max(1);
        Ok(true)
    }

    /// Removes `value` from the TXT set at `fqdn`, leaving the name's other values. Returns
    /// whether it was there.
    pub fn remove_txt(&self, fqdn: &str, value: &str) -> Result<bool, Dns01Error> {
        let name = self.inner.zone.name_inside(fqdn)?;
        let mut records = self.write();
        let Some(values) = records.txt.get_mut(&name) else {
            return Ok(false);
        };
        let before = values.len();
        values.retain(|v| v != value);
        if values.len() == before {
            return Ok(false);
        }
        if values.is_empty() {
            records.txt.remove(&name);
        }
        records.serial = records.serial.wrapping_add(1).max(1);
        Ok(true)
    }

    /// The values served at `fqdn` (empty when none, or when the name is not in the zone).
    pub fn txt(&self, fqdn: &str) -> Vec<String> {
        let Ok(name) = self.inner.zone.name_inside(fqdn) else {
            return Vec::new();
        };
        self.read().txt.get(&name).cloned().unwrap_or_default()
    }

    /// How many TXT values are served in total: what a finished batch expects to be zero.
    pub fn len(&self) -> usize {
        self.read().txt.values().map(Vec::len).sum()
    }

    /// Whether no TXT value is served.
    pub fn is_empty(&self) -> bool {
        self.read().txt.is_empty()
    }

    /// The current SOA serial.
    pub fn serial(&self) -> u32 {
        self.read().serial
    }

    /// Answers TXT questions for names this zone holds no value for from `elsewhere` too
    /// (set once; later calls are ignored).
    pub fn answer_elsewhere(&self, elsewhere: TxtElsewhere) {
        let _ = self.inner.elsewhere.set(elsewhere);
    }

    /// The server's answer to one question: from this zone's records, and for a TXT name it
    /// holds nothing for, with the values found elsewhere (see [`Dns01Handle::answer_elsewhere`]).
    pub(super) async fn answer(&self, qname: &Name, qtype: RecordType) -> Answer {
        let local = {
            let records = self.read();
            let held = records.txt.contains_key(qname);
            (held || !matches!(qtype, RecordType::TXT | RecordType::ANY))
                .then(|| answer(&self.inner.zone, &records, qname, qtype))
        };
        if let Some(answer) = local {
            return answer;
        }
        let found = match self.inner.elsewhere.get() {
            Some(elsewhere) if self.inner.zone.origin().zone_of(qname) => {
                let elsewhere = Arc::clone(elsewhere);
                let name = qname.to_string();
                match tokio::task::spawn_blocking(move || elsewhere(&name)).await {
                    Ok(Ok(values)) => values,
                    Ok(Err(why)) => {
                        tracing::warn!(%why, "could not look TXT values up in the shared store");
                        Vec::new()
                    }
                    Err(_) => Vec::new(),
                }
            }
            _ => Vec::new(),
        };
        let mut records = self.read().clone();
        if !found.is_empty() {
            records.txt.insert(qname.to_lowercase(), found);
        }
        answer(&self.inner.zone, &records, qname, qtype)
    }

    fn read(&self) -> RwLockReadGuard<'_, Records> {
        // A panic while holding the lock leaves whole values behind (every change is one
        // push, retain or remove), so the data stays usable.
        self.inner
            .records
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Records> {
        self.inner
            .records
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl std::fmt::Debug for Dns01Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let records = self.read();
        f.debug_struct("Dns01Handle")
            .field("origin", &self.origin().to_string())
            .field("names", &records.txt.len())
            .field("serial", &records.serial)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle() -> Dns01Handle {
        Dns01Handle::new(Dns01Zone::new("acme.test").unwrap())
    }

    #[test]
    fn several_values_per_name_and_serial_only_moves_on_change() {
        let h = handle();
        let s0 = h.serial();
        assert!(h.set_txt("a.acme.test", "one").unwrap());
        assert!(h.set_txt("A.ACME.TEST.", "two").unwrap());
        assert!(!h.set_txt("a.acme.test", "one").unwrap());
        assert_eq!(h.txt("a.acme.test."), ["one", "two"]);
        assert_eq!(h.serial(), s0.wrapping_add(2));
        assert_eq!(h.len(), 2);

        assert!(h.remove_txt("a.acme.test", "one").unwrap());
        assert!(!h.remove_txt("a.acme.test", "one").unwrap());
        assert_eq!(h.txt("a.acme.test"), ["two"]);
        assert!(h.remove_txt("a.acme.test", "two").unwrap());
        assert!(h.is_empty());
        assert_eq!(h.serial(), s0.wrapping_add(4));
    }

    #[tokio::test]
    async fn a_name_held_elsewhere_is_answered_from_there() {
        let h = handle();
        h.set_txt("a.acme.test", "mine").unwrap();
        h.answer_elsewhere(Arc::new(|name: &str| {
            Ok(if name.trim_end_matches('.') == "b.acme.test" {
                vec!["theirs".to_string()]
            } else {
                Vec::new()
            })
        }));
        let name = |n: &str| Name::from_ascii(n).unwrap();
        let theirs = h.answer(&name("b.acme.test."), RecordType::TXT).await;
        assert_eq!(theirs.answers.len(), 1);
        assert!(theirs.answers[0].to_string().contains("theirs"));
        let mine = h.answer(&name("a.acme.test."), RecordType::TXT).await;
        let mine: Vec<String> = mine.answers.iter().map(ToString::to_string).collect();
        assert!(mine.iter().any(|r| r.contains("mine")), "{mine:?}");
        assert!(!mine.iter().any(|r| r.contains("theirs")), "{mine:?}");
        let nobody = h.answer(&name("c.acme.test."), RecordType::TXT).await;
        assert!(nobody.answers.is_empty());
        assert_eq!(
            nobody.rcode,
            hickory_proto::op::ResponseCode::NXDomain,
            "a name nobody holds"
        );
    }

    #[test]
    fn rejects_names_outside_the_zone_and_overlong_values() {
        let h = handle();
        assert!(matches!(
            h.set_txt("a.other.test", "v"),
            Err(Dns01Error::OutsideZone { .. })
        ));
        let long = "x".repeat(256);
        assert!(matches!(
            h.set_txt("a.acme.test", &long),
            Err(Dns01Error::ValueTooLong { len: 256 })
        ));
        assert!(h.is_empty());
    }
}
