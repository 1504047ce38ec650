//! `registry::stalled` and `ThreadInfo::pending_for`: the threads that leave
//! a kill pending, named with how long (and, with the `diagnostics` feature,
//! where they last passed a checkpoint).
//!
//! Durations are generous lower bounds measured by this test's own clock:
//! the shared machine may be slow, never fast.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use killable::registry::{self, ThreadInfo};
use killable::{catch, killable, Builder, KillableThread};

/// How long the tests let a kill wait.
const WAIT: Duration = Duration::from_millis(300);

/// The forgotten attribute: a helper without `#[killable]`, so no kill can
/// land while it runs.
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

fn find(list: &[ThreadInfo], t: &KillableThread<()>) -> Option<ThreadInfo> {
    list.iter().find(|i| i.id() == t.id()).cloned()
}

/// Spawns `body` named `name` and returns once it runs (past the
/// checkpoint at the thread's start).
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
fn a_thread_missing_its_attribute_is_listed_with_how_long() {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let t = forgetful("forgetful", s);
    // Nothing pending yet: not listed, no figure.
    let before = registry::threads();
    assert_eq!(find(&before, &t).unwrap().pending_for(), None);
    assert!(find(&registry::stalled(Duration::ZERO), &t).is_none());

    let sent = Instant::now();
    t.terminate();
    std::thread::sleep(WAIT);
    let stuck = find(&registry::stalled(WAIT), &t).expect("listed after WAIT");
    let pending = stuck.pending_for().unwrap();
    assert!(pending >= WAIT && pending <= sent.elapsed(), "{pending:?}");
    assert_eq!(stuck.name(), Some("forgetful"));
    // Not yet for a longer minimum.
    assert!(find(&registry::stalled(sent.elapsed() + WAIT), &t).is_none());

    stop.store(true, SeqCst);
    // The attributed caller's next checkpoint, after the helper returns.
    assert!(t.join().unwrap_err().is_terminated());
}

#[test]
fn a_thread_that_answers_its_kills_is_never_listed() {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let t = running("healthy", move || {
        while !s.load(SeqCst) {
            // Every raise lands at the loop's checkpoints and is caught.
            let _ = catch::<u32, _, _>(|| {
                #[killable]
                fn spin() {
                    loop {}
                }
                spin()
            });
        }
    });
    let until = Instant::now() + 4 * WAIT;
    while Instant::now() < until {
        for _ in 0..10 {
            // Refused only while the queue is full: the thread is behind, not stuck.
            let _ = t.raise(7_u32);
        }
        assert!(find(&registry::stalled(WAIT), &t).is_none());
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, SeqCst);
    let _ = t.raise(0_u32); // ends the wait (or the queue is full anyway)
    t.join().unwrap();
}

#[test]
fn pending_for_restarts_when_the_thread_takes_a_kill() {
    let (go, wait) = mpsc::channel::<()>();
    let (took, took_rx) = mpsc::channel::<u32>();
    let t = running("slow-taker", move || {
        // A std receive: not killable, so both raises queue up.
        wait.recv().unwrap();
        let first = catch::<u32, _, _>(killable::checkpoint).unwrap_err();
        took.send(first).unwrap();
        wait.recv().unwrap();
        let second = catch::<u32, _, _>(killable::checkpoint).unwrap_err();
        took.send(second).unwrap();
    });
    t.raise(1_u32).unwrap();
    t.raise(2_u32).unwrap();
    std::thread::sleep(WAIT);
    let waited = find(&registry::threads(), &t)
        .unwrap()
        .pending_for()
        .unwrap();
    assert!(waited >= WAIT, "{waited:?}");

    go.send(()).unwrap();
    assert_eq!(took_rx.recv().unwrap(), 1);
    // The second raise still waits, but only since the first was taken.
    let since_taken = find(&registry::threads(), &t)
        .unwrap()
        .pending_for()
        .unwrap();
    assert!(since_taken < waited, "{since_taken:?} vs {waited:?}");

    go.send(()).unwrap();
    assert_eq!(took_rx.recv().unwrap(), 2);
    t.join().unwrap();
}

/// With `diagnostics`, the listing says where the thread was last seen: the
/// checkpoint before the helper that never returns.
#[cfg(feature = "diagnostics")]
#[test]
fn with_diagnostics_the_listing_gives_the_last_checkpoint() {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let t = forgetful("forgetful-diag", s);
    t.terminate();
    std::thread::sleep(WAIT);
    let stuck = find(&registry::stalled(WAIT), &t).expect("listed");
    let last = stuck.last_checkpoint().expect("a checkpoint was passed");
    assert!(last.location().file().ends_with("stalled.rs"), "{last}");
    stop.store(true, SeqCst);
    assert!(t.join().unwrap_err().is_terminated());
}
