//! No input makes certdx panic: a short, deterministic run of every fuzz target
//! (`tests/fuzz/`; the long run is `cargo bench --bench fuzz`), and a regression test, with the
//! minimal input, for every panic found, by the fuzzers or by review.

#[path = "fuzz/mod.rs"]
mod fuzz;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use clap::Parser;
use fuzz::harness::{Limits, run};

/// Inputs per target: a few seconds for all of them in a debug build.
const SMOKE_INPUTS: u64 = 1500;

#[test]
fn every_target_survives_a_short_run() {
    let limits = Limits {
        inputs: SMOKE_INPUTS,
        seed: 20_260_101,
        slow: Duration::from_secs(5),
        hang: Duration::from_secs(60),
        out_dir: None,
    };
    let mut failures = Vec::new();
    for target in fuzz::targets() {
        let o = run(target.as_ref(), &limits);
        assert_eq!(o.inputs, SMOKE_INPUTS, "{}: every input ran", o.name);
        for f in o.crashes.iter().chain(&o.slow) {
            failures.push(format!(
                "{}: {} on {:?}",
                o.name,
                f.what,
                String::from_utf8_lossy(&f.input)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Regressions: the snapshot loader.

/// A kubectl `kind: List` of `n` Certificates, larger than the loader's parallel-split
/// threshold (256 KiB) from about 2,000 items on.
fn big_list(n: usize, odd_line: impl Fn(usize) -> Option<&'static str>) -> String {
    let mut text = String::from("apiVersion: v1\nitems:\n");
    for i in 0..n {
        text.push_str(&format!(
            "- apiVersion: cert-manager.io/v1\n  kind: Certificate\n  metadata:\n    name: cert-{i}\n    namespace: shop\n"
        ));
        text.push_str(odd_line(i).unwrap_or("  spec:\n"));
        text.push_str("    secretName: web-tls\n    dnsNames:\n    - a.example.com\n");
    }
    text.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
    text
}

#[test]
fn a_big_list_with_unicode_spaces_in_its_indentation_loads_without_a_panic() {
    use certdx::source::snapshot::{Snapshot, load_text};
    // U+3000 is three bytes, U+00A0 two: the old splitter counted them as indentation and cut
    // the line at a byte offset inside them.
    let text = big_list(2500, |i| match i {
        7 => Some(" \u{3000}spec:\n"),
        8 => Some(" \u{a0}spec:\n"),
        _ => None,
    });
    assert!(
        text.len() > 256 * 1024,
        "above the parallel-split threshold"
    );
    let mut snap = Snapshot::default();
    load_text(&text, Path::new("big.yaml"), &mut snap);
    // Each odd item costs at most itself.
    let loaded = snap.inventory.certificates.len();
    assert!(loaded >= 2498, "{loaded} loaded: {:?}", snap.problems);
    assert_eq!(loaded + snap.problems.len(), 2500, "{:?}", snap.problems);
    assert!(
        snap.problems
            .iter()
            .all(|p| p.message.starts_with("item 8:") || p.message.starts_with("item 9:")),
        "{:?}",
        snap.problems
    );
}

// ---------------------------------------------------------------------------------------
// Regressions: `--timeout` and the other time flags.

/// Every command with a float `--timeout`, as a command line ready for the value.
fn timeout_commands() -> Vec<Vec<&'static str>> {
    vec![
        vec![
            "certdx",
            "check",
            "--resolver",
            "127.0.0.1:9",
            "a.example.com",
        ],
        vec!["certdx", "report", "--snapshot", "/nonexistent.yaml"],
        vec![
            "certdx",
            "issue",
            "--directory",
            "https://127.0.0.1:9/dir",
            "--domain",
            "a.example.com",
            "--http01-listen",
            "127.0.0.1:0",
        ],
    ]
}

#[test]
fn a_timeout_that_is_no_duration_is_a_usage_error_naming_the_flag_and_range() {
    for argv in timeout_commands() {
        for bad in [
            "nan", "NaN", "inf", "-inf", "-1", "0", "1e300", "121", "ten",
        ] {
            let mut line: Vec<String> = argv.iter().map(|a| (*a).to_owned()).collect();
            line.push(format!("--timeout={bad}"));
            let err = certdx::cli::Cli::try_parse_from(&line)
                .err()
                .unwrap_or_else(|| panic!("{line:?} was accepted"));
            let text = err.to_string();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{text}"
            );
            assert!(text.contains("--timeout"), "{text}");
            if bad.parse::<f64>().is_ok() {
                assert!(text.contains("from 0.1 to 120"), "{text}");
            }
        }
        for good in ["0.1", "3", "120", " 2.5"] {
            let mut line = argv.clone();
            line.extend(["--timeout", good]);
            assert!(
                certdx::cli::Cli::try_parse_from(&line).is_ok(),
                "{line:?} refused"
            );
        }
    }
}

#[test]
fn the_binary_exits_2_without_a_panic_on_a_nan_timeout() {
    for argv in timeout_commands() {
        for bad in ["nan", "inf", "-1", "1e300"] {
            let out = Command::new(env!("CARGO_BIN_EXE_certdx"))
                .args(&argv[1..])
                .arg(format!("--timeout={bad}"))
                .output()
                .expect("run certdx");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{argv:?} {bad}: {stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
            assert!(stderr.contains("--timeout"), "{stderr}");
        }
    }
}

#[test]
fn time_and_count_flags_beyond_what_the_engine_can_hold_are_usage_errors() {
    let base = timeout_commands().pop().expect("the issue command line");
    for (flag, bad) in [
        ("--batch-timeout", "18446744073709551615"),
        ("--self-check-timeout", "18446744073709551615"),
        // Sizes a semaphore, which panics above usize::MAX >> 3 permits.
        ("--new-order-concurrency", "18446744073709551615"),
    ] {
        let mut line = base.clone();
        line.extend([flag, bad]);
        let err = certdx::cli::Cli::try_parse_from(&line)
            .err()
            .unwrap_or_else(|| panic!("{line:?} was accepted"));
        assert!(err.to_string().contains(flag), "{err}");
    }
}
