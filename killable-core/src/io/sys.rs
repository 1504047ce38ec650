//! The system calls `killable::io` makes, each wrapped once with its safety
//! argument. `libc` rather than `rustix`: about ten calls are needed, some
//! with flags that must be passed exactly (`RWF_NOWAIT` at offset -1,
//! `MSG_DONTWAIT | MSG_NOSIGNAL`), and `libc` is a small crate that most
//! dependency trees already build, where `rustix` would add three crates and
//! a long compile for the same handful of calls.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use libc::{c_int, c_short, c_void, socklen_t};

pub(crate) use libc::{POLLIN, POLLOUT};

/// `-1` becomes the OS error; anything else is the (non-negative) result.
fn cvt(r: isize) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

fn cvt_int(r: c_int) -> io::Result<c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `send` flags: never block, and report a closed peer as `EPIPE` rather
/// than raising `SIGPIPE` where the flag exists (elsewhere std sets
/// `SO_NOSIGPIPE` on the sockets it creates, and Rust programs ignore
/// `SIGPIPE` by default).
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    target_os = "illumos",
    target_os = "solaris"
))]
const SEND_FLAGS: c_int = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    target_os = "illumos",
    target_os = "solaris"
)))]
const SEND_FLAGS: c_int = libc::MSG_DONTWAIT;

/// What an fd is, as far as waiting on it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Socket,
    Fifo,
    /// A terminal or another character device: pollable, but without a
    /// per-call non-blocking read.
    CharDevice,
    /// A regular file, directory or block device: always ready.
    Regular,
}

pub(crate) fn file_kind(fd: BorrowedFd<'_>) -> io::Result<FileKind> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `fd` is a valid open fd for the borrow; `st` is writable
    // memory of the right type, initialized by a successful call.
    cvt_int(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: `fstat` succeeded, so it filled `st`.
    let mode = unsafe { st.assume_init() }.st_mode & libc::S_IFMT;
    Ok(match mode {
        libc::S_IFSOCK => FileKind::Socket,
        libc::S_IFIFO => FileKind::Fifo,
        libc::S_IFCHR => FileKind::CharDevice,
        _ => FileKind::Regular,
    })
}

/// What identifies the open file behind `fd`: its device and inode. Every
/// fd of one socket (`dup`s, `try_clone`s) gives the same pair, and no other
/// socket does while one of them is open.
pub(crate) fn file_id(fd: BorrowedFd<'_>) -> io::Result<(u64, u64)> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: as in `file_kind`.
    cvt_int(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: `fstat` succeeded, so it filled `st`.
    let st = unsafe { st.assume_init() };
    // The field types differ between platforms (`u64` here, `i32` or `u32`
    // elsewhere); the values only need to compare equal.
    #[allow(clippy::unnecessary_cast, clippy::cast_sign_loss)]
    Ok((st.st_dev as u64, st.st_ino as u64))
}

/// Whether the socket `fd` is listening (`SO_ACCEPTCONN`).
pub(crate) fn is_listening(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let mut v: c_int = 0;
    let mut len = size_of::<c_int>() as socklen_t;
    // SAFETY: `v` and `len` are valid for writes and `len` holds `v`'s size.
    cvt_int(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut v as *mut c_int).cast(),
            &mut len,
        )
    })?;
    Ok(v != 0)
}

/// The file status flags (`F_GETFL`).
pub(crate) fn status_flags(fd: BorrowedFd<'_>) -> io::Result<c_int> {
    // SAFETY: `F_GETFL` takes no argument and only reads the fd's flags.
    cvt_int(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })
}

pub(crate) fn set_status_flags(fd: BorrowedFd<'_>, flags: c_int) -> io::Result<()> {
    // SAFETY: `F_SETFL` with an int argument changes only the fd's flags.
    cvt_int(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) }).map(drop)
}

pub(crate) use libc::O_NONBLOCK;

/// `poll` on `fd` for `events`, and on `wake` for input if given, with no
/// timeout. Returns whether each had an event (any `revents`: errors and
/// hang-ups count as ready, so that the next call reports them).
/// An interrupted `poll` returns `(false, false)`.
pub(crate) fn poll(
    fd: BorrowedFd<'_>,
    events: c_short,
    wake: Option<BorrowedFd<'_>>,
) -> io::Result<(bool, bool)> {
    let mut fds = [
        libc::pollfd {
            fd: fd.as_raw_fd(),
            events,
            revents: 0,
        },
        libc::pollfd {
            fd: wake.map_or(-1, |w| w.as_raw_fd()),
            events: POLLIN,
            revents: 0,
        },
    ];
    let n = if wake.is_some() { 2 } else { 1 };
    // SAFETY: `fds` is an array of `n` initialized `pollfd`s, valid for
    // writes of their `revents`; the fds are open for the borrows.
    match cvt_int(unsafe { libc::poll(fds.as_mut_ptr(), n, -1) }) {
        Ok(_) => Ok((fds[0].revents != 0, fds[1].revents != 0)),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok((false, false)),
        Err(e) => Err(e),
    }
}

pub(crate) fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
    cvt(unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    })
}

pub(crate) fn send(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
    cvt(unsafe { libc::send(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), SEND_FLAGS) })
}

pub(crate) fn recv_from(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = size_of::<libc::sockaddr_storage>() as socklen_t;
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; `storage` for
    // writes of `len` bytes, `len` for a write of the address's length.
    let n = cvt(unsafe {
        libc::recvfrom(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
            storage.as_mut_ptr().cast(),
            &mut len,
        )
    })?;
    // SAFETY: zero-initialized, and a `sockaddr_storage` is plain data.
    let storage = unsafe { storage.assume_init() };
    Ok((n, from_sockaddr(&storage, len)?))
}

pub(crate) fn send_to(fd: BorrowedFd<'_>, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
    let (storage, len) = to_sockaddr(addr);
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes, `storage` for
    // reads of `len` bytes holding a socket address of that length.
    cvt(unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            SEND_FLAGS,
            (&storage as *const libc::sockaddr_storage).cast(),
            len,
        )
    })
}

fn from_sockaddr(s: &libc::sockaddr_storage, len: socklen_t) -> io::Result<SocketAddr> {
    let len = len as usize;
    match s.ss_family as c_int {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a `sockaddr_in`, of
            // which `len` bytes were written; storage is aligned for any
            // socket address type.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Ok(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for a `sockaddr_in6`.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not an IPv4 or IPv6 socket address",
        )),
    }
}

fn to_sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, socklen_t) {
    // SAFETY: all-zero is a valid `sockaddr_storage` (plain data).
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let p = (&mut storage as *mut libc::sockaddr_storage).cast::<c_void>();
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: the storage is large and aligned enough for any
            // socket address, and zeroed; we fill one `sockaddr_in`.
            let sin = unsafe { &mut *p.cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from(*a.ip()).to_be(),
            };
            set_len(sin, size_of::<libc::sockaddr_in>());
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above, for one `sockaddr_in6`.
            let sin6 = unsafe { &mut *p.cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: a.ip().octets(),
            };
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_scope_id = a.scope_id();
            set_len6(sin6, size_of::<libc::sockaddr_in6>());
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as socklen_t)
}

// BSD-derived systems carry the address length in the address itself.
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
fn set_len(sin: &mut libc::sockaddr_in, len: usize) {
    sin.sin_len = len as u8;
}
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
fn set_len6(sin6: &mut libc::sockaddr_in6, len: usize) {
    sin6.sin6_len = len as u8;
}
#[cfg(not(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
)))]
fn set_len(_: &mut libc::sockaddr_in, _: usize) {}
#[cfg(not(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
)))]
fn set_len6(_: &mut libc::sockaddr_in6, _: usize) {}

/// `read(2)`: blocks if the fd is blocking and nothing is there.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
    cvt(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// `write(2)`.
pub(crate) fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
    cvt(unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) })
}

/// A read that fails with `WouldBlock` instead of blocking, without
/// changing the fd's mode (`preadv2(RWF_NOWAIT)` at the current offset).
/// `Unsupported` where the kernel has no such read for this file.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn read_nowait(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: one iovec describing `buf`, valid for writes of its length;
    // offset -1 means the current file position, as `read` uses.
    nowait_result(cvt(unsafe {
        libc::preadv2(fd.as_raw_fd(), &iov, 1, -1, libc::RWF_NOWAIT)
    }))
}

/// The write counterpart of [`read_nowait`]: writes what fits now.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn write_nowait(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    let iov = libc::iovec {
        iov_base: buf.as_ptr() as *mut c_void,
        iov_len: buf.len(),
    };
    // SAFETY: one iovec describing `buf`, only read from by `pwritev2`.
    nowait_result(cvt(unsafe {
        libc::pwritev2(fd.as_raw_fd(), &iov, 1, -1, libc::RWF_NOWAIT)
    }))
}

/// Maps the "no per-call non-blocking mode here" errors to `Unsupported`
/// (`EOPNOTSUPP` from kernels or files without it, `ENOSYS` before Linux
/// 4.6, `EINVAL` before `RWF_NOWAIT` existed).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn nowait_result(r: io::Result<usize>) -> io::Result<usize> {
    match r {
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP | libc::ENOSYS | libc::EINVAL)
            ) =>
        {
            Err(io::ErrorKind::Unsupported.into())
        }
        r => r,
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn read_nowait(_: BorrowedFd<'_>, _: &mut [u8]) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn write_nowait(_: BorrowedFd<'_>, _: &[u8]) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

/// How much a blocking write to a pipe may ask for after `poll` reported it
/// writable and still not block: POSIX makes writes of at most `PIPE_BUF`
/// bytes atomic, and Linux and the BSDs report `POLLOUT` only with at least
/// that much room.
pub(crate) const PIPE_BUF: usize = libc::PIPE_BUF;

/// The wake fd's two ends (the same fd for an eventfd).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn wake_fds() -> io::Result<(OwnedFd, Option<OwnedFd>)> {
    // SAFETY: no pointers; a new fd is returned or -1.
    let fd = cvt_int(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
    // SAFETY: `fd` was just created and is owned by nobody else.
    Ok((unsafe { OwnedFd::from_raw_fd(fd) }, None))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn wake_fds() -> io::Result<(OwnedFd, Option<OwnedFd>)> {
    let mut fds: [std::os::fd::RawFd; 2] = [-1, -1];
    // SAFETY: `fds` is valid for writes of two fds.
    cvt_int(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
    // SAFETY: both fds were just created and are owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    for fd in [&r, &w] {
        use std::os::fd::AsFd;
        let fd = fd.as_fd();
        set_status_flags(fd, status_flags(fd)? | O_NONBLOCK)?;
        // SAFETY: `F_SETFD` with an int argument changes only the fd's flags.
        cvt_int(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
    }
    Ok((r, Some(w)))
}

/// Signals the wake fd: adds one to the eventfd counter, or writes a byte to
/// the pipe. Errors are ignored: `EAGAIN` means it is signalled already.
pub(crate) fn signal(fd: BorrowedFd<'_>) {
    let one = 1u64.to_ne_bytes();
    // An eventfd takes exactly 8 bytes; a pipe one byte.
    let len = if cfg!(any(target_os = "linux", target_os = "android")) { 8 } else { 1 };
    let _ = write(fd, &one[..len]);
}

/// Empties the wake fd (non-blocking): resets the eventfd counter, or reads
/// the pipe until it is empty.
pub(crate) fn drain(fd: BorrowedFd<'_>) {
    let mut buf = [0u8; 64];
    while matches!(read(fd, &mut buf), Ok(n) if n > 0) {
        if cfg!(any(target_os = "linux", target_os = "android")) {
            break;
        }
    }
}
