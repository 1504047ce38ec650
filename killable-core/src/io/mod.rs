//! Killable blocking I/O: reads, writes and accepts that wake at once on a
//! kill, consume nothing when they do, and leave the fd open and usable.
//!
//! Wrap a socket, pipe or terminal in [`Killable`] and use it as before. A
//! kill (terminate, raise, deadline, cancel token) that arrives while the call is blocked
//! wakes it and unwinds from it, like any kill; the bytes that had not been
//! read yet are still in the socket, and a thread that catches a raise reads
//! them with its next call:
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use killable::{catch, io::Killable, KillableThread};
//!
//! #[derive(Debug)]
//! struct CheckMailbox;
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let mut peer = TcpStream::connect(listener.local_addr()?)?;
//! let (conn, _) = listener.accept()?;
//! let (started, reader_started) = std::sync::mpsc::channel();
//!
//! let reader = KillableThread::spawn(move || {
//!     let mut conn = Killable::new(conn);
//!     let mut buf = [0; 5];
//!     started.send(()).unwrap();
//!     // Blocked: the peer has sent nothing yet. The raise wakes the read.
//!     let woken = catch::<CheckMailbox, _, _>(|| conn.read_exact(&mut buf));
//!     assert!(woken.is_err());
//!     // The socket is intact: the next read gets the peer's bytes.
//!     conn.read_exact(&mut buf).unwrap();
//!     buf
//! });
//! reader_started.recv().unwrap();
//! std::thread::sleep(std::time::Duration::from_millis(20));
//! reader.raise(CheckMailbox).unwrap();
//! std::thread::sleep(std::time::Duration::from_millis(20));
//! peer.write_all(b"hello")?;
//! assert_eq!(&reader.join().unwrap(), b"hello");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # What a kill does to an operation
//!
//! * A kill already pending when the call starts is delivered at once;
//!   nothing is read or written.
//! * A kill that arrives while the call waits wakes it at once; the call
//!   unwinds having read or written **nothing**.
//! * A call that has read or written something returns `Ok(n)`, even if a
//!   kill arrived meanwhile: the kill lands at the next checkpoint (the next
//!   `Killable` call is one). A completed read is never turned into a kill.
//! * The fd stays open: only the owner's `Drop` closes it.
//!
//! On a thread that is not killable, inside a [`shield`](crate::shield), or
//! while unwinding, the calls block as std's do.
//!
//! # Wrappers that loop: `read_exact`, `write_all`, `BufReader`, `read_line`
//!
//! One `read` or `write` is all-or-nothing as above. Code that loops over
//! several (std's provided `read_exact`, `read_to_end`, `write_all`, and
//! `BufReader`) keeps what the completed calls did when a later call
//! unwinds: that is lost with the unwind, exactly as with a panic.
//!
//! * `read_exact` / `read_to_end` / `write_all`: a kill between two
//!   underlying calls leaves a prefix consumed (read into your buffer, or
//!   sent) that the unwind does not report.
//! * `BufReader<Killable<T>>` keeps its buffered bytes: an unwind out of
//!   the read that refills its buffer has read nothing, and what was already
//!   buffered stays there. `BufReader::read_until` appends to your `Vec` as
//!   it goes, so after an unwind the partial line is in that `Vec`: keep it
//!   across the `catch` and call `read_until` again to finish the line. But
//!   `BufReader::read_line` *truncates* your `String` back to its original
//!   length when it unwinds (its UTF-8 guard): the half-read line is
//!   consumed from the buffer and removed from the string, lost.
//!
//! To keep every byte across kills, make each `Killable::read` (or
//! `write`) the only operation that can be interrupted, and record what it
//! returned before the next one: read into your own buffer and split lines
//! yourself, or track the offset of a `write` loop (see
//! `tests/io.rs::raise_and_continue_keeps_every_byte`, which does exactly
//! this). A kill then always lands at the start of a call, where nothing has
//! been consumed.
//!
//! # What is covered, and how each waits
//!
//! | type | wait | the non-blocking attempt |
//! | --- | --- | --- |
//! | `TcpStream`, `UnixStream` (`Read`, `Write`), `UdpSocket` ([`recv_from`](Killable::recv_from), [`send_to`](Killable::send_to), [`recv`](Killable::recv), [`send`](Killable::send)) | `poll` | `recv`/`send` with `MSG_DONTWAIT`: per call, the socket's mode is untouched |
//! | `TcpListener`, `UnixListener` ([`accept`](Killable::accept)) | `poll` | `accept` on a listener that [`Killable::new`] made non-blocking (there is no per-call flag for `accept`) |
//! | pipes and FIFOs: `ChildStdout`, `ChildStderr`, `ChildStdin`, `std::io::pipe`, an opened FIFO, stdin when it is one | `poll` | Linux: `preadv2`/`pwritev2` with `RWF_NOWAIT` (per call); elsewhere, or on kernels without it, a plain `read` after readiness, and writes of at most `PIPE_BUF` bytes, which readiness guarantees room for |
//! | terminals and other character devices (stdin on a tty) | `poll` | a plain `read`/`write` after readiness |
//! | regular files, block devices | none | none: they are always ready (`poll` says so too), so a read or write just runs, after a checkpoint |
//!
//! A wait is one `poll` on the fd and on a wake fd of the calling thread (an
//! `eventfd` on Linux, a pipe elsewhere), created by its first killable wait
//! and reused; a kill signals it. No thread is spawned and nothing spins.
//! Readiness can be spurious (another reader took the data), so the attempt
//! after it is non-blocking and the wait repeats on `WouldBlock`.
//!
//! Caveats, each a consequence of the table:
//!
//! * A listener's open file description is non-blocking while wrapped:
//!   clones of it (`try_clone`, a forked child) see that too, and a std
//!   `accept` on them returns `WouldBlock`. [`into_inner`](Killable::into_inner)
//!   and drop of the last `Killable` around any of them (in this process)
//!   put the previous mode back.
//! * Where the plain `read` after readiness is used (terminals, pipes
//!   without `RWF_NOWAIT`), a second reader of the same pipe or terminal
//!   that takes the data first leaves our `read` blocked until more data
//!   comes, and a kill waits for that too. `Killable` does not switch these
//!   to non-blocking mode: their file descriptions are typically shared
//!   with other processes (a terminal with the shell), which would see it.
//! * `Killable` always waits, even on an fd the user made non-blocking, and
//!   it ignores socket timeouts (`set_read_timeout`): use
//!   [`with_timeout`](crate::with_timeout) for a deadline.
//! * `Killable<Stdin>` reads fd 0 directly, bypassing std's own stdin
//!   buffer: do not mix it with reads through `std::io::stdin()`.
//!
//! # Platforms
//!
//! Unix (Linux, macOS, the BSDs; tested on Linux). On Windows `Killable`
//! exists but cannot be constructed: `Killable::new` fails to compile with a
//! message saying so. Use [`interruptible`](crate::interruptible) there,
//! with a hook that closes or shuts down the handle.

#[cfg(unix)]
mod sys;
#[cfg(unix)]
mod unix;
#[cfg(not(unix))]
mod unsupported;
#[cfg(unix)]
mod wake;

#[cfg(unix)]
pub use unix::Killable;
#[cfg(not(unix))]
pub use unsupported::{Killable, UnixOnly};
