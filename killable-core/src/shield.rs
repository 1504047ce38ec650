//! Masking: sections of code no kill may interrupt.

use crate::local;

/// Runs `f` with kill delivery deferred: no checkpoint inside `f` unwinds,
/// and killable waits inside it wait on without waking for kills.
///
/// A kill that arrives meanwhile stays pending and lands at the first
/// checkpoint after the shield (the attribute puts one right after the
/// statement that calls `shield`). Shields nest; delivery resumes when the
/// outermost one ends. `shield` itself is not a checkpoint, so its return
/// value always reaches the caller.
///
/// Use it around updates that must not be left half-done: a kill inside
/// would otherwise unwind out of the middle of them.
///
/// # Examples
///
/// ```
/// use killable::{killable, shield, KillableThread};
/// use std::sync::{Arc, Mutex};
///
/// #[killable]
/// fn transfer(accounts: &Mutex<[i64; 2]>, amount: i64) {
///     shield(|| {
///         let mut a = accounts.lock().unwrap();
///         a[0] -= amount;
///         killable::checkpoint(); // shielded: does not unwind
///         a[1] += amount;
///     });
/// }
///
/// let accounts = Arc::new(Mutex::new([100, 0]));
/// let acc = accounts.clone();
/// let t = KillableThread::spawn(move || loop { transfer(&acc, 1) });
/// t.terminate();
/// assert!(t.join().unwrap_err().is_terminated());
/// let a = *accounts.lock().unwrap(); // never poisoned: kills land outside the shield
/// assert_eq!(a[0] + a[1], 100);
/// ```
pub fn shield<R>(f: impl FnOnce() -> R) -> R {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            local::leave_shield();
        }
    }
    local::enter_shield();
    let _leave = Leave;
    f()
}

/// Whether the current thread is inside a [`shield`].
///
/// # Examples
///
/// ```
/// assert!(!killable::is_shielded());
/// killable::shield(|| assert!(killable::is_shielded()));
/// ```
pub fn is_shielded() -> bool {
    local::shield_depth() > 0
}
