//! Placement policies: for each worker of a gang, in turn, choose a node over a
//! read-only view of the cluster. The engine applies each choice before asking
//! for the next worker (so the view includes the gang's earlier workers, as
//! kube-scheduler sees pods bound one by one) and rolls the whole gang back if
//! any worker cannot be placed. One policy per file; [`PlacementKind`] is the
//! closed list a scenario may name.

mod best_fit;
mod consolidate;
mod dot_product;
mod fgd;
mod first_fit;
mod gpu_clustering;
mod gpu_packing;
mod random;
mod worst_fit;

pub use best_fit::BestFit;
pub use consolidate::Consolidate;
pub use dot_product::DotProduct;
pub use fgd::Fgd;
pub use first_fit::FirstFit;
pub use gpu_clustering::GpuClustering;
pub use gpu_packing::GpuPacking;
pub use random::RandomPlacement;
pub use worst_fit::WorstFit;

use serde::{Deserialize, Serialize};

use crate::cluster::{ClusterView, GpuShare, Node, PoolSpec, WorkerRequest};
use crate::ids::NodeId;
use crate::workload::{GpuDemand, Job, Workload};

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
    /// A seeded uniformly random feasible node.
    Random,
    /// Largest dot product of the request and the node's free resources.
    DotProduct,
    /// Keeps pods of one shape together.
    GpuClustering,
    /// Packs GPUs: partially used GPUs and nodes first.
    GpuPacking,
    /// A gang on the fewest nodes, within one rack when there is a topology.
    Consolidate,
    /// Fragmentation gradient descent (ATC'23).
    Fgd,
}

/// What a placement may read when it is built: its parameters, the run's
/// seed, the workload (e.g. FGD's target task shapes) and the pools.
#[derive(Debug, Clone, Copy)]
pub struct PlacementContext<'a> {
    /// The scenario's `[policy.placement_params]` table.
    pub params: &'a toml::Table,
    /// The scenario seed.
    pub seed: u64,
    pub workload: &'a Workload,
    pub pools: &'a [PoolSpec],
}

impl PlacementKind {
    /// Every placement.
    pub const ALL: [PlacementKind; 9] = [
        PlacementKind::FirstFit,
        PlacementKind::BestFit,
        PlacementKind::WorstFit,
        PlacementKind::Random,
        PlacementKind::DotProduct,
        PlacementKind::GpuClustering,
        PlacementKind::GpuPacking,
        PlacementKind::Consolidate,
        PlacementKind::Fgd,
    ];

    /// A fresh instance with default parameters, seed 0 and no workload
    /// knowledge (FGD then has no target workload; use
    /// [`PlacementKind::build_with`]).
    pub fn build(self) -> Box<dyn Placement> {
        let empty = Workload::default();
        let params = toml::Table::new();
        self.build_with(&PlacementContext {
            params: &params,
            seed: 0,
            workload: &empty,
            pools: &[],
        })
        .unwrap_or_else(|e| panic!("{} needs parameters: {e}", self.name()))
    }

    /// A fresh instance configured from the context; the error names the bad
    /// parameter.
    pub fn build_with(self, ctx: &PlacementContext<'_>) -> Result<Box<dyn Placement>, String> {
        let none = || {
            if ctx.params.is_empty() {
                Ok(())
            } else {
                Err(format!("`{}` takes no parameters", self.name()))
            }
        };
        Ok(match self {
            PlacementKind::FirstFit => none().map(|()| Box::new(FirstFit) as Box<dyn Placement>)?,
            PlacementKind::BestFit => none().map(|()| Box::new(BestFit) as Box<dyn Placement>)?,
            PlacementKind::WorstFit => none().map(|()| Box::new(WorstFit) as Box<dyn Placement>)?,
            PlacementKind::Random => Box::new(RandomPlacement::from_context(ctx)?),
            PlacementKind::DotProduct => Box::new(DotProduct::from_context(ctx)?),
            PlacementKind::GpuClustering => Box::new(GpuClustering::from_context(ctx)?),
            PlacementKind::GpuPacking => Box::new(GpuPacking::from_context(ctx)?),
            PlacementKind::Consolidate => Box::new(Consolidate::from_context(ctx)?),
            PlacementKind::Fgd => Box::new(Fgd::from_context(ctx)?),
        })
    }

    /// The scenario name of the policy.
    pub fn name(self) -> &'static str {
        match self {
            PlacementKind::FirstFit => "first-fit",
            PlacementKind::BestFit => "best-fit",
            PlacementKind::WorstFit => "worst-fit",
            PlacementKind::Random => "random",
            PlacementKind::DotProduct => "dot-product",
            PlacementKind::GpuClustering => "gpu-clustering",
            PlacementKind::GpuPacking => "gpu-packing",
            PlacementKind::Consolidate => "consolidate",
            PlacementKind::Fgd => "fgd",
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
            kind: Default::default(),
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
