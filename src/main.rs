//! The `certdx` binary: parses the command line, runs it, maps errors to exit code 2.

use std::process::ExitCode;

use clap::Parser;

pub fn main() -> ExitCode {
    // color-eyre makes a panic readable; library code never panics on input by design.
    let _ = color_eyre::install();
    tracing_subscriber::fmt()
        .with_writer(certdx::cli::log_writer)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CERTDX_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_target(false)
        .without_time()
        .init();
    let cli = certdx::cli::Cli::parse();
    let json = certdx::cli::wants_json(&cli);
    match certdx::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("certdx: {e}");
            if json {
                print!("{}", certdx::cli::error_document(&e.to_string()));
            }
            ExitCode::from(certdx::cli::EXIT_ERROR)
        }
    }
}
