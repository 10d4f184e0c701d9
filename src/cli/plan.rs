//! `schedlab plan` (placeholder: being written).
use std::process::ExitCode;

/// Arguments of `schedlab plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {}

pub(super) fn run(_args: PlanArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet implemented")
}
