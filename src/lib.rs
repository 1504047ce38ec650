//! # killable: threads you can stop
//!
//! "How do I stop a thread in Rust?" used to have one answer: you can't;
//! poll a flag by hand. With this crate you put `#[killable]` on the code the
//! thread runs, and any other thread can then [`terminate`] it, or
//! [`raise`] a typed value into it, or give it a deadline. The kill lands at
//! the next *checkpoint* the attribute inserted and unwinds the thread,
//! running every destructor on the way out.
//!
//! [`terminate`]: KillableThread::terminate
//! [`raise`]: KillableThread::raise
//!
//! ```
//! use killable::{killable, KillableThread};
//! use std::time::Duration;
//!
//! struct Cleanup;
//! impl Drop for Cleanup {
//!     fn drop(&mut self) { println!("outta here"); }
//! }
//!
//! #[killable]
//! fn work() {
//!     let _guard = Cleanup;
//!     loop {
//!         std::hint::black_box(0); // plain code: no flag, no polling
//!     }
//! }
//!
//! let t = KillableThread::spawn(work);
//! assert!(t.is_alive());
//! t.terminate();
//! assert!(t.join().unwrap_err().is_terminated()); // and "outta here" was printed
//! ```
//!
//! See the [README](https://example.invalid/killable) for the full guide;
//! its sections are mirrored below as they are written.
//!
//! ## Where kills land
//!
//! Only at checkpoints: [`checkpoint()`] calls, which `#[killable]` inserts
//! at fn entry, at the head of every loop body, after every statement that
//! calls something, and at closure entry; and inside killable blocking
//! operations ([`sleep`], [`sync::Condvar`], [`sync::mpsc`], joins), which
//! wake at once. Never inside a [`shield`], never while the thread is already
//! unwinding, never in thread-local destructors.
//!
//! ## `panic = "abort"`
//!
//! A kill is an unwind, and in a `panic = "abort"` build an unwind aborts the
//! process. So there, kills are refused instead ([`KILLS_SUPPORTED`] is
//! false): `raise` hands every value back, `terminate` does nothing, and
//! deadlines never fire. Killable code runs to completion, exactly as it
//! would without this crate.
#![deny(missing_docs)]

pub use killable_core::*;
pub use killable_macros::killable;

/// Paths used by the code `#[killable]` generates. Not public API: no
/// semver guarantees.
#[doc(hidden)]
pub mod __private {
    pub use killable_core::checkpoint;

    /// Test support: deterministic kill points (see `tests/killpoint.rs`).
    pub mod testing {
        pub use killable_core::__testing::*;
    }
}
