//! Reader for the Microsoft ITP cluster traces published with the ElasticFlow
//! artifact (microsoft/elasticflow-traces, ASPLOS'23; MIT licence).
//!
//! Format: one CSV file per cluster (`cluster01.csv` … `cluster10.csv`) whose
//! header is exactly `job_id,submission_time,duration,num_gpu`, one job per row:
//!
//! | column            | meaning                                                        |
//! |-------------------|----------------------------------------------------------------|
//! | `job_id`          | the job's UUID; becomes the job's name                         |
//! | `submission_time` | submission, seconds since the start of the whole ITP trace    |
//! | `duration`        | run time in seconds                                            |
//! | `num_gpu`         | GPUs of the whole (gang) job, 1–64 in the published files      |
//!
//! The published values are all integers and every file is sorted by
//! `submission_time`, but neither is assumed: seconds may be fractional
//! (`12.5`, rounded to the millisecond) and rows are ordered by the importer.
//! `num_gpu` must be a whole number ≥ 1 (`4` or `4.0`). The published files end
//! without a trailing newline; the last row is read like every other.
//!
//! Mapping to jobs:
//!
//! - **Submission**: offsets from the earliest `submission_time` of the file,
//!   so the first job arrives at 0 (the published times count from the start of
//!   the whole trace: `cluster10` begins 26 days in). The report notes the
//!   shift.
//! - **Tenant**: the trace has no user, team or virtual-cluster column, so every
//!   job belongs to one tenant named after the file stem (`cluster07`); the
//!   report notes it.
//! - **Workers and GPUs**: jobs are gangs; a job larger than one node becomes
//!   identical node-sized workers by [`split_gpus`] (64 GPUs on 8-GPU nodes →
//!   8 × 8; a size that does not split evenly is rounded up and counted in a
//!   note), and with [`WorkerShape::Gpu`](super::WorkerShape::Gpu) every GPU is
//!   its own worker.
//! - **CPU and memory**: not in the trace; `cpu_milli_per_gpu` and
//!   `memory_mib_per_gpu` of the [`ImportOptions`] times the worker's GPUs.
//! - No priority (0), no GPU-model constraint, no final status.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::philly::split_gpus;
use super::{CsvTrace, ImportOptions, Imported, Row, TraceError};
use crate::time::{MS_PER_SEC, SimTime, secs_to_millis};
use crate::workload::{GpuDemand, JobDraft, Workload};

/// The header the reader requires, field by field.
pub const HEADER: [&str; 4] = ["job_id", "submission_time", "duration", "num_gpu"];

mod col {
    pub const JOB_ID: usize = 0;
    pub const SUBMIT: usize = 1;
    pub const DURATION: usize = 2;
    pub const GPUS: usize = 3;
}

/// Reads one ITP cluster file into a workload.
pub fn import(path: &Path, opts: &ImportOptions) -> Result<Imported, TraceError> {
    let file = File::open(path).map_err(|source| TraceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    import_from(BufReader::with_capacity(1 << 16, file), path, opts)
}

/// Reads ITP rows from `reader`; `path` names the source in errors and its
/// file stem becomes the tenant.
pub fn import_from<R: Read>(
    reader: R,
    path: &Path,
    opts: &ImportOptions,
) -> Result<Imported, TraceError> {
    if opts.node_gpus == 0 {
        // Every ITP job asks for GPUs; without GPU nodes none could ever run.
        return Err(TraceError::Empty {
            path: path.to_path_buf(),
            message: "cannot import GPU jobs: the cluster has no GPU nodes (node_gpus is 0)".into(),
        });
    }
    let tenant = tenant_of(path);
    let mut t = CsvTrace::new(reader, path, opts.lenient, 0);
    t.expect_header(&HEADER)?;

    let mut drafts: Vec<JobDraft> = Vec::new();
    let mut gangs = 0u64;
    let mut rounding = super::philly::Rounding::default();
    while let Some(row) = t.next_row()? {
        match parse_row(&row) {
            Ok(r) => {
                t.kept();
                let (workers, per_worker, _) = split_gpus(r.gpus, opts);
                if workers > 1 {
                    gangs += 1;
                }
                rounding.record(r.gpus, workers, per_worker);
                drafts.push(JobDraft {
                    name: r.name,
                    // Absolute trace time for now; made relative below.
                    submit: SimTime(r.submit_ms),
                    tenant: tenant.clone(),
                    priority: 0,
                    workers,
                    gpu: GpuDemand::Whole(per_worker),
                    cpu_milli: opts.cpu_milli_per_gpu.saturating_mul(per_worker),
                    memory_mib: opts
                        .memory_mib_per_gpu
                        .saturating_mul(u64::from(per_worker)),
                    gpu_models: Vec::new(),
                    duration: r.duration_ms,
                    status: None,
                });
            }
            Err(e) => t.reject(e)?,
        }
    }

    let Some(origin) = drafts.iter().map(|d| d.submit.0).min() else {
        return Err(no_jobs(&t));
    };
    for d in &mut drafts {
        d.submit = SimTime(d.submit.0 - origin);
    }
    t.note(format!(
        "ITP has no tenant column: all {} jobs belong to tenant `{tenant}` (the file name)",
        drafts.len()
    ));
    t.note(format!(
        "submission times shifted by -{} s so that the earliest job arrives at 0",
        crate::time::FmtSecs(origin)
    ));
    if gangs > 0 {
        t.note(format!(
            "{gangs} jobs larger than one {}-GPU node became multi-worker gangs",
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

/// True when `header` is the ITP header.
pub fn sniff(header: &[String]) -> bool {
    header.iter().map(String::as_str).eq(HEADER)
}

/// The tenant of every job of a file: its stem (`cluster01`), or `itp`.
fn tenant_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "itp".to_string())
}

/// The error for a file that yielded no job at all.
fn no_jobs<R: Read>(t: &CsvTrace<R>) -> TraceError {
    let report = t.report();
    let message = if report.rows == 0 {
        "the file has a header but no job rows".to_string()
    } else {
        format!(
            "none of the {} job rows could be imported:\n{}",
            report.rows,
            report.skipped_lines().join("\n")
        )
    };
    TraceError::Empty {
        path: t.path().to_path_buf(),
        message,
    }
}

/// One validated row; `submit_ms` is still trace time.
struct ItpRow {
    name: String,
    submit_ms: u64,
    duration_ms: u64,
    gpus: u32,
}

fn parse_row(row: &Row<'_>) -> Result<ItpRow, TraceError> {
    let name = row.text(col::JOB_ID)?;
    if name.is_empty() {
        return Err(row.bad(col::JOB_ID, "a non-empty job id"));
    }
    let submit_ms = parse_secs(row.text(col::SUBMIT)?).ok_or_else(|| {
        row.bad(
            col::SUBMIT,
            "a non-negative number of seconds such as `5010`",
        )
    })?;
    let duration_ms = parse_secs(row.text(col::DURATION)?).ok_or_else(|| {
        row.bad(
            col::DURATION,
            "a non-negative number of seconds such as `2429`",
        )
    })?;
    let gpus = parse_count(row.text(col::GPUS)?)
        .filter(|&g| g >= 1)
        .ok_or_else(|| row.bad(col::GPUS, "a whole number of GPUs ≥ 1 such as `8`"))?;
    Ok(ItpRow {
        name: name.to_string(),
        submit_ms,
        duration_ms,
        gpus,
    })
}

/// Seconds as written in the trace (integer, or a float such as `12.5`) in
/// milliseconds; `None` for negative, non-finite or unparsable values.
fn parse_secs(text: &str) -> Option<u64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .ok()
            .and_then(|s| s.checked_mul(MS_PER_SEC))
            .filter(|&ms| ms <= u64::MAX / 2);
    }
    text.parse::<f64>().ok().and_then(secs_to_millis)
}

/// A whole number (`4` or an integral float such as `4.0`) that fits a `u32`.
fn parse_count(text: &str) -> Option<u32> {
    if let Ok(n) = text.parse::<u32>() {
        return Some(n);
    }
    let v = text.parse::<f64>().ok()?;
    (v.is_finite() && v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v))
        .then_some(v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::WorkerShape;

    fn read(text: &str, opts: &ImportOptions) -> Result<Imported, TraceError> {
        import_from(text.as_bytes(), Path::new("dir/cluster42.csv"), opts)
    }

    #[test]
    fn reads_rows_without_trailing_newline() {
        let imp = read(
            "job_id,submission_time,duration,num_gpu\n\
             b,110,20,1\n\
             a,100,30.5,64",
            &ImportOptions::default(),
        )
        .unwrap();
        let w = &imp.workload;
        assert_eq!(w.jobs.len(), 2);
        assert_eq!(w.tenants, ["cluster42"]);
        assert_eq!(w.jobs[0].name, "a");
        assert_eq!(w.jobs[0].submit, SimTime(0));
        assert_eq!(w.jobs[0].duration, 30_500);
        assert_eq!((w.jobs[0].workers, w.jobs[0].gpu), (8, GpuDemand::Whole(8)));
        assert_eq!(w.jobs[1].name, "b");
        assert_eq!(w.jobs[1].submit, SimTime(10_000));
        assert_eq!(imp.report.rows, 2);
        assert_eq!(imp.report.kept_rows, 2);
        assert!(imp.report.notes.iter().any(|n| n.contains("-100.000 s")));
    }

    #[test]
    fn gpu_shape_and_cpu_defaults() {
        let opts = ImportOptions {
            worker_shape: WorkerShape::Gpu,
            cpu_milli_per_gpu: 4_000,
            memory_mib_per_gpu: 1_024,
            ..ImportOptions::default()
        };
        let imp = read("job_id,submission_time,duration,num_gpu\nx,0,1,12\n", &opts).unwrap();
        let j = &imp.workload.jobs[0];
        assert_eq!((j.workers, j.gpu), (12, GpuDemand::Whole(1)));
        assert_eq!((j.cpu_milli, j.memory_mib), (4_000, 1_024));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_secs("2429"), Some(2_429_000));
        assert_eq!(parse_secs("1.25"), Some(1_250));
        assert_eq!(parse_secs("-1"), None);
        assert_eq!(parse_secs(""), None);
        assert_eq!(parse_secs("99999999999999999999"), None);
        assert_eq!(parse_count("8"), Some(8));
        assert_eq!(parse_count("8.0"), Some(8));
        assert_eq!(parse_count("8.5"), None);
        assert_eq!(parse_count("-8"), None);
        assert_eq!(parse_count("NaN"), None);
    }

    #[test]
    fn header_only_and_zero_node_gpus_are_errors() {
        let err = read(
            "job_id,submission_time,duration,num_gpu\n",
            &ImportOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("no job rows"), "{err}");
        let opts = ImportOptions {
            node_gpus: 0,
            ..ImportOptions::default()
        };
        let err = read("job_id,submission_time,duration,num_gpu\nx,0,1,1", &opts).unwrap_err();
        assert!(err.to_string().contains("no GPU nodes"), "{err}");
    }
}
