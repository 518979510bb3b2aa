//! The loop that runs the view: terminal events and command results come in as messages,
//! `update` turns them into state and commands, commands run as tokio tasks, and a frame is
//! drawn after each batch. Nothing here holds a lock while drawing, and the loop never awaits
//! the network or the disk itself: only the channel and the terminal.

mod trial;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream};
use futures::{FutureExt, StreamExt};
use jiff::SignedDuration;
use tokio::sync::{Semaphore, mpsc};

use super::app::{App, AppConfig, StatusKind};
use super::cmd::Cmd;
use super::error::TuiError;
use super::estate::Estate;
use super::keys::map_key;
use super::msg::Msg;
use super::terminal::{self, Term};
use super::theme::Theme;
use super::update::update;
use super::view::render;
use super::{ChecksConfig, TrialConfig, TuiInput};
use crate::actions::Actions;
use crate::checks::dns::Dns;
use crate::diagnose::cm_health::CertManagerHealth;
use crate::diagnose::playbook::run_playbook_guarded;
use crate::source::cluster::watch::{LiveEvent, LiveWatch};

mod batch;

pub use batch::run_batch_view;

/// Spinners and countdowns move at this rate, and only while something needs it.
const TICK: Duration = Duration::from_millis(100);

/// Runs the view on the real terminal until the user leaves.
pub async fn run(input: TuiInput) -> Result<(), TuiError> {
    let TuiInput {
        source_label,
        inventory,
        now,
        load_problems,
        checks,
        actions,
        read_only,
        export_dir,
        live,
        filter,
        trial,
    } = input;
    let session = terminal::enter()?;
    let mut session = session;
    let size = session.terminal.size()?;
    let checks_disabled = checks
        .is_none()
        .then(|| "offline session: certdx was started without network checks".to_owned());
    let checks_from = checks
        .as_ref()
        .map(|c| crate::checks::resolver::vantage(&c.dns));
    let actions: Arc<dyn Actions> = Arc::from(actions);
    let cfg = AppConfig {
        source_label,
        load_problems,
        now,
        checks_disabled,
        checks_from,
        actions: Arc::clone(&actions),
        read_only,
        export_dir,
        theme: Theme::from_env(),
        size: (size.width, size.height),
        filter,
        read_directories: checks.as_ref().is_some_and(|c| c.read_directories),
        trial_off: trial.as_ref().err().cloned(),
        trial_directory: trial.as_ref().ok().and_then(|t| t.directory.clone()),
    };
    let (mut app, cmds) = match &live {
        Some(_) => (App::new_live(cfg), Vec::new()),
        None => App::new(cfg, inventory),
    };
    app.browser = std::env::var_os("DISPLAY").is_some_and(|v| !v.is_empty())
        || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty());
    let (feed, client) = match live {
        Some(l) => (Some(l.feed), Some(l.client)),
        None => (None, None),
    };
    let mut executor = Executor::new(checks, actions).with_trials(trial.ok());
    if let Some(client) = client {
        executor = executor.with_cluster(client);
    }
    let executor = Arc::new(executor);
    let runner = Runner {
        executor: Arc::clone(&executor),
    };
    let result = event_loop(&mut session.terminal, app, cmds, runner, feed, None).await;
    let restored = session.leave();
    // A trial still running leaves nothing pending at the CA: it is stopped and its cleanup
    // deactivates what the CA has not decided (bounded; the next trial on the same store
    // deactivates whatever a cut-short cleanup left).
    let stopped = executor.trials.stop_all(TRIAL_STOP).await;
    if stopped > 0 {
        eprintln!(
            "certdx: stopped {stopped} trial(s); their pending authorizations were deactivated"
        );
    }
    result?;
    restored.map_err(TuiError::from)
}

async fn event_loop(
    terminal: &mut Term,
    mut app: App,
    cmds: Vec<Cmd>,
    runner: Runner,
    mut live: Option<LiveWatch>,
    mut engine: Option<&mut super::batch::BatchFeed<'_>>,
) -> Result<(), TuiError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let started = Instant::now();
    let data_now = app.data_now;
    let clock = move || {
        SignedDuration::try_from(started.elapsed())
            .ok()
            .and_then(|d| data_now.checked_add(d).ok())
            .unwrap_or(data_now)
    };
    for c in cmds {
        runner.spawn(c, tx.clone());
    }
    let mut events = EventStream::new();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    terminal.draw(|f| render(&app, f))?;
    loop {
        let msg = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(key))) => map_key(&app, key),
                Some(Ok(Event::Resize(w, h))) => Some(Msg::Resize(w, h)),
                Some(Ok(_)) => None,
                Some(Err(e)) => return Err(TuiError::Terminal(e)),
                // The terminal is gone: nobody is left to answer "stop the batch?".
                None => Some(Msg::Interrupt),
            },
            Some(m) = rx.recv() => Some(m),
            Some(ev) = next_live(&mut live), if live.is_some() => Some(match ev {
                LiveEvent::Listing { objects } => Msg::SourceListing(objects),
                LiveEvent::Snapshot(inv) => Msg::SourceUpdated(Arc::new(*inv)),
                LiveEvent::Link(state) => Msg::SourceLink(state),
            }),
            ev = batch::next(&mut engine), if engine.is_some() => match batch::news(ev) {
                Some(m) => Some(m),
                // A snapshot is read when the next frame is drawn (a tick while the batch
                // screen shows it): a burst of progress costs one frame.
                None => continue,
            },
            _ = ticker.tick(), if app.wants_ticks() => None,
        };
        let mut batch: Vec<Msg> = msg.into_iter().collect();
        // Everything already queued is applied before the next frame: a burst of results or
        // repeated keys costs one redraw.
        while let Ok(m) = rx.try_recv() {
            batch.push(m);
        }
        for m in batch {
            for c in update(&mut app, m) {
                runner.spawn(c, tx.clone());
            }
        }
        if terminal::panicked() {
            return Err(TuiError::Panicked(
                "see the report above; the terminal was restored".to_owned(),
            ));
        }
        if app.quit {
            return Ok(());
        }
        if let Some(text) = app.copy.take()
            && let Err(e) = terminal::copy_to_clipboard(&text)
        {
            app.say(StatusKind::Error, format!("could not copy: {e}"));
        }
        if std::mem::take(&mut app.suspend) {
            // Commands in flight keep running; their results wait in the channel.
            terminal::suspend(terminal)?;
        }
        update(&mut app, Msg::Tick(clock()));
        batch::before_frame(&mut app, &mut engine);
        terminal.draw(|f| render(&app, f))?;
    }
}

/// The feed's next event; a closed feed (its watchers stopped) is dropped so the loop stops
/// polling it.
async fn next_live(live: &mut Option<LiveWatch>) -> Option<LiveEvent> {
    let feed = live.as_mut()?;
    let ev = feed.events.recv().await;
    if ev.is_none() {
        *live = None;
    }
    ev
}

/// Executes commands as tasks; each answers with one message.
struct Runner {
    executor: Arc<Executor>,
}

impl Runner {
    fn spawn(&self, cmd: Cmd, tx: mpsc::UnboundedSender<Msg>) {
        let executor = Arc::clone(&self.executor);
        tokio::spawn(async move {
            let fallback = failure_msg(&cmd);
            // A panic was already reported (and flagged) by the hook; answering keeps the
            // loop turning so it notices and stops.
            let msg = std::panic::AssertUnwindSafe(executor.execute_with(cmd, Some(tx.clone())))
                .catch_unwind()
                .await
                .unwrap_or(fallback);
            let _ = tx.send(msg);
        });
    }
}

/// Starts the desktop's browser on `url` (`xdg-open`, which returns once it has handed the
/// URL over); bounded, its output kept off the screen the view draws on.
async fn open_url(url: &str) -> Result<(), String> {
    let child = tokio::process::Command::new("xdg-open")
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("xdg-open: {e}"))?;
    match tokio::time::timeout(Duration::from_secs(10), child.wait_with_output()).await {
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => Err(format!("xdg-open exited with {}", out.status)),
        Ok(Err(e)) => Err(format!("xdg-open: {e}")),
        Err(_) => Err("xdg-open did not return within 10 s".to_owned()),
    }
}

/// The message a command answers with when its task dies.
fn failure_msg(cmd: &Cmd) -> Msg {
    let why = "the task panicked".to_owned();
    match cmd {
        Cmd::RunCheck {
            key, generation, ..
        } => Msg::CheckFailed {
            key: key.clone(),
            generation: *generation,
            error: why,
        },
        Cmd::Perform { id, action } => Msg::ActionDone {
            id: *id,
            action: action.clone(),
            result: Err(why),
        },
        Cmd::Export { id, .. } => Msg::Exported {
            id: *id,
            result: Err(why),
        },
        Cmd::Diagnose { .. } => Msg::LoadFailed(why),
        Cmd::ReadDirectories { servers } => Msg::DirectoriesRead(
            servers
                .iter()
                .map(|s| (s.clone(), Err(why.clone())))
                .collect(),
        ),
        Cmd::Prefetch { .. } => Msg::Prefetched,
        Cmd::Trial { id, .. } => Msg::TrialDone {
            id: *id,
            result: Err(why.clone()),
        },
        Cmd::OpenUrl { .. } => Msg::UrlOpened(Err(why)),
    }
}

/// Does the work of commands: diagnosing, checking, writing to the cluster, exporting.
/// Public so tests can run a command for real and feed its answer to `update`.
pub struct Executor {
    checks: Option<Arc<ChecksConfig>>,
    actions: Arc<dyn Actions>,
    /// Bounds concurrent playbook runs to the playbook's own concurrency setting.
    limit: Arc<Semaphore>,
    /// A live cluster: checks then also read the Challenge's cluster side.
    cluster: Option<kube::Client>,
    /// cert-manager's health as last read, and when: pictures come with every change, the
    /// installation is read again at most every [`HEALTH_EVERY`].
    health: tokio::sync::Mutex<Option<(Instant, CertManagerHealth)>>,
    /// The trials (`T`) this view runs.
    trials: trial::Trials,
    /// The DNS run checks started close together share (`c` on many Challenges), and when it
    /// began: what `report` gets from one `run_many`.
    burst: std::sync::Mutex<Option<(Instant, Dns)>>,
}

/// How long checks started one after another share their DNS answers: long enough for `c` on
/// a list to count as one run, short enough that a re-check later asks again.
const BURST: Duration = Duration::from_secs(5);

/// How long closing the view waits for running trials to deactivate what is pending.
const TRIAL_STOP: Duration = Duration::from_secs(20);

/// How long a reading of cert-manager's health is reused.
const HEALTH_EVERY: Duration = Duration::from_secs(15);

impl Executor {
    /// An executor with `checks` (`None`: checks answer that they are off) and `actions`.
    pub fn new(checks: Option<ChecksConfig>, actions: Arc<dyn Actions>) -> Executor {
        let permits = checks.as_ref().map_or(1, |c| c.playbook.concurrency.max(1));
        Executor {
            checks: checks.map(Arc::new),
            actions,
            limit: Arc::new(Semaphore::new(permits)),
            cluster: None,
            health: tokio::sync::Mutex::new(None),
            burst: std::sync::Mutex::new(None),
            trials: trial::Trials::default(),
        }
    }

    /// The same executor, running trials (`T`) with `config`; without one, trials answer
    /// that they are off.
    pub fn with_trials(mut self, config: Option<TrialConfig>) -> Executor {
        self.trials = trial::Trials::new(config);
        self
    }

    /// The same executor, also reading the cluster side of checked Challenges.
    pub fn with_cluster(mut self, client: kube::Client) -> Executor {
        self.cluster = Some(client);
        self
    }

    /// cert-manager's health on the live cluster (`None` without one), reused for
    /// [`HEALTH_EVERY`].
    async fn health(&self, now: jiff::Timestamp) -> Option<CertManagerHealth> {
        let client = self.cluster.as_ref()?;
        let mut cached = self.health.lock().await;
        if let Some((at, h)) = cached.as_ref()
            && at.elapsed() < HEALTH_EVERY
        {
            return Some(h.clone());
        }
        let h = crate::diagnose::cm_health::cert_manager_health(client, now).await;
        *cached = Some((Instant::now(), h.clone()));
        Some(h)
    }

    /// The DNS run of the current burst of checks, or a new one.
    fn burst_dns(&self, base: &Dns) -> Dns {
        let mut burst = self.burst.lock().unwrap_or_else(|e| e.into_inner());
        match burst.as_ref() {
            Some((at, dns)) if at.elapsed() < BURST => dns.clone(),
            _ => {
                let dns = base.for_run();
                *burst = Some((Instant::now(), dns.clone()));
                dns
            }
        }
    }

    /// Runs `cmd` to completion and returns the message it answers with. CPU-heavy and
    /// blocking work (diagnosis, rendering and writing reports) runs on the blocking pool.
    pub async fn execute(&self, cmd: Cmd) -> Msg {
        self.execute_with(cmd, None).await
    }

    /// Like [`Executor::execute`]; a command that reports progress (a trial) sends it to
    /// `progress` as messages while it runs.
    pub async fn execute_with(
        &self,
        cmd: Cmd,
        progress: Option<mpsc::UnboundedSender<Msg>>,
    ) -> Msg {
        match cmd {
            Cmd::Trial {
                id,
                names,
                directory,
                method,
            } => {
                self.trials
                    .run(id, names, directory, method, progress)
                    .await
            }
            Cmd::Diagnose {
                inventory,
                now,
                directories,
            } => {
                let health = self.health(now).await;
                let build = move || Estate::build_with(inventory, now, health, directories);
                match tokio::task::spawn_blocking(build).await {
                    Ok(estate) => Msg::Loaded(Box::new(estate)),
                    Err(e) => Msg::LoadFailed(e.to_string()),
                }
            }
            Cmd::ReadDirectories { servers } => {
                let Some(cfg) = self.checks.clone() else {
                    let why = "live checks are off".to_owned();
                    return Msg::DirectoriesRead(
                        servers.into_iter().map(|s| (s, Err(why.clone()))).collect(),
                    );
                };
                let timeout = cfg.playbook.http.timeout;
                Msg::DirectoriesRead(
                    crate::checks::directory::fetch_all(servers, &cfg.dns, timeout).await,
                )
            }
            Cmd::RunCheck {
                key,
                generation,
                target,
            } => {
                let Some(cfg) = self.checks.clone() else {
                    return Msg::CheckFailed {
                        key,
                        generation,
                        error: "live checks are off".to_owned(),
                    };
                };
                let _permit = self.limit.clone().acquire_owned().await.ok();
                let dns = self.burst_dns(&cfg.dns);
                let mut result = run_playbook_guarded(&dns, &target, &cfg.playbook).await;
                if let Some(client) = &self.cluster {
                    crate::diagnose::cluster::add_cluster_side(client, &cfg.dns, &mut result).await;
                }
                Msg::CheckDone {
                    key,
                    generation,
                    result: Box::new(result),
                }
            }
            Cmd::Prefetch { namespaces } => {
                self.actions.prefetch(namespaces).await;
                Msg::Prefetched
            }
            Cmd::OpenUrl { url } => Msg::UrlOpened(open_url(&url).await.map(|()| url)),
            Cmd::Perform { id, action } => {
                let result = self.actions.perform(action.clone()).await;
                Msg::ActionDone { id, action, result }
            }
            Cmd::Export {
                id,
                path,
                format,
                report,
            } => {
                let write = move || {
                    let text = crate::report::render(&report, format);
                    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir)
                            .map_err(|e| format!("{}: {e}", dir.display()))?;
                    }
                    std::fs::write(&path, text)
                        .map(|_| path.clone())
                        .map_err(|e| format!("{}: {e}", path.display()))
                };
                let result = tokio::task::spawn_blocking(write)
                    .await
                    .unwrap_or_else(|e| Err(format!("export failed: {e}")));
                Msg::Exported { id, result }
            }
        }
    }
}
