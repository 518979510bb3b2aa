//! cert-manager's own health against a real kube-apiserver: the test writes the Deployments,
//! Pods, Leases, webhook configurations, Service and Endpoints a (broken) installation has,
//! statuses included (no kubelet or controllers run), and certdx, as the `reader` user bound
//! to the shipped role, names what is broken, and names it as the root cause of the
//! Certificates it leaves stuck. What the user may not read becomes notes, never findings.

#[path = "common/kube_lab.rs"]
mod kube_lab;

use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine as _;
use certdx::diagnose::cm_health::{CertManagerHealth, HealthState, cert_manager_health};
use certdx::model::{Code, Severity};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Endpoints;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use kube_lab::KubeLab;
use serde_json::{Value, json};

/// Bounds each test: a hung server must fail the test, not the CI job.
const DEADLINE: Duration = Duration::from_secs(240);

/// How the installation the test writes is broken (or not).
#[derive(Clone)]
struct Install {
    /// Ready replicas of the controller (of 1).
    controller_ready: i32,
    /// How long ago the controller's Lease was renewed.
    lease_age: SignedDuration,
    /// Whether the webhook configurations carry the CA bundle.
    ca_bundle: bool,
    /// Whether the webhook's Service has a ready endpoint.
    endpoints: bool,
}

const HEALTHY: Install = Install {
    controller_ready: 1,
    lease_age: SignedDuration::from_secs(5),
    ca_bundle: true,
    endpoints: true,
};

/// The chart's labels of one component, as a YAML flow map.
fn labels(name: &str, component: &str) -> String {
    format!(
        "{{app.kubernetes.io/name: {name}, app.kubernetes.io/instance: cert-manager, app.kubernetes.io/component: {component}}}"
    )
}

fn deployment(deploy: &str, name: &str, component: &str, image: &str, ready: i32) -> String {
    let l = labels(name, component);
    let ready_fields = if ready > 0 {
        format!("readyReplicas: {ready}, availableReplicas: {ready}, ")
    } else {
        String::new()
    };
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: {deploy}, namespace: cert-manager, labels: {l}}}
spec:
  replicas: 1
  selector: {{matchLabels: {l}}}
  template:
    metadata: {{labels: {l}}}
    spec:
      containers:
      - name: cert-manager-{component}
        image: quay.io/jetstack/{image}:v1.16.2
        args: [--v=2, --leader-election-namespace=kube-system]
status: {{replicas: 1, updatedReplicas: 1, {ready_fields}observedGeneration: 1}}
"#
    )
}

fn pod(pod: &str, name: &str, component: &str, image: &str, ready: bool) -> String {
    let l = labels(name, component);
    let container = if ready {
        format!(
            "{{name: cert-manager-{component}, ready: true, restartCount: 0, image: {image}, imageID: '', state: {{running: {{}}}}}}"
        )
    } else {
        format!(
            "{{name: cert-manager-{component}, ready: false, restartCount: 6, image: {image}, imageID: '', state: {{waiting: {{reason: CrashLoopBackOff, message: back-off 5m0s restarting failed container}}}}, lastState: {{terminated: {{reason: Error, exitCode: 1}}}}}}"
        )
    };
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: {pod}, namespace: cert-manager, labels: {l}}}
spec:
  containers:
  - {{name: cert-manager-{component}, image: "quay.io/jetstack/{image}:v1.16.2"}}
status:
  phase: Running
  conditions: [{{type: Ready, status: "{}"}}]
  containerStatuses: [{container}]
"#,
        if ready { "True" } else { "False" }
    )
}

fn lease(name: &str, renewed: Timestamp) -> String {
    let at = renewed.strftime("%Y-%m-%dT%H:%M:%S.%6fZ");
    format!(
        r#"apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {{name: {name}, namespace: kube-system}}
spec: {{holderIdentity: cert-manager-6f7b8c9d4-x2x9q_1c2e, leaseDurationSeconds: 60, acquireTime: "{at}", renewTime: "{at}", leaseTransitions: 3}}
"#
    )
}

/// A CA certificate as the webhook configurations carry it (base64 of the PEM).
fn ca_bundle() -> String {
    let ca =
        rcgen::generate_simple_self_signed(vec!["cert-manager-webhook-ca".to_owned()]).expect("CA");
    base64::engine::general_purpose::STANDARD.encode(ca.cert.pem())
}

fn webhook_configuration(kind: &str, path: &str, bundle: Option<&str>) -> String {
    let ca = bundle
        .map(|b| format!(", caBundle: {b}"))
        .unwrap_or_default();
    // failurePolicy Ignore: the lab must still accept the test's own cert-manager objects.
    format!(
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: {kind}
metadata:
  name: cert-manager-webhook
  annotations: {{cert-manager.io/inject-ca-from-secret: cert-manager/cert-manager-webhook-ca}}
webhooks:
- name: webhook.cert-manager.io
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Ignore
  timeoutSeconds: 1
  clientConfig: {{service: {{name: cert-manager-webhook, namespace: cert-manager, path: {path}}}{ca}}}
  rules: [{{apiGroups: [cert-manager.io, acme.cert-manager.io], apiVersions: [v1], operations: [CREATE, UPDATE], resources: ["*/*"]}}]
"#
    )
}

fn service_and_endpoints(ready: bool) -> String {
    let addresses = if ready {
        "addresses"
    } else {
        "notReadyAddresses"
    };
    format!(
        r#"apiVersion: v1
kind: Service
metadata: {{name: cert-manager-webhook, namespace: cert-manager}}
spec:
  selector: {}
  ports: [{{name: https, port: 443, targetPort: 10250}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: cert-manager-webhook, namespace: cert-manager}}
subsets:
- {addresses}: [{{ip: 10.42.0.9}}]
  ports: [{{name: https, port: 10250}}]
"#,
        labels("webhook", "webhook")
    )
}

/// Writes a whole installation as `i` describes it.
async fn install(lab: &KubeLab, i: &Install) {
    let now = Timestamp::now();
    let bundle = ca_bundle();
    let bundle = i.ca_bundle.then_some(bundle.as_str());
    let docs = [
        deployment(
            "cert-manager",
            "cert-manager",
            "controller",
            "cert-manager-controller",
            i.controller_ready,
        ),
        pod(
            "cert-manager-6f7b8c9d4-x2x9q",
            "cert-manager",
            "controller",
            "cert-manager-controller",
            i.controller_ready > 0,
        ),
        deployment(
            "cert-manager-webhook",
            "webhook",
            "webhook",
            "cert-manager-webhook",
            1,
        ),
        pod(
            "cert-manager-webhook-5d8f9-kq2lm",
            "webhook",
            "webhook",
            "cert-manager-webhook",
            true,
        ),
        deployment(
            "cert-manager-cainjector",
            "cainjector",
            "cainjector",
            "cert-manager-cainjector",
            1,
        ),
        pod(
            "cert-manager-cainjector-7c9d-p4r8s",
            "cainjector",
            "cainjector",
            "cert-manager-cainjector",
            true,
        ),
        lease("cert-manager-controller", now - i.lease_age),
        lease(
            "cert-manager-cainjector-leader-election",
            now - SignedDuration::from_secs(3),
        ),
        webhook_configuration("ValidatingWebhookConfiguration", "/validate", bundle),
        webhook_configuration("MutatingWebhookConfiguration", "/mutate", bundle),
        service_and_endpoints(i.endpoints),
    ];
    let created = lab
        .load_fixture_mapped(&docs.join("---\n"), |ns| ns.to_owned())
        .await;
    assert_eq!(created, 12, "every object of the installation written");
}

/// The problem findings' summaries, for failure messages and assertions.
fn problems(h: &CertManagerHealth) -> Vec<(Severity, String)> {
    h.findings
        .iter()
        .filter(|f| f.severity.is_problem())
        .map(|f| (f.severity, f.summary.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_installation_has_no_finding_and_no_note_claiming_a_problem() {
    tokio::time::timeout(DEADLINE, async {
        let lab = KubeLab::start().await;
        install(&lab, &HEALTHY).await;
        let h = cert_manager_health(&lab.client("reader"), Timestamp::now()).await;
        assert_eq!(h.state, HealthState::Healthy, "{h:#?}");
        assert!(h.findings.is_empty(), "{:?}", h.findings);
        assert_eq!(h.version.as_deref(), Some("v1.16.2"));
        assert_eq!(h.namespace.as_deref(), Some("cert-manager"));
        assert!(h.components.iter().all(|c| c.found && c.ready == Some(1)));
        let lease = &h.leases[0];
        assert_eq!(lease.name, "cert-manager-controller");
        assert!(lease.found && !lease.stale);
        assert_eq!(
            lease.holder.as_deref(),
            Some("cert-manager-6f7b8c9d4-x2x9q_1c2e")
        );
        assert_eq!(h.webhook_configurations.len(), 2);
        assert!(h.webhook_configurations.iter().all(|w| w.ca_bundle_present));
        assert_eq!(
            h.webhook_service.as_ref().and_then(|s| s.ready_endpoints),
            Some(1)
        );
        // The reader role as shipped reads everything: the only note is the one check certdx
        // never makes (it would need Secrets).
        assert_eq!(h.notes.len(), 1, "{:?}", h.notes);
        assert!(h.notes[0].contains("not compared"), "{:?}", h.notes);
        assert!(h.verdict().contains("is healthy"), "{}", h.verdict());
    })
    .await
    .expect("within the deadline");
}

/// Runs the binary without blocking the runtime (it talks to the lab the runtime serves).
async fn certdx(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_certdx"))
            .args(&args)
            .env_remove("KUBECONFIG")
            .output()
            .expect("certdx runs")
    })
    .await
    .expect("join")
}

fn json_of(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "not one JSON document ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_controller_is_the_root_cause_of_what_it_blocks_and_said_once() {
    tokio::time::timeout(DEADLINE, async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("shop").await;
        // A Certificate cert-manager never acted on, and one with its own cause.
        let stuck = r#"apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: le}
spec: {acme: {server: "https://acme.example/directory", privateKeySecretRef: {name: le-key}, solvers: [{http01: {ingress: {}}}]}}
status: {conditions: [{type: Ready, status: "True", reason: ACMEAccountRegistered}]}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: www}
spec: {secretName: www-tls, dnsNames: [www.example.com], issuerRef: {name: le, kind: Issuer}}
"#;
        lab.load_fixture(&ns, stuck).await;
        let limited = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rate-limited.yaml"),
        )
        .expect("fixture");
        lab.load_fixture(&ns, &limited).await;
        install(
            &lab,
            &Install {
                controller_ready: 0,
                ..HEALTHY
            },
        )
        .await;
        // An hour on: the Certificate has had no status far longer than a reconcile takes.
        let later = (Timestamp::now() + SignedDuration::from_hours(1)).to_string();
        let kubeconfig = lab.kubeconfig_path().display().to_string();
        let run = |format: &str| {
            certdx(
                [
                    "report", "--kubeconfig", &kubeconfig, "--context", "reader", "-n", &ns,
                    "--offline", "--now", &later, "--format", format,
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            )
        };
        let out = run("json").await;
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        let v = json_of(&out);
        let cm = &v["cert_manager"];
        assert_eq!(cm["state"], "unhealthy", "{cm:#}");
        assert_eq!(cm["version"], "v1.16.2");
        let headline = &cm["findings"][0];
        assert_eq!(headline["code"], "cert-manager-unhealthy");
        assert_eq!(headline["severity"], "fatal");
        let summary = headline["summary"].as_str().unwrap_or_default();
        for part in ["controller", "0 of 1", "CrashLoopBackOff", "6 restarts", "Error (exit code 1)"] {
            assert!(summary.contains(part), "{part:?} missing from {summary}");
        }
        let controller = &cm["components"][0];
        assert_eq!(controller["component"], "controller");
        assert_eq!(controller["ready"], 0);
        assert_eq!(controller["pods"][0]["waiting"], "CrashLoopBackOff");
        assert_eq!(controller["pods"][0]["restarts"], 6);
        // Documented fields are present even when empty or unknown.
        for key in [
            "state", "namespace", "version", "components", "leases", "webhook_configurations",
            "webhook_service", "blocked_certificates", "findings", "notes",
        ] {
            assert!(cm.get(key).is_some(), "cert_manager.{key} missing: {cm:#}");
        }
        let cause = |name: &str| {
            v["diagnoses"]
                .as_array()
                .expect("diagnoses")
                .iter()
                .find(|d| d["subject"]["name"] == name)
                .map(|d| d["root_cause"]["code"].as_str().unwrap_or("-").to_owned())
                .unwrap_or_else(|| panic!("no diagnosis of {name}"))
        };
        assert_eq!(cause("www"), "cert-manager-unhealthy");
        assert_ne!(cause("rl-dup"), "cert-manager-unhealthy", "its own cause stays");
        assert_eq!(cm["blocked_certificates"], 1);

        let md = run("markdown").await;
        let md = String::from_utf8_lossy(&md.stdout);
        let verdicts = md.matches("is unhealthy").count();
        assert_eq!(verdicts, 1, "said once in the header:\n{md}");
        assert!(md.contains("root cause of 1 Certificate"), "{md}");
        let html = run("html").await;
        assert!(String::from_utf8_lossy(&html.stdout).contains("is unhealthy"));
    })
    .await
    .expect("within the deadline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_leader_lease_is_fatal() {
    tokio::time::timeout(DEADLINE, async {
        let lab = KubeLab::start().await;
        install(
            &lab,
            &Install {
                lease_age: SignedDuration::from_mins(20),
                ..HEALTHY
            },
        )
        .await;
        let h = cert_manager_health(&lab.client("reader"), Timestamp::now()).await;
        let p = problems(&h);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, Severity::Fatal);
        assert!(
            p[0].1.contains("kube-system/cert-manager-controller"),
            "{}",
            p[0].1
        );
        assert!(p[0].1.contains("no controller is acting"), "{}", p[0].1);
        assert!(h.leases[0].stale);
        assert!(h.blocks_issuance());
    })
    .await
    .expect("within the deadline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_ca_bundle_and_a_webhook_without_endpoints_are_each_named() {
    tokio::time::timeout(DEADLINE, async {
        let lab = KubeLab::start().await;
        install(
            &lab,
            &Install {
                ca_bundle: false,
                ..HEALTHY
            },
        )
        .await;
        let reader = lab.client("reader");
        let h = cert_manager_health(&reader, Timestamp::now()).await;
        let p = problems(&h);
        assert_eq!(p.len(), 2, "one per configuration: {p:?}");
        for (severity, summary) in &p {
            assert_eq!(*severity, Severity::Fatal);
            assert!(summary.contains("has no CA bundle"), "{summary}");
            assert!(summary.contains("cert-manager/cert-manager-webhook-ca"), "{summary}");
        }

        // The bundle injected, then the webhook's only endpoint not ready.
        let bundle = ca_bundle();
        let configs: Api<ValidatingWebhookConfiguration> = Api::all(lab.admin());
        let mut c = configs.get("cert-manager-webhook").await.expect("config");
        for w in c.webhooks.iter_mut().flatten() {
            w.client_config.ca_bundle = Some(k8s_openapi::ByteString(
                base64::engine::general_purpose::STANDARD.decode(&bundle).expect("b64"),
            ));
        }
        configs
            .replace("cert-manager-webhook", &PostParams::default(), &c)
            .await
            .expect("inject");
        let mutating: Api<k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration> =
            Api::all(lab.admin());
        let patch = json!({"webhooks": [{"name": "webhook.cert-manager.io", "clientConfig": {"caBundle": bundle}}]});
        mutating
            .patch("cert-manager-webhook", &PatchParams::default(), &Patch::Strategic(patch))
            .await
            .expect("inject");
        let endpoints: Api<Endpoints> = Api::namespaced(lab.admin(), "cert-manager");
        let patch = json!({"subsets": [{"notReadyAddresses": [{"ip": "10.42.0.9"}], "ports": [{"name": "https", "port": 10250}]}]});
        endpoints
            .patch("cert-manager-webhook", &PatchParams::default(), &Patch::Merge(patch))
            .await
            .expect("endpoints");
        let h = cert_manager_health(&reader, Timestamp::now()).await;
        let p = problems(&h);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, Severity::Fatal);
        assert!(
            p[0].1.contains("Service cert-manager/cert-manager-webhook has no ready endpoints"),
            "{}",
            p[0].1
        );
        assert_eq!(
            h.webhook_service.as_ref().and_then(|s| s.ready_endpoints),
            Some(0)
        );
    })
    .await
    .expect("within the deadline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_new_rules_certdx_says_what_it_could_not_check() {
    tokio::time::timeout(DEADLINE, async {
        let lab = KubeLab::start().await;
        install(
            &lab,
            &Install {
                controller_ready: 0,
                ..HEALTHY
            },
        )
        .await;
        // The reader role as it was before: everything but the new rules, bound to `nobody`.
        let roles: Api<ClusterRole> = Api::all(lab.admin());
        let mut old = roles.get("certdx-reader").await.expect("shipped role");
        let new_groups = ["apps", "coordination.k8s.io", "admissionregistration.k8s.io"];
        let before = old.rules.as_ref().map_or(0, Vec::len);
        old.rules.as_mut().expect("rules").retain(|r| {
            !r.api_groups
                .iter()
                .flatten()
                .any(|g| new_groups.contains(&g.as_str()))
        });
        assert_eq!(before - old.rules.as_ref().map_or(0, Vec::len), 3, "the three new rules");
        old.metadata = kube::core::ObjectMeta {
            name: Some("certdx-reader-before".to_owned()),
            ..Default::default()
        };
        roles.create(&PostParams::default(), &old).await.expect("old role");
        let bindings: Api<ClusterRoleBinding> = Api::all(lab.admin());
        let binding: ClusterRoleBinding = serde_json::from_value(json!({
            "metadata": {"name": "certdx-reader-before"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "certdx-reader-before"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "nobody"}]
        }))
        .expect("binding");
        bindings.create(&PostParams::default(), &binding).await.expect("binding");

        let h = cert_manager_health(&lab.client("nobody"), Timestamp::now()).await;
        assert!(h.findings.is_empty(), "nothing proven, nothing claimed: {:?}", h.findings);
        assert_eq!(h.state, HealthState::Unknown);
        let notes = h.notes.join("\n");
        for what in [
            "could not list deployments.apps: forbidden",
            "could not list validatingwebhookconfigurations.admissionregistration.k8s.io: forbidden",
            "could not list mutatingwebhookconfigurations.admissionregistration.k8s.io: forbidden",
        ] {
            assert!(notes.contains(what), "{what:?} not in:\n{notes}");
        }
        assert!(h.verdict().contains("health unknown"), "{}", h.verdict());
        // The shipped role reads the same installation and finds the crash.
        let h = cert_manager_health(&lab.client("reader"), Timestamp::now()).await;
        assert_eq!(h.headline().map(|f| f.code), Some(Code::CertManagerUnhealthy));
    })
    .await
    .expect("within the deadline");
}
