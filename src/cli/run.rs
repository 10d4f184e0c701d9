//! `schedlab run`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{DEFAULT_SCENARIO, RunArgs};
use crate::engine::Progress;
use crate::experiment::{self, ScenarioRun};
use crate::metrics::Summary;
use crate::report;
use crate::scenario::{Override, Scenario};

pub(super) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let path = args
        .scenario
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SCENARIO));
    if args.scenario.is_none() && !path.exists() {
        anyhow::bail!(
            "no scenario given and {DEFAULT_SCENARIO} is not here: run from the schedlab checkout or name a scenario file"
        );
    }
    let mut overrides = args.overrides.clone();
    if let Some(seed) = args.seed {
        overrides.push(Override {
            key: "seed".into(),
            value: toml::Value::Integer(i64::try_from(seed).context("--seed is above 2^63")?),
        });
    }
    if args.check_invariants {
        overrides.push(Override {
            key: "run.check_invariants".into(),
            value: toml::Value::Boolean(true),
        });
    }
    let scenario = Scenario::load(&path, &overrides)?;
    let out_dir = args.out.clone().unwrap_or_else(|| scenario.run_dir());
    let (summary_text, _) = execute(&scenario, &out_dir, !args.quiet)?;
    if !args.quiet {
        print!("{summary_text}");
        println!(
            "wrote {}/{{jobs.csv,timeline.csv,summary.json,report.html}}",
            out_dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds the workload, runs the engine and writes the three outputs into
/// `out_dir`. Returns the stdout table and the summary.
pub fn execute(
    scenario: &Scenario,
    out_dir: &Path,
    show_progress: bool,
) -> anyhow::Result<(String, Summary)> {
    let started = Instant::now();
    // The job count is only known once the workload is built; the bar learns
    // it from the first progress report.
    let bar = progress_bar(0, show_progress);
    let run = experiment::run_scenario(scenario, |p: Progress| {
        if let Some(bar) = &bar {
            bar.tick(started, p);
        }
    })?;
    if let Some(bar) = bar {
        bar.bar.finish_and_clear();
    }
    if show_progress {
        print_import_notes(&run.built);
    }
    write_outputs(&run, out_dir)?;
    Ok((
        report::summary_table(&run.info, &run.summary, Some(run.wall_s)),
        run.summary,
    ))
}

/// Writes `jobs.csv`, `timeline.csv`, `summary.json` and `report.html` of a
/// run into `out_dir`.
pub fn write_outputs(run: &ScenarioRun, out_dir: &Path) -> anyhow::Result<()> {
    let write = |name: &str, bytes: Vec<u8>| {
        report::write_atomic(out_dir, name, &bytes)
            .with_context(|| format!("writing {}", out_dir.join(name).display()))
    };
    write("jobs.csv", report::jobs_csv(&run.workload, &run.result))?;
    write("timeline.csv", report::timeline_csv(&run.result))?;
    write(
        "summary.json",
        report::summary_json(&run.info, &run.summary, Some(round3(run.wall_s))),
    )?;
    // The HTML holds no wall-clock figure: it is as reproducible as jobs.csv.
    let tenants = experiment::compare::tenant_stats(&run.workload, &run.result);
    let html = report::html::run_report(
        &run.info,
        &run.summary,
        &run.workload,
        &run.result,
        vec![tenant_table(&tenants)],
    )
    .with_context(|| {
        format!(
            "drawing the charts of {}",
            out_dir.join("report.html").display()
        )
    })?;
    write("report.html", html.into_bytes())?;
    Ok(())
}

/// The per-tenant table of `report.html`.
fn tenant_table(tenants: &[experiment::compare::TenantStats]) -> report::html::Block {
    report::html::Block::Table(report::html::Table {
        caption: Some(
            "Per tenant (JCT and slowdown over finished jobs, wait over started jobs)".into(),
        ),
        header: [
            "tenant",
            "jobs",
            "finished",
            "JCT mean (s)",
            "wait mean (s)",
            "slowdown mean",
        ]
        .map(String::from)
        .to_vec(),
        rows: tenants
            .iter()
            .map(|t| {
                vec![
                    t.tenant.clone(),
                    t.jobs.to_string(),
                    t.finished.to_string(),
                    format!("{:.1}", t.mean_jct_s),
                    format!("{:.1}", t.mean_wait_s),
                    t.mean_slowdown.map_or("–".into(), |s| format!("{s:.2}")),
                ]
            })
            .collect(),
        text_columns: 1,
    })
}

/// Tells the user on stderr what the import skipped or assumed and what the
/// filters dropped: nothing disappears silently.
pub(crate) fn print_import_notes(built: &crate::scenario::WorkloadReport) {
    if let Some(report) = &built.import {
        if report.skipped_rows() > 0 {
            eprintln!(
                "import skipped {} of {} rows (lenient):",
                report.skipped_rows(),
                report.rows
            );
            for line in report.skipped_lines() {
                eprintln!("{line}");
            }
        }
        for note in &report.notes {
            eprintln!("note: {note}");
        }
    }
    if let Some(line) = built.filters.describe() {
        eprintln!("{line}");
    }
}

fn round3(x: f64) -> f64 {
    crate::metrics::round3(x)
}

/// A progress bar that stays hidden for the first second (short runs print
/// nothing) and entirely when stdout is not a terminal.
struct Bar {
    bar: ProgressBar,
    shown: std::cell::Cell<bool>,
}

impl Bar {
    fn tick(&self, started: Instant, p: Progress) {
        if !self.shown.get() && started.elapsed() > Duration::from_secs(1) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown.set(true);
        }
        if self.bar.length() != Some(p.total) {
            self.bar.set_length(p.total);
        }
        self.bar.set_position(p.done);
        self.bar.set_message(format!(
            "t={:.1} h, {} events",
            p.now.as_secs_f64() / 3600.0,
            p.events
        ));
    }
}

fn progress_bar(total: u64, wanted: bool) -> Option<Bar> {
    if !wanted || !std::io::stdout().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} jobs done · {msg} · {elapsed} (eta {eta})",
        )
        .expect("the template is valid"),
    );
    Some(Bar {
        bar,
        shown: std::cell::Cell::new(false),
    })
}
