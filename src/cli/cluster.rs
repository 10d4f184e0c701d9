//! `schedlab cluster run|clean`: cluster mode (see [`crate::kube`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::kube::api::{self, ApiStats};
use crate::kube::driver::{self, RunOptions};
use crate::kube::fidelity;
use crate::report;
use crate::scenario::{Override, Scenario};

/// Cluster-mode commands.
#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Run a scenario on a real Kubernetes cluster (KWOK fake GPU nodes),
    /// with schedlab as the scheduler; writes jobs.csv, timeline.csv,
    /// summary.json and fidelity.{md,json} (the comparison with the
    /// simulation).
    #[command(after_help = "Examples:
  scripts/control-plane.sh up
  schedlab cluster run scenarios/cluster-acceptance.toml --kubeconfig /tmp/schedlab-control-plane/kubeconfig --speedup 60
  schedlab cluster run scenarios/cluster-priority.toml --kubeconfig ~/.kube/config --context kind-schedlab --speedup 600 --out /tmp/prio")]
    Run(RunArgs),
    /// Delete everything cluster-mode runs created (namespaces, pods, KWOK
    /// nodes), found by label; e.g. after a crash.
    #[command(after_help = "Examples:
  schedlab cluster clean --kubeconfig /tmp/schedlab-control-plane/kubeconfig
  schedlab cluster clean --kubeconfig ~/.kube/config --run cluster-acceptance-mbx2k1q0")]
    Clean(CleanArgs),
}

/// Arguments of `schedlab cluster run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Kubeconfig of the cluster.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: PathBuf,
    /// Context in the kubeconfig [default: its current context].
    #[arg(long)]
    pub context: Option<String>,
    /// Scenario seconds per wall-clock second (≥ 1).
    #[arg(long, default_value_t = 60.0)]
    pub speedup: f64,
    /// Write outputs to this folder instead of <run.output_dir>/<name>-cluster.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Override a scenario field, e.g. policy.placement=worst-fit (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<Override>,
    /// Stop after this many wall-clock seconds [default: 1.5 × the
    /// simulated span at the speedup, plus 60].
    #[arg(long, value_name = "SECONDS")]
    pub max_wall_s: Option<u64>,
    /// Leave the namespace and nodes in place (remove them with `cluster clean`).
    #[arg(long)]
    pub keep: bool,
    /// Exit with status 1 when the fidelity checks fail.
    #[arg(long)]
    pub strict: bool,
    /// Print nothing but errors and the final report line.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `schedlab cluster clean`.
#[derive(Debug, clap::Args)]
pub struct CleanArgs {
    /// Kubeconfig of the cluster.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: PathBuf,
    /// Context in the kubeconfig [default: its current context].
    #[arg(long)]
    pub context: Option<String>,
    /// Only this run's objects [default: every run's].
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
}

pub(super) fn run(cmd: ClusterCommand) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cmd {
        ClusterCommand::Run(args) => rt.block_on(run_cmd(args)),
        ClusterCommand::Clean(args) => rt.block_on(clean_cmd(args)),
    }
}

async fn run_cmd(args: RunArgs) -> anyhow::Result<ExitCode> {
    let scenario = Scenario::load(&args.scenario, &args.overrides)?;
    let out = args.out.clone().unwrap_or_else(|| {
        scenario
            .output_dir
            .join(format!("{}-cluster", scenario.name))
    });
    // Bad input before the network.
    driver::check_supported(&scenario, args.speedup)?;
    let conn = api::connect(&args.kubeconfig, args.context.as_deref()).await?;
    let opts = RunOptions {
        speedup: args.speedup,
        keep: args.keep,
        max_wall: args.max_wall_s.map(Duration::from_secs),
        progress: !args.quiet,
    };
    let run = driver::run(&conn, &scenario, &opts).await?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let write = |name: &str, bytes: &[u8]| {
        report::write_atomic(&out, name, bytes)
            .with_context(|| format!("writing {}", out.join(name).display()))
    };
    write(
        "jobs.csv",
        &report::jobs_csv(&run.sim.workload, &run.result),
    )?;
    write("timeline.csv", &report::timeline_csv(&run.result))?;
    write(
        "summary.json",
        &report::summary_json(&run.info, &run.summary, Some(run.fidelity.wall_s)),
    )?;
    write("fidelity.json", &fidelity::to_json(&run.fidelity))?;
    write(
        "fidelity.md",
        fidelity::to_markdown(&run.fidelity).as_bytes(),
    )?;
    let f = &run.fidelity;
    if !args.quiet {
        print!(
            "{}",
            report::summary_table(&run.info, &run.summary, Some(f.wall_s))
        );
    }
    println!(
        "fidelity: {} · mean JCT {:+.2}% · makespan {:+.2}% · per-job JCT error mean {:.2}% p95 {:.2}% · start order {} (Kendall tau {}) · placement agreement {} · pod start latency {:.1} ms mean",
        if f.passed { "PASS" } else { "FAIL" },
        f.mean_jct_s.error_pct,
        f.makespan_s.error_pct,
        f.jct_error_pct.mean,
        f.jct_error_pct.p95,
        if f.start_order_identical {
            "identical"
        } else {
            "different"
        },
        f.kendall_tau,
        f.placement_agreement
            .map_or("n/a".to_string(), |a| format!("{:.1}%", a * 100.0)),
        f.pod_start_latency_ms.mean
    );
    println!(
        "wrote {}/{{jobs.csv,timeline.csv,summary.json,fidelity.md,fidelity.json}}",
        out.display()
    );
    if !f.complete {
        eprintln!(
            "error: the run stopped at its time limit before every job finished (raise --max-wall-s)"
        );
        return Ok(ExitCode::FAILURE);
    }
    if args.strict && !f.passed {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

async fn clean_cmd(args: CleanArgs) -> anyhow::Result<ExitCode> {
    let conn = api::connect(&args.kubeconfig, args.context.as_deref()).await?;
    let stats = ApiStats::default();
    let r = api::clean(&conn, args.run.as_deref(), &stats).await?;
    println!(
        "deleted {} namespaces ({} pods) and {} nodes{}",
        r.namespaces.len(),
        r.pods,
        r.nodes.len(),
        args.run
            .as_deref()
            .map(|id| format!(" of run {id}"))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
