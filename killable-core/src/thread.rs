//! Spawning killable threads, and the handles that kill and join them.

use std::any::Any;
use std::fmt;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::{JoinHandle, Thread, ThreadId};
use std::time::{Duration, Instant};

use crate::checkpoint::deliver_pending;
use crate::error::{drop_contained, JoinError, Payload};
use crate::local;
use crate::entry::{self, Entry};
use crate::killer::Killer;
use crate::state::Kill;
use crate::timer::{self, TimerKey};
use crate::wait;



/// An owned handle to a killable thread: std's `JoinHandle` plus
/// [`raise`](Self::raise) and [`terminate`](Self::terminate).
///
/// Dropping it detaches the thread (it keeps running, and stays reachable
/// through [`registry`](crate::registry)).
///
/// # Examples
///
/// ```
/// use killable::{killable, KillableThread};
///
/// #[killable]
/// fn count_forever() -> u64 {
///     let mut n = 0u64;
///     loop {
///         n = n.wrapping_add(1);
///     }
/// }
///
/// let t: KillableThread<u64> = KillableThread::spawn(count_forever);
/// assert!(t.is_alive());
/// t.terminate();
/// assert!(t.join().unwrap_err().is_terminated());
/// ```
#[must_use = "dropping a KillableThread detaches the thread; join it or keep a Killer"]
pub struct KillableThread<T> {
    killer: Killer,
    handle: JoinHandle<Result<T, JoinError>>,
}

impl<T: Send + 'static> KillableThread<T> {
    /// Spawns a killable thread running `f`, like [`std::thread::spawn`].
    ///
    /// # Panics
    ///
    /// If the OS refuses to create a thread; use [`Builder::spawn`] to get
    /// the error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| 6 * 7);
    /// assert_eq!(t.join().unwrap(), 42);
    /// ```
    pub fn spawn<F>(f: F) -> KillableThread<T>
    where
        F: FnOnce() -> T + Send + 'static,
    {
        Builder::new()
            .spawn(f)
            .expect("killable: failed to spawn thread")
    }
}

impl<T> KillableThread<T> {
    /// See [`Killer::raise`].
    ///
    /// # Errors
    ///
    /// Hands `exc` back if it was not accepted (the thread has finished, is
    /// being terminated, or has a full queue of raises).
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Debug)]
    /// struct Reload { generation: u32 }
    ///
    /// let t = killable::KillableThread::spawn(|| loop { killable::checkpoint() });
    /// t.raise(Reload { generation: 2 }).unwrap();
    /// let err = t.join().unwrap_err();
    /// assert_eq!(err.downcast_raised::<Reload>().unwrap().generation, 2);
    /// ```
    pub fn raise<E: Any + Send + 'static>(&self, exc: E) -> Result<(), E> {
        self.killer.raise(exc)
    }

    /// See [`Killer::terminate`].
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| loop { killable::checkpoint() });
    /// t.terminate();
    /// assert!(t.join().unwrap_err().is_terminated());
    /// ```
    pub fn terminate(&self) {
        self.killer.terminate();
    }

    /// Waits for the thread to finish and returns its result, like
    /// [`std::thread::JoinHandle::join`], with the way it was killed in the
    /// error. Like std's, it waits for the thread's thread-local destructors
    /// too. Called from a killable thread, the whole wait is killable
    /// (thread-local destructors included).
    ///
    /// # Errors
    ///
    /// [`JoinError::Terminated`], [`JoinError::Raised`] (an uncaught raise,
    /// with its value) or [`JoinError::Panicked`] (with the payload).
    ///
    /// # Panics
    ///
    /// If called on the thread's own handle from inside that thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| "done");
    /// assert_eq!(t.join().unwrap(), "done");
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        wait::until_ended(self.killer.entry(), None);
        flatten(self.handle.join())
    }

    /// Like [`join`](Self::join), but gives up after `timeout`, handing the
    /// handle back in `Err` so the caller can terminate it and try again.
    ///
    /// The two layers of `Result` answer two questions. The outer one: did
    /// the thread end in time? `Err(handle)` means no, and gives the handle
    /// back, since a running thread must not be detached by accident. The
    /// inner one is what [`join`](Self::join) returns: how the thread ended.
    /// The usual pattern is a `match` on both, or "ask, then insist":
    ///
    /// ```
    /// use std::time::Duration;
    /// use killable::{JoinError, KillableThread};
    ///
    /// fn stop<T>(t: KillableThread<T>) -> Result<T, JoinError> {
    ///     match t.join_timeout(Duration::from_millis(50)) {
    ///         Ok(ended) => ended,          // ended by itself, in time
    ///         Err(still_running) => {      // too slow: insist
    ///             still_running.terminate();
    ///             still_running.join()
    ///         }
    ///     }
    /// }
    ///
    /// let t = KillableThread::spawn(|| loop { killable::sleep(Duration::from_millis(5)) });
    /// assert!(stop(t).unwrap_err().is_terminated());
    /// assert_eq!(stop(KillableThread::spawn(|| 7)).unwrap(), 7);
    /// ```
    ///
    /// # Errors
    ///
    /// `Err(self)` if the thread is still running after `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = killable::KillableThread::spawn(|| loop { killable::sleep(Duration::from_millis(5)) });
    /// let t = t.join_timeout(Duration::from_millis(20)).unwrap_err(); // still running
    /// t.terminate();
    /// let result = t.join_timeout(Duration::from_secs(10)).ok().unwrap();
    /// assert!(result.unwrap_err().is_terminated());
    /// ```
    pub fn join_timeout(self, timeout: Duration) -> Result<Result<T, JoinError>, Self> {
        let deadline = Instant::now().checked_add(timeout);
        if wait::until_ended(self.killer.entry(), deadline) {
            Ok(flatten(self.handle.join()))
        } else {
            Err(self)
        }
    }

    /// Whether the thread's body is still running.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| loop { killable::checkpoint() });
    /// assert!(t.is_alive());
    /// t.terminate();
    /// # t.join().unwrap_err();
    /// ```
    pub fn is_alive(&self) -> bool {
        self.killer.is_alive()
    }

    /// Whether the thread's body has returned or unwound (then
    /// [`join`](Self::join) waits at most for its thread-local destructors).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| ());
    /// while !t.is_finished() { std::thread::yield_now(); }
    /// t.join().unwrap();
    /// ```
    pub fn is_finished(&self) -> bool {
        self.killer.is_finished()
    }

    /// The thread's id.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| std::thread::current().id());
    /// let id = t.id();
    /// assert_eq!(t.join().unwrap(), id);
    /// ```
    pub fn id(&self) -> ThreadId {
        self.killer.id()
    }

    /// The underlying [`Thread`], e.g. to unpark it.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::Builder::new().name("w".into()).spawn(|| ()).unwrap();
    /// assert_eq!(t.thread().name(), Some("w"));
    /// # t.join().unwrap();
    /// ```
    pub fn thread(&self) -> &Thread {
        self.handle.thread()
    }

    /// A [`Killer`] for this thread, to hand to other threads.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| loop { killable::checkpoint() });
    /// let k = t.killer();
    /// k.terminate();
    /// assert!(t.join().unwrap_err().is_terminated());
    /// ```
    pub fn killer(&self) -> Killer {
        self.killer.clone()
    }
}

impl<T> fmt::Debug for KillableThread<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KillableThread")
            .field("id", &self.id())
            .field("name", &self.killer.name())
            .field("alive", &self.is_alive())
            .finish()
    }
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

/// Configures a killable thread before spawning it, like
/// [`std::thread::Builder`], plus a [`deadline`](Self::deadline).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let t = killable::Builder::new()
///     .name("crawler".to_string())
///     .stack_size(256 * 1024)
///     .deadline(Instant::now() + Duration::from_millis(20))
///     .spawn(|| loop { killable::sleep(Duration::from_millis(1)) })
///     .unwrap();
/// assert!(t.join().unwrap_err().is_terminated()); // terminated at its deadline
/// ```
#[derive(Debug, Default)]
#[must_use = "a Builder does nothing until spawn is called"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    deadline: Option<Instant>,
}

impl Builder {
    /// A builder with no name, the default stack size and no deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::Builder::new().spawn(|| 1).unwrap();
    /// assert_eq!(t.join().unwrap(), 1);
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the thread (shown in panic messages and
    /// [`registry::threads`](crate::registry::threads)).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::Builder::new().name("a".into()).spawn(|| std::thread::current().name().map(String::from)).unwrap();
    /// assert_eq!(t.join().unwrap().as_deref(), Some("a"));
    /// ```
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Sets the stack size in bytes, as [`std::thread::Builder::stack_size`].
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::Builder::new().stack_size(64 * 1024).spawn(|| 1).unwrap();
    /// assert_eq!(t.join().unwrap(), 1);
    /// ```
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    /// Terminates the thread at `deadline` if it is still running then (its
    /// join gives [`JoinError::Terminated`]). A deadline in the past
    /// terminates it at its first checkpoint.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let t = killable::Builder::new()
    ///     .deadline(Instant::now() + Duration::from_secs(60))
    ///     .spawn(|| "finished early")
    ///     .unwrap();
    /// assert_eq!(t.join().unwrap(), "finished early");
    /// ```
    pub fn deadline(mut self, deadline: Instant) -> Builder {
        self.deadline = Some(deadline);
        self
    }

    /// Spawns the thread.
    ///
    /// # Errors
    ///
    /// The OS's error if it refuses to create the thread (e.g. a stack size
    /// it cannot provide), or [`io::ErrorKind::InvalidInput`] if the name
    /// contains a NUL byte. Nothing is left registered then.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::Builder::new().spawn(|| 2 + 2)?;
    /// assert_eq!(t.join().unwrap(), 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn<F, T>(self, f: F) -> io::Result<KillableThread<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (std_builder, entry, deadline) = self.prepare()?;
        let run_entry = entry.clone();
        let spawned = std_builder.spawn(move || run(&run_entry, deadline, f));
        let (entry, handle) = finish_spawn(entry, spawned)?;
        Ok(KillableThread {
            killer: Killer::from_entry(entry),
            handle,
        })
    }

    /// Spawns a scoped killable thread, as
    /// [`std::thread::Builder::spawn_scoped`].
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// let data = vec![1, 2, 3];
    /// killable::scope(|s| {
    ///     let t = killable::Builder::new().name("sum".into()).spawn_scoped(s, || data.iter().sum::<i32>()).unwrap();
    ///     assert_eq!(t.join().unwrap(), 6);
    /// });
    /// ```
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope crate::scope::Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<crate::scope::ScopedKillableThread<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        scope.spawn_with(self, f)
    }

    /// Checks the configuration and registers the thread-to-be: pass the
    /// returned [`Registered`] to [`finish_spawn`] with std's spawn result.
    /// If anything in between panics, dropping it retires the entry.
    pub(crate) fn prepare(self) -> io::Result<(std::thread::Builder, Registered, Option<Instant>)> {
        let mut b = std::thread::Builder::new();
        if let Some(name) = &self.name {
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
        if let Some(size) = self.stack_size {
            b = b.stack_size(size);
        }
        let entry = Entry::new(self.name);
        // Registered before the OS thread exists, so that `terminate_all`
        // cannot miss a thread whose spawn overlaps it.
        entry::insert(&entry);
        Ok((b, Registered(Some(entry)), self.deadline))
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
        prev: *const crate::state::Inner,
        timer: Option<TimerKey>,
    }
    impl Drop for Exit<'_> {
        fn drop(&mut self) {
            local::set_current(self.prev);
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
    let prev = local::set_current(Arc::as_ptr(&entry.state));
    let timer = deadline.map(|at| {
        let weak = Arc::downgrade(entry);
        timer::schedule(
            at,
            Box::new(move || {
                if let Some(e) = weak.upgrade() {
                    if let (_, Some(hook)) = e.state.terminate_claiming() {
                        timer::run_hook_later(hook, e.state.clone());
                    }
                    // No event here (a subscriber must not hold up the timer thread),
                    // only the watcher's kick.
                    crate::stall::kick();
                }
            }),
        )
    });
    let exit = Exit { entry, prev, timer };
    let result = catch_unwind(AssertUnwindSafe(|| {
        // A kill sent before the thread started lands before `f` runs.
        deliver_pending(&entry.state);
        f()
    }));
    drop(exit);
    let result = classify(result);
    crate::trace::exit(&result);
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

    /// A spawn that fails, by error or by a panic inside std's spawn, wakes a
    /// joiner already waiting and leaves nothing registered.
    fn retired_on(fail: impl FnOnce(Registered)) {
        let (_, registered, _) = Builder::new().prepare().unwrap();
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
