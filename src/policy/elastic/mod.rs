//! Elastic-training policies: after each scheduling pass they resize running
//! elastic jobs (see [`crate::workload::elastic`]): shrinking them so waiting
//! jobs fit, growing them into GPUs nobody waits for. The engine applies each
//! resize with the scenario's rescale overhead.

mod marginal_gain;

pub use marginal_gain::MarginalGain;

use serde::{Deserialize, Serialize};

use crate::ids::JobId;
use crate::workload::Workload;

/// What an elastic policy sees and may do after a scheduling pass. The engine
/// implements it.
pub trait ElasticPass {
    /// All jobs of the scenario.
    fn workload(&self) -> &Workload;
    /// Jobs still waiting after the scheduler's pass, in arrival order.
    fn pending(&self) -> &[JobId];
    /// Running jobs, in no particular order.
    fn running(&self) -> &[JobId];
    /// Workers a running job holds now (0 when not running).
    fn workers(&self, job: JobId) -> u32;
    /// Work a running job has left, ms at its requested size.
    fn remaining_work(&self, job: JobId) -> crate::time::Millis;
    /// What resizing a running job now would cost it, ms of no progress (0
    /// when its current run began at this instant).
    fn resize_cost(&self, job: JobId) -> crate::time::Millis;
    /// Whether a pending job's gang (an elastic job's minimum) fits now.
    fn fits_now(&self, job: JobId) -> bool;
    /// Whether `job` would fit if each `(victim, n)` gave up its last `n`
    /// workers. Changes nothing.
    fn fits_if_shrunk(&mut self, job: JobId, shrinks: &[(JobId, u32)]) -> bool;
    /// Removes the last `n` workers of a running elastic job (never below its
    /// minimum). Returns false and changes nothing otherwise.
    fn shrink(&mut self, job: JobId, n: u32) -> bool;
    /// Places one more worker of a running elastic job (never above its
    /// maximum) with the scenario's placement policy. Returns false when it
    /// does not fit.
    fn grow(&mut self, job: JobId) -> bool;
}

/// A policy that resizes elastic jobs.
pub trait ElasticPolicy {
    /// The name scenarios use.
    fn name(&self) -> &'static str;
    /// Resizes jobs; returns true when it changed anything (the engine then
    /// runs the scheduler again, and this again, until nothing changes).
    fn rebalance(&mut self, pass: &mut dyn ElasticPass) -> bool;
}

/// The elastic policies a scenario may name (`[elastic] policy = "..."`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElasticKind {
    /// Elastic jobs may start with fewer workers than requested (down to
    /// their minimum) but are never resized afterwards.
    StartOnly,
    /// Pollux-like reallocation by marginal speedup; see [`MarginalGain`].
    MarginalGain,
}

impl ElasticKind {
    /// Every kind, in documentation order.
    pub const ALL: [ElasticKind; 2] = [ElasticKind::StartOnly, ElasticKind::MarginalGain];

    /// The name scenarios use.
    pub fn name(self) -> &'static str {
        match self {
            ElasticKind::StartOnly => "start-only",
            ElasticKind::MarginalGain => "marginal-gain",
        }
    }

    /// A fresh policy object; `None` for policies that never resize.
    pub fn build(self) -> Option<Box<dyn ElasticPolicy>> {
        match self {
            ElasticKind::StartOnly => None,
            ElasticKind::MarginalGain => Some(Box::new(MarginalGain)),
        }
    }
}
