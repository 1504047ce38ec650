//! Helpers shared by the integration tests (`mod support;` in a test file).
// Each test file uses some of them, never all.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use killable::registry::{self, RunState, ThreadInfo};
use killable::{JoinError, KillableThread};

/// How long a test waits for what should happen at once before it fails:
/// generous, for a shared and noisy machine. Never a speed target.
pub const BOUND: Duration = Duration::from_secs(10);

/// The registry's view of the live killable thread `id`.
///
/// # Panics
///
/// If `id` is not a live killable thread.
pub fn find_thread(id: ThreadId) -> ThreadInfo {
    registry::info(id).expect("a live killable thread is listed")
}

/// Waits (at most [`BOUND`]) until the registry shows thread `id` blocked in
/// a killable wait. For a sender, that means it has queued itself; the
/// thread may not have parked yet.
pub fn wait_until_blocked(id: ThreadId) {
    let start = Instant::now();
    while registry::info(id).map(|i| i.state()) != Some(RunState::Blocked) {
        assert!(start.elapsed() < BOUND, "thread never blocked");
        std::thread::yield_now();
    }
}

/// Runs `body` in a fresh child process of this test binary running only the
/// test `name`, under a watchdog of `watchdog`, and fails if the child
/// aborts, hangs, fails, or leaves a killable thread registered (it waits up
/// to `bound` for the registry to empty). For tests whose failure may be an
/// abort of the whole process.
pub fn isolated(name: &str, bound: Duration, watchdog: Duration, body: impl FnOnce()) {
    const CHILD: &str = "KILLABLE_ISOLATED_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let label = name.to_string();
        std::thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < watchdog {
                if d.load(SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            eprintln!("{label}: HANG (watchdog fired after {watchdog:?})");
            std::process::exit(3);
        });
        body();
        let deadline = Instant::now() + bound;
        while !registry::threads().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let left = registry::threads();
        done.store(true, SeqCst);
        assert!(left.is_empty(), "{name}: registry leak: {left:?}");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            name,
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "--include-ignored",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name}: child failed: {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}

/// Joins `t`, failing if that takes longer than `bound`.
pub fn join_within<T>(t: KillableThread<T>, bound: Duration) -> Result<T, JoinError> {
    match t.join_timeout(bound) {
        Ok(r) => r,
        Err(_) => panic!("join did not end within {bound:?}"),
    }
}
