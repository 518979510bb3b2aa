//! The detail pane: everything about the selected object (status fields, conditions, live
//! checks, findings with their evidence, Events newest first), or its YAML.
//!
//! Lines are wrapped here, to the pane's width, so the line count is exact and `update` can
//! bound the scroll with [`max_scroll`]. Only the selected object is formatted, so this costs
//! the same whatever the size of the estate.

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::super::app::{App, TreeItem};
use super::super::estate::{Estate, Object};
use super::super::fmt;
use super::super::theme::Theme;
use crate::diagnose::{ChainNode, Diagnosis};
use crate::model::{Condition, Evidence, Finding, Kind};

/// Builds the pane's lines for the current selection, wrapped to `width`.
struct Out {
    lines: Vec<Line<'static>>,
    width: usize,
    theme: Theme,
}

impl Out {
    fn heading(&mut self, text: &str) {
        if !self.lines.is_empty() {
            self.lines.push(Line::from(""));
        }
        self.lines.push(Line::from(Span::styled(
            text.to_owned(),
            self.theme.heading(),
        )));
    }

    /// `label: value`, the value wrapped under itself.
    fn kv(&mut self, label: &str, value: impl AsRef<str>) {
        let head = format!("  {label}: ");
        self.lines.extend(fmt::labelled(
            &head,
            value.as_ref(),
            self.width,
            self.theme.label(),
            Style::default(),
        ));
    }

    /// A bullet (`· text`) at `indent`, continuation lines aligned after the bullet.
    fn bullet(&mut self, indent: usize, text: &str, style: Style) {
        let width = self.width.saturating_sub(indent + 2).max(8);
        for (i, part) in fmt::wrap(text, width).into_iter().enumerate() {
            let lead = if i == 0 { "· " } else { "  " };
            self.lines.push(Line::from(vec![
                Span::raw(format!("{}{lead}", " ".repeat(indent))),
                Span::styled(part, style),
            ]));
        }
    }

    /// Free text indented by `indent` spaces, wrapped, in `style`.
    fn text(&mut self, indent: usize, text: &str, style: Style) {
        let width = self.width.saturating_sub(indent).max(8);
        for part in fmt::wrap(text, width) {
            self.lines.push(Line::from(vec![
                Span::raw(" ".repeat(indent)),
                Span::styled(part, style),
            ]));
        }
    }
}

/// The pane's lines for the current selection, wrapped to `width` columns.
pub fn lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let mut out = Out {
        lines: Vec::new(),
        width,
        theme: app.theme,
    };
    let (Some(e), Some(c)) = (&app.estate, &app.chain) else {
        return out.lines;
    };
    let d = &e.diagnoses[c.diagnosis];
    match c.nodes.get(c.selected).map(|n| &n.item) {
        Some(TreeItem::Node(_)) => {}
        Some(TreeItem::Folded(n)) => {
            out.text(
                0,
                &format!("{n} older revisions are folded: Enter or h shows them. Their findings never name today's root cause."),
                Style::new(),
            );
            return out.lines;
        }
        None => return out.lines,
    }
    let Some(node) = c.selected_node(d) else {
        return out.lines;
    };
    let object = e.object(&node.object);
    if c.yaml {
        yaml(&mut out, object);
        return out.lines;
    }
    // What is wrong comes first; the raw fields that back it up follow.
    status(&mut out, node);
    findings(&mut out, app, d, node);
    if node.object.kind == Kind::Challenge {
        out.lines.push(Line::from(""));
        out.lines.extend(super::checks::lines(
            app,
            &node.object.to_string(),
            out.width,
        ));
    }
    // The CA's own view, on the Certificate and on each Challenge asked about.
    if d.subject.kind == Kind::Certificate
        && matches!(node.object.kind, Kind::Certificate | Kind::Challenge)
    {
        out.lines.push(Line::from(""));
        out.lines
            .extend(super::trial::lines(app, &d.subject, out.width));
    }
    if let Some(o) = object {
        fields(&mut out, app, e, d, o);
        events(&mut out, e, node);
    }
    out.lines
}

/// How far the pane can scroll for the current selection.
pub fn max_scroll(app: &App) -> usize {
    lines(app, super::chain::detail_width(app.size))
        .len()
        .saturating_sub(super::chain::detail_height(app.size))
}

/// Draws the pane into `area` (with its border).
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let Some(c) = &app.chain else { return };
    let title = format!(
        " {}{} ",
        super::chain::selection_title(app),
        if c.yaml {
            " · YAML (y: fields)"
        } else {
            " (y: YAML)"
        }
    );
    let mut block = Block::bordered().title(title);
    let inner = block.inner(area);
    let all = lines(app, inner.width as usize);
    let max = all.len().saturating_sub(inner.height as usize);
    let scroll = c.detail_scroll.min(max);
    if max > 0 {
        // Say there is more, and where we are in it: PgDn/J are not discoverable otherwise.
        let end = (scroll + inner.height as usize).min(all.len());
        block = block.title_bottom(
            Line::from(format!(
                " lines {}-{end} of {} · PgUp/PgDn J/K scroll ",
                scroll + 1,
                all.len()
            ))
            .right_aligned(),
        );
    }
    frame.render_widget(block, area);
    let shown: Vec<Line> = all
        .into_iter()
        .skip(scroll)
        .take(inner.height as usize)
        .collect();
    frame.render_widget(Paragraph::new(shown), inner);
}

fn status(out: &mut Out, node: &ChainNode) {
    let t = out.theme;
    let st = node.status.state;
    out.lines.push(Line::from(vec![
        Span::styled(format!("{} {}", Theme::marker(st), st), t.state(st)),
        Span::styled(
            if node.history {
                "  (older revision: history)"
            } else {
                ""
            },
            t.dim(),
        ),
    ]));
    out.text(2, &node.status.reason, Style::new());
}

fn yaml(out: &mut Out, object: Option<Object<'_>>) {
    let dim = out.theme.dim();
    out.text(
        0,
        "# typed fields only: fields certdx does not model were not kept at load",
        dim,
    );
    match object {
        Some(o) if !o.showable() => out.text(
            0,
            "# withheld: certdx could not redact this object, so it shows no raw form of it",
            dim,
        ),
        Some(o) => {
            // Cut long lines at the pane's edge without reflowing words: YAML's shape is
            // what the reader scans.
            let width = out.width.max(8);
            for l in o.to_yaml().lines() {
                let chars: Vec<char> = l.chars().collect();
                for piece in chars.chunks(width) {
                    out.lines.push(Line::from(piece.iter().collect::<String>()));
                }
                if chars.is_empty() {
                    out.lines.push(Line::from(""));
                }
            }
        }
        None => out.text(0, "# the object is not in the loaded data", dim),
    }
}

fn time(t: Option<Timestamp>) -> String {
    t.map(fmt::stamp).unwrap_or_default()
}

fn fields(out: &mut Out, app: &App, e: &Estate, d: &Diagnosis, o: Object<'_>) {
    let now = app.clock;
    let when = |t: Option<Timestamp>| {
        t.map(|t| format!("{} ({})", fmt::stamp(t), fmt::relative(t, now)))
            .unwrap_or_default()
    };
    match o {
        Object::Certificate(c) => {
            out.heading("Certificate");
            out.kv("dnsNames", c.spec.dns_names.join(", "));
            out.kv("commonName", c.spec.common_name.clone().unwrap_or_default());
            out.kv("secretName", &c.spec.secret_name);
            out.kv("issuer", d.issuer.clone().unwrap_or_default());
            out.kv("ACME server", d.acme_server.clone().unwrap_or_default());
            out.kv("duration", c.spec.duration.clone().unwrap_or_default());
            out.kv(
                "renewBefore",
                c.spec.renew_before.clone().unwrap_or_default(),
            );
            if let Some(s) = &c.status {
                out.kv("notBefore", when(s.not_before));
                out.kv("notAfter", when(s.not_after));
                out.kv("renewalTime", when(s.renewal_time));
                out.kv(
                    "revision",
                    s.revision.map(|r| r.to_string()).unwrap_or_default(),
                );
                out.kv(
                    "failedIssuanceAttempts",
                    s.failed_issuance_attempts
                        .map(|r| r.to_string())
                        .unwrap_or_default(),
                );
                out.kv("lastFailureTime", when(s.last_failure_time));
                out.kv(
                    "nextPrivateKeySecretName",
                    s.next_private_key_secret_name.clone().unwrap_or_default(),
                );
                conditions(out, &s.conditions);
            }
        }
        Object::Request(r) => {
            out.heading("CertificateRequest");
            out.kv("issuerRef", issuer_ref(&r.spec.issuer_ref));
            out.kv("duration", r.spec.duration.clone().unwrap_or_default());
            out.kv("username", r.spec.username.clone().unwrap_or_default());
            if let Some(s) = &r.status {
                out.kv("failureTime", time(s.failure_time));
                conditions(out, &s.conditions);
            }
        }
        Object::Order(o) => {
            out.heading("Order");
            out.kv("dnsNames", o.spec.dns_names.join(", "));
            out.kv("issuerRef", issuer_ref(&o.spec.issuer_ref));
            if let Some(s) = &o.status {
                out.kv("state", s.state.clone().unwrap_or_default());
                out.kv("reason", s.reason.clone().unwrap_or_default());
                out.kv("url", s.url.clone().unwrap_or_default());
                out.kv("finalizeURL", s.finalize_url.clone().unwrap_or_default());
                out.kv("failureTime", time(s.failure_time));
                for a in &s.authorizations {
                    out.kv(
                        "authorization",
                        format!(
                            "{}{} {} ({})",
                            if a.wildcard == Some(true) { "*." } else { "" },
                            a.identifier.clone().unwrap_or_default(),
                            a.url,
                            a.initial_state.clone().unwrap_or_default()
                        ),
                    );
                }
            }
        }
        Object::Challenge(ch) => {
            out.heading("Challenge");
            out.kv("type", &ch.spec.type_);
            let name = if ch.spec.wildcard {
                format!("*.{}", ch.spec.dns_name)
            } else {
                ch.spec.dns_name.clone()
            };
            out.kv("dnsName", name);
            out.kv("token", &ch.spec.token);
            out.kv("key", &ch.spec.key);
            let st = ch.status.clone().unwrap_or_default();
            out.kv("state", st.state.unwrap_or_else(|| "(none yet)".to_owned()));
            let yes = |b: bool| if b { "yes" } else { "no" };
            out.kv("presented", yes(st.presented));
            out.kv("processing", yes(st.processing));
            out.kv("reason", st.reason.unwrap_or_default());
            out.kv(
                "solver",
                match &ch.spec.solver {
                    Some(_) if !crate::model::redact::showable(ch) => {
                        "(withheld: could not be redacted)".to_owned()
                    }
                    Some(solver) => serde_json::to_string(solver).unwrap_or_default(),
                    None => "(not recorded in the object)".to_owned(),
                },
            );
            out.kv("issuer", issuer_ref(&ch.spec.issuer_ref));
            out.kv("ACME server", challenge_server(e, ch));
            out.kv("url", &ch.spec.url);
            out.kv("authorizationURL", &ch.spec.authorization_url);
        }
        Object::Issuer(_) | Object::ClusterIssuer(_) => {}
    }
}

/// The ACME server of a Challenge's issuer, when the estate has the issuer.
fn challenge_server(e: &Estate, ch: &crate::model::Challenge) -> String {
    use kube::ResourceExt;
    let r = &ch.spec.issuer_ref;
    let inv = &e.inventory;
    let config = if r.is_cluster() {
        inv.cluster_issuers
            .iter()
            .find(|i| i.name_any() == r.name)
            .map(|i| &i.spec.config)
    } else {
        inv.issuers
            .iter()
            .find(|i| i.name_any() == r.name && i.namespace() == ch.namespace())
            .map(|i| &i.spec.config)
    };
    config
        .and_then(|c| c.acme.as_ref())
        .map(|a| a.server.clone())
        .unwrap_or_default()
}

fn issuer_ref(r: &crate::model::IssuerRef) -> String {
    format!("{} {}", r.kind.as_deref().unwrap_or("Issuer"), r.name)
}

fn conditions(out: &mut Out, conditions: &[Condition]) {
    if conditions.is_empty() {
        return;
    }
    out.heading("Conditions");
    for c in conditions {
        let mut text = format!("{}={}", c.type_, c.status);
        if let Some(r) = &c.reason {
            text.push_str(&format!(" {r}"));
        }
        if let Some(t) = c.last_transition_time {
            text.push_str(&format!(" ({})", fmt::stamp(t)));
        }
        if let Some(m) = c.message.as_deref().filter(|m| !m.is_empty()) {
            text.push_str(&format!(": {m}"));
        }
        out.text(2, &text, Style::new());
    }
}

fn findings(out: &mut Out, app: &App, d: &Diagnosis, node: &ChainNode) {
    // The Certificate (the root) shows every finding; other nodes show their own.
    let root = node.object == d.subject;
    let mine: Vec<&Finding> = d
        .findings
        .iter()
        .filter(|f| root || f.subject.as_ref() == Some(&node.object))
        .collect();
    if mine.is_empty() {
        return;
    }
    out.heading(&format!("Findings ({})", mine.len()));
    for f in mine {
        finding(out, app, f, root);
    }
}

fn finding(out: &mut Out, app: &App, f: &Finding, show_subject: bool) {
    let t = out.theme;
    // The finding as a sentence, its code after it: the words are what a reader scans.
    out.lines.extend(fmt::labelled(
        &format!("  {:<7} ", f.severity.as_str()),
        &format!("{} ({})", f.summary, f.code.as_str()),
        out.width,
        t.severity(f.severity),
        Style::new(),
    ));
    if show_subject {
        out.kv(
            "  where",
            f.subject
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        );
    }
    if !f.detail.is_empty() && f.detail != f.summary {
        out.kv("  detail", &f.detail);
    }
    if let Some(rl) = &f.rate_limit {
        out.kv("  limit", rl.limit.clone().unwrap_or_default());
        out.kv("  identifier", rl.identifier.clone().unwrap_or_default());
        if let Some(at) = rl.retry_after {
            out.kv(
                "  retry after",
                format!("{} ({})", fmt::stamp(at), fmt::retry_in(at, app.clock)),
            );
        }
    }
    out.kv("  advice", &f.advice);
    for ev in &f.evidence {
        let line = match ev {
            Evidence::Text { source, text, at } => match at {
                Some(at) => format!("{source} ({}): {text}", fmt::stamp(*at)),
                None => format!("{source}: {text}"),
            },
            Evidence::Fact { subject, detail } => format!("{subject}: {detail}"),
            Evidence::Http(h) => h.describe(),
            Evidence::Dns(d) => super::sentence::dns_answer(d),
        };
        out.bullet(6, &line, t.dim());
    }
}

/// The Events of `node`; for a Certificate, those of its whole current chain (requests,
/// Orders, Challenges), each labelled with its object, since that is where cert-manager says
/// what went wrong.
fn events(out: &mut Out, e: &Estate, node: &ChainNode) {
    let mut found: Vec<(Option<String>, usize)> = Vec::new();
    let mut visit = |n: &ChainNode, label: bool| {
        if let Some(o) = e.object(&n.object) {
            let tag = label.then(|| format!("{} {}", n.object.kind, n.object.name));
            found.extend(
                e.index
                    .events_for(n.object.kind, o.meta())
                    .into_iter()
                    .map(|i| (tag.clone(), i)),
            );
        }
    };
    if node.object.kind == Kind::Certificate {
        fn walk(n: &ChainNode, visit: &mut dyn FnMut(&ChainNode, bool)) {
            if n.history {
                return;
            }
            visit(n, n.object.kind != Kind::Certificate);
            for c in &n.children {
                walk(c, visit);
            }
        }
        walk(node, &mut visit);
    } else {
        visit(node, false);
    }
    if found.is_empty() {
        return;
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|(_, i)| seen.insert(*i));
    found
        .sort_by_key(|(_, i)| std::cmp::Reverse(crate::model::event_time(&e.inventory.events[*i])));
    let heading = if node.object.kind == Kind::Certificate {
        format!("Events of the chain ({}, newest first)", found.len())
    } else {
        format!("Events ({}, newest first)", found.len())
    };
    out.heading(&heading);
    for (tag, i) in found {
        let ev = &e.inventory.events[i];
        let at = crate::model::event_time(ev)
            .map(fmt::stamp)
            .unwrap_or_default();
        let count = ev
            .count
            .filter(|&c| c > 1)
            .map(|c| format!(" x{c}"))
            .unwrap_or_default();
        let tag = tag.map(|t| format!("[{t}] ")).unwrap_or_default();
        let text = format!(
            "{at} {tag}{} {}{count}: {}",
            ev.type_.as_deref().unwrap_or("Normal"),
            ev.reason.as_deref().unwrap_or(""),
            ev.message.as_deref().unwrap_or("")
        );
        let style = if ev.type_.as_deref() == Some("Warning") {
            out.theme.severity(crate::model::Severity::Warning)
        } else {
            Style::new()
        };
        out.text(2, &text, style);
    }
}
