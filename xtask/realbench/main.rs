//! The real-crate benchmark that `xtask realbench` builds: every crate below twice, pristine
//! (`semver`, …) and with `#[killable]` on every eligible fn (`k_semver`, …), in one binary.
//! Each workload is written once (`suite!`) and stamped out against both copies; samples of the
//! two are interleaved (order alternating) in one process, timed in thread CPU time, and their
//! results compared. Then kill latency inside the annotated code: a `KillableThread` runs a
//! workload in a loop and is terminated at a random moment; the latency is the time from
//! `terminate()` to the first destructor the unwind runs.
//!
//! Usage: `realbench [--rounds N] [--trials N] [WORKLOAD ...]` (substring filter).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Deterministic inputs shared by both copies.
pub struct Inputs {
    versions: Vec<String>,
    reqs: Vec<String>,
    words: Vec<String>,
    text: Vec<u8>,
    deflated: Vec<u8>,
    keys: Vec<Vec<u8>>,
    floats: Vec<f64>,
    ints: Vec<u64>,
    monge: Vec<Vec<i64>>,
    values: Vec<u32>,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "qu", "ing", "tion", "er", "an", "st",
];

impl Inputs {
    fn new() -> Inputs {
        let mut r = Rng(0x9E37_79B9_7F4A_7C15);
        let mut versions = Vec::new();
        for i in 0..2000 {
            let mut v = format!("{}.{}.{}", r.below(20), r.below(50), r.below(300));
            match i % 4 {
                1 => v.push_str(&format!("-alpha.{}", r.below(10))),
                2 => v.push_str(&format!("-rc.{}+build.{}", r.below(5), r.below(1000))),
                _ => {}
            }
            versions.push(v);
        }
        let ops = ["^", "~", ">=", "<", "=", "*"];
        let mut reqs = Vec::new();
        for _ in 0..64 {
            let op = ops[r.below(ops.len() as u64) as usize];
            let req = if op == "*" {
                format!("{}.*", r.below(20))
            } else {
                format!("{op}{}.{}", r.below(20), r.below(50))
            };
            reqs.push(if r.below(3) == 0 {
                format!("{req}, <{}.0.0", 10 + r.below(10))
            } else {
                req
            });
        }
        let mut words = Vec::new();
        for _ in 0..400 {
            let n = 2 + r.below(6);
            let w: String = (0..n)
                .map(|_| SYLLABLES[r.below(SYLLABLES.len() as u64) as usize])
                .collect();
            words.push(w);
        }
        let mut text = Vec::new();
        while text.len() < 1 << 18 {
            let w = &words[r.below(words.len() as u64) as usize];
            text.extend_from_slice(w.as_bytes());
            text.push(if r.below(12) == 0 { b'\n' } else { b' ' });
            if r.below(40) == 0 {
                text.extend_from_slice(&r.next().to_le_bytes()); // some incompressible noise
            }
        }
        let deflated = miniz_oxide::deflate::compress_to_vec(&text, 6);
        let keys = (0..4000)
            .map(|_| {
                let n = r.below(64) as usize;
                (0..n).map(|_| r.next() as u8).collect()
            })
            .collect();
        let floats = (0..20000)
            .map(|i| {
                let m = (r.next() >> 11) as f64 / (1u64 << 53) as f64;
                let e = (r.below(40) as i32) - 20;
                if i % 5 == 0 {
                    (r.below(100000) as f64) / 100.0
                } else {
                    m * 10f64.powi(e)
                }
            })
            .collect();
        let ints = (0..20000).map(|_| r.next() >> r.below(64)).collect();
        // A totally monotone (Monge) matrix: (i - j)² plus a convex row term.
        let n = 300;
        let monge = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        let d = i as i64 * 3 - j as i64 * 2;
                        d * d
                    })
                    .collect()
            })
            .collect();
        let values = (0..20000).map(|_| r.next() as u32).collect();
        Inputs {
            versions,
            reqs,
            words,
            text,
            deflated,
            keys,
            floats,
            ints,
            monge,
            values,
        }
    }
}

fn mix(h: u64, x: u64) -> u64 {
    (h ^ x).wrapping_mul(0x100_0000_01B3)
}

/// Every workload, against one copy of the crates.
macro_rules! suite {
    ($m:ident: $semver:ident, $strsim:ident, $smallvec:ident, $miniz:ident, $sip:ident,
     $ryu:ident, $itoa:ident, $smawk:ident) => {
        pub mod $m {
            use super::{mix, Inputs};
            use std::hash::Hasher;

            /// Parses every version string.
            #[inline(never)]
            pub fn semver_parse(inp: &Inputs) -> u64 {
                let mut h = 0;
                for v in &inp.versions {
                    let v = ::$semver::Version::parse(v).unwrap();
                    h = mix(
                        h,
                        v.major ^ v.minor << 8 ^ v.patch << 16 ^ v.pre.len() as u64,
                    );
                }
                h
            }

            /// Parses requirements and matches versions against them, then sorts.
            #[inline(never)]
            pub fn semver_match(inp: &Inputs) -> u64 {
                let reqs: Vec<::$semver::VersionReq> =
                    inp.reqs.iter().map(|r| r.parse().unwrap()).collect();
                let mut vs: Vec<::$semver::Version> = inp.versions[..400]
                    .iter()
                    .map(|v| v.parse().unwrap())
                    .collect();
                let mut n = 0u64;
                for r in &reqs {
                    for v in &vs {
                        n += r.matches(v) as u64;
                    }
                }
                vs.sort();
                mix(n, vs[200].patch)
            }

            /// Edit distances between word pairs.
            #[inline(never)]
            pub fn strsim_levenshtein(inp: &Inputs) -> u64 {
                let mut h = 0;
                for (a, b) in inp.words.iter().zip(inp.words.iter().skip(7)) {
                    h = mix(h, ::$strsim::levenshtein(a, b) as u64);
                    h = mix(h, ::$strsim::osa_distance(a, b) as u64);
                }
                h
            }

            /// Jaro-Winkler and Damerau-Levenshtein between word pairs.
            #[inline(never)]
            pub fn strsim_jaro_damerau(inp: &Inputs) -> u64 {
                let mut h = 0;
                for (a, b) in inp.words.iter().zip(inp.words.iter().skip(3)).take(200) {
                    h = mix(h, ::$strsim::jaro_winkler(a, b).to_bits());
                    h = mix(h, ::$strsim::damerau_levenshtein(a, b) as u64);
                }
                h
            }

            /// Small-vector operations: push (spilling), insert, remove, retain, dedup, extend.
            #[inline(never)]
            pub fn smallvec_ops(inp: &Inputs) -> u64 {
                let mut h = 0;
                for chunk in inp.values.chunks(13) {
                    let mut v: ::$smallvec::SmallVec<[u32; 8]> = ::$smallvec::SmallVec::new();
                    for &x in chunk {
                        v.push(x % 64);
                    }
                    v.insert(v.len() / 2, 7);
                    v.retain(|x| *x % 3 != 0);
                    v.sort_unstable();
                    v.dedup();
                    if !v.is_empty() {
                        h = mix(h, v.remove(0) as u64);
                    }
                    v.extend(chunk.iter().take(3).map(|x| x >> 28));
                    v.truncate(9);
                    h = mix(h, v.iter().map(|&x| x as u64).sum::<u64>() ^ v.len() as u64);
                }
                h
            }

            /// Deflate at level 6.
            #[inline(never)]
            pub fn miniz_deflate(inp: &Inputs) -> u64 {
                let out = ::$miniz::deflate::compress_to_vec(&inp.text[..1 << 16], 6);
                mix(out.len() as u64, out[out.len() / 2] as u64)
            }

            /// Inflate.
            #[inline(never)]
            pub fn miniz_inflate(inp: &Inputs) -> u64 {
                let out = ::$miniz::inflate::decompress_to_vec(&inp.deflated).unwrap();
                mix(out.len() as u64, out[out.len() / 3] as u64)
            }

            /// SipHash-1-3 and SipHash-2-4 over keys of 0..64 bytes, plus integer writes.
            #[inline(never)]
            pub fn siphash(inp: &Inputs) -> u64 {
                let mut h = 0;
                for (i, k) in inp.keys.iter().enumerate() {
                    let mut s = ::$sip::sip::SipHasher13::new_with_keys(1, i as u64);
                    s.write(k);
                    s.write_u32(i as u32);
                    h = mix(h, s.finish());
                    let mut s = ::$sip::sip128::SipHasher24::new_with_keys(2, 3);
                    s.write(k);
                    h = mix(h, ::$sip::sip128::Hasher128::finish128(&s).h1);
                }
                h
            }

            /// Shortest round-trip formatting of floats.
            #[inline(never)]
            pub fn ryu_format(inp: &Inputs) -> u64 {
                let mut b = ::$ryu::Buffer::new();
                let mut h = 0;
                for &f in &inp.floats {
                    let s = b.format(f);
                    h = mix(h, s.len() as u64 ^ s.as_bytes()[s.len() - 1] as u64);
                }
                h
            }

            /// Integer formatting.
            #[inline(never)]
            pub fn itoa_format(inp: &Inputs) -> u64 {
                let mut b = ::$itoa::Buffer::new();
                let mut h = 0;
                for &x in &inp.ints {
                    let s = b.format(x);
                    h = mix(h, s.len() as u64 ^ s.as_bytes()[0] as u64);
                    let s = b.format(x as i32);
                    h = mix(h, s.len() as u64);
                }
                h
            }

            /// Row minima of a totally monotone matrix, by SMAWK (recursive) and by the
            /// online algorithm.
            #[inline(never)]
            pub fn smawk_minima(inp: &Inputs) -> u64 {
                let rows = ::$smawk::row_minima(&inp.monge);
                let cols = ::$smawk::online_column_minima(0i64, inp.monge.len(), |_, i, j| {
                    inp.monge[i][j]
                });
                let mut h = 0;
                for (i, r) in rows.iter().enumerate() {
                    h = mix(h, (*r ^ i) as u64);
                }
                mix(h, cols.iter().map(|c| c.0 as u64).sum())
            }
        }
    };
}

suite!(plain: semver, strsim, smallvec, miniz_oxide, siphasher, ryu, itoa, smawk);
suite!(killable_: k_semver, k_strsim, k_smallvec, k_miniz_oxide, k_siphasher, k_ryu, k_itoa, k_smawk);

type Work = fn(&Inputs) -> u64;

/// (name, crate, plain, killable)
const WORKLOADS: &[(&str, &str, Work, Work)] = &[
    (
        "semver_parse",
        "semver 1.0.26",
        plain::semver_parse,
        killable_::semver_parse,
    ),
    (
        "semver_match",
        "semver 1.0.26",
        plain::semver_match,
        killable_::semver_match,
    ),
    (
        "strsim_levenshtein",
        "strsim 0.11.1",
        plain::strsim_levenshtein,
        killable_::strsim_levenshtein,
    ),
    (
        "strsim_jaro_damerau",
        "strsim 0.11.1",
        plain::strsim_jaro_damerau,
        killable_::strsim_jaro_damerau,
    ),
    (
        "smallvec_ops",
        "smallvec 1.13.2",
        plain::smallvec_ops,
        killable_::smallvec_ops,
    ),
    (
        "miniz_deflate",
        "miniz_oxide 0.8.9",
        plain::miniz_deflate,
        killable_::miniz_deflate,
    ),
    (
        "miniz_inflate",
        "miniz_oxide 0.8.9",
        plain::miniz_inflate,
        killable_::miniz_inflate,
    ),
    (
        "siphash",
        "siphasher 1.0.1",
        plain::siphash,
        killable_::siphash,
    ),
    (
        "ryu_format",
        "ryu 1.0.18",
        plain::ryu_format,
        killable_::ryu_format,
    ),
    (
        "itoa_format",
        "itoa 1.0.11",
        plain::itoa_format,
        killable_::itoa_format,
    ),
    (
        "smawk_minima",
        "smawk 0.3.2",
        plain::smawk_minima,
        killable_::smawk_minima,
    ),
];

/// CPU time of the calling thread: another engineer's compile preempting us does not count.
fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux defines.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn time(f: Work, inp: &Inputs, reps: u32) -> f64 {
    let t = cpu_now();
    for _ in 0..reps {
        black_box(f(black_box(inp)));
    }
    (cpu_now() - t).as_secs_f64() / reps as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn geomean(v: &[f64]) -> f64 {
    (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp()
}

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Stamps the moment the unwind reaches it: wall-clock nanoseconds since `base()`, and the
/// thread's own CPU time.
struct Stamp(Arc<[AtomicU64; 3]>);
impl Drop for Stamp {
    fn drop(&mut self) {
        let now = base().elapsed().as_nanos() as u64;
        // Relaxed: read only after `join`, which synchronizes with the thread's end.
        self.0[0].store(now, Ordering::Relaxed);
        self.0[1].store(cpu_now().as_nanos() as u64, Ordering::Relaxed);
    }
}

/// CPU time used so far by the thread whose CPU clock is `clock`.
fn cpu_of(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; `clock` is the CPU clock of a thread that is
    // still running (it is joined only after this call).
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut take = |flag: &str, default: u32| -> u32 {
        match args.iter().position(|a| a == flag) {
            Some(i) => {
                let v = args[i + 1].parse().expect("a number");
                args.drain(i..i + 2);
                v
            }
            None => default,
        }
    };
    let rounds = take("--rounds", 31);
    let trials = take("--trials", 120);
    let want = |name: &str| args.is_empty() || args.iter().any(|a| name.contains(a.as_str()));
    base();
    let inp = Arc::new(Inputs::new());

    println!("| workload | crate | plain | killable/plain | spread (p25–p75 of round ratios) |");
    println!("| --- | --- | ---: | ---: | --- |");
    let mut ratios = Vec::new();
    let mut worst = ("", 0.0);
    for &(name, krate, p, k) in WORKLOADS.iter().filter(|w| want(w.0)) {
        assert_eq!(p(&inp), k(&inp), "{name}: plain and killable disagree");
        // About 2 ms per sample.
        let once = time(p, &inp, 3).max(1e-7);
        let reps = ((2e-3 / once) as u32).max(1);
        time(p, &inp, reps);
        time(k, &inp, reps);
        let (mut tp, mut tk, mut rr) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let (a, b) = if round % 2 == 0 {
                let a = time(p, &inp, reps);
                (a, time(k, &inp, reps))
            } else {
                let b = time(k, &inp, reps);
                (time(p, &inp, reps), b)
            };
            tp.push(a);
            tk.push(b);
            rr.push(b / a);
        }
        let r = median(&mut rr);
        let (lo, hi) = (rr[rr.len() / 4], rr[rr.len() * 3 / 4]);
        let plain_t = median(&mut tp);
        println!(
            "| {name} | {krate} | {:.1} µs | {r:.3} | {lo:.3}–{hi:.3} |",
            plain_t * 1e6
        );
        if r > worst.1 {
            worst = (name, r);
        }
        ratios.push(r);
    }
    if !ratios.is_empty() {
        println!(
            "\n**geomean {:.3}, worst {:.3} ({})** over {} workloads, {rounds} interleaved rounds each",
            geomean(&ratios),
            worst.1,
            worst.0,
            ratios.len()
        );
    }

    if trials == 0 {
        return;
    }
    // Kill latency inside the annotated crates: each trial runs one workload in a loop on a
    // KillableThread (the loop is ours and unannotated: every check is in the crates' code),
    // terminates it after a random 20–200 ms, and measures terminate() → first destructor.
    let kill: Vec<_> = WORKLOADS.iter().filter(|w| want(w.0)).collect();
    let mut lat = Vec::new();
    let mut cpu_lat = Vec::new();
    let mut unkilled = 0;
    let mut per: Vec<(&str, f64)> = Vec::new();
    let mut r = Rng(0x1234_5678);
    for i in 0..trials as usize {
        let &&(name, _, _, k) = &kill[i % kill.len()];
        let inp = inp.clone();
        // [unwind wall time, unwind CPU time, the thread's CPU clock id]
        let stamp: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
        let s2 = stamp.clone();
        let t = killable::KillableThread::spawn(move || {
            let mut clock: libc::clockid_t = 0;
            // SAFETY: `clock` is a valid out-pointer; `pthread_self` is the running thread.
            unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) };
            s2[2].store(clock as u64 + 1, Ordering::Release);
            let _s = Stamp(s2);
            loop {
                black_box(k(black_box(&inp)));
            }
        });
        std::thread::sleep(Duration::from_millis(20 + r.below(180)));
        // Acquire: pairs with the thread's Release store of its clock id.
        let clock = stamp[2].load(Ordering::Acquire);
        assert!(clock != 0, "the thread has started within 20 ms");
        let clock = (clock - 1) as libc::clockid_t;
        let cpu_sent = cpu_of(clock);
        let sent = base().elapsed().as_nanos() as u64;
        t.terminate();
        match t.join_timeout(Duration::from_secs(10)) {
            Ok(r) => assert!(r.unwrap_err().is_terminated()),
            Err(_) => {
                // No checkpoint on the workload's path: the thread is left running.
                println!("{name}: NOT KILLED within 10 s");
                unkilled += 1;
                continue;
            }
        }
        let l = stamp[0].load(Ordering::Relaxed).saturating_sub(sent) as f64 / 1e3;
        let c = stamp[1].load(Ordering::Relaxed).saturating_sub(cpu_sent) as f64 / 1e3;
        lat.push(l);
        cpu_lat.push(c);
        per.push((name, c));
    }
    if unkilled > 0 {
        println!("{unkilled} of {trials} trials NOT KILLED");
    }
    if cpu_lat.is_empty() {
        return;
    }
    let mut sorted_cpu = cpu_lat.clone();
    sorted_cpu.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct_cpu = |q: f64| sorted_cpu[((sorted_cpu.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "\nkill latency inside annotated crate code, n = {}, the target's own CPU time from \
         terminate() to the unwind (the work it ran; scheduling delays excluded): \
         p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        sorted_cpu.len(),
        pct_cpu(0.5),
        pct_cpu(0.99),
        sorted_cpu[sorted_cpu.len() - 1]
    );
    let mut sorted = lat.clone();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "wall clock, terminate() → unwind (includes waiting for a core on a busy machine), \
         n = {}: \
         p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        sorted.len(),
        pct(0.5),
        pct(0.99),
        sorted[sorted.len() - 1]
    );
    let mut by: Vec<(&str, f64)> = Vec::new();
    for &(name, _, _, _) in &kill {
        let mut v: Vec<f64> = per.iter().filter(|p| p.0 == *name).map(|p| p.1).collect();
        if v.is_empty() {
            continue;
        }
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        by.push((name, v[v.len() - 1]));
    }
    println!(
        "max CPU-time latency per workload (µs): {}",
        by.iter()
            .map(|(n, m)| format!("{n} {m:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
