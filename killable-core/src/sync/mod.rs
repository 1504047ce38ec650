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

mod condvar;
#[cfg(feature = "crossbeam-channel")]
pub mod crossbeam;
pub mod mpsc;
mod mutex;
mod sleep;

pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use sleep::{park, park_timeout, sleep, sleep_until};
