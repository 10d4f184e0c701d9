//! Elastic training in the engine: jobs that start below their requested size,
//! grow into idle GPUs, shrink for waiting jobs, and pay a rescale overhead.
//! Every expected time below is worked out by hand in the comments.

use schedlab::cluster::PoolSpec;
use schedlab::engine::{ElasticConfig, EngineConfig, simulate};
use schedlab::metrics::{JobStatus, RunResult, Summary};
use schedlab::policy::elastic::ElasticKind;
use schedlab::policy::placement::PlacementKind;
use schedlab::policy::scheduler::SchedulerKind;
use schedlab::report::jobs_csv;
use schedlab::workload::elastic::{ElasticSpec, Scaling};
use schedlab::workload::{JobDraft, Workload};

fn node(gpus: u32, nodes: u32) -> Vec<PoolSpec> {
    vec![PoolSpec {
        name: "p".into(),
        nodes,
        gpus_per_node: gpus,
        gpu_model: "A100".into(),
        cpu_milli: 64_000,
        memory_mib: 262_144,
        price_per_node_hour: None,
        labels: Default::default(),
        kind: Default::default(),
    }]
}

fn elastic(min: u32, max: u32, scaling: Scaling) -> Option<Box<ElasticSpec>> {
    Some(Box::new(ElasticSpec {
        min_workers: min,
        max_workers: max,
        scaling,
    }))
}

fn run(w: &Workload, pools: &[PoolSpec], policy: ElasticKind, overhead_s: u64) -> RunResult {
    let config = EngineConfig {
        check_invariants: true,
        elastic: Some(ElasticConfig {
            policy,
            rescale_overhead: overhead_s * 1_000,
        }),
        ..EngineConfig::default()
    };
    simulate(
        w,
        pools,
        SchedulerKind::FifoSkip,
        PlacementKind::FirstFit,
        config,
    )
    .unwrap()
}

fn end_s(r: &RunResult, job: usize) -> f64 {
    r.outcomes[job].end.expect("finished").as_secs_f64()
}

const PERFECT: Scaling = Scaling::Linear { efficiency: 1.0 };

#[test]
fn a_lone_elastic_job_grows_into_the_idle_node_for_free_at_its_start() {
    // 400 s of work at 1 worker; 4 idle GPUs and perfect scaling: it starts
    // at 4 workers (a resize at the start instant costs nothing) → 100 s.
    let mut w = Workload::from_drafts(vec![JobDraft::new("a").duration_s(400)]);
    w.jobs[0].elastic = elastic(1, 4, PERFECT);
    let r = run(&w, &node(4, 1), ElasticKind::MarginalGain, 10);
    assert_eq!(end_s(&r, 0), 100.0);
    assert_eq!(r.outcomes[0].resizes, 0);
    assert_eq!(r.outcomes[0].mean_workers_milli(), Some(4_000));
    // Start-only never resizes: 400 s.
    let r = run(&w, &node(4, 1), ElasticKind::StartOnly, 10);
    assert_eq!(end_s(&r, 0), 400.0);
}

#[test]
fn an_arrival_shrinks_the_elastic_job_and_growing_back_must_pay_off() {
    // A: 400 s of work at 1 worker, grown to 4 at t=0. At t=50 B (2 GPUs,
    // 100 s) arrives: A has done 200; it gives up 2 workers (the fewest that
    // make B fit) and pays 10 s: 200 left at 2 workers → ends at 50+10+100 =
    // 160. B runs 50..150. At 150 A has 20 left (10 s at 2 workers); growing
    // would take 10 + 20/3 s: not worth it, so it stays at 2.
    let mut w = Workload::from_drafts(vec![
        JobDraft::new("a").duration_s(400),
        JobDraft::new("b").submit_s(50).gpus(2).duration_s(100),
    ]);
    w.jobs[0].elastic = elastic(1, 4, PERFECT);
    let r = run(&w, &node(4, 1), ElasticKind::MarginalGain, 10);
    assert_eq!(end_s(&r, 0), 160.0);
    assert_eq!(r.outcomes[1].start.unwrap().as_secs_f64(), 50.0);
    assert_eq!(end_s(&r, 1), 150.0);
    assert_eq!(r.outcomes[0].resizes, 1);
    // Mean size: 4 workers for 50 s, 2 for 110 s → 420/160 = 2.625.
    assert_eq!(r.outcomes[0].mean_workers_milli(), Some(2_625));
    let csv = String::from_utf8(jobs_csv(&w, &r)).unwrap();
    // The resizes and mean_workers columns of job a.
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let col = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!((col("resizes"), col("mean_workers")), ("1", "2.625"));
}

#[test]
fn spare_gpus_go_to_the_job_with_the_best_marginal_speedup() {
    // A scales perfectly, B barely (1.2× at 2 workers). Both start with 1
    // worker; the 2 idle GPUs both go to A (gains 1.0 then 0.5, against B's
    // 0.2): A 300 s of work at 3 workers = 100 s, B 100 s at 1 worker.
    let mut w = Workload::from_drafts(vec![
        JobDraft::new("a").duration_s(300),
        JobDraft::new("b").duration_s(100),
    ]);
    w.jobs[0].elastic = elastic(1, 4, PERFECT);
    w.jobs[1].elastic = elastic(1, 4, Scaling::Table(vec![1.0, 1.2, 1.3, 1.35]));
    let r = run(&w, &node(4, 1), ElasticKind::MarginalGain, 10);
    assert_eq!(end_s(&r, 0), 100.0);
    assert_eq!(end_s(&r, 1), 100.0);
    assert_eq!(r.outcomes[0].mean_workers_milli(), Some(3_000));
    assert_eq!(r.outcomes[1].mean_workers_milli(), Some(1_000));
}

#[test]
fn an_elastic_job_starts_below_its_request_and_grows_when_room_appears() {
    // R holds 3 of 4 GPUs for 100 s. E asks for 2 workers (100 s of work at
    // 2), may run with 1: it starts at once at half speed. At t=100 it has 50
    // left; growing to 4 workers (2× its requested speed) costs 10 s and then
    // 25 s → ends at 135. Start-only keeps 1 worker: ends at 200.
    let mut w = Workload::from_drafts(vec![
        JobDraft::new("r").gpus(3).duration_s(100),
        JobDraft::new("e").workers(2).duration_s(100),
    ]);
    w.jobs[1].elastic = elastic(1, 4, PERFECT);
    let grown = run(&w, &node(4, 1), ElasticKind::MarginalGain, 10);
    assert_eq!(grown.outcomes[1].start.unwrap().as_secs_f64(), 0.0);
    assert_eq!(end_s(&grown, 1), 135.0);
    let fixed = run(&w, &node(4, 1), ElasticKind::StartOnly, 10);
    assert_eq!(fixed.outcomes[1].start.unwrap().as_secs_f64(), 0.0);
    assert_eq!(end_s(&fixed, 1), 200.0);
    // A rigid copy of E waits for R: 100 + 100 = 200 as well, but starts late.
    let mut rigid = w.clone();
    rigid.jobs[1].elastic = None;
    let r = run(&rigid, &node(4, 1), ElasticKind::MarginalGain, 10);
    assert_eq!(r.outcomes[1].start.unwrap().as_secs_f64(), 100.0);
    assert_eq!(end_s(&r, 1), 200.0);
    let s = Summary::compute(&w, &grown);
    let e = s.elastic.expect("an elastic summary");
    assert_eq!((e.jobs, e.resizes), (1, 1));
}

#[test]
fn elastic_jobs_never_shrink_below_their_minimum() {
    // A (min 2) holds the 4 GPUs; B needs 3: shrinking A to its minimum frees
    // only 2, so nothing changes and B waits for A.
    let mut w = Workload::from_drafts(vec![
        JobDraft::new("a").workers(2).duration_s(100),
        JobDraft::new("b").submit_s(10).gpus(3).duration_s(10),
    ]);
    w.jobs[0].elastic = elastic(2, 4, PERFECT);
    let r = run(&w, &node(4, 1), ElasticKind::MarginalGain, 10);
    // A: 4 workers from t=0, 2× its requested speed → 50 s.
    assert_eq!(end_s(&r, 0), 50.0);
    assert_eq!(r.outcomes[0].resizes, 0);
    assert_eq!(r.outcomes[1].start.unwrap().as_secs_f64(), 50.0);
    assert!(r.outcomes.iter().all(|o| o.status == JobStatus::Finished));
}

mod common;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// On random workloads with random elastic jobs, under every scheduler
    /// that needs no parameters: the engine's invariant checker passes after
    /// every event (no node over-allocated, sizes within each job's range,
    /// every arrived job accounted for), and every job that could ever fit
    /// finishes.
    #[test]
    fn elastic_runs_keep_every_invariant(
        pools in common::pools(),
        w in common::jobs(3),
        picks in proptest::collection::vec((any::<bool>(), 1u32..=3, 0u8..2), 12),
        overhead_s in 0u64..30,
        marginal in any::<bool>(),
        sched in prop::sample::select(vec![
            SchedulerKind::Fifo, SchedulerKind::FifoSkip, SchedulerKind::Sjf,
            SchedulerKind::Tiresias, SchedulerKind::Priority, SchedulerKind::Drf,
        ]),
    ) {
        let mut w = w;
        for (job, &(on, factor, curve)) in w.jobs.iter_mut().zip(&picks) {
            if on && job.gpu.whole() > 0 {
                job.elastic = elastic(
                    1,
                    job.workers * factor,
                    if curve == 0 { PERFECT } else { Scaling::Table(vec![1.0, 1.5, 1.7]) },
                );
            }
        }
        let config = EngineConfig {
            check_invariants: true,
            elastic: Some(ElasticConfig {
                policy: if marginal { ElasticKind::MarginalGain } else { ElasticKind::StartOnly },
                rescale_overhead: overhead_s * 1_000,
            }),
            ..EngineConfig::default()
        };
        let r = simulate(&w, &pools, sched, PlacementKind::BestFit, config).unwrap();
        for (o, job) in r.outcomes.iter().zip(&w.jobs) {
            let expected = if common::ever_fits(&pools, job) {
                JobStatus::Finished
            } else {
                JobStatus::Unschedulable
            };
            prop_assert_eq!(o.status, expected, "job {}", job.name);
        }
    }
}

#[test]
fn an_elastic_job_larger_than_the_cluster_runs_at_the_size_that_fits() {
    // It asks for 3 workers of 4 GPUs on two 4-GPU nodes: a rigid gang would
    // be unschedulable, an elastic one (min 1) runs with 2 workers at 2/3 of
    // its requested speed: 120 s of work → 180 s.
    let mut w = Workload::from_drafts(vec![JobDraft::new("e").workers(3).gpus(4).duration_s(120)]);
    w.jobs[0].elastic = elastic(1, 3, PERFECT);
    let r = run(&w, &node(4, 2), ElasticKind::StartOnly, 0);
    assert_eq!(r.outcomes[0].status, JobStatus::Finished);
    assert_eq!(end_s(&r, 0), 180.0);
    let mut rigid = w.clone();
    rigid.jobs[0].elastic = None;
    let r = run(&rigid, &node(4, 2), ElasticKind::StartOnly, 0);
    assert_eq!(r.outcomes[0].status, JobStatus::Unschedulable);
}
