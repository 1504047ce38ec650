//! Figure (f): the cost of a `with_timeout` scope around a trivial closure.

use std::hint::black_box;
use std::time::Duration;

use killable::{with_timeout, KillableThread};

use crate::stats::{fmt_ns, median, thread_cpu_time, Table};

/// Median thread-CPU seconds per call over `reps` batches of `n` calls (CPU
/// time: the time the thread spent descheduled is not the call's cost).
fn per_call(reps: usize, n: usize) -> f64 {
    let mut v = Vec::new();
    for _ in 0..reps {
        let t = thread_cpu_time();
        for i in 0..n {
            let r = with_timeout(Duration::from_secs(10), || black_box(i));
            black_box(r.expect("no timeout"));
        }
        v.push((thread_cpu_time() - t) / n as f64);
    }
    median(&v)
}

pub fn run(table: &mut Table) {
    let (reps, n) = (15, 20_000);
    per_call(2, n);
    let plain_thread = per_call(reps, n);
    let killable_thread = KillableThread::spawn(move || {
        per_call(2, n);
        per_call(reps, n)
    })
    .join()
    .expect("bench thread");
    table.check(
        "with_timeout(10 s, trivial) per call, plain thread",
        fmt_ns(plain_thread * 1e9),
        "< 1 µs",
        plain_thread < 1e-6,
    );
    table.check(
        "with_timeout(10 s, trivial) per call, killable thread",
        fmt_ns(killable_thread * 1e9),
        "< 1 µs",
        killable_thread < 1e-6,
    );
}
