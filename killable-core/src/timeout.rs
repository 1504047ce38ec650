//! Cancel scopes with deadlines, for any thread.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::TimedOut;
use crate::killer::at_deadline;
use crate::local;
use crate::state::{Inner, Kill, KILLS_UNWIND};
use crate::timer::{self, TimerKey};

/// Runs `f` with a deadline `timeout` from now: if the deadline passes while
/// `f` runs, the next checkpoint inside `f` unwinds out of it and this returns
/// `Err(TimedOut)`, with every destructor inside `f` run.
///
/// Works on any thread, the main thread included: a thread that is not
/// killable becomes killable for the scope's duration, by its own deadline
/// only. Killable waits inside `f` ([`sleep`](crate::sleep), condvars,
/// channels, joins) wake at once when the deadline passes.
///
/// * `Ok` whenever `f` returns, even after its deadline (a deadline is only
///   acted on at a checkpoint or killable wait).
/// * Nested scopes each catch only their own expiry; an outer expiry passes
///   through inner scopes untouched, and so do terminations and raises.
/// * A scope that ends, by any path, leaves nothing pending.
/// * A zero or past timeout expires at the first checkpoint inside `f`.
/// * A deadline inside a [`shield`](crate::shield) lands at the first
///   checkpoint after it.
/// * In a destructor that runs during an unwind (`std::thread::panicking()`),
///   a scope works as anywhere else: `f` runs under this scope's own
///   `catch_unwind`, so its expiry unwinds `f` back to here and never
///   touches the outer unwind. That is the one kill delivered while a
///   thread unwinds: the expiry of a scope opened during that unwind (the
///   outermost such scope that has expired), and not again in the
///   destructors its own unwind runs inside the scope (an unwind out of
///   those would abort). One limit: a panic of your own that starts inside
///   such a scope after it expired, and that you catch inside it, may get
///   the expiry delivered in its destructors, and that aborts, since stable
///   Rust does not say how many unwinds are in flight. Terminations, raises and the
///   expiries of scopes opened before the unwind stay pending, to land at
///   the first checkpoint after the unwind was caught, or never if it ends
///   the thread. There, [`interruptible`](crate::interruptible) just runs
///   its `op`, and a panic of `f` still aborts the process, as any panic
///   escaping a destructor during an unwind does.
///
/// All deadlines in the process share one timer thread; a scope costs a
/// map insert and remove, not a thread.
///
/// # Panics
///
/// If the OS refuses to spawn the timer thread, the first time one is
/// needed. Panics of `f` propagate.
///
/// # Examples
///
/// ```
/// use killable::{killable, with_timeout, TimedOut};
/// use std::time::Duration;
///
/// #[killable]
/// fn collatz_steps(mut n: u64) -> u64 {
///     let mut steps = 0;
///     while n != 1 {
///         n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
///         steps += 1;
///     }
///     steps
/// }
///
/// assert_eq!(with_timeout(Duration::from_secs(10), || collatz_steps(27)), Ok(111));
/// // `n == 0` never reaches 1: the deadline ends it.
/// assert_eq!(with_timeout(Duration::from_millis(20), || collatz_steps(0)), Err(TimedOut));
/// ```
pub fn with_timeout<R>(timeout: Duration, f: impl FnOnce() -> R) -> Result<R, TimedOut> {
    match Instant::now().checked_add(timeout) {
        Some(deadline) => with_deadline(deadline, f),
        // Further than `Instant` can count: no deadline at all.
        None => Ok(f()),
    }
}

/// Like [`with_timeout`], with an absolute deadline.
///
/// # Panics
///
/// If the OS refuses to spawn the timer thread, the first time one is
/// needed. Panics of `f` propagate.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let deadline = Instant::now() + Duration::from_millis(10);
/// let r = killable::with_deadline(deadline, || killable::sleep(Duration::from_secs(60)));
/// assert!(r.is_err());
/// ```
pub fn with_deadline<R>(deadline: Instant, f: impl FnOnce() -> R) -> Result<R, TimedOut> {
    if !KILLS_UNWIND {
        // Under `panic = "abort"` a deadline could only abort the process.
        return Ok(f());
    }
    let adopted = local::adopt();
    let inner = adopted.inner();
    let id = crate::prim::next_id();
    let expired = deadline <= Instant::now();
    // Opened in a destructor during an unwind: its own expiry may unwind `f`
    // back to the `catch_unwind` below, which never lets it reach the outer
    // unwind. `Close` undoes the count.
    // (Or in an `on_kill` hook, where the thread's own kills wait too.)
    // `level`: 0, or this scope's unwinding level (see `local::unwinding_level`).
    let level = local::scope_level();
    if level != 0 {
        local::enter_unwinding_scope();
    }
    inner.push_scope_in(id, expired, level);
    let key = (!expired).then(|| at_deadline(deadline, inner, move |s| s.expire_scope_claiming(id)));
    let scope = Close {
        inner,
        id,
        key,
        level,
    };
    let result = catch_unwind(AssertUnwindSafe(f));
    drop(scope);
    match result {
        Ok(r) => Ok(r),
        Err(payload) => match payload.downcast_ref::<Kill>() {
            Some(Kill::Deadline(d)) if *d == id => Err(TimedOut),
            _ => {
                if level != 0 {
                    local::start_nested_unwind();
                }
                resume_unwind(payload)
            }
        },
    }
}

/// Closes the scope on every path out of `f`.
struct Close<'a> {
    inner: &'a Arc<Inner>,
    id: u64,
    key: Option<TimerKey>,
    level: u32,
}

impl Drop for Close<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            timer::cancel(key);
        }
        self.inner.pop_scope(self.id);
        if self.level != 0 {
            local::leave_unwinding_scope(self.level);
        }
    }
}

