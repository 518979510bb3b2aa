//! The view and the 2026 CA changes: `is:readiness` in the overview's filter, the header's
//! counts untouched by readiness findings, and `u` on a paused ACME account (never opening a
//! browser in tests: `App::browser` is false unless the runtime finds a graphical session).

#[path = "common/http_lab.rs"]
mod http_lab;
#[path = "tui_support/mod.rs"]
mod support;

use std::path::Path;

use certdx::tui::app::StatusKind;
use certdx::tui::{App, Cmd, Msg};
use support::{app_with, config, feed};

const SIZE: (u16, u16) = (160, 40);

fn fixture_app(name: &str, now: &str) -> App {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let snap = certdx::source::snapshot::load(&path).expect("fixture loads");
    let mut cfg = config(SIZE);
    cfg.now = now.parse().unwrap();
    app_with(cfg, snap.inventory)
}

fn names(app: &App) -> Vec<String> {
    let e = app.estate.as_ref().unwrap();
    let mut v: Vec<String> = app
        .overview
        .visible
        .iter()
        .map(|&i| format!("{}/{}", e.rows[i].namespace, e.rows[i].name))
        .collect();
    v.sort();
    v
}

fn filter(app: &mut App, text: &str) {
    feed(app, [Msg::FilterStart]);
    feed(app, text.chars().map(Msg::FilterInput));
    feed(app, [Msg::FilterAccept]);
}

#[test]
fn is_readiness_lists_what_the_ca_changes_break_and_the_counts_stay() {
    let mut app = fixture_app("readiness.yaml", "2026-08-20T12:00:00Z");
    let c = app.estate.as_ref().unwrap().counts;
    assert_eq!((c.ready, c.failed, c.in_progress), (6, 2, 1));
    assert_eq!(c.silent, 0, "readiness findings are not silent failures");
    assert_eq!(names(&app).len(), 9);
    filter(&mut app, "is:readiness");
    assert_eq!(
        names(&app),
        [
            "api/mtls",
            "api/mtls-limited",
            "dns/slow",
            "edge/short",
            "web/cn-tlsserver",
            "web/ip-classic",
            "web/legacy",
            "web/many-names"
        ]
    );
    feed(&mut app, [Msg::FilterCancel]);
    filter(&mut app, "is:client-auth-usage");
    assert_eq!(names(&app), ["api/mtls", "api/mtls-limited"]);
}

#[test]
fn u_shows_or_opens_the_unpause_page_of_a_paused_account() {
    let mut app = fixture_app("account-paused.yaml", "2026-08-20T12:00:00Z");
    assert!(!app.browser, "tests never find a browser");
    let cmds = feed(&mut app, [Msg::Unpause]);
    assert!(cmds.is_empty(), "{cmds:?}");
    let status = app.status.as_ref().unwrap();
    assert!(
        status.text.starts_with(
            "no browser here: open https://portal.letsencrypt.org/sfe/v1/unpause?jwt=eyJ"
        ),
        "{}",
        status.text
    );
    // Where a browser exists the view asks the runtime to open it (not executed here).
    app.browser = true;
    let cmds = feed(&mut app, [Msg::Unpause]);
    match cmds.as_slice() {
        [Cmd::OpenUrl { url }] => assert!(url.contains("/sfe/v1/unpause?jwt=eyJ"), "{url}"),
        other => panic!("{other:?}"),
    }
    feed(
        &mut app,
        [Msg::UrlOpened(Err("xdg-open: not found".to_owned()))],
    );
    let status = app.status.as_ref().unwrap();
    assert_eq!(status.kind, StatusKind::Error);
    assert!(status.text.contains("the link is in the advice"));

    // Y puts the link on the clipboard (the runtime sends it to the terminal).
    feed(&mut app, [Msg::Copy]);
    let copied = app.copy.clone().expect("Y copies");
    assert!(
        copied.starts_with("https://portal.letsencrypt.org/sfe/v1/unpause?jwt=eyJ"),
        "{copied}"
    );
    assert!(
        app.status
            .as_ref()
            .unwrap()
            .text
            .contains("the unpause link")
    );

    // Anywhere else, `u` says so and does nothing.
    let mut other = fixture_app("readiness.yaml", "2026-08-20T12:00:00Z");
    other.browser = true;
    assert!(feed(&mut other, [Msg::Unpause]).is_empty());
    assert!(
        other
            .status
            .as_ref()
            .unwrap()
            .text
            .contains("not a paused ACME account")
    );
}

/// The controller's backoff flags, when cert-manager's health read them, are what the
/// readiness findings measure against: a 4-hour maximum leaves a 6-day certificate renewed a
/// day before expiry enough tries.
#[test]
fn the_controllers_backoff_flags_decide_backoff_exceeds_lifetime() {
    use certdx::diagnose::cm_health::CertManagerHealth;
    use certdx::diagnose::readiness::Backoff;
    use certdx::tui::estate::Estate;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/readiness.yaml");
    let inv = std::sync::Arc::new(certdx::source::snapshot::load(&path).unwrap().inventory);
    let now = "2026-08-20T12:00:00Z".parse().unwrap();
    let has_backoff = |e: &Estate| {
        e.diagnoses
            .iter()
            .find(|d| d.subject.name == "short")
            .unwrap()
            .findings
            .iter()
            .any(|f| f.code == certdx::model::Code::BackoffExceedsLifetime)
    };
    assert!(has_backoff(&Estate::build(inv.clone(), now)));
    let args = ["--certificate-request-maximum-backoff-duration=4h".to_owned()];
    let health = CertManagerHealth {
        issuance_backoff: Backoff::from_flags(&args),
        ..CertManagerHealth::default()
    };
    assert!(!has_backoff(&Estate::build_with_health(
        inv,
        now,
        Some(health)
    )));
}

/// One ACME issuer on a loopback CA directory asking for `shortlived`, and a Certificate of it.
fn directory_estate(server: &str) -> certdx::model::Inventory {
    let yaml = format!(
        "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {{name: lab-ca}}\nspec: {{acme: {{server: \"{server}\", profile: shortlived, privateKeySecretRef: {{name: k}}, solvers: [{{http01: {{ingress: {{}}}}}}]}}}}\nstatus: {{conditions: [{{type: Ready, status: \"True\"}}]}}\n---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: web, namespace: lab, uid: u-web}}\nspec: {{secretName: web, dnsNames: [web.example.com], issuerRef: {{name: lab-ca, kind: ClusterIssuer}}}}\nstatus: {{conditions: [{{type: Ready, status: \"True\"}}]}}\n"
    );
    let mut snap = certdx::source::snapshot::Snapshot::default();
    certdx::source::snapshot::load_text(&yaml, Path::new("dump.yaml"), &mut snap);
    snap.inventory
}

fn profile_limits(app: &App) -> Vec<String> {
    app.estate.as_ref().unwrap().diagnoses[0]
        .findings
        .iter()
        .filter(|f| f.code == certdx::model::Code::ProfileLimit)
        .map(|f| f.summary.clone())
        .collect()
}

/// Runs the commands through the real executor, feeding each answer back, until none is left.
async fn settle(app: &mut App, exec: &certdx::tui::Executor, mut cmds: Vec<Cmd>) -> usize {
    let mut directory_reads = 0;
    while let Some(cmd) = cmds.pop() {
        if matches!(cmd, Cmd::ReadDirectories { .. }) {
            directory_reads += 1;
        }
        let msg = tokio::time::timeout(std::time::Duration::from_secs(30), exec.execute(cmd))
            .await
            .expect("the command ends in time");
        cmds.extend(feed(app, [msg]));
    }
    directory_reads
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_check_reads_the_ca_directory_and_judges_the_profile_by_it() {
    use certdx::checks::dns::{Dns, DnsOptions};
    use certdx::diagnose::playbook::PlaybookOptions;
    use certdx::tui::{ChecksConfig, Executor};
    // A Boulder-shaped directory that offers no `shortlived` profile.
    let ca = http_lab::Lab::http("127.0.0.1:0".parse().unwrap(), |_| {
        http_lab::Reply::ok(
            r#"{"newNonce":"x","newAccount":"x","newOrder":"x","meta":{"profiles":{"classic":"c","tlsserver":"t"}}}"#,
        )
        .header("Content-Type", "application/json")
    })
    .await;
    let server = format!("http://{}/directory", ca.addr);
    let mut cfg = config(SIZE);
    cfg.now = "2026-08-20T12:00:00Z".parse().unwrap();
    cfg.read_directories = true;
    let mut app = app_with(cfg, directory_estate(&server));
    // Offline, certdx has no table for this CA: nothing to say about the profile.
    assert!(profile_limits(&app).is_empty());
    let exec = Executor::new(
        Some(ChecksConfig {
            // The directory is an address: nothing is resolved; a closed port answers nothing.
            dns: Dns::new(DnsOptions {
                resolver: Some("127.0.0.1:9".parse().unwrap()),
                ..DnsOptions::default()
            })
            .unwrap(),
            playbook: PlaybookOptions::default(),
            read_directories: true,
        }),
        std::sync::Arc::new(support::Allowed),
    );
    let cmds = feed(&mut app, [Msg::RunChecks]);
    assert_eq!(settle(&mut app, &exec, cmds).await, 1);
    assert_eq!(ca.requests().len(), 1, "one read of the directory");
    let found = profile_limits(&app);
    assert!(
        found
            .iter()
            .any(|s| s.contains("\"shortlived\"") && s.contains("offers classic, tlsserver")),
        "{found:?}"
    );
    assert!(
        app.status
            .as_ref()
            .unwrap()
            .text
            .contains("read 1 CA directory"),
        "{:?}",
        app.status
    );
    // Read once per run: a second `c` does not ask again, and the finding stays.
    let cmds = feed(&mut app, [Msg::RunChecks]);
    assert_eq!(settle(&mut app, &exec, cmds).await, 0);
    assert_eq!(ca.requests().len(), 1);
    assert_eq!(profile_limits(&app), found);
}
