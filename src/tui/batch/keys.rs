//! Keys to intents. One table drives the mapping and the help line, so the help can never
//! list a key that does nothing.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::msg::BatchMsg;
use super::state::BatchView;

/// One binding: the keys, how the help writes them, what they do, and whether the short
/// hint line shows it too.
pub(super) struct Key {
    keys: &'static [KeyCode],
    pub label: &'static str,
    pub help: &'static str,
    pub hint: bool,
    msg: BatchMsg,
}

const fn ch(c: char) -> KeyCode {
    KeyCode::Char(c)
}

/// Every binding outside the question, in help order.
pub(super) static KEYS: &[Key] = &[
    Key {
        keys: &[KeyCode::Down, ch('j')],
        label: "↓/j",
        help: "next",
        hint: true,
        msg: BatchMsg::Down,
    },
    Key {
        keys: &[KeyCode::Up, ch('k')],
        label: "↑/k",
        help: "previous",
        hint: true,
        msg: BatchMsg::Up,
    },
    Key {
        keys: &[KeyCode::PageDown],
        label: "PgDn",
        help: "page down",
        hint: false,
        msg: BatchMsg::PageDown,
    },
    Key {
        keys: &[KeyCode::PageUp],
        label: "PgUp",
        help: "page up",
        hint: false,
        msg: BatchMsg::PageUp,
    },
    Key {
        keys: &[KeyCode::Home, ch('g')],
        label: "g",
        help: "first",
        hint: false,
        msg: BatchMsg::Home,
    },
    Key {
        keys: &[KeyCode::End, ch('G')],
        label: "G",
        help: "last",
        hint: false,
        msg: BatchMsg::End,
    },
    Key {
        keys: &[ch('f')],
        label: "f",
        help: "only failed/retrying",
        hint: true,
        msg: BatchMsg::ToggleFailedOnly,
    },
    Key {
        keys: &[ch('?')],
        label: "?",
        help: "keys",
        hint: true,
        msg: BatchMsg::Help,
    },
    Key {
        keys: &[ch('q'), KeyCode::Esc],
        label: "q/Esc",
        help: "leave (asks while running)",
        hint: true,
        msg: BatchMsg::Quit,
    },
];

/// The Ctrl keys, listed with the others but matched before them (they work even while
/// asking).
pub(super) const CONTROL_KEYS: [(&str, &str); 2] = [
    ("Ctrl-C", "leave now"),
    ("Ctrl-Z", "suspend (fg comes back)"),
];

/// The intent of a key press in the current state, if it has one.
pub fn map_key(view: &BatchView, key: KeyEvent) -> Option<BatchMsg> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c' | 'C')) {
        return Some(BatchMsg::Interrupt);
    }
    // Raw mode turns off the terminal's own Ctrl-Z: the view does what it would have done.
    if ctrl && matches!(key.code, KeyCode::Char('z' | 'Z')) {
        return Some(BatchMsg::Suspend);
    }
    if view.confirm {
        return match key.code {
            KeyCode::Char('y' | 'Y') => Some(BatchMsg::Answer(true)),
            KeyCode::Char('n' | 'N') | KeyCode::Esc => Some(BatchMsg::Answer(false)),
            _ => None,
        };
    }
    if ctrl {
        return None;
    }
    KEYS.iter()
        .find(|k| k.keys.contains(&key.code))
        .map(|k| k.msg.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::theme::Theme;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn keys_map_to_intents_and_the_question_takes_only_its_answer() {
        let now = "2026-01-15T12:00:00Z".parse().unwrap();
        let mut v = BatchView::new(String::new(), Theme::MONO, (100, 30), now);
        let none = KeyModifiers::NONE;
        let map = |v: &BatchView, c| map_key(v, press(c, none));
        assert!(matches!(map(&v, ch('j')), Some(BatchMsg::Down)));
        assert!(matches!(map(&v, ch('G')), Some(BatchMsg::End)));
        assert!(matches!(map(&v, KeyCode::Esc), Some(BatchMsg::Quit)));
        assert!(map(&v, ch('y')).is_none());
        v.confirm = true;
        assert!(matches!(map(&v, ch('y')), Some(BatchMsg::Answer(true))));
        assert!(matches!(
            map(&v, KeyCode::Esc),
            Some(BatchMsg::Answer(false))
        ));
        assert!(map(&v, ch('j')).is_none());
        assert!(matches!(
            map_key(&v, press(ch('c'), KeyModifiers::CONTROL)),
            Some(BatchMsg::Interrupt)
        ));
        assert!(matches!(
            map_key(&v, press(ch('z'), KeyModifiers::CONTROL)),
            Some(BatchMsg::Suspend)
        ));
        super::super::update::update(&mut v, BatchMsg::Suspend);
        assert!(v.suspend, "the loop is asked to suspend");
    }
}
