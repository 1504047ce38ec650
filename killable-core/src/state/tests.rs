//! Unit tests of the protocol, single-threaded and with plain threads; small
//! enough for miri
//! (`cargo +nightly miri test -p killable-core --lib -- state:: killpoint::`).
//! The races themselves are model-checked by loom in `tests/loom.rs`.

use super::*;
use std::sync::Arc;

fn counted(inner: &Inner) -> bool {
    lock(&inner.locked).counted
}

fn raised<T: Any + Copy>(d: Delivery) -> T {
    match d {
        Delivery::Deliver(Kill::Raise(v)) => *v.downcast::<T>().expect("the raised type"),
        other => panic!("expected a raise, got {other:?}"),
    }
}

#[test]
fn nothing_pending_means_nothing_delivered_and_nothing_counted() {
    let inner = Inner::new();
    assert_eq!(inner.pending(), 0);
    assert!(matches!(inner.take_delivery(true), Delivery::Nothing));
    assert!(matches!(inner.take_delivery(false), Delivery::Nothing));
    assert!(!counted(&inner));
}

#[test]
fn raises_are_delivered_in_order_one_per_checkpoint() {
    let inner = Inner::new();
    for i in 0..3u32 {
        inner.raise(i).unwrap();
    }
    assert_eq!(inner.pending(), RAISE);
    assert!(counted(&inner));
    for i in 0..3u32 {
        assert_eq!(raised::<u32>(inner.take_delivery(true)), i);
    }
    assert_eq!(inner.pending(), 0, "the last delivery clears RAISE");
    assert!(!counted(&inner));
    assert!(matches!(inner.take_delivery(true), Delivery::Nothing));
}

#[test]
fn shielded_checkpoints_defer_and_keep_the_kill() {
    let inner = Inner::new();
    inner.raise("x").unwrap();
    for _ in 0..3 {
        assert!(matches!(inner.take_delivery(false), Delivery::Deferred));
    }
    assert_eq!(raised::<&str>(inner.take_delivery(true)), "x");
}

#[test]
fn terminate_is_level_triggered_and_wins_over_raises() {
    let inner = Inner::new();
    inner.raise(1u8).unwrap();
    assert!(inner.terminate());
    assert!(
        inner.terminate(),
        "a second terminate is accepted, idempotent"
    );
    assert_eq!(
        inner.raise(2u8),
        Err(2),
        "raises are refused once terminating"
    );
    for _ in 0..3 {
        assert!(matches!(
            inner.take_delivery(true),
            Delivery::Deliver(Kill::Terminate)
        ));
    }
    assert!(counted(&inner));
    let dropped = inner.finish();
    assert_eq!(dropped.len(), 1, "the queued raise is handed to finish");
    assert_eq!(inner.pending(), 0);
    assert!(!counted(&inner));
}

#[test]
fn the_raise_queue_is_bounded_and_frees_up_on_delivery() {
    let inner = Inner::new();
    for i in 0..MAX_QUEUED_RAISES {
        inner.raise(i).unwrap();
    }
    assert_eq!(
        inner.raise(usize::MAX),
        Err(usize::MAX),
        "full: handed back"
    );
    assert_eq!(raised::<usize>(inner.take_delivery(true)), 0);
    inner.raise(MAX_QUEUED_RAISES).unwrap();
    assert_eq!(inner.finish().len(), MAX_QUEUED_RAISES);
}

#[test]
fn end_waiters_are_woken_once_and_none_after_the_end() {
    let inner = Inner::new();
    let me = std::thread::current();
    assert!(!inner.has_ended());
    assert!(inner.add_end_waiter(&me));
    inner.remove_end_waiter(&me);
    assert!(inner.add_end_waiter(&me));
    inner.finish();
    assert!(!inner.has_ended(), "finishing the body is not the end");
    assert_eq!(lock(&inner.locked).end_waiters.len(), 1, "kept past finish");
    inner.mark_ended();
    assert!(inner.has_ended());
    assert!(lock(&inner.locked).end_waiters.is_empty());
    assert!(!inner.add_end_waiter(&me));
}

#[test]
fn a_finished_state_refuses_everything() {
    let inner = Inner::new();
    assert!(inner.finish().is_empty());
    assert!(inner.is_finished());
    assert_eq!(inner.raise(vec![1, 2]), Err(vec![1, 2]));
    assert!(!inner.terminate());
    inner.expire_scope(1);
    assert_eq!(inner.pending(), 0);
    assert!(!counted(&inner));
    let me = std::thread::current();
    assert!(!inner.add_joiner(&me));
}

#[test]
fn scopes_deliver_the_outermost_expiry_and_leave_nothing_when_closed() {
    let inner = Inner::new();
    inner.push_scope(10, false);
    inner.push_scope(11, false);
    inner.expire_scope(11);
    inner.expire_scope(10);
    inner.expire_scope(99); // unknown: ignored
    assert_eq!(inner.pending(), DEADLINE);
    assert!(matches!(
        inner.take_delivery(true),
        Delivery::Deliver(Kill::Deadline(10))
    ));
    assert!(inner.pop_scope(11));
    assert_eq!(
        inner.pending(),
        DEADLINE,
        "the outer expiry is still pending"
    );
    assert!(inner.pop_scope(10));
    assert_eq!(inner.pending(), 0);
    assert!(!counted(&inner));
    assert!(!inner.pop_scope(10), "closing twice is harmless");
}

#[test]
fn a_scope_opened_expired_is_pending_at_once() {
    let inner = Inner::new();
    inner.push_scope(1, true);
    assert!(counted(&inner));
    assert!(matches!(
        inner.take_delivery(true),
        Delivery::Deliver(Kill::Deadline(1))
    ));
    assert!(inner.pop_scope(1));
    assert!(!counted(&inner));
}

#[test]
fn a_scope_that_ends_in_time_leaves_no_trace() {
    let inner = Inner::new();
    inner.push_scope(5, false);
    assert!(!inner.pop_scope(5));
    inner.expire_scope(5); // the timer fires late: nothing happens
    assert_eq!(inner.pending(), 0);
}

#[test]
fn the_hook_is_armed_only_with_nothing_pending_and_fires_once() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let calls = AtomicUsize::new(0);
    let hook = |kind: KillKind| {
        assert_eq!(kind, KillKind::Raise, "told the kill that fired it");
        calls.fetch_add(1, SeqCst);
    };
    let inner = Inner::new();
    // SAFETY: disarmed below, before `hook` goes out of scope.
    assert!(unsafe { inner.arm_hook(&hook) });
    inner.raise(1u8).unwrap();
    inner.raise(2u8).unwrap();
    assert!(inner.terminate());
    assert!(inner.disarm_hook(), "kills were recorded while armed");
    assert_eq!(calls.load(SeqCst), 1, "on_kill runs at most once");
    inner.raise(3u8).unwrap_err();
    assert_eq!(calls.load(SeqCst), 1, "never after disarm");
    // SAFETY: returns false, arming nothing.
    assert!(
        !unsafe { inner.arm_hook(&hook) },
        "a kill is already pending"
    );
}

#[test]
fn joiners_are_registered_until_finish() {
    let inner = Inner::new();
    let me = std::thread::current();
    assert!(inner.add_joiner(&me));
    inner.remove_joiner(&me);
    assert!(inner.add_joiner(&me));
    inner.finish(); // unparks `me`: the next park returns at once
    std::thread::park();
    assert!(!inner.add_joiner(&me));
}

#[test]
fn a_raise_racing_finish_ends_in_exactly_one_place() {
    for round in 0..20u32 {
        let inner = Arc::new(Inner::new());
        let killer = {
            let inner = inner.clone();
            std::thread::spawn(move || inner.raise(round).is_err())
        };
        let delivered = matches!(inner.take_delivery(true), Delivery::Deliver(_));
        let dropped = inner.finish().len();
        let handed_back = killer.join().unwrap();
        assert_eq!(
            usize::from(delivered) + dropped + usize::from(handed_back),
            1,
            "round {round}"
        );
        assert!(!counted(&inner));
    }
}

#[test]
fn a_kill_wakes_the_registered_thread() {
    let inner = Arc::new(Inner::new());
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = {
        let inner = inner.clone();
        std::thread::spawn(move || {
            inner.set_thread(std::thread::current());
            tx.send(()).unwrap();
            // The waiter's loop: test, then park; a kill in between leaves
            // the unpark token, so the park returns.
            while inner.pending() == 0 {
                std::thread::park();
            }
            matches!(
                inner.take_delivery(true),
                Delivery::Deliver(Kill::Terminate)
            )
        })
    };
    rx.recv().unwrap();
    assert!(inner.terminate());
    assert!(waiter.join().unwrap());
    inner.finish();
}
