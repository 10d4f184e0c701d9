//! Engine throughput: the reference workload, 100,000 synthetic jobs on
//! 1,024 GPUs (128 nodes x 8), fifo-skip + best-fit
//! (`scenarios/synthetic-100k.toml`). Reports time per whole run and events
//! per second; the same workload under Tiresias with preemption. Run with
//! `cargo bench --bench engine`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use schedlab::engine::{EngineConfig, simulate};
use schedlab::policy::scheduler::SchedulerKind;
use schedlab::scenario::Scenario;

fn engine(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/synthetic-100k.toml");
    let scenario = Scenario::load(&path, &[]).expect("bench scenario loads");
    let (workload, _) = scenario.build_workload().expect("workload builds");
    let config = EngineConfig {
        sample_interval: 3_600_000,
        ..scenario.engine.clone()
    };
    let run = || {
        simulate(
            black_box(&workload),
            &scenario.cluster.pools,
            scenario.scheduler,
            scenario.placement,
            config.clone(),
        )
        .expect("run succeeds")
    };
    let events = run().events;

    let mut group = c.benchmark_group("engine");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Elements(events));
    group.bench_function("synthetic-100k/fifo-skip+best-fit", |b| b.iter(run));

    // Tiresias with preemption: 10-minute checkpoints, 30 s restores.
    let preemptive = EngineConfig {
        checkpoint_interval: 600_000,
        restore_overhead: 30_000,
        ..config.clone()
    };
    let tiresias = || {
        simulate(
            black_box(&workload),
            &scenario.cluster.pools,
            SchedulerKind::Tiresias,
            scenario.placement,
            preemptive.clone(),
        )
        .expect("run succeeds")
    };
    let t_events = tiresias().events;
    group.throughput(Throughput::Elements(t_events));
    group.bench_function("synthetic-100k/tiresias+best-fit", |b| b.iter(tiresias));
    group.finish();

    // 10,000 jobs with autoscaling, failures and spot reclaims, beside the
    // same workload on the fixed, fault-free cluster of the groups' largest
    // size (`scenarios/elastic-capacity.toml`).
    let elastic_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/elastic-capacity.toml");
    let jobs: schedlab::scenario::Override = "workload.synthetic.jobs=10000".parse().unwrap();
    let elastic = Scenario::load(&elastic_path, &[jobs]).expect("elastic scenario loads");
    let (ework, _) = elastic.build_workload().expect("workload builds");
    let fixed_pools: Vec<_> = elastic
        .cluster
        .pools
        .iter()
        .map(|p| schedlab::cluster::PoolSpec {
            nodes: 8,
            ..p.clone()
        })
        .collect();
    let fixed_cfg = EngineConfig {
        autoscaler: None,
        faults: EngineConfig::default().faults,
        ..elastic.engine.clone()
    };
    let with = || {
        simulate(
            &ework,
            &elastic.cluster.pools,
            elastic.scheduler,
            elastic.placement,
            elastic.engine.clone(),
        )
        .expect("run succeeds")
    };
    let without = || {
        simulate(
            &ework,
            &fixed_pools,
            elastic.scheduler,
            elastic.placement,
            fixed_cfg.clone(),
        )
        .expect("run succeeds")
    };
    let mut group = c.benchmark_group("elastic");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(with().events));
    group.bench_function("10k/autoscaling+failures", |b| b.iter(with));
    group.throughput(Throughput::Elements(without().events));
    group.bench_function("10k/fixed-cluster", |b| b.iter(without));
    group.finish();

    // Workload generation alone, for scale.
    let mut group = c.benchmark_group("workload");
    group.sample_size(10);
    group.throughput(Throughput::Elements(100_000));
    group.bench_function("synthetic-100k/generate", |b| {
        b.iter(|| scenario.build_workload().unwrap())
    });
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
