//! A killable thread's shared state: what is pending for it, and how to wake it.
//!
//! One [`Inner`] exists per killable thread (and per plain thread for the
//! duration of a `with_timeout` scope). The thread itself and every
//! [`Killer`](crate::Killer) hold an `Arc` to it. Everything here is plain
//! protocol, free of thread-locals and unwinding, so that loom can check it.
//!
//! # The protocol
//!
//! * Every change to what is pending happens under `locked`. `pending`
//!   mirrors it as a bit set so the owner can test it without the lock.
//! * [`PENDING_THREADS`] counts the threads whose `pending` is non-zero. It is
//!   the one word a checkpoint reads on its fast path: while no thread
//!   anywhere has a kill pending, a checkpoint is a load and a branch.
//!   Invariant, under `locked`: `counted == (pending != 0)`.
//! * A killer first records the kill, then wakes the owner: it unparks the
//!   thread (every killable wait parks) and calls the interrupt hook, if one
//!   is armed. A waiter tests for a kill *after* arming itself and *before*
//!   sleeping, so a kill is either seen by that test or wakes the sleep.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::atomic::Ordering::{Acquire, Relaxed, SeqCst};

use crate::prim::{lock, AtomicU32, Mutex, Thread};

/// `terminate()` was called: level-triggered, pending until the thread exits.
pub const TERMINATE: u32 = 1 << 0;
/// A cancel scope of this thread has expired: pending until that scope exits.
pub const DEADLINE: u32 = 1 << 1;
/// At least one raised value is queued: edge-triggered, one per delivery.
pub const RAISE: u32 = 1 << 2;

/// Whether a kill can unwind in this build. Under `panic = "abort"` an unwind
/// would abort the process, so kills are refused instead (see the crate docs).
pub(crate) const KILLS_UNWIND: bool = cfg!(panic = "unwind");

/// How many threads have a kill pending: the checkpoint fast path's one load.
#[cfg(not(loom))]
pub static PENDING_THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[cfg(loom)]
loom::lazy_static! {
    /// How many threads have a kill pending (per loom execution).
    pub static ref PENDING_THREADS: crate::prim::AtomicUsize = crate::prim::AtomicUsize::new(0);
}

/// What a delivery unwinds with. Boxed into the unwind payload; private, so
/// no user code can forge or match it except through this crate's API.
#[derive(Debug)]
pub enum Kill {
    /// `terminate()` was called.
    Terminate,
    /// The cancel scope with this id has expired.
    Deadline(u64),
    /// A raised value, delivered once.
    Raise(Box<dyn Any + Send>),
}

/// A user's `on_kill` callback, lent to the state while `interruptible` runs.
#[derive(Clone, Copy)]
pub(crate) struct HookPtr(*const (dyn Fn() + Send + Sync));

// SAFETY: the pointee is `Send + Sync`; the pointer is only dereferenced under
// `Inner::hook`'s mutex while armed, and `interruptible` disarms it (taking the
// same mutex) before the pointee's borrow ends.
unsafe impl Send for HookPtr {}

#[derive(Default)]
struct HookSlot {
    armed: Option<HookPtr>,
    fired: bool,
    /// The `(armed, fired)` of enclosing `interruptible` calls, innermost
    /// last: a nested call displaces its caller's hook until it returns.
    enclosing: Vec<(Option<HookPtr>, bool)>,
}

/// Signals the owner's I/O wake fd (see `io`): registered by the owner's
/// first killable I/O wait, called by killers after the unpark, outside
/// every lock, like the unpark itself.
pub(crate) type Waker = std::sync::Arc<dyn Fn() + Send + Sync>;

/// A cancel scope on this thread's stack of `with_timeout` calls.
struct CancelScope {
    id: u64,
    expired: bool,
}

struct Locked {
    raises: VecDeque<Box<dyn Any + Send>>,
    /// Outermost first.
    scopes: Vec<CancelScope>,
    finished: bool,
    /// Whether this state contributes one to `PENDING_THREADS`.
    counted: bool,
    /// Set by the owner as its first action; unparked by kills.
    thread: Option<Thread>,
    /// Threads parked in a join of this thread, unparked when it finishes.
    joiners: Vec<Thread>,
    /// Called by kills after the unpark, if set.
    waker: Option<Waker>,
}

/// The shared state of one killable thread.
pub struct Inner {
    pending: AtomicU32,
    /// Inside a killable wait or `interruptible`; read only for diagnostics,
    /// so it is outside the protocol (and outside loom's model).
    pub(crate) blocked: std::sync::atomic::AtomicBool,
    /// Where the thread last passed a checkpoint (feature `diagnostics`);
    /// written by the owner, read for diagnostics, outside the protocol.
    #[cfg(all(feature = "diagnostics", not(loom)))]
    pub(crate) last_checkpoint: crate::diag::Recorder,
    locked: Mutex<Locked>,
    hook: Mutex<HookSlot>,
}

/// What a delivery attempt found.
#[derive(Debug)]
pub enum Delivery {
    /// Nothing is pending.
    Nothing,
    /// A kill is pending but may not be delivered now (shield, unwinding).
    Deferred,
    /// Unwind with this kill now.
    Deliver(Kill),
}

impl Inner {
    /// A fresh state: nothing pending, not finished, no thread to wake yet.
    pub fn new() -> Self {
        Inner {
            pending: AtomicU32::new(0),
            blocked: std::sync::atomic::AtomicBool::new(false),
            #[cfg(all(feature = "diagnostics", not(loom)))]
            last_checkpoint: crate::diag::Recorder::default(),
            locked: Mutex::new(Locked {
                raises: VecDeque::new(),
                scopes: Vec::new(),
                finished: false,
                counted: false,
                thread: None,
                joiners: Vec::new(),
                waker: None,
            }),
            hook: Mutex::new(HookSlot::default()),
        }
    }

    /// Records the thread to unpark on kills. Called by the owner first thing.
    pub fn set_thread(&self, thread: Thread) {
        lock(&self.locked).thread = Some(thread);
    }

    /// Registers `waker` to be called by every kill from now on, unless one
    /// is registered already. The owner tests for a kill after this and
    /// before it sleeps, as with the unpark: a kill recorded before the
    /// registration is seen by that test (both take `locked`), one recorded
    /// after it calls the waker.
    pub(crate) fn set_waker(&self, waker: &Waker) {
        let mut l = lock(&self.locked);
        if l.waker.is_none() {
            l.waker = Some(waker.clone());
        }
    }

    /// The pending bits, for the owner's lock-free test. Acquire pairs with
    /// the release of the `locked` mutex by the killer, so a non-zero read is
    /// followed by a locked read that sees the full kill.
    #[inline]
    pub fn pending(&self) -> u32 {
        self.pending.load(Acquire)
    }

    /// Whether [`finish`](Self::finish) has run: kills are refused from then on.
    pub fn is_finished(&self) -> bool {
        lock(&self.locked).finished
    }

    /// Sets or clears bits and keeps `PENDING_THREADS` in step. Must be called
    /// with `locked` held (enforced by taking the guard's contents).
    fn update(&self, l: &mut Locked, set: u32, clear: u32) {
        let old = self.pending.load(Relaxed);
        let new = (old | set) & !clear;
        // SeqCst so that a waiter's later `pending()` test and a killer's
        // wake-up cannot both miss each other (see the module docs); the
        // mutex alone already orders it for the owner's locked reads.
        self.pending.store(new, SeqCst);
        let want = new != 0 && !l.finished;
        if want != l.counted {
            l.counted = want;
            if want {
                PENDING_THREADS.fetch_add(1, SeqCst);
            } else {
                PENDING_THREADS.fetch_sub(1, SeqCst);
            }
        }
    }

    /// Queues a raised value. Hands it back if the thread has finished, is
    /// being terminated, or kills cannot unwind in this build.
    pub fn raise<E: Any + Send>(&self, exc: E) -> Result<(), E> {
        {
            let mut l = lock(&self.locked);
            if !KILLS_UNWIND || l.finished || self.pending.load(Relaxed) & TERMINATE != 0 {
                return Err(exc);
            }
            l.raises.push_back(Box::new(exc));
            self.update(&mut l, RAISE, 0);
        }
        self.wake();
        Ok(())
    }

    /// Marks the thread terminated. Returns false if it had already finished
    /// (or kills cannot unwind in this build).
    pub fn terminate(&self) -> bool {
        {
            let mut l = lock(&self.locked);
            if !KILLS_UNWIND || l.finished {
                return false;
            }
            if self.pending.load(Relaxed) & TERMINATE != 0 {
                return true;
            }
            self.update(&mut l, TERMINATE, 0);
        }
        self.wake();
        true
    }

    /// Opens a cancel scope with a fresh `id`. `expired` opens it already
    /// expired (a deadline that has passed).
    pub fn push_scope(&self, id: u64, expired: bool) {
        let mut l = lock(&self.locked);
        l.scopes.push(CancelScope { id, expired });
        if expired && KILLS_UNWIND {
            self.update(&mut l, DEADLINE, 0);
        }
    }

    /// Expires the scope `id` if it is still open. Called by the timer thread.
    pub fn expire_scope(&self, id: u64) {
        {
            let mut l = lock(&self.locked);
            if !KILLS_UNWIND || l.finished {
                return;
            }
            let Some(s) = l.scopes.iter_mut().find(|s| s.id == id) else {
                return;
            };
            s.expired = true;
            self.update(&mut l, DEADLINE, 0);
        }
        self.wake();
    }

    /// Closes scope `id`; returns whether it had expired. Leaves nothing of it
    /// pending, so a scope that ends in time leaves no trace.
    pub fn pop_scope(&self, id: u64) -> bool {
        let mut l = lock(&self.locked);
        let Some(pos) = l.scopes.iter().position(|s| s.id == id) else {
            return false;
        };
        let expired = l.scopes.remove(pos).expired;
        if !l.scopes.iter().any(|s| s.expired) {
            self.update(&mut l, 0, DEADLINE);
        }
        expired
    }

    /// Decides what a checkpoint on the owner thread delivers. `can_deliver`
    /// is false inside a shield or while unwinding.
    ///
    /// Order: terminate, then the outermost expired scope (an outer expiry
    /// must pass through inner scopes), then the oldest raise.
    pub fn take_delivery(&self, can_deliver: bool) -> Delivery {
        if self.pending() == 0 {
            return Delivery::Nothing;
        }
        if !can_deliver {
            return Delivery::Deferred;
        }
        let mut l = lock(&self.locked);
        let pending = self.pending.load(Relaxed);
        if pending & TERMINATE != 0 {
            return Delivery::Deliver(Kill::Terminate);
        }
        if pending & DEADLINE != 0 {
            if let Some(s) = l.scopes.iter().find(|s| s.expired) {
                return Delivery::Deliver(Kill::Deadline(s.id));
            }
        }
        if let Some(exc) = l.raises.pop_front() {
            if l.raises.is_empty() {
                self.update(&mut l, 0, RAISE);
            }
            return Delivery::Deliver(Kill::Raise(exc));
        }
        Delivery::Nothing
    }

    /// Called once by the owner when its body has returned or unwound: from
    /// now on kills are refused. Raises still queued are dropped here, after
    /// the lock is released, since their destructors are user code.
    pub fn finish(&self) -> VecDeque<Box<dyn Any + Send>> {
        let (dropped, joiners) = {
            let mut l = lock(&self.locked);
            l.finished = true;
            l.scopes.clear();
            self.update(&mut l, 0, TERMINATE | DEADLINE | RAISE);
            l.thread = None;
            l.waker = None;
            (
                std::mem::take(&mut l.raises),
                std::mem::take(&mut l.joiners),
            )
        };
        for j in joiners {
            j.unpark();
        }
        dropped
    }

    /// Registers `me` to be unparked when this thread finishes. Returns false
    /// (registering nothing) if it has already finished.
    pub fn add_joiner(&self, me: &Thread) -> bool {
        let mut l = lock(&self.locked);
        if l.finished {
            return false;
        }
        l.joiners.push(me.clone());
        true
    }

    /// Undoes `add_joiner` for a join that gave up (timeout or kill).
    pub fn remove_joiner(&self, me: &Thread) {
        let mut l = lock(&self.locked);
        if let Some(pos) = l.joiners.iter().position(|t| t.id() == me.id()) {
            l.joiners.swap_remove(pos);
        }
    }

    /// Wakes the owner after a kill was recorded: unpark for killable waits,
    /// the waker for killable I/O, then the interrupt hook for
    /// `interruptible`.
    fn wake(&self) {
        // The guard is dropped before the unpark (an `if let` on the lock
        // would hold it through the block): the woken owner's first step
        // takes this lock, and on a shared core it runs at once, finds the
        // lock held and blocks again (kill wakes sleep: 7.4 µs vs 3.1 µs for
        // a raw park/unpark plus unwind).
        let (owner, waker) = {
            let l = lock(&self.locked);
            (l.thread.clone(), l.waker.clone())
        };
        if let Some(t) = owner {
            t.unpark();
        }
        if let Some(w) = waker {
            w();
        }
        let mut h = lock(&self.hook);
        if let (Some(hook), false) = (h.armed, h.fired) {
            h.fired = true;
            // SAFETY: `armed` is only `Some` between `arm_hook` and
            // `disarm_hook`, both under this mutex, while the pointee is
            // borrowed by the `interruptible` frame that armed it; we hold the
            // mutex for the whole call, so the disarm waits for us.
            unsafe { (*hook.0)() };
        }
    }

    /// Lends `hook` to killers until `disarm_hook`, displacing the hook of an
    /// enclosing `interruptible` call, if any, until then. Returns false,
    /// arming nothing, if a kill is already pending: the caller delivers it
    /// instead.
    ///
    /// # Safety
    ///
    /// The caller must call `disarm_hook` before `hook`'s borrow ends, on
    /// every path including unwinding, in LIFO order with nested calls.
    pub unsafe fn arm_hook(&self, hook: &(dyn Fn() + Send + Sync)) -> bool {
        let mut h = lock(&self.hook);
        // Tested under the hook mutex: a killer records its kill before it
        // takes this mutex to fire, so either we see the kill here or the
        // killer sees the armed hook.
        if self.pending() != 0 {
            return false;
        }
        // SAFETY (of the lifetime erasure): see the function's contract.
        let ptr: *const (dyn Fn() + Send + Sync + '_) = hook;
        let ptr: *const (dyn Fn() + Send + Sync + 'static) = unsafe { std::mem::transmute(ptr) };
        let displaced = (h.armed.replace(HookPtr(ptr)), std::mem::take(&mut h.fired));
        h.enclosing.push(displaced);
        true
    }

    /// Whether something stays pending after the next delivery: a
    /// termination (level-triggered), or two kills (an expired scope and
    /// raises, one delivered at a time).
    fn survives_one_delivery(&self) -> bool {
        let pending = self.pending();
        if pending == 0 {
            return false;
        }
        if pending & TERMINATE != 0 {
            return true;
        }
        let l = lock(&self.locked);
        let expired = l.scopes.iter().any(|s| s.expired) as usize;
        expired + l.raises.len() >= 2
    }

    /// Takes the hook back, restoring the one `arm_hook` displaced; once this
    /// returns no killer can call it.
    ///
    /// If the restored (enclosing) hook has not fired, and more kills are
    /// pending than the one the nested call is about to deliver, it fires
    /// now, from this thread: those kills came while the nested hook stood in
    /// for it, and the enclosing operation may block again (say after
    /// catching the first one). A single kill is not signalled: the nested
    /// delivery consumes it.
    pub fn disarm_hook(&self) {
        let mut h = lock(&self.hook);
        (h.armed, h.fired) = h.enclosing.pop().unwrap_or_default();
        if let (Some(hook), false) = (h.armed, h.fired) {
            // Not while unwinding: the enclosing operation is being unwound
            // through, not resumed, and a panicking hook would abort.
            if !std::thread::panicking() && self.survives_one_delivery() {
                h.fired = true;
                // SAFETY: a restored hook belongs to an enclosing
                // `interruptible` frame further down this stack, which
                // disarms it only after this nested call has returned.
                unsafe { (*hook.0)() };
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A state dropped without `finish` (an ad-hoc `with_timeout` state, or
        // a spawn that failed) must still give back its count.
        let mut l = lock(&self.locked);
        if l.counted {
            l.counted = false;
            PENDING_THREADS.fetch_sub(1, SeqCst);
        }
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
