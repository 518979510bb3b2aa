//! `certdx check DOMAIN...`: the playbook checks for names or Challenges, now.

use serde::Serialize;
use std::process::ExitCode;

use super::args::{CheckArgs, GlobalArgs, MethodArg};
use super::{CliError, EXIT_OK, EXIT_PROBLEMS, TextOrJson, write_output};
use crate::checks::name::Method;
use crate::checks::{CheckReport, CheckStatus};
use crate::diagnose::pick_root_cause;
use crate::diagnose::playbook::{DEFAULT_CA_DOMAIN, PlaybookResult, Target, run_many};
use crate::model::{Evidence, Finding};
use crate::source::snapshot;

#[derive(Serialize)]
struct CheckOutput<'a> {
    schema_version: u32,
    targets: Vec<&'a Target>,
    checks: Vec<&'a CheckReport>,
    findings: Vec<&'a Finding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    root_cause: Option<crate::diagnose::RootCause>,
}

/// Runs `certdx check`.
pub fn run(a: &CheckArgs, g: &GlobalArgs) -> Result<ExitCode, CliError> {
    let targets = targets(a, g)?;
    let dns = a.probe.dns()?;
    let opts = a.probe.playbook();
    let runtime = super::probe::runtime()?;
    runtime.block_on(super::probe::resolver_answers(&dns))?;
    let results = runtime.block_on(run_many(&dns, &targets, &opts));
    let all: Vec<&Finding> = results.iter().flat_map(|r| r.findings.iter()).collect();
    let owned: Vec<Finding> = all.iter().map(|f| (*f).clone()).collect();
    let root_cause = pick_root_cause(&owned);
    let out = match a.format {
        TextOrJson::Json => {
            let doc = CheckOutput {
                schema_version: crate::report::SCHEMA_VERSION,
                targets: results.iter().map(|r| &r.target).collect(),
                checks: results.iter().flat_map(|r| r.checks.iter()).collect(),
                findings: all,
                root_cause,
            };
            serde_json::to_string_pretty(&doc).expect("serialisable") + "\n"
        }
        TextOrJson::Text => render_text(&results, root_cause.as_ref()),
    };
    write_output(None, &out)?;
    let problem = owned.iter().any(|f| f.severity.is_problem());
    Ok(ExitCode::from(if problem {
        EXIT_PROBLEMS
    } else {
        EXIT_OK
    }))
}

/// The targets named on the command line: domains, URLs, and Challenges or Certificates (as
/// NS/NAME, KIND/NAME or a bare name) from the snapshot or, without one, from the cluster.
fn targets(a: &CheckArgs, g: &GlobalArgs) -> Result<Vec<Target>, CliError> {
    use super::check_target::{Found, Wanted, read, resolve};
    let wanted: Vec<Wanted> = a
        .targets
        .iter()
        .map(|t| read(t, g.namespace.as_deref()))
        .collect();
    let needs_objects = wanted.iter().any(|w| matches!(w, Wanted::Object { .. }));
    let inventory = match (&g.snapshot, needs_objects) {
        (Some(path), _) => Some(snapshot::load(path)?.inventory),
        (None, true) => {
            // A bare name is looked for in every namespace the user may read.
            let mut scope = g.clone();
            scope.all_namespaces = g.namespace.is_none();
            let rt = super::probe::runtime()?;
            Some(super::source::load(&scope, &rt)?.inventory)
        }
        (None, false) => None,
    };
    let method = match a.method {
        MethodArg::Http01 => Method::Http01,
        MethodArg::Dns01 => Method::Dns01,
    };
    let named = |name: &str, token: Option<String>| Target {
        name: name.to_owned(),
        method,
        token,
        key: a.key.clone(),
        ca_domain: a
            .ca_domain
            .clone()
            .unwrap_or_else(|| DEFAULT_CA_DOMAIN.to_owned()),
        account_uri: a.account_uri.clone(),
        challenge: None,
        authz_lifetime: None,
    };
    let mut out = Vec::new();
    for w in wanted {
        match w {
            Wanted::Domain(d) => out.push(named(&d, a.token.clone())),
            Wanted::Url { host, token } => {
                out.push(named(&host.to_ascii_lowercase(), token.or(a.token.clone())))
            }
            Wanted::Object {
                kind,
                namespace,
                name,
            } => {
                let inv = inventory.as_ref().expect("loaded for objects");
                match resolve(inv, kind, namespace.as_deref(), &name).map_err(CliError::Usage)? {
                    Found::Challenges(list) => {
                        for i in list {
                            let mut t = Target::from_challenge(&inv.challenges[i], inv);
                            if let Some(d) = &a.ca_domain {
                                t.ca_domain = d.clone();
                            }
                            if a.account_uri.is_some() {
                                t.account_uri = a.account_uri.clone();
                            }
                            out.push(t);
                        }
                    }
                    Found::Names(names) => {
                        out.extend(names.iter().map(|n| named(n, a.token.clone())));
                    }
                }
            }
        }
    }
    Ok(out)
}

fn render_text(results: &[PlaybookResult], root: Option<&crate::diagnose::RootCause>) -> String {
    let mut s = String::new();
    for r in results {
        s.push_str(&format!(
            "{} ({}) in {} ms\n",
            r.target.name, r.target.method, r.duration_ms
        ));
        for c in &r.checks {
            s.push_str(&format!(
                "  {:<7} {:<8} {:>6} ms\n",
                c.name,
                c.status.label(),
                c.duration_ms
            ));
            if c.status == CheckStatus::Reachable {
                s.push_str("          give --token and --key (or check the Challenge as NS/NAME) to compare what it serves with what the CA expects\n");
            }
        }
        for f in &r.findings {
            s.push_str(&format!("  {} ({}): {}\n", f.code, f.severity, f.summary));
            if !f.detail.is_empty() {
                s.push_str(&format!("      {}\n", f.detail));
            }
            for e in &f.evidence {
                let line = match e {
                    Evidence::Http(h) => h.describe(),
                    Evidence::Dns(d) => d.describe(),
                    Evidence::Text { source, text, .. } => format!("{source}: {text}"),
                    Evidence::Fact { subject, detail } => format!("{subject}: {detail}"),
                };
                s.push_str(&format!("      · {line}\n"));
            }
        }
    }
    match root {
        Some(rc) => s.push_str(&format!(
            "\nRoot cause ({}): {}\nAdvice: {}\n",
            rc.code, rc.summary, rc.advice
        )),
        None => s.push_str("\nNothing wrong found.\n"),
    }
    s
}
