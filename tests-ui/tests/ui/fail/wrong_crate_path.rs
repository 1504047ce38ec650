// A re-exported crate needs `crate = …` (a rename in Cargo.toml is found); a wrong path is reported at the path.
// (The fn calls something: a leaf fn gets no check, so its path is never named.)
use killable::killable;

#[killable(crate = not_a_crate)]
fn unresolved() {
    main();
}

fn main() {
    unresolved();
}
