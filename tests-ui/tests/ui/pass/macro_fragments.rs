// A `$l:lifetime` fragment used as a loop label inside `macro_rules!` (issue 17, shape 4):
// rustc hands it to the attribute as an invisible group, which syn does not take as a label.
#![deny(warnings)]

use killable::killable;

macro_rules! labelled {
    ($name:ident, $l:lifetime) => {
        #[killable]
        fn $name(v: &[u32]) -> u32 {
            let mut n = 0;
            $l: for &x in v {
                if x == 3 {
                    break $l;
                }
                n += x;
            }
            $l: loop {
                n += 1;
                if n > 10 {
                    break $l;
                }
            }
            n
        }
    };
}

labelled!(until_three, 'outer);

fn main() {
    assert_eq!(until_three(&[1, 2, 3, 4]), 11);
}
