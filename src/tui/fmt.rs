//! Small text formatters shared by the views: countdowns, relative times, spinners, wrapping.
//! All of them take the instant to measure against as an argument, so a frame is a pure
//! function of the state and snapshot tests stay deterministic.

use jiff::{SignedDuration, Timestamp};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// Spinner frames; braille dots read well in every terminal font we tried.
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// The spinner frame for something that has been running for `elapsed` (one frame per 100 ms,
/// matching the tick rate).
pub fn spinner(elapsed: SignedDuration) -> &'static str {
    let frame = (elapsed.as_millis().max(0) / 100) as usize % SPINNER.len();
    SPINNER[frame]
}

/// A duration as a compact two-unit countdown: `2d03h`, `1h02m`, `5m09s`, `42s`.
pub fn countdown(d: SignedDuration) -> String {
    let secs = d.as_secs().max(0);
    let (days, hours, mins, s) = (
        secs / 86_400,
        (secs % 86_400) / 3600,
        (secs % 3600) / 60,
        secs % 60,
    );
    if days > 0 {
        format!("{days}d{hours:02}h")
    } else if hours > 0 {
        format!("{hours}h{mins:02}m")
    } else if mins > 0 {
        format!("{mins}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// `retry in 1h02m`, or `retry now` once the time has passed.
pub fn retry_in(retry_after: Timestamp, now: Timestamp) -> String {
    let left = retry_after.duration_since(now);
    if left.is_positive() {
        format!("retry in {}", countdown(left))
    } else {
        "retry now (limit window passed)".to_owned()
    }
}

/// Elapsed time with a tenth of a second: `0.4s`, `12.0s`, then `2m05s`.
pub fn elapsed(d: SignedDuration) -> String {
    let ms = d.as_millis().max(0);
    if ms < 60_000 {
        format!("{}.{}s", ms / 1000, (ms % 1000) / 100)
    } else {
        countdown(d)
    }
}

/// A time relative to `now`: `in 59d`, `3h ago`.
pub fn relative(t: Timestamp, now: Timestamp) -> String {
    let d = t.duration_since(now);
    let one = |d: SignedDuration| {
        let secs = d.as_secs().unsigned_abs();
        if secs >= 86_400 {
            format!("{}d", secs / 86_400)
        } else if secs >= 3600 {
            format!("{}h", secs / 3600)
        } else if secs >= 60 {
            format!("{}m", secs / 60)
        } else {
            format!("{secs}s")
        }
    };
    if d.is_negative() {
        format!("{} ago", one(d))
    } else {
        format!("in {}", one(d))
    }
}

/// A timestamp to the second, UTC: `2026-01-15 12:00:00Z` (no sub-seconds: they are noise).
pub fn stamp(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// Cuts `text` to at most `width` characters, ending with `…` when cut.
pub fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut s: String = text.chars().take(width - 1).collect();
    s.push('…');
    s
}

/// Splits `text` into lines of at most `width` characters, at spaces when possible. Long
/// words (URLs, tokens) are cut hard: seeing all of a token matters more than pretty breaks.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut out = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut len = 0usize;
        for word in para.split(' ') {
            let wlen = word.chars().count();
            if len > 0 && len + 1 + wlen > width {
                out.push(std::mem::take(&mut line));
                len = 0;
            }
            if wlen > width {
                // Start long words on their own line, then cut them into full-width pieces.
                if len > 0 {
                    out.push(std::mem::take(&mut line));
                }
                let chars: Vec<char> = word.chars().collect();
                let mut pieces = chars.chunks(width).peekable();
                while let Some(piece) = pieces.next() {
                    if pieces.peek().is_some() {
                        out.push(piece.iter().collect());
                    } else {
                        line = piece.iter().collect();
                        len = piece.len();
                    }
                }
                continue;
            }
            if len > 0 {
                line.push(' ');
                len += 1;
            }
            line.push_str(word);
            len += wlen;
        }
        out.push(line);
    }
    out
}

/// `head` (a label such as `"  code: "`) followed by `value` wrapped to the `width` left of
/// it, continuation lines indented under the value: the label-value lines of detail panes.
/// Nothing for an empty value.
pub fn labelled(
    head: &str,
    value: &str,
    width: usize,
    head_style: Style,
    value_style: Style,
) -> Vec<Line<'static>> {
    if value.is_empty() {
        return Vec::new();
    }
    let indent = head.chars().count();
    wrap(value, width.saturating_sub(indent).max(8))
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let lead = if i == 0 {
                Span::styled(head.to_owned(), head_style)
            } else {
                Span::raw(" ".repeat(indent))
            };
            Line::from(vec![lead, Span::styled(part, value_style)])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdown_uses_two_units() {
        assert_eq!(countdown(SignedDuration::from_secs(3720)), "1h02m");
        assert_eq!(
            countdown(SignedDuration::from_secs(2 * 86_400 + 3 * 3600)),
            "2d03h"
        );
        assert_eq!(countdown(SignedDuration::from_secs(309)), "5m09s");
        assert_eq!(countdown(SignedDuration::from_secs(42)), "42s");
        assert_eq!(countdown(SignedDuration::from_secs(-5)), "0s");
    }

    #[test]
    fn retry_in_counts_down_and_says_when_passed() {
        let now: Timestamp = "2026-01-15T12:00:00Z".parse().unwrap();
        let at: Timestamp = "2026-01-15T13:02:00Z".parse().unwrap();
        assert_eq!(retry_in(at, now), "retry in 1h02m");
        assert!(retry_in(now, at).starts_with("retry now"));
    }

    #[test]
    fn wrap_breaks_at_spaces_and_cuts_long_words() {
        assert_eq!(
            wrap("aaaa bbbb cccc", 9),
            vec!["aaaa bbbb".to_owned(), "cccc".to_owned()]
        );
        let long = "x".repeat(20);
        let lines = wrap(&format!("ab {long}"), 8);
        assert_eq!(lines[0], "ab");
        assert!(lines.iter().all(|l| l.chars().count() <= 8));
        assert_eq!(lines.concat().len(), 22);
    }

    #[test]
    fn relative_and_elapsed() {
        let now: Timestamp = "2026-01-15T12:00:00Z".parse().unwrap();
        let later: Timestamp = "2026-03-15T12:00:00Z".parse().unwrap();
        assert_eq!(relative(later, now), "in 59d");
        assert_eq!(relative(now, later), "59d ago");
        assert_eq!(elapsed(SignedDuration::from_millis(1234)), "1.2s");
        assert_eq!(spinner(SignedDuration::from_millis(250)), "⠹");
    }
}
