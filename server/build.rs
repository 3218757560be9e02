//! Finds the query data (`queries/` at the repository root, the one source of truth) for `include_str!`.
//!
//! `server/queries` is a symbolic link to `../queries`, so that `cargo package` and `maturin sdist` copy
//! the files into the crate and a packaged crate or sdist builds on its own. A checkout made without
//! symbolic links (Git for Windows without `core.symlinks`) has a small text file there instead: then
//! the root folder is read directly. The folder chosen is passed to the crate as `LOOPSAFE_QUERIES`.
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let candidates = [manifest.join("queries"), manifest.join("..").join("queries")];
    let Some(dir) = candidates.iter().find(|d| d.join("catalog").is_dir() && d.join("python").is_dir()) else {
        panic!(
            "no query data: neither {} nor {} holds catalog/ and python/",
            candidates[0].display(),
            candidates[1].display()
        );
    };
    // include_str! tracks each file it reads; cargo scans these folders for added or removed files.
    // (No canonicalize: a Windows verbatim path would not accept the `/` that the crate appends.)
    println!("cargo::rerun-if-changed={}", dir.display());
    println!("cargo::rerun-if-changed=queries");
    println!("cargo::rustc-env=LOOPSAFE_QUERIES={}", dir.display());
}
