//! A live cluster as a source: kubeconfig handling like kubectl, a preflight that says
//! exactly what is missing or forbidden, a paginated one-shot list for `report` and `check`,
//! and list-then-watch for the interactive view.
//!
//! Layout: `connect` (kubeconfig, context, namespace scope), `resource` (the kinds certdx
//! reads or writes, and SelfSubjectAccessReview), `preflight`, `list`, `watch`, `solver`
//! (the HTTP-01 solver's Pods, Services, Ingresses and NetworkPolicies), `logs` (the
//! cert-manager controller's log lines about an object), `health` (cert-manager's own
//! Deployments, Pods, leader Leases and webhook configurations).

mod connect;
mod error;
pub mod health;
pub mod list;
pub mod logs;
pub mod preflight;
pub mod resource;
pub mod solver;
pub mod watch;

pub use connect::{ClusterTarget, Connection, Scope, connect};
pub use error::ClusterError;
pub use resource::Resource;
