//! cert-manager's resources as certdx sees them, the chain that links them, their state,
//! and the findings certdx draws from them.

mod code;
mod finding;

pub use code::Code;
pub use finding::{DnsEvidence, Evidence, Finding, HttpEvidence, Paused, RateLimit, Severity};
mod certificate;
mod challenge;
mod common;
mod issuer;
mod order;
mod request;

pub use certificate::{Certificate, CertificateSpec, CertificateStatus};
pub use challenge::{Challenge, ChallengeSpec, ChallengeStatus};
pub use common::{Condition, IssuerRef, condition};
pub use issuer::{
    AcmeIssuer, AcmeIssuerStatus, ClusterIssuer, ClusterIssuerSpec, ExternalAccountBinding, Issuer,
    IssuerConfig, IssuerSpec, IssuerStatus,
};
pub use order::{AcmeChallenge, Authorization, Order, OrderSpec, OrderStatus};
pub use request::{
    CERTIFICATE_NAME_ANNOTATION, CertificateRequest, CertificateRequestSpec,
    CertificateRequestStatus, REVISION_ANNOTATION,
};
mod chain;
mod clock;
pub mod inventory;
pub mod profile;
pub mod scheduler;
pub mod state;

pub use chain::{CertificateChain, ChainIndex, OrderLink, RequestLink, event_time, kind_from_str};
pub use inventory::{Coverage, Inventory, Kind, Listing, ObjectRef};
pub use state::{State, Status};
pub mod redact;
