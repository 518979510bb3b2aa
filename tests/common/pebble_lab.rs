//! A real ACME CA on loopback for the engine tests: Debian's `pebble` (2.4.0) and
//! `pebble-challtestsrv`, plus a fault-injecting proxy for what Pebble cannot do.
//!
//! One [`PebbleLab`] is one `pebble-challtestsrv` (a mock DNS server with a management API)
//! and one `pebble` that resolves every name through it (`-dnsserver`), each on free
//! 127.0.0.1 ports. Every name resolves to 127.0.0.1 unless a test says otherwise
//! ([`PebbleLab::add_a`], [`PebbleLab::set_servfail`]), and Pebble validates HTTP-01 on
//! [`PebbleLab::http01_addr`], where the test runs the engine's standalone solver. Pebble's
//! listener uses a certificate generated here (rcgen), signed by a lab root that the client
//! trusts through `--ca-cert` ([`PebbleLab::root_pem`]); Pebble's own issuing root comes from
//! its management API ([`PebbleLab::issuer_root_pem`]).
//!
//! Pebble runs with `PEBBLE_VA_NOSLEEP=1`, `PEBBLE_WFE_NONCEREJECT=0` and
//! `PEBBLE_AUTHZREUSE=0` unless [`PebbleOptions`] say otherwise, so a test that does not study
//! nonces or reuse sees the same thing every run.
//!
//! ## The fault proxy
//! Pebble 2.4.0 sends no `Retry-After`, has no rate limits and finalizes within milliseconds.
//! [`FaultProxy`] sits in front of it and injects exactly those: a 429 rateLimited problem
//! with `Retry-After`, a 503 with `Retry-After`, an order held in `processing` for N polls.
//! It can also lose an answer after Pebble acted on the request ([`FaultProxy::lose_answers`])
//! and show account objects without `orders`, as Boulder sends them
//! ([`FaultProxy::hide_orders_list`]).
//! Design: it speaks HTTPS on both sides (the client's TLS ends at the proxy, with the same lab
//! certificate; a new TLS connection goes to Pebble) and forwards each request with its `Host`
//! header unchanged. Pebble builds every URL it returns (directory, `Location`, order and
//! authorization URLs) from the request's `Host`, and checks each JWS `url` against the
//! request's `Host` too, so with `Host` preserved every URL already points at the proxy and
//! no body needs rewriting for routing. (Plain HTTP towards the client would have needed
//! `X-Forwarded-Proto` and still broken the JWS URL check, which is why it is HTTPS.) The only
//! rewriting is the deliberate one: the order status while holding an order in processing.
//! One request per connection (`Connection: close`) keeps the proxy a loop of read, decide,
//! forward, answer; every request and what the proxy did with it is in [`FaultProxy::log`].
//!
//! Stopping: both processes run with `PR_SET_PDEATHSIG` = SIGKILL, forked from one thread
//! that lives as long as the test binary (a runtime thread's exit would fire the signal
//! mid-test), and are SIGKILLed and reaped when the lab is dropped, also when a test panics.
//! Every wait is bounded.
//!
//! Include it with `#[path = "common/pebble_lab.rs"] mod pebble_lab;`.

#![allow(dead_code)]

#[path = "child.rs"]
mod child;
#[path = "ports.rs"]
mod ports;

use std::collections::HashMap;
use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use ports::free_port;

/// How long Pebble and challtestsrv may take to answer after starting.
const START_DEADLINE: Duration = Duration::from_secs(20);
/// How long a killed process may take to be reaped.
const STOP_DEADLINE: Duration = Duration::from_secs(10);

/// The EAB key id Pebble accepts when started with [`PebbleOptions::eab`].
pub const EAB_KID: &str = "certdx-lab-kid";
/// The EAB HMAC key (base64url, as CAs hand them out) for [`EAB_KID`].
pub const EAB_HMAC_KEY: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

/// How Pebble is started. The default is all off and zero, not Pebble's own defaults (5 %
/// nonce rejection, 50 % authorization reuse): a test opts into randomness explicitly.
#[derive(Debug, Clone, Default)]
pub struct PebbleOptions {
    /// Require External Account Binding (with [`EAB_KID`] / [`EAB_HMAC_KEY`]).
    pub eab: bool,
    /// `PEBBLE_WFE_NONCEREJECT`: the percentage of good nonces rejected as bad.
    pub nonce_reject_percent: u8,
    /// `PEBBLE_VA_ALWAYS_VALID=1`: every challenge validates without a request.
    pub always_valid: bool,
    /// `PEBBLE_AUTHZREUSE`: how often a valid authorization is reused in a new order.
    pub authz_reuse_percent: u8,
    /// The resolver Pebble validates through instead of challtestsrv (a DNS lab's unbound, so
    /// DNS-01 is checked against real authoritative servers).
    pub dns_server: Option<SocketAddr>,
}

/// The lab's TLS material: a root and a serving certificate for 127.0.0.1 and localhost.
struct LabTls {
    root_pem: String,
    cert_pem: String,
    key_pem: String,
}

/// A running Pebble and challtestsrv. Dropping it kills both.
pub struct PebbleLab {
    dir: tempfile::TempDir,
    pebble: Option<Child>,
    challtestsrv: Option<Child>,
    acme_port: u16,
    management_port: u16,
    dns_port: u16,
    chall_management_port: u16,
    http01_port: u16,
    tls: LabTls,
    http: reqwest::Client,
}

impl Drop for PebbleLab {
    fn drop(&mut self) {
        if let Some(child) = self.pebble.take() {
            child::kill(child, STOP_DEADLINE);
        }
        if let Some(child) = self.challtestsrv.take() {
            child::kill(child, STOP_DEADLINE);
        }
    }
}

impl PebbleLab {
    /// The `certdx issue` flags that point it at this lab through `directory` (Pebble's, or a
    /// proxy's), with its root written to, and its state and certificates kept in, `dir`:
    /// everything but the names and the output format. Pebble 2.4.0 can deadlock under
    /// concurrent newOrder requests, so they go one at a time.
    pub fn issue_flags(&self, directory: &str, dir: &Path) -> Vec<String> {
        let root = dir.join("lab-root.pem");
        if !root.exists() {
            fs::write(&root, self.root_pem()).expect("writing the lab root");
        }
        let path = |p: std::path::PathBuf| p.display().to_string();
        vec![
            "--directory".into(),
            directory.into(),
            "--ca-cert".into(),
            path(root),
            "--resolver".into(),
            self.dns_addr().to_string(),
            "--allow-loopback".into(),
            "--http-port".into(),
            self.http01_port().to_string(),
            "--http01-listen".into(),
            self.http01_addr().to_string(),
            "--state".into(),
            path(dir.join("state.sqlite")),
            "--out".into(),
            path(dir.join("certs")),
            "--new-order-concurrency".into(),
            "1".into(),
        ]
    }

    /// challtestsrv's DNS server: the resolver names in the lab resolve through.
    pub fn dns_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.dns_port))
    }

    /// A lab with the default options.
    pub async fn start() -> PebbleLab {
        PebbleLab::start_with(PebbleOptions::default()).await
    }

    /// A lab with `options`.
    pub async fn start_with(options: PebbleOptions) -> PebbleLab {
        let dir = tempfile::Builder::new()
            .prefix("certdx-pebble-lab.")
            .tempdir()
            .expect("creating the lab's temporary directory");
        let tls = lab_tls();
        fs::write(dir.path().join("cert.pem"), &tls.cert_pem).expect("writing cert.pem");
        fs::write(dir.path().join("key.pem"), &tls.key_pem).expect("writing key.pem");
        let http = lab_client(&tls.root_pem);

        let dns_port = free_port();
        let chall_management_port = free_port();
        let challtestsrv = start_challtestsrv(dir.path(), dns_port, chall_management_port);

        let acme_port = free_port();
        let management_port = free_port();
        let http01_port = free_port();
        write_config(
            dir.path(),
            acme_port,
            management_port,
            http01_port,
            options.eab,
        );
        let resolver = options
            .dns_server
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], dns_port)));
        let pebble = start_pebble(dir.path(), resolver, &options);

        let lab = PebbleLab {
            dir,
            pebble: Some(pebble),
            challtestsrv: Some(challtestsrv),
            acme_port,
            management_port,
            dns_port,
            chall_management_port,
            http01_port,
            tls,
            http,
        };
        lab.wait_challtestsrv().await;
        lab.wait_pebble().await;
        lab
    }

    /// Pebble's directory URL, straight (no proxy).
    pub fn directory_url(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.acme_port)
    }

    /// The root of Pebble's (and the proxy's) HTTPS certificate, for `--ca-cert`.
    pub fn root_pem(&self) -> &str {
        &self.tls.root_pem
    }

    /// Where Pebble validates HTTP-01 (every name resolves to 127.0.0.1 by default): bind the
    /// solver here.
    pub fn http01_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.http01_port))
    }

    /// The port Pebble fetches HTTP-01 responses from.
    pub fn http01_port(&self) -> u16 {
        self.http01_port
    }

    /// The lab directory (config, TLS files, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The root that signs the certificates Pebble issues (regenerated at every start).
    pub async fn issuer_root_pem(&self) -> String {
        let url = format!("https://127.0.0.1:{}/roots/0", self.management_port);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
        resp.text().await.expect("root PEM")
    }

    /// Makes `host` resolve (A) to `addresses` instead of the default 127.0.0.1.
    pub async fn add_a(&self, host: &str, addresses: &[&str]) {
        self.chall("add-a", json!({ "host": host, "addresses": addresses }))
            .await;
    }

    /// Makes every query for `host` answer SERVFAIL.
    pub async fn set_servfail(&self, host: &str) {
        self.chall("set-servfail", json!({ "host": host })).await;
    }

    /// Publishes a TXT record at `host` (e.g. `_acme-challenge.a.test.`).
    pub async fn set_txt(&self, host: &str, value: &str) {
        self.chall("set-txt", json!({ "host": host, "value": value }))
            .await;
    }

    /// The tail of Pebble's log, for failure messages.
    pub fn pebble_log(&self, lines: usize) -> String {
        child::tail(&self.dir.path().join("pebble.log"), lines)
    }

    async fn chall(&self, endpoint: &str, body: Value) {
        let url = format!("http://127.0.0.1:{}/{endpoint}", self.chall_management_port);
        let resp = self
            .http
            .post(&url)
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        assert!(
            resp.status().is_success(),
            "POST {url} {body}: {}",
            resp.status()
        );
    }

    async fn wait_challtestsrv(&self) {
        let url = format!(
            "http://127.0.0.1:{}/clear-request-history",
            self.chall_management_port
        );
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let ok = self
                .http
                .post(&url)
                .body(json!({ "host": "", "type": "dns" }).to_string())
                .send()
                .await
                .is_ok();
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "pebble-challtestsrv did not answer within {START_DEADLINE:?}:\n{}",
                child::tail(&self.dir.path().join("challtestsrv.log"), 20)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_pebble(&self) {
        let url = self.directory_url();
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(resp) = self.http.get(&url).send().await
                && resp.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "pebble's directory {url} did not answer over HTTPS within {START_DEADLINE:?}:\n{}",
                self.pebble_log(30)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A root CA and a serving certificate for 127.0.0.1 / localhost signed by it.
fn lab_tls() -> LabTls {
    let mut root = CertificateParams::new(Vec::<String>::new()).expect("root params");
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    root.distinguished_name
        .push(DnType::CommonName, "certdx Pebble lab root");
    root.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let root_key = KeyPair::generate().expect("root key");
    let root = CertifiedIssuer::self_signed(root, root_key).expect("self-signed root");
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("leaf params");
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let cert = leaf.signed_by(&leaf_key, &root).expect("leaf certificate");
    LabTls {
        root_pem: root.pem(),
        cert_pem: cert.pem(),
        key_pem: leaf_key.serialize_pem(),
    }
}

/// The lab's own HTTP client: trusts only the lab root, never a proxy.
fn lab_client(root_pem: &str) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(root_pem.as_bytes()).expect("root"))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("lab HTTP client")
}

fn write_config(dir: &Path, acme: u16, management: u16, http01: u16, eab: bool) {
    let mut pebble = json!({
        "listenAddress": format!("127.0.0.1:{acme}"),
        "managementListenAddress": format!("127.0.0.1:{management}"),
        "certificate": dir.join("cert.pem"),
        "privateKey": dir.join("key.pem"),
        "httpPort": http01,
        // Nothing listens there: the tests use HTTP-01 only.
        "tlsPort": free_port(),
        "ocspResponderURL": "",
        "externalAccountBindingRequired": eab,
    });
    if eab {
        pebble["externalAccountMACKeys"] = json!({ EAB_KID: EAB_HMAC_KEY });
    }
    fs::write(
        dir.join("pebble-config.json"),
        serde_json::to_vec_pretty(&json!({ "pebble": pebble })).expect("config JSON"),
    )
    .expect("writing pebble-config.json");
}

fn start_challtestsrv(dir: &Path, dns_port: u16, management_port: u16) -> Child {
    let log = fs::File::create(dir.join("challtestsrv.log")).expect("challtestsrv log");
    let mut cmd = Command::new("pebble-challtestsrv");
    cmd.arg(format!("-dns01=127.0.0.1:{dns_port}"))
        .arg(format!("-management=127.0.0.1:{management_port}"))
        // Its own challenge servers are not used: the engine's solver answers.
        .arg("-http01=")
        .arg("-https01=")
        .arg("-tlsalpn01=")
        .arg("-defaultIPv4=127.0.0.1")
        // No AAAA: the solver listens on 127.0.0.1 only.
        .arg("-defaultIPv6=")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log);
    clean_env(&mut cmd);
    child::spawn(cmd).unwrap_or_else(|e| {
        panic!("starting pebble-challtestsrv (bash tests/lab/install-packages.sh): {e}")
    })
}

fn start_pebble(dir: &Path, resolver: SocketAddr, options: &PebbleOptions) -> Child {
    let log = fs::File::create(dir.join("pebble.log")).expect("pebble log");
    let mut cmd = Command::new("pebble");
    cmd.arg("-config")
        .arg(dir.join("pebble-config.json"))
        .arg("-dnsserver")
        .arg(resolver.to_string())
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env(
            "PEBBLE_WFE_NONCEREJECT",
            options.nonce_reject_percent.to_string(),
        )
        .env("PEBBLE_AUTHZREUSE", options.authz_reuse_percent.to_string())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log);
    if options.always_valid {
        cmd.env("PEBBLE_VA_ALWAYS_VALID", "1");
    }
    clean_env(&mut cmd);
    child::spawn(cmd)
        .unwrap_or_else(|e| panic!("starting pebble (bash tests/lab/install-packages.sh): {e}"))
}

/// Go's HTTP clients honour proxy variables: Pebble's validation requests must go straight to
/// the solver on loopback.
fn clean_env(cmd: &mut Command) {
    for var in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "PEBBLE_VA_ALWAYS_VALID",
        "PEBBLE_VA_SLEEPTIME",
    ] {
        cmd.env_remove(var);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------------------------
// The fault proxy.
// ---------------------------------------------------------------------------------------------

/// Which ACME resource a request is for, by Pebble's paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/dir`.
    Directory,
    /// `/nonce-plz`.
    Nonce,
    /// `/sign-me-up`.
    NewAccount,
    /// `/order-plz`.
    NewOrder,
    /// `/my-account/...`: the account object.
    Account,
    /// `/my-order/...`.
    Order,
    /// `/finalize-order/...`.
    Finalize,
    /// `/authZ/...`.
    Authorization,
    /// `/chalZ/...`.
    Challenge,
    /// `/certZ/...`.
    Certificate,
    /// `/certdx-ari/...`: the renewal information the proxy adds (Pebble 2.4.0 has none).
    RenewalInfo,
    /// Anything else.
    Other,
}

impl Endpoint {
    fn of(path: &str) -> Endpoint {
        let table = [
            ("/dir", Endpoint::Directory),
            ("/nonce-plz", Endpoint::Nonce),
            ("/sign-me-up", Endpoint::NewAccount),
            ("/order-plz", Endpoint::NewOrder),
            ("/my-account/", Endpoint::Account),
            ("/my-order/", Endpoint::Order),
            ("/finalize-order/", Endpoint::Finalize),
            ("/authZ/", Endpoint::Authorization),
            ("/chalZ/", Endpoint::Challenge),
            ("/certZ/", Endpoint::Certificate),
            (ARI_PATH, Endpoint::RenewalInfo),
        ];
        table
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix))
            .map_or(Endpoint::Other, |(_, e)| *e)
    }
}

/// An answer the proxy gives instead of forwarding.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 429 with a rateLimited problem document and `Retry-After`.
    RateLimited {
        /// The `Retry-After` header value (seconds or an HTTP-date).
        retry_after: String,
        /// The problem's detail (Boulder's wording, so the classifier can name the limit).
        detail: String,
    },
    /// 503 with `Retry-After`; with a serverInternal problem document, or an HTML body.
    Unavailable {
        /// The `Retry-After` header value, if any.
        retry_after: Option<String>,
        /// Whether the body is a problem document (else HTML from "a load balancer").
        problem: bool,
    },
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Logged {
    /// When it arrived.
    pub at: Instant,
    /// When the proxy finished answering it.
    pub answered: Instant,
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The ACME resource.
    pub endpoint: Endpoint,
    /// The status the client got.
    pub status: u16,
    /// Whether the answer was an injected fault.
    pub injected: bool,
    /// For order objects: the status Pebble sent (before any holding rewrite).
    pub order_status: Option<String>,
    /// Whether the order status was rewritten to "processing".
    pub held: bool,
    /// Whether Pebble's answer was kept from the client ([`FaultProxy::lose_answers`]).
    pub lost: bool,
    /// The answer's `Location` header (a created order's URL).
    pub location: Option<String>,
    /// For newOrder: the JWS payload the client sent (identifiers, profile, replaces).
    pub payload: Option<Value>,
}

/// Where the proxy serves ACME Renewal Information (RFC 9773) once [`FaultProxy::serve_ari`]
/// is called.
const ARI_PATH: &str = "/certdx-ari/";

/// A renewal window the proxy hands out for every certificate.
#[derive(Debug, Clone)]
pub struct AriWindow {
    /// `suggestedWindow.start` (RFC 3339).
    pub start: String,
    /// `suggestedWindow.end` (RFC 3339).
    pub end: String,
    /// `explanationURL`, if any.
    pub explanation_url: Option<String>,
}

/// A certificate profile the proxy advertises and enforces as Boulder does.
#[derive(Debug, Clone)]
pub struct ProfileRule {
    /// Its name in `meta.profiles`.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The most identifiers an order under it may hold (Boulder's `maxNames`).
    pub max_identifiers: usize,
}

#[derive(Default)]
struct ProxyState {
    ari: Option<AriWindow>,
    profiles: Option<Vec<ProfileRule>>,
    replaced: Vec<String>,
    faults: HashMap<Endpoint, Vec<Fault>>,
    hold_polls: usize,
    hold_retry_after: u64,
    lose: HashMap<Endpoint, usize>,
    hide_orders_list: bool,
    caa_forbidden: Vec<String>,
    log: Vec<Logged>,
}

/// An HTTPS proxy in front of a [`PebbleLab`] that injects faults. Dropping it stops it.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    task: JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy on a free 127.0.0.1 port in front of `lab`'s Pebble.
    pub async fn start(lab: &PebbleLab) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let acceptor = tls_acceptor(&lab.tls);
        let upstream = format!("https://127.0.0.1:{}", lab.acme_port);
        let client = lab.http.clone();
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let shared = Arc::clone(&state);
        let one_new_order = Arc::new(tokio::sync::Mutex::new(()));
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let acceptor = acceptor.clone();
                        let client = client.clone();
                        let upstream = upstream.clone();
                        let state = Arc::clone(&shared);
                        let one_new_order = Arc::clone(&one_new_order);
                        connections.spawn(async move {
                            let io = async {
                                let tls = acceptor.accept(stream).await.ok()?;
                                proxy_one(tls, &client, &upstream, &state, &one_new_order).await
                            };
                            let _ = tokio::time::timeout(Duration::from_secs(30), io).await;
                        });
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        FaultProxy { addr, state, task }
    }

    /// The directory URL through the proxy.
    pub fn directory_url(&self) -> String {
        format!("https://{}/dir", self.addr)
    }

    /// Answers the next `times` requests to `endpoint` with `fault` instead of forwarding them.
    pub fn inject(&self, endpoint: Endpoint, fault: Fault, times: usize) {
        let mut state = lock(&self.state);
        let queue = state.faults.entry(endpoint).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// Rewrites the next `polls` order objects Pebble reports `valid` to `processing` (without
    /// the certificate URL), with `Retry-After: retry_after_secs`.
    pub fn hold_processing(&self, polls: usize, retry_after_secs: u64) {
        let mut state = lock(&self.state);
        state.hold_polls = polls;
        state.hold_retry_after = retry_after_secs;
    }

    /// Adds `renewalInfo` to the directory and answers every renewal-information GET with
    /// `window` and `Retry-After: 21600`. Pebble 2.4.0 has no ARI: this is the one part of the
    /// lab that is not a real CA, standing in for an exact response shape (RFC 9773 section
    /// 4.2); orders and certificates stay Pebble's.
    pub fn serve_ari(&self, window: AriWindow) {
        lock(&self.state).ari = Some(window);
    }

    /// Forwards the next `times` requests to `endpoint` to Pebble but never answers them: the
    /// connection stays open, silent, until the client goes or 30 s pass. A CA that acted on a
    /// request whose answer was lost; the request is logged (with `lost`) once Pebble answered.
    pub fn lose_answers(&self, endpoint: Endpoint, times: usize) {
        *lock(&self.state).lose.entry(endpoint).or_default() += times;
    }

    /// Advertises `profiles` in the directory's `meta.profiles` and holds newOrder to Boulder's
    /// rules, which Pebble 2.4.0 lacks: an unknown profile is refused with `invalidProfile`
    /// ("profile name %q not recognized", boulder wfe2/wfe.go validateCertificateProfileName),
    /// too many identifiers for the profile with `malformed` ("Order cannot contain more than
    /// %d identifiers", boulder ra/ra.go NewOrder), and a second order naming the same
    /// `replaces` with 409 `alreadyReplaced` ("cannot indicate an order replaces certificate
    /// with serial %q, which already has a replacement order", wfe2/wfe.go
    /// validateReplacementOrder). Orders that pass go to Pebble, which ignores the two fields.
    pub fn serve_profiles(&self, profiles: Vec<ProfileRule>) {
        lock(&self.state).profiles = Some(profiles);
    }

    /// Records `replaces` (an RFC 9773 certificate identifier) as already replaced, as when
    /// another client's order replaced the certificate first: the next order naming it gets
    /// `alreadyReplaced` (only while [`FaultProxy::serve_profiles`] is on).
    pub fn mark_replaced(&self, replaces: &str) {
        lock(&self.state).replaced.push(replaces.to_owned());
    }

    /// Removes `orders` from every account object, as Let's Encrypt's Boulder sends them
    /// (`docs/acme-divergences.md`: no `orders` field on account objects).
    pub fn hide_orders_list(&self) {
        lock(&self.state).hide_orders_list = true;
    }

    /// Once Pebble has refused an authorization for `identifier`, reports the refusal as
    /// Boulder does when CAA forbids the CA, which Pebble 2.4.0 cannot (its VA has no CAA
    /// check): the challenge's problem becomes Boulder's CAA problem document (type `caa`,
    /// status 403, detail "While processing CAA for NAME: CAA record for NAME prevents
    /// issuance": boulder va/caa.go, `berrors.CAAError("CAA record for %s prevents issuance")`
    /// wrapped with "While processing CAA for %s: "), with a `validationRecord` entry in
    /// Boulder's shape (core/objects.go `ValidationRecord`: url, hostname, port,
    /// addressesResolved, addressUsed). Pebble's own status is kept: the CA really refused.
    pub fn forbid_by_caa(&self, identifier: &str) {
        lock(&self.state).caa_forbidden.push(identifier.to_owned());
    }

    /// Every request seen so far, in arrival order.
    pub fn log(&self) -> Vec<Logged> {
        let mut log = lock(&self.state).log.clone();
        log.sort_by_key(|l| l.at);
        log
    }
}

fn tls_acceptor(tls: &LabTls) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert = CertificateDer::from_pem_slice(tls.cert_pem.as_bytes()).expect("lab cert");
    let key = PrivateKeyDer::from_pem_slice(tls.key_pem.as_bytes()).expect("lab key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .expect("proxy TLS config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// A parsed HTTP/1.1 request.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request: read, decide, forward or inject, answer, close.
async fn proxy_one<S>(
    mut stream: S,
    client: &reqwest::Client,
    upstream: &str,
    state: &Mutex<ProxyState>,
    one_new_order: &tokio::sync::Mutex<()>,
) -> Option<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let request = read_request(&mut stream).await?;
    let at = Instant::now();
    let endpoint = Endpoint::of(&request.path);
    let fault = {
        let mut s = lock(state);
        s.faults.get_mut(&endpoint).and_then(|q| {
            if q.is_empty() {
                None
            } else {
                Some(q.remove(0))
            }
        })
    };
    let mut entry = Logged {
        at,
        answered: at,
        method: request.method.clone(),
        path: request.path.clone(),
        endpoint,
        status: 0,
        injected: fault.is_some(),
        order_status: None,
        held: false,
        lost: false,
        location: None,
        payload: None,
    };
    if endpoint == Endpoint::NewOrder {
        entry.payload = jws_payload(&request.body);
    }
    let refused = match &entry.payload {
        Some(payload) if fault.is_none() => boulder_rules(state, payload),
        _ => None,
    };
    let ari = lock(state).ari.clone();
    let (status, headers, body) = match (fault, ari) {
        (Some(fault), _) => injected(&fault),
        (None, _) if refused.is_some() => refused.expect("checked"),
        (None, Some(window)) if endpoint == Endpoint::RenewalInfo => ari_answer(&window),
        (None, ari) => {
            // Pebble 2.4.0's in-memory store can deadlock on concurrent newOrder requests
            // (README, "Issuing"): one process sends them one at a time
            // (--new-order-concurrency 1), and the proxy keeps several workers' from
            // reaching Pebble at once.
            let answer = {
                let _one = match endpoint {
                    Endpoint::NewOrder => Some(one_new_order.lock().await),
                    _ => None,
                };
                forward(client, upstream, &request).await
            };
            let (status, mut headers, body) = answer?;
            let body = match (endpoint, ari, request.header("host")) {
                (Endpoint::Directory, Some(_), Some(host)) => with_ari(body, host),
                _ => body,
            };
            let body = match (endpoint, lock(state).profiles.clone(), &entry.payload) {
                (Endpoint::Directory, Some(profiles), _) => with_profiles(body, &profiles),
                (Endpoint::NewOrder, _, Some(payload)) => echoed(body, payload),
                _ => body,
            };
            let (body, order_status, held) = hold(state, endpoint, status, &mut headers, body);
            entry.order_status = order_status;
            entry.held = held;
            entry.location = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("location"))
                .map(|(_, v)| v.clone());
            let lose = {
                let mut s = lock(state);
                match s.lose.get_mut(&endpoint) {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        true
                    }
                    _ => false,
                }
            };
            if lose {
                entry.status = status;
                entry.lost = true;
                entry.answered = Instant::now();
                lock(state).log.push(entry);
                // Bounded by the connection's 30 s limit in `FaultProxy::start`.
                std::future::pending::<()>().await;
                return None;
            }
            let body = match endpoint {
                Endpoint::Account if lock(state).hide_orders_list => without_orders(body),
                Endpoint::Authorization => {
                    let forbidden = lock(state).caa_forbidden.clone();
                    refused_by_caa(body, &forbidden)
                }
                _ => body,
            };
            (status, headers, body)
        }
    };
    entry.status = status;
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in &headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&body);
    stream.write_all(&bytes).await.ok()?;
    let _ = stream.shutdown().await;
    entry.answered = Instant::now();
    lock(state).log.push(entry);
    Some(())
}

type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// The directory with a `renewalInfo` URL on the proxy.
fn with_ari(body: Vec<u8>, host: &str) -> Vec<u8> {
    let Ok(mut directory) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    directory["renewalInfo"] = json!(format!("https://{host}{}", ARI_PATH.trim_end_matches('/')));
    serde_json::to_vec(&directory).expect("JSON")
}

/// The directory with `meta.profiles`.
fn with_profiles(body: Vec<u8>, profiles: &[ProfileRule]) -> Vec<u8> {
    let Ok(mut directory) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let listed: serde_json::Map<String, Value> = profiles
        .iter()
        .map(|p| (p.name.clone(), json!(p.description)))
        .collect();
    directory["meta"]["profiles"] = Value::Object(listed);
    serde_json::to_vec(&directory).expect("JSON")
}

/// A created order with the `profile` and `replaces` it was asked for, as Boulder's order
/// objects carry them (RFC 9773 section 5; draft-ietf-acme-profiles); Pebble 2.4.0 drops both.
fn echoed(body: Vec<u8>, payload: &Value) -> Vec<u8> {
    let Ok(mut order) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    for field in ["profile", "replaces"] {
        if let Some(value) = payload.get(field) {
            order[field] = value.clone();
        }
    }
    serde_json::to_vec(&order).expect("JSON")
}

/// The decoded payload of a flattened JWS request body.
fn jws_payload(body: &[u8]) -> Option<Value> {
    use base64::Engine as _;
    let jws: Value = serde_json::from_slice(body).ok()?;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jws["payload"].as_str()?)
        .ok()?;
    serde_json::from_slice(&payload).ok()
}

/// Boulder's answer to a newOrder Pebble would accept, when Boulder would refuse it.
fn boulder_rules(state: &Mutex<ProxyState>, payload: &Value) -> Option<Answer> {
    let mut s = lock(state);
    let profiles = s.profiles.clone()?;
    if let Some(asked) = payload["profile"].as_str() {
        let Some(rule) = profiles.iter().find(|p| p.name == asked) else {
            return Some(problem(
                400,
                "invalidProfile",
                &format!("profile name {asked:?} not recognized"),
            ));
        };
        let count = payload["identifiers"].as_array().map_or(0, Vec::len);
        if count > rule.max_identifiers {
            return Some(problem(
                400,
                "malformed",
                &format!(
                    "Order cannot contain more than {} identifiers",
                    rule.max_identifiers
                ),
            ));
        }
    }
    if let Some(replaces) = payload["replaces"].as_str() {
        let serial = replaces
            .split_once('.')
            .map_or(replaces, |(_, serial)| serial);
        if s.replaced.iter().any(|r| r == replaces) {
            return Some(problem(
                409,
                "alreadyReplaced",
                &format!(
                    "cannot indicate an order replaces certificate with serial {serial:?}, which already has a replacement order"
                ),
            ));
        }
        s.replaced.push(replaces.to_owned());
    }
    None
}

/// A problem document answer.
fn problem(status: u16, kind: &str, detail: &str) -> Answer {
    (
        status,
        vec![("Content-Type".into(), "application/problem+json".into())],
        serde_json::to_vec(&json!({
            "type": format!("urn:ietf:params:acme:error:{kind}"),
            "detail": detail,
            "status": status,
        }))
        .expect("JSON"),
    )
}

/// An account object without its `orders` member.
/// An invalid authorization of a name in `forbidden`, with its failed challenge's problem
/// replaced by Boulder's CAA refusal (see [`FaultProxy::forbid_by_caa`]).
fn refused_by_caa(body: Vec<u8>, forbidden: &[String]) -> Vec<u8> {
    let Ok(mut authz) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let name = authz["identifier"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if authz["status"] != "invalid" || !forbidden.contains(&name) {
        return body;
    }
    let Some(challenges) = authz["challenges"].as_array_mut() else {
        return body;
    };
    for challenge in challenges.iter_mut().filter(|c| c["status"] == "invalid") {
        let url = format!(
            "http://{name}/.well-known/acme-challenge/{}",
            challenge["token"].as_str().unwrap_or_default()
        );
        challenge["error"] = json!({
            "type": "urn:ietf:params:acme:error:caa",
            "detail": format!("While processing CAA for {name}: CAA record for {name} prevents issuance"),
            "status": 403,
        });
        challenge["validationRecord"] = json!([{
            "url": url,
            "hostname": name,
            "port": "80",
            "addressesResolved": ["192.0.2.80"],
            "addressUsed": "192.0.2.80",
        }]);
    }
    serde_json::to_vec(&authz).expect("JSON")
}

fn without_orders(body: Vec<u8>) -> Vec<u8> {
    let Ok(mut account) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let removed = account
        .as_object_mut()
        .and_then(|object| object.remove("orders"));
    match removed {
        Some(_) => serde_json::to_vec(&account).expect("JSON"),
        None => body,
    }
}

/// A renewal-information answer (RFC 9773 section 4.2).
fn ari_answer(window: &AriWindow) -> Answer {
    let mut doc = json!({"suggestedWindow": {"start": window.start, "end": window.end}});
    if let Some(url) = &window.explanation_url {
        doc["explanationURL"] = json!(url);
    }
    (
        200,
        vec![
            ("Content-Type".into(), "application/json".into()),
            ("Retry-After".into(), "21600".into()),
        ],
        serde_json::to_vec(&doc).expect("JSON"),
    )
}

fn injected(fault: &Fault) -> Answer {
    match fault {
        Fault::RateLimited {
            retry_after,
            detail,
        } => (
            429,
            vec![
                ("Content-Type".into(), "application/problem+json".into()),
                ("Retry-After".into(), retry_after.clone()),
            ],
            serde_json::to_vec(&json!({
                "type": "urn:ietf:params:acme:error:rateLimited",
                "detail": detail,
                "status": 429,
            }))
            .expect("JSON"),
        ),
        Fault::Unavailable {
            retry_after,
            problem,
        } => {
            let mut headers = Vec::new();
            if let Some(r) = retry_after {
                headers.push(("Retry-After".into(), r.clone()));
            }
            let body = if *problem {
                headers.push(("Content-Type".into(), "application/problem+json".into()));
                serde_json::to_vec(&json!({
                    "type": "urn:ietf:params:acme:error:serverInternal",
                    "detail": "The service is down for maintenance",
                    "status": 503,
                }))
                .expect("JSON")
            } else {
                headers.push(("Content-Type".into(), "text/html".into()));
                b"<html><body><h1>503 Service Unavailable</h1></body></html>".to_vec()
            };
            (503, headers, body)
        }
    }
}

/// Sends the request to Pebble with its `Host` unchanged (see the module documentation).
async fn forward(client: &reqwest::Client, upstream: &str, request: &Request) -> Option<Answer> {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).ok()?;
    let mut builder = client.request(method, format!("{upstream}{}", request.path));
    for (name, value) in &request.headers {
        let skip = [
            "connection",
            "content-length",
            "transfer-encoding",
            "keep-alive",
        ]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h));
        if !skip {
            builder = builder.header(name.as_str(), value.as_str());
        }
    }
    let resp = builder.body(request.body.clone()).send().await.ok()?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .filter(|(name, _)| {
            ![
                "connection",
                "content-length",
                "transfer-encoding",
                "keep-alive",
            ]
            .contains(&name.as_str())
        })
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
        .collect();
    let body = resp.bytes().await.ok()?.to_vec();
    Some((status, headers, body))
}

/// Records an order object's status and, while holding, rewrites `valid` to `processing`.
fn hold(
    state: &Mutex<ProxyState>,
    endpoint: Endpoint,
    status: u16,
    headers: &mut Vec<(String, String)>,
    body: Vec<u8>,
) -> (Vec<u8>, Option<String>, bool) {
    if !matches!(
        endpoint,
        Endpoint::Order | Endpoint::Finalize | Endpoint::NewOrder
    ) || !(200..300).contains(&status)
    {
        return (body, None, false);
    }
    let Ok(mut order) = serde_json::from_slice::<Value>(&body) else {
        return (body, None, false);
    };
    let order_status = order["status"].as_str().map(str::to_owned);
    let mut s = lock(state);
    if order_status.as_deref() == Some("valid") && s.hold_polls > 0 {
        s.hold_polls -= 1;
        order["status"] = json!("processing");
        if let Some(o) = order.as_object_mut() {
            o.remove("certificate");
        }
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case("retry-after"));
        headers.push(("Retry-After".into(), s.hold_retry_after.to_string()));
        let body = serde_json::to_vec(&order).expect("JSON");
        return (body, order_status, true);
    }
    (body, order_status, false)
}

/// Reads one request: head, then a Content-Length or chunked body.
async fn read_request<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut rest = buf[head_end..].to_vec();
    let mut request = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if let Some(len) = request
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        while rest.len() < len {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(len);
        request.body = rest;
    } else if request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        request.body = read_chunked(stream, rest).await?;
    }
    Some(request)
}

/// Decodes a chunked body whose first bytes are `have`.
async fn read_chunked<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    mut have: Vec<u8>,
) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let line_end = loop {
            if let Some(i) = have.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            have.extend_from_slice(&chunk[..n]);
        };
        let size_text = String::from_utf8_lossy(&have[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        have.drain(..line_end + 2);
        while have.len() < size + 2 {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            have.extend_from_slice(&chunk[..n]);
        }
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(&have[..size]);
        have.drain(..size + 2);
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
