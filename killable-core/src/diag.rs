//! Where each killable thread last passed a checkpoint (cargo feature
//! `diagnostics`), so that [`registry::threads`](crate::registry::threads)
//! can show which thread is stuck in a call that never returns.
//!
//! [`checkpoint`](crate::checkpoint) is `#[track_caller]` under the feature:
//! each call records its caller's `Location` and a timestamp into the
//! current thread's state, on killable threads only (a thread-local read,
//! a clock read and two relaxed stores). Without the feature none of this
//! is compiled and a checkpoint is the plain load and branch.

use std::fmt;
use std::panic::Location;
use std::ptr;
use std::sync::atomic::{
    AtomicPtr, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};
use std::time::{Duration, Instant};

/// The last checkpoint a thread passed, written by that thread only and read
/// by [`registry::threads`](crate::registry::threads). Outside the kill
/// protocol: nothing else depends on it.
#[derive(Debug)]
pub(crate) struct Recorder {
    /// Null until the first checkpoint.
    location: AtomicPtr<Location<'static>>,
    /// When, in nanoseconds since `base`.
    at: AtomicU64,
    base: Instant,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            location: AtomicPtr::new(ptr::null_mut()),
            at: AtomicU64::new(0),
            base: Instant::now(),
        }
    }
}

impl Recorder {
    #[inline]
    pub(crate) fn record(&self, location: &'static Location<'static>) {
        let nanos = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.at.store(nanos, Relaxed);
        // Release after the time, so a reader that sees this location sees a
        // time at least as recent as its own checkpoint.
        self.location
            .store(ptr::from_ref(location).cast_mut(), Release);
    }

    /// The last checkpoint recorded, if any. A reader racing the thread may
    /// pair a location with the time of the checkpoint after it (a few
    /// nanoseconds apart): good enough for a diagnostic.
    pub(crate) fn last(&self) -> Option<LastCheckpoint> {
        let location = self.location.load(Acquire);
        // SAFETY: non-null values are only ever stored from a
        // `&'static Location<'static>`, so the pointee lives forever and is
        // never written through.
        let location = unsafe { location.cast_const().as_ref() }?;
        let at = self.base + Duration::from_nanos(self.at.load(Relaxed));
        Some(LastCheckpoint { location, at })
    }
}

/// Where and when a killable thread last passed a
/// [`checkpoint`](crate::checkpoint): from
/// [`ThreadInfo::last_checkpoint`](crate::registry::ThreadInfo::last_checkpoint),
/// with the cargo feature `diagnostics`.
///
/// The location is the `checkpoint()` call's: for the checkpoints
/// `#[killable]` inserts, the statement of your code it follows. A thread
/// that is `Running` with a last checkpoint long ago is stuck between
/// checkpoints: in a call that is not killable (a plain blocking call, a
/// callee without the attribute, FFI) or in a long stretch of code inside a
/// macro invocation.
///
/// Killable waits ([`sleep`](crate::sleep), condvars, channels, joins) do
/// not record themselves: a thread in one shows as
/// [`Blocked`](crate::registry::RunState::Blocked), with the last checkpoint
/// before the wait.
///
/// # Examples
///
/// ```
/// use killable::{registry, KillableThread};
/// use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
/// use std::sync::{mpsc, Arc};
/// use std::time::Duration;
///
/// let (passed, has_passed) = mpsc::channel();
/// let release = Arc::new(AtomicBool::new(false));
/// let r = release.clone();
/// let t = KillableThread::spawn(move || {
///     killable::checkpoint(); let line = line!();
///     passed.send(()).unwrap();
///     while !r.load(SeqCst) { std::hint::spin_loop() } // stuck: no checkpoint
///     line
/// });
/// has_passed.recv().unwrap();
/// let info = registry::info(t.id()).unwrap();
/// let last = info.last_checkpoint().unwrap();
/// assert!(last.location().file().ends_with(".rs"));
/// assert!(last.ago() < Duration::from_secs(60));
/// println!("{:?} last passed a checkpoint at {last}", info.name());
/// release.store(true, SeqCst);
/// assert_eq!(last.location().line(), t.join().unwrap());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LastCheckpoint {
    location: &'static Location<'static>,
    at: Instant,
}

impl LastCheckpoint {
    /// The source location of the `checkpoint()` call.
    ///
    /// # Examples
    ///
    /// ```
    /// # use killable::{registry, KillableThread};
    /// # use std::sync::mpsc;
    /// # use std::time::Instant;
    /// let before = Instant::now();
    /// let ((ready, checked), (go, wait)) = (mpsc::channel(), mpsc::channel::<()>());
    /// let t = KillableThread::spawn(move || {
    ///     killable::checkpoint(); ready.send(line!()).unwrap();
    ///     wait.recv().unwrap(); // std recv: no checkpoint while we look
    /// });
    /// let line = checked.recv().unwrap();
    /// let info = registry::info(t.id()).unwrap();
    /// let last = info.last_checkpoint().unwrap();
    /// assert_eq!(last.location().line(), line);
    /// assert!(last.location().file().ends_with(".rs"));
    /// # go.send(()).unwrap();
    /// # t.join().unwrap();
    /// ```
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// When the thread passed it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use killable::{registry, KillableThread};
    /// # use std::sync::mpsc;
    /// # use std::time::Instant;
    /// let before = Instant::now();
    /// let ((ready, checked), (go, wait)) = (mpsc::channel(), mpsc::channel::<()>());
    /// let t = KillableThread::spawn(move || {
    ///     killable::checkpoint(); ready.send(line!()).unwrap();
    ///     wait.recv().unwrap(); // std recv: no checkpoint while we look
    /// });
    /// let line = checked.recv().unwrap();
    /// let info = registry::info(t.id()).unwrap();
    /// let last = info.last_checkpoint().unwrap();
    /// assert!(before <= last.at() && last.at() <= Instant::now());
    /// # go.send(()).unwrap();
    /// # t.join().unwrap();
    /// ```
    pub fn at(&self) -> Instant {
        self.at
    }

    /// How long ago the thread passed it (`at().elapsed()`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use killable::{registry, KillableThread};
    /// # use std::sync::mpsc;
    /// # use std::time::Instant;
    /// let before = Instant::now();
    /// let ((ready, checked), (go, wait)) = (mpsc::channel(), mpsc::channel::<()>());
    /// let t = KillableThread::spawn(move || {
    ///     killable::checkpoint(); ready.send(line!()).unwrap();
    ///     wait.recv().unwrap(); // std recv: no checkpoint while we look
    /// });
    /// let line = checked.recv().unwrap();
    /// let info = registry::info(t.id()).unwrap();
    /// let last = info.last_checkpoint().unwrap();
    /// let ago = last.ago();
    /// assert!(ago <= before.elapsed()); // it passed it after `before`
    /// # go.send(()).unwrap();
    /// # t.join().unwrap();
    /// ```
    pub fn ago(&self) -> Duration {
        self.at.elapsed()
    }
}

/// `file:line:column (1.2s ago)`.
impl fmt::Display for LastCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:.1?} ago)", self.location, self.ago())
    }
}
