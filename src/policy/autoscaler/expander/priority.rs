//! The `priority` expander: keep the options whose node group has the highest
//! `priority` (`NodeGroupSpec::priority`, default 0).
//!
//! Upstream (`expander/priority`) reads priorities from the
//! `cluster-autoscaler-priority-expander` ConfigMap, which maps each priority to
//! node-group name regexes; here each group carries its priority directly.
//! Ties are all kept: the next expander of the chain, else a seeded random
//! draw, settles them (upstream: random).

use super::ScaleUpOption;

/// The options among `left` (indices into `options`) with the highest priority.
pub fn priority(options: &[ScaleUpOption], left: &[usize]) -> Vec<usize> {
    let best = left.iter().map(|&i| options[i].priority).max();
    left.iter()
        .copied()
        .filter(|&i| Some(options[i].priority) == best)
        .collect()
}
