//! A read from a child process's stdout pipe, woken by a kill, with the
//! child and the pipe left alone.
//!
//! The child answers one line, then holds its stdout open for an hour
//! without writing (`sleep 3600`): a plain read of the pipe then blocks for
//! an hour. Wrapped in `killable::io::Killable`, the read wakes at once on a
//! kill and unwinds having read nothing. No hook has to kill the child to
//! unblock it.
//!
//! 1. A killable thread blocks reading the pipe; the main thread raises a
//!    `Mailbox` into it; the reader catches it and reads on: the child's
//!    answer arrives intact. Then, blocked again, it is terminated: the
//!    child is still running, untouched.
//! 2. A second reader is spawned with `Builder::deadline`: at the deadline
//!    the shared timer thread terminates it.
//!
//! Run: `cargo run --example pipe_read` (Unix: it runs `sh` and `sleep`)

use std::io::{self, Read, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use killable::io::Killable;
use killable::{catch, Builder, KillableThread};

/// Where the demo's step-by-step lines go: stdout for the example, a buffer
/// for the test that runs it (`tests/examples_blocking.rs`).
pub type Say = Arc<dyn Fn(String) + Send + Sync>;

type Log = Arc<dyn Fn(&str, String) + Send + Sync>;

/// "Check your mailbox": raised into the reader, caught, carried on from.
#[derive(Debug)]
struct Mailbox;

/// What the demo measured.
#[derive(Debug)]
pub struct Report {
    /// What the reader read after catching the raise.
    pub read_after_raise: String,
    /// From `terminate()` to `join()` returning `Terminated`.
    pub terminate_to_joined: Duration,
    /// Whether the child was still running after its reader was terminated.
    pub child_alive_after_terminate: bool,
    /// From spawn to `join()` for the reader with a 300 ms deadline.
    pub deadline_elapsed: Duration,
}

/// How long anything here may block if the kill failed to wake it.
const SAFETY_NET: Duration = Duration::from_secs(30);

/// A child that answers one line of stdin, then keeps stdout open, silent.
fn spawn_child() -> io::Result<(Child, ChildStdout)> {
    let mut child = Command::new("sh")
        .args(["-c", "read line; echo \"got $line\"; exec sleep 3600"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().expect("stdout is piped");
    Ok((child, stdout))
}

/// Joins `reader`, giving up (with a panic, after killing `child`) past
/// [`SAFETY_NET`], so that a broken build fails instead of hanging.
fn join_bounded<T>(reader: KillableThread<T>, child: &mut Child) -> Result<T, killable::JoinError> {
    match reader.join_timeout(SAFETY_NET) {
        Ok(r) => r,
        Err(_) => {
            let _ = child.kill();
            panic!("the kill did not wake the read within {SAFETY_NET:?}")
        }
    }
}

/// A reader thread, built by `builder`: reads lines of `stdout` until a kill
/// other than `Mailbox` ends it, reporting each read on `got`.
fn spawn_reader(
    builder: Builder,
    stdout: ChildStdout,
    log: &Log,
    blocking_tx: mpsc::Sender<()>,
    got_tx: mpsc::Sender<String>,
) -> io::Result<KillableThread<io::Result<()>>> {
    let l = log.clone();
    builder.spawn(move || {
        struct Cleanup(Log);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                (self.0)("reader", "cleanup ran (unwinding out of the read)".into());
            }
        }
        let _cleanup = Cleanup(l.clone());
        let mut stdout = Killable::new(stdout);
        let mut buf = [0u8; 64];
        loop {
            l("reader", "blocking in Killable<ChildStdout>::read".into());
            let _ = blocking_tx.send(());
            match catch::<Mailbox, _, _>(|| stdout.read(&mut buf)) {
                Err(Mailbox) => l("reader", "caught Mailbox: nothing read, reading on".into()),
                Ok(Ok(0)) => return Ok(()),
                Ok(Ok(n)) => {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    l("reader", format!("read {text:?}"));
                    let _ = got_tx.send(text);
                }
                Ok(Err(e)) => return Err(e),
            }
        }
    })
}

/// Runs both parts, telling `say` what happens.
///
/// # Errors
///
/// If `sh` cannot be spawned, its pipes fail, or a thread cannot be created.
pub fn demo(say: Say) -> io::Result<Report> {
    let t0 = Instant::now();
    let log: Log = Arc::new(move |who: &str, what: String| {
        say(format!("[{:>9.3?}] {who}: {what}", t0.elapsed()))
    });

    // Part 1: raise into, then terminate, a reader blocked on the pipe.
    let (mut child, stdout) = spawn_child()?;
    log("main", format!("spawned the child (pid {})", child.id()));
    let (blocking_tx, blocking) = mpsc::channel();
    let (got_tx, got) = mpsc::channel();
    let reader = spawn_reader(Builder::new(), stdout, &log, blocking_tx, got_tx)?;
    blocking.recv().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    log("main", "raising Mailbox into the blocked reader".into());
    reader.raise(Mailbox).unwrap();
    blocking.recv().unwrap();
    log("main", "writing \"ping\" to the child's stdin".into());
    child.stdin.as_mut().expect("piped").write_all(b"ping\n")?;
    let read_after_raise = got.recv_timeout(SAFETY_NET).expect("the reader read");
    blocking.recv().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    log(
        "main",
        "the child is silent now, the reader blocked again: calling terminate()".into(),
    );
    let killed_at = Instant::now();
    reader.terminate();
    let result = join_bounded(reader, &mut child);
    let terminate_to_joined = killed_at.elapsed();
    match result {
        Err(e) if e.is_terminated() => log(
            "main",
            format!("join() -> Err({e}), {terminate_to_joined:?} after terminate()"),
        ),
        other => panic!("expected a terminated reader, got {other:?}"),
    }
    let child_alive_after_terminate = child.try_wait()?.is_none();
    log(
        "main",
        format!("the child is still running: {child_alive_after_terminate}; killing it ourselves"),
    );
    child.kill()?;
    child.wait()?;

    // Part 2: a reader with a deadline; the timer thread terminates it.
    let (mut child, stdout) = spawn_child()?;
    let start = Instant::now();
    let (blocking_tx, _blocking) = mpsc::channel();
    let (got_tx, _got) = mpsc::channel();
    let reader = spawn_reader(
        Builder::new()
            .name("deadline-reader".into())
            .deadline(Instant::now() + Duration::from_millis(300)),
        stdout,
        &log,
        blocking_tx,
        got_tx,
    )?;
    log("main", "a reader with a 300 ms deadline; joining".into());
    let result = join_bounded(reader, &mut child);
    let deadline_elapsed = start.elapsed();
    assert!(result.unwrap_err().is_terminated());
    log(
        "main",
        format!("join() -> terminated after {deadline_elapsed:?}"),
    );
    child.kill()?;
    child.wait()?;

    Ok(Report {
        read_after_raise,
        terminate_to_joined,
        child_alive_after_terminate,
        deadline_elapsed,
    })
}

fn main() -> io::Result<()> {
    let report = demo(Arc::new(|line| println!("{line}")))?;
    println!("{report:#?}");
    Ok(())
}
