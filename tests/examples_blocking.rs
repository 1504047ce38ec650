//! Runs the `tcp_read`, `pipe_read` and `server` examples' logic and checks
//! what it reports: real loopback sockets and a real child-process pipe,
//! blocked in `killable::io::Killable` calls, woken by kills with the fds
//! kept usable.
//!
//! The examples are compiled into this test as modules (`#[path]`), and
//! their `demo` functions called directly, instead of running the example
//! binaries: `CARGO_BIN_EXE_*` does not exist for examples, running `cargo
//! run --example` from a test costs a nested cargo invocation (seconds, and
//! a lock on the target directory), and calling the same code in-process
//! tests exactly what `main` runs, with its printed lines captured.
#![cfg(unix)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

#[allow(dead_code)] // `main`
#[path = "../examples/tcp_read.rs"]
mod tcp_read;

#[allow(dead_code)] // `main`
#[path = "../examples/pipe_read.rs"]
mod pipe_read;

#[allow(dead_code)] // `main`
#[path = "../examples/server.rs"]
mod server;

/// "At once", generously, for a noisy 2-core CI machine.
use support::BOUND;

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
fn tcp_read_is_woken_by_a_raise_a_terminate_and_a_deadline_and_keeps_the_socket() {
    let (say, lines) = recorder();
    let r = tcp_read::demo(say).unwrap();
    assert_eq!(r.read_after_raise, "hello", "{r:?}");
    assert!(r.terminate_to_joined < BOUND, "{r:?}");
    assert!(r.timeout_elapsed >= Duration::from_millis(300), "{r:?}");
    assert!(r.timeout_elapsed < BOUND, "{r:?}");
    assert_eq!(r.read_after_timeout, "still here", "{r:?}");
    let lines = lines.lock().unwrap();
    assert_steps(
        &lines,
        &[
            "reader: blocking in Killable<TcpStream>::read",
            "raising Mailbox",
            "reader: caught Mailbox",
            "reader: read 5 bytes: \"hello\"",
            "calling terminate()",
            "reader: cleanup ran",
            "join() -> Err(thread was terminated)",
            "with_timeout -> Err(TimedOut)",
            "the same stream then reads \"still here\"",
        ],
    );
}

#[test]
fn pipe_read_is_woken_by_a_raise_a_terminate_and_a_deadline_and_leaves_the_child_alone() {
    let (say, lines) = recorder();
    let r = pipe_read::demo(say).unwrap();
    assert_eq!(r.read_after_raise, "got ping\n", "{r:?}");
    assert!(r.terminate_to_joined < BOUND, "{r:?}");
    assert!(r.child_alive_after_terminate, "{r:?}");
    assert!(r.deadline_elapsed >= Duration::from_millis(300), "{r:?}");
    assert!(r.deadline_elapsed < BOUND, "{r:?}");
    let lines = lines.lock().unwrap();
    assert_steps(
        &lines,
        &[
            "reader: blocking in Killable<ChildStdout>::read",
            "raising Mailbox",
            "reader: caught Mailbox",
            "reader: read \"got ping\\n\"",
            "calling terminate()",
            "reader: cleanup ran",
            "join() -> Err(thread was terminated)",
            "the child is still running: true",
            "300 ms deadline",
            "reader: cleanup ran",
            "join() -> terminated",
        ],
    );
}

#[test]
fn server_acceptor_and_connections_all_stop_on_one_terminate() {
    let (say, lines) = recorder();
    let r = server::demo(say).unwrap();
    let want: Vec<String> = (0..server::CLIENTS)
        .map(|i| format!("hello from client {i}\n"))
        .collect();
    assert_eq!(r.echoes, want, "{r:?}");
    assert!(r.terminate_to_joined < BOUND, "{r:?}");
    assert_eq!(r.clients_saw_eof, server::CLIENTS, "{r:?}");
    assert_eq!(r.threads_left, 0, "{r:?}");
    let lines = lines.lock().unwrap();
    assert_steps(
        &lines,
        &[
            "acceptor: blocking in Killable<TcpListener>::accept",
            "client 2 got back",
            "4 server threads, all blocked",
            "server joined",
            "client 0: end-of-file after 0 more bytes",
        ],
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains(": closed")).count(),
        server::CLIENTS
    );
}
