//! `xtask realbench`: the cost of `#[killable]` on real crates nobody here wrote.
//!
//! Vendors the crates below at pinned versions, makes two copies of each, one pristine and one
//! with `#[::killable::killable]` on every eligible fn (the `robustness` rewrite), renames the
//! annotated package (`semver` → `semver-killable`, used as `k_semver`), and builds
//! `xtask/realbench/main.rs` against both in one release binary, with code alignment fixed as
//! `benches/perf` does, so the ratios measure the code rather than where it landed. Arguments
//! after `realbench` go to that binary (`--rounds N`, `--trials N`, workload filters).

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::{copy_dir, find_vendored, repo, rewrite, run, work_dir};

/// The crates, pinned: parsing, text, collections, compression, hashing, number formatting
/// and a recursive algorithm.
const CRATES: &[(&str, &str)] = &[
    ("semver", "1.0.26"),
    ("strsim", "0.11.1"),
    ("smallvec", "1.13.2"),
    ("miniz_oxide", "0.8.9"),
    ("siphasher", "1.0.1"),
    ("ryu", "1.0.18"),
    ("itoa", "1.0.11"),
    ("smawk", "0.3.2"),
];

const ALIGN: &str = "-C llvm-args=-align-all-functions=6 -C llvm-args=-align-loops=64";

pub fn realbench(args: &[String]) -> Result<(), String> {
    let work = work_dir("realbench");
    let fetch = work.join("fetch");
    fs::create_dir_all(fetch.join("src")).map_err(|e| e.to_string())?;
    let pinned: String = CRATES
        .iter()
        .map(|(n, v)| format!("{n} = \"={v}\"\n"))
        .collect();
    write(
        &fetch.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             [dependencies]\n{pinned}[workspace]\n"
        ),
    )?;
    write(&fetch.join("src/lib.rs"), "")?;
    let vendor = work.join("vendor");
    if !vendor.exists() {
        run(Command::new("cargo")
            .args(["vendor", "--versioned-dirs", "--manifest-path"])
            .arg(fetch.join("Cargo.toml"))
            .arg(&vendor))?;
    }

    let bench = work.join("bench");
    let mut deps = String::new();
    for (name, version) in CRATES {
        let source = find_vendored(&vendor, name)?;
        let pristine = work.join("pristine").join(name);
        let annotated = work.join("annotated").join(name);
        // Rewritten on every run, so a change to the attribute's placement is what is measured.
        for dir in [&pristine, &annotated] {
            let _ = fs::remove_dir_all(dir);
            copy_dir(&source, dir).map_err(|e| format!("copy {source:?}: {e}"))?;
            let _ = fs::remove_file(dir.join(".cargo-checksum.json"));
        }
        manifest(&pristine, None)?;
        manifest(&annotated, Some(&format!("{name}-killable")))?;
        let edition = rewrite::edition(&annotated.join("Cargo.toml"));
        let mut count = rewrite::Count::default();
        rewrite::tree(&annotated.join("src"), &edition, &mut count)?;
        eprintln!(
            "{name} {version}: {} fns annotated ({} skipped) in {} files",
            count.instrumented, count.skipped, count.files
        );
        deps.push_str(&format!(
            "{name} = {{ path = {:?} }}\nk_{name} = {{ package = \"{name}-killable\", path = {:?} }}\n",
            pristine.display().to_string(),
            annotated.display().to_string()
        ));
    }
    fs::create_dir_all(bench.join("src")).map_err(|e| e.to_string())?;
    write(
        &bench.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"realbench\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             [dependencies]\n{deps}libc = \"0.2\"\nkillable = {{ path = {:?} }}\n\
             [profile.release]\ndebug = false\n[workspace]\n",
            repo().display().to_string()
        ),
    )?;
    fs::copy(
        repo().join("xtask/realbench/main.rs"),
        bench.join("src/main.rs"),
    )
    .map_err(|e| e.to_string())?;
    let target = work.join("target");
    run(Command::new("cargo")
        .args(["build", "--release", "--manifest-path"])
        .arg(bench.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .env("RUSTFLAGS", ALIGN))?;
    let exe = target.join("release/realbench");
    eprintln!("+ {} {}", exe.display(), args.join(" "));
    let status = Command::new(&exe)
        .args(args)
        .status()
        .map_err(|e| format!("{exe:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{exe:?} failed: {status}"))
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("{path:?}: {e}"))
}

/// Makes the copy its own workspace (it lives under this repository's `target/`), drops its
/// dev-dependencies (never built here), and for the annotated copy renames the package and
/// depends it on `killable`. The library keeps its crate name, so `$crate` paths and the
/// crate's own absolute paths resolve as before.
fn manifest(dir: &Path, rename: Option<&str>) -> Result<(), String> {
    let path = dir.join("Cargo.toml");
    let text = fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let mut out = String::new();
    let mut section = String::new();
    let mut named_lib = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.to_owned();
            named_lib |= section == "[lib]" && text.contains("[lib]\nname");
        }
        if section.starts_with("[dev-dependencies") {
            continue;
        }
        if section == "[package]" && trimmed.starts_with("name =") {
            if let Some(new) = rename {
                out.push_str(&format!("name = \"{new}\"\n"));
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    if let Some(new) = rename {
        let old = new.trim_end_matches("-killable");
        if !named_lib {
            if text.contains("\n[lib]\n") {
                out = out.replacen("\n[lib]\n", &format!("\n[lib]\nname = \"{old}\"\n"), 1);
            } else {
                out.push_str(&format!("\n[lib]\nname = \"{old}\"\n"));
            }
        }
        out.push_str(&format!(
            "\n[dependencies.killable]\npath = {:?}\n",
            repo().display().to_string()
        ));
    }
    out.push_str("\n[workspace]\n");
    write(&path, &out)
}
