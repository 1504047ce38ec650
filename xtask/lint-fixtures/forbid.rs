//! A crate that forbids the lints an `#[allow]` in generated code would need.
#![forbid(unused, unused_imports)]
#![allow(clippy::must_use_candidate)]

pub fn strip_mined(v: &[u32]) -> u32 {
    let mut s = 0u32;
    for &x in v {
        s = s.wrapping_add(x);
    }
    s + v.iter().map(|x| x * 2).sum::<u32>()
}
