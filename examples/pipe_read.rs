//! A read from a child process's stdout pipe, unblocked by a kill.
//!
//! The child is `sleep 3600`: it holds its stdout open for an hour and never
//! writes, so a plain `read` on the pipe blocks for an hour. Wrapped in
//! `interruptible`, a kill calls `on_kill`, which kills the child: its end of
//! the pipe closes, the read returns end-of-file at once, and the kill lands.
//!
//! 1. A killable thread blocks reading the pipe; the main thread terminates
//!    it, times how long the thread takes to be gone, and reaps the child.
//! 2. A second reader is spawned with `Builder::deadline`: at the deadline
//!    the shared timer thread terminates it, and the runtime's hook thread
//!    calls `on_kill`.
//!
//! Run: `cargo run --example pipe_read` (Unix: it runs `sleep`)

use std::io::{self, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use killable::{interruptible, Builder, KillableThread};

/// Where the demo's step-by-step lines go: stdout for the example, a buffer
/// for the test that runs it (`tests/examples_blocking.rs`).
pub type Say = Arc<dyn Fn(String) + Send + Sync>;

/// What the demo measured.
#[derive(Debug)]
pub struct Report {
    /// From `terminate()` to the reader's `on_kill` having killed the child.
    pub terminate_to_hook: Duration,
    /// From `terminate()` to `join()` returning `Terminated`.
    pub terminate_to_joined: Duration,
    /// How the first child ended (killed by a signal, not after an hour).
    pub child_status: std::process::ExitStatus,
    /// From spawn to `join()` for the reader with a 300 ms deadline.
    pub deadline_elapsed: Duration,
    /// The thread that ran `on_kill` for the deadline.
    pub deadline_hook_thread: String,
}

/// Spawns `sleep 3600` with its stdout piped to us.
fn silent_child() -> io::Result<(Arc<Mutex<Child>>, ChildStdout)> {
    let mut child = Command::new("sleep")
        .arg("3600")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().expect("stdout is piped");
    Ok((Arc::new(Mutex::new(child)), stdout))
}

/// Reads the child's stdout, with killing the child as the kill hook.
/// `hooked` receives when and on which thread the hook ran.
fn killable_read(
    stdout: &mut ChildStdout,
    child: Arc<Mutex<Child>>,
    hooked: mpsc::Sender<(Instant, String)>,
) -> io::Result<usize> {
    let mut buf = [0u8; 64];
    interruptible(
        || stdout.read(&mut buf),
        move || {
            let _ = child.lock().unwrap().kill();
            let name = std::thread::current().name().unwrap_or("?").to_string();
            let _ = hooked.send((Instant::now(), name));
        },
    )
}

type Log = Arc<dyn Fn(&str, String) + Send + Sync>;

/// How long anything here may block if the kill failed to unblock it: far
/// longer than the milliseconds it takes, short enough to fail a broken
/// build rather than hang it.
const SAFETY_NET: Duration = Duration::from_secs(30);

/// Joins `reader`, giving up (with a panic) after [`SAFETY_NET`]: if the
/// kill ever failed to unblock the read, the demo fails instead of hanging,
/// and kills the child so that it does not linger for its hour.
fn join_bounded<T>(
    reader: KillableThread<T>,
    child: &Mutex<Child>,
) -> Result<T, killable::JoinError> {
    match reader.join_timeout(SAFETY_NET) {
        Ok(r) => r,
        Err(_) => {
            let _ = child.lock().unwrap().kill();
            panic!("the kill did not unblock the read within {SAFETY_NET:?}")
        }
    }
}

/// A blocked reader thread, its child, and where its hook reports.
type Reader = (
    KillableThread<io::Result<usize>>,
    Arc<Mutex<Child>>,
    mpsc::Receiver<(Instant, String)>,
);

/// Spawns a reader of a fresh `sleep 3600` child, built by `builder`.
fn spawn_reader(builder: Builder, log: &Log) -> io::Result<Reader> {
    let (child, mut stdout) = silent_child()?;
    let pid = child.lock().unwrap().id();
    log(
        "main",
        format!("spawned `sleep 3600` (pid {pid}), stdout piped"),
    );
    let (hook_tx, hook_rx) = mpsc::channel();
    let (ready_tx, ready) = mpsc::channel();
    let (l, c) = (log.clone(), child.clone());
    let reader = builder.spawn(move || {
        struct Cleanup(Log);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                (self.0)("reader", "cleanup ran (unwinding out of the read)".into());
            }
        }
        let _cleanup = Cleanup(l.clone());
        l(
            "reader",
            "blocking in ChildStdout::read (the child never writes)".into(),
        );
        ready_tx.send(()).unwrap();
        let n = killable_read(&mut stdout, c, hook_tx);
        l(
            "reader",
            format!("read returned {n:?}: never printed, the kill lands first"),
        );
        n
    })?;
    ready.recv().unwrap();
    Ok((reader, child, hook_rx))
}

/// Runs both parts, telling `say` what happens.
///
/// # Errors
///
/// If `sleep` cannot be spawned or a thread cannot be created.
pub fn demo(say: Say) -> io::Result<Report> {
    let t0 = Instant::now();
    let log: Log = Arc::new(move |who: &str, what: String| {
        say(format!("[{:>9.3?}] {who}: {what}", t0.elapsed()))
    });

    // Part 1: terminate a reader blocked on the pipe.
    let (reader, child, hook_rx) = spawn_reader(Builder::new(), &log)?;
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
    let result = join_bounded(reader, &child);
    let terminate_to_joined = killed_at.elapsed();
    let (hook_at, _) = hook_rx.recv().expect("on_kill ran");
    let terminate_to_hook = hook_at.saturating_duration_since(killed_at);
    log(
        "main",
        format!("on_kill killed the child {terminate_to_hook:?} after terminate()"),
    );
    match result {
        Err(e) if e.is_terminated() => log(
            "main",
            format!("join() -> Err({e}), {terminate_to_joined:?} after terminate()"),
        ),
        other => panic!("expected a terminated reader, got {other:?}"),
    }
    let child_status = child.lock().unwrap().wait()?;
    log("main", format!("child reaped: {child_status}"));

    // Part 2: a reader with a deadline; the timer thread terminates it.
    let start = Instant::now();
    let (reader, child, hook_rx) = spawn_reader(
        Builder::new()
            .name("deadline-reader".into())
            .deadline(Instant::now() + Duration::from_millis(300)),
        &log,
    )?;
    log("main", "its reader has a 300 ms deadline; joining".into());
    let result = join_bounded(reader, &child);
    let deadline_elapsed = start.elapsed();
    let (_, deadline_hook_thread) = hook_rx.recv().expect("on_kill ran");
    assert!(result.unwrap_err().is_terminated());
    let status = child.lock().unwrap().wait()?;
    log(
        "main",
        format!(
            "join() -> terminated after {deadline_elapsed:?}; on_kill ran on thread {deadline_hook_thread:?}; child reaped: {status}"
        ),
    );

    Ok(Report {
        terminate_to_hook,
        terminate_to_joined,
        child_status,
        deadline_elapsed,
        deadline_hook_thread,
    })
}

fn main() -> io::Result<()> {
    let report = demo(Arc::new(|line| println!("{line}")))?;
    println!("{report:#?}");
    Ok(())
}
