//! `certdx issue`: issue certificates through the embedded engine, print a line per certificate
//! (or one JSON document), show progress on stderr when it is a terminal.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

mod hook;
mod progress;
mod status;

use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::args::{
    AccountArgs, IssueArgs, KeyTypeArg, ProbeArgs, SecretArg, SelfCheckArgs, SolverArgs,
};
use super::{CliError, EXIT_OK, EXIT_PROBLEMS, TextOrJson, write_output};
use crate::checks::dns::Dns;
use crate::engine::acme::{AccountOptions, AcmeConfig, AcmeError, Eab, KeyKind};
use crate::engine::batch::{
    BatchConfig, BatchError, BatchProgress, BatchReport, CertRequest, CertResult, CertStatus,
    CheckConfig, SolverConfig, Stage, collect_requests, parse_domains_file, parse_group, run_batch,
};
use crate::engine::solver::dns01::Dns01Zone;
use crate::engine::solver::rfc2136::TsigKey;
use crate::engine::store::{PgStore, StateLocation};
use crate::tui::batch::{ViewExit, run_batch_view};

#[derive(Serialize)]
struct IssueOutput<'a> {
    schema_version: u32,
    #[serde(flatten)]
    report: &'a BatchReport,
    /// `--deploy-hook` runs, one per certificate issued.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    deploy_hooks: &'a [hook::HookRun],
}

/// The account options of a new account from `--email`, `--eab-kid` and `--eab-hmac-key`.
pub(super) fn account_options(a: &AccountArgs) -> Result<AccountOptions, CliError> {
    Ok(AccountOptions {
        contact_email: a.email.clone(),
        eab: eab(
            a.eab_kid.as_ref(),
            a.eab_hmac_key.as_ref(),
            "--eab-kid",
            "--eab-hmac-key (or CERTDX_EAB_HMAC_KEY)",
        )?,
    })
}

/// External Account Binding from a key id flag and an HMAC key flag (named in the message when
/// only one is given; clap's `requires` normally catches that first).
pub(super) fn eab(
    kid: Option<&String>,
    key: Option<&SecretArg>,
    kid_flag: &str,
    key_flag: &str,
) -> Result<Option<Eab>, CliError> {
    match (kid, key) {
        (Some(kid), Some(key)) => Eab::new(kid.clone(), key.expose())
            .map(Some)
            .map_err(|e| CliError::Usage(e.to_string())),
        (None, None) => Ok(None),
        _ => Err(CliError::Usage(format!(
            "{kid_flag} and {key_flag} go together"
        ))),
    }
}

/// What to do about a refused account, when the flags can do it: the EAB flags for a CA that
/// requires External Account Binding.
pub(super) fn account_hint(e: &AcmeError) -> &'static str {
    if e.needs_external_account() {
        "; this CA requires External Account Binding: give the key id and HMAC key from the \
         CA's account page as --eab-kid K and CERTDX_EAB_HMAC_KEY (or --eab-hmac-key)"
    } else {
        ""
    }
}

/// How names and challenge answers are checked, from the shared check flags: the DNS client
/// and the checks' settings (no CAA issuer domain: the caller knows its CA).
pub(super) fn check_config(a: &SelfCheckArgs) -> Result<(Dns, CheckConfig), CliError> {
    let probe = ProbeArgs {
        resolver: a.resolver,
        timeout: a.timeout,
        concurrency: 64,
        allow_loopback: a.allow_loopback,
        http_port: a.http_port,
        https_port: 443,
        dns_port: 53,
    };
    let dns = probe.dns()?;
    let playbook = probe.playbook();
    let checks = CheckConfig {
        dns: dns.clone(),
        http: playbook.http,
        concurrency: playbook.concurrency,
        ca_domain: None,
        self_check_timeout: Duration::from_secs(a.self_check_timeout),
    };
    Ok((dns, checks))
}

/// Runs `certdx issue`.
pub fn run(a: &IssueArgs) -> Result<ExitCode, CliError> {
    if a.status {
        return status::run(a);
    }
    if a.tui && (a.format == TextOrJson::Json || !super::interactive::is_interactive()) {
        return Err(CliError::Usage(
            "--tui needs a terminal on stdin and stdout and text output (not --format json)"
                .to_owned(),
        ));
    }
    let solver = solver(a)?;
    let requests = requests(a)?;
    let (dns, checks) = check_config(&a.checks)?;
    let directory = a.directory.clone().unwrap_or_default();
    let mut acme = AcmeConfig::new(directory.clone());
    if let Some(path) = &a.ca_cert {
        let pem = std::fs::read_to_string(path).map_err(|e| {
            CliError::Usage(format!("cannot read --ca-cert {}: {e}", path.display()))
        })?;
        acme = acme.with_ca_cert_pem(pem);
    }
    if a.concurrency == 0 {
        return Err(CliError::Usage(
            "--concurrency must be at least 1".to_owned(),
        ));
    }
    let mut config = BatchConfig::new(acme, requests, solver, dns.clone());
    config.account = account_options(&a.account)?;
    match StateLocation::parse(&a.state).map_err(|e| CliError::Usage(format!("--state: {e}")))? {
        StateLocation::Sqlite(path) => config.state_path = path,
        StateLocation::Postgres(url) => {
            // Reached (and migrated) now, so a wrong URL or a server that is down is one clear
            // line before any DNS or ACME traffic.
            PgStore::open(&url).map_err(|e| CliError::Usage(format!("--state: {e}")))?;
            config.state_postgres = Some(url);
        }
    }
    config.out_dir = a.out.clone();
    config.scheduler.max_in_flight = a.concurrency;
    config.new_order_concurrency = a.new_order_concurrency;
    config.worker_lease = Duration::from_secs(a.worker_lease);
    config.checks = CheckConfig {
        ca_domain: a.ca_domain.clone(),
        ..checks
    };
    config.batch_timeout = Duration::from_secs(a.batch_timeout.max(1));
    config.renew_before = a
        .renew_before_days
        .map(|days| Duration::from_secs(days.saturating_mul(86_400)));
    config.force = a.force;
    config.profile = a.profile.clone();
    config.key_kind = match a.key_type {
        KeyTypeArg::EcdsaP256 => KeyKind::EcdsaP256,
        KeyTypeArg::EcdsaP384 => KeyKind::EcdsaP384,
    };

    let runtime = super::probe::runtime()?;
    runtime.block_on(super::probe::resolver_answers(&dns))?;
    // Hooks run as certificates land; the batch's end (or a stop) closes their queue.
    let hooks_task = a.deploy_hook.clone().map(|command| {
        let (issued, queue) = mpsc::unbounded_channel();
        config.on_issued = Some(issued);
        runtime.spawn(hook::run_hooks(command, queue, hook::HOOK_TIMEOUT))
    });
    let wait_hooks = |task: Option<tokio::task::JoinHandle<Vec<hook::HookRun>>>| match task {
        Some(task) => runtime.block_on(task).unwrap_or_default(),
        None => Vec::new(),
    };
    let (sender, receiver) = watch::channel(BatchProgress::default());
    let report = if a.tui {
        // Log lines on stderr would draw over the view.
        super::VIEW_ACTIVE.store(true, std::sync::atomic::Ordering::SeqCst);
        let exit = runtime.block_on(run_batch_view(
            directory.clone(),
            receiver,
            run_batch(config, Some(sender)),
        ));
        super::VIEW_ACTIVE.store(false, std::sync::atomic::Ordering::SeqCst);
        match exit.map_err(|e| CliError::Usage(format!("the batch view failed: {e}")))? {
            ViewExit::Finished(report) => *report,
            ViewExit::Stopped => {
                let hooks = wait_hooks(hooks_task);
                eprint!("{}", render_hooks(&hooks));
                eprintln!("stopped: the next run with the same --state resumes");
                return Ok(ExitCode::from(EXIT_PROBLEMS));
            }
        }
    } else {
        runtime.block_on(async {
            let printer = tokio::spawn(progress::show(receiver));
            let report = run_batch(config, Some(sender)).await;
            let _ = printer.await;
            report
        })
    };
    let hooks = wait_hooks(hooks_task);
    let report = report.map_err(|e| {
        // What was deployed before the batch failed is still worth knowing.
        eprint!("{}", render_hooks(&hooks));
        let hint = match &e {
            BatchError::Account(e) => account_hint(e),
            _ => "",
        };
        CliError::Usage(format!("{e}{hint}"))
    })?;
    let out = match a.format {
        TextOrJson::Json => {
            let doc = IssueOutput {
                schema_version: crate::report::SCHEMA_VERSION,
                report: &report,
                deploy_hooks: &hooks,
            };
            serde_json::to_string_pretty(&doc).expect("serialisable") + "\n"
        }
        TextOrJson::Text => render_text(&report) + &render_hooks(&hooks),
    };
    write_output(None, &out)?;
    let hook_failed = hooks.iter().any(|h| !h.ok);
    Ok(ExitCode::from(if report.any_failed() || hook_failed {
        EXIT_PROBLEMS
    } else {
        EXIT_OK
    }))
}

/// The solver the flags ask for (clap makes sure exactly one is given).
fn solver(a: &IssueArgs) -> Result<SolverConfig, CliError> {
    solver_config(&a.solver)?.ok_or_else(|| {
        CliError::Usage("give --http01-listen, --dns01-embedded or --dns01-rfc2136".to_owned())
    })
}

/// The solver the solver flags ask for; `None` when none is given (`certdx trial` then
/// triggers challenges without answering them). Shared by `issue` and `trial`.
pub(super) fn solver_config(a: &SolverArgs) -> Result<Option<SolverConfig>, CliError> {
    if let Some(listen) = a.http01_listen {
        return Ok(Some(SolverConfig::Http01 { listen }));
    }
    if let Some(listen) = a.dns01_embedded {
        let origin = a.dns01_zone.as_deref().unwrap_or_default();
        let mut zone =
            Dns01Zone::new(origin).map_err(|e| CliError::Usage(format!("--dns01-zone: {e}")))?;
        for spec in &a.dns01_nameserver {
            let (name, addresses) = nameserver(spec)?;
            zone = zone
                .with_nameserver(name, &addresses)
                .map_err(|e| CliError::Usage(format!("--dns01-nameserver {spec}: {e}")))?;
        }
        return Ok(Some(SolverConfig::Dns01Embedded { listen, zone }));
    }
    let Some(server) = a.dns01_rfc2136.as_deref() else {
        return Ok(None);
    };
    let key_path = a.tsig_key.as_deref().unwrap_or(std::path::Path::new(""));
    let key = TsigKey::from_file(key_path)
        .map_err(|e| CliError::Usage(format!("--tsig-key {}: {e}", key_path.display())))?;
    Ok(Some(SolverConfig::Dns01Rfc2136 {
        server: server_addr(server)?,
        key,
    }))
}

/// `NAME=IP[,IP...]` of `--dns01-nameserver`.
fn nameserver(spec: &str) -> Result<(&str, Vec<IpAddr>), CliError> {
    let bad = |why: &str| {
        CliError::Usage(format!(
            "--dns01-nameserver {spec:?}: {why} (expected NAME=IP[,IP], e.g. \
             ns1.acme.example.net=192.0.2.53)"
        ))
    };
    let (name, ips) = spec.split_once('=').ok_or_else(|| bad("no '='"))?;
    let addresses = ips
        .split(',')
        .map(|ip| ip.trim().parse::<IpAddr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e.to_string()))?;
    Ok((name.trim(), addresses))
}

/// `HOST[:PORT]` (port 53 by default; `[v6]:port` for IPv6) of `--dns01-rfc2136`, resolved
/// once here: the updates all go to the one primary.
fn server_addr(text: &str) -> Result<SocketAddr, CliError> {
    let with_port = if text.parse::<SocketAddr>().is_ok() {
        text.to_owned()
    } else if text.parse::<IpAddr>().is_ok_and(|ip| ip.is_ipv6()) {
        format!("[{text}]:53")
    } else if text
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        text.to_owned()
    } else {
        format!("{text}:53")
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| CliError::Usage(format!("--dns01-rfc2136 {text}: {e}")))?
        .next()
        .ok_or_else(|| CliError::Usage(format!("--dns01-rfc2136 {text}: no address")))
}

/// The certificates the flags ask for.
fn requests(a: &IssueArgs) -> Result<Vec<CertRequest>, CliError> {
    let mut groups: Vec<(Vec<String>, String)> = a
        .domain
        .iter()
        .map(|d| (parse_group(d), "--domain".to_owned()))
        .collect();
    if let Some(path) = &a.domains_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::Usage(format!(
                "cannot read --domains-file {}: {e}",
                path.display()
            ))
        })?;
        groups.extend(parse_domains_file(&text, &path.display().to_string()));
    }
    collect_requests(groups).map_err(|e| CliError::Usage(e.to_string()))
}

fn render_text(report: &BatchReport) -> String {
    let width = report
        .certificates
        .iter()
        .map(|c| label(c).len())
        .max()
        .unwrap_or(0);
    let mut s = String::new();
    for c in &report.certificates {
        s.push_str(&format!(
            "{:<14} {:<width$}  {}\n",
            c.status.as_str(),
            label(c),
            detail(c)
        ));
    }
    let m = &report.summary;
    let z = &m.authorizations;
    s.push_str(&format!(
        "\n{} certificates: {} issued, {} already issued, {} failed ({} never ordered) in {:.1} s \
         ({:.1}/s)\nauthorizations: {} valid, {} invalid, {} answered, {} left to expire, {} \
         deactivated, {} pending without a decision\n",
        m.certificates,
        m.issued,
        m.already_issued,
        m.failed,
        m.not_ordered,
        m.duration_ms as f64 / 1000.0,
        m.certificates_per_second,
        z.valid,
        z.invalid,
        z.answered,
        z.left_to_expire,
        z.deactivated,
        z.pending_unknown
    ));
    if m.resumed_orders + m.settled_orders > 0 {
        s.push_str(&format!(
            "orders of an earlier run: {} continued, {} closed\n",
            m.resumed_orders, m.settled_orders
        ));
    }
    let lost = &m.interrupted_orders;
    if lost.total() > 0 {
        s.push_str(&format!(
            "orders whose newOrder answer was lost: {} found at the CA and continued, {} found \
             and closed, {} never created, {} not looked up (no orders list), {} left for the \
             next run\n",
            lost.adopted, lost.closed, lost.not_at_ca, lost.unlisted, lost.unresolved
        ));
    }
    if let Some(note) = &lost.note {
        s.push_str(&format!("note: {note}\n"));
    }
    s
}

/// One line per failed hook run (with the end of its output), and a count.
fn render_hooks(hooks: &[hook::HookRun]) -> String {
    if hooks.is_empty() {
        return String::new();
    }
    let failed: Vec<&hook::HookRun> = hooks.iter().filter(|h| !h.ok).collect();
    let mut s = format!(
        "deploy hook: {} run, {} failed\n",
        hooks.len(),
        failed.len()
    );
    for h in failed {
        s.push_str(&format!(
            "deploy hook failed for {}: {}\n",
            h.name,
            h.error.as_deref().unwrap_or("failed")
        ));
        for line in h.output.lines() {
            s.push_str(&format!("  | {line}\n"));
        }
    }
    s
}

fn label(c: &CertResult) -> String {
    match c.names.len() {
        0 | 1 => c.name.clone(),
        n => format!("{} (+{})", c.name, n - 1),
    }
}

fn detail(c: &CertResult) -> String {
    match c.status {
        CertStatus::Issued => {
            let took = c
                .duration_ms
                .map(|ms| format!(" in {:.1} s", ms as f64 / 1000.0))
                .unwrap_or_default();
            let path = c.certificate.as_ref().map(|p| p.display().to_string());
            let renewed = c
                .renewed
                .as_ref()
                .map(|why| format!(" (renewed: {why})"))
                .unwrap_or_default();
            let dropped = c
                .replaces_dropped
                .as_ref()
                .map(|why| format!(" ({why})"))
                .unwrap_or_default();
            format!("{}{took}{renewed}{dropped}", path.unwrap_or_default())
        }
        CertStatus::AlreadyIssued => {
            let path = c.certificate.as_ref().map(|p| p.display().to_string());
            let until = match (c.not_after, c.renew_from) {
                (Some(end), Some(from)) => format!(" (valid until {end}, renewed from {from})"),
                (Some(end), None) => format!(" (valid until {end})"),
                _ => String::new(),
            };
            format!("{}{until}", path.unwrap_or_default())
        }
        CertStatus::Failed => {
            let Some(f) = &c.finding else {
                return String::new();
            };
            let mut line = format!("{}: {}", f.code, f.summary);
            if let Some(at) = f.rate_limit.as_ref().and_then(|r| r.retry_after) {
                line.push_str(&format!(" (retry after {at})"));
            }
            match c.stage {
                Some(Stage::Preflight) => line.push_str(" [preflight: never ordered]"),
                Some(stage) => line.push_str(&format!(" [{}]", stage.as_str())),
                None => {}
            }
            line
        }
    }
}
