//! `cargo bench`: the performance figures of issue 5, with their targets.
//!
//! ```sh
//! RUSTFLAGS="-C llvm-args=-align-all-functions=6 -C llvm-args=-align-loops=64" \
//!     CARGO_TARGET_DIR=target/bench-aligned cargo bench --bench perf
//! cargo bench --bench perf -- kernels latency   # only some sections
//! ```
//!
//! Sections: `checkpoint` (a), `kernels` (b), `fresh` (b2), `kill` (c), `wake` (d),
//! `scale` (e), `timeout` (f), `io` (g), `cancel` (h). The table goes to stdout as
//! Markdown (the table in docs/PERFORMANCE.md is a copy); progress goes to stderr.
//!
//! A hand-rolled harness rather than criterion: the figures are ratios of
//! interleaved samples in one process, latency percentiles of cross-thread
//! handoffs, and one-shot scale runs, each judged against a target; criterion
//! measures one closure at a time against its own saved baseline and would
//! take several minutes per figure at its default sampling.

mod cancel;
mod checkpoint;
mod fresh;
mod io;
mod kernels;
mod latency;
mod scale;
mod stats;
mod timeout;

use std::time::{Duration, Instant};

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = stats::cores();
    format!(
        "{cores} cores, {cpu}, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// The 1-minute load average: how busy the machine was around the run.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |s: &str| args.is_empty() || args.iter().any(|a| s.contains(a.as_str()));
    if args.iter().any(|a| a == "icount") {
        // Untimed, for callgrind: `valgrind --tool=callgrind <bench exe> icount`.
        kernels::icount(20);
        return;
    }
    let start = Instant::now();
    let mut t = stats::Table::default();
    eprintln!("machine: {}", machine());
    let load_before = load();

    if want("checkpoint") {
        eprintln!("(a) checkpoint");
        t.section("(a) checkpoint()");
        checkpoint::run(&mut t);
    }
    if want("kernels") {
        eprintln!("(b) kernels");
        t.section(&format!(
            "(b) #[killable] vs plain, {} kernels",
            kernels::NAMES.len()
        ));
        kernels::run(&mut t, 41, Duration::from_millis(1));
    }
    if want("fresh") {
        eprintln!("(b2) fresh kernels");
        t.section(&format!(
            "(b2) #[killable] vs plain, {} fresh kernels (never tuned against)",
            fresh::NAMES.len()
        ));
        fresh::run(&mut t, 41, Duration::from_millis(1));
    }
    if want("kill") {
        eprintln!("(c) kill latency");
        t.section("(c) kill latency, terminate() → join()");
        latency::run_kill(&mut t, 500);
    }
    if want("wake") {
        eprintln!("(d) wake latency");
        t.section("(d) wake latency, blocked thread");
        latency::run_wake(&mut t, 1000);
        latency::run_natural_wakes(&mut t, 1000);
    }
    if want("scale") {
        eprintln!("(e) scale");
        t.section("(e) scale");
        scale::run(&mut t, 10_000);
    }
    if want("timeout") {
        eprintln!("(f) with_timeout");
        t.section("(f) with_timeout");
        timeout::run(&mut t);
    }
    if want("io") {
        eprintln!("(g) killable::io");
        t.section("(g) killable::io");
        latency::run_io_wake(&mut t, 1000);
        io::run_fast_path(&mut t, 201);
    }
    if want("cancel") {
        eprintln!("(h) cancel tokens");
        t.section("(h) cancel tokens");
        cancel::run(&mut t);
    }
    println!(
        "machine: {}; load average {} before, {} after\n",
        machine(),
        load_before,
        load()
    );
    println!("{}", t.markdown());
    let misses = t
        .rows
        .iter()
        .filter(|r| r.verdict == stats::Verdict::Miss)
        .count();
    println!(
        "{} figures, {} missed, {:.0} s",
        t.rows
            .iter()
            .filter(|r| r.verdict != stats::Verdict::Info)
            .count(),
        misses,
        start.elapsed().as_secs_f64()
    );
}
