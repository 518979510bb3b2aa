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
#[path = "../common/synthetic.rs"]
mod synthetic;

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read as _, Seek as _};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use certdx::model::{Certificate, CertificateRequest, Challenge, ClusterIssuer, Order};
use futures::StreamExt;
use kube::Client;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::ApiResource;
use kube_lab::KubeLab;
use serde_json::Value;

/// In-flight requests while loading: enough to keep both cores of the API server and etcd
/// busy, far below the server's default max-in-flight (200 mutating).
const LOAD_CONCURRENCY: usize = 64;
/// Bounds every measured command and the view's wait for its overview.
const RUN_LIMIT: Duration = Duration::from_secs(180);
/// Bounds the view's exit after `q`.
const QUIT_LIMIT: Duration = Duration::from_secs(20);
/// Bounds each short tool call (tmux, `kubectl version`).
const TOOL_LIMIT: Duration = Duration::from_secs(20);
/// How often the view's screen is read.
const POLL: Duration = Duration::from_millis(20);

/// Creation order: owners before what they own, as cert-manager creates them.
const KINDS: [&str; 5] = [
    "ClusterIssuer",
    "Certificate",
    "CertificateRequest",
    "Order",
    "Challenge",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(HELPER_ARG) {
        helper(&args[2..]);
    }
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

/// `program` under coreutils' `timeout`: a hung tmux server or command cannot stall the
/// benchmark.
fn bounded(limit: Duration, program: &str) -> Command {
    let mut c = Command::new("timeout");
    c.args(["--kill-after=5", &format!("{}", limit.as_secs()), program]);
    c
}

/// One measured run: wall time and peak resident memory.
struct Run {
    wall: Duration,
    peak_kib: u64,
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

/// A child process, SIGKILLed and reaped when dropped unless it was reaped already: a
/// command that overruns its limit (or a panic) leaves nothing behind.
struct Reaper {
    pid: libc::pid_t,
    reaped: bool,
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: pid is our own unreaped child, so it cannot have been reused.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// The first argument of the benchmark binary started as [`measure`]'s helper.
const HELPER_ARG: &str = "--certdx-bench-measure";

/// Runs `cmd` (stdout to /dev/null) and measures its wall time and peak RSS. Panics, with the
/// command's stderr, when it overruns [`RUN_LIMIT`] or exits with a code not in `ok`.
///
/// The command is started by a fresh copy of this binary ([`helper`]), not by this process:
/// a child's maxrss starts at its parent's RSS at fork time (the kernel carries the forked
/// memory's high-water mark across exec), and this process holds the parsed estate, so every
/// command would seem to use at least that much.
fn measure(what: &str, cmd: &mut Command, ok: &[i32]) -> Run {
    let mut helper = Command::new(std::env::current_exe().expect("the benchmark's own path"));
    helper
        .arg(HELPER_ARG)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => helper.env(key, v),
            None => helper.env_remove(key),
        };
    }
    // Files, not pipes: a chatty command can never block on them.
    let mut report = tempfile::tempfile().expect("helper output file");
    let mut stderr = tempfile::tempfile().expect("stderr file");
    helper
        .stdin(Stdio::null())
        .stdout(report.try_clone().expect("helper output handle"))
        .stderr(stderr.try_clone().expect("stderr file handle"));
    let start = Instant::now();
    let child = helper
        .spawn()
        .unwrap_or_else(|e| panic!("starting the helper for {what}: {e}"));
    let mut reaper = Reaper {
        pid: child.id() as libc::pid_t,
        reaped: false,
    };
    // Reaped through waitpid below; Child's own wait must not run.
    std::mem::forget(child);
    let mut helper_status = 0;
    loop {
        // SAFETY: our own child; WNOHANG keeps the wait bounded by the loop's deadline.
        let rc = unsafe { libc::waitpid(reaper.pid, &mut helper_status, libc::WNOHANG) };
        if rc == reaper.pid {
            reaper.reaped = true;
            break;
        }
        assert_eq!(
            rc,
            0,
            "waitpid on {what}: {}",
            std::io::Error::last_os_error()
        );
        // Dropping the reaper kills the helper, and with it the command (PR_SET_PDEATHSIG).
        assert!(
            start.elapsed() < RUN_LIMIT,
            "{what} still running after {RUN_LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut line = String::new();
    let _ = report.rewind();
    let _ = report.read_to_string(&mut line);
    let fields: Vec<u64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let read_stderr = |stderr: &mut std::fs::File| {
        let mut text = String::new();
        let _ = stderr.rewind();
        let _ = stderr.read_to_string(&mut text);
        text
    };
    let [wall_ns, peak_kib, status] = fields[..] else {
        panic!(
            "the helper for {what} failed ({helper_status:#x}): {line:?}\n{}",
            read_stderr(&mut stderr)
        );
    };
    let status = status as i32;
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    if !code.is_some_and(|c| ok.contains(&c)) {
        let how = match code {
            Some(c) => format!("exit code {c}"),
            None => format!("signal {}", libc::WTERMSIG(status)),
        };
        panic!("{what} failed ({how}):\n{}", read_stderr(&mut stderr));
    }
    Run {
        wall: Duration::from_nanos(wall_ns),
        peak_kib,
    }
}

/// The helper of [`measure`]: runs `argv` with stdout to /dev/null, waits for it, and prints
/// `WALL_NS PEAK_KIB WAIT_STATUS`. Started before it has touched much memory, it lends the
/// command no high-water mark of its own worth counting.
fn helper(argv: &[String]) -> ! {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // SAFETY: prctl is async-signal-safe and touches only the child's own state. The helper
    // is single-threaded, so the signal fires when the helper dies (killed on overrun).
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", argv[0]));
    let pid = child.id() as libc::pid_t;
    std::mem::forget(child);
    let mut status = 0;
    // SAFETY: rusage is plain data, zero is a valid initial value; pid is our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4: {}", std::io::Error::last_os_error());
    let wall = start.elapsed();
    println!("{} {} {}", wall.as_nanos(), usage.ru_maxrss, status as u32);
    std::process::exit(0);
}

/// A tmux server on its own socket, killed on drop (also when the benchmark panics).
struct Tmux {
    socket: String,
}

impl Tmux {
    fn command(&self) -> Command {
        let mut c = bounded(TOOL_LIMIT, "tmux");
        c.args(["-L", &self.socket]);
        c
    }

    /// `tmux display -p FORMAT` for the pane, or None once the server is gone.
    fn display(&self, format: &str) -> Option<String> {
        let out = self
            .command()
            .args(["display", "-p", "-t", "bench", format])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    fn screen(&self) -> String {
        let out = self
            .command()
            .args(["capture-pane", "-p", "-t", "bench"])
            .stderr(Stdio::null())
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self
            .command()
            .arg("kill-server")
            .stderr(Stdio::null())
            .status();
    }
}

/// Opens `certdx -A` in a 200x50 tmux pane and measures the time from launch until the
/// header counts all `certificates`, and the process's peak RSS at that moment; then quits
/// it with `q` and checks it exited 0.
fn view_until_overview(certdx: &str, kubeconfig: &str, certificates: usize) -> Run {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = tempfile::tempdir().expect("tmux config dir");
    // Its own config: no user settings, and a dead pane stays, so the screen of a crash can
    // still be read.
    let conf = dir.path().join("tmux.conf");
    fs::write(&conf, "set -g remain-on-exit on\n").expect("writing tmux.conf");
    for path in [certdx, kubeconfig] {
        assert!(
            !path.contains(|c: char| c.is_whitespace() || "'\"\\$`".contains(c)),
            "path needs shell quoting: {path}"
        );
    }
    // `exec`: the pane's process is certdx itself, so pane_pid is the pid to read.
    let shell = format!("exec {certdx} --kubeconfig {kubeconfig} --context admin -A");
    let tmux = Tmux {
        socket: format!("certdx-bench-{}-{run}", std::process::id()),
    };
    let header = format!("· {certificates} Certificates: ");

    let start = Instant::now();
    let out = tmux
        .command()
        .arg("-f")
        .arg(&conf)
        .args(["new-session", "-d", "-s", "bench", "-x", "200", "-y", "50"])
        .args(["-P", "-F", "#{pane_pid}"])
        .arg(&shell)
        .env_remove("KUBECONFIG")
        .env_remove("CERTDX_LOG")
        .output()
        .expect("tmux runs (apt-get install tmux)");
    assert!(
        out.status.success(),
        "tmux new-session: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("tmux printed the pane's pid");
    let wall = loop {
        let screen = tmux.screen();
        if screen.contains(&header) {
            break start.elapsed();
        }
        if tmux.display("#{pane_dead}").as_deref() != Some("0") {
            panic!("certdx left before showing the overview; screen:\n{screen}");
        }
        assert!(
            start.elapsed() < RUN_LIMIT,
            "no overview with {certificates} Certificates after {RUN_LIMIT:?}; screen:\n{screen}"
        );
        std::thread::sleep(POLL);
    };
    let peak_kib = vm_hwm_kib(pid);

    let sent = tmux
        .command()
        .args(["send-keys", "-t", "bench", "q"])
        .status()
        .expect("tmux send-keys");
    assert!(sent.success(), "tmux send-keys failed");
    let quit = Instant::now();
    loop {
        match fate(pid) {
            Fate::Running => {}
            Fate::Ended(status) => {
                assert!(
                    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                    "certdx ended with wait status {status:#x} after q; screen:\n{}",
                    tmux.screen()
                );
                break;
            }
            Fate::Reaped => {
                let code = tmux.display("#{pane_dead_status}");
                assert_eq!(
                    code.as_deref(),
                    Some("0"),
                    "certdx exit status after q; screen:\n{}",
                    tmux.screen()
                );
                break;
            }
        }
        assert!(
            quit.elapsed() < QUIT_LIMIT,
            "certdx still running {QUIT_LIMIT:?} after q; screen:\n{}",
            tmux.screen()
        );
        std::thread::sleep(POLL);
    }
    Run { wall, peak_kib }
}

/// The peak resident set of a running process (VmHWM in /proc/PID/status).
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/status: {e}"));
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Name:") && l.contains("certdx")),
        "pid {pid} is not certdx:\n{status}"
    );
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status"))
}

/// Where a process of the pane is in its life.
enum Fate {
    Running,
    /// Exited, not yet reaped: its wait status.
    Ended(i32),
    /// Exited and reaped: only its parent knows how it ended.
    Reaped,
}

/// Reads `pid`'s fate from /proc. The view's exit is judged here rather than through tmux's
/// `pane_dead_status`: on this machine tmux 3.3a sometimes leaves its pane's process a zombie
/// for good (its SIGCHLD seemingly lost), and then never learns the status.
fn fate(pid: u32) -> Fate {
    let Ok(stat) = fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")) else {
        return Fate::Reaped;
    };
    // The fields after the command name, which may itself hold spaces and parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    match fields.first() {
        // Field 52, exit_code (the wait status), is the 50th after the name.
        Some(&"Z") | Some(&"X") => {
            Fate::Ended(fields.get(49).and_then(|c| c.parse().ok()).unwrap_or(-1))
        }
        _ => Fate::Running,
    }
}
