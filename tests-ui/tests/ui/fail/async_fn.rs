use killable::killable;

#[killable]
async fn fetch(n: u32) -> u32 {
    n
}

fn main() {
    let _future = fetch(1);
}
