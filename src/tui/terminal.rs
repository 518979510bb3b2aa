//! Taking over the terminal and giving it back: raw mode and the alternate screen on entry;
//! on exit, on error and on panic (any thread), the terminal is restored before anything is
//! printed, so a panic report is readable and the shell is usable afterwards.

use std::io::{self, Stdout, stdout};
use std::panic::PanicHookInfo;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The terminal type the runtime draws on.
pub type Term = Terminal<CrosstermBackend<Stdout>>;

type Hook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Set by the panic hook: the runtime stops at its next turn instead of drawing over a
/// restored terminal.
static PANICKED: AtomicBool = AtomicBool::new(false);

/// Whether anything panicked since the session started.
pub fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

/// The terminal, taken over; restored when dropped.
pub struct Session {
    /// Where frames are drawn.
    pub terminal: Term,
    previous_hook: Option<Arc<Hook>>,
}

/// Takes over the terminal: raw mode, alternate screen, hidden cursor, panic hook.
pub fn enter() -> io::Result<Session> {
    PANICKED.store(false, Ordering::SeqCst);
    // The hook goes in first so a panic half-way through setting up still restores.
    let previous = install_hook();
    let setup = enable_raw_mode()
        .and_then(|_| execute!(stdout(), EnterAlternateScreen, Hide))
        .and_then(|_| Terminal::new(CrosstermBackend::new(stdout())));
    match setup {
        Ok(terminal) => Ok(Session {
            terminal,
            previous_hook: Some(previous),
        }),
        Err(e) => {
            reinstate(previous);
            let _ = restore();
            Err(e)
        }
    }
}

impl Session {
    /// Gives the terminal back, reporting failure (drop does the same silently).
    pub fn leave(mut self) -> io::Result<()> {
        if let Some(prev) = self.previous_hook.take() {
            reinstate(prev);
        }
        restore()
    }
}

/// Puts back exactly the panic behaviour that was there before (color-eyre's, the
/// default...): ours is dropped, panics go to the saved hook.
fn reinstate(previous: Arc<Hook>) {
    drop(std::panic::take_hook());
    std::panic::set_hook(Box::new(move |info| previous(info)));
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(prev) = self.previous_hook.take() {
            // The panic hook cannot be swapped while this thread unwinds (std panics on it);
            // ours stays, and it only restores the terminal before forwarding.
            if !std::thread::panicking() {
                reinstate(prev);
            }
            let _ = restore();
        }
    }
}

/// Gives the terminal back and stops the process as Ctrl-Z would (SIGTSTP to itself); when
/// the shell resumes it (`fg`), takes the terminal over again and makes the next frame a
/// full redraw.
pub fn suspend(terminal: &mut Term) -> io::Result<()> {
    restore()?;
    // SAFETY: raise only sends a signal to this process; SIGTSTP's default action stops it
    // until SIGCONT, and certdx installs no handler for it.
    unsafe {
        libc::raise(libc::SIGTSTP);
    }
    enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen, Hide)?;
    terminal.clear()
}

/// Puts `text` on the clipboard of the terminal certdx draws on, with the OSC 52 escape
/// (xterm's; kitty, WezTerm, iTerm2, Windows Terminal and tmux with `set-clipboard on` honour
/// it, also through SSH, where no clipboard program could reach the user's desktop). The
/// terminal gives no answer, so whether it was honoured cannot be known here.
pub fn copy_to_clipboard(text: &str) -> io::Result<()> {
    use base64::Engine as _;
    use std::io::Write as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let mut out = stdout();
    write!(out, "\x1b]52;c;{encoded}\x07")?;
    out.flush()
}

/// Leaves the alternate screen and raw mode and shows the cursor. Safe to call twice.
pub fn restore() -> io::Result<()> {
    let raw = disable_raw_mode();
    let screen = execute!(stdout(), LeaveAlternateScreen, Show);
    raw.and(screen)
}

fn install_hook() -> Arc<Hook> {
    let previous: Arc<Hook> = Arc::new(std::panic::take_hook());
    let chained = Arc::clone(&previous);
    std::panic::set_hook(Box::new(move |info| {
        PANICKED.store(true, Ordering::SeqCst);
        let _ = restore();
        chained(info);
    }));
    previous
}
