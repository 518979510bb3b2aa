//! The HTTP-01 solver's cluster side against a real kube-apiserver: certdx reads the solver
//! objects cert-manager would have created (here: created by the test, with their status set
//! through the status subresource, since no kubelet or controllers run) and names what keeps
//! the CA from reaching the solver. RBAC denials become notes, never failures.

#[path = "common/kube_lab.rs"]
mod kube_lab;

use std::net::IpAddr;
use std::time::Duration;

use certdx::checks::solver::{SolverInput, SolverObjects, check_solver, solver_labels};
use certdx::diagnose::cluster::cluster_checks;
use certdx::model::{Challenge, Code, Finding, Severity};
use certdx::source::cluster::solver::fetch_solver_objects;
use kube::Api;
use kube_lab::KubeLab;

/// Bounds each test: a hung server must fail the test, not the CI job.
const DEADLINE: Duration = Duration::from_secs(240);

const CHALLENGE: &str = "www-example-com-1-2909436231-1340011591";
const DNS_NAME: &str = "www.example.com";
const TOKEN: &str = "nDAt9wZ3cq3u3Q1m0lQ6bF5pD8eXyT2rGkS0vH7aJ4w";
const SERVICE: &str = "cm-acme-http-solver-svc01";
const LB_IP: &str = "203.0.113.10";

/// The Challenge (HTTP-01, presented, ingress solver of class nginx).
fn challenge_yaml() -> String {
    format!(
        r#"
apiVersion: acme.cert-manager.io/v1
kind: Challenge
metadata:
  name: {CHALLENGE}
spec:
  url: https://acme.example/chall/1
  authorizationURL: https://acme.example/authz/1
  dnsName: {DNS_NAME}
  type: HTTP-01
  token: {TOKEN}
  key: {TOKEN}.thumbprint
  solver:
    http01:
      ingress:
        ingressClassName: nginx
  issuerRef: {{name: letsencrypt, kind: ClusterIssuer}}
status:
  processing: true
  presented: true
  state: pending
"#
    )
}

/// The solver labels and the owner reference, as YAML fragments.
fn meta(name: &str) -> String {
    let mut ch = Challenge::new(CHALLENGE, Default::default());
    ch.spec.dns_name = DNS_NAME.into();
    ch.spec.token = TOKEN.into();
    let labels: String = solver_labels(&ch)
        .iter()
        .map(|(k, v)| format!("    {k}: \"{v}\"\n"))
        .collect();
    format!(
        "metadata:\n  name: {name}\n  labels:\n{labels}  ownerReferences:\n  - {{apiVersion: acme.cert-manager.io/v1, kind: Challenge, name: {CHALLENGE}, uid: replaced-by-the-lab, controller: true, blockOwnerDeletion: true}}\n"
    )
}

fn selector() -> String {
    let mut ch = Challenge::new(CHALLENGE, Default::default());
    ch.spec.dns_name = DNS_NAME.into();
    ch.spec.token = TOKEN.into();
    solver_labels(&ch)
        .iter()
        .map(|(k, v)| format!("    {k}: \"{v}\"\n"))
        .collect()
}

/// The solver Pod; `status` is a YAML block (indented two spaces) or empty for none.
fn pod_yaml(status: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\n{}spec:\n  containers:\n  - name: acmesolver\n    image: quay.io/jetstack/cert-manager-acmesolver:v1.15.0\n    args: [--listen-port=8089]\n    ports:\n    - {{name: http, containerPort: 8089}}\n{status}",
        meta("cm-acme-http-solver-pod01")
    )
}

const READY_STATUS: &str = "status:\n  phase: Running\n  conditions:\n  - {type: Ready, status: \"True\"}\n  containerStatuses:\n  - {name: acmesolver, ready: true, restartCount: 0, image: x, imageID: \"\", state: {running: {}}}\n";

fn service_yaml() -> String {
    format!(
        "apiVersion: v1\nkind: Service\n{}spec:\n  type: NodePort\n  selector:\n{}  ports:\n  - {{name: http, port: 8089, targetPort: 8089}}\n",
        meta(SERVICE),
        selector()
    )
}

fn endpoints_yaml() -> String {
    format!(
        "apiVersion: v1\nkind: Endpoints\nmetadata:\n  name: {SERVICE}\nsubsets:\n- addresses: [{{ip: 10.42.0.7}}]\n  ports: [{{name: http, port: 8089}}]\n"
    )
}

/// The solver Ingress with `class` and extra `annotations` lines (indented four spaces).
fn ingress_yaml(class: &str, annotations: &str, status: &str) -> String {
    let meta = meta("cm-acme-http-solver-ing01").replace(
        "  labels:\n",
        &format!(
            "  annotations:\n    nginx.ingress.kubernetes.io/whitelist-source-range: \"0.0.0.0/0,::/0\"\n{annotations}  labels:\n"
        ),
    );
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\n{meta}spec:\n  ingressClassName: {class}\n  rules:\n  - host: {DNS_NAME}\n    http:\n      paths:\n      - path: /.well-known/acme-challenge/{TOKEN}\n        pathType: ImplementationSpecific\n        backend:\n          service: {{name: {SERVICE}, port: {{number: 8089}}}}\n{status}"
    )
}

const LB_STATUS: &str = "status:\n  loadBalancer:\n    ingress:\n    - ip: 203.0.113.10\n";

const INGRESS_CLASS: &str = "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: nginx\nspec:\n  controller: k8s.io/ingress-nginx\n";

const DENY_ALL: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny-all\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n";

fn docs(parts: &[String]) -> String {
    parts.join("\n---\n")
}

async fn challenge_in(lab: &KubeLab, ns: &str) -> Challenge {
    let api: Api<Challenge> = Api::namespaced(lab.admin(), ns);
    api.get(CHALLENGE).await.expect("the Challenge was created")
}

fn lb_address() -> Vec<IpAddr> {
    vec![LB_IP.parse().expect("valid address")]
}

fn summaries(findings: &[Finding]) -> Vec<String> {
    findings.iter().map(|f| f.summary.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_broken_solvers_are_named_from_the_api() {
    tokio::time::timeout(DEADLINE, async {
        let lab = KubeLab::start().await;
        let admin = lab.admin();
        lab.load_fixture("default", INGRESS_CLASS).await;

        // Nothing created for a Challenge being presented.
        let ns = lab.namespace("solver-none").await;
        lab.load_fixture(&ns, &challenge_yaml()).await;
        let ch = challenge_in(&lab, &ns).await;
        let objects = fetch_solver_objects(&admin, &ch).await.expect("read");
        assert!(objects.not_readable.is_empty(), "{:?}", objects.not_readable);
        let f = check_solver(&SolverInput { challenge: &ch, objects: &objects, addresses: &lb_address() });
        assert_eq!(
            summaries(&f),
            [
                format!("no solver Pod for Challenge {ns}/{CHALLENGE} although cert-manager is presenting it"),
                format!("no solver Service for Challenge {ns}/{CHALLENGE}"),
                format!("no solver Ingress for Challenge {ns}/{CHALLENGE}"),
            ]
        );

        // Pod Pending (no kubelet), Service without Endpoints, Ingress with a forced HTTPS
        // redirect and the wrong class.
        let ns = lab.namespace("solver-broken").await;
        let fixture = docs(&[
            challenge_yaml(),
            pod_yaml(""),
            service_yaml(),
            ingress_yaml(
                "traefik",
                "    nginx.ingress.kubernetes.io/force-ssl-redirect: \"true\"\n",
                "",
            ),
        ]);
        assert_eq!(lab.load_fixture(&ns, &fixture).await, 4);
        let ch = challenge_in(&lab, &ns).await;
        let objects = fetch_solver_objects(&admin, &ch).await.expect("read");
        assert_eq!(objects.pods.as_ref().map(Vec::len), Some(1));
        assert_eq!(objects.endpoints.as_ref().map(Vec::len), Some(0));
        assert_eq!(objects.ingress_classes.as_ref().map(Vec::len), Some(1));
        let f = check_solver(&SolverInput { challenge: &ch, objects: &objects, addresses: &lb_address() });
        let pod = format!("Pod {ns}/cm-acme-http-solver-pod01");
        let svc = format!("Service {ns}/{SERVICE}");
        let ing = format!("Ingress {ns}/cm-acme-http-solver-ing01");
        assert_eq!(
            summaries(&f),
            [
                format!("solver {pod} is Pending: no node has started it, 0 restarts"),
                format!("solver {svc} has no Endpoints object: no ready solver Pod behind it"),
                format!("{ing} has class traefik (spec.ingressClassName) but the solver config asks for nginx (ingressClassName)"),
                format!("{ing} names ingress class traefik (spec.ingressClassName), but no IngressClass traefik exists"),
                format!("{ing} annotations force an HTTPS redirect on the challenge path: nginx.ingress.kubernetes.io/force-ssl-redirect: \"true\""),
                format!("cannot compare www.example.com's addresses with {ing}: no load-balancer address in its status"),
            ]
        );
        assert!(f[..5].iter().all(|f| f.code == Code::Http01SolverBlocked));
        assert_eq!(f[5].code, Code::Http01NotPointingToIngress);
        assert_eq!(f[5].severity, Severity::Info);
        let subject = format!("Challenge {ns}/{CHALLENGE}");
        assert!(
            f.iter()
                .all(|f| f.subject.as_ref().map(ToString::to_string) == Some(subject.clone()))
        );

        // The same through the playbook's entry point. Two controller Pods: one not yet on a
        // node (the API answers an empty log), one on a node that does not exist (the API
        // cannot reach a kubelet): no lines, one note, no failure.
        let cm = "cert-manager";
        lab.ensure_namespace(cm).await;
        let controller = |name: &str, node: &str| {
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app.kubernetes.io/name: cert-manager\n    app.kubernetes.io/component: controller\nspec:\n  {node}containers:\n  - {{name: cert-manager-controller, image: quay.io/jetstack/cert-manager-controller:v1.15.0}}\nstatus:\n  phase: Running\n"
            )
        };
        let fixture = docs(&[
            controller("cert-manager-6d4b8c7f9-aaaaa", ""),
            controller("cert-manager-6d4b8c7f9-bbbbb", "nodeName: gone\n  "),
        ]);
        assert_eq!(lab.load_fixture(cm, &fixture).await, 2);
        let side = cluster_checks(&admin, &ch, &lb_address()).await;
        assert_eq!(summaries(&side.findings), summaries(&f));
        assert!(side.log_lines.is_empty());
        assert_eq!(side.notes.len(), 1, "{:?}", side.notes);
        assert!(
            side.notes[0].starts_with("logs of Pod cert-manager/cert-manager-6d4b8c7f9-bbbbb not read: ")
                && side.notes[0].ends_with("not found (404)"),
            "{:?}",
            side.notes
        );

        // A NetworkPolicy that denies all ingress to the (otherwise healthy) solver Pod.
        let ns = lab.namespace("solver-netpol").await;
        let fixture = docs(&[
            challenge_yaml(),
            pod_yaml(READY_STATUS),
            service_yaml(),
            endpoints_yaml(),
            ingress_yaml("nginx", "", LB_STATUS),
            DENY_ALL.to_owned(),
        ]);
        assert_eq!(lab.load_fixture(&ns, &fixture).await, 6);
        let ch = challenge_in(&lab, &ns).await;
        let objects = fetch_solver_objects(&admin, &ch).await.expect("read");
        let f = check_solver(&SolverInput { challenge: &ch, objects: &objects, addresses: &lb_address() });
        assert_eq!(
            summaries(&f),
            [format!("NetworkPolicy {ns}/deny-all selects solver Pod {ns}/cm-acme-http-solver-pod01 and admits no traffic to TCP 8089 (http)")]
        );
        assert_eq!(f[0].severity, Severity::Error);
    })
    .await
    .expect("test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_solver_yields_nothing_and_denied_kinds_are_notes() {
    tokio::time::timeout(DEADLINE, async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("solver-healthy").await;
        let fixture = docs(&[
            INGRESS_CLASS.to_owned(),
            challenge_yaml(),
            pod_yaml(READY_STATUS),
            service_yaml(),
            endpoints_yaml(),
            ingress_yaml("nginx", "", LB_STATUS),
        ]);
        assert_eq!(lab.load_fixture(&ns, &fixture).await, 6);
        let ch = challenge_in(&lab, &ns).await;

        let objects = fetch_solver_objects(&lab.admin(), &ch).await.expect("read");
        assert!(objects.not_readable.is_empty(), "{:?}", objects.not_readable);
        for (kind, n) in [
            ("pods", objects.pods.as_ref().map(Vec::len)),
            ("services", objects.services.as_ref().map(Vec::len)),
            ("endpoints", objects.endpoints.as_ref().map(Vec::len)),
            ("ingresses", objects.ingresses.as_ref().map(Vec::len)),
            ("ingressclasses", objects.ingress_classes.as_ref().map(Vec::len)),
        ] {
            assert_eq!(n, Some(1), "{kind}");
        }
        assert_eq!(objects.network_policies.as_ref().map(Vec::len), Some(0));
        let f = check_solver(&SolverInput { challenge: &ch, objects: &objects, addresses: &lb_address() });
        assert!(f.is_empty(), "{f:#?}");
        // The DNS pointing elsewhere is the one thing wrong.
        let elsewhere: Vec<IpAddr> = vec!["198.51.100.7".parse().expect("valid")];
        let f = check_solver(&SolverInput { challenge: &ch, objects: &objects, addresses: &elsewhere });
        assert_eq!(
            summaries(&f),
            [format!("www.example.com resolves to 198.51.100.7, but Ingress {ns}/cm-acme-http-solver-ing01 is served at 203.0.113.10")]
        );

        // reader may read the namespace's objects but not IngressClasses.
        let objects = fetch_solver_objects(&lab.client("reader"), &ch).await.expect("read");
        assert_eq!(
            objects.not_readable,
            ["not readable: RBAC does not allow list ingressclasses.networking.k8s.io (cluster-wide)"]
        );
        assert_eq!(objects.ingress_classes, None);
        assert_eq!(objects.pods.as_ref().map(Vec::len), Some(1));
        let f = check_solver(&SolverInput { challenge: &ch, objects: &objects, addresses: &lb_address() });
        assert!(f.is_empty(), "{f:#?}");

        // nobody may read nothing: every kind is a note and nothing is concluded.
        let objects = fetch_solver_objects(&lab.client("nobody"), &ch).await.expect("read");
        assert_eq!(
            objects.not_readable,
            [
                format!("not readable: RBAC does not allow list pods in namespace {ns}"),
                format!("not readable: RBAC does not allow list services in namespace {ns}"),
                format!("not readable: RBAC does not allow list ingresses.networking.k8s.io in namespace {ns}"),
                format!("not readable: RBAC does not allow list networkpolicies.networking.k8s.io in namespace {ns}"),
                "not readable: RBAC does not allow list ingressclasses.networking.k8s.io (cluster-wide)".to_owned(),
            ]
        );
        let expected_empty = SolverObjects { not_readable: objects.not_readable.clone(), ..SolverObjects::default() };
        assert_eq!(objects, expected_empty);
        assert!(check_solver(&SolverInput { challenge: &ch, objects: &objects, addresses: &lb_address() }).is_empty());
        let side = cluster_checks(&lab.client("nobody"), &ch, &lb_address()).await;
        assert!(side.findings.is_empty());
        assert!(side.notes.iter().any(|n| n.contains("RBAC does not allow list pods in namespace cert-manager")), "{:?}", side.notes);
    })
    .await
    .expect("test finished in time");
}
