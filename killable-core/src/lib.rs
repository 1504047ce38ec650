//! The runtime of [`killable`](https://docs.rs/killable): the per-thread
//! kill state, checkpoints, the thread registry, spawning and joining,
//! shields, cancel scopes and killable blocking operations.
//!
//! Depend on the `killable` facade crate rather than on this one; it
//! re-exports everything here together with the `#[killable]` attribute, and
//! its documentation is the guide.
//!
//! # Layers
//!
//! Each module imports only from the modules listed before it, so the crate
//! reads bottom-up. This list is the one source of the order: `cargo run
//! --manifest-path xtask/Cargo.toml -- layers` (run by `.ci/run`) fails on an
//! import that goes up it or closes a circle. Unit tests may use anything.
//!
//! 1. `prim`: the std/loom primitives, `lock`, `next_id`
//! 2. `diag`: where a thread last passed a checkpoint (feature `diagnostics`)
//! 3. `state`: the cross-thread kill protocol of one thread
//! 4. `token`: the cancel tokens' tree of nodes
//! 5. `local`: the thread-local view (current state, shield depth)
//! 6. `killpoint`: the test hook that terminates at the n-th checkpoint
//! 7. `entry`: a killable thread's identity and the set of live ones
//! 8. `trace`: `tracing` events (feature `tracing`)
//! 9. `error`: `JoinError`, `Payload`, `TimedOut`; contained drops
//! 10. `checkpoint`: delivery of a pending kill
//! 11. `chunk`: the chunk size and the probe `strip` and `chunked` share
//! 12. `strip`: chunks of strip-mined loops (for the macro)
//! 13. `chunked`: iterator sources checked once per chunk (for the macro)
//! 14. `shield`: holding kills back
//! 15. `catch`: catching a raised value
//! 16. `timer`: the deadline timer thread
//! 17. `wait`: the one way anything blocks
//! 18. `stall`: the stalled-kill warning (feature `tracing`)
//! 19. `killer`: `Killer`
//! 20. `registry`: every live killable thread
//! 21. `spawn`: how a killable thread starts and ends
//! 22. `thread`: `Builder`, `KillableThread`
//! 23. `scope`: scoped killable threads
//! 24. `timeout`: `with_timeout`, `with_deadline`
//! 25. `interrupt`: `interruptible`, hooks for non-killable calls
//! 26. `sync`: killable sleep, mutex, condvar, channels
//! 27. `cancel`: `CancelToken`
//! 28. `io`: killable blocking I/O
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_debug_implementations)]
// Under loom only the protocol is compiled, so the helpers that the std-only
// layers use are dead there.
#![cfg_attr(loom, allow(dead_code, unused_imports, clippy::new_without_default))]

mod prim;
mod state;
mod token;

/// Applies `#[cfg(not(loom))]` to each item: under loom only `prim` and
/// `state`, the cross-thread protocol, are compiled.
macro_rules! std_only {
    ($($item:item)*) => { $(#[cfg(not(loom))] $item)* };
}

std_only! {
    mod cancel;
    mod catch;
    mod checkpoint;
    mod entry;
    mod error;
    mod interrupt;
    pub mod io;
    mod killer;
    mod killpoint;
    mod local;
    pub mod registry;
    mod scope;
    mod shield;
    mod spawn;
    #[cfg(feature = "tracing")]
    mod stall;
    /// Without `tracing` there is no watcher to tell.
    #[cfg(not(feature = "tracing"))]
    mod stall {
        #[inline(always)]
        pub(crate) fn kick() {}
    }
    pub mod sync;
    mod thread;
    mod timeout;
    mod timer;
    mod trace;
    mod wait;

    pub use cancel::{CancelToken, Cancelled, DropGuard};
    pub use catch::{catch, is_kill};
    pub use checkpoint::user_checkpoint as checkpoint;
    pub use error::{JoinError, Payload, TimedOut};
    pub use interrupt::{interruptible, KillKind, OnKill};
    pub use registry::current;
    pub use scope::{scope, Scope, ScopedKillableThread};
    pub use shield::{is_shielded, shield};
    pub use sync::sleep::{park, park_timeout, sleep, sleep_until};
    pub use killer::Killer;
    pub use thread::{Builder, KillableThread};
    pub use timeout::{with_deadline, with_timeout};
}

/// Iterator sources checked once per chunk of items, for the iterator
/// chains `#[killable]` instruments. Not public API: no semver guarantees.
// Outside `std_only!`: it defines a `#[macro_export]` macro, which must not
// come from a macro expansion to be reachable by path.
#[cfg(not(loom))]
mod chunk;
#[cfg(not(loom))]
#[doc(hidden)]
pub mod chunked;
#[cfg(all(feature = "diagnostics", not(loom)))]
mod diag;
/// Chunks of strip-mined `for` loops, for the loops `#[killable]`
/// instruments. Not public API: no semver guarantees.
#[cfg(not(loom))]
#[doc(hidden)]
pub mod strip;

/// Whether kills can be delivered in this build: false under
/// `panic = "abort"`, where unwinding would abort the process. Then
/// `raise` hands every value back, `terminate` does nothing, and deadlines
/// never fire: killable code simply runs to completion.
///
/// # Examples
///
/// ```
/// assert_eq!(killable::KILLS_SUPPORTED, cfg!(panic = "unwind"));
/// ```
pub const KILLS_SUPPORTED: bool = state::KILLS_UNWIND;

/// How many raised values can wait for delivery on one thread. A thread
/// that holds kills back (inside a [`shield`], or in a long call without
/// checkpoints) has its raises queued; beyond this many, `raise` hands the
/// value back in `Err` until deliveries make room.
///
/// # Examples
///
/// ```
/// use killable::{shield, KillableThread, MAX_QUEUED_RAISES};
/// use std::sync::mpsc;
///
/// let (go, wait) = mpsc::channel::<()>();
/// let (ready, shielded) = mpsc::channel::<()>();
/// let t = KillableThread::spawn(move || shield(|| {
///     ready.send(()).unwrap();
///     wait.recv().unwrap(); // kills are held back in here
/// }));
/// shielded.recv().unwrap();
/// for i in 0..MAX_QUEUED_RAISES {
///     t.raise(i).unwrap();
/// }
/// assert_eq!(t.raise(usize::MAX), Err(usize::MAX)); // full: handed back
/// go.send(()).unwrap();
/// assert_eq!(t.join().unwrap(), ()); // the body returned; the queued raises were dropped at its exit
/// ```
pub const MAX_QUEUED_RAISES: usize = state::MAX_QUEUED_RAISES;

/// Test support, re-exported by the facade as `killable::__private::testing`.
/// Not public API: no semver guarantees.
#[cfg(not(loom))]
#[doc(hidden)]
pub mod __testing {
    pub use crate::killpoint::{terminate_at_checkpoint, KillPoint};
}

/// The cross-thread protocol, exposed to the loom models in `tests/loom.rs`.
#[cfg(loom)]
#[doc(hidden)]
pub mod __loom {
    pub use crate::state::{
        Delivery, Inner, Kill, KillKind, Waker, DEADLINE, PENDING_THREADS, RAISE, TERMINATE,
    };
    pub use crate::token::Node;
}
