//! GPU clustering: keep pods of one GPU request together. The "Clustering"
//! baseline of the FGD paper (Weng et al., "Beware of Fragmentation:
//! Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent",
//! USENIX ATC 2023): tasks with the same GPU request are packed onto the same
//! nodes, so that a node's GPUs are shared by like tasks and the left-over
//! pieces suit the next task of the same kind.
//!
//! A worker's *class* is its GPU request as the authors' simulator
//! (`hkust-adsl/kubernetes-scheduler-simulator`, `GpuClusteringScore`) groups
//! it: every fractional request (any share of one GPU) is the class "shared
//! GPU", and `n` whole GPUs is the class "`n` GPUs"; with `exact_share = true`
//! fractional requests group by their exact share instead (`Fraction(m)`, the
//! worker's [`GpuDemand`]). Each node is then ranked by tier, best first:
//!
//! 1. the node runs GPU workers of this class only;
//! 2. it runs this class and other classes;
//! 3. it runs no GPU worker (idle, or CPU-only workers only);
//! 4. it runs only other classes.
//!
//! Within a tier, best fit on GPUs: the node with the fewest free milli-GPUs
//! (the simulator ranks the same way but in integers: `25 × (8000 − free) /
//! 8000` points within each tier's band of 25, so nodes within 320 free
//! milli-GPUs of each other tie). A CPU-only worker has no class: every node
//! is in one tier and the same GPU best fit decides, which keeps CPU-only
//! work on the GPU-fullest nodes. GPUs: the default choice (lowest free whole
//! GPUs; the fullest GPU that still fits for a fractional worker).
//!
//! `publisher_score = true` reproduces the simulator's scores exactly: the
//! integer rounding above, and no preference at all for a CPU-only worker
//! (every node scores 0, so it lands on the lowest-id node where it fits,
//! which in the FGD experiment's shuffled cluster is a random node). On the
//! openb `default` trace this variant allocates about 3 points of GPU less at
//! 130 % arrived demand, mostly because randomly placed CPU-only pods take
//! the CPU that GPU pods need later.
//!
//! Which classes a node runs is recorded by the policy as it places workers
//! (undone if a gang is refused). The [`Placement`] trait has no release
//! callback, so a node's record is cleared only when the node is seen idle
//! again: until then classes of workers that have finished still count. In
//! arrival-only experiments (no completions) the record is exact.
//!
//! Parameters (`[policy.placement_params]`):
//!
//! | name          | unit | default | meaning |
//! |---------------|------|---------|---------|
//! | `exact_share` | bool | false   | fractional workers group by their exact share (`gpu_milli`) instead of all together |
//! | `publisher_score` | bool | false | score as the simulator: within a tier `⌊25 × (8000 − free milli-GPUs) / 8000⌋`, and 0 everywhere for a CPU-only worker (ties go to the lower id) |
//!
//! Tie-break: lower node id.

use serde::Deserialize;

use super::fgd::parse_named;
use super::{Placement, PlacementContext};
use crate::cluster::{ClusterView, WorkerRequest};
use crate::ids::{JobId, NodeId};
use crate::workload::{GpuDemand, Job};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    exact_share: bool,
    #[serde(default)]
    publisher_score: bool,
}

/// Classes of GPU workers placed on one node, with counts.
#[derive(Debug, Clone, Default)]
struct NodeRecord {
    classes: Vec<(GpuDemand, u32)>,
}

/// GPU clustering; see the module docs.
#[derive(Debug, Default, Clone)]
pub struct GpuClustering {
    exact_share: bool,
    publisher_score: bool,
    records: Vec<NodeRecord>,
    gang: Option<Gang>,
}

/// The gang being placed: its job, workers placed so far and the (node,
/// class) records made for them, to undo if the gang is refused.
#[derive(Debug, Clone)]
struct Gang {
    job: JobId,
    placed: u32,
    made: Vec<(usize, GpuDemand)>,
}

impl GpuClustering {
    /// Builds the policy from its context.
    pub fn from_context(ctx: &PlacementContext<'_>) -> Result<Self, String> {
        let p: Params = parse_named(ctx.params)?;
        Ok(GpuClustering {
            exact_share: p.exact_share,
            publisher_score: p.publisher_score,
            ..GpuClustering::default()
        })
    }

    /// The class of a request, `None` for a CPU-only worker.
    fn class(&self, gpu: GpuDemand) -> Option<GpuDemand> {
        match gpu {
            GpuDemand::Whole(0) => None,
            GpuDemand::Whole(n) => Some(GpuDemand::Whole(n)),
            GpuDemand::Fraction(m) => {
                Some(GpuDemand::Fraction(if self.exact_share { m } else { 0 }))
            }
        }
    }

    fn undo_gang(&mut self) {
        if let Some(gang) = self.gang.take() {
            for (node, class) in gang.made {
                let rec = &mut self.records[node];
                if let Some(i) = rec.classes.iter().position(|&(c, _)| c == class) {
                    rec.classes[i].1 -= 1;
                    if rec.classes[i].1 == 0 {
                        rec.classes.remove(i);
                    }
                }
            }
        }
    }
}

/// Tier of a node for a class: 3 (same class only) … 0 (other classes only).
fn tier(classes: &[(GpuDemand, u32)], class: GpuDemand) -> u8 {
    let has = classes.iter().any(|&(c, _)| c == class);
    match (classes.is_empty(), has, classes.len() == 1) {
        (true, _, _) => 1,
        (false, true, true) => 3,
        (false, true, false) => 2,
        (false, false, _) => 0,
    }
}

impl Placement for GpuClustering {
    fn name(&self) -> &'static str {
        "gpu-clustering"
    }

    fn place(
        &mut self,
        view: ClusterView<'_>,
        job: &Job,
        req: &WorkerRequest<'_>,
    ) -> Option<NodeId> {
        if self.records.len() != view.nodes().len() {
            self.records = vec![NodeRecord::default(); view.nodes().len()];
            self.gang = None;
        }
        // A new gang starts a fresh undo list; the records of completed
        // gangs are kept.
        match &self.gang {
            Some(g) if g.job == job.id && g.placed < job.workers => {}
            _ => {
                self.gang = Some(Gang {
                    job: job.id,
                    placed: 0,
                    made: Vec::new(),
                })
            }
        }
        let class = self.class(req.gpu);
        let mut best: Option<((u8, i64), NodeId)> = None;
        for node in view.feasible_nodes(req) {
            let rec = &mut self.records[node.id.index()];
            if !node.is_busy() {
                rec.classes.clear();
            }
            let t = class.map_or(0, |c| tier(&rec.classes, c));
            let free = (node.gpu_milli_capacity() - node.gpu_milli_used()) as i64;
            let fit = if self.publisher_score {
                // The simulator's MaxSpecGpu is an 8-GPU node; it scores
                // every node 0 for a CPU-only worker.
                if class.is_some() {
                    25 * (8000 - free) / 8000
                } else {
                    0
                }
            } else {
                -free
            };
            let key = (t, fit);
            if best.is_none_or(|(b, _)| key > b) {
                best = Some((key, node.id));
            }
        }
        let Some((_, id)) = best else {
            self.undo_gang();
            return None;
        };
        let mut gang = self.gang.take().expect("set above");
        gang.placed += 1;
        if let Some(c) = class {
            let rec = &mut self.records[id.index()];
            match rec.classes.iter_mut().find(|(k, _)| *k == c) {
                Some((_, n)) => *n += 1,
                None => rec.classes.push((c, 1)),
            }
            gang.made.push((id.index(), c));
        }
        // Forget a complete gang: the next call starts a new one.
        self.gang = (gang.placed < job.workers).then_some(gang);
        Some(id)
    }
}
