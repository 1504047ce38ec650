//! `Killable<T>` on Unix.

use std::fmt;
use std::io::{self, Read, Write};
use std::mem::ManuallyDrop;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

use libc::{c_int, c_short};

use super::sys::{self, FileKind, POLLIN, POLLOUT};
use super::wake::wait;
use crate::checkpoint::runtime_checkpoint;

/// How reads and writes on the fd avoid blocking after readiness.
const SOCKET: u8 = 0;
/// Linux pipes and FIFOs: `RWF_NOWAIT`; becomes `POLL_FIRST` if unsupported.
const NOWAIT: u8 = 1;
/// Wait for readiness, then a plain call (terminals, other pipes).
const POLL_FIRST: u8 = 2;
/// Always ready: just the call (regular files).
const DIRECT: u8 = 3;

/// A blocking fd whose reads, writes and accepts wake at once on a kill,
/// having consumed nothing; see the [module docs](crate::io) for the
/// semantics and what each type of fd does.
///
/// `Killable<T>` implements [`Read`] when `T` does and [`Write`] when `T`
/// does (and both for `&Killable<T>` when `&T` does, as for `TcpStream`),
/// [`accept`](Self::accept) for `TcpListener` and `UnixListener`, and
/// [`recv_from`](Self::recv_from), [`send_to`](Self::send_to),
/// [`recv`](Self::recv), [`send`](Self::send) for `UdpSocket`. The calls
/// work on the fd directly; `T`'s own methods remain reachable through
/// [`get_ref`](Self::get_ref).
///
/// # Examples
///
/// Terminating a thread blocked in `accept`, with no self-connect trick:
///
/// ```
/// use std::net::TcpListener;
/// use std::sync::Arc;
/// use killable::{io::Killable, KillableThread};
///
/// let listener = Arc::new(Killable::new(TcpListener::bind("127.0.0.1:0")?));
/// let l = listener.clone();
/// let acceptor = KillableThread::spawn(move || loop {
///     let (_conn, _addr) = l.accept().unwrap(); // nobody connects
/// });
/// std::thread::sleep(std::time::Duration::from_millis(20));
/// acceptor.terminate();
/// assert!(acceptor.join().unwrap_err().is_terminated());
/// // The listener is still open and listening.
/// let addr = listener.get_ref().local_addr()?;
/// let _client = std::net::TcpStream::connect(addr)?;
/// let (_conn, _) = listener.accept()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Killable<T: AsFd> {
    inner: ManuallyDrop<T>,
    /// `SOCKET`, `NOWAIT`, `POLL_FIRST` or `DIRECT`. Only ever moves from
    /// `NOWAIT` to `POLL_FIRST`, and either is correct for a pipe: relaxed.
    mode: AtomicU8,
    /// The listener this made non-blocking, if it is one (see `LISTENERS`).
    listener: Option<(u64, u64)>,
}

/// The listening sockets that `Killable`s made non-blocking, by
/// [`sys::file_id`]: how many `Killable`s hold one, and the status flags it
/// had before the first. The mode belongs to the socket, which clones of the
/// listener share, so it is restored only when the last `Killable` around
/// any of them lets go: a `Killable` dropped while another wraps a clone
/// must not leave that one's `accept` blocking, out of reach of kills.
static LISTENERS: std::sync::Mutex<std::collections::BTreeMap<(u64, u64), (usize, c_int)>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

impl<T: AsFd> Killable<T> {
    /// Wraps `inner`. Looks at what the fd is (one `fstat`, and for a
    /// socket one `getsockopt`) to choose how to wait on it; a listening
    /// socket is made non-blocking until [`into_inner`](Self::into_inner)
    /// or drop (see the [module docs](crate::io)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use std::io::Read;
    /// use killable::io::Killable;
    ///
    /// let mut child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
    /// let mut out = Killable::new(child.stdout.take().unwrap());
    /// let mut s = String::new();
    /// out.read_to_string(&mut s)?;
    /// assert_eq!(s, "hi\n");
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(inner: T) -> Killable<T> {
        let fd = inner.as_fd();
        let (mode, listener) = match sys::file_kind(fd) {
            Ok(FileKind::Socket) => {
                let listener = match sys::is_listening(fd) {
                    Ok(true) => make_nonblocking(fd),
                    _ => None,
                };
                (SOCKET, listener)
            }
            Ok(FileKind::Fifo) => (NOWAIT, None),
            Ok(FileKind::Regular) => (DIRECT, None),
            // A character device, or an fd `fstat` refuses: waiting first is
            // right for anything pollable, and harmless for the rest.
            Ok(FileKind::CharDevice) | Err(_) => (POLL_FIRST, None),
        };
        Killable {
            inner: ManuallyDrop::new(inner),
            mode: AtomicU8::new(mode),
            listener,
        }
    }

    /// The wrapped value.
    ///
    /// # Examples
    ///
    /// ```
    /// let k = killable::io::Killable::new(std::net::UdpSocket::bind("127.0.0.1:0")?);
    /// assert!(k.get_ref().local_addr()?.port() != 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped value, mutably. Reading or writing through it directly
    /// bypasses the killable waits; changing its blocking mode is harmless
    /// (`Killable` waits either way), except on a listener, which must stay
    /// non-blocking for [`accept`](Self::accept) to be killable.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut k = killable::io::Killable::new(std::net::UdpSocket::bind("127.0.0.1:0")?);
    /// k.get_mut().set_ttl(7)?;
    /// assert_eq!(k.get_ref().ttl()?, 7);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the value, putting a listener back in the blocking mode it
    /// had before [`new`](Self::new).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::TcpListener;
    /// let k = killable::io::Killable::new(TcpListener::bind("127.0.0.1:0")?);
    /// let listener: TcpListener = k.into_inner(); // blocking again
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_inner(self) -> T {
        let mut this = ManuallyDrop::new(self);
        this.restore_mode();
        // SAFETY: `this` is never used again nor dropped (`ManuallyDrop`),
        // so `inner` is taken exactly once; the other fields need no drop.
        unsafe { ManuallyDrop::take(&mut this.inner) }
    }

    /// Lets go of the listener's non-blocking mode: the last `Killable`
    /// around the socket puts its flags back.
    fn restore_mode(&self) {
        let Some(id) = self.listener else { return };
        let mut listeners = LISTENERS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some((holders, flags)) = listeners.get_mut(&id) else {
            return;
        };
        *holders -= 1;
        if *holders == 0 {
            let _ = sys::set_status_flags(self.inner.as_fd(), *flags);
            listeners.remove(&id);
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }

    // Inlined, as `wait` is: a kill then unwinds from the caller's frame,
    // and every frame between the unwind and the `catch` slows it down.
    #[inline]
    fn read_fd(&self, buf: &mut [u8]) -> io::Result<usize> {
        let fd = self.fd();
        if buf.is_empty() {
            runtime_checkpoint();
            return Ok(0);
        }
        match self.mode.load(Relaxed) {
            SOCKET => run(fd, POLLIN, || sys::recv(fd, buf)),
            NOWAIT => run(fd, POLLIN, || match sys::read_nowait(fd, buf) {
                Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                    self.mode.store(POLL_FIRST, Relaxed);
                    wait(fd, POLLIN)?;
                    sys::read(fd, buf)
                }
                r => r,
            }),
            POLL_FIRST => run(fd, POLLIN, || {
                wait(fd, POLLIN)?;
                sys::read(fd, buf)
            }),
            _ => run(fd, POLLIN, || sys::read(fd, buf)),
        }
    }

    #[inline]
    fn write_fd(&self, buf: &[u8]) -> io::Result<usize> {
        let fd = self.fd();
        if buf.is_empty() {
            runtime_checkpoint();
            return Ok(0);
        }
        // After readiness a blocking write of at most `PIPE_BUF` bytes does
        // not block (see `sys::PIPE_BUF`); a longer one could, past a kill.
        let capped = &buf[..buf.len().min(sys::PIPE_BUF)];
        match self.mode.load(Relaxed) {
            SOCKET => run(fd, POLLOUT, || sys::send(fd, buf)),
            NOWAIT => run(fd, POLLOUT, || match sys::write_nowait(fd, buf) {
                Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                    self.mode.store(POLL_FIRST, Relaxed);
                    wait(fd, POLLOUT)?;
                    sys::write(fd, capped)
                }
                r => r,
            }),
            POLL_FIRST => run(fd, POLLOUT, || {
                wait(fd, POLLOUT)?;
                sys::write(fd, capped)
            }),
            _ => run(fd, POLLOUT, || sys::write(fd, buf)),
        }
    }
}

/// Makes a listener non-blocking, or counts one more holder if a `Killable`
/// around it (or a clone of it) already did; returns its key in
/// `LISTENERS`, or `None` if that failed (then `accept` waits for readiness
/// and accepts blocking).
fn make_nonblocking(fd: BorrowedFd<'_>) -> Option<(u64, u64)> {
    let id = sys::file_id(fd).ok()?;
    let mut listeners = LISTENERS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((holders, _)) = listeners.get_mut(&id) {
        *holders += 1;
        return Some(id);
    }
    let flags = sys::status_flags(fd).ok()?;
    sys::set_status_flags(fd, flags | sys::O_NONBLOCK).ok()?;
    listeners.insert(id, (1, flags));
    Some(id)
}

/// The shape of every operation: a checkpoint (a pending kill lands before
/// anything is consumed), then non-blocking attempts, each failed one
/// followed by a killable wait for readiness.
fn run<R>(
    fd: BorrowedFd<'_>,
    events: c_short,
    mut attempt: impl FnMut() -> io::Result<R>,
) -> io::Result<R> {
    runtime_checkpoint();
    loop {
        match attempt() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait(fd, events)?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => runtime_checkpoint(),
            r => return r,
        }
    }
}

impl<T: AsFd> Drop for Killable<T> {
    fn drop(&mut self) {
        self.restore_mode();
        // SAFETY: dropped exactly once, here; `into_inner` never runs this.
        unsafe { ManuallyDrop::drop(&mut self.inner) }
    }
}

/// Reads from the fd directly; see the [module docs](crate::io).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use killable::io::Killable;
///
/// let (mut a, b) = UnixStream::pair()?;
/// let mut b = Killable::new(b);
/// a.write_all(b"ping")?;
/// let mut buf = [0; 4];
/// b.read_exact(&mut buf)?;
/// assert_eq!(&buf, b"ping");
/// # Ok::<(), std::io::Error>(())
/// ```
impl<T: AsFd + Read> Read for Killable<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_fd(buf)
    }
}

/// Reads through a shared reference, as `&TcpStream` does: one thread may
/// read while another writes.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use killable::io::Killable;
///
/// let (a, b) = UnixStream::pair()?;
/// let (a, b) = (Killable::new(a), Killable::new(b));
/// (&a).write_all(b"x")?;
/// let mut buf = [0; 1];
/// (&b).read_exact(&mut buf)?;
/// # Ok::<(), std::io::Error>(())
/// ```
impl<T: AsFd> Read for &Killable<T>
where
    for<'a> &'a T: Read,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_fd(buf)
    }
}

/// Writes to the fd directly; `flush` flushes `T`. See the
/// [module docs](crate::io).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::process::{Command, Stdio};
/// use killable::io::Killable;
///
/// let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
/// let mut stdin = Killable::new(child.stdin.take().unwrap());
/// stdin.write_all(b"meow")?;
/// drop(stdin); // end of input
/// let mut out = String::new();
/// child.stdout.take().unwrap().read_to_string(&mut out)?;
/// assert_eq!(out, "meow");
/// child.wait()?;
/// # Ok::<(), std::io::Error>(())
/// ```
impl<T: AsFd + Write> Write for Killable<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_fd(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes through a shared reference, as `&TcpStream` does.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use std::os::unix::net::UnixStream;
/// let (a, _b) = UnixStream::pair()?;
/// let a = killable::io::Killable::new(a);
/// (&a).write_all(b"hello")?;
/// # Ok::<(), std::io::Error>(())
/// ```
impl<T: AsFd> Write for &Killable<T>
where
    for<'a> &'a T: Write,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_fd(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.inner).flush()
    }
}

impl Killable<TcpListener> {
    /// Accepts a connection, waiting killably; the accepted stream is in
    /// blocking mode, as std's `accept` gives it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{TcpListener, TcpStream};
    /// let listener = killable::io::Killable::new(TcpListener::bind("127.0.0.1:0")?);
    /// let _client = TcpStream::connect(listener.get_ref().local_addr()?)?;
    /// let (_conn, peer) = listener.accept()?;
    /// assert!(peer.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (s, a) = run(self.fd(), POLLIN, || self.inner.accept())?;
        blocking_accepted(&s)?;
        Ok((s, a))
    }
}

impl Killable<UnixListener> {
    /// Accepts a connection, waiting killably; the accepted stream is in
    /// blocking mode, as std's `accept` gives it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::net::{UnixListener, UnixStream};
    /// let dir = std::env::temp_dir().join(format!("killable-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("sock");
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = killable::io::Killable::new(UnixListener::bind(&path)?);
    /// let _client = UnixStream::connect(&path)?;
    /// let (_conn, _addr) = listener.accept()?;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(&self) -> io::Result<(UnixStream, std::os::unix::net::SocketAddr)> {
        let (s, a) = run(self.fd(), POLLIN, || self.inner.accept())?;
        blocking_accepted(&s)?;
        Ok((s, a))
    }
}

/// On the BSDs and macOS an accepted socket inherits the listener's
/// `O_NONBLOCK`, which `Killable::new` set; on Linux it never does.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn blocking_accepted(s: &impl AsFd) -> io::Result<()> {
    let fd = s.as_fd();
    sys::set_status_flags(fd, sys::status_flags(fd)? & !sys::O_NONBLOCK)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn blocking_accepted(_: &impl AsFd) -> io::Result<()> {
    Ok(())
}

impl Killable<UdpSocket> {
    /// Receives one datagram and its sender's address, waiting killably.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = killable::io::Killable::new(UdpSocket::bind("127.0.0.1:0")?);
    /// a.send_to(b"hi", b.get_ref().local_addr()?)?;
    /// let mut buf = [0; 8];
    /// let (n, from) = b.recv_from(&mut buf)?;
    /// assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr()?));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let fd = self.fd();
        run(fd, POLLIN, || sys::recv_from(fd, buf))
    }

    /// Sends one datagram to `addr` (its first address, as std does),
    /// waiting killably for room in the send buffer.
    ///
    /// # Errors
    ///
    /// As std's `send_to`; `InvalidInput` if `addr` resolves to nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// let a = killable::io::Killable::new(UdpSocket::bind("127.0.0.1:0")?);
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(a.send_to(b"hi", b.local_addr()?)?, 2);
    /// let mut buf = [0; 8];
    /// assert_eq!(b.recv(&mut buf)?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let Some(addr) = addr.to_socket_addrs()?.next() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no addresses to send data to",
            ));
        };
        let fd = self.fd();
        run(fd, POLLOUT, || sys::send_to(fd, buf, &addr))
    }

    /// Receives one datagram on a connected socket, waiting killably.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// b.connect(a.local_addr()?)?;
    /// a.send_to(b"hi", b.local_addr()?)?;
    /// let b = killable::io::Killable::new(b);
    /// let mut buf = [0; 8];
    /// assert_eq!(b.recv(&mut buf)?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_fd(buf)
    }

    /// Sends one datagram on a connected socket, waiting killably.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// b.connect(a.local_addr()?)?;
    /// let b = killable::io::Killable::new(b);
    /// assert_eq!(b.send(b"hi")?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.write_fd(buf)
    }
}

impl<T: AsFd> AsFd for Killable<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd()
    }
}

impl<T: AsFd> AsRawFd for Killable<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.fd().as_raw_fd()
    }
}

impl<T: AsFd + fmt::Debug> fmt::Debug for Killable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Killable")
            .field("inner", &*self.inner)
            .finish_non_exhaustive()
    }
}
