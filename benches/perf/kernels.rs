//! Figure (b): the same kernels compiled plain and with `#[killable]`, timed
//! side by side in one process.
//!
//! Every kernel is written once, in the `kernels!` invocation below, and the
//! macro stamps out three copies: `plain`, `plain_copy` (identical code at
//! another address: the A/A control, whose ratio to `plain` is the spread
//! that code placement alone causes) and `killed` (the same source under
//! `#[killable]`). Samples of the three are interleaved so that drift in the
//! machine's speed hits all three alike.

use std::hint::black_box;
use std::time::Duration;

use crate::stats::{geomean, thread_cpu_time, Rng, Table};

macro_rules! kernels {
    ($(
        $(#[doc = $doc:literal])*
        fn $name:ident ( $($arg:ident : $aty:ty),* ) -> $ret:ident $body:tt
    )*) => {
        /// One implementation of every kernel.
        pub trait Variant {
            $( fn $name($($arg: $aty),*) -> $ret; )*
        }

        pub mod plain {
            #[allow(unused_imports)]
            use super::*;
            $( #[inline(never)] pub fn $name($($arg: $aty),*) -> $ret $body )*
        }

        /// The same code again. A target feature every x86-64 CPU has keeps
        /// LLVM's MergeFunctions from folding it into `plain` (identical
        /// functions are otherwise merged into one address), without
        /// changing the generated instructions.
        pub mod plain_copy {
            #[allow(unused_imports)]
            use super::*;
            $(
                /// # Safety
                ///
                /// The CPU must have SSE2, which every x86-64 CPU has.
                #[inline(never)]
                #[cfg_attr(target_arch = "x86_64", target_feature(enable = "sse2"))]
                pub unsafe fn $name($($arg: $aty),*) -> $ret $body
            )*
        }

        pub mod killed {
            #[allow(unused_imports)]
            use super::*;
            $( #[killable::killable] #[inline(never)] pub fn $name($($arg: $aty),*) -> $ret $body )*
        }

        pub struct Plain;
        pub struct PlainCopy;
        pub struct Killed;
        impl Variant for Plain {
            $( #[inline(always)] fn $name($($arg: $aty),*) -> $ret { plain::$name($($arg),*) } )*
        }
        impl Variant for PlainCopy {
            $(
                #[inline(always)]
                fn $name($($arg: $aty),*) -> $ret {
                    // SAFETY: the only difference from `plain` is SSE2, which
                    // every x86-64 CPU has.
                    unsafe { plain_copy::$name($($arg),*) }
                }
            )*
        }
        impl Variant for Killed {
            $( #[inline(always)] fn $name($($arg: $aty),*) -> $ret { killed::$name($($arg),*) } )*
        }

        /// Addresses of every kernel in every variant, to tell whether code
        /// alignment was fixed at build time.
        pub fn addresses() -> Vec<usize> {
            vec![
                $(
                    plain::$name as *const () as usize,
                    plain_copy::$name as *const () as usize,
                    killed::$name as *const () as usize,
                )*
            ]
        }
    };
}

kernels! {
    /// A vectorizable slice sum.
    fn sum(v: &[u64]) -> u64 {
        let mut s = 0u64;
        for &x in v {
            s = s.wrapping_add(x);
        }
        s
    }

    /// A triple-loop matrix multiply over ranges (i-k-j order, whose inner
    /// loop vectorizes).
    fn matmul(a: &[i32], b: &[i32], c: &mut [i32], n: usize) -> i32 {
        for i in 0..n {
            for k in 0..n {
                let aik = a[i * n + k];
                for j in 0..n {
                    c[i * n + j] += aik * b[k * n + j];
                }
            }
        }
        c[n + 1]
    }

    /// A scalar dependency chain through method calls.
    fn lcg(seed: u64, n: u64) -> u64 {
        let mut x = seed;
        for i in 0..n {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i | 1);
        }
        x
    }

    /// Byte scanning with a `for` loop: count one byte.
    fn count_byte(s: &[u8], needle: u8) -> usize {
        let mut n = 0;
        for &b in s {
            if b == needle {
                n += 1;
            }
        }
        n
    }

    /// Byte scanning with `while` loops: a hand-written tokenizer summing the
    /// decimal numbers in a text.
    fn parse_sum(s: &[u8]) -> u64 {
        let mut i = 0;
        let mut total = 0u64;
        while i < s.len() {
            while i < s.len() && !s[i].is_ascii_digit() {
                i += 1;
            }
            let mut v = 0u64;
            while i < s.len() && s[i].is_ascii_digit() {
                v = v.wrapping_mul(10).wrapping_add((s[i] - b'0') as u64);
                i += 1;
            }
            total = total.wrapping_add(v);
        }
        total
    }

    /// Hash-map inserts.
    fn hash_inserts(n: u64) -> usize {
        let mut m = std::collections::HashMap::with_capacity(n as usize);
        for i in 0..n {
            m.insert(i.wrapping_mul(0x9E37_79B9_7F4A_7C15), i);
        }
        m.len()
    }

    /// Recursive fib: all call overhead, no loop.
    fn fib(n: u32) -> u64 {
        if n < 2 {
            n as u64
        } else {
            fib(n - 1) + fib(n - 2)
        }
    }

    /// An iterator chain with closures.
    fn iter_chain(v: &[u32]) -> u64 {
        v.iter()
            .map(|&x| x.wrapping_mul(3))
            .filter(|&x| x & 4 == 0)
            .map(|x| x as u64)
            .sum()
    }

    /// A dot product over a `zip` of two slices.
    fn dot(a: &[u32], b: &[u32]) -> u64 {
        a.iter()
            .zip(b.iter())
            .map(|(&x, &y)| u64::from(x) * u64::from(y))
            .fold(0u64, |s, p| s.wrapping_add(p))
    }

    /// An in-place insertion sort.
    fn insertion_sort(v: &mut [u32]) -> u32 {
        for i in 1..v.len() {
            let mut j = i;
            while j > 0 && v[j - 1] > v[j] {
                v.swap(j - 1, j);
                j -= 1;
            }
        }
        v[0]
    }

    /// A dependency chain LLVM cannot fold algebraically (FNV-1a style):
    /// added next to `lcg` to tell the checks' cost from the lost folding.
    fn fnv_chain(seed: u64, n: u64) -> u64 {
        let mut x = seed;
        for i in 0..n {
            x = (x ^ i).wrapping_mul(0x100000001b3);
        }
        x
    }

    /// Pushing onto a `Vec` in a loop.
    fn vec_push(n: u64) -> usize {
        let mut v = Vec::new();
        for i in 0..n {
            v.push(i * i);
        }
        v.len()
    }
}

/// Inputs, built once.
pub struct Inputs {
    v64: Vec<u64>,
    ma: Vec<i32>,
    mb: Vec<i32>,
    mc: Vec<i32>,
    n: usize,
    bytes: Vec<u8>,
    text: Vec<u8>,
    v32: Vec<u32>,
    v32b: Vec<u32>,
    sort_src: Vec<u32>,
    sort_buf: Vec<u32>,
}

impl Inputs {
    pub fn new() -> Inputs {
        let mut r = Rng::new(0x5eed);
        let n = 96;
        let mut text = Vec::new();
        while text.len() < 64 * 1024 {
            let len = 1 + r.below(6);
            for _ in 0..len {
                text.push(b'0' + r.below(10) as u8);
            }
            text.push(if r.below(8) == 0 { b'\n' } else { b' ' });
        }
        Inputs {
            v64: (0..16 * 1024).map(|_| r.next_u64()).collect(),
            ma: (0..n * n).map(|_| r.below(100) as i32).collect(),
            mb: (0..n * n).map(|_| r.below(100) as i32).collect(),
            mc: vec![0; n * n],
            n,
            bytes: (0..64 * 1024).map(|_| r.below(256) as u8).collect(),
            text,
            v32: (0..16 * 1024).map(|_| r.next_u64() as u32).collect(),
            v32b: (0..16 * 1024).map(|_| r.next_u64() as u32).collect(),
            sort_src: (0..600).map(|_| r.next_u64() as u32).collect(),
            sort_buf: vec![0; 600],
        }
    }
}

pub const NAMES: &[&str] = &[
    "slice sum (for over &[u64], 16 Ki)",
    "matmul i-k-j over ranges (96×96 i32)",
    "dependency chain, wrapping_mul (4 Ki)",
    "byte scan: for, count a byte (64 KiB)",
    "byte scan: while, tokenizer (64 KiB)",
    "hash-map inserts (1 Ki)",
    "recursive fib(20)",
    "iterator chain, 3 closures (16 Ki)",
    "insertion sort (600 u32)",
    "Vec::push loop (4 Ki)",
    "dependency chain, (x ^ i).wrapping_mul (4 Ki)",
    "dot product, zip of two slices (16 Ki u32)",
];

/// Runs kernel `k` once in variant `V`.
#[inline(never)]
fn call<V: Variant>(k: usize, inp: &mut Inputs) -> u64 {
    match k {
        0 => V::sum(black_box(&inp.v64)),
        1 => V::matmul(
            black_box(&inp.ma),
            black_box(&inp.mb),
            &mut inp.mc,
            black_box(inp.n),
        ) as u64,
        2 => V::lcg(black_box(7), black_box(4096)),
        3 => V::count_byte(black_box(&inp.bytes), black_box(b'\n')) as u64,
        4 => V::parse_sum(black_box(&inp.text)),
        5 => V::hash_inserts(black_box(1024)) as u64,
        6 => V::fib(black_box(20)),
        7 => V::iter_chain(black_box(&inp.v32)),
        8 => {
            inp.sort_buf.copy_from_slice(&inp.sort_src);
            V::insertion_sort(black_box(&mut inp.sort_buf)) as u64
        }
        9 => V::vec_push(black_box(4096)) as u64,
        10 => V::fnv_chain(black_box(7), black_box(4096)),
        11 => V::dot(black_box(&inp.v32), black_box(&inp.v32b)),
        _ => unreachable!(),
    }
}

/// Every variant must compute the same thing.
fn verify(inp: &mut Inputs) {
    for (k, name) in NAMES.iter().enumerate() {
        inp.mc.fill(0);
        let a = call::<Plain>(k, inp);
        inp.mc.fill(0);
        let b = call::<PlainCopy>(k, inp);
        inp.mc.fill(0);
        let c = call::<Killed>(k, inp);
        assert!(a == b && b == c, "kernel {name} disagrees: {a} {b} {c}");
    }
}

/// Thread CPU seconds per call of kernel `k` in variant `V`, over `iters` calls.
fn sample<V: Variant>(k: usize, iters: u64, inp: &mut Inputs) -> f64 {
    let t = thread_cpu_time();
    for _ in 0..iters {
        black_box(call::<V>(k, inp));
    }
    (thread_cpu_time() - t) / iters as f64
}

pub struct KernelResult {
    pub name: &'static str,
    pub plain_ns: f64,
    pub ratio: f64,
    pub aa: f64,
}

/// Runs the suite; `reps` interleaved samples of each variant per kernel,
/// each sample about `sample_len` of thread CPU time.
pub fn run(table: &mut Table, reps: usize, sample_len: Duration) -> Vec<KernelResult> {
    let mut inp = Inputs::new();
    verify(&mut inp);
    let addrs = addresses();
    let aligned = addrs.iter().all(|a| a % 64 == 0);
    table.info(
        "code alignment of the kernels",
        if aligned { "fixed, 64 B" } else { "default" },
        if aligned {
            "built with -align-all-functions=6 -align-loops=64"
        } else {
            "placement spread applies: see the A/A column"
        },
    );
    let mut results = Vec::new();
    for (k, &name) in NAMES.iter().enumerate() {
        // Warm up and calibrate on the plain variant.
        let one = sample::<Plain>(k, 3, &mut inp).max(1e-9);
        let iters = ((sample_len.as_secs_f64() / one) as u64).max(1);
        let _ = sample::<Killed>(k, iters, &mut inp);
        let _ = sample::<PlainCopy>(k, iters, &mut inp);
        let (mut p, mut c, mut x) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 0..reps {
            // Rotate the order so no variant always runs first.
            for slot in 0..3 {
                match (rep + slot) % 3 {
                    0 => p.push(sample::<Plain>(k, iters, &mut inp)),
                    1 => c.push(sample::<PlainCopy>(k, iters, &mut inp)),
                    _ => x.push(sample::<Killed>(k, iters, &mut inp)),
                }
            }
        }
        // Best of N: the kernels are deterministic, so every source of noise
        // (interrupts, a neighbour's cache traffic) only adds time.
        let best = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
        let (mp, mc, mx) = (best(&p), best(&c), best(&x));
        let r = KernelResult {
            name,
            plain_ns: mp * 1e9,
            ratio: mx / mp,
            aa: mc / mp,
        };
        table.check(
            format!("{name}: killable/plain (A/A {:.3})", r.aa),
            format!(
                "{:.3} ({} plain)",
                r.ratio,
                crate::stats::fmt_ns(r.plain_ns)
            ),
            "≤ 1.5 (≤ 1.10)",
            r.ratio <= 1.5,
        );
        results.push(r);
    }
    let ratios: Vec<f64> = results.iter().map(|r| r.ratio).collect();
    let g = geomean(&ratios);
    let worst = results
        .iter()
        .max_by(|a, b| a.ratio.partial_cmp(&b.ratio).expect("no NaN"))
        .expect("kernels");
    let aa: Vec<f64> = results.iter().map(|r| r.aa).collect();
    let aa_lo = aa.iter().cloned().fold(f64::INFINITY, f64::min);
    let aa_hi = aa.iter().cloned().fold(0.0, f64::max);
    // Judged without credit for kernels that run faster with the attribute
    // (the LCG does: counted chunks let LLVM unroll it further than the
    // plain loop), so that one fast kernel cannot hide slow ones.
    let capped: Vec<f64> = results.iter().map(|r| r.ratio.max(1.0)).collect();
    let gc = geomean(&capped);
    table.info(
        "geometric mean killable/plain, as measured",
        format!("{g:.3}"),
        "ratios below 1 count as they are",
    );
    table.check(
        "geometric mean, ratios below 1 counted as 1",
        format!("{gc:.3}"),
        "≤ 1.05",
        gc <= 1.05,
    );
    table.check(
        "  stretch: geometric mean (ratios below 1 counted as 1)",
        format!("{gc:.3}"),
        "≤ 1.02",
        gc <= 1.02,
    );
    table.check(
        format!("worst kernel: {}", worst.name),
        format!("{:.3}", worst.ratio),
        "≤ 1.5",
        worst.ratio <= 1.5,
    );
    table.check(
        "  stretch: worst kernel",
        format!("{:.3}", worst.ratio),
        "≤ 1.10",
        worst.ratio <= 1.10,
    );
    table.info(
        "A/A spread (identical plain code, two addresses)",
        format!("{aa_lo:.3} – {aa_hi:.3}"),
        format!("geomean {:.3}", geomean(&aa)),
    );
    results
}

/// For `valgrind --tool=callgrind`: runs every kernel `n` times in each
/// variant, untimed. The inclusive instruction counts of
/// `perf::kernels::call<perf::kernels::Plain>` and friends then compare the
/// variants exactly, whatever the machine's load (see docs/PERFORMANCE.md).
pub fn icount(n: usize) {
    let mut inp = Inputs::new();
    verify(&mut inp);
    for k in 0..NAMES.len() {
        for _ in 0..n {
            black_box(call::<Plain>(k, &mut inp));
            black_box(call::<Killed>(k, &mut inp));
        }
    }
}
