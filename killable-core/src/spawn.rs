//! How a killable thread starts and ends, for both kinds of handle:
//! [`prepare`] registers it, [`finish_spawn`] hands out its entry once std
//! spawned it, [`run`] is its body's frame (state installed, deadline
//! scheduled, entry retired on every exit), and [`classify`] and [`flatten`]
//! turn the way it ended into the `JoinError` its join returns.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::{JoinHandle, Thread};
use std::time::Instant;

use crate::checkpoint::deliver_pending;
use crate::entry::{self, Entry};
use crate::killer::at_deadline;
use crate::error::{drop_contained, JoinError, Payload};
use crate::local;
use crate::state::Kill;
use crate::timer::{self, TimerKey};

pub(crate) fn prepare(
name: Option<String>,
stack_size: Option<usize>,
deadline: Option<Instant>,
) -> io::Result<(std::thread::Builder, Registered, Option<Instant>)> {
    let mut b = std::thread::Builder::new();
    if let Some(name) = &name {
        // std panics on this (inside its spawn); a refused name is an
        // error like a refused stack size.
        if name.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "thread name may not contain interior null bytes",
            ));
        }
        b = b.name(name.clone());
    }
    if let Some(size) = stack_size {
        b = b.stack_size(size);
    }
    let entry = Entry::new(name);
    // Registered before the OS thread exists, so that `terminate_all`
    // cannot miss a thread whose spawn overlaps it.
    entry::insert(&entry);
    Ok((b, Registered(Some(entry)), deadline))
}

pub(crate) fn flatten<T>(r: std::thread::Result<Result<T, JoinError>>) -> Result<T, JoinError> {
    match r {
        Ok(r) => r,
        // The body's panics are caught in `run`, and the leftover raises it
        // drops afterwards are contained; should anything else there panic,
        // report it as the panic it is.
        Err(p) => Err(JoinError::Panicked(Payload::from(p))),
    }
}

/// A registered entry whose OS thread does not exist (yet). Dropped without
/// [`finish_spawn`] taking it (std's spawn failed or panicked), it does what
/// the thread's exit would have done, so that nothing waits for a thread
/// that never runs.
pub(crate) struct Registered(Option<Arc<Entry>>);

impl std::ops::Deref for Registered {
    type Target = Arc<Entry>;
    fn deref(&self) -> &Arc<Entry> {
        self.0.as_ref().expect("killable: a Registered holds its entry until taken")
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(entry) = self.0.take() {
            retire(&entry);
            entry.state.mark_ended();
        }
    }
}

/// Completes a spawn: records the thread handle, or, on failure, retires
/// the entry (see [`Registered`]).
pub(crate) fn finish_spawn<H: HasThread>(
    mut registered: Registered,
    spawned: io::Result<H>,
) -> io::Result<(Arc<Entry>, H)> {
    let h = spawned?;
    let entry = registered.0.take().expect("killable: finish_spawn takes the entry once");
    let _ = entry.thread.set(h.thread().clone());
    Ok((entry, h))
}

/// Ends `entry`'s life as a killable thread, on every path (the thread's
/// exit, or a spawn that failed): kills are refused from now on, joiners are
/// woken, the registry forgets it. Then raises still queued are dropped, one
/// at a time and each panic contained (their `Drop` is user code), after
/// every lock is released.
fn retire(entry: &Entry) {
    let undelivered = entry.state.finish();
    entry::remove(entry);
    for value in undelivered {
        drop_contained(value);
    }
}

pub(crate) trait HasThread {
    fn thread(&self) -> &Thread;
}

/// A std join handle of a killable thread's body: scoped or not.
pub(crate) trait JoinBody<T>: HasThread {
    fn join_body(self) -> std::thread::Result<Result<T, JoinError>>;
}
impl<T> JoinBody<T> for JoinHandle<Result<T, JoinError>> {
    fn join_body(self) -> std::thread::Result<Result<T, JoinError>> {
        self.join()
    }
}
impl<T> JoinBody<T> for std::thread::ScopedJoinHandle<'_, Result<T, JoinError>> {
    fn join_body(self) -> std::thread::Result<Result<T, JoinError>> {
        self.join()
    }
}

/// The join of both handle kinds: killable while it waits for the body's
/// end, then std's join for the result.
pub(crate) fn join<T>(entry: &Entry, handle: impl JoinBody<T>) -> Result<T, JoinError> {
    crate::wait::until_ended(entry, None);
    flatten(handle.join_body())
}

/// [`join`], giving up after `timeout`: the handle comes back in `Err`.
pub(crate) fn join_timeout<T, H: JoinBody<T>>(
    entry: &Entry,
    handle: H,
    timeout: std::time::Duration,
) -> Result<Result<T, JoinError>, H> {
    let deadline = Instant::now().checked_add(timeout);
    if crate::wait::until_ended(entry, deadline) {
        Ok(flatten(handle.join_body()))
    } else {
        Err(handle)
    }
}
impl<T> HasThread for JoinHandle<T> {
    fn thread(&self) -> &Thread {
        JoinHandle::thread(self)
    }
}
impl<T> HasThread for std::thread::ScopedJoinHandle<'_, T> {
    fn thread(&self) -> &Thread {
        std::thread::ScopedJoinHandle::thread(self)
    }
}

/// Tells joiners when the OS thread is done: dropped by the thread's last
/// thread-local destructor. Thread-local destructors run in the reverse
/// order of their registration (with glibc's `__cxa_thread_atexit_impl`,
/// and with std's own list where it keeps one), and `run` registers this one
/// before the body runs, so every destructor of the body's thread-locals,
/// and every one those register as they run, comes before it. A join waits
/// for it killably, then calls std's join, which then only waits for the
/// OS's teardown. (Where destructors ran in another order, the join would
/// wait in std's join for the rest, not killably, as before.)
struct EndSignal(std::cell::Cell<Option<Arc<crate::state::Inner>>>);

impl Drop for EndSignal {
    fn drop(&mut self) {
        if let Some(state) = self.0.take() {
            state.mark_ended();
        }
    }
}

thread_local! {
    static END: EndSignal = const { EndSignal(std::cell::Cell::new(None)) };
}

/// The body of every killable thread: install the state, run `f` catching
/// every unwind, and leave the registry on every path.
pub(crate) fn run<T>(
    entry: &Arc<Entry>,
    deadline: Option<Instant>,
    f: impl FnOnce() -> T,
) -> Result<T, JoinError> {
    /// Runs on every exit path, before thread-locals are destroyed, so that
    /// checkpoints in thread-local destructors find no state and never
    /// deliver.
    struct Exit<'a> {
        entry: &'a Arc<Entry>,
        installed: Option<local::Installed>,
        timer: Option<TimerKey>,
    }
    impl Drop for Exit<'_> {
        fn drop(&mut self) {
            drop(self.installed.take());
            if let Some(key) = self.timer.take() {
                timer::cancel(key);
            }
            retire(self.entry);
        }
    }

    if END.try_with(|end| end.0.set(Some(entry.state.clone()))).is_err() {
        // Unreachable (thread-locals are destroyed only after this frame);
        // if it were, the joins would fall back to std's join alone.
        entry.state.mark_ended();
    }
    let me = std::thread::current();
    entry.state.set_thread(me.clone());
    let _ = entry.thread.set(me);
    let installed = Some(local::install(&entry.state));
    let timer = deadline.map(|at| at_deadline(at, &entry.state, |s| s.terminate_claiming().1));
    let exit = Exit {
        entry,
        installed,
        timer,
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        // A kill sent before the thread started lands before `f` runs.
        deliver_pending(&entry.state);
        f()
    }));
    drop(exit);
    let result = classify(result);
    crate::trace::exit(match &result {
        Ok(_) => "returned",
        Err(JoinError::Terminated) => "terminated",
        Err(JoinError::Raised(_)) => "raised",
        Err(JoinError::Panicked(_)) => "panicked",
    });
    result
}

fn classify<T>(result: std::thread::Result<T>) -> Result<T, JoinError> {
    match result {
        Ok(v) => Ok(v),
        Err(payload) => match payload.downcast::<Kill>() {
            Ok(kill) => match *kill {
                Kill::Raise(v) => Err(JoinError::Raised(Payload::from(v))),
                // A deadline always stops at its own `with_timeout`; one that
                // got this far was swallowed and its scope is gone. Report it
                // as the termination it amounts to.
                Kill::Terminate | Kill::Deadline(_) => Err(JoinError::Terminated),
            },
            Err(payload) => Err(JoinError::Panicked(Payload::from(payload))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    use crate::wait;

    /// A spawn that fails, by error or by a panic inside std's spawn, wakes a
    /// joiner already waiting and leaves nothing registered.
    fn retired_on(fail: impl FnOnce(Registered)) {
        let (_, registered, _) = prepare(None, None, None).unwrap();
        let entry = Arc::clone(&registered);
        let (tx, rx) = mpsc::channel();
        let waiter = {
            let entry = entry.clone();
            std::thread::spawn(move || {
                tx.send(()).unwrap();
                wait::until_finished(&entry, None)
            })
        };
        rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20)); // let it park
        fail(registered);
        assert!(waiter.join().unwrap(), "the joiner was woken, the entry finished");
        assert!(entry.state.is_finished() && entry.state.has_ended());
        assert_eq!(
            Arc::strong_count(&entry),
            1,
            "the registry and the guard let go of the entry"
        );
    }

    #[test]
    fn a_refused_spawn_retires_its_entry() {
        retired_on(|registered| {
            let refused: io::Result<JoinHandle<()>> = Err(io::Error::other("refused"));
            assert!(finish_spawn(registered, refused).is_err());
        });
    }

    #[test]
    fn a_spawn_that_panics_retires_its_entry() {
        retired_on(|registered| {
            let r = catch_unwind(AssertUnwindSafe(move || {
                let _registered = registered;
                panic!("a panic inside std's spawn");
            }));
            assert!(r.is_err());
        });
    }
}
