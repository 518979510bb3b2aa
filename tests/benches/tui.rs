//! Benchmark: the view on a large estate, 5,000 Certificates (20,001 objects): time to the
//! first frame once the data is in memory (diagnosis included) and the slowest key press
//! redrawn (targets: < 300 ms and < 16 ms). `cargo bench --bench tui`; under `cargo test` it
//! runs silently on a small estate as a smoke test.

#[path = "../tui_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use certdx::tui::{Msg, render, update};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let certificates = if bench { 5000 } else { 50 };
    let yaml = support::synthetic::estate_yaml(certificates);
    let mut snap = certdx::source::snapshot::Snapshot::default();
    certdx::source::snapshot::load_text(&yaml, std::path::Path::new("big.yaml"), &mut snap);
    assert_eq!(snap.inventory.len(), certificates * 4 + 1);

    let started = Instant::now();
    let mut app = support::app_with(support::config((200, 50)), snap.inventory);
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    term.draw(|f| render(&app, f)).unwrap();
    let first_frame = started.elapsed();

    let mut worst = Duration::ZERO;
    let keys = [
        Msg::Down,
        Msg::PageDown,
        Msg::End,
        Msg::NextFailing,
        Msg::FilterStart,
        Msg::FilterInput('9'),
        Msg::FilterAccept,
        Msg::CycleSort,
        Msg::Open,
        Msg::Down,
        Msg::Back,
    ];
    for k in keys {
        let t = Instant::now();
        update(&mut app, k);
        term.draw(|f| render(&app, f)).unwrap();
        worst = worst.max(t.elapsed());
    }
    if !bench {
        println!("tui benchmark smoke: 1 passed, 0 failed");
    } else {
        println!(
            "{} objects: first frame {:.0} ms after load, slowest key redrawn in {:.2} ms",
            snap_len(certificates),
            first_frame.as_secs_f64() * 1000.0,
            worst.as_secs_f64() * 1000.0
        );
    }
}

fn snap_len(certificates: usize) -> usize {
    certificates * 4 + 1
}
