//! Figure (g), second half: the fast path of `killable::io`: a read on a
//! socket that already has data, against std's read of the same socket.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use killable::io::Killable;
use killable::KillableThread;

use crate::stats::{fmt_ns, median, now_ns, pin_to, Table};

/// Reads per timed batch, each of `CHUNK` bytes: the peer queues a batch
/// before it is timed, so that every read finds data.
const READS: usize = 256;
const CHUNK: usize = 64;

pub fn run_fast_path(table: &mut Table, rounds: usize) {
    let (ours, theirs) = KillableThread::spawn(move || {
        pin_to(Some(0));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut peer = TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
        let (conn, _) = listener.accept().expect("accept");
        peer.set_nodelay(true).unwrap();
        let plain = conn.try_clone().expect("clone");
        let wrapped = Killable::new(conn);
        let batch = vec![7u8; READS * CHUNK];
        let mut buf = [0u8; CHUNK];
        let fill = |peer: &mut TcpStream| {
            peer.write_all(&batch).unwrap();
            // Wait until the whole batch is queued on our side.
            let mut probe = [0u8; 1];
            while plain.peek(&mut probe).unwrap() == 0 {}
            std::thread::sleep(std::time::Duration::from_micros(200));
        };
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            // Alternate which goes first, so that both see the same machine.
            for killable_side in [round % 2 == 0, round % 2 != 0] {
                fill(&mut peer);
                let t = now_ns();
                let mut got = 0;
                while got < READS * CHUNK {
                    got += if killable_side {
                        (&wrapped).read(&mut buf).unwrap()
                    } else {
                        (&plain).read(&mut buf).unwrap()
                    };
                }
                let per_read = (now_ns() - t) as f64 / READS as f64;
                if round > 1 {
                    if killable_side {
                        &mut ours
                    } else {
                        &mut theirs
                    }
                    .push(per_read);
                }
            }
        }
        (ours, theirs)
    })
    .join()
    .expect("bench thread");
    pin_to(None);
    // Each round's two batches ran back to back: their ratio cancels what
    // the machine was doing then, and the median ratio what it did most.
    let ratios: Vec<f64> = ours.iter().zip(&theirs).map(|(o, t)| o / t).collect();
    let (o, t, r) = (median(&ours), median(&theirs), median(&ratios));
    table.check(
        "Killable<TcpStream>::read, data ready (64-byte reads)",
        format!(
            "{} per read vs std TcpStream::read {}: median paired ratio {r:.3}×",
            fmt_ns(o),
            fmt_ns(t)
        ),
        "≤ 1.10× std",
        r <= 1.10,
    );
}
