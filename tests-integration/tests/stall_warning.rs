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
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use killable::{catch, killable, registry, Builder, KillableThread};
use tracing::Level;

mod support;
use support::forgetful;

const THRESHOLD: Duration = Duration::from_millis(200);
/// How late the warning may come on a loaded machine.
const SLACK: Duration = Duration::from_secs(10);
const MESSAGE: &str = "kill pending: the thread passes no checkpoint";

/// The warnings about thread `name`, with when each came.
fn warnings_about(name: &str) -> Vec<(Instant, BTreeMap<String, String>)> {
    support::seen(|s| s.level == Level::WARN && s.is_about(name))
        .into_iter()
        .map(|s| (s.at, s.fields))
        .collect()
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
    support::install();
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
    let forgetful = forgetful(Some("forgetful"), s);
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
        fields["last_checkpoint"].contains("support/mod.rs:"),
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
