//! Helpers shared by the integration tests (`mod support;` in a test file).
// Each test file uses some of them, never all.
#![allow(dead_code)]

use std::thread::ThreadId;
use std::time::{Duration, Instant};

use killable::registry::{self, RunState, ThreadInfo};

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
