//! A join waits for the joined thread's thread-local destructors (as std's
//! does), and that wait is killable and bounded like the rest of the join.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use killable::KillableThread;

const PATIENCE: Duration = Duration::from_secs(10);
/// How long the slow thread-local destructor blocks (not killably).
const SLOW_DTOR: Duration = Duration::from_secs(6);
/// Well under `SLOW_DTOR`: a wait that is cut short ends far sooner.
const PROMPT: Duration = Duration::from_secs(3);

/// A thread-local whose destructor blocks for `SLOW_DTOR`, raising its flag
/// as it starts.
struct SlowDrop(&'static AtomicBool);

impl Drop for SlowDrop {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
        std::thread::sleep(SLOW_DTOR);
    }
}

/// Spawns a killable thread that returns at once, leaving a slow
/// thread-local destructor to run; returns once that destructor has begun.
fn thread_in_its_tls_destructors(started: &'static AtomicBool) -> KillableThread<u8> {
    thread_local! {
        static SLOW: std::cell::RefCell<Option<SlowDrop>> = const { std::cell::RefCell::new(None) };
    }
    let t = KillableThread::spawn(move || {
        SLOW.with(|s| *s.borrow_mut() = Some(SlowDrop(started)));
        7
    });
    let start = Instant::now();
    while !started.load(SeqCst) {
        assert!(start.elapsed() < PATIENCE);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(t.is_finished(), "the body has returned");
    t
}

#[test]
fn a_join_blocked_on_thread_local_destructors_is_killable() {
    static STARTED: AtomicBool = AtomicBool::new(false);
    let target = thread_in_its_tls_destructors(&STARTED);
    let (in_join_tx, in_join_rx) = std::sync::mpsc::channel();
    let joiner = KillableThread::spawn(move || {
        in_join_tx.send(()).unwrap();
        target.join()
    });
    in_join_rx.recv_timeout(PATIENCE).unwrap();
    std::thread::sleep(Duration::from_millis(100)); // well inside the join
    let t0 = Instant::now();
    joiner.terminate();
    let r = joiner.join();
    let took = t0.elapsed();
    assert!(r.unwrap_err().is_terminated());
    assert!(
        took < PROMPT,
        "terminating a join took {took:?}: it waited for the target's thread-local destructors"
    );
}

#[test]
fn join_timeout_is_bounded_while_thread_local_destructors_run() {
    static STARTED: AtomicBool = AtomicBool::new(false);
    let target = thread_in_its_tls_destructors(&STARTED);
    let t0 = Instant::now();
    let target = target
        .join_timeout(Duration::from_millis(100))
        .expect_err("the OS thread has not ended yet");
    let took = t0.elapsed();
    assert!(took < PROMPT, "join_timeout(100 ms) took {took:?}");
    // And a plain join still waits for them and returns the result.
    assert_eq!(target.join().unwrap(), 7);
}
