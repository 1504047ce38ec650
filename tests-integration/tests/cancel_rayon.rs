//! A cancel token stops a rayon `par_iter` mid-item, and the pool stays
//! healthy: the scenario of rayon #1014 ("Killing ongoing rayon task").
//!
//! Each item runs inside `token.run`. A cancel unwinds the items in flight
//! at their next checkpoint; the items not yet started return
//! `Err(Cancelled)` without running, so the whole `par_iter` ends at once.
//! Bounds are generous: a shared 2-core machine.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use killable::{killable, CancelToken, Cancelled};
use rayon::prelude::*;

const ITEMS: usize = 64;
const ITEM_TIME: Duration = Duration::from_millis(200);
const THREADS: usize = 2;

/// About `d` of CPU-bound killable work; returns a value that depends on
/// `seed` only, so a result can be checked.
#[killable]
fn work(seed: u64, d: Duration) -> u64 {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::black_box(seed);
    }
    seed * 3 + 1
}

fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .build()
        .unwrap()
}

#[test]
fn a_cancel_stops_a_par_iter_mid_item_and_the_pool_runs_later_work() {
    let pool = pool();
    let token = CancelToken::new();
    let started = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);

    let canceller = {
        let token = token.clone();
        std::thread::spawn(move || {
            std::thread::sleep(ITEM_TIME / 2);
            token.cancel();
        })
    };
    let at = Instant::now();
    let results: Vec<Result<u64, Cancelled>> = pool.install(|| {
        (0..ITEMS as u64)
            .into_par_iter()
            .map(|i| {
                token.run(|| {
                    started.fetch_add(1, SeqCst);
                    let r = work(i, ITEM_TIME);
                    finished.fetch_add(1, SeqCst);
                    r
                })
            })
            .collect()
    });
    let took = at.elapsed();
    canceller.join().unwrap();

    let uncancelled = ITEM_TIME * (ITEMS / THREADS) as u32;
    eprintln!(
        "cancelled par_iter: {took:?} (uncancelled ≈ {uncancelled:?}); \
         {} items started, {} finished",
        started.load(SeqCst),
        finished.load(SeqCst)
    );
    // The cancel came 100 ms into a 200 ms first round: on this noisy
    // machine the first items may have finished, but the ones in flight at
    // the cancel were stopped mid-item, and nothing started later.
    assert!(took < uncancelled / 4, "took {took:?}");
    assert_eq!(results.len(), ITEMS);
    let cancelled = results.iter().filter(|r| r.is_err()).count();
    assert!(cancelled >= ITEMS - 2 * THREADS, "{cancelled} cancelled");
    let stopped_mid_item = started.load(SeqCst) - finished.load(SeqCst);
    assert!(stopped_mid_item >= 1, "no item was stopped mid-processing");
    assert!(started.load(SeqCst) < ITEMS / 2);
    for (i, r) in results.iter().enumerate() {
        if let Ok(v) = r {
            assert_eq!(*v, i as u64 * 3 + 1);
        }
    }

    // The same pool: a second par_iter, under a fresh token and under none,
    // computes every item, so no pool thread has a kill left pending.
    let fresh = CancelToken::new();
    let again: Vec<Result<u64, Cancelled>> = pool.install(|| {
        (0..ITEMS as u64)
            .into_par_iter()
            .map(|i| fresh.run(|| work(i, Duration::from_micros(200))))
            .collect()
    });
    let want: Vec<Result<u64, Cancelled>> = (0..ITEMS as u64).map(|i| Ok(i * 3 + 1)).collect();
    assert_eq!(again, want);
    let plain: Vec<u64> = pool.install(|| {
        (0..ITEMS as u64)
            .into_par_iter()
            .map(|i| work(i, Duration::from_micros(200)))
            .collect()
    });
    assert_eq!(
        plain,
        (0..ITEMS as u64).map(|i| i * 3 + 1).collect::<Vec<_>>()
    );
}

#[test]
fn a_token_cancels_the_items_of_one_par_iter_and_not_another_on_the_same_pool() {
    // Two independent jobs share one pool; cancelling one job's token
    // leaves the other's items untouched.
    let pool = Arc::new(pool());
    let (doomed, kept) = (CancelToken::new(), CancelToken::new());
    let spin = Duration::from_millis(20);

    let other = {
        let (pool, kept) = (pool.clone(), kept.clone());
        std::thread::spawn(move || {
            pool.install(|| {
                (0..16u64)
                    .into_par_iter()
                    .map(|i| kept.run(|| work(i, spin)))
                    .collect::<Vec<_>>()
            })
        })
    };
    let canceller = {
        let doomed = doomed.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            doomed.cancel();
        })
    };
    let first: Vec<_> = pool.install(|| {
        (0..64u64)
            .into_par_iter()
            .map(|i| doomed.run(|| work(i, spin)))
            .collect()
    });
    canceller.join().unwrap();
    assert!(first.iter().any(|r| r.is_err()));
    let second = other.join().unwrap();
    assert_eq!(
        second,
        (0..16u64).map(|i| Ok(i * 3 + 1)).collect::<Vec<_>>()
    );
}
