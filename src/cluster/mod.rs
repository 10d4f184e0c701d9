//! The simulated cluster: node pools from the scenario, and the per-node ledger
//! of GPUs (in milli-GPUs, so that fractional sharing is exact), CPU and memory.
//! Only the engine mutates the ledger; policies see it through [`ClusterView`].

mod ledger;

pub use ledger::{
    Cluster, ClusterView, GpuShare, LedgerError, Node, NodeFit, NodeState, PoolFree, WorkerAlloc,
    WorkerRequest,
};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One node pool: identical nodes of one shape (a Kubernetes node group).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// Unique pool name.
    pub name: String,
    /// Nodes in the pool.
    pub nodes: u32,
    /// GPUs per node (0 for a CPU pool).
    pub gpus_per_node: u32,
    /// GPU model name, matched against jobs' allowed models (e.g. "V100").
    #[serde(default)]
    pub gpu_model: String,
    /// Allocatable CPU per node, in millicores.
    #[serde(default = "default_cpu_milli")]
    pub cpu_milli: u32,
    /// Allocatable memory per node, in MiB.
    #[serde(default = "default_memory_mib")]
    pub memory_mib: u64,
    /// Price per node-hour, in the scenario's currency (reports only).
    #[serde(default)]
    pub price_per_node_hour: Option<f64>,
    /// Free-form labels such as `cloud`, `region` or `zone`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// How the pool's nodes are bought.
    #[serde(default)]
    pub kind: PoolKind,
}

/// How a pool's nodes are bought, which decides what may happen to them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolKind {
    /// Billed per node-hour while they exist; the autoscaler may add and
    /// remove them.
    #[default]
    OnDemand,
    /// Cheaper, but the provider may reclaim a node after a notice
    /// (`[faults.spot.<pool>]`); the autoscaler may replace it.
    Spot,
    /// A fixed count bought up front: paid for the whole run whether used or
    /// not, never scaled by the autoscaler.
    Reserved,
}

impl PoolKind {
    /// The name scenarios use.
    pub fn name(self) -> &'static str {
        match self {
            PoolKind::OnDemand => "on-demand",
            PoolKind::Spot => "spot",
            PoolKind::Reserved => "reserved",
        }
    }
}

/// 96 cores: ample for an 8-GPU node when the trace carries no CPU requests.
fn default_cpu_milli() -> u32 {
    96_000
}

/// 768 GiB.
fn default_memory_mib() -> u64 {
    786_432
}

/// Rack topology: consecutive nodes of a pool share a rack (switch).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Nodes per rack; racks never span pools.
    pub nodes_per_rack: u32,
    /// Duration multiplier (≥ 1) for a gang whose workers span more than one
    /// rack, e.g. 1.2 = 20% slower over the inter-rack network.
    #[serde(default = "one")]
    pub cross_rack_slowdown: f64,
}

fn one() -> f64 {
    1.0
}

/// The cluster a scenario simulates.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    pub pools: Vec<PoolSpec>,
}

impl ClusterSpec {
    /// Checks names are unique and sizes sensible; returns what is wrong, naming
    /// the pool and field.
    pub fn validate(&self) -> Result<(), String> {
        if self.pools.is_empty() {
            return Err("cluster.pools: at least one pool is required".into());
        }
        let mut seen = BTreeMap::new();
        for (i, p) in self.pools.iter().enumerate() {
            let at = format!("cluster.pools[{i}] ({})", p.name);
            if p.name.is_empty() {
                return Err(format!("cluster.pools[{i}].name: must not be empty"));
            }
            if let Some(j) = seen.insert(p.name.as_str(), i) {
                return Err(format!(
                    "{at}.name: duplicate pool name, also used by cluster.pools[{j}]"
                ));
            }
            if p.gpus_per_node > 64 {
                return Err(format!(
                    "{at}.gpus_per_node: {} is more than 64 GPUs per node",
                    p.gpus_per_node
                ));
            }
            if let Some(price) = p.price_per_node_hour
                && (!price.is_finite() || price < 0.0)
            {
                return Err(format!(
                    "{at}.price_per_node_hour: expected a non-negative number, got {price}"
                ));
            }
        }
        Ok(())
    }

    /// Total nodes over all pools.
    pub fn total_nodes(&self) -> u64 {
        self.pools.iter().map(|p| u64::from(p.nodes)).sum()
    }

    /// Total GPUs over all pools.
    pub fn total_gpus(&self) -> u64 {
        self.pools
            .iter()
            .map(|p| u64::from(p.nodes) * u64::from(p.gpus_per_node))
            .sum()
    }

    /// The most GPUs any one node has (how importers split large jobs into gangs).
    pub fn max_gpus_per_node(&self) -> u32 {
        self.pools
            .iter()
            .map(|p| p.gpus_per_node)
            .max()
            .unwrap_or(0)
    }
}
