// Borrow-check errors in a strip-mined loop read as without the attribute (issue 17, shape
// 10): every span is the user's, none is the attribute's line.
use killable::killable;

#[killable]
fn borrowed_while_iterated(mut v: Vec<u32>) -> u32 {
    let mut s = 0;
    for x in &v {
        v[0] = *x;
        s += x;
    }
    s
}

#[killable]
fn moved_into_the_loop(v: Vec<u32>) -> usize {
    let mut s = 0;
    for x in v {
        s += x;
    }
    s as usize + v.len()
}

fn main() {
    borrowed_while_iterated(vec![1]);
    moved_into_the_loop(vec![1]);
}
