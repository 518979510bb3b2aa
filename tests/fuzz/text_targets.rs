//! The targets that read text: the snapshot loader (and the diagnosis of what it loaded),
//! `explain`, the ACME problem classifier and the TSIG key file reader.

use std::path::Path;

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::{Value, json};

#[path = "../common/corpus.rs"]
mod corpus;

use super::harness::Target;
use super::mutate::{mutated, raw_bytes, token_soup};

/// Every message of the explain corpus: real wordings to build pastes and problems from.
pub fn corpus() -> Vec<String> {
    corpus::corpus_texts()
}

fn lossy(input: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(input)
}

// ---------------------------------------------------------------------------------------
// Snapshot loader.

const KINDS: &[(&str, &str)] = &[
    ("cert-manager.io/v1", "Certificate"),
    ("cert-manager.io/v1", "CertificateRequest"),
    ("acme.cert-manager.io/v1", "Order"),
    ("acme.cert-manager.io/v1", "Challenge"),
    ("cert-manager.io/v1", "Issuer"),
    ("cert-manager.io/v1", "ClusterIssuer"),
    ("v1", "Event"),
    ("v1", "Secret"),
    ("apps/v1", "Deployment"),
    ("v1", "List"),
];

const WORDS: &[&str] = &[
    "web",
    "shop",
    "a.example.com",
    "*.example.com",
    "letsencrypt-prod",
    "Waiting for HTTP-01 challenge propagation: wrong status code '404', expected '200'",
    "429 urn:ietf:params:acme:error:rateLimited: too many certificates already issued",
    "2026-01-15T10:00:00Z",
    "True",
    "False",
    "pending",
    "invalid",
    "é€😀",
    "",
];

/// One object as kubectl would print it, its fields picked from plausible values.
fn object() -> BoxedStrategy<Value> {
    (
        prop::sample::select(KINDS),
        prop::collection::vec(prop::sample::select(WORDS), 8),
        any::<(bool, bool, u8)>(),
    )
        .prop_map(|((api, kind), w, (with_status, owner, n))| {
            let mut v = json!({
                "apiVersion": api,
                "kind": kind,
                "metadata": {
                    "name": w[0],
                    "namespace": w[1],
                    "uid": format!("uid-{n}"),
                    "creationTimestamp": w[7],
                },
                "spec": {
                    "dnsNames": [w[2], w[3]],
                    "issuerRef": {"name": w[4], "kind": "Issuer"},
                    "secretName": w[0],
                    "dnsName": w[2],
                    "type": "HTTP-01",
                    "token": w[6],
                    "wildcard": n % 2 == 0,
                    "request": w[5],
                },
            });
            if with_status {
                v["status"] = json!({
                    "state": w[6],
                    "reason": w[5],
                    "presented": n % 3 == 0,
                    "conditions": [{
                        "type": "Ready",
                        "status": w[1],
                        "reason": w[4],
                        "message": w[5],
                        "lastTransitionTime": w[7],
                    }],
                    "notAfter": w[7],
                    "failureTime": w[7],
                });
            }
            if owner {
                v["metadata"]["ownerReferences"] = json!([{
                    "apiVersion": api, "kind": "Certificate", "name": w[0], "uid": format!("uid-{}", n / 2),
                }]);
            }
            if kind == "Event" {
                v["involvedObject"] = json!({"kind": "Challenge", "name": w[0], "namespace": w[1]});
                v["message"] = json!(w[5]);
                v["reason"] = json!(w[4]);
            }
            v
        })
        .boxed()
}

/// A dump: a `kind: List` (kubectl's column-0 items or indented ones), a multi-document
/// stream, or JSON; each line's indentation sometimes replaced by a tab or a Unicode space.
fn dump() -> BoxedStrategy<Vec<u8>> {
    (
        prop::collection::vec(object(), 0..6),
        0u8..4,
        prop::collection::vec((any::<u16>(), 0usize..5), 0..4),
    )
        .prop_map(|(items, style, odd_indents)| {
            let yaml = |v: &Value| serde_norway::to_string(v).unwrap_or_default();
            let mut text = match style {
                0 | 1 => {
                    let (dash, body) = if style == 0 {
                        ("- ", "  ")
                    } else {
                        ("  - ", "    ")
                    };
                    let mut out = String::from("apiVersion: v1\nitems:\n");
                    for item in &items {
                        for (i, line) in yaml(item).lines().enumerate() {
                            out.push_str(if i == 0 { dash } else { body });
                            out.push_str(line);
                            out.push('\n');
                        }
                    }
                    out.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
                    out
                }
                2 => items.iter().map(yaml).collect::<Vec<_>>().join("---\n"),
                _ => serde_json::to_string_pretty(&json!({"kind": "List", "items": items}))
                    .unwrap_or_default(),
            };
            for (line, which) in odd_indents {
                let space = ["\u{a0}", "\u{3000}", "\t", "\u{2028}", " \u{a0}"][which];
                let starts: Vec<usize> = std::iter::once(0)
                    .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                    .filter(|&i| text[i..].starts_with(' '))
                    .collect();
                if let Some(&at) = starts.get(usize::from(line) % starts.len().max(1)) {
                    text.replace_range(at..at + 1, space);
                }
            }
            text.into_bytes()
        })
        .boxed()
}

/// The snapshot loader, with every List cut into items (the parallel path, whatever the size)
/// and parsed whole, then the chain and the diagnosis of what loaded.
pub struct Snapshot;

impl Target for Snapshot {
    fn name(&self) -> &'static str {
        "snapshot"
    }

    fn strategy(&self) -> BoxedStrategy<Vec<u8>> {
        prop_oneof![
            6 => mutated(dump(), 6),
            1 => token_soup(40),
            1 => raw_bytes(512),
        ]
        .boxed()
    }

    fn run(&self, input: &[u8]) {
        use certdx::diagnose::{DiagnoseOptions, diagnose_estate};
        use certdx::model::ChainIndex;
        use certdx::source::snapshot;
        let text = lossy(input);
        for threshold in [0, usize::MAX] {
            let mut snap = snapshot::Snapshot::default();
            snapshot::load_text_splitting_above(
                &text,
                Path::new("fuzz.yaml"),
                &mut snap,
                threshold,
            );
            let index = ChainIndex::build(&snap.inventory);
            let opts = DiagnoseOptions {
                now: jiff::Timestamp::from_second(1_767_225_600).expect("a valid instant"),
                ..DiagnoseOptions::default()
            };
            let _ = diagnose_estate(&snap.inventory, &index, &opts);
        }
    }
}

// ---------------------------------------------------------------------------------------
// explain.

/// A corpus message in one of the wrappers pastes come in.
fn wrapped_line(corpus: &'static [String]) -> BoxedStrategy<String> {
    (prop::sample::select(corpus), 0u8..10)
        .prop_map(|(text, how)| {
            let t = text.as_str();
            match how {
                0 => format!("E0501 09:46:00.000000       1 sync.go:173] {t}"),
                1 => format!(
                    r#"E0501 09:46:00.000000       1 controller.go:167] cert-manager/orders "msg"="re-queuing item due to error processing" "error"={t:?} "key"="shop/web-1""#
                ),
                2 => format!(
                    r#"{{"level":"error","ts":1714556775.5,"msg":"re-queuing item","error":{}}}"#,
                    Value::String(t.to_owned())
                ),
                3 => format!("time=\"2020-01-01T00:00:00Z\" level=error msg={t:?}"),
                4 => format!("  Warning  Failed     2m (x3 over 5m)  cert-manager-challenges  {t}"),
                5 => format!("    Message:     {t}"),
                6 => format!("2021-03-01 12:00:00,123:DEBUG:acme.client:{t}"),
                7 => format!("<html><head><title>{t}</title></head><body><h1>{t}</h1></body></html>"),
                8 => format!("> {t}"),
                _ => t.to_owned(),
            }
        })
        .boxed()
}

/// `certdx explain` over a paste: lines of the corpus in log wrappers, mutated.
pub struct Explain {
    corpus: &'static [String],
}

impl Explain {
    /// The target, over `corpus`.
    pub fn new(corpus: &'static [String]) -> Explain {
        Explain { corpus }
    }
}

impl Target for Explain {
    fn name(&self) -> &'static str {
        "explain"
    }

    fn strategy(&self) -> BoxedStrategy<Vec<u8>> {
        let paste = prop::collection::vec(wrapped_line(self.corpus), 1..5)
            .prop_map(|lines| lines.join("\n").into_bytes())
            .boxed();
        prop_oneof![
            6 => mutated(paste, 6),
            1 => token_soup(60),
            1 => raw_bytes(512),
        ]
        .boxed()
    }

    fn run(&self, input: &[u8]) {
        use certdx::checks::explain::{explain, normalise};
        let text = normalise::decode(input);
        let _ = explain(&text);
    }
}

// ---------------------------------------------------------------------------------------
// ACME problem documents.

const PROBLEM_TYPES: &[&str] = &[
    "urn:ietf:params:acme:error:rateLimited",
    "urn:ietf:params:acme:error:unauthorized",
    "urn:ietf:params:acme:error:caa",
    "urn:ietf:params:acme:error:dns",
    "urn:ietf:params:acme:error:connection",
    "urn:ietf:params:acme:error:rejectedIdentifier",
    "urn:ietf:params:acme:error:badNonce",
    "urn:ietf:params:acme:error:serverInternal",
    "urn:ietf:params:acme:error:",
    "urn:acme:error:malformed",
    "about:blank",
    "",
];

/// A problem document (RFC 7807 / 8555 section 6.7) with subproblems, as JSON.
pub fn problem() -> BoxedStrategy<Value> {
    (
        prop::sample::select(PROBLEM_TYPES),
        prop::sample::select(WORDS),
        any::<u16>(),
        prop::collection::vec(
            (
                prop::sample::select(PROBLEM_TYPES),
                prop::sample::select(WORDS),
            ),
            0..3,
        ),
    )
        .prop_map(|(kind, detail, status, subs)| {
            json!({
                "type": kind,
                "detail": detail,
                "status": status % 600,
                "subproblems": subs.iter().map(|(k, d)| json!({
                    "type": k,
                    "detail": d,
                    "identifier": {"type": "dns", "value": d},
                })).collect::<Vec<_>>(),
            })
        })
        .boxed()
}

/// The ACME problem classifier over problems as cert-manager prints them
/// (`<status> <type>: <detail>`) and as the JSON the CA sent.
pub struct AcmeProblem {
    corpus: &'static [String],
}

impl AcmeProblem {
    /// The target, with details drawn from `corpus` too.
    pub fn new(corpus: &'static [String]) -> AcmeProblem {
        AcmeProblem { corpus }
    }
}

impl Target for AcmeProblem {
    fn name(&self) -> &'static str {
        "acme-problem"
    }

    fn strategy(&self) -> BoxedStrategy<Vec<u8>> {
        let printed = (problem(), prop::sample::select(self.corpus))
            .prop_map(|(p, detail)| {
                let mut out = format!(
                    "{} {}: {}",
                    p["status"],
                    p["type"].as_str().unwrap_or_default(),
                    detail
                );
                for s in p["subproblems"].as_array().into_iter().flatten() {
                    out.push_str(&format!(
                        "\n\t{}: [dns: {}] {}",
                        s["type"].as_str().unwrap_or_default(),
                        s["identifier"]["value"].as_str().unwrap_or_default(),
                        s["detail"].as_str().unwrap_or_default()
                    ));
                }
                out.into_bytes()
            })
            .boxed();
        let json = problem().prop_map(|p| p.to_string().into_bytes()).boxed();
        prop_oneof![
            4 => mutated(printed, 6),
            2 => mutated(json, 6),
            1 => token_soup(40),
        ]
        .boxed()
    }

    fn run(&self, input: &[u8]) {
        let text = lossy(input);
        let _ = certdx::checks::acme_problem::classify(&text);
    }
}

// ---------------------------------------------------------------------------------------
// TSIG key files.

const KEY_NAMES: &[&str] = &["certdx.", "key", "tsig-key.example.com", "", "é.key", "a b"];
const ALGORITHMS: &[&str] = &[
    "hmac-sha256",
    "hmac-sha512",
    "hmac-sha384",
    "hmac-sha224",
    "hmac-sha1",
    "hmac-md5",
    "HMAC-SHA256",
    "hmac-sha256.",
    "",
];

/// A key file in BIND, knot or one-line form.
fn key_file() -> BoxedStrategy<Vec<u8>> {
    (
        prop::sample::select(KEY_NAMES),
        prop::sample::select(ALGORITHMS),
        prop_oneof![
            "[A-Za-z0-9+/]{0,64}={0,2}",
            Just("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0".to_owned()),
        ],
        0u8..6,
    )
        .prop_map(|(name, alg, secret, form)| {
            match form {
                0 => format!(
                    "key \"{name}\" {{\n\talgorithm {alg};\n\tsecret \"{secret}\";\n}};\n"
                ),
                1 => format!(
                    "# rndc-confgen\n/* block */ key \"{name}\" {{ algorithm {alg}; secret \"{secret}\"; }}; // x\nkey \"{name}2\" {{ algorithm {alg}; secret \"{secret}\"; }};\n"
                ),
                2 => format!("key:\n  - id: {name}\n    algorithm: {alg}\n    secret: {secret}\n"),
                3 => format!("key:\n  - id: \"{name}\" # c\n    secret: '{secret}'\n"),
                4 => format!("{alg}:{name}:{secret}\n"),
                _ => format!("{name}:{secret}"),
            }
            .into_bytes()
        })
        .boxed()
}

/// `TsigKey::parse`: the key file reader behind `--tsig-key` (BIND, knot, one-line forms).
pub struct Tsig;

impl Target for Tsig {
    fn name(&self) -> &'static str {
        "tsig-key"
    }

    fn strategy(&self) -> BoxedStrategy<Vec<u8>> {
        prop_oneof![
            6 => mutated(key_file(), 6),
            1 => token_soup(40),
            1 => raw_bytes(256),
        ]
        .boxed()
    }

    fn run(&self, input: &[u8]) {
        use certdx::engine::solver::rfc2136::TsigKey;
        if let Ok(key) = TsigKey::parse(&lossy(input)) {
            let _ = (key.name().to_string(), key.algorithm(), format!("{key:?}"));
        }
    }
}
