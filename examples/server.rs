//! A line-echo server whose acceptor and connection readers all stop at
//! once on one `terminate()`, with no self-connect trick and no shutdown of
//! the listening socket.
//!
//! The acceptor runs `Killable<TcpListener>::accept` in a loop and serves
//! each connection on a killable thread reading `Killable<TcpStream>`.
//! While they wait, every one of them is blocked in a system call.
//! Terminating the acceptor wakes its `accept`; on its way out, a guard
//! that owns the connection threads terminates and joins them, and their
//! reads wake too. Each closes its connection as it unwinds (the stream's
//! `Drop`): the clients see end-of-file.
//!
//! Run: `cargo run --example server`

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use killable::io::Killable;
use killable::KillableThread;

/// Where the demo's step-by-step lines go: stdout for the example, a buffer
/// for the test that runs it (`tests/examples_blocking.rs`).
pub type Say = Arc<dyn Fn(String) + Send + Sync>;

type Log = Arc<dyn Fn(&str, String) + Send + Sync>;

/// How many clients the demo connects.
pub const CLIENTS: usize = 3;

/// How long anything here may block if a kill failed to wake it.
const SAFETY_NET: Duration = Duration::from_secs(30);

/// What the demo measured.
#[derive(Debug)]
pub struct Report {
    /// The echo each client got back.
    pub echoes: Vec<String>,
    /// From `terminate()` to the acceptor's `join()` returning, every
    /// connection thread included.
    pub terminate_to_joined: Duration,
    /// How many clients then saw end-of-file on their idle connection.
    pub clients_saw_eof: usize,
    /// The server's killable threads (named `server-…`) still running after
    /// the join.
    pub threads_left: usize,
}

/// Serves one connection: echoes each line back. The reads are
/// `Killable::read` into our own buffer, so a kill loses nothing that was
/// read (here it ends the connection anyway).
fn serve(conn: TcpStream, peer: SocketAddr, log: &Log) -> io::Result<()> {
    struct Closed<'a>(&'a Log, SocketAddr);
    impl Drop for Closed<'_> {
        fn drop(&mut self) {
            (self.0)("conn", format!("{}: closed", self.1));
        }
    }
    let _closed = Closed(log, peer);
    let conn = Killable::new(conn);
    let mut pending = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = (&conn).read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            log(
                "conn",
                format!(
                    "{peer}: echoing {:?}",
                    String::from_utf8_lossy(&line).trim_end()
                ),
            );
            (&conn).write_all(&line)?;
        }
    }
}

/// The connection threads, terminated and joined when the acceptor ends,
/// by any path: its own kill unwinds through this guard.
struct Connections(Vec<KillableThread<io::Result<()>>>);

impl Drop for Connections {
    fn drop(&mut self) {
        for t in &self.0 {
            t.terminate();
        }
        for t in self.0.drain(..) {
            let _ = t.join();
        }
    }
}

/// Accepts connections until killed, each served on a thread of its own.
fn acceptor(listener: TcpListener, log: Log) {
    let listener = Killable::new(listener);
    let mut conns = Connections(Vec::new());
    loop {
        log(
            "acceptor",
            "blocking in Killable<TcpListener>::accept".into(),
        );
        match listener.accept() {
            Ok((conn, peer)) => {
                log("acceptor", format!("accepted {peer}"));
                conns.0.retain(|t| !t.is_finished());
                let l = log.clone();
                let t = killable::Builder::new()
                    .name(format!("server-conn-{peer}"))
                    .spawn(move || serve(conn, peer, &l));
                match t {
                    Ok(t) => conns.0.push(t),
                    Err(e) => log("acceptor", format!("spawn failed: {e}")),
                }
            }
            Err(e) => log("acceptor", format!("accept failed: {e}")),
        }
    }
}

/// Runs the server, three clients, and the shutdown, telling `say`.
///
/// # Errors
///
/// If the loopback sockets cannot be set up or used.
pub fn demo(say: Say) -> io::Result<Report> {
    let server_threads = || {
        killable::registry::threads()
            .iter()
            .filter(|t| t.name().is_some_and(|n| n.starts_with("server-")))
            .count()
    };
    let t0 = Instant::now();
    let log: Log = Arc::new(move |who: &str, what: String| {
        say(format!("[{:>9.3?}] {who}: {what}", t0.elapsed()))
    });
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    log("main", format!("listening on {addr}"));
    let l = log.clone();
    let server = killable::Builder::new()
        .name("server-acceptor".into())
        .spawn(move || acceptor(listener, l))?;

    let mut clients = Vec::new();
    let mut echoes = Vec::new();
    for i in 0..CLIENTS {
        let mut c = BufReader::new(TcpStream::connect(addr)?);
        c.get_ref().set_read_timeout(Some(SAFETY_NET))?;
        c.get_mut()
            .write_all(format!("hello from client {i}\n").as_bytes())?;
        let mut echo = String::new();
        c.read_line(&mut echo)?;
        log("main", format!("client {i} got back {:?}", echo.trim_end()));
        echoes.push(echo);
        clients.push(c);
    }
    std::thread::sleep(Duration::from_millis(100));
    log(
        "main",
        format!(
            "{} server threads, all blocked in accept or read; terminating the acceptor",
            server_threads()
        ),
    );
    let killed_at = Instant::now();
    server.terminate();
    let joined = match server.join_timeout(SAFETY_NET) {
        Ok(r) => r,
        Err(_) => panic!("the server did not stop within {SAFETY_NET:?}"),
    };
    let terminate_to_joined = killed_at.elapsed();
    assert!(joined.unwrap_err().is_terminated());
    let threads_left = server_threads();
    log(
        "main",
        format!(
            "server joined {terminate_to_joined:?} after terminate(); {threads_left} server threads left"
        ),
    );
    let (eof_tx, eof) = mpsc::channel();
    for (i, mut c) in clients.into_iter().enumerate() {
        let mut rest = Vec::new();
        let n = c.read_to_end(&mut rest)?;
        log(
            "main",
            format!("client {i}: end-of-file after {n} more bytes"),
        );
        eof_tx.send(n == 0).unwrap();
    }
    drop(eof_tx);
    let clients_saw_eof = eof.iter().filter(|e| *e).count();
    Ok(Report {
        echoes,
        terminate_to_joined,
        clients_saw_eof,
        threads_left,
    })
}

fn main() -> io::Result<()> {
    let report = demo(Arc::new(|line| println!("{line}")))?;
    println!("{report:#?}");
    Ok(())
}
