//! Hand-worked cases: small workloads whose start and end times were computed
//! on paper, chosen so that the policies decide differently.

use schedlab::cluster::PoolSpec;
use schedlab::engine::{EngineConfig, simulate};
use schedlab::metrics::{JobStatus, RunResult, Summary};
use schedlab::policy::placement::PlacementKind;
use schedlab::policy::scheduler::SchedulerKind;
use schedlab::time::SimTime;
use schedlab::workload::{JobDraft, Workload};

fn pool(nodes: u32, gpus: u32) -> PoolSpec {
    PoolSpec {
        name: "gpu".into(),
        nodes,
        gpus_per_node: gpus,
        gpu_model: "V100".into(),
        cpu_milli: 64_000,
        memory_mib: 262_144,
        price_per_node_hour: None,
        labels: Default::default(),
        kind: Default::default(),
    }
}

fn checked() -> EngineConfig {
    EngineConfig {
        check_invariants: true,
        ..EngineConfig::default()
    }
}

fn run(w: &Workload, pools: &[PoolSpec], s: SchedulerKind, p: PlacementKind) -> RunResult {
    simulate(w, pools, s, p, checked()).expect("run succeeds")
}

/// (start, end) in whole seconds, per job id.
fn times(r: &RunResult) -> Vec<(u64, u64)> {
    r.outcomes
        .iter()
        .map(|o| {
            (
                o.start.unwrap().as_millis() / 1000,
                o.end.unwrap().as_millis() / 1000,
            )
        })
        .collect()
}

/// One 4-GPU node. A fills it until t=10; B (3 GPUs, 8 s), C (2 GPUs, 6 s)
/// and D (1 GPU, 2 s) queue behind it.
/// - fifo: B starts at 10; C does not fit beside B and blocks D; both start
///   when B ends at 18.
/// - fifo-skip: B at 10, C does not fit, D (1 GPU) backfills at 10; C waits
///   for B and starts at 18.
/// - sjf: D (2 s) and C (6 s) go first at 10; B fits only when C ends at 16.
fn queue_case() -> Workload {
    Workload::from_drafts(vec![
        JobDraft::new("A").submit_s(0).gpus(4).duration_s(10),
        JobDraft::new("B").submit_s(1).gpus(3).duration_s(8),
        JobDraft::new("C").submit_s(2).gpus(2).duration_s(6),
        JobDraft::new("D").submit_s(3).gpus(1).duration_s(2),
    ])
}

#[test]
fn fifo_blocks_behind_the_head() {
    let r = run(
        &queue_case(),
        &[pool(1, 4)],
        SchedulerKind::Fifo,
        PlacementKind::FirstFit,
    );
    assert_eq!(times(&r), [(0, 10), (10, 18), (18, 24), (18, 20)]);
}

#[test]
fn fifo_skip_backfills_small_jobs() {
    let r = run(
        &queue_case(),
        &[pool(1, 4)],
        SchedulerKind::FifoSkip,
        PlacementKind::FirstFit,
    );
    assert_eq!(times(&r), [(0, 10), (10, 18), (18, 24), (10, 12)]);
}

#[test]
fn sjf_runs_shortest_first() {
    let w = queue_case();
    let r = run(
        &w,
        &[pool(1, 4)],
        SchedulerKind::Sjf,
        PlacementKind::FirstFit,
    );
    assert_eq!(times(&r), [(0, 10), (16, 24), (10, 16), (10, 12)]);
    // Mean JCT by hand: A 10, B 23, C 14, D 9 → 14 s; waits 0, 15, 8, 7 → 7.5 s.
    let s = Summary::compute(&w, &r);
    assert_eq!(s.jct_s.mean, 14.0);
    assert_eq!(s.wait_s.mean, 7.5);
    assert_eq!(s.makespan_s, 24.0);
}

/// Two 4-GPU nodes. A (1 GPU) and B (1 GPU) run long; C needs a whole node.
/// first-fit and best-fit stack A and B on node 0 and C starts at once on
/// node 1; worst-fit spreads A and B over both nodes, so C waits for A.
#[test]
fn worst_fit_spreading_delays_a_whole_node_job() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("A").submit_s(0).gpus(1).duration_s(100),
        JobDraft::new("B").submit_s(1).gpus(1).duration_s(200),
        JobDraft::new("C").submit_s(2).gpus(4).duration_s(10),
    ]);
    let pools = [pool(2, 4)];
    for p in [PlacementKind::FirstFit, PlacementKind::BestFit] {
        let r = run(&w, &pools, SchedulerKind::FifoSkip, p);
        assert_eq!(times(&r), [(0, 100), (1, 201), (2, 12)], "{p:?}");
        assert_eq!(r.outcomes[2].nodes_used, 1);
    }
    let r = run(&w, &pools, SchedulerKind::FifoSkip, PlacementKind::WorstFit);
    assert_eq!(times(&r), [(0, 100), (1, 201), (100, 110)]);
}

/// Two 4-GPU nodes. A (3 GPUs) ends at 50 while B (2 GPUs) holds node 1 until
/// 101. C (1 GPU) arrives at 60: first-fit puts it on the now-empty node 0,
/// best-fit on the fuller node 1. D (4 GPUs) then finds node 0 free under
/// best-fit only; under first-fit it waits for B to leave node 1.
#[test]
fn best_fit_keeps_a_node_whole() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("A").submit_s(0).gpus(3).duration_s(50),
        JobDraft::new("B").submit_s(1).gpus(2).duration_s(100),
        JobDraft::new("C").submit_s(60).gpus(1).duration_s(1000),
        JobDraft::new("D").submit_s(61).gpus(4).duration_s(10),
    ]);
    let pools = [pool(2, 4)];
    let ff = run(&w, &pools, SchedulerKind::FifoSkip, PlacementKind::FirstFit);
    assert_eq!(times(&ff)[3], (101, 111));
    let bf = run(&w, &pools, SchedulerKind::FifoSkip, PlacementKind::BestFit);
    assert_eq!(times(&bf)[3], (61, 71));
}

/// A 2-worker gang of 3 GPUs each on two 4-GPU nodes, one of which has a
/// 2-GPU job: the gang cannot start on one node and must not start half.
#[test]
fn gangs_start_whole_or_not_at_all() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("small").submit_s(0).gpus(2).duration_s(30),
        JobDraft::new("gang")
            .submit_s(1)
            .gpus(3)
            .workers(2)
            .duration_s(10),
    ]);
    for p in [
        PlacementKind::FirstFit,
        PlacementKind::BestFit,
        PlacementKind::WorstFit,
    ] {
        let r = run(&w, &[pool(2, 4)], SchedulerKind::FifoSkip, p);
        assert_eq!(times(&r), [(0, 30), (30, 40)], "{p:?}");
        assert_eq!(r.outcomes[1].nodes_used, 2);
    }
}

/// Jobs no pool can ever hold are reported at arrival; the rest still run.
#[test]
fn impossible_jobs_are_unschedulable_and_the_run_completes() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("too-wide").submit_s(0).gpus(16),
        JobDraft::new("too-many").submit_s(0).gpus(4).workers(3),
        JobDraft::new("wrong-model")
            .submit_s(0)
            .gpus(1)
            .models(&["A100"]),
        JobDraft::new("ok")
            .submit_s(5)
            .gpus(4)
            .workers(2)
            .duration_s(10),
        JobDraft::new("ok-model")
            .submit_s(6)
            .gpus(1)
            .models(&["A100", "V100"]),
    ]);
    let r = run(
        &w,
        &[pool(2, 4)],
        SchedulerKind::Fifo,
        PlacementKind::BestFit,
    );
    let status: Vec<_> = r.outcomes.iter().map(|o| o.status).collect();
    use JobStatus::*;
    assert_eq!(
        status,
        [
            Unschedulable,
            Unschedulable,
            Unschedulable,
            Finished,
            Finished
        ]
    );
    // Strict FIFO is not blocked by the impossible jobs.
    assert_eq!(r.outcomes[3].start, Some(SimTime::from_secs(5)));
    assert_eq!(r.outcomes[4].start, Some(SimTime::from_secs(15)));
}

/// Completions at an instant free resources before arrivals and the single
/// pass of that instant: B arrives exactly when A ends and starts at once.
#[test]
fn completions_come_before_arrivals_at_one_instant() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("A").submit_s(0).gpus(4).duration_s(10),
        JobDraft::new("B").submit_s(10).gpus(4).duration_s(10),
    ]);
    let r = run(
        &w,
        &[pool(1, 4)],
        SchedulerKind::Fifo,
        PlacementKind::FirstFit,
    );
    assert_eq!(times(&r), [(0, 10), (10, 20)]);
}

/// Fractional jobs share a GPU: four 250-milli jobs fit on one GPU at once,
/// the fifth waits.
#[test]
fn fractional_jobs_share_one_gpu() {
    let mut jobs: Vec<_> = (0..5)
        .map(|i| JobDraft::new(format!("f{i}")).gpu_milli(250).duration_s(10))
        .collect();
    jobs.push(JobDraft::new("whole").submit_s(1).gpus(1).duration_s(5));
    let w = Workload::from_drafts(jobs);
    let r = run(
        &w,
        &[pool(1, 1)],
        SchedulerKind::FifoSkip,
        PlacementKind::BestFit,
    );
    let starts: Vec<u64> = r
        .outcomes
        .iter()
        .map(|o| o.start.unwrap().as_millis() / 1000)
        .collect();
    assert_eq!(starts, [0, 0, 0, 0, 10, 20]);
}

/// A horizon stops the run: jobs are then running, pending or not arrived,
/// and the summary counts them as such.
#[test]
fn horizon_stops_the_run() {
    let w = queue_case();
    let cfg = EngineConfig {
        horizon: Some(SimTime::from_secs(11)),
        ..checked()
    };
    let r = simulate(
        &w,
        &[pool(1, 4)],
        SchedulerKind::Fifo,
        PlacementKind::FirstFit,
        cfg,
    )
    .unwrap();
    let status: Vec<_> = r.outcomes.iter().map(|o| o.status).collect();
    use JobStatus::*;
    assert_eq!(status, [Finished, Running, Pending, Pending]);
    let s = Summary::compute(&w, &r);
    assert_eq!((s.jobs.finished, s.jobs.unfinished), (1, 3));
    assert_eq!(s.makespan_s, 11.0);
    // 4 GPUs for 10 s, then 3 GPUs for 1 s, over 11 s of 4 GPUs.
    assert_eq!(
        s.mean_gpu_allocation_pct,
        ((40.0 + 3.0) * 100.0 / 44.0_f64 * 1000.0).round() / 1000.0
    );
}

/// A pod start time (`run.startup_delay_s`, e.g. the latency cluster mode
/// measured) delays every run's progress while it holds its GPUs: A runs
/// 0..105, and B, which needs the same node, 105..160.
#[test]
fn startup_delay_holds_resources_before_progress() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("a").gpus(4).duration_s(100),
        JobDraft::new("b").gpus(4).duration_s(50),
    ]);
    let config = EngineConfig {
        startup_delay: 5_000,
        ..checked()
    };
    let r = simulate(
        &w,
        &[pool(1, 4)],
        SchedulerKind::Fifo,
        PlacementKind::BestFit,
        config,
    )
    .unwrap();
    assert_eq!(times(&r), [(0, 105), (105, 160)]);
}
