// The attribute on a closure or an expression (issue 17, shape 12): after rustc's own E0658,
// one message that says where the attribute goes.
use killable::killable;

fn main() {
    let work = #[killable]
    || {
        let mut n = 0u64;
        loop {
            n += 1;
        }
    };
    work();
    let _ = #[killable] 1 + 2;
}
