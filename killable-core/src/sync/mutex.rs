use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

/// [`std::sync::Mutex`] with a guard that remembers its mutex, which is what
/// lets [`Condvar`](super::Condvar) release and re-take it around a killable
/// wait.
///
/// Locking itself is not killable (locks are meant to be held briefly);
/// poisoning works as in `std`: a kill that unwinds while a guard is held
/// poisons the mutex, like a panic. A kill delivered inside
/// [`Condvar::wait`](super::Condvar::wait) does not: the mutex is released
/// before the unwind starts.
///
/// # Examples
///
/// ```
/// let m = killable::sync::Mutex::new(5);
/// *m.lock().unwrap() += 1;
/// assert_eq!(m.into_inner().unwrap(), 6);
/// ```
#[derive(Default)]
pub struct Mutex<T: ?Sized> {
    inner: std::sync::Mutex<T>,
}

/// The guard of a [`Mutex`]; derefs to the data.
///
/// # Examples
///
/// ```
/// use killable::sync::{Mutex, MutexGuard};
///
/// let m = Mutex::new(vec![1]);
/// {
///     let mut g: MutexGuard<'_, Vec<i32>> = m.lock().unwrap();
///     g.push(2); // `DerefMut` to the data
///     assert!(m.try_lock().is_err()); // held until the guard drops
/// }
/// assert_eq!(*m.lock().unwrap(), [1, 2]);
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    pub(super) mutex: &'a Mutex<T>,
    pub(super) guard: std::sync::MutexGuard<'a, T>,
}

fn map_result<'a, T: ?Sized>(
    mutex: &'a Mutex<T>,
    r: LockResult<std::sync::MutexGuard<'a, T>>,
) -> LockResult<MutexGuard<'a, T>> {
    match r {
        Ok(guard) => Ok(MutexGuard { mutex, guard }),
        Err(e) => Err(PoisonError::new(MutexGuard {
            mutex,
            guard: e.into_inner(),
        })),
    }
}

impl<T> Mutex<T> {
    /// A new unlocked mutex.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = killable::sync::Mutex::new(Vec::<u8>::new());
    /// # drop(m);
    /// ```
    pub const fn new(value: T) -> Self {
        Mutex {
            inner: std::sync::Mutex::new(value),
        }
    }

    /// Consumes the mutex, returning the data.
    ///
    /// # Errors
    ///
    /// If the mutex is poisoned (the data is still inside the error).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(killable::sync::Mutex::new(1).into_inner().unwrap(), 1);
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the mutex, blocking (not killably) until it is free.
    ///
    /// # Errors
    ///
    /// If the mutex is poisoned (the guard is still inside the error).
    ///
    /// # Examples
    ///
    /// ```
    /// let m = killable::sync::Mutex::new(0);
    /// *m.lock().unwrap() = 10;
    /// assert_eq!(*m.lock().unwrap(), 10);
    /// ```
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        map_result(self, self.inner.lock())
    }

    /// Acquires the mutex if it is free.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if it is locked; `Poisoned` if it is poisoned.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = killable::sync::Mutex::new(0);
    /// let g = m.lock().unwrap();
    /// assert!(m.try_lock().is_err());
    /// drop(g);
    /// assert!(m.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        match self.inner.try_lock() {
            Ok(guard) => Ok(MutexGuard { mutex: self, guard }),
            Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
            Err(TryLockError::Poisoned(e)) => {
                Err(TryLockError::Poisoned(PoisonError::new(MutexGuard {
                    mutex: self,
                    guard: e.into_inner(),
                })))
            }
        }
    }

    /// Whether a thread unwound while holding the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!killable::sync::Mutex::new(()).is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.inner.is_poisoned()
    }

    /// Clears the poisoned state.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = killable::sync::Mutex::new(());
    /// m.clear_poison();
    /// assert!(!m.is_poisoned());
    /// ```
    pub fn clear_poison(&self) {
        self.inner.clear_poison();
    }

    /// A mutable reference to the data, without locking.
    ///
    /// # Errors
    ///
    /// If the mutex is poisoned.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut m = killable::sync::Mutex::new(1);
    /// *m.get_mut().unwrap() = 2;
    /// assert_eq!(*m.lock().unwrap(), 2);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        self.inner.get_mut()
    }

    pub(super) fn relock(&self) -> LockResult<MutexGuard<'_, T>> {
        self.lock()
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
