//! Making any blocking call killable, through a hook that unblocks it.

use crate::checkpoint::deliver_pending;
use crate::local;
pub use crate::state::KillKind;
use crate::wait::Blocked;

/// Runs the blocking operation `op`; if a kill arrives while it runs,
/// `on_kill` is called, once, from the killer's side, to unblock it (shut
/// a socket down, kill a child process, close a pipe, notify a condvar).
/// The kill is then delivered when `op` returns.
///
/// This is how a call that knows nothing of this crate (a socket read, a
/// third-party client's wait) is made to wake at once on a kill, instead of
/// when it happens to return.
///
/// `on_kill` is either `Fn()` or `Fn(KillKind)`: the second form learns
/// which kill arrived (see [`OnKill`]), so it can, say, leave a socket open
/// for a raise and shut it down only for a termination.
///
/// * `on_kill` runs at most once per call, on the thread that raised or
///   terminated this one. For a deadline, it runs on one of the runtime's
///   hook threads (`killable-hooks`), never on the timer thread: a slow or
///   blocked hook delays neither a deadline nor another hook. It may run while
///   `op` is returning, but never after `interruptible` has returned
///   (`interruptible` waits for an `on_kill` that has started on another
///   thread; one claimed by a kill but not started yet, say still queued
///   for a hook thread, is withdrawn instead, and never called).
/// * No lock of this crate is held while `on_kill` runs, so it may raise
///   into, terminate or join any *other* thread, including one whose own
///   `on_kill` kills this one. Killing the thread running `op` from its own
///   `on_kill` is harmless (the kill is recorded, the hook is not called
///   again), but joining it would wait forever for a thread that waits for
///   the hook. Killing the thread that runs `on_kill` (the killer itself)
///   lands at that thread's next checkpoint, as any kill of oneself. It
///   must not take a lock that the thread running `op` may hold when `op`
///   returns.
/// * Which result wins: a kill recorded while `on_kill` is lent (from the
///   call until `op` has returned) is delivered as soon as `op` returns,
///   and `op`'s result is dropped, since `on_kill` may have broken it (a
///   shut-down socket's read returns end-of-file). A kill recorded after
///   `op` has returned never costs its result: `interruptible` returns it,
///   and the kill lands at the next checkpoint.
/// * A kill already pending when `interruptible` is called is delivered at
///   once; `op` does not run.
/// * On a thread that is not killable, inside a [`shield`](crate::shield), or
///   while unwinding, `op` just runs and `on_kill` is never called.
/// * Calls nest: while an inner `interruptible` runs, kills call the inner
///   `on_kill`; when it returns, the outer one is back in force. If the
///   inner call returns with more kills pending than the one it delivers
///   (a termination, or a second raise that would find the outer `op`
///   blocked again after it caught the first), the outer `on_kill` is
///   called right away, from this thread.
/// * If `on_kill` panics, the panic reaches the killer's `raise` or
///   `terminate` call (the kill is recorded all the same);
///   [`registry::terminate_all`](crate::registry::terminate_all) reaches
///   every thread first. On a hook thread it is caught and ignored.
///
/// # Examples
///
/// A read that would block forever is unblocked by shutting the socket down:
///
/// ```
/// use std::io::Read;
/// use std::net::{Shutdown, TcpListener, TcpStream};
/// use killable::{interruptible, KillableThread};
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
/// let (_server_side, _) = listener.accept().unwrap(); // never writes
///
/// let t = KillableThread::spawn(move || {
///     let unblock = client.try_clone().unwrap();
///     let mut buf = [0u8; 16];
///     interruptible(
///         || (&client).read(&mut buf),
///         move || { let _ = unblock.shutdown(Shutdown::Both); },
///     )
/// });
/// std::thread::sleep(std::time::Duration::from_millis(20));
/// t.terminate();
/// assert!(t.join().unwrap_err().is_terminated());
/// ```
pub fn interruptible<R, Op, H, Args>(op: Op, on_kill: H) -> R
where
    Op: FnOnce() -> R,
    H: OnKill<Args>,
{
    let Some(inner) = local::current_arc().filter(|_| local::can_deliver()) else {
        return op();
    };
    let hook = |kind: KillKind| {
        let _running = local::HookRunning::enter();
        on_kill.on_kill(kind)
    };
    // SAFETY: `Disarm` below disarms the hook on every path out of this
    // frame, including an unwind out of `op`, before `hook` is dropped and
    // while `inner` is alive; a nested call, inside `op`, disarms before
    // this one.
    while !unsafe { inner.arm_hook(&hook) } {
        // A kill is already pending: deliver it rather than start `op`.
        // (It always unwinds; looping keeps `op` hooked if it ever did not.)
        deliver_pending(&inner);
    }
    struct Disarm<'a>(&'a crate::state::Inner, bool);
    impl Disarm<'_> {
        fn take_back(mut self) -> bool {
            self.1 = false;
            self.0.disarm_hook()
        }
    }
    impl Drop for Disarm<'_> {
        fn drop(&mut self) {
            if self.1 {
                self.0.disarm_hook();
            }
        }
    }
    let disarm = Disarm(&inner, true);
    let blocked = Blocked::new(&inner);
    let r = op();
    drop(blocked);
    let killed_while_armed = disarm.take_back();
    #[cfg(test)]
    tests::after_disarm();
    if killed_while_armed {
        deliver_pending(&inner);
    }
    r
}

/// An `on_kill` hook for [`interruptible`]: implemented for `Fn()` (told
/// nothing) and for `Fn(KillKind)` (told which kill arrived). `Args` only
/// tells the two apart; write the closure's parameter type out
/// (`|kind: KillKind| …`) when its body calls a method on it.
///
/// # Examples
///
/// ```
/// use killable::{interruptible, KillKind, OnKill};
///
/// fn run_hooked<A>(hook: impl OnKill<A>) -> u32 {
///     interruptible(|| 7, hook)
/// }
/// assert_eq!(run_hooked(|| ()), 7);
/// assert_eq!(run_hooked(|kind: KillKind| assert_ne!(kind, KillKind::Raise)), 7);
/// ```
pub trait OnKill<Args>: Send + Sync {
    /// Called at most once, from the killer's side, when `kind` of kill
    /// arrives while the operation runs.
    fn on_kill(&self, kind: KillKind);
}

impl<F: Fn() + Send + Sync> OnKill<()> for F {
    fn on_kill(&self, _kind: KillKind) {
        self()
    }
}

impl<F: Fn(KillKind) + Send + Sync> OnKill<(KillKind,)> for F {
    fn on_kill(&self, kind: KillKind) {
        self(kind)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    thread_local! {
        static AFTER_DISARM: Cell<Option<fn()>> = const { Cell::new(None) };
    }

    /// Where a test injects a kill that arrives after `op` has returned
    /// and its hook was taken back, before `interruptible` returns.
    pub(super) fn after_disarm() {
        if let Some(f) = AFTER_DISARM.with(Cell::take) {
            f();
        }
    }

    #[test]
    fn a_kill_arriving_after_op_returned_does_not_cost_its_result() {
        let t = crate::KillableThread::spawn(|| {
            AFTER_DISARM.with(|a| {
                a.set(Some(|| {
                    let me = crate::local::current_arc().unwrap();
                    me.raise("late").unwrap();
                }))
            });
            crate::catch::<&str, _, _>(|| {
                let r = super::interruptible(|| 42, || ());
                let delivered_after = crate::catch::<&str, _, _>(crate::checkpoint);
                (r, delivered_after)
            })
        });
        assert_eq!(
            t.join().unwrap(),
            Ok((42, Err("late"))),
            "op's result is returned, the kill lands at the next checkpoint"
        );
    }
}
