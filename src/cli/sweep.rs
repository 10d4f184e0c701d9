//! `schedlab sweep` and `schedlab merge` (docs/sweep.md).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::experiment::sweep::{self, K8sJobOptions, Shard, SweepSpec};

/// Arguments of `schedlab sweep`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  schedlab sweep scenarios/sweeps/quickstart-policies.toml
  schedlab sweep spec.toml --jobs 1 --out /tmp/sweep
  schedlab sweep spec.toml --shard 0/3 --out results/shard-0     # then: schedlab merge
  schedlab sweep spec.toml --emit-k8s-job --shards 8 --image registry/schedlab:0.1 > job.yaml")]
pub struct SweepArgs {
    /// Sweep spec (TOML): base scenario, grid, seeds, metrics (docs/sweep.md).
    pub spec: PathBuf,
    /// Output folder [default: <run.output_dir>/sweep-<spec stem>]; with
    /// --emit-k8s-job, the manifest file [default: stdout].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run only the points whose index mod N is I (0 ≤ I < N); combine the
    /// shards' folders with `schedlab merge`.
    #[arg(long, value_name = "I/N", conflicts_with = "emit_k8s_job")]
    pub shard: Option<Shard>,
    /// Worker threads [default: one per core].
    #[arg(long, short, value_name = "N")]
    pub jobs: Option<usize>,
    /// Run every point again, even those whose result file is up to date.
    #[arg(long)]
    pub force: bool,
    /// Print a Kubernetes Indexed Job (YAML) running the sweep as --shards
    /// pods, instead of running it.
    #[arg(long)]
    pub emit_k8s_job: bool,
    /// Pods of the Kubernetes Job (one shard each).
    #[arg(long, value_name = "N", requires = "emit_k8s_job")]
    pub shards: Option<u32>,
    /// Container image of the Kubernetes Job: `schedlab` on the PATH, the
    /// spec and its scenario under the working directory.
    #[arg(long, value_name = "IMAGE", requires = "emit_k8s_job")]
    pub image: Option<String>,
    /// PersistentVolumeClaim mounted at /results in the Job's pods
    /// [default: schedlab-results]; "none" mounts an emptyDir.
    #[arg(long, value_name = "NAME", requires = "emit_k8s_job")]
    pub results_claim: Option<String>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `schedlab merge`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:
  schedlab merge results/shard-0 results/shard-1 results/shard-2 --out results/sweep")]
pub struct MergeArgs {
    /// Output folders of the shards of one sweep (or any folders holding its
    /// points).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Folder to write sweep.json, points/ and the tables into (may be one of
    /// the inputs).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

pub(super) fn run(args: SweepArgs) -> anyhow::Result<ExitCode> {
    let spec = SweepSpec::load(&args.spec)?;
    if args.emit_k8s_job {
        return emit_k8s_job(&args, &spec);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| spec.output_dir.join(format!("sweep-{}", spec.stem)));
    let threads = match args.jobs {
        Some(0) | None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Some(n) => n,
    };
    let started = Instant::now();
    let plan = sweep::plan(&spec, &out, args.shard, args.force)?;
    if !args.quiet {
        let shard = args
            .shard
            .map(|s| format!(" · shard {s}: {} of them", plan.selected))
            .unwrap_or_default();
        let workers = threads.min(plan.todo.len());
        let workers = match workers {
            0 => String::new(),
            1 => " · 1 thread".to_string(),
            n => format!(" · {n} threads"),
        };
        say(format_args!(
            "sweep {}: {} grid points × {} seeds = {} points{shard}{workers}\n",
            spec.stem,
            spec.grid_points(),
            spec.seeds.len(),
            spec.total_points(),
        ))?;
    }
    let bar = progress_bar(plan.todo.len() as u64, !args.quiet);
    let done = |_: &sweep::Point| bar.inc(1);
    let result = sweep::execute(&spec, &plan.todo, &out, threads, &done);
    bar.finish_and_clear();
    result?;
    if !args.quiet {
        let stale = if plan.stale > 0 {
            format!(" ({} of them stale: made from other inputs)", plan.stale)
        } else {
            String::new()
        };
        say(format_args!(
            "ran {} points{stale}, skipped {} already done, in {:.1} s\n",
            plan.todo.len(),
            plan.skipped,
            started.elapsed().as_secs_f64()
        ))?;
    }
    if let Some(shard) = args.shard {
        if !args.quiet {
            say(format_args!(
                "shard {shard} done: wrote {}/{{sweep.json,points/}}; combine the shards with `schedlab merge DIR... --out DIR`\n",
                out.display()
            ))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let tables = sweep::tabulate(&out)?;
    tables.write(&out)?;
    if !args.quiet {
        say(format_args!(
            "\n{}\nwrote {}/{{results.csv,table.csv,table.md,points/}}\n",
            tables.table_md,
            out.display()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let tables = sweep::merge(&args.dirs, &args.out)?;
    if !args.quiet {
        say(format_args!(
            "{}\nmerged {} folders into {}/{{results.csv,table.csv,table.md,points/}}\n",
            tables.table_md,
            args.dirs.len(),
            args.out.display()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn emit_k8s_job(args: &SweepArgs, spec: &SweepSpec) -> anyhow::Result<ExitCode> {
    let shards = args
        .shards
        .context("--emit-k8s-job needs --shards N (the number of pods)")?;
    anyhow::ensure!(shards >= 1, "--shards: expected at least 1 pod");
    let image = args
        .image
        .clone()
        .context("--emit-k8s-job needs --image IMAGE (an image with schedlab and the spec)")?;
    let claim = match args.results_claim.as_deref() {
        None => Some("schedlab-results".to_string()),
        Some("none") => None,
        Some(name) => Some(name.to_string()),
    };
    let job = sweep::k8s_job(&K8sJobOptions {
        // The path as given: the container resolves it against its working
        // directory, as this shell did.
        spec: args.spec.to_string_lossy().into_owned(),
        shards,
        image,
        name: sweep::job_name(&spec.stem),
        results_claim: claim,
        threads: args.jobs.filter(|&n| n > 0),
    });
    let yaml = serde_saphyr::to_string(&job).context("writing the Job as YAML")?;
    match &args.out {
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let name = path
                .file_name()
                .context("--out: expected a file name for the manifest")?;
            crate::report::write_atomic(dir, &name.to_string_lossy(), yaml.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            if !args.quiet {
                eprintln!(
                    "wrote {} ({shards} pods); then: kubectl apply -f {}",
                    path.display(),
                    path.display()
                );
            }
        }
        None => say(format_args!("{yaml}"))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes to stdout; a closed pipe (`… | head`) ends the output quietly
/// instead of panicking as `print!` does.
fn say(text: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_fmt(text).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("writing to stdout"))
        }
        _ => Ok(()),
    }
}

/// A bar with ETA on stderr, only when stderr is a terminal.
fn progress_bar(len: u64, wanted: bool) -> ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} points · {elapsed} (eta {eta})")
            .expect("the template is valid"),
    );
    bar
}
