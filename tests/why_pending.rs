//! Why pending: hand-worked cases, one per reason, and the property that the
//! reasons add up to each job's wait.

mod common;

use proptest::prelude::*;
use schedlab::cluster::PoolSpec;
use schedlab::engine::{EngineConfig, simulate};
use schedlab::metrics::{RunResult, WaitReason};
use schedlab::policy::placement::PlacementKind;
use schedlab::policy::scheduler::SchedulerKind;
use schedlab::workload::{JobDraft, Workload};

fn pool(name: &str, model: &str, nodes: u32) -> PoolSpec {
    PoolSpec {
        name: name.into(),
        nodes,
        gpus_per_node: 4,
        gpu_model: model.into(),
        cpu_milli: 64_000,
        memory_mib: 262_144,
        price_per_node_hour: None,
        labels: Default::default(),
        kind: Default::default(),
    }
}

fn run(w: &Workload, pools: &[PoolSpec], s: SchedulerKind) -> RunResult {
    let config = EngineConfig {
        check_invariants: true,
        ..EngineConfig::default()
    };
    simulate(w, pools, s, PlacementKind::FirstFit, config).unwrap()
}

/// Seconds job `job` waited for each reason, non-zero ones only.
fn waits(r: &RunResult, job: usize) -> Vec<(&'static str, u64)> {
    WaitReason::ALL
        .iter()
        .map(|&k| (k.as_str(), r.outcomes[job].wait_by_reason[k.index()] / 1000))
        .filter(|e| e.1 > 0)
        .collect()
}

#[test]
fn capacity() {
    // B (2 GPUs) arrives at 10 while A holds all 4 GPUs until 100.
    let w = Workload::from_drafts(vec![
        JobDraft::new("a").gpus(4).duration_s(100),
        JobDraft::new("b").submit_s(10).gpus(2).duration_s(10),
    ]);
    let r = run(&w, &[pool("p", "A100", 1)], SchedulerKind::FifoSkip);
    assert_eq!(waits(&r, 1), [("capacity", 90)]);
    assert_eq!(waits(&r, 0), []);
}

#[test]
fn fragmentation() {
    // A and B take 3 GPUs on each node: 2 GPUs are free, one per node, and C
    // needs 2 on one node.
    let w = Workload::from_drafts(vec![
        JobDraft::new("a").gpus(3).duration_s(100),
        JobDraft::new("b").gpus(3).duration_s(100),
        JobDraft::new("c").submit_s(10).gpus(2).duration_s(10),
    ]);
    let r = run(&w, &[pool("p", "A100", 2)], SchedulerKind::FifoSkip);
    assert_eq!(waits(&r, 2), [("fragmentation", 90)]);
}

#[test]
fn gang() {
    // 6 GPUs free (1 + 1 + 4) for a gang of 2 × 3 GPUs: one worker fits
    // (node 2), the second nowhere.
    let w = Workload::from_drafts(vec![
        JobDraft::new("a").gpus(3).duration_s(100),
        JobDraft::new("b").gpus(3).duration_s(100),
        JobDraft::new("c")
            .submit_s(10)
            .workers(2)
            .gpus(3)
            .duration_s(10),
    ]);
    let r = run(&w, &[pool("p", "A100", 3)], SchedulerKind::FifoSkip);
    assert_eq!(waits(&r, 2), [("gang", 90)]);
}

#[test]
fn gpu_model() {
    // The V100 node is idle, but C may only use A100s, all taken by A.
    let w = Workload::from_drafts(vec![
        JobDraft::new("a").gpus(4).models(&["A100"]).duration_s(100),
        JobDraft::new("c")
            .submit_s(10)
            .gpus(2)
            .models(&["A100"])
            .duration_s(10),
    ]);
    let pools = [pool("v", "V100", 1), pool("a", "A100", 1)];
    let r = run(&w, &pools, SchedulerKind::FifoSkip);
    assert_eq!(waits(&r, 1), [("gpu_model", 90)]);
}

#[test]
fn order_then_capacity_under_strict_fifo() {
    // B (4 GPUs) heads the queue from 5; C (1 GPU) fits from 10 but strict
    // FIFO keeps it behind B until A ends at 100 (order: 90 s). Then B takes
    // the node until 150 (capacity: 50 s).
    let w = Workload::from_drafts(vec![
        JobDraft::new("a").gpus(3).duration_s(100),
        JobDraft::new("b").submit_s(5).gpus(4).duration_s(50),
        JobDraft::new("c").submit_s(10).gpus(1).duration_s(10),
    ]);
    let r = run(&w, &[pool("p", "A100", 1)], SchedulerKind::Fifo);
    assert_eq!(waits(&r, 2), [("capacity", 50), ("order", 90)]);
    assert_eq!(waits(&r, 1), [("capacity", 95)]);
    // fifo-skip starts C at once.
    let r = run(&w, &[pool("p", "A100", 1)], SchedulerKind::FifoSkip);
    assert_eq!(waits(&r, 2), []);
}

#[test]
fn preempted() {
    // H (priority 10) preempts L at 10 and runs until 60; L waits 50 s.
    let w = Workload::from_drafts(vec![
        JobDraft::new("l").gpus(4).duration_s(200),
        JobDraft::new("h")
            .submit_s(10)
            .gpus(4)
            .priority(10)
            .duration_s(50),
    ]);
    let r = run(&w, &[pool("p", "A100", 1)], SchedulerKind::Priority);
    assert_eq!(r.outcomes[0].preemptions, 1);
    assert_eq!(waits(&r, 0), [("preempted", 50)]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// For every job that started once and was never preempted, the reasons
    /// add up to its wait exactly.
    #[test]
    fn reasons_add_up_to_the_wait(
        pools in common::pools(),
        w in common::jobs(3),
        sched in prop::sample::select(vec![
            SchedulerKind::Fifo, SchedulerKind::FifoSkip, SchedulerKind::Sjf,
            SchedulerKind::Drf, SchedulerKind::EasyBackfill,
        ]),
    ) {
        let r = simulate(&w, &pools, sched, PlacementKind::BestFit, EngineConfig::default()).unwrap();
        for (o, job) in r.outcomes.iter().zip(&w.jobs) {
            let total: u64 = o.wait_by_reason.iter().sum();
            match o.start {
                Some(start) if o.preemptions == 0 => {
                    prop_assert_eq!(total, start - job.submit, "job {}", job.name);
                }
                None => prop_assert!(total <= r.end_time.since(job.submit)),
                _ => {}
            }
        }
    }
}
