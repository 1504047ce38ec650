use killable::*;
use std::time::Duration;

#[test]
fn smoke() {
    let t = KillableThread::spawn(|| loop {
        checkpoint();
    });
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
    let t = KillableThread::spawn(|| sleep(Duration::from_secs(100)));
    t.raise(5u8).unwrap();
    assert_eq!(t.join().unwrap_err().downcast_raised::<u8>().unwrap(), 5);
    assert_eq!(
        with_timeout(Duration::from_millis(10), || loop {
            checkpoint()
        }),
        Err::<(), _>(TimedOut)
    );
}
