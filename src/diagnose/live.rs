//! Adds the live playbook checks to diagnoses made from objects: every Challenge still
//! blocking a Certificate is checked against the real servers, and the root cause is picked
//! again with what the network says.

use std::collections::HashMap;

use kube::ResourceExt;

use super::playbook::{PlaybookOptions, Target, run_many};
use super::{ChainNode, Diagnosis, estate::settle};
use crate::checks::dns::Dns;
use crate::model::{Inventory, Kind, State};

/// Runs the playbook for the unfinished Challenges of every diagnosis that is not Ready (the
/// current revision only) and merges the findings in. Returns how many distinct targets were
/// checked.
pub async fn add_live_checks(
    diagnoses: &mut [Diagnosis],
    inv: &Inventory,
    dns: &Dns,
    opts: &PlaybookOptions,
) -> usize {
    let by_name: HashMap<(String, String), usize> = inv
        .challenges
        .iter()
        .enumerate()
        .map(|(i, c)| ((c.namespace().unwrap_or_default(), c.name_any()), i))
        .collect();
    // Which challenges each diagnosis needs, and the distinct targets overall: the same name
    // and key checked once even if two diagnoses share it.
    let mut targets: Vec<Target> = Vec::new();
    let mut needs: Vec<Vec<usize>> = Vec::with_capacity(diagnoses.len());
    for d in diagnoses.iter() {
        let mut mine = Vec::new();
        if d.status.state != State::Ready {
            let mut found = Vec::new();
            unfinished_challenges(&d.chain, &mut found);
            for (ns, name) in found {
                let Some(&i) = by_name.get(&(ns, name)) else {
                    continue;
                };
                let target = Target::from_challenge(&inv.challenges[i], inv);
                let t = match targets.iter().position(|t| same_check(t, &target)) {
                    Some(t) => t,
                    None => {
                        targets.push(target);
                        targets.len() - 1
                    }
                };
                mine.push(t);
            }
        }
        needs.push(mine);
    }
    if targets.is_empty() {
        return 0;
    }
    let results = run_many(dns, &targets, opts).await;
    for (d, mine) in diagnoses.iter_mut().zip(needs) {
        if mine.is_empty() {
            continue;
        }
        let mut extra = Vec::new();
        for t in mine {
            for mut f in results[t].findings.iter().cloned() {
                // A shared target reports against this diagnosis's own Challenge.
                if let Some(ch) = &targets[t].challenge {
                    f.subject = Some(ch.clone());
                }
                extra.push(f);
            }
        }
        let extra = super::local_view::reconcile(&d.findings, extra);
        d.findings.extend(extra);
        settle(d);
    }
    targets.len()
}

fn same_check(a: &Target, b: &Target) -> bool {
    a.name == b.name
        && a.method == b.method
        && a.key == b.key
        && a.token == b.token
        && a.ca_domain == b.ca_domain
}

/// The Challenges below `node` that are not valid, skipping history.
fn unfinished_challenges(node: &ChainNode, out: &mut Vec<(String, String)>) {
    if node.history {
        return;
    }
    if node.object.kind == Kind::Challenge && node.status.state != State::Ready {
        out.push((node.object.namespace.clone(), node.object.name.clone()));
    }
    for c in &node.children {
        unfinished_challenges(c, out);
    }
}

/// How many Challenges have their cluster side read at once (each reads several kinds and
/// the controller's logs).
const CLUSTER_CONCURRENCY: usize = 8;

/// Adds the cluster side (HTTP-01 solver objects, controller logs) for the unfinished
/// Challenges of every diagnosis that is not Ready, and picks the root cause again. Returns
/// how many Challenges were looked at.
pub async fn add_cluster_checks(
    diagnoses: &mut [Diagnosis],
    inv: &Inventory,
    client: &kube::Client,
    dns: &Dns,
) -> usize {
    use futures::StreamExt;
    let by_name: HashMap<(String, String), usize> = inv
        .challenges
        .iter()
        .enumerate()
        .map(|(i, c)| ((c.namespace().unwrap_or_default(), c.name_any()), i))
        .collect();
    let mut wanted: Vec<(usize, usize)> = Vec::new();
    for (d, diag) in diagnoses.iter().enumerate() {
        if diag.status.state == State::Ready {
            continue;
        }
        let mut found = Vec::new();
        unfinished_challenges(&diag.chain, &mut found);
        wanted.extend(found.iter().filter_map(|k| by_name.get(k)).map(|&c| (d, c)));
    }
    let looked = wanted.len();
    let sides: Vec<(usize, super::cluster::ClusterSide)> = futures::stream::iter(wanted)
        .map(|(d, c)| async move {
            let ch = &inv.challenges[c];
            let addresses = if crate::checks::solver::expects_solver_objects(ch) {
                match hickory_proto::rr::Name::from_ascii(&ch.spec.dns_name) {
                    Ok(n) => dns.resolve_addresses(&n).await.addresses(),
                    Err(_) => Vec::new(),
                }
            } else {
                Vec::new()
            };
            (
                d,
                super::cluster::cluster_checks(client, ch, &addresses).await,
            )
        })
        .buffer_unordered(CLUSTER_CONCURRENCY)
        .collect()
        .await;
    let mut touched = vec![false; diagnoses.len()];
    for (d, side) in sides {
        for note in &side.notes {
            tracing::info!("{note}");
        }
        diagnoses[d].findings.extend(side.findings);
        touched[d] = true;
    }
    for (d, t) in diagnoses.iter_mut().zip(touched) {
        if t {
            settle(d);
        }
    }
    looked
}
