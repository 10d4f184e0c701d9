//! Reader for SenseTime's Helios traces (`cluster_log.csv` of
//! S-Lab-System-Group/HeliosData; Hu et al., "Characterization and Prediction
//! of Deep Learning Workloads in Large-Scale GPU Datacenters", SC'21).
//!
//! Format: one CSV file per cluster, a header row, one Slurm job per row. The
//! published header is
//! `job_id,user,vc,gpu_num,cpu_num,node_num,state,submit_time,start_time,end_time,duration,queue`;
//! columns are looked up by name, so their order may differ and extra columns
//! are ignored. Required: `job_id`, `vc`, `gpu_num`, `node_num`, `state`,
//! `submit_time`, `start_time`, `end_time`; optional: `cpu_num` (and `user`,
//! which is not used).
//!
//! | column        | meaning                                                          |
//! |---------------|------------------------------------------------------------------|
//! | `job_id`      | Slurm job id; becomes the job's name                             |
//! | `user`        | hashed user id (not used)                                        |
//! | `vc`          | hashed virtual cluster; becomes the tenant                       |
//! | `gpu_num`     | GPUs of the whole job, a whole number ≥ 0 (0: CPU-only job)      |
//! | `cpu_num`     | CPUs of the whole job, a whole number ≥ 0                        |
//! | `node_num`    | nodes the job ran on, a whole number ≥ 0                         |
//! | `state`       | final Slurm state (`COMPLETED`, `CANCELLED`, `FAILED`, `TIMEOUT`, `NODE_FAIL`); becomes the status |
//! | `submit_time`, `start_time`, `end_time` | wall-clock `YYYY-MM-DD HH:MM:SS`, read as UTC |
//! | `duration`, `queue` | seconds, derived by the publisher from the times (ignored) |
//!
//! Mapping to jobs:
//!
//! - **Submission**: offsets from the earliest `submit_time` of the imported
//!   jobs (the first job arrives at 0); the report notes that instant.
//! - **Duration**: `end_time − start_time` (the time it held its resources).
//!   A job without a `start_time` or `end_time` (empty, `None`, `Unknown` or
//!   `NaT`: it never ran, e.g. cancelled while pending) cannot be replayed and
//!   is not imported; the report counts such jobs. An `end_time` before the
//!   `start_time` is a bad row.
//! - **Workers and GPUs**: `gpu_num` is the job's total over `node_num`
//!   nodes, so the job becomes `node_num` workers of `gpu_num / node_num` GPUs
//!   when `node_num ≥ 1` divides `gpu_num` and that share fits one node
//!   (`node_gpus`). Otherwise (and with
//!   [`WorkerShape::Gpu`]) the GPU count is shaped by
//!   [`split_gpus`], counted in a note. A CPU-only job (`gpu_num` 0) becomes
//!   `max(node_num, 1)` workers without GPUs.
//! - **CPU**: `cpu_num × 1000 / workers` millicores per worker (rounded up);
//!   without a `cpu_num` column, `cpu_milli_per_gpu` per GPU of the worker.
//!   **Memory** is not in the trace: `memory_mib_per_gpu` per GPU.
//! - No priority (0) and no GPU-model constraint.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::philly::split_gpus;
use super::{CsvTrace, ImportOptions, Imported, Row, TraceError, WorkerShape};
use crate::time::SimTime;
use crate::workload::{GpuDemand, JobDraft, Workload};

/// The published `cluster_log.csv` header, in its order.
pub const COLUMNS: [&str; 12] = [
    "job_id",
    "user",
    "vc",
    "gpu_num",
    "cpu_num",
    "node_num",
    "state",
    "submit_time",
    "start_time",
    "end_time",
    "duration",
    "queue",
];

/// The columns the reader needs (in any order).
pub const REQUIRED: [&str; 8] = [
    "job_id",
    "vc",
    "gpu_num",
    "node_num",
    "state",
    "submit_time",
    "start_time",
    "end_time",
];

const TIME_EXPECTED: &str = "a UTC date and time `YYYY-MM-DD HH:MM:SS`";

/// Spellings of "no time" in Slurm exports.
const NO_TIME: [&str; 4] = ["", "None", "Unknown", "NaT"];

/// Column positions in the file at hand.
struct Cols {
    job_id: usize,
    vc: usize,
    gpu: usize,
    node: usize,
    state: usize,
    submit: usize,
    start: usize,
    end: usize,
    cpu: Option<usize>,
}

impl Cols {
    fn find(header: &[String]) -> Result<Cols, Vec<&'static str>> {
        let pos = |name: &str| header.iter().position(|h| h == name);
        let missing: Vec<&'static str> =
            REQUIRED.into_iter().filter(|c| pos(c).is_none()).collect();
        if !missing.is_empty() {
            return Err(missing);
        }
        // Every required column was just found.
        let at = |name: &str| pos(name).unwrap_or_default();
        Ok(Cols {
            job_id: at("job_id"),
            vc: at("vc"),
            gpu: at("gpu_num"),
            node: at("node_num"),
            state: at("state"),
            submit: at("submit_time"),
            start: at("start_time"),
            end: at("end_time"),
            cpu: pos("cpu_num"),
        })
    }
}

/// Reads a Helios `cluster_log.csv` file into a workload.
pub fn import(path: &Path, opts: &ImportOptions) -> Result<Imported, TraceError> {
    let file = File::open(path).map_err(|source| TraceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    import_from(BufReader::with_capacity(1 << 16, file), path, opts)
}

/// Reads Helios rows from `reader`; `path` only names the source in errors.
pub fn import_from<R: Read>(
    reader: R,
    path: &Path,
    opts: &ImportOptions,
) -> Result<Imported, TraceError> {
    let mut t = CsvTrace::new(reader, path, opts.lenient, 0);
    let header = t.read_header().map_err(|e| match e {
        TraceError::Empty { path, .. } => TraceError::Empty {
            path,
            message: format!(
                "the file is empty; expected a Helios header such as `{}`",
                COLUMNS.join(",")
            ),
        },
        e => e,
    })?;
    let cols = Cols::find(header).map_err(|missing| TraceError::Header {
        path: path.to_path_buf(),
        line: 1,
        expected: format!(
            "{} in any order, other columns optional (missing: {})",
            REQUIRED.join(","),
            missing.join(", ")
        ),
        found: header.join(","),
    })?;

    let mut drafts: Vec<JobDraft> = Vec::new();
    let mut stamps: Vec<i64> = Vec::new();
    let mut never_ran = 0u64;
    let mut cpu_only = 0u64;
    let mut reshaped = 0u64;
    let mut rounding = super::philly::Rounding::default();
    while let Some(row) = t.next_row()? {
        let r = match parse_row(&row, &cols) {
            Ok(r) => r,
            Err(e) => {
                t.reject(e)?;
                continue;
            }
        };
        let Some(duration) = r.duration_ms else {
            never_ran += 1;
            continue;
        };
        t.kept();
        let s = shape(r.gpus, r.nodes, opts);
        if r.gpus == 0 {
            cpu_only += 1;
        }
        if s.reshaped {
            reshaped += 1;
        }
        rounding.record(r.gpus, s.workers, s.per_worker);
        let cpu_milli = match r.cpus {
            Some(cpus) => {
                let per = (u64::from(cpus) * 1_000).div_ceil(u64::from(s.workers));
                u32::try_from(per).unwrap_or(u32::MAX)
            }
            None => opts.cpu_milli_per_gpu.saturating_mul(s.per_worker),
        };
        stamps.push(r.submit_ms);
        drafts.push(JobDraft {
            name: r.name,
            // Filled in below, once the earliest submission is known.
            submit: SimTime::ZERO,
            tenant: r.tenant,
            priority: 0,
            workers: s.workers,
            gpu: GpuDemand::Whole(s.per_worker),
            cpu_milli,
            memory_mib: opts
                .memory_mib_per_gpu
                .saturating_mul(u64::from(s.per_worker)),
            gpu_models: Vec::new(),
            duration,
            status: Some(r.state),
        });
    }

    let Some(&origin) = stamps.iter().min() else {
        let report = t.report();
        let message = if report.rows == 0 {
            "the file has a header but no job rows".to_string()
        } else {
            let mut m = format!("none of the {} job rows could be imported", report.rows);
            if never_ran > 0 {
                m += &format!("; {never_ran} never started (no start_time or end_time)");
            }
            for line in report.skipped_lines() {
                m += &format!("\n{line}");
            }
            m
        };
        return Err(TraceError::Empty {
            path: path.to_path_buf(),
            message,
        });
    };
    for (d, &stamp) in drafts.iter_mut().zip(&stamps) {
        // Epoch milliseconds within jiff's range: the difference fits.
        d.submit = SimTime(stamp.abs_diff(origin));
    }
    t.note(format!(
        "submission times are offsets from the earliest submit_time, {} (read as UTC)",
        jiff::Timestamp::from_millisecond(origin)
            .map(|ts| ts.strftime("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|_| format!("{origin} ms since 1970"))
    ));
    if never_ran > 0 {
        t.note(format!(
            "{never_ran} jobs without a start_time or end_time (never ran, e.g. cancelled while pending) were not imported"
        ));
    }
    if cpu_only > 0 {
        t.note(format!(
            "{cpu_only} CPU-only jobs (gpu_num 0) became workers without GPUs"
        ));
    }
    if reshaped > 0 {
        t.note(format!(
            "{reshaped} jobs were shaped by GPU count instead of node_num (gpu_num not divisible by node_num, a per-node share above {} GPUs, or worker_shape = gpu)",
            opts.node_gpus
        ));
    }
    if let Some(note) = rounding.note(opts.node_gpus) {
        t.note(note);
    }
    Ok(Imported {
        workload: Workload::from_drafts(drafts),
        report: t.finish(),
    })
}

/// True when `header` has every [`REQUIRED`] column (in any order); no
/// other supported format has `vc` and `node_num`.
pub fn sniff(header: &[String]) -> bool {
    Cols::find(header).is_ok()
}

/// A job's gang.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    workers: u32,
    per_worker: u32,
    /// Shaped by [`split_gpus`] although the job is a GPU job (not by node_num).
    reshaped: bool,
    /// [`split_gpus`] rounded the workers up.
    rounded: bool,
}

fn shape(gpus: u32, nodes: u32, opts: &ImportOptions) -> Shape {
    if gpus == 0 {
        return Shape {
            workers: nodes.max(1),
            per_worker: 0,
            reshaped: false,
            rounded: false,
        };
    }
    if opts.worker_shape == WorkerShape::Node && nodes >= 1 && gpus.is_multiple_of(nodes) {
        let per = gpus / nodes;
        if per <= opts.node_gpus || opts.node_gpus == 0 {
            return Shape {
                workers: nodes,
                per_worker: per,
                reshaped: false,
                rounded: false,
            };
        }
    }
    let (workers, per_worker, rounded) = split_gpus(gpus, opts);
    Shape {
        workers,
        per_worker,
        reshaped: opts.worker_shape == WorkerShape::Node,
        rounded,
    }
}

/// One validated row; `submit_ms` is epoch milliseconds.
struct HeliosRow {
    name: String,
    tenant: String,
    gpus: u32,
    cpus: Option<u32>,
    nodes: u32,
    state: String,
    submit_ms: i64,
    /// `None` when the job never ran.
    duration_ms: Option<u64>,
}

fn parse_row(row: &Row<'_>, c: &Cols) -> Result<HeliosRow, TraceError> {
    let name = row.text(c.job_id)?;
    if name.is_empty() {
        return Err(row.bad(c.job_id, "a non-empty job id"));
    }
    let tenant = row.text(c.vc)?;
    if tenant.is_empty() {
        return Err(row.bad(c.vc, "a non-empty virtual-cluster id"));
    }
    let gpus = count(row, c.gpu, "a whole number of GPUs ≥ 0 such as `8`")?;
    let nodes = count(row, c.node, "a whole number of nodes ≥ 0 such as `1`")?;
    let cpus = match c.cpu {
        Some(i) if !row.text(i)?.is_empty() => {
            Some(count(row, i, "a whole number of CPUs ≥ 0 such as `16`")?)
        }
        _ => None,
    };
    let state = row.text(c.state)?.to_string();
    let submit_ms = time(row, c.submit)?.ok_or_else(|| row.bad(c.submit, TIME_EXPECTED))?;
    let start = time(row, c.start)?;
    let end = time(row, c.end)?;
    let duration_ms = match (start, end) {
        (Some(s), Some(e)) if e < s => return Err(row.bad(c.end, "a time at or after start_time")),
        (Some(s), Some(e)) => Some(e.abs_diff(s)),
        _ => None,
    };
    Ok(HeliosRow {
        name: name.to_string(),
        tenant: tenant.to_string(),
        gpus,
        cpus,
        nodes,
        state,
        submit_ms,
        duration_ms,
    })
}

/// A whole number ≥ 0 (`4` or `4.0`).
fn count(row: &Row<'_>, i: usize, expected: &str) -> Result<u32, TraceError> {
    let text = row.text(i)?;
    if let Ok(n) = text.parse::<u32>() {
        return Ok(n);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) => {
            Ok(v as u32)
        }
        _ => Err(row.bad(i, expected)),
    }
}

/// A wall-clock time in epoch ms, `None` for a missing one, or a field error.
fn time(row: &Row<'_>, i: usize) -> Result<Option<i64>, TraceError> {
    let text = row.text(i)?;
    if NO_TIME.contains(&text) {
        return Ok(None);
    }
    parse_time(text)
        .map(Some)
        .ok_or_else(|| row.bad(i, TIME_EXPECTED))
}

/// `YYYY-MM-DD HH:MM:SS` (or what jiff's civil date-time parser accepts, e.g.
/// a `T` separator), read as UTC, in epoch milliseconds.
fn parse_time(text: &str) -> Option<i64> {
    let dt: jiff::civil::DateTime = text.parse().ok()?;
    let ts = jiff::tz::TimeZone::UTC.to_timestamp(dt).ok()?;
    Some(ts.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(node_gpus: u32) -> ImportOptions {
        ImportOptions {
            node_gpus,
            ..ImportOptions::default()
        }
    }

    #[test]
    fn shapes() {
        let s = |g, n| {
            let s = shape(g, n, &node(8));
            (s.workers, s.per_worker, s.reshaped, s.rounded)
        };
        assert_eq!(s(1, 1), (1, 1, false, false));
        assert_eq!(s(16, 2), (2, 8, false, false));
        assert_eq!(s(16, 4), (4, 4, false, false));
        assert_eq!(s(64, 8), (8, 8, false, false));
        // Not divisible: by GPU count.
        assert_eq!(s(3, 2), (1, 3, true, false));
        assert_eq!(s(18, 4), (3, 6, true, false));
        // Too much per node: by GPU count.
        assert_eq!(s(16, 1), (2, 8, true, false));
        // node_num 0 on a GPU job.
        assert_eq!(s(2, 0), (1, 2, true, false));
        // CPU-only.
        assert_eq!(s(0, 0), (1, 0, false, false));
        assert_eq!(s(0, 3), (3, 0, false, false));
        let gpu = ImportOptions {
            worker_shape: WorkerShape::Gpu,
            ..ImportOptions::default()
        };
        assert_eq!(shape(16, 2, &gpu).workers, 16);
        assert!(!shape(16, 2, &gpu).reshaped);
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("1970-01-01 00:00:10"), Some(10_000));
        assert_eq!(parse_time("2020-06-09 18:41:01"), Some(1_591_728_061_000));
        assert_eq!(parse_time("2020-06-31 18:41:01"), None);
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn columns_by_name() {
        let text = "state,submit_time,start_time,end_time,job_id,vc,node_num,gpu_num,extra\n\
                    COMPLETED,2020-06-09 18:41:01,2020-06-09 18:41:31,2020-06-09 18:51:31,7,vcA,2,16,x\n";
        let imp = import_from(text.as_bytes(), Path::new("log.csv"), &node(8)).unwrap();
        let j = &imp.workload.jobs[0];
        assert_eq!(
            (j.workers, j.gpu, j.duration),
            (2, GpuDemand::Whole(8), 600_000)
        );
        assert_eq!(j.status.as_deref(), Some("COMPLETED"));
        assert_eq!(imp.workload.tenants, ["vcA"]);
        let header: Vec<String> = text
            .lines()
            .next()
            .unwrap()
            .split(',')
            .map(String::from)
            .collect();
        assert!(sniff(&header));
        let philly: Vec<String> = ["timestamp", "duration", "num_gpus", "gpu_time", "cluster"]
            .map(String::from)
            .to_vec();
        assert!(!sniff(&philly));
    }
}
