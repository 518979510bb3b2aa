//! Frames drawn on ratatui's `TestBackend`. Time is in the state, so every countdown is exact.

use jiff::{SignedDuration, Timestamp};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::render;
use crate::engine::batch::{BatchProgress, FleetGlance, ItemProgress, ItemState, Phase};
use crate::model::{Code, Finding, RateLimit};
use crate::tui::batch::{BatchMsg, BatchView, update};
use crate::tui::theme::Theme;

fn now() -> Timestamp {
    "2026-01-15T12:00:00Z".parse().unwrap()
}

fn secs(s: i64) -> SignedDuration {
    SignedDuration::from_secs(s)
}

fn item(names: &[&str], state: ItemState) -> ItemProgress {
    ItemProgress {
        names: names.iter().map(|n| (*n).to_owned()).collect(),
        state,
        since: Some(now() - secs(75)),
        attempts: 1,
        ..ItemProgress::default()
    }
}

/// A batch half-way: one issued, one failed on a rate limit, one retrying, one validating,
/// and the CA pausing the account for 41 more seconds.
fn batch() -> BatchProgress {
    let mut limited = Finding::new(
        Code::RatelimitNewOrders,
        "too many new orders for this account",
    )
    .with_detail("urn:ietf:params:acme:error:rateLimited: 300 per 3h0m0s");
    limited.rate_limit = Some(RateLimit {
        limit: Some("300 per 3h0m0s".to_owned()),
        identifier: None,
        retry_after: Some(now() + secs(3720)),
    });
    let mut failed = item(
        &["b.example", "www.b.example", "api.b.example"],
        ItemState::Failed,
    );
    failed.attempts = 3;
    failed.last = Some(limited);
    let mut retrying = item(&["c.example"], ItemState::Retrying);
    retrying.attempts = 2;
    retrying.retry_at = Some(now() + secs(90));
    retrying.last = Some(Finding::new(
        Code::Http01WrongStatus,
        "the challenge URL answered 404",
    ));
    let mut issued = item(&["a.example"], ItemState::Issued);
    issued.certificate = Some("certs/a.example.crt".into());
    BatchProgress {
        phase: Phase::Issuing,
        certificates: 4,
        issued: 1,
        failed: 1,
        in_flight: 2,
        paused_until: Some(now() + secs(41)),
        items: vec![
            issued,
            failed,
            retrying,
            item(&["d.example"], ItemState::Validating),
        ],
        ..BatchProgress::default()
    }
}

fn view(size: (u16, u16)) -> BatchView {
    let mut v = BatchView::new(
        "https://127.0.0.1:14000/dir".to_owned(),
        Theme::MONO,
        size,
        now() - secs(12),
    );
    update(&mut v, BatchMsg::Progress(batch()));
    update(&mut v, BatchMsg::Tick(now()));
    v
}

fn draw(v: &BatchView) -> String {
    let mut t = Terminal::new(TestBackend::new(v.size.0, v.size.1)).unwrap();
    t.draw(|f| render(v, None, f, f.area())).unwrap();
    let buffer = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn the_header_shows_counts_progress_and_the_pause_countdown() {
    let v = view((120, 36));
    let screen = draw(&v);
    assert!(screen.contains("https://127.0.0.1:14000/dir"), "{screen}");
    assert!(screen.contains("phase issuing"), "{screen}");
    assert!(screen.contains("elapsed 12s"), "{screen}");
    assert!(screen.contains("2/4 done"), "{screen}");
    for count in ["issued 1", "already 0", "failed 1", "running 2", "queued 0"] {
        assert!(screen.contains(count), "{count}: {screen}");
    }
    assert!(screen.contains("CA asked to wait: 41 s"), "{screen}");
    // A second later the countdown moved; once passed, it is gone.
    let mut v = v;
    update(&mut v, BatchMsg::Tick(now() + secs(1)));
    assert!(draw(&v).contains("CA asked to wait: 40 s"));
    update(&mut v, BatchMsg::Tick(now() + secs(41)));
    assert!(!draw(&v).contains("CA asked to wait"));
}

#[test]
fn a_shared_batch_shows_the_fleet_in_the_header_and_a_lone_one_does_not() {
    let lone = draw(&view((160, 36)));
    assert!(!lone.contains("fleet"), "{lone}");
    let mut p = batch();
    p.fleet = Some(FleetGlance {
        workers: 3,
        in_flight: 6,
        elsewhere: 40,
    });
    let mut v = view((160, 36));
    update(&mut v, BatchMsg::Progress(p));
    let screen = draw(&v);
    assert!(
        screen.contains("fleet 3 workers alive, 6 in flight over all, 40 with others"),
        "{screen}"
    );
}

#[test]
fn rows_show_state_names_attempts_time_retry_and_code() {
    let screen = draw(&view((120, 36)));
    let row = |name: &str| {
        screen
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no row {name}: {screen}"))
            .to_owned()
    };
    let failed = row("b.example (+2 more)");
    assert!(failed.contains("✗ failed"), "{failed}");
    assert!(failed.contains(" 3 "), "attempts: {failed}");
    assert!(failed.contains("1m15s"), "time in state: {failed}");
    assert!(failed.contains("ratelimit-new-orders"), "{failed}");
    let retrying = row("c.example");
    assert!(retrying.contains("↻ retrying"), "{retrying}");
    assert!(retrying.contains("1m30s"), "retry countdown: {retrying}");
    assert!(retrying.contains("http01-wrong-status"), "{retrying}");
    assert!(row("a.example").contains("✓ issued"));
    assert!(row("d.example").contains("● validating"));
}

#[test]
fn the_detail_pane_explains_the_selected_failure() {
    let mut v = view((120, 40));
    v.down();
    let screen = draw(&v);
    assert!(
        screen.contains("names: b.example, www.b.example, api.b.example"),
        "{screen}"
    );
    assert!(
        screen.contains("state: ✗ failed since 2026-01-15 11:58:45Z (1m15s), attempts 3"),
        "{screen}"
    );
    assert!(
        screen.contains("last finding: fatal ratelimit-new-orders"),
        "{screen}"
    );
    assert!(
        screen.contains("summary: too many new orders for this account"),
        "{screen}"
    );
    assert!(
        screen.contains("advice: Find what creates orders in a loop"),
        "{screen}"
    );
    assert!(
        screen.contains("retry after: 2026-01-15 13:02:00Z (retry in 1h02m)"),
        "{screen}"
    );
    // The issued one shows where its certificate is.
    v.home();
    assert!(draw(&v).contains("certificate: certs/a.example.crt"));
}

#[test]
fn the_filter_the_question_and_the_end_are_drawn() {
    let mut v = view((100, 30));
    v.toggle_failed_only();
    let screen = draw(&v);
    assert!(screen.contains("Failed or retrying: 2 of 4"), "{screen}");
    assert!(!screen.contains("d.example"), "{screen}");
    let mut t = Terminal::new(TestBackend::new(v.size.0, v.size.1)).unwrap();
    t.draw(|f| {
        render(&v, None, f, f.area());
        super::confirm(v.theme, f, f.area());
    })
    .unwrap();
    let asked = format!("{:?}", t.backend().buffer());
    assert!(
        asked.contains("stop the batch? it resumes from the state file next run"),
        "{asked}"
    );
    assert!(draw(&v).contains("F only failed/retrying"), "the hints");
    update(
        &mut v,
        BatchMsg::Finished(Ok(
            "3 issued, 0 already issued, 1 failed in 4.2 s".to_owned()
        )),
    );
    let screen = draw(&v);
    assert!(
        screen.contains("finished: 3 issued, 0 already issued, 1 failed in 4.2 s"),
        "{screen}"
    );
    assert!(screen.contains("phase finished"), "{screen}");
    update(
        &mut v,
        BatchMsg::Finished(Err("state store: locked".to_owned())),
    );
    assert!(draw(&v).contains("the batch stopped: state store: locked"));
}

#[test]
fn a_small_terminal_says_so() {
    let screen = draw(&view((50, 10)));
    assert!(screen.contains("terminal too small"), "{screen}");
}

#[test]
fn a_long_batch_draws_only_the_rows_on_screen_and_follows_the_selection() {
    let mut v = view((100, 30));
    let mut p = batch();
    p.items = (0..500)
        .map(|i| item(&[&format!("n{i:03}.example")], ItemState::Queued))
        .collect();
    p.certificates = 500;
    update(&mut v, BatchMsg::Progress(p));
    v.end();
    let screen = draw(&v);
    assert!(screen.contains("n499.example"), "{screen}");
    assert!(!screen.contains("n000.example"), "{screen}");
    assert!(screen.contains("500/500"), "position: {screen}");
}
