//! `killable::sync::crossbeam`: receives on crossbeam channels that wake at
//! once on a kill, and leave messages alone when a kill wins.
//!
//! Run: `cargo test -p killable-integration-tests --features crossbeam-channel --test crossbeam`.
#![cfg(feature = "crossbeam-channel")]

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, RecvError, RecvTimeoutError};
use killable::registry::{self, RunState};
use killable::sync::crossbeam::{recv, recv_timeout};
use killable::{catch, with_timeout, KillableThread, TimedOut};

/// "At once", generously, for a noisy shared machine.
const AT_ONCE: Duration = Duration::from_secs(10);

/// Waits until `t` is blocked (in the receive).
fn until_blocked<T>(t: &KillableThread<T>) {
    let deadline = Instant::now() + AT_ONCE;
    loop {
        let state = registry::info(t.id()).map(|i| i.state());
        if state == Some(RunState::Blocked) {
            return;
        }
        assert!(Instant::now() < deadline, "never blocked: {state:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn receives_like_crossbeam() {
    let (tx, rx) = unbounded();
    tx.send(1).unwrap();
    assert_eq!(recv(&rx), Ok(1));
    assert_eq!(
        recv_timeout(&rx, Duration::from_millis(5)),
        Err(RecvTimeoutError::Timeout)
    );
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx.send(2).unwrap();
    });
    assert_eq!(recv(&rx), Ok(2)); // blocks until it comes
    sender.join().unwrap();
    assert_eq!(recv(&rx), Err(RecvError)); // sender gone
    assert_eq!(
        recv_timeout(&rx, Duration::from_secs(1)),
        Err(RecvTimeoutError::Disconnected)
    );
}

#[test]
fn terminate_wakes_a_blocked_recv() {
    let (tx, rx) = unbounded::<u32>();
    let t = KillableThread::spawn(move || recv(&rx));
    until_blocked(&t);
    let start = Instant::now();
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
    assert!(start.elapsed() < AT_ONCE);
    drop(tx); // alive until here: only the kill could end the wait
}

#[test]
fn terminate_wakes_a_blocked_recv_timeout() {
    let (tx, rx) = unbounded::<u32>();
    let t = KillableThread::spawn(move || recv_timeout(&rx, Duration::from_secs(3600)));
    until_blocked(&t);
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
    drop(tx);
}

#[derive(Debug, PartialEq)]
struct Reload(u32);

#[test]
fn a_raise_wakes_recv_and_the_thread_carries_on() {
    let (tx, rx) = unbounded::<u32>();
    let t = KillableThread::spawn(move || {
        let first = catch::<Reload, _, _>(|| recv(&rx));
        let second = recv(&rx);
        (first.map(|r| r.unwrap()), second)
    });
    until_blocked(&t);
    t.raise(Reload(7)).unwrap();
    // The raise ended the first wait; the second one gets the message.
    tx.send(42).unwrap();
    let (first, second) = t.join().unwrap();
    assert_eq!(first, Err(Reload(7)));
    assert_eq!(second, Ok(42));
}

#[test]
fn a_pending_kill_leaves_a_ready_message_in_the_channel() {
    let (tx, rx) = unbounded::<u32>();
    let (started, go) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let (s, g) = (started.clone(), go.clone());
    let t = KillableThread::spawn(move || {
        s.wait(); // a raise before this would land before the thread's body
        g.wait(); // until the raise and the message are both there
        let first = catch::<Reload, _, _>(|| recv(&rx));
        (first.map(|r| r.unwrap()), rx.try_recv())
    });
    started.wait();
    t.raise(Reload(1)).unwrap();
    tx.send(5).unwrap();
    go.wait();
    let (first, left) = t.join().unwrap();
    assert_eq!(
        first,
        Err(Reload(1)),
        "the kill wins over the ready message"
    );
    assert_eq!(left, Ok(5), "and the message is still there");
}

#[test]
fn a_deadline_wakes_recv_on_any_thread() {
    let (tx, rx) = unbounded::<u32>();
    let start = Instant::now();
    let r = with_timeout(Duration::from_millis(20), || recv(&rx));
    assert_eq!(r, Err(TimedOut));
    assert!(start.elapsed() < AT_ONCE);
    // The thread is back to normal, and so is the channel.
    tx.send(3).unwrap();
    assert_eq!(recv(&rx), Ok(3));
}

#[test]
fn recv_from_many_killable_receivers_loses_no_message() {
    // Several killable receivers on one channel (crossbeam is MPMC): every
    // message is received exactly once.
    let (tx, rx) = unbounded::<u32>();
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let rx = rx.clone();
            KillableThread::spawn(move || {
                let mut got = Vec::new();
                while let Ok(n) = recv(&rx) {
                    got.push(n);
                }
                got
            })
        })
        .collect();
    for n in 0..1000 {
        tx.send(n).unwrap();
    }
    drop(tx);
    let mut all: Vec<u32> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<_>>());
}
