//! Running the `schedlab` binary from the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The checkout (where the bundled scenarios are).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `schedlab ARGS` from the checkout.
pub fn schedlab(args: &[&str]) -> Output {
    schedlab_in(&root(), args)
}

/// Runs `schedlab ARGS` from `dir`.
pub fn schedlab_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_schedlab"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

/// The command's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
