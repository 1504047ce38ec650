//! `panic = "abort"` builds: the documented behaviour (kills are refused,
//! killable code runs to completion) checked in a subprocess, since this
//! test binary itself is built with unwinding.
//!
//! Builds and runs the fixture crate `tests/fixtures/abort` (in this
//! package) with the same cargo, offline, into `<this test's target
//! dir>/abort-fixture`. The fixture gets a copy of the workspace's
//! `Cargo.lock`, so it resolves to crates the workspace build has already
//! downloaded.

use std::path::{Path, PathBuf};
use std::process::Command;

const MARKER: &str = "killable-abort-fixture: all checks passed";

/// The target directory this test binary was built into
/// (`<target>/<profile>/deps/abort-<hash>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .nth(3)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

#[test]
#[cfg_attr(miri, ignore = "runs cargo in a subprocess")]
fn kills_are_refused_in_a_panic_abort_build() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = here.join("tests/fixtures/abort");
    let workspace_lock = here.join("../Cargo.lock");
    std::fs::copy(workspace_lock, fixture.join("Cargo.lock"))
        .expect("copy the workspace's Cargo.lock to the fixture");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let out = Command::new(cargo)
        .args(["run", "--offline", "--quiet", "--manifest-path"])
        .arg(fixture.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir().join("abort-fixture"))
        // Flags meant for this build (a `--cfg`, miri's) are not the
        // fixture's business.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run cargo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the fixture failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.lines().any(|l| l == MARKER),
        "the fixture did not reach its end:\n{stdout}\n{stderr}"
    );
}
