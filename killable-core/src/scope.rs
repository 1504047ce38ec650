//! Scoped killable threads that borrow from the caller's stack.

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::io;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::thread::{ScopedJoinHandle, Thread, ThreadId};
use std::time::Duration;

use crate::catch::is_kill;
use crate::error::JoinError;
use crate::killer::Killer;
use crate::spawn::{self, finish_spawn, run};
use crate::thread::Builder;

/// A scope to spawn killable threads in; see [`scope`].
///
/// The same object as [`std::thread::Scope`], seen through this crate's API.
///
/// # Examples
///
/// ```
/// use killable::Scope;
///
/// fn sum_in_parallel<'scope, 'env>(s: &'scope Scope<'scope, 'env>, out: &'env mut [u64; 2]) {
///     for (i, total) in out.into_iter().enumerate() {
///         s.spawn(move || *total = (1..=10 * (i as u64 + 1)).sum());
///     }
/// }
///
/// let mut totals = [0; 2];
/// killable::scope(|s| sum_in_parallel(s, &mut totals)); // both joined here
/// assert_eq!(totals, [55, 210]);
/// ```
#[repr(transparent)]
pub struct Scope<'scope, 'env: 'scope> {
    std: std::thread::Scope<'scope, 'env>,
}

/// Creates a scope for spawning killable threads that borrow non-`'static`
/// data, like [`std::thread::scope`]. Every thread spawned in it is joined
/// before `scope` returns.
///
/// Scopes are structured, as Trio's nurseries are: a kill (a termination, a
/// raise, or an expired deadline of the calling thread) that unwinds out of
/// the body, or that arrives while `scope` waits for its threads after the
/// body returned, *terminates* every thread of the scope still running,
/// whatever the kind of kill (a raised value belongs to the caller's unwind,
/// and a child's deadline is not the caller's). `scope` then waits for them
/// and the kill goes on unwinding the caller. A termination does so as soon
/// as it starts to unwind the caller, before the body's destructors run (so
/// a guard in the body that joins a child on drop does not wait forever); a
/// raise or a deadline, which the body may catch, once it leaves the body.
/// A thread spawned into the scope after that is terminated at once. An ordinary panic of the body
/// leaves the threads running, as with `std::thread::scope`, which waits
/// for them before the panic goes on.
///
/// # Panics
///
/// If `f` panics, or if a thread in the scope panicked and was not joined
/// (as `std::thread::scope`). Threads that were terminated or ended with an
/// uncaught raise and were not joined do not make it panic.
///
/// # Examples
///
/// ```
/// use killable::{killable, scope};
///
/// #[killable]
/// fn search(haystack: &[u32], needle: u32) -> Option<usize> {
///     haystack.iter().position(|&x| x == needle)
/// }
///
/// let data: Vec<u32> = (0..10_000).collect();
/// let found = scope(|s| {
///     let a = s.spawn(|| search(&data[..5_000], 7_777));
///     let b = s.spawn(|| search(&data[5_000..], 7_777));
///     let hit = b.join().unwrap();
///     a.terminate(); // the other half is no longer needed
///     let _ = a.join();
///     hit
/// });
/// assert_eq!(found, Some(2_777));
/// ```
///
/// A kill of the caller reaches the scope's threads:
///
/// ```
/// use killable::{checkpoint, scope, with_timeout};
/// use std::time::Duration;
///
/// let r = with_timeout(Duration::from_millis(20), || {
///     scope(|s| {
///         s.spawn(|| loop { checkpoint() }); // terminated at the deadline
///         loop { checkpoint() }
///     })
/// });
/// assert!(r.is_err());
/// ```
pub fn scope<'env, F, R>(f: F) -> R
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
{
    // Outside `std::thread::scope`, so that it unregisters only once every
    // thread of the scope has ended (none can spawn into it any more).
    let children = Unregister(Cell::new(None));
    std::thread::scope(|s| {
        let key = children::key(s);
        children::open(key);
        children.0.set(Some(key));
        let s: *const std::thread::Scope<'_, 'env> = s;
        // SAFETY: `Scope` is `repr(transparent)` over `std::thread::Scope`,
        // so the pointer cast keeps layout, and the reference keeps the
        // lifetime std gave it.
        let ours = unsafe { &*s.cast::<Scope<'_, 'env>>() };
        let body = catch_unwind(AssertUnwindSafe(|| {
            let r = f(ours);
            // Killably, so that a kill arriving now still reaches them.
            children::wait_all(key);
            r
        }));
        match body {
            Ok(r) => r,
            Err(payload) => {
                if is_kill(&*payload) {
                    children::terminate_all(key);
                } else {
                    children::wait_all_while_panicking(key);
                }
                resume_unwind(payload)
            }
        }
    })
}

/// Forgets the scope's threads once `std::thread::scope` has joined them.
struct Unregister(Cell<Option<usize>>);

impl Drop for Unregister {
    fn drop(&mut self) {
        if let Some(key) = self.0.get() {
            children::forget(key);
        }
    }
}

/// The threads of every live scope, by the address of its
/// `std::thread::Scope` (unique while the scope lives; entries are removed
/// before it can be reused). A `Scope` is std's, seen through this crate, so
/// it has no room of its own for them.
mod children {
    use std::collections::HashMap;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::{LazyLock, Mutex};

    use crate::prim::lock;
    use crate::killer::Killer;

    #[derive(Default)]
    struct Children {
        /// The thread that called `scope`.
        owner: Option<std::thread::ThreadId>,
        killers: Vec<Killer>,
        /// A kill went through the scope: new threads are terminated at once.
        cancelled: bool,
    }

    static SCOPES: LazyLock<Mutex<HashMap<usize, Children>>> = LazyLock::new(Default::default);

    pub(super) fn key<T>(s: &T) -> usize {
        s as *const T as usize
    }

    /// Records scope `key` as opened by the calling thread.
    pub(super) fn open(key: usize) {
        crate::local::set_on_terminate(terminate_owned_by_current);
        lock(&SCOPES).entry(key).or_default().owner = Some(std::thread::current().id());
    }

    /// A termination is unwinding the calling thread: it is level-triggered
    /// and cannot be caught for good, so every scope this thread opened
    /// terminates its threads now, not after the body's destructors (one of
    /// which may be waiting for such a thread). Raises and deadlines, which
    /// the body may catch, wait until they leave the body.
    fn terminate_owned_by_current() {
        let me = std::thread::current().id();
        let keys: Vec<usize> = lock(&SCOPES)
            .iter()
            .filter(|(_, c)| c.owner == Some(me))
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            terminate_all(key);
        }
    }

    /// Records a new thread of scope `key`. Finished threads are pruned
    /// whenever the list would grow, so a long-lived scope that spawns many
    /// short threads keeps only the live ones.
    pub(super) fn add(key: usize, killer: &Killer) {
        let cancelled = {
            let mut scopes = lock(&SCOPES);
            let c = scopes.entry(key).or_default();
            if c.killers.len() == c.killers.capacity() {
                c.killers.retain(Killer::is_alive);
            }
            c.killers.push(killer.clone());
            c.cancelled
        };
        if cancelled {
            killer.terminate();
        }
    }

    fn live(key: usize) -> Vec<Killer> {
        lock(&SCOPES)
            .get(&key)
            .map(|c| c.killers.iter().filter(|k| k.is_alive()).cloned().collect())
            .unwrap_or_default()
    }

    /// Waits, killably, until every thread of the scope has finished.
    pub(super) fn wait_all(key: usize) {
        loop {
            let live = live(key);
            if live.is_empty() {
                return;
            }
            for k in &live {
                crate::wait::until_finished(k.entry(), None);
            }
        }
    }

    /// After an ordinary panic of the body: waits for the scope's threads
    /// (as std's scope would), unless a kill of the calling thread is or
    /// becomes pending. It cannot unwind a thread that is already panicking,
    /// but it must still reach the scope's threads, or the wait never ends:
    /// they are terminated, and std's scope then waits for them.
    pub(super) fn wait_all_while_panicking(key: usize) {
        let Some(me) = crate::local::current_arc() else {
            return; // not killable: nothing can arrive; std's wait is all
        };
        let thread = std::thread::current();
        let killed = || me.pending() != 0;
        loop {
            let live = live(key);
            if live.is_empty() {
                return;
            }
            for k in &live {
                if killed() {
                    terminate_all(key);
                    return;
                }
                let s = &*k.entry().state;
                if s.add_joiner(&thread) {
                    // A kill of this thread unparks it; the child's end
                    // unparks its joiners.
                    crate::wait::park_until(None, || s.is_finished() || killed());
                    s.remove_joiner(&thread);
                }
            }
        }
    }

    /// Terminates every thread of the scope, now and from now on.
    pub(super) fn terminate_all(key: usize) {
        if let Some(c) = lock(&SCOPES).get_mut(&key) {
            c.cancelled = true;
        }
        for k in live(key) {
            // A thread's `interruptible` hook runs here. We are on the way
            // out with the caller's kill, which must go on: a hook's panic
            // is contained (and a panic out of dropping it, forgotten).
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| k.terminate())) {
                if let Err(p) = catch_unwind(AssertUnwindSafe(|| drop(p))) {
                    std::mem::forget(p);
                }
            }
        }
    }

    pub(super) fn forget(key: usize) {
        let removed = lock(&SCOPES).remove(&key);
        // Dropped outside the lock.
        drop(removed);
    }
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Spawns a killable thread in the scope, like
    /// [`std::thread::Scope::spawn`].
    ///
    /// # Panics
    ///
    /// If the OS refuses to create a thread; use
    /// [`Builder::spawn_scoped`] to get the error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut hits = 0;
    /// killable::scope(|s| {
    ///     s.spawn(|| hits += 1);
    /// });
    /// assert_eq!(hits, 1);
    /// ```
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedKillableThread<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        self.spawn_with(Builder::new(), f)
            .expect("killable: failed to spawn scoped thread")
    }

    pub(crate) fn spawn_with<F, T>(
        &'scope self,
        builder: Builder,
        f: F,
    ) -> io::Result<ScopedKillableThread<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let (std_builder, entry, deadline) = builder.prepare()?;
        let run_entry = entry.clone();
        let spawned =
            std_builder.spawn_scoped(&self.std, move || match run(&run_entry, deadline, f) {
                // Handed to std as the panic it is, so that an unjoined panicked
                // thread makes the scope panic, as with `std::thread::scope`;
                // `join` turns it back into `JoinError::Panicked`.
                Err(JoinError::Panicked(payload)) => resume_unwind(payload.into_inner()),
                other => other,
            });
        let (entry, handle) = finish_spawn(entry, spawned)?;
        let killer = Killer::from_entry(entry);
        children::add(children::key(&self.std), &killer);
        Ok(ScopedKillableThread { killer, handle })
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope").finish_non_exhaustive()
    }
}

/// A handle to a killable thread spawned in a [`scope`]: the scoped
/// counterpart of [`KillableThread`](crate::KillableThread).
///
/// # Examples
///
/// ```
/// let limit = 3;
/// killable::scope(|s| {
///     let t: killable::ScopedKillableThread<'_, u32> = s.spawn(|| limit * 2); // borrows `limit`
///     assert_eq!(t.join().unwrap(), 6);
///     let spinner = s.spawn(|| loop { killable::checkpoint() });
///     spinner.terminate();
///     assert!(spinner.join().unwrap_err().is_terminated());
/// });
/// ```
#[must_use = "an unjoined scoped thread is joined when the scope ends; join it to see its result"]
pub struct ScopedKillableThread<'scope, T> {
    killer: Killer,
    handle: ScopedJoinHandle<'scope, Result<T, JoinError>>,
}

impl<T> ScopedKillableThread<'_, T> {
    /// See [`Killer::raise`].
    ///
    /// # Errors
    ///
    /// Hands `exc` back if it was not accepted.
    ///
    /// # Examples
    ///
    /// ```
    /// killable::scope(|s| {
    ///     let t = s.spawn(|| loop { killable::checkpoint() });
    ///     t.raise(5_i32).unwrap();
    ///     assert_eq!(t.join().unwrap_err().downcast_raised::<i32>().unwrap(), 5);
    /// });
    /// ```
    pub fn raise<E: Any + Send + 'static>(&self, exc: E) -> Result<(), E> {
        self.killer.raise(exc)
    }

    /// See [`Killer::terminate`].
    ///
    /// # Examples
    ///
    /// ```
    /// killable::scope(|s| {
    ///     let t = s.spawn(|| loop { killable::checkpoint() });
    ///     t.terminate();
    ///     assert!(t.join().unwrap_err().is_terminated());
    /// });
    /// ```
    pub fn terminate(&self) {
        self.killer.terminate();
    }

    /// See [`KillableThread::join`](crate::KillableThread::join).
    ///
    /// # Errors
    ///
    /// How the thread was killed, or its panic.
    ///
    /// # Examples
    ///
    /// ```
    /// let x = 20;
    /// killable::scope(|s| assert_eq!(s.spawn(|| x + 1).join().unwrap(), 21));
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        spawn::join(self.killer.entry(), self.handle)
    }

    /// See [`KillableThread::join_timeout`](crate::KillableThread::join_timeout).
    ///
    /// # Errors
    ///
    /// `Err(self)` if the thread is still running after `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// killable::scope(|s| {
    ///     let t = s.spawn(|| 3);
    ///     assert_eq!(t.join_timeout(Duration::from_secs(10)).ok().unwrap().unwrap(), 3);
    /// });
    /// ```
    pub fn join_timeout(self, timeout: Duration) -> Result<Result<T, JoinError>, Self> {
        let Self { killer, handle } = self;
        spawn::join_timeout(killer.entry(), handle, timeout).map_err(|handle| Self { killer, handle })
    }

    /// Whether the thread's body is still running.
    ///
    /// # Examples
    ///
    /// ```
    /// killable::scope(|s| {
    ///     let t = s.spawn(|| loop { killable::checkpoint() });
    ///     assert!(t.is_alive());
    ///     t.terminate();
    /// });
    /// ```
    pub fn is_alive(&self) -> bool {
        self.killer.is_alive()
    }

    /// Whether the thread's body has returned or unwound.
    ///
    /// # Examples
    ///
    /// ```
    /// killable::scope(|s| {
    ///     let t = s.spawn(|| ());
    ///     while !t.is_finished() { std::thread::yield_now(); }
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.killer.is_finished()
    }

    /// The thread's id.
    ///
    /// # Examples
    ///
    /// ```
    /// killable::scope(|s| {
    ///     let t = s.spawn(|| std::thread::current().id());
    ///     let id = t.id();
    ///     assert_eq!(t.join().unwrap(), id);
    /// });
    /// ```
    pub fn id(&self) -> ThreadId {
        self.killer.id()
    }

    /// The underlying [`Thread`].
    ///
    /// # Examples
    ///
    /// ```
    /// killable::scope(|s| {
    ///     let t = s.spawn(|| ());
    ///     let _unparker = t.thread().clone();
    /// });
    /// ```
    pub fn thread(&self) -> &Thread {
        self.handle.thread()
    }

    /// A [`Killer`] for this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// killable::scope(|s| {
    ///     let t = s.spawn(|| loop { killable::checkpoint() });
    ///     let k = t.killer();
    ///     s.spawn(move || k.terminate());
    ///     assert!(t.join().unwrap_err().is_terminated());
    /// });
    /// ```
    pub fn killer(&self) -> Killer {
        self.killer.clone()
    }
}

impl<T> fmt::Debug for ScopedKillableThread<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedKillableThread")
            .field("killer", &self.killer)
            .finish()
    }
}

/// `Builder::spawn_scoped` lives here, beside the scope it spawns into, so
/// that `thread` need not know scopes.
impl Builder {
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
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedKillableThread<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        scope.spawn_with(self, f)
    }
}
