//! GPU packing.
//!
//! (Being written: this placeholder keeps the crate compiling.)

use super::{Placement, PlacementContext};
use crate::cluster::{ClusterView, WorkerRequest};
use crate::ids::NodeId;
use crate::workload::Job;

/// See the module docs.
#[derive(Debug, Default, Clone)]
pub struct GpuPacking;

impl GpuPacking {
    /// Builds the policy from its context.
    pub fn from_context(_ctx: &PlacementContext<'_>) -> Result<Self, String> {
        Err("`gpu-packing` is not implemented yet".into())
    }
}

impl Placement for GpuPacking {
    fn name(&self) -> &'static str {
        "gpu-packing"
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
