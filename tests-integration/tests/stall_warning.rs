//! The `tracing` feature's stalled-kill warning: one `WARN` event for a
//! thread that leaves a kill pending past the threshold, none for a thread
//! that answers its kills.
//!
//! Run: `cargo test -p killable-integration-tests --features tracing --test stall_warning`
//! (add `diagnostics` to check the `last_checkpoint` field too).
//!
//! One test function: the threshold and the subscriber are process-wide.
#![cfg(feature = "tracing")]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use killable::{catch, killable, registry, Builder, KillableThread};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

const THRESHOLD: Duration = Duration::from_millis(200);
/// How late the warning may come on a loaded machine.
const SLACK: Duration = Duration::from_secs(10);
const MESSAGE: &str = "kill pending: the thread passes no checkpoint";

struct Warning {
    at: Instant,
    fields: BTreeMap<String, String>,
}

static WARNINGS: Mutex<Vec<Warning>> = Mutex::new(Vec::new());

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

/// Keeps the `killable` warnings.
struct Collector;

impl Subscriber for Collector {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.target() == "killable" && *m.level() == Level::WARN
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        WARNINGS.lock().unwrap().push(Warning {
            at: Instant::now(),
            fields,
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// The warnings about thread `name`, with when each came.
fn warnings_about(name: &str) -> Vec<(Instant, BTreeMap<String, String>)> {
    WARNINGS
        .lock()
        .unwrap()
        .iter()
        .filter(|w| w.fields.get("name").map(String::as_str) == Some(name))
        .map(|w| (w.at, w.fields.clone()))
        .collect()
}

/// No `#[killable]`: the forgotten attribute.
fn helper_without_the_attribute(stop: &AtomicBool, inside: mpsc::Sender<()>) {
    inside.send(()).unwrap();
    while !stop.load(SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[killable]
fn entry_with_the_attribute(stop: Arc<AtomicBool>, inside: mpsc::Sender<()>) {
    // The attribute puts no entry check here (the one call is followed by
    // the loop's check): this is the last checkpoint the thread passes.
    killable::checkpoint();
    helper_without_the_attribute(&stop, inside);
    // Back in instrumented code: the kill lands at this loop's head.
    let mut sum = 0_u32;
    for i in 0..3 {
        sum += i;
    }
    assert_eq!(sum, 3);
}

/// Spawns the thread whose helper lacks the attribute, and returns once it
/// runs inside the helper (past every checkpoint before it, so a kill sent
/// now cannot land there).
fn forgetful(name: &str, stop: Arc<AtomicBool>) -> KillableThread<()> {
    let (inside, wait_inside) = mpsc::channel();
    let t = Builder::new()
        .name(name.into())
        .spawn(move || entry_with_the_attribute(stop, inside))
        .unwrap();
    wait_inside.recv().unwrap();
    t
}

fn running(name: &str, body: impl FnOnce() + Send + 'static) -> KillableThread<()> {
    let (tx, rx) = mpsc::channel();
    let t = Builder::new()
        .name(name.into())
        .spawn(move || {
            tx.send(()).unwrap();
            body()
        })
        .unwrap();
    rx.recv().unwrap();
    t
}

#[test]
fn one_warning_for_a_thread_that_ignores_its_kill_none_for_healthy_ones() {
    tracing::subscriber::set_global_default(Collector).unwrap();
    registry::warn_stalled_after(Some(THRESHOLD));

    // Healthy: a stream of raises, each answered at the next checkpoint,
    // for several thresholds.
    let stop_healthy = Arc::new(AtomicBool::new(false));
    let s = stop_healthy.clone();
    let healthy = running("healthy", move || {
        while !s.load(SeqCst) {
            let _ = catch::<u32, _, _>(|| {
                #[killable]
                fn spin() {
                    loop {}
                }
                spin()
            });
        }
    });
    // Healthy too: terminated, gone at once.
    let prompt = running("prompt", || {
        #[killable]
        fn spin() {
            loop {}
        }
        spin()
    });
    prompt.terminate();

    // The forgetful thread.
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let forgetful = forgetful("forgetful", s);
    let sent = Instant::now();
    forgetful.terminate();

    let until = Instant::now() + 4 * THRESHOLD;
    while Instant::now() < until {
        let _ = healthy.raise(7_u32); // refused only while the queue is full
        std::thread::sleep(Duration::from_millis(2));
    }
    // Reported within the threshold (plus the machine's slack), not before.
    while warnings_about("forgetful").is_empty() && sent.elapsed() < THRESHOLD + SLACK {
        std::thread::sleep(Duration::from_millis(10));
    }
    let seen = warnings_about("forgetful");
    assert_eq!(seen.len(), 1, "one warning for the forgetful thread");
    let (at, fields) = &seen[0];
    assert!(*at >= sent + THRESHOLD, "warned before the threshold");
    assert_eq!(fields["message"], MESSAGE);
    assert_eq!(fields["thread"], format!("{:?}", forgetful.id()));
    assert!(fields.contains_key("pending_for"), "{fields:?}");
    #[cfg(feature = "diagnostics")]
    assert!(
        fields["last_checkpoint"].contains("stall_warning.rs:"),
        "{fields:?}"
    );

    // Still one after more thresholds, while the healthy thread's raises
    // make the watcher look again and again: once per kill, not per look.
    let until = Instant::now() + 3 * THRESHOLD;
    while Instant::now() < until {
        let _ = healthy.raise(7_u32); // refused only while the queue is full
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(warnings_about("forgetful").len(), 1);
    assert!(warnings_about("healthy").is_empty());
    assert!(warnings_about("prompt").is_empty());

    stop.store(true, SeqCst);
    assert!(forgetful.join().unwrap_err().is_terminated());
    assert!(prompt.join().unwrap_err().is_terminated());
    stop_healthy.store(true, SeqCst);
    let _ = healthy.raise(0_u32); // ends the wait (or the queue is full anyway)
    healthy.join().unwrap();
}
