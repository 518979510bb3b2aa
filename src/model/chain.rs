//! The links Certificate -> CertificateRequest -> Order -> Challenge, and the Events about
//! each object. Objects that link to nothing are kept as orphans, never dropped.

use std::collections::HashMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};

use super::{CERTIFICATE_NAME_ANNOTATION, Inventory, Kind, REVISION_ANNOTATION};

/// The whole estate, linked. Indices point into the [`Inventory`] the index was built from.
#[derive(Debug, Clone, Default)]
pub struct ChainIndex {
    /// One chain per Certificate, in inventory order.
    pub certificates: Vec<CertificateChain>,
    /// CertificateRequests that belong to no known Certificate, with their Orders.
    pub orphan_requests: Vec<RequestLink>,
    /// Orders that belong to no known CertificateRequest, with their Challenges.
    pub orphan_orders: Vec<OrderLink>,
    /// Challenges that belong to no known Order.
    pub orphan_challenges: Vec<usize>,
    events: HashMap<EventKey, Vec<usize>>,
}

/// A Certificate and its requests, newest revision first.
#[derive(Debug, Clone, Default)]
pub struct CertificateChain {
    /// Index into `Inventory::certificates`.
    pub certificate: usize,
    /// The requests: `requests[0]` is the current revision, the rest is history.
    pub requests: Vec<RequestLink>,
}

impl CertificateChain {
    /// The current revision's request, if any.
    pub fn current(&self) -> Option<&RequestLink> {
        self.requests.first()
    }

    /// Older revisions, newest first.
    pub fn history(&self) -> &[RequestLink] {
        self.requests.get(1..).unwrap_or_default()
    }
}

/// A CertificateRequest and its Orders, newest first.
#[derive(Debug, Clone, Default)]
pub struct RequestLink {
    /// Index into `Inventory::requests`.
    pub request: usize,
    /// The `cert-manager.io/certificate-revision` annotation, if it parses.
    pub revision: Option<u32>,
    /// The request's Orders.
    pub orders: Vec<OrderLink>,
}

/// An Order and its Challenges.
#[derive(Debug, Clone, Default)]
pub struct OrderLink {
    /// Index into `Inventory::orders`.
    pub order: usize,
    /// Indices into `Inventory::challenges`, by DNS name.
    pub challenges: Vec<usize>,
}

/// How Events are matched to objects: by uid when the event has one, else by kind and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum EventKey {
    Uid(String),
    Name(Kind, String, String),
}

/// Finds the owner of `meta` of kind `owner_kind` among `owners`, by uid first and by name
/// in the same namespace second (hand-written fixtures and some exports lack uids).
struct Owners<'a> {
    by_uid: HashMap<&'a str, usize>,
    by_name: HashMap<(&'a str, &'a str), usize>,
}

impl<'a> Owners<'a> {
    fn new<'b: 'a, K: ResourceExt + 'b>(objects: &'b [K]) -> Owners<'a> {
        let mut by_uid = HashMap::with_capacity(objects.len());
        let mut by_name = HashMap::with_capacity(objects.len());
        for (i, o) in objects.iter().enumerate() {
            let meta = o.meta();
            if let Some(uid) = meta.uid.as_deref() {
                by_uid.insert(uid, i);
            }
            by_name.insert(
                (
                    meta.namespace.as_deref().unwrap_or(""),
                    meta.name.as_deref().unwrap_or(""),
                ),
                i,
            );
        }
        Owners { by_uid, by_name }
    }

    fn owner_of(&self, meta: &ObjectMeta, owner_kind: &str) -> Option<usize> {
        let namespace = meta.namespace.as_deref().unwrap_or("");
        let refs = meta.owner_references.as_deref().unwrap_or_default();
        let of_kind = || {
            refs.iter()
                .filter(|r: &&OwnerReference| r.kind == owner_kind)
        };
        of_kind()
            .find_map(|r| self.by_uid.get(r.uid.as_str()).copied())
            .or_else(|| {
                of_kind().find_map(|r| self.by_name.get(&(namespace, r.name.as_str())).copied())
            })
    }

    fn by_name(&self, namespace: &str, name: &str) -> Option<usize> {
        self.by_name.get(&(namespace, name)).copied()
    }
}

fn created(meta: &ObjectMeta) -> Option<jiff::Timestamp> {
    meta.creation_timestamp.as_ref().map(|t| t.0)
}

impl ChainIndex {
    /// Links everything in `inv`.
    pub fn build(inv: &Inventory) -> ChainIndex {
        let certs = Owners::new(&inv.certificates);
        let requests = Owners::new(&inv.requests);
        let orders = Owners::new(&inv.orders);

        let mut challenges_of: Vec<Vec<usize>> = vec![Vec::new(); inv.orders.len()];
        let mut orphan_challenges = Vec::new();
        for (i, ch) in inv.challenges.iter().enumerate() {
            match orders.owner_of(ch.meta(), "Order") {
                Some(o) => challenges_of[o].push(i),
                None => orphan_challenges.push(i),
            }
        }
        let by_dns_name = |v: &mut Vec<usize>| {
            v.sort_by(|&a, &b| {
                let (a, b) = (&inv.challenges[a], &inv.challenges[b]);
                (&a.spec.dns_name, a.spec.wildcard, &a.spec.type_).cmp(&(
                    &b.spec.dns_name,
                    b.spec.wildcard,
                    &b.spec.type_,
                ))
            })
        };

        let mut orders_of: Vec<Vec<OrderLink>> = vec![Vec::new(); inv.requests.len()];
        let mut orphan_orders = Vec::new();
        for (i, mut chs) in challenges_of.into_iter().enumerate() {
            by_dns_name(&mut chs);
            let link = OrderLink {
                order: i,
                challenges: chs,
            };
            match requests.owner_of(inv.orders[i].meta(), "CertificateRequest") {
                Some(r) => orders_of[r].push(link),
                None => orphan_orders.push(link),
            }
        }

        let mut requests_of: Vec<Vec<RequestLink>> = vec![Vec::new(); inv.certificates.len()];
        let mut orphan_requests = Vec::new();
        for (i, mut ords) in orders_of.into_iter().enumerate() {
            ords.sort_by_key(|l| std::cmp::Reverse(created(inv.orders[l.order].meta())));
            let req = &inv.requests[i];
            let annotations = req.annotations();
            let revision = annotations
                .get(REVISION_ANNOTATION)
                .and_then(|r| r.trim().parse().ok());
            let link = RequestLink {
                request: i,
                revision,
                orders: ords,
            };
            let owner = certs.owner_of(req.meta(), "Certificate").or_else(|| {
                let name = annotations.get(CERTIFICATE_NAME_ANNOTATION)?;
                certs.by_name(req.meta().namespace.as_deref().unwrap_or(""), name)
            });
            match owner {
                Some(c) => requests_of[c].push(link),
                None => orphan_requests.push(link),
            }
        }

        let certificates = requests_of
            .into_iter()
            .enumerate()
            .map(|(i, mut reqs)| {
                // Newest revision first; requests without a revision sort by age behind them.
                reqs.sort_by_key(|l| {
                    std::cmp::Reverse((l.revision, created(inv.requests[l.request].meta())))
                });
                CertificateChain {
                    certificate: i,
                    requests: reqs,
                }
            })
            .collect();

        let mut events: HashMap<EventKey, Vec<usize>> = HashMap::new();
        for (i, ev) in inv.events.iter().enumerate() {
            let obj = &ev.involved_object;
            let key = match (&obj.uid, kind_from_str(obj.kind.as_deref().unwrap_or(""))) {
                (Some(uid), _) if !uid.is_empty() => EventKey::Uid(uid.clone()),
                (_, Some(kind)) => EventKey::Name(
                    kind,
                    obj.namespace.clone().unwrap_or_default(),
                    obj.name.clone().unwrap_or_default(),
                ),
                _ => continue,
            };
            events.entry(key).or_default().push(i);
        }
        // Newest first, as an engineer reads them.
        for list in events.values_mut() {
            list.sort_by_key(|&i| std::cmp::Reverse(event_time(&inv.events[i])));
        }

        ChainIndex {
            certificates,
            orphan_requests,
            orphan_orders,
            orphan_challenges,
            events,
        }
    }

    /// Indices of the Events about an object (newest first), matched by uid or by kind and name.
    pub fn events_for(&self, kind: Kind, meta: &ObjectMeta) -> Vec<usize> {
        let mut found = Vec::new();
        if let Some(uid) = meta.uid.as_deref().filter(|u| !u.is_empty())
            && let Some(v) = self.events.get(&EventKey::Uid(uid.to_owned()))
        {
            found.extend_from_slice(v);
        }
        let by_name = EventKey::Name(
            kind,
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
        );
        if let Some(v) = self.events.get(&by_name) {
            found.extend_from_slice(v);
        }
        found
    }

    /// Number of orphans of all kinds.
    pub fn orphan_count(&self) -> usize {
        self.orphan_requests.len() + self.orphan_orders.len() + self.orphan_challenges.len()
    }
}

/// The kind named by an Event's `involvedObject.kind`, if it is one certdx tracks.
pub fn kind_from_str(kind: &str) -> Option<Kind> {
    Some(match kind {
        "Certificate" => Kind::Certificate,
        "CertificateRequest" => Kind::CertificateRequest,
        "Order" => Kind::Order,
        "Challenge" => Kind::Challenge,
        "Issuer" => Kind::Issuer,
        "ClusterIssuer" => Kind::ClusterIssuer,
        _ => return None,
    })
}

/// When an Event last happened: `lastTimestamp`, else `eventTime`, else `firstTimestamp`,
/// else its creation (core v1 Events fill these differently depending on the reporter).
pub fn event_time(ev: &k8s_openapi::api::core::v1::Event) -> Option<jiff::Timestamp> {
    ev.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| ev.event_time.as_ref().map(|t| t.0))
        .or_else(|| ev.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| created(&ev.metadata))
}
