//! Where `report`, `check` and the interactive view get their objects: a snapshot when
//! `--snapshot` is given, else the live cluster of the kubeconfig context.

use super::CliError;
use jiff::Timestamp;

use super::args::{GlobalArgs, NowArg};
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
    /// The instant the objects are read at.
    pub now: Timestamp,
    /// How [`Loaded::now`] was chosen, when it is not the clock.
    pub clock: Option<String>,
}

/// Loads from the snapshot or the cluster `g` names. `rt` runs the cluster requests.
pub fn load(g: &GlobalArgs, rt: &tokio::runtime::Runtime) -> Result<Loaded, CliError> {
    if let Some(path) = &g.snapshot {
        return load_snapshot(g, path);
    }
    rt.block_on(async {
        let (conn, pre) = connect(g).await?;
        let inventory = list::list_inventory(&conn, &pre).await?;
        let (now, clock) = match g.now {
            Some(NowArg::At(t)) => (t, Some("--now".to_owned())),
            _ => (Timestamp::now(), None),
        };
        Ok(Loaded {
            inventory,
            label: conn.label(),
            problems: pre.problems.clone(),
            cluster: Some((conn, pre)),
            now,
            clock,
        })
    })
}

/// Loads a snapshot: limited to `-n`'s namespace (which must hold something) and read at
/// `--now`, or else at its newest timestamp: a dump from last month measured against today's
/// clock would turn every wait into "stuck for weeks".
pub fn load_snapshot(g: &GlobalArgs, path: &std::path::Path) -> Result<Loaded, CliError> {
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
    let label = path.display().to_string();
    let inventory = match g.namespace.as_deref() {
        Some(ns) => only_namespace(snap.inventory, ns, &label)?,
        None => snap.inventory,
    };
    let (now, clock) = match (g.now, inventory.newest_observed()) {
        (Some(NowArg::At(t)), _) => (t, Some("--now".to_owned())),
        (Some(NowArg::Current), _) | (None, None) => (Timestamp::now(), None),
        (None, Some(newest)) => {
            let mut note =
                "the snapshot's newest timestamp; --now current for the clock".to_owned();
            // A dump of a cluster where nothing moved for days has an old newest timestamp:
            // read then, a Challenge stuck since looks fresh. The file's own time says so.
            if let Some(written) = written_at(path)
                && written.duration_since(newest) > jiff::SignedDuration::from_hours(24)
            {
                let gap = crate::model::state::human_duration(written.duration_since(newest));
                note = format!(
                    "the snapshot's newest timestamp, but the file is {gap} newer: if the dump is that recent, --now current reads it at the clock"
                );
            }
            (newest, Some(note))
        }
    };
    Ok(Loaded {
        inventory,
        label,
        problems,
        cluster: None,
        now,
        clock,
    })
}

/// Connects to the cluster `g` names and runs the preflight; its problems are logged.
pub async fn connect(g: &GlobalArgs) -> Result<(Connection, Preflight), CliError> {
    let conn = cluster::connect(&g.cluster_target()).await?;
    let pre = preflight(&conn).await?;
    for p in &pre.problems {
        tracing::warn!("{p}");
    }
    if let Some(ns) = conn.scope.namespace() {
        namespace_exists(&conn, ns).await?;
    }
    Ok((conn, pre))
}

/// Refuses a namespace the cluster does not have (an empty view would read as an all-clear),
/// naming the namespaces that hold Certificates. A user who may not read namespaces is let
/// through: certdx cannot tell.
async fn namespace_exists(conn: &Connection, ns: &str) -> Result<(), CliError> {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::{Api, ListParams};
    let namespaces: Api<Namespace> = Api::all(conn.client.clone());
    match namespaces.get_opt(ns).await {
        Ok(Some(_)) | Err(_) => return Ok(()),
        Ok(None) => {}
    }
    let certificates: Api<crate::model::Certificate> = Api::all(conn.client.clone());
    let present: std::collections::BTreeSet<String> = certificates
        .list_metadata(&ListParams::default().limit(list::PAGE_SIZE))
        .await
        .map(|l| {
            l.items
                .into_iter()
                .filter_map(|m| m.metadata.namespace)
                .collect()
        })
        .unwrap_or_default();
    let mut msg = format!("namespace {ns:?} does not exist in {}", conn.label());
    if !present.is_empty() {
        let names: Vec<&str> = present.iter().map(String::as_str).collect();
        msg.push_str(&format!(
            "; namespaces with Certificates: {}",
            names.join(", ")
        ));
        if let Some(close) = closest(ns, present.iter().map(String::as_str)) {
            msg.push_str(&format!(" (did you mean {close:?}?)"));
        }
    }
    Err(CliError::Usage(msg))
}

/// When a snapshot file (or the newest file of a directory's top level) was last written.
fn written_at(path: &std::path::Path) -> Option<Timestamp> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = if meta.is_dir() {
        std::fs::read_dir(path)
            .ok()?
            .filter_map(|e| e.ok()?.metadata().ok()?.modified().ok())
            .max()?
    } else {
        meta.modified().ok()?
    };
    Timestamp::try_from(modified).ok()
}

/// Keeps the objects of one namespace (and the cluster-scoped ones). A namespace that holds
/// nothing is an error naming the namespaces there are: an empty report would read as an
/// all-clear.
fn only_namespace(mut inv: Inventory, ns: &str, label: &str) -> Result<Inventory, CliError> {
    use kube::ResourceExt;
    let present = namespaces(&inv);
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
    if present.contains(ns) {
        return Ok(inv);
    }
    Err(CliError::Usage(nothing_in_namespace(ns, label, &present)))
}

/// The namespaces that hold cert-manager objects.
fn namespaces(inv: &Inventory) -> std::collections::BTreeSet<String> {
    use kube::ResourceExt;
    inv.certificates
        .iter()
        .filter_map(|o| o.namespace())
        .chain(inv.requests.iter().filter_map(|o| o.namespace()))
        .chain(inv.orders.iter().filter_map(|o| o.namespace()))
        .chain(inv.challenges.iter().filter_map(|o| o.namespace()))
        .chain(inv.issuers.iter().filter_map(|o| o.namespace()))
        .collect()
}

/// "namespace X holds no cert-manager objects in SOURCE; there are: a, b (did you mean c?)".
pub fn nothing_in_namespace(
    ns: &str,
    label: &str,
    present: &std::collections::BTreeSet<String>,
) -> String {
    let mut msg = format!("namespace {ns:?} holds no cert-manager objects in {label}");
    if present.is_empty() {
        msg.push_str("; it holds none in any namespace");
        return msg;
    }
    let listed: Vec<&str> = present.iter().take(20).map(String::as_str).collect();
    msg.push_str(&format!("; namespaces that do: {}", listed.join(", ")));
    if present.len() > listed.len() {
        msg.push_str(&format!(" and {} more", present.len() - listed.len()));
    }
    if let Some(close) = closest(ns, present.iter().map(String::as_str)) {
        msg.push_str(&format!(" (did you mean {close:?}?)"));
    }
    msg.push_str("; -A for all of them");
    msg
}

/// The candidate nearest to `asked` when it is near enough to be a typo.
pub fn closest<'a>(asked: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::jaro_winkler(asked, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
