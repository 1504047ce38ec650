//! Loops and iterator chains that clippy (pedantic) has an opinion on, with and without
//! `#[expect]`: the attribute must keep each diagnostic, or hide only a documented lint.
#![allow(clippy::must_use_candidate, clippy::missing_panics_doc)]

pub fn range_loop(v: &mut [u32], w: &[u32]) -> u32 {
    let mut s = 0;
    for i in 0..v.len() {
        s += v[i];
    }
    for i in 0..w.len() {
        v[i] = w[i];
    }
    let mut n = 0;
    for x in w {
        s += x * n;
        n += 1;
    }
    for x in w.iter() {
        s += x;
    }
    for x in (w) {
        s += x;
    }
    s
}

#[expect(clippy::needless_range_loop, clippy::explicit_counter_loop)]
pub fn expected_on_fn(v: &[u32]) -> u32 {
    let mut s = 0;
    for i in 0..v.len() {
        s += v[i];
    }
    let mut n = 0;
    for x in v {
        s += x * n;
        n += 1;
    }
    s
}

pub fn expected_on_statement(v: &[u32]) -> u32 {
    let mut s = 0;
    #[expect(clippy::needless_range_loop)]
    for i in 0..v.len() {
        s += v[i];
    }
    s
}

pub fn chains(v: &[u32], s: &str) -> usize {
    let a = v.iter().map(|x| x + 1).count();
    let b = v.iter().fold(0, |acc, x| acc + x);
    let c = s.chars().filter(|c| c.is_ascii_digit()).next();
    let d: Vec<u32> = v.iter().map(|x| *x).collect();
    a + b as usize + usize::from(c.is_some()) + d.len()
}

pub fn let_and_return(v: &[u32]) -> u32 {
    let r = v.iter().copied().max().unwrap_or(0);
    r
}

pub fn closure_call(x: u32) -> u32 {
    (|| x + 1)()
}

pub fn items_first(x: u32) -> u32 {
    const K: u32 = 3;
    fn helper(y: u32) -> u32 {
        y * K
    }
    helper(x)
}

pub fn items_after_statements(x: u32) -> u32 {
    let y = x + 1;
    fn helper(y: u32) -> u32 {
        y * 2
    }
    helper(y)
}

pub fn user_lints(v: &[u32]) -> u32 {
    let unused = 1;
    let mut s = 0u32;
    for &x in v {
        s = s + x;
    }
    if s == 0 { return 0 } else { s as u16 as u32 }
}

#[expect(clippy::map_clone, clippy::cast_possible_truncation, reason = "both fire")]
pub fn mixed_expectation(v: &[u32]) -> u16 {
    let d: Vec<u32> = v.iter().map(|x| *x).collect();
    d.len() as u16
}

pub struct Copier;

impl Copier {
    #[expect(clippy::manual_memcpy)]
    pub fn copy(v: &mut [u32], w: &[u32]) {
        for i in 0..w.len() {
            v[i] = w[i];
        }
    }
}

pub fn expected_on_chain(v: &[u32]) -> usize {
    #[expect(clippy::suspicious_map)]
    let n = v.iter().map(|x| x + 1).count();
    n
}
