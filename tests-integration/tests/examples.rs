//! Runs the example binaries and checks what they print, so the examples
//! cannot rot: each must exit 0 and show the steps it claims to show.
//!
//! The binaries are built once per run with the same cargo, profile and
//! target directory as this test (a no-op when `cargo test` has just built
//! them, which it does by default), so `cargo test --test examples` alone
//! never runs stale ones.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

/// Generous: an example takes a few seconds; CI machines are noisy.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The examples this file runs: the facade's and this package's.
const EXAMPLES: &[&str] = &[
    "quickstart",
    "timeout_compute",
    "worker_pool",
    "watchdog",
    "cancel_rayon",
    "cancel_tokio",
];

/// `<target>/<profile>/examples/<name>`, built if needed.
fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        // This test runs as `<target>/<profile>/deps/examples-<hash>`.
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let target_dir = profile_dir.parent().unwrap();
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("build")
            .arg("--quiet")
            .args(["-p", "killable", "-p", "killable-integration-tests"])
            .arg("--target-dir")
            .arg(target_dir);
        match profile_dir.file_name().unwrap().to_str().unwrap() {
            "debug" => {}
            "release" => {
                cargo.arg("--release");
            }
            other => {
                cargo.args(["--profile", other]);
            }
        }
        for name in EXAMPLES {
            cargo.args(["--example", name]);
        }
        let status = cargo.status().expect("run cargo to build the examples");
        assert!(status.success(), "building the examples failed");
        profile_dir.join("examples")
    });
    dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

fn spawn(name: &str, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(example(name));
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn()
        .unwrap_or_else(|e| panic!("spawn example {name}: {e}"))
}

/// Waits for `child` (killing it after [`TIMEOUT`]), checks it exited 0, and
/// returns `already` followed by the rest of its `stdout`.
fn finish(
    name: &str,
    mut child: Child,
    mut stdout: impl Read + Send + 'static,
    already: String,
) -> String {
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("example {name} still running after {TIMEOUT:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = already + &out.join().unwrap();
    let err = err.join().unwrap();
    println!("--- {name} stdout:\n{out}--- {name} stderr:\n{err}");
    assert!(status.success(), "example {name} failed: {status}");
    out
}

fn run(name: &str, env: &[(&str, &str)]) -> String {
    let mut child = spawn(name, env);
    let stdout = child.stdout.take().unwrap();
    finish(name, child, stdout, String::new())
}

fn assert_has(out: &str, marker: &str) {
    assert!(out.contains(marker), "missing {marker:?} in:\n{out}");
}

/// Milliseconds in a `Duration`'s `Debug` form (`400.2ms`, `1.3s`, `12.0µs`).
fn millis(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("µs") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix("ns") {
        (n, 1e-6)
    } else {
        (s.strip_suffix('s')?, 1e3)
    };
    num.parse::<f64>().ok().map(|n| n * scale)
}

fn count(out: &str, marker: &str) -> usize {
    out.matches(marker).count()
}

#[test]
fn quickstart() {
    let out = run("quickstart", &[]);
    assert_has(&out, "worker: tick 1");
    assert_has(&out, "main: is_alive() = true");
    assert_has(&out, "outta here (cleanup ran during the unwind)");
    assert_has(&out, "join() -> Err(thread was terminated)");
    assert_has(&out, "main: is_alive() = false");
}

#[test]
fn timeout_compute() {
    let out = run("timeout_compute", &[]);
    // Both outcomes, in order, each with its cleanup.
    let ok = out.find("  Ok: nonce").expect("an Ok case");
    let timed_out = out.find("  Err(TimedOut)").expect("a TimedOut case");
    assert!(ok < timed_out);
    assert_eq!(count(&out, "  Ok: nonce"), 2, "{out}");
    assert_has(
        &out,
        "search for 64 zero bits dropped its state while unwinding",
    );
    assert_eq!(count(&out, "dropped its state while returning"), 2, "{out}");
    assert_has(&out, "done: both outcomes shown");
}

/// Checks the shutdown the example prints, whatever triggered it.
fn assert_graceful_shutdown(out: &str) {
    assert_has(out, "terminate_all() reached 4 threads");
    // The journal's cleanup outlasts join_all's timeout: reported late.
    assert_has(out, "join_all(250ms): 1 thread(s) did not finish in time:");
    assert_has(out, "  late: journal (Terminating");
    assert_eq!(count(out, "cleanup while unwinding"), 3, "{out}");
    assert_has(out, "journal: flushed");
    assert_eq!(count(out, ": thread was terminated"), 4, "{out}");
    assert_has(out, "shutdown complete: no killable thread left");
    // Order: terminated, reported late, flushed, joined.
    let late = out.find("  late: journal").unwrap();
    let flushed = out.find("journal: flushed").unwrap();
    let joined = out.find("joined journal").unwrap();
    assert!(late < flushed && flushed < joined, "{out}");
}

#[test]
fn worker_pool_shuts_down_by_itself() {
    let out = run("worker_pool", &[]);
    assert_has(&out, "ready: 3 workers and a journal running");
    assert_has(&out, "no Ctrl-C within 1s: shutting down by itself");
    assert_graceful_shutdown(&out);
}

#[test]
fn worker_pool_shuts_down_on_sigint() {
    // No automatic shutdown within the test's time: only the signal ends it.
    let mut child = spawn("worker_pool", &[("WORKER_POOL_AUTO_SHUTDOWN_MS", "600000")]);
    // Wait for the handler to be installed (the `ready` line), else SIGINT
    // would kill the process outright.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout);
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            if lines.read_line(&mut line).unwrap() == 0 {
                break;
            }
            seen.push_str(&line);
            if line.contains("ready:") {
                tx.send(Some((seen, lines))).unwrap();
                return;
            }
        }
        tx.send(None).unwrap();
    });
    let Ok(Some((seen, lines))) = rx.recv_timeout(TIMEOUT) else {
        let _ = child.kill();
        panic!("worker_pool never printed its ready line");
    };
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let out = finish("worker_pool", child, lines, seen);
    assert_has(&out, "Ctrl-C received: shutting down");
    assert!(!out.contains("no Ctrl-C within"), "{out}");
    assert_graceful_shutdown(&out);
}

#[test]
fn watchdog() {
    let out = run("watchdog", &[]);
    for job in 2..=4 {
        assert_has(
            &out,
            &format!("watchdog: job {job} over its 150ms budget: raised Overrun"),
        );
        assert_has(
            &out,
            &format!("job {job}: OVERRUN caught: Overrun {{ job: {job}, budget: 150ms }}"),
        );
        assert_has(&out, &format!("job {job}: cleanup ran during the unwind"));
    }
    // The legacy call is not killable: the raise waits for it to return.
    let legacy = out
        .lines()
        .find(|l| l.contains("job 4: OVERRUN caught"))
        .unwrap();
    let after = legacy
        .split(" after ")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .and_then(millis)
        .unwrap_or_else(|| panic!("no duration in {legacy:?}"));
    assert!(after >= 400.0, "the legacy call was cut short: {legacy}");
    // The worker carried on after the overruns. Job 5 is quick, but on a
    // loaded machine it may overrun too: either way it was handled.
    assert!(
        out.contains("job 5: done in") || out.contains("job 5: OVERRUN caught"),
        "{out}"
    );
    assert_has(&out, "the worker returned normally");
}

#[test]
fn cancel_rayon() {
    let out = run("cancel_rayon", &[]);
    let line = out
        .lines()
        .find(|l| l.starts_with("cancelled par_iter returned after "))
        .unwrap_or_else(|| panic!("no timing line in:\n{out}"));
    let took = line
        .strip_prefix("cancelled par_iter returned after ")
        .and_then(|s| s.split(" (").next())
        .and_then(millis)
        .unwrap_or_else(|| panic!("no duration in {line:?}"));
    // Uncancelled it would take about 6.4 s.
    assert!(took < 1600.0, "{line}");
    assert_has(
        &out,
        "second par_iter on the same pool: 64 items, correct = true",
    );
}

#[test]
fn cancel_tokio() {
    let out = run("cancel_tokio", &[]);
    assert_has(&out, "timeout fired: true");
    assert_has(&out, "blocking work stopped ");
    assert_has(&out, "next blocking job on the same runtime: Ok(5050)");
}
