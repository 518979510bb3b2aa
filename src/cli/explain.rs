//! `certdx explain TEXT`: classify an error message.

use std::io::Read;
use std::process::ExitCode;

use serde::Serialize;

use super::{CliError, EXIT_OK, EXIT_PROBLEMS, ExplainArgs, TextOrJson, write_output};
use crate::checks::explain::{explain, normalise};
use crate::checks::text::short_raw;
use crate::model::Finding;

#[derive(Serialize)]
struct ExplainOutput<'a> {
    schema_version: u32,
    input: &'a str,
    findings: &'a [Finding],
}

/// Most of a paste certdx reads: a log excerpt of this size is classified in about a second;
/// anything beyond is left unread and said so.
const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// How much of the input the JSON document repeats.
const MAX_ECHO_BYTES: usize = 64 * 1024;

/// Runs `certdx explain`.
pub fn run(a: &ExplainArgs) -> Result<ExitCode, CliError> {
    let (bytes, cut) = if a.text.len() == 1 && a.text[0] == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| {
                CliError::Usage(format!("cannot read the message from standard input: {e}"))
            })?;
        let cut = buf.len() as u64 > MAX_INPUT_BYTES;
        buf.truncate(MAX_INPUT_BYTES as usize);
        (buf, cut)
    } else {
        (a.text.join(" ").into_bytes(), false)
    };
    // Invalid UTF-8 (a Latin-1 log, binary) is read leniently rather than refused.
    let decoded = normalise::decode(&bytes);
    let text = crate::model::redact::redact(&decoded);
    if normalise::clean(&text).trim().is_empty() {
        return Err(CliError::Usage(
            "nothing to explain: the message is empty (give it as an argument, or `-` to read standard input)".to_owned(),
        ));
    }
    if cut {
        tracing::warn!(
            "the input is longer than {} MiB: only its start was read",
            MAX_INPUT_BYTES / (1024 * 1024)
        );
    }
    let findings = explain(&text);
    let out = match a.format {
        TextOrJson::Json => {
            let doc = ExplainOutput {
                schema_version: crate::report::SCHEMA_VERSION,
                input: &short_raw(&text, MAX_ECHO_BYTES),
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
        if let Some(target) = &f.target {
            s.push_str(&format!("  name:        {target}\n"));
        }
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
