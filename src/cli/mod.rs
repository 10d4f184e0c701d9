//! The command line. `main` calls [`main_entry`], which parses the raw
//! arguments with clap, validates them into typed configuration (a
//! [`Scenario`]) and runs the command; errors come back up as a chain that
//! `main` prints.

mod check;
mod cluster;
mod compare;
mod experiment;
mod plan;
mod run;
mod sweep;
mod trace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::scenario::{Override, Scenario};

/// The scenario `schedlab run` uses when none is given.
pub const DEFAULT_SCENARIO: &str = "scenarios/quickstart.toml";

const EXAMPLES: &str = "\
Examples:
  schedlab run                                   # the bundled quickstart scenario
  schedlab run scenarios/synthetic.toml --seed 7
  schedlab run --set policy.scheduler=fifo --set policy.placement=worst-fit
  schedlab validate scenarios/quickstart.toml
  schedlab trace inspect ../shared/traces/philly/philly.csv --plot results/philly
  schedlab trace convert trace.csv --to canonical out.jobs.csv --load-factor 2";

/// Simulate ML workloads on Kubernetes GPU clusters, deterministically.
#[derive(Debug, Parser)]
#[command(name = "schedlab", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and write jobs.csv, timeline.csv and summary.json.
    #[command(after_help = "Examples:
  schedlab run
  schedlab run scenarios/quickstart.toml --out /tmp/qs
  schedlab run --seed 3 --set workload.filters.load_factor=1.5
  schedlab run --set run.horizon_s=86400 --check-invariants")]
    Run(RunArgs),
    /// Inspect and convert traces.
    #[command(subcommand)]
    Trace(trace::TraceCommand),
    /// Check a scenario (and its workload) without running it.
    #[command(after_help = "Example:
  schedlab validate scenarios/quickstart.toml")]
    Validate(ValidateArgs),
    /// Reproduce published experiments (the FGD paper's allocation study).
    #[command(subcommand)]
    Experiment(experiment::ExperimentCommand),
    /// Run one workload under several policies or scenario variants, side by side.
    Compare(compare::CompareArgs),
    /// Run a grid of scenario fields × seeds in parallel (resumable, shardable).
    Sweep(sweep::SweepArgs),
    /// Combine the outputs of sweep shards into one result.
    Merge(sweep::MergeArgs),
    /// Find the smallest or cheapest cluster that meets an objective.
    Plan(plan::PlanArgs),
    /// Record a baseline of scenarios' summaries for `schedlab check`.
    Baseline(check::BaselineArgs),
    /// Rerun a baseline's scenarios and fail (exit 1) on a regression.
    Check(check::CheckArgs),
    /// Run scenarios on a real Kubernetes cluster (cluster mode).
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
}

/// Arguments of `schedlab run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (TOML) [default: scenarios/quickstart.toml]
    pub scenario: Option<PathBuf>,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write outputs to this folder instead of <run.output_dir>/<name>.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Override a scenario field, e.g. policy.scheduler=sjf (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<Override>,
    /// Check every engine invariant after every event (slow).
    #[arg(long)]
    pub check_invariants: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `schedlab validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Override a scenario field before validating (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<Override>,
}

/// Parses the process arguments and runs the command.
pub fn main_entry() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Validate(args) => validate(args),
        Command::Trace(cmd) => trace::run(cmd),
        Command::Experiment(cmd) => experiment::run(cmd),
        Command::Compare(args) => compare::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Merge(args) => sweep::merge(args),
        Command::Plan(args) => plan::run(args),
        Command::Baseline(args) => check::baseline(args),
        Command::Check(args) => check::check(args),
        Command::Cluster(cmd) => cluster::run(cmd),
    }
}

fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let scenario = Scenario::load(&args.scenario, &args.overrides)?;
    let (workload, report) = scenario.build_workload()?;
    println!(
        "{}: ok: {} jobs ({}), {} nodes / {} GPUs, {} + {}",
        args.scenario.display(),
        workload.jobs.len(),
        report.source,
        scenario.cluster.total_nodes(),
        scenario.cluster.total_gpus(),
        scenario.scheduler.name(),
        scenario.placement.name()
    );
    Ok(ExitCode::SUCCESS)
}
