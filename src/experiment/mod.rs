//! Experiments built from whole simulated runs.
//!
//! - [`run_scenario`]: one scenario, simulated, with everything a report needs;
//!   every command below (and `schedlab run`) goes through it.
//! - [`fgd`]: the GPU-allocation experiment of the FGD paper (Weng et al.,
//!   USENIX ATC 2023) on the Alibaba openb traces: pods arrive one after
//!   another and never leave, and each placement policy is judged by how much
//!   GPU it allocates as the arrived demand grows past the cluster's capacity.
//! - [`compare`]: one workload under several policies or scenario variants.
//! - [`sweep`]: a grid of scenario fields × seeds, in parallel, resumable,
//!   shardable.
//! - [`plan`]: capacity planning by a monotone search over simulations.
//! - [`check`]: baselines and regression gates for CI.

pub mod check;
pub mod compare;
pub mod fgd;
pub mod plan;
pub mod sweep;

use std::time::Instant;

use anyhow::Context;

use crate::engine::{Progress, Simulation};
use crate::metrics::{RunResult, Summary};
use crate::report::RunInfo;
use crate::scenario::{Scenario, WorkloadReport};
use crate::workload::Workload;

/// Everything one simulated run of a scenario produced.
#[derive(Debug)]
pub struct ScenarioRun {
    pub workload: Workload,
    /// What building the workload read, skipped and filtered.
    pub built: WorkloadReport,
    pub result: RunResult,
    pub summary: Summary,
    pub info: RunInfo,
    /// Wall-clock seconds the build and simulation took (never part of a
    /// deterministic output).
    pub wall_s: f64,
}

/// Builds the scenario's workload and policies and simulates it. `progress`
/// is called now and then with the engine's progress.
pub fn run_scenario(
    scenario: &Scenario,
    mut progress: impl FnMut(Progress),
) -> anyhow::Result<ScenarioRun> {
    let started = Instant::now();
    let (workload, built) = scenario
        .build_workload()
        .with_context(|| format!("building the workload of {}", scenario.path.display()))?;
    let sim = Simulation::new(
        &workload,
        &scenario.cluster.pools,
        scenario.build_scheduler()?,
        scenario.build_placement(&workload)?,
        scenario.engine.clone(),
    );
    let result = sim
        .run(&mut progress)
        .with_context(|| format!("simulating {}", scenario.name))?;
    let summary = Summary::compute(&workload, &result);
    let info = run_info(scenario, &built);
    Ok(ScenarioRun {
        workload,
        built,
        result,
        summary,
        info,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

/// The run header of a scenario's reports.
pub fn run_info(scenario: &Scenario, built: &WorkloadReport) -> RunInfo {
    RunInfo {
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        scheduler: scenario.scheduler.name().to_string(),
        placement: scenario.placement.name().to_string(),
        workload: built.source.clone(),
        nodes: scenario.cluster.total_nodes(),
        gpus: scenario.cluster.total_gpus(),
    }
}
