//! Iterator chains the attribute wraps (or leaves alone) still compile, whatever the source's
//! type turns out to be.
#![deny(warnings)]

use std::collections::HashMap;
use std::sync::mpsc;

use killable::killable;

/// Not an iterator, but with `iter()` and a `map` of its own: left as it is.
struct Grid(Vec<u8>);
struct GridView<'a>(&'a [u8]);

impl Grid {
    fn iter(&self) -> GridView<'_> {
        GridView(&self.0)
    }
}

impl GridView<'_> {
    fn map(&self, f: impl Fn(u8) -> u8) -> Vec<u8> {
        self.0.iter().map(|&b| f(b)).collect()
    }
}

/// An iterator of the user's: wrapped with a check per item.
struct Countdown(u32);

impl Iterator for Countdown {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        self.0 = self.0.checked_sub(1)?;
        Some(self.0)
    }
}

struct Holder {
    countdown: Countdown,
}

#[killable]
fn sources(v: &mut Vec<u64>, s: &str, m: &HashMap<u32, u64>, g: &Grid, h: Holder) -> u64 {
    let a: u64 = v.iter().map(|&x| x * 2).sum();
    v.iter_mut().for_each(|x| *x += 1);
    let b = (0..10).map(|x| x * 3).filter(|x| x % 2 == 0).count() as u64;
    let c = (1..=5u8).map(|x| u64::from(x)).product::<u64>();
    let d = s.chars().rev().filter(|c| c.is_ascii_digit()).count() as u64;
    let e = s.bytes().map(|b| u64::from(b)).max().unwrap_or(0);
    let f: u64 = m.values().map(|&x| x + 1).sum();
    let i = v.windows(2).map(|w| w.len() as u64).sum::<u64>();
    let j: Vec<u8> = g.iter().map(|b| b + 1);
    let k: u32 = h.countdown.into_iter().map(|x| x + 1).sum();
    let l = v.iter().zip(s.chars()).map(|(a, _)| *a).sum::<u64>();
    let (tx, rx) = mpsc::channel::<u64>();
    drop(tx);
    let n: u64 = rx.iter().map(|x| x * 2).sum();
    a + b + c + d + e + f + i + j.len() as u64 + u64::from(k) + l + n
}

/// Methods of the source's own type are not `Iterator`'s: those sources stay unwrapped.
#[killable]
fn inherent(v: &[u64], s: &str) -> usize {
    let rest = v.iter().as_slice().len();
    let tail = s.chars().as_str().len();
    let mut p = v.iter().map(|x| x + 1).peekable();
    let first = p.peek().copied().unwrap_or(0) as usize;
    rest + tail + first
}

/// A chain that escapes the function takes its wrapper along.
#[killable]
fn evens(v: &[u64]) -> impl DoubleEndedIterator<Item = u64> + ExactSizeIterator + Clone + '_ {
    v.iter().map(|x| x * 2)
}

#[killable]
fn generic<T: Copy + Into<u64>>(v: &[T]) -> u64 {
    v.iter().map(|&x| x.into()).sum()
}

fn main() {
    let mut v = vec![1, 2, 3];
    let mut m = HashMap::new();
    m.insert(1, 2);
    let g = Grid(vec![1, 2]);
    let h = Holder {
        countdown: Countdown(3),
    };
    sources(&mut v, "a1b2", &m, &g, h);
    inherent(&v, "xyz");
    assert_eq!(evens(&v).rev().len(), 3);
    generic(&[1u8, 2]);
}
