//! A TCP read blocked forever, unblocked by a kill.
//!
//! `TcpStream::read` knows nothing of this crate: a thread blocked in it
//! would only see a kill when the read returns, which here is never (the
//! peer never writes). `interruptible(op, on_kill)` fixes that: the kill
//! calls `on_kill`, which shuts the socket down, the read returns, and the
//! kill lands.
//!
//! 1. A killable thread blocks reading from a loopback connection; the main
//!    thread terminates it and times how long the thread takes to be gone.
//! 2. The main thread itself (not a killable thread) reads under
//!    `with_timeout`: at the deadline the runtime's hook thread calls
//!    `on_kill`, and the scope returns `Err(TimedOut)`.
//!
//! Run: `cargo run --example tcp_read`

use std::io::{self, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use killable::{interruptible, with_timeout, KillableThread, TimedOut};

/// Where the demo's step-by-step lines go: stdout for the example, a buffer
/// for the test that runs it (`tests/examples_blocking.rs`).
pub type Say = Arc<dyn Fn(String) + Send + Sync>;

type Log = Arc<dyn Fn(&str, String) + Send + Sync>;

/// How long anything here may block if the kill failed to unblock it: far
/// longer than the milliseconds it takes, short enough to fail a broken
/// build rather than hang it.
const SAFETY_NET: Duration = Duration::from_secs(30);

/// Joins `reader`, giving up (with a panic) after [`SAFETY_NET`]: if the
/// kill ever failed to unblock the read, the demo fails instead of hanging.
fn join_bounded<T>(reader: KillableThread<T>) -> Result<T, killable::JoinError> {
    match reader.join_timeout(SAFETY_NET) {
        Ok(r) => r,
        Err(_) => panic!("the kill did not unblock the read within {SAFETY_NET:?}"),
    }
}

/// What the demo measured.
#[derive(Debug)]
pub struct Report {
    /// From `terminate()` to the reader's `on_kill` running.
    pub terminate_to_hook: Duration,
    /// From `terminate()` to `join()` returning `Terminated`.
    pub terminate_to_joined: Duration,
    /// How long the read under `with_timeout` took to give up.
    pub timeout_elapsed: Duration,
    /// The thread that ran `on_kill` for the deadline.
    pub deadline_hook_thread: String,
}

/// A connected loopback pair whose server side never writes.
fn silent_connection() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    // Never reached when the kill works; see `SAFETY_NET`.
    client.set_read_timeout(Some(SAFETY_NET))?;
    Ok((client, server))
}

/// Reads from `stream`, with a shutdown of the socket as the kill hook.
/// `hooked` receives when and on which thread the hook ran.
fn killable_read(stream: &TcpStream, hooked: mpsc::Sender<(Instant, String)>) -> io::Result<usize> {
    let unblock = stream.try_clone()?;
    let mut buf = [0u8; 64];
    interruptible(
        || (&*stream).read(&mut buf),
        move || {
            let _ = unblock.shutdown(Shutdown::Both);
            let name = std::thread::current().name().unwrap_or("?").to_string();
            let _ = hooked.send((Instant::now(), name));
        },
    )
}

/// Runs both parts, telling `say` what happens.
///
/// # Errors
///
/// If the loopback connection cannot be set up.
pub fn demo(say: Say) -> io::Result<Report> {
    let t0 = Instant::now();
    let log: Log = Arc::new(move |who: &str, what: String| {
        say(format!("[{:>9.3?}] {who}: {what}", t0.elapsed()))
    });

    // Part 1: a killable thread blocked in a read, terminated.
    let (client, _server) = silent_connection()?;
    log(
        "main",
        format!(
            "connected {} -> {}",
            client.local_addr()?,
            client.peer_addr()?
        ),
    );
    let (hook_tx, hook_rx) = mpsc::channel();
    let (ready_tx, ready) = mpsc::channel();
    let l = log.clone();
    let reader = KillableThread::spawn(move || {
        struct Cleanup(Log);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                (self.0)("reader", "cleanup ran (unwinding out of the read)".into());
            }
        }
        let _cleanup = Cleanup(l.clone());
        l(
            "reader",
            "blocking in TcpStream::read (the peer never writes)".into(),
        );
        ready_tx.send(()).unwrap();
        let n = killable_read(&client, hook_tx);
        l(
            "reader",
            format!("read returned {n:?}: never printed, the kill lands first"),
        );
        n
    });
    ready.recv().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    log(
        "main",
        format!(
            "after 200 ms the reader is still blocked: is_alive() = {}",
            reader.is_alive()
        ),
    );
    log("main", "calling terminate()".into());
    let killed_at = Instant::now();
    reader.terminate();
    let result = join_bounded(reader);
    let terminate_to_joined = killed_at.elapsed();
    let (hook_at, hook_thread) = hook_rx.recv().expect("on_kill ran");
    let terminate_to_hook = hook_at.saturating_duration_since(killed_at);
    log(
        "main",
        format!("on_kill (shutdown) ran on thread {hook_thread:?}, {terminate_to_hook:?} after terminate()"),
    );
    match result {
        Err(e) if e.is_terminated() => log(
            "main",
            format!("join() -> Err({e}), {terminate_to_joined:?} after terminate()"),
        ),
        other => panic!("expected a terminated reader, got {other:?}"),
    }

    // Part 2: the main thread reads under a deadline.
    let (client, _server) = silent_connection()?;
    let (hook_tx, hook_rx) = mpsc::channel();
    log(
        "main",
        "reading under with_timeout(300 ms) on this (not killable) thread".into(),
    );
    let start = Instant::now();
    let r = with_timeout(Duration::from_millis(300), || {
        killable_read(&client, hook_tx)
    });
    let timeout_elapsed = start.elapsed();
    let (_, deadline_hook_thread) = hook_rx.recv().expect("on_kill ran");
    log(
        "main",
        format!("with_timeout -> {r:?} after {timeout_elapsed:?}; on_kill ran on thread {deadline_hook_thread:?}"),
    );
    assert_eq!(r.map(|_| ()), Err(TimedOut));

    Ok(Report {
        terminate_to_hook,
        terminate_to_joined,
        timeout_elapsed,
        deadline_hook_thread,
    })
}

fn main() -> io::Result<()> {
    let report = demo(Arc::new(|line| println!("{line}")))?;
    println!("{report:#?}");
    Ok(())
}
