//! The `price` expander: keep the options with the lowest cost per helped pod,
//! `nodes × price_per_node_hour / pods` (currency per pod-hour).
//!
//! A simplification of upstream (`expander/price/price.go`), which scores
//! `(nodeCost + stab) / (podCost + stab) × unfitness`: the pods' own cost
//! priced from their requests, a stabiliser, a penalty for node shapes unlike a
//! preferred shape (fixed at 1000 for GPU groups) and ×2 for groups that do not
//! exist yet. Here every group exists and the cost is simply what the option's
//! nodes cost per pod they let run; the unfitness and stabiliser terms are
//! dropped.
//!
//! Options of pools without a price are dropped when some option has one (an
//! unknown price never beats a known one); when none has a price all are kept.
//! Ties (exactly equal costs) are all kept, for the next expander of the chain.

use super::ScaleUpOption;

/// Cost per helped pod per hour, or `None` without a price or pods.
pub fn cost_per_pod(o: &ScaleUpOption) -> Option<f64> {
    let price = o.price_per_node_hour?;
    (o.pods > 0).then(|| f64::from(o.nodes) * price / o.pods as f64)
}

/// The options among `left` (indices into `options`) with the lowest cost per
/// pod; see the module docs.
pub fn price(options: &[ScaleUpOption], left: &[usize]) -> Vec<usize> {
    let costs: Vec<(usize, f64)> = left
        .iter()
        .filter_map(|&i| cost_per_pod(&options[i]).map(|c| (i, c)))
        .collect();
    let Some(best) = costs.iter().map(|&(_, c)| c).min_by(f64::total_cmp) else {
        return left.to_vec();
    };
    costs
        .into_iter()
        .filter(|&(_, c)| c == best)
        .map(|(i, _)| i)
        .collect()
}
