//! Generators and oracles shared by the property tests.
#![allow(dead_code)] // each test binary uses its own subset

pub mod bin;

use proptest::prelude::*;
use schedlab::cluster::PoolSpec;
use schedlab::workload::{GpuDemand, Job, JobDraft, Workload};

/// GPU models the generated pools and jobs use.
pub const MODELS: [&str; 2] = ["V100", "A100"];

/// Tenant names the generated jobs use.
pub const TENANTS: [&str; 3] = ["a", "b", "c"];

pub fn pools() -> impl Strategy<Value = Vec<PoolSpec>> {
    prop::collection::vec((1u32..4, 0u32..9, 0usize..2, 1u32..5), 1..4).prop_map(|ps| {
        ps.into_iter()
            .enumerate()
            .map(|(i, (nodes, gpus, model, cpu))| PoolSpec {
                name: format!("pool{i}"),
                nodes,
                gpus_per_node: gpus,
                gpu_model: MODELS[model].into(),
                cpu_milli: cpu * 4_000,
                memory_mib: 65_536,
                price_per_node_hour: None,
                labels: Default::default(),
                kind: Default::default(),
            })
            .collect()
    })
}

pub fn gpu() -> impl Strategy<Value = GpuDemand> {
    prop_oneof![
        3 => (0u32..5).prop_map(GpuDemand::Whole),
        1 => (1u32..1000).prop_map(GpuDemand::Fraction),
    ]
}

pub fn jobs(tenants: usize) -> impl Strategy<Value = Workload> {
    let job = (
        0u64..200,
        1u32..4,
        gpu(),
        0u32..9,
        1u64..100,
        0usize..4,
        0..tenants.clamp(1, TENANTS.len()),
    );
    prop::collection::vec(job, 0..30).prop_map(|js| {
        Workload::from_drafts(
            js.into_iter()
                .enumerate()
                .map(|(i, (submit, workers, gpu, cpu, dur, models, tenant))| {
                    let mut d = JobDraft::new(format!("j{i}"))
                        .submit_s(submit)
                        .workers(workers)
                        .duration_s(dur)
                        .cpu_mem(cpu * 1_000, 1_024)
                        .tenant(TENANTS[tenant]);
                    d.gpu = gpu;
                    d.gpu_models = match models {
                        0 => vec!["V100".into()],
                        1 => vec!["A100".into()],
                        _ => vec![],
                    };
                    d
                })
                .collect(),
        )
    })
}

/// Could the job fit on the empty cluster? Computed independently of the
/// engine: per node, how many workers fit, summed over allowed pools.
pub fn ever_fits(pools: &[PoolSpec], job: &Job) -> bool {
    let mut total = 0u64;
    for p in pools {
        if !job.gpu_models.is_empty() && !job.gpu_models.contains(&p.gpu_model) {
            continue;
        }
        let by_cpu = p
            .cpu_milli
            .checked_div(job.cpu_milli)
            .map_or(u64::MAX, u64::from);
        let by_mem = p.memory_mib.checked_div(job.memory_mib).unwrap_or(u64::MAX);
        let by_gpu = match job.gpu {
            GpuDemand::Whole(0) => u64::MAX,
            GpuDemand::Whole(g) => u64::from(p.gpus_per_node / g),
            GpuDemand::Fraction(m) => u64::from(p.gpus_per_node) * u64::from(1000 / m),
        };
        total += by_cpu.min(by_mem).min(by_gpu).min(1_000) * u64::from(p.nodes);
    }
    // An elastic job only needs its minimum.
    total >= u64::from(job.min_workers())
}
