//! Making any blocking call killable, through a hook that unblocks it.

use crate::checkpoint::deliver_pending;
use crate::local;
use crate::wait::Blocked;

/// Runs the blocking operation `op`; if a kill arrives while it runs,
/// `on_kill` is called, once, from the killer's thread, to unblock it (shut
/// a socket down, kill a child process, close a pipe, notify a condvar).
/// The kill is then delivered when `op` returns.
///
/// This is how a call that knows nothing of this crate (a socket read, a
/// third-party client's wait) is made to wake at once on a kill, instead of
/// when it happens to return.
///
/// * `on_kill` runs at most once per call, on the thread that raised,
///   terminated or timed out this one (for a deadline, the shared timer
///   thread: keep it quick). It may run while `op` is returning, but never
///   after `interruptible` has returned.
/// * A kill already pending when `interruptible` is called is delivered at
///   once; `op` does not run.
/// * On a thread that is not killable, inside a [`shield`](crate::shield), or
///   while unwinding, `op` just runs and `on_kill` is never called.
/// * `on_kill` must not raise into, terminate or join the thread running
///   `op` (it runs while that thread's hook is held), nor take a lock that
///   thread may hold when `op` returns (`interruptible` waits for a running
///   `on_kill` to finish before it returns).
/// * Calls nest: while an inner `interruptible` runs, kills call the inner
///   `on_kill`; when it returns, the outer one is back in force. If the
///   inner call returns with more kills pending than the one it delivers
///   (a termination, or a second raise that would find the outer `op`
///   blocked again after it caught the first), the outer `on_kill` is
///   called right away, from this thread.
/// * If `on_kill` panics, the panic reaches the killer's `raise` or
///   `terminate` call (the kill is recorded all the same); on the timer
///   thread, it is caught and ignored.
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
pub fn interruptible<R, Op, OnKill>(op: Op, on_kill: OnKill) -> R
where
    Op: FnOnce() -> R,
    OnKill: Fn() + Send + Sync,
{
    let Some(inner) = local::current_arc().filter(|_| local::can_deliver()) else {
        return op();
    };
    // SAFETY: `Disarm` below disarms the hook on every path out of this
    // frame, including an unwind out of `op`, before `on_kill` is dropped;
    // a nested call, inside `op`, disarms before this one.
    while !unsafe { inner.arm_hook(&on_kill) } {
        // A kill is already pending: deliver it rather than start `op`.
        // (It always unwinds; looping keeps `op` hooked if it ever did not.)
        deliver_pending(&inner);
    }
    struct Disarm<'a>(&'a crate::state::Inner);
    impl Drop for Disarm<'_> {
        fn drop(&mut self) {
            self.0.disarm_hook();
        }
    }
    let disarm = Disarm(&inner);
    let blocked = Blocked::new(&inner);
    let r = op();
    drop(blocked);
    drop(disarm);
    deliver_pending(&inner);
    r
}
