//! Cancelling a rayon `par_iter` mid-item with a `CancelToken`, and using
//! the same pool afterwards.
//!
//! 64 items of about 200 ms of CPU work each run on a dedicated 2-thread
//! pool (about 6.4 s in all). Another thread cancels the token after 100 ms:
//! the items in flight unwind at their next checkpoint, mid-item, and every
//! item not yet started returns `Err(Cancelled)` at once, so the whole
//! `par_iter` ends within milliseconds of the cancel. Then a second
//! `par_iter` on the same pool computes every item: no pool thread was
//! poisoned or left with a kill pending.
//!
//! The work is ordinary code with `#[killable]` on it: no flag is threaded
//! through it.
//!
//! Run: `cargo run --example cancel_rayon`

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use killable::{killable, CancelToken, Cancelled};
use rayon::prelude::*;

/// About `d` of CPU work on `seed`; a checkpoint at every loop head.
#[killable]
fn crunch(seed: u64, d: Duration) -> u64 {
    let start = Instant::now();
    let mut x = seed;
    while start.elapsed() < d {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
    }
    std::hint::black_box(x);
    seed * 2
}

fn main() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("build the pool");
    let token = CancelToken::new();
    let (started, finished) = (AtomicUsize::new(0), AtomicUsize::new(0));

    let canceller = {
        let token = token.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            token.cancel();
        })
    };
    let at = Instant::now();
    let results: Vec<Result<u64, Cancelled>> = pool.install(|| {
        (0..64u64)
            .into_par_iter()
            .map(|i| {
                token.run(|| {
                    started.fetch_add(1, Relaxed);
                    let r = crunch(i, Duration::from_millis(200));
                    finished.fetch_add(1, Relaxed);
                    r
                })
            })
            .collect()
    });
    canceller.join().unwrap();
    let cancelled = results.iter().filter(|r| r.is_err()).count();
    println!(
        "cancelled par_iter returned after {:?} (about 6.4 s uncancelled)",
        at.elapsed()
    );
    println!(
        "{} items started, {} of them stopped mid-item, {} cancelled in all",
        started.load(Relaxed),
        started.load(Relaxed) - finished.load(Relaxed),
        cancelled
    );

    let at = Instant::now();
    let again: Vec<u64> = pool.install(|| {
        (0..64u64)
            .into_par_iter()
            .map(|i| crunch(i, Duration::from_micros(100)))
            .collect()
    });
    let correct = again.iter().enumerate().all(|(i, v)| *v == i as u64 * 2);
    println!(
        "second par_iter on the same pool: {} items, correct = {correct}, in {:?}",
        again.len(),
        at.elapsed()
    );
    assert!(correct);
}
