//! The errors users match on: how a killable thread ended, and a timed-out
//! cancel scope.

use std::any::Any;
use std::fmt;

/// How a killable thread ended when it did not return a value.
///
/// Returned by [`KillableThread::join`](crate::KillableThread::join).
/// Works with `?`, `Box<dyn Error>`, `anyhow` and `thiserror`'s `#[from]`:
/// it is `Error + Send + Sync + 'static`.
///
/// # Examples
///
/// ```
/// use killable::{JoinError, KillableThread};
///
/// #[derive(Debug, PartialEq)]
/// struct Cancelled { job: u32 }
///
/// let t = KillableThread::spawn(|| loop { killable::sleep(std::time::Duration::from_millis(10)) });
/// t.raise(Cancelled { job: 7 }).unwrap();
/// let err: JoinError = t.join().unwrap_err();
/// assert!(err.is_raised());
/// assert_eq!(err.downcast_raised::<Cancelled>().unwrap(), Cancelled { job: 7 });
/// ```
#[non_exhaustive]
pub enum JoinError {
    /// The thread was terminated (by [`terminate`](crate::KillableThread::terminate),
    /// [`registry::terminate_all`](crate::registry::terminate_all) or a
    /// [`Builder::deadline`](crate::Builder::deadline)).
    Terminated,
    /// A value raised into the thread was not caught; the value is inside.
    Raised(Box<dyn Any + Send>),
    /// The thread panicked; the panic payload is inside.
    Panicked(Box<dyn Any + Send>),
}

// `Sync` is what lets the error go into `Box<dyn Error + Send + Sync>` and
// `anyhow::Error`. The payload boxes are `Send` but not `Sync`.
// SAFETY: no `&self` method hands out a reference to a payload, or calls
// anything on it but `Any::type_id` (which reads no data) and downcasts to
// the `Sync` types `&'static str` and `String`; everything else takes `self`.
unsafe impl Sync for JoinError {}

impl JoinError {
    /// Whether the thread was terminated.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| loop { killable::checkpoint() });
    /// t.terminate();
    /// assert!(t.join().unwrap_err().is_terminated());
    /// ```
    pub fn is_terminated(&self) -> bool {
        matches!(self, JoinError::Terminated)
    }

    /// Whether the thread ended with an uncaught raised value.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| loop { killable::checkpoint() });
    /// t.raise("stop").unwrap();
    /// assert!(t.join().unwrap_err().is_raised());
    /// ```
    pub fn is_raised(&self) -> bool {
        matches!(self, JoinError::Raised(_))
    }

    /// Whether the thread panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| -> () { panic!("boom") });
    /// assert!(t.join().unwrap_err().is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked(_))
    }

    /// The raised value, if the thread ended with an uncaught raise of an
    /// `E`; otherwise the error itself.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| loop { killable::checkpoint() });
    /// t.raise(42_u8).unwrap();
    /// let err = t.join().unwrap_err();
    /// let err = err.downcast_raised::<String>().unwrap_err(); // not a String
    /// assert_eq!(err.downcast_raised::<u8>().unwrap(), 42);
    /// ```
    pub fn downcast_raised<E: Any>(self) -> Result<E, JoinError> {
        match self {
            JoinError::Raised(v) => match v.downcast::<E>() {
                Ok(e) => Ok(*e),
                Err(v) => Err(JoinError::Raised(v)),
            },
            other => Err(other),
        }
    }

    /// The panic payload, if the thread panicked (to re-throw it with
    /// [`std::panic::resume_unwind`]); otherwise the error itself.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| -> () { panic!("boom") });
    /// let payload = t.join().unwrap_err().into_panic().unwrap();
    /// assert_eq!(*payload.downcast::<&str>().unwrap(), "boom");
    /// ```
    pub fn into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self {
            JoinError::Panicked(p) => Ok(p),
            other => Err(other),
        }
    }
}

/// The message of a panic payload, when it has one (`panic!` with a literal
/// or a format string).
fn payload_message(p: &(dyn Any + Send)) -> Option<&str> {
    p.downcast_ref::<&'static str>()
        .copied()
        .or_else(|| p.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Terminated => f.write_str("thread was terminated"),
            JoinError::Raised(_) => f.write_str("thread ended with an uncaught raised value"),
            JoinError::Panicked(p) => match payload_message(&**p) {
                Some(msg) => write!(f, "thread panicked: {msg}"),
                None => f.write_str("thread panicked"),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Terminated => f.write_str("Terminated"),
            JoinError::Raised(_) => f.debug_tuple("Raised").field(&"..").finish(),
            JoinError::Panicked(p) => match payload_message(&**p) {
                Some(msg) => f.debug_tuple("Panicked").field(&msg).finish(),
                None => f.debug_tuple("Panicked").field(&"..").finish(),
            },
        }
    }
}

impl std::error::Error for JoinError {}

/// A [`with_timeout`](crate::with_timeout) scope's deadline was delivered
/// before its closure returned.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let r = killable::with_timeout(Duration::ZERO, || loop { killable::checkpoint() });
/// let err: killable::TimedOut = r.unwrap_err();
/// assert_eq!(err.to_string(), "deadline elapsed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TimedOut;

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline elapsed")
    }
}

impl std::error::Error for TimedOut {}
