//! A hostile user's attacks on the runtime's promises: kills at awkward
//! moments, and user code run by the runtime (hooks, drops of raised values,
//! drops of guards) that panics, blocks, or kills. Each case runs in a child
//! process (an abort fails it instead of ending the suite) under a watchdog
//! (a hang fails it instead of stalling the suite), and checks that the
//! registry is empty at its end.

use std::panic::{catch_unwind, panic_any, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

mod support;

use killable::{
    catch, checkpoint, interruptible, registry, scope, with_timeout, CancelToken, Cancelled,
    KillKind, KillableThread, TimedOut,
};

/// "At once" on a noisy shared machine; a real hang takes forever.
const BOUND: Duration = Duration::from_secs(20);

/// `support::isolated` with this file's bounds.
fn isolated(name: &str, body: impl FnOnce()) {
    support::isolated(name, BOUND, 2 * BOUND, body);
}

fn join_in_time<T>(t: KillableThread<T>) -> Result<T, killable::JoinError> {
    support::join_within(t, BOUND)
}

/// Counts live instances, to check that every raised value is dropped
/// exactly once.
static LIVE: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug)]
struct Tracked(#[allow(dead_code)] u64);
impl Tracked {
    fn new(n: u64) -> Tracked {
        LIVE.fetch_add(1, SeqCst);
        Tracked(n)
    }
}
impl Drop for Tracked {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, SeqCst);
    }
}

/// A panic payload whose own `Drop` panics: the nastiest thing a hook can
/// throw.
struct PanicsOnDrop;
impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic_any(PanicsOnDrop2);
        }
    }
}
struct PanicsOnDrop2;
impl Drop for PanicsOnDrop2 {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("and again");
        }
    }
}

/// A raised value whose `Drop` panics with a payload whose `Drop` panics.
struct RaisedBomb;
impl Drop for RaisedBomb {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic_any(PanicsOnDrop);
        }
    }
}

fn spin() -> ! {
    loop {
        checkpoint();
        std::hint::spin_loop();
    }
}

// ---------------------------------------------------------------------------
// Raises racing exit: every value is delivered, handed back, or dropped,
// exactly once, and before join returns.

#[test]
fn raises_racing_exit_are_each_accounted_for_exactly_once() {
    isolated(
        "raises_racing_exit_are_each_accounted_for_exactly_once",
        || {
            for round in 0..300u64 {
                let t = KillableThread::spawn(move || {
                    let mut caught = 0u64;
                    for i in 0..(round % 7) * 50 {
                        if catch::<Tracked, _, _>(|| {
                            std::hint::black_box(i);
                            checkpoint()
                        })
                        .is_err()
                        {
                            caught += 1;
                        }
                    }
                    caught
                });
                let k = t.killer();
                let mut handed_back = 0;
                let mut accepted = 0;
                for i in 0..(round % 5) {
                    match k.raise(Tracked::new(i)) {
                        Ok(()) => accepted += 1,
                        Err(v) => {
                            handed_back += 1;
                            drop(v);
                        }
                    }
                }
                let r = join_in_time(t);
                let delivered = match r {
                    Ok(c) => c,
                    Err(e) => {
                        let v = e.downcast_raised::<Tracked>().expect("only raises");
                        drop(v);
                        0 // the uncaught one; others were caught
                    }
                };
                assert!(delivered <= accepted);
                assert_eq!(LIVE.load(SeqCst), 0, "round {round}: a raised value outlived join ({accepted} accepted, {handed_back} back)");
                // A raise on the finished thread hands the value back intact.
                let back = k.raise(Tracked::new(99)).expect_err("finished thread");
                assert_eq!(back.0, 99);
            }
        },
    );
}

// ---------------------------------------------------------------------------
// Drops of raised values run by the runtime.

#[test]
fn undelivered_raises_whose_drop_panics_twice_do_not_abort() {
    isolated(
        "undelivered_raises_whose_drop_panics_twice_do_not_abort",
        || {
            let (tx, rx) = mpsc::channel::<()>();
            let (go_tx, go) = mpsc::channel::<()>();
            let t = KillableThread::spawn(move || {
                tx.send(()).unwrap();
                go.recv().unwrap(); // std recv: no checkpoint, so raises queue
                7
            });
            rx.recv().unwrap();
            for _ in 0..5 {
                t.raise(RaisedBomb).map_err(|_| ()).unwrap();
            }
            go_tx.send(()).unwrap();
            assert_eq!(join_in_time(t).unwrap(), 7);
        },
    );
}

#[test]
fn an_uncaught_raise_whose_drop_panics_twice_in_an_unjoined_thread_does_not_abort() {
    isolated(
        "an_uncaught_raise_whose_drop_panics_twice_in_an_unjoined_thread_does_not_abort",
        || {
            let t = KillableThread::spawn(|| spin());
            t.raise(RaisedBomb).map_err(|_| ()).unwrap();
            let k = t.killer();
            drop(t); // never joined: the result (holding the value) is dropped by std
            let start = Instant::now();
            while k.is_alive() && start.elapsed() < BOUND {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(100));
        },
    );
}

#[test]
fn an_uncaught_raise_whose_drop_panics_twice_in_an_unjoined_scoped_thread_does_not_abort() {
    isolated(
        "an_uncaught_raise_whose_drop_panics_twice_in_an_unjoined_scoped_thread_does_not_abort",
        || {
            scope(|s| {
                let c = s.spawn(|| spin());
                c.raise(RaisedBomb).map_err(|_| ()).unwrap();
                // not joined: the scope drops the result
            });
        },
    );
}

#[test]
fn a_join_error_holding_a_double_panicking_raise_drops_without_abort() {
    isolated(
        "a_join_error_holding_a_double_panicking_raise_drops_without_abort",
        || {
            let t = KillableThread::spawn(|| spin());
            t.raise(RaisedBomb).map_err(|_| ()).unwrap();
            let e = join_in_time(t).unwrap_err();
            assert!(e.is_raised());
            drop(e);
            // And a thread that panics with a double-panicking payload.
            let t = KillableThread::spawn(|| panic_any(PanicsOnDrop));
            let e = join_in_time(t).unwrap_err();
            assert!(e.is_panic());
            drop(e);
        },
    );
}

/// Drops of undelivered raises that kill, spawn, block and open timeouts.
#[test]
fn undelivered_raise_drops_that_kill_spawn_and_block_do_not_hang() {
    isolated(
        "undelivered_raise_drops_that_kill_spawn_and_block_do_not_hang",
        || {
            struct Nasty(killable::Killer, killable::Killer);
            impl Drop for Nasty {
                fn drop(&mut self) {
                    // raise into the exiting thread itself: must be handed back
                    assert!(self.0.raise(1u8).is_err());
                    self.0.terminate();
                    // kill another thread
                    self.1.terminate();
                    // a killable sleep and a timeout on the exiting thread
                    killable::sleep(Duration::from_millis(5));
                    let _ = with_timeout(Duration::from_millis(5), || loop {
                        checkpoint()
                    });
                    // spawn and join a killable thread
                    let t = KillableThread::spawn(|| 3);
                    assert_eq!(t.join().unwrap(), 3);
                    checkpoint();
                }
            }
            let victim = KillableThread::spawn(|| spin());
            let (tx, rx) = mpsc::channel::<killable::Killer>();
            let (go_tx, go) = mpsc::channel::<()>();
            let t = KillableThread::spawn(move || {
                tx.send(killable::current().unwrap()).unwrap();
                go.recv().unwrap();
                5
            });
            let me = rx.recv().unwrap();
            t.raise(Nasty(me.clone(), victim.killer()))
                .map_err(|_| ())
                .unwrap();
            go_tx.send(()).unwrap();
            assert_eq!(join_in_time(t).unwrap(), 5);
            assert!(join_in_time(victim).unwrap_err().is_terminated());
        },
    );
}

// ---------------------------------------------------------------------------
// interruptible hooks.

#[test]
fn a_hook_that_panics_with_a_double_panicking_payload_does_not_abort() {
    isolated(
        "a_hook_that_panics_with_a_double_panicking_payload_does_not_abort",
        || {
            let (tx, rx) = mpsc::channel();
            let t = KillableThread::spawn(move || {
                let (stop_tx, stop_rx) = mpsc::channel::<()>();
                let stop = std::sync::Mutex::new(stop_tx);
                interruptible(
                    || {
                        tx.send(()).unwrap();
                        let _ = stop_rx.recv();
                    },
                    move || {
                        let _ = stop.lock().unwrap().send(());
                        panic_any(PanicsOnDrop)
                    },
                );
                spin()
            });
            rx.recv().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            let r = catch_unwind(AssertUnwindSafe(|| t.terminate()));
            assert!(r.is_err(), "the hook's panic reaches terminate's caller");
            // Resumed to the caller, as documented: dropping it is the caller's
            // business (and would panic again), so forget it.
            std::mem::forget(r);
            assert!(join_in_time(t).unwrap_err().is_terminated());
        },
    );
}

#[test]
fn a_deadline_hook_panicking_with_a_double_panicking_payload_keeps_the_hook_thread() {
    isolated(
        "a_deadline_hook_panicking_with_a_double_panicking_payload_keeps_the_hook_thread",
        || {
            for i in 0..3 {
                let (stop_tx, stop_rx) = mpsc::channel::<()>();
                let stop = std::sync::Mutex::new(stop_tx);
                let r = with_timeout(Duration::from_millis(20), || {
                    interruptible(
                        || {
                            let _ = stop_rx.recv();
                        },
                        move || {
                            let _ = stop.lock().unwrap().send(());
                            panic_any(PanicsOnDrop)
                        },
                    )
                });
                assert_eq!(r, Err(TimedOut), "round {i}");
            }
            let t = killable::Builder::new()
                .deadline(Instant::now() + Duration::from_millis(20))
                .spawn(|| {
                    let (stop_tx, stop_rx) = mpsc::channel::<()>();
                    let stop = std::sync::Mutex::new(stop_tx);
                    interruptible(
                        || {
                            let _ = stop_rx.recv();
                        },
                        move || {
                            let _ = stop.lock().unwrap().send(());
                            panic_any(PanicsOnDrop)
                        },
                    )
                })
                .unwrap();
            assert!(join_in_time(t).unwrap_err().is_terminated());
        },
    );
}

/// A deadline hook whose panic payload panics when dropped: the hook thread
/// must survive it, or every later deadline hook is queued to a dead thread
/// and the `interruptible` calls waiting for them never wake.
#[test]
fn a_deadline_hook_panicking_with_a_payload_that_panics_on_drop_keeps_later_hooks_running() {
    isolated(
        "a_deadline_hook_panicking_with_a_payload_that_panics_on_drop_keeps_later_hooks_running",
        || {
            for i in 0..3 {
                let (stop_tx, stop_rx) = mpsc::channel::<()>();
                let stop = std::sync::Mutex::new(stop_tx);
                let r = with_timeout(Duration::from_millis(20), || {
                    interruptible(
                        || {
                            let _ = stop_rx.recv();
                        },
                        move || {
                            let _ = stop.lock().unwrap().send(());
                            panic_any(PanicsOnDrop2)
                        },
                    )
                });
                assert_eq!(r, Err(TimedOut), "round {i}");
            }
        },
    );
}

/// A hook run on the target thread itself: `op` terminates or raises into
/// its own thread.
#[test]
fn op_killing_its_own_thread_runs_the_hook_there_without_deadlock() {
    isolated(
        "op_killing_its_own_thread_runs_the_hook_there_without_deadlock",
        || {
            let t = KillableThread::spawn(|| {
                let me = killable::current().unwrap();
                let hooked = AtomicUsize::new(0);
                let r = catch::<u32, _, _>(|| {
                    interruptible(
                        || {
                            me.raise(5u32).unwrap();
                            1
                        },
                        |k: KillKind| {
                            assert_eq!(k, KillKind::Raise);
                            hooked.fetch_add(1, SeqCst);
                            // a hook that itself hits checkpoints and raises
                            checkpoint();
                        },
                    )
                });
                assert_eq!(r, Err(5));
                assert_eq!(hooked.load(SeqCst), 1);
                interruptible(
                    || {
                        me.terminate();
                        2
                    },
                    // the hook runs on this thread, inside op: its checkpoint
                    // defers the kill, which lands when op returns
                    checkpoint,
                );
                unreachable!("terminated")
            });
            assert!(join_in_time(t).unwrap_err().is_terminated());
        },
    );
}

/// Hooks that terminate_all, spawn, and join the target.
#[test]
fn hooks_that_terminate_all_and_spawn_do_not_deadlock() {
    isolated("hooks_that_terminate_all_and_spawn_do_not_deadlock", || {
        let mut ts = Vec::new();
        let ready = Arc::new(Barrier::new(9));
        for _ in 0..8 {
            let ready = ready.clone();
            ts.push(KillableThread::spawn(move || {
                let (tx, rx) = mpsc::channel::<()>();
                let tx = std::sync::Mutex::new(tx);
                ready.wait();
                interruptible(
                    || {
                        let _ = rx.recv_timeout(BOUND);
                    },
                    move || {
                        let _ = tx.lock().unwrap().send(());
                        registry::terminate_all();
                        let t = KillableThread::spawn(|| 1);
                        t.terminate();
                        let _ = t.join();
                    },
                );
                spin()
            }));
        }
        ready.wait();
        // Blocked means armed: a sleep is no proof, and a terminate that
        // reaches ts[0] before it arms delivers without calling its hook,
        // so nothing would terminate the others.
        for t in &ts {
            support::wait_until_blocked(t.id());
        }
        ts[0].terminate();
        for t in ts {
            assert!(join_in_time(t).unwrap_err().is_terminated());
        }
    });
}

// ---------------------------------------------------------------------------
// terminate_all with panicking hooks.

#[test]
fn terminate_all_with_double_panicking_hooks_does_not_abort() {
    isolated(
        "terminate_all_with_double_panicking_hooks_does_not_abort",
        || {
            let ready = Arc::new(Barrier::new(5));
            let ts: Vec<_> = (0..4)
                .map(|_| {
                    let ready = ready.clone();
                    KillableThread::spawn(move || {
                        let (tx, rx) = mpsc::channel::<()>();
                        let tx = std::sync::Mutex::new(tx);
                        ready.wait();
                        interruptible(
                            || {
                                let _ = rx.recv_timeout(BOUND);
                            },
                            move || {
                                let _ = tx.lock().unwrap().send(());
                                panic_any(PanicsOnDrop)
                            },
                        );
                        spin()
                    })
                })
                .collect();
            ready.wait();
            std::thread::sleep(Duration::from_millis(20));
            let r = catch_unwind(registry::terminate_all);
            std::mem::forget(r); // the caller's payload, see above
            for t in ts {
                assert!(join_in_time(t).unwrap_err().is_terminated());
            }
        },
    );
}

// ---------------------------------------------------------------------------
// Cancel tokens.

#[test]
fn a_drop_guard_dropped_in_an_unwind_with_double_panicking_hooks_does_not_abort() {
    isolated(
        "a_drop_guard_dropped_in_an_unwind_with_double_panicking_hooks_does_not_abort",
        || {
            let token = CancelToken::new();
            let (tx, rx) = mpsc::channel();
            let tk = token.clone();
            let worker = std::thread::spawn(move || {
                tk.run(|| {
                    let (stop_tx, stop_rx) = mpsc::channel::<()>();
                    let stop = std::sync::Mutex::new(stop_tx);
                    interruptible(
                        || {
                            tx.send(()).unwrap();
                            let _ = stop_rx.recv_timeout(BOUND);
                        },
                        move || {
                            let _ = stop.lock().unwrap().send(());
                            panic_any(PanicsOnDrop)
                        },
                    )
                })
            });
            rx.recv().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            let r = catch_unwind(AssertUnwindSafe(|| {
                let _guard = token.drop_guard();
                panic!("unwinding past the guard");
            }));
            assert!(r.is_err());
            assert_eq!(worker.join().unwrap(), Err(Cancelled));
        },
    );
}

#[test]
fn a_drop_guard_dropped_in_a_kill_unwind_inside_a_scope() {
    isolated(
        "a_drop_guard_dropped_in_a_kill_unwind_inside_a_scope",
        || {
            let (tx, rx) = mpsc::channel();
            let t = KillableThread::spawn(move || {
                let token = CancelToken::new();
                scope(|s| {
                    let tk = token.clone();
                    let _ = s.spawn(move || tk.run(spin));
                    let tk = token.clone();
                    let pool = std::thread::spawn(move || tk.run(spin));
                    let _guard = token.drop_guard();
                    tx.send(pool).unwrap();
                    spin()
                })
            });
            let pool = rx.recv().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            t.terminate();
            assert!(join_in_time(t).unwrap_err().is_terminated());
            assert_eq!(pool.join().unwrap(), Err(Cancelled));
        },
    );
}

/// cancel() racing run() entry and exit on many plain threads: every thread
/// ends clean (a later checkpoint never unwinds), every run is Ok or
/// Cancelled, and no run entered after the cancel runs its body.
#[test]
fn cancels_racing_run_entry_and_exit_on_many_threads() {
    isolated("cancels_racing_run_entry_and_exit_on_many_threads", || {
        for round in 0..40 {
            let token = CancelToken::new();
            let cancelled_at = Arc::new(AtomicBool::new(false));
            let go = Arc::new(Barrier::new(5));
            let workers: Vec<_> = (0..4)
                .map(|w| {
                    let token = token.clone();
                    let go = go.clone();
                    let cancelled_at = cancelled_at.clone();
                    std::thread::spawn(move || {
                        go.wait();
                        for i in 0..200u64 {
                            let child = if (i + w) % 3 == 0 {
                                token.child()
                            } else {
                                token.clone()
                            };
                            let seen_cancel = cancelled_at.load(SeqCst);
                            let r = child.run(|| {
                                assert!(!seen_cancel, "run entered after the cancel ran its body");
                                for _ in 0..(i % 5) {
                                    checkpoint();
                                }
                                i
                            });
                            if let Ok(v) = r {
                                assert_eq!(v, i);
                            }
                            // Outside run: nothing pending.
                            checkpoint();
                            with_timeout(Duration::from_secs(60), checkpoint).unwrap();
                        }
                    })
                })
                .collect();
            go.wait();
            for _ in 0..(round * 97 % 2000) {
                std::hint::spin_loop();
            }
            token.cancel();
            cancelled_at.store(true, SeqCst);
            for w in workers {
                w.join().expect("a worker unwound outside run");
            }
        }
    });
}

/// Cancelling a parent while other threads create, run and drop children.
#[test]
fn cancel_of_a_parent_while_children_are_created_and_dropped() {
    isolated(
        "cancel_of_a_parent_while_children_are_created_and_dropped",
        || {
            for _ in 0..30 {
                let root = CancelToken::new();
                let mid = root.child();
                let stop = Arc::new(AtomicBool::new(false));
                let workers: Vec<_> = (0..3)
                    .map(|_| {
                        let mid = mid.clone();
                        let stop = stop.clone();
                        std::thread::spawn(move || {
                            let mut after = 0;
                            while after < 50 {
                                let parent_was = mid.is_cancelled();
                                let c = mid.child().child();
                                let r = c.run(|| loop {
                                    checkpoint()
                                });
                                assert_eq!(r, Err(Cancelled));
                                if parent_was {
                                    assert!(c.is_cancelled());
                                }
                                drop(c);
                                if stop.load(SeqCst) {
                                    after += 1;
                                }
                            }
                        })
                    })
                    .collect();
                std::thread::sleep(Duration::from_millis(2));
                root.cancel();
                stop.store(true, SeqCst);
                for w in workers {
                    w.join().unwrap();
                }
            }
        },
    );
}

/// CancelToken::run inside with_timeout inside a scope on a pool thread,
/// with every kind of kill.
#[test]
fn run_inside_with_timeout_inside_scope_on_a_pool_thread() {
    isolated(
        "run_inside_with_timeout_inside_scope_on_a_pool_thread",
        || {
            // Cancel reaches the innermost.
            let token = CancelToken::new();
            let tk = token.clone();
            let pool = std::thread::spawn(move || {
                scope(|s| {
                    let c = s.spawn(move || with_timeout(BOUND, || tk.run(spin)).unwrap());
                    c.join().unwrap()
                })
            });
            std::thread::sleep(Duration::from_millis(20));
            token.cancel();
            assert_eq!(pool.join().unwrap(), Err(Cancelled));

            // A deadline on the plain (pool) thread around a scope: the scope's
            // child is terminated, the scope's wait ends, the timeout catches.
            let pool = std::thread::spawn(|| {
                with_timeout(Duration::from_millis(30), || {
                    scope(|s| {
                        let _ = s.spawn(|| CancelToken::new().run(spin));
                        let t = CancelToken::new();
                        t.run(|| with_timeout(BOUND, spin))
                    })
                })
            });
            assert_eq!(pool.join().unwrap().map(|_| ()), Err(TimedOut));

            // A cancel on the pool thread around a scope waiting for a child.
            let token = CancelToken::new();
            let tk = token.clone();
            let pool = std::thread::spawn(move || {
                tk.run(|| {
                    scope(|s| {
                        let _ = s.spawn(spin);
                    })
                })
            });
            std::thread::sleep(Duration::from_millis(20));
            token.cancel();
            assert_eq!(pool.join().unwrap(), Err(Cancelled));
        },
    );
}

// ---------------------------------------------------------------------------
// Kills racing spawn, exit, join, and each other.

#[test]
fn kills_racing_spawn_exit_and_join() {
    isolated("kills_racing_spawn_exit_and_join", || {
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let killer = std::thread::spawn(move || {
            let mut n = 0u64;
            while !s2.load(SeqCst) {
                for info in registry::threads() {
                    let k = info.killer();
                    match n % 3 {
                        0 => k.terminate(),
                        1 => drop(k.raise(Tracked::new(n))),
                        _ => {
                            let _ = registry::terminate_all();
                        }
                    }
                    n += 1;
                }
            }
        });
        for i in 0..2000u64 {
            let t = match i % 4 {
                0 => KillableThread::spawn(move || i),
                1 => killable::Builder::new()
                    .deadline(Instant::now())
                    .spawn(move || {
                        checkpoint();
                        i
                    })
                    .unwrap(),
                2 => KillableThread::spawn(move || {
                    let _ = catch::<Tracked, _, _>(checkpoint);
                    i
                }),
                _ => KillableThread::spawn(move || {
                    killable::sleep(Duration::from_micros(i % 50));
                    i
                }),
            };
            if i % 2 == 0 {
                t.terminate();
            }
            match join_in_time(t) {
                Ok(v) => assert_eq!(v, i),
                Err(e) => assert!(e.is_terminated() || e.is_raised(), "{e:?}"),
            }
        }
        stop.store(true, SeqCst);
        killer.join().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(LIVE.load(SeqCst), 0, "a raised value was lost");
    });
}

/// A join racing a kill of the joiner, repeatedly: the joiner unwinds, the
/// target can still be joined later via its killer-less path (is_finished).
#[test]
fn joins_racing_kills_of_the_joiner() {
    isolated("joins_racing_kills_of_the_joiner", || {
        for i in 0..300u64 {
            let inner = KillableThread::spawn(move || {
                for _ in 0..(i % 10) {
                    checkpoint();
                }
                i
            });
            let inner_k = inner.killer();
            let outer = KillableThread::spawn(move || inner.join());
            if i % 2 == 0 {
                outer.terminate();
            } else {
                let _ = outer.raise(Tracked::new(i));
            }
            let _ = join_in_time(outer);
            let start = Instant::now();
            while inner_k.is_alive() && start.elapsed() < BOUND {
                std::thread::sleep(Duration::from_millis(1));
            }
            assert!(!inner_k.is_alive());
        }
        assert_eq!(LIVE.load(SeqCst), 0);
    });
}

// ---------------------------------------------------------------------------
// Scopes and destructors.

/// A guard in the scope body that joins its child on drop (a common RAII
/// pattern). A kill of the parent unwinds the body; the guard's join runs
/// during that unwind, before the scope terminates its children.
#[test]
fn a_join_on_drop_guard_in_a_killed_scope_body_does_not_hang() {
    isolated(
        "a_join_on_drop_guard_in_a_killed_scope_body_does_not_hang",
        || {
            let (tx, rx) = mpsc::channel();
            let t = KillableThread::spawn(move || {
                scope(|s| {
                    struct JoinOnDrop<'s>(Option<killable::ScopedKillableThread<'s, ()>>);
                    impl Drop for JoinOnDrop<'_> {
                        fn drop(&mut self) {
                            if let Some(c) = self.0.take() {
                                let _ = c.join();
                            }
                        }
                    }
                    let _g = JoinOnDrop(Some(s.spawn(|| spin())));
                    tx.send(()).unwrap();
                    spin()
                })
            });
            rx.recv().unwrap();
            t.terminate();
            assert!(join_in_time(t).unwrap_err().is_terminated());
        },
    );
}

/// Destructors in a scope body that open with_timeout and CancelToken::run
/// during a kill's unwind.
#[test]
fn timeouts_and_runs_in_destructors_during_a_scope_unwind() {
    isolated(
        "timeouts_and_runs_in_destructors_during_a_scope_unwind",
        || {
            struct Cleanup;
            impl Drop for Cleanup {
                fn drop(&mut self) {
                    assert!(std::thread::panicking());
                    assert_eq!(
                        with_timeout(Duration::from_millis(10), || killable::sleep(BOUND)),
                        Err(TimedOut)
                    );
                    let token = CancelToken::new();
                    let t2 = token.clone();
                    let r = token.run(|| {
                        t2.cancel();
                        spin()
                    });
                    assert_eq!(r, Err(Cancelled));
                    // nested: run inside with_timeout in the destructor
                    let token = CancelToken::new();
                    assert_eq!(
                        with_timeout(Duration::from_millis(10), || token.run(spin)).map(|_| ()),
                        Err(TimedOut)
                    );
                }
            }
            let (tx, rx) = mpsc::channel();
            let t = KillableThread::spawn(move || {
                scope(|s| {
                    let _ = s.spawn(spin);
                    let _c = Cleanup;
                    tx.send(()).unwrap();
                    spin()
                })
            });
            rx.recv().unwrap();
            t.terminate();
            assert!(join_in_time(t).unwrap_err().is_terminated());
        },
    );
}

/// A child of a scope that panics while the parent is being killed, and a
/// child that kills the parent.
#[test]
fn children_that_kill_the_parent_or_panic_during_its_kill() {
    isolated(
        "children_that_kill_the_parent_or_panic_during_its_kill",
        || {
            let t = KillableThread::spawn(|| {
                let me = killable::current().unwrap();
                scope(|s| {
                    let me2 = me.clone();
                    let _ = s.spawn(move || {
                        me2.terminate();
                        spin()
                    });
                    let _ = s.spawn(move || {
                        struct P;
                        impl Drop for P {
                            fn drop(&mut self) {
                                // blocks a little in the unwind of a terminate
                                killable::sleep(Duration::from_millis(20));
                            }
                        }
                        let _p = P;
                        spin()
                    });
                    spin()
                })
            });
            assert!(join_in_time(t).unwrap_err().is_terminated());

            let t = KillableThread::spawn(|| {
                let me = killable::current().unwrap();
                scope(|s| {
                    let _ = s.spawn(move || {
                        let _ = me.raise(Tracked::new(1));
                        panic!("child panics right after raising into the parent");
                    });
                    spin()
                })
            });
            let e = join_in_time(t).unwrap_err();
            assert!(e.is_raised() || e.is_panic(), "{e:?}");
            drop(e);
            assert_eq!(LIVE.load(SeqCst), 0);
        },
    );
}

// ---------------------------------------------------------------------------
// Killable I/O racing kills of every kind.

#[cfg(unix)]
#[test]
fn io_reads_racing_deadlines_and_cancels_keep_every_byte() {
    use std::io::{Read, Write};
    isolated(
        "io_reads_racing_deadlines_and_cancels_keep_every_byte",
        || {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().unwrap();
            const TOTAL: usize = 200_000;
            let writer = std::thread::spawn(move || {
                let mut x = 1u32;
                let mut sent = 0;
                while sent < TOTAL {
                    let n = (x % 3000) as usize + 1;
                    let n = n.min(TOTAL - sent);
                    let chunk: Vec<u8> = (sent..sent + n).map(|i| (i % 251) as u8).collect();
                    client.write_all(&chunk).unwrap();
                    sent += n;
                    x = x.wrapping_mul(1103515245).wrapping_add(12345);
                    if x % 7 == 0 {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
            });
            let mut conn = killable::io::Killable::new(server);
            let mut got = Vec::with_capacity(TOTAL);
            let mut buf = [0u8; 1500];
            let mut token = CancelToken::new();
            let mut timeouts = 0;
            let mut cancels = 0;
            let mut i = 0u64;
            while got.len() < TOTAL {
                i += 1;
                if i % 2 == 0 {
                    match with_timeout(Duration::from_micros(i % 300), || conn.read(&mut buf)) {
                        Ok(n) => got.extend_from_slice(&buf[..n.unwrap()]),
                        Err(TimedOut) => timeouts += 1,
                    }
                } else {
                    let tk = token.clone();
                    let c = std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_micros(50));
                        tk.cancel();
                    });
                    match token.run(|| conn.read(&mut buf)) {
                        Ok(n) => got.extend_from_slice(&buf[..n.unwrap()]),
                        Err(Cancelled) => cancels += 1,
                    }
                    c.join().unwrap();
                    token = CancelToken::new();
                }
            }
            writer.join().unwrap();
            println!("{timeouts} timeouts, {cancels} cancels");
            for (i, b) in got.iter().enumerate() {
                assert_eq!(*b, (i % 251) as u8, "byte {i} lost or duplicated");
            }
        },
    );
}

// ---------------------------------------------------------------------------
// Hooks cut short by the killer's own kill.

/// The target's blocking call, in `#[killable]` code: the attribute puts a
/// checkpoint at the entry of the hook closure, which runs on the killer.
/// `op` tells `inside` once the hook is armed, then waits for the hook.
#[killable::killable]
fn blocked_until_hooked(inside: mpsc::Sender<()>) {
    let (tx, rx) = mpsc::channel::<()>();
    let tx = std::sync::Mutex::new(tx);
    interruptible(
        move || {
            inside.send(()).unwrap();
            let _ = rx.recv();
        },
        move || {
            let _ = tx.lock().unwrap().send(());
        },
    );
}

/// A killer that is itself being killed (here: terminated before it calls
/// `terminate` on the target, as when two `terminate_all`s race) runs the
/// target's hook; the checkpoint at the hook closure's entry must not
/// deliver the killer's own kill and cut the hook short, or the target's
/// blocking call is never unblocked and the target never dies.
#[test]
fn a_killer_with_its_own_kill_pending_runs_the_targets_hook_to_its_end() {
    isolated(
        "a_killer_with_its_own_kill_pending_runs_the_targets_hook_to_its_end",
        || {
            let (inside, in_op) = mpsc::channel::<()>();
            let target = KillableThread::spawn(move || {
                blocked_until_hooked(inside);
                spin()
            });
            in_op.recv().unwrap();
            let go = Arc::new(AtomicBool::new(false));
            let g = go.clone();
            let tk = target.killer();
            let (started_tx, started) = mpsc::channel::<()>();
            let killer = KillableThread::spawn(move || {
                started_tx.send(()).unwrap();
                // no checkpoint here: the kill stays pending
                while !g.load(SeqCst) {
                    std::hint::spin_loop();
                }
                tk.terminate();
            });
            started.recv().unwrap();
            killer.terminate();
            go.store(true, SeqCst);
            // The killer's own kill waits for its next checkpoint after the
            // hook; this closure has none, so it may well return.
            let _ = join_in_time(killer);
            assert!(
                join_in_time(target).unwrap_err().is_terminated(),
                "the target's hook was cut short"
            );
        },
    );
}

/// Inside a hook the runner's own kills wait, but a `with_timeout` opened in
/// the hook still gets its own expiry (on a killable runner, with its own
/// termination pending meanwhile).
#[test]
fn a_with_timeout_inside_a_hook_still_expires() {
    isolated("a_with_timeout_inside_a_hook_still_expires", || {
        let (inside, in_op) = mpsc::channel::<()>();
        let target = KillableThread::spawn(move || {
            let (tx, rx) = mpsc::channel::<()>();
            let tx = std::sync::Mutex::new(tx);
            interruptible(
                move || {
                    inside.send(()).unwrap();
                    let _ = rx.recv();
                },
                move || {
                    let r = with_timeout(Duration::from_millis(20), || killable::sleep(BOUND));
                    assert_eq!(r, Err(TimedOut));
                    let _ = tx.lock().unwrap().send(());
                },
            );
            spin()
        });
        in_op.recv().unwrap();
        let tk = target.killer();
        let killer = KillableThread::spawn(move || {
            killable::current().unwrap().terminate();
            tk.terminate();
            checkpoint();
            unreachable!("terminated at the checkpoint after the hook")
        });
        assert!(join_in_time(killer).unwrap_err().is_terminated());
        assert!(join_in_time(target).unwrap_err().is_terminated());
    });
}

// ---------------------------------------------------------------------------
// More races.

/// Many raisers at once against a thread that catches some and exits: every
/// value is delivered, handed back, or dropped before join returns.
#[test]
fn many_raisers_racing_a_short_thread_lose_no_value() {
    isolated("many_raisers_racing_a_short_thread_lose_no_value", || {
        for round in 0..100u64 {
            let t = KillableThread::spawn(move || {
                let mut caught = 0u64;
                for _ in 0..round * 3 {
                    if catch::<Tracked, _, _>(checkpoint).is_err() {
                        caught += 1;
                    }
                }
                caught
            });
            let k = t.killer();
            let go = Arc::new(Barrier::new(4));
            let raisers: Vec<_> = (0..3)
                .map(|r| {
                    let k = k.clone();
                    let go = go.clone();
                    std::thread::spawn(move || {
                        go.wait();
                        let mut accepted = 0u64;
                        for i in 0..40 {
                            match k.raise(Tracked::new(r * 100 + i)) {
                                Ok(()) => accepted += 1,
                                Err(v) => assert_eq!(v.0, r * 100 + i, "handed back intact"),
                            }
                        }
                        accepted
                    })
                })
                .collect();
            go.wait();
            let accepted: u64 = raisers.into_iter().map(|r| r.join().unwrap()).sum();
            match join_in_time(t) {
                Ok(caught) => assert!(caught <= accepted),
                Err(e) => drop(e.downcast_raised::<Tracked>().expect("only raises")),
            }
            assert_eq!(LIVE.load(SeqCst), 0, "round {round}: a value outlived join");
        }
    });
}

/// Scoped children that keep spawning siblings while the parent is killed:
/// the scope's wait still ends.
#[test]
fn children_spawning_siblings_while_the_parent_is_killed() {
    isolated(
        "children_spawning_siblings_while_the_parent_is_killed",
        || {
            for _ in 0..20 {
                let (tx, rx) = mpsc::channel();
                let t = KillableThread::spawn(move || {
                    scope(|s| {
                        fn breed<'s, 'e>(s: &'s killable::Scope<'s, 'e>, depth: u32) {
                            if depth < 6 {
                                let _ = s.spawn(move || breed(s, depth + 1));
                                let _ = s.spawn(move || breed(s, depth + 1));
                            }
                            spin()
                        }
                        let _ = s.spawn(move || breed(s, 0));
                        tx.send(()).unwrap();
                        spin()
                    })
                });
                rx.recv().unwrap();
                std::thread::sleep(Duration::from_millis(5));
                t.terminate();
                assert!(join_in_time(t).unwrap_err().is_terminated());
            }
        },
    );
}

/// Killable writes racing raises: the writer catches each raise and writes
/// on from where its calls said it was; the reader sees every byte once.
#[cfg(unix)]
#[test]
fn io_writes_racing_raises_keep_every_byte() {
    use std::io::{Read, Write};
    isolated("io_writes_racing_raises_keep_every_byte", || {
        const TOTAL: usize = 2_000_000;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let (ready_tx, ready) = mpsc::channel::<()>();
        let writer = KillableThread::spawn(move || {
            let mut conn = killable::io::Killable::new(client);
            let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
            let mut at = 0;
            let mut caught = 0u64;
            ready_tx.send(()).unwrap();
            while at < TOTAL {
                let end = (at + 100_000).min(TOTAL);
                match catch::<u64, _, _>(|| conn.write(&data[at..end])) {
                    Ok(n) => at += n.unwrap(),
                    Err(_) => caught += 1,
                }
            }
            caught
        });
        ready.recv().unwrap();
        let k = writer.killer();
        let raiser = std::thread::spawn(move || {
            let mut sent = 0u64;
            for i in 0..300u64 {
                if k.raise(i).is_ok() {
                    sent += 1;
                }
                std::thread::sleep(Duration::from_micros(100));
            }
            sent
        });
        let mut got = Vec::with_capacity(TOTAL);
        let mut buf = vec![0u8; 8192];
        while got.len() < TOTAL {
            // slow reader, so the writer blocks on a full socket
            if got.len() % 7 == 0 {
                std::thread::sleep(Duration::from_micros(50));
            }
            let n = server.read(&mut buf).unwrap();
            assert!(n > 0, "eof early at {}", got.len());
            got.extend_from_slice(&buf[..n]);
        }
        let sent = raiser.join().unwrap();
        let caught = match join_in_time(writer) {
            Ok(c) => c,
            Err(e) => panic!("{e:?}"),
        };
        println!("{sent} raises accepted, {caught} caught during writes");
        for (i, b) in got.iter().enumerate() {
            assert_eq!(*b, (i % 251) as u8, "byte {i} lost or duplicated");
        }
    });
}

/// Killable accepts racing raises: no connection is lost.
#[cfg(unix)]
#[test]
fn io_accepts_racing_raises_lose_no_connection() {
    isolated("io_accepts_racing_raises_lose_no_connection", || {
        const N: usize = 200;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Raises start once the acceptor is inside its loop: one landing at
        // the spawn's first checkpoint would end it before the loop (and
        // drop the listener: connection refused).
        let (ready_tx, ready) = mpsc::channel();
        let acceptor = KillableThread::spawn(move || {
            let l = killable::io::Killable::new(listener);
            ready_tx.send(()).unwrap();
            let mut conns = Vec::new();
            let mut caught = 0u64;
            while conns.len() < N {
                match catch::<u64, _, _>(|| l.accept()) {
                    Ok(c) => conns.push(c.unwrap().0),
                    Err(_) => caught += 1,
                }
            }
            (conns.len(), caught)
        });
        let k = acceptor.killer();
        ready.recv().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let raiser = std::thread::spawn(move || {
            let mut i = 0u64;
            while !s2.load(SeqCst) {
                let _ = k.raise(i);
                i += 1;
                std::thread::sleep(Duration::from_micros(30));
            }
        });
        let mut clients = Vec::new();
        for _ in 0..N {
            clients.push(std::net::TcpStream::connect(addr).unwrap());
            std::thread::sleep(Duration::from_micros(200));
        }
        let (n, caught) = join_in_time(acceptor).unwrap();
        stop.store(true, SeqCst);
        raiser.join().unwrap();
        println!("{caught} raises caught during accepts");
        assert_eq!(n, N);
    });
}

/// A body that goes through every runtime layer: cancel scopes, tokens,
/// scopes, shields, catches, hooks, and destructors that open scopes.
#[killable::killable]
fn every_layer(kp_out: &mut bool) {
    struct Cleanup;
    impl Drop for Cleanup {
        #[killable::killable]
        fn drop(&mut self) {
            let _ = with_timeout(Duration::from_millis(1), || {
                for _ in 0..3 {
                    checkpoint();
                }
            });
            let _ = CancelToken::new().run(|| checkpoint());
        }
    }
    let _c = Cleanup;
    let token = CancelToken::new();
    let _ = with_timeout(BOUND, || {
        token.run(|| {
            for _ in 0..3 {
                checkpoint();
            }
        })
    });
    let _ = catch::<u32, _, _>(|| {
        killable::shield(|| checkpoint());
        checkpoint();
    });
    let (tx, rx) = mpsc::channel::<()>();
    let tx = std::sync::Mutex::new(tx);
    interruptible(
        || {
            checkpoint();
            let _ = rx.recv_timeout(Duration::from_millis(1));
        },
        move || {
            let _ = tx.lock().unwrap().send(());
        },
    );
    scope(|s| {
        let _ = s.spawn(|| {
            let _ = with_timeout(BOUND, || CancelToken::new().run(spin_for_a_while));
        });
        for _ in 0..3 {
            checkpoint();
        }
        let _g = token.clone().drop_guard();
        killable::sleep(Duration::from_micros(10));
    });
    *kp_out = true;
}

#[killable::killable]
fn spin_for_a_while() {
    for _ in 0..50 {
        checkpoint();
    }
}

/// Terminates a thread at each checkpoint of `every_layer` in turn: every
/// run ends (terminated or done) in time, and nothing stays registered.
#[test]
fn a_kill_at_every_checkpoint_of_every_layer_ends_cleanly() {
    isolated(
        "a_kill_at_every_checkpoint_of_every_layer_ends_cleanly",
        || {
            let mut k = 1;
            loop {
                let t = KillableThread::spawn(move || {
                    let kp = killable::__private::testing::terminate_at_checkpoint(k);
                    let mut done = false;
                    every_layer(&mut done);
                    (kp.fired(), done)
                });
                match join_in_time(t) {
                    Ok((fired, done)) => {
                        assert!(done);
                        if !fired {
                            println!("swept {k} checkpoints");
                            break;
                        }
                    }
                    Err(e) => assert!(e.is_terminated(), "k={k}: {e:?}"),
                }
                k += 1;
                assert!(k < 10_000, "the sweep never ended");
            }
        },
    );
}

/// Raises, terminates, deadlines and cancels storming a thread that loops
/// over `interruptible` calls: each call's hook runs at most once, never
/// after the call returned, and the thread ends terminated.
#[test]
fn kill_storms_call_each_hook_at_most_once_and_never_late() {
    isolated(
        "kill_storms_call_each_hook_at_most_once_and_never_late",
        || {
            let token = CancelToken::new();
            let tk = token.clone();
            let (started_tx, started) = mpsc::channel::<()>();
            let target = KillableThread::spawn(move || {
                started_tx.send(()).unwrap();
                let mut calls = 0u64;
                loop {
                    // (once the token is cancelled, `run` calls nothing)
                    let _ = catch::<u64, _, _>(checkpoint);
                    calls += 1;
                    let fired = Arc::new(AtomicUsize::new(0));
                    let returned = Arc::new(AtomicBool::new(false));
                    let (tx, rx) = mpsc::channel::<()>();
                    let tx = std::sync::Mutex::new(tx);
                    let (f, r) = (fired.clone(), returned.clone());
                    let once = |n: u64| {
                        let _ = catch::<u64, _, _>(|| {
                            let _ = tk.run(|| {
                                let _ = with_timeout(Duration::from_micros(n % 200), || {
                                    interruptible(
                                        || {
                                            let _ = rx.recv_timeout(Duration::from_micros(n % 300));
                                        },
                                        |_k: KillKind| {
                                            assert!(!r.load(SeqCst), "hook after op returned");
                                            assert_eq!(f.fetch_add(1, SeqCst), 0, "hook twice");
                                            let _ = tx.lock().unwrap().send(());
                                        },
                                    )
                                });
                            });
                        });
                    };
                    once(calls);
                    returned.store(true, SeqCst);
                    assert!(fired.load(SeqCst) <= 1);
                }
            });
            started.recv().unwrap();
            let k = target.killer();
            let raisers: Vec<_> = (0..3u64)
                .map(|r| {
                    let k = k.clone();
                    std::thread::spawn(move || {
                        for i in 0..3000u64 {
                            if k.raise(r * 10_000 + i).is_err() && !k.is_alive() {
                                break;
                            }
                            if i % 64 == 0 {
                                std::thread::sleep(Duration::from_micros(50));
                            }
                        }
                    })
                })
                .collect();
            let canceller = std::thread::spawn(move || {
                for _ in 0..20 {
                    std::thread::sleep(Duration::from_millis(2));
                    let _ = catch_unwind(AssertUnwindSafe(|| token.cancel()));
                }
            });
            std::thread::sleep(Duration::from_millis(50));
            target.terminate();
            let e = join_in_time(target).unwrap_err();
            assert!(e.is_terminated(), "{e:?}");
            for r in raisers {
                r.join().unwrap();
            }
            canceller.join().unwrap();
        },
    );
}

/// Thread-local destructors of a killable thread that use the whole API:
/// nothing is delivered there, scopes opened there still work, and the join
/// (which waits for them) ends.
#[test]
fn thread_local_destructors_that_use_the_whole_api() {
    isolated("thread_local_destructors_that_use_the_whole_api", || {
        struct Tls(std::cell::Cell<Option<killable::Killer>>);
        impl Drop for Tls {
            fn drop(&mut self) {
                let me = self.0.take().unwrap();
                assert!(me.raise(Tracked::new(1)).is_err(), "finished: handed back");
                me.terminate();
                checkpoint();
                assert_eq!(
                    with_timeout(Duration::from_millis(5), || loop {
                        checkpoint()
                    }),
                    Err(TimedOut)
                );
                let token = CancelToken::new();
                let t2 = token.clone();
                assert_eq!(
                    token.run(|| {
                        t2.cancel();
                        spin()
                    }),
                    Err(Cancelled)
                );
                interruptible(checkpoint, || ());
                let t = KillableThread::spawn(|| 4);
                assert_eq!(t.join().unwrap(), 4);
                let _ = registry::threads();
                let _ = registry::stalled(Duration::ZERO);
            }
        }
        thread_local! {
            static TLS: Tls = const { Tls(std::cell::Cell::new(None)) };
        }
        for _ in 0..20 {
            let t = KillableThread::spawn(|| {
                TLS.with(|t| t.0.set(killable::current()));
                5
            });
            assert_eq!(join_in_time(t).unwrap(), 5);
        }
        assert_eq!(LIVE.load(SeqCst), 0);
    });
}

/// A `DropGuard` of the token a thread runs under, dropped by that thread's
/// own kill unwind: the cancel of its own `run` stays deferred and the
/// termination reaches join; a pool thread doing the same with a panic
/// leaves `run` clean.
#[test]
fn a_drop_guard_of_the_running_token_dropped_by_its_own_unwind() {
    isolated(
        "a_drop_guard_of_the_running_token_dropped_by_its_own_unwind",
        || {
            let (tx, rx) = mpsc::channel();
            let t = KillableThread::spawn(move || {
                let token = CancelToken::new();
                token.run(|| {
                    let _g = token.clone().drop_guard();
                    tx.send(()).unwrap();
                    spin()
                })
            });
            rx.recv().unwrap();
            t.terminate();
            assert!(join_in_time(t).unwrap_err().is_terminated());

            let pool = std::thread::spawn(|| {
                let token = CancelToken::new();
                let r = catch_unwind(AssertUnwindSafe(|| {
                    token.run(|| {
                        let _g = token.clone().drop_guard();
                        panic!("plain panic past the guard");
                    })
                }));
                assert!(r.is_err());
                assert!(token.is_cancelled());
                // Nothing pending afterwards on this plain thread.
                checkpoint();
                with_timeout(BOUND, checkpoint).unwrap();
            });
            pool.join().unwrap();
        },
    );
}
