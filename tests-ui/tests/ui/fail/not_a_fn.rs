use killable::killable;

#[killable]
struct Worker {
    id: u32,
}

#[killable]
enum State {
    Idle,
}

#[killable]
mod jobs {}

#[killable]
static LIMIT: u32 = 3;

// Each item above is still there: using it causes no further error.
fn main() {
    let _ = Worker { id: LIMIT };
    let _ = State::Idle;
}
