//! `schedlab trace inspect` and `schedlab trace convert`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};

use crate::report::inspect::{inspect_plots, inspect_text};
use crate::report::write_atomic;
use crate::trace::{self, ImportOptions, Imported, TraceFormat, WorkerShape, canonical, export};
use crate::workload::filter::{self, FilterSpec, OverMax, TimeWindow};
use crate::workload::stats::WorkloadStats;

/// `schedlab trace …`.
#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Tell what is in a trace: jobs, arrivals, GPU demand, durations,
    /// tenants, statuses, and rows skipped and why.
    #[command(after_help = "Examples:
  schedlab trace inspect ../shared/traces/philly/philly.csv
  schedlab trace inspect ../shared/traces/openb/openb_pod_list_default.csv --plot results/openb
  schedlab trace inspect scenarios/data/itp/cluster10-sample.csv --lenient --json")]
    Inspect(InspectArgs),
    /// Convert a trace to schedlab's canonical job CSV (or to ITP), optionally
    /// transformed on the way.
    #[command(after_help = "Examples:
  schedlab trace convert ../shared/traces/philly/philly.csv --to canonical results/philly.jobs.csv
  schedlab trace convert philly.csv --to canonical day2.jobs.csv --window 86400:172800 --load-factor 2
  schedlab trace convert pods.csv --format openb --to canonical out.csv --sample 0.1 --seed 7 --map-model P100=V100")]
    Convert(ConvertArgs),
}

/// How trace rows become jobs.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Trace format; detected from the header when omitted.
    #[arg(long, value_parser = parse_format)]
    pub format: Option<TraceFormat>,
    /// Skip bad rows (counting them by reason) instead of stopping at the first.
    #[arg(long)]
    pub lenient: bool,
    /// GPUs per node: jobs larger than this become multi-node gangs.
    #[arg(long, default_value_t = 8)]
    pub node_gpus: u32,
    /// `node`: a large job becomes node-sized workers; `gpu`: one worker per GPU.
    #[arg(long, value_enum, default_value_t = ShapeArg::Node)]
    pub worker_shape: ShapeArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ShapeArg {
    Node,
    Gpu,
}

/// Transformations, applied in this order: window, status, tenant, sample,
/// first N, GPU cap, model map, duration scale, load factor.
#[derive(Debug, Args, Default)]
pub struct TransformArgs {
    /// Keep jobs submitted in [START, END) seconds (END optional), shifted to 0.
    #[arg(long, value_name = "START:END")]
    pub window: Option<String>,
    /// Keep only jobs with this trace status (repeatable).
    #[arg(long = "status", value_name = "STATUS")]
    pub statuses: Vec<String>,
    /// Keep only jobs of this tenant (repeatable).
    #[arg(long = "tenant", value_name = "TENANT")]
    pub tenants: Vec<String>,
    /// Keep each job with this probability (0 < p ≤ 1), drawn from --seed.
    #[arg(long, value_name = "FRACTION")]
    pub sample: Option<f64>,
    /// Seed of --sample.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Keep the first N jobs.
    #[arg(long, value_name = "N")]
    pub first: Option<u32>,
    /// Cap on whole GPUs per job.
    #[arg(long, value_name = "GPUS")]
    pub max_gpus: Option<u32>,
    /// Drop jobs above --max-gpus instead of shrinking them.
    #[arg(long)]
    pub drop_over_max: bool,
    /// Rename a GPU model in allowed-model lists (repeatable).
    #[arg(long = "map-model", value_name = "FROM=TO")]
    pub map_models: Vec<String>,
    /// Multiply every duration by this factor.
    #[arg(long, value_name = "FACTOR")]
    pub duration_scale: Option<f64>,
    /// Multiply the arrival rate by this factor (2 = twice as many jobs per hour).
    #[arg(long, value_name = "FACTOR")]
    pub load_factor: Option<f64>,
}

/// Arguments of `trace inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The trace file (for PAI, the folder of tables).
    pub file: PathBuf,
    #[command(flatten)]
    pub import: ImportArgs,
    #[command(flatten)]
    pub transform: TransformArgs,
    /// Also write PNG charts (GPUs per job, durations, arrival rate) here.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `trace convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The trace file (for PAI, the folder of tables).
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum)]
    pub to: OutFormat,
    /// Output file.
    pub out: PathBuf,
    #[command(flatten)]
    pub import: ImportArgs,
    #[command(flatten)]
    pub transform: TransformArgs,
}

/// Formats `trace convert` writes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutFormat {
    /// schedlab's lossless job CSV.
    Canonical,
    /// ITP/ElasticFlow CSV (whole GPUs, times rounded to seconds).
    Itp,
}

fn parse_format(s: &str) -> Result<TraceFormat, String> {
    s.parse()
}

pub(super) fn run(cmd: TraceCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TraceCommand::Inspect(a) => inspect(a),
        TraceCommand::Convert(a) => convert(a),
    }
}

/// Imports `file` as told, then applies the transformations.
fn load(
    file: &Path,
    import: &ImportArgs,
    transform: &TransformArgs,
) -> anyhow::Result<(Imported, TraceFormat, Option<String>)> {
    let format = match import.format {
        Some(f) => f,
        None => trace::detect_format(file)?.with_context(|| {
            let names: Vec<&str> = TraceFormat::ALL.iter().map(|f| f.name()).collect();
            format!(
                "{}: cannot tell the trace format from its header; pass --format (one of {})",
                file.display(),
                names.join(", ")
            )
        })?,
    };
    let opts = ImportOptions {
        worker_shape: match import.worker_shape {
            ShapeArg::Node => WorkerShape::Node,
            ShapeArg::Gpu => WorkerShape::Gpu,
        },
        node_gpus: import.node_gpus,
        lenient: import.lenient,
        ..ImportOptions::default()
    };
    let mut imported = trace::read_trace(file, format, &opts)?;
    let spec = transform.to_spec()?;
    spec.validate()
        .map_err(|m| anyhow::anyhow!("{}", m.replace("workload.filters.", "--")))?;
    let (workload, stats) = filter::apply(imported.workload, &spec, transform.seed);
    imported.workload = workload;
    Ok((imported, format, stats.describe()))
}

impl TransformArgs {
    fn to_spec(&self) -> anyhow::Result<FilterSpec> {
        let window = self
            .window
            .as_deref()
            .map(|w| -> anyhow::Result<TimeWindow> {
                let (start, end) = w.split_once(':').unwrap_or((w, ""));
                let num = |s: &str| {
                    s.trim()
                        .parse::<f64>()
                        .with_context(|| format!("--window {w}: {s:?} is not a number of seconds"))
                };
                Ok(TimeWindow {
                    start_s: if start.trim().is_empty() {
                        0.0
                    } else {
                        num(start)?
                    },
                    end_s: if end.trim().is_empty() {
                        None
                    } else {
                        Some(num(end)?)
                    },
                })
            })
            .transpose()?;
        let gpu_model_map = self
            .map_models
            .iter()
            .map(|m| {
                m.split_once('=')
                    .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
                    .with_context(|| format!("--map-model {m}: expected FROM=TO"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(FilterSpec {
            window,
            statuses: (!self.statuses.is_empty()).then(|| self.statuses.clone()),
            tenants: (!self.tenants.is_empty()).then(|| self.tenants.clone()),
            sample: self.sample,
            first_n: self.first,
            max_gpus_per_job: self.max_gpus,
            over_max: if self.drop_over_max {
                OverMax::Drop
            } else {
                OverMax::Clamp
            },
            gpu_model_map,
            duration_scale: self.duration_scale,
            load_factor: self.load_factor,
        })
    }
}

fn inspect(a: InspectArgs) -> anyhow::Result<ExitCode> {
    let (imported, format, filtered) = load(&a.file, &a.import, &a.transform)?;
    let stats = WorkloadStats::compute(&imported.workload);
    let source = format!("{} ({format} trace)", a.file.display());
    if a.json {
        let v = serde_json::json!({
            "file": a.file.display().to_string(),
            "format": format.name(),
            "import": imported.report,
            "filters": filtered,
            "stats": stats,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", inspect_text(&source, &imported.report, &stats));
        if let Some(line) = filtered {
            println!("{line}");
        }
    }
    if let Some(dir) = &a.plot {
        let title = a
            .file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let written = inspect_plots(dir, &title, &stats)?;
        if !a.json {
            for p in written {
                println!("wrote {}", p.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn convert(a: ConvertArgs) -> anyhow::Result<ExitCode> {
    let (imported, format, filtered) = load(&a.file, &a.import, &a.transform)?;
    let bytes = match a.to {
        OutFormat::Canonical => canonical::to_bytes(&imported.workload),
        OutFormat::Itp => export::to_itp_bytes(&imported.workload)
            .map_err(|m| anyhow::anyhow!("{}: {m}", a.out.display()))?,
    };
    let dir = a
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = a
        .out
        .file_name()
        .context("the output path has no file name")?
        .to_string_lossy()
        .into_owned();
    write_atomic(dir, &name, &bytes).with_context(|| format!("writing {}", a.out.display()))?;
    let r = &imported.report;
    eprintln!(
        "{} ({format}): {} rows read, {} skipped; wrote {} jobs to {}",
        a.file.display(),
        r.rows,
        r.skipped_rows(),
        imported.workload.jobs.len(),
        a.out.display()
    );
    for line in r.skipped_lines() {
        eprintln!("{line}");
    }
    for note in &r.notes {
        eprintln!("note: {note}");
    }
    if let Some(line) = filtered {
        eprintln!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
