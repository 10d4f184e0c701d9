//! Reader for the Alibaba GPU cluster trace 2023, "openb"
//! (`alibaba/clusterdata`, folder `cluster-trace-gpu-v2023`), published with
//! Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads
//! with Fragmentation Gradient Descent", USENIX ATC 2023. For research or
//! study use; cite the paper. Bundled excerpts and their provenance:
//! `scenarios/data/openb/`.
//!
//! # Pod lists (`openb_pod_list_*.csv`) → jobs
//!
//! One row per Kubernetes pod. Columns are looked up by name in the header, so
//! their order does not matter and extra spaces around names are ignored:
//!
//! | column           | unit / values                                              | required |
//! |------------------|------------------------------------------------------------|----------|
//! | `name`           | pod name, e.g. `openb-pod-0017` → the job name            | yes      |
//! | `cpu_milli`      | CPU request, millicores (integer ≥ 0)                      | yes      |
//! | `memory_mib`     | memory request, MiB (integer ≥ 0)                          | yes      |
//! | `num_gpu`        | GPUs requested (integer ≥ 0; 0..=8 in the trace)           | yes      |
//! | `gpu_milli`      | share of each GPU, milli-GPUs 0..=1000                     | yes      |
//! | `gpu_spec`       | allowed GPU models separated by `\|`; empty (or `nan`) = any | no     |
//! | `qos`            | `LS`, `BE`, `Burstable` or `Guaranteed`                    | no       |
//! | `pod_phase`      | `Pending`, `Running`, `Succeeded` or `Failed`              | no       |
//! | `creation_time`  | integer seconds since the trace start                      | with the two below |
//! | `scheduled_time` | idem; empty for a pod that never ran                       | with the others |
//! | `deletion_time`  | idem; empty (never in the published files) = not deleted   | with the others |
//!
//! The base trace and its `cpu*`, `gpushare*` and `gpuspec*` variants have all
//! eleven columns. The `multigpu*` variants have only the first five (no
//! `gpu_spec`, `qos`, `pod_phase` or times): they are `default`'s pods, time
//! columns dropped, followed by extra multi-GPU pods, made for the paper's
//! experiments, which ignore time (pods arrive one after another and never
//! leave). A missing required column is a [`TraceError::Header`] naming it;
//! the three time columns come together or not at all.
//!
//! Each pod becomes one job of one worker:
//!
//! - **GPU request** ([`GpuDemand`]): `num_gpu` 0 → `Whole(0)`, a CPU-only pod
//!   (`gpu_milli` must then be 0); `num_gpu` 1 with `gpu_milli` 1..=999 →
//!   `Fraction(gpu_milli)`, a share of one GPU; `num_gpu` 1 with `gpu_milli`
//!   1000 → `Whole(1)` (0 is read the same way, as the publisher's converter
//!   does not forbid it; the published files have no such row, and the import
//!   notes any); `num_gpu` n > 1 → `Whole(n)` on one node, with `gpu_milli`
//!   1000 (every published row) or 0; any other combination is a row error.
//! - **CPU and memory**: `cpu_milli` and `memory_mib` as given (the import
//!   options' per-GPU defaults are not used; neither is the worker shape, since
//!   a pod is one worker on one node by definition).
//! - **GPU models**: `gpu_spec` split on `|`, empty entries dropped and
//!   repeated names kept once (the trace has lists like
//!   `V100M16|V100M32|V100M32`); empty or `nan` → any model.
//! - **Tenant** = `qos`: the trace has no user, team or namespace column, and
//!   the QoS class is the only grouping it carries. **Priority** from `qos`
//!   (larger is more important), following Kubernetes' QoS order and
//!   Alibaba's (Koordinator) classes, where latency-sensitive pods map to
//!   Guaranteed or Burstable and best-effort pods come last:
//!
//!   | `qos`        | meaning                              | priority |
//!   |--------------|--------------------------------------|---------:|
//!   | `Guaranteed` | Kubernetes Guaranteed (requests = limits) | 3   |
//!   | `LS`         | latency-sensitive (online services)  | 2        |
//!   | `Burstable`  | Kubernetes Burstable                 | 1        |
//!   | `BE`         | best-effort (batch)                  | 0        |
//!
//!   Any other value is a row error. Without a `qos` column the tenant is
//!   `default` and the priority 0.
//! - **Status** = `pod_phase` as written (none without the column).
//! - **Submission** = `creation_time`, seconds → ms, relative to the trace
//!   start as published (not rebased: the published lists already start at 0,
//!   and keeping the trace's clock lets runs of different variants and
//!   windows line up; note that a handful of long-lived pods are created
//!   months before the bulk, e.g. `default` has 17 of 8,152 pods before
//!   9,000,000 s, so use the scenario's `window` filter to study the busy
//!   part). The simulator decides when a job starts, so the trace's own
//!   queueing (`scheduled_time − creation_time`) is not part of the job.
//! - **Duration** (run time once started):
//!   - pods that ran and were deleted before the trace end:
//!     `deletion_time − scheduled_time`. Most `Running` pods are of this kind:
//!     `pod_phase` is the last phase seen, so a service deleted while running
//!     stays `Running` (5,159 of `default`'s 5,193 `Running` pods have an
//!     earlier deletion time), and their run time is observed, not censored.
//!   - **right-censored** pods, still alive when the trace ends: no
//!     `deletion_time`, or a `deletion_time` equal to the trace end, which is
//!     how the publisher wrote "not deleted yet" (in `default`, the 34 pods
//!     deleted at the very last second are all `Running`, and no pod of
//!     another phase ends there). The trace end is the largest time in the
//!     file (any of the three columns, over the kept rows). Their duration is
//!     `trace end − scheduled_time`: a lower bound on the true run time.
//!   - pods that never ran (`scheduled_time` empty; all `Pending` in the
//!     published files): duration 0, submitted at `creation_time`. They have
//!     no observed run time; `deletion_time − creation_time` would be how long
//!     they waited before being deleted, and replaying that as work would add
//!     load the real cluster never carried. They still arrive, queue and take
//!     part in wait statistics; filter on status `Pending` to drop them.
//!   - lists without time columns (`multigpu*`): every pod is submitted at 0
//!     in file order (job ids follow the file) and runs
//!     [`UNTIMED_DURATION_MS`] (365 days), i.e. never leaves within any
//!     realistic horizon, as in the paper's experiments. Run them with
//!     `run.horizon_s` set.
//!
//!   A `scheduled_time` before `creation_time`, or a `deletion_time` before
//!   the pod's start (or creation, if it never ran), is a row error.
//!
//! The import report's notes give, for the file read: pod counts by GPU
//! request, by QoS (with the priority used), constrained-model counts, the
//! trace end, how many pods were right-censored and how many never ran, and
//! what was assumed for missing columns.
//!
//! # Node lists (`openb_node_list_*.csv`) → pools
//!
//! Header `sn,cpu_milli,memory_mib,gpu,model` (looked up by name): one row per
//! node with its allocatable CPU (millicores), memory (MiB), GPU count and GPU
//! model (empty for CPU-only nodes; `G1`–`G3` are undisclosed models).
//! [`read_nodes`] groups nodes of one shape (model, GPUs per node, CPU,
//! memory) into one [`PoolSpec`], named `<model>-<gpus>g-<cpu>-<memory>`
//! (CPU-only: `cpu-<cpu>-<memory>`), CPU written `96c` (cores) or `96500m`,
//! memory `768gi` (GiB) or `786433mi`, e.g. `V100M32-8g-96c-768gi`. Pools are
//! sorted GPU pools first, then by model, GPUs per node, CPU and memory; no
//! price; label `source = openb`. `openb_node_list_gpu_node.csv` gives 15
//! pools, 1,213 nodes, 6,212 GPUs; `openb_node_list_all_node.csv` adds 310
//! CPU-only nodes in 12 more pools (27 pools, 1,523 nodes).

use std::collections::BTreeMap;
use std::path::Path;

use super::rows::{CsvTrace, ImportReport, Row};
use super::{ImportOptions, Imported, TraceError};
use crate::cluster::PoolSpec;
use crate::time::{MS_PER_SEC, Millis, SimTime};
use crate::workload::{GpuDemand, JobDraft, Workload};

/// The full pod-list header, as published (`default`, `cpu*`, `gpushare*`,
/// `gpuspec*`).
pub const POD_HEADER: [&str; 11] = [
    "name",
    "cpu_milli",
    "memory_mib",
    "num_gpu",
    "gpu_milli",
    "gpu_spec",
    "qos",
    "pod_phase",
    "creation_time",
    "deletion_time",
    "scheduled_time",
];

/// The columns every pod list has (the whole header of the `multigpu*`
/// variants).
pub const POD_REQUIRED: [&str; 5] = ["name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"];

/// The node-list header.
pub const NODE_HEADER: [&str; 5] = ["sn", "cpu_milli", "memory_mib", "gpu", "model"];

/// QoS class → priority (larger is more important); see the module docs.
pub const QOS_PRIORITY: [(&str, i32); 4] =
    [("Guaranteed", 3), ("LS", 2), ("Burstable", 1), ("BE", 0)];

/// The pod phases the trace uses.
pub const POD_PHASES: [&str; 4] = ["Pending", "Running", "Succeeded", "Failed"];

/// Tenant of pods from a list without a `qos` column.
pub const NO_QOS_TENANT: &str = "default";

/// Duration of pods from a list without time columns (365 days): they never
/// leave within a realistic horizon.
pub const UNTIMED_DURATION_MS: Millis = 365 * 86_400 * MS_PER_SEC;

/// The priority of a QoS class, `None` for a class the trace does not use.
pub fn qos_priority(qos: &str) -> Option<i32> {
    QOS_PRIORITY
        .iter()
        .find(|(q, _)| *q == qos)
        .map(|&(_, p)| p)
}

/// True for the pod-list headers: all of [`POD_REQUIRED`], and nothing that is
/// not in [`POD_HEADER`].
pub fn sniff(header: &[String]) -> bool {
    POD_REQUIRED.iter().all(|c| header.iter().any(|h| h == c))
        && header.iter().all(|h| POD_HEADER.contains(&h.as_str()))
}

/// True for the node-list header (its five columns, in any order).
pub fn sniff_nodes(header: &[String]) -> bool {
    header.len() == NODE_HEADER.len() && NODE_HEADER.iter().all(|c| header.iter().any(|h| h == c))
}

const SECS_EXPECTED: &str = "whole seconds since the trace start (an integer ≥ 0)";
const MILLI_EXPECTED: &str = "a share of one GPU in milli-GPUs, 0 to 1000";
const QOS_EXPECTED: &str = "one of Guaranteed, LS, Burstable, BE";
const PHASE_EXPECTED: &str = "one of Pending, Running, Succeeded, Failed";

/// Where the time columns are.
#[derive(Debug, Clone, Copy)]
struct TimeCols {
    creation: usize,
    scheduled: usize,
    deletion: usize,
}

/// Where each pod-list column is (0-based).
#[derive(Debug, Clone, Copy)]
struct PodCols {
    name: usize,
    cpu_milli: usize,
    memory_mib: usize,
    num_gpu: usize,
    gpu_milli: usize,
    gpu_spec: Option<usize>,
    qos: Option<usize>,
    pod_phase: Option<usize>,
    times: Option<TimeCols>,
}

fn position(header: &[String], col: &str) -> Option<usize> {
    header.iter().position(|h| h == col)
}

fn missing_column(path: &Path, header: &[String], expected: String) -> TraceError {
    TraceError::Header {
        path: path.to_path_buf(),
        line: 1,
        expected,
        found: header.join(","),
    }
}

impl PodCols {
    fn find(header: &[String], path: &Path) -> Result<PodCols, TraceError> {
        let need = |col: &str| {
            position(header, col).ok_or_else(|| {
                missing_column(
                    path,
                    header,
                    format!(
                        "{}[,{}] (no column {col})",
                        POD_REQUIRED.join(","),
                        POD_HEADER[POD_REQUIRED.len()..].join(",")
                    ),
                )
            })
        };
        let name = need("name")?;
        let cpu_milli = need("cpu_milli")?;
        let memory_mib = need("memory_mib")?;
        let num_gpu = need("num_gpu")?;
        let gpu_milli = need("gpu_milli")?;
        let time_names = ["creation_time", "scheduled_time", "deletion_time"];
        let found: Vec<Option<usize>> = time_names.iter().map(|c| position(header, c)).collect();
        let times = match found.as_slice() {
            [Some(creation), Some(scheduled), Some(deletion)] => Some(TimeCols {
                creation: *creation,
                scheduled: *scheduled,
                deletion: *deletion,
            }),
            [None, None, None] => None,
            _ => {
                let absent = time_names
                    .iter()
                    .zip(&found)
                    .find(|(_, f)| f.is_none())
                    .map_or("", |(c, _)| *c);
                return Err(missing_column(
                    path,
                    header,
                    format!(
                        "{} (creation_time, scheduled_time and deletion_time come together; no column {absent})",
                        POD_HEADER.join(",")
                    ),
                ));
            }
        };
        Ok(PodCols {
            name,
            cpu_milli,
            memory_mib,
            num_gpu,
            gpu_milli,
            gpu_spec: position(header, "gpu_spec"),
            qos: position(header, "qos"),
            pod_phase: position(header, "pod_phase"),
            times,
        })
    }
}

/// The GPU request of one pod from `num_gpu` and `gpu_milli` (already checked
/// to be at most 1000), or what `gpu_milli` should have been.
fn gpu_demand(num_gpu: u32, gpu_milli: u32) -> Result<GpuDemand, &'static str> {
    match (num_gpu, gpu_milli) {
        (0, 0) => Ok(GpuDemand::Whole(0)),
        (0, _) => Err("0 for a CPU-only pod (num_gpu 0)"),
        (1, 0 | 1000) => Ok(GpuDemand::Whole(1)),
        (1, m) => Ok(GpuDemand::Fraction(m)),
        (n, 0 | 1000) => Ok(GpuDemand::Whole(n)),
        (_, _) => Err("1000 (whole GPUs) when num_gpu is above 1"),
    }
}

/// Splits a `gpu_spec` value into model names: `|`-separated, empty entries
/// dropped, repeats kept once, `nan` (how pandas prints an empty cell) = any.
/// Returns the models and whether a name was repeated.
fn parse_models(spec: &str) -> (Vec<String>, bool) {
    let mut models: Vec<String> = Vec::new();
    let mut repeated = false;
    if spec.eq_ignore_ascii_case("nan") {
        return (models, repeated);
    }
    for m in spec.split('|').map(str::trim).filter(|m| !m.is_empty()) {
        if models.iter().any(|have| have == m) {
            repeated = true;
        } else {
            models.push(m.to_owned());
        }
    }
    (models, repeated)
}

/// When a pod ran, as read from its row.
enum Timing {
    /// The list has no time columns.
    Untimed,
    /// No `scheduled_time`.
    NeverRan,
    /// Started at `scheduled` (ms); deleted at `deletion`, if ever.
    Ran {
        scheduled: u64,
        deletion: Option<u64>,
    },
}

/// One parsed pod row.
struct Pod {
    draft: JobDraft,
    timing: Timing,
    /// Largest of the row's times, ms.
    latest: u64,
    qos: Option<usize>,
    phase: Option<usize>,
    one_gpu_zero_milli: bool,
    repeated_model: bool,
}

fn time_ms(row: &Row<'_>, col: usize) -> Result<Option<u64>, TraceError> {
    let text = row.text(col)?;
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<u64>()
        .ok()
        .and_then(|s| s.checked_mul(MS_PER_SEC))
        .map(Some)
        .ok_or_else(|| row.bad(col, SECS_EXPECTED))
}

fn parse_pod(row: &Row<'_>, c: &PodCols) -> Result<Pod, TraceError> {
    let name = row.text(c.name)?;
    if name.is_empty() {
        return Err(row.bad(c.name, "a non-empty pod name"));
    }
    let cpu_milli: u32 = row.parse(c.cpu_milli, "a whole number of millicores ≥ 0")?;
    let memory_mib: u64 = row.parse(c.memory_mib, "a whole number of MiB ≥ 0")?;
    let num_gpu: u32 = row.parse(c.num_gpu, "a whole number of GPUs ≥ 0")?;
    let gpu_milli: u32 = row.parse(c.gpu_milli, MILLI_EXPECTED)?;
    if gpu_milli > 1000 {
        return Err(row.bad(c.gpu_milli, MILLI_EXPECTED));
    }
    let gpu = gpu_demand(num_gpu, gpu_milli).map_err(|why| row.bad(c.gpu_milli, why))?;
    let (gpu_models, repeated_model) = match c.gpu_spec {
        Some(i) => parse_models(row.text(i)?),
        None => (Vec::new(), false),
    };
    let qos = match c.qos {
        Some(i) => {
            let q = row.text(i)?;
            Some(
                QOS_PRIORITY
                    .iter()
                    .position(|(name, _)| *name == q)
                    .ok_or_else(|| row.bad(i, QOS_EXPECTED))?,
            )
        }
        None => None,
    };
    let phase = match c.pod_phase {
        Some(i) => {
            let p = row.text(i)?;
            Some(
                POD_PHASES
                    .iter()
                    .position(|name| *name == p)
                    .ok_or_else(|| row.bad(i, PHASE_EXPECTED))?,
            )
        }
        None => None,
    };
    let (submit, timing, latest) = match c.times {
        None => (0, Timing::Untimed, 0),
        Some(t) => {
            let creation =
                time_ms(row, t.creation)?.ok_or_else(|| row.bad(t.creation, SECS_EXPECTED))?;
            let scheduled = time_ms(row, t.scheduled)?;
            let deletion = time_ms(row, t.deletion)?;
            if scheduled.is_some_and(|s| s < creation) {
                return Err(row.bad(
                    t.scheduled,
                    "a time ≥ creation_time, or empty if the pod never ran",
                ));
            }
            if deletion.is_some_and(|d| d < scheduled.unwrap_or(creation)) {
                let expected = if scheduled.is_some() {
                    "a time ≥ scheduled_time, or empty"
                } else {
                    "a time ≥ creation_time, or empty"
                };
                return Err(row.bad(t.deletion, expected));
            }
            let latest = creation
                .max(scheduled.unwrap_or(0))
                .max(deletion.unwrap_or(0));
            let timing = match scheduled {
                None => Timing::NeverRan,
                Some(scheduled) => Timing::Ran {
                    scheduled,
                    deletion,
                },
            };
            (creation, timing, latest)
        }
    };
    // Censored durations are completed once the trace end is known.
    let duration = match timing {
        Timing::Untimed => UNTIMED_DURATION_MS,
        Timing::NeverRan => 0,
        Timing::Ran {
            scheduled,
            deletion,
        } => deletion.map_or(0, |d| d - scheduled),
    };
    Ok(Pod {
        draft: JobDraft {
            name: name.to_owned(),
            submit: SimTime(submit),
            tenant: qos.map_or(NO_QOS_TENANT, |i| QOS_PRIORITY[i].0).to_owned(),
            priority: qos.map_or(0, |i| QOS_PRIORITY[i].1),
            workers: 1,
            gpu,
            cpu_milli,
            memory_mib,
            gpu_models,
            duration,
            status: phase.map(|i| POD_PHASES[i].to_owned()),
        },
        timing,
        latest,
        qos,
        phase,
        one_gpu_zero_milli: num_gpu == 1 && gpu_milli == 0,
        repeated_model,
    })
}

/// Counts for the import notes.
#[derive(Default)]
struct PodCounts {
    cpu_only: u64,
    fraction: u64,
    one_gpu: u64,
    multi_gpu: u64,
    multi_gpu_gpus: u64,
    one_gpu_zero_milli: u64,
    qos: [u64; QOS_PRIORITY.len()],
    constrained: u64,
    repeated_model: u64,
    /// Never-ran pods by phase; the last slot is "no phase column".
    never_ran: [u64; POD_PHASES.len() + 1],
    /// Ran, not deleted: (draft index, scheduled ms).
    open: Vec<(usize, u64)>,
    /// Largest deletion time of pods that ran, and how many pods have it.
    last_deletion: Option<(u64, u64)>,
    latest: u64,
}

impl PodCounts {
    fn add(&mut self, pod: &Pod, index: usize) {
        match pod.draft.gpu {
            GpuDemand::Whole(0) => self.cpu_only += 1,
            GpuDemand::Whole(1) => self.one_gpu += 1,
            GpuDemand::Whole(n) => {
                self.multi_gpu += 1;
                self.multi_gpu_gpus += u64::from(n);
            }
            GpuDemand::Fraction(_) => self.fraction += 1,
        }
        self.one_gpu_zero_milli += u64::from(pod.one_gpu_zero_milli);
        if let Some(q) = pod.qos {
            self.qos[q] += 1;
        }
        self.constrained += u64::from(!pod.draft.gpu_models.is_empty());
        self.repeated_model += u64::from(pod.repeated_model);
        self.latest = self.latest.max(pod.latest);
        match pod.timing {
            Timing::Untimed => {}
            Timing::NeverRan => self.never_ran[pod.phase.unwrap_or(POD_PHASES.len())] += 1,
            Timing::Ran {
                scheduled,
                deletion: None,
            } => self.open.push((index, scheduled)),
            Timing::Ran {
                deletion: Some(d), ..
            } => match &mut self.last_deletion {
                Some((at, n)) if *at == d => *n += 1,
                Some((at, _)) if *at > d => {}
                slot => *slot = Some((d, 1)),
            },
        }
    }
}

/// Reads an openb pod list into a workload: one single-worker job per pod (see
/// the module docs for the mapping, censoring and notes).
pub fn import(path: &Path, opts: &ImportOptions) -> Result<Imported, TraceError> {
    let mut t = CsvTrace::open(path, opts.lenient)?;
    let cols = PodCols::find(t.read_header()?, path)?;
    let mut drafts: Vec<JobDraft> = Vec::new();
    let mut counts = PodCounts::default();
    while let Some(row) = t.next_row()? {
        match parse_pod(&row, &cols) {
            Ok(pod) => {
                t.kept();
                counts.add(&pod, drafts.len());
                drafts.push(pod.draft);
            }
            Err(e) => t.reject(e)?,
        }
    }
    if t.report().rows == 0 {
        return Err(TraceError::Empty {
            path: path.to_path_buf(),
            message: "the file has a header but no pod rows".into(),
        });
    }

    let pods = drafts.len() as u64;
    t.note(format!(
        "{pods} pods → {pods} one-worker jobs: {} CPU-only, {} sharing one GPU (gpu_milli 1–999), \
         {} with one whole GPU, {} with 2 or more whole GPUs ({} GPUs)",
        counts.cpu_only, counts.fraction, counts.one_gpu, counts.multi_gpu, counts.multi_gpu_gpus
    ));
    if counts.one_gpu_zero_milli > 0 {
        t.note(format!(
            "{} pods with num_gpu 1 and gpu_milli 0 were read as one whole GPU",
            counts.one_gpu_zero_milli
        ));
    }
    if cols.qos.is_some() {
        let per: Vec<String> = QOS_PRIORITY
            .iter()
            .zip(counts.qos)
            .map(|((q, p), n)| format!("{q} {n} (priority {p})"))
            .collect();
        t.note(format!(
            "tenant = qos (the trace has no user or team column): {}",
            per.join(", ")
        ));
    } else {
        t.note(format!(
            "no qos column: every pod has tenant `{NO_QOS_TENANT}` and priority 0"
        ));
    }
    if cols.gpu_spec.is_some() {
        let mut note = format!(
            "{} pods restrict their GPU models (gpu_spec)",
            counts.constrained
        );
        if counts.repeated_model > 0 {
            note.push_str(&format!(
                "; {} of them name a model twice, kept once",
                counts.repeated_model
            ));
        }
        t.note(note);
    }
    if cols.pod_phase.is_none() {
        t.note("no pod_phase column: jobs have no trace status");
    }

    if cols.times.is_none() {
        t.note(format!(
            "no time columns (creation_time, scheduled_time, deletion_time): every pod is submitted at 0 s \
             in file order and runs {} days, i.e. never leaves (as in the FGD paper's experiments); \
             set run.horizon_s",
            UNTIMED_DURATION_MS / (86_400 * MS_PER_SEC)
        ));
    } else {
        let end = counts.latest;
        for &(i, scheduled) in &counts.open {
            drafts[i].duration = end - scheduled;
        }
        let at_end = match counts.last_deletion {
            Some((at, n)) if at == end => n,
            _ => 0,
        };
        let first = drafts
            .iter()
            .map(|d| d.submit)
            .min()
            .unwrap_or(SimTime::ZERO);
        t.note(format!(
            "times are seconds since the trace start, kept as published: first submission at {} s, \
             trace end (largest time in the file) {} s",
            first.as_millis() / MS_PER_SEC,
            end / MS_PER_SEC
        ));
        t.note(format!(
            "{} pods right-censored (still alive at the trace end: {} without deletion_time, {} deleted \
             at the trace end {} s): duration = trace end − scheduled_time, a lower bound",
            counts.open.len() as u64 + at_end,
            counts.open.len(),
            at_end,
            end / MS_PER_SEC
        ));
        let never: u64 = counts.never_ran.iter().sum();
        let mut by_phase: Vec<String> = POD_PHASES
            .iter()
            .zip(counts.never_ran)
            .filter(|(_, n)| *n > 0)
            .map(|(p, n)| format!("{n} {p}"))
            .collect();
        if counts.never_ran[POD_PHASES.len()] > 0 {
            by_phase.push(format!(
                "{} without phase",
                counts.never_ran[POD_PHASES.len()]
            ));
        }
        let phases = if by_phase.is_empty() {
            String::new()
        } else {
            format!(": {}", by_phase.join(", "))
        };
        t.note(format!(
            "{never} pods never ran (no scheduled_time{phases}): submitted at creation_time with duration 0"
        ));
    }

    Ok(Imported {
        workload: Workload::from_drafts(drafts),
        report: t.finish(),
    })
}

/// One node shape and how many nodes have it.
struct Shape {
    model: String,
    gpus: u32,
    cpu_milli: u32,
    memory_mib: u64,
    nodes: u32,
}

/// The pool name of a node shape; see the module docs.
fn pool_name(model: &str, gpus: u32, cpu_milli: u32, memory_mib: u64) -> String {
    let cpu = if cpu_milli.is_multiple_of(1000) {
        format!("{}c", cpu_milli / 1000)
    } else {
        format!("{cpu_milli}m")
    };
    let mem = if memory_mib.is_multiple_of(1024) {
        format!("{}gi", memory_mib / 1024)
    } else {
        format!("{memory_mib}mi")
    };
    if gpus == 0 {
        format!("cpu-{cpu}-{mem}")
    } else {
        format!("{model}-{gpus}g-{cpu}-{mem}")
    }
}

/// Reads an openb node list into node pools, one per distinct shape (see the
/// module docs). Strict: the first bad row is an error.
pub fn read_nodes(path: &Path) -> Result<(Vec<PoolSpec>, ImportReport), TraceError> {
    let mut t = CsvTrace::open(path, false)?;
    let header = t.read_header()?;
    let mut idx = [0usize; NODE_HEADER.len()];
    for (slot, col) in idx.iter_mut().zip(NODE_HEADER) {
        *slot = position(header, col).ok_or_else(|| {
            missing_column(
                path,
                header,
                format!("{} (no column {col})", NODE_HEADER.join(",")),
            )
        })?;
    }
    let [sn, cpu, mem, gpu, model] = idx;
    let mut shapes: Vec<Shape> = Vec::new();
    while let Some(row) = t.next_row()? {
        let parsed = (|| {
            if row.text(sn)?.is_empty() {
                return Err(row.bad(sn, "a non-empty node name"));
            }
            let cpu_milli: u32 = row.parse(cpu, "a whole number of millicores ≥ 0")?;
            let memory_mib: u64 = row.parse(mem, "a whole number of MiB ≥ 0")?;
            let gpus: u32 = row.parse(gpu, "a whole number of GPUs, 0 to 64")?;
            if gpus > 64 {
                return Err(row.bad(gpu, "a whole number of GPUs, 0 to 64"));
            }
            let mut m = row.text(model)?;
            if m.eq_ignore_ascii_case("nan") {
                m = "";
            }
            match (gpus, m.is_empty()) {
                (0, false) => return Err(row.bad(model, "empty for a node without GPUs")),
                (1.., true) => return Err(row.bad(model, "a GPU model name for a node with GPUs")),
                _ => {}
            }
            match shapes.iter_mut().find(|s| {
                s.model == m
                    && s.gpus == gpus
                    && s.cpu_milli == cpu_milli
                    && s.memory_mib == memory_mib
            }) {
                Some(s) => s.nodes += 1,
                None => shapes.push(Shape {
                    model: m.to_owned(),
                    gpus,
                    cpu_milli,
                    memory_mib,
                    nodes: 1,
                }),
            }
            Ok(())
        })();
        match parsed {
            Ok(()) => t.kept(),
            Err(e) => t.reject(e)?,
        }
    }
    if shapes.is_empty() {
        return Err(TraceError::Empty {
            path: path.to_path_buf(),
            message: "the file has a header but no node rows".into(),
        });
    }
    shapes.sort_by(|a, b| {
        (a.gpus == 0, &a.model, a.gpus, a.cpu_milli, a.memory_mib).cmp(&(
            b.gpus == 0,
            &b.model,
            b.gpus,
            b.cpu_milli,
            b.memory_mib,
        ))
    });
    let mut names: BTreeMap<String, u32> = BTreeMap::new();
    let mut gpus_by_model: BTreeMap<&str, u64> = BTreeMap::new();
    let mut pools = Vec::with_capacity(shapes.len());
    for s in &shapes {
        let mut name = pool_name(&s.model, s.gpus, s.cpu_milli, s.memory_mib);
        // Injective for the published data; a model name containing the
        // separators could still collide, so keep names unique regardless.
        let seen = names.entry(name.clone()).or_insert(0);
        *seen += 1;
        if *seen > 1 {
            name = format!("{name}-{seen}");
        }
        if s.gpus > 0 {
            *gpus_by_model.entry(&s.model).or_insert(0) += u64::from(s.nodes) * u64::from(s.gpus);
        }
        pools.push(PoolSpec {
            name,
            nodes: s.nodes,
            gpus_per_node: s.gpus,
            gpu_model: s.model.clone(),
            cpu_milli: s.cpu_milli,
            memory_mib: s.memory_mib,
            price_per_node_hour: None,
            labels: BTreeMap::from([("source".to_string(), "openb".to_string())]),
            kind: Default::default(),
        });
    }
    let nodes: u64 = shapes.iter().map(|s| u64::from(s.nodes)).sum();
    let cpu_nodes: u64 = shapes
        .iter()
        .filter(|s| s.gpus == 0)
        .map(|s| u64::from(s.nodes))
        .sum();
    let gpus: u64 = gpus_by_model.values().sum();
    let per_model: Vec<String> = gpus_by_model
        .iter()
        .map(|(m, n)| format!("{m} {n}"))
        .collect();
    t.note(format!(
        "{nodes} nodes in {} pools ({cpu_nodes} CPU-only nodes); {gpus} GPUs: {}",
        pools.len(),
        per_model.join(", ")
    ));
    Ok((pools, t.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cols: &[&str]) -> Vec<String> {
        cols.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn gpu_requests() {
        assert_eq!(gpu_demand(0, 0), Ok(GpuDemand::Whole(0)));
        assert!(gpu_demand(0, 500).is_err());
        assert_eq!(gpu_demand(1, 460), Ok(GpuDemand::Fraction(460)));
        assert_eq!(gpu_demand(1, 1), Ok(GpuDemand::Fraction(1)));
        assert_eq!(gpu_demand(1, 999), Ok(GpuDemand::Fraction(999)));
        assert_eq!(gpu_demand(1, 1000), Ok(GpuDemand::Whole(1)));
        assert_eq!(gpu_demand(1, 0), Ok(GpuDemand::Whole(1)));
        assert_eq!(gpu_demand(8, 1000), Ok(GpuDemand::Whole(8)));
        assert_eq!(gpu_demand(2, 0), Ok(GpuDemand::Whole(2)));
        assert!(gpu_demand(2, 500).is_err());
    }

    #[test]
    fn model_lists() {
        assert_eq!(parse_models(""), (vec![], false));
        assert_eq!(parse_models("nan"), (vec![], false));
        assert_eq!(parse_models("T4"), (vec!["T4".to_string()], false));
        assert_eq!(
            parse_models("V100M16|V100M32|V100M32"),
            (vec!["V100M16".to_string(), "V100M32".to_string()], true)
        );
        assert_eq!(
            parse_models("|A10||T4|"),
            (vec!["A10".to_string(), "T4".to_string()], false)
        );
    }

    #[test]
    fn qos_table() {
        assert_eq!(qos_priority("Guaranteed"), Some(3));
        assert_eq!(qos_priority("LS"), Some(2));
        assert_eq!(qos_priority("Burstable"), Some(1));
        assert_eq!(qos_priority("BE"), Some(0));
        assert_eq!(qos_priority("be"), None);
    }

    #[test]
    fn sniffs_both_pod_headers_and_the_node_header() {
        assert!(sniff(&header(&POD_HEADER)));
        assert!(sniff(&header(&POD_REQUIRED)));
        assert!(!sniff(&header(&[
            "name",
            "cpu_milli",
            "memory_mib",
            "num_gpu"
        ])));
        assert!(!sniff(&header(&[
            "name",
            "cpu_milli",
            "memory_mib",
            "num_gpu",
            "gpu_milli",
            "user"
        ])));
        assert!(!sniff(&header(&NODE_HEADER)));
        assert!(!sniff(&header(&[
            "timestamp",
            "duration",
            "num_gpus",
            "gpu_time",
            "cluster"
        ])));
        assert!(sniff_nodes(&header(&NODE_HEADER)));
        assert!(sniff_nodes(&header(&[
            "model",
            "gpu",
            "memory_mib",
            "cpu_milli",
            "sn"
        ])));
        assert!(!sniff_nodes(&header(&POD_REQUIRED)));
        assert!(!sniff_nodes(&header(&[
            "sn",
            "cpu_milli",
            "memory_mib",
            "gpu"
        ])));
    }

    #[test]
    fn pool_names() {
        assert_eq!(
            pool_name("V100M32", 8, 96_000, 786_432),
            "V100M32-8g-96c-768gi"
        );
        assert_eq!(pool_name("", 0, 32_000, 262_144), "cpu-32c-256gi");
        assert_eq!(pool_name("T4", 2, 96_500, 786_433), "T4-2g-96500m-786433mi");
    }

    #[test]
    fn untimed_duration_is_a_year() {
        assert_eq!(UNTIMED_DURATION_MS, 31_536_000_000);
    }
}
