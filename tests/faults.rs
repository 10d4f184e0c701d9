//! Node failures and spot reclaims: killed jobs restart from their last
//! checkpoint, fail past the retry limit, and the run accounts for it all.

use schedlab::cluster::PoolSpec;
use schedlab::engine::faults::{FailureDistribution, FailureSpec, SpotSpec};
use schedlab::engine::{EngineConfig, FaultConfig, simulate};
use schedlab::ids::NodeId;
use schedlab::metrics::{JobStatus, RunResult, Summary};
use schedlab::policy::placement::PlacementKind;
use schedlab::policy::scheduler::SchedulerKind;
use schedlab::time::SimTime;
use schedlab::workload::{JobDraft, Workload};

fn pools(nodes: u32) -> Vec<PoolSpec> {
    vec![PoolSpec {
        name: "p".into(),
        nodes,
        gpus_per_node: 4,
        gpu_model: "V100".into(),
        cpu_milli: 32_000,
        memory_mib: 131_072,
        price_per_node_hour: None,
        labels: Default::default(),
        kind: Default::default(),
    }]
}

fn config(faults: FaultConfig) -> EngineConfig {
    EngineConfig {
        check_invariants: true,
        checkpoint_interval: 10_000,
        restore_overhead: 5_000,
        faults,
        ..EngineConfig::default()
    }
}

fn outage(at_s: u64, node: u32, down_for_s: Option<u64>, backoff_limit: u32) -> FaultConfig {
    FaultConfig {
        scripted: vec![(
            SimTime::from_secs(at_s),
            NodeId(node),
            down_for_s.map(|d| d * 1000),
        )],
        backoff_limit,
        ..FaultConfig::default()
    }
}

fn secs(r: &RunResult, i: usize) -> (u64, Option<u64>) {
    let o = &r.outcomes[i];
    (
        o.start.unwrap().as_millis() / 1000,
        o.end.map(|e| e.as_millis() / 1000),
    )
}

/// A (4 GPUs, 100 s) starts on node 0. Node 0 fails at 35 s for 50 s: A has
/// 35 s of progress, keeps 30 (10 s checkpoints), restarts at once on node 1,
/// restores for 5 s and runs its last 70 s: it ends at 35 + 5 + 70 = 110.
#[test]
fn a_failure_kills_and_the_job_restarts_elsewhere_from_its_checkpoint() {
    let w = Workload::from_drafts(vec![JobDraft::new("A").gpus(4).duration_s(100)]);
    let r = simulate(
        &w,
        &pools(2),
        SchedulerKind::FifoSkip,
        PlacementKind::FirstFit,
        config(outage(35, 0, Some(50), 6)),
    )
    .unwrap();
    assert_eq!(secs(&r, 0), (0, Some(110)));
    let a = &r.outcomes[0];
    assert_eq!(
        (a.failures, a.restarts, a.preemptions, a.status),
        (1, 1, 0, JobStatus::Finished)
    );
    // 5 s of work lost on 4 GPUs.
    assert_eq!(a.lost_gpu_milli_ms, 5 * 4 * 1000 * 1000);
    let s = Summary::compute(&w, &r);
    assert_eq!((s.job_kills, s.jobs.failed), (1, 0));
}

/// With a retry limit of 0 the first kill fails the job.
#[test]
fn past_the_retry_limit_the_job_fails() {
    let w = Workload::from_drafts(vec![JobDraft::new("A").gpus(4).duration_s(100)]);
    let r = simulate(
        &w,
        &pools(2),
        SchedulerKind::FifoSkip,
        PlacementKind::FirstFit,
        config(outage(35, 0, Some(50), 0)),
    )
    .unwrap();
    let a = &r.outcomes[0];
    assert_eq!(
        (a.status, a.end),
        (JobStatus::Failed, Some(SimTime::from_secs(35)))
    );
    assert_eq!(Summary::compute(&w, &r).jobs.failed, 1);
}

/// One node: A runs on it; it is down from 20 s to 60 s, so A waits and
/// restarts when it is back: 60 + 5 restore + 80 left = 145. B, submitted at
/// 30 s while the node is down, waits for A.
#[test]
fn jobs_wait_for_the_repaired_node() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("A").gpus(4).duration_s(100),
        JobDraft::new("B").submit_s(30).gpus(4).duration_s(10),
    ]);
    let r = simulate(
        &w,
        &pools(1),
        SchedulerKind::Fifo,
        PlacementKind::FirstFit,
        config(outage(20, 0, Some(40), 6)),
    )
    .unwrap();
    assert_eq!(secs(&r, 0), (0, Some(145)));
    assert_eq!(secs(&r, 1), (145, Some(155)));
}

/// A reclaimed node is gone for good: with the only node reclaimed, the job
/// that ran there can never run again and stays pending.
#[test]
fn a_reclaimed_node_never_returns() {
    let w = Workload::from_drafts(vec![JobDraft::new("A").gpus(4).duration_s(100)]);
    let r = simulate(
        &w,
        &pools(1),
        SchedulerKind::FifoSkip,
        PlacementKind::FirstFit,
        config(outage(50, 0, None, 6)),
    )
    .unwrap();
    assert_eq!(r.outcomes[0].status, JobStatus::Pending);
    assert_eq!(r.outcomes[0].failures, 1);
}

/// Random failures and spot reclaims on a busy cluster: every job ends
/// finished, failed or (when the spot nodes are all gone) pending, invariants
/// hold throughout, and the run is deterministic.
#[test]
fn random_failures_and_reclaims_are_deterministic_and_consistent() {
    let jobs: Vec<JobDraft> = (0..300)
        .map(|i| {
            JobDraft::new(format!("j{i}"))
                .submit_s(i * 20)
                .gpus(1 << (i % 3))
                .workers(1 + (i % 2) as u32)
                .duration_s(600 + (i * 37) % 3000)
        })
        .collect();
    let w = Workload::from_drafts(jobs);
    let mut p = pools(6);
    p.push(PoolSpec {
        name: "spot".into(),
        ..p[0].clone()
    });
    let faults = FaultConfig {
        failures: vec![
            Some(FailureSpec {
                mtbf_h: 2.0,
                mttr_h: 0.5,
                distribution: FailureDistribution::Weibull { shape: 1.5 },
            }),
            None,
        ],
        spot: vec![
            None,
            Some(SpotSpec {
                reclaims_per_node_hour: 0.5,
                notice_s: 120.0,
            }),
        ],
        backoff_limit: 3,
        seed: 9,
        ..FaultConfig::default()
    };
    let a = simulate(
        &w,
        &p,
        SchedulerKind::FifoSkip,
        PlacementKind::BestFit,
        config(faults.clone()),
    )
    .unwrap();
    let b = simulate(
        &w,
        &p,
        SchedulerKind::FifoSkip,
        PlacementKind::BestFit,
        config(faults),
    )
    .unwrap();
    assert_eq!(a, b);
    let s = Summary::compute(&w, &a);
    assert!(s.job_kills > 0, "the failure rates should hit some jobs");
    assert_eq!(s.jobs.finished + s.jobs.failed + s.jobs.unfinished, 300);
    assert!(a.outcomes.iter().all(|o| matches!(
        o.status,
        JobStatus::Finished | JobStatus::Failed | JobStatus::Pending
    )));
}
