//! Every live killable thread, for inspection and process-wide shutdown.
//!
//! A thread is listed from the moment its `spawn` call registers it (before
//! the OS thread starts, so [`terminate_all`] cannot miss a thread being
//! spawned concurrently: it is either reached or spawned after the call) until
//! its body has returned or unwound; a guard removes it on every exit path.
//! Insert and remove are O(1) (a hash map under one mutex); checkpoints never
//! touch the registry.
//!
//! # Examples
//!
//! ```
//! use killable::{registry, KillableThread};
//! use std::time::Duration;
//!
//! let t = KillableThread::spawn(|| loop { killable::checkpoint() });
//! assert!(registry::threads().iter().any(|i| i.id() == t.id()));
//! // Shutdown: terminate everything, then wait for it all to unwind.
//! assert!(registry::terminate_all() >= 1);
//! assert!(registry::join_all(Duration::from_secs(10)).is_empty());
//! assert!(t.join().unwrap_err().is_terminated());
//! ```

use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use std::sync::Arc;
use std::thread::{Thread, ThreadId};
use std::time::{Duration, Instant};

use crate::state::Inner;
use crate::killer::Killer;
use crate::wait;

use crate::entry::{snapshot, Entry};
pub use crate::entry::RunState;

#[cfg(feature = "diagnostics")]
pub use crate::diag::LastCheckpoint;
#[cfg(feature = "tracing")]
pub use crate::stall::warn_stalled_after;

/// Heap bytes the runtime keeps per registered thread, by `size_of`: the
/// shared `Entry` and its kill state (each an `Arc` allocation, counts
/// included) and one slot of the registry's map (key, value and control
/// byte). Excludes the thread's name and the OS thread itself. Reported by
/// the benchmarks; not public API.
///
/// # Examples
///
/// ```
/// assert!(killable::registry::__entry_footprint() > 0);
/// ```
#[doc(hidden)]
pub fn __entry_footprint() -> usize {
    use std::mem::size_of;
    let arc_counts = 2 * size_of::<usize>();
    (arc_counts + size_of::<Entry>())
        + (arc_counts + size_of::<Inner>())
        + (size_of::<(u64, Arc<Entry>)>() + 1)
}


/// A snapshot of one live killable thread, from [`threads`].
///
/// # Examples
///
/// ```
/// use killable::{registry, KillableThread};
///
/// let t = KillableThread::spawn(|| loop { killable::checkpoint() });
/// let info = registry::info(t.id()).unwrap();
/// info.killer().terminate(); // a snapshot still reaches the live thread
/// assert!(t.join().unwrap_err().is_terminated());
/// ```
#[derive(Clone)]
pub struct ThreadInfo {
    entry: Arc<Entry>,
    id: ThreadId,
    state: RunState,
    pending_for: Option<Duration>,
    #[cfg(feature = "diagnostics")]
    last_checkpoint: Option<LastCheckpoint>,
}

impl ThreadInfo {
    /// The thread's id.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| loop { killable::checkpoint() });
    /// let ids: Vec<_> = killable::registry::threads().iter().map(|i| i.id()).collect();
    /// assert!(ids.contains(&t.id()));
    /// t.terminate();
    /// let _ = t.join();
    /// ```
    pub fn id(&self) -> ThreadId {
        self.id
    }
    /// The name given with [`Builder::name`](crate::Builder::name).
    ///
    /// # Examples
    ///
    /// ```
    /// use killable::{registry, Builder, KillableThread};
    ///
    /// let named = Builder::new().name("fetcher".into()).spawn(|| loop { killable::checkpoint() }).unwrap();
    /// let anon = KillableThread::spawn(|| loop { killable::checkpoint() });
    /// let name_of = |id| registry::info(id).unwrap().name().map(String::from);
    /// assert_eq!(name_of(named.id()).as_deref(), Some("fetcher"));
    /// assert_eq!(name_of(anon.id()), None);
    /// named.terminate();
    /// anon.terminate();
    /// let _ = (named.join(), anon.join());
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.entry.name.as_deref()
    }
    /// What it was doing when the snapshot was taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use killable::registry::{self, RunState};
    /// use killable::KillableThread;
    /// use std::time::Duration;
    ///
    /// let (tx, rx) = killable::sync::mpsc::channel::<()>();
    /// let t = KillableThread::spawn(move || rx.recv());
    /// // Blocked once it is inside the killable receive.
    /// while registry::info(t.id()).unwrap().state() != RunState::Blocked {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// tx.send(()).unwrap();
    /// assert_eq!(t.join().unwrap(), Ok(()));
    /// ```
    pub fn state(&self) -> RunState {
        self.state
    }
    /// When it was spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    ///
    /// let before = Instant::now();
    /// let t = killable::KillableThread::spawn(|| loop { killable::checkpoint() });
    /// let info = killable::registry::info(t.id()).unwrap();
    /// assert!(before <= info.started_at() && info.started_at() <= Instant::now());
    /// t.terminate();
    /// let _ = t.join();
    /// ```
    pub fn started_at(&self) -> Instant {
        self.entry.started_at
    }
    /// A handle to raise into or terminate it.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| loop { killable::checkpoint() });
    /// let info = killable::registry::info(t.id()).unwrap();
    /// info.killer().raise(7_u8).unwrap();
    /// assert_eq!(t.join().unwrap_err().downcast_raised::<u8>().unwrap(), 7);
    /// ```
    pub fn killer(&self) -> Killer {
        Killer::from_entry(self.entry.clone())
    }
    /// How long a kill had waited for this thread, as of the snapshot:
    /// since the kill was sent, or since the thread last took one while more
    /// is pending (a `terminate` stays pending until the thread exits).
    /// `None` when nothing was pending.
    ///
    /// A thread that answers its kills shows a few microseconds here; one
    /// that shows seconds runs code without checkpoints (see [`stalled`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use killable::{registry, KillableThread};
    /// use std::time::Duration;
    ///
    /// let t = KillableThread::spawn(|| loop { killable::checkpoint() });
    /// let info = registry::info(t.id()).unwrap();
    /// assert_eq!(info.pending_for(), None);
    /// t.terminate();
    /// assert!(t.join().unwrap_err().is_terminated());
    /// ```
    pub fn pending_for(&self) -> Option<Duration> {
        self.pending_for
    }
    /// Where and when it last passed a checkpoint, as of the snapshot; `None`
    /// if it has not passed one yet. Only with the cargo feature
    /// `diagnostics`.
    ///
    /// A thread that is [`Running`](RunState::Running) with a last
    /// checkpoint long ago is stuck in code without checkpoints: a call
    /// that is not killable, a callee without `#[killable]`, FFI.
    ///
    /// # Examples
    ///
    /// ```
    /// use killable::{registry, KillableThread};
    /// use std::time::Duration;
    ///
    /// let t = KillableThread::spawn(|| {
    ///     killable::checkpoint();
    ///     std::thread::sleep(Duration::from_millis(100)); // not killable
    /// });
    /// std::thread::sleep(Duration::from_millis(20));
    /// for info in registry::threads() {
    ///     if let Some(last) = info.last_checkpoint() {
    ///         println!("{:?} {:?}: last checkpoint at {last}", info.name(), info.state());
    ///     }
    /// }
    /// t.join().unwrap();
    /// ```
    #[cfg(feature = "diagnostics")]
    pub fn last_checkpoint(&self) -> Option<LastCheckpoint> {
        self.last_checkpoint
    }
}

impl fmt::Debug for ThreadInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ThreadInfo");
        d.field("id", &self.id)
            .field("name", &self.name())
            .field("state", &self.state)
            .field("running_for", &self.entry.started_at.elapsed())
            .field("pending_for", &self.pending_for);
        #[cfg(feature = "diagnostics")]
        d.field("last_checkpoint", &self.last_checkpoint);
        d.finish()
    }
}

fn snapshot_of(entry: Arc<Entry>) -> Option<ThreadInfo> {
    let id = entry.thread.get()?.id();
    let state = RunState::of(&entry);
    let pending_since = entry.state.pending_since();
    Some(ThreadInfo {
        #[cfg(feature = "diagnostics")]
        last_checkpoint: entry.state.last_checkpoint.last(),
        entry,
        id,
        state,
        pending_for: pending_since.map(|t| t.elapsed()),
    })
}

/// Lists the live killable threads, in no particular order.
///
/// A thread leaves the list as soon as its body has returned or unwound, so
/// a finished thread is never listed. A thread whose `spawn` call is still in
/// progress may be missing.
///
/// # Examples
///
/// ```
/// use killable::{registry, Builder};
///
/// let t = Builder::new().name("indexer".into()).spawn(|| loop { killable::sleep(std::time::Duration::from_millis(5)) }).unwrap();
/// let listed = registry::info(t.id()).unwrap();
/// assert_eq!(listed.name(), Some("indexer"));
/// t.terminate();
/// t.join().unwrap_err();
/// assert!(registry::threads().iter().all(|i| i.id() != listed.id()));
/// ```
pub fn threads() -> Vec<ThreadInfo> {
    snapshot().into_iter().filter_map(snapshot_of).collect()
}

/// The live killable thread `id`, if it is one: its entry of [`threads`],
/// without building the others'.
///
/// # Examples
///
/// ```
/// use killable::{registry, KillableThread};
///
/// let t = KillableThread::spawn(|| loop { killable::checkpoint() });
/// assert_eq!(registry::info(t.id()).unwrap().id(), t.id());
/// assert!(registry::info(std::thread::current().id()).is_none()); // not killable
/// t.terminate();
/// let id = t.id();
/// assert!(t.join().unwrap_err().is_terminated());
/// assert!(registry::info(id).is_none()); // ended
/// ```
pub fn info(id: ThreadId) -> Option<ThreadInfo> {
    snapshot()
        .into_iter()
        .find(|e| e.thread.get().map(Thread::id) == Some(id))
        .and_then(snapshot_of)
}

/// Lists the live killable threads that have had a kill pending for at
/// least `min`, longest first: the threads that ignore their kills.
///
/// A thread answers a kill at its next checkpoint. One listed here is
/// running code without checkpoints: a callee without `#[killable]`, a
/// blocking call that is not killable (wrap it in
/// [`interruptible`](crate::interruptible)), FFI, or a long
/// [`shield`](crate::shield). A terminated thread whose unwind is slow
/// (destructors that take seconds) is listed too: `terminate` stays pending
/// until the thread exits. [`ThreadInfo::pending_for`] says how long; with
/// the cargo feature `diagnostics`, `ThreadInfo::last_checkpoint` says
/// where it was last seen. The crate guide's section "My thread does not
/// die" walks through it.
///
/// The figures come from the time the killer recorded when it sent the
/// kill; checkpoints do not read a clock for them.
///
/// # Examples
///
/// ```
/// use killable::{registry, KillableThread};
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// // No `#[killable]` on this loop: nothing can land in it.
/// fn spin_until(stop: &AtomicBool) {
///     while !stop.load(Ordering::Relaxed) {
///         std::thread::sleep(Duration::from_millis(1));
///     }
/// }
///
/// let stop = Arc::new(AtomicBool::new(false));
/// let s = stop.clone();
/// let (started, wait_start) = std::sync::mpsc::channel();
/// let t = KillableThread::spawn(move || {
///     started.send(()).unwrap();
///     spin_until(&s)
/// });
/// wait_start.recv().unwrap(); // past the checkpoint at the thread's start
/// t.terminate();
/// std::thread::sleep(Duration::from_millis(50));
/// let stuck = registry::stalled(Duration::from_millis(50));
/// assert!(stuck.iter().any(|i| i.id() == t.id()));
/// assert!(stuck[0].pending_for().unwrap() >= Duration::from_millis(50));
/// stop.store(true, Ordering::Relaxed);
/// t.join().unwrap(); // it returned: no checkpoint ever delivered the kill
/// ```
pub fn stalled(min: Duration) -> Vec<ThreadInfo> {
    let mut stuck: Vec<ThreadInfo> = threads()
        .into_iter()
        .filter(|i| i.pending_for.is_some_and(|d| d >= min))
        .collect();
    stuck.sort_unstable_by_key(|i| std::cmp::Reverse(i.pending_for));
    stuck
}

/// A [`Killer`] for the calling thread if it is a
/// [`KillableThread`](crate::KillableThread) (or a scoped one), `None` on
/// any other thread, including one that is only inside
/// [`with_timeout`](crate::with_timeout) or
/// [`CancelToken::run`](crate::CancelToken::run): no killer may reach a
/// thread that the runtime does not own.
///
/// Hand it to code that should be able to stop this thread, such as a
/// watchdog. On a killable thread it looks the thread up under the
/// registry's lock, in time linear in the number of killable threads;
/// elsewhere it reads a thread-local and returns.
///
/// # Examples
///
/// ```
/// use killable::KillableThread;
///
/// assert!(killable::current().is_none()); // the main thread is not killable
/// let t = KillableThread::spawn(|| {
///     let me = killable::current().expect("a killable thread");
///     me.terminate(); // stops itself at the next checkpoint
///     loop { killable::checkpoint() }
/// });
/// assert!(t.join().unwrap_err().is_terminated());
/// ```
pub fn current() -> Option<Killer> {
    let state = crate::local::with_current(|inner| inner.map(|i| i as *const Inner))?;
    crate::entry::find(|e| Arc::as_ptr(&e.state) == state).map(Killer::from_entry)
}

/// Terminates every live killable thread except the caller, and returns how
/// many were reached.
///
/// Threads being spawned concurrently are either reached or registered after
/// this call's snapshot. Combine with [`join_all`] for a graceful shutdown.
///
/// # Panics
///
/// If a thread's [`interruptible`](crate::interruptible) hook panics: every
/// thread is terminated first, then the first hook's panic is resumed here
/// (the others are dropped).
///
/// # Examples
///
/// ```
/// use killable::{registry, KillableThread};
/// use std::time::Duration;
///
/// let workers: Vec<_> = (0..4)
///     .map(|_| KillableThread::spawn(|| loop { killable::sleep(Duration::from_millis(5)) }))
///     .collect();
/// assert!(registry::terminate_all() >= 4);
/// assert!(registry::join_all(Duration::from_secs(10)).is_empty());
/// for w in workers {
///     assert!(w.join().unwrap_err().is_terminated());
/// }
/// ```
pub fn terminate_all() -> usize {
    let me = std::thread::current().id();
    let mut all = snapshot();
    // In spawn order, not the map's: waking 10,000 threads in hash order
    // touches their states (and the kernel's) cache- and TLB-cold, and costs
    // the caller several times the CPU time of spawn order (`cargo bench`,
    // "scale", measures it).
    all.sort_unstable_by_key(|e| e.key);
    let mut reached = 0;
    let mut first_panic = None;
    for e in all {
        if e.thread.get().map(Thread::id) == Some(me) {
            continue;
        }
        // A thread's `interruptible` hook runs here, and may panic: the kill
        // is recorded by then, and the other threads must still be reached.
        match catch_unwind(AssertUnwindSafe(|| e.state.terminate())) {
            Ok(r) => reached += r as usize,
            Err(payload) => {
                reached += 1;
                match first_panic {
                    None => first_panic = Some(payload),
                    // Only the first panic goes on. The payload's drop is
                    // user code too; a panic out of it is forgotten.
                    Some(_) => {
                        if let Err(p) = catch_unwind(AssertUnwindSafe(|| drop(payload))) {
                            std::mem::forget(p);
                        }
                    }
                }
            }
        }
    }
    crate::trace::terminate_all(reached);
    if reached > 0 {
        crate::stall::kick();
    }
    if let Some(payload) = first_panic {
        resume_unwind(payload);
    }
    reached
}

/// Waits up to `timeout` for every live killable thread (except the caller)
/// to finish, and returns the ones that did not.
///
/// This waits for their bodies to end; it does not consume their handles
/// (join those for their results). Called from a killable thread, the wait is
/// itself killable.
///
/// # Examples
///
/// ```
/// use killable::{registry, KillableThread};
/// use std::time::Duration;
///
/// let stuck = KillableThread::spawn(|| loop { killable::sleep(Duration::from_millis(5)) });
/// let late = registry::join_all(Duration::from_millis(50));
/// assert!(late.iter().any(|i| i.id() == stuck.id()));
/// stuck.terminate();
/// assert!(stuck.join().unwrap_err().is_terminated());
/// ```
pub fn join_all(timeout: Duration) -> Vec<ThreadInfo> {
    let deadline = Instant::now().checked_add(timeout);
    let me = std::thread::current().id();
    let mut late = Vec::new();
    for e in snapshot() {
        if e.thread.get().map(Thread::id) == Some(me) {
            continue;
        }
        if !wait::until_finished(&e, deadline) {
            late.extend(snapshot_of(e));
        }
    }
    late
}

/// How many panics the runtime has caught in the `Drop` of raised values
/// and panic payloads since the process started.
///
/// A raised value's `Drop` is user code, and the runtime drops such values
/// itself: raises still queued when a thread ends (one at a time, on that
/// thread, as it exits), and the value inside a [`JoinError`](crate::JoinError)
/// (a [`Payload`](crate::Payload)) that is dropped, joined or not. A panic
/// there is caught and counted here; the panic hook reports it as usual,
/// and the thread's result stays what its body produced. With the cargo
/// feature `tracing`, each one is also a `drop panicked` event.
///
/// # Examples
///
/// ```
/// use killable::{registry, KillableThread};
///
/// struct Grenade;
/// impl Drop for Grenade {
///     fn drop(&mut self) { panic!("boom on drop") }
/// }
///
/// let before = registry::drop_panics();
/// let t = KillableThread::spawn(|| loop { killable::checkpoint() });
/// t.raise(Grenade).unwrap_or_else(|_| unreachable!());
/// drop(t.join().unwrap_err()); // dropping the error drops the Grenade
/// assert!(registry::drop_panics() > before);
/// ```
pub fn drop_panics() -> u64 {
    crate::error::drop_panics()
}
