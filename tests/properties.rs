//! Property tests: on random small clusters and workloads, under every
//! scheduler and placement, the engine's invariants hold after every event
//! (checked by the engine itself with `check_invariants`), every job ends in
//! exactly one final state, and exactly the jobs that could never fit are
//! reported unschedulable.

use proptest::prelude::*;

use schedlab::engine::{EngineConfig, simulate};
use schedlab::metrics::JobStatus;
use schedlab::policy::placement::PlacementKind;
use schedlab::policy::scheduler::SchedulerKind;
use schedlab::time::SimTime;

mod common;

use common::{ever_fits, jobs, pools};

/// The schedulers under test: every one that runs with default parameters
/// (Kueue needs its queues; `tests/policy_admission.rs` covers it).
const SCHEDULERS: [SchedulerKind; 10] = [
    SchedulerKind::Fifo,
    SchedulerKind::FifoSkip,
    SchedulerKind::Sjf,
    SchedulerKind::Srtf,
    SchedulerKind::Las,
    SchedulerKind::Tiresias,
    SchedulerKind::Themis,
    SchedulerKind::Drf,
    SchedulerKind::Priority,
    SchedulerKind::EasyBackfill,
];

/// The placements under test: all of them.
const PLACEMENTS: [PlacementKind; 9] = PlacementKind::ALL;

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_and_every_job_ends_once(
        pools in pools(),
        w in jobs(1),
        s in prop::sample::select(SCHEDULERS.to_vec()),
        p in prop::sample::select(PLACEMENTS.to_vec()),
        periodic in prop::option::of(1u64..50),
    ) {
        let cfg = EngineConfig {
            check_invariants: true,
            sample_interval: 7_000,
            // Checkpoints so that preemptive policies always make progress.
            checkpoint_interval: 2_000,
            restore_overhead: 500,
            schedule_interval: periodic.map(|s| s * 1000),
            horizon: None,
            ..EngineConfig::default()
        };
        let r = simulate(&w, &pools, s, p, cfg).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(r.outcomes.len(), w.jobs.len());
        for (o, job) in r.outcomes.iter().zip(&w.jobs) {
            if ever_fits(&pools, job) {
                // Without a horizon every job that can fit eventually runs.
                prop_assert_eq!(o.status, JobStatus::Finished, "job {:?}", job);
                let start = o.start.unwrap();
                prop_assert!(start >= job.submit);
                // Preempted jobs lose work and restart, so they end later.
                if o.preemptions == 0 {
                    prop_assert_eq!(o.end.unwrap(), start + job.duration);
                } else {
                    prop_assert!(o.end.unwrap() > start + job.duration);
                }
                prop_assert!(o.nodes_used >= 1 && o.nodes_used <= job.workers);
            } else {
                prop_assert_eq!(o.status, JobStatus::Unschedulable, "job {:?}", job);
                prop_assert!(o.start.is_none());
            }
        }
    }

    #[test]
    fn with_a_horizon_every_job_is_in_exactly_one_state(
        pools in pools(),
        w in jobs(1),
        s in prop::sample::select(SCHEDULERS.to_vec()),
        p in prop::sample::select(PLACEMENTS.to_vec()),
        horizon in 0u64..150,
    ) {
        let h = SimTime::from_secs(horizon);
        let cfg = EngineConfig { check_invariants: true, horizon: Some(h), ..EngineConfig::default() };
        let r = simulate(&w, &pools, s, p, cfg).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (o, job) in r.outcomes.iter().zip(&w.jobs) {
            match o.status {
                JobStatus::NotArrived => prop_assert!(job.submit > h),
                JobStatus::Finished => prop_assert!(o.end.unwrap() <= h),
                JobStatus::Running => prop_assert!(o.start.unwrap() <= h && o.end.is_none()),
                JobStatus::Pending => prop_assert!(job.submit <= h && (o.start.is_none() || o.preemptions > 0)),
                JobStatus::Unschedulable => prop_assert!(!ever_fits(&pools, job)),
                JobStatus::Failed => prop_assert!(false, "no faults are configured, yet job {} failed", job.name),
            }
        }
    }

    /// The same inputs give the same outputs.
    #[test]
    fn runs_are_deterministic(pools in pools(), w in jobs(1), p in prop::sample::select(PLACEMENTS.to_vec())) {
        let a = simulate(&w, &pools, SchedulerKind::Sjf, p, EngineConfig::default()).unwrap();
        let b = simulate(&w, &pools, SchedulerKind::Sjf, p, EngineConfig::default()).unwrap();
        prop_assert_eq!(a, b);
    }
}
