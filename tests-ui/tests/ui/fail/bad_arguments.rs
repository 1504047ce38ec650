use killable::killable;

#[killable(chunk = 64)]
fn unknown() {}

#[killable(crate = killable, crate = killable)]
fn duplicated() {}

#[killable(crate)]
fn no_path() {}

#[killable(crate = "killable")]
fn string_path() {}


fn main() {
    unknown();
    duplicated();
    no_path();
    string_path();
}
