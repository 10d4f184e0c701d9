//! Baselines and regression gates for CI (`schedlab baseline`, `schedlab check`).
//!
//! A **baseline** records, for each scenario (path and `--set` overrides), the
//! numeric fields of its `summary.json` flattened to dotted keys
//! (`jct_s.p95`, `cost.pools.v100.node_hours`, …). A **check** reruns the
//! scenarios and compares every metric with its tolerance from a TOML file:
//!
//! ```toml
//! schema = 1
//! [default]                      # metrics not listed below (optional)
//! ignore = false                 # true: unlisted metrics are not compared
//! [metrics."wait_s.p95"]         # an exact key…
//! rel = 0.05                     # allowed worsening: 5 % of the baseline value…
//! abs = 60                       # …or 60 (metric units), whichever is larger
//! direction = "higher-is-worse"  # | "lower-is-worse" | "both"
//! [metrics."cost.*"]             # …or a pattern: `*` matches any characters
//! rel = 0.02
//! ```
//!
//! A metric without `abs` and `rel` must not worsen at all ("exact"): runs
//! are deterministic, so the same code gives the same numbers and any change
//! is a behaviour change. Without a `[default]` table unlisted metrics are
//! exact. A metric's direction defaults to one inferred from its name
//! ([`Direction::infer`]). Metrics that appear in the run but not in the
//! baseline (a newer schedlab reports more) are listed as new and never
//! fail; a baseline metric missing from the run fails.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use rayon::prelude::*;

use crate::experiment::ScenarioRun;
use crate::report;
use crate::scenario::{Override, Scenario};

/// Version of the baseline format this build reads and writes.
pub const BASELINE_SCHEMA: u32 = 1;
/// Version of the tolerance format this build reads.
pub const TOLERANCES_SCHEMA: u32 = 1;

/// Flattened metrics of one run: dotted key → value, in the units of
/// `summary.json` (seconds, currency, %, counts). Sorted, so files are stable.
pub type Metrics = BTreeMap<String, f64>;

/// Top-level fields of `summary.json` that describe the run rather than
/// measure it (or, for `wall_time_s`, are not deterministic).
const NOT_METRICS: [&str; 3] = ["run", "schema", "wall_time_s"];

/// The metrics of a run: the numeric fields of its `summary.json` (without
/// the wall time), flattened.
pub fn run_metrics(run: &ScenarioRun) -> Metrics {
    let bytes = report::summary_json(&run.info, &run.summary, None);
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).expect("summary_json writes valid JSON");
    flatten_summary(&value)
}

/// Flattens the numeric leaves of a `summary.json` value to dotted keys.
///
/// Generic on purpose: fields added to the summary later show up as new
/// metrics without code changes here. Objects nest by field name; list
/// entries are named by their `name` or `pool` field when every entry has a
/// distinct one (`cost.pools.v100.cost`), else by index. Strings, booleans
/// and nulls are skipped, as are `run`, `schema` and `wall_time_s`.
pub fn flatten_summary(value: &serde_json::Value) -> Metrics {
    let mut out = Metrics::new();
    if let serde_json::Value::Object(map) = value {
        for (k, v) in map {
            if !NOT_METRICS.contains(&k.as_str()) {
                flatten_into(k.clone(), v, &mut out);
            }
        }
    }
    out
}

fn flatten_into(key: String, value: &serde_json::Value, out: &mut Metrics) {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                out.insert(key, x);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                flatten_into(format!("{key}.{k}"), v, out);
            }
        }
        Value::Array(items) => {
            let labels = entry_labels(items);
            for (i, v) in items.iter().enumerate() {
                let label = labels
                    .as_ref()
                    .map_or_else(|| i.to_string(), |l| l[i].clone());
                flatten_into(format!("{key}.{label}"), v, out);
            }
        }
        Value::String(_) | Value::Bool(_) | Value::Null => {}
    }
}

/// Names for list entries: their `name` (or `pool`) field when every entry has
/// one and they are distinct and dot-free, so keys stay stable when entries
/// are reordered or added.
fn entry_labels(items: &[serde_json::Value]) -> Option<Vec<String>> {
    for field in ["name", "pool"] {
        let labels: Option<Vec<String>> = items
            .iter()
            .map(|v| {
                v.get(field)
                    .and_then(|s| s.as_str())
                    .filter(|s| !s.is_empty() && !s.contains('.'))
                    .map(str::to_string)
            })
            .collect();
        if let Some(labels) = labels {
            let distinct: BTreeSet<&String> = labels.iter().collect();
            if distinct.len() == labels.len() && !labels.is_empty() {
                return Some(labels);
            }
        }
    }
    None
}

/// A baseline file (`schema = 1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub schema: u32,
    /// The schedlab version that recorded it (information only).
    pub schedlab_version: String,
    pub scenarios: Vec<BaselineEntry>,
}

/// One recorded scenario run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineEntry {
    /// The scenario's `name`.
    pub name: String,
    /// The scenario file as given when recording, relative to the working
    /// directory of `schedlab baseline` (run `check` from the same place).
    pub path: String,
    /// `--set` overrides applied, as `key=value` (TOML values).
    #[serde(default)]
    pub overrides: Vec<String>,
    pub metrics: Metrics,
}

impl BaselineEntry {
    /// `name` plus its overrides, to tell entries of one scenario apart.
    pub fn label(&self) -> String {
        if self.overrides.is_empty() {
            self.name.clone()
        } else {
            format!("{} [{}]", self.name, self.overrides.join(" "))
        }
    }
}

impl Baseline {
    /// A new baseline of this build's version.
    pub fn new(scenarios: Vec<BaselineEntry>) -> Baseline {
        Baseline {
            schema: BASELINE_SCHEMA,
            schedlab_version: env!("CARGO_PKG_VERSION").to_string(),
            scenarios,
        }
    }

    /// The file's bytes: TOML when `path` ends in `.toml`, JSON otherwise.
    pub fn to_bytes(&self, path: &Path) -> anyhow::Result<Vec<u8>> {
        if is_toml(path) {
            Ok(toml::to_string_pretty(self)
                .context("serializing the baseline as TOML")?
                .into_bytes())
        } else {
            let mut bytes =
                serde_json::to_vec_pretty(self).context("serializing the baseline as JSON")?;
            bytes.push(b'\n');
            Ok(bytes)
        }
    }

    /// Reads a baseline (JSON, or TOML for `.toml`), checking its schema.
    pub fn load(path: &Path) -> anyhow::Result<Baseline> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the baseline", path.display()))?;
        let baseline: Baseline = if is_toml(path) {
            toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?
        } else {
            // serde_json's message carries the line and column.
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        };
        if baseline.schema != BASELINE_SCHEMA {
            bail!(
                "{}: `schema`: this schedlab reads baseline schema {BASELINE_SCHEMA}, the file says {}",
                path.display(),
                baseline.schema
            );
        }
        if baseline.scenarios.is_empty() {
            bail!(
                "{}: `scenarios`: the baseline lists no scenario",
                path.display()
            );
        }
        for (i, s) in baseline.scenarios.iter().enumerate() {
            for (k, v) in &s.metrics {
                if !v.is_finite() {
                    bail!(
                        "{}: `scenarios[{i}].metrics.{k}`: expected a finite number, got {v}",
                        path.display()
                    );
                }
            }
        }
        Ok(baseline)
    }
}

fn is_toml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

/// Which way a metric gets worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Times, costs, counts of bad outcomes: an increase is a regression.
    HigherIsWorse,
    /// GPU allocation, finished jobs: a decrease is a regression.
    LowerIsWorse,
    /// Any change beyond the tolerance is a regression (e.g. `jobs.total`:
    /// a different count means a different workload).
    Both,
}

impl Direction {
    /// The default direction of a metric, from its key: lower-is-worse for
    /// `jobs.finished` and allocation figures (`mean_gpu_allocation_pct`,
    /// `cost.gpu_hours_allocated`), both for `jobs.total`, `jobs.not_arrived`
    /// and `events` (changes there mean a different workload or engine, not a
    /// better or worse schedule), higher-is-worse for everything else
    /// (times, costs, node-hours, unfinished/failed/unschedulable counts,
    /// preemptions, lost work, SLO violations).
    pub fn infer(metric: &str) -> Direction {
        if metric == "jobs.finished"
            || metric.contains("allocation")
            || metric.ends_with("_allocated")
        {
            Direction::LowerIsWorse
        } else if matches!(metric, "jobs.total" | "jobs.not_arrived" | "events") {
            Direction::Both
        } else {
            Direction::HigherIsWorse
        }
    }

    fn name(self) -> &'static str {
        match self {
            Direction::HigherIsWorse => "higher-is-worse",
            Direction::LowerIsWorse => "lower-is-worse",
            Direction::Both => "both",
        }
    }
}

/// One tolerance entry of the file, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTolerance {
    abs: Option<f64>,
    rel: Option<f64>,
    direction: Option<Direction>,
    #[serde(default)]
    ignore: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTolerances {
    schema: u32,
    #[serde(default)]
    default: Option<RawTolerance>,
    #[serde(default)]
    metrics: BTreeMap<String, RawTolerance>,
}

/// The tolerance that applies to one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tolerance {
    /// Allowed worsening in the metric's units (0 = none).
    pub abs: f64,
    /// Allowed worsening as a fraction of |baseline| (0.05 = 5 %).
    pub rel: f64,
    pub direction: Direction,
    /// Not compared at all.
    pub ignore: bool,
    /// Where it came from: `metrics."wait_s.*"`, `default` or `built-in`.
    pub source: String,
}

impl Tolerance {
    /// The allowed worsening from `baseline`: the larger of `abs` and
    /// `rel × |baseline|` (either limit suffices).
    pub fn allowed(&self, baseline: f64) -> f64 {
        self.abs.max(self.rel * baseline.abs())
    }

    /// Short text for tables: `≤ +5%`, `≥ −0.5`, `± max(60, 5%)`, `exact ≤`.
    pub fn describe(&self) -> String {
        if self.ignore {
            return "ignored".into();
        }
        let sign = match self.direction {
            Direction::HigherIsWorse => "≤ +",
            Direction::LowerIsWorse => "≥ −",
            Direction::Both => "± ",
        };
        let limit = match (self.abs > 0.0, self.rel > 0.0) {
            (false, false) => "0".to_string(),
            (true, false) => fmt_num(self.abs),
            (false, true) => format!("{}%", fmt_num(self.rel * 100.0)),
            (true, true) => format!("max({}, {}%)", fmt_num(self.abs), fmt_num(self.rel * 100.0)),
        };
        format!("{sign}{limit}")
    }
}

/// Per-metric tolerances, read from a TOML file (see the module docs).
#[derive(Debug, Clone)]
pub struct Tolerances {
    default: Option<RawTolerance>,
    /// Exact keys.
    exact: BTreeMap<String, RawTolerance>,
    /// Patterns with `*`, most specific (longest) first.
    patterns: Vec<(String, RawTolerance)>,
}

impl Default for Tolerances {
    /// No file: every metric exact, direction inferred from its name.
    fn default() -> Self {
        Tolerances {
            default: None,
            exact: BTreeMap::new(),
            patterns: Vec::new(),
        }
    }
}

impl Tolerances {
    /// Reads and validates a tolerance file.
    pub fn load(path: &Path) -> anyhow::Result<Tolerances> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the tolerances", path.display()))?;
        Tolerances::parse(&text, path)
    }

    /// Like [`Tolerances::load`] with the text given; `path` names the file in
    /// errors.
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Tolerances> {
        // toml's message shows the line, the column and the offending field.
        let raw: RawTolerances = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        let at = |needle: &str| -> String {
            text.lines()
                .position(|l| l.contains(needle))
                .map(|i| format!(":{}", i + 1))
                .unwrap_or_default()
        };
        if raw.schema != TOLERANCES_SCHEMA {
            bail!(
                "{}{}: `schema`: this schedlab reads tolerance schema {TOLERANCES_SCHEMA}, the file says {}",
                path.display(),
                at("schema"),
                raw.schema
            );
        }
        // The line of `name = …` in the table whose header holds `needle`
        // (the header's line if the field cannot be found).
        let at_field = |needle: &str, name: &str| -> String {
            let lines: Vec<&str> = text.lines().collect();
            let Some(head) = lines.iter().position(|l| l.contains(needle)) else {
                return String::new();
            };
            let field = lines[head..]
                .iter()
                .position(|l| {
                    l.trim_start()
                        .strip_prefix(name)
                        .is_some_and(|r| r.trim_start().starts_with('='))
                })
                .map_or(head, |k| head + k);
            format!(":{}", field + 1)
        };
        let check = |field: &str, needle: &str, t: &RawTolerance| -> anyhow::Result<()> {
            for (name, v) in [("abs", t.abs), ("rel", t.rel)] {
                if let Some(v) = v
                    && !(v.is_finite() && v >= 0.0)
                {
                    bail!(
                        "{}{}: `{field}.{name}`: expected a number ≥ 0, got {v}",
                        path.display(),
                        at_field(needle, name)
                    );
                }
            }
            Ok(())
        };
        if let Some(d) = &raw.default {
            check("default", "[default]", d)?;
        }
        let mut exact = BTreeMap::new();
        let mut patterns = Vec::new();
        for (key, t) in raw.metrics {
            check(&format!("metrics.\"{key}\""), &format!("\"{key}\""), &t)?;
            if key.is_empty() {
                bail!(
                    "{}{}: `metrics`: a metric key must not be empty",
                    path.display(),
                    at("\"\"")
                );
            }
            if key.contains('*') {
                patterns.push((key, t));
            } else {
                exact.insert(key, t);
            }
        }
        // Longest pattern first (most specific); ties in key order, so the
        // choice never depends on the file's order.
        patterns.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Ok(Tolerances {
            default: raw.default,
            exact,
            patterns,
        })
    }

    /// The tolerance of `metric`: an exact key, else the longest matching
    /// pattern, else `[default]`, else exact.
    pub fn for_metric(&self, metric: &str) -> Tolerance {
        let (raw, source) = if let Some(t) = self.exact.get(metric) {
            (t.clone(), format!("metrics.\"{metric}\""))
        } else if let Some((p, t)) = self.patterns.iter().find(|(p, _)| glob_match(p, metric)) {
            (t.clone(), format!("metrics.\"{p}\""))
        } else if let Some(t) = &self.default {
            (t.clone(), "default".to_string())
        } else {
            (RawTolerance::default(), "built-in".to_string())
        };
        Tolerance {
            abs: raw.abs.unwrap_or(0.0),
            rel: raw.rel.unwrap_or(0.0),
            direction: raw.direction.unwrap_or_else(|| Direction::infer(metric)),
            ignore: raw.ignore,
            source,
        }
    }
}

/// `*` matches any run of characters (dots included); everything else
/// matches itself.
fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == text;
    }
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// What one metric's comparison found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Equal to the baseline.
    Same,
    /// Worse, but within the tolerance.
    Within,
    /// Better than the baseline (never fails; re-record to lock it in).
    Improved,
    /// Worse than the tolerance allows: fails.
    Regression,
    /// In the run, not in the baseline: reported, never fails.
    New,
    /// In the baseline, not in the run: fails.
    Missing,
    /// The tolerance says `ignore = true`.
    Ignored,
}

impl Status {
    /// Whether this status fails the check.
    pub fn fails(self) -> bool {
        matches!(self, Status::Regression | Status::Missing)
    }

    fn label(self, direction: Direction) -> &'static str {
        match self {
            Status::Same => "ok",
            Status::Within => "ok (within tolerance)",
            Status::Improved => "improved",
            Status::Regression if direction == Direction::Both => "FAIL: changed",
            Status::Regression => "FAIL: regression",
            Status::New => "new, not in baseline",
            Status::Missing => "FAIL: missing from the run",
            Status::Ignored => "ignored",
        }
    }
}

/// One metric of one scenario, compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub metric: String,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    pub tolerance: Tolerance,
    pub status: Status,
}

impl Row {
    fn delta(&self) -> Option<f64> {
        Some(self.current? - self.baseline?)
    }

    fn delta_pct(&self) -> String {
        match (self.baseline, self.delta()) {
            (Some(b), Some(d)) if b != 0.0 => format!("{:+.2}%", d * 100.0 / b.abs()),
            // From 0 to 0 is no change; from 0 to anything else has no
            // meaningful percentage.
            (Some(_), Some(d)) => if d == 0.0 { "0.00%" } else { "n/a" }.into(),
            _ => "n/a".into(),
        }
    }

    /// One line saying why it failed, for JUnit and the terminal.
    fn message(&self) -> String {
        match (self.baseline, self.current) {
            (Some(b), Some(c)) => format!(
                "{}: {} → {} (delta {}, {}), tolerance {} ({}, from {})",
                self.metric,
                fmt_num(b),
                fmt_num(c),
                fmt_signed(c - b),
                self.delta_pct(),
                self.tolerance.describe(),
                self.tolerance.direction.name(),
                self.tolerance.source
            ),
            (Some(b), None) => format!(
                "{}: in the baseline ({}) but not in the run's summary (renamed or removed?)",
                self.metric,
                fmt_num(b)
            ),
            (None, Some(c)) => format!(
                "{}: new metric ({}), not in the baseline",
                self.metric,
                fmt_num(c)
            ),
            (None, None) => self.metric.clone(),
        }
    }
}

/// Compares a run's metrics with a baseline's: one row per metric of either,
/// in key order.
pub fn compare(baseline: &Metrics, current: &Metrics, tolerances: &Tolerances) -> Vec<Row> {
    let keys: BTreeSet<&String> = baseline.keys().chain(current.keys()).collect();
    keys.into_iter()
        .map(|k| {
            let tolerance = tolerances.for_metric(k);
            let (b, c) = (baseline.get(k).copied(), current.get(k).copied());
            let status = match (b, c) {
                (None, _) => Status::New,
                (Some(_), None) => Status::Missing,
                _ if tolerance.ignore => Status::Ignored,
                (Some(b), Some(c)) => judge(b, c, &tolerance),
            };
            Row {
                metric: k.clone(),
                baseline: b,
                current: c,
                tolerance,
                status,
            }
        })
        .collect()
}

fn judge(b: f64, c: f64, t: &Tolerance) -> Status {
    if b == c {
        return Status::Same;
    }
    let worse_by = match t.direction {
        Direction::HigherIsWorse => c - b,
        Direction::LowerIsWorse => b - c,
        Direction::Both => (c - b).abs(),
    };
    // A hair of slack for the float arithmetic of `rel × baseline`, so a value
    // exactly at the limit passes; far below any figure the reports show.
    let slack = 1e-9 * b.abs().max(c.abs());
    if worse_by <= 0.0 {
        Status::Improved
    } else if worse_by <= t.allowed(b) + slack {
        Status::Within
    } else {
        Status::Regression
    }
}

/// One scenario of a check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioCheck {
    /// The baseline entry's label (name and overrides).
    pub label: String,
    pub path: String,
    pub rows: Vec<Row>,
    /// Things worth knowing that do not fail the check (e.g. a renamed
    /// scenario).
    pub notes: Vec<String>,
    /// The scenario could not be loaded or run (exit status 2).
    pub error: Option<String>,
}

/// The whole comparison: what `schedlab check` prints and writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    pub baseline: String,
    pub tolerances: Option<String>,
    pub scenarios: Vec<ScenarioCheck>,
}

/// Counts of a report's rows by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub compared: usize,
    /// Worse than the baseline but within the tolerance.
    pub within: usize,
    pub regressions: usize,
    pub missing: usize,
    pub new: usize,
    pub ignored: usize,
    pub improved: usize,
    pub errors: usize,
}

impl CheckReport {
    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for s in &self.scenarios {
            if s.error.is_some() {
                t.errors += 1;
            }
            for r in &s.rows {
                match r.status {
                    Status::Same => t.compared += 1,
                    Status::Within => {
                        t.compared += 1;
                        t.within += 1;
                    }
                    Status::Improved => {
                        t.compared += 1;
                        t.improved += 1;
                    }
                    Status::Regression => {
                        t.compared += 1;
                        t.regressions += 1;
                    }
                    Status::New => t.new += 1,
                    Status::Missing => t.missing += 1,
                    Status::Ignored => t.ignored += 1,
                }
            }
        }
        t
    }

    /// Whether every scenario ran and no metric failed.
    pub fn passed(&self) -> bool {
        let t = self.tally();
        t.regressions == 0 && t.missing == 0 && t.errors == 0
    }

    /// The one-line verdict.
    pub fn verdict(&self) -> String {
        let t = self.tally();
        let word = if t.errors > 0 {
            "ERROR"
        } else if self.passed() {
            "PASS"
        } else {
            "FAIL"
        };
        format!(
            "{word}: {} scenarios, {} metrics compared, {} regressions, {} missing, {} worse within tolerance, {} improved, {} new, {} ignored{}",
            self.scenarios.len(),
            t.compared,
            t.regressions,
            t.missing,
            t.within,
            t.improved,
            t.new,
            t.ignored,
            if t.errors > 0 {
                format!(", {} scenarios could not run", t.errors)
            } else {
                String::new()
            }
        )
    }

    /// The Markdown report: a verdict, then one diff table per scenario.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# schedlab check\n");
        let _ = writeln!(
            md,
            "Baseline `{}`, tolerances {}.\n",
            self.baseline,
            self.tolerances.as_ref().map_or_else(
                || "built-in (every metric exact)".to_string(),
                |t| format!("`{t}`")
            )
        );
        let _ = writeln!(md, "**{}**", self.verdict());
        for s in &self.scenarios {
            let _ = writeln!(md, "\n## {} — `{}`\n", s.label, s.path);
            if let Some(e) = &s.error {
                let _ = writeln!(md, "**ERROR**: {}", e.replace('\n', " "));
                continue;
            }
            for n in &s.notes {
                let _ = writeln!(md, "- note: {n}");
            }
            if !s.notes.is_empty() {
                md.push('\n');
            }
            let _ = writeln!(
                md,
                "| metric | baseline | current | delta | delta % | tolerance | status |"
            );
            let _ = writeln!(md, "|---|---:|---:|---:|---:|---|---|");
            for r in &s.rows {
                let _ = writeln!(
                    md,
                    "| `{}` | {} | {} | {} | {} | {} | {} |",
                    r.metric.replace('|', "\\|"),
                    r.baseline.map_or_else(|| "—".into(), fmt_num),
                    r.current.map_or_else(|| "—".into(), fmt_num),
                    r.delta().map_or_else(|| "—".into(), fmt_signed),
                    if r.delta().is_some() {
                        r.delta_pct()
                    } else {
                        "—".into()
                    },
                    r.tolerance.describe(),
                    if r.status.fails() {
                        format!("**{}**", r.status.label(r.tolerance.direction))
                    } else {
                        r.status.label(r.tolerance.direction).to_string()
                    }
                );
            }
        }
        md
    }

    /// JUnit XML: one `<testsuite>` per scenario, one `<testcase>` per
    /// metric; regressions and missing metrics are `<failure>`s, new and
    /// ignored metrics `<skipped>`, a scenario that could not run an
    /// `<error>`.
    pub fn junit(&self) -> String {
        let t = self.tally();
        let tests: usize = self
            .scenarios
            .iter()
            .map(|s| if s.error.is_some() { 1 } else { s.rows.len() })
            .sum();
        let mut x = String::new();
        x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            x,
            "<testsuites name=\"schedlab check\" tests=\"{tests}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            t.regressions + t.missing,
            t.errors,
            t.new + t.ignored
        );
        for s in &self.scenarios {
            let class = format!("schedlab.check.{}", s.label);
            if let Some(e) = &s.error {
                let _ = writeln!(
                    x,
                    "  <testsuite name=\"{}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">",
                    xml_escape(&s.label)
                );
                let _ = writeln!(
                    x,
                    "    <testcase classname=\"{}\" name=\"run\">\n      <error message=\"{}\">{}</error>\n    </testcase>",
                    xml_escape(&class),
                    xml_escape(first_line(e)),
                    xml_escape(e)
                );
                x.push_str("  </testsuite>\n");
                continue;
            }
            let failures = s.rows.iter().filter(|r| r.status.fails()).count();
            let skipped = s
                .rows
                .iter()
                .filter(|r| matches!(r.status, Status::New | Status::Ignored))
                .count();
            let _ = writeln!(
                x,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">",
                xml_escape(&s.label),
                s.rows.len()
            );
            for r in &s.rows {
                let head = format!(
                    "    <testcase classname=\"{}\" name=\"{}\"",
                    xml_escape(&class),
                    xml_escape(&r.metric)
                );
                match r.status {
                    Status::Regression | Status::Missing => {
                        let msg = r.message();
                        let _ = writeln!(
                            x,
                            "{head}>\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                            xml_escape(&msg),
                            if r.status == Status::Missing {
                                "missing"
                            } else {
                                "regression"
                            },
                            xml_escape(&msg)
                        );
                    }
                    Status::New | Status::Ignored => {
                        let _ = writeln!(
                            x,
                            "{head}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                            xml_escape(r.status.label(r.tolerance.direction))
                        );
                    }
                    Status::Same | Status::Within | Status::Improved => {
                        let _ = writeln!(x, "{head}/>");
                    }
                }
            }
            x.push_str("  </testsuite>\n");
        }
        x.push_str("</testsuites>\n");
        x
    }

    /// One line per failing metric or scenario error, for the terminal.
    pub fn failure_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.scenarios {
            if let Some(e) = &s.error {
                out.push(format!("{}: error: {}", s.label, first_line(e)));
            }
            for r in s.rows.iter().filter(|r| r.status.fails()) {
                out.push(format!("{}: {}", s.label, r.message()));
            }
        }
        out
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Escapes text for XML attributes and content. Characters XML 1.0 forbids
/// (control characters other than tab, newline and carriage return) become
/// U+FFFD, since no escape can represent them.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A metric value for tables: at most six decimals, trailing zeros dropped
/// (summary figures carry three; the rest is float noise of a subtraction).
pub fn fmt_num(x: f64) -> String {
    let s = format!("{:.6}", x);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

fn fmt_signed(x: f64) -> String {
    let s = fmt_num(x);
    if s == "0" || s.starts_with('-') {
        s
    } else {
        format!("+{s}")
    }
}

/// Loads and runs one scenario and returns its name and metrics.
fn measure(path: &Path, overrides: &[Override]) -> anyhow::Result<(String, Metrics)> {
    let scenario = Scenario::load(path, overrides)?;
    let run = super::run_scenario(&scenario, |_| {})?;
    Ok((scenario.name.clone(), run_metrics(&run)))
}

/// Runs every scenario (in parallel on rayon's pool; the baseline keeps the
/// order given) with its overrides and records its metrics.
pub fn record(scenarios: &[(PathBuf, Vec<Override>)]) -> anyhow::Result<Baseline> {
    let entries: Vec<anyhow::Result<BaselineEntry>> = scenarios
        .par_iter()
        .map(|(path, overrides)| {
            let (name, metrics) = measure(path, overrides)
                .with_context(|| format!("recording {}", path.display()))?;
            Ok(BaselineEntry {
                name,
                path: path.to_string_lossy().into_owned(),
                overrides: overrides.iter().map(ToString::to_string).collect(),
                metrics,
            })
        })
        .collect();
    Ok(Baseline::new(
        entries.into_iter().collect::<anyhow::Result<_>>()?,
    ))
}

/// Reruns a baseline's scenarios (each with its recorded overrides, then
/// `extra`) in parallel and compares their metrics. A scenario that cannot
/// be loaded or run becomes an error entry; the others are still compared.
pub fn check(
    baseline: &Baseline,
    baseline_path: &Path,
    tolerances: &Tolerances,
    tolerances_path: Option<&Path>,
    extra: &[Override],
) -> CheckReport {
    let scenarios = baseline
        .scenarios
        .par_iter()
        .map(|entry| {
            let mut out = ScenarioCheck {
                label: entry.label(),
                path: entry.path.clone(),
                rows: Vec::new(),
                notes: Vec::new(),
                error: None,
            };
            let run = || -> anyhow::Result<(String, Metrics)> {
                let mut overrides = entry
                    .overrides
                    .iter()
                    .map(|o| {
                        o.parse::<Override>().map_err(|e| {
                            anyhow::anyhow!(
                                "{}: scenario {}: override {o:?}: {e}",
                                baseline_path.display(),
                                entry.name
                            )
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                overrides.extend_from_slice(extra);
                measure(Path::new(&entry.path), &overrides)
            };
            match run() {
                Ok((name, metrics)) => {
                    if name != entry.name {
                        out.notes.push(format!(
                            "the scenario is now named {name:?} (recorded as {:?})",
                            entry.name
                        ));
                    }
                    if !extra.is_empty() {
                        out.notes.push(format!(
                            "checked with extra overrides: {}",
                            extra
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(" ")
                        ));
                    }
                    out.rows = compare(&entry.metrics, &metrics, tolerances);
                }
                Err(e) => {
                    out.error = Some(
                        e.chain()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("\ncaused by: "),
                    );
                }
            }
            out
        })
        .collect();
    CheckReport {
        baseline: baseline_path.display().to_string(),
        tolerances: tolerances_path.map(|p| p.display().to_string()),
        scenarios,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_numbers_names_list_entries_and_skips_the_rest() {
        let v: serde_json::Value = serde_json::json!({
            "schema": 1, "wall_time_s": 0.2, "run": {"nodes": 8},
            "jct_s": {"p95": 10.5, "mean": 3.0},
            "cost": {"total": 2.0, "pools": [{"pool": "a", "cost": 1.0}, {"pool": "b", "cost": null}]},
            "services": [{"name": "chat", "at": [1.0, 2.0]}],
            "flags": [true], "label": "x", "other": [{"v": 1}]
        });
        let m = flatten_summary(&v);
        let keys: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "cost.pools.a.cost",
                "cost.total",
                "jct_s.mean",
                "jct_s.p95",
                "other.0.v",
                "services.chat.at.0",
                "services.chat.at.1"
            ]
        );
        assert_eq!(m["jct_s.p95"], 10.5);
    }

    #[test]
    fn globs_match_any_run_of_characters() {
        assert!(glob_match("jct_s.*", "jct_s.p95"));
        assert!(glob_match("cost.*.cost", "cost.pools.v100.cost"));
        assert!(glob_match("*", "events"));
        assert!(!glob_match("jct_s.*", "wait_s.p95"));
        assert!(!glob_match("a*a", "a"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxcyyb"));
    }

    #[test]
    fn tolerances_pick_exact_then_longest_pattern_then_default() {
        let t = Tolerances::parse(
            "schema = 1\n[default]\nrel = 0.5\n[metrics.\"jct_s.*\"]\nabs = 10\n[metrics.\"jct_s.p9*\"]\nrel = 0.1\n[metrics.\"jct_s.p95\"]\nabs = 1\ndirection = \"both\"\n",
            Path::new("t.toml"),
        )
        .unwrap();
        let p95 = t.for_metric("jct_s.p95");
        assert_eq!(
            (p95.abs, p95.rel, p95.direction),
            (1.0, 0.0, Direction::Both)
        );
        assert_eq!(t.for_metric("jct_s.p99").rel, 0.1);
        assert_eq!(t.for_metric("jct_s.mean").abs, 10.0);
        let other = t.for_metric("mean_gpu_allocation_pct");
        assert_eq!((other.rel, other.direction), (0.5, Direction::LowerIsWorse));
        assert_eq!(other.source, "default");
    }

    #[test]
    fn bad_tolerances_name_file_line_and_field() {
        let e = Tolerances::parse(
            "schema = 1\n[metrics.\"x\"]\nrel = -1\n",
            Path::new("t.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("t.toml:3") && e.contains("metrics.\"x\".rel"),
            "{e}"
        );
        let e = Tolerances::parse(
            "schema = 1\n[metrics.\"x\"]\nrell = 1\n",
            Path::new("t.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("t.toml") && e.contains("rell") && e.contains("line 3"),
            "{e}"
        );
        let e = Tolerances::parse("schema = 2\n", Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.toml:1") && e.contains("schema"), "{e}");
    }

    #[test]
    fn judging_follows_direction_and_tolerance() {
        let t = |abs: f64, rel: f64, direction| Tolerance {
            abs,
            rel,
            direction,
            ignore: false,
            source: String::new(),
        };
        use Direction::*;
        assert_eq!(
            judge(100.0, 100.0, &t(0.0, 0.0, HigherIsWorse)),
            Status::Same
        );
        assert_eq!(
            judge(100.0, 101.0, &t(0.0, 0.0, HigherIsWorse)),
            Status::Regression
        );
        assert_eq!(
            judge(100.0, 99.0, &t(0.0, 0.0, HigherIsWorse)),
            Status::Improved
        );
        assert_eq!(
            judge(100.0, 105.0, &t(0.0, 0.05, HigherIsWorse)),
            Status::Within
        );
        assert_eq!(
            judge(100.0, 105.1, &t(0.0, 0.05, HigherIsWorse)),
            Status::Regression
        );
        assert_eq!(
            judge(100.0, 105.1, &t(6.0, 0.05, HigherIsWorse)),
            Status::Within
        );
        assert_eq!(
            judge(100.0, 94.0, &t(0.0, 0.05, LowerIsWorse)),
            Status::Regression
        );
        assert_eq!(
            judge(100.0, 120.0, &t(0.0, 0.05, LowerIsWorse)),
            Status::Improved
        );
        assert_eq!(judge(100.0, 99.0, &t(0.0, 0.0, Both)), Status::Regression);
    }

    #[test]
    fn new_metrics_pass_and_missing_ones_fail() {
        let b: Metrics = [("a".to_string(), 1.0), ("gone".to_string(), 2.0)].into();
        let c: Metrics = [("a".to_string(), 1.0), ("fresh".to_string(), 3.0)].into();
        let rows = compare(&b, &c, &Tolerances::default());
        let st: Vec<(&str, Status)> = rows.iter().map(|r| (r.metric.as_str(), r.status)).collect();
        assert_eq!(
            st,
            [
                ("a", Status::Same),
                ("fresh", Status::New),
                ("gone", Status::Missing)
            ]
        );
    }

    #[test]
    fn xml_escaping_covers_markup_quotes_and_control_characters() {
        assert_eq!(
            xml_escape("a<b>&\"c\"'\u{1}\n"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;\u{FFFD}\n"
        );
    }

    #[test]
    fn numbers_print_without_float_noise() {
        assert_eq!(fmt_num(0.1 + 0.2), "0.3");
        assert_eq!(fmt_num(3025.0), "3025");
        assert_eq!(fmt_num(-0.0000001), "0");
        assert_eq!(fmt_signed(2.5), "+2.5");
        assert_eq!(fmt_signed(-2.5), "-2.5");
    }
}
