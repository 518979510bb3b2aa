//! Benchmark: certdx against kubectl on a real kube-apiserver (1.20.2, the test lab of
//! `tests/common/kube_lab.rs`) holding 20,001 cert-manager objects (5,000 Certificates with
//! their CertificateRequests, Orders and Challenges, plus a ClusterIssuer), in the same run:
//!
//! - `kubectl get certificates,certificaterequests,orders,challenges -A`, what a user would
//!   otherwise run;
//! - `certdx report -A --offline --format json`;
//! - `certdx -A`, the interactive view in a real terminal (tmux), until its header shows all
//!   5,000 Certificates (the overview appears only once every kind is listed and diagnosed).
//!
//! Each is run 3 times, interleaved; the table gives the median wall time and the largest
//! peak RSS (`wait4`'s maxrss for the commands, VmHWM for the view, read once the overview
//! is on screen).
//!
//! Run it with `cargo bench --bench cluster` (a few minutes, loading included). Under
//! `cargo test` it runs silently once on 50 Certificates as a smoke test. With
//! `CERTDX_BENCH_LOG=1` it adds one `certdx report` run with `CERTDX_LOG=debug`, whose
//! timings go to stderr.

#[path = "../common/kube_lab.rs"]
mod kube_lab;
#[path = "measure.rs"]
mod measure;
#[path = "../common/synthetic.rs"]
mod synthetic;
#[path = "terminal.rs"]
mod terminal;

use std::collections::BTreeSet;
use std::io::{Read as _, Seek as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use certdx::model::{Certificate, CertificateRequest, Challenge, ClusterIssuer, Order};
use futures::StreamExt;
use kube::Client;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::ApiResource;
use kube_lab::KubeLab;
use serde_json::Value;
use terminal::{Run, bounded};

/// In-flight requests while loading: enough to keep both cores of the API server and etcd
/// busy, far below the server's default max-in-flight (200 mutating).
const LOAD_CONCURRENCY: usize = 64;
/// Bounds every measured command and the view's wait for its overview.
const RUN_LIMIT: Duration = Duration::from_secs(180);
/// Bounds each short tool call (tmux, `kubectl version`).
const TOOL_LIMIT: Duration = Duration::from_secs(20);

/// Creation order: owners before what they own, as cert-manager creates them.
const KINDS: [&str; 5] = [
    "ClusterIssuer",
    "Certificate",
    "CertificateRequest",
    "Order",
    "Challenge",
];

fn main() {
    measure::serve_helper();
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    let (certificates, repeats) = if bench { (5000, 3) } else { (50, 1) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // Declared after the runtime, so dropped (processes killed) before it, also on panic.
    let lab = rt.block_on(KubeLab::start());
    let started = Instant::now();
    let objects = rt.block_on(load_estate(&lab, certificates));
    let loading = started.elapsed();
    if bench {
        eprintln!("loaded {objects} objects in {:.1} s", loading.as_secs_f64());
    }
    let version = rt
        .block_on(lab.admin().apiserver_version())
        .map(|v| v.git_version)
        .unwrap_or_else(|e| panic!("reading the API server's version: {e}"));

    let certdx = env!("CARGO_BIN_EXE_certdx");
    let kubeconfig = lab.kubeconfig_path().to_str().expect("UTF-8 lab path");
    // kubectl caches discovery; keep its cache in the lab rather than in ~/.kube.
    let kubectl_cache = lab.dir().join("kubectl-cache");
    let kubectl_cache = kubectl_cache.to_str().expect("UTF-8 lab path");
    let kubectl = || {
        let mut c = Command::new("kubectl");
        c.args(["--kubeconfig", kubeconfig, "--context", "admin"])
            .args(["--cache-dir", kubectl_cache])
            .args([
                "get",
                "certificates,certificaterequests,orders,challenges",
                "-A",
            ])
            .env_remove("KUBECONFIG");
        c
    };
    let report = || {
        let mut c = Command::new(certdx);
        c.args(["report", "-A", "--offline", "--format", "json"])
            .args(["--kubeconfig", kubeconfig, "--context", "admin"])
            .env_remove("KUBECONFIG")
            .env_remove("CERTDX_LOG");
        c
    };

    let (mut get_runs, mut report_runs, mut view_runs) = (Vec::new(), Vec::new(), Vec::new());
    // Interleaved, so a drift of the machine or the server affects all three alike.
    for _ in 0..repeats {
        get_runs.push(measure("kubectl get", &mut kubectl(), &[0]));
        // 1 means problems were found: the estate has failing Certificates by design.
        report_runs.push(measure("certdx report", &mut report(), &[0, 1]));
        view_runs.push(view_until_overview(certdx, kubeconfig, certificates));
    }

    if std::env::var_os("CERTDX_BENCH_LOG").is_some() {
        let status = bounded(RUN_LIMIT, certdx)
            .args(report().get_args())
            .env_remove("KUBECONFIG")
            .env("CERTDX_LOG", "debug")
            .stdout(Stdio::null())
            .status()
            .expect("running certdx report");
        eprintln!("certdx report with CERTDX_LOG=debug: {status}");
    }

    if !bench {
        // Under `cargo test`: silent, so the suite's last lines stay the test runner's own.
        println!("cluster benchmark smoke: 1 passed, 0 failed");
        return;
    }
    let kubectl_version = bounded(TOOL_LIMIT, "kubectl")
        .args(["version", "--client", "-o", "json"])
        .output()
        .ok()
        .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
        .and_then(|v| v["clientVersion"]["gitVersion"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    println!(
        "kube-apiserver {version}, {objects} cert-manager objects ({certificates} Certificates), \
         loaded in {:.1} s; kubectl {kubectl_version}",
        loading.as_secs_f64()
    );
    println!("median wall of {repeats} runs, largest peak RSS");
    println!();
    println!("| tool | wall (s) | peak RSS (MiB) |");
    println!("|---|---:|---:|");
    for (tool, runs) in [
        (
            "kubectl get certificates,certificaterequests,orders,challenges -A",
            get_runs,
        ),
        ("certdx report -A --offline --format json", report_runs),
        ("certdx -A (view, full overview on screen)", view_runs),
    ] {
        let (wall, peak_kib) = summary(&runs);
        println!(
            "| {tool} | {:.2} | {:.0} |",
            wall.as_secs_f64(),
            peak_kib as f64 / 1024.0
        );
    }
}

/// The median wall time and the largest peak of `runs`.
fn summary(runs: &[Run]) -> (Duration, u64) {
    let mut walls: Vec<Duration> = runs.iter().map(|r| r.wall).collect();
    walls.sort();
    let peak = runs.iter().map(|r| r.peak_kib).max().unwrap_or(0);
    (walls[walls.len() / 2], peak)
}

/// Creates the synthetic estate of `certificates` Certificates in the lab and returns how
/// many objects it holds.
///
/// `KubeLab::load_fixture` is sequential and rewrites owner uids; at 40,000 requests that
/// takes minutes. Here the objects of one kind go in concurrently (kinds in order), each
/// created and then given its status, which the status subresource ignores on create. The
/// owner references keep the synthetic uids: certdx falls back to the owner's name.
async fn load_estate(lab: &KubeLab, certificates: usize) -> usize {
    let yaml = synthetic::estate_yaml(certificates);
    let objects = kube_lab::parse_fixture(&yaml);
    let namespaces: BTreeSet<String> = objects
        .iter()
        .filter_map(|o| o["metadata"]["namespace"].as_str().map(str::to_owned))
        .collect();
    futures::stream::iter(&namespaces)
        .for_each_concurrent(LOAD_CONCURRENCY, |ns| lab.ensure_namespace(ns))
        .await;

    let total = objects.len();
    let mut by_kind: Vec<Vec<Value>> = vec![Vec::new(); KINDS.len()];
    for obj in objects {
        let kind = obj["kind"].as_str().unwrap_or("");
        let rank = KINDS
            .iter()
            .position(|k| *k == kind)
            .unwrap_or_else(|| panic!("the synthetic estate has an unexpected kind {kind:?}"));
        by_kind[rank].push(obj);
    }
    for (kind, objs) in KINDS.iter().zip(by_kind) {
        let resource = api_resource(kind);
        futures::stream::iter(objs)
            .for_each_concurrent(LOAD_CONCURRENCY, |obj| {
                create_with_status(lab.admin(), &resource, obj)
            })
            .await;
    }
    total
}

fn api_resource(kind: &str) -> ApiResource {
    match kind {
        "ClusterIssuer" => ApiResource::erase::<ClusterIssuer>(&()),
        "Certificate" => ApiResource::erase::<Certificate>(&()),
        "CertificateRequest" => ApiResource::erase::<CertificateRequest>(&()),
        "Order" => ApiResource::erase::<Order>(&()),
        "Challenge" => ApiResource::erase::<Challenge>(&()),
        other => unreachable!("no API resource for {other}"),
    }
}

async fn create_with_status(client: Client, resource: &ApiResource, mut obj: Value) {
    let status = obj.as_object_mut().and_then(|m| m.remove("status"));
    let Some(meta) = obj["metadata"].as_object_mut() else {
        panic!("object without metadata: {obj}");
    };
    // The server assigns these and refuses a create that carries a resourceVersion.
    for key in ["uid", "resourceVersion", "creationTimestamp", "generation"] {
        meta.remove(key);
    }
    let name = meta["name"].as_str().unwrap_or_default().to_owned();
    let api: Api<DynamicObject> = match meta.get("namespace").and_then(Value::as_str) {
        Some(ns) => Api::namespaced_with(client, ns, resource),
        None => Api::all_with(client, resource),
    };
    let dynamic: DynamicObject = serde_json::from_value(obj).expect("object as DynamicObject");
    let mut created = api
        .create(&PostParams::default(), &dynamic)
        .await
        .unwrap_or_else(|e| panic!("creating {} {name}: {e}", resource.kind));
    if let Some(status) = status {
        created.data["status"] = status;
        api.replace_status(&name, &PostParams::default(), &created)
            .await
            .unwrap_or_else(|e| panic!("setting the status of {} {name}: {e}", resource.kind));
    }
}

/// Opens `certdx -A` in a tmux pane until its header counts all `certificates`.
fn view_until_overview(certdx: &str, kubeconfig: &str, certificates: usize) -> Run {
    for path in [certdx, kubeconfig] {
        assert!(
            !path.contains(|c: char| c.is_whitespace() || "'\"\\$`".contains(c)),
            "path needs shell quoting: {path}"
        );
    }
    terminal::view_until(
        &format!("exec {certdx} --kubeconfig {kubeconfig} --context admin -A"),
        "certdx",
        &format!("· {certificates} Certificates: "),
        &["q"],
    )
}

/// Runs `cmd` (stdout to /dev/null) through the shared helper ([`measure::measure_with`]:
/// the command's own peak, not this process's estate) and panics, with the command's stderr,
/// when it exits with a code not in `ok`.
fn measure(what: &str, cmd: &mut Command, ok: &[i32]) -> Run {
    let mut stderr = tempfile::tempfile().expect("stderr file");
    let run = measure::measure_with(cmd, None, Some(stderr.try_clone().expect("stderr handle")));
    if !ok.contains(&run.code) {
        let mut text = String::new();
        let _ = stderr.rewind();
        let _ = stderr.read_to_string(&mut text);
        panic!(
            "{what} failed (exit code {}; -1 is a signal):\n{text}",
            run.code
        );
    }
    Run {
        wall: run.wall,
        peak_kib: run.max_rss_kib.max(0) as u64,
    }
}
