//! A TCP read blocked forever, woken by a kill, with the socket kept.
//!
//! `TcpStream::read` knows nothing of kills: a thread blocked in it would
//! only see one when the read returns, which here is never (the peer is
//! silent). Wrapped in `killable::io::Killable`, the read waits in a way a
//! kill interrupts: it wakes at once, unwinds having read nothing, and the
//! socket stays open for the next read.
//!
//! 1. A killable thread blocks reading; the main thread raises a `Mailbox`
//!    into it. The reader catches it, then reads the bytes the peer sends
//!    afterwards, from the same socket.
//! 2. The main thread terminates the reader, blocked again, and times how
//!    long it takes to be gone.
//! 3. The main thread itself (not a killable thread) reads under
//!    `with_timeout`: `Err(TimedOut)` at the deadline, and the stream still
//!    gives the next bytes.
//!
//! Run: `cargo run --example tcp_read`

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use killable::io::Killable;
use killable::{catch, with_timeout, KillableThread, TimedOut};

/// Where the demo's step-by-step lines go: stdout for the example, a buffer
/// for the test that runs it (`tests/examples_blocking.rs`).
pub type Say = Arc<dyn Fn(String) + Send + Sync>;

type Log = Arc<dyn Fn(&str, String) + Send + Sync>;

/// How long anything here may block if the kill failed to wake it: far
/// longer than the microseconds it takes, short enough to fail a broken
/// build rather than hang it.
const SAFETY_NET: Duration = Duration::from_secs(30);

/// "Check your mailbox": raised into the reader, caught, and carried on from.
#[derive(Debug)]
struct Mailbox;

/// What the demo measured.
#[derive(Debug)]
pub struct Report {
    /// What the reader read after catching the raise.
    pub read_after_raise: String,
    /// From `terminate()` to `join()` returning `Terminated`.
    pub terminate_to_joined: Duration,
    /// How long the read under `with_timeout` took to give up.
    pub timeout_elapsed: Duration,
    /// What the same stream read after the timeout.
    pub read_after_timeout: String,
}

/// A connected loopback pair: (ours, the peer's).
fn connection() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    Ok((client, server))
}

/// Joins `reader`, giving up (with a panic) after [`SAFETY_NET`].
fn join_bounded<T>(reader: KillableThread<T>) -> Result<T, killable::JoinError> {
    match reader.join_timeout(SAFETY_NET) {
        Ok(r) => r,
        Err(_) => panic!("the kill did not wake the read within {SAFETY_NET:?}"),
    }
}

/// Runs the three parts, telling `say` what happens.
///
/// # Errors
///
/// If the loopback connection cannot be set up or used.
pub fn demo(say: Say) -> io::Result<Report> {
    let t0 = Instant::now();
    let log: Log = Arc::new(move |who: &str, what: String| {
        say(format!("[{:>9.3?}] {who}: {what}", t0.elapsed()))
    });

    // Parts 1 and 2: a killable thread blocked in a read.
    let (ours, mut peer) = connection()?;
    log(
        "main",
        format!("connected {} -> {}", ours.local_addr()?, ours.peer_addr()?),
    );
    let (blocking_tx, blocking) = mpsc::channel();
    let (got_tx, got) = mpsc::channel();
    let l = log.clone();
    let reader = KillableThread::spawn(move || {
        struct Cleanup(Log);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                (self.0)("reader", "cleanup ran (unwinding out of the read)".into());
            }
        }
        let _cleanup = Cleanup(l.clone());
        let mut stream = Killable::new(ours);
        let mut buf = [0u8; 64];
        loop {
            l("reader", "blocking in Killable<TcpStream>::read".into());
            blocking_tx.send(()).unwrap();
            match catch::<Mailbox, _, _>(|| stream.read(&mut buf)) {
                Err(Mailbox) => l(
                    "reader",
                    "caught Mailbox: woken, nothing read, reading on".into(),
                ),
                Ok(Ok(n)) => {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    l("reader", format!("read {n} bytes: {text:?}"));
                    got_tx.send(text).unwrap();
                }
                Ok(Err(e)) => return Err::<(), _>(e),
            }
        }
    });
    blocking.recv().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    log("main", "raising Mailbox into the blocked reader".into());
    reader.raise(Mailbox).unwrap();
    blocking.recv().unwrap(); // blocked again, after the catch
    log("main", "peer sends \"hello\"".into());
    peer.write_all(b"hello")?;
    let read_after_raise = got.recv_timeout(SAFETY_NET).expect("the reader read");
    blocking.recv().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    log(
        "main",
        format!(
            "the reader is blocked again: is_alive() = {}; calling terminate()",
            reader.is_alive()
        ),
    );
    let killed_at = Instant::now();
    reader.terminate();
    let result = join_bounded(reader);
    let terminate_to_joined = killed_at.elapsed();
    match result {
        Err(e) if e.is_terminated() => log(
            "main",
            format!("join() -> Err({e}), {terminate_to_joined:?} after terminate()"),
        ),
        other => panic!("expected a terminated reader, got {other:?}"),
    }

    // Part 3: the main thread reads under a deadline.
    let (ours, mut peer) = connection()?;
    let mut stream = Killable::new(ours);
    let mut buf = [0u8; 64];
    log(
        "main",
        "reading under with_timeout(300 ms) on this (not killable) thread".into(),
    );
    let start = Instant::now();
    let r = with_timeout(Duration::from_millis(300), || stream.read(&mut buf));
    let timeout_elapsed = start.elapsed();
    log(
        "main",
        format!(
            "with_timeout -> {:?} after {timeout_elapsed:?}",
            r.as_ref().map(|_| ())
        ),
    );
    assert_eq!(r.map(|_| ()), Err(TimedOut));
    peer.write_all(b"still here")?;
    let n = stream.read(&mut buf)?;
    let read_after_timeout = String::from_utf8_lossy(&buf[..n]).into_owned();
    log(
        "main",
        format!("the same stream then reads {read_after_timeout:?}"),
    );

    Ok(Report {
        read_after_raise,
        terminate_to_joined,
        timeout_elapsed,
        read_after_timeout,
    })
}

fn main() -> io::Result<()> {
    let report = demo(Arc::new(|line| println!("{line}")))?;
    println!("{report:#?}");
    Ok(())
}
