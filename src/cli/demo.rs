//! `certdx demo`: the built-in broken estate, with in-process servers that reproduce each
//! planted failure so every check runs for real (no cluster, no root, no network).

use std::process::ExitCode;

use jiff::Timestamp;

use super::CliError;
use super::args::{DemoArgs, GlobalArgs};
use super::probe::{LiveChecks, runtime};
use super::report::{build_report, emit};
use crate::checks::dns::Dns;
use crate::diagnose::playbook::PlaybookOptions;
use crate::source::demo::{DEMO_ANCHOR, DemoLab, load};

/// Runs `certdx demo`.
pub fn run(a: &DemoArgs, g: &GlobalArgs) -> Result<ExitCode, CliError> {
    // The demo's objects were captured at DEMO_ANCHOR: read them as of then, so ages and
    // retry-after times look as they did.
    let now: Timestamp = DEMO_ANCHOR.parse().expect("valid anchor");
    let rt = runtime()?;
    let lab = if a.offline {
        None
    } else {
        match rt.block_on(DemoLab::start()) {
            Ok(lab) => Some(lab),
            Err(e) => {
                eprintln!(
                    "certdx: the demo's servers could not start ({e}); showing the demo offline"
                );
                None
            }
        }
    };
    if a.serve {
        let Some(lab) = lab else {
            return Err(CliError::Usage(
                "the demo's servers could not start".to_owned(),
            ));
        };
        return serve(&rt, &lab);
    }
    if super::interactive::is_interactive() && !a.print {
        let snap = load();
        let checks = match &lab {
            Some(lab) => Some(crate::tui::ChecksConfig {
                dns: Dns::new(lab.dns_options()).map_err(|e| CliError::Usage(e.to_string()))?,
                playbook: PlaybookOptions {
                    http: lab.http_options(),
                    concurrency: 16,
                },
                read_directories: false,
            }),
            None => None,
        };
        let code = super::interactive::open(
            &rt,
            super::interactive::ViewSource {
                label: "demo".to_owned(),
                inventory: snap.inventory,
                now,
                load_problems: Vec::new(),
                checks,
                actions: Box::new(crate::actions::Unavailable(
                    "the demo is a snapshot: there is no cluster to write to".to_owned(),
                )),
                live: None,
                read_only: g.read_only,
                filter: String::new(),
                trial: Err("the demo's names and CA are made up, and a trial asks a real CA: open the view on a cluster, or run `certdx trial NAME...`".to_owned()),
            },
        );
        drop(lab);
        return code;
    }
    let live = match &lab {
        Some(lab) => Some(LiveChecks {
            dns: Dns::new(lab.dns_options()).map_err(|e| CliError::Usage(e.to_string()))?,
            playbook: PlaybookOptions {
                http: lab.http_options(),
                concurrency: 16,
            },
            runtime: rt,
        }),
        None => None,
    };
    let mut report = build_report(
        load().inventory,
        Vec::new(),
        "demo",
        now,
        live.as_ref(),
        None,
        Default::default(),
        false,
    );
    report.checked_from = Some(match &live {
        Some(l) => format!("{} (the demo's own servers on loopback)", l.vantage()),
        None => "none (--offline): only the objects were read".to_owned(),
    });
    let code = emit(&report, a.format, None);
    drop(lab);
    code
}

/// Keeps the demo's servers up and says how to check against them.
fn serve(rt: &tokio::runtime::Runtime, lab: &DemoLab) -> Result<ExitCode, CliError> {
    let flags = format!(
        "--resolver {} --allow-loopback --http-port {} --https-port {} --dns-port {}",
        lab.resolver(),
        lab.http_port(),
        lab.https_port(),
        lab.dns_port()
    );
    println!("certdx demo servers are up (Ctrl-C stops them). Try:");
    println!("  certdx check www.shop.example.com {flags}");
    println!(
        "  certdx check api.example.net --method dns-01 --key 4YfD6sM2b1Q2Yq0mL9uN8hC3xV7zK5wE1rT6yU0iO2p {flags}"
    );
    println!("  certdx check promo.example.com {flags}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    rt.block_on(tokio::signal::ctrl_c())
        .map_err(|e| CliError::Usage(format!("cannot wait for Ctrl-C: {e}")))?;
    Ok(ExitCode::from(super::EXIT_OK))
}
