//! Spawning killable threads, and the handles that kill and join them.

use std::any::Any;
use std::fmt;
use std::io;
use std::thread::{JoinHandle, Thread, ThreadId};
use std::time::{Duration, Instant};

use crate::error::JoinError;
use crate::killer::Killer;
use crate::spawn::{self, finish_spawn, run, Registered};


/// An owned handle to a killable thread: std's `JoinHandle` plus
/// [`raise`](Self::raise) and [`terminate`](Self::terminate).
///
/// Dropping it detaches the thread (it keeps running, and stays reachable
/// through [`registry`](crate::registry)).
///
/// # Examples
///
/// ```
/// use killable::{killable, KillableThread};
///
/// #[killable]
/// fn count_forever() -> u64 {
///     let mut n = 0u64;
///     loop {
///         n = n.wrapping_add(1);
///     }
/// }
///
/// let t: KillableThread<u64> = KillableThread::spawn(count_forever);
/// assert!(t.is_alive());
/// t.terminate();
/// assert!(t.join().unwrap_err().is_terminated());
/// ```
#[must_use = "dropping a KillableThread detaches the thread; join it or keep a Killer"]
pub struct KillableThread<T> {
    killer: Killer,
    handle: JoinHandle<Result<T, JoinError>>,
}

impl<T: Send + 'static> KillableThread<T> {
    /// Spawns a killable thread running `f`, like [`std::thread::spawn`].
    ///
    /// # Panics
    ///
    /// If the OS refuses to create a thread; use [`Builder::spawn`] to get
    /// the error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| 6 * 7);
    /// assert_eq!(t.join().unwrap(), 42);
    /// ```
    pub fn spawn<F>(f: F) -> KillableThread<T>
    where
        F: FnOnce() -> T + Send + 'static,
    {
        Builder::new()
            .spawn(f)
            .expect("killable: failed to spawn thread")
    }
}

impl<T> KillableThread<T> {
    /// See [`Killer::raise`].
    ///
    /// # Errors
    ///
    /// Hands `exc` back if it was not accepted (the thread has finished, is
    /// being terminated, or has a full queue of raises).
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Debug)]
    /// struct Reload { generation: u32 }
    ///
    /// let t = killable::KillableThread::spawn(|| loop { killable::checkpoint() });
    /// t.raise(Reload { generation: 2 }).unwrap();
    /// let err = t.join().unwrap_err();
    /// assert_eq!(err.downcast_raised::<Reload>().unwrap().generation, 2);
    /// ```
    pub fn raise<E: Any + Send + 'static>(&self, exc: E) -> Result<(), E> {
        self.killer.raise(exc)
    }

    /// See [`Killer::terminate`].
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| loop { killable::checkpoint() });
    /// t.terminate();
    /// assert!(t.join().unwrap_err().is_terminated());
    /// ```
    pub fn terminate(&self) {
        self.killer.terminate();
    }

    /// Waits for the thread to finish and returns its result, like
    /// [`std::thread::JoinHandle::join`], with the way it was killed in the
    /// error. Like std's, it waits for the thread's thread-local destructors
    /// too. Called from a killable thread, the whole wait is killable
    /// (thread-local destructors included).
    ///
    /// # Errors
    ///
    /// [`JoinError::Terminated`], [`JoinError::Raised`] (an uncaught raise,
    /// with its value) or [`JoinError::Panicked`] (with the payload).
    ///
    /// # Panics
    ///
    /// If called on the thread's own handle from inside that thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| "done");
    /// assert_eq!(t.join().unwrap(), "done");
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        spawn::join(self.killer.entry(), self.handle)
    }

    /// Like [`join`](Self::join), but gives up after `timeout`, handing the
    /// handle back in `Err` so the caller can terminate it and try again.
    ///
    /// The two layers of `Result` answer two questions. The outer one: did
    /// the thread end in time? `Err(handle)` means no, and gives the handle
    /// back, since a running thread must not be detached by accident. The
    /// inner one is what [`join`](Self::join) returns: how the thread ended.
    /// The usual pattern is a `match` on both, or "ask, then insist":
    ///
    /// ```
    /// use std::time::Duration;
    /// use killable::{JoinError, KillableThread};
    ///
    /// fn stop<T>(t: KillableThread<T>) -> Result<T, JoinError> {
    ///     match t.join_timeout(Duration::from_millis(50)) {
    ///         Ok(ended) => ended,          // ended by itself, in time
    ///         Err(still_running) => {      // too slow: insist
    ///             still_running.terminate();
    ///             still_running.join()
    ///         }
    ///     }
    /// }
    ///
    /// let t = KillableThread::spawn(|| loop { killable::sleep(Duration::from_millis(5)) });
    /// assert!(stop(t).unwrap_err().is_terminated());
    /// assert_eq!(stop(KillableThread::spawn(|| 7)).unwrap(), 7);
    /// ```
    ///
    /// # Errors
    ///
    /// `Err(self)` if the thread is still running after `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = killable::KillableThread::spawn(|| loop { killable::sleep(Duration::from_millis(5)) });
    /// let t = t.join_timeout(Duration::from_millis(20)).unwrap_err(); // still running
    /// t.terminate();
    /// let result = t.join_timeout(Duration::from_secs(10)).ok().unwrap();
    /// assert!(result.unwrap_err().is_terminated());
    /// ```
    pub fn join_timeout(self, timeout: Duration) -> Result<Result<T, JoinError>, Self> {
        let Self { killer, handle } = self;
        spawn::join_timeout(killer.entry(), handle, timeout).map_err(|handle| Self { killer, handle })
    }

    /// Whether the thread's body is still running.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| loop { killable::checkpoint() });
    /// assert!(t.is_alive());
    /// t.terminate();
    /// # t.join().unwrap_err();
    /// ```
    pub fn is_alive(&self) -> bool {
        self.killer.is_alive()
    }

    /// Whether the thread's body has returned or unwound (then
    /// [`join`](Self::join) waits at most for its thread-local destructors).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| ());
    /// while !t.is_finished() { std::thread::yield_now(); }
    /// t.join().unwrap();
    /// ```
    pub fn is_finished(&self) -> bool {
        self.killer.is_finished()
    }

    /// The thread's id.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| std::thread::current().id());
    /// let id = t.id();
    /// assert_eq!(t.join().unwrap(), id);
    /// ```
    pub fn id(&self) -> ThreadId {
        self.killer.id()
    }

    /// The underlying [`Thread`], e.g. to unpark it.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::Builder::new().name("w".into()).spawn(|| ()).unwrap();
    /// assert_eq!(t.thread().name(), Some("w"));
    /// # t.join().unwrap();
    /// ```
    pub fn thread(&self) -> &Thread {
        self.handle.thread()
    }

    /// A [`Killer`] for this thread, to hand to other threads.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::KillableThread::spawn(|| loop { killable::checkpoint() });
    /// let k = t.killer();
    /// k.terminate();
    /// assert!(t.join().unwrap_err().is_terminated());
    /// ```
    pub fn killer(&self) -> Killer {
        self.killer.clone()
    }
}

impl<T> fmt::Debug for KillableThread<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KillableThread")
            .field("id", &self.id())
            .field("name", &self.killer.name())
            .field("alive", &self.is_alive())
            .finish()
    }
}

/// Configures a killable thread before spawning it, like
/// [`std::thread::Builder`], plus a [`deadline`](Self::deadline).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let t = killable::Builder::new()
///     .name("crawler".to_string())
///     .stack_size(256 * 1024)
///     .deadline(Instant::now() + Duration::from_millis(20))
///     .spawn(|| loop { killable::sleep(Duration::from_millis(1)) })
///     .unwrap();
/// assert!(t.join().unwrap_err().is_terminated()); // terminated at its deadline
/// ```
#[derive(Debug, Default)]
#[must_use = "a Builder does nothing until spawn is called"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    deadline: Option<Instant>,
}

impl Builder {
    /// A builder with no name, the default stack size and no deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::Builder::new().spawn(|| 1).unwrap();
    /// assert_eq!(t.join().unwrap(), 1);
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the thread (shown in panic messages and
    /// [`registry::threads`](crate::registry::threads)).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::Builder::new().name("a".into()).spawn(|| std::thread::current().name().map(String::from)).unwrap();
    /// assert_eq!(t.join().unwrap().as_deref(), Some("a"));
    /// ```
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Sets the stack size in bytes, as [`std::thread::Builder::stack_size`].
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::Builder::new().stack_size(64 * 1024).spawn(|| 1).unwrap();
    /// assert_eq!(t.join().unwrap(), 1);
    /// ```
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    /// Terminates the thread at `deadline` if it is still running then (its
    /// join gives [`JoinError::Terminated`]). A deadline in the past
    /// terminates it at its first checkpoint.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let t = killable::Builder::new()
    ///     .deadline(Instant::now() + Duration::from_secs(60))
    ///     .spawn(|| "finished early")
    ///     .unwrap();
    /// assert_eq!(t.join().unwrap(), "finished early");
    /// ```
    pub fn deadline(mut self, deadline: Instant) -> Builder {
        self.deadline = Some(deadline);
        self
    }

    /// Spawns the thread.
    ///
    /// # Errors
    ///
    /// The OS's error if it refuses to create the thread (e.g. a stack size
    /// it cannot provide), or [`io::ErrorKind::InvalidInput`] if the name
    /// contains a NUL byte. Nothing is left registered then.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = killable::Builder::new().spawn(|| 2 + 2)?;
    /// assert_eq!(t.join().unwrap(), 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn<F, T>(self, f: F) -> io::Result<KillableThread<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (std_builder, entry, deadline) = self.prepare()?;
        let run_entry = entry.clone();
        let spawned = std_builder.spawn(move || run(&run_entry, deadline, f));
        let (entry, handle) = finish_spawn(entry, spawned)?;
        Ok(KillableThread {
            killer: Killer::from_entry(entry),
            handle,
        })
    }

    /// Checks the configuration and registers the thread-to-be: pass the
    /// returned [`Registered`] to [`finish_spawn`] with std's spawn result.
    /// If anything in between panics, dropping it retires the entry.
    /// Checks the configuration and registers the thread-to-be (see
    /// [`spawn::prepare`]).
    pub(crate) fn prepare(self) -> io::Result<(std::thread::Builder, Registered, Option<Instant>)> {
        spawn::prepare(self.name, self.stack_size, self.deadline)
    }
}
