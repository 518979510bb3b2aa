//! The overview's ROOT CAUSE cell: the cause in words, the rate-limit countdown and the code,
//! fitted to the column without ever cutting a word in half.
//!
//! What gives way first, as the column narrows: the tail of the words (cut at a space, with
//! `…`), then the words altogether, then `retry in`, then the tail of the code (cut at a
//! hyphen). The countdown goes last: on a rate-limited row it is what the reader acts on.

/// What a piece of the cell is, so the view can style it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The finding's summary, or its head.
    Words,
    /// `retry in 1d21h`, or `1d21h`.
    Countdown,
    /// The finding code.
    Code,
    /// Separators and parentheses.
    Plain,
}

/// The cell as pieces, in order.
pub type Pieces = Vec<(Part, String)>;

/// The text of `pieces`, for measuring and tests.
pub fn text(pieces: &Pieces) -> String {
    pieces.iter().map(|(_, s)| s.as_str()).collect()
}

fn len(s: &str) -> usize {
    s.chars().count()
}

/// The words a row shows for a summary: with a live countdown, the summary's own
/// `; retry after <time>` tail says the same thing less usefully, so it goes.
pub fn words(summary: &str, counting_down: bool) -> &str {
    let summary = summary.trim();
    if counting_down && let Some(at) = summary.find("; retry after") {
        return summary[..at].trim_end();
    }
    summary
}

/// `text` cut at the last space that leaves room for `…` within `width`, trailing
/// punctuation dropped; `None` when not even the first word fits.
pub fn cut_at_word(text: &str, width: usize) -> Option<String> {
    if len(text) <= width {
        return Some(text.to_owned());
    }
    cut_at(text, width, ' ')
}

/// `text` cut after a `sep`, so that the part kept plus `…` fits in `width`.
fn cut_at(text: &str, width: usize, sep: char) -> Option<String> {
    let room = width.checked_sub(1)?;
    let mut best = None;
    for (i, c) in text.char_indices() {
        if c != sep {
            continue;
        }
        // Keep a hyphen (it reads as "continues"), never a space.
        let end = if sep == ' ' { i } else { i + c.len_utf8() };
        let head = text[..end].trim_end_matches([' ', ',', ';', ':', '(']);
        if head.is_empty() {
            continue;
        }
        if len(head) > room {
            break;
        }
        best = Some(head);
    }
    best.map(|h| format!("{h}…"))
}

/// Fits the cell into `width` columns: `words, retry in 1d21h (code)` when everything fits,
/// less (in the order the module doc gives) when it does not. `countdown` is the compact
/// duration (`1d21h`) of a rate limit still in force.
pub fn fit(words: &str, countdown: Option<&str>, code: &str, width: usize) -> Pieces {
    use Part::*;
    let p = |part: Part, s: &str| (part, s.to_owned());
    let code_part = |code: &str| vec![p(Plain, " ("), p(Code, code), p(Plain, ")")];
    let mut candidates: Vec<Pieces> = Vec::new();
    let with_words = |w: String, tail: &Pieces| {
        let mut v = vec![(Words, w)];
        v.extend(tail.iter().cloned());
        v
    };
    let tail: Pieces = match countdown {
        Some(cd) => {
            let mut t = vec![p(Plain, ", "), (Countdown, format!("retry in {cd}"))];
            t.extend(code_part(code));
            t
        }
        None => code_part(code),
    };
    if !words.is_empty() {
        let room = width.saturating_sub(len(&text(&tail)));
        if let Some(w) = cut_at_word(words, room) {
            candidates.push(with_words(w, &tail));
        }
    }
    match countdown {
        Some(cd) => {
            let mut c = vec![(Countdown, format!("retry in {cd}"))];
            c.extend(code_part(code));
            candidates.push(c);
            let mut c = vec![p(Countdown, cd)];
            c.extend(code_part(code));
            candidates.push(c);
            let room = width.saturating_sub(len(cd) + 1);
            if let Some(short) = cut_at(code, room, '-') {
                candidates.push(vec![p(Countdown, cd), p(Plain, " "), (Code, short)]);
            }
            candidates.push(vec![p(Countdown, cd)]);
        }
        None => {
            candidates.push(vec![p(Code, code)]);
            if let Some(short) = cut_at(code, width, '-') {
                candidates.push(vec![(Code, short)]);
            }
        }
    }
    candidates
        .into_iter()
        .find(|c| len(&text(c)) <= width)
        .unwrap_or_else(|| {
            if width > 0 {
                vec![p(Plain, "…")]
            } else {
                Vec::new()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: &str =
        "Duplicate-certificate limit hit (5 per 168h0m0s); retry after 2026-01-17T09:14:02Z";
    const CODE: &str = "ratelimit-duplicate-certificate";

    /// Every word of `shown` (ignoring `…`, punctuation and parentheses) is a whole word of
    /// `full`, or a whole-hyphen-part prefix of one (a code cut at a hyphen).
    fn assert_whole_words(shown: &str, full: &str) {
        let clean = |w: &str| {
            w.trim_matches(|c: char| "…,;:()".contains(c))
                .trim_end_matches('-')
                .to_owned()
        };
        let whole: Vec<String> = full.split_whitespace().map(clean).collect();
        for w in shown
            .split_whitespace()
            .map(clean)
            .filter(|w| !w.is_empty())
        {
            let ok = whole
                .iter()
                .any(|f| f == &w || (f.starts_with(&w) && f[w.len()..].starts_with('-')));
            assert!(ok, "{w:?} is cut mid-word in {shown:?} (from {full:?})");
        }
    }

    #[test]
    fn everything_fits_when_wide() {
        let w = words(RATE, true);
        let got = text(&fit(w, Some("1d21h"), CODE, 200));
        assert_eq!(
            got,
            "Duplicate-certificate limit hit (5 per 168h0m0s), retry in 1d21h (ratelimit-duplicate-certificate)"
        );
        let got = text(&fit("The CA refused", None, "acme-caa", 40));
        assert_eq!(got, "The CA refused (acme-caa)");
    }

    #[test]
    fn words_give_way_before_the_code_and_the_countdown() {
        let w = words(RATE, true);
        let got = text(&fit(w, Some("1d21h"), CODE, 80));
        assert_eq!(
            got,
            "Duplicate-certificate limit…, retry in 1d21h (ratelimit-duplicate-certificate)"
        );
        assert_eq!(
            text(&fit(w, Some("1d21h"), CODE, 48)),
            "retry in 1d21h (ratelimit-duplicate-certificate)"
        );
        assert_eq!(
            text(&fit(w, Some("1d21h"), CODE, 40)),
            "1d21h (ratelimit-duplicate-certificate)"
        );
        assert_eq!(
            text(&fit(w, Some("1d21h"), CODE, 30)),
            "1d21h ratelimit-duplicate-…"
        );
    }

    #[test]
    fn the_root_cause_is_never_cut_mid_word() {
        let cases: [(&str, Option<&str>, &str); 4] = [
            (RATE, Some("1d21h"), CODE),
            (RATE, None, CODE),
            (
                "GET http://www.shop.example.com/.well-known/acme-challenge/x answered 404 (nginx)",
                None,
                "http01-wrong-status",
            ),
            (
                "cert-manager's HTTP-01 self-check got HTTP 404 instead of 200",
                None,
                "selfcheck-http01-wrong-status",
            ),
        ];
        for (summary, cd, code) in cases {
            let w = words(summary, cd.is_some());
            let full = format!("{w} retry in {} ({code})", cd.unwrap_or(""));
            for width in 0..=130 {
                let shown = text(&fit(w, cd, code, width));
                assert!(len(&shown) <= width, "{shown:?} is wider than {width}");
                assert_whole_words(&shown, &full);
                if let Some(cd) = cd
                    && width >= len(cd)
                {
                    assert!(shown.contains(cd), "countdown lost at {width}: {shown:?}");
                }
                if width >= len(code) + 3 + cd.map_or(0, |c| len(c) + 1) {
                    assert!(shown.contains(code), "code lost at {width}: {shown:?}");
                }
            }
        }
    }

    #[test]
    fn a_cut_drops_trailing_punctuation() {
        assert_eq!(cut_at_word("a b, c d", 6).as_deref(), Some("a b…"));
        assert_eq!(cut_at_word("abcdef", 3), None);
    }
}
