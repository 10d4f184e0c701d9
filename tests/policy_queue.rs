//! Hand-worked cases for the queue policies `srtf`, `las`, `tiresias`,
//! `themis` and `drf`: small workloads whose start and end times were
//! computed on paper, each chosen so that the policy under test decides
//! differently from `fifo-skip` and from the other policies of this file.
//! Then a property test (every feasible job finishes under every policy, with
//! every invariant checked after every event) and parameter validation.
//!
//! Unless a case says otherwise the engine checkpoints every second and
//! restores instantly, so a preempted job keeps all its (whole-second)
//! progress.

use proptest::prelude::*;
use schedlab::cluster::PoolSpec;
use schedlab::engine::{EngineConfig, Simulation};
use schedlab::metrics::{JobStatus, RunResult};
use schedlab::policy::placement::PlacementKind;
use schedlab::policy::scheduler::SchedulerKind;
use schedlab::workload::{JobDraft, Workload};

mod common;

use common::{ever_fits, jobs, pools};

/// The policies of this file.
const OURS: [SchedulerKind; 5] = [
    SchedulerKind::Srtf,
    SchedulerKind::Las,
    SchedulerKind::Tiresias,
    SchedulerKind::Themis,
    SchedulerKind::Drf,
];

fn pool(nodes: u32, gpus: u32, cpu_milli: u32) -> PoolSpec {
    PoolSpec {
        name: "gpu".into(),
        nodes,
        gpus_per_node: gpus,
        gpu_model: "V100".into(),
        cpu_milli,
        memory_mib: 262_144,
        price_per_node_hour: None,
        labels: Default::default(),
        kind: Default::default(),
    }
}

/// Invariants checked after every event; checkpoints every second.
fn checked() -> EngineConfig {
    EngineConfig {
        check_invariants: true,
        checkpoint_interval: 1_000,
        ..EngineConfig::default()
    }
}

fn params(s: &str) -> toml::Table {
    s.parse().expect("valid TOML")
}

fn run_cfg(
    w: &Workload,
    pools: &[PoolSpec],
    s: SchedulerKind,
    p: &str,
    cfg: EngineConfig,
) -> RunResult {
    let scheduler = s.build_with(&params(p)).expect("valid parameters");
    Simulation::new(w, pools, scheduler, PlacementKind::FirstFit.build(), cfg)
        .run(|_| {})
        .expect("run succeeds")
}

fn run(w: &Workload, pools: &[PoolSpec], s: SchedulerKind, p: &str) -> RunResult {
    run_cfg(w, pools, s, p, checked())
}

/// (first start, end) in whole seconds, per job id.
fn times(r: &RunResult) -> Vec<(u64, u64)> {
    r.outcomes
        .iter()
        .map(|o| {
            assert_eq!(o.status, JobStatus::Finished, "{o:?}");
            let (s, e) = (o.start.unwrap().as_millis(), o.end.unwrap().as_millis());
            assert!(s % 1000 == 0 && e % 1000 == 0, "{o:?}");
            (s / 1000, e / 1000)
        })
        .collect()
}

fn preemptions(r: &RunResult) -> Vec<u32> {
    r.outcomes.iter().map(|o| o.preemptions).collect()
}

/// Asserts that every policy but `me` (fifo-skip and the others of this
/// file, with default parameters) gives other times than `expected`.
fn others_differ(w: &Workload, pools: &[PoolSpec], me: SchedulerKind, expected: &[(u64, u64)]) {
    for s in OURS.into_iter().chain([SchedulerKind::FifoSkip]) {
        if s != me {
            let r = run(w, pools, s, "");
            assert_ne!(times(&r), expected, "{s:?} decides like {me:?}");
        }
    }
}

/// One 4-GPU node. A (4 GPUs, 100 s) runs from 0; B (2 GPUs, 20 s) arrives
/// at 10 and C (2 GPUs, 5 s) at 20.
/// - srtf: at 10, B's 20 s beat A's remaining 90 s and B fits only without
///   A, so A is preempted (keeping 10 s of work); B runs 10..30. At 20, C (5)
///   starts on the 2 free GPUs, 20..25. A (90 left) does not fit beside B and
///   cannot preempt the shorter B; it restarts when B ends at 30: 30..120.
/// - fifo-skip (and tiresias: all in queue 0, FIFO; themis and drf: one
///   tenant): A 0..100, then B 100..120 and C 100..105.
/// - las: A is protected by its 60 s quantum; at 60 B and C (no service)
///   preempt it: B 60..80, C 60..65; A resumes at 80 with 40 s left: 120.
#[test]
fn srtf_preempts_for_shorter_remaining_time() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("A").gpus(4).duration_s(100),
        JobDraft::new("B").submit_s(10).gpus(2).duration_s(20),
        JobDraft::new("C").submit_s(20).gpus(2).duration_s(5),
    ]);
    let pools = [pool(1, 4, 64_000)];
    let r = run(&w, &pools, SchedulerKind::Srtf, "");
    assert_eq!(times(&r), [(0, 120), (10, 30), (20, 25)]);
    assert_eq!(preemptions(&r), [1, 0, 0]);
    assert_eq!(r.outcomes[0].lost_gpu_milli_ms, 0);
    let fifo = run(&w, &pools, SchedulerKind::FifoSkip, "");
    assert_eq!(times(&fifo), [(0, 100), (100, 120), (100, 105)]);
    let las = run(&w, &pools, SchedulerKind::Las, "");
    assert_eq!(times(&las), [(0, 120), (60, 80), (60, 65)]);
    assert_eq!(preemptions(&las), [1, 0, 0]);
    others_differ(&w, &pools, SchedulerKind::Srtf, &times(&r));
}

/// Gangs: one 4-GPU node. L1 (1 GPU, 100 s), L2 (1 GPU, 50 s) and S0
/// (2 GPUs, 8 s) run from 0. G (3 GPUs, 10 s) arrives at 5: only L1 and L2
/// rank after it (S0 has 3 s left), and preempting both frees 2 GPUs, not 3:
/// nothing is preempted. At 8 S0 ends and 2 GPUs are free; now preempting L1
/// alone (the longest, 92 s left) is enough and L2 is spared: G runs 8..18,
/// L1 restarts at 18 with 92 s left: 110.
/// With `min_runtime_s = 20` L1 and L2 are protected until 20 (the policy
/// asks for a pass then): G runs 20..30, L1 restarts at 30 with 80 s: 110.
#[test]
fn srtf_preempts_the_fewest_longest_jobs_for_a_gang() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("L1").gpus(1).duration_s(100),
        JobDraft::new("L2").gpus(1).duration_s(50),
        JobDraft::new("S0").gpus(2).duration_s(8),
        JobDraft::new("G").submit_s(5).gpus(3).duration_s(10),
    ]);
    let pools = [pool(1, 4, 64_000)];
    let r = run(&w, &pools, SchedulerKind::Srtf, "");
    assert_eq!(times(&r), [(0, 110), (0, 50), (0, 8), (8, 18)]);
    assert_eq!(preemptions(&r), [1, 0, 0, 0]);
    let r = run(&w, &pools, SchedulerKind::Srtf, "min_runtime_s = 20");
    assert_eq!(times(&r), [(0, 110), (0, 50), (0, 8), (20, 30)]);
    assert_eq!(preemptions(&r), [1, 0, 0, 0]);
}

/// One 1-GPU node, `quantum_s = 10`. A (30 s) from 0, B (25 s) from 5.
/// - las: at 5 A (5 GPU-s) ranks after B (0) but is protected until 10; B
///   preempts it at 10. At 20 B has 10 GPU-s, as much as A, and the tie goes
///   to the earlier A: A preempts B (B's quantum is over). At 30 A has 20,
///   B 10: B again, until 40 where they tie at 20: A runs its last 10 s,
///   40..50, then B its last 5 s, 50..55.
/// - fifo-skip, srtf (25 left for A at 5 ties B's 25; A arrived first),
///   tiresias (both in queue 0), themis and drf: A 0..30, B 30..55.
#[test]
fn las_takes_turns_by_attained_service() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("A").gpus(1).duration_s(30),
        JobDraft::new("B").submit_s(5).gpus(1).duration_s(25),
    ]);
    let pools = [pool(1, 1, 64_000)];
    let r = run(&w, &pools, SchedulerKind::Las, "quantum_s = 10");
    assert_eq!(times(&r), [(0, 50), (10, 55)]);
    assert_eq!(preemptions(&r), [2, 2]);
    for s in OURS.into_iter().chain([SchedulerKind::FifoSkip]) {
        if s != SchedulerKind::Las {
            assert_eq!(times(&run(&w, &pools, s, "")), [(0, 30), (30, 55)], "{s:?}");
        }
    }
    // The default 60 s quantum outlasts A: no preemption at all.
    let r = run(&w, &pools, SchedulerKind::Las, "");
    assert_eq!(times(&r), [(0, 30), (30, 55)]);
}

/// Restore overhead and lost work under las: one 1-GPU node, quantum 10 s,
/// checkpoints every 4 s, restores of 2 s. A (20 s) from 0, B (10 s) from 0.
/// A runs 0..10 (progress 10, keeps 8); B 10..20 (first start: no restore),
/// reaching A's 10 GPU-s at 20 and losing the tie to the earlier A but
/// finishing then anyway. A restarts at 20, restores until 22, runs its
/// last 12 s: 34.
#[test]
fn las_pays_restore_overhead_and_loses_uncheckpointed_work() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("A").gpus(1).duration_s(20),
        JobDraft::new("B").gpus(1).duration_s(10),
    ]);
    let cfg = EngineConfig {
        checkpoint_interval: 4_000,
        restore_overhead: 2_000,
        ..checked()
    };
    let r = run_cfg(
        &w,
        &[pool(1, 1, 64_000)],
        SchedulerKind::Las,
        "quantum_s = 10",
        cfg,
    );
    assert_eq!(times(&r), [(0, 34), (10, 20)]);
    assert_eq!(preemptions(&r), [1, 0]);
    assert_eq!(r.outcomes[0].lost_gpu_milli_ms, 2 * 1000 * 1000);
}

/// Without checkpoints (every preemption loses all progress), one 1-GPU
/// node, quantum 10 s, A and B (25 s each) from 0. A run is protected for
/// max(quantum, the job's wasted time), here all its earlier run time, so
/// slices grow:
/// A 0..10; B 10..20; A 20..30 (ran 10 before: 10 s); B 30..40; A 40..60
/// (ran 20 before: 20 s); B 60..80; A from 80 is protected for 40 s and
/// finishes its 25 s at 105; B restarts then and ends at 130. With fixed
/// 10 s slices neither would ever finish.
#[test]
fn las_slices_grow_so_jobs_finish_without_checkpoints() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("A").gpus(1).duration_s(25),
        JobDraft::new("B").gpus(1).duration_s(25),
    ]);
    let cfg = EngineConfig {
        checkpoint_interval: 0,
        ..checked()
    };
    let r = run_cfg(
        &w,
        &[pool(1, 1, 64_000)],
        SchedulerKind::Las,
        "quantum_s = 10",
        cfg,
    );
    assert_eq!(times(&r), [(0, 105), (10, 130)]);
    assert_eq!(preemptions(&r), [3, 3]);
    let lost = 40 * 1000 * 1000;
    assert_eq!(
        r.outcomes
            .iter()
            .map(|o| o.lost_gpu_milli_ms)
            .collect::<Vec<_>>(),
        [lost, lost]
    );
}

/// One 2-GPU node, `thresholds_gpu_s = [20]`: two queues. A (2 GPUs, 30 s)
/// from 0, B (2 GPUs, 10 s) from 5.
/// - tiresias: at 5 both are in queue 0 and A arrived first: B waits. At 10
///   A's service reaches 20 GPU-s (the policy asked for a pass then): A drops
///   to queue 1 and B preempts it: B 10..20, A resumes 20..40.
/// - srtf: B (10) preempts A (25 left) at once: B 5..15, A 15..40.
/// - fifo-skip, las (A's 60 s quantum), default tiresias, themis, drf:
///   A 0..30, B 30..40.
#[test]
fn tiresias_demotes_on_time_and_preempts_the_demoted() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("A").gpus(2).duration_s(30),
        JobDraft::new("B").submit_s(5).gpus(2).duration_s(10),
    ]);
    let pools = [pool(1, 2, 64_000)];
    let p = "thresholds_gpu_s = [20]";
    let r = run(&w, &pools, SchedulerKind::Tiresias, p);
    assert_eq!(times(&r), [(0, 40), (10, 20)]);
    assert_eq!(preemptions(&r), [1, 0]);
    let srtf = run(&w, &pools, SchedulerKind::Srtf, "");
    assert_eq!(times(&srtf), [(0, 40), (5, 15)]);
    others_differ(&w, &pools, SchedulerKind::Tiresias, &times(&r));
}

/// Starvation promotion: one 2-GPU node, thresholds [20] GPU-s, every job
/// 2 GPUs. A (30 s) from 0, B (10 s) from 5, C (10 s) from 15.
/// - Without promotion: as above B preempts the demoted A at 10 and runs
///   10..20; at 20 C (queue 0) goes before A (queue 1): 20..30; A 30..50.
/// - `promote_after_s = 15`: A has waited since 10, so at 25 it returns to
///   queue 0 with its service counted from 0; it ranks before C (earlier
///   arrival) and preempts it (C keeps 5 s). At 35 A has gained 20 GPU-s
///   again and drops to queue 1: C preempts it back and ends at 40; A
///   finishes its last 10 s, 40..50.
#[test]
fn tiresias_promotes_starving_jobs() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("A").gpus(2).duration_s(30),
        JobDraft::new("B").submit_s(5).gpus(2).duration_s(10),
        JobDraft::new("C").submit_s(15).gpus(2).duration_s(10),
    ]);
    let pools = [pool(1, 2, 64_000)];
    let r = run(
        &w,
        &pools,
        SchedulerKind::Tiresias,
        "thresholds_gpu_s = [20]",
    );
    assert_eq!(times(&r), [(0, 50), (10, 20), (20, 30)]);
    assert_eq!(preemptions(&r), [1, 0, 0]);
    let p = "thresholds_gpu_s = [20]\npromote_after_s = 15";
    let r = run(&w, &pools, SchedulerKind::Tiresias, p);
    assert_eq!(times(&r), [(0, 50), (10, 20), (20, 40)]);
    assert_eq!(preemptions(&r), [2, 0, 1]);
}

/// One 4-GPU node; tenants x, y and k. At 0 X0 (x, 1 GPU, 100 s), Y0 (y,
/// 1 GPU, 20 s) and K (k, 2 GPUs, 10 s) fill it; X1 (x, 2 GPUs, 10 s) arrives
/// at 1 and Y1 (y, 2 GPUs, 10 s) at 2. When K ends at 10 only one of X1, Y1
/// fits. Themis, with N = 2 active tenants on C = 4 GPUs, at t = 10 s:
/// - x: W_tot = 100·1 + 10·2 = 120 GPU-s, T_id = max(120·2/4, 100) = 100 s;
///   W_rem = 90 + 20 = 110 GPU-s on 1 GPU: T_sh = 10 + 110 = 120 s; ρ = 1.2.
/// - y: W_tot = 20 + 20 = 40, T_id = max(40·2/4, 20) = 20 s; W_rem = 10 + 20
///   = 30 on 1 GPU: T_sh = 10 + 30 = 40 s; ρ = 2.0.
///
/// y is more wronged: Y1 runs 10..20, X1 20..30. fifo-skip (arrival), drf
/// (equal shares of 1/4: lower tenant id x), las and tiresias (arrival among
/// equal ranks) run X1 first; srtf preempts X0 and Y0 for X1 at 1.
#[test]
fn themis_serves_the_most_wronged_tenant() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("X0").tenant("x").gpus(1).duration_s(100),
        JobDraft::new("Y0").tenant("y").gpus(1).duration_s(20),
        JobDraft::new("K").tenant("k").gpus(2).duration_s(10),
        JobDraft::new("X1")
            .tenant("x")
            .submit_s(1)
            .gpus(2)
            .duration_s(10),
        JobDraft::new("Y1")
            .tenant("y")
            .submit_s(2)
            .gpus(2)
            .duration_s(10),
    ]);
    let pools = [pool(1, 4, 64_000)];
    let r = run(&w, &pools, SchedulerKind::Themis, "");
    let expected = [(0, 100), (0, 20), (0, 10), (20, 30), (10, 20)];
    assert_eq!(times(&r), expected);
    assert_eq!(preemptions(&r), [0; 5]);
    for s in [SchedulerKind::FifoSkip, SchedulerKind::Drf] {
        let r = run(&w, &pools, s, "");
        assert_eq!(
            times(&r),
            [(0, 100), (0, 20), (0, 10), (10, 20), (20, 30)],
            "{s:?}"
        );
    }
    others_differ(&w, &pools, SchedulerKind::Themis, &expected);
}

/// One node: 4 GPUs, 16 CPUs. X0 (x, 1 GPU, 100 s), Y0 (y, no GPU, 8 CPUs,
/// 100 s) and K (k, 2 GPUs, 10 s) start at 0; Y1 (y, 2 GPUs, 10 s) arrives
/// at 1, X1 (x, 2 GPUs, 10 s) at 2. At 10 K ends and one of them fits.
/// - drf: x's dominant share is 1/4 (GPUs), y's 8/16 = 1/2 (CPU): x goes
///   first, X1 10..20, Y1 20..30 (a GPU-only share would pick y, at 0).
/// - fifo-skip (arrival) and themis (y holds no GPU: ρ = ∞) run Y1 first;
///   srtf preempts X0 for Y1 at 1; las and tiresias go by arrival.
#[test]
fn drf_ranks_tenants_by_dominant_share() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("X0").tenant("x").gpus(1).duration_s(100),
        JobDraft::new("Y0")
            .tenant("y")
            .gpus(0)
            .cpu_mem(8_000, 0)
            .duration_s(100),
        JobDraft::new("K").tenant("k").gpus(2).duration_s(10),
        JobDraft::new("Y1")
            .tenant("y")
            .submit_s(1)
            .gpus(2)
            .duration_s(10),
        JobDraft::new("X1")
            .tenant("x")
            .submit_s(2)
            .gpus(2)
            .duration_s(10),
    ]);
    let pools = [pool(1, 4, 16_000)];
    let r = run(&w, &pools, SchedulerKind::Drf, "");
    let expected = [(0, 100), (0, 100), (0, 10), (20, 30), (10, 20)];
    assert_eq!(times(&r), expected);
    for s in [SchedulerKind::FifoSkip, SchedulerKind::Themis] {
        let r = run(&w, &pools, s, "");
        assert_eq!(
            times(&r),
            [(0, 100), (0, 100), (0, 10), (10, 20), (20, 30)],
            "{s:?}"
        );
    }
    others_differ(&w, &pools, SchedulerKind::Drf, &expected);
}

/// Preemption across tenants: one 4-GPU node, X0a and X0b (x, 2 GPUs, 100 s)
/// fill it from 0; Y1 (y, 2 GPUs, 10 s) arrives at 5.
/// - drf with `preempt = true`: y's share after starting Y1 is 1/2, x's after
///   losing X0b (latest start, then higher id) is 1/2 ≤: X0b is preempted
///   (keeping 5 s); Y1 runs 5..15; X0b resumes at 15 with 95 s left: 110.
///   Losing X0a too would leave x at 0 < 1/2, so only one victim qualifies.
/// - themis with `preempt = true, lease_s = 2`: y holds nothing (ρ = ∞);
///   after the move y's ρ would be (0 + 20/2)/10 = 1 and x's (2 GPUs left
///   for 380 GPU-s of work, T_id = 400·2/4 = 200 s) (5 + 190)/200 = 0.975,
///   not more than 0.1 above y's: X0b goes, as under drf; same times. At 7 Y1's lease ends; x (0.975) is not more than 0.1 above
///   y (1.0), so nothing moves.
/// - without preemption Y1 waits for X0a/X0b: 100..110.
#[test]
fn drf_and_themis_preempt_across_tenants_when_asked() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("X0a").tenant("x").gpus(2).duration_s(100),
        JobDraft::new("X0b").tenant("x").gpus(2).duration_s(100),
        JobDraft::new("Y1")
            .tenant("y")
            .submit_s(5)
            .gpus(2)
            .duration_s(10),
    ]);
    let pools = [pool(1, 4, 64_000)];
    let preempting = [
        (SchedulerKind::Drf, "preempt = true"),
        (SchedulerKind::Themis, "preempt = true\nlease_s = 2"),
    ];
    for (s, p) in preempting {
        let r = run(&w, &pools, s, p);
        assert_eq!(times(&r), [(0, 100), (0, 110), (5, 15)], "{s:?}");
        assert_eq!(preemptions(&r), [0, 1, 0], "{s:?}");
        let r = run(&w, &pools, s, "");
        assert_eq!(times(&r), [(0, 100), (0, 100), (100, 110)], "{s:?}");
    }
    // A lease longer than Y1's wait keeps X0b until its lease ends at 30.
    let r = run(
        &w,
        &pools,
        SchedulerKind::Themis,
        "preempt = true\nlease_s = 30",
    );
    assert_eq!(times(&r), [(0, 100), (0, 110), (30, 40)]);
}

#[test]
fn bad_parameters_name_the_field() {
    let cases: [(SchedulerKind, &str, &str); 12] = [
        (SchedulerKind::Srtf, "min_runtime_s = -5", "min_runtime_s"),
        (SchedulerKind::Srtf, "quantum_s = 5", "quantum_s"),
        (SchedulerKind::Las, "quantum_s = 0", "quantum_s"),
        (SchedulerKind::Las, "quantum_s = \"60\"", "string"),
        (
            SchedulerKind::Tiresias,
            "thresholds_gpu_s = [100, 50]",
            "thresholds_gpu_s[1]",
        ),
        (
            SchedulerKind::Tiresias,
            "thresholds_gpu_s = [-1]",
            "thresholds_gpu_s[0]",
        ),
        (
            SchedulerKind::Tiresias,
            "promote_after_s = 0",
            "promote_after_s",
        ),
        (SchedulerKind::Tiresias, "promote = 10", "promote"),
        (SchedulerKind::Themis, "rho_gap = -1", "rho_gap"),
        (SchedulerKind::Themis, "lease_s = -1", "lease_s"),
        (SchedulerKind::Drf, "preempt = \"yes\"", "string"),
        (SchedulerKind::Drf, "weights = {x = 2}", "weights"),
    ];
    for (s, p, field) in cases {
        let Err(e) = s.build_with(&params(p)) else {
            panic!("{s:?} accepted {p}");
        };
        assert!(e.contains(field), "{s:?} {p}: {e}");
    }
    for s in OURS {
        assert!(s.build_with(&toml::Table::new()).is_ok(), "{s:?} defaults");
    }
}

/// Each policy with its defaults and with parameters that make it preempt
/// more often.
const CONFIGS: [(SchedulerKind, &str); 10] = [
    (SchedulerKind::Srtf, ""),
    (SchedulerKind::Srtf, "min_runtime_s = 7"),
    (SchedulerKind::Las, ""),
    (SchedulerKind::Las, "quantum_s = 5"),
    (SchedulerKind::Tiresias, ""),
    (
        SchedulerKind::Tiresias,
        "thresholds_gpu_s = [20, 100]\npromote_after_s = 30",
    ),
    (SchedulerKind::Themis, ""),
    (SchedulerKind::Themis, "preempt = true\nlease_s = 5"),
    (SchedulerKind::Drf, ""),
    (SchedulerKind::Drf, "preempt = true"),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// With invariants checked after every event (including work
    /// conservation after every pass), every job that can fit finishes, no
    /// earlier than its duration after its first start, and exactly the jobs
    /// that can never fit are unschedulable. Checkpoints every 1 or 2 s with
    /// restores of at most 1 s keep the preemptive policies making progress;
    /// a generous horizon turns a livelock into a failure instead of a hang.
    #[test]
    fn every_feasible_job_finishes(
        pools in pools(),
        w in jobs(3),
        config in prop::sample::select(CONFIGS.to_vec()),
        placement in prop::sample::select(vec![PlacementKind::FirstFit, PlacementKind::BestFit, PlacementKind::WorstFit]),
        periodic in prop::option::of(1u64..50),
        checkpoint_s in 1u64..3,
        restore_ms in prop::sample::select(vec![0u64, 500, 1_000]),
    ) {
        let (s, p) = config;
        let cfg = EngineConfig {
            check_invariants: true,
            sample_interval: 7_000,
            schedule_interval: periodic.map(|s| s * 1000),
            horizon: Some(schedlab::time::SimTime::from_secs(1_000_000)),
            checkpoint_interval: checkpoint_s * 1000,
            restore_overhead: restore_ms,
            ..EngineConfig::default()
        };
        let scheduler = s.build_with(&params(p)).unwrap();
        let r = Simulation::new(&w, &pools, scheduler, placement.build(), cfg)
            .run(|_| {})
            .map_err(|e| TestCaseError::fail(format!("{s:?} {p}: {e}")))?;
        prop_assert_eq!(r.outcomes.len(), w.jobs.len());
        for (o, job) in r.outcomes.iter().zip(&w.jobs) {
            if ever_fits(&pools, job) {
                prop_assert_eq!(o.status, JobStatus::Finished, "{:?} {}: job {:?}", s, p, job);
                let start = o.start.unwrap();
                prop_assert!(start >= job.submit);
                prop_assert!(o.end.unwrap() >= start + job.duration);
                prop_assert_eq!(o.restarts, o.preemptions);
            } else {
                prop_assert_eq!(o.status, JobStatus::Unschedulable, "job {:?}", job);
                prop_assert!(o.start.is_none());
            }
        }
    }

    /// Without checkpoints every preemption loses all progress; every
    /// configuration without starvation promotion (which can then displace
    /// long jobs forever, as documented) still finishes every feasible job.
    #[test]
    fn without_checkpoints_every_feasible_job_still_finishes(
        pools in pools(),
        w in jobs(3),
        config in prop::sample::select(
            CONFIGS.iter().copied().filter(|c| !c.1.contains("promote")).collect::<Vec<_>>()
        ),
        restore_ms in prop::sample::select(vec![0u64, 1_000]),
    ) {
        let (s, p) = config;
        let cfg = EngineConfig {
            check_invariants: true,
            horizon: Some(schedlab::time::SimTime::from_secs(1_000_000)),
            checkpoint_interval: 0,
            restore_overhead: restore_ms,
            ..EngineConfig::default()
        };
        let scheduler = s.build_with(&params(p)).unwrap();
        let r = Simulation::new(&w, &pools, scheduler, PlacementKind::FirstFit.build(), cfg)
            .run(|_| {})
            .map_err(|e| TestCaseError::fail(format!("{s:?} {p}: {e}")))?;
        for (o, job) in r.outcomes.iter().zip(&w.jobs) {
            let want = if ever_fits(&pools, job) { JobStatus::Finished } else { JobStatus::Unschedulable };
            prop_assert_eq!(o.status, want, "{:?} {}: job {:?}", s, p, job);
        }
    }

    /// The same inputs give the same outputs.
    #[test]
    fn runs_are_deterministic(
        pools in pools(),
        w in jobs(3),
        config in prop::sample::select(CONFIGS.to_vec()),
    ) {
        let (s, p) = config;
        let go = || {
            let cfg = EngineConfig { checkpoint_interval: 1_000, ..EngineConfig::default() };
            Simulation::new(&w, &pools, s.build_with(&params(p)).unwrap(), PlacementKind::BestFit.build(), cfg)
                .run(|_| {})
                .unwrap()
        };
        prop_assert_eq!(go(), go());
    }
}

/// Quickstart-sized settings: defaults, and the preemptive variants with
/// protections at least as long as the 60 s checkpoints used below.
const QUICKSTART: [(SchedulerKind, &str); 8] = [
    (SchedulerKind::Srtf, ""),
    (SchedulerKind::Las, ""),
    (SchedulerKind::Tiresias, ""),
    (
        SchedulerKind::Tiresias,
        "promote_after_s = 7200\nmin_runtime_s = 60",
    ),
    (SchedulerKind::Themis, ""),
    (SchedulerKind::Themis, "preempt = true"),
    (SchedulerKind::Drf, ""),
    (SchedulerKind::Drf, "preempt = true"),
];

/// The bundled quickstart (3,025 Philly jobs, 64 GPUs, arrivals in one
/// tenant per virtual cluster) under each policy, with 60 s checkpoints: a
/// smoke and speed check, not run by default
/// (`cargo test --test policy_queue -- --ignored --nocapture`).
#[test]
#[ignore]
fn quickstart_under_each_policy() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let sc = schedlab::scenario::Scenario::load(&dir.join("scenarios/quickstart.toml"), &[])
        .expect("quickstart loads");
    let (w, _) = sc.build_workload().expect("workload");
    for (s, p) in QUICKSTART {
        let t = std::time::Instant::now();
        let cfg = EngineConfig {
            checkpoint_interval: 60_000,
            ..sc.engine.clone()
        };
        let scheduler = s.build_with(&params(p)).unwrap();
        let r = Simulation::new(
            &w,
            &sc.cluster.pools,
            scheduler,
            PlacementKind::BestFit.build(),
            cfg,
        )
        .run(|_| {})
        .unwrap();
        let sum = schedlab::metrics::Summary::compute(&w, &r);
        assert_eq!(sum.jobs.finished, 3025, "{s:?} {p}");
        println!(
            "{:>8} {:<40} mean JCT {:>7.0} s, p95 {:>7.0} s, {:>6} preemptions, {:>7} events, {:.2?}",
            s.name(),
            p.replace('\n', " "),
            sum.jct_s.mean,
            sum.jct_s.p95,
            sum.preemptions,
            r.events,
            t.elapsed()
        );
    }
}
