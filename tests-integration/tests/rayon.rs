//! `#[killable]` code in rayon jobs: what a deadline reaches, and the
//! pattern that works.
//!
//! * A `with_timeout` scope belongs to the thread that opened it. Around a
//!   parallel call (`pool.install`, `par_iter`), it covers the calling thread
//!   only: the jobs run on the pool's threads, which are not killable, so
//!   their checkpoints do nothing and they run to completion; the caller is
//!   blocked in rayon's own wait, which is not a killable wait. The scope
//!   then returns `Ok`, late (a deadline only acts at a checkpoint inside
//!   it). The same holds for a killable thread terminated while it waits for
//!   a parallel call: the kill lands at its first checkpoint after the call
//!   returns.
//! * The pattern that works: open the scope inside each job
//!   (`with_timeout(d, || job())` in the closure given to rayon). The pool
//!   thread is killable for that scope only, by that deadline only; the
//!   expired job unwinds to its scope, its destructors run, it yields
//!   `Err(TimedOut)`, and the pool thread goes on with its next job.
//!   Share one `Instant` and use `with_deadline` for a deadline on the
//!   whole parallel operation.
//! * Keep such a scope around code that does not itself call into rayon
//!   (`join`, `scope`, nested `par_iter`): while a pool thread waits inside
//!   one of those, it runs other, unrelated jobs, and they would run inside
//!   your scope; an expiry then unwinds through a job that is not yours.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use killable::{killable, with_deadline, with_timeout, KillableThread, TimedOut};
use rayon::prelude::*;

/// Plain killable work: `rounds` rounds of about a millisecond each, or
/// forever with `u64::MAX`. Counts the rounds done in `progress`.
#[killable]
fn work(rounds: u64, progress: &AtomicU64) -> u64 {
    let mut acc = 0u64;
    for _ in 0..rounds {
        let until = Instant::now() + Duration::from_millis(1);
        while Instant::now() < until {
            acc = acc.wrapping_add(1);
        }
        progress.fetch_add(1, Relaxed);
    }
    acc
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

#[test]
fn a_scope_around_a_parallel_call_does_not_reach_the_pool_threads() {
    let pool = pool(2);
    let progress = AtomicU64::new(0);
    let start = Instant::now();
    let r = with_timeout(Duration::from_millis(20), || {
        pool.install(|| {
            (0..4u64)
                .into_par_iter()
                .map(|_| work(100, &progress))
                .count()
        })
    });
    // Every job ran to the end, well past the deadline, and the scope
    // reports `Ok`: nothing on its own thread passed a checkpoint late.
    assert_eq!(r, Ok(4));
    assert_eq!(progress.load(Relaxed), 400);
    assert!(start.elapsed() >= Duration::from_millis(100));
}

#[test]
fn with_timeout_inside_each_job_bounds_it_and_the_pool_thread_survives() {
    let pool = pool(1); // one thread: every job runs on it, in turn
    let progress = AtomicU64::new(0);
    let rounds = [u64::MAX, 3, u64::MAX, 2];
    let results: Vec<(Result<u64, TimedOut>, ThreadId)> = pool.install(|| {
        rounds
            .par_iter()
            .map(|&n| {
                let r = with_timeout(Duration::from_millis(200), || work(n, &progress));
                (r, std::thread::current().id())
            })
            .collect()
    });
    let outcomes: Vec<bool> = results.iter().map(|(r, _)| r.is_ok()).collect();
    assert_eq!(outcomes, [false, true, false, true]);
    assert_eq!(results[0].0, Err(TimedOut));
    // One pool thread ran them all: it survived two expired jobs.
    let pool_thread = results[0].1;
    assert!(results.iter().all(|(_, id)| *id == pool_thread));
    assert_ne!(pool_thread, std::thread::current().id());
    // And it is not killable outside the scopes: plain jobs run as usual.
    let after = pool.install(|| {
        let p = AtomicU64::new(0);
        work(5, &p);
        p.load(Relaxed)
    });
    assert_eq!(after, 5);
}

#[test]
fn one_deadline_for_a_whole_parallel_operation() {
    let pool = pool(2);
    let progress = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_millis(40);
    let start = Instant::now();
    let results: Vec<Result<u64, TimedOut>> = pool.install(|| {
        (0..6)
            .into_par_iter()
            .map(|_| with_deadline(deadline, || work(u64::MAX, &progress)))
            .collect()
    });
    assert!(results.iter().all(|r| *r == Err(TimedOut)));
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_killable_thread_waiting_on_rayon_is_killed_when_the_call_returns() {
    let pool = Arc::new(pool(1));
    let progress = Arc::new(AtomicU64::new(0));
    let (p, pr) = (pool.clone(), progress.clone());
    let t = KillableThread::spawn(move || {
        let n = p.install(|| work(150, &pr));
        killable::checkpoint(); // where the kill lands, after the call
        n
    });
    while progress.load(Relaxed) == 0 {
        std::thread::yield_now();
    }
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
    // The job on the pool thread was not interrupted.
    assert_eq!(progress.load(Relaxed), 150);
}
