use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{
    AtomicU8,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::{Arc, LockResult, PoisonError};
use std::thread::Thread;
use std::time::{Duration, Instant};

use super::mutex::MutexGuard;
use crate::prim::lock;
use crate::shield::shield;
use crate::wait::{deliver_current, park_until, Woke};

/// A condition variable whose waits wake at once on a kill, paired with
/// [`killable::sync::Mutex`](super::Mutex).
///
/// Waiters queue in FIFO order and each parks on its own; `notify_one`
/// hands the notification to exactly one queued waiter. A waiter woken by a
/// kill leaves the queue, and if a notification reached it at the same
/// moment, passes it on to the next waiter, so a kill never steals a
/// notification meant for another thread (a `notify_all` is not passed on:
/// it has already woken every waiter there was). A killed waiter unwinds without
/// the mutex held, so the mutex is not poisoned.
///
/// Spurious wake-ups do not happen, but code should loop on its predicate
/// anyway ([`wait_while`](Self::wait_while)), as with any condvar.
///
/// # Examples
///
/// ```
/// use killable::sync::{Condvar, Mutex};
/// use killable::KillableThread;
/// use std::sync::Arc;
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let p = pair.clone();
/// let waiter = KillableThread::spawn(move || {
///     let (m, cv) = &*p;
///     let ready = cv.wait_while(m.lock().unwrap(), |ready| !*ready).unwrap();
///     *ready
/// });
/// // Nobody will ever set `ready`: terminate the waiter instead.
/// waiter.terminate();
/// assert!(waiter.join().unwrap_err().is_terminated());
/// assert!(!pair.0.is_poisoned());
/// ```
#[derive(Default)]
pub struct Condvar {
    waiters: std::sync::Mutex<VecDeque<Arc<Waiter>>>,
}

struct Waiter {
    thread: Thread,
    /// `WAITING`, or which notify dequeued this waiter.
    notified: AtomicU8,
}

const WAITING: u8 = 0;
const BY_NOTIFY_ONE: u8 = 1;
const BY_NOTIFY_ALL: u8 = 2;

/// Whether a timed wait returned because its timeout elapsed.
///
/// # Examples
///
/// ```
/// use killable::sync::{Condvar, Mutex, WaitTimeoutResult};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = Arc::clone(&pair);
/// let t = std::thread::spawn(move || {
///     *pair2.0.lock().unwrap() = true;
///     pair2.1.notify_one();
/// });
/// let (m, cv) = &*pair;
/// let (ready, r): (_, WaitTimeoutResult) = cv
///     .wait_timeout_while(m.lock().unwrap(), Duration::from_secs(10), |ready| !*ready)
///     .unwrap();
/// assert!(*ready && !r.timed_out()); // notified long before the 10 s
/// # drop(ready);
/// t.join().unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True if the wait ended by timing out rather than by a notification.
    ///
    /// # Examples
    ///
    /// ```
    /// use killable::sync::{Condvar, Mutex};
    /// let (m, cv) = (Mutex::new(()), Condvar::new());
    /// let (_g, r) = cv.wait_timeout(m.lock().unwrap(), std::time::Duration::from_millis(1)).unwrap();
    /// assert!(r.timed_out());
    /// ```
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A new condition variable with no waiters.
    ///
    /// # Examples
    ///
    /// ```
    /// let cv = killable::sync::Condvar::new();
    /// cv.notify_all(); // nobody waits: nothing happens
    /// ```
    pub fn new() -> Condvar {
        Condvar::default()
    }

    /// Releases the guard's mutex, waits for a notification, and re-takes
    /// the mutex. A kill unwinds out of the wait with the mutex released.
    ///
    /// # Errors
    ///
    /// If the mutex is poisoned when re-taken (the guard is inside).
    ///
    /// # Examples
    ///
    /// ```
    /// use killable::sync::{Condvar, Mutex};
    /// use std::sync::Arc;
    ///
    /// let pair = Arc::new((Mutex::new(0), Condvar::new()));
    /// let p = pair.clone();
    /// std::thread::spawn(move || {
    ///     *p.0.lock().unwrap() = 1;
    ///     p.1.notify_one();
    /// });
    /// let mut g = pair.0.lock().unwrap();
    /// while *g == 0 {
    ///     g = pair.1.wait(g).unwrap();
    /// }
    /// ```
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        self.wait_until(guard, None).0
    }

    /// Waits until `condition` is false, re-checking after each wake-up.
    ///
    /// `condition` runs with the lock held and inside a
    /// [`shield`](crate::shield): a kill never lands in it (unwinding there
    /// would poison the mutex); it lands in the wait, with the lock released.
    ///
    /// # Errors
    ///
    /// If the mutex is poisoned when re-taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use killable::sync::{Condvar, Mutex};
    /// use std::sync::Arc;
    ///
    /// let pair = Arc::new((Mutex::new(true), Condvar::new()));
    /// let p = pair.clone();
    /// std::thread::spawn(move || {
    ///     *p.0.lock().unwrap() = false;
    ///     p.1.notify_all();
    /// });
    /// let g = pair.1.wait_while(pair.0.lock().unwrap(), |pending| *pending).unwrap();
    /// assert!(!*g);
    /// ```
    pub fn wait_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        // The predicate runs with the lock held: shielded, so that a kill
        // (say, at the entry check `#[killable]` gives the closure) lands in
        // the wait, with the lock released, instead of poisoning the mutex.
        while shield(|| condition(&mut *guard)) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Like [`wait`](Self::wait), giving up after `dur`.
    ///
    /// # Errors
    ///
    /// If the mutex is poisoned when re-taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use killable::sync::{Condvar, Mutex};
    /// let (m, cv) = (Mutex::new(()), Condvar::new());
    /// let (_g, r) = cv.wait_timeout(m.lock().unwrap(), std::time::Duration::from_millis(1)).unwrap();
    /// assert!(r.timed_out());
    /// ```
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let (r, timed_out) = self.wait_until(guard, Instant::now().checked_add(dur));
        match r {
            Ok(g) => Ok((g, WaitTimeoutResult(timed_out))),
            Err(e) => Err(PoisonError::new((
                e.into_inner(),
                WaitTimeoutResult(timed_out),
            ))),
        }
    }

    /// Like [`wait_while`](Self::wait_while), giving up after `dur`.
    ///
    /// # Errors
    ///
    /// If the mutex is poisoned when re-taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use killable::sync::{Condvar, Mutex};
    /// let (m, cv) = (Mutex::new(0), Condvar::new());
    /// let (g, r) = cv.wait_timeout_while(m.lock().unwrap(), std::time::Duration::from_millis(1), |v| *v == 0).unwrap();
    /// assert!(r.timed_out() && *g == 0);
    /// ```
    pub fn wait_timeout_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let deadline = Instant::now().checked_add(dur);
        while shield(|| condition(&mut *guard)) {
            let (r, timed_out) = self.wait_until(guard, deadline);
            guard = match r {
                Ok(g) => g,
                Err(e) => {
                    return Err(PoisonError::new((
                        e.into_inner(),
                        WaitTimeoutResult(timed_out),
                    )))
                }
            };
            if timed_out {
                let still = shield(|| condition(&mut *guard));
                return Ok((guard, WaitTimeoutResult(still)));
            }
        }
        Ok((guard, WaitTimeoutResult(false)))
    }

    /// Wakes one waiter, the one that has waited longest.
    ///
    /// # Examples
    ///
    /// ```
    /// killable::sync::Condvar::new().notify_one();
    /// ```
    pub fn notify_one(&self) {
        let next = {
            let mut q = lock(&self.waiters);
            q.pop_front().inspect(|w| mark(w, BY_NOTIFY_ONE))
        };
        if let Some(w) = next {
            w.thread.unpark();
        }
    }

    /// Wakes every waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// killable::sync::Condvar::new().notify_all();
    /// ```
    pub fn notify_all(&self) {
        let all = {
            let mut q = lock(&self.waiters);
            q.iter().for_each(|w| mark(w, BY_NOTIFY_ALL));
            std::mem::take(&mut *q)
        };
        for w in &all {
            w.thread.unpark();
        }
    }

    /// Returns the re-taken guard and whether the wait timed out.
    fn wait_until<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (LockResult<MutexGuard<'a, T>>, bool) {
        let mutex = guard.mutex;
        let me = Arc::new(Waiter {
            thread: std::thread::current(),
            notified: AtomicU8::new(WAITING),
        });
        // Queued before the mutex is released: a notifier takes the mutex to
        // change the predicate, so it cannot notify before we are queued.
        lock(&self.waiters).push_back(me.clone());
        drop(guard);
        let woke = park_until(deadline, || me.notified.load(Acquire) != WAITING);
        let timed_out = match woke {
            Woke::Done => false,
            Woke::TimedOut => !self.leave(&me, false),
            Woke::Killed => {
                self.leave(&me, true);
                deliver_current();
                // Not reached: a deliverable kill unwinds. Re-take the lock
                // in case a future policy lets a wait return instead.
                false
            }
        };
        (mutex.relock(), timed_out)
    }

    /// Takes `me` out of the queue after a timeout or kill. Returns true if
    /// it had been notified meanwhile; a killed waiter then passes a
    /// `notify_one` on (a `notify_all` has woken everyone already).
    fn leave(&self, me: &Arc<Waiter>, killed: bool) -> bool {
        let mut q = lock(&self.waiters);
        if let Some(pos) = q.iter().position(|w| Arc::ptr_eq(w, me)) {
            q.remove(pos);
            return false;
        }
        // Not queued: a notifier dequeued us and marked how, under the
        // queue's lock, which we now hold (so Relaxed sees the mark).
        if killed && me.notified.load(Relaxed) == BY_NOTIFY_ONE {
            if let Some(next) = q.pop_front() {
                mark(&next, BY_NOTIFY_ONE);
                drop(q);
                next.thread.unpark();
            }
        }
        true
    }
}

/// Records how `w` was dequeued; called under the queue's lock, and
/// followed by an unpark (after the lock is released) so a parked waiter
/// looks again. Release pairs with the waiter's Acquire load.
fn mark(w: &Waiter, how: u8) {
    w.notified.store(how, Release);
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar")
            .field("waiters", &lock(&self.waiters).len())
            .finish()
    }
}
