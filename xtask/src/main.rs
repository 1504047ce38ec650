//! Robustness checks of `#[killable]` on code nobody here wrote.
//!
//! ```text
//! cargo run --manifest-path xtask/Cargo.toml -- robustness [CRATE ...]
//! ```
//! Downloads well-tested crates from crates.io (default: semver, itoa, smallvec, hex, memchr,
//! once_cell, strsim) with
//! `cargo vendor`, puts `#[::killable::killable]` on every function the attribute accepts
//! (free fns, methods, trait default methods, nested fns, test fns; `const`, `async`,
//! `extern "C"` and bodyless fns are skipped), depends them on this repository's `killable`,
//! and runs each crate's own test suite, before and after. It fails unless every crate's
//! instrumented suite passes as many tests as the original one.
//!
//! ```text
//! cargo run --manifest-path xtask/Cargo.toml -- editions
//! ```
//! Builds a small `#![no_std]` library full of attributed shapes in each edition (2015 to
//! 2024) and runs `cargo clippy -- -D warnings` on it with `#![deny(warnings)]` and
//! `#![warn(clippy::pedantic)]`: the expansion must compile everywhere and add no warning.
//! Then: the refusals give their own messages in every edition; 2015-only syntax (`async`,
//! `await`, `try`, `dyn` as identifiers, `try!`, anonymous trait parameters) is instrumented;
//! a dependency renamed in Cargo.toml works without `crate = ..` in 2015 and 2021.
//!
//! ```text
//! cargo run --manifest-path xtask/Cargo.toml -- lints
//! cargo run --manifest-path xtask/Cargo.toml -- lints --crates [CRATE ...]
//! ```
//! Compares `cargo clippy` (pedantic) diagnostics with and without the attribute on every
//! function (see `lints`): on the fixture crates of `xtask/lint-fixtures/` (offline, in
//! `.ci/run`), or on real crates downloaded as for `robustness` (the same default set).
//!
//! ```text
//! cargo run --release --manifest-path xtask/Cargo.toml -- realbench [--rounds N] [--trials N] [WORKLOAD ...]
//! ```
//! The overhead of `#[killable]` on real code nobody here wrote (see `realbench`): pinned
//! crates from crates.io, pristine and with every eligible fn annotated, linked into one
//! binary, their workloads timed side by side; then kill latency inside the annotated code.
//!
//! Work happens under `target/xtask/` of the repository; nothing here is part of
//! `cargo test --workspace`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

// The attribute's own reading of 2015 syntax, so the functions of a 2015 crate are found.
#[path = "../../killable-macros/src/edition2015.rs"]
mod edition2015;
mod layers;
mod lints;
mod realbench;
mod rewrite;

/// Well-tested crates nobody here wrote: `memchr` for SIMD and code gated by `#[cfg]` on
/// target features and architectures, `once_cell` for `#[cfg]` on cargo features, `strsim`
/// for edition 2015.
const DEFAULT_CRATES: &[&str] = &[
    "semver",
    "itoa",
    "smallvec",
    "hex",
    "memchr",
    "once_cell",
    "strsim",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("robustness") => robustness(&args[1..]),
        Some("editions") => editions(),
        Some("lints") => match args.get(1).map(String::as_str) {
            None => lints::fixtures().and_then(|f| lints::compare(&f)),
            Some("--crates") => lint_crates(&args[2..]),
            Some(other) => Err(format!("unknown argument {other}")),
        },
        Some("layers") => layers::main(&repo()),
        Some("realbench") => realbench::realbench(&args[1..]),
        _ => Err(
            "usage: xtask robustness [CRATE ...] | xtask editions | xtask lints [--crates [CRATE ...]] | xtask layers \
             | xtask realbench [ARGS ...]"
                .to_owned(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ is inside the repository")
        .to_path_buf()
}

pub(crate) fn work_dir(name: &str) -> PathBuf {
    let dir = repo().join("target").join("xtask").join(name);
    fs::create_dir_all(&dir).expect("create the work directory");
    dir
}

pub(crate) fn run(cmd: &mut Command) -> Result<String, String> {
    eprintln!("+ {cmd:?}");
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{cmd:?} failed:\n{text}"))
    }
}

/// `xtask lints --crates`: the lint comparison on real crates (the robustness set by default).
fn lint_crates(names: &[String]) -> Result<(), String> {
    let names = crate_names(names);
    let work = work_dir("lints");
    let vendor = vendor(&work, &names)?;
    let subjects = names
        .iter()
        .map(|name| {
            let dir = find_vendored(&vendor, name)?;
            Ok(lints::Subject {
                name: dir.file_name().unwrap().to_string_lossy().into_owned(),
                dir,
                all_targets: true,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    lints::compare(&subjects)
}

fn crate_names(names: &[String]) -> Vec<String> {
    if names.is_empty() {
        DEFAULT_CRATES.iter().map(|s| (*s).to_owned()).collect()
    } else {
        names.to_vec()
    }
}

/// Downloads the newest version of each crate (and what its tests need) with `cargo vendor`.
fn vendor(work: &Path, names: &[String]) -> Result<PathBuf, String> {
    let fetch = work.join("fetch");
    fs::create_dir_all(fetch.join("src")).map_err(|e| e.to_string())?;
    let deps: String = names.iter().map(|n| format!("{n} = \"*\"\n")).collect();
    fs::write(
        fetch.join("Cargo.toml"),
        format!(
            "[package]\nname = \"fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             [dependencies]\n{deps}[workspace]\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    fs::write(fetch.join("src/lib.rs"), "").map_err(|e| e.to_string())?;
    let vendor = work.join("vendor");
    let _ = fs::remove_dir_all(&vendor);
    run(Command::new("cargo")
        .args(["vendor", "--versioned-dirs", "--manifest-path"])
        .arg(fetch.join("Cargo.toml"))
        .arg(&vendor))?;
    Ok(vendor)
}

fn robustness(names: &[String]) -> Result<(), String> {
    let names = crate_names(names);
    let work = work_dir("robustness");
    let vendor = vendor(&work, &names)?;

    let mut summary = Vec::new();
    let mut ok = true;
    for name in &names {
        let source = find_vendored(&vendor, name)?;
        let version = source.file_name().unwrap().to_string_lossy().into_owned();
        let original = work.join("original").join(&version);
        let instrumented = work.join("instrumented").join(&version);
        for dir in [&original, &instrumented] {
            let _ = fs::remove_dir_all(dir);
            copy_dir(&source, dir).map_err(|e| format!("copy {source:?}: {e}"))?;
            let _ = fs::remove_file(dir.join(".cargo-checksum.json"));
        }
        detach(&original, None)?;
        detach(&instrumented, Some(&repo()))?;
        let edition = rewrite::edition(&instrumented.join("Cargo.toml"));
        let mut count = rewrite::Count::default();
        for sub in ["src", "tests"] {
            rewrite::tree(&instrumented.join(sub), &edition, &mut count)?;
        }
        let target = work.join("target");
        let before = test_counts(&original, &target)?;
        let after = test_counts(&instrumented, &target);
        let line = match &after {
            Ok(after) => {
                let same = after.passed == before.passed && after.failed == 0;
                ok &= same;
                format!(
                    "{version}: {} fns instrumented ({} skipped: const/async/extern/bodyless) in {} files; \
                     tests original {} passed / {} failed, instrumented {} passed / {} failed{}",
                    count.instrumented,
                    count.skipped,
                    count.files,
                    before.passed,
                    before.failed,
                    after.passed,
                    after.failed,
                    if same { "" } else { "  <-- MISMATCH" }
                )
            }
            Err(e) => {
                ok = false;
                format!("{version}: instrumented build or tests FAILED:\n{e}")
            }
        };
        eprintln!("{line}");
        summary.push(line);
    }
    println!("\nrobustness summary:");
    for line in &summary {
        println!("  {line}");
    }
    if ok {
        Ok(())
    } else {
        Err("some instrumented crate did not pass its own tests".to_owned())
    }
}

pub(crate) fn find_vendored(vendor: &Path, name: &str) -> Result<PathBuf, String> {
    let mut found: Vec<PathBuf> = fs::read_dir(vendor)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .rsplit_once('-')
                .map(|(n, _)| n)
                == Some(name)
        })
        .collect();
    found.sort();
    found
        .pop()
        .ok_or_else(|| format!("{name} was not vendored"))
}

/// Makes the copy its own workspace and, for the instrumented one, depends it on `killable`.
pub(crate) fn detach(dir: &Path, killable: Option<&Path>) -> Result<(), String> {
    let manifest = dir.join("Cargo.toml");
    let mut text = fs::read_to_string(&manifest).map_err(|e| e.to_string())?;
    text.push_str("\n[workspace]\n");
    if let Some(repo) = killable {
        text.push_str(&format!(
            "\n[dependencies.killable]\npath = {:?}\n",
            repo.display().to_string()
        ));
    }
    fs::write(&manifest, text).map_err(|e| e.to_string())
}

#[derive(Default)]
struct Counts {
    passed: u64,
    failed: u64,
}

fn test_counts(dir: &Path, target: &Path) -> Result<Counts, String> {
    let out = run(Command::new("cargo")
        .arg("test")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS"))?;
    let mut counts = Counts::default();
    for line in out.lines().filter(|l| l.starts_with("test result:")) {
        let number = |word: &str| -> u64 {
            line.split(';')
                .find(|part| part.trim_end().ends_with(word))
                .and_then(|part| part.split_whitespace().rev().nth(1)?.parse().ok())
                .unwrap_or(0)
        };
        counts.passed += number("passed");
        counts.failed += number("failed");
    }
    Ok(counts)
}

pub(crate) fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}

/// The shapes of the UI pass tests, as a `#![no_std]` library, in every edition.
const EDITION_LIB: &str = r#"#![no_std]
#![deny(warnings)]
#![warn(clippy::pedantic)]
#![allow(clippy::must_use_candidate)]

extern crate killable;

use killable::killable;

/// A user module named like the paths the expansion uses.
pub mod checkpoint {}

#[killable]
pub fn sum(v: &[u32]) -> u32 {
    let mut s = 0u32;
    for &x in v {
        s = s.wrapping_add(x);
    }
    'outer: for (i, x) in v.iter().enumerate() {
        if i == 3 {
            continue 'outer;
        }
        if *x == 9 {
            break 'outer;
        }
        s += x;
    }
    // An integer range: counted chunks, and `take` in a body that indexes.
    for k in 0..=3u32 {
        s ^= k;
    }
    for k in 0..v.len() / 2 {
        s += v[k] ^ v[v.len() - 1 - k];
    }
    let mut i = 0;
    while i < v.len() {
        s += v[i];
        i += 1;
    }
    let extra = loop {
        if s > 10 {
            break 1;
        }
        s += 1;
    };
    s + extra + v.iter().map(|x| x * 2).filter(|x| *x > 3).sum::<u32>()
}

/// Parses digits.
///
/// # Errors
///
/// The first byte that is not a digit, or 0 for an empty input.
#[killable]
pub fn parse(v: &[u8]) -> Result<u32, u8> {
    let mut n = 0u32;
    for &b in v {
        if !b.is_ascii_digit() {
            return Err(b);
        }
        n = n * 10 + u32::from(b - b'0');
    }
    let first = v.first().copied().ok_or(0)?;
    Ok(n + u32::from(first))
}

pub struct Counter(pub u32);

#[killable]
impl Counter {
    pub fn bump(&mut self) -> u32 {
        while !self.0.is_multiple_of(7) {
            self.0 += 1;
        }
        self.0
    }
    pub const fn get(&self) -> u32 {
        self.0
    }
}

#[killable]
pub trait Walk {
    fn step(&mut self) -> bool;
    fn walk(&mut self) -> u32 {
        let mut n = 0;
        while self.step() {
            n += 1;
        }
        n
    }
}
"#;

fn editions() -> Result<(), String> {
    let work = work_dir("editions");
    let mut results = Vec::new();
    for edition in ["2015", "2018", "2021", "2024"] {
        let dir = work.join(format!("e{edition}"));
        fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
        fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"e{edition}\"\nversion = \"0.0.0\"\nedition = \"{edition}\"\n\
                 [dependencies]\nkillable = {{ path = {:?} }}\n[workspace]\n",
                repo().display().to_string()
            ),
        )
        .map_err(|e| e.to_string())?;
        fs::write(dir.join("src/lib.rs"), EDITION_LIB).map_err(|e| e.to_string())?;
        run(Command::new("cargo")
            .args(["clippy", "--", "-D", "warnings"])
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", work.join("target")))?;
        results.push(format!(
            "edition {edition}: no_std lib, clippy -D warnings (pedantic): clean"
        ));
    }
    // Refusals read the same in every edition: the intended message, never 2015's
    // "cannot find `core`" (issue 17, shape 8).
    for edition in ["2015", "2018", "2021", "2024"] {
        let dir = fixture_crate(&work, &format!("refusals{edition}"), edition, "", REFUSALS)?;
        let out = Command::new("cargo")
            .arg("build")
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", work.join("target"))
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stderr);
        let wanted = [
            "cannot instrument a `const fn`",
            "not on a `struct`",
            "cannot instrument an `extern \"C\"` fn",
        ];
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|w| !text.contains(w))
            .collect();
        if out.status.success() || !missing.is_empty() || text.contains("cannot find") {
            return Err(format!(
                "edition {edition}: refusals not reported as intended (missing {missing:?}):\n{text}"
            ));
        }
        results.push(format!(
            "edition {edition}: refusals give the intended messages"
        ));
    }
    // 2015 syntax the current-edition parser rejects (shape 9).
    let dir = fixture_crate(&work, "syntax2015", "2015", "", SYNTAX_2015)?;
    clippy_clean(&dir, &work)?;
    results.push("edition 2015: keywords as identifiers, anonymous parameters: clean".to_owned());
    // A renamed dependency without `crate = ..` (shape 11).
    for edition in ["2015", "2021"] {
        let extern_crate = if edition == "2015" {
            "\nextern crate kl;"
        } else {
            ""
        };
        let dir = fixture_crate(
            &work,
            &format!("renamed{edition}"),
            edition,
            "package = \"killable\", ",
            &RENAMED.replacen("\n\nuse kl", &format!("{extern_crate}\n\nuse kl"), 1),
        )?;
        clippy_clean(&dir, &work)?;
        results.push(format!(
            "edition {edition}: `kl = {{ package = \"killable\" }}`, `#[kl::killable]`: clean"
        ));
    }
    for line in &results {
        println!("{line}");
    }
    Ok(())
}

/// A library crate `name` depending on this repository's `killable` (as `kl` when `rename`
/// is not empty).
fn fixture_crate(
    work: &Path,
    name: &str,
    edition: &str,
    rename: &str,
    lib: &str,
) -> Result<PathBuf, String> {
    let dir = work.join(name);
    fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
    let dep = if rename.is_empty() { "killable" } else { "kl" };
    fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"{edition}\"\n\
             [dependencies]\n{dep} = {{ {rename}path = {:?} }}\n[workspace]\n",
            repo().display().to_string()
        ),
    )
    .map_err(|e| e.to_string())?;
    fs::write(dir.join("src/lib.rs"), lib).map_err(|e| e.to_string())?;
    Ok(dir)
}

fn clippy_clean(dir: &Path, work: &Path) -> Result<String, String> {
    run(Command::new("cargo")
        .args(["clippy", "--", "-D", "warnings"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", work.join("target")))
}

// Not `no_std`: there, 2015's `::core` names the injected `extern crate core` and resolves.
const REFUSALS: &str = r#"extern crate killable;
use killable::killable;

#[killable]
pub const fn constant() {}

#[killable]
pub struct Worker;

#[killable]
pub extern "C" fn callback() {}
"#;

const SYNTAX_2015: &str = r#"#![deny(warnings)]
#![warn(clippy::pedantic)]
#![allow(anonymous_parameters, deprecated, clippy::must_use_candidate, clippy::missing_errors_doc)]

extern crate killable;
use killable::killable;

#[killable]
pub fn identifiers(async: u32) -> u32 {
    let await = async + 1;
    let try = await * 2;
    let dyn = try + 1;
    dyn * 2
}

#[killable]
pub fn old_try(s: &str) -> Result<u32, ::std::num::ParseIntError> {
    let n: u32 = try!(s.parse());
    Ok(n)
}

#[killable]
pub fn trait_object(f: &dyn Fn(u32) -> u32) -> u32 {
    let mut s = 0;
    for i in 0..10 {
        s += f(i);
    }
    s
}

#[killable]
pub trait Anonymous {
    fn required(&self, u32) -> u32;
    fn provided(&self, u32, Option<u8>) -> u32 {
        let mut n = 0;
        while n < 10 {
            n += self.required(n);
        }
        n
    }
}
"#;

const RENAMED: &str = r#"#![deny(warnings)]
#![warn(clippy::pedantic)]
#![allow(clippy::must_use_candidate)]

use kl::killable;

#[killable]
pub fn spin(n: u64) -> u64 {
    let mut i = 0;
    while i < n {
        i += 1;
    }
    i
}

pub struct Walker(pub u32);

#[killable]
impl Walker {
    pub fn walk(&mut self) -> u32 {
        for k in 0..self.0 {
            self.0 ^= k;
        }
        self.0
    }
}
"#;
