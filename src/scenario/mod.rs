//! Scenario files: TOML with `schema = 1`, unknown fields rejected. Parsing
//! happens in two steps, as in hyperfine and ripgrep: the raw file (and any
//! `--set` overrides) is deserialized, then validated into a typed
//! [`Scenario`]. Every error names the file, the line when it is known, and
//! the field.

mod locate;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cluster::ClusterSpec;
use crate::engine::EngineConfig;
use crate::policy::placement::PlacementKind;
use crate::policy::scheduler::SchedulerKind;
use crate::time::{Millis, SimTime, secs_to_millis};
use crate::trace::{self, ImportOptions, ImportReport, TraceError, TraceFormat, WorkerShape};
use crate::workload::Workload;
use crate::workload::filter::{self, FilterSpec, FilterStats};
use crate::workload::synthetic::{self, SyntheticSpec};

/// The scenario schema version this build reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Errors loading or validating a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{}: cannot read scenario", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax or type errors; toml's message already shows line and column.
    #[error("{}: {message}", path.display())]
    Toml { path: PathBuf, message: String },
    #[error("{}{}: `{field}`: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        field: String,
        message: String,
    },
    #[error("--set {key}: {message}")]
    Override { key: String, message: String },
    #[error(transparent)]
    Trace(#[from] TraceError),
}

/// One `--set key=value` override: a dotted path into the scenario and a TOML
/// value (bare words are taken as strings).
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub key: String,
    pub value: toml::Value,
}

impl std::str::FromStr for Override {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (key, raw) = s
            .split_once('=')
            .ok_or_else(|| format!("expected key=value, got {s:?}"))?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(format!(
                "expected a dotted key such as policy.scheduler, got {key:?}"
            ));
        }
        let raw = raw.trim();
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.to_string()));
        Ok(Override {
            key: key.to_string(),
            value,
        })
    }
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    schema: u32,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    seed: u64,
    cluster: RawCluster,
    workload: RawWorkload,
    policy: RawPolicy,
    #[serde(default)]
    run: RawRun,
    #[serde(default)]
    preemption: RawPreemption,
    #[serde(default)]
    faults: RawFaults,
    /// The cluster autoscaler (Kubernetes cluster-autoscaler vocabulary).
    #[serde(default)]
    autoscaler: Option<crate::policy::autoscaler::AutoscalerSpec>,
    /// Inference services beside the training jobs.
    #[serde(default)]
    services: Vec<crate::inference::service::ServiceSpec>,
    /// Elastic training jobs and the policy that resizes them.
    #[serde(default)]
    elastic: Option<RawElastic>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawElastic {
    policy: crate::policy::elastic::ElasticKind,
    /// Restart time of a resized job, seconds.
    #[serde(default)]
    rescale_overhead_s: f64,
    #[serde(default = "one")]
    fraction: f64,
    #[serde(default)]
    tenants: Vec<String>,
    #[serde(default = "one_u32")]
    min_workers: u32,
    #[serde(default = "two")]
    max_workers_factor: f64,
    scaling: RawScaling,
    /// For `scaling = "linear"`.
    #[serde(default)]
    efficiency: Option<f64>,
    /// For `scaling = "table"`: speedup at 1, 2, 3… workers.
    #[serde(default)]
    speedups: Option<Vec<f64>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RawScaling {
    Linear,
    Table,
}

fn one() -> f64 {
    1.0
}

fn one_u32() -> u32 {
    1
}

fn two() -> f64 {
    2.0
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFaults {
    /// Kills a job survives before it fails (Kubernetes Job backoffLimit).
    #[serde(default = "default_backoff_limit")]
    backoff_limit: u32,
    /// Per pool name.
    #[serde(default)]
    failures: std::collections::BTreeMap<String, crate::engine::faults::FailureSpec>,
    #[serde(default)]
    spot: std::collections::BTreeMap<String, crate::engine::faults::SpotSpec>,
    #[serde(default)]
    outages: Vec<crate::engine::faults::ScriptedOutage>,
    /// More scripted outages from a CSV file (`at_s,pool,node,down_for_s`;
    /// an empty `down_for_s` is a reclaim), relative to the scenario, e.g.
    /// the reclaim times a cloud provider reported.
    #[serde(default)]
    outages_file: Option<PathBuf>,
}

fn default_backoff_limit() -> u32 {
    6
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPreemption {
    /// Progress is kept up to the last multiple of this much work, seconds;
    /// 0 (the default) keeps nothing.
    #[serde(default)]
    checkpoint_interval_s: f64,
    /// Restore time of a restarted job, seconds.
    #[serde(default)]
    restore_overhead_s: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    #[serde(default)]
    pools: Vec<crate::cluster::PoolSpec>,
    /// A published node list to build pools from, relative to the scenario.
    #[serde(default)]
    nodes_file: Option<PathBuf>,
    #[serde(default)]
    nodes_format: Option<NodeListFormat>,
    #[serde(default)]
    topology: Option<crate::cluster::Topology>,
}

/// Node-list formats a cluster can be built from (`cluster.nodes_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeListFormat {
    /// Alibaba openb `openb_node_list_*.csv`.
    Openb,
    /// Alibaba PAI 2020 `pai_machine_spec.csv`.
    Pai,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    #[serde(default)]
    trace: Option<PathBuf>,
    #[serde(default)]
    format: Option<TraceFormat>,
    #[serde(default)]
    worker_shape: WorkerShape,
    #[serde(default)]
    cpu_milli_per_gpu: u32,
    #[serde(default)]
    memory_mib_per_gpu: u64,
    #[serde(default)]
    lenient: bool,
    #[serde(default)]
    synthetic: Option<SyntheticSpec>,
    #[serde(default)]
    filters: FilterSpec,
    /// More traces merged into the workload after the filters (e.g. a static
    /// inference load beside training).
    #[serde(default)]
    extra: Vec<RawExtra>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExtra {
    trace: PathBuf,
    format: TraceFormat,
    #[serde(default)]
    lenient: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    scheduler: SchedulerKind,
    placement: PlacementKind,
    #[serde(default)]
    schedule_interval_s: Option<f64>,
    /// Parameters of the scheduler, checked by the policy itself.
    #[serde(default)]
    scheduler_params: toml::Table,
    /// Parameters of the placement, checked by the policy itself.
    #[serde(default)]
    placement_params: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    #[serde(default = "default_sample_interval")]
    sample_interval_s: f64,
    #[serde(default)]
    horizon_s: Option<f64>,
    #[serde(default = "default_output_dir")]
    output_dir: PathBuf,
    #[serde(default)]
    check_invariants: bool,
    /// Pod start time of every job run, seconds.
    #[serde(default)]
    startup_delay_s: f64,
}

fn default_sample_interval() -> f64 {
    60.0
}

fn default_output_dir() -> PathBuf {
    PathBuf::from("results")
}

impl Default for RawRun {
    fn default() -> Self {
        RawRun {
            sample_interval_s: default_sample_interval(),
            horizon_s: None,
            output_dir: default_output_dir(),
            check_invariants: false,
            startup_delay_s: 0.0,
        }
    }
}

/// Where the jobs come from.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkloadSource {
    /// A trace file (path resolved against the scenario's folder).
    Trace { path: PathBuf, format: TraceFormat },
    /// The seeded synthetic generator.
    Synthetic(SyntheticSpec),
}

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The file it was read from.
    pub path: PathBuf,
    /// Run name: outputs go to `<output_dir>/<name>/`.
    pub name: String,
    pub description: String,
    /// Seed of every random choice in the run.
    pub seed: u64,
    pub cluster: ClusterSpec,
    pub workload: WorkloadSource,
    pub import: ImportOptions,
    pub filters: FilterSpec,
    /// More traces merged in after the filters: (path, format, lenient).
    pub extra: Vec<(PathBuf, TraceFormat, bool)>,
    pub scheduler: SchedulerKind,
    /// `[policy.scheduler_params]`, validated at load time.
    pub scheduler_params: toml::Table,
    pub placement: PlacementKind,
    /// `[policy.placement_params]`, validated at load time.
    pub placement_params: toml::Table,
    pub engine: EngineConfig,
    /// Parent folder of the run folder (relative to the working directory).
    pub output_dir: PathBuf,
    /// Which jobs are elastic (`[elastic]`); the policy is in `engine.elastic`.
    pub elastic: Option<crate::workload::elastic::ElasticRule>,
}

/// What building the workload did, for the run report.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadReport {
    /// Human description of the source, e.g. `philly trace scenarios/data/…`.
    pub source: String,
    /// What the importer read, skipped and assumed (trace workloads only).
    pub import: Option<ImportReport>,
    pub filters: FilterStats,
}

impl Scenario {
    /// Reads and validates a scenario file, applying `overrides` in order.
    pub fn load(path: &Path, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
        let src = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::parse(&src, path, overrides)
    }

    /// Like [`Scenario::load`] with the text given; `path` names the file in
    /// errors and anchors relative trace paths.
    pub fn parse(
        src: &str,
        path: &Path,
        overrides: &[Override],
    ) -> Result<Scenario, ScenarioError> {
        let toml_err = |e: toml::de::Error| ScenarioError::Toml {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        };
        // The file alone first, so its errors carry line numbers.
        let mut raw: RawScenario = toml::from_str(src).map_err(toml_err)?;
        if !overrides.is_empty() {
            let mut table: toml::Table = toml::from_str(src).map_err(toml_err)?;
            for o in overrides {
                set_path(&mut table, &o.key, o.value.clone()).map_err(|message| {
                    ScenarioError::Override {
                        key: o.key.clone(),
                        message,
                    }
                })?;
            }
            raw = RawScenario::deserialize(table).map_err(|e| ScenarioError::Override {
                key: overrides
                    .iter()
                    .map(|o| o.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                message: e.to_string().trim_end().to_string(),
            })?;
        }
        let invalid = |field: &str, message: String| ScenarioError::Invalid {
            path: path.to_path_buf(),
            line: locate::line_of(src, field),
            field: field.to_string(),
            message,
        };
        validate(raw, path, invalid)
    }

    /// Imports or generates the workload and applies the filters.
    pub fn build_workload(&self) -> Result<(Workload, WorkloadReport), ScenarioError> {
        let (workload, source, import) = match &self.workload {
            WorkloadSource::Trace { path, format } => {
                let imported = trace::read_trace(path, *format, &self.import)?;
                (
                    imported.workload,
                    format!("{} trace {}", format.name(), path.display()),
                    Some(imported.report),
                )
            }
            WorkloadSource::Synthetic(spec) => (
                synthetic::generate(spec, self.seed, &self.import),
                format!("synthetic ({} jobs, seed {})", spec.jobs, self.seed),
                None,
            ),
        };
        let (mut workload, filters) = filter::apply(workload, &self.filters, self.seed);
        let mut import = import;
        if !self.extra.is_empty() {
            let mut drafts = workload.to_drafts();
            for (path, format, lenient) in &self.extra {
                let opts = ImportOptions {
                    lenient: *lenient,
                    ..self.import.clone()
                };
                let extra = trace::read_trace(path, *format, &opts)?;
                if let Some(report) = &mut import {
                    report.notes.extend(
                        extra
                            .report
                            .notes
                            .iter()
                            .map(|n| format!("{}: {n}", path.display())),
                    );
                }
                drafts.extend(extra.workload.to_drafts());
            }
            workload = Workload::from_drafts(drafts);
        }
        if let Some(rule) = &self.elastic {
            let made = rule.apply(&mut workload, self.seed);
            if let Some(report) = &mut import {
                report
                    .notes
                    .push(format!("{made} jobs are elastic ([elastic])"));
            }
        }
        Ok((
            workload,
            WorkloadReport {
                source,
                import,
                filters,
            },
        ))
    }

    /// The scheduler, configured.
    pub fn build_scheduler(
        &self,
    ) -> Result<Box<dyn crate::policy::scheduler::Scheduler>, ScenarioError> {
        self.scheduler
            .build_with(&self.scheduler_params)
            .map_err(|message| self.invalid_param("policy.scheduler_params", message))
    }

    /// The placement, configured for `workload`.
    pub fn build_placement(
        &self,
        workload: &Workload,
    ) -> Result<Box<dyn crate::policy::placement::Placement>, ScenarioError> {
        self.placement
            .build_with(&crate::policy::placement::PlacementContext {
                params: &self.placement_params,
                seed: self.seed,
                workload,
                pools: &self.cluster.pools,
            })
            .map_err(|message| self.invalid_param("policy.placement_params", message))
    }

    fn invalid_param(&self, field: &str, message: String) -> ScenarioError {
        let line = std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|src| locate::line_of(&src, field));
        ScenarioError::Invalid {
            path: self.path.clone(),
            line,
            field: field.to_string(),
            message,
        }
    }

    /// The run's output folder: `<output_dir>/<name>`.
    pub fn run_dir(&self) -> PathBuf {
        self.output_dir.join(&self.name)
    }
}

fn validate(
    raw: RawScenario,
    path: &Path,
    invalid: impl Fn(&str, String) -> ScenarioError,
) -> Result<Scenario, ScenarioError> {
    if raw.schema != SCHEMA_VERSION {
        return Err(invalid(
            "schema",
            format!(
                "this schedlab reads schema {SCHEMA_VERSION}, the file says {}",
                raw.schema
            ),
        ));
    }
    if raw.name.is_empty() || raw.name.contains(['/', '\\']) || raw.name.starts_with('.') {
        return Err(invalid(
            "name",
            format!("expected a plain run name (no slashes), got {:?}", raw.name),
        ));
    }
    let mut pools = Vec::new();
    match (&raw.cluster.nodes_file, raw.cluster.nodes_format) {
        (Some(file), Some(format)) => {
            let file = path.parent().unwrap_or(Path::new("")).join(file);
            let (imported, _) = match format {
                NodeListFormat::Openb => trace::openb::read_nodes(&file)?,
                NodeListFormat::Pai => trace::pai::read_machines(&file)?,
            };
            pools.extend(imported);
        }
        (Some(_), None) => {
            return Err(invalid(
                "cluster.nodes_format",
                "a node list needs its format: \"openb\" or \"pai\"".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                "cluster.nodes_file",
                "`nodes_format` is set but no `nodes_file`".into(),
            ));
        }
        (None, None) => {}
    }
    pools.extend(raw.cluster.pools);
    let cluster = ClusterSpec { pools };
    cluster.validate().map_err(|m| {
        // The message starts with the field path; point at it.
        let field = m
            .split(':')
            .next()
            .unwrap_or("cluster")
            .split(' ')
            .next()
            .unwrap_or("cluster")
            .to_string();
        invalid(&field, m)
    })?;
    if cluster.total_gpus() == 0 && cluster.total_nodes() == 0 {
        return Err(invalid("cluster.pools", "the cluster has no nodes".into()));
    }
    let w = raw.workload;
    let import = ImportOptions {
        worker_shape: w.worker_shape,
        node_gpus: cluster.max_gpus_per_node(),
        cpu_milli_per_gpu: w.cpu_milli_per_gpu,
        memory_mib_per_gpu: w.memory_mib_per_gpu,
        lenient: w.lenient,
    };
    let workload = match (w.trace, w.format, w.synthetic) {
        (Some(trace), Some(format), None) => {
            let base = path.parent().unwrap_or(Path::new(""));
            WorkloadSource::Trace {
                path: base.join(trace),
                format,
            }
        }
        (Some(_), None, None) => {
            return Err(invalid(
                "workload.format",
                format!(
                    "a trace needs its format: one of {}",
                    TraceFormat::ALL
                        .map(|f| format!("{:?}", f.name()))
                        .join(", ")
                ),
            ));
        }
        (None, _, Some(spec)) => {
            spec.validate()
                .map_err(|m| invalid("workload.synthetic", m))?;
            WorkloadSource::Synthetic(spec)
        }
        (Some(_), _, Some(_)) => {
            return Err(invalid(
                "workload",
                "give either `trace` or `[workload.synthetic]`, not both".into(),
            ));
        }
        (None, _, None) => {
            return Err(invalid(
                "workload",
                "expected a `trace` file (with `format`) or a `[workload.synthetic]` table".into(),
            ));
        }
    };
    w.filters
        .validate()
        .map_err(|m| invalid("workload.filters", m))?;
    let secs = |field: &str, v: f64, positive: bool| -> Result<Millis, ScenarioError> {
        match secs_to_millis(v) {
            Some(ms) if !positive || ms > 0 => Ok(ms),
            _ => Err(invalid(
                field,
                format!(
                    "expected a {} number of seconds, got {v}",
                    if positive { "positive" } else { "non-negative" }
                ),
            )),
        }
    };
    let engine = EngineConfig {
        sample_interval: secs("run.sample_interval_s", raw.run.sample_interval_s, false)?,
        horizon: raw
            .run
            .horizon_s
            .map(|h| secs("run.horizon_s", h, true).map(SimTime))
            .transpose()?,
        schedule_interval: raw
            .policy
            .schedule_interval_s
            .map(|s| secs("policy.schedule_interval_s", s, true))
            .transpose()?,
        check_invariants: raw.run.check_invariants,
        startup_delay: secs("run.startup_delay_s", raw.run.startup_delay_s, false)?,
        checkpoint_interval: secs(
            "preemption.checkpoint_interval_s",
            raw.preemption.checkpoint_interval_s,
            false,
        )?,
        restore_overhead: secs(
            "preemption.restore_overhead_s",
            raw.preemption.restore_overhead_s,
            false,
        )?,
        topology: raw.cluster.topology,
        faults: resolve_faults(
            &raw.faults,
            &cluster,
            raw.seed,
            path.parent().unwrap_or(Path::new("")),
            &invalid,
        )?,
        autoscaler: match raw.autoscaler {
            Some(spec) => {
                if let Some(p) = cluster.pools.iter().find(|p| {
                    p.kind == crate::cluster::PoolKind::Reserved
                        && spec.node_groups.contains_key(&p.name)
                }) {
                    return Err(invalid(
                        &format!("autoscaler.node_groups.{}", p.name),
                        format!(
                            "pool {:?} is reserved (a fixed count bought up front); the autoscaler only scales on-demand and spot pools",
                            p.name
                        ),
                    ));
                }
                crate::policy::autoscaler::ClusterAutoscaler::new(
                    spec.clone(),
                    &cluster.pools,
                    raw.seed,
                )
                .map_err(|m| {
                    let field = m.split(':').next().unwrap_or("autoscaler").to_string();
                    invalid(&field, m)
                })?;
                Some((spec, raw.seed))
            }
            None => None,
        },
        services: {
            let base = path.parent().unwrap_or(Path::new(""));
            let mut out = Vec::new();
            for (k, spec) in raw.services.iter().enumerate() {
                let at = format!("services[{k}]");
                spec.validate().map_err(|e| invalid(&at, e.to_string()))?;
                let rate = spec
                    .rate
                    .load(base, raw.seed)
                    .map_err(|e| invalid(&format!("{at}.rate"), e.to_string()))?;
                out.push(crate::engine::ServiceConfig {
                    spec: spec.clone(),
                    rate,
                });
            }
            out
        },
        elastic: match &raw.elastic {
            Some(e) => Some(crate::engine::ElasticConfig {
                policy: e.policy,
                rescale_overhead: secs("elastic.rescale_overhead_s", e.rescale_overhead_s, false)?,
            }),
            None => None,
        },
    };
    let elastic = match raw.elastic {
        Some(e) => {
            let scaling = match (e.scaling, e.efficiency, e.speedups) {
                (RawScaling::Linear, Some(efficiency), None) => {
                    crate::workload::elastic::Scaling::Linear { efficiency }
                }
                (RawScaling::Table, None, Some(t)) => crate::workload::elastic::Scaling::Table(t),
                (RawScaling::Linear, _, _) => {
                    return Err(invalid(
                        "elastic.efficiency",
                        "scaling = \"linear\" needs `efficiency` (0 < e ≤ 1) and no `speedups`"
                            .into(),
                    ));
                }
                (RawScaling::Table, _, _) => {
                    return Err(invalid(
                        "elastic.speedups",
                        "scaling = \"table\" needs `speedups` (speedup at 1, 2, 3… workers, starting with 1.0) and no `efficiency`".into(),
                    ));
                }
            };
            let rule = crate::workload::elastic::ElasticRule {
                fraction: e.fraction,
                tenants: e.tenants,
                min_workers: e.min_workers,
                max_workers_factor: e.max_workers_factor,
                scaling,
            };
            rule.validate().map_err(|m| invalid("elastic", m))?;
            Some(rule)
        }
        None => None,
    };
    if let Some(t) = &raw.cluster.topology {
        if t.nodes_per_rack == 0 {
            return Err(invalid(
                "cluster.topology.nodes_per_rack",
                "expected at least 1 node per rack".into(),
            ));
        }
        if !(t.cross_rack_slowdown.is_finite() && t.cross_rack_slowdown >= 1.0) {
            return Err(invalid(
                "cluster.topology.cross_rack_slowdown",
                format!(
                    "expected a factor ≥ 1 (1.2 = 20% slower), got {}",
                    t.cross_rack_slowdown
                ),
            ));
        }
    }
    // Policies check their own parameters; build once now so a bad one fails
    // at load time, naming the table.
    raw.policy
        .scheduler
        .build_with(&raw.policy.scheduler_params)
        .map_err(|m| invalid("policy.scheduler_params", m))?;
    let no_jobs = Workload::default();
    raw.policy
        .placement
        .build_with(&crate::policy::placement::PlacementContext {
            params: &raw.policy.placement_params,
            seed: raw.seed,
            workload: &no_jobs,
            pools: &cluster.pools,
        })
        .map_err(|m| invalid("policy.placement_params", m))?;
    Ok(Scenario {
        path: path.to_path_buf(),
        name: raw.name,
        description: raw.description,
        seed: raw.seed,
        cluster,
        workload,
        import,
        filters: w.filters,
        extra: w
            .extra
            .iter()
            .map(|e| {
                (
                    path.parent().unwrap_or(Path::new("")).join(&e.trace),
                    e.format,
                    e.lenient,
                )
            })
            .collect(),
        scheduler: raw.policy.scheduler,
        scheduler_params: raw.policy.scheduler_params,
        placement: raw.policy.placement,
        placement_params: raw.policy.placement_params,
        engine,
        output_dir: raw.run.output_dir,
        elastic,
    })
}

/// Resolves `[faults]` pool names and node indices against the cluster.
fn resolve_faults(
    raw: &RawFaults,
    cluster: &ClusterSpec,
    seed: u64,
    base: &Path,
    invalid: &impl Fn(&str, String) -> ScenarioError,
) -> Result<crate::engine::FaultConfig, ScenarioError> {
    let pool_index = |field: &str, name: &str| {
        cluster
            .pools
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = cluster.pools.iter().map(|p| p.name.as_str()).collect();
                invalid(
                    field,
                    format!("no pool named {name:?}; the pools are {}", names.join(", ")),
                )
            })
    };
    let n = cluster.pools.len();
    let mut failures = vec![None; n];
    for (name, f) in &raw.failures {
        let at = format!("faults.failures.{name}");
        let i = pool_index(&at, name)?;
        f.validate(&at).map_err(|m| invalid(&at, m))?;
        failures[i] = Some(*f);
    }
    let mut spot = vec![None; n];
    for (name, sp) in &raw.spot {
        let at = format!("faults.spot.{name}");
        let i = pool_index(&at, name)?;
        sp.validate(&at).map_err(|m| invalid(&at, m))?;
        let kind = cluster.pools[i].kind;
        if kind != crate::cluster::PoolKind::Spot {
            return Err(invalid(
                &at,
                format!(
                    "pool {name:?} is kind {:?}; only spot pools are reclaimed: set `kind = \"spot\"` on the pool",
                    kind.name()
                ),
            ));
        }
        spot[i] = Some(*sp);
    }
    // Inline outages, then the file's rows, each labelled for its errors.
    let mut outages: Vec<(String, crate::engine::faults::ScriptedOutage)> = raw
        .outages
        .iter()
        .enumerate()
        .map(|(k, o)| (format!("faults.outages[{k}]"), o.clone()))
        .collect();
    if let Some(file) = &raw.outages_file {
        let file = base.join(file);
        let rows = crate::engine::faults::read_outages(&file)
            .map_err(|m| invalid("faults.outages_file", m))?;
        outages.extend(rows.into_iter().map(|(line, o)| {
            (
                format!("faults.outages_file ({}:{line})", file.display()),
                o,
            )
        }));
    }
    let mut scripted = Vec::new();
    for (at, o) in &outages {
        let at = at.as_str();
        let i = pool_index(at, &o.pool)?;
        if o.node >= cluster.pools[i].nodes {
            return Err(invalid(
                at,
                format!(
                    "pool {:?} has {} nodes, no node {}",
                    o.pool, cluster.pools[i].nodes, o.node
                ),
            ));
        }
        let start = secs_to_millis(o.at_s).ok_or_else(|| {
            invalid(
                at,
                format!("at_s: expected non-negative seconds, got {}", o.at_s),
            )
        })?;
        let down_for = o
            .down_for_s
            .map(|d| {
                secs_to_millis(d).ok_or_else(|| {
                    invalid(
                        at,
                        format!("down_for_s: expected non-negative seconds, got {d}"),
                    )
                })
            })
            .transpose()?;
        let base: u32 = cluster.pools[..i].iter().map(|p| p.nodes).sum();
        scripted.push((SimTime(start), crate::ids::NodeId(base + o.node), down_for));
    }
    Ok(crate::engine::FaultConfig {
        failures,
        spot,
        scripted,
        backoff_limit: raw.backoff_limit,
        seed,
    })
}

/// Sets `key` in `table`. Segments are table keys, creating missing tables,
/// or array indices (`cluster.pools.0.nodes`).
fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut cur: &mut toml::Value = table
        .entry(parts[0].to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if parts.len() == 1 {
        *cur = value;
        return Ok(());
    }
    for (i, p) in parts.iter().enumerate().skip(1) {
        let at = parts[..i].join(".");
        cur = match cur {
            toml::Value::Table(t) => t
                .entry(p.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new())),
            toml::Value::Array(items) => {
                let n = items.len();
                let idx: usize = p
                    .parse()
                    .map_err(|_| format!("`{at}` is a list: expected an index, got {p:?}"))?;
                items
                    .get_mut(idx)
                    .ok_or_else(|| format!("`{at}` has {n} entries, no index {idx}"))?
            }
            _ => return Err(format!("`{at}` is neither a table nor a list")),
        };
    }
    *cur = value;
    Ok(())
}
