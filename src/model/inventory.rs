//! Every cert-manager object certdx knows about, whatever the source.

use k8s_openapi::api::core::v1::Event;
use kube::ResourceExt;

use super::{
    AcmeIssuer, Certificate, CertificateRequest, Challenge, ClusterIssuer, Issuer, IssuerRef, Order,
};

/// All loaded objects, by kind. Sources fill it; the chain index and diagnoses read it.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Certificates.
    pub certificates: Vec<Certificate>,
    /// CertificateRequests.
    pub requests: Vec<CertificateRequest>,
    /// ACME Orders.
    pub orders: Vec<Order>,
    /// ACME Challenges.
    pub challenges: Vec<Challenge>,
    /// Namespaced Issuers.
    pub issuers: Vec<Issuer>,
    /// ClusterIssuers.
    pub cluster_issuers: Vec<ClusterIssuer>,
    /// Core v1 Events about any of the above.
    pub events: Vec<Event>,
    /// Which issuer kinds the source read in full. Only a full listing proves that an issuer
    /// missing from the inventory is missing from the cluster.
    pub listed: Listing,
}

/// Where a source listed a kind completely.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Coverage {
    /// Not listed, or listed by somebody else at some other time (a snapshot): absence proves
    /// nothing.
    #[default]
    Unknown,
    /// Listed in full in this one namespace.
    Namespace(String),
    /// Listed in full everywhere (or, for a cluster-scoped kind, listed at all).
    All,
}

impl Coverage {
    /// Whether an object of this kind in `namespace` (empty for cluster-scoped kinds) would
    /// have been read had it existed.
    pub fn covers(&self, namespace: &str) -> bool {
        match self {
            Coverage::Unknown => false,
            Coverage::Namespace(ns) => ns == namespace,
            Coverage::All => true,
        }
    }
}

/// The coverage of the kinds whose absence a diagnosis reasons about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Namespaced Issuers.
    pub issuers: Coverage,
    /// ClusterIssuers.
    pub cluster_issuers: Coverage,
    /// CertificateRequests, Orders and Challenges together: the links of a chain.
    pub chain: Coverage,
}

/// Which kind of object a reference or finding is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Kind {
    /// cert-manager.io/v1 Certificate.
    Certificate,
    /// cert-manager.io/v1 CertificateRequest.
    CertificateRequest,
    /// acme.cert-manager.io/v1 Order.
    Order,
    /// acme.cert-manager.io/v1 Challenge.
    Challenge,
    /// cert-manager.io/v1 Issuer.
    Issuer,
    /// cert-manager.io/v1 ClusterIssuer.
    ClusterIssuer,
}

impl Kind {
    /// The Kubernetes kind name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Certificate => "Certificate",
            Kind::CertificateRequest => "CertificateRequest",
            Kind::Order => "Order",
            Kind::Challenge => "Challenge",
            Kind::Issuer => "Issuer",
            Kind::ClusterIssuer => "ClusterIssuer",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind plus namespace/name: how reports and findings name an object.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ObjectRef {
    /// The kind.
    pub kind: Kind,
    /// Namespace; empty for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectRef {
    /// A reference to `obj` of kind `kind`.
    pub fn of<K: ResourceExt>(kind: Kind, obj: &K) -> ObjectRef {
        ObjectRef {
            kind,
            namespace: obj.namespace().unwrap_or_default(),
            name: obj.name_any(),
        }
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Drops what no diagnosis or view reads but the API sends with every object: the
/// managedFields of server-side apply, often larger than the rest of the object.
pub fn slim_object<K: kube::Resource>(obj: &mut K) {
    obj.meta_mut().managed_fields = None;
}

impl Inventory {
    /// The ACME server URL of every ACME Issuer and ClusterIssuer, repeats included: what
    /// the CA directories are fetched for.
    pub fn acme_servers(&self) -> Vec<String> {
        let issuers = self.issuers.iter().map(|i| &i.spec.config);
        let cluster = self.cluster_issuers.iter().map(|i| &i.spec.config);
        issuers
            .chain(cluster)
            .filter_map(|c| c.acme.as_ref().map(|a| a.server.clone()))
            .collect()
    }

    /// The ACME settings of the issuer `r` names for an object in `namespace` (a ClusterIssuer
    /// by name, an Issuer by name in that namespace), with the issuer's reference; `None` when
    /// the source lacks it or it is not an ACME issuer.
    pub fn acme_issuer(&self, r: &IssuerRef, namespace: &str) -> Option<(&AcmeIssuer, ObjectRef)> {
        if r.is_cluster() {
            let i = self
                .cluster_issuers
                .iter()
                .find(|i| i.name_any() == r.name)?;
            Some((
                i.spec.config.acme.as_ref()?,
                ObjectRef::of(Kind::ClusterIssuer, i),
            ))
        } else {
            let i = self
                .issuers
                .iter()
                .find(|i| i.name_any() == r.name && i.namespace().as_deref() == Some(namespace))?;
            Some((i.spec.config.acme.as_ref()?, ObjectRef::of(Kind::Issuer, i)))
        }
    }

    /// [`slim_object`] on every object.
    pub fn slim(&mut self) {
        self.certificates.iter_mut().for_each(slim_object);
        self.requests.iter_mut().for_each(slim_object);
        self.orders.iter_mut().for_each(slim_object);
        self.challenges.iter_mut().for_each(slim_object);
        self.issuers.iter_mut().for_each(slim_object);
        self.cluster_issuers.iter_mut().for_each(slim_object);
        self.events.iter_mut().for_each(slim_object);
    }

    /// Total number of objects of all kinds.
    pub fn len(&self) -> usize {
        self.certificates.len()
            + self.requests.len()
            + self.orders.len()
            + self.challenges.len()
            + self.issuers.len()
            + self.cluster_issuers.len()
            + self.events.len()
    }

    /// Whether nothing was loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends everything from `other`.
    pub fn extend(&mut self, other: Inventory) {
        self.certificates.extend(other.certificates);
        self.requests.extend(other.requests);
        self.orders.extend(other.orders);
        self.challenges.extend(other.challenges);
        self.issuers.extend(other.issuers);
        self.cluster_issuers.extend(other.cluster_issuers);
        self.events.extend(other.events);
        // Two partial reads do not add up to a full one unless one of them was full.
        self.listed = Listing {
            issuers: wider(self.listed.issuers.clone(), other.listed.issuers),
            cluster_issuers: wider(
                self.listed.cluster_issuers.clone(),
                other.listed.cluster_issuers,
            ),
            chain: wider(self.listed.chain.clone(), other.listed.chain),
        };
    }
}

/// The wider of two coverages of the same kind.
fn wider(a: Coverage, b: Coverage) -> Coverage {
    match (a, b) {
        (Coverage::All, _) | (_, Coverage::All) => Coverage::All,
        (Coverage::Namespace(x), Coverage::Namespace(y)) if x != y => Coverage::Unknown,
        (Coverage::Unknown, other) | (other, Coverage::Unknown) => other,
        (same, _) => same,
    }
}
