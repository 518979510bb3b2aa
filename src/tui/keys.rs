//! Keys to intents. One table drives both the mapping and the help screen, so the help can
//! never list a key that does nothing or miss one that does something.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{App, Overlay};
use super::msg::Msg;
use crate::report::Format;

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// On both screens.
    Global,
    /// On the Certificate list.
    Overview,
    /// On the chain screen.
    Chain,
    /// On the engine batch screen.
    Batch,
}

impl Context {
    /// The help section title.
    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "Everywhere",
            Context::Overview => "Certificate list",
            Context::Chain => "Chain and detail",
            Context::Batch => "Engine batch",
        }
    }
}

/// One key binding.
#[derive(Debug, Clone)]
pub struct Binding {
    /// The keys, matched without regard to Shift (the character already says it).
    pub keys: &'static [KeyCode],
    /// How the keys are written in the help.
    pub label: &'static str,
    /// What it does.
    pub help: &'static str,
    /// Where it applies.
    pub context: Context,
    /// The intent it sends.
    pub msg: Msg,
}

const fn ch(c: char) -> KeyCode {
    KeyCode::Char(c)
}

macro_rules! bindings {
    ($( $ctx:ident [$($key:expr),+] $label:literal => $msg:expr, $help:literal; )*) => {
        /// Every binding outside dialogs and filter editing, in help order.
        pub static BINDINGS: &[Binding] = &[
            $( Binding { keys: &[$($key),+], label: $label, help: $help, context: Context::$ctx, msg: $msg }, )*
        ];
    };
}

bindings! {
    Global [ch('?')] "?" => Msg::Help, "show or hide this help";
    Global [ch('q')] "q / Ctrl-C" => Msg::Quit, "quit (q asks first while a batch runs)";
    // Ctrl-Z itself is matched in `map_key` (it carries a modifier); 0x1a is the byte it sends.
    Global [ch('\u{1a}')] "Ctrl-Z" => Msg::Suspend, "suspend (fg comes back)";
    Global [KeyCode::Esc] "Esc" => Msg::Back, "back (quit from the list)";
    Global [KeyCode::Up, ch('k')] "↑ / k" => Msg::Up, "previous line";
    Global [KeyCode::Down, ch('j')] "↓ / j" => Msg::Down, "next line";
    Global [KeyCode::Home, ch('g')] "Home / g" => Msg::Home, "first line";
    Global [KeyCode::End, ch('G')] "End / G" => Msg::End, "last line";
    Global [ch('f'), KeyCode::Tab] "f / Tab" => Msg::NextFailing, "next failing";
    Global [ch('c')] "c" => Msg::RunChecks, "run live checks for the selection";
    Global [ch('r')] "r" => Msg::RerunChecks, "re-run every check already run";
    Global [ch('R')] "R" => Msg::Retry, "retry: cert-manager issues again (asks first)";
    Global [ch('N')] "N" => Msg::Renew, "renew the Certificate (asks first)";
    Global [ch('e')] "e" => Msg::Export, "export this diagnosis (Markdown/JSON/HTML)";
    Global [ch('E')] "E" => Msg::ExportAll, "export every diagnosis";
    Global [ch('u')] "u" => Msg::Unpause, "paused ACME account: open its unpause page";
    Global [ch('Y')] "Y" => Msg::Copy, "copy the unpause link, else the next command";
    Global [ch('T')] "T" => Msg::Trial, "trial: ask the CA (staging) what it sees for these names";
    Global [ch('b')] "b" => Msg::ShowBatch, "engine batch screen (b or Esc comes back)";
    Overview [KeyCode::Enter, KeyCode::Right, ch('l')] "Enter / →" => Msg::Open, "open the chain";
    Overview [KeyCode::PageUp] "PgUp" => Msg::PageUp, "page up";
    Overview [KeyCode::PageDown] "PgDn" => Msg::PageDown, "page down";
    Overview [ch('/')] "/" => Msg::FilterStart, "filter by namespace/name or DNS name";
    Overview [ch('n')] "n" => Msg::CycleNamespace, "next namespace";
    Overview [ch('s')] "s" => Msg::CycleSort, "next sort order";
    Overview [ch('o')] "o" => Msg::ToggleOrphans, "list orphan objects or hide them";
    Chain [KeyCode::Left, KeyCode::Backspace] "← / Backspace" => Msg::Back, "back to the list";
    Chain [KeyCode::Enter] "Enter" => Msg::Open, "unfold older revisions on a fold line";
    Chain [ch('h')] "h" => Msg::ToggleHistory, "show or fold older revisions";
    Chain [ch('y')] "y" => Msg::ToggleYaml, "YAML of the selected object, or its fields";
    Chain [KeyCode::PageUp] "PgUp" => Msg::PageUp, "scroll the detail a page up";
    Chain [KeyCode::PageDown] "PgDn" => Msg::PageDown, "scroll the detail a page down";
    Chain [ch('K')] "K" => Msg::DetailUp, "scroll the detail a line up";
    Chain [ch('J')] "J" => Msg::DetailDown, "scroll the detail a line down";
    Batch [ch('F')] "F" => Msg::ToggleFailedOnly, "only failed or retrying certificates, or all";
    Batch [KeyCode::PageUp] "PgUp" => Msg::PageUp, "page up";
    Batch [KeyCode::PageDown] "PgDn" => Msg::PageDown, "page down";
    // Matched in `map_key` while a batch runs (it carries a modifier); 0x03 is the byte it sends.
    Batch [ch('\u{3}')] "Ctrl-C" => Msg::Interrupt, "stop a running batch at once and leave";
}

/// Keys in dialogs and while typing a filter, for the help screen (handled in [`map_key`]).
pub const MODAL_HELP: &[(&str, &str)] = &[
    ("filter", "Enter keeps it, Esc clears it, Backspace deletes"),
    (
        "filter",
        "is:readiness lists what the 2026 CA changes break",
    ),
    (
        "filter",
        "the list shrinks as you type; every letter is typed",
    ),
    (
        "confirm",
        "y confirms; Enter / n / Esc cancel: no write on reflex",
    ),
    (
        "stop batch",
        "y stops the batch and leaves; n / Esc keep it running",
    ),
    ("export", "m / j / h write Markdown / JSON / HTML at once"),
    (
        "export",
        "←/→ choose a format, Enter writes it, Esc cancels",
    ),
    ("help", "↑/↓ / PgUp / PgDn scroll, ? / Esc / q close"),
];

/// How certdx's keys differ from k9s's and lazygit's, for the help screen and the README: a
/// user's habits from those tools meet these keys first. An empty key continues the line
/// above. `tests/tui_update.rs` checks each claim against [`map_key`].
pub const COMPARED: &[(&str, &str)] = &[
    ("/", "filters the list, as in k9s; it does not search,"),
    ("", "so there is no next-match key (lazygit's n / N)"),
    ("n", "next namespace on the list (k9s switches with :ns)"),
    (
        "e",
        "exports a report (k9s edits with e; certdx never edits)",
    ),
    (
        "R / N",
        "retry, renew: capitals, so a stray key never writes",
    ),
    ("confirm", "only y confirms a retry or renew; Enter cancels"),
];

/// The intent of a key press in the current state, if it has one.
pub fn map_key(app: &App, key: KeyEvent) -> Option<Msg> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c' | 'C')) {
        // Ctrl-C never asks: with a batch running it stops it, where `q` would ask first.
        return Some(if app.batch.running() {
            Msg::Interrupt
        } else {
            Msg::Quit
        });
    }
    // Raw mode turns off the terminal's own Ctrl-Z, so the view does what it would have done.
    if ctrl && matches!(key.code, KeyCode::Char('z' | 'Z')) {
        return Some(Msg::Suspend);
    }
    match &app.overlay {
        Some(Overlay::Help { .. }) => {
            return match key.code {
                KeyCode::Up | KeyCode::Char('k') => Some(Msg::Up),
                KeyCode::Down | KeyCode::Char('j') => Some(Msg::Down),
                KeyCode::PageUp => Some(Msg::PageUp),
                KeyCode::PageDown => Some(Msg::PageDown),
                KeyCode::Char('?' | 'q') | KeyCode::Esc | KeyCode::Enter => Some(Msg::Back),
                _ => None,
            };
        }
        Some(Overlay::Confirm(_)) => {
            return match key.code {
                // Only a deliberate `y` writes to the cluster: Enter, pressed out of habit to
                // get past a dialog, cancels.
                KeyCode::Char('y' | 'Y') => Some(Msg::Confirm),
                KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc | KeyCode::Enter => Some(Msg::Back),
                _ => None,
            };
        }
        Some(Overlay::StopBatch) => {
            return match key.code {
                KeyCode::Char('y' | 'Y') => Some(Msg::Confirm),
                KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc | KeyCode::Enter => Some(Msg::Back),
                _ => None,
            };
        }
        Some(Overlay::Export(_)) => {
            return match key.code {
                KeyCode::Char('m' | 'M') => Some(Msg::ExportFormat(Format::Markdown)),
                KeyCode::Char('j' | 'J') => Some(Msg::ExportFormat(Format::Json)),
                KeyCode::Char('h' | 'H') => Some(Msg::ExportFormat(Format::Html)),
                KeyCode::Left | KeyCode::Right | KeyCode::Tab | KeyCode::Char('e') => {
                    Some(Msg::ExportNextFormat)
                }
                KeyCode::Enter => Some(Msg::Confirm),
                KeyCode::Esc | KeyCode::Char('q') => Some(Msg::Back),
                _ => None,
            };
        }
        None => {}
    }
    if app.overview.editing_filter && app.chain.is_none() && !app.batch.open {
        return match key.code {
            KeyCode::Enter => Some(Msg::FilterAccept),
            KeyCode::Esc => Some(Msg::FilterCancel),
            KeyCode::Backspace => Some(Msg::FilterBackspace),
            KeyCode::Up => Some(Msg::Up),
            KeyCode::Down => Some(Msg::Down),
            KeyCode::Char(c) if !ctrl => Some(Msg::FilterInput(c)),
            _ => None,
        };
    }
    if ctrl {
        return None;
    }
    let here = if app.batch.open {
        Context::Batch
    } else if app.chain.is_some() {
        Context::Chain
    } else {
        Context::Overview
    };
    // Screen bindings first: they may reuse a global key with a screen meaning.
    let find = |ctx: Context| {
        BINDINGS
            .iter()
            .find(|b| b.context == ctx && b.keys.contains(&key.code))
            .map(|b| b.msg.clone())
    };
    find(here).or_else(|| find(Context::Global))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice_in_one_screen() {
        for screen in [Context::Overview, Context::Chain, Context::Batch] {
            let mut seen: Vec<KeyCode> = Vec::new();
            for b in BINDINGS
                .iter()
                .filter(|b| b.context == screen || b.context == Context::Global)
            {
                for k in b.keys {
                    // A screen binding may shadow a global one on purpose only for Esc-like keys.
                    assert!(
                        !seen.contains(k) || b.context == Context::Global,
                        "{k:?} bound twice on {screen:?}"
                    );
                    seen.push(*k);
                }
            }
        }
    }
}
