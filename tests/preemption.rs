//! Preemption mechanics of the engine, driven by a minimal priority scheduler
//! written against the public `Scheduler` trait: checkpoints, restore
//! overhead, lost work and the jobs.csv columns that report them.

use schedlab::cluster::PoolSpec;
use schedlab::engine::{EngineConfig, Simulation};
use schedlab::ids::JobId;
use schedlab::metrics::{RunResult, Summary};
use schedlab::policy::placement::PlacementKind;
use schedlab::policy::scheduler::{Scheduler, SchedulingPass, StartOutcome};
use schedlab::report::jobs_csv;
use schedlab::workload::{JobDraft, Workload};

/// Tries pending jobs in arrival order; a job that does not fit preempts
/// running jobs of lower priority (lowest first, then latest started) until
/// it does, if it can.
struct Bully;

impl Scheduler for Bully {
    fn name(&self) -> &'static str {
        "bully"
    }

    fn schedule(&mut self, pass: &mut dyn SchedulingPass) {
        let pending: Vec<JobId> = pass.pending().to_vec();
        for job in pending {
            if pass.try_start(job) == StartOutcome::Started {
                continue;
            }
            let prio = pass.job(job).priority;
            let mut victims: Vec<JobId> = pass
                .running()
                .iter()
                .copied()
                .filter(|&r| pass.job(r).priority < prio)
                .collect();
            victims.sort_by_key(|&v| {
                (
                    pass.job(v).priority,
                    std::cmp::Reverse(pass.progress(v).run_start),
                )
            });
            if pass.fits_if_preempted(job, &victims) {
                for v in victims {
                    pass.preempt(v);
                    if pass.fits_now(job) {
                        break;
                    }
                }
                assert_eq!(pass.try_start(job), StartOutcome::Started);
            }
        }
    }
}

fn run(w: &Workload, checkpoint_s: u64, restore_s: u64) -> RunResult {
    let pools = [PoolSpec {
        name: "p".into(),
        nodes: 1,
        gpus_per_node: 4,
        gpu_model: "V100".into(),
        cpu_milli: 32_000,
        memory_mib: 131_072,
        price_per_node_hour: None,
        labels: Default::default(),
        kind: Default::default(),
    }];
    let cfg = EngineConfig {
        check_invariants: true,
        checkpoint_interval: checkpoint_s * 1000,
        restore_overhead: restore_s * 1000,
        ..EngineConfig::default()
    };
    Simulation::new(
        w,
        &pools,
        Box::new(Bully),
        PlacementKind::BestFit.build(),
        cfg,
    )
    .run(|_| {})
    .unwrap()
}

/// A (4 GPUs, 100 s) runs from 0; B (4 GPUs, 10 s, higher priority) arrives at
/// 30 and preempts it. With 20 s checkpoints A keeps 20 s of work and loses
/// 10 s × 4 GPUs = 40 GPU-s; it restarts when B ends at 40, restores for 5 s
/// and runs its remaining 80 s: it ends at 125.
fn workload() -> Workload {
    Workload::from_drafts(vec![
        JobDraft::new("A").gpus(4).duration_s(100),
        JobDraft::new("B")
            .submit_s(30)
            .gpus(4)
            .duration_s(10)
            .priority(10),
    ])
}

#[test]
fn checkpoints_keep_progress_and_restores_cost_time() {
    let w = workload();
    let r = run(&w, 20, 5);
    let a = &r.outcomes[0];
    assert_eq!(
        (a.start.unwrap().as_millis(), a.end.unwrap().as_millis()),
        (0, 125_000)
    );
    assert_eq!((a.preemptions, a.restarts), (1, 1));
    assert_eq!(a.lost_gpu_milli_ms, 40 * 1000 * 1000);
    let b = &r.outcomes[1];
    assert_eq!(
        (b.start.unwrap().as_millis(), b.end.unwrap().as_millis()),
        (30_000, 40_000)
    );
    let s = Summary::compute(&w, &r);
    assert_eq!(s.preemptions, 1);
    assert_eq!(
        s.lost_gpu_hours,
        ((40.0 / 3600.0_f64) * 1000.0).round() / 1000.0
    );
    let csv = String::from_utf8(jobs_csv(&w, &r)).unwrap();
    let row_a = csv.lines().nth(1).unwrap();
    // preemptions, failures, restarts, lost GPU-s (columns 13..17), and
    // the 10 s it waited after its preemption (wait_preempted_s), status.
    let cols: Vec<&str> = row_a.split(',').collect();
    assert_eq!(cols[13..17], ["1", "0", "1", "40.000"], "{row_a}");
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| cols[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(
        (col("wait_preempted_s"), col("status")),
        ("10.000", "finished")
    );
}

/// Without checkpoints A loses all 30 s of progress (120 GPU-s) and reruns
/// its whole 100 s after the 5 s restore: it ends at 145.
#[test]
fn without_checkpoints_all_progress_is_lost() {
    let r = run(&workload(), 0, 5);
    let a = &r.outcomes[0];
    assert_eq!(a.end.unwrap().as_millis(), 145_000);
    assert_eq!(a.lost_gpu_milli_ms, 120 * 1000 * 1000);
}

/// A job preempted twice accumulates lost work and restarts; checkpoints
/// count job progress, not wall time (the restore is not progress).
#[test]
fn repeated_preemptions_accumulate() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("A").gpus(4).duration_s(100),
        JobDraft::new("B")
            .submit_s(30)
            .gpus(4)
            .duration_s(10)
            .priority(10),
        JobDraft::new("C")
            .submit_s(70)
            .gpus(4)
            .duration_s(10)
            .priority(10),
    ]);
    // A: 0..30 (progress 30, keeps 20, loses 10); B 30..40; A restarts at 40,
    // restores until 45, progresses 25 s to 45 by 70 (keeps 40, loses 5);
    // C 70..80; A restarts at 80, restores to 85, runs its last 60 s: ends 145.
    let r = run(&w, 20, 5);
    let a = &r.outcomes[0];
    assert_eq!(a.end.unwrap().as_millis(), 145_000);
    assert_eq!((a.preemptions, a.restarts), (2, 2));
    assert_eq!(a.lost_gpu_milli_ms, 15 * 4 * 1000 * 1000);
}
