//! The safepoint: where a pending kill turns into an unwind.

use std::panic::resume_unwind;
use std::sync::atomic::Ordering::Relaxed;

use crate::local::{self, Allowed};
use crate::state::{Delivery, Inner, Kill, PENDING_THREADS};

/// Delivers a kill pending for the current thread, by unwinding.
///
/// This is the safepoint that `#[killable]` inserts. Call it by hand in code
/// without the attribute, or in loops the attribute cannot see (inside macro
/// invocations).
///
/// With nothing pending it returns at once. It never unwinds on a thread that
/// is not killable, inside a [`shield`](crate::shield), or while the thread
/// is already unwinding (so it is safe in destructors), with one exception:
/// inside a [`with_timeout`](crate::with_timeout) opened during that unwind
/// (in a destructor), the expiry of that scope is delivered, since the
/// scope catches it before it can reach the outer unwind.
///
/// # Cost
///
/// While no thread in the process has a kill pending, this inlines to one
/// relaxed load of a global counter and a not-taken branch. On x86-64, in a
/// loop of your crate (position-independent code reaches another crate's
/// static through the GOT, so LLVM loads its address once, before the loop):
///
/// ```text
/// mov  rcx, qword ptr [rbx]   ; rbx = &PENDING_THREADS, loaded from the GOT
/// test rcx, rcx
/// jne  .Lslow                 ; cold, out of line
/// ```
///
/// That costs a register held across the loop (the slow path is a direct
/// call to a copy in your crate, see `slow_path`). Writing the load in inline assembly instead (one rip-relative
/// `mov`, no register held) measured slower (`cargo bench`): LLVM schedules
/// and lays out code around an `asm!` block less well.
///
/// The load is atomic so that LLVM cannot hoist it out of a loop (a plain
/// flag read could be, leaving the loop unkillable in release builds).
/// Relaxed is enough: a kill only has to be seen *eventually*, and cache
/// coherence makes the store visible within nanoseconds. While some thread
/// has a kill pending, every checkpoint in the process takes the slow path (a
/// thread-local read and a load of its own state) until that kill is
/// delivered or the thread exits.
///
/// # Examples
///
/// ```
/// use killable::{checkpoint, KillableThread};
///
/// let t = KillableThread::spawn(|| loop {
///     checkpoint(); // a loop without the attribute polls by hand
///     std::hint::spin_loop();
/// });
/// t.terminate();
/// assert!(t.join().unwrap_err().is_terminated());
/// ```
///
/// # Diagnostics
///
/// With the cargo feature `diagnostics`, each call on a killable thread also
/// records where it was made and when (a thread-local read, a clock read and
/// two relaxed stores), for `registry::ThreadInfo::last_checkpoint` (which
/// exists only with the feature). Without it, nothing of it is compiled.
#[inline]
#[cfg_attr(feature = "diagnostics", track_caller)]
pub fn user_checkpoint() {
    // With `diagnostics`, `#[track_caller]` makes this the location of the
    // user's `checkpoint()` call (or of the statement `#[killable]` put it
    // after). Without it, this inlines to the load and the branch below.
    #[cfg(feature = "diagnostics")]
    record(std::panic::Location::caller());
    if PENDING_THREADS.load(Relaxed) != 0 {
        slow_path::<UserSite>();
    }
}

/// The type argument of `slow_path` at the checkpoints of user code.
struct UserSite;

/// Records `location` as the current thread's last checkpoint, if the thread
/// is killable.
#[cfg(feature = "diagnostics")]
#[inline(always)]
fn record(location: &'static std::panic::Location<'static>) {
    local::with_current(|inner| {
        if let Some(inner) = inner {
            inner.last_checkpoint.record(location);
        }
    });
}

/// The runtime's own checkpoints (at the start of killable waits): the
/// public one without the `diagnostics` record, which would only ever name
/// a line of this crate.
#[inline(always)]
pub(crate) fn runtime_checkpoint() {
    if PENDING_THREADS.load(Relaxed) != 0 {
        checkpoint_slow();
    }
}

/// `checkpoint_slow`, reached through a function that is generic only so
/// that every crate calling [`user_checkpoint`] gets its own copy
/// (`slow_path::<UserSite>`, a type this crate never instantiates it with).
/// A call to a function of another crate goes through the GOT, and LLVM
/// hoists that address load to the top of the function and keeps it in a
/// callee-saved register: one more register saved and restored by every
/// killable fn, for a call that almost never happens. A call to the local
/// copy is a plain `call rel32`: in recursive fib, two pushes, two pops and
/// a load fewer per call. The copy has `checkpoint_slow` inlined, so a
/// checkpoint taken while a kill is pending somewhere is one call, not two.
/// `cargo bench --bench perf -- checkpoint` measures both paths (see
/// docs/PERFORMANCE.md).
#[cold]
#[inline(never)]
#[allow(clippy::extra_unused_type_parameters)] // the parameter is the point
fn slow_path<T>() {
    checkpoint_slow();
}

// Inlined into `slow_path`'s copies (one call level, not two, while a kill
// is pending); the runtime's own checkpoints call it directly.
#[cold]
#[inline]
fn checkpoint_slow() {
    local::with_current(|inner| {
        crate::killpoint::on_checkpoint(inner);
        if let Some(inner) = inner {
            deliver_pending(inner);
        }
    });
}

/// Unwinds with the kill pending for `inner` (the current thread's state), if
/// one may be delivered now.
pub(crate) fn deliver_pending(inner: &Inner) {
    if let Some(kill) = take_pending(inner) {
        unwind(kill);
    }
}

/// Takes the kill that [`deliver_pending`] would unwind with, for a caller
/// that unwinds with it ([`unwind`]) from a shallower frame.
pub(crate) fn take_pending(inner: &Inner) -> Option<Kill> {
    let delivery = match local::allowed() {
        Allowed::All => inner.take_delivery(true),
        Allowed::UnwindingScopes => match inner.take_unwinding_expiry(local::unwinding_level()) {
            Delivery::Deliver(kill) => {
                local::start_nested_unwind();
                Delivery::Deliver(kill)
            }
            other => other,
        },
        Allowed::Nothing => inner.take_delivery(false),
    };
    match delivery {
        Delivery::Deliver(kill) => Some(kill),
        Delivery::Nothing | Delivery::Deferred => None,
    }
}

/// Whether the current thread has a kill that a checkpoint would deliver now.
pub(crate) fn deliverable(inner: &Inner) -> bool {
    inner.pending() != 0
        && match local::allowed() {
            Allowed::All => true,
            Allowed::UnwindingScopes => inner.has_unwinding_expiry(local::unwinding_level()),
            Allowed::Nothing => false,
        }
}

/// Unwinds with `kill`. `resume_unwind` skips the panic hook, so nothing is
/// printed; destructors run as in any unwind.
pub(crate) fn unwind(kill: Kill) -> ! {
    crate::trace::deliver(&kill);
    if let Kill::Terminate = kill {
        // The scopes this thread opened terminate their threads now, before
        // a destructor of the unwind (a guard that joins a child) can wait
        // for one of them.
        local::on_terminate();
    }
    resume_unwind(Box::new(kill))
}
