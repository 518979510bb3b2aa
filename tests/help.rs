//! Every subcommand's help ends with real examples, and every example is a command line
//! certdx accepts: an example that no longer parses is a lie in the help.

use clap::{CommandFactory, Parser};

/// Splits a shell line into words: whitespace, single quotes; stops at a comment, a pipe into
/// another program or a redirection.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut in_word = false;
    for ch in line.chars() {
        match ch {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '#' | '|' | '>' if !quoted && !in_word => break,
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

#[test]
fn every_help_example_parses() {
    let root = certdx::cli::Cli::command();
    let mut helps = vec![root.clone()];
    helps.extend(root.get_subcommands().cloned());
    let mut examples = 0;
    for mut cmd in helps {
        let name = cmd.get_name().to_owned();
        let help = cmd.render_long_help().to_string();
        let tail = help
            .split("Examples:")
            .nth(1)
            .unwrap_or_else(|| panic!("`certdx {name} --help` has no examples"));
        for line in tail.lines().map(str::trim).filter(|l| !l.is_empty()) {
            // The certdx part of a pipeline (`kubectl logs ... | certdx explain -`).
            let line = line
                .split("| ")
                .map(str::trim)
                .find(|segment| segment.starts_with("certdx"))
                .unwrap_or(line);
            let argv = words(line);
            assert_eq!(argv.first().map(String::as_str), Some("certdx"), "{line}");
            certdx::cli::Cli::try_parse_from(&argv).unwrap_or_else(|e| {
                panic!("`{line}` in `certdx {name} --help` does not parse: {e}")
            });
            examples += 1;
        }
    }
    assert!(examples >= 16, "only {examples} examples");
}
