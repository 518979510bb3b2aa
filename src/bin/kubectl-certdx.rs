//! certdx as a kubectl plugin: for `kubectl certdx ARGS`, kubectl runs the `kubectl-certdx`
//! it finds on PATH with ARGS. The same program as `certdx`, under the name kubectl looks for.

#[path = "../main.rs"]
mod certdx_main;

fn main() -> std::process::ExitCode {
    certdx_main::main()
}
