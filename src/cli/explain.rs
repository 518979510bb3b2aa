//! `certdx explain TEXT`: classify an error message.

use std::io::Read;
use std::process::ExitCode;

use serde::Serialize;

use super::{CliError, EXIT_OK, EXIT_PROBLEMS, ExplainArgs, TextOrJson, write_output};
use crate::checks::explain::explain;
use crate::model::Finding;

#[derive(Serialize)]
struct ExplainOutput<'a> {
    schema_version: u32,
    input: &'a str,
    findings: &'a [Finding],
}

/// Runs `certdx explain`.
pub fn run(a: &ExplainArgs) -> Result<ExitCode, CliError> {
    let text = if a.text.len() == 1 && a.text[0] == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| {
            CliError::Usage(format!("cannot read the message from standard input: {e}"))
        })?;
        s
    } else {
        a.text.join(" ")
    };
    let text = crate::model::redact::redact(&text);
    let findings = explain(&text);
    let out = match a.format {
        TextOrJson::Json => {
            let doc = ExplainOutput {
                schema_version: crate::report::SCHEMA_VERSION,
                input: &text,
                findings: &findings,
            };
            serde_json::to_string_pretty(&doc).expect("serialisable") + "\n"
        }
        TextOrJson::Text => render_text(&findings),
    };
    write_output(None, &out)?;
    let problem = findings.iter().any(|f| f.severity.is_problem());
    Ok(ExitCode::from(if problem {
        EXIT_PROBLEMS
    } else {
        EXIT_OK
    }))
}

fn render_text(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "No known ACME or cert-manager problem recognised in this message.\n".to_owned();
    }
    let mut s = String::new();
    for f in findings {
        s.push_str(&format!("{} ({}): {}\n", f.code, f.severity, f.summary));
        if let Some(rl) = &f.rate_limit {
            if let Some(l) = &rl.limit {
                s.push_str(&format!("  limit:       {l}\n"));
            }
            if let Some(i) = &rl.identifier {
                s.push_str(&format!("  identifier:  {i}\n"));
            }
            if let Some(t) = rl.retry_after {
                let now = jiff::Timestamp::now();
                let when = if t > now {
                    format!(
                        "in {}",
                        crate::model::state::human_duration(t.duration_since(now))
                    )
                } else {
                    "already passed".to_owned()
                };
                s.push_str(&format!("  retry after: {t} ({when})\n"));
            }
        }
        if !f.detail.is_empty() {
            s.push_str(&format!("  detail:      {}\n", f.detail));
        }
        s.push_str(&format!("  advice:      {}\n", f.advice));
    }
    s
}
