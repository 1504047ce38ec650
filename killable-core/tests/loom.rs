//! Loom models of the cross-thread kill protocol (`killable-core/src/state.rs`)
//! and of cancel tokens (`killable-core/src/token.rs`).
//!
//! Not part of the default test run. Run them with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p killable-core --test loom --release
//! ```
//!
//! (about 30 s to build and well under a second to explore on the 2-core dev
//! machine; `LOOM_MAX_PREEMPTIONS` is not needed: every model is explored
//! exhaustively.) Use your own `CARGO_TARGET_DIR`: the `--cfg loom` build
//! shares nothing with the normal one.
//!
//! Under `--cfg loom` the crate compiles only its protocol, on loom's mutex,
//! atomics and park, and exposes it as `killable_core::__loom`. Thread-locals,
//! shields and unwinding are not modelled: the owner thread of a model plays
//! what `checkpoint`, `shield`, the killable waits and the thread exit do to
//! the state, calling the same `Inner` methods in the same order. A shield is
//! the `can_deliver` flag the owner passes to `take_delivery`.
//!
//! The killer is the model's main thread and the owner a spawned one: loom's
//! `unpark` also wakes a thread blocked in a loom `join` or mutex, which then
//! trips loom's own assertions, so only a thread that blocks in nothing but
//! `park` may be unparked. For the same reason only the models about waking
//! register the owner with `set_thread`; the others test what is delivered.
//!
//! Each model was checked to fail when the protocol is broken: fourteen
//! one-line mutations of `state.rs` (in a copy of the crate), each caught by
//! at least one model; the comment on each model says which it catches. The lost-wake-up model also has a permanently
//! failing twin (`wait_checking_before_arming_loses_the_wakeup`) that breaks
//! the waiter's side of the protocol in the model itself.
//!
//! `terminate_all` versus a concurrent spawn lives in the registry, which is
//! std-only; `tests/stress.rs::terminate_all_races_spawns` covers it.
#![cfg(loom)]

use std::sync::atomic::Ordering::SeqCst;

use killable_core::__loom::{
    Delivery, Inner, Kill, KillKind, Node, Waker, PENDING_THREADS, TERMINATE,
};
use loom::sync::atomic::{AtomicBool, AtomicUsize};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

/// A raised value that owns a loom `Arc`: loom fails the execution if it
/// leaks, and the test counts the clones to see it was dropped exactly once.
#[derive(Debug)]
struct Payload(#[allow(dead_code)] Arc<()>);

/// The models' handle to the state: an `Arc<Inner>` that is not dropped
/// while a failing model unwinds. Loom reports a deadlock by panicking in the
/// blocked threads; `Inner`'s destructor uses loom primitives, which panic
/// again outside a running execution, and a panic during that unwind would
/// abort the whole test process instead of reporting the failure.
struct Shared(Option<Arc<Inner>>);

impl Shared {
    fn new() -> Shared {
        Shared(Some(Arc::new(Inner::new())))
    }
}

impl Clone for Shared {
    fn clone(&self) -> Shared {
        Shared(self.0.clone())
    }
}

impl std::ops::Deref for Shared {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        self.0.as_ref().expect("present until dropped")
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if std::thread::panicking() {
            std::mem::forget(self.0.take());
        }
    }
}

fn pending_threads() -> usize {
    PENDING_THREADS.load(SeqCst)
}

/// What a checkpoint on the owner does with a delivery (without unwinding).
fn checkpoint(inner: &Inner, can_deliver: bool) -> Option<Kill> {
    match inner.take_delivery(can_deliver) {
        Delivery::Deliver(kill) => {
            assert!(can_deliver, "delivered while shielded");
            Some(kill)
        }
        Delivery::Deferred => {
            assert!(!can_deliver, "deferred although delivery was allowed");
            None
        }
        Delivery::Nothing => None,
    }
}

/// How a raise ended: delivered at a checkpoint, dropped by `finish`
/// (accepted after the last checkpoint: the documented fate), or handed back.
fn raise_outcomes(kill: &Option<Kill>, dropped: usize, handed_back: bool) -> usize {
    usize::from(matches!(kill, Some(Kill::Raise(_)))) + dropped + usize::from(handed_back)
}

/// Raise versus thread exit. The owner runs one checkpoint and exits
/// (`finish`); the killer raises concurrently. The value ends in exactly one
/// place: delivered at the checkpoint, handed back to the killer (`Err`), or
/// accepted and then dropped by `finish`. Never two, never none, never
/// leaked, and `PENDING_THREADS` is back to zero.
///
/// Fails when broken: `raise` not testing `finished` (the value is accepted
/// after `finish` and found nowhere); `finish` not clearing `RAISE` (the
/// state still shows a raise pending after exit).
#[test]
fn raise_vs_thread_exit() {
    loom::model(|| {
        let token = Arc::new(());
        let inner = Shared::new();
        let owner = {
            let inner = inner.clone();
            thread::spawn(move || {
                let kill = checkpoint(&inner, true);
                if let Some(Kill::Raise(v)) = &kill {
                    assert!(v.is::<Payload>(), "the raised value, intact");
                }
                let dropped = inner.finish().len();
                (kill, dropped)
            })
        };
        let handed_back = inner.raise(Payload(token.clone()));
        let (kill, dropped) = owner.join().unwrap();

        assert_eq!(
            raise_outcomes(&kill, dropped, handed_back.is_err()),
            1,
            "the raise must end in exactly one place"
        );
        assert_eq!(inner.pending(), 0);
        assert_eq!(pending_threads(), 0);
        assert!(
            inner.raise(0u8).is_err(),
            "a finished thread refuses raises"
        );
        drop((kill, handed_back));
        assert_eq!(Arc::strong_count(&token), 1, "the value was dropped");
    });
}

/// Raise and terminate versus thread exit, three threads: terminate wins over
/// a queued raise, neither outlives `finish`, and the raise is still
/// accounted for exactly once.
///
/// Fails when broken: `terminate` succeeding after `finish`; `raise` not
/// testing `finished`; `finish` not clearing `RAISE`.
#[test]
fn raise_and_terminate_vs_thread_exit() {
    loom::model(|| {
        let inner = Shared::new();
        let owner = {
            let inner = inner.clone();
            thread::spawn(move || {
                let kill = checkpoint(&inner, true);
                // What was pending when the kill was chosen, for the check
                // that terminate wins.
                let dropped = inner.finish().len();
                (kill, dropped)
            })
        };
        let terminator = {
            let inner = inner.clone();
            thread::spawn(move || inner.terminate())
        };
        let handed_back = inner.raise(7u32).is_err();
        let (kill, dropped) = owner.join().unwrap();
        let terminated = terminator.join().unwrap();

        if matches!(kill, Some(Kill::Terminate)) {
            assert!(terminated);
        }
        assert_eq!(raise_outcomes(&kill, dropped, handed_back), 1);
        assert!(!inner.terminate(), "a finished thread cannot be terminated");
        assert_eq!(inner.pending(), 0);
        assert_eq!(pending_threads(), 0);
    });
}

/// Terminate wins: once terminate is recorded, a checkpoint delivers it even
/// with raises queued, at every checkpoint, and new raises are handed back.
/// Sequential, but run under loom for its leak checks.
///
/// Fails when broken: `take_delivery` testing the raise queue before
/// `TERMINATE`; `take_delivery` clearing `TERMINATE` on delivery.
#[test]
fn terminate_wins_over_queued_raises() {
    loom::model(|| {
        let inner = Inner::new();
        assert!(inner.raise(1u8).is_ok());
        assert!(inner.terminate());
        assert_eq!(inner.raise(2u8), Err(2));
        assert!(matches!(checkpoint(&inner, true), Some(Kill::Terminate)));
        assert!(matches!(checkpoint(&inner, true), Some(Kill::Terminate)));
        assert_eq!(
            inner.finish().len(),
            1,
            "the queued raise is dropped at exit"
        );
        assert_eq!(pending_threads(), 0);
    });
}

/// The waiter side of every killable wait (`wait::park_until`): the thread
/// is registered for unparking (`set_thread`, done once at thread start: the
/// "arming"), then loops on "kill pending? else park". The killer records
/// the kill, then wakes (`Inner::wake`: unpark the registered thread).
/// Returns the kill it was woken for.
fn waiter(inner: &Inner, arm_first: bool) -> Kill {
    if arm_first {
        inner.set_thread(thread::current());
    }
    let mut armed = arm_first;
    loop {
        if inner.pending() != 0 {
            break;
        }
        if !armed {
            // The bug this protocol rules out: test, then arm, then sleep.
            inner.set_thread(thread::current());
            armed = true;
        }
        thread::park();
    }
    checkpoint(inner, true).expect("woken with a deliverable kill")
}

/// Kill versus entering a blocking wait: no lost wake-up. If the kill lands
/// between the waiter's test and its `park`, the killer's `unpark` (sent after
/// the kill was recorded) makes the `park` return, and the waiter sees the
/// kill; loom reports a deadlock if any interleaving leaves it parked. Run
/// for a terminate and for a raise.
///
/// Fails when broken: `Inner::wake` not unparking (deadlock); `raise` or
/// `terminate` waking before recording the kill (the waiter parks again
/// after a wake that came too early: deadlock).
#[test]
fn kill_vs_entering_a_wait() {
    for raise in [false, true] {
        loom::model(move || {
            let inner = Shared::new();
            let owner = {
                let inner = inner.clone();
                thread::spawn(move || {
                    let kill = waiter(&inner, true);
                    assert!(inner.finish().is_empty());
                    kill
                })
            };
            if raise {
                inner.raise(3u8).unwrap();
            } else {
                assert!(inner.terminate());
            }
            match owner.join().unwrap() {
                Kill::Terminate => assert!(!raise),
                Kill::Raise(v) => assert_eq!(*v.downcast::<u8>().unwrap(), 3),
                other => panic!("unexpected delivery {other:?}"),
            }
            assert_eq!(pending_threads(), 0);
        });
    }
}

/// Kill versus entering a killable I/O wait (`io`): the owner registers its
/// waker (`set_waker`), tests for a kill, then sleeps until its wake fd is
/// signalled (here a flag and a park, as `poll` on the eventfd), testing
/// again after each wake-up. The killer records a kill, then calls the
/// waker. Loom reports a deadlock if any interleaving leaves the owner
/// asleep with the kill pending. The owner registers no thread with the
/// state (`set_thread`): only the waker can wake it.
///
/// Fails when broken (each checked by hand; loom reports the deadlock, then
/// aborts while cleaning up, so no permanently failing twin is kept):
/// `wake` not calling the waker (deadlock); the owner testing for a kill
/// before it registers the waker (deadlock).
#[test]
fn kill_vs_entering_an_io_wait() {
    loom::model(|| {
        let inner = Shared::new();
        let owner = {
            let inner = inner.clone();
            thread::spawn(move || {
                let signalled = Arc::new(AtomicBool::new(false));
                let waker: Waker = {
                    let (signalled, me) = (signalled.clone(), thread::current());
                    std::sync::Arc::new(move || {
                        signalled.store(true, SeqCst);
                        me.unpark();
                    })
                };
                inner.set_waker(&waker);
                while inner.pending() == 0 {
                    // `poll` on the wake fd, then its drain.
                    if !signalled.swap(false, SeqCst) {
                        thread::park();
                    }
                }
                let kill = checkpoint(&inner, true).expect("a kill is pending");
                assert!(inner.finish().is_empty());
                kill
            })
        };
        inner.raise(4u8).unwrap();
        match owner.join().unwrap() {
            Kill::Raise(v) => assert_eq!(*v.downcast::<u8>().unwrap(), 4),
            other => panic!("unexpected delivery {other:?}"),
        }
        assert_eq!(pending_threads(), 0);
    });
}

/// The same with the waiter's side broken: it tests for a kill before it
/// arms, so a kill landing in between is never followed by an unpark. Loom
/// must find that interleaving and report the deadlock; if this test ever
/// stops failing, the model has stopped exploring the race.
#[test]
#[should_panic(expected = "deadlock")]
fn wait_checking_before_arming_loses_the_wakeup() {
    loom::model(|| {
        let inner = Shared::new();
        let owner = {
            let inner = inner.clone();
            thread::spawn(move || {
                waiter(&inner, false);
                inner.finish();
            })
        };
        assert!(inner.terminate());
        owner.join().unwrap();
    });
}

/// Kill versus `interruptible`: the owner lends an `on_kill` hook
/// (`arm_hook`), runs a blocking operation that only the hook unblocks, then
/// takes the hook back (`disarm_hook`). Either `arm_hook` sees the kill
/// already pending (and the operation never starts), or the killer calls the
/// hook: no lost wake-up. The hook never runs after `disarm_hook` returned,
/// and runs at most once although two kills (a raise, then a terminate) each
/// wake the owner.
///
/// Fails when broken: `arm_hook` testing `pending` before taking the hook
/// mutex (loom reports the deadlock, then aborts the test process while
/// cleaning up the condvar wait: still a failure); `wake` not setting
/// `fired` (called twice).
#[test]
fn kill_vs_interruptible_hook() {
    loom::model(|| {
        let inner = Shared::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let owner = {
            let (inner, calls) = (inner.clone(), calls.clone());
            thread::spawn(move || {
                let returned = Arc::new(AtomicBool::new(false));
                // The blocking operation's state: only `on_kill` unblocks it.
                let op = Arc::new((Mutex::new(false), Condvar::new()));
                let hook = {
                    let (returned, op) = (returned.clone(), op.clone());
                    move |_: KillKind| {
                        assert!(
                            !returned.load(SeqCst),
                            "on_kill ran after interruptible returned"
                        );
                        calls.fetch_add(1, SeqCst);
                        *op.0.lock().unwrap() = true;
                        op.1.notify_one();
                    }
                };
                // SAFETY: disarmed below, before `hook` is dropped; nothing in
                // between unwinds except a failed assertion, which ends the
                // execution.
                if unsafe { inner.arm_hook(&hook) } {
                    let mut unblocked = op.0.lock().unwrap();
                    while !*unblocked {
                        unblocked = op.1.wait(unblocked).unwrap();
                    }
                    drop(unblocked);
                    inner.disarm_hook();
                }
                returned.store(true, SeqCst);
                let kill = checkpoint(&inner, true).expect("a kill is pending");
                inner.finish();
                kill
            })
        };
        assert!(
            inner.raise(1u8).is_ok(),
            "the owner cannot have finished yet"
        );
        inner.terminate();
        owner.join().unwrap();
        assert!(calls.load(SeqCst) <= 1, "on_kill runs at most once");
        assert_eq!(pending_threads(), 0);
    });
}

/// As above, with an operation that returns on its own: the hook may or may
/// not be called, but never once `interruptible` has returned, and the raise
/// is still accounted for exactly once.
///
/// The hook runs outside the hook mutex, under a claim: `disarm_hook` waits
/// for a claim marked running and withdraws one that has not started.
///
/// Fails when broken: `disarm_hook` not waiting for a running claim, or
/// `ClaimedHook::run` calling a withdrawn hook (either way the hook runs
/// after `disarm_hook` returned: a use-after-free in real code).
#[test]
fn interruptible_returning_on_its_own_vs_kill() {
    loom::model(|| {
        let inner = Shared::new();
        let owner = {
            let inner = inner.clone();
            thread::spawn(move || {
                let returned = Arc::new(AtomicBool::new(false));
                let hook = {
                    let returned = returned.clone();
                    move |_: KillKind| {
                        assert!(
                            !returned.load(SeqCst),
                            "on_kill ran after interruptible returned"
                        )
                    }
                };
                // SAFETY: disarmed before `hook` is dropped; see above.
                if unsafe { inner.arm_hook(&hook) } {
                    inner.disarm_hook();
                }
                returned.store(true, SeqCst);
                let kill = checkpoint(&inner, true);
                (kill, inner.finish().len())
            })
        };
        let handed_back = inner.raise(5u8).is_err();
        let (kill, dropped) = owner.join().unwrap();
        assert_eq!(raise_outcomes(&kill, dropped, handed_back), 1);
        assert_eq!(pending_threads(), 0);
    });
}

/// The owner's side of the shield models: a checkpoint before a shield, two
/// inside it (delivery not allowed), one right after it. Returns the
/// deliveries before and after, and whether a kill was pending inside.
fn shielded_section(inner: &Inner) -> (Option<Kill>, bool, Option<Kill>) {
    let before = checkpoint(inner, true);
    let pending_inside = inner.pending() != 0;
    let inside = [checkpoint(inner, false), checkpoint(inner, false)];
    assert!(
        inside.iter().all(Option::is_none),
        "delivered inside a shield"
    );
    let after = checkpoint(inner, true);
    (before, pending_inside, after)
}

/// Terminate versus shield entry and exit. Nothing is delivered inside the
/// shield; a termination pending inside it is delivered at the first
/// checkpoint after it; and since terminate is level-triggered, once recorded
/// it is delivered at every later checkpoint (a swallowed unwind comes back).
///
/// Fails when broken: `take_delivery` ignoring `can_deliver` (delivered while
/// shielded); `take_delivery` clearing `TERMINATE` on delivery (not
/// delivered again after the shield).
#[test]
fn terminate_vs_shield() {
    loom::model(|| {
        let inner = Shared::new();
        let owner = {
            let inner = inner.clone();
            thread::spawn(move || {
                let (before, pending_inside, after) = shielded_section(&inner);
                if before.is_some() || pending_inside {
                    assert!(
                        matches!(after, Some(Kill::Terminate)),
                        "a termination pending in the shield must land right after it"
                    );
                }
            })
        };
        assert!(inner.terminate());
        owner.join().unwrap();
        // The owner's next checkpoint, now that the kill is surely recorded.
        assert!(matches!(checkpoint(&inner, true), Some(Kill::Terminate)));
        assert!(inner.pending() & TERMINATE != 0, "still pending until exit");
        inner.finish();
        assert_eq!(pending_threads(), 0);
    });
}

/// Raise versus shield entry and exit: a raise is edge-triggered, so it is
/// delivered exactly once over the whole run, never inside the shield, and if
/// it was pending inside, exactly at the first checkpoint after it.
///
/// Fails when broken: `take_delivery` ignoring `can_deliver`; `take_delivery`
/// not clearing `RAISE` when the queue empties (`PENDING_THREADS` stays
/// raised).
#[test]
fn raise_vs_shield() {
    loom::model(|| {
        let inner = Shared::new();
        let owner = {
            let inner = inner.clone();
            thread::spawn(move || {
                let (before, pending_inside, after) = shielded_section(&inner);
                if pending_inside {
                    assert!(
                        after.is_some(),
                        "a raise pending in the shield must land right after it"
                    );
                }
                usize::from(before.is_some()) + usize::from(after.is_some())
            })
        };
        inner.raise(9u16).unwrap();
        let mut deliveries = owner.join().unwrap();
        // Later checkpoints of the owner, now that the raise is surely queued.
        for _ in 0..2 {
            if let Some(kill) = checkpoint(&inner, true) {
                assert!(matches!(kill, Kill::Raise(_)));
                deliveries += 1;
            }
        }
        assert_eq!(deliveries, 1, "a raise is delivered exactly once");
        assert_eq!(inner.pending(), 0);
        assert_eq!(
            pending_threads(),
            0,
            "a delivered raise leaves nothing counted"
        );
        assert!(inner.finish().is_empty());
    });
}

/// A deadline expiring (the timer thread's `expire_scope`) versus its
/// `with_timeout` scope closing (`pop_scope`) and the ad-hoc state being
/// dropped without `finish`. The expiry is delivered at most once, reported
/// by `pop_scope`, and nothing stays pending or counted once the scope is
/// closed.
///
/// Fails when broken: `pop_scope` not clearing `DEADLINE`.
#[test]
fn deadline_vs_scope_exit() {
    loom::model(|| {
        let inner = Shared::new();
        inner.push_scope(1, false);
        let owner = {
            let inner = inner.clone();
            thread::spawn(move || {
                let delivered = match checkpoint(&inner, true) {
                    Some(Kill::Deadline(1)) => true,
                    None => false,
                    Some(other) => panic!("unexpected delivery {other:?}"),
                };
                let expired = inner.pop_scope(1);
                assert!(
                    !delivered || expired,
                    "a delivered deadline's scope reports expired"
                );
                assert_eq!(inner.pending(), 0, "a closed scope leaves nothing pending");
            })
        };
        inner.expire_scope(1);
        owner.join().unwrap();
        assert_eq!(
            inner.pending(),
            0,
            "an expiry after the scope closed is ignored"
        );
        drop(inner);
        assert_eq!(pending_threads(), 0);
    });
}

/// A terminate (say from `terminate_all`, which reaches a thread as soon as
/// it is registered) versus a spawn that fails: the state is dropped without
/// `finish`, and its `Drop` must give back the count, or every checkpoint in
/// the process would take the slow path forever.
///
/// Fails when broken: `Inner`'s `Drop` not giving back its count.
#[test]
fn terminate_vs_failed_spawn() {
    loom::model(|| {
        let inner = Shared::new();
        let killer = {
            let inner = inner.clone();
            thread::spawn(move || inner.terminate())
        };
        drop(inner); // the spawn failed: nobody will ever call `finish`
        assert!(
            killer.join().unwrap(),
            "an unfinished state accepts terminate"
        );
        assert_eq!(pending_threads(), 0);
    });
}

/// A cancel token's node and a thread's state, as `CancelToken::run` holds
/// them (`std` `Arc`s: the token keeps its runners' states in them), not
/// dropped while a failing model unwinds (see [`Shared`]).
struct Run(Option<(std::sync::Arc<Node>, std::sync::Arc<Inner>)>);

impl Run {
    fn new() -> Run {
        Run(Some((
            std::sync::Arc::new(Node::new()),
            std::sync::Arc::new(Inner::new()),
        )))
    }
    fn node(&self) -> &std::sync::Arc<Node> {
        &self.0.as_ref().expect("present until dropped").0
    }
    fn inner(&self) -> &std::sync::Arc<Inner> {
        &self.0.as_ref().expect("present until dropped").1
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if std::thread::panicking() {
            std::mem::forget(self.0.take());
        }
    }
}

/// `cancel` versus a thread entering and leaving `run`: a run that enters
/// after the cancel completed is refused or sees it at its first
/// checkpoint; one that enters and passes its checkpoint before the cancel
/// leaves with nothing pending, and so does every path. Catches: opening
/// the scope after registering it (the cancel finds the registration, no
/// scope to expire, and is lost); testing `cancelled` outside the node's
/// lock; `leave` not closing the scope.
#[test]
fn cancel_vs_entering_and_leaving_run() {
    loom::model(|| {
        let run = std::sync::Arc::new(Run::new());
        let cancel_done = Arc::new(AtomicBool::new(false));
        let owner = {
            let (run, cancel_done) = (run.clone(), cancel_done.clone());
            thread::spawn(move || {
                let (node, inner) = (run.node(), run.inner());
                if !node.enter(inner, 1, 0) {
                    assert!(node.is_cancelled(), "refused only when cancelled");
                    assert_eq!(inner.pending(), 0, "a refused run opens nothing");
                    return;
                }
                let done_before = cancel_done.load(SeqCst);
                let delivered = match checkpoint(inner, true) {
                    Some(Kill::Deadline(1)) => true,
                    None => false,
                    Some(other) => panic!("unexpected delivery {other:?}"),
                };
                assert!(
                    delivered || !done_before,
                    "a cancel completed before the checkpoint is delivered there"
                );
                node.leave(inner, 1);
                assert_eq!(inner.pending(), 0, "a run leaves nothing pending");
            })
        };
        run.node().cancel();
        cancel_done.store(true, SeqCst);
        owner.join().unwrap();
        assert!(run.node().is_cancelled());
        assert_eq!(
            run.inner().pending(),
            0,
            "a cancel after leaving reaches nothing"
        );
        drop(run);
        assert_eq!(pending_threads(), 0);
    });
}

/// A child made while its parent is being cancelled is cancelled either
/// way, and a run under it is reached. Catches: registering the child
/// without testing the parent's mark under its lock.
#[test]
fn child_vs_parent_cancel() {
    loom::model(|| {
        let parent = std::sync::Arc::new(Node::new());
        let maker = {
            let parent = parent.clone();
            thread::spawn(move || {
                let child = parent.child();
                let run = Run(Some((child, std::sync::Arc::new(Inner::new()))));
                if run.node().enter(run.inner(), 1, 0) {
                    run.node().leave(run.inner(), 1);
                }
                run
            })
        };
        parent.cancel();
        let run = maker.join().unwrap();
        assert!(
            run.node().is_cancelled(),
            "the parent's cancel reached the child"
        );
        assert_eq!(run.inner().pending(), 0);
        drop(run);
        assert_eq!(pending_threads(), 0);
    });
}
