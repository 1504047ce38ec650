//! The scenario of the 2006 Python recipe "Killable Threads", in Rust.
//!
//! A worker loops forever on a 100 ms sleep, holding a guard that must be
//! cleaned up. The main thread checks it is alive, terminates it, joins it,
//! and sees the guard's cleanup run and the thread gone.
//!
//! Run: `cargo run --example quickstart`

use std::time::{Duration, Instant};

use killable::{killable, KillableThread};

/// Prints `outta here` when dropped: the Python recipe's `finally:` clause.
struct Cleanup {
    started: Instant,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        println!(
            "[{:>8.3?}] worker: outta here (cleanup ran during the unwind)",
            self.started.elapsed()
        );
    }
}

#[killable]
fn worker(started: Instant) {
    let _cleanup = Cleanup { started };
    let mut ticks = 0u32;
    loop {
        ticks += 1;
        println!("[{:>8.3?}] worker: tick {ticks}", started.elapsed());
        // `killable::sleep` wakes at once on a kill; a plain
        // `std::thread::sleep` would also work, with the kill landing when
        // it returns (at the checkpoint the attribute put after it).
        killable::sleep(Duration::from_millis(100));
    }
}

fn main() {
    let started = Instant::now();
    let t = KillableThread::spawn(move || worker(started));
    println!("[{:>8.3?}] main: spawned {:?}", started.elapsed(), t.id());

    std::thread::sleep(Duration::from_millis(350));
    println!(
        "[{:>8.3?}] main: is_alive() = {}",
        started.elapsed(),
        t.is_alive()
    );

    let killed_at = Instant::now();
    t.terminate();
    println!("[{:>8.3?}] main: terminate() sent", started.elapsed());

    let killer = t.killer();
    match t.join() {
        Err(e) if e.is_terminated() => println!(
            "[{:>8.3?}] main: join() -> Err({e}) after {:?}",
            started.elapsed(),
            killed_at.elapsed()
        ),
        other => panic!("expected a terminated thread, got {other:?}"),
    }
    println!(
        "[{:>8.3?}] main: is_alive() = {}",
        started.elapsed(),
        killer.is_alive()
    );
    assert!(!killer.is_alive());
}
