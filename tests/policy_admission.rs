//! Hand-worked cases for the admission policies `priority`, `easy-backfill`
//! and `kueue`: small workloads whose start and end times were computed on
//! paper (in the comments), chosen so that each policy decides differently
//! from `fifo-skip` (and `fifo`). Every run checks every engine invariant
//! after every event. Also: parameter validation, and the bundled example
//! scenarios load.

use schedlab::cluster::PoolSpec;
use schedlab::engine::{EngineConfig, Simulation};
use schedlab::metrics::{JobStatus, RunResult};
use schedlab::policy::placement::PlacementKind;
use schedlab::policy::scheduler::SchedulerKind;
use schedlab::time::SimTime;
use schedlab::workload::{JobDraft, Workload};

fn pool(name: &str, nodes: u32, gpus: u32, model: &str) -> PoolSpec {
    PoolSpec {
        name: name.into(),
        nodes,
        gpus_per_node: gpus,
        gpu_model: model.into(),
        cpu_milli: 64_000,
        memory_mib: 262_144,
        price_per_node_hour: None,
        labels: Default::default(),
        kind: Default::default(),
    }
}

fn params(src: &str) -> toml::Table {
    toml::from_str(src).expect("test params are valid TOML")
}

fn run(w: &Workload, pools: &[PoolSpec], kind: SchedulerKind, p: &str) -> RunResult {
    run_until(w, pools, kind, p, None)
}

fn run_until(
    w: &Workload,
    pools: &[PoolSpec],
    kind: SchedulerKind,
    p: &str,
    horizon_s: Option<u64>,
) -> RunResult {
    let cfg = EngineConfig {
        check_invariants: true,
        horizon: horizon_s.map(SimTime::from_secs),
        ..EngineConfig::default()
    };
    let scheduler = kind.build_with(&params(p)).expect("parameters are valid");
    Simulation::new(w, pools, scheduler, PlacementKind::FirstFit.build(), cfg)
        .run(|_| {})
        .expect("run succeeds with every invariant")
}

/// (first start, end) in whole seconds per job; `None` if it never ran to
/// the end.
fn times(r: &RunResult) -> Vec<Option<(u64, u64)>> {
    r.outcomes
        .iter()
        .map(|o| match (o.start, o.end) {
            (Some(s), Some(e)) => Some((s.as_millis() / 1000, e.as_millis() / 1000)),
            _ => None,
        })
        .collect()
}

fn preemptions(r: &RunResult) -> Vec<u32> {
    r.outcomes.iter().map(|o| o.preemptions).collect()
}

fn job(name: &str, submit: u64, gpus: u32, secs: u64) -> JobDraft {
    JobDraft::new(name)
        .submit_s(submit)
        .gpus(gpus)
        .duration_s(secs)
}

// ---------------------------------------------------------------------------
// priority

/// One 4-GPU node. L1 (priority 0) and L2 (priority 1) hold 2 GPUs each
/// until ~100; H (priority 10, 2 GPUs, 10 s) arrives at 10.
/// - priority: H preempts the lowest-priority job that frees enough, L1 (no
///   checkpoints: it loses its 10 s and reruns 100 s when H ends at 20).
/// - fifo-skip: H waits for L1 to end at 100.
#[test]
fn priority_preempts_the_lowest_priority_victim() {
    let w = Workload::from_drafts(vec![
        job("L1", 0, 2, 100),
        job("L2", 1, 2, 100).priority(1),
        job("H", 10, 2, 10).priority(10),
    ]);
    let pools = [pool("p", 1, 4, "A100")];
    let r = run(&w, &pools, SchedulerKind::Priority, "");
    assert_eq!(times(&r), [Some((0, 120)), Some((1, 101)), Some((10, 20))]);
    assert_eq!(preemptions(&r), [1, 0, 0]);
    let r = run(&w, &pools, SchedulerKind::FifoSkip, "");
    assert_eq!(
        times(&r),
        [Some((0, 100)), Some((1, 101)), Some((100, 110))]
    );
}

/// One 4-GPU node. A (4 GPUs, 0–10); B (priority 0, 2 GPUs) at 1; C
/// (priority 5, 4 GPUs) at 2.
/// - With C in a class with `preemption = "Never"`: C does not preempt, but
///   is first in the queue when A ends: C 10–20, then B 20–30 (fifo-skip
///   runs B first at 10 and C at 20).
/// - With the default policy C preempts A at 2 (C 2–12). At 12 B (queued
///   since 1) goes before A (queued again at 2): B 12–22, A reruns 22–32.
#[test]
fn priority_orders_the_queue_and_honours_never() {
    let w = Workload::from_drafts(vec![
        job("A", 0, 4, 10),
        job("B", 1, 2, 10),
        job("C", 2, 4, 10).priority(5),
    ]);
    let pools = [pool("p", 1, 4, "A100")];
    let never = r#"classes = [{ name = "batch-high", value = 5, preemption = "Never" }]"#;
    let r = run(&w, &pools, SchedulerKind::Priority, never);
    assert_eq!(times(&r), [Some((0, 10)), Some((20, 30)), Some((10, 20))]);
    assert_eq!(preemptions(&r), [0, 0, 0]);
    let r = run(&w, &pools, SchedulerKind::FifoSkip, "");
    assert_eq!(times(&r), [Some((0, 10)), Some((10, 20)), Some((20, 30))]);
    let preempting = r#"classes = [{ name = "batch-high", value = 5 }]"#;
    let r = run(&w, &pools, SchedulerKind::Priority, preempting);
    assert_eq!(times(&r), [Some((0, 32)), Some((12, 22)), Some((2, 12))]);
    assert_eq!(preemptions(&r), [1, 0, 0]);
}

/// Two 4-GPU nodes. X (priority 5) fills node 0; Y1 and Y2 (priority 1,
/// 2 GPUs each) fill node 1. H (priority 10, 4 GPUs) at 10: clearing node 0
/// takes one victim of priority 5, clearing node 1 two of priority 1; the
/// lowest highest-victim priority wins (before the victim count), so Y1 and
/// Y2 go and rerun when H ends at 20.
#[test]
fn priority_prefers_lower_priority_victims_over_fewer() {
    let w = Workload::from_drafts(vec![
        job("X", 0, 4, 100).priority(5),
        job("Y1", 1, 2, 100).priority(1),
        job("Y2", 2, 2, 100).priority(1),
        job("H", 10, 4, 10).priority(10),
    ]);
    let r = run(&w, &[pool("p", 2, 4, "A100")], SchedulerKind::Priority, "");
    assert_eq!(
        times(&r),
        [
            Some((0, 100)),
            Some((1, 120)),
            Some((2, 120)),
            Some((10, 20))
        ]
    );
    assert_eq!(preemptions(&r), [0, 1, 1, 0]);
}

/// One 4-GPU node, all victims priority 0: S3 (2 GPUs) started at 0, S1 and
/// S2 (1 GPU each) at 1 and 2. H (2 GPUs) at 10. Upstream's reprieve order
/// (earliest start kept first) would evict S1 and S2; the second order
/// (smaller jobs kept first) evicts S3 alone, and fewer victims win.
#[test]
fn priority_prefers_fewer_victims_at_equal_priority() {
    let w = Workload::from_drafts(vec![
        job("S3", 0, 2, 100),
        job("S1", 1, 1, 100),
        job("S2", 2, 1, 100),
        job("H", 10, 2, 10).priority(10),
    ]);
    let r = run(&w, &[pool("p", 1, 4, "A100")], SchedulerKind::Priority, "");
    assert_eq!(
        times(&r),
        [
            Some((0, 120)),
            Some((1, 101)),
            Some((2, 102)),
            Some((10, 20))
        ]
    );
    assert_eq!(preemptions(&r), [1, 0, 0, 0]);
}

/// Two 4-GPU nodes. A (2 GPUs, priority 0) and B (2 GPUs, priority 2) share
/// node 0, D (4 GPUs, priority 0) holds node 1. G, a gang of 2 × 4 GPUs
/// (priority 10), arrives at 10: no single node's victims suffice, the
/// cluster-wide set is all three. G runs 10–20, then B (higher priority),
/// A and D restart at 20 and rerun 100 s. fifo-skip starts G only when the
/// last of them ends, at 102.
#[test]
fn priority_gang_preempts_across_nodes() {
    let w = Workload::from_drafts(vec![
        job("A", 0, 2, 100),
        job("B", 1, 2, 100).priority(2),
        job("D", 2, 4, 100),
        job("G", 10, 4, 10).workers(2).priority(10),
    ]);
    let pools = [pool("p", 2, 4, "A100")];
    let r = run(&w, &pools, SchedulerKind::Priority, "");
    assert_eq!(
        times(&r),
        [
            Some((0, 120)),
            Some((1, 120)),
            Some((2, 120)),
            Some((10, 20))
        ]
    );
    assert_eq!(preemptions(&r), [1, 1, 1, 0]);
    let r = run(&w, &pools, SchedulerKind::FifoSkip, "");
    assert_eq!(times(&r)[3], Some((102, 112)));
}

// ---------------------------------------------------------------------------
// easy-backfill

/// One 4-GPU node. A (3 GPUs) runs 0–10; H (4 GPUs, 10 s) at 1; C (1 GPU,
/// 5 s) at 2; D (1 GPU, 20 s) at 3.
/// - fifo: H blocks everything: H 10–20, then C 20–25 and D 20–40.
/// - fifo-skip: C 2–7, D 7–27 (it fits when C ends), and H starves until D
///   ends: 27–37.
/// - easy-backfill: H's reservation is at 10 (A's end). C ends at 7 ≤ 10 and
///   backfills at 2; at 7 D would run past 10 on the GPU H needs, so it
///   waits: H 10–20, D 20–40.
#[test]
fn easy_backfill_protects_the_head() {
    let w = Workload::from_drafts(vec![
        job("A", 0, 3, 10),
        job("H", 1, 4, 10),
        job("C", 2, 1, 5),
        job("D", 3, 1, 20),
    ]);
    let pools = [pool("p", 1, 4, "A100")];
    let fifo = run(&w, &pools, SchedulerKind::Fifo, "");
    assert_eq!(
        times(&fifo),
        [
            Some((0, 10)),
            Some((10, 20)),
            Some((20, 25)),
            Some((20, 40))
        ]
    );
    let skip = run(&w, &pools, SchedulerKind::FifoSkip, "");
    assert_eq!(
        times(&skip),
        [Some((0, 10)), Some((27, 37)), Some((2, 7)), Some((7, 27))]
    );
    let easy = run(&w, &pools, SchedulerKind::EasyBackfill, "");
    assert_eq!(
        times(&easy),
        [Some((0, 10)), Some((10, 20)), Some((2, 7)), Some((20, 40))]
    );
}

/// One 4-GPU node: A (3 GPUs) 0–10, H (4 GPUs, 10 s) at 1, C (1 GPU, 9 s)
/// at 2.
/// - Exact estimates: C would end at 11 > 10: it waits (H 10–20, C 20–29).
/// - `estimate_factor = 2`: A is thought to end at 20 and C at 2 + 18 = 20,
///   so C backfills (2–11) and, since both really end earlier, H is delayed
///   to 11 by the over-estimates.
#[test]
fn easy_backfill_uses_estimates() {
    let w = Workload::from_drafts(vec![
        job("A", 0, 3, 10),
        job("H", 1, 4, 10),
        job("C", 2, 1, 9),
    ]);
    let pools = [pool("p", 1, 4, "A100")];
    let exact = run(&w, &pools, SchedulerKind::EasyBackfill, "");
    assert_eq!(
        times(&exact),
        [Some((0, 10)), Some((10, 20)), Some((20, 29))]
    );
    let over = run(
        &w,
        &pools,
        SchedulerKind::EasyBackfill,
        "estimate_factor = 2.0",
    );
    assert_eq!(times(&over), [Some((0, 10)), Some((11, 21)), Some((2, 11))]);
}

/// Node 0 (pool a100) and node 1 (pool v100), 4 GPUs each. A (2 GPUs) runs
/// on node 0 until 10, X (3 GPUs) on node 1 until 100. H (4 GPUs) at 1 can
/// only use node 0, at 10. E (1 GPU, any model, 50 s) at 2 could land on
/// node 0 and delay H: refused although the free-GPU count at 10 (4 + 1)
/// exceeds H's 4. F (1 GPU, V100 only, 50 s) at 3 can only use node 1, the
/// "extra" room H does not need: it backfills at 3. E starts when H ends.
/// - fifo-skip: E on node 0 at 2, so H waits for E: 52–62.
/// - fifo: H first (10–20), then E on node 1 (10–60); F waits for E: 60–110.
#[test]
fn easy_backfill_extra_room_is_node_aware() {
    let w = Workload::from_drafts(vec![
        job("A", 0, 2, 10),
        job("X", 0, 3, 100),
        job("H", 1, 4, 10),
        job("E", 2, 1, 50),
        job("F", 3, 1, 50).models(&["V100"]),
    ]);
    let pools = [pool("a100", 1, 4, "A100"), pool("v100", 1, 4, "V100")];
    let easy = run(&w, &pools, SchedulerKind::EasyBackfill, "");
    assert_eq!(
        times(&easy),
        [
            Some((0, 10)),
            Some((0, 100)),
            Some((10, 20)),
            Some((20, 70)),
            Some((3, 53))
        ]
    );
    let skip = run(&w, &pools, SchedulerKind::FifoSkip, "");
    assert_eq!(
        times(&skip),
        [
            Some((0, 10)),
            Some((0, 100)),
            Some((52, 62)),
            Some((2, 52)),
            Some((3, 53))
        ]
    );
    let fifo = run(&w, &pools, SchedulerKind::Fifo, "");
    assert_eq!(
        times(&fifo),
        [
            Some((0, 10)),
            Some((0, 100)),
            Some((10, 20)),
            Some((10, 60)),
            Some((60, 110))
        ]
    );
}

// ---------------------------------------------------------------------------
// kueue

/// Two ClusterQueues for tenants a and b, 4 GPUs of nominal quota each on
/// the flavor `a100` (every pool); `extra_a`/`extra_b` go into each GPU
/// resource entry, `cohort` on both queues if given.
fn two_queues(cohort: Option<&str>, extra_a: &str, extra_b: &str, more: &str) -> String {
    let cohort = cohort.map_or(String::new(), |c| format!("cohort = \"{c}\""));
    format!(
        r#"
resource_flavors = [{{ name = "a100" }}]
{more}
[[cluster_queues]]
name = "team-a"
tenants = ["a"]
{cohort}
resource_groups = [{{ covered_resources = ["nvidia.com/gpu"], flavors = [{{ name = "a100", resources = [{{ name = "nvidia.com/gpu", nominal_quota = 4 {extra_a} }}] }}] }}]

[[cluster_queues]]
name = "team-b"
tenants = ["b"]
{cohort}
resource_groups = [{{ covered_resources = ["nvidia.com/gpu"], flavors = [{{ name = "a100", resources = [{{ name = "nvidia.com/gpu", nominal_quota = 4 {extra_b} }}] }}] }}]
"#
    )
}

fn four_jobs_of_a() -> Workload {
    Workload::from_drafts(
        (1..=4)
            .map(|i| job(&format!("A{i}"), 0, 2, 10).tenant("a"))
            .collect(),
    )
}

/// 8 GPUs (2 × 4); team-a submits four 2-GPU jobs at 0 (10 s each).
/// - Without a cohort its nominal quota of 4 admits two; the others wait
///   for them: 10–20 (fifo-skip starts all four at 0).
/// - In a cohort with team-b (idle) it borrows b's 4 GPUs: all four at 0.
/// - team-b `lending_limit = 2`: a may borrow only 2: A4 waits.
/// - team-a `borrowing_limit = 0`: no borrowing at all.
#[test]
fn kueue_nominal_quota_borrowing_and_limits() {
    let w = four_jobs_of_a();
    let pools = [pool("a100", 2, 4, "A100")];
    let at0 = Some((0, 10));
    let at10 = Some((10, 20));
    let skip = run(&w, &pools, SchedulerKind::FifoSkip, "");
    assert_eq!(times(&skip), [at0, at0, at0, at0]);
    let alone = two_queues(None, "", "", "");
    let r = run(&w, &pools, SchedulerKind::Kueue, &alone);
    assert_eq!(times(&r), [at0, at0, at10, at10], "nominal quota");
    let cohort = two_queues(Some("research"), "", "", "");
    let r = run(&w, &pools, SchedulerKind::Kueue, &cohort);
    assert_eq!(times(&r), [at0, at0, at0, at0], "borrowing");
    let lending = two_queues(Some("research"), "", ", lending_limit = 2", "");
    let r = run(&w, &pools, SchedulerKind::Kueue, &lending);
    assert_eq!(times(&r), [at0, at0, at0, at10], "lending limit");
    let borrowing = two_queues(Some("research"), ", borrowing_limit = 0", "", "");
    let r = run(&w, &pools, SchedulerKind::Kueue, &borrowing);
    assert_eq!(times(&r), [at0, at0, at10, at10], "borrowing limit");
}

/// team-a borrows: A1–A3 (2 GPUs, 100 s) use 6 of the cohort's 8 GPUs from
/// 0. B1 (team-b, 4 GPUs, 10 s) arrives at 5; b's nominal 4 is lent out.
/// - `reclaim_within_cohort = "Any"`: the most recently admitted borrowed
///   job (A3, highest id at equal admission time) is preempted, which is
///   exactly enough: B1 runs 5–15, A3 reruns 15–115.
/// - `"Never"`: B1 waits for team-a's jobs to end at 100 (as fifo-skip,
///   which finds no 4 free GPUs on one node before).
#[test]
fn kueue_reclaims_borrowed_quota() {
    let mut drafts: Vec<JobDraft> = (1..=3)
        .map(|i| job(&format!("A{i}"), 0, 2, 100).tenant("a"))
        .collect();
    drafts.push(job("B1", 5, 4, 10).tenant("b"));
    let w = Workload::from_drafts(drafts);
    let pools = [pool("a100", 2, 4, "A100")];
    let reclaim = two_queues(Some("research"), "", "", "").replace(
        "name = \"team-b\"",
        "name = \"team-b\"\npreemption = { reclaim_within_cohort = \"Any\" }",
    );
    let r = run(&w, &pools, SchedulerKind::Kueue, &reclaim);
    assert_eq!(
        times(&r),
        [
            Some((0, 100)),
            Some((0, 100)),
            Some((0, 115)),
            Some((5, 15))
        ]
    );
    assert_eq!(preemptions(&r), [0, 0, 1, 0]);
    let never = two_queues(Some("research"), "", "", "");
    let r = run(&w, &pools, SchedulerKind::Kueue, &never);
    assert_eq!(times(&r)[3], Some((100, 110)));
    assert_eq!(preemptions(&r), [0, 0, 0, 0]);
    let skip = run(&w, &pools, SchedulerKind::FifoSkip, "");
    assert_eq!(times(&skip)[3], Some((100, 110)));
}

/// One queue with 4 GPUs of quota (8 physical). A1 (2 GPUs, 20 s) at 0, A2
/// (4 GPUs, 10 s) at 1, A3 (2 GPUs, 5 s) at 2.
/// - BestEffortFIFO: A2 does not fit the quota and is set aside; A3 fits:
///   2–7. A2 runs when A1 ends: 20–30.
/// - StrictFIFO: A2 blocks the queue: A2 20–30, then A3 30–35.
/// - fifo-skip (no quota): A2 1–11, A3 2–7.
#[test]
fn kueue_strict_fifo_blocks_best_effort_does_not() {
    let w = Workload::from_drafts(vec![
        job("A1", 0, 2, 20).tenant("a"),
        job("A2", 1, 4, 10).tenant("a"),
        job("A3", 2, 2, 5).tenant("a"),
    ]);
    let pools = [pool("a100", 2, 4, "A100")];
    let best = two_queues(None, "", "", "");
    let r = run(&w, &pools, SchedulerKind::Kueue, &best);
    assert_eq!(times(&r), [Some((0, 20)), Some((20, 30)), Some((2, 7))]);
    let strict = best.replace(
        "name = \"team-a\"",
        "name = \"team-a\"\nqueueing_strategy = \"StrictFIFO\"",
    );
    let r = run(&w, &pools, SchedulerKind::Kueue, &strict);
    assert_eq!(times(&r), [Some((0, 20)), Some((20, 30)), Some((30, 35))]);
    let skip = run(&w, &pools, SchedulerKind::FifoSkip, "");
    assert_eq!(times(&skip), [Some((0, 20)), Some((1, 11)), Some((2, 7))]);
}

/// Cohort of team-a (nominal 2), team-b (2) and team-c (4, idle); 8 GPUs.
/// At 0 a1 (4 GPUs, 10 s) borrows 2 and b1 (2 GPUs, 100 s) uses b's quota;
/// 2 GPUs are left. At 1 a2 and b2 (2 GPUs, 10 s each; a2 has the lower id)
/// both need them.
/// - Classic: both would borrow, equal priority and time: a2 (lower id)
///   wins: a2 1–11; b2 waits for a1: 10–20.
/// - Fair sharing: shares with the job admitted: a (4 + 2 − 2) · 1000 / 8 =
///   500, b (2 + 2 − 2) · 1000 / 8 = 250: b2 first (1–11), a2 at 10–20.
/// - Fair sharing with team-a's weight 4: a's share 125 < 250: a2 first.
#[test]
fn kueue_fair_sharing_admits_the_lowest_share_first() {
    let w = Workload::from_drafts(vec![
        job("a1", 0, 4, 10).tenant("a"),
        job("b1", 0, 2, 100).tenant("b"),
        job("a2", 1, 2, 10).tenant("a"),
        job("b2", 1, 2, 10).tenant("b"),
    ]);
    let pools = [pool("a100", 2, 4, "A100")];
    let base = |fair: bool, weight_a: f64| {
        let q = |name: &str, tenant: &str, nominal: u32, weight: f64| {
            format!(
                r#"
[[cluster_queues]]
name = "{name}"
cohort = "research"
tenants = ["{tenant}"]
fair_sharing = {{ weight = {weight:?} }}
resource_groups = [{{ covered_resources = ["nvidia.com/gpu"], flavors = [{{ name = "a100", resources = [{{ name = "nvidia.com/gpu", nominal_quota = {nominal} }}] }}] }}]
"#
            )
        };
        format!(
            "resource_flavors = [{{ name = \"a100\" }}]\nfair_sharing = {{ enable = {fair} }}\n{}{}{}",
            q("team-a", "a", 2, weight_a),
            q("team-b", "b", 2, 1.0),
            q("team-c", "c", 4, 1.0)
        )
    };
    let classic = run(&w, &pools, SchedulerKind::Kueue, &base(false, 1.0));
    assert_eq!(
        times(&classic),
        [Some((0, 10)), Some((0, 100)), Some((1, 11)), Some((10, 20))]
    );
    let fair = run(&w, &pools, SchedulerKind::Kueue, &base(true, 1.0));
    assert_eq!(
        times(&fair),
        [Some((0, 10)), Some((0, 100)), Some((10, 20)), Some((1, 11))]
    );
    let weighted = run(&w, &pools, SchedulerKind::Kueue, &base(true, 4.0));
    assert_eq!(times(&weighted), times(&classic));
}

/// Preemption inside a ClusterQueue by priority: L (priority 0, 4 GPUs)
/// uses the whole quota of 4 from 0; H (priority 5, 2 GPUs) at 10 preempts
/// it under `within_cluster_queue = "LowerPriority"` although the cluster
/// has 4 more GPUs (quota, not capacity, is short). H 10–20; L reruns
/// 20–120.
#[test]
fn kueue_preempts_within_the_queue_by_priority() {
    let w = Workload::from_drafts(vec![
        job("L", 0, 4, 100).tenant("a"),
        job("H", 10, 2, 10).tenant("a").priority(5),
    ]);
    let pools = [pool("a100", 2, 4, "A100")];
    let p = two_queues(None, "", "", "").replace(
        "name = \"team-a\"",
        "name = \"team-a\"\npreemption = { within_cluster_queue = \"LowerPriority\" }",
    );
    let r = run(&w, &pools, SchedulerKind::Kueue, &p);
    assert_eq!(times(&r), [Some((0, 120)), Some((10, 20))]);
    assert_eq!(preemptions(&r), [1, 0]);
    // Without the policy H waits for L.
    let r = run(
        &w,
        &pools,
        SchedulerKind::Kueue,
        &two_queues(None, "", "", ""),
    );
    assert_eq!(times(&r), [Some((0, 100)), Some((100, 110))]);
}

/// Flavors and placement. Pools a100 and t4, one 4-GPU node each; j1 and
/// j2 (4 GPUs, 10 s) at 0; fifo-skip runs both at once.
/// - Flavor t4 with 8 GPUs of quota (more than its node holds): j2 is
///   admitted (quota reserved) but may only use the t4 node: it starts when
///   j1 leaves it, 10–20.
/// - Flavors [t4 with 4, a100 with 4]: j2 finds t4's quota used and falls
///   through to a100: 0–10.
/// - Flavors [t4 with 8, a100 with 4]: t4 still has quota, and Kueue picks
///   flavors by quota, not by free nodes: j2 waits on t4, 10–20.
/// - A job that only accepts A100 GPUs skips the t4 flavor (its nodes can
///   never hold it) and is admitted to a100 at 0.
#[test]
fn kueue_flavors_restrict_placement_and_fall_through_by_quota() {
    let w = Workload::from_drafts(vec![
        job("j1", 0, 4, 10).tenant("a"),
        job("j2", 0, 4, 10).tenant("a"),
    ]);
    let pools = [pool("a100", 1, 4, "A100"), pool("t4", 1, 4, "T4")];
    let cq = |flavors: &str| {
        format!(
            r#"
resource_flavors = [{{ name = "t4", pools = ["t4"] }}, {{ name = "a100", pools = ["a100"] }}]
[[cluster_queues]]
name = "team-a"
tenants = ["a"]
resource_groups = [{{ covered_resources = ["nvidia.com/gpu"], flavors = [{flavors}] }}]
"#
        )
    };
    let t4 = |q: u32| {
        format!(
            r#"{{ name = "t4", resources = [{{ name = "nvidia.com/gpu", nominal_quota = {q} }}] }}"#
        )
    };
    let a100 = r#"{ name = "a100", resources = [{ name = "nvidia.com/gpu", nominal_quota = 4 }] }"#;
    let r = run(&w, &pools, SchedulerKind::Kueue, &cq(&t4(8)));
    assert_eq!(times(&r), [Some((0, 10)), Some((10, 20))]);
    let r = run(
        &w,
        &pools,
        SchedulerKind::Kueue,
        &cq(&format!("{}, {a100}", t4(4))),
    );
    assert_eq!(times(&r), [Some((0, 10)), Some((0, 10))]);
    let r = run(
        &w,
        &pools,
        SchedulerKind::Kueue,
        &cq(&format!("{}, {a100}", t4(8))),
    );
    assert_eq!(times(&r), [Some((0, 10)), Some((10, 20))]);
    let skip = run(&w, &pools, SchedulerKind::FifoSkip, "");
    assert_eq!(times(&skip), [Some((0, 10)), Some((0, 10))]);
    let picky = Workload::from_drafts(vec![job("k", 0, 4, 10).tenant("a").models(&["A100"])]);
    let r = run(
        &picky,
        &pools,
        SchedulerKind::Kueue,
        &cq(&format!("{}, {a100}", t4(8))),
    );
    assert_eq!(times(&r), [Some((0, 10))]);
}

/// Jobs of a tenant no ClusterQueue takes are never admitted (reported
/// pending); a `"*"` queue takes them. (The horizon is needed: the engine
/// keeps sampling while any job is pending.)
#[test]
fn kueue_unmapped_tenants_stay_pending_unless_a_wildcard_takes_them() {
    let w = Workload::from_drafts(vec![
        job("a", 0, 1, 10).tenant("a"),
        job("z", 0, 1, 10).tenant("z"),
    ]);
    let pools = [pool("a100", 1, 4, "A100")];
    let p = two_queues(None, "", "", "");
    let r = run_until(&w, &pools, SchedulerKind::Kueue, &p, Some(1000));
    assert_eq!(r.outcomes[0].status, JobStatus::Finished);
    assert_eq!(r.outcomes[1].status, JobStatus::Pending);
    let wild = p.replace("tenants = [\"b\"]", "tenants = [\"b\", \"*\"]");
    let r = run(&w, &pools, SchedulerKind::Kueue, &wild);
    assert_eq!(times(&r), [Some((0, 10)), Some((0, 10))]);
}

/// Fractional GPUs count as milli-GPUs of quota: with 1 GPU of quota, four
/// 250-milli jobs run at once and a fifth waits.
#[test]
fn kueue_counts_fractional_gpus_in_milli() {
    let w = Workload::from_drafts(
        (0..5)
            .map(|i| {
                JobDraft::new(format!("f{i}"))
                    .tenant("a")
                    .gpu_milli(250)
                    .duration_s(10)
            })
            .collect(),
    );
    let pools = [pool("a100", 1, 4, "A100")];
    let p = two_queues(None, "", "", "").replace("nominal_quota = 4", "nominal_quota = 1");
    let r = run(&w, &pools, SchedulerKind::Kueue, &p);
    let starts: Vec<u64> = times(&r).iter().map(|t| t.unwrap().0).collect();
    assert_eq!(starts, [0, 0, 0, 0, 10]);
}

// ---------------------------------------------------------------------------
// All five on one workload

/// One 4-GPU node. A (team a, 3 GPUs, 10 s) at 0; H (team a, priority 3,
/// 4 GPUs, 10 s) at 1; C (team b, priority 5, 1 GPU, 5 s) at 2; D (team b,
/// 1 GPU, 20 s) at 3. Kueue: team a has 4 GPUs of quota and reclaims, team
/// b has none and borrows a's unused quota; both in one cohort.
/// - fifo: H blocks C and D until it ends: A 0–10, H 10–20, C and D at 20.
/// - fifo-skip: C 2–7, D 7–27; H starves until 27.
/// - easy-backfill: C (ends 7 ≤ 10) backfills, D (ends past H's
///   reservation at 10) waits: H 10–20, D 20–40.
/// - priority: H preempts A at 1; C preempts H at 2 and A restarts beside
///   it; at 7 H preempts A again (H 7–17); at 17 D (queued since 3) and A
///   (since 7) both start: A ends 27, D 37.
/// - kueue: C borrows 1 GPU at 2; H cannot reclaim it in the instant it
///   started, nor at 3 (team a would then borrow, and a reclaim must leave it
///   within its nominal quota); D borrows when C leaves at 7; at 10 A ends
///   and H reclaims its quota from D: H 10–20, D reruns 20–40.
#[test]
fn every_policy_decides_differently_on_one_workload() {
    let w = Workload::from_drafts(vec![
        job("A", 0, 3, 10).tenant("a"),
        job("H", 1, 4, 10).tenant("a").priority(3),
        job("C", 2, 1, 5).tenant("b").priority(5),
        job("D", 3, 1, 20).tenant("b"),
    ]);
    let pools = [pool("p", 1, 4, "A100")];
    let q = |name: &str, nominal: u32, extra: &str| {
        format!(
            r#"
[[cluster_queues]]
name = "{name}"
cohort = "r"
tenants = ["{name}"]
{extra}
resource_groups = [{{ covered_resources = ["nvidia.com/gpu"], flavors = [{{ name = "gpu", resources = [{{ name = "nvidia.com/gpu", nominal_quota = {nominal} }}] }}] }}]
"#
        )
    };
    let kueue = format!(
        "resource_flavors = [{{ name = \"gpu\" }}]\n{}{}",
        q("a", 4, "preemption = { reclaim_within_cohort = \"Any\" }"),
        q("b", 0, "")
    );
    let cases = [
        (
            SchedulerKind::Fifo,
            "",
            [(0, 10), (10, 20), (20, 25), (20, 40)],
            [0, 0, 0, 0],
        ),
        (
            SchedulerKind::FifoSkip,
            "",
            [(0, 10), (27, 37), (2, 7), (7, 27)],
            [0, 0, 0, 0],
        ),
        (
            SchedulerKind::EasyBackfill,
            "",
            [(0, 10), (10, 20), (2, 7), (20, 40)],
            [0, 0, 0, 0],
        ),
        (
            SchedulerKind::Priority,
            "",
            [(0, 27), (1, 17), (2, 7), (17, 37)],
            [2, 1, 0, 0],
        ),
        (
            SchedulerKind::Kueue,
            &kueue,
            [(0, 10), (10, 20), (2, 7), (7, 40)],
            [0, 0, 0, 1],
        ),
    ];
    for (kind, p, want, preempted) in cases {
        let r = run(&w, &pools, kind, p);
        let want: Vec<_> = want.iter().map(|&t| Some(t)).collect();
        assert_eq!(times(&r), want, "{}", kind.name());
        assert_eq!(preemptions(&r), preempted, "{}", kind.name());
    }
}

// ---------------------------------------------------------------------------
// Parameter validation: errors name the field.

fn build_err(kind: SchedulerKind, src: &str) -> String {
    match kind.build_with(&params(src)) {
        Ok(_) => panic!("{} accepted bad parameters: {src}", kind.name()),
        Err(e) => e,
    }
}

#[test]
fn priority_params_are_validated() {
    assert!(SchedulerKind::Priority.build_with(&params("")).is_ok());
    let e = build_err(SchedulerKind::Priority, "clases = []");
    assert!(e.contains("clases"), "{e}");
    let e = build_err(
        SchedulerKind::Priority,
        r#"classes = [{ name = "x", value = 1, prio = 3 }]"#,
    );
    assert!(e.contains("classes[0]") && e.contains("prio"), "{e}");
    let e = build_err(
        SchedulerKind::Priority,
        r#"classes = [{ name = "x", value = 1, preemption = "Sometimes" }]"#,
    );
    assert!(e.contains("classes[0].preemption"), "{e}");
    let e = build_err(
        SchedulerKind::Priority,
        r#"classes = [{ name = "x", value = 1 }, { name = "y", value = 1 }]"#,
    );
    assert!(e.contains("classes[1].value"), "{e}");
    let e = build_err(
        SchedulerKind::Priority,
        r#"classes = [{ name = "x", value = 9999999999 }]"#,
    );
    assert!(e.contains("classes[0].value"), "{e}");
}

#[test]
fn easy_backfill_params_are_validated() {
    assert!(SchedulerKind::EasyBackfill.build_with(&params("")).is_ok());
    for bad in [
        "estimate_factor = 0.0",
        "estimate_factor = -1.5",
        "estimate_factor = nan",
    ] {
        let e = build_err(SchedulerKind::EasyBackfill, bad);
        assert!(e.contains("estimate_factor"), "{e}");
    }
    let e = build_err(SchedulerKind::EasyBackfill, "estimate = 2.0");
    assert!(e.contains("estimate"), "{e}");
}

#[test]
fn kueue_params_are_validated() {
    let e = build_err(SchedulerKind::Kueue, "");
    assert!(e.contains("cluster_queues"), "{e}");
    let ok = two_queues(Some("research"), "", "", "");
    assert!(SchedulerKind::Kueue.build_with(&params(&ok)).is_ok());
    let cases = [
        (
            ok.replacen(
                "tenants = [\"a\"]",
                "tenants = [\"a\"]\nqueueing_strategy = \"LIFO\"",
                1,
            ),
            "cluster_queues[0].queueing_strategy",
        ),
        (
            ok.replacen("nominal_quota = 4", "nominal_quotaa = 4", 1),
            "nominal_quotaa",
        ),
        (
            ok.replacen(
                "flavors = [{ name = \"a100\"",
                "flavors = [{ name = \"h100\"",
                1,
            ),
            "cluster_queues[0].resource_groups[0].flavors[0].name",
        ),
        (
            ok.replacen(
                "nominal_quota = 4",
                "nominal_quota = 4, lending_limit = 5",
                1,
            ),
            "lending_limit",
        ),
        (
            ok.replacen("nominal_quota = 4", "nominal_quota = -4", 1),
            "cluster_queues[0].resource_groups[0].flavors[0].resources[0].nominal_quota",
        ),
        (
            ok.replacen("tenants = [\"b\"]", "tenants = [\"a\"]", 1),
            "tenants",
        ),
        (
            ok.replacen("name = \"team-b\"", "name = \"team-a\"", 1),
            "cluster_queues[1].name",
        ),
        (
            ok.replacen("[\"nvidia.com/gpu\"]", "[\"nvidia.com/gpus\"]", 1),
            "covered_resources[0]",
        ),
        (
            ok.replacen(
                "tenants = [\"a\"]",
                "tenants = [\"a\"]\npreemption = { reclaim_within_cohort = \"Sometimes\" }",
                1,
            ),
            "reclaim_within_cohort",
        ),
        (
            ok.replacen(
                "tenants = [\"a\"]",
                "tenants = [\"a\"]\nfair_sharing = { weight = -1.0 }",
                1,
            ),
            "fair_sharing.weight",
        ),
        (
            format!("fair_sharing = {{ preemption_strategies = [\"Greedy\"] }}\n{ok}"),
            "preemption_strategies[0]",
        ),
        (format!("quota = 3\n{ok}"), "quota"),
        (
            two_queues(None, ", borrowing_limit = 2", "", ""),
            "borrowing_limit",
        ),
    ];
    for (src, field) in cases {
        let e = build_err(SchedulerKind::Kueue, &src);
        assert!(e.contains(field), "expected `{field}` in: {e}");
    }
    // Memory quotas are Kubernetes quantities: a bare 512 is bytes.
    let mem = |q: &str| {
        format!(
            r#"
resource_flavors = [{{ name = "any" }}]
[[cluster_queues]]
name = "q"
tenants = ["a"]
resource_groups = [{{ covered_resources = ["nvidia.com/gpu", "memory"], flavors = [{{ name = "any", resources = [{{ name = "nvidia.com/gpu", nominal_quota = "500m" }}, {{ name = "memory", nominal_quota = {q} }}] }}] }}]
"#
        )
    };
    assert!(
        SchedulerKind::Kueue
            .build_with(&params(&mem("\"512Gi\"")))
            .is_ok()
    );
    let e = build_err(SchedulerKind::Kueue, &mem("512"));
    assert!(
        e.contains("resources[1].nominal_quota") && e.contains("512Gi"),
        "{e}"
    );
    // Every flavor lists every covered resource.
    let missing = mem("\"512Gi\"").replace(r#", { name = "memory", nominal_quota = "512Gi" }"#, "");
    let e = build_err(SchedulerKind::Kueue, &missing);
    assert!(
        e.contains("flavors[0].resources") && e.contains("memory"),
        "{e}"
    );
}

/// The bundled example scenarios load and validate.
#[test]
fn example_scenarios_validate() {
    for name in ["kueue-quotas.toml", "priority-preemption.toml"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(name);
        schedlab::scenario::Scenario::load(&path, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

// ---------------------------------------------------------------------------
// Random workloads: every invariant holds after every event, and under
// `priority` and `easy-backfill` every job that can ever fit finishes.

mod random {
    use super::*;
    use proptest::prelude::*;
    use schedlab::workload::GpuDemand;

    const MODELS: [&str; 2] = ["V100", "A100"];

    fn pools() -> impl Strategy<Value = Vec<PoolSpec>> {
        prop::collection::vec((1u32..4, 0u32..9, 0usize..2, 1u32..5), 1..4).prop_map(|ps| {
            ps.into_iter()
                .enumerate()
                .map(|(i, (nodes, gpus, model, cpu))| PoolSpec {
                    cpu_milli: cpu * 4_000,
                    memory_mib: 65_536,
                    ..pool(&format!("pool{i}"), nodes, gpus, MODELS[model])
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
        let job = (
            (0u64..200, 1u32..4, gpu(), 0u32..9, 1u64..100),
            (0usize..4, -2i32..4, 0usize..3),
        );
        prop::collection::vec(job, 0..30).prop_map(|js| {
            Workload::from_drafts(
                js.into_iter()
                    .enumerate()
                    .map(
                        |(i, ((submit, workers, gpu, cpu, dur), (models, prio, tenant)))| {
                            let mut d = JobDraft::new(format!("j{i}"))
                                .submit_s(submit)
                                .workers(workers)
                                .duration_s(dur)
                                .cpu_mem(cpu * 1_000, 1_024)
                                .priority(prio)
                                .tenant(format!("t{tenant}"));
                            d.gpu = gpu;
                            d.gpu_models = match models {
                                0 => vec!["V100".into()],
                                1 => vec!["A100".into()],
                                _ => vec![],
                            };
                            d
                        },
                    )
                    .collect(),
            )
        })
    }

    fn kueue_params(fair: bool, strict: bool) -> String {
        let strategy = if strict {
            "StrictFIFO"
        } else {
            "BestEffortFIFO"
        };
        format!(
            r#"
resource_flavors = [{{ name = "f0", pools = ["pool0"] }}, {{ name = "f1", pools = ["pool1", "pool2"] }}, {{ name = "any" }}]
fair_sharing = {{ enable = {fair} }}

[[cluster_queues]]
name = "a"
cohort = "c"
tenants = ["t0"]
queueing_strategy = "{strategy}"
preemption = {{ within_cluster_queue = "LowerPriority", reclaim_within_cohort = "Any" }}
resource_groups = [{{ covered_resources = ["nvidia.com/gpu", "cpu"], flavors = [
  {{ name = "f0", resources = [{{ name = "nvidia.com/gpu", nominal_quota = 4 }}, {{ name = "cpu", nominal_quota = 8 }}] }},
  {{ name = "any", resources = [{{ name = "nvidia.com/gpu", nominal_quota = 2, lending_limit = 1 }}, {{ name = "cpu", nominal_quota = 4 }}] }},
] }}]

[[cluster_queues]]
name = "b"
cohort = "c"
tenants = ["t1"]
fair_sharing = {{ weight = 2.0 }}
preemption = {{ within_cluster_queue = "LowerOrNewerEqualPriority", reclaim_within_cohort = "LowerPriority" }}
resource_groups = [{{ covered_resources = ["nvidia.com/gpu", "cpu"], flavors = [
  {{ name = "f1", resources = [{{ name = "nvidia.com/gpu", nominal_quota = "3500m", lending_limit = 1 }}, {{ name = "cpu", nominal_quota = 6 }}] }},
  {{ name = "any", resources = [{{ name = "nvidia.com/gpu", nominal_quota = 2, borrowing_limit = 2 }}, {{ name = "cpu", nominal_quota = 4, borrowing_limit = 1 }}] }},
] }}]

[[cluster_queues]]
name = "rest"
tenants = ["*"]
queueing_strategy = "{strategy}"
resource_groups = [{{ covered_resources = ["nvidia.com/gpu"], flavors = [
  {{ name = "any", resources = [{{ name = "nvidia.com/gpu", nominal_quota = 6 }}] }},
] }}]
"#
        )
    }

    fn config(periodic: Option<u64>, checkpoint: u64, horizon: u64) -> EngineConfig {
        EngineConfig {
            check_invariants: true,
            sample_interval: 7_000,
            schedule_interval: periodic.map(|s| s * 1000),
            checkpoint_interval: checkpoint * 1000,
            restore_overhead: 2_000,
            horizon: Some(SimTime::from_secs(horizon)),
            ..EngineConfig::default()
        }
    }

    const PLACEMENTS: [PlacementKind; 3] = [
        PlacementKind::FirstFit,
        PlacementKind::BestFit,
        PlacementKind::WorstFit,
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn priority_and_easy_finish_every_feasible_job(
            pools in pools(),
            w in jobs(),
            easy in any::<bool>(),
            factor in prop::sample::select(vec![1.0, 1.5, 3.0]),
            p in prop::sample::select(PLACEMENTS.to_vec()),
            periodic in prop::option::of(1u64..50),
            checkpoint in 0u64..20,
        ) {
            let (kind, params) = if easy {
                (SchedulerKind::EasyBackfill, format!("estimate_factor = {factor:?}"))
            } else {
                (
                    SchedulerKind::Priority,
                    r#"classes = [{ name = "never", value = 1, preemption = "Never" }]"#.to_string(),
                )
            };
            let s = kind.build_with(&params_of(&params)).unwrap();
            let r = Simulation::new(&w, &pools, s, p.build(), config(periodic, checkpoint, 10_000_000))
                .run(|_| {})
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            for o in &r.outcomes {
                prop_assert!(
                    matches!(o.status, JobStatus::Finished | JobStatus::Unschedulable),
                    "job {} ended {:?}", o.job, o.status
                );
            }
        }

        #[test]
        fn kueue_keeps_every_invariant(
            pools in pools(),
            w in jobs(),
            fair in any::<bool>(),
            strict in any::<bool>(),
            p in prop::sample::select(PLACEMENTS.to_vec()),
            periodic in prop::option::of(1u64..50),
            checkpoint in 0u64..20,
        ) {
            let s = SchedulerKind::Kueue.build_with(&params_of(&kueue_params(fair, strict))).unwrap();
            Simulation::new(&w, &pools, s, p.build(), config(periodic, checkpoint, 2_000))
                .run(|_| {})
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
    }

    fn params_of(src: &str) -> toml::Table {
        params(src)
    }
}
