//! Figures (c) and (d): how fast a kill lands.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use killable::sync::mpsc;
use killable::sync::{Condvar, Mutex};
use killable::{catch, killable, KillableThread, Killer};

use crate::stats::{fmt_ns, now_ns, percentile, pin_to, spin_for, thread_cpu_time, Rng, Table};

/// When the kill was delivered: the first destructor that runs in the
/// unwind records it.
static DELIVERED_AT: AtomicU64 = AtomicU64::new(0);

struct Delivered;

impl Drop for Delivered {
    fn drop(&mut self) {
        if std::thread::panicking() {
            DELIVERED_AT.store(now_ns(), SeqCst);
        }
    }
}

/// A compute loop: `loop` is checked on every iteration.
#[killable]
fn compute_loop(started: &AtomicBool) -> u64 {
    let _d = Delivered;
    started.store(true, SeqCst);
    let mut x = 1u64;
    loop {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        if x == 0 {
            return x;
        }
    }
}

/// A strip-mined loop with a cheap body (about a nanosecond per iteration).
#[killable]
fn strip_cheap(started: &AtomicBool) -> u64 {
    let _d = Delivered;
    started.store(true, SeqCst);
    let mut s = 0u64;
    for i in 0..u64::MAX {
        s = s.wrapping_add(i ^ (s >> 3));
    }
    s
}

/// A strip-mined loop whose straight-line body is as slow as call-free code
/// gets in practice: a chain of eight dependent 64-bit divisions.
#[killable]
fn strip_divisions(started: &AtomicBool) -> u64 {
    let _d = Delivered;
    started.store(true, SeqCst);
    let mut x = u64::MAX;
    for i in 0..u64::MAX {
        let d = i | 3;
        x = (x ^ i) / d + (x >> 1);
        x = (x ^ i) / d + (x >> 1);
        x = (x ^ i) / d + (x >> 1);
        x = (x ^ i) / d + (x >> 1);
        x = (x ^ i) / d + (x >> 1);
        x = (x ^ i) / d + (x >> 1);
        x = (x ^ i) / d + (x >> 1);
        x = (x ^ i) / d + (x >> 1);
    }
    x
}

/// The same body as [`strip_divisions`], plain, for `n` iterations: times a
/// chunk.
#[inline(never)]
fn divisions_plain(n: u64) -> u64 {
    let mut x = u64::MAX;
    for i in 0..n {
        let d = i | 3;
        x = (x ^ i) / d + (x >> 1);
        x = (x ^ i) / d + (x >> 1);
        x = (x ^ i) / d + (x >> 1);
        x = (x ^ i) / d + (x >> 1);
        x = (x ^ i) / d + (x >> 1);
        x = (x ^ i) / d + (x >> 1);
        x = (x ^ i) / d + (x >> 1);
        x = (x ^ i) / d + (x >> 1);
    }
    x
}

/// For a thread running `body`: seconds from `terminate()` to the kill's
/// delivery (the first destructor running) and to `join()` returning.
fn kill_latencies(samples: usize, body: fn(&AtomicBool) -> u64) -> (Vec<f64>, Vec<f64>) {
    let mut rng = Rng::new(42);
    let (mut delivered, mut joined) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
    for _ in 0..samples {
        let started = Arc::new(AtomicBool::new(false));
        let s = started.clone();
        let t = KillableThread::spawn(move || body(&s));
        while !started.load(SeqCst) {
            std::hint::spin_loop();
        }
        // Land at a random point of the loop (of a chunk, if strip-mined).
        spin_for(Duration::from_micros(20 + rng.below(300)));
        let t0 = now_ns();
        t.terminate();
        let r = t.join();
        joined.push((now_ns() - t0) as f64 * 1e-9);
        delivered.push(DELIVERED_AT.load(SeqCst).saturating_sub(t0) as f64 * 1e-9);
        assert!(r.unwrap_err().is_terminated());
    }
    (delivered, joined)
}

fn pcts(v: &[f64]) -> (f64, f64, f64) {
    (
        percentile(v, 50.0) * 1e9,
        percentile(v, 99.0) * 1e9,
        percentile(v, 100.0) * 1e9,
    )
}

pub fn run_kill(table: &mut Table, samples: usize) {
    // One chunk of the division body: best of 9, in thread CPU time.
    let chunk = (0..9)
        .map(|_| {
            let t = thread_cpu_time();
            black_box(divisions_plain(black_box(1024 * 16)));
            (thread_cpu_time() - t) / 16.0
        })
        .fold(f64::INFINITY, f64::min);
    for (name, body) in [
        (
            "compute loop (`loop`, checked every iteration)",
            compute_loop as fn(&AtomicBool) -> u64,
        ),
        ("strip-mined `for`, cheap body (~1 ns/iter)", strip_cheap),
        (
            "strip-mined `for`, 8 dependent u64 divisions/iter",
            strip_divisions,
        ),
    ] {
        let (delivered, joined) = kill_latencies(samples, body);
        let (d50, d99, dmax) = pcts(&delivered);
        let (p50, p99, max) = pcts(&joined);
        table.check(
            format!("kill latency, {name}"),
            format!(
                "p50 {} p99 {} max {}",
                fmt_ns(p50),
                fmt_ns(p99),
                fmt_ns(max)
            ),
            "p99 ≤ 200 µs",
            p99 <= 200e3,
        );
        table.info(
            "  of which terminate() → delivery (first destructor)",
            format!(
                "p50 {} p99 {} max {}",
                fmt_ns(d50),
                fmt_ns(d99),
                fmt_ns(dmax)
            ),
            "the rest is unwinding and thread exit",
        );
    }
    table.check(
        "  one 1024-iteration chunk of that division body",
        fmt_ns(chunk * 1e9),
        "≤ ~1 ms",
        chunk <= 1e-3,
    );
}

#[derive(Debug)]
struct Ping;

/// How long the waker waits after the worker said it is about to block, so
/// that it is asleep when woken.
///
/// The waker and every worker are pinned to the same core: a wake is then a
/// futex wake plus a context switch, the software path this figure compares.
/// Across cores, this VM adds the hypervisor's idle handling (a vCPU woken
/// within KVM's adaptive halt-poll window resumes in ~1 µs, after it in
/// ~20–30 µs) and the other core's load from other processes, and which mode
/// a sample lands in changes from run to run.
const PARK_DELAY_US: u64 = 30;

/// Shared between the measuring thread and the blocked one.
#[derive(Default)]
struct Probe {
    /// Sample number the worker is about to block for.
    ready: AtomicU64,
    /// Sample number the worker has woken from, and when.
    woke: AtomicU64,
    woke_at: AtomicU64,
    /// For the raw handoff: the sample number that releases the worker.
    go: AtomicU64,
    stop: AtomicBool,
}

/// A worker that blocks once per sample, and a way to wake it.
struct Rig {
    probe: Arc<Probe>,
    wake: Box<dyn Fn(u64)>,
    join: Option<Box<dyn FnOnce()>>,
}

impl Rig {
    /// A killable worker blocked in `block` (inside `catch::<Ping>`), woken by
    /// `wake` (a raise, a notify, a send).
    fn killable(
        block: impl Fn(u64) + Send + 'static,
        wake: impl Fn(&Killer, u64) + 'static,
    ) -> Rig {
        let probe = Arc::new(Probe::default());
        let q = probe.clone();
        let worker = KillableThread::spawn(move || {
            pin_to(Some(0));
            let mut seq = 1;
            while !q.stop.load(SeqCst) {
                q.ready.store(seq, SeqCst);
                let _ = catch::<Ping, _, _>(|| block(seq));
                q.woke_at.store(now_ns(), SeqCst);
                q.woke.store(seq, SeqCst);
                seq += 1;
            }
        });
        let killer = worker.killer();
        Rig {
            probe,
            wake: Box::new(move |seq| wake(&killer, seq)),
            join: Some(Box::new(move || {
                worker.join().expect("worker ends cleanly")
            })),
        }
    }

    /// The baseline: a raw `park`/`unpark` handoff between std threads.
    fn raw() -> Rig {
        Rig::std_handoff(await_go)
    }

    /// The floor for any wake that delivers by unwinding: the raw handoff,
    /// then `resume_unwind` from the woken thread to a `catch_unwind` around
    /// its wait (std only, no killable code).
    fn raw_unwind() -> Rig {
        Rig::std_handoff(|q, seq| {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                await_go(q, seq);
                std::panic::resume_unwind(Box::new(Ping));
            }));
            drop(r.expect_err("unwound").downcast::<Ping>());
        })
    }

    /// The kernel's share of a wake through a wake fd: a std worker
    /// blocked in `poll` on an eventfd, woken by a write to it, then
    /// `resume_unwind` to a `catch_unwind` around its wait, as in
    /// [`raw_unwind`](Self::raw_unwind).
    #[cfg(target_os = "linux")]
    fn raw_poll_unwind() -> Rig {
        let efd = Arc::new(eventfd::EventFd::new());
        let e = efd.clone();
        let (probe, worker) = std_worker(move |_, seq| {
            if seq > 1 {
                e.drain(); // the previous sample's wake, off the measured path
            }
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                e.poll();
                std::panic::resume_unwind(Box::new(Ping));
            }));
            drop(r.expect_err("unwound").downcast::<Ping>());
        });
        Rig {
            probe,
            wake: Box::new(move |_| efd.signal()),
            join: Some(Box::new(move || worker.join().expect("raw poll worker"))),
        }
    }

    /// A std worker blocked in `block`, woken by `go` and an unpark.
    fn std_handoff(block: impl Fn(&Probe, u64) + Send + 'static) -> Rig {
        let (probe, worker) = std_worker(block);
        let thread = worker.thread().clone();
        let p = probe.clone();
        Rig {
            probe,
            wake: Box::new(move |seq| {
                p.go.store(seq, SeqCst);
                thread.unpark();
            }),
            join: Some(Box::new(move || worker.join().expect("raw worker"))),
        }
    }

    /// One wake-up: waits for the worker to block, lets it get to sleep
    /// (see [`PARK_DELAY_US`]), wakes it; seconds from just before the wake to the worker
    /// running again.
    fn sample(&self, seq: u64) -> f64 {
        while self.probe.ready.load(SeqCst) != seq {
            std::hint::spin_loop();
        }
        spin_for(Duration::from_micros(PARK_DELAY_US));
        let t0 = now_ns();
        (self.wake)(seq);
        while self.probe.woke.load(SeqCst) != seq {
            std::hint::spin_loop();
        }
        self.probe.woke_at.load(SeqCst).saturating_sub(t0) as f64 * 1e-9
    }

    fn finish(mut self, seq: u64) {
        self.probe.stop.store(true, SeqCst);
        self.sample(seq);
        (self.join.take().expect("once"))();
    }
}

/// Parks until the waker has published `seq`.
fn await_go(q: &Probe, seq: u64) {
    while q.go.load(SeqCst) != seq {
        std::thread::park();
    }
}

fn raise(k: &Killer, _seq: u64) {
    k.raise(Ping).expect("worker alive");
}

/// Samples `op` and a fresh raw handoff alternately, so that both see the
/// same machine; returns (op, raw) latencies.
fn interleaved(samples: usize, op: Rig) -> (Vec<f64>, Vec<f64>) {
    let raw = Rig::raw();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for seq in 1..=samples as u64 {
        let (x, y) = if seq % 2 == 0 {
            let y = raw.sample(seq);
            (op.sample(seq), y)
        } else {
            (op.sample(seq), raw.sample(seq))
        };
        // The first samples warm up.
        if seq > 3 {
            a.push(x);
            b.push(y);
        }
    }
    op.finish(samples as u64 + 1);
    raw.finish(samples as u64 + 1);
    (a, b)
}

pub fn run_wake(table: &mut Table, samples: usize) {
    pin_to(Some(0));
    let mut rows: Vec<(&str, Rig)> = Vec::new();
    rows.push((
        "kill wakes sleep()",
        Rig::killable(|_| killable::sleep(Duration::from_secs(3600)), raise),
    ));

    let pair = Arc::new((Mutex::new(0u64), Condvar::new()));
    let pc = pair.clone();
    rows.push((
        "kill wakes Condvar::wait",
        Rig::killable(
            move |_| {
                let mut g = pc.0.lock().unwrap();
                loop {
                    g = pc.1.wait(g).unwrap();
                }
            },
            raise,
        ),
    ));
    // Its own condvar: a notify must not pick the waiter of the row above.
    let pair = Arc::new((Mutex::new(0u64), Condvar::new()));
    let pc = pair.clone();
    rows.push((
        "notify_one wakes Condvar::wait",
        Rig::killable(
            move |seq| {
                let mut g = pc.0.lock().unwrap();
                while *g != seq {
                    g = pc.1.wait(g).unwrap();
                }
            },
            move |_, seq| {
                *pair.0.lock().unwrap() = seq;
                pair.1.notify_one();
            },
        ),
    ));

    let (tx, rx) = mpsc::channel::<u64>();
    rows.push((
        "kill wakes Receiver::recv",
        Rig::killable(
            move |_| {
                let _ = rx.recv();
            },
            raise,
        ),
    ));
    let (tx2, rx2) = mpsc::channel::<u64>();
    rows.push((
        "send wakes Receiver::recv",
        Rig::killable(
            move |_| {
                let _ = rx2.recv();
            },
            move |_, seq| tx2.send(seq).expect("receiver alive"),
        ),
    ));

    // Join: each sample joins a fresh sleeper; the raise unwinds out of the
    // join (the handle is dropped, the sleeper detached and terminated below).
    let sleepers = Arc::new(std::sync::Mutex::new(Vec::<Killer>::new()));
    let s2 = sleepers.clone();
    rows.push((
        "kill wakes KillableThread::join",
        Rig::killable(
            move |_| {
                let t = KillableThread::spawn(|| killable::sleep(Duration::from_secs(3600)));
                s2.lock().unwrap().push(t.killer());
                let _ = t.join();
            },
            raise,
        ),
    ));

    // A kill is delivered by unwinding, which the raw handoff does not do:
    // each kill row is also given against this floor (std alone).
    let (floor, floor_raw) = interleaved(samples, Rig::raw_unwind());
    let floor_ratio = pcts(&floor).0 / pcts(&floor_raw).0;
    let mut all_raw = Vec::new();
    for (name, rig) in rows {
        let (op, raw) = interleaved(samples, rig);
        let (p50, p99, _) = pcts(&op);
        let (r50, _, _) = pcts(&raw);
        let (b, rb) = (percentile(&op, 0.0) * 1e9, percentile(&raw, 0.0) * 1e9);
        let ratio = p50 / r50;
        let vs_floor = if name.starts_with("kill") {
            format!("; {:.2}× the unwinding floor", ratio / floor_ratio)
        } else {
            String::new()
        };
        table.check(
            format!("wake latency, {name}"),
            format!(
                "p50 {} ({ratio:.2}× raw {}) p99 {}; best {} ({:.2}× raw {}){vs_floor}",
                fmt_ns(p50),
                fmt_ns(r50),
                fmt_ns(p99),
                fmt_ns(b),
                b / rb,
                fmt_ns(rb)
            ),
            "p50 ≤ 1.5× raw",
            ratio <= 1.5,
        );
        all_raw.extend(raw);
    }
    table.info(
        "unwinding floor: raw handoff, then resume_unwind to catch_unwind (std only)",
        format!(
            "p50 {} ({floor_ratio:.2}× raw {})",
            fmt_ns(pcts(&floor).0),
            fmt_ns(pcts(&floor_raw).0)
        ),
        "what any wake that unwinds costs here",
    );
    drop(tx);
    for k in sleepers.lock().unwrap().iter() {
        k.terminate();
    }
    pin_to(None);
    // What a kill adds to a wake: raising into oneself, then a checkpoint
    // delivers and unwinds to the `catch`. No wake involved.
    let per_kill = KillableThread::spawn(|| {
        let me = killable::registry::threads()
            .into_iter()
            .find(|i| i.id() == std::thread::current().id())
            .expect("listed")
            .killer();
        let mut best = f64::INFINITY;
        for _ in 0..20 {
            let t = now_ns();
            for _ in 0..100 {
                me.raise(Ping).expect("alive");
                let _ = catch::<Ping, _, _>(killable::checkpoint);
            }
            best = best.min((now_ns() - t) as f64 / 100.0);
        }
        best
    })
    .join()
    .expect("bench thread");
    table.info(
        "  raise + delivery + unwind to catch, same thread",
        fmt_ns(per_kill),
        "what a kill adds to a wake",
    );
    let (r50, r99, _) = pcts(&all_raw);
    table.info(
        "raw park/unpark handoff, interleaved with each row",
        format!("p50 {} p99 {}", fmt_ns(r50), fmt_ns(r99)),
        "the baseline",
    );
}

/// The wakes that are not kills, for the two operations whose wake is not a
/// notify or a send: a sleep's deadline and a joined thread's exit. Both
/// against std's own operation, interleaved, on one core (as the rows above).
pub fn run_natural_wakes(table: &mut Table, samples: usize) {
    // A sleep's lateness: how long after its deadline it returns.
    let (ours, theirs) = KillableThread::spawn(move || {
        pin_to(Some(0));
        let d = Duration::from_micros(100);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..samples {
            let t = std::time::Instant::now();
            killable::sleep(d);
            ours.push((t.elapsed() - d).as_secs_f64());
            let t = std::time::Instant::now();
            std::thread::sleep(d);
            theirs.push((t.elapsed() - d).as_secs_f64());
        }
        (ours, theirs)
    })
    .join()
    .expect("sleeper");
    let (o50, o99, _) = pcts(&ours);
    let (t50, _, _) = pcts(&theirs);
    table.check(
        "wake latency, deadline wakes sleep(100 µs): lateness",
        format!(
            "p50 {} ({:.2}× std::thread::sleep {}) p99 {}",
            fmt_ns(o50),
            o50 / t50,
            fmt_ns(t50),
            fmt_ns(o99)
        ),
        "p50 ≤ 1.5× std",
        o50 <= 1.5 * t50,
    );

    // A join's wake: the joined thread returns, the blocked joiner wakes.
    pin_to(Some(0));
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for i in 0..samples.min(300) {
        let killable_first = i % 2 == 0;
        for killable_side in [killable_first, !killable_first] {
            let go = Arc::new(AtomicBool::new(false));
            let done_at = Arc::new(AtomicU64::new(0));
            let joining = Arc::new(AtomicBool::new(false));
            let g = go.clone();
            let body = move || {
                pin_to(Some(0));
                while !g.load(SeqCst) {
                    std::thread::park();
                }
            };
            // Both sides join through a boxed call, so the one difference is the join.
            type Join = Box<dyn FnOnce() + Send>;
            let (target, join): (std::thread::Thread, Join) = if killable_side {
                let t = KillableThread::spawn(body);
                (
                    t.thread().clone(),
                    Box::new(move || t.join().expect("target")),
                )
            } else {
                let t = std::thread::spawn(body);
                (
                    t.thread().clone(),
                    Box::new(move || t.join().expect("target")),
                )
            };
            let (d, j) = (done_at.clone(), joining.clone());
            let joiner = std::thread::spawn(move || {
                pin_to(Some(0));
                j.store(true, SeqCst);
                join();
                d.store(now_ns(), SeqCst);
            });
            while !joining.load(SeqCst) {
                std::hint::spin_loop();
            }
            // Let the joiner get into its join and block.
            spin_for(Duration::from_micros(PARK_DELAY_US));
            let t0 = now_ns();
            go.store(true, SeqCst);
            target.unpark();
            joiner.join().expect("joiner");
            let dt = done_at.load(SeqCst).saturating_sub(t0) as f64 * 1e-9;
            if killable_side {
                &mut ours
            } else {
                &mut theirs
            }
            .push(dt);
        }
    }
    pin_to(None);
    let (o50, o99, _) = pcts(&ours);
    let (t50, _, _) = pcts(&theirs);
    table.check(
        "wake latency, thread exit wakes KillableThread::join",
        format!(
            "p50 {} ({:.2}× std JoinHandle::join {}) p99 {}",
            fmt_ns(o50),
            o50 / t50,
            fmt_ns(t50),
            fmt_ns(o99)
        ),
        "p50 ≤ 1.5× std",
        o50 <= 1.5 * t50,
    );
}

/// Figure (g), first half: a kill waking a read blocked on an idle socket
/// (`killable::io::Killable<TcpStream>`), against the unwinding floor: the
/// std-only handoff plus unwind that any wake delivered by unwinding costs.
/// Then, for information, that handoff through a `poll` on an eventfd
/// instead of a park: what the kernel's side of a wake-fd wake costs.
pub fn run_io_wake(table: &mut Table, samples: usize) {
    use std::io::Read;
    pin_to(Some(0));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
    let (silent_peer, _) = listener.accept().expect("accept");
    let conn = killable::io::Killable::new(client);
    let rig = Rig::killable(
        move |_| {
            let mut buf = [0u8; 64];
            let n = (&conn).read(&mut buf);
            panic!("the idle read returned {n:?}");
        },
        raise,
    );
    let (floor, floor_raw) = interleaved(samples, Rig::raw_unwind());
    let (op, raw) = interleaved(samples, rig);
    drop(silent_peer);
    pin_to(None);
    let floor_ratio = pcts(&floor).0 / pcts(&floor_raw).0;
    let (p50, p99, _) = pcts(&op);
    let (r50, _, _) = pcts(&raw);
    let vs_floor = p50 / r50 / floor_ratio;
    table.check(
        "kill wakes Killable<TcpStream>::read (idle socket)",
        format!(
            "p50 {} ({:.2}× raw {}) p99 {}; {vs_floor:.2}× the unwinding floor ({floor_ratio:.2}× raw)",
            fmt_ns(p50),
            p50 / r50,
            fmt_ns(r50),
            fmt_ns(p99),
        ),
        "p50 ≤ 1.5× the unwinding floor",
        vs_floor <= 1.5,
    );
    #[cfg(target_os = "linux")]
    {
        // Informational: the kernel floor of this kind of wake.
        pin_to(Some(0));
        let (kernel, kernel_raw) = interleaved(samples, Rig::raw_poll_unwind());
        pin_to(None);
        let k50 = pcts(&kernel).0;
        let kernel_ratio = k50 / pcts(&kernel_raw).0;
        table.info(
            "  std-only thread blocked in poll on an eventfd, woken by an eventfd write, then unwinds",
            format!(
                "p50 {} ({kernel_ratio:.2}× raw); {:.2}× the unwinding floor",
                fmt_ns(k50),
                kernel_ratio / floor_ratio
            ),
            "the kernel floor of a wake-fd wake",
        );
    }
}

/// The few system calls of [`Rig::raw_poll_unwind`], declared here: the
/// bench depends on no system-call crate, and these are in every Linux libc.
#[cfg(target_os = "linux")]
mod eventfd {
    use std::ffi::{c_int, c_short, c_uint, c_ulong, c_void};

    #[repr(C)]
    struct PollFd {
        fd: c_int,
        events: c_short,
        revents: c_short,
    }

    extern "C" {
        fn eventfd(initval: c_uint, flags: c_int) -> c_int;
        fn poll(fds: *mut PollFd, nfds: c_ulong, timeout: c_int) -> c_int;
        fn read(fd: c_int, buf: *mut c_void, count: usize) -> isize;
        fn write(fd: c_int, buf: *const c_void, count: usize) -> isize;
        fn close(fd: c_int) -> c_int;
    }

    const POLLIN: c_short = 1;

    /// A blocking eventfd (no flags: their values vary between
    /// architectures), read only when signalled.
    pub struct EventFd(c_int);

    impl EventFd {
        pub fn new() -> EventFd {
            // SAFETY: no pointers; returns a new fd or -1.
            let fd = unsafe { eventfd(0, 0) };
            assert!(fd >= 0, "eventfd: {}", std::io::Error::last_os_error());
            EventFd(fd)
        }

        /// Adds one to the counter.
        pub fn signal(&self) {
            let one = 1u64;
            // SAFETY: `one` is valid for reads of its 8 bytes.
            let n = unsafe { write(self.0, (&one as *const u64).cast(), 8) };
            assert_eq!(n, 8);
        }

        /// Resets the counter; blocks until it is non-zero.
        pub fn drain(&self) {
            let mut v = 0u64;
            // SAFETY: `v` is valid for writes of its 8 bytes.
            let n = unsafe { read(self.0, (&mut v as *mut u64).cast(), 8) };
            assert_eq!(n, 8);
        }

        /// Blocks until the counter is non-zero.
        pub fn poll(&self) {
            let mut p = PollFd {
                fd: self.0,
                events: POLLIN,
                revents: 0,
            };
            // SAFETY: one valid `pollfd`, writable for its `revents`.
            while unsafe { poll(&mut p, 1, -1) } != 1 {}
        }
    }

    impl Drop for EventFd {
        fn drop(&mut self) {
            // SAFETY: the fd is ours and closed once.
            unsafe { close(self.0) };
        }
    }
}

/// A std worker pinned to core 0 that, sample after sample, reports it is
/// ready, runs `block` (which returns once woken), and reports when it woke.
fn std_worker(
    block: impl Fn(&Probe, u64) + Send + 'static,
) -> (Arc<Probe>, std::thread::JoinHandle<()>) {
    let probe = Arc::new(Probe::default());
    let q = probe.clone();
    let worker = std::thread::spawn(move || {
        pin_to(Some(0));
        let mut seq = 1;
        while !q.stop.load(SeqCst) {
            q.ready.store(seq, SeqCst);
            block(&q, seq);
            q.woke_at.store(now_ns(), SeqCst);
            q.woke.store(seq, SeqCst);
            seq += 1;
        }
    });
    (probe, worker)
}
