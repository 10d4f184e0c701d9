//! `schedlab plan`: capacity planning by a search over simulations (see
//! [`crate::experiment::plan`] and `docs/plan.md`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

use crate::experiment::plan::{self, Mode, Objective, PlanSpec, Probe};
use crate::report;
use crate::scenario::Override;

/// Arguments of `schedlab plan`.
#[derive(Debug, clap::Args)]
#[command(
    group = clap::ArgGroup::new("what").required(true).args(["pool", "pools"]),
    after_help = "Objectives (repeat --objective; all must hold):
  all-finish                every job finishes (same as unfinished=0)
  wait.STAT<=D, jct.STAT<=D queueing delay / completion time; STAT = mean, p50, p95, p99, max
  slowdown.STAT<=X          JCT / duration
  makespan<=D               last completion minus first submission
  cost<=X, cost_per_hour<=X budget: the run's cost, or Σ nodes × price_per_node_hour
  D is a duration with a unit: 90s, 30m, 1.5h; `<` is also accepted.

Examples:
  schedlab plan scenarios/quickstart.toml --pool v100 --objective 'wait.p95<=30m' --objective all-finish
  schedlab plan scenarios/synthetic.toml --pools a100,t4 --max-nodes 24 --objective 'wait.p95<=10m'"
)]
pub struct PlanArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Objective the cluster must meet (repeatable), e.g. wait.p95<=30m.
    #[arg(long = "objective", value_name = "OBJECTIVE", required = true)]
    pub objectives: Vec<Objective>,
    /// Find the smallest node count of this pool.
    #[arg(long, value_name = "NAME")]
    pub pool: Option<String>,
    /// Find the cheapest mix of these two pools (by Σ nodes × price_per_node_hour).
    #[arg(long, value_name = "A,B", value_delimiter = ',', num_args = 1)]
    pub pools: Vec<String>,
    /// Smallest count of each planned pool to try [default: 1 with --pool, 0 with --pools].
    #[arg(long, value_name = "N")]
    pub min: Option<u32>,
    /// Largest count of the pool (--pool) or of both pools together (--pools;
    /// required there) [default with --pool: 1024].
    #[arg(long, value_name = "N")]
    pub max_nodes: Option<u32>,
    /// Override a scenario field before planning (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<Override>,
    /// Write plan.md and plan.json here instead of <run.output_dir>/plan-<name>.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Simulations run in parallel in --pools mode [default: the number of CPUs].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Print only the answer.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Default upper bound of a single-pool search, nodes.
const DEFAULT_MAX_NODES: u32 = 1024;

pub(super) fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let (mode, min, max_nodes) = match (&args.pool, args.pools.as_slice()) {
        (Some(pool), []) => (
            Mode::Single { pool: pool.clone() },
            args.min.unwrap_or(1),
            args.max_nodes.unwrap_or(DEFAULT_MAX_NODES),
        ),
        (None, [a, b]) => (
            Mode::CheapestMix {
                pools: [a.clone(), b.clone()],
            },
            args.min.unwrap_or(0),
            args.max_nodes
                .context("--pools needs --max-nodes: the largest number of nodes of both pools together, to bound the search")?,
        ),
        (None, other) => anyhow::bail!(
            "--pools takes exactly two pool names, e.g. --pools a100,t4 (got {})",
            other.len()
        ),
        (Some(_), _) => anyhow::bail!("give --pool or --pools, not both"),
    };
    let spec = PlanSpec {
        mode,
        objectives: args.objectives.clone(),
        min,
        max_nodes,
    };
    let progress = !args.quiet && std::io::stderr().is_terminal();
    let on_probe = move |pools: &[String], p: &Probe| {
        if progress {
            eprintln!(
                "  probe {}: {} ({:.2} s)",
                pools
                    .iter()
                    .zip(&p.nodes)
                    .map(|(n, c)| format!("{n}={c}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                if p.meets {
                    "meets".to_string()
                } else {
                    format!("no: {}", p.why_not.join("; "))
                },
                p.wall_s
            );
        }
    };
    let run = || plan::plan(&args.scenario, &args.overrides, &spec, &on_probe);
    let plan = match args.jobs {
        None => run()?,
        Some(0) => anyhow::bail!("--jobs: expected at least 1"),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .context("starting the worker threads")?
            .install(run)?,
    };
    let out = match &args.out {
        Some(d) => d.clone(),
        None => {
            let scenario = crate::scenario::Scenario::load(&args.scenario, &args.overrides)?;
            scenario.output_dir.join(format!("plan-{}", scenario.name))
        }
    };
    let write = |name: &str, bytes: &[u8]| {
        report::write_atomic(&out, name, bytes)
            .with_context(|| format!("writing {}", out.join(name).display()))
    };
    write("plan.md", plan.markdown().as_bytes())?;
    write("plan.json", &plan.json())?;
    if !args.quiet {
        println!(
            "plan {} · {} · objective {}",
            plan.scenario,
            plan.pools.join(", "),
            plan.objectives.join(" and ")
        );
        print!("{}", plan.table(true));
    }
    match &plan.answer {
        Some(a) => println!("answer: {}", a.text),
        None => println!("no answer: nothing within the bounds meets the objective"),
    }
    if !args.quiet {
        for n in &plan.notes {
            println!("note: {n}");
        }
        let sims: f64 = plan.probes.iter().map(|p| p.wall_s).sum();
        println!(
            "{} probes in {:.2} s ({:.2} s of simulation) · wrote {}/{{plan.md,plan.json}}",
            plan.probes.len(),
            started.elapsed().as_secs_f64(),
            sims,
            out.display()
        );
    }
    // Finding no answer is a result, not an error: the table says why.
    Ok(ExitCode::SUCCESS)
}
