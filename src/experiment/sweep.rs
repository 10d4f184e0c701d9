//! Sweeps: one base scenario run over a grid of scenario fields × seeds, in
//! parallel, resumable and shardable (`schedlab sweep`, `schedlab merge`;
//! docs/sweep.md is the user guide).
//!
//! A sweep spec is TOML (`schema = 1`, unknown fields rejected):
//!
//! ```toml
//! schema = 1
//! scenario = "../quickstart.toml"          # relative to the spec
//! seeds = 5                                # 1..=5, or a list [1, 2, 3]
//! metrics = ["jct_s.mean", "wait_s.p95"]   # optional, paths into summary.json
//! [set]                                    # optional: fixed overrides of every point
//! "workload.filters.sample" = 0.5
//! [grid]                                   # dotted scenario key → list of TOML values
//! "policy.scheduler" = ["fifo", "sjf"]
//! "cluster.pools[0].nodes" = [4, 8]
//! ```
//!
//! Order and indices, which every output and the sharding rely on:
//! - the grid axes are taken in the order they are written in the spec;
//! - grid points are the cartesian product in row-major order: the first axis
//!   varies slowest, the last fastest (nested loops in file order);
//! - a *point* is a grid point × a seed; point `index = grid_point × seeds +
//!   seed position`, seeds in the order the spec lists them;
//! - shard `i/N` runs the points with `index mod N == i`.
//!
//! Every finished point is written atomically to `points/<index>-<slug>.json`
//! with its overrides, seed, a hash of what determines its result and the run
//! summary. A rerun skips points whose file is there and matches; the tables
//! (`results.csv`, `table.csv`, `table.md`) are always computed from the point
//! files, so a single-process sweep and a merge of shards give the same bytes
//! whatever the thread count.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::metrics::Summary;
use crate::report::{self, RunInfo};
use crate::scenario::{Override, Scenario, ScenarioError};

/// The sweep spec schema version this build reads.
pub const SPEC_SCHEMA: u32 = 1;

/// Version of the files a sweep writes (`sweep.json`, `points/*.json`).
pub const OUTPUT_SCHEMA: u32 = 1;

/// Metrics tabulated when the spec names none: paths into `summary.json`
/// (seconds, percent of GPU capacity, currency, job count).
pub const DEFAULT_METRICS: [&str; 8] = [
    "jct_s.mean",
    "jct_s.p95",
    "wait_s.mean",
    "wait_s.p95",
    "makespan_s",
    "mean_gpu_allocation_pct",
    "cost.total",
    "jobs.finished",
];

/// The most seeds `seeds = N` may ask for; a guard against typos such as
/// `seeds = 1000000`, which would silently queue a million runs per point.
pub const MAX_SEEDS: u64 = 10_000;

/// Errors reading a sweep spec. Like scenario errors, each names the file and,
/// when it is known, the line and the field.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{}: cannot read sweep spec", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax, unknown fields and type errors; toml's message shows the
    /// line and column.
    #[error("{}: {message}", path.display())]
    Toml { path: PathBuf, message: String },
    #[error("{}{}: `{field}`: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        field: String,
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    schema: u32,
    scenario: PathBuf,
    #[serde(default)]
    description: String,
    seeds: toml::Value,
    #[serde(default)]
    metrics: Option<Vec<String>>,
    #[serde(default)]
    set: toml::Table,
    #[serde(default)]
    grid: toml::Table,
}

/// One swept scenario field.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The key as written in the spec, e.g. `cluster.pools[0].nodes`.
    pub key: String,
    /// The same key in `--set` form, e.g. `cluster.pools.0.nodes`.
    pub override_key: String,
    pub values: Vec<toml::Value>,
    /// 1-based line of the key in the spec.
    pub line: Option<usize>,
}

impl Axis {
    /// How value `i` is shown in tables: strings bare, anything else as TOML.
    pub fn label(&self, i: usize) -> String {
        label(&self.values[i])
    }
}

fn label(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A validated sweep spec.
#[derive(Debug, Clone)]
pub struct SweepSpec {
    /// The spec file.
    pub path: PathBuf,
    /// The spec file's stem: the default output folder is `sweep-<stem>`.
    pub stem: String,
    pub description: String,
    /// The base scenario, resolved against the spec's folder.
    pub scenario: PathBuf,
    /// Fixed overrides applied to every point before the grid's.
    pub set: Vec<Override>,
    /// Axes in the order the spec writes them.
    pub grid: Vec<Axis>,
    /// Seeds in the order the spec lists them.
    pub seeds: Vec<u64>,
    /// Paths into `summary.json` to tabulate.
    pub metrics: Vec<String>,
    /// Hash of what determines a point's result besides its own overrides:
    /// the base scenario's text, the `[set]` overrides and the schedlab
    /// version (`fnv1a64:<16 hex digits>`).
    pub hash: String,
    /// The base scenario's `run.output_dir`: the default output folder is
    /// `<output_dir>/sweep-<stem>`.
    pub output_dir: PathBuf,
}

/// One run of the sweep: a grid point and a seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// `grid_point × seeds + seed position`; shards select on it.
    pub index: usize,
    /// Row-major index of the grid point (first axis slowest).
    pub grid_point: usize,
    /// Index of each axis's value, in axis order.
    pub values: Vec<usize>,
    pub seed: u64,
}

impl SweepSpec {
    /// Reads and validates a spec: its fields, the base scenario, every grid
    /// value on its own (so a bad one is named with its key and line) and
    /// every grid combination.
    pub fn load(path: &Path) -> Result<SweepSpec, SpecError> {
        let src = std::fs::read_to_string(path).map_err(|source| SpecError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        SweepSpec::parse(&src, path)
    }

    /// Like [`SweepSpec::load`] with the text given; `path` names the file in
    /// errors and anchors the scenario path.
    pub fn parse(src: &str, path: &Path) -> Result<SweepSpec, SpecError> {
        let raw: RawSpec = toml::from_str(src).map_err(|e| SpecError::Toml {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let invalid = |field: &str, line: Option<usize>, message: String| SpecError::Invalid {
            path: path.to_path_buf(),
            line,
            field: field.to_string(),
            message,
        };
        let top_line = |key: &str| written_keys(src, key).first().map(|k| k.line);
        if raw.schema != SPEC_SCHEMA {
            return Err(invalid(
                "schema",
                top_line("schema"),
                format!(
                    "this schedlab reads sweep spec schema {SPEC_SCHEMA}, the file says {}",
                    raw.schema
                ),
            ));
        }
        let seeds = parse_seeds(&raw.seeds).map_err(|m| invalid("seeds", top_line("seeds"), m))?;

        // `[set]`: flattened dotted keys; every leaf is a value.
        let mut set = Vec::new();
        let mut set_lines = Vec::new();
        for k in written_keys(src, "set") {
            let key = k.segments.join(".");
            let field = format!("set.{key}");
            // Both views come from the same text; a mismatch would be a toml
            // bug, reported rather than unwrapped.
            let value = lookup(&raw.set, &k.segments)
                .cloned()
                .ok_or_else(|| invalid(&field, Some(k.line), "cannot read this key".into()))?;
            let override_key = override_key(&key).map_err(|m| invalid(&field, Some(k.line), m))?;
            if override_key == "seed" {
                return Err(invalid(
                    &field,
                    Some(k.line),
                    "the seed comes from `seeds`".into(),
                ));
            }
            set.push(Override {
                key: override_key,
                value,
            });
            set_lines.push(k.line);
        }

        // `[grid]`: flattened dotted keys; every leaf is a list of values.
        let mut grid: Vec<Axis> = Vec::new();
        for k in written_keys(src, "grid") {
            let key = k.segments.join(".");
            let field = format!("grid.{key}");
            let value = lookup(&raw.grid, &k.segments)
                .ok_or_else(|| invalid(&field, Some(k.line), "cannot read this key".into()))?;
            let toml::Value::Array(values) = value else {
                return Err(invalid(
                    &field,
                    Some(k.line),
                    format!(
                        "expected a list of values to sweep, e.g. [\"fifo\", \"sjf\"], got {value}"
                    ),
                ));
            };
            if values.is_empty() {
                return Err(invalid(
                    &field,
                    Some(k.line),
                    "the list of values is empty".into(),
                ));
            }
            let override_key = override_key(&key).map_err(|m| invalid(&field, Some(k.line), m))?;
            if override_key == "seed" {
                return Err(invalid(
                    &field,
                    Some(k.line),
                    "sweep seeds with `seeds`, not the grid".into(),
                ));
            }
            if let Some(other) = grid.iter().find(|a| a.override_key == override_key) {
                return Err(invalid(
                    &field,
                    Some(k.line),
                    format!("the same field as `{}` (line {:?})", other.key, other.line),
                ));
            }
            if let Some(dup) = set.iter().find(|o| o.key == override_key) {
                return Err(invalid(
                    &field,
                    Some(k.line),
                    format!("also fixed in [set] as {dup}"),
                ));
            }
            let mut seen = BTreeSet::new();
            for v in values {
                if !seen.insert(v.to_string()) {
                    return Err(invalid(
                        &field,
                        Some(k.line),
                        format!("value {v} is listed twice"),
                    ));
                }
            }
            grid.push(Axis {
                key,
                override_key,
                values: values.clone(),
                line: Some(k.line),
            });
        }

        let metrics = match raw.metrics {
            None => DEFAULT_METRICS.iter().map(|m| m.to_string()).collect(),
            Some(list) => {
                if list.is_empty() {
                    return Err(invalid(
                        "metrics",
                        top_line("metrics"),
                        "the list is empty; leave it out for the default metrics".into(),
                    ));
                }
                let mut seen = BTreeSet::new();
                for m in &list {
                    if !seen.insert(m.as_str()) {
                        return Err(invalid(
                            "metrics",
                            top_line("metrics"),
                            format!("{m:?} is listed twice"),
                        ));
                    }
                }
                list
            }
        };

        let base_dir = path.parent().unwrap_or(Path::new(""));
        let scenario_path = base_dir.join(&raw.scenario);
        let scenario_src = std::fs::read(&scenario_path).map_err(|e| {
            invalid(
                "scenario",
                top_line("scenario"),
                format!("cannot read {}: {e}", scenario_path.display()),
            )
        })?;
        // Each fixed override on its own first, so an error names its key and
        // line; then all of them together.
        for (o, &line) in set.iter().zip(&set_lines) {
            Scenario::load(&scenario_path, std::slice::from_ref(o)).map_err(|e| {
                invalid(
                    &format!("set.{}", o.key),
                    Some(line),
                    format!("value {}: {}", o.value, scenario_message(&e)),
                )
            })?;
        }
        let base = Scenario::load(&scenario_path, &set).map_err(|e| {
            let field = if set.is_empty() { "scenario" } else { "set" };
            invalid(field, top_line(field), scenario_message(&e))
        })?;

        // Each value on its own first: an error then names exactly one key
        // and value.
        for axis in &grid {
            for v in &axis.values {
                let mut o = set.clone();
                o.push(Override {
                    key: axis.override_key.clone(),
                    value: v.clone(),
                });
                Scenario::load(&scenario_path, &o).map_err(|e| {
                    invalid(
                        &format!("grid.{}", axis.key),
                        axis.line,
                        format!("value {v}: {}", scenario_message(&e)),
                    )
                })?;
            }
        }

        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sweep".into());
        let mut hasher = Fnv1a::new();
        hasher.write(b"schedlab ");
        hasher.write(env!("CARGO_PKG_VERSION").as_bytes());
        hasher.write(b"\0");
        hasher.write(&scenario_src);
        for o in &set {
            hasher.write(b"\0");
            hasher.write(o.to_string().as_bytes());
        }
        let spec = SweepSpec {
            path: path.to_path_buf(),
            stem,
            description: raw.description,
            scenario: scenario_path,
            set,
            grid,
            seeds,
            metrics,
            hash: format!("fnv1a64:{:016x}", hasher.finish()),
            output_dir: base.output_dir.clone(),
        };

        // Then every combination (some are only invalid together).
        let first_seed = spec.seeds[0];
        for g in 0..spec.grid_points() {
            let p = spec.point(g, first_seed);
            spec.scenario_of(&p).map_err(|e| {
                invalid(
                    "grid",
                    top_line("grid"),
                    format!(
                        "grid point {g} ({}): {}",
                        spec.describe(&p),
                        scenario_message(&e)
                    ),
                )
            })?;
        }
        let shape = summary_shape(&base);
        for m in &spec.metrics {
            if let Some(shape) = &shape {
                metric_value(shape, m)
                    .map_err(|msg| invalid("metrics", top_line("metrics"), msg))?;
            } else {
                metric_path(m).map_err(|msg| invalid("metrics", top_line("metrics"), msg))?;
            }
        }
        Ok(spec)
    }

    /// Number of grid points (the product of the axes' lengths; 1 with no axis).
    pub fn grid_points(&self) -> usize {
        self.grid.iter().map(|a| a.values.len()).product()
    }

    /// Number of points: grid points × seeds.
    pub fn total_points(&self) -> usize {
        self.grid_points() * self.seeds.len()
    }

    fn point(&self, grid_point: usize, seed: u64) -> Point {
        let mut values = vec![0; self.grid.len()];
        let mut rest = grid_point;
        for (i, axis) in self.grid.iter().enumerate().rev() {
            values[i] = rest % axis.values.len();
            rest /= axis.values.len();
        }
        let pos = self.seeds.iter().position(|&s| s == seed).unwrap_or(0);
        Point {
            index: grid_point * self.seeds.len() + pos,
            grid_point,
            values,
            seed,
        }
    }

    /// Every point in index order.
    pub fn points(&self) -> Vec<Point> {
        (0..self.grid_points())
            .flat_map(|g| self.seeds.iter().map(move |&s| (g, s)))
            .map(|(g, s)| self.point(g, s))
            .collect()
    }

    /// The overrides of a point: `[set]`, the grid values in axis order, the
    /// seed.
    pub fn overrides(&self, p: &Point) -> Vec<Override> {
        let mut o = self.set.clone();
        for (axis, &v) in self.grid.iter().zip(&p.values) {
            o.push(Override {
                key: axis.override_key.clone(),
                value: axis.values[v].clone(),
            });
        }
        o.push(Override {
            key: "seed".into(),
            // Seeds were checked to fit when the spec was read.
            value: toml::Value::Integer(i64::try_from(p.seed).unwrap_or(i64::MAX)),
        });
        o
    }

    /// The scenario of a point.
    pub fn scenario_of(&self, p: &Point) -> Result<Scenario, ScenarioError> {
        Scenario::load(&self.scenario, &self.overrides(p))
    }

    /// `policy.scheduler=fifo, cluster.pools[0].nodes=4, seed 3`.
    pub fn describe(&self, p: &Point) -> String {
        let mut parts: Vec<String> = self
            .grid
            .iter()
            .zip(&p.values)
            .map(|(a, &v)| format!("{}={}", a.key, a.label(v)))
            .collect();
        parts.push(format!("seed {}", p.seed));
        parts.join(", ")
    }

    /// What `sweep.json` records: everything the tables are made from.
    pub fn manifest(&self) -> Manifest {
        Manifest {
            schema: OUTPUT_SCHEMA,
            spec: self.stem.clone(),
            description: self.description.clone(),
            spec_hash: self.hash.clone(),
            grid: self
                .grid
                .iter()
                .map(|a| ManifestAxis {
                    key: a.key.clone(),
                    values: (0..a.values.len()).map(|i| a.label(i)).collect(),
                })
                .collect(),
            seeds: self.seeds.clone(),
            metrics: self.metrics.clone(),
            points: self.total_points(),
        }
    }
}

/// The scenario error's message without the `--set` framing, which would
/// mislead in a sweep (the value came from the spec).
fn scenario_message(e: &ScenarioError) -> String {
    match e {
        ScenarioError::Override { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn parse_seeds(v: &toml::Value) -> Result<Vec<u64>, String> {
    let max = i64::try_from(MAX_SEEDS).unwrap_or(i64::MAX);
    match v {
        toml::Value::Integer(n) if (1..=max).contains(n) => Ok((1..=*n as u64).collect()),
        toml::Value::Integer(n) => Err(format!(
            "expected a number of seeds in 1..={MAX_SEEDS} (meaning seeds 1..=N) or a list, got {n}"
        )),
        toml::Value::Array(items) => {
            if items.is_empty() {
                return Err("the list of seeds is empty".into());
            }
            let mut seeds = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    toml::Value::Integer(s) if *s >= 0 => {
                        let s = *s as u64;
                        if seeds.contains(&s) {
                            return Err(format!("seed {s} is listed twice"));
                        }
                        seeds.push(s);
                    }
                    other => {
                        return Err(format!("expected non-negative integer seeds, got {other}"));
                    }
                }
            }
            Ok(seeds)
        }
        other => Err(format!(
            "expected a number of seeds (seeds = 5 means 1..=5) or a list such as [1, 2, 3], got {other}"
        )),
    }
}

/// A dotted key of the spec as an override key: `pools[0]` → `pools.0`.
fn override_key(key: &str) -> Result<String, String> {
    let segs = metric_path(key)?;
    Ok(segs
        .iter()
        .map(|s| match s {
            Seg::Key(k) => k.clone(),
            Seg::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join("."))
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Splits `cost.pools[0].cost` (or `cost.pools.0.cost`) into segments.
fn metric_path(path: &str) -> Result<Vec<Seg>, String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() {
            return Err(format!(
                "expected a dotted key such as policy.scheduler or cluster.pools[0].nodes, got {path:?}"
            ));
        }
        out.push(match name.parse::<usize>() {
            Ok(i) if !out.is_empty() => Seg::Index(i),
            _ => Seg::Key(name.to_string()),
        });
        while !rest.is_empty() {
            let close = rest
                .find(']')
                .ok_or_else(|| format!("unclosed `[` in {path:?}"))?;
            let idx: usize = rest[1..close].parse().map_err(|_| {
                format!(
                    "expected a list index in {path:?}, got {:?}",
                    &rest[..=close]
                )
            })?;
            out.push(Seg::Index(idx));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(format!("unexpected {rest:?} in {path:?}"));
            }
        }
    }
    Ok(out)
}

/// The number at `path` in a summary (as JSON).
fn metric_value(summary: &serde_json::Value, path: &str) -> Result<serde_json::Number, String> {
    let mut cur = summary;
    for seg in metric_path(path)? {
        let next = match (&seg, cur) {
            (Seg::Key(k), serde_json::Value::Object(map)) => map.get(k),
            (Seg::Index(i), serde_json::Value::Array(items)) => items.get(*i),
            (Seg::Index(i), serde_json::Value::Object(map)) => map.get(&i.to_string()),
            _ => None,
        };
        cur = next.ok_or_else(|| {
            let known = match cur {
                serde_json::Value::Object(map) => format!(
                    "; the summary has {}",
                    map.keys()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => String::new(),
            };
            format!("metric {path:?}: no such field in summary.json{known}")
        })?;
    }
    match cur {
        serde_json::Value::Number(n) => Ok(n.clone()),
        other => Err(format!(
            "metric {path:?}: expected a number in summary.json, got {other}"
        )),
    }
}

/// The JSON shape of a summary, from an empty run on the base scenario's
/// cluster, to check metric paths before anything runs. `None` if even that
/// fails (the paths are then checked on the first finished point).
fn summary_shape(base: &Scenario) -> Option<serde_json::Value> {
    let empty = crate::workload::Workload::default();
    let run = crate::engine::simulate(
        &empty,
        &base.cluster.pools,
        crate::policy::scheduler::SchedulerKind::Fifo,
        crate::policy::placement::PlacementKind::FirstFit,
        crate::engine::EngineConfig::default(),
    )
    .ok()?;
    serde_json::to_value(Summary::compute(&empty, &run)).ok()
}

/// A key written under a top-level table of the spec, with its line.
struct WrittenKey {
    /// Table path below the top-level table; quoted keys stay whole.
    segments: Vec<String>,
    line: usize,
}

/// The leaves (non-table values) under top-level `table`, in the order they
/// are written (toml's own tables sort their keys; the grid order must be the
/// file's), or the key `table` itself when it is not a table.
fn written_keys(src: &str, table: &str) -> Vec<WrittenKey> {
    use toml::de::{DeTable, DeValue};
    fn walk(
        t: &DeTable<'_>,
        prefix: &mut Vec<String>,
        src: &str,
        out: &mut Vec<(usize, WrittenKey)>,
    ) {
        for (k, v) in t.iter() {
            prefix.push(k.get_ref().to_string());
            match v.get_ref() {
                DeValue::Table(inner) => walk(inner, prefix, src, out),
                _ => {
                    let at = k.span().start.min(src.len());
                    out.push((
                        at,
                        WrittenKey {
                            segments: prefix.clone(),
                            line: src[..at].matches('\n').count() + 1,
                        },
                    ));
                }
            }
            prefix.pop();
        }
    }
    let Ok(root) = DeTable::parse(src) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some((k, v)) = root.get_ref().iter().find(|(k, _)| k.get_ref() == table) {
        match v.get_ref() {
            DeValue::Table(t) => walk(t, &mut Vec::new(), src, &mut out),
            _ => {
                let at = k.span().start.min(src.len());
                out.push((
                    at,
                    WrittenKey {
                        segments: Vec::new(),
                        line: src[..at].matches('\n').count() + 1,
                    },
                ));
            }
        }
    }
    out.sort_by_key(|(at, _)| *at);
    out.into_iter().map(|(_, k)| k).collect()
}

fn lookup<'a>(table: &'a toml::Table, segments: &[String]) -> Option<&'a toml::Value> {
    let (first, rest) = segments.split_first()?;
    let mut cur = table.get(first)?;
    for s in rest {
        cur = cur.as_table()?.get(s)?;
    }
    Some(cur)
}

/// 64-bit FNV-1a: a stable, dependency-free fingerprint (not a security
/// hash; it only tells whether a point file was made from the same inputs).
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// `i/N`: the shard that runs the points with `index mod N == i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether point `index` belongs to this shard.
    pub fn contains(&self, index: usize) -> bool {
        index % self.count as usize == self.index as usize
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("expected I/N with 0 ≤ I < N, e.g. 0/4, got {s:?}");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// `sweep.json`: what the tables are made from. Shards of one sweep write the
/// same bytes, so they can share a folder; `merge` requires equal manifests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub schema: u32,
    /// The spec's file stem.
    pub spec: String,
    pub description: String,
    /// See [`SweepSpec::hash`].
    pub spec_hash: String,
    pub grid: Vec<ManifestAxis>,
    pub seeds: Vec<u64>,
    pub metrics: Vec<String>,
    /// Grid points × seeds.
    pub points: usize,
}

/// One axis in `sweep.json`: its key and the labels of its values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestAxis {
    pub key: String,
    pub values: Vec<String>,
}

/// The manifest file name.
pub const MANIFEST: &str = "sweep.json";
/// The folder of the point files.
pub const POINTS_DIR: &str = "points";

impl Manifest {
    fn grid_points(&self) -> usize {
        self.grid.iter().map(|a| a.values.len()).product()
    }

    /// Value indices of grid point `g` (row-major, first axis slowest).
    fn values_of(&self, g: usize) -> Vec<usize> {
        let mut values = vec![0; self.grid.len()];
        let mut rest = g;
        for (i, axis) in self.grid.iter().enumerate().rev() {
            values[i] = rest % axis.values.len();
            rest /= axis.values.len();
        }
        values
    }

    /// `points/<index>-<slug>.json`: the index zero-padded to the width of
    /// the largest index (at least 4 digits, so names sort like indices), the
    /// slug made of the value labels and the seed.
    pub fn point_file(&self, index: usize) -> String {
        let width = self.points.saturating_sub(1).to_string().len().max(4);
        let n = self.seeds.len().max(1);
        let g = index / n;
        let seed = self.seeds.get(index % n).copied().unwrap_or(0);
        let mut slug = String::new();
        for (axis, v) in self.grid.iter().zip(self.values_of(g)) {
            for c in axis.values[v].chars() {
                if slug.len() >= 60 {
                    break;
                }
                slug.push(if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                    c
                } else {
                    '_'
                });
            }
            slug.push('-');
        }
        format!("{index:0width$}-{slug}s{seed}.json")
    }

    fn read(dir: &Path) -> anyhow::Result<Manifest> {
        let path = dir.join(MANIFEST);
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "reading {} (is {} a sweep output folder?)",
                path.display(),
                dir.display()
            )
        })?;
        let m: Manifest = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not a sweep manifest", path.display()))?;
        anyhow::ensure!(
            m.schema == OUTPUT_SCHEMA,
            "{}: written by a schedlab with output schema {}, this one reads {OUTPUT_SCHEMA}",
            path.display(),
            m.schema
        );
        Ok(m)
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("the manifest serializes");
        bytes.push(b'\n');
        bytes
    }
}

/// A point file as written.
#[derive(Serialize)]
struct PointFile<'a> {
    schema: u32,
    index: usize,
    grid_point: usize,
    seed: u64,
    spec_hash: &'a str,
    /// The overrides of the run, `key=value` in TOML, in application order.
    overrides: Vec<String>,
    /// `[key, label]` per axis, in axis order.
    values: Vec<[String; 2]>,
    run: &'a RunInfo,
    /// The run's summary; no wall-clock figure, so the file is deterministic.
    summary: &'a Summary,
}

/// What [`plan`] found in the output folder.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Points of this shard (all points without a shard).
    pub selected: usize,
    /// Points to run, in index order.
    pub todo: Vec<Point>,
    /// Points whose file is there and matches.
    pub skipped: usize,
    /// Points whose file is there but was made from other inputs (rerun).
    pub stale: usize,
}

/// Writes `sweep.json` into `out` and finds which of the shard's points still
/// need a run. With `force`, every point is run again.
pub fn plan(
    spec: &SweepSpec,
    out: &Path,
    shard: Option<Shard>,
    force: bool,
) -> anyhow::Result<Plan> {
    let manifest = spec.manifest();
    report::write_atomic(out, MANIFEST, &manifest.to_bytes())
        .with_context(|| format!("writing {}", out.join(MANIFEST).display()))?;
    let mut plan = Plan {
        selected: 0,
        todo: Vec::new(),
        skipped: 0,
        stale: 0,
    };
    for p in spec.points() {
        if !shard.is_none_or(|s| s.contains(p.index)) {
            continue;
        }
        plan.selected += 1;
        let file = out.join(POINTS_DIR).join(manifest.point_file(p.index));
        if !force && file.exists() {
            if point_matches(spec, &p, &file) {
                plan.skipped += 1;
                continue;
            }
            plan.stale += 1;
        }
        plan.todo.push(p);
    }
    Ok(plan)
}

/// Whether the point file at `file` was made from the same inputs.
fn point_matches(spec: &SweepSpec, p: &Point, file: &Path) -> bool {
    let Ok(bytes) = std::fs::read(file) else {
        return false;
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return false;
    };
    let overrides: Vec<serde_json::Value> = spec
        .overrides(p)
        .iter()
        .map(|o| serde_json::Value::String(o.to_string()))
        .collect();
    v["schema"] == OUTPUT_SCHEMA
        && v["index"] == p.index
        && v["seed"] == p.seed
        && v["spec_hash"] == spec.hash.as_str()
        && v["overrides"] == serde_json::Value::Array(overrides)
        && v["summary"].is_object()
}

/// Runs `points` on `threads` worker threads (0: one per core) and writes
/// each point's file as soon as it finishes. `done` is called after each
/// point, from the worker thread. On failure the error of the lowest failing
/// index is returned; the points that finished are kept (a rerun resumes).
pub fn execute(
    spec: &SweepSpec,
    points: &[Point],
    out: &Path,
    threads: usize,
    done: &(dyn Fn(&Point) + Sync),
) -> anyhow::Result<()> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("starting the worker threads")?;
    let manifest = spec.manifest();
    let results: Vec<anyhow::Result<()>> = pool.install(|| {
        points
            .par_iter()
            .map(|p| {
                let r = run_point(spec, &manifest, p, out)
                    .with_context(|| format!("point {} ({})", p.index, spec.describe(p)));
                done(p);
                r
            })
            .collect()
    });
    results.into_iter().collect()
}

fn run_point(spec: &SweepSpec, manifest: &Manifest, p: &Point, out: &Path) -> anyhow::Result<()> {
    let scenario = spec.scenario_of(p)?;
    let run = super::run_scenario(&scenario, |_| {})?;
    let file = PointFile {
        schema: OUTPUT_SCHEMA,
        index: p.index,
        grid_point: p.grid_point,
        seed: p.seed,
        spec_hash: &spec.hash,
        overrides: spec.overrides(p).iter().map(|o| o.to_string()).collect(),
        values: spec
            .grid
            .iter()
            .zip(&p.values)
            .map(|(a, &v)| [a.key.clone(), a.label(v)])
            .collect(),
        run: &run.info,
        summary: &run.summary,
    };
    let mut bytes = serde_json::to_vec_pretty(&file).context("serializing the point")?;
    bytes.push(b'\n');
    let dir = out.join(POINTS_DIR);
    let name = manifest.point_file(p.index);
    report::write_atomic(&dir, &name, &bytes)
        .with_context(|| format!("writing {}", dir.join(&name).display()))
}

/// The sweep's result files, as bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Tables {
    /// One row per point: its values, seed and metrics.
    pub results_csv: Vec<u8>,
    /// One row per grid point: mean and 95% CI half-width of each metric.
    pub table_csv: Vec<u8>,
    /// The same as a Markdown table (also what the terminal shows).
    pub table_md: String,
}

impl Tables {
    /// Writes `results.csv`, `table.csv` and `table.md` into `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        for (name, bytes) in [
            ("results.csv", &self.results_csv[..]),
            ("table.csv", &self.table_csv[..]),
            ("table.md", self.table_md.as_bytes()),
        ] {
            report::write_atomic(dir, name, bytes)
                .with_context(|| format!("writing {}", dir.join(name).display()))?;
        }
        Ok(())
    }
}

/// Reads `dir`'s manifest and point files and computes the tables. Fails,
/// naming them, if points are missing or were made from other inputs.
pub fn tabulate(dir: &Path) -> anyhow::Result<Tables> {
    let manifest = Manifest::read(dir)?;
    let summaries = read_points(&manifest, &[dir.to_path_buf()])?;
    tables(&manifest, &summaries)
}

/// Combines the outputs of shards (folders written by `sweep --shard`, or any
/// sweep folders of the same spec) into `out`: the manifest, every point
/// file, and the tables, byte-identical to a single-process sweep.
pub fn merge(inputs: &[PathBuf], out: &Path) -> anyhow::Result<Tables> {
    anyhow::ensure!(!inputs.is_empty(), "no folder to merge");
    let manifest = Manifest::read(&inputs[0])?;
    for dir in &inputs[1..] {
        let other = Manifest::read(dir)?;
        anyhow::ensure!(
            other == manifest,
            "{} and {} hold different sweeps (their {MANIFEST} differ: spec, inputs, grid, seeds or metrics)",
            inputs[0].display(),
            dir.display()
        );
    }
    let files = find_points(&manifest, inputs)?;
    report::write_atomic(out, MANIFEST, &manifest.to_bytes())
        .with_context(|| format!("writing {}", out.join(MANIFEST).display()))?;
    let points_out = out.join(POINTS_DIR);
    let mut summaries = Vec::with_capacity(files.len());
    for (index, file) in files.iter().enumerate() {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let name = manifest.point_file(index);
        if file != &points_out.join(&name) {
            report::write_atomic(&points_out, &name, &bytes)
                .with_context(|| format!("writing {}", points_out.join(&name).display()))?;
        }
        summaries.push(parse_point(&manifest, index, file, &bytes)?);
    }
    let t = tables(&manifest, &summaries)?;
    t.write(out)?;
    Ok(t)
}

/// The file of every point, from the first folder that has it.
fn find_points(manifest: &Manifest, dirs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::with_capacity(manifest.points);
    let mut missing = Vec::new();
    for index in 0..manifest.points {
        let name = manifest.point_file(index);
        match dirs
            .iter()
            .map(|d| d.join(POINTS_DIR).join(&name))
            .find(|f| f.exists())
        {
            Some(f) => files.push(f),
            None => missing.push(index),
        }
    }
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(20).map(|i| i.to_string()).collect();
        anyhow::bail!(
            "{} of {} points have no result in {} (indices {}{}): did every shard finish?",
            missing.len(),
            manifest.points,
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            shown.join(", "),
            if missing.len() > 20 { ", …" } else { "" }
        );
    }
    Ok(files)
}

fn read_points(manifest: &Manifest, dirs: &[PathBuf]) -> anyhow::Result<Vec<serde_json::Value>> {
    find_points(manifest, dirs)?
        .iter()
        .enumerate()
        .map(|(index, file)| {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            parse_point(manifest, index, file, &bytes)
        })
        .collect()
}

/// A point file's summary, after checking it belongs to this sweep.
fn parse_point(
    manifest: &Manifest,
    index: usize,
    file: &Path,
    bytes: &[u8],
) -> anyhow::Result<serde_json::Value> {
    let mut v: serde_json::Value = serde_json::from_slice(bytes)
        .with_context(|| format!("{}: not a point file", file.display()))?;
    let seed = manifest.seeds[index % manifest.seeds.len()];
    anyhow::ensure!(
        v["index"] == index && v["seed"] == seed,
        "{}: holds another point (index {}, seed {}) than its name says",
        file.display(),
        v["index"],
        v["seed"]
    );
    anyhow::ensure!(
        v["spec_hash"] == manifest.spec_hash.as_str(),
        "{}: made from other inputs ({} instead of {}); rerun the sweep to refresh it",
        file.display(),
        v["spec_hash"],
        manifest.spec_hash
    );
    Ok(v["summary"].take())
}

/// Mean and half-width of the 95% confidence interval of the mean (Student t
/// with n−1 degrees of freedom); the half-width is `None` for fewer than two
/// values, and the mean is 0 for none.
pub fn mean_ci95(values: &[f64]) -> (f64, Option<f64>) {
    let n = values.len();
    if n == 0 {
        return (0.0, None);
    }
    // Summed in the given (seed) order, so the result is reproducible.
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, None);
    }
    let var = values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
    let t = student_t_975(n as u64 - 1);
    (mean, Some(t * (var / n as f64).sqrt()))
}

/// The 0.975 quantile of Student's t distribution with `dof` degrees of
/// freedom (the two-sided 95% critical value); `dof = 0` gives infinity.
///
/// Up to 30 degrees of freedom the values come from a table (to 6 decimals;
/// the unit test checks each against a numerical integral of the density).
/// Above, the Cornish–Fisher expansion around the normal quantile is within
/// 1e-6 and uses only `+ − × ÷`, so the result is the same on every platform
/// (no libm call whose last bit may differ).
pub fn student_t_975(dof: u64) -> f64 {
    const TABLE: [f64; 30] = [
        12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157,
        2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922,
        2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831,
        2.048407, 2.045230, 2.042272,
    ];
    match dof {
        0 => f64::INFINITY,
        1..=30 => TABLE[dof as usize - 1],
        _ => {
            let z: f64 = 1.959_963_984_540_054; // Φ⁻¹(0.975)
            let v = dof as f64;
            let z2 = z * z;
            let g1 = z * (z2 + 1.0) / 4.0;
            let g2 = z * ((5.0 * z2 + 16.0) * z2 + 3.0) / 96.0;
            let g3 = z * (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) / 384.0;
            let g4 =
                z * ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) / 92160.0;
            z + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v)
        }
    }
}

/// Decimals shown in table.md for a value of this size: four significant
/// digits or so, without noise in large numbers.
fn md_decimals(x: f64) -> usize {
    let a = x.abs();
    if a >= 1000.0 {
        0
    } else if a >= 10.0 {
        1
    } else {
        2
    }
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new())
}

fn tables(manifest: &Manifest, summaries: &[serde_json::Value]) -> anyhow::Result<Tables> {
    let n_seeds = manifest.seeds.len();
    // values[point][metric]
    let mut values: Vec<Vec<serde_json::Number>> = Vec::with_capacity(summaries.len());
    for (index, s) in summaries.iter().enumerate() {
        let row = manifest
            .metrics
            .iter()
            .map(|m| {
                metric_value(s, m).map_err(|e| {
                    anyhow::anyhow!("point {index} ({}): {e}", manifest.point_file(index))
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        values.push(row);
    }

    let mut results = csv_writer();
    let mut header: Vec<String> = vec!["point".into(), "grid_point".into()];
    header.extend(manifest.grid.iter().map(|a| a.key.clone()));
    header.push("seed".into());
    header.extend(manifest.metrics.iter().cloned());
    results.write_record(&header)?;
    for (index, row) in values.iter().enumerate() {
        let g = index / n_seeds;
        let mut rec: Vec<String> = vec![index.to_string(), g.to_string()];
        rec.extend(
            manifest
                .grid
                .iter()
                .zip(manifest.values_of(g))
                .map(|(a, v)| a.values[v].clone()),
        );
        rec.push(manifest.seeds[index % n_seeds].to_string());
        rec.extend(row.iter().map(|n| n.to_string()));
        results.write_record(&rec)?;
    }

    let mut table = csv_writer();
    let mut header: Vec<String> = vec!["grid_point".into()];
    header.extend(manifest.grid.iter().map(|a| a.key.clone()));
    header.push("seeds".into());
    for m in &manifest.metrics {
        header.push(m.clone());
        header.push(format!("{m}.ci95"));
    }
    table.write_record(&header)?;

    let mut md_rows: Vec<Vec<String>> = Vec::new();
    for g in 0..manifest.grid_points() {
        let labels: Vec<String> = manifest
            .grid
            .iter()
            .zip(manifest.values_of(g))
            .map(|(a, v)| a.values[v].clone())
            .collect();
        let mut rec = vec![g.to_string()];
        rec.extend(labels.iter().cloned());
        rec.push(n_seeds.to_string());
        let mut md = labels;
        for k in 0..manifest.metrics.len() {
            let xs: Vec<f64> = values[g * n_seeds..(g + 1) * n_seeds]
                .iter()
                .map(|row| row[k].as_f64().unwrap_or(f64::NAN))
                .collect();
            let (mean, ci) = mean_ci95(&xs);
            rec.push(format!("{mean:.3}"));
            rec.push(ci.map(|c| format!("{c:.3}")).unwrap_or_default());
            let d = md_decimals(mean);
            md.push(match ci {
                Some(c) => format!("{mean:.d$} ± {c:.d$}"),
                None => format!("{mean:.d$}"),
            });
        }
        table.write_record(&rec)?;
        md_rows.push(md);
    }

    let mut md_header: Vec<String> = manifest.grid.iter().map(|a| a.key.clone()).collect();
    md_header.extend(manifest.metrics.iter().cloned());
    let right_from = manifest.grid.len();
    let mut widths: Vec<usize> = md_header.iter().map(|h| h.chars().count()).collect();
    for row in &md_rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::from("|");
        for (i, (cell, &w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w - cell.chars().count();
            if i >= right_from {
                let _ = write!(s, " {}{} |", " ".repeat(pad), cell);
            } else {
                let _ = write!(s, " {}{} |", cell, " ".repeat(pad));
            }
        }
        s.push('\n');
        s
    };
    let mut md = String::new();
    let _ = writeln!(md, "# sweep {}\n", manifest.spec);
    if !manifest.description.is_empty() {
        let _ = writeln!(md, "{}\n", manifest.description);
    }
    let _ = writeln!(
        md,
        "{} grid points × {} seeds ({}). {}\n",
        manifest.grid_points(),
        n_seeds,
        seeds_text(&manifest.seeds),
        if n_seeds > 1 {
            format!(
                "Cells: mean ± half-width of the 95% confidence interval of the mean across seeds (Student t, {} degrees of freedom).",
                n_seeds - 1
            )
        } else {
            "Cells: the single seed's value (no confidence interval).".to_string()
        }
    );
    md.push_str(&line(&md_header));
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            if i >= right_from {
                format!("{}:", "-".repeat(w.max(2) - 1))
            } else {
                "-".repeat(w.max(1))
            }
        })
        .collect();
    // The rule row may be wider than the column when a header is one
    // character; Markdown does not mind.
    md.push_str(&line(&rule));
    for row in &md_rows {
        md.push_str(&line(row));
    }

    Ok(Tables {
        results_csv: results.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
        table_csv: table.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
        table_md: md,
    })
}

/// `1–5` for consecutive seeds, else the list.
fn seeds_text(seeds: &[u64]) -> String {
    let consecutive = seeds.windows(2).all(|w| w[1] == w[0] + 1);
    match (seeds.first(), seeds.last()) {
        (Some(a), Some(b)) if consecutive && seeds.len() > 2 => format!("seeds {a}–{b}"),
        _ => format!(
            "seeds {}",
            seeds
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// What [`k8s_job`] needs.
#[derive(Debug, Clone)]
pub struct K8sJobOptions {
    /// The spec path as the container sees it (relative to its working
    /// directory).
    pub spec: String,
    /// Pods (= shards), each running `--shard $(JOB_COMPLETION_INDEX)/shards`.
    pub shards: u32,
    /// Container image with `schedlab` on the PATH and the spec, its scenario
    /// and data in the working directory.
    pub image: String,
    /// Job name (DNS-1123 label).
    pub name: String,
    /// PersistentVolumeClaim mounted at `/results`; `None` mounts an emptyDir
    /// (results lost with the pod: only for trying the manifest).
    pub results_claim: Option<String>,
    /// `--jobs` passed to each shard (threads per pod); also its CPU request.
    pub threads: Option<usize>,
}

/// The env var the Job controller sets to the pod's completion index.
pub const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// A Kubernetes Indexed Job (batch/v1) that runs a sweep as `shards` pods,
/// pod `i` running shard `i/shards` into `/results/shard-i`. Collect with
/// `schedlab merge /results/shard-* --out DIR`.
pub fn k8s_job(o: &K8sJobOptions) -> k8s_openapi::api::batch::v1::Job {
    use k8s_openapi::api::batch::v1::{Job, JobSpec};
    use k8s_openapi::api::core::v1::{
        Container, EmptyDirVolumeSource, EnvVar, EnvVarSource, ObjectFieldSelector,
        PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, ResourceRequirements, Volume,
        VolumeMount,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    let shards = i32::try_from(o.shards.max(1)).unwrap_or(i32::MAX);
    let labels: std::collections::BTreeMap<String, String> = [
        ("app.kubernetes.io/name".to_string(), "schedlab".to_string()),
        ("schedlab/sweep".to_string(), o.name.clone()),
    ]
    .into();
    let index = format!("$({COMPLETION_INDEX_ENV})");
    let mut args = vec![
        "sweep".to_string(),
        o.spec.clone(),
        "--shard".into(),
        format!("{index}/{shards}"),
        "--out".into(),
        format!("/results/shard-{index}"),
        "--quiet".into(),
    ];
    if let Some(t) = o.threads {
        args.push("--jobs".into());
        args.push(t.to_string());
    }
    let volume = match &o.results_claim {
        Some(claim) => Volume {
            name: "results".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone(),
                read_only: None,
            }),
            ..Volume::default()
        },
        None => Volume {
            name: "results".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
    };
    Job {
        metadata: ObjectMeta {
            name: Some(o.name.clone()),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            completion_mode: Some("Indexed".into()),
            completions: Some(shards),
            parallelism: Some(shards),
            // A retried pod resumes: the points it finished are on the volume.
            backoff_limit_per_index: Some(2),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    containers: vec![Container {
                        name: "sweep".into(),
                        image: Some(o.image.clone()),
                        command: Some(vec!["schedlab".into()]),
                        args: Some(args),
                        // The Job controller injects this variable too; it is
                        // declared so that `$(JOB_COMPLETION_INDEX)` in the
                        // args visibly refers to a variable of the container.
                        env: Some(vec![EnvVar {
                            name: COMPLETION_INDEX_ENV.into(),
                            value_from: Some(EnvVarSource {
                                field_ref: Some(ObjectFieldSelector {
                                    field_path: "metadata.annotations['batch.kubernetes.io/job-completion-index']".into(),
                                    api_version: None,
                                }),
                                ..EnvVarSource::default()
                            }),
                            ..EnvVar::default()
                        }]),
                        resources: o.threads.map(|t| ResourceRequirements {
                            requests: Some(
                                [("cpu".to_string(), Quantity(t.to_string()))].into(),
                            ),
                            ..ResourceRequirements::default()
                        }),
                        volume_mounts: Some(vec![VolumeMount {
                            name: "results".into(),
                            mount_path: "/results".into(),
                            ..VolumeMount::default()
                        }]),
                        ..Container::default()
                    }],
                    volumes: Some(vec![volume]),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

/// A DNS-1123 label from a spec stem: lowercase letters, digits and `-`.
pub fn job_name(stem: &str) -> String {
    let mut s: String = format!("schedlab-sweep-{stem}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    s.truncate(63);
    s.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Density of Student's t with `v` degrees of freedom.
    fn t_pdf(x: f64, v: u64) -> f64 {
        // r(v) = Γ((v+1)/2) / Γ(v/2) by r(v+2) = r(v)·(v+1)/v from r(1) =
        // 1/√π and r(2) = √π/2 (the gammas alone overflow for large v).
        let sqrt_pi = std::f64::consts::PI.sqrt();
        let (mut r, mut k) = if v % 2 == 1 {
            (1.0 / sqrt_pi, 1)
        } else {
            (sqrt_pi / 2.0, 2)
        };
        while k < v {
            r *= (k + 1) as f64 / k as f64;
            k += 2;
        }
        let vf = v as f64;
        r / (vf * std::f64::consts::PI).sqrt() * (1.0 + x * x / vf).powf(-(vf + 1.0) / 2.0)
    }

    /// P(T ≤ t) by Simpson's rule on [0, t].
    fn t_cdf(t: f64, v: u64) -> f64 {
        let n = 200_000;
        let h = t / n as f64;
        let mut s = t_pdf(0.0, v) + t_pdf(t, v);
        for i in 1..n {
            s += t_pdf(i as f64 * h, v) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        0.5 + s * h / 3.0
    }

    #[test]
    fn t_table_is_the_975_quantile() {
        for v in 1..=30 {
            let p = t_cdf(student_t_975(v), v);
            assert!((p - 0.975).abs() < 2e-7, "dof {v}: P = {p}");
        }
        for v in [31, 40, 60, 120, 1000] {
            let p = t_cdf(student_t_975(v), v);
            assert!((p - 0.975).abs() < 1e-7, "dof {v}: P = {p}");
        }
    }

    #[test]
    fn t_quantiles_match_published_tables() {
        let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
        assert_eq!(r3(student_t_975(1)), 12.706);
        assert_eq!(r3(student_t_975(4)), 2.776);
        assert_eq!(r3(student_t_975(10)), 2.228);
        assert_eq!(r3(student_t_975(30)), 2.042);
        assert_eq!(r3(student_t_975(60)), 2.000);
        assert_eq!(r3(student_t_975(120)), 1.980);
        assert_eq!(r3(student_t_975(1_000_000)), 1.960);
        assert!(student_t_975(0).is_infinite());
    }

    #[test]
    fn mean_and_interval() {
        // mean 3, sample sd √2.5, n 5: half-width 2.776445 · √(2.5/5).
        let (m, ci) = mean_ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(m, 3.0);
        assert!((ci.unwrap() - 2.776445 * 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(mean_ci95(&[7.0]), (7.0, None));
        assert_eq!(mean_ci95(&[2.0, 2.0, 2.0]), (2.0, Some(0.0)));
    }

    #[test]
    fn keys_and_shards_parse() {
        assert_eq!(
            override_key("cluster.pools[0].nodes").unwrap(),
            "cluster.pools.0.nodes"
        );
        assert_eq!(
            override_key("cluster.pools.1.nodes").unwrap(),
            "cluster.pools.1.nodes"
        );
        assert!(override_key("cluster..nodes").is_err());
        assert!(override_key("cluster.pools[x]").is_err());
        assert_eq!("2/5".parse::<Shard>(), Ok(Shard { index: 2, count: 5 }));
        assert!("5/5".parse::<Shard>().is_err());
        assert!("1/0".parse::<Shard>().is_err());
        assert!("1".parse::<Shard>().is_err());
        assert_eq!(job_name("Quick_Start"), "schedlab-sweep-quick-start");
    }

    #[test]
    fn grid_keys_keep_file_order() {
        let src = "schema = 1\n[grid]\n\"z.b\" = [1]\npolicy.scheduler = [\"a\"]\n\"cluster.pools[0].nodes\" = [2]\n";
        let keys: Vec<(String, usize)> = written_keys(src, "grid")
            .into_iter()
            .map(|k| (k.segments.join("."), k.line))
            .collect();
        assert_eq!(
            keys,
            [
                ("z.b".to_string(), 3),
                ("policy.scheduler".to_string(), 4),
                ("cluster.pools[0].nodes".to_string(), 5)
            ]
        );
    }

    #[test]
    fn metric_lookup() {
        let v: serde_json::Value =
            serde_json::json!({"jct_s": {"mean": 1.5}, "cost": {"pools": [{"cost": 2}]}});
        assert_eq!(metric_value(&v, "jct_s.mean").unwrap().as_f64(), Some(1.5));
        assert_eq!(
            metric_value(&v, "cost.pools[0].cost").unwrap().as_u64(),
            Some(2)
        );
        assert!(
            metric_value(&v, "jct_s.p42")
                .unwrap_err()
                .contains("no such field")
        );
        assert!(
            metric_value(&v, "jct_s")
                .unwrap_err()
                .contains("expected a number")
        );
    }
}
