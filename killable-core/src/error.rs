//! The errors users match on: how a killable thread ended, and a timed-out
//! cancel scope; and the payload a `JoinError` carries.

use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::RwLock;

/// How a killable thread ended when it did not return a value.
///
/// Returned by [`KillableThread::join`](crate::KillableThread::join).
/// Works with `?`, `Box<dyn Error>`, `anyhow` and `thiserror`'s `#[from]`:
/// it is `Error + Send + Sync + 'static`. The value inside
/// [`Raised`](Self::Raised) and [`Panicked`](Self::Panicked) is a
/// [`Payload`], which a shared `&JoinError` lends out only as a `Sync` type
/// (the value itself is only `Send`).
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
    Raised(Payload),
    /// The thread panicked; the panic payload is inside.
    Panicked(Payload),
}

/// A value of a type known only at run time, inside a [`JoinError`]: the
/// uncaught raised value, or the panic payload. What `Box<dyn Any + Send>`
/// is to `std::thread::JoinHandle::join`, with two differences:
///
/// * It is `Sync`, so that a `JoinError` fits `Box<dyn Error + Send +
///   Sync>` and `anyhow::Error`; the value inside may not be, so a shared
///   `&Payload` lends it out only as a type that is `Sync` itself
///   ([`downcast_ref`](Self::downcast_ref)). By value
///   ([`downcast`](Self::downcast), [`into_inner`](Self::into_inner)) or
///   through `&mut` ([`downcast_mut`](Self::downcast_mut)) any type comes out.
/// * Dropping it never panics: a panic in the value's `Drop` (user code) is
///   caught, reported by the panic hook as usual, and counted by
///   [`registry::drop_panics`](crate::registry::drop_panics). So a thread
///   whose result is dropped unjoined cannot abort the process.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use killable::{JoinError, KillableThread};
///
/// let t = KillableThread::spawn(|| loop { killable::checkpoint() });
/// t.raise(Cell::new(5_u32)).unwrap(); // `Send` but not `Sync`
/// let JoinError::Raised(mut payload) = t.join().unwrap_err() else { unreachable!() };
/// assert!(payload.is::<Cell<u32>>());
/// payload.downcast_mut::<Cell<u32>>().unwrap().set(6); // through `&mut`: fine
/// assert_eq!(payload.downcast::<Cell<u32>>().unwrap().get(), 6);
/// ```
pub struct Payload(Box<dyn Any + Send>);

// `Sync` is what lets a `JoinError` go into `Box<dyn Error + Send + Sync>`
// and `anyhow::Error`; the box inside is `Send` but not `Sync`.
// SAFETY: sharing `&Payload` across threads shares the value only where
// that is sound. The `&self` methods are `is` (calls `Any::type_id`, whose
// one implementation is std's blanket impl: it returns a constant and reads
// no data), `downcast_ref::<T>` (hands out `&T` only if the value is a `T`
// and `T: Sync`), `message` and `Debug` (downcast to `&'static str` and
// `String`, both `Sync`; `Debug` also calls `type_id`, as `is` does).
// Every other access takes `self` or `&mut self`,
// which no other thread can hold at the same time.
unsafe impl Sync for Payload {}

impl Payload {
    /// Wraps `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = killable::Payload::new(7_u8);
    /// assert_eq!(p.downcast_ref::<u8>(), Some(&7));
    /// ```
    pub fn new<E: Any + Send>(value: E) -> Payload {
        Payload(Box::new(value))
    }

    /// Whether the value is a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = killable::Payload::new("stop");
    /// assert!(p.is::<&str>());
    /// assert!(!p.is::<String>());
    /// ```
    pub fn is<T: Any>(&self) -> bool {
        (*self.0).is::<T>()
    }

    /// The value, if it is a `T`. Only for `Sync` types, since a shared
    /// `Payload` can be seen by several threads at once; use
    /// [`downcast_mut`](Self::downcast_mut) or
    /// [`downcast`](Self::downcast) for the others.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = killable::Payload::new(String::from("disk on fire"));
    /// assert_eq!(p.downcast_ref::<String>().map(String::as_str), Some("disk on fire"));
    /// assert_eq!(p.downcast_ref::<u32>(), None);
    /// ```
    pub fn downcast_ref<T: Any + Sync>(&self) -> Option<&T> {
        (*self.0).downcast_ref::<T>()
    }

    /// The value, mutably, if it is a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut p = killable::Payload::new(vec![1, 2]);
    /// p.downcast_mut::<Vec<i32>>().unwrap().push(3);
    /// assert_eq!(p.downcast_ref::<Vec<i32>>(), Some(&vec![1, 2, 3]));
    /// ```
    pub fn downcast_mut<T: Any>(&mut self) -> Option<&mut T> {
        (*self.0).downcast_mut::<T>()
    }

    /// The value, if it is a `T`; otherwise the payload itself.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = killable::Payload::new(42_i64);
    /// let p = p.downcast::<i32>().unwrap_err(); // not an i32
    /// assert_eq!(p.downcast::<i64>().unwrap(), 42);
    /// ```
    pub fn downcast<T: Any>(mut self) -> Result<T, Payload> {
        match self.take().downcast::<T>() {
            Ok(v) => Ok(*v),
            Err(v) => Err(Payload(v)),
        }
    }

    /// The boxed value, e.g. to re-throw a panic with
    /// [`std::panic::resume_unwind`]. The box drops the value like any box:
    /// a panic in its `Drop` is no longer contained.
    ///
    /// # Examples
    ///
    /// ```
    /// let boxed: Box<dyn std::any::Any + Send> = killable::Payload::new(1_u8).into_inner();
    /// assert_eq!(*boxed.downcast::<u8>().unwrap(), 1);
    /// ```
    pub fn into_inner(mut self) -> Box<dyn Any + Send> {
        self.take()
    }

    /// Moves the value out, leaving a unit in its place (a zero-sized box,
    /// which allocates nothing) for `Drop` to find.
    fn take(&mut self) -> Box<dyn Any + Send> {
        std::mem::replace(&mut self.0, Box::new(()))
    }

    /// The message of a panic payload, when it has one (`panic!` with a
    /// literal or a format string).
    fn message(&self) -> Option<&str> {
        self.downcast_ref::<&'static str>()
            .copied()
            .or_else(|| self.downcast_ref::<String>().map(String::as_str))
    }
}

impl From<Box<dyn Any + Send>> for Payload {
    /// Wraps a boxed value, such as the payload `catch_unwind` returns.
    ///
    /// # Examples
    ///
    /// ```
    /// let caught = std::panic::catch_unwind(|| std::panic::resume_unwind(Box::new(3_u16))).unwrap_err();
    /// let p = killable::Payload::from(caught);
    /// assert_eq!(p.downcast::<u16>().unwrap(), 3);
    /// ```
    fn from(value: Box<dyn Any + Send>) -> Payload {
        Payload(value)
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        drop_contained(self.take());
    }
}

/// Shows a panic's message (`Payload("boom")`), else the value's type when
/// it was raised with `raise` in this process (`Payload(app::Overrun)`),
/// else `Payload(..)`: a `dyn Any` has no name of its own.
///
/// # Examples
///
/// ```
/// struct Overrun {
///     job: u32,
/// }
///
/// let t = killable::KillableThread::spawn(|| loop { killable::checkpoint() });
/// assert!(t.raise(Overrun { job: 7 }).is_ok()); // no `Debug` needed on the value
/// let shown = format!("{:?}", t.join().unwrap_err());
/// assert!(shown.starts_with("Raised(") && shown.ends_with("::Overrun)"), "{shown}");
/// ```
impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Payload").field(&Inside(self)).finish()
    }
}

/// What `Debug` shows of a payload's value.
struct Inside<'a>(&'a Payload);

impl fmt::Debug for Inside<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(msg) = self.0.message() {
            return fmt::Debug::fmt(msg, f);
        }
        let id = (*self.0 .0).type_id();
        match read_names().get(&id) {
            Some(name) => f.write_str(name),
            None => f.write_str(".."),
        }
    }
}

/// The name of every type raised with `raise` in this process, by type id:
/// a value boxed as `dyn Any` keeps its id but not its name.
static RAISED_TYPES: RwLock<BTreeMap<TypeId, &'static str>> = RwLock::new(BTreeMap::new());

fn read_names() -> std::sync::RwLockReadGuard<'static, BTreeMap<TypeId, &'static str>> {
    RAISED_TYPES
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Records `E`'s name for [`Payload`]'s `Debug`; a read lock once the type
/// is known, which is after its first raise.
pub(crate) fn remember_raised_type<E: Any>() {
    let id = TypeId::of::<E>();
    if read_names().contains_key(&id) {
        return;
    }
    RAISED_TYPES
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(id, std::any::type_name::<E>());
}

/// How many panics [`drop_contained`] has caught in this process.
static DROP_PANICS: AtomicU64 = AtomicU64::new(0);

/// Drops `value`, a raised value or a panic payload, whose `Drop` is user
/// code: a panic in it is caught and counted instead of unwinding into the
/// runtime (where it would change a thread's result, or abort the process
/// in a thread's exit path). The panic's own payload is dropped the same
/// way; after a few payloads that each panic on drop, the last is leaked.
pub(crate) fn drop_contained(value: Box<dyn Any + Send>) {
    let mut value = value;
    for _ in 0..4 {
        match catch_unwind(AssertUnwindSafe(move || drop(value))) {
            Ok(()) => return,
            Err(payload) => {
                // Relaxed: a statistic; nothing else is published through it.
                DROP_PANICS.fetch_add(1, Relaxed);
                crate::trace::drop_panicked();
                value = payload;
            }
        }
    }
    std::mem::forget(value);
}

/// See [`registry::drop_panics`](crate::registry::drop_panics).
pub(crate) fn drop_panics() -> u64 {
    DROP_PANICS.load(Relaxed)
}

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
            JoinError::Raised(v) => v.downcast::<E>().map_err(JoinError::Raised),
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
            JoinError::Panicked(p) => Ok(p.into_inner()),
            other => Err(other),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Terminated => f.write_str("thread was terminated"),
            JoinError::Raised(_) => f.write_str("thread ended with an uncaught raised value"),
            JoinError::Panicked(p) => match p.message() {
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
            JoinError::Raised(p) => f.debug_tuple("Raised").field(&Inside(p)).finish(),
            JoinError::Panicked(p) => f.debug_tuple("Panicked").field(&Inside(p)).finish(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_error_lends_sync_payloads_to_several_threads() {
        let err = JoinError::Panicked(Payload::new(String::from("disk on fire")));
        let shared = &err;
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(move || {
                    assert_eq!(shared.to_string(), "thread panicked: disk on fire");
                    let JoinError::Panicked(p) = shared else { unreachable!() };
                    assert!(p.is::<String>());
                    assert_eq!(p.downcast_ref::<String>().unwrap(), "disk on fire");
                });
            }
        });
    }

    #[test]
    fn dropping_a_payload_contains_and_counts_a_panic_in_its_drop() {
        struct Grenade;
        impl Drop for Grenade {
            fn drop(&mut self) {
                std::panic::resume_unwind(Box::new("boom on drop")); // no hook output
            }
        }
        let before = drop_panics();
        drop(JoinError::Raised(Payload::new(Grenade)));
        assert!(drop_panics() > before);
        // Taken out by value, the value is the caller's again.
        let p = Payload::new(Grenade).downcast::<Grenade>().ok().unwrap();
        let r = catch_unwind(AssertUnwindSafe(move || drop(p)));
        assert!(r.is_err(), "outside a Payload, its drop panics as usual");
    }
}
