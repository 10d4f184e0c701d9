//! The cluster autoscaler driven by the engine: scale-up for pending gangs,
//! provisioning delays, scale-down of idle nodes, and what it costs.

use schedlab::cluster::PoolSpec;
use schedlab::engine::{EngineConfig, simulate};
use schedlab::metrics::Summary;
use schedlab::policy::autoscaler::AutoscalerSpec;
use schedlab::policy::placement::PlacementKind;
use schedlab::policy::scheduler::SchedulerKind;
use schedlab::workload::{JobDraft, Workload};

fn pool(nodes: u32) -> Vec<PoolSpec> {
    vec![PoolSpec {
        name: "gpu".into(),
        nodes,
        gpus_per_node: 4,
        gpu_model: "A100".into(),
        cpu_milli: 32_000,
        memory_mib: 131_072,
        price_per_node_hour: Some(36.0),
        labels: Default::default(),
        kind: Default::default(),
    }]
}

fn autoscaler(max: u32) -> AutoscalerSpec {
    toml::from_str(&format!(
        "[node_groups.gpu]\nmin_size = 0\nmax_size = {max}\nprovisioning = {{ kind = \"fixed\", seconds = 60 }}\n"
    ))
    .unwrap()
}

/// An empty node group. A (4 GPUs, 100 s) arrives at 0: the scan at 0 asks
/// for a node, ready at 60, A runs 60..160. The idle node is removed 600 s
/// after the first scan that saw it idle (160), at 760 (delay-after-add, 600
/// s from the scale-up at 0, has passed). B arrives at 1000: a new node at
/// 1000, ready at 1060, B runs 1060..1160. Paid: 0..760 and 1000..1160 =
/// 920 node-seconds at 36/h = 9.2.
#[test]
fn scales_up_for_pending_gangs_and_down_when_idle() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("A").gpus(4).duration_s(100),
        JobDraft::new("B").submit_s(1000).gpus(4).duration_s(100),
    ]);
    let cfg = EngineConfig {
        check_invariants: true,
        autoscaler: Some((autoscaler(2), 1)),
        sample_interval: 10_000,
        ..EngineConfig::default()
    };
    let r = simulate(
        &w,
        &pool(0),
        SchedulerKind::FifoSkip,
        PlacementKind::BestFit,
        cfg,
    )
    .unwrap();
    let starts: Vec<u64> = r
        .outcomes
        .iter()
        .map(|o| o.start.unwrap().as_millis() / 1000)
        .collect();
    assert_eq!(starts, [60, 1060]);
    let s = Summary::compute(&w, &r);
    assert_eq!(
        s.cost.node_hours,
        (920.0_f64 / 3600.0 * 1000.0).round() / 1000.0
    );
    assert_eq!(s.cost.total, 9.2);
    // The timeline shows the node provisioning, then ready, then gone.
    let at = |t: u64| {
        r.timeline
            .iter()
            .find(|x| x.time.as_millis() == t * 1000)
            .unwrap()
    };
    assert_eq!(
        (
            at(30).nodes_provisioning,
            at(30).nodes_ready,
            at(30).pending_jobs
        ),
        (1, 0, 1)
    );
    assert_eq!((at(100).nodes_provisioning, at(100).nodes_ready), (0, 1));
    assert_eq!(at(800).nodes_ready, 0);
    // timeline.csv adds the ready nodes of each pool, named after it.
    let csv = String::from_utf8(schedlab::report::timeline_csv(&r)).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",nodes_provisioning,ready_gpu")
    );
    let row = |t: &str| csv.lines().find(|l| l.starts_with(t)).unwrap().to_string();
    assert!(row("30.000,").ends_with(",0,1,0"), "{}", row("30.000,"));
    assert!(row("100.000,").ends_with(",1,0,1"), "{}", row("100.000,"));
}

/// A 2-node gang with max size 1 never triggers a scale-up: it is reported
/// unschedulable at arrival (it could not fit even at the group's largest).
/// With max size 2, both nodes come up and it runs.
#[test]
fn gangs_scale_up_only_when_the_whole_gang_can_be_placed() {
    let w = Workload::from_drafts(vec![JobDraft::new("G").gpus(4).workers(2).duration_s(50)]);
    let run = |max| {
        let cfg = EngineConfig {
            check_invariants: true,
            autoscaler: Some((autoscaler(max), 1)),
            ..EngineConfig::default()
        };
        simulate(
            &w,
            &pool(0),
            SchedulerKind::FifoSkip,
            PlacementKind::BestFit,
            cfg,
        )
        .unwrap()
    };
    assert_eq!(
        run(1).outcomes[0].status,
        schedlab::metrics::JobStatus::Unschedulable
    );
    let r = run(2);
    assert_eq!(r.outcomes[0].start.unwrap().as_millis(), 60_000);
    assert_eq!(r.outcomes[0].nodes_used, 2);
}
