//! `schedlab sweep` and `schedlab merge` (placeholder: being written).
use std::process::ExitCode;

/// Arguments of `schedlab sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {}

/// Arguments of `schedlab merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {}

pub(super) fn run(_args: SweepArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet implemented")
}

pub(super) fn merge(_args: MergeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet implemented")
}
