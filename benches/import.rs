//! Import speed of the Philly reader, in rows per second: the full published
//! trace (`../shared/traces/philly/philly.csv`, 82,247 rows) when it is there,
//! else the bundled 3,025-row sample. Run with `cargo bench --bench import`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use schedlab::trace::{ImportOptions, TraceFormat, read_trace};

fn import(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let full = root.join("../shared/traces/philly/philly.csv");
    let (path, label) = if full.exists() {
        (full, "philly-full")
    } else {
        eprintln!("../shared/traces is absent: benchmarking the bundled sample instead");
        (
            root.join("scenarios/data/philly-sample.csv"),
            "philly-sample",
        )
    };
    let opts = ImportOptions::default();
    let rows = read_trace(&path, TraceFormat::Philly, &opts)
        .expect("the trace imports")
        .report
        .rows;
    let mut group = c.benchmark_group("import");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(rows));
    group.bench_function(label, |b| {
        b.iter(|| read_trace(black_box(&path), TraceFormat::Philly, &opts).unwrap())
    });
    group.finish();
}

criterion_group!(benches, import);
criterion_main!(benches);
