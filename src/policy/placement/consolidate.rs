//! Gang consolidation.
//!
//! (Being written: this placeholder keeps the crate compiling.)

use super::{Placement, PlacementContext};
use crate::cluster::{ClusterView, WorkerRequest};
use crate::ids::NodeId;
use crate::workload::Job;

/// See the module docs.
#[derive(Debug, Default, Clone)]
pub struct Consolidate;

impl Consolidate {
    /// Builds the policy from its context.
    pub fn from_context(_ctx: &PlacementContext<'_>) -> Result<Self, String> {
        Err("`consolidate` is not implemented yet".into())
    }
}

impl Placement for Consolidate {
    fn name(&self) -> &'static str {
        "consolidate"
    }

    fn place(
        &mut self,
        _view: ClusterView<'_>,
        _job: &Job,
        _req: &WorkerRequest<'_>,
    ) -> Option<NodeId> {
        None
    }
}
