// Errors in the user's own code point at the user's tokens, not at the attribute.
use killable::killable;

#[killable]
fn types(v: &[u32]) -> u32 {
    let mut s: u32 = 0;
    for &x in v {
        s += x;
        let y: u8 = x;
    }
    for x in 5u32 {
        s += x;
    }
    let n = 5u32;
    for x in n {
        s += x;
    }
    loop {
        let z: &str = s;
    }
}

fn main() {
    types(&[]);
}
