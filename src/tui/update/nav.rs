//! Moving around: the overview's selection, filter, namespace and sort; the chain tree's
//! selection, history folding and the detail pane's scroll.

use std::cmp::Reverse;

use super::super::app::{App, Sort, TreeItem, scroll_offset};
use super::super::estate::Row;
use super::super::msg::Msg;
use super::super::view;
use crate::model::{Kind, State};

/// Recomputes which rows the overview shows and in what order, keeping the selected row
/// selected when it is still shown. Called after the filter, namespace, sort or a root cause
/// changes: never per frame.
pub fn refresh_visible(app: &mut App) {
    let Some(e) = &app.estate else {
        return;
    };
    let ov = &mut app.overview;
    let keep = ov.selected_row();
    let needle = ov.filter.to_lowercase();
    let ns = ov.namespace.and_then(|i| e.namespaces.get(i));
    let mut visible: Vec<usize> = e
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| ov.show_orphans || r.kind == Kind::Certificate)
        .filter(|(_, r)| ns.is_none_or(|ns| &r.namespace == ns))
        .filter(|(_, r)| needle.is_empty() || r.search.contains(&needle))
        .map(|(i, _)| i)
        .collect();
    let rows = &e.rows;
    match ov.sort {
        Sort::Urgency => visible.sort_by(|&a, &b| urgency(&rows[a]).cmp(&urgency(&rows[b]))),
        Sort::Name => visible.sort_by(|&a, &b| name(&rows[a]).cmp(&name(&rows[b]))),
        Sort::Expiry => visible.sort_by(|&a, &b| {
            let (ra, rb) = (&rows[a], &rows[b]);
            (ra.not_after.is_none(), ra.not_after, name(ra)).cmp(&(
                rb.not_after.is_none(),
                rb.not_after,
                name(rb),
            ))
        }),
    }
    ov.selected = keep
        .and_then(|k| visible.iter().position(|&i| i == k))
        .unwrap_or(0);
    ov.visible = visible;
    keep_visible(app);
}

fn name(r: &Row) -> (&str, &str) {
    (&r.namespace, &r.name)
}

type UrgencyKey<'a> = (
    State,
    Reverse<Option<crate::model::Severity>>,
    &'a str,
    &'a str,
);

fn urgency(r: &Row) -> UrgencyKey<'_> {
    // Orphans sort with Certificates of the same state. A Ready Certificate failing silently
    // (renewal overdue, expiring) sorts with the failing ones when its root cause is an error,
    // with those in progress when it is a warning: never among the healthy.
    let state = match (r.state, r.root.map(|(_, s)| s)) {
        (State::Ready, Some(crate::model::Severity::Fatal | crate::model::Severity::Error)) => {
            State::Failed
        }
        (State::Ready, Some(crate::model::Severity::Warning)) => State::InProgress,
        (state, _) => state,
    };
    (
        state,
        Reverse(r.root.map(|(_, s)| s)),
        &r.namespace,
        &r.name,
    )
}

/// Moves the scroll offsets so the selections are on screen.
pub fn keep_visible(app: &mut App) {
    let h = view::overview::list_height(app.size);
    let ov = &mut app.overview;
    ov.selected = ov.selected.min(ov.visible.len().saturating_sub(1));
    ov.offset = scroll_offset(ov.offset, ov.selected, h);
    if let Some(c) = &mut app.chain {
        let h = view::chain::tree_height(app.size);
        c.offset = scroll_offset(c.offset, c.selected, h);
    }
}

fn step(pos: usize, len: usize, msg: &Msg, page: usize) -> usize {
    let last = len.saturating_sub(1);
    match msg {
        Msg::Up => pos.saturating_sub(1),
        Msg::Down => (pos + 1).min(last),
        Msg::PageUp => pos.saturating_sub(page.max(1)),
        Msg::PageDown => (pos + page.max(1)).min(last),
        Msg::Home => 0,
        Msg::End => last,
        _ => pos,
    }
}

/// Keys on the overview.
pub fn overview_key(app: &mut App, msg: Msg) {
    let Some(e) = &app.estate else {
        return;
    };
    let ov = &mut app.overview;
    match msg {
        Msg::Up | Msg::Down | Msg::PageUp | Msg::PageDown | Msg::Home | Msg::End => {
            let page = view::overview::list_height(app.size);
            ov.selected = step(ov.selected, ov.visible.len(), &msg, page);
        }
        Msg::NextFailing => {
            let n = ov.visible.len();
            let next = (1..=n)
                .map(|k| (ov.selected + k) % n.max(1))
                .find(|&p| e.rows[ov.visible[p]].is_failing());
            match next {
                Some(p) => ov.selected = p,
                None => app.say(
                    super::super::app::StatusKind::Info,
                    "nothing failing in this list",
                ),
            }
        }
        Msg::FilterStart => ov.editing_filter = true,
        Msg::FilterInput(c) => {
            ov.filter.push(c);
            refresh_visible(app);
        }
        Msg::FilterBackspace => {
            ov.filter.pop();
            refresh_visible(app);
        }
        Msg::FilterAccept => ov.editing_filter = false,
        Msg::FilterCancel => {
            ov.editing_filter = false;
            ov.filter.clear();
            refresh_visible(app);
        }
        Msg::CycleNamespace => {
            ov.namespace = match ov.namespace {
                None if !e.namespaces.is_empty() => Some(0),
                Some(i) if i + 1 < e.namespaces.len() => Some(i + 1),
                _ => None,
            };
            refresh_visible(app);
        }
        Msg::CycleSort => {
            ov.sort = ov.sort.next();
            refresh_visible(app);
        }
        Msg::ToggleOrphans => {
            ov.show_orphans = !ov.show_orphans;
            refresh_visible(app);
        }
        _ => {}
    }
    keep_visible(app);
}

/// Keys on the chain screen.
pub fn chain_key(app: &mut App, msg: Msg) {
    let (Some(e), Some(c)) = (&app.estate, &mut app.chain) else {
        return;
    };
    let d = &e.diagnoses[c.diagnosis];
    let before = c.selected;
    match msg {
        Msg::Up | Msg::Down | Msg::Home | Msg::End => {
            c.selected = step(c.selected, c.nodes.len(), &msg, 1);
        }
        Msg::NextFailing => {
            let n = c.nodes.len();
            let failing = |p: usize| match &c.nodes[p].item {
                TreeItem::Node(path) => super::super::app::node_at(&d.chain, path)
                    .is_some_and(|n| n.status.state == State::Failed),
                TreeItem::Folded(_) => false,
            };
            if let Some(p) = (1..=n)
                .map(|k| (c.selected + k) % n.max(1))
                .find(|&p| failing(p))
            {
                c.selected = p;
            }
        }
        Msg::Open
            if matches!(
                c.nodes.get(c.selected).map(|n| &n.item),
                Some(TreeItem::Folded(_))
            ) =>
        {
            c.show_history = true;
            c.rebuild(d);
        }
        Msg::ToggleHistory => {
            c.show_history = !c.show_history;
            c.rebuild(d);
        }
        Msg::ToggleYaml => {
            c.yaml = !c.yaml;
            c.detail_scroll = 0;
        }
        Msg::PageUp | Msg::PageDown | Msg::DetailUp | Msg::DetailDown => {
            let page = view::chain::detail_height(app.size)
                .saturating_sub(1)
                .max(1);
            let max = view::detail::max_scroll(app);
            let Some(c) = &mut app.chain else { return };
            c.detail_scroll = match msg {
                Msg::PageUp => c.detail_scroll.saturating_sub(page),
                Msg::PageDown => c.detail_scroll + page,
                Msg::DetailUp => c.detail_scroll.saturating_sub(1),
                _ => c.detail_scroll + 1,
            }
            .min(max);
            return;
        }
        _ => {}
    }
    if c.selected != before {
        c.detail_scroll = 0;
    }
    keep_visible(app);
}
