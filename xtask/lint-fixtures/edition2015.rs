// edition: 2015
//! 2015 syntax: keywords of later editions as identifiers, anonymous trait parameters.
#![allow(anonymous_parameters, clippy::must_use_candidate)]

pub fn identifiers(async: u32) -> u32 {
    let await = async + 1;
    let try = await * 2;
    let dyn = try + 1;
    dyn
}

pub fn trait_object(f: &dyn Fn(u32) -> u32) -> u32 {
    let mut s = 0;
    for i in 0..10 {
        s += f(i);
    }
    s
}

pub trait Anonymous {
    fn required(&self, u32) -> u32;
    fn provided(&self, u32, Option<u8>) -> u32 {
        let mut n = 0;
        while n < 10 {
            n += self.required(n);
        }
        n
    }
}
