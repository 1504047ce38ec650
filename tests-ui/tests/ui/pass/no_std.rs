// Generated code names only `::killable` and `::core`: it compiles without `std`.
#![no_std]
#![no_main]
#![deny(warnings)]

extern crate killable;

use killable::killable;

#[killable]
pub fn sum(v: &[u32]) -> u32 {
    let mut s = 0;
    for &x in v {
        s += x;
    }
    let mut i = 0;
    while i < v.len() {
        s += v[i];
        i += 1;
    }
    s + v.iter().map(|x| x * 2).sum::<u32>()
}

#[no_mangle]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    if sum(&[1, 2, 3]) == 24 { 0 } else { 1 }
}
