//! Workload filters and transformations, applied after import in a fixed
//! order: time window, status, tenants, seeded sampling, first N jobs, GPU cap,
//! GPU-model remapping, duration scaling, load factor. Every step keeps
//! submission order and the result is renumbered, so job ids stay dense and
//! tenants no job uses any more disappear from the tenant table.
//!
//! Examples (scenario `[workload.filters]`, or `schedlab trace convert` flags):
//!
//! ```toml
//! window = { start_s = 86400, end_s = 172800 }  # the second day, shifted to 0
//! statuses = ["Pass", "Succeeded"]              # only jobs that completed
//! tenants = ["6214e9", "11cb48"]               # two virtual clusters
//! sample = 0.25                                 # a seeded quarter of the jobs
//! first_n = 1000
//! max_gpus_per_job = 32                         # larger gangs shrink to 32 GPUs
//! over_max = "clamp"                            # or "drop"
//! gpu_model_map = { P100 = "V100" }             # what if the P100s were V100s
//! duration_scale = 0.5                          # jobs run twice as fast
//! load_factor = 2.0                             # twice the arrival rate
//! ```

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::time::{SimTime, secs_to_millis};
use crate::workload::{GpuDemand, JobDraft, Workload};

/// What to do with a job above `max_gpus_per_job`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverMax {
    /// Shrink the job to the cap: fewer workers, or a smaller single worker.
    #[default]
    Clamp,
    /// Drop the job.
    Drop,
}

/// Which jobs to keep and how to rescale arrivals. Field paths in validation
/// messages are relative to `workload.filters` in the scenario file.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// Keep jobs with `start_s ≤ submit < end_s` (seconds since the scenario
    /// start), then shift times so that `start_s` becomes 0.
    #[serde(default)]
    pub window: Option<TimeWindow>,
    /// Keep only jobs whose trace status is one of these (jobs without a
    /// status are dropped).
    #[serde(default)]
    pub statuses: Option<Vec<String>>,
    /// Keep only jobs of these tenants.
    #[serde(default)]
    pub tenants: Option<Vec<String>>,
    /// Keep each job with this probability (0 < p ≤ 1), drawn from the
    /// scenario seed: the same seed keeps the same jobs.
    #[serde(default)]
    pub sample: Option<f64>,
    /// Keep the first N jobs in submission order, after the filters above.
    #[serde(default)]
    pub first_n: Option<u32>,
    /// Largest number of whole GPUs one job may hold (workers × GPUs each).
    #[serde(default)]
    pub max_gpus_per_job: Option<u32>,
    /// What happens to a job above `max_gpus_per_job` (default `clamp`).
    #[serde(default)]
    pub over_max: OverMax,
    /// Renames GPU models in jobs' allowed-model lists, e.g. `{ P100 = "V100" }`.
    #[serde(default)]
    pub gpu_model_map: BTreeMap<String, String>,
    /// Multiplies every duration (> 0): 0.5 makes jobs run twice as fast.
    /// Results are rounded to the millisecond, at least 1 ms.
    #[serde(default)]
    pub duration_scale: Option<f64>,
    /// Scales the arrival rate (> 0): `submit' = round(submit / load_factor)`,
    /// so 2.0 doubles the rate and 0.5 halves it. Durations are unchanged.
    #[serde(default)]
    pub load_factor: Option<f64>,
}

/// A span of submission times, in seconds since the scenario start.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// First second kept (inclusive), ≥ 0.
    pub start_s: f64,
    /// End of the window (exclusive), after `start_s`; none means no end.
    #[serde(default)]
    pub end_s: Option<f64>,
}

/// What [`apply`] kept and dropped, in jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct FilterStats {
    /// Jobs before filtering.
    pub input_jobs: usize,
    /// Jobs after filtering.
    pub kept_jobs: usize,
    /// Jobs submitted outside the time window.
    pub dropped_by_window: usize,
    /// Jobs whose status is not listed.
    pub dropped_by_status: usize,
    /// Jobs of tenants not listed.
    pub dropped_by_tenant: usize,
    /// Jobs not drawn by the sampling.
    pub dropped_by_sample: usize,
    /// Jobs beyond the first N.
    pub dropped_by_first_n: usize,
    /// Jobs above `max_gpus_per_job` that were dropped.
    pub dropped_by_gpu_cap: usize,
    /// Jobs above `max_gpus_per_job` that were shrunk.
    pub clamped_by_gpu_cap: usize,
}

impl FilterStats {
    /// One line saying what the filters did, or `None` if they kept every job
    /// unchanged.
    pub fn describe(&self) -> Option<String> {
        let parts: Vec<String> = [
            ("window", self.dropped_by_window),
            ("status", self.dropped_by_status),
            ("tenant", self.dropped_by_tenant),
            ("sample", self.dropped_by_sample),
            ("first_n", self.dropped_by_first_n),
            ("GPU cap", self.dropped_by_gpu_cap),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(what, n)| format!("{n} by {what}"))
        .collect();
        if parts.is_empty() && self.clamped_by_gpu_cap == 0 {
            return None;
        }
        let mut line = format!(
            "filters kept {} of {} jobs",
            self.kept_jobs, self.input_jobs
        );
        if !parts.is_empty() {
            line.push_str(&format!(" (dropped {})", parts.join(", ")));
        }
        if self.clamped_by_gpu_cap > 0 {
            line.push_str(&format!(
                "; {} jobs shrunk to the GPU cap",
                self.clamped_by_gpu_cap
            ));
        }
        Some(line)
    }
}

const AT: &str = "workload.filters";

/// Mixed into the seed of the sampling stream.
const SAMPLE_STREAM: u64 = 0x5341_4d50_4c45_0001;

impl FilterSpec {
    /// Checks every field; the message names the field (under
    /// `workload.filters`), the value and what was expected.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(w) = &self.window {
            if secs_to_millis(w.start_s).is_none() {
                return Err(format!(
                    "{AT}.window.start_s: expected a non-negative number of seconds, got {}",
                    w.start_s
                ));
            }
            if let Some(end) = w
                .end_s
                .filter(|&end| secs_to_millis(end).is_none() || end <= w.start_s)
            {
                return Err(format!(
                    "{AT}.window.end_s: expected a number of seconds after start_s ({}), got {end}",
                    w.start_s
                ));
            }
        }
        if let Some(tenants) = &self.tenants {
            if tenants.is_empty() {
                return Err(format!(
                    "{AT}.tenants: expected at least one tenant name (omit the field to keep all)"
                ));
            }
            if let Some(i) = tenants.iter().position(String::is_empty) {
                return Err(format!(
                    "{AT}.tenants[{i}]: expected a non-empty tenant name"
                ));
            }
        }
        if let Some(statuses) = &self.statuses
            && statuses.is_empty()
        {
            return Err(format!(
                "{AT}.statuses: expected at least one status (omit the field to keep all)"
            ));
        }
        if let Some(p) = self.sample.filter(|p| !(*p > 0.0 && *p <= 1.0)) {
            return Err(format!(
                "{AT}.sample: expected a fraction of jobs in (0, 1], got {p}"
            ));
        }
        if self.max_gpus_per_job == Some(0) {
            return Err(format!(
                "{AT}.max_gpus_per_job: expected at least 1 GPU, got 0"
            ));
        }
        if let Some((from, _)) = self
            .gpu_model_map
            .iter()
            .find(|(k, v)| k.is_empty() || v.is_empty())
        {
            return Err(format!(
                "{AT}.gpu_model_map: expected non-empty model names, got {from:?}"
            ));
        }
        if let Some(f) = self.duration_scale.filter(|f| !f.is_finite() || *f <= 0.0) {
            return Err(format!(
                "{AT}.duration_scale: expected a positive finite factor (0.5 halves durations), got {f}"
            ));
        }
        if self.first_n == Some(0) {
            return Err(format!("{AT}.first_n: expected at least 1 job, got 0"));
        }
        if let Some(f) = self.load_factor.filter(|f| !f.is_finite() || *f <= 0.0) {
            return Err(format!(
                "{AT}.load_factor: expected a positive finite factor (2.0 doubles the arrival rate), got {f}"
            ));
        }
        Ok(())
    }
}

/// Applies the filters in order (window, tenants, first N, load factor) and
/// renumbers the jobs. Times stay in ms.
///
/// Meant for a spec that passed [`FilterSpec::validate`]; for robustness an
/// invalid `load_factor` is ignored and an invalid window bound is read as
/// "no bound" rather than panicking.
pub fn apply(w: Workload, f: &FilterSpec, seed: u64) -> (Workload, FilterStats) {
    let mut stats = FilterStats {
        input_jobs: w.jobs.len(),
        ..FilterStats::default()
    };
    if *f == FilterSpec::default() {
        // Nothing to do: keep the workload (and its ids) as it is.
        stats.kept_jobs = stats.input_jobs;
        return (w, stats);
    }
    // `to_drafts` keeps job-id order, which is submission order.
    let mut drafts: Vec<JobDraft> = w.to_drafts();
    drop(w);

    if let Some(win) = &f.window {
        let start = secs_to_millis(win.start_s).unwrap_or(0);
        let end = win.end_s.and_then(secs_to_millis).unwrap_or(u64::MAX);
        let before = drafts.len();
        drafts.retain(|d| (start..end).contains(&d.submit.as_millis()));
        stats.dropped_by_window = before - drafts.len();
        for d in &mut drafts {
            d.submit = SimTime(d.submit.as_millis() - start);
        }
    }

    if let Some(keep) = &f.statuses {
        let before = drafts.len();
        drafts.retain(|d| d.status.as_ref().is_some_and(|s| keep.contains(s)));
        stats.dropped_by_status = before - drafts.len();
    }

    if let Some(keep) = &f.tenants {
        let before = drafts.len();
        // Lists are short (a few tenants), so a linear scan is enough.
        drafts.retain(|d| keep.contains(&d.tenant));
        stats.dropped_by_tenant = before - drafts.len();
    }

    if let Some(p) = f.sample.filter(|p| *p > 0.0 && *p <= 1.0) {
        // A stream of its own, so sampling does not shift other seeded draws;
        // one draw per job in submission order.
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SAMPLE_STREAM);
        let before = drafts.len();
        drafts.retain(|_| rng.random::<f64>() < p);
        stats.dropped_by_sample = before - drafts.len();
    }

    if let Some(n) = f.first_n {
        let n = n as usize;
        if drafts.len() > n {
            stats.dropped_by_first_n = drafts.len() - n;
            drafts.truncate(n);
        }
    }

    if let Some(cap) = f.max_gpus_per_job.filter(|&c| c > 0) {
        let before = drafts.len();
        let mut clamped = 0;
        drafts.retain_mut(|d| {
            let GpuDemand::Whole(per) = d.gpu else {
                return true;
            };
            if u64::from(per) * u64::from(d.workers) <= u64::from(cap) {
                return true;
            }
            match f.over_max {
                OverMax::Drop => false,
                OverMax::Clamp => {
                    clamped += 1;
                    if per > cap {
                        d.workers = 1;
                        d.gpu = GpuDemand::Whole(cap);
                    } else {
                        d.workers = cap / per;
                    }
                    true
                }
            }
        });
        stats.dropped_by_gpu_cap = before - drafts.len();
        stats.clamped_by_gpu_cap = clamped;
    }

    if !f.gpu_model_map.is_empty() {
        for d in &mut drafts {
            for m in &mut d.gpu_models {
                if let Some(to) = f.gpu_model_map.get(m.as_str()) {
                    m.clone_from(to);
                }
            }
            // Two models mapped to one would list it twice.
            let mut seen = std::collections::BTreeSet::new();
            d.gpu_models.retain(|m| seen.insert(m.clone()));
        }
    }

    if let Some(scale) = f.duration_scale.filter(|f| f.is_finite() && *f > 0.0) {
        for d in &mut drafts {
            let scaled = (d.duration as f64 * scale).round();
            d.duration = if scaled >= u64::MAX as f64 {
                u64::MAX
            } else {
                (scaled as u64).max(1)
            };
        }
    }

    if let Some(factor) = f.load_factor.filter(|f| f.is_finite() && *f > 0.0) {
        for d in &mut drafts {
            let scaled = (d.submit.as_millis() as f64 / factor).round();
            // A tiny factor could overflow; saturate rather than wrap.
            d.submit = SimTime(if scaled >= u64::MAX as f64 {
                u64::MAX
            } else {
                scaled as u64
            });
        }
    }

    stats.kept_jobs = drafts.len();
    (Workload::from_drafts(drafts), stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Jobs at 0, 10, 20, ... 90 s; tenants alternate a, b, with c at 50 s.
    fn workload() -> Workload {
        Workload::from_drafts(
            (0..10u64)
                .map(|i| {
                    let tenant = match i {
                        5 => "c",
                        i if i % 2 == 0 => "a",
                        _ => "b",
                    };
                    JobDraft::new(format!("j{i}"))
                        .submit_s(i * 10)
                        .tenant(tenant)
                })
                .collect(),
        )
    }

    fn names(w: &Workload) -> Vec<&str> {
        w.jobs.iter().map(|j| j.name.as_str()).collect()
    }

    #[test]
    fn no_filters_is_identity() {
        let (w, stats) = apply(workload(), &FilterSpec::default(), 0);
        assert_eq!(w, workload());
        assert_eq!((stats.input_jobs, stats.kept_jobs), (10, 10));
    }

    #[test]
    fn window_keeps_half_open_span_and_shifts() {
        let f = FilterSpec {
            window: Some(TimeWindow {
                start_s: 20.0,
                end_s: Some(50.0),
            }),
            ..FilterSpec::default()
        };
        let (w, stats) = apply(workload(), &f, 0);
        assert_eq!(names(&w), ["j2", "j3", "j4"]);
        let submits: Vec<u64> = w.jobs.iter().map(|j| j.submit.as_millis()).collect();
        assert_eq!(submits, [0, 10_000, 20_000]);
        assert_eq!(stats.dropped_by_window, 7);
        assert_eq!(w.tenants, ["a", "b"]);

        let open = FilterSpec {
            window: Some(TimeWindow {
                start_s: 85.0,
                end_s: None,
            }),
            ..FilterSpec::default()
        };
        let (w, _) = apply(workload(), &open, 0);
        assert_eq!(names(&w), ["j9"]);
        assert_eq!(w.jobs[0].submit, SimTime(5_000));
    }

    #[test]
    fn tenants_filter_drops_unlisted_tenants_from_table() {
        let f = FilterSpec {
            tenants: Some(vec!["c".into(), "b".into()]),
            ..FilterSpec::default()
        };
        let (w, stats) = apply(workload(), &f, 0);
        assert_eq!(names(&w), ["j1", "j3", "j5", "j7", "j9"]);
        assert_eq!(w.tenants, ["b", "c"]);
        assert_eq!(w.jobs[2].tenant.index(), 1);
        assert_eq!(stats.dropped_by_tenant, 5);
        assert!(w.jobs.iter().enumerate().all(|(i, j)| j.id.index() == i));
    }

    #[test]
    fn first_n_after_other_filters() {
        let f = FilterSpec {
            tenants: Some(vec!["a".into()]),
            first_n: Some(2),
            ..FilterSpec::default()
        };
        let (w, stats) = apply(workload(), &f, 0);
        assert_eq!(names(&w), ["j0", "j2"]);
        assert_eq!(
            (
                stats.dropped_by_tenant,
                stats.dropped_by_first_n,
                stats.kept_jobs
            ),
            (5, 3, 2)
        );
        // N larger than the workload drops nothing.
        let f = FilterSpec {
            first_n: Some(100),
            ..FilterSpec::default()
        };
        assert_eq!(apply(workload(), &f, 0).1.dropped_by_first_n, 0);
    }

    #[test]
    fn load_factor_scales_arrivals_only() {
        let f = FilterSpec {
            load_factor: Some(2.0),
            ..FilterSpec::default()
        };
        let (w, _) = apply(workload(), &f, 0);
        assert_eq!(w.jobs[3].submit, SimTime(15_000));
        assert_eq!(w.jobs[3].duration, 1_000);
        let f = FilterSpec {
            load_factor: Some(3.0),
            ..FilterSpec::default()
        };
        let (w, _) = apply(workload(), &f, 0);
        // 10 s / 3 = 3333.33 ms, rounded.
        assert_eq!(w.jobs[1].submit, SimTime(3_333));
    }

    #[test]
    fn filters_compose_in_order() {
        let f = FilterSpec {
            window: Some(TimeWindow {
                start_s: 10.0,
                end_s: Some(80.0),
            }),
            tenants: Some(vec!["b".into(), "c".into()]),
            first_n: Some(2),
            load_factor: Some(0.5),
            ..FilterSpec::default()
        };
        let (w, stats) = apply(workload(), &f, 0);
        assert_eq!(names(&w), ["j1", "j3"]);
        // Window shifts 30 s → 20 s, then the factor stretches it to 40 s.
        assert_eq!(w.jobs[1].submit, SimTime(40_000));
        assert_eq!(
            stats,
            FilterStats {
                input_jobs: 10,
                kept_jobs: 2,
                dropped_by_window: 3,
                dropped_by_tenant: 3,
                dropped_by_first_n: 2,
                ..FilterStats::default()
            }
        );
    }

    #[test]
    fn validation_names_fields() {
        let bad = [
            (
                FilterSpec {
                    load_factor: Some(0.0),
                    ..FilterSpec::default()
                },
                "workload.filters.load_factor:",
            ),
            (
                FilterSpec {
                    first_n: Some(0),
                    ..FilterSpec::default()
                },
                "workload.filters.first_n:",
            ),
            (
                FilterSpec {
                    tenants: Some(vec![]),
                    ..FilterSpec::default()
                },
                "workload.filters.tenants:",
            ),
            (
                FilterSpec {
                    window: Some(TimeWindow {
                        start_s: -1.0,
                        end_s: None,
                    }),
                    ..FilterSpec::default()
                },
                "workload.filters.window.start_s:",
            ),
            (
                FilterSpec {
                    window: Some(TimeWindow {
                        start_s: 10.0,
                        end_s: Some(10.0),
                    }),
                    ..FilterSpec::default()
                },
                "workload.filters.window.end_s:",
            ),
        ];
        for (f, want) in bad {
            let err = f.validate().unwrap_err();
            assert!(err.starts_with(want), "{err}");
        }
        assert_eq!(FilterSpec::default().validate(), Ok(()));
    }

    #[test]
    fn deserializes_strictly() {
        let f: FilterSpec = toml::from_str("first_n = 3\n[window]\nstart_s = 60.0\n").unwrap();
        assert_eq!(f.first_n, Some(3));
        assert_eq!(f.window.unwrap().end_s, None);
        assert!(toml::from_str::<FilterSpec>("firstn = 3\n").is_err());
    }

    /// Jobs with statuses and GPU sizes for the newer transformations.
    fn shaped() -> Workload {
        let mut drafts = vec![
            JobDraft::new("small").gpus(2).models(&["P100"]),
            JobDraft::new("gang")
                .submit_s(1)
                .gpus(8)
                .workers(8)
                .models(&["P100", "V100"]),
            JobDraft::new("wide").submit_s(2).gpus(16),
            JobDraft::new("frac").submit_s(3).gpu_milli(500),
        ];
        drafts[0].status = Some("Pass".into());
        drafts[1].status = Some("Failed".into());
        drafts[2].status = Some("Pass".into());
        Workload::from_drafts(drafts)
    }

    #[test]
    fn status_filter_drops_jobs_without_a_listed_status() {
        let f = FilterSpec {
            statuses: Some(vec!["Pass".into()]),
            ..FilterSpec::default()
        };
        let (w, stats) = apply(shaped(), &f, 0);
        assert_eq!(names(&w), ["small", "wide"]);
        assert_eq!(stats.dropped_by_status, 2);
    }

    #[test]
    fn gpu_cap_clamps_or_drops() {
        let mut f = FilterSpec {
            max_gpus_per_job: Some(8),
            ..FilterSpec::default()
        };
        let (w, stats) = apply(shaped(), &f, 0);
        // 8 × 8 → 1 worker of 8; 1 × 16 → 1 × 8; the fractional job is untouched.
        let shapes: Vec<(u32, GpuDemand)> = w.jobs.iter().map(|j| (j.workers, j.gpu)).collect();
        assert_eq!(
            shapes,
            [
                (1, GpuDemand::Whole(2)),
                (1, GpuDemand::Whole(8)),
                (1, GpuDemand::Whole(8)),
                (1, GpuDemand::Fraction(500))
            ]
        );
        assert_eq!(stats.clamped_by_gpu_cap, 2);
        f.over_max = OverMax::Drop;
        let (w, stats) = apply(shaped(), &f, 0);
        assert_eq!(names(&w), ["small", "frac"]);
        assert_eq!(stats.dropped_by_gpu_cap, 2);
    }

    #[test]
    fn model_map_renames_and_dedups() {
        let f = FilterSpec {
            gpu_model_map: [("P100".to_string(), "V100".to_string())].into(),
            ..FilterSpec::default()
        };
        let (w, _) = apply(shaped(), &f, 0);
        assert_eq!(w.jobs[0].gpu_models, ["V100"]);
        assert_eq!(w.jobs[1].gpu_models, ["V100"]);
    }

    #[test]
    fn duration_scale_rounds_to_ms_and_keeps_one_ms() {
        let mut drafts = vec![JobDraft::new("a").duration_s(10)];
        drafts.push(JobDraft::new("b"));
        drafts[1].duration = 1;
        let f = FilterSpec {
            duration_scale: Some(0.25),
            ..FilterSpec::default()
        };
        let (w, _) = apply(Workload::from_drafts(drafts), &f, 0);
        assert_eq!(w.jobs[0].duration, 2_500);
        assert_eq!(w.jobs[1].duration, 1);
    }

    #[test]
    fn sampling_is_seeded() {
        let many =
            Workload::from_drafts((0..1000).map(|i| JobDraft::new(format!("j{i}"))).collect());
        let f = FilterSpec {
            sample: Some(0.3),
            ..FilterSpec::default()
        };
        let (a, sa) = apply(many.clone(), &f, 7);
        let (b, _) = apply(many.clone(), &f, 7);
        let (c, _) = apply(many, &f, 8);
        assert_eq!(a, b);
        assert_ne!(names(&a), names(&c));
        // 300 expected; a binomial(1000, 0.3) is within ±60 with overwhelming probability.
        assert!((240..=360).contains(&a.jobs.len()), "{}", a.jobs.len());
        assert_eq!(sa.dropped_by_sample + sa.kept_jobs, 1000);
    }

    #[test]
    fn new_fields_are_validated() {
        for (f, needle) in [
            (
                FilterSpec {
                    sample: Some(0.0),
                    ..FilterSpec::default()
                },
                "sample",
            ),
            (
                FilterSpec {
                    sample: Some(1.5),
                    ..FilterSpec::default()
                },
                "sample",
            ),
            (
                FilterSpec {
                    duration_scale: Some(-1.0),
                    ..FilterSpec::default()
                },
                "duration_scale",
            ),
            (
                FilterSpec {
                    max_gpus_per_job: Some(0),
                    ..FilterSpec::default()
                },
                "max_gpus_per_job",
            ),
            (
                FilterSpec {
                    statuses: Some(vec![]),
                    ..FilterSpec::default()
                },
                "statuses",
            ),
        ] {
            let err = f.validate().unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }
}
