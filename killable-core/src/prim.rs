//! The synchronization primitives the runtime is built on, switched to loom's
//! model-checked versions under `--cfg loom`.
//!
//! Only the cross-thread protocol (the state in [`crate::state`]) goes through
//! here; thread-locals, unwinding and the timer thread stay on `std`, because
//! loom cannot model them and the loom tests drive the protocol directly.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(loom)]
pub(crate) use loom::thread::{park, Thread, ThreadId};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU32};
#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::thread::{park, Thread, ThreadId};

/// The calling thread's id.
#[cfg(not(loom))]
pub(crate) fn current_thread_id() -> ThreadId {
    std::thread::current().id()
}
#[cfg(loom)]
pub(crate) fn current_thread_id() -> ThreadId {
    loom::thread::current().id()
}

/// Parks until unparked or until `timeout` has passed. Loom has no timed
/// park, so under loom this is a plain park (the models never time out).
#[cfg(not(loom))]
pub(crate) fn park_timeout(timeout: std::time::Duration) {
    std::thread::park_timeout(timeout);
}
#[cfg(loom)]
pub(crate) fn park_timeout(_timeout: std::time::Duration) {
    loom::thread::park();
}

/// Locks an internal mutex. No user code ever runs while one of these is
/// held, so poisoning can only come from a bug in this crate or an abort-free
/// allocation failure; either way the protected data is still consistent
/// (every critical section is written to leave it so), so poisoning is ignored
/// rather than turned into a panic in library code.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// A process-wide unique id: registry keys, timer keys, cancel scopes and
/// channel tickets. Relaxed: only uniqueness is asked of it, which the
/// atomic read-modify-write gives at any ordering.
#[cfg(not(loom))]
pub(crate) fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
