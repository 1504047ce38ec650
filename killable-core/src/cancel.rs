//! Cancel tokens: killable work on any thread, cancelled on demand.

use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::local;
use crate::state::{Kill, KILLS_UNWIND};
use crate::token::Node;

/// A cancellation that work on any thread can be run under: a rayon pool
/// thread, tokio's blocking pool, the main thread.
///
/// [`run`](Self::run) runs a closure under the token. [`cancel`](Self::cancel)
/// (from any thread, at any time) unwinds every closure running under the
/// token or one of its [`child`](Self::child)ren at its next checkpoint, and
/// wakes the killable waits ([`sleep`](crate::sleep), condvars, channels,
/// joins, [`interruptible`](crate::interruptible)) they are blocked in. A
/// `run` entered after the cancellation returns `Err(Cancelled)` at once.
///
/// Clones share one cancellation. The token is the same idea as
/// `tokio_util::sync::CancellationToken` or a Trio cancel scope, except that
/// the code under it needs no flag to poll: the checkpoints `#[killable]`
/// inserts are where it stops.
///
/// # Examples
///
/// ```
/// use killable::{killable, CancelToken, Cancelled};
/// use std::time::Duration;
///
/// #[killable]
/// fn spin() -> u64 {
///     let mut n = 0_u64;
///     loop {
///         n = n.wrapping_add(1);
///     }
/// }
///
/// let token = CancelToken::new();
/// let worker = {
///     let token = token.clone();
///     std::thread::spawn(move || token.run(spin)) // a plain std thread
/// };
/// std::thread::sleep(Duration::from_millis(10));
/// token.cancel();
/// assert_eq!(worker.join().unwrap(), Err(Cancelled));
/// ```
#[derive(Clone, Default)]
pub struct CancelToken {
    node: Arc<Node>,
}

impl CancelToken {
    /// A token that is not cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = killable::CancelToken::new();
    /// assert!(!token.is_cancelled());
    /// ```
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels the token and all its descendants: every [`run`](Self::run)
    /// under any of them unwinds at its next checkpoint (after the
    /// enclosing [`shield`](crate::shield), if any, ends) and returns
    /// `Err(Cancelled)`, and every later `run` returns `Err(Cancelled)`
    /// without calling its closure.
    ///
    /// Idempotent; callable from any thread, including one inside `run`
    /// for this very token (it then unwinds at its own next checkpoint). It
    /// does not wait for the work to stop: `run` returning is what says it
    /// has. A cancellation cannot be undone; make a new token for new work.
    ///
    /// Under `panic = "abort"` it still marks the token, so later `run`s
    /// return at once, but it cannot stop closures already running.
    ///
    /// # Panics
    ///
    /// If the `on_kill` hook of an [`interruptible`](crate::interruptible)
    /// call that it interrupts panics: every run is cancelled and every
    /// other hook called first, then the first hook's panic is resumed here.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = killable::CancelToken::new();
    /// token.cancel();
    /// token.cancel(); // idempotent
    /// assert!(token.is_cancelled());
    /// assert_eq!(token.run(|| unreachable!()), Err(killable::Cancelled));
    /// ```
    pub fn cancel(&self) {
        self.node.cancel();
    }

    /// Whether this token or one of its ancestors has been cancelled.
    ///
    /// One atomic load, no lock. Code under [`run`](Self::run) needs no
    /// polling at all.
    ///
    /// # Examples
    ///
    /// ```
    /// let parent = killable::CancelToken::new();
    /// let child = parent.child();
    /// parent.cancel();
    /// assert!(child.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.node.is_cancelled()
    }

    /// A new token that is cancelled when this one is, and on its own
    /// without affecting this one. A child of a cancelled token starts
    /// cancelled.
    ///
    /// A child keeps its ancestors alive (so that they still reach it
    /// through the children in between); a parent forgets its dropped
    /// children.
    ///
    /// # Examples
    ///
    /// ```
    /// let parent = killable::CancelToken::new();
    /// let child = parent.child();
    /// child.cancel();
    /// assert!(!parent.is_cancelled());
    /// ```
    pub fn child(&self) -> CancelToken {
        CancelToken {
            node: self.node.child(),
        }
    }

    /// A guard that cancels the token when dropped: hold it in the code
    /// that owns the work (an async task, a request handler), and the work
    /// stops when that code goes away by any path, an unwind or a dropped
    /// future included.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = killable::CancelToken::new();
    /// {
    ///     let _guard = token.clone().drop_guard();
    /// }
    /// assert!(token.is_cancelled());
    ///
    /// let token = killable::CancelToken::new();
    /// let guard = token.clone().drop_guard();
    /// let _token = guard.disarm(); // the work finished: keep the token alive
    /// assert!(!token.is_cancelled());
    /// ```
    pub fn drop_guard(self) -> DropGuard {
        DropGuard { token: Some(self) }
    }

    /// Runs `f` under this token, on the calling thread: `Ok` with `f`'s
    /// result if it returns, `Err(Cancelled)` if this token's cancellation
    /// unwound it (every destructor inside `f` run) or had happened before
    /// the call (then `f` is not called).
    ///
    /// Works on any thread. A thread that is not a
    /// [`KillableThread`](crate::KillableThread) becomes killable for the
    /// call's duration, by cancellations of this token only, and leaves it
    /// with nothing pending, so a pool thread stays fit for unrelated work.
    ///
    /// * `Ok` whenever `f` returns, even after a cancellation (one is only
    ///   acted on at a checkpoint or killable wait).
    /// * Nests like Trio's cancel scopes, with other tokens and with
    ///   [`with_timeout`](crate::with_timeout): each catches only its own
    ///   cancellation; an outer one unwinds through inner ones untouched,
    ///   and so do a `KillableThread`'s terminations and raises. When two
    ///   enclosing scopes are both cancelled, the outermost wins.
    /// * A cancellation inside a [`shield`](crate::shield) lands at the
    ///   first checkpoint after it.
    ///
    /// Entering and leaving cost two uncontended lock pairs (the token's and
    /// the thread's) and, on a thread that is not killable, an allocation.
    ///
    /// # Panics
    ///
    /// Panics of `f` propagate.
    ///
    /// # Examples
    ///
    /// ```
    /// use killable::{CancelToken, Cancelled};
    /// use std::time::Duration;
    ///
    /// let token = CancelToken::new();
    /// assert_eq!(token.run(|| 6 * 7), Ok(42));
    ///
    /// let canceller = token.clone();
    /// let r = token.run(|| {
    ///     canceller.cancel();
    ///     killable::sleep(Duration::from_secs(60)); // wakes at once
    ///     unreachable!()
    /// });
    /// assert_eq!(r, Err(Cancelled));
    /// ```
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> Result<R, Cancelled> {
        // A checkpoint, as at the start of every killable wait: a loop that
        // only calls `run` on a cancelled token (each returns at once)
        // stays killable on a `KillableThread`.
        crate::checkpoint::runtime_checkpoint();
        if self.is_cancelled() {
            return Err(Cancelled);
        }
        if !KILLS_UNWIND {
            // Under `panic = "abort"` a cancellation could only abort.
            return Ok(f());
        }
        let adopted = local::adopt();
        let inner = adopted.inner();
        let id = crate::prim::next_id();
        // Entered in a destructor during an unwind: as for `with_timeout`,
        // its own cancellation may unwind `f` back to the `catch_unwind`
        // below, never into the outer unwind.
        // (Or in an `on_kill` hook, where the thread's own kills wait too.)
        // `level`: 0, or this scope's unwinding level (see `local::unwinding_level`).
        let level = local::scope_level();
        if !self.node.enter(inner, id, level) {
            return Err(Cancelled);
        }
        if level != 0 {
            local::enter_unwinding_scope();
        }
        let result = {
            let _leave = Leave {
                node: &self.node,
                inner,
                id,
                level,
            };
            catch_unwind(AssertUnwindSafe(f))
        };
        match result {
            Ok(r) => Ok(r),
            Err(payload) => match payload.downcast_ref::<Kill>() {
                Some(Kill::Deadline(d)) if *d == id => Err(Cancelled),
                _ => {
                    if level != 0 {
                        local::start_nested_unwind();
                    }
                    resume_unwind(payload)
                }
            },
        }
    }
}

/// Leaves the token's scope on every path out of `f`.
struct Leave<'a> {
    node: &'a Node,
    inner: &'a crate::state::Inner,
    id: u64,
    level: u32,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.node.leave(self.inner, self.id);
        if self.level != 0 {
            local::leave_unwinding_scope(self.level);
        }
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.node.fmt(f)
    }
}

/// Cancels its token when dropped; see [`CancelToken::drop_guard`].
#[must_use = "dropping the guard at once cancels the token"]
#[derive(Debug)]
pub struct DropGuard {
    token: Option<CancelToken>,
}

impl DropGuard {
    /// Gives the token back without cancelling it.
    ///
    /// # Examples
    ///
    /// ```
    /// let guard = killable::CancelToken::new().drop_guard();
    /// let token = guard.disarm();
    /// assert!(!token.is_cancelled());
    /// ```
    pub fn disarm(mut self) -> CancelToken {
        self.token.take().expect("a guard holds its token until dropped")
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            if std::thread::panicking() {
                // A hook's panic out of a drop during an unwind would abort
                // the process; the cancellation itself has happened.
                if let Err(p) = catch_unwind(AssertUnwindSafe(|| token.cancel())) {
                    std::mem::forget(p);
                }
            } else {
                token.cancel();
            }
        }
    }
}

/// The error of a [`CancelToken::run`] whose token was cancelled.
///
/// # Examples
///
/// ```
/// let token = killable::CancelToken::new();
/// token.cancel();
/// let err: killable::Cancelled = token.run(|| ()).unwrap_err();
/// assert_eq!(err.to_string(), "cancelled");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for Cancelled {}
