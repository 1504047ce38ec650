//! Test support: a termination delivered at the k-th checkpoint of the
//! current thread, for sweeping every point where a kill can land.
//!
//! Not public API: reached as `killable::__private::testing`, with no semver
//! guarantees. The fast path of [`checkpoint`](crate::checkpoint) does not
//! know about it: while a kill point is armed it keeps `PENDING_THREADS`
//! non-zero, so every checkpoint in the process takes the slow path, and the
//! slow path counts (one thread-local read when nothing is armed on this
//! thread).

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::Ordering::SeqCst;

use crate::local;
use crate::state::{Inner, PENDING_THREADS};

thread_local! {
    /// Checkpoints left until the armed kill point fires; 0 when disarmed.
    /// A `const` slot without a destructor, as in `local`, so checkpoints in
    /// thread-local destructors can still read it.
    static REMAINING: Cell<u64> = const { Cell::new(0) };
}

/// Arms a termination of the current thread at its `k`-th checkpoint from
/// now (`k = 1`: the next one).
///
/// Every [`checkpoint`](crate::checkpoint) the thread passes counts, shielded
/// ones included; at the `k`-th the thread is terminated exactly as by
/// [`Killer::terminate`](crate::Killer::terminate), so the kill lands there,
/// or, inside a shield or during an unwind, at the first checkpoint where a
/// real kill would. Killable waits that do not pass through `checkpoint()`
/// do not count. The kill point is disarmed when it fires or when the
/// returned guard is dropped, whichever comes first; arming again replaces
/// the previous count.
///
/// # Panics
///
/// If `k` is 0, or the current thread is not killable (not spawned by this
/// crate, and not inside a `with_timeout`).
///
/// # Examples
///
/// ```
/// use killable::__private::testing::terminate_at_checkpoint;
/// use killable::{checkpoint, KillableThread};
///
/// let t = KillableThread::spawn(|| {
///     let _kp = terminate_at_checkpoint(3);
///     let mut passed = 0;
///     loop {
///         checkpoint(); // the third one unwinds
///         passed += 1;
///         assert!(passed < 3);
///     }
/// });
/// assert!(t.join().unwrap_err().is_terminated());
/// ```
pub fn terminate_at_checkpoint(k: u64) -> KillPoint {
    assert!(k > 0, "killable: terminate_at_checkpoint counts from 1");
    assert!(
        local::current_arc().is_some(),
        "killable: terminate_at_checkpoint needs a killable thread"
    );
    if REMAINING.with(|r| r.replace(k)) == 0 {
        PENDING_THREADS.fetch_add(1, SeqCst);
    }
    KillPoint {
        _not_send: PhantomData,
    }
}

/// The armed kill point of [`terminate_at_checkpoint`]; dropping it disarms
/// the kill point if it has not fired.
///
/// # Examples
///
/// ```
/// use killable::__private::testing::terminate_at_checkpoint;
///
/// let t = killable::KillableThread::spawn(|| {
///     let kp = terminate_at_checkpoint(1_000);
///     killable::checkpoint();
///     assert!(!kp.fired());
///     drop(kp); // disarmed: no kill later
///     for _ in 0..2_000 {
///         killable::checkpoint();
///     }
/// });
/// t.join().unwrap();
/// ```
#[derive(Debug)]
#[must_use = "dropping the guard disarms the kill point"]
pub struct KillPoint {
    _not_send: PhantomData<*const ()>,
}

impl KillPoint {
    /// Whether the kill point has fired (the thread was terminated by it).
    ///
    /// # Examples
    ///
    /// ```
    /// use killable::__private::testing::terminate_at_checkpoint;
    ///
    /// let t = killable::KillableThread::spawn(|| {
    ///     let kp = terminate_at_checkpoint(1);
    ///     let before = kp.fired();
    ///     let unwound = std::panic::catch_unwind(|| killable::checkpoint()).is_err();
    ///     (before, unwound, kp.fired())
    /// });
    /// assert_eq!(t.join().unwrap(), (false, true, true));
    /// ```
    pub fn fired(&self) -> bool {
        REMAINING.with(Cell::get) == 0
    }
}

impl Drop for KillPoint {
    fn drop(&mut self) {
        disarm();
    }
}

/// Disarms this thread's kill point; returns whether one was armed.
fn disarm() -> bool {
    if REMAINING.with(|r| r.replace(0)) != 0 {
        PENDING_THREADS.fetch_sub(1, SeqCst);
        true
    } else {
        false
    }
}

/// Counts a checkpoint on the slow path; terminates `inner` (the current
/// thread's state) if this is the armed one.
#[inline]
pub(crate) fn on_checkpoint(inner: Option<&Inner>) {
    let left = REMAINING.with(Cell::get);
    if left == 0 {
        return;
    }
    if left > 1 {
        REMAINING.with(|r| r.set(left - 1));
        return;
    }
    // Terminate first, then give back the count, so `PENDING_THREADS` never
    // drops to zero in between (a checkpoint elsewhere would not care, but
    // the invariant is simpler to state).
    if let Some(inner) = inner {
        inner.terminate();
    }
    disarm();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{checkpoint, shield, KillableThread};
    use std::sync::atomic::Ordering::Relaxed;

    /// Runs `body` on a killable thread armed at `k`; returns how many
    /// checkpoints it passed before the kill, and whether it was killed.
    fn run(k: u64, body: fn(&Cell<u32>)) -> (u32, bool) {
        let t = KillableThread::spawn(move || {
            let passed = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
            let p = passed.clone();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                let _kp = terminate_at_checkpoint(k);
                let c = Cell::new(0);
                struct Out<'a>(&'a Cell<u32>, std::sync::Arc<std::sync::atomic::AtomicU32>);
                impl Drop for Out<'_> {
                    fn drop(&mut self) {
                        self.1.store(self.0.get(), Relaxed);
                    }
                }
                let _out = Out(&c, p);
                body(&c);
            }));
            (passed.load(Relaxed), r.is_err())
        });
        t.join().unwrap()
    }

    fn ten_checkpoints(c: &Cell<u32>) {
        for _ in 0..10 {
            checkpoint();
            c.set(c.get() + 1);
        }
    }

    #[test]
    fn fires_at_exactly_the_kth_checkpoint() {
        for k in 1..=10 {
            assert_eq!(run(k, ten_checkpoints), (k as u32 - 1, true), "k = {k}");
        }
        assert_eq!(run(11, ten_checkpoints), (10, false));
    }

    #[test]
    fn inside_a_shield_it_lands_after_the_shield() {
        fn body(c: &Cell<u32>) {
            shield(|| ten_checkpoints(c));
            checkpoint(); // the 11th: the first where a kill may land
            c.set(c.get() + 100);
        }
        assert_eq!(run(3, body), (10, true));
    }

    #[test]
    fn disarmed_by_the_guard_and_leaves_no_count() {
        let t = KillableThread::spawn(|| {
            drop(terminate_at_checkpoint(1));
            assert_eq!(REMAINING.with(Cell::get), 0);
            ten_checkpoints(&Cell::new(0));
        });
        t.join().unwrap();
    }

    #[test]
    #[should_panic(expected = "needs a killable thread")]
    fn refuses_a_plain_thread() {
        let _kp = terminate_at_checkpoint(1);
    }
}
