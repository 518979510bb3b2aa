//! When a snapshot was taken, as far as its objects tell: the newest instant any of them
//! records as past (a creation, a condition change, a failure, an Event). Times that point
//! ahead (a certificate's expiry, its renewal time) say nothing about when the dump was made.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Condition, Inventory, event_time};

impl Inventory {
    /// The newest instant the objects record as having happened, if any.
    pub fn newest_observed(&self) -> Option<Timestamp> {
        let meta = |m: &ObjectMeta| m.creation_timestamp.as_ref().map(|t| t.0);
        let conditions = |cs: &[Condition]| cs.iter().filter_map(|c| c.last_transition_time).max();
        let certificates = self.certificates.iter().flat_map(|c| {
            let s = c.status.as_ref();
            [
                meta(&c.metadata),
                s.and_then(|s| conditions(&s.conditions)),
                s.and_then(|s| s.last_failure_time),
                s.and_then(|s| s.not_before),
            ]
        });
        let requests = self.requests.iter().flat_map(|r| {
            let s = r.status.as_ref();
            [
                meta(&r.metadata),
                s.and_then(|s| conditions(&s.conditions)),
                s.and_then(|s| s.failure_time),
            ]
        });
        let orders = self.orders.iter().flat_map(|o| {
            [
                meta(&o.metadata),
                o.status.as_ref().and_then(|s| s.failure_time),
            ]
        });
        let challenges = self.challenges.iter().map(|c| meta(&c.metadata));
        let issuers = self.issuers.iter().flat_map(|i| {
            [
                meta(&i.metadata),
                i.status.as_ref().and_then(|s| conditions(&s.conditions)),
            ]
        });
        let cluster_issuers = self.cluster_issuers.iter().flat_map(|i| {
            [
                meta(&i.metadata),
                i.status.as_ref().and_then(|s| conditions(&s.conditions)),
            ]
        });
        let events = self.events.iter().map(event_time);
        certificates
            .chain(requests)
            .chain(orders)
            .chain(challenges)
            .chain(issuers)
            .chain(cluster_issuers)
            .chain(events)
            .flatten()
            .max()
    }
}
