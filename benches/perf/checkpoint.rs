//! Figure (a): what `checkpoint()` costs with nothing pending, and what it
//! compiles to.

use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use crate::stats::{fmt_ns, spin_for, thread_cpu_time, Table};

/// A loop of bare checkpoints (plus the loop counter).
#[inline(never)]
pub fn loop_checks(n: u64) -> u64 {
    let mut i = 0;
    while i < n {
        killable::checkpoint();
        i += 1;
    }
    i
}

/// The same loop with no checkpoint. The empty `asm!` emits no instruction;
/// it only keeps LLVM from deleting the loop.
#[inline(never)]
pub fn loop_empty(n: u64) -> u64 {
    let mut i = 0;
    while i < n {
        // SAFETY: an empty assembly block does nothing.
        unsafe { std::arch::asm!("", options(nomem, nostack, preserves_flags)) };
        i += 1;
    }
    i
}

/// A latency-bound scalar loop (xorshift-multiply, which LLVM cannot
/// collapse algebraically), with a checkpoint on every iteration (`while`
/// loops are never strip-mined).
#[inline(never)]
pub fn chain_checked(n: u64) -> u64 {
    let mut x = n | 1;
    let mut i = 0;
    while i < n {
        killable::checkpoint();
        x = (x ^ (x >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        i += 1;
    }
    x
}

#[inline(never)]
pub fn chain_plain(n: u64) -> u64 {
    let mut x = n | 1;
    let mut i = 0;
    while i < n {
        x = (x ^ (x >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        i += 1;
    }
    x
}

/// Best thread-CPU seconds per iteration of `f(n)` over `reps` runs.
fn per_iter(reps: usize, n: u64, f: fn(u64) -> u64) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = thread_cpu_time();
        black_box(f(black_box(n)));
        best = best.min((thread_cpu_time() - t) / n as f64);
    }
    best
}

/// The disassembly of the function whose demangled name ends with `name`,
/// from the running executable, if objdump is there.
pub fn disassemble(name: &str) -> Option<Vec<String>> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new("objdump")
        .args(["-d", "-C", "--no-show-raw-insn", "-M", "intel"])
        .arg(&exe)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.ends_with(">:") {
            inside = line.contains(&format!("::{name}>:"));
            continue;
        }
        if inside {
            if line.trim().is_empty() {
                break;
            }
            lines.push(line.trim().to_string());
        }
    }
    (!lines.is_empty()).then_some(lines)
}

pub fn run(table: &mut Table) {
    let n = 50_000_000;
    let reps = 15;
    // Warm-up.
    per_iter(2, n / 10, loop_checks);
    let checks = per_iter(reps, n, loop_checks);
    let empty = per_iter(reps, n, loop_empty);
    let chk = per_iter(reps, n, chain_checked);
    let pln = per_iter(reps, n, chain_plain);
    let cost = (checks - empty).max(0.0);
    table.check(
        "checkpoint(), nothing pending: loop of bare checks, per iteration",
        format!(
            "{} ({} empty loop)",
            fmt_ns(checks * 1e9),
            fmt_ns(empty * 1e9)
        ),
        "≈ 0.3 ns",
        checks * 1e9 <= 0.6,
    );
    table.info(
        "  of which the check (difference)",
        fmt_ns(cost * 1e9),
        "one load + one not-taken branch",
    );
    table.info(
        "  in a latency-bound loop (wrapping_mul chain), per iteration",
        format!("{} vs {} plain", fmt_ns(chk * 1e9), fmt_ns(pln * 1e9)),
        format!("ratio {:.3}", chk / pln),
    );

    // The slow path: some *other* thread has a kill pending (deferred by a
    // shield), so every checkpoint in the process reads its thread-local.
    let stop = Arc::new(AtomicBool::new(false));
    let in_shield = Arc::new(AtomicBool::new(false));
    let (s2, i2) = (stop.clone(), in_shield.clone());
    let t = killable::KillableThread::spawn(move || {
        killable::shield(|| {
            i2.store(true, SeqCst);
            while !s2.load(SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        killable::checkpoint();
    });
    while !in_shield.load(SeqCst) {
        spin_for(Duration::from_micros(50));
    }
    t.terminate();
    let slow = per_iter(5, n / 20, loop_checks);
    stop.store(true, SeqCst);
    let _ = t.join();
    table.info(
        "checkpoint() while another thread has a kill pending (slow path)",
        fmt_ns(slow * 1e9),
        "thread-local read; only while a kill is in flight",
    );

    match disassemble("loop_checks") {
        Some(lines) => {
            eprintln!("  disassembly of loop_checks (a loop of checkpoint() calls):");
            for l in &lines {
                eprintln!("    {l}");
            }
            let body = hot_loop(&lines);
            let shape = body
                .iter()
                .map(|(_, i)| i.split_whitespace().next().unwrap_or(""))
                .collect::<Vec<_>>();
            let loads = body.iter().filter(|(_, i)| i.contains("PTR [")).count();
            let calls = body.iter().filter(|(_, i)| i.starts_with("call")).count();
            table.check(
                "checkpoint() inlined across crates: the loop's hot path",
                format!("{} ({loads} load, {calls} call)", shape.join(" ")),
                "1 load + 1 branch",
                loads == 1 && calls == 0,
            );
        }
        None => table.info("checkpoint() disassembly", "objdump not found", ""),
    }
}

/// The instructions of the hottest loop in `lines` (objdump output): from the
/// target of the first backward jump up to that jump, following fall-through
/// and skipping the out-of-line slow path. Each item is (address, text).
fn hot_loop(lines: &[String]) -> Vec<(u64, String)> {
    let parsed: Vec<(u64, String)> = lines
        .iter()
        .filter_map(|l| {
            let (addr, rest) = l.split_once(':')?;
            Some((
                u64::from_str_radix(addr.trim(), 16).ok()?,
                rest.trim().to_string(),
            ))
        })
        .collect();
    let target = |i: &str| -> Option<u64> {
        if !i.starts_with('j') {
            return None;
        }
        u64::from_str_radix(i.split_whitespace().nth(1)?, 16).ok()
    };
    let Some((end, head)) = parsed
        .iter()
        .find_map(|(a, i)| target(i).filter(|t| t <= a).map(|t| (*a, t)))
    else {
        return Vec::new();
    };
    parsed
        .into_iter()
        .filter(|(a, i)| {
            *a >= head && *a <= end && !i.starts_with("nop") && !i.starts_with("data16")
        })
        .take_while(|(_, i)| !i.starts_with("call") && !i.starts_with("jmp"))
        .collect()
}
