//! Reader for Alibaba's disaggregated DLRM inference trace
//! (`alibaba/clusterdata`, `cluster-trace-gpu-v2025`, NSDI'25 "GPU-Disaggregated
//! Serving for Deep Learning Recommendation Models at Scale"):
//! `disaggregated_DLRM_trace.csv`, one long-running inference instance per
//! row, header exactly
//!
//! `instance_sn,role,app_name,cpu_request,cpu_limit,gpu_request,gpu_limit,rdma_request,rdma_limit,memory_request,memory_limit,disk_request,disk_limit,max_instance_per_node,creation_time,scheduled_time,deletion_time`
//!
//! The instances are a **static service load**: pods that hold their
//! resources from `start` to `end` whatever the request rate, for the engine to
//! place beside other work. Mapping and units:
//!
//! | column | becomes |
//! |---|---|
//! | `instance_sn` | `name` (non-empty) |
//! | `role` | `HN` (instance on a GPU node) or `CN` (CPU node) |
//! | `app_name` | `app`: the service the instance belongs to |
//! | `cpu_request` | vCPUs → `cpu_milli` (× 1000, rounded) |
//! | `gpu_request` | GPUs: a whole number, or a share below 1 → milli-GPUs |
//! | `rdma_request` | `rdma_pct`: percent of one RDMA NIC, 0..=100 |
//! | `memory_request` | GiB → `memory_mib` (× 1024, rounded) |
//! | `max_instance_per_node` | `max_per_node`: most instances of the same app on one node; `-1` = no limit |
//! | `creation_time` | `created`, seconds since the trace start → ms; empty or `NaN` = before the trace start |
//! | `scheduled_time` | `start`; empty or `NaN` (scheduled before the trace start) → 0 |
//! | `deletion_time` | `end`; empty or `NaN` (deleted after the trace end) → `None` |
//!
//! Limits (`*_limit`, equal to the requests in the published file) and disk
//! are not used: scheduling takes requests, and the cluster ledger has no disk.
//! Times keep the trace's origin (0 = trace start), they are not rebased. A row
//! is invalid when `scheduled_time < creation_time`, when only
//! `creation_time` is known (created in the trace but scheduled before it) or
//! when `deletion_time < scheduled_time`. Instances keep file order.
//! [`DlrmImport::trace_end`] is the latest time of any kept row (the published
//! file: 2,677,541 s, about 31 days).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use serde::Serialize;

use crate::time::{SimTime, secs_to_millis};
use crate::trace::{CsvTrace, ImportReport, Row, TraceError};
use crate::workload::GpuDemand;

/// The header the reader requires, field by field.
pub const HEADER: [&str; 17] = [
    "instance_sn",
    "role",
    "app_name",
    "cpu_request",
    "cpu_limit",
    "gpu_request",
    "gpu_limit",
    "rdma_request",
    "rdma_limit",
    "memory_request",
    "memory_limit",
    "disk_request",
    "disk_limit",
    "max_instance_per_node",
    "creation_time",
    "scheduled_time",
    "deletion_time",
];

mod col {
    pub const NAME: usize = 0;
    pub const ROLE: usize = 1;
    pub const APP: usize = 2;
    pub const CPU: usize = 3;
    pub const GPU: usize = 5;
    pub const RDMA: usize = 7;
    pub const MEMORY: usize = 9;
    pub const MAX_PER_NODE: usize = 13;
    pub const CREATED: usize = 14;
    pub const SCHEDULED: usize = 15;
    pub const DELETED: usize = 16;
}

/// Where an instance runs in the disaggregated design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum DlrmRole {
    /// `HN`: on a heterogeneous GPU node.
    Hn,
    /// `CN`: on a CPU node.
    Cn,
}

impl DlrmRole {
    /// The trace's spelling.
    pub fn name(self) -> &'static str {
        match self {
            DlrmRole::Hn => "HN",
            DlrmRole::Cn => "CN",
        }
    }
}

/// One long-running inference instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DlrmInstance {
    /// `instance_sn`.
    pub name: String,
    /// `app_name`: the service.
    pub app: String,
    /// HN or CN.
    pub role: DlrmRole,
    /// GPU request.
    pub gpu: GpuDemand,
    /// CPU request, millicores.
    pub cpu_milli: u32,
    /// Memory request, MiB.
    pub memory_mib: u64,
    /// RDMA NIC bandwidth share, percent.
    pub rdma_pct: u32,
    /// Most instances of the same app per node; `None` = no limit.
    pub max_per_node: Option<u32>,
    /// Creation; `None` = before the trace start.
    pub created: Option<SimTime>,
    /// When it starts holding resources (scheduled time; 0 if before the trace).
    pub start: SimTime,
    /// Deletion; `None` = still running at the trace end.
    pub end: Option<SimTime>,
}

/// The instances of a trace with the import report.
#[derive(Debug, Clone, PartialEq)]
pub struct DlrmImport {
    /// In file order.
    pub instances: Vec<DlrmInstance>,
    /// Rows read, kept, skipped; notes on assumptions.
    pub report: ImportReport,
    /// Latest creation, scheduling or deletion time of a kept row.
    pub trace_end: SimTime,
}

/// Reads the trace at `path`.
pub fn import(path: &Path, lenient: bool) -> Result<DlrmImport, TraceError> {
    let file = File::open(path).map_err(|source| TraceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    import_from(BufReader::with_capacity(1 << 16, file), path, lenient)
}

/// Reads trace rows from `reader`; `path` names the source in errors.
pub fn import_from<R: Read>(
    reader: R,
    path: &Path,
    lenient: bool,
) -> Result<DlrmImport, TraceError> {
    let mut t = CsvTrace::new(reader, path, lenient, 0);
    t.expect_header(&HEADER)?;
    let mut instances = Vec::new();
    while let Some(row) = t.next_row()? {
        match parse_row(&row) {
            Ok(i) => {
                instances.push(i);
                t.kept();
            }
            Err(e) => t.reject(e)?,
        }
    }
    if instances.is_empty() {
        let report = t.report();
        let message = if report.rows == 0 {
            "the file has a header but no instance rows".to_string()
        } else {
            format!(
                "none of the {} instance rows could be imported:\n{}",
                report.rows,
                report.skipped_lines().join("\n")
            )
        };
        return Err(TraceError::Empty {
            path: path.to_path_buf(),
            message,
        });
    }
    let trace_end = instances
        .iter()
        .flat_map(|i| [i.created, Some(i.start), i.end])
        .flatten()
        .max()
        .unwrap_or(SimTime::ZERO);
    let hn = instances.iter().filter(|i| i.role == DlrmRole::Hn).count();
    let before = instances.iter().filter(|i| i.created.is_none()).count();
    let alive = instances.iter().filter(|i| i.end.is_none()).count();
    t.note(format!(
        "{} instances: {hn} HN (GPU node), {} CN (CPU node)",
        instances.len(),
        instances.len() - hn
    ));
    t.note(format!(
        "{before} instances existed before the trace start and start at 0; {alive} are still running at the trace end ({} s)",
        trace_end
    ));
    t.note("requests are used; limits and disk are ignored");
    Ok(DlrmImport {
        instances,
        report: t.finish(),
        trace_end,
    })
}

/// A time column: `None` for empty or `NaN`.
fn time(row: &Row<'_>, i: usize) -> Result<Option<SimTime>, TraceError> {
    let text = row.text(i)?;
    if text.is_empty() || text.eq_ignore_ascii_case("nan") {
        return Ok(None);
    }
    text.parse::<f64>()
        .ok()
        .and_then(secs_to_millis)
        .map(|ms| Some(SimTime(ms)))
        .ok_or_else(|| {
            row.bad(
                i,
                "seconds since the trace start ≥ 0 (such as `1435629.0`), or empty / NaN",
            )
        })
}

/// A finite number ≥ 0.
fn number(row: &Row<'_>, i: usize, expected: &str) -> Result<f64, TraceError> {
    row.text(i)?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| row.bad(i, expected))
}

fn parse_row(row: &Row<'_>) -> Result<DlrmInstance, TraceError> {
    let name = row.text(col::NAME)?;
    if name.is_empty() {
        return Err(row.bad(col::NAME, "a non-empty instance name"));
    }
    let role = match row.text(col::ROLE)? {
        "HN" => DlrmRole::Hn,
        "CN" => DlrmRole::Cn,
        _ => return Err(row.bad(col::ROLE, "`HN` or `CN`")),
    };
    let app = row.text(col::APP)?;
    let cpu = number(row, col::CPU, "a number of vCPUs ≥ 0 such as `12`")?;
    let cpu_milli = (cpu * 1000.0).round();
    if cpu_milli > f64::from(u32::MAX) {
        return Err(row.bad(col::CPU, "a number of vCPUs below 4,294,967"));
    }
    let gpus = number(row, col::GPU, "a number of GPUs ≥ 0 such as `1`")?;
    let gpu = if gpus.fract() == 0.0 && gpus <= f64::from(u32::MAX) {
        GpuDemand::Whole(gpus as u32)
    } else if gpus < 1.0 && (1.0..=999.0).contains(&(gpus * 1000.0).round()) {
        GpuDemand::Fraction((gpus * 1000.0).round() as u32)
    } else {
        return Err(row.bad(
            col::GPU,
            "a whole number of GPUs or a share of one GPU between 0.001 and 0.999",
        ));
    };
    let rdma = number(row, col::RDMA, "a percentage 0..=100")?;
    if rdma > 100.0 || rdma.fract() != 0.0 {
        return Err(row.bad(col::RDMA, "a whole percentage 0..=100"));
    }
    let mem_gib = number(row, col::MEMORY, "GiB ≥ 0 such as `120.0`")?;
    let memory_mib = (mem_gib * 1024.0).round();
    if memory_mib > 1e15 {
        return Err(row.bad(col::MEMORY, "GiB below 1e12"));
    }
    let max_per_node = match row.text(col::MAX_PER_NODE)?.parse::<i64>() {
        Ok(-1) => None,
        Ok(n) if n >= 1 && n <= i64::from(u32::MAX) => Some(n as u32),
        _ => {
            return Err(row.bad(col::MAX_PER_NODE, "a whole number ≥ 1, or -1 for no limit"));
        }
    };
    let created = time(row, col::CREATED)?;
    let scheduled = time(row, col::SCHEDULED)?;
    let deleted = time(row, col::DELETED)?;
    let start = match (created, scheduled) {
        (Some(c), Some(s)) if s < c => {
            return Err(row.bad(
                col::SCHEDULED,
                &format!("a time at or after creation_time ({c} s)"),
            ));
        }
        (Some(c), None) => {
            return Err(row.bad(
                col::SCHEDULED,
                &format!("a scheduled time, as creation_time is {c} s"),
            ));
        }
        (_, Some(s)) => s,
        (None, None) => SimTime::ZERO,
    };
    if let Some(d) = deleted
        && d < start
    {
        return Err(row.bad(
            col::DELETED,
            &format!("a time at or after scheduled_time ({start} s)"),
        ));
    }
    Ok(DlrmInstance {
        name: name.to_string(),
        app: app.to_string(),
        role,
        gpu,
        cpu_milli: cpu_milli as u32,
        memory_mib: memory_mib as u64,
        rdma_pct: rdma as u32,
        max_per_node,
        created,
        start,
        end: deleted,
    })
}

/// Priority of DLRM inference instances imported as jobs: above training
/// jobs (which default to 0), so priority-aware policies favour the
/// long-running service load.
pub const DLRM_JOB_PRIORITY: i32 = 1000;

/// The instances as one-worker jobs: a static service load that can run
/// beside a training workload (`[[workload.extra]]` with `format = "dlrm"`).
/// Each job is submitted at the instance's start and runs until its end; an
/// instance still alive at the end of the trace runs to the trace end (the
/// report notes how many). Tenant = the instance's app, status = its role
/// (`HN`/`CN`), priority [`DLRM_JOB_PRIORITY`].
pub fn to_imported(import: DlrmImport) -> crate::trace::Imported {
    let DlrmImport {
        instances,
        mut report,
        trace_end,
    } = import;
    let mut censored = 0;
    let drafts = instances
        .into_iter()
        .map(|i| {
            let end = i.end.unwrap_or_else(|| {
                censored += 1;
                trace_end
            });
            crate::workload::JobDraft {
                name: i.name,
                submit: i.start,
                tenant: i.app,
                priority: DLRM_JOB_PRIORITY,
                workers: 1,
                gpu: i.gpu,
                cpu_milli: i.cpu_milli,
                memory_mib: i.memory_mib,
                gpu_models: Vec::new(),
                duration: end.since(i.start),
                status: Some(i.role.name().to_string()),
            }
        })
        .collect();
    if censored > 0 {
        report.notes.push(format!(
            "{censored} instances were still running at the end of the trace ({} s): they run until then",
            trace_end.as_millis() / 1000
        ));
    }
    crate::trace::Imported {
        workload: crate::workload::Workload::from_drafts(drafts),
        report,
    }
}

/// True when `header` is the DLRM trace's header.
pub fn sniff(header: &[String]) -> bool {
    header.iter().map(String::as_str).eq(HEADER)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "instance_sn,role,app_name,cpu_request,cpu_limit,gpu_request,gpu_limit,rdma_request,rdma_limit,memory_request,memory_limit,disk_request,disk_limit,max_instance_per_node,creation_time,scheduled_time,deletion_time\n";

    #[test]
    fn maps_units_and_missing_times() {
        let text = format!(
            "{HEAD}instance_7185,HN,app_0,12,12,1,1,25,25,120.0,120.0,680.0,800.0,8,,,\n\
             instance_13574,CN,app_130,64,64,0,0,1,1,320.0,320.0,255.0,300.0,-1,1435629.0,1435629.0,1435760.0\n\
             x,CN,app_1,0.5,0.5,0,0,1,1,1.5,1.5,1,1,2,NaN,NaN,75.0\n"
        );
        let imp = import_from(text.as_bytes(), Path::new("t.csv"), false).unwrap();
        let a = &imp.instances[0];
        assert_eq!(
            (a.role, a.gpu, a.cpu_milli, a.memory_mib),
            (DlrmRole::Hn, GpuDemand::Whole(1), 12_000, 122_880)
        );
        assert_eq!(
            (a.created, a.start, a.end, a.max_per_node, a.rdma_pct),
            (None, SimTime(0), None, Some(8), 25)
        );
        let b = &imp.instances[1];
        assert_eq!(b.start, SimTime(1_435_629_000));
        assert_eq!(b.end, Some(SimTime(1_435_760_000)));
        assert_eq!(b.max_per_node, None);
        let c = &imp.instances[2];
        assert_eq!(
            (c.cpu_milli, c.memory_mib, c.end),
            (500, 1_536, Some(SimTime(75_000)))
        );
        assert_eq!(imp.trace_end, SimTime(1_435_760_000));
    }

    #[test]
    fn inconsistent_times_are_row_errors() {
        let text = format!("{HEAD}a,CN,app,1,1,0,0,1,1,1,1,1,1,-1,10,5,20\n");
        let err = import_from(text.as_bytes(), Path::new("t.csv"), false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2, column 16, field `scheduled_time`"),
            "{err}"
        );
        let text = format!(
            "{HEAD}a,CN,app,1,1,0,0,1,1,1,1,1,1,-1,,30,20\nb,XN,app,1,1,0,0,1,1,1,1,1,1,-1,,,\nc,CN,app,1,1,0,0,1,1,1,1,1,1,-1,,,\n"
        );
        let imp = import_from(text.as_bytes(), Path::new("t.csv"), true).unwrap();
        assert_eq!(imp.instances.len(), 1);
        assert_eq!(imp.report.skipped_rows(), 2);
    }
}
