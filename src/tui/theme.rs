//! Colours and markers. With `NO_COLOR` set, no colour is emitted at all: state is carried by
//! markers (`✗ ● ? ✓`) and emphasis (bold, reverse), so nothing depends on colour alone.

use ratatui::style::{Color, Modifier, Style};

use crate::model::{Severity, State};

/// How the interface is painted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Whether colours may be used (false when `NO_COLOR` is set to anything non-empty).
    pub color: bool,
}

impl Theme {
    /// Colour unless the `NO_COLOR` convention (<https://no-color.org>) says otherwise.
    pub fn from_env() -> Theme {
        Theme::from_no_color(std::env::var_os("NO_COLOR").as_deref())
    }

    /// The theme for a `NO_COLOR` value: set and non-empty means no colour.
    pub fn from_no_color(value: Option<&std::ffi::OsStr>) -> Theme {
        Theme {
            color: value.is_none_or(|v| v.is_empty()),
        }
    }

    /// A theme with colours.
    pub const COLOR: Theme = Theme { color: true };

    /// A theme without colours.
    pub const MONO: Theme = Theme { color: false };

    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    /// The marker printed before a state, so state reads without colour too.
    pub fn marker(state: State) -> &'static str {
        match state {
            State::Failed => "✗",
            State::InProgress => "●",
            State::Unknown => "?",
            State::Ready => "✓",
        }
    }

    /// The style of text coloured by a state.
    pub fn state(self, state: State) -> Style {
        match state {
            State::Failed => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            State::InProgress => self.fg(Color::Yellow),
            State::Unknown => self.fg(Color::Magenta),
            State::Ready => self.fg(Color::Green),
        }
    }

    /// The style of a severity label.
    pub fn severity(self, sev: Severity) -> Style {
        match sev {
            Severity::Fatal => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Severity::Error => self.fg(Color::Red),
            Severity::Warning => self.fg(Color::Yellow),
            Severity::Info => self.fg(Color::Blue),
        }
    }

    /// The selected row: reversed, which works with and without colour.
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// The one highlighted root-cause line.
    pub fn root_cause(self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        }
    }

    /// Column headers and section titles.
    pub fn heading(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// Labels of key/value lines.
    pub fn label(self) -> Style {
        self.fg(Color::Gray).add_modifier(Modifier::DIM)
    }

    /// Secondary text: history, hints, folded rows.
    pub fn dim(self) -> Style {
        self.fg(Color::DarkGray).add_modifier(Modifier::DIM)
    }

    /// Key names in hints.
    pub fn key(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// An error message in the status line.
    pub fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// A success message in the status line.
    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }

    /// Something running (spinners).
    pub fn running(self) -> Style {
        self.fg(Color::Yellow)
    }

    /// Disabled things (actions that cannot run).
    pub fn disabled(self) -> Style {
        self.fg(Color::DarkGray).add_modifier(Modifier::CROSSED_OUT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_set_and_non_empty_turns_colour_off() {
        use std::ffi::OsStr;
        assert_eq!(Theme::from_no_color(None), Theme::COLOR);
        assert_eq!(Theme::from_no_color(Some(OsStr::new(""))), Theme::COLOR);
        assert_eq!(Theme::from_no_color(Some(OsStr::new("1"))), Theme::MONO);
        assert_eq!(Theme::MONO.state(State::Failed).fg, None);
        assert_eq!(Theme::COLOR.state(State::Failed).fg, Some(Color::Red));
    }
}
