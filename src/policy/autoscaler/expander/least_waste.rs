//! The `least-waste` expander (upstream default): keep the options that leave
//! the least idle capacity on the nodes they add.
//!
//! Upstream (`expander/waste/waste.go`) scores an option as
//! `(cpuCap − cpuReq)/cpuCap + (memCap − memReq)/memCap`, where the capacities
//! are the template node's times the option's node count and the requests are
//! those of the option's pods; GPUs are ignored. Here the requests are those
//! the helped gangs' workers hold on the *new* nodes in the simulation (upstream
//! puts all of an option's pods on new nodes; a gang here may also use free
//! capacity on existing nodes, which is not waste of the new nodes). With
//! `gpu_aware = true` the score also adds `(gpuCap − gpuReq)/gpuCap` for a group
//! with GPUs, which is what matters for GPU nodes; it is off by default to stay
//! upstream-faithful. A resource with zero capacity adds nothing.
//!
//! Ties (exactly equal scores) are all kept, for the next expander of the chain.

use super::{LeastWasteParams, ScaleUpOption};

/// The option's waste score (lower is better), as described in the module docs.
pub fn waste_score(o: &ScaleUpOption, params: &LeastWasteParams) -> f64 {
    let n = u64::from(o.nodes);
    let term = |per_node: u64, requested: u64| {
        let cap = per_node.saturating_mul(n);
        if cap == 0 {
            0.0
        } else {
            cap.saturating_sub(requested) as f64 / cap as f64
        }
    };
    let mut score = term(o.node_cpu_milli, o.cpu_milli_requested)
        + term(o.node_memory_mib, o.memory_mib_requested);
    if params.gpu_aware {
        score += term(o.node_gpu_milli, o.gpu_milli_requested);
    }
    score
}

/// The options among `left` (indices into `options`) with the lowest score.
pub fn least_waste(
    options: &[ScaleUpOption],
    left: &[usize],
    params: &LeastWasteParams,
) -> Vec<usize> {
    let scores: Vec<(usize, f64)> = left
        .iter()
        .map(|&i| (i, waste_score(&options[i], params)))
        .collect();
    let best = scores
        .iter()
        .map(|&(_, s)| s)
        .min_by(f64::total_cmp)
        .unwrap_or(0.0);
    scores
        .into_iter()
        .filter(|&(_, s)| s == best)
        .map(|(i, _)| i)
        .collect()
}
