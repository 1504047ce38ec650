//! One killable thread's identity and kill state ([`Entry`]), shared by the
//! thread, its handle, its killers and the registry, and what it is doing
//! ([`RunState`]). The ground that tracing, waits, killers and the registry
//! stand on.

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::thread::Thread;
use std::time::Instant;

use crate::prim::lock;
use crate::state::{Inner, DEADLINE, RAISE, TERMINATE};

/// One killable thread's state and identity, shared by the thread, its
/// handle, its `Killer`s and the registry.
pub(crate) struct Entry {
    pub(crate) state: Arc<Inner>,
    pub(crate) key: u64,
    pub(crate) name: Option<String>,
    pub(crate) started_at: Instant,
    /// Set by `spawn` once the OS thread exists (and by the thread itself,
    /// whichever comes first).
    pub(crate) thread: OnceLock<Thread>,
}

impl Entry {
    pub(crate) fn new(name: Option<String>) -> Arc<Entry> {
        Arc::new(Entry {
            state: Arc::new(Inner::new()),
            key: crate::prim::next_id(),
            name,
            started_at: Instant::now(),
            thread: OnceLock::new(),
        })
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("id", &self.thread.get().map(Thread::id))
            .field("name", &self.name)
            .field("state", &RunState::of(self))
            .finish()
    }
}

/// What a killable thread is doing, as far as the runtime can tell.
///
/// # Examples
///
/// A thread inside a [`shield`](crate::shield) holds kills back, so the
/// pending one shows in the snapshot:
///
/// ```
/// use killable::registry::{self, RunState};
/// use killable::KillableThread;
/// use std::sync::mpsc;
///
/// let (go, wait) = mpsc::channel::<()>();
/// let (ready, shielded) = mpsc::channel::<()>();
/// let t = KillableThread::spawn(move || {
///     killable::shield(|| {
///         ready.send(()).unwrap();
///         wait.recv().unwrap() // std recv: not killable
///     });
///     killable::checkpoint(); // the held-back kill lands here
/// });
/// shielded.recv().unwrap();
/// let state = || registry::info(t.id()).unwrap().state();
/// assert_eq!(state(), RunState::Running);
/// t.raise("stop").unwrap();
/// assert_eq!(state(), RunState::KillPending);
/// t.terminate();
/// assert_eq!(state(), RunState::Terminating);
/// go.send(()).unwrap();
/// assert!(t.join().unwrap_err().is_terminated());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunState {
    /// Running its body, nothing pending.
    Running,
    /// Waiting in a killable blocking operation or an
    /// [`interruptible`](crate::interruptible) call, nothing pending.
    Blocked,
    /// A raise or an expired deadline waits for the next checkpoint.
    KillPending,
    /// Terminated, and still unwinding (or stuck in a call that does not
    /// return).
    Terminating,
}

impl RunState {
    pub(crate) fn of(e: &Entry) -> RunState {
        let p = e.state.pending();
        if p & TERMINATE != 0 {
            RunState::Terminating
        } else if p & (DEADLINE | RAISE) != 0 {
            RunState::KillPending
        } else if e.state.blocked.load(Relaxed) {
            RunState::Blocked
        } else {
            RunState::Running
        }
    }
}

/// The live entries, by key: the registry's set, here so that the stall
/// watcher can read it without the registry.
static REGISTRY: LazyLock<Mutex<HashMap<u64, Arc<Entry>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

pub(crate) fn insert(entry: &Arc<Entry>) {
    lock(&REGISTRY).insert(entry.key, entry.clone());
}

pub(crate) fn remove(entry: &Entry) {
    // The removed `Arc` is dropped after the lock is released.
    let removed = lock(&REGISTRY).remove(&entry.key);
    drop(removed);
}

/// The live entries, cloned out of the lock.
pub(crate) fn snapshot() -> Vec<Arc<Entry>> {
    lock(&REGISTRY).values().cloned().collect()
}

/// The first live entry that `pred` accepts, searched under the lock.
pub(crate) fn find(pred: impl Fn(&Entry) -> bool) -> Option<Arc<Entry>> {
    lock(&REGISTRY).values().find(|e| pred(e)).cloned()
}
