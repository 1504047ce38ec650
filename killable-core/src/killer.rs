//! [`Killer`]: the cloneable, non-joining handle that raises into and
//! terminates one killable thread.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::thread::{Thread, ThreadId};

use crate::entry::Entry;
use crate::state::{ClaimedHook, Inner};
use crate::timer::{self, TimerKey};

/// A handle that can raise into or terminate a killable thread, but not join
/// it. Cheap to clone; `Send + Sync`, so a watchdog or a signal handler thread
/// can own one.
///
/// # Examples
///
/// ```
/// use killable::KillableThread;
///
/// let t = KillableThread::spawn(|| loop { killable::sleep(std::time::Duration::from_millis(5)) });
/// let killer = t.killer();
/// std::thread::spawn(move || killer.terminate()).join().unwrap();
/// assert!(t.join().unwrap_err().is_terminated());
/// ```
#[derive(Clone)]
pub struct Killer {
    entry: Arc<Entry>,
}

impl Killer {
    pub(crate) fn from_entry(entry: Arc<Entry>) -> Self {
        Killer { entry }
    }

    pub(crate) fn entry(&self) -> &Entry {
        &self.entry
    }

    /// Raises `exc` in the thread: at its next checkpoint it unwinds with
    /// `exc`, which [`catch`](crate::catch) can catch by type and
    /// [`JoinError::Raised`](crate::JoinError::Raised) carries otherwise.
    ///
    /// Raises are edge-triggered and queued: several raises before delivery
    /// are delivered in order, one per checkpoint, up to
    /// [`MAX_QUEUED_RAISES`](crate::MAX_QUEUED_RAISES) waiting at a time. A
    /// raise accepted but never delivered, because the thread ended
    /// first (it returned, [`terminate`](Self::terminate) overtook it, or a
    /// panic or an earlier uncaught raise ended it), is dropped on
    /// that thread as it exits, before its join returns; a panic in its
    /// `Drop` is caught and counted by
    /// [`registry::drop_panics`](crate::registry::drop_panics), and does not
    /// change the thread's result.
    ///
    /// # Errors
    ///
    /// Hands `exc` back if it was not accepted: the thread has finished, it is
    /// being terminated (termination wins), it already has
    /// [`MAX_QUEUED_RAISES`](crate::MAX_QUEUED_RAISES) raises waiting, or
    /// this build uses `panic = "abort"` (where a kill cannot unwind).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| 1);
    /// let killer = t.killer();
    /// assert_eq!(t.join().unwrap(), 1);
    /// assert_eq!(killer.raise("too late"), Err("too late"));
    /// ```
    pub fn raise<E: Any + Send + 'static>(&self, exc: E) -> Result<(), E> {
        crate::error::remember_raised_type::<E>();
        let r = self.entry.state.raise(exc);
        crate::trace::raise(&self.entry, std::any::type_name::<E>(), r.is_ok());
        if r.is_ok() {
            crate::stall::kick();
        }
        r
    }

    /// Terminates the thread: it unwinds at its next checkpoint, running every
    /// destructor, and its join gives [`JoinError::Terminated`](crate::JoinError::Terminated).
    ///
    /// Level-triggered: if the unwind is caught (`catch_unwind` in a loop),
    /// it is delivered again at every checkpoint until the thread has exited
    /// (so a loop needs a checkpoint outside its `catch_unwind`, as the one
    /// `#[killable]` puts at every loop head).
    /// A thread blocked in a killable wait wakes at once. Does nothing if the
    /// thread has finished (or in a `panic = "abort"` build).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| loop {
    ///     killable::checkpoint(); // the loop head, where `#[killable]` puts one
    ///     // swallowing the unwind does not help: it comes back at the next
    ///     // checkpoint outside the `catch_unwind`
    ///     let _ = std::panic::catch_unwind(|| killable::checkpoint());
    /// });
    /// t.killer().terminate();
    /// assert!(t.join().unwrap_err().is_terminated());
    /// ```
    pub fn terminate(&self) {
        let reached = self.entry.state.terminate();
        crate::trace::terminate(&self.entry, reached);
        if reached {
            crate::stall::kick();
        }
    }

    /// Whether the thread's body is still running (`!is_finished()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| ());
    /// let killer = t.killer();
    /// t.join().unwrap();
    /// assert!(!killer.is_alive());
    /// ```
    pub fn is_alive(&self) -> bool {
        !self.is_finished()
    }

    /// Whether the thread's body has returned or unwound.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| ());
    /// let killer = t.killer();
    /// t.join().unwrap();
    /// assert!(killer.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.entry.state.is_finished()
    }

    /// The thread's id.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| std::thread::current().id());
    /// let id = t.killer().id();
    /// assert_eq!(t.join().unwrap(), id);
    /// ```
    pub fn id(&self) -> ThreadId {
        self.thread().id()
    }

    /// The thread's name, if it was given one.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::Builder::new().name("io".into()).spawn(|| ()).unwrap();
    /// assert_eq!(t.killer().name(), Some("io"));
    /// # t.join().unwrap();
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.entry.name.as_deref()
    }

    fn thread(&self) -> &Thread {
        // Set by `spawn` before any handle or killer is handed out.
        self.entry
            .thread
            .get()
            .expect("killable: thread handle is set before spawn returns")
    }
}

impl fmt::Debug for Killer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Killer")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("alive", &self.is_alive())
            .finish()
    }
}

/// Schedules a deadline's kill of the state `inner` at `at`: `claim` records
/// it (if the state still exists) and claims the `interruptible` hook to run,
/// which a hook runner then runs; the stalled-kill watcher is told. No event
/// is emitted here: a subscriber must not hold up the timer thread.
pub(crate) fn at_deadline(
    at: std::time::Instant,
    inner: &Arc<Inner>,
    claim: impl FnOnce(&Inner) -> Option<ClaimedHook<'_>> + Send + 'static,
) -> TimerKey {
    let weak = Arc::downgrade(inner);
    timer::schedule(
        at,
        Box::new(move || {
            if let Some(inner) = weak.upgrade() {
                if let Some(hook) = claim(&inner) {
                    timer::run_hook_later(hook, inner.clone());
                }
                crate::stall::kick();
            }
        }),
    )
}
