//! Figure (h): cancel tokens. What entering and leaving `CancelToken::run`
//! costs next to a `with_timeout` scope, and how long a `cancel()` takes to
//! unwind every thread running under the token.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use killable::{killable, with_timeout, CancelToken, KillableThread};

use crate::stats::{fmt_ns, median, now_ns, percentile, thread_cpu_time, Table};

/// Median thread-CPU seconds per call of `run` and of `with_timeout`, each
/// around a trivial closure, over `reps` interleaved batches of `n` calls.
fn per_call(reps: usize, n: usize) -> (f64, f64) {
    let token = CancelToken::new();
    let (mut run, mut scope) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let t = thread_cpu_time();
        for i in 0..n {
            black_box(token.run(|| black_box(i)).expect("not cancelled"));
        }
        run.push((thread_cpu_time() - t) / n as f64);
        let t = thread_cpu_time();
        for i in 0..n {
            let r = with_timeout(Duration::from_secs(10), || black_box(i));
            black_box(r.expect("no timeout"));
        }
        scope.push((thread_cpu_time() - t) / n as f64);
    }
    (median(&run), median(&scope))
}

/// Records, in the first destructor of the unwind, when the cancel landed.
struct Stopped<'a>(&'a AtomicU64);

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.fetch_max(now_ns(), SeqCst);
        }
    }
}

#[killable]
fn spin(started: &AtomicUsize, stopped: &AtomicU64) -> u64 {
    let _s = Stopped(stopped);
    started.fetch_add(1, SeqCst);
    let mut x = 1u64;
    loop {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        if x == 0 {
            return x;
        }
    }
}

/// Nanoseconds from `cancel()` to the last of `n` spinning threads
/// unwinding, over `rounds` rounds.
fn cancel_latency(n: usize, rounds: usize) -> Vec<f64> {
    let mut lat = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let token = CancelToken::new();
        let started = Arc::new(AtomicUsize::new(0));
        let stopped = Arc::new(AtomicU64::new(0));
        let workers: Vec<_> = (0..n)
            .map(|_| {
                let (token, started, stopped) = (token.clone(), started.clone(), stopped.clone());
                std::thread::spawn(move || token.run(|| spin(&started, &stopped)))
            })
            .collect();
        while started.load(SeqCst) < n {
            std::thread::yield_now();
        }
        let at = now_ns();
        token.cancel();
        for w in workers {
            assert!(w.join().expect("worker").is_err());
        }
        lat.push(stopped.load(SeqCst).saturating_sub(at) as f64);
    }
    lat
}

pub fn run(table: &mut Table) {
    let (reps, n) = (15, 20_000);
    per_call(2, n);
    let (run_plain, scope_plain) = per_call(reps, n);
    let (run_killable, scope_killable) = KillableThread::spawn(move || {
        per_call(2, n);
        per_call(reps, n)
    })
    .join()
    .expect("bench thread");
    for (kind, run, scope) in [
        ("plain", run_plain, scope_plain),
        ("killable", run_killable, scope_killable),
    ] {
        table.check(
            format!("token.run(trivial) per call, {kind} thread"),
            format!(
                "{} (with_timeout: {}, {:.2}x)",
                fmt_ns(run * 1e9),
                fmt_ns(scope * 1e9),
                run / scope
            ),
            "≤ with_timeout",
            run <= scope,
        );
    }
    let cores = crate::stats::cores();
    for threads in [1, 2, 8] {
        let lat = cancel_latency(threads, 100);
        table.info(
            format!("cancel() → last of {threads} spinning threads unwound"),
            format!(
                "p50 {} / p99 {}",
                fmt_ns(percentile(&lat, 50.0)),
                fmt_ns(percentile(&lat, 99.0))
            ),
            if threads > cores {
                "more threads than cores: includes time-slicing"
            } else {
                ""
            },
        );
    }
}
