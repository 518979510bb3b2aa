//! The Certificate status `renew` writes: the `Issuing` condition set the way `cmctl renew`
//! sets it, everything else kept.

use serde_json::{Value, json};

use super::{MANUALLY_TRIGGERED, MANUALLY_TRIGGERED_MESSAGE};

/// The result of setting `Issuing=True` on a Certificate's status.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RenewedStatus {
    /// The whole new status (every other field as it was).
    pub(super) status: Value,
    /// The replaced Issuing condition, as `False (Failed)`, if there was one.
    pub(super) previous: Option<String>,
    /// How many other conditions were kept.
    pub(super) kept: usize,
}

/// Sets the `Issuing` condition as cmctl's `SetCertificateCondition` does: replaced in place
/// (or appended), lastTransitionTime now (the status changes), observedGeneration the
/// Certificate's generation; every other condition and status field untouched. `Err` when
/// the Certificate is already being issued or its status is malformed.
pub(super) fn renew_status(
    status: &Value,
    generation: Option<i64>,
    now: jiff::Timestamp,
) -> Result<RenewedStatus, String> {
    let mut status = match status {
        Value::Null => json!({}),
        Value::Object(_) => status.clone(),
        _ => return Err("has a status that is not an object: refusing to rewrite it".to_owned()),
    };
    let conditions = match status.get("conditions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list.clone(),
        Some(_) => {
            return Err("has status.conditions that is not a list: refusing to rewrite it".into());
        }
    };
    let is_issuing = |c: &Value| c.get("type").and_then(Value::as_str) == Some("Issuing");
    if let Some(current) = conditions.iter().find(|c| is_issuing(c))
        && current
            .get("status")
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("true"))
    {
        let reason = current
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("no reason");
        return Err(format!(
            "is already being issued (Issuing=True, reason {reason}): cert-manager is working on it, nothing to renew"
        ));
    }
    let mut issuing = json!({
        "type": "Issuing",
        "status": "True",
        "reason": MANUALLY_TRIGGERED,
        "message": MANUALLY_TRIGGERED_MESSAGE,
        "lastTransitionTime": round_seconds(now),
    });
    if let Some(g) = generation {
        issuing["observedGeneration"] = json!(g);
    }
    let mut previous = None;
    let mut kept = 0;
    let mut out = Vec::with_capacity(conditions.len() + 1);
    for c in conditions {
        if is_issuing(&c) {
            if previous.is_none() {
                let s = c.get("status").and_then(Value::as_str).unwrap_or("?");
                previous = Some(match c.get("reason").and_then(Value::as_str) {
                    Some(r) if !r.is_empty() => format!("{s} ({r})"),
                    _ => s.to_owned(),
                });
                out.push(issuing.clone());
            }
            // A second Issuing condition would be a malformed status; cmctl keeps one.
        } else {
            kept += 1;
            out.push(c);
        }
    }
    if previous.is_none() {
        out.push(issuing);
    }
    status["conditions"] = Value::Array(out);
    Ok(RenewedStatus {
        status,
        previous,
        kept,
    })
}

/// RFC 3339 with whole seconds, as metav1.Time is written.
pub(super) fn round_seconds(t: jiff::Timestamp) -> String {
    jiff::Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> jiff::Timestamp {
        "2026-02-01T10:20:30.456Z".parse().expect("timestamp")
    }

    #[test]
    fn renew_replaces_a_failed_issuing_condition_and_keeps_the_rest() {
        let status = json!({
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "DoesNotExist", "vendor": 1},
                {"type": "Issuing", "status": "False", "reason": "Failed",
                 "lastTransitionTime": "2026-01-15T08:00:00Z"}
            ],
            "failedIssuanceAttempts": 3,
            "unknownField": "kept"
        });
        let out = renew_status(&status, Some(4), at()).expect("renewable");
        assert_eq!(out.previous.as_deref(), Some("False (Failed)"));
        assert_eq!(out.kept, 1);
        assert_eq!(out.status["unknownField"], "kept");
        assert_eq!(out.status["failedIssuanceAttempts"], 3);
        let conditions = out.status["conditions"].as_array().expect("list");
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[0], status["conditions"][0]);
        assert_eq!(
            conditions[1],
            json!({
                "type": "Issuing", "status": "True", "reason": "ManuallyTriggered",
                "message": "Certificate re-issuance manually triggered",
                "lastTransitionTime": "2026-02-01T10:20:30Z", "observedGeneration": 4
            })
        );
    }

    #[test]
    fn renew_appends_issuing_when_absent_and_handles_missing_status() {
        let out = renew_status(&Value::Null, None, at()).expect("renewable");
        assert_eq!(out.previous, None);
        assert_eq!(out.kept, 0);
        let conditions = out.status["conditions"].as_array().expect("list");
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0]["type"], "Issuing");
        assert!(conditions[0].get("observedGeneration").is_none());
    }

    #[test]
    fn renew_refuses_a_certificate_already_issuing_and_malformed_status() {
        let status = json!({"conditions": [
            {"type": "Issuing", "status": "True", "reason": "DoesNotExist"}
        ]});
        let err = renew_status(&status, Some(1), at()).expect_err("already issuing");
        assert!(err.contains("already being issued"), "{err}");
        assert!(err.contains("DoesNotExist"), "{err}");
        let err = renew_status(&json!({"conditions": "x"}), None, at()).expect_err("malformed");
        assert!(err.contains("not a list"), "{err}");
        let err = renew_status(&json!([1]), None, at()).expect_err("malformed");
        assert!(err.contains("not an object"), "{err}");
    }
}
