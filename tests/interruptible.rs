//! `interruptible(op, on_kill)`: a kill calls `on_kill` once, from the
//! killer's side, to unblock `op`; then it is delivered when `op` returns.
//!
//! The blocking operation in most tests is a plain `std::sync::mpsc`
//! receive, which knows nothing of this crate: only `on_kill` (sending on
//! the channel) can end it early. Real sockets and pipes are in
//! `tests/examples_blocking.rs`.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use killable::{catch, interruptible, shield, with_timeout, KillableThread, TimedOut};

use support::BOUND;

#[derive(Debug, PartialEq)]
struct Stop(u32);

/// A blocking call only `unblock` can end (or `BOUND`, reported as `false`).
fn blocker() -> (impl FnOnce() -> bool, impl Fn() + Send + Sync) {
    let (tx, rx) = mpsc::channel::<()>();
    let op = move || rx.recv_timeout(BOUND).is_ok();
    let unblock = move || {
        let _ = tx.send(());
    };
    (op, unblock)
}

/// Counts its calls, and remembers the name of the thread of the last one.
#[derive(Clone, Default)]
struct Calls(Arc<(AtomicUsize, Mutex<Option<String>>)>);
impl Calls {
    fn record(&self) {
        self.0 .0.fetch_add(1, SeqCst);
        *self.0 .1.lock().unwrap() = std::thread::current().name().map(String::from);
    }
    fn count(&self) -> usize {
        self.0 .0.load(SeqCst)
    }
    fn thread(&self) -> Option<String> {
        self.0 .1.lock().unwrap().clone()
    }
}

/// Spawns `body` on a killable thread, waits until it reports (through the sender it is
/// given) that it is about to block and until the registry shows it Blocked (in the
/// blocking call with its hook armed: a kill that reaches it before it arms is delivered
/// without the hook), then gives it 20 ms more, which the nested tests need (their outer
/// call shows Blocked before the inner one has armed).
fn spawn_blocked<T: Send + 'static>(
    body: impl FnOnce(mpsc::Sender<()>) -> T + Send + 'static,
) -> KillableThread<T> {
    spawn_then(body, |t| support::wait_until_blocked(t.id()))
}

/// [`spawn_blocked`] for a thread that blocks inside a shield, which the registry never
/// shows as Blocked: it can only be given time to get there.
fn spawn_blocked_in_shield<T: Send + 'static>(
    body: impl FnOnce(mpsc::Sender<()>) -> T + Send + 'static,
) -> KillableThread<T> {
    spawn_then(body, |_| {})
}

fn spawn_then<T: Send + 'static>(
    body: impl FnOnce(mpsc::Sender<()>) -> T + Send + 'static,
    wait: impl FnOnce(&KillableThread<T>),
) -> KillableThread<T> {
    let (ready_tx, ready) = mpsc::channel();
    let t = KillableThread::spawn(move || body(ready_tx));
    ready.recv_timeout(BOUND).expect("thread never got ready");
    wait(&t);
    std::thread::sleep(Duration::from_millis(20));
    t
}

#[test]
fn terminate_calls_on_kill_from_the_killer_then_delivers_when_op_returns() {
    let calls = Calls::default();
    let op_returned = Arc::new(AtomicBool::new(false));
    let (c, r) = (calls.clone(), op_returned.clone());
    let t = spawn_blocked(move |ready| {
        let (op, unblock) = blocker();
        ready.send(()).unwrap();
        interruptible(
            || {
                let woke = op();
                r.store(woke, SeqCst);
            },
            move || {
                c.record();
                unblock();
            },
        );
        panic!("interruptible returned after a kill");
    });
    let start = Instant::now();
    std::thread::Builder::new()
        .name("the-killer".into())
        .spawn({
            let k = t.killer();
            move || k.terminate()
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(t.join().unwrap_err().is_terminated());
    assert!(start.elapsed() < BOUND);
    assert!(op_returned.load(SeqCst), "op was unblocked by on_kill");
    assert_eq!(calls.count(), 1);
    assert_eq!(calls.thread().as_deref(), Some("the-killer"));
}

#[test]
fn raise_is_delivered_after_op_and_can_be_caught() {
    let calls = Calls::default();
    let c = calls.clone();
    let t = spawn_blocked(move |ready| {
        let (op, unblock) = blocker();
        ready.send(()).unwrap();
        catch::<Stop, _, _>(|| {
            interruptible(op, move || {
                c.record();
                unblock();
            })
        })
    });
    t.raise(Stop(3)).unwrap();
    assert_eq!(t.join().unwrap(), Err(Stop(3)));
    assert_eq!(calls.count(), 1);
}

#[test]
fn on_kill_runs_at_most_once_however_many_kills() {
    let calls = Calls::default();
    let c = calls.clone();
    let go = Arc::new(Barrier::new(2));
    let g = go.clone();
    let t = spawn_blocked(move |ready| {
        let (op, unblock) = blocker();
        ready.send(()).unwrap();
        interruptible(
            || {
                op();
                g.wait(); // still inside `op` while more kills arrive
            },
            move || {
                c.record();
                unblock();
            },
        )
    });
    t.raise(Stop(1)).unwrap();
    t.raise(Stop(2)).unwrap();
    t.terminate();
    go.wait();
    assert!(t.join().unwrap_err().is_terminated());
    assert_eq!(calls.count(), 1);
}

#[test]
fn a_kill_pending_before_the_call_skips_op() {
    let calls = Calls::default();
    let c = calls.clone();
    let (started, go) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let (s, g) = (started.clone(), go.clone());
    let t = KillableThread::spawn(move || {
        s.wait();
        g.wait(); // not a checkpoint: the raise below stays pending
        let ran = AtomicBool::new(false);
        let r = catch::<Stop, _, _>(|| interruptible(|| ran.store(true, SeqCst), || c.record()));
        (r, ran.load(SeqCst))
    });
    started.wait();
    t.raise(Stop(9)).unwrap();
    go.wait();
    assert_eq!(t.join().unwrap(), (Err(Stop(9)), false));
    assert_eq!(calls.count(), 0);
}

/// `on_kill` never runs after `interruptible` has returned, and
/// `interruptible` waits for a running `on_kill` before it returns. Each
/// round, a raise lands while `op` runs; `on_kill` takes a millisecond, and
/// `op` returns as soon as `on_kill` has started. `on_kill` checks, at its
/// start and again at its end, that its call is still in progress.
#[test]
fn on_kill_never_runs_after_the_call_returned() {
    const ROUNDS: usize = 200;
    #[derive(Default)]
    struct Shared {
        /// Round number + 1 while `op` runs.
        in_op: AtomicUsize,
        hook_started: AtomicBool,
        active: AtomicBool,
        violations: AtomicUsize,
    }
    let shared = Arc::new(Shared::default());
    let sh = shared.clone();
    let t = KillableThread::spawn(move || {
        let mut caught = 0;
        for round in 0..ROUNDS {
            sh.hook_started.store(false, SeqCst);
            sh.active.store(true, SeqCst);
            let r = catch::<Stop, _, _>(|| {
                interruptible(
                    || {
                        sh.in_op.store(round + 1, SeqCst);
                        let start = Instant::now();
                        while !sh.hook_started.load(SeqCst) && start.elapsed() < BOUND {
                            std::hint::spin_loop();
                        }
                    },
                    || {
                        sh.hook_started.store(true, SeqCst);
                        if !sh.active.load(SeqCst) {
                            sh.violations.fetch_add(1, SeqCst);
                        }
                        std::thread::sleep(Duration::from_millis(1));
                        if !sh.active.load(SeqCst) {
                            sh.violations.fetch_add(1, SeqCst);
                        }
                    },
                )
            });
            sh.active.store(false, SeqCst);
            caught += r.is_err() as usize;
        }
        caught
    });
    for round in 0..ROUNDS {
        let start = Instant::now();
        while shared.in_op.load(SeqCst) != round + 1 {
            assert!(start.elapsed() < BOUND, "round {round} never started");
            std::hint::spin_loop();
        }
        t.raise(Stop(0)).unwrap();
    }
    assert_eq!(
        t.join().unwrap(),
        ROUNDS,
        "every raise landed and was caught"
    );
    assert_eq!(
        shared.violations.load(SeqCst),
        0,
        "on_kill ran after interruptible returned"
    );
}

#[test]
fn deadline_calls_on_kill_from_the_hook_thread() {
    fn run() {
        let calls = Calls::default();
        let c = calls.clone();
        let (op, unblock) = blocker();
        let start = Instant::now();
        let r = with_timeout(Duration::from_millis(50), || {
            interruptible(op, move || {
                c.record();
                unblock();
            })
        });
        assert_eq!(r, Err(TimedOut));
        assert!(start.elapsed() < BOUND);
        assert_eq!(calls.count(), 1);
        assert_eq!(calls.thread().as_deref(), Some("killable-hooks"));
    }
    std::thread::spawn(run).join().unwrap(); // a plain thread
    KillableThread::spawn(run).join().unwrap();
    run(); // the test thread
}

#[test]
fn a_panicking_on_kill_does_not_stop_the_timer() {
    let (op, unblock) = blocker();
    let r = std::thread::spawn(move || {
        with_timeout(Duration::from_millis(20), || {
            interruptible(op, move || {
                unblock();
                panic!("on_kill panics (expected by this test)");
            })
        })
    })
    .join()
    .unwrap();
    assert_eq!(r, Err(TimedOut));
    // Deadlines still fire afterwards.
    let start = Instant::now();
    let r = with_timeout(Duration::from_millis(20), || killable::sleep(BOUND * 360));
    assert_eq!(r, Err(TimedOut));
    assert!(start.elapsed() < BOUND);
}

#[test]
fn not_killable_means_op_just_runs() {
    let calls = Calls::default();
    let c = calls.clone();
    assert_eq!(interruptible(|| 5, move || c.record()), 5);
    assert_eq!(calls.count(), 0);
}

#[test]
fn inside_a_shield_on_kill_is_not_called_and_the_kill_waits() {
    let calls = Calls::default();
    let c = calls.clone();
    let (go_tx, go) = mpsc::channel::<()>();
    let reached_after = Arc::new(AtomicBool::new(false));
    let r = reached_after.clone();
    let t = spawn_blocked_in_shield(move |ready| {
        let got_go = shield(|| {
            ready.send(()).unwrap();
            interruptible(|| go.recv_timeout(BOUND).is_ok(), move || c.record())
        });
        r.store(got_go, SeqCst);
        killable::checkpoint();
        panic!("the termination did not land after the shield");
    });
    t.terminate();
    std::thread::sleep(Duration::from_millis(20));
    go_tx.send(()).unwrap();
    assert!(t.join().unwrap_err().is_terminated());
    assert!(
        reached_after.load(SeqCst),
        "op was ended by go, not by a timeout"
    );
    assert_eq!(calls.count(), 0);
}

/// An inner `interruptible` inside an outer one's `op` stands in for it
/// only while it runs: a kill after it returned reaches the outer `on_kill`.
#[test]
fn nested_calls_restore_the_outer_hook() {
    let (outer, inner) = (Calls::default(), Calls::default());
    let (o, i) = (outer.clone(), inner.clone());
    let t = spawn_blocked(move |ready| {
        let (op, unblock) = blocker();
        interruptible(
            || {
                assert_eq!(interruptible(|| 1, move || i.record()), 1);
                ready.send(()).unwrap();
                op()
            },
            move || {
                o.record();
                unblock();
            },
        )
    });
    let start = Instant::now();
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
    assert!(
        start.elapsed() < BOUND,
        "the outer on_kill was never called"
    );
    assert_eq!((outer.count(), inner.count()), (1, 0));
}

/// A kill while the inner call runs calls only the inner `on_kill`; the
/// outer one is not called for the kill the inner call delivers.
#[test]
fn nested_kill_during_the_inner_call_calls_only_the_inner_hook() {
    let (outer, inner) = (Calls::default(), Calls::default());
    let (o, i) = (outer.clone(), inner.clone());
    let t = spawn_blocked(move |ready| {
        interruptible(
            || {
                let caught = catch::<Stop, _, _>(|| {
                    let (op, unblock) = blocker();
                    ready.send(()).unwrap();
                    interruptible(op, move || {
                        i.record();
                        unblock();
                    })
                });
                caught.is_err()
            },
            move || o.record(),
        )
    });
    t.raise(Stop(1)).unwrap();
    assert!(
        t.join().unwrap(),
        "the raise was caught inside the outer op"
    );
    assert_eq!((outer.count(), inner.count()), (0, 1));
}

/// Two raises while the inner call runs: it delivers the first (caught in
/// the outer `op`), and the outer `on_kill` is called for the second, so
/// the outer `op`, blocking again, is unblocked too.
#[test]
fn nested_second_kill_reaches_the_outer_hook() {
    let (outer, inner) = (Calls::default(), Calls::default());
    let (o, i) = (outer.clone(), inner.clone());
    let go = Arc::new(Barrier::new(2));
    let g = go.clone();
    let t = spawn_blocked(move |ready| {
        let (outer_op, outer_unblock) = blocker();
        catch::<Stop, _, _>(|| {
            interruptible(
                || {
                    let first = catch::<Stop, _, _>(|| {
                        let (op, unblock) = blocker();
                        ready.send(()).unwrap();
                        interruptible(
                            || {
                                op();
                                g.wait(); // both raises are in
                            },
                            move || {
                                i.record();
                                unblock();
                            },
                        )
                    });
                    assert_eq!(first, Err(Stop(1)));
                    outer_op() // blocks again: only the outer on_kill helps
                },
                move || {
                    o.record();
                    outer_unblock();
                },
            )
        })
    });
    let start = Instant::now();
    t.raise(Stop(1)).unwrap();
    t.raise(Stop(2)).unwrap();
    go.wait();
    assert_eq!(t.join().unwrap(), Err(Stop(2)));
    assert!(start.elapsed() < BOUND, "the outer op was never unblocked");
    assert_eq!((outer.count(), inner.count()), (1, 1));
}

/// `on_kill` in its `Fn(KillKind)` form is told which kill arrived.
#[test]
fn on_kill_is_told_which_kill_arrived() {
    use killable::KillKind;
    fn hooked(kill: impl FnOnce(&KillableThread<()>)) -> KillKind {
        let seen = Arc::new(Mutex::new(None));
        let s = seen.clone();
        let t = spawn_blocked(move |ready| {
            let (op, unblock) = blocker();
            ready.send(()).unwrap();
            let _ = catch::<Stop, _, _>(|| {
                interruptible(op, move |kind: KillKind| {
                    *s.lock().unwrap() = Some(kind);
                    unblock();
                })
            });
        });
        kill(&t);
        let _ = t.join();
        let kind = seen.lock().unwrap().take();
        kind.expect("on_kill was called")
    }
    assert_eq!(hooked(|t| t.terminate()), KillKind::Terminate);
    assert_eq!(hooked(|t| t.raise(Stop(1)).unwrap()), KillKind::Raise);
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let (op, unblock) = blocker();
    let r = with_timeout(Duration::from_millis(20), || {
        interruptible(op, move |kind: KillKind| {
            *s.lock().unwrap() = Some(kind);
            unblock();
        })
    });
    assert_eq!(r, Err(TimedOut));
    assert_eq!(*seen.lock().unwrap(), Some(KillKind::Deadline));
}

/// Issue 12, finding 11: hooks that raise into each other. A's `on_kill`
/// raises into B and B's raises into A; one raise into A must end both,
/// with no thread waiting on a lock held across the other's hook.
#[test]
fn hooks_that_raise_into_each_other_do_not_deadlock() {
    fn hooked_to_the_other(
        ready: mpsc::Sender<()>,
    ) -> (mpsc::Sender<killable::Killer>, KillableThread<bool>) {
        let (other_tx, other_rx) = mpsc::channel::<killable::Killer>();
        let t = KillableThread::spawn(move || {
            let other = other_rx.recv_timeout(BOUND).unwrap();
            let (op, unblock) = blocker();
            ready.send(()).unwrap();
            catch::<Stop, _, _>(|| {
                interruptible(op, move || {
                    let _ = other.raise(Stop(0));
                    unblock();
                })
            })
            .is_err()
        });
        (other_tx, t)
    }
    let (ready_tx, ready) = mpsc::channel();
    let (to_a, a) = hooked_to_the_other(ready_tx.clone());
    let (to_b, b) = hooked_to_the_other(ready_tx);
    to_a.send(b.killer()).unwrap();
    to_b.send(a.killer()).unwrap();
    for _ in 0..2 {
        ready.recv_timeout(BOUND).unwrap();
    }
    std::thread::sleep(Duration::from_millis(20));
    let a_killer = a.killer();
    let raiser = std::thread::spawn(move || a_killer.raise(Stop(1)).is_ok());
    let start = Instant::now();
    while !raiser.is_finished() {
        assert!(start.elapsed() < BOUND, "the raise into A never returned");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(raiser.join().unwrap());
    let a = a.join_timeout(BOUND).expect("A never ended");
    let b = b.join_timeout(BOUND).expect("B never ended");
    assert_eq!(
        (a.unwrap(), b.unwrap()),
        (true, true),
        "each caught its raise"
    );
}

/// Issue 12, finding 5: a slow `on_kill`, run by an ordinary raiser, must
/// not hold up the shared timer. The victim's own deadline expires while the
/// raiser runs its hook (3 s); an unrelated thread's 200 ms deadline must
/// still fire on time.
#[test]
fn a_slow_on_kill_does_not_stall_an_unrelated_deadline() {
    let victim = spawn_blocked(move |ready| {
        let (op, unblock) = blocker();
        ready.send(()).unwrap();
        let _ = with_timeout(Duration::from_millis(100), || {
            catch::<Stop, _, _>(|| {
                interruptible(op, move || {
                    std::thread::sleep(Duration::from_secs(3));
                    unblock();
                })
            })
        });
    });
    let k = victim.killer();
    let raiser = std::thread::spawn(move || k.raise(Stop(1)));
    std::thread::sleep(Duration::from_millis(50)); // the hook is running
    let start = Instant::now();
    let r = with_timeout(Duration::from_millis(200), || killable::sleep(BOUND));
    let took = start.elapsed();
    assert_eq!(r, Err(TimedOut));
    assert!(
        took < Duration::from_millis(1500),
        "an unrelated 200 ms deadline fired after {took:?}"
    );
    raiser.join().unwrap().unwrap();
    victim.join().unwrap();
}

/// A deadline hook is not queued behind a slow one: it runs on another hook
/// runner while the slow hook still holds the first. (A claimed hook that
/// has not started when its operation returns is withdrawn and never called:
/// loom's `interruptible_returning_on_its_own_vs_kill` covers that window, which
/// a runner free at once leaves too short to hit here.)
#[test]
fn a_deadline_hook_does_not_wait_behind_a_slow_one() {
    let slow = std::thread::spawn(|| {
        let (op, unblock) = blocker();
        with_timeout(Duration::from_millis(20), || {
            interruptible(op, move || {
                std::thread::sleep(Duration::from_secs(2)); // holds its runner
                unblock();
            })
        })
    });
    std::thread::sleep(Duration::from_millis(100)); // the slow hook is running
    let calls = Calls::default();
    let c = calls.clone();
    let (op, unblock) = blocker();
    let start = Instant::now();
    let r = with_timeout(Duration::from_millis(20), || {
        interruptible(op, move || {
            c.record();
            unblock();
        })
    });
    let took = start.elapsed();
    assert_eq!(r, Err(TimedOut));
    assert!(
        took < Duration::from_millis(1500),
        "the hook waited {took:?} behind the slow one"
    );
    assert_eq!(calls.count(), 1);
    assert_eq!(calls.thread().as_deref(), Some("killable-hooks"));
    assert_eq!(slow.join().unwrap(), Err(TimedOut));
}

/// A thread's own deadline (`Builder::deadline`) reaches `on_kill` as a
/// termination, from the hook thread, not the timer thread.
#[test]
fn a_thread_deadline_calls_on_kill_from_the_hook_thread() {
    use killable::KillKind;
    let calls = Calls::default();
    let c = calls.clone();
    let kinds = Arc::new(Mutex::new(Vec::new()));
    let k = kinds.clone();
    let t = killable::Builder::new()
        .deadline(Instant::now() + Duration::from_millis(50))
        .spawn(move || {
            let (op, unblock) = blocker();
            interruptible(op, move |kind: KillKind| {
                c.record();
                k.lock().unwrap().push(kind);
                unblock();
            })
        })
        .unwrap();
    assert!(t.join().unwrap_err().is_terminated());
    assert_eq!(*kinds.lock().unwrap(), [KillKind::Terminate]);
    assert_eq!(calls.thread().as_deref(), Some("killable-hooks"));
}

/// A killer that runs in a destructor during an unwind runs the target's
/// `on_kill` there; a panic out of that hook would be a second panic and
/// abort the whole test binary. It is contained instead, and the kill stands.
#[test]
fn a_panicking_on_kill_run_by_a_killer_that_is_unwinding_does_not_abort() {
    struct TerminateOnDrop(killable::Killer);
    impl Drop for TerminateOnDrop {
        fn drop(&mut self) {
            self.0.terminate();
        }
    }
    let (op, unblock) = blocker();
    let t = spawn_blocked(move |ready| {
        interruptible(
            move || {
                ready.send(()).unwrap();
                op()
            },
            || panic!("on_kill panics"),
        )
    });
    let killer = t.killer();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _guard = TerminateOnDrop(killer);
        panic!("the killer unwinds");
    }));
    assert!(unwound.is_err());
    // The hook panicked before unblocking anything: unblock by hand.
    unblock();
    let r = t
        .join_timeout(BOUND)
        .unwrap_or_else(|_| panic!("the target never ended"));
    assert!(r.unwrap_err().is_terminated());
}

/// A deadline hook may wait for something only a later deadline hook does:
/// the hooks run on a pool that grows while every runner is busy, so the
/// second hook is not queued behind the first forever.
#[test]
fn a_deadline_hook_waiting_for_a_later_deadline_hook_does_not_deadlock() {
    let (told_tx, told) = mpsc::channel::<()>();
    let told = Mutex::new(told);
    let (heard_tx, heard) = mpsc::channel::<bool>();
    let first = spawn_blocked(move |ready| {
        let (op, unblock) = blocker();
        ready.send(()).unwrap();
        with_timeout(Duration::from_millis(50), || {
            interruptible(op, move || {
                // Blocks the runner until the second hook has run.
                let ok = told.lock().unwrap().recv_timeout(BOUND).is_ok();
                heard_tx.send(ok).unwrap();
                unblock();
            })
        })
    });
    let second = spawn_blocked(move |ready| {
        let (op, unblock) = blocker();
        ready.send(()).unwrap();
        with_timeout(Duration::from_millis(300), || {
            interruptible(op, move || {
                let _ = told_tx.send(());
                unblock();
            })
        })
    });
    let start = Instant::now();
    assert_eq!(
        heard.recv_timeout(BOUND * 2),
        Ok(true),
        "the second hook never ran"
    );
    assert!(
        start.elapsed() < BOUND,
        "the second hook ran only after the first gave up ({:?})",
        start.elapsed()
    );
    assert_eq!(first.join().unwrap(), Err(TimedOut));
    assert_eq!(second.join().unwrap(), Err(TimedOut));
}
