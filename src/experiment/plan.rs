//! Capacity planning (`schedlab plan`): the smallest node count of one pool,
//! or the cheapest mix of two pools, that meets an objective such as
//! "p95 wait ≤ 30 min and every job finishes", found by a search over
//! simulations of the scenario with `cluster.pools.<i>.nodes` overridden.
//!
//! **Monotonicity.** The search assumes that adding nodes never makes a
//! capacity objective (wait, JCT, slowdown, makespan, unfinished jobs) fail
//! once it is met. That is usually true but not guaranteed: list scheduling
//! has anomalies (Graham 1969) where more machines give a worse schedule, and
//! best-fit packing can strand GPUs differently at different sizes. So
//! every probe is kept, and [`Plan::notes`] reports any pair of probes that
//! contradicts the assumption (a larger cluster failing where a smaller one
//! met the objective, or an objective's metric rising with more nodes).
//!
//! **Single pool** (`--pool`): probe `min`, then double (`min`, 2·`min`, …,
//! capped at `max`) until a count meets the objective, then binary-search
//! between the last failing and the first meeting count. The answer is the
//! first meeting count the search settles on: the smallest, if monotone.
//!
//! **Cheapest mix** (`--pools a,b`): for each count `x` of the first pool
//! from `min` upwards, the same search finds the smallest count `y(x)` of the
//! second (at most `max_nodes − x`, and at most `y` of the previous `x`, which
//! also met the objective with fewer first-pool nodes). The mix with the
//! lowest **hourly price** `Σ nodes × price_per_node_hour` wins: the price of
//! the cluster as provisioned, which grows with every node and does not
//! depend on how long the replay runs (the run's own cost, price × node-hours
//! until the last job ends, is reported beside it and breaks ties, then the
//! fewest nodes). Counts of the first pool run in fixed batches of
//! [`MIX_BATCH`] in parallel; the walk stops once the first pool alone,
//! with the second at its minimum, costs more than the best mix found.
//!
//! Budget objectives (`cost`, `cost_per_hour`) grow with nodes, so they are
//! not searched on: the search finds the smallest cluster meeting the other
//! objectives, and the budget is then checked on it (a larger cluster would
//! only cost more).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use anyhow::{Context, bail};
use rayon::prelude::*;
use serde::Serialize;

use crate::metrics::Summary;
use crate::scenario::{Override, Scenario};

/// Counts of the first pool probed in parallel at a time in cheapest-mix
/// mode. Fixed (not the thread count) so the probes, and the report, are the
/// same on every machine.
pub const MIX_BATCH: u32 = 8;

/// A statistic of a per-job distribution in `summary.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stat {
    Mean,
    P50,
    P95,
    P99,
    Max,
}

impl Stat {
    const ALL: [(Stat, &'static str); 5] = [
        (Stat::Mean, "mean"),
        (Stat::P50, "p50"),
        (Stat::P95, "p95"),
        (Stat::P99, "p99"),
        (Stat::Max, "max"),
    ];

    fn name(self) -> &'static str {
        Stat::ALL
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("?", |(_, n)| n)
    }

    fn of(self, s: &crate::metrics::Stats) -> f64 {
        match self {
            Stat::Mean => s.mean,
            Stat::P50 => s.p50,
            Stat::P95 => s.p95,
            Stat::P99 => s.p99,
            Stat::Max => s.max,
        }
    }
}

/// A metric an objective bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Metric {
    /// Queueing delay of started jobs, seconds.
    Wait(Stat),
    /// Job completion time of finished jobs, seconds.
    Jct(Stat),
    /// JCT / duration of finished jobs (ratio).
    Slowdown(Stat),
    /// Last completion (or horizon) minus first submission, seconds.
    Makespan,
    /// Jobs that did not finish (total − finished: pending, running,
    /// unschedulable, failed or not arrived), jobs.
    Unfinished,
    /// The run's cost: Σ price_per_node_hour × node-hours paid, currency.
    Cost,
    /// The cluster's hourly price: Σ nodes × price_per_node_hour, currency/h.
    CostPerHour,
}

impl Metric {
    /// Whether values are seconds (and thresholds need a unit).
    fn is_duration(self) -> bool {
        matches!(self, Metric::Wait(_) | Metric::Jct(_) | Metric::Makespan)
    }

    /// Budget metrics grow with nodes; capacity metrics shrink.
    pub fn is_budget(self) -> bool {
        matches!(self, Metric::Cost | Metric::CostPerHour)
    }

    /// The value in a probe's summary (`cost_per_hour` is passed in: it
    /// comes from the scenario, not the run).
    fn value(self, s: &Summary, cost_per_hour: f64) -> f64 {
        match self {
            Metric::Wait(st) => st.of(&s.wait_s),
            Metric::Jct(st) => st.of(&s.jct_s),
            Metric::Slowdown(st) => st.of(&s.slowdown),
            Metric::Makespan => s.makespan_s,
            Metric::Unfinished => (s.jobs.total - s.jobs.finished) as f64,
            Metric::Cost => s.cost.total,
            Metric::CostPerHour => cost_per_hour,
        }
    }

    fn format_value(self, v: f64) -> String {
        if !v.is_finite() {
            // A probe that could not run (no nodes at all).
            "—".into()
        } else if self.is_duration() {
            fmt_duration(v)
        } else {
            super::check::fmt_num(v)
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Wait(s) => write!(f, "wait.{}", s.name()),
            Metric::Jct(s) => write!(f, "jct.{}", s.name()),
            Metric::Slowdown(s) => write!(f, "slowdown.{}", s.name()),
            Metric::Makespan => f.write_str("makespan"),
            Metric::Unfinished => f.write_str("unfinished"),
            Metric::Cost => f.write_str("cost"),
            Metric::CostPerHour => f.write_str("cost_per_hour"),
        }
    }
}

/// One part of the objective; a cluster meets the objective when it meets
/// every part.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Objective {
    /// Every job finishes (`all-finish`, the same as `unfinished=0`).
    AllFinish,
    /// `metric <= limit` (or `<` when `strict`), in the metric's units
    /// (seconds for durations).
    Limit {
        metric: Metric,
        strict: bool,
        limit: f64,
    },
}

/// What `--objective` accepts, for error messages.
pub const OBJECTIVE_SYNTAX: &str = "expected `all-finish` or METRIC<=VALUE / METRIC<VALUE \
(`unfinished=0` also works), where METRIC is wait.STAT, jct.STAT (durations), slowdown.STAT \
(a ratio), with STAT one of mean, p50, p95, p99, max; makespan (a duration); unfinished (jobs \
that did not finish); cost (the run's cost: price × node-hours) or cost_per_hour (Σ nodes × \
price_per_node_hour). Durations need a unit: s, m or h (30m, 1.5h, 90s). \
Examples: wait.p95<=30m, jct.mean<2h, makespan<=48h, unfinished=0, cost<=80000";

impl FromStr for Objective {
    type Err = String;

    fn from_str(s: &str) -> Result<Objective, String> {
        let text = s.trim();
        let bad = |why: String| format!("objective {text:?}: {why}; {OBJECTIVE_SYNTAX}");
        if text == "all-finish" {
            return Ok(Objective::AllFinish);
        }
        if text.contains('>') {
            return Err(bad(
                "`>` and `>=` are not accepted: more nodes lower every metric plan searches on, so state an upper bound".into(),
            ));
        }
        let (name, op, value) = ["<=", "==", "<", "="]
            .iter()
            .find_map(|op| text.split_once(op).map(|(a, b)| (a.trim(), *op, b.trim())))
            .ok_or_else(|| bad("no comparison (<=, < or =)".into()))?;
        let metric = parse_metric(name).ok_or_else(|| bad(format!("unknown metric {name:?}")))?;
        if value.contains(['<', '=', '>']) {
            return Err(bad("one comparison only".into()));
        }
        let limit = if metric.is_duration() {
            parse_duration(value).map_err(bad)?
        } else {
            match value.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => v,
                _ => {
                    return Err(bad(format!(
                        "{metric} takes a plain number ≥ 0 (no unit), got {value:?}"
                    )));
                }
            }
        };
        let strict = match op {
            "<" => true,
            "<=" => false,
            // `=` is only meaningful as "none at all"; counts cannot go below.
            _ if metric == Metric::Unfinished && limit == 0.0 => false,
            _ => return Err(bad(format!("`{op}` only works as unfinished=0"))),
        };
        if metric == Metric::Unfinished && limit == 0.0 && !strict {
            return Ok(Objective::AllFinish);
        }
        Ok(Objective::Limit {
            metric,
            strict,
            limit,
        })
    }
}

fn parse_metric(name: &str) -> Option<Metric> {
    let stat = |s: &str| Stat::ALL.iter().find(|(_, n)| *n == s).map(|(st, _)| *st);
    match name.split_once('.') {
        Some(("wait", s)) => stat(s).map(Metric::Wait),
        Some(("jct", s)) => stat(s).map(Metric::Jct),
        Some(("slowdown", s)) => stat(s).map(Metric::Slowdown),
        None => match name {
            "makespan" => Some(Metric::Makespan),
            "unfinished" => Some(Metric::Unfinished),
            "cost" => Some(Metric::Cost),
            "cost_per_hour" => Some(Metric::CostPerHour),
            _ => None,
        },
        _ => None,
    }
}

/// `90s`, `30m`, `1.5h` → seconds.
fn parse_duration(v: &str) -> Result<f64, String> {
    let (num, unit) = v.split_at(v.len() - v.chars().last().map_or(0, char::len_utf8));
    let scale = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("duration {v:?} needs a unit: s, m or h (e.g. 30m)")),
    };
    match num.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x * scale),
        _ => Err(format!(
            "duration {v:?}: expected a number ≥ 0 before the unit"
        )),
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Objective::AllFinish => f.write_str("all-finish"),
            Objective::Limit {
                metric,
                strict,
                limit,
            } => write!(
                f,
                "{metric}{}{}",
                if *strict { "<" } else { "<=" },
                if metric.is_duration() {
                    exact_duration(*limit)
                } else {
                    super::check::fmt_num(*limit)
                }
            ),
        }
    }
}

impl Objective {
    pub fn metric(&self) -> Metric {
        match self {
            Objective::AllFinish => Metric::Unfinished,
            Objective::Limit { metric, .. } => *metric,
        }
    }

    fn met_by(&self, v: f64) -> bool {
        match *self {
            Objective::AllFinish => v == 0.0,
            Objective::Limit { strict, limit, .. } => {
                if strict {
                    v < limit
                } else {
                    v <= limit
                }
            }
        }
    }

    /// Why `v` misses the objective, e.g. `wait.p95 = 2.00h > 30.00m`.
    fn why_not(&self, v: f64) -> String {
        let m = self.metric();
        match *self {
            Objective::AllFinish => format!("unfinished = {} > 0", super::check::fmt_num(v)),
            Objective::Limit { strict, limit, .. } => format!(
                "{m} = {} {} {}",
                m.format_value(v),
                if strict { "≥" } else { ">" },
                m.format_value(limit)
            ),
        }
    }
}

/// What to search.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// The smallest node count of one pool.
    Single { pool: String },
    /// The cheapest counts of two pools.
    CheapestMix { pools: [String; 2] },
}

/// A plan request.
#[derive(Debug, Clone)]
pub struct PlanSpec {
    pub mode: Mode,
    pub objectives: Vec<Objective>,
    /// Smallest count of each planned pool to consider, nodes.
    pub min: u32,
    /// Largest count of the pool (single) or of the planned pools together
    /// (mix), nodes.
    pub max_nodes: u32,
}

/// One simulated cluster size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Probe {
    /// In the order the search ran them (cheapest mix: by first-pool count,
    /// then search order).
    pub step: usize,
    /// Nodes per planned pool, in the order given.
    pub nodes: Vec<u32>,
    /// Each objective's metric, in the order given (seconds for durations).
    pub values: Vec<f64>,
    /// Σ nodes × price_per_node_hour over every priced pool, currency/h.
    pub cost_per_hour: Option<f64>,
    /// The run's cost (price × node-hours), currency.
    pub cost: f64,
    /// Meets every objective.
    pub meets: bool,
    /// Meets every capacity (non-budget) objective: what the search uses.
    #[serde(skip)]
    pub meets_capacity: bool,
    /// The objectives missed.
    pub why_not: Vec<String>,
    /// Wall-clock seconds of the simulation (terminal only, never in files).
    #[serde(skip)]
    pub wall_s: f64,
}

/// The result of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub schema: u32,
    pub scenario: String,
    pub path: String,
    /// `single` or `cheapest-mix`.
    pub mode: &'static str,
    pub pools: Vec<String>,
    /// The `--set` overrides of the base scenario.
    pub overrides: Vec<String>,
    pub objectives: Vec<String>,
    /// The same, typed (the table's columns).
    #[serde(skip)]
    pub objective_list: Vec<Objective>,
    pub min: u32,
    pub max_nodes: u32,
    pub probes: Vec<Probe>,
    /// The chosen probe's step, or `None` when nothing in range met the
    /// objective.
    pub answer: Option<Answer>,
    /// Monotonicity contradictions and other remarks.
    pub notes: Vec<String>,
}

/// The chosen cluster.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub step: usize,
    /// Pool name → nodes.
    pub nodes: BTreeMap<String, u32>,
    /// `--set` arguments that give this cluster.
    pub overrides: Vec<String>,
    pub cost_per_hour: Option<f64>,
    pub cost: f64,
    /// One line, for the terminal and `plan.md`.
    pub text: String,
}

/// The base scenario and how to resize its pools.
struct Base {
    src: String,
    path: PathBuf,
    overrides: Vec<Override>,
    scenario: Scenario,
    /// Per planned pool: its index in the file's `[[cluster.pools]]`.
    raw_index: Vec<usize>,
    /// Per planned pool: its index in the validated cluster.
    index: Vec<usize>,
}

impl Base {
    fn new(path: &Path, overrides: &[Override], pools: &[String]) -> anyhow::Result<Base> {
        let src = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read scenario", path.display()))?;
        let scenario = Scenario::parse(&src, path, overrides)?;
        let names: Vec<&str> = scenario
            .cluster
            .pools
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        // Pools listed in the file, in order; nodes_file pools are not
        // addressable by `--set` and come first in the validated cluster.
        let listed = scenario
            .cluster
            .pools
            .len()
            .checked_sub(raw_pool_count(&src))
            .context("the scenario lists more pools than it has")?;
        let mut raw_index = Vec::new();
        let mut index = Vec::new();
        for name in pools {
            let i = names.iter().position(|n| n == name).with_context(|| {
                format!(
                    "{}: no pool named {name:?}; the pools are {}",
                    path.display(),
                    names.join(", ")
                )
            })?;
            if i < listed {
                bail!(
                    "{}: pool {name:?} comes from `cluster.nodes_file`; plan can only resize pools listed as [[cluster.pools]]",
                    path.display()
                );
            }
            raw_index.push(i - listed);
            index.push(i);
        }
        Ok(Base {
            src,
            path: path.to_path_buf(),
            overrides: overrides.to_vec(),
            scenario,
            raw_index,
            index,
        })
    }

    fn resize_overrides(&self, nodes: &[u32]) -> Vec<Override> {
        self.raw_index
            .iter()
            .zip(nodes)
            .map(|(i, n)| Override {
                key: format!("cluster.pools.{i}.nodes"),
                value: toml::Value::Integer(i64::from(*n)),
            })
            .collect()
    }

    /// Nodes of the pools the plan does not resize.
    fn other_nodes(&self) -> u64 {
        self.scenario
            .cluster
            .pools
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.index.contains(i))
            .map(|(_, p)| u64::from(p.nodes))
            .sum()
    }

    fn cost_per_hour(&self, nodes: &[u32]) -> Option<f64> {
        let mut any = false;
        let mut total = 0.0;
        for (i, p) in self.scenario.cluster.pools.iter().enumerate() {
            let n = self
                .index
                .iter()
                .position(|&j| j == i)
                .map_or(p.nodes, |k| nodes[k]);
            if let Some(price) = p.price_per_node_hour {
                any = true;
                total += f64::from(n) * price;
            }
        }
        any.then_some(crate::metrics::round3(total))
    }

    /// Simulates the scenario with the planned pools at `nodes`.
    fn probe(&self, nodes: &[u32], objectives: &[Objective]) -> anyhow::Result<Probe> {
        let started = Instant::now();
        let cost_per_hour = self.cost_per_hour(nodes);
        if nodes.iter().all(|&n| n == 0) && self.other_nodes() == 0 {
            // Not a scenario schedlab can load; nothing could run on it.
            return Ok(Probe {
                step: 0,
                nodes: nodes.to_vec(),
                values: objectives.iter().map(|_| f64::NAN).collect(),
                cost_per_hour,
                cost: 0.0,
                meets: false,
                meets_capacity: false,
                why_not: vec!["the cluster has no nodes".into()],
                wall_s: 0.0,
            });
        }
        let mut overrides = self.overrides.clone();
        overrides.extend(self.resize_overrides(nodes));
        let scenario = Scenario::parse(&self.src, &self.path, &overrides)?;
        let run = super::run_scenario(&scenario, |_| {})?;
        Ok(judge(
            nodes,
            objectives,
            &run.summary,
            cost_per_hour,
            started.elapsed().as_secs_f64(),
        ))
    }
}

/// How many `[[cluster.pools]]` the file itself lists.
fn raw_pool_count(src: &str) -> usize {
    toml::from_str::<toml::Table>(src)
        .ok()
        .and_then(|t| t.get("cluster")?.get("pools")?.as_array().map(Vec::len))
        .unwrap_or(0)
}

/// Scores a run against the objectives.
pub fn judge(
    nodes: &[u32],
    objectives: &[Objective],
    summary: &Summary,
    cost_per_hour: Option<f64>,
    wall_s: f64,
) -> Probe {
    let mut values = Vec::new();
    let mut why_not = Vec::new();
    let mut meets_capacity = true;
    let mut meets = true;
    for o in objectives {
        let v = o.metric().value(summary, cost_per_hour.unwrap_or(0.0));
        values.push(v);
        if !o.met_by(v) {
            meets = false;
            if !o.metric().is_budget() {
                meets_capacity = false;
            }
            why_not.push(o.why_not(v));
        }
    }
    Probe {
        step: 0,
        nodes: nodes.to_vec(),
        values,
        cost_per_hour,
        cost: summary.cost.total,
        meets,
        meets_capacity,
        why_not,
        wall_s,
    }
}

/// Exponential probe upward from `lo`, then binary search, over counts of
/// one pool (`at(n)` builds the full node vector). Returns the probes in the
/// order they ran and the smallest meeting count found, if any in
/// `lo..=hi`.
fn search_one(
    lo: u32,
    hi: u32,
    mut probe: impl FnMut(u32) -> anyhow::Result<Probe>,
) -> anyhow::Result<(Vec<Probe>, Option<u32>)> {
    let mut probes = Vec::new();
    if lo > hi {
        return Ok((probes, None));
    }
    let mut failing: Option<u32> = None;
    let mut meeting: Option<u32> = None;
    let mut n = lo;
    loop {
        let p = probe(n)?;
        let ok = p.meets_capacity;
        probes.push(p);
        if ok {
            meeting = Some(n);
            break;
        }
        failing = Some(n);
        if n >= hi {
            break;
        }
        n = n.saturating_mul(2).max(n + 1).min(hi);
    }
    let Some(mut good) = meeting else {
        return Ok((probes, None));
    };
    if let Some(mut bad) = failing {
        while good - bad > 1 {
            let mid = bad + (good - bad) / 2;
            let p = probe(mid)?;
            if p.meets_capacity {
                good = mid;
            } else {
                bad = mid;
            }
            probes.push(p);
        }
    }
    Ok((probes, Some(good)))
}

/// Runs a plan: loads the scenario (with `overrides`) once, then simulates
/// it at each probed size. `on_probe` sees every probe as it finishes
/// (possibly from several threads; for progress output only).
pub fn plan(
    path: &Path,
    overrides: &[Override],
    spec: &PlanSpec,
    on_probe: &(dyn Fn(&[String], &Probe) + Sync),
) -> anyhow::Result<Plan> {
    if spec.objectives.is_empty() {
        bail!("no objective given; {OBJECTIVE_SYNTAX}");
    }
    if spec.min > spec.max_nodes {
        bail!("--min {} is above --max-nodes {}", spec.min, spec.max_nodes);
    }
    let pools: Vec<String> = match &spec.mode {
        Mode::Single { pool } => vec![pool.clone()],
        Mode::CheapestMix { pools } => {
            if pools[0] == pools[1] {
                bail!("--pools: give two different pools, got {} twice", pools[0]);
            }
            pools.to_vec()
        }
    };
    let base = Base::new(path, overrides, &pools)?;
    let objectives = &spec.objectives;
    let run_probe = |nodes: &[u32]| -> anyhow::Result<Probe> {
        let p = base.probe(nodes, objectives).with_context(|| {
            format!(
                "probing {}",
                pools
                    .iter()
                    .zip(nodes)
                    .map(|(p, n)| format!("{p}={n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        })?;
        on_probe(&pools, &p);
        Ok(p)
    };
    let mut notes = Vec::new();
    let (mut probes, chosen) = match &spec.mode {
        Mode::Single { .. } => {
            let (probes, found) = search_one(spec.min, spec.max_nodes, |n| run_probe(&[n]))?;
            let chosen = found.and_then(|n| probes.iter().position(|p| p.nodes == [n]));
            (probes, chosen)
        }
        Mode::CheapestMix { .. } => {
            for (k, &i) in base.index.iter().enumerate() {
                if base.scenario.cluster.pools[i].price_per_node_hour.is_none() {
                    bail!(
                        "{}: pool {:?} has no `price_per_node_hour`; the cheapest mix needs a price for both pools",
                        path.display(),
                        pools[k]
                    );
                }
            }
            cheapest_mix(&base, spec, &run_probe, &mut notes)?
        }
    };
    for (i, p) in probes.iter_mut().enumerate() {
        p.step = i + 1;
    }
    notes.extend(monotonicity_notes(&probes, objectives, &pools));
    let answer = chosen.map(|i| {
        let p = &probes[i];
        Answer {
            step: p.step,
            nodes: pools.iter().cloned().zip(p.nodes.iter().copied()).collect(),
            overrides: base
                .resize_overrides(&p.nodes)
                .iter()
                .map(ToString::to_string)
                .collect(),
            cost_per_hour: p.cost_per_hour,
            cost: p.cost,
            text: String::new(),
        }
    });
    // The search settles on capacity; a budget objective can still rule the
    // answer out.
    let answer = match answer {
        Some(a) if !probes[a.step - 1].meets => {
            notes.push(format!(
                "the smallest cluster meeting the capacity objectives ({}) misses the budget: {}; larger clusters only cost more",
                describe_nodes(&pools, &probes[a.step - 1].nodes),
                probes[a.step - 1].why_not.join("; ")
            ));
            None
        }
        other => other,
    };
    let answer = answer.map(|mut a| {
        let p = &probes[a.step - 1];
        a.text = format!(
            "{} (probe {}){}: {}",
            describe_nodes(&pools, &p.nodes),
            p.step,
            p.cost_per_hour
                .map(|c| format!(", {}/h", super::check::fmt_num(c)))
                .unwrap_or_default(),
            objectives
                .iter()
                .zip(&p.values)
                .map(|(o, v)| format!("{} = {}", o.metric(), o.metric().format_value(*v)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        a
    });
    if answer.is_none() && chosen.is_none() {
        notes.push(format!(
            "no cluster within the bounds (min {}, max {} nodes) meets the objective",
            spec.min, spec.max_nodes
        ));
    }
    Ok(Plan {
        schema: 1,
        scenario: base.scenario.name.clone(),
        path: path.display().to_string(),
        mode: match spec.mode {
            Mode::Single { .. } => "single",
            Mode::CheapestMix { .. } => "cheapest-mix",
        },
        pools,
        overrides: overrides.iter().map(ToString::to_string).collect(),
        objectives: objectives.iter().map(ToString::to_string).collect(),
        objective_list: objectives.clone(),
        min: spec.min,
        max_nodes: spec.max_nodes,
        probes,
        answer,
        notes,
    })
}

/// The cheapest-mix walk over the first pool's counts (see the module docs).
/// Returns the probes ordered by first-pool count and search order, and the
/// index of the chosen one.
fn cheapest_mix(
    base: &Base,
    spec: &PlanSpec,
    run_probe: &(dyn Fn(&[u32]) -> anyhow::Result<Probe> + Sync),
    notes: &mut Vec<String>,
) -> anyhow::Result<(Vec<Probe>, Option<usize>)> {
    let price = |k: usize| {
        base.scenario.cluster.pools[base.index[k]]
            .price_per_node_hour
            .unwrap_or(0.0)
    };
    let (pa, pb) = (price(0), price(1));
    let mut probes: Vec<Probe> = Vec::new();
    // (first count, smallest second count) per first count with an answer.
    let mut staircase: Vec<(u32, u32)> = Vec::new();
    let mut best: Option<usize> = None;
    let mut cap_b = spec.max_nodes;
    let mut x = spec.min;
    let better = |p: &Probe, q: &Probe| {
        let key = |p: &Probe| {
            (
                p.cost_per_hour.unwrap_or(0.0),
                p.cost,
                p.nodes.iter().map(|&n| u64::from(n)).sum::<u64>(),
            )
        };
        key(p).partial_cmp(&key(q)) == Some(std::cmp::Ordering::Less)
    };
    while x <= spec.max_nodes {
        if let Some(b) = best {
            // With the second pool at its minimum, more of the first only
            // costs more.
            let floor = f64::from(x) * pa + f64::from(spec.min) * pb;
            let best_rate = probes[b].cost_per_hour.unwrap_or(0.0) - base.other_rate();
            if floor > best_rate + 1e-9 {
                notes.push(format!(
                    "stopped at {} = {x}: {x} × {} alone costs more per hour than the best mix",
                    base.scenario.cluster.pools[base.index[0]].name,
                    super::check::fmt_num(pa)
                ));
                break;
            }
        }
        let batch: Vec<u32> = (x..=spec.max_nodes.min(x.saturating_add(MIX_BATCH - 1))).collect();
        let results: Vec<anyhow::Result<(Vec<Probe>, Option<u32>)>> = batch
            .par_iter()
            .map(|&a| {
                let hi = (spec.max_nodes - a).min(cap_b);
                search_one(spec.min, hi, |b| run_probe(&[a, b]))
            })
            .collect();
        for (&a, r) in batch.iter().zip(results) {
            let (ps, found) = r?;
            let offset = probes.len();
            probes.extend(ps);
            if let Some(b) = found {
                staircase.push((a, b));
                let i = offset
                    + probes[offset..]
                        .iter()
                        .position(|p| p.nodes == [a, b])
                        .expect("the search probed its answer");
                if probes[i].meets && best.is_none_or(|j| better(&probes[i], &probes[j])) {
                    best = Some(i);
                }
            }
        }
        // Monotone: more first-pool nodes never need more second-pool
        // nodes, so later searches stop at the last answer.
        if let Some(&(_, b)) = staircase.last() {
            cap_b = cap_b.min(b);
        }
        x = batch.last().map_or(u32::MAX, |&l| l.saturating_add(1));
        if x == u32::MAX {
            break;
        }
    }
    for w in staircase.windows(2) {
        if w[1].1 > w[0].1 {
            notes.push(format!(
                "monotonicity contradicted: {} more first-pool nodes needed more second-pool nodes ({}={} needs {}, {}={} needs {})",
                w[1].0 - w[0].0,
                base.scenario.cluster.pools[base.index[0]].name,
                w[0].0,
                w[0].1,
                base.scenario.cluster.pools[base.index[0]].name,
                w[1].0,
                w[1].1
            ));
        }
    }
    if best.is_none() && !staircase.is_empty() {
        notes.push(
            "some mixes meet the capacity objectives but none meets the budget as well".into(),
        );
    }
    Ok((probes, best))
}

impl Base {
    /// Hourly price of the pools the plan does not resize.
    fn other_rate(&self) -> f64 {
        self.scenario
            .cluster
            .pools
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.index.contains(i))
            .filter_map(|(_, p)| p.price_per_node_hour.map(|c| c * f64::from(p.nodes)))
            .sum()
    }
}

/// Pairs of probes that contradict monotonicity: within each group of
/// probes sharing every pool's count but the last, a larger count that fails
/// where a smaller met, and capacity metrics that rise with more nodes.
fn monotonicity_notes(probes: &[Probe], objectives: &[Objective], pools: &[String]) -> Vec<String> {
    let mut groups: BTreeMap<Vec<u32>, Vec<&Probe>> = BTreeMap::new();
    for p in probes {
        let rest = &p.nodes[..p.nodes.len().saturating_sub(1)];
        groups.entry(rest.to_vec()).or_default().push(p);
    }
    let mut notes = Vec::new();
    for group in groups.values_mut() {
        group.sort_by_key(|p| p.nodes.last().copied());
        for (i, small) in group.iter().enumerate() {
            for large in &group[i + 1..] {
                if small.meets_capacity && !large.meets_capacity {
                    notes.push(format!(
                        "monotonicity contradicted: {} meets the objective but {} does not ({}); the answer assumes more nodes never hurt",
                        describe_nodes(pools, &small.nodes),
                        describe_nodes(pools, &large.nodes),
                        large.why_not.join("; ")
                    ));
                }
            }
        }
        for w in group.windows(2) {
            for (k, o) in objectives.iter().enumerate() {
                let m = o.metric();
                let (a, b) = (w[0].values[k], w[1].values[k]);
                if !m.is_budget() && a.is_finite() && b.is_finite() && b > a {
                    notes.push(format!(
                        "{m} rose from {} at {} to {} at {}",
                        m.format_value(a),
                        describe_nodes(pools, &w[0].nodes),
                        m.format_value(b),
                        describe_nodes(pools, &w[1].nodes)
                    ));
                }
            }
        }
    }
    notes
}

fn describe_nodes(pools: &[String], nodes: &[u32]) -> String {
    pools
        .iter()
        .zip(nodes)
        .map(|(p, n)| format!("{p}={n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Seconds in the largest unit that keeps them exact: `2h`, `30m`, `90.5s`.
fn exact_duration(s: f64) -> String {
    if s > 0.0 && s % 3600.0 == 0.0 {
        format!("{}h", s / 3600.0)
    } else if s > 0.0 && s % 60.0 == 0.0 {
        format!("{}m", s / 60.0)
    } else {
        format!("{}s", super::check::fmt_num(s))
    }
}

/// Seconds as `45.5s`, `30.00m` or `26.84h`.
pub fn fmt_duration(s: f64) -> String {
    if !s.is_finite() {
        "—".into()
    } else if s >= 3600.0 {
        format!("{:.2}h", s / 3600.0)
    } else if s >= 60.0 {
        format!("{:.2}m", s / 60.0)
    } else {
        format!("{}s", super::check::fmt_num((s * 1000.0).round() / 1000.0))
    }
}

impl Plan {
    /// The probe table as Markdown; `wall` adds the wall-time column (for
    /// the terminal: it differs between runs, so files never carry it).
    pub fn table(&self, wall: bool) -> String {
        let metrics: Vec<Metric> = self.metric_columns();
        let mut head: Vec<String> = vec!["#".into()];
        head.extend(self.pools.iter().cloned());
        head.extend(metrics.iter().map(ToString::to_string));
        let priced = self.probes.iter().any(|p| p.cost_per_hour.is_some());
        if priced {
            head.push("cost/h".into());
        }
        head.push("run cost".into());
        head.push("meets".into());
        head.push("why not".into());
        if wall {
            head.push("wall s".into());
        }
        let mut t = String::new();
        let _ = writeln!(t, "| {} |", head.join(" | "));
        let _ = writeln!(
            t,
            "|{}",
            head.iter()
                .map(|h| if h == "why not" || h == "meets" {
                    "---|"
                } else {
                    "---:|"
                })
                .collect::<String>()
        );
        let objectives = &self.objective_list;
        for p in &self.probes {
            let mut row: Vec<String> = vec![p.step.to_string()];
            row.extend(p.nodes.iter().map(ToString::to_string));
            for m in &metrics {
                let k = objectives.iter().position(|o| o.metric() == *m);
                row.push(k.map_or_else(|| "—".into(), |k| m.format_value(p.values[k])));
            }
            if priced {
                row.push(
                    p.cost_per_hour
                        .map_or_else(|| "—".into(), super::check::fmt_num),
                );
            }
            row.push(super::check::fmt_num(p.cost));
            let chosen = self.answer.as_ref().is_some_and(|a| a.step == p.step);
            row.push(match (p.meets, chosen) {
                (true, true) => "yes ← answer".into(),
                (true, false) => "yes".into(),
                (false, _) => "no".into(),
            });
            row.push(p.why_not.join("; "));
            if wall {
                row.push(format!("{:.2}", p.wall_s));
            }
            let _ = writeln!(t, "| {} |", row.join(" | "));
        }
        t
    }

    fn metric_columns(&self) -> Vec<Metric> {
        let mut out: Vec<Metric> = Vec::new();
        for o in &self.objective_list {
            if !out.contains(&o.metric()) {
                out.push(o.metric());
            }
        }
        out
    }

    /// `plan.md`: the question, the probe table, the answer and the notes.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Capacity plan: {}\n", self.scenario);
        let _ = writeln!(md, "- scenario: `{}`", self.path);
        if !self.overrides.is_empty() {
            let _ = writeln!(md, "- overrides: `{}`", self.overrides.join("` `"));
        }
        let _ = writeln!(
            md,
            "- {}: {}",
            if self.mode == "single" {
                "smallest node count of pool"
            } else {
                "cheapest mix (lowest Σ nodes × price_per_node_hour) of pools"
            },
            self.pools.join(", ")
        );
        let _ = writeln!(md, "- objective: `{}`", self.objectives.join("` and `"));
        let _ = writeln!(md, "- bounds: {} to {} nodes\n", self.min, self.max_nodes);
        md.push_str(&self.table(false));
        md.push('\n');
        match &self.answer {
            Some(a) => {
                let _ = writeln!(md, "**Answer**: {}", a.text);
                let _ = writeln!(
                    md,
                    "\nReproduce: `schedlab run {} --set {}`",
                    self.path,
                    a.overrides.join(" --set ")
                );
            }
            None => {
                let _ = writeln!(
                    md,
                    "**No answer**: nothing within the bounds meets the objective."
                );
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(md, "\nNotes:\n");
            for n in &self.notes {
                let _ = writeln!(md, "- {n}");
            }
        }
        md
    }

    /// `plan.json` (no wall times).
    pub fn json(&self) -> Vec<u8> {
        // A probe that could not run has NaN values; serde_json writes null.
        let mut v = serde_json::to_value(self).expect("a plan always serializes");
        if let Some(a) = v.get_mut("answer").and_then(|a| a.as_object_mut()) {
            a.remove("text");
        }
        let mut bytes = serde_json::to_vec_pretty(&v).expect("a plan always serializes");
        bytes.push(b'\n');
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objectives_parse_into_typed_limits() {
        assert_eq!(
            "wait.p95<=30m".parse::<Objective>().unwrap(),
            Objective::Limit {
                metric: Metric::Wait(Stat::P95),
                strict: false,
                limit: 1800.0
            }
        );
        assert_eq!(
            "jct.mean < 1.5h".parse::<Objective>().unwrap(),
            Objective::Limit {
                metric: Metric::Jct(Stat::Mean),
                strict: true,
                limit: 5400.0
            }
        );
        assert_eq!(
            "unfinished=0".parse::<Objective>().unwrap(),
            Objective::AllFinish
        );
        assert_eq!(
            "all-finish".parse::<Objective>().unwrap(),
            Objective::AllFinish
        );
        assert_eq!(
            "cost<=100.5".parse::<Objective>().unwrap(),
            Objective::Limit {
                metric: Metric::Cost,
                strict: false,
                limit: 100.5
            }
        );
        for s in [
            "wait.p95<=30m",
            "makespan<2h",
            "wait.max<=1000.5s",
            "slowdown.p99<=3",
            "all-finish",
        ] {
            let o: Objective = s.parse().unwrap();
            assert_eq!(o.to_string(), s);
        }
    }

    fn probe(nodes: &[u32], wait_s: f64, ok: bool) -> Probe {
        Probe {
            step: 0,
            nodes: nodes.to_vec(),
            values: vec![wait_s],
            cost_per_hour: None,
            cost: 0.0,
            meets: ok,
            meets_capacity: ok,
            why_not: if ok { vec![] } else { vec!["too slow".into()] },
            wall_s: 0.0,
        }
    }

    #[test]
    fn contradictions_of_monotonicity_are_reported() {
        let objectives = vec!["wait.p95<=30m".parse::<Objective>().unwrap()];
        let pools = vec!["gpu".to_string()];
        // Met at 4 nodes, missed at 5 (search order, not count order).
        let probes = [
            probe(&[8], 600.0, true),
            probe(&[4], 1500.0, true),
            probe(&[5], 2400.0, false),
        ];
        let notes = monotonicity_notes(&probes, &objectives, &pools);
        assert_eq!(
            notes,
            [
                "monotonicity contradicted: gpu=4 meets the objective but gpu=5 does not (too slow); the answer assumes more nodes never hurt",
                "wait.p95 rose from 25.00m at gpu=4 to 40.00m at gpu=5"
            ]
        );
        // Groups are per first-pool count in a mix.
        let pools = vec!["a".to_string(), "b".to_string()];
        let probes = [probe(&[1, 2], 100.0, true), probe(&[2, 3], 200.0, true)];
        assert!(monotonicity_notes(&probes, &objectives, &pools).is_empty());
    }

    #[test]
    fn search_one_probes_exponentially_then_bisects() {
        // Meets from 10 up.
        let mut seen = Vec::new();
        let (probes, found) = search_one(1, 1024, |n| {
            seen.push(n);
            let ok = n >= 10;
            Ok(Probe {
                step: 0,
                nodes: vec![n],
                values: vec![],
                cost_per_hour: None,
                cost: 0.0,
                meets: ok,
                meets_capacity: ok,
                why_not: vec![],
                wall_s: 0.0,
            })
        })
        .unwrap();
        assert_eq!(found, Some(10));
        assert_eq!(seen, [1, 2, 4, 8, 16, 12, 10, 9]);
        assert_eq!(probes.len(), 8);
    }
}
