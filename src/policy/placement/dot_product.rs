//! Dot-product placement.
//!
//! (Being written: this placeholder keeps the crate compiling.)

use super::{Placement, PlacementContext};
use crate::cluster::{ClusterView, WorkerRequest};
use crate::ids::NodeId;
use crate::workload::Job;

/// See the module docs.
#[derive(Debug, Default, Clone)]
pub struct DotProduct;

impl DotProduct {
    /// Builds the policy from its context.
    pub fn from_context(_ctx: &PlacementContext<'_>) -> Result<Self, String> {
        Err("`dot-product` is not implemented yet".into())
    }
}

impl Placement for DotProduct {
    fn name(&self) -> &'static str {
        "dot-product"
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
