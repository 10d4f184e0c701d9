//! Reader for the Alibaba PAI GPU cluster trace of 2020
//! (alibaba/clusterdata `cluster-trace-gpu-v2020`, CC-BY-4.0; Weng et al.,
//! "MLaaS in the Wild: Workload Analysis and Scheduling in Large-Scale
//! Heterogeneous GPU Clusters", NSDI'22).
//!
//! # Tables
//!
//! The trace is a folder of CSV tables. As published they have **no header
//! row** (the columns are in separate `*.header` files); a first row equal to
//! the known header is also accepted and skipped. Two tables are read:
//!
//! `pai_job_table.csv`: `job_name,inst_id,user,status,start_time,end_time`
//!
//! | column       | meaning                                                          |
//! |--------------|------------------------------------------------------------------|
//! | `job_name`   | job id (unique); becomes the job's name                           |
//! | `inst_id`    | another job id (not used)                                          |
//! | `user`       | user id; becomes the tenant                                        |
//! | `status`     | `Terminated` (success), `Failed`, `Running`, `Waiting`; becomes the status |
//! | `start_time` | **submission** time, seconds (a float such as `4550879.0`)         |
//! | `end_time`   | completion time, seconds                                           |
//!
//! `pai_task_table.csv`:
//! `job_name,task_name,inst_num,status,start_time,end_time,plan_cpu,plan_mem,plan_gpu,gpu_type`
//!
//! | column       | meaning                                                          |
//! |--------------|------------------------------------------------------------------|
//! | `job_name`   | the job the task belongs to                                       |
//! | `task_name`  | role, e.g. `worker`, `ps`, `evaluator`, `tensorflow`               |
//! | `inst_num`   | instances (containers) of the task, a whole number ≥ 1 (`2.0`)     |
//! | `status`     | task status (not used)                                             |
//! | `start_time` | launch time of the task, seconds                                   |
//! | `end_time`   | completion time of the task, seconds                               |
//! | `plan_cpu`   | CPU per instance in percent of a core (`600.0` = 6 cores)          |
//! | `plan_mem`   | memory per instance in GB (GiB: `29.296875` = 30,000 MiB)          |
//! | `plan_gpu`   | GPU per instance in percent of one GPU (`50.0` = half a GPU)       |
//! | `gpu_type`   | GPU model the task ran on: `MISC` (older GPUs), `P100`, `T4`, `V100`, `V100M32`; empty for CPU tasks |
//!
//! Times are seconds since a desensitised origin; empty and `0` times mean
//! "unknown" (as the publisher's own analysis scripts treat them). Empty
//! `plan_cpu`, `plan_mem` and `plan_gpu` mean none was requested.
//! `pai_instance_table.csv` and the other tables are not needed: `inst_num`
//! gives the gang size.
//!
//! # What becomes a job
//!
//! A job (`job_name`) has one or more tasks of different roles, each with
//! `inst_num` identical instances. schedlab's jobs are gangs of identical
//! workers, so a job becomes **the gang of its main task**: the task with the
//! largest total GPU demand (`plan_gpu × inst_num`; ties: the larger total CPU,
//! then the first in the file), or for a job without GPUs the task with the
//! largest total CPU. The other tasks (parameter servers, evaluators, …) are
//! not simulated; the report counts the jobs that had some, and their CPU.
//!
//! - **Workers**: `inst_num` of the main task. An instance asking for more
//!   whole GPUs than a node holds is split by [`split_gpus`] (so
//!   `inst_num × workers per instance`); with
//!   [`WorkerShape::Gpu`](super::WorkerShape::Gpu) every whole GPU is its own
//!   worker. Fractional shares stay one worker per instance.
//! - **GPUs per worker** from `plan_gpu` (percent → milli-GPUs, rounded to
//!   the milli-GPU): below 100 a share of one GPU (`50` →
//!   [`GpuDemand::Fraction(500)`](GpuDemand::Fraction)); multiples of 100
//!   whole GPUs (`100` → `Whole(1)`, `800` → `Whole(8)`); other values above
//!   100 are rounded up to whole GPUs (`150` → `Whole(2)`, counted in a note);
//!   empty or `0` → `Whole(0)` (a CPU-only worker).
//! - **CPU** `plan_cpu × 10` millicores, **memory** `plan_mem × 1024` MiB per
//!   instance (divided over the workers of a split instance, rounded up); when
//!   empty, `cpu_milli_per_gpu` / `memory_mib_per_gpu` per GPU of the worker.
//! - **GPU model**: the main task's `gpu_type` when the job uses GPUs and the
//!   type is not empty or `CPU`. The schema calls it the type *assigned* to the
//!   task, so this pins each job to the model it ran on (`MISC` included, which
//!   matches the `MISC` pools of [`read_machines`]).
//! - **Submission**: the job's `start_time` (its submission), or the main
//!   task's launch when that is unknown; offsets from the earliest imported
//!   job, so the first job arrives at 0.
//! - **Duration**: the main task's `end_time − start_time` (its run time; the
//!   gap between job submission and task launch was queueing). When the task
//!   times are unknown: the job's `end_time − start_time`, which includes that
//!   wait (counted in a note). A job with neither (e.g. still `Running` or
//!   `Waiting` at the end of the trace) is not imported (counted in a note), nor
//!   is a job without task rows.
//! - **Tenant** `user`; **status** the job's `status`; priority 0.
//!
//! A task row whose job is not in the job table is a bad row.
//!
//! # Machines
//!
//! [`read_machines`] turns `pai_machine_spec.csv`
//! (`machine,gpu_type,cap_cpu,cap_mem,cap_gpu`, no header row as published)
//! into node pools, one per machine shape.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use super::philly::split_gpus;
use super::{CsvTrace, ImportOptions, ImportReport, Imported, Row, TraceError};
use crate::cluster::PoolSpec;
use crate::time::{SimTime, secs_to_millis};
use crate::workload::{GpuDemand, JobDraft, MILLI_PER_GPU, Workload};

/// File name of the job table inside the trace folder.
pub const JOB_TABLE: &str = "pai_job_table.csv";
/// File name of the task table inside the trace folder.
pub const TASK_TABLE: &str = "pai_task_table.csv";
/// File name of the machine list.
pub const MACHINE_TABLE: &str = "pai_machine_spec.csv";

/// Columns of `pai_job_table.csv`, in order.
pub const JOB_HEADER: [&str; 6] = [
    "job_name",
    "inst_id",
    "user",
    "status",
    "start_time",
    "end_time",
];

/// Columns of `pai_task_table.csv`, in order.
pub const TASK_HEADER: [&str; 10] = [
    "job_name",
    "task_name",
    "inst_num",
    "status",
    "start_time",
    "end_time",
    "plan_cpu",
    "plan_mem",
    "plan_gpu",
    "gpu_type",
];

/// Columns of `pai_machine_spec.csv`, in order.
pub const MACHINE_HEADER: [&str; 5] = ["machine", "gpu_type", "cap_cpu", "cap_mem", "cap_gpu"];

const SECS_EXPECTED: &str = "empty or a non-negative number of seconds such as `4550879.0`";

mod job_col {
    pub const NAME: usize = 0;
    pub const USER: usize = 2;
    pub const STATUS: usize = 3;
    pub const START: usize = 4;
    pub const END: usize = 5;
}

mod task_col {
    pub const JOB: usize = 0;
    pub const INST: usize = 2;
    pub const START: usize = 4;
    pub const END: usize = 5;
    pub const CPU: usize = 6;
    pub const MEM: usize = 7;
    pub const GPU: usize = 8;
    pub const GPU_TYPE: usize = 9;
}

/// Reads a PAI 2020 trace. `path` is the folder holding `pai_job_table.csv`
/// and `pai_task_table.csv`, or one of the two files (the other is looked for
/// beside it; a file with another name is taken as the task table).
pub fn import(path: &Path, opts: &ImportOptions) -> Result<Imported, TraceError> {
    let (job_path, task_path) = table_paths(path);

    // Jobs, in file order.
    let mut jt = open_table(&job_path, &JOB_HEADER, opts.lenient)?;
    let mut jobs: Vec<JobRow> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut rejected: HashSet<String> = HashSet::new();
    while let Some(row) = jt.next_row()? {
        let name = row.text(job_col::NAME).unwrap_or_default().to_string();
        let parsed = parse_job(&row).and_then(|j| {
            if index.contains_key(&j.name) {
                Err(row.bad(job_col::NAME, "a job_name not used by an earlier row"))
            } else {
                Ok(j)
            }
        });
        match parsed {
            Ok(j) => {
                index.insert(j.name.clone(), jobs.len());
                jobs.push(j);
            }
            Err(e) => {
                jt.reject(e)?;
                rejected.insert(name);
            }
        }
    }
    let job_rows = jt.report().rows;
    if job_rows == 0 {
        return Err(TraceError::Empty {
            path: job_path,
            message: "the job table has no rows".into(),
        });
    }

    // Tasks, grouped by job.
    let mut tt = open_table(&task_path, &TASK_HEADER, opts.lenient)?;
    let mut tasks: Vec<Vec<TaskRow>> = vec![Vec::new(); jobs.len()];
    let mut orphans_of_rejected = 0u64;
    while let Some(row) = tt.next_row()? {
        let parsed = parse_task(&row).and_then(|task| {
            let job = row.text(task_col::JOB)?;
            match index.get(job) {
                Some(&i) => Ok((i, task)),
                None if rejected.contains(job) => {
                    orphans_of_rejected += 1;
                    Err(row.bad(
                        task_col::JOB,
                        "a job whose row in the job table is valid (that row was skipped)",
                    ))
                }
                None => Err(row.bad(task_col::JOB, "a job_name listed in the job table")),
            }
        });
        match parsed {
            Ok((i, task)) => tasks[i].push(task),
            Err(e) => tt.reject(e)?,
        }
    }

    let mut stats = Stats::default();
    let mut drafts: Vec<JobDraft> = Vec::new();
    let mut kept_rows = 0u64;
    for (job, tasks) in jobs.into_iter().zip(tasks) {
        let n_tasks = tasks.len() as u64;
        if let Some(d) = build_job(job, tasks, opts, &mut stats) {
            kept_rows += 1 + n_tasks;
            drafts.push(d);
        }
    }

    // One report for both tables; skip reasons are prefixed by the table.
    let mut report = ImportReport::default();
    merge_report(&mut report, jt.finish(), &job_path);
    merge_report(&mut report, tt.finish(), &task_path);
    report.kept_rows = kept_rows;

    let Some(origin) = drafts.iter().map(|d| d.submit.0).min() else {
        let mut message = format!(
            "none of the {job_rows} jobs could be imported ({} without task rows, {} without usable times)",
            stats.no_tasks, stats.no_times
        );
        for line in report.skipped_lines() {
            message += &format!("\n{line}");
        }
        return Err(TraceError::Empty {
            path: path.to_path_buf(),
            message,
        });
    };
    for d in &mut drafts {
        d.submit = SimTime(d.submit.0 - origin);
    }
    stats.notes(&mut report, origin, drafts.len(), orphans_of_rejected, opts);
    Ok(Imported {
        workload: Workload::from_drafts(drafts),
        report,
    })
}

/// True when `header` is the header of the PAI task or job table (then
/// [`import`] reads the folder holding that file). The published tables have
/// no header row, so they are recognised as a folder by [`sniff_dir`].
pub fn sniff(header: &[String]) -> bool {
    let h = header.iter().map(String::as_str);
    h.clone().eq(TASK_HEADER) || h.eq(JOB_HEADER)
}

/// True when `dir` holds both `pai_job_table.csv` and `pai_task_table.csv`.
pub fn sniff_dir(dir: &Path) -> bool {
    dir.join(JOB_TABLE).is_file() && dir.join(TASK_TABLE).is_file()
}

/// Reads `pai_machine_spec.csv` into node pools: one pool per distinct
/// machine shape (`gpu_type`, `cap_gpu`, `cap_cpu`, `cap_mem`), named
/// `<gpu_type in lower case>-<cap_gpu>gpu-<cap_cpu>cpu-<cap_mem>gb` (e.g.
/// `v100m32-8gpu-96cpu-384gb`) and sorted by that shape (GPU type, then GPUs,
/// CPUs, memory). `gpu_model` is the `gpu_type` (`CPU` for machines without
/// GPUs); CPU capacity is `cap_cpu × 1000` millicores, memory `cap_mem × 1024`
/// MiB. The file has no header row as published; a header row is skipped.
/// Strict: the first bad row is an error.
pub fn read_machines(path: &Path) -> Result<(Vec<PoolSpec>, ImportReport), TraceError> {
    let mut t = open_table(path, &MACHINE_HEADER, false)?;
    let mut shapes: BTreeMap<(String, u32, u32, u32), u32> = BTreeMap::new();
    let mut names: HashSet<String> = HashSet::new();
    while let Some(row) = t.next_row()? {
        let machine = row.text(0)?;
        if machine.is_empty() {
            return Err(row.bad(0, "a non-empty machine name"));
        }
        if !names.insert(machine.to_string()) {
            return Err(row.bad(0, "a machine name not listed before"));
        }
        let gpu_type = row.text(1)?;
        if gpu_type.is_empty() {
            return Err(row.bad(1, "a GPU type such as `T4`, or `CPU`"));
        }
        let cap_cpu = whole(row.text(2)?)
            .ok_or_else(|| row.bad(2, "a whole number of CPU cores such as `96`"))?;
        let cap_mem =
            whole(row.text(3)?).ok_or_else(|| row.bad(3, "a whole number of GB such as `512`"))?;
        let cap_gpu = whole(row.text(4)?)
            .filter(|&g| g <= 64)
            .ok_or_else(|| row.bad(4, "a whole number of GPUs from 0 to 64 such as `8`"))?;
        let cpu_ok = cap_cpu.checked_mul(1_000).is_some();
        if !cpu_ok {
            return Err(row.bad(2, "at most 4294967 CPU cores"));
        }
        *shapes
            .entry((gpu_type.to_string(), cap_gpu, cap_cpu, cap_mem))
            .or_default() += 1;
        t.kept();
    }
    if shapes.is_empty() {
        return Err(TraceError::Empty {
            path: path.to_path_buf(),
            message: "the machine list has no rows".into(),
        });
    }
    let pools: Vec<PoolSpec> = shapes
        .into_iter()
        .map(|((gpu_type, gpus, cpus, mem), nodes)| PoolSpec {
            name: format!("{}-{gpus}gpu-{cpus}cpu-{mem}gb", gpu_type.to_lowercase()),
            nodes,
            gpus_per_node: gpus,
            gpu_model: gpu_type,
            cpu_milli: cpus * 1_000,
            memory_mib: u64::from(mem) * 1_024,
            price_per_node_hour: None,
            labels: BTreeMap::new(),
            kind: Default::default(),
        })
        .collect();
    let machines: u64 = pools.iter().map(|p| u64::from(p.nodes)).sum();
    let gpus: u64 = pools
        .iter()
        .map(|p| u64::from(p.nodes) * u64::from(p.gpus_per_node))
        .sum();
    t.note(format!(
        "{machines} machines with {gpus} GPUs in {} pools, one per (gpu_type, cap_gpu, cap_cpu, cap_mem)",
        pools.len()
    ));
    Ok((pools, t.finish()))
}

/// The job and task tables for `path` (see [`import`]).
fn table_paths(path: &Path) -> (PathBuf, PathBuf) {
    if path.is_dir() {
        return (path.join(JOB_TABLE), path.join(TASK_TABLE));
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    if path.file_name().is_some_and(|n| n == JOB_TABLE) {
        (path.to_path_buf(), dir.join(TASK_TABLE))
    } else {
        (dir.join(JOB_TABLE), path.to_path_buf())
    }
}

/// Opens a PAI table whose header row may be absent (as published) or
/// present. A first line equal to `header` is read as the header. Otherwise
/// the first line is data, unless it starts like a header (its first field is
/// `header[0]`), which is a header error.
fn open_table(
    path: &Path,
    header: &[&str],
    lenient: bool,
) -> Result<CsvTrace<Box<dyn Read>>, TraceError> {
    let io = |source| TraceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let mut rest = BufReader::with_capacity(1 << 16, file);
    let mut first = Vec::new();
    (&mut rest)
        .take(1 << 16)
        .read_until(b'\n', &mut first)
        .map_err(io)?;
    if first.starts_with(b"\xEF\xBB\xBF") {
        first.drain(..3);
    }
    let line = first.strip_suffix(b"\n").unwrap_or(&first);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let expected = header.join(",");
    if line.iter().all(u8::is_ascii_whitespace) {
        let what = if first.is_empty() {
            "the file is empty"
        } else {
            "the first line is blank"
        };
        return Err(TraceError::Empty {
            path: path.to_path_buf(),
            message: format!(
                "{what}; expected rows of `{expected}` (with or without that header row)"
            ),
        });
    }
    let has_header = line == expected.as_bytes();
    let first_field = line.split(|&b| b == b',').next().unwrap_or_default();
    if !has_header && first_field == header[0].as_bytes() {
        return Err(TraceError::Header {
            path: path.to_path_buf(),
            line: 1,
            expected,
            found: String::from_utf8_lossy(line).into_owned(),
        });
    }
    let reader: Box<dyn Read> = Box::new(Cursor::new(first).chain(rest));
    let mut t = CsvTrace::new(reader, path, lenient, 0);
    if has_header {
        t.expect_header(header)?;
    } else {
        t.set_header(header);
    }
    Ok(t)
}

/// Adds a table's report to the combined one, prefixing skip reasons with the
/// table's file name.
fn merge_report(into: &mut ImportReport, from: ImportReport, path: &Path) {
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    into.rows += from.rows;
    into.kept_rows += from.kept_rows;
    for (reason, s) in from.skipped {
        match into.skipped.entry(format!("{file}: {reason}")) {
            Entry::Vacant(v) => {
                v.insert(s);
            }
            Entry::Occupied(mut o) => o.get_mut().count += s.count,
        }
    }
    into.notes.extend(from.notes);
}

/// One job-table row.
#[derive(Debug, Clone)]
struct JobRow {
    name: String,
    user: String,
    status: String,
    /// Submission, ms (trace time).
    start: Option<u64>,
    end: Option<u64>,
}

/// One task-table row, per instance.
#[derive(Debug, Clone)]
struct TaskRow {
    inst: u32,
    start: Option<u64>,
    end: Option<u64>,
    /// Millicores per instance; `None` when empty.
    cpu_milli: Option<u64>,
    /// MiB per instance; `None` when empty.
    mem_mib: Option<u64>,
    /// Milli-GPUs per instance (0 when empty).
    gpu_milli: u64,
    gpu_type: String,
}

impl TaskRow {
    /// Order of preference for the main task: GPU, then CPU demand in total.
    fn weight(&self) -> (u64, u64) {
        let n = u64::from(self.inst);
        (
            self.gpu_milli.saturating_mul(n),
            self.cpu_milli.unwrap_or(0).saturating_mul(n),
        )
    }
}

fn parse_job(row: &Row<'_>) -> Result<JobRow, TraceError> {
    let name = row.text(job_col::NAME)?;
    if name.is_empty() {
        return Err(row.bad(job_col::NAME, "a non-empty job name"));
    }
    let user = row.text(job_col::USER)?;
    if user.is_empty() {
        return Err(row.bad(job_col::USER, "a non-empty user id"));
    }
    let status = row.text(job_col::STATUS)?.to_string();
    let start = time(row, job_col::START)?;
    let end = time(row, job_col::END)?;
    check_order(row, start, end, job_col::END)?;
    Ok(JobRow {
        name: name.to_string(),
        user: user.to_string(),
        status,
        start,
        end,
    })
}

fn parse_task(row: &Row<'_>) -> Result<TaskRow, TraceError> {
    let inst = whole(row.text(task_col::INST)?)
        .filter(|&n| n >= 1)
        .ok_or_else(|| {
            row.bad(
                task_col::INST,
                "a whole number of instances ≥ 1 such as `1.0`",
            )
        })?;
    let start = time(row, task_col::START)?;
    let end = time(row, task_col::END)?;
    check_order(row, start, end, task_col::END)?;
    let cpu_milli = amount(
        row,
        task_col::CPU,
        10.0,
        "empty or a non-negative CPU percentage such as `600.0`",
    )?;
    let mem_mib = amount(
        row,
        task_col::MEM,
        1_024.0,
        "empty or a non-negative number of GB such as `29.296875`",
    )?;
    let gpu_milli = amount(
        row,
        task_col::GPU,
        10.0,
        "empty or a non-negative GPU percentage such as `50.0`",
    )?;
    // A positive request never rounds down to nothing.
    let gpu_raw = row.text(task_col::GPU)?;
    let gpu_milli = match gpu_milli {
        Some(0) if gpu_raw.parse::<f64>().is_ok_and(|v| v > 0.0) => 1,
        Some(m) => m,
        None => 0,
    };
    Ok(TaskRow {
        inst,
        start,
        end,
        cpu_milli,
        mem_mib,
        gpu_milli,
        gpu_type: row.text(task_col::GPU_TYPE)?.to_string(),
    })
}

/// An end before the start is a bad row.
fn check_order(
    row: &Row<'_>,
    start: Option<u64>,
    end: Option<u64>,
    end_col: usize,
) -> Result<(), TraceError> {
    match (start, end) {
        (Some(s), Some(e)) if e < s => Err(row.bad(end_col, "an end_time at or after start_time")),
        _ => Ok(()),
    }
}

/// Seconds in ms; empty, NaN and 0 mean unknown (`None`).
fn time(row: &Row<'_>, i: usize) -> Result<Option<u64>, TraceError> {
    let text = row.text(i)?;
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_nan() || v == 0.0 => Ok(None),
        Ok(v) => secs_to_millis(v)
            .map(Some)
            .ok_or_else(|| row.bad(i, SECS_EXPECTED)),
        Err(_) => Err(row.bad(i, SECS_EXPECTED)),
    }
}

/// `value × scale`, rounded; empty or NaN → `None`.
fn amount(row: &Row<'_>, i: usize, scale: f64, expected: &str) -> Result<Option<u64>, TraceError> {
    let text = row.text(i)?;
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_nan() => Ok(None),
        Ok(v) if v.is_finite() && v >= 0.0 && v * scale <= 1e15 => {
            Ok(Some((v * scale).round() as u64))
        }
        _ => Err(row.bad(i, expected)),
    }
}

/// A whole number (`8` or `8.0`) that fits a `u32`.
fn whole(text: &str) -> Option<u32> {
    if let Ok(n) = text.parse::<u32>() {
        return Some(n);
    }
    let v = text.parse::<f64>().ok()?;
    (v.is_finite() && v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v))
        .then_some(v as u32)
}

/// Counts for the report.
#[derive(Debug, Default)]
struct Stats {
    no_tasks: u64,
    no_times: u64,
    job_time_duration: u64,
    task_time_submit: u64,
    multi_task_jobs: u64,
    other_cpu_milli: u64,
    rounded_up_gpus: u64,
    split_instances: u64,
    cpu_only: u64,
    fractional: u64,
}

impl Stats {
    fn notes(
        &self,
        report: &mut ImportReport,
        origin_ms: u64,
        jobs: usize,
        orphans_of_rejected: u64,
        opts: &ImportOptions,
    ) {
        let mut note = |s: String| report.notes.push(s);
        note(format!(
            "{jobs} jobs, each the gang of its main task (most GPU, then CPU); submission times shifted by -{} s so that the earliest job arrives at 0",
            crate::time::FmtSecs(origin_ms)
        ));
        if self.multi_task_jobs > 0 {
            note(format!(
                "{} jobs had other tasks besides the main one (e.g. ps, evaluator); those were not simulated ({:.1} CPU cores in total)",
                self.multi_task_jobs,
                self.other_cpu_milli as f64 / 1000.0
            ));
        }
        if self.no_tasks > 0 {
            note(format!(
                "{} jobs without task rows were not imported",
                self.no_tasks
            ));
        }
        if self.no_times > 0 {
            note(format!(
                "{} jobs without a known start and end (e.g. Running or Waiting at the end of the trace) were not imported",
                self.no_times
            ));
        }
        if self.job_time_duration > 0 {
            note(format!(
                "{} jobs without task times took the job's end_time - start_time as duration (includes queueing)",
                self.job_time_duration
            ));
        }
        if self.task_time_submit > 0 {
            note(format!(
                "{} jobs without a job start_time were submitted at their main task's launch",
                self.task_time_submit
            ));
        }
        if self.fractional > 0 {
            note(format!(
                "{} jobs ask for a share of one GPU per worker",
                self.fractional
            ));
        }
        if self.cpu_only > 0 {
            note(format!(
                "{} CPU-only jobs became workers without GPUs",
                self.cpu_only
            ));
        }
        if self.rounded_up_gpus > 0 {
            note(format!(
                "{} jobs asked for more than one GPU per instance in a non-multiple of 100% and were rounded up to whole GPUs",
                self.rounded_up_gpus
            ));
        }
        if self.split_instances > 0 {
            note(format!(
                "{} jobs had instances larger than one {}-GPU node, split into several workers each",
                self.split_instances, opts.node_gpus
            ));
        }
        if orphans_of_rejected > 0 {
            note(format!(
                "{orphans_of_rejected} task rows were skipped because their job's row was skipped"
            ));
        }
    }
}

/// Builds one job from its row and tasks, or `None` (counted in `stats`).
fn build_job(
    job: JobRow,
    tasks: Vec<TaskRow>,
    opts: &ImportOptions,
    stats: &mut Stats,
) -> Option<JobDraft> {
    // The first task of the largest weight: `max_by_key` would take the last.
    let mut main: Option<&TaskRow> = None;
    for t in &tasks {
        if main.is_none_or(|m| t.weight() > m.weight()) {
            main = Some(t);
        }
    }
    let Some(main) = main else {
        stats.no_tasks += 1;
        return None;
    };

    let task_run = match (main.start, main.end) {
        (Some(s), Some(e)) => Some(e - s),
        _ => None,
    };
    let job_run = match (job.start, job.end) {
        (Some(s), Some(e)) => Some(e - s),
        _ => None,
    };
    let Some(submit) = job.start.or(main.start) else {
        stats.no_times += 1;
        return None;
    };
    let Some(duration) = task_run.or(job_run) else {
        stats.no_times += 1;
        return None;
    };
    if task_run.is_none() {
        stats.job_time_duration += 1;
    }
    if job.start.is_none() {
        stats.task_time_submit += 1;
    }
    if tasks.len() > 1 {
        stats.multi_task_jobs += 1;
        let all: u64 = tasks
            .iter()
            .map(|t| t.cpu_milli.unwrap_or(0).saturating_mul(u64::from(t.inst)))
            .sum();
        stats.other_cpu_milli += all - main.weight().1;
    }

    // GPUs per instance, then workers per instance.
    let milli = main.gpu_milli;
    let per_gpu = u64::from(MILLI_PER_GPU);
    let (gpu, per_instance_workers) = if milli == 0 {
        stats.cpu_only += 1;
        (GpuDemand::Whole(0), 1)
    } else if milli < per_gpu {
        stats.fractional += 1;
        (GpuDemand::Fraction(milli as u32), 1)
    } else {
        if !milli.is_multiple_of(per_gpu) {
            stats.rounded_up_gpus += 1;
        }
        let gpus = u32::try_from(milli.div_ceil(per_gpu)).unwrap_or(u32::MAX);
        let (w, g, _) = split_gpus(gpus, opts);
        if w > 1 && opts.worker_shape == super::WorkerShape::Node {
            stats.split_instances += 1;
        }
        (GpuDemand::Whole(g), w)
    };
    let workers = main.inst.saturating_mul(per_instance_workers);
    let share = |v: u64| v.div_ceil(u64::from(per_instance_workers));
    // Defaults scale with the worker's GPUs in milli-GPUs.
    let gpu_milli = gpu.milli();
    let cpu_milli = match main.cpu_milli {
        Some(c) => u32::try_from(share(c)).unwrap_or(u32::MAX),
        None => u32::try_from(u64::from(opts.cpu_milli_per_gpu) * gpu_milli / per_gpu)
            .unwrap_or(u32::MAX),
    };
    let memory_mib = match main.mem_mib {
        Some(m) => share(m),
        None => opts.memory_mib_per_gpu.saturating_mul(gpu_milli) / per_gpu,
    };
    let gpu_models = if milli > 0 && !main.gpu_type.is_empty() && main.gpu_type != "CPU" {
        vec![main.gpu_type.clone()]
    } else {
        Vec::new()
    };
    Some(JobDraft {
        name: job.name,
        // Trace time; made relative by the caller.
        submit: SimTime(submit),
        tenant: job.user,
        priority: 0,
        workers,
        gpu,
        cpu_milli,
        memory_mib,
        gpu_models,
        duration,
        status: (!job.status.is_empty()).then_some(job.status),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::WorkerShape;

    fn task(inst: u32, gpu_milli: u64, cpu: u64) -> TaskRow {
        TaskRow {
            inst,
            start: Some(10_000),
            end: Some(70_000),
            cpu_milli: Some(cpu),
            mem_mib: Some(1_024),
            gpu_milli,
            gpu_type: "T4".into(),
        }
    }

    fn job() -> JobRow {
        JobRow {
            name: "j".into(),
            user: "u".into(),
            status: "Terminated".into(),
            start: Some(5_000),
            end: Some(80_000),
        }
    }

    fn build(tasks: Vec<TaskRow>, opts: &ImportOptions) -> (Option<JobDraft>, Stats) {
        let mut stats = Stats::default();
        (build_job(job(), tasks, opts, &mut stats), stats)
    }

    #[test]
    fn main_task_and_demands() {
        let o = ImportOptions::default();
        // ps (no GPU, much CPU) + 4 workers of one GPU.
        let (d, s) = build(vec![task(1, 0, 6_000), task(4, 1_000, 8_000)], &o);
        let d = d.unwrap();
        assert_eq!(
            (d.workers, d.gpu, d.cpu_milli),
            (4, GpuDemand::Whole(1), 8_000)
        );
        assert_eq!((d.submit, d.duration), (SimTime(5_000), 60_000));
        assert_eq!(d.gpu_models, ["T4"]);
        assert_eq!((s.multi_task_jobs, s.other_cpu_milli), (1, 6_000));
        // Half a GPU.
        let (d, _) = build(vec![task(1, 500, 600)], &o);
        assert_eq!(d.unwrap().gpu, GpuDemand::Fraction(500));
        // 150 % rounds up to two GPUs.
        let (d, s) = build(vec![task(1, 1_500, 600)], &o);
        assert_eq!(d.unwrap().gpu, GpuDemand::Whole(2));
        assert_eq!(s.rounded_up_gpus, 1);
        // CPU-only: no model constraint.
        let (d, s) = build(vec![task(2, 0, 600)], &o);
        let d = d.unwrap();
        assert_eq!((d.workers, d.gpu), (2, GpuDemand::Whole(0)));
        assert!(d.gpu_models.is_empty());
        assert_eq!(s.cpu_only, 1);
        // Ties keep the first task.
        let mut second = task(1, 1_000, 600);
        second.gpu_type = "V100".into();
        let (d, _) = build(vec![task(1, 1_000, 600), second], &o);
        assert_eq!(d.unwrap().gpu_models, ["T4"]);
    }

    #[test]
    fn large_instances_split() {
        let o = ImportOptions::default();
        let (d, s) = build(vec![task(2, 16_000, 9_000)], &o);
        let d = d.unwrap();
        assert_eq!(
            (d.workers, d.gpu, d.cpu_milli, d.memory_mib),
            (4, GpuDemand::Whole(8), 4_500, 512)
        );
        assert_eq!(s.split_instances, 1);
        let g = ImportOptions {
            worker_shape: WorkerShape::Gpu,
            ..ImportOptions::default()
        };
        let (d, _) = build(vec![task(2, 2_000, 600)], &g);
        assert_eq!(d.unwrap().workers, 4);
    }

    #[test]
    fn times_fall_back() {
        let o = ImportOptions::default();
        let mut t = task(1, 1_000, 600);
        t.start = None;
        let mut stats = Stats::default();
        let d = build_job(job(), vec![t.clone()], &o, &mut stats).unwrap();
        assert_eq!(d.duration, 75_000);
        assert_eq!(stats.job_time_duration, 1);
        let mut j = job();
        j.end = None;
        assert!(build_job(j, vec![t], &o, &mut stats).is_none());
        assert_eq!(stats.no_times, 1);
        assert!(build_job(job(), vec![], &o, &mut stats).is_none());
        assert_eq!(stats.no_tasks, 1);
    }

    #[test]
    fn paths_and_sniffing() {
        let (j, t) = table_paths(Path::new("/nonexistent/x/pai_job_table.csv"));
        assert_eq!(j, Path::new("/nonexistent/x/pai_job_table.csv"));
        assert_eq!(t, Path::new("/nonexistent/x/pai_task_table.csv"));
        let (j, t) = table_paths(Path::new("/nonexistent/x/tasks.csv"));
        assert_eq!(j, Path::new("/nonexistent/x/pai_job_table.csv"));
        assert_eq!(t, Path::new("/nonexistent/x/tasks.csv"));
        let h: Vec<String> = TASK_HEADER.map(String::from).to_vec();
        assert!(sniff(&h));
        assert!(!sniff(&h[1..]));
    }

    #[test]
    fn headerless_tables_keep_file_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        // CRLF files are left out: csv records a row's position before it
        // consumes the LF of the previous row's CRLF, so the shared row loop
        // reports their lines one too low (for every importer).
        for text in [
            "a,T4,96,512,2\nb,T4,96,512,x\n",
            "\u{feff}a,T4,96,512,2\nb,T4,96,512,x",
            "machine,gpu_type,cap_cpu,cap_mem,cap_gpu\na,T4,96,512,2\nb,T4,96,512,2\nc,T4,96,512,x",
        ] {
            std::fs::write(&path, text).unwrap();
            let err = read_machines(&path).unwrap_err();
            let want = if text.starts_with("machine") { 4 } else { 2 };
            assert_eq!(err.line(), Some(want), "{text:?}: {err}");
            assert!(err.to_string().contains("field `cap_gpu`"), "{err}");
        }
    }

    #[test]
    fn whole_numbers() {
        assert_eq!(whole("8"), Some(8));
        assert_eq!(whole("8.0"), Some(8));
        assert_eq!(whole("8.5"), None);
        assert_eq!(whole(""), None);
        assert_eq!(whole("-1"), None);
    }
}
