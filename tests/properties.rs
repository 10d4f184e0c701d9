//! Property tests: on random small clusters and workloads, under every
//! scheduler and placement, the engine's invariants hold after every event
//! (checked by the engine itself with `check_invariants`), every job ends in
//! exactly one final state, and exactly the jobs that could never fit are
//! reported unschedulable.

use proptest::prelude::*;
use schedlab::cluster::PoolSpec;
use schedlab::engine::{EngineConfig, simulate};
use schedlab::metrics::JobStatus;
use schedlab::policy::placement::PlacementKind;
use schedlab::policy::scheduler::SchedulerKind;
use schedlab::time::SimTime;
use schedlab::workload::{GpuDemand, JobDraft, Workload};

const MODELS: [&str; 2] = ["V100", "A100"];

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

fn pools() -> impl Strategy<Value = Vec<PoolSpec>> {
    prop::collection::vec((1u32..4, 0u32..9, 0usize..2, 1u32..5), 1..4).prop_map(|ps| {
        ps.into_iter()
            .enumerate()
            .map(|(i, (nodes, gpus, model, cpu))| PoolSpec {
                name: format!("pool{i}"),
                nodes,
                gpus_per_node: gpus,
                gpu_model: MODELS[model].into(),
                cpu_milli: cpu * 4_000,
                memory_mib: 65_536,
                price_per_node_hour: None,
                labels: Default::default(),
            })
            .collect()
    })
}

fn gpu() -> impl Strategy<Value = GpuDemand> {
    prop_oneof![
        3 => (0u32..5).prop_map(GpuDemand::Whole),
        1 => (1u32..1000).prop_map(GpuDemand::Fraction),
    ]
}

fn jobs() -> impl Strategy<Value = Workload> {
    let job = (0u64..200, 1u32..4, gpu(), 0u32..9, 1u64..100, 0usize..4);
    prop::collection::vec(job, 0..30).prop_map(|js| {
        Workload::from_drafts(
            js.into_iter()
                .enumerate()
                .map(|(i, (submit, workers, gpu, cpu, dur, models))| {
                    let mut d = JobDraft::new(format!("j{i}"))
                        .submit_s(submit)
                        .workers(workers)
                        .duration_s(dur)
                        .cpu_mem(cpu * 1_000, 1_024);
                    d.gpu = gpu;
                    d.gpu_models = match models {
                        0 => vec!["V100".into()],
                        1 => vec!["A100".into()],
                        _ => vec![],
                    };
                    d
                })
                .collect(),
        )
    })
}

/// Could the job fit on the empty cluster? Computed independently of the
/// engine: per node, how many workers fit, summed over allowed pools.
fn ever_fits(pools: &[PoolSpec], job: &schedlab::workload::Job) -> bool {
    let mut total = 0u64;
    for p in pools {
        if !job.gpu_models.is_empty() && !job.gpu_models.contains(&p.gpu_model) {
            continue;
        }
        let by_cpu = p
            .cpu_milli
            .checked_div(job.cpu_milli)
            .map_or(u64::MAX, u64::from);
        let by_mem = p.memory_mib.checked_div(job.memory_mib).unwrap_or(u64::MAX);
        let by_gpu = match job.gpu {
            GpuDemand::Whole(0) => u64::MAX,
            GpuDemand::Whole(g) => u64::from(p.gpus_per_node / g),
            GpuDemand::Fraction(m) => u64::from(p.gpus_per_node) * u64::from(1000 / m),
        };
        total += by_cpu.min(by_mem).min(by_gpu).min(1_000) * u64::from(p.nodes);
    }
    total >= u64::from(job.workers)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_and_every_job_ends_once(
        pools in pools(),
        w in jobs(),
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
        w in jobs(),
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
    fn runs_are_deterministic(pools in pools(), w in jobs(), p in prop::sample::select(PLACEMENTS.to_vec())) {
        let a = simulate(&w, &pools, SchedulerKind::Sjf, p, EngineConfig::default()).unwrap();
        let b = simulate(&w, &pools, SchedulerKind::Sjf, p, EngineConfig::default()).unwrap();
        prop_assert_eq!(a, b);
    }
}
