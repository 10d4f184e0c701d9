//! Placement policies: for each worker of a gang, in turn, choose a node over a
//! read-only view of the cluster. The engine applies each choice before asking
//! for the next worker (so the view includes the gang's earlier workers, as
//! kube-scheduler sees pods bound one by one) and rolls the whole gang back if
//! any worker cannot be placed. One policy per file; [`PlacementKind`] is the
//! closed list a scenario may name.

mod best_fit;
mod first_fit;
mod worst_fit;

pub use best_fit::BestFit;
pub use first_fit::FirstFit;
pub use worst_fit::WorstFit;

use serde::{Deserialize, Serialize};

use crate::cluster::{ClusterView, GpuShare, Node, WorkerRequest};
use crate::ids::NodeId;
use crate::workload::{GpuDemand, Job};

/// A placement policy.
pub trait Placement {
    /// The name used in scenarios and reports.
    fn name(&self) -> &'static str;

    /// The node for the next worker of `job`, or `None` to refuse (the engine
    /// then rolls the gang back). Must return a node where the worker fits
    /// ([`ClusterView::fits`]); the engine checks.
    fn place(
        &mut self,
        view: ClusterView<'_>,
        job: &Job,
        req: &WorkerRequest<'_>,
    ) -> Option<NodeId>;

    /// The GPUs the worker takes on the chosen node. The default takes the
    /// lowest-indexed free GPUs for whole-GPU workers and the fullest GPU that
    /// still fits for a fractional worker.
    fn gpus(
        &mut self,
        _view: ClusterView<'_>,
        node: &Node,
        req: &WorkerRequest<'_>,
    ) -> Option<Vec<GpuShare>> {
        node.default_gpus(req.gpu)
    }
}

/// The placements a scenario may name (`policy.placement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlacementKind {
    /// Lowest node id where the worker fits.
    FirstFit,
    /// Most allocated node after placement (Kubernetes `MostAllocated`).
    BestFit,
    /// Least allocated node after placement (Kubernetes `LeastAllocated`).
    WorstFit,
}

impl PlacementKind {
    /// Every placement, in name order.
    pub const ALL: [PlacementKind; 3] = [
        PlacementKind::FirstFit,
        PlacementKind::BestFit,
        PlacementKind::WorstFit,
    ];

    /// A fresh instance of the policy.
    pub fn build(self) -> Box<dyn Placement> {
        match self {
            PlacementKind::FirstFit => Box::new(FirstFit),
            PlacementKind::BestFit => Box::new(BestFit),
            PlacementKind::WorstFit => Box::new(WorstFit),
        }
    }

    /// The scenario name of the policy.
    pub fn name(self) -> &'static str {
        match self {
            PlacementKind::FirstFit => "first-fit",
            PlacementKind::BestFit => "best-fit",
            PlacementKind::WorstFit => "worst-fit",
        }
    }
}

/// kube-scheduler's NodeResourcesFit scores for a node if the worker were placed
/// there, each 0..=100 (integer, floored per resource and for the mean, as
/// upstream). Resources scored: GPUs (only when the worker asks for GPUs, as
/// upstream scores extended resources only for pods that request them), CPU and
/// memory, with weight 1 each; a resource with zero capacity is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocationScores {
    /// `MostAllocated`: mean of `100 × (used + request) / capacity`.
    pub most_allocated: u64,
    /// `LeastAllocated`: mean of `100 × (capacity − used − request) / capacity`.
    pub least_allocated: u64,
}

/// See [`AllocationScores`].
pub fn allocation_scores(node: &Node, req: &WorkerRequest<'_>) -> AllocationScores {
    let mut most = 0;
    let mut least = 0;
    let mut count = 0;
    let mut add = |cap: u64, used: u64, ask: u64| {
        if cap == 0 {
            return;
        }
        let after = (used + ask).min(cap);
        most += after * 100 / cap;
        least += (cap - after) * 100 / cap;
        count += 1;
    };
    if req.gpu != GpuDemand::Whole(0) {
        add(
            node.gpu_milli_capacity(),
            node.gpu_milli_used(),
            req.gpu.milli(),
        );
    }
    add(
        u64::from(node.cpu_capacity()),
        u64::from(node.cpu_used()),
        u64::from(req.cpu_milli),
    );
    add(node.memory_capacity(), node.memory_used(), req.memory_mib);
    if count == 0 {
        return AllocationScores {
            most_allocated: 0,
            least_allocated: 0,
        };
    }
    AllocationScores {
        most_allocated: most / count,
        least_allocated: least / count,
    }
}

/// The feasible node with the highest `score`; ties go to the lower node id.
pub(crate) fn argmax_feasible(
    view: ClusterView<'_>,
    req: &WorkerRequest<'_>,
    mut score: impl FnMut(&Node) -> u64,
) -> Option<NodeId> {
    let mut best: Option<(u64, NodeId)> = None;
    for node in view.feasible_nodes(req) {
        let s = score(node);
        if best.is_none_or(|(b, _)| s > b) {
            best = Some((s, node.id));
        }
    }
    best.map(|(_, id)| id)
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A tiny cluster builder for placement tests.
    use crate::cluster::{Cluster, PoolSpec, WorkerAlloc, WorkerRequest};
    use crate::ids::NodeId;
    use crate::workload::GpuDemand;

    /// One pool of `nodes` nodes with `gpus` GPUs each, 32 cores and 256 GiB.
    pub fn cluster(nodes: u32, gpus: u32) -> Cluster {
        Cluster::new(&[PoolSpec {
            name: "p".into(),
            nodes,
            gpus_per_node: gpus,
            gpu_model: "V100".into(),
            cpu_milli: 32_000,
            memory_mib: 262_144,
            price_per_node_hour: None,
            labels: Default::default(),
        }])
    }

    pub const ALL: [bool; 1] = [true];

    pub fn req(gpus: u32) -> WorkerRequest<'static> {
        WorkerRequest {
            gpu: GpuDemand::Whole(gpus),
            cpu_milli: 0,
            memory_mib: 0,
            allowed_pools: &ALL,
        }
    }

    /// Occupies `gpus` whole GPUs on `node`.
    pub fn occupy(c: &mut Cluster, node: u32, gpus: u32) {
        let r = req(gpus);
        let shares = c.nodes()[node as usize].default_gpus(r.gpu).unwrap();
        c.allocate(
            &WorkerAlloc {
                node: NodeId(node),
                gpus: shares,
                cpu_milli: 0,
                memory_mib: 0,
            },
            &r,
        )
        .unwrap();
    }
}
