//! Runs the `tcp_read` and `pipe_read` examples' logic and checks what it
//! reports: a real loopback `TcpStream` read and a real child-process pipe
//! read, each blocked forever, unblocked by a kill through `interruptible`.
//!
//! The examples are compiled into this test as modules (`#[path]`), and
//! their `demo` functions called directly, instead of running the example
//! binaries: `CARGO_BIN_EXE_*` does not exist for examples, running `cargo
//! run --example` from a test costs a nested cargo invocation (seconds, and
//! a lock on the target directory), and calling the same code in-process
//! tests exactly what `main` runs, with its printed lines captured.

use std::sync::{Arc, Mutex};
use std::time::Duration;

#[allow(dead_code)] // `main`
#[path = "../examples/tcp_read.rs"]
mod tcp_read;

#[cfg(unix)]
#[allow(dead_code)] // `main`
#[path = "../examples/pipe_read.rs"]
mod pipe_read;

/// "At once", generously, for a noisy 2-core CI machine.
const BOUND: Duration = Duration::from_secs(10);

/// A `say` that keeps the lines (and shows them with `--nocapture`).
fn recorder() -> (tcp_read::Say, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l = lines.clone();
    let say = Arc::new(move |line: String| {
        println!("{line}");
        l.lock().unwrap().push(line);
    });
    (say, lines)
}

/// Asserts that `lines` contain each of `steps`, in this order.
fn assert_steps(lines: &[String], steps: &[&str]) {
    let mut rest = lines.iter();
    for step in steps {
        assert!(
            rest.any(|l| l.contains(step)),
            "step {step:?} missing or out of order in:\n{}",
            lines.join("\n")
        );
    }
}

#[test]
fn tcp_read_is_unblocked_by_terminate_and_by_a_deadline() {
    let (say, lines) = recorder();
    let r = tcp_read::demo(say).unwrap();
    assert!(r.terminate_to_joined < BOUND, "{r:?}");
    assert!(r.terminate_to_hook <= r.terminate_to_joined, "{r:?}");
    assert!(r.timeout_elapsed >= Duration::from_millis(300), "{r:?}");
    assert!(r.timeout_elapsed < BOUND, "{r:?}");
    assert_eq!(r.deadline_hook_thread, "killable-hooks");
    let lines = lines.lock().unwrap();
    assert_steps(
        &lines,
        &[
            "reader: blocking in TcpStream::read",
            "still blocked: is_alive() = true",
            "calling terminate()",
            "reader: cleanup ran",
            "join() -> Err(thread was terminated)",
            "with_timeout -> Err(TimedOut)",
        ],
    );
    assert!(!lines.iter().any(|l| l.contains("never printed")));
}

#[cfg(unix)]
#[test]
fn pipe_read_is_unblocked_by_terminate_and_by_a_deadline() {
    use std::os::unix::process::ExitStatusExt;

    let (say, lines) = recorder();
    let r = pipe_read::demo(say).unwrap();
    assert!(r.terminate_to_joined < BOUND, "{r:?}");
    assert!(r.terminate_to_hook <= r.terminate_to_joined, "{r:?}");
    // Killed by on_kill, not exited after its hour.
    assert_eq!(r.child_status.signal(), Some(9), "{r:?}");
    assert!(r.deadline_elapsed >= Duration::from_millis(300), "{r:?}");
    assert!(r.deadline_elapsed < BOUND, "{r:?}");
    assert_eq!(r.deadline_hook_thread, "killable-hooks");
    let lines = lines.lock().unwrap();
    assert_steps(
        &lines,
        &[
            "reader: blocking in ChildStdout::read",
            "still blocked: is_alive() = true",
            "calling terminate()",
            "reader: cleanup ran",
            "join() -> Err(thread was terminated)",
            "child reaped: signal: 9",
            "300 ms deadline",
            "reader: cleanup ran",
            "join() -> terminated",
        ],
    );
    assert!(!lines.iter().any(|l| l.contains("never printed")));
}
