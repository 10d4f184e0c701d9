//! Exporters: each turns a run's records into bytes (so output can be
//! snapshot-tested), and [`write_atomic`] puts bytes on disk through a
//! temporary file and a rename, so a crash never leaves half a report.
//! Times are written as seconds with exactly three decimals, formatted from
//! integer milliseconds: the text is exact and byte-stable.

pub mod html;
pub mod inspect;
pub mod plot;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::metrics::{RunResult, Summary};
use crate::time::{FmtSecs, SimTime};
use crate::workload::Workload;

/// Header of `jobs.csv`; see the README for units.
pub const JOBS_HEADER: &str = "id,name,tenant,submit_s,start_s,end_s,wait_s,jct_s,slowdown,duration_s,workers,gpus,nodes_used,preemptions,failures,restarts,lost_gpu_s,resizes,mean_workers,wait_capacity_s,wait_fragmentation_s,wait_gang_s,wait_gpu_model_s,wait_quota_s,wait_order_s,wait_preempted_s,wait_provisioning_s,status";

/// Header of `timeline.csv`; see the README for units.
pub const TIMELINE_HEADER: &str = "time_s,gpus_allocated,gpu_alloc_pct,pending_jobs,running_jobs,busy_nodes,nodes_ready,nodes_provisioning";

/// `jobs.csv`: one row per workload job, in id order.
pub fn jobs_csv(workload: &Workload, run: &RunResult) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 * (run.outcomes.len() + 1));
    out.extend_from_slice(JOBS_HEADER.as_bytes());
    out.push(b'\n');
    // Written by hand rather than through `csv::Writer`: a run of 100k jobs
    // spent more time formatting than simulating. Only the two free-text
    // fields can need quoting.
    let secs = |out: &mut Vec<u8>, ms: Option<u64>| {
        if let Some(ms) = ms {
            write!(out, "{}", FmtSecs(ms)).expect("writing to memory cannot fail");
        }
        out.push(b',');
    };
    for o in &run.outcomes {
        let job = workload.job(o.job);
        let wait = o.start.map(|s| s - job.submit);
        let jct = o.end.map(|e| e - job.submit);
        write!(out, "{},", o.job).expect("writing to memory cannot fail");
        push_text(&mut out, &job.name);
        push_text(&mut out, workload.tenant_name(job.tenant));
        secs(&mut out, Some(job.submit.as_millis()));
        secs(&mut out, o.start.map(SimTime::as_millis));
        secs(&mut out, o.end.map(SimTime::as_millis));
        secs(&mut out, wait);
        secs(&mut out, jct);
        // Slowdown = JCT / duration, with three decimals.
        secs(
            &mut out,
            jct.map(|c| c.max(1) * 1_000 / job.duration.max(1)),
        );
        secs(&mut out, Some(job.duration));
        // Total GPUs of the gang; fractional shares keep three decimals.
        // milli-GPU·ms / 1000 = GPU·ms, printed as GPU·s with three decimals.
        let lost_gpu_ms = o.lost_gpu_milli_ms / 1_000;
        // Mean workers over the time run, three decimals (the requested size
        // for a job that never ran).
        let mean_workers_milli = o
            .mean_workers_milli()
            .unwrap_or(u64::from(job.workers) * 1_000);
        write!(
            out,
            "{},{},{},{},{},{},{},{},{},",
            job.workers,
            FmtSecs(job.total_gpu_milli()),
            o.nodes_used,
            o.preemptions,
            o.failures,
            o.restarts,
            FmtSecs(u64::try_from(lost_gpu_ms).unwrap_or(u64::MAX)),
            o.resizes,
            FmtSecs(mean_workers_milli),
        )
        .expect("writing to memory cannot fail");
        for &w in &o.wait_by_reason {
            secs(&mut out, Some(w));
        }
        out.extend_from_slice(o.status.as_str().as_bytes());
        out.push(b'\n');
    }
    out
}

/// Appends a CSV text field and its trailing comma, quoting it (RFC 4180) only
/// when it holds a comma, a quote or a line break.
fn push_text(out: &mut Vec<u8>, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
    out.push(b',');
}

/// `timeline.csv`: one row per sample.
pub fn timeline_csv(run: &RunResult) -> Vec<u8> {
    let mut out = String::with_capacity(48 * (run.timeline.len() + 1));
    out.push_str(TIMELINE_HEADER);
    // Then one column of ready nodes per pool, named after the pool.
    for p in &run.pools {
        out.push_str(",ready_");
        out.extend(p.name.chars().map(|c| {
            if c == ',' || c == '"' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        }));
    }
    out.push('\n');
    for (i, s) in run.timeline.iter().enumerate() {
        // Percentage of the capacity ready at that instant, two decimals,
        // from integers.
        let centi_pct =
            u128::from(s.gpu_milli_used) * 10_000 / u128::from(s.gpu_milli_capacity.max(1));
        write!(
            out,
            "{},{},{}.{:02},{},{},{},{},{}",
            s.time,
            FmtSecs(s.gpu_milli_used),
            centi_pct / 100,
            centi_pct % 100,
            s.pending_jobs,
            s.running_jobs,
            s.busy_nodes,
            s.nodes_ready,
            s.nodes_provisioning
        )
        .expect("writing to a String cannot fail");
        for n in run.pool_nodes.get(i).into_iter().flatten() {
            write!(out, ",{n}").expect("writing to a String cannot fail");
        }
        out.push('\n');
    }
    out.into_bytes()
}

/// Who ran what: the identifying part of `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    pub scenario: String,
    pub seed: u64,
    pub scheduler: String,
    pub placement: String,
    pub workload: String,
    pub nodes: u64,
    pub gpus: u64,
}

#[derive(Serialize)]
struct SummaryFile<'a> {
    schema: u32,
    run: &'a RunInfo,
    #[serde(flatten)]
    summary: &'a Summary,
    /// Wall-clock seconds; the only figure that differs between identical runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    wall_time_s: Option<f64>,
}

/// `summary.json`. `wall_time_s` is omitted when `None` (golden tests).
pub fn summary_json(info: &RunInfo, summary: &Summary, wall_time_s: Option<f64>) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(&SummaryFile {
        schema: 1,
        run: info,
        summary,
        wall_time_s,
    })
    .expect("the summary always serializes");
    bytes.push(b'\n');
    bytes
}

/// The short table printed after a run.
pub fn summary_table(info: &RunInfo, summary: &Summary, wall_time_s: Option<f64>) -> String {
    let mut t = String::new();
    let j = &summary.jobs;
    let _ = writeln!(
        t,
        "{} · {} + {} · {} nodes / {} GPUs · seed {}",
        info.scenario, info.scheduler, info.placement, info.nodes, info.gpus, info.seed
    );
    let _ = writeln!(t, "workload: {}", info.workload);
    let _ = writeln!(
        t,
        "jobs: {} total, {} finished, {} unfinished, {} unschedulable, {} not arrived",
        j.total, j.finished, j.unfinished, j.unschedulable, j.not_arrived
    );
    if j.failed > 0 || summary.job_kills > 0 || summary.preemptions > 0 {
        let _ = writeln!(
            t,
            "preemptions: {} · kills by node failures: {} · failed jobs: {} · lost work: {:.1} GPU-h",
            summary.preemptions, summary.job_kills, j.failed, summary.lost_gpu_hours
        );
    }
    let _ = writeln!(
        t,
        "{:<12}{:>12}{:>12}{:>12}{:>12}{:>12}",
        "", "mean", "p50", "p95", "p99", "max"
    );
    for (name, s) in [
        ("JCT (s)", &summary.jct_s),
        ("wait (s)", &summary.wait_s),
        ("slowdown", &summary.slowdown),
    ] {
        let _ = writeln!(
            t,
            "{:<12}{:>12.1}{:>12.1}{:>12.1}{:>12.1}{:>12.1}",
            name, s.mean, s.p50, s.p95, s.p99, s.max
        );
    }
    for svc in &summary.services {
        let _ = writeln!(
            t,
            "service {}: SLO violated {:.1} min · p95 latency mean {:.0} ms (p95 {:.0}, max {:.0}) · {:.1} replica-hours · {} training jobs preempted",
            svc.name,
            svc.slo.slo_violation_minutes,
            svc.slo.mean_p95_ms,
            svc.slo.p95_of_p95_ms,
            svc.slo.max_p95_ms,
            svc.slo.replica_hours,
            svc.preemptions_caused
        );
    }
    let waited: f64 = summary
        .wait_hours_by_reason
        .entries()
        .iter()
        .map(|e| e.1)
        .sum();
    if waited > 0.0 {
        let parts: Vec<String> = summary
            .wait_hours_by_reason
            .entries()
            .iter()
            .filter(|e| e.1 > 0.0)
            .map(|(r, h)| format!("{} {:.1} ({:.0}%)", r.as_str(), h, h * 100.0 / waited))
            .collect();
        let _ = writeln!(t, "waiting, job-hours by reason: {}", parts.join(" · "));
    }
    if let Some(e) = &summary.elastic {
        let _ = writeln!(
            t,
            "elastic: {} jobs · {} resizes · mean size {:.2}× requested",
            e.jobs, e.resizes, e.mean_size_vs_requested
        );
    }
    let c = &summary.cost;
    let _ = writeln!(
        t,
        "cost {:.2} ({:.2} per finished job) · {:.1} node-hours · GPU-hours allocated {:.1} of {:.1} paid ({:.1}%)",
        c.total,
        c.per_finished_job,
        c.node_hours,
        c.gpu_hours_allocated,
        c.gpu_hours_paid,
        if c.gpu_hours_paid > 0.0 {
            c.gpu_hours_allocated * 100.0 / c.gpu_hours_paid
        } else {
            0.0
        }
    );
    let _ = write!(
        t,
        "makespan {:.1} h · mean GPU allocation {:.1}% · {} events",
        summary.makespan_s / 3600.0,
        summary.mean_gpu_allocation_pct,
        summary.events
    );
    if let Some(w) = wall_time_s {
        let _ = write!(
            t,
            " in {w:.3} s ({:.2} M events/s)",
            summary.events as f64 / w.max(1e-9) / 1e6
        );
    }
    t.push('\n');
    t
}

/// Writes `bytes` to `dir/name` through a temporary file in `dir` and a rename.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(dir.join(name)).map_err(|e| e.error)?;
    Ok(())
}
