// Generated code needs no `#[allow]` (issue 17, shape 3): a crate that forbids the lints
// an `allow` would silence still builds strip-mined loops and wrapped chains.
#![forbid(warnings, unused, unused_imports)]

use killable::killable;

#[killable]
fn strip_mined(v: &[u32]) -> u32 {
    let mut s = 0u32;
    for &x in v {
        s = s.wrapping_add(x);
    }
    for i in 0..v.len() {
        s = s.wrapping_add(v[i]);
    }
    for k in 0..10u32 {
        s ^= k;
    }
    s
}

#[killable]
fn chains(v: &[u32], t: &str) -> u32 {
    let a: u32 = v.iter().map(|x| x * 2).sum();
    let b = (0..10u32).filter(|x| x % 3 == 0).count();
    let c = t.chars().filter(|c| c.is_ascii_digit()).count();
    a + u32::try_from(b + c).unwrap_or(0)
}

fn main() {
    assert_eq!(strip_mined(&[1, 2, 3]), 12 ^ 1);
    assert_eq!(chains(&[1, 2], "a1b2"), 6 + 4 + 2);
}
