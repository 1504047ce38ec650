// A re-exported crate needs `crate = …` (a rename in Cargo.toml is found); a wrong path is reported at the path.
use killable::killable;

#[killable(crate = not_a_crate)]
fn unresolved() { let _ = 1; }

fn main() {
    unresolved();
}
