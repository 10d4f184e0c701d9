//! `schedlab baseline` and `schedlab check` (placeholder: being written).
use std::process::ExitCode;

/// Arguments of `schedlab baseline`.
#[derive(Debug, clap::Args)]
pub struct BaselineArgs {}

/// Arguments of `schedlab check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {}

pub(super) fn baseline(_args: BaselineArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet implemented")
}

pub(super) fn check(_args: CheckArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet implemented")
}
