//! `killable::io::Killable`: blocked reads, writes and accepts wake at once
//! on a kill, consume nothing, and leave the fd usable.
#![cfg(unix)]

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use killable::io::Killable;
use killable::{catch, checkpoint, with_timeout, KillableThread, TimedOut};

/// "At once", generously, for a noisy shared machine: a wait that the kill
/// failed to wake takes forever, so any bound tells them apart.
use support::BOUND;

#[derive(Debug)]
struct Mailbox;

/// A tiny xorshift generator: random enough for pauses and moments.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        println!("rng seed {t}");
        Rng(t | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// Joins `t`, failing the test (not hanging it) past [`BOUND`].
fn join_in_time<T>(t: KillableThread<T>, what: &str) -> Result<T, killable::JoinError> {
    let start = Instant::now();
    match t.join_timeout(BOUND) {
        Ok(r) => {
            println!("{what}: joined {:?} after the kill", start.elapsed());
            r
        }
        Err(_) => panic!("{what}: the kill did not wake the blocked call within {BOUND:?}"),
    }
}

/// Message `i`: its number, a length, then `len` bytes derived from `i`.
fn message(i: u32) -> Vec<u8> {
    let len = (i.wrapping_mul(2_654_435_761) >> 26) as usize; // 0..64
    let mut m = Vec::with_capacity(8 + len);
    m.extend_from_slice(&i.to_le_bytes());
    m.extend_from_slice(&(len as u32).to_le_bytes());
    m.extend((0..len).map(|k| (i as usize + k) as u8));
    m
}

fn fnv(h: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *h ^= u64::from(*b);
        *h = h.wrapping_mul(0x100_0000_01b3);
    }
}

/// The "raise and continue": a peer sends 10,000 numbered messages
/// with small random pauses; the reader loops on `Killable::read` inside
/// `catch::<Mailbox>` while the main thread raises `Mailbox` into it at
/// random moments. Every byte arrives exactly once, in order, and every
/// accepted raise is caught exactly once.
#[test]
fn raise_and_continue_keeps_every_byte() {
    const MESSAGES: u32 = 10_000;
    const MIN_RAISES: usize = 250;
    let (mut peer, conn) = tcp_pair();
    let (close_tx, close_rx) = mpsc::channel::<()>();
    let sent_sum = Arc::new(AtomicU64::new(0));
    let sent_done = Arc::new(AtomicBool::new(false));
    let (s, d) = (sent_sum.clone(), sent_done.clone());
    let sender = std::thread::spawn(move || {
        let mut rng = Rng::new();
        let mut h = 0xcbf2_9ce4_8422_2325;
        for i in 0..MESSAGES {
            let m = message(i);
            fnv(&mut h, &m);
            // Split some messages across two writes, so reads end anywhere.
            let cut = rng.below(m.len() as u64 + 1) as usize;
            peer.write_all(&m[..cut]).unwrap();
            if rng.below(4) == 0 {
                std::thread::sleep(Duration::from_micros(rng.below(300)));
            }
            peer.write_all(&m[cut..]).unwrap();
            if rng.below(8) == 0 {
                std::thread::sleep(Duration::from_micros(rng.below(1_000)));
            }
        }
        s.store(h, SeqCst);
        d.store(true, SeqCst);
        // Close only once the raising is over, so that raises also land on
        // a reader blocked on an idle socket at the end.
        close_rx.recv().unwrap();
        drop(peer);
    });

    let (started_tx, started) = mpsc::channel();
    let reader = KillableThread::spawn(move || {
        started_tx.send(()).unwrap();
        let mut stream = Killable::new(conn);
        let mut buf = [0u8; 97]; // odd: reads end mid-message
        let (mut h, mut pending, mut next, mut caught) =
            (0xcbf2_9ce4_8422_2325u64, Vec::new(), 0u32, 0usize);
        loop {
            match catch::<Mailbox, _, _>(|| stream.read(&mut buf)) {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => {
                    fnv(&mut h, &buf[..n]);
                    pending.extend_from_slice(&buf[..n]);
                    // Check each complete message: numbered in order, intact.
                    while pending.len() >= 8 {
                        let len = u32::from_le_bytes(pending[4..8].try_into().unwrap()) as usize;
                        if pending.len() < 8 + len {
                            break;
                        }
                        let m: Vec<u8> = pending.drain(..8 + len).collect();
                        assert_eq!(m, message(next), "message {next} damaged or out of order");
                        next += 1;
                    }
                }
                Ok(Err(e)) => panic!("read failed: {e}"),
                Err(Mailbox) => caught += 1,
            }
        }
        // A raise accepted just before the last read returned is still
        // pending: collect it here rather than drop it with the thread.
        while catch::<Mailbox, _, _>(checkpoint).is_err() {
            caught += 1;
        }
        assert!(pending.is_empty(), "{} trailing bytes", pending.len());
        (h, next, caught)
    });

    // Past the spawn's own first checkpoint: raises from now on land in the
    // reader's loop.
    started.recv().unwrap();
    let mut rng = Rng::new();
    let mut accepted = 0;
    while accepted < MIN_RAISES || !sent_done.load(SeqCst) {
        if rng.below(2) == 0 {
            std::thread::sleep(Duration::from_micros(rng.below(4_000)));
        } else {
            let until = Instant::now() + Duration::from_micros(rng.below(500));
            while Instant::now() < until {
                std::hint::spin_loop();
            }
        }
        if reader.raise(Mailbox).is_ok() {
            accepted += 1;
        }
        if !reader.is_alive() {
            panic!("the reader ended early: {:?}", reader.join().map(drop));
        }
    }
    close_tx.send(()).unwrap();
    sender.join().unwrap();
    let (h, messages, caught) = join_in_time(reader, "reader").unwrap();
    println!("{accepted} raises accepted, {caught} caught, {messages} messages");
    assert_eq!(messages, MESSAGES);
    assert_eq!(h, sent_sum.load(SeqCst), "checksum of the byte stream");
    assert_eq!(caught, accepted);
}

/// No lost wake-up: raises at random moments around a read on an idle
/// socket (before it starts, as it starts, while it sleeps) each wake it.
/// A lost one leaves the reader asleep and the test fails on its bound.
#[test]
fn raises_at_random_moments_always_wake_an_idle_reader() {
    const ROUNDS: u64 = 2_000;
    let (_peer, conn) = tcp_pair();
    let entering = Arc::new(AtomicU64::new(0));
    let e = entering.clone();
    let (ack_tx, ack) = mpsc::channel();
    let reader = KillableThread::spawn(move || {
        let mut stream = Killable::new(conn);
        let mut buf = [0u8; 16];
        for round in 1..=ROUNDS {
            e.store(round, SeqCst);
            let r = catch::<Mailbox, _, _>(|| stream.read(&mut buf));
            assert!(r.is_err(), "the idle read returned {r:?}");
            ack_tx.send(round).unwrap();
        }
    });
    let mut rng = Rng::new();
    for round in 1..=ROUNDS {
        while entering.load(SeqCst) != round {
            std::hint::spin_loop();
        }
        // 0 to ~50 µs: from before the read's first checkpoint to well
        // inside its poll.
        let until = Instant::now() + Duration::from_nanos(rng.below(50_000));
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        reader.raise(Mailbox).unwrap();
        match ack.recv_timeout(BOUND) {
            Ok(r) => assert_eq!(r, round),
            Err(_) => panic!("round {round}: the raise did not wake the read"),
        }
    }
    join_in_time(reader, "reader").unwrap();
}

#[test]
fn terminate_wakes_a_reader_on_an_idle_socket_and_the_socket_stays_usable() {
    let (mut peer, conn) = tcp_pair();
    let stream = Arc::new(Killable::new(conn));
    let s = stream.clone();
    let reader = KillableThread::spawn(move || {
        let mut buf = [0u8; 16];
        let n = (&*s).read(&mut buf);
        panic!("the idle read returned {n:?}");
    });
    std::thread::sleep(Duration::from_millis(50));
    assert!(reader.is_alive());
    reader.terminate();
    assert!(join_in_time(reader, "reader").unwrap_err().is_terminated());
    // Nothing was consumed and the fd is open: the next bytes arrive.
    peer.write_all(b"after").unwrap();
    let mut buf = [0u8; 5];
    (&*stream).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"after");
}

/// `cat` copies our pipe to its stdout, which nobody reads: once both pipes
/// are full, the writer blocks. Terminated, it must have written exactly
/// what its calls reported: `cat`'s output, read at the end, is exactly the
/// bytes `write` returned, in order.
#[test]
fn terminate_wakes_a_writer_on_a_full_pipe_with_no_unreported_write() {
    let mut cat = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = Arc::new(Killable::new(cat.stdin.take().unwrap()));
    let written = Arc::new(AtomicUsize::new(0));
    let (s, w) = (stdin.clone(), written.clone());
    let writer = KillableThread::spawn(move || {
        let chunk: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut at = 0;
        loop {
            // Each call's count is recorded before the next call can be
            // killed: this is how to keep track of every byte.
            let n = (&*s).write(&chunk[at..]).unwrap();
            w.fetch_add(n, SeqCst);
            at = (at + n) % chunk.len();
        }
    });
    // Wait until the writer is stuck: no progress for 200 ms.
    let mut last = usize::MAX;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = written.load(SeqCst);
        if now == last {
            break;
        }
        last = now;
    }
    assert!(writer.is_alive());
    writer.terminate();
    assert!(join_in_time(writer, "writer").unwrap_err().is_terminated());
    let reported = written.load(SeqCst);
    // The pipe is still open; closing it (the owner's drop) ends `cat`.
    let stdin = Arc::try_unwrap(stdin).unwrap();
    drop(stdin);
    let mut out = Vec::new();
    cat.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    cat.wait().unwrap();
    println!("{reported} bytes reported written");
    assert!(reported > 0);
    assert_eq!(
        out.len(),
        reported,
        "bytes written but not reported, or lost"
    );
    assert!(out
        .iter()
        .enumerate()
        .all(|(k, b)| *b == ((k % 10_000) as u32) as u8));
}

#[test]
fn terminate_wakes_an_accept_on_an_idle_listener_and_it_keeps_listening() {
    let listener = Arc::new(Killable::new(TcpListener::bind("127.0.0.1:0").unwrap()));
    let l = listener.clone();
    let acceptor = KillableThread::spawn(move || {
        let r = l.accept();
        panic!("nobody connected, yet accept returned {r:?}");
    });
    std::thread::sleep(Duration::from_millis(50));
    assert!(acceptor.is_alive());
    acceptor.terminate();
    assert!(join_in_time(acceptor, "acceptor")
        .unwrap_err()
        .is_terminated());
    let mut client = TcpStream::connect(listener.get_ref().local_addr().unwrap()).unwrap();
    let (mut conn, _) = listener.accept().unwrap();
    client.write_all(b"x").unwrap();
    let mut b = [0u8; 1];
    // The accepted stream is a plain blocking std stream.
    conn.read_exact(&mut b).unwrap();
    // Unwrapped, the listener is blocking again: std's accept waits.
    let listener = Arc::try_unwrap(listener).unwrap().into_inner();
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || listener.accept().map(drop));
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        !t.is_finished(),
        "std accept returned at once: still non-blocking?"
    );
    let _c = TcpStream::connect(addr).unwrap();
    t.join().unwrap().unwrap();
}

/// The listener's non-blocking mode belongs to the socket, which clones
/// share: it stays while any `Killable` wraps one of them (so the last one's
/// `accept` stays killable), and the blocking mode comes back with the last.
#[test]
fn a_listener_is_blocking_again_only_when_the_last_killable_around_it_goes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let plain = listener.try_clone().unwrap();
    let first = Killable::new(listener.try_clone().unwrap());
    let second = Killable::new(listener);
    drop(first);
    // A plain accept on the socket: at once if non-blocking; if it blocks,
    // a connection ends it, and the test fails.
    let plain = std::thread::spawn(move || (plain.accept().map(|_| ()), plain));
    let start = Instant::now();
    while !plain.is_finished() && start.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(5));
    }
    if !plain.is_finished() {
        let _unblock = TcpStream::connect(addr).unwrap();
    }
    let (r, plain) = plain.join().unwrap();
    let e = r.expect_err("non-blocking while `second` wraps the socket");
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    drop(second);
    let accepting = std::thread::spawn(move || plain.accept().map(|_| ()));
    std::thread::sleep(Duration::from_millis(50));
    let _client = TcpStream::connect(addr).unwrap();
    accepting
        .join()
        .unwrap()
        .expect("a blocking accept waits for the connection");
}

#[test]
fn terminate_wakes_a_unix_accept_and_a_udp_recv() {
    let dir = std::env::temp_dir().join(format!("killable-io-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sock");
    let _ = std::fs::remove_file(&path);
    let listener = Arc::new(Killable::new(
        std::os::unix::net::UnixListener::bind(&path).unwrap(),
    ));
    let udp = Arc::new(Killable::new(UdpSocket::bind("127.0.0.1:0").unwrap()));
    let (l, u) = (listener.clone(), udp.clone());
    let acceptor = KillableThread::spawn(move || {
        let r = l.accept();
        panic!("accept returned {r:?}");
    });
    let receiver = KillableThread::spawn(move || {
        let mut buf = [0u8; 8];
        let r = u.recv_from(&mut buf);
        panic!("recv_from returned {r:?}");
    });
    std::thread::sleep(Duration::from_millis(50));
    acceptor.terminate();
    receiver.terminate();
    assert!(join_in_time(acceptor, "unix acceptor")
        .unwrap_err()
        .is_terminated());
    assert!(join_in_time(receiver, "udp receiver")
        .unwrap_err()
        .is_terminated());
    // Both still work.
    let _c = std::os::unix::net::UnixStream::connect(&path).unwrap();
    listener.accept().unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.send_to(b"dgram", udp.get_ref().local_addr().unwrap())
        .unwrap();
    let mut buf = [0u8; 8];
    let (n, from) = udp.recv_from(&mut buf).unwrap();
    assert_eq!(
        (&buf[..n], from),
        (&b"dgram"[..], peer.local_addr().unwrap())
    );
    assert_eq!(udp.send_to(b"back", from).unwrap(), 4);
    assert_eq!(peer.recv(&mut buf).unwrap(), 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The child answers one line; until we send it, its stdout is idle.
fn echo_child() -> Child {
    Command::new("sh")
        .args(["-c", "read line; echo \"got $line\""])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn terminate_wakes_a_read_of_a_childs_stdout_and_the_pipe_stays_usable() {
    let mut child = echo_child();
    let stdout = Arc::new(Mutex::new(Killable::new(child.stdout.take().unwrap())));
    let s = stdout.clone();
    let reader = KillableThread::spawn(move || {
        let mut buf = [0u8; 16];
        let n = s.lock().unwrap().read(&mut buf);
        panic!("the idle read returned {n:?}");
    });
    std::thread::sleep(Duration::from_millis(50));
    assert!(reader.is_alive());
    reader.terminate();
    assert!(join_in_time(reader, "reader").unwrap_err().is_terminated());
    // The unwind poisoned the mutex it held; the pipe behind it is fine.
    let mut stdout = stdout.lock().unwrap_or_else(|p| p.into_inner());
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    assert_eq!(out, "got hello\n");
    child.wait().unwrap();
}

/// A raise into a reader blocked on a pipe: caught, and the next read gets
/// the child's whole answer.
#[test]
fn a_raise_wakes_a_pipe_read_and_the_next_read_gets_everything() {
    let mut child = echo_child();
    let mut stdout = Killable::new(child.stdout.take().unwrap());
    let (started_tx, started) = mpsc::channel();
    let reader = KillableThread::spawn(move || {
        let mut buf = [0u8; 64];
        started_tx.send(()).unwrap();
        let first = catch::<Mailbox, _, _>(|| stdout.read(&mut buf));
        assert!(first.is_err(), "{first:?}");
        let mut out = String::new();
        stdout.read_to_string(&mut out).unwrap();
        out
    });
    started.recv().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    reader.raise(Mailbox).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    child.stdin.take().unwrap().write_all(b"again\n").unwrap();
    assert_eq!(join_in_time(reader, "reader").unwrap(), "got again\n");
    child.wait().unwrap();
}

#[test]
fn with_timeout_around_a_read_times_out_and_the_stream_stays_usable() {
    // On the test's own thread, which is not a killable thread.
    let (mut peer, conn) = tcp_pair();
    let mut stream = Killable::new(conn);
    let mut buf = [0u8; 8];
    let start = Instant::now();
    let r = with_timeout(Duration::from_millis(100), || stream.read(&mut buf));
    let took = start.elapsed();
    assert_eq!(r.map(|r| r.ok()), Err(TimedOut));
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < BOUND, "{took:?}");
    peer.write_all(b"late").unwrap();
    assert_eq!(stream.read(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"late");
    // A read that completes inside a scope is Ok, with its bytes.
    peer.write_all(b"in time").unwrap();
    let r = with_timeout(BOUND, || stream.read(&mut buf))
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..r], b"in time");
}

#[test]
fn a_pending_raise_lands_before_the_read_and_a_later_one_at_the_next_checkpoint() {
    let (mut peer, conn) = tcp_pair();
    let stream = Arc::new(Killable::new(conn));
    let s = stream.clone();
    let (go_tx, go) = mpsc::channel::<()>();
    let (got_tx, got) = mpsc::channel();
    let (ready_tx, ready) = mpsc::channel();
    let reader = KillableThread::spawn(move || {
        let mut buf = [0u8; 4];
        ready_tx.send(()).unwrap();
        go.recv().unwrap();
        // Data and a raise are both there when the read starts: the raise
        // is delivered first, by the read's opening checkpoint...
        let first = catch::<Mailbox, _, _>(|| (&*s).read(&mut buf));
        assert!(first.is_err());
        // ...and a read that returns data returns it.
        let n = (&*s).read(&mut buf).unwrap();
        got_tx.send(buf[..n].to_vec()).unwrap();
        // A raise accepted while the thread is outside any read lands at
        // its next checkpoint, not inside a read that already returned.
        go.recv().unwrap();
        catch::<Mailbox, _, _>(checkpoint).is_err()
    });
    ready.recv().unwrap(); // past the spawn's own first checkpoint
    peer.write_all(b"data").unwrap();
    reader.raise(Mailbox).unwrap();
    go_tx.send(()).unwrap();
    let Ok(data) = got.recv_timeout(BOUND) else {
        panic!("reader: {:?}", join_in_time(reader, "reader").map(drop));
    };
    assert_eq!(data, b"data");
    reader.raise(Mailbox).unwrap();
    go_tx.send(()).unwrap();
    assert!(join_in_time(reader, "reader").unwrap());
}

#[test]
fn plain_threads_and_regular_files_just_work() {
    // Not a killable thread: a blocking read that returns when data comes.
    let (mut peer, conn) = tcp_pair();
    let t = std::thread::spawn(move || {
        let mut s = Killable::new(conn);
        let mut buf = [0u8; 3];
        s.read_exact(&mut buf).unwrap();
        buf
    });
    std::thread::sleep(Duration::from_millis(20));
    peer.write_all(b"abc").unwrap();
    assert_eq!(&t.join().unwrap(), b"abc");
    // A regular file is always ready.
    let path = std::env::temp_dir().join(format!("killable-io-file-{}", std::process::id()));
    std::fs::write(&path, b"file contents").unwrap();
    let mut f = Killable::new(std::fs::File::open(&path).unwrap());
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "file contents");
    std::fs::remove_file(&path).unwrap();
}

/// A cancel token's cancellation is a kill like the others: it wakes a read
/// under `CancelToken::run` on a plain thread, and the stream stays usable.
#[test]
fn cancel_token_wakes_a_read_and_the_stream_stays_usable() {
    let (mut peer, conn) = tcp_pair();
    let token = killable::CancelToken::new();
    let t = token.clone();
    let (started_tx, started) = mpsc::channel();
    let (woke_tx, woke) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut stream = Killable::new(conn);
        let mut buf = [0u8; 8];
        started_tx.send(()).unwrap();
        let r = t.run(|| stream.read(&mut buf));
        woke_tx.send(r.is_err()).unwrap();
        // Usable afterwards, outside the token's scope.
        let n = stream.read(&mut buf).unwrap();
        buf[..n].to_vec()
    });
    started.recv().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    token.cancel();
    // Woken by the cancellation itself, with the socket still idle.
    assert_eq!(woke.recv_timeout(BOUND), Ok(true));
    peer.write_all(b"next").unwrap();
    assert_eq!(reader.join().unwrap(), b"next");
}
