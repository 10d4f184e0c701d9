//! Cluster autoscaling: the decision model of the Kubernetes cluster-autoscaler
//! (CA), with its vocabulary and defaults, as pure code the engine drives.
//!
//! Every `scan_interval_s` the engine builds a [`ScanInput`] (the cluster
//! ledger, when each provisioning node was asked for, and the gangs the
//! scheduler could not place) and calls [`ClusterAutoscaler::scan`], which
//! returns [`Decision`]s for the engine to apply: add nodes to a pool (each
//! with its drawn provisioning delay), remove a node, or give up on a node that
//! did not become ready within `max_node_provision_time_s`. The autoscaler
//! never mutates the cluster.
//!
//! ```toml
//! [autoscaler]
//! scan_interval_s = 10.0                      # upstream --scan-interval
//! expander = "least-waste"                    # or "priority,least-waste", or a list
//! scale_down_unneeded_time_s = 600.0
//! [autoscaler.node_groups.a100]               # keyed by pool name
//! min_size = 0
//! max_size = 16
//! provisioning = { kind = "lognormal", median_s = 240.0, sigma = 0.4, max_s = 1200.0 }
//! priority = 10                               # for the priority expander
//! ```
//!
//! Pools without a node group are never scaled. The semantics, and where they
//! differ from upstream, are documented on [`ClusterAutoscaler`].

mod cluster_autoscaler;
pub mod delay;
pub mod expander;

pub use cluster_autoscaler::{ClusterAutoscaler, Decision, PendingGang, ScanInput};
pub use delay::DelaySpec;
pub use expander::{ExpanderChain, ExpanderKind, LeastWasteParams, ScaleUpOption};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cluster::PoolSpec;
use crate::time::{Millis, secs_to_millis};

/// One node group: the autoscaling bounds and behaviour of one pool (keyed by
/// the pool's name in [`AutoscalerSpec::node_groups`]). The node shape and the
/// price per node-hour come from the pool's [`PoolSpec`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeGroupSpec {
    /// Fewest nodes: scale-down never goes below (nodes in any state but
    /// `Removed` count, as upstream counts the target size).
    pub min_size: u32,
    /// Most nodes: scale-up never goes above.
    pub max_size: u32,
    /// How long a new node takes to become ready (default: immediately).
    #[serde(default)]
    pub provisioning: DelaySpec,
    /// Priority for the `priority` expander; larger wins (default 0).
    #[serde(default)]
    pub priority: i32,
}

/// The autoscaler's settings. Names follow the upstream flags (`--scan-interval`
/// → `scan_interval_s`, …); times are in seconds (fractions allowed, rounded to
/// the millisecond), and every default is upstream's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoscalerSpec {
    /// Seconds between scans (default 10).
    #[serde(default = "d_scan")]
    pub scan_interval_s: f64,
    /// Gangs with a priority below this never trigger a scale-up (default −10,
    /// upstream `--expendable-pods-priority-cutoff`).
    #[serde(default = "d_cutoff")]
    pub expendable_pods_priority_cutoff: i32,
    /// The expander chain (default `least-waste`).
    #[serde(default)]
    pub expander: ExpanderChain,
    /// Settings of the `least-waste` expander.
    #[serde(default)]
    pub least_waste: LeastWasteParams,
    /// Cap on the nodes of all pools together, counting every node that is
    /// not `Removed` (default: none; upstream `--max-nodes-total`, 0 = none).
    #[serde(default)]
    pub max_nodes_total: Option<u32>,
    /// Seconds a new node may take to become ready before the autoscaler gives
    /// up on it and backs its group off (default 900).
    #[serde(default = "d_provision")]
    pub max_node_provision_time_s: f64,
    /// First back-off of a node group after a provisioning timeout, in seconds
    /// (default 300); doubles on each further failure.
    #[serde(default = "d_backoff")]
    pub initial_node_group_backoff_s: f64,
    /// Longest back-off, in seconds (default 1800).
    #[serde(default = "d_max_backoff")]
    pub max_node_group_backoff_s: f64,
    /// A failure this many seconds after the previous one starts again from the
    /// initial back-off (default 10800).
    #[serde(default = "d_backoff_reset")]
    pub node_group_backoff_reset_timeout_s: f64,
    /// Whether nodes are ever removed (default true).
    #[serde(default = "yes")]
    pub scale_down_enabled: bool,
    /// A node without GPUs is underused when max(CPU, memory) requested /
    /// allocatable is below this (default 0.5).
    #[serde(default = "half")]
    pub scale_down_utilization_threshold: f64,
    /// A GPU node is underused when GPUs requested / allocatable is below this
    /// (default 0.5).
    #[serde(default = "half")]
    pub scale_down_gpu_utilization_threshold: f64,
    /// Seconds a node must stay unneeded before it is removed (default 600).
    #[serde(default = "d_unneeded")]
    pub scale_down_unneeded_time_s: f64,
    /// Whether `Down` (unready) nodes are removed (default true).
    #[serde(default = "yes")]
    pub scale_down_unready_enabled: bool,
    /// Seconds a `Down` node must stay down before it is removed (default 1200).
    #[serde(default = "d_unready")]
    pub scale_down_unready_time_s: f64,
    /// No removal within this many seconds of the last scale-up (default 600).
    #[serde(default = "d_after_add")]
    pub scale_down_delay_after_add_s: f64,
    /// No removal within this many seconds of the last removal (default 0).
    #[serde(default)]
    pub scale_down_delay_after_delete_s: f64,
    /// Most nodes removed in one scan (default 10, upstream
    /// `--max-scale-down-parallelism`).
    #[serde(default = "d_parallelism")]
    pub max_scale_down_parallelism: u32,
    /// The node groups, keyed by pool name.
    #[serde(default)]
    pub node_groups: BTreeMap<String, NodeGroupSpec>,
}

fn d_scan() -> f64 {
    10.0
}
fn d_cutoff() -> i32 {
    -10
}
fn d_provision() -> f64 {
    900.0
}
fn d_backoff() -> f64 {
    300.0
}
fn d_max_backoff() -> f64 {
    1800.0
}
fn d_backoff_reset() -> f64 {
    10_800.0
}
fn yes() -> bool {
    true
}
fn half() -> f64 {
    0.5
}
fn d_unneeded() -> f64 {
    600.0
}
fn d_unready() -> f64 {
    1200.0
}
fn d_after_add() -> f64 {
    600.0
}
fn d_parallelism() -> u32 {
    10
}

impl Default for AutoscalerSpec {
    /// Upstream defaults and no node groups.
    fn default() -> Self {
        AutoscalerSpec {
            scan_interval_s: d_scan(),
            expendable_pods_priority_cutoff: d_cutoff(),
            expander: ExpanderChain::default(),
            least_waste: LeastWasteParams::default(),
            max_nodes_total: None,
            max_node_provision_time_s: d_provision(),
            initial_node_group_backoff_s: d_backoff(),
            max_node_group_backoff_s: d_max_backoff(),
            node_group_backoff_reset_timeout_s: d_backoff_reset(),
            scale_down_enabled: true,
            scale_down_utilization_threshold: half(),
            scale_down_gpu_utilization_threshold: half(),
            scale_down_unneeded_time_s: d_unneeded(),
            scale_down_unready_enabled: true,
            scale_down_unready_time_s: d_unready(),
            scale_down_delay_after_add_s: d_after_add(),
            scale_down_delay_after_delete_s: 0.0,
            max_scale_down_parallelism: d_parallelism(),
            node_groups: BTreeMap::new(),
        }
    }
}

/// The spec's times in ms, resolved once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    pub scan_interval: Millis,
    pub max_node_provision_time: Millis,
    pub initial_backoff: Millis,
    pub max_backoff: Millis,
    pub backoff_reset: Millis,
    pub unneeded_time: Millis,
    pub unready_time: Millis,
    pub delay_after_add: Millis,
    pub delay_after_delete: Millis,
}

const AT: &str = "autoscaler";

fn secs(field: &str, v: f64) -> Result<Millis, String> {
    secs_to_millis(v)
        .ok_or_else(|| format!("{AT}.{field}: expected a non-negative number of seconds, got {v}"))
}

fn fraction(field: &str, v: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(format!("{AT}.{field}: expected a number in 0..=1, got {v}"))
    }
}

impl AutoscalerSpec {
    /// Checks every field against the scenario's pools; the error names the
    /// field (`autoscaler.node_groups.a100.max_size: …`).
    pub fn validate(&self, pools: &[PoolSpec]) -> Result<(), String> {
        self.timing().map(drop)?;
        fraction(
            "scale_down_utilization_threshold",
            self.scale_down_utilization_threshold,
        )?;
        fraction(
            "scale_down_gpu_utilization_threshold",
            self.scale_down_gpu_utilization_threshold,
        )?;
        if self.expander.0.is_empty() {
            return Err(format!("{AT}.expander: name at least one expander"));
        }
        if self.max_scale_down_parallelism == 0 {
            return Err(format!(
                "{AT}.max_scale_down_parallelism: must be at least 1"
            ));
        }
        for (name, g) in &self.node_groups {
            let at = format!("{AT}.node_groups.{name}");
            let Some((i, pool)) = pools.iter().enumerate().find(|(_, p)| &p.name == name) else {
                let names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
                return Err(format!(
                    "{at}: no pool named `{name}` (pools: {})",
                    names.join(", ")
                ));
            };
            if g.min_size > g.max_size {
                return Err(format!(
                    "{at}.min_size: {} is above max_size {}",
                    g.min_size, g.max_size
                ));
            }
            if pool.nodes < g.min_size || pool.nodes > g.max_size {
                return Err(format!(
                    "cluster.pools[{i}].nodes: {} is outside the node group's bounds {}..={} ({at})",
                    pool.nodes, g.min_size, g.max_size
                ));
            }
            g.provisioning.validate(&format!("{at}.provisioning"))?;
        }
        Ok(())
    }

    /// The times in ms, or an error naming the bad field.
    pub(crate) fn timing(&self) -> Result<Timing, String> {
        let t = Timing {
            scan_interval: secs("scan_interval_s", self.scan_interval_s)?,
            max_node_provision_time: secs(
                "max_node_provision_time_s",
                self.max_node_provision_time_s,
            )?,
            initial_backoff: secs(
                "initial_node_group_backoff_s",
                self.initial_node_group_backoff_s,
            )?,
            max_backoff: secs("max_node_group_backoff_s", self.max_node_group_backoff_s)?,
            backoff_reset: secs(
                "node_group_backoff_reset_timeout_s",
                self.node_group_backoff_reset_timeout_s,
            )?,
            unneeded_time: secs(
                "scale_down_unneeded_time_s",
                self.scale_down_unneeded_time_s,
            )?,
            unready_time: secs("scale_down_unready_time_s", self.scale_down_unready_time_s)?,
            delay_after_add: secs(
                "scale_down_delay_after_add_s",
                self.scale_down_delay_after_add_s,
            )?,
            delay_after_delete: secs(
                "scale_down_delay_after_delete_s",
                self.scale_down_delay_after_delete_s,
            )?,
        };
        if t.scan_interval == 0 {
            return Err(format!(
                "{AT}.scan_interval_s: must be at least 1 ms, got {}",
                self.scan_interval_s
            ));
        }
        if t.max_backoff < t.initial_backoff {
            return Err(format!(
                "{AT}.max_node_group_backoff_s: {} is below initial_node_group_backoff_s {}",
                self.max_node_group_backoff_s, self.initial_node_group_backoff_s
            ));
        }
        Ok(t)
    }
}

/// The pools with every node group at its largest size: the cluster that
/// answers "could this job ever fit?" when an autoscaler may grow it.
pub fn pools_at_max_size(pools: &[PoolSpec], spec: Option<&AutoscalerSpec>) -> Vec<PoolSpec> {
    pools
        .iter()
        .map(|p| {
            let max = spec
                .and_then(|s| s.node_groups.get(&p.name))
                .map_or(p.nodes, |g| g.max_size.max(p.nodes));
            PoolSpec {
                nodes: max,
                ..p.clone()
            }
        })
        .collect()
}
