//! Engine throughput: the reference workload, 100,000 synthetic jobs on
//! 1,024 GPUs (128 nodes x 8), fifo-skip + best-fit
//! (`scenarios/synthetic-100k.toml`). Reports time per whole run and events
//! per second. Run with `cargo bench --bench engine`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use schedlab::engine::{EngineConfig, simulate};
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
