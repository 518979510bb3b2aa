//! What the README promises about installing: the kubectl plugin binary is built, and the k9s
//! plugin file in assets/ runs a command line certdx accepts.

use clap::Parser;

#[test]
fn kubectl_finds_certdx_under_its_plugin_name() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-certdx"))
        .arg("--help")
        .output()
        .expect("kubectl-certdx runs");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("report") && help.contains("--snapshot"),
        "{help}"
    );
}

#[test]
fn the_k9s_plugin_runs_a_command_line_certdx_accepts() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/k9s/plugins.yaml");
    let v: serde_json::Value =
        serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).expect("YAML");
    let plugin = &v["plugins"]["certdx"];
    assert_eq!(plugin["command"], "certdx");
    // k9s fills these in from the selected object.
    let args: Vec<String> = plugin["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            a.as_str()
                .unwrap()
                .replace("$CONTEXT", "prod")
                .replace("$NAMESPACE", "shop")
                .replace("$NAME", "www-shop")
        })
        .collect();
    let cli = certdx::cli::Cli::try_parse_from(std::iter::once("certdx".to_owned()).chain(args))
        .expect("certdx accepts the plugin's arguments");
    assert!(cli.command.is_none(), "opens the interactive view");
    assert_eq!(cli.filter.as_deref(), Some("www-shop"));
    assert_eq!(cli.global.namespace.as_deref(), Some("shop"));
    assert_eq!(cli.global.context.as_deref(), Some("prod"));
}
