//! The fuzz runner shared by the benchmark (`tests/benches/fuzz.rs`) and the smoke test
//! (`tests/fuzz_smoke.rs`): generates inputs from a target's proptest strategy, runs each one
//! under `catch_unwind`, times it, and keeps every input that panicked or took too long.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// One parser under test: how its inputs are made and what is done with each.
pub trait Target {
    /// The target's name, also the prefix of its crash files.
    fn name(&self) -> &'static str;
    /// The inputs: structure-aware ones and raw bytes, as one strategy.
    fn strategy(&self) -> BoxedStrategy<Vec<u8>>;
    /// Feeds one input to the code under test. A panic is a crash.
    fn run(&self, input: &[u8]);
}

/// An input that panicked or was slow, and what happened.
pub struct Finding {
    /// The input.
    pub input: Vec<u8>,
    /// The panic message, or how long it took.
    pub what: String,
    /// Where the input was written, if a directory was given.
    pub file: Option<PathBuf>,
}

/// What a run of one target did.
pub struct Outcome {
    /// The target.
    pub name: &'static str,
    /// Inputs run.
    pub inputs: u64,
    /// Wall time of the whole run (generation included).
    pub wall: Duration,
    /// The slowest input's time.
    pub slowest: Duration,
    /// Inputs that panicked.
    pub crashes: Vec<Finding>,
    /// Inputs that took longer than the bound.
    pub slow: Vec<Finding>,
}

impl Outcome {
    /// Inputs per second.
    pub fn rate(&self) -> f64 {
        self.inputs as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// How a run is bounded.
pub struct Limits {
    /// Inputs to run.
    pub inputs: u64,
    /// The RNG seed (a run is reproducible from it).
    pub seed: u64,
    /// An input taking longer than this is reported as slow.
    pub slow: Duration,
    /// An input taking longer than this is a hang: it is written out and the process exits.
    pub hang: Duration,
    /// Where crashing, slow and hanging inputs are written (none: kept in memory only).
    pub out_dir: Option<PathBuf>,
}

/// The last panic's message and place, taken by the hook so a crash is reported once, with
/// its input, instead of printed for every input.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);
static QUIET: AtomicBool = AtomicBool::new(false);

fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.load(Ordering::Relaxed) {
                previous(info);
                return;
            }
            let mut last = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner());
            // The first panic of an input is the cause (a worker thread's), not the re-raise.
            if last.is_none() {
                *last = Some(info.to_string());
            }
        }));
    });
}

/// Runs `target` within `limits`.
pub fn run(target: &dyn Target, limits: &Limits) -> Outcome {
    install_hook();
    let strategy = target.strategy();
    let mut seed = [0u8; 16];
    seed[..8].copy_from_slice(&limits.seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::XorShift, &seed),
    );
    let watch = Watchdog::start(target.name(), limits);
    let mut outcome = Outcome {
        name: target.name(),
        inputs: 0,
        wall: Duration::ZERO,
        slowest: Duration::ZERO,
        crashes: Vec::new(),
        slow: Vec::new(),
    };
    let started = Instant::now();
    QUIET.store(true, Ordering::Relaxed);
    for n in 0..limits.inputs {
        let input = match strategy.new_tree(&mut runner) {
            Ok(tree) => tree.current(),
            Err(_) => continue,
        };
        watch.begin(&input);
        let one = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| target.run(&input)));
        let took = one.elapsed();
        watch.end();
        outcome.inputs += 1;
        outcome.slowest = outcome.slowest.max(took);
        if let Err(payload) = result {
            let what = LAST_PANIC
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .unwrap_or_else(|| panic_text(payload.as_ref()));
            let file = write(limits, target.name(), "crash", n, &input);
            outcome.crashes.push(Finding { input, what, file });
        } else if took > limits.slow {
            let file = write(limits, target.name(), "slow", n, &input);
            let what = format!("took {} ms", took.as_millis());
            outcome.slow.push(Finding { input, what, file });
        }
        LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
    QUIET.store(false, Ordering::Relaxed);
    outcome.wall = started.elapsed();
    outcome
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

fn write(limits: &Limits, target: &str, what: &str, n: u64, input: &[u8]) -> Option<PathBuf> {
    let dir = limits.out_dir.as_deref()?;
    std::fs::create_dir_all(dir).ok()?;
    let path = dir.join(format!("{target}-{what}-{}-{n}.bin", limits.seed));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

/// The input being run and since when (`None`: nothing in flight); its buffer is reused.
#[derive(Default)]
struct InFlight {
    since: Option<Instant>,
    input: Vec<u8>,
}

/// Watches the input in flight from another thread: one that never returns cannot be caught
/// in-process, so it is written out and the process stops.
struct Watchdog {
    state: Arc<Mutex<InFlight>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    fn start(name: &'static str, limits: &Limits) -> Watchdog {
        let state: Arc<Mutex<InFlight>> = Arc::new(Mutex::new(InFlight::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let hang = limits.hang;
        let dir = limits.out_dir.clone();
        let seed = limits.seed;
        let thread = {
            let state = state.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    let guard = state.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(since) = guard.since
                        && since.elapsed() > hang
                    {
                        let input = &guard.input;
                        let path = dir
                            .as_deref()
                            .unwrap_or(Path::new("."))
                            .join(format!("{name}-hang-{seed}.bin"));
                        let _ = std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")));
                        let _ = std::fs::write(&path, input);
                        eprintln!(
                            "fuzz {name}: an input ran longer than {} s; written to {}",
                            hang.as_secs(),
                            path.display()
                        );
                        std::process::exit(3);
                    }
                }
            })
        };
        Watchdog {
            state,
            stop,
            thread: Some(thread),
        }
    }

    fn begin(&self, input: &[u8]) {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        guard.input.clear();
        guard.input.extend_from_slice(input);
        guard.since = Some(Instant::now());
    }

    fn end(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).since = None;
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
