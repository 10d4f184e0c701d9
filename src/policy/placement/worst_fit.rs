//! Worst fit: the node that would be least allocated after placing the worker,
//! scored like kube-scheduler's default NodeResourcesFit `LeastAllocated`
//! strategy (see [`super::allocation_scores`]). Spreads load, which leaves
//! fragments that large gangs cannot use.
//!
//! Tie-break: lower node id (upstream picks at random among equal scores).
//! Parameters: none (weights 1 for GPU, CPU and memory).

use super::{Placement, allocation_scores, argmax_feasible};
use crate::cluster::{ClusterView, WorkerRequest};
use crate::ids::NodeId;
use crate::workload::Job;

/// Worst fit; see the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct WorstFit;

impl Placement for WorstFit {
    fn name(&self) -> &'static str {
        "worst-fit"
    }

    fn place(
        &mut self,
        view: ClusterView<'_>,
        _job: &Job,
        req: &WorkerRequest<'_>,
    ) -> Option<NodeId> {
        argmax_feasible(view, req, |n| allocation_scores(n, req).least_allocated)
    }
}
