//! The interactive view's whole state. `update` is the only thing that changes it and
//! `render` only reads it; nothing in here does IO.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;

use super::cmd::Cmd;
use super::estate::{Estate, Row};
use super::theme::Theme;
use crate::actions::attempt::Attempt;
use crate::actions::{Action, Actions};
use crate::diagnose::playbook::{PlaybookResult, Target};
use crate::diagnose::{ChainNode, Diagnosis};
use crate::model::profile::Directories;
use crate::model::{Inventory, ObjectRef};
use crate::report::Format;
use crate::source::cluster::watch::LinkState;

/// What the runtime knows at start-up, minus the objects themselves.
pub struct AppConfig {
    /// Where the objects come from: `demo`, a path, a kube context.
    pub source_label: String,
    /// Documents that could not be loaded, shown on the overview.
    pub load_problems: Vec<String>,
    /// The instant the estate is diagnosed against (the data's "now").
    pub now: Timestamp,
    /// Why live checks are off, or `None` when they can run.
    pub checks_disabled: Option<String>,
    /// Where the checks run from (host, resolver), shown with their results.
    pub checks_from: Option<String>,
    /// Cluster writes.
    pub actions: Arc<dyn Actions>,
    /// Whether writes are refused whatever `actions` says.
    pub read_only: bool,
    /// Where exports are written.
    pub export_dir: PathBuf,
    /// Colours or not.
    pub theme: Theme,
    /// The terminal size at start, columns x rows.
    pub size: (u16, u16),
    /// The list's filter at start (empty: none).
    pub filter: String,
    /// Whether live checks also read the issuers' CA directories (see
    /// [`super::ChecksConfig::read_directories`]).
    pub read_directories: bool,
    /// Why `T` cannot ask the CA in this view, or `None` when it can.
    pub trial_off: Option<String>,
    /// The directory every trial uses instead of the issuer's staging counterpart.
    pub trial_directory: Option<String>,
}

/// The interactive view's state.
pub struct App {
    /// Where the objects come from.
    pub source_label: String,
    /// Documents that could not be loaded.
    pub load_problems: Vec<String>,
    /// How many objects were loaded (shown while diagnosing).
    pub object_count: usize,
    /// The instant the estate was diagnosed against.
    pub data_now: Timestamp,
    /// The current time on the data's clock: `data_now` plus the time since start. Countdowns,
    /// spinners and elapsed times are measured against it, so frames are deterministic.
    pub clock: Timestamp,
    /// The diagnosed estate; `None` while diagnosing.
    pub estate: Option<Estate>,
    /// The Certificate list.
    pub overview: Overview,
    /// The chain screen, when open (on top of the overview).
    pub chain: Option<ChainView>,
    /// A dialog or the help, drawn over everything.
    pub overlay: Option<Overlay>,
    /// Live checks.
    pub checks: Checks,
    /// Cluster writes.
    pub actions: Arc<dyn Actions>,
    /// Whether writes are refused.
    pub read_only: bool,
    /// Where exports go.
    pub export_dir: PathBuf,
    /// Actions and exports in flight, by id.
    pub busy: Vec<Busy>,
    /// The last thing worth telling the user (outcome of an action, export path, errors).
    pub status: Option<StatusLine>,
    /// Whether a browser can be opened here (a graphical session: `DISPLAY` or
    /// `WAYLAND_DISPLAY`); set by the runtime, false in tests so none is ever opened.
    pub browser: bool,
    /// Terminal size, columns x rows.
    pub size: (u16, u16),
    /// Colours or not.
    pub theme: Theme,
    /// Set when the user asked to leave.
    pub quit: bool,
    /// Set when the user asked to suspend (Ctrl-Z); the runtime does it and clears it.
    pub suspend: bool,
    /// Text the user asked to copy (`Y`); the runtime hands it to the terminal's clipboard
    /// and clears it.
    pub copy: Option<String>,
    /// Next id for [`Busy`] entries.
    pub next_id: u64,
    /// The live cluster feed's state; `None` for snapshots and the demo.
    pub live: Option<Live>,
    /// The write in flight whose new attempt to follow when it succeeds (by busy id).
    pub pending_attempt: Option<(u64, Attempt)>,
    /// The issuance attempt a retry started, followed until it ends.
    pub attempt: Option<Attempt>,
    /// The CA directories read this run, by ACME server: the first `c` reads them, and every
    /// later diagnosis judges profiles by them.
    pub directories: Directories,
    /// Whether the directories were asked for (once per run, like `report` does).
    pub directories_asked: bool,
    /// Why `T` cannot ask the CA in this view, or `None` when it can.
    pub trial_off: Option<String>,
    /// The directory every trial uses instead of the issuer's staging counterpart.
    pub trial_directory: Option<String>,
    /// Trials by the Certificate they ask about: the latest one of each.
    pub trials: HashMap<ObjectRef, TrialRun>,
    /// The engine batch screen (`b`), and the batch of this process if one runs.
    pub batch: super::batch::BatchScreen,
}

/// One trial at the CA (`T`), as it goes and as it ended.
#[derive(Debug, Clone)]
pub struct TrialRun {
    /// Matches the answers of its command.
    pub id: u64,
    /// The directory asked.
    pub directory: String,
    /// The names asked about.
    pub names: Vec<String>,
    /// When it started (the view's clock).
    pub started: Timestamp,
    /// What happened so far, one line each.
    pub progress: Vec<String>,
    /// The CA's verdicts, once it ended.
    pub report: Option<crate::engine::trial::TrialReport>,
    /// Why it could not run.
    pub error: Option<String>,
}

impl TrialRun {
    /// Whether it is still running.
    pub fn running(&self) -> bool {
        self.report.is_none() && self.error.is_none()
    }
}

/// Where a live cluster feed stands.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// Connected, or reconnecting and why.
    pub link: Option<LinkState>,
    /// Objects received while listing (before the first picture).
    pub listed: usize,
    /// Whether a picture is being diagnosed now.
    pub diagnosing: bool,
    /// The newest picture not yet diagnosed: only the newest matters, older ones are dropped.
    pub pending: Option<Arc<Inventory>>,
    /// Pictures received so far.
    pub pictures: u64,
    /// Namespaces whose write permissions were asked for.
    pub prefetched: std::collections::BTreeSet<String>,
}

/// How the overview is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Failing first, then in progress, unknown, ready; worst root cause first within each.
    #[default]
    Urgency,
    /// By namespace and name.
    Name,
    /// Soonest expiry first (no expiry last).
    Expiry,
}

impl Sort {
    /// The next sort order (`s`).
    pub fn next(self) -> Sort {
        match self {
            Sort::Urgency => Sort::Name,
            Sort::Name => Sort::Expiry,
            Sort::Expiry => Sort::Urgency,
        }
    }

    /// The label shown in the header.
    pub fn label(self) -> &'static str {
        match self {
            Sort::Urgency => "failing first",
            Sort::Name => "name",
            Sort::Expiry => "expiry",
        }
    }
}

/// The Certificate list's state.
#[derive(Debug, Clone, Default)]
pub struct Overview {
    /// Substring filter on namespace/name and DNS names (lowercase compare).
    pub filter: String,
    /// Whether keys go into the filter.
    pub editing_filter: bool,
    /// The namespace shown, as an index into [`Estate::namespaces`]; `None` for all.
    pub namespace: Option<usize>,
    /// Sort order.
    pub sort: Sort,
    /// Whether orphan objects are listed as rows.
    pub show_orphans: bool,
    /// The rows shown, as indices into [`Estate::rows`], in display order.
    pub visible: Vec<usize>,
    /// The selected position in `visible`.
    pub selected: usize,
    /// The first position drawn.
    pub offset: usize,
}

impl Overview {
    /// The selected row's index into [`Estate::rows`].
    pub fn selected_row(&self) -> Option<usize> {
        self.visible.get(self.selected).copied()
    }
}

/// One line of the chain tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeRow {
    /// Indentation level.
    pub depth: u16,
    /// What the line shows.
    pub item: TreeItem,
}

/// What a chain-tree line shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeItem {
    /// A chain node, by its path of child indices from the diagnosis's root node.
    Node(Vec<usize>),
    /// Older revisions, folded (`h` unfolds them).
    Folded(usize),
}

/// The chain screen's state.
#[derive(Debug, Clone, Default)]
pub struct ChainView {
    /// Index into [`Estate::diagnoses`].
    pub diagnosis: usize,
    /// Whether older revisions are listed.
    pub show_history: bool,
    /// The tree, flattened.
    pub nodes: Vec<TreeRow>,
    /// The selected line.
    pub selected: usize,
    /// The first line drawn.
    pub offset: usize,
    /// The detail pane's first line.
    pub detail_scroll: usize,
    /// Whether the detail pane shows the object's YAML.
    pub yaml: bool,
}

impl ChainView {
    /// Opens diagnosis `d` of `estate` with the root selected.
    pub fn open(estate: &Estate, d: usize) -> ChainView {
        let mut v = ChainView {
            diagnosis: d,
            ..Default::default()
        };
        v.rebuild(&estate.diagnoses[d]);
        v
    }

    /// Flattens the tree again (after `h`), keeping the selection on the same node if shown.
    pub fn rebuild(&mut self, d: &Diagnosis) {
        let keep = self.nodes.get(self.selected).cloned();
        self.nodes.clear();
        flatten(
            &d.chain,
            0,
            &mut Vec::new(),
            self.show_history,
            &mut self.nodes,
        );
        self.selected = keep
            .and_then(|k| self.nodes.iter().position(|n| *n == k))
            .unwrap_or(0)
            .min(self.nodes.len().saturating_sub(1));
    }

    /// The selected chain node, if a node (not a fold) is selected.
    pub fn selected_node<'a>(&self, d: &'a Diagnosis) -> Option<&'a ChainNode> {
        match &self.nodes.get(self.selected)?.item {
            TreeItem::Node(path) => node_at(&d.chain, path),
            TreeItem::Folded(_) => None,
        }
    }
}

/// The node at `path` below `root`.
pub fn node_at<'a>(root: &'a ChainNode, path: &[usize]) -> Option<&'a ChainNode> {
    path.iter().try_fold(root, |n, &i| n.children.get(i))
}

fn flatten(
    node: &ChainNode,
    depth: u16,
    path: &mut Vec<usize>,
    show_history: bool,
    out: &mut Vec<TreeRow>,
) {
    out.push(TreeRow {
        depth,
        item: TreeItem::Node(path.clone()),
    });
    let history = node.children.iter().filter(|c| c.history).count();
    for (i, c) in node.children.iter().enumerate() {
        if c.history && !show_history {
            continue;
        }
        path.push(i);
        flatten(c, depth + 1, path, show_history, out);
        path.pop();
    }
    // History is folded into one line at the level it would appear, after the current attempt.
    if history > 0 && !show_history && !node.history {
        out.push(TreeRow {
            depth: depth + 1,
            item: TreeItem::Folded(history),
        });
    }
}

/// Live checks: whether they can run, and every run so far by Challenge.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    /// Why checks cannot run, or `None` when they can.
    pub disabled: Option<String>,
    /// Where they run from (host, resolver).
    pub from: Option<String>,
    /// Runs by `Challenge ns/name`.
    pub runs: HashMap<String, CheckRun>,
    /// Generation counter: results from a superseded run are dropped.
    pub next_gen: u64,
}

impl Checks {
    /// How many targets are being checked now.
    pub fn running(&self) -> usize {
        self.runs
            .values()
            .filter(|r| r.running_since.is_some())
            .count()
    }
}

/// The checks of one Challenge: the latest result and whether a run is under way.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRun {
    /// What is checked.
    pub target: Target,
    /// The generation of the latest run started.
    pub generation: u64,
    /// When the current run started (on the app clock), if one is under way.
    pub running_since: Option<Timestamp>,
    /// The latest finished result (kept while a re-run is under way).
    pub result: Option<PlaybookResult>,
    /// The latest run's failure (the task died), if any.
    pub error: Option<String>,
}

/// A dialog or the help, drawn over the screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    /// The key list.
    Help {
        /// First line shown.
        scroll: usize,
    },
    /// Confirm a cluster write.
    Confirm(Box<Confirm>),
    /// Choose an export format.
    Export(ExportDialog),
    /// "Stop the batch?": leaving drops the engine batch that still runs.
    StopBatch,
}

/// A write waiting for confirmation.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    /// The dialog's title, e.g. `Retry Certificate shop/www?`.
    pub title: String,
    /// The write; `None` when there is nothing to write (a refused retry says why in
    /// `blocked`).
    pub action: Option<Action>,
    /// Why this write, to this object, in one sentence (retry by intent).
    pub why: Option<String>,
    /// Exactly what will change.
    pub description: String,
    /// Why the write will probably fail the same way.
    pub warnings: Vec<String>,
    /// Why it cannot be done, if it cannot: the dialog then only informs.
    pub blocked: Option<String>,
    /// The attempt to follow once the write succeeds.
    pub follow: Option<Attempt>,
}

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportScope {
    /// One diagnosis (the selected Certificate).
    Diagnosis(usize),
    /// Every diagnosis.
    All,
}

/// The export dialog's state.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportDialog {
    /// What is exported.
    pub scope: ExportScope,
    /// The format chosen.
    pub format: Format,
}

/// An action or export in flight.
#[derive(Debug, Clone, PartialEq)]
pub struct Busy {
    /// Id matched by the result message.
    pub id: u64,
    /// What is being done, e.g. `retry Order shop/www-1-123`.
    pub label: String,
    /// When it started, on the app clock.
    pub since: Timestamp,
}

/// How a status message reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    /// Neutral information.
    Info,
    /// Something succeeded.
    Ok,
    /// Something failed or was refused.
    Error,
}

/// The status line's message.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusLine {
    /// The text, one line.
    pub text: String,
    /// How it reads.
    pub kind: StatusKind,
}

impl App {
    /// A new view of `inventory`, diagnosing it: returns the command that does the work off
    /// the UI thread; the overview appears when its result (`Msg::Loaded`) comes back.
    pub fn new(cfg: AppConfig, inventory: Inventory) -> (App, Vec<Cmd>) {
        let inventory = Arc::new(inventory);
        let app = App {
            source_label: cfg.source_label,
            load_problems: cfg.load_problems,
            object_count: inventory.len(),
            data_now: cfg.now,
            clock: cfg.now,
            estate: None,
            overview: Overview {
                filter: cfg.filter,
                ..Overview::default()
            },
            chain: None,
            overlay: None,
            checks: Checks {
                disabled: cfg.checks_disabled,
                from: cfg.checks_from,
                ..Default::default()
            },
            actions: cfg.actions,
            read_only: cfg.read_only,
            export_dir: cfg.export_dir,
            busy: Vec::new(),
            status: None,
            browser: false,
            size: cfg.size,
            theme: cfg.theme,
            quit: false,
            suspend: false,
            copy: None,
            next_id: 1,
            live: None,
            pending_attempt: None,
            attempt: None,
            directories: Directories::default(),
            // Not reading them counts as asked: nothing will ask.
            directories_asked: !cfg.read_directories,
            trial_off: cfg.trial_off,
            trial_directory: cfg.trial_directory,
            trials: HashMap::new(),
            batch: Default::default(),
        };
        let now = app.data_now;
        let directories = Directories::default();
        (
            app,
            vec![Cmd::Diagnose {
                inventory,
                now,
                directories,
            }],
        )
    }

    /// The state for a live cluster: nothing to diagnose until the feed's first picture
    /// arrives as [`super::Msg::SourceUpdated`].
    pub fn new_live(cfg: AppConfig) -> App {
        let (mut app, _) = App::new(cfg, Inventory::default());
        app.live = Some(Live::default());
        app
    }

    /// The selected overview row, if any.
    pub fn selected_row(&self) -> Option<&Row> {
        let e = self.estate.as_ref()?;
        e.rows.get(self.overview.selected_row()?)
    }

    /// The diagnosis in focus: the chain screen's, else the selected row's.
    pub fn focused_diagnosis(&self) -> Option<usize> {
        match &self.chain {
            Some(c) => Some(c.diagnosis),
            None => self.selected_row().map(|r| r.diagnosis),
        }
    }

    /// The object in focus: the selected node of the open chain, else the selected row's
    /// subject.
    pub fn focused_object(&self) -> Option<ObjectRef> {
        let e = self.estate.as_ref()?;
        let d = &e.diagnoses[self.focused_diagnosis()?];
        if let Some(c) = &self.chain
            && let Some(TreeItem::Node(path)) = c.nodes.get(c.selected).map(|n| &n.item)
        {
            return node_at(&d.chain, path).map(|n| n.object.clone());
        }
        Some(d.subject.clone())
    }

    /// Whether the runtime should send ticks: something is running, or a countdown is shown.
    pub fn wants_ticks(&self) -> bool {
        if self.checks.running() > 0
            || !self.busy.is_empty()
            || self.batch.wants_ticks()
            || self.trials.values().any(TrialRun::running)
        {
            return true;
        }
        let Some(e) = &self.estate else {
            return false;
        };
        let future = |t: Option<Timestamp>| t.is_some_and(|t| t > self.clock);
        match &self.chain {
            // The detail pane may show any finding's countdown, not only the root cause's.
            Some(c) => e.diagnoses[c.diagnosis]
                .findings
                .iter()
                .any(|f| future(f.rate_limit.as_ref().and_then(|r| r.retry_after))),
            // Every listed rate-limited row shows its countdown.
            None => self
                .overview
                .visible
                .iter()
                .any(|&i| future(e.rows[i].retry_after)),
        }
    }

    /// Sets the status line.
    pub fn say(&mut self, kind: StatusKind, text: impl Into<String>) {
        self.status = Some(StatusLine {
            text: crate::model::state::one_line(&text.into()),
            kind,
        });
    }
}

/// The first line to draw so that `selected` is within a window of `height` lines, moving as
/// little as possible from `offset`.
pub fn scroll_offset(offset: usize, selected: usize, height: usize) -> usize {
    let height = height.max(1);
    if selected < offset {
        selected
    } else if selected >= offset + height {
        selected + 1 - height
    } else {
        offset
    }
}
