//! Structured scopes: a kill that unwinds out of a `scope` body, or that
//! arrives while the scope waits for its threads, terminates them, so the
//! scope's wait ends.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use killable::{checkpoint, scope, with_timeout, KillableThread, Killer, TimedOut};

const BOUND: Duration = Duration::from_secs(3);

/// Spawns a killable thread that opens a scope with one spinning child,
/// hands out the child's killer, then runs `body`.
fn parent_with_spinning_child(body: fn()) -> (KillableThread<()>, Killer) {
    let (tx, rx) = mpsc::channel();
    let t = KillableThread::spawn(move || {
        scope(|s| {
            let c = s.spawn(|| loop {
                checkpoint()
            });
            tx.send(c.killer()).unwrap();
            body();
        })
    });
    let child = rx.recv_timeout(BOUND).expect("the scope never started");
    (t, child)
}

#[test]
fn terminating_the_parent_inside_the_scope_body_terminates_its_children() {
    let (t, child) = parent_with_spinning_child(|| loop {
        checkpoint()
    });
    t.terminate();
    let joined = t.join_timeout(BOUND).expect("the scope's wait never ended");
    assert!(joined.unwrap_err().is_terminated());
    assert!(child.is_finished());
}

#[test]
fn a_raise_out_of_the_scope_body_terminates_the_children_and_reaches_join() {
    let (t, child) = parent_with_spinning_child(|| loop {
        checkpoint()
    });
    t.raise(7_u32).unwrap();
    let joined = t.join_timeout(BOUND).expect("the scope's wait never ended");
    assert_eq!(joined.unwrap_err().downcast_raised::<u32>().unwrap(), 7);
    assert!(child.is_finished());
}

#[test]
fn a_kill_while_the_scope_waits_for_its_children_reaches_them() {
    // The body returns at once; the scope then waits for the child.
    let (t, child) = parent_with_spinning_child(|| ());
    std::thread::sleep(Duration::from_millis(20));
    t.terminate();
    let joined = t.join_timeout(BOUND).expect("the scope's wait never ended");
    assert!(joined.unwrap_err().is_terminated());
    assert!(child.is_finished());
}

#[test]
fn a_deadline_out_of_the_scope_body_terminates_the_children() {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let r = std::thread::spawn(move || {
        with_timeout(Duration::from_millis(50), || {
            scope(|s| {
                tx.send(
                    s.spawn(|| loop {
                        checkpoint()
                    })
                    .killer(),
                )
                .unwrap();
                loop {
                    checkpoint()
                }
            })
        })
    });
    let child = rx.recv_timeout(BOUND).unwrap();
    while !r.is_finished() {
        assert!(start.elapsed() < BOUND, "the scope's wait never ended");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(r.join().unwrap(), Err(TimedOut));
    assert!(child.is_finished());
}

#[test]
fn an_ordinary_panic_of_the_body_leaves_the_children_running_as_std_does() {
    let (tx, rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let h = std::thread::spawn(move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            scope(|s| {
                let c = s.spawn(move || {
                    let _ = stop_rx.recv();
                });
                tx.send(c.killer()).unwrap();
                std::panic::resume_unwind(Box::new("body failed"));
            })
        }))
        .is_err()
    });
    let child = rx.recv_timeout(BOUND).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert!(child.is_alive(), "a panic does not terminate the children");
    stop_tx.send(()).unwrap();
    assert!(h.join().unwrap());
}

/// An ordinary panic of the body makes the scope wait for its threads, as
/// std's does; a kill of the parent that arrives during that wait cannot
/// unwind the (already panicking) parent, but must still reach the threads.
#[test]
fn a_kill_arriving_while_a_panicking_body_waits_for_its_threads_terminates_them() {
    let (t, child) = parent_with_spinning_child(|| panic!("the body panics"));
    // Let the panic reach the scope's wait.
    std::thread::sleep(Duration::from_millis(50));
    t.terminate();
    let r = t
        .join_timeout(BOUND)
        .unwrap_or_else(|_| panic!("the scope's wait never ended"));
    assert!(r.unwrap_err().is_panic(), "the body's panic goes on");
    assert!(!child.is_alive());
}
