//! A real Kubernetes API server on loopback for the live-cluster tests.
//!
//! One [`KubeLab`] is one etcd and one kube-apiserver 1.20.2 (built once per machine by
//! `tests/lab/kube-apiserver.sh`), each on free 127.0.0.1 ports, with token users
//! (`admin`, `reader`, `writer`, `nobody`), RBAC, cert-manager's CRDs derived from certdx's
//! model types, and one kubeconfig with a context per user. No controller-manager runs: there
//! is no garbage collector and namespace deletion never finishes, so every test takes its own
//! namespace ([`KubeLab::namespace`]) and owner references carry the uids the server assigned
//! ([`KubeLab::load_fixture`] rewrites them).
//!
//! Stopping: both processes run with `PR_SET_PDEATHSIG` = SIGKILL, forked from one thread that
//! lives as long as the test binary (so they die with it, even when it is killed, and not
//! before), and are SIGKILLed and reaped when the lab is dropped, which also happens when a
//! test panics. The lab directory lives on tmpfs when there is one; directories left by a
//! killed test binary are removed by the next lab. Every wait is bounded.
//!
//! A lab belongs to the tokio runtime that started it (its clients do): start one per test
//! rather than sharing one across `#[tokio::test]`s.
//!
//! Include it with `#[path = "common/kube_lab.rs"] mod kube_lab;`.

#![allow(dead_code)]

#[path = "child.rs"]
mod child;
#[path = "ports.rs"]
mod ports;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use certdx::model::{Certificate, CertificateRequest, Challenge, ClusterIssuer, Issuer, Order};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::core::discovery::Scope;
use kube::{Client, CustomResourceExt};
use ports::free_port;
use serde_json::{Value, json};

/// How long etcd and the API server may take to become ready.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long a CRD may take to become Established.
const CRD_DEADLINE: Duration = Duration::from_secs(30);
/// How long a killed process may take to be reaped.
const STOP_DEADLINE: Duration = Duration::from_secs(10);

/// The ClusterRoles certdx documents for its users (reader and writer).
const RBAC_ASSET: &str = include_str!("../../assets/rbac/certdx.yaml");

/// The users of the token file, each with a kubeconfig context of the same name.
pub const USERS: [&str; 4] = ["admin", "reader", "writer", "nobody"];

/// The kube-apiserver binary: `$CERTDX_KUBE_APISERVER`, `$CERTDX_KUBE_CACHE/kube-apiserver`,
/// or the cache `tests/lab/kube-apiserver.sh` builds into.
pub fn apiserver_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("CERTDX_KUBE_APISERVER") {
        return PathBuf::from(p);
    }
    if let Some(dir) = std::env::var_os("CERTDX_KUBE_CACHE") {
        return Path::new(&dir).join("kube-apiserver");
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/root/.cache"));
    cache.join("certdx/kube-1.20.2/kube-apiserver")
}

/// A running etcd + kube-apiserver. Dropping it kills both.
pub struct KubeLab {
    dir: tempfile::TempDir,
    binary: PathBuf,
    etcd: Option<Child>,
    // Behind a lock so a lab shared between tasks (e.g. through an Arc) can be stopped and
    // restarted through `&self`.
    apiserver: Mutex<Option<Child>>,
    port: u16,
    etcd_url: String,
    tokens: BTreeMap<String, String>,
    kubeconfig: PathBuf,
    admin: Client,
}

impl Drop for KubeLab {
    fn drop(&mut self) {
        if let Some(child) = lock(&self.apiserver).take() {
            child::kill(child, STOP_DEADLINE);
        }
        if let Some(child) = self.etcd.take() {
            child::kill(child, STOP_DEADLINE);
        }
    }
}

impl KubeLab {
    /// A lab with cert-manager's CRDs installed and Established.
    pub async fn start() -> KubeLab {
        KubeLab::start_with(true).await
    }

    /// A lab without cert-manager's CRDs: for the "cert-manager is not installed" paths.
    pub async fn start_without_crds() -> KubeLab {
        KubeLab::start_with(false).await
    }

    /// A lab, with or without cert-manager's CRDs.
    pub async fn start_with(install_crds: bool) -> KubeLab {
        let binary = apiserver_binary();
        if !binary.is_file() {
            panic!(
                "kube-apiserver not found at {}: run `bash tests/lab/install-packages.sh` \
                 (it builds kube-apiserver 1.20.2 into the cache once per machine), or set \
                 CERTDX_KUBE_APISERVER",
                binary.display()
            );
        }
        // etcd fsyncs every write; on tmpfs the whole lab starts and runs much faster.
        remove_stale_labs(Path::new("/dev/shm"));
        let mut builder = tempfile::Builder::new();
        builder.prefix("certdx-kube-lab.");
        let dir = match Path::new("/dev/shm").is_dir() {
            true => builder
                .tempdir_in("/dev/shm")
                .or_else(|_| builder.tempdir()),
            false => builder.tempdir(),
        }
        .expect("creating the lab's temporary directory");
        // Lets a later run remove this directory if the test binary is killed before Drop.
        fs::write(dir.path().join("owner.pid"), std::process::id().to_string())
            .expect("writing owner.pid");

        let etcd_client = free_port();
        let etcd_peer = free_port();
        let etcd_url = format!("http://127.0.0.1:{etcd_client}");
        let etcd = start_etcd(dir.path(), etcd_client, etcd_peer);

        let run = LAB_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tokens: BTreeMap<String, String> = USERS
            .iter()
            .map(|u| {
                (
                    (*u).to_owned(),
                    format!("certdx-{u}-{}-{run}-token", std::process::id()),
                )
            })
            .collect();
        write_files(dir.path(), &tokens);

        let port = free_port();
        let kubeconfig = dir.path().join("kubeconfig");
        fs::write(&kubeconfig, kubeconfig_text(port, &tokens)).expect("writing the kubeconfig");
        let admin = client_for(port, &tokens["admin"]);

        let mut lab = KubeLab {
            dir,
            binary,
            etcd: Some(etcd),
            apiserver: Mutex::new(None),
            port,
            etcd_url,
            tokens,
            kubeconfig,
            admin,
        };
        lab.wait_etcd().await;
        lab.spawn_apiserver();
        lab.wait_ready().await;
        lab.install_rbac().await;
        if install_crds {
            lab.install_crds().await;
        }
        lab
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The API server's port (the same after a restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The kubeconfig with contexts `admin` (current), `reader`, `writer`, `nobody`.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The lab's temporary directory (etcd data, certificates, token file, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The bearer token of `user`.
    pub fn token(&self, user: &str) -> &str {
        self.tokens
            .get(user)
            .unwrap_or_else(|| panic!("no lab user {user:?} (known: {USERS:?})"))
    }

    /// A client authenticated as `user` (one of [`USERS`]).
    pub fn client(&self, user: &str) -> Client {
        client_for(self.port, self.token(user))
    }

    /// A client for `user` built the way certdx builds it: from the lab's kubeconfig, context
    /// `user`.
    pub async fn client_from_kubeconfig(&self, user: &str) -> Client {
        let kc = Kubeconfig::read_from(&self.kubeconfig).expect("reading the lab kubeconfig");
        let options = KubeConfigOptions {
            context: Some(user.to_owned()),
            ..KubeConfigOptions::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kc, &options)
            .await
            .expect("lab kubeconfig context");
        Client::try_from(config).expect("client from the lab kubeconfig")
    }

    /// The `admin` client (system:masters).
    pub fn admin(&self) -> Client {
        self.admin.clone()
    }

    /// Creates a namespace `PREFIX-N` unique within the lab and returns its name.
    pub async fn namespace(&self, prefix: &str) -> String {
        let n = NAMESPACE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let clean: String = prefix
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(40)
            .collect();
        let name = format!("{}-{n}", clean.trim_matches('-'));
        self.ensure_namespace(&name).await;
        name
    }

    /// Creates namespace `name` unless it exists.
    pub async fn ensure_namespace(&self, name: &str) {
        let api: Api<Namespace> = Api::all(self.admin());
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
        match api.create(&PostParams::default(), &ns).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.is_already_exists() => {}
            Err(e) => panic!("creating namespace {name}: {e}"),
        }
    }

    /// Creates the objects of `yaml` (one or more documents, each an object or a `List`) in
    /// namespace `ns` (created if missing), then sets their `.status` through the status
    /// subresource. Returns how many objects were created or updated.
    ///
    /// Every namespaced object goes into `ns` whatever namespace the fixture names; owner
    /// references and Events' involvedObject are rewritten to the uids the server assigned.
    /// ClusterIssuers are cluster-wide: a name that exists is overwritten (spec and status),
    /// so a test that needs one ClusterIssuer's exact status should have its own lab.
    pub async fn load_fixture(&self, ns: &str, yaml: &str) -> usize {
        self.load_fixture_mapped(yaml, |_| ns.to_owned()).await
    }

    /// Like [`KubeLab::load_fixture`], with each fixture namespace mapped through `map`
    /// (fixtures spanning several namespaces whose names would collide in one).
    pub async fn load_fixture_mapped(&self, yaml: &str, map: impl Fn(&str) -> String) -> usize {
        let mut objects = parse_fixture(yaml);
        objects.sort_by_key(|o| kind_rank(o["kind"].as_str().unwrap_or("")));
        let mut uids: HashMap<(String, String, String), String> = HashMap::new();
        let mut resources: HashMap<GroupVersionKind, (kube::core::ApiResource, Scope)> =
            HashMap::new();
        let mut count = 0;
        for mut obj in objects {
            let api_version = obj["apiVersion"].as_str().unwrap_or("").to_owned();
            let kind = obj["kind"].as_str().unwrap_or("").to_owned();
            let name = obj["metadata"]["name"].as_str().unwrap_or("").to_owned();
            assert!(
                !api_version.is_empty() && !kind.is_empty() && !name.is_empty(),
                "fixture object without apiVersion, kind or metadata.name: {obj}"
            );
            let (group, version) = match api_version.split_once('/') {
                Some((g, v)) => (g.to_owned(), v.to_owned()),
                None => (String::new(), api_version.clone()),
            };
            let gvk = GroupVersionKind::gvk(&group, &version, &kind);
            if !resources.contains_key(&gvk) {
                let (ar, caps) = kube::discovery::pinned_kind(&self.admin, &gvk)
                    .await
                    .unwrap_or_else(|e| panic!("the lab's API has no {api_version} {kind}: {e}"));
                resources.insert(gvk.clone(), (ar, caps.scope));
            }
            let (ar, scope) = resources[&gvk].clone();
            let target_ns = match scope {
                Scope::Namespaced => {
                    let original = obj["metadata"]["namespace"].as_str().unwrap_or("default");
                    let target = map(original);
                    self.ensure_namespace(&target).await;
                    Some(target)
                }
                Scope::Cluster => None,
            };

            let status = obj.as_object_mut().and_then(|m| m.remove("status"));
            prepare_metadata(&mut obj, target_ns.as_deref(), &uids);
            if kind == "Event" {
                rewrite_involved_object(&mut obj, target_ns.as_deref(), &uids);
            }

            let api: Api<DynamicObject> = match &target_ns {
                Some(ns) => Api::namespaced_with(self.admin(), ns, &ar),
                None => Api::all_with(self.admin(), &ar),
            };
            let dynamic: DynamicObject =
                serde_json::from_value(obj.clone()).expect("fixture object as DynamicObject");
            let mut created = match api.create(&PostParams::default(), &dynamic).await {
                Ok(o) => o,
                Err(kube::Error::Api(s)) if s.is_already_exists() && target_ns.is_none() => {
                    // A cluster-wide object another fixture created: take this fixture's spec.
                    let mut existing = api
                        .get(&name)
                        .await
                        .unwrap_or_else(|e| panic!("reading existing {kind} {name}: {e}"));
                    let mut replacement = dynamic.clone();
                    replacement.metadata.resource_version =
                        existing.metadata.resource_version.take();
                    api.replace(&name, &PostParams::default(), &replacement)
                        .await
                        .unwrap_or_else(|e| panic!("replacing existing {kind} {name}: {e}"))
                }
                Err(e) => panic!(
                    "creating {kind} {}{name}: {e}",
                    target_ns
                        .as_deref()
                        .map(|n| format!("{n}/"))
                        .unwrap_or_default()
                ),
            };
            if let Some(status) = status {
                created.data["status"] = status;
                created = api
                    .replace_status(&name, &PostParams::default(), &created)
                    .await
                    .unwrap_or_else(|e| panic!("setting the status of {kind} {name}: {e}"));
            }
            let uid = created
                .metadata
                .uid
                .clone()
                .expect("the server assigns a uid");
            uids.insert(
                (
                    kind.clone(),
                    target_ns.clone().unwrap_or_default(),
                    name.clone(),
                ),
                uid,
            );
            count += 1;
        }
        count
    }

    /// Stops the API server (SIGKILL, reaped); etcd keeps running and keeps the data.
    pub fn stop_apiserver(&self) {
        let child = lock(&self.apiserver).take();
        if let Some(child) = child {
            child::kill(child, STOP_DEADLINE);
        }
    }

    /// Starts the API server again on the same port with the same etcd, and waits until it
    /// is ready.
    pub async fn restart_apiserver(&self) {
        self.stop_apiserver();
        self.spawn_apiserver();
        self.wait_ready().await;
    }

    /// Whether the API server process is running.
    pub fn apiserver_running(&self) -> bool {
        match &mut *lock(&self.apiserver) {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The last `lines` lines the API server wrote to stderr (for failure messages).
    pub fn apiserver_log_tail(&self, lines: usize) -> String {
        child::tail(&self.dir.path().join("apiserver.log"), lines)
    }

    fn spawn_apiserver(&self) {
        let d = self.dir.path();
        let args: Vec<String> = vec![
            format!("--etcd-servers={}", self.etcd_url),
            "--bind-address=127.0.0.1".to_owned(),
            "--advertise-address=127.0.0.1".to_owned(),
            format!("--secure-port={}", self.port),
            // 1.20 still serves plain HTTP on 8080 unless told not to; parallel labs would
            // fight over it.
            "--insecure-port=0".to_owned(),
            format!("--cert-dir={}", d.join("certs").display()),
            format!("--token-auth-file={}", d.join("tokens.csv").display()),
            "--authorization-mode=RBAC".to_owned(),
            format!("--service-account-key-file={}", d.join("sa.pub").display()),
            format!(
                "--service-account-signing-key-file={}",
                d.join("sa.key").display()
            ),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_owned(),
            "--service-cluster-ip-range=10.96.0.0/16".to_owned(),
            // No controller-manager: nothing would maintain the kubernetes Endpoints, and
            // Pods could not get service account tokens.
            "--endpoint-reconciler-type=none".to_owned(),
            "--disable-admission-plugins=ServiceAccount".to_owned(),
            "--profiling=false".to_owned(),
            "--logtostderr=true".to_owned(),
            "--v=1".to_owned(),
        ];
        // Appended: a restarted server's log follows the first one's.
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("apiserver.log"))
            .expect("apiserver log file");
        let mut cmd = Command::new(&self.binary);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        let child =
            child::spawn(cmd).unwrap_or_else(|e| panic!("starting {}: {e}", self.binary.display()));
        *lock(&self.apiserver) = Some(child);
    }

    async fn wait_etcd(&mut self) {
        let http = http_client();
        let deadline = Instant::now() + START_DEADLINE;
        let url = format!("{}/health", self.etcd_url);
        loop {
            if let Ok(r) = http.get(&url).send().await
                && r.status().is_success()
            {
                return;
            }
            if let Some(Ok(Some(status))) = self.etcd.as_mut().map(Child::try_wait) {
                panic!(
                    "etcd exited ({status}) before it was ready:\n{}",
                    child::tail(&self.dir.path().join("etcd.log"), 30)
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "etcd not healthy after {:?}:\n{}",
                    START_DEADLINE,
                    child::tail(&self.dir.path().join("etcd.log"), 30)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_ready(&self) {
        let http = http_client();
        let deadline = Instant::now() + START_DEADLINE;
        let url = format!("{}/readyz", self.url());
        loop {
            let last = match http
                .get(&url)
                .bearer_auth(&self.tokens["admin"])
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    let failing: Vec<&str> =
                        body.lines().filter(|l| l.contains("failed")).collect();
                    format!("{status}: {}", failing.join("; "))
                }
                Err(e) => e.to_string(),
            };
            let exited = lock(&self.apiserver).as_mut().map(Child::try_wait);
            if let Some(Ok(Some(status))) = exited {
                panic!(
                    "kube-apiserver exited ({status}) before it was ready:\n{}",
                    self.apiserver_log_tail(40)
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "kube-apiserver not ready after {START_DEADLINE:?} (last: {last}):\n{}",
                    self.apiserver_log_tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn install_rbac(&self) {
        // The roles the README tells users to apply: the tests prove they are enough.
        let roles: Api<ClusterRole> = Api::all(self.admin());
        for doc in RBAC_ASSET.split("\n---\n") {
            let role: ClusterRole = serde_norway::from_str(doc)
                .unwrap_or_else(|e| panic!("assets/rbac/certdx.yaml: {e}"));
            roles
                .create(&PostParams::default(), &role)
                .await
                .unwrap_or_else(|e| panic!("creating ClusterRole {:?}: {e}", role.metadata.name));
        }
        let bindings: Api<ClusterRoleBinding> = Api::all(self.admin());
        for (name, role, user) in [
            ("certdx-reader", "certdx-reader", "reader"),
            ("certdx-writer-reads", "certdx-reader", "writer"),
            ("certdx-writer", "certdx-writer", "writer"),
        ] {
            let binding = ClusterRoleBinding {
                metadata: kube::core::ObjectMeta {
                    name: Some(name.to_owned()),
                    ..Default::default()
                },
                role_ref: RoleRef {
                    api_group: Some("rbac.authorization.k8s.io".to_owned()),
                    kind: "ClusterRole".to_owned(),
                    name: role.to_owned(),
                },
                subjects: Some(vec![Subject {
                    api_group: Some("rbac.authorization.k8s.io".to_owned()),
                    kind: "User".to_owned(),
                    name: user.to_owned(),
                    namespace: None,
                }]),
            };
            bindings
                .create(&PostParams::default(), &binding)
                .await
                .unwrap_or_else(|e| panic!("creating ClusterRoleBinding {name}: {e}"));
        }
    }

    /// Installs cert-manager's six CRDs and waits until each is Established.
    pub async fn install_crds(&self) {
        let api: Api<CustomResourceDefinition> = Api::all(self.admin());
        let crds = cert_manager_crds();
        for crd in &crds {
            let name = crd.metadata.name.clone().unwrap_or_default();
            match api.create(&PostParams::default(), crd).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.is_already_exists() => {}
                Err(e) => panic!("creating CRD {name}: {e}"),
            }
        }
        let deadline = Instant::now() + CRD_DEADLINE;
        for crd in &crds {
            let name = crd.metadata.name.clone().unwrap_or_default();
            loop {
                let got = api
                    .get(&name)
                    .await
                    .unwrap_or_else(|e| panic!("reading CRD {name}: {e}"));
                let established = got
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True");
                if established {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "CRD {name} not Established after {CRD_DEADLINE:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        // Established means the API accepts requests; discovery may lag a moment behind.
        for crd in &crds {
            let spec = &crd.spec;
            let gvk = GroupVersionKind::gvk(&spec.group, "v1", &spec.names.kind);
            loop {
                if kube::discovery::pinned_kind(&self.admin, &gvk)
                    .await
                    .is_ok()
                {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{} not discoverable after {CRD_DEADLINE:?}",
                    spec.names.kind
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

static LAB_COUNTER: AtomicUsize = AtomicUsize::new(0);
static NAMESPACE_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// cert-manager's six CRDs, their schemas derived from certdx's model types and loosened so
/// the server keeps every field real clusters carry (the model reads only a subset).
pub fn cert_manager_crds() -> Vec<CustomResourceDefinition> {
    [
        Certificate::crd(),
        CertificateRequest::crd(),
        Issuer::crd(),
        ClusterIssuer::crd(),
        Order::crd(),
        Challenge::crd(),
    ]
    .into_iter()
    .map(|crd| {
        let mut v = serde_json::to_value(&crd).expect("CRD as JSON");
        if let Some(versions) = v["spec"]["versions"].as_array_mut() {
            for version in versions {
                let schema = &mut version["schema"]["openAPIV3Schema"];
                structural(schema);
                // Every Object carries spec and status; the root must declare what it keeps.
                schema["type"] = json!("object");
                version["subresources"]["status"] = json!({});
            }
        }
        serde_json::from_value(v).expect("patched CRD")
    })
    .collect()
}

/// Rewrites a schema node (recursively) so kube-apiserver 1.20 takes it as structural and
/// keeps unknown fields: every object keeps unknown properties; the keywords 1.20 rejects
/// or that would reject real data are dropped.
fn structural(node: &mut Value) {
    let Some(map) = node.as_object_mut() else {
        return;
    };
    // `default`: the model's `#[serde(default)]` makes schemars emit defaults, which 1.20
    // rejects outright ("spec.issuerRef.properties[name].default: Invalid value: \"null\": in
    // body must be of type string") and which would otherwise be written into stored objects
    // that never had them. `required`, bounds and formats the server does not know would
    // reject objects real clusters (and the fixtures) carry; the rest are not structural.
    for key in [
        "required",
        "default",
        "$schema",
        "title",
        "examples",
        "additionalProperties",
    ] {
        map.remove(key);
    }
    if let Some(format) = map.get("format").and_then(Value::as_str)
        && !matches!(format, "date-time" | "int32" | "int64" | "byte")
    {
        map.remove("format");
    }
    map.remove("minimum");
    map.remove("maximum");
    if let Some(props) = map.get_mut("properties").and_then(Value::as_object_mut) {
        for child in props.values_mut() {
            structural(child);
        }
    }
    if let Some(items) = map.get_mut("items") {
        structural(items);
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(list) = map.get_mut(key).and_then(Value::as_array_mut) {
            for child in list {
                structural(child);
            }
        }
    }
    let is_object =
        map.get("type").and_then(Value::as_str) == Some("object") || map.contains_key("properties");
    if is_object {
        map.insert("type".to_owned(), json!("object"));
        map.insert(
            "x-kubernetes-preserve-unknown-fields".to_owned(),
            json!(true),
        );
    }
}

/// The objects of a fixture: every document, `List`s flattened, empty documents skipped.
pub fn parse_fixture(yaml: &str) -> Vec<Value> {
    use serde::Deserialize as _;
    let mut out = Vec::new();
    for doc in serde_norway::Deserializer::from_str(yaml) {
        let v = Value::deserialize(doc).expect("fixture YAML");
        flatten(v, &mut out);
    }
    out
}

fn flatten(v: Value, out: &mut Vec<Value>) {
    match v {
        Value::Null => {}
        Value::Object(ref m) if m.get("kind").and_then(Value::as_str) == Some("List") => {
            if let Some(items) = m.get("items").and_then(Value::as_array) {
                for item in items {
                    flatten(item.clone(), out);
                }
            }
        }
        other => out.push(other),
    }
}

/// Creation order: what others point at first.
fn kind_rank(kind: &str) -> usize {
    const ORDER: [&str; 7] = [
        "ClusterIssuer",
        "Issuer",
        "Certificate",
        "CertificateRequest",
        "Order",
        "Challenge",
        "Event",
    ];
    ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(ORDER.len() - 1)
}

/// Drops what the server assigns, moves the object into `ns`, and points owner references
/// at the uids of owners created earlier (an owner the fixture lacks keeps its uid).
fn prepare_metadata(
    obj: &mut Value,
    ns: Option<&str>,
    uids: &HashMap<(String, String, String), String>,
) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    for key in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "generation",
        "managedFields",
        "selfLink",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        meta.remove(key);
    }
    match ns {
        Some(ns) => {
            meta.insert("namespace".to_owned(), json!(ns));
        }
        None => {
            meta.remove("namespace");
        }
    }
    if let Some(refs) = meta
        .get_mut("ownerReferences")
        .and_then(Value::as_array_mut)
    {
        for r in refs {
            let kind = r["kind"].as_str().unwrap_or("").to_owned();
            let name = r["name"].as_str().unwrap_or("").to_owned();
            let key = (kind, ns.unwrap_or("").to_owned(), name);
            if let Some(uid) = uids.get(&key) {
                r["uid"] = json!(uid);
            }
        }
    }
}

/// Points an Event at the object in `ns` the server created.
fn rewrite_involved_object(
    obj: &mut Value,
    ns: Option<&str>,
    uids: &HashMap<(String, String, String), String>,
) {
    let involved = &mut obj["involvedObject"];
    if !involved.is_object() {
        return;
    }
    let kind = involved["kind"].as_str().unwrap_or("").to_owned();
    let name = involved["name"].as_str().unwrap_or("").to_owned();
    let namespaced = involved.get("namespace").is_some();
    if namespaced && let Some(ns) = ns {
        involved["namespace"] = json!(ns);
    }
    let key_ns = if namespaced { ns.unwrap_or("") } else { "" };
    if let Some(uid) = uids.get(&(kind, key_ns.to_owned(), name)) {
        involved["uid"] = json!(uid);
    }
    if let Some(m) = involved.as_object_mut() {
        m.remove("resourceVersion");
    }
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(owned(groups)),
        resources: Some(owned(resources)),
        verbs: owned(verbs),
        ..Default::default()
    }
}

fn start_etcd(dir: &Path, client: u16, peer: u16) -> Child {
    let data = dir.join("etcd");
    let log = fs::File::create(dir.join("etcd.log")).expect("etcd log file");
    let client_url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let mut cmd = Command::new("etcd");
    cmd.arg("--name=lab")
        .arg(format!("--data-dir={}", data.display()))
        .arg(format!("--listen-client-urls={client_url}"))
        .arg(format!("--advertise-client-urls={client_url}"))
        .arg(format!("--listen-peer-urls={peer_url}"))
        .arg(format!("--initial-advertise-peer-urls={peer_url}"))
        .arg(format!("--initial-cluster=lab={peer_url}"))
        .arg("--initial-cluster-state=new")
        .arg("--log-level=warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log);
    child::spawn(cmd).unwrap_or_else(|e| panic!("starting etcd (apt-get install etcd-server): {e}"))
}

/// Token file, service-account keys.
fn write_files(dir: &Path, tokens: &BTreeMap<String, String>) {
    let mut csv = String::new();
    for (user, token) in tokens {
        let groups = if user == "admin" {
            "system:masters"
        } else {
            ""
        };
        writeln!(csv, "{token},{user},uid-{user},\"{groups}\"").expect("string write");
    }
    fs::write(dir.join("tokens.csv"), csv).expect("writing the token file");
    let key = rcgen::KeyPair::generate().expect("service-account key");
    fs::write(dir.join("sa.key"), key.serialize_pem()).expect("writing sa.key");
    fs::write(dir.join("sa.pub"), key.public_key_pem()).expect("writing sa.pub");
    fs::create_dir_all(dir.join("certs")).expect("cert dir");
}

fn kubeconfig_text(port: u16, tokens: &BTreeMap<String, String>) -> String {
    let mut s = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: admin\nclusters:\n- name: lab\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\nusers:\n"
    );
    for (user, token) in tokens {
        writeln!(s, "- name: {user}\n  user:\n    token: {token}").expect("string write");
    }
    s.push_str("contexts:\n");
    for user in USERS {
        writeln!(
            s,
            "- name: {user}\n  context:\n    cluster: lab\n    user: {user}"
        )
        .expect("string write");
    }
    s
}

fn client_for(port: u16, token: &str) -> Client {
    // The URL's type (http::Uri) is inferred from Config::new: no direct `http` dependency.
    let mut config = kube::Config::new(
        format!("https://127.0.0.1:{port}")
            .parse()
            .expect("lab URL"),
    );
    config.accept_invalid_certs = true;
    config.auth_info =
        serde_json::from_value(json!({ "token": token })).expect("AuthInfo with a token");
    config.connect_timeout = Some(Duration::from_secs(5));
    config.read_timeout = Some(Duration::from_secs(30));
    Client::try_from(config).expect("lab client")
}

fn http_client() -> reqwest::Client {
    // reqwest is built without a default crypto provider; installing ring twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .tls_danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("HTTP client")
}

/// Locks `m`; a panic elsewhere while holding it leaves the Option usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes lab directories in `parent` whose test process is gone (killed before it could
/// drop its lab): on tmpfs they would hold memory until reboot.
fn remove_stale_labs(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_lab = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("certdx-kube-lab."));
        if !is_lab {
            continue;
        }
        let Ok(pid) = fs::read_to_string(path.join("owner.pid")) else {
            continue;
        };
        let alive = Path::new("/proc").join(pid.trim()).exists();
        if !alive {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// How long one run of the certdx binary against a lab may take.
const CLI_DEADLINE: Duration = Duration::from_secs(90);

impl KubeLab {
    /// Runs the certdx binary against the lab as `context` (a user: `admin`, `reader`,
    /// `writer`, `nobody`) with standard input not a terminal; returns its exit code, stdout
    /// and stderr. Bounded by [`CLI_DEADLINE`]; the process is killed if the test drops it.
    pub async fn certdx(&self, context: &str, args: &[&str]) -> (i32, String, String) {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_certdx"));
        cmd.arg("--kubeconfig")
            .arg(self.kubeconfig_path())
            .arg("--context")
            .arg(context)
            .args(args)
            .env_remove("KUBECONFIG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let out = tokio::time::timeout(CLI_DEADLINE, cmd.output())
            .await
            .expect("certdx finished in time")
            .expect("certdx ran");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}
