//! Hand-worked cases of the cluster-autoscaler decision model
//! (`schedlab::policy::autoscaler`): scale-up, gang-awareness, expanders,
//! scale-down timers and cooldowns, min size, provisioning timeouts and
//! back-off, and the provisioning-delay distributions.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use schedlab::cluster::{Cluster, GpuShare, NodeState, PoolSpec, WorkerAlloc, WorkerRequest};
use schedlab::ids::{NodeId, PoolId};
use schedlab::policy::autoscaler::{
    AutoscalerSpec, ClusterAutoscaler, Decision, DelaySpec, ExpanderChain, ExpanderKind,
    NodeGroupSpec, PendingGang, ScanInput,
};
use schedlab::time::{Millis, SimTime};
use schedlab::workload::GpuDemand;

fn pool(name: &str, nodes: u32, gpus: u32) -> PoolSpec {
    PoolSpec {
        name: name.into(),
        nodes,
        gpus_per_node: gpus,
        gpu_model: "A100".into(),
        cpu_milli: 64_000,
        memory_mib: 512_000,
        price_per_node_hour: None,
        labels: Default::default(),
        kind: Default::default(),
    }
}

fn group(min_size: u32, max_size: u32) -> NodeGroupSpec {
    NodeGroupSpec {
        min_size,
        max_size,
        provisioning: DelaySpec::default(),
        priority: 0,
    }
}

fn spec(groups: &[(&str, NodeGroupSpec)]) -> AutoscalerSpec {
    AutoscalerSpec {
        node_groups: groups
            .iter()
            .map(|(n, g)| (n.to_string(), g.clone()))
            .collect(),
        ..AutoscalerSpec::default()
    }
}

/// `workers` workers of `gpus` whole GPUs each, no CPU or memory.
fn gang(workers: u32, gpus: u32, allowed: &[bool]) -> PendingGang {
    PendingGang {
        workers,
        gpu: GpuDemand::Whole(gpus),
        cpu_milli: 0,
        memory_mib: 0,
        allowed_pools: allowed.to_vec(),
        priority: 0,
    }
}

/// Takes every GPU of `node` with one worker.
fn occupy(c: &mut Cluster, node: NodeId) -> WorkerAlloc {
    let all = vec![true; c.pools().len()];
    let gpus = c.nodes()[node.index()].gpu_count();
    let req = WorkerRequest {
        gpu: GpuDemand::Whole(gpus),
        cpu_milli: 0,
        memory_mib: 0,
        allowed_pools: &all,
    };
    let alloc = WorkerAlloc {
        node,
        gpus: (0..gpus)
            .map(|index| GpuShare { index, milli: 1000 })
            .collect(),
        cpu_milli: 0,
        memory_mib: 0,
    };
    c.allocate(&alloc, &req).unwrap();
    alloc
}

/// The engine side of the tests: a cluster, request times, and scans.
struct World {
    ca: ClusterAutoscaler,
    cluster: Cluster,
    requested: BTreeMap<NodeId, SimTime>,
}

impl World {
    fn new(pools: &[PoolSpec], spec: AutoscalerSpec, seed: u64) -> World {
        World {
            ca: ClusterAutoscaler::new(spec, pools, seed).unwrap(),
            cluster: Cluster::new(pools),
            requested: BTreeMap::new(),
        }
    }

    fn scan(&mut self, secs: u64, pending: &[PendingGang]) -> Vec<Decision> {
        self.ca.scan(&ScanInput {
            now: SimTime::from_secs(secs),
            cluster: &self.cluster,
            requested_at: &self.requested,
            pending,
        })
    }

    /// Applies decisions like the engine will: new nodes start provisioning
    /// (and stay so: readiness is the engine's business), removed and given-up
    /// nodes become `Removed`.
    fn apply(&mut self, secs: u64, decisions: &[Decision]) {
        for d in decisions {
            match d {
                Decision::ScaleUp { pool, nodes, .. } => {
                    for _ in 0..*nodes {
                        let id = self.cluster.add_node(*pool, NodeState::Provisioning);
                        self.requested.insert(id, SimTime::from_secs(secs));
                    }
                }
                Decision::ScaleDown { node } | Decision::GiveUp { node } => {
                    self.cluster.set_state(*node, NodeState::Removed);
                    self.requested.remove(node);
                }
            }
        }
    }
}

fn scale_up(pool: u32, nodes: u32, delay_ms: Millis, gangs: &[usize]) -> Decision {
    Decision::ScaleUp {
        pool: PoolId(pool),
        nodes,
        provisioning_ms: vec![delay_ms; nodes as usize],
        gangs: gangs.to_vec(),
    }
}

#[test]
fn scales_up_for_a_pending_gang() {
    // One busy 8-GPU node; a 2×8 gang needs two more nodes of the group.
    let mut g = group(0, 4);
    g.provisioning = DelaySpec::Fixed { seconds: 120.0 };
    let pools = [pool("a", 1, 8)];
    let mut w = World::new(&pools, spec(&[("a", g)]), 1);
    occupy(&mut w.cluster, NodeId(0));
    let d = w.scan(0, &[gang(2, 8, &[true])]);
    assert_eq!(d, [scale_up(0, 2, 120_000, &[0])]);
    assert_eq!(w.ca.last_scale_up(), Some(SimTime::ZERO));
}

#[test]
fn no_scale_up_when_the_gang_fits_on_upcoming_nodes() {
    let pools = [pool("a", 1, 8)];
    let mut w = World::new(&pools, spec(&[("a", group(0, 8))]), 1);
    occupy(&mut w.cluster, NodeId(0));
    let pending = [gang(2, 8, &[true])];
    let d = w.scan(0, &pending);
    assert_eq!(d, [scale_up(0, 2, 0, &[0])]);
    w.apply(0, &d);
    // Ten seconds later the two nodes are still provisioning: the gang will fit
    // on them, so nothing more is asked for.
    assert_eq!(w.scan(10, &pending), []);
    // A second, 3×8 gang straddles: nothing left upcoming, so it needs three.
    // (The first gang holds the two upcoming nodes in the simulation.)
    let more = [gang(2, 8, &[true]), gang(3, 8, &[true])];
    assert_eq!(w.scan(20, &more), [scale_up(0, 3, 0, &[1])]);
}

#[test]
fn gang_aware_no_partial_scale_up() {
    // A 2×8 gang in a group of max size 1: one more node would place half the
    // gang, which is useless, so nothing is asked for.
    let pools = [pool("a", 0, 8)];
    let pending = [gang(2, 8, &[true])];
    let mut w = World::new(&pools, spec(&[("a", group(0, 1))]), 1);
    assert_eq!(w.scan(0, &pending), []);
    // Max size 2: both nodes.
    let mut w = World::new(&pools, spec(&[("a", group(0, 2))]), 1);
    assert_eq!(w.scan(0, &pending), [scale_up(0, 2, 0, &[0])]);
    // Max size 2 but max_nodes_total 1: nothing.
    let mut s = spec(&[("a", group(0, 2))]);
    s.max_nodes_total = Some(1);
    let mut w = World::new(&pools, s, 1);
    assert_eq!(w.scan(0, &pending), []);
    // A smaller gang that fits the room is still helped; the big one is not.
    let mut w = World::new(&pools, spec(&[("a", group(0, 1))]), 1);
    let two = [gang(2, 8, &[true]), gang(1, 4, &[true])];
    assert_eq!(w.scan(0, &two), [scale_up(0, 1, 0, &[1])]);
}

#[test]
fn a_gang_uses_free_capacity_plus_new_nodes() {
    // One free 8-GPU node: a 2×8 gang needs only one more.
    let pools = [pool("a", 1, 8)];
    let mut w = World::new(&pools, spec(&[("a", group(0, 1 + 1))]), 1);
    assert_eq!(w.scan(0, &[gang(2, 8, &[true])]), [scale_up(0, 1, 0, &[0])]);
}

#[test]
fn gangs_not_allowed_in_a_pool_or_expendable_do_not_scale_it() {
    let pools = [pool("a", 0, 8), pool("b", 0, 8)];
    let s = spec(&[("a", group(0, 4))]);
    let mut w = World::new(&pools, s, 1);
    // Only pool b (not autoscaled) may run it.
    assert_eq!(w.scan(0, &[gang(1, 8, &[false, true])]), []);
    // Priority -11 is below the default cutoff of -10.
    let mut low = gang(1, 8, &[true, true]);
    low.priority = -11;
    assert_eq!(w.scan(10, std::slice::from_ref(&low)), []);
    low.priority = -10;
    assert_eq!(w.scan(20, &[low]), [scale_up(0, 1, 0, &[0])]);
    // Too big for any node of the group: nothing.
    let mut w = World::new(&pools, spec(&[("a", group(0, 4))]), 1);
    assert_eq!(w.scan(0, &[gang(1, 16, &[true, true])]), []);
}

/// Four groups that could each run a 1×4-GPU gang (16 cores, 64000 MiB):
///
/// | pool   | GPUs | cores | MiB     | price/h | priority | waste            | cost/pod |
/// |--------|------|-------|---------|---------|----------|------------------|----------|
/// | big    | 8    | 64    | 256000  | 10      | 0        | .75 + .75 = 1.5  | 10       |
/// | small  | 4    | 16    | 64000   | 8       | 0        | 0 + 0 = 0        | 8        |
/// | cheap  | 4    | 32    | 128000  | 3       | 0        | .5 + .5 = 1      | 3        |
/// | pref   | 8    | 96    | 512000  | 20      | 10       | .833 + .875      | 20       |
fn expander_world(chain: &str, seed: u64) -> World {
    let shape = |name: &str, gpus, cores: u32, mib, price| PoolSpec {
        cpu_milli: cores * 1000,
        memory_mib: mib,
        price_per_node_hour: Some(price),
        ..pool(name, 0, gpus)
    };
    let pools = [
        shape("big", 8, 64, 256_000, 10.0),
        shape("small", 4, 16, 64_000, 8.0),
        shape("cheap", 4, 32, 128_000, 3.0),
        shape("pref", 8, 96, 512_000, 20.0),
    ];
    let mut pref = group(0, 4);
    pref.priority = 10;
    let mut s = spec(&[
        ("big", group(0, 4)),
        ("small", group(0, 4)),
        ("cheap", group(0, 4)),
        ("pref", pref),
    ]);
    s.expander = ExpanderChain::parse(chain).unwrap();
    World::new(&pools, s, seed)
}

fn chosen(w: &mut World) -> u32 {
    let g = PendingGang {
        cpu_milli: 16_000,
        memory_mib: 64_000,
        ..gang(1, 4, &[true; 4])
    };
    match w.scan(0, &[g]).as_slice() {
        [Decision::ScaleUp { pool, nodes: 1, .. }] => pool.0,
        other => panic!("expected one scale-up of one node, got {other:?}"),
    }
}

#[test]
fn each_expander_picks_its_own_group() {
    assert_eq!(chosen(&mut expander_world("least-waste", 0)), 1); // small
    assert_eq!(chosen(&mut expander_world("price", 0)), 2); // cheap
    assert_eq!(chosen(&mut expander_world("priority", 0)), 3); // pref
    // Random: the same seed gives the same pool; over seeds, every pool.
    let picks: Vec<u32> = (0..64)
        .map(|s| chosen(&mut expander_world("random", s)))
        .collect();
    let again: Vec<u32> = (0..64)
        .map(|s| chosen(&mut expander_world("random", s)))
        .collect();
    assert_eq!(picks, again);
    for p in 0..4 {
        assert!(picks.contains(&p), "pool {p} never drawn: {picks:?}");
    }
}

#[test]
fn chain_and_gpu_aware_least_waste() {
    // Two groups of equal CPU and memory, 8 vs 4 GPUs; a 1×4-GPU gang that
    // asks for all the CPU and memory. Upstream least-waste ignores GPUs: a tie,
    // settled by the next expander (priority: the 8-GPU group, priority 1).
    let pools = [pool("eight", 0, 8), pool("four", 0, 4)];
    let mut eight = group(0, 2);
    eight.priority = 1;
    let g = PendingGang {
        cpu_milli: 64_000,
        memory_mib: 512_000,
        ..gang(1, 4, &[true, true])
    };
    let mut s = spec(&[("eight", eight), ("four", group(0, 2))]);
    s.expander = ExpanderChain(vec![ExpanderKind::LeastWaste, ExpanderKind::Priority]);
    let mut w = World::new(&pools, s.clone(), 0);
    assert_eq!(
        w.scan(0, std::slice::from_ref(&g)),
        [scale_up(0, 1, 0, &[0])]
    );
    // GPU-aware: the 8-GPU node would idle half its GPUs; the 4-GPU one wins.
    s.least_waste.gpu_aware = true;
    let mut w = World::new(&pools, s, 0);
    assert_eq!(w.scan(0, &[g]), [scale_up(1, 1, 0, &[0])]);
}

#[test]
fn scale_down_after_exactly_the_unneeded_time() {
    // Node 1 is busy until 100 s, then empty: removed at 100 + 600 = 700 s,
    // not at 690 s. Node 0 stays busy.
    let pools = [pool("a", 2, 8)];
    let mut w = World::new(&pools, spec(&[("a", group(0, 4))]), 1);
    occupy(&mut w.cluster, NodeId(0));
    let job = occupy(&mut w.cluster, NodeId(1));
    for t in (0..100).step_by(10) {
        assert_eq!(w.scan(t, &[]), []);
    }
    w.cluster.release(&job);
    for t in (100..700).step_by(10) {
        assert_eq!(w.scan(t, &[]), [], "at {t} s");
    }
    assert_eq!(
        w.ca.unneeded_since(NodeId(1)),
        Some(SimTime::from_secs(100))
    );
    assert_eq!(w.ca.unneeded_since(NodeId(0)), None);
    assert_eq!(w.scan(700, &[]), [Decision::ScaleDown { node: NodeId(1) }]);
}

#[test]
fn unneeded_timer_restarts_when_the_node_is_used_again() {
    let pools = [pool("a", 1, 8)];
    let mut w = World::new(&pools, spec(&[("a", group(0, 4))]), 1);
    assert_eq!(w.scan(0, &[]), []);
    let job = occupy(&mut w.cluster, NodeId(0));
    assert_eq!(w.scan(300, &[]), []);
    w.cluster.release(&job);
    assert_eq!(w.scan(310, &[]), []);
    assert_eq!(w.scan(900, &[]), []);
    assert_eq!(w.scan(910, &[]), [Decision::ScaleDown { node: NodeId(0) }]);
}

#[test]
fn a_pending_gang_that_fits_keeps_its_node() {
    // The empty node is where a pending gang (not yet placed by the scheduler)
    // fits: it is not unneeded.
    let pools = [pool("a", 1, 8)];
    let mut w = World::new(&pools, spec(&[("a", group(0, 4))]), 1);
    let pending = [gang(1, 8, &[true])];
    for t in (0..=1200).step_by(10) {
        assert_eq!(w.scan(t, &pending), [], "at {t} s");
    }
    assert_eq!(w.ca.unneeded_since(NodeId(0)), None);
}

#[test]
fn delay_after_add_holds_scale_down() {
    // Pool a: one empty node, unneeded after 60 s. Pool b: a scale-up at 30 s.
    // Removal waits for 30 + 600 = 630 s.
    let pools = [pool("a", 1, 8), pool("b", 0, 8)];
    let mut s = spec(&[("a", group(0, 4)), ("b", group(0, 4))]);
    s.scale_down_unneeded_time_s = 60.0;
    let mut w = World::new(&pools, s, 1);
    assert_eq!(w.scan(0, &[]), []);
    let d = w.scan(30, &[gang(1, 8, &[false, true])]);
    assert_eq!(d, [scale_up(1, 1, 0, &[0])]);
    w.apply(30, &d);
    for t in (40..630).step_by(10) {
        assert_eq!(w.scan(t, &[]), [], "at {t} s");
    }
    assert_eq!(w.ca.unneeded_since(NodeId(0)), Some(SimTime::ZERO));
    assert_eq!(w.scan(630, &[]), [Decision::ScaleDown { node: NodeId(0) }]);
}

#[test]
fn delay_after_delete_spaces_removals() {
    let pools = [pool("a", 2, 8)];
    let mut s = spec(&[("a", group(0, 4))]);
    s.max_scale_down_parallelism = 1;
    s.scale_down_delay_after_delete_s = 30.0;
    let mut w = World::new(&pools, s, 1);
    for t in (0..600).step_by(10) {
        assert_eq!(w.scan(t, &[]), []);
    }
    let d = w.scan(600, &[]);
    assert_eq!(d, [Decision::ScaleDown { node: NodeId(0) }]);
    w.apply(600, &d);
    assert_eq!(w.scan(610, &[]), []);
    assert_eq!(w.scan(620, &[]), []);
    assert_eq!(w.scan(630, &[]), [Decision::ScaleDown { node: NodeId(1) }]);
}

#[test]
fn min_size_and_bulk_removal() {
    // Three empty nodes, min size 1: two go at once at 600 s, the third stays.
    let pools = [pool("a", 3, 8)];
    let mut w = World::new(&pools, spec(&[("a", group(1, 4))]), 1);
    for t in (0..600).step_by(10) {
        assert_eq!(w.scan(t, &[]), []);
    }
    let d = w.scan(600, &[]);
    assert_eq!(
        d,
        [
            Decision::ScaleDown { node: NodeId(0) },
            Decision::ScaleDown { node: NodeId(1) }
        ]
    );
    w.apply(600, &d);
    for t in (610..2000).step_by(10) {
        assert_eq!(w.scan(t, &[]), [], "at {t} s");
    }
    // Min size equal to the pool: never.
    let mut w = World::new(&pools, spec(&[("a", group(3, 4))]), 1);
    for t in (0..2000).step_by(10) {
        assert_eq!(w.scan(t, &[]), []);
    }
}

#[test]
fn down_nodes_go_after_the_unready_time() {
    let pools = [pool("a", 2, 8)];
    let mut w = World::new(&pools, spec(&[("a", group(0, 4))]), 1);
    occupy(&mut w.cluster, NodeId(0));
    // Node 1 fails at 0 s; it is unready-unneeded from 0 and goes at 1200 s.
    w.cluster.set_state(NodeId(1), NodeState::Down);
    for t in (0..1200).step_by(10) {
        assert_eq!(w.scan(t, &[]), [], "at {t} s");
    }
    assert_eq!(w.scan(1200, &[]), [Decision::ScaleDown { node: NodeId(1) }]);
}

#[test]
fn provisioning_timeout_gives_up_and_backs_off() {
    let pools = [pool("a", 0, 8)];
    let mut w = World::new(&pools, spec(&[("a", group(0, 2))]), 1);
    let pending = [gang(1, 8, &[true])];
    let d = w.scan(0, &pending);
    assert_eq!(d, [scale_up(0, 1, 0, &[0])]);
    w.apply(0, &d);
    // The node never becomes ready. At 900 s it is exactly at the limit.
    for t in (10..=900).step_by(10) {
        assert_eq!(w.scan(t, &pending), [], "at {t} s");
    }
    let d = w.scan(910, &pending);
    assert_eq!(d, [Decision::GiveUp { node: NodeId(0) }]);
    assert_eq!(
        w.ca.backoff_until(PoolId(0)),
        Some(SimTime::from_secs(1210))
    );
    w.apply(910, &d);
    for t in (920..1210).step_by(10) {
        assert_eq!(w.scan(t, &pending), [], "at {t} s");
    }
    let d = w.scan(1210, &pending);
    assert_eq!(d, [scale_up(0, 1, 0, &[0])]);
    w.apply(1210, &d);
    // Second failure within the reset timeout: the back-off doubles to 600 s.
    assert_eq!(w.scan(2110, &pending), []);
    let d = w.scan(2120, &pending);
    assert_eq!(d, [Decision::GiveUp { node: NodeId(1) }]);
    assert_eq!(
        w.ca.backoff_until(PoolId(0)),
        Some(SimTime::from_secs(2720))
    );
}

#[test]
fn a_backed_off_group_yields_to_another() {
    // Same gang, two groups; `a` has priority. After `a` times out, the same
    // scan scales `b`.
    let pools = [pool("a", 0, 8), pool("b", 0, 8)];
    let mut a = group(0, 2);
    a.priority = 1;
    let mut s = spec(&[("a", a), ("b", group(0, 2))]);
    s.expander = ExpanderChain(vec![ExpanderKind::Priority]);
    let mut w = World::new(&pools, s, 1);
    let pending = [gang(1, 8, &[true, true])];
    let d = w.scan(0, &pending);
    assert_eq!(d, [scale_up(0, 1, 0, &[0])]);
    w.apply(0, &d);
    let d = w.scan(910, &pending);
    assert_eq!(
        d,
        [
            Decision::GiveUp { node: NodeId(0) },
            scale_up(1, 1, 0, &[0])
        ]
    );
}

#[test]
fn provisioning_delays_are_seeded_and_bounded() {
    let uniform = DelaySpec::Uniform {
        min_s: 60.0,
        max_s: 300.0,
    };
    let lognormal = DelaySpec::LogNormal {
        median_s: 240.0,
        sigma: 0.5,
        max_s: Some(600.0),
    };
    for d in [&uniform, &lognormal] {
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..2000).map(|_| d.sample(&mut rng)).collect::<Vec<_>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7));
        assert_ne!(a, draw(8));
        let (lo, hi) = d.bounds();
        assert!(a.iter().all(|&x| (lo..=hi).contains(&x)), "{d:?}");
        let mut sorted = a.clone();
        sorted.sort_unstable();
        let median = sorted[sorted.len() / 2];
        match d {
            // Uniform on [60, 300] s: median near 180 s, both ends reached closely.
            DelaySpec::Uniform { .. } => {
                assert!((165_000..195_000).contains(&median), "{median}");
                assert!(sorted[0] < 62_000 && sorted[1999] > 298_000);
            }
            // Log-normal with median 240 s, capped at 600 s (about 3.4% of draws).
            _ => {
                assert!((225_000..255_000).contains(&median), "{median}");
                assert_eq!(sorted[1999], 600_000);
            }
        }
    }
    assert_eq!(uniform.bounds(), (60_000, 300_000));

    // Through a scan: one delay per node, from the group's distribution, the
    // same for the same seed.
    let pools = [pool("a", 0, 8)];
    let mut g = group(0, 8);
    g.provisioning = uniform.clone();
    let delays = |seed| {
        let mut w = World::new(&pools, spec(&[("a", g.clone())]), seed);
        match w.scan(0, &[gang(4, 8, &[true])]).as_slice() {
            [
                Decision::ScaleUp {
                    nodes: 4,
                    provisioning_ms,
                    ..
                },
            ] => provisioning_ms.clone(),
            other => panic!("{other:?}"),
        }
    };
    let d = delays(3);
    assert_eq!(d.len(), 4);
    assert_eq!(d, delays(3));
    assert_ne!(d, delays(4));
    assert!(d.iter().all(|x| (60_000..=300_000).contains(x)));
}

#[test]
fn spec_parses_with_upstream_defaults_and_names_bad_fields() {
    let pools = [pool("a100", 2, 8), pool("t4", 0, 4)];
    let s: AutoscalerSpec = toml::from_str(
        r#"
        expander = "priority,least-waste"
        [node_groups.a100]
        min_size = 1
        max_size = 16
        provisioning = { kind = "lognormal", median_s = 240.0, sigma = 0.4, max_s = 1200.0 }
        priority = 10
        [node_groups.t4]
        min_size = 0
        max_size = 8
        "#,
    )
    .unwrap();
    s.validate(&pools).unwrap();
    assert_eq!(s.scan_interval_s, 10.0);
    assert_eq!(s.scale_down_unneeded_time_s, 600.0);
    assert_eq!(s.scale_down_delay_after_add_s, 600.0);
    assert_eq!(s.scale_down_delay_after_delete_s, 0.0);
    assert_eq!(s.max_node_provision_time_s, 900.0);
    assert_eq!(s.scale_down_utilization_threshold, 0.5);
    assert_eq!(s.scale_down_gpu_utilization_threshold, 0.5);
    assert_eq!(
        s.expander,
        ExpanderChain(vec![ExpanderKind::Priority, ExpanderKind::LeastWaste])
    );
    assert_eq!(s.node_groups["t4"].provisioning, DelaySpec::default());
    let ca = ClusterAutoscaler::new(s.clone(), &pools, 0).unwrap();
    assert_eq!(ca.scan_interval(), 10_000);
    assert_eq!(ca.group(PoolId(0)).map(|g| g.priority), Some(10));

    let list: AutoscalerSpec = toml::from_str(r#"expander = ["price", "random"]"#).unwrap();
    assert_eq!(
        list.expander,
        ExpanderChain(vec![ExpanderKind::Price, ExpanderKind::Random])
    );

    let err = |text: &str| {
        let s: AutoscalerSpec = toml::from_str(text).map_err(|e| e.to_string())?;
        s.validate(&pools)
    };
    let e = err("[node_groups.v100]\nmin_size = 0\nmax_size = 1").unwrap_err();
    assert!(e.starts_with("autoscaler.node_groups.v100:"), "{e}");
    let e = err("[node_groups.t4]\nmin_size = 3\nmax_size = 1").unwrap_err();
    assert!(e.starts_with("autoscaler.node_groups.t4.min_size:"), "{e}");
    let e = err("[node_groups.a100]\nmin_size = 0\nmax_size = 1").unwrap_err();
    assert!(e.starts_with("cluster.pools[0].nodes:"), "{e}");
    let e = err("[node_groups.t4]\nmin_size = 0\nmax_size = 1\nprovisioning = { kind = \"uniform\", min_s = 9.0, max_s = 1.0 }").unwrap_err();
    assert!(
        e.starts_with("autoscaler.node_groups.t4.provisioning.max_s:"),
        "{e}"
    );
    let e = err("scale_down_utilization_threshold = 1.5").unwrap_err();
    assert!(
        e.starts_with("autoscaler.scale_down_utilization_threshold:"),
        "{e}"
    );
    let e = err("scan_interval_s = -1.0").unwrap_err();
    assert!(e.starts_with("autoscaler.scan_interval_s:"), "{e}");
    let e = err("expander = \"most-pods\"").unwrap_err();
    assert!(e.contains("most-pods"), "{e}");
    let e = err("scan_interval = 10").unwrap_err();
    assert!(e.contains("scan_interval"), "{e}");
    assert!(ClusterAutoscaler::new(spec(&[("zz", group(0, 1))]), &pools, 0).is_err());
}

#[test]
fn malformed_input_does_not_panic() {
    // Short allowed lists, zero workers, zero GPU share, a foreign cluster.
    let pools = [pool("a", 1, 8), pool("b", 0, 8)];
    let mut w = World::new(&pools, spec(&[("a", group(0, 2)), ("b", group(0, 2))]), 1);
    let weird = [
        gang(0, 8, &[true, true]),
        PendingGang {
            gpu: GpuDemand::Fraction(0),
            ..gang(1, 0, &[true, true])
        },
        gang(1, 8, &[]),
        gang(2, 8, &[false, true, true, true]),
    ];
    assert_eq!(w.scan(0, &weird), [scale_up(1, 2, 0, &[3])]);
    let other = Cluster::new(&[pool("x", 5, 2)]);
    let _ = w.ca.scan(&ScanInput {
        now: SimTime::from_secs(10),
        cluster: &other,
        requested_at: &BTreeMap::new(),
        pending: &weird,
    });
}
