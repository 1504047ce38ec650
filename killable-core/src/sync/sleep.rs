use std::time::{Duration, Instant};

use crate::checkpoint::runtime_checkpoint;
use crate::wait::{deliver_current, park_until, Woke};

/// Sleeps for `dur`, like [`std::thread::sleep`], but a kill wakes the
/// thread at once and unwinds it.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use killable::KillableThread;
///
/// let t = KillableThread::spawn(|| killable::sleep(Duration::from_secs(3600)));
/// let start = Instant::now();
/// t.terminate();
/// assert!(t.join().unwrap_err().is_terminated());
/// assert!(start.elapsed() < Duration::from_secs(60)); // not an hour
/// ```
pub fn sleep(dur: Duration) {
    match Instant::now().checked_add(dur) {
        Some(deadline) => sleep_until(deadline),
        None => sleep_forever(),
    }
}

/// Sleeps until `deadline`; see [`sleep`].
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let deadline = Instant::now() + Duration::from_millis(5);
/// killable::sleep_until(deadline);
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) {
    if park_until(Some(deadline), || false) == Woke::Killed {
        deliver_current();
    }
}

fn sleep_forever() {
    if park_until(None, || false) == Woke::Killed {
        deliver_current();
    }
}

/// Blocks until the thread is unparked, like [`std::thread::park`] (and,
/// like it, may return spuriously), or unwinds at once on a kill.
///
/// # Examples
///
/// ```
/// use killable::KillableThread;
///
/// let t = KillableThread::spawn(|| loop { killable::park() });
/// t.thread().unpark(); // a plain unpark just wakes it
/// t.terminate();
/// assert!(t.join().unwrap_err().is_terminated());
/// ```
pub fn park() {
    runtime_checkpoint();
    let mut first = true;
    if park_until(None, || !std::mem::take(&mut first)) == Woke::Killed {
        deliver_current();
    }
}

/// Like [`park`], giving up after `dur`.
///
/// # Examples
///
/// ```
/// killable::park_timeout(std::time::Duration::from_millis(1));
/// ```
pub fn park_timeout(dur: Duration) {
    runtime_checkpoint();
    let deadline = Instant::now().checked_add(dur);
    let mut first = true;
    if park_until(deadline, || !std::mem::take(&mut first)) == Woke::Killed {
        deliver_current();
    }
}
