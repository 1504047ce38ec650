//! A multi-producer, single-consumer channel whose receives wake at once on
//! a kill.
//!
//! Same shape and error types as [`std::sync::mpsc`] (unbounded). Chosen over
//! wrapping `std`'s or crossbeam's receivers because a receive must be woken
//! by a kill without a message: this channel's receiver parks, and kills
//! unpark, so no extra "kill" channel or select is needed per thread.

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use std::time::{Duration, Instant};

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError};

use crate::prim::lock;
use crate::wait::{deliver_current, park_until, Woke};

struct State<T> {
    queue: VecDeque<T>,
    senders: usize,
    receiver_alive: bool,
    /// The receiver, while it waits.
    waiter: Option<Thread>,
}

struct Chan<T> {
    state: Mutex<State<T>>,
}

/// Creates an unbounded channel, like [`std::sync::mpsc::channel`].
///
/// # Examples
///
/// ```
/// use killable::{sync::mpsc, KillableThread};
///
/// let (tx, rx) = mpsc::channel::<u32>();
/// let consumer = KillableThread::spawn(move || {
///     let mut sum = 0;
///     while let Ok(v) = rx.recv() {
///         sum += v;
///     }
///     sum
/// });
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// drop(tx);
/// assert_eq!(consumer.join().unwrap(), 3);
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            senders: 1,
            receiver_alive: true,
            waiter: None,
        }),
    });
    (
        Sender { chan: chan.clone() },
        Receiver {
            chan,
            _not_sync: PhantomData,
        },
    )
}

/// The sending half; clone it for more producers.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`; never blocks.
    ///
    /// # Errors
    ///
    /// Hands `value` back if the receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = killable::sync::mpsc::channel();
    /// tx.send("hi").unwrap();
    /// drop(rx);
    /// assert_eq!(tx.send("anyone?").unwrap_err().0, "anyone?");
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let waiter = {
            let mut s = lock(&self.chan.state);
            if !s.receiver_alive {
                return Err(SendError(value));
            }
            s.queue.push_back(value);
            s.waiter.take()
        };
        if let Some(t) = waiter {
            t.unpark();
        }
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        lock(&self.chan.state).senders += 1;
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waiter = {
            let mut s = lock(&self.chan.state);
            s.senders -= 1;
            if s.senders == 0 {
                s.waiter.take()
            } else {
                None
            }
        };
        if let Some(t) = waiter {
            t.unpark();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// The receiving half. `Send` but not `Sync`: one thread receives at a time.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl<T> Receiver<T> {
    /// Waits for a value; a kill wakes the wait at once and unwinds.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once every sender is gone and the queue is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use killable::{sync::mpsc, KillableThread};
    ///
    /// let (tx, rx) = mpsc::channel::<()>();
    /// let t = KillableThread::spawn(move || rx.recv());
    /// t.terminate(); // no message will ever come
    /// assert!(t.join().unwrap_err().is_terminated());
    /// drop(tx);
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_until(None).map_err(|_| RecvError)
    }

    /// Like [`recv`](Self::recv), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// `Timeout` or `Disconnected`.
    ///
    /// # Examples
    ///
    /// ```
    /// use killable::sync::mpsc::{channel, RecvTimeoutError};
    /// let (_tx, rx) = channel::<u8>();
    /// assert_eq!(rx.recv_timeout(std::time::Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_until(Instant::now().checked_add(timeout))
    }

    /// Takes a value if one is queued.
    ///
    /// # Errors
    ///
    /// `Empty` or `Disconnected`.
    ///
    /// # Examples
    ///
    /// ```
    /// use killable::sync::mpsc::{channel, TryRecvError};
    /// let (tx, rx) = channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(3).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(3));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut s = lock(&self.chan.state);
        match s.queue.pop_front() {
            Some(v) => Ok(v),
            None if s.senders == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// An iterator that receives until every sender is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = killable::sync::mpsc::channel();
    /// for i in 0..3 { tx.send(i).unwrap(); }
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(move || self.recv().ok())
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let me = std::thread::current();
        loop {
            {
                let mut s = lock(&self.chan.state);
                if let Some(v) = s.queue.pop_front() {
                    return Ok(v);
                }
                if s.senders == 0 {
                    return Err(RecvTimeoutError::Disconnected);
                }
                s.waiter = Some(me.clone());
            }
            let ready = || {
                let s = lock(&self.chan.state);
                !s.queue.is_empty() || s.senders == 0
            };
            match park_until(deadline, ready) {
                Woke::Done => {}
                Woke::TimedOut => {
                    lock(&self.chan.state).waiter = None;
                    return self.try_recv().map_err(|e| match e {
                        TryRecvError::Empty => RecvTimeoutError::Timeout,
                        TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                    });
                }
                Woke::Killed => {
                    // Nothing was taken: queued values stay for the next
                    // receive.
                    lock(&self.chan.state).waiter = None;
                    deliver_current();
                }
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let dropped = {
            let mut s = lock(&self.chan.state);
            s.receiver_alive = false;
            std::mem::take(&mut s.queue)
        };
        drop(dropped);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}
