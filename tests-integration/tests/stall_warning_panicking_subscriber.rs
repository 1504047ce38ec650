//! The stalled-kill watcher survives a subscriber that panics with a payload
//! whose own `Drop` panics: the next stalled thread is still reported.
//!
//! Run: `cargo test -p killable-integration-tests --features tracing --test stall_warning_panicking_subscriber`
#![cfg(feature = "tracing")]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use killable::{registry, KillableThread};

mod support;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

const THRESHOLD: Duration = Duration::from_millis(100);
const SLACK: Duration = Duration::from_secs(10);

static EVENTS: AtomicUsize = AtomicUsize::new(0);

struct PanicsOnDrop;
impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("the payload's drop panics too");
        }
    }
}

/// Panics, with a `PanicsOnDrop` payload, at its first warning.
struct Hostile;

impl Subscriber for Hostile {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.target() == "killable" && *m.level() == Level::WARN
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {
        if EVENTS.fetch_add(1, SeqCst) == 0 {
            std::panic::panic_any(PanicsOnDrop);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// A terminated thread that leaves its kill pending in a helper without
/// the attribute until `stop` is set.
fn stalled_thread(stop: Arc<AtomicBool>) -> KillableThread<()> {
    let t = support::forgetful(None, stop);
    t.terminate();
    t
}

fn wait_for_events(n: usize) {
    let start = Instant::now();
    while EVENTS.load(SeqCst) < n && start.elapsed() < THRESHOLD + SLACK {
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_watcher_survives_a_subscriber_whose_panic_payload_panics_on_drop() {
    tracing::subscriber::set_global_default(Hostile).unwrap();
    registry::warn_stalled_after(Some(THRESHOLD));
    let stop = Arc::new(AtomicBool::new(false));
    let first = stalled_thread(stop.clone());
    wait_for_events(1);
    assert_eq!(EVENTS.load(SeqCst), 1, "the first stalled kill is reported");
    let second = stalled_thread(stop.clone());
    wait_for_events(2);
    assert_eq!(
        EVENTS.load(SeqCst),
        2,
        "the watcher died with the first report"
    );
    stop.store(true, SeqCst);
    assert!(first.join().unwrap_err().is_terminated());
    assert!(second.join().unwrap_err().is_terminated());
}
