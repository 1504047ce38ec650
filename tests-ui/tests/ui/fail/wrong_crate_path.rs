// A dependency renamed in Cargo.toml needs `crate = …`; a wrong path is reported at the path.
use killable::killable;

#[killable(crate = not_a_crate)]
fn unresolved() {}

fn main() {
    unresolved();
}
