//! A multi-producer, single-consumer channel whose receives wake at once on
//! a kill.
//!
//! Same shape and error types as [`std::sync::mpsc`]: [`channel`] is
//! unbounded, [`sync_channel`] bounded with a killable `send`. Chosen over
//! wrapping `std`'s or crossbeam's receivers because a receive must be woken
//! by a kill without a message: this channel's receiver parks, and kills
//! unpark, so no extra "kill" channel or select is needed per thread.
//!
//! Every blocking call here is also a checkpoint: a kill already pending
//! when it is called is delivered before it takes or queues anything. A
//! killed call leaves the queue exactly as it was: nothing is lost, nothing
//! is queued twice.
//!
//! # Examples
//!
//! ```
//! use killable::{sync::mpsc, KillableThread};
//!
//! let (tx, rx) = mpsc::channel::<u64>();
//! let consumer = KillableThread::spawn(move || rx.iter().sum::<u64>());
//! for n in 1..=4 {
//!     tx.send(n).unwrap();
//! }
//! drop(tx); // the last sender gone: `iter` ends once the queue is empty
//! assert_eq!(consumer.join().unwrap(), 10);
//!
//! // A consumer waiting for a message that never comes can still be stopped.
//! let (_tx, rx) = mpsc::channel::<u64>();
//! let stuck = KillableThread::spawn(move || rx.recv());
//! stuck.terminate();
//! assert!(stuck.join().unwrap_err().is_terminated());
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use std::time::{Duration, Instant};

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use crate::checkpoint::runtime_checkpoint;
use crate::prim::lock;
use crate::prim::next_id;
use crate::wait::{deliver_current, park_until, Woke};

struct State<T> {
    queue: VecDeque<T>,
    /// `Some(n)` for a [`sync_channel`]`(n)`: sends wait while it is full.
    bound: Option<usize>,
    senders: usize,
    receiver_alive: bool,
    /// The receiver, while it waits.
    waiter: Option<Thread>,
    /// Senders waiting for room, oldest first, by ticket. Each value taken
    /// wakes the oldest (dequeuing it); a woken sender that finds no room
    /// queues again, and one killed after being woken passes the wake-up on.
    blocked_senders: VecDeque<(u64, Thread)>,
}

impl<T> State<T> {
    /// Whether a send may queue a value now.
    fn has_room(&self) -> bool {
        match self.bound {
            None => true,
            Some(0) => self.queue.is_empty() && self.waiter.is_some(),
            Some(n) => self.queue.len() < n,
        }
    }

    /// Takes the oldest blocked sender, to unpark once the lock is released.
    fn next_sender(&mut self) -> Option<Thread> {
        self.blocked_senders.pop_front().map(|(_, t)| t)
    }

    /// Takes a value, and the sender to wake now that there is room.
    fn pop(&mut self) -> Option<(T, Option<Thread>)> {
        let v = self.queue.pop_front()?;
        Some((v, self.next_sender()))
    }
}

/// Unparks a thread taken from the state, after the lock is released.
fn wake(t: Option<Thread>) {
    if let Some(t) = t {
        t.unpark();
    }
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
    let (chan, rx) = new_chan(None);
    (Sender { chan }, rx)
}

/// Creates a channel holding at most `bound` values, like
/// [`std::sync::mpsc::sync_channel`]: [`SyncSender::send`] waits while it is
/// full, and a kill wakes that wait at once, leaving the value unsent.
///
/// With `bound == 0` (a rendezvous), a send completes once the receiver is
/// waiting in a receive; if that receive is then killed, the value stays
/// queued for the next one.
///
/// # Examples
///
/// ```
/// use killable::{sync::mpsc, KillableThread};
///
/// let (tx, rx) = mpsc::sync_channel::<u32>(1);
/// let producer = KillableThread::spawn(move || {
///     for i in 0.. {
///         tx.send(i).unwrap(); // blocks once the one slot is taken
///     }
/// });
/// assert_eq!(rx.recv(), Ok(0));
/// producer.terminate(); // wakes the blocked send
/// assert!(producer.join().unwrap_err().is_terminated());
/// ```
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let (chan, rx) = new_chan(Some(bound));
    (SyncSender { chan }, rx)
}

fn new_chan<T>(bound: Option<usize>) -> (Arc<Chan<T>>, Receiver<T>) {
    let chan = Arc::new(Chan {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            bound,
            senders: 1,
            receiver_alive: true,
            waiter: None,
            blocked_senders: VecDeque::new(),
        }),
    });
    let rx = Receiver {
        chan: chan.clone(),
        _not_sync: PhantomData,
    };
    (chan, rx)
}

/// The sending half; clone it for more producers.
///
/// # Examples
///
/// ```
/// let (tx, rx) = killable::sync::mpsc::channel();
/// let producers: Vec<_> = (0..3)
///     .map(|i| {
///         let tx = tx.clone();
///         std::thread::spawn(move || tx.send(i).unwrap())
///     })
///     .collect();
/// drop(tx);
/// producers.into_iter().for_each(|p| p.join().unwrap());
/// let mut got: Vec<i32> = rx.iter().collect();
/// got.sort();
/// assert_eq!(got, [0, 1, 2]);
/// ```
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
        match self.chan.try_send(value) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(v)) => Err(SendError(v)),
            // An unbounded queue always has room.
            Err(TrySendError::Full(_)) => unreachable!("unbounded channel is never full"),
        }
    }
}

impl<T> Chan<T> {
    /// Queues `value` if there is room, waking the receiver.
    fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let waiter = {
            let mut s = lock(&self.state);
            if !s.receiver_alive {
                return Err(TrySendError::Disconnected(value));
            }
            if !s.has_room() {
                return Err(TrySendError::Full(value));
            }
            s.queue.push_back(value);
            s.waiter.take()
        };
        wake(waiter);
        Ok(())
    }

    /// Waits for room, then queues `value`. Killable.
    fn send_blocking(&self, value: T) -> Result<(), SendError<T>> {
        runtime_checkpoint();
        let ticket = next_id();
        let me = std::thread::current();
        loop {
            {
                let mut s = lock(&self.state);
                let queued = s.blocked_senders.iter().position(|(id, _)| *id == ticket);
                if !s.receiver_alive || s.has_room() {
                    if let Some(pos) = queued {
                        s.blocked_senders.remove(pos);
                    }
                }
                if !s.receiver_alive {
                    return Err(SendError(value));
                }
                if s.has_room() {
                    s.queue.push_back(value);
                    let receiver = s.waiter.take();
                    drop(s);
                    wake(receiver);
                    return Ok(());
                }
                if queued.is_none() {
                    s.blocked_senders.push_back((ticket, me.clone()));
                }
            }
            // Also done once dequeued: a woken sender that finds no room
            // must queue again rather than park where no wake-up finds it.
            let ready = || {
                let s = lock(&self.state);
                s.has_room()
                    || !s.receiver_alive
                    || !s.blocked_senders.iter().any(|(id, _)| *id == ticket)
            };
            match park_until(None, ready) {
                Woke::Done | Woke::TimedOut => {}
                Woke::Killed => {
                    let next = {
                        let mut s = lock(&self.state);
                        match s.blocked_senders.iter().position(|(id, _)| *id == ticket) {
                            Some(pos) => {
                                s.blocked_senders.remove(pos);
                                None
                            }
                            // Dequeued: a wake-up was meant for us. Pass it
                            // on if the room it announced is still there.
                            None if s.has_room() => s.next_sender(),
                            None => None,
                        }
                    };
                    wake(next);
                    // Unwinds, dropping the value unsent. (Were it ever to
                    // return, the loop would simply try again.)
                    deliver_current();
                }
            }
        }
    }

    fn add_sender(&self) {
        lock(&self.state).senders += 1;
    }

    fn drop_sender(&self) {
        let waiter = {
            let mut s = lock(&self.state);
            s.senders -= 1;
            if s.senders == 0 {
                s.waiter.take()
            } else {
                None
            }
        };
        wake(waiter);
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// The sending half of a [`sync_channel`]; clone it for more producers.
///
/// # Examples
///
/// ```
/// use killable::sync::mpsc::{sync_channel, TrySendError};
///
/// let (tx, rx) = sync_channel(1);
/// let tx2 = tx.clone();
/// tx.send('a').unwrap();
/// assert_eq!(tx2.try_send('b'), Err(TrySendError::Full('b'))); // bound of 1 reached
/// assert_eq!(rx.recv(), Ok('a'));
/// tx2.try_send('b').unwrap();
/// assert_eq!(rx.recv(), Ok('b'));
/// ```
pub struct SyncSender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> SyncSender<T> {
    /// Sends `value`, waiting while the channel is full. A kill wakes the
    /// wait at once and unwinds; the value is dropped unsent and the queue
    /// is left as it was.
    ///
    /// # Errors
    ///
    /// Hands `value` back if the receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = killable::sync::mpsc::sync_channel(2);
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.recv(), Ok(1));
    /// drop(rx);
    /// assert_eq!(tx.send(3).unwrap_err().0, 3);
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan.send_blocking(value)
    }

    /// Sends `value` only if there is room now.
    ///
    /// # Errors
    ///
    /// `Full` or `Disconnected`, with the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use killable::sync::mpsc::{sync_channel, TrySendError};
    /// let (tx, _rx) = sync_channel(1);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(value)
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        SyncSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for SyncSender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncSender").finish_non_exhaustive()
    }
}

/// The receiving half. `Send` but not `Sync`: one thread receives at a time.
///
/// # Examples
///
/// ```
/// use killable::sync::mpsc::{channel, TryRecvError};
/// use std::time::Duration;
///
/// let (tx, rx) = channel();
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// tx.send(1).unwrap();
/// assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(1));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
/// ```
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
        match s.pop() {
            Some((v, sender)) => {
                drop(s);
                wake(sender);
                Ok(v)
            }
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
        runtime_checkpoint();
        let me = std::thread::current();
        loop {
            {
                let mut s = lock(&self.chan.state);
                if let Some((v, sender)) = s.pop() {
                    drop(s);
                    wake(sender);
                    return Ok(v);
                }
                if s.senders == 0 {
                    return Err(RecvTimeoutError::Disconnected);
                }
                s.waiter = Some(me.clone());
                // A rendezvous sender waits for a waiting receiver: that is
                // us now.
                if s.has_room() {
                    let sender = s.next_sender();
                    drop(s);
                    wake(sender);
                }
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
        let (dropped, senders) = {
            let mut s = lock(&self.chan.state);
            s.receiver_alive = false;
            (
                std::mem::take(&mut s.queue),
                std::mem::take(&mut s.blocked_senders),
            )
        };
        // Blocked senders wake to find the receiver gone.
        for (_, t) in senders {
            t.unpark();
        }
        drop(dropped);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}
