//! A synthetic estate of any size, in the YAML shape `kubectl get -o yaml` writes: for
//! benchmarks and scale tests (thousands of Certificates with their whole chains). Test code
//! only: the library never needs it.

use std::fmt::Write;

/// What each generated Certificate looks like, cycling through a realistic mix.
const SCENARIOS: usize = 10;

/// Writes a `kind: List` with `certificates` Certificates, each with one CertificateRequest,
/// one Order and one Challenge (4 objects per Certificate). Seven in ten are healthy; the rest
/// cycle through an HTTP-01 404, a DNS-01 not propagated and a duplicate-certificate rate limit.
pub fn estate_yaml(certificates: usize) -> String {
    let mut s = String::with_capacity(certificates * 7000);
    s.push_str("apiVersion: v1\nkind: List\nitems:\n");
    s.push_str(CLUSTER_ISSUER);
    for i in 0..certificates {
        let ns = format!("team-{:03}", i % 200);
        let name = format!("svc-{i:05}");
        let host = format!("svc-{i:05}.team-{:03}.example.com", i % 200);
        let scenario = i % SCENARIOS;
        let uid = |n: u8| format!("00000000-0000-4000-8000-{i:010}{n:02}");
        let (ready, cr_ready, order_state, ch_state, ch_reason, order_reason) = match scenario {
            0 => (
                false,
                false,
                "pending",
                "pending",
                "Waiting for HTTP-01 challenge propagation: wrong status code '404', expected '200'",
                "",
            ),
            1 => (
                false,
                false,
                "pending",
                "pending",
                "Waiting for DNS-01 challenge propagation: DNS record for \\\"HOST\\\" not yet propagated",
                "",
            ),
            2 => (
                false,
                false,
                "errored",
                "",
                "",
                "Failed to create Order: 429 urn:ietf:params:acme:error:rateLimited: too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, retry after 2026-01-17 09:14:02 UTC: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-identifiers",
            ),
            _ => (true, true, "valid", "valid", "", ""),
        };
        let ch_type = if scenario == 1 { "DNS-01" } else { "HTTP-01" };
        let ch_reason = ch_reason.replace("HOST", &host);
        let (ready_status, ready_reason, ready_msg) = if ready {
            (
                "True",
                "Ready",
                "Certificate is up to date and has not expired",
            )
        } else {
            (
                "False",
                "DoesNotExist",
                "Issuing certificate as Secret does not exist",
            )
        };
        let _ = write!(
            s,
            r#"- apiVersion: cert-manager.io/v1
  kind: Certificate
  metadata:
    name: {name}
    namespace: {ns}
    uid: {cert_uid}
    resourceVersion: "{rv}"
    generation: 1
    creationTimestamp: "2026-01-14T10:00:00Z"
    labels:
      app.kubernetes.io/name: {name}
      app.kubernetes.io/managed-by: Helm
  spec:
    secretName: {name}-tls
    dnsNames:
    - {host}
    issuerRef:
      name: letsencrypt-prod
      kind: ClusterIssuer
      group: cert-manager.io
    privateKey:
      algorithm: ECDSA
      size: 256
      rotationPolicy: Always
  status:
    conditions:
    - type: Ready
      status: "{ready_status}"
      reason: {ready_reason}
      message: {ready_msg}
      lastTransitionTime: "2026-01-14T10:00:40Z"
      observedGeneration: 1
    notAfter: "2026-04-14T09:00:39Z"
    notBefore: "2026-01-14T09:00:40Z"
    renewalTime: "2026-03-15T09:00:39Z"
    revision: 1
- apiVersion: cert-manager.io/v1
  kind: CertificateRequest
  metadata:
    name: {name}-1
    namespace: {ns}
    uid: {cr_uid}
    resourceVersion: "{rv}"
    generation: 1
    creationTimestamp: "2026-01-14T10:00:01Z"
    annotations:
      cert-manager.io/certificate-name: {name}
      cert-manager.io/certificate-revision: "1"
      cert-manager.io/private-key-secret-name: {name}-abcde
    ownerReferences:
    - apiVersion: cert-manager.io/v1
      kind: Certificate
      name: {name}
      uid: {cert_uid}
      controller: true
      blockOwnerDeletion: true
  spec:
    request: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUlJQmZ6Q0NBU1FDQVFBd0FEQlpNQk1HQnlxR1NNNDlBZ0VHQ0NxR1NNNDlBd0VIQTBJQUJQVEFTVA==
    issuerRef:
      name: letsencrypt-prod
      kind: ClusterIssuer
      group: cert-manager.io
    usages:
    - digital signature
    - key encipherment
    username: system:serviceaccount:cert-manager:cert-manager
  status:
    conditions:
    - type: Approved
      status: "True"
      reason: cert-manager.io
      message: Certificate request has been approved by cert-manager.io
      lastTransitionTime: "2026-01-14T10:00:01Z"
    - type: Ready
      status: "{cr_status}"
      reason: {cr_reason}
      message: {cr_msg}
      lastTransitionTime: "2026-01-14T10:00:40Z"
- apiVersion: acme.cert-manager.io/v1
  kind: Order
  metadata:
    name: {name}-1-{hash}
    namespace: {ns}
    uid: {order_uid}
    resourceVersion: "{rv}"
    generation: 1
    creationTimestamp: "2026-01-14T10:00:02Z"
    ownerReferences:
    - apiVersion: cert-manager.io/v1
      kind: CertificateRequest
      name: {name}-1
      uid: {cr_uid}
      controller: true
      blockOwnerDeletion: true
  spec:
    request: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUlJQmZ6Q0NBU1FDQVFBd0FEQlpNQk1HQnlxR1NNNDlBZ0VHQ0NxR1NNNDlBd0VIQTBJQUJQVEFTVA==
    issuerRef:
      name: letsencrypt-prod
      kind: ClusterIssuer
      group: cert-manager.io
    dnsNames:
    - {host}
  status:
    url: https://acme-v02.api.letsencrypt.org/acme/order/1234567890/{i}
    finalizeURL: https://acme-v02.api.letsencrypt.org/acme/finalize/1234567890/{i}
    state: {order_state}
    reason: "{order_reason}"
    authorizations:
    - url: https://acme-v02.api.letsencrypt.org/acme/authz-v3/{i}
      identifier: {host}
      initialState: pending
      wildcard: false
      challenges:
      - type: http-01
        url: https://acme-v02.api.letsencrypt.org/acme/chall-v3/{i}/http
        token: tok{i:040}
      - type: dns-01
        url: https://acme-v02.api.letsencrypt.org/acme/chall-v3/{i}/dns
        token: tok{i:040}
- apiVersion: acme.cert-manager.io/v1
  kind: Challenge
  metadata:
    name: {name}-1-{hash}-{hash2}
    namespace: {ns}
    uid: {ch_uid}
    resourceVersion: "{rv}"
    generation: 1
    creationTimestamp: "2026-01-14T10:00:03Z"
    finalizers:
    - finalizer.acme.cert-manager.io
    ownerReferences:
    - apiVersion: acme.cert-manager.io/v1
      kind: Order
      name: {name}-1-{hash}
      uid: {order_uid}
      controller: true
      blockOwnerDeletion: true
  spec:
    authorizationURL: https://acme-v02.api.letsencrypt.org/acme/authz-v3/{i}
    dnsName: {host}
    issuerRef:
      name: letsencrypt-prod
      kind: ClusterIssuer
      group: cert-manager.io
    key: tok{i:040}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI
    solver:
      http01:
        ingress:
          ingressClassName: nginx
    token: tok{i:040}
    type: {ch_type}
    url: https://acme-v02.api.letsencrypt.org/acme/chall-v3/{i}/http
    wildcard: false
  status:
    presented: {presented}
    processing: {processing}
    reason: "{ch_reason}"
    state: "{ch_state}"
"#,
            cert_uid = uid(1),
            cr_uid = uid(2),
            order_uid = uid(3),
            ch_uid = uid(4),
            rv = 100_000 + i,
            hash = 1_000_000_000 + i,
            hash2 = 2_000_000_000 + i,
            cr_status = if cr_ready { "True" } else { "False" },
            cr_reason = if cr_ready { "Issued" } else { "Pending" },
            cr_msg = if cr_ready {
                "Certificate fetched from issuer successfully"
            } else {
                "Waiting on certificate issuance from order"
            },
            presented = !ready && scenario != 2,
            processing = !ready && scenario != 2,
        );
    }
    s
}

const CLUSTER_ISSUER: &str = r#"- apiVersion: cert-manager.io/v1
  kind: ClusterIssuer
  metadata:
    name: letsencrypt-prod
    uid: 00000000-0000-4000-8000-00000000ffff
  spec:
    acme:
      server: https://acme-v02.api.letsencrypt.org/directory
      privateKeySecretRef:
        name: letsencrypt-prod
      solvers:
      - http01:
          ingress:
            ingressClassName: nginx
  status:
    conditions:
    - type: Ready
      status: "True"
      reason: ACMEAccountRegistered
      message: The ACME account was registered with the ACME server
"#;
