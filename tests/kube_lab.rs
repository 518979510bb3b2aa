//! Smoke test of the real-apiserver lab itself: if this fails, every live-cluster test would.

#[path = "common/kube_lab.rs"]
mod kube_lab;

use certdx::model::{Certificate, CertificateRequest, Order};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Resource as _, ResourceExt as _};
use kube_lab::KubeLab;

/// Bounds the whole test: a hung server must fail the test, not the CI job.
const TEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(180);

/// A Certificate with fields the model does not know, at several depths.
const EXTRA: &str = r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: extra
  namespace: anywhere
spec:
  secretName: extra-tls
  dnsNames: [extra.example.com]
  issuerRef: {name: letsencrypt-prod, kind: ClusterIssuer}
  additionalOutputFormats: [{type: CombinedPEM}]
status:
  vendorNote: kept by the schema
  conditions:
  - {type: Ready, status: "False", reason: Pending, message: waiting, vendorDetail: nested}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_starts_installs_crds_loads_fixtures_and_enforces_rbac() {
    tokio::time::timeout(TEST_DEADLINE, smoke())
        .await
        .expect("the lab smoke test finished in time");
}

async fn smoke() {
    let lab = KubeLab::start().await;
    let admin = lab.admin();

    // CRDs: all six, Established, each with the status subresource.
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    let list = crds.list(&ListParams::default()).await.expect("list CRDs");
    let mut names: Vec<String> = list.items.iter().map(|c| c.name_any()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "certificaterequests.cert-manager.io",
            "certificates.cert-manager.io",
            "challenges.acme.cert-manager.io",
            "clusterissuers.cert-manager.io",
            "issuers.cert-manager.io",
            "orders.acme.cert-manager.io",
        ]
    );
    for crd in &list.items {
        let established = crd
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
        assert!(established, "{} is not Established", crd.name_any());
        assert!(
            crd.spec.versions[0]
                .subresources
                .as_ref()
                .is_some_and(|s| s.status.is_some()),
            "{} has no status subresource",
            crd.name_any()
        );
    }

    // A fixture from another namespace lands in ours, status and owner uids intact.
    let ns = lab.namespace("smoke").await;
    let fixture = include_str!("fixtures/order-failed-no-reason.yaml");
    let created = lab.load_fixture(&ns, fixture).await;
    assert_eq!(
        created, 4,
        "ClusterIssuer, Certificate, CertificateRequest, Order"
    );
    assert_eq!(lab.load_fixture(&ns, EXTRA).await, 1);

    let certs: Api<Certificate> = Api::namespaced(admin.clone(), &ns);
    let ops = certs.get("ops").await.expect("Certificate ops");
    let status = ops.status.clone().expect("status set through /status");
    assert_eq!(status.conditions.len(), 2);
    let issuing = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Issuing")
        .expect("Issuing condition");
    assert_eq!(issuing.reason.as_deref(), Some("Failed"));
    assert_eq!(status.failed_issuance_attempts, Some(1));
    assert_eq!(
        issuing.last_transition_time.map(|t| t.to_string()),
        Some("2026-01-15T08:00:00Z".to_owned())
    );

    let requests: Api<CertificateRequest> = Api::namespaced(admin.clone(), &ns);
    let request = requests.get("ops-1").await.expect("CertificateRequest");
    let owner = &request.owner_references()[0];
    assert_eq!(
        Some(&owner.uid),
        ops.meta().uid.as_ref(),
        "owner uid rewritten"
    );
    let orders: Api<Order> = Api::namespaced(admin.clone(), &ns);
    let order = orders.get("ops-1-543219344").await.expect("Order");
    assert_eq!(
        order.status.and_then(|s| s.state).as_deref(),
        Some("invalid")
    );
    assert_eq!(
        order.metadata.owner_references.unwrap_or_default()[0].uid,
        request.metadata.uid.clone().unwrap_or_default()
    );

    // Fields the model does not know survive: spec, status, and inside a condition.
    let gvk = GroupVersionKind::gvk("cert-manager.io", "v1", "Certificate");
    let raw: Api<DynamicObject> =
        Api::namespaced_with(admin.clone(), &ns, &ApiResource::from_gvk(&gvk));
    let ops_raw = raw.get("ops").await.expect("raw Certificate");
    assert_eq!(ops_raw.data["spec"]["privateKey"]["algorithm"], "ECDSA");
    let extra = raw.get("extra").await.expect("raw extra Certificate");
    assert_eq!(extra.data["status"]["vendorNote"], "kept by the schema");
    assert_eq!(
        extra.data["status"]["conditions"][0]["vendorDetail"],
        "nested"
    );
    assert_eq!(
        extra.data["spec"]["additionalOutputFormats"][0]["type"],
        "CombinedPEM"
    );

    // RBAC: nobody may not list, reader may list but not delete.
    let nobody: Api<Certificate> = Api::namespaced(lab.client("nobody"), &ns);
    match nobody.list(&ListParams::default()).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 403, "{s:?}"),
        other => panic!("nobody listed certificates: {other:?}"),
    }
    let reader_orders: Api<Order> = Api::namespaced(lab.client("reader"), &ns);
    let listed = reader_orders
        .list(&ListParams::default())
        .await
        .expect("reader lists orders");
    assert_eq!(listed.items.len(), 1);
    match reader_orders
        .delete("ops-1-543219344", &DeleteParams::default())
        .await
    {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 403, "{s:?}"),
        other => panic!("reader deleted an order: {other:?}"),
    }
    assert!(
        orders
            .get_opt("ops-1-543219344")
            .await
            .expect("get")
            .is_some()
    );

    // The kubeconfig works the way certdx reads it.
    let via_kubeconfig = lab.client_from_kubeconfig("reader").await;
    let orders_again: Api<Order> = Api::namespaced(via_kubeconfig, &ns);
    assert_eq!(
        orders_again
            .list(&ListParams::default())
            .await
            .expect("reader via kubeconfig")
            .items
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_without_crds_has_no_cert_manager_api() {
    tokio::time::timeout(TEST_DEADLINE, async {
        let lab = KubeLab::start_without_crds().await;
        let ns = lab.namespace("bare").await;
        let certs: Api<Certificate> = Api::namespaced(lab.admin(), &ns);
        match certs.list(&ListParams::default()).await {
            Err(kube::Error::Api(s)) => assert_eq!(s.code, 404, "{s:?}"),
            other => panic!("certificates listed without CRDs: {other:?}"),
        }
    })
    .await
    .expect("finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apiserver_restarts_on_the_same_port_with_its_data() {
    tokio::time::timeout(TEST_DEADLINE, async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("restart").await;
        lab.load_fixture(&ns, include_str!("fixtures/order-failed-no-reason.yaml"))
            .await;
        let port = lab.port();
        lab.stop_apiserver();
        assert!(!lab.apiserver_running());
        let orders: Api<Order> = Api::namespaced(lab.admin(), &ns);
        assert!(orders.list(&ListParams::default()).await.is_err());
        lab.restart_apiserver().await;
        assert_eq!(lab.port(), port);
        let list = orders
            .list(&ListParams::default())
            .await
            .expect("list after restart");
        assert_eq!(list.items.len(), 1);
    })
    .await
    .expect("finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_loads_with_owner_and_event_uids_rewritten() {
    tokio::time::timeout(TEST_DEADLINE, async {
        let lab = KubeLab::start().await;
        let mut total = 0;
        for entry in std::fs::read_dir("tests/fixtures").expect("fixtures dir") {
            let path = entry.expect("dir entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("fixture text");
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("fixture")
                .to_owned();
            let prefix = lab.namespace(&stem).await;
            // Fixtures spanning namespaces keep them apart: NS-ORIGINAL.
            let expected = kube_lab::parse_fixture(&text).len();
            let loaded = lab
                .load_fixture_mapped(&text, |orig| format!("{prefix}-{orig}"))
                .await;
            assert_eq!(loaded, expected, "{}", path.display());
            total += loaded;
        }
        assert!(total > 300, "only {total} objects in the fixtures");

        // Events point at the uid of the object the server created.
        let ns = lab.namespace("events").await;
        lab.load_fixture(&ns, include_str!("fixtures/healthy.yaml"))
            .await;
        let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(lab.admin(), &ns);
        let list = events.list(&ListParams::default()).await.expect("events");
        assert_eq!(list.items.len(), 1);
        let certs: Api<Certificate> = Api::namespaced(lab.admin(), &ns);
        let www = certs.get("www").await.expect("www");
        assert_eq!(list.items[0].involved_object.uid, www.metadata.uid);
        assert_eq!(
            list.items[0].involved_object.namespace.as_deref(),
            Some(ns.as_str())
        );
    })
    .await
    .expect("finished in time");
}
