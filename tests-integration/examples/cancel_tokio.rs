//! Stopping `spawn_blocking` work when the async side gives up, with a
//! `CancelToken`: what tokio's `JoinHandle::abort` cannot do.
//!
//! The async function holds the token's drop guard while it awaits
//! `spawn_blocking(move || token.run(work))`. When its future is dropped
//! (here by `tokio::time::timeout`; an abort or a `select!` does the same),
//! the guard cancels the token, and the blocking work unwinds at its next
//! checkpoint on tokio's own blocking thread, which goes back to the pool.
//! No extra thread per task.
//!
//! Run: `cargo run --example cancel_tokio`

use std::sync::mpsc;
use std::time::{Duration, Instant};

use killable::{killable, CancelToken, Cancelled};

/// Blocking, CPU-bound work that never ends on its own.
#[killable]
fn search_forever(report: mpsc::Sender<Instant>) -> u64 {
    struct Stopped(mpsc::Sender<Instant>);
    impl Drop for Stopped {
        fn drop(&mut self) {
            let _ = self.0.send(Instant::now());
        }
    }
    let _stopped = Stopped(report);
    let mut n = 0u64;
    loop {
        n = n.wrapping_add(1);
        std::hint::black_box(n);
    }
}

/// Runs `work` on tokio's blocking pool; dropping this future stops it.
async fn run_blocking<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, Cancelled> {
    let token = CancelToken::new();
    let guard = token.clone().drop_guard();
    let r = tokio::task::spawn_blocking(move || token.run(work)).await;
    guard.disarm(); // finished: nothing to cancel
    r.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .enable_time()
        .build()
        .expect("build the runtime");
    let (report, stopped) = mpsc::channel();
    let r = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_millis(50),
            run_blocking(move || search_forever(report)),
        )
        .await
    });
    let timed_out = Instant::now();
    println!("timeout fired: {}", r.is_err());
    let at = stopped
        .recv_timeout(Duration::from_secs(10))
        .expect("the blocking work stopped");
    println!(
        "blocking work stopped {:?} after the timeout",
        at.saturating_duration_since(timed_out)
    );
    // The one blocking thread is free: later work runs normally.
    let sum = rt.block_on(run_blocking(|| (1..=100u64).sum::<u64>()));
    println!("next blocking job on the same runtime: {sum:?}");
}
