//! The registry lists live killable threads only, and every exit path
//! removes its entry. One test, so nothing else in this binary spawns
//! killable threads while it checks for an empty registry.

mod support;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use killable::registry::{self, RunState};
use killable::{catch, checkpoint, Builder, KillableThread};

fn started<T: Send + 'static>(
    name: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> KillableThread<T> {
    let barrier = Arc::new(Barrier::new(2));
    let b = barrier.clone();
    let t = Builder::new()
        .name(name.into())
        .spawn(move || {
            b.wait();
            body()
        })
        .unwrap();
    barrier.wait();
    t
}

fn assert_empty(after: &str) {
    let left = registry::threads();
    assert!(
        left.is_empty(),
        "registry not empty after {after}: {left:?}"
    );
}

#[test]
fn every_exit_path_leaves_the_registry() {
    assert_empty("start");

    // Return.
    let t = started("returns", || 5);
    assert_eq!(t.join().unwrap(), 5);
    assert_empty("return");

    // Uncaught raise.
    let t = started("raised", || loop {
        checkpoint();
    });
    let listed = registry::threads();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name(), Some("raised"));
    assert_eq!(listed[0].id(), t.id());
    assert!(listed[0].started_at() <= Instant::now());
    t.raise(1_u8).unwrap();
    assert!(t.join().unwrap_err().is_raised());
    assert_empty("raise");

    // Caught raise, then return.
    let t = started("caught", || {
        catch::<u8, _, _>(|| loop {
            checkpoint()
        })
    });
    t.raise(2_u8).unwrap();
    assert_eq!(t.join().unwrap(), Err(2));
    assert_empty("caught raise");

    // Terminate.
    let t = started("terminated", || loop {
        checkpoint();
    });
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
    assert_empty("terminate");

    // Panic.
    let t = started("panics", || -> () { panic!("expected in this test") });
    assert!(t.join().unwrap_err().is_panic());
    assert_empty("panic");

    // Deadline.
    let t = Builder::new()
        .deadline(Instant::now() + Duration::from_millis(10))
        .spawn(|| loop {
            killable::sleep(Duration::from_millis(1));
        })
        .unwrap();
    assert!(t.join().unwrap_err().is_terminated());
    assert_empty("deadline");

    // A detached thread leaves once its body ends, handle or not.
    let t = started("detached", || ());
    let k = t.killer();
    drop(t);
    let start = Instant::now();
    while k.is_alive() {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::yield_now();
    }
    assert_empty("detached");

    // A spawn the OS refuses.
    assert!(Builder::new().stack_size(usize::MAX).spawn(|| ()).is_err());
    assert_empty("failed spawn");

    // Scoped threads.
    killable::scope(|s| {
        let a = s.spawn(|| loop {
            checkpoint();
        });
        assert_eq!(registry::threads().len(), 1);
        a.terminate();
    });
    assert_empty("scope");

    states_terminate_all_and_join_all();
    assert_empty("terminate_all and join_all");
}

fn states_terminate_all_and_join_all() {
    let hold = Arc::new(AtomicBool::new(false));
    let h = hold.clone();
    let blocked = started("blocked", || killable::sleep(Duration::from_secs(3600)));
    let busy = started("busy", move || {
        while !h.load(SeqCst) {
            std::hint::spin_loop(); // no checkpoint: stuck as far as kills go
        }
    });
    let state_of = |id| registry::info(id).map(|i| i.state());
    support::wait_until_blocked(blocked.id());
    assert_eq!(state_of(busy.id()), Some(RunState::Running));
    busy.raise(()).unwrap();
    assert_eq!(state_of(busy.id()), Some(RunState::KillPending));

    assert!(registry::terminate_all() >= 2);
    assert_eq!(state_of(busy.id()), Some(RunState::Terminating));
    // `busy` makes no checkpoint: it cannot finish, and join_all says so.
    let late = registry::join_all(Duration::from_millis(100));
    assert!(late.iter().any(|i| i.id() == busy.id()), "{late:?}");
    assert!(late.iter().all(|i| i.id() != blocked.id()), "{late:?}");
    assert!(blocked.join().unwrap_err().is_terminated());
    hold.store(true, SeqCst);
    // It returned without passing a checkpoint: its result stands.
    busy.join().unwrap();
}
