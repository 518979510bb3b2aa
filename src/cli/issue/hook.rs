//! `--deploy-hook CMD`: a shell command run once for each certificate this run issued (not for
//! one an earlier run issued), as soon as it is installed, one at a time, so a long batch (or
//! one stopped half-way) has every new certificate deployed. certbot's `--deploy-hook`, with the paths in the
//! environment instead of a lineage directory.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use crate::engine::batch::{CertResult, CertStatus};

/// How long one run of the hook may take before it is killed.
pub(super) const HOOK_TIMEOUT: Duration = Duration::from_secs(300);
/// The most output of one run kept for the report (the tail).
const KEPT_OUTPUT: usize = 2048;

/// One run of the hook.
#[derive(Debug, Clone, Serialize)]
pub(super) struct HookRun {
    /// The certificate's first name.
    pub name: String,
    /// The exit code; `None` when it was killed or could not start.
    pub exit_code: Option<i32>,
    /// Whether it succeeded.
    pub ok: bool,
    /// What went wrong, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The end of what it printed (stdout and stderr together).
    pub output: String,
}

/// Runs `command` for each certificate `issued` brings, one at a time, as they come, until
/// the batch drops its sender; returns every run.
pub(super) async fn run_hooks(
    command: String,
    mut issued: mpsc::UnboundedReceiver<CertResult>,
    timeout: Duration,
) -> Vec<HookRun> {
    let mut runs = Vec::new();
    while let Some(c) = issued.recv().await {
        // Issued by this run, or another worker's certificate this run installed here.
        if c.status == CertStatus::Issued || c.copied {
            runs.push(run_one(&command, &c, timeout).await);
        }
    }
    runs
}

async fn run_one(command: &str, c: &CertResult, timeout: Duration) -> HookRun {
    let path = |p: &Option<std::path::PathBuf>| {
        p.as_deref()
            .map(Path::display)
            .map(|d| d.to_string())
            .unwrap_or_default()
    };
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .env("CERTDX_NAME", &c.name)
        .env("CERTDX_NAMES", c.names.join(" "))
        .env("CERTDX_CERT", path(&c.certificate))
        .env("CERTDX_KEY", path(&c.key))
        .env(
            "CERTDX_NOT_AFTER",
            c.not_after.map(|t| t.to_string()).unwrap_or_default(),
        )
        // The hook must not see the account's EAB key.
        .env_remove("CERTDX_EAB_HMAC_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let failed = |error: String| HookRun {
        name: c.name.clone(),
        exit_code: None,
        ok: false,
        error: Some(error),
        output: String::new(),
    };
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return failed(format!("cannot start sh: {e}")),
    };
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let collect = async {
        // Both pipes at once: a hook that fills one while certdx waits on the other would
        // otherwise block forever.
        let (mut stdout, stderr) = tokio::join!(
            read_tail(out.as_mut(), KEPT_OUTPUT),
            read_tail(err.as_mut(), KEPT_OUTPUT)
        );
        let status = child.wait().await;
        stdout.extend_from_slice(&stderr);
        (status, stdout)
    };
    match tokio::time::timeout(timeout, collect).await {
        Err(_) => failed(format!("killed after {} s", timeout.as_secs())),
        Ok((Err(e), _)) => failed(format!("waiting for it: {e}")),
        Ok((Ok(status), output)) => {
            // Redacted before the last cut; a key whose BEGIN line fell outside the tail kept
            // while reading is still caught by its END line (see `redact`).
            let text = crate::model::redact::redact(&String::from_utf8_lossy(&output));
            let start = text.len().saturating_sub(KEPT_OUTPUT);
            let start = (start..=text.len())
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(text.len());
            HookRun {
                name: c.name.clone(),
                exit_code: status.code(),
                ok: status.success(),
                error: (!status.success()).then(|| format!("exited with {status}")),
                output: text[start..].trim_end().to_owned(),
            }
        }
    }
}

/// Reads `pipe` to its end keeping only the last `keep` bytes: a hook that prints without end
/// (a stray `yes`, a loop) for the minutes it may run must not grow certdx's memory with it.
async fn read_tail<R: AsyncRead + Unpin>(pipe: Option<&mut R>, keep: usize) -> Vec<u8> {
    let mut tail = Vec::new();
    let Some(pipe) = pipe else {
        return tail;
    };
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => tail.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
        // Trimmed in batches, not on every read, so the copying stays linear.
        if tail.len() > 2 * keep {
            tail.drain(..tail.len() - keep);
        }
    }
    tail.drain(..tail.len().saturating_sub(keep));
    tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hook that prints the key it was handed (a `cat` left in while debugging): the run's
    /// record keeps the tail of its output, without the key.
    #[tokio::test]
    async fn a_hook_printing_the_private_key_leaves_it_out_of_the_report() {
        let dir = std::env::temp_dir().join(format!("certdx-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("k.key");
        let body = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHOOKBODY";
        std::fs::write(
            &key,
            format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"),
        )
        .unwrap();
        let c = CertResult {
            name: "a.example".to_owned(),
            names: vec!["a.example".to_owned()],
            status: CertStatus::Issued,
            stage: None,
            code: None,
            finding: None,
            certificate: None,
            key: Some(key),
            order_url: None,
            resumed: false,
            attempts: 1,
            requested: 1,
            started_at: None,
            duration_ms: None,
            origin: "--domain".to_owned(),
            not_after: None,
            renew_from: None,
            renewed: None,
            replaces: None,
            replaces_dropped: None,
            copied: false,
        };
        // Enough output before the key that the kept tail starts inside it.
        let command = format!(
            "head -c {} /dev/zero | tr '\\0' x; cat \"$CERTDX_KEY\"; echo deployed",
            KEPT_OUTPUT
        );
        let run = run_one(&command, &c, Duration::from_secs(30)).await;
        let _ = std::fs::remove_dir_all(&dir);
        assert!(run.ok, "{run:?}");
        assert!(run.output.ends_with("deployed"), "{}", run.output);
        assert!(!run.output.contains("HOOKBODY"), "{}", run.output);
        assert!(
            run.output.contains("[private key redacted]"),
            "{}",
            run.output
        );
    }

    #[tokio::test]
    async fn endless_output_keeps_only_its_tail_in_memory() {
        let mut endless = tokio::io::repeat(b'a').take(16 << 20).chain(&b"END"[..]);
        let tail = read_tail(Some(&mut endless), 2048).await;
        assert_eq!(tail.len(), 2048);
        assert!(tail.ends_with(b"aEND"));
        // A few read buffers' worth, whatever the length of the output.
        assert!(
            tail.capacity() < 64 * 1024,
            "capacity {} after reading 16 MiB",
            tail.capacity()
        );
    }
}
