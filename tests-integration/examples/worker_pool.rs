//! A pool of killable workers, shut down gracefully on Ctrl-C.
//!
//! Three workers take jobs (count the primes in a range, plain CPU work made
//! killable by `#[killable]`) from a queue guarded by a
//! `killable::sync::Condvar`, and send each result to a journal thread over
//! a `killable::sync::mpsc` channel. On Ctrl-C (the `ctrlc` crate's handler)
//! the main thread lists the threads, terminates them all with
//! `registry::terminate_all()`, waits a bounded time with
//! `registry::join_all(timeout)` and reports the ones that did not finish in
//! time: here the journal, whose cleanup flushes its records on the way out
//! and takes longer than the timeout. Then it joins every handle.
//!
//! Workers blocked in the condvar wait and the journal blocked in `recv`
//! wake at once; workers in the middle of a job stop at the next loop head.
//!
//! So that it runs unattended, the example shuts down by itself after 1 s if
//! no Ctrl-C comes (`WORKER_POOL_AUTO_SHUTDOWN_MS` changes the delay).
//!
//! Run: `cargo run --example worker_pool` (and press Ctrl-C, or wait)

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use killable::registry;
use killable::sync::{mpsc, Condvar, Mutex};
use killable::{killable, Builder, KillableThread};

/// How long `join_all` waits for the terminated threads.
const JOIN_TIMEOUT: Duration = Duration::from_millis(250);
/// How long the journal's final flush takes (longer than `JOIN_TIMEOUT`).
const FLUSH_TIME: Duration = Duration::from_millis(600);

/// Prints a line prefixed with the time since the start, and flushes it at
/// once (stdout may be a pipe, read line by line by the test).
macro_rules! say {
    ($t0:expr, $($arg:tt)*) => {{
        println!("[{:>9.3?}] {}", $t0.elapsed(), format_args!($($arg)*));
        let _ = std::io::stdout().flush();
    }};
}

struct Queue {
    jobs: Mutex<VecDeque<u64>>,
    ready: Condvar,
}

/// Counts the primes in `[start, start + len)`, by trial division.
#[killable]
fn count_primes(start: u64, len: u64) -> u64 {
    let mut count = 0;
    for n in start..start + len {
        let mut d = 2;
        let mut prime = n >= 2;
        while d * d <= n {
            if n % d == 0 {
                prime = false;
                break;
            }
            d += 1;
        }
        count += u64::from(prime);
    }
    count
}

/// Reports, on every way out of a worker, how many jobs it finished.
struct WorkerExit {
    t0: Instant,
    name: String,
    done: u64,
}

impl Drop for WorkerExit {
    fn drop(&mut self) {
        let how = if std::thread::panicking() {
            "unwinding"
        } else {
            "returning"
        };
        say!(
            self.t0,
            "{}: cleanup while {how}, after {} jobs",
            self.name,
            self.done
        );
    }
}

/// Takes the next job, waiting while the queue is empty. The wait is
/// killable: a kill wakes it at once and unwinds with the mutex released.
///
/// Deliberately not `#[killable]`: a kill landing at a checkpoint while the
/// guard is held would unwind through the guard and poison the mutex, as a
/// panic does (the attribute would put a checkpoint after the `let` below,
/// with the guard held; `wait_while` itself runs its predicate shielded).
fn next_job(queue: &Queue) -> u64 {
    let mut jobs = queue
        .ready
        .wait_while(queue.jobs.lock().unwrap(), |jobs| jobs.is_empty())
        .unwrap();
    jobs.pop_front()
        .expect("the wait ends on a non-empty queue")
}

#[killable]
fn worker(
    t0: Instant,
    name: String,
    queue: &Queue,
    results: mpsc::Sender<(u64, u64)>,
    started: mpsc::Sender<()>,
) {
    let mut exit = WorkerExit { t0, name, done: 0 };
    // From here on every way out reports; `main` says "ready" only then.
    let _ = started.send(());
    loop {
        let job = next_job(queue);
        let primes = count_primes(job * 20_000, 20_000);
        exit.done += 1;
        if results.send((job, primes)).is_err() {
            return; // the journal is gone
        }
    }
}

/// Collects results; its cleanup "flushes" them, slowly, on every way out.
struct Journal {
    t0: Instant,
    records: Vec<(u64, u64)>,
}

impl Drop for Journal {
    fn drop(&mut self) {
        say!(
            self.t0,
            "journal: flushing {} records ({FLUSH_TIME:?})...",
            self.records.len()
        );
        std::thread::sleep(FLUSH_TIME); // a slow fsync, say
        say!(self.t0, "journal: flushed");
    }
}

#[killable]
fn journal(t0: Instant, results: mpsc::Receiver<(u64, u64)>) {
    let mut journal = Journal {
        t0,
        records: Vec::new(),
    };
    // A killable wait: `terminate` wakes it at once.
    while let Ok(record) = results.recv() {
        journal.records.push(record);
    }
}

fn shutdown(t0: Instant, handles: Vec<KillableThread<()>>) {
    for info in registry::threads() {
        say!(
            t0,
            "  live: {:<9} {:?}",
            info.name().unwrap_or("?"),
            info.state()
        );
    }
    let reached = registry::terminate_all();
    say!(t0, "terminate_all() reached {reached} threads");
    let late = registry::join_all(JOIN_TIMEOUT);
    if late.is_empty() {
        say!(
            t0,
            "join_all({JOIN_TIMEOUT:?}): every thread finished in time"
        );
    } else {
        say!(
            t0,
            "join_all({JOIN_TIMEOUT:?}): {} thread(s) did not finish in time:",
            late.len()
        );
        for info in &late {
            say!(
                t0,
                "  late: {} ({:?}, running for {:.1?})",
                info.name().unwrap_or("?"),
                info.state(),
                info.started_at().elapsed()
            );
        }
    }
    for h in handles {
        let name = h.thread().name().unwrap_or("?").to_string();
        match h.join() {
            Err(e) if e.is_terminated() => say!(t0, "joined {name}: {e}"),
            other => panic!("{name}: expected a terminated thread, got {other:?}"),
        }
    }
    assert!(registry::threads().is_empty());
    say!(t0, "shutdown complete: no killable thread left");
}

fn main() {
    let t0 = Instant::now();
    let auto_shutdown = Duration::from_millis(
        std::env::var("WORKER_POOL_AUTO_SHUTDOWN_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000),
    );

    let queue = Arc::new(Queue {
        jobs: Mutex::new((0..1000).collect()),
        ready: Condvar::new(),
    });
    let (results_tx, results_rx) = mpsc::channel();

    let mut handles = Vec::new();
    handles.push(
        Builder::new()
            .name("journal".into())
            .spawn(move || journal(t0, results_rx))
            .expect("spawn journal"),
    );
    let (started_tx, started) = mpsc::channel();
    for i in 0..3 {
        let (queue, results) = (queue.clone(), results_tx.clone());
        let started_tx = started_tx.clone();
        let name = format!("worker-{i}");
        handles.push(
            Builder::new()
                .name(name.clone())
                .spawn(move || worker(t0, name, &queue, results, started_tx))
                .expect("spawn worker"),
        );
    }
    drop(results_tx);
    // A kill before a worker's body starts would end it without its
    // cleanup line; the shutdown below is for running workers.
    for _ in 0..3 {
        started.recv().expect("a worker ended before it started");
    }
    queue.ready.notify_all();

    // The handler runs on a thread of the `ctrlc` crate; it only tells the
    // main thread, which does the shutdown.
    let (ctrl_c_tx, ctrl_c_rx) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = ctrl_c_tx.send(());
    })
    .expect("install the Ctrl-C handler");
    say!(
        t0,
        "ready: 3 workers and a journal running; press Ctrl-C to shut down \
         (or wait: the example shuts down by itself in {auto_shutdown:?})"
    );

    match ctrl_c_rx.recv_timeout(auto_shutdown) {
        Ok(()) => say!(t0, "Ctrl-C received: shutting down"),
        Err(_) => say!(
            t0,
            "no Ctrl-C within {auto_shutdown:?}: shutting down by itself, as on Ctrl-C"
        ),
    }
    let left = queue.jobs.lock().unwrap().len();
    shutdown(t0, handles);
    say!(
        t0,
        "{} jobs taken from the queue, {left} left in it",
        1000 - left
    );
}
