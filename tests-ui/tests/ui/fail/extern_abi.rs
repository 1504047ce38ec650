use killable::killable;

#[killable]
extern "C" fn callback(x: u32) -> u32 {
    x
}

#[killable]
pub unsafe extern fn bare(x: u32) -> u32 {
    x
}

#[killable]
extern "system" fn system(x: u32) -> u32 {
    x
}

fn main() {
    let _: extern "C" fn(u32) -> u32 = callback;
    let _ = unsafe { bare(1) };
    let _ = system(1);
}
