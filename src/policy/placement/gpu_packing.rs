//! GPU packing: fill GPUs and nodes that are already in use before touching
//! idle ones. The "Packing" baseline of the FGD paper (Weng et al., "Beware of
//! Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation
//! Gradient Descent", USENIX ATC 2023), following the authors' simulator
//! (`hkust-adsl/kubernetes-scheduler-simulator`, `GpuPackingScore`). Nodes
//! where the worker fits are ranked by tier, best first:
//!
//! 1. **a partially used GPU** (fractional workers only): the node has a GPU
//!    already shared (0 < used < 1000 milli-GPUs) with room for the share;
//!    within the tier, the fullest such GPU first (the simulator quantises
//!    this to tenths of a GPU);
//! 2. **a used node**: some GPU of the node is allocated, and the worker takes
//!    free GPUs there; within the tier, the node with the fewest free whole
//!    GPUs first (the simulator gives every used node the same score and lets
//!    the scheduler pick one at random);
//! 3. **an idle node** (no GPU allocated; CPU-only workers do not count):
//!    within the tier, the node with the fewest GPUs first.
//!
//! GPUs: the default choice, which matches the ranking — a fractional worker
//! takes the fullest GPU that still fits, whole GPUs the lowest free indices.
//! A CPU-only worker is not ranked (the simulator scores every node 0): it
//! takes the lowest-id node where it fits.
//!
//! Parameters: none (an empty `[policy.placement_params]`; any key is an
//! error).
//!
//! Tie-break: lower node id.

use serde::Deserialize;

use super::fgd::parse_named;
use super::{Placement, PlacementContext};
use crate::cluster::{ClusterView, Node, WorkerRequest};
use crate::ids::NodeId;
use crate::workload::{GpuDemand, Job, MILLI_PER_GPU};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {}

/// GPU packing; see the module docs.
#[derive(Debug, Default, Clone)]
pub struct GpuPacking;

impl GpuPacking {
    /// Builds the policy from its context.
    pub fn from_context(ctx: &PlacementContext<'_>) -> Result<Self, String> {
        let _: Params = parse_named(ctx.params)?;
        Ok(GpuPacking)
    }

    /// The (tier, within-tier) rank of a node where the worker fits; larger
    /// is better. Tiers: 3 partially used GPU, 2 used node, 1 idle node.
    pub fn rank(node: &Node, gpu: GpuDemand) -> (u8, i64) {
        if let GpuDemand::Fraction(m) = gpu {
            let shared = node
                .gpu_used()
                .iter()
                .filter(|&&u| u > 0 && u + m <= MILLI_PER_GPU)
                .max();
            if let Some(&u) = shared {
                return (3, i64::from(u));
            }
        }
        if node.free_whole_gpus() < node.gpu_count() {
            (2, -i64::from(node.free_whole_gpus()))
        } else {
            (1, -i64::from(node.gpu_count()))
        }
    }
}

impl Placement for GpuPacking {
    fn name(&self) -> &'static str {
        "gpu-packing"
    }

    fn place(
        &mut self,
        view: ClusterView<'_>,
        _job: &Job,
        req: &WorkerRequest<'_>,
    ) -> Option<NodeId> {
        if req.gpu == GpuDemand::Whole(0) {
            return view.feasible_nodes(req).next().map(|n| n.id);
        }
        let mut best: Option<((u8, i64), NodeId)> = None;
        for node in view.feasible_nodes(req) {
            let key = GpuPacking::rank(node, req.gpu);
            if best.is_none_or(|(b, _)| key > b) {
                best = Some((key, node.id));
            }
        }
        best.map(|(_, id)| id)
    }
}
