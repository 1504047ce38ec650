//! Killable receives on [`crossbeam_channel`] receivers (cargo feature
//! `crossbeam-channel`).
//!
//! [`recv`] and [`recv_timeout`] wait like `Receiver::recv` and
//! `Receiver::recv_timeout`, and wake at once when their thread is raised
//! into, terminated, or its [`with_timeout`](crate::with_timeout) deadline
//! passes. The channel itself is untouched: senders, other receivers and
//! `select!` elsewhere see an ordinary crossbeam channel.
//!
//! How: the wait is a crossbeam `Select` over the receiver and a private
//! one-slot wake-up channel, run inside [`interruptible`](crate::interruptible)
//! whose `on_kill` posts to that channel. A kill pending when a message is
//! ready wins: the message stays in the channel (for another receiver, or
//! for this thread after it caught a raise), so a kill never swallows a
//! message it did not have to.
//!
//! # Examples
//!
//! ```
//! use killable::{sync::crossbeam, KillableThread};
//! use std::time::Duration;
//!
//! let (tx, rx) = crossbeam_channel::unbounded::<&str>();
//! tx.send("job").unwrap();
//! assert_eq!(crossbeam::recv(&rx), Ok("job")); // on any thread: like `rx.recv()`
//! assert!(crossbeam::recv_timeout(&rx, Duration::from_millis(1)).is_err());
//!
//! let t = KillableThread::spawn(move || crossbeam::recv(&rx));
//! t.terminate(); // `tx` is alive, so only a kill ends this wait
//! assert!(t.join().unwrap_err().is_terminated());
//! drop(tx);
//! ```

use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvError, RecvTimeoutError, Select, TryRecvError};

use crate::checkpoint::{deliverable, runtime_checkpoint};
use crate::local;

/// Receives a message, waiting until one comes; a kill wakes the wait at
/// once and unwinds.
///
/// Like every killable wait it is a checkpoint: a kill already pending is
/// delivered before any message is taken. On a thread that is not killable
/// (or inside a [`shield`](crate::shield)) it is `rx.recv()`.
///
/// # Errors
///
/// [`RecvError`] once the channel is empty and disconnected.
///
/// # Examples
///
/// ```
/// use killable::sync::crossbeam;
/// use killable::KillableThread;
///
/// let (tx, rx) = crossbeam_channel::unbounded::<u32>();
/// let t = KillableThread::spawn(move || {
///     let mut sum = 0;
///     while let Ok(n) = crossbeam::recv(&rx) {
///         sum += n;
///     }
///     sum
/// });
/// tx.send(1).unwrap();
/// // No more messages will come, and `tx` is still alive: terminate it.
/// t.terminate();
/// assert!(t.join().unwrap_err().is_terminated());
/// ```
pub fn recv<T>(rx: &Receiver<T>) -> Result<T, RecvError> {
    wait(rx, None).map_err(|_| RecvError)
}

/// Like [`recv`], giving up after `timeout`.
///
/// # Errors
///
/// `Timeout` if no message came in time, `Disconnected` once the channel is
/// empty and disconnected.
///
/// # Examples
///
/// ```
/// use crossbeam_channel::RecvTimeoutError;
/// use std::time::Duration;
///
/// let (_tx, rx) = crossbeam_channel::unbounded::<u32>();
/// let r = killable::sync::crossbeam::recv_timeout(&rx, Duration::from_millis(5));
/// assert_eq!(r, Err(RecvTimeoutError::Timeout));
/// ```
pub fn recv_timeout<T>(rx: &Receiver<T>, timeout: Duration) -> Result<T, RecvTimeoutError> {
    wait(rx, Instant::now().checked_add(timeout))
}

fn wait<T>(rx: &Receiver<T>, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
    runtime_checkpoint();
    // Fast path: a message is there, nothing to wait for.
    match rx.try_recv() {
        Ok(v) => return Ok(v),
        Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
        Err(TryRecvError::Empty) => {}
    }
    let (wake_tx, wake_rx) = bounded::<()>(1);
    loop {
        let received = crate::interruptible(
            || loop {
                if killed() {
                    return None; // `interruptible` delivers it
                }
                match rx.try_recv() {
                    Ok(v) => return Some(Ok(v)),
                    Err(TryRecvError::Disconnected) => {
                        return Some(Err(RecvTimeoutError::Disconnected))
                    }
                    Err(TryRecvError::Empty) => {}
                }
                let mut sel = Select::new();
                sel.recv(rx);
                let woken = sel.recv(&wake_rx);
                let ready = match deadline {
                    Some(d) => match sel.ready_deadline(d) {
                        Ok(i) => i,
                        Err(_) => return Some(Err(RecvTimeoutError::Timeout)),
                    },
                    None => sel.ready(),
                };
                if ready == woken {
                    // The kill is in the thread's state, tested above; the
                    // wake-up only had to end `ready`.
                    let _ = wake_rx.try_recv();
                }
                // Ready may also be spurious; either way, test again.
            },
            // From the killer's thread: wake the `Select`. The slot may be
            // full already (a wake-up never consumed); one is enough.
            || {
                let _ = wake_tx.try_send(());
            },
        );
        if let Some(r) = received {
            return r;
        }
        // `op` saw a deliverable kill and `interruptible` did not unwind:
        // never happens (nothing else takes a kill off this thread), but
        // waiting again is the right thing if it did.
    }
}

/// Whether a kill is pending that a checkpoint here would deliver.
fn killed() -> bool {
    local::with_current(|inner| inner.is_some_and(deliverable))
}
