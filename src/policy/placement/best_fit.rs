//! Best fit: the node that would be most allocated after placing the worker,
//! scored like kube-scheduler's NodeResourcesFit `MostAllocated` strategy (see
//! [`super::allocation_scores`]). Packs jobs tightly and keeps whole nodes free
//! for large gangs.
//!
//! Tie-break: lower node id (upstream picks at random among equal scores).
//! Parameters: none (weights 1 for GPU, CPU and memory).

use super::{Placement, allocation_scores, argmax_feasible};
use crate::cluster::{ClusterView, WorkerRequest};
use crate::ids::NodeId;
use crate::workload::Job;

/// Best fit; see the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct BestFit;

impl Placement for BestFit {
    fn name(&self) -> &'static str {
        "best-fit"
    }

    fn place(
        &mut self,
        view: ClusterView<'_>,
        _job: &Job,
        req: &WorkerRequest<'_>,
    ) -> Option<NodeId> {
        argmax_feasible(view, req, |n| allocation_scores(n, req).most_allocated)
    }
}
