//! What becomes of raised values that are never delivered: the queue's
//! bound, raises overtaken by `terminate`, and raised values whose `Drop`
//! panics (user code the runtime runs, which must never abort the process
//! nor change a thread's result).
//!
//! The tests that would abort the process if the runtime let a panic out of
//! a drop run in a child process (this test binary, re-run with a filter), so
//! an abort is one failed test, not a dead test binary.

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use killable::{catch, checkpoint, registry, shield, KillableThread, MAX_QUEUED_RAISES};

const PATIENCE: Duration = Duration::from_secs(10);
const CHILD: &str = "KILLABLE_RAISE_QUEUE_CHILD";

/// Runs `body` in a child process (this binary, filtered to `name`), and
/// asserts that the child passed: it neither failed nor aborted.
fn in_child(name: &str, body: impl FnOnce()) {
    if std::env::var(CHILD).as_deref() == Ok(name) {
        body();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD, name)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child {name} ended with {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
}

/// Counts its drops; panics in `drop` if `panics` is set.
#[derive(Debug)]
struct Counted {
    drops: Arc<AtomicUsize>,
    panics: bool,
    id: usize,
}

impl Counted {
    fn new(drops: &Arc<AtomicUsize>, id: usize) -> Self {
        Counted {
            drops: drops.clone(),
            panics: false,
            id,
        }
    }
    fn panicking(drops: &Arc<AtomicUsize>, id: usize) -> Self {
        Counted {
            drops: drops.clone(),
            panics: true,
            id,
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
        if self.panics {
            panic!("raised value {} panics on drop", self.id);
        }
    }
}

/// A thread that holds kills back in a shield until `go` fires, then passes
/// a checkpoint and returns 42 (if nothing was delivered there).
fn shielded_until_go() -> (KillableThread<i32>, mpsc::Sender<()>) {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (in_tx, in_rx) = mpsc::channel::<()>();
    let t = KillableThread::spawn(move || {
        shield(|| {
            in_tx.send(()).unwrap();
            go_rx.recv().unwrap(); // std recv: not killable
        });
        checkpoint();
        42
    });
    in_rx.recv_timeout(PATIENCE).unwrap();
    (t, go_tx)
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn raises_beyond_the_queue_bound_are_handed_back_intact() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (t, go) = shielded_until_go();
    let extra = 10;
    let mut handed_back = Vec::new();
    for i in 0..MAX_QUEUED_RAISES + extra {
        match t.raise(Counted::new(&drops, i)) {
            Ok(()) => assert!(i < MAX_QUEUED_RAISES, "raise {i} accepted past the bound"),
            Err(v) => {
                assert!(i >= MAX_QUEUED_RAISES, "raise {i} refused below the bound");
                assert_eq!(v.id, i, "the refused value comes back intact");
                handed_back.push(v);
            }
        }
    }
    assert_eq!(handed_back.len(), extra);
    assert_eq!(drops.load(SeqCst), 0, "nothing dropped yet");
    drop(handed_back);
    go.send(()).unwrap();
    // The first one queued is delivered at the checkpoint after the shield;
    // the others are dropped, once each, when the thread exits.
    let err = t.join().unwrap_err();
    assert_eq!(err.downcast_raised::<Counted>().map(|c| c.id).ok(), Some(0));
    assert_eq!(drops.load(SeqCst), MAX_QUEUED_RAISES + extra);
}

#[test]
fn the_bound_frees_up_as_raises_are_delivered() {
    let (tx, rx) = mpsc::channel::<Option<usize>>();
    let t = KillableThread::spawn(move || loop {
        if let Err(n) = catch::<usize, _, _>(|| {
            tx.send(None).unwrap(); // ready to catch
            loop {
                killable::sleep(Duration::from_millis(1));
            }
        }) {
            tx.send(Some(n)).unwrap();
        }
    });
    // Far more raises than the bound, each delivered before the next.
    for i in 0..MAX_QUEUED_RAISES * 3 {
        assert_eq!(rx.recv_timeout(PATIENCE).unwrap(), None);
        t.raise(i).unwrap();
        assert_eq!(rx.recv_timeout(PATIENCE).unwrap(), Some(i));
    }
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
}

#[test]
fn raises_overtaken_by_terminate_are_dropped_at_exit_each_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let delivered = Arc::new(AtomicBool::new(false));
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (in_tx, in_rx) = mpsc::channel::<()>();
    let t = {
        let delivered = delivered.clone();
        KillableThread::spawn(move || {
            let r = catch::<Counted, _, _>(|| {
                shield(|| {
                    in_tx.send(()).unwrap();
                    go_rx.recv().unwrap();
                });
                loop {
                    checkpoint();
                }
            });
            if r.is_err() {
                delivered.store(true, SeqCst);
            }
        })
    };
    in_rx.recv_timeout(PATIENCE).unwrap();
    for i in 0..3 {
        t.raise(Counted::new(&drops, i)).unwrap();
    }
    t.terminate();
    // Once terminating, raises are refused.
    let back = t.raise(Counted::new(&drops, 99)).unwrap_err();
    assert_eq!(back.id, 99);
    drop(back);
    assert_eq!(drops.load(SeqCst), 1);
    go_tx.send(()).unwrap();
    assert!(t.join().unwrap_err().is_terminated());
    assert!(!delivered.load(SeqCst), "terminate wins over queued raises");
    assert_eq!(
        drops.load(SeqCst),
        4,
        "each raise overtaken by terminate is dropped once by the time join returns"
    );
}

#[test]
fn leftover_raises_that_panic_on_drop_neither_abort_nor_change_the_result() {
    in_child(
        "leftover_raises_that_panic_on_drop_neither_abort_nor_change_the_result",
        || {
            let drops = Arc::new(AtomicUsize::new(0));
            let before = registry::drop_panics();
            // One leftover, then two (the second used to abort the process),
            // each with a well-behaved one behind it.
            for panicking in [1, 2] {
                let (go_tx, go_rx) = mpsc::channel::<()>();
                let (in_tx, in_rx) = mpsc::channel::<()>();
                let t = KillableThread::spawn(move || {
                    shield(|| {
                        in_tx.send(()).unwrap();
                        go_rx.recv().unwrap();
                    });
                    42 // returns without passing a checkpoint: the raises stay queued
                });
                in_rx.recv_timeout(PATIENCE).unwrap();
                let (drops_before, panics_before) = (drops.load(SeqCst), registry::drop_panics());
                for i in 0..panicking {
                    t.raise(Counted::panicking(&drops, i)).unwrap();
                }
                t.raise(Counted::new(&drops, 9)).unwrap();
                go_tx.send(()).unwrap();
                assert_eq!(
                    t.join().unwrap(),
                    42,
                    "a leftover's drop panic is not the thread's result"
                );
                assert_eq!(
                    drops.load(SeqCst) - drops_before,
                    panicking + 1,
                    "every leftover is dropped, each once"
                );
                assert_eq!(registry::drop_panics() - panics_before, panicking as u64);
            }
            assert_eq!(registry::drop_panics() - before, 3);
            assert!(registry::threads().is_empty());
        },
    );
}

#[test]
fn a_detached_thread_dying_of_a_raise_that_panics_on_drop_does_not_abort() {
    in_child(
        "a_detached_thread_dying_of_a_raise_that_panics_on_drop_does_not_abort",
        || {
            let drops = Arc::new(AtomicUsize::new(0));
            let before = registry::drop_panics();
            let t = KillableThread::spawn(|| loop {
                killable::sleep(Duration::from_millis(1));
            });
            let killer = t.killer();
            drop(t); // detached: std drops the thread's result on that thread
            killer.raise(Counted::panicking(&drops, 1)).unwrap();
            wait_until("the raise is dropped", || drops.load(SeqCst) == 1);
            wait_until("the drop panic is counted", || {
                registry::drop_panics() > before
            });
            assert!(!killer.is_alive());
            // A joined one: the error owns the value, dropping it is contained too.
            let t = KillableThread::spawn(|| loop {
                killable::sleep(Duration::from_millis(1));
            });
            t.raise(Counted::panicking(&drops, 2)).unwrap();
            let err = t.join().unwrap_err();
            assert!(err.is_raised());
            drop(err);
            assert_eq!(drops.load(SeqCst), 2);
            assert_eq!(registry::drop_panics() - before, 2);
        },
    );
}
