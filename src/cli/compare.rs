//! `schedlab compare` (placeholder: being written).
use std::process::ExitCode;

/// Arguments of `schedlab compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {}

pub(super) fn run(_args: CompareArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet implemented")
}
