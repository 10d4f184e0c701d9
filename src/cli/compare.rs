//! `schedlab compare`: one scenario under several policies or variants, side
//! by side (see [`crate::experiment::compare`] and docs/compare.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::experiment::compare::{self, Comparison, Variant};
use crate::report;
use crate::scenario::Override;

/// Arguments of `schedlab compare`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  schedlab compare scenarios/quickstart.toml --policies fifo,fifo-skip,sjf,tiresias
  schedlab compare scenarios/quickstart.toml --policies fifo-skip+best-fit,fifo-skip+worst-fit
  schedlab compare scenarios/synthetic.toml --variant base --variant busy:workload.filters.load_factor=1.5 \\
      --variant big:cluster.pools.0.nodes=16,workload.filters.load_factor=1.5
  schedlab compare scenarios/quickstart.toml --policies fifo,sjf --set workload.filters.first_n=500 --out /tmp/cmp

Writes compare.md, compare.csv, report.html and four charts (PNG and SVG) to
<run.output_dir>/compare-<scenario name>/ or --out DIR.")]
pub struct CompareArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Policies, comma-separated: SCHEDULER or SCHEDULER+PLACEMENT, e.g.
    /// fifo,sjf,fifo-skip+worst-fit. A scheduler other than the scenario's
    /// runs with its default parameters.
    #[arg(long, value_name = "LIST")]
    pub policies: Option<String>,
    /// A scenario variant NAME:KEY=VALUE[,KEY=VALUE…] with --set style
    /// overrides (repeatable; NAME alone is the scenario as it is). Runs after
    /// the --policies variants.
    #[arg(long = "variant", value_name = "NAME:KEY=VALUE,…")]
    pub variants: Vec<String>,
    /// Override a scenario field in every variant, e.g.
    /// workload.filters.first_n=500 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<Override>,
    /// Override the scenario's seed in every variant.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write outputs to this folder instead of
    /// <run.output_dir>/compare-<scenario name>.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Variants run in parallel [default: the number of CPUs].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Check every engine invariant after every event (slow).
    #[arg(long)]
    pub check_invariants: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

pub(super) fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut variants = Vec::new();
    if let Some(list) = &args.policies {
        for p in list.split(',').filter(|p| !p.trim().is_empty()) {
            variants.push(Variant::policy(p).map_err(|m| anyhow::anyhow!("--policies: {m}"))?);
        }
        if variants.is_empty() {
            bail!("--policies: no policy given");
        }
    }
    for v in &args.variants {
        variants.push(Variant::parse(v).map_err(anyhow::Error::msg)?);
    }
    let mut common = args.overrides.clone();
    if let Some(seed) = args.seed {
        common.push(Override {
            key: "seed".into(),
            value: toml::Value::Integer(i64::try_from(seed).context("--seed is above 2^63")?),
        });
    }
    if args.check_invariants {
        common.push(Override {
            key: "run.check_invariants".into(),
            value: toml::Value::Boolean(true),
        });
    }
    let (base, loaded) = compare::load_variants(&args.scenario, &common, &variants)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| base.output_dir.join(format!("compare-{}", base.name)));
    let threads = match args.jobs {
        Some(0) => bail!("--jobs: expected at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    if !args.quiet {
        eprintln!(
            "compare {} · {} variants · {} threads",
            base.name,
            loaded.len(),
            threads.min(loaded.len())
        );
    }
    let runs = compare::run_variants(loaded, threads.min(variants.len()))?;
    let comparison = Comparison {
        scenario: base.name.clone(),
        runs,
    };
    let written = write_outputs(&comparison, &out)?;
    if !args.quiet {
        print!("{}", comparison.text_table());
        println!("wrote {}/{{{}}}", out.display(), written.join(","));
        println!(
            "{} variants in {:.2} s",
            comparison.runs.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the comparison's files into `out`; returns their names.
pub fn write_outputs(c: &Comparison, out: &Path) -> anyhow::Result<Vec<String>> {
    let write = |name: &str, bytes: &[u8]| {
        report::write_atomic(out, name, bytes)
            .with_context(|| format!("writing {}", out.join(name).display()))
    };
    let mut names = Vec::new();
    write("compare.md", c.markdown().as_bytes())?;
    names.push("compare.md".to_string());
    write("compare.csv", &c.csv())?;
    names.push("compare.csv".to_string());
    let mut svgs = Vec::new();
    let mut stems = Vec::new();
    for (stem, chart, opts) in c.charts() {
        let svg = chart.to_svg(&opts)?;
        write(&format!("{stem}.svg"), svg.as_bytes())?;
        chart.write_with(&out.join(format!("{stem}.png")), &opts)?;
        svgs.push(svg);
        stems.push(stem);
    }
    write("report.html", c.html(&svgs).as_bytes())?;
    names.push("report.html".to_string());
    names.push(format!("{{{}}}.{{png,svg}}", stems.join(",")));
    Ok(names)
}
