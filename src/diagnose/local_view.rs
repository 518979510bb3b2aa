//! When this machine's view of a name contradicts what cert-manager observed. cert-manager's
//! self-check getting an HTTP answer (a 404, a wrong body) from a name, or reaching its zone's
//! nameservers, proves that the name resolves where cert-manager runs. A local "does not
//! exist" then says something about this machine's network (split DNS, a VPN, a filtering
//! resolver), not about the certificate: it must not become the root cause.

use crate::model::{Code, Finding, Severity};

/// Rewrites the local findings of one diagnosis that the cluster's findings contradict.
pub(super) fn reconcile(cluster: &[Finding], local: Vec<Finding>) -> Vec<Finding> {
    let Some(proof) = cluster.iter().find(|f| proves_resolution(f.code)) else {
        return local;
    };
    local
        .into_iter()
        .map(|f| {
            if !matches!(
                f.code,
                Code::DnsNxdomain | Code::DnsLookupFailed | Code::Http01NoAddress
            ) {
                return f;
            }
            let name = f.target.clone().unwrap_or_else(|| "the name".to_owned());
            let mut differs = Finding::new(
                Code::LocalViewDiffers,
                format!(
                    "This machine sees {name} differently from the cluster: here {}, while cert-manager reached it ({})",
                    lowercase_first(&f.summary),
                    proof.code
                ),
            )
            .with_detail(format!(
                "cluster: {}; here: {}",
                proof.summary, f.summary
            ));
            differs.severity = Severity::Warning;
            differs.target = f.target;
            differs.subject = f.subject;
            differs.evidence = f.evidence;
            differs
        })
        .collect()
}

/// Codes that say cert-manager got an answer from the name or its zone's nameservers.
fn proves_resolution(code: Code) -> bool {
    matches!(
        code,
        Code::SelfcheckHttp01WrongStatus
            | Code::SelfcheckHttp01WrongBody
            | Code::SelfcheckDns01NotPropagated
    )
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
