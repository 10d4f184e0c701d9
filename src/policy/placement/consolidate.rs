//! Gang consolidation: put a gang on as few nodes as possible, and inside one
//! rack when the cluster has a topology, because a gang whose workers span
//! racks runs slower (the engine's `cross_rack_slowdown`, see
//! [`crate::cluster::Topology`]). This is the locality-first packing of
//! multi-worker jobs used by gang-aware ML schedulers (e.g. Tiresias,
//! Gu et al. NSDI 2019, which consolidates jobs that are sensitive to
//! placement; Gandiva, Xiao et al. OSDI 2018, which packs jobs by affinity).
//!
//! For the first worker of a gang of `W` workers the policy plans the whole
//! gang. It picks a rack:
//! among racks where the whole gang fits now (the sum over the rack's nodes of
//! `min(workers of this shape that fit on the node, W)` is at least `W`), the
//! one needing the fewest nodes when filled largest-first; ties go to the
//! lower rack id. Without a topology every node is its own rack, so this
//! prefers a single node that holds the whole gang. If no rack can hold the
//! gang, the gang may span racks. Within the chosen rack (or the whole
//! cluster), nodes are taken by how many of the gang's workers fit there —
//! `min(fit count, W)`, largest first, ties to the lower node id — each
//! filled with as many workers as fit, which uses the fewest nodes; the
//! workers are then handed out in that order. A one-worker job therefore
//! takes the lowest-id node where it fits (first fit). A gang that does not
//! fit at all is refused at its first worker.
//!
//! The policy remembers the gang in progress (job, workers placed, plan)
//! between calls; it forgets it when the gang is complete, when another job
//! comes, or when it refuses a worker (the engine then rolls the gang back).
//! GPUs: the default choice (lowest free whole GPUs; the fullest GPU that
//! still fits for a fractional worker).
//!
//! Parameters: none (an empty `[policy.placement_params]`; any key is an
//! error).
//!
//! Tie-break: lower rack id, then lower node id.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::fgd::parse_named;
use super::{Placement, PlacementContext};
use crate::cluster::{ClusterView, WorkerRequest};
use crate::ids::{JobId, NodeId};
use crate::workload::Job;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {}

/// The gang being placed and the plan for its remaining workers.
#[derive(Debug, Clone)]
struct Gang {
    job: JobId,
    placed: u32,
    /// Nodes still to receive workers, with how many each, in order.
    plan: Vec<(NodeId, u32)>,
}

/// Gang consolidation; see the module docs.
#[derive(Debug, Default, Clone)]
pub struct Consolidate {
    gang: Option<Gang>,
}

impl Consolidate {
    /// Builds the policy from its context.
    pub fn from_context(ctx: &PlacementContext<'_>) -> Result<Self, String> {
        let _: Params = parse_named(ctx.params)?;
        Ok(Consolidate::default())
    }

    /// The rack where `workers` workers of this shape fit using the fewest
    /// nodes (ties: lower rack id), or `None` when no rack holds them all.
    pub fn pick_rack(view: ClusterView<'_>, req: &WorkerRequest<'_>, workers: u32) -> Option<u32> {
        // Per rack (in rack order), the capped fit counts of its feasible nodes.
        let mut racks: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for node in view.feasible_nodes(req) {
            let fit = node.fit_count(req).min(workers);
            racks.entry(node.rack()).or_default().push(fit);
        }
        let mut best: Option<(usize, u32)> = None;
        for (rack, mut fits) in racks {
            fits.sort_unstable_by(|a, b| b.cmp(a));
            let mut sum = 0u64;
            let needed = fits.iter().position(|&f| {
                sum += u64::from(f);
                sum >= u64::from(workers)
            });
            if let Some(k) = needed
                && best.is_none_or(|b| (k + 1, rack) < b)
            {
                best = Some((k + 1, rack));
            }
        }
        best.map(|(_, rack)| rack)
    }

    /// Where `workers` workers go: within the best rack (see
    /// [`Consolidate::pick_rack`]) or, if none holds them, anywhere; nodes
    /// taken by `min(fit count, workers)` descending (ties: lower id), each
    /// filled with as many workers as fit. `None` if they do not all fit.
    pub fn plan(
        view: ClusterView<'_>,
        req: &WorkerRequest<'_>,
        workers: u32,
    ) -> Option<Vec<(NodeId, u32)>> {
        let rack = if workers > 1 {
            Consolidate::pick_rack(view, req, workers)
        } else {
            None
        };
        let mut nodes: Vec<(u32, NodeId)> = view
            .feasible_nodes(req)
            .filter(|n| rack.is_none_or(|r| n.rack() == r))
            .map(|n| (n.fit_count(req).min(workers), n.id))
            .collect();
        nodes.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut left = workers;
        let mut plan = Vec::new();
        for (fit, id) in nodes {
            if left == 0 {
                break;
            }
            let take = fit.min(left);
            plan.push((id, take));
            left -= take;
        }
        (left == 0).then_some(plan)
    }
}

impl Placement for Consolidate {
    fn name(&self) -> &'static str {
        "consolidate"
    }

    fn place(
        &mut self,
        view: ClusterView<'_>,
        job: &Job,
        req: &WorkerRequest<'_>,
    ) -> Option<NodeId> {
        let workers = job.workers.max(1);
        let mut gang = match self.gang.take() {
            Some(g) if g.job == job.id && g.placed < workers => g,
            _ => Gang {
                job: job.id,
                placed: 0,
                plan: Consolidate::plan(view, req, workers)?,
            },
        };
        // The plan stays valid (each placement lowers its node's fit count by
        // exactly one); re-plan the rest if the cluster changed anyway.
        let next = gang.plan.first().map(|&(id, _)| id);
        if next.is_none_or(|id| !view.fits(view.node(id), req)) {
            gang.plan = Consolidate::plan(view, req, workers - gang.placed)?;
        }
        let (id, count) = gang.plan.first_mut()?;
        let id = *id;
        *count -= 1;
        if *count == 0 {
            gang.plan.remove(0);
        }
        gang.placed += 1;
        // Forget a complete gang: the next call starts a new one.
        self.gang = (gang.placed < workers).then_some(gang);
        Some(id)
    }
}
