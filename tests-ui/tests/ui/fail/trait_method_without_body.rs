use killable::killable;

trait Job {
    #[killable]
    fn run(&mut self) -> u32;
}

struct Nop;

impl Job for Nop {
    fn run(&mut self) -> u32 {
        0
    }
}

fn main() {
    assert_eq!(Nop.run(), 0);
}
