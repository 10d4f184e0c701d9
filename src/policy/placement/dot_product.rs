//! Dot product ("alignment"), the multi-resource packing heuristic of Tetris
//! (Grandl et al., "Multi-Resource Packing for Cluster Schedulers",
//! SIGCOMM 2014), used as the "DotProd" baseline of the FGD paper (Weng et
//! al., USENIX ATC 2023).
//!
//! For each node where the worker fits, the score is the dot product of the
//! worker's request vector and the node's free-resource vector, each resource
//! normalised by the node's capacity:
//!
//! ```text
//! score = Σ_r (request_r / capacity_r) × (free_r / capacity_r)
//! ```
//!
//! over r ∈ {GPU in milli-GPUs (the worker's total, e.g. 2000 for two GPUs,
//! against the node's free milli-GPUs over all its GPUs), CPU in millicores,
//! memory in MiB}; a resource the node has none of is skipped. By default the
//! node with the **largest** score wins, as in Tetris: the node whose free
//! resources are most aligned with (and largest along) what the worker asks
//! for. GPUs: the default choice (lowest free whole GPUs; the fullest GPU
//! that still fits for a fractional worker).
//!
//! Parameters (`[policy.placement_params]`):
//!
//! | name       | unit | default | meaning |
//! |------------|------|---------|---------|
//! | `minimize` | bool | false   | pick the **smallest** dot product instead: the variant in the FGD authors' simulator (`hkust-adsl/kubernetes-scheduler-simulator`, `DotProductScore`, which scores `1 − dot/2` over CPU and total GPU normalised by the largest node), which packs rather than spreads |
//!
//! Tie-break: lower node id.

use serde::Deserialize;

use super::fgd::parse_named;
use super::{Placement, PlacementContext};
use crate::cluster::{ClusterView, Node, WorkerRequest};
use crate::ids::NodeId;
use crate::workload::Job;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    minimize: bool,
}

/// Dot-product placement; see the module docs.
#[derive(Debug, Default, Clone)]
pub struct DotProduct {
    minimize: bool,
}

impl DotProduct {
    /// Builds the policy from its context.
    pub fn from_context(ctx: &PlacementContext<'_>) -> Result<Self, String> {
        let p: Params = parse_named(ctx.params)?;
        Ok(DotProduct {
            minimize: p.minimize,
        })
    }

    /// The alignment score of the worker on `node` (see the module docs); 0
    /// for a worker that asks for nothing.
    pub fn score(node: &Node, req: &WorkerRequest<'_>) -> f64 {
        let mut s = 0.0;
        let mut add = |cap: u64, used: u64, ask: u64| {
            if cap == 0 {
                return;
            }
            let cap = cap as f64;
            s += (ask as f64 / cap) * (cap - used as f64) / cap;
        };
        add(
            node.gpu_milli_capacity(),
            node.gpu_milli_used(),
            req.gpu.milli(),
        );
        add(
            u64::from(node.cpu_capacity()),
            u64::from(node.cpu_used()),
            u64::from(req.cpu_milli),
        );
        add(node.memory_capacity(), node.memory_used(), req.memory_mib);
        s
    }
}

impl Placement for DotProduct {
    fn name(&self) -> &'static str {
        "dot-product"
    }

    fn place(
        &mut self,
        view: ClusterView<'_>,
        _job: &Job,
        req: &WorkerRequest<'_>,
    ) -> Option<NodeId> {
        let mut best: Option<(f64, NodeId)> = None;
        for node in view.feasible_nodes(req) {
            let s = DotProduct::score(node, req);
            let s = if self.minimize { -s } else { s };
            // Strictly better only: ties keep the lower id.
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, node.id));
            }
        }
        best.map(|(_, id)| id)
    }
}
