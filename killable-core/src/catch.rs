//! Catching raised values by type, and telling kills apart from panics.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use crate::state::Kill;

/// Runs `f`, catching a value of type `E` raised into this thread while it
/// runs: Rust's `try … except E`.
///
/// Returns `Ok` with `f`'s result, or `Err` with the raised value. Panics,
/// terminations, deadlines and raises of other types pass through untouched
/// (a termination caught by accident would be re-delivered anyway: it is
/// level-triggered).
///
/// Name the type to catch in the turbofish, `catch::<E, _, _>(f)`, or on
/// the result, `let r: Result<_, E> = catch(f)`. A shorter `catch::<E>(f)`
/// cannot exist: a call that names one type argument must name them all
/// (`_` included) except those of `impl Trait` arguments, and the result
/// type `R` must stay a named parameter. Turning `F` into `impl FnOnce() ->
/// R` would shorten it to `catch::<E, _>` and break every call written
/// today, so the signature stays.
///
/// Like any `except`, catching a raise can observe state that `f` left
/// half-updated when it was interrupted; `f` need not be `UnwindSafe` for the
/// same reason `std::panic::catch_unwind` is usually wrapped in
/// `AssertUnwindSafe`: the catcher decides. Use [`shield`](crate::shield) for
/// sections that must not be interrupted.
///
/// # Examples
///
/// ```
/// use killable::{catch, checkpoint, KillableThread};
/// use std::sync::{Arc, Barrier};
///
/// #[derive(Debug)]
/// struct Skip;
///
/// let started = Arc::new(Barrier::new(2));
/// let s = started.clone();
/// let t = KillableThread::spawn(move || {
///     s.wait(); // raises before this point would land before any `catch`
///     let mut skipped = 0;
///     while skipped < 2 {
///         if catch::<Skip, _, _>(|| loop { checkpoint() }).is_err() {
///             skipped += 1; // caught: carry on with the next job
///         }
///     }
///     skipped
/// });
/// started.wait();
/// t.raise(Skip).unwrap();
/// t.raise(Skip).unwrap();
/// assert_eq!(t.join().unwrap(), 2);
///
/// // The caught type named on the result instead:
/// let r: Result<u32, Skip> = catch(|| 7);
/// assert_eq!(r.unwrap(), 7);
/// ```
pub fn catch<E, R, F>(f: F) -> Result<R, E>
where
    E: Any + Send + 'static,
    F: FnOnce() -> R,
{
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Ok(r),
        Err(payload) => match payload.downcast::<Kill>() {
            Ok(kill) => match *kill {
                Kill::Raise(exc) => match exc.downcast::<E>() {
                    Ok(e) => Err(*e),
                    Err(exc) => resume_unwind(Box::new(Kill::Raise(exc))),
                },
                other => resume_unwind(Box::new(other)),
            },
            Err(payload) => resume_unwind(payload),
        },
    }
}

/// Whether an unwind payload (from `std::panic::catch_unwind`) is a kill
/// delivered by this crate rather than a panic.
///
/// Code that catches panics to log and continue should re-throw kills with
/// `std::panic::resume_unwind`, or they are swallowed (a termination is
/// re-delivered at the next checkpoint anyway; a raise is not).
///
/// # Examples
///
/// ```
/// use std::panic::{catch_unwind, resume_unwind};
///
/// let t = killable::KillableThread::spawn(|| loop {
///     if let Err(payload) = catch_unwind(|| killable::sleep(std::time::Duration::from_secs(60))) {
///         if killable::is_kill(&*payload) {
///             resume_unwind(payload); // not ours to swallow
///         }
///         eprintln!("job panicked; carrying on");
///     }
/// });
/// t.raise(1_u32).unwrap();
/// assert!(t.join().unwrap_err().is_raised());
/// ```
pub fn is_kill(payload: &(dyn Any + Send)) -> bool {
    payload.is::<Kill>()
}
