//! `schedlab cluster` (placeholder: being written).
use std::process::ExitCode;

/// Cluster-mode commands.
#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Run a scenario on a real cluster.
    Run,
}

pub(super) fn run(_cmd: ClusterCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet implemented")
}
