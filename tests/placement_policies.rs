//! The placement policies random, dot-product, gpu-clustering, gpu-packing,
//! consolidate and fgd through the public API: each on a hand-made cluster
//! state where it chooses differently from the classic three, FGD's
//! fragmentation measure on a hand-computed node, seeded determinism, the
//! topology slowdown that consolidate avoids, parameter errors, and that
//! every policy only ever returns a node where the worker fits.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use schedlab::cluster::{Cluster, PoolSpec, Topology, WorkerAlloc, WorkerRequest};
use schedlab::engine::{EngineConfig, simulate};
use schedlab::ids::NodeId;
use schedlab::policy::placement::{Fgd, Placement, PlacementContext, PlacementKind};
use schedlab::policy::scheduler::SchedulerKind;
use schedlab::workload::{GpuDemand, Job, JobDraft, Workload};

const ALL: [bool; 4] = [true; 4];

fn pool(name: &str, nodes: u32, gpus: u32, model: &str) -> PoolSpec {
    PoolSpec {
        name: name.into(),
        nodes,
        gpus_per_node: gpus,
        gpu_model: model.into(),
        cpu_milli: 32_000,
        memory_mib: 262_144,
        price_per_node_hour: None,
        labels: Default::default(),
        kind: Default::default(),
    }
}

fn req(gpu: GpuDemand, cpu_milli: u32) -> WorkerRequest<'static> {
    WorkerRequest {
        gpu,
        cpu_milli,
        memory_mib: 0,
        allowed_pools: &ALL,
    }
}

/// Allocates one worker on `node` with the default GPU choice.
fn occupy(c: &mut Cluster, node: u32, gpu: GpuDemand, cpu_milli: u32) {
    let r = req(gpu, cpu_milli);
    let gpus = c.nodes()[node as usize].default_gpus(gpu).unwrap();
    c.allocate(
        &WorkerAlloc {
            node: NodeId(node),
            gpus,
            cpu_milli,
            memory_mib: 0,
        },
        &r,
    )
    .unwrap();
}

fn one_job(gpu: GpuDemand, workers: u32) -> Workload {
    let mut d = JobDraft::new("j").workers(workers);
    d.gpu = gpu;
    Workload::from_drafts(vec![d])
}

fn build(kind: PlacementKind, params: &str, seed: u64, workload: &Workload) -> Box<dyn Placement> {
    let params: toml::Table = params.parse().unwrap();
    kind.build_with(&PlacementContext {
        params: &params,
        seed,
        workload,
        pools: &[],
    })
    .unwrap()
}

fn build_err(kind: PlacementKind, params: &str) -> String {
    let params: toml::Table = params.parse().unwrap();
    match kind.build_with(&PlacementContext {
        params: &params,
        seed: 0,
        workload: &Workload::default(),
        pools: &[],
    }) {
        Ok(_) => panic!("{} accepted {params:?}", kind.name()),
        Err(e) => e,
    }
}

/// The node each classic policy picks.
fn classic(c: &Cluster, job: &Job, r: &WorkerRequest<'_>) -> [Option<NodeId>; 3] {
    [
        PlacementKind::FirstFit.build().place(c.view(), job, r),
        PlacementKind::BestFit.build().place(c.view(), job, r),
        PlacementKind::WorstFit.build().place(c.view(), job, r),
    ]
}

/// Places a whole job with `p` (placement, GPU choice, ledger), as the engine
/// does; returns the nodes of its workers, or `None` (rolled back).
fn place_job(
    p: &mut dyn Placement,
    c: &mut Cluster,
    job: &Job,
    r: &WorkerRequest<'_>,
) -> Option<Vec<u32>> {
    let mut allocs = Vec::new();
    for _ in 0..job.workers {
        let view = c.view();
        let Some(id) = p.place(view, job, r) else {
            for a in &allocs {
                c.release(a);
            }
            return None;
        };
        let node = view.node(id);
        assert!(
            view.fits(node, r),
            "{} chose node {id} where it does not fit",
            p.name()
        );
        let gpus = p.gpus(view, node, r).unwrap();
        let a = WorkerAlloc {
            node: id,
            gpus,
            cpu_milli: r.cpu_milli,
            memory_mib: r.memory_mib,
        };
        c.allocate(&a, r).unwrap();
        allocs.push(a);
    }
    Some(allocs.iter().map(|a| a.node.0).collect())
}

/// Three 8-GPU nodes whose (free GPU, free CPU) trade off, so that the
/// classic three all tie on node 0 while the dot product prefers node 1.
#[test]
fn dot_product_prefers_the_most_aligned_node() {
    let mut c = Cluster::new(&[pool("p", 3, 8, "V100")]);
    occupy(&mut c, 0, GpuDemand::Whole(0), 16_000); // 8 GPUs, 16 cores free
    occupy(&mut c, 1, GpuDemand::Whole(4), 0); // 4 GPUs, 32 cores free
    occupy(&mut c, 2, GpuDemand::Whole(2), 8_000); // 6 GPUs, 24 cores free
    let w = one_job(GpuDemand::Whole(2), 1);
    let r = req(GpuDemand::Whole(2), 16_000);
    // Scores: ¼·1 + ½·½ = .5; ¼·½ + ½·1 = .625; ¼·¾ + ½·¾ = .5625.
    assert_eq!(classic(&c, &w.jobs[0], &r), [Some(NodeId(0)); 3]);
    let mut dot = build(PlacementKind::DotProduct, "", 0, &w);
    assert_eq!(dot.place(c.view(), &w.jobs[0], &r), Some(NodeId(1)));
    // The simulator's variant takes the smallest product (node 0: .5 < .5625).
    let mut min = build(PlacementKind::DotProduct, "minimize = true", 0, &w);
    assert_eq!(min.place(c.view(), &w.jobs[0], &r), Some(NodeId(0)));
    // Nothing fits 9 GPUs.
    assert_eq!(
        dot.place(c.view(), &w.jobs[0], &req(GpuDemand::Whole(9), 0)),
        None
    );
}

/// A share goes onto an already shared GPU, even where best fit sees a fuller
/// node; whole GPUs go to the used node with the fewest free GPUs; an idle
/// node with fewer GPUs beats a larger one.
#[test]
fn gpu_packing_fills_shared_gpus_then_used_nodes() {
    let mut c = Cluster::new(&[pool("big", 3, 8, "V100"), pool("small", 1, 2, "V100")]);
    occupy(&mut c, 1, GpuDemand::Fraction(500), 0); // one GPU half used
    occupy(&mut c, 2, GpuDemand::Whole(2), 0); // two whole GPUs used
    let w = one_job(GpuDemand::Fraction(300), 1);
    let job = &w.jobs[0];
    let mut pack = build(PlacementKind::GpuPacking, "", 0, &w);
    let share = req(GpuDemand::Fraction(300), 0);
    assert_eq!(
        classic(&c, job, &share),
        [Some(NodeId(0)), Some(NodeId(2)), Some(NodeId(0))]
    );
    assert_eq!(pack.place(c.view(), job, &share), Some(NodeId(1)));
    // …on the shared GPU (index 0), not a free one.
    let gpus = pack.gpus(c.view(), &c.nodes()[1], &share).unwrap();
    assert_eq!((gpus[0].index, gpus[0].milli), (0, 300));
    // A whole GPU: node 2 has 6 free GPUs, node 1 has 7.
    let whole = req(GpuDemand::Whole(1), 0);
    assert_eq!(pack.place(c.view(), job, &whole), Some(NodeId(2)));
    // On an idle cluster, the smallest node first.
    let idle = Cluster::new(&[pool("big", 2, 8, "V100"), pool("small", 1, 2, "V100")]);
    assert_eq!(pack.place(idle.view(), job, &whole), Some(NodeId(2)));
    // CPU-only workers are not ranked: lowest id.
    assert_eq!(
        pack.place(c.view(), job, &req(GpuDemand::Whole(0), 1_000)),
        Some(NodeId(0))
    );
}

/// Clustering keeps GPU requests of one class together, using an idle node
/// rather than one running another class, where best fit mixes them.
#[test]
fn gpu_clustering_keeps_classes_apart() {
    let pools = [pool("p", 3, 8, "V100")];
    let w = Workload::from_drafts(vec![
        JobDraft::new("share").gpu_milli(500),
        JobDraft::new("two").gpus(2),
        JobDraft::new("two-again").gpus(2),
        JobDraft::new("share-again").gpu_milli(250),
    ]);
    let r = |j: &Job| req(j.gpu, 0);
    let run = |kind: PlacementKind| {
        let mut c = Cluster::new(&pools);
        let mut p = build(kind, "", 0, &w);
        w.jobs
            .iter()
            .map(|j| place_job(p.as_mut(), &mut c, j, &r(j)).unwrap()[0])
            .collect::<Vec<u32>>()
    };
    assert_eq!(run(PlacementKind::GpuClustering), [0, 1, 1, 0]);
    assert_eq!(run(PlacementKind::BestFit), [0, 0, 0, 0]);
    assert_eq!(run(PlacementKind::FirstFit), [0, 0, 0, 0]);
    // With exact shares, 250 and 500 are different classes: the 250 share
    // avoids both used nodes.
    let mut c = Cluster::new(&pools);
    let mut p = build(PlacementKind::GpuClustering, "exact_share = true", 0, &w);
    let nodes: Vec<u32> = w
        .jobs
        .iter()
        .map(|j| place_job(p.as_mut(), &mut c, j, &r(j)).unwrap()[0])
        .collect();
    assert_eq!(nodes, [0, 1, 1, 2]);

    // Within a tier, GPU best fit: node 2 has the fewest free milli-GPUs.
    // The simulator's integer score ties nodes within 320 free milli-GPUs
    // (nodes 1 and 2), and has no preference for CPU-only workers.
    let mut c = Cluster::new(&pools);
    occupy(&mut c, 1, GpuDemand::Whole(4), 0);
    occupy(&mut c, 2, GpuDemand::Whole(4), 0);
    occupy(&mut c, 2, GpuDemand::Whole(0), 0);
    let mut c2 = c.clone();
    occupy(&mut c2, 2, GpuDemand::Fraction(100), 0);
    let one = one_job(GpuDemand::Whole(1), 1);
    let cpu = req(GpuDemand::Whole(0), 1_000);
    let gpu = req(GpuDemand::Whole(1), 0);
    let mut exact = build(PlacementKind::GpuClustering, "", 0, &one);
    let mut publ = build(
        PlacementKind::GpuClustering,
        "publisher_score = true",
        0,
        &one,
    );
    assert_eq!(exact.place(c2.view(), &one.jobs[0], &gpu), Some(NodeId(2)));
    assert_eq!(publ.place(c2.view(), &one.jobs[0], &gpu), Some(NodeId(1)));
    assert_eq!(exact.place(c.view(), &one.jobs[0], &cpu), Some(NodeId(1)));
    assert_eq!(publ.place(c.view(), &one.jobs[0], &cpu), Some(NodeId(0)));
}

/// A gang goes to the one node that holds it whole, where best fit splits it.
#[test]
fn consolidate_puts_a_gang_on_the_fewest_nodes() {
    let mut c = Cluster::new(&[pool("p", 3, 8, "V100")]);
    occupy(&mut c, 0, GpuDemand::Whole(4), 0);
    let w = one_job(GpuDemand::Whole(3), 2);
    let job = &w.jobs[0];
    let r = req(GpuDemand::Whole(3), 0);
    let mut cons = build(PlacementKind::Consolidate, "", 0, &w);
    assert_eq!(
        place_job(cons.as_mut(), &mut c.clone(), job, &r),
        Some(vec![1, 1])
    );
    let mut bf = PlacementKind::BestFit.build();
    assert_eq!(
        place_job(bf.as_mut(), &mut c.clone(), job, &r),
        Some(vec![0, 1])
    );
    // A gang larger than any node fills the largest first: 2 on node 1, then
    // the others.
    let w4 = one_job(GpuDemand::Whole(3), 4);
    assert_eq!(
        place_job(cons.as_mut(), &mut c.clone(), &w4.jobs[0], &r),
        Some(vec![1, 1, 2, 2])
    );
    // Too big a gang is refused and the policy forgets it.
    let w9 = one_job(GpuDemand::Whole(3), 6);
    assert_eq!(
        place_job(cons.as_mut(), &mut c.clone(), &w9.jobs[0], &r),
        None
    );
    assert_eq!(place_job(cons.as_mut(), &mut c, job, &r), Some(vec![1, 1]));
}

/// Two racks of two 4-GPU nodes; node 0 is full when a 2 × 3-GPU gang comes.
/// Best fit spans racks (nodes 1 and 2) and the gang runs 1.5× longer;
/// consolidate keeps it in rack 1 (nodes 2 and 3).
#[test]
fn consolidate_avoids_the_cross_rack_slowdown() {
    let pools = [pool("p", 4, 4, "V100")];
    let w = Workload::from_drafts(vec![
        JobDraft::new("a").gpus(1).duration_s(1000),
        JobDraft::new("b").gpus(3).duration_s(1000),
        JobDraft::new("gang")
            .submit_s(1)
            .gpus(3)
            .workers(2)
            .duration_s(100),
    ]);
    let config = EngineConfig {
        topology: Some(Topology {
            nodes_per_rack: 2,
            cross_rack_slowdown: 1.5,
        }),
        check_invariants: true,
        ..EngineConfig::default()
    };
    let end = |kind| {
        let run = simulate(&w, &pools, SchedulerKind::Fifo, kind, config.clone()).unwrap();
        let o = &run.outcomes[2];
        (o.end.unwrap().as_millis() / 1000, o.nodes_used)
    };
    assert_eq!(end(PlacementKind::BestFit), (1 + 150, 2));
    assert_eq!(end(PlacementKind::Consolidate), (1 + 100, 2));
    // Without a topology nothing is slowed down.
    let flat = simulate(
        &w,
        &pools,
        SchedulerKind::Fifo,
        PlacementKind::BestFit,
        EngineConfig::default(),
    )
    .unwrap();
    assert_eq!(flat.outcomes[2].end.unwrap().as_millis(), 101_000);
}

/// Target workload: one 500m share. Node 0 (1 GPU) has 500 used, node 1
/// (1 GPU) and node 2 (2 GPUs) are idle. A 400m share on node 0 leaves a
/// 100m sliver no target task can use (Δ = +100); on an idle node it leaves
/// 600 free, still enough for a target task (Δ = 0).
#[test]
fn fgd_avoids_leaving_unusable_slivers() {
    let pools = [pool("one", 2, 1, "V100"), pool("two", 1, 2, "V100")];
    let mut c = Cluster::new(&pools);
    occupy(&mut c, 0, GpuDemand::Fraction(500), 0);
    let w = one_job(GpuDemand::Fraction(400), 1);
    let job = &w.jobs[0];
    let r = req(GpuDemand::Fraction(400), 0);
    assert_eq!(
        classic(&c, job, &r),
        [Some(NodeId(0)), Some(NodeId(0)), Some(NodeId(2))]
    );
    let target = "tie_break = \"lower-id\"\nshapes = [{ gpu_milli = 500, gpus = 1 }]";
    let mut fgd = build(PlacementKind::Fgd, target, 0, &w);
    assert_eq!(fgd.place(c.view(), job, &r), Some(NodeId(1)));
    // On a two-GPU node with one GPU at 300, FGD picks the idle GPU (the
    // default choice would pick the fuller one and leave a 300m sliver).
    let mut c2 = Cluster::new(&[pool("two", 1, 2, "V100")]);
    occupy(&mut c2, 0, GpuDemand::Fraction(300), 0);
    assert_eq!(c2.nodes()[0].default_gpus(r.gpu).unwrap()[0].index, 0);
    assert_eq!(fgd.place(c2.view(), job, &r), Some(NodeId(0)));
    assert_eq!(fgd.gpus(c2.view(), &c2.nodes()[0], &r).unwrap()[0].index, 1);
}

/// F(node) by hand: 4 GPUs with 300, 800, 1000 and 0 used (free 700, 200,
/// 0, 1000 = 1900), 24 of 32 cores used (8 free), model V100.
#[test]
fn fgd_fragmentation_of_a_hand_computed_node() {
    let mut c = Cluster::new(&[pool("p", 1, 4, "V100")]);
    occupy(&mut c, 0, GpuDemand::Fraction(300), 24_000);
    occupy(&mut c, 0, GpuDemand::Fraction(800), 0);
    occupy(&mut c, 0, GpuDemand::Whole(1), 0);
    assert_eq!(c.nodes()[0].gpu_used(), [300, 800, 1000, 0]);
    let shapes = r#"shapes = [
        { cpu_milli = 4000, gpu_milli = 500, gpus = 1 },
        { cpu_milli = 16000, gpu_milli = 1000, gpus = 1 },
        { gpu_milli = 1000, gpus = 2, weight = 2.0 },
        { cpu_milli = 1000, gpu_milli = 0, gpus = 0 },
        { gpu_milli = 1000, gpus = 1, models = ["V100"] },
        { gpu_milli = 1000, gpus = 1, models = ["T4"] },
    ]"#;
    let params: toml::Table = shapes.parse().unwrap();
    let w = Workload::default();
    let fgd = Fgd::from_context(&PlacementContext {
        params: &params,
        seed: 0,
        workload: &w,
        pools: &[],
    })
    .unwrap();
    // Per shape, the free milli-GPUs it cannot use:
    //   500m, 4 cores: fits; GPUs with < 500 free: 200 + 0      →  200
    //   1 GPU, 16 cores: not enough CPU                         → 1900
    //   2 GPUs (×2): only one whole GPU free                    → 1900
    //   CPU-only: can use no GPU                                → 1900
    //   1 GPU, V100 only: fits; GPUs < 1000 free: 700 + 200 + 0 →  900
    //   1 GPU, T4 only: wrong model                             → 1900
    let expected = (200.0 + 1900.0 + 2.0 * 1900.0 + 1900.0 + 900.0 + 1900.0) / 7.0;
    let f = fgd.fragmentation(c.view(), &c.nodes()[0]);
    assert!((f - expected).abs() < 1e-9, "{f} != {expected}");
    assert!((fgd.cluster_fragmentation(c.view()) - expected).abs() < 1e-9);
    // An idle node: every shape but the CPU-only one and T4 fits.
    let idle = Cluster::new(&[pool("p", 1, 4, "V100")]);
    let f0 = fgd.fragmentation(idle.view(), &idle.nodes()[0]);
    assert!((f0 - 2.0 * 4000.0 / 7.0).abs() < 1e-9, "{f0}");
    // Scores: sigmoid of the decrease, 0.5 for no change.
    assert_eq!(Fgd::score(0.0), 0.5);
    assert!(Fgd::score(-1000.0) > 0.7 && Fgd::score(1000.0) < 0.3);
}

/// The target workload: the most popular shapes covering 95 % of tasks.
#[test]
fn fgd_target_workload_from_the_trace() {
    let mut drafts = Vec::new();
    for i in 0..6 {
        drafts.push(
            JobDraft::new(format!("s{i}"))
                .gpu_milli(500)
                .cpu_mem(4000, 0),
        );
    }
    for i in 0..3 {
        drafts.push(
            JobDraft::new(format!("g{i}"))
                .gpus(1)
                .cpu_mem(8000, 0)
                .models(&["T4", "A10", "T4"]),
        );
    }
    drafts.push(JobDraft::new("big").gpus(2).workers(1));
    let w = Workload::from_drafts(drafts);
    let ctx = |params: &toml::Table| {
        Fgd::from_context(&PlacementContext {
            params,
            seed: 0,
            workload: &w,
            pools: &[],
        })
        .unwrap()
    };
    let fgd = ctx(&toml::Table::new());
    let t = fgd.target();
    assert_eq!(t.len(), 3, "9 of 10 tasks are below 95 %: {t:?}");
    assert_eq!(
        (t[0].gpu_milli, t[0].gpus, t[0].cpu_milli, t[0].weight),
        (500, 1, 4000, 6)
    );
    assert_eq!((t[1].gpu_milli, t[1].gpus, t[1].weight), (1000, 1, 3));
    assert_eq!(t[1].models, ["A10", "T4"]);
    let fgd = ctx(&"popularity = 0.9".parse().unwrap());
    assert_eq!(fgd.target().len(), 2);
    // Without a workload: the documented uniform mix.
    let empty = PlacementKind::Fgd.build();
    assert_eq!(empty.name(), "fgd");
    let fgd = Fgd::from_context(&PlacementContext {
        params: &toml::Table::new(),
        seed: 0,
        workload: &Workload::default(),
        pools: &[],
    })
    .unwrap();
    assert_eq!(fgd.target().len(), 6);
}

/// The same seed gives the same choices; another seed other choices; every
/// choice fits.
#[test]
fn random_is_seeded_and_feasible() {
    let pools = [pool("p", 20, 8, "V100")];
    let w = one_job(GpuDemand::Whole(1), 1);
    let run = |params: &str, seed: u64| {
        let mut c = Cluster::new(&pools);
        let mut p = build(PlacementKind::Random, params, seed, &w);
        let r = req(GpuDemand::Whole(1), 0);
        (0..150)
            .map(|_| place_job(p.as_mut(), &mut c, &w.jobs[0], &r).map(|n| n[0]))
            .collect::<Vec<_>>()
    };
    let a = run("", 7);
    assert_eq!(a, run("", 7));
    assert_ne!(a, run("", 8));
    assert_eq!(run("seed_offset = 1", 7), run("", 8));
    // 150 one-GPU workers on 160 GPUs: all placed, on many nodes.
    assert!(a.iter().all(Option::is_some));
    let mut nodes: Vec<u32> = a.iter().flatten().copied().collect();
    nodes.sort_unstable();
    nodes.dedup();
    assert_eq!(nodes.len(), 20);
    // FGD's random tie order is seeded too: on an idle cluster every node
    // ties, and the choice follows the seed.
    let idle = Cluster::new(&pools);
    let first = |seed| {
        build(PlacementKind::Fgd, "", seed, &w).place(
            idle.view(),
            &w.jobs[0],
            &req(GpuDemand::Whole(1), 0),
        )
    };
    assert_eq!(first(3), first(3));
    let picks: Vec<_> = (0..8).map(first).collect();
    assert!(picks.iter().any(|p| *p != picks[0]), "{picks:?}");
}

#[test]
fn parameter_errors_name_the_field() {
    let e = build_err(PlacementKind::DotProduct, "minimize = \"yes\"");
    assert!(e.starts_with("`minimize`:"), "{e}");
    let e = build_err(PlacementKind::Random, "seed = 3");
    assert!(e.contains("`seed`"), "{e}");
    let e = build_err(PlacementKind::GpuPacking, "x = 1");
    assert!(e.contains("`x`"), "{e}");
    let e = build_err(PlacementKind::Consolidate, "x = 1");
    assert!(e.contains("`x`"), "{e}");
    let e = build_err(PlacementKind::GpuClustering, "exact_share = 1");
    assert!(e.starts_with("`exact_share`:"), "{e}");
    let e = build_err(PlacementKind::Fgd, "popularity = 1.5");
    assert!(e.starts_with("`popularity`:"), "{e}");
    let e = build_err(PlacementKind::Fgd, "tie_break = \"sideways\"");
    assert!(e.starts_with("`tie_break`:"), "{e}");
    let e = build_err(
        PlacementKind::Fgd,
        "shapes = [{ gpu_milli = 500, gpus = \"a\" }]",
    );
    assert!(e.starts_with("`shapes.gpus`:"), "{e}");
    let e = build_err(
        PlacementKind::Fgd,
        "shapes = [{ gpu_milli = 500, gpus = 2 }]",
    );
    assert!(e.starts_with("`shapes[0]`.gpus:"), "{e}");
    let e = build_err(
        PlacementKind::Fgd,
        "shapes = [{ gpu_milli = 1500, gpus = 1 }]",
    );
    assert!(e.contains("gpu_milli"), "{e}");
}

/// Random cluster states and requests, including model constraints: every
/// policy returns a node where the worker fits, and refuses only when none
/// exists.
#[test]
fn every_policy_returns_only_feasible_nodes() {
    let pools = [
        pool("a", 3, 8, "V100"),
        pool("b", 2, 4, "T4"),
        pool("c", 2, 0, ""),
        pool("d", 1, 2, "A10"),
    ];
    let masks: [&[bool]; 3] = [
        &[true; 4],
        &[false, true, false, true],
        &[true, false, true, false],
    ];
    let workload = Workload::from_drafts(vec![
        JobDraft::new("a").gpu_milli(300),
        JobDraft::new("b").gpus(2).cpu_mem(8000, 0),
        JobDraft::new("c").gpus(0).cpu_mem(4000, 0),
    ]);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let kinds = PlacementKind::ALL;
    let mut policies: Vec<Box<dyn Placement>> =
        kinds.iter().map(|&k| build(k, "", 5, &workload)).collect();
    for round in 0..40 {
        let mut c = Cluster::new(&pools);
        for _ in 0..rng.random_range(0..40) {
            let n = rng.random_range(0..c.nodes().len()) as u32;
            let gpu = match rng.random_range(0..3) {
                0 => GpuDemand::Fraction(rng.random_range(1..1000)),
                1 => GpuDemand::Whole(rng.random_range(0..3)),
                _ => GpuDemand::Whole(1),
            };
            let r = req(gpu, rng.random_range(0..8) * 1000);
            if c.nodes()[n as usize].fits(&r) {
                occupy(&mut c, n, gpu, r.cpu_milli);
            }
        }
        for _ in 0..10 {
            let gpu = match rng.random_range(0..4) {
                0 => GpuDemand::Fraction(rng.random_range(1..1000)),
                1 => GpuDemand::Whole(rng.random_range(1..9)),
                2 => GpuDemand::Whole(0),
                _ => GpuDemand::Whole(1),
            };
            let workers = rng.random_range(1..4);
            let w = one_job(gpu, workers);
            let r = WorkerRequest {
                gpu,
                cpu_milli: rng.random_range(0..16) * 1000,
                memory_mib: 0,
                allowed_pools: masks[rng.random_range(0..masks.len())],
            };
            let feasible = c.view().feasible_nodes(&r).next().is_some();
            // Consolidate plans whole gangs: it refuses a gang that does not
            // fit at its first worker (the engine never asks for one).
            let gang_fits = c.view().gang_fits(&r, workers);
            for (k, p) in kinds.iter().zip(policies.iter_mut()) {
                if *k == PlacementKind::Consolidate {
                    *p = build(*k, "", 5, &workload);
                }
                let got = p.place(c.view(), &w.jobs[0], &r);
                match got {
                    Some(id) => {
                        let node = c.view().node(id);
                        assert!(
                            c.view().fits(node, &r),
                            "round {round}: {} chose {id}",
                            p.name()
                        );
                        let shares = p.gpus(c.view(), node, &r).expect("a GPU choice");
                        let mut probe = c.clone();
                        probe
                            .allocate(
                                &WorkerAlloc {
                                    node: id,
                                    gpus: shares,
                                    cpu_milli: r.cpu_milli,
                                    memory_mib: 0,
                                },
                                &r,
                            )
                            .unwrap_or_else(|e| panic!("{}: {e}", p.name()));
                    }
                    None if *k == PlacementKind::Consolidate => {
                        assert!(
                            !gang_fits,
                            "round {round}: consolidate refused a gang that fits"
                        )
                    }
                    None => assert!(
                        !feasible,
                        "round {round}: {} refused a feasible worker",
                        p.name()
                    ),
                }
            }
        }
    }
}
