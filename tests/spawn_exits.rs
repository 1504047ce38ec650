//! Every way a spawn can fail leaves nothing behind: no registry entry, and
//! no joiner left waiting for a thread that will never run.
//!
//! Every test takes `SERIAL` and this binary spawns no other killable
//! threads: the tests count the registry's entries with `terminate_all` and
//! time `join_all`, which both see every killable thread in the process.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use killable::{registry, Builder};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` on a plain thread and waits up to `limit` for it: a hang is a
/// test failure, not a stuck test binary.
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("{what} did not return within {limit:?}"))
}

#[test]
fn a_nul_in_the_name_is_an_invalid_input_error_and_leaves_no_entry() {
    let _s = serial();
    let err = Builder::new()
        .name("bad\0name".into())
        .spawn(|| unreachable!("never runs"))
        .expect_err("a NUL in the name is refused");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err:?}");
    // Scoped spawns go through the same path.
    killable::scope(|s| {
        let err = Builder::new()
            .name("also\0bad".into())
            .spawn_scoped(s, || unreachable!("never runs"))
            .expect_err("a NUL in the name is refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err:?}");
    });
    // `terminate_all` counts every entry, even one without an OS thread.
    assert_eq!(
        registry::terminate_all(),
        0,
        "the failed spawn left an entry"
    );
    let late = within(Duration::from_secs(10), "join_all(MAX)", || {
        registry::join_all(Duration::MAX)
    });
    assert!(late.is_empty());
    // Spawning still works afterwards, with a good name.
    let t = Builder::new().name("good".into()).spawn(|| 7).unwrap();
    assert_eq!(t.join().unwrap(), 7);
}

#[test]
#[cfg_attr(miri, ignore = "miri does not model stack sizes")]
fn join_all_racing_refused_spawns_is_woken_when_they_fail() {
    let _s = serial();
    // One thread spawns with a stack the OS refuses, over and over; each
    // attempt is registered for a moment. `join_all` on this thread can see
    // such an entry and must be woken when its spawn fails: no killable
    // thread ever lives here, so no call may wait out its timeout.
    const TIMEOUT: Duration = Duration::from_secs(2);
    let stop = Arc::new(AtomicBool::new(false));
    let spawner = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut refused = 0u64;
            while !stop.load(SeqCst) {
                let r = Builder::new().stack_size(1 << 46).spawn(|| ());
                assert!(r.is_err(), "the OS accepted a 64 TiB stack");
                refused += 1;
            }
            refused
        })
    };
    let start = Instant::now();
    let mut calls = 0u32;
    let mut slowest = Duration::ZERO;
    while start.elapsed() < Duration::from_secs(3) {
        let t0 = Instant::now();
        let late = registry::join_all(TIMEOUT);
        let took = t0.elapsed();
        slowest = slowest.max(took);
        calls += 1;
        if took >= TIMEOUT {
            stop.store(true, SeqCst);
            panic!("join_all waited out its {TIMEOUT:?} on call {calls} with no thread alive");
        }
        assert!(late.is_empty());
    }
    stop.store(true, SeqCst);
    let refused = spawner.join().unwrap();
    assert!(refused > 0);
    println!("{calls} join_all calls against {refused} refused spawns, slowest {slowest:?}");
    assert_eq!(registry::terminate_all(), 0);
}
