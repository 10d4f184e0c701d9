//! `schedlab compare`: one scenario under several policies or scenario
//! variants, side by side.
//!
//! A variant is the scenario plus `--set`-style overrides: a policy
//! (`sjf`, `fifo-skip+best-fit`) becomes `policy.scheduler` (and
//! `policy.placement`), a `--variant NAME:KEY=VALUE,…` gives them directly.
//! Every variant is loaded (so a bad one fails before anything runs), then
//! the variants run in parallel; results keep the order they were given in,
//! so every output is deterministic.
//!
//! Fairness is Jain's index over the tenants' mean slowdown (see
//! [`jain_index`] and [`tenant_stats`]): with `x_t` the mean slowdown
//! (JCT / duration) of tenant `t`'s finished jobs and `n` the tenants with a
//! finished job, `J = (Σ x_t)² / (n · Σ x_t²)`. It is 1 when every tenant is
//! slowed down alike and falls towards `1/n` as one tenant bears the delay.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, bail};
use rayon::prelude::*;

use super::{ScenarioRun, run_scenario};
use crate::metrics::{JobStatus, RunResult};
use crate::policy::placement::PlacementKind;
use crate::policy::scheduler::SchedulerKind;
use crate::report::html::{self, Block, Table};
use crate::report::plot::{
    self, ChartOptions, LegendPosition, LineChart, MAX_SERIES_POINTS, PlotError, Series,
};
use crate::scenario::{Override, Scenario};
use crate::workload::Workload;

/// One variant to run: a name (table row, legend entry) and the overrides
/// applied after the common `--set`s.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub name: String,
    /// `Some` for a policy variant: its scheduler and, if given, placement.
    /// A policy other than the scenario's runs with default parameters.
    pub policy: Option<(SchedulerKind, Option<PlacementKind>)>,
    pub overrides: Vec<Override>,
}

/// Scheduler names, for error messages.
fn scheduler_names() -> String {
    SchedulerKind::ALL.map(|k| k.name()).join(", ")
}

fn placement_names() -> String {
    PlacementKind::ALL.map(|k| k.name()).join(", ")
}

impl Variant {
    /// A policy variant from `SCHEDULER` or `SCHEDULER+PLACEMENT`; the error
    /// lists the valid names.
    pub fn policy(spec: &str) -> Result<Variant, String> {
        let spec = spec.trim();
        let (sched, place) = match spec.split_once('+') {
            Some((s, p)) => (s.trim(), Some(p.trim())),
            None => (spec, None),
        };
        let scheduler = SchedulerKind::ALL
            .into_iter()
            .find(|k| k.name() == sched)
            .ok_or_else(|| {
                let within = if place.is_some() {
                    format!(" in {spec:?}")
                } else {
                    String::new()
                };
                format!(
                    "unknown scheduler {sched:?}{within}; expected one of {} (optionally +PLACEMENT)",
                    scheduler_names()
                )
            })?;
        let placement = place
            .map(|p| {
                PlacementKind::ALL
                    .into_iter()
                    .find(|k| k.name() == p)
                    .ok_or_else(|| {
                        format!(
                            "unknown placement {p:?} in {spec:?}; expected one of {}",
                            placement_names()
                        )
                    })
            })
            .transpose()?;
        let mut overrides = vec![Override {
            key: "policy.scheduler".into(),
            value: toml::Value::String(scheduler.name().into()),
        }];
        if let Some(p) = placement {
            overrides.push(Override {
                key: "policy.placement".into(),
                value: toml::Value::String(p.name().into()),
            });
        }
        Ok(Variant {
            name: spec.to_string(),
            policy: Some((scheduler, placement)),
            overrides,
        })
    }

    /// A variant from `NAME:KEY=VALUE[,KEY=VALUE…]` (`NAME` alone: the
    /// scenario as it is). Values are TOML as in `--set`; commas inside
    /// brackets, braces or quotes do not split.
    pub fn parse(spec: &str) -> Result<Variant, String> {
        let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let name = name.trim();
        check_name(name).map_err(|m| format!("--variant {spec:?}: {m}"))?;
        let overrides = split_top_level(rest)
            .into_iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                p.parse::<Override>()
                    .map_err(|m| format!("--variant {spec:?}: {m}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Variant {
            name: name.to_string(),
            policy: None,
            overrides,
        })
    }
}

/// Variant names appear in tables, CSV and chart legends: keep them plain.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("expected NAME:KEY=VALUE[,KEY=VALUE], the name is empty".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_+.=@".contains(*c)))
    {
        return Err(format!(
            "the name {name:?} has {c:?}; use letters, digits and - _ + . = @"
        ));
    }
    Ok(())
}

/// Splits at commas outside `[]`, `{}` and quotes.
fn split_top_level(s: &str) -> Vec<&str> {
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
    let mut parts = Vec::new();
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Loads every variant of the scenario at `path` (`common` overrides first,
/// then the variant's own). Fails on the first bad variant, naming it, or on
/// duplicate names.
pub fn load_variants(
    path: &Path,
    common: &[Override],
    variants: &[Variant],
) -> anyhow::Result<(Scenario, Vec<(String, Scenario)>)> {
    if variants.is_empty() {
        bail!("nothing to compare: give --policies and/or --variant");
    }
    let mut seen = BTreeMap::new();
    for v in variants {
        if seen.insert(v.name.as_str(), ()).is_some() {
            bail!("variant {:?} is given twice: names must be unique", v.name);
        }
    }
    let base = Scenario::load(path, common)?;
    let mut out = Vec::with_capacity(variants.len());
    for v in variants {
        let mut overrides = common.to_vec();
        overrides.extend(v.overrides.iter().cloned());
        // The scenario's policy parameters belong to its policy: another
        // scheduler (or placement) would reject them, so it gets its defaults.
        if let Some((sched, place)) = v.policy {
            if sched != base.scheduler {
                overrides.push(empty_table("policy.scheduler_params"));
            }
            if place.is_some_and(|p| p != base.placement) {
                overrides.push(empty_table("policy.placement_params"));
            }
        }
        let scenario =
            Scenario::load(path, &overrides).with_context(|| format!("variant {:?}", v.name))?;
        out.push((v.name.clone(), scenario));
    }
    Ok((base, out))
}

fn empty_table(key: &str) -> Override {
    Override {
        key: key.into(),
        value: toml::Value::Table(toml::Table::new()),
    }
}

/// One variant's run.
#[derive(Debug)]
pub struct VariantRun {
    pub name: String,
    pub run: ScenarioRun,
}

/// Runs the loaded variants on `threads` threads (0: rayon's default),
/// returning them in the order given. The first failing variant (in that
/// order) is the error.
pub fn run_variants(
    variants: Vec<(String, Scenario)>,
    threads: usize,
) -> anyhow::Result<Vec<VariantRun>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("starting the worker threads")?;
    let results: Vec<anyhow::Result<VariantRun>> = pool.install(|| {
        variants
            .into_par_iter()
            .map(|(name, scenario)| {
                let run =
                    run_scenario(&scenario, |_| {}).with_context(|| format!("variant {name:?}"))?;
                Ok(VariantRun { name, run })
            })
            .collect()
    });
    results.into_iter().collect()
}

/// Per-tenant figures of one run, from its job outcomes.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantStats {
    pub tenant: String,
    /// Jobs of the tenant in the workload.
    pub jobs: u64,
    pub finished: u64,
    /// Mean JCT of finished jobs, s (0 with none).
    pub mean_jct_s: f64,
    /// Mean wait of jobs that started, s (0 with none).
    pub mean_wait_s: f64,
    /// Mean slowdown (JCT / duration) of finished jobs; `None` with none.
    pub mean_slowdown: Option<f64>,
}

/// Per-tenant figures in tenant-name order. Slowdown is computed as in
/// `summary.json` (JCT / duration, both at least 1 ms, in thousandths).
pub fn tenant_stats(workload: &Workload, run: &RunResult) -> Vec<TenantStats> {
    #[derive(Default)]
    struct Acc {
        jobs: u64,
        finished: u64,
        started: u64,
        jct_ms: u128,
        wait_ms: u128,
        slowdown_milli: u128,
    }
    let mut acc: Vec<Acc> = (0..workload.tenants.len())
        .map(|_| Acc::default())
        .collect();
    for o in &run.outcomes {
        let job = workload.job(o.job);
        let Some(a) = acc.get_mut(job.tenant.index()) else {
            continue;
        };
        a.jobs += 1;
        if let Some(start) = o.start {
            a.started += 1;
            a.wait_ms += u128::from(start.since(job.submit));
        }
        if let (JobStatus::Finished, Some(end)) = (o.status, o.end) {
            let jct = end.since(job.submit);
            a.finished += 1;
            a.jct_ms += u128::from(jct);
            a.slowdown_milli += u128::from(jct.max(1) * 1_000 / job.duration.max(1));
        }
    }
    let mean = |sum: u128, n: u64| {
        if n == 0 {
            0.0
        } else {
            sum as f64 / n as f64 / 1000.0
        }
    };
    let mut out: Vec<TenantStats> = acc
        .iter()
        .enumerate()
        .filter(|(_, a)| a.jobs > 0)
        .map(|(i, a)| TenantStats {
            tenant: workload.tenants[i].clone(),
            jobs: a.jobs,
            finished: a.finished,
            mean_jct_s: mean(a.jct_ms, a.finished),
            mean_wait_s: mean(a.wait_ms, a.started),
            mean_slowdown: (a.finished > 0).then(|| mean(a.slowdown_milli, a.finished)),
        })
        .collect();
    out.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    out
}

/// Jain's fairness index `(Σx)² / (n·Σx²)` of non-negative values: 1 when
/// all are equal, `1/n` when one holds everything. `None` for no values or
/// all zero.
pub fn jain_index(values: &[f64]) -> Option<f64> {
    let sum: f64 = values.iter().sum();
    let squares: f64 = values.iter().map(|x| x * x).sum();
    if values.is_empty() || squares <= 0.0 {
        return None;
    }
    Some(sum * sum / (values.len() as f64 * squares))
}

/// Jain's index over the tenants' mean slowdown (tenants with a finished job).
pub fn slowdown_fairness(tenants: &[TenantStats]) -> Option<f64> {
    let x: Vec<f64> = tenants.iter().filter_map(|t| t.mean_slowdown).collect();
    jain_index(&x)
}

/// One row of the comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    pub variant: String,
    /// `scheduler + placement` the variant ran.
    pub policy: String,
    pub finished: u64,
    /// Running or pending when the run stopped (as in `summary.json`).
    pub unfinished: u64,
    pub jct_mean_s: f64,
    pub jct_p95_s: f64,
    pub wait_mean_s: f64,
    pub wait_p95_s: f64,
    pub makespan_s: f64,
    /// Time-weighted mean allocated GPUs, % of the ready GPUs.
    pub gpu_alloc_pct: f64,
    /// Total cost in the pools' price unit (0 without prices).
    pub cost: f64,
    /// Jain's index over tenants' mean slowdown; `None` with no finished job.
    pub fairness: Option<f64>,
}

/// The comparison of a scenario's variants.
#[derive(Debug)]
pub struct Comparison {
    /// The scenario's name.
    pub scenario: String,
    pub runs: Vec<VariantRun>,
}

/// Header of `compare.csv`; see docs/compare.md for units.
pub const CSV_HEADER: &str = "variant,scheduler,placement,jobs_finished,jobs_unfinished,jct_mean_s,jct_p95_s,wait_mean_s,wait_p95_s,makespan_s,gpu_alloc_pct,cost,fairness_jain_slowdown";

/// The charts of a comparison: file stem, chart, how it is drawn.
pub type ChartSpec = (&'static str, LineChart, ChartOptions);

impl Comparison {
    /// Rows, in variant order.
    pub fn rows(&self) -> Vec<CompareRow> {
        self.runs
            .iter()
            .map(|v| {
                let s = &v.run.summary;
                let tenants = tenant_stats(&v.run.workload, &v.run.result);
                CompareRow {
                    variant: v.name.clone(),
                    policy: format!("{} + {}", v.run.info.scheduler, v.run.info.placement),
                    finished: s.jobs.finished,
                    unfinished: s.jobs.unfinished,
                    jct_mean_s: nz(s.jct_s.mean),
                    jct_p95_s: nz(s.jct_s.p95),
                    wait_mean_s: nz(s.wait_s.mean),
                    wait_p95_s: nz(s.wait_s.p95),
                    makespan_s: nz(s.makespan_s),
                    gpu_alloc_pct: nz(s.mean_gpu_allocation_pct),
                    cost: nz(s.cost.total),
                    fairness: slowdown_fairness(&tenants),
                }
            })
            .collect()
    }

    /// Tenants (by name, over every variant) × variants: mean slowdown.
    fn tenant_matrix(&self) -> Vec<(String, Vec<Option<f64>>)> {
        let per_run: Vec<BTreeMap<String, Option<f64>>> = self
            .runs
            .iter()
            .map(|v| {
                tenant_stats(&v.run.workload, &v.run.result)
                    .into_iter()
                    .map(|t| (t.tenant, t.mean_slowdown))
                    .collect()
            })
            .collect();
        let names: std::collections::BTreeSet<&String> =
            per_run.iter().flat_map(|m| m.keys()).collect();
        names
            .into_iter()
            .map(|n| {
                (
                    n.clone(),
                    per_run
                        .iter()
                        .map(|m| m.get(n).copied().flatten())
                        .collect(),
                )
            })
            .collect()
    }

    /// The lines above the tables: scenario, cluster, workload, seed.
    fn header_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(first) = self.runs.first() {
            let i = &first.run.info;
            lines.push(format!(
                "{} nodes / {} GPUs · seed {} · workload: {} ({} jobs)",
                i.nodes, i.gpus, i.seed, i.workload, first.run.summary.jobs.total
            ));
            let differ: Vec<&str> = self
                .runs
                .iter()
                .filter(|v| {
                    let j = &v.run.info;
                    (j.nodes, j.gpus, j.seed, &j.workload) != (i.nodes, i.gpus, i.seed, &i.workload)
                        || v.run.summary.jobs.total != first.run.summary.jobs.total
                })
                .map(|v| v.name.as_str())
                .collect();
            if !differ.is_empty() {
                lines.push(format!(
                    "(cluster, seed or workload differ in: {})",
                    differ.join(", ")
                ));
            }
        }
        lines
    }

    /// `compare.csv`: one row per variant, seconds with three decimals.
    pub fn csv(&self) -> Vec<u8> {
        let mut out = String::new();
        out.push_str(CSV_HEADER);
        out.push('\n');
        for (r, v) in self.rows().iter().zip(&self.runs) {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.2},{}",
                r.variant,
                v.run.info.scheduler,
                v.run.info.placement,
                r.finished,
                r.unfinished,
                r.jct_mean_s,
                r.jct_p95_s,
                r.wait_mean_s,
                r.wait_p95_s,
                r.makespan_s,
                r.gpu_alloc_pct,
                r.cost,
                r.fairness.map(|f| format!("{f:.4}")).unwrap_or_default()
            );
        }
        out.into_bytes()
    }

    /// The table's header and cells as text, for the terminal, Markdown and
    /// HTML (one rounding for all three).
    fn table_cells(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let header = vec![
            "variant",
            "policy",
            "finished",
            "unfinished",
            "JCT mean (s)",
            "JCT p95 (s)",
            "wait mean (s)",
            "wait p95 (s)",
            "makespan (h)",
            "GPU alloc (%)",
            "cost",
            "fairness (Jain)",
        ];
        let rows = self
            .rows()
            .into_iter()
            .map(|r| {
                vec![
                    r.variant,
                    r.policy,
                    r.finished.to_string(),
                    r.unfinished.to_string(),
                    format!("{:.1}", r.jct_mean_s),
                    format!("{:.1}", r.jct_p95_s),
                    format!("{:.1}", r.wait_mean_s),
                    format!("{:.1}", r.wait_p95_s),
                    format!("{:.2}", r.makespan_s / 3600.0),
                    format!("{:.1}", r.gpu_alloc_pct),
                    format!("{:.2}", r.cost),
                    r.fairness.map(|f| format!("{f:.3}")).unwrap_or("–".into()),
                ]
            })
            .collect();
        (header, rows)
    }

    /// The table for the terminal, columns aligned (numbers to the right).
    pub fn text_table(&self) -> String {
        let (header, rows) = self.table_cells();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            let mut l = String::new();
            for (k, (c, w)) in cells.iter().zip(&widths).enumerate() {
                let pad = w - c.chars().count();
                if k > 0 {
                    l.push_str("  ");
                }
                if k < 2 {
                    l.push_str(c);
                    l.push_str(&" ".repeat(pad));
                } else {
                    l.push_str(&" ".repeat(pad));
                    l.push_str(c);
                }
            }
            l.trim_end().to_string()
        };
        let mut t = format!("compare · {}\n", self.scenario);
        for h in self.header_lines() {
            t.push_str(&h);
            t.push('\n');
        }
        t.push_str(&line(header.clone()));
        t.push('\n');
        for r in &rows {
            t.push_str(&line(r.iter().map(String::as_str).collect()));
            t.push('\n');
        }
        t
    }

    /// `compare.md`: the table, the per-tenant slowdown and the definitions.
    pub fn markdown(&self) -> String {
        let (header, rows) = self.table_cells();
        let mut md = format!("# compare: {}\n\n", md_escape(&self.scenario));
        for h in self.header_lines() {
            let _ = writeln!(md, "{}  ", md_escape(&h));
        }
        md.push('\n');
        md_table(&mut md, &header, &rows, 2);
        md.push_str(FOOTNOTE_MD);
        let matrix = self.tenant_matrix();
        if !matrix.is_empty() {
            md.push_str("\n## Mean slowdown per tenant\n\n");
            let mut h = vec!["tenant"];
            h.extend(self.runs.iter().map(|v| v.name.as_str()));
            let rows: Vec<Vec<String>> = matrix
                .into_iter()
                .map(|(t, xs)| {
                    let mut r = vec![t];
                    r.extend(xs.into_iter().map(fmt_slowdown));
                    r
                })
                .collect();
            md_table(&mut md, &h, &rows, 1);
        }
        md
    }

    /// The four overlay charts, one line per variant: JCT CDF, wait CDF, GPU
    /// allocation % over time, pending jobs over time.
    pub fn charts(&self) -> Vec<ChartSpec> {
        let series = |f: &dyn Fn(&ScenarioRun) -> Vec<(f64, f64)>| -> Vec<Series> {
            self.runs
                .iter()
                .map(|v| Series {
                    name: v.name.clone(),
                    points: f(&v.run),
                })
                .collect()
        };
        let cdf = ChartOptions {
            log_x: true,
            y_max: Some(100.0),
            legend: LegendPosition::LowerRight,
        };
        let name = &self.scenario;
        vec![
            (
                "jct-cdf",
                LineChart {
                    title: format!("{name}: job completion time CDF"),
                    x_label: "JCT (s, log scale)".into(),
                    y_label: "finished jobs with JCT ≤ x (%)".into(),
                    series: series(&|r| {
                        plot::cdf_points(
                            &plot::jct_values_s(&r.workload, &r.result),
                            1.0,
                            MAX_SERIES_POINTS,
                        )
                    }),
                },
                cdf,
            ),
            (
                "wait-cdf",
                LineChart {
                    title: format!("{name}: queueing delay CDF"),
                    x_label: "wait (s, log scale; waits under 1 s drawn at 1 s)".into(),
                    y_label: "started jobs with wait ≤ x (%)".into(),
                    series: series(&|r| {
                        plot::cdf_points(
                            &plot::wait_values_s(&r.workload, &r.result),
                            1.0,
                            MAX_SERIES_POINTS,
                        )
                    }),
                },
                cdf,
            ),
            (
                "gpu-allocation",
                LineChart {
                    title: format!("{name}: GPU allocation over time"),
                    x_label: "time (h)".into(),
                    y_label: "allocated GPUs (% of ready GPUs)".into(),
                    series: series(&|r| {
                        plot::thin_mean(&plot::gpu_allocation_points(&r.result), MAX_SERIES_POINTS)
                    }),
                },
                ChartOptions {
                    log_x: false,
                    y_max: Some(105.0),
                    legend: LegendPosition::LowerLeft,
                },
            ),
            (
                "pending-jobs",
                LineChart {
                    title: format!("{name}: queue length over time"),
                    x_label: "time (h)".into(),
                    y_label: "pending jobs".into(),
                    series: series(&|r| {
                        plot::thin_mean(&plot::pending_points(&r.result), MAX_SERIES_POINTS)
                    }),
                },
                ChartOptions {
                    legend: LegendPosition::UpperRight,
                    ..ChartOptions::default()
                },
            ),
        ]
    }

    /// `report.html`: the table, per-tenant slowdown and the charts given as
    /// SVG text (from [`Comparison::charts`]), all inline.
    pub fn html(&self, svgs: &[String]) -> String {
        let (header, rows) = self.table_cells();
        let mut blocks = vec![Block::Paragraph(self.header_lines().join(" · "))];
        blocks.push(Block::Table(Table {
            caption: None,
            header: header.iter().map(|h| h.to_string()).collect(),
            rows,
            text_columns: 2,
        }));
        blocks.push(Block::Paragraph(FOOTNOTE_TEXT.into()));
        for svg in svgs {
            blocks.push(Block::Svg(svg.clone()));
        }
        let matrix = self.tenant_matrix();
        if !matrix.is_empty() {
            blocks.push(Block::Heading("Mean slowdown per tenant".into()));
            let mut h = vec!["tenant".to_string()];
            h.extend(self.runs.iter().map(|v| v.name.clone()));
            blocks.push(Block::Table(Table {
                caption: None,
                header: h,
                rows: matrix
                    .into_iter()
                    .map(|(t, xs)| {
                        let mut r = vec![t];
                        r.extend(xs.into_iter().map(fmt_slowdown));
                        r
                    })
                    .collect(),
                text_columns: 1,
            }));
        }
        html::page(&format!("compare: {}", self.scenario), &blocks)
    }

    /// Every chart as SVG text, in [`Comparison::charts`] order.
    pub fn svgs(&self) -> Result<Vec<String>, PlotError> {
        self.charts()
            .iter()
            .map(|(_, chart, opts)| chart.to_svg(opts))
            .collect()
    }
}

const FOOTNOTE_TEXT: &str = "JCT over finished jobs, wait over started jobs (nearest-rank p95); makespan from the first submission to the last completion; GPU alloc: time-weighted mean of allocated / ready GPUs; cost in the pools' price unit; fairness: Jain's index over the tenants' mean slowdown (1 = every tenant slowed alike, 1/n = one tenant bears it all).";

const FOOTNOTE_MD: &str = "\nJCT over finished jobs, wait over started jobs (nearest-rank p95); makespan from the first submission to the last completion; GPU alloc: time-weighted mean of allocated / ready GPUs; cost in the pools' price unit; fairness: Jain's index over the tenants' mean slowdown (1 = every tenant slowed alike, 1/n = one tenant bears it all).\n";

/// Turns −0.0 (an empty float sum) into 0.0 so it never prints as "-0.00".
fn nz(x: f64) -> f64 {
    x + 0.0
}

fn fmt_slowdown(x: Option<f64>) -> String {
    x.map(|x| format!("{x:.2}")).unwrap_or("–".into())
}

/// Markdown text cells cannot hold `|` or line breaks.
fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A Markdown table; the first `text_columns` columns align left, the rest
/// (numbers) right.
fn md_table<H: AsRef<str>>(
    md: &mut String,
    header: &[H],
    rows: &[Vec<String>],
    text_columns: usize,
) {
    let _ = writeln!(
        md,
        "| {} |",
        header
            .iter()
            .map(|h| md_escape(h.as_ref()))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(
        md,
        "|{}|",
        (0..header.len())
            .map(|k| if k < text_columns { "---" } else { "---:" })
            .collect::<Vec<_>>()
            .join("|")
    );
    for r in rows {
        let _ = writeln!(
            md,
            "| {} |",
            r.iter()
                .map(|c| md_escape(c))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::PoolSpec;
    use crate::engine::{EngineConfig, simulate};
    use crate::workload::JobDraft;

    #[test]
    fn jain_index_of_a_hand_worked_case() {
        // (2 + 4)² / (2 · (4 + 16)) = 36 / 40.
        assert_eq!(jain_index(&[2.0, 4.0]), Some(0.9));
        assert_eq!(jain_index(&[3.0, 3.0, 3.0]), Some(1.0));
        // One of four holds everything: 1/n.
        assert_eq!(jain_index(&[5.0, 0.0, 0.0, 0.0]), Some(0.25));
        assert_eq!(jain_index(&[]), None);
        assert_eq!(jain_index(&[0.0]), None);
    }

    #[test]
    fn fairness_over_tenants_mean_slowdown() {
        // Four 100 s jobs filling one 4-GPU node, all submitted at 0, run one
        // after another under fifo: a1 0–100 (slowdown 1), b1 100–200 (2),
        // a2 200–300 (3), b2 300–400 (4). Tenant a: mean 2, b: mean 3;
        // J = (2 + 3)² / (2 · (4 + 9)) = 25 / 26.
        let workload = Workload::from_drafts(vec![
            JobDraft::new("a1").tenant("a").gpus(4).duration_s(100),
            JobDraft::new("b1").tenant("b").gpus(4).duration_s(100),
            JobDraft::new("a2").tenant("a").gpus(4).duration_s(100),
            JobDraft::new("b2").tenant("b").gpus(4).duration_s(100),
        ]);
        // From TOML, as a scenario gives it: fields added later keep their
        // defaults.
        let pools: [PoolSpec; 1] = [toml::from_str(
            "name = \"p\"\nnodes = 1\ngpus_per_node = 4\ngpu_model = \"V100\"\ncpu_milli = 32000\nmemory_mib = 131072",
        )
        .unwrap()];
        let run = simulate(
            &workload,
            &pools,
            SchedulerKind::Fifo,
            PlacementKind::FirstFit,
            EngineConfig::default(),
        )
        .unwrap();
        let t = tenant_stats(&workload, &run);
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t[0].tenant.as_str(), t[0].jobs, t[0].finished),
            ("a", 2, 2)
        );
        assert_eq!(t[0].mean_slowdown, Some(2.0));
        assert_eq!(t[0].mean_wait_s, 100.0);
        assert_eq!(t[0].mean_jct_s, 200.0);
        assert_eq!((t[1].tenant.as_str(), t[1].finished), ("b", 2));
        assert_eq!(t[1].mean_slowdown, Some(3.0));
        assert_eq!(t[1].mean_wait_s, 200.0);
        let j = slowdown_fairness(&t).unwrap();
        assert!((j - 25.0 / 26.0).abs() < 1e-12, "{j}");
    }

    #[test]
    fn policy_and_variant_specs() {
        let v = Variant::policy("fifo-skip+best-fit").unwrap();
        assert_eq!(v.name, "fifo-skip+best-fit");
        assert_eq!(
            v.policy,
            Some((SchedulerKind::FifoSkip, Some(PlacementKind::BestFit)))
        );
        let e = Variant::policy("nope").unwrap_err();
        assert!(
            e.contains("\"nope\"") && e.contains("fifo-skip") && e.contains("tiresias"),
            "{e}"
        );
        let e = Variant::policy("sjf+bogus").unwrap_err();
        assert!(e.contains("\"bogus\"") && e.contains("worst-fit"), "{e}");

        let v = Variant::parse(
            "busy:workload.filters.load_factor=1.5,workload.filters.statuses=[\"Pass\",\"Killed\"]",
        )
        .unwrap();
        assert_eq!(v.name, "busy");
        assert_eq!(v.overrides.len(), 2);
        assert_eq!(v.overrides[1].key, "workload.filters.statuses");
        assert!(v.overrides[1].value.is_array());
        assert!(Variant::parse("as-is").unwrap().overrides.is_empty());
        assert!(Variant::parse(":a=1").is_err());
        assert!(Variant::parse("a b:x=1").is_err());
        assert!(Variant::parse("a:novalue").is_err());
    }
}
