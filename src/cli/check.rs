//! `schedlab baseline` and `schedlab check`: record scenarios' summary metrics,
//! then rerun them in CI and fail on a regression (see
//! [`crate::experiment::check`] and `docs/check.md`).
//!
//! `check` exits 0 when every metric is within its tolerance, 1 on a
//! regression or a baseline metric missing from the run, and 2 when it
//! cannot do its job (a missing or malformed baseline or tolerance file, a
//! scenario that no longer loads or runs, an unwritable report), so CI can
//! tell "the code got worse" from "the gate is broken".

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::experiment::check::{self, Baseline, Tolerances};
use crate::report;
use crate::scenario::Override;

/// Arguments of `schedlab baseline`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:
  schedlab baseline scenarios/quickstart.toml scenarios/synthetic.toml \\
      --out results/baseline/quickstart.json")]
pub struct BaselineArgs {
    /// Scenario files (TOML) to record.
    #[arg(required = true, value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    /// The baseline file to write: JSON, or TOML if it ends in .toml.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Override a field of every scenario, e.g. seed=3 (repeatable; recorded
    /// in the baseline and reapplied by `check`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<Override>,
    /// Scenarios run in parallel [default: the number of CPUs].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// Arguments of `schedlab check`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 all metrics within tolerance, 1 a regression (or a baseline
metric missing from the run), 2 an error (missing or malformed file, a scenario
that cannot run).

Example:
  schedlab check --baseline results/baseline/quickstart.json \\
      --tolerances results/baseline/tolerances.toml \\
      --junit target/check.xml --markdown target/check.md"
)]
pub struct CheckArgs {
    /// Baseline file written by `schedlab baseline`.
    #[arg(long, value_name = "FILE")]
    pub baseline: PathBuf,
    /// Tolerance file (TOML) [default: every metric exact].
    #[arg(long, value_name = "FILE")]
    pub tolerances: Option<PathBuf>,
    /// Also write the result as JUnit XML (one testcase per scenario × metric).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write the Markdown diff tables to this file.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Override a field of every scenario after its recorded overrides
    /// (repeatable), e.g. to see what a change would do to the gate.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<Override>,
    /// Scenarios run in parallel [default: the number of CPUs].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Print only the verdict and the failures, not the tables.
    #[arg(long, short)]
    pub quiet: bool,
}

pub(super) fn baseline(args: BaselineArgs) -> anyhow::Result<ExitCode> {
    let scenarios: Vec<(PathBuf, Vec<Override>)> = args
        .scenarios
        .iter()
        .map(|p| (p.clone(), args.overrides.clone()))
        .collect();
    let baseline = in_pool(args.jobs, || check::record(&scenarios))??;
    let bytes = baseline.to_bytes(&args.out)?;
    write_file(&args.out, &bytes)?;
    for s in &baseline.scenarios {
        println!("{} ({}): {} metrics", s.label(), s.path, s.metrics.len());
    }
    println!("wrote {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

pub(super) fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    // Errors exit with 2, not the usual 1, which means "regression" here.
    match run_check(&args) {
        Ok(code) => Ok(code),
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            Ok(ExitCode::from(2))
        }
    }
}

fn run_check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let baseline = Baseline::load(&args.baseline)?;
    let tolerances = match &args.tolerances {
        Some(p) => Tolerances::load(p)?,
        None => Tolerances::default(),
    };
    let report = in_pool(args.jobs, || {
        check::check(
            &baseline,
            &args.baseline,
            &tolerances,
            args.tolerances.as_deref(),
            &args.overrides,
        )
    })?;
    let md = report.markdown();
    if args.quiet {
        println!("{}", report.verdict());
    } else {
        print!("{md}");
    }
    let failures = report.failure_lines();
    if !failures.is_empty() {
        eprintln!("failures:");
        for f in &failures {
            eprintln!("  {f}");
        }
    }
    if let Some(p) = &args.markdown {
        write_file(p, md.as_bytes())?;
    }
    if let Some(p) = &args.junit {
        write_file(p, report.junit().as_bytes())?;
    }
    Ok(if report.tally().errors > 0 {
        ExitCode::from(2)
    } else if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Runs `f` on a rayon pool of `jobs` threads (rayon's global pool when
/// `None`).
fn in_pool<T: Send>(jobs: Option<usize>, f: impl FnOnce() -> T + Send) -> anyhow::Result<T> {
    match jobs {
        None => Ok(f()),
        Some(0) => anyhow::bail!("--jobs: expected at least 1"),
        Some(n) => Ok(rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .context("starting the worker threads")?
            .install(f)),
    }
}

/// Writes a whole file atomically (through a temporary file in its folder).
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?
        .to_string_lossy();
    report::write_atomic(dir, &name, bytes).with_context(|| format!("writing {}", path.display()))
}
