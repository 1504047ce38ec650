//! Timing helpers and the result table.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Percentile `p` (0..=100) of `xs` by nearest rank; sorts a copy.
pub fn percentile(xs: &[f64], p: f64) -> f64 {
    assert!(!xs.is_empty(), "no samples");
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

pub fn median(xs: &[f64]) -> f64 {
    percentile(xs, 50.0)
}

pub fn geomean(xs: &[f64]) -> f64 {
    (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp()
}

/// Seconds `f` takes.
pub fn time<R>(f: impl FnOnce() -> R) -> (f64, R) {
    let t = Instant::now();
    let r = f();
    (t.elapsed().as_secs_f64(), r)
}

/// Seconds of CPU time the calling thread has used. Unlike wall-clock time it
/// does not count the time the thread spent descheduled, which on a shared
/// 2-core machine is most of the noise. Falls back to wall-clock time off
/// Linux.
pub fn thread_cpu_time() -> f64 {
    #[cfg(target_os = "linux")]
    {
        #[repr(C)]
        struct Timespec {
            sec: i64,
            nsec: i64,
        }
        extern "C" {
            fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
        }
        const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
        let mut ts = Timespec { sec: 0, nsec: 0 };
        // SAFETY: `ts` is a valid, writable timespec (two 64-bit fields on
        // 64-bit Linux), and this clock id exists on every Linux kernel.
        let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime");
        ts.sec as f64 + ts.nsec as f64 * 1e-9
    }
    #[cfg(not(target_os = "linux"))]
    {
        now_ns() as f64 * 1e-9
    }
}

/// The number of CPUs this process may use, read once, before any pinning
/// (`available_parallelism` follows the calling thread's affinity).
pub fn cores() -> usize {
    use std::sync::OnceLock;
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Pins the calling thread to CPU `cpu`, or (with `None`) lets it run on
/// any (see `latency::PARK_DELAY_US` for why the wake figures pin). Does
/// nothing off Linux or on a single core.
pub fn pin_to(cpu: Option<usize>) {
    #[cfg(target_os = "linux")]
    {
        extern "C" {
            fn sched_setaffinity(pid: i32, size: usize, mask: *const u64) -> i32;
        }
        if cores() < 2 {
            return;
        }
        let mask: [u64; 16] = match cpu {
            Some(c) => {
                let mut m = [0u64; 16];
                m[c / 64] = 1 << (c % 64);
                m
            }
            None => [u64::MAX; 16],
        };
        // SAFETY: pid 0 is the calling thread; `mask` is a valid cpu set of
        // the size passed. A failure (say, a CPU outside our cpuset) leaves
        // the affinity as it was, which only makes the figure noisier.
        let _ = unsafe { sched_setaffinity(0, std::mem::size_of_val(&mask), mask.as_ptr()) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}

/// Nanoseconds since a process-wide origin, comparable across threads
/// (`Instant` is CLOCK_MONOTONIC on Linux).
pub fn now_ns() -> u64 {
    use std::sync::OnceLock;
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Busy-waits `d` (more precise than sleeping for tens of microseconds).
pub fn spin_for(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// A small xorshift generator, so runs are repeatable without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Whether a figure met its target.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Miss,
    /// Reported only (no target), or a stretch target.
    Info,
}

pub struct Row {
    pub figure: String,
    pub measured: String,
    pub target: String,
    pub verdict: Verdict,
}

#[derive(Default)]
pub struct Table {
    pub rows: Vec<Row>,
}

impl Table {
    pub fn section(&mut self, title: &str) {
        self.rows.push(Row {
            figure: format!("**{title}**"),
            measured: String::new(),
            target: String::new(),
            verdict: Verdict::Info,
        });
    }

    /// A row with a target: `ok` decides pass/miss.
    pub fn check(
        &mut self,
        figure: impl Into<String>,
        measured: impl Into<String>,
        target: impl Into<String>,
        ok: bool,
    ) {
        let row = Row {
            figure: figure.into(),
            measured: measured.into(),
            target: target.into(),
            verdict: if ok { Verdict::Pass } else { Verdict::Miss },
        };
        eprintln!(
            "  {:<58} {:>24}  {:<14} {}",
            row.figure,
            row.measured,
            row.target,
            verdict_str(row.verdict)
        );
        self.rows.push(row);
    }

    /// A row reported without a pass/miss verdict.
    pub fn info(
        &mut self,
        figure: impl Into<String>,
        measured: impl Into<String>,
        note: impl Into<String>,
    ) {
        let row = Row {
            figure: figure.into(),
            measured: measured.into(),
            target: note.into(),
            verdict: Verdict::Info,
        };
        eprintln!("  {:<58} {:>24}  {}", row.figure, row.measured, row.target);
        self.rows.push(row);
    }

    /// The table as Markdown, ready for docs/PERFORMANCE.md.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        s.push_str("| figure | measured | target | |\n| --- | ---: | --- | --- |\n");
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                r.figure,
                r.measured,
                r.target,
                verdict_str(r.verdict)
            );
        }
        s
    }
}

fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Miss => "MISS",
        Verdict::Info => "",
    }
}

pub fn fmt_ns(ns: f64) -> String {
    if ns < 10.0 {
        format!("{ns:.2} ns")
    } else if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}
