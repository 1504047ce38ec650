//! `#[killable]` keeps the meaning of the code: each function below exists twice, with and
//! without the attribute, and both must agree on many inputs. The strip-mined loops are run
//! across chunk boundaries (the chunk is 1024 iterations), where a wrong exit test would show.

// The loop shapes are the point of these tests, not style.
#![allow(
    clippy::never_loop,
    clippy::while_let_on_iterator,
    clippy::manual_contains,
    clippy::double_ended_iterator_last
)]

use std::cell::RefCell;
use std::fmt::Write as _;
use std::num::ParseIntError;

use killable::killable;

/// Defines `$k` with the attribute and `$p` without, from the same tokens (generics in `[]`).
macro_rules! twins {
    ($k:ident, $p:ident, fn $([$($g:tt)*])? ($($args:tt)*) -> $ret:ty { $($body:tt)* }) => {
        #[killable]
        fn $k $(<$($g)*>)? ($($args)*) -> $ret { $($body)* }
        fn $p $(<$($g)*>)? ($($args)*) -> $ret { $($body)* }
    };
}

/// Inputs around the chunk size, and a few irregular ones.
fn lengths() -> Vec<usize> {
    let mut v = vec![0, 1, 2, 3, 7, 100, 1000, 5000];
    for base in [1024, 2048, 3072] {
        v.extend([base - 2, base - 1, base, base + 1, base + 2]);
    }
    v
}

fn data(n: usize, seed: u64) -> Vec<u64> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % 1000
        })
        .collect()
}

twins!(strip_k, strip_p, fn(v: &[u64], stop: u64, skip: u64) -> (u64, usize) {
    let mut sum = 0u64;
    let mut seen = 0usize;
    for &x in v {
        if x == stop {
            break;
        }
        if x % 7 == skip {
            continue;
        }
        sum = sum.wrapping_add(x);
        seen += 1;
    }
    (sum, seen)
});

twins!(strip_labels_k, strip_labels_p, fn(v: &[u64], n: usize) -> u64 {
    let mut acc = 0u64;
    // The outer loop contains a loop, so only the inner one is strip-mined; the inner one's
    // `break 'outer` and `continue 'outer` cross both of its generated loops.
    'outer: for (row, chunk) in v.chunks(37).enumerate() {
        'inner: for i in 0..n {
            if i == row * 300 {
                continue 'outer;
            }
            if i % 1024 == 1023 && row % 2 == 1 {
                continue 'inner;
            }
            if chunk.first() == Some(&(i as u64)) {
                break 'outer;
            }
            if i > 2500 + row {
                break 'inner;
            }
            acc = acc.wrapping_mul(31).wrapping_add(i as u64);
        }
        acc ^= row as u64;
    }
    acc
});

twins!(strip_index_k, strip_index_p, fn(v: &mut [u64], w: &[u64]) -> u64 {
    for (a, b) in v.iter_mut().zip(w.iter()) {
        *a += *b;
    }
    let mut m = 0;
    for i in (0..v.len()).rev().step_by(3) {
        m = m.max(v[i]);
        if v[i] == 999 {
            return m;
        }
    }
    m
});

#[test]
fn strip_mined_loops_agree_with_plain_loops() {
    for n in lengths() {
        for seed in 1..6 {
            let v = data(n, seed);
            for stop in [
                1000,
                v.get(n / 2).copied().unwrap_or(0),
                v.last().copied().unwrap_or(0),
            ] {
                for skip in [0, 3, 9] {
                    assert_eq!(strip_k(&v, stop, skip), strip_p(&v, stop, skip), "n={n}");
                }
            }
            assert_eq!(strip_labels_k(&v, n), strip_labels_p(&v, n), "n={n}");
            let w = data(n, seed + 10);
            let (mut a, mut b) = (v.clone(), v.clone());
            assert_eq!(
                strip_index_k(&mut a, &w),
                strip_index_p(&mut b, &w),
                "n={n}"
            );
            assert_eq!(a, b);
        }
    }
}

// Integer ranges in a body that does not index are cut into counted chunks (killable-core's
// `strip` module) instead of `take`: every integer type, both range kinds, `break` and
// `continue`, ranges that end on the type's maximum.
twins!(ranges_k, ranges_p, fn(lo: i64, n: u64, stop: i64) -> (u64, u32) {
    let mut h = 0u64;
    let mut c = 0u32;
    for i in lo..lo + n as i64 {
        if i == stop {
            break;
        }
        if i % 5 == 3 {
            continue;
        }
        h = h.wrapping_mul(31).wrapping_add(i as u64);
    }
    for i in (lo as u8)..=(lo as u8).wrapping_add(n as u8) {
        if i as i64 == stop {
            break;
        }
        c = c.wrapping_mul(3).wrapping_add(i as u32);
    }
    for i in (n as i16).wrapping_neg()..=i16::MAX {
        c = c.rotate_left(1) ^ i as u32;
    }
    for i in u128::MAX - n as u128..u128::MAX {
        h ^= i as u64;
    }
    'l: for i in 0..n as usize {
        if i % 1024 == 1023 {
            continue 'l;
        }
        if i as i64 == stop + 7 {
            break 'l;
        }
        c = c.wrapping_add(i as u32);
    }
    (h, c)
});

#[test]
fn counted_range_chunks_agree_with_plain_ranges() {
    for n in lengths() {
        let n = n as u64;
        for lo in [-3000i64, -1, 0, 1, 1023, 100_000] {
            for stop in [i64::MIN, lo + n as i64 / 2, lo + 1024, 200] {
                assert_eq!(
                    ranges_k(lo, n, stop),
                    ranges_p(lo, n, stop),
                    "lo={lo} n={n}"
                );
            }
        }
    }
}

/// A `break` at exactly the last iteration of a chunk must not resume the next chunk.
#[test]
fn break_on_a_chunk_boundary() {
    for n in [1023u64, 1024, 1025, 2047, 2048] {
        let v: Vec<u64> = (0..4096).collect();
        assert_eq!(strip_k(&v, n, 99), strip_p(&v, n, 99));
    }
}

twins!(values_k, values_p, fn(n: u32) -> Option<u32> {
    let mut i = 0u32;
    let found = 'search: loop {
        let mut j = 0;
        while j < i {
            if (i * j) % 17 == n % 17 {
                break 'search Some(i + j);
            }
            if i > 200 {
                break 'search None;
            }
            j += 1;
        }
        i += 1;
    };
    let doubled = found.map(|x| x * 2)?;
    for k in 0..doubled {
        if k * k > doubled {
            return Some(k);
        }
    }
    let w = loop {
        break if n % 2 == 0 { n } else { n + 1 };
    };
    Some(w)
});

twins!(parse_k, parse_p, fn(text: &str) -> Result<u64, ParseIntError> {
    let mut total = 0u64;
    for line in text.lines() {
        let mut parts = line.split(',');
        while let Some(p) = parts.next() {
            let n: u64 = p.trim().parse()?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }
    Ok(total)
});

#[test]
fn break_values_labels_question_mark_and_return_agree() {
    for n in 0..300 {
        assert_eq!(values_k(n), values_p(n), "n={n}");
    }
    for text in ["1,2\n3", "4, 5,0,9", "7,x", "", "10\n\n20", "1,,2"] {
        assert_eq!(parse_k(text), parse_p(text), "{text:?}");
    }
}

twins!(temps_k, temps_p, fn(cell: &RefCell<Vec<u32>>, log: &RefCell<String>) -> usize {
    // A check after each of these statements must not extend the borrow it ends.
    let n = cell.borrow().len();
    cell.borrow_mut().push(n as u32);
    let doubled: Vec<u32> = cell.borrow().iter().map(|x| x * 2).collect();
    cell.borrow_mut().extend(doubled);
    for x in cell.borrow().iter() {
        write!(log.borrow_mut(), "{x},").unwrap();
    }
    let _guard = Noisy("guard", log);
    let len = cell.borrow().len();
    let total = len + log.borrow().len();
    total
});

struct Noisy<'a>(&'static str, &'a RefCell<String>);

impl Drop for Noisy<'_> {
    fn drop(&mut self) {
        self.1.borrow_mut().push_str(self.0);
    }
}

#[test]
fn temporaries_and_drop_order_agree() {
    let run = |f: fn(&RefCell<Vec<u32>>, &RefCell<String>) -> usize| {
        let cell = RefCell::new(vec![1, 2]);
        let log = RefCell::new(String::new());
        let r = f(&cell, &log);
        (r, cell.into_inner(), log.into_inner())
    };
    assert_eq!(run(temps_k), run(temps_p));
}

twins!(generic_k, generic_p, fn[T: Clone + PartialOrd](items: &[T], cap: usize) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for x in items {
        if out.len() == cap {
            break;
        }
        if out.last().map_or(true, |l| l < x) {
            out.push(x.clone());
        }
    }
    out.sort_by(|a, b| b.partial_cmp(a).unwrap());
    out
});

#[test]
fn generic_code_agrees() {
    for n in [0, 5, 50] {
        let v = data(n, 3);
        for cap in [0, 1, 4, 100] {
            assert_eq!(generic_k(&v, cap), generic_p(&v, cap));
        }
    }
}

// Iterator chains: with the attribute, straight-line closures lose their entry checks and the
// source is wrapped (`chunked!`), so every way of driving a chain must give what it gives
// without. Run across chunk boundaries (1024 items, 1024 bytes for `chars`).

// No `vec![…]` or `format!(…)` around the chains: the attribute cannot see into macros.
twins!(chain_folds_k, chain_folds_p, fn(v: &[u64], n: u64) -> [u64; 24] {
    [
        v.iter().map(|&x| x * 3).sum(),
        (0..n).map(|x| x * x).filter(|x| x % 3 == 0).sum::<u64>(),
        (1..=n).map(|x| x ^ 5).fold(7, |a, x| a.wrapping_mul(31).wrapping_add(x)),
        v.iter().rev().map(|&x| x + 1).fold(0, |a, x| a.wrapping_mul(7) ^ x),
        (0..n).rev().step_by(3).map(|x| x ^ 7).fold(0, |a, x| a.wrapping_add(x)),
        v.iter().enumerate().map(|(i, &x)| x.wrapping_mul(i as u64)).fold(0, |a, x| a ^ x),
        v.iter().zip(v.iter().skip(1)).map(|(a, b)| a.abs_diff(*b)).sum(),
        v.iter().skip(3).take(2000).map(|&x| x % 10).product::<u64>() % 1_000_003,
        v.iter().copied().filter(|x| x % 2 == 1).count() as u64,
        v.iter().map(|&x| x % 97).max_by_key(|&x| x ^ 0x55).unwrap_or(0),
        v.iter().map(|&x| x % 89).min_by(|a, b| b.cmp(a)).unwrap_or(0),
        v.iter().take_while(|&&x| x != 999).map(|&x| x + 1).sum(),
        v.iter().skip_while(|&&x| x < 500).map(|&x| x * 2).sum(),
        v.iter().filter_map(|&x| x.checked_sub(300)).sum(),
        v.iter().map_while(|&x| x.checked_sub(5)).count() as u64,
        v.iter().scan(0u64, |s, &x| { *s = s.wrapping_add(x); Some(*s) }).last().unwrap_or(0),
        v.iter().map(|&x| x + 1).reduce(|a, b| a.wrapping_mul(b) | 1).unwrap_or(0),
        (0..n).chain(5..9).map(|x| x * 2).sum(),
        v.iter().map(|&x| x & 15).chain(0..3).map(|x| x + 1).sum(),
        (0..n.min(60)).flat_map(|x| 0..x).map(|y| y * 2).sum(),
        v.iter().map(|&x| x % 7).cycle().take(3000).sum(),
        v.iter().map(|&x| x + 2).len() as u64,
        v.iter().map(|&x| x + 2).size_hint().0 as u64,
        (0..n).map(|x| x as u8).filter(|b| b.is_ascii_digit()).count() as u64,
    ]
});

twins!(chain_searches_k, chain_searches_p, fn(v: &[u64], t: u64) -> [Option<u64>; 16] {
    let mut it = v.iter().map(|&x| x * 2);
    let pos = it.position(|x| x == t * 2).map(|p| p as u64);
    // What `position` left behind: the items after the one found.
    let after: u64 = it.take(1500).sum();
    let mut raw = v.iter();
    let found = raw.find(|&&x| x == t).copied();
    let next = raw.next().copied();
    let mut c = (0..v.len() as u64).filter(|&i| i % 3 == 0);
    let any = c.any(|i| i == t);
    let rest = c.count() as u64;
    [
        pos,
        Some(after),
        found,
        next,
        Some(u64::from(any)),
        Some(rest),
        v.iter().rposition(|&x| x == t).map(|p| p as u64),
        v.iter().rev().find(|&&x| x == t).copied(),
        Some(u64::from(v.iter().all(|&x| x < 1000))),
        Some(u64::from(v.iter().any(|&x| x == t))),
        v.iter().find_map(|&x| (x == t).then_some(x + 1)),
        v.iter().map(|&x| x + 1).nth(1500),
        v.iter().map(|&x| x + 1).rev().nth(1500),
        v.iter().copied().map(|x| x ^ 1).last(),
        (0..u64::MAX).skip(1 << 40).map(|x| x ^ 1).next(),
        (0..u64::MAX).rev().map(|x| x ^ 1).nth(t as usize),
    ]
});

twins!(chain_strings_k, chain_strings_p, fn(s: &str) -> (String, usize, usize, Option<usize>, Vec<u8>) {
    let up: String = s.chars().rev().map(|c| c.to_ascii_uppercase()).collect();
    let digits = s.chars().filter(|c| c.is_ascii_digit()).count();
    let wide = s.char_indices().filter(|&(_, c)| c.len_utf8() > 1).count();
    let first_wide = s.chars().position(|c| !c.is_ascii());
    let bytes = s.bytes().filter(|&b| b != b'x').map(|b| b ^ 1).collect();
    (up, digits, wide, first_wide, bytes)
});

twins!(chain_mut_k, chain_mut_p, fn(v: &mut [u64]) -> u64 {
    v.iter_mut().for_each(|x| *x = x.wrapping_mul(3) + 1);
    v.iter_mut().rev().step_by(2).for_each(|x| *x ^= 1);
    v.iter_mut().enumerate().for_each(|(i, x)| *x = x.wrapping_add(i as u64));
    v.chunks(7).map(|c| c.len() as u64).sum()
});

twins!(chain_inherent_k, chain_inherent_p, fn(v: &[u64], s: &str) -> (usize, usize, Option<u64>, String) {
    // Methods of the source's own type, not `Iterator`'s: the attribute leaves these sources
    // unwrapped, so they still compile and mean the same.
    let mut it = v.iter();
    it.next();
    let left = it.as_slice().len();
    let mut chars = s.chars();
    chars.next();
    let rest = chars.as_str().len();
    let mut p = v.iter().map(|&x| x + 1).peekable();
    let peeked = p.peek().copied();
    let m = v.iter().take(2).map(|x| x + 1);
    let debug = format!("{m:?}");
    (left, rest, peeked, debug)
});

#[test]
fn iterator_chains_agree_with_plain_chains() {
    for n in lengths() {
        for seed in 1..4 {
            let v = data(n, seed);
            assert_eq!(
                chain_folds_k(&v, n as u64),
                chain_folds_p(&v, n as u64),
                "n={n}"
            );
            for t in [0, 999, v.get(n / 2).copied().unwrap_or(0), 1023] {
                assert_eq!(
                    chain_searches_k(&v, t),
                    chain_searches_p(&v, t),
                    "n={n} t={t}"
                );
            }
            let (mut a, mut b) = (v.clone(), v.clone());
            assert_eq!(chain_mut_k(&mut a), chain_mut_p(&mut b), "n={n}");
            assert_eq!(a, b);
            let s: String = v
                .iter()
                .map(|&x| ['x', 'é', '7', '字', '🦀', 'a'][x as usize % 6])
                .collect();
            assert_eq!(chain_strings_k(&s), chain_strings_p(&s), "n={n}");
            assert_eq!(chain_inherent_k(&v, &s), chain_inherent_p(&v, &s), "n={n}");
        }
    }
}
