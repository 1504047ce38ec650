//! `registry::threads()` with the `diagnostics` feature: where each thread
//! last passed a checkpoint, and how long ago, so a thread stuck in a call
//! that never returns can be found.
//!
//! Run: `cargo test --features diagnostics --test diagnostics` (the feature
//! is off in a plain `cargo test`, so that the benchmarks and every other
//! test measure the checkpoint without it; `.ci/run` runs this command).
#![cfg(feature = "diagnostics")]

mod support;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use killable::registry::{self, LastCheckpoint, RunState, ThreadInfo};
use killable::{killable, Builder, KillableThread};

/// Generous bounds for a noisy shared machine.
const PATIENCE: Duration = Duration::from_secs(10);

fn info(t: &KillableThread<impl Sized>) -> ThreadInfo {
    support::find_thread(t.id())
}

/// Spins on a flag without any checkpoint: a call that never returns, as
/// far as the runtime can tell.
fn spin_until(flag: &AtomicBool) {
    while !flag.load(SeqCst) {
        std::hint::spin_loop();
    }
}

/// Spawns `body`, which reports (on `tx`) the line of the checkpoint it
/// passed, then gets stuck; returns the thread and that line.
fn stuck_thread(
    name: &str,
    body: impl FnOnce(mpsc::Sender<u32>) + Send + 'static,
) -> (KillableThread<()>, u32) {
    let (tx, rx) = mpsc::channel();
    let t = Builder::new()
        .name(name.into())
        .spawn(move || body(tx))
        .unwrap();
    let line = rx
        .recv_timeout(PATIENCE)
        .expect("the thread reports its line");
    (t, line)
}

fn assert_at(last: &LastCheckpoint, line: u32) {
    assert_eq!(last.location().file(), file!(), "{last}");
    assert_eq!(last.location().line(), line, "{last}");
}

#[test]
fn stuck_in_a_spin_is_reported_at_its_last_checkpoint() {
    let release = Arc::new(AtomicBool::new(false));
    let r = release.clone();
    let (t, line) = stuck_thread("spinner", move |tx| {
        let line = line!() + 1;
        killable::checkpoint();
        tx.send(line).unwrap();
        spin_until(&r);
    });
    std::thread::sleep(Duration::from_millis(50));

    let first = info(&t);
    assert_eq!(first.name(), Some("spinner"));
    assert_eq!(first.state(), RunState::Running);
    let last = first.last_checkpoint().expect("a checkpoint was passed");
    assert_at(&last, line);
    let ago = last.ago();
    assert!(ago >= Duration::from_millis(40), "{last}");
    assert!(ago < PATIENCE, "{last}");

    // Still stuck: same place, longer ago.
    std::thread::sleep(Duration::from_millis(100));
    let again = info(&t).last_checkpoint().unwrap();
    assert_at(&again, line);
    assert_eq!(again.at(), last.at(), "no checkpoint passed in between");
    assert!(
        again.ago() >= ago + Duration::from_millis(100),
        "{ago:?} then {again}"
    );

    // The Display and Debug forms name the place.
    let shown = again.to_string();
    assert!(
        shown.starts_with(&format!("{}:{line}:", file!())),
        "{shown}"
    );
    assert!(shown.ends_with(" ago)"), "{shown}");
    assert!(format!("{:?}", info(&t)).contains("last_checkpoint"));

    release.store(true, SeqCst);
    t.join().unwrap();
}

#[test]
fn stuck_in_a_plain_sleep_is_reported_at_its_last_checkpoint() {
    let (t, line) = stuck_thread("sleeper", move |tx| {
        let line = line!() + 1;
        killable::checkpoint();
        tx.send(line).unwrap();
        std::thread::sleep(Duration::from_millis(400)); // not killable
        killable::checkpoint(); // where the kill lands
    });
    std::thread::sleep(Duration::from_millis(100));
    let i = info(&t);
    assert_eq!(i.state(), RunState::Running);
    let last = i.last_checkpoint().unwrap();
    assert_at(&last, line);
    assert!(last.ago() >= Duration::from_millis(90), "{last}");
    // The kill is accepted but waits for the sleep to return.
    t.terminate();
    assert_eq!(info(&t).state(), RunState::Terminating);
    assert!(t.join().unwrap_err().is_terminated());
}

#[test]
fn the_latest_of_several_checkpoints_wins() {
    let release = Arc::new(AtomicBool::new(false));
    let r = release.clone();
    let (t, line) = stuck_thread("moving", move |tx| {
        for _ in 0..3 {
            killable::checkpoint();
        }
        let line = line!() + 1;
        killable::checkpoint();
        tx.send(line).unwrap();
        spin_until(&r);
    });
    assert_at(&info(&t).last_checkpoint().unwrap(), line);
    release.store(true, SeqCst);
    t.join().unwrap();
}

#[test]
fn killable_waits_do_not_replace_the_users_last_checkpoint() {
    let (t, line) = stuck_thread("waiter", move |tx| {
        let line = line!() + 1;
        killable::checkpoint();
        tx.send(line).unwrap();
        loop {
            killable::park(); // its entry check is the runtime's own
        }
    });
    support::wait_until_blocked(t.id());
    // `park`'s own entry check is not recorded.
    assert_at(&info(&t).last_checkpoint().unwrap(), line);
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
}

#[test]
fn a_thread_that_passed_no_checkpoint_has_none() {
    let release = Arc::new(AtomicBool::new(false));
    let r = release.clone();
    let t = KillableThread::spawn(move || spin_until(&r));
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(info(&t).last_checkpoint(), None);
    release.store(true, SeqCst);
    t.join().unwrap();
}

#[test]
fn checkpoints_off_killable_threads_record_nothing() {
    // The test thread is not killable: nothing to record into, no effect.
    killable::checkpoint();
    assert!(registry::threads()
        .iter()
        .all(|i| i.id() != std::thread::current().id()));
}

const FN_FIRST_LINE: u32 = line!() + 1;
#[killable]
fn instrumented(release: &AtomicBool, tx: mpsc::Sender<u32>) {
    let x = std::hint::black_box(1);
    tx.send(x).unwrap();
    spin_until(release); // not killable: no checkpoint inside
}
const FN_LAST_LINE: u32 = line!() - 1;

/// The checkpoints `#[killable]` inserts are recorded too, at the line of the
/// statement they follow (the attribute spans each inserted check at it).
#[test]
fn checkpoints_inserted_by_the_attribute_name_the_statement_they_follow() {
    // `#[killable]` is FN_FIRST_LINE; the `tx.send` statement three lines on.
    let send_line = FN_FIRST_LINE + 3;
    let release = Arc::new(AtomicBool::new(false));
    let r = release.clone();
    let (t, _) = stuck_thread("instrumented", move |tx| instrumented(&r, tx));
    // The check after `tx.send(..)` runs just after the value is received.
    let start = Instant::now();
    let last = loop {
        let last = info(&t)
            .last_checkpoint()
            .expect("fn entry is a checkpoint");
        if last.location().line() == send_line || start.elapsed() > PATIENCE {
            break last;
        }
        std::thread::yield_now();
    };
    assert_eq!(last.location().file(), file!(), "{last}");
    assert_eq!(last.location().line(), send_line, "{last}");
    assert!(send_line < FN_LAST_LINE);
    release.store(true, SeqCst);
    t.join().unwrap();
}
