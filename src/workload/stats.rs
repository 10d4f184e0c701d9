//! Descriptive statistics of a workload, for `schedlab trace inspect`: what is
//! in a trace before anyone simulates it. Plain data; `report::inspect` renders
//! it and `report::plot` draws it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::metrics::{Stats, round3};
use crate::time::{MS_PER_SEC, Millis};
use crate::workload::{GpuDemand, Workload};

/// Upper bounds (inclusive, in GPUs per job) of the GPUs-per-job histogram
/// bins after the CPU-only and fractional bins; the last bin is open.
pub const GPU_BINS: [u64; 8] = [1, 2, 4, 8, 16, 32, 64, 128];

/// Upper bounds (exclusive, seconds) and labels of the duration histogram;
/// the last bin is open.
pub const DURATION_BINS: [(u64, &str); 7] = [
    (60, "<1 min"),
    (600, "1-10 min"),
    (3_600, "10-60 min"),
    (6 * 3_600, "1-6 h"),
    (24 * 3_600, "6-24 h"),
    (7 * 86_400, "1-7 d"),
    (u64::MAX, ">7 d"),
];

/// One bin of the GPUs-per-job histogram.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuBin {
    /// `0` (CPU only), `<1` (fractional), `1`, `2`, `3-4`, …, `>128`.
    pub label: String,
    pub jobs: u64,
    /// GPU-hours of the jobs in the bin (fractional shares counted).
    pub gpu_hours: f64,
}

/// One tenant's share of the workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantShare {
    pub tenant: String,
    pub jobs: u64,
    /// GPU-hours requested (GPUs × duration).
    pub gpu_hours: f64,
}

/// Arrivals per bucket of time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArrivalSeries {
    /// Bucket width, in seconds (an hour, or a day for long traces).
    pub bucket_s: u64,
    /// Jobs submitted in each bucket, from the first submission on.
    pub counts: Vec<u64>,
}

/// Everything `trace inspect` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadStats {
    pub jobs: u64,
    pub tenants: u64,
    /// First and last submission, seconds since the scenario start.
    pub first_submit_s: f64,
    pub last_submit_s: f64,
    /// Mean arrival rate over the span, jobs per hour.
    pub mean_arrivals_per_hour: f64,
    pub arrivals: ArrivalSeries,
    /// GPUs per job (fractional shares included), as a distribution.
    pub gpus_per_job: Stats,
    /// Durations at full speed, seconds.
    pub duration_s: Stats,
    /// Workers per job.
    pub workers_per_job: Stats,
    pub gpu_histogram: Vec<GpuBin>,
    /// Jobs per duration range (labels such as `1-10 min`).
    pub duration_histogram: Vec<(String, u64)>,
    /// Total GPU-hours requested.
    pub gpu_hours: f64,
    /// Share of jobs asking for a fraction of one GPU, %.
    pub fractional_jobs_pct: f64,
    /// Share of jobs with no GPU, %.
    pub cpu_only_jobs_pct: f64,
    /// Share of jobs restricted to particular GPU models, %.
    pub model_constrained_jobs_pct: f64,
    /// Jobs per trace status (`(none)` when the trace has no status).
    pub statuses: BTreeMap<String, u64>,
    /// Tenants by GPU-hours, largest first (ties by name).
    pub top_tenants: Vec<TenantShare>,
}

/// How many tenants `top_tenants` lists.
pub const TOP_TENANTS: usize = 10;

impl WorkloadStats {
    /// Computes the statistics of `w`.
    pub fn compute(w: &Workload) -> WorkloadStats {
        let n = w.jobs.len() as u64;
        let first = w.jobs.first().map_or(0, |j| j.submit.as_millis());
        let last = w.jobs.last().map_or(0, |j| j.submit.as_millis());
        let span = last - first;
        // Hourly buckets unless that makes more than ~500 of them.
        let bucket_ms: Millis = if span / 3_600_000 > 500 {
            86_400_000
        } else {
            3_600_000
        };
        let mut counts = vec![0u64; (span / bucket_ms) as usize + 1];
        let mut gpu_milli: Vec<Millis> = Vec::with_capacity(w.jobs.len());
        let mut durations: Vec<Millis> = Vec::with_capacity(w.jobs.len());
        let mut workers: Vec<Millis> = Vec::with_capacity(w.jobs.len());
        let mut bins: Vec<(u64, f64)> = vec![(0, 0.0); GPU_BINS.len() + 3];
        let mut by_tenant: Vec<(u64, f64)> = vec![(0, 0.0); w.tenants.len()];
        let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
        let (mut fractional, mut cpu_only, mut constrained) = (0u64, 0u64, 0u64);
        let mut gpu_hours = 0.0;
        let mut dur_bins = vec![0u64; DURATION_BINS.len()];
        for j in &w.jobs {
            let secs = j.duration / MS_PER_SEC;
            dur_bins[DURATION_BINS
                .iter()
                .position(|&(b, _)| secs < b)
                .unwrap_or(DURATION_BINS.len() - 1)] += 1;
            counts[((j.submit.as_millis() - first) / bucket_ms) as usize] += 1;
            let milli = j.total_gpu_milli();
            let hours = milli as f64 / 1000.0 * j.duration as f64 / 3_600_000.0;
            gpu_hours += hours;
            // Milli-GPUs, so Stats (which divides by 1000) reports GPUs.
            gpu_milli.push(milli);
            durations.push(j.duration);
            workers.push(u64::from(j.workers) * MS_PER_SEC);
            let bin = match j.gpu {
                GpuDemand::Whole(0) => {
                    cpu_only += 1;
                    0
                }
                GpuDemand::Fraction(_) if j.workers == 1 => {
                    fractional += 1;
                    1
                }
                _ => {
                    if matches!(j.gpu, GpuDemand::Fraction(_)) {
                        fractional += 1;
                    }
                    let gpus = milli.div_ceil(1000);
                    2 + GPU_BINS
                        .iter()
                        .position(|&b| gpus <= b)
                        .unwrap_or(GPU_BINS.len())
                }
            };
            bins[bin].0 += 1;
            bins[bin].1 += hours;
            if !j.gpu_models.is_empty() {
                constrained += 1;
            }
            let t = &mut by_tenant[j.tenant.index()];
            t.0 += 1;
            t.1 += hours;
            *statuses
                .entry(j.status.clone().unwrap_or_else(|| "(none)".into()))
                .or_default() += 1;
        }
        let mut labels = vec!["0".to_string(), "<1".to_string()];
        let mut lo = 1;
        for &b in &GPU_BINS {
            labels.push(if lo == b {
                b.to_string()
            } else {
                format!("{lo}-{b}")
            });
            lo = b + 1;
        }
        labels.push(format!(">{}", GPU_BINS[GPU_BINS.len() - 1]));
        let gpu_histogram = labels
            .into_iter()
            .zip(bins)
            .map(|(label, (jobs, h))| GpuBin {
                label,
                jobs,
                gpu_hours: round3(h),
            })
            .collect();
        let mut top: Vec<TenantShare> = w
            .tenants
            .iter()
            .zip(by_tenant)
            .map(|(t, (jobs, h))| TenantShare {
                tenant: t.clone(),
                jobs,
                gpu_hours: round3(h),
            })
            .collect();
        top.sort_by(|a, b| {
            b.gpu_hours
                .total_cmp(&a.gpu_hours)
                .then_with(|| a.tenant.cmp(&b.tenant))
        });
        top.truncate(TOP_TENANTS);
        let pct = |k: u64| {
            if n == 0 {
                0.0
            } else {
                round3(k as f64 * 100.0 / n as f64)
            }
        };
        WorkloadStats {
            jobs: n,
            tenants: w.tenants.len() as u64,
            first_submit_s: first as f64 / 1000.0,
            last_submit_s: last as f64 / 1000.0,
            mean_arrivals_per_hour: if span == 0 {
                0.0
            } else {
                round3(n as f64 * 3_600_000.0 / span as f64)
            },
            arrivals: ArrivalSeries {
                bucket_s: bucket_ms / MS_PER_SEC,
                counts,
            },
            gpus_per_job: Stats::from_millis(&mut gpu_milli),
            duration_s: Stats::from_millis(&mut durations),
            workers_per_job: Stats::from_millis(&mut workers),
            gpu_histogram,
            duration_histogram: DURATION_BINS
                .iter()
                .zip(dur_bins)
                .map(|(&(_, l), n)| (l.to_string(), n))
                .collect(),
            gpu_hours: round3(gpu_hours),
            fractional_jobs_pct: pct(fractional),
            cpu_only_jobs_pct: pct(cpu_only),
            model_constrained_jobs_pct: pct(constrained),
            statuses,
            top_tenants: top,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::JobDraft;

    #[test]
    fn counts_bins_tenants_and_rates() {
        let mut drafts = vec![
            JobDraft::new("a").tenant("x").gpus(1).duration_s(3600),
            JobDraft::new("b")
                .tenant("y")
                .submit_s(1800)
                .gpu_milli(500)
                .duration_s(3600),
            JobDraft::new("c")
                .tenant("y")
                .submit_s(7200)
                .gpus(8)
                .workers(2)
                .duration_s(1800),
            JobDraft::new("d")
                .tenant("x")
                .submit_s(7200)
                .gpus(0)
                .models(&["T4"]),
        ];
        drafts[0].status = Some("Pass".into());
        let s = WorkloadStats::compute(&Workload::from_drafts(drafts));
        assert_eq!(s.jobs, 4);
        assert_eq!(s.arrivals.counts, [2, 0, 2]);
        assert_eq!(s.mean_arrivals_per_hour, 2.0);
        let bins: Vec<(&str, u64)> = s
            .gpu_histogram
            .iter()
            .map(|b| (b.label.as_str(), b.jobs))
            .collect();
        assert_eq!(
            bins,
            [
                ("0", 1),
                ("<1", 1),
                ("1", 1),
                ("2", 0),
                ("3-4", 0),
                ("5-8", 0),
                ("9-16", 1),
                ("17-32", 0),
                ("33-64", 0),
                ("65-128", 0),
                (">128", 0)
            ]
        );
        // 1 GPU-h + 0.5 GPU-h + 16 GPUs × 0.5 h.
        assert_eq!(s.gpu_hours, 9.5);
        assert_eq!(s.top_tenants[0].tenant, "y");
        assert_eq!(s.top_tenants[0].gpu_hours, 8.5);
        assert_eq!(
            (
                s.fractional_jobs_pct,
                s.cpu_only_jobs_pct,
                s.model_constrained_jobs_pct
            ),
            (25.0, 25.0, 25.0)
        );
        assert_eq!(s.statuses["Pass"], 1);
        assert_eq!(s.statuses["(none)"], 3);
        assert_eq!(s.gpus_per_job.max, 16.0);
        let durs: Vec<u64> = s.duration_histogram.iter().map(|(_, n)| *n).collect();
        assert_eq!(durs, [1, 0, 1, 2, 0, 0, 0]);
    }
}
