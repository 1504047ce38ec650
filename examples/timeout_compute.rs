//! A CPU-heavy search bounded by a deadline, on the main thread.
//!
//! `search` looks for a nonce whose hash starts with a given number of zero
//! bits: 20 bits takes about a million tries, 64 bits practically
//! forever. It is plain code with no flag and no polling; `#[killable]` puts
//! a checkpoint at the head of its loop, so `with_timeout` can end it. The
//! main thread is not a killable thread: inside `with_timeout` it becomes
//! killable by that scope's own deadline, and only for the scope's duration.
//! When the deadline lands, the search unwinds and its `Progress` guard is
//! dropped on the way out, exactly as on a normal return.
//!
//! Run: `cargo run --example timeout_compute`

use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use killable::{killable, with_timeout, TimedOut};

/// Reports how much work was done when the search ends, by any path: the
/// cleanup that must run whether the search finished or was cut short.
struct Progress {
    zero_bits: u32,
    tried: u64,
    started: Instant,
}

impl Drop for Progress {
    fn drop(&mut self) {
        let how = if std::thread::panicking() {
            "unwinding"
        } else {
            "returning"
        };
        println!(
            "  cleanup: search for {} zero bits dropped its state while {how}, after {} candidates in {:.1?}",
            self.zero_bits,
            self.tried,
            self.started.elapsed()
        );
    }
}

fn hash(nonce: u64) -> u64 {
    // `DefaultHasher::new()` always has the same keys: deterministic, and
    // slow enough (SipHash) to be honest work.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    ("killable", nonce).hash(&mut h);
    h.finish()
}

/// The first nonce whose hash has `zero_bits` leading zero bits.
#[killable]
fn search(zero_bits: u32) -> u64 {
    let mut progress = Progress {
        zero_bits,
        tried: 0,
        started: Instant::now(),
    };
    let mut nonce = 0u64;
    loop {
        // `#[killable]` inserted a checkpoint here: one load and a branch.
        progress.tried += 1;
        if hash(nonce).leading_zeros() >= zero_bits {
            return nonce;
        }
        nonce += 1;
    }
}

fn run(zero_bits: u32, budget: Duration) -> Result<u64, TimedOut> {
    println!("search for {zero_bits} leading zero bits, budget {budget:?}:");
    let started = Instant::now();
    let result = with_timeout(budget, || search(zero_bits));
    let took = started.elapsed();
    match result {
        Ok(nonce) => println!(
            "  Ok: nonce {nonce} (hash {:#018x}) found in {took:.1?}",
            hash(nonce)
        ),
        Err(TimedOut) => println!(
            "  Err(TimedOut): gave up after {took:.1?} (deadline {budget:?}, landed {:.1?} after it)",
            took.saturating_sub(budget)
        ),
    }
    result
}

fn main() {
    // Feasible: about 2^20 tries, well within the budget.
    let found = run(20, Duration::from_secs(10));
    assert!(found.is_ok());

    // Hopeless: 2^64 tries. The deadline ends it.
    let hopeless = run(64, Duration::from_millis(300));
    assert_eq!(hopeless, Err(TimedOut));

    // The main thread is back to normal: no kill pending, nothing killable.
    let again = run(8, Duration::from_secs(10));
    assert!(again.is_ok());
    println!("done: both outcomes shown, cleanup ran each time");
}
