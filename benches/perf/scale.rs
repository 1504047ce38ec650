//! Figure (e): ten thousand killable threads.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use killable::registry::{self, RunState};
use killable::{Builder, KillableThread};

use crate::stats::{fmt_ns, median, thread_cpu_time, Table};

const STACK: usize = 64 * 1024;

/// Resident set size of this process, in bytes.
fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = s
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn all_blocked(n: usize) -> bool {
    registry::threads()
        .iter()
        .filter(|i| i.state() == RunState::Blocked)
        .count()
        >= n
}

/// Spawns and joins `m` short killable threads; best seconds of one spawn +
/// join (the best case is the cost of the operations themselves; the rest is
/// waiting for a core).
fn spawn_join_cost(m: usize) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..m {
        let t = Instant::now();
        let h = Builder::new().stack_size(STACK).spawn(|| 1).expect("spawn");
        h.join().expect("join");
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

/// `n` killable threads parked until `stop` is set (or they are killed).
fn parked_threads(n: usize, stop: &Arc<AtomicBool>) -> Vec<KillableThread<()>> {
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let s = stop.clone();
            Builder::new()
                .stack_size(STACK)
                .spawn(move || {
                    while !s.load(SeqCst) {
                        killable::park();
                    }
                })
                .expect("spawn")
        })
        .collect();
    wait_until("all killable threads parked", || all_blocked(n));
    hs
}

/// The same number of plain threads parked the same way: RSS per thread,
/// and the median caller CPU time of the last tenth of the spawns over the
/// first tenth's.
fn std_threads(n: usize) -> (f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let parked = Arc::new(AtomicUsize::new(0));
    let before = rss();
    let mut spawn_cpu = Vec::with_capacity(n);
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let c = thread_cpu_time();
            let (s, p) = (stop.clone(), parked.clone());
            let h = std::thread::Builder::new()
                .stack_size(STACK)
                .spawn(move || {
                    p.fetch_add(1, SeqCst);
                    while !s.load(SeqCst) {
                        std::thread::park();
                    }
                })
                .expect("spawn");
            spawn_cpu.push(thread_cpu_time() - c);
            h
        })
        .collect();
    wait_until("std threads", || parked.load(SeqCst) == n);
    std::thread::sleep(Duration::from_millis(50));
    let per = (rss().saturating_sub(before)) as f64 / n as f64;
    stop.store(true, SeqCst);
    for h in &hs {
        h.thread().unpark();
    }
    for h in hs {
        h.join().expect("join");
    }
    let k = (n / 10).max(1);
    (per, median(&spawn_cpu[n - k..]) / median(&spawn_cpu[..k]))
}

/// Wall and caller-CPU seconds of `f`.
fn timed(f: impl FnOnce()) -> (f64, f64) {
    let (t, c) = (Instant::now(), thread_cpu_time());
    f();
    (t.elapsed().as_secs_f64(), thread_cpu_time() - c)
}

pub fn run(table: &mut Table, n: usize) {
    let before_cost = spawn_join_cost(200);
    let (std_per, std_growth) = std_threads(n);

    // n threads parked inside a shield: a kill wakes them, finds itself
    // deferred, and they park again, exactly as after a plain unpark. That
    // isolates what terminate_all() costs the caller from what the victims'
    // unwinding and exit cost the machine.
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let rss0 = rss();
    // Caller CPU time of each spawn, to compare the first thousand (registry
    // nearly empty) with the last (n - 1000 entries).
    let mut spawn_cpu = Vec::with_capacity(n);
    let (spawn_s, handles) = crate::stats::time(|| {
        (0..n)
            .map(|_| {
                let c = thread_cpu_time();
                let (s, p) = (stop.clone(), started.clone());
                let h = Builder::new()
                    .stack_size(STACK)
                    .spawn(move || {
                        killable::shield(|| {
                            p.fetch_add(1, SeqCst);
                            while !s.load(SeqCst) {
                                killable::park();
                            }
                        })
                    })
                    .expect("spawn");
                spawn_cpu.push(thread_cpu_time() - c);
                h
            })
            .collect::<Vec<KillableThread<()>>>()
    });
    wait_until("all killable threads started", || started.load(SeqCst) == n);
    std::thread::sleep(Duration::from_millis(100));
    let per = (rss().saturating_sub(rss0)) as f64 / n as f64;
    let during_cost = spawn_join_cost(200);

    let (unpark_s, unpark_cpu) = timed(|| {
        for h in &handles {
            h.thread().unpark();
        }
    });
    std::thread::sleep(Duration::from_millis(100));
    let mut reached = 0;
    let (term_s, term_cpu) = timed(|| reached = registry::terminate_all());
    assert!(reached >= n);
    stop.store(true, SeqCst);
    for h in &handles {
        h.thread().unpark();
    }
    for h in handles {
        // The shield ended before the body returned: no checkpoint left.
        let _ = h.join();
    }

    // Threads woken to exit: by hand (a stop flag, then an unpark each),
    // then by terminate_all(); the victims compete with the caller for the
    // two cores in both.
    let stop = Arc::new(AtomicBool::new(false));
    let hs = parked_threads(n, &stop);
    let (hand_s, _) = timed(|| {
        stop.store(true, SeqCst);
        for h in &hs {
            h.thread().unpark();
        }
    });
    for h in hs {
        h.join().expect("exits");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let hs = parked_threads(n, &stop);
    let t = Instant::now();
    let (term2_s, _) = timed(|| {
        registry::terminate_all();
    });
    for h in hs {
        assert!(h.join().unwrap_err().is_terminated());
    }
    let all_s = t.elapsed().as_secs_f64();

    table.info(
        format!("spawn {n} killable threads (64 KiB stacks)"),
        format!(
            "{:.0} ms ({} each)",
            spawn_s * 1e3,
            fmt_ns(spawn_s / n as f64 * 1e9)
        ),
        "",
    );
    table.info(
        "terminate_all() + join all",
        format!(
            "{:.0} ms ({} each)",
            all_s * 1e3,
            fmt_ns(all_s / n as f64 * 1e9)
        ),
        "",
    );
    let ratio = term_s / unpark_s;
    table.check(
        "terminate_all() vs unpark by hand (victims wake, re-park)",
        format!(
            "{} vs {} ({ratio:.2}×)",
            fmt_ns(term_s * 1e9),
            fmt_ns(unpark_s * 1e9)
        ),
        "≤ 1.5×",
        ratio <= 1.5,
    );
    table.info(
        "  the caller's CPU time in each",
        format!(
            "{} vs {} ({:.2}×)",
            fmt_ns(term_cpu * 1e9),
            fmt_ns(unpark_cpu * 1e9),
            term_cpu / unpark_cpu
        ),
        "",
    );
    table.info(
        "terminate_all() vs stop flag + unpark (victims exit)",
        format!(
            "{} vs {} ({:.2}×)",
            fmt_ns(term2_s * 1e9),
            fmt_ns(hand_s * 1e9),
            term2_s / hand_s
        ),
        "unwinding victims take CPU from the caller",
    );
    table.info(
        "RSS per parked thread: killable vs std (same stack)",
        format!("{:.1} KiB vs {:.1} KiB", per / 1024.0, std_per / 1024.0),
        format!("difference {:+.0} B", per - std_per),
    );
    table.info(
        "registry entry (size_of: entry + kill state + map slot)",
        format!("{} B", killable::registry::__entry_footprint()),
        "heap, per thread",
    );
    let k = (n / 10).max(1);
    let first = median(&spawn_cpu[..k]);
    let last = median(&spawn_cpu[n - k..]);
    let o1 = last / first;
    table.info(
        format!("spawn cost growth (caller CPU): last {k} / first {k} of {n}"),
        format!("{o1:.2}× killable, {std_growth:.2}× std threads"),
        "caller CPU: registry insert + OS thread creation",
    );
    table.info(
        "  killable spawn, caller CPU (median): last vs first",
        format!("{} vs {}", fmt_ns(last * 1e9), fmt_ns(first * 1e9)),
        "",
    );
    table.info(
        format!("spawn+join one thread, {n} registered vs none (best of 200)"),
        format!(
            "{} vs {} ({:.2}×)",
            fmt_ns(during_cost * 1e9),
            fmt_ns(before_cost * 1e9),
            during_cost / before_cost
        ),
        "wall clock: mostly waiting for a core",
    );
}
