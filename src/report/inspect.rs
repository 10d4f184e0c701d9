//! The text and charts of `schedlab trace inspect`.

use std::path::{Path, PathBuf};

use super::plot::{BarChart, LineChart, PlotError, Series};
use crate::trace::ImportReport;
use crate::workload::stats::WorkloadStats;

/// The inspection report as text (what the command prints).
pub fn inspect_text(source: &str, report: &ImportReport, s: &WorkloadStats) -> String {
    let mut t = String::new();
    let mut w = |line: String| {
        t.push_str(&line);
        t.push('\n');
    };
    w(source.to_string());
    w(format!(
        "rows: {} read, {} kept, {} skipped",
        report.rows,
        report.kept_rows,
        report.skipped_rows()
    ));
    for line in report.skipped_lines() {
        w(line);
    }
    for note in &report.notes {
        w(format!("note: {note}"));
    }
    w(format!(
        "jobs: {}   tenants: {}   GPU-hours requested: {:.1}",
        s.jobs, s.tenants, s.gpu_hours
    ));
    w(format!(
        "submissions: {:.0} s .. {:.0} s ({:.1} days), mean {:.2} jobs/h, peak {} jobs in one {}",
        s.first_submit_s,
        s.last_submit_s,
        (s.last_submit_s - s.first_submit_s) / 86_400.0,
        s.mean_arrivals_per_hour,
        s.arrivals.counts.iter().max().copied().unwrap_or(0),
        if s.arrivals.bucket_s == 3_600 {
            "hour"
        } else {
            "day"
        }
    ));
    w(format!(
        "jobs asking for: a fraction of a GPU {:.1}%, no GPU {:.1}%, specific GPU models {:.1}%",
        s.fractional_jobs_pct, s.cpu_only_jobs_pct, s.model_constrained_jobs_pct
    ));
    w(format!(
        "{:<16}{:>11}{:>11}{:>11}{:>11}{:>11}",
        "", "mean", "p50", "p95", "p99", "max"
    ));
    for (name, st) in [
        ("GPUs per job", &s.gpus_per_job),
        ("workers per job", &s.workers_per_job),
        ("duration (s)", &s.duration_s),
    ] {
        w(format!(
            "{:<16}{:>11.2}{:>11.2}{:>11.2}{:>11.2}{:>11.2}",
            name, st.mean, st.p50, st.p95, st.p99, st.max
        ));
    }
    w("GPUs per job      jobs   GPU-hours".into());
    for b in s.gpu_histogram.iter().filter(|b| b.jobs > 0) {
        w(format!(
            "  {:<10}{:>10}{:>12.1}",
            b.label, b.jobs, b.gpu_hours
        ));
    }
    w("duration          jobs".into());
    for (label, n) in s.duration_histogram.iter().filter(|(_, n)| *n > 0) {
        w(format!("  {label:<10}{n:>10}"));
    }
    w("status            jobs".into());
    for (status, n) in &s.statuses {
        w(format!("  {status:<14}{n:>6}"));
    }
    w(format!("top tenants by GPU-hours (of {})", s.tenants));
    for tenant in &s.top_tenants {
        w(format!(
            "  {:<18}{:>8} jobs{:>12.1} GPU-h",
            tenant.tenant, tenant.jobs, tenant.gpu_hours
        ));
    }
    t
}

/// Writes the inspection charts into `dir`: `gpus_per_job.png`,
/// `durations.png` and `arrivals.png`. Returns the paths written.
pub fn inspect_plots(
    dir: &Path,
    title: &str,
    s: &WorkloadStats,
) -> Result<Vec<PathBuf>, PlotError> {
    let gpus = BarChart {
        title: format!("{title}: GPUs per job"),
        x_label: "GPUs per job".into(),
        y_label: "jobs".into(),
        bars: s
            .gpu_histogram
            .iter()
            .map(|b| (b.label.clone(), b.jobs as f64))
            .collect(),
    };
    let durations = BarChart {
        title: format!("{title}: job durations"),
        x_label: "duration at full speed".into(),
        y_label: "jobs".into(),
        bars: s
            .duration_histogram
            .iter()
            .map(|(l, n)| (l.clone(), *n as f64))
            .collect(),
    };
    let (unit, per) = if s.arrivals.bucket_s == 3_600 {
        ("hours", 1.0)
    } else {
        ("days", 24.0)
    };
    let arrivals = LineChart {
        title: format!("{title}: arrival rate"),
        x_label: format!("time since the first submission ({unit})"),
        y_label: "jobs submitted per hour".into(),
        series: vec![Series {
            name: String::new(),
            points: s
                .arrivals
                .counts
                .iter()
                .enumerate()
                .map(|(i, &n)| (i as f64, n as f64 / per))
                .collect(),
        }],
    };
    let paths = [
        dir.join("gpus_per_job.png"),
        dir.join("durations.png"),
        dir.join("arrivals.png"),
    ];
    gpus.write(&paths[0])?;
    durations.write(&paths[1])?;
    arrivals.write(&paths[2])?;
    Ok(paths.to_vec())
}
