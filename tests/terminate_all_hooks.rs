//! `registry::terminate_all` with `interruptible` hooks that panic. Alone
//! in its binary: `terminate_all` reaches every killable thread of the
//! process, so it must not share one with other tests.

mod support;

use std::sync::mpsc;

use killable::{interruptible, KillableThread};

use support::BOUND;

fn spawn_blocked<T: Send + 'static>(
    body: impl FnOnce(mpsc::Sender<()>) -> T + Send + 'static,
) -> KillableThread<T> {
    let (ready_tx, ready) = mpsc::channel();
    let t = KillableThread::spawn(move || body(ready_tx));
    ready.recv_timeout(BOUND).expect("thread never got ready");
    // Until its hook is armed (Blocked): a sleep is no proof, and a thread
    // reached before it arms is terminated without its hook running.
    support::wait_until_blocked(t.id());
    t
}

/// A blocking call only `unblock` can end.
fn blocker() -> (impl FnOnce() -> bool, impl Fn() + Send + Sync) {
    let (tx, rx) = mpsc::channel::<()>();
    let op = move || rx.recv_timeout(BOUND).is_ok();
    let unblock = move || {
        let _ = tx.send(());
    };
    (op, unblock)
}

/// Issue 12, finding 6: a panicking `on_kill` must not stop `terminate_all`
/// partway. Eight threads, each with a hook that unblocks it, then panics:
/// every one is terminated, then the first panic reaches the caller.
#[test]
fn a_panicking_on_kill_does_not_stop_terminate_all() {
    const N: usize = 8;
    let threads: Vec<_> = (0..N)
        .map(|_| {
            spawn_blocked(move |ready| {
                let (op, unblock) = blocker();
                ready.send(()).unwrap();
                interruptible(op, move || {
                    unblock();
                    std::panic::resume_unwind(Box::new("hook failed"));
                })
            })
        })
        .collect();
    let ids: Vec<_> = threads.iter().map(|t| t.id()).collect();
    let r = std::panic::catch_unwind(killable::registry::terminate_all);
    let payload = r.expect_err("the hook's panic reaches terminate_all's caller");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"hook failed"));
    for (t, id) in threads.into_iter().zip(ids) {
        let joined = t
            .join_timeout(BOUND)
            .unwrap_or_else(|_| panic!("thread {id:?} was not reached"));
        assert!(joined.unwrap_err().is_terminated());
    }
}
