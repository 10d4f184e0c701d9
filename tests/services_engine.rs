//! Inference services in the engine: HPA scaling on the request rate,
//! preemption of lower-priority training jobs, and the SLO report.

use std::path::Path;

use schedlab::cluster::PoolSpec;
use schedlab::engine::{EngineConfig, ServiceConfig, simulate};
use schedlab::inference::service::ServiceSpec;
use schedlab::metrics::{JobStatus, Summary};
use schedlab::policy::placement::PlacementKind;
use schedlab::policy::scheduler::SchedulerKind;
use schedlab::time::SimTime;
use schedlab::workload::{JobDraft, Workload};

const CHAT: &str = r#"
name = "chat"
priority = 100
capacity_rps = 10.0
slo_ms = 500.0
initial_replicas = 1
[replica]
gpus = 1
cpu_milli = 1000
memory_mib = 1024
[latency]
kind = "mmc"
[rate]
kind = "diurnal"
base_rps = 25.0
amplitude = 0.0
duration_s = 3600.0
[hpa]
max_replicas = 4
target_utilization = 0.5
"#;

/// A service from its TOML.
fn service(toml_src: &str) -> ServiceConfig {
    let spec: ServiceSpec = toml::from_str(toml_src).unwrap();
    spec.validate().unwrap();
    let rate = spec.rate.load(Path::new("."), 0).unwrap();
    ServiceConfig { spec, rate }
}

/// One node of 4 A100s.
fn one_node() -> [PoolSpec; 1] {
    [PoolSpec {
        name: "gpu".into(),
        nodes: 1,
        gpus_per_node: 4,
        gpu_model: "A100".into(),
        cpu_milli: 32_000,
        memory_mib: 131_072,
        price_per_node_hour: None,
        labels: Default::default(),
        kind: Default::default(),
    }]
}

/// One 4-GPU node. At 0 the service starts its one initial replica and the
/// training job T (3 GPUs) starts beside it. At the first HPA sync (15 s) one
/// replica sees 25 rps against 10 rps of capacity: utilisation 2.5 against a
/// target of 0.5 asks for 5 replicas, capped at 4, so 3 more are needed and
/// T (priority 0 < 100) is preempted to make room. From 0 to 15 s the single
/// replica is saturated (p95 at the 10 s cap): 0.25 SLO-violation minutes;
/// with 4 replicas (utilisation 0.625) the p95 is under the 500 ms SLO.
#[test]
fn the_hpa_scales_up_and_preempts_training() {
    let w = Workload::from_drafts(vec![JobDraft::new("T").gpus(3).duration_s(1000)]);
    let pools = one_node();
    let cfg = EngineConfig {
        check_invariants: true,
        horizon: Some(SimTime::from_secs(60)),
        services: vec![service(CHAT)],
        ..EngineConfig::default()
    };
    let r = simulate(
        &w,
        &pools,
        SchedulerKind::FifoSkip,
        PlacementKind::BestFit,
        cfg,
    )
    .unwrap();
    let t = &r.outcomes[0];
    assert_eq!(t.start, Some(SimTime::ZERO));
    assert_eq!((t.preemptions, t.status), (1, JobStatus::Pending));
    let s = &r.services[0];
    assert_eq!(s.preemptions_caused, 1);
    assert_eq!(s.slo.slo_violation_minutes, 0.25);
    // 1 replica for 15 s, then 4 for 45 s: 195 replica-seconds.
    assert!(
        (s.slo.replica_hours - 195.0 / 3600.0).abs() < 1e-9,
        "{}",
        s.slo.replica_hours
    );
    let summary = Summary::compute(&w, &r);
    assert_eq!(summary.services.len(), 1);
}

const WEB: &str = r#"
name = "web"
priority = 1000
capacity_rps = 10.0
slo_ms = 500.0
initial_replicas = 2
[replica]
gpus = 1
cpu_milli = 1000
memory_mib = 1024
[latency]
kind = "mmc"
[rate]
kind = "diurnal"
base_rps = 5.0
amplitude = 0.0
duration_s = 3600.0
[[rollouts]]
at_s = 30.0
version = "v2"
max_surge = 1
max_unavailable = 0
"#;

/// Two replicas on a 4-GPU node; a rollout at 30 s with maxSurge 1 and
/// maxUnavailable 0 needs a spare GPU for the surge pod. With T (2 GPUs,
/// priority 2000, not preemptible by the service) running until 100 s there
/// is none, so the rollout waits, keeping 2 replicas, and completes at the
/// first sync after T ends (105 s). Without T it completes at 30 s.
#[test]
fn a_rollout_needs_gpus_for_its_surge() {
    let pools = one_node();
    let run = |with_t: bool| {
        let jobs = if with_t {
            vec![JobDraft::new("T").gpus(2).duration_s(100).priority(2000)]
        } else {
            vec![JobDraft::new("idle").submit_s(500).gpus(1).duration_s(1)]
        };
        let w = Workload::from_drafts(jobs);
        let cfg = EngineConfig {
            check_invariants: true,
            horizon: Some(SimTime::from_secs(200)),
            services: vec![service(WEB)],
            ..EngineConfig::default()
        };
        simulate(
            &w,
            &pools,
            SchedulerKind::FifoSkip,
            PlacementKind::BestFit,
            cfg,
        )
        .unwrap()
    };
    let blocked = run(true);
    assert_eq!(blocked.outcomes[0].start, Some(SimTime::ZERO));
    assert_eq!(blocked.services[0].rollouts_completed_at_s, [105.0]);
    let free = run(false);
    assert_eq!(free.services[0].rollouts_completed_at_s, [30.0]);
    // Both keep 2 replicas throughout (195 s × 2 = 400 replica-seconds to the horizon).
    for r in [&blocked, &free] {
        assert!(
            (r.services[0].slo.replica_hours - 400.0 / 3600.0).abs() < 1e-9,
            "{}",
            r.services[0].slo.replica_hours
        );
    }
}
