//! Workload filters and transformations, applied after import in a fixed
//! order: time window, tenants, first N jobs, load factor. Every filter keeps
//! submission order and the result is renumbered, so job ids stay dense and
//! tenants no job uses any more disappear from the tenant table.

use serde::{Deserialize, Serialize};

use crate::time::{SimTime, secs_to_millis};
use crate::workload::{JobDraft, Workload};

/// Which jobs to keep and how to rescale arrivals. Field paths in validation
/// messages are relative to `workload.filters` in the scenario file.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// Keep jobs with `start_s ≤ submit < end_s` (seconds since the scenario
    /// start), then shift times so that `start_s` becomes 0.
    #[serde(default)]
    pub window: Option<TimeWindow>,
    /// Keep only jobs of these tenants.
    #[serde(default)]
    pub tenants: Option<Vec<String>>,
    /// Keep the first N jobs in submission order, after the filters above.
    #[serde(default)]
    pub first_n: Option<u32>,
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
    /// Jobs of tenants not listed.
    pub dropped_by_tenant: usize,
    /// Jobs beyond the first N.
    pub dropped_by_first_n: usize,
}

const AT: &str = "workload.filters";

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
pub fn apply(w: Workload, f: &FilterSpec) -> (Workload, FilterStats) {
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

    if let Some(keep) = &f.tenants {
        let before = drafts.len();
        // Lists are short (a few tenants), so a linear scan is enough.
        drafts.retain(|d| keep.contains(&d.tenant));
        stats.dropped_by_tenant = before - drafts.len();
    }

    if let Some(n) = f.first_n {
        let n = n as usize;
        if drafts.len() > n {
            stats.dropped_by_first_n = drafts.len() - n;
            drafts.truncate(n);
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
        let (w, stats) = apply(workload(), &FilterSpec::default());
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
        let (w, stats) = apply(workload(), &f);
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
        let (w, _) = apply(workload(), &open);
        assert_eq!(names(&w), ["j9"]);
        assert_eq!(w.jobs[0].submit, SimTime(5_000));
    }

    #[test]
    fn tenants_filter_drops_unlisted_tenants_from_table() {
        let f = FilterSpec {
            tenants: Some(vec!["c".into(), "b".into()]),
            ..FilterSpec::default()
        };
        let (w, stats) = apply(workload(), &f);
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
        let (w, stats) = apply(workload(), &f);
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
        assert_eq!(apply(workload(), &f).1.dropped_by_first_n, 0);
    }

    #[test]
    fn load_factor_scales_arrivals_only() {
        let f = FilterSpec {
            load_factor: Some(2.0),
            ..FilterSpec::default()
        };
        let (w, _) = apply(workload(), &f);
        assert_eq!(w.jobs[3].submit, SimTime(15_000));
        assert_eq!(w.jobs[3].duration, 1_000);
        let f = FilterSpec {
            load_factor: Some(3.0),
            ..FilterSpec::default()
        };
        let (w, _) = apply(workload(), &f);
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
        };
        let (w, stats) = apply(workload(), &f);
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
}
