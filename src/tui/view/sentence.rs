//! Check results and evidence as sentences for the view: what was checked, how it went and
//! what was found, with the codes kept in parentheses so they can still be looked up. The
//! reports keep their own, terser forms; nothing here changes a finding or a report field.

use crate::checks::{CheckReport, CheckStatus};
use crate::model::{DnsEvidence, Finding};

/// What a check looks at, in words (`dns01` → "the TXT on every authoritative nameserver").
pub fn check_subject(name: &str) -> &str {
    match name {
        "name" => "the name (valid, resolves)",
        "http01" => "HTTP-01 on every address of the name",
        "dns01" => "the TXT on every authoritative nameserver",
        "caa" => "CAA for the CA",
        "resolver" => "the local resolver",
        other => other,
    }
}

/// `n thing` or `n things`.
pub fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// One check as a sentence: `the TXT on every authoritative nameserver failed in 12 ms:
/// 1 problem (dns01-txt-missing)`; `CAA for the CA passed in 4 ms (caa)`.
pub fn check_line(c: &CheckReport) -> String {
    let what = check_subject(&c.name);
    let how = match c.status {
        CheckStatus::Skipped => "was skipped".to_owned(),
        CheckStatus::Reachable => format!(
            "answered in {} ms, but the token was not compared",
            c.duration_ms
        ),
        s => format!("{} in {} ms", s.label(), c.duration_ms),
    };
    let problems: Vec<&Finding> = c
        .findings
        .iter()
        .filter(|f| f.severity.is_problem())
        .collect();
    if problems.is_empty() {
        return format!("{what} {how} ({})", c.name);
    }
    let mut codes: Vec<&str> = problems.iter().map(|f| f.code.as_str()).collect();
    codes.dedup();
    format!(
        "{what} {how}: {} ({})",
        count(problems.len(), "problem"),
        codes.join(", ")
    )
}

/// One DNS answer as a sentence: `ns1.example.com. (192.0.2.1:53) answered NOERROR with no
/// records for _acme-challenge.example.com. TXT (zone serial 7, 3 ms)`.
pub fn dns_answer(d: &DnsEvidence) -> String {
    let who = match d.address {
        Some(a) => format!("{} ({a})", d.server),
        None => d.server.clone(),
    };
    let mut notes = Vec::new();
    if let Some(s) = d.soa_serial {
        notes.push(format!("zone serial {s}"));
    }
    notes.push(format!("{} ms", d.elapsed_ms));
    let notes = notes.join(", ");
    match (&d.rcode, &d.error) {
        (Some(rcode), _) => {
            let what = match d.answers.len() {
                0 => "no records".to_owned(),
                _ => d.answers.join(", "),
            };
            format!(
                "{who} answered {rcode} with {what} for {} ({notes})",
                d.question
            )
        }
        (None, Some(e)) => format!("{who} gave no answer for {}: {e} ({notes})", d.question),
        (None, None) => format!("{who} gave no answer for {} ({notes})", d.question),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Code;

    #[test]
    fn a_failed_multi_server_check_reads_as_a_sentence() {
        let f = Finding::new(
            Code::Dns01TxtMissing,
            "1 of 2 nameservers has no TXT at _acme-challenge.example.com.",
        );
        let c = CheckReport::from_findings(
            "dns01",
            "example.com",
            std::time::Duration::from_millis(12),
            vec![f],
        );
        assert_eq!(
            check_line(&c),
            "the TXT on every authoritative nameserver failed in 12 ms: 1 problem (dns01-txt-missing)"
        );
        let ok = CheckReport::from_findings(
            "caa",
            "example.com",
            std::time::Duration::from_millis(4),
            Vec::new(),
        );
        assert_eq!(check_line(&ok), "CAA for the CA passed in 4 ms (caa)");
    }

    #[test]
    fn a_dns_answer_says_who_answered_what() {
        let d = DnsEvidence {
            server: "ns2.example.com.".into(),
            address: Some("127.0.0.2:53".parse().unwrap()),
            question: "_acme-challenge.example.com. TXT".into(),
            rcode: Some("NOERROR".into()),
            soa_serial: Some(7),
            elapsed_ms: 3,
            ..Default::default()
        };
        assert_eq!(
            dns_answer(&d),
            "ns2.example.com. (127.0.0.2:53) answered NOERROR with no records for \
             _acme-challenge.example.com. TXT (zone serial 7, 3 ms)"
        );
        let timeout = DnsEvidence {
            rcode: None,
            error: Some("timed out".into()),
            soa_serial: None,
            ..d
        };
        assert!(dns_answer(&timeout).contains("gave no answer for"));
    }
}
