//! `JoinError` and `TimedOut` with `?`, `Box<dyn Error + Send + Sync>`,
//! `anyhow` and `thiserror`'s `#[from]`.

use std::error::Error;
use std::time::Duration;

use killable::{with_timeout, JoinError, KillableThread, TimedOut};

#[derive(Debug, PartialEq)]
struct Cancelled {
    job: u32,
}

fn terminated_worker() -> KillableThread<u32> {
    let t = KillableThread::spawn(|| loop {
        killable::sleep(Duration::from_millis(5));
    });
    t.terminate();
    t
}

fn raised_worker() -> KillableThread<u32> {
    let t = KillableThread::spawn(|| loop {
        killable::sleep(Duration::from_millis(5));
    });
    t.raise(Cancelled { job: 9 }).unwrap();
    t
}

#[derive(Debug, thiserror::Error)]
enum AppError {
    #[error("worker failed")]
    Worker(#[from] JoinError),
    #[error("took too long")]
    Slow(#[from] TimedOut),
}

fn join_with_thiserror(t: KillableThread<u32>) -> Result<u32, AppError> {
    Ok(t.join()?)
}

fn slow_with_thiserror() -> Result<(), AppError> {
    with_timeout(Duration::ZERO, || loop {
        killable::checkpoint();
    })?;
    Ok(())
}

#[test]
fn thiserror_from() {
    let err = join_with_thiserror(terminated_worker()).unwrap_err();
    assert_eq!(err.to_string(), "worker failed");
    // `#[from]` is also the source: the chain reaches the JoinError.
    let source = err.source().expect("a source");
    assert_eq!(source.to_string(), "thread was terminated");
    assert!(matches!(err, AppError::Worker(ref e) if e.is_terminated()));

    // A raised value is still there to be taken out.
    match join_with_thiserror(raised_worker()).unwrap_err() {
        AppError::Worker(e) => assert_eq!(
            e.downcast_raised::<Cancelled>().unwrap(),
            Cancelled { job: 9 }
        ),
        other => panic!("{other:?}"),
    }

    let err = slow_with_thiserror().unwrap_err();
    assert!(matches!(err, AppError::Slow(TimedOut)));
    assert_eq!(err.source().unwrap().to_string(), "deadline elapsed");
}

fn join_with_anyhow(t: KillableThread<u32>) -> anyhow::Result<u32> {
    use anyhow::Context;
    let v = t.join().context("joining the indexer")?;
    Ok(v)
}

#[test]
fn anyhow_question_mark_and_context() {
    let err = join_with_anyhow(terminated_worker()).unwrap_err();
    assert_eq!(err.to_string(), "joining the indexer");
    assert_eq!(
        format!("{err:#}"),
        "joining the indexer: thread was terminated"
    );
    assert!(err.downcast_ref::<JoinError>().unwrap().is_terminated());

    // Without context, and getting the raised value back out.
    let t = raised_worker();
    let err: anyhow::Error = (|| -> anyhow::Result<u32> { Ok(t.join()?) })().unwrap_err();
    let join_error = err.downcast::<JoinError>().unwrap();
    assert_eq!(
        join_error.downcast_raised::<Cancelled>().unwrap(),
        Cancelled { job: 9 }
    );

    let err: anyhow::Error = (|| -> anyhow::Result<()> {
        with_timeout(Duration::ZERO, || loop {
            killable::checkpoint();
        })?;
        Ok(())
    })()
    .unwrap_err();
    assert!(err.is::<TimedOut>());
}

#[test]
fn boxed_dyn_error() {
    fn join_boxed(t: KillableThread<u32>) -> Result<u32, Box<dyn Error + Send + Sync + 'static>> {
        Ok(t.join()?)
    }
    let err = join_boxed(terminated_worker()).unwrap_err();
    assert!(err.downcast_ref::<JoinError>().unwrap().is_terminated());

    // A panic's message is in the error's Display.
    let t =
        KillableThread::spawn(|| -> u32 { std::panic::resume_unwind(Box::new("disk on fire")) });
    let err = join_boxed(t).unwrap_err();
    assert_eq!(err.to_string(), "thread panicked: disk on fire");
}
