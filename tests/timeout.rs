//! Cancel scopes: `with_timeout` / `with_deadline` on any thread, nested and
//! in sequence, through shields and killable waits; `Builder::deadline`; and
//! one timer thread for any number of scopes.
//!
//! Bounds are generous (10 s for "at once") for a noisy shared 2-core
//! machine.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use killable::registry::{self, RunState};
use killable::{
    checkpoint, killable, shield, with_deadline, with_timeout, Builder, KillableThread, TimedOut,
};

const HOUR: Duration = Duration::from_secs(3600);
use support::BOUND;
const SHORT: Duration = Duration::from_millis(50);

/// Spins through checkpoints until the scope around it expires.
#[killable]
fn spin_forever() -> ! {
    loop {
        std::hint::black_box(0);
    }
}

/// Spins through checkpoints for `d`, then returns how many it passed.
#[killable]
fn spin_for(d: Duration) -> u64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < d {
        n += 1;
    }
    n
}

/// On a killable thread, checks that the registry sees nothing pending for
/// it (a leftover deadline would show as `KillPending` even if no checkpoint
/// delivered it).
fn assert_nothing_pending() {
    let me = std::thread::current().id();
    if let Some(info) = registry::info(me) {
        assert_eq!(info.state(), RunState::Running);
    }
}

/// Runs `f` on a plain std thread, a killable thread, and this test thread
/// (the test harness's thread: not killable, like `main`).
fn on_every_kind_of_thread(f: fn()) {
    std::thread::spawn(f).join().unwrap();
    KillableThread::spawn(f).join().unwrap();
    f();
}

#[test]
fn expiry_is_caught_by_its_scope() {
    on_every_kind_of_thread(|| {
        let start = Instant::now();
        assert_eq!(with_timeout(SHORT, || spin_forever()), Err(TimedOut));
        let took = start.elapsed();
        assert!(took >= SHORT && took < BOUND, "{took:?}");
    });
}

#[test]
fn sequential_scopes_are_independent() {
    on_every_kind_of_thread(|| {
        for i in 0..20 {
            if i % 2 == 0 {
                let r = with_timeout(Duration::from_millis(5), || spin_forever());
                assert_eq!(r, Err(TimedOut), "scope {i}");
            } else {
                assert_eq!(with_timeout(HOUR, || i), Ok(i), "scope {i}");
            }
        }
    });
}

#[test]
fn inner_scope_catches_only_its_own_expiry() {
    on_every_kind_of_thread(|| {
        let r = with_timeout(BOUND, || {
            let inner = with_timeout(SHORT, || spin_forever());
            // The outer scope goes on after the inner one expired.
            (inner, spin_for(Duration::from_millis(20)) > 0)
        });
        assert_eq!(r, Ok((Err(TimedOut), true)));
    });
}

#[test]
fn outer_expiry_passes_through_an_inner_scope() {
    on_every_kind_of_thread(|| {
        let inner_returned = AtomicBool::new(false);
        let start = Instant::now();
        let r = with_timeout(SHORT, || {
            let inner = with_timeout(HOUR, || spin_forever());
            inner_returned.store(true, SeqCst);
            inner
        });
        assert_eq!(r, Err(TimedOut));
        assert!(!inner_returned.load(SeqCst), "inner scope returned");
        assert!(start.elapsed() < BOUND);
    });
}

#[test]
fn three_deep_middle_expiry() {
    on_every_kind_of_thread(|| {
        let r = with_timeout(HOUR, || {
            let middle = with_timeout(SHORT, || {
                let inner = with_timeout(HOUR, || spin_forever());
                panic!("inner returned {inner:?}");
            });
            // The outermost scope is untouched: its checkpoints run on.
            (middle, spin_for(Duration::from_millis(20)) > 0)
        });
        assert_eq!(r, Ok((Err(TimedOut), true)));
    });
}

#[test]
fn scope_ending_in_time_leaves_nothing_pending() {
    on_every_kind_of_thread(|| {
        // Ends well before its deadline...
        assert_eq!(with_timeout(SHORT, || 1), Ok(1));
        // ...nested, too.
        assert_eq!(with_timeout(SHORT, || with_timeout(SHORT, || 2)), Ok(Ok(2)));
        // A long computation with checkpoints, in a new scope with a distant
        // deadline, runs to the end: nothing of the earlier scopes fires
        // into it while their deadlines pass...
        assert!(with_timeout(HOUR, || spin_for(SHORT * 4)).is_ok());
        // ...nor into plain code after it...
        assert!(spin_for(SHORT) > 0);
        // ...nor is anything left pending.
        assert_nothing_pending();
    });
}

#[test]
fn scope_whose_deadline_passes_after_it_returned_leaves_nothing_pending() {
    on_every_kind_of_thread(|| {
        // `f` returns after its deadline without a checkpoint: Ok, and the
        // expiry that was recorded dies with the scope.
        let r = with_timeout(Duration::from_millis(10), || {
            std::thread::sleep(Duration::from_millis(40)); // not killable
            3
        });
        assert_eq!(r, Ok(3));
        assert!(spin_for(SHORT) > 0);
        assert_nothing_pending();
    });
}

#[test]
fn zero_and_past_deadlines() {
    on_every_kind_of_thread(|| {
        let past = Instant::now() - Duration::from_millis(1);
        assert_eq!(
            with_timeout(Duration::ZERO, || spin_forever()),
            Err(TimedOut)
        );
        assert_eq!(with_deadline(past, || spin_forever()), Err(TimedOut));
        // Expired but never checked: `f` returns, so does its value.
        assert_eq!(with_timeout(Duration::ZERO, || 7), Ok(7));
        // Nested: an expired outer scope passes through a live inner one...
        let r = with_timeout(Duration::ZERO, || with_timeout(HOUR, || spin_forever()));
        assert_eq!(r, Err(TimedOut));
        // ...and an expired inner scope is caught by itself.
        let r = with_timeout(HOUR, || with_deadline(past, || spin_forever()));
        assert_eq!(r, Ok(Err(TimedOut)));
        // Both expired: the outer one wins.
        let r = with_deadline(past, || with_timeout(Duration::ZERO, || spin_forever()));
        assert_eq!(r, Err(TimedOut));
        // And nothing is left over.
        assert!(spin_for(Duration::from_millis(10)) > 0);
        assert_nothing_pending();
    });
}

#[test]
fn expiry_wakes_a_killable_sleep() {
    on_every_kind_of_thread(|| {
        let start = Instant::now();
        assert_eq!(with_timeout(SHORT, || killable::sleep(HOUR)), Err(TimedOut));
        let took = start.elapsed();
        assert!(took >= SHORT && took < BOUND, "{took:?}");
        // Nested, the outer one expiring.
        let start = Instant::now();
        let r = with_timeout(SHORT, || with_timeout(HOUR, || killable::sleep(HOUR)));
        assert_eq!(r, Err(TimedOut));
        assert!(start.elapsed() < BOUND);
    });
}

#[test]
fn expiry_inside_a_shield_lands_right_after_it() {
    on_every_kind_of_thread(|| {
        let steps = AtomicUsize::new(0);
        let start = Instant::now();
        let r = with_timeout(SHORT, || {
            shield(|| {
                // Outlives the deadline; shielded waits do not wake for it,
                // and checkpoints do not deliver it.
                killable::sleep(SHORT * 3);
                checkpoint();
                steps.store(1, SeqCst); // the shielded section completes
            });
            steps.store(2, SeqCst); // `shield` returned: no checkpoint yet
            checkpoint(); // the first checkpoint after the shield
            steps.store(3, SeqCst);
        });
        assert_eq!(r, Err(TimedOut));
        assert_eq!(steps.load(SeqCst), 2);
        assert!(start.elapsed() >= SHORT * 3);
    });
}

/// A non-killable thread becomes killable only for a scope's duration, and
/// only by its deadline.
#[test]
fn plain_thread_is_killable_only_inside_the_scope() {
    std::thread::spawn(|| {
        assert!(registry::threads()
            .iter()
            .all(|i| i.id() != std::thread::current().id()));
        assert_eq!(with_timeout(SHORT, || spin_forever()), Err(TimedOut));
        // After the scope: checkpoints and killable waits are plain again.
        checkpoint();
        killable::sleep(Duration::from_millis(1));
    })
    .join()
    .unwrap();
}

#[test]
fn terminate_passes_through_with_timeout_as_a_termination() {
    let scope_returned = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready) = mpsc::channel();
    let flag = scope_returned.clone();
    let t = KillableThread::spawn(move || {
        let r = with_timeout(HOUR, || {
            ready_tx.send(()).unwrap();
            killable::sleep(HOUR);
        });
        flag.store(true, SeqCst);
        r
    });
    ready.recv_timeout(BOUND).unwrap();
    let start = Instant::now();
    t.terminate();
    let err = t.join().unwrap_err();
    assert!(err.is_terminated(), "{err:?}");
    assert!(!scope_returned.load(SeqCst));
    assert!(start.elapsed() < BOUND);
}

#[test]
fn raise_passes_through_with_timeout() {
    #[derive(Debug, PartialEq)]
    struct Stop;
    let (ready_tx, ready) = mpsc::channel();
    let t = KillableThread::spawn(move || {
        killable::catch::<Stop, _, _>(|| {
            with_timeout(HOUR, || {
                ready_tx.send(()).unwrap();
                killable::sleep(HOUR);
            })
        })
    });
    ready.recv_timeout(BOUND).unwrap();
    t.raise(Stop).unwrap();
    assert_eq!(t.join().unwrap(), Err(Stop));
}

#[test]
fn scope_expiry_on_a_terminated_thread_stays_a_termination() {
    // Terminated while the scope is also expired: termination wins.
    let t = KillableThread::spawn(|| {
        with_timeout(Duration::ZERO, || {
            std::thread::sleep(Duration::from_millis(100)); // not killable
            checkpoint();
        })
    });
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
}

#[test]
fn builder_deadline_terminates() {
    struct Guard(mpsc::Sender<()>);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }
    let (drops_tx, drops) = mpsc::channel();
    let start = Instant::now();
    let t = Builder::new()
        .deadline(Instant::now() + SHORT)
        .spawn(move || {
            let _g = Guard(drops_tx);
            killable::sleep(HOUR);
        })
        .unwrap();
    assert!(t.join().unwrap_err().is_terminated());
    let took = start.elapsed();
    assert!(took >= SHORT && took < BOUND, "{took:?}");
    drops.recv_timeout(BOUND).unwrap();

    // A past deadline: terminated at the first checkpoint.
    let t = Builder::new()
        .deadline(Instant::now() - Duration::from_millis(1))
        .spawn(|| spin_forever())
        .unwrap();
    assert!(t.join().unwrap_err().is_terminated());

    // The deadline is a termination, which a scope inside does not catch.
    let t = Builder::new()
        .deadline(Instant::now() + SHORT)
        .spawn(|| with_timeout(HOUR, || spin_forever()))
        .unwrap();
    assert!(t.join().unwrap_err().is_terminated());
}

/// Names of this process's threads, from `/proc/self/task/*/comm`.
#[cfg(target_os = "linux")]
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|s| s.trim_end().to_string())
        .collect()
}

/// 10,000 scopes open at once (100 threads, each 100 deep), all with their
/// timers scheduled, cost no thread beyond the one shared timer. The
/// innermost scope of each thread expires while all are open and is caught
/// by itself; the 9,900 others are cancelled when they end.
#[cfg(target_os = "linux")]
#[test]
fn ten_thousand_concurrent_scopes_share_one_timer_thread() {
    const THREADS: usize = 100;
    const DEPTH: usize = 100;

    fn nest(depth: usize, all_open: &Barrier, counted: &Barrier) -> Result<(), TimedOut> {
        if depth == 1 {
            // The innermost scope: expires while everything is open.
            return with_timeout(Duration::from_millis(200), || {
                all_open.wait();
                counted.wait();
                killable::sleep(HOUR);
            });
        }
        let r = with_timeout(HOUR + Duration::from_millis(depth as u64), || {
            nest(depth - 1, all_open, counted)
        });
        // Every outer scope returns Ok, wrapping the innermost's Err.
        r.expect("an outer scope expired")
    }

    // Make sure the timer thread exists before counting.
    assert_eq!(with_timeout(HOUR, || ()), Ok(()));
    let timers_before = thread_names()
        .iter()
        .filter(|n| *n == "killable-timer")
        .count();
    assert_eq!(timers_before, 1);
    let total_before = thread_names().len();

    let all_open = Arc::new(Barrier::new(THREADS + 1));
    let counted = Arc::new(Barrier::new(THREADS + 1));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (a, c) = (all_open.clone(), counted.clone());
            std::thread::spawn(move || nest(DEPTH, &a, &c))
        })
        .collect();
    all_open.wait();
    // THREADS * DEPTH scopes are open now, each with a pending timer.
    let names = thread_names();
    let timers = names.iter().filter(|n| *n == "killable-timer").count();
    let total = names.len();
    counted.wait();
    let start = Instant::now();
    for w in workers {
        assert_eq!(w.join().unwrap(), Err(TimedOut));
    }
    assert_eq!(timers, 1, "timer threads while 10,000 scopes were open");
    // Our 100 workers, plus whatever other tests of this file run meanwhile
    // (a few threads each): nowhere near one thread per scope.
    assert!(
        total <= total_before + THREADS + 50,
        "{total} threads with 10,000 scopes open, {total_before} before"
    );
    assert!(start.elapsed() < BOUND);
    let timers_after = thread_names()
        .iter()
        .filter(|n| *n == "killable-timer")
        .count();
    assert_eq!(timers_after, 1);
}

/// Issue 12, finding 7: a `with_timeout` opened in a destructor that runs
/// during an unwind gets its own deadline delivered (its body runs under the
/// scope's `catch_unwind`, so the outer unwind is never crossed), both in
/// a killable wait and in a loop of checkpoints. Returns what the scope gave
/// and how long it took.
fn timeout_in_a_destructor_during_a_panic(body: fn()) -> (Result<(), TimedOut>, Duration) {
    use std::sync::Mutex;
    type Outcome = (Result<(), TimedOut>, Duration);
    struct InDrop(Arc<Mutex<Option<Outcome>>>, fn());
    impl Drop for InDrop {
        fn drop(&mut self) {
            assert!(std::thread::panicking());
            let start = Instant::now();
            let r = with_timeout(Duration::from_millis(10), self.1);
            *self.0.lock().unwrap() = Some((r, start.elapsed()));
        }
    }
    let out = Arc::new(Mutex::new(None));
    let o = out.clone();
    let unwound = std::panic::catch_unwind(move || {
        let _d = InDrop(o, body);
        std::panic::resume_unwind(Box::new("outer"));
    });
    assert!(unwound.is_err());
    let r = out.lock().unwrap().take().expect("the destructor ran");
    r
}

#[test]
fn with_timeout_in_a_destructor_during_a_panic_expires_a_killable_sleep() {
    let (r, took) =
        timeout_in_a_destructor_during_a_panic(|| killable::sleep(Duration::from_secs(3)));
    assert_eq!(r, Err(TimedOut));
    assert!(took < Duration::from_millis(1500), "took {took:?}");
}

#[test]
fn with_timeout_in_a_destructor_during_a_panic_expires_a_checkpoint_loop() {
    // Without the fix this never returns: bound it by a watchdog thread.
    let h = std::thread::spawn(|| {
        timeout_in_a_destructor_during_a_panic(|| {
            let start = Instant::now();
            // The bound only keeps a broken build from spinning forever.
            while start.elapsed() < Duration::from_secs(3) {
                killable::checkpoint();
            }
        })
    });
    let (r, took) = h.join().unwrap();
    assert_eq!(r, Err(TimedOut));
    assert!(took < Duration::from_millis(1500), "took {took:?}");
}

/// While unwinding, only the expiry of a scope opened during that unwind is
/// delivered: a termination of the thread stays deferred (it would cross the
/// outer unwind), and lands, as ever, nowhere before the thread ends.
#[test]
fn while_unwinding_a_termination_stays_deferred_in_a_destructors_scope() {
    struct InDrop(mpsc::Sender<()>, mpsc::Sender<Result<u32, TimedOut>>);
    impl Drop for InDrop {
        fn drop(&mut self) {
            self.0.send(()).unwrap();
            // The termination below arrives while this scope runs.
            let r = with_timeout(Duration::from_secs(60), || {
                let mut n = 0;
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(200) {
                    killable::checkpoint();
                    n = 1;
                }
                n
            });
            self.1.send(r).unwrap();
        }
    }
    let (in_drop_tx, in_drop) = mpsc::channel();
    let (result_tx, result) = mpsc::channel();
    let t = KillableThread::spawn(move || {
        let _d = InDrop(in_drop_tx, result_tx);
        std::panic::resume_unwind(Box::new("outer"));
    });
    in_drop.recv().unwrap();
    t.terminate();
    assert_eq!(result.recv().unwrap(), Ok(1), "the scope ran to its end");
    assert!(t.join().unwrap_err().is_panic());
}
