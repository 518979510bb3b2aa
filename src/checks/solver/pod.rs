//! The solver Pod: does it exist, is it scheduled, running and ready.

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::Ctx;
use crate::model::{Code, Evidence, Finding, Severity};

const ADVICE_MISSING: &str = "cert-manager creates the solver Pod when it presents the Challenge: read its log lines about this Challenge (admission webhooks, ResourceQuota or Pod Security admission often refuse the Pod), and check the Issuer's podTemplate.";
const ADVICE_UNSCHEDULABLE: &str = "Make room or relax the constraint the scheduler names (resources, nodeSelector kubernetes.io/os=linux, taints: add tolerations through the Issuer's http01 podTemplate).";
const ADVICE_NOT_READY: &str = "Fix what keeps the acmesolver container from running (image pull access to the solver image, --acme-http01-solver-image, securityContext/runAsNonRoot); `kubectl describe pod` shows the events.";

/// Findings about the Challenge's solver Pods (already filtered to the Challenge's own).
pub(super) fn check_pods(ctx: &Ctx<'_>, pods: &[&Pod]) -> Vec<Finding> {
    if pods.is_empty() {
        let f = ctx
            .finding(
                Code::Http01SolverBlocked,
                Severity::Error,
                format!(
                    "no solver Pod for {} although cert-manager is presenting it",
                    ctx.subject
                ),
                format!(
                    "No Pod in namespace {} carries the labels {} with an owner reference to the Challenge.",
                    ctx.namespace,
                    super::solver_selector(ctx.challenge)
                ),
                ADVICE_MISSING,
            )
            .with_evidence(Ctx::fact(ctx.subject.clone(), "no solver Pod found"));
        return vec![f];
    }
    // cert-manager replaces a broken solver Pod; one ready Pod is enough to serve.
    if pods.iter().any(|p| is_ready(p)) {
        return Vec::new();
    }
    pods.iter().map(|p| not_ready(ctx, p)).collect()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn not_ready(ctx: &Ctx<'_>, pod: &Pod) -> Finding {
    let name = ctx.name_of("Pod", &pod.name_any());
    let status = pod.status.clone().unwrap_or_default();
    let phase = status.phase.as_deref().unwrap_or("Pending");
    let restarts: i32 = status
        .container_statuses
        .iter()
        .flatten()
        .map(|c| c.restart_count)
        .sum();
    let mut evidence = vec![Ctx::fact(
        name.clone(),
        format!("phase {phase}, {restarts} restarts"),
    )];

    let unschedulable = status.conditions.iter().flatten().find(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
    });
    if let Some(c) = unschedulable {
        let message = c.message.clone().unwrap_or_default();
        evidence.push(Evidence::Text {
            source: format!("{name} condition PodScheduled"),
            text: message.clone(),
            at: c.last_transition_time.as_ref().map(|t| t.0),
        });
        let f = ctx.finding(
            Code::Http01SolverBlocked,
            Severity::Error,
            format!(
                "solver {name} cannot be scheduled: {}",
                first_line(&message)
            ),
            format!("The scheduler reports the Pod Unschedulable: {message}"),
            ADVICE_UNSCHEDULABLE,
        );
        return with_all(f, evidence);
    }

    // The most telling container state: waiting (why), else terminated (how).
    let mut state = None;
    for c in status.container_statuses.iter().flatten() {
        let st = c.state.clone().unwrap_or_default();
        if let Some(w) = st.waiting.filter(|w| w.reason.is_some()) {
            let reason = w.reason.unwrap_or_default();
            if let Some(m) = w.message.filter(|m| !m.is_empty()) {
                evidence.push(Evidence::Text {
                    source: format!("{name} container {} waiting", c.name),
                    text: m,
                    at: None,
                });
            }
            state = Some(format!("container {} waiting ({reason})", c.name));
            break;
        }
        if let Some(t) = st.terminated {
            let reason = t.reason.unwrap_or_else(|| "terminated".to_owned());
            state = Some(format!(
                "container {} terminated ({reason}, exit code {})",
                c.name, t.exit_code
            ));
        } else if !c.ready && state.is_none() {
            state = Some(format!("container {} not ready", c.name));
        }
    }
    let deleting = if pod.metadata.deletion_timestamp.is_some() {
        ", being deleted"
    } else {
        ""
    };
    let how = match (phase, state) {
        ("Pending", None) => "is Pending: no node has started it".to_owned(),
        (p @ ("Running" | "Pending"), Some(s)) => format!("is {p} but not Ready: {s}"),
        ("Running", None) => "is Running but not Ready".to_owned(),
        (p, Some(s)) => format!("has ended ({p}): {s}"),
        (p, None) => format!("is {p}, not Ready"),
    };
    let summary = format!("solver {name} {how}, {restarts} restarts{deleting}");
    let detail = format!(
        "The solver Pod of {} must be Ready for its Service to have endpoints; until then every request for {} gets 502/503 from the ingress.",
        ctx.subject, ctx.path
    );
    with_all(
        ctx.finding(
            Code::Http01SolverBlocked,
            Severity::Error,
            summary,
            detail,
            ADVICE_NOT_READY,
        ),
        evidence,
    )
}

fn with_all(mut f: Finding, evidence: Vec<Evidence>) -> Finding {
    f.evidence.extend(evidence);
    f
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use serde_json::json;

    fn run(pods: &[Pod]) -> Vec<Finding> {
        let ch = challenge();
        let ctx = Ctx::new(&ch);
        let refs: Vec<&Pod> = pods.iter().collect();
        check_pods(&ctx, &refs)
    }

    #[test]
    fn a_ready_pod_is_fine() {
        assert!(run(&[ready_pod()]).is_empty());
        // A broken replacement next to a ready Pod is not reported.
        assert!(
            run(&[
                ready_pod(),
                with_status(ready_pod(), json!({"phase": "Pending"}))
            ])
            .is_empty()
        );
    }

    #[test]
    fn no_pod() {
        let f = run(&[]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, Code::Http01SolverBlocked);
        assert!(
            f[0].summary
                .starts_with("no solver Pod for Challenge shop/www-example-com-1-2-3"),
            "{}",
            f[0].summary
        );
        assert!(
            f[0].detail
                .contains("acme.cert-manager.io/http01-solver=true")
        );
    }

    #[test]
    fn image_pull_backoff_is_named_with_restarts() {
        let pod = with_status(
            ready_pod(),
            json!({
                "phase": "Pending",
                "containerStatuses": [{
                    "name": "acmesolver", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
                    "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"quay.io/jetstack/cert-manager-acmesolver:v1.99\""}}
                }]
            }),
        );
        let f = run(&[pod]);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].summary,
            "solver Pod shop/cm-acme-http-solver-abcde is Pending but not Ready: container acmesolver waiting (ImagePullBackOff), 0 restarts"
        );
        assert!(f[0].evidence.iter().any(
            |e| matches!(e, Evidence::Text { text, .. } if text.contains("Back-off pulling"))
        ));
    }

    #[test]
    fn crash_loop_counts_restarts() {
        let pod = with_status(
            ready_pod(),
            json!({
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [{
                    "name": "acmesolver", "ready": false, "restartCount": 7, "image": "x", "imageID": "",
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}}
                }]
            }),
        );
        let f = run(&[pod]);
        assert!(f[0].summary.contains("is Running but not Ready: container acmesolver waiting (CrashLoopBackOff), 7 restarts"), "{}", f[0].summary);
    }

    #[test]
    fn unschedulable_quotes_the_scheduler() {
        let pod = with_status(
            ready_pod(),
            json!({
                "phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: infra}."}]
            }),
        );
        let f = run(&[pod]);
        assert_eq!(
            f[0].summary,
            "solver Pod shop/cm-acme-http-solver-abcde cannot be scheduled: 0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: infra}."
        );
        assert_eq!(f[0].advice, ADVICE_UNSCHEDULABLE);
    }

    #[test]
    fn pending_without_status_and_ended_pods() {
        let f = run(&[with_status(ready_pod(), json!({}))]);
        assert!(
            f[0].summary
                .ends_with("is Pending: no node has started it, 0 restarts"),
            "{}",
            f[0].summary
        );
        let pod = with_status(
            ready_pod(),
            json!({
                "phase": "Failed",
                "containerStatuses": [{
                    "name": "acmesolver", "ready": false, "restartCount": 1, "image": "x", "imageID": "",
                    "state": {"terminated": {"reason": "Error", "exitCode": 2}}
                }]
            }),
        );
        let f = run(&[pod]);
        assert!(f[0].summary.contains("has ended (Failed): container acmesolver terminated (Error, exit code 2), 1 restarts"), "{}", f[0].summary);
    }
}
