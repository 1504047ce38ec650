//! Dropping or aborting the async side stops `spawn_blocking` work: the
//! scenario of tokio #4853 (`JoinHandle::abort` cannot stop blocking work).
//!
//! The async task holds the token's drop guard and awaits
//! `spawn_blocking(move || token.run(work))`. When the task is dropped (a
//! `tokio::time::timeout`, an abort), the guard cancels the token and the
//! blocking work unwinds at its next checkpoint, on tokio's own blocking
//! thread: no extra thread per task. Bounds are generous: a shared 2-core
//! machine.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use killable::{killable, CancelToken, Cancelled};

const BOUND: Duration = Duration::from_secs(10);

#[killable]
fn spin_forever() -> ! {
    loop {
        std::hint::black_box(0);
    }
}

/// Reports, when dropped, that the blocking work has stopped, and when.
struct Stopped(mpsc::Sender<Instant>);
impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.send(Instant::now());
    }
}

/// The pattern: blocking work that stops when this future is dropped.
async fn run_blocking<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, Cancelled> {
    let token = CancelToken::new();
    let guard = token.clone().drop_guard();
    let r = tokio::task::spawn_blocking(move || token.run(work)).await;
    guard.disarm();
    r.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

fn runtime(blocking_threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(blocking_threads)
        .thread_name("cancel-tokio-test")
        .enable_time()
        .build()
        .unwrap()
}

#[test]
fn a_timeout_around_the_task_stops_the_blocking_work_within_milliseconds() {
    // One blocking thread: each round's work must have stopped and freed it
    // for the next round to run at all.
    let rt = runtime(1);
    for round in 0..3 {
        let (tx, stopped) = mpsc::channel();
        let on_blocking_pool = Arc::new(AtomicBool::new(false));
        let seen = on_blocking_pool.clone();
        let work = run_blocking(move || {
            let _stopped = Stopped(tx);
            let name = std::thread::current().name().map(str::to_owned);
            seen.store(name.as_deref() == Some("cancel-tokio-test"), SeqCst);
            spin_forever()
        });
        let r = rt.block_on(async { tokio::time::timeout(Duration::from_millis(50), work).await });
        let timed_out = Instant::now();
        assert!(r.is_err(), "round {round}: the timeout fired");
        let at = stopped
            .recv_timeout(BOUND)
            .expect("the blocking work stopped");
        let latency = at.saturating_duration_since(timed_out);
        eprintln!("round {round}: blocking work stopped {latency:?} after the timeout");
        assert!(latency < BOUND);
        assert!(
            on_blocking_pool.load(SeqCst),
            "ran on tokio's blocking thread"
        );
    }
    // The same runtime runs later blocking work normally.
    let r = rt.block_on(run_blocking(|| killable::with_timeout(BOUND, || 6 * 7)));
    assert_eq!(r, Ok(Ok(42)));
    assert!(
        killable::registry::threads().is_empty(),
        "no killable thread was spawned"
    );
}

#[test]
fn aborting_the_task_stops_the_blocking_work() {
    let rt = runtime(1);
    let (tx, stopped) = mpsc::channel();
    let (started_tx, started) = mpsc::channel();
    let task = rt.spawn(run_blocking(move || {
        let _stopped = Stopped(tx);
        started_tx.send(()).unwrap();
        killable::sleep(Duration::from_secs(3600)) // a killable wait wakes too
    }));
    started.recv_timeout(BOUND).unwrap();
    task.abort();
    let aborted = Instant::now();
    let at = stopped
        .recv_timeout(BOUND)
        .expect("the blocking work stopped");
    assert!(at.saturating_duration_since(aborted) < BOUND);
    assert!(rt.block_on(task).unwrap_err().is_cancelled());
    // And the one blocking thread is free again.
    assert_eq!(rt.block_on(run_blocking(|| 1)), Ok(1));
}

#[test]
fn work_that_finishes_is_not_cancelled() {
    let rt = runtime(2);
    let r = rt.block_on(async {
        tokio::time::timeout(BOUND, run_blocking(|| (0..1000u64).sum::<u64>())).await
    });
    assert_eq!(r.unwrap(), Ok(499_500));
}
