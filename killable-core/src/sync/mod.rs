//! Blocking operations that wake at once when their thread is killed.
//!
//! Each one behaves like its `std` counterpart on a thread that is not
//! killable (or inside a [`shield`](crate::shield)); on a killable thread, a
//! raise, a termination or an expired [`with_timeout`](crate::with_timeout)
//! deadline ends the wait by unwinding, immediately, whatever its timeout.
//!
//! Each is also a checkpoint: a kill already pending when it is called is
//! delivered before it waits or takes anything (a receive with values
//! queued, a join of a finished thread). A wait ended by a kill leaves no
//! trace: a condvar notification meant for someone else is passed on, a
//! channel keeps its queued values, a blocked send queues nothing.
//!
//! # Examples
//!
//! ```
//! use killable::sync::{Condvar, Mutex};
//! use killable::KillableThread;
//! use std::sync::Arc;
//!
//! let pair = Arc::new((Mutex::new(false), Condvar::new()));
//! let waiter = {
//!     let pair = Arc::clone(&pair);
//!     // Waits for a notification that never comes...
//!     KillableThread::spawn(move || {
//!         let (m, cv) = &*pair;
//!         drop(cv.wait_while(m.lock().unwrap(), |done| !*done));
//!     })
//! };
//! waiter.terminate(); // ...until it is terminated: the wait wakes at once
//! assert!(waiter.join().unwrap_err().is_terminated());
//! assert!(!pair.0.is_poisoned()); // and the mutex was released, not poisoned
//! ```

mod condvar;
#[cfg(feature = "crossbeam-channel")]
pub mod crossbeam;
pub mod mpsc;
mod mutex;
pub(crate) mod sleep;

pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
// Their one home is the crate root (`killable::sleep`); these paths stay
// for code written against them, out of the docs.
#[doc(hidden)]
pub use sleep::{park, park_timeout, sleep, sleep_until};
