// The user's own unused variables, dead code and unused labels are still reported.
#![deny(unused, dead_code)]

use killable::killable;

#[killable]
fn never_called(v: &[u32]) -> u32 {
    let unused = 1;
    let mut s = 0;
    'unused_label: for &x in v {
        s += x;
    }
    s
}

fn main() {}
