//! Where `report`, `check` and the interactive view get their objects: a snapshot when
//! `--snapshot` is given, else the live cluster of the kubeconfig context.

use super::CliError;
use super::args::GlobalArgs;
use crate::model::Inventory;
use crate::source::cluster::preflight::{Preflight, preflight};
use crate::source::cluster::{self, Connection, list};
use crate::source::snapshot;

/// Objects loaded for a one-shot command.
pub struct Loaded {
    /// The objects (already limited to the namespace asked for).
    pub inventory: Inventory,
    /// `PATH`, or `context (server), scope`.
    pub label: String,
    /// What limited the load, one sentence each (skipped documents, forbidden kinds).
    pub problems: Vec<String>,
    /// The cluster, when the objects came from one.
    pub cluster: Option<(Connection, Preflight)>,
}

/// Loads from the snapshot or the cluster `g` names. `rt` runs the cluster requests.
pub fn load(g: &GlobalArgs, rt: &tokio::runtime::Runtime) -> Result<Loaded, CliError> {
    if let Some(path) = &g.snapshot {
        let snap = snapshot::load(path)?;
        for p in &snap.problems {
            tracing::warn!("skipped {p}");
        }
        let mut problems: Vec<String> = snap.problems.iter().map(ToString::to_string).collect();
        if !snap.ignored_kinds.is_empty() {
            problems.push(format!(
                "ignored objects of other kinds: {}",
                snapshot::ignored_summary(&snap.ignored_kinds)
            ));
        }
        let inventory = match g.namespace.as_deref() {
            Some(ns) => only_namespace(snap.inventory, ns),
            None => snap.inventory,
        };
        return Ok(Loaded {
            inventory,
            label: path.display().to_string(),
            problems,
            cluster: None,
        });
    }
    rt.block_on(async {
        let (conn, pre) = connect(g).await?;
        let inventory = list::list_inventory(&conn, &pre).await?;
        Ok(Loaded {
            inventory,
            label: conn.label(),
            problems: pre.problems.clone(),
            cluster: Some((conn, pre)),
        })
    })
}

/// Connects to the cluster `g` names and runs the preflight; its problems are logged.
pub async fn connect(g: &GlobalArgs) -> Result<(Connection, Preflight), CliError> {
    let conn = cluster::connect(&g.cluster_target()).await?;
    let pre = preflight(&conn).await?;
    for p in &pre.problems {
        tracing::warn!("{p}");
    }
    Ok((conn, pre))
}

/// Keeps the objects of one namespace (and the cluster-scoped ones).
fn only_namespace(mut inv: Inventory, ns: &str) -> Inventory {
    use kube::ResourceExt;
    inv.certificates
        .retain(|o| o.namespace().as_deref() == Some(ns));
    inv.requests
        .retain(|o| o.namespace().as_deref() == Some(ns));
    inv.orders.retain(|o| o.namespace().as_deref() == Some(ns));
    inv.challenges
        .retain(|o| o.namespace().as_deref() == Some(ns));
    inv.issuers.retain(|o| o.namespace().as_deref() == Some(ns));
    inv.events
        .retain(|o| o.involved_object.namespace.as_deref() == Some(ns));
    inv
}
