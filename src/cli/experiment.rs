//! `schedlab experiment fgd`: the FGD paper's GPU-allocation experiment on
//! openb traces (see [`crate::experiment::fgd`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use crate::experiment::fgd::{self, Config, DEFAULT_MAX_ARRIVED_PCT, DEFAULT_POLICIES, PolicySpec};
use crate::policy::placement::PlacementKind;
use crate::trace::{ImportOptions, openb};

/// `schedlab experiment …`.
#[derive(Debug, Subcommand)]
pub enum ExperimentCommand {
    /// Reproduce the FGD paper's allocation experiment (ATC'23, Fig. 9):
    /// openb pods arrive in a random order, never leave, and are inflated to
    /// 130 % of the GPU capacity; every policy's allocated GPU % is recorded
    /// against the arrived demand, averaged over seeds.
    #[command(after_help = "Examples:
  schedlab experiment fgd --pods scenarios/data/openb/openb_pod_list_default.sample.csv \\
      --nodes scenarios/data/openb/openb_node_list_gpu_node.csv --seeds 42..43 --out /tmp/fgd
  schedlab experiment fgd --pods ../shared/traces/openb/openb_pod_list_default.csv \\
      --nodes ../shared/traces/openb/openb_node_list_gpu_node.csv --policies fgd,best-fit \\
      --param dot-product.minimize=true --seeds 42..51 --out results/fgd-default")]
    Fgd(FgdArgs),
}

/// Arguments of `experiment fgd`.
#[derive(Debug, Args)]
pub struct FgdArgs {
    /// openb pod list (openb_pod_list_*.csv).
    #[arg(long, value_name = "FILE")]
    pub pods: PathBuf,
    /// openb node list (openb_node_list_*.csv).
    #[arg(long, value_name = "FILE")]
    pub nodes: PathBuf,
    /// Placement policies, comma-separated [default: fgd, best-fit, worst-fit,
    /// first-fit, random, dot-product, gpu-clustering, gpu-packing].
    #[arg(long, value_name = "LIST")]
    pub policies: Option<String>,
    /// Seeds: an inclusive range A..B, a list A,B,C or one seed.
    #[arg(long, value_name = "SEEDS", default_value = "42..51")]
    pub seeds: String,
    /// Output folder [default: results/fgd-<pod list name>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Inflate the workload to this arrived GPU demand, % of capacity.
    #[arg(long, value_name = "PCT", default_value_t = DEFAULT_MAX_ARRIVED_PCT)]
    pub max_arrived: u32,
    /// A policy parameter, POLICY.KEY=VALUE with a TOML value (repeatable),
    /// e.g. fgd.tie_break=lower-id.
    #[arg(long = "param", value_name = "POLICY.KEY=VALUE")]
    pub params: Vec<String>,
    /// Runs in parallel [default: the number of CPUs].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Print only the final table.
    #[arg(long, short)]
    pub quiet: bool,
}

pub(super) fn run(cmd: ExperimentCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ExperimentCommand::Fgd(a) => run_fgd(a),
    }
}

/// Parses `42..51` (inclusive), `1,5,9` or `7`.
pub fn parse_seeds(s: &str) -> anyhow::Result<Vec<u64>> {
    let num = |t: &str| {
        t.trim()
            .parse::<u64>()
            .with_context(|| format!("--seeds {s}: {t:?} is not a seed (a whole number ≥ 0)"))
    };
    let seeds: Vec<u64> = if let Some((a, b)) = s.split_once("..") {
        let (a, b) = (num(a)?, num(b.trim_start_matches('='))?);
        if b < a {
            bail!("--seeds {s}: the range is empty ({b} < {a})");
        }
        (a..=b).collect()
    } else {
        s.split(',').map(num).collect::<anyhow::Result<_>>()?
    };
    Ok(seeds)
}

fn parse_kind(name: &str) -> anyhow::Result<PlacementKind> {
    PlacementKind::ALL
        .into_iter()
        .find(|k| k.name() == name.trim())
        .with_context(|| {
            let names: Vec<&str> = PlacementKind::ALL.iter().map(|k| k.name()).collect();
            format!(
                "--policies: unknown placement {name:?}; expected one of {}",
                names.join(", ")
            )
        })
}

/// Parses the policy list and attaches `--param`s.
pub fn parse_policies(list: Option<&str>, params: &[String]) -> anyhow::Result<Vec<PolicySpec>> {
    let mut policies: Vec<PolicySpec> = match list {
        None => DEFAULT_POLICIES
            .iter()
            .map(|&k| PolicySpec::new(k))
            .collect(),
        Some(l) => l
            .split(',')
            .filter(|n| !n.trim().is_empty())
            .map(|n| parse_kind(n).map(PolicySpec::new))
            .collect::<anyhow::Result<_>>()?,
    };
    if policies.is_empty() {
        bail!("--policies: no policy given");
    }
    for p in params {
        let (key, value) = p
            .split_once('=')
            .with_context(|| format!("--param {p}: expected POLICY.KEY=VALUE"))?;
        let (policy, field) = key
            .trim()
            .split_once('.')
            .with_context(|| format!("--param {p}: expected POLICY.KEY=VALUE"))?;
        let kind = parse_kind(policy)?;
        let value = parse_value(value.trim());
        let mut found = false;
        for spec in policies.iter_mut().filter(|s| s.kind == kind) {
            spec.params.insert(field.to_string(), value.clone());
            found = true;
        }
        if !found {
            bail!("--param {p}: `{policy}` is not in --policies");
        }
    }
    Ok(policies)
}

/// A TOML value, or a bare word as a string (as `run --set`).
fn parse_value(s: &str) -> toml::Value {
    format!("v = {s}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(s.to_string()))
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pods".into())
}

fn run_fgd(a: FgdArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let seeds = parse_seeds(&a.seeds)?;
    let policies = parse_policies(a.policies.as_deref(), &a.params)?;
    if a.max_arrived == 0 {
        bail!("--max-arrived: expected a percentage above 0");
    }
    let (pools, _) = openb::read_nodes(&a.nodes)
        .with_context(|| format!("reading the node list {}", a.nodes.display()))?;
    let imported = openb::import(&a.pods, &ImportOptions::default())
        .with_context(|| format!("reading the pod list {}", a.pods.display()))?;
    let workload = imported.workload;
    let name = stem(&a.pods);
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("results/fgd-{name}")));
    let threads = a.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let nodes: u32 = pools.iter().map(|p| p.nodes).sum();
    let gpus: u64 = pools
        .iter()
        .map(|p| u64::from(p.nodes) * u64::from(p.gpus_per_node))
        .sum();
    if !a.quiet {
        eprintln!(
            "fgd experiment · {} pods ({}) · {nodes} nodes / {gpus} GPUs ({}) · {} policies × {} seeds · {threads} threads",
            workload.jobs.len(),
            a.pods.display(),
            a.nodes.display(),
            policies.len(),
            seeds.len()
        );
    }
    let config = Config {
        policies,
        seeds,
        max_arrived_pct: a.max_arrived,
        threads,
    };
    let quiet = a.quiet;
    let outcome = fgd::run(&workload, &pools, &config, |c, took| {
        if !quiet {
            eprintln!(
                "  {} seed {}: {} of {} pods placed, {:.2}% allocated at {}% arrived ({:.1} s)",
                c.policy,
                c.seed,
                c.pods_placed,
                c.pods_tried,
                c.points.last().map_or(0.0, |p| p.allocated_pct),
                config.max_arrived_pct,
                took.as_secs_f64()
            );
        }
    })
    .map_err(anyhow::Error::msg)?;
    let written = outcome.write(&out, &name)?;
    let mut at = vec![100];
    if config.max_arrived_pct != 100 {
        at.push(config.max_arrived_pct);
    }
    at.retain(|&x| x <= config.max_arrived_pct);
    println!(
        "{name}: mean over {} seeds (allocated and fragmented GPU, % of capacity, at arrived demand %)",
        config.seeds.len()
    );
    print!("{}", outcome.table(&at));
    if !quiet {
        for p in written {
            println!("wrote {}", p.display());
        }
        println!("{:.1} s", started.elapsed().as_secs_f64());
    }
    Ok(ExitCode::SUCCESS)
}
