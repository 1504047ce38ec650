//! Figure (b2): a second kernel suite, written once in the plain style one would use without
//! the attribute and never tuned against it, so that tuning the placement on suite (b) shows
//! here. Each kernel is compiled plain and under `#[killable]` (helpers included) and timed
//! side by side, samples interleaved, best of N as in (b).

use std::hint::black_box;
use std::time::Duration;

use crate::stats::{geomean, thread_cpu_time, Rng, Table};

/// A point for the nearest-neighbour kernel; its methods are stamped out per variant below.
#[derive(Clone, Copy)]
pub struct P {
    x: f32,
    y: f32,
}

macro_rules! fresh {
    ($($item:item)*) => {
        pub mod plain {
            #[allow(unused_imports)]
            use super::*;
            $( $item )*
        }
        pub mod killed {
            #[allow(unused_imports)]
            use super::*;
            $( #[killable::killable] $item )*
        }
    };
}

fresh! {
    /// Words in a text: a `for` over bytes with state carried across iterations.
    #[inline(never)]
    pub fn word_count(s: &[u8]) -> u64 {
        let mut words = 0;
        let mut in_word = false;
        for &b in s {
            let space = b == b' ' || b == b'\n';
            if !space && !in_word {
                words += 1;
            }
            in_word = !space;
        }
        words
    }

    /// f32 matrix multiply, i-j-k order: the inner loop indexes both inputs.
    #[inline(never)]
    pub fn matmul_f32(a: &[f32], b: &[f32], c: &mut [f32], n: usize) -> u64 {
        for i in 0..n {
            for j in 0..n {
                let mut s = 0.0;
                for k in 0..n {
                    s += a[i * n + k] * b[k * n + j];
                }
                c[i * n + j] = s;
            }
        }
        c[n + 1].to_bits() as u64
    }

    /// Recursive quicksort (Lomuto partition), then a checksum.
    #[inline(never)]
    pub fn quicksort(v: &mut [u32]) -> u64 {
        fn qs(v: &mut [u32]) {
            if v.len() < 2 {
                return;
            }
            let p = v[v.len() - 1];
            let mut i = 0;
            for j in 0..v.len() - 1 {
                if v[j] < p {
                    v.swap(i, j);
                    i += 1;
                }
            }
            let last = v.len() - 1;
            v.swap(i, last);
            let (lo, hi) = v.split_at_mut(i);
            qs(lo);
            qs(&mut hi[1..]);
        }
        qs(v);
        v[v.len() / 2] as u64
    }

    /// Sieve of Eratosthenes with `while` loops.
    #[inline(never)]
    pub fn sieve(n: usize) -> u64 {
        let mut composite = vec![false; n];
        let mut count = 0;
        let mut i = 2;
        while i < n {
            if !composite[i] {
                count += 1;
                let mut j = i * i;
                while j < n {
                    composite[j] = true;
                    j += i;
                }
            }
            i += 1;
        }
        count
    }

    /// Bitwise CRC-32: a `for` over bytes with a nested loop over bits.
    #[inline(never)]
    pub fn crc32(s: &[u8]) -> u64 {
        let mut crc = !0u32;
        for &b in s {
            crc ^= b as u32;
            for _ in 0..8 {
                let mask = (crc & 1).wrapping_neg();
                crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
            }
        }
        !crc as u64
    }

    /// Run-length encoding into a `Vec`.
    #[inline(never)]
    pub fn rle(s: &[u8]) -> u64 {
        let mut out = Vec::new();
        let mut i = 0;
        while i < s.len() {
            let b = s[i];
            let mut run = 1;
            while i + run < s.len() && s[i + run] == b && run < 255 {
                run += 1;
            }
            out.push(run as u8);
            out.push(b);
            i += run;
        }
        out.len() as u64
    }

    /// Many binary searches written by hand.
    #[inline(never)]
    pub fn bsearch(sorted: &[u32], keys: &[u32]) -> u64 {
        let mut found = 0;
        for &k in keys {
            let mut lo = 0;
            let mut hi = sorted.len();
            while lo < hi {
                let mid = (lo + hi) / 2;
                if sorted[mid] < k {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            if lo < sorted.len() && sorted[lo] == k {
                found += 1;
            }
        }
        found
    }

    /// Small methods called from a double loop: nearest neighbours. (A trait per variant:
    /// two inherent impls of `P` would clash.)
    pub trait Dist {
        fn dx(&self, o: &P) -> f32;
        fn dist2(&self, o: &P) -> f32;
    }

    impl Dist for P {
        fn dx(&self, o: &P) -> f32 {
            self.x - o.x
        }
        fn dist2(&self, o: &P) -> f32 {
            let dx = self.dx(o);
            let dy = self.y - o.y;
            dx * dx + dy * dy
        }
    }

    #[inline(never)]
    pub fn nearest(ps: &[P]) -> u64 {
        let mut total = 0.0f32;
        for (i, p) in ps.iter().enumerate() {
            let mut best = f32::MAX;
            for (j, q) in ps.iter().enumerate() {
                if i != j {
                    let d = p.dist2(q);
                    if d < best {
                        best = d;
                    }
                }
            }
            total += best;
        }
        total.to_bits() as u64
    }

    /// Longest Collatz chain below `n`.
    #[inline(never)]
    pub fn collatz(n: u64) -> u64 {
        let mut best = 0;
        for start in 1..n {
            let mut x = start;
            let mut steps = 0;
            while x != 1 {
                x = if x % 2 == 0 { x / 2 } else { 3 * x + 1 };
                steps += 1;
            }
            if steps > best {
                best = steps;
            }
        }
        best
    }

    /// A byte histogram and its prefix sums.
    #[inline(never)]
    pub fn histogram(s: &[u8]) -> u64 {
        let mut h = [0u32; 256];
        for &b in s {
            h[b as usize] += 1;
        }
        let mut acc = 0u64;
        for i in 1..256 {
            h[i] += h[i - 1];
            acc ^= h[i] as u64;
        }
        acc
    }
}

pub const NAMES: &[&str] = &[
    "word count, for over bytes with state (64 KiB)",
    "f32 matmul i-j-k, indexed inner loop (64×64)",
    "recursive quicksort (2 Ki u32)",
    "sieve with while loops (64 Ki)",
    "bitwise CRC-32, nested bit loop (8 KiB)",
    "run-length encoding into a Vec (64 KiB)",
    "hand-written binary search (1 Ki keys in 4 Ki)",
    "nearest neighbour, small methods (256 points)",
    "longest Collatz chain (below 2 Ki)",
    "byte histogram + prefix sums (64 KiB)",
];

pub struct Inputs {
    text: Vec<u8>,
    ma: Vec<f32>,
    mb: Vec<f32>,
    mc: Vec<f32>,
    n: usize,
    sort_src: Vec<u32>,
    sort_buf: Vec<u32>,
    runs: Vec<u8>,
    sorted: Vec<u32>,
    keys: Vec<u32>,
    points: Vec<P>,
}

impl Inputs {
    pub fn new() -> Inputs {
        let mut r = Rng::new(0xf7e5);
        let mut text = Vec::new();
        while text.len() < 64 * 1024 {
            for _ in 0..1 + r.below(9) {
                text.push(b'a' + r.below(26) as u8);
            }
            text.push(if r.below(10) == 0 { b'\n' } else { b' ' });
        }
        let mut runs = Vec::new();
        while runs.len() < 64 * 1024 {
            let b = r.below(4) as u8;
            for _ in 0..1 + r.below(12) {
                runs.push(b);
            }
        }
        let mut sorted: Vec<u32> = (0..4096).map(|_| r.below(1 << 20) as u32).collect();
        sorted.sort_unstable();
        let n = 64;
        Inputs {
            text,
            ma: (0..n * n).map(|_| r.below(100) as f32 / 7.0).collect(),
            mb: (0..n * n).map(|_| r.below(100) as f32 / 3.0).collect(),
            mc: vec![0.0; n * n],
            n,
            sort_src: (0..2048).map(|_| r.next_u64() as u32).collect(),
            sort_buf: vec![0; 2048],
            runs,
            sorted,
            keys: (0..1024).map(|_| r.below(1 << 20) as u32).collect(),
            points: (0..256)
                .map(|_| P {
                    x: r.below(1000) as f32,
                    y: r.below(1000) as f32,
                })
                .collect(),
        }
    }
}

macro_rules! dispatch {
    ($v:ident, $k:expr, $inp:expr) => {{
        let inp: &mut Inputs = $inp;
        match $k {
            0 => $v::word_count(black_box(&inp.text)),
            1 => $v::matmul_f32(
                black_box(&inp.ma),
                black_box(&inp.mb),
                &mut inp.mc,
                black_box(inp.n),
            ),
            2 => {
                inp.sort_buf.copy_from_slice(&inp.sort_src);
                $v::quicksort(black_box(&mut inp.sort_buf))
            }
            3 => $v::sieve(black_box(64 * 1024)),
            4 => $v::crc32(black_box(&inp.text[..8 * 1024])),
            5 => $v::rle(black_box(&inp.runs)),
            6 => $v::bsearch(black_box(&inp.sorted), black_box(&inp.keys)),
            7 => $v::nearest(black_box(&inp.points)),
            8 => $v::collatz(black_box(2048)),
            9 => $v::histogram(black_box(&inp.text)),
            _ => unreachable!(),
        }
    }};
}

#[inline(never)]
fn call_plain(k: usize, inp: &mut Inputs) -> u64 {
    dispatch!(plain, k, inp)
}

#[inline(never)]
fn call_killed(k: usize, inp: &mut Inputs) -> u64 {
    dispatch!(killed, k, inp)
}

fn sample(f: fn(usize, &mut Inputs) -> u64, k: usize, iters: u64, inp: &mut Inputs) -> f64 {
    let t = thread_cpu_time();
    for _ in 0..iters {
        black_box(f(k, inp));
    }
    (thread_cpu_time() - t) / iters as f64
}

/// Runs the suite: `reps` interleaved samples per variant and kernel, about `sample_len` each.
pub fn run(table: &mut Table, reps: usize, sample_len: Duration) {
    let mut inp = Inputs::new();
    for (k, name) in NAMES.iter().enumerate() {
        let (a, b) = (call_plain(k, &mut inp), call_killed(k, &mut inp));
        assert_eq!(a, b, "fresh kernel {name} disagrees");
    }
    let mut ratios = Vec::new();
    let mut worst = ("", 0.0);
    for (k, &name) in NAMES.iter().enumerate() {
        let one = sample(call_plain, k, 3, &mut inp).max(1e-9);
        let iters = ((sample_len.as_secs_f64() / one) as u64).max(1);
        let _ = sample(call_killed, k, iters, &mut inp);
        let (mut p, mut x) = (f64::INFINITY, f64::INFINITY);
        for rep in 0..reps {
            if rep % 2 == 0 {
                p = p.min(sample(call_plain, k, iters, &mut inp));
                x = x.min(sample(call_killed, k, iters, &mut inp));
            } else {
                x = x.min(sample(call_killed, k, iters, &mut inp));
                p = p.min(sample(call_plain, k, iters, &mut inp));
            }
        }
        let r = x / p;
        table.check(
            format!("{name}: killable/plain"),
            format!("{r:.3} ({} plain)", crate::stats::fmt_ns(p * 1e9)),
            "≤ 1.15",
            r <= 1.15,
        );
        if r > worst.1 {
            worst = (name, r);
        }
        ratios.push(r);
    }
    let capped: Vec<f64> = ratios.iter().map(|r| r.max(1.0)).collect();
    table.info(
        "geometric mean killable/plain, as measured",
        format!("{:.3}", geomean(&ratios)),
        "ratios below 1 count as they are",
    );
    let gc = geomean(&capped);
    table.check(
        "geometric mean, ratios below 1 counted as 1",
        format!("{gc:.3}"),
        "≤ 1.03",
        gc <= 1.03,
    );
    table.check(
        format!("worst fresh kernel: {}", worst.0),
        format!("{:.3}", worst.1),
        "≤ 1.15",
        worst.1 <= 1.15,
    );
}
