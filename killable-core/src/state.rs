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
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::time::Instant;

use crate::prim::{current_thread_id, lock, AtomicU32, Condvar, Mutex, Thread, ThreadId};

/// `terminate()` was called: level-triggered, pending until the thread exits.
pub const TERMINATE: u32 = 1 << 0;
/// A cancel scope of this thread has expired: pending until that scope exits.
pub const DEADLINE: u32 = 1 << 1;
/// At least one raised value is queued: edge-triggered, one per delivery.
pub const RAISE: u32 = 1 << 2;

/// How many raised values may wait for delivery on one thread; `raise`
/// hands the value back beyond that. Bounds the memory a thread that holds
/// kills back (a long shield, a long call without checkpoints) can be made
/// to hold by raisers.
pub const MAX_QUEUED_RAISES: usize = 32;

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

/// Which kill reached an [`interruptible`](crate::interruptible) call,
/// passed to its `on_kill` hook.
///
/// A hook can use it to unblock the operation gently for a raise the
/// thread may catch and go on from (leave the socket open), and destroy
/// the resource only for a termination or a deadline.
///
/// # Examples
///
/// ```
/// use killable::{interruptible, KillKind, KillableThread};
/// use std::sync::mpsc;
///
/// let (tx, rx) = mpsc::channel::<&'static str>();
/// let t = KillableThread::spawn(move || {
///     interruptible(
///         || rx.recv().unwrap(),
///         move |kind: KillKind| {
///             // Wake the receive, saying why.
///             let _ = tx.send(if kind == KillKind::Terminate { "terminate" } else { "other" });
///         },
///     )
/// });
/// std::thread::sleep(std::time::Duration::from_millis(20));
/// t.terminate();
/// assert!(t.join().unwrap_err().is_terminated());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KillKind {
    /// [`terminate`](crate::Killer::terminate), `terminate_all`, or a
    /// thread's [`deadline`](crate::Builder::deadline).
    Terminate,
    /// A value was [`raise`](crate::Killer::raise)d.
    Raise,
    /// A [`with_timeout`](crate::with_timeout) or
    /// [`with_deadline`](crate::with_deadline) scope of the thread expired.
    Deadline,
}

impl KillKind {
    /// The kill a set of pending bits would deliver first.
    fn of_pending(pending: u32) -> KillKind {
        if pending & TERMINATE != 0 {
            KillKind::Terminate
        } else if pending & DEADLINE != 0 {
            KillKind::Deadline
        } else {
            KillKind::Raise
        }
    }
}

/// The type of a lent `on_kill` hook.
pub(crate) type HookFn = dyn Fn(KillKind) + Send + Sync;

/// A user's `on_kill` callback, lent to the state while `interruptible` runs.
#[derive(Clone, Copy)]
pub(crate) struct HookPtr(*const HookFn);

// SAFETY: the pointee is `Send + Sync`. It is dereferenced only by
// `ClaimedHook::run`, after it found its claim still in the slot and marked
// it running, under `Inner::hook`'s mutex; `disarm_hook` (which
// `interruptible` calls before the pointee's borrow ends) withdraws a claim
// that has not started and waits for one that is running.
unsafe impl Send for HookPtr {}

/// The hooks lent by the `interruptible` calls on the thread's stack, under
/// `Inner::hook`. The mutex is held only to change these fields, never while
/// a hook runs (`std::stop_callback`'s design): a killer claims the armed
/// hook, releases the mutex, marks its claim running and runs it, then takes
/// the mutex again to clear the claim. `disarm_hook` withdraws a claim that
/// has not started running, and waits for one that runs on another thread.
/// So no kill, and not the timer thread, ever waits on a lock held across
/// user code.
#[derive(Default)]
struct HookSlot {
    /// Outermost first; the last one is armed, the others are displaced by
    /// nested calls until those return.
    levels: Vec<Level>,
    next_claim: u64,
}

struct Level {
    hook: HookPtr,
    /// Claimed once already: on_kill runs at most once per call.
    fired: bool,
    claim: Option<Claim>,
}

#[derive(Clone, Copy)]
struct Claim {
    id: u64,
    /// The thread running the hook, once it has started.
    running_on: Option<ThreadId>,
}

impl HookSlot {
    fn claim_mut(&mut self, id: u64) -> Option<&mut Option<Claim>> {
        self.levels
            .iter_mut()
            .map(|l| &mut l.claim)
            .find(|c| c.is_some_and(|c| c.id == id))
    }
}

/// A hook a killer has claimed, to run with no lock held (or drop, which
/// releases the claim without running it).
///
/// It borrows the state (the timer, handing one to a hook thread, hands
/// an `Arc` of the state along instead). The hook itself is only called if
/// the claim is still in the slot when `run` starts; from then on
/// `disarm_hook` waits.
#[must_use = "a claimed hook does nothing until it is run"]
pub struct ClaimedHook<'a> {
    inner: &'a Inner,
    hook: HookPtr,
    kind: KillKind,
    id: u64,
}

impl ClaimedHook<'_> {
    /// Extends the borrow of the state to `'static`.
    ///
    /// # Safety
    ///
    /// The caller must keep the state alive until the result is dropped.
    pub(crate) unsafe fn detach(self) -> ClaimedHook<'static> {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: the caller keeps the state alive; the fields are moved out
        // of a value that will not be dropped.
        ClaimedHook {
            inner: unsafe { &*(this.inner as *const Inner) },
            hook: this.hook,
            kind: this.kind,
            id: this.id,
        }
    }

    /// Whether this claim belongs to `inner`.
    pub(crate) fn is_of(&self, inner: &Inner) -> bool {
        std::ptr::eq(self.inner, inner)
    }

    /// Runs the hook, unless the `interruptible` call that lent it has
    /// returned meanwhile (then the operation needs no unblocking), and
    /// releases the claim (also if the hook panics; the panic goes on to the
    /// caller).
    pub fn run(self) {
        {
            let mut h = lock(&self.inner.hook);
            match h.claim_mut(self.id) {
                Some(Some(c)) => c.running_on = Some(current_thread_id()),
                // Withdrawn by `disarm_hook`: `interruptible` has returned.
                _ => return,
            }
        }
        let call = || {
            // SAFETY: the claim is marked running, so `disarm_hook`, which
            // must run before the hook's borrow ends, waits until `self` is
            // dropped, after the call.
            unsafe { (*self.hook.0)(self.kind) }
        };
        if std::thread::panicking() {
            // A killer in a destructor during an unwind: a panic out of the
            // hook would be a second panic, and abort. Contained; its
            // payload's `Drop` is user code too.
            if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
                if let Err(p) =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(payload)))
                {
                    std::mem::forget(p);
                }
            }
        } else {
            call();
        }
    }
}

impl Drop for ClaimedHook<'_> {
    fn drop(&mut self) {
        let inner = self.inner;
        let mut h = lock(&inner.hook);
        if let Some(c) = h.claim_mut(self.id) {
            *c = None;
            // Under the lock, so that the disarming owner, which must take
            // the lock to see the claim gone, cannot go on before this is
            // done.
            inner.hook_done.notify_all();
        }
    }
}

impl std::fmt::Debug for ClaimedHook<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedHook")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Signals the owner's I/O wake fd (see `io`): registered by the owner's
/// first killable I/O wait, called by killers after the unpark, outside
/// every lock, like the unpark itself.
pub type Waker = std::sync::Arc<dyn Fn() + Send + Sync>;

/// A cancel scope on this thread's stack of `with_timeout` calls.
struct CancelScope {
    id: u64,
    expired: bool,
    /// Opened while the thread was unwinding (in a destructor): its expiry
    /// may be delivered then, and nothing else.
    unwinding: bool,
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
    /// Set by [`Inner::mark_ended`]: the OS thread has run all the code it
    /// ever will, thread-local destructors included.
    ended: bool,
    /// Threads waiting for `ended`, unparked when it is set.
    end_waiters: Vec<Thread>,
    /// Since when a kill has waited for the thread: set when `pending` turns
    /// non-zero and again at each delivery that leaves something pending,
    /// `None` while nothing is. For `registry::stalled`; outside the protocol.
    pending_since: Option<Instant>,
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
    /// Notified when a claimed hook has finished running.
    hook_done: Condvar,
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
                ended: false,
                end_waiters: Vec::new(),
                pending_since: None,
            }),
            hook: Mutex::new(HookSlot::default()),
            hook_done: Condvar::new(),
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
    pub fn set_waker(&self, waker: &Waker) {
        let mut l = lock(&self.locked);
        if l.waker.is_none() {
            l.waker = Some(waker.clone());
        }
    }

    /// The pending bits, for the owner's lock-free test. Acquire pairs with
    /// `update`'s Release store, so a non-zero read also sees what the bits
    /// announce (a queued raise, an expired scope).
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
        if new == 0 {
            l.pending_since = None;
        } else if old == 0 {
            // The killer's clock read, under the lock it already holds: the
            // owner's checkpoint never reads a clock for this.
            l.pending_since = Some(Instant::now());
        }
        // The store comes after the count goes up and before it goes down,
        // so that whoever sees a bit through `pending()` (the owner, after
        // reading `registry::threads()`, say) also sees the count, and its
        // next checkpoint cannot take the fast path past the kill. (Miri's
        // weak memory found that: `faults.rs`, `-Zmiri-seed=2`.)
        let want = new != 0 && !l.finished;
        if want && !l.counted {
            l.counted = true;
            PENDING_THREADS.fetch_add(1, SeqCst);
        }
        // Release pairs with `pending()`'s Acquire. No SeqCst: the lost
        // wake-up it could guard against (a waiter's test and a killer's
        // wake missing each other) needs each side to write, then read what
        // the other wrote, and here the wake reads nothing the waiter wrote
        // without a lock between them:
        // * a parked waiter: `wake` unparks the thread recorded in `locked`
        //   whatever the waiter did, and an unpark before the park makes the
        //   park return. The thread is recorded (`set_thread`, under
        //   `locked`) before the owner's first test, so a kill recorded
        //   before that is seen through the mutex.
        // * a waker (`set_waker`): registered under `locked`, and read there
        //   by the killer after this store; the same argument.
        // * an `interruptible` hook: armed, and `pending()` tested, under
        //   `hook`'s mutex, which the killer takes after this store (and
        //   after releasing `locked`): the test sees the store, or the killer
        //   sees the hook.
        self.pending.store(new, Release);
        if !want && l.counted {
            l.counted = false;
            PENDING_THREADS.fetch_sub(1, SeqCst);
        }
    }

    /// Queues a raised value. Hands it back if the thread has finished, is
    /// being terminated, already has [`MAX_QUEUED_RAISES`] queued, or kills
    /// cannot unwind in this build.
    pub fn raise<E: Any + Send>(&self, exc: E) -> Result<(), E> {
        {
            let mut l = lock(&self.locked);
            if !KILLS_UNWIND
                || l.finished
                || self.pending.load(Relaxed) & TERMINATE != 0
                || l.raises.len() >= MAX_QUEUED_RAISES
            {
                return Err(exc);
            }
            l.raises.push_back(Box::new(exc));
            self.update(&mut l, RAISE, 0);
        }
        self.wake(KillKind::Raise);
        Ok(())
    }

    /// Marks the thread terminated, and runs its `interruptible` hook, if one
    /// is armed, on this thread. Returns false if it had already finished (or
    /// kills cannot unwind in this build).
    pub fn terminate(&self) -> bool {
        let (reached, hook) = self.terminate_claiming();
        if let Some(hook) = hook {
            hook.run();
        }
        reached
    }

    /// [`terminate`](Self::terminate), handing the armed hook back to the
    /// caller instead of running it (the timer thread runs none itself).
    pub fn terminate_claiming(&self) -> (bool, Option<ClaimedHook<'_>>) {
        {
            let mut l = lock(&self.locked);
            if !KILLS_UNWIND || l.finished {
                return (false, None);
            }
            if self.pending.load(Relaxed) & TERMINATE != 0 {
                return (true, None);
            }
            self.update(&mut l, TERMINATE, 0);
        }
        (true, self.unpark_and_claim(KillKind::Terminate))
    }

    /// Opens a cancel scope with a fresh `id`. `expired` opens it already
    /// expired (a deadline that has passed).
    #[cfg(any(test, loom))]
    pub fn push_scope(&self, id: u64, expired: bool) {
        self.push_scope_in(id, expired, false);
    }

    /// [`push_scope`](Self::push_scope), saying whether the thread is
    /// unwinding (see [`take_unwinding_expiry`](Self::take_unwinding_expiry)).
    pub fn push_scope_in(&self, id: u64, expired: bool, unwinding: bool) {
        let mut l = lock(&self.locked);
        l.scopes.push(CancelScope {
            id,
            expired,
            unwinding,
        });
        if expired && KILLS_UNWIND {
            self.update(&mut l, DEADLINE, 0);
        }
    }

    /// Expires the scope `id` if it is still open, and runs the armed hook,
    /// if any, on this thread (the tests' and models' shorthand).
    #[cfg(any(test, loom))]
    pub fn expire_scope(&self, id: u64) {
        if let Some(hook) = self.expire_scope_claiming(id) {
            hook.run();
        }
    }

    /// [`expire_scope`](Self::expire_scope), handing the armed hook back to
    /// the caller instead of running it. Called by the timer thread.
    pub fn expire_scope_claiming(&self, id: u64) -> Option<ClaimedHook<'_>> {
        {
            let mut l = lock(&self.locked);
            if !KILLS_UNWIND || l.finished {
                return None;
            }
            let s = l.scopes.iter_mut().find(|s| s.id == id)?;
            s.expired = true;
            self.update(&mut l, DEADLINE, 0);
        }
        self.unpark_and_claim(KillKind::Deadline)
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
            self.answered(&mut l);
            return Delivery::Deliver(Kill::Terminate);
        }
        if pending & DEADLINE != 0 {
            if let Some(s) = l.scopes.iter().find(|s| s.expired) {
                let id = s.id;
                self.answered(&mut l);
                return Delivery::Deliver(Kill::Deadline(id));
            }
        }
        if let Some(exc) = l.raises.pop_front() {
            if l.raises.is_empty() {
                self.update(&mut l, 0, RAISE);
            }
            self.answered(&mut l);
            return Delivery::Deliver(Kill::Raise(exc));
        }
        Delivery::Nothing
    }

    /// What a checkpoint delivers while the thread is unwinding, inside a
    /// scope opened during that unwind: the outermost expired scope among
    /// those opened while unwinding. Every one of them sits inside the
    /// destructor that opened the first, so its `with_timeout` catches the
    /// unwind before it can reach the outer one. Everything else waits.
    pub fn take_unwinding_expiry(&self) -> Delivery {
        if self.pending() == 0 {
            return Delivery::Nothing;
        }
        let mut l = lock(&self.locked);
        match l
            .scopes
            .iter()
            .find(|s| s.unwinding && s.expired)
            .map(|s| s.id)
        {
            Some(id) => {
                self.answered(&mut l);
                Delivery::Deliver(Kill::Deadline(id))
            }
            None => Delivery::Deferred,
        }
    }

    /// Whether [`take_unwinding_expiry`](Self::take_unwinding_expiry) would
    /// deliver.
    pub fn has_unwinding_expiry(&self) -> bool {
        self.pending() & DEADLINE != 0
            && lock(&self.locked)
                .scopes
                .iter()
                .any(|s| s.unwinding && s.expired)
    }

    /// The owner is taking a kill: what is still pending after it (terminate
    /// stays, more raises may be queued) waits from now on. Delivery path
    /// only, never a checkpoint's fast path.
    fn answered(&self, l: &mut Locked) {
        if l.pending_since.is_some() {
            l.pending_since = Some(Instant::now());
        }
    }

    /// Since when a kill has waited for the owner to reach a checkpoint that
    /// delivers it (or the last delivery, if one is still pending after it).
    pub(crate) fn pending_since(&self) -> Option<Instant> {
        lock(&self.locked).pending_since
    }

    /// Called once by the owner when its body has returned or unwound (or
    /// for a spawn that failed): from now on kills are refused, and joiners
    /// waiting for this are woken. Returns the raises still queued, for the
    /// caller to drop after the lock is released, since their destructors
    /// are user code.
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
        remove_thread(&mut lock(&self.locked).joiners, me);
    }

    /// Records that the OS thread has run all the code it ever will (its
    /// last thread-local destructor, or a spawn that never created it), and
    /// wakes the threads waiting for that. Implies nothing about `finish`,
    /// which always comes first.
    pub fn mark_ended(&self) {
        let waiters = {
            let mut l = lock(&self.locked);
            l.ended = true;
            std::mem::take(&mut l.end_waiters)
        };
        for w in waiters {
            w.unpark();
        }
    }

    /// Whether [`mark_ended`](Self::mark_ended) has run.
    pub fn has_ended(&self) -> bool {
        lock(&self.locked).ended
    }

    /// Registers `me` to be unparked by `mark_ended`. Returns false
    /// (registering nothing) if it has already run.
    pub fn add_end_waiter(&self, me: &Thread) -> bool {
        let mut l = lock(&self.locked);
        if l.ended {
            return false;
        }
        l.end_waiters.push(me.clone());
        true
    }

    /// Undoes `add_end_waiter` for a wait that gave up (timeout or kill).
    pub fn remove_end_waiter(&self, me: &Thread) {
        remove_thread(&mut lock(&self.locked).end_waiters, me);
    }

    /// Wakes the owner after a kill was recorded: unpark for killable waits,
    /// the waker for killable I/O, then the interrupt hook for
    /// `interruptible`, run on this thread.
    fn wake(&self, kind: KillKind) {
        if let Some(hook) = self.unpark_and_claim(kind) {
            hook.run();
        }
    }

    /// Unparks the owner, calls its I/O waker, and claims its armed hook,
    /// if one is armed and has not fired, for the caller to run with no lock
    /// held.
    fn unpark_and_claim(&self, kind: KillKind) -> Option<ClaimedHook<'_>> {
        // The guard is dropped before the unpark (an `if let` on the lock
        // would hold it through the block): the woken owner's first step
        // takes this lock, and on a shared core it runs at once, finds the
        // lock held and blocks again.
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
        self.claim(&mut h, kind)
    }

    /// Claims the armed hook if it has not fired (at most once per arming).
    fn claim(&self, h: &mut HookSlot, kind: KillKind) -> Option<ClaimedHook<'_>> {
        let id = h.next_claim;
        let level = h.levels.last_mut().filter(|l| !l.fired)?;
        level.fired = true;
        level.claim = Some(Claim {
            id,
            running_on: None,
        });
        let hook = level.hook;
        h.next_claim += 1;
        Some(ClaimedHook {
            inner: self,
            hook,
            kind,
            id,
        })
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
    pub unsafe fn arm_hook<'a>(&self, hook: &'a (dyn Fn(KillKind) + Send + Sync + 'a)) -> bool {
        let mut h = lock(&self.hook);
        // Tested under the hook mutex: a killer records its kill before it
        // takes this mutex to claim, so either we see the kill here or the
        // killer sees the armed hook.
        if self.pending() != 0 {
            return false;
        }
        // SAFETY (of the lifetime erasure): see the function's contract.
        let ptr: *const (dyn Fn(KillKind) + Send + Sync + 'a) = hook;
        let ptr: *const HookFn = unsafe { std::mem::transmute(ptr) };
        h.levels.push(Level {
            hook: HookPtr(ptr),
            fired: false,
            claim: None,
        });
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
    /// returns no killer can call it. If a killer is running it on another
    /// thread, waits for it to finish first. Returns whether a kill was
    /// recorded while it was armed (the kill `interruptible` then delivers).
    ///
    /// If the restored (enclosing) hook has not fired, and more kills are
    /// pending than the one the nested call is about to deliver, it fires
    /// now, from this thread: those kills came while the nested hook stood in
    /// for it, and the enclosing operation may block again (say after
    /// catching the first one). A single kill is not signalled: the nested
    /// delivery consumes it.
    pub fn disarm_hook(&self) -> bool {
        let me = current_thread_id();
        let mut h = lock(&self.hook);
        // A hook running on this very thread (it killed its own thread from
        // inside `op`) is not waited for: that would wait for ourselves.
        while h
            .levels
            .last()
            .and_then(|l| l.claim)
            .is_some_and(|c| c.running_on.is_some_and(|t| t != me))
        {
            h = self
                .hook_done
                .wait(h)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        // Popping the level withdraws a claim that has not started: the
        // operation it would have unblocked has returned.
        h.levels.pop();
        // A kill pending now was recorded while the hook was armed (arming is
        // refused with one pending).
        let killed = self.pending() != 0;
        // Not while unwinding: the enclosing operation is being unwound
        // through, not resumed, and a panicking hook would abort.
        if h.levels.last().is_some_and(|l| !l.fired)
            && !std::thread::panicking()
            && self.survives_one_delivery()
        {
            let kind = KillKind::of_pending(self.pending());
            if let Some(hook) = self.claim(&mut h, kind) {
                drop(h);
                hook.run();
            }
        }
        killed
    }
}

fn remove_thread(list: &mut Vec<Thread>, me: &Thread) {
    if let Some(pos) = list.iter().position(|t| t.id() == me.id()) {
        list.swap_remove(pos);
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
